//! The base-library API (基础库): define a library from the designated sources, build it
//! (in full or from the change logs), and see where each attribute comes from. Hub operators
//! only; reading a library's rows is the unified service's, like any resource's.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shuniu_libraries::{LibraryError, LibraryKind};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_libraries, define_library))
        .routes(routes!(build_library))
        .routes(routes!(list_reviews))
        .routes(routes!(decide_review))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// The base libraries: per library its code, kind, last build, the source versions reached,
/// and per attribute the designated authoritative resource and every source in order.
#[utoipa::path(get, path = "/api/v1/libraries", tag = "libraries",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_libraries(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.libraries.list(&actor).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct DefineRequest {
    /// `population` (人口库), `legal_entity` (法人库) or `address` (地址库).
    #[schema(pattern = "^(population|legal_entity|address)$")]
    pub kind: String,
    /// The providing department (the hub's); the caller's own by default.
    pub provider: Option<String>,
}

/// Registers, publishes and binds a library's catalog entry from the attributes designated
/// for its key type (or brings its items up to date with the designations).
#[utoipa::path(post, path = "/api/v1/libraries", tag = "libraries", request_body = DefineRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn define_library(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<DefineRequest>,
) -> Result<Json, ApiError> {
    let kind = LibraryKind::parse(&req.kind).ok_or_else(|| {
        LibraryError::invalid(
            "LIBRARY_KIND",
            "基础库类型只能是 population（人口库）、legal_entity（法人库）、address（地址库）或 licence（电子证照库）",
            "kind is population, legal_entity, address or licence",
        )
    })?;
    let provider = req.provider.unwrap_or_else(|| actor.department.clone());
    let rec = state
        .engines
        .libraries
        .define(&actor, kind, &provider)
        .await?;
    Ok(json(&serde_json::json!({
        "code": rec.code, "name": rec.spec.name, "version": rec.version,
        "items": rec.spec.data_items.iter().map(|i| &i.name).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct BuildRequest {
    /// Rebuild from every source row instead of from the change logs.
    #[serde(default)]
    pub full: bool,
}

/// Builds a library now: from the sources' change logs since the versions it reached, or in
/// full. Returns what the build did.
#[utoipa::path(post, path = "/api/v1/libraries/{code}/build", tag = "libraries", request_body = BuildRequest,
    params(("code" = String, Path, description = "The library's resource code")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn build_library(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<BuildRequest>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .libraries
            .build(&actor, &code, req.full)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `pending` (default), `accepted` or `rejected`.
    pub state: Option<String>,
    /// At most this many, 50 by default (1–500).
    pub limit: Option<usize>,
}

/// The record-linkage review queue (人工复核): pairs the model found likely but not certain,
/// each with the record, the candidate's own record (personal numbers masked), the match
/// probability and the model's explanation. Hub operators; each pair shown is audited.
#[utoipa::path(get, path = "/api/v1/linkage/reviews", tag = "libraries", params(ReviewQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn list_reviews(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .link_reviews(
                &actor,
                q.state.as_deref().unwrap_or("pending"),
                q.limit.unwrap_or(50),
            )
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ReviewDecision {
    /// True: the record is this person's (it joins their profile); false: it is not (the
    /// pair is never linked or queued again).
    pub accept: bool,
}

/// Decides a pending pair.
#[utoipa::path(post, path = "/api/v1/linkage/reviews/{id}/decision", tag = "libraries", request_body = ReviewDecision,
    params(("id" = String, Path, description = "The review's id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_review(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewDecision>,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .engines
        .sharing
        .decide_link_review(&actor, &id, req.accept)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
