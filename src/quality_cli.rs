//! Command line of the governance capability: `shuniu quality …`. Like the other
//! administrative commands it acts as the hub operator.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use shuniu_quality::{Quality, QualityError, RuleSpec, SourceInput};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum QualityCommand {
    /// The latest quality report of a resource: score, dimensions, and per rule checked/failed.
    Report {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        /// A dataset version (default: the latest checked).
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Check a stored version now (default: the current one), streaming it.
    Check {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// The city's quality: departments, datasets, worst rules, stale datasets.
    Overview {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// A resource's rules, derived and saved.
    Rules {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        #[arg(long)]
        json: bool,
    },
    /// Add or tune a rule: `--rule '{"id":"phone.p","column":"phone","type":"pattern","pattern":"1[3-9]\\d{9}"}'`
    /// or `--rule @rule.json`. Refused at once if it cannot compile.
    AddRule {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        #[arg(long)]
        rule: String,
    },
    /// Remove a saved rule.
    RemoveRule {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        resource: String,
        id: String,
    },
    /// Problem tickets (open ones by default).
    Tickets {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        resource: Option<String>,
        /// Include closed tickets.
        #[arg(long)]
        all: bool,
        /// Only tickets past their deadline.
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// Designate the authoritative source of an attribute (一数一源).
    Designate {
        #[command(flatten)]
        common: Common,
        /// The attribute, as the column that holds it, e.g. address.
        #[arg(long)]
        attribute: String,
        #[arg(long, default_value = "")]
        label: String,
        /// id_number or credit_code.
        #[arg(long)]
        key_type: String,
        /// The authoritative resource.
        #[arg(long)]
        resource: String,
        #[arg(long)]
        column: Option<String>,
    },
    /// Cross-check datasets against their authoritative sources; conflicts become tickets.
    CrossCheck {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        attribute: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

impl QualityCommand {
    pub fn common(&self) -> &Common {
        match self {
            QualityCommand::Report { common, .. }
            | QualityCommand::Check { common, .. }
            | QualityCommand::Overview { common, .. }
            | QualityCommand::Rules { common, .. }
            | QualityCommand::AddRule { common, .. }
            | QualityCommand::RemoveRule { common, .. }
            | QualityCommand::Tickets { common, .. }
            | QualityCommand::Designate { common, .. }
            | QualityCommand::CrossCheck { common, .. } => common,
        }
    }
}

fn fail(e: QualityError) -> anyhow::Error {
    anyhow::anyhow!("{} / {} [{}]", e.message_zh(), e, e.code())
}

fn print_report(r: &shuniu_quality::Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "{} {} v{}  质量得分 score {:.1}  ({} 行 rows, {} {})",
        r.resource, r.name, r.version, r.score, r.rows, r.trigger, r.checked_at
    );
    for (d, s) in &r.dimensions {
        println!(
            "  {:<14} {:>6.1}  weight {:.2}  ({} checked, {} failed)",
            d.code(),
            s.score,
            s.weight,
            s.checked,
            s.failed
        );
    }
    println!("  rule\tcolumn\tchecked\tfailed");
    for rule in &r.rules {
        println!(
            "  {}\t{}\t{}\t{}",
            rule.rule,
            rule.column.as_deref().unwrap_or("-"),
            rule.checked,
            rule.failed
        );
    }
    Ok(())
}

pub async fn run(q: &Quality, cmd: QualityCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        QualityCommand::Report {
            resource,
            version,
            json,
            ..
        } => match q.report(&actor, &resource, version).await.map_err(fail)? {
            Some(r) => print_report(&r, json),
            None => bail!(
                "资源 {resource} 尚未做过质量检查 / {resource} has not been checked yet (load data or run `shuniu quality check`)"
            ),
        },
        QualityCommand::Check {
            resource,
            version,
            json,
            ..
        } => {
            let r = q
                .check_version(&actor, &resource, version)
                .await
                .map_err(fail)?;
            print_report(&r, json)
        }
        QualityCommand::Overview { json, .. } => {
            let o = q.overview(&actor).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&o)?);
                return Ok(());
            }
            println!(
                "全市质量得分 city score: {}  open tickets {}, overdue {}",
                o.city_score
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or("-".into()),
                o.open_tickets,
                o.overdue_tickets
            );
            for d in &o.departments {
                println!(
                    "  {}\t{}\t{:.1}\t{} datasets\t{} open / {} overdue",
                    d.department, d.name, d.score, d.datasets, d.open_tickets, d.overdue_tickets
                );
            }
            Ok(())
        }
        QualityCommand::Rules { resource, json, .. } => {
            let rules = q.rules(&actor, &resource).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rules)?);
                return Ok(());
            }
            for r in &rules {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.spec.id,
                    r.spec.column.as_deref().unwrap_or("-"),
                    r.spec.kind.code(),
                    if r.spec.enabled { "on" } else { "off" },
                    r.description_zh
                );
            }
            Ok(())
        }
        QualityCommand::AddRule { resource, rule, .. } => {
            let text = match rule.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
                }
                None => rule,
            };
            let spec: RuleSpec = serde_json::from_str(&text)
                .context("规则不是有效的 JSON / the rule is not valid JSON")?;
            let saved = q.save_rule(&actor, &resource, spec).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&saved)?);
            Ok(())
        }
        QualityCommand::RemoveRule { resource, id, .. } => {
            q.delete_rule(&actor, &resource, &id).await.map_err(fail)?;
            eprintln!("已删除 / removed {id}");
            Ok(())
        }
        QualityCommand::Tickets {
            department,
            resource,
            all,
            overdue,
            json,
            ..
        } => {
            let tickets = q
                .tickets(
                    &actor,
                    department.as_deref(),
                    resource.as_deref(),
                    !all,
                    overdue,
                )
                .await
                .map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tickets)?);
                return Ok(());
            }
            for t in &tickets {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id, t.kind, t.state, t.resource_code, t.provider, t.deadline, t.summary_zh
                );
            }
            eprintln!("{} 张工单 / tickets", tickets.len());
            Ok(())
        }
        QualityCommand::Designate {
            attribute,
            label,
            key_type,
            resource,
            column,
            ..
        } => {
            let s = q
                .designate_source(
                    &actor,
                    SourceInput {
                        attribute,
                        label,
                        key_type,
                        resource,
                        column,
                    },
                )
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&s)?);
            Ok(())
        }
        QualityCommand::CrossCheck {
            attribute, json, ..
        } => {
            let reports = q
                .cross_check(&actor, attribute.as_deref())
                .await
                .map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
                return Ok(());
            }
            for r in &reports {
                println!(
                    "{}\t{} → {}\tcompared {}\tconflicts {}",
                    r.attribute, r.authoritative, r.resource, r.compared, r.conflicts
                );
            }
            Ok(())
        }
    }
}
