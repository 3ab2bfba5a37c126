//! Console pages of open data (数据开放) for the hub and providing departments: the open
//! datasets with their publication state, each resource's open rules (keep, mask or drop per
//! field; row filter; aggregation), applications for conditionally open data to approve or
//! refuse, and the public's data requests for the hub to answer.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use shuniu_open::OpenError;
use shuniu_policy::grant::RowScope;
use shuniu_policy::open::{Aggregation, FieldAction, OpenRules, default_action, open_access};
use shuniu_types::MaskingRule;

use super::{ConsoleUser, page};
use crate::AppState;
use crate::i18n::t;
use crate::web::listing::{at, column, csv_download};
use crate::web::{CheckedForm, ListQuery, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/opendata", get(overview))
        .route("/opendata/r/{code}", get(rules_page).post(save_rules))
        .route("/opendata/applications/{id}", post(decide))
        .route("/opendata/requests/{id}", post(answer))
}

/// The department's (or the city's) open datasets, paged and filtered by words and state;
/// the applications to decide and the public's requests below.
async fn overview(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Response {
    let pubs = match state.engines.open.publications_for(&user.actor).await {
        Ok(p) => p,
        Err(e) => return user.fail(e),
    };
    let pubs: Vec<_> = pubs
        .into_iter()
        .filter(|(p, _)| q.filter("state").is_none_or(|s| p.state.code() == s))
        .filter(|(p, name)| q.matches(&[&p.code, name]))
        .collect();
    if q.wants_csv() {
        let lang = user.lang;
        type Row = (shuniu_store::PublicationRow, String);
        let cols = [
            column(t(lang, "resource"), |r: &Row| r.1.clone()),
            column(t(lang, "code"), |r: &Row| r.0.code.clone()),
            column(t(lang, "od_state"), |r: &Row| {
                lang.pick(r.0.state.zh(), r.0.state.en()).to_string()
            }),
            column(t(lang, "p_rows"), |r: &Row| r.0.rows.to_string()),
            column(t(lang, "p_modified"), |r: &Row| at(&r.0.published_at)),
        ];
        return csv_download("open-publications", &cols, &pubs);
    }
    let (pubs, listing) = q.page_of(pubs, "/opendata");
    let apps = tried!(user, state.engines.open.applications_for(&user.actor).await);
    let requests = tried!(user, state.engines.open.requests().await);
    let may_answer = shuniu_policy::decide(
        &user.actor,
        shuniu_policy::Action::AnswerOpenRequest,
        shuniu_policy::Target::Hub,
    )
    .is_ok();
    page(
        &state,
        &user,
        "opendata.html",
        context! {
            publications => pubs.iter().map(|(p, name)| context! { p => ser(p), name => name, slug => p.code.to_lowercase() }).collect::<Vec<_>>(),
            applications => apps.iter().map(ser).collect::<Vec<_>>(),
            requests => requests.iter().map(ser).collect::<Vec<_>>(),
            may_answer => may_answer,
            l => ser(&listing),
            states => super::options::<shuniu_types::states::PublicationState>(user.lang),
        },
    )
}

async fn rules_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    user: ConsoleUser,
) -> Response {
    rules_view(&state, &user, &code, None, None).await
}

