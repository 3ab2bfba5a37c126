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

/// An eligible list: who qualifies for a policy in a period (免申即享名单).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyListRow {
    pub policy: String,
    pub period: String,
    pub policy_version: i64,
    pub library: String,
    pub library_version: i64,
    pub eligible: i64,
    pub amount: f64,
    /// evaluated | confirmed
    pub state: String,
    pub evaluated_by: String,
    pub evaluated_at: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    /// 'full', or 'incremental N'.
    pub refreshed: String,
}

/// One subject on a list, identified by its keyed digest; its key and name as the catalog
/// masks them.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyListEntryRow {
    pub subject: String,
    pub key_masked: String,
    pub name_masked: Option<String>,
    pub amount: Option<f64>,
    /// pending | paid | failed
    pub payment: String,
    pub payment_ref: String,
    pub payment_note: String,
    pub paid_at: Option<String>,
}

fn list_row(r: &AnyRow) -> Result<PolicyListRow> {
    Ok(PolicyListRow {
        policy: get(r, "policy")?,
        period: get(r, "period")?,
        policy_version: get(r, "policy_version")?,
        library: get(r, "library")?,
        library_version: get(r, "library_version")?,
        eligible: get(r, "eligible")?,
        amount: get(r, "amount")?,
        state: get(r, "state")?,
        evaluated_by: get(r, "evaluated_by")?,
        evaluated_at: get(r, "evaluated_at")?,
        confirmed_by: get(r, "confirmed_by")?,
        confirmed_at: get(r, "confirmed_at")?,
        refreshed: get(r, "refreshed")?,
    })
}

fn entry_row(r: &AnyRow) -> Result<PolicyListEntryRow> {
    Ok(PolicyListEntryRow {
        subject: get(r, "subject")?,
        key_masked: get(r, "key_masked")?,
        name_masked: get(r, "name_masked")?,
        amount: get(r, "amount")?,
        payment: get(r, "payment")?,
        payment_ref: get(r, "payment_ref")?,
        payment_note: get(r, "payment_note")?,
        paid_at: get(r, "paid_at")?,
    })
}

const LIST_COLUMNS: &str = "policy, period, policy_version, library, library_version, eligible, \
     amount, state, evaluated_by, evaluated_at, confirmed_by, confirmed_at, refreshed";
const ENTRY_COLUMNS: &str =
    "subject, key_masked, name_masked, amount, payment, payment_ref, payment_note, paid_at";

/// A payment's outcome for one subject of a list.
pub struct PaymentRecord<'a> {
    pub subject: &'a str,
    /// paid | failed
    pub payment: &'a str,
    pub reference: &'a str,
    pub note: &'a str,
    /// When it was paid.
    pub at: Option<&'a str>,
}

/// How many entries of a list are in each payment state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PaymentCounts {
    pub pending: i64,
    pub paid: i64,
    pub failed: i64,
}

impl Store {
    pub async fn policy_list(&self, policy: &str, period: &str) -> Result<Option<PolicyListRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM policy_lists WHERE policy = $1 AND period = $2"
        )))
        .bind(policy)
        .bind(period)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(list_row)
        .transpose()
    }

    /// A policy's lists, newest period first.
    pub async fn policy_lists(&self, policy: &str) -> Result<Vec<PolicyListRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM policy_lists WHERE policy = $1 ORDER BY period DESC"
        )))
        .bind(policy)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(list_row).collect()
    }

    /// Every list still open to refresh (evaluated, not yet confirmed).
    pub async fn unconfirmed_policy_lists(&self) -> Result<Vec<PolicyListRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM policy_lists WHERE state = 'evaluated' ORDER BY policy, period"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(list_row).collect()
    }

    /// A page of a list's entries by masked key (district first), optionally only those in one
    /// payment state.
    pub async fn policy_list_entries(
        &self,
        policy: &str,
        period: &str,
        payment: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<PolicyListEntryRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM policy_list_entries
             WHERE policy = $1 AND period = $2 AND ($3 = '' OR payment = $3)
             ORDER BY key_masked, subject LIMIT $4 OFFSET $5"
        )))
        .bind(policy)
        .bind(period)
        .bind(payment.unwrap_or(""))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_row).collect()
    }

    pub async fn payment_counts(&self, policy: &str, period: &str) -> Result<PaymentCounts> {
        let rows = sqlx::query(
            "SELECT payment, CAST(COUNT(*) AS BIGINT) AS n FROM policy_list_entries
             WHERE policy = $1 AND period = $2 GROUP BY payment",
        )
        .bind(policy)
        .bind(period)
        .fetch_all(&self.pool)
        .await?;
        let mut c = PaymentCounts::default();
        for r in &rows {
            let n: i64 = get(r, "n")?;
            match get::<String>(r, "payment")?.as_str() {
                "paid" => c.paid = n,
                "failed" => c.failed = n,
                _ => c.pending += n,
            }
        }
        Ok(c)
    }
}

