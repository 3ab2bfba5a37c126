//! An enterprise's own page (惠企通, 企业专属空间): the policies it qualifies for this month
//! without applying, with why, and who used its data, when and why. Its legal person signs in
//! through the province's legal-person identity service (OpenID Connect with the credit code
//! as a claim, `federated`), or, only while `shuniu demo` serves, with a credit code and the
//! enterprise's name on their word. Sessions live in the auth store beside citizens' (a row
//! of kind `enterprise`): a citizen's cookie never opens this page.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use minijinja::context;
use shuniu_types::{Classified, CreditCode, ErrorKind, Problem};

use super::citizen::{MAX_ATTEMPTS, csrf_of, form_token, rate_limited};
use super::federated;
use crate::AppState;
use crate::web::{cookie, lang_of, problem_page, render, ser};

pub(crate) const ENTERPRISE_COOKIE: &str = "shuniu_enterprise";
/// What the simulated sign-in records as the way the legal person signed in.
const SIMULATED: &str = "simulated legal-person login (demo)";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/my-enterprise", get(my_enterprise))
        .route("/my-enterprise/login", post(enterprise_login))
        .route("/my-enterprise/logout", post(enterprise_logout))
        .route("/my-enterprise/sign-in", get(federated::enterprise_sign_in))
        .route(
            "/my-enterprise/callback",
            get(federated::enterprise_callback),
        )
}

/// Opens the enterprise's session after the legal person's identity check and records the
/// sign-in on the enterprise's record.
pub(crate) async fn open_session(
    state: &AppState,
    jar: CookieJar,
    enterprise: &CreditCode,
    name: &str,
    via: &str,
) -> Result<CookieJar, Problem> {
    let token = state
        .engines
        .accounts
        .open_enterprise_session(enterprise, name, via)
        .await
        .map_err(|e| e.problem())?;
    state
        .engines
        .traceability
        .enterprise_signed_in(enterprise, via)
        .await
        .map_err(|e| e.problem())?;
    Ok(jar.add(cookie(
        ENTERPRISE_COOKIE,
        token,
        state.settings.secure_cookies,
        1,
    )))
}

async fn my_enterprise(State(state): State<AppState>, jar: CookieJar) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = csrf_of(&state, jar);
    let base = |extra: minijinja::Value| {
        context! {
            lang => lang.code(),
            site_name => state.settings.site_name.clone(),
            csrf => csrf.clone(),
            simulated => state.settings.simulated_citizen_sign_in,
            oidc => state.settings.enterprise_sign_in.is_some(),
            ..extra
        }
    };
    let session = match jar.get(ENTERPRISE_COOKIE) {
        Some(c) => state
            .engines
            .accounts
            .enterprise_session(c.value())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let Some(session) = session else {
        return (jar, render(&state, "my_enterprise.html", base(context! {}))).into_response();
    };
    let uses = match state
        .engines
        .traceability
        .enterprise_record(&session.enterprise)
        .await
    {
        Ok(u) => u,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    state.names.refresh_if_stale(&state.engines).await;
    let department = |code: &str| state.names.department(code).unwrap_or(code.to_string());
    let uses: Vec<_> = uses
        .into_iter()
        .map(|u| context! { department_name => department(&u.department), ..ser(&u) })
        .collect();
    let month = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string();
    let policies: Vec<_> = match state
        .engines
        .matching
        .for_enterprise(&session.enterprise, &month)
        .await
    {
        Ok(traces) => traces
            .into_iter()
            .map(|t| context! { department_name => department(&t.department), ..ser(&t) })
            .collect(),
        Err(e) => {
            // The record of uses matters more than the section: the page still shows.
            tracing::warn!(error = %e, "the enterprise's policies could not be read");
            Vec::new()
        }
    };
    (
        jar,
        render(
            &state,
            "my_enterprise.html",
            base(context! {
                enterprise => context! {
                    name => session.name,
                    credit_code => session.enterprise.as_str(),
                    simulated => session.via == SIMULATED,
                },
                uses => uses,
                policies => policies,
                month => month,
            }),
        ),
    )
        .into_response()
}

/// The demo's simulated legal-person sign-in: a credit code and a name, unchecked.
async fn enterprise_login(
    State(state): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let refuse = |kind: ErrorKind, code: &'static str, zh: &str, en: &str| {
        problem_page(lang, &Problem::new(kind, code, zh, en))
    };
    if !state.settings.simulated_citizen_sign_in {
        return refuse(
            ErrorKind::Unavailable,
            "ENTERPRISE_SIGN_IN_UNAVAILABLE",
            "企业专属空间须通过法人统一身份认证登录",
            "enterprises sign in through the province's legal-person identity service",
        );
    }
    let Some(expected) = form_token(&jar, &form) else {
        return refuse(
            ErrorKind::Denied,
            "CSRF_MISMATCH",
            "登录表单已过期，请刷新页面后重试",
            "the sign-in form has expired: reload the page and try again",
        );
    };
    if let Some(p) = rate_limited(&state, "enterprise", MAX_ATTEMPTS, &peer).await {
        return problem_page(lang, &p);
    }
    let code = form
        .get("credit_code")
        .map(|s| s.trim().to_uppercase())
        .unwrap_or_default();
    let name: String = form
        .get("name")
        .map(|s| s.trim().chars().take(100).collect())
        .unwrap_or_default();
    let parsed = CreditCode::try_from(code)
        .map_err(|e| e.to_string())
        .and_then(|c| {
            if name.is_empty() {
                Err(crate::i18n::t(lang, "enterprise_name_required"))
            } else {
                Ok(c)
            }
        });
    let enterprise = match parsed {
        Ok(c) => c,
        Err(error) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                render(
                    &state,
                    "my_enterprise.html",
                    context! {
                        lang => lang.code(), site_name => state.settings.site_name.clone(), error,
                        csrf => expected.clone(), simulated => true,
                        oidc => state.settings.enterprise_sign_in.is_some(),
                    },
                ),
            )
                .into_response();
        }
    };
    match open_session(&state, jar, &enterprise, &name, SIMULATED).await {
        Ok(jar) => (jar, Redirect::to("/my-enterprise")).into_response(),
        Err(p) => problem_page(lang, &p),
    }
}

async fn enterprise_logout(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form_token(&jar, &form).is_none() {
        return Redirect::to("/my-enterprise").into_response();
    }
    if let Some(c) = jar.get(ENTERPRISE_COOKIE) {
        let _ = state.engines.accounts.end_citizen_session(c.value()).await;
    }
    (
        jar.remove(Cookie::build(ENTERPRISE_COOKIE).path("/")),
        Redirect::to("/my-enterprise"),
    )
        .into_response()
}
