//! Sensitive columns sealed in the lake (SM4-GCM per cell, HMAC-SM3 digest beside it).
//!
//! A column the writer marks [`SENSITIVE`] is stored as two physical columns: `name`, a binary
//! column of sealed cells whose Delta field metadata records the column's own type under
//! `shuniu.sealed`, and `name#sm3`, the keyed digest of each value (equal values, equal
//! digests), which is what merges match keys on. Readers of the Parquet files without the
//! hub's data key (DuckDB, Spark) see those two binary columns and nothing of the values.
//! The hub's own readers go through [`opened`], a view that opens the cells and hides the
//! digests, so every SQL statement, stream and preview sees the column as it was loaded.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::Column;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility, expr::Cast,
};
use deltalake::kernel::{MetadataValue, StructType};
use shuniu_keys::{CellKey, CellSealer};
use tokio::sync::mpsc;

use crate::{Feed, LakeError, Result, WriteMode};

/// Field metadata a writer sets on a column whose values must be sealed.
pub const SENSITIVE: &str = "shuniu.sensitive";
/// Field metadata of a sealed physical column: the column's own Arrow type.
pub const SEALED: &str = "shuniu.sealed";
/// Suffix of the digest column beside a sealed column (`#` cannot occur in an item name).
pub const DIGEST_SUFFIX: &str = "#sm3";

/// Marks the columns `is_sensitive` names, for [`crate::Lake::write`].
pub fn mark_sensitive(schema: &Schema, is_sensitive: impl Fn(&str) -> bool) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                let f = f.as_ref().clone();
                if is_sensitive(f.name()) {
                    let mut m = f.metadata().clone();
                    m.insert(SENSITIVE.into(), "true".into());
                    f.with_metadata(m)
                } else {
                    f
                }
            })
            .collect::<Vec<_>>(),
    ))
}

fn digest_name(column: &str) -> String {
    format!("{column}{DIGEST_SUFFIX}")
}

/// The sealed columns of a stored table and their own types.
pub(crate) fn sealed_columns(schema: &StructType) -> HashMap<String, DataType> {
    schema
        .fields()
        .filter_map(|f| match f.metadata().get(SEALED) {
            Some(MetadataValue::String(t)) => t
                .parse::<DataType>()
                .ok()
                .map(|t| (f.name().to_string(), t)),
            _ => None,
        })
        .collect()
}

/// How one write stores its columns.
pub(crate) struct Sealing {
    pub physical: SchemaRef,
    /// Per logical column: sealed (with its type) or stored as it is.
    columns: Vec<(String, Option<DataType>)>,
    key: CellKey,
}

impl Sealing {
    /// Decides which columns of a write are sealed: a replace follows the writer's marks; the
    /// other modes keep each existing column as the table stores it (sealed or not) and follow
    /// the marks for new columns, so one table never mixes the two forms of a column.
    /// Returns the physical schema, and no `Sealing` when nothing is sealed.
    pub fn plan(
        logical: &Schema,
        existing: Option<&HashMap<String, bool>>,
        mode: WriteMode,
        key: Option<&CellKey>,
    ) -> Result<(SchemaRef, Option<Sealing>)> {
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut any = false;
        for f in logical.fields() {
            let marked = f.metadata().get(SENSITIVE).is_some_and(|v| v == "true");
            let seal = match (mode, existing.and_then(|e| e.get(f.name()))) {
                (WriteMode::Replace, _) | (_, None) => marked,
                (_, Some(stored_sealed)) => *stored_sealed,
            };
            if seal {
                if key.is_none() {
                    return Err(LakeError::Config(
                        "a sensitive column must be sealed, but the lake has no data key".into(),
                    ));
                }
                any = true;
                let mut m = HashMap::new();
                m.insert(SEALED.to_string(), f.data_type().to_string());
                fields.push(Field::new(f.name(), DataType::Binary, true).with_metadata(m));
                fields.push(Field::new(digest_name(f.name()), DataType::Binary, true));
                columns.push((f.name().clone(), Some(f.data_type().clone())));
            } else {
                fields.push(Field::new(f.name(), f.data_type().clone(), f.is_nullable()));
                columns.push((f.name().clone(), None));
            }
        }
        let physical = Arc::new(Schema::new(fields));
        Ok(match (any, key) {
            (true, Some(k)) => (
                physical.clone(),
                Some(Sealing {
                    physical,
                    columns,
                    key: k.clone(),
                }),
            ),
            _ => (physical, None),
        })
    }

    /// The column a merge matches `key` on: its digest when it is sealed.
    pub fn match_column(&self, key: &str) -> String {
        if self.columns.iter().any(|(n, t)| n == key && t.is_some()) {
            digest_name(key)
        } else {
            key.to_string()
        }
    }

