//! Applies the generated demo city through the ordinary services, as its departments would.

use anyhow::{Context, Result};
use serde::Serialize;
use shuniu_auth::accounts::{Accounts, DepartmentInput};
use shuniu_catalog::{Catalog, Review};
use shuniu_demo::{DemoCity, Fate};
use shuniu_types::{Actor, Role};
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
}

#[derive(Serialize)]
pub struct DemoApplication {
    pub id: String,
    pub department: String,
    pub role: Role,
    pub key: String,
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
    ] {
        let (app, key) = accounts
            .create_application(&root, id, name, dept, role)
            .await
            .with_context(|| format!("application {id}"))?;
        apps.push(DemoApplication {
            id: app.id,
            department: app.department_code,
            role: app.role,
            key,
        });
    }
    let operator_key = apps[0].key.clone();

    // Each department's officer registers its own entries; the hub reviews them.
    let officers: HashMap<&str, Actor> = city
        .users
        .iter()
        .filter(|u| u.role == Role::DataOfficer)
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
        .users
        .iter()
        .find(|u| u.role == Role::HubOperator)
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
fn actor_of(u: &shuniu_demo::DemoUser) -> Actor {
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
}

/// Generates every published resource's rows as a department would export them — CSV in
/// UTF-8 or GBK, headers as item names or Chinese labels — and loads each file through the
/// ordinary aggregation path, as that department's data officer.
pub async fn load_data(
    city: &DemoCity,
    catalog: &Catalog,
    aggregation: &shuniu_aggregate::Aggregation,
    scratch: &Path,
    scale: u64,
    defect_rate: f64,
    progress: impl Fn(&str),
) -> Result<DataSummary> {
    use shuniu_demo::data::DatasetPlan;
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
            for row in plan.rows(city.seed, scale) {
                write_line(&mut w, &mut row.into_iter())?;
            }
            std::io::Write::flush(&mut w)?;
        }
        let officer = city
            .users
            .iter()
            .find(|u| u.role == Role::DataOfficer && u.department == rec.spec.provider)
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
            let mut tx = catalog.store().begin().await?;
            tx.backdate_load(
                &load.id,
                &at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .await?;
            tx.commit().await?;
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
    // 一数一源: a person's registered address comes from 公安's household register; every
    // other dataset holding an address for an ID number is checked against it.
    let quality = aggregation.quality();
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
    summary.open_tickets = quality
        .tickets(&root, None, None, true, false)
        .await
        .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?
        .len();
    Ok(summary)
}
