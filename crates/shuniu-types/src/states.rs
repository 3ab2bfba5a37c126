//! Where each workflow object is in its life, as enums with their allowed moves. Stored as the
//! same text codes the control plane always held (`pending`, `granted` …), so no data
//! migrates; parsed once when a row is read, then trusted. An engine asks the state what it
//! allows (`awaits_decision`, `can_move_to`) instead of comparing strings.
//!
//! A problem ticket's moves are driven by the quality engine's actions (`TicketAction`); its
//! states are here with the rest.

use crate::vocabulary;

vocabulary! {
    /// A sharing request (共享申请). Conditional requests wait for the provider by a deadline,
    /// then for the hub (escalated); unconditional ones are granted at once, not-shared ones
    /// refused at once.
    RequestState, "REQUEST_STATE_INVALID" {
        Pending = ("pending", "待审批", "Pending"),
        Escalated = ("escalated", "已升级至大数据局", "Escalated"),
        Granted = ("granted", "已授权", "Granted"),
        Refused = ("refused", "不予同意", "Refused"),
    }
}

impl RequestState {
    /// Whether a decision (approve or refuse) may still be taken.
    pub fn awaits_decision(self) -> bool {
        matches!(self, RequestState::Pending | RequestState::Escalated)
    }

    /// Whether the hub, not the provider, decides now.
    pub fn is_escalated(self) -> bool {
        self == RequestState::Escalated
    }

    /// The moves a request may make: a pending one escalates past its deadline; a waiting
    /// one is granted or refused, once.
    pub fn can_move_to(self, next: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, next),
            (Pending, Escalated) | (Pending | Escalated, Granted | Refused)
        )
    }

    /// The states a request may be in for it to move to `next`.
    pub fn predecessors(next: RequestState) -> Vec<RequestState> {
        RequestState::ALL
            .iter()
            .copied()
            .filter(|s| s.can_move_to(next))
            .collect()
    }
}

vocabulary! {
    /// A grant (授权): in force until revoked by the provider or the hub, or until it expires.
    GrantState, "GRANT_STATE_INVALID" {
        Active = ("active", "有效", "Active"),
        Revoked = ("revoked", "已吊销", "Revoked"),
        Expired = ("expired", "已过期", "Expired"),
    }
}

impl GrantState {
    /// Whether calls under the grant may be answered.
    pub fn is_active(self) -> bool {
        self == GrantState::Active
    }

    /// Only an active grant ends, by revocation or expiry.
    pub fn can_move_to(self, next: GrantState) -> bool {
        self == GrantState::Active && next != GrantState::Active
    }
}

vocabulary! {
    /// A demand for data (数据需求): filed, routed to the department that holds the data, answered.
    DemandState, "DEMAND_STATE_INVALID" {
        Open = ("open", "待分派", "Open"),
        Routed = ("routed", "已分派", "Routed"),
        Answered = ("answered", "已答复", "Answered"),
        Closed = ("closed", "已关闭", "Closed"),
    }
}

impl DemandState {
    /// Whether the demand still waits for an answer (routing or answering it is allowed).
    pub fn is_awaiting(self) -> bool {
        matches!(self, DemandState::Open | DemandState::Routed)
    }

    pub fn can_move_to(self, next: DemandState) -> bool {
        use DemandState::*;
        matches!(
            (self, next),
            (Open | Routed, Routed) | (Open | Routed, Answered) | (Answered, Closed)
        )
    }
}

vocabulary! {
    /// A load into a resource's dataset (汇聚任务).
    LoadStatus, "LOAD_STATUS_INVALID" {
        Running = ("running", "进行中", "Running"),
        Succeeded = ("succeeded", "成功", "Succeeded"),
        Failed = ("failed", "失败", "Failed"),
        /// The process running it stopped; nothing of it was committed.
        Interrupted = ("interrupted", "已中断", "Interrupted"),
    }
}

/// A load begins running.
impl Default for LoadStatus {
    fn default() -> Self {
        LoadStatus::Running
    }
}

impl LoadStatus {
    /// Whether the load committed a dataset version.
    pub fn committed(self) -> bool {
        self == LoadStatus::Succeeded
    }

    pub fn is_finished(self) -> bool {
        self != LoadStatus::Running
    }
}

vocabulary! {
    /// A comparison job (比对任务) of the unified service.
    JobState, "JOB_STATE_INVALID" {
        Running = ("running", "进行中", "Running"),
        Finished = ("finished", "已完成", "Finished"),
        Failed = ("failed", "失败", "Failed"),
    }
}

