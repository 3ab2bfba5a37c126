//! The demo city's integrated services (一件事一次办): 出生一件事 and 企业开办一件事 for
//! applicants, and 公民身故一件事 opened by the civil-affairs bureau's death registrations, each
//! over the demo's departments, resources and licence types — with cases in every state: done
//! and rated, waiting in a department's queue, back with the applicant for a correction,
//! refused (its done steps undone), and opened by new death registrations nobody applied for.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::json;
use shuniu_cases::{CaseSubject, Decision, ServiceDefinition};
use shuniu_types::Actor;

/// What the demo set up.
#[derive(Debug, Default)]
pub struct DemoCases {
    pub services: usize,
    pub cases: usize,
    pub by_death: usize,
}

fn err(e: shuniu_cases::CasesError) -> anyhow::Error {
    use shuniu_types::Classified;
    let p = e.problem();
    anyhow::anyhow!("{} {:?} [{}]", p.message_en, p.fields, p.code)
}

/// What the demo's applicants upload: a one-pixel photo and a one-page lease.
const PHOTO: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];
const LEASE: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// The three services, over the demo's resource codes and licence types.
fn services(
    register: &str,
    marriages: Option<&str>,
    cremations: &str,
    birth_licence: &str,
    business_licence: &str,
) -> Vec<serde_json::Value> {
    let marriage = marriages.map_or_else(
        || json!({"code": "marriage", "name": "结婚证", "by": "upload"}),
        |m| json!({"code": "marriage", "name": "结婚证（婚姻登记信息）", "by": "lookup", "resource": m}),
    );
    vec![
        json!({
            "code": "SVC-CHUSHENG", "name": "出生一件事",
            "description": "新生儿出生医学证明、户口登记、医保参保、社会保障卡申领一次申请、并联办理",
            "trigger": {"kind": "application", "applicant": "person"},
            "deadline_days": 10,
            "fields": [
                {"name": "guardian_name", "label": "监护人姓名", "required": true, "prefill": "name"},
                {"name": "guardian_address", "label": "监护人住址", "prefill": "address"},
                {"name": "child_name", "label": "新生儿姓名", "required": true},
                {"name": "child_sex", "label": "新生儿性别", "required": true, "choices": ["男", "女"]},
                {"name": "birth_date", "label": "出生日期", "required": true},
                {"name": "insured", "label": "办理城乡居民医保参保", "choices": ["是", "否"]},
                {"name": "card", "label": "申领社会保障卡", "choices": ["是", "否"]}
            ],
            "materials": [
                {"code": "guardian_hukou", "name": "监护人户口簿", "by": "lookup", "resource": register},
                marriage,
                {"code": "photo", "name": "新生儿照片（社保卡用）", "by": "upload"}
            ],
            "steps": [
                {"id": "certificate", "name": "出生医学证明签发", "department": "370200WJ", "deadline_days": 2,
                 "issues": {"licence_type": birth_licence, "holder": "decision"}},
                {"id": "hukou", "name": "出生户口登记", "department": "370200GA", "deadline_days": 3, "after": ["certificate"], "materials": ["guardian_hukou", "marriage"]},
                {"id": "insurance", "name": "城乡居民医保参保登记", "department": "370200YB", "deadline_days": 3, "after": ["hukou"], "when": "insured = '是'"},
                {"id": "card", "name": "社会保障卡申领", "department": "370200RS", "deadline_days": 5, "after": ["hukou"], "when": "card = '是'", "materials": ["photo"]},
                {"id": "archive", "name": "办件电子归档", "department": "370200DSJ", "deadline_days": 1, "after": ["insurance", "card"], "automatic": "record", "compensation": "record"}
            ],
            "before": {"materials": 12, "visits": 5, "days": 30, "steps": 4}
        }),
        json!({
            "code": "SVC-QIYE-KAIBAN", "name": "企业开办一件事",
            "description": "营业执照、公章刻制、涉税事项、社保登记、公积金缴存登记一表申请、一日办结",
            "trigger": {"kind": "application", "applicant": "person"},
            "deadline_days": 2,
            "fields": [
                {"name": "legal_rep", "label": "法定代表人", "required": true, "prefill": "name"},
                {"name": "ent_name", "label": "拟设企业名称", "required": true},
                {"name": "address", "label": "住所", "required": true},
                {"name": "capital", "label": "注册资本（万元）", "required": true},
                {"name": "seal", "label": "刻制公章", "choices": ["是", "否"]},
                {"name": "invoice", "label": "申领发票", "choices": ["是", "否"]},
                {"name": "housing_fund", "label": "公积金缴存登记", "choices": ["是", "否"]}
            ],
            "materials": [
                {"code": "rep_id", "name": "法定代表人身份信息", "by": "lookup", "resource": register},
                {"code": "premises", "name": "住所使用证明", "by": "upload"}
            ],
            "steps": [
                {"id": "licence", "name": "营业执照办理", "department": "370200SJ", "deadline_days": 1, "materials": ["rep_id", "premises"],
                 "issues": {"licence_type": business_licence, "holder": "decision"}},
                {"id": "seal", "name": "公章刻制备案", "department": "370200GA", "deadline_days": 1, "after": ["licence"], "when": "seal = '是'"},
                {"id": "tax", "name": "涉税事项办理（发票申领）", "department": "370200SW", "deadline_days": 1, "after": ["licence"], "when": "invoice = '是'"},
                {"id": "social", "name": "社会保险登记", "department": "370200RS", "deadline_days": 1, "after": ["licence"]},
                {"id": "fund", "name": "住房公积金缴存登记", "department": "370200GJJ", "deadline_days": 1, "after": ["licence"], "when": "housing_fund = '是'"},
                {"id": "archive", "name": "办件电子归档", "department": "370200DSJ", "deadline_days": 1, "after": ["seal", "tax", "social", "fund"], "automatic": "record"}
            ],
            "before": {"materials": 15, "visits": 6, "days": 10, "steps": 5}
        }),
        json!({
            "code": "SVC-QIYE-ZHUXIAO", "name": "企业注销一件事",
            "description": "清税、社保和公积金注销、注销登记一次申请、并联办理，电子营业执照代替纸质执照",
            "trigger": {"kind": "application", "applicant": "enterprise"},
            "deadline_days": 5,
            "fields": [
                {"name": "ent_name", "label": "企业名称", "required": true, "prefill": "ent_name"},
                {"name": "legal_rep", "label": "法定代表人", "required": true, "prefill": "legal_rep"},
                {"name": "reason", "label": "注销原因", "required": true, "choices": ["决议解散", "经营期限届满", "其他"]},
                {"name": "employees", "label": "有在职职工", "required": true, "choices": ["是", "否"]}
            ],
            "materials": [
                {"code": "licence", "name": "营业执照", "by": "licence", "licence_type": business_licence},
                {"code": "pledge", "name": "全体投资人承诺书", "by": "upload"}
            ],
            "steps": [
                {"id": "tax", "name": "清税", "department": "370200SW", "deadline_days": 2, "materials": ["licence"]},
                {"id": "social", "name": "社会保险注销", "department": "370200RS", "deadline_days": 2, "after": ["tax"], "when": "employees = '是'"},
                {"id": "fund", "name": "住房公积金注销", "department": "370200GJJ", "deadline_days": 2, "after": ["tax"], "when": "employees = '是'"},
                {"id": "deregister", "name": "注销登记", "department": "370200SJ", "deadline_days": 1, "after": ["social", "fund"], "materials": ["licence", "pledge"]},
                {"id": "archive", "name": "办件电子归档", "department": "370200DSJ", "deadline_days": 1, "after": ["deregister"], "automatic": "record"}
            ],
            "before": {"materials": 9, "visits": 4, "days": 20, "steps": 4}
        }),
        json!({
            "code": "SVC-SHENGU", "name": "公民身故一件事",
            "description": "民政火化（死亡）登记后，户籍注销、养老金停发、丧葬补助、医保停保由各部门主动办理，家属无需申请",
            "trigger": {"kind": "event", "resource": cremations, "key": "id_number"},
            "deadline_days": 15,
            "steps": [
                {"id": "hukou", "name": "户籍注销", "department": "370200GA", "deadline_days": 5},
                {"id": "pension", "name": "养老金停发", "department": "370200RS", "deadline_days": 3},
                {"id": "funeral", "name": "丧葬补助金发放", "department": "370200RS", "deadline_days": 10, "after": ["pension"]},
                {"id": "insurance", "name": "医保停保", "department": "370200YB", "deadline_days": 3},
                {"id": "archive", "name": "办件电子归档", "department": "370200DSJ", "deadline_days": 1, "after": ["hukou", "funeral", "insurance"], "automatic": "record"}
            ],
            "before": {"materials": 10, "visits": 6, "days": 45, "steps": 4}
        }),
    ]
}

