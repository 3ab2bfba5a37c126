//! Open data through the CKAN Action API, the portal and DCAT: publication by open attribute
//! and security level with masking, republication on new versions, package search with
//! Solr filters and facets, datastore queries, streamed downloads, conditionally open data
//! behind an approved application's token, open rules, public data requests, rate limits, and
//! CKAN-style errors for malformed calls.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shuniu_policy::open::{Aggregation, FieldAction, OpenRules};
use shuniu_types::{Actor, Role};

use crate::harness::{Hub, json_of, resource};

fn homes_spec() -> Value {
    let mut r = resource("青岛市养老机构名录");
    r["open_type"] = json!("无条件开放");
    r["level"] = json!("general_1");
    r["item_code"] = json!(3);
    r["item_name"] = json!("民生服务");
    r["subject_name"] = json!("养老服务");
    r["summary"] = json!("全市养老机构的名称、床位和联系方式");
    r["data_items"] = json!([
        {"name": "org_name", "label": "机构名称", "data_type": "字符型", "length": 100, "is_key": true},
        {"name": "district", "label": "所在区", "data_type": "字符型", "length": 20},
        {"name": "beds", "label": "床位数", "data_type": "整型"},
        {"name": "manager", "label": "负责人", "data_type": "字符型", "length": 20, "personal": true, "semantic_type": "姓名"},
        {"name": "phone", "label": "联系电话", "data_type": "字符型", "length": 11, "personal": true, "semantic_type": "手机号"},
        {"name": "note", "label": "内部备注", "data_type": "字符型", "length": 200, "sensitive": true}
    ]);
    r
}

fn homes_csv(n: usize) -> String {
    let mut s = String::from("org_name,district,beds,manager,phone,note\n");
    for i in 0..n {
        let d = ["市南区", "市北区", "崂山区"][i % 3];
        s.push_str(&format!(
            "第{i}养老院,{d},{},张{i}明,1381234{:04},内部评级{i}\n",
            10 + i * 3,
            i
        ));
    }
    s
}

pub(crate) fn relief_spec() -> Value {
    let mut r = resource("低保救助对象统计明细");
    r["open_type"] = json!("有条件开放");
    r["open_conditions"] = json!("限科研用途");
    r["level"] = json!("general_2");
    r["data_items"] = json!([
        {"name": "id_number", "label": "公民身份号码", "data_type": "字符型", "length": 18, "is_key": true, "personal": true, "semantic_type": "身份证号"},
        {"name": "district", "label": "所在区", "data_type": "字符型", "length": 20},
        {"name": "address", "label": "住址", "data_type": "字符型", "length": 200, "personal": true, "semantic_type": "地址"},
        {"name": "amount", "label": "救助金额", "data_type": "数值型"}
    ]);
    r
}

pub(crate) const RELIEF: &str = "id_number,district,address,amount\n\
370202199003070011,市南区,山东省青岛市市南区香港中路1号,800.5\n\
370203197001010039,市北区,山东省青岛市市北区延安路3号,650\n\
370202198505120029,市南区,山东省青岛市市南区东海路6号,720\n";

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
}

pub(crate) async fn published(hub: &Hub, spec: &Value) -> String {
    let code = hub.register(&hub.ga_key, spec).await;
    hub.publish(&hub.ga_key, &code).await;
    code
}

/// Calls an action anonymously with GET; returns status and the envelope.
async fn get(hub: &Hub, action: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = hub
        .client
        .get(hub.url(&format!("/api/3/action/{action}")))
        .query(query)
        .send()
        .await
        .expect("call");
    json_of(r).await
}

async fn post(hub: &Hub, action: &str, body: &Value) -> (StatusCode, Value) {
    let r = hub
        .client
        .post(hub.url(&format!("/api/action/{action}")))
        .json(body)
        .send()
        .await
        .expect("call");
    json_of(r).await
}

