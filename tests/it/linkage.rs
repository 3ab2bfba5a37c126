//! `shuniu link files`: the interface outside checks rely on, run as a user runs it.

use std::collections::HashSet;
use std::path::Path;

use crate::cli::{run_doc_block, shuniu};

/// `shuniu link files ARGS --out OUT [--clusters C]` in `dir`.
fn link(dir: &Path, args: &[&str], out: &Path, clusters: Option<&Path>) -> std::process::Output {
    let mut cmd = shuniu();
    cmd.current_dir(dir).args(args).arg(out);
    if let Some(c) = clusters {
        cmd.arg("--clusters").arg(c);
    }
    cmd.output().unwrap()
}

fn pairs(path: &Path) -> (String, Vec<(String, String, f64)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap())
        })
        .collect();
    (header, rows)
}

const NAMES: &[&str] = &[
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄勇",
    "周杰",
    "吴霞",
    "徐明",
    "孙丽",
    "马超",
    "朱红",
    "胡斌",
    "郭涛",
    "何平",
    "林娟",
    "罗刚",
    "高英",
    "欧阳娜娜",
    "诸葛明",
    "单雄",
    "曾静",
];
const ROADS: &[&str] = &[
    "辽宁路",
    "香港中路",
    "台东一路",
    "延安三路",
    "南京路",
    "山东路",
];

/// Two sources of one city's people: the population register (clean) and a hotline's records
/// keyed by hand (homophones, full-width digits, other date spellings, address variants, 15-digit
/// ID numbers), in GBK. Returns the true pairs.
fn two_sources(dir: &Path) -> HashSet<(String, String)> {
    let mut left = String::from("编号,姓名,出生日期,身份证号,住址\n");
    let mut right = String::from("编号,姓名,出生日期,身份证号,住址\n");
    let mut truth = HashSet::new();
    for i in 0..600usize {
        let name = format!(
            "{}{}",
            NAMES[i % NAMES.len()],
            ["", "华", "国", "文", "玉"][i / 120 % 5]
        );
        let (y, m, d) = (1950 + (i * 7) % 50, 1 + (i * 5) % 12, 1 + (i * 11) % 28);
        let body = format!("370203{y:04}{m:02}{d:02}{:03}", i % 1000);
        let id = format!("{body}{}", check(&body));
        let road = ROADS[i % ROADS.len()];
        let (no, b, room) = (1 + i % 90, 1 + i % 9, 101 + i % 17 * 100);
        left.push_str(&format!(
            "P{i},{name},{y:04}-{m:02}-{d:02},{id},市北区{road}{no}号{b}号楼1单元{room}室\n"
        ));
        if i % 3 == 0 {
            continue; // Not every resident called the hotline.
        }
        let name2 = match i % 4 {
            0 => name
                .replace('伟', "玮")
                .replace('静', "婧")
                .replace('明', "铭"),
            1 => name.clone(),
            _ => name.clone(),
        };
        let id2 = if i % 5 == 0 {
            // The old 15-digit number: no century, no check character.
            format!("370203{:02}{m:02}{d:02}{:03}", y % 100, i % 1000)
        } else if i % 7 == 0 {
            String::new()
        } else {
            id.clone()
        };
        let birth2 = format!("{y}年{m}月{d}日");
        let addr2 = format!(
            "青岛市市北区{road}{}号{b}-1-{room}",
            fullwidth(&no.to_string())
        );
        right.push_str(&format!("T{i},{name2},{birth2},{id2},{addr2}\n"));
        truth.insert((format!("P{i}"), format!("T{i}")));
    }
    std::fs::write(dir.join("register.csv"), left).unwrap();
    let (gbk, _, _) = encoding_rs::GBK.encode(&right);
    std::fs::write(dir.join("hotline.csv"), gbk).unwrap();
    truth
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
        .collect()
}

