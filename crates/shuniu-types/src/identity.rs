//! Who acts in the hub: departments (部门) in a city → district hierarchy, users with a
//! role, and API applications (应用) that call the hub from a department's own systems.

use serde::{Deserialize, Serialize};

use crate::vocabulary;

vocabulary! {
    /// What a console user may do; the policy module turns a role into decisions.
    Role, "ROLE_INVALID" {
        /// 大数据局: runs the hub, reviews catalog entries.
        HubOperator = ("hub_operator", "大数据局管理员", "Hub operator"),
        /// 部门数据管理员: registers and maintains the department's resources.
        DataOfficer = ("data_officer", "部门数据管理员", "Department data officer"),
        /// 部门查看员: reads the catalog.
        Viewer = ("viewer", "部门查看员", "Department viewer"),
    }
}

/// Who is acting: resolved once per request from a session cookie or an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// A user's login name, or `app:<application id>` for an API application.
    pub principal: String,
    pub display_name: String,
    pub role: Role,
    /// The department the actor belongs to.
    pub department: String,
}

impl Actor {
    /// The identity used by the command-line tool, which runs with the operator's rights on
    /// the machine that holds the data directory.
    pub fn local_operator() -> Actor {
        Actor {
            principal: "cli".into(),
            display_name: "命令行 / CLI".into(),
            role: Role::HubOperator,
            department: String::new(),
        }
    }
}
