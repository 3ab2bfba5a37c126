//! The values table: every computed value of every indicator, one Delta table in the lake
//! (`_indicator_values`), appended once per computation with the run that produced each row
//! and the dataset versions it read. A series is the latest run's value for each period and
//! breakdown; earlier runs stay in the table (and in its history) as the record of what the
//! city was told when.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use shuniu_lake::{Feed, Lake, WriteMode};

use crate::Result;
use crate::error::internal;
use crate::period::{Grain, Period};

/// The lake table that holds the values. The leading underscore keeps it apart from resource
/// codes, which start with a letter.
pub const VALUES_TABLE: &str = "_indicator_values";

/// The most rows one computation of one indicator may produce.
pub const MAX_ROWS: usize = 100_000;

/// One value of one indicator for one period and breakdown ('' = not broken down).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub period: Period,
    pub district: String,
    pub street: String,
    pub value: Option<f64>,
}

impl ValueRow {
    pub fn is_city(&self) -> bool {
        self.district.is_empty() && self.street.is_empty()
    }
}

/// The rows of one indicator's run, as they go into the table.
pub struct RunRows<'a> {
    pub code: &'a str,
    pub version: i64,
    pub run_id: &'a str,
    pub computed_at: &'a str,
    /// `[{"resource": …, "version": n}]`
    pub sources: String,
    pub rows: &'a [ValueRow],
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("indicator", DataType::Utf8, false),
        Field::new("indicator_version", DataType::Int64, false),
        Field::new("grain", DataType::Utf8, false),
        Field::new("period", DataType::Utf8, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("district", DataType::Utf8, false),
        Field::new("street", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("computed_at", DataType::Utf8, false),
        Field::new("sources", DataType::Utf8, false),
    ]))
}

/// Appends the runs' rows as one commit; returns the table's new version.
pub async fn append(lake: &Lake, runs: &[RunRows<'_>]) -> Result<Option<i64>> {
    let n: usize = runs.iter().map(|r| r.rows.len()).sum();
    if n == 0 {
        return Ok(None);
    }
    let mut cols: [Vec<String>; 8] = Default::default();
    let mut versions = Vec::with_capacity(n);
    let mut starts = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| internal("epoch"))?;
    for run in runs {
        for r in run.rows {
            cols[0].push(run.code.to_string());
            cols[1].push(r.period.grain().code().to_string());
            cols[2].push(r.period.to_string());
            cols[3].push(r.district.clone());
            cols[4].push(r.street.clone());
            cols[5].push(run.run_id.to_string());
            cols[6].push(run.computed_at.to_string());
            cols[7].push(run.sources.clone());
            versions.push(run.version);
            starts.push((r.period.start() - epoch).num_days() as i32);
            values.push(r.value);
        }
    }
    let text = |v: &Vec<String>| -> ArrayRef { Arc::new(StringArray::from_iter_values(v)) };
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            text(&cols[0]),
            Arc::new(arrow::array::Int64Array::from(versions)),
            text(&cols[1]),
            text(&cols[2]),
            Arc::new(arrow::array::Date32Array::from(starts)),
            text(&cols[3]),
            text(&cols[4]),
            Arc::new(Float64Array::from(values)),
            text(&cols[5]),
            text(&cols[6]),
            text(&cols[7]),
        ],
    )
    .map_err(internal)?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(Feed::Batch(batch)).await.map_err(internal)?;
    tx.send(Feed::End).await.map_err(internal)?;
    drop(tx);
    let committed = lake
        .write(
            VALUES_TABLE,
            schema(),
            WriteMode::Append,
            &[],
            rx,
            vec![(
                "shuniu.indicator_runs".into(),
                serde_json::json!(runs.iter().map(|r| r.run_id).collect::<Vec<_>>()),
            )],
        )
        .await
        .map_err(internal)?;
    Ok(Some(committed.version))
}

/// A point of a series as the API and pages show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeriesPoint {
    pub period: String,
    /// '' for the city as a whole.
    pub district: String,
    pub street: String,
    pub value: Option<f64>,
    /// Against the same period a year before (同比), as a share: 0.05 = +5 %.
    pub yoy: Option<f64>,
    /// Against the period before (环比).
    pub mom: Option<f64>,
    pub run_id: String,
    pub computed_at: String,
}

/// Which part of a series to read.
#[derive(Debug, Clone, Default)]
pub struct SeriesQuery {
    /// Only this district ('' = the city level only); all breakdowns when `None`.
    pub district: Option<String>,
    pub from: Option<Period>,
    pub to: Option<Period>,
}

fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(a), Some(b)) if b != 0.0 => Some((a - b) / b.abs()),
        _ => None,
    }
}

