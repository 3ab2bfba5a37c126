//! The console's side navigation as data: groups of pages, each shown only to users the
//! policy lets do what the page is for ([`may_somewhere`]), and the breadcrumbs of the page
//! being shown (the longest navigation path that is a prefix of it).

use serde::Serialize;
use shuniu_policy::{Action, may_somewhere};
use shuniu_types::Actor;

struct Item {
    href: &'static str,
    key: &'static str,
    /// The message key of the label.
    label: &'static str,
    /// What a user must be allowed somewhere for the page to be offered (`None`: everyone).
    needs: Option<Action>,
}

const fn item(
    href: &'static str,
    key: &'static str,
    label: &'static str,
    needs: Option<Action>,
) -> Item {
    Item {
        href,
        key,
        label,
        needs,
    }
}

/// The groups in order, as (message key, pages).
const NAV: &[(&str, &[Item])] = &[
    (
        "nav_catalog",
        &[
            item("/catalog", "catalog", "catalog", None),
            item(
                "/catalog/new",
                "register",
                "register",
                Some(Action::RegisterResource),
            ),
            item(
                "/review",
                "review",
                "review_queue",
                Some(Action::ReviewResource),
            ),
            item("/import", "import", "import", Some(Action::ImportCatalog)),
            item("/negative-list", "negative", "negative_list", None),
            item("/lists", "lists", "lists", None),
            item("/departments", "departments", "departments", None),
        ],
    ),
    (
        "nav_data",
        &[
            item("/loads", "loads", "loads", Some(Action::ReadData)),
            item("/sql", "sql", "sql", Some(Action::QueryLake)),
        ],
    ),
    (
        "nav_quality",
        &[
            item("/quality", "quality", "quality_overview", None),
            item(
                "/quality/tickets",
                "tickets",
                "tickets",
                Some(Action::ReadTickets),
            ),
            item("/quality/sources", "sources", "sources", None),
            item(
                "/libraries",
                "libraries",
                "libraries",
                Some(Action::ManageLibraries),
            ),
            item(
                "/linkage/reviews",
                "reviews",
                "link_reviews",
                Some(Action::ManageSharing),
            ),
        ],
    ),
    (
        "nav_sharing",
        &[
            item("/sharing", "sharing", "sharing_overview", None),
            item(
                "/sharing/requests",
                "requests",
                "sharing_requests",
                Some(Action::ReadSharing),
            ),
            item(
                "/sharing/grants",
                "grants",
                "grants",
                Some(Action::ReadSharing),
            ),
            item("/sharing/demands", "demands", "demands", None),
            item(
                "/profiles",
                "profiles",
                "profiles",
                Some(Action::ViewProfile),
            ),
            item(
                "/licences",
                "licences",
                "licences",
                Some(Action::IssueLicences),
            ),
        ],
    ),
    (
        "nav_events",
        &[
            item(
                "/events",
                "events",
                "event_centre",
                Some(Action::HandleEvents),
            ),
            item("/events/new", "event-new", "event_report", None),
            item(
                "/events/statistics",
                "event-statistics",
                "event_statistics",
                Some(Action::ManageEvents),
            ),
            item(
                "/events/intake",
                "event-intake",
                "event_intake",
                Some(Action::ManageEvents),
            ),
        ],
    ),
    (
        "nav_indicators",
        &[
            item(
                "/dashboard",
                "dashboard",
                "dashboard",
                Some(Action::ReadIndicators),
            ),
            item(
                "/indicators",
                "indicators",
                "indicators",
                Some(Action::ReadIndicators),
            ),
        ],
    ),
    (
        "nav_policies",
        &[
            item(
                "/policies",
                "policies",
                "policies",
                Some(Action::ReadPolicies),
            ),
            item("/cases", "cases", "cases_nav", None),
        ],
    ),
    (
        "nav_open",
        &[
            item("/opendata", "opendata", "opendata", None),
            item("/open", "portal", "p_portal", None),
        ],
    ),
    (
        "nav_trace",
        &[
            item("/audit", "audit", "audit", Some(Action::ReadAudit)),
            item("/audit/flows", "flows", "flows", Some(Action::ReadAudit)),
        ],
    ),
    (
        "nav_admin",
        &[
            item("/admin/users", "users", "users", Some(Action::ManageUsers)),
            item(
                "/admin/applications",
                "applications",
                "applications",
                Some(Action::ManageApplications),
            ),
        ],
    ),
];

#[derive(Serialize)]
pub(crate) struct NavGroup {
    key: &'static str,
    items: Vec<NavLink>,
}

#[derive(Serialize)]
pub(crate) struct NavLink {
    href: &'static str,
    key: &'static str,
    label: &'static str,
    current: bool,
}

#[derive(Serialize)]
pub(crate) struct Crumb {
    href: Option<&'static str>,
    label: &'static str,
}

fn under(path: &str, href: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path == href
        || path
            .strip_prefix(href)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The menu for this user and this page, and the page's breadcrumbs.
pub(crate) fn menu(actor: &Actor, path: &str) -> (Vec<NavGroup>, Vec<Crumb>) {
    // The current page is the offered entry with the longest matching href.
    let current = NAV
        .iter()
        .flat_map(|(g, items)| items.iter().map(move |i| (*g, i)))
        .filter(|(_, i)| under(path, i.href))
        .max_by_key(|(_, i)| i.href.len());
    let mut crumbs = Vec::new();
    if let Some((group, i)) = current {
        crumbs.push(Crumb {
            href: None,
            label: group,
        });
        crumbs.push(Crumb {
            href: Some(i.href),
            label: i.label,
        });
    }
    let groups = NAV
        .iter()
        .map(|(key, items)| NavGroup {
            key,
            items: items
                .iter()
                .filter(|i| i.needs.is_none_or(|a| may_somewhere(actor, a)))
                .map(|i| NavLink {
                    href: i.href,
                    key: i.key,
                    label: i.label,
                    current: current.is_some_and(|(_, c)| c.href == i.href),
                })
                .collect(),
        })
        .filter(|g| !g.items.is_empty())
        .collect();
    (groups, crumbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_entry_is_current() {
        assert!(under("/quality/tickets?x=1", "/quality/tickets"));
        assert!(under("/quality/tickets/T1", "/quality"));
        assert!(!under("/qualityx", "/quality"));
    }
}
