//! Record links: which subject (by keyed digest) a record of a keyless source belongs to.
//! `shuniu-sharing` decides who may write them and what a profile shows of them; this module
//! only stores and loads.

use crate::{Result, Store, Tx, get, now};

/// One record's link to a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLinkRow {
    pub resource_code: String,
    pub record_key: String,
    /// `person` or `enterprise`.
    pub subject_type: String,
    pub subject_digest: String,
    pub match_probability: f64,
    /// `model`, or the principal who confirmed the link.
    pub decided_by: String,
    pub linked_at: String,
}

impl Store {
    /// The records linked to a subject, by resource and key.
    pub async fn links_of(
        &self,
        subject_type: &str,
        subject_digest: &str,
    ) -> Result<Vec<RecordLinkRow>> {
        let rows = sqlx::query(
            "SELECT resource_code, record_key, subject_type, subject_digest, match_probability,
                    decided_by, linked_at
             FROM record_links WHERE subject_type = $1 AND subject_digest = $2
             ORDER BY resource_code, record_key",
        )
        .bind(subject_type)
        .bind(subject_digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecordLinkRow {
                    resource_code: get(r, "resource_code")?,
                    record_key: get(r, "record_key")?,
                    subject_type: get(r, "subject_type")?,
                    subject_digest: get(r, "subject_digest")?,
                    match_probability: get(r, "match_probability")?,
                    decided_by: get(r, "decided_by")?,
                    linked_at: get(r, "linked_at")?,
                })
            })
            .collect()
    }

    /// How many records of a resource are linked.
    pub async fn link_count(&self, resource_code: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM record_links WHERE resource_code = $1")
            .bind(resource_code)
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }
}

impl Tx {
    /// Replaces the model's links of a resource with a new run's; links a reviewer decided
    /// stay as they were.
    pub async fn replace_model_links(
        &mut self,
        resource_code: &str,
        links: &[RecordLinkRow],
    ) -> Result<()> {
        sqlx::query("DELETE FROM record_links WHERE resource_code = $1 AND decided_by = 'model'")
            .bind(resource_code)
            .execute(&mut *self.tx)
            .await?;
        let at = now();
        for l in links {
            // A reviewer's decision on the same record wins over the model's.
            sqlx::query(
                "INSERT INTO record_links (resource_code, record_key, subject_type, subject_digest,
                     match_probability, decided_by, linked_at)
                 VALUES ($1, $2, $3, $4, $5, 'model', $6)
                 ON CONFLICT (resource_code, record_key) DO NOTHING",
            )
            .bind(resource_code)
            .bind(&l.record_key)
            .bind(&l.subject_type)
            .bind(&l.subject_digest)
            .bind(l.match_probability)
            .bind(&at)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
