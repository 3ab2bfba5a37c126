//! Command line of electronic licences (电子证照): `shuniu licence …`. `verify` is what a
//! counter's system or an auditor runs: it exits 0 for a valid licence and otherwise names
//! the reason (bad signature, unknown seal, revoked, suspended, expired, malformed).

use anyhow::{Result, bail};
use clap::Subcommand;
use shuniu_licences::{LicenceError, Licences};
use shuniu_types::Actor;

use crate::Common;

#[derive(Subcommand)]
pub enum LicenceCommand {
    /// Verify a licence: the text of its QR code (`SNL1:…`) or an image file holding the code.
    Verify {
        #[command(flatten)]
        common: Common,
        /// QR text, or the path of a PNG image of the QR code.
        qr: String,
        #[arg(long)]
        json: bool,
    },
    /// The licence types and what was issued of each.
    Types {
        #[command(flatten)]
        common: Common,
    },
    /// Issue a type's licences from its resource's rows (new, re-issued, unchanged).
    Issue {
        #[command(flatten)]
        common: Common,
        /// Licence type code (GB/T 36902).
        type_code: String,
        /// On demand: only this holder's licence (ID number or credit code).
        #[arg(long)]
        holder: Option<String>,
    },
    /// Write a licence's QR code as a PNG image.
    Qr {
        #[command(flatten)]
        common: Common,
        /// Licence identifier (GB/T 36904).
        id: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

impl LicenceCommand {
    pub fn common(&self) -> &Common {
        match self {
            LicenceCommand::Verify { common, .. }
            | LicenceCommand::Types { common }
            | LicenceCommand::Issue { common, .. }
            | LicenceCommand::Qr { common, .. } => common,
        }
    }
}

fn fail(e: LicenceError) -> anyhow::Error {
    use shuniu_types::Classified;
    let p = e.problem();
    anyhow::anyhow!("{} / {} [{}]", p.message_zh, p.message_en, p.code)
}

pub async fn run(licences: &Licences, cmd: LicenceCommand) -> Result<()> {
    let actor = Actor::local_operator();
    match cmd {
        LicenceCommand::Verify { qr, json, .. } => {
            let path = std::path::Path::new(&qr);
            let text = if !qr
                .trim_start()
                .starts_with(shuniu_licences::envelope::PREFIX)
                && path.is_file()
            {
                shuniu_licences::qr::read(&std::fs::read(path)?).map_err(fail)?
            } else {
                qr
            };
            match licences.verify(&text).await.map_err(fail)? {
                Ok(v) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&v)?);
                    } else {
                        let c = &v.claims;
                        println!("有效 / valid: {} {}", c.type_name, c.id);
                        println!(
                            "  持证主体 holder: {} ({})",
                            c.holder_name, c.holder_id_shown
                        );
                        println!(
                            "  颁发机构 issuer: {} · 电子印章 seal {} · 签发 issued {}",
                            c.authority, v.seal_code, c.issued_on
                        );
                        for (label, value) in &c.fields {
                            println!("  {label}: {value}");
                        }
                    }
                    Ok(())
                }
                Err(r) => bail!("无效 / invalid: {} / {} [{}]", r.zh(), r.en(), r.code()),
            }
        }
        LicenceCommand::Types { .. } => {
            for t in licences.types().await.map_err(fail)? {
                println!(
                    "{} {}  issued by {}  from {}",
                    t.code,
                    t.name,
                    t.issuers.join(","),
                    t.resource_code
                );
            }
            Ok(())
        }
        LicenceCommand::Issue {
            type_code,
            holder: Some(holder),
            ..
        } => {
            let l = licences
                .issue_for(&actor, &type_code, &holder)
                .await
                .map_err(fail)?;
            println!(
                "{} · {} · {} · v{} · {}",
                l.id, l.holder_name, l.holder_shown, l.version, l.state
            );
            Ok(())
        }
        LicenceCommand::Issue { type_code, .. } => {
            let r = licences.issue_all(&actor, &type_code).await.map_err(fail)?;
            println!(
                "{}: {} rows read, {} issued, {} re-issued, {} unchanged, {} holders invalid, in {:.2} s",
                r.type_code,
                r.rows_read,
                r.issued,
                r.reissued,
                r.unchanged,
                r.holders_invalid,
                r.seconds
            );
            Ok(())
        }
        LicenceCommand::Qr { id, out, .. } => {
            let l = licences.licence(&id).await.map_err(fail)?;
            std::fs::write(&out, shuniu_licences::qr::png(&l.envelope).map_err(fail)?)?;
            println!("{}", out.display());
            Ok(())
        }
    }
}
