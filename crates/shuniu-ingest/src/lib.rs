//! Reading what departments send: CSV (UTF-8 with or without BOM, GBK, GB18030), Excel
//! (.xlsx, .xls), JSON arrays, NDJSON and Parquet, turned into Arrow batches typed by the
//! resource's data items.
//!
//! The pipeline is push-based and streams: a [`source`] walks the input once and hands each
//! record to an [`Assembler`], which maps columns to data items ([`ColumnPlan`]), converts
//! every cell to its item's type, and either appends the row to the batch being built or
//! rejects it with its line number and reason. Nothing here holds more than one batch of
//! rows; nothing here does I/O beyond reading the input.
//!
//! Architecture invariant: no storage, no async, no knowledge of the lake or the control
//! plane. A row is either in a batch or in the rejections — never dropped silently.

mod assemble;
mod cells;
mod encoding;
mod error;
mod mapping;
pub mod source;
#[cfg(test)]
mod tests;

pub use assemble::{Assembler, BatchSink, Rejection};
pub use cells::{CellError, parse_bool, parse_date, parse_datetime, parse_decimal, parse_float};
pub use encoding::{TextEncoding, detect_encoding};
pub use error::IngestError;
pub use mapping::{ColumnPlan, ItemColumn, arrow_schema, arrow_type, normalise_header};
pub use source::{
    Fields, FileFormat, HashingReader, RecordSink, SourceOptions, read_file, read_json_rows,
};

/// Rows per Arrow batch: large enough to amortise per-batch costs in Parquet and DataFusion,
/// small enough that one batch of wide rows stays a few megabytes.
pub const BATCH_ROWS: usize = 16 * 1024;
