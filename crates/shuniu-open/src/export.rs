//! Downloads of the published copy as CSV, Excel, JSON and Parquet, streamed: rows are read
//! from the datastore segment by segment and written out in chunks, so a download of any
//! size holds a bounded amount in memory. Excel is the exception that needs a file: the
//! workbook is written in constant-memory mode to a temporary file (sheets of 1,048,575 rows
//! each, Excel's limit), then streamed.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use bytes::Bytes;
use futures::stream::BoxStream;
use shuniu_types::DataType;

use crate::error::{OpenError, Result};
use crate::packages::{Column, Package};
use crate::{Counter, Open, Reader};

/// A download format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
    Parquet,
}

impl Format {
    pub fn parse(ext: &str) -> Option<Format> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "xlsx" | "excel" => Format::Xlsx,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }

    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// A download ready to stream.
pub struct Download {
    pub filename: String,
    pub content_type: &'static str,
    pub body: BoxStream<'static, std::result::Result<Bytes, std::io::Error>>,
}

const CHUNK: usize = 256 * 1024;
/// Excel's row limit per sheet, less the header.
const XLSX_ROWS: usize = 1_048_575;

type Tx = tokio::sync::mpsc::Sender<std::result::Result<Bytes, std::io::Error>>;

/// Sends a chunk from the blocking writer; `Err` when the client went away.
fn send(tx: &Tx, buf: &mut Vec<u8>) -> std::result::Result<(), ()> {
    if buf.is_empty() {
        return Ok(());
    }
    tx.blocking_send(Ok(Bytes::from(std::mem::take(buf))))
        .map_err(|_| ())
}

fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::Integer => ArrowType::Int64,
        DataType::Numeric | DataType::Currency => ArrowType::Float64,
        DataType::Date => ArrowType::Date32,
        DataType::Boolean => ArrowType::Boolean,
        _ => ArrowType::Utf8,
    }
}

/// A batch of text rows as typed Arrow columns (values that do not parse become NULL, as a
/// published value that is not a number cannot be one in Parquet either).
fn typed_batch(
    schema: &Arc<Schema>,
    columns: &[Column],
    rows: &[Vec<Option<String>>],
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(r.get(i).cloned().flatten());
        }
        let text: ArrayRef = Arc::new(b.finish());
        let target = arrow_type(c.data_type);
        arrays.push(if target == ArrowType::Utf8 {
            text
        } else {
            arrow::compute::cast_with_options(
                &text,
                &target,
                &arrow::compute::CastOptions {
                    safe: true,
                    ..Default::default()
                },
            )
            .map_err(|e| OpenError::Index(format!("column {}: {e}", c.name)))?
        });
    }
    RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| OpenError::Index(format!("batch: {e}")))
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<parking_lot::Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock())
    }
}

