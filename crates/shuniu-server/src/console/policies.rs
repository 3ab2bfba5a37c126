//! Benefit policies in the console (免申即享、惠企通): the policies with this month's lists, a
//! policy's page (its conditions with their articles, parameters with their dated values, the
//! review, the sandbox, a subject's trace, its lists), and a list's page (who qualifies, masked;
//! confirmation, the payment file, payments).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use shuniu_matching::{MatchingError, ParamValue};
use shuniu_policy::{Action, Target, decide};

use super::{ConsoleUser, page, urlencode};
use crate::AppState;
use crate::web::forms::filled;
use crate::web::{CheckedForm, ListQuery, ser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list_page))
        .route("/policies/{code}", get(policy_page).post(policy_action))
        .route(
            "/policies/{code}/lists/{period}",
            get(list_entries_page).post(list_action),
        )
        .route(
            "/policies/{code}/lists/{period}/payments",
            get(payment_file),
        )
}

fn this_month() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string()
}

/// An amount as pages show it (as indicator values are: thousands separated, two decimals at
/// most).
fn money(v: f64) -> String {
    super::indicators::shown(Some(v))
}

/// The catalog of policies, with this month's list where the reader's department issues it.
async fn list_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let m = &state.engines.matching;
    let all = tried!(user, m.list(&user.actor).await);
    let month = this_month();
    let dept = |c: &str| state.names.department(c).unwrap_or_default();
    let department = q.filter("department").map(str::to_string);
    let mut departments: Vec<(String, String)> = all
        .iter()
        .map(|p| (p.department.clone(), dept(&p.department)))
        .collect();
    departments.sort();
    departments.dedup();
    let mut rows = Vec::new();
    let mut eligible_total = 0i64;
    for p in all {
        // A filter the user chose, not an access decision: `list` decided that.
        if !department
            .as_deref()
            .is_none_or(|d| d.eq(p.department.as_str()))
            || !q.matches(&[&p.code, &p.name, &p.department, &dept(&p.department)])
        {
            continue;
        }
        // This month's list, for those who may see it (the issuing department and the hub).
        let list = match m.lists(&user.actor, &p.code).await {
            Ok(lists) => lists.into_iter().find(|l| l.list.period == month),
            Err(_) => None,
        };
        if let Some(l) = &list {
            eligible_total += l.list.eligible;
        }
        rows.push(serde_json::json!({
            "code": p.code, "name": p.name, "department": p.department, "target": p.target,
            "version": p.version, "state": p.state,
            "eligible": list.as_ref().map(|l| l.list.eligible),
            "amount": list.as_ref().map(|l| money(l.list.amount)),
            "list_state": list.as_ref().map(|l| l.list.state.clone()),
        }));
    }
    let (rows, listing) = q.page_of(rows, "/policies");
    page(
        &state,
        &user,
        "policies.html",
        context! {
            rows => ser(&rows), l => ser(&listing), departments => ser(&departments),
            department => department, month => month, eligible_total => eligible_total,
        },
    )
}

async fn policy_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Response {
    render(&state, &user, &code, Outcome::default()).await
}

/// What an action on the page produced, shown on it.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    sandbox: Option<serde_json::Value>,
    trace: Option<serde_json::Value>,
}

async fn render(state: &AppState, user: &ConsoleUser, code: &str, out: Outcome) -> Response {
    let m = &state.engines.matching;
    let detail = tried!(user, m.detail(&user.actor, code).await);
    let owner = Target::SharingOf {
        department: &detail.department,
    };
    let may_define = decide(&user.actor, Action::DefinePolicies, owner).is_ok();
    let may_review = decide(&user.actor, Action::ReviewPolicies, Target::Hub).is_ok();
    let lists = if may_define && detail.version > 0 {
        tried!(user, m.lists(&user.actor, code).await)
    } else {
        Vec::new()
    };
    let lists: Vec<serde_json::Value> = lists
        .iter()
        .map(|l| {
            let mut o = ser_json(&l.list);
            o.insert("amount_shown".into(), money(l.list.amount).into());
            o.insert("stale".into(), l.stale.into());
            o.insert(
                "payments".into(),
                serde_json::to_value(&l.payments).unwrap_or_default(),
            );
            serde_json::Value::Object(o)
        })
        .collect();
    let newest_state = detail
        .versions
        .first()
        .map(|v| v.state.clone())
        .unwrap_or_default();
    let shown = detail.published.clone().or(detail.newest.clone());
    page(
        state,
        user,
        "policy.html",
        context! {
            p => ser(&detail),
            spec => ser(&shown),
            lists => ser(&lists),
            month => this_month(),
            may_define => may_define,
            may_submit => may_define && (newest_state == "draft" || newest_state == "returned"),
            may_review => may_review && newest_state == "submitted",
            notice => out.notice,
            sandbox => ser(&out.sandbox),
            trace => ser(&out.trace),
        },
    )
}

