//! Eligible lists (免申即享名单): who qualifies for a policy in a month, kept so the issuing
//! department can review it, confirm it, export payment instructions and record payment.
//!
//! A list is computed from one version of the library and remembers it. While it is not yet
//! confirmed it follows the library: a refresh re-evaluates only the subjects whose rows
//! changed since (the Delta files added and removed between the two versions), and keeps
//! everyone else's entry as it was. Confirming freezes it, and is refused while the library
//! has moved on since the list was computed, so what is confirmed is what was reviewed.
//! Entries are keyed by the subject's keyed digest (the audit log's subject form); the ID
//! numbers themselves are read again from the library, at the list's version, only for the
//! payment file and the notifications — by the issuing department's own officers.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, Float64Array, StringArray};
use futures::StreamExt;
use serde::Serialize;
use shuniu_audit::{Entry, Kind};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{PaymentCounts, PolicyListEntryRow, PolicyListRow, ResourceRecord};
use shuniu_types::Actor;

use crate::engine::{Matching, month_of};
use crate::error::{MatchingError, internal};
use crate::policy::{Plan, PolicyInput};
use crate::trace::subject_items;

/// Subjects per audit entry (each entry names its subjects, so each person sees the use on
/// their own record) and per notification call.
const CHUNK: usize = 1000;
const NOTIFY_CHUNK: usize = 500;

/// A list with how its payments stand.
#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    #[serde(flatten)]
    pub list: PolicyListRow,
    pub payments: PaymentCounts,
    /// Whether the library has moved on since the list was computed.
    pub stale: bool,
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct Refresh {
    pub policy: String,
    pub period: String,
    pub from_version: i64,
    pub to_version: i64,
    /// Subjects whose rows changed and were evaluated again.
    pub reevaluated: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

/// One line of a payment file (支付清单).
#[derive(Debug, Clone, Serialize)]
pub struct PaymentLine {
    pub key: String,
    pub name: Option<String>,
    pub amount: Option<f64>,
    pub subject: String,
    pub payment: String,
}

/// A payment's outcome as the payer reports it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PaymentOutcome {
    /// The subject reference from the payment file.
    pub subject: String,
    /// paid | failed
    pub state: String,
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub note: String,
}

/// One subject read from the library for a list: its key and name as read, and its amount.
struct Found {
    key: String,
    name: Option<String>,
    amount: Option<f64>,
}

fn quoted(n: &str) -> String {
    format!("\"{}\"", n.replace('"', "\"\""))
}

fn conflict(zh: &str, en: &str) -> MatchingError {
    MatchingError::State {
        zh: zh.to_string(),
        en: en.to_string(),
    }
}

