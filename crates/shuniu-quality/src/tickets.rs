//! Problem tickets (问题数据异议处理): automatic ones for failing rules and source conflicts,
//! routed to the providing department and closed by the load that fixes the rows; and
//! objections raised by consumers on specific records, which the provider confirms and fixes
//! or disputes, and the hub arbitrates. Every change is an event (可定责).

use chrono::{Datelike, Weekday};
use serde::{Deserialize, Serialize};
use shuniu_audit::{Entry, Kind};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{QualityRunRow, ResourceRecord, TicketEventRow, TicketFilter, TicketRow};
use shuniu_types::Actor;

use crate::check::RuleResult;
use crate::{Quality, QualityError, Result, new_id};
use shuniu_types::states::TicketState;

/// Working days a provider has to act on a ticket.
pub const TICKET_WORKING_DAYS: u32 = 5;

/// The deadline `days` working days (Monday–Friday) from now. Public holidays and make-up
/// working days come with the sharing capability's calendar.
pub fn deadline(days: u32) -> String {
    let mut t = chrono::Utc::now();
    let mut left = days;
    while left > 0 {
        t += chrono::Duration::days(1);
        let local = t + chrono::Duration::hours(8);
        if !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What someone does to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    /// Provider: the problem is real and will be fixed.
    Confirm,
    /// Provider: the data is right (reason required); the hub arbitrates.
    Dispute,
    /// Provider: fixed (reason required).
    Resolve,
    /// Hub: the objection stands; the provider must fix.
    Uphold,
    /// Hub: the objection does not stand.
    Dismiss,
}

impl TicketAction {
    pub fn parse(s: &str) -> Option<TicketAction> {
        Some(match s {
            "confirm" => TicketAction::Confirm,
            "dispute" => TicketAction::Dispute,
            "resolve" => TicketAction::Resolve,
            "uphold" => TicketAction::Uphold,
            "dismiss" => TicketAction::Dismiss,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            TicketAction::Confirm => "confirm",
            TicketAction::Dispute => "dispute",
            TicketAction::Resolve => "resolve",
            TicketAction::Uphold => "uphold",
            TicketAction::Dismiss => "dismiss",
        }
    }
}

/// An objection on records of a resource.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectionInput {
    /// The record's key value (e.g. an ID number).
    pub record_key: String,
    #[serde(default)]
    pub column: Option<String>,
    pub reason: String,
}

/// A ticket with its history.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: TicketRow,
    pub events: Vec<TicketEventRow>,
    pub overdue: bool,
    /// What the asking actor may do next.
    pub actions: Vec<TicketAction>,
}

pub(crate) fn is_overdue(t: &TicketRow, now: &str) -> bool {
    t.state.deadline_runs() && t.deadline.as_str() < now
}

