//! The catalog's vocabulary and the metadata of a data resource (数据资源), after GB/T 21063
//! and the 2017 政务信息资源目录编制指南: classification (类/项/目/细目), data items (信息项),
//! share and open attributes, update cycle, security level (GB/T 43697).
//!
//! [`ResourceInput`] is what a user submits (form, JSON, Excel row group); [`ResourceInput::validate`]
//! turns it into a [`ResourceSpec`] or the complete list of field errors. Checks that need
//! the store (does the provider exist, is the code unique) belong to the catalog service.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::text::bounded;
use crate::{FieldError, vocabulary};

vocabulary! {
    /// 类: the top level of the catalog classification.
    CategoryKind, "CATEGORY_KIND_INVALID" {
        Base = ("base", "基础信息资源", "Base resources"),
        Theme = ("theme", "主题信息资源", "Thematic resources"),
        Department = ("department", "部门信息资源", "Department resources"),
    }
}

impl CategoryKind {
    /// The digit the resource code starts with.
    pub fn digit(self) -> u8 {
        match self {
            CategoryKind::Base => 1,
            CategoryKind::Theme => 2,
            CategoryKind::Department => 3,
        }
    }
}

vocabulary! {
    /// 共享属性.
    ShareType, "SHARE_TYPE_INVALID" {
        Unconditional = ("unconditional", "无条件共享", "Unconditional sharing"),
        Conditional = ("conditional", "有条件共享", "Conditional sharing"),
        NotShared = ("not_shared", "不予共享", "Not shared"),
    }
}

vocabulary! {
    /// 开放属性.
    OpenType, "OPEN_TYPE_INVALID" {
        Unconditional = ("unconditional", "无条件开放", "Open"),
        Conditional = ("conditional", "有条件开放", "Conditionally open"),
        NotOpen = ("not_open", "不予开放", "Not open"),
    }
}

vocabulary! {
    /// 共享方式.
    ShareMethod, "SHARE_METHOD_INVALID" {
        Interface = ("interface", "接口", "API"),
        Table = ("table", "库表", "Table exchange"),
        File = ("file", "文件", "File"),
    }
}

vocabulary! {
    /// 更新周期.
    UpdateCycle, "UPDATE_CYCLE_INVALID" {
        Realtime = ("realtime", "实时", "Real time"),
        Daily = ("daily", "每日", "Daily"),
        Weekly = ("weekly", "每周", "Weekly"),
        Monthly = ("monthly", "每月", "Monthly"),
        Quarterly = ("quarterly", "每季度", "Quarterly"),
        Semiannual = ("semiannual", "每半年", "Every six months"),
        Yearly = ("yearly", "每年", "Yearly"),
        Irregular = ("irregular", "不定期", "Irregular"),
    }
}

impl UpdateCycle {
    /// Days after which a dataset with this cycle is stale; `None` for irregular updates.
    pub fn max_age_days(self) -> Option<u32> {
        match self {
            UpdateCycle::Realtime | UpdateCycle::Daily => Some(1),
            UpdateCycle::Weekly => Some(7),
            UpdateCycle::Monthly => Some(31),
            UpdateCycle::Quarterly => Some(92),
            UpdateCycle::Semiannual => Some(183),
            UpdateCycle::Yearly => Some(366),
            UpdateCycle::Irregular => None,
        }
    }
}

vocabulary! {
    /// 信息资源格式 (the guideline's format classes).
    ResourceFormat, "RESOURCE_FORMAT_INVALID" {
        Database = ("database", "数据库", "Database"),
        Spreadsheet = ("spreadsheet", "电子表格", "Spreadsheet"),
        Document = ("document", "电子文件", "Electronic document"),
        Image = ("image", "图形图像", "Graphics and images"),
        Media = ("media", "流媒体", "Streaming media"),
        SelfDescribing = ("self_describing", "自描述格式", "Self-describing (JSON/XML)"),
    }
}

vocabulary! {
    /// GB/T 43697 data classification: general data (graded 1–4), important, core.
    SecurityLevel, "SECURITY_LEVEL_INVALID" {
        General1 = ("general_1", "一般数据1级", "General, level 1"),
        General2 = ("general_2", "一般数据2级", "General, level 2"),
        General3 = ("general_3", "一般数据3级", "General, level 3"),
        General4 = ("general_4", "一般数据4级", "General, level 4"),
        Important = ("important", "重要数据", "Important data"),
        Core = ("core", "核心数据", "Core data"),
    }
}