/// The latest run's value of each period and breakdown, with 同比 and 环比 derived.
pub async fn series(
    lake: &Lake,
    code: &str,
    grain: Grain,
    q: &SeriesQuery,
) -> Result<Vec<SeriesPoint>> {
    if lake
        .version(VALUES_TABLE)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Ok(Vec::new());
    }
    // The code was checked when the indicator was defined (capitals, digits, dashes) and the
    // district is digits: both are safe to write into the statement.
    let code_ok = crate::model::code_ok(code);
    let district_ok = q
        .district
        .as_deref()
        .is_none_or(|d| d.chars().all(|c| c.is_ascii_digit()));
    if !code_ok || !district_ok {
        return Ok(Vec::new());
    }
    let mut filter = format!("indicator = '{code}'");
    if let Some(d) = &q.district {
        filter.push_str(&format!(" AND district = '{d}'"));
    }
    let sql = format!(
        "SELECT period, district, street, value, run_id, computed_at FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY period, district, street
                 ORDER BY computed_at DESC, run_id DESC) AS latest
             FROM \"{VALUES_TABLE}\" WHERE {filter} AND grain = '{}')
         WHERE latest = 1",
        grain.code()
    );
    let result = lake
        .sql(vec![VALUES_TABLE.to_string()], &sql, MAX_ROWS * 4)
        .await
        .map_err(internal)?;
    let mut by_key: BTreeMap<(Period, String, String), SeriesPoint> = BTreeMap::new();
    for b in &result.batches {
        let text = |i: usize| text_column(b.column(i));
        let (periods, districts, streets, runs, ats) =
            (text(0)?, text(1)?, text(2)?, text(4)?, text(5)?);
        let v = number_column(b.column(3))?;
        for k in 0..b.num_rows() {
            let Some(period) = periods[k].as_deref().and_then(|p| Period::parse(grain, p)) else {
                continue;
            };
            if q.from.is_some_and(|f| period < f) || q.to.is_some_and(|t| period > t) {
                continue;
            }
            let district = districts[k].clone().unwrap_or_default();
            let street = streets[k].clone().unwrap_or_default();
            by_key.insert(
                (period, district.clone(), street.clone()),
                SeriesPoint {
                    period: period.to_string(),
                    district,
                    street,
                    value: v[k],
                    yoy: None,
                    mom: None,
                    run_id: runs[k].clone().unwrap_or_default(),
                    computed_at: ats[k].clone().unwrap_or_default(),
                },
            );
        }
    }
    let values: HashMap<(Period, String, String), Option<f64>> =
        by_key.iter().map(|(k, p)| (k.clone(), p.value)).collect();
    let mut out = Vec::with_capacity(by_key.len());
    for ((period, district, street), mut p) in by_key {
        let at = |q: Period| {
            values
                .get(&(q, district.clone(), street.clone()))
                .copied()
                .flatten()
        };
        p.mom = change(p.value, at(period.previous()));
        p.yoy = change(p.value, at(period.year_before()));
        out.push(p);
    }
    Ok(out)
}

/// Casts a query's column to text, for periods and breakdowns.
pub(crate) fn text_column(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let t = arrow::compute::cast(a, &DataType::Utf8).map_err(internal)?;
    let t = t
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| internal("text column"))?;
    Ok((0..t.len())
        .map(|k| (!t.is_null(k)).then(|| t.value(k).trim().to_string()))
        .collect())
}

/// Casts a query's value column to numbers.
pub(crate) fn number_column(a: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let t = arrow::compute::cast(a, &DataType::Float64).map_err(internal)?;
    let t = t
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| internal("value column"))?;
    Ok((0..t.len())
        .map(|k| (!t.is_null(k) && t.value(k).is_finite()).then(|| t.value(k)))
        .collect())
}

/// The columns of a series export, in order.
pub const EXPORT_HEADINGS: [&str; 10] = [
    "period",
    "district",
    "district_name",
    "street",
    "value",
    "unit",
    "yoy",
    "mom",
    "run_id",
    "computed_at",
];

/// A series point as the cells of an export row (`EXPORT_HEADINGS`).
pub fn export_cells(p: &SeriesPoint, unit: &str, district_name: &str) -> Vec<String> {
    vec![
        p.period.clone(),
        p.district.clone(),
        district_name.to_string(),
        p.street.clone(),
        p.value.map(|v| v.to_string()).unwrap_or_default(),
        unit.to_string(),
        p.yoy.map(|v| format!("{v:.6}")).unwrap_or_default(),
        p.mom.map(|v| format!("{v:.6}")).unwrap_or_default(),
        p.run_id.clone(),
        p.computed_at.clone(),
    ]
}

/// A series as an Excel workbook: one sheet named by the indicator, values as numbers.
pub fn workbook(
    code: &str,
    unit: &str,
    series: &[SeriesPoint],
    district_name: impl Fn(&str) -> String,
) -> Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let name: String = code.chars().take(31).collect();
    sheet.set_name(&name).map_err(internal)?;
    for (c, h) in EXPORT_HEADINGS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(internal)?;
    }
    for (r, p) in series.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, v) in export_cells(p, unit, &district_name(&p.district))
            .iter()
            .enumerate()
        {
            match (c, p.value) {
                (4, Some(n)) => sheet.write_number(row, c as u16, n),
                _ => sheet.write_string(row, c as u16, v),
            }
            .map_err(internal)?;
        }
    }
    book.save_to_buffer().map_err(internal)
}
