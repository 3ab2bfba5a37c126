//! What one audit entry says, and how personal subjects are kept out of it.

use chrono::{FixedOffset, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use shuniu_types::identity::Actor;

/// A data access or an administrative action. Serialized as compact JSON in field order;
/// those bytes (prefixed by the entry's index) are the Merkle leaf, so the struct's field
/// order is part of the log format: append new optional fields at the end only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in Beijing time with milliseconds.
    pub at: String,
    pub kind: Kind,
    /// What happened, dotted: `data.preview`, `catalog.publish`, `auth.login` …
    pub action: String,
    /// Who: a user's login or `app:<id>`.
    pub principal: String,
    /// The actor's department code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub department: String,
    /// Where the call came in: console, api, cli, service (the unified data service).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// The resource (catalog code) concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The department that provides the resource (the other end of a data flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Anything else identifying the target (user, application, load id, version …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Keyed SM3 HMACs of the personal subjects (ID numbers) concerned, never the numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// `ok`, or the stable code of the refusal or error.
    pub result: String,
    /// SM3 of what was returned, when data left the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Free detail (a SQL text, a changed setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Data left a dataset: preview, query, lookup, export …
    Access,
    /// Data entered a dataset.
    Load,
    /// Catalog, identity, grant, rule or configuration change.
    Admin,
    /// Sign-in and sign-out.
    Auth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Load => "load",
            Kind::Admin => "admin",
            Kind::Auth => "auth",
        }
    }
}

pub fn beijing_now() -> String {
    let tz = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

impl Entry {
    /// An entry for `actor` doing `action`, now, succeeded; set the rest with the builders.
    pub fn new(kind: Kind, action: &str, actor: &Actor) -> Entry {
        Entry::by(kind, action, &actor.principal, &actor.department)
    }

    /// An entry for a principal known only by name and department (a load's record). The
    /// channel follows from the principal: `app:` → api, `cli` → cli, else console; the
    /// unified data service sets `service` itself.
    pub fn by(kind: Kind, action: &str, principal: &str, department: &str) -> Entry {
        let channel = if principal.starts_with("app:") {
            "api"
        } else if principal == "cli" {
            "cli"
        } else {
            "console"
        };
        Entry {
            at: beijing_now(),
            kind,
            action: action.into(),
            principal: principal.into(),
            department: department.into(),
            channel: channel.into(),
            resource: None,
            provider: None,
            target: None,
            fields: Vec::new(),
            rows: None,
            subjects: Vec::new(),
            purpose: None,
            legal_basis: None,
            grant: None,
            result: "ok".into(),
            digest: None,
            detail: None,
        }
    }

    pub fn channel(mut self, channel: &str) -> Entry {
        self.channel = channel.into();
        self
    }
    pub fn resource(mut self, code: &str, provider: &str) -> Entry {
        self.resource = Some(code.into());
        self.provider = Some(provider.into());
        self
    }
    pub fn target(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(target.into());
        self
    }
    pub fn fields(mut self, fields: Vec<String>) -> Entry {
        self.fields = fields;
        self
    }
    pub fn rows(mut self, rows: u64) -> Entry {
        self.rows = Some(rows);
        self
    }
    pub fn subjects(mut self, subjects: Vec<String>) -> Entry {
        self.subjects = subjects;
        self
    }
    pub fn purpose(mut self, purpose: Option<String>) -> Entry {
        self.purpose = purpose;
        self
    }
    pub fn legal_basis(mut self, basis: Option<String>) -> Entry {
        self.legal_basis = basis;
        self
    }
    pub fn grant(mut self, grant: Option<String>) -> Entry {
        self.grant = grant;
        self
    }
    pub fn result(mut self, result: &str) -> Entry {
        self.result = result.into();
        self
    }
    pub fn digest(mut self, digest: Option<String>) -> Entry {
        self.digest = digest;
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = Some(detail.into());
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a struct of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The key that turns an ID number into the subject index stored in the log:
/// `HMAC-SM3(key, number)`. Without the key the index reveals nothing; with it the hub can
/// answer "who used person X's data" for X (the citizen page) and nobody else.
#[derive(Clone)]
pub struct SubjectKey([u8; 32]);

type HmacSm3 = hmac::Hmac<sm3::Sm3>;

impl SubjectKey {
    pub fn from_bytes(bytes: [u8; 32]) -> SubjectKey {
        SubjectKey(bytes)
    }

    pub fn generate() -> Result<SubjectKey, getrandom::Error> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k)?;
        Ok(SubjectKey(k))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The subject index of an identifier (an ID number's canonical 18 characters).
    pub fn subject(&self, identifier: &str) -> String {
        let mut mac = <HmacSm3 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(identifier.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_index_is_keyed_and_deterministic() {
        // The HMAC-SM3 values themselves are checked against Python gmssl in e2e/.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
        let k = SubjectKey::from_bytes(key);
        let a = k.subject("abc");
        assert_eq!(a.len(), 64);
        assert_eq!(a, k.subject("abc"));
        assert_ne!(a, SubjectKey::from_bytes([9; 32]).subject("abc"));
    }

    #[test]
    fn entry_bytes_are_stable_and_skip_empty_fields() {
        let actor = Actor::local_operator();
        let mut e = Entry::new(Kind::Admin, "catalog.publish", &actor).target("R1");
        e.at = "2026-11-22T08:00:00.000+08:00".into();
        assert_eq!(
            String::from_utf8(e.to_bytes()).unwrap(),
            r#"{"at":"2026-11-22T08:00:00.000+08:00","kind":"admin","action":"catalog.publish","principal":"cli","channel":"cli","target":"R1","result":"ok"}"#
        );
        let back: Entry = serde_json::from_slice(&e.to_bytes()).unwrap();
        assert_eq!(back, e);
    }
}
