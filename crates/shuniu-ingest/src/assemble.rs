//! Rows in, typed batches and rejections out.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use serde::Serialize;
use shuniu_types::DataType;

use crate::cells::{self, CellError};
use crate::mapping::{CURRENCY_PRECISION, CURRENCY_SCALE, ColumnPlan, arrow_schema};
use crate::source::{Fields, RecordSink};
use crate::{BATCH_ROWS, IngestError};

/// A row that was not loaded, and why. `line` is the 1-based line (CSV, NDJSON), row
/// (Excel) or element (JSON array, Parquet) number in the source.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub line: u64,
    pub column: Option<String>,
    pub code: &'static str,
    pub reason_zh: String,
    pub reason_en: String,
    /// The row's fields as read, for the rejected-rows download.
    pub raw: Vec<String>,
}

/// Where finished batches and rejections go (the lake writer and the rejects file).
pub trait BatchSink {
    fn batch(&mut self, batch: RecordBatch) -> Result<(), IngestError>;
    fn rejected(&mut self, rejection: Rejection) -> Result<(), IngestError>;
}

enum Column {
    Text(StringBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
    Decimal(Decimal128Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
    Binary(BinaryBuilder),
}

impl Column {
    fn new(t: DataType) -> Column {
        let cap = BATCH_ROWS;
        match t {
            DataType::Text | DataType::Memo => {
                Column::Text(StringBuilder::with_capacity(cap, cap * 16))
            }
            DataType::Numeric => Column::Float(Float64Builder::with_capacity(cap)),
            DataType::Integer => Column::Int(Int64Builder::with_capacity(cap)),
            DataType::Currency => Column::Decimal(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(CURRENCY_PRECISION, CURRENCY_SCALE)
                    .unwrap_or_default(),
            ),
            DataType::Date => Column::Date(Date32Builder::with_capacity(cap)),
            DataType::DateTime => Column::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC"),
            ),
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Binary => Column::Binary(BinaryBuilder::with_capacity(cap, cap * 16)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Decimal(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Binary(b) => Arc::new(b.finish()),
        }
    }
}

/// A cell after parsing; text and binary are re-read from the record when appended.
#[derive(Clone, Copy)]
enum Scalar {
    Null,
    Text,
    Float(f64),
    Int(i64),
    Decimal(i128),
    Date(i32),
    Timestamp(i64),
    Bool(bool),
    Binary,
}

const EPOCH_DAYS_CE: i32 = 719_163;

fn date32(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - EPOCH_DAYS_CE
}

/// Turns records into batches of the resource's schema.
pub struct Assembler<S: BatchSink> {
    plan: ColumnPlan,
    schema: SchemaRef,
    columns: Vec<Column>,
    scalars: Vec<Scalar>,
    in_batch: usize,
    sink: S,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

impl<S: BatchSink> Assembler<S> {
    pub fn new(plan: ColumnPlan, sink: S) -> Self {
        let items: Vec<_> = plan.columns.iter().map(|c| c.item.clone()).collect();
        let schema = arrow_schema(&items);
        let columns = items.iter().map(|i| Column::new(i.data_type)).collect();
        let scalars = vec![Scalar::Null; items.len()];
        Assembler {
            plan,
            schema,
            columns,
            scalars,
            in_batch: 0,
            sink,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn plan(&self) -> &ColumnPlan {
        &self.plan
    }

    /// Flushes the last batch and hands back the sink.
    pub fn finish(mut self) -> Result<S, IngestError> {
        self.flush()?;
        Ok(self.sink)
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        if self.in_batch == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        self.in_batch = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| IngestError::Stopped(format!("building a batch: {e}")))?;
        self.sink.batch(batch)
    }

    fn reject(
        &mut self,
        line: u64,
        column: Option<String>,
        code: &'static str,
        zh: String,
        en: String,
        raw: Vec<String>,
    ) -> Result<(), IngestError> {
        self.rows_rejected += 1;
        self.sink.rejected(Rejection {
            line,
            column,
            code,
            reason_zh: zh,
            reason_en: en,
            raw,
        })
    }

    /// Parses every cell first so that a bad cell rejects the row before anything of it
    /// is appended.
    fn parse_row(
        &mut self,
        fields: &dyn Fields,
    ) -> Result<(), (usize, &'static str, String, String)> {
        for (idx, col) in self.plan.columns.iter().enumerate() {
            let value = col
                .source
                .and_then(|s| fields.get(s))
                .map(str::trim)
                .filter(|v| !v.is_empty());
            let item = &col.item;
            let Some(v) = value else {
                if item.required || item.is_key {
                    return Err((
                        idx,
                        "REQUIRED_MISSING",
                        format!("必填信息项“{}”为空", item.label),
                        format!("required item {} is empty", item.name),
                    ));
                }
                self.scalars[idx] = Scalar::Null;
                continue;
            };
            let cell_err = |e: CellError| {
                (
                    idx,
                    e.code(),
                    format!("信息项“{}”{}", item.label, e.zh()),
                    format!("item {}: {}", item.name, e.en()),
                )
            };
            self.scalars[idx] = match item.data_type {
                DataType::Text | DataType::Memo => {
                    if let Some(max) = item.length {
                        let n = v.chars().count();
                        if n > max as usize {
                            return Err((
                                idx,
                                "TOO_LONG",
                                format!("信息项“{}”长度 {n} 超过定义的 {max}", item.label),
                                format!(
                                    "item {} is {n} characters long, more than its length {max}",
                                    item.name
                                ),
                            ));
                        }
                    }
                    Scalar::Text
                }
                DataType::Numeric => Scalar::Float(cells::parse_float(v).map_err(cell_err)?),
                DataType::Integer => Scalar::Int(cells::parse_int(v).map_err(cell_err)?),
                DataType::Currency => Scalar::Decimal(
                    cells::parse_decimal(v, CURRENCY_SCALE as u32, CURRENCY_PRECISION as u32)
                        .map_err(cell_err)?,
                ),
                DataType::Date => Scalar::Date(date32(cells::parse_date(v).map_err(cell_err)?)),
                DataType::DateTime => {
                    Scalar::Timestamp(cells::parse_datetime(v).map_err(cell_err)?)
                }
                DataType::Boolean => Scalar::Bool(cells::parse_bool(v).map_err(cell_err)?),
                DataType::Binary => {
                    cells::parse_hex(v).map_err(cell_err)?;
                    Scalar::Binary
                }
            };
        }
        Ok(())
    }

    fn append_row(&mut self, fields: &dyn Fields) {
        for (idx, col) in self.plan.columns.iter().enumerate() {
            let text = || {
                col.source
                    .and_then(|s| fields.get(s))
                    .map(str::trim)
                    .unwrap_or_default()
            };
            match (&mut self.columns[idx], self.scalars[idx]) {
                (Column::Text(b), Scalar::Text) => b.append_value(text()),
                (Column::Text(b), _) => b.append_null(),
                (Column::Float(b), Scalar::Float(v)) => b.append_value(v),
                (Column::Float(b), _) => b.append_null(),
                (Column::Int(b), Scalar::Int(v)) => b.append_value(v),
                (Column::Int(b), _) => b.append_null(),
                (Column::Decimal(b), Scalar::Decimal(v)) => b.append_value(v),
                (Column::Decimal(b), _) => b.append_null(),
                (Column::Date(b), Scalar::Date(v)) => b.append_value(v),
                (Column::Date(b), _) => b.append_null(),
                (Column::Timestamp(b), Scalar::Timestamp(v)) => b.append_value(v),
                (Column::Timestamp(b), _) => b.append_null(),
                (Column::Bool(b), Scalar::Bool(v)) => b.append_value(v),
                (Column::Bool(b), _) => b.append_null(),
                (Column::Binary(b), Scalar::Binary) => match cells::parse_hex(text()) {
                    Ok(bytes) => b.append_value(bytes),
                    Err(_) => b.append_null(),
                },
                (Column::Binary(b), _) => b.append_null(),
            }
        }
    }
}

impl<S: BatchSink> RecordSink for Assembler<S> {
    fn record(&mut self, line: u64, fields: &dyn Fields) -> Result<(), IngestError> {
        if fields.is_blank() {
            return Ok(());
        }
        self.rows_read += 1;
        let width = self.plan.headers.len();
        if fields.len() != width {
            let n = fields.len();
            return self.reject(
                line,
                None,
                "RAGGED_ROW",
                format!("该行有 {n} 个字段，表头有 {width} 个（检查分隔符或未闭合的引号）"),
                format!(
                    "the row has {n} fields but the header has {width} (check the delimiter or an unclosed quote)"
                ),
                fields.raw(),
            );
        }
        match self.parse_row(fields) {
            Ok(()) => {
                self.append_row(fields);
                self.rows_accepted += 1;
                self.in_batch += 1;
                if self.in_batch >= BATCH_ROWS {
                    self.flush()?;
                }
                Ok(())
            }
            Err((idx, code, zh, en)) => {
                let column = Some(self.plan.columns[idx].item.name.clone());
                self.reject(line, column, code, zh, en, fields.raw())
            }
        }
    }

    fn bad_record(
        &mut self,
        line: u64,
        raw: Vec<String>,
        code: &'static str,
        zh: String,
        en: String,
    ) -> Result<(), IngestError> {
        self.rows_read += 1;
        self.reject(line, None, code, zh, en, raw)
    }
}
