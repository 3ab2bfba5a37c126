//! What the API and the console show of the engines' records.

use serde::Serialize;
use shuniu_store::{Application, Department, HistoryEntry, ResourceRecord};
use shuniu_types::{OpenType, ResourceSpec, ResourceStatus, SecurityLevel, ShareType, UpdateCycle};
use std::collections::HashMap;
use utoipa::ToSchema;

/// A catalog entry in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceSummary {
    /// Resource code (资源代码), e.g. `101001-370200GA-00001`.
    pub code: String,
    pub name: String,
    /// Code of the providing department.
    pub provider: String,
    pub provider_name: String,
    /// 基础 / 主题 / 部门 (`base`, `theme`, `department`).
    pub category: String,
    pub share_type: ShareType,
    pub open_type: OpenType,
    pub level: SecurityLevel,
    pub update_cycle: UpdateCycle,
    pub status: ResourceStatus,
    pub version: i64,
    pub updated_at: String,
    pub summary: String,
}

/// A catalog entry with all its metadata.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceDetail {
    #[serde(flatten)]
    pub summary: ResourceSummary,
    pub metadata: ResourceSpec,
    /// Why the entry was last returned or withdrawn.
    pub status_note: String,
    pub created_by: String,
    pub created_at: String,
    pub published_at: Option<String>,
}

pub type DepartmentNames = HashMap<String, String>;

pub fn summary(r: &ResourceRecord, names: &DepartmentNames) -> ResourceSummary {
    ResourceSummary {
        code: r.code.clone(),
        name: r.spec.name.clone(),
        provider: r.spec.provider.clone(),
        provider_name: names.get(&r.spec.provider).cloned().unwrap_or_default(),
        category: r.spec.classification.kind.code().into(),
        share_type: r.spec.share_type,
        open_type: r.spec.open_type,
        level: r.spec.level,
        update_cycle: r.spec.update_cycle,
        status: r.status,
        version: r.version,
        updated_at: r.updated_at.clone(),
        summary: r.spec.summary.clone(),
    }
}

