//! Catalog entries in Excel, in the layout departments fill in: one row per data item
//! (信息项), the resource's own columns filled on its first row (or merged down); a row whose
//! 资源名称 is empty continues the resource above it. Headers are matched by their Chinese
//! name (or the English key), in any order. `.xlsx` and `.xls` are both read.

use calamine::{Data, Reader};
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;
use shuniu_store::ResourceRecord;
use shuniu_types::{DataItemInput, FieldError, ResourceInput};
use std::collections::HashMap;
use std::io::Cursor;

use crate::{CatalogError, Result};

/// Largest workbook accepted (bytes) and most data rows, so that one upload cannot exhaust
/// the server.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
pub const MAX_ROWS: usize = 100_000;

/// (key, Chinese header, required on a resource's first row)
const RESOURCE_COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "资源名称", true),
    ("provider", "提供部门代码", true),
    ("category", "资源分类", true),
    ("item_code", "项编码", true),
    ("item_name", "项名称", true),
    ("subject_code", "目编码", true),
    ("subject_name", "目名称", true),
    ("detail_code", "细目编码", false),
    ("detail_name", "细目名称", false),
    ("summary", "资源摘要", true),
    ("format", "资源格式", true),
    ("share_type", "共享属性", true),
    ("share_conditions", "共享条件", false),
    ("share_method", "共享方式", false),
    ("open_type", "开放属性", true),
    ("open_conditions", "开放条件", false),
    ("legal_basis", "不予共享依据", false),
    ("update_cycle", "更新周期", true),
    ("level", "安全级别", true),
    ("publish_date", "发布日期", false),
    ("related", "关联资源代码", false),
];

const ITEM_COLUMNS: &[(&str, &str, bool)] = &[
    ("item.name", "信息项英文名", true),
    ("item.label", "信息项名称", true),
    ("item.data_type", "数据类型", true),
    ("item.length", "数据长度", false),
    ("item.description", "信息项描述", false),
    ("item.is_key", "是否主键", false),
    ("item.required", "是否必填", false),
    ("item.personal", "是否个人信息", false),
    ("item.sensitive", "是否敏感", false),
    ("item.masking", "脱敏规则", false),
    ("item.semantic_type", "语义类型", false),
];

/// One problem in an uploaded workbook, located by its row as Excel numbers it.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl RowError {
    pub fn new(row: usize, e: FieldError) -> RowError {
        RowError {
            row,
            field: e.field,
            code: e.code,
            message_zh: e.message_zh,
            message_en: e.message_en,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Resources found in the workbook.
    pub resources: usize,
    pub errors: Vec<RowError>,
    /// Codes of the entries created (empty on a dry run or when any row is bad).
    pub imported: Vec<String>,
    pub dry_run: bool,
}

pub struct ParsedWorkbook {
    /// (first row number, entry)
    pub resources: Vec<(usize, ResourceInput)>,
    pub errors: Vec<RowError>,
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => {
            if *b {
                "是".into()
            } else {
                "否".into()
            }
        }
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|d| d.date().to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#ERROR {e:?}"),
    }
}

fn parse_bool(field: &str, s: &str) -> Result<bool, FieldError> {
    match s.trim() {
        "" | "否" | "N" | "n" | "no" | "false" | "0" => Ok(false),
        "是" | "Y" | "y" | "yes" | "true" | "1" => Ok(true),
        other => Err(FieldError::new(
            field,
            "BOOLEAN_INVALID",
            format!("“{other}”应为“是”或“否”"),
            format!("“{other}” should be 是 (yes) or 否 (no)"),
        )),
    }
}

fn parse_number<T: std::str::FromStr>(field: &str, s: &str) -> Result<Option<T>, FieldError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim().parse().map(Some).map_err(|_| {
        FieldError::new(
            field,
            "NUMBER_INVALID",
            format!("“{s}”不是有效的数字"),
            format!("“{s}” is not a valid number"),
        )
    })
}

