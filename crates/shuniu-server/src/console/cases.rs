//! Integrated services in the console (一件事一次办): the services with their figures
//! (减材料、减环节、减时间、减跑动, 好差评), a department's queue of steps with their deadlines,
//! the hub's recent cases and incidents; a service's page (form, materials and how each is
//! satisfied, steps, the process drawn by bpmn-js from the hub's own BPMN); and a case's page
//! (steps, history, the form for those handling it, the department's decision, the hub's
//! resolution of an incident).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use shuniu_cases::{CasesError, Decision, Resolution};
use shuniu_policy::{Action, Target, decide};

use super::{ConsoleUser, page, urlencode};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::{CheckedForm, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(cases_page))
        .route("/cases/services/{code}", get(service_page))
        .route("/cases/services/{code}/process.bpmn", get(service_bpmn))
        .route("/cases/{id}", get(case_page).post(case_action))
        .route("/cases/{id}/materials/{code}", get(case_material))
}

fn department_name(state: &AppState, code: &str) -> String {
    state.names.department(code).unwrap_or(code.to_string())
}

async fn cases_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let c = &state.engines.cases;
    let services = tried!(user, c.services().await);
    let stats = tried!(user, c.stats().await);
    let services: Vec<serde_json::Value> = services
        .iter()
        .map(|s| {
            let st = stats.iter().find(|x| x.service == s.code);
            serde_json::json!({
                "code": s.code, "name": s.name, "version": s.version, "trigger": s.trigger,
                "steps": s.steps, "deadline_days": s.deadline_days,
                "departments": s.departments.iter().map(|d| department_name(&state, d)).collect::<Vec<_>>(),
                "stats": st,
                "average_days": st.and_then(|x| x.average_days).map(|d| format!("{d:.1}")),
                "on_time": st.and_then(|x| x.on_time_share).map(|v| format!("{:.0}%", v * 100.0)),
                "rating": st.and_then(|x| x.rating).map(|v| format!("{v:.1}")),
            })
        })
        .collect();
    let hub = decide(&user.actor, Action::ReadCases, Target::Hub).is_ok();
    let queue = if user.actor.department.is_empty() {
        Vec::new()
    } else {
        c.queue(&user.actor).await.unwrap_or_default()
    };
    let queue: Vec<serde_json::Value> = queue
        .iter()
        .map(|s| serde_json::json!({"step": ser(s), "overdue": s.overdue}))
        .collect();
    let recent = if hub {
        tried!(user, c.list(&user.actor, None, 0, 30).await)
    } else {
        Vec::new()
    };
    let service_name = |code: &str| {
        services
            .iter()
            .find(|s| s["code"] == code)
            .and_then(|s| s["name"].as_str())
            .unwrap_or(code)
            .to_string()
    };
    let recent: Vec<serde_json::Value> = recent
        .iter()
        .map(|r| serde_json::json!({"case": ser(r), "service_name": service_name(&r.service)}))
        .collect();
    page(
        &state,
        &user,
        "cases.html",
        context! {
            services => ser(&services), queue => ser(&queue), recent => ser(&recent), hub => hub,
        },
    )
}

async fn service_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let c = &state.engines.cases;
    let def = tried!(user, c.definition(&code, None).await);
    let summary = tried!(user, c.services().await)
        .into_iter()
        .find(|s| s.code == code);
    let steps: Vec<serde_json::Value> = def
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "s": ser(s),
                "department_name": department_name(&state, &s.department),
                "after": s.after.iter().filter_map(|a| def.step(a).map(|x| x.name.clone())).collect::<Vec<_>>(),
            })
        })
        .collect();
    page(
        &state,
        &user,
        "case_service.html",
        context! { d => ser(&def), steps => ser(&steps), version => summary.map(|s| s.version) },
    )
}

/// The service's BPMN for the page's diagram (and for download into a modeler).
async fn service_bpmn(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    let xml = tried!(user, state.engines.cases.bpmn(&code, None).await);
    (
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{code}.bpmn\""),
            ),
        ],
        xml,
    )
        .into_response()
}

