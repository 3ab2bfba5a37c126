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

use super::{ConsoleUser, page};
use crate::AppState;
use crate::web::forms::{all, text};
use crate::web::{CheckedForm, ser};
use shuniu_types::{Classified, ErrorKind};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sharing", get(overview))
        .route("/sharing/new", get(request_form))
        .route("/sharing/requests", post(file_request))
        .route("/sharing/requests/{id}", get(request_page).post(decide))
        .route("/sharing/grants/{id}/revoke", post(revoke))
        .route("/sharing/demands", post(file_demand))
        .route("/sharing/demands/{id}/answer", post(answer_demand))
}

async fn overview(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let sharing = &state.engines.sharing;
    let stats = match sharing.stats().await {
        Ok(s) => s,
        Err(e) => return user.fail(e),
    };
    let scope = shuniu_policy::scope(&user.actor, shuniu_policy::Action::ReadSharing);
    let department = scope.department().map(str::to_string);
    // Whoever sees no sharing at all (a viewer) sees the city's figures and empty lists.
    let (requests, inbox, grants, demands) = if scope == shuniu_policy::Scope::Nothing {
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
            tried!(user, sharing.grants(&user.actor).await),
            tried!(user, sharing.demands(&user.actor).await),
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
    let grants: Vec<_> = grants
        .iter()
        .map(|g| {
            context! {
                g => ser(g),
                services => g.terms.as_ref().map(|t| t.services.iter().map(|s| s.code()).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
                fields => g.terms.as_ref().map(|t| t.fields.join(", ")).unwrap_or_default(),
                scope => g.terms.as_ref().map(|t| t.row_scope.to_string()).unwrap_or_default(),
                may_revoke => g.grant.state.is_active() && shuniu_policy::decide(
                    &user.actor,
                    shuniu_policy::Action::DecideRequest,
                    shuniu_policy::Target::Share { provider: &g.grant.provider, consumer: &g.grant.consumer, escalated: false },
                ).is_ok(),
            }
        })
        .collect();
    let demands: Vec<_> = demands
        .iter()
        .map(|d| {
            context! {
                d => ser(d),
                may_answer => d.state.is_awaiting() && shuniu_policy::decide(
                    &user.actor,
                    shuniu_policy::Action::AnswerDemand,
                    shuniu_policy::Target::Demand { department: &d.department, routed_to: d.routed_to.as_deref() },
                ).is_ok(),
            }
        })
        .collect();
    page(
        &state,
        &user,
        "sharing.html",
        context! {
            stats => ser(&stats),
            satisfaction => stats.satisfaction_rate.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            unified => stats.unified_share.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            requests => ser(&requests),
            inbox => inbox,
            grants => grants,
            demands => demands,
            may_file => shuniu_policy::may_somewhere(&user.actor, shuniu_policy::Action::RequestShare),
            deadline => state.engines.sharing.deadline_from_now().to_rfc3339()[..10].to_string(),
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
        Ok(_) => Redirect::to("/sharing#grants").into_response(),
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
        Ok(_) => Redirect::to("/sharing#demands").into_response(),
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
        Ok(_) => Redirect::to("/sharing#demands").into_response(),
        Err(e) => user.fail(e),
    }
}
