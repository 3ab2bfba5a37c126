//! The one error shape of the HTTP API: a stable code, a message in Chinese and English,
//! and, for validation failures, every offending field.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shuniu_aggregate::AggregateError;
use shuniu_audit::AuditError;
use shuniu_auth::accounts::AccountError;
use shuniu_catalog::CatalogError;
use shuniu_store::StoreError;
use shuniu_types::FieldError;
use utoipa::ToSchema;

/// `{"error": {...}}`, returned with every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `VALIDATION_FAILED`, `NOT_FOUND`, `FORBIDDEN_ROLE`.
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    /// The invalid fields, for `VALIDATION_FAILED`.
    pub fields: Vec<FieldErrorView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorView {
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl From<&FieldError> for FieldErrorView {
    fn from(e: &FieldError) -> Self {
        FieldErrorView {
            field: e.field.clone(),
            code: e.code.into(),
            message_zh: e.message_zh.clone(),
            message_en: e.message_en.clone(),
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    pub fields: Vec<FieldErrorView>,
    /// Seconds, sent as `Retry-After` (429 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message_zh: zh.into(),
            message_en: en.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "缺少或无效的 API 密钥",
            "missing or invalid API key (Authorization: Bearer …)",
        )
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} 不存在"),
            format!("{what} not found"),
        )
    }
    pub fn bad_request(detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("请求格式错误：{detail}"),
            format!("malformed request: {detail}"),
        )
    }
    pub fn invalid(errors: &[FieldError]) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            format!("有 {} 处填写有误", errors.len()),
            format!("{} field(s) are invalid", errors.len()),
        );
        e.fields = errors.iter().map(FieldErrorView::from).collect();
        e
    }
    pub(crate) fn internal(code: &str, detail: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(code, %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "服务器内部错误，请联系管理员",
            "internal server error; the operator has the details in the log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message_zh: self.message_zh,
                message_en: self.message_en,
                fields: self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert("retry-after", v);
        }
        response
    }
}

