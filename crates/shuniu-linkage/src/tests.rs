//! Linkage end to end on generated people with known truth.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "欧阳", "诸葛", "曾", "单",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "晴", "玉", "建", "华", "红", "梅", "斌",
];
const ROADS: &[&str] = &[
    "辽宁路",
    "香港中路",
    "台东一路",
    "延安三路",
    "南京路",
    "山东路",
];
const DISTRICTS: &[&str] = &["市南区", "市北区", "李沧区", "崂山区"];

struct Person {
    name: String,
    birth: chrono::NaiveDate,
    phone: String,
    address: (usize, usize, u32, u32, u32),
}

fn person(rng: &mut ChaCha8Rng) -> Person {
    let mut name = SURNAMES[rng.gen_range(0..SURNAMES.len())].to_string();
    for _ in 0..rng.gen_range(1..=2) {
        name.push_str(GIVEN[rng.gen_range(0..GIVEN.len())]);
    }
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(rng.gen_range(0..20000))))
        .unwrap_or_default();
    Person {
        name,
        birth,
        phone: format!("13{:09}", rng.gen_range(0..1_000_000_000u64)),
        address: (
            rng.gen_range(0..DISTRICTS.len()),
            rng.gen_range(0..ROADS.len()),
            rng.gen_range(1..200),
            rng.gen_range(1..12),
            rng.gen_range(101..1802),
        ),
    }
}

fn address(p: &Person, variant: bool) -> String {
    let (d, r, n, b, room) = p.address;
    if variant {
        format!("青岛{}{}{}号{}-1-{}", DISTRICTS[d], ROADS[r], n, b, room)
    } else {
        format!(
            "{}{}{}号{}号楼1单元{}室",
            DISTRICTS[d], ROADS[r], n, b, room
        )
    }
}

/// A copy of a person's record as another department keyed it, with typical defects.
fn defective(p: &Person, rng: &mut ChaCha8Rng) -> [Option<String>; 4] {
    let mut name = p.name.clone();
    let mut birth = p.birth.format("%Y-%m-%d").to_string();
    let mut phone = Some(p.phone.clone());
    let mut addr = Some(address(p, rng.gen_bool(0.5)));
    match rng.gen_range(0..6) {
        // A homophone of the last character.
        0 => {
            name = name
                .replace('伟', "玮")
                .replace('静', "婧")
                .replace('明', "铭");
        }
        // Day and month swapped, when that is still a date.
        1 => {
            let swapped = p.birth.format("%Y-%d-%m").to_string();
            if parse_date(&swapped).is_some() {
                birth = swapped;
            }
        }
        2 => phone = None,
        3 => addr = None,
        // The name in pinyin.
        4 => name = pinyin_key(&name).0.to_uppercase(),
        _ => {}
    }
    [Some(name), Some(birth), phone, addr]
}

fn records(rows: &[(String, [Option<String>; 4])]) -> Records {
    let mut r = Records::new(
        ["姓名", "出生日期", "联系电话", "住址"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    for (id, v) in rows {
        let vals: Vec<Option<&str>> = v.iter().map(|x| x.as_deref()).collect();
        r.push(id, &vals).expect("valid record");
    }
    r
}

fn fixture() -> (Records, Records, HashSet<(String, String)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let people: Vec<Person> = (0..3000).map(|_| person(&mut rng)).collect();
    let left: Vec<(String, [Option<String>; 4])> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("L{i}"),
                [
                    Some(p.name.clone()),
                    Some(p.birth.format("%Y%m%d").to_string()),
                    Some(p.phone.clone()),
                    Some(address(p, false)),
                ],
            )
        })
        .collect();
    let mut right = Vec::new();
    let mut truth = HashSet::new();
    for (i, p) in people.iter().enumerate().take(2000) {
        right.push((format!("R{i}"), defective(p, &mut rng)));
        truth.insert((format!("L{i}"), format!("R{i}")));
    }
    for i in 0..1000 {
        let p = person(&mut rng);
        right.push((
            format!("X{i}"),
            [
                Some(p.name.clone()),
                Some(p.birth.format("%Y-%m-%d").to_string()),
                Some(p.phone.clone()),
                Some(address(&p, true)),
            ],
        ));
    }
    (records(&left), records(&right), truth)
}

fn f1(found: &HashSet<(String, String)>, truth: &HashSet<(String, String)>) -> (f64, f64, f64) {
    let tp = found.intersection(truth).count() as f64;
    let precision = tp / found.len().max(1) as f64;
    let recall = tp / truth.len().max(1) as f64;
    (
        precision,
        recall,
        2.0 * precision * recall / (precision + recall).max(1e-9),
    )
}

fn link(settings: Settings, left: &Records, right: &Records) -> (Linker, Model, Vec<ScoredPair>) {
    let linker = Linker::new(settings, left, Some(right), "370200".parse().ok()).expect("linker");
    let model = linker.train().expect("train");
    let pairs = linker.predict(&model, 0.5).expect("predict");
    (linker, model, pairs)
}

