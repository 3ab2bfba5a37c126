//! The quality capability's tables: rules, check runs, problem tickets and their events,
//! authoritative sources. The quality engine decides what goes in them; this module only
//! stores and loads.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, Tx, code_of, get, now};
use shuniu_types::states::TicketState;

/// A rule as saved by a data officer: its id and its JSON specification.
#[derive(Debug, Clone, Serialize)]
pub struct QualityRuleRow {
    pub resource_code: String,
    pub rule_id: String,
    pub spec: serde_json::Value,
    pub updated_by: String,
    pub updated_at: String,
}

/// One check run over one dataset version.
#[derive(Debug, Clone, Serialize)]
pub struct QualityRunRow {
    pub id: String,
    pub resource_code: String,
    pub provider: String,
    pub version: i64,
    pub load_id: Option<String>,
    pub trigger: String,
    pub principal: String,
    pub rows_checked: i64,
    pub score: f64,
    pub dimensions: serde_json::Value,
    pub results: serde_json::Value,
    pub finished_at: String,
}

/// A problem ticket (问题数据工单).
#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    pub id: String,
    /// rule, objection or conflict.
    pub kind: String,
    pub resource_code: String,
    pub provider: String,
    pub raised_by: String,
    pub rule_id: Option<String>,
    pub record_key: Option<String>,
    pub column_name: Option<String>,
    pub state: TicketState,
    pub failed: i64,
    pub summary_zh: String,
    pub summary_en: String,
    pub detail: serde_json::Value,
    pub deadline: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

/// One step in a ticket's life: who did what, and the state it left.
#[derive(Debug, Clone, Serialize)]
pub struct TicketEventRow {
    pub seq: i64,
    pub at: String,
    pub principal: String,
    pub department_code: String,
    pub action: String,
    pub state: TicketState,
    pub reason: String,
}

/// The designated authoritative source of an attribute.
#[derive(Debug, Clone, Serialize)]
pub struct AuthoritativeSourceRow {
    pub attribute: String,
    pub label: String,
    pub key_type: String,
    pub resource_code: String,
    pub column_name: String,
    pub key_column: String,
    pub designated_by: String,
    pub designated_at: String,
}

/// A JSON document stored as text.
pub(crate) fn json(r: &AnyRow, col: &str) -> Result<serde_json::Value> {
    let s: String = get(r, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

impl QualityRunRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(QualityRunRow {
            id: get(r, "id")?,
            resource_code: get(r, "resource_code")?,
            provider: get(r, "provider")?,
            version: get(r, "version")?,
            load_id: get(r, "load_id")?,
            trigger: get(r, "trigger_kind")?,
            principal: get(r, "principal")?,
            rows_checked: get(r, "rows_checked")?,
            score: get(r, "score")?,
            dimensions: json(r, "dimensions")?,
            results: json(r, "results")?,
            finished_at: get(r, "finished_at")?,
        })
    }
}

impl TicketRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(TicketRow {
            id: get(r, "id")?,
            kind: get(r, "kind")?,
            resource_code: get(r, "resource_code")?,
            provider: get(r, "provider")?,
            raised_by: get(r, "raised_by")?,
            rule_id: get(r, "rule_id")?,
            record_key: get(r, "record_key")?,
            column_name: get(r, "column_name")?,
            state: code_of(r, "state")?,
            failed: get(r, "failed")?,
            summary_zh: get(r, "summary_zh")?,
            summary_en: get(r, "summary_en")?,
            detail: json(r, "detail")?,
            deadline: get(r, "deadline")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
            closed_at: get(r, "closed_at")?,
        })
    }
}

impl AuthoritativeSourceRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(AuthoritativeSourceRow {
            attribute: get(r, "attribute")?,
            label: get(r, "label")?,
            key_type: get(r, "key_type")?,
            resource_code: get(r, "resource_code")?,
            column_name: get(r, "column_name")?,
            key_column: get(r, "key_column")?,
            designated_by: get(r, "designated_by")?,
            designated_at: get(r, "designated_at")?,
        })
    }
}

const RUN_COLUMNS: &str = "id, resource_code, provider, version, load_id, trigger_kind, principal, \
     rows_checked, score, dimensions, results, finished_at";
const TICKET_COLUMNS: &str = "id, kind, resource_code, provider, raised_by, rule_id, record_key, \
     column_name, state, failed, summary_zh, summary_en, detail, deadline, created_at, updated_at, \
     closed_at";

