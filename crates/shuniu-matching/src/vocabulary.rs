//! What a policy over a library may name: the library's data items by their labels, typed by
//! their storage type, and for each date the whole years elapsed on the evaluated day (年龄 for
//! a birth date, 成立年限 for 成立日期). Derived from the library's catalog entry, so a city
//! whose libraries hold other items gets other attributes without a code change.

use chrono::{Datelike, NaiveDate};
use shuniu_types::catalog::{DataItem, DataType};

use crate::rules::{Attribute, Type};

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whole years from the date in `sql` to `day` (a birthday not yet reached this year does not
/// count): the difference of the yyyymmdd numbers, divided by 10,000. The date's number is built
/// from its parts (integer arithmetic, vectorized), not by formatting it as text.
fn years_until(sql: &str, day: NaiveDate) -> String {
    let on = day.year() as i64 * 10_000 + day.month() as i64 * 100 + day.day() as i64;
    let part = |p: &str| format!("CAST(date_part('{p}', CAST({sql} AS DATE)) AS BIGINT)");
    format!(
        "(({on} - ({} * 10000 + {} * 100 + {})) / 10000)",
        part("year"),
        part("month"),
        part("day")
    )
}

/// The attributes of a library's items on `day`. Sealed items (sensitive: stored as ciphertext)
/// and binary items are not offered: a rule compares values, and those are not comparable.
pub fn attributes(items: &[DataItem], day: NaiveDate) -> Vec<Attribute> {
    let mut out = Vec::new();
    for item in items {
        if item.sensitive || item.data_type == DataType::Binary || item.label.trim().is_empty() {
            continue;
        }
        let column = quoted(&item.name);
        let label = item.label.trim().to_string();
        match item.data_type {
            DataType::Text | DataType::Memo => out.push(Attribute {
                label,
                kind: Type::Text,
                sql: column,
                item: item.name.clone(),
            }),
            DataType::Numeric | DataType::Integer | DataType::Currency => out.push(Attribute {
                label,
                kind: Type::Number,
                sql: format!("CAST({column} AS DOUBLE)"),
                item: item.name.clone(),
            }),
            DataType::Boolean => out.push(Attribute {
                label,
                kind: Type::Bool,
                sql: column,
                item: item.name.clone(),
            }),
            DataType::Date | DataType::DateTime => {
                // As text, ISO dates compare in date order: 出生日期 < '1945-01-01'.
                out.push(Attribute {
                    label: label.clone(),
                    kind: Type::Text,
                    sql: format!("CAST(CAST({column} AS DATE) AS VARCHAR)"),
                    item: item.name.clone(),
                });
                let years = if item.name == "birth_date" || label.contains("出生") {
                    "年龄".to_string()
                } else {
                    format!(
                        "{}年限",
                        label.trim_end_matches("日期").trim_end_matches("时间")
                    )
                };
                out.push(Attribute {
                    label: years,
                    kind: Type::Number,
                    sql: years_until(&column, day),
                    item: item.name.clone(),
                });
            }
            DataType::Binary => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuniu_types::catalog::{MaskingRule, SemanticType};

    fn item(name: &str, label: &str, data_type: DataType, sensitive: bool) -> DataItem {
        DataItem {
            name: name.into(),
            label: label.into(),
            data_type,
            length: None,
            description: String::new(),
            is_key: false,
            required: false,
            personal: false,
            sensitive,
            masking: MaskingRule::None,
            semantic_type: SemanticType::None,
        }
    }

    #[test]
    fn items_become_attributes_by_their_labels() {
        let day = NaiveDate::from_ymd_opt(2025, 1, 31).expect("day");
        let got = attributes(
            &[
                item("id_number", "公民身份号码", DataType::Text, true),
                item("division", "行政区划代码", DataType::Text, false),
                item("birth_date", "出生日期", DataType::Date, false),
                item("reg_date", "成立日期", DataType::Date, false),
                item("capital", "注册资本", DataType::Currency, false),
            ],
            day,
        );
        let labels: Vec<_> = got.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "行政区划代码",
                "出生日期",
                "年龄",
                "成立日期",
                "成立年限",
                "注册资本"
            ]
        );
        assert!(got[2].sql.contains("20250131 -"), "{}", got[2].sql);
        assert_eq!(got[5].kind, Type::Number);
    }
}
