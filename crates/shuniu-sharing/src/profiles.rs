//! 一人一档、一企一档: one person's (or one enterprise's) records across every resource the
//! calling system may look up, with a timeline of the dated facts in them.
//!
//! A profile is a set of lookups, decided one resource at a time exactly as a lookup is: by the
//! caller's grant (or its own department's data), the policy module's decision on the lookup
//! service, the grant's row scope, masking, rate limit and quota. A resource the caller may not
//! look up does not exist for the profile. Every resource that discloses records writes its own
//! audit entry with the purpose the caller gave (else the purpose its grant was approved for)
//! and the person's subject digest, so each view appears on the citizen's own record; a view
//! that finds nothing is audited too.

use std::collections::BTreeSet;

use serde::Serialize;
use shuniu_audit::{Entry, Kind};
use shuniu_policy::grant::{CompiledGrant, Service};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{ResourceFilter, ResourceRecord};
use shuniu_types::{
    Actor, CategoryKind, CreditCode, DataType, IdNumber, ResourceStatus, SemanticType,
};

use crate::service::{FieldView, Served, field_views, record_of};
use crate::serving::Row;
use crate::{Caller, Result, Sharing, SharingError};

/// Whose profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Person(IdNumber),
    Enterprise(CreditCode),
}

impl Subject {
    /// An 18-digit ID number, or a 15-digit one upgraded (GB 11643-1989 → 1999).
    pub fn person(text: &str) -> Result<Subject> {
        IdNumber::parse_any(text)
            .map(Subject::Person)
            .map_err(|e| SharingError::Invalid {
                code: "PROFILE_ID_NUMBER",
                zh: format!("身份证号无效：{}", e.message_zh),
                en: format!("invalid ID number: {}", e.message_en),
            })
    }

    pub fn enterprise(text: &str) -> Result<Subject> {
        text.trim()
            .to_ascii_uppercase()
            .parse::<CreditCode>()
            .map(Subject::Enterprise)
            .map_err(|e| SharingError::Invalid {
                code: "PROFILE_CREDIT_CODE",
                zh: format!("统一社会信用代码无效：{}", e.message_zh),
                en: format!("invalid unified social credit code: {}", e.message_en),
            })
    }

    pub fn key(&self) -> &str {
        match self {
            Subject::Person(id) => id.as_str(),
            Subject::Enterprise(code) => code.as_str(),
        }
    }

    fn semantic(&self) -> SemanticType {
        match self {
            Subject::Person(_) => SemanticType::IdNumber,
            Subject::Enterprise(_) => SemanticType::CreditCode,
        }
    }

    /// The older identifiers a subject's records may be keyed by: an enterprise's GB 11714
    /// organization code (inside its credit code) and its pre-2015 registration number (held
    /// by the records that carry both).
    fn alternate_semantics(&self) -> &'static [SemanticType] {
        match self {
            Subject::Person(_) => &[],
            Subject::Enterprise(_) => &[SemanticType::OrgCode, SemanticType::RegistrationNumber],
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Subject::Person(_) => "person",
            Subject::Enterprise(_) => "enterprise",
        }
    }
}

/// One resource's records of the subject.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileSection {
    pub resource: String,
    pub name: String,
    pub provider: String,
    /// A base resource (基础信息资源: the population, legal-entity, address or licence
    /// library) rather than a department's or a theme's.
    pub base: bool,
    /// The dataset version the records come from.
    pub version: u64,
    /// The grant that allowed them (`own:CODE` for the caller's department's own data).
    pub grant: String,
    /// How the records were found: the resource's key, another item of the subject's type
    /// (an alternate key, e.g. the spouse's ID number in a marriage record), or record
    /// linkage (a keyless source's records the hub linked to the subject).
    pub matched_by: &'static str,
    pub fields: Vec<FieldView>,
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
    /// For records found by record linkage (`matched_by: "linkage"`): each record's match
    /// probability, in the order of `records`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_probabilities: Vec<f64>,
}

/// A dated fact from a record (a birth, a registration, a licence, a penalty …).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct LifeEvent {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// What happened, in Chinese: the resource's name and the item's label.
    pub event: String,
    pub resource: String,
    pub item: String,
}

/// A link the hub's record linkage made: this record of a keyless resource is this subject's.
#[derive(Debug, Clone)]
pub struct RecordLink {
    pub record_key: String,
    pub subject: Subject,
    pub match_probability: f64,
}

