//! `shuniu audit …`: verify the log, sign and export tree heads, search the index.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shuniu_audit::{PublicKey, SignedTreeHead, VerifyOptions};
use shuniu_store::{AuditFilter, Store};

use crate::Common;
use crate::config::Config;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole log (or a range) against its signed tree heads; exit non-zero naming
    /// the first entry that does not match.
    Verify(VerifyArgs),
    /// Sign the current tree now and publish the head (DATA_DIR/audit/tree-heads.jsonl).
    Sign {
        #[command(flatten)]
        common: Common,
    },
    /// Print the published tree heads as JSON lines, for departments to keep their own copy.
    Heads {
        #[command(flatten)]
        common: Common,
    },
    /// Print the SM2 public key tree heads are signed with (hex SEC1).
    PublicKey {
        #[command(flatten)]
        common: Common,
    },
    /// Search the audit index (newest first).
    Search(SearchArgs),
    /// SM2-sign a message with a hex secret key (interoperability checks with other tools).
    #[command(hide = true)]
    Sm2Sign {
        #[arg(long)]
        secret_key: String,
        #[arg(long)]
        message_hex: String,
    },
    /// Check an SM2 signature (interoperability checks with other tools).
    #[command(hide = true)]
    Sm2Verify {
        #[arg(long)]
        public_key: String,
        #[arg(long)]
        message_hex: String,
        #[arg(long)]
        signature: String,
    },
    /// HMAC-SM3 of a text under a hex key (interoperability checks with other tools).
    #[command(hide = true)]
    HmacSm3 {
        #[arg(long)]
        key_hex: String,
        #[arg(long)]
        text: String,
    },
}

impl AuditCommand {
    pub fn common(&self) -> Option<&Common> {
        match self {
            AuditCommand::Verify(a) => Some(&a.common),
            AuditCommand::Sign { common }
            | AuditCommand::Heads { common }
            | AuditCommand::PublicKey { common } => Some(common),
            AuditCommand::Search(a) => Some(&a.common),
            _ => None,
        }
    }
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Also hold the log to these tree heads (JSON, or JSON lines as `audit heads` prints);
    /// a department's own copies.
    #[arg(long = "tree-head")]
    pub tree_heads: Vec<PathBuf>,
    /// The public key to trust (hex, or a file holding it); default DATA_DIR/audit/tree-head.pub.
    #[arg(long)]
    pub public_key: Option<String>,
    /// First entry whose content is rehashed (the tree is always checked whole).
    #[arg(long)]
    pub from: Option<u64>,
    /// Entry after the last one rehashed.
    #[arg(long)]
    pub to: Option<u64>,
    /// Rebuild index files (offsets and leaf hashes proofs are served from) that disagree
    /// with the segments instead of failing.
    #[arg(long)]
    pub repair_index: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub principal: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    #[arg(long)]
    pub resource: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// An ID number: entries about this person (looked up by its keyed hash).
    #[arg(long)]
    pub subject: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

fn read_heads(path: &PathBuf) -> Result<Vec<SignedTreeHead>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(one) = serde_json::from_str::<SignedTreeHead>(&text) {
        return Ok(vec![one]);
    }
    if let Ok(many) = serde_json::from_str::<Vec<SignedTreeHead>>(&text) {
        return Ok(many);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).with_context(|| format!("a tree head in {}", path.display()))
        })
        .collect()
}

pub async fn run(config: &Config, cmd: AuditCommand) -> Result<()> {
    let dir = config.audit_dir();
    match cmd {
        AuditCommand::Verify(args) => verify(config, args).await,
        AuditCommand::Sign { .. } => {
            let hub = crate::open(config.clone()).await?;
            let sth = hub.engines.catalog.audit_log().sign_now().await?;
            println!("{}", serde_json::to_string_pretty(&sth)?);
            Ok(())
        }
        AuditCommand::Heads { .. } => {
            for h in shuniu_audit::published_heads(&dir)? {
                println!("{}", serde_json::to_string(&h)?);
            }
            Ok(())
        }
        AuditCommand::PublicKey { .. } => {
            let key = std::fs::read_to_string(dir.join("tree-head.pub"))
                .context("no tree-head key yet: the log has never been opened")?;
            println!("{}", key.trim());
            Ok(())
        }
        AuditCommand::Search(args) => search(config, args).await,
        AuditCommand::Sm2Sign {
            secret_key,
            message_hex,
        } => {
            let signer = shuniu_audit::Signer::from_secret_hex(&secret_key)?;
            let msg = hex::decode(message_hex.trim()).context("message hex")?;
            println!("{}", signer.public_key().to_hex());
            println!("{}", signer.sign_raw(&msg));
            Ok(())
        }
        AuditCommand::Sm2Verify {
            public_key,
            message_hex,
            signature,
        } => {
            let key = PublicKey::from_hex(&public_key)?;
            let msg = hex::decode(message_hex.trim()).context("message hex")?;
            if shuniu_audit::sign::verify_raw(&key, &msg, &signature) {
                println!("valid");
                Ok(())
            } else {
                anyhow::bail!("invalid signature / 签名无效")
            }
        }
        AuditCommand::HmacSm3 { key_hex, text } => {
            let mut k = [0u8; 32];
            hex::decode_to_slice(key_hex.trim(), &mut k).context("the key is 32 bytes of hex")?;
            println!("{}", shuniu_audit::SubjectKey::from_bytes(k).subject(&text));
            Ok(())
        }
    }
}

