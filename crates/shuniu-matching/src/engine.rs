//! `Matching`: evaluates a policy over its target's base library in the lake — one query,
//! vectorized — and records the evaluation as a use of personal data with the policy as its
//! purpose.

use std::time::Instant;

use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_lake::Lake;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::Sharing;
use shuniu_store::{ResourceRecord, Store};
use shuniu_types::{Actor, CreditCode, IdNumber};

use crate::error::{MatchingError, internal};
use crate::policy::{Join, Plan, PolicyInput, TargetKind, month_end};
use crate::rules::Attribute;
use crate::trace::{self, Subject, Trace};

/// The last day of a month given as `YYYY-MM`: the day an evaluation for it takes its
/// values at.
pub(crate) fn month_of(period: &str) -> Result<chrono::NaiveDate, MatchingError> {
    month_end(period).ok_or_else(|| {
        MatchingError::Fields(vec![shuniu_types::FieldError::new(
            "period",
            "POLICY_PERIOD",
            format!("“{period}”不是有效的月份（YYYY-MM）"),
            format!("{period:?} is not a month (YYYY-MM)"),
        )])
    })
}

/// Whether `actor` may read the libraries for a policy `department` issues (decided in
/// shuniu-policy: the department's data officer, or the hub).
pub(crate) fn may_read_for(actor: &Actor, department: &str) -> Result<(), MatchingError> {
    decide(actor, Action::ReadData, Target::PolicyOf { department }).map_err(MatchingError::Denied)
}

/// The audit entry of an evaluation's read of the library: a use of personal data with the
/// policy as its purpose.
fn evaluation_entry(
    actor: &Actor,
    rec: &ResourceRecord,
    policy: &PolicyInput,
    eligible: u64,
    detail: String,
) -> Entry {
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
    .detail(detail)
}

/// The version a query read of `code` (the lake lists them in code order).
pub(crate) fn version_of(versions: &[(String, i64)], code: &str) -> Option<i64> {
    versions.iter().find(|(c, _)| c == code).map(|(_, v)| *v)
}

/// The joins a plan read, each with the version the query read of it.
pub(crate) fn joined_versions(plan: &Plan, versions: &[(String, i64)]) -> Vec<(Join, i64)> {
    plan.joins
        .iter()
        .filter_map(|j| version_of(versions, &j.resource).map(|v| (j.clone(), v)))
        .collect()
}

/// The joined resources as an audit detail's tail: `; RES-1 v3`.
pub(crate) fn joined_detail(joined: &[(Join, i64)]) -> String {
    joined
        .iter()
        .map(|(j, v)| format!("; {} v{v}", j.resource))
        .collect()
}

/// One entry per resource a policy joined, so each providing department sees its data read
/// for the policy (the evaluation's own entry names the library).
pub(crate) fn join_entries(
    actor: &Actor,
    policy: &PolicyInput,
    joined: &[(Join, i64)],
    period: &str,
    subjects: &[String],
) -> Vec<Entry> {
    joined
        .iter()
        .map(|(j, v)| {
            Entry::by(
                Kind::Access,
                "policy.join",
                &actor.principal,
                &actor.department,
            )
            .resource(&j.resource, &j.provider)
            .target(policy.code.clone())
            .subjects(subjects.to_vec())
            .purpose(Some(format!("政策匹配 {} {}", policy.code, policy.name)))
            .detail(format!("{period} v{v}"))
        })
        .collect()
}

/// A target's base library as one department's policies see it (see [`Matching::library`]).
#[derive(Debug, Clone)]
pub struct Library {
    pub rec: ResourceRecord,
    /// The library's attributes, then those of the joinable resources.
    pub attributes: Vec<Attribute>,
    pub joins: Vec<Join>,
}

