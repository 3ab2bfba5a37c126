//! Aggregation (数据汇聚): every way data enters the hub — files, rows pushed by department
//! systems, scheduled pulls from department databases — runs through one pipeline:
//!
//! ```text
//! source ──records──▶ Assembler ──batches──▶ channel ──▶ Lake::write (one Delta commit)
//!   (blocking thread)     └──rejections──▶ loads/ID/rejects.csv
//! ```
//!
//! with a load record in the control plane that is created first, heart-beaten while the
//! load runs (that is the progress the console shows) and finished with the report.
//!
//! Invariants:
//! - Every access is decided by `shuniu_policy::decide`; this crate never trusts a caller.
//! - A load commits all its accepted rows or nothing. The producer ends the feed with
//!   `Feed::End` only after the whole input was read and the rejection limit held.
//! - Rejected rows are written to the rejects file and counted; none is dropped silently.

mod connectors;
mod error;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_catalog::Catalog;
use shuniu_ingest::source::{OwnedFields, SourceSummary};
use shuniu_ingest::{
    Assembler, BatchSink, ColumnPlan, IngestError, RecordSink, Rejection, SourceOptions,
};
use shuniu_lake::{Feed, Lake, QueryResult, VersionInfo, WriteMode};
use shuniu_policy::{Action, Target, decide};
use shuniu_quality::{Checker, LoadRejections, Quality};
use shuniu_store::{LoadOutcome, LoadProgress, LoadRecord, NewLoad, Store};
use shuniu_types::states::LoadStatus;
use shuniu_types::{Actor, Classified, DataItem, IdNumber};
use tokio::sync::mpsc;

pub use connectors::{ConnectorInput, ConnectorKind, masked_url};
pub use error::AggregateError;
pub use shuniu_lake::SqlOutput;

pub type Result<T, E = AggregateError> = std::result::Result<T, E>;

/// Options of one load.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub mode: WriteMode,
    pub source: SourceOptions,
    /// Name shown in the load history (the uploaded file's name).
    pub source_name: String,
    /// Skip file columns that match no data item instead of failing.
    pub ignore_unknown_columns: bool,
    /// Header → item mapping for this load only; otherwise the resource's saved mapping.
    pub mapping: Option<BTreeMap<String, String>>,
    /// Fail the whole load when more than this share of rows is rejected.
    pub max_reject_ratio: f64,
}

impl Default for LoadRequest {
    fn default() -> Self {
        LoadRequest {
            mode: WriteMode::Replace,
            source: SourceOptions::default(),
            source_name: String::new(),
            ignore_unknown_columns: false,
            mapping: None,
            max_reject_ratio: 0.5,
        }
    }
}

/// A table the caller may query.
#[derive(Debug, Clone, Serialize)]
pub struct TableInfo {
    pub code: String,
    pub name: String,
    pub provider: String,
    pub version: i64,
    pub loaded_at: String,
}

/// The aggregation service.
#[derive(Clone)]
pub struct Aggregation {
    catalog: Catalog,
    store: Store,
    audit: AuditLog,
    lake: Lake,
    quality: Quality,
    loads_dir: PathBuf,
    /// Connector source URLs (with their passwords) are sealed under it in the store.
    keys: shuniu_keys::MasterKey,
    /// Each committed version, for the engines that derive from datasets (the serving index).
    commits: tokio::sync::broadcast::Sender<(String, i64)>,
}

/// A load running in the background: its id, and a handle that ends with its record.
pub struct StartedLoad {
    pub id: String,
    pub done: tokio::task::JoinHandle<Result<LoadRecord>>,
}

/// How many rejection samples a load report keeps (reasons only, never values).
const REPORT_SAMPLES: usize = 20;
/// A running load that has not beaten its heart for this long died with its process.
const STALE_AFTER: Duration = Duration::from_secs(30);

fn new_load_id() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!(
        "L{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        hex::encode(b)
    )
}

impl Aggregation {
    /// The engines a load works with are built by the binary and handed in: the quality
    /// service every load reports to, the lake it writes. `loads_dir` keeps each load's
    /// rejected rows (`<data dir>/loads`).
    pub fn new(
        store: Store,
        audit: AuditLog,
        catalog: Catalog,
        quality: Quality,
        lake: Lake,
        loads_dir: &Path,
        keys: shuniu_keys::MasterKey,
    ) -> Result<Aggregation> {
        std::fs::create_dir_all(loads_dir).map_err(AggregateError::io)?;
        Ok(Aggregation {
            keys,
            store,
            audit,
            quality,
            catalog,
            lake,
            loads_dir: loads_dir.to_path_buf(),
            commits: tokio::sync::broadcast::channel(256).0,
        })
    }

    /// `(resource code, version)` of every load this process commits, from now on.
    pub fn subscribe_commits(&self) -> tokio::sync::broadcast::Receiver<(String, i64)> {
        self.commits.subscribe()
    }