vocabulary! {
    /// 信息项数据类型 (the guideline's type letters in brackets).
    DataType, "DATA_TYPE_INVALID" {
        Text = ("text", "字符型", "Text (C)"),
        Numeric = ("numeric", "数值型", "Numeric (N)"),
        Integer = ("integer", "整型", "Integer (I)"),
        Currency = ("currency", "货币型", "Currency (Y)"),
        Date = ("date", "日期型", "Date (D)"),
        DateTime = ("datetime", "日期时间型", "Date and time (T)"),
        Boolean = ("boolean", "逻辑型", "Boolean (L)"),
        Memo = ("memo", "备注型", "Long text (M)"),
        Binary = ("binary", "通用型", "Binary (G)"),
    }
}

vocabulary! {
    /// What a data item means, beyond its storage type; drives quality rules and masking.
    SemanticType, "SEMANTIC_TYPE_INVALID" {
        None = ("none", "无", "None"),
        IdNumber = ("id_number", "身份证号", "Citizen ID number"),
        CreditCode = ("credit_code", "统一社会信用代码", "Unified social credit code"),
        OrgCode = ("org_code", "组织机构代码", "Organization code (GB 11714)"),
        RegistrationNumber = ("registration_number", "注册号", "Registration number (before credit codes)"),
        DivisionCode = ("division_code", "行政区划代码", "Division code"),
        Mobile = ("mobile", "手机号", "Mobile number"),
        PersonName = ("person_name", "姓名", "Person name"),
        Address = ("address", "地址", "Address"),
        Email = ("email", "电子邮箱", "Email"),
        BankCard = ("bank_card", "银行卡号", "Bank card number"),
        Sex = ("sex", "性别", "Sex"),
        Date = ("date", "日期", "Date"),
        Amount = ("amount", "金额", "Amount"),
    }
}

vocabulary! {
    /// 脱敏规则: how an item is masked when it leaves the hub masked.
    MaskingRule, "MASKING_RULE_INVALID" {
        None = ("none", "不脱敏", "None"),
        IdNumber = ("id_number", "身份证号（保留前6后4）", "ID number (first 6, last 4)"),
        Mobile = ("mobile", "手机号（保留前3后4）", "Mobile (first 3, last 4)"),
        Name = ("name", "姓名（保留姓）", "Name (keep surname)"),
        BankCard = ("bank_card", "银行卡号（保留后4）", "Bank card (last 4)"),
        Address = ("address", "地址（保留到区县）", "Address (down to district)"),
        Email = ("email", "电子邮箱", "Email"),
        Hash = ("hash", "哈希", "Hash"),
        Null = ("null", "置空", "Null"),
    }
}

impl SemanticType {
    /// The masking a personal item of this type gets unless the officer picks another.
    pub fn default_masking(self) -> MaskingRule {
        match self {
            SemanticType::IdNumber => MaskingRule::IdNumber,
            SemanticType::Mobile => MaskingRule::Mobile,
            SemanticType::PersonName => MaskingRule::Name,
            SemanticType::BankCard => MaskingRule::BankCard,
            SemanticType::Address => MaskingRule::Address,
            SemanticType::Email => MaskingRule::Email,
            _ => MaskingRule::Hash,
        }
    }
}

vocabulary! {
    /// Where a catalog entry is in its lifecycle.
    ResourceStatus, "RESOURCE_STATUS_INVALID" {
        Draft = ("draft", "草稿", "Draft"),
        Submitted = ("submitted", "待审核", "Submitted"),
        Published = ("published", "已发布", "Published"),
        Returned = ("returned", "已退回", "Returned"),
        Withdrawn = ("withdrawn", "已撤销", "Withdrawn"),
    }
}

/// 类/项/目/细目: the classification path of a resource. The kind is the 类; 项, 目 and
/// 细目 are numbered within their parent and carry their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Classification {
    pub kind: CategoryKind,
    /// 项, 1–99.
    pub item_code: u8,
    pub item_name: String,
    /// 目, 1–999.
    pub subject_code: u16,
    pub subject_name: String,
    /// 细目, 1–999, optional.
    pub detail_code: Option<u16>,
    pub detail_name: Option<String>,
}

impl Classification {
    /// The front segment of the resource code (前段码), e.g. `101002` or `101002003`.
    pub fn front_code(&self) -> String {
        match self.detail_code {
            Some(d) => format!(
                "{}{:02}{:03}{:03}",
                self.kind.digit(),
                self.item_code,
                self.subject_code,
                d
            ),
            None => format!(
                "{}{:02}{:03}",
                self.kind.digit(),
                self.item_code,
                self.subject_code
            ),
        }
    }

