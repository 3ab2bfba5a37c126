//! Command line of the base libraries (基础库): `shuniu libraries …`, as the hub operator.

use anyhow::{Result, bail};
use clap::Subcommand;
use shuniu_libraries::{Libraries, LibraryError, LibraryKind};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum LibrariesCommand {
    /// The libraries, where each attribute comes from, and what the last build did.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Register (or bring up to date) a library's catalog entry from the designated
    /// authoritative sources, publish it and bind it: `population`, `legal_entity`, `address` or `licence`.
    Define {
        #[command(flatten)]
        common: Common,
        kind: String,
        /// The providing department: the hub's (大数据局).
        #[arg(long)]
        provider: String,
    },
    /// Bind a published resource another system keeps as a library (`population` keyed by ID
    /// number, `legal_entity` by credit code): read as loaded, not built by the hub.
    Bind {
        #[command(flatten)]
        common: Common,
        kind: String,
        /// The resource's code.
        code: String,
    },
    /// Build one library (or all): from the sources' change logs, or in full with `--full`.
    Build {
        #[command(flatten)]
        common: Common,
        /// A library's resource code; every library by default.
        code: Option<String>,
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
}

impl LibrariesCommand {
    pub fn common(&self) -> &Common {
        match self {
            LibrariesCommand::List { common, .. }
            | LibrariesCommand::Define { common, .. }
            | LibrariesCommand::Bind { common, .. }
            | LibrariesCommand::Build { common, .. } => common,
        }
    }
}

fn fail(e: LibraryError) -> anyhow::Error {
    anyhow::anyhow!("{} / {} [{}]", e.message_zh(), e, e.code())
}

pub async fn run(libraries: &Libraries, cmd: LibrariesCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        LibrariesCommand::Bind { kind, code, .. } => {
            let Some(kind) = LibraryKind::parse(&kind) else {
                bail!(
                    "种类须为 population 或 legal_entity / the kind is population or legal_entity, not {kind:?}"
                );
            };
            libraries
                .bind_existing(&actor, &code, kind)
                .await
                .map_err(fail)?;
            println!("{code} bound as the {} library", kind.code());
            Ok(())
        }
        LibrariesCommand::List { json, .. } => {
            let list = libraries.list(&actor).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for l in list {
                println!(
                    "{} {} ({})  built {}",
                    l.code,
                    l.name,
                    l.kind.code(),
                    l.built_at.as_deref().unwrap_or("never")
                );
                for a in l.attributes {
                    println!(
                        "  {:<16} {:<10} authoritative {:<24} sources {}",
                        a.name,
                        a.label,
                        a.authoritative.as_deref().unwrap_or("-"),
                        a.sources.len()
                    );
                }
            }
            Ok(())
        }
        LibrariesCommand::Define { kind, provider, .. } => {
            let Some(kind) = LibraryKind::parse(&kind) else {
                bail!(
                    "基础库类型只能是 population、legal_entity、address 或 licence / kind is population, legal_entity, address or licence"
                );
            };
            let rec = libraries
                .define(&actor, kind, &provider)
                .await
                .map_err(fail)?;
            println!(
                "{} {} v{}: {}",
                rec.code,
                rec.spec.name,
                rec.version,
                rec.spec
                    .data_items
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        LibrariesCommand::Build {
            code, full, json, ..
        } => {
            let codes = match code {
                Some(c) => vec![c],
                None => libraries
                    .list(&actor)
                    .await
                    .map_err(fail)?
                    .into_iter()
                    .map(|l| l.code)
                    .collect(),
            };
            for code in codes {
                let r = libraries.build(&actor, &code, full).await.map_err(fail)?;
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!(
                        "{} {} ({}): {} subjects composed, {} rows written, {} removed, {} in conflict, {} old-code rows not joined, version {} in {:.2} s",
                        r.library,
                        r.mode,
                        if r.reason.is_empty() {
                            "change logs"
                        } else {
                            &r.reason
                        },
                        r.subjects_composed,
                        r.rows_written,
                        r.rows_removed,
                        r.subjects_in_conflict,
                        r.alternate_keys_unjoined,
                        r.version
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.seconds
                    );
                }
            }
            Ok(())
        }
    }
}
