//! The demo city's indicators: a dozen the bureau would name (population by district, births,
//! enterprises registered, social-insurance enrolment …) with bounds that raise alerts, and for
//! every dataset loaded its volume, its breakdown by district and its monthly series — several
//! hundred in all, as a city of Qingdao's size has (1,300). Each is saved, submitted and
//! published through the same review an officer's would go through, then computed once.

use anyhow::Result;
use shuniu_indicators::{IndicatorInput, Range, Target, Thresholds};
use shuniu_types::Actor;

/// What the demo defined and computed.
#[derive(Debug, Default, serde::Serialize)]
pub struct IndicatorsSummary {
    pub defined: usize,
    pub skipped: usize,
    pub computed: usize,
    pub failed: usize,
    pub alerts: usize,
    pub seconds: f64,
}

/// The event category the city files indicator alerts under (see the event tree in demo.rs).
pub const ALERT_CATEGORY: &str = "0501";

fn quoted(code: &str) -> String {
    format!("\"{code}\"")
}

/// The columns the generated definitions read: the division code and the first date of the
/// business (an event's date, a registration's, a licence's issue).
struct Shape {
    code: String,
    name: String,
    provider: String,
    division: bool,
    date: Option<String>,
}

fn shape(r: &shuniu_store::ResourceRecord) -> Shape {
    let items: Vec<&str> = r.spec.data_items.iter().map(|i| i.name.as_str()).collect();
    let sensitive = |n: &str| r.spec.data_items.iter().any(|i| i.name == n && i.sensitive);
    Shape {
        code: r.code.clone(),
        name: r.spec.name.clone(),
        provider: r.spec.provider.clone(),
        division: items.contains(&"division") && !sensitive("division"),
        date: ["event_date", "reg_date", "issue_date"]
            .into_iter()
            .find(|d| items.contains(d) && !sensitive(d))
            .map(str::to_string),
    }
}

/// `2025-09` from a date column, whether the lake keeps it as a date or as text.
fn month_of(col: &str) -> String {
    format!("substr(CAST({col} AS VARCHAR), 1, 7)")
}

/// Rows by district of the city (a GB/T 2260 code of six digits under 3702): the statement of
/// every count by district.
fn by_district(code: &str) -> String {
    format!(
        "SELECT division AS district, COUNT(*) AS value FROM {} \
         WHERE division LIKE '3702%' AND length(division) = 6 GROUP BY division",
        quoted(code)
    )
}

fn generated(s: &Shape) -> Vec<IndicatorInput> {
    let base = IndicatorInput {
        department: s.provider.clone(),
        resources: vec![s.code.clone()],
        grain: "month".into(),
        schedule: "0 2 * * *".into(),
        unit: "条".into(),
        ..Default::default()
    };
    let t = quoted(&s.code);
    let mut out = vec![IndicatorInput {
        code: format!("IND-{}-N", s.code),
        name: format!("{}记录数", s.name),
        definition: format!("“{}”数据集当前版本的记录总数，每日 2 时统计。", s.name),
        sql: format!("SELECT COUNT(*) AS value FROM {t}"),
        ..base.clone()
    }];
    if s.division {
        out.push(IndicatorInput {
            code: format!("IND-{}-D", s.code),
            name: format!("{}分区（市）记录数", s.name),
            definition: format!(
                "“{}”按行政区划代码（GB/T 2260）统计的记录数；区划代码不属本市的记录不计。全市数为各区（市）之和。",
                s.name
            ),
            sql: by_district(&s.code),
            dimensions: vec!["district".into()],
            additive: true,
            ..base.clone()
        });
    }
    if let Some(d) = &s.date {
        out.push(IndicatorInput {
            code: format!("IND-{}-M", s.code),
            name: format!("{}月度新增", s.name),
            definition: format!("“{}”按{}所在月份统计的新增记录数。", s.name, d),
            sql: format!(
                "SELECT {m} AS period, COUNT(*) AS value FROM {t} WHERE {d} IS NOT NULL GROUP BY {m}",
                m = month_of(d)
            ),
            additive: true,
            ..base.clone()
        });
        if s.division {
            out.push(IndicatorInput {
                code: format!("IND-{}-MD", s.code),
                name: format!("{}分区（市）月度新增", s.name),
                definition: format!("“{}”按月份和区（市）统计的新增记录数。", s.name),
                sql: format!(
                    "SELECT {m} AS period, division AS district, COUNT(*) AS value FROM {t} \
                     WHERE {d} IS NOT NULL AND division LIKE '3702%' AND length(division) = 6 \
                     GROUP BY {m}, division",
                    m = month_of(d)
                ),
                dimensions: vec!["district".into()],
                additive: true,
                ..base.clone()
            });
        }
    }
    out
}

