//! Indicators (城市大脑) through the HTTP API: a department defines an indicator over its own
//! dataset (a query that cannot compute it is refused when saved), the hub reviews and
//! publishes it, a computation writes values traced to the dataset version read, the list
//! shows the latest city figure, the series carries 环比, a bound crossed opens an alert that
//! becomes an event in the department's inbox, and new data resolves it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, error_code, error_fields, json_of};

async fn call(hub: &Hub, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(hub.post(key, path, body).await).await
}

async fn get(hub: &Hub, key: &str, path: &str) -> (StatusCode, Value) {
    json_of(hub.get(key, path).await).await
}

fn births() -> Value {
    json!({
        "name": "出生登记信息",
        "provider": "370200GA",
        "category": "基础信息资源",
        "item_code": 1, "item_name": "人口",
        "subject_code": 1, "subject_name": "户籍人口",
        "summary": "新生儿出生登记",
        "format": "数据库",
        "share_type": "有条件共享",
        "share_conditions": "用于统计分析",
        "open_type": "不予开放",
        "update_cycle": "每日",
        "level": "general_2",
        "data_items": [
            {"name": "record_id", "label": "登记编号", "data_type": "字符型", "length": 20, "is_key": true},
            {"name": "division", "label": "行政区划代码", "data_type": "字符型", "length": 6, "semantic_type": "行政区划代码"},
            {"name": "event_date", "label": "登记日期", "data_type": "日期型"}
        ]
    })
}

async fn load(hub: &Hub, code: &str, csv: &str) {
    let r = hub
        .client
        .post(hub.url(&format!(
            "/api/v1/datasets/{code}/loads?filename=births.csv&wait=true&mode=append"
        )))
        .bearer_auth(&hub.ga_key)
        .body(csv.to_string())
        .send()
        .await
        .expect("upload");
    let (s, l) = json_of(r).await;
    assert_eq!(
        (s, l["status"].as_str()),
        (StatusCode::OK, Some("succeeded")),
        "{l}"
    );
}

fn by_district(code: &str) -> Value {
    json!({
        "code": "IND-BIRTHS-D",
        "name": "出生登记数（分区）",
        "definition": "出生登记按区（市）统计的人数。",
        "unit": "人",
        "department": "370200GA",
        "resources": [code],
        "sql": format!("SELECT division AS district, COUNT(*) AS value FROM \"{code}\" GROUP BY division"),
        "grain": "month",
        "dimensions": ["district"],
        "schedule": "0 2 * * *",
        "additive": true,
        "thresholds": {"lower": 2},
        "severity": "warning",
        "event_category": "0501"
    })
}

