//! What a policy over a library may name: the library's data items by their labels, typed by
//! their storage type, and for each date the whole years elapsed on the evaluated day (年龄 for
//! a birth date, 成立年限 for 成立日期). Derived from the library's catalog entry, so a city
//! whose libraries hold other items gets other attributes without a code change.

use chrono::{Datelike, NaiveDate};
use shuniu_types::MaskingRule;
use shuniu_types::catalog::{DataItem, DataType};

use crate::policy::Join;
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
    attributes_with(items, day, |i| quoted(&i.name), "", "")
}

/// Attributes whose columns are `column(item)`, labelled `{prefix}{label}` and read through
/// `source` (a join's alias; empty for the library's own columns).
fn attributes_with<'i>(
    items: impl IntoIterator<Item = &'i DataItem>,
    day: NaiveDate,
    column: impl Fn(&DataItem) -> String,
    prefix: &str,
    source: &str,
) -> Vec<Attribute> {
    let mut out = Vec::new();
    let attr = |label: String, kind: Type, sql: String, item: &DataItem| Attribute {
        label: format!("{prefix}{label}"),
        kind,
        sql,
        item: item.name.clone(),
        source: source.to_string(),
    };
    for item in items {
        if item.sensitive || item.data_type == DataType::Binary || item.label.trim().is_empty() {
            continue;
        }
        let column = column(item);
        let label = item.label.trim().to_string();
        match item.data_type {
            DataType::Text | DataType::Memo => out.push(attr(label, Type::Text, column, item)),
            DataType::Numeric | DataType::Integer | DataType::Currency => out.push(attr(
                label,
                Type::Number,
                format!("CAST({column} AS DOUBLE)"),
                item,
            )),
            DataType::Boolean => out.push(attr(label, Type::Bool, column, item)),
            DataType::Date | DataType::DateTime => {
                // As text, ISO dates compare in date order: 出生日期 < '1945-01-01'.
                out.push(attr(
                    label.clone(),
                    Type::Text,
                    format!("CAST(CAST({column} AS DATE) AS VARCHAR)"),
                    item,
                ));
                let years = if item.name == "birth_date" || label.contains("出生") {
                    "年龄".to_string()
                } else {
                    format!(
                        "{}年限",
                        label.trim_end_matches("日期").trim_end_matches("时间")
                    )
                };
                out.push(attr(years, Type::Number, years_until(&column, day), item));
            }
            DataType::Binary => {}
        }
    }
    out
}

/// Another department's resource (or the issuing department's own) joined to the library by
/// the subject's key: a LEFT JOIN, so a subject the resource does not hold reads NULL (a rule
/// says `死亡火化信息.火化日期 为空` for "no cremation record"). Only the items the grant hands
/// over in the clear are offered (a masked value cannot be compared), labelled with the
/// resource's name (`死亡火化信息.火化日期`), and only the rows inside the grant's scope are
/// joined. Its columns are renamed under the join's alias so they never collide with the
/// library's.
pub fn joined(
    j: &shuniu_sharing::JoinableResource,
    department: &str,
    library_key: &DataItem,
    day: NaiveDate,
) -> (Join, Vec<Attribute>) {
    let rec = &j.resource;
    let alias = format!("{}@{}", rec.code, department);
    let renamed = |item: &str| quoted(&format!("{alias}.{item}"));
    let offered: Vec<&DataItem> = rec
        .spec
        .data_items
        .iter()
        .filter(|i| i.name != j.key)
        .filter(|i| {
            j.grant
                .field(&i.name)
                .is_some_and(|f| f.masking == MaskingRule::None)
        })
        .collect();
    let attributes = attributes_with(
        offered.iter().copied(),
        day,
        |i| renamed(&i.name),
        &format!("{}.", rec.spec.name.trim()),
        &alias,
    );
    let key = format!("CAST({} AS VARCHAR)", quoted(&j.key));
    let mut columns = vec![format!("{key} AS {}", renamed("#key"))];
    let mut outer = vec![renamed("#key")];
    for i in &offered {
        columns.push(format!("{} AS {}", quoted(&i.name), renamed(&i.name)));
        outer.push(renamed(&i.name));
    }
    // One row per subject, whatever the resource holds: a key loaded twice (an appended file,
    // a register with a person's rows from two districts) must not make a subject count twice.
    // Of several rows the one with the greatest values is taken, so the choice is the same in
    // every run, in the list and in the trace.
    let order = if offered.is_empty() {
        key.clone()
    } else {
        offered
            .iter()
            .map(|i| format!("{} DESC NULLS LAST", quoted(&i.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let row = renamed("#row");
    let sql = format!(
        "LEFT JOIN (SELECT {} FROM (SELECT {}, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order}) AS {row} FROM {} WHERE {}) WHERE {row} = 1) AS {} ON CAST({} AS VARCHAR) = {}",
        outer.join(", "),
        columns.join(", "),
        quoted(&rec.code),
        j.grant.scope_sql(&rec.spec.data_items, quoted),
        quoted(&alias),
        quoted(&library_key.name),
        renamed("#key"),
    );
    (
        Join {
            resource: rec.code.clone(),
            name: rec.spec.name.clone(),
            provider: rec.spec.provider.clone(),
            own: j.grant.own,
            alias,
            sql,
        },
        attributes,
    )
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