async fn rules_view(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    error: Option<String>,
    done: Option<shuniu_open::Published>,
) -> Response {
    let rec = match state.engines.catalog.get(&user.actor, code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let rules = match state.engines.open.rules(code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let access = open_access(rec.status, rec.spec.open_type, rec.spec.level);
    let effective_access = access
        .as_ref()
        .copied()
        .unwrap_or(shuniu_policy::open::OpenAccess::Conditional);
    let items: Vec<_> = rec
        .spec
        .data_items
        .iter()
        .map(|i| {
            let default = default_action(i, effective_access);
            let chosen = rules.fields.get(&i.name).copied();
            let code_of = |a: FieldAction| match a {
                FieldAction::Keep => "keep".to_string(),
                FieldAction::Drop => "drop".to_string(),
                FieldAction::Mask(m) => format!("mask:{}", m.code()),
            };
            context! {
                name => i.name.clone(), label => i.label.clone(), personal => i.personal, sensitive => i.sensitive,
                default => code_of(default),
                chosen => chosen.map(code_of).unwrap_or_default(),
            }
        })
        .collect();
    let mut resp = page(
        state,
        user,
        "opendata_rules.html",
        context! {
            code => code,
            name => rec.spec.name,
            slug => code.to_lowercase(),
            access => access.as_ref().map(|a| a.code()).ok(),
            not_open => access.as_ref().err().map(|d| user.lang.pick(d.message_zh.clone(), d.message_en.clone())),
            items => items,
            row_filter => rules.row_filter.to_string(),
            group_by => rules.aggregation.as_ref().map(|a| a.group_by.join(", ")).unwrap_or_default(),
            min_group => rules.aggregation.as_ref().map(|a| a.min_group).unwrap_or(5),
            maskings => MaskingRule::ALL.iter().filter(|m| **m != MaskingRule::None).map(|m| context! { code => m.code(), label => user.lang.pick(m.zh(), m.en()) }).collect::<Vec<_>>(),
            error => error.clone(),
            done => done.map(|d| ser(&d)),
        },
    );
    if error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

async fn save_rules(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut fields = BTreeMap::new();
    for (k, v) in form.iter() {
        let Some(name) = k.strip_prefix("field.") else {
            continue;
        };
        let action = match v.as_str() {
            "" => continue,
            "keep" => FieldAction::Keep,
            "drop" => FieldAction::Drop,
            other => match other
                .strip_prefix("mask:")
                .and_then(MaskingRule::parse_term)
            {
                Some(m) => FieldAction::Mask(m),
                None => {
                    return rules_view(
                        &state,
                        &user,
                        &code,
                        Some(format!("{name}: {other}")),
                        None,
                    )
                    .await;
                }
            },
        };
        fields.insert(name.to_string(), action);
    }
    let row_filter = match RowScope::parse(&get("row_filter")) {
        Ok(r) => r,
        Err(d) => {
            let msg = format!(
                "{} [{}]",
                user.lang.pick(d.message_zh, d.message_en),
                d.code
            );
            return rules_view(&state, &user, &code, Some(msg), None).await;
        }
    };
    let group_by: Vec<String> = get("group_by")
        .split([',', '，'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let aggregation = (!group_by.is_empty()).then(|| Aggregation {
        group_by,
        min_group: get("min_group").parse().unwrap_or(5).max(1),
    });
    let rules = OpenRules {
        fields,
        row_filter,
        aggregation,
    };
    match state
        .engines
        .open
        .set_rules(&user.actor, &code, &rules)
        .await
    {
        Ok(done) => rules_view(&state, &user, &code, None, Some(done)).await,
        Err(e @ (OpenError::Denied(_) | OpenError::NotFound(_))) => user.fail(e),
        Err(e) => {
            let msg = format!(
                "{} [{}]",
                user.lang.pick(e.message_zh(), e.to_string()),
                e.code()
            );
            rules_view(&state, &user, &code, Some(msg), None).await
        }
    }
}

async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let approve = get("decision") == "approve";
    match state
        .engines
        .open
        .decide_application(&user.actor, &id, approve, &get("reason"))
        .await
    {
        Ok(_) => Redirect::to("/opendata#applications").into_response(),
        Err(e) => user.fail(e),
    }
}

async fn answer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let text = form
        .iter()
        .find(|(k, _)| k == "answer")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    match state
        .engines
        .open
        .answer_request(&user.actor, &id, text)
        .await
    {
        Ok(_) => Redirect::to("/opendata#requests").into_response(),
        Err(e) => user.fail(e),
    }
}
