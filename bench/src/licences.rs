//! E-licence throughput (issue 22): issue N licences from a resource — read through its
//! serving index, each signed with the department's e-seal (SM2), stored and indexed in the
//! control plane — then verify every one of them offline, on all cores, as a verifier would.
//!
//! Run: `cargo run --release -p shuniu-bench --bin licences [-- N]` (default 1,000,000).
//! Peer: OpenSSL's `openssl speed -seconds 5 sm2` on the same machine in the same run, three
//! times (medians), single core, as the reference for SM2 operations per second.
//! Target: end to end, ≥ 50% of OpenSSL's sign rate per core (issuing) and of its verify rate
//! per core (verification).

use anyhow::{Context, Result};
use shuniu_store::Store;
use shuniu_types::{Actor, CodeFormat, CreditCode, ResourceStatus};
use std::io::Write;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `openssl speed` → (sign/s, verify/s) for SM2, single core.
fn openssl_sm2() -> Result<(f64, f64)> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "5", "sm2"])
        .output()
        .context("running openssl speed (Debian's openssl)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("SM2"))
        .context("openssl speed printed no SM2 line")?;
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok())
        .collect();
    // "256 bits SM2 (CurveSM2)   0.0008s   0.0007s   1272.7   1474.5"
    anyhow::ensure!(nums.len() >= 3, "unexpected openssl line: {line}");
    Ok((nums[nums.len() - 2], nums[nums.len() - 1]))
}

