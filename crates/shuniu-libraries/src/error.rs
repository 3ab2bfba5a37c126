use shuniu_policy::Denied;
use shuniu_types::{Classified, ErrorKind, Problem};

/// Errors of the base-library engine, each with a stable code and a Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// A definition or build that cannot be done as asked.
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error(transparent)]
    Catalog(#[from] shuniu_catalog::CatalogError),
    #[error(transparent)]
    Aggregate(#[from] shuniu_aggregate::AggregateError),
    #[error(transparent)]
    Sharing(#[from] shuniu_sharing::SharingError),
    #[error(transparent)]
    Audit(#[from] shuniu_audit::AuditError),
    #[error(transparent)]
    Store(#[from] shuniu_store::StoreError),
    #[error(transparent)]
    Licence(#[from] shuniu_licences::LicenceError),
    #[error("{0}")]
    Internal(String),
}

impl LibraryError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        LibraryError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.problem().code
    }

    pub fn message_zh(&self) -> String {
        self.problem().message_zh
    }
}

impl Classified for LibraryError {
    fn problem(&self) -> Problem {
        match self {
            LibraryError::Denied(d) => d.problem(),
            LibraryError::NotFound(what) => Problem::not_found(what),
            LibraryError::Invalid { code, zh, en } => {
                Problem::new(ErrorKind::Invalid, code, zh.clone(), en.clone())
            }
            LibraryError::Catalog(e) => e.problem(),
            LibraryError::Aggregate(e) => e.problem(),
            LibraryError::Sharing(e) => e.problem(),
            LibraryError::Audit(e) => e.problem(),
            LibraryError::Store(e) => e.problem(),
            LibraryError::Licence(e) => e.problem(),
            LibraryError::Internal(m) => Problem::new(
                ErrorKind::Internal,
                "LIBRARY_INTERNAL",
                format!("基础库构建失败：{m}"),
                format!("the library build failed: {m}"),
            ),
        }
    }
}
