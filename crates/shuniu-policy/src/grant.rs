//! Grants (授权) and the unified data service's decisions.
//!
//! A grant's terms (fields, row scope, masking, services, quota, rate, expiry, purpose) are
//! compiled once against the resource's data items into a [`CompiledGrant`]: column indices,
//! a service bit set, an expiry instant and the effective masking of every field. The hot path
//! then decides with [`decide_service`] (a few comparisons) and shapes rows with
//! [`CompiledGrant::project`], which every egress path uses, so masking cannot differ
//! between a lookup, a comparison result, an extract or a webhook.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shuniu_types::{DataItem, MaskingRule, ResourceStatus, Role, SecurityLevel, ShareType};

use crate::{Decision, Denied, mask};

/// What a consuming system may do with a resource (服务方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// 查询: look a record up by key and receive the granted fields.
    Lookup,
    /// 核验: send claimed values, receive match / no match per field, never the values.
    Verify,
    /// 比对: send many keys, receive which exist and their granted fields.
    Compare,
    /// 订阅: a change feed and webhooks.
    Subscribe,
    /// 抽取: a version's granted rows and columns as a file.
    Extract,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Lookup,
        Service::Verify,
        Service::Compare,
        Service::Subscribe,
        Service::Extract,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn code(self) -> &'static str {
        match self {
            Service::Lookup => "lookup",
            Service::Verify => "verify",
            Service::Compare => "compare",
            Service::Subscribe => "subscribe",
            Service::Extract => "extract",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Service::Lookup => "查询",
            Service::Verify => "核验",
            Service::Compare => "比对",
            Service::Subscribe => "订阅",
            Service::Extract => "抽取",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Service::Lookup => "Lookup",
            Service::Verify => "Verification",
            Service::Compare => "Batch comparison",
            Service::Subscribe => "Change feed",
            Service::Extract => "Extract",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|v| v.code() == s.trim() || v.zh() == s.trim())
    }
}

pub use shuniu_types::states::GrantState;

/// One condition of a row scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    /// The column equals one of the values.
    In { column: String, values: Vec<String> },
    /// The column starts with one of the prefixes (a district's division code covers its
    /// streets: 数据直达基层).
    Prefix {
        column: String,
        prefixes: Vec<String>,
    },
}

/// Which rows a grant reaches: every condition must hold (AND). Empty means every row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowScope {
    pub conditions: Vec<Condition>,
}

impl RowScope {
    /// Parses the form's notation: `district = 370203`, `district in (370202, 370203)`,
    /// `division ^= 370203` (prefix), joined by `and` (or 且). Blank means every row.
    pub fn parse(text: &str) -> Result<RowScope, Denied> {
        let bad = |part: &str| {
            Denied::new(
                "ROW_SCOPE_INVALID",
                format!("行范围条件无法识别：“{part}”，应为 列 = 值、列 in (值, …) 或 列 ^= 前缀"),
                format!(
                    "cannot read the row-scope condition '{part}': use column = value, column in (v1, v2) or column ^= prefix"
                ),
            )
        };
        let mut conditions = Vec::new();
        let normalized = text.replace('且', " and ").replace(" AND ", " and ");
        for part in normalized.split(" and ") {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let list = |s: &str| -> Vec<String> {
                s.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .split([',', '，'])
                    .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
                    .filter(|v| !v.is_empty())
                    .collect()
            };
            let column_ok = |c: &str| {
                !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            };
            let cond = if let Some((c, v)) = part.split_once("^=") {
                Condition::Prefix {
                    column: c.trim().to_string(),
                    prefixes: list(v),
                }
            } else if let Some((c, v)) = part.split_once('=') {
                Condition::In {
                    column: c.trim().to_string(),
                    values: list(v),
                }
            } else if let Some(i) = part.to_ascii_lowercase().find(" in ") {
                Condition::In {
                    column: part[..i].trim().to_string(),
                    values: list(&part[i + 4..]),
                }
            } else {
                return Err(bad(part));
            };
            let (column, empty) = match &cond {
                Condition::In { column, values } => (column, values.is_empty()),
                Condition::Prefix { column, prefixes } => (column, prefixes.is_empty()),
            };
            if !column_ok(column) || empty {
                return Err(bad(part));
            }
            conditions.push(cond);
        }
        Ok(RowScope { conditions })
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}

impl std::fmt::Display for RowScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            match c {
                Condition::In { column, values } if values.len() == 1 => {
                    write!(f, "{column} = {}", values[0])?
                }
                Condition::In { column, values } => {
                    write!(f, "{column} in ({})", values.join(", "))?
                }
                Condition::Prefix { column, prefixes } => {
                    write!(f, "{column} ^= {}", prefixes.join(", "))?
                }
            }
        }
        Ok(())
    }
}

