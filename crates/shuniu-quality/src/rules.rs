//! Rules: what a data officer (or the semantic type of a data item) says the data must be,
//! and their compilation against a resource's data items. A rule that cannot compile — a
//! bad regex, an unknown column, an unknown code table — is refused when it is saved, with
//! the reason in Chinese and English; a compiled rule cannot fail at load time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shuniu_types::{DataItem, DataType, SemanticType};

use crate::QualityError;

/// The five dimensions a score is made of (GB/T 36344 数据质量评价指标, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 完整性: required values are present.
    Completeness,
    /// 规范性/有效性: values have the right form and come from the right tables.
    Validity,
    /// 一致性: values agree with each other and with other datasets.
    Consistency,
    /// 唯一性: keys identify one row.
    Uniqueness,
    /// 时效性: the dataset is as recent as its update cycle promises.
    Timeliness,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Completeness,
        Dimension::Validity,
        Dimension::Consistency,
        Dimension::Uniqueness,
        Dimension::Timeliness,
    ];

    /// Weight in the overall score (docs/quality.md). They sum to 1.
    pub fn weight(self) -> f64 {
        match self {
            Dimension::Completeness => 0.25,
            Dimension::Validity => 0.30,
            Dimension::Consistency => 0.20,
            Dimension::Uniqueness => 0.15,
            Dimension::Timeliness => 0.10,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Dimension::Completeness => "completeness",
            Dimension::Validity => "validity",
            Dimension::Consistency => "consistency",
            Dimension::Uniqueness => "uniqueness",
            Dimension::Timeliness => "timeliness",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Dimension::Completeness => "完整性",
            Dimension::Validity => "规范性",
            Dimension::Consistency => "一致性",
            Dimension::Uniqueness => "唯一性",
            Dimension::Timeliness => "时效性",
        }
    }
}

/// What a rule checks. Serialized with a `type` tag, e.g.
/// `{"type":"pattern","pattern":"^1[3-9]\\d{9}$"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RuleKind {
    /// The value is present (not null, not blank).
    Required,
    /// No two rows share a value. Failures count every row whose value occurs more than once
    /// (all occurrences, as Great Expectations counts them); the result also says how many
    /// distinct values are duplicated.
    Unique,
    /// The whole value matches the regular expression (Rust `regex` syntax).
    Pattern {
        pattern: String,
    },
    /// Length in characters.
    Length {
        min: Option<u32>,
        max: Option<u32>,
    },
    /// Numeric range, inclusive.
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Date range, inclusive; `YYYY-MM-DD` or `today`.
    DateRange {
        min: Option<String>,
        max: Option<String>,
    },
    /// The value is a code of a national code table: `gbt2260` (any edition),
    /// `gbt2260_current`, `gbt2261_1` (sex), `gbt3304` (nationality).
    CodeTable {
        table: String,
    },
    /// The value is one of these.
    Values {
        values: Vec<String>,
    },
    /// A GB 11643 citizen ID number: structure, a real birth date, a known division code
    /// (withdrawn codes stay valid) and the check character.
    IdNumber,
    /// The birth date and sex inside an ID number agree with these columns.
    IdConsistency {
        birth_column: Option<String>,
        sex_column: Option<String>,
    },
    /// A GB 32100 unified social credit code with its check character and the inner GB 11714
    /// organization code's check character.
    CreditCode,
    /// A GB 11714 organization code (`XXXXXXXX-X` or nine characters) with its check character.
    OrgCode,
    /// A pre-2015 registration number (GS 15-2006): 15 digits, ISO 7064 MOD 11,10 check digit.
    RegistrationNumber,
    /// A mainland mobile number, `^1[3-9]\d{9}$`.
    Mobile,
    Email,
    /// `column op other` for two columns of the same row (`lt`, `le`, `eq`, `ne`, `ge`, `gt`);
    /// rows where either side is empty are not checked.
    Compare {
        op: String,
        other: String,
    },
    /// The value exists in `column` of another resource's current version.
    Reference {
        resource: String,
        column: String,
    },
    /// The dataset was loaded within its declared update cycle.
    Freshness,
}

