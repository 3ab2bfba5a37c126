//! Console pages of traceability: audit search and flow monitoring (the citizen's own record
//! is in `citizen`).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use shuniu_audit::ViewError;
use shuniu_audit::views::FlowReport;
use shuniu_store::AuditFilter;
use shuniu_types::IdNumber;

use super::{ConsoleUser, page};
use crate::AppState;
use crate::i18n::Lang;
use crate::web::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit/flows", get(flows_page))
        .route("/audit/entries/{index}", get(entry_page))
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