    pub fn path_zh(&self) -> String {
        let mut s = format!(
            "{} / {} / {}",
            self.kind.zh(),
            self.item_name,
            self.subject_name
        );
        if let Some(d) = &self.detail_name {
            s.push_str(" / ");
            s.push_str(d);
        }
        s
    }
}

/// One data item (信息项) as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataItemInput {
    /// Column identifier: lower-case letters, digits and underscores, starting with a letter.
    pub name: String,
    /// 中文名称.
    pub label: String,
    /// A [`DataType`] code or Chinese label, e.g. `text` or `字符型`.
    pub data_type: String,
    pub length: Option<u32>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_key: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub personal: bool,
    #[serde(default)]
    pub sensitive: bool,
    /// A [`MaskingRule`] code or label; empty means the semantic type's default.
    #[serde(default)]
    pub masking: String,
    /// A [`SemanticType`] code or label; empty means none.
    #[serde(default)]
    pub semantic_type: String,
}

/// A validated data item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataItem {
    pub name: String,
    pub label: String,
    pub data_type: DataType,
    pub length: Option<u32>,
    pub description: String,
    pub is_key: bool,
    pub required: bool,
    pub personal: bool,
    pub sensitive: bool,
    pub masking: MaskingRule,
    pub semantic_type: SemanticType,
}

impl From<&DataItem> for DataItemInput {
    fn from(d: &DataItem) -> Self {
        DataItemInput {
            name: d.name.clone(),
            label: d.label.clone(),
            data_type: d.data_type.code().into(),
            length: d.length,
            description: d.description.clone(),
            is_key: d.is_key,
            required: d.required,
            personal: d.personal,
            sensitive: d.sensitive,
            masking: d.masking.code().into(),
            semantic_type: d.semantic_type.code().into(),
        }
    }
}

/// Limits on catalog metadata, in characters.
pub mod limits {
    pub const NAME: usize = 100;
    pub const SUMMARY: usize = 2000;
    pub const CONDITIONS: usize = 1000;
    pub const LEGAL_BASIS: usize = 500;
    pub const ITEM_NAME: usize = 63;
    pub const ITEM_LABEL: usize = 50;
    pub const ITEM_DESCRIPTION: usize = 500;
    pub const ITEM_LENGTH: u32 = 65_535;
    pub const ITEMS: usize = 500;
    pub const RELATED: usize = 50;
    pub const CLASS_NAME: usize = 50;
}

/// A catalog entry as submitted by a department (form, JSON or Excel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceInput {
    pub name: String,
    /// Code of the providing department.
    pub provider: String,
    /// [`CategoryKind`] code or label.
    pub category: String,
    pub item_code: u8,
    pub item_name: String,
    pub subject_code: u16,
    pub subject_name: String,
    #[serde(default)]
    pub detail_code: Option<u16>,
    #[serde(default)]
    pub detail_name: Option<String>,
    pub summary: String,
    pub format: String,
    pub share_type: String,
    #[serde(default)]
    pub share_conditions: String,
    #[serde(default)]
    pub share_method: String,
    pub open_type: String,
    #[serde(default)]
    pub open_conditions: String,
    /// Required for 不予共享: the law, regulation or central policy that forbids sharing.
    #[serde(default)]
    pub legal_basis: String,
    pub update_cycle: String,
    pub level: String,
    #[serde(default)]
    pub publish_date: Option<NaiveDate>,
    #[serde(default)]
    pub related: Vec<String>,
    pub data_items: Vec<DataItemInput>,
}