#[tokio::main]
async fn main() -> Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
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
    let input: shuniu_types::ResourceInput = serde_json::from_value(serde_json::json!({
        "name": "市场主体登记信息", "provider": "370200SJ",
        "category": "base", "item_code": 2, "item_name": "法人单位", "subject_code": 90,
        "subject_name": "市场主体登记", "summary": "全市市场主体的登记信息",
        "format": "database", "share_type": "conditional", "share_conditions": "用于政务服务办理", "open_type": "not_open",
        "update_cycle": "daily", "level": "general_1",
        "data_items": [
            {"name": "credit_code", "label": "统一社会信用代码", "data_type": "text", "length": 18, "is_key": true, "semantic_type": "credit_code"},
            {"name": "ent_name", "label": "名称", "data_type": "text", "length": 100},
            {"name": "legal_rep", "label": "法定代表人", "data_type": "text", "length": 50},
            {"name": "capital", "label": "注册资本（万元）", "data_type": "numeric"},
            {"name": "reg_date", "label": "成立日期", "data_type": "date"},
            {"name": "reg_address", "label": "住所", "data_type": "text", "length": 200}
        ]
    }))?;
    let spec = input.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let code = CodeFormat::default().render(&spec.classification, &spec.provider, 1);
    let mut tx = store.begin().await?;
    tx.insert_resource(&code, &spec, ResourceStatus::Published, "bench")
        .await?;
    tx.commit().await?;

    let csv = dir.path().join("entities.csv");
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv)?);
        writeln!(
            w,
            "credit_code,ent_name,legal_rep,capital,reg_date,reg_address"
        )?;
        let division = "370200".parse().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cc = CreditCode::compose("91", division, &format!("{i:08}"))
                .context("composing a credit code")?;
            writeln!(
                w,
                "{cc},青岛{}{}有限公司,{}{},{}.{},{}-{:02}-{:02},青岛市市南区香港中路{}号",
                ["海川", "金桥", "华盛", "瑞丰", "蓝海", "鼎信"][(x % 6) as usize],
                i,
                ["张", "王", "李", "赵", "刘", "陈"][(x >> 8) as usize % 6],
                ["伟", "芳", "娜", "敏", "静", "磊"][(x >> 12) as usize % 6],
                (x >> 24) % 100_000,
                (x >> 40) % 100,
                1990 + (x >> 32) % 35,
                1 + (x >> 44) % 12,
                1 + (x >> 50) % 28,
                1 + (x >> 20) % 300,
            )?;
        }
    }
    let catalog =
        shuniu_catalog::Catalog::open(store.clone(), CodeFormat::default(), audit.clone()).await?;
    let engines = shuniu_server::Engines::assemble(
        store.clone(),
        audit.clone(),
        catalog,
        shuniu_lake::Lake::local(&dir.path().join("lake"))?,
        dir.path(),
        keys.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let load = engines
        .aggregation
        .load_file(
            &root,
            &code,
            &csv,
            shuniu_aggregate::LoadRequest::default(),
            |_| {},
        )
        .await?;
    std::fs::remove_file(&csv).ok();
    engines.sharing.sync_all().await?;
    println!(
        "loaded and indexed {} rows in {:.1} s",
        load.rows_accepted,
        started.elapsed().as_secs_f64()
    );

    let licences = engines.licences.clone();
    let err = |e: shuniu_licences::LicenceError| anyhow::anyhow!("{e} [{}]", e.code());
    let t = licences
        .register_type(
            &root,
            shuniu_licences::LicenceTypeInput {
                code: String::new(),
                number: Some(1),
                name: "营业执照".into(),
                definer: "370200SJ".into(),
                issuers: vec!["370200SJ".into()],
                resource_code: code.clone(),
                holder_item: "credit_code".into(),
                holder_name_item: "ent_name".into(),
                serial_item: None,
                fields: vec![
                    ("legal_rep".into(), "法定代表人".into()),
                    ("capital".into(), "注册资本（万元）".into()),
                    ("reg_date".into(), "成立日期".into()),
                    ("reg_address".into(), "住所".into()),
                ],
                validity_years: None,
            },
        )
        .await
        .map_err(err)?;
    licences
        .make_seal(&root, "370200SJ", None, 5)
        .await
        .map_err(err)?;

    // The peer first, on a quiet machine, three times.
    let mut peer = Vec::new();
    for _ in 0..3 {
        peer.push(openssl_sm2()?);
    }
    let peer_sign = median(peer.iter().map(|p| p.0).collect());
    let peer_verify = median(peer.iter().map(|p| p.1).collect());
    println!(
        "openssl speed sm2 (1 core, median of 3): {peer_sign:.0} sign/s, {peer_verify:.0} verify/s"
    );

    // The same SM2 operations in our code alone, one core (the bound the issuing path adds to).
    let (key, _) =
        shuniu_licences::seal::SealKey::generate(shuniu_licences::seal::DEFAULT_SIGNER_ID)
            .map_err(err)?;
    let public = shuniu_licences::seal::SealPublicKey::from_hex(
        &key.public_hex(),
        shuniu_licences::seal::DEFAULT_SIGNER_ID,
    )
    .map_err(err)?;
    let message = [7u8; 600];
    let started = Instant::now();
    let mut sig = Vec::new();
    for _ in 0..2_000 {
        sig = key.sign(&message);
    }
    let raw_sign = 2_000.0 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..2_000 {
        public
            .verify(&message, &sig)
            .map_err(|r| anyhow::anyhow!("{r}"))?;
    }
    let raw_verify = 2_000.0 / started.elapsed().as_secs_f64();
    println!("sm2 crate alone (1 core): {raw_sign:.0} sign/s, {raw_verify:.0} verify/s");

    // Issuing, end to end.
    let started = Instant::now();
    let report = licences.issue_all(&root, &t.code).await.map_err(err)?;
    let issue_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.issued == n, "issued {} of {n}", report.issued);
    let issue_rate = n as f64 / issue_secs;

    // Every licence's QR text (the only type here, so the pass is by identifier alone: the
    // primary key's order), then all verified offline on every core.
    let mut texts = Vec::with_capacity(n as usize);
    let mut after = String::new();
    loop {
        let page = licences
            .list(&shuniu_store::LicenceFilter {
                current_only: true,
                limit: 10_000,
                after_id: Some(after.clone()),
                ..Default::default()
            })
            .await
            .map_err(err)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        texts.extend(page.into_iter().map(|l| l.envelope));
    }
    anyhow::ensure!(texts.len() as u64 == n, "listed {} of {n}", texts.len());
    let verifier = std::sync::Arc::new(licences.verifier().await.map_err(err)?);
    let texts = std::sync::Arc::new(texts);
    let now = chrono::Utc::now();
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..cores {
        let (verifier, texts) = (verifier.clone(), texts.clone());
        workers.push(std::thread::spawn(move || {
            let mut ok = 0u64;
            for text in texts.iter().skip(w).step_by(cores) {
                if verifier.verify(text, now).is_ok() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut valid = 0;
    for w in workers {
        valid += w
            .join()
            .map_err(|_| anyhow::anyhow!("a verifier thread panicked"))?;
    }
    let verify_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(valid == n, "{valid} of {n} verified");
    let verify_rate = n as f64 / verify_secs;

    println!(
        "issued {n} licences in {issue_secs:.1} s: {issue_rate:.0}/s ({:.0}/s per core of {cores}) = {:.2}× OpenSSL's sign rate per core (target ≥ 0.50)",
        issue_rate / cores as f64,
        issue_rate / cores as f64 / peer_sign
    );
    println!(
        "  (both cores together: {:.2}× OpenSSL's single-core sign rate)",
        issue_rate / peer_sign
    );
    println!(
        "verified {n} licences offline in {verify_secs:.1} s on {cores} threads: {verify_rate:.0}/s ({:.0}/s per core) = {:.2}× OpenSSL's verify rate per core (target ≥ 0.50)",
        verify_rate / cores as f64,
        verify_rate / cores as f64 / peer_verify
    );
    Ok(())
}
