//! A policy as a department writes it: who issued it under which document, whom it targets,
//! when it is in force, its conditions (each with the article it comes from), its amount and
//! its parameters; checked field by field, and planned into one query over the target's
//! library for a period.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use shuniu_types::FieldError;

use crate::RuleError;
use crate::parameters::Parameter;
use crate::rules::{self, Attribute, Compiled, TableRow, Vocabulary};

/// Whom a policy is for: the library it is evaluated over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// 个人: the population library (人口库).
    Persons,
    /// 企业: the legal-entity library (法人库).
    Enterprises,
}

/// One eligibility condition and the article it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub rule: String,
    /// 第三条第一款
    #[serde(default)]
    pub reference: String,
}

/// How much a qualifying person or enterprise receives per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amount {
    /// A formula (`注册资本 × 0.01`, or a fixed `1000`).
    Formula(String),
    /// A decision table: the first row that holds gives the amount.
    Table {
        rows: Vec<TableRow>,
        #[serde(default)]
        otherwise: Option<String>,
    },
}

/// A policy's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// `POL-GAOLING`: capitals, digits and dashes.
    pub code: String,
    pub name: String,
    /// The issuing department's code.
    pub department: String,
    /// 文号: 青政办发〔2024〕12号.
    pub document: String,
    pub target: TargetKind,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    pub conditions: Vec<Condition>,
    pub amount: Amount,
    /// 元/月
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Where a confirmed list's subjects are announced (the provincial app, an SMS gateway):
    /// an http(s) address, checked like a webhook's; empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notify: String,
}

/// A resource joined to the library for a policy's rules (see `vocabulary::joined`).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The joined resource's code (its lake table) and name.
    pub resource: String,
    pub name: String,
    pub provider: String,
    /// Whether the issuing department provides it itself (no grant involved).
    pub own: bool,
    /// The name its columns are read under: one per resource and issuing department (two
    /// departments' grants on one resource may reach different rows).
    pub alias: String,
    /// `LEFT JOIN (…) AS alias ON …`, after the library's table.
    pub sql: String,
}

/// A policy planned for one day: the filter and the amount as SQL over the target's table,
/// with what each condition read, and the joins the rules read through.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub conditions: Vec<Compiled>,
    pub amount: Compiled,
    /// The granted resources the rules read (only those: an unread join is not made).
    pub joins: Vec<Join>,
}

fn quoted_table(t: &str) -> String {
    format!("\"{}\"", t.replace('"', "\"\""))
}

impl Plan {
    /// Every condition together, as one filter.
    pub fn filter(&self) -> String {
        self.conditions
            .iter()
            .map(|c| c.sql.as_str())
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The FROM clause over `table` (the library, or some of its files) with the joins.
    pub fn from(&self, table: &str) -> String {
        from_with(table, &self.joins)
    }

    /// The lake tables a query over `library` reads.
    pub fn tables(&self, library: &str) -> Vec<String> {
        std::iter::once(library.to_string())
            .chain(self.joins.iter().map(|j| j.resource.clone()))
            .collect()
    }

    /// The count of eligible subjects and their total amount over `table`.
    pub fn totals_sql(&self, table: &str) -> String {
        format!(
            "SELECT COUNT(*) AS eligible, SUM(amount) AS amount FROM \
             (SELECT CAST({} AS DOUBLE) AS amount FROM {} WHERE {})",
            self.amount.sql,
            self.from(table),
            self.filter()
        )
    }
}

/// `table` followed by `joins` (each once).
pub fn from_with<'j>(table: &str, joins: impl IntoIterator<Item = &'j Join>) -> String {
    let mut out = quoted_table(table);
    let mut seen: Vec<&str> = Vec::new();
    for j in joins {
        if seen.contains(&j.alias.as_str()) {
            continue;
        }
        seen.push(&j.alias);
        out.push(' ');
        out.push_str(&j.sql);
    }
    out
}