/// Every rule type by code, with its name in Chinese and English (for pages and forms).
pub const RULE_TYPES: &[(&str, &str, &str)] = &[
    ("required", "必填", "Required"),
    ("unique", "唯一", "Unique"),
    ("pattern", "格式（正则）", "Pattern"),
    ("length", "长度", "Length"),
    ("range", "数值范围", "Range"),
    ("date_range", "日期范围", "Date range"),
    ("code_table", "代码表", "Code table"),
    ("values", "取值范围", "Allowed values"),
    (
        "id_number",
        "身份证号校验（GB 11643）",
        "ID number (GB 11643)",
    ),
    (
        "id_consistency",
        "身份证号与出生日期、性别一致",
        "ID number matches birth date and sex",
    ),
    (
        "credit_code",
        "统一社会信用代码校验（GB 32100）",
        "Credit code (GB 32100)",
    ),
    (
        "org_code",
        "组织机构代码校验（GB 11714）",
        "Organization code (GB 11714)",
    ),
    (
        "registration_number",
        "注册号校验（GS 15）",
        "Registration number (GS 15)",
    ),
    ("mobile", "手机号码", "Mobile number"),
    ("email", "电子邮箱", "E-mail"),
    ("compare", "字段比较", "Comparison"),
    ("reference", "引用一致", "Reference"),
    ("freshness", "更新及时", "Freshness"),
];

impl RuleKind {
    pub fn code(&self) -> &'static str {
        match self {
            RuleKind::Required => "required",
            RuleKind::Unique => "unique",
            RuleKind::Pattern { .. } => "pattern",
            RuleKind::Length { .. } => "length",
            RuleKind::Range { .. } => "range",
            RuleKind::DateRange { .. } => "date_range",
            RuleKind::CodeTable { .. } => "code_table",
            RuleKind::Values { .. } => "values",
            RuleKind::IdNumber => "id_number",
            RuleKind::IdConsistency { .. } => "id_consistency",
            RuleKind::CreditCode => "credit_code",
            RuleKind::OrgCode => "org_code",
            RuleKind::RegistrationNumber => "registration_number",
            RuleKind::Mobile => "mobile",
            RuleKind::Email => "email",
            RuleKind::Compare { .. } => "compare",
            RuleKind::Reference { .. } => "reference",
            RuleKind::Freshness => "freshness",
        }
    }

    pub fn dimension(&self) -> Dimension {
        match self {
            RuleKind::Required => Dimension::Completeness,
            RuleKind::Unique => Dimension::Uniqueness,
            RuleKind::IdConsistency { .. }
            | RuleKind::Compare { .. }
            | RuleKind::Reference { .. } => Dimension::Consistency,
            RuleKind::Freshness => Dimension::Timeliness,
            _ => Dimension::Validity,
        }
    }

    /// A short description, (中文, English).
    pub fn describe(&self) -> (String, String) {
        match self {
            RuleKind::Required => ("必填".into(), "required".into()),
            RuleKind::Unique => ("唯一".into(), "unique".into()),
            RuleKind::Pattern { pattern } => {
                (format!("格式 {pattern}"), format!("matches {pattern}"))
            }
            RuleKind::Length { min, max } => {
                let r = format!(
                    "{}..{}",
                    min.map(|v| v.to_string()).unwrap_or_default(),
                    max.map(|v| v.to_string()).unwrap_or_default()
                );
                (format!("长度 {r}"), format!("length {r}"))
            }
            RuleKind::Range { min, max } => {
                let r = format!(
                    "{}..{}",
                    min.map(|v| v.to_string()).unwrap_or_default(),
                    max.map(|v| v.to_string()).unwrap_or_default()
                );
                (format!("数值范围 {r}"), format!("range {r}"))
            }
            RuleKind::DateRange { min, max } => {
                let r = format!(
                    "{}..{}",
                    min.clone().unwrap_or_default(),
                    max.clone().unwrap_or_default()
                );
                (format!("日期范围 {r}"), format!("date range {r}"))
            }
            RuleKind::CodeTable { table } => {
                (format!("代码表 {table}"), format!("code table {table}"))
            }
            RuleKind::Values { values } => (
                format!("取值 {}", values.join("/")),
                format!("one of {}", values.join("/")),
            ),
            RuleKind::IdNumber => (
                "身份证号校验（GB 11643）".into(),
                "ID number check (GB 11643)".into(),
            ),
            RuleKind::IdConsistency { .. } => (
                "身份证号与出生日期、性别一致".into(),
                "ID number agrees with birth date and sex".into(),
            ),
            RuleKind::CreditCode => (
                "统一社会信用代码校验（GB 32100）".into(),
                "credit code check (GB 32100)".into(),
            ),
            RuleKind::OrgCode => (
                "组织机构代码校验（GB 11714）".into(),
                "organization code check (GB 11714)".into(),
            ),
            RuleKind::RegistrationNumber => (
                "注册号校验（GS 15）".into(),
                "registration number check (GS 15)".into(),
            ),
            RuleKind::Mobile => ("手机号格式".into(), "mobile number format".into()),
            RuleKind::Email => ("电子邮箱格式".into(), "email format".into()),
            RuleKind::Compare { op, other } => (format!("{op} {other}"), format!("{op} {other}")),
            RuleKind::Reference { resource, column } => (
                format!("参照 {resource}.{column}"),
                format!("exists in {resource}.{column}"),
            ),
            RuleKind::Freshness => (
                "按更新周期及时更新".into(),
                "updated within its cycle".into(),
            ),
        }
    }
}

