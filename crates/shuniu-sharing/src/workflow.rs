//! Demands, sharing requests and grants: the workflow between departments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shuniu_audit::{Entry, Kind};
use shuniu_policy::grant::{CompiledGrant, GrantState, GrantTerms, RowScope, Service};
use shuniu_policy::{Action, Target, decide, require_scope};
use shuniu_store::{DemandRow, GrantRow, RequestFilter, ShareEventRow, ShareRequestRow, now};
use shuniu_types::states::{DemandState, RequestState};
use shuniu_types::{Actor, MaskingRule, ResourceStatus, ShareType};

use crate::Sharing;

/// Who moves a request: a person, or the hub's own schedule (escalation).
#[derive(Clone, Copy)]
enum Mover<'a> {
    Actor(&'a Actor),
    Hub,
}
use crate::error::{Result, SharingError};

pub(crate) fn short_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}{}-{}",
        chrono::Utc::now().format("%Y%m%d"),
        short_id()
    )
}

/// A new active grant of `terms`. Compiling them against the resource's items first proves
/// that the fields and the row scope name real items.
fn new_grant(
    rec: &shuniu_store::ResourceRecord,
    consumer: &str,
    application: &str,
    request: Option<&str>,
    terms: &GrantTerms,
) -> Result<GrantRow> {
    CompiledGrant::compile(
        "check",
        &rec.code,
        &rec.spec.provider,
        consumer,
        application,
        GrantState::Active,
        terms,
        &rec.spec.data_items,
        rec.spec.level,
    )?;
    Ok(GrantRow {
        id: new_id("G"),
        request_id: request.map(str::to_string),
        resource_code: rec.code.clone(),
        provider: rec.spec.provider.clone(),
        consumer: consumer.to_string(),
        application_id: application.to_string(),
        terms: serde_json::to_value(terms).unwrap_or_default(),
        state: GrantState::Active,
        expires_at: terms.expires_at.clone(),
        created_at: now(),
        updated_at: now(),
        revoked_by: None,
        revoke_reason: String::new(),
    })
}

/// What a consuming department asks for (共享申请).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestInput {
    pub resource_code: String,
    /// The API application (system) that will call.
    pub application_id: String,
    /// Data items wanted; empty means all.
    #[serde(default)]
    pub fields: Vec<String>,
    pub purpose: String,
    /// 应用场景.
    pub scenario: String,
    /// 依据: the law, regulation or document that makes the use lawful.
    #[serde(default)]
    pub legal_basis: String,
    /// How long the grant should last, in days.
    pub duration_days: u32,
    /// Service types: lookup, verify, compare, subscribe, extract.
    pub services: Vec<Service>,
    /// Row scope in the form's notation (e.g. `district = 370203`); blank for every row.
    #[serde(default)]
    pub row_scope: String,
    #[serde(default)]
    pub calls_per_day: Option<u64>,
    #[serde(default)]
    pub rows_per_day: Option<u64>,
    #[serde(default)]
    pub rate_per_second: Option<u32>,
}

/// The provider's (or, once escalated, the hub's) answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DecisionInput {
    pub approve: bool,
    /// Required to refuse; recorded either way.
    #[serde(default)]
    pub reason: String,
    /// Narrow the fields granted (a subset of those asked).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Masking per field, where the provider wants stronger masking than the item's own.
    #[serde(default)]
    pub masking: BTreeMap<String, MaskingRule>,
    /// Replace the row scope asked for.
    #[serde(default)]
    pub row_scope: Option<String>,
    #[serde(default)]
    pub calls_per_day: Option<u64>,
    #[serde(default)]
    pub rows_per_day: Option<u64>,
    #[serde(default)]
    pub rate_per_second: Option<u32>,
}

/// A request with its history.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: ShareRequestRow,
    pub events: Vec<ShareEventRow>,
    /// Whether the deadline has passed while the request waits.
    pub overdue: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DemandInput {
    /// The department with the need; the hub may file for any.
    #[serde(default)]
    pub department: String,
    pub title: String,
    pub description: String,
    /// A catalog resource that would satisfy it, if known: routes the demand to its provider.
    #[serde(default)]
    pub resource_code: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DemandAnswer {
    pub satisfied: bool,
    pub answer: String,
    /// The resource that satisfies it (catalogued now or already).
    #[serde(default)]
    pub resource_code: Option<String>,
}

/// 需求满足率 and the unified-service share.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SharingStats {
    pub demands: usize,
    pub demands_answered: usize,
    pub demands_satisfied: usize,
    /// satisfied ÷ answered, in percent (None before any answer).
    pub satisfaction_rate: Option<f64>,
    pub requests: usize,
    pub requests_pending: usize,
    pub requests_overdue: usize,
    pub grants_active: usize,
    /// Data accesses through the unified service in the last 30 days.
    pub service_calls_30d: i64,
    /// All data accesses in the last 30 days (console, API, CLI, service).
    pub data_accesses_30d: i64,
    /// service ÷ all, in percent.
    pub unified_share: Option<f64>,
}

