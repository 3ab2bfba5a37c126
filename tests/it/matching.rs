//! Policy matching over a base library in the lake: a policy in the rule language evaluated for
//! a month counts who qualifies and totals their amounts from one query over the library, uses
//! the parameters' values in force that month, refuses a policy that names what the library
//! does not hold, and records the evaluation as a use of personal data with the policy as its
//! purpose.

use serde_json::json;

use crate::harness::{Hub, json_of};

fn population() -> serde_json::Value {
    json!({
        "name": "人口基础信息库（测试）",
        "provider": "370200GA",
        "category": "基础信息资源",
        "item_code": 1, "item_name": "人口",
        "subject_code": 1, "subject_name": "户籍人口",
        "summary": "测试用人口库",
        "format": "数据库",
        "share_type": "有条件共享",
        "share_conditions": "用于政策匹配",
        "open_type": "不予开放",
        "update_cycle": "每日",
        "level": "general_2",
        "data_items": [
            {"name": "person_id", "label": "人员编号", "data_type": "字符型", "length": 20, "is_key": true},
            {"name": "birth_date", "label": "出生日期", "data_type": "日期型"},
            {"name": "division", "label": "行政区划代码", "data_type": "字符型", "length": 6, "semantic_type": "行政区划代码"}
        ]
    })
}

fn gaoling() -> shuniu_matching::PolicyInput {
    serde_json::from_value(json!({
        "code": "POL-GAOLING", "name": "高龄津贴", "department": "370200MZ",
        "document": "高龄津贴发放办法（测试）", "target": "persons",
        "effective_from": "2024-01-01", "unit": "元/月",
        "conditions": [
            {"rule": "年龄 ≥ 【高龄津贴起始年龄】", "reference": "第二条"},
            {"rule": "行政区划代码 属于 ('370202','370203')", "reference": "第三条"}
        ],
        "amount": {"table": {"rows": [{"when": "年龄 ≥ 100", "amount": "500"}], "otherwise": "100"}},
        "parameters": [{"name": "高龄津贴起始年龄", "unit": "岁", "values": [
            {"from": "2024-01-01", "value": 90, "reference": "旧办法 第二条"},
            {"from": "2024-07-01", "value": 80, "reference": "新办法 第二条"}
        ]}]
    }))
    .expect("policy")
}

#[tokio::test]
async fn a_policy_is_evaluated_over_the_population_library() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &population()).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "replace",
        "person_id,birth_date,division\n\
             P1,1945-02-01,370202\nP2,1944-06-15,370202\nP3,1920-01-01,370203\n\
             P4,1930-05-05,370211\nP5,1990-01-01,370202\n"
            .to_string(),
    )
    .await;
    bind_population(&hub, &code).await;

    let root = shuniu_types::Actor::local_operator();
    let m = &hub.engines.matching;
    let policy = gaoling();
    // January 2025: the threshold is 80. P1 is 79 (80 on 1 Feb), P2 is 80, P3 is 105, P4 lives
    // elsewhere, P5 is 35.
    let t = m
        .evaluate(&root, &policy, "2025-01")
        .await
        .expect("evaluate");
    assert_eq!((t.eligible, t.amount), (2, 600.0), "{t:?}");
    assert_eq!(t.library, code);
    assert!(t.library_version.is_some());
    // February: P1 turns 80.
    let t = m
        .evaluate(&root, &policy, "2025-02")
        .await
        .expect("evaluate");
    assert_eq!((t.eligible, t.amount), (3, 700.0), "{t:?}");
    // Before July 2024 the threshold was 90: P3 only.
    let t = m
        .evaluate(&root, &policy, "2024-06")
        .await
        .expect("evaluate");
    assert_eq!((t.eligible, t.amount), (1, 500.0), "{t:?}");
    // Before the policy: nobody, and nothing read.
    let t = m
        .evaluate(&root, &policy, "2023-12")
        .await
        .expect("evaluate");
    assert_eq!((t.eligible, t.library_version), (0, None));

    // A rule over what the library does not hold is refused, under its field.
    let mut bad = gaoling();
    bad.conditions[1].rule = "月收入 < 【低保标准】".into();
    let e = m
        .evaluate(&root, &bad, "2025-01")
        .await
        .expect_err("refused");
    assert_eq!(e.code(), "POLICY_INVALID");
    let p = shuniu_types::Classified::problem(&e);
    assert_eq!(
        (p.fields[0].field.as_str(), p.fields[0].code),
        ("conditions[1]", "RULE_UNKNOWN_ATTRIBUTE"),
        "{p:?}"
    );
    assert_eq!(
        m.evaluate(&root, &policy, "2025-13")
            .await
            .map_err(|e| e.code())
            .err(),
        Some("POLICY_INVALID")
    );
    // A department's viewer may not read the library for a policy.
    let viewer = shuniu_types::Actor {
        principal: "mz.viewer".into(),
        display_name: "mz.viewer".into(),
        role: shuniu_types::Role::Viewer,
        department: "370200MZ".into(),
    };
    assert_eq!(
        m.evaluate(&viewer, &policy, "2025-01")
            .await
            .map_err(|e| e.code())
            .err()
            .map(|c| c != "POLICY_INVALID"),
        Some(true)
    );

    // Each evaluation that read the library is an audit entry with the policy as purpose.
    let rows = crate::audit::search_until(&hub, &hub.operator_key, "action=policy.evaluate", |r| {
        r.len() >= 3
    })
    .await;
    assert!(
        rows.iter().all(|r| r["resource"] == code.as_str()
            && r["purpose"].as_str().unwrap_or("").contains("POL-GAOLING")),
        "{rows:?}"
    );
}