fn write_all(format: Format, pkg: &Package, ds: &crate::Datastore, tx: &Tx) -> Result<u64> {
    let columns = &pkg.columns;
    let mut rows_out = 0u64;
    match format {
        Format::Csv => {
            let out = SharedBuf::default();
            // A BOM so that Excel opens the UTF-8 file as UTF-8 (Chinese text).
            out.0.lock().extend_from_slice("\u{feff}".as_bytes());
            let mut w = csv::Writer::from_writer(out.clone());
            let cerr = |e: csv::Error| OpenError::Index(format!("csv: {e}"));
            w.write_record(columns.iter().map(|c| c.name.as_str()))
                .map_err(cerr)?;
            ds.for_each_row(|row| {
                w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))
                    .map_err(|_| ())?;
                rows_out += 1;
                if rows_out.is_multiple_of(2048) {
                    w.flush().map_err(|_| ())?;
                    send(tx, &mut out.take())?;
                }
                Ok(())
            })?;
            w.flush()?;
            let _ = send(tx, &mut out.take());
        }
        Format::Json => {
            let mut buf = b"[".to_vec();
            ds.for_each_row(|row| {
                let obj: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| {
                        (
                            c.name.clone(),
                            v.map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                if rows_out > 0 {
                    buf.push(b',');
                }
                buf.push(b'\n');
                serde_json::to_writer(&mut buf, &obj).map_err(|_| ())?;
                rows_out += 1;
                if buf.len() >= CHUNK {
                    send(tx, &mut buf)?;
                }
                Ok(())
            })?;
            buf.extend_from_slice(b"\n]\n");
            let _ = send(tx, &mut buf);
        }
        Format::Parquet => {
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|c| Field::new(&c.name, arrow_type(c.data_type), true))
                    .collect::<Vec<_>>(),
            ));
            let out = SharedBuf::default();
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .set_max_row_group_row_count(Some(65_536))
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(out.clone(), schema.clone(), Some(props))
                    .map_err(|e| OpenError::Index(format!("parquet: {e}")))?;
            let mut pending: Vec<Vec<Option<String>>> = Vec::with_capacity(8192);
            let mut failed: Option<OpenError> = None;
            ds.for_each_row(|row| {
                pending.push(row);
                rows_out += 1;
                if pending.len() == 8192 {
                    let batch = typed_batch(&schema, columns, &pending).map_err(|e| {
                        failed = Some(e);
                    })?;
                    pending.clear();
                    writer.write(&batch).map_err(|e| {
                        failed = Some(OpenError::Index(e.to_string()));
                    })?;
                    let mut bytes = out.take();
                    send(tx, &mut bytes)?;
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if !pending.is_empty() {
                let batch = typed_batch(&schema, columns, &pending)?;
                writer
                    .write(&batch)
                    .map_err(|e| OpenError::Index(e.to_string()))?;
            }
            writer
                .close()
                .map_err(|e| OpenError::Index(e.to_string()))?;
            let mut bytes = out.take();
            let _ = send(tx, &mut bytes);
        }
        Format::Xlsx => {
            let file = tempfile::NamedTempFile::new()?;
            let mut book = rust_xlsxwriter::Workbook::new();
            let bold = rust_xlsxwriter::Format::new().set_bold();
            let xerr = |e: rust_xlsxwriter::XlsxError| OpenError::Index(format!("xlsx: {e}"));
            let mut sheet_rows = 0usize;
            let mut sheet_index = 0usize;
            let mut failed: Option<OpenError> = None;
            let header = |sheet: &mut rust_xlsxwriter::Worksheet| -> Result<()> {
                for (i, c) in columns.iter().enumerate() {
                    sheet
                        .write_string_with_format(0, i as u16, &c.label, &bold)
                        .map_err(xerr)?;
                }
                Ok(())
            };
            header(book.add_worksheet_with_constant_memory().map_err(xerr)?)?;
            ds.for_each_row(|row| {
                if sheet_rows == XLSX_ROWS {
                    let sheet = book
                        .add_worksheet_with_constant_memory()
                        .map_err(|e| failed = Some(xerr(e)))?;
                    header(sheet).map_err(|e| failed = Some(e))?;
                    sheet_index += 1;
                    sheet_rows = 0;
                }
                let sheet = book
                    .worksheet_from_index(sheet_index)
                    .map_err(|e| failed = Some(xerr(e)))?;
                sheet_rows += 1;
                for (i, v) in row.iter().enumerate() {
                    if let Some(v) = v {
                        let numeric = matches!(columns[i].ckan_type, "int" | "numeric");
                        let r = match v.parse::<f64>() {
                            Ok(n) if numeric && n.is_finite() => sheet
                                .write_number(sheet_rows as u32, i as u16, n)
                                .map(|_| ()),
                            _ => sheet
                                .write_string(sheet_rows as u32, i as u16, v)
                                .map(|_| ()),
                        };
                        r.map_err(|e| failed = Some(xerr(e)))?;
                    }
                }
                rows_out += 1;
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            book.save(file.path()).map_err(xerr)?;
            let mut f = std::fs::File::open(file.path())?;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = std::io::Read::read(&mut f, &mut buf)?;
                if n == 0 {
                    break;
                }
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    Ok(rows_out)
}

impl Open {
    /// Streams a published dataset in `format`. The access is audited when the stream ends,
    /// with the number of rows sent.
    pub async fn download(&self, reader: &Reader, code: &str, format: Format) -> Result<Download> {
        let pkg = self.authorize(reader, code).await?;
        let ds = self.datastore(&pkg.code)?;
        self.count(&pkg.code, Counter::Download);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let this = self.clone();
        let reader = reader.clone();
        let p = pkg.clone();
        tokio::spawn(async move {
            let p2 = p.clone();
            let tx2 = tx.clone();
            let result =
                tokio::task::spawn_blocking(move || write_all(format, &p2, &ds, &tx2)).await;
            let (rows, detail) = match result {
                Ok(Ok(rows)) => (rows, format!("format={}", format.ext())),
                Ok(Err(e)) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    (0, format!("format={} failed: {e}", format.ext()))
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    (0, format!("format={} panicked", format.ext()))
                }
            };
            if let Err(e) = this
                .audit_access(&reader, &p, "open.download", rows, Some(detail))
                .await
            {
                tracing::error!(error = %e, "download audit failed");
            }
        });
        Ok(Download {
            filename: format!("{}.{}", pkg.code, format.ext()),
            content_type: format.content_type(),
            body: Box::pin(tokio_stream_from(rx)),
        })
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
