//! Console pages of traceability: audit search, flow monitoring, and the citizen's own
//! record (个人数据使用记录).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::{HtmlEscape, context};
use serde::Deserialize;
use shuniu_audit::ViewError;
use shuniu_audit::views::FlowReport;
use shuniu_store::AuditFilter;
use shuniu_types::IdNumber;

use super::{ConsoleUser, page};
use crate::AppState;
use crate::i18n::{Lang, t};
use crate::web::{cookie, error_page, lang_of, render, ser};

const CITIZEN_COOKIE: &str = "shuniu_citizen";
const CITIZEN_TTL: Duration = Duration::from_secs(30 * 60);

/// Signed-in citizens: token → (ID number, name, expiry). In memory: a citizen session is
/// short and a restart simply asks the person to sign in again.
pub(crate) type CitizenSessions = Arc<Mutex<HashMap<String, (IdNumber, String, Instant)>>>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit/flows", get(flows_page))
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

/// A Sankey diagram of flows from providing (left) to consuming (right) departments, band
/// widths proportional to accesses. Server-rendered SVG: no script, prints and scales.
pub fn sankey_svg(report: &FlowReport, names: &HashMap<String, String>) -> String {
    let flows: Vec<_> = report.flows.iter().take(40).collect();
    if flows.is_empty() {
        return "<p class=\"meta\">—</p>".into();
    }
    let mut left: BTreeMap<&str, i64> = BTreeMap::new();
    let mut right: BTreeMap<&str, i64> = BTreeMap::new();
    for f in &flows {
        *left.entry(&f.provider).or_default() += f.accesses;
        *right.entry(&f.consumer).or_default() += f.accesses;
    }
    let total: i64 = flows.iter().map(|f| f.accesses).sum::<i64>().max(1);
    let (w, h, gap, bar) = (760.0f64, 420.0f64, 8.0f64, 14.0f64);
    let place = |side: &BTreeMap<&str, i64>| -> HashMap<String, (f64, f64)> {
        let usable = h - gap * (side.len().saturating_sub(1)) as f64;
        let mut y = 0.0;
        side.iter()
            .map(|(k, v)| {
                let hh = usable * *v as f64 / total as f64;
                let r = (k.to_string(), (y, hh));
                y += hh + gap;
                r
            })
            .collect()
    };
    let (lp, rp) = (place(&left), place(&right));
    let mut lo: HashMap<&str, f64> = HashMap::new();
    let mut ro: HashMap<&str, f64> = HashMap::new();
    let usable_l = h - gap * (left.len().saturating_sub(1)) as f64;
    let usable_r = h - gap * (right.len().saturating_sub(1)) as f64;
    let name = |c: &str| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let mut svg = format!(
        "<svg viewBox=\"0 0 {} {}\" role=\"img\" class=\"sankey\" xmlns=\"http://www.w3.org/2000/svg\">",
        w + 320.0,
        h + 10.0
    );
    let (x0, x1) = (160.0 + bar, 160.0 + w - bar);
    for f in &flows {
        let (ly, _) = lp[&f.provider];
        let (ry, _) = rp[&f.consumer];
        let lh = usable_l * f.accesses as f64 / total as f64;
        let rh = usable_r * f.accesses as f64 / total as f64;
        let a = lo.entry(&f.provider).or_default();
        let b = ro.entry(&f.consumer).or_default();
        let (y0, y1) = (ly + *a + lh / 2.0, ry + *b + rh / 2.0);
        *a += lh;
        *b += rh;
        let mid = (x0 + x1) / 2.0;
        let _ = write!(
            svg,
            "<path class=\"band\" d=\"M{x0:.1},{y0:.1} C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1}\" stroke-width=\"{:.1}\" fill=\"none\" stroke=\"#3b82f6\" stroke-opacity=\"0.35\"><title>{} → {}: {} ({} rows)</title></path>",
            lh.max(1.0),
            HtmlEscape(&name(&f.provider)),
            HtmlEscape(&name(&f.consumer)),
            f.accesses,
            f.rows
        );
    }
    for (k, (y, hh)) in &lp {
        let _ = write!(
            svg,
            "<rect x=\"160\" y=\"{y:.1}\" width=\"{bar}\" height=\"{:.1}\" fill=\"#1e3a8a\"/><text x=\"154\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" dominant-baseline=\"middle\">{}</text>",
            hh.max(1.0),
            y + hh / 2.0,
            HtmlEscape(&name(k))
        );
    }
    for (k, (y, hh)) in &rp {
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{:.1}\" fill=\"#065f46\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" dominant-baseline=\"middle\">{}</text>",
            x1,
            hh.max(1.0),
            x1 + bar + 6.0,
            y + hh / 2.0,
            HtmlEscape(&name(k))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Bars of accesses per day.
fn volume_svg(report: &FlowReport) -> String {
    let mut per_day: BTreeMap<&str, i64> = BTreeMap::new();
    for v in &report.by_resource {
        *per_day.entry(&v.day).or_default() += v.accesses;
    }
    if per_day.is_empty() {
        return "<p class=\"meta\">—</p>".into();
    }
    let max = per_day.values().copied().max().unwrap_or(1).max(1) as f64;
    let bw = (720.0 / per_day.len() as f64).min(60.0);
    let mut svg = format!(
        "<svg viewBox=\"0 0 {:.0} 200\" class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\">",
        bw * per_day.len() as f64 + 10.0
    );
    for (i, (day, n)) in per_day.iter().enumerate() {
        let hh = 160.0 * *n as f64 / max;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hh:.1}\" fill=\"#2563eb\"><title>{day}: {n}</title></rect><text x=\"{:.1}\" y=\"195\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            i as f64 * bw + 4.0,
            170.0 - hh,
            bw - 6.0,
            i as f64 * bw + bw / 2.0,
            &day[5..]
        );
    }
    svg.push_str("</svg>");
    svg
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
        .flows(&user.actor, q.days.unwrap_or(30))
        .await
    {
        Ok(r) => r,
        Err(e) => return view_error(user.lang, e),
    };
    let names = tried!(user, super::catalog::names(&state).await);
    page(
        &state,
        &user,
        "flows.html",
        context! {
            sankey => sankey_svg(&report, &names),
            volume_chart => volume_svg(&report),
            top_resources => ser(top(&report.by_resource)),
            top_principals => ser(top(&report.by_principal)),
            report => ser(&report),
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
    let base = |extra: minijinja::Value| {
        context! {
            lang => lang.code(),
            site_name => state.settings.site_name.clone(),
            ..extra
        }
    };
    let Some((person, name)) = citizen_of(&state, &jar) else {
        return render(&state, "mydata.html", base(context! {}));
    };
    let uses = match state.engines.traceability.personal_record(&person).await {
        Ok(u) => u,
        Err(e) => return view_error(lang, e),
    };
    let names = match super::catalog::names(&state).await {
        Ok(n) => n,
        Err(e) => return crate::web::problem_page(lang, &shuniu_types::Classified::problem(&e)),
    };
    let uses: Vec<_> = uses
        .into_iter()
        .map(|u| {
            let department_name = names
                .get(&u.department)
                .cloned()
                .unwrap_or(u.department.clone());
            context! { department_name, ..ser(&u) }
        })
        .collect();
    let id = person.to_string();
    let masked = format!("{}********{}", &id[..6], &id[14..]);
    render(
        &state,
        "mydata.html",
        base(context! {
            person => context! { name, masked },
            uses => uses,
        }),
    )
}

async fn citizen_login(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&jar);
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
                    context! { lang => lang.code(), site_name => state.settings.site_name.clone(), error },
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

async fn citizen_logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(CITIZEN_COOKIE)
        && let Ok(mut m) = state.citizens.lock()
    {
        m.remove(c.value());
    }
    (jar.remove(CITIZEN_COOKIE), Redirect::to("/my-data")).into_response()
}
