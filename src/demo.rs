//! Applies the generated demo city through the ordinary services, as its departments would.

use anyhow::{Context, Result};
use serde::Serialize;
use shuniu_auth::accounts::{Accounts, DepartmentInput};
use shuniu_catalog::{Catalog, Review};
use shuniu_demo::{DemoCity, Fate};
use shuniu_types::states::RequestState;
use shuniu_types::{Actor, Role, SemanticType};
use std::collections::HashMap;
use std::path::Path;

#[derive(Serialize)]
pub struct DemoAccounts {
    pub url: String,
    pub seed: u64,
    pub scale: u64,
    /// API key of the hub operator's application.
    pub operator_api_key: String,
    pub users: Vec<shuniu_demo::DemoUser>,
    pub applications: Vec<DemoApplication>,
    /// The open-data portal: datasets to try, a portal account with a data token.
    pub open: DemoOpen,
    /// Record linkage of the keyless sources, measured against the generator's truth.
    pub linkage: Vec<LinkageQuality>,
    /// The base libraries built from the loaded data.
    pub libraries: Vec<shuniu_libraries::BuildReport>,
    /// Electronic licences: the types issued, an example licence and a revoked one.
    pub licences: DemoLicences,
    /// City events: the Open311 key and a service code, and a year of history.
    pub open311: DemoEvents,
}

#[derive(Serialize)]
pub struct DemoApplication {
    pub id: String,
    pub name: String,
    pub department: String,
    pub role: Role,
    pub key: String,
    /// The same key, under the name the unified service's documentation uses.
    pub api_key: String,
    /// Resources this application holds an active grant on.
    pub resource_codes: Vec<String>,
    /// One key per granted resource that a lookup finds (within the grant's row scope).
    pub example_keys: std::collections::BTreeMap<String, String>,
    pub grants: Vec<DemoGrant>,
    /// An ID number whose profile (一人一档) this application may read, and its URL.
    pub example_id_number: Option<String>,
    pub example_person_profile: Option<String>,
    /// A credit code whose profile (一企一档) this application may read, and its URL.
    pub example_credit_code: Option<String>,
    pub example_enterprise_profile: Option<String>,
}

#[derive(Serialize)]
pub struct DemoGrant {
    pub grant_id: String,
    pub resource_code: String,
    pub resource_name: String,
    pub provider: String,
    pub services: Vec<String>,
    pub fields: Vec<String>,
    pub row_scope: String,
    pub example_key: Option<String>,
    pub example_lookup: String,
}

pub const ACCOUNTS_FILE: &str = "demo-accounts.json";

pub async fn build(
    city: &DemoCity,
    accounts: &Accounts,
    catalog: &Catalog,
    progress: impl Fn(&str),
) -> Result<(String, Vec<DemoApplication>)> {
    let root = Actor::local_operator();
    progress(&format!("部门 departments: {}", city.departments.len()));
    for d in &city.departments {
        let input = DepartmentInput {
            code: d.code.clone(),
            name: d.name.clone(),
            short_name: d.short_name.clone(),
            parent_code: d.parent_code.clone(),
            division: d.division.clone(),
            credit_code: Some(d.credit_code.clone()),
        };
        accounts
            .create_department(&root, &input)
            .await
            .with_context(|| format!("department {}", d.code))?;
    }
    progress(&format!("用户 users: {}", city.users.len()));
    for u in &city.users {
        accounts
            .create_user(
                &root,
                &u.login,
                &u.display_name,
                u.role,
                &u.department,
                &u.password,
            )
            .await
            .with_context(|| format!("user {}", u.login))?;
    }
    let mut apps = Vec::new();
    for (id, name, dept, role) in [
        (
            "hub-operator",
            "大数据局运维管理",
            shuniu_demo::HUB_DEPARTMENT,
            Role::HubOperator,
        ),
        (
            "ga-population-system",
            "公安人口管理系统",
            "370200GA",
            Role::DataOfficer,
        ),
        (
            "mz-assistance-system",
            "民政社会救助系统",
            "370200MZ",
            Role::DataOfficer,
        ),
        (
            "jy-enrolment-system",
            "教育招生入学系统",
            "370200JY",
            Role::Viewer,
        ),
        (
            "rs-pension-system",
            "人社养老保险待遇系统",
            "370200RS",
            Role::DataOfficer,
        ),
        (
            "yb-insurance-system",
            "医保参保管理系统",
            "370200YB",
            Role::DataOfficer,
        ),
        (
            "wj-birth-certificate-system",
            "卫健出生医学证明系统",
            "370200WJ",
            Role::DataOfficer,
        ),
    ] {
        let (app, key) = accounts
            .create_application(&root, id, name, dept, role)
            .await
            .with_context(|| format!("application {id}"))?;
        apps.push(DemoApplication {
            id: app.id,
            name: app.name,
            department: app.department_code,
            role: app.role,
            api_key: key.clone(),
            key,
            resource_codes: Vec::new(),
            example_keys: Default::default(),
            example_id_number: None,
            example_person_profile: None,
            example_credit_code: None,
            example_enterprise_profile: None,
            grants: Vec::new(),
        });
    }
    let operator_key = apps[0].key.clone();

    // Each department's officer registers its own entries; the hub reviews them.
    let officers: HashMap<&str, Actor> = city
        .officers()
        .map(|u| {
            (
                u.department.as_str(),
                Actor {
                    principal: u.login.clone(),
                    display_name: u.display_name.clone(),
                    role: u.role,
                    department: u.department.clone(),
                },
            )
        })
        .collect();
    let operator = city
        .operator()
        .map(|u| Actor {
            principal: u.login.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            department: u.department.clone(),
        })
        .unwrap_or_else(Actor::local_operator);
    progress(&format!("目录 catalog entries: {}", city.resources.len()));
    for r in &city.resources {
        let by = officers.get(r.input.provider.as_str()).unwrap_or(&operator);
        let rec = catalog
            .register(by, &r.input)
            .await
            .with_context(|| format!("resource {}", r.input.name))?;
        let code = rec.code;
        match &r.fate {
            Fate::Draft => {}
            Fate::Submitted => {
                catalog.submit(by, &code).await?;
            }
            Fate::Published => {
                catalog.submit(by, &code).await?;
                catalog
                    .review(&operator, &code, Review::Publish, "")
                    .await?;
            }
            Fate::Returned(reason) => {
                catalog.submit(by, &code).await?;
                catalog
                    .review(&operator, &code, Review::Return, reason)
                    .await?;
            }
            Fate::Withdrawn(reason) => {
                catalog.submit(by, &code).await?;
                catalog
                    .review(&operator, &code, Review::Publish, "")
                    .await?;
                catalog.withdraw(by, &code, reason).await?;
            }
        }
    }
    Ok((operator_key, apps))
}

/// The demo user acting in the console or on the command line.
pub fn actor_of(u: &shuniu_demo::DemoUser) -> Actor {
    Actor {
        principal: u.login.clone(),
        display_name: u.display_name.clone(),
        role: u.role,
        department: u.department.clone(),
    }
}

/// True if `dir` holds nothing (or does not exist): the demo generates only into empty dirs.
pub fn is_empty_dir(dir: &Path) -> Result<bool> {
    if !dir.exists() {
        return Ok(true);
    }
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .next()
        .is_none())
}

/// What the data step loaded.
#[derive(Debug, Default, Serialize)]
pub struct DataSummary {
    pub datasets: usize,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    /// Datasets dated past their update cycle (for the quality capability to flag).
    pub stale: Vec<String>,
    /// Records whose address disagrees with the household register (一数一源).
    pub address_conflicts: u64,
    /// Problem tickets open after the loads and the cross-check.
    pub open_tickets: usize,
    /// Record linkage of each keyless source against the household register, measured
    /// against the truth the generator knows.
    pub linkage: Vec<LinkageQuality>,
    /// The base libraries built from the loaded data.
    pub libraries: Vec<shuniu_libraries::BuildReport>,
    /// Linkage pairs waiting in the review queue.
    pub reviews: usize,
}

/// How well a keyless source's records were linked to the persons they describe.
#[derive(Debug, Clone, Serialize)]
pub struct LinkageQuality {
    pub resource: String,
    pub name: String,
    pub against: String,
    pub records: usize,
    pub linked: usize,
    pub correct: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub seconds: f64,
}

/// A source's generated rows, each with the ID number of the person it describes.
struct KeptRows {
    code: String,
    name: String,
    columns: Vec<String>,
    rows: Vec<(Vec<Option<String>>, String)>,
}

/// The columns linkage compares, as each source holds them.
const LINK_COLUMNS: [&str; 5] = ["id_no", "name", "birth_date", "address", "mobile"];

