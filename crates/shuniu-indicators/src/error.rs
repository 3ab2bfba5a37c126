use shuniu_policy::Denied;
use shuniu_types::{Classified, ErrorKind, Problem};

use shuniu_types::FieldError;

/// Errors of the indicator engine, each with a stable code and a Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// Fields of a definition that are not right, all of them.
    #[error("the definition is not valid: {}", .0.iter().map(|p| p.message_en.as_str()).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldError>),
    /// The definition's query cannot run over the lake or does not return what an indicator
    /// needs (refused when saved).
    #[error("the query cannot compute the indicator: {en}")]
    Query { zh: String, en: String },
    /// A state change the definition's review workflow does not allow.
    #[error("{en}")]
    State { zh: String, en: String },
    #[error("{0}")]
    Internal(String),
}

impl IndicatorError {
    pub fn code(&self) -> &'static str {
        self.problem().code
    }

    pub(crate) fn query(zh: impl Into<String>, en: impl Into<String>) -> Self {
        IndicatorError::Query {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub(crate) fn state(zh: impl Into<String>, en: impl Into<String>) -> Self {
        IndicatorError::State {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> IndicatorError {
    IndicatorError::Internal(e.to_string())
}

impl Classified for IndicatorError {
    fn problem(&self) -> Problem {
        match self {
            IndicatorError::Denied(d) => d.problem(),
            IndicatorError::NotFound(what) => Problem::not_found(what),
            IndicatorError::Fields(fields) => {
                let mut p = Problem::new(
                    ErrorKind::Invalid,
                    "INDICATOR_INVALID",
                    format!(
                        "指标定义有误：{}",
                        fields
                            .iter()
                            .map(|f| f.message_zh.as_str())
                            .collect::<Vec<_>>()
                            .join("；")
                    ),
                    self.to_string(),
                );
                p.fields = fields.clone();
                p
            }
            IndicatorError::Query { zh, en } => Problem::new(
                ErrorKind::Invalid,
                "INDICATOR_QUERY",
                format!("取数 SQL 无法计算该指标：{zh}"),
                format!("the query cannot compute the indicator: {en}"),
            ),
            IndicatorError::State { zh, en } => Problem::new(
                ErrorKind::Conflict,
                "INDICATOR_STATE",
                zh.clone(),
                en.clone(),
            ),
            IndicatorError::Internal(m) => Problem::new(
                ErrorKind::Internal,
                "INDICATOR_INTERNAL",
                format!("指标处理失败：{m}"),
                format!("the indicator could not be processed: {m}"),
            ),
        }
    }
}
