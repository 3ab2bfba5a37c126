//! The CKAN Action API (v3) over the open catalog, so that CKAN's own client (`ckanapi`),
//! harvesters and portals' tooling work against Shuniu unchanged.
//!
//! `/api/action/{name}` and `/api/{1,2,3}/action/{name}`, GET (query string, repeated keys as
//! lists) and POST (a JSON object, or a form with repeated keys as lists); no redirects. Every
//! answer is CKAN's envelope `{help, success, result}` or `{help, success: false, error}` with
//! CKAN's error types and status codes: 400 "Bad Request" / "Search Query Error", 403
//! "Authorization Error", 404 "Not Found Error", 409 "Validation Error", 429 when a client is
//! over its rate. A malformed query is always the caller's error, never a 5xx.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json, json};
use shuniu_open::{DatastoreQuery, OpenError, Reader, SearchParams};

use crate::AppState;

/// Per-client rate limits of the public APIs.
pub struct OpenLimits {
    anonymous: DefaultKeyedRateLimiter<String>,
    token: DefaultKeyedRateLimiter<String>,
}

impl OpenLimits {
    pub fn new(anonymous_per_second: u32, token_per_second: u32) -> OpenLimits {
        // A burst of twice the rate: a client paging through results in a quick loop is
        // not refused at once; a sustained rate above the quota is.
        let quota = |n: u32| {
            let rate = std::num::NonZeroU32::new(n.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
            let burst = std::num::NonZeroU32::new(n.max(5).saturating_mul(2)).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        };
        OpenLimits {
            anonymous: DefaultKeyedRateLimiter::keyed(quota(anonymous_per_second)),
            token: DefaultKeyedRateLimiter::keyed(quota(token_per_second)),
        }
    }

    /// `Err(seconds to wait)` when the client is over its rate.
    pub fn check(&self, reader: &Reader, address: &str) -> Result<(), u64> {
        let (limiter, key) = match &reader.application {
            Some(app) => (&self.token, app.clone()),
            None => (&self.anonymous, address.to_string()),
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs().max(1)
        })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/action/{name}", get(action).post(action))
        .route("/api/1/action/{name}", get(action).post(action))
        .route("/api/2/action/{name}", get(action).post(action))
        .route("/api/3/action/{name}", get(action).post(action))
}

/// The caller's address (the TCP peer).
pub(crate) fn client_address(req_ext: &axum::http::Extensions) -> String {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The base URL of this site as the client reached it.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// A data token from CKAN's headers (`Authorization: <token>`, `X-CKAN-API-Key`) or
/// `Authorization: Bearer <token>`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get("x-ckan-api-key")
        .or_else(|| headers.get(header::AUTHORIZATION))
        .and_then(|h| h.to_str().ok())?
        .trim();
    let token = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// A CKAN error.
struct CkanError {
    status: StatusCode,
    body: Map<String, Json>,
    retry_after: Option<u64>,
}

impl CkanError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> CkanError {
        let mut body = Map::new();
        body.insert("__type".into(), json!(kind));
        body.insert("message".into(), json!(message.into()));
        CkanError {
            status,
            body,
            retry_after: None,
        }
    }

    fn not_found(what: &str) -> CkanError {
        CkanError::new(
            StatusCode::NOT_FOUND,
            "Not Found Error",
            format!("Not found: {what}"),
        )
    }

    /// CKAN's validation errors name the field: `{"__type": "Validation Error", "rows": [..]}`.
    fn validation(field: &str, message: impl Into<String>) -> CkanError {
        let mut body = Map::new();
        body.insert("__type".into(), json!("Validation Error"));
        body.insert(field.into(), json!([message.into()]));
        CkanError {
            status: StatusCode::CONFLICT,
            body,
            retry_after: None,
        }
    }

    fn search_query(message: impl std::fmt::Display) -> CkanError {
        CkanError::new(
            StatusCode::BAD_REQUEST,
            "Search Query Error",
            format!("Search Query is invalid: {message}"),
        )
    }

    fn internal(e: serde_json::Error) -> CkanError {
        tracing::error!(error = %e, "rendering package JSON failed");
        CkanError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "服务器内部错误 / internal server error",
        )
    }
}

