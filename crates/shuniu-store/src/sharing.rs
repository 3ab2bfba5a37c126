//! The sharing capability's tables. The sharing engine decides what goes in them; this
//! module only stores and loads.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::quality::json;
use crate::{Result, Store, StoreError, Tx, code_of, get, now};
use shuniu_types::states::{DeliveryState, DemandState, GrantState, JobState, RequestState};

#[derive(Debug, Clone, Serialize)]
pub struct DemandRow {
    pub id: String,
    pub department: String,
    pub title: String,
    pub description: String,
    pub resource_code: Option<String>,
    pub routed_to: Option<String>,
    /// open, routed, answered, closed
    pub state: DemandState,
    pub answer: String,
    pub satisfied: Option<bool>,
    pub filed_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub answered_at: Option<String>,
}

impl DemandRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(DemandRow {
            id: get(r, "id")?,
            department: get(r, "department")?,
            title: get(r, "title")?,
            description: get(r, "description")?,
            resource_code: get(r, "resource_code")?,
            routed_to: get(r, "routed_to")?,
            state: code_of(r, "state")?,
            answer: get(r, "answer")?,
            satisfied: get::<Option<i64>>(r, "satisfied")?.map(|v| v != 0),
            filed_by: get(r, "filed_by")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
            answered_at: get(r, "answered_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareRequestRow {
    pub id: String,
    pub resource_code: String,
    pub provider: String,
    pub consumer: String,
    pub application_id: String,
    pub share_type: String,
    /// pending, escalated, granted, refused, withdrawn
    pub state: RequestState,
    /// What was asked: fields, purpose, scenario, legal basis, duration, services, scope.
    pub spec: serde_json::Value,
    pub due_at: Option<String>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub reason: String,
    pub grant_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const REQUEST_COLUMNS: &str = "id, resource_code, provider, consumer, application_id, share_type, \
    state, spec, due_at, requested_by, decided_by, reason, grant_id, created_at, updated_at";

impl ShareRequestRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(ShareRequestRow {
            id: get(r, "id")?,
            resource_code: get(r, "resource_code")?,
            provider: get(r, "provider")?,
            consumer: get(r, "consumer")?,
            application_id: get(r, "application_id")?,
            share_type: get(r, "share_type")?,
            state: code_of(r, "state")?,
            spec: json(r, "spec")?,
            due_at: get(r, "due_at")?,
            requested_by: get(r, "requested_by")?,
            decided_by: get(r, "decided_by")?,
            reason: get(r, "reason")?,
            grant_id: get(r, "grant_id")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareEventRow {
    pub seq: i64,
    pub at: String,
    pub principal: String,
    pub department: String,
    pub action: String,
    pub state: RequestState,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantRow {
    pub id: String,
    pub request_id: Option<String>,
    pub resource_code: String,
    pub provider: String,
    pub consumer: String,
    pub application_id: String,
    pub terms: serde_json::Value,
    /// active, revoked, expired
    pub state: GrantState,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_by: Option<String>,
    pub revoke_reason: String,
}

const GRANT_COLUMNS: &str = "id, request_id, resource_code, provider, consumer, application_id, \
    terms, state, expires_at, created_at, updated_at, revoked_by, revoke_reason";

impl GrantRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(GrantRow {
            id: get(r, "id")?,
            request_id: get(r, "request_id")?,
            resource_code: get(r, "resource_code")?,
            provider: get(r, "provider")?,
            consumer: get(r, "consumer")?,
            application_id: get(r, "application_id")?,
            terms: json(r, "terms")?,
            state: code_of(r, "state")?,
            expires_at: get(r, "expires_at")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
            revoked_by: get(r, "revoked_by")?,
            revoke_reason: get(r, "revoke_reason")?,
        })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageRow {
    pub grant_id: String,
    pub day: String,
    pub calls: i64,
    pub rows_out: i64,
    pub refused: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub grant_id: String,
    pub resource_code: String,
    pub application_id: String,
    pub url: String,
    /// The feed cursor up to which changes have been handed to deliveries.
    pub cursor: String,
    pub active: bool,
    pub created_at: String,
}

impl SubscriptionRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(SubscriptionRow {
            id: get(r, "id")?,
            grant_id: get(r, "grant_id")?,
            resource_code: get(r, "resource_code")?,
            application_id: get(r, "application_id")?,
            url: get(r, "url")?,
            cursor: get(r, "cursor_pos")?,
            active: get::<i64>(r, "active")? != 0,
            created_at: get(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRow {
    pub id: String,
    pub subscription_id: String,
    pub from_cursor: String,
    pub to_cursor: String,
    pub changes: i64,
    /// pending, delivered, dead
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl DeliveryRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(DeliveryRow {
            id: get(r, "id")?,
            subscription_id: get(r, "subscription_id")?,
            from_cursor: get(r, "from_cursor")?,
            to_cursor: get(r, "to_cursor")?,
            changes: get(r, "changes")?,
            state: code_of(r, "state")?,
            attempts: get(r, "attempts")?,
            next_attempt_at: get(r, "next_attempt_at")?,
            last_error: get(r, "last_error")?,
            created_at: get(r, "created_at")?,
            delivered_at: get(r, "delivered_at")?,
        })
    }
}

const DELIVERY_COLUMNS: &str = "id, subscription_id, from_cursor, to_cursor, changes, state, \
    attempts, next_attempt_at, last_error, created_at, delivered_at";

#[derive(Debug, Clone, Serialize)]
pub struct ComparisonJobRow {
    pub id: String,
    pub grant_id: String,
    pub resource_code: String,
    pub application_id: String,
    pub consumer: String,
    pub version: Option<i64>,
    /// running, finished, failed
    pub state: JobState,
    pub keys_total: i64,
    pub keys_done: i64,
    pub found: i64,
    pub error: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl ComparisonJobRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(ComparisonJobRow {
            id: get(r, "id")?,
            grant_id: get(r, "grant_id")?,
            resource_code: get(r, "resource_code")?,
            application_id: get(r, "application_id")?,
            consumer: get(r, "consumer")?,
            version: get(r, "version")?,
            state: code_of(r, "state")?,
            keys_total: get(r, "keys_total")?,
            keys_done: get(r, "keys_done")?,
            found: get(r, "found")?,
            error: get(r, "error")?,
            created_at: get(r, "created_at")?,
            finished_at: get(r, "finished_at")?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CalendarDayRow {
    /// YYYY-MM-DD
    pub day: String,
    /// holiday or workday (a make-up working day on a weekend)
    pub kind: String,
    pub note: String,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub provider: Option<String>,
    pub consumer: Option<String>,
    /// Requests where this department is either side.
    pub department: Option<String>,
    pub states: Vec<RequestState>,
    pub limit: i64,
}

impl Store {
    pub async fn demands(&self, department: Option<&str>) -> Result<Vec<DemandRow>> {
        let rows = match department {
            Some(d) => {
                sqlx::query(
                    "SELECT * FROM demands WHERE department = $1 OR routed_to = $1
                 ORDER BY created_at DESC",
                )
                .bind(d)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query("SELECT * FROM demands ORDER BY created_at DESC")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(DemandRow::from_row).collect()
    }

    pub async fn demand(&self, id: &str) -> Result<Option<DemandRow>> {
        sqlx::query("SELECT * FROM demands WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(DemandRow::from_row)
            .transpose()
    }

    pub async fn share_request(&self, id: &str) -> Result<Option<ShareRequestRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM share_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(ShareRequestRow::from_row)
        .transpose()
    }

    pub async fn share_requests(&self, f: &RequestFilter) -> Result<Vec<ShareRequestRow>> {
        let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM share_requests WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let next = |v: &str, binds: &mut Vec<String>| {
            binds.push(v.to_string());
            format!("${}", binds.len())
        };
        if let Some(p) = &f.provider {
            let n = next(p, &mut binds);
            sql.push_str(&format!(" AND provider = {n}"));
        }
        if let Some(c) = &f.consumer {
            let n = next(c, &mut binds);
            sql.push_str(&format!(" AND consumer = {n}"));
        }
        if let Some(d) = &f.department {
            let n = next(d, &mut binds);
            sql.push_str(&format!(" AND (provider = {n} OR consumer = {n})"));
        }
        if !f.states.is_empty() {
            let ns: Vec<String> = f
                .states
                .iter()
                .map(|s| next(s.code(), &mut binds))
                .collect();
            sql.push_str(&format!(" AND state IN ({})", ns.join(", ")));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            if f.limit > 0 { f.limit } else { 1000 }
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(ShareRequestRow::from_row).collect()
    }

    pub async fn share_events(&self, request_id: &str) -> Result<Vec<ShareEventRow>> {
        let rows = sqlx::query(
            "SELECT seq, at, principal, department, action, state, reason FROM share_events
             WHERE request_id = $1 ORDER BY seq",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShareEventRow {
                    seq: get(r, "seq")?,
                    at: get(r, "at")?,
                    principal: get(r, "principal")?,
                    department: get(r, "department")?,
                    action: get(r, "action")?,
                    state: code_of(r, "state")?,
                    reason: get(r, "reason")?,
                })
            })
            .collect()
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(GrantRow::from_row)
        .transpose()
    }

    /// Every grant, newest first (the service directory loads them all; they are few).
    pub async fn grants(&self) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants ORDER BY created_at DESC, id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(GrantRow::from_row).collect()
    }

    /// The newest change to any grant or application, to tell whether a cache is stale.
    pub async fn sharing_generation(&self) -> Result<String> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MAX(updated_at) FROM grants), '') AS g,
                    COALESCE((SELECT MAX(COALESCE(revoked_at, created_at)) FROM applications), '') AS a,
                    (SELECT COUNT(*) FROM applications WHERE revoked_at IS NOT NULL) AS r",
        )
        .fetch_one(&self.pool)
        .await?;
        let g: String = get(&row, "g")?;
        let a: String = get(&row, "a")?;
        let r: i64 = get(&row, "r")?;
        Ok(format!("{g}|{a}|{r}"))
    }

    pub async fn usage(&self, since_day: &str) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT grant_id, day, calls, rows_out, refused FROM grant_usage WHERE day >= $1
             ORDER BY day",
        )
        .bind(since_day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UsageRow {
                    grant_id: get(r, "grant_id")?,
                    day: get(r, "day")?,
                    calls: get(r, "calls")?,
                    rows_out: get(r, "rows_out")?,
                    refused: get(r, "refused")?,
                })
            })
            .collect()
    }

    pub async fn subscriptions(&self) -> Result<Vec<SubscriptionRow>> {
        let rows = sqlx::query(
            "SELECT id, grant_id, resource_code, application_id, url, cursor_pos, active, created_at
             FROM subscriptions ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(SubscriptionRow::from_row).collect()
    }

    pub async fn deliveries(
        &self,
        subscription_id: Option<&str>,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE ($1 = '' OR subscription_id = $1) AND ($2 = '' OR state = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(subscription_id.unwrap_or(""))
        .bind(state.map_or("", DeliveryState::code))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(DeliveryRow::from_row).collect()
    }

    /// Pending deliveries whose next attempt is due.
    pub async fn due_deliveries(&self, at: &str, limit: i64) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE state = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at LIMIT $2"
        )))
        .bind(at)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(DeliveryRow::from_row).collect()
    }

    pub async fn comparison_job(&self, id: &str) -> Result<Option<ComparisonJobRow>> {
        sqlx::query("SELECT * FROM comparison_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(ComparisonJobRow::from_row)
            .transpose()
    }

    pub async fn comparison_jobs(&self, application_id: &str) -> Result<Vec<ComparisonJobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM comparison_jobs WHERE application_id = $1 ORDER BY created_at DESC LIMIT 100",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ComparisonJobRow::from_row).collect()
    }

    pub async fn calendar_days(&self) -> Result<Vec<CalendarDayRow>> {
        let rows = sqlx::query("SELECT day, kind, note FROM calendar_days ORDER BY day")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CalendarDayRow {
                    day: get(r, "day")?,
                    kind: get(r, "kind")?,
                    note: get(r, "note")?,
                })
            })
            .collect()
    }

    /// Adds to a grant's usage of one day (flushed from the service's in-memory counters).
    pub async fn add_usage(&self, u: &UsageRow) -> Result<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE grant_usage SET calls = calls + $1, rows_out = rows_out + $2,
                    refused = refused + $3 WHERE grant_id = $4 AND day = $5",
        )
        .bind(u.calls)
        .bind(u.rows_out)
        .bind(u.refused)
        .bind(&u.grant_id)
        .bind(&u.day)
        .execute(&mut *tx.tx)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO grant_usage (grant_id, day, calls, rows_out, refused)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&u.grant_id)
            .bind(&u.day)
            .bind(u.calls)
            .bind(u.rows_out)
            .bind(u.refused)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }
}

