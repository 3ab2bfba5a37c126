//! E-seal keys (电子印章密钥): SM2 key pairs (GB/T 32918) that sign licences with SM3, with a
//! configurable signer ID (GB/T 35276's default `1234567812345678`). The private half lives
//! only sealed under the hub's master key (SM4-GCM, `shuniu-keys`); the public half is
//! published in the trust list, named by a key id derived from it.

use sm2::dsa::signature::{Signer as _, Verifier as _};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::Digest;

use crate::{LicenceError, Rejection, Result};

/// The signer ID GB/T 35276 uses when none is agreed.
pub const DEFAULT_SIGNER_ID: &str = "1234567812345678";

/// A key id: the first eight bytes of SM3 over the public key's uncompressed SEC1 form.
pub fn key_id(public_sec1: &[u8]) -> [u8; 8] {
    let d = sm3::Sm3::digest(public_sec1);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// A seal's signing key, opened for use.
#[derive(Clone)]
pub struct SealKey {
    key: SigningKey,
    signer_id: String,
    kid: [u8; 8],
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey({})", hex::encode(self.kid))
    }
}

impl SealKey {
    /// A new random key pair; returns the key and its secret scalar (to be sealed at rest).
    pub fn generate(signer_id: &str) -> Result<(SealKey, [u8; 32])> {
        check_signer_id(signer_id)?;
        // Any 256-bit string below the group order is a key; the odd one above it is drawn
        // again (the chance of 64 misses in a row is nil).
        for _ in 0..64 {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| LicenceError::Internal(e.to_string()))?;
            if let Ok(k) = SealKey::from_secret(&secret, signer_id) {
                return Ok((k, secret));
            }
        }
        Err(LicenceError::Internal("no SM2 key could be drawn".into()))
    }

    pub fn from_secret(secret: &[u8], signer_id: &str) -> Result<SealKey> {
        check_signer_id(signer_id)?;
        let secret = sm2::SecretKey::from_slice(secret)
            .map_err(|_| LicenceError::Internal("not an SM2 private key".into()))?;
        let key = SigningKey::new(signer_id, &secret)
            .map_err(|_| LicenceError::Internal("not an SM2 private key".into()))?;
        let kid = key_id(&key.verifying_key().to_sec1_bytes());
        Ok(SealKey {
            key,
            signer_id: signer_id.to_string(),
            kid,
        })
    }

    pub fn kid(&self) -> [u8; 8] {
        self.kid
    }

    pub fn signer_id(&self) -> &str {
        &self.signer_id
    }

    /// The public key, uncompressed SEC1 (`04 || x || y`), hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_sec1_bytes())
    }

    /// SM2 signature over `message` (SM3 with the signer ID's Z value), `r || s`, 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(message);
        sig.to_bytes().to_vec()
    }
}

/// A seal's public key as a verifier holds it.
#[derive(Debug, Clone)]
pub struct SealPublicKey {
    key: VerifyingKey,
}

impl SealPublicKey {
    pub fn from_hex(public_hex: &str, signer_id: &str) -> Result<SealPublicKey> {
        let bytes = hex::decode(public_hex.trim()).map_err(|_| bad_key())?;
        let key = VerifyingKey::from_sec1_bytes(signer_id, &bytes).map_err(|_| bad_key())?;
        Ok(SealPublicKey { key })
    }

    /// Checks an `r || s` signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> std::result::Result<(), Rejection> {
        let sig = Signature::from_slice(signature).map_err(|_| Rejection::BadSignature)?;
        self.key
            .verify(message, &sig)
            .map_err(|_| Rejection::BadSignature)
    }
}

/// A signer ID is 1–64 bytes (GB/T 35276 uses 16).
fn check_signer_id(signer_id: &str) -> Result<()> {
    if signer_id.is_empty() || signer_id.len() > 64 {
        return Err(LicenceError::invalid(
            "SEAL_SIGNER_ID",
            "签名者标识应为 1–64 个字节",
            "a signer ID is 1–64 bytes",
        ));
    }
    Ok(())
}

fn bad_key() -> LicenceError {
    LicenceError::invalid(
        "SEAL_PUBLIC_KEY",
        "不是有效的 SM2 公钥",
        "not an SM2 public key",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32918.2's signing example uses its own test curve; the key below is on the
    /// recommended curve (GB/T 32918.5) and is checked by signing and verifying, and by the
    /// interop test against Python gmssl in e2e/.
    #[test]
    fn signatures_verify_with_the_same_signer_id_only() {
        let (key, secret) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let again = SealKey::from_secret(&secret, DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(key.public_hex(), again.public_hex());
        assert_eq!(key.public_hex().len(), 130, "uncompressed SEC1");
        let sig = key.sign(b"licence");
        assert_eq!(sig.len(), 64);
        let public = SealPublicKey::from_hex(&key.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert!(public.verify(b"licence", &sig).is_ok());
        assert_eq!(
            public.verify(b"licencf", &sig),
            Err(Rejection::BadSignature)
        );
        let other_id = SealPublicKey::from_hex(&key.public_hex(), "ALICE123@YAHOO.COM").unwrap();
        assert_eq!(
            other_id.verify(b"licence", &sig),
            Err(Rejection::BadSignature),
            "the signer ID is part of what is signed"
        );
        assert_eq!(key.kid(), key_id(&hex::decode(key.public_hex()).unwrap()));
        assert!(SealKey::from_secret(&secret, "").is_err());
        // A bad signer ID is refused at once, not drawn for forever.
        assert_eq!(SealKey::generate("").unwrap_err().code(), "SEAL_SIGNER_ID");
        assert_eq!(
            SealKey::generate(&"x".repeat(65)).unwrap_err().code(),
            "SEAL_SIGNER_ID"
        );
    }
}
