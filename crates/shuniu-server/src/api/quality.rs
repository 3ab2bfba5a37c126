//! The governance API (数据治理): quality reports and trends, rules, on-demand checks,
//! problem tickets and objections, authoritative sources and cross-checks.
//!
//! The bodies are the quality engine's own types, documented here as objects; their
//! fields are described in docs/quality.md.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shuniu_quality::{ObjectionInput, RuleSpec, SourceInput, TicketAction};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(report))
        .routes(routes!(check))
        .routes(routes!(trend))
        .routes(routes!(list_rules, save_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(list_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(act_on_ticket))
        .routes(routes!(raise_objection))
        .routes(routes!(list_sources, designate_source))
        .routes(routes!(cross_check))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// The city's quality: score, departments, datasets, worst rules, stale datasets, trend.
#[utoipa::path(get, path = "/api/v1/quality", tag = "quality",
    responses((status = 200, body = Object, description = "city_score, departments, datasets, worst_rules, stale, trend, open_tickets, overdue_tickets"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn overview(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json, ApiError> {
    Ok(json(&state.engines.quality.overview(&actor).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A dataset version; the latest checked (or current) by default.
    pub version: Option<i64>,
}

/// The latest quality report of a version: score, dimensions, and per rule `rule`,
/// `column`, `checked`, `failed` and failing samples (for those who may read the data).
#[utoipa::path(get, path = "/api/v1/quality/resources/{code}", tag = "quality",
    params(("code" = String, Path, description = "Resource code"), VersionQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "No such resource, or no check of it yet (NO_QUALITY_RUN)")))]
async fn report(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json, ApiError> {
    match state
        .engines
        .quality
        .report(&actor, &code, q.version)
        .await?
    {
        Some(r) => Ok(json(&r)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NO_QUALITY_RUN",
            format!("资源 {code} 尚未做过质量检查（先汇聚数据或发起检查）"),
            format!("{code} has not been checked yet (load data or start a check)"),
        )),
    }
}

/// Checks a stored version now (the current one by default), streaming it.
#[utoipa::path(post, path = "/api/v1/quality/resources/{code}/check", tag = "quality",
    params(("code" = String, Path, description = "Resource code"), VersionQuery),
    responses((status = 200, body = Object, description = "The new report"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn check(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .quality
            .check_version(&actor, &code, q.version)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TrendPoint {
    pub version: i64,
    pub score: f64,
    pub checked_at: String,
    /// `load` or `on_demand`.
    pub trigger: String,
}

/// Scores over versions, oldest first.
#[utoipa::path(get, path = "/api/v1/quality/resources/{code}/trend", tag = "quality",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = Vec<TrendPoint>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn trend(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<Vec<TrendPoint>>, ApiError> {
    let t = state.engines.quality.trend(&actor, &code).await?;
    Ok(axum::Json(
        t.into_iter()
            .map(|(version, score, checked_at, trigger)| TrendPoint {
                version,
                score,
                checked_at,
                trigger,
            })
            .collect(),
    ))
}

/// The resource's rules: derived from its data items, and those the data officer saved.
#[utoipa::path(get, path = "/api/v1/quality/resources/{code}/rules", tag = "quality",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_rules(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.quality.rules(&actor, &code).await?))
}

/// Adds, tunes or switches off a rule (`{"id", "column", "type", …, "enabled"}`). A rule that
/// cannot compile is refused here with its code (RULE_REGEX_INVALID, RULE_COLUMN_UNKNOWN,
/// RULE_CODE_TABLE_UNKNOWN …), never at load time.
#[utoipa::path(post, path = "/api/v1/quality/resources/{code}/rules", tag = "quality",
    params(("code" = String, Path, description = "Resource code")),
    request_body(content = Object, description = "A rule: id, column, type and its parameters, enabled"),
    responses((status = 200, body = Object, description = "The saved rule"), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_rule(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state.engines.quality.save_rule(&actor, &code, spec).await?,
    ))
}

/// Removes a saved rule (a derived rule it tuned applies again).
#[utoipa::path(delete, path = "/api/v1/quality/resources/{code}/rules/{rule_id}", tag = "quality",
    params(("code" = String, Path, description = "Resource code"), ("rule_id" = String, Path, description = "Rule id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, rule_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .engines
        .quality
        .delete_rule(&actor, &code, &rule_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Tickets of this providing department (the caller's own by default for departments).
    pub department: Option<String>,
    pub resource: Option<String>,
    /// Only tickets not yet closed (default true).
    pub open: Option<bool>,
    /// Only tickets past their deadline.
    pub overdue: Option<bool>,
}

/// Problem tickets the caller may see: its department's, or all for the hub.
#[utoipa::path(get, path = "/api/v1/quality/tickets", tag = "quality", params(TicketQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn list_tickets(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .quality
            .tickets(
                &actor,
                q.department.as_deref(),
                q.resource.as_deref(),
                q.open.unwrap_or(true),
                q.overdue.unwrap_or(false),
            )
            .await?,
    ))
}

/// A ticket with its history and the actions the caller may take.
#[utoipa::path(get, path = "/api/v1/quality/tickets/{id}", tag = "quality",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_ticket(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.quality.ticket(&actor, &id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct TicketActionRequest {
    /// confirm, dispute, resolve (provider); uphold, dismiss (hub).
    #[schema(pattern = "^(confirm|dispute|resolve|uphold|dismiss)$")]
    pub action: String,
    /// Required to dispute, resolve, uphold or dismiss.
    #[serde(default)]
    pub reason: String,
}

/// Acts on a ticket: the provider confirms, disputes (with a reason) or resolves; the hub
/// upholds or dismisses a disputed objection.
#[utoipa::path(post, path = "/api/v1/quality/tickets/{id}/actions", tag = "quality",
    params(("id" = String, Path, description = "Ticket id")), request_body = TicketActionRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not allowed in the ticket's state"),
              (status = 422, body = ErrorBody)))]
