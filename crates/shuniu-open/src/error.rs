use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;
use shuniu_types::{Classified, ErrorKind, FieldError, Problem};

/// Errors of the open-data engine, each with a stable code and a Chinese and English message.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("{0} not found")]
    NotFound(String),
    /// A field name the published dataset does not have.
    #[error("field '{0}' does not exist in this dataset")]
    UnknownField(String),
    /// Input that cannot be accepted as given.
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// Not in a state that allows this (decided already …).
    #[error("{en}")]
    State { zh: String, en: String },
    #[error("datastore index: {0}")]
    Index(String),
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
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

pub type Result<T, E = OpenError> = std::result::Result<T, E>;

impl OpenError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        OpenError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn state(zh: impl Into<String>, en: impl Into<String>) -> Self {
        OpenError::State {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            OpenError::Denied(d) => d.code,
            OpenError::NotFound(_) => "NOT_FOUND",
            OpenError::UnknownField(_) => "FIELD_UNKNOWN",
            OpenError::Invalid { code, .. } => code,
            OpenError::State { .. } => "OPEN_STATE",
            OpenError::Index(_) | OpenError::Tantivy(_) => "OPEN_INDEX",
            OpenError::Catalog(e) => e.code(),
            OpenError::Audit(e) => e.code(),
            OpenError::Store(e) => e.code(),
            OpenError::Lake(e) => e.code(),
            OpenError::Io(_) => "IO",
        }
    }

    pub fn message_zh(&self) -> String {
        self.problem().message_zh
    }
}

impl Classified for OpenError {
    fn problem(&self) -> Problem {
        match self {
            OpenError::Denied(d) => d.problem(),
            OpenError::NotFound(what) => Problem::not_found(what),
            OpenError::UnknownField(f) => Problem {
                fields: vec![FieldError::new(
                    "fields",
                    "FIELD_UNKNOWN",
                    format!("数据集中没有字段“{f}”"),
                    format!("field \"{f}\" not in resource"),
                )],
                ..Problem::new(
                    ErrorKind::Invalid,
                    self.code(),
                    format!("数据集中没有字段“{f}”"),
                    format!("field \"{f}\" not in resource"),
                )
            },
            OpenError::Invalid { code, zh, en } => Problem::invalid(code, zh, en),
            OpenError::State { zh, en } => {
                Problem::new(ErrorKind::Conflict, self.code(), zh.clone(), en.clone())
            }
            OpenError::Index(e) => Problem::internal(self.code(), e),
            OpenError::Tantivy(e) => Problem::internal(self.code(), e),
            OpenError::Catalog(e) => e.problem(),
            OpenError::Audit(e) => e.problem(),
            OpenError::Store(e) => e.problem(),
            OpenError::Lake(e) => e.problem(),
            OpenError::Io(e) => Problem::internal(self.code(), e),
        }
    }
}

impl From<Denied> for OpenError {
    fn from(d: Denied) -> Self {
        OpenError::Denied(d)
    }
}