fn check(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

#[test]
fn links_two_files_without_a_clean_key() {
    let dir = tempfile::tempdir().unwrap();
    let truth = two_sources(dir.path());
    let out = dir.path().join("pairs.csv");
    let clusters = dir.path().join("clusters.csv");
    let run = link(
        dir.path(),
        &[
            "link",
            "files",
            "register.csv",
            "hotline.csv",
            "--id",
            "编号",
            "--out",
        ],
        &out,
        Some(&clusters),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (header, rows) = pairs(&out);
    assert_eq!(header, "left_id,right_id,match_probability");
    assert!(rows.iter().all(|(_, _, p)| (0.5..=1.0).contains(p)));
    let found: HashSet<(String, String)> = rows
        .iter()
        .map(|(l, r, _)| (l.clone(), r.clone()))
        .collect();
    let tp = found.intersection(&truth).count() as f64;
    let (precision, recall) = (tp / found.len() as f64, tp / truth.len() as f64);
    assert!(
        precision >= 0.98 && recall >= 0.98,
        "precision {precision}, recall {recall}"
    );
    // A resident and their hotline record share a cluster.
    let c = std::fs::read_to_string(&clusters).unwrap();
    assert!(c.starts_with("source,id,cluster\n"));
    assert!(c.contains("\nright,T1,P1\n"), "{}", &c[..200.min(c.len())]);

    // A higher threshold writes a subset.
    let strict = dir.path().join("strict.csv");
    let run = link(
        dir.path(),
        &[
            "link",
            "files",
            "register.csv",
            "hotline.csv",
            "--id",
            "编号",
            "--threshold",
            "0.999",
            "--out",
        ],
        &strict,
        None,
    );
    assert!(run.status.success());
    let (_, strict_rows) = pairs(&strict);
    assert!(strict_rows.len() <= rows.len());
    assert!(strict_rows.iter().all(|(_, _, p)| *p >= 0.999));
}

#[test]
fn deduplicates_one_file() {
    let dir = tempfile::tempdir().unwrap();
    two_sources(dir.path());
    // The hotline's records and the register's in one file: each caller appears twice.
    let reg = std::fs::read_to_string(dir.path().join("register.csv")).unwrap();
    let hot = std::fs::read(dir.path().join("hotline.csv")).unwrap();
    let (hot, _, _) = encoding_rs::GBK.decode(&hot);
    let both = format!("{reg}{}", hot.split_once('\n').unwrap().1);
    std::fs::write(dir.path().join("both.csv"), both).unwrap();
    let out = dir.path().join("dups.csv");
    let run = link(
        dir.path(),
        &["link", "files", "both.csv", "--id", "编号", "--out"],
        &out,
        None,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (_, rows) = pairs(&out);
    let same_person = rows.iter().filter(|(l, r, _)| l[1..] == r[1..]).count();
    assert!(same_person >= 390, "{same_person} of 400");
    assert!(same_person as f64 >= 0.98 * rows.len() as f64);
}

#[test]
fn bad_input_gets_a_clear_error_and_no_pairs_file() {
    let dir = tempfile::tempdir().unwrap();
    two_sources(dir.path());
    let out = dir.path().join("pairs.csv");
    let run = link(
        dir.path(),
        &[
            "link",
            "files",
            "register.csv",
            "hotline.csv",
            "--id",
            "no_such",
            "--out",
        ],
        &out,
        None,
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("没有标识列") && err.contains("has no identifier column"),
        "{err}"
    );
    assert!(!out.exists());

    std::fs::write(
        dir.path().join("s.json"),
        r#"{"comparisons": [{"column": "姓名", "kind": "name"}], "blocking": [["出生日期:soundex"]]}"#,
    )
    .unwrap();
    let run = link(
        dir.path(),
        &[
            "link",
            "files",
            "register.csv",
            "hotline.csv",
            "--id",
            "编号",
            "--settings",
            "s.json",
            "--out",
        ],
        &out,
        None,
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("分块键") && err.contains("unknown transform"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn the_documented_example_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_doc_block("linkage.md", dir.path(), dir.path());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "left_id,right_id,match_probability");
    let written: usize = lines.last().unwrap().trim().parse().unwrap();
    assert!((390..=400).contains(&written), "{stdout}");
    // Every written pair is a resident with their own hotline record.
    let pairs = std::fs::read_to_string(dir.path().join("pairs.csv")).unwrap();
    let header = pairs.lines().next().unwrap();
    assert_eq!(
        header,
        "left_id,right_id,match_probability,match_weight,explanation"
    );
    for line in pairs.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0][1..], f[1][1..], "{line}");
        assert!(line.contains("姓名=") && line.contains("prior="), "{line}");
    }
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("model.json")).unwrap()).unwrap();
    assert!(model["model"]["prior"].as_f64().unwrap() > 0.0);
    assert_eq!(model["settings"]["comparisons"][0]["kind"], "name");
}
