//! The policy-matching API (免申即享): benefit policies written in the rule language, saved,
//! submitted and reviewed, and evaluated for a month.

use axum::extract::{Path, State};
use serde::Deserialize;
use shuniu_matching::PolicyInput;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, save_policy))
        .routes(routes!(submit_policy))
        .routes(routes!(review_policy))
        .routes(routes!(policy_totals))
        .routes(routes!(policy_eligible))
        .routes(routes!(policy_trace))
        .routes(routes!(policy_sandbox))
}

/// This month in Beijing time, `YYYY-MM`: the default period.
fn this_month() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string()
}

type Json = axum::Json<serde_json::Value>;

fn json<T: serde::Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// Every benefit policy: `code`, `name`, `target` (persons or enterprises), the issuing
/// department, the version in force and the state of the newest version.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_policies(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.matching.list(&actor).await?))
}

/// Saves a definition (docs/matching.md) as a draft version, after checking every field and
/// rule against the target's library; every problem is reported at once under its field.
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = Object,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_policy(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<PolicyInput>,
) -> Result<Json, ApiError> {
    let version = state.engines.matching.save(&actor, &b).await?;
    Ok(json(
        &serde_json::json!({"code": b.code, "version": version, "state": "draft"}),
    ))
}

/// Sends the draft version for the hub's review.
#[utoipa::path(post, path = "/api/v1/policies/{code}/submit", tag = "policies",
    params(("code" = String, Path, description = "policy code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit_policy(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    let version = state.engines.matching.submit(&actor, &code).await?;
    Ok(json(
        &serde_json::json!({"code": code, "version": version, "state": "submitted"}),
    ))
}

#[derive(Deserialize, ToSchema)]
struct ReviewBody {
    /// true publishes the submitted version; false returns it.
    publish: bool,
    #[serde(default)]
    comment: String,
}

/// The hub publishes the submitted version or returns it with a reason.
#[utoipa::path(post, path = "/api/v1/policies/{code}/review", tag = "policies",
    params(("code" = String, Path, description = "policy code")), request_body = ReviewBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_policy(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> Result<Json, ApiError> {
    let version = state
        .engines
        .matching
        .review(&actor, &code, b.publish, &b.comment)
        .await?;
    Ok(json(&serde_json::json!({
        "code": code, "version": version,
        "state": if b.publish { "published" } else { "returned" },
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TotalsQuery {
    /// The month, YYYY-MM.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    period: String,
}

/// How many qualify for the published policy in a month and their total amount (the issuing
/// department and the hub): one query over the target's library, audited.
#[utoipa::path(get, path = "/api/v1/policies/{code}/totals", tag = "policies",
    params(("code" = String, Path, description = "policy code"), TotalsQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_totals(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<TotalsQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .matching
            .evaluate_published(&actor, &code, &q.period)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EligibleQuery {
    /// The month, YYYY-MM (default: this month).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    period: Option<String>,
    /// Rows to skip (ordered by the library's key).
    #[serde(default)]
    offset: usize,
    /// At most this many rows (1–1,000; 100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// Who qualifies for the published policy in a month, without anyone applying: each subject's
/// key and name (masked by the catalog's rules) and amount, ordered by key (the issuing
/// department and the hub; audited as a use of personal data with the policy as purpose).
#[utoipa::path(get, path = "/api/v1/policies/{code}/eligible", tag = "policies",
    params(("code" = String, Path, description = "policy code"), EligibleQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_eligible(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<EligibleQuery>,
) -> Result<Json, ApiError> {
    let period = q.period.unwrap_or_else(this_month);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(json(
        &state
            .engines
            .matching
            .eligible(&actor, &code, &period, q.offset, limit)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TraceQuery {
    /// The subject: an ID number for a policy for persons, a unified social credit code for
    /// one for enterprises.
    key: String,
    /// The month, YYYY-MM (default: this month).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    period: Option<String>,
}

/// Why one person or enterprise does or does not qualify for the published policy in a month:
/// each condition with whether it holds, the values it read with their sources and versions,
/// and the parameter values with their legal references (the issuing department and the hub;
/// audited with the subject, so it shows on the person's own record).
#[utoipa::path(get, path = "/api/v1/policies/{code}/trace", tag = "policies",
    params(("code" = String, Path, description = "policy code"), TraceQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_trace(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<TraceQuery>,
) -> Result<Json, ApiError> {
    let period = q.period.unwrap_or_else(this_month);
    Ok(json(
        &state
            .engines
            .matching
            .trace(&actor, &code, &q.key, &period)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct SandboxBody {
    /// The month, YYYY-MM.
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$")]
    period: String,
    /// Parameter name → the value to try (a number or a text).
    #[schema(value_type = Object)]
    parameters: std::collections::BTreeMap<String, shuniu_matching::ParamValue>,
}

/// A what-if run (沙盘推演) over the newest version — a draft can be tried before it is
/// submitted: how many would qualify and the total amount with the parameters changed, beside
/// the figures as written.
#[utoipa::path(post, path = "/api/v1/policies/{code}/sandbox", tag = "policies",
    params(("code" = String, Path, description = "policy code")), request_body = SandboxBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_sandbox(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<SandboxBody>,
) -> Result<Json, ApiError> {
    let changes: Vec<_> = b.parameters.into_iter().collect();
    Ok(json(
        &state
            .engines
            .matching
            .sandbox(&actor, &code, &b.period, &changes)
            .await?,
    ))
}
