//! The vocabularies of city events (一网统管): states, urgency, channels and actions. The
//! rules of how an event moves are in `shuniu-events`.

use crate::vocabulary;

vocabulary! {
    /// Where an event stands.
    EventState, "EVENT_STATE_INVALID" {
        /// Received, waiting for the dispatcher (待分拨).
        Reported = ("reported", "待分拨", "Reported"),
        /// Sent to the department or street office responsible (已派遣).
        Dispatched = ("dispatched", "已派遣", "Dispatched"),
        /// Accepted by its handler and being dealt with (处置中).
        Handling = ("handling", "处置中", "Being handled"),
        /// The handler reports it done; the reporter or an inspector checks (待核查).
        Handled = ("handled", "待核查", "Handled, awaiting verification"),
        /// Verified and closed (已办结).
        Closed = ("closed", "已办结", "Closed"),
        /// A duplicate, merged into its parent event (已合并).
        Merged = ("merged", "已合并", "Merged"),
    }
}

vocabulary! {
    /// How fast an event must be dealt with.
    Urgency, "EVENT_URGENCY_INVALID" {
        Normal = ("normal", "一般", "Normal"),
        Urgent = ("urgent", "紧急", "Urgent"),
        Emergency = ("emergency", "特急", "Emergency"),
    }
}

vocabulary! {
    /// Where an event came from.
    Channel, "EVENT_CHANNEL_INVALID" {
        Hotline = ("hotline", "12345热线", "12345 hotline"),
        Grid = ("grid", "网格巡查", "Grid inspector"),
        Sensor = ("sensor", "感知设备", "Sensor or camera"),
        Open311 = ("open311", "Open311 应用", "Open311 client"),
        Indicator = ("indicator", "指标预警", "Indicator alert"),
        Console = ("console", "控制台登记", "Registered in the console"),
    }
}

vocabulary! {
    /// What someone does to an event.
    EventAction, "EVENT_ACTION_INVALID" {
        Report = ("report", "上报", "Report"),
        Dispatch = ("dispatch", "派遣", "Dispatch"),
        Accept = ("accept", "签收", "Accept"),
        /// The handler sends it back to the dispatcher, with a reason (退单).
        Return = ("return", "退单", "Return"),
        /// The dispatcher sends it to another department.
        Transfer = ("transfer", "改派", "Transfer"),
        /// A handling note (with photos) that does not change the state.
        Note = ("note", "处置记录", "Handling note"),
        Handle = ("handle", "处置完成", "Mark handled"),
        /// The check passes: closed (回访/核查通过).
        Verify = ("verify", "核查通过", "Verify"),
        /// The check fails: back to the handler.
        Reject = ("reject", "核查不通过", "Reject"),
        Reopen = ("reopen", "重新打开", "Reopen"),
        /// Overdue: raised to the supervising level (the state does not change).
        Escalate = ("escalate", "超期升级", "Escalate"),
        /// Reminded before the deadline (the state does not change).
        Remind = ("remind", "临期提醒", "Remind"),
        Merge = ("merge", "合并", "Merge"),
    }
}

impl EventState {
    /// Whether the event is still somebody's work.
    pub fn is_open(self) -> bool {
        !matches!(self, EventState::Closed | EventState::Merged)
    }

    /// Open311's two statuses.
    pub fn open311(self) -> &'static str {
        if self.is_open() { "open" } else { "closed" }
    }
}
