//! The indicators API (城市大脑): the catalog of indicators with their latest values, their
//! series, definitions saved, submitted and reviewed, computation on demand and backfill,
//! and the alerts their bounds raised.

use axum::extract::{Path, State};
use serde::Deserialize;
use shuniu_indicators::{IndicatorInput, Period, Range, SeriesQuery};
use shuniu_store::AlertFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_indicators, save_indicator))
        .routes(routes!(list_alerts))
        .routes(routes!(get_indicator))
        .routes(routes!(indicator_values))
        .routes(routes!(indicator_notifications))
        .routes(routes!(submit_indicator))
        .routes(routes!(review_indicator))
        .routes(routes!(compute_indicator))
        .routes(routes!(run_due))
}

type Json = axum::Json<serde_json::Value>;

fn json<T: serde::Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// The city's indicators with their latest city-wide value (`value` for `period`).
#[utoipa::path(get, path = "/api/v1/indicators", tag = "indicators",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_indicators(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.indicators.list(&actor).await?))
}

/// Saves a definition as a draft version; its query is run and refused if it cannot compute
/// the indicator.
#[utoipa::path(post, path = "/api/v1/indicators", tag = "indicators", request_body = Object,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_indicator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<IndicatorInput>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.indicators.save(&actor, &b).await?))
}

/// An indicator: the definition in force, versions, recent runs and alerts.
#[utoipa::path(get, path = "/api/v1/indicators/{code}", tag = "indicators",
    params(("code" = String, Path, description = "indicator code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_indicator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.indicators.get(&actor, &code).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ValuesQuery {
    /// A district's GB/T 2260 code; `city` for the city-wide figures only. Every breakdown
    /// when absent.
    district: Option<String>,
    /// First period (at the indicator's grain: `2026`, `2026-Q3`, `2026-11`, `2026-11-05`).
    from: Option<String>,
    /// Last period.
    to: Option<String>,
}

/// The calls of the indicator's alert webhook, newest first, with their delivery state
/// (pending, delivered, dead), attempts and last error: for its owner and the hub.
#[utoipa::path(get, path = "/api/v1/indicators/{code}/notifications", tag = "indicators",
    params(("code" = String, Path, description = "indicator code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn indicator_notifications(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    let list = state
        .engines
        .indicators
        .notifications(&actor, &code)
        .await?;
    Ok(json(&list))
}

/// The series: the latest run's value of each period and breakdown, with 同比 (`yoy`) and
/// 环比 (`mom`) as shares.
#[utoipa::path(get, path = "/api/v1/indicators/{code}/values", tag = "indicators",
    params(("code" = String, Path, description = "indicator code"), ValuesQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn indicator_values(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ValuesQuery>,
) -> Result<Json, ApiError> {
    let ind = &state.engines.indicators;
    let summary = ind.summary(&actor, &code).await?;
    let grain =
        shuniu_indicators::Grain::parse(&summary.grain).unwrap_or(shuniu_indicators::Grain::Month);
    let period = |field: &str, p: &Option<String>| -> Result<Option<Period>, ApiError> {
        match p.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(p) => Period::parse(grain, p).map(Some).ok_or_else(|| {
                ApiError::from(shuniu_types::FieldError::new(
                    field,
                    "INDICATOR_PERIOD",
                    format!("“{p}”不是有效的{}期", grain.label_zh()),
                    format!("{p:?} is not a {} period", grain.code()),
                ))
            }),
        }
    };
    let district = match q.district.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("city") => Some(String::new()),
        Some(d) if d.len() == 6 && d.chars().all(|c| c.is_ascii_digit()) => Some(d.to_string()),
        Some(d) => {
            return Err(shuniu_types::FieldError::new(
                "district",
                "INDICATOR_DISTRICT",
                format!("“{d}”不是 6 位区县代码"),
                format!("{d:?} is not a 6-digit district code"),
            )
            .into());
        }
    };
    let series = ind
        .values(
            &actor,
            &code,
            &SeriesQuery {
                district,
                from: period("from", &q.from)?,
                to: period("to", &q.to)?,
            },
        )
        .await?;
    Ok(json(&serde_json::json!({
        "code": summary.code,
        "name": summary.name,
        "unit": summary.unit,
        "grain": summary.grain,
        "values": series,
    })))
}

/// Sends the draft for the hub's review.
#[utoipa::path(post, path = "/api/v1/indicators/{code}/submit", tag = "indicators",
    params(("code" = String, Path, description = "indicator code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit_indicator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    let v = state.engines.indicators.submit(&actor, &code).await?;
    Ok(json(
        &serde_json::json!({ "code": code, "version": v, "state": "submitted" }),
    ))
}

#[derive(Deserialize, ToSchema)]
struct ReviewBody {
    /// true: publish; false: return (a comment required).
    publish: bool,
    #[serde(default)]
    comment: String,
}

/// The hub publishes the submitted version or returns it with a reason.
#[utoipa::path(post, path = "/api/v1/indicators/{code}/review", tag = "indicators",
    params(("code" = String, Path, description = "indicator code")), request_body = ReviewBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_indicator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> Result<Json, ApiError> {
    let v = state
        .engines
        .indicators
        .review(&actor, &code, b.publish, &b.comment)
        .await?;
    Ok(json(&serde_json::json!({
        "code": code, "version": v,
        "state": if b.publish { "published" } else { "returned" },
    })))
}

#[derive(Deserialize, ToSchema, Default)]
struct ComputeBody {
    /// Backfill only these periods (inclusive); every period the query returns when absent.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// Computes the indicator now (its owner or the hub), or backfills a range of periods.
#[utoipa::path(post, path = "/api/v1/indicators/{code}/compute", tag = "indicators",
    params(("code" = String, Path, description = "indicator code")), request_body = ComputeBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn compute_indicator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<ComputeBody>,
) -> Result<Json, ApiError> {
    let out = state
        .engines
        .indicators
        .compute(
            &actor,
            &[code],
            &Range {
                from: b.from,
                to: b.to,
            },
        )
        .await?;
    Ok(json(&out.into_iter().next()))
}

/// Computes every indicator whose schedule is due (what the scheduler does each minute).
#[utoipa::path(post, path = "/api/v1/indicators/run-due", tag = "indicators",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn run_due(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json, ApiError> {
    shuniu_policy::decide(
        &actor,
        shuniu_policy::Action::ReviewIndicators,
        shuniu_policy::Target::Hub,
    )
    .map_err(shuniu_indicators::IndicatorError::Denied)?;
    Ok(json(&state.engines.indicators.run_due().await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AlertsQuery {
    /// open | resolved
    state: Option<String>,
    indicator: Option<String>,
    department: Option<String>,
    /// At most 1,000 (100 by default).
    limit: Option<i32>,
}

/// Alerts raised by indicators' bounds, newest first.
#[utoipa::path(get, path = "/api/v1/indicators/alerts", tag = "indicators", params(AlertsQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .indicators
            .alerts(
                &actor,
                &AlertFilter {
                    code: q.indicator,
                    state: q.state,
                    department: q.department,
                    limit: i64::from(q.limit.unwrap_or(100).clamp(1, 1_000)),
                },
            )
            .await?,
    ))
}
