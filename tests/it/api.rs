use crate::harness::{Hub, error_code, error_fields, json_of, resource};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn probes_openapi_and_metrics() {
    let hub = Hub::start().await;
    let r = hub.client.get(hub.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Every answer names its request, as every log line written while answering it does.
    let first = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let r = hub.client.get(hub.url("/healthz")).send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"].to_str().unwrap(), first);
    // A proxy's own request id is kept.
    let r = hub
        .client
        .get(hub.url("/healthz"))
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "proxy-42");
    let r = hub.client.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, doc) = json_of(
        hub.client
            .get(hub.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/catalog/resources",
        "/api/v1/catalog/resources/{code}",
        "/api/v1/catalog/import",
        "/api/v1/departments",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    hub.get(&hub.operator_key, "/api/v1/me").await;
    let metrics = hub
        .client
        .get(hub.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("shuniu_http_requests_total"), "{metrics}");
}

#[tokio::test]
async fn unauthenticated_calls_get_the_error_shape() {
    let hub = Hub::start().await;
    let r = hub
        .client
        .get(hub.url("/api/v1/catalog/resources"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(!body["error"]["message_zh"].as_str().unwrap().is_empty());
    assert!(!body["error"]["message_en"].as_str().unwrap().is_empty());
    let (status, _) = json_of(hub.get("snk_not-a-real-key", "/api/v1/me").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = json_of(hub.get(&hub.operator_key, "/api/v1/nope").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn lifecycle_from_draft_to_published_with_history() {
    let hub = Hub::start().await;
    let code = hub
        .register(&hub.ga_key, &resource("户籍人口基本信息"))
        .await;
    assert_eq!(
        code, "101001-370200GA-00001",
        "code from classification + provider + sequence"
    );
    let second = hub
        .register(&hub.ga_key, &resource("户籍人口补充信息"))
        .await;
    assert_eq!(second, "101001-370200GA-00002");

    let (_, body) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/catalog/resources/{code}"))
            .await,
    )
    .await;
    assert_eq!(body["status"], "draft");
    assert_eq!(
        body["metadata"]["data_items"][0]["masking"], "id_number",
        "masking defaults from the semantic type"
    );

    // An officer cannot review; the hub cannot review what was not submitted.
    let (status, body) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{code}/review"),
            &json!({"decision": "publish"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "FORBIDDEN_ROLE");
    let (status, body) = json_of(
        hub.post(
            &hub.operator_key,
            &format!("/api/v1/catalog/resources/{code}/review"),
            &json!({"decision": "publish"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "INVALID_STATE");

    hub.post(
        &hub.ga_key,
        &format!("/api/v1/catalog/resources/{code}/submit"),
        &json!({}),
    )
    .await;
    // Returning needs a reason.
    let (status, body) = json_of(
        hub.post(
            &hub.operator_key,
            &format!("/api/v1/catalog/resources/{code}/review"),
            &json!({"decision": "return"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["reason"]);
    let (status, body) = json_of(
        hub.post(
            &hub.operator_key,
            &format!("/api/v1/catalog/resources/{code}/review"),
            &json!({"decision": "return", "reason": "请补充数据来源系统"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "returned");
    assert_eq!(body["status_note"], "请补充数据来源系统");

    // The officer fixes and resubmits; the hub publishes.
    let mut fixed = resource("户籍人口基本信息");
    fixed["summary"] = json!("全市户籍人口的身份和地址信息，来源于公安人口管理系统");
    let (status, body) = json_of(
        hub.put(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{code}"),
            &json!({"expected_version": 1, "resource": fixed}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    hub.publish(&hub.ga_key, &code).await;

    let (_, history) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/catalog/resources/{code}/history"),
        )
        .await,
    )
    .await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "submitted",
            "returned",
            "updated",
            "submitted",
            "published"
        ]
    );
    assert_eq!(history[0]["actor"], "app:ga");
    assert_eq!(history[5]["actor"], "app:op");

    // Withdrawal keeps the entry and its history.
    let (status, body) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{code}/withdraw"),
            &json!({"reason": "已并入新目录"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "withdrawn");
    let (_, history) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{code}/history"),
        )
        .await,
    )
    .await;
    assert_eq!(history.as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn stale_updates_are_refused() {
    let hub = Hub::start().await;
    let code = hub.register(&hub.ga_key, &resource("流动人口信息")).await;
    let path = format!("/api/v1/catalog/resources/{code}");
    let body = json!({"expected_version": 1, "resource": resource("流动人口居住登记信息")});
    assert_eq!(
        hub.put(&hub.ga_key, &path, &body).await.status(),
        StatusCode::OK
    );
    let (status, body) = json_of(hub.put(&hub.ga_key, &path, &body).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "VERSION_MISMATCH");
    // Moving a resource to another department is refused.
    let mut other = resource("流动人口信息");
    other["provider"] = json!("370200MZ");
    let (status, body) = json_of(
        hub.put(&hub.operator_key, &path, &json!({"resource": other}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["provider"]);
}

async fn total(hub: &Hub, key: &str, query: &str) -> u64 {
    let (status, body) = json_of(
        hub.get(key, &format!("/api/v1/catalog/resources?{query}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["total"].as_u64().unwrap()
}

#[tokio::test]
async fn invalid_metadata_names_every_field_and_writes_nothing() {
    let hub = Hub::start().await;
    let mut bad = resource("");
    bad["share_type"] = json!("随便共享");
    bad["level"] = json!("绝密");
    bad["data_items"][1]["name"] = json!("Bad Name");
    bad["data_items"][2]["masking"] = json!("不脱敏");
    let (status, body) = json_of(
        hub.post(&hub.ga_key, "/api/v1/catalog/resources", &bad)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "VALIDATION_FAILED");
    let fields = error_fields(&body);
    for f in [
        "name",
        "share_type",
        "level",
        "data_items[1].name",
        "data_items[2].masking",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    for f in body["error"]["fields"].as_array().unwrap() {
        assert!(
            !f["message_zh"].as_str().unwrap().is_empty()
                && !f["message_en"].as_str().unwrap().is_empty()
        );
    }

    let mut negative = resource("在逃人员信息");
    negative["share_type"] = json!("不予共享");
    let (status, body) = json_of(
        hub.post(&hub.ga_key, "/api/v1/catalog/resources", &negative)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["legal_basis"]);

    let mut long = resource("人");
    long["name"] = json!("人".repeat(101));
    long["data_items"][0]["length"] = json!(70000);
    let (_, body) = json_of(
        hub.post(&hub.ga_key, "/api/v1/catalog/resources", &long)
            .await,
    )
    .await;
    assert_eq!(error_fields(&body), vec!["name", "data_items[0].length"]);
    assert_eq!(body["error"]["fields"][0]["code"], "FIELD_TOO_LONG");

    let mut unknown = resource("户籍");
    unknown["provider"] = json!("NOPE");
    let (_, body) = json_of(
        hub.post(&hub.operator_key, "/api/v1/catalog/resources", &unknown)
            .await,
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["code"], "PROVIDER_UNKNOWN");
    let mut related = resource("户籍");
    related["related"] = json!(["999-NOPE-00001"]);
    let (_, body) = json_of(
        hub.post(&hub.ga_key, "/api/v1/catalog/resources", &related)
            .await,
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["code"], "RELATED_UNKNOWN");

    // Malformed JSON and wrong types get the same error shape.
    let r = hub
        .client
        .post(hub.url("/api/v1/catalog/resources"))
        .bearer_auth(&hub.ga_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "BAD_REQUEST");
    let (status, body) = json_of(
        hub.post(
            &hub.ga_key,
            "/api/v1/catalog/resources",
            &json!({"name": 5}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "VALIDATION_FAILED");

    assert_eq!(
        total(&hub, &hub.operator_key, "").await,
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn roles_and_departments_are_enforced() {
    let hub = Hub::start().await;
    // An officer registers only for its own department; a viewer not at all.
    let mut mz = resource("低保家庭信息");
    mz["provider"] = json!("370200MZ");
    let (status, body) = json_of(
        hub.post(&hub.ga_key, "/api/v1/catalog/resources", &mz)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "FORBIDDEN_DEPARTMENT");
    let (status, body) = json_of(
        hub.post(&hub.viewer_key, "/api/v1/catalog/resources", &mz)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&body), "FORBIDDEN_ROLE");

    // A draft is the department's own: others neither read nor find it.
    let code = hub.register(&hub.ga_key, &resource("户籍人口草稿")).await;
    let (status, _) = json_of(
        hub.get(&hub.mz_key, &format!("/api/v1/catalog/resources/{code}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(total(&hub, &hub.mz_key, "q=户籍").await, 0);
    assert_eq!(total(&hub, &hub.ga_key, "q=户籍").await, 1);
    assert_eq!(total(&hub, &hub.operator_key, "q=户籍").await, 1);
    let (status, _) = json_of(
        hub.post(
            &hub.mz_key,
            &format!("/api/v1/catalog/resources/{code}/submit"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "others' drafts are not acknowledged"
    );
    hub.publish(&hub.ga_key, &code).await;
    assert_eq!(
        total(&hub, &hub.mz_key, "q=户籍").await,
        1,
        "published entries are the city's catalog"
    );

    // Administration is the hub's.
    let dept = json!({"code": "370200JY", "name": "青岛市教育局", "short_name": "教育", "division": "370200"});
    let (status, body) = json_of(hub.post(&hub.ga_key, "/api/v1/departments", &dept).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = json_of(
        hub.post(&hub.operator_key, "/api/v1/departments", &dept)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = json_of(
        hub.post(&hub.operator_key, "/api/v1/departments", &dept)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "DEPARTMENT_EXISTS");
    let bad = json!({"code": "X/Y", "name": "", "short_name": "x", "division": "990000", "credit_code": "914403001922038217", "parent_code": "NOPE"});
    let (_, body) = json_of(
        hub.post(&hub.operator_key, "/api/v1/departments", &bad)
            .await,
    )
    .await;
    let fields = error_fields(&body);
    for f in ["code", "name", "division", "credit_code", "parent_code"] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    let (_, depts) = json_of(hub.get(&hub.viewer_key, "/api/v1/departments").await).await;
    let child = depts
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "370212GA")
        .unwrap();
    assert_eq!(
        child["parent_code"], "370200GA",
        "district departments hang under the city's"
    );

    // A new application's key works at once, and a revoked one never again.
    let (status, body) = json_of(hub.post(&hub.operator_key, "/api/v1/applications", &json!({"id": "jy-system", "name": "招生系统", "department": "370200JY", "role": "viewer"})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = body["key"].as_str().unwrap().to_string();
    let (_, me) = json_of(hub.get(&key, "/api/v1/me").await).await;
    assert_eq!(me["department"], "370200JY");
    let (_, apps) = json_of(hub.get(&hub.operator_key, "/api/v1/applications").await).await;
    assert!(
        apps.as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("key").is_none()),
        "keys are never listed"
    );
}

#[tokio::test]
async fn search_is_chinese_faceted_paged_and_immediate() {
    let hub = Hub::start().await;
    for name in [
        "户籍人口基本信息",
        "流动人口居住登记信息",
        "机动车登记信息",
        "居民身份证制证信息",
    ] {
        let mut r = resource(name);
        r["summary"] = json!(format!("{name}汇总"));
        r["subject_name"] = json!(name);
        let code = hub.register(&hub.ga_key, &r).await;
        hub.publish(&hub.ga_key, &code).await;
    }
    let mut mz = resource("婚姻登记信息");
    mz["provider"] = json!("370200MZ");
    mz["share_type"] = json!("无条件共享");
    mz["summary"] = json!("结婚离婚登记");
    mz["subject_name"] = json!("婚姻");
    let mz_code = hub.register(&hub.mz_key, &mz).await;
    // Found as soon as the call that changed it answered, before any publishing.
    assert_eq!(total(&hub, &hub.mz_key, "q=婚姻").await, 1);
    hub.publish(&hub.mz_key, &mz_code).await;

    assert_eq!(total(&hub, &hub.viewer_key, "q=户籍").await, 1);
    assert_eq!(total(&hub, &hub.viewer_key, "q=居住登记").await, 1);
    assert_eq!(
        total(&hub, &hub.viewer_key, "q=人口").await,
        5,
        "项 人口 is in every entry's classification"
    );
    assert_eq!(total(&hub, &hub.viewer_key, "q=登记").await, 3);
    assert_eq!(
        total(&hub, &hub.viewer_key, "q=公民身份号码").await,
        5,
        "data items are searched"
    );
    assert_eq!(
        total(&hub, &hub.viewer_key, "q=登记&share_type=unconditional").await,
        1
    );
    assert_eq!(total(&hub, &hub.viewer_key, "provider=370200GA").await, 4);
    assert_eq!(
        total(&hub, &hub.viewer_key, "q=民政局").await,
        1,
        "provider names are searched"
    );

    let (_, page) = json_of(
        hub.get(
            &hub.viewer_key,
            "/api/v1/catalog/resources?per_page=2&page=2",
        )
        .await,
    )
    .await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let providers = &page["facets"]["provider"];
    assert_eq!(providers[0]["value"], "370200GA");
    assert_eq!(providers[0]["count"], 4);
    assert_eq!(providers[0]["label"], "青岛市公安局");
    let item = &page["items"][0];
    for key in [
        "code",
        "name",
        "provider",
        "share_type",
        "open_type",
        "level",
    ] {
        assert!(!item[key].is_null(), "{key}");
    }

    // A change is reflected at once.
    let code = page["items"][0]["code"].as_str().unwrap().to_string();
    let (_, detail) = json_of(
        hub.get(
            &hub.operator_key,
            &format!("/api/v1/catalog/resources/{code}"),
        )
        .await,
    )
    .await;
    let mut changed: Value = detail["metadata"].clone();
    changed["category"] = json!("base");
    changed["name"] = json!("出入境证件信息");
    for key in [
        "format",
        "share_type",
        "open_type",
        "update_cycle",
        "level",
        "share_method",
    ] {
        changed[key] = detail["metadata"][key].clone();
    }
    changed["item_code"] = detail["metadata"]["classification"]["item_code"].clone();
    changed["item_name"] = detail["metadata"]["classification"]["item_name"].clone();
    changed["subject_code"] = detail["metadata"]["classification"]["subject_code"].clone();
    changed["subject_name"] = detail["metadata"]["classification"]["subject_name"].clone();
    let (status, body) = json_of(
        hub.put(
            &hub.operator_key,
            &format!("/api/v1/catalog/resources/{code}"),
            &json!({"resource": changed}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total(&hub, &hub.viewer_key, "q=出入境").await, 1);

    for bad in ["page=0", "per_page=201", "page=abc"] {
        let (status, body) = json_of(
            hub.get(&hub.viewer_key, &format!("/api/v1/catalog/resources?{bad}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&body), "BAD_REQUEST");
    }
}

#[tokio::test]
async fn negative_list_and_the_three_lists() {
    let hub = Hub::start().await;
    let mut negative = resource("在逃人员信息");
    negative["share_type"] = json!("不予共享");
    negative["legal_basis"] = json!("《中华人民共和国刑事诉讼法》第一百五十五条");
    let neg = hub.register(&hub.ga_key, &negative).await;
    hub.publish(&hub.ga_key, &neg).await;
    let mut open = resource("道路交通事故统计");
    open["share_type"] = json!("无条件共享");
    open["open_type"] = json!("无条件开放");
    open["level"] = json!("general_1");
    open["data_items"] =
        json!([{"name": "indicator", "label": "指标", "data_type": "字符型", "length": 50}]);
    let open_code = hub.register(&hub.ga_key, &open).await;
    hub.publish(&hub.ga_key, &open_code).await;
    let shared = hub.register(&hub.ga_key, &resource("户籍人口")).await;
    hub.publish(&hub.ga_key, &shared).await;
    hub.register(&hub.ga_key, &resource("未发布草稿")).await;

    let (_, list) = json_of(
        hub.get(&hub.viewer_key, "/api/v1/catalog/negative-list")
            .await,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["code"], neg.as_str());
    assert!(
        list[0]["legal_basis"]
            .as_str()
            .unwrap()
            .contains("刑事诉讼法")
    );

    let codes = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, agg) = json_of(
        hub.get(&hub.viewer_key, "/api/v1/catalog/lists/aggregation")
            .await,
    )
    .await;
    assert_eq!(agg["total"], 3, "drafts are not on the lists");
    let (_, sharing) = json_of(
        hub.get(&hub.viewer_key, "/api/v1/catalog/lists/sharing")
            .await,
    )
    .await;
    assert!(!codes(&sharing).contains(&neg));
    assert_eq!(sharing["total"], 2);
    let (_, open_list) =
        json_of(hub.get(&hub.viewer_key, "/api/v1/catalog/lists/open").await).await;
    assert_eq!(codes(&open_list), vec![open_code]);
    let r = hub
        .get(&hub.viewer_key, "/api/v1/catalog/lists/sharing?format=xlsx")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let (status, _) = json_of(
        hub.get(&hub.viewer_key, "/api/v1/catalog/lists/secret")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn import(hub: &Hub, key: &str, bytes: Vec<u8>, dry_run: bool) -> (StatusCode, Value) {
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/catalog/import?dry_run={dry_run}")))
        .bearer_auth(key)
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

#[tokio::test]
async fn excel_round_trip_is_all_or_nothing() {
    let hub = Hub::start().await;
    for name in ["户籍人口基本信息", "机动车登记信息"] {
        let code = hub.register(&hub.ga_key, &resource(name)).await;
        hub.publish(&hub.ga_key, &code).await;
    }
    let exported = hub
        .get(&hub.ga_key, "/api/v1/catalog/export")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();

    // The export imports as new drafts, with every data item.
    let (status, report) = import(&hub, &hub.ga_key, exported.clone(), true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["resources"], 2);
    assert!(report["errors"].as_array().unwrap().is_empty());
    assert!(
        report["imported"].as_array().unwrap().is_empty(),
        "dry run writes nothing"
    );
    assert_eq!(total(&hub, &hub.operator_key, "").await, 2);
    let (_, report) = import(&hub, &hub.ga_key, exported, false).await;
    assert_eq!(report["imported"].as_array().unwrap().len(), 2);
    let new_code = report["imported"][0].as_str().unwrap();
    let (_, detail) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{new_code}"),
        )
        .await,
    )
    .await;
    assert_eq!(detail["status"], "draft");
    assert_eq!(
        detail["metadata"]["data_items"].as_array().unwrap().len(),
        3
    );

    // One bad row anywhere: every problem reported with its row, nothing imported.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let header = [
        "资源名称",
        "提供部门代码",
        "资源分类",
        "项编码",
        "项名称",
        "目编码",
        "目名称",
        "资源摘要",
        "资源格式",
        "共享属性",
        "共享条件",
        "开放属性",
        "更新周期",
        "安全级别",
        "信息项英文名",
        "信息项名称",
        "数据类型",
        "数据长度",
        "是否个人信息",
        "语义类型",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let good = [
        "死亡登记信息",
        "370200GA",
        "基础信息资源",
        "1",
        "人口",
        "2",
        "死亡人口",
        "死亡登记",
        "数据库",
        "有条件共享",
        "用于待遇停发",
        "不予开放",
        "每日",
        "一般数据3级",
        "id_number",
        "公民身份号码",
        "字符型",
        "18",
        "是",
        "身份证号",
    ];
    let cont = [
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "death_date",
        "死亡日期",
        "日期型",
        "",
        "否",
        "",
    ];
    let bad = [
        "出生登记信息",
        "370200GA",
        "基础信息资源",
        "1",
        "人口",
        "3",
        "出生人口",
        "出生登记",
        "数据库",
        "随便共享",
        "",
        "不予开放",
        "每日",
        "一般数据3级",
        "id_number",
        "公民身份号码",
        "字符型",
        "abc",
        "是",
        "身份证号",
    ];
    for (r, row) in [good, cont, bad].iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    let (status, report) = import(&hub, &hub.ga_key, wb.save_to_buffer().unwrap(), false).await;
    assert_eq!(status, StatusCode::OK);
    let errors = report["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| e["row"] == 4), "{errors:?}");
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"share_type") && fields.contains(&"data_items[0].length"),
        "{fields:?}"
    );
    assert!(report["imported"].as_array().unwrap().is_empty());
    assert_eq!(
        total(&hub, &hub.operator_key, "").await,
        4,
        "the good row was not imported either"
    );

    // Not a workbook at all; a workbook without the required columns; another department's rows.
    let (status, body) = import(&hub, &hub.ga_key, b"PK\x03\x04 broken".to_vec(), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "WORKBOOK_UNREADABLE");
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet().write_string(0, 0, "资源名称").unwrap();
    let (status, body) = import(&hub, &hub.ga_key, wb.save_to_buffer().unwrap(), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["fields"][0]["code"],
        "WORKBOOK_COLUMNS_MISSING"
    );
    let exported = hub
        .get(&hub.ga_key, "/api/v1/catalog/export")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let (_, report) = import(&hub, &hub.mz_key, exported, false).await;
    assert_eq!(report["errors"][0]["code"], "FORBIDDEN_DEPARTMENT");
}

#[tokio::test]
async fn province_code_formats_never_duplicate_codes() {
    // A format without the provider: two departments share one sequence space, and codes that
    // exist already are skipped rather than duplicated.
    let hub = Hub::start_with(
        shuniu_types::CodeFormat::parse("SD{kind}{item}{subject}-{seq:4}").unwrap(),
    )
    .await;
    let a = hub
        .register(&hub.ga_key, &resource("户籍人口基本信息"))
        .await;
    let mut mz = resource("婚姻登记信息");
    mz["provider"] = json!("370200MZ");
    let b = hub.register(&hub.mz_key, &mz).await;
    let c = hub
        .register(&hub.ga_key, &resource("户籍人口补充信息"))
        .await;
    assert_eq!(a, "SD101001-0001");
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_ne!(a, c);
    for code in [&a, &b, &c] {
        assert!(code.starts_with("SD101001-"), "{code}");
    }
}

#[tokio::test]
async fn changes_made_by_another_server_process_become_searchable() {
    // Two catalogs over one control plane, as two server processes sharing PostgreSQL.
    let dir = tempfile::tempdir().unwrap();
    let url = crate::harness::database_url(dir.path()).await;
    let store = shuniu_store::Store::open(&url).await.unwrap();
    let audit = crate::harness::audit_log(dir.path(), &store).await;
    let accounts = shuniu_auth::accounts::Accounts::new(store.clone(), audit.clone());
    let root = shuniu_types::Actor::local_operator();
    accounts
        .create_department(
            &root,
            &shuniu_auth::accounts::DepartmentInput {
                code: "370200GA".into(),
                name: "青岛市公安局".into(),
                short_name: "公安".into(),
                division: "370200".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let a = shuniu_catalog::Catalog::open(store.clone(), Default::default(), audit)
        .await
        .unwrap();
    let store_b = shuniu_store::Store::open(&url).await.unwrap();
    let audit_b = crate::harness::audit_log(dir.path(), &store_b).await;
    let b = shuniu_catalog::Catalog::open(store_b, Default::default(), audit_b)
        .await
        .unwrap();
    let input: shuniu_types::ResourceInput =
        serde_json::from_value(resource("户籍人口基本信息")).unwrap();
    a.register(&root, &input).await.unwrap();
    let search = shuniu_catalog::SearchParams {
        text: "户籍".into(),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        b.search(&root, &search).await.unwrap().total,
        0,
        "not yet seen by the other process"
    );
    assert_eq!(b.refresh().await.unwrap(), 1);
    assert_eq!(b.search(&root, &search).await.unwrap().total, 1);
    assert_eq!(
        b.refresh().await.unwrap(),
        0,
        "nothing new, nothing re-indexed"
    );
}
