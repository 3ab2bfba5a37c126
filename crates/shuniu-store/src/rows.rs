//! Row types of the control plane and their decoding.

use serde::Serialize;
use shuniu_types::{ResourceSpec, ResourceStatus, Role};
use sqlx::any::AnyRow;

use crate::{Result, StoreError, get, parse_role};

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub parent_code: Option<String>,
    pub division: String,
    pub credit_code: Option<String>,
    pub created_at: String,
}

impl Department {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Department {
            code: get(r, "code")?,
            name: get(r, "name")?,
            short_name: get(r, "short_name")?,
            parent_code: get(r, "parent_code")?,
            division: get(r, "division")?,
            credit_code: get(r, "credit_code")?,
            created_at: get(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewDepartment {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub parent_code: Option<String>,
    pub division: String,
    pub credit_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub department_code: String,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: String,
}

impl User {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(User {
            login: get(r, "login")?,
            display_name: get(r, "display_name")?,
            role: parse_role(&get::<String>(r, "role")?)?,
            department_code: get(r, "department_code")?,
            password_hash: get(r, "password_hash")?,
            disabled: get::<i64>(r, "disabled")? != 0,
            created_at: get(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub department_code: String,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub login: String,
    pub csrf_token: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Application {
    pub id: String,
    pub name: String,
    pub department_code: String,
    pub role: Role,
    /// The first characters of the key, shown so that an operator can tell keys apart.
    pub key_prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl Application {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Application {
            id: get(r, "id")?,
            name: get(r, "name")?,
            department_code: get(r, "department_code")?,
            role: parse_role(&get::<String>(r, "role")?)?,
            key_prefix: get(r, "key_prefix")?,
            created_at: get(r, "created_at")?,
            revoked_at: get(r, "revoked_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: String,
    pub name: String,
    pub department_code: String,
    pub role: Role,
    pub key_prefix: String,
    /// SM3 of the whole key; the key itself is never stored.
    pub key_hash: String,
}

/// A catalog entry as stored: its current metadata and lifecycle state.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceRecord {
    pub code: String,
    pub status: ResourceStatus,
    pub version: i64,
    pub spec: ResourceSpec,
    /// The reason given when the entry was last returned or withdrawn.
    pub status_note: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

fn parse_status(s: &str) -> Result<ResourceStatus> {
    ResourceStatus::parse_term(s).ok_or_else(|| StoreError::Corrupt(format!("status {s}")))
}

fn parse_spec(json: &str) -> Result<ResourceSpec> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("resource metadata: {e}")))
}

impl ResourceRecord {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(ResourceRecord {
            code: get(r, "code")?,
            status: parse_status(&get::<String>(r, "status")?)?,
            version: get(r, "version")?,
            spec: parse_spec(&get::<String>(r, "spec_json")?)?,
            status_note: get(r, "status_note")?,
            created_by: get(r, "created_by")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
            published_at: get(r, "published_at")?,
        })
    }
}

/// One recorded change of a catalog entry: who did what, when, and the metadata after it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub code: String,
    pub version: i64,
    /// created, updated, submitted, published, returned, withdrawn.
    pub action: String,
    pub status: ResourceStatus,
    pub actor: String,
    pub at: String,
    pub note: String,
    pub spec: ResourceSpec,
}

impl HistoryEntry {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(HistoryEntry {
            id: get(r, "id")?,
            code: get(r, "code")?,
            version: get(r, "version")?,
            action: get(r, "action")?,
            status: parse_status(&get::<String>(r, "status")?)?,
            actor: get(r, "actor")?,
            at: get(r, "at")?,
            note: get(r, "note")?,
            spec: parse_spec(&get::<String>(r, "spec_json")?)?,
        })
    }
}
