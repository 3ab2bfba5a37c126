use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;
use shuniu_types::{Classified, ErrorKind, Problem};

/// Errors of the sharing engine and the unified service, each with a stable code and a
/// Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum SharingError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// A request, answer or call that cannot be accepted as given.
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The request is not in a state that allows this (decided already, grant revoked …).
    #[error("{en}")]
    State { zh: String, en: String },
    /// Past the grant's rate limit or daily quota: retry after this many seconds.
    #[error("{en}")]
    Limited {
        code: &'static str,
        retry_after: u64,
        zh: String,
        en: String,
    },
    #[error("serving index: {0}")]
    Index(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] shuniu_audit::AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = SharingError> = std::result::Result<T, E>;

impl SharingError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        SharingError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn state(zh: impl Into<String>, en: impl Into<String>) -> Self {
        SharingError::State {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SharingError::Denied(d) => d.code,
            SharingError::NotFound(_) => "NOT_FOUND",
            SharingError::Invalid { code, .. } => code,
            SharingError::State { .. } => "REQUEST_STATE",
            SharingError::Limited { code, .. } => code,
            SharingError::Index(_) => "SERVING_INDEX",
            SharingError::Catalog(e) => e.code(),
            SharingError::Audit(e) => e.code(),
            SharingError::Store(e) => e.code(),
            SharingError::Lake(e) => e.code(),
            SharingError::Io(_) => "IO",
        }
    }

    pub fn message_zh(&self) -> String {
        self.problem().message_zh
    }
}

impl Classified for SharingError {
    fn problem(&self) -> Problem {
        match self {
            SharingError::Denied(d) => d.problem(),
            SharingError::NotFound(what) => Problem::not_found(what),
            SharingError::Invalid { code, zh, en } => Problem::invalid(code, zh, en),
            SharingError::State { zh, en } => {
                Problem::new(ErrorKind::Conflict, self.code(), zh.clone(), en.clone())
            }
            SharingError::Limited {
                code,
                retry_after,
                zh,
                en,
            } => Problem {
                retry_after: Some(*retry_after),
                ..Problem::new(ErrorKind::Limited, code, zh.clone(), en.clone())
            },
            SharingError::Index(e) => Problem::internal(self.code(), e),
            SharingError::Catalog(e) => e.problem(),
            SharingError::Audit(e) => e.problem(),
            SharingError::Store(e) => e.problem(),
            SharingError::Lake(e) => e.problem(),
            SharingError::Io(e) => Problem::internal(self.code(), e),
        }
    }
}

impl From<Denied> for SharingError {
    fn from(d: Denied) -> Self {
        SharingError::Denied(d)
    }
}
