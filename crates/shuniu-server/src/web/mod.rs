//! Page machinery shared by the console and the portal: the templates and their rendering,
//! the language, cookies, forms that cannot be read without a valid CSRF token
//! ([`forms`]), and the one mapping from an engine's [`Problem`] to a page ([`problem`]).
//!
//! Architecture invariant: no engine calls and no access decisions here; the console and the
//! portal build on this module and never on each other.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::{Environment, Value};
use serde::Serialize;

pub(crate) mod forms;
pub(crate) mod problem;

pub(crate) use forms::{CheckedForm, CheckedMultipart, CsrfSession};
pub(crate) use problem::{error_page, not_found_page, problem_page};

use crate::AppState;
use crate::i18n::{Lang, t};
use crate::views;

pub(crate) const LANG_COOKIE: &str = "shuniu_lang";

/// The stylesheet and script every console and portal page loads, served by the hub itself.
pub(crate) fn router() -> axum::Router<AppState> {
    use axum::http::header;
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/static/console.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("../../static/console.css"),
                )
            }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../static/console.js"),
                )
            }),
        )
}

pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // Filters first: templates resolve them when they are added.
    env.add_filter("truncate", |s: String, n: usize| -> String {
        if s.chars().count() <= n {
            s
        } else {
            s.chars().take(n).chain(std::iter::once('…')).collect()
        }
    });
    for (name, src) in [
        ("base.html", include_str!("../../templates/base.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("catalog.html", include_str!("../../templates/catalog.html")),
        (
            "resource.html",
            include_str!("../../templates/resource.html"),
        ),
        ("form.html", include_str!("../../templates/form.html")),
        ("review.html", include_str!("../../templates/review.html")),
        (
            "negative.html",
            include_str!("../../templates/negative.html"),
        ),
        ("lists.html", include_str!("../../templates/lists.html")),
        (
            "departments.html",
            include_str!("../../templates/departments.html"),
        ),
        ("import.html", include_str!("../../templates/import.html")),
        ("users.html", include_str!("../../templates/users.html")),
        ("quality.html", include_str!("../../templates/quality.html")),
        (
            "quality_resource.html",
            include_str!("../../templates/quality_resource.html"),
        ),
        (
            "quality_tickets.html",
            include_str!("../../templates/quality_tickets.html"),
        ),
        (
            "quality_ticket.html",
            include_str!("../../templates/quality_ticket.html"),
        ),
        (
            "quality_sources.html",
            include_str!("../../templates/quality_sources.html"),
        ),
        (
            "applications.html",
            include_str!("../../templates/applications.html"),
        ),
        ("load.html", include_str!("../../templates/load.html")),
        (
            "loadreport.html",
            include_str!("../../templates/loadreport.html"),
        ),
        ("sql.html", include_str!("../../templates/sql.html")),
        ("audit.html", include_str!("../../templates/audit.html")),
        ("flows.html", include_str!("../../templates/flows.html")),
        ("mydata.html", include_str!("../../templates/mydata.html")),
        ("sharing.html", include_str!("../../templates/sharing.html")),
        (
            "sharing_form.html",
            include_str!("../../templates/sharing_form.html"),
        ),
        (
            "sharing_request.html",
            include_str!("../../templates/sharing_request.html"),
        ),
        (
            "portal_base.html",
            include_str!("../../templates/portal_base.html"),
        ),
        (
            "portal_home.html",
            include_str!("../../templates/portal_home.html"),
        ),
        (
            "portal_dataset.html",
            include_str!("../../templates/portal_dataset.html"),
        ),
        (
            "portal_list.html",
            include_str!("../../templates/portal_list.html"),
        ),
        (
            "portal_themes.html",
            include_str!("../../templates/portal_themes.html"),
        ),
        (
            "portal_requests.html",
            include_str!("../../templates/portal_requests.html"),
        ),
        (
            "portal_account.html",
            include_str!("../../templates/portal_account.html"),
        ),
        (
            "opendata.html",
            include_str!("../../templates/opendata.html"),
        ),
        (
            "opendata_rules.html",
            include_str!("../../templates/opendata_rules.html"),
        ),
    ] {
        // Templates are compiled into the binary; a syntax error fails the unit tests.
        if let Err(e) = env.add_template(name, src) {
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env.add_function("t", |state: &minijinja::State, key: &str| -> String {
        let lang = state
            .lookup("lang")
            .map(|v| v.to_string())
            .unwrap_or_default();
        t(Lang::parse(&lang), key)
    });
    env.add_function(
        "label",
        |state: &minijinja::State, vocab: &str, code: &str| -> String {
            let en = state
                .lookup("lang")
                .map(|v| v.to_string())
                .unwrap_or_default()
                == "en";
            views::vocab_label(vocab, code, en)
        },
    );
    env
}

pub(crate) fn ser<T: Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

pub(crate) fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(LANG_COOKIE)
        .map(|c| Lang::parse(c.value()))
        .unwrap_or(Lang::Zh)
}

pub(crate) fn render(state: &AppState, name: &str, ctx: Value) -> Response {
    match state
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "render failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

pub(crate) fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age_days: i64,
) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    // Max-Age through the attribute parser keeps the `time` crate out of our dependencies.
    if let Ok(parsed) = Cookie::parse(format!("{}=x; Max-Age={}", name, max_age_days * 86_400)) {
        c.set_max_age(parsed.max_age());
    }
    c
}
