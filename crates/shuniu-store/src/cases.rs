//! Integrated services (一件事一次办): versioned service definitions, cases with their steps,
//! the outbox of automatic steps, what each did (exactly once), and each case's history.
//! State changes are conditional updates (`… WHERE state = $expected`): of two processes
//! deciding the same step, one wins and the other sees nothing changed.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, Tx, get};

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub code: String,
    pub name: String,
    pub version: i64,
    pub trigger_resource: String,
    pub updated_at: String,
    /// The current version's definition (JSON).
    pub spec: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub service: String,
    pub version: i64,
    pub state: String,
    pub subject: String,
    pub subject_masked: String,
    #[serde(skip)]
    pub form_sealed: String,
    pub origin: String,
    pub trigger_key: Option<String>,
    pub opened_by: String,
    pub opened_at: String,
    pub due_at: String,
    pub closed_at: Option<String>,
    pub rating: Option<i64>,
    pub rating_note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseStepRow {
    pub case_id: String,
    pub step: String,
    pub name: String,
    pub department: String,
    pub state: String,
    pub ready_at: Option<String>,
    pub due_at: Option<String>,
    pub overdue: bool,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseJobRow {
    pub id: String,
    pub case_id: String,
    pub step: String,
    pub action: String,
    pub state: String,
    pub attempts: i64,
    pub next_at: String,
    pub last_error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseEventRow {
    pub case_id: String,
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub step: String,
    pub actor: String,
    pub detail: String,
}

/// Figures of one service (减材料、减环节、减时间、减跑动 are computed from them).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceCounts {
    pub service: String,
    pub cases: i64,
    pub open: i64,
    pub completed: i64,
    pub refused: i64,
    pub incidents: i64,
    /// Completed cases closed by their due time.
    pub on_time: i64,
    /// Seconds from opening to closing, summed over completed cases.
    pub seconds_total: f64,
    pub rated: i64,
    pub rating_total: i64,
}

const CASE_COLUMNS: &str = "id, service, version, state, subject, subject_masked, form_sealed, \
     origin, trigger_key, opened_by, opened_at, due_at, closed_at, rating, rating_note";
const STEP_COLUMNS: &str = "case_id, step, name, department, state, ready_at, due_at, overdue, \
     decided_at, decided_by, note";
const JOB_COLUMNS: &str = "id, case_id, step, action, state, attempts, next_at, last_error";

/// States as a quoted SQL list (`'open', 'refused'`): the engine's own state names.
fn state_list(states: &[&str]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn case_row(r: &AnyRow) -> Result<CaseRow> {
    Ok(CaseRow {
        id: get(r, "id")?,
        service: get(r, "service")?,
        version: get(r, "version")?,
        state: get(r, "state")?,
        subject: get(r, "subject")?,
        subject_masked: get(r, "subject_masked")?,
        form_sealed: get(r, "form_sealed")?,
        origin: get(r, "origin")?,
        trigger_key: get(r, "trigger_key")?,
        opened_by: get(r, "opened_by")?,
        opened_at: get(r, "opened_at")?,
        due_at: get(r, "due_at")?,
        closed_at: get(r, "closed_at")?,
        rating: get(r, "rating")?,
        rating_note: get(r, "rating_note")?,
    })
}

fn step_row(r: &AnyRow) -> Result<CaseStepRow> {
    Ok(CaseStepRow {
        case_id: get(r, "case_id")?,
        step: get(r, "step")?,
        name: get(r, "name")?,
        department: get(r, "department")?,
        state: get(r, "state")?,
        ready_at: get(r, "ready_at")?,
        due_at: get(r, "due_at")?,
        overdue: get::<i64>(r, "overdue")? != 0,
        decided_at: get(r, "decided_at")?,
        decided_by: get(r, "decided_by")?,
        note: get(r, "note")?,
    })
}

fn job_row(r: &AnyRow) -> Result<CaseJobRow> {
    Ok(CaseJobRow {
        id: get(r, "id")?,
        case_id: get(r, "case_id")?,
        step: get(r, "step")?,
        action: get(r, "action")?,
        state: get(r, "state")?,
        attempts: get(r, "attempts")?,
        next_at: get(r, "next_at")?,
        last_error: get(r, "last_error")?,
    })
}

impl Store {
    pub async fn services(&self) -> Result<Vec<ServiceRow>> {
        let rows = sqlx::query(
            "SELECT s.code, s.name, s.version, s.trigger_resource, s.updated_at, v.spec
             FROM services s JOIN service_versions v ON v.code = s.code AND v.version = s.version
             ORDER BY s.code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ServiceRow {
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    version: get(r, "version")?,
                    trigger_resource: get(r, "trigger_resource")?,
                    updated_at: get(r, "updated_at")?,
                    spec: get(r, "spec")?,
                })
            })
            .collect()
    }

    /// One service with its current version's definition.
    pub async fn service(&self, code: &str) -> Result<Option<ServiceRow>> {
        let r = sqlx::query(
            "SELECT s.code, s.name, s.version, s.trigger_resource, s.updated_at, v.spec
             FROM services s JOIN service_versions v ON v.code = s.code AND v.version = s.version
             WHERE s.code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(ServiceRow {
                code: get(&r, "code")?,
                name: get(&r, "name")?,
                version: get(&r, "version")?,
                trigger_resource: get(&r, "trigger_resource")?,
                updated_at: get(&r, "updated_at")?,
                spec: get(&r, "spec")?,
            })
        })
        .transpose()
    }

    /// One version's definition (JSON).
    pub async fn service_version(&self, code: &str, version: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT spec FROM service_versions WHERE code = $1 AND version = $2")
            .bind(code)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "spec")).transpose()
    }

    /// Cases, newest first; of one service when given.
    pub async fn cases(
        &self,
        service: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<CaseRow>> {
        let rows = match service {
            Some(s) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE service = $1
                     ORDER BY opened_at DESC, id DESC LIMIT $2 OFFSET $3"
                )))
                .bind(s)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CASE_COLUMNS} FROM cases
                     ORDER BY opened_at DESC, id DESC LIMIT $1 OFFSET $2"
                )))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(case_row).collect()
    }

    /// The cases of one applicant or person (their subject digest), newest first.
    pub async fn cases_of_subject(&self, subject: &str) -> Result<Vec<CaseRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE subject = $1 ORDER BY opened_at DESC"
        )))
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_row).collect()
    }

    pub async fn case(&self, id: &str) -> Result<Option<CaseRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(case_row)
        .transpose()
    }

    pub async fn case_steps(&self, id: &str) -> Result<Vec<CaseStepRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP_COLUMNS} FROM case_steps WHERE case_id = $1 ORDER BY ready_at, step"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    /// A department's steps in `state` (its queue: `ready`), the soonest due first.
    pub async fn department_steps(
        &self,
        department: &str,
        state: &str,
        limit: i64,
    ) -> Result<Vec<CaseStepRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP_COLUMNS} FROM case_steps WHERE department = $1 AND state = $2
             ORDER BY due_at, case_id LIMIT $3"
        )))
        .bind(department)
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    /// Ready steps past their due time not yet flagged.
    pub async fn steps_past_due(&self, now: &str, limit: i64) -> Result<Vec<CaseStepRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP_COLUMNS} FROM case_steps
             WHERE state = 'ready' AND overdue = 0 AND due_at < $1 ORDER BY due_at LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_row).collect()
    }

    pub async fn case_events(&self, id: &str) -> Result<Vec<CaseEventRow>> {
        let rows = sqlx::query(
            "SELECT case_id, seq, at, kind, step, actor, detail FROM case_events
             WHERE case_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseEventRow {
                    case_id: get(r, "case_id")?,
                    seq: get(r, "seq")?,
                    at: get(r, "at")?,
                    kind: get(r, "kind")?,
                    step: get(r, "step")?,
                    actor: get(r, "actor")?,
                    detail: get(r, "detail")?,
                })
            })
            .collect()
    }

    /// Pending jobs due by `now`, oldest first.
    pub async fn due_case_jobs(&self, now: &str, limit: i64) -> Result<Vec<CaseJobRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM case_jobs WHERE state = 'pending' AND next_at <= $1
             ORDER BY next_at, id LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    pub async fn case_jobs(&self, case_id: &str) -> Result<Vec<CaseJobRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM case_jobs WHERE case_id = $1 ORDER BY created_at, id"
        )))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// How many effects each (case, step, action) has: the exactly-once check.
    pub async fn case_effect_counts(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n,
                    CAST(COUNT(DISTINCT case_id || '/' || step || '/' || action) AS BIGINT) AS d
             FROM case_effects",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((get(&r, "n")?, get(&r, "d")?))
    }

    /// Counts per service.
    pub async fn service_counts(&self) -> Result<Vec<ServiceCounts>> {
        let rows = sqlx::query(
            "SELECT service,
                CAST(COUNT(*) AS BIGINT) AS cases,
                CAST(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS BIGINT) AS open,
                CAST(SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed,
                CAST(SUM(CASE WHEN state = 'refused' THEN 1 ELSE 0 END) AS BIGINT) AS refused,
                CAST(SUM(CASE WHEN state = 'incident' THEN 1 ELSE 0 END) AS BIGINT) AS incidents,
                CAST(SUM(CASE WHEN state = 'completed' AND closed_at <= due_at THEN 1 ELSE 0 END) AS BIGINT) AS on_time,
                CAST(SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS rated,
                CAST(COALESCE(SUM(rating), 0) AS BIGINT) AS rating_total
             FROM cases GROUP BY service ORDER BY service",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<ServiceCounts> = rows
            .iter()
            .map(|r| {
                Ok(ServiceCounts {
                    service: get(r, "service")?,
                    cases: get(r, "cases")?,
                    open: get(r, "open")?,
                    completed: get(r, "completed")?,
                    refused: get(r, "refused")?,
                    incidents: get(r, "incidents")?,
                    on_time: get(r, "on_time")?,
                    seconds_total: 0.0,
                    rated: get(r, "rated")?,
                    rating_total: get(r, "rating_total")?,
                })
            })
            .collect::<Result<_>>()?;
        // Durations from the RFC 3339 texts (portable across both backends).
        let closed = sqlx::query(
            "SELECT service, opened_at, closed_at FROM cases
             WHERE state = 'completed' AND closed_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &closed {
            let service: String = get(r, "service")?;
            let (a, b): (String, String) = (get(r, "opened_at")?, get(r, "closed_at")?);
            if let (Ok(a), Ok(b)) = (
                chrono::DateTime::parse_from_rfc3339(&a),
                chrono::DateTime::parse_from_rfc3339(&b),
            ) && let Some(c) = out.iter_mut().find(|c| c.service == service)
            {
                c.seconds_total += (b - a).num_milliseconds() as f64 / 1000.0;
            }
        }
        Ok(out)
    }

    /// The Delta version an event-triggered service has read its resource up to.
    pub async fn service_follow(&self, service: &str) -> Result<Option<(String, i64)>> {
        let r = sqlx::query("SELECT resource, version FROM service_follows WHERE service = $1")
            .bind(service)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| Ok((get(&r, "resource")?, get(&r, "version")?)))
            .transpose()
    }
}

impl Tx {
    /// Saves a version of a service and makes it current.
    pub async fn put_service_version(
        &mut self,
        code: &str,
        name: &str,
        trigger_resource: &str,
        spec: &str,
        by: &str,
        at: &str,
    ) -> Result<i64> {
        let r = sqlx::query(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM service_versions WHERE code = $1",
        )
        .bind(code)
        .fetch_one(&mut *self.tx)
        .await?;
        let version: i64 = get::<i64>(&r, "v")? + 1;
        sqlx::query(
            "INSERT INTO service_versions (code, version, spec, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code)
        .bind(version)
        .bind(spec)
        .bind(by)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "INSERT INTO services (code, name, version, trigger_resource, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, version = excluded.version,
                trigger_resource = excluded.trigger_resource, updated_at = excluded.updated_at",
        )
        .bind(code)
        .bind(name)
        .bind(version)
        .bind(trigger_resource)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(version)
    }

    /// Inserts a case; `false` when one with the same service and trigger already exists
    /// (an event seen twice opens one case).
    pub async fn insert_case(&mut self, c: &CaseRow) -> Result<bool> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO cases ({CASE_COLUMNS}) VALUES
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (service, trigger_key) DO NOTHING"
        )))
        .bind(&c.id)
        .bind(&c.service)
        .bind(c.version)
        .bind(&c.state)
        .bind(&c.subject)
        .bind(&c.subject_masked)
        .bind(&c.form_sealed)
        .bind(&c.origin)
        .bind(&c.trigger_key)
        .bind(&c.opened_by)
        .bind(&c.opened_at)
        .bind(&c.due_at)
        .bind(&c.closed_at)
        .bind(c.rating)
        .bind(&c.rating_note)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn case(&mut self, id: &str) -> Result<Option<CaseRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?
        .as_ref()
        .map(case_row)
        .transpose()
    }

    pub async fn insert_case_step(&mut self, s: &CaseStepRow) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO case_steps ({STEP_COLUMNS}) VALUES
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(&s.case_id)
        .bind(&s.step)
        .bind(&s.name)
        .bind(&s.department)
        .bind(&s.state)
        .bind(&s.ready_at)
        .bind(&s.due_at)
        .bind(i64::from(s.overdue))
        .bind(&s.decided_at)
        .bind(&s.decided_by)
        .bind(&s.note)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn case_steps(&mut self, id: &str) -> Result<Vec<CaseStepRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP_COLUMNS} FROM case_steps WHERE case_id = $1"
        )))
        .bind(id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(step_row).collect()
    }

    /// Moves a step from `from` to `to`; `false` when it was not in `from` (decided already).
    #[allow(clippy::too_many_arguments)]
    pub async fn move_case_step(
        &mut self,
        case_id: &str,
        step: &str,
        from: &[&str],
        to: &str,
        by: Option<&str>,
        note: &str,
        at: &str,
    ) -> Result<bool> {
        let list = state_list(from);
        // Audited: `list` holds the engine's own state names, quoted.
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE case_steps SET state = $1, decided_by = COALESCE($2, decided_by),
                note = $3, decided_at = $4
             WHERE case_id = $5 AND step = $6 AND state IN ({list})"
        )))
        .bind(to)
        .bind(by)
        .bind(note)
        .bind(at)
        .bind(case_id)
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Makes a waiting step ready with its due time.
    pub async fn ready_case_step(
        &mut self,
        case_id: &str,
        step: &str,
        at: &str,
        due_at: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_steps SET state = 'ready', ready_at = $1, due_at = $2
             WHERE case_id = $3 AND step = $4 AND state IN ('waiting', 'returned')",
        )
        .bind(at)
        .bind(due_at)
        .bind(case_id)
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn flag_case_step_overdue(&mut self, case_id: &str, step: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_steps SET overdue = 1
             WHERE case_id = $1 AND step = $2 AND state = 'ready' AND overdue = 0",
        )
        .bind(case_id)
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Moves the case from one of `from` to `to`.
    pub async fn move_case(
        &mut self,
        id: &str,
        from: &[&str],
        to: &str,
        closed_at: Option<&str>,
    ) -> Result<bool> {
        let list = state_list(from);
        // Audited: `list` holds the engine's own state names, quoted.
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cases SET state = $1, closed_at = COALESCE($2, closed_at)
             WHERE id = $3 AND state IN ({list})"
        )))
        .bind(to)
        .bind(closed_at)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn update_case_form(&mut self, id: &str, form_sealed: &str) -> Result<()> {
        sqlx::query("UPDATE cases SET form_sealed = $1 WHERE id = $2")
            .bind(form_sealed)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn rate_case(&mut self, id: &str, rating: i64, note: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cases SET rating = $1, rating_note = $2
             WHERE id = $3 AND state IN ('completed', 'refused') AND rating IS NULL",
        )
        .bind(rating)
        .bind(note)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues a job; a job for the same (case, step, action) is not queued twice.
    pub async fn insert_case_job(&mut self, j: &CaseJobRow, at: &str) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO case_jobs (id, case_id, step, action, state, attempts, next_at, last_error, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (case_id, step, action) DO NOTHING",
        )
        .bind(&j.id)
        .bind(&j.case_id)
        .bind(&j.step)
        .bind(&j.action)
        .bind(&j.state)
        .bind(j.attempts)
        .bind(&j.next_at)
        .bind(&j.last_error)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Marks a pending job done; `false` when another worker finished it first.
    pub async fn finish_case_job(&mut self, id: &str, at: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_jobs SET state = 'done', done_at = $1, attempts = attempts + 1
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a failed attempt: retried at `next_at`, or failed for good when `give_up`.
    pub async fn fail_case_job(
        &mut self,
        id: &str,
        error: &str,
        next_at: &str,
        give_up: bool,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_jobs SET attempts = attempts + 1, last_error = $1, next_at = $2,
                state = CASE WHEN $3 = 1 THEN 'failed' ELSE 'pending' END
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(error)
        .bind(next_at)
        .bind(i64::from(give_up))
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Puts failed jobs of a case back in the queue (an operator resolving an incident).
    pub async fn retry_case_jobs(&mut self, case_id: &str, at: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE case_jobs SET state = 'pending', attempts = 0, next_at = $1
             WHERE case_id = $2 AND state = 'failed'",
        )
        .bind(at)
        .bind(case_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected())
    }

    /// Records what a job did; once per (case, step, action).
    pub async fn insert_case_effect(
        &mut self,
        case_id: &str,
        step: &str,
        action: &str,
        at: &str,
        detail: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO case_effects (case_id, step, action, at, detail) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (case_id, step, action) DO NOTHING",
        )
        .bind(case_id)
        .bind(step)
        .bind(action)
        .bind(at)
        .bind(detail)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Appends to a case's history.
    pub async fn case_event(
        &mut self,
        case_id: &str,
        at: &str,
        kind: &str,
        step: &str,
        actor: &str,
        detail: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO case_events (case_id, seq, at, kind, step, actor, detail)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM case_events WHERE case_id = $7",
        )
        .bind(case_id)
        .bind(at)
        .bind(kind)
        .bind(step)
        .bind(actor)
        .bind(detail)
        .bind(case_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn set_service_follow(
        &mut self,
        service: &str,
        resource: &str,
        version: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_follows (service, resource, version) VALUES ($1, $2, $3)
             ON CONFLICT (service) DO UPDATE SET resource = excluded.resource, version = excluded.version",
        )
        .bind(service)
        .bind(resource)
        .bind(version)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
