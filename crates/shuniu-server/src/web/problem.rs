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

/// What a user can do about each kind of failure.
fn next_step(kind: ErrorKind, lang: Lang) -> &'static str {
    let en = lang == Lang::En;
    match (kind, en) {
        (ErrorKind::BadRequest | ErrorKind::Invalid, false) => "请按上面的提示修改后重新提交。",
        (ErrorKind::BadRequest | ErrorKind::Invalid, true) => {
            "Correct what is listed above and submit again."
        }
        (ErrorKind::Unauthenticated, false) => "请重新登录后再试。",
        (ErrorKind::Unauthenticated, true) => "Sign in again, then retry.",
        (ErrorKind::Denied, false) => "如确需此权限，请联系本部门的数据管理员或市大数据局开通。",
        (ErrorKind::Denied, true) => {
            "If you need this, ask your department's data officer or the bureau for the permission."
        }
        (ErrorKind::NotFound, false) => "请检查链接是否正确，或从工作台、目录中重新查找。",
        (ErrorKind::NotFound, true) => {
            "Check the link, or find the item again from the workbench or the catalog."
        }
        (ErrorKind::Conflict, false) => "内容已被他人更改或状态已变化，请刷新页面后再操作。",
        (ErrorKind::Conflict, true) => {
            "Someone changed it meanwhile or its state moved on: reload the page and try again."
        }
        (ErrorKind::Limited, false) => "请求过于频繁，请稍候再试。",
        (ErrorKind::Limited, true) => "Too many requests: wait a moment and try again.",
        (ErrorKind::Unavailable, false) => "服务暂时不可用，请稍后重试；持续出现请联系运维人员。",
        (ErrorKind::Unavailable, true) => {
            "The service is briefly unavailable: retry shortly, and tell the operators if it persists."
        }
        (ErrorKind::Internal, false) => "请稍后重试；如仍失败，请把下方的请求编号告诉管理员。",
        (ErrorKind::Internal, true) => {
            "Retry shortly; if it fails again, give the operator the request id below."
        }
    }
}

/// The title of an error page for each kind.
fn title(kind: ErrorKind, lang: Lang) -> &'static str {
    let en = lang == Lang::En;
    match kind {
        ErrorKind::BadRequest | ErrorKind::Invalid => {
            if en {
                "The input cannot be accepted"
            } else {
                "提交的内容有误"
            }
        }
        ErrorKind::Unauthenticated => {
            if en {
                "Please sign in"
            } else {
                "请先登录"
            }
        }
        ErrorKind::Denied => {
            if en {
                "Not permitted"
            } else {
                "没有权限"
            }
        }
        ErrorKind::NotFound => {
            if en {
                "Not found"
            } else {
                "找不到该内容"
            }
        }
        ErrorKind::Conflict => {
            if en {
                "It changed meanwhile"
            } else {
                "状态已变化"
            }
        }
        ErrorKind::Limited => {
            if en {
                "Too many requests"
            } else {
                "请求过于频繁"
            }
        }
        ErrorKind::Unavailable => {
            if en {
                "Service unavailable"
            } else {
                "服务暂不可用"
            }
        }
        ErrorKind::Internal => {
            if en {
                "Something went wrong"
            } else {
                "系统出错"
            }
        }
    }
}

/// What the user is told, in their language (see [`public_message`]).
fn message(p: &Problem, lang: Lang) -> String {
    let (zh, en) = public_message(p);
    lang.pick(zh, en)
}

/// Each invalid field's message, in the user's language.
fn field_messages(p: &Problem, lang: Lang) -> Vec<String> {
    p.fields
        .iter()
        .map(|f| lang.pick(&f.message_zh, &f.message_en).clone())
        .collect()
}

/// The context of `problem.html`, which pages render inside their own layout.
pub(crate) fn problem_context(lang: Lang, p: &Problem, request_id: &str) -> minijinja::Value {
    log_fault(p, &p.message_en);
    minijinja::context! {
        status => status_of(p.kind).as_u16(),
        title => title(p.kind, lang),
        detail => message(p, lang),
        fields => field_messages(p, lang),
        next_step => next_step(p.kind, lang),
        code => p.code,
        request_id => request_id,
    }
}

/// Puts a problem's status and `Retry-After` on a rendered page.
pub(crate) fn with_status(p: &Problem, mut response: Response) -> Response {
    *response.status_mut() = status_of(p.kind);
    if let Some(s) = p.retry_after
        && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// An error page for a visitor outside the console and portal layouts (no session yet): the
/// status, what went wrong (every invalid field, for invalid input) and the stable code.
pub(crate) fn problem_page(lang: Lang, p: &Problem) -> Response {
    log_fault(p, &p.message_en);
    let fields = field_messages(p, lang);
    let detail = if fields.is_empty() {
        message(p, lang)
    } else {
        fields.join("; ")
    };
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
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" href=\"/static/console.css\"><main class=\"narrow problem card\"><p class=\"status-code\">{}</p><p>{}</p><p><a class=\"button\" href=\"/\">{}</a></p></main></html>",
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
