//! Console pages of traceability: audit search, flow monitoring, and the citizen's own
//! record (个人数据使用记录).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;
use shuniu_audit::ViewError;
use shuniu_audit::views::FlowReport;
use shuniu_store::AuditFilter;
use shuniu_types::{ErrorKind, IdNumber, Problem};

use super::{ConsoleUser, page};
use crate::AppState;
use crate::i18n::{Lang, t};
use crate::web::{cookie, error_page, lang_of, render, ser};

const CITIZEN_COOKIE: &str = "shuniu_citizen";
const CITIZEN_TTL: Duration = Duration::from_secs(30 * 60);

/// Signed-in citizens: token → (ID number, name, expiry). In memory: a citizen session is
/// short and a restart simply asks the person to sign in again.
pub(crate) type CitizenSessions = Arc<Mutex<HashMap<String, (IdNumber, String, Instant)>>>;

/// Sign-in attempts per client address: (attempts in the window, the window's start).
pub(crate) type CitizenAttempts = Arc<Mutex<HashMap<String, (u32, Instant)>>>;

/// The double-submit token of the citizen's sign-in form.
const CITIZEN_CSRF_COOKIE: &str = "shuniu_citizen_csrf";
/// At most this many sign-in attempts per address in [`ATTEMPT_WINDOW`].
const MAX_ATTEMPTS: u32 = 10;
const ATTEMPT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Counts one attempt from `address`; the seconds to wait when the address has used its
/// attempts for the window.
fn attempt(state: &AppState, address: &str) -> Option<u64> {
    let mut m = state.citizen_attempts.lock().ok()?;
    let now = Instant::now();
    m.retain(|_, (_, start)| now.duration_since(*start) < ATTEMPT_WINDOW);
    let (n, start) = m.entry(address.to_string()).or_insert((0, now));
    if *n >= MAX_ATTEMPTS {
        return Some(
            ATTEMPT_WINDOW
                .saturating_sub(now.duration_since(*start))
                .as_secs()
                .max(1),
        );
    }
    *n += 1;
    None
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit/flows", get(flows_page))
        .route("/audit/entries/{index}", get(entry_page))
        .route("/my-data", get(my_data))
        .route("/my-data/login", post(citizen_login))
        .route("/my-data/logout", post(citizen_logout))
}

fn view_error(lang: Lang, e: ViewError) -> Response {
    crate::web::problem_page(lang, &shuniu_types::Classified::problem(&e))
}

#[derive(Deserialize, Default, serde::Serialize)]
struct AuditQuery {
    principal: Option<String>,
    resource: Option<String>,
    action: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    before: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<AuditQuery>,
) -> Response {
    let log = state.engines.traceability.log();
    let _ = log.sync().await;
    let mut error = None;
    let subject = match q
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(id) => match id.parse::<IdNumber>() {
            Ok(id) => Some(log.subject(&id.to_string())),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    let limit = 100;
    let filter = AuditFilter {
        principal: q.principal.clone().filter(|s| !s.is_empty()),
        resource: q.resource.clone().filter(|s| !s.is_empty()),
        action: q.action.clone().filter(|s| !s.is_empty()),
        from: q.from.clone().filter(|s| !s.is_empty()),
        subject,
        before: q.before,
        limit,
        ..Default::default()
    };
    let rows = match state.engines.traceability.search(&user.actor, filter).await {
        Ok(r) => r,
        Err(e) => return view_error(user.lang, e),
    };
    page(
        &state,
        &user,
        "audit.html",
        context! {
            head => ser(log.latest_head()),
            public_key => log.public_key().to_hex(),
            rows => ser(rows),
            q => ser(&q),
            limit => limit,
            error => error,
        },
    )
}

/// The flows from providing (left) to consuming (right) departments as an ECharts Sankey
/// specification (see `static/charts.js`): the forty largest flows, band widths by accesses.
/// A department that both provides and consumes appears on both sides: its consuming node's
/// name carries a trailing no-break space, which keeps the diagram acyclic and reads the same.
pub fn sankey_spec(report: &FlowReport, names: &crate::web::NameBook) -> Option<serde_json::Value> {
    // Between departments: a department reading its own data is not a flow.
    let flows: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.provider != f.consumer && !f.provider.is_empty() && !f.consumer.is_empty())
        .take(40)
        .collect();
    if flows.is_empty() {
        return None;
    }
    let name = |c: &str| names.department(c).unwrap_or_else(|| c.to_string());
    let mut nodes: BTreeMap<String, ()> = BTreeMap::new();
    let mut links = Vec::new();
    for f in &flows {
        let source = name(&f.provider);
        let target = format!("{}\u{a0}", name(&f.consumer));
        nodes.insert(source.clone(), ());
        nodes.insert(target.clone(), ());
        links.push(serde_json::json!({ "source": source, "target": target, "value": f.accesses }));
    }
    Some(serde_json::json!({
        "type": "sankey",
        "nodes": nodes.keys().map(|n| serde_json::json!({ "name": n })).collect::<Vec<_>>(),
        "links": links,
    }))
}

