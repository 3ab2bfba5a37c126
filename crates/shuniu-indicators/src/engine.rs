//! `Indicators`: definitions saved as versions and reviewed by the hub, computation (on
//! schedule, on demand, backfill) into the values table, and alerts that open and resolve
//! as values cross their bounds and return.
//!
//! A computation of several indicators is one append to the values table, then one control
//! plane transaction per indicator (its run, its latest figure, its alerts), then one audit
//! entry per dataset read. An alert's event is filed after its transaction: the alert keeps
//! the event's id, and an alert whose event could not be filed is filed again on the next run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_events::{Channel, Events, Report, Urgency};
use shuniu_lake::Lake;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::Sharing;
use shuniu_store::{
    AlertFilter, IndicatorAlertRow, IndicatorRow, IndicatorRunRow, IndicatorVersionRow,
    NotificationRow, Store,
};
use shuniu_types::Actor;

use crate::error::internal;
use crate::figures;
use crate::model::{Dimension, IndicatorInput, IndicatorSpec, Severity};
use crate::period::{Grain, Period};
use crate::values::{self, RunRows, SeriesPoint, SeriesQuery, ValueRow};
use crate::{IndicatorError, Result};

/// How a computation was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Demand,
    Backfill,
}

impl Trigger {
    pub fn code(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Demand => "demand",
            Trigger::Backfill => "backfill",
        }
    }
}

/// The states of a definition's version.
pub mod version_state {
    pub const DRAFT: &str = "draft";
    pub const SUBMITTED: &str = "submitted";
    pub const PUBLISHED: &str = "published";
    pub const RETURNED: &str = "returned";
    pub const SUPERSEDED: &str = "superseded";
}

/// An indicator as lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorSummary {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub department: String,
    pub grain: String,
    /// The version in force (0: none published yet).
    pub version: i64,
    /// The latest period's city-wide value.
    pub period: Option<String>,
    pub value: Option<f64>,
    pub computed_at: Option<String>,
    pub next_run_at: Option<String>,
    pub open_alerts: i64,
    /// The breakdowns of the definition in force.
    pub dimensions: Vec<Dimension>,
    /// A key indicator (重点指标) of the definition in force.
    pub key: bool,
}

/// An indicator in full: the definition in force, its versions, runs and alerts.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorDetail {
    #[serde(flatten)]
    pub summary: IndicatorSummary,
    pub spec: Option<IndicatorSpec>,
    pub versions: Vec<VersionView>,
    pub runs: Vec<RunView>,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version: i64,
    pub state: String,
    pub author: String,
    pub created_at: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<String>,
    pub comment: String,
    pub spec: Option<IndicatorSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub version: i64,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub state: String,
    pub rows: i64,
    /// The dataset versions the query read.
    pub sources: serde_json::Value,
    /// The version of the values table holding the run's rows.
    pub values_version: Option<i64>,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: String,
    pub indicator: String,
    pub district: String,
    pub street: String,
    pub kind: String,
    pub severity: String,
    pub state: String,
    pub period: String,
    pub value: Option<f64>,
    pub bound: Option<f64>,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    pub event_id: Option<String>,
}

/// What one indicator's computation did.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub code: String,
    pub run_id: String,
    pub state: String,
    pub rows: usize,
    pub error: Option<String>,
    pub alerts_opened: usize,
    pub alerts_resolved: usize,
}

/// A saved version, with what its query returned when it was tried.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub code: String,
    pub version: i64,
    pub state: String,
    /// Rows the query returned when tried at save time.
    pub rows: usize,
    pub sample: Vec<ValueJson>,
    /// With a webhook: the secret its calls are signed with (HMAC-SM3 over
    /// `timestamp.body`), for the receiving system to check them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueJson {
    pub period: String,
    pub district: String,
    pub street: String,
    pub value: Option<f64>,
}

impl From<&ValueRow> for ValueJson {
    fn from(r: &ValueRow) -> Self {
        ValueJson {
            period: r.period.to_string(),
            district: r.district.clone(),
            street: r.street.clone(),
            value: r.value,
        }
    }
}

/// A query's values and the dataset versions (resource, Delta version) it read.
type Evaluated = (Vec<ValueRow>, Vec<(String, i64)>);

/// A period range for a backfill (inclusive), at the indicator's grain.
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
}

struct Inner {
    store: Store,
    audit: AuditLog,
    lake: Lake,
    events: Events,
    /// Checks alert webhooks' URLs and signs (and delivers) their calls.
    sharing: Sharing,
    /// One computation at a time: runs of the same indicator must not interleave their
    /// alert decisions.
    computing: tokio::sync::Mutex<()>,
    /// One recording of the hub's figures at a time: a day is recorded once.
    figures_lock: tokio::sync::Mutex<()>,
    /// The last day recorded, once known: the scheduler asks every minute, and the answer
    /// changes once a day (a recording re-reads the table under the lock, so another
    /// process's recording is never repeated).
    figures_day: std::sync::Mutex<Option<chrono::NaiveDate>>,
}

/// The indicator engine.
#[derive(Clone)]
pub struct Indicators {
    inner: Arc<Inner>,
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"))
}

/// The notification topic of an indicator's alerts (its webhook secret derives from it).
fn topic(code: &str) -> String {
    format!("indicator:{code}")
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(internal)?;
    Ok(hex::encode(b))
}

