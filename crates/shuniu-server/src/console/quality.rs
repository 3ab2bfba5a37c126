//! Console pages of the governance capability: the quality dashboard (scores by
//! department, trend, worst rules, stale datasets), a resource's quality page (rules,
//! results, failing samples, the rule form, objections), problem tickets, and the
//! authoritative sources. Charts are inline SVG drawn here: no script, nothing external.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use shuniu_quality::{ObjectionInput, QualityError, RuleKind, RuleSpec, SourceInput, TicketAction};

use super::{ConsoleUser, page};
use crate::AppState;
use crate::i18n::t;
use crate::web::forms::filled;
use crate::web::listing::{at, column, csv_download};
use crate::web::{CheckedForm, ListQuery, ser};
use shuniu_store::TicketRow;
use shuniu_types::{Classified, ErrorKind};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/quality", get(dashboard))
        .route("/quality/r/{code}", get(resource_page))
        .route("/quality/r/{code}/rules", post(save_rule))
        .route("/quality/r/{code}/check", post(check_now))
        .route("/quality/r/{code}/objections", post(raise_objection))
        .route("/quality/tickets", get(tickets_page))
        .route(
            "/quality/tickets/{id}",
            get(ticket_page).post(ticket_action),
        )
        .route("/quality/sources", get(sources_page).post(designate))
        .route("/quality/sources/cross-check", post(cross_check))
}

