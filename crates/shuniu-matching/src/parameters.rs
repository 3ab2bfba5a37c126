//! Parameters with dated values, as OpenFisca keeps them: a threshold or a rate changes on a
//! date, each value carries the legal text that set it, and a policy evaluated for a period
//! uses the value in force then.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::RuleError;

/// A parameter's value: a number or a text (a district code, a category).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Number(f64),
    Text(String),
}

/// One value of a parameter, in force from `from` until the next value's `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedValue {
    pub from: NaiveDate,
    pub value: ParamValue,
    /// The document and article that set it (青政发〔2024〕5号 第三条).
    #[serde(default)]
    pub reference: String,
}

/// A named parameter (高龄津贴起始年龄) with its values over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    #[serde(default)]
    pub unit: String,
    pub values: Vec<DatedValue>,
}

impl Parameter {
    /// The value in force on `day`: the latest value whose `from` is on or before it.
    pub fn at(&self, day: NaiveDate) -> Result<&DatedValue, RuleError> {
        self.values
            .iter()
            .filter(|v| v.from <= day)
            .max_by_key(|v| v.from)
            .ok_or_else(|| RuleError::ParameterNoValue {
                name: self.name.clone(),
                day: day.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn the_value_in_force_is_the_latest_that_started() {
        let p = Parameter {
            name: "高龄津贴起始年龄".into(),
            unit: "岁".into(),
            values: vec![
                DatedValue {
                    from: day("2024-07-01"),
                    value: ParamValue::Number(80.0),
                    reference: "2024年文件".into(),
                },
                DatedValue {
                    from: day("2020-01-01"),
                    value: ParamValue::Number(90.0),
                    reference: "2020年文件".into(),
                },
            ],
        };
        assert_eq!(
            p.at(day("2023-12-31")).map(|v| &v.value),
            Ok(&ParamValue::Number(90.0))
        );
        assert_eq!(
            p.at(day("2024-07-01")).map(|v| &v.value),
            Ok(&ParamValue::Number(80.0))
        );
        assert_eq!(
            p.at(day("2019-12-31")).map_err(|e| e.code()),
            Err("RULE_PARAMETER_NO_VALUE")
        );
    }
}
