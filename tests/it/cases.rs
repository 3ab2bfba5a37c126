//! Integrated services (一件事一次办) through the API and the engine: a service defined and
//! round-tripped through BPMN, an application checked whole, its steps handled by each
//! department in order (a condition skipping one, a correction asked for and made, an
//! automatic step filed exactly once), a refusal undoing the done steps, a failing push
//! becoming an incident an operator resolves, deadlines flagged, and a death registration
//! opening its cases with nobody applying — each person once.

use std::collections::BTreeMap;

use serde_json::json;
use shuniu_cases::{CaseSubject, Decision};

use crate::harness::{Hub, error_code, json_of};

fn person(day: &str, seq: u16) -> shuniu_types::IdNumber {
    shuniu_types::IdNumber::compose(
        "370202".parse().expect("division"),
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day"),
        seq,
    )
    .expect("id")
}

fn service() -> serde_json::Value {
    json!({
        "code": "SVC-TEST", "name": "测试一件事", "deadline_days": 10,
        "trigger": {"kind": "application", "applicant": "person"},
        "fields": [
            {"name": "child_name", "label": "新生儿姓名", "required": true},
            {"name": "insured", "label": "是否参加医保", "choices": ["是", "否"]}
        ],
        "materials": [
            {"code": "birth_cert", "name": "出生医学证明", "by": "lookup", "resource": "出生医学证明信息"},
            {"code": "photo", "name": "照片", "by": "upload"}
        ],
        "steps": [
            {"id": "hukou", "name": "户口登记", "department": "370200GA", "deadline_days": 3},
            {"id": "insurance", "name": "医保参保", "department": "370200MZ", "deadline_days": 3,
             "after": ["hukou"], "when": "insured = '是'"},
            {"id": "archive", "name": "电子归档", "department": "370200GA", "deadline_days": 1,
             "after": ["hukou"], "automatic": "record", "compensation": "record"},
            {"id": "card", "name": "社保卡", "department": "370200GA", "deadline_days": 5,
             "after": ["insurance", "archive"]}
        ],
        "before": {"materials": 9, "visits": 4, "days": 30, "steps": 4}
    })
}

/// A one-pixel PNG, as a phone uploads a photo.
pub(crate) const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The photo uploaded for a case of SVC-TEST: its reference for the form.
async fn photo(cases: &shuniu_cases::Cases) -> String {
    cases
        .upload("SVC-TEST", "photo", "照片.png", PNG)
        .await
        .expect("upload")
        .text()
}

