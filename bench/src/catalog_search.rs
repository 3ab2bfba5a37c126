//! Catalog search latency with 10,000 entries: Chinese queries with and without facet
//! filters, through `Catalog::search` (segmentation, index, facets, and loading the page's
//! entries from the control plane), as the API calls it.
//!
//! Run: `cargo run --release -p shuniu-bench --bin catalog-search [-- ENTRIES ITERATIONS]`
//! Peer: SQLite FTS5 over the same entries in the same run, given the same segmentation: the
//! text is cut by the same jieba analyzer (search mode, as our index cuts it) and indexed with
//! FTS5's default tokenizer; queries are cut as ours are and all their words required (AND),
//! as ours are. Both are warmed with every query first, and the run reports how far the two
//! agree on the top results.

use anyhow::{Context, Result};
use shuniu_catalog::{Catalog, SearchParams};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat, ResourceStatus, Role};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::time::Instant;
use tantivy::tokenizer::TokenStream;

const QUERIES: &[&str] = &[
    "户籍人口",
    "营业执照",
    "社会保险缴费",
    "不动产登记",
    "低保",
    "空气质量",
    "住房公积金",
    "企业",
    "行政处罚",
    "出生医学证明",
    "婚姻登记",
    "学籍",
    "养老金",
    "机动车",
    "统一社会信用代码",
    "死亡",
    "残疾人",
    "公交",
    "医疗费用结算",
    "信用",
];

