//! The data lake: one Delta Lake table per catalog resource, written in single commits and
//! read with Apache DataFusion.
//!
//! Layout: the table of resource `CODE` lives at `<root>/CODE/` — `<data dir>/lake/CODE/` on
//! local disk, `s3://bucket/prefix/CODE/` on S3-compatible storage — with its `_delta_log/`
//! beside the Parquet files, so Spark, DuckDB or any Delta reader opens it unchanged.
//!
//! Invariants:
//! - A load is one Delta commit. The batches of a write arrive through a [`BatchFeed`] that
//!   must end with [`Feed::End`]; a feed that fails or just stops aborts the write before
//!   the commit, so readers never see part of a load and the previous version stays.
//! - Nothing here knows about users, policy or the control plane: callers decide who may
//!   write and read; this crate only stores and queries.

mod changes;
mod query;
mod sealed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use object_store::DynObjectStore;
use serde::Serialize;
use tokio::sync::mpsc;
use url::Url;

pub use changes::Changes;
pub use datafusion;
pub use deltalake;
pub use query::{BatchStream, Pinned, QueryResult, SqlOutput, split_version};
pub use sealed::{DIGEST_SUFFIX, SEALED, SENSITIVE, mark_sensitive};

/// Errors with stable codes.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("the dataset of {0} has no data yet")]
    NoData(String),
    #[error("version {version} of {code} does not exist")]
    NoSuchVersion { code: String, version: i64 },
    #[error("{0}")]
    Input(String),
    #[error("duplicate keys in the input: {0}")]
    DuplicateKeys(String),
    #[error("SQL: {0}")]
    Sql(String),
    #[error("the input stopped before its end: {0}")]
    Aborted(String),
    #[error("Delta Lake: {0}")]
    Delta(#[from] DeltaTableError),
    #[error("DataFusion: {0}")]
    DataFusion(#[from] DataFusionError),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
}

impl From<datafusion::arrow::error::ArrowError> for LakeError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        LakeError::DataFusion(e.into())
    }
}

impl shuniu_types::Classified for LakeError {
    fn problem(&self) -> shuniu_types::Problem {
        use shuniu_types::ErrorKind as K;
        let kind = match self {
            LakeError::NoData(_) | LakeError::NoSuchVersion { .. } => K::NotFound,
            LakeError::Input(_) | LakeError::DuplicateKeys(_) | LakeError::Sql(_) => K::Invalid,
            LakeError::Aborted(_)
            | LakeError::Delta(_)
            | LakeError::DataFusion(_)
            | LakeError::Io(_)
            | LakeError::Config(_) => K::Internal,
        };
        let zh = match self {
            LakeError::NoData(c) => format!("资源 {c} 还没有汇聚数据"),
            LakeError::NoSuchVersion { code, version } => {
                format!("资源 {code} 不存在版本 {version}")
            }
            LakeError::Input(m) => format!("输入不符合要求：{m}"),
            LakeError::DuplicateKeys(k) => {
                format!("输入中有重复的主键，更新或删除无法确定对应的行：\n{k}")
            }
            LakeError::Sql(m) => format!("SQL 有误：{}（{m}）", sql_error_zh(m)),
            LakeError::Aborted(m) => format!("汇聚已中止，未提交任何数据：{m}"),
            LakeError::Delta(m) => format!("写入数据湖失败，未提交任何数据：{m}"),
            LakeError::DataFusion(m) => format!("查询失败：{m}"),
            LakeError::Io(m) => format!("存储读写失败：{m}"),
            LakeError::Config(m) => format!("数据湖配置有误：{m}"),
        };
        shuniu_types::Problem::new(kind, self.code(), zh, self.to_string())
    }
}

impl LakeError {
    pub fn code(&self) -> &'static str {
        match self {
            LakeError::NoData(_) => "NO_DATA",
            LakeError::NoSuchVersion { .. } => "NO_SUCH_VERSION",
            LakeError::Input(_) => "INPUT_INVALID",
            LakeError::DuplicateKeys(_) => "DUPLICATE_KEYS",
            LakeError::Sql(_) => "SQL_INVALID",
            LakeError::Aborted(_) => "LOAD_ABORTED",
            LakeError::Delta(_) => "LAKE_WRITE_FAILED",
            LakeError::DataFusion(_) => "QUERY_FAILED",
            LakeError::Io(_) => "STORAGE_FAILED",
            LakeError::Config(_) => "LAKE_CONFIG_INVALID",
        }
    }
}

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// How a load changes the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// The load becomes the whole dataset (全量).
    Replace,
    /// The load's rows are added (增量追加).
    Append,
    /// Rows whose key exists are replaced, others inserted.
    Upsert,
    /// Rows whose key matches are removed.
    Delete,
}

