//! SQL over the lake. Tables are named by resource code (quote them: codes have capitals
//! and dashes); `"CODE@v3"` reads version 3. Tables open lazily, so a query touching one
//! resource does not open the other three hundred.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use futures::StreamExt;
use serde::Serialize;

use crate::{Lake, LakeError, Result};

/// Output formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqlOutput {
    Csv,
    Json,
    Table,
}

impl std::str::FromStr for SqlOutput {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "csv" => Ok(SqlOutput::Csv),
            "json" => Ok(SqlOutput::Json),
            "table" => Ok(SqlOutput::Table),
            other => Err(format!("unknown format {other:?}: use csv, json or table")),
        }
    }
}

/// The rows of a query, capped.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    /// More rows existed than the cap.
    pub truncated: bool,
    /// The tables the statement read, as it named them (`code` or `code@vN`), in name order.
    pub tables: Vec<String>,
    /// The version of each table the statement read (resource code, Delta version), in code
    /// order: what a figure computed from the rows can be traced to.
    pub versions: Vec<(String, i64)>,
}

impl QueryResult {
    pub fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Every cell as display text (null as empty), for pages and tables.
    pub fn to_strings(&self) -> Vec<Vec<Option<String>>> {
        use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
        let opts = FormatOptions::default();
        let mut out = Vec::with_capacity(self.rows);
        for b in &self.batches {
            let fmts: Vec<_> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                .collect();
            for row in 0..b.num_rows() {
                out.push(
                    b.columns()
                        .iter()
                        .zip(&fmts)
                        .map(|(c, f)| {
                            if c.is_null(row) {
                                None
                            } else {
                                f.as_ref().ok().map(|f| f.value(row).to_string())
                            }
                        })
                        .collect(),
                );
            }
        }
        out
    }

    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            for b in &self.batches {
                w.write(b).map_err(|e| LakeError::Sql(e.to_string()))?;
            }
        }
        if self.batches.is_empty() {
            buf.extend(self.columns().join(",").as_bytes());
            buf.push(b'\n');
        }
        Ok(buf)
    }

    /// An array of objects, one per row.
    pub fn to_json(&self) -> Result<serde_json::Value> {
        let mut buf = Vec::new();
        {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
            let refs: Vec<&RecordBatch> = self.batches.iter().collect();
            w.write_batches(&refs)
                .map_err(|e| LakeError::Sql(e.to_string()))?;
            w.finish().map_err(|e| LakeError::Sql(e.to_string()))?;
        }
        if buf.is_empty() {
            return Ok(serde_json::Value::Array(Vec::new()));
        }
        serde_json::from_slice(&buf).map_err(|e| LakeError::Sql(e.to_string()))
    }

    pub fn to_table(&self) -> String {
        datafusion::arrow::util::pretty::pretty_format_batches(&self.batches)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }
}

/// Splits `CODE@v3` (or `CODE@3`) into the code and the version.
/// Record batches of a query, as they are produced.
pub type BatchStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<RecordBatch>> + Send>>;

pub fn split_version(name: &str) -> (&str, Option<i64>) {
    match name.rsplit_once('@') {
        Some((code, v)) => match v.trim_start_matches(['v', 'V']).parse() {
            Ok(n) => (code, Some(n)),
            Err(_) => (name, None),
        },
        None => (name, None),
    }
}

/// Tables opened once and read by several statements, each at the version current when it was
/// first opened: a computation of many indicators reads one consistent state of the lake, and
/// each table's log once instead of once per statement.
#[derive(Clone, Default)]
pub struct Pinned {
    tables: Arc<std::sync::Mutex<PinnedTables>>,
}

/// code → the provider opened and the version it reads.
type PinnedTables = std::collections::HashMap<String, (Arc<dyn TableProvider>, i64)>;

impl Pinned {
    pub fn new() -> Pinned {
        Pinned::default()
    }

    fn get(&self, code: &str) -> Option<(Arc<dyn TableProvider>, i64)> {
        self.tables.lock().ok()?.get(code).cloned()
    }

