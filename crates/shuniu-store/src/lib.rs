//! The control-plane store: departments, users, sessions, API applications and the catalog,
//! with migrations. SQLite in the data directory by default, PostgreSQL in production; one
//! set of queries serves both through sqlx's `Any` driver (numbered `$N` parameters, 64-bit
//! integers, text timestamps in RFC 3339 UTC).
//!
//! Every write happens in a [`Tx`]: a caller that changes several rows (an Excel import of
//! hundreds of entries) commits all of them or none.
//!
//! Architecture invariant: this crate stores and loads; it makes no access decisions and
//! does no validation beyond what the schema enforces. Dataset contents never live here.

use chrono::{DateTime, SecondsFormat, Utc};
use shuniu_types::{ResourceSpec, ResourceStatus, Role};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::time::Duration;

mod audit;
mod cases;
mod events;
mod indicators;
mod libraries;
mod licences;
mod links;
mod loads;
mod open;
mod policies;
mod quality;
mod rows;
mod schema;
mod sharing;
mod sign_in;
pub use audit::*;
pub use cases::*;
pub use events::*;
pub use indicators::*;
pub use libraries::*;
pub use licences::*;
pub use links::*;
pub use loads::*;
pub use open::*;
pub use policies::*;
pub use quality::*;
pub use rows::*;
pub use schema::{ColumnShape, IndexShape, SchemaShape};
pub use sharing::*;
use shuniu_types::{Classified, ErrorKind, Problem};
pub use sign_in::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("{what} was changed by someone else (expected version {expected}, found {found})")]
    VersionMismatch {
        what: String,
        expected: i64,
        found: i64,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Stable code for the API's error shape.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "NOT_FOUND",
            StoreError::Conflict { .. } => "CONFLICT",
            StoreError::VersionMismatch { .. } => "VERSION_MISMATCH",
            StoreError::Database(_) => "STORE_UNAVAILABLE",
            StoreError::Migrate(_) => "STORE_MIGRATION",
            StoreError::Corrupt(_) => "STORE_CORRUPT",
            StoreError::UnsupportedUrl(_) => "STORE_URL",
        }
    }

    /// Unique-constraint violations become `Conflict` so that callers can say what clashed.
    fn from_insert(e: sqlx::Error, what: impl Into<String>) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict { what: what.into() };
        }
        StoreError::Database(e)
    }
}

impl Classified for StoreError {
    fn problem(&self) -> Problem {
        match self {
            StoreError::NotFound { what } => Problem::new(
                ErrorKind::NotFound,
                self.code(),
                format!("{what} 不存在"),
                format!("{what} not found"),
            ),
            StoreError::Conflict { what } => Problem::new(
                ErrorKind::Conflict,
                self.code(),
                format!("{what} 已存在"),
                format!("{what} already exists"),
            ),
            StoreError::VersionMismatch {
                what,
                expected,
                found,
            } => Problem::new(
                ErrorKind::Conflict,
                self.code(),
                format!(
                    "{what} 已被他人修改（期望版本 {expected}，当前版本 {found}），请刷新后重试"
                ),
                format!(
                    "{what} was changed by someone else (expected version {expected}, now {found}); reload and retry"
                ),
            ),
            StoreError::Database(_) => Problem::new(
                ErrorKind::Unavailable,
                self.code(),
                "数据库暂不可用，请稍后重试",
                "the database is unavailable; retry later",
            ),
            _ => Problem::internal(self.code(), self),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the control plane. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s}: {e}")))
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during a write; NORMAL sync is durable
                        // across process crashes in WAL mode.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        // 32 MiB of page cache per connection (the default is 2 MiB): bulk
                        // writes descend several random-keyed indexes per row, and with the
                        // default nearly every descent read its pages again from the OS.
                        sqlx::query("PRAGMA cache_size = -32768")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once, so that two
    /// writers queue instead of failing on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            backend: self.backend,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- reads -------------------------------------------------------------------------

    pub async fn departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query(
            "SELECT code, name, short_name, parent_code, division, credit_code, created_at
             FROM departments ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Department::from_row).collect()
    }

    pub async fn department(&self, code: &str) -> Result<Option<Department>> {
        let row = sqlx::query(
            "SELECT code, name, short_name, parent_code, division, credit_code, created_at
             FROM departments WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Department::from_row).transpose()
    }