fn yes() -> bool {
    true
}

/// A rule of a resource as saved or derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// Stable identifier within the resource, e.g. `id_number.unique`.
    pub id: String,
    /// The column checked; none for dataset-level rules (freshness).
    #[serde(default)]
    pub column: Option<String>,
    #[serde(flatten)]
    pub kind: RuleKind,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `auto` (derived from the data item) or `officer` (added or tuned by the data officer).
    #[serde(default = "officer")]
    pub origin: String,
}

fn officer() -> String {
    "officer".into()
}

impl RuleSpec {
    pub fn auto(column: Option<&str>, kind: RuleKind) -> RuleSpec {
        let id = match column {
            Some(c) => format!("{c}.{}", kind.code()),
            None => kind.code().to_string(),
        };
        RuleSpec {
            id,
            column: column.map(str::to_string),
            kind,
            enabled: true,
            origin: "auto".into(),
        }
    }
}

/// The rules every resource gets from its data items' declarations and semantic types.
pub fn derive_rules(items: &[DataItem], has_cycle: bool) -> Vec<RuleSpec> {
    let mut out = Vec::new();
    let keys: Vec<&DataItem> = items.iter().filter(|i| i.is_key).collect();
    let find =
        |pred: &dyn Fn(&DataItem) -> bool| items.iter().find(|i| pred(i)).map(|i| i.name.clone());
    for item in items {
        let c = Some(item.name.as_str());
        if item.required || item.is_key {
            out.push(RuleSpec::auto(c, RuleKind::Required));
        }
        if item.is_key && keys.len() == 1 {
            out.push(RuleSpec::auto(c, RuleKind::Unique));
        }
        if let (Some(max), DataType::Text) = (item.length, item.data_type) {
            out.push(RuleSpec::auto(
                c,
                RuleKind::Length {
                    min: None,
                    max: Some(max),
                },
            ));
        }
        match item.semantic_type {
            SemanticType::IdNumber => {
                out.push(RuleSpec::auto(c, RuleKind::IdNumber));
                let birth = find(&|i| {
                    i.data_type == DataType::Date
                        && (i.name.contains("birth") || i.label.contains("出生"))
                });
                let sex = find(&|i| i.semantic_type == SemanticType::Sex);
                // Only the person's own number is compared with the row's birth date and sex.
                if item.is_key && (birth.is_some() || sex.is_some()) {
                    out.push(RuleSpec::auto(
                        c,
                        RuleKind::IdConsistency {
                            birth_column: birth,
                            sex_column: sex,
                        },
                    ));
                }
            }
            SemanticType::CreditCode => out.push(RuleSpec::auto(c, RuleKind::CreditCode)),
            SemanticType::OrgCode => out.push(RuleSpec::auto(c, RuleKind::OrgCode)),
            SemanticType::RegistrationNumber => {
                out.push(RuleSpec::auto(c, RuleKind::RegistrationNumber))
            }
            SemanticType::DivisionCode => out.push(RuleSpec::auto(
                c,
                RuleKind::CodeTable {
                    table: "gbt2260_current".into(),
                },
            )),
            SemanticType::Mobile => out.push(RuleSpec::auto(c, RuleKind::Mobile)),
            SemanticType::Email => out.push(RuleSpec::auto(c, RuleKind::Email)),
            SemanticType::Sex => out.push(RuleSpec::auto(
                c,
                RuleKind::CodeTable {
                    table: "gbt2261_1".into(),
                },
            )),
            SemanticType::Amount => out.push(RuleSpec::auto(
                c,
                RuleKind::Range {
                    min: Some(0.0),
                    max: None,
                },
            )),
            SemanticType::Date if item.data_type == DataType::Date => out.push(RuleSpec::auto(
                c,
                RuleKind::DateRange {
                    min: Some("1900-01-01".into()),
                    max: None,
                },
            )),
            _ => {}
        }
        if item.data_type == DataType::Date
            && (item.name.contains("birth") || item.label.contains("出生"))
        {
            out.retain(|r| !(r.column.as_deref() == c && r.kind.code() == "date_range"));
            out.push(RuleSpec::auto(
                c,
                RuleKind::DateRange {
                    min: Some("1900-01-01".into()),
                    max: Some("today".into()),
                },
            ));
        }
    }
    if has_cycle {
        out.push(RuleSpec::auto(None, RuleKind::Freshness));
    }
    out
}

