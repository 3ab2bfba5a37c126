//! The event centre in the console (一网统管): the dispatcher's queue and each department's
//! inbox with deadlines, an event's page (timeline, place on the map, photos, the actions
//! this user may take), the report form an inspector uses on a phone, the statistics for
//! the city's assessment with the map of districts, and intake (cameras and sensors, the
//! hotline's batch import, Open311 keys).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate, Utc};
use minijinja::context;
use shuniu_events::model::DISTRICTS;
use shuniu_events::{
    ActInput, Channel, DeviceInput, EventAction, EventError, Events, Photo, Point, Report, Urgency,
};
use shuniu_policy::{Action, Target, decide, may_somewhere};
use shuniu_store::EventFilter;
use shuniu_types::{Classified, ErrorKind};

use super::{ConsoleUser, page, urlencode};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::{CheckedForm, CheckedMultipart, ser};

/// Photos and an export travel in one form.
const FORM_MAX_BYTES: usize = 40 * 1024 * 1024;
const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(events_page))
        .route("/events/new", get(new_page).post(new_submit))
        .route("/events/statistics", get(statistics_page))
        .route("/events/intake", get(intake_page))
        .route("/events/import", post(import_submit))
        .route("/events/devices", post(device_submit))
        .route("/events/open311-keys", post(open311_key_submit))
        .route("/events/{id}", get(event_page).post(event_action))
        .route("/events/{id}/media/{digest}", get(media))
        .layer(DefaultBodyLimit::max(FORM_MAX_BYTES))
}

/// The districts' names by GB/T 2260 code.
fn district_names() -> BTreeMap<&'static str, &'static str> {
    DISTRICTS.iter().map(|d| (d.0, d.1)).collect()
}

fn is_hub(user: &ConsoleUser) -> bool {
    decide(&user.actor, Action::ManageEvents, Target::Hub).is_ok()
}

fn message(user: &ConsoleUser, e: &EventError) -> String {
    let p = e.problem();
    user.lang.pick(p.message_zh, p.message_en)
}

#[derive(serde::Deserialize, Default)]
struct EventsQuery {
    tab: Option<String>,
    state: Option<String>,
    district: Option<String>,
    category: Option<String>,
    page: Option<i64>,
    reported: Option<String>,
}

/// A row of a list, as the templates use it.
fn row(
    e: &shuniu_store::EventRow,
    cats: &BTreeMap<String, String>,
    now: &str,
) -> serde_json::Value {
    let open = !matches!(e.state.as_str(), "closed" | "merged");
    serde_json::json!({
        "id": e.id, "category": e.category,
        "category_name": cats.get(&e.category).cloned().unwrap_or_else(|| e.category.clone()),
        "district": e.district, "street": e.street, "address": e.address,
        "description": e.description, "state": e.state, "urgency": e.urgency,
        "channel": e.channel, "department": e.department, "reported_at": e.reported_at,
        "due_at": e.due_at, "escalation": e.escalation, "parent_id": e.parent_id,
        "overdue": open && e.due_at.as_deref().is_some_and(|d| d < now),
    })
}

