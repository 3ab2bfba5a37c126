//! Open311 GeoReport v2 at `/open311/v2/`: the interface civic apps already speak. Services
//! are the leaves of the city's event tree; a posted request becomes an event like any
//! other (located, classified, merged or dispatched). Every resource is served as XML (the
//! spec's required format) and JSON by its extension; errors are the spec's list of
//! `{code, description}`. FixMyStreet's `servicerequestupdates` extension lets a client post
//! updates and poll for the city's.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use quick_xml::escape::escape;
use serde_json::{Value, json};
use shuniu_events::{Channel, EventError, EventState, Point, Report};
use shuniu_store::{EventCategoryRow, EventFilter, EventRow, EventStepRow};
use shuniu_types::Classified;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(top).post(post_top))
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

/// `name.json` or `name.xml` → (name, format).
fn split(file: &str) -> Option<(&str, Format)> {
    if let Some(n) = file.strip_suffix(".json") {
        Some((n, Format::Json))
    } else {
        file.strip_suffix(".xml").map(|n| (n, Format::Xml))
    }
}

/// The spec's error list.
fn error(format: Format, status: StatusCode, description: &str) -> Response {
    let code = status.as_u16();
    match format {
        Format::Json => (
            status,
            axum::Json(json!([{ "code": code, "description": description }])),
        )
            .into_response(),
        Format::Xml => xml(
            status,
            format!(
                "<errors><error><code>{code}</code><description>{}</description></error></errors>",
                escape(description)
            ),
        ),
    }
}

fn from_engine(format: Format, e: &EventError) -> Response {
    let p = e.problem();
    let status = match e {
        EventError::NotFound(_) => StatusCode::NOT_FOUND,
        EventError::Denied(_) | EventError::Unsigned(_) => StatusCode::FORBIDDEN,
        EventError::Invalid { .. } => StatusCode::BAD_REQUEST,
        EventError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(
        format,
        status,
        &format!("{} / {} [{}]", p.message_en, p.message_zh, p.code),
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}"),
    )
        .into_response()
}

/// One XML element per (name, value); lists and objects nest, nulls are empty elements.
fn xml_of(name: &str, v: &Value) -> String {
    match v {
        Value::Null => format!("<{name}/>"),
        Value::Array(items) => {
            let child = match name {
                "services" => "service",
                "service_requests" => "request",
                "service_request_updates" => "request_update",
                "attributes" => "attribute",
                "values" => "value",
                _ => "item",
            };
            let inner: String = items.iter().map(|i| xml_of(child, i)).collect();
            format!("<{name}>{inner}</{name}>")
        }
        Value::Object(m) => {
            let inner: String = m.iter().map(|(k, v)| xml_of(k, v)).collect();
            format!("<{name}>{inner}</{name}>")
        }
        Value::String(s) => format!("<{name}>{}</{name}>", escape(s.as_str())),
        other => format!("<{name}>{other}</{name}>"),
    }
}

/// `root` holds a list: JSON is the bare list, XML the root element around it.
fn list(format: Format, root: &str, items: Vec<Value>) -> Response {
    match format {
        Format::Json => axum::Json(Value::Array(items)).into_response(),
        Format::Xml => xml(StatusCode::OK, xml_of(root, &Value::Array(items))),
    }
}

fn rfc3339(at: &str) -> String {
    DateTime::parse_from_rfc3339(at)
        .map(|d| {
            d.with_timezone(
                &chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!()),
            )
            .to_rfc3339()
        })
        .unwrap_or_else(|_| at.to_string())
}

fn service(c: &EventCategoryRow, all: &[EventCategoryRow]) -> Value {
    let has_attributes = c.attributes.as_array().is_some_and(|a| !a.is_empty());
    json!({
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description,
        "metadata": has_attributes,
        "type": "realtime",
        "keywords": c.keywords.join(","),
        "group": c.parent.as_ref().and_then(|p| all.iter().find(|o| &o.code == p)).map(|p| p.name.clone()).unwrap_or_default(),
    })
}

