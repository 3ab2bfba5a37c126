//! Case throughput (issue 25): N cases of a four-step service — two steps in parallel, a join,
//! a last step — each step an automatic one run by the case engine's outbox, every step a
//! durable change of the control plane (SQLite by default, PostgreSQL with
//! BENCH_DATABASE_URL). Applications arrive from one task while the worker runs, as in the
//! server; the clock runs from the first application to the last case completed.
//!
//! Run: `cargo run --release -p shuniu-bench --bin cases [-- N]` (default 10,000). Prints one
//! JSON line and writes the service's BPMN to `$BENCH_WORK/cases-bench.bpmn` for the peer
//! (`bench/cases.py` runs SpiffWorkflow over it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use shuniu_cases::{CaseSubject, ServiceDefinition};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat};

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = std::env::var("BENCH_WORK").unwrap_or_else(|_| "/tmp".into());
    let dir = tempfile::tempdir_in(&work)?;
    let (url, backend) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(u) if !u.is_empty() => (u, "postgresql"),
        _ => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            "sqlite",
        ),
    };
    let store = Store::open(&url).await?;
    let keys = shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(
        dir.path().join("keys/master.key"),
    ))?;
    let audit = shuniu_audit::AuditLog::open(
        &dir.path().join("audit"),
        std::sync::Arc::new(shuniu_audit::SegmentStorage::open(
            &dir.path().join("audit/log"),
        )?),
        Some(store.clone()),
        &keys,
    )
    .await?;
    let catalog =
        shuniu_catalog::Catalog::open(store.clone(), CodeFormat::default(), audit.clone()).await?;
    let engines = shuniu_server::Engines::assemble(
        store.clone(),
        audit,
        catalog,
        shuniu_lake::Lake::local(&dir.path().join("lake"))?,
        dir.path(),
        keys,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cases = engines.cases.clone();
    let def: ServiceDefinition = serde_json::from_value(serde_json::json!({
        "code": "SVC-BENCH", "name": "基准一件事", "deadline_days": 10,
        "trigger": {"kind": "application", "applicant": "person"},
        "fields": [{"name": "child_name", "label": "姓名", "required": true}],
        "steps": [
            {"id": "hukou", "name": "户口登记", "department": "370200GA", "deadline_days": 3, "automatic": "record"},
            {"id": "insurance", "name": "医保参保", "department": "370200YB", "deadline_days": 3, "automatic": "record"},
            {"id": "card", "name": "社保卡", "department": "370200RS", "deadline_days": 5, "after": ["hukou", "insurance"], "automatic": "record"},
            {"id": "archive", "name": "归档", "department": "370200DSJ", "deadline_days": 1, "after": ["card"], "automatic": "record"}
        ]
    }))?;
    let root = Actor::local_operator();
    cases
        .define(&root, &def)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(
        std::path::Path::new(&work).join("cases-bench.bpmn"),
        cases
            .bpmn("SVC-BENCH", None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    let people: Vec<CaseSubject> = (0..n)
        .map(|i| {
            let born = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).expect("day")
                + chrono::Duration::days((i / 2) as i64);
            shuniu_types::IdNumber::compose(
                "370202".parse().expect("division"),
                born,
                11 + (i % 2) as u16,
            )
            .map(CaseSubject::Person)
            .expect("id")
        })
        .collect();
    let started = Instant::now();
    // The worker, as the server runs it.
    let worker = {
        let cases = cases.clone();
        tokio::spawn(async move {
            loop {
                match cases.run_jobs().await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Ok(_) => {}
                    Err(e) => eprintln!("jobs: {e}"),
                }
            }
        })
    };
    // Applicants arrive `BENCH_APPLICANTS` at a time (default 32), as a server receives them
    // from many people at once; 1 applies one after the other.
    let at_once: usize = std::env::var("BENCH_APPLICANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
        .max(1);
    let mut pending = futures::stream::iter(people.iter().map(|who| {
        let cases = cases.clone();
        async move {
            let form: BTreeMap<String, String> =
                [("child_name".to_string(), "王小明".to_string())].into();
            cases
                .apply(who, "SVC-BENCH", form, true, "bench")
                .await
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    }))
    .buffer_unordered(at_once);
    while let Some(done) = pending.next().await {
        done?;
    }
    let applied = started.elapsed().as_secs_f64();
    loop {
        let done = store
            .service_counts()
            .await?
            .first()
            .map_or(0, |c| c.completed);
        if done as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    worker.abort();
    let (effects, distinct) = store.case_effect_counts().await?;
    anyhow::ensure!(
        effects == distinct && effects as usize == 4 * n,
        "effects {effects}, distinct {distinct}"
    );
    println!(
        "{}",
        serde_json::json!({
            "backend": backend, "cases": n, "steps_per_case": 4,
            "seconds": seconds, "applications_seconds": applied, "applicants_at_once": at_once,
            "cases_per_second": n as f64 / seconds,
            "durable_steps_per_second": (4 * n) as f64 / seconds,
        })
    );
    Ok(())
}
