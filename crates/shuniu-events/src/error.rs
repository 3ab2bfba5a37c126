use shuniu_policy::Denied;
use shuniu_types::{Classified, ErrorKind, Problem};

/// Errors of the event engine, each with a stable code and a Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// A device's alert whose signature, time or device is not right.
    #[error("the alert is not signed as registered: {0}")]
    Unsigned(String),
    #[error("{0}")]
    Internal(String),
}

impl EventError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        EventError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.problem().code
    }
}

impl Classified for EventError {
    fn problem(&self) -> Problem {
        match self {
            EventError::Denied(d) => d.problem(),
            EventError::NotFound(what) => Problem::not_found(what),
            EventError::Invalid { code, zh, en } => {
                Problem::new(ErrorKind::Invalid, code, zh.clone(), en.clone())
            }
            EventError::Unsigned(why) => Problem::new(
                ErrorKind::Unauthenticated,
                "EVENT_SIGNATURE",
                format!("告警签名无效（{why}）"),
                format!("the alert is not signed as registered: {why}"),
            ),
            EventError::Internal(m) => Problem::new(
                ErrorKind::Internal,
                "EVENT_INTERNAL",
                format!("事件处理失败：{m}"),
                format!("the event could not be processed: {m}"),
            ),
        }
    }
}