pub fn detail(r: &ResourceRecord, names: &DepartmentNames) -> ResourceDetail {
    ResourceDetail {
        summary: summary(r, names),
        metadata: r.spec.clone(),
        status_note: r.status_note.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at.clone(),
        published_at: r.published_at.clone(),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacetValue {
    pub value: String,
    /// Display label in Chinese.
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourcePage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<ResourceSummary>,
    /// Facet dimension (provider, category, share_type, open_type, level, update_cycle) → counts.
    pub facets: std::collections::BTreeMap<String, Vec<FacetValue>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceList {
    pub total: u64,
    pub items: Vec<ResourceSummary>,
}

/// One recorded change of an entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryView {
    pub version: i64,
    /// created, updated, submitted, published, returned, withdrawn.
    pub action: String,
    pub status: ResourceStatus,
    pub actor: String,
    pub at: String,
    pub note: String,
    pub name: String,
}

impl From<&HistoryEntry> for HistoryView {
    fn from(h: &HistoryEntry) -> Self {
        HistoryView {
            version: h.version,
            action: h.action.clone(),
            status: h.status,
            actor: h.actor.clone(),
            at: h.at.clone(),
            note: h.note.clone(),
            name: h.spec.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentView {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub parent_code: Option<String>,
    pub division: String,
    pub credit_code: Option<String>,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        DepartmentView {
            code: d.code.clone(),
            name: d.name.clone(),
            short_name: d.short_name.clone(),
            parent_code: d.parent_code.clone(),
            division: d.division.clone(),
            credit_code: d.credit_code.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub name: String,
    pub department: String,
    pub role: shuniu_types::Role,
    pub key_prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&Application> for ApplicationView {
    fn from(a: &Application) -> Self {
        ApplicationView {
            id: a.id.clone(),
            name: a.name.clone(),
            department: a.department_code.clone(),
            role: a.role,
            key_prefix: a.key_prefix.clone(),
            created_at: a.created_at.clone(),
            revoked_at: a.revoked_at.clone(),
        }
    }
}

/// Display label of a vocabulary code (`share_type`, `level`, …) in Chinese or English; the code
/// itself when the vocabulary or the code is unknown.
pub fn vocab_label(vocab: &str, code: &str, en: bool) -> String {
    use shuniu_types::{
        CategoryKind, DataType, MaskingRule, ResourceFormat, Role, SemanticType, ShareMethod,
    };
    macro_rules! lbl {
        ($t:ty) => {
            <$t>::parse_term(code).map(|v| {
                if en {
                    v.en().to_string()
                } else {
                    v.zh().to_string()
                }
            })
        };
    }
    let found = match vocab {
        "category" => lbl!(CategoryKind),
        "share_type" => lbl!(ShareType),
        "open_type" => lbl!(OpenType),
        "share_method" => lbl!(ShareMethod),
        "update_cycle" => lbl!(UpdateCycle),
        "level" => lbl!(SecurityLevel),
        "format" => lbl!(ResourceFormat),
        "data_type" => lbl!(DataType),
        "semantic_type" => lbl!(SemanticType),
        "masking" => lbl!(MaskingRule),
        "status" => lbl!(ResourceStatus),
        "role" => lbl!(Role),
        "request_state" => lbl!(shuniu_types::states::RequestState),
        "grant_state" => lbl!(shuniu_types::states::GrantState),
        "demand_state" => lbl!(shuniu_types::states::DemandState),
        "load_status" => lbl!(shuniu_types::states::LoadStatus),
        "ticket_state" => lbl!(shuniu_types::states::TicketState),
        "open_app_state" => lbl!(shuniu_types::states::OpenApplicationState),
        "publication_state" => lbl!(shuniu_types::states::PublicationState),
        "job_state" => lbl!(shuniu_types::states::JobState),
        "event_state" => lbl!(shuniu_types::event::EventState),
        "urgency" => lbl!(shuniu_types::event::Urgency),
        "channel" => lbl!(shuniu_types::event::Channel),
        "event_action" => lbl!(shuniu_types::event::EventAction),
        "service" => shuniu_policy::grant::Service::parse(code).map(|s| {
            if en {
                s.en().to_string()
            } else {
                s.zh().to_string()
            }
        }),
        "action" => crate::i18n::audit_action(code, en),
        "rule_type" => shuniu_quality::RULE_TYPES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, zh, e)| if en { e } else { zh }.to_string()),
        "result" => crate::i18n::audit_result(code, en),
        "grain" | "severity" | "alert_kind" | "alert_state" | "run_state" | "trigger"
        | "version_state" => INDICATOR_VOCAB
            .iter()
            .find(|(v, c, _, _)| *v == vocab && *c == code)
            .map(|(_, _, zh, e)| if en { e } else { zh }.to_string()),
        _ => None,
    };
    found.unwrap_or_else(|| code.to_string())
}

/// The indicators' small vocabularies: (vocabulary, code, Chinese, English).
const INDICATOR_VOCAB: &[(&str, &str, &str, &str)] = &[
    ("grain", "day", "日", "Daily"),
    ("grain", "month", "月", "Monthly"),
    ("grain", "quarter", "季度", "Quarterly"),
    ("grain", "year", "年", "Yearly"),
    ("severity", "info", "提示", "Info"),
    ("severity", "warning", "预警", "Warning"),
    ("severity", "critical", "严重", "Critical"),
    ("alert_kind", "upper", "高于上限", "Above the upper bound"),
    ("alert_kind", "lower", "低于下限", "Below the lower bound"),
    ("alert_kind", "change", "环比变动过大", "Changed too much"),
    ("alert_kind", "no_data", "无数据", "No data"),
    ("alert_state", "open", "预警中", "Open"),
    ("alert_state", "resolved", "已解除", "Resolved"),
    ("run_state", "succeeded", "成功", "Succeeded"),
    ("run_state", "failed", "失败", "Failed"),
    ("trigger", "schedule", "定时", "Scheduled"),
    ("trigger", "demand", "手动", "On demand"),
    ("trigger", "backfill", "补算", "Backfill"),
    ("version_state", "draft", "草稿", "Draft"),
    ("version_state", "submitted", "待审核", "Submitted"),
    ("version_state", "published", "已发布", "Published"),
    ("version_state", "returned", "已退回", "Returned"),
    ("version_state", "superseded", "已替代", "Superseded"),
];

/// Label of a facet value: the department's name for providers, else the vocabulary label.
pub fn facet_label(dim: &str, value: &str, names: &DepartmentNames, en: bool) -> String {
    if dim == "provider" {
        names
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_string())
    } else {
        vocab_label(dim, value, en)
    }
}

/// Department code → name, for showing providers.
pub async fn department_names(
    accounts: &shuniu_auth::accounts::Accounts,
) -> Result<DepartmentNames, shuniu_auth::accounts::AccountError> {
    Ok(accounts
        .departments()
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect())
}

/// A CSV file as a download named `name`.
pub fn csv_response(bytes: Vec<u8>, name: &str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A workbook as a download named `{name}.xlsx`.
pub fn xlsx_response(bytes: Vec<u8>, name: &str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, XLSX.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
