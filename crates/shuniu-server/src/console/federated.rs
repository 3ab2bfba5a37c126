//! Sign-in through an OpenID Connect provider, for citizens (`/my-data/sign-in`) and console
//! users (`/login/sso`). The flow's `state` is kept in the store (with its nonce and PKCE
//! verifier) and bound to the browser by a short cookie, so that an answer the provider sends
//! to another browser (login CSRF) or a second time (replay) opens no session.

use std::collections::HashMap;

use axum::extract::{ConnectInfo, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use shuniu_auth::accounts::{Accounts, SignInError, SignInPurpose};
use shuniu_auth::oidc::{Identity, IdentityProvider};
use shuniu_types::{Classified, ErrorKind, Problem};

use super::citizen::{MAX_STARTS, open_session, rate_limited};
use super::session::{SESSION_COOKIE, safe_next};
use crate::AppState;
use crate::i18n::Lang;
use crate::web::{cookie, lang_of, problem_page};

/// Binds a flow to the browser that started it: holds the flow's `state`.
const FLOW_COOKIE: &str = "shuniu_sign_in_flow";

fn flow_cookie(state: &AppState, value: String) -> Cookie<'static> {
    // Lax (the default): the provider's answer is a top-level navigation from its site.
    crate::web::cookie_for_seconds(FLOW_COOKIE, value, state.settings.secure_cookies, 600)
}

fn not_configured(lang: Lang) -> Response {
    problem_page(
        lang,
        &Problem::new(
            ErrorKind::NotFound,
            "SIGN_IN_NOT_CONFIGURED",
            "本平台未配置统一身份认证",
            "this hub has no identity provider configured",
        ),
    )
}

async fn start(
    state: &AppState,
    jar: CookieJar,
    peer: &std::net::SocketAddr,
    provider: &IdentityProvider,
    purpose: SignInPurpose,
    return_to: &str,
) -> Response {
    let lang = lang_of(&jar);
    if let Some(p) = rate_limited(state, "sign-in-start", MAX_STARTS, peer).await {
        return problem_page(lang, &p);
    }
    match state
        .engines
        .accounts
        .start_sign_in(provider, purpose, return_to)
        .await
    {
        Ok((url, flow_state)) => {
            (jar.add(flow_cookie(state, flow_state)), Redirect::to(&url)).into_response()
        }
        Err(e) => problem_page(lang, &e.problem()),
    }
}

/// Checks the provider's answer against the browser's flow and has the provider confirm the
/// person. Every refusal is a problem in the visitor's language.
async fn finish(
    state: &AppState,
    jar: &CookieJar,
    provider: &IdentityProvider,
    purpose: SignInPurpose,
    q: &HashMap<String, String>,
) -> Result<(Identity, String), Problem> {
    let refused = |code: &'static str, zh: &str, en: &str| {
        Problem::new(ErrorKind::Unauthenticated, code, zh, en)
    };
    if let Some(error) = q.get("error") {
        tracing::info!(%error, description = ?q.get("error_description"), "identity provider refused a sign-in");
        return Err(refused(
            "OIDC_REFUSED",
            "统一身份认证未完成登录，请重新登录",
            "the identity provider did not complete the sign-in; sign in again",
        ));
    }
    let (Some(code), Some(flow_state)) = (q.get("code"), q.get("state")) else {
        return Err(SignInError::UnknownFlow.problem());
    };
    let bound = jar.get(FLOW_COOKIE).map(|c| c.value().to_string());
    if !bound.is_some_and(|b| shuniu_auth::constant_time_eq(&b, flow_state)) {
        return Err(SignInError::UnknownFlow.problem());
    }
    state
        .engines
        .accounts
        .finish_sign_in(
            provider,
            purpose,
            flow_state,
            code,
            q.get("iss").map(String::as_str),
        )
        .await
        .map_err(|e| e.problem())
}