/// The lower end of a chart's scale: scores cluster near 100, so start below the lowest.
fn chart_floor(scores: impl Iterator<Item = f64>) -> f64 {
    let min = scores.fold(100.0_f64, f64::min);
    ((min - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0
}

async fn dashboard(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let o = match state.engines.quality.overview(&user.actor).await {
        Ok(o) => o,
        Err(e) => return user.fail(e),
    };
    // The table of every checked dataset: filtered, paged and exportable like every list.
    let names = &state.names;
    let datasets: Vec<_> = o
        .datasets
        .iter()
        .filter(|d| {
            q.matches(&[
                &d.name,
                &d.resource,
                &d.provider,
                &names.department(&d.provider).unwrap_or_default(),
            ])
        })
        .cloned()
        .collect();
    if q.wants_csv() {
        let lang = user.lang;
        type D = shuniu_quality::DatasetScore;
        let cols = [
            column(t(lang, "resource"), |d: &D| d.name.clone()),
            column(t(lang, "code"), |d: &D| d.resource.clone()),
            column(t(lang, "provider"), |d: &D| {
                names.department(&d.provider).unwrap_or(d.provider.clone())
            }),
            column(t(lang, "dataset_version"), |d: &D| d.version.to_string()),
            column(t(lang, "score"), |d: &D| format!("{:.1}", d.score)),
            column(t(lang, "checked_at"), |d: &D| at(&d.checked_at)),
        ];
        return csv_download("dataset-scores", &cols, &datasets);
    }
    let (datasets, listing) = q.page_of(datasets, "/quality");
    let floor = chart_floor(
        o.departments
            .iter()
            .map(|d| d.score)
            .chain(o.trend.iter().map(|t| t.1)),
    );
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    let departments_chart = (!o.departments.is_empty()).then(|| {
        serde_json::json!({
            "type": "hbars",
            "labels": o.departments.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            "values": o.departments.iter().map(|d| round1(d.score)).collect::<Vec<_>>(),
            "min": floor,
            "max": 100,
        })
    });
    let trend_chart = (!o.trend.is_empty()).then(|| {
        serde_json::json!({
            "type": "line",
            "labels": o.trend.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
            "values": o.trend.iter().map(|t| round1(t.1)).collect::<Vec<_>>(),
            "min": floor,
            "max": 100,
        })
    });
    page(
        &state,
        &user,
        "quality.html",
        context! {
            o => ser(&o),
            datasets => ser(&datasets),
            l => ser(&listing),
            departments_chart => ser(departments_chart),
            trend_chart => ser(trend_chart),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct VersionParam {
    version: Option<i64>,
}

async fn resource_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    Query(q): Query<VersionParam>,
) -> Response {
    render_resource(&state, &user, &code, q.version, None).await
}

async fn render_resource(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    version: Option<i64>,
    error: Option<String>,
) -> Response {
    let quality = &state.engines.quality;
    let rec = match state.engines.catalog.get(&user.actor, code).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let report = match quality.report(&user.actor, code, version).await {
        Ok(r) => r,
        Err(e) => return user.fail(e),
    };
    let rules = tried!(user, quality.rules(&user.actor, code).await);
    let trend = tried!(user, quality.trend(&user.actor, code).await);
    // Tickets are shown to those whose scope holds any (not to viewers).
    let tickets = if shuniu_policy::scope(&user.actor, shuniu_policy::Action::ReadTickets)
        == shuniu_policy::Scope::Nothing
    {
        Vec::new()
    } else {
        tried!(
            user,
            quality
                .tickets(&user.actor, None, Some(code), true, false)
                .await
        )
    };
    let scores: Vec<f64> = trend.iter().map(|t| t.1).collect();
    let floor = chart_floor(scores.iter().copied());
    let may_manage = shuniu_policy::decide(
        &user.actor,
        shuniu_policy::Action::ManageQualityRules,
        shuniu_policy::Target::Resource {
            provider: &rec.spec.provider,
            status: rec.status,
        },
    )
    .is_ok();
    let may_object = shuniu_policy::decide(
        &user.actor,
        shuniu_policy::Action::RaiseObjection,
        shuniu_policy::Target::Resource {
            provider: &rec.spec.provider,
            status: rec.status,
        },
    )
    .is_ok();
    page(
        state,
        user,
        "quality_resource.html",
        context! {
            code => code,
            name => rec.spec.name.clone(),
            provider => rec.spec.provider.clone(),
            items => ser(&rec.spec.data_items),
            report => ser(&report),
            rules => ser(&rules),
            trend => ser(&trend),
            trend_chart => ser((!trend.is_empty()).then(|| serde_json::json!({
                "type": "line",
                "labels": trend.iter().map(|t| format!("v{}", t.0)).collect::<Vec<_>>(),
                "values": scores.iter().map(|s| (s * 10.0).round() / 10.0).collect::<Vec<_>>(),
                "min": floor,
                "max": 100,
            }))),
            tickets => ser(&tickets),
            may_manage => may_manage,
            may_object => may_object,
            code_tables => ser(shuniu_quality::CODE_TABLES),
            error => error,
        },
    )
}

/// A rule from the console's form: a type and up to two parameters whose meaning depends on
/// it (see the form's help), or an existing rule's JSON with `enabled` switched.
fn rule_from_form(form: &[(String, String)]) -> Result<RuleSpec, String> {
    if let Some(json) = filled(form, "spec") {
        let mut spec: RuleSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        spec.enabled = filled(form, "enabled") == Some("true");
        return Ok(spec);
    }
    let a = filled(form, "a").map(str::to_string);
    let b = filled(form, "b").map(str::to_string);
    let num = |v: &Option<String>| -> Result<Option<f64>, String> {
        v.as_deref()
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| format!("{s:?} 不是数字 / is not a number"))
            })
            .transpose()
    };
    let int = |v: &Option<String>| -> Result<Option<u32>, String> {
        v.as_deref()
            .map(|s| {
                s.parse::<u32>()
                    .map_err(|_| format!("{s:?} 不是非负整数 / is not a whole number"))
            })
            .transpose()
    };
    let need = |v: Option<String>, what: &str| -> Result<String, String> {
        v.ok_or_else(|| format!("请填写{what} / {what} is required"))
    };
    let kind = match filled(form, "type").unwrap_or("") {
        "required" => RuleKind::Required,
        "unique" => RuleKind::Unique,
        "pattern" => RuleKind::Pattern {
            pattern: need(a, "正则表达式 pattern")?,
        },
        "length" => RuleKind::Length {
            min: int(&a)?,
            max: int(&b)?,
        },
        "range" => RuleKind::Range {
            min: num(&a)?,
            max: num(&b)?,
        },
        "date_range" => RuleKind::DateRange { min: a, max: b },
        "code_table" => RuleKind::CodeTable {
            table: need(a, "代码表 code table")?,
        },
        "values" => RuleKind::Values {
            values: a
                .unwrap_or_default()
                .split([',', '，', '、'])
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect(),
        },
        "id_number" => RuleKind::IdNumber,
        "id_consistency" => RuleKind::IdConsistency {
            birth_column: a,
            sex_column: b,
        },
        "credit_code" => RuleKind::CreditCode,
        "org_code" => RuleKind::OrgCode,
        "registration_number" => RuleKind::RegistrationNumber,
        "mobile" => RuleKind::Mobile,
        "email" => RuleKind::Email,
        "compare" => RuleKind::Compare {
            op: need(a, "比较符 operator")?,
            other: need(b, "另一信息项 other column")?,
        },
        "reference" => RuleKind::Reference {
            resource: need(a, "引用资源 resource")?,
            column: need(b, "引用信息项 column")?,
        },
        "freshness" => RuleKind::Freshness,
        other => return Err(format!("未知的规则类型 / unknown rule type {other:?}")),
    };
    let column = filled(form, "column").map(str::to_string);
    let id = filled(form, "id")
        .map(str::to_string)
        .unwrap_or_else(|| match &column {
            Some(c) => format!("{c}.{}", kind.code()),
            None => kind.code().to_string(),
        });
    Ok(RuleSpec {
        id,
        column,
        kind,
        enabled: true,
        origin: "officer".into(),
    })
}

async fn save_rule(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let spec = match rule_from_form(&form) {
        Ok(s) => s,
        Err(msg) => return render_resource(&state, &user, &code, None, Some(msg)).await,
    };
    match state
        .engines
        .quality
        .save_rule(&user.actor, &code, spec)
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/quality/r/{}#rules", super::urlencode(&code))).into_response()
        }
        Err(e) if matches!(e, QualityError::Invalid { .. }) => {
            let msg = format!(
                "{} [{}]",
                user.lang.pick(e.message_zh(), e.to_string()),
                e.code()
            );
            render_resource(&state, &user, &code, None, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn check_now(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, _form): CheckedForm<ConsoleUser>,
) -> Response {
    match state
        .engines
        .quality
        .check_version(&user.actor, &code, None)
        .await
    {
        Ok(_) => Redirect::to(&format!("/quality/r/{}", super::urlencode(&code))).into_response(),
        Err(e) => user.fail(e),
    }
}

async fn raise_objection(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let input = ObjectionInput {
        record_key: filled(&form, "record_key").unwrap_or("").to_string(),
        column: filled(&form, "column").map(str::to_string),
        reason: filled(&form, "reason").unwrap_or("").to_string(),
    };
    match state
        .engines
        .quality
        .raise_objection(&user.actor, &code, input)
        .await
    {
        Ok(t) => Redirect::to(&format!(
            "/quality/tickets/{}",
            super::urlencode(&t.ticket.id)
        ))
        .into_response(),
        Err(e) if matches!(e, QualityError::Invalid { .. }) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render_resource(&state, &user, &code, None, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn tickets_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let show = q.filter("show").unwrap_or("open").to_string();
    let department = q.filter("department").map(str::to_string);
    let resource = q.filter("resource").map(str::to_string);
    let quality = &state.engines.quality;
    let tickets = tried!(
        user,
        quality
            .tickets(
                &user.actor,
                department.as_deref(),
                resource.as_deref(),
                show != "all",
                show == "overdue",
            )
            .await
    );
    // Overdue tickets per department, for the hub's follow-up (and a department's own).
    let overdue = tried!(
        user,
        quality
            .tickets(&user.actor, department.as_deref(), None, true, true)
            .await
    );
    let mut per_department: std::collections::BTreeMap<String, usize> = Default::default();
    for t in &overdue {
        *per_department.entry(t.provider.clone()).or_default() += 1;
    }
    let mut providers: Vec<(String, String)> = tickets
        .iter()
        .map(|t| t.provider.clone())
        .chain(department.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|d| {
            let name = state.names.department(&d).unwrap_or(d.clone());
            (d, name)
        })
        .collect();
    providers.sort_by(|a, b| a.1.cmp(&b.1));
    let names = &state.names;
    let lang = user.lang;
    let tickets: Vec<_> = tickets
        .into_iter()
        .filter(|t| {
            q.matches(&[
                &t.id,
                &t.summary_zh,
                &t.summary_en,
                &t.resource_code,
                &names.resource(&t.resource_code).unwrap_or_default(),
                &names.department(&t.provider).unwrap_or_default(),
            ])
        })
        .collect();
    if q.wants_csv() {
        let cols = [
            column(t(lang, "ticket"), |x: &TicketRow| x.id.clone()),
            column(t(lang, "state"), |x: &TicketRow| {
                lang.pick(x.state.zh(), x.state.en()).to_string()
            }),
            column(t(lang, "resource"), |x: &TicketRow| {
                names.resource(&x.resource_code).unwrap_or_default()
            }),
            column(t(lang, "code"), |x: &TicketRow| x.resource_code.clone()),
            column(t(lang, "provider"), |x: &TicketRow| {
                names.department(&x.provider).unwrap_or(x.provider.clone())
            }),
            column(t(lang, "summary"), |x: &TicketRow| {
                lang.pick(x.summary_zh.clone(), x.summary_en.clone())
            }),
            column(t(lang, "deadline"), |x: &TicketRow| at(&x.deadline)),
        ];
        return csv_download("tickets", &cols, &tickets);
    }
    let (shown, listing) = q.page_of(tickets, "/quality/tickets");
    let now = shuniu_store::now();
    let rows: Vec<_> = shown
        .iter()
        .map(|t| {
            context! {
                t => ser(t),
                overdue => t.closed_at.is_none() && t.deadline < now,
            }
        })
        .collect();
    let shows: Vec<(&str, String)> = ["open", "overdue", "all"]
        .into_iter()
        .map(|s| (s, t(lang, &format!("show_{s}"))))
        .collect();
    page(
        &state,
        &user,
        "quality_tickets.html",
        context! {
            tickets => rows,
            l => ser(&listing),
            show => show,
            shows => shows,
            providers => providers,
            overdue_by_department => per_department,
        },
    )
}

async fn ticket_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    render_ticket(&state, &user, &id, None).await
}

async fn render_ticket(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<String>,
) -> Response {
    match state.engines.quality.ticket(&user.actor, id).await {
        Ok(view) => page(
            state,
            user,
            "quality_ticket.html",
            context! { v => ser(&view), error => error },
        ),
        Err(e) => user.fail(e),
    }
}

async fn ticket_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let Some(action) = filled(&form, "action").and_then(TicketAction::parse) else {
        return render_ticket(
            &state,
            &user,
            &id,
            Some("未知的处理动作 / unknown action".into()),
        )
        .await;
    };
    let reason = filled(&form, "reason").unwrap_or("");
    match state
        .engines
        .quality
        .act_on_ticket(&user.actor, &id, action, reason)
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/quality/tickets/{}", super::urlencode(&id))).into_response()
        }
        Err(e) if matches!(e, QualityError::Invalid { .. }) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render_ticket(&state, &user, &id, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn sources_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_sources(&state, &user, None, None).await
}

async fn render_sources(
    state: &AppState,
    user: &ConsoleUser,
    reports: Option<Vec<shuniu_quality::ConflictReport>>,
    error: Option<String>,
) -> Response {
    match state.engines.quality.sources(&user.actor).await {
        Ok(sources) => page(
            state,
            user,
            "quality_sources.html",
            context! {
                sources => ser(&sources),
                reports => ser(&reports),
                error => error,
            },
        ),
        Err(e) => user.fail(e),
    }
}

async fn designate(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let input = SourceInput {
        attribute: filled(&form, "attribute").unwrap_or("").to_string(),
        label: filled(&form, "label").unwrap_or("").to_string(),
        key_type: filled(&form, "key_type").unwrap_or("").to_string(),
        resource: filled(&form, "resource").unwrap_or("").to_string(),
        column: filled(&form, "column").map(str::to_string),
    };
    match state
        .engines
        .quality
        .designate_source(&user.actor, input)
        .await
    {
        Ok(_) => Redirect::to("/quality/sources").into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
            let msg = user.lang.pick(e.message_zh(), e.to_string());
            render_sources(&state, &user, None, Some(msg)).await
        }
        Err(e) => user.fail(e),
    }
}

async fn cross_check(
    State(state): State<AppState>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    match state
        .engines
        .quality
        .cross_check(&user.actor, filled(&form, "attribute"))
        .await
    {
        Ok(reports) => render_sources(&state, &user, Some(reports), None).await,
        Err(e) => user.fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_rule_form_reads_each_type_s_parameters() {
        let r = rule_from_form(&form(&[
            ("column", "amount"),
            ("type", "range"),
            ("a", "0"),
            ("b", ""),
        ]))
        .expect("range");
        assert_eq!(r.id, "amount.range");
        assert_eq!(
            r.kind,
            RuleKind::Range {
                min: Some(0.0),
                max: None
            }
        );
        let r = rule_from_form(&form(&[
            ("column", "sex"),
            ("type", "values"),
            ("a", "1，2、9"),
            ("id", "sex.v"),
        ]))
        .expect("values");
        assert_eq!(
            (r.id.as_str(), r.kind),
            (
                "sex.v",
                RuleKind::Values {
                    values: vec!["1".into(), "2".into(), "9".into()]
                }
            )
        );
        assert!(rule_from_form(&form(&[("type", "range"), ("a", "x")])).is_err());
        assert!(rule_from_form(&form(&[("type", "pattern")])).is_err());
        assert!(rule_from_form(&form(&[("type", "nonsense")])).is_err());
        // Switching a listed rule keeps its parameters and flips `enabled` only.
        let spec = r#"{"id":"m","column":"mobile","type":"pattern","pattern":"1\\d{10}","enabled":true,"origin":"auto","dimension":"validity","description_zh":"x","description_en":"x","derived":true}"#;
        let r = rule_from_form(&form(&[("spec", spec), ("enabled", "false")])).expect("spec");
        assert!(!r.enabled);
        assert_eq!(
            r.kind,
            RuleKind::Pattern {
                pattern: r"1\d{10}".into()
            }
        );
    }

    #[test]
    fn charts_scale_scores_onto_their_box() {
        assert_eq!(chart_floor([97.0, 99.5].into_iter()), 90.0);
        assert_eq!(chart_floor(std::iter::empty()), 90.0);
        assert_eq!(chart_floor([3.0].into_iter()), 0.0);
    }
}
