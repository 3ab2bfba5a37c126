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
pub(crate) mod listing;
pub(crate) mod names;
pub(crate) mod problem;

pub(crate) use forms::{CheckedForm, CheckedMultipart, CsrfSession};
pub(crate) use listing::ListQuery;
pub use names::NameBook;
pub(crate) use problem::{error_page, not_found_page, problem_context, problem_page, with_status};

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
        .route(
            "/favicon.ico",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "image/svg+xml"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    include_str!("../../static/favicon.svg"),
                )
            }),
        )
        .route(
            "/static/favicon.svg",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "image/svg+xml"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    include_str!("../../static/favicon.svg"),
                )
            }),
        )
        .route(
            "/static/charts.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../static/charts.js"),
                )
            }),
        )
        .route(
            "/static/dashboard.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../static/dashboard.js"),
                )
            }),
        )
        // Apache ECharts 5.6.0 from npm, vendored with its licence and notice (served too:
        // the Apache licence asks that both travel with the code).
        .route(
            "/static/vendor/echarts/echarts.min.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    include_str!("../../static/vendor/echarts/echarts.min.js"),
                )
            }),
        )
        .route(
            "/static/vendor/echarts/LICENSE",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    include_str!("../../static/vendor/echarts/LICENSE"),
                )
            }),
        )
        .route(
            "/static/vendor/echarts/NOTICE",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    include_str!("../../static/vendor/echarts/NOTICE"),
                )
            }),
        )
        // The licence verifier page's script and its service worker (served from the root so
        // that it may control `/verify`).
        .route(
            "/static/verify.js",
            asset(JS, include_str!("../../static/verify.js")),
        )
        .route(
            "/verify-sw.js",
            asset(JS, include_str!("../../static/verify-sw.js")),
        )
        // bpmn-js 18.31.1 (the bpmn.io licence: MIT with the bpmn.io watermark kept), from npm,
        // vendored with its licence: the navigated viewer and its two style sheets draw an
        // integrated service's process.
        .route(
            "/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js",
            asset(
                JS,
                include_str!("../../static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"),
            ),
        )
        .route(
            "/static/vendor/bpmn-js/diagram-js.css",
            asset(
                CSS,
                include_str!("../../static/vendor/bpmn-js/diagram-js.css"),
            ),
        )
        .route(
            "/static/vendor/bpmn-js/bpmn-js.css",
            asset(CSS, include_str!("../../static/vendor/bpmn-js/bpmn-js.css")),
        )
        .route(
            "/static/vendor/bpmn-js/LICENSE",
            asset(TEXT, include_str!("../../static/vendor/bpmn-js/LICENSE")),
        )
        .route(
            "/static/cases.js",
            asset(JS, include_str!("../../static/cases.js")),
        )
        // sm-crypto 0.5.8 (MIT; its bundle includes jsbn, whose licence travels too) and jsQR
        // 1.4.0 (Apache-2.0), from npm, vendored with their licences.
        .route(
            "/static/vendor/sm-crypto/sm2.js",
            asset(JS, include_str!("../../static/vendor/sm-crypto/sm2.js")),
        )
        .route(
            "/static/vendor/sm-crypto/LICENCE_MIT",
            asset(
                TEXT,
                include_str!("../../static/vendor/sm-crypto/LICENCE_MIT"),
            ),
        )
        .route(
            "/static/vendor/sm-crypto/LICENSE-jsbn",
            asset(
                TEXT,
                include_str!("../../static/vendor/sm-crypto/LICENSE-jsbn"),
            ),
        )
        .route(
            "/static/vendor/jsqr/jsQR.js",
            asset(JS, include_str!("../../static/vendor/jsqr/jsQR.js")),
        )
        .route(
            "/static/vendor/jsqr/LICENSE",
            asset(TEXT, include_str!("../../static/vendor/jsqr/LICENSE")),
        )
}

/// A licence document (PDF) as a download named after the licence.
/// A file to save (never shown inline: an applicant's upload is not the hub's page), its name
/// in RFC 6266's `filename*` so Chinese names survive, an ASCII fallback beside it.
pub(crate) fn attachment(mime: &str, name: &str, bytes: Vec<u8>) -> Response {
    use axum::http::header;
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let fallback: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let fallback = if fallback.is_empty() {
        "file".to_string()
    } else {
        fallback
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub(crate) fn licence_pdf(id: &str, pdf: Vec<u8>) -> Response {
    use axum::http::header;
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"licence-{name}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response()
}

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file compiled into the binary, served as it is.
fn asset(content_type: &'static str, body: &'static str) -> axum::routing::MethodRouter<AppState> {
    axum::routing::get(
        move || async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) },
    )
}

