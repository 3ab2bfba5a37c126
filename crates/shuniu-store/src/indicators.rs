//! Indicators: definitions and their versions, computation runs, alerts. `shuniu-indicators`
//! decides what they mean; this module only stores and loads. The values are in the lake.

use sqlx::AssertSqlSafe;

use crate::{Result, Store, Tx, get};

/// An indicator and what lists show of it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    pub code: String,
    pub name: String,
    pub department: String,
    pub unit: String,
    pub grain: String,
    /// The version in force; 0 before one is published.
    pub version: i64,
    /// The version in force as JSON; empty before one is published.
    pub spec: String,
    pub schedule: String,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    pub latest_period: Option<String>,
    pub latest_value: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorVersionRow {
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

#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRunRow {
    pub id: String,
    pub code: String,
    pub version: i64,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub state: String,
    pub rows_written: i64,
    pub sources: serde_json::Value,
    pub values_version: Option<i64>,
    pub error: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorAlertRow {
    pub id: String,
    pub code: String,
    pub district: String,
    pub street: String,
    pub kind: String,
    pub severity: String,
    pub state: String,
    pub period: String,
    pub value: Option<String>,
    pub bound: Option<String>,
    pub opened_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub event_id: Option<String>,
    pub run_id: String,
}

fn indicator_row(r: &sqlx::any::AnyRow) -> Result<IndicatorRow> {
    Ok(IndicatorRow {
        code: get(r, "code")?,
        name: get(r, "name")?,
        department: get(r, "department")?,
        unit: get(r, "unit")?,
        grain: get(r, "grain")?,
        version: get(r, "version")?,
        spec: get(r, "spec")?,
        schedule: get(r, "schedule")?,
        next_run_at: get(r, "next_run_at")?,
        last_run_at: get(r, "last_run_at")?,
        latest_period: get(r, "latest_period")?,
        latest_value: get(r, "latest_value")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn version_row(r: &sqlx::any::AnyRow) -> Result<IndicatorVersionRow> {
    Ok(IndicatorVersionRow {
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

fn run_row(r: &sqlx::any::AnyRow) -> Result<IndicatorRunRow> {
    Ok(IndicatorRunRow {
        id: get(r, "id")?,
        code: get(r, "code")?,
        version: get(r, "version")?,
        trigger: get(r, "trigger_kind")?,
        started_at: get(r, "started_at")?,
        finished_at: get(r, "finished_at")?,
        state: get(r, "state")?,
        rows_written: get(r, "rows_written")?,
        sources: crate::quality::json(r, "sources")?,
        values_version: get(r, "values_version")?,
        error: get(r, "error")?,
        actor: get(r, "actor")?,
    })
}

fn alert_row(r: &sqlx::any::AnyRow) -> Result<IndicatorAlertRow> {
    Ok(IndicatorAlertRow {
        id: get(r, "id")?,
        code: get(r, "code")?,
        district: get(r, "district")?,
        street: get(r, "street")?,
        kind: get(r, "kind")?,
        severity: get(r, "severity")?,
        state: get(r, "state")?,
        period: get(r, "period")?,
        value: get(r, "value")?,
        bound: get(r, "bound")?,
        opened_at: get(r, "opened_at")?,
        updated_at: get(r, "updated_at")?,
        resolved_at: get(r, "resolved_at")?,
        event_id: get(r, "event_id")?,
        run_id: get(r, "run_id")?,
    })
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub code: Option<String>,
    pub state: Option<String>,
    pub department: Option<String>,
    pub limit: i64,
}

impl Store {
    pub async fn indicators(&self) -> Result<Vec<IndicatorRow>> {
        let rows = sqlx::query("SELECT * FROM indicators ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(indicator_row).collect()
    }

    pub async fn indicator(&self, code: &str) -> Result<Option<IndicatorRow>> {
        let row = sqlx::query("SELECT * FROM indicators WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(indicator_row).transpose()
    }

    /// Published indicators whose next run is due at `now` (RFC 3339, UTC).
    pub async fn due_indicators(&self, now: &str) -> Result<Vec<IndicatorRow>> {
        let rows = sqlx::query(
            "SELECT * FROM indicators WHERE version > 0 AND next_run_at IS NOT NULL
                 AND next_run_at <= $1 ORDER BY next_run_at, code",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(indicator_row).collect()
    }

    pub async fn indicator_versions(&self, code: &str) -> Result<Vec<IndicatorVersionRow>> {
        let rows =
            sqlx::query("SELECT * FROM indicator_versions WHERE code = $1 ORDER BY version DESC")
                .bind(code)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(version_row).collect()
    }

    /// Versions waiting for review, oldest first.
    pub async fn submitted_indicator_versions(&self) -> Result<Vec<IndicatorVersionRow>> {
        let rows = sqlx::query(
            "SELECT * FROM indicator_versions WHERE state = 'submitted' ORDER BY created_at, code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
    }

    pub async fn indicator_runs(&self, code: &str, limit: i64) -> Result<Vec<IndicatorRunRow>> {
        let rows = sqlx::query(
            "SELECT * FROM indicator_runs WHERE code = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(code)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_row).collect()
    }

    pub async fn indicator_alerts(&self, f: &AlertFilter) -> Result<Vec<IndicatorAlertRow>> {
        let mut sql = String::from("SELECT a.* FROM indicator_alerts a");
        let mut binds: Vec<String> = Vec::new();
        if f.department.is_some() {
            sql.push_str(" JOIN indicators i ON i.code = a.code");
        }
        sql.push_str(" WHERE 1 = 1");
        for (cond, v) in [
            ("a.code = ", &f.code),
            ("a.state = ", &f.state),
            ("i.department = ", &f.department),
        ] {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {cond}${}", binds.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY a.opened_at DESC, a.id LIMIT {}",
            f.limit.clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(alert_row).collect()
    }

    /// When any indicator was last computed.
    pub async fn indicators_last_run(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT MAX(last_run_at) AS at FROM indicators")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "at")
    }

    /// Open alerts per indicator, for lists.
    pub async fn open_alert_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT code, CAST(COUNT(*) AS BIGINT) AS n FROM indicator_alerts
             WHERE state = 'open' GROUP BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "code")?, get(r, "n")?)))
            .collect()
    }
}

impl Tx {
    pub async fn indicator(&mut self, code: &str) -> Result<Option<IndicatorRow>> {
        let row = sqlx::query("SELECT * FROM indicators WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(indicator_row).transpose()
    }

    pub async fn put_indicator(&mut self, i: &IndicatorRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO indicators (code, name, department, unit, grain, version, spec, schedule,
                 next_run_at, last_run_at, latest_period, latest_value, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name,
                 department = excluded.department, unit = excluded.unit, grain = excluded.grain,
                 version = excluded.version, spec = excluded.spec, schedule = excluded.schedule,
                 next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at,
                 latest_period = excluded.latest_period, latest_value = excluded.latest_value,
                 updated_at = excluded.updated_at",
        )
        .bind(&i.code)
        .bind(&i.name)
        .bind(&i.department)
        .bind(&i.unit)
        .bind(&i.grain)
        .bind(i.version)
        .bind(&i.spec)
        .bind(&i.schedule)
        .bind(&i.next_run_at)
        .bind(&i.last_run_at)
        .bind(&i.latest_period)
        .bind(&i.latest_value)
        .bind(&i.created_at)
        .bind(&i.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn indicator_versions(&mut self, code: &str) -> Result<Vec<IndicatorVersionRow>> {
        let rows =
            sqlx::query("SELECT * FROM indicator_versions WHERE code = $1 ORDER BY version DESC")
                .bind(code)
                .fetch_all(&mut *self.tx)
                .await?;
        rows.iter().map(version_row).collect()
    }

    pub async fn put_indicator_version(&mut self, v: &IndicatorVersionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO indicator_versions (code, version, spec, state, author, created_at,
                 reviewer, reviewed_at, comment)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (code, version) DO UPDATE SET spec = excluded.spec,
                 state = excluded.state, reviewer = excluded.reviewer,
                 reviewed_at = excluded.reviewed_at, comment = excluded.comment",
        )
        .bind(&v.code)
        .bind(v.version)
        .bind(&v.spec)
        .bind(&v.state)
        .bind(&v.author)
        .bind(&v.created_at)
        .bind(&v.reviewer)
        .bind(&v.reviewed_at)
        .bind(&v.comment)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn put_indicator_run(&mut self, r: &IndicatorRunRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO indicator_runs (id, code, version, trigger_kind, started_at, finished_at,
                 state, rows_written, sources, values_version, error, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(&r.code)
        .bind(r.version)
        .bind(&r.trigger)
        .bind(&r.started_at)
        .bind(&r.finished_at)
        .bind(&r.state)
        .bind(r.rows_written)
        .bind(r.sources.to_string())
        .bind(r.values_version)
        .bind(&r.error)
        .bind(&r.actor)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn open_indicator_alerts(&mut self, code: &str) -> Result<Vec<IndicatorAlertRow>> {
        let rows = sqlx::query(
            "SELECT * FROM indicator_alerts WHERE code = $1 AND state = 'open' ORDER BY id",
        )
        .bind(code)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(alert_row).collect()
    }

    pub async fn put_indicator_alert(&mut self, a: &IndicatorAlertRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO indicator_alerts (id, code, district, street, kind, severity, state,
                 period, value, bound, opened_at, updated_at, resolved_at, event_id, run_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, period = excluded.period,
                 value = excluded.value, bound = excluded.bound, updated_at = excluded.updated_at,
                 resolved_at = excluded.resolved_at, event_id = excluded.event_id,
                 run_id = excluded.run_id",
        )
        .bind(&a.id)
        .bind(&a.code)
        .bind(&a.district)
        .bind(&a.street)
        .bind(&a.kind)
        .bind(&a.severity)
        .bind(&a.state)
        .bind(&a.period)
        .bind(&a.value)
        .bind(&a.bound)
        .bind(&a.opened_at)
        .bind(&a.updated_at)
        .bind(&a.resolved_at)
        .bind(&a.event_id)
        .bind(&a.run_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