async fn case_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    render(&state, &user, &id, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    notice: Option<String>,
) -> Response {
    let c = &state.engines.cases;
    let detail = tried!(user, c.detail(&user.actor, id).await);
    let def = tried!(
        user,
        c.definition(&detail.case.service, Some(detail.case.version))
            .await
    );
    let steps: Vec<serde_json::Value> = detail
        .steps
        .iter()
        .map(|s| {
            let may = s.state == "ready"
                && decide(
                    &user.actor,
                    Action::HandleCases,
                    Target::SharingOf {
                        department: &s.department,
                    },
                )
                .is_ok();
            let issues = def.step(&s.step).and_then(|d| d.issues.as_ref());
            serde_json::json!({
                "s": ser(s),
                "department_name": department_name(state, &s.department),
                "may_decide": may,
                "issues": issues.is_some(),
                "holder_needed": issues.is_some_and(|i| i.holder == shuniu_cases::ResultHolder::Decision),
            })
        })
        .collect();
    // The form with its labels, in the definition's order.
    let form = def.labelled(&detail.form);
    let may_resolve = detail.case.state == "incident"
        && decide(&user.actor, Action::DefineServices, Target::Hub).is_ok();
    page(
        state,
        user,
        "case.html",
        context! {
            c => ser(&detail.case), service_name => detail.service_name.clone(),
            steps => ser(&steps), events => ser(&detail.events), jobs => ser(&detail.jobs),
            form => ser(&form), notice => notice, may_resolve => may_resolve,
            materials => ser(&detail.materials), results => ser(&detail.results),
        },
    )
}

/// An uploaded material, for the hub and the departments handling the case (audited).
async fn case_material(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((id, code)): Path<(String, String)>,
) -> Response {
    let file = tried!(
        user,
        state.engines.cases.material(&user.actor, &id, &code).await
    );
    crate::web::attachment(&file.mime, &file.name, file.bytes)
}

fn problem_text(user: &ConsoleUser, e: &CasesError) -> Option<String> {
    let p = shuniu_types::Classified::problem(e);
    if !matches!(
        p.kind,
        shuniu_types::ErrorKind::Invalid | shuniu_types::ErrorKind::Conflict
    ) {
        return None;
    }
    let mut text = user.lang.pick(p.message_zh, p.message_en).to_string();
    for f in &p.fields {
        text.push_str(&format!(
            "；{}",
            user.lang.pick(f.message_zh.clone(), f.message_en.clone())
        ));
    }
    Some(text)
}

/// A department's decision on a step, or the hub's resolution of an incident.
async fn case_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let c = &state.engines.cases;
    let note = filled(&form, "note").unwrap_or_default().to_string();
    let step = filled(&form, "step").unwrap_or_default().to_string();
    let done = match filled(&form, "action").unwrap_or_default() {
        "approve" => c
            .decide(
                &user.actor,
                &id,
                &step,
                Decision::Approve {
                    note,
                    holder: filled(&form, "holder").map(String::from),
                },
            )
            .await
            .map(|_| ()),
        "return" => c
            .decide(&user.actor, &id, &step, Decision::Return { note })
            .await
            .map(|_| ()),
        "refuse" => c
            .decide(&user.actor, &id, &step, Decision::Refuse { reason: note })
            .await
            .map(|_| ()),
        "retry" => c
            .resolve(&user.actor, &id, Resolution::Retry)
            .await
            .map(|_| ()),
        "abandon" => c
            .resolve(&user.actor, &id, Resolution::Abandon)
            .await
            .map(|_| ()),
        _ => Ok(()),
    };
    match done {
        Ok(()) => Redirect::to(&format!("/cases/{}", urlencode(&id))).into_response(),
        Err(e) => match problem_text(&user, &e) {
            Some(text) => render(&state, &user, &id, Some(text)).await,
            None => user.fail(e),
        },
    }
}
