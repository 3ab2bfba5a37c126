//! Console pages of sharing (供需对接): the overview (satisfaction rate, unified-service
//! share, requests, the provider's inbox with deadlines, grants with today's usage and
//! revocation, demands), the request form, and a request's page with its history and the
//! decision form.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use shuniu_policy::grant::Service;
use shuniu_sharing::{DecisionInput, DemandAnswer, DemandInput, RequestInput};

use shuniu_policy::Action;
use shuniu_sharing::GrantView;
use shuniu_store::{DemandRow, ShareRequestRow};
use shuniu_types::states::{DemandState, GrantState, RequestState};

use super::{ConsoleUser, options, page};
use crate::AppState;
use crate::i18n::t;
use crate::web::forms::{all, text};
use crate::web::listing::{at, column, csv_download};
use crate::web::{CheckedForm, ListQuery, ser};
use shuniu_types::{Classified, ErrorKind};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sharing", get(overview))
        .route("/sharing/new", get(request_form))
        .route("/sharing/requests", get(requests_page).post(file_request))
        .route("/sharing/grants", get(grants_page))
        .route("/sharing/requests/{id}", get(request_page).post(decide))
        .route("/sharing/grants/{id}/revoke", post(revoke))
        .route("/sharing/demands", get(demands_page).post(file_demand))
        .route("/sharing/demands/{id}/answer", post(answer_demand))
}

/// The sharing overview: the city's figures, what waits for this user's decision, and
/// requests by state.
async fn overview(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let sharing = &state.engines.sharing;
    let stats = tried!(user, sharing.stats().await);
    let scope = shuniu_policy::scope(&user.actor, Action::ReadSharing);
    let department = scope.department().map(str::to_string);
    let (requests, inbox) = if scope == shuniu_policy::Scope::Nothing {
        Default::default()
    } else {
        (
            tried!(
                user,
                sharing
                    .requests(&user.actor, department.as_deref(), &[])
                    .await
            ),
            tried!(user, sharing.inbox(&user.actor).await),
        )
    };
    let now = shuniu_store::now();
    let inbox: Vec<_> = inbox
        .iter()
        .map(|r| {
            context! {
                r => ser(r),
                overdue => r.due_at.as_deref().is_some_and(|d| d < now.as_str()),
            }
        })
        .collect();
    let mut by_state: Vec<(String, usize)> = Vec::new();
    for st in RequestState::ALL {
        let n = requests.iter().filter(|r| r.state == *st).count();
        if n > 0 {
            by_state.push((user.lang.pick(st.zh(), st.en()).to_string(), n));
        }
    }
    let chart = (!by_state.is_empty()).then(|| {
        serde_json::json!({
            "type": "bars",
            "labels": by_state.iter().map(|b| b.0.clone()).collect::<Vec<_>>(),
            "values": by_state.iter().map(|b| b.1).collect::<Vec<_>>(),
        })
    });
    page(
        &state,
        &user,
        "sharing.html",
        context! {
            stats => ser(&stats),
            satisfaction => stats.satisfaction_rate.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            unified => stats.unified_share.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            inbox => inbox,
            requests_total => requests.len(),
            by_state_chart => ser(chart),
        },
    )
}