/// The issuing department's own data officer confirms, exports and pays (decided in
/// shuniu-policy).
fn may_pay(actor: &Actor, department: &str) -> Result<(), MatchingError> {
    decide(actor, Action::PayBenefits, Target::SharingOf { department })
        .map_err(MatchingError::Denied)
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The list's query: every qualifying subject's key, name and amount over `table` (the library,
/// or the library at a version: `code@v`), optionally only the subjects in `only` (keys).
fn list_sql(rec: &ResourceRecord, plan: &Plan, table: &str) -> Result<String, MatchingError> {
    let (key, name) = subject_items(rec)?;
    Ok(format!(
        "SELECT CAST({k} AS VARCHAR) AS k, {n} AS n, CAST({a} AS DOUBLE) AS a FROM {t} WHERE {f}",
        k = quoted(&key.name),
        n = name.map_or("CAST(NULL AS VARCHAR)".to_string(), |i| format!(
            "CAST({} AS VARCHAR)",
            quoted(&i.name)
        )),
        a = plan.amount.sql,
        t = plan.from(table),
        f = plan.filter(),
    ))
}

/// Every subject of `table` (the library at a version) with its key and name, no condition.
fn keys_sql(rec: &ResourceRecord, table: &str) -> Result<String, MatchingError> {
    let (key, name) = subject_items(rec)?;
    Ok(format!(
        "SELECT CAST({k} AS VARCHAR) AS k, {n} AS n, CAST(NULL AS DOUBLE) AS a FROM {t} ORDER BY k",
        k = quoted(&key.name),
        n = name.map_or("CAST(NULL AS VARCHAR)".to_string(), |i| format!(
            "CAST({} AS VARCHAR)",
            quoted(&i.name)
        )),
        t = quoted(table),
    ))
}

impl Matching {
    /// Streams the subjects a list query finds.
    async fn found(
        &self,
        tables: Vec<String>,
        sql: &str,
        mut each: impl FnMut(Found),
    ) -> Result<(), MatchingError> {
        let (_, mut stream) = self.lake.sql_stream(tables, sql).await.map_err(internal)?;
        while let Some(batch) = stream.next().await {
            let b = batch.map_err(internal)?;
            let text = |i: usize| -> Result<StringArray, MatchingError> {
                let t = arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)
                    .map_err(internal)?;
                t.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| internal("text column"))
            };
            let (keys, names) = (text(0)?, text(1)?);
            let amounts = arrow::compute::cast(b.column(2), &arrow::datatypes::DataType::Float64)
                .map_err(internal)?;
            let amounts = amounts
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| internal("amount column"))?;
            for r in 0..b.num_rows() {
                if keys.is_null(r) {
                    continue;
                }
                each(Found {
                    key: keys.value(r).to_string(),
                    name: (!names.is_null(r)).then(|| names.value(r).to_string()),
                    amount: (!amounts.is_null(r)).then(|| amounts.value(r)),
                });
            }
        }
        Ok(())
    }

    fn entry(&self, rec: &ResourceRecord, f: &Found) -> Result<PolicyListEntryRow, MatchingError> {
        let (key, name) = subject_items(rec)?;
        Ok(PolicyListEntryRow {
            subject: self.audit.subject(&f.key),
            key_masked: shuniu_policy::mask::apply(key.masking, &f.key, &[]).unwrap_or_default(),
            name_masked: name.and_then(|i| {
                f.name
                    .as_deref()
                    .and_then(|n| shuniu_policy::mask::apply(i.masking, n, &[]))
            }),
            amount: f.amount,
            payment: "pending".into(),
            payment_ref: String::new(),
            payment_note: String::new(),
            paid_at: None,
        })
    }

    /// Records a use of the subjects' data, their digests named CHUNK at a time.
    async fn audit_subjects(
        &self,
        actor: &Actor,
        action: &str,
        rec: &ResourceRecord,
        policy: &PolicyInput,
        subjects: &[String],
        detail: String,
    ) -> Result<(), MatchingError> {
        let purpose = format!("政策匹配 {} {}", policy.code, policy.name);
        let mut entries: Vec<Entry> = subjects
            .chunks(CHUNK)
            .map(|c| {
                Entry::by(Kind::Access, action, &actor.principal, &actor.department)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(policy.code.clone())
                    .subjects(c.to_vec())
                    .rows(c.len() as u64)
                    .purpose(Some(purpose.clone()))
                    .detail(detail.clone())
            })
            .collect();
        if entries.is_empty() {
            entries.push(
                Entry::by(Kind::Access, action, &actor.principal, &actor.department)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(policy.code.clone())
                    .rows(0)
                    .purpose(Some(purpose))
                    .detail(detail),
            );
        }
        self.audit.record_all(entries).await.map_err(internal)?;
        Ok(())
    }

    /// The policy published, for its department, with its library and plan for the month.
    async fn prepared(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<(PolicyInput, i64, ResourceRecord, Option<Plan>), MatchingError> {
        let (policy, version) = self.published_version_for_owner(actor, code).await?;
        let day = month_of(period)?;
        let lib = self.library(policy.target, &policy.department, day).await?;
        crate::engine::may_read_for(actor, &policy.department)?;
        let plan = if policy.in_force(day) {
            Some(lib.plan(&policy, day)?)
        } else {
            None
        };
        Ok((policy, version, lib.rec, plan))
    }

    async fn current_version(&self, library: &str) -> Result<i64, MatchingError> {
        Ok(self
            .lake
            .version(library)
            .await
            .map_err(internal)?
            .unwrap_or(-1))
    }

    /// Computes the list for a month over the whole library (replacing an unconfirmed one):
    /// everyone who qualifies, with their amounts. Audited with every subject named.
    pub async fn compute_list(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<ListView, MatchingError> {
        let _writing = self.lists_lock.lock().await;
        self.compute_list_locked(actor, code, period).await
    }

    async fn compute_list_locked(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<ListView, MatchingError> {
        let (policy, version, rec, plan) = self.prepared(actor, code, period).await?;
        if let Some(l) = self
            .store
            .policy_list(code, period)
            .await
            .map_err(internal)?
            && l.state == "confirmed"
        {
            return Err(conflict(
                "该月名单已确认，不能重新计算",
                "the list for this month is confirmed and cannot be computed again",
            ));
        }
        // Pin the version read: the list remembers it, and a refresh starts from it.
        let library_version = self.current_version(&rec.code).await?;
        let mut entries = Vec::new();
        let mut found_err = None;
        if let Some(plan) = &plan
            && library_version >= 0
        {
            let table = format!("{}@{library_version}", rec.code);
            let sql = list_sql(&rec, plan, &table)?;
            self.found(plan.tables(&rec.code), &sql, |f| {
                match self.entry(&rec, &f) {
                    Ok(e) => entries.push(e),
                    Err(e) => found_err = Some(e),
                }
            })
            .await?;
        }
        if let Some(e) = found_err {
            return Err(e);
        }
        let amount: f64 = entries.iter().filter_map(|e| e.amount).sum();
        let row = PolicyListRow {
            policy: code.to_string(),
            period: period.to_string(),
            policy_version: version,
            library: rec.code.clone(),
            library_version,
            eligible: entries.len() as i64,
            amount,
            state: "evaluated".into(),
            evaluated_by: actor.principal.clone(),
            evaluated_at: now_text(),
            confirmed_by: None,
            confirmed_at: None,
            refreshed: "full".into(),
        };
        let mut tx = self.store.begin().await.map_err(internal)?;
        if tx
            .policy_list(code, period)
            .await
            .map_err(internal)?
            .is_some_and(|l| l.state == "confirmed")
        {
            return Err(conflict(
                "该月名单已确认，不能重新计算",
                "the list for this month is confirmed and cannot be computed again",
            ));
        }
        tx.delete_list_entries(code, period, None)
            .await
            .map_err(internal)?;
        tx.insert_list_entries(code, period, &entries)
            .await
            .map_err(internal)?;
        tx.put_policy_list(&row).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let subjects: Vec<String> = entries.into_iter().map(|e| e.subject).collect();
        self.audit_subjects(
            actor,
            "policy.list",
            &rec,
            &policy,
            &subjects,
            format!("{period} v{library_version} full"),
        )
        .await?;
        if let Some(plan) = plan.as_ref().filter(|p| !p.joins.is_empty()) {
            let mut joined = Vec::new();
            for j in &plan.joins {
                joined.push((j.clone(), self.current_version(&j.resource).await?));
            }
            self.audit
                .record_all(crate::engine::join_entries(
                    actor,
                    &policy,
                    &joined,
                    period,
                    &[],
                ))
                .await
                .map_err(internal)?;
        }
        let now = self.current_version(&row.library).await?;
        self.list_view(row, now).await
    }

    /// A list with its payments; `current` is its library's version now (read once by the
    /// caller for all the lists it shows).
    async fn list_view(
        &self,
        list: PolicyListRow,
        current: i64,
    ) -> Result<ListView, MatchingError> {
        let payments = self
            .store
            .payment_counts(&list.policy, &list.period)
            .await
            .map_err(internal)?;
        let stale = current != list.library_version;
        Ok(ListView {
            list,
            payments,
            stale,
        })
    }

    async fn list_row(&self, code: &str, period: &str) -> Result<PolicyListRow, MatchingError> {
        self.store
            .policy_list(code, period)
            .await
            .map_err(internal)?
            .ok_or_else(|| MatchingError::NotFound(format!("list {code} {period}")))
    }

    /// A policy's lists, newest month first (its department and the hub).
    pub async fn lists(&self, actor: &Actor, code: &str) -> Result<Vec<ListView>, MatchingError> {
        self.published_for_owner(actor, code).await?;
        let mut out = Vec::new();
        let mut current: Vec<(String, i64)> = Vec::new();
        for l in self.store.policy_lists(code).await.map_err(internal)? {
            let now = match current.iter().find(|(c, _)| *c == l.library) {
                Some((_, v)) => *v,
                None => {
                    let v = self.current_version(&l.library).await?;
                    current.push((l.library.clone(), v));
                    v
                }
            };
            out.push(self.list_view(l, now).await?);
        }
        Ok(out)
    }

    /// One list and a page of its entries (keys and names masked), optionally only those in
    /// one payment state.
    pub async fn list_entries(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
        payment: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(ListView, Vec<PolicyListEntryRow>), MatchingError> {
        self.published_for_owner(actor, code).await?;
        let list = self.list_row(code, period).await?;
        let entries = self
            .store
            .policy_list_entries(code, period, payment, offset, limit.clamp(1, 1000))
            .await
            .map_err(internal)?;
        let now = self.current_version(&list.library).await?;
        Ok((self.list_view(list, now).await?, entries))
    }

    /// Brings an unconfirmed list up to the library's current version, evaluating only the
    /// subjects whose rows changed since the list's version: those in the data files the
    /// library added or removed between the two versions. Everyone else's entry is kept.
    pub async fn refresh_list(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<Refresh, MatchingError> {
        let _writing = self.lists_lock.lock().await;
        let (policy, version, rec, plan) = self.prepared(actor, code, period).await?;
        let list = self.list_row(code, period).await?;
        if list.state == "confirmed" {
            return Err(conflict(
                "该月名单已确认，不再随基础库更新",
                "the list for this month is confirmed and no longer follows the library",
            ));
        }
        let to = self.current_version(&rec.code).await?;
        let mut report = Refresh {
            policy: code.to_string(),
            period: period.to_string(),
            from_version: list.library_version,
            to_version: to,
            reevaluated: 0,
            added: 0,
            removed: 0,
            changed: 0,
        };
        if version != list.policy_version || list.library != rec.code || list.library_version < 0 {
            // The policy or the library itself changed: nothing of the old list can be kept.
            let v = self.compute_list_locked(actor, code, period).await?;
            report.reevaluated = v.list.eligible as u64;
            return Ok(report);
        }
        if plan.as_ref().is_some_and(|p| !p.joins.is_empty()) {
            // The rules read other departments' resources too, whose changes a diff of the
            // library's files does not show: the list is computed again in full.
            let v = self.compute_list_locked(actor, code, period).await?;
            report.to_version = v.list.library_version;
            report.reevaluated = v.list.eligible as u64;
            return Ok(report);
        }
        if to == list.library_version {
            return Ok(report);
        }
        let Some(plan) = plan else {
            return Ok(report);
        };
        let diff = self
            .lake
            .changes(&rec.code, list.library_version, to)
            .await
            .map_err(internal)?;
        let (key, _) = subject_items(&rec)?;
        // Every subject whose row was rewritten, added or removed.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for table in [diff.removed_table(), diff.added_table()] {
            let Some(table) = table else { continue };
            let sql = format!(
                "SELECT CAST({} AS VARCHAR) AS k FROM {}",
                quoted(&key.name),
                quoted(&table)
            );
            let result = self.lake.sql_changes(&diff, &sql).await.map_err(internal)?;
            for b in &result.batches {
                let t = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
                    .map_err(internal)?;
                if let Some(t) = t.as_any().downcast_ref::<StringArray>() {
                    for r in 0..t.len() {
                        if !t.is_null(r) {
                            touched.insert(t.value(r).to_string());
                        }
                    }
                }
            }
        }
        // Their current state: the rows of the added files (a rewritten file carries every
        // row it held, changed or not); a touched subject absent from them is gone.
        let mut now_eligible: BTreeMap<String, Found> = BTreeMap::new();
        if let Some(table) = diff.added_table() {
            let sql = list_sql(&rec, &plan, &table)?;
            let result = self.lake.sql_changes(&diff, &sql).await.map_err(internal)?;
            for row in result.to_strings() {
                if let Some(k) = row.first().cloned().flatten() {
                    now_eligible.insert(
                        k.clone(),
                        Found {
                            key: k,
                            name: row.get(1).cloned().flatten(),
                            amount: row.get(2).cloned().flatten().and_then(|a| a.parse().ok()),
                        },
                    );
                }
            }
        }
        report.reevaluated = touched.len() as u64;
        let mut tx = self.store.begin().await.map_err(internal)?;
        let kept: BTreeMap<String, Option<f64>> = tx
            .list_amounts(code, period)
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        let mut drop = Vec::new();
        let mut insert = Vec::new();
        for k in &touched {
            let subject = self.audit.subject(k);
            let before = kept.get(&subject);
            match (before, now_eligible.get(k)) {
                (None, None) => {}
                (Some(_), None) => {
                    report.removed += 1;
                    drop.push(subject);
                }
                (before, Some(f)) => {
                    let e = self.entry(&rec, f)?;
                    match before {
                        None => report.added += 1,
                        Some(a) if *a != f.amount => report.changed += 1,
                        Some(_) => continue,
                    }
                    if before.is_some() {
                        drop.push(e.subject.clone());
                    }
                    insert.push(e);
                }
            }
        }
        tx.delete_list_entries(code, period, Some(&drop))
            .await
            .map_err(internal)?;
        tx.insert_list_entries(code, period, &insert)
            .await
            .map_err(internal)?;
        let amounts = tx.list_amounts(code, period).await.map_err(internal)?;
        let mut row = list;
        row.library_version = to;
        row.eligible = amounts.len() as i64;
        row.amount = amounts.iter().filter_map(|(_, a)| *a).sum();
        row.evaluated_at = now_text();
        row.evaluated_by = actor.principal.clone();
        row.refreshed = format!("incremental {}", report.reevaluated);
        tx.put_policy_list(&row).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let subjects: Vec<String> = touched.iter().map(|k| self.audit.subject(k)).collect();
        self.audit_subjects(
            actor,
            "policy.list",
            &rec,
            &policy,
            &subjects,
            format!("{period} v{}→v{to} incremental", report.from_version),
        )
        .await?;
        Ok(report)
    }

    /// The issuing department confirms a list (确认名单): frozen from then on, and each
    /// qualifying subject is announced through the policy's notification address (the
    /// provincial app or an SMS gateway), in the same transaction.
    pub async fn confirm_list(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<ListView, MatchingError> {
        let _writing = self.lists_lock.lock().await;
        let (policy, _, rec, plan) = self.prepared(actor, code, period).await?;
        may_pay(actor, &policy.department)?;
        let list = self.list_row(code, period).await?;
        if list.state == "confirmed" {
            return Err(conflict("名单已确认", "the list is already confirmed"));
        }
        if self.current_version(&rec.code).await? != list.library_version {
            return Err(conflict(
                "名单计算后基础库已更新，请先刷新名单再确认",
                "the library changed after the list was computed: refresh the list, then confirm it",
            ));
        }
        let mut recipients = Vec::new();
        if let (Some(plan), false) = (&plan, policy.notify.is_empty()) {
            let table = format!("{}@{}", rec.code, list.library_version);
            let sql = list_sql(&rec, plan, &table)?;
            let audit = &self.audit;
            self.found(plan.tables(&rec.code), &sql, |f| {
                recipients.push(serde_json::json!({
                    "subject": audit.subject(&f.key),
                    "key": f.key,
                    "name": f.name,
                    "amount": f.amount,
                }));
            })
            .await?;
        }
        let now = now_text();
        let mut row = list;
        row.state = "confirmed".into();
        row.confirmed_by = Some(actor.principal.clone());
        row.confirmed_at = Some(now.clone());
        let mut tx = self.store.begin().await.map_err(internal)?;
        tx.put_policy_list(&row).await.map_err(internal)?;
        for (i, chunk) in recipients.chunks(NOTIFY_CHUNK).enumerate() {
            let body = serde_json::json!({
                "type": "policy.eligible",
                "policy": policy.code,
                "name": policy.name,
                "document": policy.document,
                "department": policy.department,
                "period": period,
                "unit": policy.unit,
                "message": format!(
                    "您符合“{}”（{}），{} 可享受，无需申请。",
                    policy.name, policy.document, period
                ),
                "part": i + 1,
                "parts": recipients.len().div_ceil(NOTIFY_CHUNK),
                "recipients": chunk,
            });
            tx.enqueue_notification(&shuniu_store::NotificationRow {
                id: format!("NP-{code}-{period}-{:05}", i + 1),
                topic: topic(code),
                kind: "policy.eligible".into(),
                url: policy.notify.clone(),
                body: body.to_string(),
                state: shuniu_types::states::DeliveryState::Pending,
                attempts: 0,
                next_attempt_at: now.clone(),
                last_error: String::new(),
                created_at: now.clone(),
                delivered_at: None,
            })
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        if !recipients.is_empty() {
            let subjects: Vec<String> = recipients
                .iter()
                .filter_map(|r| r["subject"].as_str().map(str::to_string))
                .collect();
            self.audit_subjects(
                actor,
                "policy.notify",
                &rec,
                &policy,
                &subjects,
                format!("{period} → {}", policy.notify),
            )
            .await?;
        }
        self.audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "policy.confirm",
                    &actor.principal,
                    &actor.department,
                )
                .target(code.to_string())
                .detail(format!("{period} {} {}", row.eligible, row.amount)),
            )
            .await
            .map_err(internal)?;
        // Confirmed just now at the library's current version.
        let now = row.library_version;
        self.list_view(row, now).await
    }

    /// The payment file of a confirmed list (支付清单): every subject's own key and name, read
    /// again from the library at the list's version, with the amount and the subject reference
    /// the payer reports outcomes by. The issuing department's own officers only; audited with
    /// every subject named.
    pub async fn payment_file(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
    ) -> Result<(PolicyInput, Vec<PaymentLine>), MatchingError> {
        let (policy, _, rec, plan) = self.prepared(actor, code, period).await?;
        may_pay(actor, &policy.department)?;
        let list = self.list_row(code, period).await?;
        if list.state != "confirmed" {
            return Err(conflict(
                "名单确认后才能导出支付清单",
                "confirm the list before exporting its payment instructions",
            ));
        }
        let mut states: BTreeMap<String, (String, Option<f64>)> = BTreeMap::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .policy_list_entries(code, period, None, offset, 1000)
                .await
                .map_err(internal)?;
            let n = page.len();
            for e in page {
                states.insert(e.subject, (e.payment, e.amount));
            }
            if n < 1000 {
                break;
            }
            offset += 1000;
        }
        let mut lines = Vec::new();
        if let Some(plan) = &plan {
            let table = format!("{}@{}", rec.code, list.library_version);
            // The confirmed list is what is paid. The library is read at the list's version;
            // a joined resource has no such version, so when the rules read one the subjects
            // are found by key alone (a death registered after confirmation does not drop a
            // confirmed entry: the department decides that by its payments).
            let (sql, tables) = if plan.joins.is_empty() {
                (
                    format!("{} ORDER BY k", list_sql(&rec, plan, &table)?),
                    plan.tables(&rec.code),
                )
            } else {
                (keys_sql(&rec, &table)?, vec![rec.code.clone()])
            };
            let audit = &self.audit;
            self.found(tables, &sql, |f| {
                let subject = audit.subject(&f.key);
                if let Some((state, amount)) = states.get(&subject) {
                    lines.push(PaymentLine {
                        key: f.key,
                        name: f.name,
                        amount: *amount,
                        subject,
                        payment: state.clone(),
                    });
                }
            })
            .await?;
        }
        let subjects: Vec<String> = lines.iter().map(|l| l.subject.clone()).collect();
        self.audit_subjects(
            actor,
            "policy.payment_file",
            &rec,
            &policy,
            &subjects,
            format!("{period} v{}", list.library_version),
        )
        .await?;
        Ok((policy, lines))
    }

    /// Records the payer's outcomes (支付结果) on a confirmed list: each subject paid or failed,
    /// with the payer's reference. Every outcome names a subject on the list, or none is
    /// recorded.
    pub async fn record_payments(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
        outcomes: &[PaymentOutcome],
    ) -> Result<PaymentCounts, MatchingError> {
        let row = self.row(code).await?;
        may_pay(actor, &row.department)?;
        let list = self.list_row(code, period).await?;
        if list.state != "confirmed" {
            return Err(conflict(
                "名单确认后才能登记支付结果",
                "confirm the list before recording payments",
            ));
        }
        let mut problems = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            if !matches!(o.state.as_str(), "paid" | "failed") {
                problems.push(shuniu_types::FieldError::new(
                    format!("payments[{i}].state"),
                    "PAYMENT_STATE",
                    "支付结果只能是 paid（已支付）或 failed（支付失败）",
                    "a payment's state is paid or failed",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(MatchingError::Fields(problems));
        }
        let now = now_text();
        let mut tx = self.store.begin().await.map_err(internal)?;
        for (i, o) in outcomes.iter().enumerate() {
            let at = (o.state == "paid").then_some(now.as_str());
            if !tx
                .set_payment(
                    code,
                    period,
                    &shuniu_store::PaymentRecord {
                        subject: &o.subject,
                        payment: &o.state,
                        reference: &o.reference,
                        note: &o.note,
                        at,
                    },
                )
                .await
                .map_err(internal)?
            {
                problems.push(shuniu_types::FieldError::new(
                    format!("payments[{i}].subject"),
                    "PAYMENT_SUBJECT",
                    "名单中没有该对象",
                    "the list has no such subject",
                ));
            }
        }
        if !problems.is_empty() {
            // Nothing recorded: the transaction is dropped.
            return Err(MatchingError::Fields(problems));
        }
        tx.commit().await.map_err(internal)?;
        let paid = outcomes.iter().filter(|o| o.state == "paid").count();
        self.audit
            .record(
                Entry::by(
                    Kind::Admin,
                    "policy.payments",
                    &actor.principal,
                    &actor.department,
                )
                .target(code.to_string())
                .detail(format!(
                    "{period} paid {paid} failed {}",
                    outcomes.len() - paid
                )),
            )
            .await
            .map_err(internal)?;
        self.store
            .payment_counts(code, period)
            .await
            .map_err(internal)
    }

    /// A policy's notification calls, newest first (its department and the hub), and the
    /// secret they are signed with.
    pub async fn notifications(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<(String, Vec<shuniu_store::NotificationRow>), MatchingError> {
        let policy = self.published_for_owner(actor, code).await?;
        let rows = self
            .sharing
            .notifications(&topic(&policy.code), 50)
            .await
            .map_err(internal)?;
        Ok((self.sharing.notification_secret(&topic(&policy.code)), rows))
    }
}

/// The notification topic of a policy's announcements (its secret derives from it).
pub fn topic(code: &str) -> String {
    format!("policy:{code}")
}

/// The payment file's columns (支付清单).
const PAYMENT_HEADINGS: [&str; 9] = [
    "序号",
    "证件号码",
    "姓名/名称",
    "金额",
    "单位",
    "政策",
    "期间",
    "对象标识",
    "支付状态",
];

fn payment_cells(policy: &PolicyInput, period: &str, i: usize, l: &PaymentLine) -> [String; 9] {
    [
        (i + 1).to_string(),
        l.key.clone(),
        l.name.clone().unwrap_or_default(),
        l.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
        policy.unit.clone(),
        format!("{} {}", policy.code, policy.name),
        period.to_string(),
        l.subject.clone(),
        l.payment.clone(),
    ]
}

/// The payment file as CSV: UTF-8 with a byte-order mark (so Excel opens the Chinese right),
/// every cell quoted as text where a spreadsheet would otherwise eat leading zeros.
pub fn payment_csv(
    policy: &PolicyInput,
    period: &str,
    lines: &[PaymentLine],
) -> Result<Vec<u8>, MatchingError> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(PAYMENT_HEADINGS).map_err(internal)?;
        for (i, l) in lines.iter().enumerate() {
            w.write_record(payment_cells(policy, period, i, l))
                .map_err(internal)?;
        }
        w.flush().map_err(internal)?;
    }
    Ok(out)
}

/// The payment file as an Excel workbook: keys as text (an ID number is not a number), amounts
/// as numbers.
pub fn payment_xlsx(
    policy: &PolicyInput,
    period: &str,
    lines: &[PaymentLine],
) -> Result<Vec<u8>, MatchingError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("支付清单").map_err(internal)?;
    for (c, h) in PAYMENT_HEADINGS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(internal)?;
    }
    for (i, l) in lines.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in payment_cells(policy, period, i, l).iter().enumerate() {
            match (c, l.amount) {
                (0, _) => sheet.write_number(row, 0, (i + 1) as f64),
                (3, Some(a)) => sheet.write_number(row, 3, a),
                _ => sheet.write_string(row, c as u16, v),
            }
            .map_err(internal)?;
        }
    }
    book.save_to_buffer().map_err(internal)
}

