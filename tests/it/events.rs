//! City events (一网统管) through the HTTP API and Open311 GeoReport v2: the event tree and a
//! dispatch rule, a civic app's request (XML and JSON, required attributes, tokens), its
//! automatic dispatch, the department's handling with the reporter masked, a duplicate
//! merged, the command centre's verification, FixMyStreet-style update polling, a report
//! classified from its text, and an overdue event escalated by the deadline watcher.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, error_code, json_of};

async fn call(hub: &Hub, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(hub.post(key, path, body).await).await
}

async fn open311(hub: &Hub, path: &str) -> (StatusCode, String) {
    let r = hub.client.get(hub.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post311(hub: &Hub, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = hub
        .client
        .post(hub.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn act(hub: &Hub, key: &str, id: &str, body: Value) -> (StatusCode, Value) {
    call(hub, key, &format!("/api/v1/events/{id}/actions"), &body).await
}

#[tokio::test]
async fn an_open311_request_is_dispatched_handled_verified_and_followed() {
    let hub = Hub::start().await;
    let cats = "/api/v1/events/categories";
    for c in [
        json!({"code": "03", "name": "设施管理", "hours": [24, 8, 4]}),
        json!({"code": "0301", "name": "井盖问题", "parent": "03", "hours": [8, 4, 2],
               "keywords": ["井盖", "井盖缺失", "井盖破损"],
               "attributes": [{"code": "cover_state", "datatype": "singlevaluelist", "required": true,
                               "description": "井盖情况",
                               "values": [{"key": "missing", "name": "缺失"}, {"key": "broken", "name": "破损"}]}]}),
        json!({"code": "0101", "name": "暴露垃圾", "hours": [16, 8, 4],
               "keywords": ["垃圾", "垃圾满溢", "暴露垃圾"]}),
    ] {
        let (s, v) = call(&hub, &hub.operator_key, cats, &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        cats,
        &json!({"code": "09", "name": "x", "hours": [1, 1, 1]}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only the command centre edits the tree"
    );
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        cats,
        &json!({"code": "0302", "name": "路灯", "hours": [0, 1, 1]}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_CATEGORY_INVALID")
    );
    let (s, v) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/events/rules",
        &json!({"category": "03", "department": "370200GA"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, k) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/events/open311-keys",
        &json!({"name": "随手拍"}),
    )
    .await;
    let key = k["api_key"].as_str().unwrap().to_string();

    // Discovery: the leaves are the services, in XML and JSON.
    let (s, x) = open311(&hub, "/open311/v2/services.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        x.starts_with("<?xml") && x.contains("<service_code>0301</service_code>"),
        "{x}"
    );
    assert!(
        !x.contains("<service_code>03</service_code>"),
        "a branch is not a service: {x}"
    );
    let (_, j) = open311(&hub, "/open311/v2/services.json").await;
    let services: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(services.as_array().unwrap().len(), 2, "{services}");
    let (_, d) = open311(&hub, "/open311/v2/services/0301.json").await;
    let d: Value = serde_json::from_str(&d).unwrap();
    assert_eq!(d["attributes"][0]["code"], "cover_state");
    let (s, e) = open311(&hub, "/open311/v2/services/9999.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(serde_json::from_str::<Value>(&e).unwrap()[0]["code"], 404);

    // Posting: a key, a location and the required attributes.
    let at = [
        ("service_code", "0301"),
        ("lat", "36.0619"),
        ("long", "120.3843"),
        ("description", "五四广场东侧人行道井盖缺失，夜里很危险"),
        ("first_name", "三"),
        ("last_name", "张"),
        ("phone", "13812345678"),
    ];
    let (s, e) = post311(&hub, "/open311/v2/requests.json", &at).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let mut form = at.to_vec();
    form.push(("api_key", &key));
    let (s, e) = post311(&hub, "/open311/v2/requests.xml", &form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e.contains("<errors><error><code>400</code>") && e.contains("cover_state"),
        "{e}"
    );
    form.push(("attribute[cover_state]", "missing"));
    let (s, r) = post311(&hub, "/open311/v2/requests.json", &form).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let r: Value = serde_json::from_str(&r).unwrap();
    let id = r[0]["service_request_id"].as_str().unwrap().to_string();
    let token = r[0]["token"].as_str().unwrap().to_string();
    let (_, t) = open311(&hub, &format!("/open311/v2/tokens/{token}.json")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&t).unwrap()[0]["service_request_id"],
        id.as_str()
    );
    let (_, one) = open311(&hub, &format!("/open311/v2/requests/{id}.json")).await;
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(
        (
            one[0]["status"].as_str(),
            one[0]["agency_responsible"].as_str()
        ),
        (Some("open"), Some("370200GA")),
        "dispatched by the rule for its branch: {one}"
    );
    assert!(
        one[0]["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );

    // The same hole reported again 30 m away: one event.
    let mut again = form.clone();
    again[1] = ("lat", "36.0622");
    let (_, r2) = post311(&hub, "/open311/v2/requests.json", &again).await;
    let id2 = serde_json::from_str::<Value>(&r2).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/events/{id2}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["state"].as_str(), v["parent_id"].as_str()),
        (Some("merged"), Some(id.as_str())),
        "{v}"
    );

    // 公安 handles it; the reporter is masked to them; 民政 cannot see it at all.
    let (s, v) = json_of(hub.get(&hub.ga_key, &format!("/api/v1/events/{id}")).await).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["reporter"]["phone"], "138****5678", "{v}");
    let (_, full) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/events/{id}"))
            .await,
    )
    .await;
    assert_eq!(full["reporter"]["phone"], "13812345678");
    let (s, _) = json_of(hub.get(&hub.mz_key, &format!("/api/v1/events/{id}")).await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = act(&hub, &hub.mz_key, &id, json!({"action": "accept"})).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another department's event is not found"
    );
    let (s, e) = act(&hub, &hub.ga_key, &id, json!({"action": "handle"})).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_STATE"),
        "not accepted yet"
    );
    let (s, e) = act(&hub, &hub.ga_key, &id, json!({"action": "return"})).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_REASON_REQUIRED")
    );
    for a in ["accept", "handle"] {
        let (s, v) = act(&hub, &hub.ga_key, &id, json!({"action": a, "note": "已更换井盖", "photos": ["https://example.invalid/after.jpg"]})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, _) = act(&hub, &hub.ga_key, &id, json!({"action": "verify"})).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the handler does not close its own work"
    );
    let (s, v) = act(
        &hub,
        &hub.operator_key,
        &id,
        json!({"action": "verify", "satisfaction": 5, "note": "回访满意"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "closed");
    let actions: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["report", "dispatch", "accept", "handle", "verify"]
    );

    // Civic apps follow: the request closed, the updates since the report.
    let (_, x) = open311(&hub, &format!("/open311/v2/requests/{id}.xml")).await;
    assert!(x.contains("<status>closed</status>"), "{x}");
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (s, u) = open311(
        &hub,
        &format!(
            "/open311/v2/servicerequestupdates.json?start_date={}",
            since.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let u: Value = serde_json::from_str(&u).unwrap();
    assert!(
        u.as_array()
            .unwrap()
            .iter()
            .any(|x| x["service_request_id"] == id.as_str() && x["status"] == "FIXED"),
        "{u}"
    );
    let (s, _) = open311(&hub, "/open311/v2/requests.json?start_date=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, list) = open311(
        &hub,
        "/open311/v2/requests.json?status=closed&service_code=0301",
    )
    .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the duplicate is not listed twice: {list}"
    );
    // A civic app's own update (FixMyStreet): a note, in any case.
    let (s, up) = post311(
        &hub,
        "/open311/v2/servicerequestupdates.json",
        &[
            ("api_key", &key),
            ("service_request_id", &id),
            ("status", "FIXED - USER"),
            ("description", "确实修好了"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");

    // A hotline work order without a category: classified from its text; no rule for it yet.
    let (s, v) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/events",
        &json!({
        "channel": "hotline", "description": "市民反映小区门口垃圾满溢，好几天没人清理",
        "address": "青岛市市南区香港中路10号", "reporter_phone": "13900001111"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["category"].as_str(),
            v["state"].as_str(),
            v["district"].as_str()
        ),
        (Some("0101"), Some("reported"), Some("370202")),
        "{v}"
    );
    assert!(v["confidence"].as_f64().unwrap() > 0.5);
    let garbage = v["id"].as_str().unwrap().to_string();
    let (s, e) = act(
        &hub,
        &hub.operator_key,
        &garbage,
        json!({"action": "dispatch"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_NO_RULE")
    );
    let (s, v) = act(
        &hub,
        &hub.operator_key,
        &garbage,
        json!({"action": "dispatch", "department": "370200MZ"}),
    )
    .await;
    assert_eq!(
        (s, v["department"].as_str()),
        (StatusCode::OK, Some("370200MZ")),
        "{v}"
    );
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/events",
        &json!({"description": "有问题"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_LOCATION"),
        "{e}"
    );

    // Overdue: reported three days ago with an 8-hour deadline; the watcher escalates it once.
    let old = hub
        .events
        .report(
            &shuniu_types::Actor::local_operator(),
            shuniu_events::Report {
                category: Some("0301".into()),
                description: "井盖破损".into(),
                point: Some(shuniu_events::Point {
                    lat: 36.30,
                    lon: 120.39,
                }),
                reported_at: Some(chrono::Utc::now() - chrono::Duration::days(5)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let swept = hub.events.sweep(now).await.unwrap();
    assert_eq!(swept.escalated, 1, "{swept:?}");
    assert_eq!(
        hub.events.sweep(now).await.unwrap().escalated,
        0,
        "escalated once"
    );
    let (_, v) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/events/{}", old.id))
            .await,
    )
    .await;
    assert_eq!(
        (v["escalation"].as_i64(), v["overdue"].as_bool()),
        (Some(1), Some(true)),
        "{v}"
    );
    let (_, overdue) = json_of(hub.get(&hub.ga_key, "/api/v1/events?overdue=true").await).await;
    assert_eq!(
        overdue.as_array().unwrap().len(),
        1,
        "公安's inbox shows its overdue event: {overdue}"
    );

    // The assessment figures.
    let (s, st) = json_of(
        hub.get(&hub.operator_key, "/api/v1/events/statistics")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(st["total"]["closed"], 1, "{st}");
    let ga = st["by_department"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "370200GA")
        .unwrap()
        .clone();
    assert_eq!(
        (
            ga["closed_on_time"].as_i64(),
            ga["open_overdue"].as_i64(),
            ga["satisfaction"].as_f64()
        ),
        (Some(1), Some(1), Some(5.0)),
        "{ga}"
    );
    let (s, _) = json_of(hub.get(&hub.ga_key, "/api/v1/events/statistics").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The tree and rules the intake test needs: rubbish (城管) and parked cars (公安).
async fn small_tree(hub: &Hub) {
    for c in [
        json!({"code": "01", "name": "市容环境", "hours": [24, 8, 4]}),
        json!({"code": "0101", "name": "暴露垃圾", "parent": "01", "hours": [16, 8, 4],
               "keywords": ["垃圾", "垃圾满溢", "暴露垃圾"]}),
        json!({"code": "0202", "name": "机动车乱停放", "hours": [8, 4, 2],
               "keywords": ["乱停车", "违停", "占道停车"]}),
    ] {
        let (s, v) = call(hub, &hub.operator_key, "/api/v1/events/categories", &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    for (category, department) in [("01", "370200MZ"), ("0202", "370200GA")] {
        let (s, v) = call(
            hub,
            &hub.operator_key,
            "/api/v1/events/rules",
            &json!({"category": category, "department": department}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

async fn post_bytes(hub: &Hub, key: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = hub
        .client
        .post(hub.url(path))
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn alert(hub: &Hub, device: &str, ts: i64, sig: &str, body: &str) -> (StatusCode, Value) {
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/events/devices/{device}/alerts")))
        .header("content-type", "application/json")
        .header("x-shuniu-timestamp", ts.to_string())
        .header("x-shuniu-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn hotline_files_pushes_and_signed_device_alerts_become_events_once() {
    let hub = Hub::start().await;
    small_tree(&hub).await;
    let count = |hub: &Hub| {
        let events = hub.events.clone();
        let actor = shuniu_types::Actor::local_operator();
        async move {
            events
                .list(
                    &actor,
                    &shuniu_store::EventFilter {
                        limit: 1000,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .len()
        }
    };

    // A GBK export with two bad rows: refused whole, each bad line named, nothing imported.
    let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
    let bad = "工单编号,受理时间,诉求内容,事发地址,诉求分类,来电人,联系电话\n\
               RX1,2026-11-02 09:15:00,香港中路垃圾满溢没人清理,青岛市市南区香港中路10号,,张先生,13800001111\n\
               RX2,2026-11-02 09:20:00,,青岛市市南区香港中路12号,暴露垃圾,王女士,13800002222\n\
               RX3,2026-11-02 09:30:00,路边有车辆违停,青岛市市南区山东路1号,不存在的分类,李先生,13800003333\n";
    let (s, e) = post_bytes(&hub, &hub.operator_key, "/api/v1/events/import", gbk(bad)).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_IMPORT_ROWS"),
        "{e}"
    );
    let fields: Vec<String> = e["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["field"].as_str().unwrap(),
                f["code"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fields,
        ["line 3 EVENT_DESCRIPTION", "line 4 EVENT_IMPORT_CATEGORY"],
        "{e}"
    );
    assert_eq!(count(&hub).await, 0, "nothing of a refused file is kept");

    // The good file: by name or code, classified from the text when blank, GBK read right.
    let good = "工单编号,受理时间,诉求内容,事发地址,诉求分类,紧急程度,来电人,联系电话\n\
                RX1,2026-11-02 09:15:00,香港中路垃圾满溢没人清理,青岛市市南区香港中路10号,,一般,张先生,13800001111\n\
                RX2,2026-11-02 09:20:00,台东三路两侧乱停车占道,青岛市市北区台东三路5号,机动车乱停放,紧急,王女士,13800002222\n\
                RX3,2026-11-02 10:30:00,辽阳西路垃圾堆放,青岛市崂山区辽阳西路100号,0101,,李先生,13800003333\n";
    let (s, r) = post_bytes(&hub, &hub.operator_key, "/api/v1/events/import", gbk(good)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["rows"].as_u64(), r["created"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(r["dispatched"], 3, "every row had a rule: {r}");
    assert!(
        r["encoding"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("gb"),
        "{r}"
    );
    let (s, r) = post_bytes(&hub, &hub.operator_key, "/api/v1/events/import", gbk(good)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["created"].as_u64(), r["known"].as_u64()),
        (Some(0), Some(3)),
        "{r}"
    );
    assert_eq!(count(&hub).await, 3, "importing again adds nothing");
    let (s, _) = post_bytes(&hub, &hub.ga_key, "/api/v1/events/import", gbk(good)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the command centre imports");
    let (_, list) = json_of(
        hub.get(&hub.operator_key, "/api/v1/events?district=370203")
            .await,
    )
    .await;
    let parked = &list.as_array().unwrap()[0];
    assert_eq!(
        (
            parked["category"].as_str(),
            parked["urgency"].as_str(),
            parked["department"].as_str()
        ),
        (Some("0202"), Some("urgent"), Some("370200GA")),
        "{parked}"
    );
    assert_eq!(
        parked["reported_at"].as_str().unwrap()[..19],
        *"2026-11-02T01:20:00",
        "Beijing time read as such"
    );

    // The push API: the same work order pushed twice is one event.
    let push = json!({"channel": "hotline", "external_id": "RX9", "category": "0101",
                      "description": "人民路垃圾桶满溢", "address": "青岛市市北区人民路3号"});
    let (s, a) = call(&hub, &hub.operator_key, "/api/v1/events", &push).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let (_, b) = call(&hub, &hub.operator_key, "/api/v1/events", &push).await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(count(&hub).await, 4);
    // Placed by address only (at the district's centre): the same address is the same
    // place, another address in the district is not.
    let mut same = push.clone();
    same["external_id"] = json!("RX10");
    let (_, c) = call(&hub, &hub.operator_key, "/api/v1/events", &same).await;
    assert_eq!(
        (c["state"].as_str(), c["parent_id"].as_str()),
        (Some("merged"), a["id"].as_str()),
        "{c}"
    );
    let mut other = push.clone();
    other["external_id"] = json!("RX11");
    other["address"] = json!("青岛市市北区延安三路200号");
    let (_, d) = call(&hub, &hub.operator_key, "/api/v1/events", &other).await;
    assert_eq!(
        d["state"], "dispatched",
        "another street is another problem: {d}"
    );

    // A camera: registered by the command centre, its secret shown once.
    let camera = json!({"id": "CAM-1", "name": "台东三路步行街", "kind": "camera",
                        "lat": 36.0897, "lon": 120.3541, "department": "370200GA", "category": "0202"});
    let (s, _) = call(&hub, &hub.ga_key, "/api/v1/events/devices", &camera).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, d) = call(&hub, &hub.operator_key, "/api/v1/events/devices", &camera).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let secret = d["secret"].as_str().unwrap().to_string();
    assert_eq!(d["district"], "370203");
    let (_, listed) = json_of(hub.get(&hub.operator_key, "/api/v1/events/devices").await).await;
    assert!(
        listed[0].get("secret").is_none() && listed[0]["id"] == "CAM-1",
        "{listed}"
    );

    // Its alert, signed: an event at its place with the frame; sent again, the same event.
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"alert_id": "A-77", "description": "检测到机动车违停", "score": 0.93, "image": "/9j/4AAQSkZJRg=="}"#;
    let sig = shuniu_events::sign_alert(&secret, &now.to_string(), body.as_bytes());
    let (s, ev) = alert(&hub, "CAM-1", now, &sig, body).await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    assert_eq!(
        (
            ev["category"].as_str(),
            ev["district"].as_str(),
            ev["department"].as_str()
        ),
        (Some("0202"), Some("370203"), Some("370200GA")),
        "{ev}"
    );
    let (_, again) = alert(&hub, "CAM-1", now, &sig, body).await;
    assert_eq!(
        again["id"], ev["id"],
        "an alert is one event however often sent"
    );
    for (ts, sig, why) in [
        (
            now,
            sig.replace("hmac-sm3=", "hmac-sm3=00"),
            "a wrong signature",
        ),
        (
            now - 600,
            shuniu_events::sign_alert(&secret, &(now - 600).to_string(), body.as_bytes()),
            "a stale time",
        ),
        (
            now,
            shuniu_events::sign_alert("dvsec_guess", &now.to_string(), body.as_bytes()),
            "another key",
        ),
    ] {
        let (s, e) = alert(&hub, "CAM-1", ts, &sig, body).await;
        assert_eq!(
            (s, error_code(&e)),
            (StatusCode::UNAUTHORIZED, "EVENT_SIGNATURE"),
            "{why}: {e}"
        );
    }
    let (s, _) = alert(&hub, "CAM-9", now, &sig, body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an unknown device");

    // The frame is served to those who may see the event, and to nobody else.
    let id = ev["id"].as_str().unwrap();
    let (_, view) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/events/{id}"))
            .await,
    )
    .await;
    assert_eq!(view["channel"], "sensor");
    assert_eq!(view["attributes"]["score"], "0.930");
    let photo = view["steps"][0]["photos"][0].as_str().unwrap().to_string();
    let digest = photo
        .strip_prefix("media:")
        .expect("a kept photo")
        .to_string();
    let r = hub
        .get(&hub.ga_key, &format!("/api/v1/events/{id}/media/{digest}"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the handling department sees the frame"
    );
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF"
    );
    let r = hub
        .get(&hub.mz_key, &format!("/api/v1/events/{id}/media/{digest}"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another department does not"
    );

    // A photo that is not one is refused with the step.
    let (s, e) = act(
        &hub,
        &hub.ga_key,
        id,
        json!({"action": "accept", "photos": ["PGh0bWw+"]}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EVENT_PHOTO_TYPE"),
        "{e}"
    );
}
