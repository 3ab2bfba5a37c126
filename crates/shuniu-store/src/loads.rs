//! Load records, column mappings and connectors (the aggregation capability's control
//! plane).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, Tx, code_of, get, now};
use shuniu_types::states::LoadStatus;

/// One load into a resource's dataset: who, what, how much, and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRecord {
    pub id: String,
    pub resource_code: String,
    pub mode: String,
    /// running, succeeded, failed or interrupted.
    pub status: LoadStatus,
    pub principal: String,
    pub department_code: String,
    pub connector_id: Option<String>,
    pub source_name: String,
    pub source_format: String,
    pub source_encoding: Option<String>,
    pub source_sm3: Option<String>,
    pub source_bytes: i64,
    pub bytes_read: i64,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
    pub version: Option<i64>,
    pub error_code: Option<String>,
    pub error_zh: Option<String>,
    pub error_en: Option<String>,
    pub report: serde_json::Value,
    pub started_at: String,
    pub heartbeat_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

const LOAD_COLUMNS: &str =
    "id, resource_code, mode, status, principal, department_code, connector_id,
    source_name, source_format, source_encoding, source_sm3, source_bytes, bytes_read, rows_read,
    rows_accepted, rows_rejected, rows_inserted, rows_updated, rows_deleted, version, error_code,
    error_zh, error_en, report, started_at, heartbeat_at, finished_at, duration_ms";

impl LoadRecord {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let report: String = get(r, "report")?;
        Ok(LoadRecord {
            id: get(r, "id")?,
            resource_code: get(r, "resource_code")?,
            mode: get(r, "mode")?,
            status: code_of(r, "status")?,
            principal: get(r, "principal")?,
            department_code: get(r, "department_code")?,
            connector_id: get(r, "connector_id")?,
            source_name: get(r, "source_name")?,
            source_format: get(r, "source_format")?,
            source_encoding: get(r, "source_encoding")?,
            source_sm3: get(r, "source_sm3")?,
            source_bytes: get(r, "source_bytes")?,
            bytes_read: get(r, "bytes_read")?,
            rows_read: get(r, "rows_read")?,
            rows_accepted: get(r, "rows_accepted")?,
            rows_rejected: get(r, "rows_rejected")?,
            rows_inserted: get(r, "rows_inserted")?,
            rows_updated: get(r, "rows_updated")?,
            rows_deleted: get(r, "rows_deleted")?,
            version: get(r, "version")?,
            error_code: get(r, "error_code")?,
            error_zh: get(r, "error_zh")?,
            error_en: get(r, "error_en")?,
            report: serde_json::from_str(&report)
                .map_err(|e| StoreError::Corrupt(format!("load report: {e}")))?,
            started_at: get(r, "started_at")?,
            heartbeat_at: get(r, "heartbeat_at")?,
            finished_at: get(r, "finished_at")?,
            duration_ms: get(r, "duration_ms")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewLoad {
    pub id: String,
    pub resource_code: String,
    pub mode: String,
    pub principal: String,
    pub department_code: String,
    pub connector_id: Option<String>,
    pub source_name: String,
    pub source_format: String,
    pub source_bytes: i64,
}

/// Counts while a load runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadProgress {
    pub bytes_read: i64,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
}

/// How a load ended.
#[derive(Debug, Clone, Default)]
pub struct LoadOutcome {
    pub status: LoadStatus,
    pub source_encoding: Option<String>,
    pub source_sm3: Option<String>,
    pub source_bytes: i64,
    pub progress: LoadProgress,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
    pub version: Option<i64>,
    pub error: Option<(String, String, String)>,
    pub report: serde_json::Value,
    pub duration_ms: i64,
}

/// A scheduled pull from a department database.
#[derive(Debug, Clone, Serialize)]
pub struct Connector {
    pub id: String,
    pub resource_code: String,
    /// postgres or mysql.
    pub kind: String,
    /// Connection URL; may name environment variables as `${VAR}` for secrets.
    pub url: String,
    pub source_table: String,
    /// replace (full) or upsert (incremental by `updated_column`).
    pub mode: String,
    pub updated_column: Option<String>,
    /// Cron expression with seconds: `0 0 2 * * *` is 02:00 every day.
    pub schedule: String,
    pub watermark: Option<String>,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: String,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    pub last_load_id: Option<String>,
}

const CONNECTOR_COLUMNS: &str = "id, resource_code, kind, url, source_table, mode, updated_column,
    schedule, watermark, enabled, created_by, created_at, next_run_at, last_run_at, last_load_id";

impl Connector {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Connector {
            id: get(r, "id")?,
            resource_code: get(r, "resource_code")?,
            kind: get(r, "kind")?,
            url: get(r, "url")?,
            source_table: get(r, "source_table")?,
            mode: get(r, "mode")?,
            updated_column: get(r, "updated_column")?,
            schedule: get(r, "schedule")?,
            watermark: get(r, "watermark")?,
            enabled: get::<i64>(r, "enabled")? != 0,
            created_by: get(r, "created_by")?,
            created_at: get(r, "created_at")?,
            next_run_at: get(r, "next_run_at")?,
            last_run_at: get(r, "last_run_at")?,
            last_load_id: get(r, "last_load_id")?,
        })
    }
}

