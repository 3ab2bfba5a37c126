//! `Matching`: evaluates a policy over its target's base library in the lake — one query,
//! vectorized — and records the evaluation as a use of personal data with the policy as its
//! purpose.

use std::time::Instant;

use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_lake::Lake;
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{ResourceRecord, Store};
use shuniu_types::Actor;

use crate::error::{MatchingError, internal};
use crate::policy::{PolicyInput, TargetKind, month_end};
use crate::rules::Attribute;

/// What an evaluation found for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub policy: String,
    pub period: String,
    /// How many qualify.
    pub eligible: u64,
    /// Their amounts added up (in the policy's unit).
    pub amount: f64,
    /// The library read, and its version.
    pub library: String,
    pub library_version: Option<i64>,
    pub seconds: f64,
}

/// The matching engine.
#[derive(Clone)]
pub struct Matching {
    store: Store,
    lake: Lake,
    audit: AuditLog,
}

impl Matching {
    pub fn new(store: Store, lake: Lake, audit: AuditLog) -> Matching {
        Matching { store, lake, audit }
    }

    /// The base library a target is evaluated over, and the attributes it offers on `day`.
    pub async fn library(
        &self,
        target: TargetKind,
        day: chrono::NaiveDate,
    ) -> Result<(ResourceRecord, Vec<Attribute>), MatchingError> {
        let kind = match target {
            TargetKind::Persons => "population",
            TargetKind::Enterprises => "legal_entity",
        };
        let bound = self.store.base_libraries().await.map_err(internal)?;
        let Some(lib) = bound.iter().find(|l| l.kind == kind) else {
            return Err(MatchingError::NotFound(format!("base library ({kind})")));
        };
        let rec = self
            .store
            .resource(&lib.code)
            .await
            .map_err(internal)?
            .ok_or_else(|| MatchingError::NotFound(format!("resource {}", lib.code)))?;
        let attributes = crate::vocabulary::attributes(&rec.spec.data_items, day);
        Ok((rec, attributes))
    }

    /// Checks a policy against its target's attributes: every problem at once.
    pub async fn check(&self, policy: &PolicyInput) -> Result<(), MatchingError> {
        let (_, attributes) = self.library(policy.target, policy.effective_from).await?;
        policy.check(&attributes).map_err(MatchingError::Fields)
    }

    /// Evaluates a policy for a month (`YYYY-MM`): how many qualify and the total amount, from
    /// one query over the library. Reading the library is a use of personal data: audited, with
    /// the policy as its purpose.
    pub async fn evaluate(
        &self,
        actor: &Actor,
        policy: &PolicyInput,
        period: &str,
    ) -> Result<Totals, MatchingError> {
        let started = Instant::now();
        let day = month_end(period).ok_or_else(|| {
            MatchingError::Fields(vec![shuniu_types::FieldError::new(
                "period",
                "POLICY_PERIOD",
                format!("“{period}”不是有效的月份（YYYY-MM）"),
                format!("{period:?} is not a month (YYYY-MM)"),
            )])
        })?;
        let (rec, attributes) = self.library(policy.target, day).await?;
        decide(
            actor,
            Action::ReadData,
            Target::Resource {
                provider: &rec.spec.provider,
                status: rec.status,
            },
        )
        .map_err(MatchingError::Denied)?;
        policy.check(&attributes).map_err(MatchingError::Fields)?;
        let (eligible, amount, version) = if policy.in_force(day) {
            let plan = policy.plan(&attributes, day)?;
            let result = self
                .lake
                .sql(vec![rec.code.clone()], &plan.totals_sql(&rec.code), 1)
                .await
                .map_err(internal)?;
            let batch = result
                .batches
                .first()
                .ok_or_else(|| internal("no totals row"))?;
            let n = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Int64)
                .map_err(internal)?;
            let n = n
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map_or(0, |a| a.value(0).max(0) as u64);
            let sum = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Float64)
                .map_err(internal)?;
            let sum = sum
                .as_any()
                .downcast_ref::<arrow::array::Float64Array>()
                .map_or(0.0, |a| {
                    if arrow::array::Array::is_null(a, 0) {
                        0.0
                    } else {
                        a.value(0)
                    }
                });
            let version = result.versions.first().map(|v| v.1);
            (n, sum, version)
        } else {
            // Not in force that month: nobody qualifies, and no data is read.
            (0, 0.0, None)
        };
        if version.is_some() {
            self.audit
                .record(
                    Entry::by(
                        Kind::Access,
                        "policy.evaluate",
                        &actor.principal,
                        &actor.department,
                    )
                    .resource(&rec.code, &rec.spec.provider)
                    .target(policy.code.clone())
                    .rows(eligible)
                    .purpose(Some(format!("政策匹配 {} {}", policy.code, policy.name)))
                    .detail(format!("{period} v{}", version.unwrap_or_default())),
                )
                .await
                .map_err(internal)?;
        }
        Ok(Totals {
            policy: policy.code.clone(),
            period: period.to_string(),
            eligible,
            amount,
            library: rec.code.clone(),
            library_version: version,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