/// What a grant fixes, as the provider approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTerms {
    /// Granted data items (column names), in any order.
    pub fields: Vec<String>,
    /// Masking per field where it differs from the item's own rule; the security level may
    /// still force a stronger one (see [`effective_masking`]).
    #[serde(default)]
    pub masking: BTreeMap<String, MaskingRule>,
    #[serde(default)]
    pub row_scope: RowScope,
    pub services: Vec<Service>,
    pub calls_per_day: u64,
    pub rows_per_day: u64,
    /// Calls per second (burst of the same size).
    pub rate_per_second: u32,
    /// RFC 3339.
    pub expires_at: String,
    pub purpose: String,
}

/// The masking a field gets when it leaves the hub for a consumer.
///
/// Security levels set the floor: on levels 1 to 3 the grant decides (an item's own rule is
/// the default, so personal items leave masked unless the provider approved them in the
/// clear for a lawful purpose); on level 4, important and core data, personal and sensitive items keep at least their own
/// rule whatever the grant says (level-4 fields never leave the provider unmasked).
pub fn effective_masking(
    item: &DataItem,
    level: SecurityLevel,
    requested: Option<MaskingRule>,
) -> MaskingRule {
    let own = if item.masking == MaskingRule::None && (item.personal || item.sensitive) {
        item.semantic_type.default_masking()
    } else {
        item.masking
    };
    let protected = item.personal || item.sensitive;
    match level {
        // Levels 1–3: the provider decides in the grant; the item's own rule is the default.
        SecurityLevel::General1 | SecurityLevel::General2 | SecurityLevel::General3 => {
            requested.unwrap_or(own)
        }
        SecurityLevel::General4 | SecurityLevel::Important | SecurityLevel::Core => {
            match requested {
                Some(r) if !protected => r,
                // A stronger rule than the item's own (hash, null) is allowed; clear is not.
                Some(r @ (MaskingRule::Hash | MaskingRule::Null)) => r,
                _ if protected => own,
                _ => MaskingRule::None,
            }
        }
    }
}

/// A granted field, ready for the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantedField {
    /// Index of the column in the resource's data items.
    pub index: usize,
    pub name: String,
    pub label: String,
    pub masking: MaskingRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CompiledCondition {
    In(usize, Vec<String>),
    Prefix(usize, Vec<String>),
}

/// A row scope compiled against a resource's items: which rows a grant reaches, or which rows
/// are opened to the public. Empty means every row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledScope(Vec<CompiledCondition>);

impl CompiledScope {
    /// Resolves the scope's columns; `unknown` explains a column the items lack.
    pub fn compile(
        scope: &RowScope,
        items: &[DataItem],
        unknown: impl Fn(&str) -> Denied,
    ) -> Result<CompiledScope, Denied> {
        let index_of = |c: &str| {
            items
                .iter()
                .position(|i| i.name == c)
                .ok_or_else(|| unknown(c))
        };
        let mut out = Vec::new();
        for c in &scope.conditions {
            out.push(match c {
                Condition::In { column, values } => {
                    CompiledCondition::In(index_of(column)?, values.clone())
                }
                Condition::Prefix { column, prefixes } => {
                    CompiledCondition::Prefix(index_of(column)?, prefixes.clone())
                }
            });
        }
        Ok(CompiledScope(out))
    }