impl Library {
    pub fn plan(
        &self,
        policy: &PolicyInput,
        day: chrono::NaiveDate,
    ) -> Result<Plan, MatchingError> {
        Ok(policy.plan(&self.attributes, &self.joins, day)?)
    }
}

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
    pub(crate) store: Store,
    pub(crate) lake: Lake,
    pub(crate) audit: AuditLog,
    /// Checks notification addresses and tells their signing secrets.
    pub(crate) sharing: Sharing,
    /// One list write at a time in this process: a refresh following the library and one an
    /// officer asked for must not both add the same subjects.
    pub(crate) lists_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Matching {
    pub fn new(store: Store, lake: Lake, audit: AuditLog, sharing: Sharing) -> Matching {
        Matching {
            store,
            lake,
            audit,
            sharing,
            lists_lock: Default::default(),
        }
    }

    /// The base library a target is evaluated over, as a department's policies see it on
    /// `day`: the library's attributes, and those of every resource the department may join
    /// to it (its own, and those it holds a grant for — decided by the sharing engine), each
    /// labelled with its resource's name.
    pub async fn library(
        &self,
        target: TargetKind,
        department: &str,
        day: chrono::NaiveDate,
    ) -> Result<Library, MatchingError> {
        let (kind, key_type) = match target {
            TargetKind::Persons => ("population", shuniu_types::SemanticType::IdNumber),
            TargetKind::Enterprises => ("legal_entity", shuniu_types::SemanticType::CreditCode),
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
        let mut attributes = crate::vocabulary::attributes(&rec.spec.data_items, day);
        let mut joins = Vec::new();
        let (key, _) = trace::subject_items(&rec)?;
        for j in self
            .sharing
            .joinable_resources(department, key_type)
            .await
            .map_err(internal)?
        {
            if j.resource.code == rec.code {
                continue;
            }
            let (join, more) = crate::vocabulary::joined(&j, department, key, day);
            for a in more {
                if attributes.iter().all(|b| b.label != a.label) {
                    attributes.push(a);
                }
            }
            joins.push(join);
        }
        Ok(Library {
            rec,
            attributes,
            joins,
        })
    }

    /// Checks a policy against its target's attributes: every problem at once.
    pub async fn check(&self, policy: &PolicyInput) -> Result<(), MatchingError> {
        let lib = self
            .library(policy.target, &policy.department, policy.effective_from)
            .await?;
        policy.check(&lib.attributes).map_err(MatchingError::Fields)
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
        let day = month_of(period)?;
        let lib = self.library(policy.target, &policy.department, day).await?;
        let rec = &lib.rec;
        may_read_for(actor, &policy.department)?;
        policy
            .check(&lib.attributes)
            .map_err(MatchingError::Fields)?;
        let mut joined = Vec::new();
        let (eligible, amount, version) = if policy.in_force(day) {
            let plan = lib.plan(policy, day)?;
            let result = self
                .lake
                .sql(plan.tables(&rec.code), &plan.totals_sql(&rec.code), 1)
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
            let version = version_of(&result.versions, &rec.code);
            joined = joined_versions(&plan, &result.versions);
            (n, sum, version)
        } else {
            // Not in force that month: nobody qualifies, and no data is read.
            (0, 0.0, None)
        };
        if version.is_some() {
            let mut entries = join_entries(actor, policy, &joined, period, &[]);
            entries.push(evaluation_entry(
                actor,
                rec,
                policy,
                eligible,
                format!(
                    "{period} v{}{}",
                    version.unwrap_or_default(),
                    joined_detail(&joined)
                ),
            ));
            self.audit.record_all(entries).await.map_err(internal)?;
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

/// A policy in the list: what the API's `GET /api/v1/policies` returns.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    pub code: String,
    pub name: String,
    pub department: String,
    /// persons | enterprises
    pub target: String,
    /// The version in force (0: none published yet).
    pub version: i64,
    /// The state of the newest version (draft, submitted, published, returned).
    pub state: String,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn target_code(t: TargetKind) -> &'static str {
    match t {
        TargetKind::Persons => "persons",
        TargetKind::Enterprises => "enterprises",
    }
}

fn conflict(zh: &str, en: &str) -> MatchingError {
    MatchingError::State {
        zh: zh.to_string(),
        en: en.to_string(),
    }
}

impl Matching {
    async fn audit_admin(
        &self,
        actor: &Actor,
        action: &str,
        code: &str,
        detail: String,
    ) -> Result<(), MatchingError> {
        self.audit
            .record(
                Entry::by(Kind::Admin, action, &actor.principal, &actor.department)
                    .target(code.to_string())
                    .detail(detail),
            )
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Saves a definition as a draft version (a second save replaces the draft), after checking
    /// every field and rule against the target's library.
    pub async fn save(&self, actor: &Actor, policy: &PolicyInput) -> Result<i64, MatchingError> {
        decide(
            actor,
            Action::DefinePolicies,
            Target::SharingOf {
                department: &policy.department,
            },
        )
        .map_err(MatchingError::Denied)?;
        self.check(policy).await?;
        if !policy.notify.is_empty()
            && let Err(e) = self.sharing.check_notification_url(&policy.notify).await
        {
            let p = shuniu_types::Classified::problem(&e);
            return Err(MatchingError::Fields(vec![shuniu_types::FieldError::new(
                "notify",
                p.code,
                p.message_zh,
                p.message_en,
            )]));
        }
        let spec = serde_json::to_string(policy).map_err(internal)?;
        let now = now_text();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let existing = tx.policy(&policy.code).await.map_err(internal)?;
        if let Some(e) = &existing {
            decide(
                actor,
                Action::DefinePolicies,
                Target::SharingOf {
                    department: &e.department,
                },
            )
            .map_err(MatchingError::Denied)?;
        }
        let versions = tx.policy_versions(&policy.code).await.map_err(internal)?;
        if versions.first().is_some_and(|v| v.state == "submitted") {
            return Err(conflict(
                "该政策已有版本提交审核，请待审核后再修改",
                "a version of this policy is waiting for review: change it after the review",
            ));
        }
        let version = match versions.first() {
            Some(v) if v.state == "draft" || v.state == "returned" => v.version,
            Some(v) => v.version + 1,
            None => 1,
        };
        tx.put_policy_version(&shuniu_store::PolicyVersionRow {
            code: policy.code.clone(),
            version,
            spec,
            state: "draft".into(),
            author: actor.principal.clone(),
            created_at: now.clone(),
            reviewer: None,
            reviewed_at: None,
            comment: String::new(),
        })
        .await
        .map_err(internal)?;
        if existing.is_none() {
            tx.put_policy(&shuniu_store::PolicyRow {
                code: policy.code.clone(),
                name: policy.name.clone(),
                department: policy.department.clone(),
                target: target_code(policy.target).into(),
                version: 0,
                spec: String::new(),
                created_at: now.clone(),
                updated_at: now,
            })
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        self.audit_admin(actor, "policy.save", &policy.code, format!("v{version}"))
            .await?;
        Ok(version)
    }

    pub(crate) async fn row(&self, code: &str) -> Result<shuniu_store::PolicyRow, MatchingError> {
        self.store
            .policy(code)
            .await
            .map_err(internal)?
            .ok_or_else(|| MatchingError::NotFound(format!("policy {code}")))
    }

    /// Sends the draft (or returned) version for the hub's review.
    pub async fn submit(&self, actor: &Actor, code: &str) -> Result<i64, MatchingError> {
        let row = self.row(code).await?;
        decide(
            actor,
            Action::DefinePolicies,
            Target::SharingOf {
                department: &row.department,
            },
        )
        .map_err(MatchingError::Denied)?;
        let mut tx = self.store.begin().await.map_err(internal)?;
        let versions = tx.policy_versions(code).await.map_err(internal)?;
        let Some(mut v) = versions
            .into_iter()
            .next()
            .filter(|v| v.state == "draft" || v.state == "returned")
        else {
            return Err(conflict(
                "没有待提交的草稿版本",
                "there is no draft version to submit",
            ));
        };
        v.state = "submitted".into();
        tx.put_policy_version(&v).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.audit_admin(actor, "policy.submit", code, format!("v{}", v.version))
            .await?;
        Ok(v.version)
    }

    /// The hub publishes the submitted version (the one before it is superseded) or returns it
    /// with a reason.
    pub async fn review(
        &self,
        actor: &Actor,
        code: &str,
        publish: bool,
        comment: &str,
    ) -> Result<i64, MatchingError> {
        decide(actor, Action::ReviewPolicies, Target::Hub).map_err(MatchingError::Denied)?;
        let now = now_text();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let mut row = tx
            .policy(code)
            .await
            .map_err(internal)?
            .ok_or_else(|| MatchingError::NotFound(format!("policy {code}")))?;
        let versions = tx.policy_versions(code).await.map_err(internal)?;
        let Some(mut v) = versions.iter().find(|v| v.state == "submitted").cloned() else {
            return Err(conflict(
                "没有待审核的版本",
                "there is no version waiting for review",
            ));
        };
        v.reviewer = Some(actor.principal.clone());
        v.reviewed_at = Some(now.clone());
        v.comment = comment.to_string();
        if publish {
            for mut old in versions.into_iter().filter(|o| o.state == "published") {
                old.state = "superseded".into();
                tx.put_policy_version(&old).await.map_err(internal)?;
            }
            v.state = "published".into();
            let policy: PolicyInput = serde_json::from_str(&v.spec).map_err(internal)?;
            row.name = policy.name.clone();
            row.department = policy.department.clone();
            row.target = target_code(policy.target).into();
            row.version = v.version;
            row.spec = v.spec.clone();
            row.updated_at = now;
            tx.put_policy(&row).await.map_err(internal)?;
        } else {
            v.state = "returned".into();
        }
        tx.put_policy_version(&v).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let action = if publish {
            "policy.publish"
        } else {
            "policy.return"
        };
        self.audit_admin(actor, action, code, format!("v{} {comment}", v.version))
            .await?;
        if publish {
            // Everyone who qualifies this month, without anyone applying.
            self.list_on_publish(code, &row.department).await;
        }
        Ok(v.version)
    }

    /// Every policy with its version in force and the state of its newest version.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<PolicySummary>, MatchingError> {
        decide(actor, Action::ReadPolicies, Target::Hub).map_err(MatchingError::Denied)?;
        let mut out = Vec::new();
        for p in self.store.policies().await.map_err(internal)? {
            let state = self
                .store
                .policy_versions(&p.code)
                .await
                .map_err(internal)?
                .first()
                .map(|v| v.state.clone())
                .unwrap_or_default();
            out.push(PolicySummary {
                code: p.code,
                name: p.name,
                department: p.department,
                target: p.target,
                version: p.version,
                state,
            });
        }
        Ok(out)
    }

    /// The published version of a policy.
    pub async fn published(&self, actor: &Actor, code: &str) -> Result<PolicyInput, MatchingError> {
        Ok(self.published_version(actor, code).await?.0)
    }

    /// The published version of a policy and its number, from one read.
    async fn published_version(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<(PolicyInput, i64), MatchingError> {
        decide(actor, Action::ReadPolicies, Target::Hub).map_err(MatchingError::Denied)?;
        let row = self.row(code).await?;
        if row.version == 0 {
            return Err(conflict(
                "该政策尚未发布",
                "the policy is not published yet",
            ));
        }
        Ok((
            serde_json::from_str(&row.spec).map_err(internal)?,
            row.version,
        ))
    }

    /// The published version, for the issuing department (or the hub): who may evaluate it
    /// and see who qualifies.
    pub(crate) async fn published_for_owner(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<PolicyInput, MatchingError> {
        Ok(self.published_version_for_owner(actor, code).await?.0)
    }

    /// [`Matching::published_for_owner`], with the version's number.
    pub(crate) async fn published_version_for_owner(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<(PolicyInput, i64), MatchingError> {
        let (policy, version) = self.published_version(actor, code).await?;
        decide(
            actor,
            Action::DefinePolicies,
            Target::SharingOf {
                department: &policy.department,
            },
        )
        .map_err(MatchingError::Denied)?;
        Ok((policy, version))
    }

    /// Evaluates the published version of a stored policy for a month.
    pub async fn evaluate_published(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<Totals, MatchingError> {
        let policy = self.published_for_owner(actor, code).await?;
        self.evaluate(actor, &policy, period).await
    }
}

/// One subject that qualifies, as the issuing department sees it in a list: identified by the
/// library's key and name, masked by the catalog's masking rules for those items.
#[derive(Debug, Clone, Serialize)]
pub struct EligibleRow {
    pub key: String,
    pub name: Option<String>,
    pub amount: Option<f64>,
}

/// A page of who qualifies.
#[derive(Debug, Clone, Serialize)]
pub struct EligiblePage {
    pub policy: String,
    pub period: String,
    pub library: String,
    pub library_version: Option<i64>,
    pub rows: Vec<EligibleRow>,
}

impl Matching {
    /// Who qualifies for the published policy in a month, ordered by key, `limit` from
    /// `offset`; keys and names masked by the catalog's rules. Audited like an evaluation.
    pub async fn eligible(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
        offset: usize,
        limit: usize,
    ) -> Result<EligiblePage, MatchingError> {
        let policy = self.published_for_owner(actor, code).await?;
        let day = month_of(period)?;
        let lib = self.library(policy.target, &policy.department, day).await?;
        let rec = &lib.rec;
        let (key, name) = trace::subject_items(rec)?;
        let mut page = EligiblePage {
            policy: policy.code.clone(),
            period: period.to_string(),
            library: rec.code.clone(),
            library_version: None,
            rows: Vec::new(),
        };
        if !policy.in_force(day) {
            return Ok(page);
        }
        let plan = lib.plan(&policy, day)?;
        let quoted = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        let sql = format!(
            "SELECT CAST({key} AS VARCHAR) AS k, {name} AS n, CAST({amount} AS DOUBLE) AS a \
             FROM {table} WHERE {filter} ORDER BY k LIMIT {limit} OFFSET {offset}",
            key = quoted(&key.name),
            name = name.map_or("CAST(NULL AS VARCHAR)".to_string(), |i| format!(
                "CAST({} AS VARCHAR)",
                quoted(&i.name)
            )),
            amount = plan.amount.sql,
            table = plan.from(&rec.code),
            filter = plan.filter(),
            limit = limit.min(1000),
        );
        let result = self
            .lake
            .sql(plan.tables(&rec.code), &sql, limit.min(1000))
            .await
            .map_err(internal)?;
        page.library_version = version_of(&result.versions, &rec.code);
        let joined = joined_versions(&plan, &result.versions);
        let text = |a: &arrow::array::ArrayRef| -> Result<Vec<Option<String>>, MatchingError> {
            let t = arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).map_err(internal)?;
            let t = t
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .ok_or_else(|| internal("text column"))?;
            Ok((0..arrow::array::Array::len(t))
                .map(|k| (!arrow::array::Array::is_null(t, k)).then(|| t.value(k).to_string()))
                .collect())
        };
        for b in &result.batches {
            let (keys, names) = (text(b.column(0))?, text(b.column(1))?);
            let amounts = arrow::compute::cast(b.column(2), &arrow::datatypes::DataType::Float64)
                .map_err(internal)?;
            let amounts = amounts
                .as_any()
                .downcast_ref::<arrow::array::Float64Array>()
                .ok_or_else(|| internal("amount column"))?;
            for k in 0..b.num_rows() {
                let masked = |v: &Option<String>, rule| {
                    v.as_deref()
                        .and_then(|v| shuniu_policy::mask::apply(rule, v, &[]))
                };
                page.rows.push(EligibleRow {
                    key: masked(&keys[k], key.masking).unwrap_or_default(),
                    name: name.and_then(|i| masked(&names[k], i.masking)),
                    amount: (!arrow::array::Array::is_null(amounts, k)).then(|| amounts.value(k)),
                });
            }
        }
        if let Some(version) = page.library_version {
            let mut entries = join_entries(actor, &policy, &joined, period, &[]);
            entries.push(
                Entry::by(
                    Kind::Access,
                    "policy.eligible",
                    &actor.principal,
                    &actor.department,
                )
                .resource(&rec.code, &rec.spec.provider)
                .target(policy.code.clone())
                .rows(page.rows.len() as u64)
                .purpose(Some(format!("政策匹配 {} {}", policy.code, policy.name)))
                .detail(format!("{period} v{version}{}", joined_detail(&joined))),
            );
            self.audit.record_all(entries).await.map_err(internal)?;
        }
        Ok(page)
    }
}

impl Matching {
    /// One subject's trace for a policy and month: read with one query over the same plan the
    /// whole-library evaluation runs.
    async fn trace_of(
        &self,
        policy: &PolicyInput,
        lib: &Library,
        subject: &Subject,
        period: &str,
    ) -> Result<Trace, MatchingError> {
        let day = month_of(period)?;
        let rec = &lib.rec;
        if !policy.in_force(day) {
            return trace::assemble(policy, rec, None, None, None, &[], period);
        }
        let plan = lib.plan(policy, day)?;
        let q = trace::query(rec, &plan, &lib.attributes, subject)?;
        let result = self
            .lake
            .sql(plan.tables(&rec.code), &q.sql, 1)
            .await
            .map_err(internal)?;
        let rows = result.to_strings();
        let joined = joined_versions(&plan, &result.versions);
        let mut t = trace::assemble(
            policy,
            rec,
            Some(&plan),
            Some(&q),
            rows.first().map(Vec::as_slice),
            &joined,
            period,
        )?;
        t.library_version = version_of(&result.versions, &rec.code);
        t.joined = joined
            .iter()
            .map(|(j, v)| trace::JoinedResource {
                resource: j.resource.clone(),
                name: j.name.clone(),
                provider: j.provider.clone(),
                version: *v,
            })
            .collect();
        Ok(t)
    }

    /// Why `subject` does or does not qualify for the published policy in a month, for the
    /// issuing department (or the hub). Reading one person's data: audited with the person as
    /// its subject, so it shows on their own record.
    pub async fn trace(
        &self,
        actor: &Actor,
        code: &str,
        subject: &str,
        period: &str,
    ) -> Result<Trace, MatchingError> {
        let policy = self.published_for_owner(actor, code).await?;
        let subject = Subject::parse(policy.target, subject)?;
        may_read_for(actor, &policy.department)?;
        let library = self
            .library(policy.target, &policy.department, month_of(period)?)
            .await?;
        let trace = self.trace_of(&policy, &library, &subject, period).await?;
        let rec = &library.rec;
        if trace.library_version.is_some() {
            let subjects = vec![self.audit.subject(subject.as_str())];
            let joined: Vec<(Join, i64)> = trace
                .joined
                .iter()
                .filter_map(|t| {
                    let j = library.joins.iter().find(|j| j.resource == t.resource)?;
                    Some((j.clone(), t.version))
                })
                .collect();
            let mut entries = join_entries(actor, &policy, &joined, period, &subjects);
            entries.push(
                Entry::by(
                    Kind::Access,
                    "policy.trace",
                    &actor.principal,
                    &actor.department,
                )
                .resource(&rec.code, &rec.spec.provider)
                .target(policy.code.clone())
                .subjects(subjects)
                .rows(u64::from(trace.found))
                .purpose(Some(format!("政策匹配 {} {}", policy.code, policy.name)))
                .detail(period.to_string()),
            );
            self.audit.record_all(entries).await.map_err(internal)?;
        }
        Ok(trace)
    }

    /// Every published policy for persons in force in the month, with whether `person`
    /// qualifies and why: what the person's own page shows (你符合以下政策). The person reads
    /// their own data; the view is recorded on their record like their other views.
    pub async fn for_person(
        &self,
        person: &IdNumber,
        period: &str,
    ) -> Result<Vec<Trace>, MatchingError> {
        self.for_subject(&Subject::Person(person.clone()), period)
            .await
    }

    /// Every published policy for enterprises in force in the month, with whether `enterprise`
    /// qualifies and why: what the enterprise's own page shows (惠企通), as
    /// [`Matching::for_person`] for a person.
    pub async fn for_enterprise(
        &self,
        enterprise: &CreditCode,
        period: &str,
    ) -> Result<Vec<Trace>, MatchingError> {
        self.for_subject(&Subject::Enterprise(enterprise.clone()), period)
            .await
    }

    async fn for_subject(
        &self,
        subject: &Subject,
        period: &str,
    ) -> Result<Vec<Trace>, MatchingError> {
        let day = month_of(period)?;
        let (target, viewer, view) = match subject {
            Subject::Person(_) => (TargetKind::Persons, "citizen", "citizen.view_own_policies"),
            Subject::Enterprise(_) => (
                TargetKind::Enterprises,
                "enterprise",
                "enterprise.view_own_policies",
            ),
        };
        let mut out = Vec::new();
        // The library as each department sees it, resolved once per department.
        let mut libraries: std::collections::BTreeMap<String, Library> = Default::default();
        for row in self.store.policies().await.map_err(internal)? {
            if row.version == 0 || row.target != target_code(target) {
                continue;
            }
            let policy: PolicyInput = serde_json::from_str(&row.spec).map_err(internal)?;
            if !policy.in_force(day) {
                continue;
            }
            if !libraries.contains_key(&policy.department) {
                let lib = self.library(target, &policy.department, day).await?;
                libraries.insert(policy.department.clone(), lib);
            }
            let Some(library) = libraries.get(&policy.department) else {
                continue;
            };
            out.push(self.trace_of(&policy, library, subject, period).await?);
        }
        if let Some(rec) = libraries.values().next().map(|l| &l.rec) {
            let (code, provider) = (&rec.code, &rec.spec.provider);
            self.audit
                .record(
                    Entry::by(Kind::Access, view, viewer, "")
                        .channel("console")
                        .resource(code, provider)
                        .subjects(vec![self.audit.subject(subject.as_str())])
                        .rows(out.len() as u64)
                        .detail(period.to_string()),
                )
                .await
                .map_err(internal)?;
        }
        // The ones that apply first, then by name.
        out.sort_by(|a, b| b.eligible.cmp(&a.eligible).then(a.name.cmp(&b.name)));
        Ok(out)
    }
}

/// What a sandbox run found: the policy as written and as it would be with the parameters
/// changed, for the same month over the same library.
#[derive(Debug, Clone, Serialize)]
pub struct Sandbox {
    pub policy: String,
    /// The version tried (the newest: a draft can be tried before it is submitted).
    pub version: i64,
    pub period: String,
    pub baseline: Totals,
    pub changed: Totals,
    /// The values tried, by parameter name.
    pub parameters: Vec<(String, crate::parameters::ParamValue)>,
}

impl Matching {
    /// A what-if run (沙盘推演): how many would qualify and the total amount if parameters had
    /// other values in the month — over the newest version, for its department, before anything
    /// is published. Both runs read the library and are audited like an evaluation.
    pub async fn sandbox(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
        changes: &[(String, crate::parameters::ParamValue)],
    ) -> Result<Sandbox, MatchingError> {
        let row = self.row(code).await?;
        decide(
            actor,
            Action::DefinePolicies,
            Target::SharingOf {
                department: &row.department,
            },
        )
        .map_err(MatchingError::Denied)?;
        let newest = self
            .store
            .policy_versions(code)
            .await
            .map_err(internal)?
            .into_iter()
            .next()
            .ok_or_else(|| MatchingError::NotFound(format!("policy {code}")))?;
        let policy: PolicyInput = serde_json::from_str(&newest.spec).map_err(internal)?;
        let day = month_of(period)?;
        let mut tried = policy.clone();
        let mut problems = Vec::new();
        for (i, (name, value)) in changes.iter().enumerate() {
            let Some(p) = tried.parameters.iter_mut().find(|p| &p.name == name) else {
                problems.push(shuniu_types::FieldError::new(
                    format!("parameters[{i}]"),
                    "RULE_UNKNOWN_PARAMETER",
                    format!("政策没有参数“{name}”"),
                    format!("the policy has no parameter {name:?}"),
                ));
                continue;
            };
            p.values.retain(|v| v.from != day);
            p.values.push(crate::parameters::DatedValue {
                from: day,
                value: value.clone(),
                reference: "试算（未生效） / sandbox (not in force)".into(),
            });
        }
        if !problems.is_empty() {
            return Err(MatchingError::Fields(problems));
        }
        let baseline = self.evaluate(actor, &policy, period).await?;
        let changed = self.evaluate(actor, &tried, period).await?;
        Ok(Sandbox {
            policy: code.to_string(),
            version: newest.version,
            period: period.to_string(),
            baseline,
            changed,
            parameters: changes.to_vec(),
        })
    }
}

/// A policy as its page shows it: the version in force, the newest version (a draft being
/// written, or one waiting for review) and every version's review.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDetail {
    pub code: String,
    pub name: String,
    pub department: String,
    pub target: String,
    pub version: i64,
    /// The version in force.
    pub published: Option<PolicyInput>,
    /// The newest version, when it is not the one in force.
    pub newest: Option<PolicyInput>,
    pub versions: Vec<shuniu_store::PolicyVersionRow>,
}

impl Matching {
    /// A policy with its versions (every official may read policies).
    pub async fn detail(&self, actor: &Actor, code: &str) -> Result<PolicyDetail, MatchingError> {
        decide(actor, Action::ReadPolicies, Target::Hub).map_err(MatchingError::Denied)?;
        let row = self.row(code).await?;
        let versions = self.store.policy_versions(code).await.map_err(internal)?;
        let published = if row.version > 0 {
            Some(serde_json::from_str(&row.spec).map_err(internal)?)
        } else {
            None
        };
        let newest = match versions.first() {
            Some(v) if v.version != row.version => {
                Some(serde_json::from_str(&v.spec).map_err(internal)?)
            }
            _ => None,
        };
        Ok(PolicyDetail {
            code: row.code,
            name: row.name,
            department: row.department,
            target: row.target,
            version: row.version,
            published,
            newest,
            versions,
        })
    }
}

impl Matching {
    /// Evaluates every published policy for a month, each target's policies together in one
    /// pass over its library (one query computing every policy's count and total side by
    /// side): the monthly run reads each library once, not once per policy. Each policy's
    /// evaluation is audited as [`Matching::evaluate`] audits it.
    pub async fn evaluate_all(
        &self,
        actor: &Actor,
        period: &str,
    ) -> Result<Vec<Totals>, MatchingError> {
        decide(actor, Action::ReadPolicies, Target::Hub).map_err(MatchingError::Denied)?;
        let day = month_of(period)?;
        let mut by_target: Vec<(TargetKind, Vec<PolicyInput>)> = Vec::new();
        for row in self.store.policies().await.map_err(internal)? {
            if row.version == 0 {
                continue;
            }
            let policy: PolicyInput = serde_json::from_str(&row.spec).map_err(internal)?;
            may_read_for(actor, &policy.department)?;
            match by_target.iter_mut().find(|(t, _)| *t == policy.target) {
                Some((_, list)) => list.push(policy),
                None => by_target.push((policy.target, vec![policy])),
            }
        }
        let mut out = Vec::new();
        let mut entries = Vec::new();
        for (target, policies) in by_target {
            let started = Instant::now();
            let mut libraries: std::collections::BTreeMap<String, Library> = Default::default();
            let mut columns = Vec::new();
            let mut in_force = Vec::new();
            let mut joins: Vec<Join> = Vec::new();
            // What each policy in force joins, in `in_force`'s order.
            let mut read_by: Vec<Vec<Join>> = Vec::new();
            for p in &policies {
                if !libraries.contains_key(&p.department) {
                    let lib = self.library(target, &p.department, day).await?;
                    libraries.insert(p.department.clone(), lib);
                }
                if !p.in_force(day) {
                    continue;
                }
                let Some(lib) = libraries.get(&p.department) else {
                    continue;
                };
                let plan = lib.plan(p, day)?;
                joins.extend(plan.joins.iter().cloned());
                read_by.push(plan.joins.clone());
                let i = in_force.len();
                columns.push(format!(
                    "SUM(CASE WHEN {f} THEN 1 ELSE 0 END) AS n{i}, \
                     SUM(CASE WHEN {f} THEN CAST({a} AS DOUBLE) END) AS s{i}",
                    f = plan.filter(),
                    a = plan.amount.sql,
                ));
                in_force.push(p);
            }
            let Some(rec) = libraries.values().next().map(|l| l.rec.clone()) else {
                continue;
            };
            let mut found: Vec<(u64, f64)> = vec![(0, 0.0); in_force.len()];
            let mut version = None;
            let mut versions = Vec::new();
            if !columns.is_empty() {
                let sql = format!(
                    "SELECT {} FROM {}",
                    columns.join(", "),
                    crate::policy::from_with(&rec.code, &joins)
                );
                let mut tables = vec![rec.code.clone()];
                for j in &joins {
                    if !tables.contains(&j.resource) {
                        tables.push(j.resource.clone());
                    }
                }
                let result = self.lake.sql(tables, &sql, 1).await.map_err(internal)?;
                version = version_of(&result.versions, &rec.code);
                versions = result.versions.clone();
                if let Some(row) = result.to_strings().first() {
                    for (i, f) in found.iter_mut().enumerate() {
                        let n = row.get(2 * i).cloned().flatten();
                        let s = row.get(2 * i + 1).cloned().flatten();
                        *f = (
                            n.and_then(|n| n.parse().ok()).unwrap_or(0),
                            s.and_then(|s| s.parse().ok()).unwrap_or(0.0),
                        );
                    }
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            for p in &policies {
                let position = in_force.iter().position(|q| q.code == p.code);
                let (eligible, amount, library_version) = match position {
                    Some(i) => (found[i].0, found[i].1, version),
                    None => (0, 0.0, None),
                };
                if let (Some(v), Some(i)) = (library_version, position) {
                    let read: Vec<(Join, i64)> = read_by[i]
                        .iter()
                        .filter_map(|j| version_of(&versions, &j.resource).map(|v| (j.clone(), v)))
                        .collect();
                    entries.extend(join_entries(actor, p, &read, period, &[]));
                    entries.push(evaluation_entry(
                        actor,
                        &rec,
                        p,
                        eligible,
                        format!("{period} v{v}{}", joined_detail(&read)),
                    ));
                }
                out.push(Totals {
                    policy: p.code.clone(),
                    period: period.to_string(),
                    eligible,
                    amount,
                    library: rec.code.clone(),
                    library_version,
                    seconds,
                });
            }
        }
        if !entries.is_empty() {
            self.audit.record_all(entries).await.map_err(internal)?;
        }
        out.sort_by(|a, b| a.policy.cmp(&b.policy));
        Ok(out)
    }
}
