//! The hub's master key and the secrets sealed under it.
//!
//! Every secret the hub keeps at rest (the masking and webhook keys, the audit log's subject and
//! signing keys, connector passwords) is sealed with SM4-GCM (GB/T 32907 block cipher in the
//! GCM mode of GB/T 36624 / RFC 8998) under a master key. The master key comes from a key file
//! (`DATA_DIR/keys/master.key` by default, mode 0600) or, in production, from a command (a KMS
//! or HSM client) that prints it; it never lands in the data directory's other files or the
//! control plane.
//!
//! A sealed value names the key that sealed it (`sm4gcm1:<key id>:<nonce>:<ciphertext+tag>`),
//! and the master key source may hold several keys, the current one first: that is how
//! `shuniu keys rotate` re-wraps every secret without a moment in which some cannot be opened.
//! Each value is sealed for a label (what it is, e.g. `key-file:sharing/masking.key`) given as
//! associated data, so a sealed value copied to another place does not open there.
//!
//! Architecture invariant: nothing here knows what the secrets are for; callers name them.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use sm3::{Digest, Sm3};
use sm4::Sm4;

mod cells;
mod stream;
pub use cells::{CellKey, CellSealer};
pub use stream::{SealedReader, SealedWriter};

type Sm4Gcm = AesGcm<Sm4, U12>;

const PREFIX: &str = "sm4gcm1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key {source_name}: {why}")]
    Master { source_name: String, why: String },
    #[error("sealed value for {label} does not open: {why}")]
    Unseal { label: String, why: String },
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("no randomness available: {0}")]
    Random(String),
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Master { .. } => "MASTER_KEY",
            KeyError::Unseal { .. } => "SECRET_UNSEAL",
            KeyError::File { .. } => "SECRET_FILE",
            KeyError::Random(_) => "RANDOM",
        }
    }
}

pub type Result<T, E = KeyError> = std::result::Result<T, E>;

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A file of hex keys, one per line, the current one first; created (one new key, mode
    /// 0600) when missing.
    File(PathBuf),
    /// A command run with `sh -c` that prints the keys the same way (a KMS or HSM client).
    Command(String),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "file {}", p.display()),
            KeySource::Command(c) => write!(f, "command `{c}`"),
        }
    }
}

/// One SM4 key and its identifier (the first 8 hex digits of its SM3 digest).
#[derive(Clone)]
struct Key {
    id: String,
    bytes: [u8; 16],
}

impl Key {
    fn new(bytes: [u8; 16]) -> Key {
        Key {
            id: hex::encode(Sm3::digest(bytes))[..8].to_string(),
            bytes,
        }
    }

    fn cipher(&self) -> Sm4Gcm {
        Sm4Gcm::new(&self.bytes.into())
    }
}

/// The hub's master key: the current SM4 key, and earlier ones still accepted for opening.
#[derive(Clone)]
pub struct MasterKey {
    keys: Vec<Key>,
    source: KeySource,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("source", &self.source)
            .field("ids", &self.ids())
            .finish()
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

fn parse_keys(text: &str, source: &KeySource) -> Result<Vec<Key>> {
    let bad = |why: String| KeyError::Master {
        source_name: source.to_string(),
        why,
    };
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bytes = hex::decode(line)
            .ok()
            .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad(format!("line {} is not a 128-bit hex key", n + 1)))?;
        keys.push(Key::new(bytes));
    }
    if keys.is_empty() {
        return Err(bad("holds no key".into()));
    }
    Ok(keys)
}