    pub async fn user(&self, login: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT login, display_name, role, department_code, password_hash, disabled, created_at
             FROM users WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT login, display_name, role, department_code, password_hash, disabled, created_at
             FROM users ORDER BY department_code, login",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// The live session behind a token hash, with its user.
    pub async fn session(&self, token_hash: &str) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.csrf_token, s.created_at, s.expires_at,
                    u.login, u.display_name, u.role, u.department_code, u.password_hash,
                    u.disabled, u.created_at AS user_created_at
             FROM sessions s JOIN users u ON u.login = s.login
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let session = Session {
            token_hash: get(&row, "token_hash")?,
            login: get(&row, "login")?,
            csrf_token: get(&row, "csrf_token")?,
            expires_at: get(&row, "expires_at")?,
        };
        let user = User {
            login: get(&row, "login")?,
            display_name: get(&row, "display_name")?,
            role: parse_role(&get::<String>(&row, "role")?)?,
            department_code: get(&row, "department_code")?,
            password_hash: get(&row, "password_hash")?,
            disabled: get::<i64>(&row, "disabled")? != 0,
            created_at: get(&row, "user_created_at")?,
        };
        Ok(Some((session, user)))
    }

    pub async fn application_by_key_hash(&self, key_hash: &str) -> Result<Option<Application>> {
        let row = sqlx::query(
            "SELECT id, name, department_code, role, key_prefix, created_at, revoked_at
             FROM applications WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Application::from_row).transpose()
    }

    pub async fn applications(&self) -> Result<Vec<Application>> {
        let rows = sqlx::query(
            "SELECT id, name, department_code, role, key_prefix, created_at, revoked_at
             FROM applications ORDER BY department_code, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Application::from_row).collect()
    }

    pub async fn resource(&self, code: &str) -> Result<Option<ResourceRecord>> {
        let row = sqlx::query(select_resources!("WHERE code = $1"))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ResourceRecord::from_row).transpose()
    }

    /// Resources matching a filter, in code order, one page at a time.
    pub async fn resources(
        &self,
        filter: &ResourceFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ResourceRecord>)> {
        let (clause, binds) = filter.where_clause();
        // Audited: `clause` holds only fixed column names and numbered placeholders.
        let mut count = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM resources {clause}"
        )));
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total: i64 = get(&count.fetch_one(&self.pool).await?, "n")?;
        let n = binds.len();
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "{} {clause} ORDER BY code LIMIT ${} OFFSET ${}",
            select_resources!(""),
            n + 1,
            n + 2
        )));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(ResourceRecord::from_row)
            .collect::<Result<_>>()?;
        Ok((total, items))
    }

    /// Records changed at or after `since` (RFC 3339), oldest change first.
    pub async fn resources_updated_since(&self, since: &str) -> Result<Vec<ResourceRecord>> {
        let rows = sqlx::query(select_resources!(
            "WHERE updated_at >= $1 ORDER BY updated_at"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ResourceRecord::from_row).collect()
    }

    /// The records of these codes, in the order given; codes with no record are skipped.
    pub async fn resources_by_code(&self, codes: &[String]) -> Result<Vec<ResourceRecord>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=codes.len()).map(|i| format!("${i}")).collect();
        // Audited: only numbered placeholders are interpolated.
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "{} WHERE code IN ({})",
            select_resources!(""),
            placeholders.join(", ")
        )));
        for c in codes {
            q = q.bind(c.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut by_code: std::collections::HashMap<String, ResourceRecord> = rows
            .iter()
            .map(ResourceRecord::from_row)
            .map(|r| r.map(|r| (r.code.clone(), r)))
            .collect::<Result<_>>()?;
        Ok(codes.iter().filter_map(|c| by_code.remove(c)).collect())
    }

    pub async fn history(&self, code: &str) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT id, code, version, action, status, actor, at, note, spec_json
             FROM resource_history WHERE code = $1 ORDER BY id",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(HistoryEntry::from_row).collect()
    }
}

macro_rules! select_resources {
    ($tail:literal) => {
        concat!(
            "SELECT code, status, version, spec_json, status_note, created_by, created_at, updated_at, published_at FROM resources ",
            $tail
        )
    };
}
use select_resources;

/// Which resources to list. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub statuses: Vec<ResourceStatus>,
    pub provider: Option<String>,
    pub share_type: Option<String>,
    pub open_type: Option<String>,
    /// Also include non-published entries of this department (a data officer's own drafts).
    pub or_provider: Option<String>,
}