/// An open-data error in CKAN's envelope, by its kind (the same kinds every other door maps):
/// CKAN's error type and status for each, the field CKAN's validation errors name, and the
/// stable code beside CKAN's own keys.
impl From<OpenError> for CkanError {
    fn from(e: OpenError) -> CkanError {
        use shuniu_types::{Classified, ErrorKind};
        let p = e.problem();
        crate::web::problem::log_fault(&p, &e);
        let both = format!("{} / {}", p.message_zh, p.message_en);
        let mut err = match p.kind {
            ErrorKind::NotFound => match &e {
                OpenError::NotFound(what) => CkanError::not_found(what),
                _ => CkanError::not_found(&p.message_en),
            },
            ErrorKind::Invalid | ErrorKind::BadRequest => match p.fields.first() {
                Some(f) => CkanError::validation(&f.field, f.message_en.clone()),
                None => CkanError::validation("message", both),
            },
            ErrorKind::Conflict => CkanError::validation("message", both),
            ErrorKind::Denied | ErrorKind::Unauthenticated => CkanError::new(
                crate::web::problem::status_of(p.kind),
                "Authorization Error",
                format!("Access denied: {both}"),
            ),
            ErrorKind::Limited => {
                let mut l = CkanError::new(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Error", both);
                l.retry_after = p.retry_after;
                l
            }
            ErrorKind::Unavailable | ErrorKind::Internal => CkanError::new(
                crate::web::problem::status_of(p.kind),
                "Internal Server Error",
                format!("服务器内部错误 / internal server error [{}]", p.code),
            ),
        };
        // CKAN's own keys say it all for these; the rest carry the stable code beside them.
        let code_beside = match p.kind {
            ErrorKind::NotFound | ErrorKind::Unavailable | ErrorKind::Internal => false,
            ErrorKind::Invalid => p.fields.is_empty(),
            _ => true,
        };
        if code_beside {
            err.body.insert("code".into(), json!(p.code));
        }
        err
    }
}

/// The action's parameters, merged from the query string and the body.
struct Params(BTreeMap<String, Json>);

impl Params {
    fn parse(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Params, CkanError> {
        let mut map = BTreeMap::new();
        let add_pairs = |pairs: Vec<(String, String)>, map: &mut BTreeMap<String, Json>| {
            for (k, v) in pairs {
                match map.remove(&k) {
                    None => {
                        map.insert(k, Json::String(v));
                    }
                    Some(Json::Array(mut a)) => {
                        a.push(Json::String(v));
                        map.insert(k, Json::Array(a));
                    }
                    Some(prev) => {
                        map.insert(k, Json::Array(vec![prev, Json::String(v)]));
                    }
                }
            }
        };
        if let Some(q) = query {
            add_pairs(form_pairs(q.as_bytes()), &mut map);
        }
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
        if trimmed.is_some() {
            if content_type.starts_with("application/x-www-form-urlencoded") {
                add_pairs(form_pairs(body), &mut map);
            } else {
                match serde_json::from_slice::<Json>(body) {
                    Ok(Json::Object(o)) => {
                        for (k, v) in o {
                            map.insert(k, v);
                        }
                    }
                    Ok(_) => {
                        return Err(CkanError::new(
                            StatusCode::BAD_REQUEST,
                            "Bad Request",
                            "Bad request - JSON Error: Request data JSON decoded to a non-dictionary",
                        ));
                    }
                    Err(e) => {
                        return Err(CkanError::new(
                            StatusCode::BAD_REQUEST,
                            "Bad Request",
                            format!("Bad request - JSON Error: Error decoding JSON data: {e}"),
                        ));
                    }
                }
            }
        }
        Ok(Params(map))
    }

    fn string(&self, k: &str) -> Result<Option<String>, CkanError> {
        Ok(match self.0.get(k) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            Some(Json::Bool(b)) => Some(b.to_string()),
            Some(Json::Array(a)) if a.len() == 1 => match &a[0] {
                Json::String(s) => Some(s.clone()),
                _ => return Err(CkanError::validation(k, "Must be a string")),
            },
            Some(_) => return Err(CkanError::validation(k, "Must be a string")),
        })
    }

