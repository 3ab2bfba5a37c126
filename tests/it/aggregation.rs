//! Aggregation through the HTTP API: uploads, pushes, reports, rejected rows, previews,
//! versions, mappings, SQL, connectors — and who may do what.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Hub, error_code, json_of, resource};

const CSV: &str = "公民身份号码,姓名,住址\n\
110101199003070011,张三,青岛市市南区香港中路1号\n\
110101199003070038,李四,\"青岛市市北区辽宁路2号,3单元\"\n\
,王五,无主键\n\
110101199003070054,赵六,青岛市崂山区海尔路5号\n";

async fn upload(
    hub: &Hub,
    key: &str,
    code: &str,
    query: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = hub
        .client
        .post(hub.url(&format!("/api/v1/datasets/{code}/loads?{query}")))
        .bearer_auth(key)
        .body(body)
        .send()
        .await
        .expect("upload");
    json_of(r).await
}

async fn published(hub: &Hub, name: &str) -> String {
    let code = hub.register(&hub.ga_key, &resource(name)).await;
    hub.publish(&hub.ga_key, &code).await;
    code
}

#[tokio::test]
async fn a_department_loads_its_data_and_sees_every_row_accounted_for() {
    let hub = Hub::start().await;
    let code = published(&hub, "户籍人口基本信息").await;
    let (gbk, _, _) = encoding_rs::GBK.encode(CSV);

    // GBK with Chinese headers, detected; one row without its key is rejected, not lost.
    let (s, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "filename=hj.csv&wait=true",
        gbk.to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["status"], "succeeded", "{l}");
    assert_eq!(l["version"], 0);
    assert_eq!(l["source_encoding"], "gb18030");
    assert_eq!(l["source_bytes"], gbk.len());
    assert_eq!(l["source_sm3"].as_str().unwrap().len(), 64);
    assert_eq!(
        (
            l["rows_read"].as_i64(),
            l["rows_accepted"].as_i64(),
            l["rows_rejected"].as_i64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(l["report"]["rejections_by_code"]["REQUIRED_MISSING"], 1);
    assert_eq!(l["report"]["rejection_samples"][0]["line"], 4);
    let load_id = l["id"].as_str().unwrap().to_string();

    // The rejected row is downloadable, with its line and reason.
    let r = hub
        .get(&hub.ga_key, &format!("/api/v1/loads/{load_id}/rejects"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("REQUIRED_MISSING")
            && text.contains("王五")
            && text.contains("\n4,id_number,"),
        "{text}"
    );

    // The provider previews; other departments and viewers may not see the rows.
    let (s, p) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/datasets/{code}/preview"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["columns"], json!(["id_number", "name", "address"]));
    assert_eq!(p["rows"].as_array().unwrap().len(), 3);
    assert!(p["rows"].to_string().contains("3单元"));
    for key in [&hub.mz_key, &hub.viewer_key] {
        let (s, b) = json_of(
            hub.get(key, &format!("/api/v1/datasets/{code}/preview"))
                .await,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    // Nor load into it.
    let (s, b) = upload(&hub, &hub.mz_key, &code, "wait=true", CSV.into()).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::FORBIDDEN, "FORBIDDEN_DEPARTMENT"),
        "{b}"
    );

    // A department system pushes changes: one upsert, one new version.
    let (s, l) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/rows"),
            &json!({"mode": "upsert", "rows": [
                {"id_number": "110101199003070011", "name": "张三", "address": "青岛市黄岛区长江中路9号"},
                {"公民身份号码": "110101199003070070", "姓名": "钱七", "住址": "青岛市李沧区"}
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(
        (
            l["version"].as_i64(),
            l["rows_updated"].as_i64(),
            l["rows_inserted"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{l}"
    );

    // Whole-load failures keep the previous version: unknown columns, too many rejections,
    // duplicate keys in an upsert, an empty file.
    let (s, b) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true",
        "id_number,salary\n1,2\n".into(),
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_COLUMNS"),
        "{b}"
    );
    assert!(
        b["error"]["message_zh"]
            .as_str()
            .unwrap()
            .contains("salary")
    );
    let (s, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true",
        "id_number,name\n,a\n,b\n1,c\n".into(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (l["status"].as_str(), l["error_code"].as_str()),
        (Some("failed"), Some("TOO_MANY_REJECTED")),
        "{l}"
    );
    assert!(l["version"].is_null());
    let (_, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true&mode=upsert",
        "id_number,name\n1,a\n1,b\n".into(),
    )
    .await;
    assert_eq!(l["error_code"], "DUPLICATE_KEYS", "{l}");
    let (s, b) = upload(&hub, &hub.ga_key, &code, "wait=true", Vec::new()).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "EMPTY_FILE"),
        "{b}"
    );
    let (s, b) = upload(&hub, &hub.ga_key, &code, "mode=merge", CSV.into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    // Versions and time travel.
    let (_, v) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/datasets/{code}/versions"))
            .await,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[0]["version"], 1);
    let (_, p0) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/preview?version=0"),
        )
        .await,
    )
    .await;
    assert_eq!(p0["rows"].as_array().unwrap().len(), 3);
    let (s, _) = json_of(
        hub.get(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/preview?version=9"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The history lists every load, failed ones included.
    let (_, h) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/datasets/{code}/loads"))
            .await,
    )
    .await;
    assert_eq!(h["total"], 4, "{h}");

    // SQL is the hub's: read-only, over current versions and `@vN`.
    let sql = |q: &str| json!({"sql": q});
    let (s, r) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/sql",
            &sql(&format!("SELECT count(*) AS n FROM \"{code}\"")),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["rows"][0][0], "4");
    let (_, r) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/sql",
            &sql(&format!("SELECT count(*) FROM \"{code}@v0\"")),
        )
        .await,
    )
    .await;
    assert_eq!(r["rows"][0][0], "3");
    let (s, b) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/sql",
            &sql(&format!("DELETE FROM \"{code}\"")),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "SQL_INVALID"),
        "{b}"
    );
    let (s, _) = json_of(hub.post(&hub.ga_key, "/api/v1/sql", &sql("SELECT 1")).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, t) = json_of(hub.get(&hub.operator_key, "/api/v1/datasets").await).await;
    assert_eq!(t[0]["code"], code.as_str());
    assert_eq!(t[0]["version"], 1);
}

