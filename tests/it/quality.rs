//! Governance through the HTTP API: rules refused when saved, loads checked as they stream,
//! scores and trends, tickets that open and close themselves, objections with arbitration,
//! and cross-checks against an authoritative source — and who may do what.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, error_code, json_of, resource};

/// A GA register with a mobile number and a division code besides the ID number.
fn register_spec(name: &str) -> Value {
    let mut r = resource(name);
    r["data_items"] = json!([
        {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18, "is_key": true, "personal": true, "semantic_type": "身份证号"},
        {"name": "name", "label": "姓名", "data_type": "字符型", "length": 50, "required": true, "personal": true, "semantic_type": "姓名"},
        {"name": "mobile", "label": "手机号码", "data_type": "字符型", "length": 11, "personal": true, "semantic_type": "手机号"},
        {"name": "district", "label": "行政区划", "data_type": "字符型", "length": 6, "semantic_type": "行政区划代码"},
        {"name": "address", "label": "住址", "data_type": "字符型", "length": 200, "personal": true, "semantic_type": "地址"}
    ]);
    r
}

// 370202199003070011 … are valid GB 11643 numbers; …0012 has a wrong check character.
const DIRTY: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370202199003070012,李四,13812345678,370203,市北区辽宁路2号\n\
370203197001010039,王五,1381234567,370203,市北区延安路3号\n\
370212199512310047,赵六,13912345678,379999,崂山区海尔路5号\n\
370202198505120029,钱七,13712345678,370202,市南区东海路6号\n\
370202198505120029,钱七,13712345678,370202,市南区东海路6号\n\
370202199003070054,,13612345678,370202,市南区湛山路7号\n";

const CLEAN: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370203197001010039,王五,13812345670,370203,市北区延安路3号\n\
370212199512310047,赵六,13912345678,370212,崂山区海尔路5号\n\
370202198505120029,钱七,13712345678,370202,市南区东海路6号\n\
370202199003070054,孙八,13612345678,370202,市南区湛山路7号\n";

async fn load(hub: &Hub, key: &str, code: &str, csv: &str) -> Value {
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=x.csv&wait=true"
        )))
        .bearer_auth(key)
        .body(csv.as_bytes().to_vec())
        .send()
        .await
        .expect("upload");
    let (s, l) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["status"], "succeeded", "{l}");
    l
}

async fn published(hub: &Hub, key: &str, spec: &Value) -> String {
    let code = hub.register(key, spec).await;
    hub.publish(key, &code).await;
    code
}

fn rule<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

fn counts(report: &Value, id: &str) -> (u64, u64) {
    let r = rule(report, id);
    (
        r["checked"].as_u64().expect("checked"),
        r["failed"].as_u64().expect("failed"),
    )
}

