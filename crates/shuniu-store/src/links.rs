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
    /// stay as they were, and a pair a reviewer rejected is not linked again.
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
                 SELECT $1, $2, $3, $4, $5, 'model', $6
                 WHERE NOT EXISTS (SELECT 1 FROM link_reviews r
                     WHERE r.resource_code = $1 AND r.record_key = $2 AND r.subject_digest = $4
                       AND r.state = 'rejected')
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

/// A pair waiting for (or given) a reviewer's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkReviewRow {
    pub id: String,
    pub resource_code: String,
    pub record_key: String,
    /// The resource the candidate subject was found in (the register linked against).
    pub against_code: String,
    pub subject_type: String,
    pub subject_digest: String,
    /// The candidate's key, sealed with the data key (hex).
    pub subject_sealed: String,
    pub match_probability: f64,
    /// The model's explanation (JSON): prior and per comparison its level and weight.
    pub explanation: serde_json::Value,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
}

fn review(r: &sqlx::any::AnyRow) -> Result<LinkReviewRow> {
    Ok(LinkReviewRow {
        id: get(r, "id")?,
        resource_code: get(r, "resource_code")?,
        record_key: get(r, "record_key")?,
        against_code: get(r, "against_code")?,
        subject_type: get(r, "subject_type")?,
        subject_digest: get(r, "subject_digest")?,
        subject_sealed: get(r, "subject_sealed")?,
        match_probability: get(r, "match_probability")?,
        explanation: crate::quality::json(r, "explanation")?,
        state: get(r, "state")?,
        decided_by: get(r, "decided_by")?,
        decided_at: get(r, "decided_at")?,
        created_at: get(r, "created_at")?,
    })
}

impl Store {
    /// Reviews in a state (`pending` first by probability, highest first), at most `limit`.
    pub async fn link_reviews(&self, state: &str, limit: i64) -> Result<Vec<LinkReviewRow>> {
        let rows = sqlx::query(
            "SELECT id, resource_code, record_key, against_code, subject_type, subject_digest,
                    subject_sealed, match_probability, explanation, state, decided_by,
                    decided_at, created_at
             FROM link_reviews WHERE state = $1
             ORDER BY match_probability DESC, resource_code, record_key LIMIT $2",
        )
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(review).collect()
    }

    pub async fn link_review(&self, id: &str) -> Result<Option<LinkReviewRow>> {
        let row = sqlx::query(
            "SELECT id, resource_code, record_key, against_code, subject_type, subject_digest,
                    subject_sealed, match_probability, explanation, state, decided_by,
                    decided_at, created_at
             FROM link_reviews WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(review).transpose()
    }

    /// How many reviews wait, per resource.
    pub async fn pending_review_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM link_reviews WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }
}

impl Tx {
    /// Replaces a resource's pending reviews with a model run's candidates; decided pairs stay
    /// as decided and are not queued again.
    pub async fn replace_pending_reviews(
        &mut self,
        resource_code: &str,
        reviews: &[LinkReviewRow],
    ) -> Result<()> {
        sqlx::query("DELETE FROM link_reviews WHERE resource_code = $1 AND state = 'pending'")
            .bind(resource_code)
            .execute(&mut *self.tx)
            .await?;
        for r in reviews {
            sqlx::query(
                "INSERT INTO link_reviews (id, resource_code, record_key, against_code,
                     subject_type, subject_digest, subject_sealed, match_probability,
                     explanation, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)
                 ON CONFLICT (resource_code, record_key, subject_digest) DO NOTHING",
            )
            .bind(&r.id)
            .bind(&r.resource_code)
            .bind(&r.record_key)
            .bind(&r.against_code)
            .bind(&r.subject_type)
            .bind(&r.subject_digest)
            .bind(&r.subject_sealed)
            .bind(r.match_probability)
            .bind(r.explanation.to_string())
            .bind(&r.created_at)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Records a reviewer's decision; an accepted pair becomes the record's link (replacing the
    /// model's), a rejected one removes any model link of that pair. `false` when the review
    /// was not pending (decided meanwhile).
    pub async fn decide_link_review(
        &mut self,
        id: &str,
        accept: bool,
        principal: &str,
    ) -> Result<bool> {
        let at = now();
        let state = if accept { "accepted" } else { "rejected" };
        let done = sqlx::query(
            "UPDATE link_reviews SET state = $1, decided_by = $2, decided_at = $3
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(state)
        .bind(principal)
        .bind(&at)
        .bind(id)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        let r = sqlx::query(
            "SELECT resource_code, record_key, subject_type, subject_digest, match_probability
             FROM link_reviews WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        let (code, key, kind, digest, p): (String, String, String, String, f64) = (
            get(&r, "resource_code")?,
            get(&r, "record_key")?,
            get(&r, "subject_type")?,
            get(&r, "subject_digest")?,
            get(&r, "match_probability")?,
        );
        if accept {
            sqlx::query("DELETE FROM record_links WHERE resource_code = $1 AND record_key = $2")
                .bind(&code)
                .bind(&key)
                .execute(&mut *self.tx)
                .await?;
            sqlx::query(
                "INSERT INTO record_links (resource_code, record_key, subject_type, subject_digest,
                     match_probability, decided_by, linked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&code)
            .bind(&key)
            .bind(&kind)
            .bind(&digest)
            .bind(p)
            .bind(principal)
            .bind(&at)
            .execute(&mut *self.tx)
            .await?;
        } else {
            sqlx::query(
                "DELETE FROM record_links WHERE resource_code = $1 AND record_key = $2
                   AND subject_digest = $3 AND decided_by = 'model'",
            )
            .bind(&code)
            .bind(&key)
            .bind(&digest)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(true)
    }
}
