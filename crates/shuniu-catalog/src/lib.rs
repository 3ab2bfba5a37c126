//! The data resource catalog (数据资源目录): registration, the draft → submitted → published
//! lifecycle with review, versioned history, the negative list, the three lists (汇聚清单,
//! 共享清单, 开放清单), Chinese full-text search with facets, and Excel import/export in the
//! one-row-per-data-item layout departments already use.
//!
//! Every operation takes the acting [`Actor`] and asks `shuniu-policy` before it reads or
//! writes; the console, the API and the CLI all call this crate, never the store directly.
//!
//! Architecture invariant: no HTTP and no templates here. Writes go through one store
//! transaction each, and the search index is updated after the commit, before returning.

use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_policy::{Action, Denied, Scope, Target, decide};
use shuniu_search::{CatalogIndex, IndexedResource, SearchRequest, Visibility};
use shuniu_store::{Department, HistoryEntry, ResourceFilter, ResourceRecord, Store, StoreError};
use shuniu_types::{
    Actor, Classified, CodeFormat, ErrorKind, FieldError, Problem, ResourceInput, ResourceSpec,
    ResourceStatus, ShareType,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub mod excel;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid metadata: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error("no resource with code {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] shuniu_search::SearchError),
    #[error("the file cannot be read as a workbook: {0}")]
    Workbook(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Audit(#[from] shuniu_audit::AuditError),
}

impl CatalogError {
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::Invalid(_) => "VALIDATION_FAILED",
            CatalogError::Denied(d) => d.code,
            CatalogError::NotFound(_) => "NOT_FOUND",
            CatalogError::Store(e) => e.code(),
            CatalogError::Search(e) => e.code(),
            CatalogError::Workbook(_) => "WORKBOOK_UNREADABLE",
            CatalogError::Internal(_) => "INTERNAL",
            CatalogError::Audit(e) => e.code(),
        }
    }
    fn invalid(
        field: &str,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> CatalogError {
        CatalogError::Invalid(vec![FieldError::new(field, code, zh, en)])
    }
}

impl Classified for CatalogError {
    fn problem(&self) -> Problem {
        match self {
            CatalogError::Invalid(errors) => Problem::invalid_fields(errors),
            CatalogError::Denied(d) => d.problem(),
            CatalogError::NotFound(code) => Problem::new(
                ErrorKind::NotFound,
                self.code(),
                format!("资源 {code} 不存在"),
                format!("no resource with code {code}"),
            ),
            CatalogError::Store(e) => e.problem(),
            CatalogError::Search(e) => e.problem(),
            CatalogError::Workbook(detail) => Problem::new(
                ErrorKind::Invalid,
                self.code(),
                format!("无法读取该 Excel 文件：{detail}"),
                format!("the file cannot be read as an Excel workbook: {detail}"),
            ),
            CatalogError::Internal(detail) => Problem::internal(self.code(), detail),
            CatalogError::Audit(e) => e.problem(),
        }
    }
}

impl From<Denied> for CatalogError {
    fn from(d: Denied) -> Self {
        CatalogError::Denied(d)
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The three catalog views of the 2021 work plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// 汇聚清单: every published resource the hub aggregates.
    Aggregation,
    /// 共享清单: published resources that may be shared (unconditionally or on conditions).
    Sharing,
    /// 开放清单: published resources that may be opened to the public.
    Open,
}

impl ListKind {
    pub fn parse(s: &str) -> Option<ListKind> {
        match s {
            "aggregation" | "汇聚清单" => Some(ListKind::Aggregation),
            "sharing" | "共享清单" => Some(ListKind::Sharing),
            "open" | "开放清单" => Some(ListKind::Open),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            ListKind::Aggregation => "aggregation",
            ListKind::Sharing => "sharing",
            ListKind::Open => "open",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            ListKind::Aggregation => "汇聚清单",
            ListKind::Sharing => "共享清单",
            ListKind::Open => "开放清单",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            ListKind::Aggregation => "Aggregation list",
            ListKind::Sharing => "Sharing list",
            ListKind::Open => "Open list",
        }
    }
}

/// A page of search results with facet counts.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub total: usize,
    pub items: Vec<ResourceRecord>,
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
}

#[derive(Debug, Clone, Default)]
pub struct SearchParams {
    pub text: String,
    pub filters: BTreeMap<String, String>,
    pub offset: usize,
    pub limit: usize,
}

/// Review decision of the hub operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    Publish,
    Return,
}

#[derive(Clone)]
pub struct Catalog {
    store: Store,
    index: Arc<CatalogIndex>,
    code_format: Arc<CodeFormat>,
    /// What the index holds of each entry (its version stamp), and when the store was last
    /// read for changes: other server processes sharing the control plane write too.
    indexed: Arc<std::sync::Mutex<Indexed>>,
    audit: AuditLog,
}

#[derive(Default)]
struct Indexed {
    stamps: HashMap<String, String>,
    last_refresh: Option<chrono::DateTime<chrono::Utc>>,
}

fn stamp(r: &ResourceRecord) -> String {
    format!("{}|{}|{}", r.version, r.status.code(), r.updated_at)
}

/// How far back a refresh looks before its last run, to cover clock skew between processes.
const REFRESH_OVERLAP: chrono::Duration = chrono::Duration::seconds(30);

impl Catalog {
    /// Opens the catalog over `store`, building the search index from it.
    pub async fn open(store: Store, code_format: CodeFormat, audit: AuditLog) -> Result<Catalog> {
        let index = Arc::new(CatalogIndex::new()?);
        let catalog = Catalog {
            store,
            index,
            code_format: Arc::new(code_format),
            indexed: Default::default(),
            audit,
        };
        catalog.reindex().await?;
        Ok(catalog)
    }

    /// Rebuilds the search index from the store.
    pub async fn reindex(&self) -> Result<usize> {
        let started = chrono::Utc::now();
        let names = self.department_names().await?;
        let mut stamps = HashMap::new();
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let (_, page) = self
                .store
                .resources(&ResourceFilter::default(), offset, 1000)
                .await?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as i64;
            stamps.extend(page.iter().map(|r| (r.code.clone(), stamp(r))));
            all.extend(page.iter().map(|r| indexed(r, &names)));
        }
        let n = all.len();
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.rebuild(all))
            .await
            .map_err(|e| CatalogError::Internal(format!("index task: {e}")))??;
        if let Ok(mut i) = self.indexed.lock() {
            i.stamps = stamps;
            i.last_refresh = Some(started);
        }
        Ok(n)
    }

    /// Brings the index up to date with changes other processes made to the shared control
    /// plane; returns how many entries changed. The server calls it every second.
    pub async fn refresh(&self) -> Result<usize> {
        let now = chrono::Utc::now();
        let since = self
            .indexed
            .lock()
            .ok()
            .and_then(|i| i.last_refresh)
            .map(|t| t - REFRESH_OVERLAP);
        let Some(since) = since else {
            return self.reindex().await;
        };
        let recent = self
            .store
            .resources_updated_since(&since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .await?;
        let changed: Vec<ResourceRecord> = {
            let i = self
                .indexed
                .lock()
                .map_err(|_| CatalogError::Internal("index state lock".into()))?;
            recent
                .into_iter()
                .filter(|r| i.stamps.get(&r.code) != Some(&stamp(r)))
                .collect()
        };
        if !changed.is_empty() {
            self.reindex_records(&changed).await?;
        }
        if let Ok(mut i) = self.indexed.lock() {
            i.last_refresh = Some(now);
        }
        Ok(changed.len())
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// Records a catalog change; returns once the entry is durable.
    async fn audited(
        &self,
        actor: &Actor,
        action: &str,
        r: &ResourceRecord,
        note: &str,
    ) -> Result<()> {
        let mut e = Entry::new(Kind::Admin, action, actor)
            .resource(&r.code, &r.spec.provider)
            .target(format!("v{}", r.version));
        if !note.is_empty() {
            e = e.detail(note);
        }
        self.audit.record(e).await?;
        Ok(())
    }

    /// Whether the control plane answers (the server's readiness probe).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    async fn department_names(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect())
    }

    async fn reindex_records(&self, records: &[ResourceRecord]) -> Result<()> {
        let names = self.department_names().await?;
        let docs: Vec<IndexedResource> = records.iter().map(|r| indexed(r, &names)).collect();
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.upsert(&docs))
            .await
            .map_err(|e| CatalogError::Internal(format!("index task: {e}")))??;
        if let Ok(mut i) = self.indexed.lock() {
            for r in records {
                i.stamps.insert(r.code.clone(), stamp(r));
            }
        }
        Ok(())
    }

    /// Validation that needs the store: the provider exists, related codes exist.
    async fn check_references(
        &self,
        spec: &ResourceSpec,
        own_code: Option<&str>,
    ) -> Result<Department> {
        let Some(dept) = self.store.department(&spec.provider).await? else {
            return Err(CatalogError::invalid(
                "provider",
                "PROVIDER_UNKNOWN",
                format!("提供部门“{}”不存在", spec.provider),
                format!("no department has the code “{}”", spec.provider),
            ));
        };
        let mut errors = Vec::new();
        for (i, code) in spec.related.iter().enumerate() {
            if Some(code.as_str()) == own_code {
                errors.push(FieldError::new(
                    format!("related[{i}]"),
                    "RELATED_SELF",
                    "资源不能关联自身",
                    "a resource cannot relate to itself",
                ));
            } else if self.store.resource(code).await?.is_none() {
                errors.push(FieldError::new(
                    format!("related[{i}]"),
                    "RELATED_UNKNOWN",
                    format!("关联资源“{code}”不存在"),
                    format!("no resource has the code “{code}”"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(dept)
        } else {
            Err(CatalogError::Invalid(errors))
        }
    }

    /// Registers a new entry as a draft and returns it with its generated code.
    pub async fn register(&self, actor: &Actor, input: &ResourceInput) -> Result<ResourceRecord> {
        let spec = input.validate().map_err(CatalogError::Invalid)?;
        decide(
            actor,
            Action::RegisterResource,
            Target::NewResource {
                provider: &spec.provider,
            },
        )?;
        self.check_references(&spec, None).await?;
        let mut tx = self.store.begin().await?;
        let record = self.insert_in(&mut tx, &spec, &actor.principal).await?;
        tx.commit().await?;
        self.reindex_records(std::slice::from_ref(&record)).await?;
        self.audited(actor, "catalog.register", &record, "").await?;
        Ok(record)
    }

    async fn insert_in(
        &self,
        tx: &mut shuniu_store::Tx,
        spec: &ResourceSpec,
        actor: &str,
    ) -> Result<ResourceRecord> {
        let scope = format!("{}|{}", spec.classification.front_code(), spec.provider);
        // A province's format may omit the provider or classification; skip codes taken.
        loop {
            let seq = tx.next_sequence(&scope).await?;
            let code = self
                .code_format
                .render(&spec.classification, &spec.provider, seq as u64);
            if !tx.resource_exists(&code).await? {
                return Ok(tx
                    .insert_resource(&code, spec, ResourceStatus::Draft, actor)
                    .await?);
            }
        }
    }

    async fn load(&self, code: &str) -> Result<ResourceRecord> {
        self.store
            .resource(code)
            .await?
            .ok_or_else(|| CatalogError::NotFound(code.to_string()))
    }

    fn check(&self, actor: &Actor, action: Action, r: &ResourceRecord) -> Result<()> {
        // What the actor may not read does not exist for it, whatever it tries to do.
        if action != Action::ReadResource {
            self.check(actor, Action::ReadResource, r)?;
        }
        decide(
            actor,
            action,
            Target::Resource {
                provider: &r.spec.provider,
                status: r.status,
            },
        )
        .map_err(|d| {
            if d.hide {
                CatalogError::NotFound(r.code.clone())
            } else {
                CatalogError::Denied(d)
            }
        })
    }

    pub async fn get(&self, actor: &Actor, code: &str) -> Result<ResourceRecord> {
        let r = self.load(code).await?;
        self.check(actor, Action::ReadResource, &r)?;
        Ok(r)
    }

    pub async fn history(&self, actor: &Actor, code: &str) -> Result<Vec<HistoryEntry>> {
        self.get(actor, code).await?;
        Ok(self.store.history(code).await?)
    }

    /// Replaces an entry's metadata as a new version. The provider cannot change: a resource
    /// moves to another department by withdrawal and new registration, so that codes stay true.
    pub async fn update(
        &self,
        actor: &Actor,
        code: &str,
        input: &ResourceInput,
        expected_version: Option<i64>,
    ) -> Result<ResourceRecord> {
        let current = self.load(code).await?;
        self.check(actor, Action::EditResource, &current)?;
        let spec = input.validate().map_err(CatalogError::Invalid)?;
        if spec.provider != current.spec.provider {
            return Err(CatalogError::invalid(
                "provider",
                "PROVIDER_IMMUTABLE",
                "不能更改已登记资源的提供部门",
                "the providing department of a registered resource cannot change",
            ));
        }
        if spec.classification.front_code() != current.spec.classification.front_code()
            && current.status == ResourceStatus::Published
        {
            return Err(CatalogError::invalid(
                "category",
                "CLASSIFICATION_IMMUTABLE",
                "已发布资源的分类决定其代码，不能更改",
                "a published resource's classification is part of its code and cannot change",
            ));
        }
        self.check_references(&spec, Some(code)).await?;
        let mut tx = self.store.begin().await?;
        let record = tx
            .update_resource(code, &spec, expected_version, &actor.principal)
            .await?;
        tx.commit().await?;
        self.reindex_records(std::slice::from_ref(&record)).await?;
        self.audited(actor, "catalog.update", &record, "").await?;
        Ok(record)
    }

    async fn transition(
        &self,
        actor: &Actor,
        code: &str,
        action: Action,
        to: ResourceStatus,
        verb: &str,
        note: &str,
    ) -> Result<ResourceRecord> {
        let mut tx = self.store.begin().await?;
        // Read inside the write transaction so two reviewers cannot both act on one state.
        let current = tx
            .resource(code)
            .await?
            .ok_or_else(|| CatalogError::NotFound(code.to_string()))?;
        self.check(actor, action, &current)?;
        let record = tx
            .set_resource_status(code, to, verb, note, &actor.principal)
            .await?;
        tx.commit().await?;
        self.reindex_records(std::slice::from_ref(&record)).await?;
        self.audited(actor, &format!("catalog.{verb}"), &record, note)
            .await?;
        Ok(record)
    }

    pub async fn submit(&self, actor: &Actor, code: &str) -> Result<ResourceRecord> {
        self.transition(
            actor,
            code,
            Action::SubmitResource,
            ResourceStatus::Submitted,
            "submitted",
            "",
        )
        .await
    }

    /// Publishes or returns a submitted entry; returning needs a reason.
    pub async fn review(
        &self,
        actor: &Actor,
        code: &str,
        decision: Review,
        reason: &str,
    ) -> Result<ResourceRecord> {
        let reason = shuniu_types::text::bounded("reason", reason, decision == Review::Return, 500)
            .map_err(|e| CatalogError::Invalid(vec![e]))?;
        match decision {
            Review::Publish => {
                self.transition(
                    actor,
                    code,
                    Action::ReviewResource,
                    ResourceStatus::Published,
                    "published",
                    &reason,
                )
                .await
            }
            Review::Return => {
                self.transition(
                    actor,
                    code,
                    Action::ReviewResource,
                    ResourceStatus::Returned,
                    "returned",
                    &reason,
                )
                .await
            }
        }
    }

    /// Withdraws a published entry; its history is kept and it stays readable as withdrawn.
    pub async fn withdraw(
        &self,
        actor: &Actor,
        code: &str,
        reason: &str,
    ) -> Result<ResourceRecord> {
        let reason = shuniu_types::text::bounded("reason", reason, true, 500)
            .map_err(|e| CatalogError::Invalid(vec![e]))?;
        self.transition(
            actor,
            code,
            Action::WithdrawResource,
            ResourceStatus::Withdrawn,
            "withdrawn",
            &reason,
        )
        .await
    }

    /// What the actor may see in search: everything for the hub, the published catalog plus
    /// its own department's entries for everyone else.
    fn visibility(actor: &Actor) -> Visibility {
        match shuniu_policy::scope(actor, Action::ReadResource) {
            Scope::All => Visibility::All,
            scope => Visibility::Statuses {
                statuses: vec![
                    ResourceStatus::Published.code().into(),
                    ResourceStatus::Withdrawn.code().into(),
                ],
                own_provider: scope.department().map(str::to_string),
            },
        }
    }

    /// Every entry a search finds (not one page): what an export of the search holds.
    pub async fn search_all(
        &self,
        actor: &Actor,
        params: &SearchParams,
    ) -> Result<Vec<ResourceRecord>> {
        let mut out = Vec::new();
        loop {
            let page = self
                .search(
                    actor,
                    &SearchParams {
                        offset: out.len(),
                        limit: 200,
                        ..params.clone()
                    },
                )
                .await?;
            let n = page.items.len();
            out.extend(page.items);
            if n == 0 || out.len() >= page.total {
                return Ok(out);
            }
        }
    }

    pub async fn search(&self, actor: &Actor, params: &SearchParams) -> Result<SearchPage> {
        let req = SearchRequest {
            text: params.text.clone(),
            filters: params.filters.clone(),
            offset: params.offset,
            limit: params.limit.clamp(1, 200),
        };
        let visibility = Self::visibility(actor);
        let index = self.index.clone();
        let found = tokio::task::spawn_blocking(move || index.search(&req, &visibility))
            .await
            .map_err(|e| CatalogError::Internal(format!("search task: {e}")))??;
        // One query for the page; an entry deleted between search and load is skipped.
        let items = self.store.resources_by_code(&found.codes).await?;
        Ok(SearchPage {
            total: found.total,
            items,
            facets: found.facets,
        })
    }

    /// Every page of a store listing, for exports and list views.
    async fn all(&self, filter: &ResourceFilter) -> Result<Vec<ResourceRecord>> {
        let mut out = Vec::new();
        loop {
            let (_, page) = self.store.resources(filter, out.len() as i64, 1000).await?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }

    /// 负面清单: published entries that are not shared, each with its legal basis.
    pub async fn negative_list(&self) -> Result<Vec<ResourceRecord>> {
        self.all(&ResourceFilter {
            statuses: vec![ResourceStatus::Published],
            share_type: Some(ShareType::NotShared.code().into()),
            ..Default::default()
        })
        .await
    }

    pub async fn list(&self, kind: ListKind) -> Result<Vec<ResourceRecord>> {
        let published = self
            .all(&ResourceFilter {
                statuses: vec![ResourceStatus::Published],
                ..Default::default()
            })
            .await?;
        Ok(published
            .into_iter()
            .filter(|r| match kind {
                ListKind::Aggregation => true,
                ListKind::Sharing => r.spec.share_type != ShareType::NotShared,
                ListKind::Open => r.spec.open_type != shuniu_types::OpenType::NotOpen,
            })
            .collect())
    }

    /// Entries the actor may see, for export: the hub sees all, others the published catalog
    /// and their own department's entries.
    pub async fn visible(&self, actor: &Actor) -> Result<Vec<ResourceRecord>> {
        let filter = match shuniu_policy::scope(actor, Action::ReadResource) {
            Scope::All => ResourceFilter::default(),
            scope => ResourceFilter {
                statuses: vec![ResourceStatus::Published, ResourceStatus::Withdrawn],
                or_provider: scope.department().map(str::to_string),
                ..Default::default()
            },
        };
        self.all(&filter).await
    }

    /// Submitted entries waiting for the hub's review.
    pub async fn review_queue(&self, actor: &Actor) -> Result<Vec<ResourceRecord>> {
        // Asking about an arbitrary submitted entry: only a reviewer may see the queue.
        decide(
            actor,
            Action::ReviewResource,
            Target::Resource {
                provider: "",
                status: ResourceStatus::Submitted,
            },
        )?;
        self.all(&ResourceFilter {
            statuses: vec![ResourceStatus::Submitted],
            ..Default::default()
        })
        .await
    }

    /// Imports entries from a workbook: all or nothing. With `dry_run` nothing is written.
    pub async fn import_excel(
        &self,
        actor: &Actor,
        bytes: &[u8],
        dry_run: bool,
    ) -> Result<excel::ImportReport> {
        let parsed = excel::read_workbook(bytes)?;
        let mut report = excel::ImportReport {
            resources: parsed.resources.len(),
            errors: parsed.errors,
            imported: Vec::new(),
            dry_run,
        };
        let mut specs = Vec::new();
        for (row, input) in &parsed.resources {
            match input.validate() {
                Err(errs) => report
                    .errors
                    .extend(errs.into_iter().map(|e| excel::RowError::new(*row, e))),
                Ok(spec) => {
                    if let Err(d) = decide(
                        actor,
                        Action::ImportCatalog,
                        Target::NewResource {
                            provider: &spec.provider,
                        },
                    ) {
                        report.errors.push(excel::RowError::new(
                            *row,
                            FieldError::new("provider", d.code, d.message_zh, d.message_en),
                        ));
                        continue;
                    }
                    match self.check_references(&spec, None).await {
                        Ok(_) => specs.push(spec),
                        Err(CatalogError::Invalid(errs)) => report
                            .errors
                            .extend(errs.into_iter().map(|e| excel::RowError::new(*row, e))),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        report.errors.sort_by_key(|e| e.row);
        if !report.errors.is_empty() || dry_run {
            return Ok(report);
        }
        let mut tx = self.store.begin().await?;
        let mut records = Vec::with_capacity(specs.len());
        for spec in &specs {
            records.push(self.insert_in(&mut tx, spec, &actor.principal).await?);
        }
        tx.commit().await?;
        self.reindex_records(&records).await?;
        let entries = records
            .iter()
            .map(|r| {
                Entry::new(Kind::Admin, "catalog.import", actor)
                    .resource(&r.code, &r.spec.provider)
                    .target(format!("v{}", r.version))
            })
            .collect();
        self.audit.record_all(entries).await?;
        report.imported = records.iter().map(|r| r.code.clone()).collect();
        Ok(report)
    }

    pub async fn export_excel(&self, records: &[ResourceRecord]) -> Result<Vec<u8>> {
        let names = self.department_names().await?;
        excel::write_workbook(records, &names)
    }
}

fn indexed(r: &ResourceRecord, names: &HashMap<String, String>) -> IndexedResource {
    let s = &r.spec;
    let items = s
        .data_items
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {}",
                d.name,
                d.label,
                d.description,
                d.semantic_type.zh()
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    IndexedResource {
        code: r.code.clone(),
        name: s.name.clone(),
        summary: s.summary.clone(),
        items,
        context: format!(
            "{} {} {}",
            s.classification.path_zh(),
            names.get(&s.provider).map(String::as_str).unwrap_or(""),
            s.share_type.zh()
        ),
        provider: s.provider.clone(),
        category: s.classification.kind.code().into(),
        share_type: s.share_type.code().into(),
        open_type: s.open_type.code().into(),
        level: s.level.code().into(),
        update_cycle: s.update_cycle.code().into(),
        status: r.status.code().into(),
    }
}
