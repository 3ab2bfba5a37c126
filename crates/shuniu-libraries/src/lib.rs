//! Base libraries (基础库): the city's population library (人口库, keyed by citizen ID number)
//! and legal-entity library (法人库, keyed by unified social credit code), derived by the hub
//! from its departments' data.
//!
//! A library is a catalog resource of the hub like any other (so it is requested, granted,
//! looked up, masked and audited like any other); what makes it a library is a binding
//! (`base_libraries` in the control plane) and its derivation here:
//!
//! ```text
//! designations (一数一源, quality) ─┐
//! source datasets ── serving index ─┼─ plan ─▶ compose (per subject) ─▶ load_derived ─▶ lake
//!        change log (changed keys) ─┘          provenance, alternatives, conflicts
//! ```
//!
//! - Each attribute takes its value from the source the quality engine designates for it;
//!   other sources holding the attribute for the same key are kept as alternatives, and
//!   disagreements are counted per subject and named in its provenance. Without a
//!   designation, or when the designated source has no value, the first source in code
//!   order that has one is used, and the provenance says it is not authoritative.
//! - Every attribute's provenance names the resource, the dataset version and its load time.
//! - A build after the first reads only the keys the sources' change logs name since the
//!   versions it last reached, and upserts those subjects: a 1% change costs about 1% of the
//!   reading. A change of sources or of the library's items rebuilds in full.
//! - 15-digit ID numbers (GB 11643-1989) held by a source are upgraded; a source still keyed
//!   by the 15-digit form of a person's number is found under it.
//!
//! Invariants: every entry point asks `shuniu_policy::decide`; every source read is audited
//! (`library.derive`); the library is written only through the aggregation pipeline, so each
//! build is a load with its version, checks and history, and a failed build leaves the
//! previous version in place and the recorded source versions unchanged.

mod addresses;
mod compose;
mod error;
mod licences;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use shuniu_aggregate::{Aggregation, Producer};
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_catalog::{Catalog, Review};
use shuniu_ingest::source::{OwnedFields, SourceSummary};
use shuniu_ingest::{IngestError, RecordSink};
use shuniu_lake::WriteMode;
use shuniu_policy::{Action, Target, decide};
use shuniu_sharing::{ServingIndex, Sharing};
use shuniu_store::{BaseLibraryRow, ResourceRecord, Store};
use shuniu_types::catalog::{DataItem, DataItemInput, DataType, ResourceInput, ResourceStatus};
use shuniu_types::{Actor, Role, SemanticType};

pub use compose::{AttributePlan, Composed, SourceMeta, compose, legacy_id_form};
pub use error::LibraryError;

pub type Result<T, E = LibraryError> = std::result::Result<T, E>;

/// The library item holding each subject's provenance (JSON).
pub const PROVENANCE: &str = "provenance";
/// How many sources hold the subject.
pub const SOURCE_COUNT: &str = "source_count";
/// On how many attributes some source disagrees.
pub const CONFLICT_COUNT: &str = "conflict_count";
/// The legal-entity library's GB 11714 organization code, derived from the credit code: the
/// library is the crosswalk by which records keyed by it are found again.
pub const ORG_CODE: &str = "org_code";

/// Keys read and composed per round: one read snapshot per source and round.
pub(crate) const CHUNK: usize = 2_000;

/// Which library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LibraryKind {
    /// 人口库, keyed by citizen ID number.
    Population,
    /// 法人库, keyed by unified social credit code.
    LegalEntity,
    /// 地址库, keyed by standard address.
    Address,
    /// 电子证照库, keyed by licence identifier (GB/T 36904), found by holder.
    Licence,
}

impl LibraryKind {
    pub const ALL: [LibraryKind; 4] = [
        LibraryKind::Population,
        LibraryKind::LegalEntity,
        LibraryKind::Address,
        LibraryKind::Licence,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LibraryKind::Population => "population",
            LibraryKind::LegalEntity => "legal_entity",
            LibraryKind::Address => "address",
            LibraryKind::Licence => "licence",
        }
    }

    pub fn parse(s: &str) -> Option<LibraryKind> {
        match s.trim() {
            "population" | "person" | "人口库" | "人口" => Some(LibraryKind::Population),
            "legal_entity" | "enterprise" | "法人库" | "法人" => {
                Some(LibraryKind::LegalEntity)
            }
            "address" | "地址库" | "地址" => Some(LibraryKind::Address),
            "licence" | "license" | "证照库" | "电子证照库" | "证照" => {
                Some(LibraryKind::Licence)
            }
            _ => None,
        }
    }

    pub fn key_type(self) -> SemanticType {
        match self {
            LibraryKind::Population => SemanticType::IdNumber,
            LibraryKind::LegalEntity => SemanticType::CreditCode,
            LibraryKind::Address => SemanticType::Address,
            // A licence identifier has no semantic type of its own; the library is never
            // joined by key type (its holders are found by their ID number or credit code).
            LibraryKind::Licence => SemanticType::None,
        }
    }

    /// The library's key item.
    pub fn key_item(self) -> &'static str {
        match self {
            LibraryKind::Population => "id_number",
            LibraryKind::LegalEntity => "credit_code",
            LibraryKind::Address => "standard_address",
            LibraryKind::Licence => "licence_id",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            LibraryKind::Population => "人口基础信息库",
            LibraryKind::LegalEntity => "法人基础信息库",
            LibraryKind::Address => "标准地址库",
            LibraryKind::Licence => "电子证照库",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            LibraryKind::Population => "Population library",
            LibraryKind::LegalEntity => "Legal-entity library",
            LibraryKind::Address => "Address library",
            LibraryKind::Licence => "Licence library",
        }
    }
}

/// One attribute of a library as an officer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeView {
    pub name: String,
    pub label: String,
    /// The designated authoritative resource, if any, and its name.
    pub authoritative: Option<String>,
    pub authoritative_name: Option<String>,
    /// Every resource the attribute is read from, in order of preference.
    pub sources: Vec<String>,
}

/// A library: its binding, what its last build did, where each attribute comes from.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryView {
    pub code: String,
    pub kind: LibraryKind,
    pub name: String,
    pub key_type: String,
    pub built_at: Option<String>,
    pub last_build: serde_json::Value,
    /// The source versions the library has reached.
    pub sources: Vec<(String, i64)>,
    pub attributes: Vec<AttributeView>,
}

/// What a build did.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub library: String,
    /// `full`, `incremental`, or `unchanged` when no source moved.
    pub mode: String,
    /// Why a full build was chosen: `first_build`, `requested`, `items_or_sources_changed`,
    /// `sources_changed`.
    pub reason: String,
    /// Subjects whose rows were composed.
    pub subjects_composed: u64,
    pub rows_written: u64,
    pub rows_removed: u64,
    /// Composed subjects on which some source disagrees.
    pub subjects_in_conflict: u64,
    /// Source keys that are not a valid ID number or credit code, left out.
    pub keys_invalid: u64,
    /// Rows of sources keyed by an older identifier (organization code, registration number)
    /// that no subject of the library claims: a full build counts every such row, an
    /// incremental one the changed keys it could not join.
    #[serde(default)]
    pub alternate_keys_unjoined: u64,
    pub sources: Vec<SourceMeta>,
    /// The library's dataset version after the build.
    pub version: Option<i64>,
    pub seconds: f64,
    /// The address library: per source holding addresses, how many are in the library once
    /// normalized.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_match: Vec<addresses::AddressMatch>,
}

