use shuniu_catalog::CatalogError;
use shuniu_ingest::IngestError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;
use shuniu_types::{Classified, Problem};

#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
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
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] shuniu_audit::AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Quality(#[from] shuniu_quality::QualityError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AggregateError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        AggregateError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub(crate) fn io(e: std::io::Error) -> Self {
        AggregateError::Ingest(IngestError::Io(e))
    }

    pub(crate) fn join(e: tokio::task::JoinError) -> Self {
        AggregateError::Internal(format!("a load task failed: {e}"))
    }

    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            AggregateError::Denied(d) => d.code,
            AggregateError::NotFound(_) => "NOT_FOUND",
            AggregateError::Invalid { code, .. } => code,
            AggregateError::Catalog(e) => e.code(),
            AggregateError::Audit(e) => e.code(),
            AggregateError::Store(e) => e.code(),
            AggregateError::Lake(e) => e.code(),
            AggregateError::Ingest(e) => e.code(),
            AggregateError::Quality(e) => e.code(),
            AggregateError::Internal(_) => "INTERNAL",
        }
    }

    pub fn message_zh(&self) -> String {
        self.problem().message_zh
    }

    pub fn message_en(&self) -> String {
        self.problem().message_en
    }
}

impl Classified for AggregateError {
    fn problem(&self) -> Problem {
        match self {
            AggregateError::Denied(d) => d.problem(),
            AggregateError::NotFound(what) => Problem::not_found(what),
            AggregateError::Invalid { code, zh, en } => Problem::invalid(code, zh, en),
            AggregateError::Catalog(e) => e.problem(),
            AggregateError::Audit(e) => e.problem(),
            AggregateError::Store(e) => e.problem(),
            AggregateError::Lake(e) => e.problem(),
            AggregateError::Ingest(e) => e.problem(),
            AggregateError::Quality(e) => e.problem(),
            AggregateError::Internal(e) => Problem::internal(self.code(), e),
        }
    }
}