fn officer(city: &shuniu_demo::DemoCity, department: &str) -> Actor {
    city.officer_of(department)
        .map(crate::demo::actor_of)
        .unwrap_or_else(|| Actor {
            principal: format!("officer:{department}"),
            display_name: String::new(),
            role: shuniu_types::Role::DataOfficer,
            department: department.into(),
        })
}

/// Defines the services and runs demo cases through them.
pub async fn cases_demo(
    city: &shuniu_demo::DemoCity,
    engines: &shuniu_server::Engines,
    scratch: &std::path::Path,
) -> Result<DemoCases> {
    let root = Actor::local_operator();
    let visible = engines.catalog.visible(&root).await?;
    let code_of = |provider: &str, name: &str| {
        visible
            .iter()
            .find(|r| {
                r.spec.provider == provider
                    && r.spec.name == name
                    && r.status == shuniu_types::ResourceStatus::Published
            })
            .map(|r| r.code.clone())
    };
    let register = code_of("370200GA", "户籍人口基本信息").context("no household register")?;
    let cremations = code_of("370200MZ", "死亡火化信息").context("no cremation records")?;
    let population = code_of("370200DSJ", "人口基础信息库").context("no population library")?;
    let marriages = code_of("370200MZ", "婚姻登记信息");
    let types = engines.licences.types().await?;
    let type_of = |name: &str| {
        types
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.code.clone())
            .unwrap_or_default()
    };
    let mut out = DemoCases::default();
    for s in services(
        &register,
        marriages.as_deref(),
        &cremations,
        &type_of("出生医学证明"),
        &type_of("营业执照"),
    ) {
        let def: ServiceDefinition = serde_json::from_value(s)?;
        engines.cases.define(&root, &def).await.map_err(err)?;
        out.services += 1;
    }
    // Applicants: people of the population library, parents' ages first.
    let rows = engines
        .aggregation
        .sql(
            &root,
            &format!(
                "SELECT CAST(id_number AS VARCHAR) FROM \"{population}\"
                 WHERE birth_date BETWEEN DATE '1986-01-01' AND DATE '1998-12-31'
                 ORDER BY 1 LIMIT 16"
            ),
            16,
        )
        .await?
        .to_strings();
    let applicants: Vec<CaseSubject> = rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter_map(|k| k.parse().ok().map(CaseSubject::Person))
        .collect();
    // The newborns the health commission registered and the enterprises the market regulator
    // registered: the holders the demo's decisions name, so that the licences issued are
    // those of rows in the departments' data.
    let births = code_of("370200WJ", "出生医学证明信息").context("no birth certificates")?;
    let firms_register = code_of("370200SJ", "市场主体登记信息").context("no market register")?;
    let newborns = engines
        .aggregation
        .sql(
            &root,
            &format!(
                "SELECT CAST(id_number AS VARCHAR) AS k, name, CAST(sex AS VARCHAR) AS sex, CAST(birth_date AS VARCHAR) AS born
                 FROM \"{births}\" ORDER BY born DESC, k LIMIT 8"
            ),
            8,
        )
        .await?
        .to_strings();
    let new_firms = engines
        .aggregation
        .sql(
            &root,
            &format!(
                "SELECT CAST(credit_code AS VARCHAR) AS k, ent_name, CAST(reg_date AS VARCHAR) AS day
                 FROM \"{firms_register}\" ORDER BY day DESC, k LIMIT 5"
            ),
            5,
        )
        .await?
        .to_strings();
    let cell = |rows: &Vec<Vec<Option<String>>>, i: usize, j: usize| {
        rows.get(i)
            .and_then(|r| r.get(j).cloned().flatten())
            .unwrap_or_default()
    };
    let cases = &engines.cases;
    let form = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let approve = |note: &str| Decision::Approve {
        note: note.into(),
        holder: None,
    };
    let issue_to = |note: &str, holder: String| Decision::Approve {
        note: note.into(),
        holder: Some(holder),
    };
    // 出生一件事: eight families, in every state.
    for (i, who) in applicants.iter().take(8).enumerate() {
        let mut f = cases.prefill("SVC-CHUSHENG", who).await.map_err(err)?;
        let photo = cases
            .upload(
                "SVC-CHUSHENG",
                "photo",
                &format!("新生儿照片-{i:02}.png"),
                PHOTO,
            )
            .await
            .map_err(err)?;
        let sex = cell(&newborns, i, 2);
        f.extend(form(&[
            ("child_name", &cell(&newborns, i, 1)),
            (
                "child_sex",
                if sex == "女" || sex == "2" {
                    "女"
                } else {
                    "男"
                },
            ),
            ("birth_date", &cell(&newborns, i, 3)),
            ("insured", if i == 5 { "否" } else { "是" }),
            ("card", "是"),
            ("material:photo", &photo.text()),
        ]));
        f.entry("guardian_name".into())
            .or_insert_with(|| "监护人".into());
        let case = cases
            .apply(who, "SVC-CHUSHENG", f, true, "demo")
            .await
            .map_err(err)?;
        out.cases += 1;
        let id = case.id.as_str();
        let wj = officer(city, "370200WJ");
        if i >= 6 {
            continue; // waiting for the health commission
        }
        cases
            .decide(
                &wj,
                id,
                "certificate",
                issue_to("出生医学证明已签发", cell(&newborns, i, 0)),
            )
            .await
            .map_err(err)?;
        // The licence is issued through the outbox; the police's step follows it.
        cases.run_jobs().await.map_err(err)?;
        let ga = officer(city, "370200GA");
        match i {
            4 => {
                cases
                    .decide(
                        &ga,
                        id,
                        "hukou",
                        Decision::Return {
                            note: "请补充新生儿随父或随母落户的意见".into(),
                        },
                    )
                    .await
                    .map_err(err)?;
                continue;
            }
            5 => continue, // in the police's queue
            _ => {}
        }
        cases
            .decide(&ga, id, "hukou", approve("已登记常住户口"))
            .await
            .map_err(err)?;
        if i == 3 {
            cases
                .decide(
                    &officer(city, "370200YB"),
                    id,
                    "insurance",
                    Decision::Refuse {
                        reason: "已在外地参保，不得重复参保".into(),
                    },
                )
                .await
                .map_err(err)?;
            continue;
        }
        if i == 2 {
            continue; // medical insurance and social security card in their queues
        }
        cases
            .decide(
                &officer(city, "370200YB"),
                id,
                "insurance",
                approve("已参保"),
            )
            .await
            .map_err(err)?;
        cases
            .decide(
                &officer(city, "370200RS"),
                id,
                "card",
                approve("社保卡已制卡"),
            )
            .await
            .map_err(err)?;
        cases.run_jobs().await.map_err(err)?;
        cases
            .rate(who, id, 5 - (i as i64 % 2), "一次办好，很方便")
            .await
            .map_err(err)?;
    }
    // 企业开办一件事: five founders.
    let firms = [
        "青岛海湾数字科技有限公司",
        "青岛崂山茶韵文化有限公司",
        "青岛蓝谷新材料有限公司",
        "青岛啤酒街餐饮管理有限公司",
        "青岛西海岸物流有限公司",
    ];
    for (i, who) in applicants.iter().skip(8).take(5).enumerate() {
        let mut f = cases.prefill("SVC-QIYE-KAIBAN", who).await.map_err(err)?;
        let lease = cases
            .upload(
                "SVC-QIYE-KAIBAN",
                "premises",
                &format!("住所租赁合同-{i:02}.pdf"),
                LEASE,
            )
            .await
            .map_err(err)?;
        let firm = cell(&new_firms, i, 1);
        f.extend(form(&[
            (
                "ent_name",
                if firm.is_empty() {
                    firms[i]
                } else {
                    firm.as_str()
                },
            ),
            ("address", "青岛市市南区香港中路 100 号"),
            ("capital", "100"),
            ("seal", "是"),
            ("invoice", if i == 1 { "否" } else { "是" }),
            ("housing_fund", if i % 2 == 0 { "是" } else { "否" }),
            ("material:premises", &lease.text()),
        ]));
        f.entry("legal_rep".into())
            .or_insert_with(|| "法定代表人".into());
        let case = cases
            .apply(who, "SVC-QIYE-KAIBAN", f, true, "demo")
            .await
            .map_err(err)?;
        out.cases += 1;
        let id = case.id.as_str();
        if i == 4 {
            continue;
        }
        cases
            .decide(
                &officer(city, "370200SJ"),
                id,
                "licence",
                issue_to("营业执照已核发", cell(&new_firms, i, 0)),
            )
            .await
            .map_err(err)?;
        cases.run_jobs().await.map_err(err)?;
        if i == 3 {
            continue;
        }
        cases
            .decide(
                &officer(city, "370200GA"),
                id,
                "seal",
                approve("公章已备案"),
            )
            .await
            .map_err(err)?;
        cases
            .decide(&officer(city, "370200RS"), id, "social", approve(""))
            .await
            .map_err(err)?;
        if i == 2 {
            continue;
        }
        if i != 1 {
            cases
                .decide(&officer(city, "370200SW"), id, "tax", approve(""))
                .await
                .map_err(err)?;
        }
        if i % 2 == 0 {
            cases
                .decide(&officer(city, "370200GJJ"), id, "fund", approve(""))
                .await
                .map_err(err)?;
        }
        cases.run_jobs().await.map_err(err)?;
        cases.rate(who, id, 5, "").await.map_err(err)?;
    }
    // 企业注销一件事: two of the oldest enterprises, their business licences in place of paper.
    let old_firms = engines
        .aggregation
        .sql(
            &root,
            &format!(
                "SELECT CAST(credit_code AS VARCHAR) AS k, CAST(reg_date AS VARCHAR) AS day
                 FROM \"{firms_register}\" ORDER BY day, k LIMIT 2"
            ),
            2,
        )
        .await?
        .to_strings();
    for i in 0..old_firms.len() {
        let Ok(code) = cell(&old_firms, i, 0).parse::<shuniu_types::CreditCode>() else {
            continue;
        };
        let who = CaseSubject::Enterprise(code);
        let mut f = cases.prefill("SVC-QIYE-ZHUXIAO", &who).await.map_err(err)?;
        let pledge = cases
            .upload(
                "SVC-QIYE-ZHUXIAO",
                "pledge",
                &format!("全体投资人承诺书-{i:02}.pdf"),
                LEASE,
            )
            .await
            .map_err(err)?;
        f.extend(form(&[
            ("reason", "决议解散"),
            ("employees", if i == 0 { "否" } else { "是" }),
            ("material:pledge", &pledge.text()),
        ]));
        f.entry("ent_name".into()).or_insert_with(|| "企业".into());
        f.entry("legal_rep".into())
            .or_insert_with(|| "法定代表人".into());
        // An enterprise without a valid business licence would have to upload it: skip it.
        let Ok(case) = cases.apply(&who, "SVC-QIYE-ZHUXIAO", f, true, "demo").await else {
            continue;
        };
        out.cases += 1;
        if i == 0 {
            cases
                .decide(
                    &officer(city, "370200SW"),
                    &case.id,
                    "tax",
                    approve("已清税"),
                )
                .await
                .map_err(err)?;
        }
    }
    // 公民身故一件事: today's death registrations open their cases by themselves.
    let rec = engines.catalog.get(&root, &cremations).await?;
    let deaths = engines
        .aggregation
        .sql(
            &root,
            &format!(
                "SELECT CAST(p.id_number AS VARCHAR), p.name, p.sex, CAST(p.birth_date AS VARCHAR), p.address
                 FROM \"{population}\" p
                 LEFT JOIN (SELECT CAST(id_number AS VARCHAR) AS k FROM \"{cremations}\") c
                   ON CAST(p.id_number AS VARCHAR) = c.k
                 WHERE p.birth_date < DATE '1945-01-01' AND c.k IS NULL
                 ORDER BY 1 LIMIT 6"
            ),
            6,
        )
        .await?
        .to_strings();
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    let mut csv = rec
        .spec
        .data_items
        .iter()
        .map(|i| i.name.clone())
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for d in &deaths {
        let cell = |i: usize| {
            d.get(i)
                .cloned()
                .flatten()
                .unwrap_or_default()
                .replace(',', " ")
        };
        let line: Vec<String> = rec
            .spec
            .data_items
            .iter()
            .map(|item| match item.name.as_str() {
                "id_number" => cell(0),
                "name" => cell(1),
                "sex" => cell(2),
                "birth_date" => cell(3),
                "address" => cell(4),
                "event_date" => today.clone(),
                _ => String::new(),
            })
            .collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    if !deaths.is_empty() {
        std::fs::create_dir_all(scratch)?;
        let path = scratch.join("cremations-today.csv");
        std::fs::write(&path, csv)?;
        engines
            .aggregation
            .load_file(
                &officer(city, "370200MZ"),
                &cremations,
                &path,
                shuniu_aggregate::LoadRequest {
                    mode: shuniu_lake::WriteMode::Append,
                    source_name: "今日火化登记.csv".into(),
                    ..Default::default()
                },
                |_| {},
            )
            .await
            .context("loading today's death registrations")?;
        let _ = std::fs::remove_file(&path);
    }
    out.by_death = cases.follow_events().await.map_err(err)?;
    out.cases += out.by_death;
    let opened = cases
        .list(&root, Some("SVC-SHENGU"), 0, 100)
        .await
        .map_err(err)?;
    for (i, c) in opened.iter().enumerate() {
        let id = c.id.as_str();
        cases
            .decide(
                &officer(city, "370200GA"),
                id,
                "hukou",
                approve("已注销户口"),
            )
            .await
            .map_err(err)?;
        if i >= 3 {
            continue;
        }
        cases
            .decide(&officer(city, "370200RS"), id, "pension", approve("已停发"))
            .await
            .map_err(err)?;
        cases
            .decide(
                &officer(city, "370200YB"),
                id,
                "insurance",
                approve("已停保"),
            )
            .await
            .map_err(err)?;
        if i >= 2 {
            continue;
        }
        cases
            .decide(
                &officer(city, "370200RS"),
                id,
                "funeral",
                approve("丧葬补助金已发放至家属账户"),
            )
            .await
            .map_err(err)?;
    }
    cases.run_jobs().await.map_err(err)?;
    Ok(out)
}
