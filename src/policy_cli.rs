//! Command line of policy matching (免申即享): `shuniu policy check|evaluate` — a policy written
//! in the rule language, checked against its target's base library, evaluated for a month.

use anyhow::Result;
use clap::Subcommand;
use shuniu_matching::{MatchingError, PolicyInput};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// The attributes a rule may name for a target (`persons` or `enterprises`): the labels of
    /// its base library's items, with their types; with `--department`, also those of the
    /// resources that department may join (its own, and those it holds a grant for), labelled
    /// `资源名称.信息项`.
    Attributes {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "persons")]
        target: String,
        /// The issuing department (organization code), whose grants decide what it may join.
        #[arg(long, default_value = "")]
        department: String,
    },
    /// Check a policy (JSON, as docs/matching.md shows) against its target's library: every
    /// problem at once, each under its field.
    Check {
        #[command(flatten)]
        common: Common,
        file: std::path::PathBuf,
    },
    /// Define a policy from a JSON file and publish it (saved, submitted and published by the
    /// operator): refused, with every problem, when a rule cannot be used.
    Define {
        #[command(flatten)]
        common: Common,
        file: std::path::PathBuf,
    },
    /// Every stored policy.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a policy for a month: how many qualify and the total amount.
    Evaluate {
        #[command(flatten)]
        common: Common,
        /// A published policy's code.
        #[arg(long, conflicts_with_all = ["file", "all"], required_unless_present_any = ["file", "all"])]
        policy: Option<String>,
        /// Every published policy, one after the other in this process.
        #[arg(long, conflicts_with = "file")]
        all: bool,
        /// With `--all`: write each policy's eligible subjects (key, amount) to DIR/CODE.csv, to
        /// check the hub's answers against another tool (the hub's operator only; audited).
        #[arg(long, requires = "all")]
        out: Option<std::path::PathBuf>,
        /// Or a definition not stored (JSON), to try it.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// The month, YYYY-MM (default: this month).
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Why one person (ID number) or enterprise (credit code) does or does not qualify: each
    /// condition, the values it read and their sources, the parameters and their references.
    Trace {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        key: String,
        /// The month, YYYY-MM (default: this month).
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A what-if run over the newest version: `--set 名称=值` for each parameter to try.
    Sandbox {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        period: Option<String>,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// A policy's eligible lists: month, state, how many, the amount, payments.
    Lists {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        json: bool,
    },
}

/// This month in Beijing time.
fn this_month() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string()
}

impl PolicyCommand {
    pub fn common(&self) -> &Common {
        match self {
            PolicyCommand::Attributes { common, .. }
            | PolicyCommand::Define { common, .. }
            | PolicyCommand::List { common, .. }
            | PolicyCommand::Check { common, .. }
            | PolicyCommand::Evaluate { common, .. }
            | PolicyCommand::Trace { common, .. }
            | PolicyCommand::Sandbox { common, .. }
            | PolicyCommand::Lists { common, .. } => common,
        }
    }
}

fn fail(e: MatchingError) -> anyhow::Error {
    use shuniu_types::Classified;
    let p = e.problem();
    let mut msg = format!("{} / {} [{}]", p.message_zh, p.message_en, p.code);
    for f in &p.fields {
        msg.push_str(&format!(
            "\n  {}: {} / {} [{}]",
            f.field, f.message_zh, f.message_en, f.code
        ));
    }
    anyhow::anyhow!(msg)
}

fn read(file: &std::path::Path) -> Result<PolicyInput> {
    let text = std::fs::read_to_string(file)?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} 不是有效的政策定义 / is not a policy definition: {e}",
            file.display()
        )
    })
}

