//! Audit-log benchmark: durable appends per second at 1, 16 and 256 concurrent writers,
//! verification throughput, and inclusion-proof latency at a large tree.
//!
//! `cargo run --profile bench-opt -p shuniu-bench --bin audit-log -- [ENTRIES] [SECONDS] [RUNS]`
//! (defaults: 10,000,000 entries for the proof and verify part, 5 s per append run, 3 runs).
//! Every append is acknowledged only after its group commit's fdatasync, as in the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use shuniu_audit::{AuditLog, Entry, Kind, SegmentStorage, VerifyOptions};
use shuniu_types::Actor;

fn entry(log: &AuditLog, i: u64) -> Entry {
    // A realistic data access: an application reading a few fields of one person.
    let actor = Actor {
        principal: format!("app:rsj-{}", i % 17),
        display_name: String::new(),
        role: shuniu_types::Role::Viewer,
        department: "370200RSJ".into(),
    };
    Entry::new(Kind::Access, "services.lookup", &actor)
        .channel("service")
        .resource("101001-370200GA-00001", "370200GA")
        .fields(vec!["id_number".into(), "name".into(), "address".into()])
        .rows(1)
        .subjects(vec![
            log.subject(&format!("{:018}", 370202199001010000u64 + i)),
        ])
        .purpose(Some("社保待遇资格认证".into()))
        .legal_basis(Some("《社会保险法》第七十二条".into()))
        .grant(Some(format!("G{}", i % 40)))
        .digest(Some(format!("{:064x}", i)))
}

async fn open(dir: &std::path::Path) -> Result<AuditLog> {
    let keys = shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(dir.join("master.key")))?;
    Ok(AuditLog::open(
        dir,
        Arc::new(SegmentStorage::open(&dir.join("log"))?),
        None,
        &keys,
    )
    .await?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn appends(log: &AuditLog, writers: usize, seconds: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (log, stop, count) = (log.clone(), stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w as u64 * 1_000_000_000;
            while !stop.load(Ordering::Relaxed) {
                let e = entry(&log, i);
                log.record(e).await.expect("append");
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let entries: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let work = std::env::var("BENCH_WORK")
        .map(std::path::PathBuf::from)
        .ok();
    let tmp = tempfile::tempdir_in(work.as_deref().unwrap_or(std::path::Path::new("/tmp")))?;

    println!(
        "## durable appends (entry ~{} bytes, fdatasync per group commit)",
        {
            let l = open(&tmp.path().join("probe")).await?;
            entry(&l, 0).to_bytes().len()
        }
    );
    println!("| writers | appends/s (median of {runs}) | runs |");
    println!("|---|---|---|");
    for writers in [1usize, 16, 256] {
        let mut rates = Vec::new();
        for r in 0..runs {
            let dir = tmp.path().join(format!("w{writers}-{r}"));
            let log = open(&dir).await?;
            rates.push(appends(&log, writers, seconds).await);
        }
        println!(
            "| {writers} | {:.0} | {} |",
            median(rates.clone()),
            rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // A large log, written as the hub's bulk paths do (many entries per durable write).
    let dir = tmp.path().join("big");
    let log = open(&dir).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_task = entries.div_ceil(4);
    for t in 0..4u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = t * per_task;
            let end = ((t + 1) * per_task).min(entries);
            while i < end {
                let n = (end - i).min(5_000);
                let batch: Vec<Entry> = (i..i + n).map(|k| entry(&log, k)).collect();
                log.record_all(batch).await.expect("append");
                i += n;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let build = started.elapsed().as_secs_f64();
    println!(
        "\nbuilt a log of {} entries in {build:.1} s ({:.0} entries/s in batches of 5,000)",
        log.size(),
        log.size() as f64 / build
    );
    let head = log.sign_now().await?;
    drop(log);

    // Recovery (restart) time at this size.
    let started = Instant::now();
    let log = open(&dir).await?;
    println!(
        "reopened (recovery from index files) in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Inclusion proofs against the latest head, random entries.
    let size = log.size();
    let mut lat = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = x % size;
        let t = Instant::now();
        let p = log.inclusion_proof(i, size).await?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(!p.audit_path.is_empty());
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "inclusion proof at {size} entries: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (10,000 random entries, storage reads included)",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );

    // Verification of the whole log against its signed head.
    let storage = SegmentStorage::open(&dir.join("log"))?;
    let opts = VerifyOptions {
        public_key: log.public_key().clone(),
        heads: vec![head],
        range: None,
        repair_index: false,
    };
    drop(log);
    let mut rates = Vec::new();
    for _ in 0..runs {
        let r = shuniu_audit::verify(&storage, &opts).await;
        assert!(r.ok, "{:?}", r.problem);
        rates.push(r.entries as f64 / (r.elapsed_ms.max(1) as f64 / 1000.0));
    }
    println!(
        "verify: {:.0} entries/s (median of {runs}: {})",
        median(rates.clone()),
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