impl Tx {
    pub async fn insert_demand(&mut self, d: &DemandRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO demands (id, department, title, description, resource_code, routed_to,
                 state, answer, satisfied, filed_by, created_at, updated_at, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $10, NULL)",
        )
        .bind(&d.id)
        .bind(&d.department)
        .bind(&d.title)
        .bind(&d.description)
        .bind(d.resource_code.clone())
        .bind(d.routed_to.clone())
        .bind(d.state.code())
        .bind(&d.answer)
        .bind(&d.filed_by)
        .bind(&d.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn update_demand(&mut self, d: &DemandRow) -> Result<()> {
        sqlx::query(
            "UPDATE demands SET resource_code = $1, routed_to = $2, state = $3, answer = $4,
                    satisfied = $5, updated_at = $6, answered_at = $7 WHERE id = $8",
        )
        .bind(d.resource_code.clone())
        .bind(d.routed_to.clone())
        .bind(d.state.code())
        .bind(&d.answer)
        .bind(d.satisfied.map(i64::from))
        .bind(now())
        .bind(d.answered_at.clone())
        .bind(&d.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_share_request(&mut self, r: &ShareRequestRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO share_requests (id, resource_code, provider, consumer, application_id,
                 share_type, state, spec, due_at, requested_by, decided_by, reason, grant_id,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(&r.id)
        .bind(&r.resource_code)
        .bind(&r.provider)
        .bind(&r.consumer)
        .bind(&r.application_id)
        .bind(&r.share_type)
        .bind(r.state.code())
        .bind(r.spec.to_string())
        .bind(r.due_at.clone())
        .bind(&r.requested_by)
        .bind(r.decided_by.clone())
        .bind(&r.reason)
        .bind(r.grant_id.clone())
        .bind(&r.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves a request to `state`; fails with `Conflict` when it is no longer in `from`
    /// (two deciders racing: one wins).
    pub async fn set_request_state(
        &mut self,
        id: &str,
        from: &[RequestState],
        state: RequestState,
        decided_by: Option<&str>,
        reason: &str,
        grant_id: Option<&str>,
    ) -> Result<()> {
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 7)).collect();
        let sql = format!(
            "UPDATE share_requests SET state = $1, decided_by = COALESCE($2, decided_by),
                    reason = $3, grant_id = COALESCE($4, grant_id), updated_at = $5
             WHERE id = $6 AND state IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.code())
            .bind(decided_by.map(str::to_string))
            .bind(reason)
            .bind(grant_id.map(str::to_string))
            .bind(now())
            .bind(id);
        for f in from {
            q = q.bind(f.code());
        }
        let r = q.execute(&mut *self.tx).await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                what: format!(
                    "request {id} is no longer {}",
                    from.iter().map(|s| s.code()).collect::<Vec<_>>().join("/")
                ),
            });
        }
        Ok(())
    }

    pub async fn insert_share_event(
        &mut self,
        request_id: &str,
        principal: &str,
        department: &str,
        action: &str,
        state: RequestState,
        reason: &str,
    ) -> Result<()> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) AS n FROM share_events WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_one(&mut *self.tx)
        .await?;
        let seq: i64 = get::<i64>(&row, "n")? + 1;
        sqlx::query(
            "INSERT INTO share_events (request_id, seq, at, principal, department, action, state, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(request_id)
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

    pub async fn insert_grant(&mut self, g: &GrantRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO grants (id, request_id, resource_code, provider, consumer, application_id,
                 terms, state, expires_at, created_at, updated_at, revoked_by, revoke_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, NULL, '')",
        )
        .bind(&g.id)
        .bind(g.request_id.clone())
        .bind(&g.resource_code)
        .bind(&g.provider)
        .bind(&g.consumer)
        .bind(&g.application_id)
        .bind(g.terms.to_string())
        .bind(g.state.code())
        .bind(&g.expires_at)
        .bind(&g.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn set_grant_state(
        &mut self,
        id: &str,
        state: GrantState,
        by: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let r = sqlx::query(
            "UPDATE grants SET state = $1, revoked_by = COALESCE($2, revoked_by),
                    revoke_reason = $3, updated_at = $4 WHERE id = $5 AND state = 'active'",
        )
        .bind(state.code())
        .bind(by.map(str::to_string))
        .bind(reason)
        .bind(now())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                what: format!("grant {id} is not active"),
            });
        }
        Ok(())
    }

    pub async fn insert_subscription(&mut self, s: &SubscriptionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO subscriptions (id, grant_id, resource_code, application_id, url, cursor_pos,
                 active, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
        )
        .bind(&s.id)
        .bind(&s.grant_id)
        .bind(&s.resource_code)
        .bind(&s.application_id)
        .bind(&s.url)
        .bind(&s.cursor)
        .bind(&s.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn deactivate_subscription(&mut self, id: &str) -> Result<()> {
        sqlx::query("UPDATE subscriptions SET active = 0 WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Hands the changes from the subscription's cursor to `to` over to a new delivery,
    /// and moves the cursor, in one transaction (at-least-once: a delivery is never lost) —
    /// only if the stored cursor is still `seen_cursor`: `false`, nothing written, when another
    /// round (or another hub process) queued them first.
    pub async fn enqueue_delivery(&mut self, d: &DeliveryRow, seen_cursor: &str) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE subscriptions SET cursor_pos = $1 WHERE id = $2 AND cursor_pos = $3",
        )
        .bind(&d.to_cursor)
        .bind(&d.subscription_id)
        .bind(seen_cursor)
        .execute(&mut *self.tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, subscription_id, from_cursor, to_cursor, changes,
                 state, attempts, next_attempt_at, last_error, created_at, delivered_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, '', $7, NULL)",
        )
        .bind(&d.id)
        .bind(&d.subscription_id)
        .bind(&d.from_cursor)
        .bind(&d.to_cursor)
        .bind(d.changes)
        .bind(&d.next_attempt_at)
        .bind(&d.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(true)
    }

    pub async fn put_calendar_day(&mut self, day: &str, kind: &str, note: &str) -> Result<()> {
        sqlx::query("DELETE FROM calendar_days WHERE day = $1")
            .bind(day)
            .execute(&mut *self.tx)
            .await?;
        if kind != "normal" {
            sqlx::query("INSERT INTO calendar_days (day, kind, note) VALUES ($1, $2, $3)")
                .bind(day)
                .bind(kind)
                .bind(note)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}

impl Tx {
    /// Moves a request's deadline (the hub extends one; tests put one in the past).
    pub async fn set_request_due(&mut self, id: &str, due_at: &str) -> Result<()> {
        sqlx::query("UPDATE share_requests SET due_at = $1 WHERE id = $2")
            .bind(due_at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

/// Writes of the background work (counters, job progress, deliveries), each in a transaction
/// like every other write.
impl Tx {
    pub async fn update_comparison_progress(
        &mut self,
        id: &str,
        done: i64,
        found: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE comparison_jobs SET keys_done = $1, found = $2 WHERE id = $3")
            .bind(done)
            .bind(found)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn finish_comparison(
        &mut self,
        id: &str,
        state: JobState,
        total: i64,
        found: i64,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE comparison_jobs SET state = $1, keys_total = $2, keys_done = $2, found = $3,
                    error = $4, finished_at = $5 WHERE id = $6",
        )
        .bind(state.code())
        .bind(total)
        .bind(found)
        .bind(error)
        .bind(now())
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_comparison_job(&mut self, j: &ComparisonJobRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO comparison_jobs (id, grant_id, resource_code, application_id, consumer,
                 version, state, keys_total, keys_done, found, error, created_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, '', $8, NULL)",
        )
        .bind(&j.id)
        .bind(&j.grant_id)
        .bind(&j.resource_code)
        .bind(&j.application_id)
        .bind(&j.consumer)
        .bind(j.version)
        .bind(j.state.code())
        .bind(&j.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn record_delivery_attempt(
        &mut self,
        id: &str,
        state: DeliveryState,
        attempts: i64,
        next_attempt_at: &str,
        error: &str,
    ) -> Result<()> {
        let delivered = if state == DeliveryState::Delivered {
            Some(now())
        } else {
            None
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3,
                    last_error = $4, delivered_at = $5 WHERE id = $6",
        )
        .bind(state.code())
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(delivered)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// An outbound notification (the `notifications` outbox).
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRow {
    pub id: String,
    pub topic: String,
    pub kind: String,
    pub url: String,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl NotificationRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(NotificationRow {
            id: get(r, "id")?,
            topic: get(r, "topic")?,
            kind: get(r, "kind")?,
            url: get(r, "url")?,
            body: get(r, "body")?,
            state: code_of(r, "state")?,
            attempts: get(r, "attempts")?,
            next_attempt_at: get(r, "next_attempt_at")?,
            last_error: get(r, "last_error")?,
            created_at: get(r, "created_at")?,
            delivered_at: get(r, "delivered_at")?,
        })
    }
}

const NOTIFICATION_COLUMNS: &str = "id, topic, kind, url, body, state, attempts, \
    next_attempt_at, last_error, created_at, delivered_at";

impl Store {
    /// A topic's notifications, newest first.
    pub async fn notifications(&self, topic: &str, limit: i64) -> Result<Vec<NotificationRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE topic = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        )))
        .bind(topic)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(NotificationRow::from_row).collect()
    }

    /// Pending notifications whose next attempt is due, oldest first.
    /// Takes a due delivery for one attempt: moves its next attempt to `lease_until` only if
    /// nobody else took it since `seen` was read. Two workers (or two hub processes on one
    /// PostgreSQL) never send the same delivery at once; a worker that dies mid-attempt leaves
    /// it due again when the lease runs out (at least once, never twice concurrently).
    pub async fn claim_delivery(&self, id: &str, seen: &str, lease_until: &str) -> Result<bool> {
        self.claim_outbox_row("webhook_deliveries", id, seen, lease_until)
            .await
    }

    /// As [`Store::claim_delivery`], for the notifications outbox.
    pub async fn claim_notification(
        &self,
        id: &str,
        seen: &str,
        lease_until: &str,
    ) -> Result<bool> {
        self.claim_outbox_row("notifications", id, seen, lease_until)
            .await
    }

    /// `table` is one of the two outbox tables named above, never input.
    async fn claim_outbox_row(
        &self,
        table: &'static str,
        id: &str,
        seen: &str,
        lease_until: &str,
    ) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET next_attempt_at = $1
             WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3"
        )))
        .bind(lease_until)
        .bind(id)
        .bind(seen)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn due_notifications(&self, at: &str, limit: i64) -> Result<Vec<NotificationRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications
             WHERE state = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2"
        )))
        .bind(at)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(NotificationRow::from_row).collect()
    }
}

impl Tx {
    /// Puts a notification in the outbox, in the transaction of the change it announces.
    pub async fn enqueue_notification(&mut self, n: &NotificationRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO notifications (id, topic, kind, url, body, state, attempts,
                 next_attempt_at, last_error, created_at, delivered_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, '', $7, NULL)",
        )
        .bind(&n.id)
        .bind(&n.topic)
        .bind(&n.kind)
        .bind(&n.url)
        .bind(&n.body)
        .bind(&n.next_attempt_at)
        .bind(&n.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn record_notification_attempt(
        &mut self,
        id: &str,
        state: DeliveryState,
        attempts: i64,
        next_attempt_at: &str,
        error: &str,
    ) -> Result<()> {
        let delivered = (state == DeliveryState::Delivered).then(now);
        sqlx::query(
            "UPDATE notifications SET state = $1, attempts = $2, next_attempt_at = $3,
                    last_error = $4, delivered_at = $5 WHERE id = $6",
        )
        .bind(state.code())
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(delivered)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
