use shuniu_types::{Classified, ErrorKind, FieldError, Problem};

/// Why a definition, a case or a step cannot do what was asked, with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// A definition or an application with problems, each under its field.
    #[error("invalid: {0:?}")]
    Fields(Vec<FieldError>),
    /// BPMN that cannot be read or uses what the hub's subset does not offer.
    #[error("BPMN: {en}")]
    Bpmn { zh: String, en: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// Refused by the policy module.
    #[error("denied: {}", .0.message_en)]
    Denied(shuniu_policy::Denied),
    /// Not in a state that allows it (a decided step decided again, a closed case).
    #[error("{en}")]
    State { zh: String, en: String },
    #[error("internal: {0}")]
    Internal(String),
}

pub(crate) fn internal(e: impl std::fmt::Display) -> CasesError {
    CasesError::Internal(e.to_string())
}

pub(crate) fn state(zh: &str, en: &str) -> CasesError {
    CasesError::State {
        zh: zh.into(),
        en: en.into(),
    }
}

pub(crate) fn bpmn(zh: impl Into<String>, en: impl Into<String>) -> CasesError {
    CasesError::Bpmn {
        zh: zh.into(),
        en: en.into(),
    }
}

impl Classified for CasesError {
    fn problem(&self) -> Problem {
        match self {
            CasesError::Fields(fields) => {
                let mut p = Problem::new(
                    ErrorKind::Invalid,
                    "CASE_INVALID",
                    format!("有 {} 处需要修改", fields.len()),
                    format!("{} fields need correcting", fields.len()),
                );
                p.fields = fields.clone();
                p
            }
            CasesError::Bpmn { zh, en } => Problem::new(
                ErrorKind::Invalid,
                "BPMN_INVALID",
                format!("BPMN 流程无法导入：{zh}"),
                format!("the BPMN process cannot be imported: {en}"),
            ),
            CasesError::NotFound(what) => Problem::not_found(what),
            CasesError::Denied(d) => d.problem(),
            CasesError::State { zh, en } => {
                Problem::new(ErrorKind::Conflict, "CASE_STATE", zh.clone(), en.clone())
            }
            CasesError::Internal(e) => Problem::internal("CASES_INTERNAL", e),
        }
    }
}
