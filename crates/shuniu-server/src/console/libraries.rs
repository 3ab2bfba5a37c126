//! The base libraries (基础库) in the console: where each attribute comes from, what the last
//! build did, and (for the hub) defining and building them.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use shuniu_libraries::LibraryKind;
use shuniu_types::{Classified, ErrorKind};

use super::{ConsoleUser, page};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::{CheckedForm, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/libraries", get(libraries_page).post(define))
        .route("/libraries/{code}/build", post(build))
        .route("/linkage/reviews", get(reviews_page))
        .route("/linkage/reviews/{id}", post(decide_review))
        .route("/profiles", get(profiles_page).post(view_profile))
}

async fn libraries_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render(&state, &user, None, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    built: Option<shuniu_libraries::BuildReport>,
    error: Option<String>,
) -> Response {
    match state.engines.libraries.list(&user.actor).await {
        Ok(libraries) => {
            let missing: Vec<&str> = LibraryKind::ALL
                .iter()
                .filter(|k| !libraries.iter().any(|l| l.kind == **k))
                .map(|k| k.code())
                .collect();
            page(
                state,
                user,
                "libraries.html",
                context! {
                    libraries => ser(&libraries),
                    missing => missing,
                    built => ser(&built),
                    error => error,
                },
            )
        }
        Err(e) => user.fail(e),
    }
}

async fn define(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let Some(kind) = filled(&form, "kind").and_then(LibraryKind::parse) else {
        return render(
            &state,
            &user,
            None,
            Some(user.lang.pick(
                "基础库类型只能是人口库、法人库、地址库或电子证照库".into(),
                "the kind is population, legal_entity, address or licence".into(),
            )),
        )
        .await;
    };
    let provider = user.actor.department.clone();
    match state
        .engines
        .libraries
        .define(&user.actor, kind, &provider)
        .await
    {
        Ok(_) => Redirect::to("/libraries").into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render(&state, &user, None, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn build(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let full = filled(&form, "full").is_some();
    match state
        .engines
        .libraries
        .build(&user.actor, &code, full)
        .await
    {
        Ok(report) => render(&state, &user, Some(report), None).await,
        Err(e) if matches!(e.kind(), ErrorKind::Invalid) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render(&state, &user, None, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

#[derive(serde::Deserialize)]
struct ReviewsQuery {
    state: Option<String>,
}

async fn reviews_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Query(q): axum::extract::Query<ReviewsQuery>,
) -> Response {
    render_reviews(&state, &user, q.state.as_deref().unwrap_or("pending"), None).await
}

async fn render_reviews(
    state: &AppState,
    user: &ConsoleUser,
    which: &str,
    error: Option<String>,
) -> Response {
    let sharing = &state.engines.sharing;
    let (pairs, pending) = match (
        sharing.link_reviews(&user.actor, which, 20).await,
        sharing.pending_link_reviews(&user.actor).await,
    ) {
        (Ok(p), Ok(n)) => (p, n),
        (Err(e), _) | (_, Err(e)) => return user.fail(e),
    };
    page(
        state,
        user,
        "linkage_reviews.html",
        context! {
            pairs => ser(&pairs),
            pending => pending,
            which => which,
            error => error,
        },
    )
}

async fn decide_review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let accept = filled(&form, "decision") == Some("accept");
    match state
        .engines
        .sharing
        .decide_link_review(&user.actor, &id, accept)
        .await
    {
        Ok(()) => Redirect::to("/linkage/reviews").into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render_reviews(&state, &user, "pending", Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

/// 一人一档、一企一档 in the console: an officer picks one of their department's systems, states
/// why, and sees what that system's grants allow — audited as the officer's view.
async fn profiles_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_profile(&state, &user, None, None, ProfileForm::default()).await
}

#[derive(Default, serde::Serialize)]
struct ProfileForm {
    kind: String,
    key: String,
    purpose: String,
    system: String,
}

async fn render_profile(
    state: &AppState,
    user: &ConsoleUser,
    profile: Option<shuniu_sharing::Profile>,
    error: Option<String>,
    form: ProfileForm,
) -> Response {
    match state.engines.sharing.profile_systems(&user.actor).await {
        Ok(systems) => page(
            state,
            user,
            "profile.html",
            context! {
                systems => systems.iter().map(|c| context! { id => c.application.clone(), name => c.name.clone() }).collect::<Vec<_>>(),
                profile => ser(&profile),
                error => error,
                form => ser(&form),
            },
        ),
        Err(e) => user.fail(e),
    }
}

async fn view_profile(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let f = ProfileForm {
        kind: filled(&form, "kind").unwrap_or("person").to_string(),
        key: filled(&form, "key").unwrap_or("").trim().to_string(),
        purpose: filled(&form, "purpose").unwrap_or("").trim().to_string(),
        system: filled(&form, "system").unwrap_or("").to_string(),
    };
    let subject = if f.kind == "enterprise" {
        shuniu_sharing::Subject::enterprise(&f.key)
    } else {
        shuniu_sharing::Subject::person(&f.key)
    };
    let result = match subject {
        Ok(subject) => {
            state
                .engines
                .sharing
                .officer_profile(&user.actor, &f.system, &subject, &f.purpose)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => render_profile(&state, &user, Some(p), None, f).await,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Denied
            ) =>
        {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render_profile(&state, &user, None, Some(msg), f).await
        }
        Err(e) => user.fail(e),
    }
}