/// A source's rows as linkage records: `id_column` identifies a record; `id_no` is the ID
/// number the source holds (the register's key, a keyless source's legacy number).
fn link_records(
    columns: &[String],
    rows: &[(Vec<Option<String>>, String)],
    id_column: &str,
    id_no_column: &str,
) -> shuniu_linkage::Records {
    let pos = |c: &str| columns.iter().position(|x| x == c);
    let id = pos(id_column);
    let sources: Vec<Option<usize>> = LINK_COLUMNS
        .iter()
        .map(|c| {
            if *c == "id_no" {
                pos(id_no_column)
            } else {
                pos(c)
            }
        })
        .collect();
    let mut records =
        shuniu_linkage::Records::new(LINK_COLUMNS.iter().map(|c| c.to_string()).collect());
    for (row, _) in rows {
        let Some(Some(key)) = id.map(|i| row.get(i).cloned().flatten()) else {
            continue;
        };
        let values: Vec<Option<&str>> = sources
            .iter()
            .map(|s| s.and_then(|i| row.get(i)).and_then(|v| v.as_deref()))
            .collect();
        // Only rows with an identifier reach here.
        let _ = records.push(&key, &values);
    }
    records
}

/// What linking a keyless source found: records linked, how many rightly, the time, and each
/// record's best link (record key, ID number, match probability).
struct Linked {
    linked: usize,
    correct: usize,
    seconds: f64,
    links: Vec<(String, String, f64)>,
    /// Best pairs below the link threshold, for review, with the model's explanation.
    uncertain: Vec<(String, String, f64, serde_json::Value)>,
}

/// Links at or above this probability join profiles; the best pairs below it, down to 0.5,
/// wait in the review queue.
const LINK_THRESHOLD: f64 = 0.99;

/// How many of each source's weakest links above the threshold are queued for a spot check.
const SPOT_CHECKS: usize = 3;

/// Links a keyless source to the register and measures the links against the truth: each
/// record's best match at a probability of at least 0.5 counts.
fn measure_linkage(
    register: &shuniu_linkage::Records,
    source: &shuniu_linkage::Records,
    truth: &HashMap<String, String>,
) -> Result<Linked> {
    let settings = shuniu_linkage::Settings::from_json(
        r#"{
        "comparisons": [
            {"column": "name", "kind": "name", "tf": true},
            {"column": "birth_date", "kind": "date"},
            {"column": "address", "kind": "address"},
            {"column": "mobile", "kind": "phone"},
            {"column": "id_no", "kind": "id_number"}
        ],
        "blocking": [
            ["name:pinyin", "birth_date:year"],
            ["birth_date"],
            ["mobile:digits"],
            ["id_no:digits"]
        ],
        "u_sample_pairs": 300000
    }"#,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    let home = shuniu_demo::CITY_DIVISION.parse().ok();
    let linker = shuniu_linkage::Linker::new(settings, source, Some(register), home)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = linker.train().map_err(|e| anyhow::anyhow!("{e}"))?;
    let pairs = linker
        .predict(&model, 0.5)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Best first: the first pair of each source record is its link.
    let mut seen = std::collections::HashSet::new();
    let (mut linked, mut correct) = (0, 0);
    let mut links = Vec::new();
    let mut uncertain = Vec::new();
    // The weakest links are spot-checked too (抽检), so that a reviewer sees where the model's
    // certainty ends even when nothing falls below the threshold.
    let mut weakest: Vec<(f64, u32, u32)> = Vec::new();
    for p in pairs {
        if !seen.insert(p.left) {
            continue;
        }
        if p.match_probability >= LINK_THRESHOLD {
            weakest.push((p.match_probability, p.left, p.right));
        }
        linked += 1;
        let record = source.id(p.left as usize);
        let person = register.id(p.right as usize);
        if truth.get(record).map(String::as_str) == Some(person) {
            correct += 1;
        }
        if p.match_probability < LINK_THRESHOLD {
            let (prior, comparisons) = linker.explain(&model, p.left as usize, p.right as usize);
            uncertain.push((
                record.to_string(),
                person.to_string(),
                p.match_probability,
                serde_json::json!({"prior": prior, "comparisons": comparisons}),
            ));
        }
        links.push((record.to_string(), person.to_string(), p.match_probability));
    }
    weakest.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (probability, left, right) in weakest.into_iter().take(SPOT_CHECKS) {
        let (prior, comparisons) = linker.explain(&model, left as usize, right as usize);
        uncertain.push((
            source.id(left as usize).to_string(),
            register.id(right as usize).to_string(),
            probability,
            serde_json::json!({"prior": prior, "comparisons": comparisons, "spot_check": true}),
        ));
    }
    Ok(Linked {
        linked,
        correct,
        seconds: started.elapsed().as_secs_f64(),
        links,
        uncertain,
    })
}