impl Quality {
    /// Opens, updates or closes the automatic tickets of a resource after a check run.
    pub(crate) async fn sync_rule_tickets(
        &self,
        rec: &ResourceRecord,
        run: &QualityRunRow,
        results: &[RuleResult],
        principal: &str,
        department: &str,
    ) -> Result<()> {
        let failing: Vec<&RuleResult> = results.iter().filter(|r| r.failed > 0).collect();
        for r in &failing {
            let detail = serde_json::json!({
                "rule": r.rule, "column": r.column, "type": r.kind,
                "description_zh": r.description_zh, "description_en": r.description_en,
                "checked": r.checked, "version": run.version, "run": run.id,
                "samples": r.samples,
            });
            let summary_zh = format!(
                "{}：{}{} 不合格 {} 条（共检查 {} 条）",
                rec.spec.name,
                r.column
                    .as_deref()
                    .map(|c| format!("{c} "))
                    .unwrap_or_default(),
                r.description_zh,
                r.failed,
                r.checked
            );
            let summary_en = format!(
                "{}: {} of {} values fail “{}”{}",
                rec.code,
                r.failed,
                r.checked,
                r.description_en,
                r.column
                    .as_deref()
                    .map(|c| format!(" on {c}"))
                    .unwrap_or_default()
            );
            let mut tx = self.store.begin().await?;
            match self
                .store
                .open_ticket_for_rule(&rec.code, "rule", &r.rule)
                .await?
            {
                Some(t) => {
                    tx.update_ticket(
                        &t.id,
                        t.state,
                        Some(r.failed as i64),
                        Some(&detail),
                        principal,
                        department,
                        "recheck",
                        &format!("v{}: {} failing", run.version, r.failed),
                    )
                    .await?;
                }
                None => {
                    let now = shuniu_store::now();
                    let t = TicketRow {
                        id: new_id("T"),
                        kind: "rule".into(),
                        resource_code: rec.code.clone(),
                        provider: rec.spec.provider.clone(),
                        raised_by: "system".into(),
                        rule_id: Some(r.rule.clone()),
                        record_key: None,
                        column_name: r.column.clone(),
                        state: TicketState::Open,
                        failed: r.failed as i64,
                        summary_zh,
                        summary_en,
                        detail,
                        deadline: deadline(TICKET_WORKING_DAYS),
                        created_at: now.clone(),
                        updated_at: now,
                        closed_at: None,
                    };
                    tx.insert_ticket(&t).await?;
                    tx.insert_ticket_event(
                        &t.id,
                        principal,
                        department,
                        "opened",
                        TicketState::Open,
                        &format!("v{} run {}", run.version, run.id),
                    )
                    .await?;
                }
            }
            tx.commit().await?;
        }
        let open = self
            .store
            .tickets(&TicketFilter {
                resource: Some(rec.code.clone()),
                kind: Some("rule".into()),
                open_only: true,
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        for t in open {
            let still = failing
                .iter()
                .any(|r| Some(r.rule.as_str()) == t.rule_id.as_deref());
            if still {
                continue;
            }
            let mut tx = self.store.begin().await?;
            tx.update_ticket(
                &t.id,
                TicketState::Closed,
                Some(0),
                None,
                principal,
                department,
                "auto_closed",
                &format!(
                    "版本 v{} 复检通过（{}）/ version {} passes",
                    run.version, run.id, run.version
                ),
            )
            .await?;
            tx.commit().await?;
            self.audit
                .record(
                    Entry::by(
                        Kind::Admin,
                        "quality.ticket.auto_closed",
                        principal,
                        department,
                    )
                    .resource(&rec.code, &rec.spec.provider)
                    .target(&t.id),
                )
                .await?;
        }
        Ok(())
    }

    fn may_see(actor: &Actor, t: &TicketRow) -> bool {
        decide(
            actor,
            Action::ReadTickets,
            Target::TicketsOf {
                department: &t.provider,
            },
        )
        .is_ok()
            || decide(
                actor,
                Action::ReadTickets,
                Target::TicketsOf {
                    department: &t.raised_by,
                },
            )
            .is_ok()
    }

    fn actions_for(actor: &Actor, t: &TicketRow) -> Vec<TicketAction> {
        let handle = decide(
            actor,
            Action::HandleTicket,
            Target::Ticket {
                provider: &t.provider,
            },
        )
        .is_ok();
        let arbitrate = decide(actor, Action::ArbitrateTicket, Target::Hub).is_ok();
        let mut out = Vec::new();
        match t.state {
            TicketState::Open if handle => out.extend([
                TicketAction::Confirm,
                TicketAction::Dispute,
                TicketAction::Resolve,
            ]),
            TicketState::Confirmed if handle => {
                out.extend([TicketAction::Dispute, TicketAction::Resolve])
            }
            TicketState::Disputed if arbitrate => {
                out.extend([TicketAction::Uphold, TicketAction::Dismiss])
            }
            _ => {}
        }
        out
    }

    /// Tickets: the hub sees all, a department officer those of their department (as provider
    /// or as the one who raised them). `department` narrows the hub's list.
    pub async fn tickets(
        &self,
        actor: &Actor,
        department: Option<&str>,
        resource: Option<&str>,
        open_only: bool,
        overdue_only: bool,
    ) -> Result<Vec<TicketRow>> {
        let scope = match department {
            Some(d) => {
                decide(
                    actor,
                    Action::ReadTickets,
                    Target::TicketsOf { department: d },
                )
                .map_err(QualityError::Denied)?;
                Some(d.to_string())
            }
            None => shuniu_policy::require_scope(actor, Action::ReadTickets)
                .map_err(QualityError::Denied)?
                .department()
                .map(str::to_string),
        };
        Ok(self
            .store
            .tickets(&TicketFilter {
                department: scope,
                resource: resource.map(str::to_string),
                kind: None,
                open_only,
                overdue_at: overdue_only.then(shuniu_store::now),
                limit: 1_000,
            })
            .await?)
    }

    pub async fn ticket(&self, actor: &Actor, id: &str) -> Result<TicketView> {
        let t = self
            .store
            .ticket(id)
            .await?
            .filter(|t| Self::may_see(actor, t))
            .ok_or_else(|| QualityError::NotFound(format!("ticket {id}")))?;
        let events = self.store.ticket_events(id).await?;
        Ok(TicketView {
            overdue: is_overdue(&t, &shuniu_store::now()),
            actions: Self::actions_for(actor, &t),
            ticket: t,
            events,
        })
    }

    /// A consumer (or the hub) objects to records of a published resource.
    pub async fn raise_objection(
        &self,
        actor: &Actor,
        code: &str,
        input: ObjectionInput,
    ) -> Result<TicketView> {
        let rec = self.authorize(actor, code, Action::RaiseObjection).await?;
        let key = input.record_key.trim();
        let reason = input.reason.trim();
        let mut bad = Vec::new();
        if key.is_empty() || key.chars().count() > 200 {
            bad.push((
                "record_key",
                "记录标识必填，不超过 200 个字符",
                "the record key is required, at most 200 characters",
            ));
        }
        if reason.is_empty() || reason.chars().count() > 2000 {
            bad.push((
                "reason",
                "异议理由必填，不超过 2000 个字符",
                "a reason is required, at most 2,000 characters",
            ));
        }
        if let Some(c) = &input.column
            && !c.is_empty()
            && !rec.spec.data_items.iter().any(|i| &i.name == c)
        {
            bad.push(("column", "信息项不存在", "no such data item"));
        }
        if let Some((field, zh, en)) = bad.first() {
            return Err(QualityError::invalid(
                "OBJECTION_INVALID",
                format!("{field}：{zh}"),
                format!("{field}: {en}"),
            ));
        }
        let column = input.column.filter(|c| !c.is_empty());
        let now = shuniu_store::now();
        let t = TicketRow {
            id: new_id("T"),
            kind: "objection".into(),
            resource_code: rec.code.clone(),
            provider: rec.spec.provider.clone(),
            raised_by: actor.department.clone(),
            rule_id: None,
            record_key: Some(key.to_string()),
            column_name: column.clone(),
            state: TicketState::Open,
            failed: 1,
            summary_zh: format!("{}：对记录 {key} 提出异议", rec.spec.name),
            summary_en: format!("{}: objection to record {key}", rec.code),
            detail: serde_json::json!({ "reason": reason, "raised_by_principal": actor.principal }),
            deadline: deadline(TICKET_WORKING_DAYS),
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_ticket(&t).await?;
        tx.insert_ticket_event(
            &t.id,
            &actor.principal,
            &actor.department,
            "raised",
            TicketState::Open,
            reason,
        )
        .await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(Kind::Admin, "quality.objection", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(&t.id)
                    .detail(reason.chars().take(200).collect::<String>()),
            )
            .await?;
        self.ticket(actor, &t.id).await
    }

    /// Moves a ticket on: the provider confirms, disputes or resolves; the hub upholds or
    /// dismisses a dispute. A reason is required for everything but a confirmation.
    pub async fn act_on_ticket(
        &self,
        actor: &Actor,
        id: &str,
        action: TicketAction,
        reason: &str,
    ) -> Result<TicketView> {
        let t = self
            .store
            .ticket(id)
            .await?
            .filter(|t| Self::may_see(actor, t))
            .ok_or_else(|| QualityError::NotFound(format!("ticket {id}")))?;
        match action {
            TicketAction::Uphold | TicketAction::Dismiss => {
                decide(actor, Action::ArbitrateTicket, Target::Hub)
            }
            _ => decide(
                actor,
                Action::HandleTicket,
                Target::Ticket {
                    provider: &t.provider,
                },
            ),
        }
        .map_err(QualityError::Denied)?;
        use TicketState as S;
        let next = match (t.state, action) {
            (S::Open, TicketAction::Confirm) => S::Confirmed,
            (S::Open | S::Confirmed, TicketAction::Dispute) => S::Disputed,
            (S::Open | S::Confirmed, TicketAction::Resolve) => S::Closed,
            (S::Disputed, TicketAction::Uphold) => S::Confirmed,
            (S::Disputed, TicketAction::Dismiss) => S::Dismissed,
            (state, a) => {
                return Err(QualityError::invalid(
                    "TICKET_STATE",
                    format!("工单当前状态为 {}，不能执行 {}", state.code(), a.code()),
                    format!("the ticket is {state}; “{}” does not apply", a.code()),
                ));
            }
        };
        debug_assert!(t.state.can_move_to(next));
        let reason = reason.trim();
        if action != TicketAction::Confirm && reason.is_empty() {
            return Err(QualityError::invalid(
                "REASON_REQUIRED",
                "请填写理由",
                "a reason is required",
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.update_ticket(
            id,
            next,
            None,
            None,
            &actor.principal,
            &actor.department,
            action.code(),
            &reason.chars().take(2000).collect::<String>(),
        )
        .await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(
                    Kind::Admin,
                    &format!("quality.ticket.{}", action.code()),
                    actor,
                )
                .resource(&t.resource_code, &t.provider)
                .target(id)
                .detail(reason.chars().take(200).collect::<String>()),
            )
            .await?;
        self.ticket(actor, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_skip_weekends() {
        let d = deadline(5);
        let t = shuniu_store::parse_time(&d).expect("time");
        let days = (t - chrono::Utc::now()).num_hours() as f64 / 24.0;
        // Five working days: seven calendar days from a weekday, five or six from a weekend.
        assert!((4.9..=7.1).contains(&days), "{days}");
    }
}
