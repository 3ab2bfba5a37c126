//! The unified data service (统一数据服务): what a consuming department's system calls with
//! its API key — lookup, verify, comparison jobs, the change feed and webhooks, extracts.
//! Each call is decided by the grant, limited (429 with `Retry-After`), masked and audited.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shuniu_sharing::{ExtractFormat, KeyFormat};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lookup))
        .routes(routes!(verify))
        .routes(routes!(changes))
        .routes(routes!(extract))
        .routes(routes!(start_comparison))
        .routes(routes!(comparison))
        .routes(routes!(comparison_result))
        .routes(routes!(subscribe))
        .routes(routes!(list_subscriptions))
        .routes(routes!(unsubscribe))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(my_grants))
        .routes(routes!(person_profile))
        .routes(routes!(enterprise_profile))
        .routes(routes!(holder_licences))
        .routes(routes!(presented_licence))
}

/// 免证办: the holder's current licences (by ID number or credit code) of the types whose
/// resource this system may look up, in place of paper. Each licence read is audited with the
/// grant's purpose, appears on the holder's record and counts as a use (用证次数). A system
/// with no grant on any licence type's resource is refused whoever the holder is.
#[utoipa::path(get, path = "/api/v1/services/licences/holders/{holder}", tag = "services",
    params(("holder" = String, Path, description = "The holder's ID number or unified social credit code")),
    responses((status = 200, body = [Object], description = "id, type_code, type_name, holder_name, holder_shown, authority, issued_on, valid_from, valid_until, state, fields, uses, basis"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "Not an ID number or credit code"), (status = 429, body = ErrorBody)))]
async fn holder_licences(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(holder): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .licences
            .read_for_holder(&caller, &holder)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct PresentedBody {
    /// The QR text the counter's scanner read (`SNL1:…`).
    pub qr: String,
    /// Why the licence is read (up to 200 characters); shown on the holder's record.
    pub purpose: String,
}

/// 免证办 by consent: the holder shows a licence's QR code at a counter and the counter's
/// system reads that one licence, verified online. A licence that does not verify is refused
/// with its reason (`LICENCE_REVOKED`, `LICENCE_SUSPENDED`, `LICENCE_BAD_SIGNATURE` …).
#[utoipa::path(post, path = "/api/v1/services/licences/presented", tag = "services",
    request_body = PresentedBody,
    responses((status = 200, body = Object, description = "The licence read (as for the holder's licences), basis `presented`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "No purpose stated"),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "The licence does not verify; the code names why")))]
async fn presented_licence(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    ApiJson(body): ApiJson<PresentedBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .licences
            .read_presented(&caller, &body.qr, &body.purpose)
            .await?,
    ))
}

/// The calling system, resolved from its API key through the sharing engine's cache.
pub struct ServiceCaller(pub shuniu_sharing::Caller);

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state
            .engines
            .sharing
            .authenticate(super::bearer_key(parts)?)
            .await?
        {
            Some(c) => Ok(ServiceCaller(c)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

type Json = axum::Json<serde_json::Value>;

fn json<T: Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

/// 查询: the granted fields of the records with this key (the resource's key, an ID number
/// or a credit code), masked as the grant says. 404 when there is no such record within the
/// grant's row scope.
#[utoipa::path(get, path = "/api/v1/services/{code}/records/{key}", tag = "services",
    params(("code" = String, Path, description = "Resource code"), ("key" = String, Path, description = "The record's key, ID number or credit code")),
    responses((status = 200, body = Object, description = "resource, version, grant, fields (name, label, masking), records"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "No grant, revoked, expired, service not granted, negative list"),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody, description = "Past the rate limit or daily quota; see Retry-After")))]