/// The effective rules: derived ones, overridden (or switched off) by saved ones with the same
/// id, plus the officer's own.
pub fn effective_rules(derived: Vec<RuleSpec>, saved: Vec<RuleSpec>) -> Vec<RuleSpec> {
    let mut out = derived;
    for s in saved {
        match out.iter_mut().find(|r| r.id == s.id) {
            Some(r) => *r = s,
            None => out.push(s),
        }
    }
    out
}

/// Comparison operators of `compare` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

impl CompareOp {
    fn parse(s: &str) -> Option<CompareOp> {
        Some(match s {
            "lt" | "<" => CompareOp::Lt,
            "le" | "<=" => CompareOp::Le,
            "eq" | "=" | "==" => CompareOp::Eq,
            "ne" | "!=" | "<>" => CompareOp::Ne,
            "ge" | ">=" => CompareOp::Ge,
            "gt" | ">" => CompareOp::Gt,
            _ => return None,
        })
    }

    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CompareOp::Lt => o == Less,
            CompareOp::Le => o != Greater,
            CompareOp::Eq => o == Equal,
            CompareOp::Ne => o != Equal,
            CompareOp::Ge => o != Less,
            CompareOp::Gt => o == Greater,
        }
    }
}

/// Code tables a `code_table` rule may name.
pub const CODE_TABLES: &[(&str, &str, &str)] = &[
    (
        "gbt2260",
        "GB/T 2260 行政区划代码（含历史代码）",
        "GB/T 2260 division codes, any edition",
    ),
    (
        "gbt2260_current",
        "GB/T 2260 行政区划代码（现行）",
        "GB/T 2260 division codes in force",
    ),
    (
        "gbt2261_1",
        "GB/T 2261.1 人的性别代码",
        "GB/T 2261.1 sex codes",
    ),
    (
        "gbt3304",
        "GB/T 3304 民族代码",
        "GB/T 3304 nationality codes",
    ),
];

/// A value set: a compiled code table or value list.
#[derive(Debug, Clone)]
pub enum CodeSet {
    Division { current_only: bool },
    Set(Arc<HashSet<String>>),
}

impl CodeSet {
    pub fn contains(&self, v: &str) -> bool {
        match self {
            CodeSet::Division { current_only } => shuniu_types::division::lookup_str(v)
                .is_some_and(|e| !*current_only || e.is_current()),
            CodeSet::Set(s) => s.contains(v),
        }
    }
}

