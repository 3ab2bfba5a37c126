use shuniu_catalog::CatalogError;
use shuniu_ingest::IngestError;
use shuniu_lake::LakeError;
use shuniu_policy::Denied;
use shuniu_store::StoreError;

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
        match self {
            AggregateError::Denied(d) => d.message_zh.clone(),
            AggregateError::NotFound(what) => format!("未找到：{what}"),
            AggregateError::Invalid { zh, .. } => zh.clone(),
            AggregateError::Catalog(CatalogError::Denied(d)) => d.message_zh.clone(),
            AggregateError::Catalog(CatalogError::NotFound(c)) => format!("资源 {c} 不存在"),
            AggregateError::Catalog(e) => format!("目录服务错误：{e}"),
            AggregateError::Store(e) => format!("控制库错误：{e}"),
            AggregateError::Lake(e) => lake_messages(e).0,
            AggregateError::Ingest(e) => e.message_zh(),
            AggregateError::Quality(e) => e.message_zh(),
            AggregateError::Internal(e) => format!("内部错误：{e}"),
            AggregateError::Audit(e) => e.to_string(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            AggregateError::Lake(e) => lake_messages(e).1,
            other => other.to_string(),
        }
    }

    /// True when the caller may not learn the target exists.
    pub fn hidden(&self) -> bool {
        matches!(self, AggregateError::Denied(d) if d.hide)
            || matches!(self, AggregateError::Catalog(CatalogError::Denied(d)) if d.hide)
    }
}

/// Chinese and English text for a lake error.
pub(crate) fn lake_messages(e: &LakeError) -> (String, String) {
    let en = e.to_string();
    let zh = match e {
        LakeError::NoData(c) => format!("资源 {c} 还没有汇聚数据"),
        LakeError::NoSuchVersion { code, version } => {
            format!("资源 {code} 不存在版本 {version}")
        }
        LakeError::Input(m) => format!("输入不符合要求：{m}"),
        LakeError::DuplicateKeys(k) => {
            format!("输入中有重复的主键，更新或删除无法确定对应的行：\n{k}")
        }
        LakeError::Sql(m) => format!("SQL 有误：{m}"),
        LakeError::Aborted(m) => format!("汇聚已中止，未提交任何数据：{m}"),
        LakeError::Delta(m) => format!("写入数据湖失败，未提交任何数据：{m}"),
        LakeError::DataFusion(m) => format!("查询失败：{m}"),
        LakeError::Io(m) => format!("存储读写失败：{m}"),
        LakeError::Config(m) => format!("数据湖配置有误：{m}"),
    };
    (zh, en)
}