impl Tx {
    pub async fn policy_list(
        &mut self,
        policy: &str,
        period: &str,
    ) -> Result<Option<PolicyListRow>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM policy_lists WHERE policy = $1 AND period = $2"
        )))
        .bind(policy)
        .bind(period)
        .fetch_optional(&mut *self.tx)
        .await?
        .as_ref()
        .map(list_row)
        .transpose()
    }

    pub async fn put_policy_list(&mut self, l: &PolicyListRow) -> Result<()> {
        sqlx::query("DELETE FROM policy_lists WHERE policy = $1 AND period = $2")
            .bind(&l.policy)
            .bind(&l.period)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO policy_lists ({LIST_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(&l.policy)
        .bind(&l.period)
        .bind(l.policy_version)
        .bind(&l.library)
        .bind(l.library_version)
        .bind(l.eligible)
        .bind(l.amount)
        .bind(&l.state)
        .bind(&l.evaluated_by)
        .bind(&l.evaluated_at)
        .bind(l.confirmed_by.clone())
        .bind(l.confirmed_at.clone())
        .bind(&l.refreshed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Removes entries of a list: every one (`subjects` = None) or those named.
    pub async fn delete_list_entries(
        &mut self,
        policy: &str,
        period: &str,
        subjects: Option<&[String]>,
    ) -> Result<u64> {
        let Some(subjects) = subjects else {
            let r =
                sqlx::query("DELETE FROM policy_list_entries WHERE policy = $1 AND period = $2")
                    .bind(policy)
                    .bind(period)
                    .execute(&mut *self.tx)
                    .await?;
            return Ok(r.rows_affected());
        };
        let mut n = 0;
        for chunk in subjects.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM policy_list_entries WHERE policy = $1 AND period = $2
                 AND subject IN ({})",
                marks.join(", ")
            )))
            .bind(policy)
            .bind(period);
            for s in chunk {
                q = q.bind(s);
            }
            n += q.execute(&mut *self.tx).await?.rows_affected();
        }
        Ok(n)
    }

    /// Adds entries to a list (pending payment), 500 rows per statement.
    pub async fn insert_list_entries(
        &mut self,
        policy: &str,
        period: &str,
        entries: &[PolicyListEntryRow],
    ) -> Result<()> {
        for chunk in entries.chunks(500) {
            let mut sql = format!(
                "INSERT INTO policy_list_entries (policy, period, {ENTRY_COLUMNS}) VALUES "
            );
            for i in 0..chunk.len() {
                let b = i * 10;
                if i > 0 {
                    sql.push(',');
                }
                let marks: Vec<String> = (1..=10).map(|k| format!("${}", b + k)).collect();
                sql.push_str(&format!("({})", marks.join(", ")));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(policy)
                    .bind(period)
                    .bind(&e.subject)
                    .bind(&e.key_masked)
                    .bind(e.name_masked.clone())
                    .bind(e.amount)
                    .bind(&e.payment)
                    .bind(&e.payment_ref)
                    .bind(&e.payment_note)
                    .bind(e.paid_at.clone());
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// The subjects of a list with their amounts (for comparing a refresh with what is kept).
    pub async fn list_amounts(
        &mut self,
        policy: &str,
        period: &str,
    ) -> Result<Vec<(String, Option<f64>)>> {
        let rows = sqlx::query(
            "SELECT subject, amount FROM policy_list_entries WHERE policy = $1 AND period = $2",
        )
        .bind(policy)
        .bind(period)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "subject")?, get(r, "amount")?)))
            .collect()
    }

    /// Records a payment's outcome for one subject; false when the list has no such subject.
    pub async fn set_payment(
        &mut self,
        policy: &str,
        period: &str,
        p: &PaymentRecord<'_>,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE policy_list_entries SET payment = $4, payment_ref = $5, payment_note = $6,
                 paid_at = $7
             WHERE policy = $1 AND period = $2 AND subject = $3",
        )
        .bind(policy)
        .bind(period)
        .bind(p.subject)
        .bind(p.payment)
        .bind(p.reference)
        .bind(p.note)
        .bind(p.at.map(str::to_string))
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() > 0)
    }
}
