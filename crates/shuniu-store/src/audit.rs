//! The audit log's tables: its records when the log is kept in the database, and the derived
//! index that search, the citizen page and flow monitoring read.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::{Result, Store, Tx, get};

/// One stored log record (see shuniu-audit's storage module).
#[derive(Debug, Clone)]
pub struct AuditRecordRow {
    pub position: i64,
    pub kind: String,
    pub seq: i64,
    pub payload: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditRecordRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(AuditRecordRow {
            position: get(r, "position")?,
            kind: get(r, "kind")?,
            seq: get(r, "seq")?,
            payload: get(r, "payload")?,
            hash: get(r, "hash")?,
        })
    }
}

/// One entry as indexed.
#[derive(Debug, Clone, Serialize)]
pub struct AuditIndexRow {
    pub idx: i64,
    pub at: String,
    pub kind: String,
    pub action: String,
    pub principal: String,
    pub department: String,
    pub channel: String,
    pub resource: Option<String>,
    pub provider: Option<String>,
    pub rows: Option<i64>,
    pub result: String,
    pub purpose: Option<String>,
}

impl AuditIndexRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(AuditIndexRow {
            idx: get(r, "idx")?,
            at: get(r, "at")?,
            kind: get(r, "kind")?,
            action: get(r, "action")?,
            principal: get(r, "principal")?,
            department: get(r, "department")?,
            channel: get(r, "channel")?,
            resource: get(r, "resource")?,
            provider: get(r, "provider")?,
            rows: get(r, "rows_count")?,
            result: get(r, "result")?,
            purpose: get(r, "purpose")?,
        })
    }
}

const INDEX_COLUMNS: &str = "idx, at, kind, action, principal, department, channel, resource, \
     provider, rows_count, result, purpose";

/// What the hub operator searches the audit index by. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub principal: Option<String>,
    pub department: Option<String>,
    pub resource: Option<String>,
    pub action: Option<String>,
    pub kind: Option<String>,
    /// Beijing-time RFC 3339 bounds (inclusive from, exclusive to).
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    /// Entries where this department is the consumer or the provider.
    pub concerning: Option<String>,
    /// Entries with index below this (paging backwards, newest first).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Data flowing from a provider department to a consuming department.
#[derive(Debug, Clone, Serialize)]
pub struct AuditFlow {
    pub provider: String,
    pub consumer: String,
    pub accesses: i64,
    pub rows: i64,
}

/// Accesses per day per key (a resource or a principal).
#[derive(Debug, Clone, Serialize)]
pub struct AuditVolume {
    pub day: String,
    pub key: String,
    pub accesses: i64,
    pub rows: i64,
}

impl Store {
    /// Log records after `position`, in order.
    pub async fn audit_records_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecordRow>> {
        let rows = sqlx::query(
            "SELECT position, kind, seq, payload, hash FROM audit_records
             WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .bind(position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(AuditRecordRow::from_row).collect()
    }

    /// Stored leaf hashes of entries `[from, to)`.
    pub async fn audit_leaf_hashes(&self, from: i64, to: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT seq, hash FROM audit_records WHERE kind = 'E' AND seq >= $1 AND seq < $2
             ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "seq")?, get(r, "hash")?)))
            .collect()
    }

    /// Stored payloads of entries `[from, to)`.
    pub async fn audit_payloads(&self, from: i64, to: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT seq, payload FROM audit_records WHERE kind = 'E' AND seq >= $1 AND seq < $2
             ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "seq")?, get(r, "payload")?)))
            .collect()
    }

    /// The last record position (0 when empty).
    pub async fn audit_last_position(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(position), 0) AS p FROM audit_records")
            .fetch_one(&self.pool)
            .await?;
        get(&r, "p")
    }

    /// The first entry index not yet in the audit index.
    pub async fn audit_indexed_upto(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_index")
            .fetch_one(&self.pool)
            .await?;
        get(&r, "n")
    }

    pub async fn audit_search(&self, f: &AuditFilter) -> Result<Vec<AuditIndexRow>> {
        let mut sql = format!("SELECT {INDEX_COLUMNS} FROM audit_index a WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut cond = |sql: &mut String, col: &str, op: &str, v: &Option<String>| {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} {op} ${}", binds.len()));
            }
        };
        cond(&mut sql, "principal", "=", &f.principal);
        cond(&mut sql, "department", "=", &f.department);
        cond(&mut sql, "resource", "=", &f.resource);
        cond(&mut sql, "action", "=", &f.action);
        cond(&mut sql, "kind", "=", &f.kind);
        cond(&mut sql, "at", ">=", &f.from);
        cond(&mut sql, "at", "<", &f.to);
        if let Some(d) = f.concerning.as_ref() {
            binds.push(d.clone());
            sql.push_str(&format!(
                " AND (department = ${n} OR provider = ${n})",
                n = binds.len()
            ));
        }
        if let Some(s) = f.subject.as_ref().filter(|s| !s.is_empty()) {
            binds.push(s.clone());
            sql.push_str(&format!(
                " AND idx IN (SELECT idx FROM audit_subjects WHERE subject = ${})",
                binds.len()
            ));
        }
        if let Some(b) = f.before {
            sql.push_str(&format!(" AND idx < {b}"));
        }
        sql.push_str(&format!(
            " ORDER BY idx DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(AuditIndexRow::from_row).collect()
    }

    /// Accesses between departments since `since` (Beijing-time RFC 3339).
    pub async fn audit_flows(&self, since: &str) -> Result<Vec<AuditFlow>> {
        let rows = sqlx::query(
            "SELECT provider, department AS consumer, COUNT(*) AS accesses,
                    CAST(COALESCE(SUM(rows_count), 0) AS BIGINT) AS rows_sum
             FROM audit_index
             WHERE kind = 'access' AND result = 'ok' AND provider IS NOT NULL AND at >= $1
             GROUP BY provider, department ORDER BY accesses DESC LIMIT 200",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditFlow {
                    provider: get(r, "provider")?,
                    consumer: get(r, "consumer")?,
                    accesses: get(r, "accesses")?,
                    rows: get(r, "rows_sum")?,
                })
            })
            .collect()
    }

    /// Successful accesses per Beijing day and per `by` (`resource` or `principal`).
    pub async fn audit_volumes(&self, since: &str, by_principal: bool) -> Result<Vec<AuditVolume>> {
        let col = if by_principal {
            "principal"
        } else {
            "resource"
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT SUBSTR(at, 1, 10) AS day, {col} AS k, COUNT(*) AS accesses,
                    CAST(COALESCE(SUM(rows_count), 0) AS BIGINT) AS rows_sum
             FROM audit_index
             WHERE kind = 'access' AND result = 'ok' AND {col} IS NOT NULL AND at >= $1
             GROUP BY SUBSTR(at, 1, 10), {col} ORDER BY day, k"
        )))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditVolume {
                    day: get(r, "day")?,
                    key: get(r, "k")?,
                    accesses: get(r, "accesses")?,
                    rows: get(r, "rows_sum")?,
                })
            })
            .collect()
    }

    /// Successful accesses per channel since `since`.
    pub async fn audit_channels(&self, since: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT channel, COUNT(*) AS n FROM audit_index
             WHERE kind = 'access' AND result = 'ok' AND at >= $1 GROUP BY channel ORDER BY n DESC",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "channel")?, get(r, "n")?)))
            .collect()
    }
}