    fn required(&self, k: &str) -> Result<String, CkanError> {
        match self.string(k)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(CkanError::validation(k, "Missing value")),
        }
    }

    fn natural(&self, k: &str, default: usize) -> Result<usize, CkanError> {
        match self.string(k)? {
            None => Ok(default),
            Some(s) if s.trim().is_empty() => Ok(default),
            Some(s) => match s.trim().parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n as usize),
                Ok(_) => Err(CkanError::validation(k, "Must be a natural number")),
                Err(_) => Err(CkanError::validation(k, "Invalid integer")),
            },
        }
    }

    fn boolean(&self, k: &str, default: bool) -> Result<bool, CkanError> {
        match self.string(k)? {
            None => Ok(default),
            Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" | "" => Ok(false),
                _ => Err(CkanError::validation(
                    k,
                    "Value must be one of: true, false",
                )),
            },
        }
    }

    /// A list given as a JSON array, a JSON-encoded array string, repeated keys, or commas.
    fn list(&self, k: &str) -> Result<Option<Vec<String>>, CkanError> {
        let bad = || CkanError::validation(k, "Must be a list of strings");
        let strings = |a: &[Json]| -> Result<Vec<String>, CkanError> {
            a.iter()
                .map(|v| match v {
                    Json::String(s) => Ok(s.clone()),
                    Json::Number(n) => Ok(n.to_string()),
                    _ => Err(bad()),
                })
                .collect()
        };
        Ok(match self.0.get(k) {
            None | Some(Json::Null) => None,
            Some(Json::Array(a)) => {
                if a.len() == 1
                    && let Json::String(s) = &a[0]
                    && s.trim_start().starts_with(['[', '{'])
                {
                    return self.list_from_str(k, s);
                }
                Some(strings(a)?)
            }
            Some(Json::String(s)) => return self.list_from_str(k, s),
            Some(_) => return Err(bad()),
        })
    }

    fn list_from_str(&self, k: &str, s: &str) -> Result<Option<Vec<String>>, CkanError> {
        if s.trim_start().starts_with(['[', '{']) {
            match serde_json::from_str::<Vec<Json>>(s) {
                Ok(a) => Ok(Some(
                    a.into_iter()
                        .map(|v| match v {
                            Json::String(s) => Ok(s),
                            Json::Number(n) => Ok(n.to_string()),
                            _ => Err(CkanError::validation(k, "Must be a list of strings")),
                        })
                        .collect::<Result<_, _>>()?,
                )),
                Err(_) => Err(CkanError::validation(k, "Must be a JSON list")),
            }
        } else {
            Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            ))
        }
    }

    /// A dict given as a JSON object or a JSON-encoded object string.
    fn dict(&self, k: &str) -> Result<Option<Map<String, Json>>, CkanError> {
        Ok(match self.0.get(k) {
            None | Some(Json::Null) => None,
            Some(Json::Object(o)) => Some(o.clone()),
            Some(Json::String(s)) if s.trim().is_empty() => None,
            Some(Json::String(s)) => match serde_json::from_str::<Json>(s) {
                Ok(Json::Object(o)) => Some(o),
                _ => return Err(CkanError::validation(k, "Not a json object")),
            },
            Some(_) => return Err(CkanError::validation(k, "Not a json object")),
        })
    }
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An action's result: a JSON value, or package_search's page, whose package dicts are JSON
/// text rendered before and written into the envelope as they are.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Value(Json),
    Search(SearchAnswer),
}