    /// Whether a row (all the resource's columns, in item order) is inside.
    pub fn contains<S: AsRef<str>>(&self, row: &[Option<S>]) -> bool {
        self.0.iter().all(|c| match c {
            CompiledCondition::In(i, values) => row
                .get(*i)
                .and_then(|v| v.as_ref())
                .is_some_and(|v| values.iter().any(|x| x == v.as_ref())),
            CompiledCondition::Prefix(i, prefixes) => row
                .get(*i)
                .and_then(|v| v.as_ref())
                .is_some_and(|v| prefixes.iter().any(|p| v.as_ref().starts_with(p.as_str()))),
        })
    }
}

impl CompiledScope {
    /// The scope as a SQL predicate over the resource's columns, for reading its rows in bulk
    /// (a policy joining a granted resource): `column` gives the SQL for an item's column.
    /// Values are escaped literals; an empty scope is `TRUE`.
    pub fn sql(&self, items: &[DataItem], column: impl Fn(&str) -> String) -> String {
        let lit = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let name = |i: &usize| items.get(*i).map(|it| column(&it.name));
        let mut parts = Vec::new();
        for c in &self.0 {
            parts.push(match c {
                CompiledCondition::In(i, values) => match name(i) {
                    Some(col) => format!(
                        "(CAST({col} AS VARCHAR) IN ({}))",
                        values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ")
                    ),
                    None => "FALSE".to_string(),
                },
                CompiledCondition::Prefix(i, prefixes) => match name(i) {
                    Some(col) => format!(
                        "({})",
                        prefixes
                            .iter()
                            .map(|p| format!("starts_with(CAST({col} AS VARCHAR), {})", lit(p)))
                            .collect::<Vec<_>>()
                            .join(" OR ")
                    ),
                    None => "FALSE".to_string(),
                },
            });
        }
        if parts.is_empty() {
            "TRUE".to_string()
        } else {
            parts.join(" AND ")
        }
    }
}

/// The columns of a row at these indices, each masked by its rule.
pub fn masked_columns<S: AsRef<str>>(
    row: &[Option<S>],
    columns: impl Iterator<Item = (usize, MaskingRule)>,
    hash_key: &[u8],
) -> Vec<Option<String>> {
    columns
        .map(|(i, rule)| {
            row.get(i)
                .and_then(|v| v.as_ref())
                .and_then(|v| mask::apply(rule, v.as_ref(), hash_key))
        })
        .collect()
}

/// A grant compiled against the resource's items. Cheap to check, shared behind an `Arc`.
#[derive(Debug, Clone)]
pub struct CompiledGrant {
    pub id: String,
    pub resource: String,
    pub provider: String,
    pub consumer: String,
    pub application: String,
    pub state: GrantState,
    pub purpose: String,
    pub calls_per_day: u64,
    pub rows_per_day: u64,
    pub rate_per_second: u32,
    /// Unix seconds.
    pub expires_at: i64,
    pub fields: Vec<GrantedField>,
    services: u8,
    scope: CompiledScope,
    /// Whether this is the provider's own access (all fields, clear, every row).
    pub own: bool,
}

fn unknown_column(column: &str) -> Denied {
    Denied::new(
        "GRANT_FIELD_UNKNOWN",
        format!("资源没有信息项“{column}”"),
        format!("the resource has no data item '{column}'"),
    )
}

