//! The event centre's API (一网统管): the city's event tree and dispatch rules and Open311
//! keys (the command centre), reports from any system (a hotline's work orders, a grid
//! inspector's app, a video platform), the handling steps, and the assessment figures.

use axum::extract::{Path, State};
use serde::Deserialize;
use shuniu_events::{
    ActInput, CategoryInput, DeviceInput, EventAction, EventError, Photo, Point, Report, Urgency,
};
use shuniu_store::EventFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories, put_category))
        .routes(routes!(list_rules, put_rule))
        .routes(routes!(open311_key))
        .routes(routes!(list_events, report))
        .routes(routes!(get_event))
        .routes(routes!(act))
        .routes(routes!(statistics))
        .routes(routes!(sweep))
        .routes(routes!(list_devices, register_device))
        .routes(routes!(device_alert))
        .routes(routes!(import_hotline))
        .routes(routes!(event_media))
        .layer(axum::extract::DefaultBodyLimit::max(IMPORT_MAX_BYTES))
}

/// A hotline export, or an alert with its frame, in one request.
const IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Photos of a JSON body: links (`https://…`, kept as given) and base64 images (checked
/// and kept by the hub).
fn photos(given: &[String]) -> Result<(Vec<String>, Vec<Photo>), ApiError> {
    let (links, b64): (Vec<String>, Vec<String>) = given
        .iter()
        .cloned()
        .partition(|p| p.starts_with("https://") || p.starts_with("http://"));
    Ok((links, images(&b64)?))
}

fn images(b64: &[String]) -> Result<Vec<Photo>, ApiError> {
    if b64.len() > shuniu_events::intake::MAX_PHOTOS {
        return Err(EventError::invalid(
            "EVENT_PHOTO_COUNT",
            "每次至多 6 张照片",
            "at most 6 photos at a time",
        )
        .into());
    }
    b64.iter()
        .map(|p| Photo::from_base64(p).map_err(ApiError::from))
        .collect()
}

type Json = axum::Json<serde_json::Value>;

fn json<T: serde::Serialize>(v: &T) -> Json {
    axum::Json(serde_json::to_value(v).unwrap_or_default())
}

#[derive(Deserialize, ToSchema)]
struct CategoryBody {
    code: String,
    name: String,
    #[serde(default)]
    parent: Option<String>,
    /// Working hours to close, per urgency: normal, urgent, emergency.
    hours: [i64; 3],
    #[serde(default)]
    keywords: Vec<String>,
    /// Open311 attribute definitions.
    #[serde(default)]
    attributes: Option<serde_json::Value>,
    #[serde(default)]
    description: String,
}

/// The event tree (事件分类).
#[utoipa::path(get, path = "/api/v1/events/categories", tag = "events",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_categories(
    State(state): State<AppState>,
    Caller(_c): Caller,
) -> Result<Json, ApiError> {
    let cats = state.engines.events.categories().await?;
    Ok(json(&cats.iter().map(|c| serde_json::json!({
        "code": c.code, "name": c.name, "parent": c.parent,
        "hours": [c.normal_hours, c.urgent_hours, c.emergency_hours],
        "keywords": c.keywords, "attributes": c.attributes, "description": c.description,
    })).collect::<Vec<_>>()))
}

/// Adds or changes a category (the command centre).
#[utoipa::path(post, path = "/api/v1/events/categories", tag = "events", request_body = CategoryBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_category(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<CategoryBody>,
) -> Result<Json, ApiError> {
    state
        .engines
        .events
        .put_category(
            &actor,
            &CategoryInput {
                code: b.code.clone(),
                name: b.name,
                parent: b.parent,
                hours: b.hours,
                keywords: b.keywords,
                attributes: b.attributes.unwrap_or_else(|| serde_json::json!([])),
                description: b.description,
            },
        )
        .await?;
    state.engines.events.retrain().await?;
    Ok(json(&serde_json::json!({ "code": b.code })))
}

#[derive(Deserialize, ToSchema)]
struct RuleBody {
    /// A category or branch code; empty for every category.
    #[serde(default)]
    category: String,
    /// A district code (GB/T 2260); empty for the whole city.
    #[serde(default)]
    district: String,
    department: String,
    #[serde(default)]
    assisting: Vec<String>,
}

/// The dispatch rules (派遣规则).
#[utoipa::path(get, path = "/api/v1/events/rules", tag = "events",
    responses((status = 400, body = ErrorBody), (status = 200, body = [Object]), (status = 401, body = ErrorBody)))]
async fn list_rules(State(state): State<AppState>, Caller(_c): Caller) -> Result<Json, ApiError> {
    let rules = state.engines.events.rules().await?;
    Ok(json(
        &rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "category": r.category, "district": r.district,
                    "department": r.department, "assisting": r.assisting,
                })
            })
            .collect::<Vec<_>>(),
    ))
}