/// Every page template, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    (
        "workbench.html",
        include_str!("../../templates/workbench.html"),
    ),
    ("problem.html", include_str!("../../templates/problem.html")),
    ("loads.html", include_str!("../../templates/loads.html")),
    ("grants.html", include_str!("../../templates/grants.html")),
    (
        "requests.html",
        include_str!("../../templates/requests.html"),
    ),
    ("demands.html", include_str!("../../templates/demands.html")),
    (
        "audit_entry.html",
        include_str!("../../templates/audit_entry.html"),
    ),
    (
        "portal_api.html",
        include_str!("../../templates/portal_api.html"),
    ),
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
        "libraries.html",
        include_str!("../../templates/libraries.html"),
    ),
    (
        "licences.html",
        include_str!("../../templates/licences.html"),
    ),
    ("licence.html", include_str!("../../templates/licence.html")),
    (
        "linkage_reviews.html",
        include_str!("../../templates/linkage_reviews.html"),
    ),
    ("profile.html", include_str!("../../templates/profile.html")),
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
    (
        "citizen_sign_in.html",
        include_str!("../../templates/citizen_sign_in.html"),
    ),
    (
        "my_services.html",
        include_str!("../../templates/my_services.html"),
    ),
    (
        "my_service_apply.html",
        include_str!("../../templates/my_service_apply.html"),
    ),
    (
        "my_service_case.html",
        include_str!("../../templates/my_service_case.html"),
    ),
    (
        "my_services_frame.html",
        include_str!("../../templates/my_services_frame.html"),
    ),
    (
        "my_enterprise.html",
        include_str!("../../templates/my_enterprise.html"),
    ),
    (
        "policy_trace.html",
        include_str!("../../templates/policy_trace.html"),
    ),
    ("verify.html", include_str!("../../templates/verify.html")),
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
    ("events.html", include_str!("../../templates/events.html")),
    (
        "indicators.html",
        include_str!("../../templates/indicators.html"),
    ),
    (
        "policies.html",
        include_str!("../../templates/policies.html"),
    ),
    ("policy.html", include_str!("../../templates/policy.html")),
    ("cases.html", include_str!("../../templates/cases.html")),
    (
        "case_service.html",
        include_str!("../../templates/case_service.html"),
    ),
    ("case.html", include_str!("../../templates/case.html")),
    (
        "policy_list.html",
        include_str!("../../templates/policy_list.html"),
    ),
    (
        "indicator.html",
        include_str!("../../templates/indicator.html"),
    ),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
    ("event.html", include_str!("../../templates/event.html")),
    (
        "event_new.html",
        include_str!("../../templates/event_new.html"),
    ),
    (
        "events_stats.html",
        include_str!("../../templates/events_stats.html"),
    ),
    (
        "events_intake.html",
        include_str!("../../templates/events_intake.html"),
    ),
    (
        "portal_event.html",
        include_str!("../../templates/portal_event.html"),
    ),
    (
        "opendata.html",
        include_str!("../../templates/opendata.html"),
    ),
    (
        "opendata_rules.html",
        include_str!("../../templates/opendata_rules.html"),
    ),
];

pub fn templates(names: NameBook) -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("when", |v: Value| -> String {
        if v.is_none() || v.is_undefined() {
            return String::new();
        }
        match v.as_str() {
            Some(s) => names::beijing_time(s),
            None => v.to_string(),
        }
    });
    // Filters first: templates resolve them when they are added.
    env.add_filter("truncate", |s: String, n: usize| -> String {
        if s.chars().count() <= n {
            s
        } else {
            s.chars().take(n).chain(std::iter::once('…')).collect()
        }
    });
    for (name, src) in TEMPLATES {
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
    let book = names.clone();
    env.add_function("dept", move |code: Option<String>| -> String {
        let code = code.unwrap_or_default();
        book.department(&code).unwrap_or(code)
    });
    let book = names.clone();
    env.add_function("who", move |principal: Option<String>| -> String {
        let p = principal.unwrap_or_default();
        book.principal(&p).unwrap_or(p)
    });
    let book = names.clone();
    env.add_function("res", move |code: Option<String>| -> String {
        let code = code.unwrap_or_default();
        book.resource(&code).unwrap_or(code)
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
    cookie_for_seconds(name, value, secure, max_age_days * 86_400)
}

/// [`cookie`] with its lifetime in seconds (a sign-in flow's ten minutes).
pub(crate) fn cookie_for_seconds(
    name: &'static str,
    value: String,
    secure: bool,
    max_age_secs: i64,
) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    // Max-Age through the attribute parser keeps the `time` crate out of our dependencies.
    if let Ok(parsed) = Cookie::parse(format!("{name}=x; Max-Age={max_age_secs}")) {
        c.set_max_age(parsed.max_age());
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = templates(NameBook::default());
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    /// The English switch must leave no message key (or Chinese) behind: every `t('key')`
    /// a template asks for has both languages.
    #[test]
    fn every_message_a_template_asks_for_exists() {
        let mut missing = Vec::new();
        for (name, src) in TEMPLATES {
            let mut rest = *src;
            while let Some(i) = rest.find("t('") {
                let called_t = i == 0
                    || !rest.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && rest.as_bytes()[i - 1] != b'_'
                        && rest.as_bytes()[i - 1] != b'.';
                rest = &rest[i + 3..];
                if !called_t {
                    continue;
                }
                let Some(end) = rest.find('\'') else { break };
                let key = &rest[..end];
                // Keys built at render time (`t('req_' ~ state)`) are checked where they are built.
                if !rest[end..].starts_with("' ~") && !crate::i18n::has(key) {
                    missing.push(format!("{name}: {key}"));
                }
            }
        }
        assert!(missing.is_empty(), "messages missing: {missing:?}");
    }
}