/// Sharing requests the user may see, filtered, paged and exportable.
async fn requests_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let scope = tried!(
        user,
        shuniu_policy::require_scope(&user.actor, Action::ReadSharing)
    );
    let all = tried!(
        user,
        state
            .engines
            .sharing
            .requests(&user.actor, scope.department(), &[])
            .await
    );
    let names = &state.names;
    let rows: Vec<_> = all
        .into_iter()
        .filter(|r| q.filter("state").is_none_or(|s| r.state.code() == s))
        .filter(|r| {
            q.matches(&[
                &r.id,
                &r.resource_code,
                &names.resource(&r.resource_code).unwrap_or_default(),
                &r.provider,
                &names.department(&r.provider).unwrap_or_default(),
                &r.consumer,
                &names.department(&r.consumer).unwrap_or_default(),
            ])
        })
        .collect();
    if q.wants_csv() {
        let lang = user.lang;
        let cols = [
            column(t(lang, "request"), |r: &ShareRequestRow| r.id.clone()),
            column(t(lang, "resource"), |r: &ShareRequestRow| {
                names.resource(&r.resource_code).unwrap_or_default()
            }),
            column(t(lang, "code"), |r: &ShareRequestRow| {
                r.resource_code.clone()
            }),
            column(t(lang, "provider"), |r: &ShareRequestRow| {
                names
                    .department(&r.provider)
                    .unwrap_or_else(|| r.provider.clone())
            }),
            column(t(lang, "consumer"), |r: &ShareRequestRow| {
                names
                    .department(&r.consumer)
                    .unwrap_or_else(|| r.consumer.clone())
            }),
            column(t(lang, "state"), |r: &ShareRequestRow| {
                lang.pick(r.state.zh(), r.state.en()).to_string()
            }),
            column(t(lang, "filed_at"), |r: &ShareRequestRow| at(&r.created_at)),
            column(t(lang, "deadline"), |r: &ShareRequestRow| {
                r.due_at.as_deref().map(at).unwrap_or_default()
            }),
        ];
        return csv_download("sharing-requests", &cols, &rows);
    }
    let (rows, listing) = q.page_of(rows, "/sharing/requests");
    page(
        &state,
        &user,
        "requests.html",
        context! {
            requests => ser(&rows),
            l => ser(&listing),
            states => options::<RequestState>(user.lang),
        },
    )
}

/// Grants the user may see, with today's usage and revocation, filtered, paged, exportable.
async fn grants_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    tried!(
        user,
        shuniu_policy::require_scope(&user.actor, Action::ReadSharing)
    );
    let all = tried!(user, state.engines.sharing.grants(&user.actor).await);
    let names = &state.names;
    let rows: Vec<_> = all
        .into_iter()
        .filter(|g| q.filter("state").is_none_or(|s| g.grant.state.code() == s))
        .filter(|g| {
            q.matches(&[
                &g.grant.id,
                &g.grant.resource_code,
                &names.resource(&g.grant.resource_code).unwrap_or_default(),
                &g.grant.consumer,
                &names.department(&g.grant.consumer).unwrap_or_default(),
                &g.grant.application_id,
                &names
                    .principal(&format!("app:{}", g.grant.application_id))
                    .unwrap_or_default(),
            ])
        })
        .collect();
    let lang = user.lang;
    let services = move |g: &GrantView| -> String {
        g.terms
            .as_ref()
            .map(|t| {
                t.services
                    .iter()
                    .map(|s| lang.pick(s.zh(), s.en()))
                    .collect::<Vec<_>>()
                    .join(lang.pick("、", ", "))
            })
            .unwrap_or_default()
    };
    if q.wants_csv() {
        let cols = [
            column(t(lang, "grant"), |g: &GrantView| g.grant.id.clone()),
            column(t(lang, "resource"), |g: &GrantView| {
                names.resource(&g.grant.resource_code).unwrap_or_default()
            }),
            column(t(lang, "code"), |g: &GrantView| {
                g.grant.resource_code.clone()
            }),
            column(t(lang, "consumer"), |g: &GrantView| {
                names
                    .department(&g.grant.consumer)
                    .unwrap_or_else(|| g.grant.consumer.clone())
            }),
            column(t(lang, "application"), |g: &GrantView| {
                names
                    .principal(&format!("app:{}", g.grant.application_id))
                    .unwrap_or_else(|| g.grant.application_id.clone())
            }),
            column(t(lang, "services"), services),
            column(t(lang, "state"), |g: &GrantView| {
                lang.pick(g.grant.state.zh(), g.grant.state.en())
                    .to_string()
            }),
            column(t(lang, "usage_today"), |g: &GrantView| {
                format!("{}/{}", g.calls_today, g.rows_today)
            }),
            column(t(lang, "expires"), |g: &GrantView| at(&g.grant.expires_at)),
        ];
        return csv_download("sharing-grants", &cols, &rows);
    }
    let (rows, listing) = q.page_of(rows, "/sharing/grants");
    let grants: Vec<_> = rows
        .iter()
        .map(|g| {
            context! {
                g => ser(g),
                services => services(g),
                scope => g.terms.as_ref().map(|t| t.row_scope.to_string()).unwrap_or_default(),
                may_revoke => g.grant.state.is_active() && shuniu_policy::decide(
                    &user.actor,
                    Action::DecideRequest,
                    shuniu_policy::Target::Share { provider: &g.grant.provider, consumer: &g.grant.consumer, escalated: false },
                ).is_ok(),
            }
        })
        .collect();
    page(
        &state,
        &user,
        "grants.html",
        context! {
            grants => grants,
            l => ser(&listing),
            states => options::<GrantState>(user.lang),
        },
    )
}

