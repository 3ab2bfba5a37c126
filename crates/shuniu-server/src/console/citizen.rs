//! The citizen's own record (个人数据使用记录): who used my data, when and why. A citizen
//! signs in through the province's identity service (OpenID Connect, `federated`), or, only
//! while `shuniu demo` serves, with a name and ID number on their word. Sessions live in the
//! auth store (`Accounts::open_citizen_session`), as console sessions do.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use minijinja::context;
use shuniu_types::{Classified, ErrorKind, IdNumber, Problem};

use super::federated;
use crate::AppState;
use crate::i18n::t;
use crate::web::{cookie, lang_of, problem_page, render, ser};

pub(crate) const CITIZEN_COOKIE: &str = "shuniu_citizen";
/// The double-submit token of the citizen's forms (sign-in, sign-out).
pub(crate) const CITIZEN_CSRF_COOKIE: &str = "shuniu_citizen_csrf";
/// At most this many simulated sign-in attempts per address in [`ATTEMPT_WINDOW`].
pub(crate) const MAX_ATTEMPTS: i64 = 10;
/// At most this many sign-ins started at an identity provider per address in the window:
/// each keeps a flow in the store, and a town hall's citizens may share one address.
pub(crate) const MAX_STARTS: i64 = 120;
pub(crate) const ATTEMPT_WINDOW: Duration = Duration::from_secs(10 * 60);
/// What the simulated sign-in records as the way the person signed in.
const SIMULATED: &str = "simulated identity login (demo)";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/my-data", get(my_data))
        .route("/my-data/login", post(citizen_login))
        .route("/my-data/logout", post(citizen_logout))
        .route("/my-data/sign-in", get(federated::citizen_sign_in))
        .route("/my-data/callback", get(federated::citizen_callback))
        .route(
            "/my-data/licences/{id}/document.pdf",
            get(my_licence_document),
        )
}

/// The holder's own licence document (PDF); another person's licence is not found.
async fn my_licence_document(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(session) = citizen_of(&state, &jar).await else {
        return axum::response::Redirect::to("/my-data").into_response();
    };
    match state
        .engines
        .licences
        .document_for_holder(&session.person, &id)
        .await
    {
        Ok(pdf) => crate::web::licence_pdf(&id, pdf),
        Err(e) => problem_page(lang, &e.problem()),
    }
}

/// Counts a sign-in attempt from `peer`; the problem to answer once the address has used its
/// attempts for the window.
pub(crate) async fn rate_limited(
    state: &AppState,
    scope: &str,
    max: i64,
    peer: &std::net::SocketAddr,
) -> Option<Problem> {
    match state
        .engines
        .accounts
        .sign_in_attempt(scope, &peer.ip().to_string(), max, ATTEMPT_WINDOW)
        .await
    {
        Ok(None) => None,
        Ok(Some(wait)) => Some(Problem {
            retry_after: Some(wait),
            ..Problem::new(
                ErrorKind::Limited,
                "CITIZEN_SIGN_IN_LIMITED",
                format!("登录尝试过多，请 {wait} 秒后再试"),
                format!("too many sign-in attempts: try again in {wait} s"),
            )
        }),
        Err(e) => Some(e.problem()),
    }
}

/// The form's double-submit token when it matches the browser's cookie (another site's form
/// cannot sign anyone in or out).
pub(crate) fn form_token(jar: &CookieJar, form: &HashMap<String, String>) -> Option<String> {
    let expected = jar.get(CITIZEN_CSRF_COOKIE)?.value().to_string();
    shuniu_auth::accounts::csrf_matches(
        &expected,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    )
    .then_some(expected)
}