/// The dispatcher's queue (待分拨) and the open work of the city, or a department's inbox.
async fn events_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<EventsQuery>,
) -> Response {
    let engine = &state.engines.events;
    let hub = is_hub(&user);
    if !hub && !may_somewhere(&user.actor, Action::HandleEvents) {
        let own = Target::SharingOf {
            department: &user.actor.department,
        };
        if let Err(d) = decide(&user.actor, Action::HandleEvents, own) {
            return user.fail(EventError::Denied(d));
        }
    }
    let tabs: &[&str] = if hub {
        &["queue", "open", "overdue", "all"]
    } else {
        &["inbox", "check", "overdue", "all"]
    };
    let tab = q
        .tab
        .as_deref()
        .filter(|t| tabs.contains(t))
        .unwrap_or(tabs[0]);
    let now = Utc::now().to_rfc3339();
    let mut filter = EventFilter {
        district: q.district.clone().filter(|d| !d.is_empty()),
        categories: q
            .category
            .clone()
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
        limit: PER_PAGE + 1,
        offset: (q.page.unwrap_or(1).max(1) - 1) * PER_PAGE,
        ..Default::default()
    };
    match tab {
        "queue" => filter.states = vec!["reported".into()],
        "open" => {
            filter.states = vec!["dispatched".into(), "handling".into(), "handled".into()];
        }
        "inbox" => filter.states = vec!["dispatched".into(), "handling".into()],
        "check" => filter.states = vec!["handled".into()],
        "overdue" => filter.due_before = Some(now.clone()),
        _ => {
            if let Some(s) = q.state.clone().filter(|s| !s.is_empty()) {
                filter.states = vec![s];
            }
        }
    }
    let rows = tried!(user, engine.list(&user.actor, &filter).await);
    let counts = tried!(user, engine.open_counts(&user.actor).await);
    let cats = tried!(user, engine.categories().await);
    let names: BTreeMap<String, String> = cats
        .iter()
        .map(|c| (c.code.clone(), c.name.clone()))
        .collect();
    let more = rows.len() as i64 > PER_PAGE;
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .take(PER_PAGE as usize)
        .map(|e| row(e, &names, &now))
        .collect();
    let count = |s: &str| counts.iter().filter(|c| c.0 == s).map(|c| c.1).sum::<i64>();
    let overdue: i64 = counts.iter().map(|c| c.2).sum();
    let page_no = q.page.unwrap_or(1).max(1);
    let link = |p: i64| {
        let mut l = format!("/events?tab={tab}&page={p}");
        for (k, v) in [
            ("district", &q.district),
            ("category", &q.category),
            ("state", &q.state),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                l.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        l
    };
    let leaves: Vec<serde_json::Value> = shuniu_events::engine::leaves(&cats)
        .iter()
        .map(|c| serde_json::json!({"code": c.code, "name": c.name}))
        .collect();
    page(
        &state,
        &user,
        "events.html",
        context! {
            hub => hub,
            tab => tab,
            tabs => tabs.to_vec(),
            events => ser(&rows),
            waiting => count("reported"),
            dispatched => count("dispatched"),
            handling => count("handling"),
            handled => count("handled"),
            overdue => overdue,
            districts => ser(district_names()),
            categories => ser(&leaves),
            district => q.district.clone().unwrap_or_default(),
            category => q.category.clone().unwrap_or_default(),
            state_filter => q.state.clone().unwrap_or_default(),
            states => ser(super::options::<shuniu_types::event::EventState>(user.lang)),
            prev_href => (page_no > 1).then(|| link(page_no - 1)),
            next_href => more.then(|| link(page_no + 1)),
            page_no => page_no,
            reported => q.reported.clone(),
        },
    )
}

/// The report form: what a grid inspector fills in on a phone (photos, the phone's position),
/// and what the command centre uses for a call taken by hand.
async fn new_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_new(&state, &user, None, BTreeMap::new()).await
}

async fn render_new(
    state: &AppState,
    user: &ConsoleUser,
    error: Option<String>,
    form: BTreeMap<String, String>,
) -> Response {
    let cats = tried!(user, state.engines.events.categories().await);
    let parents: BTreeMap<String, String> = cats
        .iter()
        .map(|c| (c.code.clone(), c.name.clone()))
        .collect();
    let leaves: Vec<serde_json::Value> = shuniu_events::engine::leaves(&cats)
        .iter()
        .map(|c| {
            serde_json::json!({
                "code": c.code, "name": c.name,
                "group": c.parent.as_ref().and_then(|p| parents.get(p)).cloned().unwrap_or_default(),
            })
        })
        .collect();
    page(
        state,
        user,
        "event_new.html",
        context! {
            categories => ser(&leaves),
            error => error,
            form => ser(&form),
            hub => is_hub(user),
        },
    )
}

/// Reads a multipart form: its text fields and the photos among its files.
async fn read_form(
    user: &ConsoleUser,
    mut multipart: axum::extract::Multipart,
) -> Result<(BTreeMap<String, String>, Vec<Photo>, Vec<u8>), Response> {
    let mut fields = BTreeMap::new();
    let mut photos = Vec::new();
    let mut file = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let has_file = field.file_name().is_some_and(|f| !f.is_empty());
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        return Err(user.refuse(
                            ErrorKind::BadRequest,
                            "FORM_UNREADABLE",
                            format!("表单无法读取：{e}"),
                            format!("the form cannot be read: {e}"),
                        ));
                    }
                };
                match name.as_str() {
                    "photo" if has_file && !bytes.is_empty() => {
                        if photos.len() >= shuniu_events::intake::MAX_PHOTOS {
                            return Err(user.fail(EventError::invalid(
                                "EVENT_PHOTO_COUNT",
                                "每次至多 6 张照片",
                                "at most 6 photos at a time",
                            )));
                        }
                        match Photo::check(bytes.to_vec()) {
                            Ok(p) => photos.push(p),
                            Err(e) => return Err(user.fail(e)),
                        }
                    }
                    "file" if has_file => file = bytes.to_vec(),
                    "photo" | "file" => {}
                    _ => {
                        fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(user.refuse(
                    ErrorKind::BadRequest,
                    "FORM_UNREADABLE",
                    format!("表单无法读取：{e}"),
                    format!("the form cannot be read: {e}"),
                ));
            }
        }
    }
    Ok((fields, photos, file))
}