/// Demands (需求): filing, answering, filtered, paged, exportable.
async fn demands_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let all = if shuniu_policy::scope(&user.actor, Action::ReadSharing)
        == shuniu_policy::Scope::Nothing
    {
        Vec::new()
    } else {
        tried!(user, state.engines.sharing.demands(&user.actor).await)
    };
    let names = &state.names;
    let rows: Vec<_> = all
        .into_iter()
        .filter(|d| q.filter("state").is_none_or(|s| d.state.code() == s))
        .filter(|d| {
            q.matches(&[
                &d.title,
                &d.description,
                &d.department,
                &names.department(&d.department).unwrap_or_default(),
                d.routed_to.as_deref().unwrap_or(""),
                &d.answer,
            ])
        })
        .collect();
    let lang = user.lang;
    if q.wants_csv() {
        let cols = [
            column(t(lang, "demand_title"), |d: &DemandRow| d.title.clone()),
            column(t(lang, "department"), |d: &DemandRow| {
                names
                    .department(&d.department)
                    .unwrap_or_else(|| d.department.clone())
            }),
            column(t(lang, "routed_to"), |d: &DemandRow| {
                d.routed_to
                    .as_deref()
                    .map(|r| names.department(r).unwrap_or_else(|| r.to_string()))
                    .unwrap_or_default()
            }),
            column(t(lang, "state"), |d: &DemandRow| {
                lang.pick(d.state.zh(), d.state.en()).to_string()
            }),
            column(t(lang, "satisfied"), |d: &DemandRow| match d.satisfied {
                Some(true) => t(lang, "yes"),
                Some(false) => t(lang, "no"),
                None => String::new(),
            }),
            column(t(lang, "answer"), |d: &DemandRow| d.answer.clone()),
            column(t(lang, "filed_at"), |d: &DemandRow| at(&d.created_at)),
        ];
        return csv_download("sharing-demands", &cols, &rows);
    }
    let (rows, listing) = q.page_of(rows, "/sharing/demands");
    let demands: Vec<_> = rows
        .iter()
        .map(|d| {
            context! {
                d => ser(d),
                may_answer => d.state.is_awaiting() && shuniu_policy::decide(
                    &user.actor,
                    Action::AnswerDemand,
                    shuniu_policy::Target::Demand { department: &d.department, routed_to: d.routed_to.as_deref() },
                ).is_ok(),
            }
        })
        .collect();
    page(
        &state,
        &user,
        "demands.html",
        context! {
            demands => demands,
            l => ser(&listing),
            states => options::<DemandState>(user.lang),
            may_file => shuniu_policy::may_somewhere(&user.actor, Action::FileDemand),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct NewRequestQuery {
    resource: Option<String>,
}

async fn request_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<NewRequestQuery>,
) -> Response {
    render_form(
        &state,
        &user,
        q.resource.as_deref().unwrap_or(""),
        None,
        &[],
    )
    .await
}

async fn render_form(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    error: Option<String>,
    form: &[(String, String)],
) -> Response {
    let rec = match state.engines.catalog.get(&user.actor, code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let apps = tried!(
        user,
        state.engines.sharing.applications_for(&user.actor).await
    );
    let services: Vec<_> = Service::ALL
        .iter()
        .map(|s| context! { code => s.code(), zh => s.zh() })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut resp = page(
        state,
        user,
        "sharing_form.html",
        context! {
            rec => ser(&rec),
            apps => ser(&apps),
            services => services,
            error => error,
            purpose => text(form, "purpose"),
            scenario => text(form, "scenario"),
            legal_basis => text(form, "legal_basis"),
            row_scope => text(form, "row_scope"),
            deadline => state.engines.sharing.deadline_from_now().to_rfc3339()[..10].to_string(),
        },
    );
    *resp.status_mut() = status;
    resp
}

async fn file_request(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let code = text(&form, "resource_code").to_string();
    let input = RequestInput {
        resource_code: code.clone(),
        application_id: text(&form, "application_id").into(),
        fields: all(&form, "fields").into_iter().map(String::from).collect(),
        purpose: text(&form, "purpose").into(),
        scenario: text(&form, "scenario").into(),
        legal_basis: text(&form, "legal_basis").into(),
        duration_days: text(&form, "duration_days").parse().unwrap_or(0),
        services: all(&form, "services")
            .into_iter()
            .filter_map(Service::parse)
            .collect(),
        row_scope: text(&form, "row_scope").into(),
        calls_per_day: None,
        rows_per_day: None,
        rate_per_second: None,
    };
    match state
        .engines
        .sharing
        .file_request(&user.actor, &input)
        .await
    {
        Ok(r) => Redirect::to(&format!("/sharing/requests/{}", r.request.id)).into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Denied) => {
            let msg = format!(
                "{} [{}]",
                user.lang.pick(e.message_zh(), e.to_string()),
                e.code()
            );
            render_form(&state, &user, &code, Some(msg), &form).await
        }
        Err(e) => user.fail(e),
    }
}

async fn request_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let r = match state.engines.sharing.request(&user.actor, &id).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let may_decide = r.request.state.awaits_decision()
        && shuniu_policy::decide(
            &user.actor,
            shuniu_policy::Action::DecideRequest,
            shuniu_policy::Target::Share {
                provider: &r.request.provider,
                consumer: &r.request.consumer,
                escalated: r.request.state.is_escalated() || r.overdue,
            },
        )
        .is_ok();
    page(
        &state,
        &user,
        "sharing_request.html",
        context! {
            r => ser(&r),
            terms => ser(r.request.spec.get("terms")),
            scope_text => r
                .request
                .spec
                .get("terms")
                .and_then(|t| t.get("row_scope"))
                .and_then(|v| serde_json::from_value::<shuniu_policy::grant::RowScope>(v.clone()).ok())
                .map(|s| s.to_string())
                .unwrap_or_default(),
            may_decide => may_decide,
            masking_rules => ser(shuniu_types::MaskingRule::ALL.iter().map(|m| context!{ code => m.code(), zh => m.zh(), en => m.en() }).collect::<Vec<_>>()),
        },
    )
}

