//! 工作台: the first page after sign-in. What waits for this user (entries to review,
//! sharing requests to decide by their deadlines, problem tickets, demands routed to them,
//! open-data applications, failed loads), the key figures of what they may see, and their
//! department's recent activity from the audit log. Each block appears only when the policy
//! lets the user act on it; each read is the same engine call its own page makes.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use shuniu_policy::{Action, Scope, may_somewhere, scope};
use shuniu_types::states::{LoadStatus, TicketState};

use super::{ConsoleUser, page};
use crate::AppState;
use crate::web::ser;

/// One thing waiting: what it is, where to act on it, and by when.
#[derive(Serialize)]
struct Waiting {
    kind: &'static str,
    title: String,
    detail: String,
    href: String,
    due: Option<String>,
    overdue: bool,
}

/// How many of a kind wait, and the first few of them.
#[derive(Serialize)]
struct Queue {
    key: &'static str,
    href: &'static str,
    count: usize,
    items: Vec<Waiting>,
}

const SHOWN: usize = 5;

fn queue(key: &'static str, href: &'static str, mut items: Vec<Waiting>) -> Queue {
    // Earliest deadline first; items without one after those with one.
    items.sort_by(|a, b| match (&a.due, &b.due) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let count = items.len();
    items.truncate(SHOWN);
    Queue {
        key,
        href,
        count,
        items,
    }
}

pub(crate) async fn workbench(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let actor = &user.actor;
    let e = &state.engines;
    let names = &state.names;
    let now = shuniu_store::now();
    let mut queues = Vec::new();

    if may_somewhere(actor, Action::ReviewResource) {
        let items = tried!(user, e.catalog.review_queue(actor).await)
            .into_iter()
            .map(|r| Waiting {
                kind: "review",
                title: r.spec.name.clone(),
                detail: names
                    .department(&r.spec.provider)
                    .unwrap_or(r.spec.provider.clone()),
                href: format!("/catalog/r/{}", super::urlencode(&r.code)),
                due: None,
                overdue: false,
            })
            .collect();
        queues.push(queue("wb_reviews", "/review", items));
    }
    if scope(actor, Action::ReadSharing) != Scope::Nothing {
        let items = tried!(user, e.sharing.inbox(actor).await)
            .into_iter()
            .map(|r| Waiting {
                kind: "request",
                title: names
                    .resource(&r.resource_code)
                    .unwrap_or(r.resource_code.clone()),
                detail: names.department(&r.consumer).unwrap_or(r.consumer.clone()),
                href: format!("/sharing/requests/{}", super::urlencode(&r.id)),
                overdue: r.due_at.as_deref().is_some_and(|d| d < now.as_str()),
                due: r.due_at,
            })
            .collect();
        queues.push(queue("wb_requests", "/sharing", items));
    }
    if let Ok(sc) = shuniu_policy::require_scope(actor, Action::ReadTickets) {
        // The hub arbitrates disputed tickets; a department confirms, disputes or resolves
        // its own.
        let arbiter = may_somewhere(actor, Action::ArbitrateTicket);
        let items = tried!(
            user,
            e.quality
                .tickets(actor, sc.department(), None, true, false)
                .await
        )
        .into_iter()
        .filter(|t| !arbiter || t.state == TicketState::Disputed)
        .map(|t| Waiting {
            kind: "ticket",
            title: user.lang.pick(t.summary_zh.clone(), t.summary_en.clone()),
            detail: names
                .resource(&t.resource_code)
                .unwrap_or(t.resource_code.clone()),
            href: format!("/quality/tickets/{}", super::urlencode(&t.id)),
            overdue: t.deadline.as_str() < now.as_str(),
            due: Some(t.deadline),
        })
        .collect();
        let key = if arbiter { "wb_disputes" } else { "wb_tickets" };
        queues.push(queue(key, "/quality/tickets", items));
    }
    if may_somewhere(actor, Action::AnswerDemand) {
        let mine = actor.department.as_str();
        // The hub routes what nobody answers yet; a department answers what is routed to it.
        let router = may_somewhere(actor, Action::ManageSharing);
        let items = tried!(user, e.sharing.demands(actor).await)
            .into_iter()
            .filter(|d| d.state.is_awaiting())
            .filter(|d| {
                shuniu_policy::decide(
                    actor,
                    Action::AnswerDemand,
                    shuniu_policy::Target::Demand {
                        department: &d.department,
                        routed_to: d.routed_to.as_deref(),
                    },
                )
                .is_ok()
                    && d.department.as_str() != mine
                    && (!router || d.routed_to.is_none() || d.routed_to.as_deref() == Some(mine))
            })
            .map(|d| Waiting {
                kind: "demand",
                title: d.title.clone(),
                detail: names
                    .department(&d.department)
                    .unwrap_or(d.department.clone()),
                href: "/sharing/demands?state=".to_string() + d.state.code(),
                due: None,
                overdue: false,
            })
            .collect();
        queues.push(queue("wb_demands", "/sharing/demands", items));
    }
    if scope(actor, Action::ReadOpenData) != Scope::Nothing
        && may_somewhere(actor, Action::ManageOpenData)
        && let Ok(apps) = e.open.applications_for(actor).await
    {
        let items = apps
            .into_iter()
            .filter(|a| a.state.awaits_decision())
            .map(|a| Waiting {
                kind: "open_application",
                title: names.resource(&a.code).unwrap_or(a.code.clone()),
                detail: a.applicant.clone(),
                href: format!("/opendata/applications/{}", super::urlencode(&a.id)),
                due: None,
                overdue: false,
            })
            .collect();
        queues.push(queue("wb_open_applications", "/opendata", items));
    }
    if may_somewhere(actor, Action::ReadData) {
        let (_, failed) = tried!(
            user,
            e.aggregation
                .all_loads(actor, Some(LoadStatus::Failed), "", 0, 50)
                .await
        );
        let items = failed
            .into_iter()
            .map(|l| Waiting {
                kind: "load",
                title: names
                    .resource(&l.resource_code)
                    .unwrap_or(l.resource_code.clone()),
                detail: user
                    .lang
                    .pick(l.error_zh.clone(), l.error_en.clone())
                    .unwrap_or_default(),
                href: format!("/loads/{}", super::urlencode(&l.id)),
                due: None,
                overdue: false,
            })
            .collect();
        queues.push(queue("wb_failed_loads", "/loads?status=failed", items));
    }

    let stats = tried!(user, e.sharing.stats().await);
    let recent = if may_somewhere(actor, Action::ReadAudit) {
        e.traceability
            .search(
                actor,
                shuniu_store::AuditFilter {
                    limit: 8,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let waiting: usize = queues.iter().map(|q| q.count).sum();
    page(
        &state,
        &user,
        "workbench.html",
        context! {
            queues => ser(&queues),
            waiting => waiting,
            stats => ser(&stats),
            satisfaction => stats.satisfaction_rate.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            recent => ser(&recent),
        },
    )
}
