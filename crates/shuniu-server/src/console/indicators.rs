//! Indicators in the console (城市大脑): the catalog of indicators with their latest values and
//! alerts, an indicator's page (definition, history, breakdown by district, runs with the
//! dataset versions read, alerts, versions and the review), its export to CSV and Excel, and
//! the city screen (一屏统揽) that refreshes itself as values and events arrive.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use shuniu_events::model::DISTRICTS;
use shuniu_indicators::{IndicatorError, IndicatorSummary, Range, SeriesPoint, SeriesQuery};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{AlertFilter, EventFilter};

use super::{ConsoleUser, page, urlencode};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::listing::{column, csv_download};
use crate::web::{CheckedForm, ListQuery, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/indicators", get(list_page))
        .route(
            "/indicators/{code}",
            get(indicator_page).post(indicator_action),
        )
        .route("/indicators/{code}/export", get(export))
        .route("/dashboard", get(dashboard_page))
        .route("/dashboard/data", get(dashboard_data))
        .route("/dashboard/stream", get(dashboard_stream))
}

fn district_name(code: &str) -> Option<&'static str> {
    DISTRICTS.iter().find(|d| d.0 == code).map(|d| d.1)
}

/// A value as pages show it: thousands separated, at most two decimals.
pub(super) fn shown(v: Option<f64>) -> String {
    let Some(v) = v else { return "—".into() };
    let rounded = (v * 100.0).round() / 100.0;
    let whole = rounded.trunc().abs() as u64;
    let mut digits = whole.to_string();
    let mut i = digits.len() as isize - 3;
    while i > 0 {
        digits.insert(i as usize, ',');
        i -= 3;
    }
    let frac = (rounded.fract().abs() * 100.0).round() as u64;
    let sign = if rounded < 0.0 { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{digits}")
    } else {
        format!("{sign}{digits}.{frac:02}")
            .trim_end_matches('0')
            .to_string()
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{:+.1}%", v * 100.0))
}

/// The catalog of indicators.
async fn list_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let all = tried!(user, state.engines.indicators.list(&user.actor).await);
    let dept = |c: &str| state.names.department(c).unwrap_or_default();
    let total_alerts: i64 = all.iter().map(|i| i.open_alerts).sum();
    let published = all.iter().filter(|i| i.version > 0).count();
    let department = q.filter("department").map(str::to_string);
    let alerts_only = q.filter("alerts").is_some();
    let mut departments: Vec<(String, String)> = all
        .iter()
        .map(|i| (i.department.clone(), dept(&i.department)))
        .collect();
    departments.sort();
    departments.dedup();
    let rows: Vec<IndicatorSummary> = all
        .into_iter()
        // A filter the user chose (a select), not an access decision: `list` decided that.
        .filter(|i| {
            department
                .as_deref()
                .is_none_or(|d| d.eq(i.department.as_str()))
        })
        .filter(|i| !alerts_only || i.open_alerts > 0)
        .filter(|i| q.matches(&[&i.code, &i.name, &i.department, &dept(&i.department)]))
        .collect();
    if q.wants_csv() {
        let cols = [
            column("code", |i: &IndicatorSummary| i.code.clone()),
            column("name", |i: &IndicatorSummary| i.name.clone()),
            column("department", |i: &IndicatorSummary| i.department.clone()),
            column("grain", |i: &IndicatorSummary| i.grain.clone()),
            column("period", |i: &IndicatorSummary| {
                i.period.clone().unwrap_or_default()
            }),
            column("value", |i: &IndicatorSummary| {
                i.value.map(|v| v.to_string()).unwrap_or_default()
            }),
            column("unit", |i: &IndicatorSummary| i.unit.clone()),
            column("open_alerts", |i: &IndicatorSummary| {
                i.open_alerts.to_string()
            }),
        ];
        return csv_download("indicators.csv", &cols, &rows);
    }
    let (rows, listing) = q.page_of(rows, "/indicators");
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|i| {
            serde_json::json!({
                "code": i.code, "name": i.name, "department": i.department, "grain": i.grain,
                "period": i.period, "value": shown(i.value), "unit": i.unit,
                "open_alerts": i.open_alerts, "published": i.version > 0,
            })
        })
        .collect();
    page(
        &state,
        &user,
        "indicators.html",
        context! {
            rows => ser(&rows), l => ser(&listing), departments => ser(&departments),
            department => department, alerts_only => alerts_only,
            total => listing.total, published => published, total_alerts => total_alerts,
        },
    )
}