fn code_table(name: &str) -> Option<CodeSet> {
    let set = |vals: Vec<String>| Some(CodeSet::Set(Arc::new(vals.into_iter().collect())));
    match name {
        "gbt2260" => Some(CodeSet::Division {
            current_only: false,
        }),
        "gbt2260_current" => Some(CodeSet::Division { current_only: true }),
        // 0 unknown, 1 male, 2 female, 9 unstated.
        "gbt2261_1" => set(["0", "1", "2", "9"].map(String::from).to_vec()),
        // 01–56 the nationalities, 97 other, 98 naturalized foreigners.
        "gbt3304" => set((1..=56)
            .map(|n| format!("{n:02}"))
            .chain(["97".to_string(), "98".to_string()])
            .collect()),
        _ => None,
    }
}

/// What a rule was compiled into: everything resolved, nothing left to fail.
#[derive(Debug, Clone)]
pub enum Check {
    Required,
    Unique,
    Pattern(regex::Regex),
    Length {
        min: Option<u32>,
        max: Option<u32>,
    },
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    DateRange {
        min: Option<i32>,
        max: Option<i32>,
    },
    InSet(CodeSet),
    IdNumber,
    IdConsistency {
        birth: Option<String>,
        sex: Option<String>,
    },
    CreditCode,
    OrgCode,
    RegistrationNumber,
    Mobile,
    Email(regex::Regex),
    Compare {
        op: CompareOp,
        other: String,
    },
    Reference(Arc<HashSet<String>>),
    /// Dataset-level; evaluated by the engine, not on rows.
    Freshness,
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub spec: RuleSpec,
    pub column: Option<String>,
    pub check: Check,
}

/// Facts compilation needs beyond the rule: the other datasets' reference sets.
#[derive(Debug, Default, Clone)]
pub struct CompileContext {
    /// (resource, column) → the distinct values of that column in its current version.
    pub references: HashMap<(String, String), Arc<HashSet<String>>>,
    /// Resources that exist (for checking a reference when saved).
    pub known_resources: HashMap<String, Vec<String>>,
}

fn bad(code: &'static str, zh: String, en: String) -> QualityError {
    QualityError::invalid(code, zh, en)
}

fn date_bound(rule: &str, v: &Option<String>) -> Result<Option<i32>, QualityError> {
    let Some(s) = v else { return Ok(None) };
    let d = if s.trim() == "today" {
        chrono::Local::now().date_naive()
    } else {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            bad(
                "RULE_DATE_INVALID",
                format!("规则 {rule} 的日期 “{s}” 不是有效日期（YYYY-MM-DD 或 today）"),
                format!("rule {rule}: “{s}” is not a valid date (YYYY-MM-DD or today)"),
            )
        })?
    };
    Ok(Some(
        (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32,
    ))
}

/// The mainland mobile pattern of the issue and of GB/T 33980's number plan.
pub const MOBILE_PATTERN: &str = r"^1[3-9]\d{9}$";
const EMAIL_PATTERN: &str = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$";

