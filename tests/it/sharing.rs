//! Sharing and the unified data service through the HTTP API: requests routed by share
//! attribute, the provider's decision, grants that shape every egress path (lookup, verify,
//! feed, comparison, extract, webhooks) with masking and row scope, limits answered 429, and
//! revocation taking effect at once; demands and the satisfaction rate; the calendar.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, error_code, json_of, resource};

pub(crate) fn register_spec(name: &str, share: &str) -> Value {
    let mut r = resource(name);
    r["share_type"] = json!(share);
    if share == "不予共享" {
        r["legal_basis"] = json!("《中华人民共和国保守国家秘密法》第二十八条");
    }
    r["data_items"] = json!([
        {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18, "is_key": true, "personal": true, "semantic_type": "身份证号"},
        {"name": "name", "label": "姓名", "data_type": "字符型", "length": 50, "personal": true, "semantic_type": "姓名"},
        {"name": "mobile", "label": "手机号码", "data_type": "字符型", "length": 11, "personal": true, "semantic_type": "手机号"},
        {"name": "district", "label": "行政区划", "data_type": "字符型", "length": 6, "semantic_type": "行政区划代码"},
        {"name": "address", "label": "住址", "data_type": "字符型", "length": 200, "personal": true, "semantic_type": "地址"}
    ]);
    r
}

pub(crate) const V1: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370203197001010039,王五,13812345670,370203,市北区延安路3号\n\
370202198505120029,钱七,13712345678,370202,市南区东海路6号\n\
370202199003070054,孙八,13612345678,370202,市南区湛山路7号\n";

// 钱七 moves within 市南区, 孙八 leaves the register, 周九 arrives.
const V2: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370203197001010039,王五,13812345670,370203,市北区延安路3号\n\
370202198505120029,钱七,13712345678,370202,市南区宁夏路9号\n\
370202200001010017,周九,13512345678,370202,市南区南京路8号\n";

pub(crate) async fn load(hub: &Hub, code: &str, csv: &str) {
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=x.csv&wait=true"
        )))
        .bearer_auth(&hub.ga_key)
        .body(csv.as_bytes().to_vec())
        .send()
        .await
        .expect("upload");
    let (s, l) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["status"], "succeeded", "{l}");
    hub.sharing.sync_index(code).await.expect("index");
}

pub(crate) async fn published(hub: &Hub, spec: &Value) -> String {
    let code = hub.register(&hub.ga_key, spec).await;
    hub.publish(&hub.ga_key, &code).await;
    code
}

pub(crate) fn request(code: &str, app: &str) -> Value {
    json!({
        "resource_code": code,
        "application_id": app,
        "fields": ["id_number", "name", "district", "address"],
        "purpose": "社会救助对象户籍核查",
        "scenario": "低保申请受理时核对户籍",
        "legal_basis": "《社会救助暂行办法》第十一条",
        "duration_days": 180,
        "services": ["lookup", "verify", "subscribe", "compare", "extract"],
        "row_scope": "district = 370202",
        "rate_per_second": 20,
        "calls_per_day": 1000
    })
}

