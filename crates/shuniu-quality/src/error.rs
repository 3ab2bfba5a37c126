use shuniu_catalog::CatalogError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;

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
        match self {
            QualityError::Denied(d) => d.message_zh.clone(),
            QualityError::NotFound(what) => format!("未找到：{what}"),
            QualityError::Invalid { zh, .. } => zh.clone(),
            QualityError::Catalog(CatalogError::Denied(d)) => d.message_zh.clone(),
            QualityError::Catalog(CatalogError::NotFound(c)) => format!("资源 {c} 不存在"),
            QualityError::Catalog(e) => format!("目录服务错误：{e}"),
            QualityError::Audit(e) => format!("审计日志错误：{e}"),
            QualityError::Store(e) => format!("控制库错误：{e}"),
            QualityError::Lake(e) => format!("数据湖错误：{e}"),
        }
    }

    /// Whether the caller asked for something that is not there (404) or was refused (403).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            QualityError::NotFound(_) | QualityError::Catalog(CatalogError::NotFound(_))
        ) || matches!(self, QualityError::Denied(d) if d.hide)
            || matches!(self, QualityError::Catalog(CatalogError::Denied(d)) if d.hide)
    }
}
