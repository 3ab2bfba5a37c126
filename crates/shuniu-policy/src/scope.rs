//! How much of a kind of thing an actor may list, search, count or page through.
//!
//! [`decide`] answers for one target; lists and searches need the set instead. [`scope`] derives
//! that set from the same decisions, so a list can never show what a single read would refuse:
//! the hub-wide target first, then the actor's own department, else nothing. The catalog is the
//! one kind with a wider shape (the published catalog plus one's own drafts).
//!
//! Engines turn a [`Scope`] into a store filter (`department = ?`) or test rows already in
//! memory with [`Scope::covers`]; they never compare roles or departments themselves.

use shuniu_types::{Actor, ResourceStatus};

use crate::{Action, Denied, Target, decide};

/// What part of the hub an actor may see for one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the hub operator.
    All,
    /// What concerns this department (as provider, consumer, owner or subject).
    Department(String),
    /// The published (and withdrawn) catalog, plus every entry of this department in any
    /// state: what a department sees of the catalog.
    PublishedAndOwn(String),
    /// Nothing at all: the list is empty, the count zero.
    Nothing,
}

impl Scope {
    /// The department the scope narrows to, if it narrows to one.
    pub fn department(&self) -> Option<&str> {
        match self {
            Scope::Department(d) | Scope::PublishedAndOwn(d) => Some(d),
            Scope::All | Scope::Nothing => None,
        }
    }

    /// Whether a thing concerning any of `departments` is inside the scope (a request
    /// concerns its provider and its consumer, an audit entry its actor's department and the
    /// data's provider).
    pub fn covers<'a>(&self, departments: impl IntoIterator<Item = &'a str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Department(d) | Scope::PublishedAndOwn(d) => {
                departments.into_iter().any(|x| x == d)
            }
        }
    }

    /// True for the hub-wide scope: the caller may skip narrowing entirely.
    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }
}

/// The scope of `action` for `actor`, from the same rules as [`decide`].
pub fn scope(actor: &Actor, action: Action) -> Scope {
    let own = actor.department.as_str();
    // A department that is surely not the actor's: whoever may act on it may act on all.
    let elsewhere = format!("{own}\u{0}");
    match action {
        Action::ReadResource => {
            // Whoever may read another department's draft may read every entry.
            let other_draft = Target::Resource {
                provider: &elsewhere,
                status: ResourceStatus::Draft,
            };
            if decide(actor, action, other_draft).is_ok() {
                Scope::All
            } else {
                Scope::PublishedAndOwn(own.to_string())
            }
        }
        _ => {
            // Filing for another department's systems means seeing them all (the hub).
            let everything = match action {
                Action::RequestShare => Target::Share {
                    provider: "",
                    consumer: &elsewhere,
                    escalated: false,
                },
                // Reading another department's rows (and load history) means reading all.
                Action::ReadData => Target::Resource {
                    provider: &elsewhere,
                    status: ResourceStatus::Published,
                },
                _ => Target::Hub,
            };
            if decide(actor, action, everything).is_ok() {
                return Scope::All;
            }
            match own_target(action, own) {
                Some(t) if !own.is_empty() && decide(actor, action, t).is_ok() => {
                    Scope::Department(own.to_string())
                }
                _ => Scope::Nothing,
            }
        }
    }
}

/// The scope of `action`, or the policy's refusal (with its code and explanation) when the
/// actor may see none of it: for list operations that answer 403 rather than an empty list.
pub fn require_scope(actor: &Actor, action: Action) -> Result<Scope, Denied> {
    match scope(actor, action) {
        Scope::Nothing => {
            let own = actor.department.as_str();
            let refusal = match own_target(action, own) {
                Some(t) => decide(actor, action, t).err(),
                None => decide(actor, action, Target::Hub).err(),
            };
            Err(refusal.unwrap_or_else(|| {
                Denied::new(
                    "FORBIDDEN",
                    "不允许的操作",
                    "this action does not apply to this target",
                )
            }))
        }
        s => Ok(s),
    }
}

/// The target that stands for "what concerns my own department" for a list action.
fn own_target(action: Action, own: &str) -> Option<Target<'_>> {
    Some(match action {
        Action::ReadAudit => Target::AuditOf { department: own },
        Action::ReadTickets => Target::TicketsOf { department: own },
        Action::ReadSharing | Action::ReadOpenData => Target::SharingOf { department: own },
        Action::ReadData | Action::ManageOpenData => Target::Resource {
            provider: own,
            status: ResourceStatus::Published,
        },
        // A department lists its own systems when it files a request for one of them.
        Action::RequestShare => Target::Share {
            provider: "",
            consumer: own,
            escalated: false,
        },
        _ => return None,
    })
}