/// Waits until the package's published version is `version` (publication follows commits).
pub(crate) async fn wait_version(hub: &Hub, name: &str, version: &str) -> Value {
    for _ in 0..100 {
        let (s, b) = get(hub, "package_show", &[("id", name)]).await;
        if s == StatusCode::OK && b["result"]["version"] == json!(version) {
            return b["result"].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{name} never reached version {version}");
}

pub(crate) fn officer() -> Actor {
    Actor {
        principal: "ga.officer".into(),
        display_name: "ga.officer".into(),
        role: Role::DataOfficer,
        department: "370200GA".into(),
    }
}

#[tokio::test]
async fn open_data_is_published_and_served_the_ckan_way() {
    let hub = Hub::start().await;
    let homes = published(&hub, &homes_spec()).await;
    let closed = published(&hub, &resource("户籍人口基本信息")).await;
    load(&hub, &homes, &homes_csv(30)).await;
    load(
        &hub,
        &closed,
        "id_number,name,address\n370202199003070011,张三,市南区\n",
    )
    .await;
    let name = homes.to_lowercase();
    let pkg = wait_version(&hub, &name, "0").await;

    // Metadata in CKAN's shape; the not-open resource is not there at all.
    let (s, list) = get(&hub, "package_list", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["success"], json!(true));
    assert_eq!(list["result"], json!([name]), "{list}");
    assert!(list["help"].as_str().unwrap().contains("help_show"));
    assert_eq!(pkg["organization"]["name"], "370200ga");
    assert_eq!(pkg["num_resources"], 4);
    let resources = pkg["resources"].as_array().unwrap();
    let csv_res = resources.iter().find(|r| r["format"] == "CSV").unwrap();
    assert_eq!(csv_res["datastore_active"], json!(true));
    assert!(pkg["isopen"].as_bool().unwrap());
    let fields: Vec<&str> = pkg["extras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"update_cycle"));
    let (s, closed_show) = get(&hub, "package_show", &[("id", &closed.to_lowercase())]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{closed_show}");
    assert_eq!(closed_show["error"]["__type"], "Not Found Error");

    // Search: text, Solr filters with negation and date ranges, facets, POST and form bodies.
    let (_, r) = get(&hub, "package_search", &[("q", "养老")]).await;
    assert_eq!(r["result"]["count"], 1, "{r}");
    let (_, r) = get(&hub, "package_search", &[("q", "殡葬")]).await;
    assert_eq!(r["result"]["count"], 0);
    let (_, r) = post(
        &hub,
        "package_search",
        &json!({"fq": "organization:370200ga metadata_modified:[NOW-1DAY TO *]",
                "facet.field": "[\"organization\", \"groups\", \"res_format\"]", "rows": 5}),
    )
    .await;
    assert_eq!(r["result"]["count"], 1, "{r}");
    assert_eq!(r["result"]["facets"]["res_format"]["CSV"], 1);
    assert_eq!(
        r["result"]["search_facets"]["organization"]["items"][0]["display_name"],
        "青岛市公安局"
    );
    for fq in [
        "-organization:370200ga",
        "metadata_modified:[* TO 2000-01-01T00:00:00Z]",
        "tags:殡葬",
    ] {
        let (_, r) = get(&hub, "package_search", &[("fq", fq)]).await;
        assert_eq!(r["result"]["count"], 0, "{fq}: {r}");
    }
    let form = hub
        .client
        .post(hub.url("/api/2/action/package_search"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("fq=groups:theme-103&facet.field=organization&facet.field=groups")
        .send()
        .await
        .unwrap();
    let (s, r) = json_of(form).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["result"]["count"], 1, "{r}");
    assert!(
        r["result"]["facets"]["groups"]["theme-103"].is_number(),
        "{r}"
    );

    // Malformed calls: CKAN's error types and statuses, never a 5xx.
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"fq": "metadata_modified:[2020 TO"}),
            StatusCode::BAD_REQUEST,
            "Search Query Error",
        ),
        (
            json!({"q": "name:"}),
            StatusCode::BAD_REQUEST,
            "Search Query Error",
        ),
        (
            json!({"fq": "nosuchfield:1"}),
            StatusCode::BAD_REQUEST,
            "Search Query Error",
        ),
        (
            json!({"sort": "bogus desc"}),
            StatusCode::BAD_REQUEST,
            "Search Query Error",
        ),
        (
            json!({"rows": -1}),
            StatusCode::CONFLICT,
            "Validation Error",
        ),
        (
            json!({"rows": "many"}),
            StatusCode::CONFLICT,
            "Validation Error",
        ),
        (
            json!({"facet.field": "{"}),
            StatusCode::CONFLICT,
            "Validation Error",
        ),
    ];
    for (body, status, kind) in cases {
        let (s, r) = post(&hub, "package_search", &body).await;
        assert_eq!(s, status, "{body}: {r}");
        assert_eq!(r["success"], json!(false));
        assert_eq!(r["error"]["__type"], kind, "{body}: {r}");
    }
    let (s, r) = get(&hub, "no_such_action", &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"]["__type"], "Bad Request");
    let (s, r) = get(&hub, "package_show", &[]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(r["error"]["id"], json!(["Missing value"]));
    let bad_json = hub
        .client
        .post(hub.url("/api/3/action/package_list"))
        .header("content-type", "application/json")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);

    // Organizations, groups, tags, resources, status.
    let (_, r) = get(&hub, "organization_list", &[("all_fields", "true")]).await;
    assert_eq!(r["result"][0]["package_count"], 1);
    let (_, r) = get(
        &hub,
        "organization_show",
        &[("id", "370200ga"), ("include_datasets", "True")],
    )
    .await;
    assert_eq!(r["result"]["packages"][0]["name"], json!(name));
    let (_, r) = get(&hub, "group_list", &[]).await;
    assert_eq!(r["result"], json!(["theme-103"]));
    let (_, r) = get(&hub, "tag_list", &[]).await;
    assert_eq!(r["result"], json!(["养老服务"]));
    let (_, r) = get(
        &hub,
        "resource_show",
        &[("id", csv_res["id"].as_str().unwrap())],
    )
    .await;
    assert_eq!(r["result"]["format"], "CSV");
    let (_, r) = get(&hub, "status_show", &[]).await;
    assert!(
        r["result"]["ckan_version"]
            .as_str()
            .unwrap()
            .starts_with("2.")
    );

    // Datastore: filters, totals, sort, fields, formats; personal items masked, sensitive
    // items never published.
    let rid = csv_res["id"].as_str().unwrap();
    let (s, r) = post(
        &hub,
        "datastore_search",
        &json!({"resource_id": rid, "filters": {"district": "市南区"}, "sort": "beds desc", "limit": 3}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let res = &r["result"];
    assert_eq!(res["total"], 10);
    assert_eq!(res["records"].as_array().unwrap().len(), 3);
    assert_eq!(res["records"][0]["beds"], 91, "{res}");
    assert_eq!(res["records"][0]["manager"], "张***", "{res}");
    assert_eq!(res["records"][0]["phone"], "138****0027", "{res}");
    assert!(res["records"][0].get("note").is_none());
    let field_ids: Vec<&str> = res["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        field_ids,
        ["_id", "org_name", "district", "beds", "manager", "phone"]
    );
    let (_, r) = get(
        &hub,
        "datastore_search",
        &[
            ("resource_id", &name),
            ("q", "养老院"),
            ("fields", "org_name,beds"),
            ("records_format", "lists"),
            ("include_total", "false"),
            ("limit", "2"),
            ("offset", "1"),
        ],
    )
    .await;
    assert_eq!(
        r["result"]["records"],
        json!([["第1养老院", 13], ["第2养老院", 16]]),
        "{r}"
    );
    assert!(r["result"].get("total").is_none());
    let (_, r) = get(
        &hub,
        "datastore_search",
        &[
            ("resource_id", &name),
            ("records_format", "csv"),
            ("fields", "org_name"),
            ("limit", "2"),
        ],
    )
    .await;
    assert_eq!(r["result"]["records"], "第0养老院\n第1养老院\n");
    for (body, field) in [
        (
            json!({"resource_id": rid, "filters": {"note": "x"}}),
            "filters",
        ),
        (
            json!({"resource_id": rid, "sort": "manager desc, beds asc"}),
            "sort",
        ),
        (
            json!({"resource_id": rid, "fields": ["id_number"]}),
            "fields",
        ),
        (json!({"resource_id": rid, "filters": "{"}), "filters"),
        (
            json!({"resource_id": rid, "records_format": "xml"}),
            "records_format",
        ),
        (json!({}), "resource_id"),
    ] {
        let (s, r) = post(&hub, "datastore_search", &body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}: {r}");
        assert!(r["error"].get(field).is_some(), "{body}: {r}");
    }

    // Downloads in four formats, streamed, with the published (masked) content.
    let dl = |ext: &str| hub.url(&format!("/open/dataset/{name}/download.{ext}"));
    let csv = hub.client.get(dl("csv")).send().await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}org_name,district,beds,manager,phone\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 31);
    assert!(!text.contains("内部评级") && !text.contains("张0明"));
    let json_dl: Value = hub
        .client
        .get(dl("json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json_dl.as_array().unwrap().len(), 30);
    let parquet = hub
        .client
        .get(dl("parquet"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    let xlsx = hub
        .client
        .get(dl("xlsx"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    assert_eq!(
        hub.client.get(dl("exe")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A new version republishes by itself.
    load(&hub, &homes, &homes_csv(12)).await;
    let pkg = wait_version(&hub, &name, "1").await;
    let rows = pkg["extras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "rows")
        .unwrap()["value"]
        .clone();
    assert_eq!(rows, "12");

    // DCAT-AP: the catalog pages and one dataset, in three serializations.
    let ttl = hub
        .client
        .get(hub.url("/catalog.ttl"))
        .send()
        .await
        .unwrap();
    assert_eq!(ttl.status(), StatusCode::OK);
    let ttl = ttl.text().await.unwrap();
    assert!(
        ttl.contains("dcat:Dataset") && ttl.contains("hydra:PagedCollection"),
        "{ttl}"
    );
    assert!(ttl.contains("青岛市养老机构名录"));
    let jsonld: Value = hub
        .client
        .get(hub.url(&format!("/open/dataset/{name}.jsonld")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jsonld
            .to_string()
            .contains("http://www.w3.org/ns/dcat#Distribution")
    );
    let page9 = hub
        .client
        .get(hub.url("/catalog.jsonld?page=9"))
        .send()
        .await
        .unwrap();
    assert_eq!(page9.status(), StatusCode::NOT_FOUND);
    let rdf = hub
        .client
        .get(hub.url("/catalog.rdf"))
        .send()
        .await
        .unwrap();
    assert!(rdf.text().await.unwrap().contains("rdf:RDF"));

    // The portal: search, dataset page with counters and preview, department page.
    let home = hub
        .client
        .get(hub.url("/open?q=养老"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("青岛市养老机构名录"));
    let page = hub
        .client
        .get(hub.url(&format!("/open/dataset/{name}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("第0养老院") && page.contains("datastore_search"),
        "{page}"
    );
    let org = hub
        .client
        .get(hub.url("/open/org/370200ga"))
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), StatusCode::OK);
    hub.open.flush_counters().await.unwrap();
    hub.open.refresh().await.unwrap();
    let (_, r) = get(&hub, "package_show", &[("id", &name)]).await;
    assert!(r["result"]["num_downloads"].as_i64().unwrap() >= 4, "{r}");
    assert!(r["result"]["tracking_summary"]["total"].as_i64().unwrap() >= 1);

    // Withdrawn from the catalog: gone from the portal.
    let w = hub
        .post(
            &hub.ga_key,
            &format!("/api/v1/catalog/resources/{homes}/withdraw"),
            &json!({"reason": "机构信息整合"}),
        )
        .await;
    assert_eq!(w.status(), StatusCode::OK);
    hub.open.publish(&homes).await.unwrap();
    let (s, _) = get(&hub, "package_show", &[("id", &name)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        hub.client.get(dl("csv")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn conditional_open_data_needs_an_approved_applications_token() {
    let hub = Hub::start().await;
    let code = published(&hub, &relief_spec()).await;
    load(&hub, &code, RELIEF).await;
    let name = code.to_lowercase();
    let pkg = wait_version(&hub, &name, "0").await;
    assert_eq!(pkg["isopen"], json!(false));
    let (_, r) = get(&hub, "datastore_search", &[("resource_id", &name)]).await;
    assert_eq!(r["error"]["__type"], "Authorization Error", "{r}");
    assert_eq!(r["error"]["code"], "OPEN_TOKEN_REQUIRED");
    let dl = hub
        .client
        .get(hub.url(&format!("/open/dataset/{name}/download.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status(), StatusCode::FORBIDDEN);

    // A researcher registers, signs in and applies through the portal's forms.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form_page = browser
        .get(hub.url("/open/register"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&form_page);
    let forged = browser
        .post(hub.url("/open/register"))
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("login", "li@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let weak = browser
        .post(hub.url("/open/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "li@example.org"),
            ("password", "short"),
            ("name", "李研"),
            ("kind", "researcher"),
            ("org_name", "青岛大学"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text().await.unwrap().contains("PASSWORD_WEAK"));
    let bad_enterprise = browser
        .post(hub.url("/open/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "ent@example.org"),
            ("password", "Passw0rd-long"),
            ("name", "赵总"),
            ("kind", "enterprise"),
            ("org_name", "青岛某公司"),
            ("credit_code", "91370200XXXXXXXXXX"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        bad_enterprise
            .text()
            .await
            .unwrap()
            .contains("CREDIT_CODE_INVALID")
    );
    let ok = browser
        .post(hub.url("/open/register"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "li@example.org"),
            ("password", "Passw0rd-long"),
            ("name", "李研"),
            ("kind", "researcher"),
            ("org_name", "青岛大学"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let apply = browser
        .post(hub.url(&format!("/open/dataset/{name}/apply")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("purpose", "研究低保救助金额的区域分布"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(apply.status(), StatusCode::SEE_OTHER);
    let account = browser
        .get(hub.url("/open/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = account.find("data-application=\"").unwrap() + 18;
    let app_id = account[at..].split('"').next().unwrap().to_string();
    // Applying twice while pending is refused.
    let again = browser
        .post(hub.url(&format!("/open/dataset/{name}/apply")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("purpose", "研究低保救助金额的区域分布"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // Only the provider decides; a refusal needs a reason; then the token is issued once.
    let mz = Actor {
        principal: "mz.officer".into(),
        display_name: "mz".into(),
        role: Role::DataOfficer,
        department: "370200MZ".into(),
    };
    let e = hub
        .open
        .decide_application(&mz, &app_id, true, "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "FORBIDDEN_DEPARTMENT");
    let e = hub
        .open
        .decide_application(&officer(), &app_id, false, " ")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "REASON_REQUIRED");
    hub.open
        .decide_application(&officer(), &app_id, true, "")
        .await
        .unwrap();
    let e = hub
        .open
        .decide_application(&officer(), &app_id, false, "重复")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "OPEN_STATE");
    let page = browser
        .post(hub.url(&format!("/open/account/token/{app_id}")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("id=\"token-value\">").expect("token shown") + 17;
    let token = page[at..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("snd_"));

    // With the token (CKAN's Authorization header): de-identified rows, ID numbers dropped,
    // addresses cut down to the district.
    let r = hub
        .client
        .post(hub.url("/api/3/action/datastore_search"))
        .header("Authorization", &token)
        .json(&json!({"resource_id": name, "sort": "amount asc"}))
        .send()
        .await
        .unwrap();
    let (s, r) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let recs = r["result"]["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["amount"], json!(650.0));
    assert!(recs.iter().all(|x| x.get("id_number").is_none()));
    assert!(!r.to_string().contains("香港中路"), "{r}");
    let dl = hub
        .client
        .get(hub.url(&format!("/open/dataset/{name}/download.csv?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status(), StatusCode::OK);
    // A wrong token is refused outright.
    let r = hub
        .client
        .get(hub.url("/api/3/action/package_list"))
        .header("X-CKAN-API-Key", "snd_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Open rules: the provider publishes an aggregate instead; loosening a personal field is
    // refused; another department may not touch them.
    let mut loose = OpenRules::default();
    loose.fields.insert("id_number".into(), FieldAction::Keep);
    assert_eq!(
        hub.open
            .set_rules(&officer(), &code, &loose)
            .await
            .unwrap_err()
            .code(),
        "OPEN_FIELD_PERSONAL"
    );
    assert_eq!(
        hub.open
            .set_rules(&mz, &code, &OpenRules::default())
            .await
            .unwrap_err()
            .code(),
        "FORBIDDEN_DEPARTMENT"
    );
    let agg = OpenRules {
        aggregation: Some(Aggregation {
            group_by: vec!["district".into()],
            min_group: 2,
        }),
        ..Default::default()
    };
    let done = hub.open.set_rules(&officer(), &code, &agg).await.unwrap();
    assert_eq!(done.outcome.code(), "published");
    assert_eq!(done.rows, 1, "市北区 has one row: suppressed");
    let r = hub
        .client
        .get(hub.url("/api/3/action/datastore_search"))
        .query(&[("resource_id", name.as_str())])
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    let (_, r) = json_of(r).await;
    assert_eq!(
        r["result"]["records"],
        json!([{"_id": 1, "district": "市南区", "count": 2}]),
        "{r}"
    );
}

#[tokio::test]
async fn public_data_requests_and_rate_limits() {
    let hub = Hub::start().await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(hub.url("/open/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let short = browser
        .post(hub.url("/open/requests"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "公交"),
            ("description", "短"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = browser
        .post(hub.url("/open/requests"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "公交线路实时到站数据"),
            (
                "description",
                "希望开放全市公交线路和站点的实时到站数据，便于开发出行应用",
            ),
            ("department", "370200GA"),
            ("contact", "dev@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let list = hub.open.requests().await.unwrap();
    assert_eq!(list.len(), 1);
    let viewer = Actor {
        principal: "mz.viewer".into(),
        display_name: "v".into(),
        role: Role::DataOfficer,
        department: "370200MZ".into(),
    };
    assert!(
        hub.open
            .answer_request(&viewer, &list[0].id, "好的")
            .await
            .is_err()
    );
    let op = Actor::local_operator();
    hub.open
        .answer_request(&op, &list[0].id, "已纳入2027年开放计划")
        .await
        .unwrap();
    let page = browser
        .get(hub.url("/open/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已纳入2027年开放计划") && !page.contains("dev@example.org"));

    // Anonymous calls beyond the per-address rate get 429 with Retry-After, in CKAN's envelope.
    let mut limited = None;
    for _ in 0..120 {
        let r = hub
            .client
            .get(hub.url("/api/3/action/site_read"))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the rate limit never applied");
    assert!(r.headers().get("retry-after").is_some());
    let (_, b) = json_of(r).await;
    assert_eq!(b["success"], json!(false));
}

/// Random and hostile parameters: every answer is CKAN's envelope with a status below 500.
#[tokio::test]
async fn malformed_calls_never_get_a_server_error() {
    let hub = Hub::start().await;
    let homes = published(&hub, &homes_spec()).await;
    load(&hub, &homes, &homes_csv(5)).await;
    let name = homes.to_lowercase();
    wait_version(&hub, &name, "0").await;
    let pieces = [
        "",
        "*",
        ":",
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        "\"",
        "\\",
        "-",
        "+",
        "AND",
        "OR",
        "NOT",
        "TO",
        "name:",
        "organization:x",
        "metadata_modified:[",
        "NOW-",
        "NOW/DAY",
        "1e309",
        "-1",
        "99999999999999999999",
        "养老",
        "%",
        "'",
        ";DROP",
        "\u{0}",
        "tags:(a OR",
        "[* TO *]",
        "{\"a\":",
        "[1,2]",
        "null",
        "true",
        "district",
        "beds desc",
        "_id",
        "asc asc",
    ];
    let params = [
        ("package_search", "q"),
        ("package_search", "fq"),
        ("package_search", "sort"),
        ("package_search", "rows"),
        ("package_search", "start"),
        ("package_search", "facet.field"),
        ("package_search", "facet.limit"),
        ("package_show", "id"),
        ("organization_show", "id"),
        ("datastore_search", "filters"),
        ("datastore_search", "q"),
        ("datastore_search", "sort"),
        ("datastore_search", "fields"),
        ("datastore_search", "limit"),
        ("datastore_search", "records_format"),
    ];
    let mut seed: u64 = 20261123;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    for _ in 0..150 {
        let (action, key) = params[next() % params.len()];
        let value: String = (0..1 + next() % 3)
            .map(|_| pieces[next() % pieces.len()])
            .collect::<Vec<_>>()
            .join(if next() % 2 == 0 { " " } else { "" });
        let mut query = vec![(key.to_string(), value.clone())];
        if action == "datastore_search" {
            query.push(("resource_id".into(), name.clone()));
        }
        let r = if next() % 2 == 0 {
            hub.client
                .get(hub.url(&format!("/api/3/action/{action}")))
                .query(&query)
                .send()
                .await
                .unwrap()
        } else {
            let body: serde_json::Map<String, Value> =
                query.into_iter().map(|(k, v)| (k, json!(v))).collect();
            hub.client
                .post(hub.url(&format!("/api/action/{action}")))
                .json(&body)
                .send()
                .await
                .unwrap()
        };
        let status = r.status();
        let (_, b) = json_of(r).await;
        assert!(
            status.as_u16() < 500,
            "{action} {key}={value:?}: {status} {b}"
        );
        assert!(b.get("success").is_some(), "{action} {key}={value:?}: {b}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}