impl ResourceFilter {
    fn where_clause(&self) -> (String, Vec<String>) {
        let mut conds = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let p = |v: &str, binds: &mut Vec<String>| {
            binds.push(v.to_string());
            format!("${}", binds.len())
        };
        if !self.statuses.is_empty() {
            let list: Vec<String> = self
                .statuses
                .iter()
                .map(|s| p(s.code(), &mut binds))
                .collect();
            let mut cond = format!("status IN ({})", list.join(", "));
            if let Some(own) = &self.or_provider {
                cond = format!("({cond} OR provider = {})", p(own, &mut binds));
            }
            conds.push(cond);
        }
        if let Some(v) = &self.provider {
            conds.push(format!("provider = {}", p(v, &mut binds)));
        }
        if let Some(v) = &self.share_type {
            conds.push(format!("share_type = {}", p(v, &mut binds)));
        }
        if let Some(v) = &self.open_type {
            conds.push(format!("open_type = {}", p(v, &mut binds)));
        }
        if conds.is_empty() {
            (String::new(), binds)
        } else {
            (format!("WHERE {}", conds.join(" AND ")), binds)
        }
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn insert_department(&mut self, d: &NewDepartment) -> Result<()> {
        sqlx::query(
            "INSERT INTO departments (code, name, short_name, parent_code, division, credit_code, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&d.code)
        .bind(&d.name)
        .bind(&d.short_name)
        .bind(d.parent_code.clone())
        .bind(&d.division)
        .bind(d.credit_code.clone())
        .bind(now())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("department {} / {}", d.code, d.name)))?;
        Ok(())
    }

