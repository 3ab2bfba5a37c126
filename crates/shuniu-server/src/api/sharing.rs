//! The sharing workflow API (供需对接): requests and the provider's decisions, grants and
//! revocation, demands and the satisfaction rate, the working-day calendar.
//!
//! Bodies are the sharing engine's own types, documented as objects; their fields are in
//! docs/sharing.md.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shuniu_sharing::{DecisionInput, DemandAnswer, DemandInput, RequestInput};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, file_request))
        .routes(routes!(get_request))
        .routes(routes!(decide_request))
        .routes(routes!(inbox))
        .routes(routes!(list_grants))
        .routes(routes!(revoke_grant))
        .routes(routes!(list_demands, file_demand))
        .routes(routes!(route_demand))
        .routes(routes!(answer_demand))
        .routes(routes!(stats))
        .routes(routes!(calendar, set_calendar_day))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// One department's requests (either side); the whole hub's when absent (hub only).
    pub department: Option<String>,
    /// `pending`, `escalated`, `granted`, `refused`.
    pub state: Option<String>,
}

/// Sharing requests: one department's (as provider or consumer) or, for the hub, all.
#[utoipa::path(get, path = "/api/v1/sharing/requests", tag = "sharing", params(RequestsQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> Result<Json, ApiError> {
    // An unknown state matches no request.
    let states = match q.state.as_deref() {
        None => Vec::new(),
        Some(s) => match shuniu_types::states::RequestState::parse_term(s) {
            Some(st) => vec![st],
            None => return Ok(json(&Vec::<shuniu_store::ShareRequestRow>::new())),
        },
    };
    Ok(json(
        &state
            .engines
            .sharing
            .requests(&actor, q.department.as_deref(), &states)
            .await?,
    ))
}

/// Files a request: `{resource_code, application_id, fields, purpose, scenario, legal_basis,
/// duration_days, services, row_scope}`. Unconditional resources are granted at once,
/// conditional ones wait for the provider (deadline in working days), negative-list ones are
/// refused at once with the legal basis.
#[utoipa::path(post, path = "/api/v1/sharing/requests", tag = "sharing",
    request_body(content = Object, description = "resource_code, application_id, fields, purpose, scenario, legal_basis, duration_days, services (lookup, verify, compare, subscribe, extract), row_scope"),
    responses((status = 201, body = Object, description = "The request with its events"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn file_request(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<RequestInput>,
) -> Result<Response, ApiError> {
    let r = state.engines.sharing.file_request(&actor, &input).await?;
    Ok((StatusCode::CREATED, json(&r)).into_response())
}

/// One request with its history (who did what, when, why).
#[utoipa::path(get, path = "/api/v1/sharing/requests/{id}", tag = "sharing",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_request(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.request(&actor, &id).await?))
}

/// The provider (or, once escalated, the hub) approves — possibly narrowing fields, masking,
/// row scope and limits — or refuses with a reason.
#[utoipa::path(post, path = "/api/v1/sharing/requests/{id}/decision", tag = "sharing",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Object, description = "approve, reason, fields, masking, row_scope, calls_per_day, rows_per_day, rate_per_second"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_request(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(d): ApiJson<DecisionInput>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .decide_request(&actor, &id, &d)
            .await?,
    ))
}

/// Requests waiting for the caller's department (the hub: everything pending or escalated),
/// oldest deadline first.
#[utoipa::path(get, path = "/api/v1/sharing/inbox", tag = "sharing",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn inbox(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.inbox(&actor).await?))
}

/// Grants the caller's department holds or gives (the hub: all), with today's usage.
#[utoipa::path(get, path = "/api/v1/sharing/grants", tag = "sharing",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_grants(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.grants(&actor).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// Revokes a grant; it stops working before this call returns.
#[utoipa::path(post, path = "/api/v1/sharing/grants/{id}/revoke", tag = "sharing",
    params(("id" = String, Path, description = "Grant id")), request_body = ReasonBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revoke_grant(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .revoke_grant(&actor, &id, &b.reason)
            .await?,
    ))
}