    fn put(&self, code: &str, provider: Arc<dyn TableProvider>, version: i64) {
        if let Ok(mut t) = self.tables.lock() {
            t.insert(code.to_string(), (provider, version));
        }
    }
}

struct LakeSchema {
    lake: Lake,
    names: Vec<String>,
    pinned: Option<Pinned>,
    /// The tables the statement resolved while it was planned (what it reads), and the
    /// version each was opened at.
    read: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    opened: Arc<std::sync::Mutex<std::collections::BTreeMap<String, i64>>>,
}

impl std::fmt::Debug for LakeSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LakeSchema({} tables)", self.names.len())
    }
}

#[async_trait::async_trait]
impl SchemaProvider for LakeSchema {
    fn table_names(&self) -> Vec<String> {
        self.names.clone()
    }

    async fn table(
        &self,
        name: &str,
    ) -> std::result::Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let (code, version) = split_version(name);
        if !self.names.iter().any(|n| n == code) {
            return Ok(None);
        }
        let ext = |e: LakeError| DataFusionError::External(Box::new(e));
        let noted = |provider: Arc<dyn TableProvider>, v: Option<i64>| {
            if let Ok(mut read) = self.read.lock() {
                read.insert(name.to_string());
            }
            if let (Ok(mut opened), Some(v)) = (self.opened.lock(), v) {
                opened.insert(code.to_string(), v);
            }
            Ok(Some(provider))
        };
        if version.is_none()
            && let Some((provider, v)) = self.pinned.as_ref().and_then(|p| p.get(code))
        {
            return noted(provider, Some(v));
        }
        let table = match version {
            Some(v) => self.lake.open_version(code, v).await.map_err(ext)?,
            None => match self.lake.open(code).await.map_err(ext)? {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        let provider = table
            .table_provider()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let stored = table
            .snapshot()
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .schema();
        let provider = crate::sealed::opened(
            code,
            provider,
            &crate::sealed::sealed_columns(&stored),
            self.lake.cells.as_ref(),
        )
        .map_err(ext)?;
        let opened = table.version().map(|v| v as i64);
        if let (None, Some(p), Some(v)) = (version, &self.pinned, opened) {
            p.put(code, provider.clone(), v);
        }
        noted(provider, opened)
    }

    fn table_exist(&self, name: &str) -> bool {
        let (code, _) = split_version(name);
        self.names.iter().any(|n| n == code)
    }
}

impl Lake {
    /// Runs one read-only SQL statement over the tables named in `tables` (resource codes
    /// the caller may query) and returns at most `max_rows` rows.
    pub async fn sql(
        &self,
        tables: Vec<String>,
        sql: &str,
        max_rows: usize,
    ) -> Result<QueryResult> {
        self.sql_pinned(None, tables, sql, max_rows).await
    }

    /// [`Lake::sql`], reading each table at the version `pinned` holds (opening it, and
    /// pinning that version, the first time).
    pub async fn sql_pinned(
        &self,
        pinned: Option<&Pinned>,
        tables: Vec<String>,
        sql: &str,
        max_rows: usize,
    ) -> Result<QueryResult> {
        let (schema, mut stream, read, versions) = self.sql_reading(pinned, tables, sql).await?;
        let mut batches = Vec::new();
        let mut rows = 0usize;
        let mut truncated = false;
        while let Some(b) = stream.next().await {
            let b = b?;
            if rows + b.num_rows() > max_rows {
                let keep = max_rows - rows;
                batches.push(b.slice(0, keep));
                rows += keep;
                truncated = true;
                break;
            }
            rows += b.num_rows();
            batches.push(b);
        }
        Ok(QueryResult {
            schema,
            batches,
            rows,
            truncated,
            tables: read,
            versions,
        })
    }