fn default_terms(rec: &shuniu_store::ResourceRecord) -> (u64, u64, u32) {
    // Defaults by level: the more sensitive, the tighter.
    use shuniu_types::SecurityLevel as L;
    match rec.spec.level {
        L::General1 | L::General2 => (100_000, 10_000_000, 200),
        L::General3 => (50_000, 1_000_000, 100),
        _ => (10_000, 100_000, 20),
    }
}

impl Sharing {
    async fn audit_admin(
        &self,
        actor: &Actor,
        action: &str,
        rec_code: &str,
        provider: &str,
        target: &str,
        detail: String,
    ) -> Result<()> {
        let e = Entry::new(Kind::Admin, action, actor)
            .resource(rec_code, provider)
            .target(target)
            .detail(detail);
        self.inner.audit.record(e).await?;
        Ok(())
    }

    /// The one way a filed request changes state: checks that its state allows the move, then
    /// in one transaction writes the new state (only if no one moved it meanwhile), the grant
    /// it creates if any, and the event saying who moved it and why; then the audit entry.
    #[allow(clippy::too_many_arguments)]
    async fn move_request(
        &self,
        r: &ShareRequestRow,
        to: RequestState,
        by: Mover<'_>,
        event: &str,
        reason: &str,
        grant: Option<&GrantRow>,
        (audit_action, audit_detail): (&str, String),
    ) -> Result<()> {
        if !r.state.can_move_to(to) {
            return Err(SharingError::state(
                format!("申请处于“{}”状态，不能变为“{}”", r.state.zh(), to.zh()),
                format!("a request that is {} cannot become {}", r.state, to),
            ));
        }
        let (principal, department) = match by {
            Mover::Actor(a) => (a.principal.as_str(), a.department.as_str()),
            Mover::Hub => ("hub", ""),
        };
        let mut tx = self.inner.store.begin().await?;
        if let Some(g) = grant {
            tx.insert_grant(g).await?;
        }
        tx.set_request_state(
            &r.id,
            &RequestState::predecessors(to),
            to,
            matches!(by, Mover::Actor(_)).then_some(principal),
            reason,
            grant.map(|g| g.id.as_str()),
        )
        .await
        .map_err(|_| {
            SharingError::state("申请已被他人处理", "someone else decided the request first")
        })?;
        tx.insert_share_event(&r.id, principal, department, event, to, reason)
            .await?;
        tx.commit().await?;
        let e = match by {
            Mover::Actor(a) => Entry::new(Kind::Admin, audit_action, a),
            Mover::Hub => Entry::by(Kind::Admin, audit_action, "system", ""),
        }
        .resource(&r.resource_code, &r.provider)
        .target(&r.id);
        let e = if audit_detail.is_empty() {
            e
        } else {
            e.detail(audit_detail)
        };
        self.inner.audit.record(e).await?;
        Ok(())
    }