impl CompiledGrant {
    /// Compiles `terms` for a resource with these items and security level. Refuses terms
    /// that name unknown columns, grant nothing, or cannot expire.
    #[allow(clippy::too_many_arguments)]
    pub fn compile(
        id: &str,
        resource: &str,
        provider: &str,
        consumer: &str,
        application: &str,
        state: GrantState,
        terms: &GrantTerms,
        items: &[DataItem],
        level: SecurityLevel,
    ) -> Result<CompiledGrant, Denied> {
        let index_of = |c: &str| items.iter().position(|i| i.name == c);
        if terms.fields.is_empty() {
            return Err(Denied::new(
                "GRANT_FIELDS_EMPTY",
                "授权至少需要一个信息项",
                "a grant needs at least one data item",
            ));
        }
        if terms.services.is_empty() {
            return Err(Denied::new(
                "GRANT_SERVICES_EMPTY",
                "授权至少需要一种服务方式",
                "a grant needs at least one service type",
            ));
        }
        let mut fields = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if terms.fields.iter().any(|f| f == &item.name) {
                fields.push(GrantedField {
                    index,
                    name: item.name.clone(),
                    label: item.label.clone(),
                    masking: effective_masking(item, level, terms.masking.get(&item.name).copied()),
                });
            }
        }
        for f in terms.fields.iter().chain(terms.masking.keys()) {
            if index_of(f).is_none() {
                return Err(unknown_column(f));
            }
        }
        let scope = CompiledScope::compile(&terms.row_scope, items, unknown_column)?;
        let expires_at = chrono::DateTime::parse_from_rfc3339(&terms.expires_at)
            .map_err(|_| {
                Denied::new(
                    "GRANT_EXPIRY_INVALID",
                    "授权期限不是有效的时间",
                    "the grant's expiry is not a valid time",
                )
            })?
            .timestamp();
        Ok(CompiledGrant {
            id: id.into(),
            resource: resource.into(),
            provider: provider.into(),
            consumer: consumer.into(),
            application: application.into(),
            state,
            purpose: terms.purpose.clone(),
            calls_per_day: terms.calls_per_day,
            rows_per_day: terms.rows_per_day,
            rate_per_second: terms.rate_per_second.max(1),
            expires_at,
            fields,
            services: terms.services.iter().fold(0, |acc, s| acc | s.bit()),
            scope,
            own: false,
        })
    }

    /// The own grant when `department` is the resource's provider (its systems read their own
    /// data under [`CompiledGrant::own`]); `None` when the caller needs a grant of its own.
    pub fn own_for(
        department: &str,
        resource: &str,
        provider: &str,
        application: &str,
        items: &[DataItem],
    ) -> Option<Self> {
        (department == provider).then(|| Self::own(resource, provider, application, items))
    }

    /// The provider's own systems reading their own resource: every field in the clear,
    /// every row, every service, no expiry. Limits still apply.
    pub fn own(resource: &str, provider: &str, application: &str, items: &[DataItem]) -> Self {
        CompiledGrant {
            id: format!("own:{resource}"),
            resource: resource.into(),
            provider: provider.into(),
            consumer: provider.into(),
            application: application.into(),
            state: GrantState::Active,
            purpose: "数据提供部门自有数据 / provider's own data".into(),
            calls_per_day: 10_000_000,
            rows_per_day: 1_000_000_000,
            rate_per_second: 100_000,
            expires_at: i64::MAX,
            fields: items
                .iter()
                .enumerate()
                .map(|(index, i)| GrantedField {
                    index,
                    name: i.name.clone(),
                    label: i.label.clone(),
                    masking: MaskingRule::None,
                })
                .collect(),
            services: Service::ALL.iter().fold(0, |acc, s| acc | s.bit()),
            scope: CompiledScope::default(),
            own: true,
        }
    }

    pub fn allows(&self, service: Service) -> bool {
        self.services & service.bit() != 0
    }

    pub fn services(&self) -> Vec<Service> {
        Service::ALL
            .into_iter()
            .filter(|s| self.allows(*s))
            .collect()
    }

    /// Whether a row (all the resource's columns, in item order) is inside the row scope.
    pub fn in_scope<S: AsRef<str>>(&self, row: &[Option<S>]) -> bool {
        self.scope.contains(row)
    }

    /// The granted fields of a row, masked; `None` when the row is outside the scope.
    pub fn project<S: AsRef<str>>(
        &self,
        row: &[Option<S>],
        hash_key: &[u8],
    ) -> Option<Vec<Option<String>>> {
        if !self.in_scope(row) {
            return None;
        }
        Some(masked_columns(
            row,
            self.fields.iter().map(|f| (f.index, f.masking)),
            hash_key,
        ))
    }

    /// The row scope as a SQL predicate (see [`CompiledScope::sql`]).
    pub fn scope_sql(&self, items: &[DataItem], column: impl Fn(&str) -> String) -> String {
        self.scope.sql(items, column)
    }

    pub fn field(&self, name: &str) -> Option<&GrantedField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The facts a unified-service call is decided on.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFacts<'a> {
    /// The calling application's department and role.
    pub department: &'a str,
    pub role: Role,
    pub provider: &'a str,
    pub status: ResourceStatus,
    pub share_type: ShareType,
    pub level: SecurityLevel,
    /// The caller's grant on this resource, if any (the newest one).
    pub grant: Option<&'a CompiledGrant>,
    pub service: Service,
    /// Unix seconds.
    pub now: i64,
}

