//! Command line of sharing: `shuniu sharing …`. Like the other administrative commands it
//! acts as the hub operator.

use anyhow::Result;
use clap::Subcommand;
use shuniu_sharing::{Sharing, SharingError};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum SharingCommand {
    /// The demand-satisfaction rate, requests pending and overdue, active grants and the
    /// unified service's share of data accesses.
    Stats {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Sharing requests (all, or in one state: pending, escalated, granted, refused).
    Requests {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Grants with today's usage.
    Grants {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Bring the serving index up to the current dataset version (one resource, or all),
    /// e.g. after restoring a data directory without `serving/`.
    Index {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: Option<String>,
    },
}

impl SharingCommand {
    pub fn common(&self) -> &Common {
        match self {
            SharingCommand::Stats { common, .. }
            | SharingCommand::Requests { common, .. }
            | SharingCommand::Grants { common, .. }
            | SharingCommand::Index { common, .. } => common,
        }
    }
}

fn fail(e: SharingError) -> anyhow::Error {
    anyhow::anyhow!("{} / {} [{}]", e.message_zh(), e, e.code())
}

pub async fn run(s: &Sharing, cmd: SharingCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        SharingCommand::Stats { json, .. } => {
            let st = s.stats().await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                let pct = |v: Option<f64>| v.map(|r| format!("{r:.1}%")).unwrap_or("—".into());
                println!(
                    "需求满足率 satisfaction\t{} ({}/{} answered, {} demands)",
                    pct(st.satisfaction_rate),
                    st.demands_satisfied,
                    st.demands_answered,
                    st.demands
                );
                println!(
                    "共享申请 requests\t{} ({} waiting, {} overdue)",
                    st.requests, st.requests_pending, st.requests_overdue
                );
                println!("有效授权 active grants\t{}", st.grants_active);
                println!(
                    "统一数据服务占比 unified share (30 d)\t{} ({}/{})",
                    pct(st.unified_share),
                    st.service_calls_30d,
                    st.data_accesses_30d
                );
            }
        }
        SharingCommand::Requests { state, json, .. } => {
            let states = match state.as_deref() {
                None => Vec::new(),
                Some(s) => vec![
                    shuniu_types::states::RequestState::parse_field("state", s)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ],
            };
            let list = s.requests(&actor, None, &states).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &list {
                    println!(
                        "{}\t{}\t{} → {}\t{}\t{}",
                        r.id,
                        r.resource_code,
                        r.provider,
                        r.consumer,
                        r.state,
                        r.due_at.as_deref().unwrap_or("")
                    );
                }
                eprintln!("{} 条 / requests", list.len());
            }
        }
        SharingCommand::Grants { json, .. } => {
            let list = s.grants(&actor).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for g in &list {
                    println!(
                        "{}\t{}\t{} → {} ({})\t{}\texpires {}\ttoday {} calls, {} rows",
                        g.grant.id,
                        g.grant.resource_code,
                        g.grant.provider,
                        g.grant.consumer,
                        g.grant.application_id,
                        g.grant.state,
                        &g.grant.expires_at[..10.min(g.grant.expires_at.len())],
                        g.calls_today,
                        g.rows_today
                    );
                }
                eprintln!("{} 条 / grants", list.len());
            }
        }
        SharingCommand::Index { resource, .. } => match resource {
            Some(code) => match s.sync_index(&code).await.map_err(fail)? {
                Some(st) => println!(
                    "{code}: version {} · {} rows · +{} ~{} -{}",
                    st.version, st.rows, st.inserted, st.updated, st.deleted
                ),
                None => {
                    let (v, rows) = s.index_status(&code).await.map_err(fail)?;
                    println!(
                        "{code}: up to date (version {}, {rows} rows)",
                        v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
                    );
                }
            },
            None => {
                let n = s.sync_all().await.map_err(fail)?;
                println!("{n} serving indexes updated");
            }
        },
    }
    Ok(())
}
