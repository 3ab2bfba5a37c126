//! Open data (公共数据开放): the engine behind the public portal, the CKAN Action API and
//! the DCAT-AP catalog.
//!
//! - Publication: a published catalog entry whose open attribute and security level allow it
//!   (`shuniu_policy::open::open_access`) is published from its current dataset version
//!   through its open rules (`CompiledOpen::project`: fields dropped or masked, rows filtered
//!   or aggregated) into a [`datastore`] index, the published copy. A new version or a rule
//!   change republishes; a withdrawn entry or a changed attribute unpublishes.
//! - `packages.rs`: the open catalog in memory (packages, organizations, groups, tags) and
//!   package search with the Solr syntax of `query.rs`.
//! - `export.rs`: downloads as CSV, Excel, JSON and Parquet, streamed from the published copy.
//! - `dcat.rs`: DCAT-AP 3.0.1 metadata as JSON-LD, Turtle and RDF/XML.
//! - `public.rs`: the public's accounts, applications for conditionally open data (the
//!   provider approves; the applicant gets a token for that dataset), and data requests.
//!
//! Architecture invariant: every published row goes through `CompiledOpen::project` once, at
//! publication; everything the public gets is read from the published copy. Conditionally
//! open data is only read with an approved application's token; every data access is
//! audited. No HTTP in here: the server speaks CKAN's wire format using these functions.

pub mod datastore;
pub mod dcat;
pub mod error;
pub mod export;
mod index;
pub mod packages;
pub mod public;
pub mod query;
pub mod snapshot;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_catalog::Catalog;
use shuniu_lake::Lake;
use shuniu_policy::open::{CompiledOpen, OpenAccess, OpenRules, open_access};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{OpenCounters, PublicationRow, ResourceRecord, Store};
use shuniu_types::states::{PublicationState, PublishOutcome};
use shuniu_types::{Actor, ResourceStatus};

pub use datastore::{Datastore, DatastoreAnswer, DatastoreQuery};
pub use error::{OpenError, Result};
pub use packages::Package;
pub use snapshot::{SearchOutcome, SearchParams, Snapshot};

use packages::{Column, ckan_type};

/// Settings of the open-data engine.
#[derive(Debug, Clone)]
pub struct OpenSettings {
    /// The data directory: published copies live under `open/datastore/`.
    pub data_dir: PathBuf,
    /// The master key the masking key is sealed under.
    pub keys: shuniu_keys::MasterKey,
}

struct Inner {
    store: Store,
    catalog: Catalog,
    lake: Lake,
    audit: AuditLog,
    datastore_root: PathBuf,
    /// Keys the `hash` masking of published data: separate from the sharing key, so a
    /// published hash cannot be joined with what departments receive.
    hash_key: [u8; 32],
    snapshot: RwLock<Arc<Snapshot>>,
    datastores: Mutex<HashMap<String, Arc<Datastore>>>,
    build_lock: tokio::sync::Mutex<()>,
    /// Counts not yet written to the store.
    pending: Mutex<HashMap<String, OpenCounters>>,
    /// Stored counts plus pending ones: what pages show.
    totals: Mutex<HashMap<String, OpenCounters>>,
    catalog_seen: Mutex<String>,
}

/// The open-data engine. Cheap to clone.
#[derive(Clone)]
pub struct Open {
    inner: Arc<Inner>,
}

/// Which counter a portal event adds to.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    View,
    Download,
    ApiCall,
}

/// Who reads open data: the public (by client address) or an application's holder.
#[derive(Debug, Clone)]
pub struct Reader {
    /// `public:<address>` or `open:<login>`.
    pub principal: String,
    /// The approved application whose token was presented, if any.
    pub application: Option<String>,
    /// The dataset that token opens.
    pub token_code: Option<String>,
}

impl Reader {
    pub fn public(address: &str) -> Reader {
        Reader {
            principal: format!("public:{address}"),
            application: None,
            token_code: None,
        }
    }
}

/// What a publication run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    pub code: String,
    pub outcome: PublishOutcome,
    pub rows: u64,
    pub version: Option<i64>,
    pub message: String,
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