fn field<'a>(form: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

async fn new_submit(
    State(state): State<AppState>,
    CheckedMultipart(user, multipart): CheckedMultipart<ConsoleUser>,
) -> Response {
    let (form, photos, _) = match read_form(&user, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let point = match (
        field(&form, "lat").map(str::parse::<f64>),
        field(&form, "lon").map(str::parse::<f64>),
    ) {
        (Some(Ok(lat)), Some(Ok(lon))) => Some(Point { lat, lon }),
        (None, None) => None,
        _ => {
            let msg = user
                .lang
                .pick("经纬度须为数字", "latitude and longitude are numbers");
            return render_new(&state, &user, Some(msg.into()), form).await;
        }
    };
    let channel = field(&form, "channel")
        .and_then(Channel::parse_term)
        .unwrap_or(Channel::Grid);
    let report = Report {
        channel: Some(channel),
        category: field(&form, "category").map(str::to_string),
        description: field(&form, "description").unwrap_or_default().to_string(),
        address: field(&form, "address").map(str::to_string),
        point,
        urgency: field(&form, "urgency").and_then(Urgency::parse_term),
        reporter_name: field(&form, "reporter_name")
            .map(str::to_string)
            .or_else(|| Some(user.actor.display_name.clone())),
        reporter_phone: field(&form, "reporter_phone").map(str::to_string),
        photos,
        ..Default::default()
    };
    let engine = &state.engines.events;
    match engine.report(&user.actor, report).await {
        Ok(e) => match engine.view(&user.actor, &e.id).await {
            Ok(_) => Redirect::to(&format!("/events/{}", urlencode(&e.id))).into_response(),
            // An inspector of a street office does not see what it sends to others.
            Err(_) => {
                Redirect::to(&format!("/events?reported={}", urlencode(&e.id))).into_response()
            }
        },
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
            let msg = message(&user, &e);
            render_new(&state, &user, Some(msg), form).await
        }
        Err(e) => user.fail(e),
    }
}

/// A photo reference as the page links it.
fn photo_href(id: &str, p: &str) -> serde_json::Value {
    match p.strip_prefix("media:") {
        Some(d) => {
            serde_json::json!({"src": format!("/events/{}/media/{d}", urlencode(id)), "local": true})
        }
        None => serde_json::json!({"src": p, "local": false}),
    }
}

/// The map's specification (see `static/charts.js`, kind `points`): each district at its
/// centre, sized by `value`, and an optional marker.
fn map_spec(
    values: &BTreeMap<String, (f64, Option<f64>)>,
    marker: Option<(f64, f64, String)>,
    unit: &str,
) -> serde_json::Value {
    serde_json::json!({
        "type": "points",
        "unit": unit,
        "districts": DISTRICTS.iter().map(|(code, name, lat, lon)| {
            let (v, rate) = values.get(*code).cloned().unwrap_or((0.0, None));
            serde_json::json!({"code": code, "name": name, "lat": lat, "lon": lon, "value": v, "rate": rate})
        }).collect::<Vec<_>>(),
        "marker": marker.map(|(lat, lon, label)| serde_json::json!({"lat": lat, "lon": lon, "label": label})),
    })
}

async fn event_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    render_event(&state, &user, &id, None).await
}