/// Where an attribute is read from: the designated resource (code, name), every source.
type SourcesOf = (Option<(String, String)>, Vec<String>);

/// A source as read for a build.
struct Source {
    meta: SourceMeta,
    provider: String,
    idx: Arc<ServingIndex>,
    key: usize,
    via: Via,
    /// The column holding a registration number (a crosswalk to sources keyed by it).
    registration: Option<usize>,
    /// Whether the index stores keys sealed (by keyed digest).
    sealed: bool,
    /// Rows found for subjects (audited per source).
    read: std::sync::atomic::AtomicU64,
}

/// Everything a build reads, settled before the blocking pass.
struct Plan {
    kind: LibraryKind,
    headers: Vec<String>,
    attributes: Vec<AttributePlan>,
    sources: Vec<Source>,
    with_source_count: bool,
    with_conflict_count: bool,
    with_org_code: bool,
    /// Items and sources: when it changes, a build starts over.
    signature: String,
}

#[derive(Clone)]
pub struct Libraries {
    store: Store,
    catalog: Catalog,
    aggregation: Aggregation,
    sharing: Sharing,
    audit: AuditLog,
    /// The licence engine the licence library is derived from (absent in a hub without one).
    licences: Option<shuniu_licences::Licences>,
    /// One build at a time in this process: builds of one library must not interleave.
    building: Arc<tokio::sync::Mutex<()>>,
}

fn reserved(name: &str) -> bool {
    matches!(name, PROVENANCE | SOURCE_COUNT | CONFLICT_COUNT | ORG_CODE)
}

/// How a source's rows are found for a library's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// By the library's own key (ID number, credit code).
    Key,
    /// By the organization code inside the subject's credit code.
    OrgCode,
    /// By a registration number a keyed source holds for the subject.
    RegistrationNumber,
}

/// How a resource's rows join a library, if they do: by the library's key, or (legal
/// entities) by an identifier from before the credit code.
fn via_of(kind: LibraryKind, rec: &ResourceRecord) -> Option<Via> {
    let key = &rec.spec.data_items[shuniu_sharing::key_item(&rec.spec.data_items)?];
    match (kind, key.semantic_type) {
        (k, t) if t == k.key_type() => Some(Via::Key),
        (LibraryKind::LegalEntity, SemanticType::OrgCode) => Some(Via::OrgCode),
        (LibraryKind::LegalEntity, SemanticType::RegistrationNumber) => {
            Some(Via::RegistrationNumber)
        }
        _ => None,
    }
}

/// An item the hub defines for a library (not copied from a source): not personal, not
/// sensitive, no semantic type.
pub(crate) fn plain_item(
    name: &str,
    label: &str,
    description: &str,
    data_type: DataType,
) -> DataItemInput {
    DataItemInput {
        name: name.into(),
        label: label.into(),
        data_type: data_type.code().into(),
        length: None,
        description: description.into(),
        is_key: false,
        required: false,
        personal: false,
        sensitive: false,
        masking: String::new(),
        semantic_type: String::new(),
    }
}

fn fits(source: &DataItem, library: &DataItem) -> bool {
    source.data_type == library.data_type
        && match (source.length, library.length) {
            (_, None) => true,
            (Some(s), Some(l)) => s <= l,
            (None, Some(_)) => false,
        }
}

