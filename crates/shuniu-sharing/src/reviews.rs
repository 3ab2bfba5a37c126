//! The review queue of record linkage (人工复核): pairs the linkage model found likely but not
//! certain wait for a hub officer, who sees the record and the candidate's own record side by
//! side with the model's explanation, and accepts or rejects the pair. Decisions are kept: an
//! accepted pair joins the person's profile as a link decided by the reviewer; a rejected pair
//! is never linked or queued again by a later model run.

use serde::Serialize;
use shuniu_audit::{Entry, Kind};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::LinkReviewRow;
use shuniu_types::catalog::DataItem;
use shuniu_types::{Actor, SemanticType};

use crate::profiles::Subject;
use crate::{Result, Sharing, SharingError};

/// The sealing label of a candidate's key in the queue.
const SEAL_LABEL: &str = "link_review.subject";

/// A pair for the queue, from a linkage run.
#[derive(Debug, Clone)]
pub struct ReviewCandidate {
    pub record_key: String,
    pub subject: Subject,
    pub match_probability: f64,
    /// The model's explanation: prior and, per comparison, level and weight.
    pub explanation: serde_json::Value,
}

/// One field of a record as the reviewer sees it (personal numbers masked).
#[derive(Debug, Clone, Serialize)]
pub struct ReviewField {
    pub name: String,
    pub label: String,
    pub value: Option<String>,
}

/// A pair as the reviewer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReviewView {
    pub id: String,
    pub resource_code: String,
    pub resource_name: String,
    pub record_key: String,
    pub record: Vec<ReviewField>,
    pub against_code: String,
    pub against_name: String,
    pub candidate: Vec<ReviewField>,
    pub match_probability: f64,
    pub explanation: serde_json::Value,
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

impl Sharing {
    /// Replaces a keyless resource's pending reviews with a linkage run's uncertain pairs
    /// (the hub); decided pairs, and pairs whose record or candidate is not in the current
    /// data, are not queued. Audited.
    pub async fn queue_link_reviews(
        &self,
        actor: &Actor,
        code: &str,
        against: &str,
        candidates: &[ReviewCandidate],
    ) -> Result<usize> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        let rec = self.inner.directory.resource(code).await?;
        let against = self.inner.directory.resource(against).await?;
        let mut sealer = self
            .inner
            .cells
            .sealer()
            .map_err(|e| SharingError::Index(e.to_string()))?;
        let now = shuniu_store::now();
        // Only pairs both of whose records are in the current data (a linkage run may have
        // read rows a load then rejected), as the serving indexes hold it now.
        self.sync_index(&rec.code).await?;
        self.sync_index(&against.code).await?;
        let held = |code: &str, keys: Vec<&str>| -> Result<std::collections::HashSet<String>> {
            let idx = self.index(code)?;
            let mut found = std::collections::HashSet::new();
            idx.lookup_many(keys.into_iter(), |k, row| {
                if row.is_some() {
                    found.insert(k.to_string());
                }
                Ok(())
            })?;
            Ok(found)
        };
        let records = held(
            &rec.code,
            candidates.iter().map(|c| c.record_key.as_str()).collect(),
        )?;
        let people = held(
            &against.code,
            candidates.iter().map(|c| c.subject.key()).collect(),
        )?;
        let mut rows = Vec::with_capacity(candidates.len());
        for c in candidates
            .iter()
            .filter(|c| records.contains(&c.record_key) && people.contains(c.subject.key()))
        {
            let sealed = sealer
                .seal(SEAL_LABEL, c.subject.key().as_bytes())
                .map_err(|e| SharingError::Index(e.to_string()))?;
            rows.push(LinkReviewRow {
                id: crate::workflow::new_id("LR"),
                resource_code: rec.code.clone(),
                record_key: c.record_key.clone(),
                against_code: against.code.clone(),
                subject_type: c.subject.kind().to_string(),
                subject_digest: self.link_digest(&c.subject),
                subject_sealed: hex::encode(sealed),
                match_probability: c.match_probability,
                explanation: c.explanation.clone(),
                state: "pending".into(),
                decided_by: None,
                decided_at: None,
                created_at: now.clone(),
            });
        }
        let mut tx = self.inner.store.begin().await?;
        tx.replace_pending_reviews(&rec.code, &rows).await?;
        tx.commit().await?;
        self.inner
            .audit
            .record(
                Entry::new(Kind::Admin, "linkage.review.queue", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(&against.code)
                    .rows(rows.len() as u64),
            )
            .await?;
        Ok(rows.len())
    }