async fn lookup(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path((code, key)): Path<(String, String)>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state.engines.sharing.lookup(&caller, &code, &key).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyBody {
    /// The record's key, ID number or credit code.
    pub key: String,
    /// Claimed values by data item name; every item must be granted.
    pub claims: BTreeMap<String, String>,
}

/// 核验: whether claimed values match, per field (`match` / `no_match`), never the values.
#[utoipa::path(post, path = "/api/v1/services/{code}/verify", tag = "services",
    params(("code" = String, Path, description = "Resource code")), request_body = VerifyBody,
    responses((status = 200, body = Object, description = "found, results, all_match"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .verify(&caller, &code, &body.key, &body.claims)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Continue after this cursor (`v3.120`); from the beginning when absent.
    #[param(pattern = r"^v[0-9]{1,18}\.[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// At most this many changes (1–10000, default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// The change feed: inserted, updated and deleted records after `cursor`, oldest first, in
/// the grant's scope and masking. Pass `next_cursor` to continue.
#[utoipa::path(get, path = "/api/v1/services/{code}/changes", tag = "services",
    params(("code" = String, Path, description = "Resource code"), ChangesQuery),
    responses((status = 200, body = Object, description = "changes, next_cursor, has_more"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn changes(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .changes(
                &caller,
                &code,
                q.cursor.as_deref().unwrap_or(""),
                q.limit.unwrap_or(1000),
            )
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExtractQuery {
    /// `csv` (default) or `parquet`.
    #[param(pattern = "^(csv|parquet)$")]
    pub format: Option<String>,
    /// A dataset version; the current one by default.
    #[param(minimum = 0)]
    pub version: Option<i64>,
}

/// 抽取: a version's granted rows and columns, masked, streamed as CSV (UTF-8 with BOM) or
/// Parquet.
#[utoipa::path(get, path = "/api/v1/services/{code}/extract", tag = "services",
    params(("code" = String, Path, description = "Resource code"), ExtractQuery),
    responses((status = 200, description = "The file", content_type = "text/csv"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn extract(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ExtractQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => ExtractFormat::Csv,
        "parquet" => ExtractFormat::Parquet,
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "FORMAT_INVALID",
                format!("不支持的格式：{other}（可选 csv、parquet）"),
                format!("unsupported format {other} (csv or parquet)"),
            ));
        }
    };
    let stream = state
        .engines
        .sharing
        .extract(&caller, &code, q.version, format)
        .await?;
    let (ctype, ext) = match format {
        ExtractFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExtractFormat::Parquet => ("application/vnd.apache.parquet", "parquet"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{code}.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// 比对: the request body is the keys, one per line (CSV: first column, an optional header
/// line; NDJSON with `Content-Type: application/x-ndjson`: strings or `{"key": …}`), streamed
/// to disk. Answers 202 with the job; poll it, then download the result.
#[utoipa::path(post, path = "/api/v1/services/{code}/comparisons", tag = "services",
    params(("code" = String, Path, description = "Resource code")),
    request_body(content = String, content_type = "text/csv", description = "Keys, one per line"),
    responses((status = 202, body = Object, description = "The job: id, state, keys_done, found"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn start_comparison(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let format = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        Some(t) if t.contains("ndjson") || t.contains("jsonl") => KeyFormat::Ndjson,
        _ => KeyFormat::Csv,
    };
    // The keys are sealed as they arrive (they are often ID numbers); writes go to a buffered
    // file, so the few that reach the disk from this task are short.
    let (path, mut file) = state.engines.sharing.upload_writer()?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(ApiError::bad_request(&format!("upload interrupted: {e}")));
            }
        };
        std::io::Write::write_all(&mut file, &chunk).map_err(|e| ApiError::internal("IO", &e))?;
    }
    file.finish().map_err(|e| ApiError::internal("IO", &e))?;
    let job = match state
        .engines
        .sharing
        .start_comparison(&caller, &code, path.clone(), format)
        .await
    {
        Ok(j) => j,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
    };
    Ok((StatusCode::ACCEPTED, json(&job)).into_response())
}

/// A comparison job: state (`running`, `finished`, `failed`), keys done, found.
#[utoipa::path(get, path = "/api/v1/services/comparisons/{id}", tag = "services",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn comparison(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.comparison(&caller, &id).await?))
}

/// The result of a finished comparison: CSV with `key`, `found` (1/0) and the granted,
/// masked fields.
#[utoipa::path(get, path = "/api/v1/services/comparisons/{id}/result", tag = "services",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "CSV", content_type = "text/csv"), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not finished")))]
async fn comparison_result(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let stream = state
        .engines
        .sharing
        .comparison_result(&caller, &id)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.csv\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct SubscribeBody {
    /// Where to POST changes (http or https).
    pub url: String,
    /// Start after this feed cursor; from now on when absent.
    pub cursor: Option<String>,
}

/// Subscribes a webhook to the resource's changes. The answer carries the signing secret
/// once: each delivery has `X-Shuniu-Signature: hmac-sm3=<hex>` over `timestamp.body`, with
/// the timestamp in `X-Shuniu-Timestamp`.
#[utoipa::path(post, path = "/api/v1/services/{code}/subscriptions", tag = "services",
    params(("code" = String, Path, description = "Resource code")), request_body = SubscribeBody,
    responses((status = 201, body = Object, description = "The subscription and its secret"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn subscribe(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<SubscribeBody>,
) -> Result<Response, ApiError> {
    let s = state
        .engines
        .sharing
        .subscribe(&caller, &code, &body.url, body.cursor.as_deref())
        .await?;
    Ok((StatusCode::CREATED, json(&s)).into_response())
}

/// The calling application's subscriptions.
#[utoipa::path(get, path = "/api/v1/services/subscriptions", tag = "services",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.subscriptions(&caller).await?))
}

/// Stops a subscription.
#[utoipa::path(delete, path = "/api/v1/services/subscriptions/{id}", tag = "services",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engines.sharing.unsubscribe(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `dead` (the dead-letter list).
    pub state: Option<String>,
}

/// A subscription's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/services/subscriptions/{id}/deliveries", tag = "services",
    params(("id" = String, Path, description = "Subscription id"), DeliveriesQuery),
    responses((status = 200, body = [Object]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn deliveries(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json, ApiError> {
    Ok(json(
        &state
            .engines
            .sharing
            .deliveries(&caller, &id, q.state.as_deref())
            .await?,
    ))
}

/// Puts a dead delivery back in the queue.
#[utoipa::path(post, path = "/api/v1/services/subscriptions/{id}/deliveries/{delivery}/redeliver", tag = "services",
    params(("id" = String, Path, description = "Subscription id"), ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn redeliver(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .engines
        .sharing
        .redeliver(&caller, &id, &delivery)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The grants the calling application holds: what it may call, on what, until when.
#[utoipa::path(get, path = "/api/v1/services/grants", tag = "services",
    responses((status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn my_grants(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.sharing.grants_of(&caller)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// Why the profile is viewed (事由), recorded with each access; the grant's approved
    /// purpose when not given.
    pub purpose: Option<String>,
}

/// 一人一档: one person's records across every resource the calling system may look up (its
/// grants with the lookup service, and its own department's data), each section from one
/// resource with its version, masked and scoped as the grant says; with a timeline of the dated
/// facts. Each disclosing resource is audited with the purpose and appears on the citizen's own
/// record. 404 when nothing visible holds this person.
#[utoipa::path(get, path = "/api/v1/profiles/persons/{id_number}", tag = "services",
    params(("id_number" = String, Path, description = "Citizen ID number (18 digits, or 15 digits upgraded)"), ProfileQuery),
    responses((status = 200, body = Object, description = "subject_type, key, purpose, sections (resource, name, provider, base, version, grant, matched_by, fields, records), timeline, resources_consulted"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "Not a valid ID number (GB 11643), or a purpose over 200 characters"),
              (status = 429, body = ErrorBody)))]
async fn person_profile(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(id_number): Path<String>,
    ApiQuery(q): ApiQuery<ProfileQuery>,
) -> Result<Json, ApiError> {
    let subject = shuniu_sharing::Subject::person(&id_number)?;
    profile(&state, &caller, &subject, q.purpose.as_deref()).await
}

/// 一企一档: one enterprise's records across every resource the calling system may look up,
/// as for a person.
#[utoipa::path(get, path = "/api/v1/profiles/enterprises/{credit_code}", tag = "services",
    params(("credit_code" = String, Path, description = "Unified social credit code (GB 32100)"), ProfileQuery),
    responses((status = 200, body = Object, description = "as for a person"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "Not a valid credit code (GB 32100), or a purpose over 200 characters"),
              (status = 429, body = ErrorBody)))]
async fn enterprise_profile(
    State(state): State<AppState>,
    ServiceCaller(caller): ServiceCaller,
    Path(credit_code): Path<String>,
    ApiQuery(q): ApiQuery<ProfileQuery>,
) -> Result<Json, ApiError> {
    let subject = shuniu_sharing::Subject::enterprise(&credit_code)?;
    profile(&state, &caller, &subject, q.purpose.as_deref()).await
}

async fn profile(
    state: &AppState,
    caller: &shuniu_sharing::Caller,
    subject: &shuniu_sharing::Subject,
    purpose: Option<&str>,
) -> Result<Json, ApiError> {
    let p = state
        .engines
        .sharing
        .profile(caller, subject, purpose)
        .await?;
    if p.sections.is_empty() {
        // What the caller may not see is answered exactly as absent.
        return Err(shuniu_sharing::SharingError::NotFound(format!(
            "profile of {}",
            p.subject_type
        ))
        .into());
    }
    Ok(json(&p))
}