fn code_ok(code: &str) -> bool {
    (3..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

fn field(f: &str, e: &RuleError) -> FieldError {
    let p = shuniu_types::Classified::problem(e);
    FieldError::new(f, p.code, p.message_zh, p.message_en)
}

/// The last day of the month `YYYY-MM`, the day a monthly evaluation takes its values at.
pub fn month_end(period: &str) -> Option<NaiveDate> {
    let first = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    next.pred_opt()
}

impl PolicyInput {
    /// Whether the policy is in force on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        day >= self.effective_from && self.effective_to.is_none_or(|to| day <= to)
    }

    /// Plans the policy for `day` over a library with `attributes` (some read through `joins`).
    pub fn plan(
        &self,
        attributes: &[Attribute],
        joins: &[Join],
        day: NaiveDate,
    ) -> Result<Plan, RuleError> {
        let vocab = Vocabulary {
            attributes,
            parameters: &self.parameters,
            day,
        };
        let conditions = self
            .conditions
            .iter()
            .map(|c| rules::condition(&c.rule, &vocab))
            .collect::<Result<Vec<_>, _>>()?;
        let amount = match &self.amount {
            Amount::Formula(f) => rules::amount(f, &vocab)?,
            Amount::Table { rows, otherwise } => {
                rules::decision_table(rows, otherwise.as_deref(), &vocab)?
            }
        };
        let read: Vec<&str> = conditions
            .iter()
            .chain(std::iter::once(&amount))
            .flat_map(|c| c.attributes.iter())
            .filter_map(|label| attributes.iter().find(|a| &a.label == label))
            .map(|a| a.source.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        let joins = joins
            .iter()
            .filter(|j| read.contains(&j.alias.as_str()))
            .cloned()
            .collect();
        Ok(Plan {
            conditions,
            amount,
            joins,
        })
    }

    /// Checks every field and every rule (at the first day in force, with the parameters'
    /// values then), and reports every problem at once, each under its field
    /// (`conditions[2]`, `amount`, `parameters[0]`).
    pub fn check(&self, attributes: &[Attribute]) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut fail = |f: &str, code: &'static str, zh: &str, en: &str| {
            problems.push(FieldError::new(f, code, zh, en));
        };
        if !code_ok(&self.code) {
            fail(
                "code",
                "POLICY_FIELD",
                "政策编码由大写字母、数字和“-”组成，以字母开头，3 至 40 位",
                "a policy code is 3 to 40 capitals, digits and dashes, starting with a letter",
            );
        }
        if self.name.trim().is_empty() {
            fail(
                "name",
                "POLICY_FIELD",
                "请填写政策名称",
                "the policy needs a name",
            );
        }
        if self.document.trim().is_empty() {
            fail(
                "document",
                "POLICY_FIELD",
                "请填写政策文件文号（依据）",
                "the policy needs the number of the document it rests on",
            );
        }
        if self.effective_to.is_some_and(|to| to < self.effective_from) {
            fail(
                "effective_to",
                "POLICY_FIELD",
                "失效日期早于生效日期",
                "the policy ends before it starts",
            );
        }
        if self.conditions.is_empty() {
            fail(
                "conditions",
                "POLICY_FIELD",
                "至少需要一个条件（否则人人符合）",
                "a policy needs at least one condition (or everyone qualifies)",
            );
        }
        for (i, p) in self.parameters.iter().enumerate() {
            if p.name.trim().is_empty() || p.values.is_empty() {
                fail(
                    &format!("parameters[{i}]"),
                    "POLICY_FIELD",
                    "参数须有名称和至少一个取值",
                    "a parameter needs a name and at least one value",
                );
            }
        }
        let day = self.effective_from;
        let vocab = Vocabulary {
            attributes,
            parameters: &self.parameters,
            day,
        };
        for (i, c) in self.conditions.iter().enumerate() {
            if let Err(e) = rules::condition(&c.rule, &vocab) {
                problems.push(field(&format!("conditions[{i}]"), &e));
            }
        }
        let amount = match &self.amount {
            Amount::Formula(f) => rules::amount(f, &vocab).map(|_| ()),
            Amount::Table { rows, otherwise } => {
                rules::decision_table(rows, otherwise.as_deref(), &vocab).map(|_| ())
            }
        };
        if let Err(e) = amount {
            problems.push(field("amount", &e));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parameters::{DatedValue, ParamValue};
    use crate::rules::Type;

    pub(crate) fn gaoling() -> PolicyInput {
        PolicyInput {
            code: "POL-GAOLING".into(),
            name: "高龄津贴".into(),
            department: "370200MZ".into(),
            document: "青岛市高龄津贴发放办法（示例）".into(),
            target: TargetKind::Persons,
            effective_from: NaiveDate::from_ymd_opt(2024, 7, 1).expect("day"),
            effective_to: None,
            conditions: vec![
                Condition {
                    rule: "年龄 ≥ 【高龄津贴起始年龄】".into(),
                    reference: "第二条".into(),
                },
                Condition {
                    rule: "行政区划代码 属于 ('370202','370203')".into(),
                    reference: "第三条".into(),
                },
            ],
            amount: Amount::Table {
                rows: vec![TableRow {
                    when: "年龄 ≥ 100".into(),
                    amount: "500".into(),
                }],
                otherwise: Some("100".into()),
            },
            unit: "元/月".into(),
            parameters: vec![Parameter {
                name: "高龄津贴起始年龄".into(),
                unit: "岁".into(),
                values: vec![DatedValue {
                    from: NaiveDate::from_ymd_opt(2024, 7, 1).expect("day"),
                    value: ParamValue::Number(80.0),
                    reference: "第二条".into(),
                }],
            }],
            notify: String::new(),
        }
    }

    fn attrs() -> Vec<Attribute> {
        vec![
            Attribute {
                label: "年龄".into(),
                kind: Type::Number,
                sql: "age".into(),
                item: String::new(),
                source: String::new(),
            },
            Attribute {
                label: "行政区划代码".into(),
                kind: Type::Text,
                sql: "division".into(),
                item: String::new(),
                source: String::new(),
            },
        ]
    }

    #[test]
    fn a_policy_plans_into_one_query() {
        let p = gaoling();
        assert_eq!(p.check(&attrs()), Ok(()));
        let plan = p
            .plan(&attrs(), &[], month_end("2025-01").expect("day"))
            .expect("plan");
        assert_eq!(
            plan.totals_sql("lib"),
            "SELECT COUNT(*) AS eligible, SUM(amount) AS amount FROM (SELECT CAST(CASE WHEN ((age) >= 100) THEN CAST(500 AS DOUBLE) ELSE CAST(100 AS DOUBLE) END AS DOUBLE) AS amount FROM \"lib\" WHERE ((age) >= 80) AND ((division) IN ('370202', '370203')))"
        );
    }

    #[test]
    fn every_problem_is_reported_under_its_field() {
        let mut p = gaoling();
        p.code = "bad code".into();
        p.document = String::new();
        p.conditions[1].rule = "收入 < 1000".into();
        p.amount = Amount::Formula("年龄 > 1".into());
        let fields: Vec<(String, &str)> = p
            .check(&attrs())
            .expect_err("refused")
            .iter()
            .map(|f| (f.field.clone(), f.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("code".to_string(), "POLICY_FIELD"),
                ("document".to_string(), "POLICY_FIELD"),
                ("conditions[1]".to_string(), "RULE_UNKNOWN_ATTRIBUTE"),
                ("amount".to_string(), "RULE_TYPE_MISMATCH"),
            ]
        );
    }

    #[test]
    fn month_ends() {
        assert_eq!(
            month_end("2024-02").map(|d| d.to_string()),
            Some("2024-02-29".into())
        );
        assert_eq!(
            month_end("2025-12").map(|d| d.to_string()),
            Some("2025-12-31".into())
        );
        assert_eq!(month_end("2025-13"), None);
    }
}
