//! The one place that decides whether an actor may do something. Every path (console, API,
//! CLI, exports) asks [`decide`]; a refusal carries a stable code and an explanation in
//! Chinese and English that the caller shows as is.
//!
//! Architecture invariant: pure functions of (actor, action, target). No I/O, no storage:
//! the caller loads the target's facts and passes them in. Later capabilities (grants,
//! row scopes, masking) extend this crate rather than checking access anywhere else.

use serde::Serialize;
use shuniu_types::{Actor, Classified, ErrorKind, Problem, ResourceStatus, Role};

pub mod grant;
pub mod mask;
pub mod open;
pub mod scope;

pub use scope::{Scope, may_somewhere, require_scope, scope};

/// What the actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    /// See a catalog entry's metadata.
    ReadResource,
    /// Register a new entry for the target's provider.
    RegisterResource,
    EditResource,
    SubmitResource,
    /// Publish or return a submitted entry.
    ReviewResource,
    WithdrawResource,
    /// Bulk import of entries from Excel.
    ImportCatalog,
    ManageDepartments,
    ManageUsers,
    ManageApplications,
    /// Load data into a resource's dataset (file, push, scheduled pull) or manage its
    /// column mapping and connectors.
    LoadData,
    /// See a resource's rows in the clear: preview, load history, rejected rows.
    ReadData,
    /// Run ad-hoc SQL over every dataset in the lake.
    QueryLake,
    /// Search the audit log: the whole hub's, or what concerns one department (as the consumer
    /// or as the provider of the data).
    ReadAudit,
    /// Sign and publish a tree head of the audit log on demand.
    SignTreeHead,
    /// See a resource's quality score and rule results (not the failing rows: that is
    /// `ReadData`), or the city's quality overview (target `Hub`).
    ReadQuality,
    /// Add, tune or switch off a resource's quality rules, or run its checks on demand.
    ManageQualityRules,
    /// Raise an objection (异议) on records of another department's published resource.
    RaiseObjection,
    /// Confirm, dispute or resolve a problem ticket as the providing department.
    HandleTicket,
    /// Arbitrate a disputed ticket (the hub).
    ArbitrateTicket,
    /// List problem tickets: the whole hub's, or those of one department.
    ReadTickets,
    /// Designate the authoritative source of an attribute (一数一源) and run cross-checks.
    DesignateSource,
    /// Define and build the base libraries (基础库).
    ManageLibraries,
    /// Register licence types (证照类型) and make or rotate departments' e-seals (电子印章).
    ManageLicences,
    /// Issue, suspend, restore or revoke the licences a department issues (target
    /// `SharingOf { department: issuer }`).
    IssueLicences,
    /// Define the city's event categories and dispatch rules and issue Open311 keys; dispatch,
    /// transfer, verify and close events; see a reporter's identity (the city's command
    /// centre, run by the hub).
    ManageEvents,
    /// Accept, return, note and mark handled the events dispatched to a department (target
    /// `SharingOf { department }`), or see them.
    HandleEvents,
    /// View a person's or enterprise's profile (一人一档) in the console through the grants of
    /// one of the department's systems.
    ViewProfile,
    /// File a sharing request (共享申请) for a published resource, for one's own department.
    RequestShare,
    /// Approve or refuse a conditional request as the provider (the hub once escalated),
    /// or revoke or change a grant.
    DecideRequest,
    /// See sharing requests and grants: the whole hub's (`Hub`) or one department's.
    ReadSharing,
    /// File a demand (需求) for data, possibly not yet catalogued.
    FileDemand,
    /// Answer a demand routed to one's department (the hub answers any, and routes them).
    AnswerDemand,
    /// Route demands, run compliance checks, edit the working-day calendar (the hub).
    ManageSharing,
    /// Set a resource's open rules, republish it, and approve or refuse applications for
    /// its conditionally open data (the provider's officer; the hub for any).
    ManageOpenData,
    /// See the applications and portal figures of one department (`Resource`/`SharingOf`)
    /// or of the whole city (`Hub`).
    ReadOpenData,
    /// Answer the public's data requests (数据需求征集): the hub.
    AnswerOpenRequest,
    /// See the city's indicators, their values and alerts (every official: the city's figures
    /// are the government's common picture).
    ReadIndicators,
    /// Define, change, submit and compute the indicators a department owns (target
    /// `SharingOf { department }`).
    DefineIndicators,
    /// Publish or return submitted indicator definitions (the hub).
    ReviewIndicators,
    /// See the benefit policies and their evaluations' totals (every official).
    ReadPolicies,
    /// Define, change, submit and evaluate the benefit policies a department issues (target
    /// `SharingOf { department }`).
    DefinePolicies,
    /// Publish or return submitted policy definitions (the hub).
    ReviewPolicies,
    /// Confirm a department's eligible lists, export its payment instructions (which carry
    /// the subjects' own ID numbers) and record payments (target `SharingOf { department }`).
    /// The issuing department's own officers only: the hub runs the platform, it does not pay.
    PayBenefits,
    /// Define integrated services (一件事一次办) and import their BPMN; resolve case incidents
    /// (target `Hub`: the hub, which joins the departments' items up).
    DefineServices,
    /// See cases: every case (target `Hub`: the hub), or the steps of one department's queue
    /// and the cases they belong to (target `SharingOf { department }`: its officers).
    ReadCases,
    /// Accept, ask for a correction of, approve or refuse a step of a case (target
    /// `SharingOf { department }`): the handling department's own data officer.
    HandleCases,
}

