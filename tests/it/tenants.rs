//! Hostile tenants: application B (教育局's system, no grant) tries to reach what application A
//! (民政's system) was granted and holds — records, verification, A's comparison job and its
//! result, the change feed, A's subscription and its deliveries, extracts, SQL, previews,
//! quality samples, A's request and the audit entries of A's calls — through every path the
//! API offers. Every attempt is refused (403, or 404 where the policy hides that a thing
//! exists), no refusal carries A's data or A's identifiers, and the data-service attempts are
//! in the audit log under B's name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, json_of};
use crate::sharing::{V1, load, published, register_spec, request};

#[tokio::test]
async fn another_tenant_reaches_nothing_of_a_grant_it_does_not_hold() {
    let hub = Hub::start().await;
    let code = published(&hub, &register_spec("户籍人口基本信息", "有条件共享")).await;
    load(&hub, &code, V1).await;

    // A: 民政's system, granted by 公安.
    let (s, req) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&code, "mz"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let req_id = req["id"].as_str().unwrap().to_string();
    let (s, decided) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/requests/{req_id}/decision"),
            &json!({"approve": true, "reason": "同意"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    let grant_id = decided["grant_id"].as_str().unwrap().to_string();
    // A's own calls work, and leave things for B to go after.
    let (s, _) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/records/370202199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/services/{code}/comparisons")))
        .bearer_auth(&hub.mz_key)
        .header("content-type", "text/csv")
        .body("id_number\n370202199003070011\n")
        .send()
        .await
        .unwrap();
    let (s, job) = json_of(r).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let (s, sub) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/subscriptions"),
            &json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let (_, entries) = json_of(
        hub.get(
            &hub.operator_key,
            "/api/v1/audit/search?principal=app:mz&limit=5",
        )
        .await,
    )
    .await;
    let a_entry = entries[0]["idx"].as_u64().expect("A's calls are audited");

    // B: 教育局's system, a data officer's application without any grant.
    let (s, _) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/departments",
            &json!({"code": "370200JY", "name": "青岛市教育局", "short_name": "教育", "division": "370200"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/applications",
            &json!({"id": "jy-other", "name": "教育业务系统", "department": "370200JY", "role": "data_officer"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let b_key = b["key"].as_str().unwrap().to_string();

    let secrets = [
        "张三",
        "13812345678",
        "社会救助对象户籍核查",
        grant_id.as_str(),
        "\"mz\"",
        "app:mz",
    ];
    let mut attempts: Vec<(String, StatusCode, String)> = Vec::new();
    let mut try_get = async |path: String| {
        let r = hub.get(&b_key, &path).await;
        let s = r.status();
        attempts.push((path, s, r.text().await.unwrap_or_default()));
    };
    try_get(format!(
        "/api/v1/services/{code}/records/370202199003070011"
    ))
    .await;
    try_get(format!("/api/v1/services/{code}/changes")).await;
    try_get(format!("/api/v1/services/{code}/extract?format=csv")).await;
    try_get(format!("/api/v1/services/comparisons/{job_id}")).await;
    try_get(format!("/api/v1/services/comparisons/{job_id}/result")).await;
    try_get(format!(
        "/api/v1/services/subscriptions/{sub_id}/deliveries"
    ))
    .await;
    try_get(format!("/api/v1/datasets/{code}/preview?purpose=x")).await;
    try_get(format!("/api/v1/sharing/requests/{req_id}")).await;
    try_get(format!("/api/v1/audit/entries/{a_entry}")).await;
    let mut try_send = async |method: &str, path: String, body: Value| {
        let builder = match method {
            "DELETE" => hub.client.delete(hub.url(&path)),
            _ => hub.client.post(hub.url(&path)),
        };
        let r = builder
            .bearer_auth(&b_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        attempts.push((
            format!("{method} {path}"),
            s,
            r.text().await.unwrap_or_default(),
        ));
    };
    try_send(
        "POST",
        format!("/api/v1/services/{code}/verify"),
        json!({"key": "370202199003070011", "claims": {"name": "张三"}}),
    )
    .await;
    try_send(
        "DELETE",
        format!("/api/v1/services/subscriptions/{sub_id}"),
        json!({}),
    )
    .await;
    try_send(
        "POST",
        format!("/api/v1/sharing/grants/{grant_id}/revoke"),
        json!({"reason": "x"}),
    )
    .await;
    try_send(
        "POST",
        "/api/v1/sql".into(),
        json!({"sql": format!("SELECT * FROM \"{code}\"")}),
    )
    .await;
    try_send(
        "POST",
        format!("/api/v1/services/{code}/subscriptions"),
        json!({"url": "http://127.0.0.1:9/steal"}),
    )
    .await;
    // A subscription of B's own on A's grant is refused too: B names a grant it does not hold.
    for (what, status, body) in &attempts {
        assert!(
            status == &StatusCode::FORBIDDEN || status == &StatusCode::NOT_FOUND,
            "{what}: {status} {body}"
        );
        for secret in secrets {
            assert!(!body.contains(secret), "{what} leaks {secret}: {body}");
        }
    }
    // A published resource's quality report is the city's to see, but its failing rows are
    // the provider's: B gets the scores without samples.
    let (s, q) = json_of(
        hub.get(
            &b_key,
            &format!("/api/v1/quality/resources/{code}?samples=true"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["samples_included"], false, "{q}");
    for secret in secrets {
        assert!(
            !q.to_string().contains(secret),
            "the quality report leaks {secret}"
        );
    }
    // A's things are untouched: the subscription and the grant still stand.
    let (_, subs) = json_of(hub.get(&hub.mz_key, "/api/v1/services/subscriptions").await).await;
    assert!(
        subs.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sub_id.as_str() && s["active"] == true),
        "{subs}"
    );
    // The data-service attempts are in the audit log, under B's name, refused.
    let (_, b_entries) = json_of(
        hub.get(
            &hub.operator_key,
            "/api/v1/audit/search?principal=app:jy-other&limit=100",
        )
        .await,
    )
    .await;
    let refused = b_entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] != "ok")
        .count();
    assert!(
        refused >= 4,
        "lookup, changes, extract and verify attempts are audited as refused: {b_entries}"
    );
}