vocabulary! {
    /// A webhook delivery of changes to a subscriber.
    DeliveryState, "DELIVERY_STATE_INVALID" {
        Pending = ("pending", "待投递", "Pending"),
        Delivered = ("delivered", "已投递", "Delivered"),
        /// Given up after the last retry (dead letter); the hub may send it again.
        Dead = ("dead", "投递失败", "Dead letter"),
    }
}

vocabulary! {
    /// An application for conditionally open data (开放数据申请).
    OpenApplicationState, "OPEN_APPLICATION_STATE_INVALID" {
        Pending = ("pending", "待审核", "Pending"),
        Approved = ("approved", "已批准", "Approved"),
        Refused = ("refused", "未批准", "Refused"),
    }
}

impl OpenApplicationState {
    /// Whether the provider still has to approve or refuse it.
    pub fn awaits_decision(self) -> bool {
        self == OpenApplicationState::Pending
    }
}

vocabulary! {
    /// An open-data publication: its published copy serves the portal; withdrawn when the
    /// entry stops being open; failed when its last derivation did not complete.
    PublicationState, "PUBLICATION_STATE_INVALID" {
        Published = ("published", "已开放", "Published"),
        Withdrawn = ("withdrawn", "已下线", "Withdrawn"),
        Failed = ("failed", "发布失败", "Failed"),
    }
}

vocabulary! {
    /// What one publication run did to an entry.
    PublishOutcome, "PUBLISH_OUTCOME_INVALID" {
        Published = ("published", "已发布", "Published"),
        Unchanged = ("unchanged", "无变化", "Unchanged"),
        Withdrawn = ("withdrawn", "已下线", "Withdrawn"),
        NotOpen = ("not_open", "不开放", "Not open"),
        Failed = ("failed", "失败", "Failed"),
    }
}

vocabulary! {
    /// A problem ticket (问题工单): open at the provider until confirmed, resolved or disputed;
    /// a disputed one waits for the hub's arbitration.
    TicketState, "TICKET_STATE_INVALID" {
        Open = ("open", "待处理", "Open"),
        Confirmed = ("confirmed", "已确认", "Confirmed"),
        Disputed = ("disputed", "有异议", "Disputed"),
        Closed = ("closed", "已关闭", "Closed"),
        Dismissed = ("dismissed", "已驳回", "Dismissed"),
    }
}

impl TicketState {
    /// Closed or dismissed: nothing more happens to it.
    pub fn is_finished(self) -> bool {
        matches!(self, TicketState::Closed | TicketState::Dismissed)
    }

    /// Whether the ticket's deadline binds the provider now (not finished, not with the hub).
    pub fn deadline_runs(self) -> bool {
        !self.is_finished() && self != TicketState::Disputed
    }

    pub fn can_move_to(self, next: TicketState) -> bool {
        use TicketState::*;
        matches!(
            (self, next),
            (Open, Confirmed)
                | (Open | Confirmed, Disputed | Closed)
                | (Disputed, Confirmed | Dismissed)
                // A recheck updates a ticket in place; a passing one closes it.
                | (Open | Confirmed, Open | Confirmed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_as_stored() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse_term(s.code()), Some(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.code()));
        }
        for s in LoadStatus::ALL {
            assert_eq!(s.code().parse::<LoadStatus>().unwrap(), *s);
        }
        assert!("granted?".parse::<RequestState>().is_err());
    }

    #[test]
    fn requests_are_decided_once() {
        use RequestState::*;
        assert!(Pending.can_move_to(Escalated));
        assert!(!Escalated.can_move_to(Pending));
        for decided in [Granted, Refused] {
            assert!(Pending.can_move_to(decided));
            assert!(Escalated.can_move_to(decided));
            for next in RequestState::ALL {
                assert!(!decided.can_move_to(*next), "{decided:?} → {next:?}");
            }
        }
        assert_eq!(
            RequestState::predecessors(Granted),
            vec![Pending, Escalated]
        );
        assert_eq!(RequestState::predecessors(Escalated), vec![Pending]);
    }

    #[test]
    fn ended_things_stay_ended() {
        assert!(!GrantState::Revoked.can_move_to(GrantState::Active));
        assert!(GrantState::Active.can_move_to(GrantState::Expired));
        assert!(!DemandState::Answered.can_move_to(DemandState::Routed));
    }
}