/// CKAN's envelope: `{help, success, result}` or `{help, success, error}`.
#[derive(Serialize)]
struct Envelope<'a> {
    help: String,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Map<String, Json>>,
}

fn envelope(base: &str, name: &str, result: Result<Answer, CkanError>) -> Response {
    let help = format!("{base}/api/3/action/help_show?name={name}");
    let json = |status: StatusCode, env: &Envelope| {
        // Serializing values and already-valid JSON text cannot fail; answer 500 if it does.
        match serde_json::to_string(env) {
            Ok(body) => (
                status,
                [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    };
    match result {
        Ok(r) => json(
            StatusCode::OK,
            &Envelope {
                help,
                success: true,
                result: Some(r),
                error: None,
            },
        ),
        Err(e) => {
            let mut resp = json(
                e.status,
                &Envelope {
                    help,
                    success: false,
                    result: None,
                    error: Some(&e.body),
                },
            );
            if let Some(s) = e.retry_after
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

const ACTIONS: &[(&str, &str)] = &[
    (
        "package_list",
        "Return a list of the names of the site's datasets.",
    ),
    (
        "package_search",
        "Search for datasets: q, fq, sort, rows, start, facet.field, facet.limit, facet.mincount.",
    ),
    (
        "package_show",
        "Return the metadata of a dataset and its resources (id: name or id).",
    ),
    (
        "organization_list",
        "Return the organizations (providing departments).",
    ),
    (
        "organization_show",
        "Return an organization (id), with include_datasets.",
    ),
    ("group_list", "Return the groups (themes)."),
    ("group_show", "Return a group (id), with include_datasets."),
    ("tag_list", "Return the tags (query to filter)."),
    ("resource_show", "Return a resource (id)."),
    ("status_show", "Return the site's status and version."),
    ("site_read", "Return true: the site may be read."),
    (
        "datastore_search",
        "Search a datastore resource: resource_id, filters, q, fields, sort, limit, offset, include_total, records_format.",
    ),
    ("help_show", "Return the help text of an action (name)."),
];

async fn action(State(state): State<AppState>, Path(name): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let base = base_url(&parts.headers);
    let address = client_address(&parts.extensions);
    let body = if parts.method == Method::POST {
        match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
            Ok(b) => b,
            Err(_) => {
                return envelope(
                    &base,
                    &name,
                    Err(CkanError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Bad Request",
                        "Bad request - request body too large",
                    )),
                );
            }
        }
    } else {
        Bytes::new()
    };
    let reader = match presented_token(&parts.headers) {
        None => Reader::public(&address),
        Some(t) => match state.engines.open.reader_for_token(&t).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return envelope(
                    &base,
                    &name,
                    Err(CkanError::new(
                        StatusCode::FORBIDDEN,
                        "Authorization Error",
                        "Access denied: 令牌无效或已失效 / the token is not valid",
                    )),
                );
            }
            Err(e) => return envelope(&base, &name, Err(e.into())),
        },
    };
    if let Err(wait) = state.open_limits.check(&reader, &address) {
        let mut e = CkanError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate Limit Error",
            format!("请求过于频繁，请 {wait} 秒后重试 / too many requests: retry after {wait} s"),
        );
        e.retry_after = Some(wait);
        return envelope(&base, &name, Err(e));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let result = match Params::parse(parts.uri.query(), &content_type, &body) {
        Ok(params) if name == "package_search" => {
            package_search(&state, &params, &base).map(Answer::Search)
        }
        Ok(params) => dispatch(&state, &name, &params, &reader, &base)
            .await
            .map(Answer::Value),
        Err(e) => Err(e),
    };
    envelope(&base, &name, result)
}

async fn dispatch(
    state: &AppState,
    name: &str,
    p: &Params,
    reader: &Reader,
    base: &str,
) -> Result<Json, CkanError> {
    let snap = state.engines.open.snapshot();
    match name {
        "site_read" => Ok(json!(true)),
        "status_show" => Ok(json!({
            "site_title": format!("{}公共数据开放平台", state.settings.site_name),
            "site_description": "数纽 · 城市公共数据开放网 / Shuniu open data portal",
            "site_url": base,
            "ckan_version": "2.10.4",
            "error_emails_to": Json::Null,
            "locale_default": "zh_Hans_CN",
            "extensions": ["datastore", "dcat"],
        })),
        "help_show" => {
            let n = p.required("name")?;
            ACTIONS
                .iter()
                .find(|(a, _)| *a == n)
                .map(|(_, h)| json!(h))
                .ok_or_else(|| CkanError::not_found(&format!("action {n}")))
        }
        "package_list" => {
            let offset = p.natural("offset", 0)?;
            let limit = p.natural("limit", usize::MAX)?;
            Ok(json!(
                snap.packages
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|pk| pk.name.clone())
                    .collect::<Vec<_>>()
            ))
        }
        "package_show" => {
            let id = p.required("id")?;
            let pkg = snap
                .package(&id)
                .ok_or_else(|| CkanError::not_found("dataset"))?;
            state
                .engines
                .open
                .count(&pkg.code, shuniu_open::Counter::ApiCall);
            Ok(pkg.to_ckan(base))
        }
        "resource_show" => {
            let id = p.required("id")?;
            let pkg = snap
                .package(&id)
                .ok_or_else(|| CkanError::not_found("resource"))?;
            let full = pkg.to_ckan(base);
            full.get("resources")
                .and_then(|r| r.as_array())
                .and_then(|rs| rs.iter().find(|r| r["id"] == json!(id)).cloned())
                .ok_or_else(|| CkanError::not_found("resource"))
        }
        "organization_list" | "group_list" => {
            let all_fields = p.boolean("all_fields", false)?;
            let offset = p.natural("offset", 0)?;
            let limit = p.natural("limit", 1000)?;
            let only = p.list(if name == "organization_list" {
                "organizations"
            } else {
                "groups"
            })?;
            let items: Vec<Json> = if name == "organization_list" {
                snap.organizations
                    .iter()
                    .filter(|o| only.as_ref().is_none_or(|l| l.contains(&o.name)))
                    .map(|o| {
                        if all_fields {
                            org_json(o, base)
                        } else {
                            json!(o.name)
                        }
                    })
                    .collect()
            } else {
                snap.groups
                    .iter()
                    .filter(|g| only.as_ref().is_none_or(|l| l.contains(&g.name)))
                    .map(|g| {
                        if all_fields {
                            group_json(g, base)
                        } else {
                            json!(g.name)
                        }
                    })
                    .collect()
            };
            Ok(json!(
                items
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .collect::<Vec<_>>()
            ))
        }
        "organization_show" | "group_show" => {
            let id = p.required("id")?;
            let include = p.boolean("include_datasets", false)?;
            let (mut obj, field, value) = if name == "organization_show" {
                let o = snap
                    .organization(&id)
                    .ok_or_else(|| CkanError::not_found("organization"))?;
                (org_json(o, base), "organization", o.name.clone())
            } else {
                let g = snap
                    .group(&id)
                    .ok_or_else(|| CkanError::not_found("group"))?;
                (group_json(g, base), "groups", g.name.clone())
            };
            if include {
                let pkgs: Vec<Json> = snap
                    .packages
                    .iter()
                    .filter(|pk| {
                        if field == "organization" {
                            pk.org_name == value
                        } else {
                            pk.group.0 == value
                        }
                    })
                    .take(1000)
                    .map(|pk| pk.to_ckan(base))
                    .collect();
                obj["packages"] = json!(pkgs);
            }
            Ok(obj)
        }
        "tag_list" => {
            let query = p.string("query")?.unwrap_or_default().to_lowercase();
            let all_fields = p.boolean("all_fields", false)?;
            Ok(json!(
                snap.tags
                    .iter()
                    .filter(|(t, _)| query.is_empty() || t.to_lowercase().contains(&query))
                    .map(|(t, _)| if all_fields {
                        json!({"id": shuniu_open::packages::stable_id("tag", t), "name": t,
                               "display_name": t, "vocabulary_id": Json::Null})
                    } else {
                        json!(t)
                    })
                    .collect::<Vec<_>>()
            ))
        }
        "datastore_search" => datastore_search(state, p, reader).await,
        other => Err(CkanError::new(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            format!("Bad request - Action name not known: {other}"),
        )),
    }
}

fn org_json(o: &shuniu_open::packages::Organization, base: &str) -> Json {
    json!({
        "id": o.id, "name": o.name, "title": o.title, "display_name": o.title,
        "type": "organization", "is_organization": true, "state": "active",
        "approval_status": "approved", "description": "", "image_url": "",
        "image_display_url": "", "package_count": o.package_count,
        "created": Json::Null, "num_followers": 0,
        "url": format!("{base}/open/org/{}", o.name),
    })
}

fn group_json(g: &shuniu_open::packages::Group, base: &str) -> Json {
    json!({
        "id": g.id, "name": g.name, "title": g.title, "display_name": g.title,
        "type": "group", "is_organization": false, "state": "active",
        "approval_status": "approved", "description": "", "image_url": "",
        "image_display_url": "", "package_count": g.package_count,
        "created": Json::Null, "num_followers": 0,
        "url": format!("{base}/open/group/{}", g.name),
    })
}

/// The most rows one package_search page returns (CKAN's `ckan.search.rows_max`).
const ROWS_MAX: usize = 1000;

fn package_search(state: &AppState, p: &Params, base: &str) -> Result<SearchAnswer, CkanError> {
    let mut sp = SearchParams {
        q: p.string("q")?.unwrap_or_default(),
        rows: p.natural("rows", 10)?.min(ROWS_MAX),
        start: p.natural("start", 0)?,
        ..Default::default()
    };
    if let Some(fq) = p.string("fq")? {
        sp.fq.push(fq);
    }
    if let Some(list) = p.list("fq_list")? {
        sp.fq.extend(list);
    }
    if let Some(sort) = p.string("sort")?.filter(|s| !s.trim().is_empty()) {
        sp.sort = sort;
    }
    let facet = p.boolean("facet", true)?;
    if facet {
        sp.facet_fields = p.list("facet.field")?.unwrap_or_default();
    }
    if let Some(limit) = p.string("facet.limit")? {
        sp.facet_limit = match limit.trim().parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => return Err(CkanError::validation("facet.limit", "Invalid integer")),
        };
    }
    sp.facet_mincount = p.natural("facet.mincount", 1)?;
    let snap = state.engines.open.snapshot();
    let out = snap
        .search(&sp, Utc::now())
        .map_err(CkanError::search_query)?;
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for (field, items) in &out.facets {
        facets.insert(
            field.clone(),
            Json::Object(items.iter().map(|(v, c)| (v.clone(), json!(c))).collect()),
        );
        search_facets.insert(
            field.clone(),
            json!({
                "title": field,
                "items": items.iter().map(|(v, c)| json!({
                    "name": v, "display_name": snap.display_name(field, v), "count": c,
                })).collect::<Vec<_>>(),
            }),
        );
    }
    let results = out
        .results
        .iter()
        .map(|pk| pk.to_ckan_text(base))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CkanError::internal)?;
    Ok(SearchAnswer {
        count: out.count,
        sort: out.sort,
        facets,
        search_facets,
        results,
    })
}

