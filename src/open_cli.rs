//! Command line of open data: `shuniu open …`. Like the other administrative commands it acts
//! as the hub operator.

use anyhow::Result;
use clap::Subcommand;
use shuniu_open::{Open, OpenError};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum OpenCommand {
    /// The open datasets: access, publication state, published version and rows.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Publish (or republish, or take down) one resource, or bring every publication in line
    /// with the catalog and the lake.
    Publish {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The public's data requests (数据需求征集).
    Requests {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
}

impl OpenCommand {
    pub fn common(&self) -> &Common {
        match self {
            OpenCommand::List { common, .. }
            | OpenCommand::Publish { common, .. }
            | OpenCommand::Requests { common, .. } => common,
        }
    }
}

fn fail(e: OpenError) -> anyhow::Error {
    anyhow::anyhow!("{} / {} [{}]", e.message_zh(), e, e.code())
}

pub async fn run(open: &Open, cmd: OpenCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        OpenCommand::List { json, .. } => {
            let list = open.publications_for(&actor).await.map_err(fail)?;
            if json {
                let rows: Vec<_> = list.iter().map(|(p, name)| serde_json::json!({
                    "code": p.code, "name": name, "access": p.access, "state": p.state,
                    "version": p.source_version, "rows": p.rows, "published_at": p.published_at,
                    "error": p.error,
                })).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (p, name) in &list {
                    println!(
                        "{}\t{}\t{}\t{}\tv{}\t{} rows\t{}",
                        p.code,
                        name,
                        p.access,
                        p.state,
                        p.source_version
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "—".into()),
                        p.rows,
                        p.error
                    );
                }
                eprintln!("{} 个开放数据集 / open datasets", list.len());
            }
        }
        OpenCommand::Publish { resource, json, .. } => {
            let done = match resource {
                Some(code) => vec![open.publish(&code).await.map_err(fail)?],
                None => open.sync_all().await.map_err(fail)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                for p in &done {
                    println!("{}\t{}\t{} rows\t{}", p.code, p.outcome, p.rows, p.message);
                }
                eprintln!("{} 项 / publications checked", done.len());
            }
        }
        OpenCommand::Requests { json, .. } => {
            let list = open.requests().await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &list {
                    println!("{}\t{}\t{}\t{}", r.id, r.state, r.title, r.answer);
                }
                eprintln!("{} 条 / requests", list.len());
            }
        }
    }
    Ok(())
}