#[tokio::test]
async fn loads_are_checked_scored_and_ticketed_until_fixed() {
    let hub = Hub::start().await;
    let code = published(&hub, &hub.ga_key, &register_spec("户籍人口基本信息")).await;
    let rules = format!("/api/v1/quality/resources/{code}/rules");

    // Rules that could not run are refused when saved, each with its own code.
    for (bad, expected) in [
        (
            json!({"id": "m", "column": "mobile", "type": "pattern", "pattern": "1[3-9"}),
            "RULE_REGEX_INVALID",
        ),
        (
            json!({"id": "x", "column": "nope", "type": "required"}),
            "RULE_COLUMN_UNKNOWN",
        ),
        (
            json!({"id": "d", "column": "district", "type": "code_table", "table": "gb9999"}),
            "RULE_CODE_TABLE_UNKNOWN",
        ),
        (
            json!({"id": "r", "column": "name", "type": "range", "min": 0}),
            "RULE_TYPE_MISMATCH",
        ),
        (
            json!({"id": "l", "column": "name", "type": "length", "min": 5, "max": 1}),
            "RULE_RANGE_INVALID",
        ),
    ] {
        let (s, b) = json_of(hub.post(&hub.ga_key, &rules, &bad).await).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(error_code(&b), expected, "{b}");
        assert!(!b["error"]["message_zh"].as_str().unwrap_or("").is_empty());
    }
    // The officer's own rule; another department may not add one.
    let own = json!({"id": "address.qingdao", "column": "address", "type": "pattern", "pattern": "(市南|市北|崂山)区.*"});
    let (s, b) = json_of(hub.post(&hub.ga_key, &rules, &own).await).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = json_of(hub.post(&hub.mz_key, &rules, &own).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");

    // No check yet: a 404 that says so.
    let report_path = format!("/api/v1/quality/resources/{code}");
    let (s, b) = json_of(hub.get(&hub.ga_key, &report_path).await).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::NOT_FOUND, "NO_QUALITY_RUN")
    );

    // The load is checked as it streams in; the row without a name is rejected at the
    // door and still counts against the name rule.
    let l = load(&hub, &hub.ga_key, &code, DIRTY).await;
    assert_eq!(l["rows_rejected"], 1);
    let (s, r) = json_of(hub.get(&hub.ga_key, &report_path).await).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], 0);
    assert_eq!(r["trigger"], "load");
    assert_eq!(counts(&r, "id_number.id_number"), (6, 1));
    assert_eq!(
        counts(&r, "id_number.unique"),
        (6, 2),
        "both occurrences count"
    );
    assert_eq!(rule(&r, "id_number.unique")["duplicate_values"], 1);
    assert_eq!(counts(&r, "mobile.mobile"), (6, 1));
    assert_eq!(counts(&r, "district.code_table"), (6, 1));
    assert_eq!(counts(&r, "name.required"), (7, 1));
    assert_eq!(counts(&r, "address.qingdao"), (6, 0));
    let score = r["score"].as_f64().expect("score");
    assert!(score > 50.0 && score < 100.0, "{score}");
    for d in ["completeness", "validity", "uniqueness"] {
        assert!(r["dimensions"][d]["score"].as_f64().is_some(), "{d}: {r}");
    }
    // The provider sees the failing rows; the wrong check character is explained.
    assert_eq!(r["samples_included"], true);
    let sample = &rule(&r, "id_number.id_number")["samples"][0];
    assert_eq!(sample["key"], "370202199003070012", "{sample}");
    assert!(
        sample["reason"]
            .as_str()
            .unwrap_or("")
            .contains("ID_NUMBER_CHECK"),
        "{sample}"
    );
    // A department that may see the catalog entry but not the rows gets the counts only.
    let (s, other) = json_of(hub.get(&hub.mz_key, &report_path).await).await;
    assert_eq!(s, StatusCode::OK, "{other}");
    assert_eq!(other["samples_included"], false);
    assert!(
        rule(&other, "id_number.id_number")["samples"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Every failing rule opened a ticket for the provider, with a deadline.
    let tickets_path = format!("/api/v1/quality/tickets?resource={code}");
    let (s, tickets) = json_of(hub.get(&hub.ga_key, &tickets_path).await).await;
    assert_eq!(s, StatusCode::OK, "{tickets}");
    let tickets = tickets.as_array().expect("tickets").clone();
    let rule_ids: Vec<&str> = tickets
        .iter()
        .filter_map(|t| t["rule_id"].as_str())
        .collect();
    for id in [
        "id_number.id_number",
        "id_number.unique",
        "mobile.mobile",
        "district.code_table",
        "name.required",
    ] {
        assert!(rule_ids.contains(&id), "{id} in {rule_ids:?}");
    }
    assert!(
        tickets
            .iter()
            .all(|t| t["provider"] == "370200GA" && t["state"] == "open")
    );
    assert!(
        tickets
            .iter()
            .all(|t| t["deadline"].as_str().unwrap_or("") > t["created_at"].as_str().unwrap_or(""))
    );
    // Other departments do not see GA's tickets; the hub sees everyone's.
    let (s, _) = json_of(
        hub.get(&hub.mz_key, "/api/v1/quality/tickets?department=370200GA")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, all) = json_of(hub.get(&hub.operator_key, "/api/v1/quality/tickets").await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), tickets.len());

    // A load that fixes the rows closes the tickets itself, and says so in their history.
    load(&hub, &hub.ga_key, &code, CLEAN).await;
    let (_, r2) = json_of(hub.get(&hub.ga_key, &report_path).await).await;
    assert_eq!(r2["version"], 1);
    assert!(r2["score"].as_f64().unwrap() > score, "{r2}");
    let (_, open) = json_of(hub.get(&hub.ga_key, &tickets_path).await).await;
    assert_eq!(open.as_array().unwrap().len(), 0, "{open}");
    let id = tickets[0]["id"].as_str().unwrap();
    let (s, t) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/quality/tickets/{id}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "closed");
    assert!(t["closed_at"].is_string());
    let events = t["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["state"], "open");
    assert_eq!(events.last().unwrap()["state"], "closed");

    // The trend has both versions; an on-demand check of the old version adds a run.
    let (_, trend) = json_of(hub.get(&hub.ga_key, &format!("{report_path}/trend")).await).await;
    assert_eq!(trend.as_array().unwrap().len(), 2, "{trend}");
    let (s, again) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("{report_path}/check?version=0"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["trigger"], "on_demand");
    assert_eq!(counts(&again, "id_number.unique"), (6, 2));
    let (s, b) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("{report_path}/check?version=9"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, _) = json_of(
        hub.post(&hub.viewer_key, &format!("{report_path}/check"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The city view: GA's score, and the hub's dashboard numbers.
    let (s, o) = json_of(hub.get(&hub.operator_key, "/api/v1/quality").await).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert!(o["city_score"].as_f64().is_some());
    assert!(
        o["departments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["department"] == "370200GA")
    );

    // Switching off a derived rule is a saved override; deleting it brings the rule back.
    let off =
        json!({"id": "mobile.mobile", "column": "mobile", "type": "mobile", "enabled": false});
    let (s, _) = json_of(hub.post(&hub.ga_key, &rules, &off).await).await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = json_of(hub.get(&hub.ga_key, &rules).await).await;
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "mobile.mobile")
        .unwrap()
        .clone();
    assert_eq!(
        (m["enabled"].clone(), m["derived"].clone()),
        (json!(false), json!(false))
    );
    let r = hub
        .client
        .delete(hub.url(&format!("{rules}/mobile.mobile")))
        .bearer_auth(&hub.ga_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, list) = json_of(hub.get(&hub.ga_key, &rules).await).await;
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "mobile.mobile")
        .unwrap()
        .clone();
    assert_eq!(
        (m["enabled"].clone(), m["derived"].clone()),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn an_objection_is_confirmed_disputed_and_arbitrated_with_a_record_of_who_did_what() {
    let hub = Hub::start().await;
    let code = published(&hub, &hub.ga_key, &register_spec("户籍人口基本信息")).await;
    load(&hub, &hub.ga_key, &code, CLEAN).await;
    let path = format!("/api/v1/quality/resources/{code}/objections");

    // Bad input, the provider objecting to itself, and viewers are refused.
    let (s, b) = json_of(
        hub.post(&hub.mz_key, &path, &json!({"record_key": "", "reason": ""}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let objection = json!({"record_key": "370203197001010039", "column": "address", "reason": "该居民已迁至崂山区"});
    let (s, b) = json_of(hub.post(&hub.ga_key, &path, &objection).await).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::FORBIDDEN, "OWN_RESOURCE"),
        "{b}"
    );
    let (s, _) = json_of(hub.post(&hub.viewer_key, &path, &objection).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, t) = json_of(hub.post(&hub.mz_key, &path, &objection).await).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(
        (t["kind"].as_str(), t["state"].as_str()),
        (Some("objection"), Some("open"))
    );
    assert_eq!(t["provider"], "370200GA");
    let id = t["id"].as_str().unwrap().to_string();
    let act = |key: String, action: &'static str, reason: &'static str| {
        let hub = &hub;
        let id = id.clone();
        async move {
            json_of(
                hub.post(
                    &key,
                    &format!("/api/v1/quality/tickets/{id}/actions"),
                    &json!({"action": action, "reason": reason}),
                )
                .await,
            )
            .await
        }
    };
    // The raiser cannot handle it; the provider disputes, with a reason.
    let (s, _) = act(hub.mz_key.clone(), "confirm", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = act(hub.ga_key.clone(), "dispute", "").await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a dispute needs a reason: {b}"
    );
    let (s, b) = act(hub.ga_key.clone(), "dispute", "户籍系统显示仍在市北区").await;
    assert_eq!(
        (s, b["state"].as_str()),
        (StatusCode::OK, Some("disputed")),
        "{b}"
    );
    // Only the hub arbitrates; an action that does not fit the state is a conflict.
    let (s, _) = act(hub.ga_key.clone(), "uphold", "自己仲裁").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = act(hub.operator_key.clone(), "dismiss", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = act(
        hub.operator_key.clone(),
        "uphold",
        "民政核查属实，请公安更正",
    )
    .await;
    assert_eq!(
        (s, b["state"].as_str()),
        (StatusCode::OK, Some("confirmed")),
        "{b}"
    );
    let (s, b) = act(hub.operator_key.clone(), "uphold", "again").await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = act(hub.ga_key.clone(), "resolve", "已更正住址").await;
    assert_eq!(
        (s, b["state"].as_str()),
        (StatusCode::OK, Some("closed")),
        "{b}"
    );

    let (_, v) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/quality/tickets/{id}"))
            .await,
    )
    .await;
    let trail: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["department_code"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("370200MZ", "open"),
            ("370200GA", "disputed"),
            ("370200DSJ", "confirmed"),
            ("370200GA", "closed")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(v["actions"].as_array().unwrap().is_empty());
    let (s, _) = json_of(hub.get(&hub.ga_key, "/api/v1/quality/tickets/T-nope").await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = act(hub.ga_key.clone(), "approve", "x").await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "TICKET_ACTION_UNKNOWN")
    );
}

#[tokio::test]
async fn other_datasets_are_cross_checked_against_the_authoritative_source() {
    let hub = Hub::start().await;
    let register = published(&hub, &hub.ga_key, &register_spec("户籍人口基本信息")).await;
    load(&hub, &hub.ga_key, &register, CLEAN).await;
    let mut relief = resource("最低生活保障对象信息");
    relief["provider"] = json!("370200MZ");
    let relief = published(&hub, &hub.mz_key, &relief).await;
    load(
        &hub,
        &hub.mz_key,
        &relief,
        "id_number,name,address\n\
         370202199003070011,张三,市南区香港中路1号\n\
         370203197001010039,王五,市北区延安路3号附1号\n\
         370212199512310047,赵六,\n\
         110101199003070011,不在户籍库,北京市\n",
    )
    .await;

    let source = json!({"attribute": "address", "label": "户籍地址", "key_type": "id_number", "resource": register});
    let (s, _) = json_of(
        hub.post(&hub.ga_key, "/api/v1/quality/sources", &source)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the hub designates");
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/quality/sources",
            &json!({"attribute": "address", "key_type": "phone", "resource": register}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/quality/sources",
            &json!({"attribute": "nope", "key_type": "id_number", "resource": register}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = json_of(
        hub.post(&hub.operator_key, "/api/v1/quality/sources", &source)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, reports) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/quality/cross-checks",
            &json!({"attribute": "address"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{reports}");
    let r = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == relief)
        .unwrap_or_else(|| panic!("{reports}"));
    // Two records in both with an address on this side; one disagrees.
    assert_eq!(
        (r["compared"].as_u64(), r["conflicts"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(r["samples"][0]["key"], "370203197001010039");
    let ticket = r["ticket"].as_str().expect("a conflict ticket").to_string();
    let (_, t) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/quality/tickets/{ticket}"))
            .await,
    )
    .await;
    assert_eq!(
        (t["kind"].as_str(), t["provider"].as_str()),
        (Some("conflict"), Some("370200MZ")),
        "{t}"
    );

    // MZ fixes its address: the next load's cross-check closes the ticket.
    load(
        &hub,
        &hub.mz_key,
        &relief,
        "id_number,name,address\n\
         370202199003070011,张三,市南区香港中路1号\n\
         370203197001010039,王五,市北区延安路3号\n",
    )
    .await;
    let (_, t) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/quality/tickets/{ticket}"))
            .await,
    )
    .await;
    assert_eq!(t["state"], "closed", "{t}");
    let (s, sources) = json_of(hub.get(&hub.viewer_key, "/api/v1/quality/sources").await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sources[0]["resource_code"], json!(register));
}