/// Whether `actor` may do `action` somewhere: the hub-wide target or the actor's own
/// department. What a page uses to decide whether to *offer* an action at all (a button, a
/// menu entry); the engine still decides each use.
pub fn may_somewhere(actor: &Actor, action: Action) -> bool {
    let own = actor.department.as_str();
    if decide(actor, action, Target::Hub).is_ok() {
        return true;
    }
    let target = match action {
        Action::RegisterResource | Action::ImportCatalog => Target::NewResource { provider: own },
        Action::RequestShare => Target::Share {
            provider: "",
            consumer: own,
            escalated: false,
        },
        Action::ViewProfile
        | Action::IssueLicences
        | Action::HandleEvents
        | Action::DefineIndicators
        | Action::DefinePolicies
        | Action::PayBenefits => Target::SharingOf { department: own },
        Action::FileDemand => Target::Demand {
            department: own,
            routed_to: None,
        },
        Action::ReviewResource => Target::Resource {
            provider: "",
            status: ResourceStatus::Submitted,
        },
        _ => return !matches!(scope(actor, action), Scope::Nothing),
    };
    decide(actor, action, target).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::actor;
    use shuniu_types::Role;

    /// Whether a catalog entry of `provider` in `status` is inside the scope: the engines'
    /// reading of a catalog scope (search visibility, export filter), held to `decide`.
    fn covers_resource(s: &Scope, provider: &str, status: ResourceStatus) -> bool {
        match s {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::Department(d) => provider == d,
            Scope::PublishedAndOwn(d) => {
                provider == d
                    || matches!(
                        status,
                        ResourceStatus::Published | ResourceStatus::Withdrawn
                    )
            }
        }
    }

    #[test]
    fn scopes_by_role() {
        let op = actor(Role::HubOperator, "DSJ");
        let officer = actor(Role::DataOfficer, "GA");
        let viewer = actor(Role::Viewer, "GA");
        for action in [
            Action::ReadAudit,
            Action::ReadTickets,
            Action::ReadSharing,
            Action::ReadOpenData,
            Action::ReadResource,
        ] {
            assert_eq!(scope(&op, action), Scope::All, "{action:?}");
        }
        assert_eq!(
            scope(&officer, Action::ReadResource),
            Scope::PublishedAndOwn("GA".into())
        );
        assert_eq!(
            scope(&viewer, Action::ReadResource),
            Scope::PublishedAndOwn("GA".into())
        );
        assert_eq!(
            scope(&officer, Action::ReadAudit),
            Scope::Department("GA".into())
        );
        assert_eq!(scope(&viewer, Action::ReadAudit), Scope::Nothing);
        assert_eq!(
            scope(&officer, Action::ReadSharing),
            Scope::Department("GA".into())
        );
        assert_eq!(
            scope(&officer, Action::ReadTickets),
            Scope::Department("GA".into())
        );
        assert_eq!(scope(&viewer, Action::ReadTickets), Scope::Nothing);
        assert_eq!(
            scope(&officer, Action::RequestShare),
            Scope::Department("GA".into())
        );
        assert_eq!(scope(&viewer, Action::RequestShare), Scope::Nothing);
        assert_eq!(scope(&op, Action::RequestShare), Scope::All);
    }

    /// A list never shows what a single read would refuse, and shows everything it would allow.
    #[test]
    fn scope_agrees_with_decide() {
        use ResourceStatus::*;
        for role in [Role::HubOperator, Role::DataOfficer, Role::Viewer] {
            for dept in ["GA", "MZ"] {
                let a = actor(role, dept);
                let s = scope(&a, Action::ReadResource);
                for status in [Draft, Submitted, Published, Returned, Withdrawn] {
                    let t = Target::Resource {
                        provider: "GA",
                        status,
                    };
                    assert_eq!(
                        covers_resource(&s, "GA", status),
                        decide(&a, Action::ReadResource, t).is_ok(),
                        "{role:?} {dept} {status:?}"
                    );
                }
                let s = scope(&a, Action::ReadAudit);
                for d in ["GA", "MZ"] {
                    assert_eq!(
                        s.covers([d]),
                        decide(&a, Action::ReadAudit, Target::AuditOf { department: d }).is_ok(),
                        "{role:?} {dept} audit of {d}"
                    );
                }
                let s = scope(&a, Action::ReadSharing);
                assert_eq!(
                    s.covers(["GA", "JY"]),
                    decide(
                        &a,
                        Action::ReadSharing,
                        Target::Share {
                            provider: "GA",
                            consumer: "JY",
                            escalated: false
                        }
                    )
                    .is_ok()
                );
            }
        }
    }

    #[test]
    fn offers_only_what_is_allowed_somewhere() {
        let viewer = actor(Role::Viewer, "GA");
        let officer = actor(Role::DataOfficer, "GA");
        let op = actor(Role::HubOperator, "DSJ");
        assert!(!may_somewhere(&viewer, Action::RegisterResource));
        assert!(may_somewhere(&officer, Action::RegisterResource));
        assert!(!may_somewhere(&officer, Action::ReviewResource));
        assert!(may_somewhere(&op, Action::ReviewResource));
        assert!(may_somewhere(&op, Action::ManageUsers));
        assert!(!may_somewhere(&officer, Action::ManageUsers));
        assert!(may_somewhere(&officer, Action::FileDemand));
        assert!(!may_somewhere(&viewer, Action::FileDemand));
    }
}