impl Store {
    pub async fn load(&self, id: &str) -> Result<Option<LoadRecord>> {
        // Audited: LOAD_COLUMNS is a constant.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LOAD_COLUMNS} FROM loads WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(LoadRecord::from_row).transpose()
    }

    /// Loads newest first, of one resource or of all.
    /// Loads across resources, newest first: of one loading department (or all), in one
    /// state (or any), whose resource code, source file or id holds `text` (or any).
    pub async fn loads_where(
        &self,
        department: Option<&str>,
        status: Option<&str>,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<LoadRecord>)> {
        let clause = "WHERE ($1 = '' OR department_code = $1) AND ($2 = '' OR status = $2) \
            AND ($3 = '' OR resource_code LIKE $4 OR source_name LIKE $4 OR id LIKE $4)";
        let department = department.unwrap_or_default().to_string();
        let status = status.unwrap_or_default().to_string();
        let pattern = format!("%{}%", text.replace(['\\', '%', '_'], ""));
        // Audited: clause and LOAD_COLUMNS are constants.
        let total: i64 = get(
            &sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM loads {clause}"
            )))
            .bind(department.clone())
            .bind(status.clone())
            .bind(text.to_string())
            .bind(pattern.clone())
            .fetch_one(&self.pool)
            .await?,
            "n",
        )?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LOAD_COLUMNS} FROM loads {clause} ORDER BY started_at DESC, id DESC LIMIT $5 OFFSET $6"
        )))
        .bind(department)
        .bind(status)
        .bind(text.to_string())
        .bind(pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(LoadRecord::from_row)
            .collect::<Result<_>>()?;
        Ok((total, items))
    }

    pub async fn loads(
        &self,
        resource: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<LoadRecord>)> {
        let clause = "WHERE ($1 = '' OR resource_code = $1)";
        let bind = resource.unwrap_or_default().to_string();
        // Audited: clause and LOAD_COLUMNS are constants.
        let total: i64 = get(
            &sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM loads {clause}"
            )))
            .bind(bind.clone())
            .fetch_one(&self.pool)
            .await?,
            "n",
        )?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LOAD_COLUMNS} FROM loads {clause} ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(bind)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(LoadRecord::from_row)
            .collect::<Result<_>>()?;
        Ok((total, items))
    }

    /// Per department, the loads that committed a version since `since` (RFC 3339) and the
    /// rows they accepted: (department, loads, rows).
    pub async fn load_volume(&self, since: &str) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT department_code, CAST(COUNT(*) AS BIGINT) AS n,
                    CAST(COALESCE(SUM(rows_accepted), 0) AS BIGINT) AS r
             FROM loads WHERE status = 'succeeded' AND finished_at >= $1
             GROUP BY department_code ORDER BY department_code",
        )
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "department_code")?, get(r, "n")?, get(r, "r")?)))
            .collect()
    }

    /// The last successful load of each resource that has one: (code, version, finished_at).
    pub async fn latest_versions(&self) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query(
            "SELECT l.resource_code, l.version, l.finished_at FROM loads l
             JOIN (SELECT resource_code, MAX(finished_at) AS f FROM loads
                   WHERE status = 'succeeded' GROUP BY resource_code) m
               ON m.resource_code = l.resource_code AND m.f = l.finished_at
             WHERE l.status = 'succeeded' ORDER BY l.resource_code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "resource_code")?,
                    get::<Option<i64>>(r, "version")?.unwrap_or(0),
                    get::<Option<String>>(r, "finished_at")?.unwrap_or_default(),
                ))
            })
            .collect()
    }

    pub async fn column_mapping(&self, resource: &str) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query(
            "SELECT source_header, item_name FROM column_mappings WHERE resource_code = $1",
        )
        .bind(resource)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "source_header")?, get(r, "item_name")?)))
            .collect()
    }

    pub async fn connectors(&self) -> Result<Vec<Connector>> {
        // Audited: CONNECTOR_COLUMNS is a constant.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors ORDER BY resource_code, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Connector::from_row).collect()
    }

    pub async fn connector(&self, id: &str) -> Result<Option<Connector>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Connector::from_row).transpose()
    }
}