/// Category × district → the department responsible (the command centre).
#[utoipa::path(post, path = "/api/v1/events/rules", tag = "events", request_body = RuleBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_rule(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<RuleBody>,
) -> Result<Json, ApiError> {
    let r = state
        .engines
        .events
        .put_rule(
            &actor,
            &b.category,
            &b.district,
            &b.department,
            &b.assisting,
        )
        .await?;
    Ok(json(&serde_json::json!({ "id": r.id })))
}

#[derive(Deserialize, ToSchema)]
struct KeyBody {
    /// The civic app's name.
    name: String,
}

/// Issues an Open311 `api_key` to a civic app (shown once).
#[utoipa::path(post, path = "/api/v1/events/open311-keys", tag = "events", request_body = KeyBody,
    responses((status = 422, body = ErrorBody), (status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody)))]
async fn open311_key(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<KeyBody>,
) -> Result<Json, ApiError> {
    let key = state
        .engines
        .events
        .issue_open311_key(&actor, &b.name)
        .await?;
    Ok(json(&serde_json::json!({ "api_key": key, "name": b.name })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    state: Option<String>,
    category: Option<String>,
    department: Option<String>,
    district: Option<String>,
    /// Open events past their deadline only.
    overdue: Option<bool>,
    /// At most 1,000 (100 by default).
    limit: Option<i32>,
    offset: Option<i32>,
}

/// Events the caller may see: the whole city for the command centre, its own for a
/// department.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ListQuery),
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = [Object]), (status = 403, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json, ApiError> {
    let events = &state.engines.events;
    let rows = events
        .list(
            &actor,
            &EventFilter {
                states: q.state.into_iter().collect(),
                categories: q.category.into_iter().collect(),
                department: q.department,
                district: q.district,
                due_before: q
                    .overdue
                    .filter(|o| *o)
                    .map(|_| chrono::Utc::now().to_rfc3339()),
                limit: i64::from(q.limit.unwrap_or(100).clamp(1, 1_000)),
                offset: i64::from(q.offset.unwrap_or(0).max(0)),
                ..Default::default()
            },
        )
        .await?;
    let cats = events.categories().await?;
    let mut out = Vec::new();
    for e in &rows {
        out.push(events.public(e, &cats)?);
    }
    // The handler is not secret inside the government: put it back.
    let out: Vec<serde_json::Value> = rows
        .iter()
        .zip(out)
        .map(|(e, j)| {
            let mut v = serde_json::to_value(j).unwrap_or_default();
            v["department"] = serde_json::json!(e.department);
            v
        })
        .collect();
    Ok(json(&out))
}

#[derive(Deserialize, ToSchema)]
struct ReportBody {
    /// hotline, grid, sensor, indicator, console (Open311 clients use `/open311/v2`).
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    category: Option<String>,
    description: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    reporter_name: Option<String>,
    #[serde(default)]
    reporter_phone: Option<String>,
    /// The reporter's citizen ID number, when the hotline knows it.
    #[serde(default)]
    reporter_id: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    photo_url: Option<String>,
    /// Photos, base64 (JPEG, PNG or WebP, at most 6 of 5 MB).
    #[serde(default)]
    photos: Vec<String>,
}

/// Reports an event (a hotline work order, a grid inspector's finding, a camera's alert).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = ReportBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<ReportBody>,
) -> Result<Json, ApiError> {
    let field = |e: shuniu_types::FieldError| ApiError::from(e);
    let channel = match b.channel.as_deref() {
        Some(c) => Some(shuniu_events::Channel::parse_field("channel", c).map_err(field)?),
        None => None,
    };
    let urgency = match b.urgency.as_deref() {
        Some(u) => Some(Urgency::parse_field("urgency", u).map_err(field)?),
        None => None,
    };
    let reporter_id = match b.reporter_id.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(s.parse::<shuniu_types::IdNumber>().map_err(|_| {
            EventError::invalid(
                "EVENT_REPORTER_ID",
                "报告人身份证号无效",
                "the reporter's ID number is not valid",
            )
        })?),
        None => None,
    };
    let point = match (b.lat, b.lon) {
        (Some(lat), Some(lon)) => Some(Point { lat, lon }),
        _ => None,
    };
    let (links, uploads) = photos(&b.photos)?;
    let e = state
        .engines
        .events
        .report(
            &actor,
            Report {
                channel,
                category: b.category,
                description: b.description,
                address: b.address,
                point,
                urgency,
                reporter_name: b.reporter_name,
                reporter_phone: b.reporter_phone,
                reporter_id,
                external_id: b.external_id,
                media_url: b.photo_url.or(links.into_iter().next()),
                photos: uploads,
                ..Default::default()
            },
        )
        .await?;
    let view = state.engines.events.view(&actor, &e.id).await;
    match view {
        Ok(v) => Ok(json(&v)),
        // A reporting system that may not see the event afterwards gets its number.
        Err(_) => Ok(json(&serde_json::json!({ "id": e.id, "state": e.state }))),
    }
}

