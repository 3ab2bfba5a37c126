use shuniu_types::{Classified, ErrorKind, Problem};

/// Why a rule or a parameter cannot be used, each with a stable code and a Chinese and English
/// message an officer can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The text is not a rule (a bracket not closed, an operator with nothing after it).
    #[error("the rule cannot be read: {en}")]
    Syntax { zh: String, en: String },
    /// A name that is neither an attribute of the target nor a parameter.
    #[error("unknown attribute {0:?}")]
    UnknownAttribute(String),
    /// 【name】 names no parameter.
    #[error("unknown parameter {0:?}")]
    UnknownParameter(String),
    /// The parameter has no value in force on the day the policy is evaluated for.
    #[error("parameter {name:?} has no value in force on {day}")]
    ParameterNoValue { name: String, day: String },
    /// Text compared with a number, a condition that is not true or false, arithmetic on text.
    #[error("type mismatch: {en}")]
    TypeMismatch { zh: String, en: String },
    /// SQL the rule language does not offer (functions, subqueries …).
    #[error("not allowed in a rule: {0}")]
    Unsupported(String),
}

impl RuleError {
    pub fn code(&self) -> &'static str {
        self.problem().code
    }

    pub(crate) fn syntax(zh: impl Into<String>, en: impl Into<String>) -> RuleError {
        RuleError::Syntax {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub(crate) fn mismatch(zh: impl Into<String>, en: impl Into<String>) -> RuleError {
        RuleError::TypeMismatch {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl Classified for RuleError {
    fn problem(&self) -> Problem {
        let invalid = |code, zh: String, en: String| Problem::new(ErrorKind::Invalid, code, zh, en);
        match self {
            RuleError::Syntax { zh, en } => invalid(
                "RULE_SYNTAX",
                format!("规则无法解析：{zh}"),
                format!("the rule cannot be read: {en}"),
            ),
            RuleError::UnknownAttribute(name) => invalid(
                "RULE_UNKNOWN_ATTRIBUTE",
                format!("没有名为“{name}”的属性"),
                format!("there is no attribute {name:?}"),
            ),
            RuleError::UnknownParameter(name) => invalid(
                "RULE_UNKNOWN_PARAMETER",
                format!("没有名为“{name}”的参数"),
                format!("there is no parameter {name:?}"),
            ),
            RuleError::ParameterNoValue { name, day } => invalid(
                "RULE_PARAMETER_NO_VALUE",
                format!("参数“{name}”在 {day} 没有生效的取值"),
                format!("parameter {name:?} has no value in force on {day}"),
            ),
            RuleError::TypeMismatch { zh, en } => invalid(
                "RULE_TYPE_MISMATCH",
                format!("类型不符：{zh}"),
                format!("type mismatch: {en}"),
            ),
            RuleError::Unsupported(what) => invalid(
                "RULE_UNSUPPORTED",
                format!("规则中不能使用 {what}"),
                format!("not allowed in a rule: {what}"),
            ),
        }
    }
}

/// Errors of the matching engine.
#[derive(Debug, thiserror::Error)]
pub enum MatchingError {
    #[error("{}", .0.message_en)]
    Denied(shuniu_policy::Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// A policy's fields and rules that are not right, all of them.
    #[error("the policy is not valid: {}", .0.iter().map(|p| p.message_en.as_str()).collect::<Vec<_>>().join("; "))]
    Fields(Vec<shuniu_types::FieldError>),
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A step the review workflow does not allow now.
    #[error("{en}")]
    State { zh: String, en: String },
    #[error("{0}")]
    Internal(String),
}

impl MatchingError {
    pub fn code(&self) -> &'static str {
        self.problem().code
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> MatchingError {
    MatchingError::Internal(e.to_string())
}

impl Classified for MatchingError {
    fn problem(&self) -> Problem {
        match self {
            MatchingError::Denied(d) => d.problem(),
            MatchingError::NotFound(what) => Problem::not_found(what),
            MatchingError::Fields(fields) => {
                let mut p = Problem::new(
                    ErrorKind::Invalid,
                    "POLICY_INVALID",
                    format!("政策定义有 {} 处问题", fields.len()),
                    format!("the policy has {} problems", fields.len()),
                );
                p.fields = fields.clone();
                p
            }
            MatchingError::Rule(e) => e.problem(),
            MatchingError::State { zh, en } => {
                Problem::new(ErrorKind::Conflict, "POLICY_STATE", zh.clone(), en.clone())
            }
            MatchingError::Internal(e) => Problem::internal("MATCHING_INTERNAL", e),
        }
    }
}