/// Decides a unified-service call. Constant work: a few comparisons and a bit test.
pub fn decide_service(f: &ServiceFacts<'_>) -> Decision {
    if f.status != ResourceStatus::Published {
        return Err(Denied {
            hide: true,
            ..Denied::new(
                "NOT_FOUND",
                "资源不存在或未发布",
                "no such published resource",
            )
        });
    }
    if f.department == f.provider {
        return Ok(());
    }
    if f.share_type == ShareType::NotShared {
        return Err(Denied::new(
            "NOT_SHARED",
            "该资源列入负面清单（不予共享），不向其他部门提供",
            "the resource is on the negative list (not shared) and is not provided to other departments",
        ));
    }
    // Core data only answers yes/no questions outside its provider.
    if f.level == SecurityLevel::Core && f.service != Service::Verify {
        return Err(Denied::new(
            "LEVEL_CORE",
            "核心数据仅提供核验服务",
            "core data is only available through verification",
        ));
    }
    let Some(g) = f.grant else {
        return Err(Denied::new(
            "NO_GRANT",
            "本应用没有该资源的共享授权，请先提交共享申请",
            "this application has no grant on the resource; file a sharing request first",
        ));
    };
    match g.state {
        GrantState::Revoked => {
            return Err(Denied::new(
                "GRANT_REVOKED",
                "该授权已被撤销",
                "the grant has been revoked",
            ));
        }
        GrantState::Expired => {
            return Err(Denied::new(
                "GRANT_EXPIRED",
                "该授权已过期",
                "the grant has expired",
            ));
        }
        GrantState::Active if f.now >= g.expires_at => {
            return Err(Denied::new(
                "GRANT_EXPIRED",
                "该授权已过期",
                "the grant has expired",
            ));
        }
        GrantState::Active => {}
    }
    if !g.allows(f.service) {
        return Err(Denied::new(
            "SERVICE_NOT_GRANTED",
            format!("授权不包含“{}”服务", f.service.zh()),
            format!(
                "the grant does not include the {} service",
                f.service.code()
            ),
        ));
    }
    // Extracts and comparisons hand over many rows: viewer applications only look up and verify.
    if f.role == Role::Viewer && matches!(f.service, Service::Extract | Service::Compare) {
        return Err(Denied::new(
            "FORBIDDEN_ROLE",
            "查看类应用只能使用查询和核验服务",
            "a viewer application may only look up and verify",
        ));
    }
    Ok(())
}

/// Decides a counter system's read of a licence its holder presents as a QR code (亮证,
/// 免证办): the holder's showing it is the consent, so no grant on the licence's resource is
/// needed — but the system must belong to a department and say why it reads, because the
/// purpose goes on the holder's record (个人数据使用记录).
pub fn decide_presented_licence(caller_department: &str, purpose: &str) -> Decision {
    if caller_department.trim().is_empty() {
        return Err(Denied::new(
            "NO_DEPARTMENT",
            "只有部门的业务系统可以读取出示的证照",
            "only a department's system may read a presented licence",
        ));
    }
    let n = purpose.trim().chars().count();
    if n == 0 || n > 200 {
        return Err(Denied::new(
            "PURPOSE_REQUIRED",
            "请说明用证事由（不超过 200 字），它会记入持证人的数据使用记录",
            "state the purpose (at most 200 characters); it goes on the holder's record",
        ));
    }
    Ok(())
}