impl std::str::FromStr for WriteMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "replace" | "full" | "全量" => Ok(WriteMode::Replace),
            "append" | "追加" => Ok(WriteMode::Append),
            "upsert" | "更新" => Ok(WriteMode::Upsert),
            "delete" | "删除" => Ok(WriteMode::Delete),
            other => Err(format!(
                "unknown mode {other:?}: use replace, append, upsert or delete"
            )),
        }
    }
}

impl WriteMode {
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Replace => "replace",
            WriteMode::Append => "append",
            WriteMode::Upsert => "upsert",
            WriteMode::Delete => "delete",
        }
    }
}

/// What the producer of a load sends.
#[derive(Debug)]
pub enum Feed {
    Batch(RecordBatch),
    /// Every batch has been sent: the write may commit.
    End,
    /// The producer failed: the write must not commit.
    Fail(String),
}

pub type BatchFeed = mpsc::Receiver<Feed>;

/// Where the lake lives.
#[derive(Clone)]
enum Location {
    Local(PathBuf),
    Remote {
        base: Url,
        store: Arc<DynObjectStore>,
    },
}

/// S3-compatible storage settings.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct S3Config {
    /// `s3://bucket/prefix`
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow plain HTTP endpoints (a local MinIO).
    #[serde(default)]
    pub allow_http: bool,
}

/// A committed version.
#[derive(Debug, Clone, Serialize)]
pub struct Committed {
    pub version: i64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
}

/// One entry of a table's history.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: i64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub operation: String,
    pub load_id: Option<String>,
}

/// The lake: a root under which each resource's table lives.
#[derive(Clone)]
pub struct Lake {
    location: Location,
    staging: PathBuf,
    /// One writer per table at a time within this process; Delta's optimistic concurrency
    /// settles races between processes.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The data key sensitive columns are sealed with; `None` stores every column as given
    /// (and refuses to write a column marked sensitive).
    cells: Option<shuniu_keys::CellKey>,
}