impl Open {
    pub async fn open(
        store: Store,
        catalog: Catalog,
        lake: Lake,
        audit: AuditLog,
        settings: OpenSettings,
    ) -> Result<Open> {
        let root = settings.data_dir.join("open");
        std::fs::create_dir_all(root.join("datastore"))?;
        let hash_key = settings
            .keys
            .secret_file(&root.join("masking.key"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let open = Open {
            inner: Arc::new(Inner {
                store,
                catalog,
                lake,
                audit,
                datastore_root: root.join("datastore"),
                hash_key,
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                datastores: Mutex::new(HashMap::new()),
                build_lock: tokio::sync::Mutex::new(()),
                pending: Mutex::new(HashMap::new()),
                totals: Mutex::new(HashMap::new()),
                catalog_seen: Mutex::new(shuniu_store::now()),
            }),
        };
        open.refresh().await?;
        Ok(open)
    }

    /// The open catalog now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.read().clone()
    }

    /// Rebuilds the in-memory open catalog from the publications.
    pub async fn refresh(&self) -> Result<()> {
        let pubs: Vec<PublicationRow> = self
            .inner
            .store
            .publications()
            .await?
            .into_iter()
            .filter(|p| p.state == PublicationState::Published)
            .collect();
        let codes: Vec<String> = pubs.iter().map(|p| p.code.clone()).collect();
        let records: HashMap<String, ResourceRecord> = self
            .inner
            .store
            .resources_by_code(&codes)
            .await?
            .into_iter()
            .map(|r| (r.code.clone(), r))
            .collect();
        let departments: HashMap<String, String> = self
            .inner
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let mut totals = self.inner.store.open_counters().await?;
        {
            let pending = self.inner.pending.lock();
            for (code, extra) in pending.iter() {
                let c = totals.entry(code.clone()).or_default();
                c.views += extra.views;
                c.downloads += extra.downloads;
                c.api_calls += extra.api_calls;
            }
            *self.inner.totals.lock() = totals.clone();
        }
        let mut packages = Vec::with_capacity(pubs.len());
        for p in pubs {
            let Some(rec) = records.get(&p.code) else {
                continue;
            };
            let c = totals.get(&p.code).copied().unwrap_or_default();
            packages.push(package(rec, &p, &departments, c));
        }
        *self.inner.snapshot.write() = Arc::new(Snapshot::new(packages));
        Ok(())
    }

    /// The published copy of a dataset.
    pub fn datastore(&self, code: &str) -> Result<Arc<Datastore>> {
        if let Some(d) = self.inner.datastores.lock().get(code) {
            return Ok(d.clone());
        }
        let snap = self.snapshot();
        let pkg = snap
            .package(code)
            .ok_or_else(|| OpenError::NotFound(format!("open dataset {code}")))?;
        let dir = self.inner.datastore_root.join(&pkg.code);
        let current = std::fs::read_to_string(dir.join("current"))
            .map_err(|_| OpenError::NotFound(format!("published data of {code}")))?;
        let ds = Arc::new(Datastore::open(
            &dir.join(current.trim()),
            pkg.columns.clone(),
        )?);
        self.inner
            .datastores
            .lock()
            .insert(pkg.code.clone(), ds.clone());
        Ok(ds)
    }

    /// Counts a portal event (flushed to the store every few seconds).
    pub fn count(&self, code: &str, counter: Counter) {
        let bump = |c: &mut OpenCounters| match counter {
            Counter::View => c.views += 1,
            Counter::Download => c.downloads += 1,
            Counter::ApiCall => c.api_calls += 1,
        };
        bump(
            self.inner
                .pending
                .lock()
                .entry(code.to_string())
                .or_default(),
        );
        bump(
            self.inner
                .totals
                .lock()
                .entry(code.to_string())
                .or_default(),
        );
    }

    /// A dataset's views, downloads and API calls up to now.
    pub fn counters(&self, code: &str) -> OpenCounters {
        self.inner
            .totals
            .lock()
            .get(code)
            .copied()
            .unwrap_or_default()
    }

    /// Writes pending counters to the store.
    pub async fn flush_counters(&self) -> Result<()> {
        let pending: Vec<(String, OpenCounters)> = self.inner.pending.lock().drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        // One transaction for the batch: all of it is written or none.
        let written = async {
            let mut tx = self.inner.store.begin().await?;
            for (code, c) in &pending {
                tx.add_open_counters(code, *c).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            // Put back what was not written, so nothing is lost to a store hiccup.
            let mut p = self.inner.pending.lock();
            for (code, c) in &pending {
                let e = p.entry(code.clone()).or_default();
                e.views += c.views;
                e.downloads += c.downloads;
                e.api_calls += c.api_calls;
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Decides whether `reader` may read the data of `code`; audits refusals.
    pub async fn authorize(&self, reader: &Reader, code: &str) -> Result<Arc<Package>> {
        let snap = self.snapshot();
        let pkg = snap
            .package(code)
            .cloned()
            .ok_or_else(|| OpenError::NotFound(format!("open dataset {code}")))?;
        if !pkg.has_data() {
            return Err(OpenError::NotFound(format!(
                "published data of {}",
                pkg.code
            )));
        }
        if pkg.access == OpenAccess::Conditional
            && reader.token_code.as_deref() != Some(pkg.code.as_str())
        {
            let denied = shuniu_policy::Denied {
                code: "OPEN_TOKEN_REQUIRED",
                message_zh: "该数据集为有条件开放，须凭获批申请的令牌访问".into(),
                message_en: "this dataset is conditionally open: present the token of an approved application".into(),
                hide: false,
            };
            let e = Entry::by(Kind::Access, "open.data", &reader.principal, "")
                .channel("open")
                .resource(&pkg.code, &pkg.provider);
            let mut e = e;
            e.result = denied.code.into();
            self.inner.audit.record(e).await?;
            return Err(denied.into());
        }
        Ok(pkg)
    }

    /// Audits a data access by the public (durable before the data leaves).
    pub async fn audit_access(
        &self,
        reader: &Reader,
        pkg: &Package,
        action: &str,
        rows: u64,
        detail: Option<String>,
    ) -> Result<()> {
        let mut e = Entry::by(Kind::Access, action, &reader.principal, "")
            .channel("open")
            .resource(&pkg.code, &pkg.provider)
            .fields(pkg.columns.iter().map(|c| c.name.clone()).collect())
            .rows(rows);
        e.grant = reader.application.clone();
        e.detail = detail;
        self.inner.audit.record(e).await?;
        Ok(())
    }

    /// CKAN `datastore_search` over the published copy.
    pub async fn datastore_search(
        &self,
        reader: &Reader,
        code: &str,
        query: DatastoreQuery,
    ) -> Result<(Arc<Package>, DatastoreAnswer)> {
        let pkg = self.authorize(reader, code).await?;
        let ds = self.datastore(&pkg.code)?;
        let answer = tokio::task::spawn_blocking(move || ds.search(&query))
            .await
            .map_err(|e| OpenError::Index(format!("search panicked: {e}")))??;
        self.audit_access(
            reader,
            &pkg,
            "open.datastore_search",
            answer.rows.len() as u64,
            None,
        )
        .await?;
        self.count(&pkg.code, Counter::ApiCall);
        Ok((pkg, answer))
    }

    /// Publications a department manages (the hub: all), with the catalog entries' names.
    pub async fn publications_for(&self, actor: &Actor) -> Result<Vec<(PublicationRow, String)>> {
        let scope = shuniu_policy::require_scope(actor, Action::ReadOpenData)?;
        let pubs = self.inner.store.publications().await?;
        let codes: Vec<String> = pubs.iter().map(|p| p.code.clone()).collect();
        let names: HashMap<String, (String, String)> = self
            .inner
            .store
            .resources_by_code(&codes)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.code.clone(),
                    (r.spec.name.clone(), r.spec.provider.clone()),
                )
            })
            .collect();
        Ok(pubs
            .into_iter()
            .filter_map(|p| {
                let (name, provider) = names.get(&p.code)?.clone();
                scope.covers([provider.as_str()]).then_some((p, name))
            })
            .collect())
    }

    /// The open rules in force for a resource (the defaults when none were saved).
    pub async fn rules(&self, code: &str) -> Result<OpenRules> {
        Ok(match self.inner.store.open_rules(code).await? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| OpenError::Index(format!("stored open rules of {code}: {e}")))?,
            None => OpenRules::default(),
        })
    }