fn request_json(e: &EventRow, cats: &[EventCategoryRow]) -> Value {
    let state = EventState::parse_term(&e.state);
    let name = cats
        .iter()
        .find(|c| c.code == e.category)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    json!({
        "service_request_id": e.id,
        "status": state.map_or("open", |s| s.open311()),
        "status_notes": state.map(|s| s.zh()).unwrap_or_default(),
        "service_name": name,
        "service_code": e.category,
        "description": e.description,
        "agency_responsible": e.department.clone().unwrap_or_default(),
        "service_notice": "",
        "requested_datetime": rfc3339(&e.reported_at),
        "updated_datetime": rfc3339(&e.updated_at),
        "expected_datetime": e.due_at.as_deref().map(rfc3339),
        "address": e.address,
        "address_id": "",
        "zipcode": "",
        "lat": e.lat,
        "long": e.lon,
        "media_url": e.media_url,
    })
}

/// FixMyStreet's status words for a step's resulting state.
fn fms_status(s: &EventStepRow) -> &'static str {
    match s.to_state.as_str() {
        "reported" => "OPEN",
        "dispatched" => "ACTION_SCHEDULED",
        "handling" | "handled" => "IN_PROGRESS",
        "closed" => "FIXED",
        "merged" => "DUPLICATE",
        _ => "OPEN",
    }
}

fn update_json(s: &EventStepRow) -> Value {
    json!({
        "update_id": format!("{}-{}", s.event_id, s.seq),
        "service_request_id": s.event_id,
        "status": fms_status(s),
        "updated_datetime": rfc3339(&s.at),
        "description": s.note,
        "media_url": s.photos.first().cloned().unwrap_or_default(),
    })
}

/// A request's `start_date` and `end_date`, either absent.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

const WINDOW_REFUSED: &str = "start_date and end_date are W3C (ISO 8601) times with a zone";

/// `start_date` and `end_date`; `None` when one is not a time with its zone.
fn window(q: &BTreeMap<String, String>) -> Option<Window> {
    let time = |k: &str| match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Some(d.with_timezone(&Utc))),
    };
    Some((time("start_date")?, time("end_date")?))
}

