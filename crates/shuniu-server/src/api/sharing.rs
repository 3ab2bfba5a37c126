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
/// 服务方式, as the request body names them.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ServiceName {
    Lookup,
    Verify,
    Compare,
    Subscribe,
    Extract,
}

/// The body of a sharing request, as the document describes it (the handler reads
/// `shuniu_sharing::RequestInput`; `request_bodies_match_the_engine_inputs` keeps them alike).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RequestBody {
    #[schema(min_length = 1)]
    resource_code: String,
    /// The API application (system) that will call.
    #[schema(min_length = 1)]
    application_id: String,
    /// Data items wanted; empty means all.
    #[serde(default)]
    fields: Vec<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    purpose: String,
    /// 应用场景.
    #[schema(min_length = 1, pattern = r"\S")]
    scenario: String,
    /// 依据: the law, regulation or document that makes the use lawful.
    #[serde(default)]
    legal_basis: String,
    /// How long the grant should last, in days.
    #[schema(minimum = 1, maximum = 3660)]
    duration_days: u32,
    /// Service types: lookup, verify, compare, subscribe, extract.
    #[schema(min_items = 1)]
    services: Vec<ServiceName>,
    /// Row scope (e.g. `district = 370203`); blank for every row.
    #[serde(default)]
    row_scope: String,
    calls_per_day: Option<u64>,
    rows_per_day: Option<u64>,
    rate_per_second: Option<u32>,
}

/// The body of a decision (read as `shuniu_sharing::DecisionInput`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DecisionBody {
    approve: bool,
    /// Required to refuse; recorded either way.
    #[serde(default)]
    reason: String,
    /// Narrow the fields granted (a subset of those asked).
    fields: Option<Vec<String>>,
    /// Masking per field, where the provider wants stronger masking than the item's own.
    #[serde(default)]
    masking: std::collections::BTreeMap<String, shuniu_types::MaskingRule>,
    /// Replace the row scope asked for.
    row_scope: Option<String>,
    calls_per_day: Option<u64>,
    rows_per_day: Option<u64>,
    rate_per_second: Option<u32>,
}

/// The body of a demand (read as `shuniu_sharing::DemandInput`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DemandBody {
    /// The department with the need; the hub may file for any.
    #[serde(default)]
    department: String,
    #[schema(min_length = 1, pattern = r"\S")]
    title: String,
    #[schema(min_length = 1, pattern = r"\S")]
    description: String,
    /// A catalog resource that would satisfy it, if known: routes the demand to its provider.
    resource_code: Option<String>,
}

/// The body of an answer to a demand (read as `shuniu_sharing::DemandAnswer`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AnswerBody {
    satisfied: bool,
    #[schema(min_length = 1, pattern = r"\S")]
    answer: String,
    /// The resource that satisfies it (required when satisfied).
    resource_code: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/sharing/requests", tag = "sharing",
    request_body = RequestBody,
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
    request_body = DecisionBody,
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
    request_body = DemandBody,
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
    request_body = AnswerBody,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use utoipa::PartialSchema;

    /// A value of the JSON type a property's schema names.
    fn sample(name: &str, schema: &serde_json::Value) -> serde_json::Value {
        let ty = match &schema["type"] {
            serde_json::Value::Array(types) => types
                .iter()
                .find(|t| *t != "null")
                .cloned()
                .unwrap_or_default(),
            t => t.clone(),
        };
        match (name, ty.as_str().unwrap_or("object")) {
            ("services", _) => serde_json::json!(["lookup"]),
            (_, "string") => serde_json::json!("x"),
            (_, "integer") => serde_json::json!(1),
            (_, "boolean") => serde_json::json!(true),
            (_, "array") => serde_json::json!(["x"]),
            _ => serde_json::json!({}),
        }
    }

    /// The documented body and the engine's input agree: a body with every documented property
    /// is read, one without a property the document requires is refused, and one without any
    /// property it leaves optional is read.
    fn agree<Doc: PartialSchema, Input: DeserializeOwned>() {
        let schema = serde_json::to_value(Doc::schema()).expect("schema");
        let props = schema["properties"]
            .as_object()
            .expect("properties")
            .clone();
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let full: serde_json::Map<_, _> = props
            .iter()
            .map(|(k, v)| (k.clone(), sample(k, v)))
            .collect();
        serde_json::from_value::<Input>(serde_json::Value::Object(full.clone()))
            .expect("every documented property is read");
        for (k, prop) in &props {
            let mut without = full.clone();
            without.remove(k);
            let read = serde_json::from_value::<Input>(serde_json::Value::Object(without)).is_ok();
            assert_eq!(
                read,
                !required.contains(k),
                "{k}: documented required = {}",
                required.contains(k)
            );
            // A property documented as nullable takes null; one that is not is refused.
            let nullable = prop["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "null"));
            let mut null = full.clone();
            null.insert(k.clone(), serde_json::Value::Null);
            let read = serde_json::from_value::<Input>(serde_json::Value::Object(null)).is_ok();
            assert_eq!(read, nullable, "{k}: documented nullable = {nullable}");
        }
    }

    #[test]
    fn request_bodies_match_the_engine_inputs() {
        agree::<RequestBody, shuniu_sharing::RequestInput>();
        agree::<DecisionBody, shuniu_sharing::DecisionInput>();
        agree::<DemandBody, shuniu_sharing::DemandInput>();
        agree::<AnswerBody, shuniu_sharing::DemandAnswer>();
    }
}