    /// The queue (`pending`) or the decided pairs (`accepted`, `rejected`), with both records
    /// (personal numbers masked). Showing them is a use of personal data: audited per pair.
    pub async fn link_reviews(
        &self,
        actor: &Actor,
        state: &str,
        limit: usize,
    ) -> Result<Vec<LinkReviewView>> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        if !matches!(state, "pending" | "accepted" | "rejected") {
            return Err(SharingError::invalid(
                "LINK_REVIEW_STATE",
                "复核状态只能是 pending、accepted 或 rejected",
                "state is pending, accepted or rejected",
            ));
        }
        let rows = self
            .inner
            .store
            .link_reviews(state, limit.clamp(1, 500) as i64)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.review_view(actor, r).await?);
        }
        Ok(out)
    }

    /// How many pairs wait for review.
    pub async fn pending_link_reviews(&self, actor: &Actor) -> Result<i64> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        Ok(self.inner.store.pending_review_count().await?)
    }

    async fn review_view(&self, actor: &Actor, r: LinkReviewRow) -> Result<LinkReviewView> {
        let rec = self.inner.directory.resource(&r.resource_code).await?;
        let against = self.inner.directory.resource(&r.against_code).await?;
        let key = hex::decode(&r.subject_sealed)
            .ok()
            .and_then(|b| self.inner.cells.open(SEAL_LABEL, &b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| SharingError::Index("a review's candidate does not open".into()))?;
        let record = self.review_fields(&rec.code, &rec.spec.data_items, &r.record_key)?;
        let candidate = self.review_fields(&against.code, &against.spec.data_items, &key)?;
        self.inner
            .audit
            .record(
                Entry::new(Kind::Access, "linkage.review.view", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(&r.id)
                    .subjects(vec![r.subject_digest.clone()])
                    .rows(1),
            )
            .await?;
        Ok(LinkReviewView {
            id: r.id,
            resource_code: rec.code.clone(),
            resource_name: rec.spec.name.clone(),
            record_key: r.record_key,
            record,
            against_code: against.code.clone(),
            against_name: against.spec.name.clone(),
            candidate,
            match_probability: r.match_probability,
            explanation: r.explanation,
            state: r.state,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
        })
    }

    /// A record's fields from its resource's serving index, ID and phone numbers and other
    /// sensitive items masked by their rule.
    fn review_fields(&self, code: &str, items: &[DataItem], key: &str) -> Result<Vec<ReviewField>> {
        let idx = self.index(code)?;
        let (_, layout) = idx.current()?;
        let Some(layout) = layout else {
            return Ok(Vec::new());
        };
        let mut found = None;
        idx.lookup_many(std::iter::once(key), |_, row| {
            found = row;
            Ok(())
        })?;
        let Some(row) = found else {
            return Ok(Vec::new());
        };
        Ok(layout
            .columns
            .iter()
            .zip(row)
            .filter_map(|(name, value)| {
                let item = items.iter().find(|i| &i.name == name)?;
                let masked = item.sensitive
                    || matches!(
                        item.semantic_type,
                        SemanticType::IdNumber | SemanticType::Mobile
                    );
                let value = match (value, masked) {
                    (Some(v), true) => {
                        shuniu_policy::mask::apply(item.masking, &v, &self.inner.masking_key)
                    }
                    (v, _) => v,
                };
                Some(ReviewField {
                    name: name.clone(),
                    label: item.label.clone(),
                    value,
                })
            })
            .collect())
    }

    /// A reviewer's decision on a pending pair. Audited.
    pub async fn decide_link_review(&self, actor: &Actor, id: &str, accept: bool) -> Result<()> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        let r = self
            .inner
            .store
            .link_review(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("link review {id}")))?;
        let mut tx = self.inner.store.begin().await?;
        if !tx.decide_link_review(id, accept, &actor.principal).await? {
            return Err(SharingError::state(
                "该配对已由他人复核",
                "the pair has already been decided",
            ));
        }
        tx.commit().await?;
        let rec = self.inner.directory.resource(&r.resource_code).await?;
        self.inner
            .audit
            .record(
                Entry::new(Kind::Admin, "linkage.review.decide", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(id)
                    .subjects(vec![r.subject_digest])
                    .detail(if accept { "accepted" } else { "rejected" }),
            )
            .await?;
        Ok(())
    }
}