/// A comma-separated list parameter (`service_request_id`, `service_code`).
fn comma_list(q: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    q.get(key)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

async fn top(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let Some((name, format)) = split(&file) else {
        return error(Format::Xml, StatusCode::NOT_FOUND, "use .xml or .json");
    };
    let events = &state.engines.events;
    // The tree, for the services and the requests' service names; the other resources do
    // without it.
    let cats = if matches!(name, "services" | "requests") {
        match events.categories().await {
            Ok(c) => c,
            Err(e) => return from_engine(format, &e),
        }
    } else {
        Vec::new()
    };
    match name {
        "services" => list(
            format,
            "services",
            shuniu_events::engine::leaves(&cats)
                .into_iter()
                .map(|c| service(c, &cats))
                .collect(),
        ),
        "discovery" => {
            let d = json!({
                "changeset": "2026-12-01T00:00:00+08:00",
                "contact": "城市运行管理中心 / city operations centre",
                "key_service": "向城市运行管理中心申请 API key / ask the operations centre for an api_key",
                "endpoints": [{
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": "/open311/v2",
                    "changeset": "2026-12-01T00:00:00+08:00",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }],
            });
            match format {
                Format::Json => axum::Json(d).into_response(),
                Format::Xml => xml(StatusCode::OK, xml_of("discovery", &d)),
            }
        }
        "requests" => {
            let Some((start, end)) = window(&q) else {
                return error(format, StatusCode::BAD_REQUEST, WINDOW_REFUSED);
            };
            let ids = comma_list(&q, "service_request_id");
            let mut filter = EventFilter {
                ids: ids.clone(),
                categories: comma_list(&q, "service_code"),
                limit: q
                    .get("limit")
                    .and_then(|l| l.parse::<i64>().ok())
                    .unwrap_or(1_000)
                    .clamp(1, 1_000),
                ..Default::default()
            };
            if let Some(status) = q.get("status") {
                for s in status.split(',').map(str::trim) {
                    match s {
                        "open" => filter.states.extend(
                            ["reported", "dispatched", "handling", "handled"].map(String::from),
                        ),
                        "closed" => filter.states.push("closed".into()),
                        "" => {}
                        _ => {
                            return error(
                                format,
                                StatusCode::BAD_REQUEST,
                                "status is open or closed",
                            );
                        }
                    }
                }
            }
            // The spec's default window: the last 90 days, unless ids are asked for.
            if ids.is_empty() {
                let end = end.unwrap_or_else(Utc::now);
                let start = start.unwrap_or(end - Duration::days(90));
                filter.reported_from = Some(start.to_rfc3339());
                filter.reported_to = Some((end + Duration::seconds(1)).to_rfc3339());
            }
            match events.list_public(&filter).await {
                Ok(rows) => list(
                    format,
                    "service_requests",
                    rows.iter()
                        .filter(|e| e.state != "merged")
                        .map(|e| request_json(e, &cats))
                        .collect(),
                ),
                Err(e) => from_engine(format, &e),
            }
        }
        "servicerequestupdates" => {
            let Some((start, end)) = window(&q) else {
                return error(format, StatusCode::BAD_REQUEST, WINDOW_REFUSED);
            };
            let end = end.unwrap_or_else(Utc::now) + Duration::seconds(1);
            let start = start.unwrap_or(end - Duration::days(1));
            match events.updates(start, end, 1_000).await {
                Ok(steps) => list(
                    format,
                    "service_request_updates",
                    steps.iter().map(update_json).collect(),
                ),
                Err(e) => from_engine(format, &e),
            }
        }
        _ => error(format, StatusCode::NOT_FOUND, "no such Open311 resource"),
    }
}

/// Form fields, `attribute[code]` gathered.
fn form(body: &[u8]) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut fields = BTreeMap::new();
    let mut attributes = BTreeMap::new();
    for (k, v) in form_urlencoded_pairs(body) {
        if let Some(code) = k
            .strip_prefix("attribute[")
            .and_then(|r| r.strip_suffix(']'))
        {
            attributes.insert(code.to_string(), v);
        } else {
            fields.insert(k, v);
        }
    }
    (fields, attributes)
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn post_top(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some((name, format)) = split(&file) else {
        return error(Format::Xml, StatusCode::NOT_FOUND, "use .xml or .json");
    };
    let (f, attributes) = form(&body);
    let events = &state.engines.events;
    let client = match events
        .open311_client(f.get("api_key").map_or("", String::as_str))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error(
                format,
                StatusCode::FORBIDDEN,
                "api_key is missing or not valid",
            );
        }
        Err(e) => return from_engine(format, &e),
    };
    match name {
        "requests" => {
            let num = |k: &str| f.get(k).and_then(|v| v.trim().parse::<f64>().ok());
            let point = match (num("lat"), num("long")) {
                (Some(lat), Some(lon)) => Some(Point { lat, lon }),
                _ => None,
            };
            let address = f
                .get("address_string")
                .cloned()
                .filter(|a| !a.trim().is_empty());
            if point.is_none() && address.is_none() {
                return error(
                    format,
                    StatusCode::BAD_REQUEST,
                    "a location is required: lat and long, or address_string",
                );
            }
            let Some(code) = f.get("service_code").filter(|c| !c.trim().is_empty()) else {
                return error(format, StatusCode::BAD_REQUEST, "service_code is required");
            };
            // Required attributes of the service's definition.
            if let Ok(services) = events.services().await
                && let Some(svc) = services.iter().find(|s| &s.code == code)
            {
                for a in svc.attributes.as_array().into_iter().flatten() {
                    let c = a["code"].as_str().unwrap_or_default();
                    if a["required"].as_bool() == Some(true)
                        && attributes.get(c).is_none_or(|v| v.trim().is_empty())
                    {
                        return error(
                            format,
                            StatusCode::BAD_REQUEST,
                            &format!("attribute[{c}] is required"),
                        );
                    }
                }
            }
            let name = [f.get("first_name"), f.get("last_name")]
                .into_iter()
                .flatten()
                .map(|s| s.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let report = Report {
                channel: Some(Channel::Open311),
                category: Some(code.clone()),
                description: f.get("description").cloned().unwrap_or_default(),
                address,
                point,
                reporter_name: Some(name).filter(|n| !n.trim().is_empty()),
                reporter_phone: f.get("phone").cloned(),
                reporter_email: f.get("email").cloned(),
                external_id: f.get("device_id").cloned(),
                attributes,
                media_url: f.get("media_url").cloned(),
                ..Default::default()
            };
            match events.report(&client, report).await {
                Ok(e) => list(
                    format,
                    "service_requests",
                    vec![json!({
                        "service_request_id": e.id,
                        "token": e.token,
                        "service_notice": "已受理，处置进度可随时查询 / received: poll the request for its progress",
                        "account_id": Value::Null,
                    })],
                ),
                Err(e) => from_engine(format, &e),
            }
        }
        "servicerequestupdates" => {
            let (Some(id), Some(status)) = (f.get("service_request_id"), f.get("status")) else {
                return error(
                    format,
                    StatusCode::BAD_REQUEST,
                    "service_request_id and status are required",
                );
            };
            match events
                .client_update(
                    &client,
                    id,
                    status,
                    f.get("description").map_or("", String::as_str),
                    f.get("media_url").map(String::as_str),
                )
                .await
            {
                Ok(step) => list(format, "service_request_updates", vec![update_json(&step)]),
                Err(e) => from_engine(format, &e),
            }
        }
        _ => error(format, StatusCode::NOT_FOUND, "no such Open311 resource"),
    }
}

