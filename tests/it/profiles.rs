//! 一人一档、一企一档 through the HTTP API: a profile is the set of lookups the calling system
//! may make, each shaped by its grant (fields, masking, row scope), found by key or alternate
//! key, with a timeline, and every view audited with its purpose.

use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::search_until;
use crate::harness::{Hub, error_code, json_of, resource};
use crate::sharing::{V1, load, published, register_spec, request};

fn reg_no() -> String {
    shuniu_types::RegistrationNumber::compose("370202".parse().unwrap(), 88)
        .unwrap()
        .to_string()
}

fn credit_code() -> String {
    shuniu_types::CreditCode::compose("91", "370202".parse().unwrap(), "MA3C8K2P")
        .unwrap()
        .as_str()
        .to_string()
}

/// 婚姻登记: keyed by the registration number; both spouses' ID numbers are alternate keys.
fn marriages_spec() -> Value {
    let mut r = resource("婚姻登记信息");
    r["share_type"] = json!("无条件共享");
    r["data_items"] = json!([
        {"name": "reg_no", "label": "登记证号", "data_type": "字符型", "length": 20, "is_key": true},
        {"name": "husband_id", "label": "男方身份证号", "data_type": "字符型", "length": 18, "personal": true, "semantic_type": "身份证号"},
        {"name": "wife_id", "label": "女方身份证号", "data_type": "字符型", "length": 18, "personal": true, "semantic_type": "身份证号"},
        {"name": "reg_date", "label": "登记日期", "data_type": "日期型"}
    ]);
    r
}

/// 企业登记: keyed by the unified social credit code.
fn enterprises_spec() -> Value {
    let mut r = resource("企业登记信息");
    r["share_type"] = json!("无条件共享");
    r["data_items"] = json!([
        {"name": "credit_code", "label": "统一社会信用代码", "data_type": "字符型", "length": 18, "is_key": true, "semantic_type": "统一社会信用代码"},
        {"name": "ent_name", "label": "企业名称", "data_type": "字符型", "length": 100},
        {"name": "est_date", "label": "成立日期", "data_type": "日期型"},
        {"name": "reg_no", "label": "注册号", "data_type": "字符型", "length": 15, "semantic_type": "注册号"}
    ]);
    r
}

/// A system older than credit codes: its rows are keyed by the organization code (统计名录)
/// or the registration number (原国税登记).
fn legacy_spec(name: &str, key: &str, label: &str, length: u32) -> Value {
    let mut r = resource(name);
    r["share_type"] = json!("无条件共享");
    r["data_items"] = json!([
        {"name": key, "label": label, "data_type": "字符型", "length": length, "is_key": true, "semantic_type": label},
        {"name": "ent_name", "label": "单位名称", "data_type": "字符型", "length": 100},
        {"name": "survey_date", "label": "调查日期", "data_type": "日期型"}
    ]);
    r
}