/// Demands: the caller's department's (filed or routed to it); the hub's: all.
#[utoipa::path(get, path = "/api/v1/sharing/demands", tag = "sharing",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_demands(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.demands(&actor).await?))
}

/// Files a demand (需求): `{title, description, resource_code?, department?}`.
#[utoipa::path(post, path = "/api/v1/sharing/demands", tag = "sharing",
    request_body(content = Object, description = "title, description, resource_code (optional: routes it to the provider), department (the hub files for others)"),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn file_demand(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<DemandInput>,
) -> Result<Response, ApiError> {
    let d = state.engines.sharing.file_demand(&actor, &input).await?;
    Ok((StatusCode::CREATED, json(&d)).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct RouteBody {
    /// The department code that should answer.
    pub department: String,
}

/// The hub routes a demand to the department that should answer it.
#[utoipa::path(post, path = "/api/v1/sharing/demands/{id}/route", tag = "sharing",
    params(("id" = String, Path, description = "Demand id")), request_body = RouteBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn route_demand(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RouteBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .route_demand(&actor, &id, &b.department)
            .await?,
    ))
}

/// The routed department answers: `{satisfied, answer, resource_code?}`.
#[utoipa::path(post, path = "/api/v1/sharing/demands/{id}/answer", tag = "sharing",
    params(("id" = String, Path, description = "Demand id")),
    request_body(content = Object, description = "satisfied, answer, resource_code"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer_demand(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<DemandAnswer>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state.engines.sharing.answer_demand(&actor, &id, &a).await?,
    ))
}

/// The demand-satisfaction rate (需求满足率), requests pending and overdue, active grants,
/// and the unified service's share of data accesses over 30 days.
#[utoipa::path(get, path = "/api/v1/sharing/stats", tag = "sharing",
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
async fn stats(State(state): State<AppState>, Caller(_actor): Caller) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.stats().await?))
}

#[derive(Serialize, ToSchema)]
pub struct CalendarDay {
    pub day: String,
    /// `holiday` or `workday` (a make-up working day).
    pub kind: String,
    pub note: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// A year, e.g. 2026 (this year by default).
    pub year: Option<i32>,
}

/// The working-day calendar's special days of a year (holidays, make-up working days).
#[utoipa::path(get, path = "/api/v1/sharing/calendar", tag = "sharing", params(CalendarQuery),
    responses((status = 200, body = Vec<CalendarDay>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn calendar(
    State(state): State<AppState>,
    Caller(_actor): Caller,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> Result<axum::Json<Vec<CalendarDay>>, ApiError> {
    use chrono::Datelike;
    let year = q
        .year
        .unwrap_or_else(|| chrono::Utc::now().year())
        .clamp(1900, 2999);
    let from = chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    let to = chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default();
    Ok(axum::Json(
        state
            .engines
            .sharing
            .calendar_days(from, to)
            .into_iter()
            .map(|(d, k, n)| CalendarDay {
                day: d.to_string(),
                kind: match k {
                    shuniu_sharing::calendar::DayKind::Holiday => "holiday",
                    shuniu_sharing::calendar::DayKind::Workday => "workday",
                }
                .into(),
                note: n,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct CalendarBody {
    /// YYYY-MM-DD
    #[schema(format = Date)]
    pub day: String,
    /// `holiday`, `workday` (make-up working day) or `normal` (back to the weekday rule).
    #[schema(pattern = "^(holiday|workday|normal)$")]
    pub kind: String,
    #[serde(default)]
    pub note: String,
}

/// Sets a day of the calendar (the hub).
#[utoipa::path(put, path = "/api/v1/sharing/calendar", tag = "sharing", request_body = CalendarBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_calendar_day(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<CalendarBody>,
) -> Result<StatusCode, ApiError> {
    state
        .engines
        .sharing
        .set_calendar_day(&actor, &b.day, &b.kind, &b.note)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
