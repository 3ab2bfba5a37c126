//! Command line of city events (一网统管): `shuniu events …` — the 12345 hotline's nightly
//! export imported from a file, the statistics of a period, the deadline watcher run once.

use anyhow::{Result, bail};
use clap::Subcommand;
use shuniu_events::{EventError, Events};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Import the hotline's export of work orders (CSV in UTF-8 or GBK, or Excel). A file with
    /// a bad row is refused whole; work orders imported before are left as they are.
    Import {
        #[command(flatten)]
        common: Common,
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Closure on time, satisfaction and escalations per department and district.
    Statistics {
        #[command(flatten)]
        common: Common,
        /// Days back from now.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Run the deadline watcher once: reminders before the deadline, escalation after.
    Sweep {
        #[command(flatten)]
        common: Common,
    },
}

impl EventsCommand {
    pub fn common(&self) -> &Common {
        match self {
            EventsCommand::Import { common, .. }
            | EventsCommand::Statistics { common, .. }
            | EventsCommand::Sweep { common } => common,
        }
    }
}

fn fail(e: EventError) -> anyhow::Error {
    use shuniu_types::Classified;
    let p = e.problem();
    anyhow::anyhow!("{} / {} [{}]", p.message_zh, p.message_en, p.code)
}

pub async fn run(events: &Events, cmd: EventsCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        EventsCommand::Import { file, json, .. } => {
            match events.import_hotline(&actor, &file).await.map_err(fail)? {
                Ok(report) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        println!(
                            "{} 行 / rows: {} 新建 / new, {} 已存在 / known, {} 合并 / merged, {} 自动派遣 / dispatched",
                            report.rows,
                            report.created,
                            report.known,
                            report.merged,
                            report.dispatched
                        );
                    }
                    Ok(())
                }
                Err(problems) => {
                    for p in problems.iter().take(50) {
                        eprintln!(
                            "line {}: {} / {} [{}]",
                            p.line, p.message_zh, p.message_en, p.code
                        );
                    }
                    bail!(
                        "{} 行有误，未导入任何工单 / {} rows are not right: nothing was imported",
                        problems.len(),
                        problems.len()
                    )
                }
            }
        }
        EventsCommand::Statistics { days, .. } => {
            let now = chrono::Utc::now();
            let s = events
                .statistics(&actor, now - chrono::Duration::days(days), now)
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&s)?);
            Ok(())
        }
        EventsCommand::Sweep { .. } => {
            let r = events.sweep(chrono::Utc::now()).await.map_err(fail)?;
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
    }
}