/// Reads a workbook's first sheet into catalog entries; structural problems become row errors.
pub fn read_workbook(bytes: &[u8]) -> Result<ParsedWorkbook> {
    if bytes.len() > MAX_BYTES {
        return Err(CatalogError::invalid(
            "file",
            "FILE_TOO_LARGE",
            format!("文件超过 {} MB 上限", MAX_BYTES / 1024 / 1024),
            format!(
                "the file is larger than the {} MB limit",
                MAX_BYTES / 1024 / 1024
            ),
        ));
    }
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| CatalogError::Workbook(e.to_string()))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| CatalogError::Workbook("the workbook has no sheet".into()))?
        .map_err(|e| CatalogError::Workbook(e.to_string()))?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut rows = range.rows();
    let Some(header) = rows.next() else {
        return Err(CatalogError::invalid(
            "file",
            "WORKBOOK_EMPTY",
            "工作表为空",
            "the sheet is empty",
        ));
    };

    // Column key → index, by Chinese header or English key.
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, cell) in header.iter().enumerate() {
        let h = cell_text(cell);
        if let Some((key, _, _)) = RESOURCE_COLUMNS
            .iter()
            .chain(ITEM_COLUMNS)
            .find(|(k, zh, _)| *zh == h || *k == h)
        {
            col.insert(key, i);
        }
    }
    let missing: Vec<&str> = RESOURCE_COLUMNS
        .iter()
        .chain(ITEM_COLUMNS)
        .filter(|(k, _, req)| *req && !col.contains_key(k))
        .map(|(_, zh, _)| *zh)
        .collect();
    if !missing.is_empty() {
        return Err(CatalogError::invalid(
            "file",
            "WORKBOOK_COLUMNS_MISSING",
            format!("缺少必需的列：{}", missing.join("、")),
            format!("required columns are missing: {}", missing.join(", ")),
        ));
    }

    let mut resources: Vec<(usize, ResourceInput)> = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in rows.enumerate() {
        // Excel numbers rows from 1 and the header is the first row of the range.
        let row_no = first_row + i + 2;
        if i >= MAX_ROWS {
            errors.push(RowError::new(
                row_no,
                FieldError::new(
                    "file",
                    "WORKBOOK_TOO_MANY_ROWS",
                    format!("超过 {MAX_ROWS} 行上限"),
                    format!("more than {MAX_ROWS} rows"),
                ),
            ));
            break;
        }
        let get = |key: &str| {
            col.get(key)
                .and_then(|&c| row.get(c))
                .map(cell_text)
                .unwrap_or_default()
        };
        if row.iter().all(|c| cell_text(c).is_empty()) {
            continue;
        }
        let mut err = |e: FieldError| errors.push(RowError::new(row_no, e));
        if !get("name").is_empty() {
            let (r, invalid) = ResourceInput::from_text(get);
            for e in invalid {
                err(e);
            }
            resources.push((row_no, r));
        } else if resources.is_empty() {
            err(FieldError::new(
                "name",
                "FIELD_REQUIRED",
                "第一个信息项之前必须有资源名称",
                "the first row of a resource needs its name",
            ));
            continue;
        }
        let mut item = DataItemInput {
            name: get("item.name"),
            label: get("item.label"),
            data_type: get("item.data_type"),
            description: get("item.description"),
            masking: get("item.masking"),
            semantic_type: get("item.semantic_type"),
            ..Default::default()
        };
        let n = resources
            .last()
            .map(|(_, r)| r.data_items.len())
            .unwrap_or(0);
        let field = |k: &str| format!("data_items[{n}].{k}");
        match parse_number::<u32>(&field("length"), &get("item.length")) {
            Ok(v) => item.length = v,
            Err(e) => err(e),
        }
        for (key, slot) in [
            ("item.is_key", &mut item.is_key),
            ("item.required", &mut item.required),
            ("item.personal", &mut item.personal),
            ("item.sensitive", &mut item.sensitive),
        ] {
            match parse_bool(&field(&key[5..]), &get(key)) {
                Ok(b) => *slot = b,
                Err(e) => err(e),
            }
        }
        if let Some((_, r)) = resources.last_mut() {
            r.data_items.push(item);
        }
    }
    if resources.is_empty() && errors.is_empty() {
        errors.push(RowError::new(
            first_row + 2,
            FieldError::new(
                "file",
                "WORKBOOK_EMPTY",
                "工作表中没有资源",
                "the sheet holds no resources",
            ),
        ));
    }
    Ok(ParsedWorkbook { resources, errors })
}

