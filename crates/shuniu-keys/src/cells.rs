//! Cell encryption for sensitive data items (敏感信息项): each value sealed on its own with
//! SM4-GCM under the hub's data key, and a keyed SM3 digest (HMAC-SM3) of it for equality
//! lookups. The data key is a secret file sealed under the master key, so `shuniu keys rotate`
//! re-wraps it without touching a single stored value.
//!
//! A sealed cell is `[version 1][nonce 12][ciphertext][tag 16]`. Nonces are a random 64-bit
//! prefix drawn per [`CellSealer`] and a 32-bit counter, so they never repeat under one key
//! without a syscall per cell. The associated data is the column's name: a cell moved to
//! another column does not open there. Values are sealed with random nonces, so equal values
//! look different on disk; only the digest, which needs the key, lets them be matched.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::Mac;
use sm3::{Digest, Sm3};

use crate::{KeyError, Result, Sm4Gcm, random};

const CELL_VERSION: u8 = 1;
const NONCE: usize = 12;
const TAG: usize = 16;

type HmacSm3 = hmac::Hmac<Sm3>;

/// The key sensitive cells are sealed with, derived from one 32-byte secret.
#[derive(Clone)]
pub struct CellKey(Arc<Inner>);

struct Inner {
    cipher: Sm4Gcm,
    mac: HmacSm3,
    /// Names the key without revealing it (first bytes of SM3 over a derived value).
    id: [u8; 8],
}

impl fmt::Debug for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CellKey({})", hex::encode(self.0.id))
    }
}

fn derive(secret: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(b"shuniu-cells/");
    h.update(purpose);
    h.update(secret);
    h.finalize().into()
}

impl CellKey {
    /// Derives the sealing key and the digest key from a secret (the data key file's).
    pub fn from_secret(secret: &[u8; 32]) -> CellKey {
        let enc = derive(secret, b"sm4");
        let mac = derive(secret, b"hmac-sm3");
        let id = derive(secret, b"id");
        let mut short = [0u8; 8];
        short.copy_from_slice(&id[..8]);
        let mut sm4 = [0u8; 16];
        sm4.copy_from_slice(&enc[..16]);
        CellKey(Arc::new(Inner {
            cipher: Sm4Gcm::new(&sm4.into()),
            // HMAC accepts keys of any length; 32 bytes never fails.
            mac: <HmacSm3 as hmac::KeyInit>::new_from_slice(&mac)
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length")),
            id: short,
        }))
    }

    /// A short name of the key (hex), to tell keys apart in logs and UDF identities.
    pub fn id(&self) -> [u8; 8] {
        self.0.id
    }

    /// A sealer with a fresh nonce prefix; use one per batch or thread.
    pub fn sealer(&self) -> Result<CellSealer> {
        Ok(CellSealer {
            key: self.clone(),
            prefix: random::<8>()?,
            counter: 0,
        })
    }

    /// The keyed SM3 digest of a value: equal values, equal digests; without the key, nothing.
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        let mut m = self.0.mac.clone();
        m.update(value);
        m.finalize().into_bytes().into()
    }

    /// Opens a sealed cell of column `column`.
    pub fn open(&self, column: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let fail = |why: &str| KeyError::Unseal {
            label: format!("cell:{column}"),
            why: why.into(),
        };
        if sealed.len() < 1 + NONCE + TAG {
            return Err(fail("too short"));
        }
        if sealed[0] != CELL_VERSION {
            return Err(fail("unknown cell format"));
        }
        let mut nonce = [0u8; NONCE];
        nonce.copy_from_slice(&sealed[1..1 + NONCE]);
        self.0
            .cipher
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: &sealed[1 + NONCE..],
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| fail("authentication failed (wrong key, or the cell was altered)"))
    }
}

/// Seals cells with nonces that never repeat under its key.
pub struct CellSealer {
    key: CellKey,
    prefix: [u8; 8],
    counter: u32,
}

impl CellSealer {
    /// Seals one value of column `column`, appending the sealed cell to `out`.
    pub fn seal_into(&mut self, column: &str, value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.counter == u32::MAX {
            self.prefix = random::<8>()?;
            self.counter = 0;
        }
        self.counter += 1;
        let mut nonce = [0u8; NONCE];
        nonce[..8].copy_from_slice(&self.prefix);
        nonce[8..].copy_from_slice(&self.counter.to_be_bytes());
        let sealed = self
            .key
            .0
            .cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: value,
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unseal {
                label: format!("cell:{column}"),
                why: "sealing failed".into(),
            })?;
        out.reserve(1 + NONCE + sealed.len());
        out.push(CELL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(())
    }

    /// Seals one value of column `column`.
    pub fn seal(&mut self, column: &str, value: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.seal_into(column, value, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> CellKey {
        CellKey::from_secret(&[b; 32])
    }

    #[test]
    fn a_sealed_cell_opens_only_with_its_key_and_column() {
        let k = key(7);
        let mut s = k.sealer().unwrap();
        let c = s
            .seal("bank_account", "6222021234567890123".as_bytes())
            .unwrap();
        assert_eq!(k.open("bank_account", &c).unwrap(), b"6222021234567890123");
        assert!(k.open("address", &c).is_err(), "another column");
        assert!(key(8).open("bank_account", &c).is_err(), "another key");
        let mut flipped = c.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let e = k.open("bank_account", &flipped).unwrap_err();
        assert_eq!(e.code(), "SECRET_UNSEAL");
        assert!(k.open("bank_account", &c[..10]).is_err(), "truncated");
    }

    #[test]
    fn equal_values_seal_differently_but_digest_equally() {
        let k = key(1);
        let mut s = k.sealer().unwrap();
        let a = s.seal("c", b"same").unwrap();
        let b = s.seal("c", b"same").unwrap();
        assert_ne!(a, b);
        assert_eq!(k.digest(b"same"), k.digest(b"same"));
        assert_ne!(k.digest(b"same"), k.digest(b"Same"));
        assert_ne!(k.digest(b"same"), key(2).digest(b"same"));
        // A sealed cell does not contain its value.
        let v = b"370203199001011234";
        let c = s.seal("id_number", v).unwrap();
        assert!(!c.windows(v.len()).any(|w| w == v));
    }

    #[test]
    fn the_digest_is_hmac_sm3_of_the_derived_key() {
        // HMAC-SM3 computed independently: the digest key is SM3("shuniu-cells/hmac-sm3" ‖ secret).
        let secret = [3u8; 32];
        let mac_key = derive(&secret, b"hmac-sm3");
        let mut m = <HmacSm3 as hmac::KeyInit>::new_from_slice(&mac_key).unwrap();
        m.update(b"abc");
        let want: [u8; 32] = m.finalize().into_bytes().into();
        assert_eq!(CellKey::from_secret(&secret).digest(b"abc"), want);
    }

    proptest! {
        #[test]
        fn any_value_round_trips(v in proptest::collection::vec(any::<u8>(), 0..300), col in "[a-z_]{1,12}") {
            let k = key(9);
            let mut s = k.sealer().unwrap();
            let c = s.seal(&col, &v).unwrap();
            prop_assert_eq!(c.len(), v.len() + 1 + NONCE + TAG);
            prop_assert_eq!(k.open(&col, &c).unwrap(), v);
        }
    }
}