fn ser_json<T: serde::Serialize>(v: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn problem_text(user: &ConsoleUser, e: &MatchingError) -> Option<String> {
    let p = shuniu_types::Classified::problem(e);
    if !matches!(
        p.kind,
        shuniu_types::ErrorKind::Invalid | shuniu_types::ErrorKind::Conflict
    ) {
        return None;
    }
    let mut text = user.lang.pick(p.message_zh, p.message_en).to_string();
    for f in &p.fields {
        text.push_str(&format!(
            "；{}：{}",
            f.field,
            user.lang.pick(f.message_zh.clone(), f.message_en.clone())
        ));
    }
    Some(text)
}

/// Submit, publish or return; compute a month's list; try parameters; explain one subject.
async fn policy_action(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let m = &state.engines.matching;
    let action = filled(&form, "action").unwrap_or_default();
    let period = filled(&form, "period")
        .map(str::to_string)
        .unwrap_or_else(this_month);
    let lang = user.lang;
    let mut out = Outcome::default();
    let done: Result<Option<String>, MatchingError> = match action {
        "submit" => m.submit(&user.actor, &code).await.map(|v| {
            Some(
                lang.pick(
                    format!("第 {v} 版已提交审核"),
                    format!("version {v} submitted for review"),
                )
                .to_string(),
            )
        }),
        "publish" | "return" => m
            .review(
                &user.actor,
                &code,
                action == "publish",
                filled(&form, "comment").unwrap_or_default(),
            )
            .await
            .map(|v| {
                Some(if action == "publish" {
                    lang.pick(format!("第 {v} 版已发布"), format!("version {v} published"))
                        .to_string()
                } else {
                    lang.pick(format!("第 {v} 版已退回"), format!("version {v} returned"))
                        .to_string()
                })
            }),
        "compute" => m
            .compute_list(&user.actor, &code, &period)
            .await
            .map(|_| None),
        "sandbox" => {
            let changes: Vec<(String, ParamValue)> = form
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.strip_prefix("param:")?;
                    let v = v.trim();
                    if v.is_empty() {
                        return None;
                    }
                    Some((
                        name.to_string(),
                        v.parse::<f64>()
                            .map_or_else(|_| ParamValue::Text(v.to_string()), ParamValue::Number),
                    ))
                })
                .collect();
            m.sandbox(&user.actor, &code, &period, &changes)
                .await
                .map(|r| {
                    out.sandbox = Some(serde_json::json!({
                        "period": r.period, "version": r.version,
                        "baseline": {"eligible": r.baseline.eligible, "amount": money(r.baseline.amount)},
                        "changed": {"eligible": r.changed.eligible, "amount": money(r.changed.amount)},
                        "parameters": r.parameters.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
                    }));
                    None
                })
        }
        "trace" => m
            .trace(
                &user.actor,
                &code,
                filled(&form, "key").unwrap_or_default(),
                &period,
            )
            .await
            .map(|t| {
                out.trace = serde_json::to_value(&t).ok();
                None
            }),
        _ => Ok(None),
    };
    match done {
        Ok(None) if action == "compute" => Redirect::to(&format!(
            "/policies/{}/lists/{}",
            urlencode(&code),
            urlencode(&period)
        ))
        .into_response(),
        Ok(None) if out.sandbox.is_none() && out.trace.is_none() => {
            Redirect::to(&format!("/policies/{}", urlencode(&code))).into_response()
        }
        Ok(notice) => {
            out.notice = notice;
            render(&state, &user, &code, out).await
        }
        Err(e) => match problem_text(&user, &e) {
            Some(text) => {
                out.notice = Some(text);
                render(&state, &user, &code, out).await
            }
            None => user.fail(e),
        },
    }
}