/// The chart of a city series (a line), and of the latest period by district (bars).
fn charts(series: &[SeriesPoint], unit: &str) -> (serde_json::Value, serde_json::Value) {
    let city: Vec<&SeriesPoint> = series
        .iter()
        .filter(|p| p.district.is_empty() && p.street.is_empty())
        .collect();
    let line = if city.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!({
            "type": "line", "unit": unit,
            "labels": city.iter().map(|p| p.period.clone()).collect::<Vec<_>>(),
            "values": city.iter().map(|p| p.value).collect::<Vec<_>>(),
        })
    };
    let latest = series
        .iter()
        .filter(|p| !p.district.is_empty() && p.street.is_empty())
        .map(|p| p.period.clone())
        .max();
    let bars = match latest {
        None => serde_json::Value::Null,
        Some(latest) => {
            let mut ds: Vec<&SeriesPoint> = series
                .iter()
                .filter(|p| p.period == latest && !p.district.is_empty() && p.street.is_empty())
                .collect();
            ds.sort_by(|a, b| b.value.unwrap_or(0.0).total_cmp(&a.value.unwrap_or(0.0)));
            serde_json::json!({
                "type": "hbars",
                "labels": ds.iter().map(|p| district_name(&p.district).map(str::to_string).unwrap_or_else(|| p.district.clone())).collect::<Vec<_>>(),
                "values": ds.iter().map(|p| p.value).collect::<Vec<_>>(),
            })
        }
    };
    (line, bars)
}

async fn indicator_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    render(&state, &user, &code, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    notice: Option<String>,
) -> Response {
    let ind = &state.engines.indicators;
    let detail = tried!(user, ind.get(&user.actor, code).await);
    let series = tried!(
        user,
        ind.values(&user.actor, code, &SeriesQuery::default()).await
    );
    let (line, bars) = charts(&series, &detail.summary.unit);
    let city: Vec<serde_json::Value> = series
        .iter()
        .rev()
        .filter(|p| p.district.is_empty() && p.street.is_empty())
        .take(36)
        .map(|p| serde_json::json!({"period": p.period, "value": shown(p.value), "mom": pct(p.mom), "yoy": pct(p.yoy)}))
        .collect();
    let latest_period = series.iter().map(|p| p.period.clone()).max();
    let by_district: Vec<serde_json::Value> = series
        .iter()
        .filter(|p| Some(&p.period) == latest_period.as_ref() && !p.district.is_empty())
        .map(|p| {
            serde_json::json!({
                "district": p.district, "name": district_name(&p.district), "street": p.street,
                "value": shown(p.value), "mom": pct(p.mom), "yoy": pct(p.yoy),
            })
        })
        .collect();
    let owner = Target::SharingOf {
        department: &detail.summary.department,
    };
    let may_define = decide(&user.actor, Action::DefineIndicators, owner).is_ok();
    let may_review = decide(&user.actor, Action::ReviewIndicators, Target::Hub).is_ok();
    let pending = detail
        .versions
        .first()
        .map(|v| v.state.clone())
        .unwrap_or_default();
    page(
        state,
        user,
        "indicator.html",
        context! {
            i => ser(&detail),
            value => shown(detail.summary.value),
            line => ser(&line), bars => ser(&bars),
            city => ser(&city), by_district => ser(&by_district),
            may_compute => may_define && detail.summary.version > 0,
            may_submit => may_define && (pending == "draft" || pending == "returned"),
            may_review => may_review && pending == "submitted",
            notice => notice,
        },
    )
}

