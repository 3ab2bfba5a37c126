//! The hub's own figures — the catalog's size, the volume aggregated, demand satisfaction, the
//! unified service's share, quality, open data, event closure — recorded once a day into the
//! lake table `_hub_figures`. The hub's built-in indicators are then SQL over that table like
//! any city indicator: computed, kept, traced (to the table's version) and alerted the same way.
//!
//! The figures are gathered by whoever can see every engine (the server's scheduler, the CLI,
//! the demo); this module only stores and reads them, and names the built-in indicators.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use shuniu_lake::{Feed, Lake, WriteMode};

use crate::Result;
use crate::error::internal;
use crate::model::{IndicatorInput, Target};

/// The lake table of the hub's figures; like the values table, its leading underscore keeps it
/// apart from resource codes. An indicator may name it among its resources.
pub const FIGURES_TABLE: &str = "_hub_figures";

/// One figure on one day: the whole hub (`department` and `district` empty) or one department's
/// or district's part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct HubFigure {
    /// `catalog.resources`, `events.on_time_rate` … (see [`FIGURES`]).
    pub figure: &'static str,
    pub department: String,
    pub district: String,
    pub value: f64,
}

impl HubFigure {
    pub fn city(figure: &'static str, value: f64) -> HubFigure {
        HubFigure {
            figure,
            department: String::new(),
            district: String::new(),
            value,
        }
    }
}

/// Every figure the hub records: (figure, built-in indicator, name, unit, definition (口径),
/// broken down by district).
pub const FIGURES: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "catalog.resources",
        "HUB-CATALOG-RESOURCES",
        "已发布目录资源数",
        "个",
        "数据资源目录中状态为“已发布”的资源数（不含草稿、待审、已撤回）；按提供部门另有分列。",
        false,
    ),
    (
        "catalog.data_items",
        "HUB-CATALOG-ITEMS",
        "已发布信息项数",
        "项",
        "已发布目录资源所含信息项（数据项）的总数。",
        false,
    ),
    (
        "aggregation.rows_30d",
        "HUB-AGG-ROWS",
        "近30日汇聚数据量",
        "条",
        "近30日成功提交的汇聚任务接收的行数之和（不含被拒行）；按部门另有分列。",
        false,
    ),
    (
        "aggregation.loads_30d",
        "HUB-AGG-LOADS",
        "近30日成功汇聚任务数",
        "次",
        "近30日提交了数据集版本的汇聚任务次数（文件上传、接口推送、定时抽取）。",
        false,
    ),
    (
        "sharing.demand_satisfaction",
        "HUB-DEMAND-SATISFACTION",
        "共享需求满足率",
        "%",
        "已答复的共享需求中需求方确认满足的比例；尚无答复时无值。",
        false,
    ),
    (
        "sharing.grants_active",
        "HUB-GRANTS-ACTIVE",
        "有效共享授权数",
        "个",
        "当日处于有效期内、未撤销的共享授权数。",
        false,
    ),
    (
        "sharing.requests_overdue",
        "HUB-REQUESTS-OVERDUE",
        "逾期未审共享申请数",
        "件",
        "超过答复时限仍未审核的共享申请数。",
        false,
    ),
    (
        "sharing.unified_share",
        "HUB-UNIFIED-SHARE",
        "统一数据服务占比",
        "%",
        "近30日全部数据访问（控制台、接口、命令行、服务）中经统一数据服务完成的比例。",
        false,
    ),
    (
        "quality.city_score",
        "HUB-QUALITY-SCORE",
        "全市数据质量得分",
        "分",
        "各数据集最近一次质量检查得分的平均值（0–100）；按部门另有分列。",
        false,
    ),
    (
        "quality.open_tickets",
        "HUB-QUALITY-TICKETS",
        "未关闭质量问题工单数",
        "件",
        "质量检查发现、尚未整改关闭的问题工单数。",
        false,
    ),
    (
        "open.datasets",
        "HUB-OPEN-DATASETS",
        "开放数据集数",
        "个",
        "开放门户上公开或有条件开放的数据集数。",
        false,
    ),
    (
        "open.downloads",
        "HUB-OPEN-DOWNLOADS",
        "开放数据累计下载次数",
        "次",
        "开放门户全部数据集的累计下载次数。",
        false,
    ),
    (
        "open.api_calls",
        "HUB-OPEN-API-CALLS",
        "开放接口累计调用次数",
        "次",
        "开放门户数据接口（DataStore 等）的累计调用次数。",
        false,
    ),
    (
        "events.open",
        "HUB-EVENTS-OPEN",
        "在办城市事件数",
        "件",
        "已受理、尚未办结（上报、派遣、处置、待核查）的城市事件数。",
        false,
    ),
    (
        "events.overdue",
        "HUB-EVENTS-OVERDUE",
        "逾期未办结事件数",
        "件",
        "尚未办结且已超过处置时限的城市事件数。",
        false,
    ),
    (
        "events.on_time_rate",
        "HUB-EVENTS-ONTIME",
        "事件按期办结率",
        "%",
        "近30日受理、已到期的事件中按期办结的比例（按期办结 ÷（已办结＋逾期未办结）），按区（市）分列。",
        true,
    ),
    (
        "events.satisfaction",
        "HUB-EVENTS-SATISFACTION",
        "事件处置满意度",
        "分",
        "近30日办结事件回访评价的平均分（1–5），按区（市）分列。",
        true,
    ),
];

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("figure", DataType::Utf8, false),
        Field::new("day", DataType::Date32, false),
        Field::new("department", DataType::Utf8, false),
        Field::new("district", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("recorded_at", DataType::Utf8, false),
    ]))
}