/// One event with its history (the reporter masked unless the caller is the command centre).
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.events.view(&actor, &id).await?))
}

#[derive(Deserialize, ToSchema)]
struct ActBody {
    /// dispatch, accept, return, transfer, note, handle, verify, reject, reopen.
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    assisting: Vec<String>,
    #[serde(default)]
    category: Option<String>,
    /// Photos: links (`https://…`) or images in base64 (JPEG, PNG or WebP, at most 6 of
    /// 5 MB), which the hub keeps.
    #[serde(default)]
    photos: Vec<String>,
    #[serde(default)]
    satisfaction: Option<i64>,
}

/// One step of an event's handling.
#[utoipa::path(post, path = "/api/v1/events/{id}/actions", tag = "events", request_body = ActBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn act(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActBody>,
) -> Result<Json, ApiError> {
    let action = EventAction::parse_field("action", &b.action).map_err(ApiError::from)?;
    let (links, uploads) = photos(&b.photos)?;
    // Reminders, escalation and merging are the engine's own; a report is a new event.
    if matches!(
        action,
        EventAction::Report | EventAction::Remind | EventAction::Escalate | EventAction::Merge
    ) {
        return Err(EventError::invalid(
            "EVENT_ACTION",
            "该操作由系统自动执行，不能手动提交",
            "this action is the system's own and cannot be posted",
        )
        .into());
    }
    state
        .engines
        .events
        .act(
            &actor,
            &id,
            action,
            &ActInput {
                note: b.note,
                department: b.department,
                assisting: b.assisting,
                photos: links,
                uploads,
                satisfaction: b.satisfaction,
                category: b.category,
                at: None,
            },
        )
        .await?;
    Ok(json(&state.engines.events.view(&actor, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// RFC 3339; 30 days ago by default.
    from: Option<String>,
    /// RFC 3339; now by default.
    to: Option<String>,
}

/// Closure on time, satisfaction and escalations per department and district (考核).
#[utoipa::path(get, path = "/api/v1/events/statistics", tag = "events", params(StatsQuery),
    responses((status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody)))]
async fn statistics(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json, ApiError> {
    let parse =
        |s: Option<String>, default: chrono::DateTime<chrono::Utc>| -> Result<_, ApiError> {
            match s {
                Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        EventError::invalid(
                            "EVENT_PERIOD",
                            "时间须为 RFC 3339 格式",
                            "times are RFC 3339",
                        )
                        .into()
                    }),
                None => Ok(default),
            }
        };
    let now = chrono::Utc::now();
    let to = parse(q.to, now)?;
    let from = parse(q.from, now - chrono::Duration::days(30))?;
    Ok(json(
        &state.engines.events.statistics(&actor, from, to).await?,
    ))
}

/// Runs the deadline watcher now (the server runs it every minute): reminders and escalations.
#[utoipa::path(post, path = "/api/v1/events/sweep", tag = "events",
    responses((status = 422, body = ErrorBody), (status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody)))]
async fn sweep(State(state): State<AppState>, Caller(actor): Caller) -> Result<Json, ApiError> {
    shuniu_policy::decide(
        &actor,
        shuniu_policy::Action::ManageEvents,
        shuniu_policy::Target::Hub,
    )
    .map_err(EventError::Denied)?;
    Ok(json(&state.engines.events.sweep(chrono::Utc::now()).await?))
}

