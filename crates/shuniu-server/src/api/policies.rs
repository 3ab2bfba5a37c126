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
        .routes(routes!(policy_lists, compute_list))
        .routes(routes!(policy_list))
        .routes(routes!(refresh_list))
        .routes(routes!(confirm_list))
        .routes(routes!(payment_file))
        .routes(routes!(record_payments))
        .routes(routes!(policy_notifications))
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
    // The secret the policy's announcements are signed with, told to its owner at each save.
    let notify_secret = (!b.notify.is_empty()).then(|| {
        state
            .engines
            .sharing
            .notification_secret(&shuniu_matching::lists::topic(&b.code))
    });
    Ok(json(&serde_json::json!({
        "code": b.code, "version": version, "state": "draft", "notify_secret": notify_secret,
    })))
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

/// A policy's eligible lists, newest month first: counts, totals, state, the library version
/// each was computed from (and whether the library has moved on since), payments.
#[utoipa::path(get, path = "/api/v1/policies/{code}/lists", tag = "policies",
    params(("code" = String, Path, description = "policy code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn policy_lists(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.matching.lists(&actor, &code).await?))
}

#[derive(Deserialize, ToSchema)]
struct PeriodBody {
    /// The month, YYYY-MM.
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$")]
    period: String,
}

/// Computes the month's list over the whole library (replacing an unconfirmed one): everyone
/// who qualifies, without anyone applying, with their amounts; audited with every subject.
#[utoipa::path(post, path = "/api/v1/policies/{code}/lists", tag = "policies",
    params(("code" = String, Path, description = "policy code")), request_body = PeriodBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn compute_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<PeriodBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .matching
            .compute_list(&actor, &code, &b.period)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EntriesQuery {
    /// Only entries in this payment state.
    #[param(pattern = "^(pending|paid|failed)$")]
    payment: Option<String>,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: u32,
    /// 1–1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// One month's list and a page of its entries: the subject reference, key and name masked by
/// the catalog's rules, amount and payment state.
#[utoipa::path(get, path = "/api/v1/policies/{code}/lists/{period}", tag = "policies",
    params(("code" = String, Path, description = "policy code"), ("period" = String, Path, description = "YYYY-MM"), EntriesQuery),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn policy_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, period)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json, ApiError> {
    let (list, entries) = state
        .engines
        .matching
        .list_entries(
            &actor,
            &code,
            &period,
            q.payment.as_deref(),
            i64::from(q.offset),
            i64::from(q.limit.unwrap_or(100)),
        )
        .await?;
    Ok(json(&serde_json::json!({"list": list, "entries": entries})))
}

/// Brings an unconfirmed list up to the library's current version, evaluating only the
/// subjects whose rows changed since the list's version.
#[utoipa::path(post, path = "/api/v1/policies/{code}/lists/{period}/refresh", tag = "policies",
    params(("code" = String, Path, description = "policy code"), ("period" = String, Path, description = "YYYY-MM")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn refresh_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, period)): Path<(String, String)>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .matching
            .refresh_list(&actor, &code, &period)
            .await?,
    ))
}

/// The issuing department's data officer confirms the list (确认名单): frozen from then on, and
/// its subjects announced through the policy's notification address.
#[utoipa::path(post, path = "/api/v1/policies/{code}/lists/{period}/confirm", tag = "policies",
    params(("code" = String, Path, description = "policy code"), ("period" = String, Path, description = "YYYY-MM")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn confirm_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, period)): Path<(String, String)>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .matching
            .confirm_list(&actor, &code, &period)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// csv (UTF-8 with a byte-order mark, as Excel opens it) or xlsx.
    #[param(pattern = "^(csv|xlsx)$")]
    format: Option<String>,
}

/// The payment instructions of a confirmed list (支付清单), CSV or Excel: each subject's own ID
/// number (or credit code) and name, amount, and the subject reference payments are recorded
/// by. The issuing department's own data officer only; audited with every subject.
#[utoipa::path(get, path = "/api/v1/policies/{code}/lists/{period}/payments", tag = "policies",
    params(("code" = String, Path, description = "policy code"), ("period" = String, Path, description = "YYYY-MM"), FileQuery),
    responses((status = 400, body = ErrorBody), (status = 200, description = "the file", content_type = "text/csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn payment_file(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, period)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> Result<axum::response::Response, ApiError> {
    let (policy, lines) = state
        .engines
        .matching
        .payment_file(&actor, &code, &period)
        .await?;
    let name = format!("{code}-{period}-payments");
    Ok(match q.format.as_deref() {
        Some("xlsx") => crate::views::xlsx_response(
            shuniu_matching::lists::payment_xlsx(&policy, &period, &lines)?,
            &name,
        ),
        _ => crate::views::csv_response(
            shuniu_matching::lists::payment_csv(&policy, &period, &lines)?,
            &format!("{name}.csv"),
        ),
    })
}

#[derive(Deserialize, ToSchema)]
struct PaymentsBody {
    /// The payer's outcomes: `{subject, state: paid|failed, reference, note}`.
    #[schema(value_type = [Object])]
    payments: Vec<shuniu_matching::lists::PaymentOutcome>,
}

/// Records the payer's outcomes on a confirmed list; every outcome must name a subject on the
/// list, or none is recorded.
#[utoipa::path(post, path = "/api/v1/policies/{code}/lists/{period}/payments", tag = "policies",
    params(("code" = String, Path, description = "policy code"), ("period" = String, Path, description = "YYYY-MM")), request_body = PaymentsBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_payments(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((code, period)): Path<(String, String)>,
    ApiJson(b): ApiJson<PaymentsBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .matching
            .record_payments(&actor, &code, &period, &b.payments)
            .await?,
    ))
}

/// A policy's announcement calls (newest first) and the secret they are signed with.
#[utoipa::path(get, path = "/api/v1/policies/{code}/notifications", tag = "policies",
    params(("code" = String, Path, description = "policy code")),
    responses((status = 400, body = ErrorBody), (status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn policy_notifications(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<Json, ApiError> {
    let (secret, calls) = state.engines.matching.notifications(&actor, &code).await?;
    Ok(json(&serde_json::json!({"secret": secret, "calls": calls})))
}