impl ResourceInput {
    /// An entry's own fields (not its data items) from text, as a console form or an Excel row
    /// holds them; `get` answers a field's text by its name (`name`, `item_code`, `related` …,
    /// "" when absent). Numbers and dates that do not parse are left empty (0 for the
    /// classification codes, which validation then reports) and each is also returned as a
    /// field error. Related resources are separated by commas, semicolons or spaces, in ASCII
    /// or full-width form. The one reading of the console form and of the Excel import.
    pub fn from_text(get: impl Fn(&str) -> String) -> (ResourceInput, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut number = |field: &str| -> Option<u64> {
            let text = get(field);
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            match text.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(
                        field,
                        "NUMBER_INVALID",
                        format!("“{text}”不是有效的数字"),
                        format!("“{text}” is not a valid number"),
                    ));
                    Some(u64::MAX)
                }
            }
        };
        // Out-of-range numbers become 0 (an invalid code that validation names).
        let item_code = number("item_code").map_or(0, |n| u8::try_from(n).unwrap_or(0));
        let subject_code = number("subject_code").map_or(0, |n| u16::try_from(n).unwrap_or(0));
        let detail_code = number("detail_code").map(|n| u16::try_from(n).unwrap_or(0));
        let text = |k: &str| get(k).trim().to_string();
        let date = text("publish_date");
        let publish_date = if date.is_empty() {
            None
        } else {
            match NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        "publish_date",
                        "DATE_INVALID",
                        format!("“{date}”不是有效日期（YYYY-MM-DD）"),
                        format!("“{date}” is not a date (YYYY-MM-DD)"),
                    ));
                    None
                }
            }
        };
        let input = ResourceInput {
            name: text("name"),
            provider: text("provider"),
            category: text("category"),
            item_code,
            item_name: text("item_name"),
            subject_code,
            subject_name: text("subject_name"),
            detail_code,
            detail_name: Some(text("detail_name")).filter(|s| !s.is_empty()),
            summary: text("summary"),
            format: text("format"),
            share_type: text("share_type"),
            share_conditions: text("share_conditions"),
            share_method: text("share_method"),
            open_type: text("open_type"),
            open_conditions: text("open_conditions"),
            legal_basis: text("legal_basis"),
            update_cycle: text("update_cycle"),
            level: text("level"),
            publish_date,
            related: text("related")
                .split([',', '，', ';', '；', ' ', '　'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            data_items: Vec::new(),
        };
        (input, errors)
    }
}

/// A validated catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceSpec {
    pub name: String,
    pub provider: String,
    pub classification: Classification,
    pub summary: String,
    pub format: ResourceFormat,
    pub share_type: ShareType,
    pub share_conditions: String,
    pub share_method: ShareMethod,
    pub open_type: OpenType,
    pub open_conditions: String,
    pub legal_basis: String,
    pub update_cycle: UpdateCycle,
    pub level: SecurityLevel,
    pub publish_date: Option<NaiveDate>,
    pub related: Vec<String>,
    pub data_items: Vec<DataItem>,
}

impl From<&ResourceSpec> for ResourceInput {
    fn from(s: &ResourceSpec) -> Self {
        ResourceInput {
            name: s.name.clone(),
            provider: s.provider.clone(),
            category: s.classification.kind.code().into(),
            item_code: s.classification.item_code,
            item_name: s.classification.item_name.clone(),
            subject_code: s.classification.subject_code,
            subject_name: s.classification.subject_name.clone(),
            detail_code: s.classification.detail_code,
            detail_name: s.classification.detail_name.clone(),
            summary: s.summary.clone(),
            format: s.format.code().into(),
            share_type: s.share_type.code().into(),
            share_conditions: s.share_conditions.clone(),
            share_method: s.share_method.code().into(),
            open_type: s.open_type.code().into(),
            open_conditions: s.open_conditions.clone(),
            legal_basis: s.legal_basis.clone(),
            update_cycle: s.update_cycle.code().into(),
            level: s.level.code().into(),
            publish_date: s.publish_date,
            related: s.related.clone(),
            data_items: s.data_items.iter().map(DataItemInput::from).collect(),
        }
    }
}

/// Collects field errors so that a user sees every problem of a submission at once.
struct Errors(Vec<FieldError>);

impl Errors {
    fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }
    fn push(
        &mut self,
        field: &str,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, zh, en));
    }
}