/// The own pages' CSRF token (citizens' and enterprises'), set when missing.
pub(crate) fn csrf_of(state: &AppState, jar: CookieJar) -> (String, CookieJar) {
    match jar.get(CITIZEN_CSRF_COOKIE).map(|c| c.value().to_string()) {
        Some(c) if c.len() == 64 => (c, jar),
        _ => {
            let token = shuniu_auth::random_token().unwrap_or_default();
            let mut c = cookie(
                CITIZEN_CSRF_COOKIE,
                token.clone(),
                state.settings.secure_cookies,
                1,
            );
            c.set_same_site(axum_extra::extract::cookie::SameSite::Strict);
            (token, jar.add(c))
        }
    }
}

/// Where a citizen goes after signing in: back to the applicant's pages when they came from
/// there, else their record (never another site).
pub(crate) fn own_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/my-services")
                && !n.contains("//")
                && !n.contains('\\')
                && n.len() < 200 =>
        {
            n
        }
        _ => "/my-data",
    }
}

pub(crate) async fn citizen_of(
    state: &AppState,
    jar: &CookieJar,
) -> Option<shuniu_auth::accounts::CitizenSession> {
    let token = jar.get(CITIZEN_COOKIE)?.value().to_string();
    state
        .engines
        .accounts
        .citizen_session(&token)
        .await
        .ok()
        .flatten()
}

/// Opens a citizen session for `person` after the identity check and records the sign-in.
pub(crate) async fn open_session(
    state: &AppState,
    jar: CookieJar,
    person: &IdNumber,
    name: &str,
    via: &str,
) -> Result<CookieJar, Problem> {
    let token = state
        .engines
        .accounts
        .open_citizen_session(person, name, via)
        .await
        .map_err(|e| e.problem())?;
    state
        .engines
        .traceability
        .citizen_signed_in(person, via)
        .await
        .map_err(|e| e.problem())?;
    Ok(jar.add(cookie(
        CITIZEN_COOKIE,
        token,
        state.settings.secure_cookies,
        1,
    )))
}

async fn my_data(State(state): State<AppState>, jar: CookieJar) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = csrf_of(&state, jar);
    let base = |extra: minijinja::Value| {
        context! {
            lang => lang.code(),
            site_name => state.settings.site_name.clone(),
            csrf => csrf.clone(),
            simulated => state.settings.simulated_citizen_sign_in,
            oidc => state.settings.citizen_sign_in.is_some(),
            ..extra
        }
    };
    let Some(session) = citizen_of(&state, &jar).await else {
        return (jar, render(&state, "mydata.html", base(context! {}))).into_response();
    };
    let uses = match state
        .engines
        .traceability
        .personal_record(&session.person)
        .await
    {
        Ok(u) => u,
        Err(e) => return problem_page(lang, &e.problem()),
    };
    // The page names systems and resources (`who`, `res`) and departments from the name book;
    // no console session refreshed it for this visitor.
    state.names.refresh_if_stale(&state.engines).await;
    let uses: Vec<_> = uses
        .into_iter()
        .map(|u| {
            let department_name = state
                .names
                .department(&u.department)
                .unwrap_or(u.department.clone());
            context! { department_name, ..ser(&u) }
        })
        .collect();
    let id = session.person.to_string();
    let masked = format!("{}********{}", &id[..6], &id[14..]);
    let licences = my_licences(&state, &id).await;
    let policies = my_policies(&state, &session.person).await;
    (
        jar,
        render(
            &state,
            "mydata.html",
            base(context! {
                person => context! { name => session.name, masked, simulated => session.via == SIMULATED },
                uses => uses,
                licences => licences,
                policies => policies,
            }),
        ),
    )
        .into_response()
}