/// Which tickets to list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Tickets where this department is the provider or the one who raised it.
    pub department: Option<String>,
    pub resource: Option<String>,
    pub kind: Option<String>,
    /// Only tickets not closed.
    pub open_only: bool,
    /// Only open tickets whose deadline is before this time (RFC 3339).
    pub overdue_at: Option<String>,
    pub limit: i64,
}

impl Store {
    pub async fn quality_rules(&self, resource: &str) -> Result<Vec<QualityRuleRow>> {
        let rows = sqlx::query(
            "SELECT resource_code, rule_id, spec, updated_by, updated_at FROM quality_rules
             WHERE resource_code = $1 ORDER BY rule_id",
        )
        .bind(resource)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QualityRuleRow {
                    resource_code: get(r, "resource_code")?,
                    rule_id: get(r, "rule_id")?,
                    spec: json(r, "spec")?,
                    updated_by: get(r, "updated_by")?,
                    updated_at: get(r, "updated_at")?,
                })
            })
            .collect()
    }

    /// The newest run of each resource (for dashboards).
    pub async fn latest_quality_runs(&self) -> Result<Vec<QualityRunRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM quality_runs q
             WHERE q.finished_at = (SELECT MAX(finished_at) FROM quality_runs x
                                    WHERE x.resource_code = q.resource_code)
             ORDER BY q.resource_code"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(QualityRunRow::from_row).collect()
    }

    /// Runs of one resource, newest first.
    pub async fn quality_runs(&self, resource: &str, limit: i64) -> Result<Vec<QualityRunRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM quality_runs WHERE resource_code = $1
             ORDER BY finished_at DESC, id DESC LIMIT $2"
        )))
        .bind(resource)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(QualityRunRow::from_row).collect()
    }

    /// Scores over time of every run since `since` (for the city's trend).
    pub async fn quality_scores_since(
        &self,
        since: &str,
    ) -> Result<Vec<(String, String, String, f64)>> {
        let rows = sqlx::query(
            "SELECT resource_code, provider, finished_at, score FROM quality_runs
             WHERE finished_at >= $1 ORDER BY finished_at",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "resource_code")?,
                    get(r, "provider")?,
                    get(r, "finished_at")?,
                    get(r, "score")?,
                ))
            })
            .collect()
    }

    pub async fn ticket(&self, id: &str) -> Result<Option<TicketRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM quality_tickets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(TicketRow::from_row).transpose()
    }

    pub async fn ticket_events(&self, id: &str) -> Result<Vec<TicketEventRow>> {
        let rows = sqlx::query(
            "SELECT seq, at, principal, department_code, action, state, reason
             FROM quality_ticket_events WHERE ticket_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketEventRow {
                    seq: get(r, "seq")?,
                    at: get(r, "at")?,
                    principal: get(r, "principal")?,
                    department_code: get(r, "department_code")?,
                    action: get(r, "action")?,
                    state: code_of(r, "state")?,
                    reason: get(r, "reason")?,
                })
            })
            .collect()
    }

    pub async fn tickets(&self, f: &TicketFilter) -> Result<Vec<TicketRow>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM quality_tickets WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let param = |v: &str, binds: &mut Vec<String>| {
            binds.push(v.to_string());
            format!("${}", binds.len())
        };
        if let Some(d) = &f.department {
            let p = param(d, &mut binds);
            sql += &format!(" AND (provider = {p} OR raised_by = {p})");
        }
        if let Some(r) = &f.resource {
            sql += &format!(" AND resource_code = {}", param(r, &mut binds));
        }
        if let Some(k) = &f.kind {
            sql += &format!(" AND kind = {}", param(k, &mut binds));
        }
        if f.open_only || f.overdue_at.is_some() {
            sql += " AND state NOT IN ('closed', 'dismissed')";
        }
        if let Some(t) = &f.overdue_at {
            // A disputed ticket waits on the hub, not on the provider.
            sql += &format!(
                " AND state <> 'disputed' AND deadline < {}",
                param(t, &mut binds)
            );
        }
        sql += &format!(
            " ORDER BY updated_at DESC, id LIMIT {}",
            f.limit.clamp(1, 10_000)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(TicketRow::from_row).collect()
    }

    /// The open ticket of a (resource, kind, rule), if any: automatic tickets are one per rule.
    pub async fn open_ticket_for_rule(
        &self,
        resource: &str,
        kind: &str,
        rule_id: &str,
    ) -> Result<Option<TicketRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM quality_tickets
             WHERE resource_code = $1 AND kind = $2 AND rule_id = $3
               AND state NOT IN ('closed', 'dismissed')
             ORDER BY created_at DESC LIMIT 1"
        )))
        .bind(resource)
        .bind(kind)
        .bind(rule_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(TicketRow::from_row).transpose()
    }

    pub async fn authoritative_sources(&self) -> Result<Vec<AuthoritativeSourceRow>> {
        let rows = sqlx::query(
            "SELECT attribute, label, key_type, resource_code, column_name, key_column,
                    designated_by, designated_at
             FROM authoritative_sources ORDER BY attribute",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(AuthoritativeSourceRow::from_row).collect()
    }
}