    /// Runs one read-only SQL statement and streams its batches: for passes over whole
    /// datasets (quality checks, cross-checks) that must not hold them in memory.
    /// Streams one version's rows with `columns` in that order (as text when `as_text`); a
    /// column the stored version lacks (an item added since) comes back as NULL.
    pub async fn stream_columns(
        &self,
        code: &str,
        version: i64,
        columns: &[String],
        as_text: bool,
    ) -> Result<BatchStream> {
        let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let name = quoted(&format!("{code}@v{version}"));
        let (schema, _) = self
            .sql_stream(
                vec![code.to_string()],
                &format!("SELECT * FROM {name} LIMIT 0"),
            )
            .await?;
        let select: Vec<String> = columns
            .iter()
            .map(|c| match (schema.field_with_name(c).is_ok(), as_text) {
                (true, true) => format!("CAST({} AS VARCHAR) AS {}", quoted(c), quoted(c)),
                (true, false) => quoted(c),
                (false, _) => format!("CAST(NULL AS VARCHAR) AS {}", quoted(c)),
            })
            .collect();
        let (_, stream) = self
            .sql_stream(
                vec![code.to_string()],
                &format!("SELECT {} FROM {name}", select.join(", ")),
            )
            .await?;
        Ok(stream)
    }

    pub async fn sql_stream(
        &self,
        tables: Vec<String>,
        sql: &str,
    ) -> Result<(SchemaRef, BatchStream)> {
        let (schema, stream, _, _) = self.sql_reading(None, tables, sql).await?;
        Ok((schema, stream))
    }

    /// [`Lake::sql_stream`], and the tables the statement reads (known once it is planned).
    async fn sql_reading(
        &self,
        pinned: Option<&Pinned>,
        tables: Vec<String>,
        sql: &str,
    ) -> Result<(SchemaRef, BatchStream, Vec<String>, Vec<(String, i64)>)> {
        let ctx = self.session();
        let read = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let opened = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let schema = Arc::new(LakeSchema {
            lake: self.clone(),
            names: tables,
            pinned: pinned.cloned(),
            read: read.clone(),
            opened: opened.clone(),
        });
        ctx.catalog("datafusion")
            .ok_or_else(|| LakeError::Sql("no default catalog".into()))?
            .register_schema("public", schema)?;
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = ctx
            .sql_with_options(sql, opts)
            .await
            .map_err(|e| LakeError::Sql(clean_sql_error(e)))?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let stream = df
            .execute_stream()
            .await
            .map_err(|e| LakeError::Sql(clean_sql_error(e)))?;
        let read = read
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        let opened = opened
            .lock()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        Ok((
            schema,
            Box::pin(stream.map(|b| b.map_err(|e| LakeError::Sql(clean_sql_error(e))))),
            read,
            opened,
        ))
    }

    /// The first `limit` rows of the current version (or of `version`).
    pub async fn preview(
        &self,
        code: &str,
        version: Option<i64>,
        limit: usize,
    ) -> Result<QueryResult> {
        let name = match version {
            Some(v) => format!("{code}@v{v}"),
            None => code.to_string(),
        };
        self.sql(
            vec![code.to_string()],
            &format!(
                "SELECT * FROM \"{}\" LIMIT {limit}",
                name.replace('"', "\"\"")
            ),
            limit,
        )
        .await
    }

    /// Rows in the current version, from the Delta log's file statistics when present.
    pub async fn row_count(&self, code: &str) -> Result<Option<u64>> {
        if self.open(code).await?.is_none() {
            return Ok(None);
        }
        let r = self
            .sql(
                vec![code.to_string()],
                &format!(
                    "SELECT count(*) AS n FROM \"{}\"",
                    code.replace('"', "\"\"")
                ),
                1,
            )
            .await?;
        let n = r
            .to_strings()
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|s| s.parse().ok());
        Ok(n)
    }
}

fn clean_sql_error(e: DataFusionError) -> String {
    let s = e.to_string();
    s.trim_start_matches("Error during planning: ")
        .trim_start_matches("SQL error: ")
        .to_string()
}
