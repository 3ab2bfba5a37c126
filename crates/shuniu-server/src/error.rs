//! The one error shape of the HTTP API: a stable code, a message in Chinese and English,
//! and, for validation failures, every offending field.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shuniu_types::{Classified, FieldError, Problem};
use utoipa::ToSchema;

use crate::web::problem::{log_fault, public_message, status_of};

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

/// Every engine error reaches the API through its classification: one status per kind
/// (`web::problem::status_of`), internal details logged and never sent.
impl<E: Classified> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::from_problem(&e.problem(), &e)
    }
}

impl ApiError {
    pub(crate) fn from_problem(p: &Problem, detail: &dyn std::fmt::Display) -> ApiError {
        log_fault(p, detail);
        let (zh, en) = public_message(p);
        ApiError {
            status: status_of(p.kind),
            code: p.code.to_string(),
            message_zh: zh,
            message_en: en,
            fields: p.fields.iter().map(FieldErrorView::from).collect(),
            retry_after: p.retry_after,
        }
    }
}
