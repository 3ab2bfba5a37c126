//! From a resource's data items to an Arrow schema, and from a file's headers to items.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use shuniu_types::{DataItem, DataType};

use crate::IngestError;

/// Currency (货币型) is stored exactly: 20 digits, 2 after the point.
pub const CURRENCY_PRECISION: u8 = 20;
pub const CURRENCY_SCALE: i8 = 2;

/// The Arrow (and so Delta and Parquet) type of a data item.
pub fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::Text | DataType::Memo => ArrowType::Utf8,
        DataType::Numeric => ArrowType::Float64,
        DataType::Integer => ArrowType::Int64,
        DataType::Currency => ArrowType::Decimal128(CURRENCY_PRECISION, CURRENCY_SCALE),
        DataType::Date => ArrowType::Date32,
        DataType::DateTime => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Boolean => ArrowType::Boolean,
        DataType::Binary => ArrowType::Binary,
    }
}

/// One column per data item, named by the item's identifier. Every column is nullable in
/// storage; required items are enforced when rows are read, where the row can be rejected.
pub fn arrow_schema(items: &[DataItem]) -> SchemaRef {
    Arc::new(Schema::new(
        items
            .iter()
            .map(|i| Field::new(&i.name, arrow_type(i.data_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// Header text as compared with item names and labels: no BOM, no spaces of either width,
/// ASCII lower case.
pub fn normalise_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A data item and the source column that fills it, if any.
#[derive(Debug, Clone)]
pub struct ItemColumn {
    pub item: DataItem,
    pub source: Option<usize>,
}

/// Which source column fills which data item.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub columns: Vec<ItemColumn>,
    pub headers: Vec<String>,
    /// Source columns deliberately not loaded.
    pub ignored: Vec<String>,
    /// Optional items the source does not have: loaded as null.
    pub absent: Vec<String>,
}

impl ColumnPlan {
    /// Matches each header to a data item: first by the saved `mapping` (source header →
    /// item name, or "" to skip the column), then by item name, then by the Chinese label.
    /// A header that matches nothing is an error unless `ignore_unknown`; a required or key
    /// item with no column is always an error.
    pub fn resolve(
        items: &[DataItem],
        headers: &[String],
        mapping: &BTreeMap<String, String>,
        ignore_unknown: bool,
    ) -> Result<ColumnPlan, IngestError> {
        let mapping: BTreeMap<String, &String> = mapping
            .iter()
            .map(|(k, v)| (normalise_header(k), v))
            .collect();
        let mut source: Vec<Option<usize>> = vec![None; items.len()];
        let mut unknown = Vec::new();
        let mut ignored = Vec::new();
        let mut duplicated = Vec::new();
        for (col, header) in headers.iter().enumerate() {
            let h = normalise_header(header);
            if h.is_empty() && ignore_unknown {
                ignored.push(header.clone());
                continue;
            }
            let target = match mapping.get(&h) {
                Some(name) if name.is_empty() || name.as_str() == "-" => {
                    ignored.push(header.clone());
                    continue;
                }
                Some(name) => items.iter().position(|i| &i.name == *name),
                None => items
                    .iter()
                    .position(|i| normalise_header(&i.name) == h)
                    .or_else(|| items.iter().position(|i| normalise_header(&i.label) == h)),
            };
            match target {
                Some(idx) if source[idx].is_some() => duplicated.push(header.clone()),
                Some(idx) => source[idx] = Some(col),
                None if ignore_unknown => ignored.push(header.clone()),
                None => unknown.push(header.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(IngestError::input(
                "UNKNOWN_COLUMNS",
                format!(
                    "文件中的列在资源的信息项中不存在：{}。请在列映射中对应到信息项，或选择忽略未知列",
                    unknown.join("、")
                ),
                format!(
                    "the file has columns the resource does not have: {}; map them to data items or ignore unknown columns",
                    unknown.join(", ")
                ),
            ));
        }
        if !duplicated.is_empty() {
            return Err(IngestError::input(
                "DUPLICATE_COLUMNS",
                format!("多个列对应到同一信息项：{}", duplicated.join("、")),
                format!(
                    "more than one column maps to the same data item: {}",
                    duplicated.join(", ")
                ),
            ));
        }
        let missing: Vec<&DataItem> = items
            .iter()
            .zip(&source)
            .filter(|(i, s)| s.is_none() && (i.required || i.is_key))
            .map(|(i, _)| i)
            .collect();
        if !missing.is_empty() {
            let zh: Vec<String> = missing
                .iter()
                .map(|i| format!("{}（{}）", i.label, i.name))
                .collect();
            let en: Vec<&str> = missing.iter().map(|i| i.name.as_str()).collect();
            return Err(IngestError::input(
                "MISSING_COLUMNS",
                format!("文件缺少必填信息项：{}", zh.join("、")),
                format!("the file lacks required data items: {}", en.join(", ")),
            ));
        }
        let absent = items
            .iter()
            .zip(&source)
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| i.name.clone())
            .collect();
        Ok(ColumnPlan {
            columns: items
                .iter()
                .cloned()
                .zip(source)
                .map(|(item, source)| ItemColumn { item, source })
                .collect(),
            headers: headers.to_vec(),
            ignored,
            absent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuniu_types::{MaskingRule, SemanticType};

    pub(crate) fn item(name: &str, label: &str, t: DataType, key: bool) -> DataItem {
        DataItem {
            name: name.into(),
            label: label.into(),
            data_type: t,
            length: None,
            description: String::new(),
            is_key: key,
            required: key,
            personal: false,
            sensitive: false,
            masking: MaskingRule::None,
            semantic_type: SemanticType::None,
        }
    }

    #[test]
    fn headers_match_names_labels_and_saved_mappings() {
        let items = vec![
            item("id_number", "公民身份号码", DataType::Text, true),
            item("name", "姓名", DataType::Text, false),
            item("amount", "金额", DataType::Currency, false),
        ];
        let headers: Vec<String> = ["\u{feff}公民身份号码", " NAME ", "补贴金额"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = ColumnPlan::resolve(&items, &headers, &BTreeMap::new(), false).unwrap_err();
        assert_eq!(err.code(), "UNKNOWN_COLUMNS");
        assert!(err.message_zh().contains("补贴金额"));
        let mapping = BTreeMap::from([("补贴金额".to_string(), "amount".to_string())]);
        let plan = ColumnPlan::resolve(&items, &headers, &mapping, false).unwrap();
        let sources: Vec<_> = plan.columns.iter().map(|c| c.source).collect();
        assert_eq!(sources, vec![Some(0), Some(1), Some(2)]);
        let err = ColumnPlan::resolve(&items, &headers[1..], &mapping, false).unwrap_err();
        assert_eq!(err.code(), "MISSING_COLUMNS");
        let plan = ColumnPlan::resolve(&items, &headers[..2], &mapping, false).unwrap();
        assert_eq!(plan.absent, vec!["amount".to_string()]);
    }
}