async fn act_on_ticket(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TicketActionRequest>,
) -> Result<Json, ApiError> {
    let action = TicketAction::parse(&req.action).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "TICKET_ACTION_UNKNOWN",
            format!(
                "未知的处理动作：{}（可选 confirm、dispute、resolve、uphold、dismiss）",
                req.action
            ),
            format!(
                "unknown action {:?} (confirm, dispute, resolve, uphold or dismiss)",
                req.action
            ),
        )
    })?;
    Ok(json(
        &state
            .engines
            .quality
            .act_on_ticket(&actor, &id, action, &req.reason)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ObjectionRequest {
    /// The record's key value, e.g. an ID number.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub record_key: String,
    /// The data item in question, if one.
    pub column: Option<String>,
    pub reason: String,
}

/// Raises an objection (异议) on a record of a resource; it goes to the provider.
#[utoipa::path(post, path = "/api/v1/quality/resources/{code}/objections", tag = "quality",
    params(("code" = String, Path, description = "Resource code")), request_body = ObjectionRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn raise_objection(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<ObjectionRequest>,
) -> Result<(StatusCode, Json), ApiError> {
    let t = state
        .engines
        .quality
        .raise_objection(
            &actor,
            &code,
            ObjectionInput {
                record_key: req.record_key,
                column: req.column,
                reason: req.reason,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, json(&t)))
}

/// The designated authoritative sources (一数一源).
#[utoipa::path(get, path = "/api/v1/quality/sources", tag = "quality",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.quality.sources(&actor).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct SourceRequest {
    /// The attribute, named as the column that holds it, e.g. `address`.
    pub attribute: String,
    #[serde(default)]
    pub label: String,
    /// `id_number` or `credit_code`: the key that identifies the subject.
    #[schema(pattern = "^(id_number|credit_code)$")]
    pub key_type: String,
    /// The authoritative resource.
    pub resource: String,
    /// Its column holding the attribute (the attribute's name by default).
    pub column: Option<String>,
}

/// Designates the authoritative source of an attribute (hub operators).
#[utoipa::path(post, path = "/api/v1/quality/sources", tag = "quality", request_body = SourceRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn designate_source(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<SourceRequest>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .quality
            .designate_source(
                &actor,
                SourceInput {
                    attribute: req.attribute,
                    label: req.label,
                    key_type: req.key_type,
                    resource: req.resource,
                    column: req.column,
                },
            )
            .await?,
    ))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CrossCheckRequest {
    /// One attribute; all designated attributes by default.
    pub attribute: Option<String>,
}

/// Cross-checks every dataset holding a designated attribute against its authoritative
/// source; conflicts are ticketed to the non-authoritative provider.
#[utoipa::path(post, path = "/api/v1/quality/cross-checks", tag = "quality", request_body = CrossCheckRequest,
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn cross_check(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<CrossCheckRequest>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .quality
            .cross_check(&actor, req.attribute.as_deref())
            .await?,
    ))
}