#[tokio::test]
async fn a_request_becomes_a_grant_that_shapes_every_egress_path() {
    let hub = Hub::start().await;
    let code = published(&hub, &register_spec("户籍人口基本信息", "有条件共享")).await;
    load(&hub, &code, V1).await;
    let record = |key: &str| format!("/api/v1/services/{code}/records/{key}");

    // No grant yet: refused, and the refusal says why.
    let (s, b) = json_of(hub.get(&hub.mz_key, &record("370202199003070011")).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(error_code(&b), "NO_GRANT");
    assert!(
        b["error"]["message_zh"]
            .as_str()
            .unwrap()
            .contains("共享申请")
    );
    // No key: 401.
    let r = hub
        .client
        .get(hub.url(&record("370202199003070011")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A request missing its purpose and legal basis is refused with every problem named.
    let mut bad = request(&code, "mz");
    bad["purpose"] = json!("");
    bad["legal_basis"] = json!("");
    let (s, b) = json_of(
        hub.post(&hub.mz_key, "/api/v1/sharing/requests", &bad)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["message_zh"].as_str().unwrap().contains("依据"),
        "{b}"
    );
    // A row scope on an unknown column is refused when filed.
    let mut bad = request(&code, "mz");
    bad["row_scope"] = json!("street = 1");
    let (s, b) = json_of(
        hub.post(&hub.mz_key, "/api/v1/sharing/requests", &bad)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(error_code(&b), "GRANT_FIELD_UNKNOWN");
    // The provider does not request its own data.
    let (s, b) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/sharing/requests",
            &request(&code, "ga"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(error_code(&b), "OWN_RESOURCE");

    // Conditional sharing: the request waits for the provider, with a deadline.
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
    assert_eq!(req["state"], "pending");
    assert!(req["due_at"].as_str().is_some());
    let id = req["id"].as_str().unwrap().to_string();
    // The consumer cannot approve its own request; the provider sees it in its inbox.
    let decision = format!("/api/v1/sharing/requests/{id}/decision");
    let (s, b) = json_of(
        hub.post(&hub.mz_key, &decision, &json!({"approve": true}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (_, inbox) = json_of(hub.get(&hub.ga_key, "/api/v1/sharing/inbox").await).await;
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str()),
        "{inbox}"
    );
    // A refusal needs a reason.
    let (s, b) = json_of(
        hub.post(&hub.ga_key, &decision, &json!({"approve": false}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(error_code(&b), "REASON_REQUIRED");
    let (s, decided) = json_of(
        hub.post(
            &hub.ga_key,
            &decision,
            &json!({"approve": true, "reason": "同意，最小必要"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "granted");
    let grant_id = decided["grant_id"].as_str().unwrap().to_string();
    let actions: Vec<&str> = decided["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["filed", "approved"]);
    // Deciding twice is a conflict.
    let (s, _) = json_of(
        hub.post(&hub.ga_key, &decision, &json!({"approve": true}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Lookup: granted fields only, masked by the items' rules.
    let (s, b) = json_of(hub.get(&hub.mz_key, &record("370202199003070011")).await).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rec = &b["records"][0];
    assert_eq!(rec["id_number"], "370202********0011");
    assert_eq!(rec["name"], "张*");
    assert_eq!(rec["address"], "市南区****");
    assert_eq!(rec["district"], "370202");
    assert!(rec.get("mobile").is_none(), "mobile was not granted: {b}");
    assert_eq!(b["grant"], grant_id.as_str());
    // Outside the row scope is answered exactly as absent; so is an unknown key.
    for key in ["370203197001010039", "370202199901010000"] {
        let (s, b) = json_of(hub.get(&hub.mz_key, &record(key)).await).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{key}: {b}");
    }
    // Another application of the same department holds no grant.
    let (s, b) = json_of(
        hub.get(&hub.viewer_key, &record("370202199003070011"))
            .await,
    )
    .await;
    assert_eq!((s, error_code(&b)), (StatusCode::FORBIDDEN, "NO_GRANT"));
    // The provider's own system reads its own data in the clear.
    let (s, b) = json_of(hub.get(&hub.ga_key, &record("370203197001010039")).await).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["records"][0]["mobile"], "13812345670");

    // Verify: match / no_match per field, never the values; ungranted fields refused.
    let verify = format!("/api/v1/services/{code}/verify");
    let (s, v) = json_of(
        hub.post(
            &hub.mz_key,
            &verify,
            &json!({"key": "370202199003070011", "claims": {"name": "张三", "district": "370203"}}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["found"], true);
    assert_eq!(v["results"]["name"], "match");
    assert_eq!(v["results"]["district"], "no_match");
    assert_eq!(v["all_match"], false);
    assert!(
        !v.to_string().contains("张三"),
        "values never come back: {v}"
    );
    let (s, v) = json_of(
        hub.post(
            &hub.mz_key,
            &verify,
            &json!({"key": "370202199003070011", "claims": {"mobile": "13812345678"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, "FIELD_NOT_GRANTED")
    );

    // Extract: the granted columns of the rows in scope, masked.
    let r = hub
        .get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/extract?format=csv"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "id_number,name,district,address");
    assert_eq!(lines.len(), 4, "three rows in 市南区: {csv}");
    assert!(
        !csv.contains("王五") && !csv.contains("王*"),
        "370203 is out of scope"
    );
    assert!(csv.contains("370202********0011"));
    let r = hub
        .get(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/extract?format=parquet"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"PAR1");

    // The change feed: version 0's rows, then version 1's changes.
    let changes = format!("/api/v1/services/{code}/changes");
    let (s, feed) = json_of(hub.get(&hub.mz_key, &changes).await).await;
    assert_eq!(s, StatusCode::OK, "{feed}");
    assert_eq!(feed["changes"].as_array().unwrap().len(), 3, "{feed}");
    let cursor = feed["next_cursor"].as_str().unwrap().to_string();
    load(&hub, &code, V2).await;
    let (_, feed) = json_of(
        hub.get(&hub.mz_key, &format!("{changes}?cursor={cursor}"))
            .await,
    )
    .await;
    let ops: Vec<(String, String)> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap().into(),
                c["record"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            ("updated".into(), "钱*".into()),
            ("inserted".into(), "周*".into()),
            ("deleted".into(), "孙*".into())
        ],
        "{feed}"
    );
    let (s, b) = json_of(
        hub.get(&hub.mz_key, &format!("{changes}?cursor=banana"))
            .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "CURSOR_INVALID")
    );

    // Batch comparison: a job over uploaded keys, with progress and a downloadable result.
    let keys = "id_number\n370202199003070011\n370203197001010039\n370202199901010000\n370202200001010017\n";
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/services/{code}/comparisons")))
        .bearer_auth(&hub.mz_key)
        .header("content-type", "text/csv")
        .body(keys)
        .send()
        .await
        .unwrap();
    let (s, job) = json_of(r).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    let mut finished = Value::Null;
    for _ in 0..100 {
        let (_, j) = json_of(
            hub.get(
                &hub.mz_key,
                &format!("/api/v1/services/comparisons/{job_id}"),
            )
            .await,
        )
        .await;
        if j["state"] == "finished" {
            finished = j;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["keys_total"], 4, "{finished}");
    assert_eq!(finished["found"], 2, "in scope and present: {finished}");
    let result = hub
        .get(
            &hub.mz_key,
            &format!("/api/v1/services/comparisons/{job_id}/result"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        result.starts_with("key,found,id_number,name,district,address"),
        "{result}"
    );
    assert!(
        result.contains("370202200001010017,1,370202********0017,周*"),
        "{result}"
    );
    assert!(
        result.contains("370203197001010039,0,,"),
        "out of scope is not found: {result}"
    );
    // Another application cannot see the job.
    let r = hub
        .get(
            &hub.viewer_key,
            &format!("/api/v1/services/comparisons/{job_id}"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The rate limit answers 429 with Retry-After.
    let mut limited = None;
    for _ in 0..100 {
        let r = hub.get(&hub.mz_key, &record("370202199003070011")).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("20 calls per second is exceeded by 100 quick calls");
    assert!(r.headers().get("retry-after").is_some());
    let (_, b) = json_of(r).await;
    assert_eq!(error_code(&b), "RATE_LIMITED");

    // Usage is counted per grant.
    hub.sharing.flush_usage().await.unwrap();
    let (_, grants) = json_of(hub.get(&hub.ga_key, "/api/v1/sharing/grants").await).await;
    let g = grants
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == grant_id.as_str())
        .expect("the provider sees the grant");
    assert!(g["calls_today"].as_u64().unwrap() >= 5, "{g}");
    assert!(g["refused_today"].as_u64().unwrap() >= 1, "{g}");

    // Every service call is audited with its purpose and grant.
    let mut audited = Vec::new();
    for _ in 0..100 {
        let (_, v) = json_of(
            hub.get(
                &hub.operator_key,
                &format!("/api/v1/audit/search?resource={code}&action=service.lookup"),
            )
            .await,
        )
        .await;
        audited = v.as_array().cloned().unwrap_or_default();
        if audited.iter().any(|e| e["result"] == "ok") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        audited
            .iter()
            .any(|e| e["result"] == "ok" && e["purpose"] == "社会救助对象户籍核查"),
        "{audited:?}"
    );
    assert!(audited.iter().any(|e| e["result"] == "NO_GRANT"));

    // Revocation takes effect before the call returns.
    let (s, b) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/grants/{grant_id}/revoke"),
            &json!({"reason": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "REASON_REQUIRED")
    );
    let (s, b) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/sharing/grants/{grant_id}/revoke"),
            &json!({"reason": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the consumer cannot revoke: {b}");
    let (s, b) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/grants/{grant_id}/revoke"),
            &json!({"reason": "用途已结束"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = json_of(hub.get(&hub.mz_key, &record("370202199003070011")).await).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::FORBIDDEN, "GRANT_REVOKED"),
        "{b}"
    );
}

#[tokio::test]
async fn share_attributes_route_requests_and_overdue_ones_escalate() {
    let hub = Hub::start().await;
    // Unconditional: granted at once after the compliance check.
    let open = published(&hub, &register_spec("法人基本信息", "无条件共享")).await;
    let (s, r) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&open, "mz"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["state"], "granted");
    let actions: Vec<&str> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["filed", "compliance_passed", "granted"]);
    // Not shared: refused at once, citing the negative-list entry's legal basis.
    let closed = published(&hub, &register_spec("涉密人员信息", "不予共享")).await;
    let (s, r) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&closed, "mz"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["state"], "refused");
    assert!(
        r["reason"].as_str().unwrap().contains("保守国家秘密法"),
        "{r}"
    );
    // Even the provider's grant could not open it: the service says so.
    let (s, b) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/{closed}/records/370202199003070011"),
        )
        .await,
    )
    .await;
    assert_eq!((s, error_code(&b)), (StatusCode::FORBIDDEN, "NOT_SHARED"));

    // Conditional, past its deadline: escalated to the hub; the provider may no longer decide.
    let cond = published(&hub, &register_spec("户籍人口基本信息", "有条件共享")).await;
    let (_, r) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&cond, "mz"),
        )
        .await,
    )
    .await;
    let id = r["id"].as_str().unwrap().to_string();
    let mut tx = hub.store.begin().await.unwrap();
    tx.set_request_due(&id, "2020-01-01T00:00:00.000Z")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let decision = format!("/api/v1/sharing/requests/{id}/decision");
    let (s, b) = json_of(
        hub.post(&hub.ga_key, &decision, &json!({"approve": true}))
            .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::FORBIDDEN, "ESCALATED"),
        "{b}"
    );
    let (_, v) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/sharing/requests/{id}"))
            .await,
    )
    .await;
    assert_eq!(v["state"], "escalated");
    assert_eq!(v["overdue"], true);
    let (_, stats) = json_of(hub.get(&hub.mz_key, "/api/v1/sharing/stats").await).await;
    assert_eq!(stats["requests_overdue"], 1, "{stats}");
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            &decision,
            &json!({"approve": false, "reason": "用途超出职责范围"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["state"], "refused");

    // Demands: routed by resource, answered, and the satisfaction rate follows.
    let (s, d) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/demands",
            &json!({"title": "需要户籍信息", "description": "低保审核", "resource_code": cond}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["routed_to"], "370200GA");
    let did = d["id"].as_str().unwrap().to_string();
    let (s, _) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/sharing/demands/{did}/answer"),
            &json!({"satisfied": true, "answer": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only the routed department answers"
    );
    let (s, _) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/demands/{did}/answer"),
            &json!({"satisfied": true, "answer": "已通过目录资源提供", "resource_code": cond}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d2) = json_of(
        hub.post(&hub.operator_key, "/api/v1/sharing/demands", &json!({"department": "370200MZ", "title": "需要婚姻登记数据", "description": "核对婚姻状况"}))
            .await,
    )
    .await;
    let did2 = d2["id"].as_str().unwrap().to_string();
    assert_eq!(d2["state"], "open");
    let (s, _) = json_of(
        hub.post(
            &hub.operator_key,
            &format!("/api/v1/sharing/demands/{did2}/route"),
            &json!({"department": "370200GA"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // "Satisfied" names the entry that satisfies it: without one the answer is refused and
    // the demand still waits.
    let (s, body) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/demands/{did2}/answer"),
            &json!({"satisfied": true, "answer": "已提供"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "ANSWER_RESOURCE_REQUIRED", "{body}");
    json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/demands/{did2}/answer"),
            &json!({"satisfied": false, "answer": "本部门无此数据"}),
        )
        .await,
    )
    .await;
    let (_, stats) = json_of(hub.get(&hub.mz_key, "/api/v1/sharing/stats").await).await;
    assert_eq!(stats["demands_answered"], 2, "{stats}");
    assert_eq!(stats["satisfaction_rate"], 50.0, "{stats}");

    // The working-day calendar ships the State Council's schedule; only the hub edits it.
    let (_, days) = json_of(
        hub.get(&hub.mz_key, "/api/v1/sharing/calendar?year=2026")
            .await,
    )
    .await;
    assert!(
        days.as_array()
            .unwrap()
            .iter()
            .any(|d| d["day"] == "2026-02-14" && d["kind"] == "workday")
    );
    let day = json!({"day": "2026-12-31", "kind": "holiday", "note": "测试"});
    let r = hub.put(&hub.ga_key, "/api/v1/sharing/calendar", &day).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = hub
        .put(&hub.operator_key, "/api/v1/sharing/calendar", &day)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, days) = json_of(
        hub.get(&hub.mz_key, "/api/v1/sharing/calendar?year=2026")
            .await,
    )
    .await;
    assert!(
        days.as_array()
            .unwrap()
            .iter()
            .any(|d| d["day"] == "2026-12-31")
    );
}

#[tokio::test]
async fn webhooks_deliver_signed_changes_and_stop_when_revoked() {
    use std::sync::{Arc, Mutex};
    let hub = Hub::start().await;
    let code = published(&hub, &register_spec("死亡火化信息", "有条件共享")).await;
    load(&hub, &code, V1).await;
    let (_, r) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &request(&code, "mz"),
        )
        .await,
    )
    .await;
    let id = r["id"].as_str().unwrap().to_string();
    let (_, r) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/requests/{id}/decision"),
            &json!({"approve": true, "reason": "同意", "masking": {"id_number": "none"}}),
        )
        .await,
    )
    .await;
    let grant_id = r["grant_id"].as_str().unwrap().to_string();

    // A receiver that records what arrives.
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, b: bytes::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((h, b));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The hub's own network is out of reach (cloud metadata, loopback) until the operator
    // allow-lists a host.
    for url in [
        format!("http://{addr}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://localhost/hook".to_string(),
    ] {
        let (s, b) = json_of(
            hub.post(
                &hub.mz_key,
                &format!("/api/v1/services/{code}/subscriptions"),
                &json!({ "url": url }),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, error_code(&b)),
            (StatusCode::UNPROCESSABLE_ENTITY, "WEBHOOK_URL_FORBIDDEN"),
            "{url}: {b}"
        );
    }
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let (s, sub) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/subscriptions"),
            &json!({"url": format!("http://{addr}/hook")}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let secret = sub["secret"].as_str().unwrap().to_string();
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let (s, _) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/services/{code}/subscriptions"),
            &json!({"url": "ftp://x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Nothing new yet; then a new version arrives and is delivered, signed.
    hub.sharing.run_webhooks().await.unwrap();
    assert!(got.lock().unwrap().is_empty());
    load(&hub, &code, V2).await;
    // Two rounds at once (as the server's own worker and a second hub process would run them):
    // the changes are queued once and sent once.
    let (a, b) = tokio::join!(hub.sharing.run_webhooks(), hub.sharing.run_webhooks());
    a.unwrap();
    b.unwrap();
    let (_, all) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/subscriptions/{sub_id}/deliveries"),
        )
        .await,
    )
    .await;
    let (headers, body) =
        got.lock().unwrap().first().cloned().unwrap_or_else(|| {
            panic!("a delivery: {all} {sub} {:?}", hub.sharing.feed_head(&code))
        });
    let ts = headers["x-shuniu-timestamp"].to_str().unwrap();
    assert_eq!(
        headers["x-shuniu-signature"].to_str().unwrap(),
        shuniu_sharing::webhooks::sign(&secret, ts, &body),
        "the signature verifies with the subscription's secret"
    );
    let payload: Value = serde_json::from_slice(&body).unwrap();
    let ops: Vec<&str> = payload["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, vec!["updated", "inserted", "deleted"], "{payload}");
    assert_eq!(
        payload["changes"][2]["key"], "370202199003070054",
        "the key in the clear, as granted"
    );
    let (_, list) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/subscriptions/{sub_id}/deliveries?state=delivered"),
        )
        .await,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(got.lock().unwrap().len(), 1, "sent once");

    // Revoked: the next delivery goes to the dead-letter list instead of the consumer.
    json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/grants/{grant_id}/revoke"),
            &json!({"reason": "停止"}),
        )
        .await,
    )
    .await;
    load(&hub, &code, V1).await;
    hub.sharing.run_webhooks().await.unwrap();
    assert_eq!(got.lock().unwrap().len(), 1, "nothing more was sent");
    let (_, dead) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/services/subscriptions/{sub_id}/deliveries?state=dead"),
        )
        .await,
    )
    .await;
    assert_eq!(dead[0]["last_error"], "GRANT_REVOKED", "{dead}");
}