/// Generates every published resource's rows as a department would export them — CSV in
/// UTF-8 or GBK, headers as item names or Chinese labels — and loads each file through the
/// ordinary aggregation path, as that department's data officer.
pub async fn load_data(
    city: &DemoCity,
    engines: &shuniu_server::Engines,
    scratch: &Path,
    scale: u64,
    defect_rate: f64,
    progress: impl Fn(&str),
) -> Result<DataSummary> {
    use shuniu_demo::data::DatasetPlan;
    let (catalog, aggregation, quality) =
        (&engines.catalog, &engines.aggregation, &engines.quality);
    std::fs::create_dir_all(scratch)?;
    let mut summary = DataSummary::default();
    let published: Vec<(usize, &shuniu_demo::DemoResource)> = city
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.fate, Fate::Published | Fate::Withdrawn(_)))
        .collect();
    let root = Actor::local_operator();
    let codes: HashMap<String, String> = catalog
        .visible(&root)
        .await?
        .into_iter()
        .map(|r| ((r.spec.provider.clone() + "/" + &r.spec.name), r.code))
        .collect();
    let started = std::time::Instant::now();
    // Rows kept for measuring linkage: the household register and each keyless source.
    let mut register_rows: Option<KeptRows> = None;
    let mut keyless: Vec<KeptRows> = Vec::new();
    for (n, (index, r)) in published.iter().enumerate() {
        let Some(code) = codes.get(&(r.input.provider.clone() + "/" + &r.input.name)) else {
            continue;
        };
        let rec = catalog.get(&root, code).await?;
        if rec.status != shuniu_types::ResourceStatus::Published {
            continue;
        }
        let plan = DatasetPlan::for_resource(r, *index, scale, defect_rate);
        // Departments send what their systems export: some GBK, some with Chinese headers.
        let gbk = index % 4 == 1;
        let chinese_headers = index % 3 == 1;
        let path = scratch.join(format!("{code}.csv"));
        {
            let file = std::fs::File::create(&path)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let headers: Vec<String> = r
                .input
                .data_items
                .iter()
                .map(|i| {
                    if chinese_headers {
                        i.label.clone()
                    } else {
                        i.name.clone()
                    }
                })
                .collect();
            let mut line = String::new();
            let mut write_line = |w: &mut std::io::BufWriter<std::fs::File>,
                                  cells: &mut dyn Iterator<Item = Option<String>>|
             -> std::io::Result<()> {
                line.clear();
                for (k, c) in cells.enumerate() {
                    if k > 0 {
                        line.push(',');
                    }
                    let c = c.unwrap_or_default();
                    if c.contains([',', '"', '\n']) {
                        line.push('"');
                        line.push_str(&c.replace('"', "\"\""));
                        line.push('"');
                    } else {
                        line.push_str(&c);
                    }
                }
                line.push('\n');
                if gbk {
                    let (bytes, _, _) = encoding_rs::GBK.encode(&line);
                    std::io::Write::write_all(w, &bytes)
                } else {
                    std::io::Write::write_all(w, line.as_bytes())
                }
            };
            write_line(&mut w, &mut headers.into_iter().map(Some))?;
            let columns: Vec<String> = r.input.data_items.iter().map(|i| i.name.clone()).collect();
            let is_register =
                r.input.name == "户籍人口基本信息" && r.input.provider.ends_with("GA");
            let keep = is_register || r.subject == shuniu_demo::Subject::Keyless;
            let mut kept = Vec::new();
            for (row, truth) in plan.rows_with_truth(city.seed, scale) {
                if keep {
                    kept.push((row.clone(), truth));
                }
                write_line(&mut w, &mut row.into_iter())?;
            }
            std::io::Write::flush(&mut w)?;
            let kept = KeptRows {
                code: code.clone(),
                name: r.input.name.clone(),
                columns,
                rows: kept,
            };
            if is_register {
                register_rows = Some(kept);
            } else if keep {
                keyless.push(kept);
            }
        }
        let officer = city
            .officer_of(&rec.spec.provider)
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator);
        let req = shuniu_aggregate::LoadRequest {
            source_name: format!("{}-export.csv", rec.spec.provider),
            // The demo injects defects on purpose; a department would still load the rest.
            max_reject_ratio: 0.9,
            ..Default::default()
        };
        let load = aggregation
            .load_file(&officer, code, &path, req, |_| {})
            .await
            .with_context(|| format!("loading {code}"))?;
        let _ = std::fs::remove_file(&path);
        // The officer checks what arrived, as a department would (an audited data access
        // whose subjects reach the citizen page); now and then the hub verifies too.
        aggregation
            .preview(
                &officer,
                code,
                None,
                20,
                Some("数据汇聚后抽查 / post-load spot check"),
            )
            .await?;
        if n % 5 == 0 {
            aggregation
                .preview(
                    &root,
                    code,
                    None,
                    5,
                    Some("汇聚质量核验 / hub quality check"),
                )
                .await?;
        }
        summary.datasets += 1;
        summary.rows_read += load.rows_read;
        summary.rows_accepted += load.rows_accepted;
        summary.rows_rejected += load.rows_rejected;
        // A few datasets were last refreshed long ago: past their update cycle.
        if index % 23 == 5
            && let Some(days) = rec.spec.update_cycle.max_age_days()
        {
            let at = chrono::Utc::now() - chrono::Duration::days(i64::from(days) * 3 + 2);
            aggregation.backdate_load(&load.id, &at).await?;
            summary.stale.push(code.clone());
        }
        if n % 25 == 24 || n + 1 == published.len() {
            progress(&format!(
                "数据 datasets {}/{} · {} 行 rows · {:.0} s",
                n + 1,
                published.len(),
                summary.rows_accepted,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let _ = std::fs::remove_dir(scratch);
    // 记录关联: each keyless source linked to the household register, measured against the
    // truth the generator knows.
    if let Some(reg) = &register_rows {
        let register = link_records(&reg.columns, &reg.rows, "id_number", "id_number");
        let in_register: std::collections::HashSet<&str> =
            (0..register.len()).map(|i| register.id(i)).collect();
        for KeptRows {
            code,
            name,
            columns: cols,
            rows,
        } in &keyless
        {
            let source = link_records(cols, rows, "record_id", "legacy_id");
            let truth: HashMap<String, String> = rows
                .iter()
                .filter_map(|(row, id)| {
                    let i = cols.iter().position(|c| c == "record_id")?;
                    Some((row.get(i)?.clone()?, id.clone()))
                })
                .collect();
            // Records whose person is in the register (a defect can drop the register's key).
            let findable = truth
                .values()
                .filter(|id| in_register.contains(id.as_str()))
                .count();
            let Linked {
                linked,
                correct,
                seconds,
                links,
                uncertain,
            } = measure_linkage(&register, &source, &truth)?;
            // Links at the threshold or above join profiles; the band below waits for review.
            let confident: Vec<shuniu_sharing::RecordLink> = links
                .into_iter()
                .filter(|(_, _, p)| *p >= LINK_THRESHOLD)
                .filter_map(|(record_key, id, p)| {
                    Some(shuniu_sharing::RecordLink {
                        record_key,
                        subject: shuniu_sharing::Subject::person(&id).ok()?,
                        match_probability: p,
                    })
                })
                .collect();
            engines
                .sharing
                .replace_record_links(&root, code, &confident)
                .await
                .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
            let review: Vec<shuniu_sharing::ReviewCandidate> = uncertain
                .into_iter()
                .filter_map(|(record_key, id, p, explanation)| {
                    Some(shuniu_sharing::ReviewCandidate {
                        record_key,
                        subject: shuniu_sharing::Subject::person(&id).ok()?,
                        match_probability: p,
                        explanation,
                    })
                })
                .collect();
            let queued = engines
                .sharing
                .queue_link_reviews(&root, code, &reg.code, &review)
                .await
                .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
            summary.reviews += queued;
            let precision = correct as f64 / linked.max(1) as f64;
            let recall = correct as f64 / findable.max(1) as f64;
            let f1 = 2.0 * precision * recall / (precision + recall).max(1e-9);
            progress(&format!(
                "记录关联 linkage: {name} ({} records) → 户籍人口基本信息: precision {precision:.4}, recall {recall:.4}, F1 {f1:.4} in {seconds:.1} s",
                source.len()
            ));
            summary.linkage.push(LinkageQuality {
                resource: code.clone(),
                name: name.clone(),
                against: "户籍人口基本信息".into(),
                records: source.len(),
                linked,
                correct,
                precision,
                recall,
                f1,
                seconds,
            });
        }
    }
    // 一数一源: a person's registered address comes from 公安's household register; every
    // other dataset holding an address for an ID number is checked against it.
    let register = catalog
        .visible(&root)
        .await?
        .into_iter()
        .find(|r| r.spec.name == "户籍人口基本信息" && r.spec.provider.ends_with("GA"));
    if let Some(register) = register {
        quality
            .designate_source(
                &root,
                shuniu_quality::SourceInput {
                    attribute: "address".into(),
                    label: "户籍地址".into(),
                    key_type: "id_number".into(),
                    resource: register.code.clone(),
                    column: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        let reports = quality
            .cross_check(&root, Some("address"))
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        summary.address_conflicts = reports.iter().map(|r| r.conflicts).sum();
        progress(&format!(
            "一数一源 address: {} datasets cross-checked against {}, {} conflicting records",
            reports.len(),
            register.code,
            summary.address_conflicts
        ));
    }
    // 基础库: every attribute of the household register and of the market-entity register is
    // designated (一数一源), and the population and legal-entity libraries are derived.
    /// (register, key type, (attribute, label)…)
    type Designations<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let designations: [Designations; 2] = [
        (
            "户籍人口基本信息",
            "id_number",
            // Name, sex and birth date are in nearly every dataset: designated, each load of
            // the register would cross-check a hundred datasets (see docs/libraries.md); the
            // library reads them from every source without a designation.
            &[
                ("nation", "民族"),
                ("household_no", "户号"),
                ("relation", "与户主关系"),
                ("division", "户籍地行政区划"),
            ],
        ),
        (
            "市场主体登记信息",
            "credit_code",
            &[
                ("reg_date", "成立日期"),
                ("capital", "注册资本"),
                ("industry", "行业"),
                ("ent_status", "登记状态"),
            ],
        ),
    ];
    let visible = catalog.visible(&root).await?;
    for (name, key_type, attributes) in designations {
        let Some(register) = visible
            .iter()
            .find(|r| r.spec.name == name && r.status == shuniu_types::ResourceStatus::Published)
        else {
            continue;
        };
        for (attribute, label) in attributes {
            if !register
                .spec
                .data_items
                .iter()
                .any(|i| i.name == *attribute)
            {
                continue;
            }
            quality
                .designate_source(
                    &root,
                    shuniu_quality::SourceInput {
                        attribute: attribute.to_string(),
                        label: label.to_string(),
                        key_type: key_type.into(),
                        resource: register.code.clone(),
                        column: None,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        }
    }
    for kind in [
        shuniu_libraries::LibraryKind::Population,
        shuniu_libraries::LibraryKind::LegalEntity,
    ] {
        let lib = engines
            .libraries
            .define(&root, kind, shuniu_demo::HUB_DEPARTMENT)
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        let report = engines
            .libraries
            .build(&root, &lib.code, true)
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        progress(&format!(
            "基础库 base library: {} {} from {} sources, {} subjects ({} with disagreeing sources) in {:.1} s",
            lib.code,
            lib.spec.name,
            report.sources.len(),
            report.rows_written,
            report.subjects_in_conflict,
            report.seconds
        ));
        summary.libraries.push(report);
    }
    // The address library: the register's addresses, and every other dataset's match rate.
    {
        let lib = engines
            .libraries
            .define(
                &root,
                shuniu_libraries::LibraryKind::Address,
                shuniu_demo::HUB_DEPARTMENT,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        let report = engines
            .libraries
            .build(&root, &lib.code, true)
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        let (read, matched) = report
            .address_match
            .iter()
            .skip(1)
            .fold((0, 0), |(r, m), a| (r + a.addresses, m + a.matched));
        progress(&format!(
            "基础库 base library: {} {}: {} standard addresses; {} other datasets' addresses {:.1}% matched in {:.1} s",
            lib.code,
            lib.spec.name,
            report.rows_written,
            report.address_match.len().saturating_sub(1),
            matched as f64 * 100.0 / read.max(1) as f64,
            report.seconds
        ));
        summary.libraries.push(report);
    }
    summary.open_tickets = quality
        .tickets(&root, None, None, true, false)
        .await
        .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?
        .len();
    Ok(summary)
}

/// What the demo's sharing set-up did.
#[derive(Default)]
pub struct SharingSummary {
    pub grants: usize,
    pub requests: usize,
    pub pending: usize,
    pub satisfaction: f64,
}

/// Departments request data as they would: the civil-affairs assistance system and the
/// education enrolment system ask 公安 for the household register, the pension and
/// medical-insurance systems ask 民政 for cremation records (a change feed that stops
/// payments for the deceased). Providers approve; one request waits in 公安's inbox; one
/// asks for a negative-list resource and is refused at once. Demands are filed and answered.
/// Then every granted application's account gets its grants and an example key.
pub async fn share(
    city: &DemoCity,
    catalog: &Catalog,
    sharing: &shuniu_sharing::Sharing,
    apps: &mut [DemoApplication],
    progress: impl Fn(&str),
) -> Result<SharingSummary> {
    use shuniu_policy::grant::Service;
    use shuniu_sharing::{DecisionInput, DemandAnswer, DemandInput, RequestInput};
    let root = Actor::local_operator();
    let officer = |dept: &str| {
        city.officer_of(dept)
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator)
    };
    let operator = city
        .operator()
        .map(actor_of)
        .unwrap_or_else(Actor::local_operator);
    let visible = catalog.visible(&root).await?;
    let find = |provider: &str, name: &str| {
        visible
            .iter()
            .find(|r| {
                r.spec.provider == provider
                    && r.spec.name == name
                    && r.status == shuniu_types::ResourceStatus::Published
            })
            .cloned()
    };
    let register = find("370200GA", "户籍人口基本信息")
        .ok_or_else(|| anyhow::anyhow!("the demo city has no household register"))?;
    let cremation = find("370200MZ", "死亡火化信息")
        .ok_or_else(|| anyhow::anyhow!("the demo city has no cremation records"))?;
    let entities = find("370200SJ", "市场主体登记信息")
        .ok_or_else(|| anyhow::anyhow!("the demo city has no legal-entity register"))?;
    let visits = find("370200WJ", "门诊就诊登记信息")
        .ok_or_else(|| anyhow::anyhow!("the demo city has no keyless hospital source"))?;
    for code in [
        &register.code,
        &cremation.code,
        &entities.code,
        &visits.code,
    ] {
        if let Some(stats) = sharing
            .sync_index(code)
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?
        {
            progress(&format!(
                "服务索引 serving index {code}: {} records (version {})",
                stats.rows, stats.version
            ));
        }
    }
    let err = |e: shuniu_sharing::SharingError| anyhow::anyhow!("{} [{}]", e, e.code());
    let mut summary = SharingSummary::default();
    let ask = |app: &str,
               code: &str,
               services: Vec<Service>,
               fields: Vec<&str>,
               purpose: &str,
               scenario: &str,
               basis: &str,
               scope: &str| RequestInput {
        resource_code: code.into(),
        application_id: app.into(),
        fields: fields.into_iter().map(String::from).collect(),
        purpose: purpose.into(),
        scenario: scenario.into(),
        legal_basis: basis.into(),
        duration_days: 365,
        services,
        row_scope: scope.into(),
        calls_per_day: None,
        rows_per_day: None,
        rate_per_second: Some(50),
    };
    let approve = |reason: &str, masking: &[(&str, shuniu_types::MaskingRule)]| DecisionInput {
        approve: true,
        reason: reason.into(),
        masking: masking.iter().map(|(f, m)| (f.to_string(), *m)).collect(),
        ..Default::default()
    };
    let flows: Vec<(&str, &str, RequestInput, DecisionInput)> = vec![
        (
            "370200MZ",
            "370200GA",
            ask(
                "mz-assistance-system",
                &register.code,
                vec![Service::Lookup, Service::Verify, Service::Compare],
                vec![],
                "最低生活保障对象家庭成员户籍核查",
                "社会救助申请受理时核对申请人及家庭成员户籍信息",
                "《社会救助暂行办法》第十一条",
                "",
            ),
            approve("同意，按最小必要原则共享", &[]),
        ),
        (
            "370200JY",
            "370200GA",
            ask(
                "jy-enrolment-system",
                &register.code,
                vec![Service::Lookup, Service::Verify],
                vec!["id_number", "name", "address", "household_no", "division"],
                "义务教育入学户籍核验",
                "市南区义务教育阶段新生入学资格审核",
                "《中华人民共和国义务教育法》第十二条",
                "division ^= 370202",
            ),
            approve(
                "同意，仅限市南区户籍",
                &[("household_no", shuniu_types::MaskingRule::Hash)],
            ),
        ),
        (
            "370200RS",
            "370200MZ",
            ask(
                "rs-pension-system",
                &cremation.code,
                vec![
                    Service::Subscribe,
                    Service::Lookup,
                    Service::Compare,
                    Service::Extract,
                ],
                vec![],
                "死亡人员养老保险待遇停发",
                "订阅火化信息，及时停发已故人员养老金，防止冒领",
                "《社会保险法》第十七条；人社部关于防范养老保险待遇冒领的通知",
                "",
            ),
            approve(
                "同意，身份证号明文用于待遇停发",
                &[("id_number", shuniu_types::MaskingRule::None)],
            ),
        ),
        (
            "370200YB",
            "370200MZ",
            ask(
                "yb-insurance-system",
                &cremation.code,
                vec![Service::Subscribe, Service::Lookup],
                vec!["id_number", "name", "event_date"],
                "死亡人员医保参保状态终止",
                "订阅火化信息，终止已故人员医保参保关系",
                "《医疗保障基金使用监督管理条例》第十五条",
                "",
            ),
            approve("同意", &[("id_number", shuniu_types::MaskingRule::None)]),
        ),
    ];
    // Medical assistance (医疗救助) checks a claimant's hospital visits: records without an ID
    // number, reached through the hub's record linkage (profiles show them as linked).
    let mut flows = flows;
    flows.push((
        "370200MZ",
        "370200WJ",
        ask(
            "mz-assistance-system",
            &visits.code,
            vec![Service::Lookup],
            vec!["record_id", "name", "hospital", "event_date", "diagnosis"],
            "医疗救助对象就诊记录核查",
            "医疗救助申请审核时核对申请人门诊就诊记录",
            "《社会救助暂行办法》第二十八条",
            "",
        ),
        approve("同意，仅限医疗救助审核", &[]),
    ));
    // Each of these systems also checks the enterprises it deals with (一企一档): a claimant's
    // businesses, an insured employer, a designated pharmacy, a private school's sponsor.
    for (consumer, app, purpose, basis) in [
        (
            "370200MZ",
            "mz-assistance-system",
            "低保申请人名下市场主体经营情况核查",
            "《社会救助暂行办法》第十一条",
        ),
        (
            "370200JY",
            "jy-enrolment-system",
            "民办学校举办者主体资格核验",
            "《中华人民共和国民办教育促进法》第十条",
        ),
        (
            "370200RS",
            "rs-pension-system",
            "参保单位登记信息核验",
            "《社会保险法》第五十七条",
        ),
        (
            "370200YB",
            "yb-insurance-system",
            "定点医药机构主体资格核验",
            "《医疗保障基金使用监督管理条例》第十四条",
        ),
    ] {
        flows.push((
            consumer,
            "370200SJ",
            ask(
                app,
                &entities.code,
                vec![Service::Lookup, Service::Verify],
                vec![
                    "credit_code",
                    "ent_name",
                    "legal_rep",
                    "reg_date",
                    "ent_status",
                ],
                purpose,
                purpose,
                basis,
                "",
            ),
            approve("同意，按最小必要原则共享", &[]),
        ));
    }
    for (consumer, provider, input, decision) in flows {
        let r = sharing
            .file_request(&officer(consumer), &input)
            .await
            .map_err(err)?;
        summary.requests += 1;
        if r.request.state == RequestState::Pending {
            sharing
                .decide_request(&officer(provider), &r.request.id, &decision)
                .await
                .map_err(err)?;
        }
    }
    // One request still waits in 公安's inbox, within its deadline.
    sharing
        .file_request(
            &officer("370200MZ"),
            &ask(
                "mz-assistance-system",
                &register.code,
                vec![Service::Extract],
                vec!["id_number", "name", "division"],
                "低保家庭年度复核批量比对",
                "每年一次批量复核低保家庭户籍变化",
                "《最低生活保障审核确认办法》第三十一条",
                "",
            ),
        )
        .await
        .map_err(err)?;
    summary.requests += 1;
    summary.pending += 1;
    // A request for a negative-list entry is refused at once, citing its legal basis.
    if let Some(negative) = visible.iter().find(|r| {
        r.spec.share_type == shuniu_types::ShareType::NotShared
            && r.status == shuniu_types::ResourceStatus::Published
            && r.spec.provider != "370200MZ"
    }) {
        let r = sharing
            .file_request(
                &officer("370200MZ"),
                &ask(
                    "mz-assistance-system",
                    &negative.code,
                    vec![Service::Lookup],
                    vec![],
                    "救助对象情况核实",
                    "社会救助入户调查",
                    "《社会救助暂行办法》",
                    "",
                ),
            )
            .await
            .map_err(err)?;
        summary.requests += 1;
        debug_assert_eq!(r.request.state, RequestState::Refused);
    }
    // Demands (需求清单): most answered with a catalogued resource, a few not (yet).
    let departments: Vec<&str> = city
        .departments
        .iter()
        .filter(|d| d.parent_code.is_none() && d.code != shuniu_demo::HUB_DEPARTMENT)
        .map(|d| d.code.as_str())
        .collect();
    let published: Vec<&shuniu_store::ResourceRecord> = visible
        .iter()
        .filter(|r| r.status == shuniu_types::ResourceStatus::Published)
        .collect();
    let n = 200usize;
    for i in 0..n {
        if departments.is_empty() || published.is_empty() {
            break;
        }
        let dept = departments[i % departments.len()];
        let target = published[(i * 7) % published.len()];
        if target.spec.provider == dept {
            continue;
        }
        let d = sharing
            .file_demand(
                &operator,
                &DemandInput {
                    department: dept.into(),
                    title: format!("需要{}", target.spec.name),
                    description: format!("业务办理需要使用{}，请提供共享", target.spec.name),
                    resource_code: None,
                },
            )
            .await
            .map_err(err)?;
        sharing
            .route_demand(&operator, &d.id, &target.spec.provider)
            .await
            .map_err(err)?;
        if i % 40 == 39 {
            continue; // still open
        }
        // Data on the negative list cannot satisfy a demand; now and then a provider also
        // declines for reasons of its own.
        let shareable = target.spec.share_type != shuniu_types::ShareType::NotShared;
        let satisfied = shareable && i % 67 != 66;
        sharing
            .answer_demand(
                &officer(&target.spec.provider),
                &d.id,
                &DemandAnswer {
                    satisfied,
                    answer: if satisfied {
                        format!("已通过目录资源 {} 提供，请提交共享申请", target.code)
                    } else if !shareable {
                        format!("{} 列入负面清单，不予共享", target.spec.name)
                    } else {
                        "该数据涉及国家秘密，不能共享".into()
                    },
                    resource_code: satisfied.then(|| target.code.clone()),
                },
            )
            .await
            .map_err(err)?;
    }
    let stats = sharing.stats().await.map_err(err)?;
    summary.satisfaction = stats.satisfaction_rate.unwrap_or(0.0);
    // The account file: each application's grants and a key a lookup finds.
    for app in apps.iter_mut() {
        let caller = shuniu_sharing::Caller {
            application: app.id.clone(),
            name: app.name.clone(),
            department: app.department.clone(),
            role: app.role,
        };
        for g in sharing.grants_of(&caller) {
            if !g.state.is_active() {
                continue;
            }
            let terms: shuniu_policy::grant::GrantTerms = serde_json::from_value(g.terms.clone())?;
            let example = sharing
                .example_key(&app.id, &g.resource_code)
                .await
                .map_err(err)?;
            let name = visible
                .iter()
                .find(|r| r.code == g.resource_code)
                .map(|r| r.spec.name.clone())
                .unwrap_or_default();
            if let Some(k) = &example {
                app.example_keys.insert(g.resource_code.clone(), k.clone());
            }
            app.resource_codes.push(g.resource_code.clone());
            app.grants.push(DemoGrant {
                grant_id: g.id.clone(),
                resource_code: g.resource_code.clone(),
                resource_name: name,
                provider: g.provider.clone(),
                services: terms
                    .services
                    .iter()
                    .map(|s| s.code().to_string())
                    .collect(),
                fields: terms.fields.clone(),
                row_scope: terms.row_scope.to_string(),
                example_lookup: format!(
                    "/api/v1/services/{}/records/{}",
                    g.resource_code,
                    example.clone().unwrap_or_default()
                ),
                example_key: example,
            });
            summary.grants += 1;
        }
        // A person and an enterprise whose profiles this application may read.
        let granted: Vec<String> = app.grants.iter().map(|g| g.resource_code.clone()).collect();
        app.example_id_number = profile_example(sharing, &caller, &granted, SemanticType::IdNumber)
            .await
            .map_err(err)?;
        app.example_person_profile = app
            .example_id_number
            .as_ref()
            .map(|k| format!("/api/v1/profiles/persons/{k}"));
        app.example_credit_code =
            profile_example(sharing, &caller, &granted, SemanticType::CreditCode)
                .await
                .map_err(err)?;
        app.example_enterprise_profile = app
            .example_credit_code
            .as_ref()
            .map(|k| format!("/api/v1/profiles/enterprises/{k}"));
        // A few calls, as the systems would make them.
        let keys: Vec<(String, String)> = app
            .example_keys
            .iter()
            .map(|(c, k)| (c.clone(), k.clone()))
            .collect();
        for (code, key) in keys {
            if app
                .grants
                .iter()
                .any(|g| g.resource_code == code && g.services.iter().any(|s| s == "lookup"))
            {
                sharing.lookup(&caller, &code, &key).await.map_err(err)?;
            }
        }
    }
    sharing.flush_usage().await.map_err(err)?;
    Ok(summary)
}

/// The first value of this type in the application's granted resources whose profile it can
/// read (checked by reading it, as the demo's first profile view).
async fn profile_example(
    sharing: &shuniu_sharing::Sharing,
    caller: &shuniu_sharing::Caller,
    granted: &[String],
    semantic: SemanticType,
) -> shuniu_sharing::Result<Option<String>> {
    for code in granted {
        let Some(value) = sharing
            .example_subject(&caller.application, code, semantic)
            .await?
        else {
            continue;
        };
        let subject = match semantic {
            SemanticType::IdNumber => shuniu_sharing::Subject::person(&value),
            _ => shuniu_sharing::Subject::enterprise(&value),
        };
        let Ok(subject) = subject else { continue };
        let p = sharing
            .profile(caller, &subject, Some("演示：一人一档、一企一档"))
            .await?;
        if !p.sections.is_empty() {
            return Ok(Some(subject.key().to_string()));
        }
    }
    Ok(None)
}

/// What the demo's open-data portal offers to try (written to demo-accounts.json).
#[derive(Serialize)]
pub struct DemoOpen {
    /// Open datasets published.
    pub datasets: usize,
    pub public: usize,
    pub conditional: usize,
    /// A dataset anyone may read (CKAN name).
    pub public_dataset: Option<String>,
    /// A conditionally open dataset, and a portal account holding an approved application
    /// and a data token for it.
    pub conditional_dataset: Option<String>,
    pub login: String,
    pub password: String,
    pub token: Option<String>,
    pub requests: usize,
}

/// Publishes every open resource, signs up a demo enterprise that applies for a
/// conditionally open dataset (approved by its provider, token issued), and posts public
/// data requests, some answered by the hub.
pub async fn open_data(city: &DemoCity, open: &shuniu_open::Open) -> Result<DemoOpen> {
    let err = |e: shuniu_open::OpenError| anyhow::anyhow!("{} [{}]", e, e.code());
    let done = open.sync_all().await.map_err(err)?;
    let failed: Vec<_> = done
        .iter()
        .filter(|p| p.outcome == shuniu_types::states::PublishOutcome::Failed)
        .collect();
    if let Some(f) = failed.first() {
        anyhow::bail!("publishing {} failed: {}", f.code, f.message);
    }
    let snap = open.snapshot();
    let public = snap
        .packages
        .iter()
        .filter(|p| p.access == shuniu_policy::open::OpenAccess::Public)
        .count();
    let public_dataset = snap
        .packages
        .iter()
        .filter(|p| p.access == shuniu_policy::open::OpenAccess::Public && p.rows > 0)
        .max_by_key(|p| p.rows)
        .map(|p| p.name.clone());
    let conditional = snap
        .packages
        .iter()
        .filter(|p| p.access == shuniu_policy::open::OpenAccess::Conditional && p.rows > 0)
        .max_by_key(|p| p.rows)
        .cloned();
    let login = "demo.enterprise@example.com".to_string();
    let password = "Kaifang-2026".to_string();
    let user = open
        .register(&shuniu_open::public::Registration {
            login: login.clone(),
            password: password.clone(),
            name: "王经理".into(),
            kind: "enterprise".into(),
            org_name: "青岛海数科技有限公司".into(),
            credit_code: "91370200MA3C5EKW81".into(),
        })
        .await
        .map_err(err)?;
    let mut token = None;
    if let Some(pkg) = &conditional {
        let app = open
            .apply(
                &user,
                &pkg.code,
                "开发面向中小企业的政策匹配服务，需要了解企业登记与经营状况",
            )
            .await
            .map_err(err)?;
        let provider = city
            .officer_of(&pkg.provider)
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator);
        open.decide_application(&provider, &app.id, true, "")
            .await
            .map_err(err)?;
        token = Some(open.issue_token(&user, &app.id).await.map_err(err)?);
    }
    let operator = city
        .operator()
        .map(actor_of)
        .unwrap_or_else(Actor::local_operator);
    let asks = [
        (
            "公交线路实时到站数据",
            "希望开放全市公交线路、站点和实时到站数据，便于开发出行服务应用。",
            Some("已纳入2027年公共数据开放计划，预计第二季度上线。"),
        ),
        (
            "全市停车场泊位信息",
            "希望开放公共停车场位置、总泊位和空余泊位数，方便市民出行。",
            Some("交通运输部门正在汇聚停车场数据，完成质量核验后开放。"),
        ),
        (
            "学区划分数据",
            "希望按年度开放各中小学学区划分范围，便于家长查询。",
            None,
        ),
        (
            "空气质量小时监测数据",
            "希望开放各监测站点逐小时的空气质量指数和主要污染物浓度。",
            None,
        ),
        (
            "企业年报公示数据",
            "希望以接口方式开放企业年度报告中可公示的信息，用于信用研究。",
            None,
        ),
    ];
    for (title, desc, answer) in asks {
        let r = open
            .post_request(title, desc, None, "", "public:demo")
            .await
            .map_err(err)?;
        if let Some(a) = answer {
            open.answer_request(&operator, &r.id, a)
                .await
                .map_err(err)?;
        }
    }
    Ok(DemoOpen {
        datasets: snap.packages.len(),
        public,
        conditional: snap.packages.len() - public,
        public_dataset,
        conditional_dataset: conditional.map(|p| p.name.clone()),
        login,
        password,
        token,
        requests: asks.len(),
    })
}

/// The demo city's electronic licences: what was issued, one valid licence and one revoked
/// one to try the verifiers on.
#[derive(Serialize, Default)]
pub struct DemoLicences {
    /// Per licence type: code, name, licences issued.
    pub types: Vec<serde_json::Value>,
    /// A valid licence: its identifier, holder and QR text.
    pub example: Option<serde_json::Value>,
    /// A revoked licence: its identifier and QR text (verification names the revocation).
    pub revoked: Option<serde_json::Value>,
    /// The hub's trust key (SM2, hex), which an offline verifier pins.
    pub trust_key: String,
    /// The licence library (电子证照库): its code, rows, and the system granted lookups on it.
    pub library: Option<serde_json::Value>,
}

/// Registers the city's licence types over the departments' published data, makes the issuing
/// departments' e-seals, issues every licence, and revokes one (a business licence revoked by
/// an administrative penalty).
pub async fn licences(
    catalog: &Catalog,
    licences: &shuniu_licences::Licences,
    applications: &[DemoApplication],
    progress: impl Fn(&str),
) -> Result<DemoLicences> {
    let root = Actor::local_operator();
    let err = |e: shuniu_licences::LicenceError| anyhow::anyhow!("{} [{}]", e, e.code());
    let visible = catalog.visible(&root).await?;
    // (type number, name, provider, resource, holder item, name item, fields)
    type Spec<'a> = (
        u16,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
    );
    let specs: [Spec; 2] = [
        (
            1,
            "营业执照",
            "370200SJ",
            "市场主体登记信息",
            "credit_code",
            "ent_name",
            &[
                ("legal_rep", "法定代表人"),
                ("reg_date", "成立日期"),
                ("capital", "注册资本（万元）"),
                ("industry", "行业"),
                ("reg_address", "住所"),
            ],
        ),
        (
            1,
            "出生医学证明",
            "370200WJ",
            "出生医学证明信息",
            "id_number",
            "name",
            &[
                ("sex", "性别"),
                ("birth_date", "出生日期"),
                ("event_date", "签发日期"),
                ("hospital", "接生机构"),
                ("address", "住址"),
            ],
        ),
    ];
    let mut out = DemoLicences {
        trust_key: licences.trust_public_hex(),
        ..Default::default()
    };
    for (number, name, provider, resource, holder, holder_name, fields) in specs {
        let Some(rec) = visible.iter().find(|r| {
            r.spec.name == resource
                && r.spec.provider == provider
                && r.status == shuniu_types::ResourceStatus::Published
        }) else {
            continue;
        };
        let fields: Vec<(String, String)> = fields
            .iter()
            .filter(|(item, _)| rec.spec.data_items.iter().any(|i| i.name == *item))
            .map(|(i, l)| (i.to_string(), l.to_string()))
            .collect();
        let t = licences
            .register_type(
                &root,
                shuniu_licences::LicenceTypeInput {
                    code: String::new(),
                    number: Some(number),
                    name: name.into(),
                    definer: provider.into(),
                    issuers: vec![provider.into()],
                    resource_code: rec.code.clone(),
                    holder_item: holder.into(),
                    holder_name_item: holder_name.into(),
                    serial_item: None,
                    fields,
                    validity_years: None,
                },
            )
            .await
            .map_err(err)?;
        licences
            .make_seal(&root, provider, None, 5)
            .await
            .map_err(err)?;
        let report = licences.issue_all(&root, &t.code).await.map_err(err)?;
        progress(&format!(
            "电子证照 licences: {} {} issued from {} rows in {:.1} s",
            report.issued, name, report.rows_read, report.seconds
        ));
        out.types.push(serde_json::json!({
            "code": t.code, "name": t.name, "issuer": provider, "issued": report.issued,
        }));
        let issued = licences
            .list(&shuniu_store::LicenceFilter {
                type_code: Some(t.code.clone()),
                current_only: true,
                limit: 2,
                ..Default::default()
            })
            .await
            .map_err(err)?;
        if out.revoked.is_none()
            && let Some(l) = issued.first()
        {
            licences
                .change_state(
                    &root,
                    &l.id,
                    shuniu_licences::StateChange::Revoke,
                    "因违法经营被依法吊销营业执照（行政处罚）",
                )
                .await
                .map_err(err)?;
            out.revoked = Some(serde_json::json!({
                "id": l.id, "holder_name": l.holder_name, "qr_text": l.envelope,
            }));
        }
        if out.example.is_none()
            && let Some(l) = issued.get(1)
        {
            // 免证办: another department's counter system reads the licence its holder
            // shows, so the licence has a use and its holder's record shows who read it.
            // A counter of another department: 医保 (a newborn's insurance, an enterprise's
            // staff insured), else 民政.
            let counter = ["370200YB", "370200MZ"]
                .iter()
                .filter(|d| **d != provider)
                .find_map(|d| applications.iter().find(|a| a.department.as_str().eq(*d)));
            let mut uses = 0;
            if let Some(app) = counter {
                let caller = shuniu_sharing::Caller {
                    application: app.id.clone(),
                    name: app.name.clone(),
                    department: app.department.clone(),
                    role: app.role,
                };
                let read = licences
                    .read_presented(
                        &caller,
                        &l.envelope,
                        &format!("办理业务时核验{name}（免证办）"),
                    )
                    .await
                    .map_err(err)?;
                uses = read.uses;
            }
            out.example = Some(serde_json::json!({
                "id": l.id, "type": t.name, "holder_name": l.holder_name,
                "holder_shown": l.holder_shown, "qr_text": l.envelope, "uses": uses,
                "read_by": counter.map(|a| a.id.clone()),
            }));
        }
    }
    Ok(out)
}

/// The licence library (电子证照库): defined over the issued licences and built; the counter
/// system that reads licences in place of paper (免证办) is granted lookups on it, and finds
/// the example licence's holder's licences by the holder's identifier.
pub async fn licence_library(
    city: &DemoCity,
    libraries: &shuniu_libraries::Libraries,
    licences: &shuniu_licences::Licences,
    sharing: &shuniu_sharing::Sharing,
    apps: &mut [DemoApplication],
    issued: &mut DemoLicences,
    progress: impl Fn(&str),
) -> Result<()> {
    use shuniu_policy::grant::Service;
    use shuniu_sharing::{DecisionInput, RequestInput};
    let root = Actor::local_operator();
    let lerr = |e: shuniu_libraries::LibraryError| anyhow::anyhow!("{} [{}]", e, e.code());
    let serr = |e: shuniu_sharing::SharingError| anyhow::anyhow!("{} [{}]", e, e.code());
    let Some(example) = issued.example.as_mut() else {
        return Ok(());
    };
    let lib = libraries
        .define(
            &root,
            shuniu_libraries::LibraryKind::Licence,
            shuniu_demo::HUB_DEPARTMENT,
        )
        .await
        .map_err(lerr)?;
    let report = libraries
        .build(&root, &lib.code, true)
        .await
        .map_err(lerr)?;
    progress(&format!(
        "基础库 base library: {} {}: {} licences in {:.1} s",
        lib.code, lib.spec.name, report.rows_written, report.seconds
    ));
    // The example licence's holder, as the library holds it.
    let id = example["id"].as_str().unwrap_or_default().to_string();
    let mut holder = None;
    let mut after = String::new();
    while holder.is_none() {
        let page = licences
            .library_page(&after, 5_000)
            .await
            .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
        let Some(last) = page.last() else { break };
        after = last.licence.id.clone();
        holder = page
            .into_iter()
            .find(|e| e.licence.id == id)
            .and_then(|e| e.holder);
    }
    example["holder"] = serde_json::json!(holder);
    let mut library = serde_json::json!({
        "code": lib.code, "name": lib.spec.name, "rows": report.rows_written,
    });
    // The counter system that read the example licence asks for lookups on the library.
    let reader = example["read_by"].as_str().unwrap_or_default().to_string();
    if let (Some(app), Some(holder)) = (apps.iter_mut().find(|a| a.id == reader), holder) {
        let officer = city
            .officer_of(&app.department)
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator);
        let hub = city
            .officer_of(shuniu_demo::HUB_DEPARTMENT)
            .or_else(|| city.operator())
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator);
        let r = sharing
            .file_request(
                &officer,
                &RequestInput {
                    resource_code: lib.code.clone(),
                    application_id: app.id.clone(),
                    fields: vec![],
                    purpose: "办理业务时核验申请人的电子证照（免证办）".into(),
                    scenario: "参保登记、待遇核定时核验出生医学证明、营业执照，不再收取纸质证明"
                        .into(),
                    legal_basis: "《国务院关于加快推进全国一体化在线政务服务平台建设的指导意见》（国发〔2018〕27号）"
                        .into(),
                    duration_days: 365,
                    services: vec![Service::Lookup, Service::Verify],
                    row_scope: String::new(),
                    calls_per_day: None,
                    rows_per_day: None,
                    rate_per_second: Some(50),
                },
            )
            .await
            .map_err(serr)?;
        if r.request.state == RequestState::Pending {
            sharing
                .decide_request(
                    &hub,
                    &r.request.id,
                    &DecisionInput {
                        approve: true,
                        reason: "同意，仅用于免证办核验".into(),
                        ..Default::default()
                    },
                )
                .await
                .map_err(serr)?;
        }
        let caller = shuniu_sharing::Caller {
            application: app.id.clone(),
            name: app.name.clone(),
            department: app.department.clone(),
            role: app.role,
        };
        // One lookup, as the counter's system makes it: the holder's licences.
        sharing.sync_index(&lib.code).await.map_err(serr)?;
        let found = sharing
            .lookup(&caller, &lib.code, &holder)
            .await
            .map_err(serr)?;
        if let Some(g) = sharing
            .grants_of(&caller)
            .into_iter()
            .find(|g| g.resource_code == lib.code && g.state.is_active())
        {
            app.resource_codes.push(lib.code.clone());
            app.example_keys.insert(lib.code.clone(), holder.clone());
            app.grants.push(DemoGrant {
                grant_id: g.id.clone(),
                resource_code: lib.code.clone(),
                resource_name: lib.spec.name.clone(),
                provider: g.provider.clone(),
                services: vec!["lookup".into(), "verify".into()],
                fields: vec![],
                row_scope: String::new(),
                example_lookup: format!("/api/v1/services/{}/records/{holder}", lib.code),
                example_key: Some(holder.clone()),
            });
        }
        library["granted_to"] = serde_json::json!(app.id);
        library["example_lookup"] =
            serde_json::json!(format!("/api/v1/services/{}/records/{holder}", lib.code));
        library["example_rows"] = serde_json::json!(found.records.len());
    }
    issued.library = Some(library);
    Ok(())
}

/// The demo city's event centre: the Open311 key a civic app uses and a service to post to,
/// and what a year of history left.
#[derive(Serialize, Default)]
pub struct DemoEvents {
    pub api_key: String,
    pub service_code: String,
    pub service_name: String,
    pub events: u64,
    pub open: u64,
    pub overdue: u64,
    pub escalated: u64,
    /// An event reported through Open311 (its id), to poll.
    pub example_request: String,
    /// A registered camera and the secret its alerts are signed with.
    pub device_id: String,
    pub device_secret: String,
    pub devices: u64,
}

/// The city's event tree, modelled on the event classes of GB/T 30428.2 (数字化城市管理):
/// (code, name, parent, [normal, urgent, emergency] working hours, keywords, responsible
/// department (short code), Open311 attributes).
type CategorySpec = (
    &'static str,
    &'static str,
    Option<&'static str>,
    [i64; 3],
    &'static [&'static str],
    &'static str,
    fn() -> serde_json::Value,
);

fn no_attributes() -> serde_json::Value {
    serde_json::json!([])
}

fn cover_attributes() -> serde_json::Value {
    serde_json::json!([{
        "code": "cover_state", "datatype": "singlevaluelist", "required": true,
        "datatype_description": "井盖的情况", "description": "井盖是缺失、破损还是移位",
        "values": [{"key": "missing", "name": "缺失"}, {"key": "broken", "name": "破损"},
                   {"key": "displaced", "name": "移位"}]
    }])
}

fn light_attributes() -> serde_json::Value {
    serde_json::json!([{
        "code": "pole_number", "datatype": "string", "required": false,
        "datatype_description": "灯杆上的编号", "description": "路灯灯杆编号（如有）"
    }])
}

const CATEGORIES: &[CategorySpec] = &[
    ("01", "市容环境", None, [24, 8, 4], &[], "CG", no_attributes),
    (
        "0101",
        "暴露垃圾",
        Some("01"),
        [16, 8, 4],
        &["暴露垃圾", "垃圾堆放", "垃圾满溢", "垃圾没人清理"],
        "CG",
        no_attributes,
    ),
    (
        "0102",
        "道路不洁",
        Some("01"),
        [16, 8, 4],
        &["道路不洁", "路面脏", "油污", "泥土撒漏"],
        "CG",
        no_attributes,
    ),
    (
        "0103",
        "乱贴乱画",
        Some("01"),
        [24, 16, 8],
        &["小广告", "乱贴", "乱涂乱画", "牛皮癣"],
        "CG",
        no_attributes,
    ),
    (
        "0104",
        "私搭乱建",
        Some("01"),
        [40, 24, 8],
        &["私搭乱建", "违章搭建", "违建", "乱搭棚子"],
        "CG",
        no_attributes,
    ),
    ("02", "街面秩序", None, [16, 8, 4], &[], "CG", no_attributes),
    (
        "0201",
        "占道经营",
        Some("02"),
        [8, 4, 2],
        &["占道经营", "流动摊贩", "马路市场", "店外经营"],
        "CG",
        no_attributes,
    ),
    (
        "0202",
        "机动车乱停放",
        Some("02"),
        [8, 4, 2],
        &["乱停车", "违停", "占用人行道停车", "车辆乱停"],
        "GA",
        no_attributes,
    ),
    (
        "0203",
        "噪声扰民",
        Some("02"),
        [8, 4, 2],
        &["噪音", "噪声扰民", "夜间施工", "广场舞音响"],
        "ST",
        no_attributes,
    ),
    ("03", "设施管理", None, [24, 8, 4], &[], "ZJ", no_attributes),
    (
        "0301",
        "井盖问题",
        Some("03"),
        [8, 4, 2],
        &["井盖", "井盖缺失", "井盖破损", "下水道盖"],
        "ZJ",
        cover_attributes,
    ),
    (
        "0302",
        "路灯不亮",
        Some("03"),
        [24, 8, 4],
        &["路灯不亮", "路灯坏了", "灯不亮", "照明"],
        "CG",
        light_attributes,
    ),
    (
        "0303",
        "道路破损",
        Some("03"),
        [40, 16, 8],
        &["坑洼", "路面塌陷", "道路破损", "坑"],
        "JT",
        no_attributes,
    ),
    (
        "0304",
        "供水管道漏水",
        Some("03"),
        [8, 4, 2],
        &["漏水", "水管爆裂", "跑水", "停水"],
        "SL",
        no_attributes,
    ),
    (
        "05",
        "城市运行",
        None,
        [24, 8, 4],
        &[],
        "DSJ",
        no_attributes,
    ),
    (
        "0501",
        "指标预警",
        Some("05"),
        [24, 8, 4],
        &["指标预警", "指标异常", "超出阈值"],
        "DSJ",
        no_attributes,
    ),
    ("04", "生态环境", None, [24, 8, 4], &[], "ST", no_attributes),
    (
        "0401",
        "焚烧垃圾树叶",
        Some("04"),
        [8, 4, 2],
        &["焚烧", "烧垃圾", "烧树叶", "冒黑烟"],
        "ST",
        no_attributes,
    ),
    (
        "0402",
        "河道污染",
        Some("04"),
        [24, 8, 4],
        &["河道", "污水直排", "水体发黑", "河面漂浮物"],
        "ST",
        no_attributes,
    ),
    (
        "0403",
        "树木倒伏",
        Some("04"),
        [16, 4, 2],
        &["树木倒伏", "大树倒了", "树枝折断", "绿化带"],
        "YL",
        no_attributes,
    ),
];

/// Defines the event tree and the dispatch rules (the city's departments, 治安-like street
/// order to the district police), issues an Open311 key, and replays a year of events: most
/// closed, some late, some returned and redirected, the latest open, the overdue escalated.
pub async fn events(
    city: &DemoCity,
    events: &shuniu_events::Events,
    scale: u64,
    progress: impl Fn(&str),
) -> Result<DemoEvents> {
    use shuniu_events::{ActInput, CategoryInput, EventAction, Point, Report, Urgency};
    let root = Actor::local_operator();
    let err = |e: shuniu_events::EventError| anyhow::anyhow!("{} [{}]", e, e.code());
    let started = std::time::Instant::now();
    for (code, name, parent, hours, keywords, dept, attributes) in CATEGORIES {
        events
            .put_category(
                &root,
                &CategoryInput {
                    code: (*code).into(),
                    name: (*name).into(),
                    parent: parent.map(String::from),
                    hours: *hours,
                    keywords: keywords.iter().map(|k| k.to_string()).collect(),
                    attributes: attributes(),
                    description: format!("{name}（{}）", keywords.join("、")),
                },
            )
            .await
            .map_err(err)?;
        if parent.is_none()
            || *dept
                != CATEGORIES
                    .iter()
                    .find(|c| Some(c.0) == *parent)
                    .map_or("", |c| c.5)
        {
            events
                .put_rule(&root, code, "", &format!("370200{dept}"), &[])
                .await
                .map_err(err)?;
        }
    }
    // Parked cars are the district police's: one rule per district over the city's.
    for (division, _) in shuniu_demo::DISTRICTS.iter().take(3) {
        events
            .put_rule(&root, "0202", division, &format!("{division}GA"), &[])
            .await
            .map_err(err)?;
    }
    events.retrain().await.map_err(err)?;
    let api_key = events
        .issue_open311_key(&root, "青岛随手拍")
        .await
        .map_err(err)?;
    // Cameras over the busiest crossings (video AI: rubbish, parked cars) and sensors on
    // the water mains, each owned by the department that answers for its category.
    let devices = [
        (
            "CAM-370202-0001",
            "香港中路与山东路路口",
            "camera",
            36.0660,
            120.3880,
            "0101",
        ),
        (
            "CAM-370203-0001",
            "台东三路步行街",
            "camera",
            36.0897,
            120.3541,
            "0202",
        ),
        (
            "CAM-370212-0001",
            "海尔路与银川东路路口",
            "camera",
            36.1050,
            120.4410,
            "0101",
        ),
        (
            "WTR-370213-0001",
            "李沧区书院路供水干管",
            "sensor",
            36.1470,
            120.4300,
            "0304",
        ),
        (
            "WTR-370211-0001",
            "黄岛区长江中路供水干管",
            "sensor",
            35.9610,
            120.1990,
            "0304",
        ),
    ];
    let mut first_device = None;
    for (id, name, kind, lat, lon, category) in devices {
        let dept = CATEGORIES
            .iter()
            .find(|c| c.0 == category)
            .map_or("CG", |c| c.5);
        let d = events
            .register_device(
                &root,
                &shuniu_events::DeviceInput {
                    id: id.into(),
                    name: name.into(),
                    kind: kind.into(),
                    lat,
                    lon,
                    address: format!("青岛市{name}"),
                    department: format!("370200{dept}"),
                    category: category.into(),
                },
            )
            .await
            .map_err(err)?;
        first_device.get_or_insert(d);
    }
    // What people report; indicator alerts come from the indicators themselves.
    let services: Vec<_> = events
        .services()
        .await
        .map_err(err)?
        .into_iter()
        .filter(|s| s.code != crate::demo_indicators::ALERT_CATEGORY)
        .collect();
    // A deterministic walk (no new dependency for a demo's randomness).
    let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ city.departments.len() as u64;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let places = [
        "香港中路",
        "延安三路",
        "辽阳西路",
        "长江中路",
        "重庆南路",
        "滨海大道",
        "海尔路",
        "黑龙江中路",
        "烟台路",
        "人民路",
    ];
    let now = chrono::Utc::now();
    let n = (scale / 20).clamp(600, 20_000);
    let officer = |dept: &str| {
        city.officer_of(dept)
            .map(actor_of)
            .unwrap_or_else(Actor::local_operator)
    };
    let mut out = DemoEvents {
        api_key,
        service_code: "0301".into(),
        service_name: "井盖问题".into(),
        device_id: first_device
            .as_ref()
            .map(|d| d.device.id.clone())
            .unwrap_or_default(),
        device_secret: first_device.map(|d| d.secret).unwrap_or_default(),
        devices: devices.len() as u64,
        ..Default::default()
    };
    for i in 0..n {
        // Older events are sparser (the platform grew); more in summer afternoons.
        let days_ago = (next(365) * next(365)) / 365;
        let hour = [9, 10, 11, 14, 15, 16, 19, 21][next(8) as usize];
        let at = now
            - chrono::Duration::days(days_ago as i64)
            - chrono::Duration::hours(((now.timestamp() / 3600) % 24 - hour + 24) % 24)
            - chrono::Duration::minutes(next(60) as i64);
        let svc = &services[next(services.len() as u64) as usize];
        let (division, district) = shuniu_demo::DISTRICTS[next(5) as usize];
        let centre = shuniu_events::model::centre_of(division).unwrap_or(Point {
            lat: 36.07,
            lon: 120.38,
        });
        let point = Point {
            lat: centre.lat + (next(2000) as f64 - 1000.0) / 50_000.0,
            lon: centre.lon + (next(2000) as f64 - 1000.0) / 50_000.0,
        };
        let place = places[next(places.len() as u64) as usize];
        let word = svc
            .keywords
            .get(next(svc.keywords.len() as u64) as usize)
            .cloned()
            .unwrap_or_else(|| svc.name.clone());
        let channel = [
            shuniu_events::Channel::Hotline,
            shuniu_events::Channel::Hotline,
            shuniu_events::Channel::Grid,
            shuniu_events::Channel::Open311,
            shuniu_events::Channel::Sensor,
        ][next(5) as usize];
        let mut attributes = std::collections::BTreeMap::new();
        if svc.code == "0301" {
            attributes.insert(
                "cover_state".to_string(),
                ["missing", "broken", "displaced"][next(3) as usize].to_string(),
            );
        }
        let e = events
            .report(
                &root,
                Report {
                    channel: Some(channel),
                    // The hotline's operators choose; other channels are classified.
                    category: (channel == shuniu_events::Channel::Hotline)
                        .then(|| svc.code.clone()),
                    description: format!(
                        "{district}{place}{}号附近{word}，请尽快处理",
                        1 + next(300)
                    ),
                    address: Some(format!("青岛市{district}{place}{}号", 1 + next(300))),
                    point: Some(point),
                    urgency: Some(if next(20) == 0 {
                        Urgency::Urgent
                    } else {
                        Urgency::Normal
                    }),
                    reporter_name: Some(format!(
                        "{}先生",
                        ["张", "王", "李", "赵", "刘"][next(5) as usize]
                    )),
                    reporter_phone: Some(format!("13{:09}", next(1_000_000_000))),
                    external_id: (channel == shuniu_events::Channel::Hotline)
                        .then(|| format!("12345-{}-{i:06}", at.format("%Y%m%d"))),
                    attributes,
                    reported_at: Some(at),
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
        if e.state == "merged" {
            continue; // folded into an earlier report nearby
        }
        out.events += 1;
        if channel == shuniu_events::Channel::Open311 {
            out.example_request = e.id.clone();
        }
        // The last week's events are still being worked on; older ones ran their course.
        let recent = days_ago < 7;
        let step = |h: i64| ActInput {
            at: Some(at + chrono::Duration::hours(h)),
            ..Default::default()
        };
        if e.state == "reported" {
            if days_ago < 2 && next(2) == 0 {
                continue; // in the dispatcher's queue: the suggestion was not sure enough
            }
            let input = ActInput {
                note: "调度员确认分类并派遣".into(),
                ..step(1)
            };
            if events
                .act(&root, &e.id, EventAction::Dispatch, &input)
                .await
                .is_err()
            {
                continue;
            }
        }
        let Some(e) = events.by_id(&e.id).await.map_err(err)? else {
            continue;
        };
        let dept = e.department.clone().unwrap_or_default();
        let handler = officer(&dept);
        if recent && next(3) == 0 {
            continue; // waiting to be accepted
        }
        if next(25) == 0 {
            // Returned (退单): not ours; the dispatcher sends it on.
            events
                .act(
                    &handler,
                    &e.id,
                    EventAction::Return,
                    &ActInput {
                        note: "不属于本部门职责，请改派".into(),
                        ..step(2)
                    },
                )
                .await
                .map_err(err)?;
            events
                .act(
                    &root,
                    &e.id,
                    EventAction::Dispatch,
                    &ActInput {
                        note: "改派".into(),
                        department: Some("370200CG".into()),
                        ..step(3)
                    },
                )
                .await
                .map_err(err)?;
            let Some(e2) = events.by_id(&e.id).await.map_err(err)? else {
                continue;
            };
            let h2 = officer(&e2.department.unwrap_or_default());
            events
                .act(&h2, &e.id, EventAction::Accept, &step(4))
                .await
                .map_err(err)?;
        } else {
            events
                .act(&handler, &e.id, EventAction::Accept, &step(2))
                .await
                .map_err(err)?;
        }
        if recent && next(2) == 0 {
            continue; // being handled
        }
        // Most are handled within the deadline; one in eight late.
        let late = next(8) == 0;
        let took = if late {
            60 + next(72) as i64
        } else {
            3 + next(20) as i64
        };
        events
            .act(
                &handler_of(events, &e.id, &root, &officer).await,
                &e.id,
                EventAction::Handle,
                &ActInput {
                    note: "已到现场处置完毕".into(),
                    ..step(took)
                },
            )
            .await
            .map_err(err)?;
        if recent && next(2) == 0 {
            continue; // awaiting verification
        }
        events
            .act(
                &root,
                &e.id,
                EventAction::Verify,
                &ActInput {
                    note: "回访群众，问题已解决".into(),
                    satisfaction: Some(if late { 3 } else { 4 + next(2) as i64 }),
                    ..step(took + 4)
                },
            )
            .await
            .map_err(err)?;
    }
    let swept = events.sweep(now).await.map_err(err)?;
    let stats = events
        .statistics(
            &root,
            now - chrono::Duration::days(366),
            now + chrono::Duration::hours(1),
        )
        .await
        .map_err(err)?;
    out.open = (stats.total.events - stats.total.closed) as u64;
    out.overdue = stats.total.open_overdue as u64;
    out.escalated = stats.total.escalated as u64;
    progress(&format!(
        "城市事件 city events: {} over a year ({} open, {} overdue, {} escalated now, {} reminded) in {:.1} s",
        out.events,
        out.open,
        out.overdue,
        swept.escalated,
        swept.reminded,
        started.elapsed().as_secs_f64()
    ));
    Ok(out)
}

/// The officer of the department an event is dispatched to now.
async fn handler_of(
    events: &shuniu_events::Events,
    id: &str,
    fallback: &Actor,
    officer: &impl Fn(&str) -> Actor,
) -> Actor {
    match events.by_id(id).await {
        Ok(Some(e)) => e
            .department
            .as_deref()
            .map(officer)
            .unwrap_or_else(|| fallback.clone()),
        _ => fallback.clone(),
    }
}
