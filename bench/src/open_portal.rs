//! Open-data API latency: CKAN `package_search` over 10,000 open datasets and
//! `datastore_search` with filters over a 10,000,000-row open table, through HTTP as CKAN
//! clients call them (routing, rate limiter, search, JSON envelope; datastore calls audited).
//!
//! Run: `cargo run --profile bench-opt -p shuniu-bench --bin open-portal [-- DATASETS ROWS ITERATIONS]`
//! Peer: with `BENCH_PYTHON` pointing at a Python that has `duckdb`, the same datastore
//! filters (a count and a page of 100) run in DuckDB over the lake's Parquet files of the
//! same table, in the same run.
//! Targets (issue 7): package_search p99 ≤ 20 ms; datastore_search with a filter p99 ≤ 50 ms.

use anyhow::{Context, Result};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat, ResourceStatus};
use std::io::Write;
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(name: &str, mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "{name:<48} n={:<6} p50={p50:>8.3} ms  p99={p99:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        samples[samples.len() - 1]
    );
    (p50, p99)
}

const DISTRICTS: [&str; 10] = [
    "市南区",
    "市北区",
    "李沧区",
    "崂山区",
    "城阳区",
    "黄岛区",
    "即墨区",
    "胶州市",
    "平度市",
    "莱西市",
];
const INDUSTRIES: [&str; 8] = [
    "批发和零售业",
    "制造业",
    "住宿和餐饮业",
    "信息传输、软件和信息技术服务业",
    "租赁和商务服务业",
    "建筑业",
    "交通运输、仓储和邮政业",
    "科学研究和技术服务业",
];

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let datasets: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rows: u64 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let iterations: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir_in(std::env::var("BENCH_WORK").unwrap_or_else(|_| "/tmp".into()))?;
    let store = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    ))
    .await?;
    let city = shuniu_demo::generate(1);
    let keys = shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(
        dir.path().join("keys/master.key"),
    ))?;
    let audit = shuniu_audit::AuditLog::open(
        &dir.path().join("audit"),
        std::sync::Arc::new(shuniu_audit::SegmentStorage::open(
            &dir.path().join("audit/log"),
        )?),
        // The indexer runs, as under `shuniu serve`.
        Some(store.clone()),
        &keys,
    )
    .await?;
    let accounts = shuniu_auth::accounts::Accounts::new(store.clone(), audit.clone());
    let root = Actor::local_operator();
    for d in &city.departments {
        let input = shuniu_auth::accounts::DepartmentInput {
            code: d.code.clone(),
            name: d.name.clone(),
            short_name: d.short_name.clone(),
            parent_code: d.parent_code.clone(),
            division: d.division.clone(),
            credit_code: Some(d.credit_code.clone()),
        };
        accounts.create_department(&root, &input).await?;
    }

    // 10,000 open catalog entries: the demo city's, opened, varied by edition.
    let format = CodeFormat::default();
    let started = Instant::now();
    let mut tx = store.begin().await?;
    for i in 0..datasets {
        let base = &city.resources[i % city.resources.len()];
        let mut input = base.input.clone();
        input.name = format!("{}（第{}批）", input.name, i / city.resources.len() + 1);
        input.open_type = "unconditional".into();
        input.share_type = "unconditional".into();
        input.level = "general_1".into();
        let spec = input.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let seq = tx
            .next_sequence(&format!(
                "{}|{}",
                spec.classification.front_code(),
                spec.provider
            ))
            .await?;
        let code = format.render(&spec.classification, &spec.provider, seq as u64);
        tx.insert_resource(&code, &spec, ResourceStatus::Published, "bench")
            .await?;
    }
    // The big open table.
    let big_input: shuniu_types::ResourceInput = serde_json::from_value(serde_json::json!({
        "name": "青岛市市场主体登记信息（开放版）", "provider": "370200SJ",
        "category": "base", "item_code": 2, "item_name": "法人单位", "subject_code": 90,
        "subject_name": "市场主体登记", "summary": "全市市场主体的登记信息（公开部分）",
        "format": "database", "share_type": "unconditional", "open_type": "unconditional",
        "update_cycle": "daily", "level": "general_1",
        "data_items": [
            {"name": "credit_code", "label": "统一社会信用代码", "data_type": "text", "length": 18, "is_key": true},
            {"name": "entity_name", "label": "名称", "data_type": "text", "length": 100},
            {"name": "district", "label": "所在区市", "data_type": "text", "length": 10},
            {"name": "industry", "label": "行业", "data_type": "text", "length": 40},
            {"name": "capital", "label": "注册资本（万元）", "data_type": "numeric"},
            {"name": "reg_date", "label": "成立日期", "data_type": "date"},
            {"name": "status", "label": "登记状态", "data_type": "text", "length": 10}
        ]
    }))?;
    let big_spec = big_input.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let big = format.render(&big_spec.classification, &big_spec.provider, 1);
    tx.insert_resource(&big, &big_spec, ResourceStatus::Published, "bench")
        .await?;
    tx.commit().await?;
    println!(
        "registered {datasets} open catalog entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let csv = dir.path().join("entities.csv");
    let started = Instant::now();
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv)?);
        writeln!(
            w,
            "credit_code,entity_name,district,industry,capital,reg_date,status"
        )?;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..rows {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            writeln!(
                w,
                "91370200{:010},青岛{}{}有限公司,{},{},{}.{},{}-{:02}-{:02},{}",
                i,
                ["海川", "金桥", "华盛", "瑞丰", "蓝海", "鼎信"][(x % 6) as usize],
                i,
                DISTRICTS[(x >> 8) as usize % DISTRICTS.len()],
                INDUSTRIES[(x >> 16) as usize % INDUSTRIES.len()],
                (x >> 24) % 100_000,
                (x >> 40) % 100,
                1990 + (x >> 32) % 35,
                1 + (x >> 44) % 12,
                1 + (x >> 50) % 28,
                if x.is_multiple_of(10) {
                    "注销"
                } else {
                    "存续"
                },
            )?;
        }
    }
    println!(
        "wrote {rows} rows of CSV in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let catalog =
        shuniu_catalog::Catalog::open(store.clone(), CodeFormat::default(), audit.clone()).await?;
    let engines = shuniu_server::Engines::assemble(
        store.clone(),
        audit.clone(),
        catalog.clone(),
        shuniu_lake::Lake::local(&dir.path().join("lake"))?,
        dir.path(),
        keys.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let aggregation = engines.aggregation.clone();
    let started = Instant::now();
    let load = aggregation
        .load_file(
            &root,
            &big,
            &csv,
            shuniu_aggregate::LoadRequest::default(),
            |_| {},
        )
        .await?;
    println!(
        "loaded {} rows into the lake in {:.1} s",
        load.rows_accepted,
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_file(&csv).ok();

    let open = engines.open.clone();
    let started = Instant::now();
    let published = open.sync_all().await?;
    let failed = published
        .iter()
        .filter(|p| p.outcome == shuniu_types::states::PublishOutcome::Failed)
        .count();
    anyhow::ensure!(failed == 0, "{failed} publications failed");
    println!(
        "published {} open datasets (the big one with {} rows) in {:.1} s",
        open.snapshot().packages.len(),
        published
            .iter()
            .find(|p| p.code == big)
            .map_or(0, |p| p.rows),
        started.elapsed().as_secs_f64()
    );

    let sharing = engines.sharing.clone();
    // The server's background catch-up would otherwise build the sharing serving index of
    // the big table while the calls are timed: measure the steady state, after it.
    let started = Instant::now();
    let indexed = sharing.sync_all().await?;
    println!(
        "built {indexed} sharing serving indexes (the server's catch-up at start) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let state = shuniu_server::AppState::new(
        engines,
        shuniu_server::ServerSettings {
            secure_cookies: false,
            site_name: "bench".into(),
            open_rate_anonymous: 1_000_000,
            open_rate_token: 1_000_000,
            simulated_citizen_sign_in: false,
            citizen_sign_in: None,
            enterprise_sign_in: None,
            console_sign_in: None,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(shuniu_server::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    // package_search: text, filters, facets, sorting, as portals and harvesters send them.
    let orgs: Vec<String> = open
        .snapshot()
        .organizations
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let words = [
        "人口", "企业", "养老", "公交", "医疗", "学校", "信用", "空气", "婚姻", "住房",
    ];
    // The same query shapes, in the same order, for HTTP, in-process and the peer.
    let shapes: Vec<Vec<(&str, String)>> = (0..iterations + 50)
        .map(|i| {
            let mut params: Vec<(&str, String)> = vec![("rows", "20".into())];
            match i % 5 {
                0 => params.push(("q", words[i % words.len()].into())),
                1 => {
                    params.push(("q", words[i % words.len()].into()));
                    params.push(("fq", format!("organization:{}", orgs[i % orgs.len()])));
                }
                2 => {
                    params.push(("fq", "metadata_modified:[NOW-1DAY TO *]".into()));
                    params.push(("sort", "id asc".into()));
                    params.push(("start", format!("{}", (i * 100) % datasets)));
                    params[0] = ("rows", "100".into());
                }
                3 => params.push((
                    "facet.field",
                    "[\"organization\",\"groups\",\"res_format\",\"tags\"]".into(),
                )),
                _ => {
                    params.push(("q", words[i % words.len()].into()));
                    params.push(("fq", "-groups:theme-101 res_format:CSV".into()));
                    params.push(("facet.field", "[\"organization\",\"groups\"]".into()));
                }
            }
            params
        })
        .collect();
    let mut search = Vec::new();
    let mut search_by_shape: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut counts = 0u64;
    for (i, params) in shapes.iter().enumerate() {
        let t = Instant::now();
        let r = client
            .get(format!("{base}/api/3/action/package_search"))
            .query(params)
            .send()
            .await?;
        let body: serde_json::Value = r.json().await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(body["success"] == true, "{body}");
        counts += body["result"]["count"].as_u64().unwrap_or(0);
        if i >= 50 {
            search.push(ms);
            search_by_shape[i % 5].push(ms);
        }
    }
    println!(
        "\npackage_search over {} datasets ({counts} hits in all):",
        open.snapshot().packages.len()
    );
    for (name, s) in [
        "q word, rows 20",
        "q word + fq organization",
        "fq metadata_modified range, sort id, rows 100",
        "facets organization/groups/res_format/tags",
        "q word + fq negation, 2 facets",
    ]
    .iter()
    .zip(search_by_shape)
    {
        summarize(name, s);
    }
    let (s50, s99) = summarize("package_search, all shapes", search);

    // The search alone, in process (no HTTP, no package JSON), beside the peer below.
    let snap = open.snapshot();
    let mut in_process = Vec::new();
    for (i, params) in shapes.iter().enumerate() {
        let get = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let sp = shuniu_open::SearchParams {
            q: get("q").unwrap_or_default(),
            fq: get("fq").into_iter().collect(),
            sort: get("sort").unwrap_or_else(|| shuniu_open::SearchParams::default().sort),
            rows: get("rows").and_then(|r| r.parse().ok()).unwrap_or(10),
            start: get("start").and_then(|r| r.parse().ok()).unwrap_or(0),
            facet_fields: get("facet.field")
                .map(|f| serde_json::from_str(&f))
                .transpose()?
                .unwrap_or_default(),
            ..Default::default()
        };
        let t = Instant::now();
        let out = snap
            .search(&sp, chrono::Utc::now())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        std::hint::black_box(out);
        if i >= 50 {
            in_process.push(ms);
        }
    }
    summarize("package_search in process (search only)", in_process);

    // The peer: DuckDB over the same packages (title, tags + department + theme, notes +
    // columns as the three weighted texts), the same shapes as SQL: count, page, facets.
    if let Ok(py) = std::env::var("BENCH_PYTHON") {
        let jsonl = dir.path().join("packages.jsonl");
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
            for p in &snap.packages {
                let row = serde_json::json!({
                    "name": p.name, "id": p.id, "org": p.org_name, "grp": p.group.0,
                    "tags": p.tags, "has_data": p.has_data(),
                    "modified": p.modified.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                    "h1": p.haystack[0].0, "h2": p.haystack[1].0, "h3": p.haystack[2].0,
                });
                writeln!(w, "{row}")?;
            }
        }
        let plan: Vec<serde_json::Value> = shapes
            .iter()
            .enumerate()
            .map(|(i, params)| {
                let get = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                serde_json::json!({
                    "shape": i % 5, "q": get("q"), "start": get("start"),
                    "org": get("fq").and_then(|f| f.strip_prefix("organization:").map(String::from)),
                })
            })
            .collect();
        let plan_file = dir.path().join("plan.json");
        std::fs::write(&plan_file, serde_json::to_vec(&plan)?)?;
        let script = format!(
            r#"
import duckdb, json, time
con = duckdb.connect()
con.execute("CREATE TABLE p AS SELECT name, id, org, grp, tags, has_data, modified::TIMESTAMP AS modified, h1, h2, h3 FROM read_json('{jsonl}')")
plan = json.load(open('{plan}'))
def text(w):
    return ("(contains(h1, $w) OR contains(h2, $w) OR contains(h3, $w))",
            "(3 * contains(h1, $w)::INT + 2 * contains(h2, $w)::INT + contains(h3, $w)::INT)")
def facet(col, where, args):
    con.execute(f"SELECT v, count(*) AS c FROM (SELECT {{col}} AS v FROM p WHERE {{where}}) GROUP BY v ORDER BY c DESC, v LIMIT 50", args).fetchall()
lat = []
for k in plan:
    t0 = time.perf_counter()
    s = k["shape"]
    if s in (0, 1, 4):
        w, score = text(k["q"])
        where = w
        args = {{"w": k["q"]}}
        if s == 1:
            where += " AND org = $org"; args["org"] = k["org"]
        if s == 4:
            where += " AND grp <> 'theme-101' AND has_data"
        con.execute(f"SELECT count(*) FROM p WHERE {{where}}", args).fetchall()
        con.execute(f"SELECT name FROM p WHERE {{where}} ORDER BY {{score}} DESC, modified DESC, name LIMIT 20", args).fetchall()
        if s == 4:
            facet("org", where, args); facet("grp", where, args)
    elif s == 2:
        where = "modified >= now()::TIMESTAMP - INTERVAL 1 DAY"
        con.execute(f"SELECT count(*) FROM p WHERE {{where}}").fetchall()
        con.execute(f"SELECT name FROM p WHERE {{where}} ORDER BY id LIMIT 100 OFFSET {{int(k['start'])}}").fetchall()
    else:
        con.execute("SELECT count(*) FROM p").fetchall()
        con.execute("SELECT name FROM p ORDER BY modified DESC, name LIMIT 20").fetchall()
        facet("org", "true", {{}}); facet("grp", "true", {{}})
        facet("unnest(tags)", "true", {{}})
        facet("unnest(['CSV', 'XLSX', 'JSON', 'Parquet'])", "has_data", {{}})
    lat.append((time.perf_counter() - t0) * 1000)
lat = sorted(lat[50:])
print("DuckDB %s, the same shapes as SQL over an in-memory table of the packages: n=%d p50=%.3f ms p99=%.3f ms" % (duckdb.__version__, len(lat), lat[len(lat)//2], lat[int(len(lat)*0.99)]))
"#,
            jsonl = jsonl.display(),
            plan = plan_file.display(),
        );
        let out = std::process::Command::new(&py)
            .arg("-c")
            .arg(script)
            .output()
            .context("running the DuckDB package peer")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }

    // datastore_search with filters over the big table.
    let rid = big.to_lowercase();
    let mut by_shape: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut all = Vec::new();
    for i in 0..iterations + 50 {
        let d = DISTRICTS[i % DISTRICTS.len()];
        let ind = INDUSTRIES[i % INDUSTRIES.len()];
        let body = match i % 5 {
            0 => serde_json::json!({"resource_id": rid, "filters": {"district": d}}),
            1 => {
                serde_json::json!({"resource_id": rid, "filters": {"district": d, "industry": ind}})
            }
            2 => {
                serde_json::json!({"resource_id": rid, "filters": {"credit_code": format!("91370200{:010}", (i as u64 * 7919) % rows)}})
            }
            3 => {
                serde_json::json!({"resource_id": rid, "filters": {"district": d, "status": "注销"}, "sort": "capital desc"})
            }
            _ => {
                serde_json::json!({"resource_id": rid, "q": "海川", "filters": {"industry": ind}, "offset": 1000})
            }
        };
        let t = Instant::now();
        let r = client
            .post(format!("{base}/api/3/action/datastore_search"))
            .json(&body)
            .send()
            .await?;
        let v: serde_json::Value = r.json().await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(v["success"] == true, "{v}");
        if i >= 50 {
            by_shape[i % 5].push(ms);
            all.push(ms);
        }
    }
    println!("\ndatastore_search over {rows} rows (limit 100, include_total):");
    for (name, s) in [
        "filter district (1/10 of rows)",
        "filter district + industry",
        "filter credit_code (one row)",
        "filter district + status, sort capital desc",
        "q text + filter industry, offset 1000",
    ]
    .iter()
    .zip(by_shape)
    {
        summarize(name, s);
    }
    let (d50, d99) = summarize("datastore_search, all shapes", all);
    println!(
        "\ntargets: package_search p99 {s99:.1} ms (≤ 20: {}), datastore_search p99 {d99:.1} ms (≤ 50: {})",
        if s99 <= 20.0 { "met" } else { "NOT met" },
        if d99 <= 50.0 { "met" } else { "NOT met" }
    );
    let _ = (s50, d50);

    // The peer: DuckDB over the lake's Parquet files of the same table.
    if let Ok(py) = std::env::var("BENCH_PYTHON") {
        let glob = dir.path().join("lake").join(&big).join("*.parquet");
        let script = format!(
            r#"
import duckdb, time
con = duckdb.connect()
con.execute("CREATE VIEW t AS SELECT * FROM read_parquet('{glob}')")
D = {districts:?}
I = {industries:?}
names = ["filter district (1/10 of rows)", "filter district + industry", "filter credit_code (one row)",
         "filter district + status, sort capital desc", "q text + filter industry, offset 1000"]
by = [[] for _ in names]
for i in range({n}):
    d = D[i % len(D)]; ind = I[i % len(I)]
    t0 = time.perf_counter()
    s = i % 5
    if s == 0:
        con.execute("SELECT count(*) FROM t WHERE district = ?", [d]).fetchall()
        con.execute("SELECT * FROM t WHERE district = ? LIMIT 100", [d]).fetchall()
    elif s == 1:
        con.execute("SELECT count(*) FROM t WHERE district = ? AND industry = ?", [d, ind]).fetchall()
        con.execute("SELECT * FROM t WHERE district = ? AND industry = ? LIMIT 100", [d, ind]).fetchall()
    elif s == 2:
        k = '91370200%010d' % ((i * 7919) % {rows})
        con.execute("SELECT count(*) FROM t WHERE credit_code = ?", [k]).fetchall()
        con.execute("SELECT * FROM t WHERE credit_code = ? LIMIT 100", [k]).fetchall()
    elif s == 3:
        con.execute("SELECT count(*) FROM t WHERE district = ? AND status = '注销'", [d]).fetchall()
        con.execute("SELECT * FROM t WHERE district = ? AND status = '注销' ORDER BY capital DESC LIMIT 100", [d]).fetchall()
    else:
        con.execute("SELECT count(*) FROM t WHERE industry = ? AND entity_name LIKE '%海川%'", [ind]).fetchall()
        con.execute("SELECT * FROM t WHERE industry = ? AND entity_name LIKE '%海川%' ORDER BY credit_code LIMIT 100 OFFSET 1000", [ind]).fetchall()
    if i >= 50:
        by[s].append((time.perf_counter() - t0) * 1000)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
for name, xs in zip(names, by):
    print("DuckDB %-45s n=%d p50=%.3f ms p99=%.3f ms" % (name, len(xs), q(xs, 0.5), q(xs, 0.99)))
lat = [x for xs in by for x in xs]
print("DuckDB %s, all five shapes as count + page of 100 over Parquet: n=%d p50=%.3f ms p99=%.3f ms" % (duckdb.__version__, len(lat), q(lat, 0.5), q(lat, 0.99)))
"#,
            glob = glob.display(),
            districts = DISTRICTS,
            industries = INDUSTRIES,
            n = iterations + 50,
        );
        let out = std::process::Command::new(py)
            .arg("-c")
            .arg(script)
            .output()
            .context("running the DuckDB peer")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = stop.send(());
    Ok(())
}