/// The holder's own current licences (我的电子证照) with their QR codes for showing (亮证)
/// and how often each has been used in place of paper. A failure leaves the section empty
/// rather than the page: the record of uses matters more.
async fn my_licences(state: &AppState, id: &str) -> Vec<minijinja::Value> {
    let licences = &state.engines.licences;
    let (held, types) = match (licences.of_holder(id).await, licences.types().await) {
        (Ok(h), Ok(t)) => (h, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "the holder's licences could not be read");
            return Vec::new();
        }
    };
    held.into_iter()
        .filter(|l| l.state != shuniu_licences::engine::CANCELLED)
        .map(|l| {
            let type_name = types
                .iter()
                .find(|t| t.code == l.type_code)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            let qr = shuniu_licences::qr::svg(&l.envelope).unwrap_or_default();
            let fields: Vec<(String, String)> = l
                .claims
                .get("f")
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .unwrap_or_default();
            context! {
                id => l.id, type_name, state => l.state, holder_name => l.holder_name,
                issuer => state.names.department(&l.issuer).unwrap_or(l.issuer.clone()),
                valid_from => l.valid_from, valid_until => l.valid_until, uses => l.uses,
                fields, qr,
            }
        })
        .collect()
}

/// The benefit policies in force this month, those the person qualifies for first, each with
/// why (你符合以下政策): the conditions, the values read and where from, the legal text. A
/// failure leaves the section empty rather than the page.
async fn my_policies(state: &AppState, person: &IdNumber) -> Vec<minijinja::Value> {
    let month = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string();
    match state.engines.matching.for_person(person, &month).await {
        Ok(traces) => traces
            .into_iter()
            .map(|t| {
                let department_name = state
                    .names
                    .department(&t.department)
                    .unwrap_or(t.department.clone());
                context! { department_name, ..ser(&t) }
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the person's policies could not be read");
            Vec::new()
        }
    }
}

/// The demo's simulated sign-in: a name and an ID number, unchecked.
async fn citizen_login(
    State(state): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let refuse = |kind: ErrorKind, code: &'static str, zh: &str, en: &str| {
        problem_page(lang, &Problem::new(kind, code, zh, en))
    };
    // Only the demo signs a person in on their word; a deployment signs citizens in through
    // the province's identity service.
    if !state.settings.simulated_citizen_sign_in {
        return refuse(
            ErrorKind::Unavailable,
            "CITIZEN_SIGN_IN_UNAVAILABLE",
            "个人数据使用记录须通过省统一身份认证登录",
            "citizens sign in through the province's identity service",
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
    if let Some(p) = rate_limited(&state, "citizen", MAX_ATTEMPTS, &peer).await {
        return problem_page(lang, &p);
    }
    let id = form
        .get("id_number")
        .map(|s| s.trim().to_uppercase())
        .unwrap_or_default();
    let name: String = form
        .get("name")
        .map(|s| s.trim().chars().take(50).collect())
        .unwrap_or_default();
    let parsed = id
        .parse::<IdNumber>()
        .map_err(|e| e.to_string())
        .and_then(|p| {
            if name.is_empty() {
                Err(t(lang, "person_name"))
            } else {
                Ok(p)
            }
        });
    let person = match parsed {
        Ok(p) => p,
        Err(error) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                render(
                    &state,
                    "mydata.html",
                    context! {
                        lang => lang.code(), site_name => state.settings.site_name.clone(), error,
                        csrf => expected.clone(), simulated => true,
                        oidc => state.settings.citizen_sign_in.is_some(),
                    },
                ),
            )
                .into_response();
        }
    };
    match open_session(&state, jar, &person, &name, SIMULATED).await {
        Ok(jar) => (
            jar,
            Redirect::to(own_next(form.get("next").map(String::as_str))),
        )
            .into_response(),
        Err(p) => problem_page(lang, &p),
    }
}

async fn citizen_logout(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form_token(&jar, &form).is_none() {
        return Redirect::to("/my-data").into_response();
    }
    if let Some(c) = jar.get(CITIZEN_COOKIE) {
        let _ = state.engines.accounts.end_citizen_session(c.value()).await;
    }
    (
        jar.remove(Cookie::build(CITIZEN_COOKIE).path("/")),
        Redirect::to("/my-data"),
    )
        .into_response()
}