/// True if `s` names a document in 书名号: 《…》 with something inside.
fn cites_instrument(s: &str) -> bool {
    s.split('《')
        .skip(1)
        .any(|rest| rest.find('》').is_some_and(|end| end > 0))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

impl DataItemInput {
    fn validate(&self, field: &str, errors: &mut Errors) -> Option<DataItem> {
        let f = |name: &str| format!("{field}.{name}");
        let name = errors.take(bounded(&f("name"), &self.name, true, limits::ITEM_NAME));
        if let Some(n) = &name
            && !n.is_empty()
            && !is_identifier(n)
        {
            errors.push(
                &f("name"),
                "DATA_ITEM_NAME_FORMAT",
                "信息项英文名只能由小写字母、数字和下划线组成，且以字母开头",
                "a data item name is lower-case letters, digits and underscores, starting with a letter",
            );
        }
        let label = errors.take(bounded(&f("label"), &self.label, true, limits::ITEM_LABEL));
        let description = errors.take(bounded(
            &f("description"),
            &self.description,
            false,
            limits::ITEM_DESCRIPTION,
        ));
        let data_type = errors.take(DataType::parse_field(&f("data_type"), &self.data_type));
        if let Some(len) = self.length
            && (len == 0 || len > limits::ITEM_LENGTH)
        {
            errors.push(
                &f("length"),
                "DATA_ITEM_LENGTH_RANGE",
                format!("长度应在 1 到 {} 之间", limits::ITEM_LENGTH),
                format!("the length must be between 1 and {}", limits::ITEM_LENGTH),
            );
        }
        if matches!(data_type, Some(DataType::Text)) && self.length.is_none() {
            errors.push(
                &f("length"),
                "DATA_ITEM_LENGTH_REQUIRED",
                "字符型信息项必须填写长度",
                "a text item needs a length",
            );
        }
        let semantic_type = if self.semantic_type.trim().is_empty() {
            Some(SemanticType::None)
        } else {
            errors.take(SemanticType::parse_field(
                &f("semantic_type"),
                &self.semantic_type,
            ))
        };
        let masking = if self.masking.trim().is_empty() {
            semantic_type.map(|t| {
                if self.personal || self.sensitive {
                    t.default_masking()
                } else {
                    MaskingRule::None
                }
            })
        } else {
            errors.take(MaskingRule::parse_field(&f("masking"), &self.masking))
        };
        if (self.personal || self.sensitive) && masking == Some(MaskingRule::None) {
            errors.push(
                &f("masking"),
                "DATA_ITEM_MASKING_REQUIRED",
                "个人信息或敏感信息项必须指定脱敏规则",
                "a personal or sensitive item needs a masking rule",
            );
        }
        Some(DataItem {
            name: name?,
            label: label?,
            data_type: data_type?,
            length: self.length,
            description: description?,
            is_key: self.is_key,
            required: self.required || self.is_key,
            personal: self.personal,
            sensitive: self.sensitive,
            masking: masking?,
            semantic_type: semantic_type?,
        })
    }
}

impl ResourceInput {
    /// Checks every field; returns the spec or all the errors found.
    pub fn validate(&self) -> Result<ResourceSpec, Vec<FieldError>> {
        let mut e = Errors(Vec::new());
        let name = e.take(bounded("name", &self.name, true, limits::NAME));
        let provider = e.take(bounded("provider", &self.provider, true, 32));
        let kind = e.take(CategoryKind::parse_field("category", &self.category));
        if !(1..=99).contains(&self.item_code) {
            e.push(
                "item_code",
                "CLASSIFICATION_RANGE",
                "“项”编码应在 1 到 99 之间",
                "the item (项) code is 1–99",
            );
        }
        if !(1..=999).contains(&self.subject_code) {
            e.push(
                "subject_code",
                "CLASSIFICATION_RANGE",
                "“目”编码应在 1 到 999 之间",
                "the subject (目) code is 1–999",
            );
        }
        if let Some(d) = self.detail_code
            && !(1..=999).contains(&d)
        {
            e.push(
                "detail_code",
                "CLASSIFICATION_RANGE",
                "“细目”编码应在 1 到 999 之间",
                "the detail (细目) code is 1–999",
            );
        }
        let item_name = e.take(bounded(
            "item_name",
            &self.item_name,
            true,
            limits::CLASS_NAME,
        ));
        let subject_name = e.take(bounded(
            "subject_name",
            &self.subject_name,
            true,
            limits::CLASS_NAME,
        ));
        let detail_name = match (&self.detail_code, &self.detail_name) {
            (Some(_), Some(n)) => e
                .take(bounded("detail_name", n, true, limits::CLASS_NAME))
                .map(Some),
            (Some(_), None) => {
                e.push(
                    "detail_name",
                    "FIELD_REQUIRED",
                    "填写了细目编码时必须填写细目名称",
                    "a detail code needs a detail name",
                );
                None
            }
            (None, _) => Some(None),
        };
        let summary = e.take(bounded("summary", &self.summary, true, limits::SUMMARY));
        let format = e.take(ResourceFormat::parse_field("format", &self.format));
        let share_type = e.take(ShareType::parse_field("share_type", &self.share_type));
        let share_conditions = e.take(bounded(
            "share_conditions",
            &self.share_conditions,
            false,
            limits::CONDITIONS,
        ));
        let share_method = if self.share_method.trim().is_empty() {
            Some(ShareMethod::Interface)
        } else {
            e.take(ShareMethod::parse_field("share_method", &self.share_method))
        };
        let open_type = e.take(OpenType::parse_field("open_type", &self.open_type));
        let open_conditions = e.take(bounded(
            "open_conditions",
            &self.open_conditions,
            false,
            limits::CONDITIONS,
        ));
        let legal_basis = e.take(bounded(
            "legal_basis",
            &self.legal_basis,
            false,
            limits::LEGAL_BASIS,
        ));
        let update_cycle = e.take(UpdateCycle::parse_field("update_cycle", &self.update_cycle));
        let level = e.take(SecurityLevel::parse_field("level", &self.level));

        if share_type == Some(ShareType::NotShared) {
            match legal_basis.as_deref() {
                Some("") => e.push(
                    "legal_basis",
                    "LEGAL_BASIS_REQUIRED",
                    "不予共享的资源必须注明法律、行政法规或党中央、国务院政策依据",
                    "a resource that is not shared needs its legal basis (law, regulation or central policy)",
                ),
                // The basis must name the instrument, as 《中华人民共和国统计法》第二十五条 does.
                Some(basis) if !cites_instrument(basis) => e.push(
                    "legal_basis",
                    "LEGAL_BASIS_CITATION",
                    "不予共享依据应写明法律法规或政策文件的名称（用书名号《》），如《中华人民共和国统计法》第二十五条",
                    "the legal basis must name the law, regulation or policy document in 《》, e.g. 《中华人民共和国统计法》第二十五条",
                ),
                _ => {}
            }
        }
        if share_type == Some(ShareType::Conditional)
            && share_conditions.as_deref().is_some_and(str::is_empty)
        {
            e.push(
                "share_conditions",
                "SHARE_CONDITIONS_REQUIRED",
                "有条件共享的资源必须填写共享条件",
                "conditional sharing needs its conditions",
            );
        }
        if open_type == Some(OpenType::Conditional)
            && open_conditions.as_deref().is_some_and(str::is_empty)
        {
            e.push(
                "open_conditions",
                "OPEN_CONDITIONS_REQUIRED",
                "有条件开放的资源必须填写开放条件",
                "conditional opening needs its conditions",
            );
        }
        if share_type == Some(ShareType::NotShared)
            && matches!(
                open_type,
                Some(OpenType::Unconditional | OpenType::Conditional)
            )
        {
            e.push(
                "open_type",
                "OPEN_NOT_SHARED",
                "不予共享的资源不能向社会开放",
                "a resource that is not shared cannot be opened to the public",
            );
        }
        if let (Some(level), Some(open)) = (level, open_type) {
            let allowed = match open {
                OpenType::NotOpen => true,
                OpenType::Unconditional => level == SecurityLevel::General1,
                OpenType::Conditional => level <= SecurityLevel::General3,
            };
            if !allowed {
                e.push(
                    "open_type",
                    "OPEN_LEVEL_CONFLICT",
                    format!("{}不能{}：无条件开放仅限一般数据1级，有条件开放最高一般数据3级", level.zh(), open.zh()),
                    format!("{} data cannot be {}: open data must be general level 1, conditionally open at most level 3", level.en(), open.en().to_lowercase()),
                );
            }
        }

        if self.data_items.is_empty() {
            e.push(
                "data_items",
                "DATA_ITEMS_REQUIRED",
                "至少需要一个信息项",
                "at least one data item is required",
            );
        }
        if self.data_items.len() > limits::ITEMS {
            e.push(
                "data_items",
                "DATA_ITEMS_TOO_MANY",
                format!("信息项不能超过 {} 个", limits::ITEMS),
                format!("at most {} data items", limits::ITEMS),
            );
        }
        let mut items = Vec::with_capacity(self.data_items.len());
        let mut seen = std::collections::HashSet::new();
        for (i, item) in self.data_items.iter().enumerate().take(limits::ITEMS) {
            let field = format!("data_items[{i}]");
            if !seen.insert(item.name.trim().to_string()) {
                e.push(
                    &format!("{field}.name"),
                    "DATA_ITEM_DUPLICATE",
                    format!("信息项“{}”重复", item.name),
                    format!("data item “{}” appears twice", item.name),
                );
            }
            if let Some(d) = item.validate(&field, &mut e) {
                items.push(d);
            }
        }
        if self.related.len() > limits::RELATED {
            e.push(
                "related",
                "RELATED_TOO_MANY",
                "关联资源过多",
                "too many related resources",
            );
        }
        let related: Vec<String> = self
            .related
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();

        if !e.0.is_empty() {
            return Err(e.0);
        }
        // Every `take` above succeeded when no error was recorded.
        let missing = || {
            vec![FieldError::new(
                "",
                "INTERNAL",
                "内部错误",
                "internal error",
            )]
        };
        Ok(ResourceSpec {
            name: name.ok_or_else(missing)?,
            provider: provider.ok_or_else(missing)?,
            classification: Classification {
                kind: kind.ok_or_else(missing)?,
                item_code: self.item_code,
                item_name: item_name.ok_or_else(missing)?,
                subject_code: self.subject_code,
                subject_name: subject_name.ok_or_else(missing)?,
                detail_code: self.detail_code,
                detail_name: detail_name.ok_or_else(missing)?,
            },
            summary: summary.ok_or_else(missing)?,
            format: format.ok_or_else(missing)?,
            share_type: share_type.ok_or_else(missing)?,
            share_conditions: share_conditions.ok_or_else(missing)?,
            share_method: share_method.ok_or_else(missing)?,
            open_type: open_type.ok_or_else(missing)?,
            open_conditions: open_conditions.ok_or_else(missing)?,
            legal_basis: legal_basis.ok_or_else(missing)?,
            update_cycle: update_cycle.ok_or_else(missing)?,
            level: level.ok_or_else(missing)?,
            publish_date: self.publish_date,
            related,
            data_items: items,
        })
    }
}

/// How resource codes are rendered; configurable per province. Placeholders:
/// `{front}` (类项目细目 front code), `{kind}`, `{item}`, `{subject}`, `{detail}`,
/// `{provider}` (the department's code) and `{seq}` or `{seq:N}` (zero-padded sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFormat {
    parts: Vec<CodePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CodePart {
    Literal(String),
    Front,
    Kind,
    Item,
    Subject,
    Detail,
    Provider,
    Seq(usize),
}

impl CodeFormat {
    pub const DEFAULT: &'static str = "{front}-{provider}-{seq:05}";

    pub fn parse(template: &str) -> Result<CodeFormat, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                "catalog.code_format",
                "CODE_FORMAT_INVALID",
                format!("资源代码格式无效：{why}"),
                format!("invalid resource code format: {why}"),
            )
        };
        // Codes appear in URLs and file names: keep literals to a safe alphabet.
        let literal = |s: &str| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                Ok(CodePart::Literal(s.to_string()))
            } else {
                Err(bad(
                    "literal text may hold only letters, digits, '-', '_' and '.'",
                ))
            }
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(literal(&rest[..open])?);
            }
            let close = rest[open..].find('}').ok_or_else(|| bad("unclosed {"))? + open;
            let token = &rest[open + 1..close];
            parts.push(match token {
                "front" => CodePart::Front,
                "kind" => CodePart::Kind,
                "item" => CodePart::Item,
                "subject" => CodePart::Subject,
                "detail" => CodePart::Detail,
                "provider" => CodePart::Provider,
                "seq" => CodePart::Seq(1),
                t if t.starts_with("seq:") => {
                    let w: usize = t[4..].parse().map_err(|_| bad(t))?;
                    if !(1..=12).contains(&w) {
                        return Err(bad(t));
                    }
                    CodePart::Seq(w)
                }
                t => return Err(bad(t)),
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(literal(rest)?);
        }
        if !parts.iter().any(|p| matches!(p, CodePart::Seq(_))) {
            return Err(bad("{seq} is required so that codes are unique"));
        }
        Ok(CodeFormat { parts })
    }

    pub fn render(&self, c: &Classification, provider: &str, seq: u64) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                CodePart::Literal(s) => out.push_str(s),
                CodePart::Front => out.push_str(&c.front_code()),
                CodePart::Kind => out.push_str(&c.kind.digit().to_string()),
                CodePart::Item => out.push_str(&format!("{:02}", c.item_code)),
                CodePart::Subject => out.push_str(&format!("{:03}", c.subject_code)),
                CodePart::Detail => out.push_str(&format!("{:03}", c.detail_code.unwrap_or(0))),
                CodePart::Provider => out.push_str(provider),
                CodePart::Seq(w) => out.push_str(&format!("{seq:0w$}")),
            }
        }
        out
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        // The default template is a constant known to parse.
        CodeFormat::parse(Self::DEFAULT).unwrap_or(CodeFormat {
            parts: vec![CodePart::Seq(5)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> ResourceInput {
        ResourceInput {
            name: "人口基本信息".into(),
            provider: "370200GA".into(),
            category: "基础信息资源".into(),
            item_code: 1,
            item_name: "人口".into(),
            subject_code: 1,
            subject_name: "户籍人口".into(),
            summary: "全市户籍人口的基本信息".into(),
            format: "数据库".into(),
            share_type: "有条件共享".into(),
            share_conditions: "用于政务服务身份核验".into(),
            open_type: "不予开放".into(),
            update_cycle: "每日".into(),
            level: "general_3".into(),
            data_items: vec![
                DataItemInput {
                    name: "id_number".into(),
                    label: "公民身份号码".into(),
                    data_type: "字符型".into(),
                    length: Some(18),
                    is_key: true,
                    personal: true,
                    semantic_type: "身份证号".into(),
                    ..Default::default()
                },
                DataItemInput {
                    name: "name".into(),
                    label: "姓名".into(),
                    data_type: "text".into(),
                    length: Some(50),
                    personal: true,
                    semantic_type: "person_name".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn valid_entry_with_chinese_terms() {
        let spec = sample().validate().unwrap();
        assert_eq!(spec.share_type, ShareType::Conditional);
        assert_eq!(
            spec.data_items[0].masking,
            MaskingRule::IdNumber,
            "masking defaults from the semantic type"
        );
        assert!(spec.data_items[0].required, "a key item is required");
        assert_eq!(spec.classification.front_code(), "101001");
    }

    #[test]
    fn every_error_is_reported_with_its_field() {
        let mut r = sample();
        r.name = String::new();
        r.share_type = "随便共享".into();
        r.data_items[1].name = "Bad Name".into();
        r.data_items[1].length = Some(0);
        let errs = r.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"name"));
        assert!(fields.contains(&"share_type"));
        assert!(fields.contains(&"data_items[1].name"));
        assert!(fields.contains(&"data_items[1].length"));
        assert!(
            errs.iter()
                .all(|e| !e.message_zh.is_empty() && !e.message_en.is_empty())
        );
    }

    #[test]
    fn not_shared_needs_legal_basis() {
        let mut r = sample();
        r.share_type = "不予共享".into();
        let errs = r.validate().unwrap_err();
        assert_eq!(errs[0].code, "LEGAL_BASIS_REQUIRED");
        r.legal_basis = "有关法律规定".into();
        assert_eq!(r.validate().unwrap_err()[0].code, "LEGAL_BASIS_CITATION");
        r.legal_basis = "《》".into();
        assert_eq!(r.validate().unwrap_err()[0].code, "LEGAL_BASIS_CITATION");
        r.legal_basis = "《中华人民共和国反恐怖主义法》第四十八条".into();
        assert!(r.validate().is_ok());
    }

    #[test]
    fn level_limits_opening() {
        let mut r = sample();
        r.open_type = "无条件开放".into();
        assert_eq!(r.validate().unwrap_err()[0].code, "OPEN_LEVEL_CONFLICT");
        r.level = "general_1".into();
        r.data_items.truncate(0);
        r.data_items.push(DataItemInput {
            name: "station".into(),
            label: "站点".into(),
            data_type: "字符型".into(),
            length: Some(20),
            ..Default::default()
        });
        assert!(r.validate().is_ok());
        r.open_type = "有条件开放".into();
        r.open_conditions = "科研用途".into();
        r.level = "general_4".into();
        assert_eq!(r.validate().unwrap_err()[0].code, "OPEN_LEVEL_CONFLICT");
    }

    #[test]
    fn personal_items_cannot_go_unmasked() {
        let mut r = sample();
        r.data_items[0].masking = "不脱敏".into();
        assert_eq!(
            r.validate().unwrap_err()[0].code,
            "DATA_ITEM_MASKING_REQUIRED"
        );
    }

    #[test]
    fn duplicate_items_are_refused() {
        let mut r = sample();
        r.data_items[1].name = "id_number".into();
        assert_eq!(r.validate().unwrap_err()[0].code, "DATA_ITEM_DUPLICATE");
    }

    #[test]
    fn code_format() {
        let c = sample().validate().unwrap().classification;
        let f = CodeFormat::default();
        assert_eq!(f.render(&c, "370200GA", 12), "101001-370200GA-00012");
        assert!(
            CodeFormat::parse("{front}/{seq}").is_err(),
            "a slash would break URLs"
        );
        let shandong =
            CodeFormat::parse("SD-{kind}{item}{subject}{detail}-{provider}-{seq:6}").unwrap();
        assert_eq!(shandong.render(&c, "GA", 7), "SD-101001000-GA-000007");
        assert!(
            CodeFormat::parse("{front}-{provider}").is_err(),
            "no sequence"
        );
        assert!(CodeFormat::parse("{front}-{nope}{seq}").is_err());
        assert!(CodeFormat::parse("{front}-{seq:99}").is_err());
    }

    #[test]
    fn vocabularies_round_trip() {
        for s in ShareType::ALL {
            assert_eq!(ShareType::parse_term(s.zh()), Some(*s));
            assert_eq!(ShareType::parse_term(s.code()), Some(*s));
        }
        assert!(SecurityLevel::General4 < SecurityLevel::Important);
        assert_eq!(serde_json_like(SecurityLevel::Core), "core");
    }

    fn serde_json_like(l: SecurityLevel) -> &'static str {
        l.code()
    }
}
