//! The integrated-services API (一件事一次办): service definitions (JSON, and BPMN 2.0 XML in
//! and out), cases, a department's queue and its decisions, incidents, statistics. An
//! applicant's own application goes through their signed-in page, not an API key.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use shuniu_cases::{Decision, Resolution, ServiceDefinition};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cases))
        .routes(routes!(list_services))
        .routes(routes!(get_service, define_service))
        .routes(routes!(get_bpmn, import_bpmn))
        .routes(routes!(service_stats))
        .routes(routes!(queue))
        .routes(routes!(get_case))
        .routes(routes!(get_material))
        .routes(routes!(decide_step))
        .routes(routes!(resolve_case))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: serde::Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CasesQuery {
    /// Only the cases of this service.
    service: Option<String>,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: i64,
    /// At most this many (100 unless said).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Cases, newest first (the hub's operator): each with `id`, `service`, `state` (open,
/// completed, refused, incident, withdrawn) and `opened_at`, the version it runs, where it
/// came from (`application`, or `event:RESOURCE@VERSION`) and its due time.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CasesQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_cases(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<CasesQuery>,
) -> Result<Json, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit is between 1 and 1000"));
    }
    if q.offset < 0 {
        return Err(ApiError::bad_request("offset is not negative"));
    }
    let rows = state
        .engines
        .cases
        .list(&actor, q.service.as_deref(), q.offset, limit)
        .await?;
    Ok(json(&rows))
}

/// The integrated services: code, name, version, trigger (application or event), steps,
/// departments, promised working days.
#[utoipa::path(get, path = "/api/v1/cases/services", tag = "cases",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_services(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.cases.services().await?))
}

/// A service's current definition (docs/cases.md).
#[utoipa::path(get, path = "/api/v1/cases/services/{code}", tag = "cases",
    params(("code" = String, Path, description = "service code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_service(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.cases.definition(&code, None).await?))
}

/// Saves a new version of a service (the hub); running cases keep the version they started
/// on. Every problem is reported at once under its field.
#[utoipa::path(put, path = "/api/v1/cases/services/{code}", tag = "cases",
    params(("code" = String, Path, description = "service code")), request_body = Object,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn define_service(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(mut b): ApiJson<ServiceDefinition>,
) -> Result<Json, ApiError> {
    b.code = code;
    let version = state.engines.cases.define(&actor, &b).await?;
    Ok(json(
        &serde_json::json!({"code": b.code, "version": version}),
    ))
}

/// The service's steps as BPMN 2.0 XML, with a diagram (opens in common modelers).
#[utoipa::path(get, path = "/api/v1/cases/services/{code}/bpmn", tag = "cases",
    params(("code" = String, Path, description = "service code")),
    responses((status = 400, body = ErrorBody), (status = 200, content_type = "application/xml", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_bpmn(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Path(code): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let xml = state.engines.cases.bpmn(&code, None).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{code}.bpmn\""),
            ),
        ],
        xml,
    )
        .into_response())
}

/// Replaces the service's steps with a BPMN 2.0 process (the hub), as a new version: tasks
/// with `shuniu:department` (or in lanes named after departments), parallel and exclusive
/// gateways, conditional flows, timer boundary events for deadlines. Anything else is
/// refused by name (`BPMN_INVALID`).
#[utoipa::path(put, path = "/api/v1/cases/services/{code}/bpmn", tag = "cases",
    params(("code" = String, Path, description = "service code")),
    request_body(content = String, content_type = "application/xml"),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_bpmn(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    body: String,
) -> Result<Json, ApiError> {
    let version = state
        .engines
        .cases
        .import_bpmn(&actor, &code, &body)
        .await?;
    Ok(json(&serde_json::json!({"code": code, "version": version})))
}

/// Each service's figures: cases by state, materials and visits avoided, steps joined, days
/// promised and taken, the share closed on time, satisfaction (好差评).
#[utoipa::path(get, path = "/api/v1/cases/stats", tag = "cases",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn service_stats(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.cases.stats().await?))
}

/// The caller's department's queue: its steps waiting for a decision, the soonest due first.
#[utoipa::path(get, path = "/api/v1/cases/queue", tag = "cases",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn queue(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json, ApiError> {
    Ok(json(&state.engines.cases.queue(&actor).await?))
}

/// A case with its steps, history and jobs — for the hub and the departments handling one of
/// its steps (which see the form; the read is on the applicant's record).
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "case id")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_case(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.cases.detail(&actor, &id).await?))
}

/// A material the applicant uploaded (the file as uploaded: PDF, OFD, JPEG or PNG) — for the
/// hub and the departments handling a step of the case; on the applicant's record.
#[utoipa::path(get, path = "/api/v1/cases/{id}/materials/{code}", tag = "cases",
    params(("id" = String, Path, description = "case id"), ("code" = String, Path, description = "material code")),
    responses((status = 200, description = "the file"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_material(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, code)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let f = state.engines.cases.material(&actor, &id, &code).await?;
    Ok(crate::web::attachment(&f.mime, &f.name, f.bytes))
}

#[derive(Deserialize, ToSchema)]
struct DecisionBody {
    /// approve (办结), return (补正: back to the applicant), refuse (不予办理).
    decision: String,
    /// What to correct, or why refused (required for those), or a note.
    #[serde(default)]
    note: String,
    /// For a step that issues a licence to someone its decision names: the holder's ID number
    /// or unified social credit code (the enterprise the registration created).
    #[serde(default)]
    holder: Option<String>,
}

/// The handling department's data officer decides a ready step.
#[utoipa::path(post, path = "/api/v1/cases/{id}/steps/{step}/decision", tag = "cases",
    params(("id" = String, Path, description = "case id"), ("step" = String, Path, description = "step id")),
    request_body = DecisionBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_step(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, step)): Path<(String, String)>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<Json, ApiError> {
    let decision = match b.decision.as_str() {
        "approve" => Decision::Approve {
            note: b.note,
            holder: b.holder,
        },
        "return" => Decision::Return { note: b.note },
        "refuse" => Decision::Refuse { reason: b.note },
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "CASE_DECISION",
                format!("“{other}”不是有效的办理结果（approve、return、refuse）"),
                format!("{other:?} is not a decision (approve, return, refuse)"),
            ));
        }
    };
    Ok(json(
        &state
            .engines
            .cases
            .decide(&actor, &id, &step, decision)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct ResolveBody {
    /// retry (the failed job again) or abandon (compensate the done steps, close the case).
    resolution: String,
}

/// The hub resolves a case's incident.
#[utoipa::path(post, path = "/api/v1/cases/{id}/resolve", tag = "cases",
    params(("id" = String, Path, description = "case id")), request_body = ResolveBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_case(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResolveBody>,
) -> Result<Json, ApiError> {
    let resolution = match b.resolution.as_str() {
        "retry" => Resolution::Retry,
        "abandon" => Resolution::Abandon,
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "CASE_RESOLUTION",
                format!("“{other}”不是有效的处理方式（retry、abandon）"),
                format!("{other:?} is not a resolution (retry, abandon)"),
            ));
        }
    };
    Ok(json(
        &state.engines.cases.resolve(&actor, &id, resolution).await?,
    ))
}