    /// Files a sharing request. Unconditional resources pass the hub's compliance check and
    /// are granted at once; conditional ones wait for the provider until the deadline;
    /// negative-list resources are refused at once with the entry's legal basis.
    pub async fn file_request(&self, actor: &Actor, input: &RequestInput) -> Result<RequestView> {
        let rec = self.inner.catalog.get(actor, &input.resource_code).await?;
        let app = self
            .inner
            .store
            .applications()
            .await?
            .into_iter()
            .find(|a| a.id == input.application_id && a.revoked_at.is_none())
            .ok_or_else(|| {
                SharingError::invalid(
                    "APPLICATION_UNKNOWN",
                    "调用系统（API 应用）不存在或已停用",
                    "no such active API application",
                )
            })?;
        let consumer = app.department_code.clone();
        decide(
            actor,
            Action::RequestShare,
            Target::Share {
                provider: &rec.spec.provider,
                consumer: &consumer,
                escalated: false,
            },
        )?;
        if rec.status != ResourceStatus::Published {
            return Err(SharingError::invalid(
                "RESOURCE_NOT_PUBLISHED",
                "只能申请已发布的目录资源",
                "only published catalog resources can be requested",
            ));
        }
        // The compliance check (合规性审查): complete, lawful-looking, compilable.
        let mut problems: Vec<(&'static str, &str, &str)> = Vec::new();
        if input.purpose.trim().chars().count() < 4 {
            problems.push((
                "PURPOSE_REQUIRED",
                "请说明用途（至少 4 个字）",
                "state the purpose (4 characters at least)",
            ));
        }
        if input.scenario.trim().is_empty() {
            problems.push((
                "SCENARIO_REQUIRED",
                "请说明应用场景",
                "state the application scenario",
            ));
        }
        if rec.spec.share_type == ShareType::Conditional && input.legal_basis.trim().is_empty() {
            problems.push((
                "LEGAL_BASIS_REQUIRED",
                "有条件共享资源须提供申请依据",
                "conditional resources need the legal basis of the request",
            ));
        }
        if !(1..=1095).contains(&input.duration_days) {
            problems.push((
                "DURATION_INVALID",
                "使用期限应为 1 至 1095 天",
                "the duration is 1 to 1095 days",
            ));
        }
        if input.services.is_empty() {
            problems.push((
                "SERVICES_REQUIRED",
                "请选择至少一种服务方式",
                "choose at least one service type",
            ));
        }
        if let Some((code, _, _)) = problems.first() {
            return Err(SharingError::invalid(
                code,
                problems.iter().map(|p| p.1).collect::<Vec<_>>().join("；"),
                problems.iter().map(|p| p.2).collect::<Vec<_>>().join("; "),
            ));
        }
        let fields: Vec<String> = if input.fields.is_empty() {
            rec.spec.data_items.iter().map(|i| i.name.clone()).collect()
        } else {
            input.fields.clone()
        };
        let scope = RowScope::parse(&input.row_scope)?;
        let (calls, rows, rate) = default_terms(&rec);
        let terms = GrantTerms {
            fields,
            masking: BTreeMap::new(),
            row_scope: scope,
            services: input.services.clone(),
            calls_per_day: input.calls_per_day.unwrap_or(calls),
            rows_per_day: input.rows_per_day.unwrap_or(rows),
            rate_per_second: input.rate_per_second.unwrap_or(rate),
            expires_at: (chrono::Utc::now()
                + chrono::Duration::days(i64::from(input.duration_days)))
            .to_rfc3339(),
            purpose: input.purpose.trim().to_string(),
        };
        let id = new_id("SQ");
        // Built for every request: it checks the terms; granted at once only if unconditional.
        let grant = new_grant(&rec, &consumer, &app.id, Some(&id), &terms)?;
        let spec = serde_json::json!({
            "terms": terms,
            "scenario": input.scenario.trim(),
            "legal_basis": input.legal_basis.trim(),
            "duration_days": input.duration_days,
        });
        let now_t = chrono::Utc::now();
        let (state, due, reason) = match rec.spec.share_type {
            ShareType::NotShared => (
                RequestState::Refused,
                None,
                format!(
                    "该资源列入负面清单（不予共享），依据：{} / on the negative list, legal basis: {}",
                    rec.spec.legal_basis, rec.spec.legal_basis
                ),
            ),
            ShareType::Unconditional => (RequestState::Granted, None, String::new()),
            ShareType::Conditional => (
                RequestState::Pending,
                Some(
                    self.inner
                        .calendar
                        .read()
                        .deadline(now_t, self.inner.decision_days)
                        .to_rfc3339(),
                ),
                String::new(),
            ),
        };
        let row = ShareRequestRow {
            id: id.clone(),
            resource_code: rec.code.clone(),
            provider: rec.spec.provider.clone(),
            consumer: consumer.clone(),
            application_id: app.id.clone(),
            share_type: rec.spec.share_type.code().to_string(),
            // An unconditional request is filed pending and granted in the same transaction.
            state: if state == RequestState::Granted {
                RequestState::Pending
            } else {
                state
            },
            spec,
            due_at: due,
            requested_by: actor.principal.clone(),
            decided_by: None,
            reason: reason.clone(),
            grant_id: None,
            created_at: now(),
            updated_at: now(),
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_share_request(&row).await?;
        tx.insert_share_event(
            &id,
            &actor.principal,
            &actor.department,
            "filed",
            row.state,
            "",
        )
        .await?;
        let mut grant_id = None;
        match rec.spec.share_type {
            ShareType::NotShared => {
                tx.insert_share_event(
                    &id,
                    "hub",
                    "",
                    "refused_negative_list",
                    RequestState::Refused,
                    &reason,
                )
                .await?;
            }
            ShareType::Unconditional => {
                tx.insert_share_event(
                    &id,
                    "hub",
                    "",
                    "compliance_passed",
                    RequestState::Pending,
                    "",
                )
                .await?;
                let gid = grant.id.clone();
                tx.insert_grant(&grant).await?;
                tx.set_request_state(
                    &id,
                    &[RequestState::Pending],
                    RequestState::Granted,
                    Some("hub"),
                    "",
                    Some(&gid),
                )
                .await?;
                tx.insert_share_event(
                    &id,
                    "hub",
                    "",
                    "granted",
                    RequestState::Granted,
                    "无条件共享，合规审查通过 / unconditional, compliance check passed",
                )
                .await?;
                grant_id = Some(gid);
            }
            ShareType::Conditional => {}
        }
        tx.commit().await?;
        self.audit_admin(
            actor,
            "sharing.request",
            &rec.code,
            &rec.spec.provider,
            &id,
            format!("{} → {}", consumer, state),
        )
        .await?;
        if let Some(g) = &grant_id {
            self.audit_admin(
                actor,
                "sharing.grant",
                &rec.code,
                &rec.spec.provider,
                g,
                "unconditional".into(),
            )
            .await?;
            self.inner.directory.reload().await?;
        }
        self.request(actor, &id).await
    }

    /// The request, if the actor may see it (either side, or the hub); for anyone else it
    /// does not exist.
    async fn visible_request(&self, actor: &Actor, id: &str) -> Result<ShareRequestRow> {
        let r = self
            .inner
            .store
            .share_request(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("request {id}")))?;
        decide(
            actor,
            Action::ReadSharing,
            Target::Share {
                provider: &r.provider,
                consumer: &r.consumer,
                escalated: r.state.is_escalated(),
            },
        )?;
        Ok(r)
    }

    /// One request with its events, for either side or the hub.
    pub async fn request(&self, actor: &Actor, id: &str) -> Result<RequestView> {
        let r = self.visible_request(actor, id).await?;
        let events = self.inner.store.share_events(id).await?;
        let overdue =
            r.state.awaits_decision() && r.due_at.as_deref().is_some_and(|d| d < now().as_str());
        Ok(RequestView {
            request: r,
            events,
            overdue,
        })
    }

    /// Requests an actor may see: its department's (either side) or, for the hub, all.
    pub async fn requests(
        &self,
        actor: &Actor,
        department: Option<&str>,
        states: &[RequestState],
    ) -> Result<Vec<ShareRequestRow>> {
        let filter = match department {
            Some(d) => {
                decide(
                    actor,
                    Action::ReadSharing,
                    Target::SharingOf { department: d },
                )?;
                RequestFilter {
                    department: Some(d.to_string()),
                    ..Default::default()
                }
            }
            None => {
                decide(actor, Action::ReadSharing, Target::Hub)?;
                RequestFilter::default()
            }
        };
        let filter = RequestFilter {
            states: states.to_vec(),
            limit: 1000,
            ..filter
        };
        Ok(self.inner.store.share_requests(&filter).await?)
    }

    /// The provider's inbox: requests waiting for its decision, oldest deadline first; for
    /// the hub, escalated ones too.
    pub async fn inbox(&self, actor: &Actor) -> Result<Vec<ShareRequestRow>> {
        let provider = require_scope(actor, Action::ReadSharing)?
            .department()
            .map(str::to_string);
        let mut list = self
            .inner
            .store
            .share_requests(&RequestFilter {
                provider,
                states: vec![RequestState::Pending, RequestState::Escalated],
                limit: 1000,
                ..Default::default()
            })
            .await?;
        list.sort_by(|a, b| a.due_at.cmp(&b.due_at));
        Ok(list)
    }

    /// Approves or refuses a pending (or, for the hub, escalated) conditional request.
    pub async fn decide_request(
        &self,
        actor: &Actor,
        id: &str,
        d: &DecisionInput,
    ) -> Result<RequestView> {
        // A request past its deadline is the hub's, even if the sweep has not run yet.
        self.escalate_overdue().await?;
        let r = self.visible_request(actor, id).await?;
        if !r.state.awaits_decision() {
            return Err(SharingError::state(
                format!("申请已处理（{}），不能再审批", r.state.zh()),
                format!(
                    "the request is already {}; it cannot be decided again",
                    r.state
                ),
            ));
        }
        decide(
            actor,
            Action::DecideRequest,
            Target::Share {
                provider: &r.provider,
                consumer: &r.consumer,
                escalated: r.state.is_escalated(),
            },
        )?;
        if !d.approve && d.reason.trim().is_empty() {
            return Err(SharingError::invalid(
                "REASON_REQUIRED",
                "不予同意须说明理由",
                "a refusal needs a reason",
            ));
        }
        let rec = self.inner.catalog.get(actor, &r.resource_code).await?;
        let by = Mover::Actor(actor);
        if d.approve {
            let mut terms: GrantTerms = serde_json::from_value(
                r.spec.get("terms").cloned().unwrap_or_default(),
            )
            .map_err(|e| SharingError::Index(format!("request {id} has unreadable terms: {e}")))?;
            if let Some(f) = &d.fields {
                if f.iter().any(|x| !terms.fields.contains(x)) || f.is_empty() {
                    return Err(SharingError::invalid(
                        "FIELDS_NOT_ASKED",
                        "批准的信息项须是申请信息项的非空子集",
                        "the approved fields must be a non-empty subset of those asked",
                    ));
                }
                terms.fields = f.clone();
            }
            terms.masking.extend(d.masking.clone());
            if let Some(s) = &d.row_scope {
                terms.row_scope = RowScope::parse(s)?;
            }
            if let Some(v) = d.calls_per_day {
                terms.calls_per_day = v;
            }
            if let Some(v) = d.rows_per_day {
                terms.rows_per_day = v;
            }
            if let Some(v) = d.rate_per_second {
                terms.rate_per_second = v;
            }
            let days = r
                .spec
                .get("duration_days")
                .and_then(|v| v.as_i64())
                .unwrap_or(365);
            terms.expires_at = (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
            let grant = new_grant(&rec, &r.consumer, &r.application_id, Some(&r.id), &terms)?;
            let gid = grant.id.clone();
            self.move_request(
                &r,
                RequestState::Granted,
                by,
                "approved",
                d.reason.trim(),
                Some(&grant),
                ("sharing.approve", gid),
            )
            .await?;
            self.inner.directory.reload().await?;
        } else {
            self.move_request(
                &r,
                RequestState::Refused,
                by,
                "refused",
                d.reason.trim(),
                None,
                ("sharing.refuse", d.reason.trim().to_string()),
            )
            .await?;
        }
        self.request(actor, id).await
    }

    /// Moves pending requests past their deadline to the hub (逾期升级).
    pub async fn escalate_overdue(&self) -> Result<usize> {
        let pending = self
            .inner
            .store
            .share_requests(&RequestFilter {
                states: vec![RequestState::Pending],
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        let now_s = now();
        let mut n = 0;
        for r in pending {
            if r.due_at.as_deref().is_some_and(|d| d < now_s.as_str()) {
                match self
                    .move_request(
                        &r,
                        RequestState::Escalated,
                        Mover::Hub,
                        "escalated",
                        "逾期未审批，提交大数据局 / overdue, escalated to the hub",
                        None,
                        ("sharing.escalate", String::new()),
                    )
                    .await
                {
                    Ok(()) => {}
                    // Decided meanwhile by someone else: nothing to escalate.
                    Err(SharingError::State { .. }) => continue,
                    Err(e) => return Err(e),
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// The one way a grant ends (revoked by the provider or the hub, or expired): checks the
    /// move, writes it only if the grant is still active, then the audit entry.
    async fn end_grant(
        &self,
        g: &GrantRow,
        to: GrantState,
        by: Mover<'_>,
        reason: &str,
    ) -> Result<()> {
        let gone = || SharingError::state("授权已不在有效状态", "the grant is no longer active");
        if !g.state.can_move_to(to) {
            return Err(gone());
        }
        let principal = match by {
            Mover::Actor(a) => Some(a.principal.as_str()),
            Mover::Hub => None,
        };
        let mut tx = self.inner.store.begin().await?;
        tx.set_grant_state(&g.id, to, principal, reason)
            .await
            .map_err(|_| gone())?;
        tx.commit().await?;
        let action = match to {
            GrantState::Expired => "sharing.expire",
            _ => "sharing.revoke",
        };
        let e = match by {
            Mover::Actor(a) => Entry::new(Kind::Admin, action, a),
            Mover::Hub => Entry::by(Kind::Admin, action, "system", ""),
        }
        .resource(&g.resource_code, &g.provider)
        .target(&g.id)
        .detail(reason.to_string());
        self.inner.audit.record(e).await?;
        Ok(())
    }

    pub(crate) async fn expire_grants(&self) -> Result<usize> {
        let now_s = chrono::Utc::now();
        let mut n = 0;
        for g in self.inner.store.grants().await? {
            if g.state.is_active()
                && chrono::DateTime::parse_from_rfc3339(&g.expires_at).is_ok_and(|t| t < now_s)
            {
                match self
                    .end_grant(&g, GrantState::Expired, Mover::Hub, "")
                    .await
                {
                    Ok(()) => n += 1,
                    // Revoked meanwhile: nothing left to expire.
                    Err(SharingError::State { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if n > 0 {
            self.inner.directory.reload().await?;
        }
        Ok(n)
    }

    /// Grants an actor may see (its department's, either side; the hub's all), with today's
    /// usage.
    pub async fn grants(&self, actor: &Actor) -> Result<Vec<GrantView>> {
        let all = self.inner.store.grants().await?;
        let usage = self.inner.directory.usage_today();
        let mut out = Vec::new();
        for g in all {
            let ok = decide(
                actor,
                Action::ReadSharing,
                Target::Share {
                    provider: &g.provider,
                    consumer: &g.consumer,
                    escalated: false,
                },
            )
            .is_ok();
            if ok {
                let (calls, rows, refused) = usage.get(&g.id).copied().unwrap_or_default();
                out.push(GrantView {
                    terms: serde_json::from_value(g.terms.clone()).ok(),
                    grant: g,
                    calls_today: calls,
                    rows_today: rows,
                    refused_today: refused,
                });
            }
        }
        Ok(out)
    }

    /// Revokes a grant at once (the provider or the hub).
    pub async fn revoke_grant(&self, actor: &Actor, id: &str, reason: &str) -> Result<GrantRow> {
        let g = self
            .inner
            .store
            .grant(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("grant {id}")))?;
        decide(
            actor,
            Action::ReadSharing,
            Target::Share {
                provider: &g.provider,
                consumer: &g.consumer,
                escalated: false,
            },
        )?;
        decide(
            actor,
            Action::DecideRequest,
            Target::Share {
                provider: &g.provider,
                consumer: &g.consumer,
                escalated: false,
            },
        )?;
        if reason.trim().is_empty() {
            return Err(SharingError::invalid(
                "REASON_REQUIRED",
                "撤销授权须说明理由",
                "a revocation needs a reason",
            ));
        }
        self.end_grant(&g, GrantState::Revoked, Mover::Actor(actor), reason.trim())
            .await?;
        // Before this returns, the hot path refuses the grant.
        self.inner.directory.reload().await?;
        self.inner
            .store
            .grant(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("grant {id}")))
    }

    /// Files a demand (需求). Naming a resource routes it to its provider at once.
    pub async fn file_demand(&self, actor: &Actor, input: &DemandInput) -> Result<DemandRow> {
        let department = if input.department.trim().is_empty() {
            actor.department.clone()
        } else {
            input.department.trim().to_string()
        };
        let routed_to = match input
            .resource_code
            .as_deref()
            .filter(|c| !c.trim().is_empty())
        {
            Some(code) => Some(self.inner.catalog.get(actor, code).await?.spec.provider),
            None => None,
        };
        decide(
            actor,
            Action::FileDemand,
            Target::Demand {
                department: &department,
                routed_to: routed_to.as_deref(),
            },
        )?;
        if self.inner.store.department(&department).await?.is_none() {
            return Err(unknown_department(&department));
        }
        if input.title.trim().is_empty() || input.description.trim().is_empty() {
            return Err(SharingError::invalid(
                "DEMAND_INCOMPLETE",
                "需求须填写名称和说明",
                "a demand needs a title and a description",
            ));
        }
        let d = DemandRow {
            id: new_id("XQ"),
            department,
            title: input.title.trim().to_string(),
            description: input.description.trim().to_string(),
            resource_code: input.resource_code.clone().filter(|c| !c.trim().is_empty()),
            state: if routed_to.is_some() {
                DemandState::Routed
            } else {
                DemandState::Open
            },
            routed_to,
            answer: String::new(),
            satisfied: None,
            filed_by: actor.principal.clone(),
            created_at: now(),
            updated_at: now(),
            answered_at: None,
        };
        let mut tx = self.inner.store.begin().await?;
        tx.insert_demand(&d).await?;
        tx.commit().await?;
        let e = Entry::new(Kind::Admin, "sharing.demand", actor)
            .target(&d.id)
            .detail(d.title.clone());
        self.inner.audit.record(e).await?;
        Ok(d)
    }

    /// The hub routes an open demand to the department that should answer it.
    pub async fn route_demand(
        &self,
        actor: &Actor,
        id: &str,
        department: &str,
    ) -> Result<DemandRow> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        let mut d = self
            .inner
            .store
            .demand(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("demand {id}")))?;
        if self.inner.store.department(department).await?.is_none() {
            return Err(unknown_department(department));
        }
        let from = d.state;
        d.routed_to = Some(department.to_string());
        d.state = DemandState::Routed;
        self.move_demand(
            actor,
            from,
            &d,
            "sharing.route_demand",
            department.to_string(),
        )
        .await?;
        Ok(d)
    }

    /// The routed department (or the hub) answers a demand: satisfied or not, and how.
    pub async fn answer_demand(
        &self,
        actor: &Actor,
        id: &str,
        a: &DemandAnswer,
    ) -> Result<DemandRow> {
        let mut d = self
            .inner
            .store
            .demand(id)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("demand {id}")))?;
        decide(
            actor,
            Action::AnswerDemand,
            Target::Demand {
                department: &d.department,
                routed_to: d.routed_to.as_deref(),
            },
        )?;
        if !d.state.is_awaiting() {
            return Err(demand_answered());
        }
        if a.answer.trim().is_empty() {
            return Err(SharingError::invalid(
                "ANSWER_REQUIRED",
                "请填写答复内容",
                "write the answer",
            ));
        }
        let pointed = a.resource_code.as_deref().filter(|c| !c.is_empty());
        if let Some(code) = pointed {
            let rec = self.inner.catalog.get(actor, code).await?;
            // A demand is satisfied by data the demander can obtain: a published entry that
            // is shared, never one on the negative list (不予共享).
            if a.satisfied
                && (rec.status != shuniu_types::ResourceStatus::Published
                    || rec.spec.share_type == shuniu_types::ShareType::NotShared)
            {
                return Err(SharingError::invalid(
                    "ANSWER_RESOURCE_NOT_SHARED",
                    "满足需求的答复须指向已发布且可共享的目录资源，列入负面清单（不予共享）的资源不能满足需求",
                    "a satisfying answer must point at a published, shared catalog entry; an entry on the negative list (not shared) cannot satisfy a demand",
                ));
            }
            d.resource_code = Some(code.to_string());
        } else if a.satisfied {
            return Err(SharingError::invalid(
                "ANSWER_RESOURCE_REQUIRED",
                "答复为“满足”时，请填写提供数据的目录资源代码",
                "a satisfying answer names the catalog entry that provides the data",
            ));
        }
        let from = d.state;
        d.state = DemandState::Answered;
        d.answer = a.answer.trim().to_string();
        d.satisfied = Some(a.satisfied);
        d.answered_at = Some(now());
        self.move_demand(
            actor,
            from,
            &d,
            "sharing.answer_demand",
            format!("satisfied={}", a.satisfied),
        )
        .await?;
        Ok(d)
    }

    /// The one way a demand changes state: checks the move from `from`, writes the demand as
    /// it now is, then the audit entry.
    async fn move_demand(
        &self,
        actor: &Actor,
        from: DemandState,
        d: &DemandRow,
        audit_action: &str,
        detail: String,
    ) -> Result<()> {
        if !from.can_move_to(d.state) {
            return Err(demand_answered());
        }
        let mut tx = self.inner.store.begin().await?;
        tx.update_demand(d).await?;
        tx.commit().await?;
        let e = Entry::new(Kind::Admin, audit_action, actor)
            .target(&d.id)
            .detail(detail);
        self.inner.audit.record(e).await?;
        Ok(())
    }

    pub async fn demands(&self, actor: &Actor) -> Result<Vec<DemandRow>> {
        let scope = require_scope(actor, Action::ReadSharing)?;
        Ok(self.inner.store.demands(scope.department()).await?)
    }

    /// The satisfaction rate, pending and overdue requests, active grants and the unified
    /// service's share of data accesses. Public figures: every department sees them.
    pub async fn stats(&self) -> Result<SharingStats> {
        let demands = self.inner.store.demands(None).await?;
        let answered: Vec<_> = demands
            .iter()
            .filter(|d| d.state == DemandState::Answered)
            .collect();
        let satisfied = answered
            .iter()
            .filter(|d| d.satisfied == Some(true))
            .count();
        let requests = self
            .inner
            .store
            .share_requests(&RequestFilter {
                limit: 100_000,
                ..Default::default()
            })
            .await?;
        let now_s = now();
        let pending = requests
            .iter()
            .filter(|r| r.state.awaits_decision())
            .count();
        let overdue = requests
            .iter()
            .filter(|r| {
                r.state.awaits_decision() && r.due_at.as_deref().is_some_and(|d| d < now_s.as_str())
            })
            .count();
        let grants_active = self
            .inner
            .store
            .grants()
            .await?
            .iter()
            .filter(|g| g.state.is_active())
            .count();
        let since = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
        let channels = self.inner.store.audit_channels(&since).await?;
        let service: i64 = channels
            .iter()
            .filter(|(c, _)| c == "service")
            .map(|(_, n)| *n)
            .sum();
        let all: i64 = channels.iter().map(|(_, n)| *n).sum();
        Ok(SharingStats {
            demands: demands.len(),
            demands_answered: answered.len(),
            demands_satisfied: satisfied,
            satisfaction_rate: (!answered.is_empty())
                .then(|| 100.0 * satisfied as f64 / answered.len() as f64),
            requests: requests.len(),
            requests_pending: pending,
            requests_overdue: overdue,
            grants_active,
            service_calls_30d: service,
            data_accesses_30d: all,
            unified_share: (all > 0).then(|| 100.0 * service as f64 / all as f64),
        })
    }

    /// Sets a day of the working-day calendar (the hub).
    pub async fn set_calendar_day(
        &self,
        actor: &Actor,
        day: &str,
        kind: &str,
        note: &str,
    ) -> Result<()> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err()
            || !matches!(kind, "holiday" | "workday" | "normal")
        {
            return Err(SharingError::invalid(
                "CALENDAR_DAY_INVALID",
                "日期格式为 YYYY-MM-DD，类型为 holiday（放假）、workday（调休上班）或 normal（恢复）",
                "the day is YYYY-MM-DD and the kind holiday, workday or normal",
            ));
        }
        let mut tx = self.inner.store.begin().await?;
        tx.put_calendar_day(day, kind, note).await?;
        tx.commit().await?;
        self.inner.calendar.write().set(day, kind, note);
        let e = Entry::new(Kind::Admin, "sharing.calendar", actor)
            .target(day)
            .detail(format!("{kind} {note}"));
        self.inner.audit.record(e).await?;
        Ok(())
    }

    /// Special days (holidays, make-up working days) between two dates.
    pub fn calendar_days(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Vec<(chrono::NaiveDate, crate::calendar::DayKind, String)> {
        self.inner.calendar.read().special_days(from, to)
    }

    /// `hours` working hours after `start` on the hub's calendar (city events' deadlines).
    pub fn deadline_in_working_hours(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        hours: u32,
    ) -> chrono::DateTime<chrono::Utc> {
        self.inner.calendar.read().deadline_hours(start, hours)
    }

    /// `days` working days after `start` on the hub's calendar (an integrated service's steps).
    pub fn deadline_in_working_days(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        days: u32,
    ) -> chrono::DateTime<chrono::Utc> {
        self.inner.calendar.read().deadline(start, days)
    }

    /// The deadline a conditional request filed now would get.
    pub fn deadline_from_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner
            .calendar
            .read()
            .deadline(chrono::Utc::now(), self.inner.decision_days)
    }

    /// Creates a grant directly, without a request (the hub; the demo city and imports of
    /// grants agreed outside the hub). Audited like any other.
    pub async fn grant_directly(
        &self,
        actor: &Actor,
        code: &str,
        application_id: &str,
        terms: &GrantTerms,
    ) -> Result<GrantRow> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        let rec = self.inner.catalog.get(actor, code).await?;
        let app = self
            .inner
            .store
            .applications()
            .await?
            .into_iter()
            .find(|a| a.id == application_id && a.revoked_at.is_none())
            .ok_or_else(|| SharingError::NotFound(format!("application {application_id}")))?;
        if rec.spec.share_type == ShareType::NotShared {
            return Err(SharingError::Denied(
                shuniu_policy::grant::decide_service(&shuniu_policy::grant::ServiceFacts {
                    department: &app.department_code,
                    role: app.role,
                    provider: &rec.spec.provider,
                    status: rec.status,
                    share_type: rec.spec.share_type,
                    level: rec.spec.level,
                    grant: None,
                    service: Service::Lookup,
                    now: 0,
                })
                .err()
                .unwrap_or_else(|| shuniu_policy::Denied {
                    code: "NOT_SHARED",
                    message_zh: "不予共享".into(),
                    message_en: "not shared".into(),
                    hide: false,
                }),
            ));
        }
        let g = new_grant(&rec, &app.department_code, &app.id, None, terms)?;
        let mut tx = self.inner.store.begin().await?;
        tx.insert_grant(&g).await?;
        tx.commit().await?;
        self.audit_admin(
            actor,
            "sharing.grant",
            &rec.code,
            &rec.spec.provider,
            &g.id,
            "direct".into(),
        )
        .await?;
        self.inner.directory.reload().await?;
        Ok(g)
    }
}

/// A grant with its terms and today's usage.
#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    #[serde(flatten)]
    pub grant: GrantRow,
    #[serde(skip)]
    pub terms: Option<GrantTerms>,
    pub calls_today: u64,
    pub rows_today: u64,
    pub refused_today: u64,
}

impl Sharing {
    /// The active API applications of the actor's department (the systems a request can be
    /// for); the hub sees all.
    pub async fn applications_for(&self, actor: &Actor) -> Result<Vec<shuniu_store::Application>> {
        let scope = shuniu_policy::scope(actor, Action::RequestShare);
        let all = self.inner.store.applications().await?;
        Ok(all
            .into_iter()
            .filter(|a| a.revoked_at.is_none())
            .filter(|a| scope.covers([a.department_code.as_str()]))
            .collect())
    }
}

fn demand_answered() -> SharingError {
    SharingError::state("需求已答复", "the demand has been answered")
}

/// A department named in a request body that does not exist: the body is invalid (the URL's
/// resource was found), so 422, never 404.
fn unknown_department(department: &str) -> SharingError {
    SharingError::Invalid {
        code: "DEPARTMENT_UNKNOWN",
        zh: format!("部门 {department} 不存在"),
        en: format!("there is no department {department}"),
    }
}
