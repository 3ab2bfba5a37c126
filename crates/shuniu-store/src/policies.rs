//! Benefit policies (免申即享): definitions and their reviewed versions.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, Tx, get};

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRow {
    pub code: String,
    pub name: String,
    pub department: String,
    pub target: String,
    /// The version in force (0: none published yet).
    pub version: i64,
    /// The version in force as JSON ('' until one is published).
    pub spec: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersionRow {
    pub code: String,
    pub version: i64,
    pub spec: String,
    pub state: String,
    pub author: String,
    pub created_at: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<String>,
    pub comment: String,
}

fn policy_row(r: &AnyRow) -> Result<PolicyRow> {
    Ok(PolicyRow {
        code: get(r, "code")?,
        name: get(r, "name")?,
        department: get(r, "department")?,
        target: get(r, "target")?,
        version: get(r, "version")?,
        spec: get(r, "spec")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn version_row(r: &AnyRow) -> Result<PolicyVersionRow> {
    Ok(PolicyVersionRow {
        code: get(r, "code")?,
        version: get(r, "version")?,
        spec: get(r, "spec")?,
        state: get(r, "state")?,
        author: get(r, "author")?,
        created_at: get(r, "created_at")?,
        reviewer: get(r, "reviewer")?,
        reviewed_at: get(r, "reviewed_at")?,
        comment: get(r, "comment")?,
    })
}

const POLICY_COLUMNS: &str =
    "code, name, department, target, version, spec, created_at, updated_at";
const VERSION_COLUMNS: &str =
    "code, version, spec, state, author, created_at, reviewer, reviewed_at, comment";

impl Store {
    pub async fn policies(&self) -> Result<Vec<PolicyRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM policies ORDER BY code"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(policy_row).collect()
    }

    pub async fn policy(&self, code: &str) -> Result<Option<PolicyRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE code = $1"
        )))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(policy_row)
        .transpose()
    }

    /// A policy's versions, newest first.
    pub async fn policy_versions(&self, code: &str) -> Result<Vec<PolicyVersionRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE code = $1 ORDER BY version DESC"
        )))
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
    }
}

impl Tx {
    pub async fn policy(&mut self, code: &str) -> Result<Option<PolicyRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE code = $1"
        )))
        .bind(code)
        .fetch_optional(&mut *self.tx)
        .await?
        .as_ref()
        .map(policy_row)
        .transpose()
    }

    pub async fn policy_versions(&mut self, code: &str) -> Result<Vec<PolicyVersionRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE code = $1 ORDER BY version DESC"
        )))
        .bind(code)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(version_row).collect()
    }

    pub async fn put_policy(&mut self, p: &PolicyRow) -> Result<()> {
        sqlx::query("DELETE FROM policies WHERE code = $1")
            .bind(&p.code)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO policies (code, name, department, target, version, spec, created_at,
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&p.code)
        .bind(&p.name)
        .bind(&p.department)
        .bind(&p.target)
        .bind(p.version)
        .bind(&p.spec)
        .bind(&p.created_at)
        .bind(&p.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn put_policy_version(&mut self, v: &PolicyVersionRow) -> Result<()> {
        sqlx::query("DELETE FROM policy_versions WHERE code = $1 AND version = $2")
            .bind(&v.code)
            .bind(v.version)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO policy_versions (code, version, spec, state, author, created_at,
                 reviewer, reviewed_at, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&v.code)
        .bind(v.version)
        .bind(&v.spec)
        .bind(&v.state)
        .bind(&v.author)
        .bind(&v.created_at)
        .bind(v.reviewer.clone())
        .bind(v.reviewed_at.clone())
        .bind(&v.comment)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
