//! Open data (公共数据开放): who may see a resource on the public portal, and what of it.
//!
//! A resource's **open access** follows from its open attribute and its security level:
//! level 1 with 无条件开放 is public; level 1 with 有条件开放, and levels 2–3 with either open
//! attribute, are conditionally open (an approved application's token is needed) and always
//! de-identified; level 4, important and core data are never opened, whatever the attribute.
//!
//! Its **open rules** (set by the provider) say what of the current version is published:
//! per field keep, mask or drop; a row filter (the grant notation, [`RowScope`]); or an
//! aggregation (group-by columns and a count, small groups suppressed). The defaults drop
//! sensitive items and mask personal ones on level 1, and drop every personal item on levels
//! 2–3 except addresses cut down to the district. A rule can make a field stricter than the
//! default, never looser: a personal or sensitive item never reaches the public in clear.
//!
//! [`CompiledOpen::project`] is the one function that shapes every published row (portal
//! preview, downloads, the CKAN datastore, its index).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shuniu_types::{DataItem, MaskingRule, OpenType, ResourceStatus, SecurityLevel, SemanticType};

use crate::Denied;
use crate::grant::{CompiledScope, RowScope, masked_columns};

/// Who may reach a published open dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenAccess {
    /// Anyone, without an account.
    Public,
    /// Metadata is public; data needs an approved application's token.
    Conditional,
}

impl OpenAccess {
    pub fn code(self) -> &'static str {
        match self {
            OpenAccess::Public => "public",
            OpenAccess::Conditional => "conditional",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            OpenAccess::Public => "无条件开放",
            OpenAccess::Conditional => "有条件开放",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            OpenAccess::Public => "Open",
            OpenAccess::Conditional => "Conditionally open",
        }
    }
}

/// Whether a catalog entry is published on the portal, and how.
pub fn open_access(
    status: ResourceStatus,
    open_type: OpenType,
    level: SecurityLevel,
) -> Result<OpenAccess, Denied> {
    if status != ResourceStatus::Published {
        return Err(Denied::new(
            "NOT_PUBLISHED",
            "目录未发布，不能开放",
            "the catalog entry is not published",
        ));
    }
    match (open_type, level) {
        (OpenType::NotOpen, _) => Err(Denied::new(
            "NOT_OPEN",
            "该资源的开放属性为不予开放",
            "the resource's open attribute is 'not open'",
        )),
        (_, SecurityLevel::General4 | SecurityLevel::Important | SecurityLevel::Core) => {
            Err(Denied::new(
                "LEVEL_NOT_OPENABLE",
                "一般数据4级、重要数据和核心数据不予开放",
                "level-4, important and core data are never opened",
            ))
        }
        (OpenType::Unconditional, SecurityLevel::General1) => Ok(OpenAccess::Public),
        _ => Ok(OpenAccess::Conditional),
    }
}

/// What the provider chose for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "masking", rename_all = "snake_case")]
pub enum FieldAction {
    Keep,
    Mask(MaskingRule),
    Drop,
}

/// Published as groups: one row per distinct value of `group_by`, with the number of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregation {
    pub group_by: Vec<String>,
    /// Groups with fewer rows are left out (small counts can identify people).
    #[serde(default = "default_min_group")]
    pub min_group: u32,
}

fn default_min_group() -> u32 {
    5
}

/// The provider's open rules for a resource. Empty means the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRules {
    #[serde(default)]
    pub fields: BTreeMap<String, FieldAction>,
    #[serde(default)]
    pub row_filter: RowScope,
    #[serde(default)]
    pub aggregation: Option<Aggregation>,
}

/// A published field: where it comes from and how it is masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenField {
    /// Index into the resource's data items.
    pub index: usize,
    pub name: String,
    pub label: String,
    pub description: String,
    pub data_type: shuniu_types::DataType,
    pub masking: MaskingRule,
}

/// Open rules checked against a resource's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledOpen {
    pub access: OpenAccess,
    /// Published fields in item order (for an aggregation: the group-by fields).
    pub fields: Vec<OpenField>,
    pub aggregation: Option<Aggregation>,
    filter: CompiledScope,
}

/// Semantic types that identify a person by themselves.
fn identifying(t: SemanticType) -> bool {
    matches!(
        t,
        SemanticType::IdNumber
            | SemanticType::PersonName
            | SemanticType::Mobile
            | SemanticType::BankCard
            | SemanticType::Email
            | SemanticType::None
    )
}

/// The default for a field: what is published when the provider set nothing.
pub fn default_action(item: &DataItem, access: OpenAccess) -> FieldAction {
    if item.sensitive {
        return FieldAction::Drop;
    }
    if !item.personal {
        return FieldAction::Keep;
    }
    match access {
        OpenAccess::Public => FieldAction::Mask(if item.masking == MaskingRule::None {
            item.semantic_type.default_masking()
        } else {
            item.masking
        }),
        OpenAccess::Conditional if item.semantic_type == SemanticType::Address => {
            FieldAction::Mask(MaskingRule::Address)
        }
        OpenAccess::Conditional if identifying(item.semantic_type) => FieldAction::Drop,
        OpenAccess::Conditional => FieldAction::Mask(MaskingRule::Hash),
    }
}

