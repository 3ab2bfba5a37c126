//! Console sessions: who is signed in (the [`ConsoleUser`] extractor, which also answers for
//! CSRF-checked forms), the page frame every console page is rendered in, and sign-in,
//! sign-out and the language switch.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use minijinja::{Value, context};
use shuniu_auth::accounts::{AccountError, csrf_matches};
use shuniu_policy::{Action, may_somewhere};
use shuniu_types::{Actor, Classified, Problem};
use std::collections::HashMap;

use crate::AppState;
use crate::i18n::Lang;
use crate::web::{
    CheckedForm, CsrfSession, LANG_COOKIE, cookie, error_page, lang_of, problem_context,
    problem_page, render, ser, with_status,
};

pub(crate) const SESSION_COOKIE: &str = "shuniu_session";
const LOGIN_CSRF_COOKIE: &str = "shuniu_login_csrf";

/// A signed-in console user. Pages that need one redirect anonymous visitors to the login.
pub struct ConsoleUser {
    pub actor: Actor,
    pub csrf: String,
    pub lang: Lang,
    /// Path and query of the page, for the language switch to come back to.
    pub path: String,
    /// The request's id (`X-Request-Id`), shown on error pages for the operator's log.
    request_id: String,
    /// For rendering error pages inside the console's layout.
    state: AppState,
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = lang_of(&jar);
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let to_login =
            || Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response();
        let next = next.clone();
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(to_login());
        };
        match state.engines.accounts.session(&token).await {
            Ok(Some((actor, csrf))) => {
                state.names.refresh_if_stale(&state.engines).await;
                Ok(ConsoleUser {
                    actor,
                    csrf,
                    lang,
                    path: next,
                    request_id: parts
                        .headers
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string(),
                    state: state.clone(),
                })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(problem_page(lang, &e.problem())),
        }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only same-site relative paths may be redirect targets (no open redirects).
pub(crate) fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.clone(),
        _ => "/".into(),
    }
}

pub(crate) fn page(state: &AppState, user: &ConsoleUser, name: &str, extra: Value) -> Response {
    let (nav, crumbs) = super::nav::menu(&user.actor, &user.path);
    let ctx = context! {
        nav => ser(nav),
        crumbs => ser(crumbs),
        lang => user.lang.code(),
        csrf => user.csrf.clone(),
        user => context! {
            name => user.actor.display_name.clone(),
            role => user.actor.role.code(),
            department => user.actor.department.clone(),
            may_register => may_somewhere(&user.actor, Action::RegisterResource),
            may_review => may_somewhere(&user.actor, Action::ReviewResource),
            may_query => may_somewhere(&user.actor, Action::QueryLake),
            may_administer => may_somewhere(&user.actor, Action::ManageUsers),
            may_audit => may_somewhere(&user.actor, Action::ReadAudit),
            audit_all => shuniu_policy::scope(&user.actor, Action::ReadAudit).is_all(),
            may_designate => may_somewhere(&user.actor, Action::DesignateSource),
        },
        site_name => state.settings.site_name.clone(),
        request_path => user.path.clone(),
        ..extra
    };
    render(state, name, ctx)
}

impl CsrfSession for ConsoleUser {
    fn expected_csrf(&self) -> &str {
        &self.csrf
    }
    fn lang(&self) -> Lang {
        self.lang
    }
}

impl ConsoleUser {
    /// The error page for an engine's refusal or failure, in the user's language and inside
    /// the console's layout, with what to do next.
    pub(crate) fn fail(&self, e: impl Classified) -> Response {
        self.show_problem(&e.problem())
    }

    /// An error page inside the layout for a failure the console finds itself (an upload
    /// cut off, a form it cannot read).
    pub(crate) fn refuse(
        &self,
        kind: shuniu_types::ErrorKind,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Response {
        self.show_problem(&Problem::new(kind, code, zh, en))
    }

    /// An API-layer failure (upload staging, rejected rows) shown inside the layout.
    pub(crate) fn api_failure(&self, e: &crate::ApiError) -> Response {
        let kind = match e.status.as_u16() {
            400 => shuniu_types::ErrorKind::BadRequest,
            403 => shuniu_types::ErrorKind::Denied,
            404 => shuniu_types::ErrorKind::NotFound,
            409 => shuniu_types::ErrorKind::Conflict,
            413 | 422 => shuniu_types::ErrorKind::Invalid,
            429 => shuniu_types::ErrorKind::Limited,
            503 => shuniu_types::ErrorKind::Unavailable,
            _ => shuniu_types::ErrorKind::Internal,
        };
        self.refuse(
            kind,
            "REQUEST_FAILED",
            format!("{}（{}）", e.message_zh, e.code),
            format!("{} ({})", e.message_en, e.code),
        )
    }

    pub(crate) fn show_problem(&self, p: &Problem) -> Response {
        let ctx = problem_context(self.lang, p, &self.request_id);
        with_status(p, page(&self.state, self, "problem.html", ctx))
    }
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let csrf = shuniu_auth::random_token().unwrap_or_default();
    let jar = jar.add(cookie(
        LOGIN_CSRF_COOKIE,
        csrf.clone(),
        state.settings.secure_cookies,
        1,
    ));
    let ctx = context! {
        lang => lang.code(), csrf => csrf, next => safe_next(q.get("next")), site_name => state.settings.site_name.clone(),
        failed => q.contains_key("failed"),
        locked => q.contains_key("locked"),
        sso => state.settings.console_sign_in.is_some(),
    };
    (jar, render(&state, "login.html", ctx)).into_response()
}

pub(crate) async fn login_submit(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !csrf_matches(
        &expected,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong / 登录表单已过期，请刷新页面",
        );
    }
    let next = safe_next(form.get("next"));
    let login = form.get("login").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    match state.engines.accounts.login(&login, &password).await {
        Ok(session) => {
            let jar = jar
                .add(cookie(
                    SESSION_COOKIE,
                    session.token,
                    state.settings.secure_cookies,
                    1,
                ))
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/"));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(AccountError::BadCredentials) => {
            Redirect::to(&format!("/login?failed=1&next={}", urlencode(&next))).into_response()
        }
        Err(AccountError::Locked { .. }) => {
            Redirect::to(&format!("/login?locked=1&next={}", urlencode(&next))).into_response()
        }
        Err(e) => problem_page(lang, &e.problem()),
    }
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    CheckedForm(_user, _form): CheckedForm<ConsoleUser>,
) -> Response {
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let _ = state.engines.accounts.logout(&token).await;
    }
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response()
}

pub(crate) async fn set_lang(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(lang): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&lang);
    let jar = jar.add(cookie(
        LANG_COOKIE,
        lang.code().into(),
        state.settings.secure_cookies,
        365,
    ));
    (jar, Redirect::to(&safe_next(q.get("next")))).into_response()
}