    /// Starts a load of a file in the background and answers as soon as its record exists:
    /// its id (to poll), and a handle that ends with the finished record. A load that cannot
    /// start (refused, unreadable input) answers its error instead. `keep` is held until the
    /// load is done with the file (an upload's temporary file, removed when it drops).
    pub async fn start_file_load<K: Send + 'static>(
        &self,
        actor: Actor,
        code: String,
        path: PathBuf,
        req: LoadRequest,
        keep: K,
    ) -> Result<StartedLoad> {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<String>();
        let this = self.clone();
        let done = tokio::spawn(async move {
            let r = this
                .load_file(&actor, &code, &path, req, move |id| {
                    let _ = started_tx.send(id.to_string());
                })
                .await;
            drop(keep);
            r
        });
        match started_rx.await {
            Ok(id) => Ok(StartedLoad { id, done }),
            // The load ended before its record existed: its error says why.
            Err(_) => match done.await.map_err(AggregateError::join)? {
                Err(e) => Err(e),
                Ok(r) => Ok(StartedLoad {
                    id: r.id.clone(),
                    done: tokio::spawn(async move { Ok(r) }),
                }),
            },
        }
    }

    /// Dates a finished load back to `at`, as if it had run then: how the demo city shows
    /// datasets past their update cycle. Changes no data.
    pub async fn backdate_load(
        &self,
        load_id: &str,
        at: &chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.backdate_load(
            load_id,
            &at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks loads whose process died as interrupted. Run at startup and periodically.
    pub async fn recover(&self) -> Result<u64> {
        let before = (chrono::Utc::now()
            - chrono::Duration::from_std(STALE_AFTER).unwrap_or_default())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.store.begin().await?;
        let n = tx.interrupt_stale_loads(&before).await?;
        tx.commit().await?;
        // Connectors registered before sources were sealed get sealed now.
        self.seal_connector_urls().await?;
        Ok(n)
    }

    async fn authorize(
        &self,
        actor: &Actor,
        code: &str,
        action: Action,
    ) -> Result<shuniu_store::ResourceRecord> {
        let rec = self.catalog.get(actor, code).await?;
        if let Err(d) = decide(
            actor,
            action,
            Target::Resource {
                provider: &rec.spec.provider,
                status: rec.status,
            },
        ) {
            // Refused attempts at data are part of the record too.
            if action == Action::ReadData {
                self.audit
                    .record(
                        Entry::new(Kind::Access, "data.read", actor)
                            .resource(&rec.code, &rec.spec.provider)
                            .result(d.code),
                    )
                    .await?;
            }
            return Err(AggregateError::Denied(d));
        }
        Ok(rec)
    }

    /// Records data leaving a dataset: columns, row count, the SM3 of what was returned and
    /// the subjects (ID numbers, as keyed HMACs) in it. Returns once the entry is durable.
    async fn audit_access(
        &self,
        entry: Entry,
        rec: Option<&shuniu_store::ResourceRecord>,
        result: &QueryResult,
    ) -> Result<()> {
        let cells = result.to_strings();
        let mut digest = shuniu_ingest::source::Sm3Stream::default();
        for row in &cells {
            for c in row {
                digest.update(c.as_deref().unwrap_or("").as_bytes());
                digest.update(b"\x1f");
            }
            digest.update(b"\x1e");
        }
        let columns = result.columns();
        let mut subjects = std::collections::BTreeSet::new();
        if let Some(rec) = rec {
            for item in &rec.spec.data_items {
                if item.semantic_type != shuniu_types::SemanticType::IdNumber {
                    continue;
                }
                let Some(col) = columns.iter().position(|c| c == &item.name) else {
                    continue;
                };
                for row in &cells {
                    if let Some(Ok(id)) = row[col].as_deref().map(str::parse::<IdNumber>) {
                        subjects.insert(self.audit.subject(&id.to_string()));
                    }
                }
            }
        }
        let entry = entry
            .fields(columns)
            .rows(result.rows as u64)
            .digest(Some(digest.finish()))
            .subjects(subjects.into_iter().collect());
        self.audit.record(entry).await?;
        Ok(())
    }

    /// Refuses early (before a large upload is written to disk) when `actor` may not load
    /// into `code`. The load itself decides again.
    pub async fn may_load(&self, actor: &Actor, code: &str) -> Result<()> {
        self.authorize(actor, code, Action::LoadData)
            .await
            .map(|_| ())
    }

    /// The data items a load in `mode` fills: a delete needs only the keys.
    fn load_items(rec: &shuniu_store::ResourceRecord, mode: WriteMode) -> Vec<DataItem> {
        let items = &rec.spec.data_items;
        if mode == WriteMode::Delete {
            items.iter().filter(|i| i.is_key).cloned().collect()
        } else {
            items.clone()
        }
    }

    fn keys(rec: &shuniu_store::ResourceRecord) -> Vec<String> {
        rec.spec
            .data_items
            .iter()
            .filter(|i| i.is_key)
            .map(|i| i.name.clone())
            .collect()
    }

    /// Loads a file into a resource and waits for the result. The returned record says
    /// whether the load succeeded; `Err` means it could not even start (no permission, no
    /// such resource, unreadable header, unknown columns).
    pub async fn load_file(
        &self,
        actor: &Actor,
        code: &str,
        path: &Path,
        req: LoadRequest,
        on_start: impl FnOnce(&str) + Send + 'static,
    ) -> Result<LoadRecord> {
        let rec = self.authorize(actor, code, Action::LoadData).await?;
        let opts = req.source.clone();
        let p = path.to_path_buf();
        let source = tokio::task::spawn_blocking(move || shuniu_ingest::read_file(&p, &opts))
            .await
            .map_err(AggregateError::join)??;
        let plan = self.plan(&rec, &req, source.headers()).await?;
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let name = if req.source_name.is_empty() {
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
                .to_string()
        } else {
            req.source_name.clone()
        };
        let format = source.format().name().to_string();
        let progress = req.source.progress.clone();
        let load = self.new_load(actor, &rec, &req, &name, &format, bytes, None);
        self.run(
            &rec,
            load,
            plan,
            req.mode,
            req.max_reject_ratio,
            progress,
            Box::new(move |sink| source.run(sink)),
            Some(Box::new(on_start)),
        )
        .await
    }

    /// Rows pushed as JSON objects by a department system: one load, one version.
    pub async fn push_rows(
        &self,
        actor: &Actor,
        code: &str,
        mode: WriteMode,
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<LoadRecord> {
        let rec = self.authorize(actor, code, Action::LoadData).await?;
        if rows.is_empty() {
            return Err(AggregateError::invalid(
                "NO_ROWS",
                "请求中没有数据行",
                "the request has no rows",
            ));
        }
        let req = LoadRequest {
            mode,
            source_name: format!("api-push ({} rows)", rows.len()),
            ..Default::default()
        };
        // Systems may key objects by item name or Chinese label, even within one batch:
        // name every value by its item before the header is formed.
        let names: BTreeMap<String, String> = rec
            .spec
            .data_items
            .iter()
            .flat_map(|i| {
                [
                    (shuniu_ingest::normalise_header(&i.name), i.name.clone()),
                    (shuniu_ingest::normalise_header(&i.label), i.name.clone()),
                ]
            })
            .collect();
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .into_iter()
            .map(|obj| {
                obj.into_iter()
                    .map(|(k, v)| {
                        let k = names
                            .get(&shuniu_ingest::normalise_header(&k))
                            .cloned()
                            .unwrap_or(k);
                        (k, v)
                    })
                    .collect()
            })
            .collect();
        let body = serde_json::to_vec(&rows).unwrap_or_default();
        let digest = shuniu_ingest::source::sm3_hex(&body);
        let (headers, _) = shuniu_ingest::read_json_rows(&rows);
        let plan = self.plan(&rec, &req, &headers).await?;
        let load = self.new_load(
            actor,
            &rec,
            &req,
            &req.source_name,
            "json",
            body.len() as u64,
            None,
        );
        let nbytes = body.len() as u64;
        self.run(
            &rec,
            load,
            plan,
            mode,
            req.max_reject_ratio,
            Arc::new(AtomicU64::new(0)),
            Box::new(move |sink| {
                let (_, records) = shuniu_ingest::read_json_rows(&rows);
                for (line, fields) in records {
                    sink.record(line, &fields)?;
                }
                Ok(SourceSummary {
                    format: shuniu_ingest::FileFormat::Json,
                    encoding: Some("utf-8"),
                    bytes: nbytes,
                    sm3: digest,
                })
            }),
            None,
        )
        .await
    }

    /// Rows the hub derives from other datasets (a base library): one load, one version, the
    /// same pipeline, checks and history as a department's load. `produce` runs on a blocking
    /// thread and hands over records whose fields follow `headers` (item names). A derived row
    /// that does not fit its item is a fault of the derivation: none may be rejected.
    pub async fn load_derived(
        &self,
        actor: &Actor,
        code: &str,
        mode: WriteMode,
        source_name: &str,
        headers: &[String],
        produce: Producer,
    ) -> Result<LoadRecord> {
        let rec = self.authorize(actor, code, Action::LoadData).await?;
        let req = LoadRequest {
            mode,
            source_name: source_name.to_string(),
            mapping: Some(BTreeMap::new()),
            max_reject_ratio: 0.0,
            ..Default::default()
        };
        let plan = self.plan(&rec, &req, headers).await?;
        let load = self.new_load(actor, &rec, &req, source_name, "derived", 0, None);
        self.run(
            &rec,
            load,
            plan,
            mode,
            req.max_reject_ratio,
            Arc::new(AtomicU64::new(0)),
            produce,
            None,
        )
        .await
    }

    async fn plan(
        &self,
        rec: &shuniu_store::ResourceRecord,
        req: &LoadRequest,
        headers: &[String],
    ) -> Result<ColumnPlan> {
        let mapping = match &req.mapping {
            Some(m) => m.clone(),
            None => self.store.column_mapping(&rec.code).await?,
        };
        let items = Self::load_items(rec, req.mode);
        let ignore = req.ignore_unknown_columns || req.mode == WriteMode::Delete;
        Ok(ColumnPlan::resolve(&items, headers, &mapping, ignore)?)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_load(
        &self,
        actor: &Actor,
        rec: &shuniu_store::ResourceRecord,
        req: &LoadRequest,
        name: &str,
        format: &str,
        bytes: u64,
        connector: Option<&str>,
    ) -> NewLoad {
        NewLoad {
            id: new_load_id(),
            resource_code: rec.code.clone(),
            mode: req.mode.name().into(),
            principal: actor.principal.clone(),
            department_code: actor.department.clone(),
            connector_id: connector.map(str::to_string),
            source_name: name.chars().take(200).collect(),
            source_format: format.into(),
            source_bytes: bytes as i64,
        }
    }

    /// Scratch space for uploads on their way into a load (same disk as the lake).
    pub fn upload_dir(&self) -> PathBuf {
        self.loads_dir.join("_uploads")
    }

    pub fn rejects_path(&self, load_id: &str) -> PathBuf {
        self.loads_dir.join(load_id).join("rejects.csv")
    }

    /// The pipeline: producer on a blocking thread, lake writer here, heartbeat beside.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        rec: &shuniu_store::ResourceRecord,
        load: NewLoad,
        plan: ColumnPlan,
        mode: WriteMode,
        max_reject_ratio: f64,
        bytes_read: Arc<AtomicU64>,
        produce: Producer,
        on_start: Option<OnStart>,
    ) -> Result<LoadRecord> {
        let started = Instant::now();
        {
            let mut tx = self.store.begin().await?;
            tx.insert_load(&load).await?;
            tx.commit().await?;
        }
        if let Some(f) = on_start {
            f(&load.id);
        }
        let id = load.id.clone();
        let counters = Arc::new(Counters::default());
        let (feed_tx, feed_rx) = mpsc::channel::<Feed>(4);
        let rejects_path = self.rejects_path(&id);
        let assembler_plan = plan.clone();
        let schema = shuniu_ingest::arrow_schema(
            &plan
                .columns
                .iter()
                .map(|c| c.item.clone())
                .collect::<Vec<_>>(),
        );
        // Sensitive items (敏感) are sealed by the lake, cell by cell.
        let schema = shuniu_lake::mark_sensitive(&schema, |name| {
            plan.columns
                .iter()
                .any(|c| c.item.sensitive && c.item.name == name)
        });
        let c2 = counters.clone();
        let (check_tx, checking) = self.start_checker(rec, mode, &id).await?.unzip();
        let producer = tokio::task::spawn_blocking(move || {
            produce_feed(
                assembler_plan,
                produce,
                feed_tx,
                check_tx,
                rejects_path,
                c2,
                max_reject_ratio,
            )
        });
        let metadata = vec![
            ("shuniu.load_id".to_string(), serde_json::json!(id)),
            (
                "shuniu.principal".to_string(),
                serde_json::json!(load.principal),
            ),
            ("shuniu.mode".to_string(), serde_json::json!(mode.name())),
        ];
        let keys = Self::keys(rec);
        let write = self
            .lake
            .write(&rec.code, schema, mode, &keys, feed_rx, metadata);
        let written = self
            .with_heartbeat(&id, &counters, &bytes_read, write)
            .await;
        let produced = producer.await.map_err(AggregateError::join)?;
        let checker = match checking {
            Some(h) => Some(
                tokio::task::spawn_blocking(move || h.join())
                    .await
                    .map_err(AggregateError::join)?
                    .map_err(|_| AggregateError::Internal("the quality checker panicked".into()))?,
            ),
            None => None,
        };
        let mut outcome = outcome_of(&plan, mode, &produced, written);
        outcome.progress = counters.progress(&bytes_read);
        outcome.duration_ms = started.elapsed().as_millis() as i64;
        if let Ok(p) = &produced {
            outcome.progress.bytes_read = p.summary.bytes as i64;
        }
        self.finish(rec, &load, outcome, &plan, produced, checker)
            .await
    }

    /// A replacing load's rows are the new version: they are checked as they stream by, on a
    /// thread of their own (the sender feeds it, the handle gives the checker back). Other
    /// modes merge into earlier rows, so their version is checked after it commits.
    async fn start_checker(
        &self,
        rec: &shuniu_store::ResourceRecord,
        mode: WriteMode,
        id: &str,
    ) -> Result<
        Option<(
            std::sync::mpsc::SyncSender<RecordBatch>,
            std::thread::JoinHandle<Checker>,
        )>,
    > {
        let checker = match mode {
            WriteMode::Replace => match self.quality.checker(rec).await {
                Ok(c) => Some(c),
                Err(e) => {
                    // Stored rules compiled when saved; this is a damaged store, and the
                    // load itself must not fail for it.
                    tracing::warn!(resource = %rec.code, error = %e, "quality rules do not compile");
                    None
                }
            },
            _ => None,
        };
        let Some(mut checker) = checker else {
            return Ok(None);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
        let handle = std::thread::Builder::new()
            .name(format!("check-{id}"))
            .spawn(move || {
                for b in rx {
                    checker.check(&b);
                }
                checker
            })
            .map_err(AggregateError::io)?;
        Ok(Some((tx, handle)))
    }

    /// Drives the lake write to its end, writing the load's progress into its record every
    /// second meanwhile (what the console's progress bar and `shuniu loads` show).
    async fn with_heartbeat<T>(
        &self,
        id: &str,
        counters: &Counters,
        bytes_read: &AtomicU64,
        write: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(write);
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        beat.tick().await;
        loop {
            tokio::select! {
                r = &mut write => break r,
                _ = beat.tick() => {
                    let p = counters.progress(bytes_read);
                    if let Ok(mut tx) = self.store.begin().await {
                        let _ = tx.update_load_progress(id, &p).await;
                        let _ = tx.commit().await;
                    }
                }
            }
        }
    }

    /// Records how the load ended, audits it, announces its version, and checks it.
    async fn finish(
        &self,
        rec: &shuniu_store::ResourceRecord,
        load: &NewLoad,
        outcome: LoadOutcome,
        plan: &ColumnPlan,
        produced: std::result::Result<Produced, ProduceFailure>,
        checker: Option<Checker>,
    ) -> Result<LoadRecord> {
        let id = load.id.clone();
        let plan_columns: Vec<String> = plan.columns.iter().map(|c| c.item.name.clone()).collect();
        if outcome.progress.rows_rejected == 0 {
            let _ = std::fs::remove_file(self.rejects_path(&id));
            let _ = std::fs::remove_dir(self.loads_dir.join(&id));
        }
        let mut tx = self.store.begin().await?;
        tx.finish_load(&id, &outcome).await?;
        tx.commit().await?;
        let mut entry = Entry::by(
            Kind::Load,
            "data.load",
            &load.principal,
            &load.department_code,
        )
        .resource(&rec.code, &rec.spec.provider)
        .target(&id)
        .rows(outcome.progress.rows_accepted.max(0) as u64)
        .fields(plan_columns)
        .digest(outcome.source_sm3.clone())
        .detail(format!("{} {}", load.mode, load.source_name));
        if let Some((code, _, _)) = &outcome.error {
            entry = entry.result(code);
        }
        self.audit.record(entry).await?;
        if let Some(version) = outcome.version {
            // Nobody listening is fine: derived data catches up on its own schedule.
            let _ = self.commits.send((rec.code.clone(), version));
        }
        if let (Ok(p), Some(version)) = (&produced, outcome.version) {
            // The data is committed whatever the check finds; a failing check is logged,
            // and the version can be checked again on demand.
            if let Err(e) = self
                .check_load(rec, load, version, checker, p, outcome.progress.rows_read)
                .await
            {
                tracing::warn!(load = %id, resource = %rec.code, error = %e, "quality check of the load failed");
            }
        }
        tracing::info!(
            load = %id,
            resource = %rec.code,
            status = %outcome.status,
            rows_accepted = outcome.progress.rows_accepted,
            rows_rejected = outcome.progress.rows_rejected,
            version = ?outcome.version,
            duration_ms = outcome.duration_ms,
            "load finished"
        );
        self.store
            .load(&id)
            .await?
            .ok_or_else(|| AggregateError::Internal(format!("load {id} vanished")))
    }

    /// Scores the version a load wrote and cross-checks it against authoritative sources.
    async fn check_load(
        &self,
        rec: &shuniu_store::ResourceRecord,
        load: &NewLoad,
        version: i64,
        checker: Option<Checker>,
        produced: &Produced,
        rows_read: i64,
    ) -> Result<()> {
        let (rows, results) = match checker {
            Some(c) => (c.rows(), c.finish()),
            None => self.quality.scan_version(rec, version).await?,
        };
        let rejections = LoadRejections {
            rows_read: rows_read.max(0) as u64,
            by_code_column: produced
                .by_code_column
                .iter()
                .map(|((code, col), n)| ((code.to_string(), col.clone()), *n))
                .collect(),
            samples: produced
                .samples
                .iter()
                .map(|s| shuniu_quality::Sample {
                    row: Some(s.line),
                    key: None,
                    value: None,
                    reason: Some(format!(
                        "{} {}{}",
                        s.code,
                        s.column
                            .as_deref()
                            .map(|c| format!("{c}: "))
                            .unwrap_or_default(),
                        s.reason_zh
                    )),
                })
                .collect(),
        };
        self.quality
            .record_load_check(
                rec,
                &load.principal,
                &load.department_code,
                &load.id,
                version,
                rows,
                results,
                &rejections,
            )
            .await?;
        self.quality
            .cross_check_resource(&rec.code, &load.principal, &load.department_code)
            .await?;
        Ok(())
    }

    /// A load's record, for whoever may see the resource's data.
    pub async fn load_record(&self, actor: &Actor, id: &str) -> Result<LoadRecord> {
        Ok(self.authorized_load(actor, id).await?.0)
    }

    /// A load and its resource, for whoever may see the resource's data.
    async fn authorized_load(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(LoadRecord, shuniu_store::ResourceRecord)> {
        let l = self
            .store
            .load(id)
            .await?
            .ok_or_else(|| AggregateError::NotFound(format!("load {id}")))?;
        let rec = self
            .authorize(actor, &l.resource_code, Action::ReadData)
            .await?;
        Ok((l, rec))
    }

    /// The rejected rows of a load, as a CSV file path, if any were rejected.
    pub async fn rejects(&self, actor: &Actor, id: &str) -> Result<Option<PathBuf>> {
        let (l, rec) = self.authorized_load(actor, id).await?;
        let p = self.rejects_path(&l.id);
        if !p.exists() {
            return Ok(None);
        }
        self.audit
            .record(
                Entry::new(Kind::Access, "data.rejects", actor)
                    .resource(&l.resource_code, &rec.spec.provider)
                    .target(&l.id)
                    .rows(l.rows_rejected.max(0) as u64),
            )
            .await?;
        Ok(Some(p))
    }

    /// Load history of one resource, newest first.
    /// Loads of every resource the actor may read the data of (the hub: all; a department:
    /// its own), newest first, optionally in one state or matching `text`.
    pub async fn all_loads(
        &self,
        actor: &Actor,
        status: Option<LoadStatus>,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<LoadRecord>)> {
        let scope = shuniu_policy::require_scope(actor, Action::ReadData)
            .map_err(AggregateError::Denied)?;
        Ok(self
            .store
            .loads_where(
                scope.department(),
                status.map(|s| s.code()),
                text.trim(),
                offset,
                limit,
            )
            .await?)
    }

    /// Per department, the loads that committed a version since `since` (RFC 3339) and the
    /// rows they accepted: (department, loads, rows). Public figures, as the hub's screen shows.
    pub async fn volume(&self, since: &str) -> Result<Vec<(String, i64, i64)>> {
        Ok(self.store.load_volume(since).await?)
    }

    pub async fn loads(
        &self,
        actor: &Actor,
        code: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<LoadRecord>)> {
        self.authorize(actor, code, Action::ReadData).await?;
        Ok(self.store.loads(Some(code), offset, limit).await?)
    }

    pub async fn mapping(&self, actor: &Actor, code: &str) -> Result<BTreeMap<String, String>> {
        self.authorize(actor, code, Action::ReadData).await?;
        Ok(self.store.column_mapping(code).await?)
    }

    /// Saves a resource's header → item mapping; every target must be a data item (or ""
    /// to skip the column).
    pub async fn set_mapping(
        &self,
        actor: &Actor,
        code: &str,
        mapping: &BTreeMap<String, String>,
    ) -> Result<()> {
        let rec = self.authorize(actor, code, Action::LoadData).await?;
        let bad: Vec<&String> = mapping
            .values()
            .filter(|v| {
                !v.is_empty() && *v != "-" && !rec.spec.data_items.iter().any(|i| &i.name == *v)
            })
            .collect();
        if !bad.is_empty() {
            let list = bad
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AggregateError::invalid(
                "MAPPING_INVALID",
                format!("列映射指向不存在的信息项：{list}"),
                format!("the mapping names data items the resource does not have: {list}"),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.set_column_mapping(code, mapping, &actor.principal)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The first rows of the current version (or of `version`).
    pub async fn preview(
        &self,
        actor: &Actor,
        code: &str,
        version: Option<i64>,
        limit: usize,
        purpose: Option<&str>,
    ) -> Result<Option<QueryResult>> {
        let rec = self.authorize(actor, code, Action::ReadData).await?;
        let Some(current) = self.lake.version(code).await? else {
            return Ok(None);
        };
        if let Some(v) = version
            && (v < 0 || v > current)
        {
            return Err(shuniu_lake::LakeError::NoSuchVersion {
                code: code.into(),
                version: v,
            }
            .into());
        }
        let result = self.lake.preview(code, version, limit.min(1000)).await?;
        let mut entry = Entry::new(Kind::Access, "data.preview", actor)
            .resource(&rec.code, &rec.spec.provider)
            .purpose(purpose.map(|p| p.chars().take(200).collect()));
        if let Some(v) = version {
            entry = entry.target(format!("v{v}"));
        }
        self.audit_access(entry, Some(&rec), &result).await?;
        Ok(Some(result))
    }

    pub async fn versions(&self, actor: &Actor, code: &str) -> Result<Vec<VersionInfo>> {
        self.authorize(actor, code, Action::ReadData).await?;
        Ok(self.lake.history(code, 100).await?)
    }

    /// Current version of a resource's dataset (no access check: the number is metadata).
    pub async fn current_version(&self, code: &str) -> Result<Option<i64>> {
        Ok(self.lake.version(code).await?)
    }

    /// Tables the actor may query with SQL: every resource with data, for the hub operator.
    pub async fn tables(&self, actor: &Actor) -> Result<Vec<TableInfo>> {
        decide(actor, Action::QueryLake, Target::Hub).map_err(AggregateError::Denied)?;
        let latest = self.store.latest_versions().await?;
        let codes: Vec<String> = latest.iter().map(|l| l.0.clone()).collect();
        let recs = self.store.resources_by_code(&codes).await?;
        Ok(latest
            .into_iter()
            .zip(recs)
            .map(|((code, version, at), rec)| TableInfo {
                code,
                name: rec.spec.name,
                provider: rec.spec.provider,
                version,
                loaded_at: at,
            })
            .collect())
    }

    /// Runs read-only SQL over every table (hub operator).
    pub async fn sql(&self, actor: &Actor, sql: &str, max_rows: usize) -> Result<QueryResult> {
        let tables = self
            .tables(actor)
            .await?
            .into_iter()
            .map(|t| t.code)
            .collect();
        let result = self.lake.sql(tables, sql, max_rows).await?;
        // The audit entry names what the statement read: the resource when it read one
        // table, and every table it read (with versions) in the target.
        let read: Vec<&str> = result
            .tables
            .iter()
            .map(|t| shuniu_lake::split_version(t).0)
            .collect();
        let mut entry = Entry::new(Kind::Access, "data.query", actor)
            .detail(sql)
            .target(result.tables.join(","));
        // One table read: the entry is about that resource, and the people whose ID numbers
        // the answer holds find the query in their own record.
        let rec = match read.as_slice() {
            [one] => self
                .store
                .resources_by_code(&[one.to_string()])
                .await?
                .into_iter()
                .next(),
            _ => None,
        };
        if let Some(rec) = &rec {
            entry = entry.resource(&rec.code, &rec.spec.provider);
        }
        self.audit_access(entry, rec.as_ref(), &result).await?;
        Ok(result)
    }
}

/// Told the load's id once its record exists.
pub type OnStart = Box<dyn FnOnce(&str) + Send>;

/// Reads the input into the sink; runs on a blocking thread.
pub type Producer =
    Box<dyn FnOnce(&mut dyn RecordSink) -> std::result::Result<SourceSummary, IngestError> + Send>;

#[derive(Default)]
struct Counters {
    rows_read: AtomicU64,
    rows_accepted: AtomicU64,
    rows_rejected: AtomicU64,
}

impl Counters {
    fn progress(&self, bytes: &AtomicU64) -> LoadProgress {
        LoadProgress {
            bytes_read: bytes.load(Ordering::Relaxed) as i64,
            rows_read: self.rows_read.load(Ordering::Relaxed) as i64,
            rows_accepted: self.rows_accepted.load(Ordering::Relaxed) as i64,
            rows_rejected: self.rows_rejected.load(Ordering::Relaxed) as i64,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Sample {
    line: u64,
    column: Option<String>,
    code: &'static str,
    reason_zh: String,
    reason_en: String,
}

/// What the rejects file shows in place of a sensitive item's value.
const WITHHELD: &str = "【敏感信息项，已隐去 / sensitive item, withheld】";

/// Sends batches to the lake writer and rejections to the rejects file.
struct FeedSink {
    tx: mpsc::Sender<Feed>,
    check: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    rejects_path: PathBuf,
    rejects: Option<csv::Writer<std::fs::File>>,
    headers: Vec<String>,
    /// Source columns that fill sensitive items: withheld from the rejects file, which is
    /// plain CSV on disk, as the lake never holds them in clear.
    withheld: Vec<usize>,
    counters: Arc<Counters>,
    by_code: BTreeMap<&'static str, u64>,
    by_code_column: BTreeMap<(&'static str, Option<String>), u64>,
    samples: Vec<Sample>,
}

impl BatchSink for FeedSink {
    fn batch(&mut self, batch: RecordBatch) -> std::result::Result<(), IngestError> {
        self.counters
            .rows_accepted
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        if let Some(check) = &self.check {
            // Arrays are shared, not copied. A checker that died only loses the check.
            if check.send(batch.clone()).is_err() {
                self.check = None;
            }
        }
        self.tx
            .blocking_send(Feed::Batch(batch))
            .map_err(|_| IngestError::Stopped("the lake writer stopped".into()))
    }

    fn rejected(&mut self, r: Rejection) -> std::result::Result<(), IngestError> {
        self.counters.rows_rejected.fetch_add(1, Ordering::Relaxed);
        *self.by_code.entry(r.code).or_default() += 1;
        *self
            .by_code_column
            .entry((r.code, r.column.clone()))
            .or_default() += 1;
        if self.rejects.is_none() {
            if let Some(dir) = self.rejects_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::File::create(&self.rejects_path)?;
            // A BOM so that Excel opens the Chinese text correctly.
            std::io::Write::write_all(&mut f, b"\xEF\xBB\xBF")?;
            // Rejected rows may be ragged: that is often why they were rejected.
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(f);
            let mut head = vec![
                "行号 line".to_string(),
                "信息项 item".to_string(),
                "错误代码 code".to_string(),
                "原因".to_string(),
                "reason".to_string(),
            ];
            head.extend(self.headers.iter().cloned());
            w.write_record(&head).map_err(csv_io)?;
            self.rejects = Some(w);
        }
        if let Some(w) = self.rejects.as_mut() {
            let mut rec = vec![
                r.line.to_string(),
                r.column.clone().unwrap_or_default(),
                r.code.to_string(),
                r.reason_zh.clone(),
                r.reason_en.clone(),
            ];
            rec.extend(r.raw.into_iter().enumerate().map(|(i, v)| {
                if self.withheld.contains(&i) && !v.is_empty() {
                    WITHHELD.to_string()
                } else {
                    v
                }
            }));
            w.write_record(&rec).map_err(csv_io)?;
        }
        if self.samples.len() < REPORT_SAMPLES {
            self.samples.push(Sample {
                line: r.line,
                column: r.column,
                code: r.code,
                reason_zh: r.reason_zh,
                reason_en: r.reason_en,
            });
        }
        Ok(())
    }
}

fn csv_io(e: csv::Error) -> IngestError {
    IngestError::Io(std::io::Error::other(e.to_string()))
}

/// Counts rows as the assembler reads them.
struct CountingSink<'a, S: RecordSink> {
    inner: &'a mut S,
    counters: &'a Counters,
}

impl<S: RecordSink> RecordSink for CountingSink<'_, S> {
    fn record(
        &mut self,
        line: u64,
        fields: &dyn shuniu_ingest::Fields,
    ) -> std::result::Result<(), IngestError> {
        if !fields.is_blank() {
            self.counters.rows_read.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.record(line, fields)
    }
    fn bad_record(
        &mut self,
        line: u64,
        raw: Vec<String>,
        code: &'static str,
        zh: String,
        en: String,
    ) -> std::result::Result<(), IngestError> {
        self.counters.rows_read.fetch_add(1, Ordering::Relaxed);
        self.inner.bad_record(line, raw, code, zh, en)
    }
}

struct Produced {
    summary: SourceSummary,
    by_code: BTreeMap<&'static str, u64>,
    by_code_column: BTreeMap<(&'static str, Option<String>), u64>,
    samples: Vec<Sample>,
}

struct ProduceFailure {
    code: &'static str,
    zh: String,
    en: String,
    by_code: BTreeMap<&'static str, u64>,
    samples: Vec<Sample>,
}

fn produce_feed(
    plan: ColumnPlan,
    produce: Producer,
    tx: mpsc::Sender<Feed>,
    check: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    rejects_path: PathBuf,
    counters: Arc<Counters>,
    max_reject_ratio: f64,
) -> std::result::Result<Produced, ProduceFailure> {
    let sink = FeedSink {
        tx: tx.clone(),
        check,
        rejects_path,
        rejects: None,
        headers: plan.headers.clone(),
        withheld: plan
            .columns
            .iter()
            .filter(|c| c.item.sensitive)
            .filter_map(|c| c.source)
            .collect(),
        counters: counters.clone(),
        by_code: BTreeMap::new(),
        by_code_column: BTreeMap::new(),
        samples: Vec::new(),
    };
    let mut asm = Assembler::new(plan, sink);
    let result = {
        let mut counting = CountingSink {
            inner: &mut asm,
            counters: &counters,
        };
        produce(&mut counting)
    };
    let (read, rejected) = (asm.rows_read, asm.rows_rejected);
    let finished = asm.finish();
    let fail = |code: &'static str, zh: String, en: String, sink: Option<FeedSink>| {
        let _ = tx.blocking_send(Feed::Fail(en.clone()));
        let (by_code, samples) = sink
            .map(|mut s| {
                s.check = None;
                (s.by_code, s.samples)
            })
            .unwrap_or_default();
        Err(ProduceFailure {
            code,
            zh,
            en,
            by_code,
            samples,
        })
    };
    match (result, finished) {
        (Err(e), s) => fail(e.code(), e.message_zh(), e.to_string(), s.ok()),
        (Ok(_), Err(e)) => fail(e.code(), e.message_zh(), e.to_string(), None),
        (Ok(summary), Ok(sink)) => finish_ok(summary, sink, read, rejected, max_reject_ratio, &tx),
    }
}

fn finish_ok(
    summary: SourceSummary,
    mut sink: FeedSink,
    read: u64,
    rejected: u64,
    max_reject_ratio: f64,
    tx: &mpsc::Sender<Feed>,
) -> std::result::Result<Produced, ProduceFailure> {
    if let Some(w) = sink.rejects.as_mut() {
        let _ = w.flush();
    }
    // Ends the checker's input before the writer is told the feed is complete.
    sink.check = None;
    let failure = if read == 0 {
        Some((
            "NO_ROWS",
            "文件没有数据行".to_string(),
            "the input has no data rows".to_string(),
        ))
    } else if rejected as f64 > max_reject_ratio * read as f64 || rejected == read {
        Some((
            "TOO_MANY_REJECTED",
            format!(
                "{read} 行中有 {rejected} 行不合格，超过允许的 {:.0}%，本次汇聚不提交，数据集保持上一版本。请下载不合格行查看原因",
                max_reject_ratio * 100.0
            ),
            format!(
                "{rejected} of {read} rows were rejected, more than the {:.0}% allowed; nothing was committed and the dataset keeps its previous version. Download the rejected rows for the reasons",
                max_reject_ratio * 100.0
            ),
        ))
    } else {
        None
    };
    match failure {
        Some((code, zh, en)) => {
            let _ = tx.blocking_send(Feed::Fail(en.clone()));
            Err(ProduceFailure {
                code,
                zh,
                en,
                by_code: sink.by_code,
                samples: sink.samples,
            })
        }
        None => {
            let _ = tx.blocking_send(Feed::End);
            Ok(Produced {
                summary,
                by_code: sink.by_code,
                by_code_column: sink.by_code_column,
                samples: sink.samples,
            })
        }
    }
}

/// Feeds owned rows (database pulls) through the same pipeline.
pub(crate) fn rows_producer(
    mut rows: mpsc::Receiver<std::result::Result<(u64, OwnedFields), String>>,
) -> Producer {
    Box::new(move |sink| {
        let mut bytes = 0u64;
        let mut hasher = shuniu_ingest::source::Sm3Stream::default();
        while let Some(item) = rows.blocking_recv() {
            let (line, fields) = item.map_err(|e| {
                IngestError::input(
                    "SOURCE_DATABASE_FAILED",
                    format!("读取源数据库失败：{e}"),
                    format!("reading the source database failed: {e}"),
                )
            })?;
            for v in fields.0.iter() {
                let s = v.as_deref().unwrap_or("\u{0}");
                bytes += s.len() as u64 + 1;
                hasher.update(s.as_bytes());
                hasher.update(b"\x1f");
            }
            hasher.update(b"\n");
            sink.record(line, &fields)?;
        }
        Ok(SourceSummary {
            format: shuniu_ingest::FileFormat::Csv,
            encoding: None,
            bytes,
            sm3: hasher.finish(),
        })
    })
}

/// How a load ended, from what the producer and the lake writer said: status, version and
/// row counts, the error that stopped it, and the report (columns, rejections by reason).
fn outcome_of(
    plan: &ColumnPlan,
    mode: WriteMode,
    produced: &std::result::Result<Produced, ProduceFailure>,
    written: std::result::Result<shuniu_lake::Committed, shuniu_lake::LakeError>,
) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let mut report = serde_json::json!({
        "columns": plan.columns.iter().map(|c| serde_json::json!({
            "item": c.item.name,
            "label": c.item.label,
            "source": c.source.and_then(|s| plan.headers.get(s)),
        })).collect::<Vec<_>>(),
        "ignored_columns": plan.ignored,
        "absent_items": plan.absent,
    });
    match produced {
        Ok(p) => {
            outcome.source_encoding = p.summary.encoding.map(str::to_string);
            outcome.source_sm3 = Some(p.summary.sm3.clone());
            outcome.source_bytes = p.summary.bytes as i64;
            report["rejections_by_code"] = serde_json::json!(p.by_code);
            report["rejection_samples"] = serde_json::json!(p.samples);
        }
        Err(f) => {
            report["rejections_by_code"] = serde_json::json!(f.by_code);
            report["rejection_samples"] = serde_json::json!(f.samples);
        }
    }
    match (produced, written) {
        // The producer stopped because the writer failed: the writer's error is the cause.
        (Err(f), Err(e)) if f.code == "LOAD_STOPPED" => {
            outcome.status = LoadStatus::Failed;
            let p = e.problem();
            outcome.error = Some((p.code.to_string(), p.message_zh, p.message_en));
        }
        (Err(f), _) => {
            outcome.status = LoadStatus::Failed;
            outcome.error = Some((f.code.to_string(), f.zh.clone(), f.en.clone()));
        }
        (Ok(_), Err(e)) => {
            outcome.status = LoadStatus::Failed;
            let p = e.problem();
            outcome.error = Some((p.code.to_string(), p.message_zh, p.message_en));
        }
        (Ok(_), Ok(c)) => {
            outcome.status = LoadStatus::Succeeded;
            outcome.version = Some(c.version);
            outcome.rows_inserted = c.rows_inserted as i64;
            outcome.rows_updated = c.rows_updated as i64;
            outcome.rows_deleted = c.rows_deleted as i64;
            if mode == WriteMode::Delete {
                outcome.rows_inserted = 0;
            }
        }
    }
    outcome.report = report;
    outcome
}
