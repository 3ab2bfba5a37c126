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