/// How strongly an action hides a value: a provider may only move up this scale from the
/// default on a personal or sensitive item.
fn strength(a: FieldAction) -> u8 {
    match a {
        FieldAction::Keep | FieldAction::Mask(MaskingRule::None) => 0,
        FieldAction::Mask(MaskingRule::Hash) => 2,
        FieldAction::Mask(MaskingRule::Null) | FieldAction::Drop => 3,
        FieldAction::Mask(_) => 1,
    }
}

impl CompiledOpen {
    pub fn compile(
        items: &[DataItem],
        access: OpenAccess,
        rules: &OpenRules,
    ) -> Result<CompiledOpen, Denied> {
        let index_of = |name: &str| -> Result<usize, Denied> {
            items.iter().position(|i| i.name == name).ok_or_else(|| {
                Denied::new(
                    "OPEN_FIELD_UNKNOWN",
                    format!("没有名为“{name}”的信息项"),
                    format!("there is no data item named '{name}'"),
                )
            })
        };
        for name in rules.fields.keys() {
            index_of(name)?;
        }
        let mut fields = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let default = default_action(item, access);
            let action = rules.fields.get(&item.name).copied().unwrap_or(default);
            if (item.personal || item.sensitive) && strength(action) < strength(default) {
                return Err(Denied::new(
                    "OPEN_FIELD_PERSONAL",
                    format!(
                        "“{}”是个人或敏感信息，开放时不能弱于默认处理方式",
                        item.label
                    ),
                    format!(
                        "'{}' is personal or sensitive: it cannot be published less protected than the default",
                        item.name
                    ),
                ));
            }
            let masking = match action {
                FieldAction::Drop => continue,
                FieldAction::Keep => MaskingRule::None,
                FieldAction::Mask(m) => m,
            };
            fields.push(OpenField {
                index,
                name: item.name.clone(),
                label: item.label.clone(),
                description: item.description.clone(),
                data_type: item.data_type,
                masking,
            });
        }
        let filter = CompiledScope::compile(&rules.row_filter, items, |c| {
            Denied::new(
                "OPEN_FIELD_UNKNOWN",
                format!("没有名为“{c}”的信息项"),
                format!("there is no data item named '{c}'"),
            )
        })?;
        if let Some(agg) = &rules.aggregation {
            if agg.group_by.is_empty() {
                return Err(Denied::new(
                    "OPEN_AGGREGATION_EMPTY",
                    "汇总开放至少需要一个分组字段",
                    "an aggregation needs at least one group-by field",
                ));
            }
            let mut grouped = Vec::new();
            for g in &agg.group_by {
                let f = fields.iter().find(|f| &f.name == g).ok_or_else(|| {
                    Denied::new(
                        "OPEN_FIELD_UNKNOWN",
                        format!("分组字段“{g}”不是开放字段"),
                        format!("group-by field '{g}' is not a published field"),
                    )
                })?;
                if f.masking != MaskingRule::None {
                    return Err(Denied::new(
                        "OPEN_AGGREGATION_MASKED",
                        format!("分组字段“{g}”经过脱敏，不能用于分组"),
                        format!("group-by field '{g}' is masked and cannot be grouped on"),
                    ));
                }
                grouped.push(f.clone());
            }
            fields = grouped;
        }
        if fields.is_empty() {
            return Err(Denied::new(
                "OPEN_NO_FIELDS",
                "开放规则去掉了全部字段",
                "the open rules leave no field to publish",
            ));
        }
        Ok(CompiledOpen {
            access,
            fields,
            aggregation: rules.aggregation.clone(),
            filter,
        })
    }

    /// Whether a row (all the resource's columns, in item order) passes the row filter.
    pub fn in_filter<S: AsRef<str>>(&self, row: &[Option<S>]) -> bool {
        self.filter.contains(row)
    }

    /// The published fields of a row, masked; `None` when the row filter leaves it out.
    pub fn project<S: AsRef<str>>(
        &self,
        row: &[Option<S>],
        hash_key: &[u8],
    ) -> Option<Vec<Option<String>>> {
        if !self.in_filter(row) {
            return None;
        }
        Some(masked_columns(
            row,
            self.fields.iter().map(|f| (f.index, f.masking)),
            hash_key,
        ))
    }

    /// Column names of a published row (an aggregation adds `count`).
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        if self.aggregation.is_some() {
            c.push("count".into());
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuniu_types::DataType;

    fn item(name: &str, st: SemanticType, personal: bool, sensitive: bool) -> DataItem {
        DataItem {
            name: name.into(),
            label: name.into(),
            data_type: DataType::Text,
            length: None,
            description: String::new(),
            is_key: false,
            required: false,
            personal,
            sensitive,
            masking: MaskingRule::None,
            semantic_type: st,
        }
    }

    fn items() -> Vec<DataItem> {
        vec![
            item("id_no", SemanticType::IdNumber, true, false),
            item("name", SemanticType::PersonName, true, false),
            item("address", SemanticType::Address, true, false),
            item("district", SemanticType::DivisionCode, false, false),
            item("illness", SemanticType::None, true, true),
            item("amount", SemanticType::Amount, false, false),
        ]
    }

    #[test]
    fn access_follows_attribute_and_level() {
        use OpenType::*;
        use SecurityLevel::*;
        let p = ResourceStatus::Published;
        assert_eq!(
            open_access(p, Unconditional, General1),
            Ok(OpenAccess::Public)
        );
        assert_eq!(
            open_access(p, Conditional, General1),
            Ok(OpenAccess::Conditional)
        );
        for level in [General2, General3] {
            assert_eq!(
                open_access(p, Unconditional, level),
                Ok(OpenAccess::Conditional)
            );
        }
        for level in [General4, Important, Core] {
            for t in [Unconditional, Conditional] {
                assert_eq!(
                    open_access(p, t, level).unwrap_err().code,
                    "LEVEL_NOT_OPENABLE"
                );
            }
        }
        assert_eq!(
            open_access(p, NotOpen, General1).unwrap_err().code,
            "NOT_OPEN"
        );
        assert_eq!(
            open_access(ResourceStatus::Submitted, Unconditional, General1)
                .unwrap_err()
                .code,
            "NOT_PUBLISHED"
        );
    }

    #[test]
    fn defaults_mask_on_level_one_and_de_identify_above() {
        let c = CompiledOpen::compile(&items(), OpenAccess::Public, &OpenRules::default()).unwrap();
        let names: Vec<_> = c
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.masking))
            .collect();
        assert_eq!(
            names,
            vec![
                ("id_no", MaskingRule::IdNumber),
                ("name", MaskingRule::Name),
                ("address", MaskingRule::Address),
                ("district", MaskingRule::None),
                ("amount", MaskingRule::None),
            ]
        );
        let c = CompiledOpen::compile(&items(), OpenAccess::Conditional, &OpenRules::default())
            .unwrap();
        let names: Vec<_> = c.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["address", "district", "amount"]);
        let row = [
            Some("370202199001011234"),
            Some("张三"),
            Some("山东省青岛市市南区香港中路1号"),
            Some("370202"),
            Some("肺结核"),
            Some("12.5"),
        ];
        let out = c.project(&row, b"k").unwrap();
        assert_eq!(out[1].as_deref(), Some("370202"));
        assert!(!out[0].as_deref().unwrap_or("").contains("香港中路"));
        assert!(
            out.iter()
                .flatten()
                .all(|v| !v.contains("张") && !v.contains("1234"))
        );
    }

    #[test]
    fn rules_can_only_tighten_personal_fields() {
        let mut rules = OpenRules::default();
        rules.fields.insert("name".into(), FieldAction::Keep);
        let e = CompiledOpen::compile(&items(), OpenAccess::Public, &rules).unwrap_err();
        assert_eq!(e.code, "OPEN_FIELD_PERSONAL");
        rules.fields.insert("name".into(), FieldAction::Drop);
        rules.fields.insert("amount".into(), FieldAction::Drop);
        rules
            .fields
            .insert("id_no".into(), FieldAction::Mask(MaskingRule::Hash));
        let c = CompiledOpen::compile(&items(), OpenAccess::Public, &rules).unwrap();
        assert!(
            c.fields
                .iter()
                .all(|f| f.name != "name" && f.name != "amount")
        );
        assert_eq!(c.fields[0].masking, MaskingRule::Hash);
        rules.fields.insert("nope".into(), FieldAction::Drop);
        assert_eq!(
            CompiledOpen::compile(&items(), OpenAccess::Public, &rules)
                .unwrap_err()
                .code,
            "OPEN_FIELD_UNKNOWN"
        );
    }

    #[test]
    fn row_filter_and_aggregation() {
        let rules = OpenRules {
            row_filter: RowScope::parse("district ^= 3702").unwrap(),
            aggregation: Some(Aggregation {
                group_by: vec!["district".into()],
                min_group: 5,
            }),
            ..Default::default()
        };
        let c = CompiledOpen::compile(&items(), OpenAccess::Public, &rules).unwrap();
        assert_eq!(c.columns(), vec!["district", "count"]);
        let inside = [None, None, None, Some("370203"), None, None];
        let outside = [None, None, None, Some("370303"), None, None];
        assert!(c.in_filter(&inside));
        assert!(!c.in_filter(&outside));
        let masked = OpenRules {
            aggregation: Some(Aggregation {
                group_by: vec!["address".into()],
                min_group: 5,
            }),
            ..Default::default()
        };
        assert_eq!(
            CompiledOpen::compile(&items(), OpenAccess::Public, &masked)
                .unwrap_err()
                .code,
            "OPEN_AGGREGATION_MASKED"
        );
    }
}