#[tokio::test]
async fn uploads_run_in_the_background_and_mappings_are_saved() {
    let hub = Hub::start().await;
    let code = published(&hub, "流动人口").await;

    // A saved mapping must name real data items.
    let (s, b) = json_of(
        hub.put(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/mapping"),
            &json!({"身份证": "idcard"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "MAPPING_INVALID"),
        "{b}"
    );
    let (s, m) = json_of(
        hub.put(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/mapping"),
            &json!({"身份证": "id_number", "备注": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{m}");

    let body = "身份证;name;备注\n110101199003070011;张三;x\n110101199003070038;李四;y\n";
    let (s, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "delimiter=%3B&filename=a.txt",
        body.into(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{l}");
    let id = l["id"].as_str().unwrap().to_string();
    let mut done = Value::Null;
    for _ in 0..100 {
        let (_, l) = json_of(hub.get(&hub.ga_key, &format!("/api/v1/loads/{id}")).await).await;
        if l["status"] != "running" {
            done = l;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_accepted"], 2);
    assert_eq!(done["report"]["ignored_columns"], json!(["备注"]));
    assert_eq!(done["report"]["absent_items"], json!(["address"]));

    // Excel, JSON and NDJSON go through the same door.
    let ndjson = "{\"id_number\":\"110101199003070054\",\"name\":\"赵六\"}\n";
    let (_, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true&mode=append&filename=x.ndjson",
        ndjson.into(),
    )
    .await;
    assert_eq!(
        (l["status"].as_str(), l["version"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{l}"
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "公民身份号码").unwrap();
    ws.write_string(0, 1, "姓名").unwrap();
    ws.write_string(1, 0, "110101199003070070").unwrap();
    ws.write_string(1, 1, "钱七").unwrap();
    let xlsx = wb.save_to_buffer().unwrap();
    let (_, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true&mode=append&filename=x.xlsx",
        xlsx,
    )
    .await;
    assert_eq!(
        (l["status"].as_str(), l["rows_accepted"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{l}"
    );
    let (_, l) = upload(
        &hub,
        &hub.ga_key,
        &code,
        "wait=true&mode=delete&filename=x.csv",
        "id_number\n110101199003070011\n".into(),
    )
    .await;
    assert_eq!(
        (l["status"].as_str(), l["rows_deleted"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{l}"
    );
    let (_, p) = json_of(
        hub.get(&hub.ga_key, &format!("/api/v1/datasets/{code}/preview"))
            .await,
    )
    .await;
    assert_eq!(p["rows"].as_array().unwrap().len(), 3, "{p}");

    // Loads need a published entry.
    let draft = hub.register(&hub.ga_key, &resource("草稿资源")).await;
    let (s, b) = upload(&hub, &hub.ga_key, &draft, "wait=true", CSV.into()).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::FORBIDDEN, "INVALID_STATE"),
        "{b}"
    );
    // Unknown loads and resources are 404.
    let (s, _) = json_of(hub.get(&hub.ga_key, "/api/v1/loads/L-nope").await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = upload(&hub, &hub.ga_key, "9-NOPE-00001", "wait=true", CSV.into()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A connector's source password is sealed (SM4-GCM under the master key) in the control
/// plane: no file of the hub holds it, lists show it masked, and pulls still use it.
#[tokio::test]
async fn connector_passwords_are_sealed_at_rest() {
    let hub = Hub::start().await;
    let code = published(&hub, "户籍人口（口令加密）").await;
    let password = "Pa55-word-only-in-the-url-7f3c";
    let (s, c) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/connectors"),
            &json!({"kind": "postgres", "url": format!("postgres://reader:{password}@127.0.0.1:1/pop"),
                    "table": "public.persons", "mode": "replace", "schedule": "0 2 * * *"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert!(!c.to_string().contains(password), "answered masked: {c}");
    let id = c["id"].as_str().unwrap().to_string();
    let stored = hub.store.connector(&id).await.unwrap().unwrap().url;
    assert!(
        shuniu_keys::is_sealed(&stored) && !stored.contains(password),
        "{stored}"
    );
    let (_, list) = json_of(hub.get(&hub.ga_key, "/api/v1/connectors").await).await;
    assert!(list.to_string().contains("reader:***@"), "{list}");
    assert!(!list.to_string().contains(password));
    // Nothing under the data directory holds it (the SQLite control plane included).
    let found = crate::files_containing(hub.data_dir(), password.as_bytes());
    assert!(found.is_empty(), "{found:?}");
    // The pull unseals it: it reaches the (absent) server and fails there, not on the seal.
    let (s, l) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/connectors/{id}/run"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert!(
        !l.to_string().contains("SECRET_UNSEAL") && !l.to_string().contains(password),
        "{s} {l}"
    );
}

/// A scheduled pull from a department's PostgreSQL table, full then incremental. Runs when
/// the suite has a PostgreSQL server (SHUNIU_TEST_DATABASE_URL), as in .ci/run.
#[tokio::test]
async fn postgres_connector_pulls_full_then_incremental() {
    let Ok(admin) = std::env::var("SHUNIU_TEST_DATABASE_URL") else {
        eprintln!("skipped: no SHUNIU_TEST_DATABASE_URL");
        return;
    };
    use sqlx::Connection;
    let source = shuniu_store::scratch_postgres_database(&admin)
        .await
        .unwrap();
    let mut conn = sqlx::PgConnection::connect(&source).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE persons (sfzh text primary key, \"xm\"\" FROM persons; DROP TABLE persons; --\" text, address text, updated_at timestamptz, internal_flag int);
         INSERT INTO persons VALUES
           ('110101199003070011', '张三', '市南区', '2026-01-01 08:00:00+08', 1),
           ('110101199003070038', '李四', '市北区', '2026-01-02 08:00:00+08', 1);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let hub = Hub::start().await;
    let code = published(&hub, "户籍人口（库表同步）").await;
    hub.put(
        &hub.ga_key,
        &format!("/api/v1/datasets/{code}/mapping"),
        // A column whose name holds a quote and SQL of its own: read as one column, never run.
        &json!({"sfzh": "id_number", "xm\" FROM persons; DROP TABLE persons; --": "name"}),
    )
    .await;
    let (s, c) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/connectors"),
            &json!({"kind": "postgres", "url": source, "table": "public.persons", "mode": "upsert",
                    "updated_column": "updated_at", "schedule": "0 2 * * *"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    assert!(
        shuniu_keys::is_sealed(&hub.store.connector(&id).await.unwrap().unwrap().url),
        "the source URL is sealed in the store, and the pulls below unseal it"
    );
    let (s, b) = json_of(
        hub.post(&hub.ga_key, &format!("/api/v1/datasets/{code}/connectors"),
            &json!({"kind": "postgres", "url": "postgres://x/y", "table": "t; drop table x", "mode": "replace", "schedule": "0 2 * * *"})).await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "CONNECTOR_TABLE_INVALID"),
        "{b}"
    );

    let (s, l) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/connectors/{id}/run"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(
        (l["status"].as_str(), l["rows_accepted"].as_i64()),
        (Some("succeeded"), Some(2)),
        "{l}"
    );
    assert_eq!(l["connector_id"], id.as_str());

    sqlx::raw_sql(
        "UPDATE persons SET address = '黄岛区', updated_at = '2026-02-01 08:00:00+08' WHERE sfzh = '110101199003070011';
         INSERT INTO persons VALUES ('110101199003070054', '赵六', '崂山区', '2026-02-02 08:00:00+08', 0);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, l) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/connectors/{id}/run"),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(l["status"], "succeeded", "{l}");
    // Only rows changed since the watermark (and the boundary row, harmlessly) are read.
    assert!(l["rows_read"].as_i64().unwrap() <= 3, "{l}");
    assert_eq!(
        (
            l["rows_updated"].as_i64().unwrap() >= 1,
            l["rows_inserted"].as_i64()
        ),
        (true, Some(1)),
        "{l}"
    );
    let (_, cs) = json_of(hub.get(&hub.ga_key, "/api/v1/connectors").await).await;
    assert!(
        cs[0]["watermark"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-02"),
        "{cs}"
    );
    assert!(
        !cs[0]["url"].as_str().unwrap().contains(":shuniu@"),
        "passwords are masked: {cs}"
    );
    let (_, r) = json_of(
        hub.post(&hub.operator_key, "/api/v1/sql", &json!({"sql": format!("SELECT address, name FROM \"{code}\" WHERE id_number = '110101199003070011'")})).await,
    )
    .await;
    assert_eq!(r["rows"][0][0], "黄岛区", "{r}");
    assert_eq!(
        r["rows"][0][1], "张三",
        "the hostile-named column was read as data: {r}"
    );

    // The scheduler runs connectors whose time has come (here: every second).
    let (s, c) = json_of(
        hub.post(&hub.ga_key, &format!("/api/v1/datasets/{code}/connectors"),
            &json!({"kind": "postgres", "url": source, "table": "persons", "mode": "replace", "schedule": "* * * * * *"})).await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let ran = hub.aggregation.run_due_connectors().await.unwrap();
    let scheduled = ran
        .iter()
        .find(|l| l.connector_id.as_deref() == c["id"].as_str())
        .expect("the due connector ran");
    assert_eq!(
        (scheduled.status.code(), scheduled.rows_accepted),
        ("succeeded", 3)
    );
    assert!(scheduled.principal.starts_with("connector:"));
    conn.close().await.unwrap();
}

/// The same pull from a department's MySQL (MariaDB) table: full, then incremental by a
/// DATETIME column, with Chinese text and a hostile column name. Runs when the suite has a
/// MariaDB server (SHUNIU_TEST_MYSQL_URL, a server URL without a database), as in .ci/run.
#[tokio::test]
async fn mysql_connector_pulls_full_then_incremental() {
    let Ok(server) = std::env::var("SHUNIU_TEST_MYSQL_URL") else {
        eprintln!("skipped: no SHUNIU_TEST_MYSQL_URL");
        return;
    };
    use sqlx::Connection;
    let name = format!("shuniu_t_{}", std::process::id());
    let mut admin = sqlx::MySqlConnection::connect(&server).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let source = format!("{}/{name}", server.trim_end_matches('/'));
    let mut conn = sqlx::MySqlConnection::connect(&source).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE persons (sfzh VARCHAR(18) PRIMARY KEY, `xm`` FROM persons; DROP TABLE persons; --` VARCHAR(50),
           address VARCHAR(200), updated_at DATETIME, internal_flag INT) DEFAULT CHARSET = utf8mb4;
         INSERT INTO persons VALUES
           ('110101199003070011', '张三', '市南区', '2026-01-01 08:00:00', 1),
           ('110101199003070038', '李四', '市北区', '2026-01-02 08:00:00', 1);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let hub = Hub::start().await;
    let code = published(&hub, "户籍人口（MySQL 同步）").await;
    hub.put(
        &hub.ga_key,
        &format!("/api/v1/datasets/{code}/mapping"),
        &json!({"sfzh": "id_number", "xm` FROM persons; DROP TABLE persons; --": "name"}),
    )
    .await;
    let (s, c) = json_of(
        hub.post(
            &hub.ga_key,
            &format!("/api/v1/datasets/{code}/connectors"),
            &json!({"kind": "mysql", "url": source, "table": "persons", "mode": "upsert",
                    "updated_column": "updated_at", "schedule": "0 2 * * *"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let run = || async {
        json_of(
            hub.post(
                &hub.ga_key,
                &format!("/api/v1/connectors/{id}/run"),
                &json!({}),
            )
            .await,
        )
        .await
    };
    let (s, l) = run().await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(
        (l["status"].as_str(), l["rows_accepted"].as_i64()),
        (Some("succeeded"), Some(2)),
        "{l}"
    );
    sqlx::raw_sql(
        "UPDATE persons SET address = '黄岛区', updated_at = '2026-02-01 08:00:00' WHERE sfzh = '110101199003070011';
         INSERT INTO persons VALUES ('110101199003070054', '赵六', '崂山区', '2026-02-02 08:00:00', 0);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, l) = run().await;
    assert_eq!(l["status"], "succeeded", "{l}");
    assert!(
        l["rows_read"].as_i64().unwrap() <= 3,
        "only what changed: {l}"
    );
    assert_eq!(l["rows_inserted"].as_i64(), Some(1), "{l}");
    let (_, r) = json_of(
        hub.post(
            &hub.operator_key,
            "/api/v1/sql",
            &json!({"sql": format!("SELECT address, name FROM \"{code}\" ORDER BY id_number")}),
        )
        .await,
    )
    .await;
    assert_eq!(
        r["rows"],
        json!([["黄岛区", "张三"], ["市北区", "李四"], ["崂山区", "赵六"]]),
        "Chinese text and the hostile-named column arrive as data: {r}"
    );
    let (_, cs) = json_of(hub.get(&hub.ga_key, "/api/v1/connectors").await).await;
    assert!(
        cs[0]["watermark"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-02"),
        "{cs}"
    );
    conn.close().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
}