/// Who is viewing, why, and whose record each disclosure lands on.
struct View<'a> {
    caller: &'a Caller,
    /// The console officer viewing through one of their department's systems' grants.
    officer: Option<&'a Actor>,
    purpose: Option<&'a str>,
    subjects: &'a [String],
}

/// A profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// `person` or `enterprise`.
    pub subject_type: &'static str,
    /// The ID number (upgraded to 18 digits) or credit code.
    pub key: String,
    /// The purpose the caller gave, if any (each section was otherwise viewed under its
    /// grant's approved purpose).
    pub purpose: Option<String>,
    /// Base libraries first, then by resource code.
    pub sections: Vec<ProfileSection>,
    /// Every dated fact of every section, oldest first.
    pub timeline: Vec<LifeEvent>,
    /// How many resources the caller may look up that hold this kind of subject.
    pub resources_consulted: usize,
}

const MAX_PURPOSE_CHARS: usize = 200;

impl Sharing {
    /// The subject's profile as this system may see it, for the purpose given.
    pub async fn profile(
        &self,
        caller: &Caller,
        subject: &Subject,
        purpose: Option<&str>,
    ) -> Result<Profile> {
        self.profile_as(caller, None, subject, purpose).await
    }

    /// The systems through whose grants a console officer may view profiles: their own
    /// department's applications (for data officers and the hub's operators).
    pub async fn profile_systems(&self, actor: &Actor) -> Result<Vec<Caller>> {
        Ok(self
            .inner
            .store
            .applications()
            .await?
            .into_iter()
            .filter(|a| a.revoked_at.is_none())
            .filter(|a| {
                decide(
                    actor,
                    Action::ViewProfile,
                    Target::SharingOf {
                        department: &a.department_code,
                    },
                )
                .is_ok()
            })
            .map(|a| Caller {
                application: a.id,
                name: a.name,
                department: a.department_code,
                role: a.role,
            })
            .collect())
    }

    /// A profile viewed in the console by an officer, through the grants of one of their
    /// department's systems, for a purpose they must state. Audited as the officer's view.
    pub async fn officer_profile(
        &self,
        actor: &Actor,
        application: &str,
        subject: &Subject,
        purpose: &str,
    ) -> Result<Profile> {
        let caller = self
            .profile_systems(actor)
            .await?
            .into_iter()
            .find(|c| c.application == application)
            .ok_or_else(|| {
                SharingError::Denied(shuniu_policy::Denied::new(
                    "PROFILE_SYSTEM",
                    "只能通过本部门的业务系统及其授权查看档案",
                    "profiles are viewed through one of your own department's systems and its grants",
                ))
            })?;
        if purpose.trim().is_empty() {
            return Err(SharingError::Invalid {
                code: "PROFILE_PURPOSE",
                zh: "请填写查看事由".into(),
                en: "state the purpose of the view".into(),
            });
        }
        self.profile_as(&caller, Some(actor), subject, Some(purpose))
            .await
    }