pub async fn run(engines: &shuniu_server::Engines, cmd: PolicyCommand) -> Result<()> {
    let actor = Actor::local_operator();
    let m = &engines.matching;
    match cmd {
        PolicyCommand::Attributes {
            target, department, ..
        } => {
            let target: shuniu_matching::TargetKind =
                serde_json::from_value(serde_json::Value::String(target.clone())).map_err(|_| {
                    anyhow::anyhow!("对象须为 persons 或 enterprises / the target is persons or enterprises, not {target:?}")
                })?;
            let today = chrono::Utc::now().date_naive();
            let lib = m.library(target, &department, today).await.map_err(fail)?;
            println!("{} {}", lib.rec.code, lib.rec.spec.name);
            for a in &lib.attributes {
                println!("  {:<16} {:?}", a.label, a.kind);
            }
        }
        PolicyCommand::Check { file, .. } => {
            let policy = read(&file)?;
            m.check(&policy).await.map_err(fail)?;
            println!("{} ✓", policy.code);
        }
        PolicyCommand::Define { file, .. } => {
            let policy = read(&file)?;
            let version = m.save(&actor, &policy).await.map_err(fail)?;
            m.submit(&actor, &policy.code).await.map_err(fail)?;
            m.review(
                &actor,
                &policy.code,
                true,
                "命令行发布 / published from the command line",
            )
            .await
            .map_err(fail)?;
            println!("{} v{version} published", policy.code);
        }
        PolicyCommand::List { json, .. } => {
            let list = m.list(&actor).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in &list {
                    println!(
                        "{:<24} v{:<3} {:<11} {:<10} {}",
                        p.code, p.version, p.target, p.state, p.name
                    );
                }
            }
        }
        PolicyCommand::Evaluate {
            all: true,
            period,
            out,
            json,
            ..
        } => {
            let period = period.unwrap_or_else(this_month);
            let started = std::time::Instant::now();
            // Each library read once for all its policies.
            let results = m.evaluate_all(&actor, &period).await.map_err(fail)?;
            for t in &results {
                if let Some(dir) = &out {
                    let p = t;
                    std::fs::create_dir_all(dir)?;
                    let mut w = csv::Writer::from_path(dir.join(format!("{}.csv", p.policy)))?;
                    w.write_record(["key", "amount"])?;
                    let mut failed = None;
                    m.eligible_keys(&actor, &p.policy, &period, |k, a| {
                        let amount = a.map(|a| a.to_string()).unwrap_or_default();
                        if let Err(e) = w.write_record([k, amount.as_str()]) {
                            failed.get_or_insert(e);
                        }
                    })
                    .await
                    .map_err(fail)?;
                    if let Some(e) = failed {
                        return Err(e.into());
                    }
                    w.flush()?;
                }
                if !json {
                    println!(
                        "{:<28} {:>9} eligible  amount {:>16}",
                        t.policy, t.eligible, t.amount
                    );
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "period": period, "policies": results, "seconds": seconds,
                    }))?
                );
            } else {
                println!("{} policies in {seconds:.2} s", results.len());
            }
        }
        PolicyCommand::Evaluate {
            policy: code,
            file,
            period,
            json,
            ..
        } => {
            let period = period.unwrap_or_else(this_month);
            let (policy, t) = match (code, file) {
                (Some(code), _) => {
                    let policy = m.published(&actor, &code).await.map_err(fail)?;
                    let t = m
                        .evaluate_published(&actor, &code, &period)
                        .await
                        .map_err(fail)?;
                    (policy, t)
                }
                (None, Some(file)) => {
                    let policy = read(&file)?;
                    let t = m.evaluate(&actor, &policy, &period).await.map_err(fail)?;
                    (policy, t)
                }
                (None, None) => anyhow::bail!("--policy CODE or --file FILE"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!(
                    "{} {}: {} eligible, amount {} {} ({:.2} s over {} v{})",
                    t.policy,
                    t.period,
                    t.eligible,
                    t.amount,
                    policy.unit,
                    t.seconds,
                    t.library,
                    t.library_version.map_or("—".to_string(), |v| v.to_string())
                );
            }
        }
        PolicyCommand::Trace {
            policy,
            key,
            period,
            json,
            ..
        } => {
            let period = period.unwrap_or_else(this_month);
            let t = m
                .trace(&actor, &policy, &key, &period)
                .await
                .map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                let verdict = match (t.found, t.eligible) {
                    (false, _) => "不在基础库中 / not in the library".to_string(),
                    (true, true) => format!(
                        "符合 / qualifies: {} {}",
                        t.amount.unwrap_or_default(),
                        t.unit
                    ),
                    (true, false) => "不符合 / does not qualify".to_string(),
                };
                println!("{} {} {} {}: {verdict}", t.policy, t.name, t.period, t.key);
                for c in &t.conditions {
                    println!(
                        "  [{}] {}  ({} {})",
                        if c.holds { "✓" } else { "✗" },
                        c.rule,
                        t.document,
                        c.reference
                    );
                    for v in &c.values {
                        let source = v.source.as_ref().map_or(String::new(), |s| {
                            format!("  ← {} v{}", s["resource"], s["version"])
                        });
                        println!(
                            "      {} = {}{source}",
                            v.label,
                            v.value.as_deref().unwrap_or("—")
                        );
                    }
                    for p in &c.parameters {
                        println!(
                            "      【{}】 = {}{} (自 {} · {})",
                            p.name, p.value, p.unit, p.from, p.reference
                        );
                    }
                }
            }
        }
        PolicyCommand::Sandbox {
            policy,
            period,
            set,
            json,
            ..
        } => {
            let period = period.unwrap_or_else(this_month);
            let mut changes = Vec::new();
            for s in &set {
                let Some((name, value)) = s.split_once('=') else {
                    anyhow::bail!("--set 名称=值 / --set NAME=VALUE, not {s:?}");
                };
                let value = match value.trim().parse::<f64>() {
                    Ok(n) => shuniu_matching::ParamValue::Number(n),
                    Err(_) => shuniu_matching::ParamValue::Text(value.trim().to_string()),
                };
                changes.push((name.trim().to_string(), value));
            }
            let r = m
                .sandbox(&actor, &policy, &period, &changes)
                .await
                .map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{} v{} {}: as written {} eligible, amount {}; tried {} eligible, amount {}",
                    r.policy,
                    r.version,
                    r.period,
                    r.baseline.eligible,
                    r.baseline.amount,
                    r.changed.eligible,
                    r.changed.amount
                );
            }
        }
        PolicyCommand::Lists { policy, json, .. } => {
            let lists = m.lists(&actor, &policy).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&lists)?);
            } else {
                for l in &lists {
                    println!(
                        "{} {:<9} {:>7} eligible  amount {:>12}  paid {} failed {} pending {}  (v{} {})",
                        l.list.period,
                        l.list.state,
                        l.list.eligible,
                        l.list.amount,
                        l.payments.paid,
                        l.payments.failed,
                        l.payments.pending,
                        l.list.library_version,
                        l.list.refreshed
                    );
                }
            }
        }
    }
    Ok(())
}
