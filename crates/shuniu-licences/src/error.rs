use shuniu_types::{Classified, ErrorKind, Problem};

/// Why a licence does not verify: each reason has a stable code, which `shuniu licence verify`
/// prints and the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not a licence envelope: wrong prefix, Base45, zlib, COSE or claims.
    Malformed,
    /// The signature does not verify with the seal the envelope names.
    BadSignature,
    /// The envelope names a seal the trust list does not hold.
    UnknownSeal,
    /// The seal was not valid when the licence was issued.
    SealExpired,
    /// Revoked by its issuer (吊销、撤销).
    Revoked,
    /// Suspended by its issuer (暂停); it may be restored.
    Suspended,
    /// Past its validity.
    Expired,
    /// The verifier's status list is older than its time to live: it must connect again.
    StatusStale,
    /// The trust list's own signature does not verify with the hub's key.
    UntrustedList,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Malformed => "LICENCE_MALFORMED",
            Rejection::BadSignature => "LICENCE_BAD_SIGNATURE",
            Rejection::UnknownSeal => "LICENCE_UNKNOWN_SEAL",
            Rejection::SealExpired => "LICENCE_SEAL_EXPIRED",
            Rejection::Revoked => "LICENCE_REVOKED",
            Rejection::Suspended => "LICENCE_SUSPENDED",
            Rejection::Expired => "LICENCE_EXPIRED",
            Rejection::StatusStale => "LICENCE_STATUS_STALE",
            Rejection::UntrustedList => "LICENCE_UNTRUSTED_LIST",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Rejection::Malformed => "不是有效的电子证照二维码",
            Rejection::BadSignature => "电子印章签名验证失败，证照内容可能被篡改",
            Rejection::UnknownSeal => "签章所用电子印章不在信任列表中",
            Rejection::SealExpired => "签章时电子印章不在有效期内",
            Rejection::Revoked => "证照已被吊销、撤销或注销（换发后旧证注销）",
            Rejection::Suspended => "证照已被暂停使用",
            Rejection::Expired => "证照已过有效期",
            Rejection::StatusStale => "证照状态列表已过期，请联网更新后再核验",
            Rejection::UntrustedList => "信任列表的签名无法验证",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Rejection::Malformed => "not an electronic licence QR code",
            Rejection::BadSignature => {
                "the e-seal signature does not verify: the licence may have been altered"
            }
            Rejection::UnknownSeal => "the e-seal that signed it is not in the trust list",
            Rejection::SealExpired => "the e-seal was not valid when it signed",
            Rejection::Revoked => {
                "the licence has been revoked or cancelled (a re-issue cancels the old one)"
            }
            Rejection::Suspended => "the licence is suspended",
            Rejection::Expired => "the licence has expired",
            Rejection::StatusStale => {
                "the status list is past its time to live: connect to update it"
            }
            Rejection::UntrustedList => "the trust list's signature does not verify",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.en(), self.code())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    #[error("{en}")]
    Invalid {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error("licence rejected: {0}")]
    Rejected(Rejection),
    #[error(transparent)]
    Denied(shuniu_policy::Denied),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("key: {0}")]
    Key(#[from] shuniu_keys::KeyError),
    /// The unified service refused or limited a licence read (免证办).
    #[error(transparent)]
    Sharing(#[from] shuniu_sharing::SharingError),
    #[error("internal: {0}")]
    Internal(String),
}

impl LicenceError {
    pub fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        LicenceError::Invalid {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            LicenceError::Invalid { code, .. } => code,
            LicenceError::Rejected(r) => r.code(),
            LicenceError::Denied(d) => d.code,
            LicenceError::NotFound(_) => "NOT_FOUND",
            LicenceError::Key(e) => e.code(),
            LicenceError::Sharing(e) => e.code(),
            LicenceError::Internal(_) => "INTERNAL",
        }
    }
}

impl Classified for LicenceError {
    fn problem(&self) -> Problem {
        match self {
            LicenceError::Invalid { code, zh, en } => {
                Problem::new(ErrorKind::Invalid, code, zh.clone(), en.clone())
            }
            LicenceError::Rejected(r) => Problem::new(ErrorKind::Invalid, r.code(), r.zh(), r.en()),
            LicenceError::Denied(d) => d.problem(),
            LicenceError::NotFound(what) => Problem::not_found(what.as_str()),
            LicenceError::Key(e) => Problem::new(
                ErrorKind::Internal,
                e.code(),
                format!("电子印章密钥不可用：{e}"),
                format!("the e-seal key is unavailable: {e}"),
            ),
            LicenceError::Sharing(e) => e.problem(),
            LicenceError::Internal(m) => Problem::new(
                ErrorKind::Internal,
                "LICENCE_INTERNAL",
                format!("电子证照处理失败：{m}"),
                format!("licence processing failed: {m}"),
            ),
        }
    }
}
