//! The portal's catalog: one [`Package`] per published open dataset, the organizations
//! (providing departments) and groups (themes) they belong to, and package search over them.
//!
//! The whole open catalog is an immutable [`Snapshot`] in memory, rebuilt when a publication
//! changes: a city has thousands to tens of thousands of open datasets, a few kilobytes each.
//! The snapshot of them all and its search live in [`crate::snapshot`].

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};
use shuniu_policy::open::OpenAccess;
use shuniu_types::{DataType, UpdateCycle};

/// A stable UUID (RFC 9562 version 8, SM3-derived) for a CKAN object named `name` of `kind`:
/// CKAN clients expect UUID ids and the same object must keep its id across restarts.
pub fn stable_id(kind: &str, name: &str) -> String {
    use sm3::Digest;
    let d = sm3::Sm3::digest(format!("shuniu:{kind}:{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Uuid::new_v8(b).hyphenated().to_string()
}

/// CKAN's timestamp format: ISO 8601 without a zone, microseconds, UTC.
pub fn ckan_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// A published column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    pub label: String,
    pub description: String,
    /// The datastore type CKAN clients read: text, int, numeric, date, timestamp, bool.
    pub ckan_type: &'static str,
    #[serde(skip)]
    pub data_type: DataType,
    /// The masking applied (`none` when published as is).
    pub masking: String,
}

pub fn ckan_type(t: DataType) -> &'static str {
    match t {
        DataType::Integer => "int",
        DataType::Numeric | DataType::Currency => "numeric",
        DataType::Date => "date",
        DataType::DateTime => "timestamp",
        DataType::Boolean => "bool",
        _ => "text",
    }
}

/// The download formats of every open dataset, as CKAN resources.
pub const FORMATS: [(&str, &str, &str); 4] = [
    ("csv", "CSV", "text/csv"),
    (
        "xlsx",
        "XLSX",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("json", "JSON", "application/json"),
    ("parquet", "Parquet", "application/vnd.apache.parquet"),
];

/// One open dataset as the portal and its APIs show it.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// The catalog code (目录编码).
    pub code: String,
    /// CKAN name: the code in lower case.
    pub name: String,
    pub id: String,
    pub title: String,
    pub notes: String,
    pub access: OpenAccess,
    pub provider: String,
    pub provider_name: String,
    pub org_name: String,
    /// Theme (group) slug and title.
    pub group: (String, String),
    pub tags: Vec<String>,
    pub update_cycle: UpdateCycle,
    pub level: String,
    pub open_conditions: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub source_version: Option<i64>,
    pub rows: i64,
    pub columns: Vec<Column>,
    pub views: i64,
    pub downloads: i64,
    pub api_calls: i64,
    /// Lower-cased texts that free-text terms are matched against, with their weights.
    #[serde(skip)]
    pub haystack: [(String, u32); 3],
    /// The package dict as JSON text for one base address, rendered on first use: a
    /// snapshot's packages do not change, and a harvester's page of 100 would otherwise
    /// build 100 dicts per request (CKAN likewise keeps each rendered dict in its index).
    #[serde(skip)]
    pub rendered: OnceLock<(String, Box<RawValue>)>,
}

impl Package {
    pub fn resource_id(&self, format: &str) -> String {
        stable_id("resource", &format!("{}/{format}", self.code))
    }

