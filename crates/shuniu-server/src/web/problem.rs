//! The one mapping from an error's kind to an HTTP status, and from a [`Problem`] to an error
//! page. The JSON API (`crate::error`) and the CKAN envelope (`crate::api::ckan`) use the
//! same [`status_of`]; faults of the hub are logged here, once, inside the request's span
//! (which carries its request id).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use shuniu_types::{ErrorKind, Problem};

use crate::i18n::{Lang, t};

/// The HTTP status of each kind of failure.
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Denied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Limited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Logs a fault of the hub with its detail; the caller then shows [`public_message`].
pub(crate) fn log_fault(p: &Problem, detail: &dyn std::fmt::Display) {
    if p.kind.is_server_fault() {
        tracing::error!(code = p.code, kind = ?p.kind, %detail, "request failed");
    }
}

/// What a user is told: the problem's own messages, except for internal faults, whose detail
/// stays in the log.
pub(crate) fn public_message(p: &Problem) -> (String, String) {
    if p.kind == ErrorKind::Internal {
        (
            "服务器内部错误，请联系管理员".into(),
            "internal server error; the operator has the details in the log".into(),
        )
    } else {
        (p.message_zh.clone(), p.message_en.clone())
    }
}

/// An error page for a console or portal visitor: the status, what went wrong (every invalid
/// field, for invalid input) and the stable code.
pub(crate) fn problem_page(lang: Lang, p: &Problem) -> Response {
    log_fault(p, &p.message_en);
    let en = lang == Lang::En;
    let (zh, en_msg) = public_message(p);
    let mut detail = if en { en_msg } else { zh };
    if !p.fields.is_empty() {
        let fields: Vec<&str> = p
            .fields
            .iter()
            .map(|f| {
                if en {
                    f.message_en.as_str()
                } else {
                    f.message_zh.as_str()
                }
            })
            .collect();
        detail = fields.join("; ");
    }
    let mut response = error_page(lang, status_of(p.kind), &format!("{detail} [{}]", p.code));
    if let Some(s) = p.retry_after
        && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

pub(crate) fn error_page(lang: Lang, status: StatusCode, detail: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>{}</title><link rel=\"stylesheet\" href=\"/static/console.css\"><main class=\"narrow\"><h1>{}</h1><p>{}</p><p><a href=\"/catalog\">{}</a></p></main></html>",
        lang.code(),
        status.as_u16(),
        status.as_u16(),
        minijinja::HtmlEscape(detail),
        t(lang, "back")
    );
    (status, Html(body)).into_response()
}

pub fn not_found_page() -> Response {
    error_page(
        Lang::Zh,
        StatusCode::NOT_FOUND,
        "页面不存在 / Page not found",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_stays_in_the_log() {
        let p = Problem::internal("LAKE_WRITE_FAILED", &"disk /srv/lake full");
        let (zh, en) = public_message(&p);
        assert!(!zh.contains("/srv/lake") && !en.contains("/srv/lake"));
        let r = problem_page(Lang::En, &p);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn every_kind_has_its_status() {
        for (kind, status) in [
            (ErrorKind::Invalid, 422),
            (ErrorKind::Denied, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Limited, 429),
            (ErrorKind::Unavailable, 503),
        ] {
            assert_eq!(status_of(kind).as_u16(), status);
        }
        let limited = Problem {
            retry_after: Some(7),
            ..Problem::new(ErrorKind::Limited, "RATE_LIMITED", "慢", "slow")
        };
        let r = problem_page(Lang::Zh, &limited);
        assert_eq!(r.headers()["retry-after"], "7");
    }
}