/// Through the API: a department saves a policy (refused with every problem under its field
/// when a rule cannot be used), submits it, the hub publishes it, the list shows it, and its
/// totals for a month come from the library.
#[tokio::test]
async fn a_policy_is_saved_reviewed_listed_and_totalled_through_the_api() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &population()).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "replace",
        "person_id,birth_date,division\nP1,1930-01-01,370202\nP2,1990-01-01,370202\n".to_string(),
    )
    .await;
    bind_population(&hub, &code).await;

    let mut body = serde_json::to_value(gaoling()).expect("json");
    body["department"] = json!("370200GA");
    let mut bad = body.clone();
    bad["conditions"][0]["rule"] = json!("年龄 ≥ '八十'");
    let (s, e) = json_of(hub.post(&hub.ga_key, "/api/v1/policies", &bad).await).await;
    assert_eq!(
        (s.as_u16(), e["error"]["code"].as_str()),
        (422, Some("POLICY_INVALID")),
        "{e}"
    );
    assert_eq!(e["error"]["fields"][0]["field"], "conditions[0]", "{e}");
    assert_eq!(e["error"]["fields"][0]["code"], "RULE_TYPE_MISMATCH", "{e}");
    // Another department may not issue the GA's policy.
    let (s, _) = json_of(hub.post(&hub.mz_key, "/api/v1/policies", &body).await).await;
    assert_eq!(s.as_u16(), 403);
    let (s, v) = json_of(hub.post(&hub.ga_key, "/api/v1/policies", &body).await).await;
    assert_eq!((s.as_u16(), v["version"].as_i64()), (200, Some(1)), "{v}");
    // Not published yet: no totals.
    let (s, _) = json_of(
        hub.get(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/totals?period=2025-01",
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 409);
    let (s, v) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/submit",
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    // Only the hub reviews.
    let (s, _) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/review",
            &json!({"publish": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 403);
    let (s, v) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/policies/POL-GAOLING/review",
            &json!({"publish": true, "comment": "同意"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s.as_u16(), v["state"].as_str()),
        (200, Some("published")),
        "{v}"
    );
    let (s, list) = json_of(hub.get(&hub.operator_key, "/api/v1/policies").await).await;
    assert_eq!(s.as_u16(), 200);
    assert_eq!(
        (
            list[0]["code"].as_str(),
            list[0]["name"].as_str(),
            list[0]["target"].as_str(),
            list[0]["version"].as_i64()
        ),
        (
            Some("POL-GAOLING"),
            Some("高龄津贴"),
            Some("persons"),
            Some(1)
        ),
        "{list}"
    );
    let (s, t) = json_of(
        hub.get(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/totals?period=2025-01",
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{t}");
    assert_eq!(
        (t["eligible"].as_u64(), t["amount"].as_f64()),
        (Some(1), Some(100.0)),
        "{t}"
    );
}

const BIRTHS: [&str; 3] = ["1930-01-01", "1940-06-15", "1990-03-01"];

fn id_born(day: &str, sequence: u16) -> String {
    shuniu_types::IdNumber::compose(
        "370202".parse().expect("division"),
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day"),
        sequence,
    )
    .expect("id")
    .to_string()
}

/// A population library keyed by real ID numbers, loaded, bound and with 高龄津贴 (for the GA)
/// published through the API. Returns the ID numbers of people born 1930-01-01, 1940-06-15 and
/// 1990-03-01, all in 370202.
async fn published_with_id_numbers(hub: &Hub) -> Vec<String> {
    published_with(hub, json!({})).await.1
}

/// [`published_with_id_numbers`], with `extra` fields set on the policy.
async fn published_with(hub: &Hub, extra: serde_json::Value) -> (String, Vec<String>) {
    let mut spec = population();
    spec["data_items"][0] = json!({"name": "person_id", "label": "公民身份号码", "data_type": "字符型",
        "length": 18, "is_key": true, "semantic_type": "身份证号", "masking": "id_number"});
    let code = hub.register(&hub.ga_key, &spec).await;
    hub.publish(&hub.ga_key, &code).await;
    let division: shuniu_types::DivisionCode = "370202".parse().expect("division");
    let ids: Vec<String> = BIRTHS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("day");
            shuniu_types::IdNumber::compose(division, day, 10 + i as u16)
                .expect("id")
                .to_string()
        })
        .collect();
    let mut csv = String::from("person_id,birth_date,division\n");
    for (id, b) in ids.iter().zip(BIRTHS) {
        csv.push_str(&format!("{id},{b},370202\n"));
    }
    load(hub, &code, "replace", csv).await;
    bind_population(hub, &code).await;
    let mut body = serde_json::to_value(gaoling()).expect("json");
    body["department"] = json!("370200GA");
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            body[k] = v.clone();
        }
    }
    for (path, b) in [
        ("/api/v1/policies", body),
        ("/api/v1/policies/POL-GAOLING/submit", json!({})),
    ] {
        let (s, v) = json_of(hub.post(&hub.ga_key, path, &b).await).await;
        assert_eq!(s.as_u16(), 200, "{path}: {v}");
    }
    let (s, v) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/policies/POL-GAOLING/review",
            &json!({"publish": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    (code, ids)
}

/// Why one person qualifies and another does not: each condition with whether it holds, the
/// value it read and the parameter in force with its legal reference; the same decision as the
/// whole-library evaluation; audited on the person's own record; only the issuing department
/// may ask, and only for a well-formed ID number. A sandbox run shows what a changed threshold
/// would do, beside the figures as written.
#[tokio::test]
async fn a_trace_explains_each_decision_and_a_sandbox_tries_a_parameter() {
    let hub = Hub::start().await;
    let ids = published_with_id_numbers(&hub).await;
    let trace = |id: &str| format!("/api/v1/policies/POL-GAOLING/trace?period=2025-01&key={id}");
    let (s, t) = json_of(hub.get(&hub.ga_key, &trace(&ids[1])).await).await;
    assert_eq!(s.as_u16(), 200, "{t}");
    assert_eq!(
        (
            t["eligible"].as_bool(),
            t["amount"].as_f64(),
            t["found"].as_bool()
        ),
        (Some(true), Some(100.0), Some(true)),
        "{t}"
    );
    let first = &t["conditions"][0];
    assert_eq!(first["holds"], true, "{t}");
    assert_eq!(first["reference"], "第二条");
    assert_eq!(
        (
            first["values"][0]["label"].as_str(),
            first["values"][0]["value"].as_str()
        ),
        (Some("年龄"), Some("84")),
        "{t}"
    );
    assert_eq!(
        (
            first["parameters"][0]["value"].as_str(),
            first["parameters"][0]["reference"].as_str(),
            first["parameters"][0]["from"].as_str()
        ),
        (Some("80"), Some("新办法 第二条"), Some("2024-07-01")),
        "{t}"
    );
    // The key is masked as the catalog says, even to the department asking.
    assert_eq!(
        t["key"],
        format!("{}********{}", &ids[1][..6], &ids[1][14..])
    );
    let (_, t) = json_of(hub.get(&hub.ga_key, &trace(&ids[2])).await).await;
    assert_eq!(
        (
            t["eligible"].as_bool(),
            t["conditions"][0]["holds"].as_bool(),
            t["conditions"][1]["holds"].as_bool()
        ),
        (Some(false), Some(false), Some(true)),
        "{t}"
    );
    assert_eq!(t["amount"], serde_json::Value::Null);
    // Someone the library does not hold, a malformed number, another department.
    let absent = shuniu_types::IdNumber::compose(
        "370202".parse().expect("division"),
        chrono::NaiveDate::from_ymd_opt(1935, 5, 5).expect("day"),
        99,
    )
    .expect("id");
    let (_, t) = json_of(hub.get(&hub.ga_key, &trace(absent.as_str())).await).await;
    assert_eq!(
        (t["found"].as_bool(), t["eligible"].as_bool()),
        (Some(false), Some(false)),
        "{t}"
    );
    let (s, e) = json_of(hub.get(&hub.ga_key, &trace("370202193001010011")).await).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["code"], "POLICY_SUBJECT", "{e}");
    let (s, _) = json_of(hub.get(&hub.mz_key, &trace(&ids[1])).await).await;
    assert_eq!(s.as_u16(), 403);
    // The decision equals the whole-library evaluation's.
    let (_, totals) = json_of(
        hub.get(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/totals?period=2025-01",
        )
        .await,
    )
    .await;
    assert_eq!(totals["eligible"], 2, "{totals}");
    // The monthly run over every policy at once (one pass over the library) says the same.
    let all = hub
        .engines
        .matching
        .evaluate_all(&shuniu_types::Actor::local_operator(), "2025-01")
        .await
        .expect("all");
    assert_eq!(
        all.iter()
            .map(|t| (t.policy.as_str(), t.eligible, t.amount))
            .collect::<Vec<_>>(),
        vec![("POL-GAOLING", 2, 200.0)]
    );
    // The trace is a use of the person's data: it shows on their record, with its purpose.
    let person: shuniu_types::IdNumber = ids[1].parse().expect("id");
    let uses = hub
        .engines
        .traceability
        .personal_record(&person)
        .await
        .expect("record");
    assert!(
        uses.iter().any(|u| u.action == "policy.trace"
            && u.purpose
                .as_deref()
                .is_some_and(|p| p.contains("POL-GAOLING"))),
        "{uses:?}"
    );
    // The person's own view: 高龄津贴 applies, with why.
    let mine = hub
        .engines
        .matching
        .for_person(&person, "2025-01")
        .await
        .expect("mine");
    assert_eq!((mine.len(), mine[0].eligible), (1, true));

    // Sandbox: with the threshold at 90 only the 95-year-old would qualify.
    let (s, sb) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/sandbox",
            &json!({"period": "2025-01", "parameters": {"高龄津贴起始年龄": 90}}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{sb}");
    assert_eq!(
        (
            sb["baseline"]["eligible"].as_u64(),
            sb["baseline"]["amount"].as_f64(),
            sb["changed"]["eligible"].as_u64(),
            sb["changed"]["amount"].as_f64()
        ),
        (Some(2), Some(200.0), Some(1), Some(100.0)),
        "{sb}"
    );
    let (s, e) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/sandbox",
            &json!({"period": "2025-01", "parameters": {"起始年龄": 90}}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_eq!(
        e["error"]["fields"][0]["code"], "RULE_UNKNOWN_PARAMETER",
        "{e}"
    );
    let (s, _) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/policies/POL-GAOLING/sandbox",
            &json!({"period": "2025-01", "parameters": {}}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 403);
}

/// The 2025-01 list once it has followed the library to its current version, refreshed as
/// `refreshed` says.
async fn followed(hub: &Hub, refreshed: &str) -> serde_json::Value {
    for _ in 0..100 {
        let (_, v) = json_of(
            hub.get(&hub.ga_key, "/api/v1/policies/POL-GAOLING/lists")
                .await,
        )
        .await;
        let list = v
            .as_array()
            .and_then(|l| l.iter().find(|l| l["period"] == "2025-01"))
            .cloned()
            .unwrap_or_default();
        if list["stale"] == false && list["refreshed"] == refreshed {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the list did not follow the library ({refreshed})");
}

/// Bound as the population library (what `shuniu libraries define` does after deriving it).
async fn bind_population(hub: &Hub, code: &str) {
    let mut tx = hub.store.begin().await.expect("tx");
    tx.bind_base_library(&shuniu_store::BaseLibraryRow {
        code: code.to_string(),
        kind: "population".into(),
        key_type: "id_number".into(),
        bound_by: "test".into(),
        bound_at: "2026-01-01T00:00:00Z".into(),
        built_at: None,
        last_build: json!({}),
    })
    .await
    .expect("bind");
    tx.commit().await.expect("commit");
}

async fn load(hub: &Hub, code: &str, mode: &str, csv: String) {
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=p.csv&wait=true&mode={mode}"
        )))
        .bearer_auth(&hub.ga_key)
        .body(csv)
        .send()
        .await
        .expect("load");
    let (_, v) = json_of(r).await;
    assert_eq!(v["status"], "succeeded", "{v}");
}

/// The month's list kept and followed: computed over the whole library; refreshed after the
/// library changes by evaluating only the subjects whose data files changed (and ending where a
/// full evaluation would); confirmed only by the department's own data officer and only while
/// it matches the library; its subjects announced, signed, to the policy's address; its
/// payment file carrying the real ID numbers; payments recorded all or nothing.
#[tokio::test]
async fn a_list_is_kept_refreshed_confirmed_paid_and_announced() {
    let hub = Hub::start().await;
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(
        axum::http::HeaderMap,
        bytes::Bytes,
    )>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/eligible",
        axum::routing::post(move |h: axum::http::HeaderMap, b: bytes::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("sink").push((h, b));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let (library, ids) =
        published_with(&hub, json!({"notify": format!("http://{addr}/eligible")})).await;
    // A second data file: one more who qualifies, one who does not.
    let (d, e) = (id_born("1935-05-05", 20), id_born("1995-05-05", 21));
    load(
        &hub,
        &library,
        "append",
        format!("person_id,birth_date,division\n{d},1935-05-05,370202\n{e},1995-05-05,370202\n"),
    )
    .await;
    let lists = "/api/v1/policies/POL-GAOLING/lists";
    // Publishing computed this month's list: nobody had to ask.
    let this_month = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string();
    let (_, v) = json_of(hub.get(&hub.ga_key, lists).await).await;
    assert_eq!(
        (
            v[0]["period"].as_str(),
            v[0]["state"].as_str(),
            v[0]["evaluated_by"].as_str()
        ),
        (
            Some(this_month.as_str()),
            Some("evaluated"),
            Some("system:matching")
        ),
        "{v}"
    );
    let (s, v) = json_of(
        hub.post(&hub.ga_key, lists, &json!({"period": "2025-01"}))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    assert_eq!(
        (
            v["eligible"].as_i64(),
            v["amount"].as_f64(),
            v["state"].as_str(),
            v["stale"].as_bool()
        ),
        (Some(3), Some(300.0), Some("evaluated"), Some(false)),
        "{v}"
    );
    let (_, page) = json_of(hub.get(&hub.ga_key, &format!("{lists}/2025-01")).await).await;
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "{page}");
    assert!(
        entries.iter().all(|e| e["payment"] == "pending"
            && e["key_masked"]
                .as_str()
                .is_some_and(|k| k.contains("********"))),
        "{page}"
    );

    // The youngest of the first file turns out to be born in 1930: an upsert rewrites that
    // file only. The list follows the library by itself, evaluating that file's three
    // subjects, not all five.
    load(
        &hub,
        &library,
        "upsert",
        format!(
            "person_id,birth_date,division\n{},1930-05-05,370202\n",
            ids[2]
        ),
    )
    .await;
    let v = followed(&hub, "incremental 3").await;
    assert_eq!(
        (v["eligible"].as_i64(), v["amount"].as_f64()),
        (Some(4), Some(400.0)),
        "{v}"
    );
    // Asked for again, there is nothing left to do.
    let (s, r) = json_of(
        hub.post(&hub.ga_key, &format!("{lists}/2025-01/refresh"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{r}");
    assert_eq!(
        (r["reevaluated"].as_u64(), r["to_version"].as_i64()),
        (Some(0), v["library_version"].as_i64()),
        "{r}"
    );
    // D leaves the library: the delete rewrites the second file (D and E).
    load(&hub, &library, "delete", format!("person_id\n{d}\n")).await;
    let v = followed(&hub, "incremental 2").await;
    assert_eq!(v["eligible"], 3, "{v}");
    // Where a full evaluation ends.
    let (_, t) = json_of(
        hub.get(
            &hub.ga_key,
            "/api/v1/policies/POL-GAOLING/totals?period=2025-01",
        )
        .await,
    )
    .await;
    let v = followed(&hub, "incremental 2").await;
    assert_eq!(
        (v["eligible"].as_u64(), v["amount"].as_f64()),
        (t["eligible"].as_u64(), t["amount"].as_f64()),
        "{v} {t}"
    );

    // Only the department's own data officer confirms and pays.
    for key in [&hub.operator_key, &hub.mz_key] {
        let (s, _) = json_of(
            hub.post(key, &format!("{lists}/2025-01/confirm"), &json!({}))
                .await,
        )
        .await;
        assert_eq!(s.as_u16(), 403);
    }
    // No payment file before confirmation.
    let (s, _) = json_of(
        hub.get(&hub.ga_key, &format!("{lists}/2025-01/payments"))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 409);
    let (s, v) = json_of(
        hub.post(&hub.ga_key, &format!("{lists}/2025-01/confirm"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s.as_u16(), v["state"].as_str()),
        (200, Some("confirmed")),
        "{v}"
    );
    let (s, _) = json_of(
        hub.post(&hub.ga_key, lists, &json!({"period": "2025-01"}))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 409, "a confirmed list is not computed again");

    // Announced: one signed call with the three recipients' own ID numbers.
    let mut waited = 0;
    while received.lock().expect("sink").is_empty() {
        hub.sharing.run_notifications().await.expect("round");
        waited += 1;
        assert!(waited < 50, "never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (headers, body) = received.lock().expect("sink")[0].clone();
    assert!(headers.contains_key("x-shuniu-signature"), "{headers:?}");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let mut keys: Vec<String> = body["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| r["key"].as_str().unwrap_or_default().to_string())
        .collect();
    keys.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(keys, want, "{body}");
    let (_, n) = json_of(
        hub.get(&hub.ga_key, "/api/v1/policies/POL-GAOLING/notifications")
            .await,
    )
    .await;
    assert_eq!(n["calls"][0]["state"], "delivered", "{n}");

    // The payment file: the real ID numbers, for the data officer only.
    let (s, _) = json_of(
        hub.get(&hub.operator_key, &format!("{lists}/2025-01/payments"))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 403);
    let r = hub
        .get(&hub.ga_key, &format!("{lists}/2025-01/payments?format=csv"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let file = r.bytes().await.expect("file");
    assert!(
        file.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 with a byte-order mark"
    );
    let mut rows = csv::Reader::from_reader(&file[3..]);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().any(|r| r[1] == ids[0] && r[3] == *"100.00"),
        "{rows:?}"
    );
    let r = hub
        .get(
            &hub.ga_key,
            &format!("{lists}/2025-01/payments?format=xlsx"),
        )
        .await;
    assert!(r.bytes().await.expect("xlsx").starts_with(b"PK"));

    // Outcomes: all or nothing.
    let subject = |i: usize| rows[i][7].to_string();
    let payments = format!("{lists}/2025-01/payments");
    let (s, e) = json_of(
        hub.post(
            &hub.ga_key,
            &payments,
            &json!({"payments": [
                {"subject": subject(0), "state": "paid", "reference": "B1-1"},
                {"subject": "nobody", "state": "paid"}
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_eq!(
        e["error"]["fields"][0]["field"], "payments[1].subject",
        "{e}"
    );
    let (s, c) = json_of(
        hub.post(
            &hub.ga_key,
            &payments,
            &json!({"payments": [
                {"subject": subject(0), "state": "paid", "reference": "B1-1"},
                {"subject": subject(1), "state": "failed", "note": "账户已销户"}
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{c}");
    assert_eq!(
        (
            c["paid"].as_i64(),
            c["failed"].as_i64(),
            c["pending"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{c}"
    );
    let (_, page) = json_of(
        hub.get(&hub.ga_key, &format!("{lists}/2025-01?payment=failed"))
            .await,
    )
    .await;
    assert_eq!(page["entries"][0]["payment_note"], "账户已销户", "{page}");

    // Each step is a use of the person's data, on their own record.
    let person: shuniu_types::IdNumber = ids[0].parse().expect("id");
    let uses = hub
        .engines
        .traceability
        .personal_record(&person)
        .await
        .expect("record");
    for action in ["policy.list", "policy.notify", "policy.payment_file"] {
        assert!(
            uses.iter().any(|u| u.action == action),
            "{action}: {uses:?}"
        );
    }
}

/// A cremation register kept by the GA, keyed by ID number.
fn cremations() -> serde_json::Value {
    json!({
        "name": "死亡火化信息（测试）",
        "provider": "370200GA",
        "category": "主题信息资源",
        "item_code": 1, "item_name": "人口",
        "subject_code": 1, "subject_name": "死亡人口",
        "summary": "测试用火化登记",
        "format": "数据库",
        "share_type": "有条件共享",
        "share_conditions": "用于待遇停发",
        "open_type": "不予开放",
        "update_cycle": "每日",
        "level": "general_2",
        "data_items": [
            {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18,
             "is_key": true, "semantic_type": "身份证号", "masking": "id_number"},
            {"name": "cremated_on", "label": "火化日期", "data_type": "日期型"},
            {"name": "place", "label": "殡仪馆", "data_type": "字符型", "length": 40}
        ]
    })
}

/// A policy of the MZ that reads the GA's cremation register through a grant.
fn living_allowance() -> serde_json::Value {
    json!({
        "code": "POL-ZAISHI", "name": "高龄津贴（在世核验）", "department": "370200MZ",
        "document": "高龄津贴发放办法（测试）", "target": "persons",
        "effective_from": "2024-01-01", "unit": "元/月",
        "conditions": [
            {"rule": "年龄 ≥ 80", "reference": "第二条"},
            {"rule": "死亡火化信息（测试）.火化日期 为空", "reference": "第九条（死亡停发）"}
        ],
        "amount": {"formula": "100"}
    })
}

/// A policy's rules may read another department's resource the issuing department holds a
/// grant for, joined to the library by ID number: refused before the grant (the attribute is
/// not in its vocabulary), evaluated after it over only the rows inside the grant's scope, the
/// trace naming the joined resource and version as each value's source and the read on the
/// person's record; the list follows the joined resource's loads; a revoked grant stops the
/// evaluation.
#[tokio::test]
async fn a_policy_reads_a_granted_resource_joined_by_id_number() {
    let hub = Hub::start().await;
    let (_, ids) = published_with(&hub, json!({})).await;
    let register = hub.register(&hub.ga_key, &cremations()).await;
    hub.publish(&hub.ga_key, &register).await;
    // The 1930 person was cremated at the city's own home; someone out of the grant's scope too.
    load(
        &hub,
        &register,
        "replace",
        format!(
            "id_number,cremated_on,place\n{},2024-12-03,市殡仪馆\n{},2024-11-20,外地殡仪馆\n",
            ids[0], ids[1]
        ),
    )
    .await;
    let save = |body: serde_json::Value| {
        let hub = &hub;
        async move { json_of(hub.post(&hub.mz_key, "/api/v1/policies", &body).await).await }
    };
    // Without a grant the MZ's rules cannot name the register.
    let (s, e) = save(living_allowance()).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_eq!(
        (
            e["error"]["fields"][0]["field"].as_str(),
            e["error"]["fields"][0]["code"].as_str()
        ),
        (Some("conditions[1]"), Some("RULE_UNKNOWN_ATTRIBUTE")),
        "{e}"
    );
    // The MZ asks for the cremation date of the city's own home's records, for comparison.
    let (s, req) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/sharing/requests",
            &json!({
                "resource_code": register, "application_id": "mz",
                "fields": ["id_number", "cremated_on"],
                "purpose": "高龄津贴死亡停发核验", "scenario": "每月名单计算时排除已火化人员",
                "legal_basis": "《高龄津贴发放办法》第九条", "duration_days": 365,
                "services": ["compare"], "row_scope": "place = 市殡仪馆", "rate_per_second": 5
            }),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 201, "{req}");
    let id = req["id"].as_str().expect("id").to_string();
    let (s, decided) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/requests/{id}/decision"),
            &json!({"approve": true, "reason": "同意，仅火化日期"}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{decided}");
    let grant = decided["grant_id"].as_str().expect("grant").to_string();
    // The place was not granted: naming it is refused; the date is offered.
    let mut with_place = living_allowance();
    with_place["conditions"][1]["rule"] = json!("死亡火化信息（测试）.殡仪馆 为空");
    let (s, e) = save(with_place).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    let (s, v) = save(living_allowance()).await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let (s, v) = json_of(
        hub.post(
            &hub.mz_key,
            "/api/v1/policies/POL-ZAISHI/submit",
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let (s, v) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/policies/POL-ZAISHI/review",
            &json!({"publish": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    // 1930 and 1940 are over 80; the 1930 person's cremation is inside the grant's scope, the
    // 1940 person's is not (so the MZ cannot see it): one qualifies.
    let totals = "/api/v1/policies/POL-ZAISHI/totals?period=2025-01";
    let (s, t) = json_of(hub.get(&hub.mz_key, totals).await).await;
    assert_eq!(s.as_u16(), 200, "{t}");
    assert_eq!(
        (t["eligible"].as_u64(), t["amount"].as_f64()),
        (Some(1), Some(100.0)),
        "{t}"
    );
    let (_, e) = json_of(
        hub.get(
            &hub.mz_key,
            "/api/v1/policies/POL-ZAISHI/eligible?period=2025-01",
        )
        .await,
    )
    .await;
    assert_eq!(e["rows"].as_array().map(Vec::len), Some(1), "{e}");
    assert!(
        e["rows"][0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with(&ids[1][..6]))
    );
    // The trace says why the 1930 person does not qualify, and where the date came from.
    let (s, tr) = json_of(
        hub.get(
            &hub.mz_key,
            &format!(
                "/api/v1/policies/POL-ZAISHI/trace?period=2025-01&key={}",
                ids[0]
            ),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{tr}");
    let died = &tr["conditions"][1];
    assert_eq!(
        (
            tr["eligible"].as_bool(),
            died["holds"].as_bool(),
            died["values"][0]["value"].as_str(),
            died["values"][0]["source"]["resource"].as_str(),
        ),
        (
            Some(false),
            Some(false),
            Some("2024-12-03"),
            Some(register.as_str())
        ),
        "{tr}"
    );
    assert_eq!(tr["joined"][0]["resource"], register.as_str(), "{tr}");
    // The whole-library run says the same; the read of the register is on the person's record,
    // with the GA as the provider whose data was used.
    let all = hub
        .engines
        .matching
        .evaluate_all(&shuniu_types::Actor::local_operator(), "2025-01")
        .await
        .expect("all");
    assert!(
        all.iter()
            .any(|t| t.policy == "POL-ZAISHI" && t.eligible == 1 && t.amount == 100.0),
        "{all:?}"
    );
    let person: shuniu_types::IdNumber = ids[0].parse().expect("id");
    let uses = hub
        .engines
        .traceability
        .personal_record(&person)
        .await
        .expect("record");
    assert!(
        uses.iter()
            .any(|u| u.action == "policy.join" && u.resource.as_deref() == Some(register.as_str())),
        "{uses:?}"
    );
    // January's list, confirmed by the civil-affairs data officer, is what is paid.
    let lists = "/api/v1/policies/POL-ZAISHI/lists";
    let (s, v) = json_of(
        hub.post(&hub.mz_key, lists, &json!({"period": "2025-01"}))
            .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let (s, v) = json_of(
        hub.post(&hub.mz_key, &format!("{lists}/2025-01/confirm"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s.as_u16(), v["state"].as_str()),
        (200, Some("confirmed")),
        "{v}"
    );
    // This month's list (computed at publication) follows the register: the 1940 person's
    // cremation moves into the city's home and they leave the list.
    let this_month = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string();
    let url = format!("/api/v1/policies/POL-ZAISHI/lists/{this_month}");
    let list = || async {
        let (_, v) = json_of(hub.get(&hub.mz_key, &url).await).await;
        v["list"]["eligible"].as_i64()
    };
    assert_eq!(list().await, Some(1));
    load(
        &hub,
        &register,
        "upsert",
        format!(
            "id_number,cremated_on,place\n{},2024-11-20,市殡仪馆\n",
            ids[1]
        ),
    )
    .await;
    let mut followed = None;
    for _ in 0..100 {
        followed = list().await;
        if followed == Some(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        followed,
        Some(0),
        "the list did not follow the joined register"
    );
    // The confirmed list is paid as confirmed: the cremation registered since does not take the
    // person out of January's payment file (the joined register is read as it is now, but the
    // subjects are those confirmed, found by key at the list's library version).
    let r = hub
        .get(&hub.mz_key, &format!("{lists}/2025-01/payments?format=csv"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let file = r.bytes().await.expect("file");
    let mut rows = csv::Reader::from_reader(&file[3..]);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(&rows[0][1], ids[1].as_str(), "{rows:?}");
    // Revoked: the MZ may no longer read the register, so the policy cannot be evaluated.
    let (s, v) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/sharing/grants/{grant}/revoke"),
            &json!({"reason": "测试撤销"}),
        )
        .await,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    let (s, e) = json_of(hub.get(&hub.mz_key, totals).await).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert_eq!(
        e["error"]["fields"][0]["code"], "RULE_UNKNOWN_ATTRIBUTE",
        "{e}"
    );
}

/// An enterprise's own page (惠企通): its legal person signs in (the demo's simulated sign-in),
/// sees the policies it qualifies for with why, and the lookup of its eligibility is on its
/// record; a citizen's session does not open the page, nor the enterprise's the citizen's.
#[tokio::test]
async fn an_enterprise_sees_its_policies_on_its_own_page() {
    let hub = Hub::start().await;
    let ent = |body: &str| {
        shuniu_types::CreditCode::compose("91", "370202".parse().expect("division"), body)
            .expect("code")
            .to_string()
    };
    let (young, old) = (ent("MA3C8K2P"), ent("MA3C8K3N"));
    let spec = json!({
        "name": "法人基础信息库（测试）",
        "provider": "370200GA",
        "category": "基础信息资源",
        "item_code": 2, "item_name": "法人",
        "subject_code": 1, "subject_name": "市场主体",
        "summary": "测试用法人库", "format": "数据库",
        "share_type": "有条件共享", "share_conditions": "用于政策匹配",
        "open_type": "不予开放", "update_cycle": "每日", "level": "general_2",
        "data_items": [
            {"name": "credit_code", "label": "统一社会信用代码", "data_type": "字符型", "length": 18,
             "is_key": true, "semantic_type": "统一社会信用代码"},
            {"name": "ent_name", "label": "企业名称", "data_type": "字符型", "length": 100},
            {"name": "reg_date", "label": "成立日期", "data_type": "日期型"}
        ]
    });
    let code = hub.register(&hub.ga_key, &spec).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "replace",
        format!(
            "credit_code,ent_name,reg_date\n{young},青岛新创科技有限公司,2025-06-01\n{old},青岛老字号有限公司,1990-01-01\n"
        ),
    )
    .await;
    let mut tx = hub.store.begin().await.expect("tx");
    tx.bind_base_library(&shuniu_store::BaseLibraryRow {
        code: code.clone(),
        kind: "legal_entity".into(),
        key_type: "credit_code".into(),
        bound_by: "test".into(),
        bound_at: "2026-01-01T00:00:00Z".into(),
        built_at: None,
        last_build: json!({}),
    })
    .await
    .expect("bind");
    tx.commit().await.expect("commit");
    let policy = json!({
        "code": "POL-XINCHUANG", "name": "初创企业补贴", "department": "370200GA",
        "document": "初创企业扶持办法（测试）", "target": "enterprises",
        "effective_from": "2024-01-01", "unit": "元",
        "conditions": [{"rule": "成立年限 < 3", "reference": "第二条"}],
        "amount": {"formula": "2000"}
    });
    for (key, path, body) in [
        (&hub.ga_key, "/api/v1/policies", policy),
        (
            &hub.ga_key,
            "/api/v1/policies/POL-XINCHUANG/submit",
            json!({}),
        ),
        (
            &hub.operator_key,
            "/api/v1/policies/POL-XINCHUANG/review",
            json!({"publish": true}),
        ),
    ] {
        let (s, v) = json_of(hub.post(key, path, &body).await).await;
        assert_eq!(s.as_u16(), 200, "{path}: {v}");
    }
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = client
        .get(hub.url("/my-enterprise"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("enterprise-login"), "{page}");
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).expect("a CSRF field") + marker.len();
    let csrf = page[at..at + 64].to_string();
    let sign_in = |code: String| {
        let (client, csrf, hub) = (&client, &csrf, &hub);
        async move {
            client
                .post(hub.url("/my-enterprise/login"))
                .form(&[
                    ("name", "青岛新创科技有限公司"),
                    ("credit_code", code.as_str()),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await
                .expect("login")
        }
    };
    // A code that fails GB 32100's check is refused with a reason.
    let mut bad = young.clone();
    bad.replace_range(17..18, if young.ends_with('0') { "1" } else { "0" });
    let r = sign_in(bad).await;
    assert_eq!(r.status().as_u16(), 422);
    let r = sign_in(young.clone()).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("data-policy=\"POL-XINCHUANG\""), "{html}");
    assert!(
        html.contains("初创企业补贴") && html.contains("第二条"),
        "{html}"
    );
    // The month's list named it: that is on the enterprise's own record; its own sign-in and
    // views are not uses of its data.
    let enterprise = shuniu_types::CreditCode::try_from(young.clone()).expect("code");
    let uses = hub
        .engines
        .traceability
        .enterprise_record(&enterprise)
        .await
        .expect("record");
    assert!(
        uses.iter().any(|u| u.action == "policy.list")
            && uses.iter().all(|u| !u.action.starts_with("enterprise.")),
        "{uses:?}"
    );
    let (_, t) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/policies/POL-XINCHUANG/trace?period=2025-01&key={young}"),
        )
        .await,
    )
    .await;
    assert_eq!(t["eligible"], true, "{t}");
    let html = client
        .get(hub.url("/my-enterprise"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("查询资格说明"),
        "the department's lookup is listed: {html}"
    );
    // The old enterprise does not qualify: the policy is folded under the others, with why not.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = other
        .get(hub.url("/my-enterprise"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let at = page.find(marker).expect("a CSRF field") + marker.len();
    let csrf2 = page[at..at + 64].to_string();
    let html = other
        .post(hub.url("/my-enterprise/login"))
        .form(&[
            ("name", "青岛老字号有限公司"),
            ("credit_code", old.as_str()),
            ("csrf", csrf2.as_str()),
        ])
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    assert!(html.contains("id=\"no-policies\""), "{html}");
    assert!(html.contains("my-other-policies"), "{html}");
    // The enterprise's cookie is not a citizen's session.
    let mine = other
        .get(hub.url("/my-data"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(mine.contains("citizen-login"), "{mine}");
}