/// Writes entries in the import layout, preceded by their code and status, so that an
/// exported sheet can be edited and imported elsewhere.
pub fn write_workbook(
    records: &[ResourceRecord],
    department_names: &HashMap<String, String>,
) -> Result<Vec<u8>> {
    let xerr = |e: rust_xlsxwriter::XlsxError| CatalogError::Workbook(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("数据资源目录").map_err(xerr)?;
    let bold = Format::new().set_bold();
    let mut headers: Vec<&str> = vec!["资源代码", "状态", "提供部门"];
    headers.extend(RESOURCE_COLUMNS.iter().map(|(_, zh, _)| *zh));
    headers.extend(ITEM_COLUMNS.iter().map(|(_, zh, _)| *zh));
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xerr)?;
        ws.set_column_width(c as u16, if c < 3 { 22 } else { 14 })
            .map_err(xerr)?;
    }
    ws.set_freeze_panes(1, 0).map_err(xerr)?;
    let mut row: u32 = 1;
    let yes = |b: bool| if b { "是" } else { "否" };
    for r in records {
        let s = &r.spec;
        let c = &s.classification;
        let resource_cells: Vec<String> = vec![
            r.code.clone(),
            r.status.zh().into(),
            department_names
                .get(&s.provider)
                .cloned()
                .unwrap_or_default(),
            s.name.clone(),
            s.provider.clone(),
            c.kind.zh().into(),
            c.item_code.to_string(),
            c.item_name.clone(),
            c.subject_code.to_string(),
            c.subject_name.clone(),
            c.detail_code.map(|d| d.to_string()).unwrap_or_default(),
            c.detail_name.clone().unwrap_or_default(),
            s.summary.clone(),
            s.format.zh().into(),
            s.share_type.zh().into(),
            s.share_conditions.clone(),
            s.share_method.zh().into(),
            s.open_type.zh().into(),
            s.open_conditions.clone(),
            s.legal_basis.clone(),
            s.update_cycle.zh().into(),
            s.level.zh().into(),
            s.publish_date.map(|d| d.to_string()).unwrap_or_default(),
            s.related.join(","),
        ];
        for (i, item) in s.data_items.iter().enumerate() {
            if i == 0 {
                for (col, v) in resource_cells.iter().enumerate() {
                    ws.write_string(row, col as u16, v).map_err(xerr)?;
                }
            }
            let item_cells = [
                item.name.clone(),
                item.label.clone(),
                item.data_type.zh().into(),
                item.length.map(|l| l.to_string()).unwrap_or_default(),
                item.description.clone(),
                yes(item.is_key).into(),
                yes(item.required).into(),
                yes(item.personal).into(),
                yes(item.sensitive).into(),
                item.masking.code().into(),
                item.semantic_type.zh().into(),
            ];
            for (j, v) in item_cells.iter().enumerate() {
                ws.write_string(row, (resource_cells.len() + j) as u16, v)
                    .map_err(xerr)?;
            }
            row += 1;
        }
    }
    wb.save_to_buffer().map_err(xerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_files_are_refused_clearly() {
        let e = read_workbook(b"this is not a workbook").err().unwrap();
        assert_eq!(e.code(), "WORKBOOK_UNREADABLE");
        let e = read_workbook(&vec![0u8; MAX_BYTES + 1]).err().unwrap();
        assert_eq!(e.code(), "VALIDATION_FAILED");
    }

    #[test]
    fn missing_columns_are_named() {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "资源名称").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        match read_workbook(&bytes) {
            Err(CatalogError::Invalid(errs)) => {
                assert_eq!(errs[0].code, "WORKBOOK_COLUMNS_MISSING");
                assert!(errs[0].message_zh.contains("提供部门代码"));
            }
            other => panic!("unexpected {:?}", other.map(|p| p.resources.len())),
        }
    }

    mod round_trip {
        use super::super::*;
        use proptest::prelude::*;
        use shuniu_types::{DataType, ResourceSpec, ResourceStatus, SemanticType};

        fn text(max: usize) -> impl Strategy<Value = String> {
            // Chinese, ASCII, punctuation Excel users type, and leading/trailing spaces trimmed away.
            proptest::string::string_regex(&format!(
                "[\\u4e00-\\u9fa5a-zA-Z0-9（）《》、，：；·\\-_ ]{{1,{max}}}"
            ))
            .unwrap()
            .prop_map(|s| s.trim().to_string())
            .prop_filter("non-empty after trim", |s| !s.is_empty())
        }

        fn item() -> impl Strategy<Value = DataItemInput> {
            (
                "[a-z][a-z0-9_]{0,20}",
                text(20),
                prop::sample::select(DataType::ALL.to_vec()),
                1u32..4000,
                proptest::option::of(text(60)),
                any::<(bool, bool, bool)>(),
                prop::sample::select(SemanticType::ALL.to_vec()),
            )
                .prop_map(
                    |(
                        name,
                        label,
                        data_type,
                        length,
                        description,
                        (is_key, personal, sensitive),
                        semantic,
                    )| DataItemInput {
                        name,
                        label,
                        data_type: data_type.code().into(),
                        length: Some(length),
                        description: description.unwrap_or_default(),
                        is_key,
                        required: is_key,
                        personal,
                        sensitive,
                        masking: String::new(),
                        semantic_type: semantic.code().into(),
                    },
                )
        }

        fn resource() -> impl Strategy<Value = ResourceInput> {
            (
                text(40),
                text(200),
                1u8..99,
                1u16..999,
                proptest::option::of(1u16..999),
                prop::collection::vec(item(), 1..6),
                any::<u8>(),
            )
                .prop_map(
                    |(name, summary, item_code, subject_code, detail, mut items, pick)| {
                        let mut seen = std::collections::HashSet::new();
                        items.retain(|i| seen.insert(i.name.clone()));
                        let (share, basis, conditions) = match pick % 3 {
                            0 => ("unconditional", String::new(), String::new()),
                            1 => ("conditional", String::new(), "用于政务服务".to_string()),
                            _ => (
                                "not_shared",
                                "《中华人民共和国统计法》第二十五条".to_string(),
                                String::new(),
                            ),
                        };
                        ResourceInput {
                            name,
                            provider: "370200GA".into(),
                            category: ["base", "theme", "department"][usize::from(pick % 3)].into(),
                            item_code,
                            item_name: "人口".into(),
                            subject_code,
                            subject_name: "户籍人口".into(),
                            detail_code: detail,
                            detail_name: detail.map(|_| "细目".to_string()),
                            summary,
                            format: "数据库".into(),
                            share_type: share.into(),
                            share_conditions: conditions,
                            share_method: "接口".into(),
                            open_type: "not_open".into(),
                            legal_basis: basis,
                            update_cycle: "每日".into(),
                            level: "general_3".into(),
                            publish_date: chrono::NaiveDate::from_ymd_opt(
                                2024,
                                1 + u32::from(pick % 12),
                                1 + u32::from(pick % 28),
                            ),
                            data_items: items,
                            ..Default::default()
                        }
                    },
                )
        }

        fn record(code: String, spec: ResourceSpec) -> ResourceRecord {
            ResourceRecord {
                code,
                status: ResourceStatus::Published,
                version: 1,
                spec,
                status_note: String::new(),
                created_by: "t".into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                updated_at: "2026-01-01T00:00:00.000Z".into(),
                published_at: None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

            /// An exported workbook imports back to the same metadata, item for item.
            #[test]
            fn export_then_import_is_identity(inputs in prop::collection::vec(resource(), 1..4)) {
                let specs: Vec<ResourceSpec> = inputs.iter().filter_map(|i| i.validate().ok()).collect();
                prop_assume!(!specs.is_empty());
                let records: Vec<ResourceRecord> = specs.iter().enumerate().map(|(n, s)| record(format!("C{n}"), s.clone())).collect();
                let bytes = write_workbook(&records, &HashMap::new()).unwrap();
                let parsed = read_workbook(&bytes).unwrap();
                prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
                let back: Vec<ResourceSpec> = parsed.resources.iter().map(|(_, r)| r.validate().unwrap()).collect();
                prop_assert_eq!(back, specs);
            }
        }
    }
}
