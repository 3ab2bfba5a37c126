//! Administration pages of the hub: users and API applications.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};

use crate::AppState;
use crate::i18n::t;
use crate::web::forms::text;
use crate::web::listing::{column, csv_download};
use crate::web::{CheckedForm, ListQuery, ser};

use shuniu_auth::accounts::AccountError;
use shuniu_types::{FieldError, Role};

use super::catalog::error_map;
use super::{Choice, ConsoleUser, page};
use crate::views;
use crate::web::not_found_page;

/// An administration page: its form (with what was typed and the errors), the roles and
/// departments to choose from, and 422 when the form was refused.
pub(crate) async fn admin_page(
    state: &AppState,
    user: &ConsoleUser,
    template: &str,
    form: Value,
    errors: &[FieldError],
    extra: Value,
) -> Response {
    let departments = tried!(user, state.engines.accounts.departments().await);
    let ctx = context! {
        form => form,
        errors => ser(error_map(errors, user.lang)),
        roles => ser(choices!(Role)),
        departments => ser(departments.iter().map(views::DepartmentView::from).collect::<Vec<_>>()),
        ..extra
    };
    let mut resp = page(state, user, template, ctx);
    if !errors.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

pub(crate) async fn users_view(
    state: &AppState,
    user: &ConsoleUser,
    form: Value,
    errors: &[FieldError],
    created: Option<String>,
    q: &ListQuery,
) -> Response {
    let users = match state.engines.accounts.users(&user.actor).await {
        Ok(u) => u,
        Err(e) => return user.fail(e),
    };
    let dept = |code: &str| state.names.department(code).unwrap_or_default();
    let users: Vec<_> = users
        .into_iter()
        .filter(|u| q.filter("role").is_none_or(|r| u.role.code() == r))
        .filter(|u| {
            q.matches(&[
                &u.login,
                &u.display_name,
                &u.department_code,
                &dept(&u.department_code),
            ])
        })
        .collect();
    if q.wants_csv() {
        let lang = user.lang;
        let cols = [
            column(t(lang, "display_name"), |u: &shuniu_store::User| {
                u.display_name.clone()
            }),
            column(t(lang, "login_name"), |u: &shuniu_store::User| {
                u.login.clone()
            }),
            column(t(lang, "role"), |u: &shuniu_store::User| {
                lang.pick(u.role.zh(), u.role.en()).to_string()
            }),
            column(t(lang, "department_name"), |u: &shuniu_store::User| {
                dept(&u.department_code)
            }),
            column(t(lang, "department_code"), |u: &shuniu_store::User| {
                u.department_code.clone()
            }),
        ];
        return csv_download("users", &cols, &users);
    }
    let (users, listing) = q.page_of(users, "/admin/users");
    let rows: Vec<Value> = users
        .iter()
        .map(|u| context! { login => u.login.clone(), display_name => u.display_name.clone(), role => u.role.code(), department => u.department_code.clone() })
        .collect();
    admin_page(
        state,
        user,
        "users.html",
        form,
        errors,
        context! { users => rows, created => created, l => ser(&listing), role_options => super::options::<Role>(user.lang) },
    )
    .await
}

pub(crate) async fn users_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let form = context! { role => "data_officer", department => user.actor.department.clone() };
    users_view(&state, &user, form, &[], None, &q).await
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let get = |k: &str| text(&form, k).to_string();
    let role = Role::parse_term(&get("role")).unwrap_or(Role::Viewer);
    let result = state
        .engines
        .accounts
        .create_user(
            &user.actor,
            &get("login"),
            &get("display_name"),
            role,
            &get("department"),
            &get("password"),
        )
        .await;
    let kept = context! { login => get("login"), display_name => get("display_name"), role => role.code(), department => get("department") };
    match result {
        Ok(u) => {
            state.names.invalidate();
            users_view(
                &state,
                &user,
                context! { role => "data_officer", department => u.department_code.clone() },
                &[],
                Some(u.login),
                &ListQuery::default(),
            )
            .await
        }
        Err(AccountError::Invalid(errors)) => {
            users_view(&state, &user, kept, &errors, None, &ListQuery::default()).await
        }
        Err(e) => user.fail(e),
    }
}

pub(crate) async fn applications_view(
    state: &AppState,
    user: &ConsoleUser,
    form: Value,
    errors: &[FieldError],
    new_key: Option<String>,
    q: &ListQuery,
) -> Response {
    let apps = match state.engines.accounts.applications(&user.actor).await {
        Ok(a) => a,
        Err(e) => return user.fail(e),
    };
    let dept = |code: &str| state.names.department(code).unwrap_or_default();
    let apps: Vec<_> = apps
        .into_iter()
        .filter(|a| {
            q.matches(&[
                &a.id,
                &a.name,
                &a.department_code,
                &dept(&a.department_code),
            ])
        })
        .collect();
    if q.wants_csv() {
        let lang = user.lang;
        type App = shuniu_store::Application;
        let cols = [
            column(t(lang, "application_id"), |a: &App| a.id.clone()),
            column(t(lang, "application_name"), |a: &App| a.name.clone()),
            column(t(lang, "department_name"), |a: &App| {
                dept(&a.department_code)
            }),
            column(t(lang, "role"), |a: &App| {
                lang.pick(a.role.zh(), a.role.en()).to_string()
            }),
            column(t(lang, "status"), |a: &App| match &a.revoked_at {
                Some(at) => format!("{} {}", t(lang, "revoked"), crate::web::listing::at(at)),
                None => t(lang, "active"),
            }),
        ];
        return csv_download("applications", &cols, &apps);
    }
    let (apps, listing) = q.page_of(apps, "/admin/applications");
    let rows: Vec<Value> = apps
        .iter()
        .map(|a| context! {
            id => a.id.clone(), name => a.name.clone(), role => a.role.code(), key_prefix => a.key_prefix.clone(),
            revoked_at => a.revoked_at.clone(), department => a.department_code.clone(),
        })
        .collect();
    admin_page(
        state,
        user,
        "applications.html",
        form,
        errors,
        context! { apps => rows, new_key => new_key, l => ser(&listing) },
    )
    .await
}

pub(crate) async fn applications_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let form = context! { role => "viewer", department => user.actor.department.clone() };
    applications_view(&state, &user, form, &[], None, &q).await
}

pub(crate) async fn add_application(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let get = |k: &str| text(&form, k).to_string();
    let role = Role::parse_term(&get("role")).unwrap_or(Role::Viewer);
    let kept = context! { id => get("id"), name => get("name"), role => role.code(), department => get("department") };
    match state
        .engines
        .accounts
        .create_application(
            &user.actor,
            &get("id"),
            &get("name"),
            &get("department"),
            role,
        )
        .await
    {
        Ok((_, key)) => {
            state.names.invalidate();
            applications_view(
                &state,
                &user,
                context! { role => "viewer", department => user.actor.department.clone() },
                &[],
                Some(key),
                &ListQuery::default(),
            )
            .await
        }
        Err(AccountError::Invalid(errors)) => {
            applications_view(&state, &user, kept, &errors, None, &ListQuery::default()).await
        }
        Err(e) => user.fail(e),
    }
}

pub(crate) async fn revoke_application(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, _form): CheckedForm<ConsoleUser>,
) -> Response {
    match state
        .engines
        .accounts
        .revoke_application(&user.actor, &id)
        .await
    {
        Ok(()) => Redirect::to("/admin/applications").into_response(),
        Err(AccountError::Store(shuniu_store::StoreError::NotFound { .. })) => not_found_page(),
        Err(e) => user.fail(e),
    }
}