/// Compute now, submit the draft, publish or return it.
async fn indicator_action(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let ind = &state.engines.indicators;
    let action = filled(&form, "action").unwrap_or_default();
    let done: Result<String, IndicatorError> = match action {
        "compute" => ind
            .compute(&user.actor, std::slice::from_ref(&code), &Range::default())
            .await
            .map(|out| match out.first() {
                Some(o) if o.error.is_none() => user
                    .lang
                    .pick(
                        format!(
                            "已计算：{} 行，新预警 {} 条，解除 {} 条",
                            o.rows, o.alerts_opened, o.alerts_resolved
                        ),
                        format!(
                            "computed: {} rows, {} alerts opened, {} resolved",
                            o.rows, o.alerts_opened, o.alerts_resolved
                        ),
                    )
                    .to_string(),
                Some(o) => o.error.clone().unwrap_or_default(),
                None => String::new(),
            }),
        "submit" => ind.submit(&user.actor, &code).await.map(|v| {
            user.lang
                .pick(
                    format!("第 {v} 版已提交审核"),
                    format!("version {v} submitted for review"),
                )
                .to_string()
        }),
        "publish" | "return" => ind
            .review(
                &user.actor,
                &code,
                action == "publish",
                filled(&form, "comment").unwrap_or_default(),
            )
            .await
            .map(|v| {
                if action == "publish" {
                    user.lang
                        .pick(format!("第 {v} 版已发布"), format!("version {v} published"))
                        .to_string()
                } else {
                    user.lang
                        .pick(format!("第 {v} 版已退回"), format!("version {v} returned"))
                        .to_string()
                }
            }),
        _ => Ok(String::new()),
    };
    match done {
        Ok(msg) if !msg.is_empty() => render(&state, &user, &code, Some(msg)).await,
        Ok(_) => Redirect::to(&format!("/indicators/{}", urlencode(&code))).into_response(),
        Err(e)
            if matches!(
                shuniu_types::Classified::problem(&e).kind,
                shuniu_types::ErrorKind::Invalid | shuniu_types::ErrorKind::Conflict
            ) =>
        {
            let p = shuniu_types::Classified::problem(&e);
            render(
                &state,
                &user,
                &code,
                Some(user.lang.pick(p.message_zh, p.message_en).to_string()),
            )
            .await
        }
        Err(e) => user.fail(e),
    }
}

#[derive(serde::Deserialize, Default)]
struct ExportQuery {
    format: Option<String>,
}

/// The series as CSV or Excel: every period and place, with 同比 and 环比.
async fn export(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let ind = &state.engines.indicators;
    let summary = tried!(user, ind.summary(&user.actor, &code).await);
    let series = tried!(
        user,
        ind.values(&user.actor, &code, &SeriesQuery::default())
            .await
    );
    let unit = summary.unit.clone();
    let place = |d: &str| {
        district_name(d)
            .unwrap_or(if d.is_empty() { "全市" } else { "" })
            .to_string()
    };
    if q.format.as_deref() == Some("xlsx") {
        return match shuniu_indicators::values::workbook(&code, &unit, &series, place) {
            Ok(bytes) => crate::views::xlsx_response(bytes, &code),
            Err(e) => user.fail(e),
        };
    }
    let cols: Vec<_> = shuniu_indicators::values::EXPORT_HEADINGS
        .iter()
        .enumerate()
        .map(|(k, h)| {
            let unit = unit.clone();
            column(*h, move |p: &SeriesPoint| {
                shuniu_indicators::values::export_cells(p, &unit, &place(&p.district))[k].clone()
            })
        })
        .collect();
    csv_download(&format!("{code}.csv"), &cols, &series)
}

#[derive(serde::Deserialize, Default, Clone)]
struct ScreenQuery {
    district: Option<String>,
    /// The indicator the map is coloured by.
    map: Option<String>,
}