/// The next time a five-field schedule fires after `after`, in UTC text.
pub fn next_run(schedule: &str, after: DateTime<Utc>) -> Option<String> {
    let s = crate::model::schedule(schedule)?;
    s.after(&after.with_timezone(&beijing())).next().map(|t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

fn parse_spec(text: &str) -> Option<IndicatorSpec> {
    serde_json::from_str(text).ok()
}

fn number(text: &Option<String>) -> Option<f64> {
    text.as_deref().and_then(|t| t.parse().ok())
}

fn summary(row: &IndicatorRow, open_alerts: i64) -> IndicatorSummary {
    let spec = parse_spec(&row.spec);
    IndicatorSummary {
        code: row.code.clone(),
        name: row.name.clone(),
        unit: row.unit.clone(),
        department: row.department.clone(),
        grain: row.grain.clone(),
        version: row.version,
        period: row.latest_period.clone(),
        value: number(&row.latest_value),
        computed_at: row.last_run_at.clone(),
        next_run_at: row.next_run_at.clone(),
        open_alerts,
        dimensions: spec
            .as_ref()
            .map(|s| s.dimensions.clone())
            .unwrap_or_default(),
        key: spec.is_some_and(|s| s.key),
    }
}

fn alert_view(a: &IndicatorAlertRow) -> AlertView {
    AlertView {
        id: a.id.clone(),
        indicator: a.code.clone(),
        district: a.district.clone(),
        street: a.street.clone(),
        kind: a.kind.clone(),
        severity: a.severity.clone(),
        state: a.state.clone(),
        period: a.period.clone(),
        value: number(&a.value),
        bound: number(&a.bound),
        opened_at: a.opened_at.clone(),
        resolved_at: a.resolved_at.clone(),
        event_id: a.event_id.clone(),
    }
}

/// A crossing found in a run: which bound, at which breakdown, by what value.
#[derive(Debug, Clone, PartialEq)]
struct Crossing {
    district: String,
    street: String,
    kind: &'static str,
    period: Period,
    value: Option<f64>,
    bound: Option<f64>,
}

/// The crossings of the latest period's values. `previous` gives the value of a breakdown in
/// the period before, for the change bound.
fn crossings(
    spec: &IndicatorSpec,
    rows: &[ValueRow],
    today: Period,
    previous: &HashMap<(String, String), f64>,
) -> (Option<Period>, Vec<Crossing>) {
    let t = &spec.thresholds;
    let latest = rows.iter().map(|r| r.period).max();
    let mut out = Vec::new();
    if t.no_data && latest.is_none_or(|p| p < today.previous()) {
        out.push(Crossing {
            district: String::new(),
            street: String::new(),
            kind: "no_data",
            period: today,
            value: None,
            bound: None,
        });
    }
    let Some(latest) = latest else {
        return (None, out);
    };
    for r in rows.iter().filter(|r| r.period == latest) {
        let Some(v) = r.value else { continue };
        let mut cross = |kind: &'static str, bound: f64| {
            out.push(Crossing {
                district: r.district.clone(),
                street: r.street.clone(),
                kind,
                period: latest,
                value: Some(v),
                bound: Some(bound),
            })
        };
        if let Some(hi) = t.upper
            && v > hi
        {
            cross("upper", hi);
        }
        if let Some(lo) = t.lower
            && v < lo
        {
            cross("lower", lo);
        }
        if let Some(c) = t.change
            && let Some(before) = previous.get(&(r.district.clone(), r.street.clone()))
            && *before != 0.0
            && ((v - before) / before.abs()).abs() > c
        {
            cross("change", c);
        }
    }
    (Some(latest), out)
}

impl Indicators {
    pub fn new(
        store: Store,
        audit: AuditLog,
        lake: Lake,
        events: Events,
        sharing: Sharing,
    ) -> Indicators {
        Indicators {
            inner: Arc::new(Inner {
                store,
                sharing,
                audit,
                lake,
                events,
                computing: tokio::sync::Mutex::new(()),
                figures_lock: tokio::sync::Mutex::new(()),
                figures_day: std::sync::Mutex::new(None),
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs a definition's query and reads its rows into values, checking that it returns
    /// what an indicator needs: `value`, optionally `period`, and the declared dimensions.
    async fn evaluate(
        &self,
        spec: &IndicatorSpec,
        range: &Range,
        pinned: Option<&shuniu_lake::Pinned>,
    ) -> Result<Evaluated> {
        let result = self
            .inner
            .lake
            .sql_pinned(
                pinned,
                spec.resources.clone(),
                &spec.sql,
                values::MAX_ROWS + 1,
            )
            .await
            .map_err(|e| IndicatorError::query(e.to_string(), e.to_string()))?;
        if result.truncated || result.rows > values::MAX_ROWS {
            return Err(IndicatorError::query(
                format!("返回超过 {} 行，请按维度汇总", values::MAX_ROWS),
                format!(
                    "it returns more than {} rows: aggregate by the dimensions",
                    values::MAX_ROWS
                ),
            ));
        }
        let columns = result.columns();
        let position = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
        let Some(value_at) = position("value") else {
            return Err(IndicatorError::query(
                "结果须有名为 value 的数值列",
                "the result needs a numeric column named value",
            ));
        };
        let period_at = position("period");
        let mut dims: Vec<(Dimension, usize)> = Vec::new();
        for d in [Dimension::District, Dimension::Street] {
            match (position(d.column()), spec.dimensions.contains(&d)) {
                (Some(i), true) => dims.push((d, i)),
                (None, true) => {
                    return Err(IndicatorError::query(
                        format!("声明了维度 {0}，结果中却没有 {0} 列", d.column()),
                        format!(
                            "the dimension {0} is declared but the result has no {0} column",
                            d.column()
                        ),
                    ));
                }
                (Some(_), false) => {
                    return Err(IndicatorError::query(
                        format!("结果有 {0} 列，请在维度中声明 {0}", d.column()),
                        format!(
                            "the result has a {0} column: declare the dimension {0}",
                            d.column()
                        ),
                    ));
                }
                (None, false) => {}
            }
        }
        let known =
            |i: usize| i == value_at || Some(i) == period_at || dims.iter().any(|d| d.1 == i);
        if let Some(extra) = (0..columns.len()).find(|i| !known(*i)) {
            return Err(IndicatorError::query(
                format!(
                    "多余的列“{}”：结果只能有 period、value 和声明的维度",
                    columns[extra]
                ),
                format!(
                    "unexpected column {:?}: the result holds period, value and the declared dimensions only",
                    columns[extra]
                ),
            ));
        }
        let value_type = result.schema.field(value_at).data_type().clone();
        if !(value_type.is_numeric() || value_type == arrow::datatypes::DataType::Null) {
            return Err(IndicatorError::query(
                format!("value 列须为数值，实为 {value_type}"),
                format!("the value column must be numeric, not {value_type}"),
            ));
        }
        let today = Period::containing(
            spec.grain,
            Utc::now().with_timezone(&beijing()).date_naive(),
        );
        let from = range.from.as_deref().map(|p| Period::parse(spec.grain, p));
        let to = range.to.as_deref().map(|p| Period::parse(spec.grain, p));
        if matches!(from, Some(None)) || matches!(to, Some(None)) {
            return Err(IndicatorError::query(
                format!("补算区间不是有效的{}期", spec.grain.label_zh()),
                format!(
                    "the backfill range is not made of {} periods",
                    spec.grain.code()
                ),
            ));
        }
        let (from, to) = (from.flatten(), to.flatten());
        let mut rows: Vec<ValueRow> = Vec::with_capacity(result.rows);
        let mut seen: BTreeSet<(Period, String, String)> = BTreeSet::new();
        for b in &result.batches {
            let v = values::number_column(b.column(value_at))?;
            let p = match period_at {
                Some(i) => Some(values::text_column(b.column(i))?),
                None => None,
            };
            let mut dim_text: Vec<(Dimension, Vec<Option<String>>)> = Vec::new();
            for (d, i) in &dims {
                dim_text.push((*d, values::text_column(b.column(*i))?));
            }
            for k in 0..b.num_rows() {
                let period = match &p {
                    None => today,
                    Some(p) => {
                        let text = p[k].clone().unwrap_or_default();
                        Period::parse(spec.grain, &text).ok_or_else(|| {
                            IndicatorError::query(
                                format!(
                                    "period 值“{text}”不是有效的{}期或日期",
                                    spec.grain.label_zh()
                                ),
                                format!(
                                    "period {text:?} is not a {} period or a date",
                                    spec.grain.code()
                                ),
                            )
                        })?
                    }
                };
                if from.is_some_and(|f| period < f) || to.is_some_and(|t| period > t) {
                    continue;
                }
                let mut district = String::new();
                let mut street = String::new();
                for (d, t) in &dim_text {
                    let text = t[k].clone().unwrap_or_default();
                    match d {
                        Dimension::District => district = text,
                        Dimension::Street => street = text,
                    }
                }
                let bad_code = |t: &str, len: usize| {
                    !t.is_empty() && (t.len() != len || !t.chars().all(|c| c.is_ascii_digit()))
                };
                if bad_code(&district, 6) || bad_code(&street, 9) {
                    return Err(IndicatorError::query(
                        format!(
                            "区划代码“{district}{street}”无效：区县为 6 位、街道为 9 位 GB/T 2260 代码"
                        ),
                        format!(
                            "division code {:?} is not valid: a district is 6 digits, a street 9 (GB/T 2260)",
                            format!("{district}{street}")
                        ),
                    ));
                }
                if !seen.insert((period, district.clone(), street.clone())) {
                    return Err(IndicatorError::query(
                        format!("同一期同一区划有两个值（{period} {district}{street}）"),
                        format!(
                            "two values for the same period and place ({period} {district}{street})"
                        ),
                    ));
                }
                rows.push(ValueRow {
                    period,
                    district,
                    street,
                    value: v[k],
                });
            }
        }
        if spec.additive && !spec.dimensions.is_empty() {
            roll_up(&mut rows, &seen);
        }
        rows.sort_by(|a, b| {
            (a.period, &a.district, &a.street).cmp(&(b.period, &b.district, &b.street))
        });
        let versions = result.versions.clone();
        Ok((rows, versions))
    }

    /// Checks and saves a definition as a new draft version (or replaces the draft or
    /// returned version not yet submitted). The query is run: one that cannot is refused.
    pub async fn save(&self, actor: &Actor, input: &IndicatorInput) -> Result<Saved> {
        let spec = input.validate()?;
        decide(
            actor,
            Action::DefineIndicators,
            Target::SharingOf {
                department: &spec.department,
            },
        )
        .map_err(IndicatorError::Denied)?;
        if self
            .store()
            .department(&spec.department)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Err(IndicatorError::NotFound(format!(
                "department {}",
                spec.department
            )));
        }
        self.check_resources(actor, &spec).await?;
        if !spec.webhook.is_empty()
            && let Err(e) = self
                .inner
                .sharing
                .check_notification_url(&spec.webhook)
                .await
        {
            let p = shuniu_types::Classified::problem(&e);
            return Err(IndicatorError::Fields(vec![shuniu_types::FieldError::new(
                "webhook",
                p.code,
                p.message_zh,
                p.message_en,
            )]));
        }
        if !spec.thresholds.is_empty() {
            let services = self.inner.events.services().await.map_err(internal)?;
            if !services.iter().any(|s| s.code == spec.event_category) {
                return Err(IndicatorError::Fields(vec![shuniu_types::FieldError::new(
                    "event_category",
                    "INDICATOR_FIELD",
                    "设了预警阈值的指标须指定预警事件分类（事件分类树的末级）",
                    "an indicator with bounds needs the event category its alerts are filed under (a leaf of the event tree)",
                )]));
            }
        }
        let (rows, _) = self.evaluate(&spec, &Range::default(), None).await?;
        let now = now_text();
        let mut tx = self.store().begin().await.map_err(internal)?;
        let existing = tx.indicator(&spec.code).await.map_err(internal)?;
        if let Some(e) = &existing {
            // Changing an indicator is its owner's act (and moving it to another department
            // is the old owner's as much as the new one's).
            decide(
                actor,
                Action::DefineIndicators,
                Target::SharingOf {
                    department: &e.department,
                },
            )
            .map_err(IndicatorError::Denied)?;
        }
        let versions = tx.indicator_versions(&spec.code).await.map_err(internal)?;
        let reuse = versions
            .first()
            .filter(|v| v.state == version_state::DRAFT || v.state == version_state::RETURNED);
        if versions
            .first()
            .is_some_and(|v| v.state == version_state::SUBMITTED)
        {
            return Err(IndicatorError::state(
                "该指标已有版本提交审核，请待审核后再修改",
                "a version of this indicator is waiting for review: change it after the review",
            ));
        }
        let version = match reuse {
            Some(v) => v.version,
            None => versions.first().map_or(1, |v| v.version + 1),
        };
        let spec_json = serde_json::to_string(&spec).map_err(internal)?;
        tx.put_indicator_version(&IndicatorVersionRow {
            code: spec.code.clone(),
            version,
            spec: spec_json,
            state: version_state::DRAFT.into(),
            author: actor.principal.clone(),
            created_at: now.clone(),
            reviewer: None,
            reviewed_at: None,
            comment: String::new(),
        })
        .await
        .map_err(internal)?;
        if existing.is_none() {
            tx.put_indicator(&IndicatorRow {
                code: spec.code.clone(),
                name: spec.name.clone(),
                department: spec.department.clone(),
                unit: spec.unit.clone(),
                grain: spec.grain.code().into(),
                version: 0,
                spec: String::new(),
                schedule: spec.schedule.clone(),
                next_run_at: None,
                last_run_at: None,
                latest_period: None,
                latest_value: None,
                created_at: now.clone(),
                updated_at: now.clone(),
            })
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        self.admin(actor, "indicator.save", &spec.code, &format!("v{version}"))
            .await?;
        let webhook_secret = (!spec.webhook.is_empty())
            .then(|| self.inner.sharing.notification_secret(&topic(&spec.code)));
        Ok(Saved {
            code: spec.code,
            version,
            state: version_state::DRAFT.into(),
            rows: rows.len(),
            sample: rows.iter().rev().take(12).map(ValueJson::from).collect(),
            webhook_secret,
        })
    }

    /// Every resource the definition names must exist and be readable by the one who defines
    /// it: an indicator never shows a department figures from data it could not see.
    async fn check_resources(&self, actor: &Actor, spec: &IndicatorSpec) -> Result<()> {
        let found = self
            .store()
            .resources_by_code(&spec.resources)
            .await
            .map_err(internal)?;
        let mut problems = Vec::new();
        // The hub's figures are the screen's own public figures: anyone who may define an
        // indicator may read them.
        for code in spec
            .resources
            .iter()
            .filter(|c| *c != figures::FIGURES_TABLE)
        {
            match found.iter().find(|r| &r.code == code) {
                None => problems.push(shuniu_types::FieldError::new(
                    "resources",
                    "INDICATOR_FIELD",
                    format!("资源 {code} 不存在"),
                    format!("there is no resource {code}"),
                )),
                Some(r) => {
                    if let Err(d) = decide(
                        actor,
                        Action::ReadData,
                        Target::Resource {
                            provider: &r.spec.provider,
                            status: r.status,
                        },
                    ) {
                        problems.push(shuniu_types::FieldError::new(
                            "resources",
                            "INDICATOR_FIELD",
                            format!("无权读取资源 {code}：{}", d.message_zh),
                            format!("you may not read resource {code}: {}", d.message_en),
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(IndicatorError::Fields(problems))
        }
    }

    /// Records one day's figures of the hub (gathered by the caller, who sees every engine)
    /// into `_hub_figures`, once a day: a second call for a day already recorded does nothing
    /// and answers `false`.
    pub async fn record_figures(
        &self,
        actor: &Actor,
        day: chrono::NaiveDate,
        figures: &[figures::HubFigure],
    ) -> Result<bool> {
        decide(actor, Action::ReviewIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        let _one = self.inner.figures_lock.lock().await;
        let last = figures::last_day(&self.inner.lake).await?;
        self.remember_figures_day(last);
        if last.is_some_and(|d| d >= day) {
            return Ok(false);
        }
        figures::append(&self.inner.lake, day, &now_text(), figures).await?;
        self.remember_figures_day(Some(day));
        Ok(true)
    }

    fn remember_figures_day(&self, day: Option<chrono::NaiveDate>) {
        if let Ok(mut d) = self.inner.figures_day.lock() {
            *d = (*d).max(day);
        }
    }

    /// The last day the hub's figures were recorded for (read from the table once, then
    /// remembered).
    pub async fn figures_recorded_through(&self) -> Result<Option<chrono::NaiveDate>> {
        if let Some(day) = self.inner.figures_day.lock().ok().and_then(|d| *d) {
            return Ok(Some(day));
        }
        let last = figures::last_day(&self.inner.lake).await?;
        self.remember_figures_day(last);
        Ok(last)
    }

    /// Defines, and publishes as the hub, every built-in indicator not defined yet (an
    /// existing one, perhaps changed by the bureau, is left as it is). Needs the figures
    /// recorded at least once: a built-in's query is run when it is saved, like any other.
    pub async fn install_builtin(&self, actor: &Actor, hub_department: &str) -> Result<usize> {
        let mut installed = 0;
        for input in figures::builtin(hub_department) {
            if self
                .store()
                .indicator(&input.code)
                .await
                .map_err(internal)?
                .is_some()
            {
                continue;
            }
            self.save(actor, &input).await?;
            self.submit(actor, &input.code).await?;
            self.review(
                actor,
                &input.code,
                true,
                "枢纽内置指标 / built-in indicator",
            )
            .await?;
            installed += 1;
        }
        Ok(installed)
    }

    /// Sends the draft (or returned) version for the hub's review.
    pub async fn submit(&self, actor: &Actor, code: &str) -> Result<i64> {
        let row = self.indicator_row(code).await?;
        decide(
            actor,
            Action::DefineIndicators,
            Target::SharingOf {
                department: &row.department,
            },
        )
        .map_err(IndicatorError::Denied)?;
        let mut tx = self.store().begin().await.map_err(internal)?;
        let versions = tx.indicator_versions(code).await.map_err(internal)?;
        let Some(mut v) = versions
            .into_iter()
            .next()
            .filter(|v| v.state == version_state::DRAFT || v.state == version_state::RETURNED)
        else {
            return Err(IndicatorError::state(
                "没有待提交的草稿版本",
                "there is no draft version to submit",
            ));
        };
        v.state = version_state::SUBMITTED.into();
        tx.put_indicator_version(&v).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.admin(actor, "indicator.submit", code, &format!("v{}", v.version))
            .await?;
        Ok(v.version)
    }

    /// The hub publishes the submitted version (it comes into force and is scheduled) or
    /// returns it with a reason.
    pub async fn review(
        &self,
        actor: &Actor,
        code: &str,
        publish: bool,
        comment: &str,
    ) -> Result<i64> {
        decide(actor, Action::ReviewIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        if !publish && comment.trim().is_empty() {
            return Err(IndicatorError::Fields(vec![shuniu_types::FieldError::new(
                "comment",
                "INDICATOR_FIELD",
                "退回须说明理由",
                "give the reason for returning it",
            )]));
        }
        let now = now_text();
        let mut tx = self.store().begin().await.map_err(internal)?;
        let mut row = tx
            .indicator(code)
            .await
            .map_err(internal)?
            .ok_or_else(|| IndicatorError::NotFound(format!("indicator {code}")))?;
        let versions = tx.indicator_versions(code).await.map_err(internal)?;
        let Some(mut v) = versions
            .iter()
            .find(|v| v.state == version_state::SUBMITTED)
            .cloned()
        else {
            return Err(IndicatorError::state(
                "没有待审核的版本",
                "no version is waiting for review",
            ));
        };
        v.reviewer = Some(actor.principal.clone());
        v.reviewed_at = Some(now.clone());
        v.comment = comment.trim().to_string();
        if publish {
            let spec = parse_spec(&v.spec).ok_or_else(|| internal("stored definition"))?;
            for old in versions
                .iter()
                .filter(|o| o.state == version_state::PUBLISHED)
            {
                let mut old = old.clone();
                old.state = version_state::SUPERSEDED.into();
                tx.put_indicator_version(&old).await.map_err(internal)?;
            }
            v.state = version_state::PUBLISHED.into();
            row.name = spec.name.clone();
            row.department = spec.department.clone();
            row.unit = spec.unit.clone();
            row.grain = spec.grain.code().into();
            row.version = v.version;
            row.spec = v.spec.clone();
            row.schedule = spec.schedule.clone();
            row.next_run_at = next_run(&spec.schedule, Utc::now());
            row.updated_at = now.clone();
            tx.put_indicator(&row).await.map_err(internal)?;
        } else {
            v.state = version_state::RETURNED.into();
        }
        tx.put_indicator_version(&v).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.admin(
            actor,
            if publish {
                "indicator.publish"
            } else {
                "indicator.return"
            },
            code,
            &format!("v{} {}", v.version, comment.trim()),
        )
        .await?;
        Ok(v.version)
    }

    async fn indicator_row(&self, code: &str) -> Result<IndicatorRow> {
        self.store()
            .indicator(code)
            .await
            .map_err(internal)?
            .ok_or_else(|| IndicatorError::NotFound(format!("indicator {code}")))
    }

    /// Every indicator (published or not yet) with its latest city-wide value.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<IndicatorSummary>> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        let open: HashMap<String, i64> = self
            .store()
            .open_alert_counts()
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        Ok(self
            .store()
            .indicators()
            .await
            .map_err(internal)?
            .iter()
            .map(|r| summary(r, open.get(&r.code).copied().unwrap_or(0)))
            .collect())
    }

    /// One indicator as lists show it: what a page or call needs without the history.
    pub async fn summary(&self, actor: &Actor, code: &str) -> Result<IndicatorSummary> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        let row = self.indicator_row(code).await?;
        let open = self
            .store()
            .open_alert_counts()
            .await
            .map_err(internal)?
            .into_iter()
            .find(|(c, _)| c == code)
            .map_or(0, |(_, n)| n);
        Ok(summary(&row, open))
    }

    /// When any indicator was last computed: what a screen watches to know it is stale.
    pub async fn last_computed(&self, actor: &Actor) -> Result<Option<String>> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        self.store().indicators_last_run().await.map_err(internal)
    }

    pub async fn get(&self, actor: &Actor, code: &str) -> Result<IndicatorDetail> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        let row = self.indicator_row(code).await?;
        let versions = self
            .store()
            .indicator_versions(code)
            .await
            .map_err(internal)?;
        let runs = self
            .store()
            .indicator_runs(code, 20)
            .await
            .map_err(internal)?;
        let alerts = self
            .store()
            .indicator_alerts(&AlertFilter {
                code: Some(code.to_string()),
                limit: 50,
                ..Default::default()
            })
            .await
            .map_err(internal)?;
        let open = alerts.iter().filter(|a| a.state == "open").count() as i64;
        Ok(IndicatorDetail {
            summary: summary(&row, open),
            spec: parse_spec(&row.spec),
            versions: versions
                .iter()
                .map(|v| VersionView {
                    version: v.version,
                    state: v.state.clone(),
                    author: v.author.clone(),
                    created_at: v.created_at.clone(),
                    reviewer: v.reviewer.clone(),
                    reviewed_at: v.reviewed_at.clone(),
                    comment: v.comment.clone(),
                    spec: parse_spec(&v.spec),
                })
                .collect(),
            runs: runs
                .iter()
                .map(|r| RunView {
                    id: r.id.clone(),
                    version: r.version,
                    trigger: r.trigger.clone(),
                    started_at: r.started_at.clone(),
                    finished_at: r.finished_at.clone(),
                    state: r.state.clone(),
                    rows: r.rows_written,
                    sources: r.sources.clone(),
                    values_version: r.values_version,
                    error: r.error.clone(),
                })
                .collect(),
            alerts: alerts.iter().map(alert_view).collect(),
        })
    }

    /// The series of a published indicator.
    pub async fn values(
        &self,
        actor: &Actor,
        code: &str,
        q: &SeriesQuery,
    ) -> Result<Vec<SeriesPoint>> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        let row = self.indicator_row(code).await?;
        let grain = Grain::parse(&row.grain).ok_or_else(|| internal("stored grain"))?;
        values::series(&self.inner.lake, code, grain, q).await
    }

    pub async fn alerts(&self, actor: &Actor, f: &AlertFilter) -> Result<Vec<AlertView>> {
        decide(actor, Action::ReadIndicators, Target::Hub).map_err(IndicatorError::Denied)?;
        Ok(self
            .store()
            .indicator_alerts(f)
            .await
            .map_err(internal)?
            .iter()
            .map(alert_view)
            .collect())
    }

    /// Computes the indicators whose schedule is due (the scheduler's tick).
    pub async fn run_due(&self) -> Result<Vec<RunOutcome>> {
        let due = self
            .store()
            .due_indicators(&now_text())
            .await
            .map_err(internal)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<String> = due.into_iter().map(|r| r.code).collect();
        self.compute_as(&scheduler(), &codes, Trigger::Schedule, &Range::default())
            .await
    }

    /// Computes published indicators now, on demand (or a backfill of a range of periods).
    pub async fn compute(
        &self,
        actor: &Actor,
        codes: &[String],
        range: &Range,
    ) -> Result<Vec<RunOutcome>> {
        let mut rows = Vec::new();
        for code in codes {
            let row = self.indicator_row(code).await?;
            decide(
                actor,
                Action::DefineIndicators,
                Target::SharingOf {
                    department: &row.department,
                },
            )
            .map_err(IndicatorError::Denied)?;
            if row.version == 0 {
                return Err(IndicatorError::state(
                    format!("指标 {code} 尚未发布，不能计算"),
                    format!("indicator {code} is not published yet: it cannot be computed"),
                ));
            }
            rows.push(row.code);
        }
        let trigger = if range.from.is_some() || range.to.is_some() {
            Trigger::Backfill
        } else {
            Trigger::Demand
        };
        self.compute_as(actor, &rows, trigger, range).await
    }

    async fn compute_as(
        &self,
        actor: &Actor,
        codes: &[String],
        trigger: Trigger,
        range: &Range,
    ) -> Result<Vec<RunOutcome>> {
        let _one = self.inner.computing.lock().await;
        let started = now_text();
        struct Done {
            row: IndicatorRow,
            spec: IndicatorSpec,
            run_id: String,
            result: Result<Evaluated>,
        }
        let mut done: Vec<Done> = Vec::new();
        // One computation reads one state of the lake: each table at the version it had when
        // the first of its indicators opened it (and its log read once, not per indicator).
        let pinned = shuniu_lake::Pinned::new();
        for code in codes {
            let row = self.indicator_row(code).await?;
            let Some(spec) = parse_spec(&row.spec) else {
                continue;
            };
            let run_id = format!("R{}-{}", Utc::now().format("%Y%m%d%H%M%S"), random_hex(4)?);
            let result = self.evaluate(&spec, range, Some(&pinned)).await;
            done.push(Done {
                row,
                spec,
                run_id,
                result,
            });
        }
        let computed_at = now_text();
        let sources_json = |s: &[(String, i64)]| {
            serde_json::Value::Array(
                s.iter()
                    .map(|(r, v)| serde_json::json!({"resource": r, "version": v}))
                    .collect(),
            )
        };
        let batch: Vec<RunRows> = done
            .iter()
            .filter_map(|d| {
                let (rows, sources) = d.result.as_ref().ok()?;
                Some(RunRows {
                    code: &d.row.code,
                    version: d.row.version,
                    run_id: &d.run_id,
                    computed_at: &computed_at,
                    sources: sources_json(sources).to_string(),
                    rows,
                })
            })
            .collect();
        let values_version = values::append(&self.inner.lake, &batch).await?;
        drop(batch);
        let today = Utc::now().with_timezone(&beijing()).date_naive();
        let mut outcomes = Vec::new();
        let mut to_file: Vec<(IndicatorAlertRow, IndicatorSpec)> = Vec::new();
        let mut reads = Vec::new();
        // The runs, latest figures and alerts of one computation are one transaction (one
        // commit, not one per indicator): all of them are kept, or none and the values table's
        // rows stand without runs that name them, as after a crash between the two.
        let mut tx = self.store().begin().await.map_err(internal)?;
        for d in &done {
            let (state, rows, sources, error) = match &d.result {
                Ok((rows, sources)) => ("succeeded", rows.as_slice(), sources_json(sources), None),
                Err(e) => ("failed", &[][..], serde_json::json!([]), Some(e)),
            };
            tx.put_indicator_run(&IndicatorRunRow {
                id: d.run_id.clone(),
                code: d.row.code.clone(),
                version: d.row.version,
                trigger: trigger.code().into(),
                started_at: started.clone(),
                finished_at: Some(computed_at.clone()),
                state: state.into(),
                rows_written: rows.len() as i64,
                sources,
                values_version: if error.is_none() {
                    values_version
                } else {
                    None
                },
                error: error
                    .map(|e| {
                        let p = shuniu_types::Classified::problem(e);
                        format!("{} / {}", p.message_zh, p.message_en)
                    })
                    .unwrap_or_default(),
                actor: actor.principal.clone(),
            })
            .await
            .map_err(internal)?;
            let mut row = tx
                .indicator(&d.row.code)
                .await
                .map_err(internal)?
                .unwrap_or_else(|| d.row.clone());
            row.last_run_at = Some(computed_at.clone());
            if trigger == Trigger::Schedule || row.next_run_at.is_none() {
                row.next_run_at = next_run(&d.spec.schedule, Utc::now());
            }
            let mut opened = 0;
            let mut resolved = 0;
            if error.is_none() {
                if let Some(city) = rows.iter().filter(|r| r.is_city()).max_by_key(|r| r.period) {
                    let newer = row
                        .latest_period
                        .as_deref()
                        .and_then(|p| Period::parse(d.spec.grain, p))
                        .is_none_or(|p| city.period >= p || trigger != Trigger::Backfill);
                    if newer {
                        row.latest_period = Some(city.period.to_string());
                        row.latest_value = city.value.map(|v| v.to_string());
                    }
                }
                // A backfill rewrites the past: it neither opens nor resolves alerts.
                if trigger != Trigger::Backfill && !d.spec.thresholds.is_empty() {
                    let (o, r, new) = self
                        .judge(
                            &mut tx,
                            &d.spec,
                            rows,
                            &d.run_id,
                            Period::containing(d.spec.grain, today),
                        )
                        .await?;
                    opened = o;
                    resolved = r;
                    to_file.extend(new.into_iter().map(|a| (a, d.spec.clone())));
                }
            }
            tx.put_indicator(&row).await.map_err(internal)?;
            if let Ok((_, sources)) = &d.result {
                reads.extend(self.read_entries(actor, &d.spec, sources, rows.len()));
            }
            outcomes.push(RunOutcome {
                code: d.row.code.clone(),
                run_id: d.run_id.clone(),
                state: state.into(),
                rows: rows.len(),
                error: error.map(|e| e.to_string()),
                alerts_opened: opened,
                alerts_resolved: resolved,
            });
        }
        tx.commit().await.map_err(internal)?;
        self.audit_reads(reads).await?;
        for (alert, spec) in to_file {
            self.file_event(alert, &spec).await;
        }
        Ok(outcomes)
    }

    /// Opens, keeps and resolves one indicator's alerts after a run. Returns the counts and
    /// the alerts that still need an event.
    async fn judge(
        &self,
        tx: &mut shuniu_store::Tx,
        spec: &IndicatorSpec,
        rows: &[ValueRow],
        run_id: &str,
        today: Period,
    ) -> Result<(usize, usize, Vec<IndicatorAlertRow>)> {
        let latest = rows.iter().map(|r| r.period).max();
        let mut previous: HashMap<(String, String), f64> = HashMap::new();
        if let (Some(latest), Some(_)) = (latest, spec.thresholds.change) {
            for r in rows.iter().filter(|r| r.period == latest.previous()) {
                if let Some(v) = r.value {
                    previous.insert((r.district.clone(), r.street.clone()), v);
                }
            }
            if previous.is_empty() {
                // A snapshot indicator reports only the current period: the one before is
                // in the values table.
                let q = SeriesQuery {
                    from: Some(latest.previous()),
                    to: Some(latest.previous()),
                    ..Default::default()
                };
                for p in values::series(&self.inner.lake, &spec.code, spec.grain, &q).await? {
                    if let Some(v) = p.value {
                        previous.insert((p.district, p.street), v);
                    }
                }
            }
        }
        let (_, found) = crossings(spec, rows, today, &previous);
        let open = tx
            .open_indicator_alerts(&spec.code)
            .await
            .map_err(internal)?;
        let now = now_text();
        let key = |d: &str, s: &str, k: &str| (d.to_string(), s.to_string(), k.to_string());
        let found_keys: BTreeSet<(String, String, String)> = found
            .iter()
            .map(|c| key(&c.district, &c.street, c.kind))
            .collect();
        let present: BTreeSet<(String, String)> = rows
            .iter()
            .filter(|r| Some(r.period) == latest)
            .map(|r| (r.district.clone(), r.street.clone()))
            .collect();
        let mut resolved = 0;
        let mut opened = 0;
        let mut unfiled = Vec::new();
        for a in &open {
            let k = key(&a.district, &a.street, &a.kind);
            let judged =
                a.kind == "no_data" || present.contains(&(a.district.clone(), a.street.clone()));
            if !found_keys.contains(&k) && judged {
                let mut a = a.clone();
                a.state = "resolved".into();
                a.resolved_at = Some(now.clone());
                a.updated_at = now.clone();
                a.run_id = run_id.to_string();
                tx.put_indicator_alert(&a).await.map_err(internal)?;
                self.notify(tx, spec, &a, "indicator.alert.resolved")
                    .await?;
                resolved += 1;
            }
        }
        let by_key: BTreeMap<(String, String, String), &IndicatorAlertRow> = open
            .iter()
            .map(|a| (key(&a.district, &a.street, &a.kind), a))
            .collect();
        for c in &found {
            let k = key(&c.district, &c.street, c.kind);
            let alert = match by_key.get(&k) {
                Some(existing) => {
                    let mut a = (*existing).clone();
                    a.period = c.period.to_string();
                    a.value = c.value.map(|v| v.to_string());
                    a.bound = c.bound.map(|v| v.to_string());
                    a.updated_at = now.clone();
                    a.run_id = run_id.to_string();
                    a
                }
                None => {
                    opened += 1;
                    IndicatorAlertRow {
                        id: format!("AL{}-{}", Utc::now().format("%Y%m%d"), random_hex(5)?),
                        code: spec.code.clone(),
                        district: c.district.clone(),
                        street: c.street.clone(),
                        kind: c.kind.into(),
                        severity: spec.severity.code().into(),
                        state: "open".into(),
                        period: c.period.to_string(),
                        value: c.value.map(|v| v.to_string()),
                        bound: c.bound.map(|v| v.to_string()),
                        opened_at: now.clone(),
                        updated_at: now.clone(),
                        resolved_at: None,
                        event_id: None,
                        run_id: run_id.to_string(),
                    }
                }
            };
            tx.put_indicator_alert(&alert).await.map_err(internal)?;
            if !by_key.contains_key(&k) {
                self.notify(tx, spec, &alert, "indicator.alert.opened")
                    .await?;
            }
            if alert.event_id.is_none() {
                unfiled.push(alert);
            }
        }
        Ok((opened, resolved, unfiled))
    }

    /// Puts a call of the indicator's webhook (if it has one) in the outbox, in the
    /// transaction that opens or resolves the alert: the call is made if and only if the
    /// change is kept.
    async fn notify(
        &self,
        tx: &mut shuniu_store::Tx,
        spec: &IndicatorSpec,
        alert: &IndicatorAlertRow,
        kind: &str,
    ) -> Result<()> {
        if spec.webhook.is_empty() {
            return Ok(());
        }
        let number = |t: &Option<String>| t.as_deref().and_then(|v| v.parse::<f64>().ok());
        let body = serde_json::json!({
            "type": kind,
            "alert": alert.id,
            "indicator": spec.code,
            "name": spec.name,
            "unit": spec.unit,
            "department": spec.department,
            "kind": alert.kind,
            "severity": alert.severity,
            "period": alert.period,
            "district": alert.district,
            "street": alert.street,
            "value": number(&alert.value),
            "bound": number(&alert.bound),
            "state": alert.state,
            "opened_at": alert.opened_at,
            "resolved_at": alert.resolved_at,
        });
        let now = now_text();
        tx.enqueue_notification(&NotificationRow {
            id: format!("N{}-{}", Utc::now().format("%Y%m%d"), random_hex(6)?),
            topic: topic(&spec.code),
            kind: kind.to_string(),
            url: spec.webhook.clone(),
            body: body.to_string(),
            state: shuniu_types::states::DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: now.clone(),
            last_error: String::new(),
            created_at: now,
            delivered_at: None,
        })
        .await
        .map_err(internal)
    }

    /// An indicator's webhook calls, newest first: for its owner and the hub.
    pub async fn notifications(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<Vec<shuniu_store::NotificationRow>> {
        let row = self.indicator_row(code).await?;
        decide(
            actor,
            Action::DefineIndicators,
            Target::SharingOf {
                department: &row.department,
            },
        )
        .map_err(IndicatorError::Denied)?;
        self.inner
            .sharing
            .notifications(&topic(code), 50)
            .await
            .map_err(internal)
    }

    /// Files an alert as a city event routed to the indicator's department. A failure is
    /// logged and left for the next run (the alert keeps no event id until one is filed).
    async fn file_event(&self, mut alert: IndicatorAlertRow, spec: &IndicatorSpec) {
        let kind_zh = match alert.kind.as_str() {
            "upper" => "高于上限",
            "lower" => "低于下限",
            "change" => "环比变动超过阈值",
            _ => "无数据",
        };
        let place = match shuniu_events::model::DISTRICTS
            .iter()
            .find(|d| d.0 == alert.district)
        {
            _ if alert.district.is_empty() => "全市".to_string(),
            Some(d) => format!("{}（{}）{}", d.1, d.0, alert.street),
            None => format!("{}{}", alert.district, alert.street),
        };
        let description = format!(
            "指标预警：{}（{}）{} {} {}：值 {}{}，阈值 {} / Indicator alert: {} {} {} {}",
            spec.name,
            spec.code,
            alert.period,
            place,
            kind_zh,
            alert.value.clone().unwrap_or_else(|| "—".into()),
            spec.unit,
            alert.bound.clone().unwrap_or_else(|| "—".into()),
            spec.code,
            alert.period,
            alert.kind,
            alert.value.clone().unwrap_or_default(),
        );
        let report = Report {
            channel: Some(Channel::Indicator),
            category: Some(spec.event_category.clone()),
            description,
            district: Some(if alert.district.is_empty() {
                shuniu_events::model::CITY_DIVISION.to_string()
            } else {
                alert.district.clone()
            }),
            department: Some(spec.department.clone()),
            urgency: Some(match spec.severity {
                Severity::Critical => Urgency::Urgent,
                _ => Urgency::Normal,
            }),
            external_id: Some(alert.id.clone()),
            ..Default::default()
        };
        match self.inner.events.report(&scheduler(), report).await {
            Ok(e) => {
                alert.event_id = Some(e.id);
                let saved = async {
                    let mut tx = self.store().begin().await.map_err(internal)?;
                    tx.put_indicator_alert(&alert).await.map_err(internal)?;
                    tx.commit().await.map_err(internal)
                };
                if let Err(e) = saved.await {
                    tracing::warn!(alert = %alert.id, error = %e, "alert's event id not kept");
                }
            }
            Err(e) => {
                tracing::warn!(alert = %alert.id, error = %e, "alert not filed as an event");
            }
        }
    }

    /// The audit entries of one indicator's reads: one per dataset version read.
    fn read_entries(
        &self,
        actor: &Actor,
        spec: &IndicatorSpec,
        sources: &[(String, i64)],
        rows: usize,
    ) -> Vec<(String, Entry)> {
        sources
            .iter()
            .map(|(code, version)| {
                (
                    code.clone(),
                    Entry::by(
                        Kind::Access,
                        "indicator.compute",
                        &actor.principal,
                        &actor.department,
                    )
                    .target(spec.code.clone())
                    .rows(rows as u64)
                    .purpose(Some(format!("指标计算 {} {}", spec.code, spec.name)))
                    .detail(format!("v{version}")),
                )
            })
            .collect()
    }

    /// Records a computation's reads, each with the provider of the dataset read, in one
    /// append to the audit log.
    async fn audit_reads(&self, reads: Vec<(String, Entry)>) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let mut codes: Vec<String> = reads.iter().map(|(c, _)| c.clone()).collect();
        codes.sort();
        codes.dedup();
        let providers: HashMap<String, String> = self
            .store()
            .resources_by_code(&codes)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|r| (r.code, r.spec.provider))
            .collect();
        let entries = reads
            .into_iter()
            .map(|(code, e)| {
                let provider = providers.get(&code).cloned().unwrap_or_default();
                e.resource(&code, &provider)
            })
            .collect();
        self.inner
            .audit
            .record_all(entries)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn admin(&self, actor: &Actor, action: &str, target: &str, detail: &str) -> Result<()> {
        self.inner
            .audit
            .record(
                Entry::by(Kind::Admin, action, &actor.principal, &actor.department)
                    .target(target.to_string())
                    .detail(detail.to_string()),
            )
            .await
            .map_err(internal)?;
        Ok(())
    }
}

/// The scheduler's identity: the hub computing on its own schedule.
fn scheduler() -> Actor {
    Actor {
        principal: "system:indicators".into(),
        display_name: "指标调度 / indicator scheduler".into(),
        role: shuniu_types::Role::HubOperator,
        department: Actor::local_operator().department,
    }
}

/// Adds the figures a breakdown implies but the query did not give: each district's sum of
/// its streets, and the city's sum of the finest breakdown, per period.
fn roll_up(rows: &mut Vec<ValueRow>, seen: &BTreeSet<(Period, String, String)>) {
    let mut districts: BTreeMap<(Period, String), f64> = BTreeMap::new();
    let mut city: BTreeMap<Period, f64> = BTreeMap::new();
    let has_streets = rows.iter().any(|r| !r.street.is_empty());
    for r in rows.iter() {
        let Some(v) = r.value else { continue };
        if has_streets {
            if !r.street.is_empty() {
                *districts.entry((r.period, r.district.clone())).or_default() += v;
                *city.entry(r.period).or_default() += v;
            }
        } else if !r.district.is_empty() {
            *city.entry(r.period).or_default() += v;
        }
    }
    for ((period, district), v) in districts {
        if !district.is_empty() && !seen.contains(&(period, district.clone(), String::new())) {
            rows.push(ValueRow {
                period,
                district,
                street: String::new(),
                value: Some(v),
            });
        }
    }
    for (period, v) in city {
        if !seen.contains(&(period, String::new(), String::new())) {
            rows.push(ValueRow {
                period,
                district: String::new(),
                street: String::new(),
                value: Some(v),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Thresholds;

    fn spec(t: Thresholds) -> IndicatorSpec {
        IndicatorInput {
            code: "IND-T-1".into(),
            name: "测试".into(),
            department: "D".into(),
            sql: "SELECT 1 AS value".into(),
            grain: "month".into(),
            dimensions: vec!["district".into()],
            thresholds: t,
            ..Default::default()
        }
        .validate()
        .expect("valid")
    }

    fn row(p: &str, d: &str, v: f64) -> ValueRow {
        ValueRow {
            period: Period::parse(Grain::Month, p).expect("period"),
            district: d.into(),
            street: String::new(),
            value: Some(v),
        }
    }

    #[test]
    fn bounds_are_judged_on_the_latest_period_only() {
        let s = spec(Thresholds {
            upper: Some(100.0),
            lower: Some(10.0),
            ..Default::default()
        });
        let rows = vec![
            row("2026-10", "370202", 500.0),
            row("2026-11", "370202", 50.0),
            row("2026-11", "370203", 5.0),
        ];
        let today = Period::parse(Grain::Month, "2026-11").expect("p");
        let (latest, c) = crossings(&s, &rows, today, &HashMap::new());
        assert_eq!(latest.map(|p| p.to_string()), Some("2026-11".into()));
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].kind, c[0].district.as_str()), ("lower", "370203"));
    }

    #[test]
    fn change_against_the_period_before_and_no_data() {
        let s = spec(Thresholds {
            change: Some(0.2),
            no_data: true,
            ..Default::default()
        });
        let rows = vec![row("2026-09", "370202", 100.0)];
        let today = Period::parse(Grain::Month, "2026-11").expect("p");
        let mut before = HashMap::new();
        before.insert(("370202".to_string(), String::new()), 70.0);
        let (_, c) = crossings(&s, &rows, today, &before);
        let kinds: Vec<&str> = c.iter().map(|c| c.kind).collect();
        // 2026-09 is older than the month before November: no data; 100 against 70 is +43 %.
        assert_eq!(kinds, vec!["no_data", "change"]);
        let (_, none) = crossings(&s, &[row("2026-10", "370202", 75.0)], today, &before);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn additive_breakdowns_roll_up_to_districts_and_the_city() {
        let mut rows = vec![
            ValueRow {
                street: "370202001".into(),
                ..row("2026-11", "370202", 3.0)
            },
            ValueRow {
                street: "370202002".into(),
                ..row("2026-11", "370202", 4.0)
            },
            ValueRow {
                street: "370203001".into(),
                ..row("2026-11", "370203", 5.0)
            },
        ];
        let seen = rows
            .iter()
            .map(|r| (r.period, r.district.clone(), r.street.clone()))
            .collect();
        roll_up(&mut rows, &seen);
        let find = |d: &str| {
            rows.iter()
                .find(|r| r.district == d && r.street.is_empty())
                .and_then(|r| r.value)
        };
        assert_eq!(find("370202"), Some(7.0));
        assert_eq!(find("370203"), Some(5.0));
        assert_eq!(find(""), Some(12.0));
    }
}