impl Tx {
    /// Saves (or replaces) one rule of a resource.
    pub async fn put_quality_rule(
        &mut self,
        resource: &str,
        rule_id: &str,
        spec: &serde_json::Value,
        by: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM quality_rules WHERE resource_code = $1 AND rule_id = $2")
            .bind(resource)
            .bind(rule_id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO quality_rules (resource_code, rule_id, spec, updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(resource)
        .bind(rule_id)
        .bind(spec.to_string())
        .bind(by)
        .bind(now())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn delete_quality_rule(&mut self, resource: &str, rule_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM quality_rules WHERE resource_code = $1 AND rule_id = $2")
            .bind(resource)
            .bind(rule_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn insert_quality_run(&mut self, r: &QualityRunRow) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO quality_runs ({RUN_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(&r.id)
        .bind(&r.resource_code)
        .bind(&r.provider)
        .bind(r.version)
        .bind(&r.load_id)
        .bind(&r.trigger)
        .bind(&r.principal)
        .bind(r.rows_checked)
        .bind(r.score)
        .bind(r.dimensions.to_string())
        .bind(r.results.to_string())
        .bind(&r.finished_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("quality run {}", r.id)))?;
        Ok(())
    }

    pub async fn insert_ticket(&mut self, t: &TicketRow) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO quality_tickets ({TICKET_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        )))
        .bind(&t.id)
        .bind(&t.kind)
        .bind(&t.resource_code)
        .bind(&t.provider)
        .bind(&t.raised_by)
        .bind(&t.rule_id)
        .bind(&t.record_key)
        .bind(&t.column_name)
        .bind(t.state.code())
        .bind(t.failed)
        .bind(&t.summary_zh)
        .bind(&t.summary_en)
        .bind(t.detail.to_string())
        .bind(&t.deadline)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .bind(&t.closed_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("ticket {}", t.id)))?;
        Ok(())
    }

    /// Moves a ticket to `state` (and updates its count and detail), recording the event.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_ticket(
        &mut self,
        id: &str,
        state: TicketState,
        failed: Option<i64>,
        detail: Option<&serde_json::Value>,
        principal: &str,
        department: &str,
        action: &str,
        reason: &str,
    ) -> Result<()> {
        let t = now();
        let closed = state.is_finished().then(|| t.clone());
        sqlx::query(
            "UPDATE quality_tickets SET state = $2, failed = COALESCE($3, failed),
                detail = COALESCE($4, detail), updated_at = $5, closed_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(state.code())
        .bind(failed)
        .bind(detail.map(|d| d.to_string()))
        .bind(&t)
        .bind(closed)
        .execute(&mut *self.tx)
        .await?;
        self.insert_ticket_event(id, principal, department, action, state, reason)
            .await
    }

    pub async fn insert_ticket_event(
        &mut self,
        id: &str,
        principal: &str,
        department: &str,
        action: &str,
        state: TicketState,
        reason: &str,
    ) -> Result<()> {
        let seq: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM quality_ticket_events
             WHERE ticket_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        sqlx::query(
            "INSERT INTO quality_ticket_events
                (ticket_id, seq, at, principal, department_code, action, state, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(seq)
        .bind(now())
        .bind(principal)
        .bind(department)
        .bind(action)
        .bind(state.code())
        .bind(reason)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn put_authoritative_source(&mut self, s: &AuthoritativeSourceRow) -> Result<()> {
        sqlx::query("DELETE FROM authoritative_sources WHERE attribute = $1")
            .bind(&s.attribute)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO authoritative_sources (attribute, label, key_type, resource_code,
                column_name, key_column, designated_by, designated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.attribute)
        .bind(&s.label)
        .bind(&s.key_type)
        .bind(&s.resource_code)
        .bind(&s.column_name)
        .bind(&s.key_column)
        .bind(&s.designated_by)
        .bind(&s.designated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