/// Writes `bytes` to `path` through a private temporary file, synced and renamed into place:
/// a crash leaves the old file or the new one, never a torn one, and the file is 0600 from
/// its first byte.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl MasterKey {
    /// Loads the master key. Only a missing key file creates one; a file or command that does
    /// not yield a key is an error naming it (a new key would open nothing sealed before).
    pub fn load(source: KeySource) -> Result<MasterKey> {
        let text = match &source {
            KeySource::File(path) => match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let key = random::<16>()?;
                    write_private_atomically(path, format!("{}\n", hex::encode(key)).as_bytes())
                        .map_err(|e| KeyError::File {
                            path: path.clone(),
                            why: e.to_string(),
                        })?;
                    tracing::info!(path = %path.display(), "created the master key");
                    hex::encode(key)
                }
                Err(e) => {
                    return Err(KeyError::Master {
                        source_name: source.to_string(),
                        why: e.to_string(),
                    });
                }
            },
            KeySource::Command(cmd) => {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| KeyError::Master {
                        source_name: source.to_string(),
                        why: e.to_string(),
                    })?;
                if !out.status.success() {
                    return Err(KeyError::Master {
                        source_name: source.to_string(),
                        why: format!("exited with {}", out.status),
                    });
                }
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        };
        let keys = parse_keys(&text, &source)?;
        Ok(MasterKey { keys, source })
    }

    /// A master key held only in memory (tests, benchmarks).
    pub fn ephemeral() -> Result<MasterKey> {
        Ok(MasterKey {
            keys: vec![Key::new(random::<16>()?)],
            source: KeySource::Command("(in memory)".into()),
        })
    }

    /// The keys' identifiers, the current one first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Seals `plaintext` for `label` under the current key.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<String> {
        let key = &self.keys[0];
        let nonce = random::<NONCE_LEN>()?;
        let ct = key
            .cipher()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|e| KeyError::Unseal {
                label: label.into(),
                why: e.to_string(),
            })?;
        Ok(format!(
            "{PREFIX}:{}:{}:{}",
            key.id,
            hex::encode(nonce),
            hex::encode(ct)
        ))
    }

    /// Opens a value sealed for `label` by any of the keys.
    pub fn unseal(&self, label: &str, sealed: &str) -> Result<Vec<u8>> {
        let bad = |why: &str| KeyError::Unseal {
            label: label.into(),
            why: why.into(),
        };
        let mut parts = sealed.trim().splitn(4, ':');
        let (Some(PREFIX), Some(id), Some(nonce), Some(ct)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a sealed value"));
        };
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            bad(&format!(
                "sealed under key {id}, which the master key lacks"
            ))
        })?;
        let nonce: [u8; NONCE_LEN] = hex::decode(nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("bad nonce"))?;
        let ct = hex::decode(ct).map_err(|_| bad("bad ciphertext"))?;
        key.cipher()
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &ct,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| bad("authentication failed (altered, or sealed for something else)"))
    }

    /// Seals text; [`MasterKey::open_text`] reverses it.
    pub fn seal_text(&self, label: &str, text: &str) -> Result<String> {
        self.seal(label, text.as_bytes())
    }

    /// Opens sealed text. A value written before secrets were sealed is returned as it is
    /// (and is sealed when next written or at the next rotation).
    pub fn open_text(&self, label: &str, stored: &str) -> Result<String> {
        if !is_sealed(stored) {
            return Ok(stored.to_string());
        }
        String::from_utf8(self.unseal(label, stored)?).map_err(|_| KeyError::Unseal {
            label: label.into(),
            why: "not text".into(),
        })
    }

    /// True when `sealed` was sealed under the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .split(':')
            .nth(1)
            .is_some_and(|id| id == self.keys[0].id)
    }

    /// A 32-byte secret kept in a file of its own, sealed. Only a missing file creates one
    /// (mode 0600 from its first byte); a file written before sealing (plain hex) is read and
    /// sealed in place; anything else is an error naming the file, because a secret that
    /// changed silently would change every mask, keyed hash and signature made with it.
    pub fn secret_file(&self, path: &Path) -> Result<[u8; 32]> {
        let label = file_label(path);
        let file_error = |why: String| KeyError::File {
            path: path.to_path_buf(),
            why,
        };
        match std::fs::read_to_string(path) {
            Ok(text) if is_sealed(&text) => {
                let bytes = self
                    .unseal(&label, &text)
                    .map_err(|e| file_error(format!("密钥文件无法解封 / {e}")))?;
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| file_error("sealed secret is not 32 bytes".into()))
            }
            Ok(text) => {
                let key = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        file_error(
                            "密钥文件内容无效 / does not hold a 32-byte hex key; restore it from backup (a new key would change every keyed hash)".into(),
                        )
                    })?;
                self.write_secret_file(path, &key)?;
                tracing::info!(path = %path.display(), "sealed a key file written before sealing");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random::<32>()?;
                self.write_secret_file(path, &key)?;
                Ok(key)
            }
            Err(e) => Err(file_error(format!("密钥文件无法读取 / cannot read: {e}"))),
        }
    }

    fn write_secret_file(&self, path: &Path, key: &[u8; 32]) -> Result<()> {
        let sealed = self.seal(&file_label(path), key)?;
        write_private_atomically(path, format!("{sealed}\n").as_bytes()).map_err(|e| {
            KeyError::File {
                path: path.to_path_buf(),
                why: e.to_string(),
            }
        })
    }

    /// Re-seals a secret file under the current key (rotation). Returns whether it changed.
    pub fn reseal_file(&self, path: &Path) -> Result<bool> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        if !is_sealed(&text) {
            // Written before sealing: reading it seals it under the current key.
            self.secret_file(path)?;
            return Ok(true);
        }
        if self.is_current(&text) {
            return Ok(false);
        }
        let key = <[u8; 32]>::try_from(self.unseal(&file_label(path), &text)?.as_slice()).map_err(
            |_| KeyError::File {
                path: path.to_path_buf(),
                why: "sealed secret is not 32 bytes".into(),
            },
        )?;
        self.write_secret_file(path, &key)?;
        Ok(true)
    }
}

/// The label a key file's secret is sealed for: its file name and parent directory, so that a
/// sealed file moved into another's place does not open there.
fn file_label(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("key-file:{parent}/{name}")
}

/// True when `stored` is a sealed value.
pub fn is_sealed(stored: &str) -> bool {
    stored.trim_start().starts_with("sm4gcm1:")
}

/// Rotation of a key file master key: a new key is put first and the old ones kept, so that
/// everything stays openable while it is re-sealed; [`finish_rotation`] then drops the old
/// keys. Returns the master key with both.
pub fn begin_rotation(master: &MasterKey) -> Result<MasterKey> {
    let KeySource::File(path) = &master.source else {
        return Err(KeyError::Master {
            source_name: master.source.to_string(),
            why: "a command's keys are rotated where they are kept: put the new key first in its output, then run `shuniu keys rotate`".into(),
        });
    };
    let mut keys = vec![Key::new(random::<16>()?)];
    keys.extend(master.keys.iter().cloned());
    write_keys(path, &keys)?;
    Ok(MasterKey {
        keys,
        source: master.source.clone(),
    })
}

/// Ends a rotation: keeps only the current key in the key file. For a command source there is
/// nothing to write; the command's owner drops the old key.
pub fn finish_rotation(master: &MasterKey) -> Result<MasterKey> {
    let keys = vec![master.keys[0].clone()];
    if let KeySource::File(path) = &master.source {
        write_keys(path, &keys)?;
    }
    Ok(MasterKey {
        keys,
        source: master.source.clone(),
    })
}

fn write_keys(path: &Path, keys: &[Key]) -> Result<()> {
    let text: String = keys
        .iter()
        .map(|k| format!("{}\n", hex::encode(k.bytes)))
        .collect();
    write_private_atomically(path, text.as_bytes()).map_err(|e| KeyError::File {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