    /// Saves a resource's open rules (checked against its items first) and republishes.
    pub async fn set_rules(
        &self,
        actor: &Actor,
        code: &str,
        rules: &OpenRules,
    ) -> Result<Published> {
        let rec = self
            .inner
            .store
            .resource(code)
            .await?
            .ok_or_else(|| OpenError::NotFound(format!("resource {code}")))?;
        decide(
            actor,
            Action::ManageOpenData,
            Target::Resource {
                provider: &rec.spec.provider,
                status: rec.status,
            },
        )?;
        let access = open_access(rec.status, rec.spec.open_type, rec.spec.level)
            .unwrap_or(OpenAccess::Conditional);
        CompiledOpen::compile(&rec.spec.data_items, access, rules)?;
        let value = serde_json::to_value(rules)
            .map_err(|e| OpenError::Index(format!("open rules: {e}")))?;
        let mut tx = self.inner.store.begin().await?;
        tx.put_open_rules(code, &value, &actor.principal).await?;
        tx.commit().await?;
        let mut e = Entry::new(Kind::Admin, "open.rules", actor)
            .resource(code, &rec.spec.provider)
            .channel("console");
        e.detail = Some(value.to_string());
        self.inner.audit.record(e).await?;
        self.publish(code).await
    }

    /// Publishes (or republishes, or unpublishes) one resource from its current version.
    pub async fn publish(&self, code: &str) -> Result<Published> {
        let _guard = self.inner.build_lock.lock().await;
        let out = self.publish_locked(code).await;
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "open catalog refresh failed");
        }
        out
    }

    async fn publish_locked(&self, code: &str) -> Result<Published> {
        let rec = self
            .inner
            .store
            .resource(code)
            .await?
            .ok_or_else(|| OpenError::NotFound(format!("resource {code}")))?;
        let existing = self.inner.store.publication(code).await?;
        let access = match open_access(rec.status, rec.spec.open_type, rec.spec.level) {
            Ok(a) => a,
            Err(denied) => {
                if let Some(mut p) = existing.filter(|p| p.state == PublicationState::Published) {
                    p.state = PublicationState::Withdrawn;
                    p.error = denied.message_zh.clone();
                    p.published_at = shuniu_store::now();
                    let mut tx = self.inner.store.begin().await?;
                    tx.put_publication(&p).await?;
                    tx.commit().await?;
                    self.inner.datastores.lock().remove(code);
                    let mut e = Entry::by(Kind::Admin, "open.withdraw", "system", "")
                        .resource(code, &rec.spec.provider);
                    e.detail = Some(denied.code.to_string());
                    self.inner.audit.record(e).await?;
                    return Ok(Published {
                        code: code.into(),
                        outcome: PublishOutcome::Withdrawn,
                        rows: 0,
                        version: None,
                        message: denied.message_en,
                    });
                }
                return Ok(Published {
                    code: code.into(),
                    outcome: PublishOutcome::NotOpen,
                    rows: 0,
                    version: None,
                    message: denied.message_en,
                });
            }
        };
        let rules = self.rules(code).await?;
        let rules_json = serde_json::to_value(&rules)
            .map_err(|e| OpenError::Index(format!("open rules: {e}")))?;
        let compiled = match CompiledOpen::compile(&rec.spec.data_items, access, &rules) {
            Ok(c) => c,
            Err(denied) => {
                // The items changed under saved rules: publish nothing rather than guess.
                let now = shuniu_store::now();
                let p = PublicationRow {
                    code: code.into(),
                    access: access.code().into(),
                    source_version: None,
                    rules: rules_json,
                    columns: serde_json::json!([]),
                    rows: 0,
                    state: PublicationState::Failed,
                    error: format!("{}: {}", denied.code, denied.message_zh),
                    first_published_at: existing
                        .as_ref()
                        .map(|e| e.first_published_at.clone())
                        .unwrap_or_else(|| now.clone()),
                    published_at: now,
                };
                let mut tx = self.inner.store.begin().await?;
                tx.put_publication(&p).await?;
                tx.commit().await?;
                self.inner.datastores.lock().remove(code);
                return Ok(Published {
                    code: code.into(),
                    outcome: PublishOutcome::Failed,
                    rows: 0,
                    version: None,
                    message: denied.message_en,
                });
            }
        };
        let version = self.inner.lake.version(code).await?;
        let columns: Vec<Column> = compiled
            .fields
            .iter()
            .map(|f| Column {
                name: f.name.clone(),
                label: f.label.clone(),
                description: f.description.clone(),
                ckan_type: ckan_type(f.data_type),
                data_type: f.data_type,
                masking: f.masking.code().into(),
            })
            .chain(compiled.aggregation.as_ref().map(|_| Column {
                name: "count".into(),
                label: "记录数".into(),
                description: "该分组的记录条数".into(),
                ckan_type: "int",
                data_type: shuniu_types::DataType::Integer,
                masking: "none".into(),
            }))
            .collect();
        let columns_json = serde_json::to_value(
            columns
                .iter()
                .map(|c| {
                    serde_json::json!({"name": c.name, "label": c.label, "description": c.description,
                        "type": c.data_type.code(), "masking": c.masking})
                })
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        if let Some(e) = &existing
            && e.state == PublicationState::Published
            && e.source_version == version
            && e.rules == rules_json
            && e.access == access.code()
            && e.columns == columns_json
        {
            return Ok(Published {
                code: code.into(),
                outcome: PublishOutcome::Unchanged,
                rows: e.rows as u64,
                version,
                message: String::new(),
            });
        }
        let rows = match version {
            Some(v) => self.build(&rec, v, &compiled, &columns).await?,
            None => 0,
        };
        let now = shuniu_store::now();
        let p = PublicationRow {
            code: code.into(),
            access: access.code().into(),
            source_version: version,
            rules: rules_json,
            columns: columns_json,
            rows: rows as i64,
            state: PublicationState::Published,
            error: String::new(),
            first_published_at: existing
                .as_ref()
                .map(|e| e.first_published_at.clone())
                .unwrap_or_else(|| now.clone()),
            published_at: now,
        };
        let mut tx = self.inner.store.begin().await?;
        tx.put_publication(&p).await?;
        tx.commit().await?;
        let mut e = Entry::by(Kind::Admin, "open.publish", "system", "")
            .resource(code, &rec.spec.provider)
            .fields(columns.iter().map(|c| c.name.clone()).collect())
            .rows(rows);
        e.target = version.map(|v| format!("v{v}"));
        self.inner.audit.record(e).await?;
        tracing::info!(code, rows, ?version, "open dataset published");
        Ok(Published {
            code: code.into(),
            outcome: PublishOutcome::Published,
            rows,
            version,
            message: String::new(),
        })
    }

    /// Derives the published copy of `version` into a new datastore directory and makes it
    /// current. Streams the version; an aggregation keeps one counter per group.
    async fn build(
        &self,
        rec: &ResourceRecord,
        version: i64,
        compiled: &CompiledOpen,
        columns: &[Column],
    ) -> Result<u64> {
        let code = rec.code.clone();
        let items: Vec<String> = rec.spec.data_items.iter().map(|i| i.name.clone()).collect();
        let mut stream = self
            .inner
            .lake
            .stream_columns(&code, version, &items, true)
            .await?;
        let dir = self.inner.datastore_root.join(&code);
        let generation = format!("v{version}-{}", shuniu_store::now().replace([':', '.'], ""));
        let build_dir = dir.join(&generation);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<arrow::array::RecordBatch>>(4);
        let feeder = tokio::spawn(async move {
            while let Some(b) = stream.next().await {
                if tx.send(b.map_err(OpenError::from)).await.is_err() {
                    break;
                }
            }
        });
        let compiled = compiled.clone();
        let cols = columns.to_vec();
        let key = self.inner.hash_key;
        let bdir = build_dir.clone();
        let rows = tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut builder = datastore::Builder::create(&bdir, &cols)?;
            let mut groups: HashMap<Vec<Option<String>>, u64> = HashMap::new();
            while let Some(batch) = rx.blocking_recv() {
                let batch = batch?;
                // VARCHAR may come back as Utf8View; one representation for the loop below.
                let owned: Vec<arrow::array::ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
                            .map_err(|e| OpenError::Index(format!("column to text: {e}")))
                    })
                    .collect::<Result<_>>()?;
                let strings: Vec<&arrow::array::StringArray> = owned
                    .iter()
                    .map(|c| {
                        c.as_any()
                            .downcast_ref::<arrow::array::StringArray>()
                            .ok_or_else(|| OpenError::Index("a column is not text".into()))
                    })
                    .collect::<Result<_>>()?;
                let mut row: Vec<Option<&str>> = vec![None; strings.len()];
                for r in 0..batch.num_rows() {
                    for (i, a) in strings.iter().enumerate() {
                        row[i] = (!arrow::array::Array::is_null(*a, r)).then(|| a.value(r));
                    }
                    if let Some(out) = compiled.project(&row, &key) {
                        if compiled.aggregation.is_some() {
                            *groups.entry(out).or_default() += 1;
                        } else {
                            builder.add(&out)?;
                        }
                    }
                }
            }
            if let Some(agg) = &compiled.aggregation {
                let mut groups: Vec<_> = groups
                    .into_iter()
                    .filter(|(_, n)| *n >= agg.min_group as u64)
                    .collect();
                groups.sort();
                for (mut key, n) in groups {
                    key.push(Some(n.to_string()));
                    builder.add(&key)?;
                }
            }
            let (_, rows) = builder.finish()?;
            Ok(rows)
        })
        .await
        .map_err(|e| OpenError::Index(format!("publication build panicked: {e}")))?;
        let _ = feeder.await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&build_dir);
                return Err(e);
            }
        };
        // Switch atomically: write the pointer aside, then rename it over the old one.
        let tmp = dir.join("current.tmp");
        std::fs::write(&tmp, &generation)?;
        std::fs::rename(&tmp, dir.join("current"))?;
        self.inner.datastores.lock().remove(&code);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if e.path().is_dir() && name != generation {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(rows)
    }

    /// Brings every publication in line with the catalog and the lake.
    pub async fn sync_all(&self) -> Result<Vec<Published>> {
        let mut codes: Vec<String> = self
            .inner
            .catalog
            .visible(&Actor::local_operator())
            .await?
            .into_iter()
            .filter(|r| r.status == ResourceStatus::Published)
            .filter(|r| open_access(r.status, r.spec.open_type, r.spec.level).is_ok())
            .map(|r| r.code)
            .collect();
        let pubs = self.inner.store.publications().await?;
        let versions: HashMap<String, i64> = self
            .inner
            .store
            .latest_versions()
            .await?
            .into_iter()
            .map(|(c, v, _)| (c, v))
            .collect();
        let by_code: HashMap<&str, &PublicationRow> =
            pubs.iter().map(|p| (p.code.as_str(), p)).collect();
        // Skip those whose publication is up to date with the last load (cheap: no lake reads).
        codes.retain(|c| match by_code.get(c.as_str()) {
            Some(p) => {
                p.state != PublicationState::Published
                    || p.source_version != versions.get(c).copied()
            }
            None => true,
        });
        for p in &pubs {
            if p.state == PublicationState::Published && !codes.contains(&p.code) {
                codes.push(p.code.clone());
            }
        }
        let mut out = Vec::new();
        // One catalog refresh at the end, not one per dataset (a city has thousands).
        for code in codes {
            let result = {
                let _guard = self.inner.build_lock.lock().await;
                self.publish_locked(&code).await
            };
            match result {
                Ok(p) => out.push(p),
                Err(e) => {
                    tracing::warn!(code, error = %e, "publication failed");
                    out.push(Published {
                        code,
                        outcome: PublishOutcome::Failed,
                        rows: 0,
                        version: None,
                        message: e.to_string(),
                    });
                }
            }
        }
        self.refresh().await?;
        Ok(out)
    }

    /// Republishes the resources whose catalog entries changed since the last call.
    pub async fn sync_changed(&self) -> Result<usize> {
        let since = self.inner.catalog_seen.lock().clone();
        let now = shuniu_store::now();
        let changed = self.inner.store.resources_updated_since(&since).await?;
        *self.inner.catalog_seen.lock() = now;
        for r in &changed {
            if let Err(e) = self.publish(&r.code).await {
                tracing::warn!(code = r.code, error = %e, "publication failed");
            }
        }
        Ok(changed.len())
    }

    /// Republishes each resource as its loads commit.
    pub fn follow_commits(
        &self,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                match commits.recv().await {
                    Ok((code, _)) => {
                        if let Err(e) = s.publish(&code).await {
                            tracing::warn!(code, error = %e, "publication failed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = s.sync_all().await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Counters, catalog changes and a periodic full catch-up.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                tick += 1;
                if let Err(e) = s.flush_counters().await {
                    tracing::warn!(error = %e, "open counters flush failed");
                }
                if tick.is_multiple_of(3)
                    && let Err(e) = s.sync_changed().await
                {
                    tracing::warn!(error = %e, "open catalog sync failed");
                }
                if tick % 300 == 1
                    && let Err(e) = s.sync_all().await
                {
                    tracing::warn!(error = %e, "open catch-up failed");
                }
                if tick.is_multiple_of(15)
                    && let Err(e) = s.refresh().await
                {
                    tracing::warn!(error = %e, "open catalog refresh failed");
                }
            }
        })
    }
}

