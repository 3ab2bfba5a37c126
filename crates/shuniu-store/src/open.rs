//! The open-data capability's tables. The open-data engine decides what goes in them; this
//! module only stores and loads.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::quality::json;
use crate::{Result, Store, StoreError, Tx, code_of, get, now};
use shuniu_types::states::{OpenApplicationState, PublicationState};

/// A publication: what the portal serves for one resource.
#[derive(Debug, Clone, Serialize)]
pub struct PublicationRow {
    pub code: String,
    /// public, conditional
    pub access: String,
    /// The dataset version published; `None` when the resource has no data yet (metadata only).
    pub source_version: Option<i64>,
    /// The open rules in force when it was derived.
    pub rules: serde_json::Value,
    /// Published columns: [{name, label, type, masking}].
    pub columns: serde_json::Value,
    pub rows: i64,
    /// published, withdrawn
    pub state: PublicationState,
    pub error: String,
    pub first_published_at: String,
    pub published_at: String,
}

impl PublicationRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(PublicationRow {
            code: get(r, "code")?,
            access: get(r, "access")?,
            source_version: get(r, "source_version")?,
            rules: json(r, "rules")?,
            columns: json(r, "columns")?,
            rows: get(r, "rows_published")?,
            state: code_of(r, "state")?,
            error: get(r, "error")?,
            first_published_at: get(r, "first_published_at")?,
            published_at: get(r, "published_at")?,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OpenCounters {
    pub views: i64,
    pub downloads: i64,
    pub api_calls: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenUserRow {
    pub login: String,
    pub name: String,
    /// enterprise, researcher
    pub kind: String,
    pub org_name: String,
    pub credit_code: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: String,
}

impl OpenUserRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(OpenUserRow {
            login: get(r, "login")?,
            name: get(r, "name")?,
            kind: get(r, "kind")?,
            org_name: get(r, "org_name")?,
            credit_code: get(r, "credit_code")?,
            password_hash: get(r, "password_hash")?,
            created_at: get(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenApplicationRow {
    pub id: String,
    pub code: String,
    pub provider: String,
    pub applicant: String,
    pub purpose: String,
    /// pending, approved, refused
    pub state: OpenApplicationState,
    pub has_token: bool,
    pub decided_by: Option<String>,
    pub reason: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

const APPLICATION_COLUMNS: &str = "id, code, provider, applicant, purpose, state, token_hash, \
    decided_by, reason, created_at, decided_at";

impl OpenApplicationRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(OpenApplicationRow {
            id: get(r, "id")?,
            code: get(r, "code")?,
            provider: get(r, "provider")?,
            applicant: get(r, "applicant")?,
            purpose: get(r, "purpose")?,
            state: code_of(r, "state")?,
            has_token: get::<Option<String>>(r, "token_hash")?.is_some(),
            decided_by: get(r, "decided_by")?,
            reason: get(r, "reason")?,
            created_at: get(r, "created_at")?,
            decided_at: get(r, "decided_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenRequestRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub department: Option<String>,
    #[serde(skip)]
    pub contact: String,
    /// open, answered
    pub state: String,
    pub answer: String,
    pub answered_by: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
}

impl OpenRequestRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(OpenRequestRow {
            id: get(r, "id")?,
            title: get(r, "title")?,
            description: get(r, "description")?,
            department: get(r, "department")?,
            contact: get(r, "contact")?,
            state: get(r, "state")?,
            answer: get(r, "answer")?,
            answered_by: get(r, "answered_by")?,
            created_at: get(r, "created_at")?,
            answered_at: get(r, "answered_at")?,
        })
    }
}

/// Which applications to list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub provider: Option<String>,
    pub applicant: Option<String>,
    pub code: Option<String>,
}

impl Store {
    pub async fn open_rules(&self, code: &str) -> Result<Option<serde_json::Value>> {
        sqlx::query("SELECT rules FROM open_rules WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(|r| json(r, "rules"))
            .transpose()
    }

    pub async fn publications(&self) -> Result<Vec<PublicationRow>> {
        let rows = sqlx::query("SELECT * FROM open_publications ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(PublicationRow::from_row).collect()
    }

    pub async fn publication(&self, code: &str) -> Result<Option<PublicationRow>> {
        sqlx::query("SELECT * FROM open_publications WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(PublicationRow::from_row)
            .transpose()
    }

    pub async fn open_counters(&self) -> Result<HashMap<String, OpenCounters>> {
        let rows = sqlx::query("SELECT code, views, downloads, api_calls FROM open_stats")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "code")?,
                    OpenCounters {
                        views: get(r, "views")?,
                        downloads: get(r, "downloads")?,
                        api_calls: get(r, "api_calls")?,
                    },
                ))
            })
            .collect()
    }

    pub async fn open_user(&self, login: &str) -> Result<Option<OpenUserRow>> {
        sqlx::query("SELECT * FROM open_users WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(OpenUserRow::from_row)
            .transpose()
    }

    /// The user of a live portal session.
    pub async fn open_session(&self, token_hash: &str) -> Result<Option<OpenUserRow>> {
        sqlx::query(
            "SELECT u.* FROM open_sessions s JOIN open_users u ON u.login = s.login
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(OpenUserRow::from_row)
        .transpose()
    }

    pub async fn open_application(&self, id: &str) -> Result<Option<OpenApplicationRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APPLICATION_COLUMNS} FROM open_applications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(OpenApplicationRow::from_row)
        .transpose()
    }

    /// The approved application a data token belongs to.
    pub async fn open_application_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<OpenApplicationRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APPLICATION_COLUMNS} FROM open_applications
             WHERE token_hash = $1 AND state = 'approved'"
        )))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(OpenApplicationRow::from_row)
        .transpose()
    }

    pub async fn open_applications(
        &self,
        f: &ApplicationFilter,
    ) -> Result<Vec<OpenApplicationRow>> {
        let mut sql = format!("SELECT {APPLICATION_COLUMNS} FROM open_applications WHERE 1 = 1");
        let mut binds = Vec::new();
        for (col, v) in [
            ("provider", &f.provider),
            ("applicant", &f.applicant),
            ("code", &f.code),
        ] {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT 1000");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(OpenApplicationRow::from_row).collect()
    }

    pub async fn open_requests(&self, limit: i64) -> Result<Vec<OpenRequestRow>> {
        let rows =
            sqlx::query("SELECT * FROM open_requests ORDER BY created_at DESC, id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(OpenRequestRow::from_row).collect()
    }

    pub async fn open_request(&self, id: &str) -> Result<Option<OpenRequestRow>> {
        sqlx::query("SELECT * FROM open_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(OpenRequestRow::from_row)
            .transpose()
    }
}

impl Tx {
    pub async fn put_open_rules(
        &mut self,
        code: &str,
        rules: &serde_json::Value,
        by: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_rules (code, rules, updated_by, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET rules = excluded.rules,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(code)
        .bind(rules.to_string())
        .bind(by)
        .bind(now())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a publication; the first publication time survives republishing.
    pub async fn put_publication(&mut self, p: &PublicationRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_publications (code, access, source_version, rules, columns,
               rows_published, state, error, first_published_at, published_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (code) DO UPDATE SET access = excluded.access,
               source_version = excluded.source_version, rules = excluded.rules,
               columns = excluded.columns, rows_published = excluded.rows_published,
               state = excluded.state, error = excluded.error,
               published_at = excluded.published_at",
        )
        .bind(&p.code)
        .bind(&p.access)
        .bind(p.source_version)
        .bind(p.rules.to_string())
        .bind(p.columns.to_string())
        .bind(p.rows)
        .bind(p.state.code())
        .bind(&p.error)
        .bind(&p.first_published_at)
        .bind(&p.published_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_open_user(&mut self, u: &OpenUserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_users (login, name, kind, org_name, credit_code, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&u.login)
        .bind(&u.name)
        .bind(&u.kind)
        .bind(&u.org_name)
        .bind(u.credit_code.clone())
        .bind(&u.password_hash)
        .bind(&u.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("portal account {}", u.login)))?;
        Ok(())
    }

    pub async fn insert_open_session(
        &mut self,
        token_hash: &str,
        login: &str,
        expires_at: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_sessions (token_hash, login, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(login)
        .bind(expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn delete_open_session(&mut self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM open_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_open_application(&mut self, a: &OpenApplicationRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_applications (id, code, provider, applicant, purpose, state,
               reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(&a.code)
        .bind(&a.provider)
        .bind(&a.applicant)
        .bind(&a.purpose)
        .bind(a.state.code())
        .bind(&a.reason)
        .bind(&a.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves a pending application to `state`; false when someone else decided first.
    pub async fn decide_open_application(
        &mut self,
        id: &str,
        state: OpenApplicationState,
        by: &str,
        reason: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE open_applications SET state = $1, decided_by = $2, reason = $3, decided_at = $4
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(state.code())
        .bind(by)
        .bind(reason)
        .bind(now())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces the data token of an approved application (the old one stops working).
    pub async fn set_open_token(&mut self, id: &str, token_hash: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE open_applications SET token_hash = $1 WHERE id = $2 AND state = 'approved'",
        )
        .bind(token_hash)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn insert_open_request(&mut self, r: &OpenRequestRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_requests (id, title, description, department, contact, state,
               answer, created_at) VALUES ($1, $2, $3, $4, $5, $6, '', $7)",
        )
        .bind(&r.id)
        .bind(&r.title)
        .bind(&r.description)
        .bind(r.department.clone())
        .bind(&r.contact)
        .bind(&r.state)
        .bind(&r.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn answer_open_request(&mut self, id: &str, answer: &str, by: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE open_requests SET state = 'answered', answer = $1, answered_by = $2,
               answered_at = $3 WHERE id = $4",
        )
        .bind(answer)
        .bind(by)
        .bind(now())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// Writes of the background work (counters, job progress, deliveries), each in a transaction
/// like every other write.
impl Tx {
    /// Adds to the counters of one dataset.
    pub async fn add_open_counters(&mut self, code: &str, add: OpenCounters) -> Result<()> {
        sqlx::query(
            "INSERT INTO open_stats (code, views, downloads, api_calls) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET views = open_stats.views + excluded.views,
               downloads = open_stats.downloads + excluded.downloads,
               api_calls = open_stats.api_calls + excluded.api_calls",
        )
        .bind(code)
        .bind(add.views)
        .bind(add.downloads)
        .bind(add.api_calls)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