    pub fn has_data(&self) -> bool {
        self.source_version.is_some()
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}/open/dataset/{}", self.name)
    }

    pub fn download_url(&self, base: &str, format: &str) -> String {
        format!("{base}/open/dataset/{}/download.{format}", self.name)
    }

    fn resources_json(&self, base: &str) -> Vec<Json> {
        if !self.has_data() {
            return Vec::new();
        }
        FORMATS
            .iter()
            .enumerate()
            .map(|(i, (ext, fmt, mime))| {
                json!({
                    "id": self.resource_id(ext),
                    "package_id": self.id,
                    "name": format!("{} ({fmt})", self.title),
                    "description": format!("{}，{fmt} 格式下载", self.title),
                    "format": fmt,
                    "mimetype": mime,
                    "url": self.download_url(base, ext),
                    "url_type": Json::Null,
                    "state": "active",
                    "position": i,
                    "created": ckan_time(&self.created),
                    "last_modified": ckan_time(&self.modified),
                    "metadata_modified": ckan_time(&self.modified),
                    "datastore_active": *ext == "csv",
                    "size": Json::Null,
                    "hash": "",
                    "resource_type": Json::Null,
                    "cache_url": Json::Null,
                    "mimetype_inner": Json::Null,
                })
            })
            .collect()
    }

    pub fn organization_json(&self, base: &str) -> Json {
        json!({
            "id": stable_id("organization", &self.provider),
            "name": self.org_name,
            "title": self.provider_name,
            "type": "organization",
            "description": "",
            "image_url": "",
            "created": ckan_time(&self.created),
            "is_organization": true,
            "approval_status": "approved",
            "state": "active",
            "url": format!("{base}/open/org/{}", self.org_name),
        })
    }

    /// The package dict CKAN clients read (package_show, package_search results).
    pub fn to_ckan(&self, base: &str) -> Json {
        let tags: Vec<Json> = self
            .tags
            .iter()
            .map(|t| {
                json!({"id": stable_id("tag", t), "name": t, "display_name": t,
                       "state": "active", "vocabulary_id": Json::Null})
            })
            .collect();
        let resources = self.resources_json(base);
        json!({
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "notes": self.notes,
            "type": "dataset",
            "state": "active",
            "private": false,
            "isopen": self.access == OpenAccess::Public,
            "license_id": self.license_id(),
            "license_title": self.license_title(),
            "license_url": Json::Null,
            "url": self.url(base),
            "version": self.source_version.map(|v| v.to_string()),
            "author": self.provider_name,
            "author_email": Json::Null,
            "maintainer": self.provider_name,
            "maintainer_email": Json::Null,
            "owner_org": stable_id("organization", &self.provider),
            "organization": self.organization_json(base),
            "groups": [{
                "id": stable_id("group", &self.group.0),
                "name": self.group.0,
                "title": self.group.1,
                "display_name": self.group.1,
                "description": "",
                "image_display_url": "",
            }],
            "tags": tags,
            "num_tags": self.tags.len(),
            "resources": resources,
            "num_resources": resources.len(),
            "metadata_created": ckan_time(&self.created),
            "metadata_modified": ckan_time(&self.modified),
            "creator_user_id": Json::Null,
            "relationships_as_object": [],
            "relationships_as_subject": [],
            "extras": [
                {"key": "catalog_code", "value": self.code},
                {"key": "open_access", "value": self.access.code()},
                {"key": "open_conditions", "value": self.open_conditions},
                {"key": "update_cycle", "value": self.update_cycle.code()},
                {"key": "security_level", "value": self.level},
                {"key": "rows", "value": self.rows.to_string()},
            ],
            "tracking_summary": {"total": self.views, "recent": self.views},
            "num_downloads": self.downloads,
            "num_api_calls": self.api_calls,
        })
    }

    /// [`Package::to_ckan`] as JSON text, kept for the first base address it is asked for.
    pub fn to_ckan_text(&self, base: &str) -> Result<Box<RawValue>, serde_json::Error> {
        if let Some((b, text)) = self.rendered.get()
            && b == base
        {
            return Ok(text.clone());
        }
        let text = serde_json::value::to_raw_value(&self.to_ckan(base))?;
        // Only the first base is kept: a site answers under one address.
        let _ = self.rendered.set((base.to_string(), text.clone()));
        Ok(text)
    }

    pub fn license_id(&self) -> &'static str {
        match self.access {
            OpenAccess::Public => "cc-by",
            OpenAccess::Conditional => "other-closed",
        }
    }

    pub fn license_title(&self) -> &'static str {
        match self.access {
            OpenAccess::Public => "Creative Commons Attribution 4.0",
            OpenAccess::Conditional => "有条件开放（须经申请） / Conditional (on application)",
        }
    }

    pub(crate) fn resources_count(&self) -> usize {
        if self.has_data() { FORMATS.len() } else { 0 }
    }
}

/// A provider department on the portal (CKAN organization).
#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub code: String,
    pub name: String,
    pub title: String,
    pub id: String,
    pub package_count: usize,
}

/// A theme (CKAN group): the catalog classification's 项 under its 类.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub title: String,
    pub id: String,
    pub package_count: usize,
}
