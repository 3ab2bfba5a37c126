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
    open_with(dir, false).await
}

/// With `indexed`, as `shuniu serve` opens it: the control plane's audit index (SQLite in the
/// directory) follows the log, taking CPU beside the writers.
async fn open_with(dir: &std::path::Path, indexed: bool) -> Result<AuditLog> {
    let keys = shuniu_keys::MasterKey::load(shuniu_keys::KeySource::File(dir.join("master.key")))?;
    let index = if indexed {
        std::fs::create_dir_all(dir)?;
        Some(
            shuniu_store::Store::open(&format!(
                "sqlite://{}?mode=rwc",
                dir.join("shuniu.db").display()
            ))
            .await?,
        )
    } else {
        None
    };
    Ok(AuditLog::open(
        dir,
        Arc::new(SegmentStorage::open(&dir.join("log"))?),
        index,
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
    for (writers, indexed) in [(1usize, false), (16, false), (256, false), (256, true)] {
        let mut rates = Vec::new();
        for r in 0..runs {
            let dir = tmp.path().join(format!("w{writers}-{indexed}-{r}"));
            let log = open_with(&dir, indexed).await?;
            rates.push(appends(&log, writers, seconds).await);
            if indexed {
                // The index is derived and follows after acknowledgement; say how far behind.
                let t = Instant::now();
                let caught = log.index_caught_up(Duration::from_secs(120)).await;
                println!(
                    "  (index of {} entries {} {:.1} s after the writers stopped)",
                    log.size(),
                    if caught { "caught up" } else { "still behind" },
                    t.elapsed().as_secs_f64()
                );
            }
        }
        println!(
            "| {writers}{} | {:.0} | {} |",
            if indexed {
                ", control-plane index following (as `shuniu serve`)"
            } else {
                ""
            },
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

    // Verification of the whole log against its signed head, from a cold page cache when
    // this process may drop it (root), as a verifier run after a restart or on a copy meets it.
    let storage = SegmentStorage::open(&dir.join("log"))?;
    let opts = VerifyOptions {
        public_key: log.public_key().clone(),
        heads: vec![head],
        range: None,
        repair_index: false,
    };
    drop(log);
    let work = sm3_work(&dir.join("log"))?;
    let mut rates = Vec::new();
    let mut cold = true;
    for _ in 0..runs {
        cold &= drop_page_cache();
        let r = shuniu_audit::verify(&storage, &opts).await;
        assert!(r.ok, "{:?}", r.problem);
        rates.push(r.entries as f64 / (r.elapsed_ms.max(1) as f64 / 1000.0));
    }
    let warm = {
        let r = shuniu_audit::verify(&storage, &opts).await;
        assert!(r.ok, "{:?}", r.problem);
        r.entries as f64 / (r.elapsed_ms.max(1) as f64 / 1000.0)
    };
    println!("verify once more with the log in the page cache: {warm:.0} entries/s");
    let ours = median(rates.clone());
    println!(
        "verify ({}): {ours:.0} entries/s (median of {runs}: {})",
        if cold {
            "cold page cache"
        } else {
            "warm page cache: could not drop it"
        },
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The bound: the SM3 work verification cannot avoid (every leaf and interior node, in
    // 64-byte compressions) at the rate OpenSSL's SM3 reaches on all cores in this run.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_entry = work as f64 / size as f64;
    match openssl_sm3(cores) {
        Some(bytes) => {
            let bound = bytes / 64.0 / per_entry;
            println!(
                "SM3 bound: `openssl speed -multi {cores} -evp sm3` {:.0} MB/s at 8 KiB = {:.0} compressions/s; \
                 {per_entry:.2} compressions an entry (leaf and interior node) → {bound:.0} entries/s; \
                 verify reaches {:.0}% of it",
                bytes / 1e6,
                bytes / 64.0,
                100.0 * ours / bound
            );
        }
        None => println!("SM3 bound: `openssl speed` not available"),
    }
    println!(
        "SM3 in this build (RustCrypto sm3, {cores} threads, 8 KiB buffers): {:.0} MB/s",
        rust_sm3(cores) / 1e6
    );
    Ok(())
}

/// SM3 compressions (64-byte blocks after padding) that verifying the log in `dir` takes.
fn sm3_work(dir: &std::path::Path) -> Result<u64> {
    let blocks = |len: u64| (len + 9).div_ceil(64);
    let mut entries = 0u64;
    let mut work = 0u64;
    let mut segments: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    for path in segments {
        let bytes = std::fs::read(&path)?;
        let mut at = 0usize;
        // Frame: tag (1), sequence (8), length (4), payload, hash (32).
        while at + 13 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[at + 9..at + 13].try_into()?) as u64;
            if bytes[at] == b'E' {
                entries += 1;
                work += blocks(1 + 8 + len);
            }
            at += 13 + len as usize + 32;
        }
    }
    // n - 1 interior nodes of 65 bytes each.
    Ok(work + entries.saturating_sub(1) * blocks(65))
}

fn drop_page_cache() -> bool {
    // sync(1), then the kernel's documented knob; fails harmlessly without root.
    std::process::Command::new("sync")
        .status()
        .is_ok_and(|s| s.success())
        && std::fs::write("/proc/sys/vm/drop_caches", "1").is_ok()
}

/// Bytes/s of SM3 over 8 KiB blocks that `openssl speed` measures on `cores` processes.
fn openssl_sm3(cores: usize) -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "-bytes", "8192", "-evp", "sm3"])
        .args(if cores > 1 {
            vec!["-multi".to_string(), cores.to_string()]
        } else {
            vec![]
        })
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with("sm3"))?;
    let k: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(k * 1000.0)
}

/// Bytes/s of this build's SM3 over 8 KiB blocks on `cores` threads for three seconds.
fn rust_sm3(cores: usize) -> f64 {
    use sm3::Digest;
    let total = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                let buf = vec![0x5au8; 8192];
                let mut n = 0u64;
                while Instant::now() < until {
                    for _ in 0..64 {
                        std::hint::black_box(sm3::Sm3::digest(std::hint::black_box(&buf)));
                    }
                    n += 64 * 8192;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / 3.0
}