/// The registered cameras and sensors (感知设备).
#[utoipa::path(get, path = "/api/v1/events/devices", tag = "events",
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = [Object]), (status = 403, body = ErrorBody)))]
async fn list_devices(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json, ApiError> {
    Ok(json(&state.engines.events.devices(&actor).await?))
}

#[derive(Deserialize, ToSchema)]
struct DeviceBody {
    /// The device's id on its platform (letters, digits, `-`, `_`).
    id: String,
    name: String,
    /// camera or sensor.
    kind: String,
    lat: f64,
    lon: f64,
    #[serde(default)]
    address: String,
    /// The department that owns the device.
    department: String,
    /// The category its alerts fall in unless an alert names one.
    category: String,
}

/// Registers a camera or sensor, or gives a registered one a new secret: the answer carries
/// the secret its alerts are signed with, once.
#[utoipa::path(post, path = "/api/v1/events/devices", tag = "events", request_body = DeviceBody,
    responses((status = 415, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_device(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<DeviceBody>,
) -> Result<Json, ApiError> {
    let input = DeviceInput {
        id: b.id,
        name: b.name,
        kind: b.kind,
        lat: b.lat,
        lon: b.lon,
        address: b.address,
        department: b.department,
        category: b.category,
    };
    Ok(json(
        &state.engines.events.register_device(&actor, &input).await?,
    ))
}

/// An alert from a registered camera or sensor (a video AI platform's detection, a water
/// level over its mark). No API key: the body is signed with the device's secret,
/// `X-Shuniu-Signature: hmac-sm3=<hex>` over `<X-Shuniu-Timestamp>.<body>`, the timestamp
/// in Unix seconds within 5 minutes of the hub's clock. The same `alert_id` is one event.
#[utoipa::path(post, path = "/api/v1/events/devices/{id}/alerts", tag = "events",
    params(("id" = String, Path, description = "The device's id"),
        ("X-Shuniu-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Shuniu-Signature" = String, Header, description = "hmac-sm3=<hex>")),
    request_body(content = String, content_type = "application/json", description = "{alert_id, category?, description?, lat?, lon?, urgency?, occurred_at?, score?, image? (base64)}"),
    security(()),
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn device_alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let e = state
        .engines
        .events
        .device_alert(
            &id,
            &header("x-shuniu-timestamp"),
            &header("x-shuniu-signature"),
            &body,
            chrono::Utc::now(),
        )
        .await?;
    Ok(json(&serde_json::json!({
        "id": e.id, "state": e.state, "parent_id": e.parent_id, "category": e.category,
        "district": e.district, "department": e.department,
    })))
}

/// Imports the 12345 hotline's export of work orders: the body is the file (CSV in UTF-8 or
/// GBK/GB18030, or Excel). Columns by their usual names: 工单编号 and 诉求内容 required;
/// 受理时间, 事发地址, 经度/纬度, 诉求分类 (code or name), 紧急程度, 来电人, 联系电话,
/// 身份证号 when known. A file with a bad row is refused whole (422, each bad line in
/// `fields`); work orders imported before are left as they are.
#[utoipa::path(post, path = "/api/v1/events/import", tag = "events",
    request_body(content = String, content_type = "application/octet-stream", description = "The hotline export: CSV or Excel"),
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_hotline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: axum::body::Bytes,
) -> Result<Json, ApiError> {
    Ok(json(&import_file(&state, &actor, &body).await?))
}

/// Writes the upload where the ingest readers can stream it, and imports it.
pub(crate) async fn import_file(
    state: &AppState,
    actor: &shuniu_types::Actor,
    body: &[u8],
) -> Result<shuniu_events::ImportReport, ApiError> {
    use tokio::io::AsyncWriteExt;
    let (upload, mut file) = super::data::new_upload(state).await?;
    let io = |e: std::io::Error| ApiError::from(EventError::Internal(e.to_string()));
    file.write_all(body).await.map_err(io)?;
    file.flush().await.map_err(io)?;
    drop(file);
    match state
        .engines
        .events
        .import_hotline(actor, &upload.0)
        .await?
    {
        Ok(report) => Ok(report),
        Err(problems) => Err(import_refused(&problems)),
    }
}

/// A refused import: 422, each bad row a field named by its line.
pub(crate) fn import_refused(problems: &[shuniu_events::RowProblem]) -> ApiError {
    let mut e = ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "EVENT_IMPORT_ROWS",
        format!("{} 行有误，未导入任何工单", problems.len()),
        format!(
            "{} rows are not right: nothing was imported",
            problems.len()
        ),
    );
    e.fields = problems
        .iter()
        .take(200)
        .map(|p| crate::error::FieldErrorView {
            field: format!("line {}", p.line),
            code: p.code.to_string(),
            message_zh: p.message_zh.clone(),
            message_en: p.message_en.clone(),
        })
        .collect();
    e
}

/// A photo in an event's history, for those who may see the event.
#[utoipa::path(get, path = "/api/v1/events/{id}/media/{digest}", tag = "events",
    params(("id" = String, Path, description = "Event id"), ("digest" = String, Path, description = "The photo's SM3 digest")),
    responses((status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 200, content_type = "image/jpeg", body = String), (status = 404, body = ErrorBody)))]
async fn event_media(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, digest)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let m = state.engines.events.media(&actor, &id, &digest).await?;
    Ok(media_response(m))
}

/// A stored photo as a response: its checked type, never sniffed by the browser, cached
/// privately (the digest names the content).
pub(crate) fn media_response(m: shuniu_store::EventMediaRow) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, m.content_type),
            (
                axum::http::header::CACHE_CONTROL,
                "private, max-age=86400, immutable".to_string(),
            ),
            (
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                "nosniff".to_string(),
            ),
        ],
        m.bytes,
    )
        .into_response()
}
