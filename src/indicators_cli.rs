//! Command line of indicators (城市大脑): `shuniu indicators …` — list them with their latest
//! values, define one from a JSON file (saved, submitted and published by the operator),
//! compute now or backfill, print a series.

use anyhow::Result;
use clap::Subcommand;
use shuniu_indicators::{IndicatorError, IndicatorInput, Indicators, Range, SeriesQuery};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum IndicatorsCommand {
    /// Every indicator with its latest city-wide value.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Define an indicator from a JSON file (the API's definition) and publish it: the query
    /// is run first and a definition that cannot compute is refused.
    Define {
        #[command(flatten)]
        common: Common,
        file: std::path::PathBuf,
    },
    /// Compute indicators now (all published ones, or those named), or backfill a range of
    /// periods.
    Compute {
        #[command(flatten)]
        common: Common,
        /// Indicator codes; every published indicator when none.
        codes: Vec<String>,
        /// First period to backfill (e.g. 2026-01).
        #[arg(long)]
        from: Option<String>,
        /// Last period to backfill.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record today's figures of the hub (if not recorded yet) and define, publish and compute
    /// the built-in indicators over them that are not defined yet.
    Builtin {
        #[command(flatten)]
        common: Common,
        /// The hub's department: it owns the built-in indicators.
        #[arg(long, default_value = "370200DSJ")]
        hub_department: String,
    },
    /// An indicator's series (the latest run's value of each period and breakdown).
    Values {
        #[command(flatten)]
        common: Common,
        code: String,
        /// A district's code, or `city`.
        #[arg(long)]
        district: Option<String>,
    },
}

impl IndicatorsCommand {
    pub fn common(&self) -> &Common {
        match self {
            IndicatorsCommand::List { common, .. }
            | IndicatorsCommand::Define { common, .. }
            | IndicatorsCommand::Compute { common, .. }
            | IndicatorsCommand::Builtin { common, .. }
            | IndicatorsCommand::Values { common, .. } => common,
        }
    }
}

fn fail(e: IndicatorError) -> anyhow::Error {
    use shuniu_types::Classified;
    let p = e.problem();
    let mut msg = format!("{} / {} [{}]", p.message_zh, p.message_en, p.code);
    for f in &p.fields {
        msg.push_str(&format!(
            "\n  {}: {} / {}",
            f.field, f.message_zh, f.message_en
        ));
    }
    anyhow::anyhow!(msg)
}

fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v}"))
}

pub async fn run(engines: &shuniu_server::Engines, cmd: IndicatorsCommand) -> Result<()> {
    let actor = Actor::local_operator();
    let indicators: &Indicators = &engines.indicators;
    match cmd {
        IndicatorsCommand::Builtin { hub_department, .. } => {
            let recorded = engines
                .record_hub_figures()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let installed = indicators
                .install_builtin(&actor, &hub_department)
                .await
                .map_err(fail)?;
            let codes: Vec<String> = shuniu_indicators::figures::FIGURES
                .iter()
                .map(|f| f.1.to_string())
                .collect();
            let runs = indicators
                .compute(&actor, &codes, &Range::default())
                .await
                .map_err(fail)?;
            println!(
                "figures {} · {installed} built-in indicators defined · {} computed",
                if recorded {
                    "recorded"
                } else {
                    "already recorded today"
                },
                runs.iter().filter(|r| r.error.is_none()).count()
            );
        }
        IndicatorsCommand::List { json, .. } => {
            let list = indicators.list(&actor).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for i in &list {
                    println!(
                        "{:<20} {:<8} {:>16} {:<6} {}  {}",
                        i.code,
                        i.period.clone().unwrap_or_default(),
                        show(i.value),
                        i.unit,
                        i.name,
                        if i.open_alerts > 0 {
                            format!("⚠ {}", i.open_alerts)
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
        IndicatorsCommand::Define { file, .. } => {
            let text = std::fs::read_to_string(&file)?;
            let input: IndicatorInput = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let saved = indicators.save(&actor, &input).await.map_err(fail)?;
            indicators.submit(&actor, &saved.code).await.map_err(fail)?;
            let v = indicators
                .review(
                    &actor,
                    &saved.code,
                    true,
                    "命令行发布 / published from the command line",
                )
                .await
                .map_err(fail)?;
            println!(
                "{} v{v}: {} 行 / rows when tried; 已发布 / published",
                saved.code, saved.rows
            );
        }
        IndicatorsCommand::Compute {
            codes,
            from,
            to,
            json,
            ..
        } => {
            let codes = if codes.is_empty() {
                indicators
                    .list(&actor)
                    .await
                    .map_err(fail)?
                    .into_iter()
                    .filter(|i| i.version > 0)
                    .map(|i| i.code)
                    .collect()
            } else {
                codes
            };
            let started = std::time::Instant::now();
            let out = indicators
                .compute(&actor, &codes, &Range { from, to })
                .await
                .map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let failed: Vec<_> = out.iter().filter(|o| o.error.is_some()).collect();
                for f in &failed {
                    eprintln!("{}: {}", f.code, f.error.clone().unwrap_or_default());
                }
                println!(
                    "{} 个指标 / indicators, {} 失败 / failed, {} 行 / rows, {} 新预警 / alerts opened, {:.1} s",
                    out.len(),
                    failed.len(),
                    out.iter().map(|o| o.rows).sum::<usize>(),
                    out.iter().map(|o| o.alerts_opened).sum::<usize>(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        IndicatorsCommand::Values { code, district, .. } => {
            let district = match district.as_deref() {
                Some("city") => Some(String::new()),
                other => other.map(str::to_string),
            };
            let series = indicators
                .values(
                    &actor,
                    &code,
                    &SeriesQuery {
                        district,
                        ..Default::default()
                    },
                )
                .await
                .map_err(fail)?;
            for p in &series {
                let pct =
                    |v: Option<f64>| v.map_or_else(String::new, |v| format!("{:+.1}%", v * 100.0));
                println!(
                    "{:<10} {:<9} {:<9} {:>16} {:>8} {:>8}",
                    p.period,
                    if p.district.is_empty() {
                        "全市"
                    } else {
                        &p.district
                    },
                    p.street,
                    show(p.value),
                    pct(p.mom),
                    pct(p.yoy)
                );
            }
        }
    }
    Ok(())
}