const FILTERS: &[(&str, &str)] = &[
    ("", ""),
    ("share_type", "conditional"),
    ("provider", "370200GA"),
    ("level", "general_3"),
    ("update_cycle", "daily"),
];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(name: &str, mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let (p50, p95, p99) = (
        percentile(&samples, 0.5),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
    );
    println!(
        "{name:<44} n={:<6} p50={p50:>7.3} ms  p95={p95:>7.3} ms  p99={p99:>7.3} ms  max={:>7.3} ms",
        samples.len(),
        samples[samples.len() - 1]
    );
    (p50, p99)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let entries: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let iterations: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    ))
    .await?;

    // The demo city's departments and catalog, varied by district and edition up to `entries`.
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
    let editions = [
        "",
        "（2019版）",
        "（2020版）",
        "（2021版）",
        "（2022版）",
        "（2023版）",
        "（历史库）",
        "（专题库）",
        "（归档）",
        "（接口版）",
    ];
    let format = CodeFormat::default();
    let started = Instant::now();
    let mut tx = store.begin().await?;
    let mut fts_rows = Vec::with_capacity(entries);
    for i in 0..entries {
        let base = &city.resources[i % city.resources.len()];
        let mut input = base.input.clone();
        let round = i / city.resources.len();
        input.name = format!("{}{}", input.name, editions[round % editions.len()]);
        if round >= editions.len() {
            input.name = format!("{}（{}）", input.name, round);
        }
        let spec = input.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let seq = tx
            .next_sequence(&format!(
                "{}|{}",
                spec.classification.front_code(),
                spec.provider
            ))
            .await?;
        let code = format.render(&spec.classification, &spec.provider, seq as u64);
        let items: Vec<String> = spec.data_items.iter().map(|d| d.label.clone()).collect();
        fts_rows.push((
            code.clone(),
            spec.name.clone(),
            spec.summary.clone(),
            items.join(" "),
        ));
        tx.insert_resource(&code, &spec, ResourceStatus::Published, "bench")
            .await?;
    }
    tx.commit().await?;
    println!(
        "loaded {entries} entries into the control plane in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let catalog = Catalog::open(store.clone(), CodeFormat::default(), audit).await?;
    println!(
        "built the search index in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let operator = Actor {
        principal: "admin".into(),
        display_name: "admin".into(),
        role: Role::HubOperator,
        department: "370200DSJ".into(),
    };
    let officer = Actor {
        principal: "mz".into(),
        display_name: "mz".into(),
        role: Role::DataOfficer,
        department: "370200MZ".into(),
    };
    // Warm up.
    for q in QUERIES {
        catalog
            .search(
                &operator,
                &SearchParams {
                    text: (*q).into(),
                    limit: 20,
                    ..Default::default()
                },
            )
            .await?;
    }
    // Where the time goes: the same queries returning one entry instead of a page of 20.
    let mut one = Vec::new();
    for i in 0..iterations.min(1000) {
        let params = SearchParams {
            text: QUERIES[i % QUERIES.len()].into(),
            limit: 1,
            ..Default::default()
        };
        let t = Instant::now();
        catalog.search(&operator, &params).await?;
        one.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    summarize("text query, page of 1 (index + facets only)", one);
    let mut plain = Vec::new();
    let mut faceted = Vec::new();
    let mut as_officer = Vec::new();
    let mut hits = 0usize;
    for i in 0..iterations {
        let q = QUERIES[i % QUERIES.len()];
        let (dim, value) = FILTERS[i % FILTERS.len()];
        let mut filters = BTreeMap::new();
        if !dim.is_empty() {
            filters.insert(dim.to_string(), value.to_string());
        }
        let params = SearchParams {
            text: q.into(),
            filters,
            offset: 0,
            limit: 20,
        };
        let actor = if i % 3 == 0 { &officer } else { &operator };
        let t = Instant::now();
        let page = catalog.search(actor, &params).await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        hits += page.total;
        if i % 3 == 0 {
            as_officer.push(ms);
        } else if dim.is_empty() {
            plain.push(ms);
        } else {
            faceted.push(ms);
        }
    }
    println!(
        "\nShuniu catalog search ({entries} entries, 20 per page, 6 facet counts per query; {} hits in all)",
        hits
    );
    let all: Vec<f64> = plain
        .iter()
        .chain(&faceted)
        .chain(&as_officer)
        .copied()
        .collect();
    summarize("text query, no filter (hub operator)", plain);
    summarize("text query + facet filter (hub operator)", faceted);
    summarize("text query, department visibility filter", as_officer);
    let (_, ours_p99) = summarize("all queries", all.clone());

    // The same queries through the HTTP API, as a department system calls it: routing, key
    // check, search, department names, JSON.
    let (_, key) = accounts
        .create_application(&root, "bench", "bench", "370200DSJ", Role::HubOperator)
        .await?;
    let engines = shuniu_server::Engines::assemble(
        store.clone(),
        catalog.audit_log().clone(),
        catalog.clone(),
        shuniu_lake::Lake::local(&dir.path().join("lake"))?,
        dir.path(),
        keys.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = shuniu_server::AppState::new(
        engines,
        shuniu_server::ServerSettings {
            secure_cookies: false,
            site_name: "bench".into(),
            open_rate_anonymous: 1000,
            open_rate_token: 1000,
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
    let mut http = Vec::new();
    for i in 0..iterations {
        let q = QUERIES[i % QUERIES.len()];
        let (dim, value) = FILTERS[i % FILTERS.len()];
        let mut url = reqwest::Url::parse(&format!("{base}/api/v1/catalog/resources"))?;
        url.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("per_page", "20");
        if !dim.is_empty() {
            url.query_pairs_mut().append_pair(dim, value);
        }
        let t = Instant::now();
        let body: serde_json::Value = client
            .get(url)
            .bearer_auth(&key)
            .send()
            .await?
            .json()
            .await?;
        http.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(body["total"].is_u64(), "unexpected answer {body}");
    }
    let _ = stop.send(());
    println!("\nThrough the HTTP API (GET /api/v1/catalog/resources, loopback, one client)");
    summarize("all queries", http);

    // Peer: SQLite FTS5 over the same jieba-segmented text, same queries (no facets).
    let segment = |text: &str| -> String {
        let mut analyzer = shuniu_search::chinese_analyzer(true);
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while stream.advance() {
            words.push(stream.token().text.clone());
        }
        words.join(" ")
    };
    let fts_query = |q: &str| -> String {
        shuniu_search::query_words(q)
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fts.db").display()
    ))
    .await
    .context("fts db")?;
    sqlx::query("CREATE VIRTUAL TABLE docs USING fts5(code UNINDEXED, name, summary, items)")
        .execute(&mut conn)
        .await?;
    sqlx::query("BEGIN").execute(&mut conn).await?;
    for (code, name, summary, items) in &fts_rows {
        sqlx::query("INSERT INTO docs (code, name, summary, items) VALUES (?, ?, ?, ?)")
            .bind(code)
            .bind(segment(name))
            .bind(segment(summary))
            .bind(segment(items))
            .execute(&mut conn)
            .await?;
    }
    sqlx::query("COMMIT").execute(&mut conn).await?;
    async fn fts_search(conn: &mut sqlx::SqliteConnection, m: &str) -> Result<(i64, Vec<String>)> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM docs WHERE docs MATCH ?")
            .bind(m)
            .fetch_one(&mut *conn)
            .await?;
        let top: Vec<(String,)> =
            sqlx::query_as("SELECT code FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 20")
                .bind(m)
                .fetch_all(&mut *conn)
                .await?;
        Ok((n, top.into_iter().map(|(c,)| c).collect()))
    }
    // Warm up, and compare answers: totals and the overlap of the top 10.
    let (mut same_total, mut overlap, mut compared) = (0usize, 0.0f64, 0usize);
    for q in QUERIES {
        let (n, top) = fts_search(&mut conn, &fts_query(q)).await?;
        let ours = catalog
            .search(
                &operator,
                &SearchParams {
                    text: (*q).into(),
                    limit: 20,
                    ..Default::default()
                },
            )
            .await?;
        if ours.total as i64 == n {
            same_total += 1;
        }
        let ours_top: Vec<&str> = ours
            .items
            .iter()
            .take(10)
            .map(|r| r.code.as_str())
            .collect();
        let theirs_top: Vec<&str> = top.iter().take(10).map(String::as_str).collect();
        let want = ours_top.len().max(theirs_top.len());
        if want > 0 {
            let both = ours_top.iter().filter(|c| theirs_top.contains(c)).count();
            overlap += both as f64 / want as f64;
            compared += 1;
        }
    }
    let mut fts = Vec::new();
    for i in 0..iterations {
        let q = QUERIES[i % QUERIES.len()];
        let t = Instant::now();
        let (n, _top) = fts_search(&mut conn, &fts_query(q)).await?;
        let _ = n;
        fts.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "\nPeer: SQLite FTS5, text cut by the same jieba analyzer, all words required, count + top 20, no facets"
    );
    println!(
        "agreement over the {} queries: same total hits for {same_total}; top-10 overlap {:.0}% on average",
        QUERIES.len(),
        if compared > 0 {
            100.0 * overlap / compared as f64
        } else {
            0.0
        }
    );
    let (_, fts_p99) = summarize("all queries", fts);
    println!(
        "\nratio p99 shuniu / sqlite-fts5: {:.2}",
        ours_p99 / fts_p99
    );
    Ok(())
}