/// The indicators the bureau names, found by the dataset they read.
fn named(all: &[Shape]) -> Vec<IndicatorInput> {
    let find = |name: &str, dept: &str| {
        all.iter()
            .find(|s| s.name == name && s.provider.ends_with(dept))
    };
    let mut out = Vec::new();
    if let Some(s) = find("户籍人口基本信息", "GA") {
        out.push(IndicatorInput {
            code: "IND-POP-REGISTERED".into(),
            name: "户籍人口数".into(),
            definition: "户籍人口基本信息中登记在本市各区（市）的人数；不含区划代码无效的记录。"
                .into(),
            unit: "人".into(),
            department: s.provider.clone(),
            resources: vec![s.code.clone()],
            sql: by_district(&s.code),
            grain: "month".into(),
            dimensions: vec!["district".into()],
            schedule: "0 1 * * *".into(),
            additive: true,
            severity: "warning".into(),
            targets: vec![Target {
                period: "2027-12".into(),
                value: 10_000.0,
                basis: "人口发展规划（示例）".into(),
            }],
            ..Default::default()
        });
    }
    if let Some(s) = find("常住人口信息", "GA") {
        out.push(IndicatorInput {
            code: "IND-POP-RESIDENT".into(),
            name: "常住人口数".into(),
            definition: "在本市居住半年以上的人口，按居住地所在区（市）统计。".into(),
            unit: "人".into(),
            department: s.provider.clone(),
            resources: vec![s.code.clone()],
            sql: by_district(&s.code),
            grain: "month".into(),
            dimensions: vec!["district".into()],
            schedule: "0 1 * * *".into(),
            additive: true,
            ..Default::default()
        });
    }
    // (code, name, dataset, department, unit, upper bound, change bound)
    for (code, name, dataset, dept, unit, upper, change) in [
        (
            "IND-ENT-NEW",
            "新登记市场主体数",
            "市场主体登记信息",
            "SJ",
            "户",
            None,
            None,
        ),
        (
            "IND-BIRTHS",
            "出生人口数",
            "出生医学证明信息",
            "WJ",
            "人",
            None,
            None,
        ),
        // The demo's last month is cut short: enrolment drops by more than half, an alert.
        (
            "IND-SI-ENROL",
            "社会保险新增参保人次",
            "社会保险参保信息",
            "RS",
            "人次",
            None,
            Some(0.5),
        ),
        (
            "IND-CASES-ADMIN",
            "行政处罚案件数",
            "行政处罚信息",
            "SJ",
            "件",
            Some(40.0),
            None,
        ),
    ] {
        if let Some(s) = find(dataset, dept)
            && let Some(d) = &s.date
        {
            out.push(IndicatorInput {
                code: code.into(),
                name: name.into(),
                definition: format!("“{dataset}”按{d}所在月份统计的记录数。"),
                unit: unit.into(),
                department: s.provider.clone(),
                resources: vec![s.code.clone()],
                sql: format!(
                    "SELECT {m} AS period, COUNT(*) AS value FROM {} WHERE {d} IS NOT NULL GROUP BY {m}",
                    quoted(&s.code),
                    m = month_of(d)
                ),
                grain: "month".into(),
                schedule: "30 1 * * *".into(),
                additive: true,
                thresholds: Thresholds {
                    upper,
                    change,
                    // The demo's data end in 2025: a monthly series that stops is an alert.
                    no_data: code == "IND-BIRTHS",
                    ..Default::default()
                },
                severity: if code == "IND-BIRTHS" { "critical" } else { "warning" }.into(),
                event_category: ALERT_CATEGORY.into(),
                ..Default::default()
            });
        }
    }
    out.retain(|i| i.thresholds.is_empty() || !i.event_category.is_empty());
    // The named ones are the city's key indicators: the screen leads with them.
    for i in &mut out {
        i.key = true;
    }
    out
}

/// Defines, publishes and computes the demo's indicators.
pub async fn indicators(
    engines: &shuniu_server::Engines,
    progress: impl Fn(&str),
) -> Result<IndicatorsSummary> {
    let started = std::time::Instant::now();
    let root = Actor::local_operator();
    let ind = &engines.indicators;
    let published: Vec<Shape> = engines
        .catalog
        .visible(&root)
        .await?
        .iter()
        .filter(|r| r.status == shuniu_types::ResourceStatus::Published)
        .map(shape)
        .collect();
    let mut inputs = named(&published);
    for s in &published {
        inputs.extend(generated(s));
    }
    let mut summary = IndicatorsSummary::default();
    let total = inputs.len();
    let mut codes = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        if n % 25 == 0 {
            progress(&format!("indicators: defining {n}/{total}"));
        }
        // A dataset with no rows loaded (a withdrawn entry, a failed load) has no table yet:
        // its query cannot run, and the hub refuses the definition as it would an officer's.
        match ind.save(&root, input).await {
            Ok(_) => {}
            Err(e) if e.code() == "INDICATOR_QUERY" => {
                summary.skipped += 1;
                continue;
            }
            Err(e) => anyhow::bail!("{}: {e} [{}]", input.code, e.code()),
        }
        ind.submit(&root, &input.code)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", input.code))?;
        ind.review(
            &root,
            &input.code,
            true,
            "示例城市指标 / demo city indicator",
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.code))?;
        codes.push(input.code.clone());
        summary.defined += 1;
    }
    // The hub's own indicators, over the figures the city now has.
    engines
        .record_hub_figures()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    summary.defined += ind
        .install_builtin(&root, shuniu_demo::HUB_DEPARTMENT)
        .await?;
    codes.extend(
        shuniu_indicators::figures::FIGURES
            .iter()
            .map(|f| f.1.to_string()),
    );
    progress(&format!("indicators: computing {}", codes.len()));
    let out = ind.compute(&root, &codes, &Range::default()).await?;
    summary.computed = out.iter().filter(|o| o.error.is_none()).count();
    summary.failed = out.len() - summary.computed;
    summary.alerts = out.iter().map(|o| o.alerts_opened).sum();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
