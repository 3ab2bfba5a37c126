//! The aggregation API: loads (streamed file uploads, pushed rows), their reports and
//! rejected rows, previews, versions, column mappings, connectors, and SQL for the hub.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shuniu_aggregate::{AggregateError, ConnectorInput, LoadRequest};
use shuniu_ingest::{SourceOptions, TextEncoding};
use shuniu_lake::{QueryResult, WriteMode};
use shuniu_store::{Connector, LoadRecord};
use shuniu_types::Actor;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_load, dataset_loads))
        .routes(routes!(push_rows))
        .routes(routes!(get_load))
        .routes(routes!(load_rejects))
        .routes(routes!(preview))
        .routes(routes!(versions))
        .routes(routes!(get_mapping, put_mapping))
        .routes(routes!(list_datasets))
        .routes(routes!(run_sql))
        .routes(routes!(list_connectors))
        .routes(routes!(add_connector))
        .routes(routes!(run_connector))
        .layer(DefaultBodyLimit::max(PUSH_MAX_BYTES))
}

/// Rows pushed in one request; bigger data goes through the streamed upload.
const PUSH_MAX_BYTES: usize = 64 * 1024 * 1024;

/// A load and its report.
#[derive(Serialize, ToSchema)]
pub struct LoadView {
    pub id: String,
    pub resource_code: String,
    /// replace, append, upsert or delete.
    pub mode: String,
    /// running, succeeded, failed or interrupted.
    pub status: String,
    pub principal: String,
    pub department_code: String,
    pub connector_id: Option<String>,
    pub source_name: String,
    pub source_format: String,
    pub source_encoding: Option<String>,
    /// SM3 digest of the input, hex.
    pub source_sm3: Option<String>,
    pub source_bytes: i64,
    pub bytes_read: i64,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_deleted: i64,
    /// The dataset version this load committed.
    pub version: Option<i64>,
    pub error_code: Option<String>,
    pub error_zh: Option<String>,
    pub error_en: Option<String>,
    /// Column mapping used, rejections by reason and samples (line, item, reason).
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

impl From<LoadRecord> for LoadView {
    fn from(l: LoadRecord) -> Self {
        LoadView {
            id: l.id,
            resource_code: l.resource_code,
            mode: l.mode,
            status: l.status.code().to_string(),
            principal: l.principal,
            department_code: l.department_code,
            connector_id: l.connector_id,
            source_name: l.source_name,
            source_format: l.source_format,
            source_encoding: l.source_encoding,
            source_sm3: l.source_sm3,
            source_bytes: l.source_bytes,
            bytes_read: l.bytes_read,
            rows_read: l.rows_read,
            rows_accepted: l.rows_accepted,
            rows_rejected: l.rows_rejected,
            rows_inserted: l.rows_inserted,
            rows_updated: l.rows_updated,
            rows_deleted: l.rows_deleted,
            version: l.version,
            error_code: l.error_code,
            error_zh: l.error_zh,
            error_en: l.error_en,
            report: l.report,
            started_at: l.started_at,
            finished_at: l.finished_at,
            duration_ms: l.duration_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoadPage {
    pub total: i64,
    pub items: Vec<LoadView>,
}

fn parse_mode(s: Option<&str>) -> Result<WriteMode, ApiError> {
    s.unwrap_or("replace")
        .parse()
        .map_err(|e: String| ApiError::bad_request(&e))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// replace (default), append, upsert or delete.
    #[param(pattern = "^(replace|append|upsert|delete)$")]
    pub mode: Option<String>,
    /// csv, xlsx, xls, json, ndjson or parquet; default from `filename`, else sniffed.
    #[param(pattern = "^(csv|xlsx|xls|json|ndjson|parquet)$")]
    pub format: Option<String>,
    /// auto (default), utf-8, gbk or gb18030.
    #[param(pattern = "^(auto|utf-8|utf8|gbk|gb18030)$")]
    pub encoding: Option<String>,
    /// One-character CSV delimiter; `\t` for tab.
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    /// The file's name, kept in the load history.
    pub filename: Option<String>,
    pub ignore_unknown_columns: Option<bool>,
    /// Share of rejected rows above which the load fails (default 0.5).
    #[param(minimum = 0.0, maximum = 1.0)]
    pub max_rejects: Option<f64>,
    /// Wait for the load to finish and return its report (default: answer 202 at once).
    pub wait: Option<bool>,
}

impl UploadQuery {
    pub(crate) fn request(&self) -> Result<LoadRequest, ApiError> {
        let format = match self.format.as_deref().filter(|s| !s.is_empty()) {
            Some(f) => Some(f.parse().map_err(|e: String| ApiError::bad_request(&e))?),
            None => self
                .filename
                .as_deref()
                .and_then(shuniu_ingest::FileFormat::from_name),
        };
        let encoding: TextEncoding = self
            .encoding
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(|e: String| ApiError::bad_request(&e))?;
        let delimiter = match self.delimiter.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("\\t") | Some("tab") | Some("\t") => Some(b'\t'),
            Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "delimiter must be one ASCII character",
                ));
            }
        };
        let max = self.max_rejects.unwrap_or(0.5);
        if !(0.0..=1.0).contains(&max) {
            return Err(ApiError::bad_request("max_rejects must be between 0 and 1"));
        }
        Ok(LoadRequest {
            mode: parse_mode(self.mode.as_deref())?,
            source: SourceOptions {
                format,
                encoding,
                delimiter,
                sheet: self.sheet.clone().filter(|s| !s.is_empty()),
                ..Default::default()
            },
            source_name: self
                .filename
                .clone()
                .unwrap_or_else(|| "upload".into())
                .chars()
                .take(200)
                .collect(),
            ignore_unknown_columns: self.ignore_unknown_columns.unwrap_or(false),
            mapping: None,
            max_reject_ratio: max,
        })
    }
}