/// A verify call may only ask about granted fields.
pub fn decide_verify_field(grant: &CompiledGrant, field: &str) -> Decision {
    if grant.field(field).is_some() {
        Ok(())
    } else {
        Err(Denied::new(
            "FIELD_NOT_GRANTED",
            format!("授权不包含信息项“{field}”"),
            format!("the grant does not include the data item '{field}'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presented_licence_is_read_by_a_department_with_a_purpose() {
        assert!(decide_presented_licence("mz", "办理低保审核").is_ok());
        assert_eq!(
            decide_presented_licence("mz", "  ").unwrap_err().code,
            "PURPOSE_REQUIRED"
        );
        assert_eq!(
            decide_presented_licence("mz", &"用".repeat(201))
                .unwrap_err()
                .code,
            "PURPOSE_REQUIRED"
        );
        assert_eq!(
            decide_presented_licence("", "办理").unwrap_err().code,
            "NO_DEPARTMENT"
        );
    }
    use shuniu_types::{DataType, SemanticType};

    pub(crate) fn item(name: &str, sem: SemanticType, personal: bool) -> DataItem {
        DataItem {
            name: name.into(),
            label: name.into(),
            data_type: DataType::Text,
            length: None,
            description: String::new(),
            is_key: name == "id_number",
            required: false,
            personal,
            sensitive: false,
            masking: if personal {
                sem.default_masking()
            } else {
                MaskingRule::None
            },
            semantic_type: sem,
        }
    }

    pub(crate) fn items() -> Vec<DataItem> {
        vec![
            item("id_number", SemanticType::IdNumber, true),
            item("name", SemanticType::PersonName, true),
            item("district", SemanticType::DivisionCode, false),
            item("status", SemanticType::None, false),
        ]
    }

    pub(crate) fn terms(scope: &str, services: &[Service]) -> GrantTerms {
        GrantTerms {
            fields: vec!["id_number".into(), "name".into(), "status".into()],
            masking: BTreeMap::new(),
            row_scope: RowScope::parse(scope).unwrap(),
            services: services.to_vec(),
            calls_per_day: 100,
            rows_per_day: 1000,
            rate_per_second: 10,
            expires_at: "2099-01-01T00:00:00Z".into(),
            purpose: "测试".into(),
        }
    }

    #[test]
    fn a_scope_reads_as_sql_with_escaped_values() {
        let items = items();
        let scope = CompiledScope::compile(
            &RowScope::parse("district in (370202, o'k) and status ^= 在, 临").unwrap(),
            &items,
            unknown_column,
        )
        .unwrap();
        let col = |n: &str| format!("s.{n}");
        assert_eq!(
            scope.sql(&items, col),
            "(CAST(s.district AS VARCHAR) IN ('370202', 'o''k')) AND \
             (starts_with(CAST(s.status AS VARCHAR), '在') OR \
             starts_with(CAST(s.status AS VARCHAR), '临'))"
        );
        assert_eq!(CompiledScope::default().sql(&items, col), "TRUE");
    }

    #[test]
    fn row_scope_notation_round_trips() {
        let s = RowScope::parse("district = 370203 and division ^= 3702 且 status in (a, 'b')")
            .unwrap();
        assert_eq!(s.conditions.len(), 3);
        assert_eq!(
            s.to_string(),
            "district = 370203 and division ^= 3702 and status in (a, b)"
        );
        assert_eq!(RowScope::parse(&s.to_string()).unwrap(), s);
        assert!(RowScope::parse("").unwrap().is_empty());
        assert_eq!(
            RowScope::parse("district > 3").unwrap_err().code,
            "ROW_SCOPE_INVALID"
        );
        assert_eq!(
            RowScope::parse("dis trict = 3").unwrap_err().code,
            "ROW_SCOPE_INVALID"
        );
    }

    #[test]
    fn compile_refuses_unknown_columns_and_empty_grants() {
        let mut t = terms("", &[Service::Lookup]);
        t.fields.push("salary".into());
        let err = CompiledGrant::compile(
            "g",
            "r",
            "GA",
            "MZ",
            "app",
            GrantState::Active,
            &t,
            &items(),
            SecurityLevel::General2,
        )
        .unwrap_err();
        assert_eq!(err.code, "GRANT_FIELD_UNKNOWN");
        let t = terms("nope = 1", &[Service::Lookup]);
        let err = CompiledGrant::compile(
            "g",
            "r",
            "GA",
            "MZ",
            "app",
            GrantState::Active,
            &t,
            &items(),
            SecurityLevel::General2,
        )
        .unwrap_err();
        assert_eq!(err.code, "GRANT_FIELD_UNKNOWN");
        let t = terms("", &[]);
        let err = CompiledGrant::compile(
            "g",
            "r",
            "GA",
            "MZ",
            "app",
            GrantState::Active,
            &t,
            &items(),
            SecurityLevel::General2,
        )
        .unwrap_err();
        assert_eq!(err.code, "GRANT_SERVICES_EMPTY");
    }

    #[test]
    fn level_sets_the_masking_floor() {
        let id = item("id_number", SemanticType::IdNumber, true);
        let status = item("status", SemanticType::None, false);
        use MaskingRule as M;
        use SecurityLevel as L;
        assert_eq!(effective_masking(&id, L::General1, None), M::IdNumber);
        assert_eq!(effective_masking(&id, L::General2, Some(M::None)), M::None);
        assert_eq!(effective_masking(&id, L::General3, None), M::IdNumber);
        assert_eq!(effective_masking(&id, L::General3, Some(M::None)), M::None);
        assert_eq!(effective_masking(&id, L::General3, Some(M::Hash)), M::Hash);
        assert_eq!(
            effective_masking(&id, L::General4, Some(M::None)),
            M::IdNumber
        );
        assert_eq!(effective_masking(&id, L::Core, Some(M::Null)), M::Null);
        assert_eq!(effective_masking(&status, L::General4, None), M::None);
        assert_eq!(
            effective_masking(&status, L::General4, Some(M::Hash)),
            M::Hash
        );
    }

    /// The authorization matrix: role × own/other department × share attribute × security
    /// level × grant state × service × row scope × field, every cell asserted against the
    /// rules as the sharing guide states them.
    #[test]
    fn authorization_matrix() {
        let now = 1_900_000_000;
        let row: Vec<Option<&str>> = vec![
            Some("370202199003071234"),
            Some("王小明"),
            Some("370203"),
            Some("正常"),
        ];
        let outside: Vec<Option<&str>> = vec![
            Some("370202199003071234"),
            Some("王小明"),
            Some("370211"),
            Some("正常"),
        ];
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum G {
            None,
            Active,
            Revoked,
            PastExpiry,
            Expired,
        }
        let granted = [
            Service::Lookup,
            Service::Verify,
            Service::Compare,
            Service::Extract,
        ];
        let mut cells = 0;
        for role in [Role::HubOperator, Role::DataOfficer, Role::Viewer] {
            for own in [true, false] {
                for share in ShareType::ALL {
                    for level in [
                        SecurityLevel::General2,
                        SecurityLevel::General4,
                        SecurityLevel::Core,
                    ] {
                        for g in [G::None, G::Active, G::Revoked, G::PastExpiry, G::Expired] {
                            let state = match g {
                                G::Revoked => GrantState::Revoked,
                                G::Expired => GrantState::Expired,
                                _ => GrantState::Active,
                            };
                            let mut t = terms("district = 370203", &granted);
                            t.masking.insert("id_number".into(), MaskingRule::None);
                            if g == G::PastExpiry {
                                t.expires_at = "2020-01-01T00:00:00Z".into();
                            }
                            let compiled = CompiledGrant::compile(
                                "g",
                                "r",
                                "GA",
                                "MZ",
                                "app",
                                state,
                                &t,
                                &items(),
                                level,
                            )
                            .unwrap();
                            let own_grant = CompiledGrant::own("r", "GA", "app", &items());
                            let grant = if own {
                                Some(&own_grant)
                            } else if g == G::None {
                                None
                            } else {
                                Some(&compiled)
                            };
                            for service in Service::ALL {
                                let facts = ServiceFacts {
                                    department: if own { "GA" } else { "MZ" },
                                    role,
                                    provider: "GA",
                                    status: ResourceStatus::Published,
                                    share_type: *share,
                                    level,
                                    grant,
                                    service,
                                    now,
                                };
                                let decision = decide_service(&facts);
                                let expected = own
                                    || (*share != ShareType::NotShared
                                        && (level != SecurityLevel::Core
                                            || service == Service::Verify)
                                        && g == G::Active
                                        && granted.contains(&service)
                                        && !(role == Role::Viewer
                                            && matches!(
                                                service,
                                                Service::Extract | Service::Compare
                                            )));
                                assert_eq!(
                                    decision.is_ok(),
                                    expected,
                                    "{role:?} own={own} {share:?} {level:?} {g:?} {service:?}: {decision:?}"
                                );
                                if let Err(d) = &decision {
                                    assert!(!d.message_zh.is_empty() && !d.message_en.is_empty());
                                    let want = if *share == ShareType::NotShared {
                                        "NOT_SHARED"
                                    } else if level == SecurityLevel::Core
                                        && service != Service::Verify
                                    {
                                        "LEVEL_CORE"
                                    } else {
                                        match g {
                                            G::None => "NO_GRANT",
                                            G::Revoked => "GRANT_REVOKED",
                                            G::PastExpiry | G::Expired => "GRANT_EXPIRED",
                                            G::Active if !granted.contains(&service) => {
                                                "SERVICE_NOT_GRANTED"
                                            }
                                            G::Active => "FORBIDDEN_ROLE",
                                        }
                                    };
                                    assert_eq!(
                                        d.code, want,
                                        "{role:?} {share:?} {level:?} {g:?} {service:?}"
                                    );
                                    continue;
                                }
                                let g = grant.expect("allowed calls have a grant");
                                for (r, inside) in [(&row, true), (&outside, false)] {
                                    let shaped = g.project(r, b"k");
                                    assert_eq!(shaped.is_some(), own || inside, "row scope {own}");
                                    let Some(shaped) = shaped else { continue };
                                    for (field, clear) in [
                                        ("id_number", "370202199003071234"),
                                        ("status", "正常"),
                                        ("district", "370203"),
                                        ("name", "王小明"),
                                    ] {
                                        cells += 1;
                                        let pos = g.fields.iter().position(|f| f.name == field);
                                        let value = pos.and_then(|p| shaped[p].clone());
                                        let want: Option<String> = match (own, field) {
                                            (true, _) => Some(if inside {
                                                clear.into()
                                            } else {
                                                r[g.fields
                                                    .iter()
                                                    .position(|f| f.name == field)
                                                    .unwrap()]
                                                .unwrap()
                                                .into()
                                            }),
                                            (false, "district") => None,
                                            (false, "status") => Some(clear.into()),
                                            // Asked in the clear: allowed on level 2 only.
                                            (false, "id_number") => {
                                                Some(if level == SecurityLevel::General2 {
                                                    clear.into()
                                                } else {
                                                    "370202********1234".into()
                                                })
                                            }
                                            (false, _) => Some("王**".into()),
                                        };
                                        assert_eq!(value, want, "{field} own={own} {level:?}");
                                        if field == "district" && !own {
                                            assert!(decide_verify_field(g, field).is_err());
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(cells > 1000, "{cells} cells");
    }
}
