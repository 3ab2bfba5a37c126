//! Base libraries (基础库) through the HTTP API: a population library defined from the
//! designated sources, built in full (each attribute from its authoritative source, others
//! kept as alternatives, provenance per attribute, a 15-digit ID number found), then kept up
//! to date from the change log when a source loads again: only the changed subjects are
//! composed, a subject gone from every source is removed.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::search_until;
use crate::harness::{Hub, error_code, json_of};
use crate::sharing::{V1, load, published, register_spec};

/// 流动人口: 张三 at another address, 钱七 still under his 15-digit number with another
/// phone, 周十 known only here; one key is not an ID number at all.
const FLOATING: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区宁夏路100号\n\
370202850512002,钱七,13900000000,370202,\n\
370211199201010016,周十,13700000000,370211,黄岛区长江路5号\n\
37020219900307001X,错号,13700000001,370202,\n";

/// 户籍 V2: 钱七 moves, 孙八 leaves the register, 周九 arrives.
const V2: &str = "id_number,name,mobile,district,address\n\
370202199003070011,张三,13812345678,370202,市南区香港中路1号\n\
370203197001010039,王五,13812345670,370203,市北区延安路3号\n\
370202198505120029,钱七,13712345678,370202,市南区宁夏路9号\n\
370202200001010010,周九,13512345678,370202,市南区南京路8号\n";

async fn rows(hub: &Hub, sql: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    rows_by(hub, sql, "id_number").await
}

async fn rows_by(hub: &Hub, sql: &str, key: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let (s, v) = call(hub, &hub.operator_key, "/api/v1/sql", &json!({"sql": sql})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let columns: Vec<String> = serde_json::from_value(v["columns"].clone()).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let m: BTreeMap<String, String> = columns
                .iter()
                .zip(r.as_array().unwrap())
                .filter_map(|(c, v)| Some((c.clone(), v.as_str()?.to_string())))
                .collect();
            (m[key].clone(), m)
        })
        .collect()
}

async fn call(hub: &Hub, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(hub.post(key, path, body).await).await
}

fn provenance(row: &BTreeMap<String, String>) -> Value {
    serde_json::from_str(&row["provenance"]).unwrap()
}

