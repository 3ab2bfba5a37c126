use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;

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
        match self {
            SharingError::Denied(d) => d.message_zh.clone(),
            SharingError::NotFound(what) => format!("未找到：{what}"),
            SharingError::Invalid { zh, .. }
            | SharingError::State { zh, .. }
            | SharingError::Limited { zh, .. } => zh.clone(),
            SharingError::Index(e) => format!("服务索引错误：{e}"),
            SharingError::Catalog(CatalogError::Denied(d)) => d.message_zh.clone(),
            SharingError::Catalog(CatalogError::NotFound(c)) => format!("资源 {c} 不存在"),
            SharingError::Catalog(e) => format!("目录服务错误：{e}"),
            SharingError::Audit(e) => format!("审计日志错误：{e}"),
            SharingError::Store(e) => format!("控制库错误：{e}"),
            SharingError::Lake(e) => format!("数据湖错误：{e}"),
            SharingError::Io(e) => format!("读写错误：{e}"),
        }
    }

    /// Whether the caller asked for something that is not there (404) or may not know of it.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SharingError::NotFound(_) | SharingError::Catalog(CatalogError::NotFound(_))
        ) || matches!(self, SharingError::Denied(d) if d.hide)
            || matches!(self, SharingError::Catalog(CatalogError::Denied(d)) if d.hide)
    }
}

impl From<Denied> for SharingError {
    fn from(d: Denied) -> Self {
        SharingError::Denied(d)
    }
}