    pub async fn insert_user(&mut self, u: &NewUser) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (login, display_name, role, department_code, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(&u.login)
        .bind(&u.display_name)
        .bind(u.role.code())
        .bind(&u.department_code)
        .bind(&u.password_hash)
        .bind(now())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("user {}", u.login)))?;
        Ok(())
    }

    /// Replaces a user's password hash and ends all of the user's sessions.
    pub async fn set_password(&mut self, login: &str, password_hash: &str) -> Result<()> {
        let r = sqlx::query("UPDATE users SET password_hash = $1 WHERE login = $2")
            .bind(password_hash)
            .bind(login)
            .execute(&mut *self.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("user {login}"),
            });
        }
        sqlx::query("DELETE FROM sessions WHERE login = $1")
            .bind(login)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        login: &str,
        csrf: &str,
        ttl: Duration,
    ) -> Result<()> {
        let expires =
            Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        sqlx::query(
            "INSERT INTO sessions (token_hash, login, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(login)
        .bind(csrf)
        .bind(now())
        .bind(expires.to_rfc3339_opts(SecondsFormat::Millis, true))
        .execute(&mut *self.tx)
        .await?;
        // Expired sessions are swept on each login rather than by a background job.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&mut self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_application(&mut self, a: &NewApplication) -> Result<()> {
        sqlx::query(
            "INSERT INTO applications (id, name, department_code, role, key_prefix, key_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.department_code)
        .bind(a.role.code())
        .bind(&a.key_prefix)
        .bind(&a.key_hash)
        .bind(now())
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("application {}", a.id)))?;
        Ok(())
    }

    pub async fn revoke_application(&mut self, id: &str) -> Result<()> {
        let r = sqlx::query(
            "UPDATE applications SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("application {id}"),
            });
        }
        Ok(())
    }

    /// Allocates the next sequence number within a scope (e.g. a classification and provider).
    pub async fn next_sequence(&mut self, scope: &str) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO code_sequences (scope, last) VALUES ($1, 1)
             ON CONFLICT (scope) DO UPDATE SET last = code_sequences.last + 1
             RETURNING last",
        )
        .bind(scope)
        .fetch_one(&mut *self.tx)
        .await?;
        get(&row, "last")
    }

    pub async fn resource_exists(&mut self, code: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM resources WHERE code = $1")
            .bind(code)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(get::<i64>(&row, "n")? > 0)
    }

    /// The stored record, or `NotFound`.
    async fn existing_resource(&mut self, code: &str) -> Result<ResourceRecord> {
        self.resource(code)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("resource {code}"),
            })
    }

    /// The stored record, read inside the transaction (for read-modify-write).
    pub async fn resource(&mut self, code: &str) -> Result<Option<ResourceRecord>> {
        let row = sqlx::query(select_resources!("WHERE code = $1"))
            .bind(code)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(ResourceRecord::from_row).transpose()
    }

    pub async fn insert_resource(
        &mut self,
        code: &str,
        spec: &ResourceSpec,
        status: ResourceStatus,
        actor: &str,
    ) -> Result<ResourceRecord> {
        let json = spec_json(spec)?;
        let at = now();
        let published_at = (status == ResourceStatus::Published).then(|| at.clone());
        sqlx::query(
            "INSERT INTO resources (code, status, version, name, provider, category, share_type, open_type, level,
                                    update_cycle, spec_json, status_note, created_by, created_at, updated_at, published_at)
             VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, '', $11, $12, $12, $13)",
        )
        .bind(code)
        .bind(status.code())
        .bind(&spec.name)
        .bind(&spec.provider)
        .bind(spec.classification.kind.code())
        .bind(spec.share_type.code())
        .bind(spec.open_type.code())
        .bind(spec.level.code())
        .bind(spec.update_cycle.code())
        .bind(&json)
        .bind(actor)
        .bind(&at)
        .bind(published_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("resource {code}")))?;
        self.record_history(code, 1, "created", status, actor, &at, "", &json)
            .await?;
        self.existing_resource(code).await
    }

    /// Replaces the metadata of a resource as a new version; fails if `expected_version`
    /// is given and is not the stored one.
    pub async fn update_resource(
        &mut self,
        code: &str,
        spec: &ResourceSpec,
        expected_version: Option<i64>,
        actor: &str,
    ) -> Result<ResourceRecord> {
        let current = self.existing_resource(code).await?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(StoreError::VersionMismatch {
                what: format!("resource {code}"),
                expected,
                found: current.version,
            });
        }
        let json = spec_json(spec)?;
        let at = now();
        let version = current.version + 1;
        sqlx::query(
            "UPDATE resources SET version = $1, name = $2, provider = $3, category = $4, share_type = $5, open_type = $6,
                    level = $7, update_cycle = $8, spec_json = $9, updated_at = $10
             WHERE code = $11 AND version = $12",
        )
        .bind(version)
        .bind(&spec.name)
        .bind(&spec.provider)
        .bind(spec.classification.kind.code())
        .bind(spec.share_type.code())
        .bind(spec.open_type.code())
        .bind(spec.level.code())
        .bind(spec.update_cycle.code())
        .bind(&json)
        .bind(&at)
        .bind(code)
        .bind(current.version)
        .execute(&mut *self.tx)
        .await?;
        self.record_history(
            code,
            version,
            "updated",
            current.status,
            actor,
            &at,
            "",
            &json,
        )
        .await?;
        self.existing_resource(code).await
    }

    /// Moves a resource to `status`, recording `action` and the note (a return reason).
    pub async fn set_resource_status(
        &mut self,
        code: &str,
        status: ResourceStatus,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<ResourceRecord> {
        let current = self.existing_resource(code).await?;
        let at = now();
        let published_at = if status == ResourceStatus::Published {
            Some(at.clone())
        } else {
            current.published_at.clone()
        };
        sqlx::query("UPDATE resources SET status = $1, status_note = $2, updated_at = $3, published_at = $4 WHERE code = $5")
            .bind(status.code())
            .bind(note)
            .bind(&at)
            .bind(published_at)
            .bind(code)
            .execute(&mut *self.tx)
            .await?;
        let json = spec_json(&current.spec)?;
        self.record_history(
            code,
            current.version,
            action,
            status,
            actor,
            &at,
            note,
            &json,
        )
        .await?;
        self.existing_resource(code).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_history(
        &mut self,
        code: &str,
        version: i64,
        action: &str,
        status: ResourceStatus,
        actor: &str,
        at: &str,
        note: &str,
        json: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO resource_history (code, version, action, status, actor, at, note, spec_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(code)
        .bind(version)
        .bind(action)
        .bind(status.code())
        .bind(actor)
        .bind(at)
        .bind(note)
        .bind(json)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

fn spec_json(spec: &ResourceSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn get<T>(row: &AnyRow, col: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::Database)
}

/// A code column read into its type (a state, a status): unknown text is corrupt data.
pub(crate) fn code_of<T>(row: &AnyRow, col: &str) -> Result<T>
where
    T: std::str::FromStr,
{
    let text: String = get(row, col)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{col} “{text}”")))
}

pub(crate) fn parse_role(s: &str) -> Result<Role> {
    Role::parse_term(s).ok_or_else(|| StoreError::Corrupt(format!("role {s}")))
}

/// Creates an empty, uniquely named PostgreSQL database next to the one `admin_url` names
/// and returns its URL; the integration suite gives every test its own.
pub async fn scratch_postgres_database(admin_url: &str) -> Result<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url).await?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "shuniu_t_{}_{}_{n}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    // Audited: the name is built from digits and a fixed prefix.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (head, query) = admin_url.split_at(admin_url.find('?').unwrap_or(admin_url.len()));
    let base = match head.rfind('/') {
        Some(i) if i > "postgres://".len() => &head[..i],
        _ => head,
    };
    Ok(format!("{base}/{name}{query}"))
}
