use shuniu_store::StoreError;
use shuniu_types::{Classified, ErrorKind, Problem};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("审计日志读写失败 / audit log I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "审计日志在{position}处损坏：{reason} / the audit log is damaged at {position}: {reason}; run `shuniu audit verify`"
    )]
    Damaged { position: String, reason: String },
    #[error(
        "审计日志此前写入失败，重启后方可继续 / an earlier audit write failed; restart to recover the log"
    )]
    Poisoned,
    #[error("审计日志已关闭 / the audit log is shut down")]
    Closed,
    #[error("签名密钥无效 / the tree-head key is not a valid SM2 key")]
    BadKey,
    #[error("审计密钥无法打开 / {0}")]
    Keys(#[from] shuniu_keys::KeyError),
    #[error(
        "条目 {index} 不存在（日志共 {size} 条）/ entry {index} does not exist (the log has {size} entries)"
    )]
    NoSuchEntry { index: u64, size: u64 },
    #[error(
        "树大小 {requested} 无效（日志共 {size} 条）/ tree size {requested} is invalid (the log has {size} entries)"
    )]
    BadTreeSize { requested: u64, size: u64 },
    #[error("审计存储需要 PostgreSQL / the database audit storage needs PostgreSQL")]
    NeedsPostgres,
}

impl AuditError {
    /// Stable code for the API's error shape.
    pub fn code(&self) -> &'static str {
        match self {
            AuditError::Io(_) => "AUDIT_IO",
            AuditError::Store(e) => e.code(),
            AuditError::Damaged { .. } => "AUDIT_DAMAGED",
            AuditError::Poisoned => "AUDIT_POISONED",
            AuditError::Closed => "AUDIT_CLOSED",
            AuditError::BadKey => "AUDIT_BAD_KEY",
            AuditError::Keys(e) => e.code(),
            AuditError::NoSuchEntry { .. } => "AUDIT_NO_SUCH_ENTRY",
            AuditError::BadTreeSize { .. } => "AUDIT_BAD_TREE_SIZE",
            AuditError::NeedsPostgres => "AUDIT_NEEDS_POSTGRES",
        }
    }
}

impl Classified for AuditError {
    fn problem(&self) -> Problem {
        if let AuditError::Store(s) = self {
            return s.problem();
        }
        // The messages carry both languages: "中文 / English".
        let msg = self.to_string();
        let (zh, en) = msg
            .split_once(" / ")
            .unwrap_or((msg.as_str(), msg.as_str()));
        let kind = match self {
            AuditError::NoSuchEntry { .. } => ErrorKind::NotFound,
            AuditError::BadTreeSize { .. } => ErrorKind::Invalid,
            // Without a durable audit entry no operation succeeds: the hub is unavailable.
            _ => ErrorKind::Unavailable,
        };
        Problem::new(kind, self.code(), zh, en)
    }
}

pub type Result<T, E = AuditError> = std::result::Result<T, E>;
