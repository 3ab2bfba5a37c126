//! An indicator's definition (指标定义): what it measures in words (口径), where it comes from
//! (a SQL query over the lake's datasets), at which grain and by which dimensions, when it is
//! computed, and the bounds that raise an alert. `IndicatorInput` is what a form or a file
//! says; `IndicatorSpec` is a definition whose every field was checked.

use serde::{Deserialize, Serialize};
use shuniu_types::FieldError;

use crate::IndicatorError;
use crate::period::Grain;

/// A breakdown an indicator's query may report by, named as its output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// A district's GB/T 2260 code (6 digits).
    District,
    /// A street's (乡镇街道) 9-digit code.
    Street,
}

impl Dimension {
    pub fn column(self) -> &'static str {
        match self {
            Dimension::District => "district",
            Dimension::Street => "street",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        match s.trim() {
            "district" => Some(Dimension::District),
            "street" => Some(Dimension::Street),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.code() == s.trim())
    }
}

/// The bounds a value is held to; any of them may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Alert when the value is above this.
    #[serde(default)]
    pub upper: Option<f64>,
    /// Alert when the value is below this.
    #[serde(default)]
    pub lower: Option<f64>,
    /// Alert when the value moved by more than this share (0.2 = 20 %) against the previous
    /// period (环比).
    #[serde(default)]
    pub change: Option<f64>,
    /// Alert when a computation finds no value for the current period.
    #[serde(default)]
    pub no_data: bool,
}

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.upper.is_none() && self.lower.is_none() && self.change.is_none() && !self.no_data
    }
}

/// A target set by a plan: the value the city means to reach by a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The period the target is for, at the indicator's grain (a year: `2027`).
    pub period: String,
    pub value: f64,
    /// The plan or document that set it.
    #[serde(default)]
    pub basis: String,
}

/// An indicator's definition as a form, file or API call gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorInput {
    pub code: String,
    pub name: String,
    /// 口径: what is counted, how, and what is left out.
    #[serde(default)]
    pub definition: String,
    #[serde(default)]
    pub unit: String,
    /// The owning department's code: it answers for the indicator and receives its alerts.
    pub department: String,
    /// The catalog resources the query reads (their codes are its table names).
    #[serde(default)]
    pub resources: Vec<String>,
    pub sql: String,
    /// day | month | quarter | year
    pub grain: String,
    /// district | street: the output columns the query reports by.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Cron, five fields (Beijing time): `0 2 * * *` is 02:00 every day.
    #[serde(default)]
    pub schedule: String,
    /// Rows of different districts add up to the city's figure (counts do; rates do not).
    #[serde(default)]
    pub additive: bool,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub targets: Vec<Target>,
    /// The event category an alert is filed under (a leaf of the event tree).
    #[serde(default)]
    pub event_category: String,
    /// A key indicator (重点指标): the city screen shows it among its cards.
    #[serde(default)]
    pub key: bool,
    /// Where the owner's system hears of this indicator's alerts (opened, resolved): an http(s)
    /// URL, called with a signed POST. Empty: alerts reach the event centre only.
    #[serde(default)]
    pub webhook: String,
}

/// A checked definition. The query's columns are checked against the lake when it is saved
/// (see `Indicators::save`), not here: this is the part that needs no data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorSpec {
    pub code: String,
    pub name: String,
    pub definition: String,
    pub unit: String,
    pub department: String,
    pub resources: Vec<String>,
    pub sql: String,
    pub grain: Grain,
    pub dimensions: Vec<Dimension>,
    pub schedule: String,
    pub additive: bool,
    pub thresholds: Thresholds,
    pub severity: Severity,
    pub targets: Vec<Target>,
    pub event_category: String,
    /// Definitions saved before key indicators existed read as not key.
    #[serde(default)]
    pub key: bool,
    #[serde(default)]
    pub webhook: String,
}

fn problem(field: &str, zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new(field, "INDICATOR_FIELD", zh, en)
}