pub(crate) async fn citizen_sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(provider) = state.settings.citizen_sign_in.clone() else {
        return not_configured(lang_of(&jar));
    };
    let to = super::citizen::own_next(q.get("next").map(String::as_str)).to_string();
    start(&state, jar, &peer, &provider, SignInPurpose::Citizen, &to).await
}

pub(crate) async fn citizen_callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(provider) = state.settings.citizen_sign_in.clone() else {
        return not_configured(lang);
    };
    let jar_out = jar.clone().remove(Cookie::build(FLOW_COOKIE).path("/"));
    let outcome = async {
        let (identity, to) = finish(&state, &jar, &provider, SignInPurpose::Citizen, &q).await?;
        let person = Accounts::citizen_of(&identity).map_err(|e| e.problem())?;
        let via = format!("OpenID Connect {}", identity.issuer);
        let jar = open_session(&state, jar_out.clone(), &person, &identity.name, &via).await?;
        Ok::<_, Problem>((jar, to))
    }
    .await;
    match outcome {
        Ok((jar, to)) => (jar, Redirect::to(&safe_next(Some(&to)))).into_response(),
        Err(p) => (jar_out, problem_page(lang, &p)).into_response(),
    }
}

pub(crate) async fn enterprise_sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
) -> Response {
    let Some(provider) = state.settings.enterprise_sign_in.clone() else {
        return not_configured(lang_of(&jar));
    };
    start(
        &state,
        jar,
        &peer,
        &provider,
        SignInPurpose::Enterprise,
        "/my-enterprise",
    )
    .await
}

/// The legal-person identity service's answer: its subject claim is the enterprise's credit
/// code (parsed at the edge), its name claim the enterprise's name.
pub(crate) async fn enterprise_callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(provider) = state.settings.enterprise_sign_in.clone() else {
        return not_configured(lang);
    };
    let jar_out = jar.clone().remove(Cookie::build(FLOW_COOKIE).path("/"));
    let outcome = async {
        let (identity, to) = finish(&state, &jar, &provider, SignInPurpose::Enterprise, &q).await?;
        let enterprise = Accounts::enterprise_of(&identity).map_err(|e| e.problem())?;
        let via = format!("OpenID Connect {}", identity.issuer);
        let jar = super::enterprise::open_session(
            &state,
            jar_out.clone(),
            &enterprise,
            &identity.name,
            &via,
        )
        .await?;
        Ok::<_, Problem>((jar, to))
    }
    .await;
    match outcome {
        Ok((jar, to)) => (jar, Redirect::to(&safe_next(Some(&to)))).into_response(),
        Err(p) => (jar_out, problem_page(lang, &p)).into_response(),
    }
}

pub(crate) async fn sso_start(
    State(state): State<AppState>,
    jar: CookieJar,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(provider) = state.settings.console_sign_in.clone() else {
        return not_configured(lang_of(&jar));
    };
    let next = safe_next(q.get("next"));
    start(&state, jar, &peer, &provider, SignInPurpose::Console, &next).await
}

pub(crate) async fn sso_callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let Some(provider) = state.settings.console_sign_in.clone() else {
        return not_configured(lang);
    };
    let jar_out = jar.clone().remove(Cookie::build(FLOW_COOKIE).path("/"));
    let outcome = async {
        let (identity, to) = finish(&state, &jar, &provider, SignInPurpose::Console, &q).await?;
        let session = state
            .engines
            .accounts
            .sign_in_officer(&identity)
            .await
            .map_err(|e| e.problem())?;
        Ok::<_, Problem>((session, to))
    }
    .await;
    match outcome {
        Ok((session, to)) => {
            let jar = jar_out.add(cookie(
                SESSION_COOKIE,
                session.token,
                state.settings.secure_cookies,
                1,
            ));
            (jar, Redirect::to(&safe_next(Some(&to)))).into_response()
        }
        Err(p) => (jar_out, problem_page(lang, &p)).into_response(),
    }
}
