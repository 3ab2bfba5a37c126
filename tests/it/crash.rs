//! The case engine survives SIGKILL: 10,000 cases opened by death registrations and run by the
//! server's own worker through four automatic steps (one a push to a department's system that
//! refuses each case's first attempt, so a retry timer is pending for many cases); the server
//! is killed with SIGKILL in the middle, restarted, and every case runs to its end — none lost,
//! none opened twice, no step's effect recorded twice, the pending retries firing after the
//! restart, every push delivered (its receiver deduplicating by the delivery id, as the
//! documentation asks of it).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CASES: usize = 10_000;

fn cases() -> usize {
    std::env::var("CRASH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES)
}

fn shuniu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shuniu"));
    c.env("SHUNIU_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn serve(data: &std::path::Path, port: u16) -> std::process::Child {
    shuniu()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("SHUNIU_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
        .stdout(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.join("serve.log"))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        )
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.join("serve.log"))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        )
        .spawn()
        .expect("serve")
}

async fn up(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stats(client: &reqwest::Client, base: &str, key: &str) -> (i64, i64) {
    let Ok(r) = client
        .get(format!("{base}/api/v1/cases/stats"))
        .bearer_auth(key)
        .send()
        .await
    else {
        return (0, 0);
    };
    let v: Value = r.json().await.unwrap_or_default();
    (
        v[0]["cases"].as_i64().unwrap_or(0),
        v[0]["completed"].as_i64().unwrap_or(0),
    )
}

// Seven minutes on its own in the debug build, more beside the rest of the suite: .ci/run runs it
// alone after `cargo test --workspace` (`cargo test --test it crash:: -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: .ci/run runs it on its own"]
async fn ten_thousand_cases_survive_a_kill_minus_nine() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("hub");
    let out = shuniu()
        .args(["init", "--data-dir"])
        .arg(&data)
        .output()
        .expect("init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = shuniu()
        .args([
            "app",
            "add",
            "ops",
            "--name",
            "运维",
            "--role",
            "hub_operator",
            "--department",
            "370200DSJ",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("app");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("snk_"))
        .expect("an API key")
        .to_string();

    // The department's system: refuses each case's first push, then accepts; counts deliveries
    // by their id (a redelivery after a crash is recognised by it).
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/cases",
        axum::routing::post(move |h: axum::http::HeaderMap| {
            let s = s.clone();
            async move {
                let id = h
                    .get("x-shuniu-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let mut m = s.lock().expect("seen");
                let n = m.entry(id).or_insert(0);
                *n += 1;
                if *n == 1 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(&data, port);
    up(&client, &base).await;
    // The death register, published.
    let r = client
        .post(format!("{base}/api/v1/catalog/resources"))
        .bearer_auth(&key)
        .json(&json!({
            "name": "死亡登记信息（压力测试）", "provider": "370200DSJ", "category": "主题信息资源",
            "item_code": 1, "item_name": "人口", "subject_code": 1, "subject_name": "死亡人口",
            "summary": "测试", "format": "数据库", "share_type": "有条件共享", "share_conditions": "测试",
            "open_type": "不予开放", "update_cycle": "每日", "level": "general_2",
            "data_items": [
                {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18,
                 "is_key": true, "semantic_type": "身份证号"},
                {"name": "died_on", "label": "死亡日期", "data_type": "日期型"}
            ]
        }))
        .send()
        .await
        .expect("register");
    let v: Value = r.json().await.expect("json");
    let code = v["code"].as_str().expect("code").to_string();
    for (path, body) in [
        (
            format!("/api/v1/catalog/resources/{code}/submit"),
            json!({}),
        ),
        (
            format!("/api/v1/catalog/resources/{code}/review"),
            json!({"decision": "publish"}),
        ),
    ] {
        let r = client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    let service = json!({
        "code": "SVC-CRASH", "name": "压力测试一件事", "deadline_days": 10,
        "trigger": {"kind": "event", "resource": code, "key": "id_number"},
        "steps": [
            {"id": "a", "name": "登记", "department": "370200DSJ", "deadline_days": 1, "automatic": "record"},
            {"id": "b", "name": "推送", "department": "370200GA", "deadline_days": 1, "after": ["a"],
             "automatic": format!("push http://{receiver}/cases")},
            {"id": "c", "name": "归档", "department": "370200DSJ", "deadline_days": 1, "after": ["a"], "automatic": "record"},
            {"id": "d", "name": "办结", "department": "370200DSJ", "deadline_days": 1, "after": ["b", "c"], "automatic": "record"}
        ]
    });
    let r = client
        .put(format!("{base}/api/v1/cases/services/SVC-CRASH"))
        .bearer_auth(&key)
        .json(&service)
        .send()
        .await
        .expect("define");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    // 10,000 deaths registered in one load: each opens a case by itself.
    let mut csv = String::from("id_number,died_on\n");
    let mut n = 0u16;
    let start = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).expect("day");
    'outer: for day in 0..5000 {
        let born = start + chrono::Duration::days(day);
        for seq in [11u16, 12] {
            let id =
                shuniu_types::IdNumber::compose("370202".parse().expect("division"), born, seq)
                    .expect("id");
            csv.push_str(&format!("{id},2026-12-01\n"));
            n += 1;
            if usize::from(n) == cases() {
                break 'outer;
            }
        }
    }
    let r = client
        .post(format!(
            "{base}/api/v1/datasets/{code}/loads?filename=deaths.csv&wait=true&mode=replace"
        ))
        .bearer_auth(&key)
        .body(csv)
        .send()
        .await
        .expect("load");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["status"], "succeeded", "{v}");

    // Kill it while cases are being run: once 200 have completed, or twenty seconds after the
    // last one opened (the worker is then deep in their steps), whichever comes first.
    let started = Instant::now();
    let mut all_open: Option<Instant> = None;
    loop {
        let (cases, completed) = stats(&client, &base, &key).await;
        if cases as usize == self::cases() && all_open.is_none() {
            all_open = Some(Instant::now());
        }
        if completed >= 200 || all_open.is_some_and(|t| t.elapsed() > Duration::from_secs(20)) {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let s: Value = client
                .get(format!("{base}/api/v1/cases/stats"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("stats")
                .json()
                .await
                .unwrap_or_default();
            let list: Value = client
                .get(format!("{base}/api/v1/cases?limit=1"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("list")
                .json()
                .await
                .unwrap_or_default();
            let one: Value = client
                .get(format!(
                    "{base}/api/v1/cases/{}",
                    list[0]["id"].as_str().unwrap_or("")
                ))
                .bearer_auth(&key)
                .send()
                .await
                .expect("case")
                .json()
                .await
                .unwrap_or_default();
            panic!(
                "only {completed} of {cases} cases completed: {s} {one} {}",
                std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
            );
        }
        // Not faster: the figures are computed over every case.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let before = stats(&client, &base, &key).await;
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    assert!(
        (before.1 as usize) < cases(),
        "the kill came after everything was done ({before:?}): it proves nothing"
    );
    eprintln!("killed at {before:?} (cases opened, completed)");

    // Restarted: every case continues to its end.
    let mut server = serve(&data, port);
    up(&client, &base).await;
    let started = Instant::now();
    loop {
        let (cases, completed) = stats(&client, &base, &key).await;
        if completed as usize == self::cases() {
            assert_eq!(cases as usize, self::cases(), "no case opened twice");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "after the restart only {completed} of {cases} cases completed"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    server.kill().expect("stop");
    let _ = server.wait();

    // The store's own account: each step's effect once, every case complete.
    let url = format!("sqlite://{}", data.join("shuniu.db").display());
    let store = shuniu_store::Store::open(&url).await.expect("store");
    let (effects, distinct) = store.case_effect_counts().await.expect("effects");
    let n = cases() as i64;
    assert_eq!((effects, distinct), (4 * n, 4 * n));
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.len(), cases(), "one delivery id per case's push");
    let redelivered = seen.values().filter(|n| **n > 2).count();
    eprintln!(
        "pushes: {} delivered, {redelivered} redelivered after the kill (deduplicated by id)",
        cases()
    );
}