impl Lake {
    /// A lake on local disk under `root` (normally `<data dir>/lake`).
    pub fn local(root: &Path) -> Result<Lake> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let staging = root.join("_staging");
        Ok(Lake {
            location: Location::Local(root),
            cells: None,
            staging,
            locks: Default::default(),
        })
    }

    /// A lake on S3-compatible storage; `staging` is a local scratch directory.
    pub fn s3(cfg: &S3Config, staging: &Path) -> Result<Lake> {
        let mut base = Url::parse(&cfg.url).map_err(|e| LakeError::Config(e.to_string()))?;
        if base.scheme() != "s3" {
            return Err(LakeError::Config(
                "the lake URL must start with s3://".into(),
            ));
        }
        let bucket = base
            .host_str()
            .ok_or_else(|| LakeError::Config("the lake URL has no bucket".into()))?
            .to_string();
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_allow_http(cfg.allow_http)
            .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        b = b.with_region(cfg.region.clone().unwrap_or_else(|| "us-east-1".into()));
        if let (Some(k), Some(s)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            b = b.with_access_key_id(k).with_secret_access_key(s);
        }
        let store = b.build().map_err(|e| LakeError::Config(e.to_string()))?;
        // Commits use put-if-absent (If-None-Match), which S3, MinIO and Ceph RGW honour: no
        // DynamoDB lock table needed, so delta-rs's own log store serves s3:// too.
        if let Ok(scheme) = Url::parse("s3://") {
            deltalake::logstore::logstore_factories()
                .entry(scheme)
                .or_insert_with(|| Arc::new(ConditionalPutLogStores));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        std::fs::create_dir_all(staging)?;
        Ok(Lake {
            location: Location::Remote {
                base,
                store: Arc::new(store),
            },
            staging: staging.to_path_buf(),
            locks: Default::default(),
            cells: None,
        })
    }

    /// Seals the columns writers mark [`SENSITIVE`] with `key`, and opens them for readers.
    pub fn with_cells(mut self, key: shuniu_keys::CellKey) -> Lake {
        self.cells = Some(key);
        self
    }

    /// Which columns of the stored table are sealed (`true`) or plain, by name.
    async fn stored_forms(&self, code: &str) -> Result<Option<HashMap<String, bool>>> {
        let Some(t) = self.open(code).await? else {
            return Ok(None);
        };
        let schema = t.snapshot()?.schema();
        let sealed = sealed::sealed_columns(&schema);
        Ok(Some(
            schema
                .fields()
                .map(|f| (f.name().to_string(), sealed.contains_key(f.name())))
                .collect(),
        ))
    }

    /// Where the table of `code` lives.
    pub fn table_url(&self, code: &str) -> Result<Url> {
        match &self.location {
            Location::Local(root) => Url::from_directory_path(root.join(code))
                .map_err(|_| LakeError::Config(format!("bad table path for {code}"))),
            Location::Remote { base, .. } => base
                .join(&format!("{code}/"))
                .map_err(|e| LakeError::Config(e.to_string())),
        }
    }

    /// The local directory of a table, when the lake is on local disk.
    pub fn table_dir(&self, code: &str) -> Option<PathBuf> {
        match &self.location {
            Location::Local(root) => Some(root.join(code)),
            Location::Remote { .. } => None,
        }
    }

    fn builder(&self, code: &str) -> Result<DeltaTableBuilder> {
        let url = self.table_url(code)?;
        if let Location::Local(root) = &self.location {
            std::fs::create_dir_all(root.join(code))?;
        }
        let b = DeltaTableBuilder::from_url(url.clone())?;
        Ok(match &self.location {
            Location::Local(_) => b,
            Location::Remote { store, .. } => b.with_storage_backend(store.clone(), url),
        })
    }

    /// The current version of a table, or `None` if nothing was ever loaded.
    pub async fn open(&self, code: &str) -> Result<Option<DeltaTable>> {
        match &self.location {
            Location::Local(root) => {
                if !root.join(code).join("_delta_log").exists() {
                    return Ok(None);
                }
            }
            Location::Remote { base, store } => {
                let prefix = object_store::path::Path::from(format!(
                    "{}{code}/_delta_log/",
                    base.path().trim_start_matches('/')
                ));
                let listed = store
                    .list_with_delimiter(Some(&prefix))
                    .await
                    .map_err(|e| LakeError::Io(std::io::Error::other(e.to_string())))?;
                if listed.objects.is_empty() {
                    return Ok(None);
                }
            }
        }
        match self.builder(code)?.load().await {
            Ok(t) => Ok(Some(t)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A table as of `version`.
    pub async fn open_version(&self, code: &str, version: i64) -> Result<DeltaTable> {
        let current = self
            .open(code)
            .await?
            .ok_or_else(|| LakeError::NoData(code.into()))?;
        if version < 0 || current.version().is_none_or(|v| (v as i64) < version) {
            return Err(LakeError::NoSuchVersion {
                code: code.into(),
                version,
            });
        }
        let mut t = self.builder(code)?.build()?;
        t.load_version(version as u64).await?;
        Ok(t)
    }

    /// Current version number, if the table exists.
    pub async fn version(&self, code: &str) -> Result<Option<i64>> {
        Ok(self
            .open(code)
            .await?
            .and_then(|t| t.version())
            .map(|v| v as i64))
    }

    fn lock(&self, code: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        g.entry(code.to_string()).or_default().clone()
    }

    /// A DataFusion session with delta-rs's planner and a bounded memory pool that spills
    /// to disk, so merges and queries over big tables stay within memory.
    fn session(&self) -> SessionContext {
        let state = deltalake::delta_datafusion::create_session_state_with_spill_config(
            Some(512 * 1024 * 1024),
            None,
        );
        let ctx = SessionContext::new_with_state(state);
        if let Location::Remote { base, store } = &self.location
            && let Ok(root) = Url::parse(&format!("s3://{}", base.host_str().unwrap_or_default()))
        {
            ctx.register_object_store(&root, store.clone());
        }
        ctx
    }

    /// Writes a load as one commit. `schema` is the resource's schema now; a replace
    /// adopts it, other modes add new columns to the table's schema.
    pub async fn write(
        &self,
        code: &str,
        schema: SchemaRef,
        mode: WriteMode,
        keys: &[String],
        feed: BatchFeed,
        metadata: Vec<(String, serde_json::Value)>,
    ) -> Result<Committed> {
        let lock = self.lock(code);
        let _guard = lock.lock().await;
        let existing = match mode {
            WriteMode::Replace => None,
            _ => self.stored_forms(code).await?,
        };
        let (schema, sealing) =
            sealed::Sealing::plan(&schema, existing.as_ref(), mode, self.cells.as_ref())?;
        let (feed, keys) = match sealing {
            Some(s) => {
                let keys: Vec<String> = keys.iter().map(|k| s.match_column(k)).collect();
                (s.seal_feed(feed), keys)
            }
            None => (feed, keys.to_vec()),
        };
        let keys = keys.as_slice();
        match mode {
            WriteMode::Replace | WriteMode::Append => {
                self.write_stream(code, schema, mode, feed, metadata).await
            }
            WriteMode::Upsert | WriteMode::Delete => {
                self.merge(code, schema, mode, keys, feed, metadata).await
            }
        }
    }

    async fn table_or_new(&self, code: &str) -> Result<DeltaTable> {
        match self.open(code).await? {
            Some(t) => Ok(t),
            None => Ok(self.builder(code)?.build()?),
        }
    }

    async fn write_stream(
        &self,
        code: &str,
        schema: SchemaRef,
        mode: WriteMode,
        feed: BatchFeed,
        metadata: Vec<(String, serde_json::Value)>,
    ) -> Result<Committed> {
        let table = self.table_or_new(code).await?;
        let ctx = self.session();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let part = FeedPartition {
            schema: schema.clone(),
            feed: Mutex::new(Some(feed)),
            rows: counter.clone(),
        };
        let provider = StreamingTable::try_new(schema, vec![Arc::new(part)])?;
        let plan = ctx.read_table(Arc::new(provider))?.into_unoptimized_plan();
        let (save_mode, schema_mode) = match mode {
            WriteMode::Replace => (
                SaveMode::Overwrite,
                deltalake::operations::write::SchemaMode::Overwrite,
            ),
            _ => (
                SaveMode::Append,
                deltalake::operations::write::SchemaMode::Merge,
            ),
        };
        let exists = table.version().is_some();
        let mut w = table
            .write(Vec::<RecordBatch>::new())
            .with_input_plan(plan)
            .with_save_mode(save_mode)
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(CommitProperties::default().with_metadata(metadata));
        if exists {
            w = w.with_schema_mode(schema_mode);
        }
        let table = w.await.map_err(unwrap_feed_error)?;
        Ok(Committed {
            version: table.version().unwrap_or(0) as i64,
            rows_inserted: counter.load(std::sync::atomic::Ordering::Relaxed),
            rows_updated: 0,
            rows_deleted: 0,
        })
    }

    /// Upsert and delete by key: the load is staged as Parquet first (a merge reads its
    /// source more than once), checked for duplicate keys, then merged in one commit.
    async fn merge(
        &self,
        code: &str,
        schema: SchemaRef,
        mode: WriteMode,
        keys: &[String],
        mut feed: BatchFeed,
        metadata: Vec<(String, serde_json::Value)>,
    ) -> Result<Committed> {
        if keys.is_empty() {
            return Err(LakeError::Input(
                "the resource has no key item, so rows cannot be matched; mark a data item as key (主键) or use replace/append".into(),
            ));
        }
        std::fs::create_dir_all(&self.staging)?;
        let staged = tempfile_in(&self.staging)?;
        let file = std::fs::File::create(&staged.0)?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)
            .map_err(|e| LakeError::Io(std::io::Error::other(e.to_string())))?;
        loop {
            match feed.recv().await {
                Some(Feed::Batch(b)) => writer
                    .write(&b)
                    .map_err(|e| LakeError::Io(std::io::Error::other(e.to_string())))?,
                Some(Feed::End) => break,
                Some(Feed::Fail(e)) => return Err(LakeError::Aborted(e)),
                None => {
                    return Err(LakeError::Aborted(
                        "the input ended without its end mark".into(),
                    ));
                }
            }
        }
        writer
            .close()
            .map_err(|e| LakeError::Io(std::io::Error::other(e.to_string())))?;
        let ctx = self.session();
        let path = staged.0.to_string_lossy().to_string();
        ctx.register_parquet("source", &path, Default::default())
            .await?;
        let key_list = keys
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let dups = ctx
            .sql(&format!(
                "SELECT {key_list}, count(*) AS n FROM source GROUP BY {key_list} HAVING count(*) > 1 LIMIT 5"
            ))
            .await?
            .collect()
            .await?;
        let dup_rows: usize = dups.iter().map(|b| b.num_rows()).sum();
        if dup_rows > 0 {
            let shown = datafusion::arrow::util::pretty::pretty_format_batches(&dups)
                .map(|d| d.to_string())
                .unwrap_or_default();
            return Err(LakeError::DuplicateKeys(shown));
        }
        let table = match self.open(code).await? {
            Some(t) => t,
            None if mode == WriteMode::Upsert => {
                // Nothing to merge into: the upsert is the first version. Stream the staged
                // rows back, in the table's types (Parquet reads strings as views).
                let (tx, rx) = mpsc::channel(4);
                let mut stream = ctx.table("source").await?.execute_stream().await?;
                let target = schema.clone();
                tokio::spawn(async move {
                    use futures::StreamExt;
                    while let Some(b) = stream.next().await {
                        let msg = b.map_err(|e| e.to_string()).and_then(|b| {
                            let cols = b
                                .columns()
                                .iter()
                                .zip(target.fields())
                                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                                .collect::<std::result::Result<Vec<_>, _>>()
                                .map_err(|e| e.to_string())?;
                            RecordBatch::try_new(target.clone(), cols).map_err(|e| e.to_string())
                        });
                        let stop = msg.is_err();
                        let feed = match msg {
                            Ok(b) => Feed::Batch(b),
                            Err(e) => Feed::Fail(e),
                        };
                        if tx.send(feed).await.is_err() || stop {
                            return;
                        }
                    }
                    let _ = tx.send(Feed::End).await;
                });
                return self
                    .write_stream(code, schema, WriteMode::Append, rx, metadata)
                    .await;
            }
            None => return Err(LakeError::NoData(code.into())),
        };
        let source = ctx.table("source").await?;
        let predicate = keys
            .iter()
            .map(|k| format!("target.\"{k}\" = source.\"{k}\""))
            .collect::<Vec<_>>()
            .join(" AND ");
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut m = table
            .merge(source, predicate)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(CommitProperties::default().with_metadata(metadata));
        if mode == WriteMode::Upsert {
            let cols = columns.clone();
            m = m
                .with_merge_schema(true)
                .when_matched_update(move |u| {
                    cols.iter().fold(u, |u, c| {
                        u.update(c.as_str(), format!("source.\"{c}\"").as_str())
                    })
                })?
                .when_not_matched_insert(move |i| {
                    columns.iter().fold(i, |i, c| {
                        i.set(c.as_str(), format!("source.\"{c}\"").as_str())
                    })
                })?;
        } else {
            m = m.when_matched_delete(|d| d)?;
        }
        let (table, metrics) = m.await?;
        Ok(Committed {
            version: table.version().unwrap_or(0) as i64,
            rows_inserted: metrics.num_target_rows_inserted as u64,
            rows_updated: metrics.num_target_rows_updated as u64,
            rows_deleted: metrics.num_target_rows_deleted as u64,
        })
    }

    /// The history of a table, newest first.
    pub async fn history(&self, code: &str, limit: usize) -> Result<Vec<VersionInfo>> {
        use futures::StreamExt;
        let Some(table) = self.open(code).await? else {
            return Ok(Vec::new());
        };
        let current = table.version().unwrap_or(0) as i64;
        let infos: Vec<_> = table.history(Some(limit)).collect().await;
        let mut out = Vec::new();
        for (i, info) in infos.into_iter().enumerate() {
            let info = info?;
            out.push(VersionInfo {
                version: current - i as i64,
                timestamp: info.timestamp,
                operation: info.operation.clone().unwrap_or_default(),
                load_id: info
                    .info
                    .get("shuniu.load_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            });
        }
        Ok(out)
    }
}

/// The log store for object stores with conditional writes.
struct ConditionalPutLogStores;

impl deltalake::logstore::LogStoreFactory for ConditionalPutLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake::logstore::ObjectStoreRef,
        root_store: deltalake::logstore::ObjectStoreRef,
        location: &Url,
        options: &deltalake::logstore::StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn deltalake::logstore::LogStore>> {
        Ok(deltalake::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// A scratch file removed when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tempfile_in(dir: &Path) -> Result<TempPath> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let name = format!(
        "{}-{}.parquet",
        std::process::id(),
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Ok(TempPath(dir.join(name)))
}

/// A DataFusion partition fed by the load's channel, read once.
struct FeedPartition {
    schema: SchemaRef,
    feed: Mutex<Option<BatchFeed>>,
    rows: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for FeedPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedPartition")
    }
}

const FEED_ERROR: &str = "shuniu-feed: ";

impl PartitionStream for FeedPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let feed = self.feed.lock().ok().and_then(|mut g| g.take());
        let rows = self.rows.clone();
        let stream = futures::stream::unfold((feed, false), move |(feed, done)| {
            let rows = rows.clone();
            async move {
                if done {
                    return None;
                }
                let Some(mut rx) = feed else {
                    return Some((
                        Err(DataFusionError::Execution(format!(
                            "{FEED_ERROR}the load's input was already consumed"
                        ))),
                        (None, true),
                    ));
                };
                match rx.recv().await {
                    Some(Feed::Batch(b)) => {
                        rows.fetch_add(b.num_rows() as u64, std::sync::atomic::Ordering::Relaxed);
                        Some((Ok(b), (Some(rx), false)))
                    }
                    Some(Feed::End) => None,
                    Some(Feed::Fail(e)) => Some((
                        Err(DataFusionError::Execution(format!("{FEED_ERROR}{e}"))),
                        (None, true),
                    )),
                    None => Some((
                        Err(DataFusionError::Execution(format!(
                            "{FEED_ERROR}the input ended without its end mark"
                        ))),
                        (None, true),
                    )),
                }
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// A write that failed because its feed failed is an aborted load, not a lake failure.
fn unwrap_feed_error(e: DeltaTableError) -> LakeError {
    let text = e.to_string();
    match text.find(FEED_ERROR) {
        Some(p) => LakeError::Aborted(text[p + FEED_ERROR.len()..].to_string()),
        None => LakeError::Delta(e),
    }
}

#[cfg(test)]
mod tests;

/// What DataFusion's English planning and parsing errors mean, in Chinese; the original
/// follows in brackets for whoever needs the detail.
fn sql_error_zh(m: &str) -> &'static str {
    let l = m.to_lowercase();
    if l.contains("table") && (l.contains("not found") || l.contains("does not exist")) {
        "查询的表不存在或无权查询，表名为资源代码，可在左侧列表中查看"
    } else if l.contains("no field named") || l.contains("column") && l.contains("not found") {
        "字段不存在，请核对字段名（英文名，区分大小写时加双引号）"
    } else if l.contains("expected") || l.contains("parser") || l.contains("syntax") {
        "SQL 语法错误，请检查关键字、括号和引号"
    } else if l.contains("not supported") || l.contains("unsupported") {
        "不支持该语句，只允许只读的 SELECT 查询"
    } else if l.contains("ddl") || l.contains("dml") || l.contains("statement") {
        "只允许只读的 SELECT 查询，不能修改数据或表"
    } else if l.contains("cast") || l.contains("type") {
        "数据类型不匹配，请检查比较或运算两侧的类型"
    } else if l.contains("ambiguous") {
        "字段名有歧义，请加上表名限定"
    } else if l.contains("invalid function") || l.contains("function") {
        "函数不存在或参数不对"
    } else {
        "查询无法执行"
    }
}

#[cfg(test)]
mod sql_error_tests {
    #[test]
    fn common_sql_errors_read_in_chinese() {
        assert!(super::sql_error_zh("table 'x' not found").contains("表不存在"));
        assert!(super::sql_error_zh("Schema error: No field named foo.").contains("字段不存在"));
        assert!(super::sql_error_zh("Expected: an expression, found: EOF").contains("语法"));
        assert!(super::sql_error_zh("DDL not supported: CREATE TABLE").contains("不支持"));
    }
}
