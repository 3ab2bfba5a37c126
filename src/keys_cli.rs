//! `shuniu keys`: the master key and the secrets sealed under it.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};

use crate::Common;
use crate::config::Config;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Where the master key comes from, its key ids, and the sealed secrets found.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// A new master key: every key file and connector source is re-sealed under it, then the
    /// old key is dropped. Run it with the hub stopped.
    Rotate {
        #[command(flatten)]
        common: Common,
    },
}

impl KeysCommand {
    pub fn common(&self) -> &Common {
        match self {
            KeysCommand::Status { common } | KeysCommand::Rotate { common } => common,
        }
    }
}

/// The secret files under the data directory: `*.key` one or two levels down (the sharing,
/// open-data and audit keys), never the master key itself.
fn secret_files(data_dir: &Path, master: &shuniu_keys::KeySource) -> Result<Vec<PathBuf>> {
    let master_path = match master {
        shuniu_keys::KeySource::File(p) => Some(p.clone()),
        shuniu_keys::KeySource::Command(_) => None,
    };
    let mut out = Vec::new();
    let mut dirs = vec![(data_dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e?.path();
            if path.is_dir() {
                if depth < 1 && path.file_name().is_some_and(|n| n != "lake") {
                    dirs.push((path, depth + 1));
                }
            } else if path.extension().is_some_and(|x| x == "key")
                && Some(&path) != master_path.as_ref()
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub async fn run(config: &Config, cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Status { .. } => {
            let master = config.master_key()?;
            println!("主密钥 / master key: {}", master.source());
            println!("密钥标识 / key ids: {}", master.ids().join(", "));
            for f in secret_files(&config.data_dir, master.source())? {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                let state = if !shuniu_keys::is_sealed(&text) {
                    "未加密 / not sealed yet"
                } else if master.is_current(&text) {
                    "已加密 / sealed"
                } else {
                    "旧密钥加密 / sealed under an earlier key"
                };
                println!("{}\t{state}", f.display());
            }
            Ok(())
        }
        KeysCommand::Rotate { .. } => {
            let before = config.master_key()?;
            let rotating = shuniu_keys::begin_rotation(&before)
                .or_else(|e| match before.source() {
                    // A command's keys rotate where they are kept: re-seal under its first key.
                    shuniu_keys::KeySource::Command(_) => Ok(before.clone()),
                    shuniu_keys::KeySource::File(_) => Err(e),
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut files = 0;
            for f in secret_files(&config.data_dir, rotating.source())? {
                if rotating
                    .reseal_file(&f)
                    .with_context(|| format!("re-sealing {}", f.display()))?
                {
                    files += 1;
                }
            }
            // Opening the hub with the rotated key re-seals the connector sources in the store:
            // the aggregation engine seals any not under the current key when it starts.
            crate::open(config.clone()).await?;
            let after =
                shuniu_keys::finish_rotation(&rotating).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "主密钥已轮换 / master key rotated: {} → {}; {files} 个密钥文件和全部连接器源已重新加密 / {files} key files and every connector source re-sealed",
                before.ids().join(","),
                after.ids().join(",")
            );
            Ok(())
        }
    }
}