/// Compiles one rule against the resource's data items. Refuses anything that could fail
/// later, naming the problem.
pub fn compile(
    spec: &RuleSpec,
    items: &[DataItem],
    ctx: &CompileContext,
) -> Result<CompiledRule, QualityError> {
    let id = spec.id.trim();
    if id.is_empty()
        || id.len() > 80
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(bad(
            "RULE_ID_INVALID",
            format!("规则标识 “{id}” 无效：只能用字母、数字和 . _ - :，不超过 80 个字符"),
            format!("rule id “{id}” is invalid: letters, digits and . _ - : only, at most 80"),
        ));
    }
    let item_of = |name: &str| items.iter().find(|i| i.name == name);
    let column = match (&spec.column, &spec.kind) {
        (None, RuleKind::Freshness) => None,
        (None, _) => {
            return Err(bad(
                "RULE_COLUMN_MISSING",
                format!("规则 {id} 需要指定信息项"),
                format!("rule {id} needs a column"),
            ));
        }
        (Some(c), _) => {
            if item_of(c).is_none() {
                return Err(bad(
                    "RULE_COLUMN_UNKNOWN",
                    format!("规则 {id} 引用的信息项 “{c}” 不存在"),
                    format!("rule {id} names the unknown column “{c}”"),
                ));
            }
            Some(c.clone())
        }
    };
    let item = column.as_deref().and_then(item_of);
    let numeric = |i: Option<&DataItem>| {
        i.is_some_and(|i| {
            matches!(
                i.data_type,
                DataType::Numeric | DataType::Integer | DataType::Currency
            )
        })
    };
    let wrong_type = |what_zh: &str, what_en: &str| {
        bad(
            "RULE_TYPE_MISMATCH",
            format!("规则 {id} 只能用于{what_zh}信息项"),
            format!("rule {id} applies to {what_en} columns only"),
        )
    };
    let check = match &spec.kind {
        RuleKind::Required => Check::Required,
        RuleKind::Unique => Check::Unique,
        RuleKind::Pattern { pattern } => {
            // The whole value must match, as a format rule means.
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                bad(
                    "RULE_REGEX_INVALID",
                    format!("规则 {id} 的正则表达式无效：{e}"),
                    format!("rule {id}: the regular expression is invalid: {e}"),
                )
            })?;
            Check::Pattern(re)
        }
        RuleKind::Length { min, max } => {
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                return Err(bad(
                    "RULE_RANGE_INVALID",
                    format!("规则 {id} 的最小长度大于最大长度"),
                    format!("rule {id}: min length exceeds max length"),
                ));
            }
            Check::Length {
                min: *min,
                max: *max,
            }
        }
        RuleKind::Range { min, max } => {
            if !numeric(item) {
                return Err(wrong_type("数值型", "numeric"));
            }
            if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                return Err(bad(
                    "RULE_RANGE_INVALID",
                    format!("规则 {id} 的范围必须是有限数值"),
                    format!("rule {id}: bounds must be finite numbers"),
                ));
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                return Err(bad(
                    "RULE_RANGE_INVALID",
                    format!("规则 {id} 的下限大于上限"),
                    format!("rule {id}: the lower bound exceeds the upper bound"),
                ));
            }
            Check::Range {
                min: *min,
                max: *max,
            }
        }
        RuleKind::DateRange { min, max } => {
            if !item.is_some_and(|i| matches!(i.data_type, DataType::Date | DataType::DateTime)) {
                return Err(wrong_type("日期型", "date"));
            }
            Check::DateRange {
                min: date_bound(id, min)?,
                max: date_bound(id, max)?,
            }
        }
        RuleKind::CodeTable { table } => Check::InSet(code_table(table).ok_or_else(|| {
            let known = CODE_TABLES
                .iter()
                .map(|t| t.0)
                .collect::<Vec<_>>()
                .join(", ");
            bad(
                "RULE_CODE_TABLE_UNKNOWN",
                format!("规则 {id} 引用的代码表 “{table}” 不存在，可用：{known}"),
                format!("rule {id} names the unknown code table “{table}”; known: {known}"),
            )
        })?),
        RuleKind::Values { values } => {
            if values.is_empty() {
                return Err(bad(
                    "RULE_VALUES_EMPTY",
                    format!("规则 {id} 的取值列表为空"),
                    format!("rule {id}: the list of values is empty"),
                ));
            }
            Check::InSet(CodeSet::Set(Arc::new(values.iter().cloned().collect())))
        }
        RuleKind::IdNumber => Check::IdNumber,
        RuleKind::IdConsistency {
            birth_column,
            sex_column,
        } => {
            for c in [birth_column, sex_column].into_iter().flatten() {
                if item_of(c).is_none() {
                    return Err(bad(
                        "RULE_COLUMN_UNKNOWN",
                        format!("规则 {id} 引用的信息项 “{c}” 不存在"),
                        format!("rule {id} names the unknown column “{c}”"),
                    ));
                }
            }
            if birth_column.is_none() && sex_column.is_none() {
                return Err(bad(
                    "RULE_COLUMN_MISSING",
                    format!("规则 {id} 需要出生日期或性别信息项"),
                    format!("rule {id} needs a birth date or a sex column"),
                ));
            }
            Check::IdConsistency {
                birth: birth_column.clone(),
                sex: sex_column.clone(),
            }
        }
        RuleKind::CreditCode => Check::CreditCode,
        RuleKind::OrgCode => Check::OrgCode,
        RuleKind::RegistrationNumber => Check::RegistrationNumber,
        RuleKind::Mobile => Check::Mobile,
        RuleKind::Email => Check::Email(
            regex::Regex::new(EMAIL_PATTERN)
                .map_err(|e| QualityError::invalid("INTERNAL", e.to_string(), e.to_string()))?,
        ),
        RuleKind::Compare { op, other } => {
            let op = CompareOp::parse(op).ok_or_else(|| {
                bad(
                    "RULE_OPERATOR_INVALID",
                    format!("规则 {id} 的比较运算符 “{op}” 无效（lt le eq ne ge gt）"),
                    format!("rule {id}: unknown operator “{op}” (lt le eq ne ge gt)"),
                )
            })?;
            let Some(o) = item_of(other) else {
                return Err(bad(
                    "RULE_COLUMN_UNKNOWN",
                    format!("规则 {id} 引用的信息项 “{other}” 不存在"),
                    format!("rule {id} names the unknown column “{other}”"),
                ));
            };
            let (a, b) = (item.map(|i| i.data_type), o.data_type);
            let comparable = a == Some(b) || (numeric(item) && numeric(Some(o)));
            if !comparable {
                return Err(wrong_type(
                    "类型相同的",
                    "columns of the same type as the other",
                ));
            }
            Check::Compare {
                op,
                other: other.clone(),
            }
        }
        RuleKind::Reference {
            resource,
            column: rc,
        } => {
            match ctx.known_resources.get(resource) {
                None => {
                    return Err(bad(
                        "RULE_REFERENCE_UNKNOWN",
                        format!("规则 {id} 参照的资源 {resource} 不存在或没有数据"),
                        format!(
                            "rule {id} refers to {resource}, which does not exist or has no data"
                        ),
                    ));
                }
                Some(cols) if !cols.iter().any(|c| c == rc) => {
                    return Err(bad(
                        "RULE_REFERENCE_UNKNOWN",
                        format!("规则 {id} 参照的资源 {resource} 没有信息项 “{rc}”"),
                        format!("rule {id}: {resource} has no column “{rc}”"),
                    ));
                }
                _ => {}
            }
            let set = ctx
                .references
                .get(&(resource.clone(), rc.clone()))
                .cloned()
                .unwrap_or_default();
            Check::Reference(set)
        }
        RuleKind::Freshness => Check::Freshness,
    };
    Ok(CompiledRule {
        spec: RuleSpec {
            id: id.to_string(),
            ..spec.clone()
        },
        column,
        check,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The national code tables as published: GB/T 2261.1-2003 (0 未知的性别, 1 男性, 2 女性,
    /// 9 未说明的性别) and GB/T 3304-1991 (01 汉族 … 56 基诺族, 97 其他, 98 外国血统中国籍人士).
    #[test]
    fn national_code_tables_hold_exactly_the_published_codes() {
        let Some(CodeSet::Set(sex)) = code_table("gbt2261_1") else {
            panic!("sex table")
        };
        let mut sex: Vec<_> = sex.iter().cloned().collect();
        sex.sort();
        assert_eq!(sex, ["0", "1", "2", "9"]);
        let Some(CodeSet::Set(nat)) = code_table("gbt3304") else {
            panic!("nationality table")
        };
        assert_eq!(nat.len(), 58);
        for ok in ["01", "56", "97", "98"] {
            assert!(nat.contains(ok), "{ok}");
        }
        for bad in ["00", "57", "96", "99", "1", "001"] {
            assert!(!nat.contains(bad), "{bad}");
        }
    }

    pub(crate) fn item(name: &str, ty: DataType, sem: SemanticType, key: bool) -> DataItem {
        DataItem {
            name: name.into(),
            label: name.into(),
            data_type: ty,
            length: if ty == DataType::Text { Some(18) } else { None },
            description: String::new(),
            is_key: key,
            required: false,
            personal: false,
            sensitive: false,
            masking: shuniu_types::MaskingRule::None,
            semantic_type: sem,
        }
    }

    fn items() -> Vec<DataItem> {
        vec![
            item("id_number", DataType::Text, SemanticType::IdNumber, true),
            item("birth_date", DataType::Date, SemanticType::None, false),
            item("sex", DataType::Text, SemanticType::Sex, false),
            item("amount", DataType::Currency, SemanticType::Amount, false),
            item(
                "district",
                DataType::Text,
                SemanticType::DivisionCode,
                false,
            ),
        ]
    }

    #[test]
    fn semantic_types_derive_their_rules() {
        let rules = derive_rules(&items(), true);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        for want in [
            "id_number.required",
            "id_number.unique",
            "id_number.length",
            "id_number.id_number",
            "id_number.id_consistency",
            "birth_date.date_range",
            "sex.code_table",
            "amount.range",
            "district.code_table",
            "freshness",
        ] {
            assert!(ids.contains(&want), "{want} missing from {ids:?}");
        }
        let ctx = CompileContext::default();
        for r in &rules {
            compile(r, &items(), &ctx).expect("derived rules compile");
        }
    }

    #[test]
    fn rules_that_cannot_run_are_refused_when_saved() {
        let ctx = CompileContext::default();
        let rule = |column: &str, kind: RuleKind| RuleSpec {
            id: "r1".into(),
            column: Some(column.into()),
            kind,
            enabled: true,
            origin: "officer".into(),
        };
        let cases = [
            (
                rule(
                    "id_number",
                    RuleKind::Pattern {
                        pattern: "([".into(),
                    },
                ),
                "RULE_REGEX_INVALID",
            ),
            (rule("nope", RuleKind::Required), "RULE_COLUMN_UNKNOWN"),
            (
                rule(
                    "district",
                    RuleKind::CodeTable {
                        table: "gbt9999".into(),
                    },
                ),
                "RULE_CODE_TABLE_UNKNOWN",
            ),
            (
                rule(
                    "id_number",
                    RuleKind::Range {
                        min: Some(0.0),
                        max: None,
                    },
                ),
                "RULE_TYPE_MISMATCH",
            ),
            (
                rule(
                    "amount",
                    RuleKind::Range {
                        min: Some(5.0),
                        max: Some(1.0),
                    },
                ),
                "RULE_RANGE_INVALID",
            ),
            (
                rule(
                    "birth_date",
                    RuleKind::DateRange {
                        min: Some("2023-02-30".into()),
                        max: None,
                    },
                ),
                "RULE_DATE_INVALID",
            ),
            (
                rule(
                    "amount",
                    RuleKind::Compare {
                        op: "~".into(),
                        other: "amount".into(),
                    },
                ),
                "RULE_OPERATOR_INVALID",
            ),
            (
                rule(
                    "amount",
                    RuleKind::Compare {
                        op: "lt".into(),
                        other: "birth_date".into(),
                    },
                ),
                "RULE_TYPE_MISMATCH",
            ),
            (
                rule(
                    "id_number",
                    RuleKind::Reference {
                        resource: "X".into(),
                        column: "c".into(),
                    },
                ),
                "RULE_REFERENCE_UNKNOWN",
            ),
            (
                rule("sex", RuleKind::Values { values: vec![] }),
                "RULE_VALUES_EMPTY",
            ),
        ];
        for (spec, code) in cases {
            let e = compile(&spec, &items(), &ctx).expect_err(code);
            assert_eq!(e.code(), code, "{spec:?}");
            assert!(!e.message_zh().is_empty());
        }
        let mut bad_id = rule("sex", RuleKind::Required);
        bad_id.id = "规则 1".into();
        assert_eq!(
            compile(&bad_id, &items(), &ctx).expect_err("id").code(),
            "RULE_ID_INVALID"
        );
    }

    #[test]
    fn rules_round_trip_through_json() {
        let r: RuleSpec = serde_json::from_str(
            r#"{"id":"phone.format","column":"phone","type":"pattern","pattern":"^1[3-9]\\d{9}$"}"#,
        )
        .expect("parses");
        assert_eq!(
            r.kind,
            RuleKind::Pattern {
                pattern: MOBILE_PATTERN.into()
            }
        );
        assert!(r.enabled);
        assert_eq!(r.origin, "officer");
        let back: RuleSpec =
            serde_json::from_value(serde_json::to_value(&r).expect("json")).expect("back");
        assert_eq!(back, r);
    }

    #[test]
    fn saved_rules_override_derived_ones_by_id() {
        let derived = derive_rules(&items(), false);
        let mut off = derived[0].clone();
        off.enabled = false;
        off.origin = "officer".into();
        let eff = effective_rules(derived.clone(), vec![off.clone()]);
        assert_eq!(eff.len(), derived.len());
        assert!(!eff[0].enabled);
    }
}