/// Accesses per day as bars.
fn volume_spec(report: &FlowReport) -> Option<serde_json::Value> {
    let mut per_day: BTreeMap<&str, i64> = BTreeMap::new();
    for v in &report.by_resource {
        *per_day.entry(&v.day).or_default() += v.accesses;
    }
    if per_day.is_empty() {
        return None;
    }
    Some(serde_json::json!({
        "type": "bars",
        "labels": per_day.keys().collect::<Vec<_>>(),
        "values": per_day.values().collect::<Vec<_>>(),
    }))
}

fn top(vols: &[shuniu_store::AuditVolume]) -> Vec<(String, i64, i64)> {
    let mut m: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for v in vols {
        let e = m.entry(&v.key).or_default();
        e.0 += v.accesses;
        e.1 += v.rows;
    }
    let mut out: Vec<_> = m
        .into_iter()
        .map(|(k, (a, r))| (k.to_string(), a, r))
        .collect();
    out.sort_by_key(|x| std::cmp::Reverse(x.1));
    out.truncate(20);
    out
}

#[derive(Deserialize)]
struct FlowsQuery {
    days: Option<i64>,
}

async fn flows_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<FlowsQuery>,
) -> Response {
    let report = match state
        .engines
        .traceability
        .flows(&user.actor, q.days.unwrap_or(30).clamp(1, 366))
        .await
    {
        Ok(r) => r,
        Err(e) => return view_error(user.lang, e),
    };
    page(
        &state,
        &user,
        "flows.html",
        context! {
            days => q.days.unwrap_or(30),
            sankey => ser(sankey_spec(&report, &state.names)),
            volume_chart => ser(volume_spec(&report)),
            top_resources => ser(top(&report.by_resource)),
            top_principals => ser(top(&report.by_principal)),
            report => ser(&report),
        },
    )
}

/// One audit entry as a console page: what was done, by whom, to what, with what result, and
/// its inclusion proof in the latest signed tree (the JSON API gives the same to systems).
async fn entry_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Path(index): axum::extract::Path<String>,
) -> Response {
    let Ok(index) = index.parse::<u64>() else {
        return user.show_problem(&shuniu_types::Problem::not_found(&index));
    };
    let entry = tried!(
        user,
        state.engines.traceability.entry(&user.actor, index).await
    );
    let log = state.engines.traceability.log();
    let proof = log.inclusion_proof(index, log.size()).await.ok();
    page(
        &state,
        &user,
        "audit_entry.html",
        context! {
            index => index,
            e => ser(&entry),
            proof => ser(proof),
            head => ser(log.latest_head()),
        },
    )
}

fn citizen_of(state: &AppState, jar: &CookieJar) -> Option<(IdNumber, String)> {
    let token = jar.get(CITIZEN_COOKIE)?.value().to_string();
    let mut m = state.citizens.lock().ok()?;
    m.retain(|_, v| v.2 > Instant::now());
    m.get(&token).map(|v| (v.0.clone(), v.1.clone()))
}