impl From<shuniu_sharing::SharingError> for ApiError {
    fn from(e: shuniu_sharing::SharingError) -> Self {
        use shuniu_lake::LakeError;
        use shuniu_sharing::SharingError as S;
        let code = e.code();
        let zh = e.message_zh();
        let en = e.to_string();
        let status = match e {
            S::Denied(d) if d.hide => StatusCode::NOT_FOUND,
            S::Denied(_) => StatusCode::FORBIDDEN,
            S::NotFound(_) => StatusCode::NOT_FOUND,
            S::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            S::State { .. } => StatusCode::CONFLICT,
            S::Limited { retry_after, .. } => {
                let mut a = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, zh, en);
                a.retry_after = Some(retry_after);
                return a;
            }
            S::Catalog(c) => return c.into(),
            S::Store(s) => return s.into(),
            S::Audit(a) => return a.into(),
            S::Lake(LakeError::NoSuchVersion { .. } | LakeError::NoData(_)) => {
                StatusCode::NOT_FOUND
            }
            S::Lake(ref l) => return ApiError::internal(code, l),
            S::Index(ref i) => return ApiError::internal(code, i),
            S::Io(ref i) => return ApiError::internal(code, i),
        };
        ApiError::new(status, code, zh, en)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { what } => ApiError::not_found(what),
            StoreError::Conflict { what } => ApiError::new(
                StatusCode::CONFLICT,
                e.code(),
                format!("{what} 已存在"),
                format!("{what} already exists"),
            ),
            StoreError::VersionMismatch {
                what,
                expected,
                found,
            } => ApiError::new(
                StatusCode::CONFLICT,
                e.code(),
                format!(
                    "{what} 已被他人修改（期望版本 {expected}，当前版本 {found}），请刷新后重试"
                ),
                format!(
                    "{what} was changed by someone else (expected version {expected}, now {found}); reload and retry"
                ),
            ),
            StoreError::Database(_) => {
                tracing::error!(error = %e, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.code(),
                    "数据库暂不可用，请稍后重试",
                    "the database is unavailable; retry later",
                )
            }
            _ => ApiError::internal(e.code(), &e),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid(errors) => ApiError::invalid(&errors),
            CatalogError::Denied(d) => {
                ApiError::new(StatusCode::FORBIDDEN, d.code, d.message_zh, d.message_en)
            }
            CatalogError::NotFound(code) => ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("资源 {code} 不存在"),
                format!("no resource with code {code}"),
            ),
            CatalogError::Store(s) => s.into(),
            CatalogError::Workbook(detail) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "WORKBOOK_UNREADABLE",
                format!("无法读取该 Excel 文件：{detail}"),
                format!("the file cannot be read as an Excel workbook: {detail}"),
            ),
            CatalogError::Audit(a) => a.into(),
            e @ (CatalogError::Search(_) | CatalogError::Internal(_)) => {
                ApiError::internal(e.code(), &e)
            }
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        let msg = e.to_string();
        let (zh, en) = msg
            .split_once(" / ")
            .unwrap_or((msg.as_str(), msg.as_str()));
        let status = match &e {
            AuditError::NoSuchEntry { .. } => StatusCode::NOT_FOUND,
            AuditError::BadTreeSize { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AuditError::Store(_) => {
                if let AuditError::Store(s) = e {
                    return s.into();
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => {
                // Without a durable audit entry the operation does not succeed.
                tracing::error!(error = %e, "audit log unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ApiError::new(status, e.code(), zh.to_string(), en.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(errors) => ApiError::invalid(&errors),
            AccountError::Denied(d) => {
                ApiError::new(StatusCode::FORBIDDEN, d.code, d.message_zh, d.message_en)
            }
            AccountError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "BAD_CREDENTIALS",
                "用户名或密码错误",
                "wrong login or password",
            ),
            AccountError::Locked { minutes } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "LOGIN_LOCKED",
                format!("登录失败次数过多，请 {minutes} 分钟后再试"),
                format!("too many failed logins; try again in {minutes} minutes"),
            ),
            AccountError::Store(s) => s.into(),
            AccountError::Audit(a) => a.into(),
            e @ AccountError::Auth(_) => ApiError::internal(e.code(), &e),
        }
    }
}

impl From<AggregateError> for ApiError {
    fn from(e: AggregateError) -> Self {
        use shuniu_ingest::IngestError;
        use shuniu_lake::LakeError;
        let code = e.code();
        let (zh, en) = (e.message_zh(), e.message_en());
        let status = match &e {
            AggregateError::Denied(d) if d.hide => StatusCode::NOT_FOUND,
            AggregateError::Denied(_) => StatusCode::FORBIDDEN,
            AggregateError::NotFound(_) => StatusCode::NOT_FOUND,
            AggregateError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AggregateError::Catalog(_) => {
                if let AggregateError::Catalog(c) = e {
                    return c.into();
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AggregateError::Store(_) => {
                if let AggregateError::Store(s) = e {
                    return s.into();
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AggregateError::Audit(_) => {
                if let AggregateError::Audit(a) = e {
                    return a.into();
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AggregateError::Quality(_) => {
                if let AggregateError::Quality(q) = e {
                    return q.into();
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AggregateError::Lake(LakeError::NoSuchVersion { .. } | LakeError::NoData(_)) => {
                StatusCode::NOT_FOUND
            }
            AggregateError::Lake(
                LakeError::Sql(_) | LakeError::Input(_) | LakeError::DuplicateKeys(_),
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            AggregateError::Ingest(IngestError::Input { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            AggregateError::Lake(_) | AggregateError::Ingest(_) | AggregateError::Internal(_) => {
                return ApiError::internal(code, &e);
            }
        };
        ApiError::new(status, code, zh, en)
    }
}

impl From<shuniu_quality::QualityError> for ApiError {
    fn from(e: shuniu_quality::QualityError) -> Self {
        use shuniu_lake::LakeError;
        use shuniu_quality::QualityError as Q;
        let code = e.code();
        let zh = e.message_zh();
        let en = e.to_string();
        let status = match e {
            Q::Denied(d) if d.hide => StatusCode::NOT_FOUND,
            Q::Denied(_) => StatusCode::FORBIDDEN,
            Q::NotFound(_) => StatusCode::NOT_FOUND,
            Q::Invalid { code, .. } if code.starts_with("TICKET_STATE") => StatusCode::CONFLICT,
            Q::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Q::Catalog(c) => return c.into(),
            Q::Store(s) => return s.into(),
            Q::Audit(a) => return a.into(),
            Q::Lake(LakeError::NoSuchVersion { .. } | LakeError::NoData(_)) => {
                StatusCode::NOT_FOUND
            }
            Q::Lake(l) => return ApiError::internal(code, &l),
        };
        ApiError::new(status, code, zh, en)
    }
}