fn epoch() -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| internal("epoch"))
}

/// Appends one day's figures as one commit; returns the table's new version. Non-finite values
/// (a rate with nothing to divide) are left out rather than stored as NaN.
pub async fn append(
    lake: &Lake,
    day: NaiveDate,
    recorded_at: &str,
    figures: &[HubFigure],
) -> Result<Option<i64>> {
    let figures: Vec<&HubFigure> = figures.iter().filter(|f| f.value.is_finite()).collect();
    if figures.is_empty() {
        return Ok(None);
    }
    let days = (day - epoch()?).num_days() as i32;
    let text = |f: &dyn Fn(&HubFigure) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(figures.iter().map(|x| f(x))))
    };
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            text(&|f| f.figure),
            Arc::new(Date32Array::from(vec![days; figures.len()])),
            text(&|f| &f.department),
            text(&|f| &f.district),
            Arc::new(Float64Array::from_iter_values(
                figures.iter().map(|f| f.value),
            )),
            Arc::new(StringArray::from_iter_values(
                figures.iter().map(|_| recorded_at),
            )),
        ],
    )
    .map_err(internal)?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(Feed::Batch(batch)).await.map_err(internal)?;
    tx.send(Feed::End).await.map_err(internal)?;
    drop(tx);
    let committed = lake
        .write(FIGURES_TABLE, schema(), WriteMode::Append, &[], rx, vec![])
        .await
        .map_err(internal)?;
    Ok(Some(committed.version))
}

/// The last day figures were recorded for, if any.
pub async fn last_day(lake: &Lake) -> Result<Option<NaiveDate>> {
    if lake
        .version(FIGURES_TABLE)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Ok(None);
    }
    let result = lake
        .sql(
            vec![FIGURES_TABLE.to_string()],
            &format!("SELECT MAX(day) AS day FROM \"{FIGURES_TABLE}\""),
            1,
        )
        .await
        .map_err(internal)?;
    let Some(b) = result.batches.first() else {
        return Ok(None);
    };
    let days = b
        .column(0)
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| internal("day column"))?;
    if days.is_empty() || arrow::array::Array::is_null(days, 0) {
        return Ok(None);
    }
    Ok(Some(
        epoch()? + chrono::Duration::days(days.value(0) as i64),
    ))
}

/// The built-in indicators over the hub's figures, owned by the hub's department: one per
/// figure, computed every morning after the figures are recorded.
pub fn builtin(hub_department: &str) -> Vec<IndicatorInput> {
    FIGURES
        .iter()
        .map(|(figure, code, name, unit, definition, by_district)| {
            let sql = if *by_district {
                format!(
                    "SELECT day AS period, district, value FROM \"{FIGURES_TABLE}\" \
                     WHERE figure = '{figure}' AND department = ''"
                )
            } else {
                format!(
                    "SELECT day AS period, value FROM \"{FIGURES_TABLE}\" \
                     WHERE figure = '{figure}' AND department = '' AND district = ''"
                )
            };
            // 统一数据服务占比: the plan's targets (35 %, then 70 %).
            let targets = if *code == "HUB-UNIFIED-SHARE" {
                vec![
                    Target {
                        period: "2026-12-31".into(),
                        value: 35.0,
                        basis: "数据共享工作方案：统一数据服务占比阶段目标".into(),
                    },
                    Target {
                        period: "2027-12-31".into(),
                        value: 70.0,
                        basis: "数据共享工作方案：统一数据服务占比阶段目标".into(),
                    },
                ]
            } else {
                Vec::new()
            };
            IndicatorInput {
                code: (*code).into(),
                name: (*name).into(),
                definition: format!("{definition}（枢纽内置指标，数据来自 {FIGURES_TABLE}）"),
                unit: (*unit).into(),
                department: hub_department.into(),
                resources: vec![FIGURES_TABLE.into()],
                sql,
                grain: "day".into(),
                dimensions: if *by_district {
                    vec!["district".into()]
                } else {
                    Vec::new()
                },
                schedule: "10 0 * * *".into(),
                severity: "warning".into(),
                targets,
                // The unified service's share (with the plan's targets) and event closure on
                // time are the hub's two figures a leader's screen leads with.
                key: matches!(*code, "HUB-UNIFIED-SHARE" | "HUB-EVENTS-ONTIME"),
                ..Default::default()
            }
        })
        .collect()
}

/// Whether a code is one of the built-in indicators.
pub fn is_builtin(code: &str) -> bool {
    FIGURES.iter().any(|f| f.1 == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_definition_is_valid() {
        for input in builtin("370200DSJ") {
            let spec = input
                .validate()
                .map_err(|e| format!("{}: {e:?}", input.code));
            assert!(spec.is_ok(), "{spec:?}");
        }
    }

    #[test]
    fn figure_and_indicator_codes_are_unique() {
        let mut a: Vec<_> = FIGURES.iter().map(|f| f.0).collect();
        let mut b: Vec<_> = FIGURES.iter().map(|f| f.1).collect();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        assert_eq!(a.len(), FIGURES.len());
        assert_eq!(b.len(), FIGURES.len());
    }
}