#[tokio::test]
async fn a_population_library_takes_each_attribute_from_its_source_and_follows_changes() {
    let hub = Hub::start().await;
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let floating = published(&hub, &register_spec("流动人口信息", "有条件共享")).await;
    load(&hub, &floating, FLOATING).await;

    // Nothing designated yet: nothing to define a library from.
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries",
        &json!({"kind": "population"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(error_code(&e), "LIBRARY_NO_DESIGNATIONS");

    for attribute in ["name", "mobile", "address"] {
        let (s, v) = call(
            &hub,
            &hub.operator_key,
            "/api/v1/quality/sources",
            &json!({"attribute": attribute, "key_type": "id_number", "resource": register}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // Only the hub defines libraries, and only the two kinds there are.
    let (s, _) = call(
        &hub,
        &hub.ga_key,
        "/api/v1/libraries",
        &json!({"kind": "population"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries",
        &json!({"kind": "vehicles"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(error_code(&e), "LIBRARY_KIND");

    let (s, lib) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries",
        &json!({"kind": "population"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{lib}");
    assert_eq!(lib["name"], "人口基础信息库");
    assert_eq!(
        lib["items"],
        json!([
            "id_number",
            "name",
            "mobile",
            "address",
            "provenance",
            "source_count",
            "conflict_count"
        ])
    );
    let code = lib["code"].as_str().unwrap().to_string();
    let build = format!("/api/v1/libraries/{code}/build");

    let (s, r) = call(&hub, &hub.operator_key, &build, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["mode"], "full", "{r}");
    assert_eq!(r["reason"], "first_build");
    assert_eq!(r["keys_invalid"], 1, "the mistyped number is left out: {r}");
    let people = rows(&hub, &format!("SELECT * FROM \"{code}\"")).await;
    assert_eq!(
        people.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "370202198505120029",
            "370202199003070011",
            "370202199003070054",
            "370203197001010039",
            "370211199201010016"
        ]
    );
    // 张三: the register's address wins; the floating-population one is an alternative.
    let zhang = &people["370202199003070011"];
    assert_eq!(zhang["address"], "市南区香港中路1号");
    assert_eq!(zhang["source_count"], "2");
    assert_eq!(zhang["conflict_count"], "1");
    let p = provenance(zhang);
    assert_eq!(p["address"]["resource"], register.as_str());
    assert_eq!(p["address"]["authoritative"], true);
    assert_eq!(p["address"]["version"], 0);
    assert!(
        p["address"]["loaded_at"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );
    assert_eq!(
        p["address"]["alternatives"][0]["resource"],
        floating.as_str()
    );
    assert_eq!(
        p["address"]["alternatives"][0]["value"],
        "市南区宁夏路100号"
    );
    assert_eq!(p["name"]["agreeing"], 1);
    // 钱七: found in the floating population under his 15-digit number.
    let qian = &people["370202198505120029"];
    assert_eq!(qian["source_count"], "2", "{qian:?}");
    assert_eq!(qian["mobile"], "13712345678");
    assert_eq!(
        provenance(qian)["mobile"]["alternatives"][0]["value"],
        "13900000000"
    );
    // 周十: only the floating population knows him; not from the authoritative source.
    let zhou = &people["370211199201010016"];
    assert_eq!(zhou["name"], "周十");
    let p = provenance(zhou);
    assert_eq!(p["name"]["resource"], floating.as_str());
    assert_eq!(p["name"]["authoritative"], false);

    // The register loads again: the library follows from the change log by itself.
    load(&hub, &register, V2).await;
    let mut last = Value::Null;
    for _ in 0..100 {
        let (s, v) = json_of(hub.get(&hub.operator_key, "/api/v1/libraries").await).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        last = v[0].clone();
        // The build that read the register's second version (the reached versions and the
        // last build are read apart, so the build's own record is what is waited for).
        let reached = last["last_build"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == register.as_str() && s["version"] == 1);
        if reached {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let b = &last["last_build"];
    assert_eq!(b["mode"], "incremental", "{last}");
    // 钱七 and 周九 composed, 孙八 removed; nobody else read.
    assert_eq!(b["subjects_composed"], 2, "{b}");
    assert_eq!(b["rows_removed"], 1, "{b}");
    let attrs = last["attributes"].as_array().unwrap();
    let address = attrs.iter().find(|a| a["name"] == "address").unwrap();
    assert_eq!(address["authoritative"], register.as_str());
    assert_eq!(address["sources"], json!([register, floating]));
    let people = rows(&hub, &format!("SELECT * FROM \"{code}\"")).await;
    assert!(!people.contains_key("370202199003070054"), "孙八 left");
    assert_eq!(people["370202198505120029"]["address"], "市南区宁夏路9号");
    assert_eq!(people["370202200001010010"]["name"], "周九");
    assert_eq!(people.len(), 5);

    // Nothing moved since: a build reads nothing.
    let (s, r) = call(&hub, &hub.operator_key, &build, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["mode"], "unchanged", "{r}");
    // Every source read is on the record.
    search_until(
        &hub,
        &hub.operator_key,
        &format!("resource={floating}"),
        |rows| rows.iter().any(|r| r["action"] == "library.derive"),
    )
    .await;
    // The address library: the register's addresses as standard addresses, and how many of
    // the floating population's addresses it holds once normalized.
    let (s, lib) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries",
        &json!({"kind": "address"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{lib}");
    assert_eq!(lib["name"], "标准地址库");
    let addresses = lib["code"].as_str().unwrap().to_string();
    let (s, r) = call(
        &hub,
        &hub.operator_key,
        &format!("/api/v1/libraries/{addresses}/build"),
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let matched = r["address_match"].as_array().unwrap();
    let register_line = matched
        .iter()
        .find(|m| m["resource"] == register.as_str())
        .unwrap();
    assert_eq!(register_line["rate"], 1.0, "{r}");
    // 张三's 宁夏路100号 is not in the register; 周十's 长江路5号 is not either; two addresses.
    let floating_line = matched
        .iter()
        .find(|m| m["resource"] == floating.as_str())
        .unwrap();
    assert_eq!(floating_line["addresses"], 2, "{r}");
    assert_eq!(floating_line["matched"], 0, "{r}");
    let standard = rows_by(
        &hub,
        &format!("SELECT * FROM \"{addresses}\""),
        "standard_address",
    )
    .await;
    let (key, row) = standard
        .iter()
        .find(|(k, _)| k.contains("香港中路"))
        .expect("the register's address");
    assert!(key.starts_with("山东省青岛市市南区香港中路1号"), "{key}");
    assert_eq!(row["district"], "370202");
    assert_eq!(row["road"], "香港中路");
    assert_eq!(row["number"], "1");
    // The quality report of the floating population shows its match rate.
    let (s, q) = json_of(
        hub.get(
            &hub.operator_key,
            &format!("/api/v1/quality/resources/{floating}"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(q["address_match"]["addresses"], 2, "{q}");
    assert_eq!(q["address_match"]["library"], addresses.as_str());

    let (s, e) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries/NOPE/build",
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
}

/// 门诊就诊: no ID number, only what the clinic wrote down.
fn visits_spec() -> Value {
    let mut r = crate::harness::resource("门诊就诊登记");
    r["share_type"] = json!("有条件共享");
    r["data_items"] = json!([
        {"name": "record_id", "label": "就诊流水号", "data_type": "字符型", "length": 20, "is_key": true},
        {"name": "name", "label": "姓名", "data_type": "字符型", "length": 50, "personal": true, "semantic_type": "姓名"},
        {"name": "mobile", "label": "联系电话", "data_type": "字符型", "length": 11, "personal": true, "semantic_type": "手机号"},
        {"name": "address", "label": "住址", "data_type": "字符型", "length": 200, "personal": true}
    ]);
    r
}

#[tokio::test]
async fn uncertain_links_wait_for_a_reviewer_whose_decisions_are_kept() {
    let hub = Hub::start().await;
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    let visits = published(&hub, &visits_spec()).await;
    load(
        &hub,
        &visits,
        "record_id,name,mobile,address\n\
         MZ0001,张叁,13812345678,香港中路1号\n\
         MZ0002,王伍,,市北区延安路\n",
    )
    .await;
    let root = shuniu_types::Actor::local_operator();
    let pair = |record: &str, id: &str, p: f64| shuniu_sharing::ReviewCandidate {
        record_key: record.into(),
        subject: shuniu_sharing::Subject::person(id).unwrap(),
        match_probability: p,
        explanation: json!({"prior": -9.5, "comparisons": [
            {"column": "name", "level": "homophone", "level_zh": "同音或形近", "weight": 7.1}]}),
    };
    let queued = hub
        .sharing
        .queue_link_reviews(
            &root,
            &visits,
            &register,
            &[
                pair("MZ0001", "370202199003070011", 0.82),
                pair("MZ0002", "370203197001010039", 0.64),
            ],
        )
        .await
        .unwrap();
    assert_eq!(queued, 2);

    // Only the hub reviews.
    let (s, _) = json_of(hub.get(&hub.ga_key, "/api/v1/linkage/reviews").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, pairs) = json_of(hub.get(&hub.operator_key, "/api/v1/linkage/reviews").await).await;
    assert_eq!(s, StatusCode::OK, "{pairs}");
    let pairs = pairs.as_array().unwrap().clone();
    assert_eq!(pairs.len(), 2);
    let first = &pairs[0];
    assert_eq!(first["record_key"], "MZ0001", "most likely first");
    let field = |side: &str, name: &str| -> Value {
        first[side]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(field("record", "name"), "张叁");
    assert_eq!(field("candidate", "name"), "张三");
    // The reviewer compares; the numbers themselves stay masked.
    let id = field("candidate", "id_number");
    assert!(id.is_string() && id != "370202199003070011", "{id}");
    assert_ne!(field("record", "mobile"), "13812345678");
    assert_eq!(
        first["explanation"]["comparisons"][0]["level_zh"],
        "同音或形近"
    );

    let decide = |id: &str| format!("/api/v1/linkage/reviews/{id}/decision");
    let accept = first["id"].as_str().unwrap();
    let reject = pairs[1]["id"].as_str().unwrap();
    let r = hub
        .post(&hub.operator_key, &decide(accept), &json!({"accept": true}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = hub
        .post(
            &hub.operator_key,
            &decide(reject),
            &json!({"accept": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Decided once.
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        &decide(accept),
        &json!({"accept": false}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = call(
        &hub,
        &hub.operator_key,
        &decide("LR-none"),
        &json!({"accept": true}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (_, accepted) = json_of(
        hub.get(&hub.operator_key, "/api/v1/linkage/reviews?state=accepted")
            .await,
    )
    .await;
    assert_eq!(accepted[0]["decided_by"], "app:op", "{accepted}");
    assert_eq!(hub.store.link_count(&visits).await.unwrap(), 1);

    // A later model run links 王伍 to 王五 with confidence: the reviewer said no, so it is not
    // linked, nor queued again; the accepted link stays.
    hub.sharing
        .replace_record_links(
            &root,
            &visits,
            &[shuniu_sharing::RecordLink {
                record_key: "MZ0002".into(),
                subject: shuniu_sharing::Subject::person("370203197001010039").unwrap(),
                match_probability: 0.97,
            }],
        )
        .await
        .unwrap();
    assert_eq!(hub.store.link_count(&visits).await.unwrap(), 1);
    hub.sharing
        .queue_link_reviews(
            &root,
            &visits,
            &register,
            &[pair("MZ0002", "370203197001010039", 0.7)],
        )
        .await
        .unwrap();
    let (_, pending) = json_of(hub.get(&hub.operator_key, "/api/v1/linkage/reviews").await).await;
    assert_eq!(pending, json!([]));
    let (s, e) = json_of(
        hub.get(&hub.operator_key, "/api/v1/linkage/reviews?state=maybe")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

/// A valid credit code around `body` (eight organization-code characters), and its
/// organization code as the old certificates print it.
fn enterprise(body: &str) -> (String, String) {
    let c = shuniu_types::CreditCode::compose("91", "370202".parse().unwrap(), body).unwrap();
    (c.as_str().to_string(), c.org_code().hyphenated())
}

fn registration(sequence: u32) -> String {
    shuniu_types::RegistrationNumber::compose("370202".parse().unwrap(), sequence)
        .unwrap()
        .to_string()
}

fn enterprise_spec(name: &str, key: (&str, &str, &str, u32), items: Value) -> Value {
    let mut r = crate::harness::resource(name);
    r["share_type"] = json!("有条件共享");
    let mut all = vec![json!({"name": key.0, "label": key.1, "data_type": "字符型",
        "length": key.3, "is_key": true, "semantic_type": key.2})];
    all.extend(items.as_array().unwrap().iter().cloned());
    r["data_items"] = json!(all);
    r
}

#[tokio::test]
async fn records_keyed_by_an_organization_code_or_registration_number_join_the_legal_entity_library()
 {
    let hub = Hub::start().await;
    let (a, a_org) = enterprise("MA3C8K2P");
    let (b, _) = enterprise("MA3C8K3Q");
    let (_, gone_org) = enterprise("12345678");
    let (a_reg, gone_reg) = (registration(1001), registration(1002));
    let ent_name =
        json!({"name": "ent_name", "label": "单位名称", "data_type": "字符型", "length": 100});
    let status =
        json!({"name": "ent_status", "label": "登记状态", "data_type": "字符型", "length": 10});
    // 市场主体登记: the credit code and, for A, the registration number it had before.
    let register = published(
        &hub,
        &enterprise_spec(
            "市场主体登记信息",
            ("credit_code", "统一社会信用代码", "统一社会信用代码", 18),
            json!([ent_name, status,
                {"name": "reg_no", "label": "注册号", "data_type": "字符型", "length": 15, "semantic_type": "注册号"}]),
        ),
    )
    .await;
    load(
        &hub,
        &register,
        &format!(
            "credit_code,ent_name,ent_status,reg_no\n\
             {a},青岛海纳科技有限公司,存续,{a_reg}\n\
             {b},青岛蓝谷生物有限公司,存续,\n"
        ),
    )
    .await;
    // 统计名录: still keyed by the organization code, one unit deregistered before 2015.
    let units = published(
        &hub,
        &enterprise_spec(
            "基本单位名录库",
            ("org_code", "组织机构代码", "组织机构代码", 10),
            json!([ent_name, {"name": "industry", "label": "行业", "data_type": "字符型", "length": 50}]),
        ),
    )
    .await;
    load(
        &hub,
        &units,
        &format!(
            "org_code,ent_name,industry\n\
             {a_org},青岛海纳科技有限公司,软件和信息技术服务业\n\
             {gone_org},青岛老字号食品厂,食品制造业\n"
        ),
    )
    .await;
    // 原国税登记: keyed by the registration number.
    let taxpayers = published(
        &hub,
        &enterprise_spec(
            "纳税人登记信息",
            ("reg_no", "注册号", "注册号", 15),
            json!([ent_name, status]),
        ),
    )
    .await;
    load(
        &hub,
        &taxpayers,
        &format!(
            "reg_no,ent_name,ent_status\n\
             {a_reg},青岛海纳科技有限公司,正常\n\
             {gone_reg},青岛老字号食品厂,注销\n"
        ),
    )
    .await;
    let (s, v) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/quality/sources",
        &json!({"attribute": "ent_status", "key_type": "credit_code", "resource": register}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, lib) = call(
        &hub,
        &hub.operator_key,
        "/api/v1/libraries",
        &json!({"kind": "legal_entity"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{lib}");
    let items = lib["items"].as_array().unwrap();
    for item in ["reg_no", "org_code"] {
        assert!(items.iter().any(|i| i == item), "{item}: {lib}");
    }
    let code = lib["code"].as_str().unwrap().to_string();
    let build = format!("/api/v1/libraries/{code}/build");
    let (s, r) = call(&hub, &hub.operator_key, &build, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["mode"], "full", "{r}");
    // The deregistered unit and the cancelled taxpayer have no credit code to join.
    assert_eq!(r["alternate_keys_unjoined"], 2, "{r}");
    let sources: Vec<&str> = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&taxpayers.as_str()), "{r}");
    let firms = rows_by(&hub, &format!("SELECT * FROM \"{code}\""), "credit_code").await;
    assert_eq!(firms.len(), 2, "{firms:?}");
    let firm = &firms[&a];
    assert_eq!(firm["org_code"], a_org.replace('-', ""));
    assert_eq!(firm["reg_no"], a_reg);
    assert_eq!(firm["source_count"], "3", "{firm:?}");
    // The register's status is authoritative; the tax system's differs and is kept.
    assert_eq!(firm["ent_status"], "存续");
    let p = provenance(firm);
    assert_eq!(
        p["ent_status"]["alternatives"][0]["resource"],
        taxpayers.as_str()
    );
    assert_eq!(p["ent_status"]["alternatives"][0]["value"], "正常");
    assert_eq!(p["ent_name"]["agreeing"], 2, "{p}");
    assert_eq!(firms[&b]["source_count"], "1");

    // The tax system loads again: its change (keyed by the registration number) reaches A
    // through the library's own crosswalk, and only A is composed again.
    load(
        &hub,
        &taxpayers,
        &format!(
            "reg_no,ent_name,ent_status\n\
             {a_reg},青岛海纳科技股份有限公司,正常\n\
             {gone_reg},青岛老字号食品厂,注销\n"
        ),
    )
    .await;
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, libs) = json_of(hub.get(&hub.operator_key, "/api/v1/libraries").await).await;
        last = libs
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["code"] == code.as_str())
            .cloned()
            .unwrap();
        // The build that read the tax system's second version.
        let reached = last["last_build"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == taxpayers.as_str() && s["version"] == 1);
        if reached {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let last = &last["last_build"];
    assert_eq!(last["mode"], "incremental", "{last}");
    assert_eq!(last["subjects_composed"], 1, "{last}");
    let firms = rows_by(&hub, &format!("SELECT * FROM \"{code}\""), "credit_code").await;
    let p = provenance(&firms[&a]);
    assert_eq!(
        p["ent_name"]["alternatives"][0]["value"], "青岛海纳科技股份有限公司",
        "{p}"
    );
}