/// The facts about the target that decisions depend on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A catalog entry: its provider and lifecycle state.
    Resource {
        provider: &'a str,
        status: ResourceStatus,
    },
    /// A new entry for this provider.
    NewResource { provider: &'a str },
    /// The hub as a whole (administration).
    Hub,
    /// The audit entries concerning one department.
    AuditOf { department: &'a str },
    /// A problem ticket about a resource of this provider.
    Ticket { provider: &'a str },
    /// The problem tickets concerning one department (as provider or as the one who raised them).
    TicketsOf { department: &'a str },
    /// A sharing request or grant between a providing and a consuming department.
    /// `escalated`: past its deadline, the hub decides.
    Share {
        provider: &'a str,
        consumer: &'a str,
        escalated: bool,
    },
    /// What one department may see of sharing (its requests, grants, inbox, demands).
    SharingOf { department: &'a str },
    /// The base library read for a benefit policy `department` issues: the rows the policy's
    /// rules name, for its purpose. Rows of a subject are read only under a policy the hub has
    /// reviewed and published (the matching engine reads them for published policies only);
    /// a draft is only ever counted.
    PolicyOf { department: &'a str },
    /// A demand filed by `department`, routed to `routed_to` (if routed yet).
    Demand {
        department: &'a str,
        routed_to: Option<&'a str>,
    },
}

/// A refusal, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denied {
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
    /// True when the actor may not even learn that the target exists (answer 404, not 403).
    pub hide: bool,
}

impl Denied {
    pub fn new(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Denied {
            code,
            message_zh: zh.into(),
            message_en: en.into(),
            hide: false,
        }
    }
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_en)
    }
}

impl std::error::Error for Denied {}

impl Classified for Denied {
    /// A refusal that must hide its target reads as "not found" (404), with the policy's code.
    fn problem(&self) -> Problem {
        Problem::new(
            if self.hide {
                ErrorKind::NotFound
            } else {
                ErrorKind::Denied
            },
            self.code,
            self.message_zh.clone(),
            self.message_en.clone(),
        )
    }
}

pub type Decision = Result<(), Denied>;

fn role_denied(role: Role, what_zh: &str, what_en: &str) -> Denied {
    Denied::new(
        "FORBIDDEN_ROLE",
        format!("{}无权{}", role.zh(), what_zh),
        format!("a {} may not {}", role.en().to_lowercase(), what_en),
    )
}

fn other_department(what_zh: &str, what_en: &str) -> Denied {
    Denied::new(
        "FORBIDDEN_DEPARTMENT",
        format!("只能{}本部门的资源", what_zh),
        format!("you may only {} your own department's resources", what_en),
    )
}

fn wrong_state(status: ResourceStatus, what_zh: &str, what_en: &str) -> Denied {
    Denied::new(
        "INVALID_STATE",
        format!("资源当前状态为“{}”，不能{}", status.zh(), what_zh),
        format!(
            "the resource is {}, so it cannot be {}",
            status.en().to_lowercase(),
            what_en
        ),
    )
}

/// Decides whether `actor` may perform `action` on `target`.
pub fn decide(actor: &Actor, action: Action, target: Target<'_>) -> Decision {
    let operator = actor.role == Role::HubOperator;
    let own = |provider: &str| provider == actor.department;
    match (action, target) {
        (Action::ReadResource, Target::Resource { provider, status }) => {
            // Published and withdrawn entries are the city's catalog; drafts stay with
            // their department and the hub until published.
            if operator
                || own(provider)
                || matches!(
                    status,
                    ResourceStatus::Published | ResourceStatus::Withdrawn
                )
            {
                Ok(())
            } else {
                Err(Denied {
                    hide: true,
                    ..Denied::new("NOT_FOUND", "资源不存在", "no such resource")
                })
            }
        }
        (Action::RegisterResource, Target::NewResource { provider }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) => Ok(()),
            Role::DataOfficer => Err(other_department("登记", "register")),
            Role::Viewer => Err(role_denied(actor.role, "登记资源", "register resources")),
        },
        (Action::ImportCatalog, Target::NewResource { provider }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) => Ok(()),
            Role::DataOfficer => Err(other_department("导入", "import")),
            Role::Viewer => Err(role_denied(
                actor.role,
                "导入目录",
                "import catalog entries",
            )),
        },
        (
            Action::EditResource | Action::SubmitResource | Action::WithdrawResource,
            Target::Resource { provider, status },
        ) => {
            let (zh, en) = match action {
                Action::EditResource => ("修改", "edit"),
                Action::SubmitResource => ("提交", "submit"),
                _ => ("撤销", "withdraw"),
            };
            match actor.role {
                Role::Viewer => {
                    return Err(role_denied(
                        actor.role,
                        &format!("{zh}资源"),
                        &format!("{en} resources"),
                    ));
                }
                Role::DataOfficer if !own(provider) => return Err(other_department(zh, en)),
                _ => {}
            }
            let state_ok = match action {
                Action::EditResource => {
                    status != ResourceStatus::Withdrawn && status != ResourceStatus::Submitted
                }
                Action::SubmitResource => {
                    matches!(status, ResourceStatus::Draft | ResourceStatus::Returned)
                }
                _ => status == ResourceStatus::Published,
            };
            if state_ok {
                Ok(())
            } else {
                let en_state = match action {
                    Action::EditResource => "edited",
                    Action::SubmitResource => "submitted",
                    _ => "withdrawn",
                };
                Err(wrong_state(status, zh, en_state))
            }
        }
        (Action::ReviewResource, Target::Resource { status, .. }) => {
            if !operator {
                Err(role_denied(
                    actor.role,
                    "审核目录",
                    "review catalog entries",
                ))
            } else if status != ResourceStatus::Submitted {
                Err(wrong_state(status, "审核", "reviewed"))
            } else {
                Ok(())
            }
        }
        (
            Action::ManageDepartments | Action::ManageUsers | Action::ManageApplications,
            Target::Hub,
        ) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "管理部门、用户和应用",
                    "administer departments, users and applications",
                ))
            }
        }
        (Action::LoadData, Target::Resource { provider, status }) => {
            match actor.role {
                Role::Viewer => return Err(role_denied(actor.role, "汇聚数据", "load data")),
                Role::DataOfficer if !own(provider) => {
                    return Err(other_department("汇聚", "load"));
                }
                _ => {}
            }
            // Data hangs on a published catalog entry (目录先行): no entry, no data.
            if status == ResourceStatus::Published {
                Ok(())
            } else {
                Err(wrong_state(status, "汇聚数据", "loaded"))
            }
        }
        (Action::ReadData, Target::Resource { provider, .. }) => {
            // Until the sharing capability grants access, rows in the clear stay with the
            // provider and the hub.
            if operator || own(provider) {
                Ok(())
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能查看本部门资源的数据，其他部门的数据请通过共享申请获取",
                    "only the providing department and the hub see these rows; other departments request them through sharing",
                ))
            }
        }
        (Action::ReadData, Target::PolicyOf { department }) => {
            if operator || (own(department) && actor.role == Role::DataOfficer) {
                Ok(())
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能为本部门发布的政策读取基础库",
                    "the base library is read only for the policies your department issues",
                ))
            }
        }
        (Action::QueryLake, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "执行数据查询",
                    "run SQL over the lake",
                ))
            }
        }
        (Action::ReadAudit, Target::Hub) | (Action::SignTreeHead, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "查看全市审计日志或签发树头",
                    "read the whole hub's audit log or sign tree heads",
                ))
            }
        }
        (Action::ReadAudit, Target::AuditOf { department }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if department == actor.department => Ok(()),
            Role::DataOfficer => Err(other_department("查看审计", "audit")),
            Role::Viewer => Err(role_denied(
                actor.role,
                "查看审计日志",
                "read the audit log",
            )),
        },
        (Action::ReadQuality, Target::Hub) => Ok(()),
        (Action::ReadQuality, Target::Resource { provider, status }) => decide(
            actor,
            Action::ReadResource,
            Target::Resource { provider, status },
        ),
        (Action::ManageQualityRules, Target::Resource { provider, .. }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) => Ok(()),
            Role::DataOfficer => Err(other_department(
                "管理质量规则于",
                "manage quality rules of",
            )),
            Role::Viewer => Err(role_denied(
                actor.role,
                "管理质量规则",
                "manage quality rules",
            )),
        },
        (Action::RaiseObjection, Target::Resource { provider, status }) => {
            if actor.role == Role::Viewer {
                return Err(role_denied(actor.role, "提出数据异议", "raise objections"));
            }
            if actor.role == Role::DataOfficer && own(provider) {
                return Err(Denied::new(
                    "OWN_RESOURCE",
                    "本部门的数据请直接更正，无需提出异议",
                    "correct your own department's data directly; objections are for consumers",
                ));
            }
            if status == ResourceStatus::Published {
                Ok(())
            } else {
                Err(wrong_state(status, "提出异议", "objected to"))
            }
        }
        (Action::HandleTicket, Target::Ticket { provider }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) => Ok(()),
            Role::DataOfficer => Err(Denied::new(
                "FORBIDDEN_DEPARTMENT",
                "只有数据提供部门可以处理该工单",
                "only the providing department handles this ticket",
            )),
            Role::Viewer => Err(role_denied(actor.role, "处理工单", "handle tickets")),
        },
        (Action::ReadTickets, Target::TicketsOf { department }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if department == actor.department => Ok(()),
            Role::DataOfficer => Err(other_department("查看工单于", "see the tickets of")),
            Role::Viewer => Err(role_denied(
                actor.role,
                "查看问题工单",
                "see problem tickets",
            )),
        },
        (
            Action::ArbitrateTicket
            | Action::DesignateSource
            | Action::ManageLibraries
            | Action::ManageLicences
            | Action::ReadTickets,
            Target::Hub,
        ) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "仲裁异议、指定权威数据源或查看全市工单",
                    "arbitrate objections, designate authoritative sources or see every ticket",
                ))
            }
        }
        (
            Action::RequestShare,
            Target::Share {
                provider, consumer, ..
            },
        ) => {
            match actor.role {
                Role::Viewer => {
                    return Err(role_denied(
                        actor.role,
                        "提交共享申请",
                        "file sharing requests",
                    ));
                }
                Role::DataOfficer if consumer != actor.department => {
                    return Err(Denied::new(
                        "FORBIDDEN_DEPARTMENT",
                        "只能为本部门提交共享申请",
                        "you may only file sharing requests for your own department",
                    ));
                }
                _ => {}
            }
            if provider == consumer {
                Err(Denied::new(
                    "OWN_RESOURCE",
                    "本部门的资源无需申请共享",
                    "your own department's resources need no sharing request",
                ))
            } else {
                Ok(())
            }
        }
        (
            Action::DecideRequest,
            Target::Share {
                provider,
                escalated,
                ..
            },
        ) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) && !escalated => Ok(()),
            Role::DataOfficer if own(provider) => Err(Denied::new(
                "ESCALATED",
                "申请已超期并提交大数据局处理",
                "the request is overdue and has been escalated to the hub",
            )),
            Role::DataOfficer => Err(Denied::new(
                "FORBIDDEN_DEPARTMENT",
                "只有数据提供部门可以审批该申请",
                "only the providing department decides this request",
            )),
            Role::Viewer => Err(role_denied(
                actor.role,
                "审批共享申请",
                "decide sharing requests",
            )),
        },
        (
            Action::ReadSharing,
            Target::Share {
                provider, consumer, ..
            },
        ) => {
            if operator || own(provider) || own(consumer) {
                Ok(())
            } else {
                Err(Denied {
                    hide: true,
                    ..Denied::new("NOT_FOUND", "申请或授权不存在", "no such request or grant")
                })
            }
        }
        (Action::IssueLicences, Target::SharingOf { department }) => {
            if operator || (own(department) && actor.role == Role::DataOfficer) {
                Ok(())
            } else if own(department) {
                Err(role_denied(
                    actor.role,
                    "签发或变更电子证照",
                    "issue or change licences",
                ))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能签发或变更本部门颁发的证照",
                    "only the issuing department issues or changes its licences",
                ))
            }
        }
        (Action::ManageEvents, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "分拨、核查、办结城市事件或维护事件分类与派遣规则",
                    "dispatch, verify or close city events or set their categories and rules",
                ))
            }
        }
        (Action::HandleEvents, Target::SharingOf { department }) => {
            if operator || (own(department) && actor.role == Role::DataOfficer) {
                Ok(())
            } else if own(department) {
                Err(role_denied(
                    actor.role,
                    "处置城市事件",
                    "handle city events",
                ))
            } else {
                Err(Denied {
                    hide: true,
                    ..Denied::new(
                        "NOT_FOUND",
                        "事件不存在或未派遣给本部门",
                        "no such event for your department",
                    )
                })
            }
        }
        (Action::ViewProfile, Target::SharingOf { department }) => {
            if own(department) && matches!(actor.role, Role::DataOfficer | Role::HubOperator) {
                Ok(())
            } else if own(department) {
                Err(role_denied(actor.role, "查看档案", "view profiles"))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能通过本部门的业务系统查看档案",
                    "profiles are viewed through your own department's systems only",
                ))
            }
        }
        (Action::ReadSharing, Target::SharingOf { department }) => {
            if operator || own(department) {
                Ok(())
            } else {
                Err(other_department("查看共享情况于", "see the sharing of"))
            }
        }
        (Action::ReadSharing | Action::ManageSharing, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "管理全市共享",
                    "manage the city's sharing",
                ))
            }
        }
        (Action::ManageOpenData, Target::Resource { provider, .. }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(provider) => Ok(()),
            Role::DataOfficer => Err(other_department("管理", "manage the open data of")),
            Role::Viewer => Err(role_denied(actor.role, "管理开放数据", "manage open data")),
        },
        (Action::ReadOpenData, Target::Hub) | (Action::AnswerOpenRequest, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "管理全市开放数据",
                    "manage the city's open data",
                ))
            }
        }
        (Action::ReadIndicators, Target::Hub) | (Action::ReadPolicies, Target::Hub) => Ok(()),
        (Action::DefinePolicies, Target::SharingOf { department }) => {
            if operator || (own(department) && actor.role == Role::DataOfficer) {
                Ok(())
            } else if own(department) {
                Err(role_denied(
                    actor.role,
                    "定义或测算惠民惠企政策",
                    "define or evaluate benefit policies",
                ))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能定义或测算本部门发布的政策",
                    "you may only define or evaluate the policies your department issues",
                ))
            }
        }
        (Action::PayBenefits, Target::SharingOf { department }) => {
            if own(department) && actor.role == Role::DataOfficer {
                Ok(())
            } else if own(department) || operator {
                Err(role_denied(
                    actor.role,
                    "确认名单、导出支付清单（须本部门数据专员）",
                    "confirm lists and export payment instructions (the department's own data officer)",
                ))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能办理本部门政策的名单和支付",
                    "you may only handle the lists and payments of your department's policies",
                ))
            }
        }
        (Action::DefineServices, Target::Hub) | (Action::ReadCases, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "管理一件事一次办事项",
                    "manage the integrated services",
                ))
            }
        }
        (Action::ReadCases, Target::SharingOf { department }) => {
            if operator || own(department) {
                Ok(())
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能查看本部门办理的环节",
                    "you may only see the steps your department handles",
                ))
            }
        }
        (Action::HandleCases, Target::SharingOf { department }) => {
            if own(department) && actor.role == Role::DataOfficer {
                Ok(())
            } else if own(department) || operator {
                Err(role_denied(
                    actor.role,
                    "办理一件事环节（须本部门数据专员）",
                    "handle a case's step (the department's own data officer)",
                ))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能办理本部门负责的环节",
                    "you may only handle the steps your department is responsible for",
                ))
            }
        }
        (Action::ReviewPolicies, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "审核政策定义",
                    "review policy definitions",
                ))
            }
        }
        (Action::DefineIndicators, Target::SharingOf { department }) => {
            if operator || (own(department) && actor.role == Role::DataOfficer) {
                Ok(())
            } else if own(department) {
                Err(role_denied(
                    actor.role,
                    "定义或计算指标",
                    "define or compute indicators",
                ))
            } else {
                Err(Denied::new(
                    "FORBIDDEN_DEPARTMENT",
                    "只能定义或计算本部门负责的指标",
                    "you may only define or compute the indicators your department owns",
                ))
            }
        }
        (Action::ReviewIndicators, Target::Hub) => {
            if operator {
                Ok(())
            } else {
                Err(role_denied(
                    actor.role,
                    "审核指标定义",
                    "review indicator definitions",
                ))
            }
        }
        (Action::ReadOpenData, Target::SharingOf { department }) => {
            if operator || own(department) {
                Ok(())
            } else {
                Err(other_department(
                    "查看",
                    "see the open-data applications of",
                ))
            }
        }
        (Action::FileDemand, Target::Demand { department, .. }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if own(department) => Ok(()),
            Role::DataOfficer => Err(Denied::new(
                "FORBIDDEN_DEPARTMENT",
                "只能为本部门提出需求",
                "you may only file demands for your own department",
            )),
            Role::Viewer => Err(role_denied(actor.role, "提出数据需求", "file demands")),
        },
        (Action::AnswerDemand, Target::Demand { routed_to, .. }) => match actor.role {
            Role::HubOperator => Ok(()),
            Role::DataOfficer if routed_to.is_some_and(own) => Ok(()),
            Role::DataOfficer => Err(Denied::new(
                "FORBIDDEN_DEPARTMENT",
                "该需求未分派给本部门",
                "this demand was not routed to your department",
            )),
            Role::Viewer => Err(role_denied(actor.role, "答复数据需求", "answer demands")),
        },
        _ => Err(Denied::new(
            "FORBIDDEN",
            "不允许的操作",
            "this action does not apply to this target",
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn actor(role: Role, dept: &str) -> Actor {
        Actor {
            principal: "u".into(),
            display_name: "u".into(),
            role,
            department: dept.into(),
        }
    }

    #[test]
    fn audit_matrix() {
        for role in [Role::HubOperator, Role::DataOfficer, Role::Viewer] {
            let a = actor(role, "GA");
            let op = role == Role::HubOperator;
            assert_eq!(decide(&a, Action::ReadAudit, Target::Hub).is_ok(), op);
            assert_eq!(decide(&a, Action::SignTreeHead, Target::Hub).is_ok(), op);
            let own = Target::AuditOf { department: "GA" };
            let other = Target::AuditOf { department: "MZ" };
            assert_eq!(
                decide(&a, Action::ReadAudit, own).is_ok(),
                op || role == Role::DataOfficer
            );
            assert_eq!(decide(&a, Action::ReadAudit, other).is_ok(), op);
        }
    }

    /// Every cell of role × own/other department × status × action, asserted.
    #[test]
    fn catalog_matrix() {
        use ResourceStatus::*;
        let roles = [Role::HubOperator, Role::DataOfficer, Role::Viewer];
        let statuses = [Draft, Submitted, Published, Returned, Withdrawn];
        for role in roles {
            for own in [true, false] {
                let a = actor(role, if own { "GA" } else { "MZ" });
                for status in statuses {
                    let t = Target::Resource {
                        provider: "GA",
                        status,
                    };
                    let op = role == Role::HubOperator;
                    let officer = role == Role::DataOfficer;
                    let read = decide(&a, Action::ReadResource, t).is_ok();
                    assert_eq!(
                        read,
                        op || own || matches!(status, Published | Withdrawn),
                        "read {role:?} own={own} {status:?}"
                    );
                    let edit = decide(&a, Action::EditResource, t).is_ok();
                    assert_eq!(
                        edit,
                        (op || (officer && own)) && matches!(status, Draft | Published | Returned),
                        "edit {role:?} own={own} {status:?}"
                    );
                    let submit = decide(&a, Action::SubmitResource, t).is_ok();
                    assert_eq!(
                        submit,
                        (op || (officer && own)) && matches!(status, Draft | Returned),
                        "submit {role:?} {status:?}"
                    );
                    let review = decide(&a, Action::ReviewResource, t).is_ok();
                    assert_eq!(
                        review,
                        op && status == Submitted,
                        "review {role:?} {status:?}"
                    );
                    let load = decide(&a, Action::LoadData, t).is_ok();
                    assert_eq!(
                        load,
                        (op || (officer && own)) && status == Published,
                        "load {role:?} own={own} {status:?}"
                    );
                    let read_data = decide(&a, Action::ReadData, t).is_ok();
                    assert_eq!(read_data, op || own, "read data {role:?} own={own}");
                    let withdraw = decide(&a, Action::WithdrawResource, t).is_ok();
                    assert_eq!(
                        withdraw,
                        (op || (officer && own)) && status == Published,
                        "withdraw {role:?} {status:?}"
                    );
                    let quality = decide(&a, Action::ReadQuality, t).is_ok();
                    assert_eq!(quality, read, "quality {role:?} own={own} {status:?}");
                    let rules = decide(&a, Action::ManageQualityRules, t).is_ok();
                    assert_eq!(rules, op || (officer && own), "rules {role:?} own={own}");
                    let object = decide(&a, Action::RaiseObjection, t).is_ok();
                    assert_eq!(
                        object,
                        (op || (officer && !own)) && status == Published,
                        "objection {role:?} own={own} {status:?}"
                    );
                }
                for (dept, own) in [("GA", own), ("MZ", !own)] {
                    let handle =
                        decide(&a, Action::HandleTicket, Target::Ticket { provider: dept }).is_ok();
                    assert_eq!(
                        handle,
                        role == Role::HubOperator || (role == Role::DataOfficer && own)
                    );
                    let list = decide(
                        &a,
                        Action::ReadTickets,
                        Target::TicketsOf { department: dept },
                    )
                    .is_ok();
                    assert_eq!(
                        list,
                        role == Role::HubOperator || (role == Role::DataOfficer && own)
                    );
                }
                for action in [
                    Action::ArbitrateTicket,
                    Action::DesignateSource,
                    Action::ManageLibraries,
                    Action::ManageLicences,
                    Action::ManageEvents,
                    Action::ReadTickets,
                    Action::ReviewIndicators,
                    Action::ReviewPolicies,
                ] {
                    assert_eq!(
                        decide(&a, action, Target::Hub).is_ok(),
                        role == Role::HubOperator,
                        "{action:?} {role:?}"
                    );
                }
                assert!(decide(&a, Action::ReadQuality, Target::Hub).is_ok());
                assert!(decide(&a, Action::ReadIndicators, Target::Hub).is_ok());
                assert!(decide(&a, Action::ReadPolicies, Target::Hub).is_ok());
                assert_eq!(
                    decide(
                        &a,
                        Action::DefinePolicies,
                        Target::SharingOf { department: "GA" }
                    )
                    .is_ok(),
                    role == Role::HubOperator || (role == Role::DataOfficer && own)
                );
                assert_eq!(
                    decide(&a, Action::ReadData, Target::PolicyOf { department: "GA" }).is_ok(),
                    role == Role::HubOperator || (role == Role::DataOfficer && own)
                );
                assert_eq!(
                    decide(
                        &a,
                        Action::PayBenefits,
                        Target::SharingOf { department: "GA" }
                    )
                    .is_ok(),
                    role == Role::DataOfficer && own
                );
                assert_eq!(
                    decide(
                        &a,
                        Action::DefineIndicators,
                        Target::SharingOf { department: "GA" }
                    )
                    .is_ok(),
                    role == Role::HubOperator || (role == Role::DataOfficer && own)
                );
                let register = decide(
                    &a,
                    Action::RegisterResource,
                    Target::NewResource { provider: "GA" },
                )
                .is_ok();
                assert_eq!(
                    register,
                    role == Role::HubOperator || (role == Role::DataOfficer && own)
                );
                let admin = decide(&a, Action::ManageUsers, Target::Hub).is_ok();
                assert_eq!(admin, role == Role::HubOperator);
                let sql = decide(&a, Action::QueryLake, Target::Hub).is_ok();
                assert_eq!(sql, role == Role::HubOperator);
            }
        }
    }

    /// Sharing workflow: role × own/other department × the request's sides.
    #[test]
    fn sharing_matrix() {
        for role in [Role::HubOperator, Role::DataOfficer, Role::Viewer] {
            for dept in ["GA", "MZ", "JY"] {
                let a = actor(role, dept);
                let op = role == Role::HubOperator;
                let officer = role == Role::DataOfficer;
                for escalated in [false, true] {
                    let t = Target::Share {
                        provider: "GA",
                        consumer: "MZ",
                        escalated,
                    };
                    assert_eq!(
                        decide(&a, Action::RequestShare, t).is_ok(),
                        op || (officer && dept == "MZ"),
                        "request {role:?} {dept}"
                    );
                    assert_eq!(
                        decide(&a, Action::DecideRequest, t).is_ok(),
                        op || (officer && dept == "GA" && !escalated),
                        "decide {role:?} {dept} {escalated}"
                    );
                    assert_eq!(
                        decide(&a, Action::ReadSharing, t).is_ok(),
                        op || dept == "GA" || dept == "MZ"
                    );
                }
                let own_request = Target::Share {
                    provider: "GA",
                    consumer: "GA",
                    escalated: false,
                };
                assert!(decide(&a, Action::RequestShare, own_request).is_err());
                assert_eq!(decide(&a, Action::ManageSharing, Target::Hub).is_ok(), op);
                let demand = Target::Demand {
                    department: "MZ",
                    routed_to: Some("GA"),
                };
                assert_eq!(
                    decide(&a, Action::FileDemand, demand).is_ok(),
                    op || (officer && dept == "MZ")
                );
                assert_eq!(
                    decide(&a, Action::AnswerDemand, demand).is_ok(),
                    op || (officer && dept == "GA")
                );
                let unrouted = Target::Demand {
                    department: "MZ",
                    routed_to: None,
                };
                assert_eq!(decide(&a, Action::AnswerDemand, unrouted).is_ok(), op);
            }
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        let a = actor(Role::DataOfficer, "MZ");
        let d = decide(
            &a,
            Action::EditResource,
            Target::Resource {
                provider: "GA",
                status: ResourceStatus::Draft,
            },
        )
        .unwrap_err();
        assert_eq!(d.code, "FORBIDDEN_DEPARTMENT");
        assert!(d.message_zh.contains("本部门"));
        let hidden = decide(
            &a,
            Action::ReadResource,
            Target::Resource {
                provider: "GA",
                status: ResourceStatus::Draft,
            },
        )
        .unwrap_err();
        assert!(
            hidden.hide,
            "other departments' drafts are not even acknowledged"
        );
    }
}