#[tokio::test]
async fn an_indicator_is_defined_reviewed_computed_traced_and_alerts_reach_the_owner() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &births()).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "record_id,division,event_date\n\
         B1,370202,2026-09-03\nB2,370202,2026-10-11\nB3,370202,2026-10-12\n\
         B4,370203,2026-10-20\nB5,370202,2026-11-02\n",
    )
    .await;
    // The alerts' category in the event tree.
    for c in [
        json!({"code": "05", "name": "城市运行", "hours": [24, 8, 4]}),
        json!({"code": "0501", "name": "指标预警", "parent": "05", "hours": [24, 8, 4]}),
    ] {
        let (s, v) = call(&hub, &hub.operator_key, "/api/v1/events/categories", &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    // Refused when saved: a query that does not run, one without `value`, a bad field.
    let mut bad = by_district(&code);
    bad["sql"] = json!(format!(
        "SELECT division AS district, COUNT(*) AS value FROM \"{code}\" GROUP BY nowhere"
    ));
    let (s, e) = call(&hub, &hub.ga_key, "/api/v1/indicators", &bad).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INDICATOR_QUERY"),
        "{e}"
    );
    bad["sql"] = json!(format!(
        "SELECT division AS district, COUNT(*) AS n FROM \"{code}\" GROUP BY division"
    ));
    let (s, e) = call(&hub, &hub.ga_key, "/api/v1/indicators", &bad).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INDICATOR_QUERY"),
        "{e}"
    );
    assert!(
        e["error"]["message_zh"]
            .as_str()
            .unwrap_or("")
            .contains("value"),
        "{e}"
    );
    bad = by_district(&code);
    bad["grain"] = json!("week");
    bad["event_category"] = json!("");
    let (s, e) = call(&hub, &hub.ga_key, "/api/v1/indicators", &bad).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INDICATOR_INVALID"),
        "{e}"
    );
    assert!(error_fields(&e).contains(&"grain".to_string()), "{e}");
    // Another department's officer may not define the GA's indicator.
    let (s, _) = call(&hub, &hub.mz_key, "/api/v1/indicators", &by_district(&code)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, saved) = call(&hub, &hub.ga_key, "/api/v1/indicators", &by_district(&code)).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(
        (saved["version"].as_i64(), saved["state"].as_str()),
        (Some(1), Some("draft"))
    );
    assert_eq!(saved["rows"], 3, "two districts and the city: {saved}");
    // Not computed before the hub publishes it.
    let (s, e) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::CONFLICT, "INDICATOR_STATE"),
        "{e}"
    );
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/submit",
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/review",
        &json!({"publish": true}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the hub reviews");
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/IND-BIRTHS-D/review",
        &json!({"publish": false}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a return needs its reason: {e}"
    );
    let (s, v) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/IND-BIRTHS-D/review",
        &json!({"publish": true}),
    )
    .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("published")),
        "{v}"
    );

    // A monthly series over the same data, with no breakdown.
    let monthly = json!({
        "code": "IND-BIRTHS-M", "name": "月度出生登记数", "unit": "人", "department": "370200GA",
        "resources": [code],
        "sql": format!("SELECT substr(CAST(event_date AS VARCHAR), 1, 7) AS period, COUNT(*) AS value FROM \"{code}\" GROUP BY 1"),
        "grain": "month", "schedule": "0 2 * * *", "additive": true
    });
    let (s, v) = call(&hub, &hub.ga_key, "/api/v1/indicators", &monthly).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-M/submit",
        &json!({}),
    )
    .await;
    call(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/IND-BIRTHS-M/review",
        &json!({"publish": true}),
    )
    .await;

    let (s, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(
        (s, run["state"].as_str()),
        (StatusCode::OK, Some("succeeded")),
        "{run}"
    );
    assert_eq!(
        run["alerts_opened"], 1,
        "370203 has one birth, under the bound of 2: {run}"
    );
    let (s, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-M/compute",
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{run}");

    // The list: code, name, unit and the latest city-wide value.
    let (s, list) = get(&hub, &hub.viewer_key, "/api/v1/indicators").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let d = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "IND-BIRTHS-D")
        .expect("listed")
        .clone();
    assert_eq!(
        (d["name"].as_str(), d["unit"].as_str(), d["value"].as_f64()),
        (Some("出生登记数（分区）"), Some("人"), Some(5.0)),
        "{d}"
    );
    assert_eq!(d["open_alerts"], 1);

    // The series: by district; and month by month with 环比.
    let (s, series) = get(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/values?district=370202",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{series}");
    let values = series["values"].as_array().unwrap();
    assert_eq!(
        (values.len(), values[0]["value"].as_f64()),
        (1, Some(4.0)),
        "{series}"
    );
    let (_, series) = get(&hub, &hub.ga_key, "/api/v1/indicators/IND-BIRTHS-M/values").await;
    let months: Vec<(String, f64)> = series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_string(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        vec![
            ("2026-09".into(), 1.0),
            ("2026-10".into(), 3.0),
            ("2026-11".into(), 1.0)
        ]
    );
    let oct = &series["values"][1];
    assert_eq!(
        oct["mom"].as_f64(),
        Some(2.0),
        "three against one: +200 %: {oct}"
    );
    let (s, e) = get(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-M/values?from=2026-13",
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
        "{e}"
    );
    assert_eq!(e["error"]["fields"][0]["code"], "INDICATOR_PERIOD", "{e}");

    // Traced: the run names the dataset version it read.
    let (_, detail) = get(&hub, &hub.ga_key, "/api/v1/indicators/IND-BIRTHS-D").await;
    let sources = &detail["runs"][0]["sources"];
    assert_eq!(
        (
            sources[0]["resource"].as_str(),
            sources[0]["version"].as_i64()
        ),
        (Some(code.as_str()), Some(0)),
        "{detail}"
    );
    assert!(
        detail["runs"][0]["values_version"].as_i64().is_some(),
        "{detail}"
    );
    assert_eq!(detail["spec"]["dimensions"], json!(["district"]));

    // The alert is an event in the GA's inbox, from the indicator channel.
    let (_, alerts) = get(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/alerts?state=open",
    )
    .await;
    let alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["indicator"] == "IND-BIRTHS-D")
        .expect("alert")
        .clone();
    assert_eq!(
        (
            alert["district"].as_str(),
            alert["kind"].as_str(),
            alert["value"].as_f64()
        ),
        (Some("370203"), Some("lower"), Some(1.0)),
        "{alert}"
    );
    let event = alert["event_id"].as_str().expect("filed as an event");
    let (s, e) = get(&hub, &hub.ga_key, &format!("/api/v1/events/{event}")).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        (
            e["channel"].as_str(),
            e["department"].as_str(),
            e["category"].as_str()
        ),
        (Some("indicator"), Some("370200GA"), Some("0501")),
        "{e}"
    );

    // The same run again keeps the alert (no second event); new data resolves it.
    let (_, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(
        (
            run["alerts_opened"].as_i64(),
            run["alerts_resolved"].as_i64()
        ),
        (Some(0), Some(0)),
        "{run}"
    );
    load(
        &hub,
        &code,
        "record_id,division,event_date\nB6,370203,2026-11-05\n",
    )
    .await;
    let (_, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(run["alerts_resolved"], 1, "{run}");
    let (_, detail) = get(&hub, &hub.ga_key, "/api/v1/indicators/IND-BIRTHS-D").await;
    assert_eq!(
        detail["runs"][0]["sources"][0]["version"], 1,
        "the new version was read: {detail}"
    );
    assert_eq!(detail["value"].as_f64(), Some(6.0));
    assert_eq!(detail["alerts"][0]["state"], "resolved");

    // The scheduler computes what is due (the server's minute tick calls the same engine).
    let mut row = hub.store.indicator("IND-BIRTHS-M").await.unwrap().unwrap();
    assert!(row.next_run_at.is_some(), "scheduled when published");
    row.next_run_at = Some("2020-01-01T00:00:00.000Z".into());
    let mut tx = hub.store.begin().await.unwrap();
    tx.put_indicator(&row).await.unwrap();
    tx.commit().await.unwrap();
    let (s, _) = call(&hub, &hub.ga_key, "/api/v1/indicators/run-due", &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the hub runs the schedule");
    let (s, due) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/run-due",
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{due}");
    let codes: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["IND-BIRTHS-M"], "only what was due: {due}");
    let (_, detail) = get(&hub, &hub.ga_key, "/api/v1/indicators/IND-BIRTHS-M").await;
    assert_eq!(detail["runs"][0]["trigger"], "schedule", "{detail}");
    assert!(
        detail["next_run_at"].as_str().unwrap() > "2026-01-01",
        "the next run is set again: {detail}"
    );

    // A backfill of one period writes only that period.
    let (s, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-M/compute",
        &json!({"from": "2026-10", "to": "2026-10"}),
    )
    .await;
    assert_eq!(
        (s, run["rows"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{run}"
    );
}

/// The hub's own figures: recorded once a day into `_hub_figures`, read by the built-in
/// indicators like any table, each value traced to the table's version; a department may
/// define its own indicator over them.
#[tokio::test]
async fn the_hubs_own_figures_feed_the_built_in_indicators() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &births()).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "record_id,division,event_date\nB1,370202,2026-09-03\nB2,370203,2026-10-11\n",
    )
    .await;
    let root = shuniu_types::Actor::local_operator();
    let ind = &hub.engines.indicators;
    // The server's first tick may have recorded today's figures already (before the resource
    // was published): record the figures as they stand now for a later day.
    let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("day");
    let figures = hub.engines.hub_figures().await.expect("figures");
    let resources = figures
        .iter()
        .find(|f| f.figure == "catalog.resources" && f.department.is_empty())
        .map(|f| f.value);
    assert_eq!(resources, Some(1.0), "{figures:?}");
    let rows = figures
        .iter()
        .find(|f| f.figure == "aggregation.rows_30d" && f.department == "370200GA")
        .map(|f| f.value);
    assert_eq!(rows, Some(2.0), "{figures:?}");
    assert!(
        ind.record_figures(&root, day, &figures)
            .await
            .expect("record")
    );
    // A day is recorded once: a second recording of the same day (or an earlier one) does
    // nothing.
    assert!(
        !ind.record_figures(&root, day, &figures)
            .await
            .expect("again")
    );
    assert!(
        !ind.record_figures(&root, day.pred_opt().expect("day before"), &figures)
            .await
            .expect("earlier")
    );
    // Only the hub records them.
    let officer = shuniu_types::Actor {
        principal: "ga".into(),
        display_name: "ga".into(),
        role: shuniu_types::Role::DataOfficer,
        department: "370200GA".into(),
    };
    assert!(
        ind.record_figures(&officer, day.succ_opt().expect("next"), &figures)
            .await
            .is_err()
    );

    let installed = ind
        .install_builtin(&root, "370200DSJ")
        .await
        .expect("install");
    assert_eq!(installed, shuniu_indicators::figures::FIGURES.len());
    // Installing again leaves them as they are.
    assert_eq!(
        ind.install_builtin(&root, "370200DSJ")
            .await
            .expect("again"),
        0
    );
    for c in ["HUB-CATALOG-RESOURCES", "HUB-AGG-ROWS"] {
        let (s, v) = call(
            &hub,
            &hub.operator_key,
            &format!("/api/v1/indicators/{c}/compute"),
            &json!({}),
        )
        .await;
        assert_eq!((s, &v["error"]), (StatusCode::OK, &Value::Null), "{v}");
    }
    let (s, list) = get(&hub, &hub.operator_key, "/api/v1/indicators").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let find = |c: &str| {
        list.as_array()
            .and_then(|a| a.iter().find(|i| i["code"] == c))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let catalog = find("HUB-CATALOG-RESOURCES");
    assert_eq!(
        (catalog["value"].as_f64(), catalog["period"].as_str()),
        (Some(1.0), Some("2030-01-01")),
        "{catalog}"
    );
    assert_eq!(find("HUB-AGG-ROWS")["value"].as_f64(), Some(2.0));
    assert_eq!(find("HUB-UNIFIED-SHARE")["key"], json!(true));
    // Traced to the version of the figures' table it read.
    let (s, detail) = get(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/HUB-CATALOG-RESOURCES",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    let sources = &detail["runs"][0]["sources"];
    assert_eq!(sources[0]["resource"], json!("_hub_figures"), "{detail}");

    // A department's own indicator over the hub's figures: its part of the catalog.
    let (s, v) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators",
        &json!({
            "code": "IND-GA-RESOURCES",
            "name": "公安局已发布目录资源数",
            "unit": "个",
            "department": "370200GA",
            "resources": ["_hub_figures"],
            "sql": "SELECT day AS period, value FROM \"_hub_figures\" WHERE figure = 'catalog.resources' AND department = '370200GA'",
            "grain": "day"
        }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sample"][0]["value"].as_f64(), Some(1.0), "{v}");
}

/// An indicator's alerts call its owner's system: a signed POST when an alert opens and when
/// it resolves, put in the outbox with the alert itself, retried while the receiver fails.
#[tokio::test]
async fn alerts_call_the_owners_webhook_signed() {
    use std::sync::{Arc, Mutex};
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &births()).await;
    hub.publish(&hub.ga_key, &code).await;
    load(
        &hub,
        &code,
        "record_id,division,event_date\nB1,370202,2026-10-03\nB2,370202,2026-10-11\nB3,370203,2026-10-20\n",
    )
    .await;
    for c in [
        json!({"code": "05", "name": "城市运行", "hours": [24, 8, 4]}),
        json!({"code": "0501", "name": "指标预警", "parent": "05", "hours": [24, 8, 4]}),
    ] {
        call(&hub, &hub.operator_key, "/api/v1/events/categories", &c).await;
    }
    // A receiver that fails its first call, then records what arrives.
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (sink, count) = (got.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |h: axum::http::HeaderMap, b: bytes::Bytes| {
            let (sink, count) = (sink.clone(), count.clone());
            async move {
                if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                sink.lock().unwrap().push((h, b));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut def = by_district(&code);
    def["webhook"] = json!("ftp://example.org/alerts");
    let (s, e) = call(&hub, &hub.ga_key, "/api/v1/indicators", &def).await;
    assert_eq!(
        (s, error_fields(&e)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["webhook".to_string()]
        ),
        "{e}"
    );
    // The hub's own network is out of reach until the operator allow-lists the host.
    def["webhook"] = json!(format!("http://{addr}/alerts"));
    let (s, e) = call(&hub, &hub.ga_key, "/api/v1/indicators", &def).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        e["error"]["fields"][0]["code"], "WEBHOOK_URL_FORBIDDEN",
        "{e}"
    );
    hub.sharing.allow_webhook_hosts(vec!["127.0.0.1".into()]);
    let (s, saved) = call(&hub, &hub.ga_key, "/api/v1/indicators", &def).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    let secret = saved["webhook_secret"]
        .as_str()
        .expect("the secret is told when saved")
        .to_string();
    call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/submit",
        &json!({}),
    )
    .await;
    call(
        &hub,
        &hub.operator_key,
        "/api/v1/indicators/IND-BIRTHS-D/review",
        &json!({"publish": true}),
    )
    .await;
    let (_, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(run["alerts_opened"], 1, "{run}");

    // Delivered by the sender (the server's background round runs it too): the first
    // attempt fails and is kept for a retry.
    let mut waited = 0;
    loop {
        hub.sharing.run_notifications().await.expect("round");
        let (s, list) = notifications(&hub).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        if list[0]["attempts"].as_i64() >= Some(1) {
            assert_eq!(
                list[0]["state"], "pending",
                "retried after a failure: {list}"
            );
            assert_eq!(list[0]["last_error"], "HTTP 503", "{list}");
            break;
        }
        waited += 1;
        assert!(waited < 50, "{list}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Another department does not see the owner's calls.
    let (s, _) = get(
        &hub,
        &hub.mz_key,
        "/api/v1/indicators/IND-BIRTHS-D/notifications",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The retry is due after its backoff (2 s), then delivered.
    let mut waited = 0;
    while got.lock().unwrap().is_empty() {
        hub.sharing.run_notifications().await.expect("round");
        waited += 1;
        assert!(waited < 100, "not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (headers, body) = got.lock().unwrap()[0].clone();
    let ts = headers["x-shuniu-timestamp"].to_str().unwrap();
    assert_eq!(
        headers["x-shuniu-signature"].to_str().unwrap(),
        shuniu_sharing::webhooks::sign(&secret, ts, &body),
        "signed with the indicator's secret"
    );
    assert_eq!(headers["x-shuniu-event"], "indicator.alert.opened");
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (
            b["indicator"].as_str(),
            b["district"].as_str(),
            b["kind"].as_str(),
            b["value"].as_f64(),
            b["bound"].as_f64()
        ),
        (
            Some("IND-BIRTHS-D"),
            Some("370203"),
            Some("lower"),
            Some(1.0),
            Some(2.0)
        ),
        "{b}"
    );
    let (_, list) = notifications(&hub).await;
    assert_eq!(
        (list[0]["state"].as_str(), list[0]["attempts"].as_i64()),
        (Some("delivered"), Some(2)),
        "{list}"
    );

    // New data resolves the alert: the owner's system hears that too.
    load(
        &hub,
        &code,
        "record_id,division,event_date\nB4,370203,2026-10-25\n",
    )
    .await;
    let (_, run) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/compute",
        &json!({}),
    )
    .await;
    assert_eq!(run["alerts_resolved"], 1, "{run}");
    let mut waited = 0;
    while got.lock().unwrap().len() < 2 {
        hub.sharing.run_notifications().await.expect("round");
        waited += 1;
        assert!(waited < 50, "resolution not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (headers, body) = got.lock().unwrap()[1].clone();
    assert_eq!(headers["x-shuniu-event"], "indicator.alert.resolved");
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(b["state"], "resolved", "{b}");
}

async fn notifications(hub: &Hub) -> (StatusCode, Value) {
    get(
        hub,
        &hub.ga_key,
        "/api/v1/indicators/IND-BIRTHS-D/notifications",
    )
    .await
}