async fn render_event(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<String>,
) -> Response {
    let engine = &state.engines.events;
    let view = tried!(user, engine.view(&user.actor, id).await);
    let row = tried!(user, engine.by_id(id).await);
    let Some(row) = row else {
        return user.fail(EventError::NotFound(format!("event {id}")));
    };
    let allowed: Vec<&str> = Events::allowed_actions(&user.actor, &row)
        .iter()
        .map(|a| a.code())
        .collect();
    let steps: Vec<serde_json::Value> = view
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "seq": s.seq, "at": s.at, "actor": s.actor, "department": s.department,
                "action": s.action, "to_state": s.to_state, "note": s.note,
                "photos": s.photos.iter().map(|p| photo_href(&row.id, p)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let cats = tried!(user, engine.categories().await);
    let leaves: Vec<serde_json::Value> = shuniu_events::engine::leaves(&cats)
        .iter()
        .map(|c| serde_json::json!({"code": c.code, "name": c.name}))
        .collect();
    let departments: Vec<serde_json::Value> = if allowed
        .iter()
        .any(|a| matches!(*a, "dispatch" | "transfer"))
    {
        tried!(user, state.engines.accounts.departments().await)
            .iter()
            .map(|d| serde_json::json!({"code": d.code, "name": d.name}))
            .collect()
    } else {
        Vec::new()
    };
    // The merged reports under this one, and the one this is merged into.
    let children = tried!(
        user,
        engine
            .list(
                &user.actor,
                &EventFilter {
                    states: vec!["merged".into()],
                    district: Some(row.district.clone()),
                    categories: vec![row.category.clone()],
                    limit: 500,
                    ..Default::default()
                },
            )
            .await
    );
    let children: Vec<String> = children
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(row.id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    let marker = match (row.lat, row.lon) {
        (Some(lat), Some(lon)) => Some((lat, lon, row.id.clone())),
        _ => None,
    };
    page(
        state,
        user,
        "event.html",
        context! {
            e => ser(&view.event),
            steps => ser(&steps),
            allowed => allowed,
            categories => ser(&leaves),
            departments => ser(&departments),
            district_name => district_names().get(row.district.as_str()).copied().unwrap_or_default(),
            street => row.street.clone(),
            children => children,
            map => ser(map_spec(&BTreeMap::new(), marker, "")),
            error => error,
            hub => is_hub(user),
        },
    )
}

async fn event_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedMultipart(user, multipart): CheckedMultipart<ConsoleUser>,
) -> Response {
    let (form, photos, _) = match read_form(&user, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(action) = field(&form, "action").and_then(EventAction::parse_term) else {
        let msg = user.lang.pick("请选择操作", "choose an action");
        return render_event(&state, &user, &id, Some(msg.into())).await;
    };
    let input = ActInput {
        note: field(&form, "note").unwrap_or_default().to_string(),
        department: field(&form, "department").map(str::to_string),
        assisting: field(&form, "assisting")
            .map(|a| {
                a.split([',', '，', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        category: field(&form, "category").map(str::to_string),
        satisfaction: field(&form, "satisfaction").and_then(|s| s.parse().ok()),
        uploads: photos,
        ..Default::default()
    };
    match state
        .engines
        .events
        .act(&user.actor, &id, action, &input)
        .await
    {
        Ok(_) => match state.engines.events.view(&user.actor, &id).await {
            Ok(_) => Redirect::to(&format!("/events/{}", urlencode(&id))).into_response(),
            // Returned or transferred away: no longer this department's to see.
            Err(_) => Redirect::to("/events").into_response(),
        },
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
            let msg = message(&user, &e);
            render_event(&state, &user, &id, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn media(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((id, digest)): Path<(String, String)>,
) -> Response {
    match state.engines.events.media(&user.actor, &id, &digest).await {
        Ok(m) => crate::api::events::media_response(m),
        Err(e) => user.fail(e),
    }
}

#[derive(serde::Deserialize, Default)]
struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The assessment figures (考核): closure on time, satisfaction, escalations, repeats and
/// hot spots, per department and district, with the map.
async fn statistics_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<StatsQuery>,
) -> Response {
    let day = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
    };
    let today = Utc::now().date_naive();
    let to = day(&q.to).unwrap_or(today);
    let from = day(&q.from).unwrap_or(to - Duration::days(30));
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let (Some(f), Some(t)) = (start(from), start(to + Duration::days(1))) else {
        return user.fail(EventError::invalid(
            "EVENT_PERIOD",
            "日期无效",
            "invalid dates",
        ));
    };
    let stats = tried!(
        user,
        state.engines.events.statistics(&user.actor, f, t).await
    );
    let cats = tried!(user, state.engines.events.categories().await);
    let cat_names: BTreeMap<String, String> = cats
        .iter()
        .map(|c| (c.code.clone(), c.name.clone()))
        .collect();
    let names = district_names();
    let values: BTreeMap<String, (f64, Option<f64>)> = stats
        .by_district
        .iter()
        .map(|d| (d.key.clone(), (d.events as f64, d.on_time_rate)))
        .collect();
    let ranked: Vec<&shuniu_events::engine::Tally> = stats
        .by_department
        .iter()
        .filter(|d| !d.key.is_empty())
        .collect();
    let rate_chart = serde_json::json!({
        "type": "hbars", "min": 0, "max": 100,
        "labels": ranked.iter().map(|d| state.names.department(&d.key).unwrap_or_else(|| d.key.clone())).collect::<Vec<_>>(),
        "values": ranked.iter().map(|d| d.on_time_rate.map(|r| (r * 1000.0).round() / 10.0)).collect::<Vec<_>>(),
    });
    let hot: Vec<serde_json::Value> = stats
        .hot_spots
        .iter()
        .map(|h| {
            serde_json::json!({
                "district": names.get(h.district.as_str()).copied().unwrap_or(h.district.as_str()),
                "street": h.street, "category": cat_names.get(&h.category).cloned().unwrap_or_else(|| h.category.clone()),
                "events": h.events,
            })
        })
        .collect();
    page(
        &state,
        &user,
        "events_stats.html",
        context! {
            s => ser(&stats),
            hot => ser(&hot),
            from => from.to_string(),
            to => to.to_string(),
            districts => ser(&names),
            map => ser(map_spec(&values, None, user.lang.pick("件", "events"))),
            rate_chart => ser(if ranked.is_empty() { serde_json::Value::Null } else { rate_chart }),
        },
    )
}

/// Intake: the registered cameras and sensors, the hotline's import, Open311 keys.
async fn intake_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_intake(&state, &user, context! {}).await
}

async fn render_intake(state: &AppState, user: &ConsoleUser, extra: minijinja::Value) -> Response {
    let devices = tried!(user, state.engines.events.devices(&user.actor).await);
    let cats = tried!(user, state.engines.events.categories().await);
    let leaves: Vec<serde_json::Value> = shuniu_events::engine::leaves(&cats)
        .iter()
        .map(|c| serde_json::json!({"code": c.code, "name": c.name}))
        .collect();
    let departments: Vec<serde_json::Value> =
        tried!(user, state.engines.accounts.departments().await)
            .iter()
            .map(|d| serde_json::json!({"code": d.code, "name": d.name}))
            .collect();
    page(
        state,
        user,
        "events_intake.html",
        context! {
            devices => ser(&devices),
            category_names => ser(cats.iter().map(|c| (c.code.clone(), c.name.clone())).collect::<BTreeMap<_, _>>()),
            categories => ser(&leaves),
            departments => ser(&departments),
            districts => ser(district_names()),
            ..extra
        },
    )
}

async fn import_submit(
    State(state): State<AppState>,
    CheckedMultipart(user, multipart): CheckedMultipart<ConsoleUser>,
) -> Response {
    let (_, _, file) = match read_form(&user, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if file.is_empty() {
        return render_intake(
            &state,
            &user,
            context! { import_error => user.lang.pick("没有选择文件", "no file was chosen") },
        )
        .await;
    }
    match crate::api::events::import_file(&state, &user.actor, &file).await {
        Ok(report) => render_intake(&state, &user, context! { imported => ser(&report) }).await,
        Err(e) if e.status.as_u16() == 422 => {
            let rows: Vec<serde_json::Value> = e
                .fields
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "line": f.field, "code": f.code,
                        "message": user.lang.pick(&f.message_zh, &f.message_en),
                    })
                })
                .collect();
            render_intake(
                &state,
                &user,
                context! {
                    import_error => user.lang.pick(e.message_zh.clone(), e.message_en.clone()),
                    import_rows => ser(&rows),
                },
            )
            .await
        }
        Err(e) => user.api_failure(&e),
    }
}

async fn device_submit(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let text = |k: &str| filled(&form, k).unwrap_or_default().trim().to_string();
    let num = |k: &str| text(k).parse::<f64>().unwrap_or(f64::NAN);
    let input = DeviceInput {
        id: text("id"),
        name: text("name"),
        kind: text("kind"),
        lat: num("lat"),
        lon: num("lon"),
        address: text("address"),
        department: text("department"),
        category: text("category"),
    };
    match state
        .engines
        .events
        .register_device(&user.actor, &input)
        .await
    {
        Ok(d) => render_intake(&state, &user, context! { new_device => ser(&d) }).await,
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
            let msg = message(&user, &e);
            render_intake(&state, &user, context! { device_error => msg }).await
        }
        Err(e) => user.fail(e),
    }
}

async fn open311_key_submit(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let name = filled(&form, "name").unwrap_or_default().trim().to_string();
    if name.is_empty() {
        let msg = user.lang.pick("请填写应用名称", "name the application");
        return render_intake(&state, &user, context! { key_error => msg }).await;
    }
    match state
        .engines
        .events
        .issue_open311_key(&user.actor, &name)
        .await
    {
        Ok(key) => {
            render_intake(&state, &user, context! { new_key => key, key_name => name }).await
        }
        Err(e) => user.fail(e),
    }
}
