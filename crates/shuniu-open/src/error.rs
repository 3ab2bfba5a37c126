use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;

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
        match self {
            OpenError::Denied(d) => d.message_zh.clone(),
            OpenError::NotFound(what) => format!("未找到：{what}"),
            OpenError::UnknownField(f) => format!("数据集中没有字段“{f}”"),
            OpenError::Invalid { zh, .. } | OpenError::State { zh, .. } => zh.clone(),
            OpenError::Index(e) => format!("开放数据索引错误：{e}"),
            OpenError::Tantivy(e) => format!("开放数据索引错误：{e}"),
            OpenError::Catalog(e) => format!("目录服务错误：{e}"),
            OpenError::Audit(e) => format!("审计日志错误：{e}"),
            OpenError::Store(e) => format!("控制库错误：{e}"),
            OpenError::Lake(e) => format!("数据湖错误：{e}"),
            OpenError::Io(e) => format!("读写错误：{e}"),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, OpenError::NotFound(_)) || matches!(self, OpenError::Denied(d) if d.hide)
    }

    /// Whether the caller's input was at fault (4xx) rather than the hub (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            OpenError::Denied(_)
                | OpenError::NotFound(_)
                | OpenError::UnknownField(_)
                | OpenError::Invalid { .. }
                | OpenError::State { .. }
        )
    }
}

impl From<Denied> for OpenError {
    fn from(d: Denied) -> Self {
        OpenError::Denied(d)
    }
}