#[derive(serde::Deserialize, Default)]
struct EntriesQuery {
    payment: Option<String>,
    page: Option<i64>,
}

const PAGE: i64 = 50;

async fn list_entries_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((code, period)): Path<(String, String)>,
    Query(q): Query<EntriesQuery>,
) -> Response {
    render_list(&state, &user, &code, &period, &q, None).await
}

async fn render_list(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    period: &str,
    q: &EntriesQuery,
    notice: Option<String>,
) -> Response {
    let m = &state.engines.matching;
    let detail = tried!(user, m.detail(&user.actor, code).await);
    let payment = q.payment.as_deref().filter(|p| !p.is_empty());
    let page_no = q.page.unwrap_or(1).max(1);
    let (list, entries) = tried!(
        user,
        m.list_entries(
            &user.actor,
            code,
            period,
            payment,
            (page_no - 1) * PAGE,
            PAGE
        )
        .await
    );
    let may_pay = decide(
        &user.actor,
        Action::PayBenefits,
        Target::SharingOf {
            department: &detail.department,
        },
    )
    .is_ok();
    let in_view = match payment {
        Some("paid") => list.payments.paid,
        Some("failed") => list.payments.failed,
        Some(_) => list.payments.pending,
        None => list.list.eligible,
    };
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut o = ser_json(e);
            o.insert("amount_shown".into(), e.amount.map(money).into());
            serde_json::Value::Object(o)
        })
        .collect();
    page(
        state,
        user,
        "policy_list.html",
        context! {
            p => ser(&detail),
            list => ser(&list),
            amount => money(list.list.amount),
            entries => ser(&entries),
            payment => payment,
            page => page_no,
            pages => ((in_view + PAGE - 1) / PAGE).max(1),
            may_pay => may_pay,
            may_refresh => list.list.state == "evaluated",
            notice => notice,
        },
    )
}

/// Refresh or confirm the list.
async fn list_action(
    State(state): State<AppState>,
    Path((code, period)): Path<(String, String)>,
    CheckedForm(user, form): CheckedForm<ConsoleUser>,
) -> Response {
    let m = &state.engines.matching;
    let lang = user.lang;
    let done = match filled(&form, "action").unwrap_or_default() {
        "refresh" => m.refresh_list(&user.actor, &code, &period).await.map(|r| {
            lang.pick(
                format!(
                    "已刷新：重新判断 {} 个对象，新增 {}，移出 {}，金额变化 {}",
                    r.reevaluated, r.added, r.removed, r.changed
                ),
                format!(
                    "refreshed: {} subjects evaluated again, {} added, {} removed, {} changed",
                    r.reevaluated, r.added, r.removed, r.changed
                ),
            )
            .to_string()
        }),
        "confirm" => m
            .confirm_list(&user.actor, &code, &period)
            .await
            .map(|_| lang.pick("名单已确认", "the list is confirmed").to_string()),
        _ => Ok(String::new()),
    };
    let q = EntriesQuery::default();
    match done {
        Ok(notice) => render_list(&state, &user, &code, &period, &q, Some(notice)).await,
        Err(e) => match problem_text(&user, &e) {
            Some(text) => render_list(&state, &user, &code, &period, &q, Some(text)).await,
            None => user.fail(e),
        },
    }
}

#[derive(serde::Deserialize, Default)]
struct FileQuery {
    format: Option<String>,
}

/// The payment file, as the API gives it.
async fn payment_file(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((code, period)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> Response {
    let (policy, lines) = tried!(
        user,
        state
            .engines
            .matching
            .payment_file(&user.actor, &code, &period)
            .await
    );
    let name = format!("{code}-{period}-payments");
    let file = match q.format.as_deref() {
        Some("xlsx") => shuniu_matching::lists::payment_xlsx(&policy, &period, &lines)
            .map(|b| crate::views::xlsx_response(b, &name)),
        _ => shuniu_matching::lists::payment_csv(&policy, &period, &lines)
            .map(|b| crate::views::csv_response(b, &format!("{name}.csv"))),
    };
    match file {
        Ok(r) => r,
        Err(e) => user.fail(e),
    }
}