impl Libraries {
    pub fn new(
        store: Store,
        catalog: Catalog,
        aggregation: Aggregation,
        sharing: Sharing,
        audit: AuditLog,
        licences: Option<shuniu_licences::Licences>,
    ) -> Libraries {
        Libraries {
            store,
            catalog,
            aggregation,
            sharing,
            audit,
            licences,
            building: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn allowed(actor: &Actor) -> Result<()> {
        decide(actor, Action::ManageLibraries, Target::Hub).map_err(LibraryError::Denied)
    }

    /// Binds a resource another system already keeps as a library (a city whose population
    /// library is the public-security bureau's own, loaded as it is): published, keyed by the
    /// kind's key type. The hub does not build it; it is read as loaded.
    pub async fn bind_existing(&self, actor: &Actor, code: &str, kind: LibraryKind) -> Result<()> {
        Self::allowed(actor)?;
        if !matches!(kind, LibraryKind::Population | LibraryKind::LegalEntity) {
            return Err(LibraryError::invalid(
                "LIBRARY_KIND",
                "只有人口库和法人库可以绑定现有资源",
                "only a population or legal-entity library can be bound to an existing resource",
            ));
        }
        let rec = self
            .store
            .resource(code)
            .await?
            .ok_or_else(|| LibraryError::NotFound(format!("resource {code}")))?;
        if rec.status != ResourceStatus::Published {
            return Err(LibraryError::invalid(
                "LIBRARY_NOT_PUBLISHED",
                format!("资源 {code} 尚未发布"),
                format!("resource {code} is not published"),
            ));
        }
        if !rec
            .spec
            .data_items
            .iter()
            .any(|i| i.is_key && i.semantic_type == kind.key_type())
        {
            return Err(LibraryError::invalid(
                "LIBRARY_KEY",
                format!("资源 {code} 的主键不是{}", kind.key_type().zh()),
                format!("resource {code} is not keyed by {}", kind.key_type().en()),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.bind_base_library(&BaseLibraryRow {
            code: rec.code.clone(),
            kind: kind.code().into(),
            key_type: kind.key_type().code().into(),
            bound_by: actor.principal.clone(),
            bound_at: shuniu_store::now(),
            built_at: None,
            last_build: serde_json::json!({"bound": "existing resource"}),
        })
        .await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(Kind::Admin, "library.bind", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(kind.code()),
            )
            .await?;
        Ok(())
    }

    /// The bound libraries, with where each attribute is read from.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<LibraryView>> {
        Self::allowed(actor)?;
        let mut out = Vec::new();
        for lib in self.store.base_libraries().await? {
            let Some(kind) = LibraryKind::parse(&lib.kind) else {
                continue;
            };
            let Some(rec) = self.store.resource(&lib.code).await? else {
                continue;
            };
            // The address library's attributes are an address's parts, not designated
            // attributes; its build reports each source's match rate instead.
            let plan = if matches!(kind, LibraryKind::Address | LibraryKind::Licence) {
                BTreeMap::new()
            } else {
                self.sources_of(kind, &rec).await?
            };
            let attributes = rec
                .spec
                .data_items
                .iter()
                .filter(|i| {
                    !i.is_key
                        && !reserved(&i.name)
                        && !matches!(kind, LibraryKind::Address | LibraryKind::Licence)
                })
                .map(|i| {
                    let (designated, sources) = plan.get(&i.name).cloned().unwrap_or_default();
                    let (authoritative, authoritative_name) = designated.unzip();
                    AttributeView {
                        name: i.name.clone(),
                        label: i.label.clone(),
                        authoritative,
                        authoritative_name,
                        sources,
                    }
                })
                .collect();
            out.push(LibraryView {
                sources: self.store.base_library_sources(&lib.code).await?,
                code: lib.code,
                kind,
                name: rec.spec.name,
                key_type: lib.key_type,
                built_at: lib.built_at,
                last_build: lib.last_build,
                attributes,
            });
        }
        Ok(out)
    }

    /// Where each attribute of a library would be read from now: (designated resource,
    /// every source in order). Reads no data.
    async fn sources_of(
        &self,
        kind: LibraryKind,
        rec: &ResourceRecord,
    ) -> Result<BTreeMap<String, SourcesOf>> {
        let candidates = self.candidates(kind, &rec.code).await?;
        let designations = self.designations(kind).await?;
        let mut out = BTreeMap::new();
        for item in rec
            .spec
            .data_items
            .iter()
            .filter(|i| !i.is_key && !reserved(&i.name))
        {
            let designated = designations.get(&item.name).and_then(|(code, column)| {
                candidates
                    .iter()
                    .find(|c| &c.code == code)
                    .filter(|c| c.spec.data_items.iter().any(|i| &i.name == column))
                    .map(|c| (c.code.clone(), c.spec.name.clone()))
            });
            let mut sources: Vec<String> = designated.iter().map(|d| d.0.clone()).collect();
            for c in &candidates {
                if Some(&c.code) != designated.as_ref().map(|d| &d.0)
                    && c.spec
                        .data_items
                        .iter()
                        .any(|i| i.name == item.name && fits(i, item))
                {
                    sources.push(c.code.clone());
                }
            }
            out.insert(item.name.clone(), (designated, sources));
        }
        Ok(out)
    }

    /// Published resources with a dataset whose rows are keyed by the library's key type (or,
    /// for legal entities, by an organization code or registration number), other than the
    /// libraries themselves, in code order.
    async fn candidates(&self, kind: LibraryKind, library: &str) -> Result<Vec<ResourceRecord>> {
        let libraries: BTreeSet<String> = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .map(|l| l.code)
            .chain([library.to_string()])
            .collect();
        let with_data: Vec<String> = self
            .store
            .latest_versions()
            .await?
            .into_iter()
            .map(|(c, _, _)| c)
            .filter(|c| !libraries.contains(c))
            .collect();
        let mut recs: Vec<ResourceRecord> = self
            .store
            .resources_by_code(&with_data)
            .await?
            .into_iter()
            .filter(|r| r.status == ResourceStatus::Published)
            .filter(|r| via_of(kind, r).is_some())
            .collect();
        recs.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(recs)
    }

    /// attribute → (designated resource, its column), for the library's key type.
    async fn designations(&self, kind: LibraryKind) -> Result<BTreeMap<String, (String, String)>> {
        Ok(self
            .store
            .authoritative_sources()
            .await?
            .into_iter()
            .filter(|d| d.key_type == kind.key_type().code())
            .map(|d| (d.attribute, (d.resource_code, d.column_name)))
            .collect())
    }

    /// Registers (or brings up to date) the catalog entry of a library from the attributes
    /// designated for its key type, publishes it and binds it. `provider` is the hub's
    /// department, which provides the library.
    pub async fn define(
        &self,
        actor: &Actor,
        kind: LibraryKind,
        provider: &str,
    ) -> Result<ResourceRecord> {
        Self::allowed(actor)?;
        if kind == LibraryKind::Address {
            return self.define_addresses(actor, provider).await;
        }
        if kind == LibraryKind::Licence {
            return self.define_licences(actor, provider).await;
        }
        let mut designations: Vec<_> = self
            .store
            .authoritative_sources()
            .await?
            .into_iter()
            .filter(|d| d.key_type == kind.key_type().code())
            .collect();
        // Each designated resource, read once.
        let codes: Vec<String> = designations
            .iter()
            .map(|d| d.resource_code.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let sources: BTreeMap<String, ResourceRecord> = self
            .store
            .resources_by_code(&codes)
            .await?
            .into_iter()
            .map(|r| (r.code.clone(), r))
            .collect();
        // The library's items in the order its sources list them.
        let mut position = BTreeMap::new();
        for d in &designations {
            if let Some(r) = sources.get(&d.resource_code) {
                let at = r
                    .spec
                    .data_items
                    .iter()
                    .position(|i| i.name == d.column_name)
                    .unwrap_or(usize::MAX);
                position.insert(d.attribute.clone(), (d.resource_code.clone(), at));
            }
        }
        designations.sort_by(|a, b| position.get(&a.attribute).cmp(&position.get(&b.attribute)));
        if designations.is_empty() {
            return Err(LibraryError::invalid(
                "LIBRARY_NO_DESIGNATIONS",
                format!(
                    "尚未为{}指定任何属性的权威数据源（一数一源），请先在“数据治理 → 权威数据源”中指定",
                    kind.key_type().zh()
                ),
                format!(
                    "no attribute keyed by {} has a designated authoritative source yet: designate them first (Quality → Authoritative sources)",
                    kind.key_type().en()
                ),
            ));
        }
        let mut items: Vec<DataItemInput> = Vec::new();
        let mut template: Option<ResourceRecord> = None;
        for d in &designations {
            let Some(src) = sources.get(&d.resource_code) else {
                continue;
            };
            if items.is_empty()
                && let Some(key) = src.spec.data_items.iter().find(|i| i.name == d.key_column)
            {
                let mut k = DataItemInput::from(key);
                k.name = kind.key_item().into();
                k.is_key = true;
                k.required = true;
                items.push(k);
            }
            if let Some(item) = src.spec.data_items.iter().find(|i| i.name == d.column_name)
                && !items.iter().any(|i| i.name == d.attribute)
            {
                let mut a = DataItemInput::from(item);
                a.name = d.attribute.clone();
                if !d.label.trim().is_empty() {
                    a.label = d.label.clone();
                }
                a.is_key = false;
                a.required = false;
                items.push(a);
            }
            template.get_or_insert_with(|| src.clone());
        }
        let template =
            template.ok_or_else(|| LibraryError::NotFound("designated source".into()))?;
        // Who the subject is belongs in the library even where no source is designated for
        // it: the first designated source's items of that kind, read from every source.
        // An enterprise's pre-2015 registration number is held too: records still keyed by
        // it are found through the library.
        let core: &[&str] = match kind {
            LibraryKind::Population => &["name", "sex", "birth_date"],
            LibraryKind::LegalEntity => &["ent_name", "legal_rep", "reg_no"],
            LibraryKind::Address | LibraryKind::Licence => &[],
        };
        let mut at = 1;
        for name in core {
            if items.iter().any(|i| i.name == *name) {
                continue;
            }
            if let Some(item) = std::iter::once(&template)
                .chain(sources.values())
                .find_map(|r| r.spec.data_items.iter().find(|i| i.name == *name))
            {
                let mut a = DataItemInput::from(item);
                a.is_key = false;
                a.required = false;
                items.insert(at.min(items.len()), a);
                at += 1;
            }
        }
        items.push(plain_item(
            PROVENANCE,
            "数据来源",
            "每个属性的来源资源、数据版本、汇聚时间、是否权威来源，以及其他来源的取值是否一致（JSON）",
            DataType::Memo,
        ));
        items.push(plain_item(
            SOURCE_COUNT,
            "来源资源数",
            "持有该主体数据的资源个数",
            DataType::Integer,
        ));
        items.push(plain_item(
            CONFLICT_COUNT,
            "不一致属性数",
            "存在来源间取值不一致的属性个数",
            DataType::Integer,
        ));
        if kind == LibraryKind::LegalEntity {
            let mut org = plain_item(
                ORG_CODE,
                "组织机构代码",
                "统一社会信用代码第 9–17 位（GB 32100、GB 11714），按组织机构代码登记的存量数据据此关联",
                DataType::Text,
            );
            org.length = Some(9);
            org.semantic_type = SemanticType::OrgCode.code().into();
            items.push(org);
        }
        let level = sources
            .values()
            .map(|r| r.spec.level)
            .fold(template.spec.level, std::cmp::max);
        let mut input = ResourceInput::from(&template.spec);
        input.name = kind.name_zh().into();
        input.provider = provider.to_string();
        input.summary = format!(
            "由城市数据中枢按“一数一源”从各部门数据汇聚生成的{}，每个属性取自指定的权威数据源并记录其来源、版本和汇聚时间，其他来源作为备选并标注不一致；随来源数据变更增量更新",
            kind.name_zh()
        );
        input.update_cycle = "realtime".into();
        input.level = level.code().into();
        input.related = designations
            .iter()
            .map(|d| d.resource_code.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        input.data_items = items;
        input.publish_date = None;
        self.publish_definition(actor, kind, &input).await
    }

    /// Registers or updates a library's catalog entry, publishes it and binds it. Audited.
    async fn publish_definition(
        &self,
        actor: &Actor,
        kind: LibraryKind,
        input: &ResourceInput,
    ) -> Result<ResourceRecord> {
        let input = input.clone();
        let bound = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .find(|l| l.kind == kind.code());
        let record = match bound {
            Some(lib) => {
                let current = self.catalog.get(actor, &lib.code).await?;
                let same = current
                    .spec
                    .data_items
                    .iter()
                    .map(|i| &i.name)
                    .eq(input.data_items.iter().map(|i| &i.name));
                if same {
                    current
                } else {
                    self.catalog.update(actor, &lib.code, &input, None).await?
                }
            }
            None => self.catalog.register(actor, &input).await?,
        };
        let record = match record.status {
            ResourceStatus::Published => record,
            ResourceStatus::Submitted => {
                self.catalog
                    .review(
                        actor,
                        &record.code,
                        Review::Publish,
                        "基础库 / base library",
                    )
                    .await?
            }
            _ => {
                self.catalog.submit(actor, &record.code).await?;
                self.catalog
                    .review(
                        actor,
                        &record.code,
                        Review::Publish,
                        "基础库 / base library",
                    )
                    .await?
            }
        };
        let mut tx = self.store.begin().await?;
        let existing = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .find(|l| l.code == record.code);
        tx.bind_base_library(&BaseLibraryRow {
            code: record.code.clone(),
            kind: kind.code().into(),
            key_type: kind.key_type().code().into(),
            bound_by: actor.principal.clone(),
            bound_at: shuniu_store::now(),
            built_at: existing.as_ref().and_then(|e| e.built_at.clone()),
            last_build: existing
                .map(|e| e.last_build)
                .unwrap_or_else(|| serde_json::json!({})),
        })
        .await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(Kind::Admin, "library.define", actor)
                    .resource(&record.code, &record.spec.provider)
                    .target(kind.code()),
            )
            .await?;
        Ok(record)
    }

    async fn plan(&self, lib: &BaseLibraryRow, kind: LibraryKind) -> Result<Plan> {
        let rec = self
            .store
            .resource(&lib.code)
            .await?
            .ok_or_else(|| LibraryError::NotFound(format!("resource {}", lib.code)))?;
        let items = &rec.spec.data_items;
        let key = items
            .iter()
            .find(|i| i.is_key)
            .or_else(|| items.iter().find(|i| i.semantic_type == kind.key_type()))
            .ok_or_else(|| {
                LibraryError::invalid(
                    "LIBRARY_KEY_MISSING",
                    format!("基础库 {} 没有主键信息项", lib.code),
                    format!("library {} has no key item", lib.code),
                )
            })?;
        let attributes_items: Vec<&DataItem> = items
            .iter()
            .filter(|i| i.name != key.name && !reserved(&i.name))
            .collect();
        let candidates = self.candidates(kind, &lib.code).await?;
        let designations = self.designations(kind).await?;
        let loaded = self.loaded().await?;
        let mut sources: Vec<Source> = Vec::new();
        let mut columns: Vec<BTreeMap<String, usize>> = Vec::new();
        let mut candidate_items: Vec<&ResourceRecord> = Vec::new();
        for c in &candidates {
            let known = loaded.get(&c.code).map(|(v, _)| *v);
            let Some(idx) = self.sharing.derivation_index(&c.code, known).await? else {
                continue;
            };
            let (Some(version), Some(layout)) = idx.current()? else {
                continue;
            };
            columns.push(
                layout
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i))
                    .collect(),
            );
            candidate_items.push(c);
            sources.push(Source {
                meta: SourceMeta {
                    code: c.code.clone(),
                    version,
                    loaded_at: loaded
                        .get(&c.code)
                        .map(|(_, at)| at.clone())
                        .unwrap_or_default(),
                },
                provider: c.spec.provider.clone(),
                key: layout.key,
                via: via_of(kind, c).unwrap_or(Via::Key),
                registration: c
                    .spec
                    .data_items
                    .iter()
                    .position(|i| i.semantic_type == SemanticType::RegistrationNumber)
                    .filter(|&i| i != layout.key),
                sealed: idx.key_sealed()?,
                idx,
                read: Default::default(),
            });
        }
        let mut attributes = Vec::new();
        for item in &attributes_items {
            let mut plan = AttributePlan {
                name: item.name.clone(),
                sensitive: item.sensitive,
                sources: Vec::new(),
                designated: false,
            };
            if let Some((code, column)) = designations.get(&item.name)
                && let Some(s) = sources.iter().position(|s| &s.meta.code == code)
                && let Some(&col) = columns[s].get(column)
            {
                plan.sources.push((s, col));
                plan.designated = true;
            }
            for (s, rec) in candidate_items.iter().enumerate() {
                if plan.sources.first().map(|f| f.0) == Some(s) {
                    continue;
                }
                if let Some(src_item) = rec.spec.data_items.iter().find(|i| i.name == item.name)
                    && fits(src_item, item)
                    && let Some(&col) = columns[s].get(&item.name)
                {
                    plan.sources.push((s, col));
                }
            }
            attributes.push(plan);
        }
        // Sources no attribute reads are left out (and not audited as read).
        let used: BTreeSet<usize> = attributes
            .iter()
            .flat_map(|a| a.sources.iter().map(|s| s.0))
            .collect();
        let renumber: BTreeMap<usize, usize> = used
            .iter()
            .enumerate()
            .map(|(new, &old)| (old, new))
            .collect();
        for a in &mut attributes {
            for s in &mut a.sources {
                s.0 = renumber[&s.0];
            }
        }
        let sources: Vec<Source> = sources
            .into_iter()
            .enumerate()
            .filter(|(i, _)| used.contains(i))
            .map(|(_, s)| s)
            .collect();
        let with_source_count = items.iter().any(|i| i.name == SOURCE_COUNT);
        let with_conflict_count = items.iter().any(|i| i.name == CONFLICT_COUNT);
        let mut headers = vec![key.name.clone()];
        headers.extend(attributes.iter().map(|a| a.name.clone()));
        let with_provenance = items.iter().any(|i| i.name == PROVENANCE);
        if !with_provenance {
            return Err(LibraryError::invalid(
                "LIBRARY_PROVENANCE_MISSING",
                format!("基础库 {} 缺少信息项 provenance（数据来源）", lib.code),
                format!("library {} has no provenance item", lib.code),
            ));
        }
        headers.push(PROVENANCE.into());
        if with_source_count {
            headers.push(SOURCE_COUNT.into());
        }
        if with_conflict_count {
            headers.push(CONFLICT_COUNT.into());
        }
        let with_org_code =
            kind == LibraryKind::LegalEntity && items.iter().any(|i| i.name == ORG_CODE);
        if with_org_code {
            headers.push(ORG_CODE.into());
        }
        let signature = format!(
            "{}|{}",
            headers.join(","),
            attributes
                .iter()
                .map(|a| a
                    .sources
                    .iter()
                    .map(|s| sources[s.0].meta.code.as_str())
                    .collect::<Vec<_>>()
                    .join("+"))
                .collect::<Vec<_>>()
                .join(",")
        );
        Ok(Plan {
            kind,
            headers,
            attributes,
            sources,
            with_source_count,
            with_conflict_count,
            with_org_code,
            signature,
        })
    }

    /// Builds a library: in full the first time, after a change of its sources or items, when
    /// `full` is asked for, or when most subjects changed; otherwise from the change logs.
    pub async fn build(&self, actor: &Actor, code: &str, full: bool) -> Result<BuildReport> {
        Self::allowed(actor)?;
        let _one = self.building.lock().await;
        let started = Instant::now();
        let lib = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .find(|l| l.code == code)
            .ok_or_else(|| LibraryError::NotFound(format!("base library {code}")))?;
        let kind = LibraryKind::parse(&lib.kind)
            .ok_or_else(|| LibraryError::Internal(format!("unknown library kind {}", lib.kind)))?;
        if kind == LibraryKind::Address {
            return self.build_addresses(actor, &lib, started).await;
        }
        if kind == LibraryKind::Licence {
            return self.build_licences(actor, &lib, started, full).await;
        }
        let plan = self.plan(&lib, kind).await?;
        if plan.sources.is_empty() {
            return Err(LibraryError::invalid(
                "LIBRARY_NO_SOURCES",
                format!("没有可供{}使用的已发布、已汇聚数据资源", kind.name_zh()),
                format!(
                    "no published dataset holds the {}'s attributes",
                    kind.name_en()
                ),
            ));
        }
        let reached: BTreeMap<String, i64> = self
            .store
            .base_library_sources(code)
            .await?
            .into_iter()
            .collect();
        let has_data = self.aggregation.current_version(code).await?.is_some();
        let same_sources = reached.len() == plan.sources.len()
            && plan
                .sources
                .iter()
                .all(|s| reached.contains_key(&s.meta.code));
        let reason = if full {
            Some("requested")
        } else if !has_data || reached.is_empty() {
            Some("first_build")
        } else if lib.last_build.get("signature").and_then(|s| s.as_str())
            != Some(plan.signature.as_str())
        {
            Some("items_or_sources_changed")
        } else if !same_sources {
            Some("sources_changed")
        } else {
            None
        };
        let plan = Arc::new(plan);
        let mut report = BuildReport {
            library: code.to_string(),
            mode: String::new(),
            reason: reason.unwrap_or_default().to_string(),
            subjects_composed: 0,
            rows_written: 0,
            rows_removed: 0,
            subjects_in_conflict: 0,
            keys_invalid: 0,
            alternate_keys_unjoined: 0,
            sources: plan.sources.iter().map(|s| s.meta.clone()).collect(),
            version: None,
            seconds: 0.0,
            address_match: Vec::new(),
        };
        let removed = Arc::new(Mutex::new(Vec::<String>::new()));
        let counters: Counters = Default::default();
        let mut wrote = None;
        let mut keys: Vec<String>;
        if reason.is_some() {
            report.mode = "full".into();
            let (p, c, legacy) = (plan.clone(), counters.clone(), removed.clone());
            let producer: Producer = Box::new(move |sink| full_pass(&p, sink, &c, &legacy));
            wrote = Some(
                self.load(
                    actor,
                    code,
                    WriteMode::Replace,
                    "基础库全量构建 / full build",
                    &plan,
                    producer,
                )
                .await?,
            );
            // Subjects some source holds under a 15-digit number: composed again under
            // every form.
            keys = std::mem::take(
                &mut *removed
                    .lock()
                    .map_err(|_| LibraryError::Internal("a build thread failed".into()))?,
            );
        } else {
            let mut seen = BTreeSet::new();
            for s in &plan.sources {
                let from = reached.get(&s.meta.code).copied().unwrap_or(0).max(0) as u64;
                if s.meta.version > from {
                    let src = s.idx.clone();
                    let changed = tokio::task::spawn_blocking(move || src.changed_keys(from))
                        .await
                        .map_err(|e| LibraryError::Internal(e.to_string()))??;
                    if s.via != Via::Key {
                        let (joined, invalid, unjoined) =
                            self.crosswalk(code, s.via, changed).await?;
                        seen.extend(joined);
                        counters
                            .2
                            .fetch_add(invalid, std::sync::atomic::Ordering::Relaxed);
                        report.alternate_keys_unjoined += unjoined;
                        continue;
                    }
                    for k in changed {
                        match library_key(kind, &k) {
                            Some(k) => {
                                seen.insert(k);
                            }
                            None => {
                                counters
                                    .2
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            keys = seen.into_iter().collect();
            report.mode = if keys.is_empty() {
                "unchanged"
            } else {
                "incremental"
            }
            .into();
        }
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            let (p, c, r) = (plan.clone(), counters.clone(), removed.clone());
            let producer: Producer = Box::new(move |sink| keyed_pass(&p, &keys, sink, &c, &r));
            match self
                .load(
                    actor,
                    code,
                    WriteMode::Upsert,
                    "基础库增量更新 / incremental update",
                    &plan,
                    producer,
                )
                .await
            {
                Ok(v) => {
                    wrote = Some(match wrote {
                        Some((_, rows)) => (v.0, rows + v.1),
                        None => v,
                    })
                }
                // Every changed subject is gone from every source: only removals.
                Err(LibraryError::Aggregate(e)) if e.code() == "NO_ROWS" => {}
                Err(e) => return Err(e),
            }
        }
        if let Some((version, rows)) = wrote {
            report.version = version;
            report.rows_written = rows;
        }
        let removed: Vec<String> = std::mem::take(
            &mut *removed
                .lock()
                .map_err(|_| LibraryError::Internal("a build thread failed".into()))?,
        );
        if !removed.is_empty() {
            report.rows_removed = removed.len() as u64;
            let producer: Producer = Box::new(move |sink| {
                for (i, k) in removed.iter().enumerate() {
                    sink.record(i as u64 + 1, &OwnedFields(vec![Some(k.clone())]))?;
                }
                Ok(derived_summary())
            });
            let headers = vec![plan.headers[0].clone()];
            let rec = self
                .aggregation
                .load_derived(
                    actor,
                    code,
                    WriteMode::Delete,
                    "基础库移除 / removals",
                    &headers,
                    producer,
                )
                .await?;
            report.version = rec.version.or(report.version);
        }
        if report.mode == "full" {
            // Every row of a source keyed by an older identifier that no subject claimed.
            for s in plan.sources.iter().filter(|s| s.via != Via::Key) {
                let read = s.read.load(std::sync::atomic::Ordering::Relaxed);
                report.alternate_keys_unjoined += s.idx.rows()?.saturating_sub(read);
            }
        }
        report.subjects_composed = counters.0.load(std::sync::atomic::Ordering::Relaxed);
        report.subjects_in_conflict = counters.1.load(std::sync::atomic::Ordering::Relaxed);
        report.keys_invalid = counters.2.load(std::sync::atomic::Ordering::Relaxed);
        report.seconds = started.elapsed().as_secs_f64();
        for s in &plan.sources {
            let rows = s.read.load(std::sync::atomic::Ordering::Relaxed);
            if rows == 0 {
                continue;
            }
            self.audit
                .record(
                    Entry::by(
                        Kind::Access,
                        "library.derive",
                        &actor.principal,
                        &actor.department,
                    )
                    .resource(&s.meta.code, &s.provider)
                    .target(code)
                    .fields(
                        plan.attributes
                            .iter()
                            .filter(|a| {
                                a.sources
                                    .iter()
                                    .any(|x| plan.sources[x.0].meta.code == s.meta.code)
                            })
                            .map(|a| a.name.clone())
                            .collect(),
                    )
                    .rows(rows),
                )
                .await?;
        }
        let mut build =
            serde_json::to_value(&report).map_err(|e| LibraryError::Internal(e.to_string()))?;
        build["signature"] = serde_json::json!(plan.signature);
        let reached: Vec<(String, i64)> = plan
            .sources
            .iter()
            .map(|s| (s.meta.code.clone(), s.meta.version as i64))
            .collect();
        let mut tx = self.store.begin().await?;
        tx.record_library_build(code, &shuniu_store::now(), &build, &reached)
            .await?;
        tx.commit().await?;
        tracing::info!(
            library = code,
            mode = report.mode,
            composed = report.subjects_composed,
            written = report.rows_written,
            removed = report.rows_removed,
            seconds = report.seconds,
            "base library built"
        );
        Ok(report)
    }

    /// The credit codes of the subjects that changed keys of a source keyed by an older
    /// identifier belong to, found in the library itself (its organization codes and
    /// registration numbers); with the counts of keys that are not valid identifiers and of
    /// those no subject claims.
    async fn crosswalk(
        &self,
        code: &str,
        via: Via,
        changed: Vec<String>,
    ) -> Result<(Vec<String>, u64, u64)> {
        let (mut joined, mut invalid, mut unjoined) = (Vec::new(), 0u64, 0u64);
        let loaded = self.aggregation.current_version(code).await?;
        let Some(idx) = self.sharing.derivation_index(code, loaded).await? else {
            return Ok((joined, 0, changed.len() as u64));
        };
        let (_, layout) = idx.current()?;
        let Some(layout) = layout else {
            return Ok((joined, 0, changed.len() as u64));
        };
        let key_col = layout.key;
        for k in changed {
            let canonical = match via {
                Via::OrgCode => k
                    .parse::<shuniu_types::OrgCode>()
                    .map(|o| o.as_str().to_string()),
                Via::RegistrationNumber => k
                    .parse::<shuniu_types::RegistrationNumber>()
                    .map(|r| r.as_str().to_string()),
                Via::Key => Ok(k),
            };
            let Ok(canonical) = canonical else {
                invalid += 1;
                continue;
            };
            let subjects: Vec<String> = idx
                .lookup(&canonical, 4)?
                .into_iter()
                .filter_map(|r| r.get(key_col).cloned().flatten())
                .collect();
            if subjects.is_empty() {
                unjoined += 1;
            }
            joined.extend(subjects);
        }
        Ok((joined, invalid, unjoined))
    }

    async fn load(
        &self,
        actor: &Actor,
        code: &str,
        mode: WriteMode,
        name: &str,
        plan: &Plan,
        producer: Producer,
    ) -> Result<(Option<i64>, u64)> {
        let rec = self
            .aggregation
            .load_derived(actor, code, mode, name, &plan.headers, producer)
            .await?;
        let rec = succeeded(rec)?;
        Ok((rec.version, rec.rows_accepted.max(0) as u64))
    }

    /// Builds every library one of whose sources is `code` (after a load of it), from the
    /// change logs. Libraries never feed each other.
    pub async fn after_commit(&self, code: &str) -> Result<Vec<BuildReport>> {
        let mut out = Vec::new();
        for lib in self.store.base_libraries().await? {
            if lib.code == code {
                continue;
            }
            let reads = self
                .store
                .base_library_sources(&lib.code)
                .await?
                .iter()
                .any(|(c, _)| c == code);
            if !reads {
                continue;
            }
            let Some(rec) = self.store.resource(&lib.code).await? else {
                continue;
            };
            let actor = Actor {
                principal: "system:libraries".into(),
                display_name: "基础库 / base libraries".into(),
                role: Role::HubOperator,
                department: rec.spec.provider.clone(),
            };
            out.push(self.build(&actor, &lib.code, false).await?);
        }
        Ok(out)
    }

    /// Follows committed loads and keeps the libraries up to date (the server runs this).
    pub fn follow_commits(
        &self,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match commits.recv().await {
                    Ok((code, _)) => {
                        if let Err(e) = me.after_commit(&code).await {
                            tracing::warn!(code, error = %e, "base library update failed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }
}

/// Resource code → its current load version and load time (the control plane's record).
pub(crate) type Loaded = BTreeMap<String, (i64, String)>;

impl Libraries {
    /// The audit entry of a build's read of one source (`library.derive`): which items of
    /// which resource went into which library.
    pub(crate) async fn audit_derive(
        &self,
        actor: &Actor,
        resource: &str,
        provider: &str,
        library: &str,
        fields: Vec<String>,
    ) -> Result<()> {
        self.audit
            .record(
                Entry::by(
                    Kind::Access,
                    "library.derive",
                    &actor.principal,
                    &actor.department,
                )
                .resource(resource, provider)
                .target(library)
                .fields(fields),
            )
            .await?;
        Ok(())
    }

    /// Every resource's current load version and load time, read once for a build.
    pub(crate) async fn loaded(&self) -> Result<Loaded> {
        Ok(self
            .store
            .latest_versions()
            .await?
            .into_iter()
            .map(|(c, v, at)| (c, (v, at)))
            .collect())
    }
}

/// A build's load, unless it failed (then the library keeps its previous version).
pub(crate) fn succeeded(rec: shuniu_store::LoadRecord) -> Result<shuniu_store::LoadRecord> {
    if rec.status != shuniu_types::states::LoadStatus::Succeeded {
        return Err(LibraryError::invalid(
            "LIBRARY_BUILD_FAILED",
            rec.error_zh.unwrap_or_else(|| "基础库构建失败".into()),
            rec.error_en
                .unwrap_or_else(|| "the library build failed".into()),
        ));
    }
    Ok(rec)
}

pub(crate) fn derived_summary() -> SourceSummary {
    SourceSummary {
        format: shuniu_ingest::FileFormat::Json,
        encoding: None,
        bytes: 0,
        sm3: String::new(),
    }
}

pub(crate) fn ingest_err(e: impl std::fmt::Display) -> IngestError {
    IngestError::Stopped(format!("reading a source's serving index: {e}"))
}

/// Fills `out[k][s]` with what source `s` (of `which`) holds for `keys[k]` (sorted,
/// unique), where nothing is filled yet; with `legacy`, a person is also looked for under
/// the 15-digit form of their number.
fn lookup_into(
    plan: &Plan,
    which: &[usize],
    keys: &[String],
    out: &mut [Held],
    legacy: bool,
) -> std::result::Result<(), IngestError> {
    let Some(first) = which.first() else {
        return Ok(());
    };
    // Each key's stored forms, computed once for every source: as text, and its keyed digest
    // (the same in every index sealed with the data key); and the 15-digit forms.
    let digest = |idx: &ServingIndex, k: &str| idx.digest_hex(k).unwrap_or_else(|| k.to_string());
    let any_sealed = which.iter().any(|&s| plan.sources[s].sealed);
    let probe = &plan.sources[*first].idx;
    let digests: Vec<String> = if any_sealed {
        keys.iter().map(|k| digest(probe, k)).collect()
    } else {
        Vec::new()
    };
    let olds: Vec<Option<(String, String)>> = if legacy && plan.kind == LibraryKind::Population {
        keys.iter()
            .map(|k| {
                legacy_id_form(k).map(|l| {
                    let d = if any_sealed {
                        digest(probe, &l)
                    } else {
                        String::new()
                    };
                    (l, d)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    for &s in which {
        let src = &plan.sources[s];
        let stored = |text: &str, sealed_form: &str| {
            if src.sealed {
                sealed_form.to_string()
            } else {
                text.to_string()
            }
        };
        let mut probes: Vec<(usize, String)> = (0..keys.len())
            .filter(|&i| out[i][s].is_none())
            .map(|i| {
                (
                    i,
                    stored(&keys[i], digests.get(i).map_or("", String::as_str)),
                )
            })
            .collect();
        if !olds.is_empty() {
            probes.extend(
                (0..keys.len())
                    .filter(|&i| out[i][s].is_none())
                    .filter_map(|i| olds[i].as_ref().map(|(l, d)| (i, stored(l, d)))),
            );
        }
        probe_source(src, s, probes, out)?;
    }
    Ok(())
}

/// Looks `probes` (subject, stored form) up in source `s` and keeps the first row found for
/// each subject; the rows found count as read from the source.
fn probe_source(
    src: &Source,
    s: usize,
    mut probes: Vec<(usize, String)>,
    out: &mut [Held],
) -> std::result::Result<(), IngestError> {
    // The B-tree is walked in order.
    probes.sort_by(|a, b| a.1.cmp(&b.1));
    let index_of: Vec<usize> = probes.iter().map(|p| p.0).collect();
    let (mut n, mut found) = (0usize, 0u64);
    src.idx
        .lookup_stored(probes.iter().map(|(_, f)| ("", f.clone())), |_, row| {
            let i = index_of[n];
            n += 1;
            if let Some(r) = row
                && out[i][s].is_none()
            {
                out[i][s] = Some(r);
                found += 1;
            }
            Ok(())
        })
        .map_err(ingest_err)?;
    src.read
        .fetch_add(found, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// What every source holds for each of `keys` (sorted, unique), under any form.
fn fetch(plan: &Plan, keys: &[String]) -> std::result::Result<Vec<Held>, IngestError> {
    let mut out = vec![vec![None; plan.sources.len()]; keys.len()];
    lookup_into(plan, &plan.keyed(), keys, &mut out, true)?;
    lookup_alternates(plan, keys, &mut out)?;
    Ok(out)
}

impl Plan {
    /// The sources keyed by the library's own key.
    fn keyed(&self) -> Vec<usize> {
        (0..self.sources.len())
            .filter(|&s| self.sources[s].via == Via::Key)
            .collect()
    }
}

/// Fills `out[k][s]` for the sources keyed by an older identifier: the organization code
/// inside `keys[k]` (in both spellings, `XXXXXXXXX` and `XXXXXXXX-X`), or the registration
/// numbers the keyed sources' rows in `out[k]` hold. The first row found is kept.
fn lookup_alternates(
    plan: &Plan,
    keys: &[String],
    out: &mut [Held],
) -> std::result::Result<(), IngestError> {
    for (s, src) in plan.sources.iter().enumerate() {
        if src.via == Via::Key {
            continue;
        }
        let mut probes: Vec<(usize, String)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match src.via {
                Via::OrgCode => {
                    if let Ok(c) = key.parse::<shuniu_types::CreditCode>() {
                        let org = c.org_code();
                        probes.push((i, org.as_str().to_string()));
                        probes.push((i, org.hyphenated()));
                    }
                }
                Via::RegistrationNumber => {
                    let mut numbers = BTreeSet::new();
                    for (d, held) in out[i].iter().enumerate() {
                        let (Some(row), Some(col)) = (held, plan.sources[d].registration) else {
                            continue;
                        };
                        if let Some(n) = row
                            .get(col)
                            .cloned()
                            .flatten()
                            .and_then(|v| v.parse::<shuniu_types::RegistrationNumber>().ok())
                        {
                            numbers.insert(n.as_str().to_string());
                        }
                    }
                    probes.extend(numbers.into_iter().map(|n| (i, n)));
                }
                Via::Key => {}
            }
        }
        if src.sealed {
            for p in &mut probes {
                if let Some(d) = src.idx.digest_hex(&p.1) {
                    p.1 = d;
                }
            }
        }
        probe_source(src, s, probes, out)?;
    }
    Ok(())
}

/// A row of a source's serving index, as text.
type Row = Vec<Option<String>>;
/// What each source holds for one subject.
type Held = Vec<Option<Row>>;

/// Subjects composed, subjects in conflict, keys that are not valid identifiers.
type Counters = (
    Arc<std::sync::atomic::AtomicU64>,
    Arc<std::sync::atomic::AtomicU64>,
    Arc<std::sync::atomic::AtomicU64>,
);

/// Composes and writes one subject; `false` when no source holds it.
fn write_one(
    plan: &Plan,
    key: &str,
    rows: &[Option<Vec<Option<String>>>],
    metas: &[SourceMeta],
    sink: &mut dyn RecordSink,
    line: &mut u64,
    counters: &Counters,
) -> std::result::Result<bool, IngestError> {
    let Some(c) = compose(rows, &plan.attributes, metas) else {
        return Ok(false);
    };
    counters
        .0
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if c.conflict_count > 0 {
        counters
            .1
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let mut fields = Vec::with_capacity(plan.headers.len());
    fields.push(Some(key.to_string()));
    fields.extend(c.values);
    fields.push(Some(c.provenance.to_string()));
    if plan.with_source_count {
        fields.push(Some(c.source_count.to_string()));
    }
    if plan.with_conflict_count {
        fields.push(Some(c.conflict_count.to_string()));
    }
    if plan.with_org_code {
        fields.push(
            key.parse::<shuniu_types::CreditCode>()
                .ok()
                .map(|c| c.org_code().as_str().to_string()),
        );
    }
    *line += 1;
    sink.record(*line, &OwnedFields(fields))?;
    Ok(true)
}

/// The key a library holds a subject under: a valid ID number (a 15-digit one upgraded) or
/// credit code; `None` for a key that is not one (a source's defect, left to its quality
/// report).
pub fn library_key(kind: LibraryKind, raw: &str) -> Option<String> {
    match kind {
        LibraryKind::Population => shuniu_types::IdNumber::parse_any(raw.trim())
            .ok()
            .map(|id| id.as_str().to_string()),
        LibraryKind::LegalEntity => raw
            .trim()
            .parse::<shuniu_types::CreditCode>()
            .ok()
            .map(|c| c.as_str().to_string()),
        LibraryKind::Address => addresses::standard_form(raw).map(|(standard, _)| standard),
        LibraryKind::Licence => raw
            .trim()
            .parse::<shuniu_types::licence::LicenceId>()
            .ok()
            .map(|id| id.to_string()),
    }
}

/// Every subject of every source, each once, in one streaming pass: the sources' rows merge
/// by storage key (a subject's rows sit under the same key in every index sealed alike), so
/// a subject's rows arrive together and nothing is looked up. Sources stored the other way
/// (sealed or not) are looked up per chunk, and the second group skips the subjects the
/// first holds. Subjects a source holds under a 15-digit number are returned, to be composed
/// again with every form (an upsert after this pass).
fn full_pass(
    plan: &Plan,
    sink: &mut dyn RecordSink,
    counters: &Counters,
    legacy: &Mutex<Vec<String>>,
) -> std::result::Result<SourceSummary, IngestError> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, VecDeque};
    let n = plan.sources.len();
    let keyed = plan.keyed();
    let groups: Vec<Vec<usize>> = [true, false]
        .iter()
        .map(|&sealed| {
            keyed
                .iter()
                .copied()
                .filter(|&i| plan.sources[i].sealed == sealed)
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect();
    let mut line = 0u64;
    let mut set_aside = Vec::new();
    for (gi, group) in groups.iter().enumerate() {
        let others: Vec<usize> = keyed
            .iter()
            .copied()
            .filter(|i| !group.contains(i))
            .collect();
        let earlier: Vec<usize> = groups[..gi].iter().flatten().copied().collect();
        let mut buffers: Vec<VecDeque<(String, Row)>> = vec![VecDeque::new(); group.len()];
        let mut exhausted = vec![false; group.len()];
        let mut heap = BinaryHeap::new();
        let refill = |m: usize,
                      buffers: &mut Vec<VecDeque<(String, Row)>>,
                      exhausted: &mut Vec<bool>,
                      after: Option<String>|
         -> std::result::Result<(), IngestError> {
            if buffers[m].is_empty() && !exhausted[m] {
                let page = plan.sources[group[m]]
                    .idx
                    .page(after.as_deref(), CHUNK)
                    .map_err(ingest_err)?;
                exhausted[m] = page.len() < CHUNK;
                buffers[m].extend(page);
            }
            Ok(())
        };
        for m in 0..group.len() {
            refill(m, &mut buffers, &mut exhausted, None)?;
            if let Some((k, _)) = buffers[m].front() {
                heap.push(Reverse((k.clone(), m)));
            }
        }
        let mut pending: Vec<(String, Held)> = Vec::new();
        while let Some(Reverse((skey, first))) = heap.pop() {
            let mut rows: Held = vec![None; n];
            let mut members = vec![first];
            while heap.peek().is_some_and(|Reverse((k, _))| *k == skey) {
                if let Some(Reverse((_, m))) = heap.pop() {
                    members.push(m);
                }
            }
            let mut raw = None;
            for m in members {
                if let Some((k, row)) = buffers[m].pop_front() {
                    let src = &plan.sources[group[m]];
                    raw = raw.or_else(|| row.get(src.key).cloned().flatten());
                    plan.sources[group[m]]
                        .read
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    rows[group[m]] = Some(row);
                    refill(m, &mut buffers, &mut exhausted, Some(k))?;
                }
                if let Some((k, _)) = buffers[m].front() {
                    heap.push(Reverse((k.clone(), m)));
                }
            }
            let Some(raw) = raw else { continue };
            let Some(key) = library_key(plan.kind, &raw) else {
                counters
                    .2
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            };
            if raw.trim().len() == 15 {
                set_aside.push(key);
                continue;
            }
            pending.push((key, rows));
            if pending.len() >= CHUNK {
                flush(
                    plan,
                    &mut pending,
                    &others,
                    &earlier,
                    sink,
                    &mut line,
                    counters,
                )?;
            }
        }
        flush(
            plan,
            &mut pending,
            &others,
            &earlier,
            sink,
            &mut line,
            counters,
        )?;
    }
    if let Ok(mut l) = legacy.lock() {
        l.extend(set_aside);
    }
    Ok(derived_summary())
}

/// Completes a chunk of merged subjects from the sources outside the group, leaves out the
/// subjects an earlier group wrote, composes and writes the rest.
fn flush(
    plan: &Plan,
    pending: &mut Vec<(String, Held)>,
    others: &[usize],
    earlier: &[usize],
    sink: &mut dyn RecordSink,
    line: &mut u64,
    counters: &Counters,
) -> std::result::Result<(), IngestError> {
    if pending.is_empty() {
        return Ok(());
    }
    pending.sort_by(|a, b| a.0.cmp(&b.0));
    pending.dedup_by(|b, a| {
        if a.0 != b.0 {
            return false;
        }
        for (x, y) in a.1.iter_mut().zip(b.1.iter_mut()) {
            if x.is_none() {
                *x = y.take();
            }
        }
        true
    });
    let keys: Vec<String> = pending.iter().map(|p| p.0.clone()).collect();
    let mut rows: Vec<Held> = pending.drain(..).map(|p| p.1).collect();
    if !others.is_empty() {
        lookup_into(plan, others, &keys, &mut rows, false)?;
    }
    lookup_alternates(plan, &keys, &mut rows)?;
    let metas: Vec<SourceMeta> = plan.sources.iter().map(|s| s.meta.clone()).collect();
    for (key, held) in keys.iter().zip(rows) {
        if earlier.iter().any(|&e| held[e].is_some()) {
            continue;
        }
        write_one(plan, key, &held, &metas, sink, line, counters)?;
    }
    Ok(())
}

/// The subjects named by the change logs (or set aside by a full pass), looked up in every
/// source under every form; those no source holds any more go to `removed`.
fn keyed_pass(
    plan: &Plan,
    keys: &[String],
    sink: &mut dyn RecordSink,
    counters: &Counters,
    removed: &Mutex<Vec<String>>,
) -> std::result::Result<SourceSummary, IngestError> {
    let mut line = 0u64;
    let mut gone = Vec::new();
    let metas: Vec<SourceMeta> = plan.sources.iter().map(|s| s.meta.clone()).collect();
    for chunk in keys.chunks(CHUNK) {
        let held = fetch(plan, chunk)?;
        for (key, rows) in chunk.iter().zip(held) {
            if !write_one(plan, key, &rows, &metas, sink, &mut line, counters)? {
                gone.push(key.clone());
            }
        }
    }
    if let Ok(mut r) = removed.lock() {
        r.extend(gone);
    }
    Ok(derived_summary())
}