/// The package of a publication.
fn package(
    rec: &ResourceRecord,
    p: &PublicationRow,
    departments: &HashMap<String, String>,
    c: OpenCounters,
) -> Package {
    let spec = &rec.spec;
    let cls = &spec.classification;
    let mut tags = vec![cls.subject_name.clone()];
    if let Some(d) = &cls.detail_name {
        tags.push(d.clone());
    }
    tags.retain(|t| !t.trim().is_empty());
    tags.dedup();
    let columns: Vec<Column> = p
        .columns
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    let data_type = shuniu_types::DataType::parse_term(&s("type"))
                        .unwrap_or(shuniu_types::DataType::Text);
                    Column {
                        name: s("name"),
                        label: s("label"),
                        description: s("description"),
                        ckan_type: ckan_type(data_type),
                        data_type,
                        masking: s("masking"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let provider_name = departments
        .get(&spec.provider)
        .cloned()
        .unwrap_or_else(|| spec.provider.clone());
    let group = (
        format!("theme-{}{:02}", cls.kind.digit(), cls.item_code),
        cls.item_name.clone(),
    );
    let haystack = [
        (format!("{} {}", spec.name, rec.code).to_lowercase(), 3),
        (
            format!("{} {} {}", tags.join(" "), provider_name, group.1).to_lowercase(),
            2,
        ),
        (
            format!(
                "{} {}",
                spec.summary,
                columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.label))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
            .to_lowercase(),
            1,
        ),
    ];
    Package {
        code: rec.code.clone(),
        name: rec.code.to_lowercase(),
        id: packages::stable_id("package", &rec.code),
        title: spec.name.clone(),
        notes: spec.summary.clone(),
        access: if p.access == "public" {
            OpenAccess::Public
        } else {
            OpenAccess::Conditional
        },
        provider: spec.provider.clone(),
        provider_name,
        org_name: spec.provider.to_lowercase(),
        group,
        tags,
        update_cycle: spec.update_cycle,
        level: spec.level.code().into(),
        open_conditions: spec.open_conditions.clone(),
        created: parse_time(&p.first_published_at),
        modified: parse_time(&p.published_at),
        source_version: p.source_version,
        rows: p.rows,
        columns,
        views: c.views,
        downloads: c.downloads,
        api_calls: c.api_calls,
        haystack,
        rendered: OnceLock::new(),
    }
}