async fn verify(config: &Config, args: VerifyArgs) -> Result<()> {
    let dir = config.audit_dir();
    let key_text = match &args.public_key {
        Some(k) if std::path::Path::new(k).exists() => std::fs::read_to_string(k)?,
        Some(k) => k.clone(),
        None => std::fs::read_to_string(dir.join("tree-head.pub")).with_context(|| {
            format!(
                "no public key at {}: pass --public-key / 没有公钥",
                dir.join("tree-head.pub").display()
            )
        })?,
    };
    let public_key = PublicKey::from_hex(&key_text)?;
    let mut heads = shuniu_audit::published_heads(&dir)?;
    for p in &args.tree_heads {
        heads.extend(read_heads(p)?);
    }
    // Only the database storage needs the control plane; segment files are read as they are.
    let store = if config.audit_storage == "database" {
        Some(Store::open(&config.database_url()).await?)
    } else {
        None
    };
    let storage = config.audit_storage(store.as_ref())?;
    let range = match (args.from, args.to) {
        (None, None) => None,
        (f, t) => Some((f.unwrap_or(0), t.unwrap_or(u64::MAX))),
    };
    let opts = VerifyOptions {
        public_key,
        heads,
        range,
        repair_index: args.repair_index,
    };
    let report = shuniu_audit::verify(storage.as_ref(), &opts).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.ok {
        let against = report
            .verified_against
            .as_ref()
            .map(|h| format!("tree size {} signed at {}", h.tree_size, h.timestamp))
            .unwrap_or_else(|| "an empty log".into());
        println!(
            "审计日志校验通过 / audit log verifies: {} entries, {} checkpoints, root {}, against {} ({} published heads checked) in {} ms",
            report.entries,
            report.checkpoints,
            report.root_hash,
            against,
            report.heads_checked,
            report.elapsed_ms
        );
    }
    for line in &report.index {
        eprintln!("索引 / index: {line}");
    }
    if let Some(p) = &report.problem {
        let which = p
            .entry
            .map(|e| format!("entry {e} / 第 {e} 条"))
            .unwrap_or_else(|| "a signed tree head / 签名树头".into());
        eprintln!(
            "审计日志校验失败 / audit log does NOT verify\n  first bad: {which}\n  where: {}\n  {}\n  {}",
            p.location, p.reason_zh, p.reason_en
        );
        std::process::exit(1);
    }
    Ok(())
}

async fn search(config: &Config, args: SearchArgs) -> Result<()> {
    let store = Store::open(&config.database_url()).await?;
    let subject = match &args.subject {
        Some(id) => {
            let parsed: shuniu_types::IdNumber =
                id.parse().map_err(|e| anyhow::anyhow!("--subject: {e}"))?;
            let key =
                shuniu_audit::log::load_subject_key(&config.audit_dir(), &config.master_key()?)?;
            Some(key.subject(&parsed.to_string()))
        }
        None => None,
    };
    let rows = store
        .audit_search(&AuditFilter {
            principal: args.principal,
            department: args.department,
            resource: args.resource,
            action: args.action,
            subject,
            limit: args.limit,
            ..Default::default()
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in rows {
        println!(
            "{:>8}  {}  {:<16} {:<24} {:<12} {:<20} rows={} {}",
            r.idx,
            r.at,
            r.action,
            r.principal,
            r.department,
            r.resource.unwrap_or_default(),
            r.rows.map(|n| n.to_string()).unwrap_or_default(),
            r.result
        );
    }
    Ok(())
}
