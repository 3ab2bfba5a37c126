use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;
use shuniu_types::{Classified, ErrorKind, Problem};

/// Errors of the quality engine, each with a stable code and a Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// A rule, objection or designation that cannot be accepted as given.
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] shuniu_audit::AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
}

impl QualityError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        QualityError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            QualityError::Denied(d) => d.code,
            QualityError::NotFound(_) => "NOT_FOUND",
            QualityError::Invalid { code, .. } => code,
            QualityError::Catalog(e) => e.code(),
            QualityError::Audit(e) => e.code(),
            QualityError::Store(e) => e.code(),
            QualityError::Lake(e) => e.code(),
        }
    }

    pub fn message_zh(&self) -> String {
        self.problem().message_zh
    }
}

impl Classified for QualityError {
    fn problem(&self) -> Problem {
        match self {
            QualityError::Denied(d) => d.problem(),
            QualityError::NotFound(what) => Problem::not_found(what),
            QualityError::Invalid { code, zh, en } => Problem::new(
                // A ticket asked to move where its state does not allow is a conflict.
                if code.starts_with("TICKET_STATE") {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::Invalid
                },
                code,
                zh.clone(),
                en.clone(),
            ),
            QualityError::Catalog(e) => e.problem(),
            QualityError::Audit(e) => e.problem(),
            QualityError::Store(e) => e.problem(),
            QualityError::Lake(e) => e.problem(),
        }
    }
}
