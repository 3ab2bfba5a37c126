//! Signed tree heads: SM2 (GM/T 0003) over the tree size, time and root.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer as _, Verifier as _};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

use crate::error::AuditError;
use crate::merkle::Hash;

/// The SM2 distinguishing identifier: GM/T 0009's default, which other SM2 tools (GmSSL,
/// Python gmssl) assume when none is given.
pub const DIST_ID: &str = "1234567812345678";

/// What a tree head commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    /// Beijing time, RFC 3339 with milliseconds.
    pub timestamp: String,
    /// Hex SM3 Merkle root.
    pub root_hash: String,
    /// Hex of the signing key's SEC1 point, truncated SM3: which key to check with.
    pub key_id: String,
    /// Hex r‖s (64 bytes), SM2 with SM3 and [`DIST_ID`] over [`SignedTreeHead::message`].
    pub signature: String,
}

impl SignedTreeHead {
    /// The exact bytes signed. Line-oriented so that outside tools can rebuild them.
    pub fn message(tree_size: u64, timestamp: &str, root_hex: &str) -> Vec<u8> {
        format!("shuniu-tree-head/v1\n{tree_size}\n{timestamp}\n{root_hex}\n").into_bytes()
    }

    pub fn root(&self) -> Option<Hash> {
        let mut h = [0u8; 32];
        hex::decode_to_slice(&self.root_hash, &mut h).ok()?;
        Some(h)
    }

    /// Checks the signature with `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Ok(sig_bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(sig_bytes.as_slice()) else {
            return false;
        };
        let msg = Self::message(self.tree_size, &self.timestamp, &self.root_hash);
        key.0.verify(&msg, &sig).is_ok()
    }
}

/// An SM2 public key that tree heads are checked with.
#[derive(Clone)]
pub struct PublicKey(VerifyingKey, String);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.1)
    }
}

impl PublicKey {
    /// From hex SEC1 (uncompressed `04‖x‖y` or compressed), as `shuniu audit public-key` prints.
    pub fn from_hex(hex_key: &str) -> Result<PublicKey, AuditError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| AuditError::BadKey)?;
        let key = VerifyingKey::from_sec1_bytes(DIST_ID, &bytes).map_err(|_| AuditError::BadKey)?;
        Ok(PublicKey(key, hex_key.trim().to_lowercase()))
    }

    pub fn to_hex(&self) -> String {
        self.1.clone()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.1)
    }
}

fn key_id(public_hex: &str) -> String {
    use sm3::Digest;
    hex::encode(&sm3::Sm3::digest(public_hex.as_bytes())[..8])
}

/// The hub's tree-head signing key.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    public: PublicKey,
}

impl Signer {
    pub fn from_secret_hex(secret_hex: &str) -> Result<Signer, AuditError> {
        let bytes = hex::decode(secret_hex.trim()).map_err(|_| AuditError::BadKey)?;
        let secret = sm2::SecretKey::from_slice(&bytes).map_err(|_| AuditError::BadKey)?;
        let key = SigningKey::new(DIST_ID, &secret).map_err(|_| AuditError::BadKey)?;
        let public_hex = hex::encode(key.verifying_key().to_sec1_bytes());
        let public = PublicKey::from_hex(&public_hex)?;
        Ok(Signer { key, public })
    }

    pub fn generate() -> Result<(Signer, String), AuditError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| AuditError::Io(std::io::Error::other(e.to_string())))?;
            let secret_hex = hex::encode(bytes);
            // A random 256-bit string is a valid scalar except with negligible probability.
            if let Ok(s) = Signer::from_secret_hex(&secret_hex) {
                return Ok((s, secret_hex));
            }
        }
    }

    /// Loads the key kept at `dir/tree-head.key` (sealed under the master key), creating it
    /// on first use, and writes the public half to `dir/tree-head.pub` for anyone to copy.
    pub fn load_or_create(dir: &Path, keys: &shuniu_keys::MasterKey) -> Result<Signer, AuditError> {
        std::fs::create_dir_all(dir)?;
        let secret = keys.secret_file(&dir.join("tree-head.key"))?;
        let signer = Signer::from_secret_hex(&hex::encode(secret))?;
        let pub_path = dir.join("tree-head.pub");
        if std::fs::read_to_string(&pub_path)
            .ok()
            .as_deref()
            .map(str::trim)
            != Some(signer.public.to_hex().as_str())
        {
            std::fs::write(&pub_path, format!("{}\n", signer.public.to_hex()))?;
        }
        Ok(signer)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn sign(&self, tree_size: u64, timestamp: String, root: &Hash) -> SignedTreeHead {
        let root_hash = hex::encode(root);
        let msg = SignedTreeHead::message(tree_size, &timestamp, &root_hash);
        let sig: Signature = self.key.sign(&msg);
        SignedTreeHead {
            tree_size,
            timestamp,
            root_hash,
            key_id: self.public.key_id(),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Signs a raw message (for interoperability checks with other SM2 tools).
    pub fn sign_raw(&self, message: &[u8]) -> String {
        let sig: Signature = self.key.sign(message);
        hex::encode(sig.to_bytes())
    }
}

/// Checks a raw r‖s signature (for interoperability checks with other SM2 tools).
pub fn verify_raw(public: &PublicKey, message: &[u8], signature_hex: &str) -> bool {
    let Ok(b) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(b.as_slice()) else {
        return false;
    };
    public.0.verify(message, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_heads_sign_and_verify_and_refuse_changes() {
        let (signer, _) = Signer::generate().unwrap();
        let sth = signer.sign(42, "2026-11-22T08:00:00.000+08:00".into(), &[7u8; 32]);
        assert!(sth.verify(signer.public_key()));
        let mut bad = sth.clone();
        bad.tree_size = 43;
        assert!(!bad.verify(signer.public_key()));
        let mut bad = sth.clone();
        bad.root_hash = hex::encode([8u8; 32]);
        assert!(!bad.verify(signer.public_key()));
        let (other, _) = Signer::generate().unwrap();
        assert!(!sth.verify(other.public_key()));
    }

    #[test]
    fn keys_persist() {
        let dir = tempfile::tempdir().unwrap();
        let keys = shuniu_keys::MasterKey::ephemeral().unwrap();
        let a = Signer::load_or_create(dir.path(), &keys).unwrap();
        let b = Signer::load_or_create(dir.path(), &keys).unwrap();
        assert_eq!(a.public_key().to_hex(), b.public_key().to_hex());
        assert!(a.public_key().to_hex().starts_with("04"));
    }
}