impl Tx {
    pub async fn insert_load(&mut self, l: &NewLoad) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO loads (id, resource_code, mode, status, principal, department_code,
                connector_id, source_name, source_format, source_bytes, started_at, heartbeat_at)
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&l.id)
        .bind(&l.resource_code)
        .bind(&l.mode)
        .bind(&l.principal)
        .bind(&l.department_code)
        .bind(&l.connector_id)
        .bind(&l.source_name)
        .bind(&l.source_format)
        .bind(l.source_bytes)
        .bind(&t)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("load {}", l.id)))?;
        Ok(())
    }

    pub async fn update_load_progress(&mut self, id: &str, p: &LoadProgress) -> Result<()> {
        sqlx::query(
            "UPDATE loads SET bytes_read = $2, rows_read = $3, rows_accepted = $4,
                rows_rejected = $5, heartbeat_at = $6 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(p.bytes_read)
        .bind(p.rows_read)
        .bind(p.rows_accepted)
        .bind(p.rows_rejected)
        .bind(now())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn finish_load(&mut self, id: &str, o: &LoadOutcome) -> Result<()> {
        let t = now();
        let (code, zh, en) = match &o.error {
            Some((c, z, e)) => (Some(c.clone()), Some(z.clone()), Some(e.clone())),
            None => (None, None, None),
        };
        let report =
            serde_json::to_string(&o.report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "UPDATE loads SET status = $2, source_encoding = $3, source_sm3 = $4, source_bytes = $5,
                bytes_read = $6, rows_read = $7, rows_accepted = $8, rows_rejected = $9,
                rows_inserted = $10, rows_updated = $11, rows_deleted = $12, version = $13,
                error_code = $14, error_zh = $15, error_en = $16, report = $17,
                heartbeat_at = $18, finished_at = $18, duration_ms = $19
             WHERE id = $1",
        )
        .bind(id)
        .bind(o.status.code())
        .bind(&o.source_encoding)
        .bind(&o.source_sm3)
        .bind(o.source_bytes)
        .bind(o.progress.bytes_read)
        .bind(o.progress.rows_read)
        .bind(o.progress.rows_accepted)
        .bind(o.progress.rows_rejected)
        .bind(o.rows_inserted)
        .bind(o.rows_updated)
        .bind(o.rows_deleted)
        .bind(o.version)
        .bind(code)
        .bind(zh)
        .bind(en)
        .bind(report)
        .bind(&t)
        .bind(o.duration_ms)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Loads still 'running' whose heartbeat stopped before `before` belonged to a process
    /// that died; they are marked interrupted (their data never committed).
    pub async fn interrupt_stale_loads(&mut self, before: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE loads SET status = 'interrupted', error_code = 'LOAD_INTERRUPTED',
                error_zh = '汇聚进程意外中止，数据未提交，数据集保持上一版本',
                error_en = 'the loading process stopped unexpectedly; nothing was committed and the dataset kept its previous version',
                finished_at = heartbeat_at
             WHERE status = 'running' AND heartbeat_at < $1",
        )
        .bind(before)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected())
    }

    /// Dates a finished load in the past. Only the demo city uses this, to give its
    /// datasets a history (some of them overdue for their update cycle).
    pub async fn backdate_load(&mut self, id: &str, finished_at: &str) -> Result<()> {
        sqlx::query(
            "UPDATE loads SET started_at = $2, heartbeat_at = $2, finished_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(finished_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the saved mapping of a resource.
    pub async fn set_column_mapping(
        &mut self,
        resource: &str,
        mapping: &BTreeMap<String, String>,
        by: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM column_mappings WHERE resource_code = $1")
            .bind(resource)
            .execute(&mut *self.tx)
            .await?;
        let t = now();
        for (header, item) in mapping {
            sqlx::query(
                "INSERT INTO column_mappings (resource_code, source_header, item_name, updated_by, updated_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(resource)
            .bind(header)
            .bind(item)
            .bind(by)
            .bind(&t)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    pub async fn insert_connector(&mut self, c: &Connector) -> Result<()> {
        sqlx::query(
            "INSERT INTO connectors (id, resource_code, kind, url, source_table, mode, updated_column,
                schedule, watermark, enabled, created_by, created_at, next_run_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&c.id)
        .bind(&c.resource_code)
        .bind(&c.kind)
        .bind(&c.url)
        .bind(&c.source_table)
        .bind(&c.mode)
        .bind(&c.updated_column)
        .bind(&c.schedule)
        .bind(&c.watermark)
        .bind(c.enabled as i64)
        .bind(&c.created_by)
        .bind(&c.created_at)
        .bind(&c.next_run_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("connector {}", c.id)))?;
        Ok(())
    }

    /// Records a run: the new watermark (if the run committed), when it ran and what next.
    pub async fn record_connector_run(
        &mut self,
        id: &str,
        watermark: Option<&str>,
        next_run_at: Option<&str>,
        load_id: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE connectors SET watermark = COALESCE($2, watermark), next_run_at = $3,
                last_run_at = $4, last_load_id = COALESCE($5, last_load_id) WHERE id = $1",
        )
        .bind(id)
        .bind(watermark)
        .bind(next_run_at)
        .bind(now())
        .bind(load_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces a connector's stored (sealed) source URL.
    pub async fn set_connector_url(&mut self, id: &str, url: &str) -> Result<()> {
        sqlx::query("UPDATE connectors SET url = $2 WHERE id = $1")
            .bind(id)
            .bind(url)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn set_connector_enabled(&mut self, id: &str, enabled: bool) -> Result<()> {
        let r = sqlx::query("UPDATE connectors SET enabled = $2 WHERE id = $1")
            .bind(id)
            .bind(enabled as i64)
            .execute(&mut *self.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("connector {id}"),
            });
        }
        Ok(())
    }
}