async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let mut masking = std::collections::BTreeMap::new();
    for (k, v) in form.iter() {
        if let Some(f) = k.strip_prefix("mask.")
            && let Some(m) = shuniu_types::MaskingRule::parse_term(v)
            && !v.is_empty()
        {
            masking.insert(f.to_string(), m);
        }
    }
    let fields = all(&form, "fields");
    let d = DecisionInput {
        approve: text(&form, "decision") == "approve",
        reason: text(&form, "reason").into(),
        fields: (!fields.is_empty()).then(|| fields.into_iter().map(String::from).collect()),
        masking,
        row_scope: Some(text(&form, "row_scope").to_string()),
        calls_per_day: text(&form, "calls_per_day").parse().ok(),
        rows_per_day: text(&form, "rows_per_day").parse().ok(),
        rate_per_second: text(&form, "rate_per_second").parse().ok(),
    };
    match state
        .engines
        .sharing
        .decide_request(&user.actor, &id, &d)
        .await
    {
        Ok(_) => Redirect::to(&format!("/sharing/requests/{id}")).into_response(),
        Err(e) => user.fail(e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    match state
        .engines
        .sharing
        .revoke_grant(&user.actor, &id, text(&form, "reason"))
        .await
    {
        Ok(_) => Redirect::to("/sharing/grants").into_response(),
        Err(e) => user.fail(e),
    }
}

async fn file_demand(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let input = DemandInput {
        department: String::new(),
        title: text(&form, "title").into(),
        description: text(&form, "description").into(),
        resource_code: Some(text(&form, "resource_code").to_string()).filter(|c| !c.is_empty()),
    };
    match state.engines.sharing.file_demand(&user.actor, &input).await {
        Ok(_) => Redirect::to("/sharing/demands").into_response(),
        Err(e) => user.fail(e),
    }
}

async fn answer_demand(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let a = DemandAnswer {
        satisfied: text(&form, "satisfied") == "yes",
        answer: text(&form, "answer").into(),
        resource_code: Some(text(&form, "resource_code").to_string()).filter(|c| !c.is_empty()),
    };
    match state
        .engines
        .sharing
        .answer_demand(&user.actor, &id, &a)
        .await
    {
        Ok(_) => Redirect::to("/sharing/demands").into_response(),
        Err(e) => user.fail(e),
    }
}