/// package_search's result, with each package dict as the JSON text its package keeps.
#[derive(Serialize)]
struct SearchAnswer {
    count: usize,
    sort: String,
    facets: Map<String, Json>,
    search_facets: Map<String, Json>,
    results: Vec<Box<RawValue>>,
}

/// The most records one datastore_search returns (CKAN's `ckan.datastore.search.rows_max`).
const DATASTORE_ROWS_MAX: usize = 32_000;

async fn datastore_search(
    state: &AppState,
    p: &Params,
    reader: &Reader,
) -> Result<Json, CkanError> {
    let resource_id = match p.string("resource_id")? {
        Some(r) if !r.trim().is_empty() => r,
        _ => p
            .string("id")?
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| CkanError::validation("resource_id", "Missing value"))?,
    };
    let limit = p.natural("limit", 100)?.min(DATASTORE_ROWS_MAX);
    let offset = p.natural("offset", 0)?;
    let include_total = p.boolean("include_total", true)?;
    let records_format = p
        .string("records_format")?
        .unwrap_or_else(|| "objects".into());
    if !["objects", "lists", "csv", "tsv"].contains(&records_format.as_str()) {
        return Err(CkanError::validation(
            "records_format",
            "Value must be one of ['objects', 'lists', 'csv', 'tsv']",
        ));
    }
    if p.boolean("distinct", false)? {
        return Err(CkanError::validation(
            "distinct",
            "distinct is not supported by this datastore",
        ));
    }
    let snap = state.engines.open.snapshot();
    let pkg = snap
        .package(&resource_id)
        .cloned()
        .ok_or_else(|| CkanError::not_found("Resource"))?;
    let column_names: Vec<String> = pkg.columns.iter().map(|c| c.name.clone()).collect();
    let known = |f: &str, field: &str| -> Result<(), CkanError> {
        if f == "_id" || column_names.iter().any(|c| c == f) {
            Ok(())
        } else {
            Err(CkanError::validation(
                field,
                format!("field \"{f}\" not in resource"),
            ))
        }
    };
    let mut query = DatastoreQuery {
        limit,
        offset,
        include_total,
        ..Default::default()
    };
    if let Some(filters) = p.dict("filters")? {
        for (k, v) in filters {
            known(&k, "filters")?;
            let values = match v {
                Json::Array(a) => a.iter().map(json_text).collect(),
                other => vec![json_text(&other)],
            };
            if k == "_id" {
                return Err(CkanError::validation(
                    "filters",
                    "filtering on _id is not supported",
                ));
            }
            query.filters.push((k, values));
        }
    }
    match p.0.get("q") {
        None | Some(Json::Null) => {}
        Some(Json::Object(o)) => {
            for (k, v) in o {
                known(k, "q")?;
                query.q_fields.push((k.clone(), json_text(v)));
            }
        }
        Some(_) => {
            let q = p.string("q")?.unwrap_or_default();
            if q.trim_start().starts_with('{') {
                for (k, v) in p.dict("q")?.unwrap_or_default() {
                    known(&k, "q")?;
                    query.q_fields.push((k, json_text(&v)));
                }
            } else if !q.trim().is_empty() {
                query.q = Some(q);
            }
        }
    }
    let fields: Vec<String> = match p.list("fields")? {
        Some(list) if !list.is_empty() => {
            for f in &list {
                known(f, "fields")?;
            }
            list
        }
        _ => std::iter::once("_id".to_string())
            .chain(column_names.iter().cloned())
            .collect(),
    };
    let sort_text = p.string("sort")?.unwrap_or_default();
    let sort_keys: Vec<(String, bool)> = sort_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut w = s.split_whitespace();
            let f = w.next().unwrap_or_default().trim_matches('"').to_string();
            let desc = match w.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => {
                    return Err(CkanError::validation(
                        "sort",
                        format!("invalid sort \"{s}\""),
                    ));
                }
            };
            known(&f, "sort")?;
            Ok((f, desc))
        })
        .collect::<Result<_, _>>()?;
    match sort_keys.as_slice() {
        [] => {}
        [(f, false)] if f == "_id" => {}
        [(f, desc)] if f != "_id" => query.sort = Some((f.clone(), *desc)),
        [(f, desc), (id, false)] if f != "_id" && id == "_id" => {
            query.sort = Some((f.clone(), *desc))
        }
        _ => {
            return Err(CkanError::validation(
                "sort",
                "this datastore sorts by one field (optionally followed by \"_id\")",
            ));
        }
    }
    let (pkg, answer) = state
        .engines
        .open
        .datastore_search(reader, &pkg.code, query)
        .await?;
    let index_of = |f: &str| pkg.columns.iter().position(|c| c.name == f);
    let field_meta: Vec<Json> = fields
        .iter()
        .map(|f| match pkg.columns.iter().find(|c| &c.name == f) {
            Some(c) => json!({"id": c.name, "type": c.ckan_type,
                "info": {"label": c.label, "notes": c.description}}),
            None => json!({"id": "_id", "type": "int"}),
        })
        .collect();
    let value_of = |id: u64, row: &[Option<String>], f: &str, typed: bool| -> Json {
        if f == "_id" {
            return json!(id);
        }
        let Some(i) = index_of(f) else {
            return Json::Null;
        };
        match row.get(i).cloned().flatten() {
            None => Json::Null,
            Some(v) if typed => match pkg.columns[i].ckan_type {
                "int" => v.parse::<i64>().map(Json::from).unwrap_or(Json::String(v)),
                "numeric" => v
                    .parse::<f64>()
                    .ok()
                    .and_then(|x| serde_json::Number::from_f64(x).map(Json::Number))
                    .unwrap_or(Json::String(v)),
                _ => Json::String(v),
            },
            Some(v) => Json::String(v),
        }
    };
    let records: Json = match records_format.as_str() {
        "objects" => Json::Array(
            answer
                .rows
                .iter()
                .map(|(id, row)| {
                    Json::Object(
                        fields
                            .iter()
                            .map(|f| (f.clone(), value_of(*id, row, f, true)))
                            .collect(),
                    )
                })
                .collect(),
        ),
        "lists" => Json::Array(
            answer
                .rows
                .iter()
                .map(|(id, row)| {
                    Json::Array(fields.iter().map(|f| value_of(*id, row, f, true)).collect())
                })
                .collect(),
        ),
        fmt => {
            let delim = if fmt == "tsv" { b'\t' } else { b',' };
            let mut w = csv::WriterBuilder::new()
                .delimiter(delim)
                .from_writer(Vec::new());
            for (id, row) in &answer.rows {
                let cells: Vec<String> = fields
                    .iter()
                    .map(|f| match value_of(*id, row, f, false) {
                        Json::String(s) => s,
                        Json::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect();
                let _ = w.write_record(&cells);
            }
            Json::String(String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default())
        }
    };
    let link = |off: usize| {
        format!(
            "/api/3/action/datastore_search?resource_id={}&offset={off}&limit={limit}",
            pkg.resource_id("csv")
        )
    };
    let mut result = json!({
        "include_total": include_total,
        "resource_id": resource_id,
        "fields": field_meta,
        "records_format": records_format,
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": {"start": link(0), "next": link(offset + limit)},
    });
    if let Some(t) = answer.total {
        result["total"] = json!(t);
        result["total_was_estimated"] = json!(false);
    }
    if !sort_text.trim().is_empty() {
        result["sort"] = json!(sort_text);
    }
    Ok(result)
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of open-data failure keeps its CKAN type and status: a state conflict is a
    /// validation error (409), never an internal one; a missing dataset a Not Found Error.
    #[test]
    fn open_errors_keep_their_kind_in_the_envelope() {
        let e: CkanError = OpenError::state("该申请已处理", "already decided").into();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.body["__type"], "Validation Error");
        assert_eq!(e.body["code"], "OPEN_STATE");
        let e: CkanError = OpenError::NotFound("open dataset x".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.body["message"], "Not found: open dataset x");
        let e: CkanError = OpenError::UnknownField("age".into()).into();
        assert_eq!(e.body["fields"][0], "field \"age\" not in resource");
        assert!(e.body.get("code").is_none());
        let e: CkanError = OpenError::Index("disk full at /srv".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body["message"].to_string().contains("/srv"));
    }
}