async fn granted(hub: &Hub, code: &str, fields: &[&str], row_scope: Option<&str>) {
    let mut req = request(code, "mz");
    req["fields"] = json!(fields);
    req["services"] = json!(["lookup"]);
    match row_scope {
        Some(s) => req["row_scope"] = json!(s),
        None => {
            req.as_object_mut().unwrap().remove("row_scope");
        }
    }
    let (s, r) = json_of(
        hub.post(&hub.mz_key, "/api/v1/sharing/requests", &req)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    if r["state"] == "pending" {
        let decision = format!(
            "/api/v1/sharing/requests/{}/decision",
            r["id"].as_str().unwrap()
        );
        let (s, d) = json_of(
            hub.post(
                &hub.ga_key,
                &decision,
                &json!({"approve": true, "reason": "同意"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{d}");
    }
}

#[tokio::test]
async fn a_profile_gathers_what_the_caller_may_look_up_and_nothing_else() {
    let hub = Hub::start_serving().await;
    // 户籍: conditional, granted to 民政 for 市南区 only, name and address masked.
    let register = published(&hub, &register_spec("户籍人口信息", "有条件共享")).await;
    load(&hub, &register, V1).await;
    granted(
        &hub,
        &register,
        &["id_number", "name", "district", "address"],
        Some("district = 370202"),
    )
    .await;
    // 婚姻登记: 张三 (370202199003070011) is the wife in one record.
    let marriages = published(&hub, &marriages_spec()).await;
    load(
        &hub,
        &marriages,
        "reg_no,husband_id,wife_id,reg_date\n\
         J370202-2015-001,370203197001010039,370202199003070011,2015-05-20\n\
         J370202-2016-002,370202198505120029,,2016-01-08\n",
    )
    .await;
    granted(
        &hub,
        &marriages,
        &["reg_no", "husband_id", "wife_id", "reg_date"],
        None,
    )
    .await;
    let enterprises = published(&hub, &enterprises_spec()).await;
    let cc = credit_code();
    load(
        &hub,
        &enterprises,
        &format!(
            "credit_code,ent_name,est_date,reg_no\n{cc},青岛海纳科技有限公司,2018-03-01,{reg}\n",
            reg = reg_no()
        ),
    )
    .await;
    granted(
        &hub,
        &enterprises,
        &["credit_code", "ent_name", "est_date", "reg_no"],
        None,
    )
    .await;
    let org = shuniu_types::CreditCode::from_str(&cc).unwrap().org_code();
    let units = published(
        &hub,
        &legacy_spec("基本单位名录", "org_code", "组织机构代码", 10),
    )
    .await;
    load(
        &hub,
        &units,
        &format!(
            "org_code,ent_name,survey_date\n{},青岛海纳科技有限公司,2013-12-31\n",
            org.hyphenated()
        ),
    )
    .await;
    granted(&hub, &units, &["org_code", "ent_name", "survey_date"], None).await;
    let taxpayers = published(&hub, &legacy_spec("纳税人登记信息", "reg_no", "注册号", 15)).await;
    load(
        &hub,
        &taxpayers,
        &format!(
            "reg_no,ent_name,survey_date\n{},青岛海纳科技有限公司,2014-06-30\n",
            reg_no()
        ),
    )
    .await;
    granted(
        &hub,
        &taxpayers,
        &["reg_no", "ent_name", "survey_date"],
        None,
    )
    .await;

    let person =
        |id: &str, purpose: &str| format!("/api/v1/profiles/persons/{id}?purpose={purpose}");
    let (s, p) = json_of(
        hub.get(&hub.mz_key, &person("370202199003070011", "低保审核"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["subject_type"], "person");
    assert_eq!(p["purpose"], "低保审核");
    let sections = p["sections"].as_array().unwrap();
    let of = |code: &str| sections.iter().find(|s| s["resource"] == code).cloned();
    let reg = of(&register).expect("the register's section");
    assert_eq!(reg["matched_by"], "key");
    assert_eq!(
        reg["records"][0]["name"], "张*",
        "masked as the grant says: {reg}"
    );
    assert!(
        reg["records"][0].get("mobile").is_none(),
        "mobile was not granted"
    );
    let mar = of(&marriages).expect("the marriage record, found by the wife's ID number");
    assert_eq!(mar["matched_by"], "alternate_key");
    assert_eq!(mar["records"].as_array().unwrap().len(), 1);
    assert!(of(&enterprises).is_none(), "no person's data there");
    // The timeline: the birth from the ID number, then the marriage.
    let events: Vec<(String, String)> = p["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["date"].as_str().unwrap().into(),
                e["event"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events[0],
        ("1990-03-07".to_string(), "出生（据身份证号）".to_string())
    );
    assert!(
        events.contains(&(
            "2015-05-20".to_string(),
            "婚姻登记信息 · 登记日期".to_string()
        )),
        "{events:?}"
    );

    // 王五 lives in 市北区, outside 民政's row scope on the register; his marriage is visible.
    let (s, p) = json_of(
        hub.get(&hub.mz_key, &person("370203197001010039", "x"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let resources: Vec<&str> = p["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources, vec![marriages.as_str()]);

    // A system without grants sees no profile at all: answered as absent.
    let (s, b) = json_of(
        hub.get(&hub.viewer_key, &person("370202199003070011", "x"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    // The provider's own system reads its own data in the clear, mobile included.
    let (s, p) = json_of(
        hub.get(&hub.ga_key, "/api/v1/profiles/persons/370202199003070011")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let own = p["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["resource"] == register.as_str())
        .cloned()
        .unwrap();
    assert!(own["grant"].as_str().unwrap().starts_with("own:"), "{own}");
    assert_eq!(own["records"][0]["mobile"], "13812345678");

    // Bad numbers are refused at the edge; a 15-digit number is upgraded.
    let (s, b) = json_of(
        hub.get(&hub.mz_key, &person("370202199003070012", "x"))
            .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "PROFILE_ID_NUMBER"),
        "{b}"
    );
    let (s, p) = json_of(hub.get(&hub.mz_key, &person("370202900307001", "x")).await).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["key"], "370202199003070011");
    // No key: 401.
    let r = hub
        .client
        .get(hub.url(&person("370202199003070011", "x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // 一企一档.
    let (s, p) = json_of(
        hub.get(
            &hub.mz_key,
            &format!("/api/v1/profiles/enterprises/{cc}?purpose=惠企政策核查"),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["subject_type"], "enterprise");
    assert_eq!(
        p["sections"][0]["records"][0]["ent_name"],
        "青岛海纳科技有限公司"
    );
    // The records older systems keep under its organization code and registration number.
    let section = |code: &str| {
        p["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["resource"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("{code}: {p}"))
    };
    assert_eq!(section(&enterprises)["matched_by"], "key");
    for legacy in [&units, &taxpayers] {
        let s = section(legacy);
        assert_eq!(s["matched_by"], "alternate_key", "{s}");
        assert_eq!(s["records"][0]["ent_name"], "青岛海纳科技有限公司");
    }
    assert!(
        p["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["date"] == "2018-03-01"),
        "{p}"
    );
    let (s, b) = json_of(
        hub.get(
            &hub.mz_key,
            "/api/v1/profiles/enterprises/9137020012345678X1",
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "PROFILE_CREDIT_CODE"),
        "{b}"
    );

    // Record linkage: a hospital's visits carry no ID number; the hub's links tie one to 张三.
    let mut visits = resource("门诊就诊登记信息");
    visits["data_items"] = json!([
        {"name": "record_id", "label": "就诊流水号", "data_type": "字符型", "length": 20, "is_key": true},
        {"name": "patient", "label": "患者姓名", "data_type": "字符型", "length": 50, "personal": true, "semantic_type": "姓名"},
        {"name": "visit_date", "label": "就诊日期", "data_type": "日期型"}
    ]);
    let visits = published(&hub, &visits).await;
    load(
        &hub,
        &visits,
        "record_id,patient,visit_date\nMZ-0001,张三,2024-11-02\nMZ-0002,张 三,2025-01-15\nMZ-0003,李四,2025-02-01\n",
    )
    .await;
    let link = |key: &str, p: f64| shuniu_sharing::RecordLink {
        record_key: key.into(),
        subject: shuniu_sharing::Subject::person("370202199003070011").unwrap(),
        match_probability: p,
    };
    // Only the hub writes links.
    let officer = shuniu_types::Actor {
        principal: "ga.officer".into(),
        department: "370200GA".into(),
        role: shuniu_types::Role::DataOfficer,
        ..shuniu_types::Actor::local_operator()
    };
    assert!(
        hub.sharing
            .replace_record_links(&officer, &visits, &[link("MZ-0001", 0.99)])
            .await
            .is_err()
    );
    let n = hub
        .sharing
        .replace_record_links(
            &shuniu_types::Actor::local_operator(),
            &visits,
            &[link("MZ-0001", 0.99), link("MZ-0002", 0.93)],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    // Without a grant on the visits, 民政's profile does not show them.
    let (_, p) = json_of(
        hub.get(&hub.mz_key, &person("370202199003070011", "x"))
            .await,
    )
    .await;
    assert!(!p.to_string().contains("MZ-0001"), "{p}");
    granted(&hub, &visits, &["record_id", "patient", "visit_date"], None).await;
    let (s, p) = json_of(
        hub.get(&hub.mz_key, &person("370202199003070011", "x"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let linked = p["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["resource"] == visits.as_str())
        .cloned()
        .expect("the linked visits");
    assert_eq!(linked["matched_by"], "linkage");
    assert_eq!(linked["records"].as_array().unwrap().len(), 2);
    assert_eq!(linked["link_probabilities"], json!([0.99, 0.93]));
    assert!(!linked.to_string().contains("李四"));
    assert!(
        p["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["date"] == "2024-11-02"),
        "{p}"
    );
    // A new run replaces the model's links.
    hub.sharing
        .replace_record_links(
            &shuniu_types::Actor::local_operator(),
            &visits,
            &[link("MZ-0002", 0.91)],
        )
        .await
        .unwrap();
    let (_, p) = json_of(
        hub.get(&hub.mz_key, &person("370202199003070011", "x"))
            .await,
    )
    .await;
    assert!(
        !p.to_string().contains("MZ-0001") && p.to_string().contains("MZ-0002"),
        "{p}"
    );

    // Every view is on the record with its purpose and the person's subject digest.
    let rows = search_until(&hub, &hub.operator_key, "action=service.profile", |r| {
        r.iter().any(|e| e["purpose"] == "低保审核")
    })
    .await;
    let view = rows
        .iter()
        .find(|e| e["purpose"] == "低保审核" && e["resource"] == register.as_str())
        .expect("the register's disclosure is audited");
    assert_eq!(view["department"], "370200MZ");
    let idx = view["idx"].as_u64().unwrap();
    let (_, e) = json_of(
        hub.get(&hub.operator_key, &format!("/api/v1/audit/entries/{idx}"))
            .await,
    )
    .await;
    assert_eq!(e["entry"]["subjects"].as_array().unwrap().len(), 1, "{e}");
    assert!(
        !e.to_string().contains("370202199003070011"),
        "no ID number in clear"
    );
    // A view that found nothing is on the record too.
    search_until(&hub, &hub.operator_key, "action=service.profile", |r| {
        r.iter().any(|e| e["result"] == "not_found")
    })
    .await;
}