async fn my_data(State(state): State<AppState>, jar: CookieJar) -> Response {
    let lang = lang_of(&jar);
    let (csrf, jar) = match jar.get(CITIZEN_CSRF_COOKIE).map(|c| c.value().to_string()) {
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
    };
    let simulated = state.settings.simulated_citizen_sign_in;
    let base = |extra: minijinja::Value| {
        context! {
            lang => lang.code(),
            site_name => state.settings.site_name.clone(),
            csrf => csrf.clone(),
            simulated => simulated,
            ..extra
        }
    };
    let Some((person, name)) = citizen_of(&state, &jar) else {
        return (jar, render(&state, "mydata.html", base(context! {}))).into_response();
    };
    let uses = match state.engines.traceability.personal_record(&person).await {
        Ok(u) => u,
        Err(e) => return view_error(lang, e),
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
    let id = person.to_string();
    let masked = format!("{}********{}", &id[..6], &id[14..]);
    (
        jar,
        render(
            &state,
            "mydata.html",
            base(context! {
                person => context! { name, masked },
                uses => uses,
            }),
        ),
    )
        .into_response()
}

async fn citizen_login(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
    let refuse = |kind: ErrorKind, code: &'static str, zh: &str, en: &str| {
        crate::web::problem_page(lang, &Problem::new(kind, code, zh, en))
    };
    // Only the demo signs a person in on their word; a deployment signs citizens in through
    // the province's identity service.
    if !state.settings.simulated_citizen_sign_in {
        return refuse(
            ErrorKind::Unavailable,
            "CITIZEN_SIGN_IN_UNAVAILABLE",
            "个人数据使用记录须通过省统一身份认证登录，本平台尚未接入",
            "citizens sign in through the province's identity service, which this hub is not connected to yet",
        );
    }
    let expected = jar
        .get(CITIZEN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !shuniu_auth::accounts::csrf_matches(
        &expected,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        return refuse(
            ErrorKind::Denied,
            "CSRF_MISMATCH",
            "登录表单已过期，请刷新页面后重试",
            "the sign-in form has expired: reload the page and try again",
        );
    }
    if let Some(wait) = attempt(&state, &peer.ip().to_string()) {
        let p = Problem {
            retry_after: Some(wait),
            ..Problem::new(
                ErrorKind::Limited,
                "CITIZEN_SIGN_IN_LIMITED",
                format!("登录尝试过多，请 {wait} 秒后再试"),
                format!("too many sign-in attempts: try again in {wait} s"),
            )
        };
        return crate::web::problem_page(lang, &p);
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
                    context! { lang => lang.code(), site_name => state.settings.site_name.clone(), error, csrf => expected.clone(), simulated => true },
                ),
            )
                .into_response();
        }
    };
    let Ok(token) = shuniu_auth::random_token() else {
        return error_page(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "random source unavailable",
        );
    };
    if let Err(e) = state
        .engines
        .traceability
        .citizen_signed_in(&person, "simulated identity login (demo)")
        .await
    {
        return view_error(lang, e);
    }
    if let Ok(mut m) = state.citizens.lock() {
        m.insert(token.clone(), (person, name, Instant::now() + CITIZEN_TTL));
    }
    let jar = jar.add(cookie(
        CITIZEN_COOKIE,
        token,
        state.settings.secure_cookies,
        1,
    ));
    (jar, Redirect::to("/my-data")).into_response()
}

async fn citizen_logout(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = jar
        .get(CITIZEN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !shuniu_auth::accounts::csrf_matches(
        &expected,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        return Redirect::to("/my-data").into_response();
    }
    if let Some(c) = jar.get(CITIZEN_COOKIE)
        && let Ok(mut m) = state.citizens.lock()
    {
        m.remove(c.value());
    }
    (jar.remove(CITIZEN_COOKIE), Redirect::to("/my-data")).into_response()
}