    /// Seals a feed's batches on a blocking thread (SM4 is CPU work) as they pass.
    pub fn seal_feed(self, mut feed: mpsc::Receiver<Feed>) -> mpsc::Receiver<Feed> {
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut sealer = match self.key.sealer() {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.blocking_send(Feed::Fail(e.to_string()));
                    return;
                }
            };
            while let Some(f) = feed.blocking_recv() {
                let out = match f {
                    Feed::Batch(b) => match self.seal_batch(&b, &mut sealer) {
                        Ok(p) => Feed::Batch(p),
                        Err(e) => Feed::Fail(e.to_string()),
                    },
                    other => other,
                };
                let stop = !matches!(out, Feed::Batch(_));
                if tx.blocking_send(out).is_err() || stop {
                    return;
                }
            }
        });
        rx
    }

    fn seal_batch(&self, batch: &RecordBatch, sealer: &mut CellSealer) -> Result<RecordBatch> {
        let mut out: Vec<ArrayRef> = Vec::with_capacity(self.physical.fields().len());
        for (i, (name, sealed)) in self.columns.iter().enumerate() {
            let col = batch
                .column_by_name(name)
                .or_else(|| batch.columns().get(i))
                .ok_or_else(|| LakeError::Input(format!("the load lacks column {name}")))?;
            let Some(own) = sealed else {
                out.push(col.clone());
                continue;
            };
            let bytes: ArrayRef = match own {
                DataType::Binary => col.clone(),
                _ => cast(col, &DataType::Utf8)?,
            };
            let n = bytes.len();
            let mut cells = BinaryBuilder::with_capacity(n, n * 64);
            let mut digests = BinaryBuilder::with_capacity(n, n * 32);
            let mut buf = Vec::with_capacity(128);
            let value = |j: usize| -> &[u8] {
                match bytes.data_type() {
                    DataType::Binary => bytes.as_binary::<i32>().value(j),
                    _ => bytes.as_string::<i32>().value(j).as_bytes(),
                }
            };
            for j in 0..n {
                if bytes.is_null(j) {
                    cells.append_null();
                    digests.append_null();
                    continue;
                }
                let v = value(j);
                buf.clear();
                sealer
                    .seal_into(name, v, &mut buf)
                    .map_err(|e| LakeError::Input(e.to_string()))?;
                cells.append_value(&buf);
                digests.append_value(self.key.digest(v));
            }
            out.push(Arc::new(cells.finish()));
            out.push(Arc::new(digests.finish()));
        }
        Ok(RecordBatch::try_new(self.physical.clone(), out)?)
    }
}

/// The table as the hub reads it: sealed columns opened to their own types, digests hidden.
/// A table without sealed columns is returned as it is.
pub(crate) fn opened(
    code: &str,
    provider: Arc<dyn TableProvider>,
    sealed: &HashMap<String, DataType>,
    key: Option<&CellKey>,
) -> Result<Arc<dyn TableProvider>> {
    if sealed.is_empty() {
        return Ok(provider);
    }
    let key = key.ok_or_else(|| {
        LakeError::Config(format!(
            "{code} holds sealed columns, but the lake was opened without the data key"
        ))
    })?;
    let schema = provider.schema();
    let mut exprs = Vec::new();
    for f in schema.fields() {
        let name = f.name();
        if let Some(base) = name.strip_suffix(DIGEST_SUFFIX)
            && sealed.contains_key(base)
        {
            continue;
        }
        let column = Expr::Column(Column::new_unqualified(name));
        exprs.push(match sealed.get(name) {
            None => column,
            Some(own) => {
                let out = if *own == DataType::Binary {
                    DataType::Binary
                } else {
                    DataType::Utf8
                };
                let udf = ScalarUDF::new_from_impl(OpenCell {
                    key: key.clone(),
                    column: name.clone(),
                    out: out.clone(),
                    signature: Signature::uniform(
                        1,
                        vec![
                            DataType::Binary,
                            DataType::BinaryView,
                            DataType::LargeBinary,
                        ],
                        Volatility::Immutable,
                    ),
                });
                let opened = udf.call(vec![column]);
                let typed = if *own == out {
                    opened
                } else {
                    Expr::Cast(Cast::new(Box::new(opened), own.clone()))
                };
                typed.alias(name)
            }
        });
    }
    let plan = LogicalPlanBuilder::scan(code, provider_as_source(provider), None)?
        .project(exprs)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// `sm4_open(cell)`: one sealed column's cells, opened.
#[derive(Debug)]
struct OpenCell {
    key: CellKey,
    column: String,
    out: DataType,
    signature: Signature,
}

impl PartialEq for OpenCell {
    fn eq(&self, o: &Self) -> bool {
        self.key.id() == o.key.id() && self.column == o.column && self.out == o.out
    }
}
impl Eq for OpenCell {}
impl Hash for OpenCell {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key.id().hash(h);
        self.column.hash(h);
        self.out.hash(h);
    }
}

impl ScalarUDFImpl for OpenCell {
    fn name(&self) -> &str {
        "sm4_open"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(self.out.clone())
    }
    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let input = arrays
            .first()
            .ok_or_else(|| DataFusionError::Execution("sm4_open takes one argument".into()))?;
        let input = cast(input, &DataType::Binary)?;
        let cells = input.as_binary::<i32>();
        let fail = |e: shuniu_keys::KeyError| {
            DataFusionError::Execution(format!("sealed cell of {} does not open: {e}", self.column))
        };
        let out: ArrayRef = if self.out == DataType::Binary {
            let mut b = BinaryBuilder::with_capacity(cells.len(), cells.value_data().len());
            for c in cells.iter() {
                match c {
                    None => b.append_null(),
                    Some(c) => b.append_value(self.key.open(&self.column, c).map_err(fail)?),
                }
            }
            Arc::new(b.finish())
        } else {
            let mut b = StringBuilder::with_capacity(cells.len(), cells.value_data().len());
            for c in cells.iter() {
                match c {
                    None => b.append_null(),
                    Some(c) => {
                        let v = self.key.open(&self.column, c).map_err(fail)?;
                        let s = String::from_utf8(v).map_err(|_| {
                            DataFusionError::Execution(format!(
                                "sealed cell of {} is not text",
                                self.column
                            ))
                        })?;
                        b.append_value(s);
                    }
                }
            }
            Arc::new(b.finish())
        };
        Ok(ColumnarValue::Array(out))
    }
}
