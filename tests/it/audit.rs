//! Traceability through the HTTP API and the console: what is logged, who may read it, the
//! proofs anyone can check, the citizen's own record.

use reqwest::StatusCode;
use serde_json::Value;
use shuniu_audit::merkle::{Hash, verify_consistency, verify_inclusion};

use crate::harness::{Hub, json_of, resource};

const CSV: &str = "公民身份号码,姓名,住址\n\
110101199003070011,张三,青岛市市南区香港中路1号\n\
110101199003070038,李四,青岛市市北区辽宁路2号\n";

fn hash(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

async fn loaded(hub: &Hub) -> String {
    let code = hub
        .register(&hub.ga_key, &resource("户籍人口基本信息"))
        .await;
    hub.publish(&hub.ga_key, &code).await;
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=hj.csv&wait=true"
        )))
        .bearer_auth(&hub.ga_key)
        .body(CSV.as_bytes().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    code
}

/// Waits for the derived index to hold `action` entries.
pub(crate) async fn search_until(
    hub: &Hub,
    key: &str,
    query: &str,
    want: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..100 {
        let (s, v) = json_of(hub.get(key, &format!("/api/v1/audit/search?{query}")).await).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let rows = v.as_array().unwrap().clone();
        if want(&rows) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the audit index never showed what was expected for {query}");
}

#[tokio::test]
async fn changes_and_data_accesses_are_logged_provable_and_scoped() {
    let hub = Hub::start().await;
    let code = loaded(&hub).await;
    // The provider reads its rows with a purpose; another department is refused.
    let r = hub
        .get(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/preview?purpose=核对户籍"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = hub
        .get(&hub.mz_key, &format!("/api/v1/datasets/{code}/preview"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let rows = search_until(
        &hub,
        &hub.operator_key,
        &format!("resource={code}"),
        |rows| rows.iter().any(|r| r["action"] == "data.read"),
    )
    .await;
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in [
        "catalog.register",
        "catalog.submitted",
        "catalog.published",
        "data.load",
        "data.preview",
        "data.read",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let preview = rows.iter().find(|r| r["action"] == "data.preview").unwrap();
    assert_eq!(preview["purpose"], "核对户籍");
    assert_eq!(preview["rows"], 2);
    assert_eq!(preview["provider"], "370200GA");
    let refused = rows.iter().find(|r| r["action"] == "data.read").unwrap();
    assert_eq!(refused["department"], "370200MZ");
    assert_eq!(refused["result"], "FORBIDDEN_DEPARTMENT");

    // The entry itself: fields, a digest of what was returned, subjects as keyed hashes only.
    let idx = preview["idx"].as_u64().unwrap();
    let (s, e) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/audit/entries/{idx}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["entry"]["fields"].as_array().unwrap().len(), 3);
    assert_eq!(e["entry"]["digest"].as_str().unwrap().len(), 64);
    let subjects = e["entry"]["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 2);
    assert!(
        !e.to_string().contains("110101199003070011"),
        "no ID number in clear"
    );

    // Its proof checks against the signed head, with nothing but the public key.
    let (_, head) = json_of(hub.get(&hub.mz_key, "/api/v1/audit/tree-head").await).await;
    let (_, key) = json_of(hub.get(&hub.mz_key, "/api/v1/audit/public-key").await).await;
    let pk = shuniu_audit::PublicKey::from_hex(key["public_key"].as_str().unwrap()).unwrap();
    let sth: shuniu_audit::SignedTreeHead = serde_json::from_value(head.clone()).unwrap();
    assert!(sth.verify(&pk));
    let size = head["tree_size"].as_u64().unwrap();
    let (s, p) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/audit/proofs/inclusion?index={idx}&tree_size={size}"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let path: Vec<Hash> = p["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    let payload = serde_json::to_vec(
        &serde_json::from_value::<shuniu_audit::Entry>(e["entry"].clone()).unwrap(),
    )
    .unwrap();
    let leaf = shuniu_audit::merkle::leaf_hash(idx, &payload);
    assert_eq!(leaf, hash(&p["leaf_hash"]));
    assert!(verify_inclusion(
        idx,
        size,
        &leaf,
        &path,
        &hash(&head["root_hash"])
    ));

    // Later heads are consistent with earlier ones.
    let (s, later) = json_of(
        hub.post(&hub.operator_key, "/api/v1/audit/tree-head", &Value::Null)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{later}");
    let second = later["tree_size"].as_u64().unwrap();
    let (_, c) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/audit/proofs/consistency?first={size}&second={second}"),
        )
        .await,
    )
    .await;
    let proof: Vec<Hash> = c["proof"].as_array().unwrap().iter().map(hash).collect();
    assert!(verify_consistency(
        size,
        second,
        &hash(&head["root_hash"]),
        &hash(&later["root_hash"]),
        &proof
    ));
    let (_, heads) = json_of(hub.get(&hub.ga_key, "/api/v1/audit/tree-heads").await).await;
    assert!(
        heads
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["tree_size"] == second)
    );

    // Who may do what.
    let r = hub
        .post(&hub.ga_key, "/api/v1/audit/tree-head", &Value::Null)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = hub.get(&hub.viewer_key, "/api/v1/audit/search").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = hub.get(&hub.ga_key, "/api/v1/audit/flows").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A department sees what concerns it, and nothing else.
    let (_, mine) = json_of(
        hub.get(&hub.mz_key, "/api/v1/audit/search?limit=1000")
            .await,
    )
    .await;
    for r in mine.as_array().unwrap() {
        assert!(
            r["department"] == "370200MZ" || r["provider"] == "370200MZ",
            "{r}"
        );
    }
    // The limit's documented range holds (schemathesis found 0 accepted).
    for bad in ["0", "-1", "1001"] {
        let r = hub
            .get(&hub.mz_key, &format!("/api/v1/audit/search?limit={bad}"))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "limit={bad}");
    }
    let load = rows.iter().find(|r| r["action"] == "data.load").unwrap()["idx"]
        .as_u64()
        .unwrap();
    let r = hub
        .get(&hub.mz_key, &format!("/api/v1/audit/entries/{load}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = hub
        .get(&hub.ga_key, &format!("/api/v1/audit/entries/{load}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Bad proof requests are refused with the error shape, not a 5xx.
    let (s, b) = json_of(
        hub.get(
            &hub.ga_key,
            "/api/v1/audit/proofs/inclusion?index=0&tree_size=999999999",
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let r = hub
        .get(&hub.ga_key, "/api/v1/audit/entries/999999999")
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The hub's flows show the refused attempt as no flow, the provider's own read as one.
    let (s, f) = json_of(
        hub.get(&hub.operator_key, "/api/v1/audit/flows?days=1")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert!(
        f["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["provider"] == "370200GA")
    );
}

#[tokio::test]
async fn a_citizen_sees_who_used_their_data() {
    let hub = Hub::start().await;
    let code = loaded(&hub).await;
    let r = hub
        .get(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/preview?purpose=户籍核对"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    search_until(&hub, &hub.operator_key, "action=data.preview", |r| {
        !r.is_empty()
    })
    .await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    // The sign-in form carries its CSRF token.
    let csrf = citizen_csrf(&hub, &client).await;
    // A malformed number is refused with a reason.
    let r = client
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "张三"),
            ("id_number", "110101199003070012"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = client
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "张三"),
            ("id_number", "110101199003070011"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("户籍核对"), "{html}");
    assert!(
        html.contains("青岛市公安局"),
        "the using department by name"
    );
    assert!(
        html.contains("110101********0011"),
        "the number only masked"
    );
    // Someone whose data nobody used sees an empty record.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = citizen_csrf(&hub, &other).await;
    let html = other
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "王五"),
            ("id_number", "110101199003070070"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("no-uses"), "{html}");
}

/// The citizen page's CSRF token, from the page (its cookie goes to the client's jar).
pub(crate) async fn citizen_csrf(hub: &Hub, client: &reqwest::Client) -> String {
    let html = client
        .get(hub.url("/my-data"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a CSRF field") + marker.len();
    html[at..at + 64].to_string()
}

/// The simulated sign-in is the demo's alone; it needs the form's token and is rate-limited.
#[tokio::test]
async fn citizens_cannot_sign_in_on_their_word_outside_the_demo() {
    let hub = Hub::start_serving().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let html = client
        .get(hub.url("/my-data"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("citizen-sign-in-unavailable") && !html.contains("id=\"citizen-login\""));
    let r = client
        .post(hub.url("/my-data/login"))
        .form(&[("name", "张三"), ("id_number", "110101199003070011")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("CITIZEN_SIGN_IN_UNAVAILABLE")
    );

    // The demo's form: refused without its token (another site's form cannot sign anyone in).
    let demo = Hub::start().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(demo.url("/my-data/login"))
        .form(&[("name", "张三"), ("id_number", "110101199003070011")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Ten attempts from one address in ten minutes, then 429 with Retry-After.
    let csrf = citizen_csrf(&demo, &client).await;
    for _ in 0..10 {
        let r = client
            .post(demo.url("/my-data/login"))
            .form(&[
                ("name", "张三"),
                ("id_number", "110101199003070012"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = client
        .post(demo.url("/my-data/login"))
        .form(&[
            ("name", "张三"),
            ("id_number", "110101199003070011"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}

use crate::cli::{run_ok, shuniu};

/// Every logged entry's purpose, read straight from the segment files (no recovery).
async fn logged_purposes(data: &std::path::Path) -> std::collections::HashSet<String> {
    let storage = shuniu_audit::SegmentStorage::open(&data.join("audit/log")).unwrap();
    let mut scan = shuniu_audit::LogStorage::scan(&storage);
    let mut out = std::collections::HashSet::new();
    while let Some(chunk) = scan.recv().await {
        for r in chunk.unwrap() {
            if r.kind == shuniu_audit::storage::RecordKind::Entry
                && let Ok(e) = serde_json::from_slice::<shuniu_audit::Entry>(&r.payload)
                && let Some(p) = e.purpose
            {
                out.insert(p);
            }
        }
    }
    out
}

/// kill -9 of a real server under audited load: every request that returned 200 is in the
/// log after restart, and the whole log verifies.
#[tokio::test]
async fn kill_dash_nine_under_audited_load_loses_no_acknowledged_entry() {
    if std::env::var("SHUNIU_TEST_DATABASE_URL").is_ok() {
        // The binary's log lives in segment files here; PostgreSQL commits are atomic.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let out = run_ok(shuniu().args(["init", "--data-dir"]).arg(&data));
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("API key (shown once): "))
        .unwrap()
        .trim()
        .to_string();
    let mut res = resource("户籍人口基本信息");
    res["provider"] = "370200DSJ".into();
    std::fs::write(dir.path().join("r.json"), res.to_string()).unwrap();
    let code = run_ok(
        shuniu()
            .args(["catalog", "register", "--publish", "--data-dir"])
            .arg(&data)
            .arg(dir.path().join("r.json")),
    )
    .trim()
    .to_string();
    std::fs::write(dir.path().join("p.csv"), CSV).unwrap();
    run_ok(
        shuniu()
            .args(["load", "--data-dir"])
            .arg(&data)
            .args(["--resource", &code])
            .arg(dir.path().join("p.csv")),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = shuniu()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ok = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..16 {
        let (client, base, key, code, ok) = (
            client.clone(),
            base.clone(),
            key.clone(),
            code.clone(),
            ok.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let purpose = format!("k9-{w}-{i}");
                let r = client
                    .get(format!(
                        "{base}/api/v1/datasets/{code}/preview?limit=1&purpose={purpose}"
                    ))
                    .bearer_auth(&key)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::OK => ok.lock().unwrap().push(purpose),
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // SIGKILL: no shutdown, no flush.
    server.kill().unwrap();
    server.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acknowledged = ok.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {}",
        acknowledged.len()
    );
    // Restart (recovery runs when the log is opened), then verify the whole log.
    run_ok(shuniu().args(["audit", "sign", "--data-dir"]).arg(&data));
    let out = run_ok(shuniu().args(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(out.contains("verifies"), "{out}");
    let logged = logged_purposes(&data).await;
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|p| !logged.contains(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not logged: {missing:?}"
    );
}

/// `shuniu audit verify` names the first bad entry and exits non-zero (the stable interface).
#[tokio::test]
async fn audit_verify_cli_exits_non_zero_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    run_ok(shuniu().args(["init", "--data-dir"]).arg(&data));
    let out = run_ok(shuniu().args(["audit", "verify", "--data-dir"]).arg(&data));
    assert!(out.contains("verifies"), "{out}");
    // Change one byte inside the second entry's JSON.
    let seg = data.join("audit/log").join(format!("{:020}.seg", 0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes
        .windows(9)
        .enumerate()
        .filter(|(_, w)| w == b"\"action\":")
        .nth(1)
        .unwrap()
        .0;
    bytes[at + 11] ^= 0x01;
    std::fs::write(&seg, bytes).unwrap();
    let out = shuniu()
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("entry 1"), "{err}");
    let out = shuniu()
        .args(["audit", "verify", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problem"]["entry"], 1);
}

/// Citizen sessions are kept in the control plane, as console sessions are, so that every
/// process of a deployment knows them; signing out ends them there.
#[tokio::test]
async fn citizen_sessions_live_in_the_control_plane() {
    let hub = Hub::start().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = citizen_csrf(&hub, &client).await;
    let r = client
        .post(hub.url("/my-data/login"))
        .form(&[
            ("name", "张三"),
            ("id_number", "110101199003070011"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let token = r
        .cookies()
        .find(|c| c.name() == "shuniu_citizen")
        .map(|c| c.value().to_string())
        .expect("a session cookie");
    let row = hub
        .store
        .citizen_session(&shuniu_auth::token_digest(&token))
        .await
        .unwrap()
        .expect("the session is in the store");
    assert_eq!(row.id_number, "110101199003070011");
    assert!(row.via.contains("simulated"), "{}", row.via);
    assert!(
        hub.store.citizen_session(&token).await.unwrap().is_none(),
        "only the token's digest is kept"
    );
    let html = client
        .get(hub.url("/my-data"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("simulated-session"),
        "the demo's sign-in says so"
    );
    let r = client
        .post(hub.url("/my-data/logout"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        hub.store
            .citizen_session(&shuniu_auth::token_digest(&token))
            .await
            .unwrap()
            .is_none(),
        "signing out ends the session in the store"
    );
}