/// A file on its way into a load; removed when the load is done with it.
pub(crate) struct Upload(pub PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) async fn new_upload(state: &AppState) -> Result<(Upload, tokio::fs::File), ApiError> {
    let dir = state.engines.aggregation.upload_dir();
    let io = |e: std::io::Error| ApiError::from(AggregateError::Ingest(e.into()));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let name = format!(
        "{}-{}",
        chrono::Utc::now().timestamp_millis(),
        shuniu_auth::random_token().map_err(|e| ApiError::bad_request(&e.to_string()))?
    );
    let path = dir.join(name);
    let file = tokio::fs::File::create(&path).await.map_err(io)?;
    Ok((Upload(path), file))
}

/// Loads a file into a resource's dataset: the request body is the file, streamed to disk
/// and then read once. Answers 202 with the running load (poll `/api/v1/loads/{id}`), or
/// with `wait=true` the finished load.
#[utoipa::path(post, path = "/api/v1/datasets/{code}/loads", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code"), UploadQuery),
    request_body(content = String, content_type = "application/octet-stream", description = "The file: CSV, Excel, JSON, NDJSON or Parquet"),
    responses((status = 200, body = LoadView, description = "Finished (wait=true); check `status`"),
              (status = 202, body = LoadView, description = "Started"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload_load(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let req = q.request()?;
    // Refuse early, before a large upload is written to disk.
    state.engines.aggregation.may_load(&actor, &code).await?;
    let (upload, mut file) = new_upload(&state).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(&format!("upload interrupted: {e}")))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::from(AggregateError::Ingest(e.into())))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::from(AggregateError::Ingest(e.into())))?;
    drop(file);
    let path = upload.0.clone();
    let started = state
        .engines
        .aggregation
        .start_file_load(actor.clone(), code, path, req, upload)
        .await?;
    let (id, handle) = (started.id, started.done);
    if q.wait.unwrap_or(false) {
        let _ = handle.await;
        let l = state.engines.aggregation.load_record(&actor, &id).await?;
        return Ok((StatusCode::OK, axum::Json(LoadView::from(l))).into_response());
    }
    let l = state.engines.aggregation.load_record(&actor, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/loads/{id}"))],
        axum::Json(LoadView::from(l)),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct PushRequest {
    /// replace, append (default), upsert or delete.
    #[schema(pattern = "^(replace|append|upsert|delete)$")]
    pub mode: Option<String>,
    /// Objects keyed by data item name or Chinese label.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A department system pushes a batch of rows: one load, one version.
#[utoipa::path(post, path = "/api/v1/datasets/{code}/rows", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code")), request_body = PushRequest,
    responses((status = 200, body = LoadView, description = "The finished load; check `status`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, description = "Over 64 MB: use the upload"),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn push_rows(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<axum::Json<LoadView>, ApiError> {
    let mode = match req.mode.as_deref() {
        None => WriteMode::Append,
        m => parse_mode(m)?,
    };
    let l = state
        .engines
        .aggregation
        .push_rows(&actor, &code, mode, req.rows)
        .await?;
    Ok(axum::Json(l.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// Load history of a dataset, newest first.
#[utoipa::path(get, path = "/api/v1/datasets/{code}/loads", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code"), PageQuery),
    responses((status = 200, body = LoadPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn dataset_loads(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<axum::Json<LoadPage>, ApiError> {
    let (page, per_page) = super::page_params(q.page, q.per_page)?;
    let (total, items) = state
        .engines
        .aggregation
        .loads(
            &actor,
            &code,
            ((page - 1) * per_page) as i64,
            per_page as i64,
        )
        .await?;
    Ok(axum::Json(LoadPage {
        total,
        items: items.into_iter().map(LoadView::from).collect(),
    }))
}

/// One load: its progress while running, its report when done.
#[utoipa::path(get, path = "/api/v1/loads/{id}", tag = "aggregation",
    params(("id" = String, Path, description = "Load id")),
    responses((status = 200, body = LoadView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_load(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<LoadView>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .aggregation
            .load_record(&actor, &id)
            .await?
            .into(),
    ))
}

pub(crate) async fn rejects_response(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Response, ApiError> {
    let Some(path) = state.engines.aggregation.rejects(actor, id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NO_REJECTED_ROWS",
            "本次汇聚没有不合格行",
            "this load rejected no rows",
        ));
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::from(AggregateError::Ingest(e.into())))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-rejects.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The rows a load rejected, as CSV: line, item, code, reasons, then the row as read.
#[utoipa::path(get, path = "/api/v1/loads/{id}/rejects", tag = "aggregation",
    params(("id" = String, Path, description = "Load id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn load_rejects(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    rejects_response(&state, &actor, &id).await
}

/// Rows of a query, as column names and text cells (null as null).
#[derive(Serialize, ToSchema)]
pub struct RowsView {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than were returned.
    pub truncated: bool,
}

impl From<QueryResult> for RowsView {
    fn from(r: QueryResult) -> Self {
        RowsView {
            columns: r.columns(),
            rows: r.to_strings(),
            truncated: r.truncated,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// A past version; default the current one.
    #[param(minimum = 0)]
    pub version: Option<i64>,
    /// Why the rows are read; recorded in the audit log.
    pub purpose: Option<String>,
}

/// The first rows of a dataset (providing department and hub only).
#[utoipa::path(get, path = "/api/v1/datasets/{code}/preview", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code"), PreviewQuery),
    responses((status = 200, body = RowsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> Result<axum::Json<RowsView>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    if q.version.is_some_and(|v| v < 0) {
        return Err(ApiError::bad_request("version must not be negative"));
    }
    match state
        .engines
        .aggregation
        .preview(
            &actor,
            &code,
            q.version,
            limit as usize,
            q.purpose.as_deref(),
        )
        .await?
    {
        Some(r) => Ok(axum::Json(r.into())),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NO_DATA",
            "该资源还没有汇聚数据",
            "no data has been loaded into this resource yet",
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub operation: String,
    pub load_id: Option<String>,
}

/// The versions of a dataset, newest first (from its Delta log).
#[utoipa::path(get, path = "/api/v1/datasets/{code}/versions", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = Vec<VersionView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn versions(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<Vec<VersionView>>, ApiError> {
    let v = state.engines.aggregation.versions(&actor, &code).await?;
    Ok(axum::Json(
        v.into_iter()
            .map(|v| VersionView {
                version: v.version,
                timestamp: v.timestamp,
                operation: v.operation,
                load_id: v.load_id,
            })
            .collect(),
    ))
}

/// The saved column mapping: source header → data item name ("" skips the column).
#[utoipa::path(get, path = "/api/v1/datasets/{code}/mapping", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, body = BTreeMap<String, String>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_mapping(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<BTreeMap<String, String>>, ApiError> {
    Ok(axum::Json(
        state.engines.aggregation.mapping(&actor, &code).await?,
    ))
}

/// Replaces the column mapping used by every later load of this dataset.
#[utoipa::path(put, path = "/api/v1/datasets/{code}/mapping", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code")), request_body = BTreeMap<String, String>,
    responses((status = 200, body = BTreeMap<String, String>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn put_mapping(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(mapping): ApiJson<BTreeMap<String, String>>,
) -> Result<axum::Json<BTreeMap<String, String>>, ApiError> {
    state
        .engines
        .aggregation
        .set_mapping(&actor, &code, &mapping)
        .await?;
    Ok(axum::Json(
        state.engines.aggregation.mapping(&actor, &code).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct DatasetView {
    pub code: String,
    pub name: String,
    pub provider: String,
    pub version: i64,
    pub loaded_at: String,
}

/// Every dataset with data: the tables of the SQL endpoint (hub operator).
#[utoipa::path(get, path = "/api/v1/datasets", tag = "aggregation",
    responses((status = 200, body = Vec<DatasetView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_datasets(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<axum::Json<Vec<DatasetView>>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .aggregation
            .tables(&actor)
            .await?
            .into_iter()
            .map(|t| DatasetView {
                code: t.code,
                name: t.name,
                provider: t.provider,
                version: t.version,
                loaded_at: t.loaded_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SqlRequest {
    /// One read-only statement; tables are resource codes in double quotes, `"CODE@v3"`
    /// for version 3.
    #[schema(min_length = 1, pattern = r"\S")]
    pub sql: String,
    /// Default 1000, at most 10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_rows: Option<u32>,
}

/// Runs read-only SQL over the lake (hub operator).
#[utoipa::path(post, path = "/api/v1/sql", tag = "aggregation", request_body = SqlRequest,
    responses((status = 200, body = RowsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn run_sql(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(req): ApiJson<SqlRequest>,
) -> Result<axum::Json<RowsView>, ApiError> {
    let max = req.max_rows.unwrap_or(1000);
    if !(1..=10_000).contains(&max) {
        return Err(ApiError::bad_request(
            "max_rows must be between 1 and 10000",
        ));
    }
    let r = state
        .engines
        .aggregation
        .sql(&actor, &req.sql, max as usize)
        .await?;
    Ok(axum::Json(r.into()))
}

#[derive(Serialize, ToSchema)]
pub struct ConnectorView {
    pub id: String,
    pub resource_code: String,
    pub kind: String,
    /// Password masked.
    pub url: String,
    pub source_table: String,
    pub mode: String,
    pub updated_column: Option<String>,
    pub schedule: String,
    pub watermark: Option<String>,
    pub enabled: bool,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    pub last_load_id: Option<String>,
}

impl From<Connector> for ConnectorView {
    fn from(c: Connector) -> Self {
        ConnectorView {
            id: c.id,
            resource_code: c.resource_code,
            kind: c.kind,
            url: shuniu_aggregate::masked_url(&c.url),
            source_table: c.source_table,
            mode: c.mode,
            updated_column: c.updated_column,
            schedule: c.schedule,
            watermark: c.watermark,
            enabled: c.enabled,
            next_run_at: c.next_run_at,
            last_run_at: c.last_run_at,
            last_load_id: c.last_load_id,
        }
    }
}

/// Scheduled pulls the caller may see.
#[utoipa::path(get, path = "/api/v1/connectors", tag = "aggregation",
    responses((status = 200, body = Vec<ConnectorView>), (status = 401, body = ErrorBody)))]
async fn list_connectors(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<axum::Json<Vec<ConnectorView>>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .aggregation
            .connectors(&actor)
            .await?
            .into_iter()
            .map(ConnectorView::from)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ConnectorRequest {
    /// postgres or mysql.
    #[schema(pattern = "^(postgres|mysql)$")]
    pub kind: String,
    /// Connection URL; write secrets as `${ENV_VAR}` of the server's environment.
    pub url: String,
    /// `table` or `schema.table`.
    pub table: String,
    /// replace (full) or upsert (incremental by `updated_column`).
    #[schema(pattern = "^(replace|upsert)$")]
    pub mode: String,
    pub updated_column: Option<String>,
    /// Cron in Beijing time, e.g. `0 2 * * *`.
    pub schedule: String,
}

/// Adds a scheduled pull from a department database into this dataset.
#[utoipa::path(post, path = "/api/v1/datasets/{code}/connectors", tag = "aggregation",
    params(("code" = String, Path, description = "Resource code")), request_body = ConnectorRequest,
    responses((status = 201, body = ConnectorView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn add_connector(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<ConnectorRequest>,
) -> Result<Response, ApiError> {
    let c = state
        .engines
        .aggregation
        .add_connector(
            &actor,
            &code,
            &ConnectorInput {
                kind: req.kind,
                url: req.url,
                table: req.table,
                mode: req.mode,
                updated_column: req.updated_column,
                schedule: req.schedule,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(ConnectorView::from(c))).into_response())
}

/// Runs a connector now and returns its load.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/run", tag = "aggregation",
    params(("id" = String, Path, description = "Connector id")),
    responses((status = 200, body = LoadView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn run_connector(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<LoadView>, ApiError> {
    Ok(axum::Json(
        state
            .engines
            .aggregation
            .run_connector(&actor, &id)
            .await?
            .into(),
    ))
}