#[test]
fn links_chinese_records_with_defects_and_without_a_key() {
    let (left, right, truth) = fixture();
    let settings = Settings::choose(&left, Some(&right)).expect("settings");
    let kinds: Vec<(String, Kind)> = settings
        .comparisons
        .iter()
        .map(|c| (c.column.clone(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("姓名".to_string(), Kind::Name),
            ("出生日期".to_string(), Kind::Date),
            ("联系电话".to_string(), Kind::Phone),
            ("住址".to_string(), Kind::Address),
        ]
    );
    let (linker, model, pairs) = link(settings, &left, &right);
    assert!(model.converged, "{model:?}");
    let found: HashSet<(String, String)> = pairs
        .iter()
        .map(|p| {
            (
                left.id(p.left as usize).to_string(),
                right.id(p.right as usize).to_string(),
            )
        })
        .collect();
    let (precision, recall, f) = f1(&found, &truth);
    assert!(f >= 0.97, "precision {precision}, recall {recall}");

    // The explanation adds up to the weight.
    let best = pairs[0];
    let (prior, parts) = linker.explain(&model, best.left as usize, best.right as usize);
    let sum: f64 = prior + parts.iter().map(|c| c.weight).sum::<f64>();
    assert!((sum - best.match_weight).abs() < 1e-9);
    assert_eq!(parts.len(), 4);
}

#[test]
fn a_pair_found_by_two_rules_is_compared_once_and_runs_repeat() {
    let (left, right, _) = fixture();
    let mut settings = Settings::choose(&left, Some(&right)).expect("settings");
    settings.blocking = vec![
        vec!["出生日期".into()],
        vec!["出生日期:year".into(), "姓名:pinyin".into()],
    ];
    let (_, _, a) = link(settings.clone(), &left, &right);
    let distinct: HashSet<(u32, u32)> = a.iter().map(|p| (p.left, p.right)).collect();
    assert_eq!(distinct.len(), a.len());
    let (_, _, b) = link(settings, &left, &right);
    assert_eq!(a, b, "the same input and settings give the same pairs");
}

#[test]
fn deduplicates_one_source_into_clusters() {
    let (left, right, _) = fixture();
    // One file holding both: each of the first 2,000 people twice.
    let mut both = Records::new(left.columns().to_vec());
    for r in [&left, &right] {
        for row in 0..r.len() {
            let vals: Vec<Option<&str>> = (0..4).map(|c| r.value(c, row)).collect();
            both.push(r.id(row), &vals).expect("record");
        }
    }
    let settings = Settings::choose(&both, None).expect("settings");
    let linker = Linker::new(settings, &both, None, "370200".parse().ok()).expect("linker");
    let model = linker.train().expect("train");
    let pairs = linker.predict(&model, 0.9).expect("predict");
    assert!(pairs.iter().all(|p| p.left < p.right));
    let c = clusters(both.len(), pairs.iter().map(|p| (p.left, p.right)));
    // L17 and R17 (rows 17 and 3017) are one person.
    assert_eq!(c[17], c[3017]);
    let sizes = c.iter().fold(AHashMap::<u32, usize>::new(), |mut m, x| {
        *m.entry(*x).or_default() += 1;
        m
    });
    let pairs_of_two = sizes.values().filter(|s| **s == 2).count();
    assert!(pairs_of_two >= 1900, "{pairs_of_two} {model:?}");
}

#[test]
fn refuses_rules_that_compare_too_many_pairs() {
    let (left, right, _) = fixture();
    let mut settings = Settings::choose(&left, Some(&right)).expect("settings");
    settings.blocking = vec![vec!["出生日期:year".into()]];
    settings.max_pairs = 1000;
    let linker = Linker::new(settings, &left, Some(&right), None).expect("linker");
    let err = linker.train().expect_err("too many pairs");
    assert_eq!(err.code(), "LINK_TOO_MANY_PAIRS");
    assert!(err.message_zh().contains("分块规则"));
}

#[test]
fn settings_files_are_checked() {
    let bad = Settings::from_json(r#"{"comparisons": [], "blocking": [["a"]]}"#);
    assert_eq!(bad.map(|_| ()).map_err(|e| e.code()), Err("LINK_SETTINGS"));
    let unknown = Settings::from_json(
        r#"{"comparisons": [{"column": "a", "kind": "name"}], "blocking": [["a:soundex"]]}"#,
    );
    assert!(unknown.is_err());
    let ok = Settings::from_json(
        r#"{"comparisons": [{"column": "a", "kind": "name", "tf": true}], "blocking": [["a:pinyin"]]}"#,
    )
    .expect("valid settings");
    assert_eq!(ok.u_sample_pairs, 1_000_000);
    let (left, _, _) = fixture();
    let missing = Linker::new(ok, &left, None, None).err().map(|e| e.code());
    assert_eq!(missing, Some("LINK_SETTINGS"));
}