/// What the screen shows, for the page's first paint and for each refresh.
async fn screen(
    state: &AppState,
    user: &ConsoleUser,
    q: &ScreenQuery,
) -> Result<serde_json::Value, IndicatorError> {
    let ind = &state.engines.indicators;
    let all = ind.list(&user.actor).await?;
    let district = q.district.clone().filter(|d| district_name(d).is_some());
    let key: Vec<&IndicatorSummary> = {
        let computed = |i: &&IndicatorSummary| i.version > 0 && i.value.is_some();
        let mut k: Vec<&IndicatorSummary> = all.iter().filter(computed).filter(|i| i.key).collect();
        k.sort_by_key(|i| (i.open_alerts == 0, i.code.clone()));
        // Fewer key indicators than the screen holds: the others, those with alerts first.
        let mut more: Vec<&IndicatorSummary> =
            all.iter().filter(computed).filter(|i| !i.key).collect();
        more.sort_by_key(|i| (i.open_alerts == 0, i.code.clone()));
        k.into_iter().chain(more).take(8).collect()
    };
    let mut cards = Vec::new();
    for i in &key {
        let series = ind
            .values(
                &user.actor,
                &i.code,
                &SeriesQuery {
                    district: Some(district.clone().unwrap_or_default()),
                    ..Default::default()
                },
            )
            .await?;
        let last = series.last();
        let tail: Vec<Option<f64>> = series
            .iter()
            .rev()
            .take(24)
            .rev()
            .map(|p| p.value)
            .collect();
        cards.push(serde_json::json!({
            "code": i.code, "name": i.name, "unit": i.unit,
            "period": last.map(|p| p.period.clone()), "value": shown(last.and_then(|p| p.value)),
            "mom": pct(last.and_then(|p| p.mom)), "yoy": pct(last.and_then(|p| p.yoy)),
            "alerts": i.open_alerts,
            "spark": {"type": "spark", "values": tail},
        }));
    }
    // The map: the chosen indicator broken down by district, else the city's registered
    // population, else the first such indicator.
    let mappable: Vec<&IndicatorSummary> = all
        .iter()
        .filter(|i| {
            i.version > 0
                && i.value.is_some()
                && i.dimensions
                    .contains(&shuniu_indicators::Dimension::District)
        })
        .collect();
    let chosen = q
        .map
        .as_deref()
        .and_then(|m| mappable.iter().find(|i| i.code == m))
        .or_else(|| mappable.iter().find(|i| i.code == "IND-POP-REGISTERED"))
        .or(mappable.first())
        .copied();
    let mut map = serde_json::Value::Null;
    if let Some(c) = chosen {
        let series = ind
            .values(&user.actor, &c.code, &SeriesQuery::default())
            .await?;
        let latest = series
            .iter()
            .filter(|p| !p.district.is_empty())
            .map(|p| p.period.clone())
            .max();
        let tiles: Vec<serde_json::Value> = DISTRICTS
            .iter()
            .map(|(code, name, _, _)| {
                let v = series
                    .iter()
                    .find(|p| {
                        Some(&p.period) == latest.as_ref()
                            && p.district == *code
                            && p.street.is_empty()
                    })
                    .and_then(|p| p.value);
                let (x, y) = tile_of(code);
                serde_json::json!({"code": code, "name": name, "value": v, "x": x, "y": y,
                    "selected": district.as_deref() == Some(*code)})
            })
            .collect();
        map = serde_json::json!({"type": "tiles", "indicator": c.code, "name": c.name, "unit": c.unit,
            "period": latest, "tiles": tiles});
    }
    // Events, live: open, overdue, today's, and the latest.
    let events = &state.engines.events;
    let now = chrono::Utc::now();
    let open = ["reported", "dispatched", "handling", "handled"];
    let filter = |f: EventFilter| EventFilter {
        district: district.clone(),
        ..f
    };
    let latest_events = events
        .list(
            &user.actor,
            &filter(EventFilter {
                states: open.iter().map(|s| s.to_string()).collect(),
                limit: 8,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_default();
    let counts = events.open_counts(&user.actor).await.unwrap_or_default();
    let (open_n, overdue) = match &district {
        None => (
            counts.iter().map(|c| c.1).sum::<i64>(),
            counts.iter().map(|c| c.2).sum::<i64>(),
        ),
        // One district: counted from its open events (a district's open work is thousands,
        // not millions).
        Some(_) => {
            let rows = events
                .list(
                    &user.actor,
                    &filter(EventFilter {
                        states: open.iter().map(|s| s.to_string()).collect(),
                        limit: 100_000,
                        unordered: true,
                        ..Default::default()
                    }),
                )
                .await
                .unwrap_or_default();
            let now_text = now.to_rfc3339();
            (
                rows.len() as i64,
                rows.iter()
                    .filter(|e| e.due_at.as_deref().is_some_and(|d| d < now_text.as_str()))
                    .count() as i64,
            )
        }
    };
    let today = events
        .list(
            &user.actor,
            &filter(EventFilter {
                reported_from: Some((now - chrono::Duration::hours(24)).to_rfc3339()),
                limit: 100_000,
                unordered: true,
                ..Default::default()
            }),
        )
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    let cats: BTreeMap<String, String> = events
        .categories()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.code, c.name))
        .collect();
    let alerts = ind
        .alerts(
            &user.actor,
            &AlertFilter {
                state: Some("open".into()),
                limit: 8,
                ..Default::default()
            },
        )
        .await?;
    let names: BTreeMap<String, String> = all
        .iter()
        .map(|i| (i.code.clone(), i.name.clone()))
        .collect();
    // Data flows between departments (the last 30 days) and quality, for those who may see them.
    let flows = state.engines.traceability.flows(&user.actor, 30).await.ok();
    // A screen shows the dozen largest flows between departments; the flows page has them all.
    let sankey = flows.as_ref().and_then(|f| {
        let mut f = f.clone();
        f.flows.retain(|x| {
            x.provider != x.consumer && !x.provider.is_empty() && !x.consumer.is_empty()
        });
        f.flows.sort_by_key(|x| std::cmp::Reverse(x.accesses));
        f.flows.truncate(12);
        super::audit::sankey_spec(&f, &state.names)
    });
    let quality = state.engines.quality.overview(&user.actor).await.ok();
    let quality_bars = quality.as_ref().map(|o| {
        let mut ds: Vec<_> = o.departments.iter().collect();
        ds.sort_by(|a, b| a.score.total_cmp(&b.score));
        let ds: Vec<_> = ds.into_iter().take(10).collect();
        serde_json::json!({
            "type": "hbars", "min": 0, "max": 100,
            "labels": ds.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            "values": ds.iter().map(|d| (d.score * 10.0).round() / 10.0).collect::<Vec<_>>(),
        })
    });
    Ok(serde_json::json!({
        "flows": sankey,
        "unified_share": flows.as_ref().map(|f| (f.unified_share * 1000.0).round() / 10.0),
        "quality": {
            "score": quality.as_ref().and_then(|o| o.city_score).map(|s| (s * 10.0).round() / 10.0),
            "open_tickets": quality.as_ref().map(|o| o.open_tickets),
            "chart": quality_bars,
        },
        "district": district,
        "district_name": district.as_deref().and_then(district_name),
        "cards": cards,
        "map": map,
        "mappable": mappable.iter().map(|i| serde_json::json!({"code": i.code, "name": i.name})).collect::<Vec<_>>(),
        "events": {
            "open": open_n,
            "by_state": counts.iter().map(|c| serde_json::json!({"state": c.0, "count": c.1})).collect::<Vec<_>>(),
            "today": today, "overdue": overdue,
            "latest": latest_events.iter().map(|e| serde_json::json!({
                "id": e.id, "category": cats.get(&e.category).cloned().unwrap_or_else(|| e.category.clone()),
                "district": district_name(&e.district).unwrap_or(if e.district == shuniu_events::model::CITY_DIVISION { "" } else { &e.district }), "state": e.state,
                "reported_at": e.reported_at, "channel": e.channel,
            })).collect::<Vec<_>>(),
        },
        "alerts": alerts.iter().map(|a| serde_json::json!({
            "indicator": a.indicator, "name": names.get(&a.indicator), "kind": a.kind,
            "district": district_name(&a.district).unwrap_or(&a.district),
            "value": shown(a.value), "period": a.period, "event_id": a.event_id,
        })).collect::<Vec<_>>(),
        "indicators": {"total": all.len(), "alerts": all.iter().map(|i| i.open_alerts).sum::<i64>()},
        "computed_at": all.iter().filter_map(|i| i.computed_at.clone()).max(),
    }))
}

/// Where a district's tile sits on the schematic map (column, row): roughly as the districts
/// lie, by their GB/T 2260 codes. A schematic, not boundaries (docs/indicators.md).
fn tile_of(code: &str) -> (i64, i64) {
    match code {
        "370283" => (2, 0), // 平度市
        "370285" => (3, 0), // 莱西市
        "370281" => (2, 1), // 胶州市
        "370214" => (3, 1), // 城阳区
        "370215" => (4, 1), // 即墨区
        "370213" => (3, 2), // 李沧区
        "370212" => (4, 2), // 崂山区
        "370211" => (1, 2), // 黄岛区
        "370203" => (3, 3), // 市北区
        "370202" => (4, 3), // 市南区
        _ => (0, 3),
    }
}

async fn dashboard_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ScreenQuery>,
) -> Response {
    let data = tried!(user, screen(&state, &user, &q).await);
    page(
        &state,
        &user,
        "dashboard.html",
        context! { d => ser(&data), q_map => q.map.clone() },
    )
}

async fn dashboard_data(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ScreenQuery>,
) -> Response {
    match screen(&state, &user, &q).await {
        Ok(d) => axum::Json(d).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// Tells the screen when something changed: a computation finished or an event moved. The
/// screen then fetches `/dashboard/data` again.
async fn dashboard_stream(State(state): State<AppState>, user: ConsoleUser) -> Response {
    if let Err(d) = decide(&user.actor, Action::ReadIndicators, Target::Hub) {
        return user.fail(IndicatorError::Denied(d));
    }
    let stream = futures::stream::unfold(
        (state, user, String::new()),
        |(state, user, last)| async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                let computed = state
                    .engines
                    .indicators
                    .last_computed(&user.actor)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                let moved = state
                    .engines
                    .events
                    .open_counts(&user.actor)
                    .await
                    .map(|c| format!("{c:?}"))
                    .unwrap_or_default();
                let now = format!("{computed}|{moved}");
                if now != last {
                    let ev = Event::default().event("changed").data(now.clone());
                    return Some((Ok::<Event, Infallible>(ev), (state, user, now)));
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