fn form(insured: &str, photo: &str) -> BTreeMap<String, String> {
    [
        ("child_name", "王小明"),
        ("insured", insured),
        ("material:photo", photo),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn step_state(hub: &Hub, id: &str, step: &str) -> String {
    let (_, c) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/cases/{id}"))
            .await,
    )
    .await;
    c["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == step))
        .map(|s| s["state"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_service_runs_its_cases_through_every_department() {
    let hub = Hub::start().await;
    // The server's own worker runs jobs and follows events too: the test asserts states,
    // not who ran what.
    let cases = hub.engines.cases.clone();
    let put = |key: &str, body: serde_json::Value| {
        let hub = &hub;
        let key = key.to_string();
        async move {
            json_of(
                hub.put(&key, "/api/v1/cases/services/SVC-TEST", &body)
                    .await,
            )
            .await
        }
    };
    // Only the hub defines services; a definition is checked whole.
    let (s, _) = put(&hub.ga_key, service()).await;
    assert_eq!(s.as_u16(), 403);
    let mut bad = service();
    bad["steps"][1]["after"] = json!(["nowhere"]);
    bad["steps"][2]["automatic"] = json!("telepathy");
    let (s, e) = put(&hub.operator_key, bad).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    let fields: Vec<&str> = e["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["steps[1].after", "steps[2].automatic"], "{e}");
    let (s, v) = put(&hub.operator_key, service()).await;
    assert_eq!((s.as_u16(), v["version"].as_i64()), (200, Some(1)), "{v}");

    // BPMN out and back in: the same steps, a new version; what the hub does not run is
    // refused by name.
    let r = hub
        .get(&hub.operator_key, "/api/v1/cases/services/SVC-TEST/bpmn")
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let xml = r.text().await.expect("xml");
    assert!(
        xml.contains("bpmn:userTask") && xml.contains("bpmndi:BPMNShape"),
        "{xml}"
    );
    let r = hub
        .client
        .put(hub.url("/api/v1/cases/services/SVC-TEST/bpmn"))
        .bearer_auth(&hub.operator_key)
        .header("content-type", "application/xml")
        .body(xml.clone())
        .send()
        .await
        .expect("put");
    let (s, v) = json_of(r).await;
    assert_eq!((s.as_u16(), v["version"].as_i64()), (200, Some(2)), "{v}");
    let (_, def) = json_of(
        hub.get(&hub.operator_key, "/api/v1/cases/services/SVC-TEST")
            .await,
    )
    .await;
    let steps = |v: &serde_json::Value| -> Vec<shuniu_cases::Step> {
        let mut s: Vec<shuniu_cases::Step> =
            serde_json::from_value(v["steps"].clone()).expect("steps");
        for x in &mut s {
            x.after.sort();
        }
        s
    };
    assert_eq!(steps(&def), steps(&service()), "{def}");
    let r = hub
        .client
        .put(hub.url("/api/v1/cases/services/SVC-TEST/bpmn"))
        .bearer_auth(&hub.operator_key)
        .body(xml.replace("bpmn:userTask id=\"card\"", "bpmn:subProcess id=\"card\""))
        .send()
        .await
        .expect("put");
    let (s, e) = json_of(r).await;
    assert_eq!(
        (s.as_u16(), e["error"]["code"].as_str()),
        (422, Some("BPMN_INVALID")),
        "{e}"
    );

    // An application is checked whole: the required name, the choice, the upload, consent.
    let photo = photo(&cases).await;
    // A reference to a file the hub does not keep is no upload.
    let mut made_up = form("是", &photo);
    made_up.insert(
        "material:photo".into(),
        "upload:UPL00000000000000:9:image/png:x.png".into(),
    );
    let e = cases
        .apply(
            &CaseSubject::Person(person("1990-03-07", 11)),
            "SVC-TEST",
            made_up,
            true,
            "test",
        )
        .await
        .expect_err("refused");
    assert!(format!("{e:?}").contains("CASE_UPLOAD_UNKNOWN"), "{e:?}");
    let applicant = CaseSubject::Person(person("1990-03-07", 11));
    let mut wrong = form("也许", &photo);
    wrong.remove("child_name");
    wrong.remove("material:photo");
    let e = cases
        .apply(&applicant, "SVC-TEST", wrong, false, "test")
        .await
        .expect_err("refused");
    let shuniu_cases::CasesError::Fields(f) = e else {
        panic!("{e:?}")
    };
    let mut codes: Vec<&str> = f.iter().map(|f| f.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        ["CASE_CHOICE", "CASE_CONSENT", "CASE_MATERIAL", "REQUIRED"]
    );

    // Opened: the first step is in the GA's queue, not the MZ's.
    let case = cases
        .apply(&applicant, "SVC-TEST", form("是", &photo), true, "test")
        .await
        .expect("case");
    assert_eq!((case.state.as_str(), case.version), ("open", 2));
    // The consent to the lookup is the applicant's own act: in the audit log, for the service.
    crate::audit::search_until(&hub, &hub.operator_key, "action=case.consent", |rows| {
        rows.iter().any(|r| r["purpose"] == "测试一件事")
    })
    .await;
    let (_, q) = json_of(hub.get(&hub.ga_key, "/api/v1/cases/queue").await).await;
    assert!(
        q.as_array()
            .expect("queue")
            .iter()
            .any(|s| s["case_id"] == case.id.as_str() && s["step"] == "hukou"),
        "{q}"
    );
    let (_, q) = json_of(hub.get(&hub.mz_key, "/api/v1/cases/queue").await).await;
    assert_eq!(q.as_array().map(Vec::len), Some(0), "{q}");
    let decide = |key: &str, step: &str, decision: &str, note: &str| {
        let (hub, id) = (&hub, case.id.clone());
        let (key, step, body) = (
            key.to_string(),
            step.to_string(),
            json!({"decision": decision, "note": note}),
        );
        async move {
            json_of(
                hub.post(
                    &key,
                    &format!("/api/v1/cases/{id}/steps/{step}/decision"),
                    &body,
                )
                .await,
            )
            .await
        }
    };
    let (s, _) = decide(&hub.mz_key, "hukou", "approve", "").await;
    assert_eq!(
        s.as_u16(),
        403,
        "another department does not decide the GA's step"
    );
    let (s, c) = decide(&hub.ga_key, "hukou", "approve", "已落户").await;
    assert_eq!(s.as_u16(), 200, "{c}");
    let (s, _) = decide(&hub.ga_key, "hukou", "approve", "").await;
    assert_eq!(s.as_u16(), 409, "a step is decided once");
    // The automatic step runs through the outbox and is filed exactly once.
    cases.run_jobs().await.expect("jobs");
    cases.run_jobs().await.expect("jobs");
    assert_eq!(step_state(&hub, &case.id, "archive").await, "done");
    // The MZ asks for a correction, the applicant corrects, the MZ approves.
    let (s, e) = decide(&hub.mz_key, "insurance", "return", "").await;
    assert_eq!(
        (s.as_u16(), e["error"]["code"].as_str()),
        (422, Some("CASE_INVALID")),
        "{e}"
    );
    let (s, _) = decide(&hub.mz_key, "insurance", "return", "请补充监护人联系电话").await;
    assert_eq!(s.as_u16(), 200);
    assert_eq!(step_state(&hub, &case.id, "insurance").await, "returned");
    cases
        .resubmit(
            &applicant,
            &case.id,
            [("child_name".to_string(), "王小明".to_string())].into(),
        )
        .await
        .expect("resubmit");
    let (s, _) = decide(&hub.mz_key, "insurance", "approve", "").await;
    assert_eq!(s.as_u16(), 200);
    let (s, c) = decide(&hub.ga_key, "card", "approve", "").await;
    assert_eq!(
        (s.as_u16(), c["case"]["state"].as_str()),
        (200, Some("completed")),
        "{c}"
    );
    cases
        .rate(&applicant, &case.id, 5, "很方便")
        .await
        .expect("rate");
    assert!(
        cases.rate(&applicant, &case.id, 4, "").await.is_err(),
        "rated once"
    );

    // Not insured: the MZ's step is skipped and the case needs one decision less.
    let other = CaseSubject::Person(person("1991-05-05", 12));
    let second = cases
        .apply(&other, "SVC-TEST", form("否", &photo), true, "test")
        .await
        .expect("case");
    cases
        .decide(
            &hub_actor(&hub, "370200GA"),
            &second.id,
            "hukou",
            Decision::Approve {
                note: String::new(),
                holder: None,
            },
        )
        .await
        .expect("approve");
    cases.run_jobs().await.expect("jobs");
    assert_eq!(step_state(&hub, &second.id, "insurance").await, "skipped");
    assert_eq!(step_state(&hub, &second.id, "card").await, "ready");

    // A refusal after others were done undoes them (compensation through the outbox).
    let third = cases
        .apply(
            &CaseSubject::Person(person("1992-06-06", 13)),
            "SVC-TEST",
            form("是", &photo),
            true,
            "test",
        )
        .await
        .expect("case");
    let ga = hub_actor(&hub, "370200GA");
    cases
        .decide(
            &ga,
            &third.id,
            "hukou",
            Decision::Approve {
                note: String::new(),
                holder: None,
            },
        )
        .await
        .expect("approve");
    cases.run_jobs().await.expect("jobs");
    cases
        .decide(
            &hub_actor(&hub, "370200MZ"),
            &third.id,
            "insurance",
            Decision::Refuse {
                reason: "不符合参保条件".into(),
            },
        )
        .await
        .expect("refuse");
    cases.run_jobs().await.expect("compensation");
    assert_eq!(step_state(&hub, &third.id, "archive").await, "compensated");
    assert_eq!(step_state(&hub, &third.id, "card").await, "cancelled");
    let (effects, distinct) = hub.store.case_effect_counts().await.expect("effects");
    assert_eq!(effects, distinct, "no effect recorded twice");

    // The interface: the operator lists cases, by service; nobody else does.
    let (s, list) = json_of(
        hub.get(&hub.operator_key, "/api/v1/cases?service=SVC-TEST")
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200);
    let rows = list.as_array().expect("cases");
    assert_eq!(rows.len(), 3);
    for r in rows {
        for k in ["id", "service", "state", "opened_at"] {
            assert!(r[k].is_string(), "{k} in {r}");
        }
    }
    // A page is 1 to 1,000 cases from a non-negative offset, as the interface documents.
    for q in [
        "limit=0",
        "limit=1001",
        "offset=-1",
        "limit=9223372036854775807",
    ] {
        let (s, b) = json_of(
            hub.get(&hub.operator_key, &format!("/api/v1/cases?{q}"))
                .await,
        )
        .await;
        assert_eq!(
            (s.as_u16(), error_code(&b)),
            (400, "BAD_REQUEST"),
            "{q}: {b}"
        );
    }
    // …and the OpenAPI document says so, as query parameters (fuzzers read it).
    let (_, doc) = json_of(hub.get(&hub.operator_key, "/api/openapi.json").await).await;
    let params = doc["paths"]["/api/v1/cases"]["get"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let limit = params.iter().find(|p| p["name"] == "limit").expect("limit");
    assert_eq!(limit["in"], "query", "{limit}");
    assert_eq!(limit["schema"]["maximum"], 1000, "{limit}");
    let (s, one) = json_of(hub.get(&hub.operator_key, "/api/v1/cases?limit=1").await).await;
    assert_eq!((s.as_u16(), one.as_array().map(Vec::len)), (200, Some(1)));
    let states: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|r| r["state"].as_str()).collect();
    assert_eq!(states, ["completed", "open", "refused"].into());
    let (s, _) = json_of(hub.get(&hub.ga_key, "/api/v1/cases").await).await;
    assert_eq!(s.as_u16(), 403);
    // Statistics: materials and visits avoided, satisfaction.
    let (_, stats) = json_of(hub.get(&hub.ga_key, "/api/v1/cases/stats").await).await;
    let st = &stats[0];
    assert_eq!(
        (
            st["materials_avoided"].as_u64(),
            st["materials_left"].as_u64(),
            st["completed"].as_i64(),
            st["rating"].as_f64()
        ),
        (Some(8), Some(1), Some(1), Some(5.0)),
        "{stats}"
    );
    // The applicant's form is sealed at rest; the decision is on their record.
    let record = hub
        .engines
        .traceability
        .personal_record(&person("1990-03-07", 11))
        .await
        .expect("record");
    assert!(
        record.iter().any(|u| u.action == "case.decide"),
        "{record:?}"
    );

    // Deadlines: a month on, the second case's ready step is overdue, flagged once.
    let later = chrono::Utc::now() + chrono::Duration::days(40);
    assert!(cases.sweep_deadlines_at(later).await.expect("sweep") >= 1);
    assert_eq!(cases.sweep_deadlines_at(later).await.expect("sweep"), 0);
}

fn hub_actor(_hub: &Hub, department: &str) -> shuniu_types::Actor {
    shuniu_types::Actor {
        principal: format!("officer:{department}"),
        display_name: String::new(),
        role: shuniu_types::Role::DataOfficer,
        department: department.into(),
    }
}

/// A push the department's system keeps refusing becomes an incident; the operator retries
/// it once the system is back, and the case goes on.
#[tokio::test]
async fn a_failing_push_becomes_an_incident_the_operator_resolves() {
    let hub = Hub::start().await;
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (u, n) = (up.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/cases",
        axum::routing::post(move || {
            let (u, n) = (u.clone(), n.clone());
            async move {
                if u.load(std::sync::atomic::Ordering::SeqCst) {
                    n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let mut def = service();
    def["steps"][2]["automatic"] = json!(format!("push http://{addr}/cases"));
    let (s, v) = json_of(
        hub.put(&hub.operator_key, "/api/v1/cases/services/SVC-TEST", &def)
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let cases = hub.engines.cases.clone();
    let photo = photo(&cases).await;
    let applicant = CaseSubject::Person(person("1990-03-07", 11));
    let case = cases
        .apply(&applicant, "SVC-TEST", form("否", &photo), true, "test")
        .await
        .expect("case");
    cases
        .decide(
            &hub_actor(&hub, "370200GA"),
            &case.id,
            "hukou",
            Decision::Approve {
                note: String::new(),
                holder: None,
            },
        )
        .await
        .expect("approve");
    for _ in 0..shuniu_cases::engine::MAX_ATTEMPTS {
        cases.run_jobs().await.expect("jobs");
    }
    // (The server's worker may have taken some of the attempts: the count is the store's.)
    let (_, c) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/cases/{}", case.id))
            .await,
    )
    .await;
    assert_eq!(c["case"]["state"], "incident", "{c}");
    assert_eq!(step_state(&hub, &case.id, "archive").await, "failed");
    assert!(
        c["jobs"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{c}"
    );
    // Only the hub resolves; the system is back; retried, the case continues.
    let resolve = format!("/api/v1/cases/{}/resolve", case.id);
    let (s, _) = json_of(
        hub.post(&hub.ga_key, &resolve, &json!({"resolution": "retry"}))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 403);
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, c) = json_of(
        hub.post(&hub.operator_key, &resolve, &json!({"resolution": "retry"}))
            .await,
    )
    .await;
    assert_eq!(
        (s.as_u16(), c["case"]["state"].as_str()),
        (200, Some("open")),
        "{c}"
    );
    cases.run_jobs().await.expect("jobs");
    assert_eq!(step_state(&hub, &case.id, "archive").await, "done");
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "delivered once"
    );
    assert_eq!(step_state(&hub, &case.id, "card").await, "ready");
}

/// A death registration opens 公民身故 cases for the people it names, nobody applying: rows
/// registered before the service existed open none, each new one opens one, a row rewritten
/// by a later load opens no second.
#[tokio::test]
async fn a_death_registration_opens_cases_by_itself() {
    let hub = Hub::start().await;
    let spec = json!({
        "name": "死亡火化信息（测试）", "provider": "370200MZ", "category": "主题信息资源",
        "item_code": 1, "item_name": "人口", "subject_code": 1, "subject_name": "死亡人口",
        "summary": "测试", "format": "数据库", "share_type": "有条件共享", "share_conditions": "待遇停发",
        "open_type": "不予开放", "update_cycle": "每日", "level": "general_2",
        "data_items": [
            {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18,
             "is_key": true, "semantic_type": "身份证号"},
            {"name": "died_on", "label": "死亡日期", "data_type": "日期型"}
        ]
    });
    let code = hub.register(&hub.mz_key, &spec).await;
    hub.publish(&hub.mz_key, &code).await;
    let load = |mode: &str, rows: Vec<String>| {
        let (hub, code, mode) = (&hub, code.clone(), mode.to_string());
        async move {
            let r = hub
                .client
                .post(hub.url(&format!(
                    "/api/v1/datasets/{code}/loads?filename=d.csv&wait=true&mode={mode}"
                )))
                .bearer_auth(&hub.mz_key)
                .body(format!("id_number,died_on\n{}\n", rows.join("\n")))
                .send()
                .await
                .expect("load");
            let (_, v) = json_of(r).await;
            assert_eq!(v["status"], "succeeded", "{v}");
        }
    };
    let (old, a, b) = (
        person("1930-01-01", 11),
        person("1935-02-02", 12),
        person("1940-03-03", 13),
    );
    load("replace", vec![format!("{old},2024-01-05")]).await;
    let service = json!({
        "code": "SVC-SHENGU", "name": "公民身故一件事", "deadline_days": 10,
        "trigger": {"kind": "event", "resource": code, "key": "id_number"},
        "steps": [
            {"id": "hukou", "name": "户籍注销", "department": "370200GA", "deadline_days": 5},
            {"id": "pension", "name": "养老金停发", "department": "370200MZ", "deadline_days": 3}
        ]
    });
    let (s, v) = json_of(
        hub.put(
            &hub.operator_key,
            "/api/v1/cases/services/SVC-SHENGU",
            &service,
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let cases = &hub.engines.cases;
    // (The server follows commits too: the test counts cases, not who opened them.)
    cases.follow_events().await.expect("follow");
    let count = || async {
        let (_, list) = json_of(
            hub.get(&hub.operator_key, "/api/v1/cases?service=SVC-SHENGU")
                .await,
        )
        .await;
        list.as_array().map_or(0, Vec::len)
    };
    assert_eq!(count().await, 0, "past deaths open nothing");
    load(
        "append",
        vec![format!("{a},2026-12-01"), format!("{b},2026-12-02")],
    )
    .await;
    cases.follow_events().await.expect("follow");
    cases.follow_events().await.expect("follow");
    assert_eq!(count().await, 2);
    // A later load rewriting a's row does not open a second case for a.
    load("upsert", vec![format!("{a},2026-12-01")]).await;
    cases.follow_events().await.expect("follow");
    assert_eq!(count().await, 2);
    let (_, list) = json_of(
        hub.get(&hub.operator_key, "/api/v1/cases?service=SVC-SHENGU")
            .await,
    )
    .await;
    let rows = list.as_array().expect("cases");
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows.iter().all(|r| {
        r["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("event:"))
    }));
    // Both departments have their step waiting; the opening is on the person's record.
    let (_, q) = json_of(hub.get(&hub.mz_key, "/api/v1/cases/queue").await).await;
    assert_eq!(q.as_array().map(Vec::len), Some(2), "{q}");
    let record = hub
        .engines
        .traceability
        .personal_record(&a)
        .await
        .expect("record");
    assert!(record.iter().any(|u| u.action == "case.open"), "{record:?}");
}