/// Indicator codes: capitals, digits and dashes, starting with a letter (`IND-POP-001`).
pub fn code_ok(code: &str) -> bool {
    (3..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parses a five-field cron expression (Beijing time) as the scheduler does.
pub fn schedule(expr: &str) -> Option<cron::Schedule> {
    use std::str::FromStr;
    let e = expr.trim();
    if e.split_whitespace().count() != 5 {
        return None;
    }
    cron::Schedule::from_str(&format!("0 {e}")).ok()
}

impl IndicatorInput {
    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<IndicatorSpec, IndicatorError> {
        let mut problems = Vec::new();
        let code = self.code.trim().to_string();
        if !code_ok(&code) {
            problems.push(problem(
                "code",
                "指标编码由大写字母、数字和“-”组成，以字母开头，3 至 40 位",
                "an indicator code is 3 to 40 capitals, digits and dashes, starting with a letter",
            ));
        }
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            problems.push(problem(
                "name",
                "请填写指标名称（不超过 100 字）",
                "give the indicator a name (at most 100 characters)",
            ));
        }
        if self.department.trim().is_empty() {
            problems.push(problem(
                "department",
                "请指定责任部门",
                "name the department responsible",
            ));
        }
        if self.sql.trim().is_empty() {
            problems.push(problem(
                "sql",
                "请填写取数 SQL",
                "give the query that computes the indicator",
            ));
        }
        let grain = Grain::parse(&self.grain);
        if grain.is_none() {
            problems.push(problem(
                "grain",
                "时间粒度须为 day、month、quarter 或 year",
                "the grain is day, month, quarter or year",
            ));
        }
        let mut dimensions = Vec::new();
        for d in &self.dimensions {
            match Dimension::parse(d) {
                Some(d) if !dimensions.contains(&d) => dimensions.push(d),
                Some(_) => {}
                None => problems.push(problem(
                    "dimensions",
                    format!("不支持的维度“{d}”：可用 district（区县）、street（街道）"),
                    format!("unknown dimension {d:?}: use district or street"),
                )),
            }
        }
        dimensions.sort();
        let schedule_text = self.schedule.trim().to_string();
        if !schedule_text.is_empty() && schedule(&schedule_text).is_none() {
            problems.push(problem(
                "schedule",
                "计算周期须为五段 cron 表达式（北京时间），例如“0 2 * * *”表示每天 2 点",
                "the schedule is a five-field cron expression in Beijing time, e.g. \"0 2 * * *\" for 02:00 daily",
            ));
        }
        let severity = if self.severity.trim().is_empty() {
            Some(Severity::Warning)
        } else {
            Severity::parse(&self.severity)
        };
        if severity.is_none() {
            problems.push(problem(
                "severity",
                "预警级别须为 info、warning 或 critical",
                "the severity is info, warning or critical",
            ));
        }
        let t = &self.thresholds;
        if let (Some(lo), Some(hi)) = (t.lower, t.upper)
            && lo > hi
        {
            problems.push(problem(
                "thresholds",
                "下限不能大于上限",
                "the lower bound is above the upper bound",
            ));
        }
        if [t.lower, t.upper, t.change]
            .iter()
            .flatten()
            .any(|v| !v.is_finite())
            || t.change.is_some_and(|c| c <= 0.0)
        {
            problems.push(problem(
                "thresholds",
                "阈值须为有限数，变动幅度须大于 0",
                "bounds are finite numbers and a change bound is above 0",
            ));
        }
        if let Some(g) = grain {
            for target in &self.targets {
                if crate::period::Period::parse(g, &target.period).is_none()
                    || !target.value.is_finite()
                {
                    problems.push(problem(
                        "targets",
                        format!("目标期“{}”不是有效的{}期", target.period, g.label_zh()),
                        format!(
                            "target period {:?} is not a {} period",
                            target.period,
                            g.code()
                        ),
                    ));
                }
            }
        }
        let webhook = self.webhook.trim().to_string();
        let web = webhook.starts_with("https://") || webhook.starts_with("http://");
        if !webhook.is_empty() && !web {
            problems.push(problem(
                "webhook",
                "预警回调地址须为 http:// 或 https:// 开头的网址",
                "the alert webhook must be an http:// or https:// URL",
            ));
        }
        let mut resources: Vec<String> = self
            .resources
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        resources.sort();
        resources.dedup();
        match (grain, severity, problems.is_empty()) {
            (Some(grain), Some(severity), true) => Ok(IndicatorSpec {
                code,
                name,
                definition: self.definition.trim().to_string(),
                unit: self.unit.trim().to_string(),
                department: self.department.trim().to_string(),
                resources,
                sql: self.sql.trim().trim_end_matches(';').to_string(),
                grain,
                dimensions,
                schedule: schedule_text,
                additive: self.additive,
                thresholds: self.thresholds.clone(),
                severity,
                targets: self.targets.clone(),
                event_category: self.event_category.trim().to_string(),
                key: self.key,
                webhook,
            }),
            _ => Err(IndicatorError::Fields(problems)),
        }
    }
}

impl IndicatorSpec {
    pub fn input(&self) -> IndicatorInput {
        IndicatorInput {
            code: self.code.clone(),
            name: self.name.clone(),
            definition: self.definition.clone(),
            unit: self.unit.clone(),
            department: self.department.clone(),
            resources: self.resources.clone(),
            sql: self.sql.clone(),
            grain: self.grain.code().into(),
            dimensions: self
                .dimensions
                .iter()
                .map(|d| d.column().to_string())
                .collect(),
            schedule: self.schedule.clone(),
            additive: self.additive,
            thresholds: self.thresholds.clone(),
            severity: self.severity.code().into(),
            targets: self.targets.clone(),
            event_category: self.event_category.clone(),
            key: self.key,
            webhook: self.webhook.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> IndicatorInput {
        IndicatorInput {
            code: "IND-POP-001".into(),
            name: "户籍人口数".into(),
            department: "370200GA".into(),
            sql: "SELECT division AS district, COUNT(*) AS value FROM \"R1\" GROUP BY 1".into(),
            grain: "month".into(),
            dimensions: vec!["district".into()],
            schedule: "0 2 * * *".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_definition_is_accepted_as_written() {
        let spec = input().validate().expect("valid");
        assert_eq!(spec.grain, Grain::Month);
        assert_eq!(spec.dimensions, vec![Dimension::District]);
        assert_eq!(spec.severity, Severity::Warning);
        assert_eq!(spec.input().validate().expect("round trip"), spec);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = IndicatorInput {
            code: "ind 1".into(),
            grain: "week".into(),
            dimensions: vec!["county".into()],
            schedule: "every day".into(),
            severity: "loud".into(),
            thresholds: Thresholds {
                upper: Some(1.0),
                lower: Some(2.0),
                change: Some(-0.1),
                no_data: false,
            },
            ..input()
        };
        let Err(IndicatorError::Fields(p)) = bad.validate() else {
            panic!("refused");
        };
        let fields: Vec<&str> = p.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "code",
            "grain",
            "dimensions",
            "schedule",
            "severity",
            "thresholds",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(
            p.iter()
                .all(|f| !f.message_zh.is_empty() && !f.message_en.is_empty())
        );
    }
}