/// The hub acting for a department on its own (a list computed at publication, or following
/// the library).
fn system(department: &str) -> Actor {
    Actor {
        principal: "system:matching".into(),
        display_name: "政策匹配 / policy matching".into(),
        role: shuniu_types::Role::HubOperator,
        department: department.to_string(),
    }
}

impl Matching {
    /// This month's list, computed when a version is published (a confirmed list stays as it
    /// was confirmed).
    pub(crate) async fn list_on_publish(&self, code: &str, department: &str) {
        let month = (chrono::Utc::now() + chrono::Duration::hours(8))
            .format("%Y-%m")
            .to_string();
        if let Err(e) = self.compute_list(&system(department), code, &month).await {
            tracing::warn!(policy = code, error = %e, "the list was not computed at publication");
        }
    }

    /// Refreshes every unconfirmed list over the library `library` just committed to (every
    /// unconfirmed list, with `None`: a catch-up after the server was down).
    pub async fn after_commit(&self, library: Option<&str>) -> Result<Vec<Refresh>, MatchingError> {
        let mut out = Vec::new();
        for l in self
            .store
            .unconfirmed_policy_lists()
            .await
            .map_err(internal)?
        {
            let row = self.row(&l.policy).await?;
            if let Some(code) = library
                && code != l.library
                && !self.reads_joined(&row, &l.period, code).await?
            {
                continue;
            }
            out.push(
                self.refresh_list(&system(&row.department), &l.policy, &l.period)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Whether the published policy's rules for `period` read the resource `code` through a
    /// join (its lists then follow that resource's commits too).
    async fn reads_joined(
        &self,
        row: &shuniu_store::PolicyRow,
        period: &str,
        code: &str,
    ) -> Result<bool, MatchingError> {
        if row.version == 0 {
            return Ok(false);
        }
        let policy: PolicyInput = serde_json::from_str(&row.spec).map_err(internal)?;
        let day = month_of(period)?;
        if !policy.in_force(day) {
            return Ok(false);
        }
        let lib = self.library(policy.target, &policy.department, day).await?;
        Ok(lib.joins.iter().any(|j| j.resource == code)
            && lib
                .plan(&policy, day)
                .is_ok_and(|p| p.joins.iter().any(|j| j.resource == code)))
    }

    /// Follows committed loads and keeps unconfirmed lists up to date (the server runs this).
    pub fn follow_commits(
        &self,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.after_commit(None).await {
                tracing::warn!(error = %e, "eligible lists were not caught up");
            }
            loop {
                match commits.recv().await {
                    Ok((code, _)) => {
                        if let Err(e) = me.after_commit(Some(&code)).await {
                            tracing::warn!(code, error = %e, "eligible lists were not refreshed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }
}

impl Matching {
    /// Every subject who qualifies for a published policy in a month, with its own key and
    /// amount, streamed to `each`: for verifying the hub's answers against another tool. Only
    /// for whoever may already query the whole lake (the hub's operator); audited like a list.
    pub async fn eligible_keys(
        &self,
        actor: &Actor,
        code: &str,
        period: &str,
        mut each: impl FnMut(&str, Option<f64>),
    ) -> Result<u64, MatchingError> {
        decide(actor, Action::QueryLake, Target::Hub).map_err(MatchingError::Denied)?;
        let (policy, _, rec, plan) = self.prepared(actor, code, period).await?;
        let Some(plan) = plan else { return Ok(0) };
        let sql = list_sql(&rec, &plan, &rec.code)?;
        let mut n = 0u64;
        self.found(plan.tables(&rec.code), &sql, |f| {
            n += 1;
            each(&f.key, f.amount);
        })
        .await?;
        self.audit
            .record(
                Entry::by(
                    Kind::Access,
                    "policy.verify",
                    &actor.principal,
                    &actor.department,
                )
                .resource(&rec.code, &rec.spec.provider)
                .target(policy.code.clone())
                .rows(n)
                .purpose(Some(format!(
                    "政策匹配核验 {} {}",
                    policy.code, policy.name
                )))
                .detail(period.to_string()),
            )
            .await
            .map_err(internal)?;
        Ok(n)
    }
}