impl Tx {
    /// Serializes audit-log writers across processes until this transaction ends
    /// (PostgreSQL advisory lock; SQLite's write transaction is already exclusive).
    pub async fn lock_audit_log(&mut self) -> Result<()> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7270727201)")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Log records after `position`, read inside the transaction.
    pub async fn audit_records_after(&mut self, position: i64) -> Result<Vec<AuditRecordRow>> {
        let rows = sqlx::query(
            "SELECT position, kind, seq, payload, hash FROM audit_records
             WHERE position > $1 ORDER BY position",
        )
        .bind(position)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(AuditRecordRow::from_row).collect()
    }

    /// Appends log records at positions `first_position ..`.
    pub async fn insert_audit_records(
        &mut self,
        first_position: i64,
        records: &[(&str, i64, &[u8], &[u8])],
    ) -> Result<()> {
        for (chunk_no, chunk) in records.chunks(1000).enumerate() {
            let mut sql = String::from(
                "INSERT INTO audit_records (position, kind, seq, payload, hash) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (i, (kind, seq, payload, hash)) in chunk.iter().enumerate() {
                q = q
                    .bind(first_position + (chunk_no * 1000 + i) as i64)
                    .bind(kind.to_string())
                    .bind(*seq)
                    .bind(payload.to_vec())
                    .bind(hash.to_vec());
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Adds entries to the derived index (idempotent for entries already there).
    pub async fn insert_audit_index(
        &mut self,
        rows: &[AuditIndexRow],
        subjects: &[(String, i64)],
    ) -> Result<()> {
        // 80 rows (960 parameters) per statement: one round trip to the driver for each,
        // where a statement per row made the index fall behind the log under load.
        for chunk in rows.chunks(80) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p: Vec<String> = (1..=12).map(|c| format!("${}", i * 12 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO audit_index ({INDEX_COLUMNS}) VALUES {}
                 ON CONFLICT (idx) DO NOTHING",
                marks.join(", ")
            )));
            for r in chunk {
                q = q
                    .bind(r.idx)
                    .bind(&r.at)
                    .bind(&r.kind)
                    .bind(&r.action)
                    .bind(&r.principal)
                    .bind(&r.department)
                    .bind(&r.channel)
                    .bind(&r.resource)
                    .bind(&r.provider)
                    .bind(r.rows)
                    .bind(&r.result)
                    .bind(&r.purpose);
            }
            q.execute(&mut *self.tx).await?;
        }
        // 500 subjects per statement: an entry may name thousands.
        for chunk in subjects.chunks(500) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO audit_subjects (subject, idx) VALUES {}
                 ON CONFLICT (subject, idx) DO NOTHING",
                marks.join(", ")
            )));
            for (subject, idx) in chunk {
                q = q.bind(subject).bind(*idx);
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}