    async fn profile_as(
        &self,
        caller: &Caller,
        officer: Option<&Actor>,
        subject: &Subject,
        purpose: Option<&str>,
    ) -> Result<Profile> {
        let purpose = purpose.map(str::trim).filter(|p| !p.is_empty());
        if purpose.is_some_and(|p| p.chars().count() > MAX_PURPOSE_CHARS) {
            return Err(SharingError::Invalid {
                code: "PROFILE_PURPOSE",
                zh: format!("查看事由不超过 {MAX_PURPOSE_CHARS} 个字"),
                en: format!("the purpose is at most {MAX_PURPOSE_CHARS} characters"),
            });
        }
        let mut items: std::collections::HashMap<String, Vec<shuniu_types::DataItem>> =
            Default::default();
        let key = subject.key().to_string();
        let subjects = match subject {
            Subject::Person(id) => vec![self.inner.audit.subject(id.as_str())],
            Subject::Enterprise(_) => Vec::new(),
        };
        let view = View {
            caller,
            officer,
            purpose,
            subjects: &subjects,
        };
        let mut sections = Vec::new();
        let mut consulted = 0;
        let mut resources = self
            .profile_resources(caller, subject.semantic(), subject.alternate_semantics())
            .await?;
        // Resources holding the subject's own identifier first: their rows name the older
        // identifiers (registration numbers) the others are keyed by.
        let holds = |rec: &ResourceRecord, t: SemanticType| {
            rec.spec.data_items.iter().any(|i| i.semantic_type == t)
        };
        resources.sort_by_key(|r| !holds(r, subject.semantic()));
        let mut older: BTreeSet<String> = BTreeSet::new();
        if let Subject::Enterprise(code) = subject {
            let org = code.org_code();
            older.insert(org.as_str().to_string());
            older.insert(org.hyphenated());
        }
        for rec in resources {
            let Some((grant, served)) = self.profile_grant(caller, &rec)? else {
                continue;
            };
            consulted += 1;
            let direct = holds(&rec, subject.semantic());
            let mut rows: Vec<Row> = Vec::new();
            if direct {
                rows = served.lookup(&key)?;
            } else {
                for probe in &older {
                    for r in served.lookup(probe)? {
                        if !rows.contains(&r) {
                            rows.push(r);
                        }
                    }
                }
            }
            let rows: Vec<Row> = rows.into_iter().filter(|r| grant.in_scope(r)).collect();
            for (c, item) in rec.spec.data_items.iter().enumerate() {
                if item.semantic_type == SemanticType::RegistrationNumber {
                    older.extend(
                        rows.iter()
                            .filter_map(|r| r.get(c).cloned().flatten())
                            .filter_map(|v| v.parse::<shuniu_types::RegistrationNumber>().ok())
                            .map(|v| v.as_str().to_string()),
                    );
                }
            }
            let key_col = crate::key_item(&rec.spec.data_items);
            let by_key = direct
                && key_col.is_some_and(|k| {
                    rows.iter()
                        .any(|r| r.get(k).cloned().flatten().as_deref() == Some(key.as_str()))
                });
            let matched_by = if by_key { "key" } else { "alternate_key" };
            if let Some(section) = self
                .disclose(&view, &rec, &grant, &served, rows, matched_by, Vec::new())
                .await?
            {
                items.insert(rec.code.clone(), rec.spec.data_items.clone());
                sections.push(section);
            }
        }
        // Records of keyless sources that the hub's record linkage tied to this subject.
        let links = self
            .inner
            .store
            .links_of(subject.kind(), &self.link_digest(subject))
            .await?;
        let mut by_resource: std::collections::BTreeMap<&str, Vec<&shuniu_store::RecordLinkRow>> =
            Default::default();
        for l in &links {
            by_resource.entry(&l.resource_code).or_default().push(l);
        }
        for (code, links) in by_resource {
            if sections.iter().any(|s| s.resource == code) {
                continue;
            }
            let rec = match self.inner.directory.resource(code).await {
                Ok(r) => r,
                Err(SharingError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            if rec.status != ResourceStatus::Published {
                continue;
            }
            let Some((grant, served)) = self.profile_grant(caller, &rec)? else {
                continue;
            };
            consulted += 1;
            let (mut rows, mut probabilities) = (Vec::new(), Vec::new());
            for l in links {
                for r in served.lookup(&l.record_key)? {
                    if grant.in_scope(&r) {
                        rows.push(r);
                        probabilities.push(l.match_probability);
                    }
                }
            }
            if let Some(section) = self
                .disclose(&view, &rec, &grant, &served, rows, "linkage", probabilities)
                .await?
            {
                items.insert(rec.code.clone(), rec.spec.data_items.clone());
                sections.push(section);
            }
        }
        if sections.is_empty() {
            // Looking someone up is a use of their data even when nothing is found.
            self.inner
                .audit
                .record(
                    profile_entry(&view)
                        .target(subject.kind())
                        .subjects(subjects.clone())
                        .purpose(purpose.map(str::to_string))
                        .result("not_found"),
                )
                .await?;
        }
        sections.sort_by(|a, b| b.base.cmp(&a.base).then(a.resource.cmp(&b.resource)));
        let timeline = timeline(subject, &sections, |code| items.get(code).cloned());
        Ok(Profile {
            subject_type: subject.kind(),
            key,
            purpose: purpose.map(str::to_string),
            sections,
            timeline,
            resources_consulted: consulted,
        })
    }

    /// The grant under which the caller may look records of this resource up, and the
    /// resource's served version; `None` when it may not (the resource then does not exist for
    /// the profile) or nothing is served yet.
    fn profile_grant(
        &self,
        caller: &Caller,
        rec: &ResourceRecord,
    ) -> Result<Option<(std::sync::Arc<CompiledGrant>, Served)>> {
        let (grant, decision) = self.decide_call(caller, rec, Service::Lookup)?;
        let (Some(grant), Ok(())) = (grant, decision) else {
            return Ok(None);
        };
        self.inner.directory.admit(&grant, 0)?;
        match self.served(rec) {
            Ok(s) => Ok(Some((grant, s))),
            Err(SharingError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Shapes the rows found in one resource into a section, counted against the grant's row
    /// quota and audited with the view's purpose; `None` when nothing was found.
    #[allow(clippy::too_many_arguments)]
    async fn disclose(
        &self,
        view: &View<'_>,
        rec: &ResourceRecord,
        grant: &CompiledGrant,
        served: &Served,
        rows: Vec<Row>,
        matched_by: &'static str,
        link_probabilities: Vec<f64>,
    ) -> Result<Option<ProfileSection>> {
        if rows.is_empty() {
            return Ok(None);
        }
        let n = rows.len() as u64;
        self.inner.directory.admit_rows(grant, n)?;
        let records: Vec<_> = rows
            .iter()
            .filter_map(|r| grant.project(r, &self.inner.masking_key))
            .map(|shaped| record_of(grant, shaped))
            .collect();
        self.inner
            .audit
            .record(
                profile_entry(view)
                    .resource(&rec.code, &rec.spec.provider)
                    .rows(n)
                    .subjects(view.subjects.to_vec())
                    .fields(grant.fields.iter().map(|f| f.name.clone()).collect())
                    .purpose(Some(
                        view.purpose
                            .map_or_else(|| grant.purpose.clone(), str::to_string),
                    ))
                    .grant(Some(grant.id.clone()))
                    .result("ok"),
            )
            .await?;
        Ok(Some(ProfileSection {
            resource: rec.code.clone(),
            name: rec.spec.name.clone(),
            provider: rec.spec.provider.clone(),
            base: rec.spec.classification.kind == CategoryKind::Base,
            version: served.version,
            grant: grant.id.clone(),
            matched_by,
            fields: field_views(grant),
            records,
            link_probabilities,
        }))
    }

    /// The keyed digest a subject's links are stored under (never the number itself).
    pub(crate) fn link_digest(&self, subject: &Subject) -> String {
        self.inner
            .audit
            .subject(&format!("{}:{}", subject.kind(), subject.key()))
    }

    /// Replaces the linkage model's links of a keyless resource with a new run's (the hub, after
    /// linking the resource to a base library); links a reviewer decided stay. Audited.
    pub async fn replace_record_links(
        &self,
        actor: &Actor,
        code: &str,
        links: &[RecordLink],
    ) -> Result<usize> {
        decide(actor, Action::ManageSharing, Target::Hub)?;
        let rec = self.inner.directory.resource(code).await?;
        let rows: Vec<shuniu_store::RecordLinkRow> = links
            .iter()
            .map(|l| shuniu_store::RecordLinkRow {
                resource_code: rec.code.clone(),
                record_key: l.record_key.clone(),
                subject_type: l.subject.kind().to_string(),
                subject_digest: self.link_digest(&l.subject),
                match_probability: l.match_probability,
                decided_by: "model".into(),
                linked_at: String::new(),
            })
            .collect();
        let mut tx = self.inner.store.begin().await?;
        tx.replace_model_links(&rec.code, &rows).await?;
        tx.commit().await?;
        self.inner
            .audit
            .record(
                Entry::new(Kind::Admin, "linkage.links", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .rows(rows.len() as u64),
            )
            .await?;
        Ok(rows.len())
    }

    /// The codes of a department's published resources, at most a second old.
    async fn own_resources(&self, department: &str) -> Result<std::sync::Arc<Vec<String>>> {
        if let Some((at, codes)) = self.inner.own_resources.lock().get(department)
            && at.elapsed() < std::time::Duration::from_secs(1)
        {
            return Ok(codes.clone());
        }
        let own = ResourceFilter {
            statuses: vec![ResourceStatus::Published],
            provider: Some(department.to_string()),
            ..Default::default()
        };
        let (_, mine) = self.inner.store.resources(&own, 0, 10_000).await?;
        let codes = std::sync::Arc::new(mine.into_iter().map(|r| r.code).collect::<Vec<_>>());
        self.inner.own_resources.lock().insert(
            department.to_string(),
            (std::time::Instant::now(), codes.clone()),
        );
        Ok(codes)
    }

    /// Published resources the caller holds an active grant on, or that its department
    /// provides, holding an item of the subject's type or of an older identifier's; in code
    /// order.
    async fn profile_resources(
        &self,
        caller: &Caller,
        semantic: SemanticType,
        alternates: &[SemanticType],
    ) -> Result<Vec<std::sync::Arc<ResourceRecord>>> {
        let mut codes: BTreeSet<String> = self
            .inner
            .directory
            .grants_of(&caller.application)
            .into_iter()
            .filter(|g| g.state.is_active())
            .map(|g| g.resource_code)
            .collect();
        codes.extend(
            self.own_resources(&caller.department)
                .await?
                .iter()
                .cloned(),
        );
        let mut out = Vec::new();
        for code in codes {
            let rec = match self.inner.directory.resource(&code).await {
                Ok(r) => r,
                Err(SharingError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            if rec.status == ResourceStatus::Published
                && rec
                    .spec
                    .data_items
                    .iter()
                    .any(|i| i.semantic_type == semantic || alternates.contains(&i.semantic_type))
            {
                out.push(rec);
            }
        }
        Ok(out)
    }
}

/// The audit entry of a profile view by this caller (or by an officer in the console through
/// its grants), before what it disclosed.
fn profile_entry(view: &View<'_>) -> Entry {
    match view.officer {
        Some(officer) => Entry::new(Kind::Access, "service.profile", officer)
            .channel("console")
            .detail(format!(
                "{} ({})",
                view.caller.principal(),
                view.caller.name
            )),
        None => Entry::by(
            Kind::Access,
            "service.profile",
            &view.caller.principal(),
            &view.caller.department,
        )
        .channel("service"),
    }
}

/// A date from a record's value as the lake renders it (`2020-05-01`, `2020-05-01 08:00:00`,
/// `2020-05-01T08:00:00Z`); masked or partial values are not dates.
fn date_of(value: &str) -> Option<String> {
    let d = value.get(..10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// The dated facts of the sections, oldest first: the birth in the ID number, then every date
/// or date-time item each record shows.
fn timeline(
    subject: &Subject,
    sections: &[ProfileSection],
    items_of: impl Fn(&str) -> Option<Vec<shuniu_types::DataItem>>,
) -> Vec<LifeEvent> {
    let mut events = BTreeSet::new();
    if let Subject::Person(id) = subject {
        events.insert(LifeEvent {
            date: id.birth_date().format("%Y-%m-%d").to_string(),
            event: "出生（据身份证号）".into(),
            resource: String::new(),
            item: String::new(),
        });
    }
    for s in sections {
        let items = items_of(&s.resource).unwrap_or_default();
        for f in &s.fields {
            let Some(item) = items.iter().find(|i| i.name == f.name) else {
                continue;
            };
            if !matches!(item.data_type, DataType::Date | DataType::DateTime) {
                continue;
            }
            // A person's birth comes once, from the ID number, not again from every record
            // that repeats the birth date.
            if matches!(subject, Subject::Person(_)) && item.label.contains("出生日期") {
                continue;
            }
            for r in &s.records {
                if let Some(date) = r.get(&f.name).and_then(|v| v.as_str()).and_then(date_of) {
                    events.insert(LifeEvent {
                        date,
                        event: format!("{} · {}", s.name, item.label),
                        resource: s.resource.clone(),
                        item: f.name.clone(),
                    });
                }
            }
        }
    }
    events.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_parsed_at_the_edge() {
        let p = Subject::person(" 110105491231002 ").expect("a 15-digit number is upgraded");
        assert_eq!(p.key(), "11010519491231002X");
        assert!(matches!(
            Subject::person("110105194912310021"),
            Err(SharingError::Invalid {
                code: "PROFILE_ID_NUMBER",
                ..
            })
        ));
        assert!(matches!(
            Subject::enterprise("not a code"),
            Err(SharingError::Invalid {
                code: "PROFILE_CREDIT_CODE",
                ..
            })
        ));
    }

    #[test]
    fn dates_are_read_from_rendered_values_only() {
        assert_eq!(date_of("2020-05-01").as_deref(), Some("2020-05-01"));
        assert_eq!(
            date_of("2020-05-01 08:00:00").as_deref(),
            Some("2020-05-01")
        );
        assert_eq!(date_of("2020-**-**"), None);
        assert_eq!(date_of("2020"), None);
    }
}