async fn service_definition(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((code, format)) = split(&file) else {
        return error(Format::Xml, StatusCode::NOT_FOUND, "use .xml or .json");
    };
    match state.engines.events.services().await {
        Ok(services) => match services.iter().find(|s| s.code == code) {
            Some(s) => {
                let attributes: Vec<Value> = s
                    .attributes
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut a)| {
                        a["variable"] = json!(true);
                        if a.get("order").is_none() {
                            a["order"] = json!(i + 1);
                        }
                        a
                    })
                    .collect();
                let d = json!({ "service_code": s.code, "attributes": attributes });
                match format {
                    Format::Json => axum::Json(d).into_response(),
                    Format::Xml => xml(StatusCode::OK, xml_of("service_definition", &d)),
                }
            }
            None => error(format, StatusCode::NOT_FOUND, &format!("no service {code}")),
        },
        Err(e) => from_engine(format, &e),
    }
}

async fn one_request(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = split(&file) else {
        return error(Format::Xml, StatusCode::NOT_FOUND, "use .xml or .json");
    };
    let events = &state.engines.events;
    let cats = match events.categories().await {
        Ok(c) => c,
        Err(e) => return from_engine(format, &e),
    };
    match events.by_id(id).await {
        Ok(Some(e)) => {
            // A duplicate answers as the request it was merged into.
            let shown = match (&e.parent_id, e.state.as_str()) {
                (Some(p), "merged") => events.by_id(p).await.ok().flatten().unwrap_or(e),
                _ => e,
            };
            let mut j = request_json(&shown, &cats);
            j["service_request_id"] = json!(id);
            list(format, "service_requests", vec![j])
        }
        Ok(None) => error(
            format,
            StatusCode::NOT_FOUND,
            &format!("no service request {id}"),
        ),
        Err(e) => from_engine(format, &e),
    }
}

async fn token(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((token, format)) = split(&file) else {
        return error(Format::Xml, StatusCode::NOT_FOUND, "use .xml or .json");
    };
    match state.engines.events.by_token(token).await {
        Ok(Some(e)) => list(
            format,
            "service_requests",
            vec![json!({ "service_request_id": e.id, "token": token })],
        ),
        Ok(None) => error(
            format,
            StatusCode::NOT_FOUND,
            &format!("no request for token {token}"),
        ),
        Err(e) => from_engine(format, &e),
    }
}
