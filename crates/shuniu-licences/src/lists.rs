//! What a verifier needs to work offline, published and signed by the hub:
//!
//! - the **trust list** (信任列表): every e-seal's public key with its validity, so that a
//!   licence's signature can be checked without asking anyone;
//! - the **status lists** (状态列表), in the manner of the W3C Bitstring Status List: one bit per
//!   licence (its `status_index`) for revocation and one for suspension, GZIP-compressed and
//!   multibase base64url-encoded, with a time to live after which a verifier must fetch them
//!   again (until then it works offline; after it, it says the status is stale).
//!
//! Both travel as a signed document: `{"payload": base64url(JSON), "kid": …, "signature":
//! hex(r || s)}`, signed with the hub's trust key (SM2/SM3). The signature covers the payload's
//! bytes exactly as sent, so any JSON library can verify it.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::seal::{SealKey, SealPublicKey};
use crate::{LicenceError, Rejection, Result};

/// The smallest status list the W3C recommendation allows (16 KiB of bits), so that one
/// licence's lookup does not tell the hub which licence is being checked.
pub const MIN_STATUS_BITS: usize = 131_072;

/// A document signed by the hub's trust key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signed {
    pub payload: String,
    pub kid: String,
    pub signature: String,
}

impl Signed {
    pub fn sign<T: Serialize>(body: &T, key: &SealKey) -> Result<Signed> {
        let json = serde_json::to_vec(body).map_err(|e| LicenceError::Internal(e.to_string()))?;
        Ok(Signed {
            payload: URL_SAFE_NO_PAD.encode(&json),
            kid: hex::encode(key.kid()),
            signature: hex::encode(key.sign(&json)),
        })
    }

    /// The body, once its signature verified with `root`.
    pub fn open<T: for<'de> Deserialize<'de>>(
        &self,
        root: &SealPublicKey,
    ) -> std::result::Result<T, Rejection> {
        let json = URL_SAFE_NO_PAD
            .decode(self.payload.trim())
            .map_err(|_| Rejection::UntrustedList)?;
        let sig = hex::decode(self.signature.trim()).map_err(|_| Rejection::UntrustedList)?;
        root.verify(&json, &sig)
            .map_err(|_| Rejection::UntrustedList)?;
        serde_json::from_slice(&json).map_err(|_| Rejection::UntrustedList)
    }
}

/// One e-seal in the trust list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustedSeal {
    /// Key id (hex), as COSE envelopes name it.
    pub kid: String,
    pub seal_code: String,
    pub seal_name: String,
    pub department: String,
    pub department_name: String,
    /// SM2 public key, uncompressed SEC1, hex.
    pub public_key: String,
    pub signer_id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustList {
    pub issuer: String,
    pub issued_at: DateTime<Utc>,
    pub seals: Vec<TrustedSeal>,
}

/// Which status a list records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusPurpose {
    Revocation,
    Suspension,
}

/// A Bitstring Status List credential (W3C VC Data Model 2.0 JSON), as the hub publishes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusListCredential {
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    pub id: String,
    #[serde(rename = "type")]
    pub types: Vec<String>,
    pub issuer: String,
    #[serde(rename = "validFrom")]
    pub valid_from: DateTime<Utc>,
    /// The time to live: a verifier uses the list until then, offline.
    #[serde(rename = "validUntil")]
    pub valid_until: DateTime<Utc>,
    #[serde(rename = "credentialSubject")]
    pub subject: StatusListSubject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusListSubject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "statusPurpose")]
    pub purpose: StatusPurpose,
    #[serde(rename = "encodedList")]
    pub encoded_list: String,
}

/// A bitstring: bit `i` is the `i % 8`-th most significant bit of byte `i / 8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitstring(Vec<u8>);

impl Bitstring {
    pub fn with_capacity(bits: usize) -> Bitstring {
        Bitstring(vec![0; bits.max(MIN_STATUS_BITS).div_ceil(8)])
    }
    pub fn len(&self) -> usize {
        self.0.len() * 8
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn set(&mut self, i: usize, on: bool) {
        if i >= self.len() {
            self.0.resize((i + 1).div_ceil(8), 0);
        }
        let mask = 0x80u8 >> (i % 8);
        if on {
            self.0[i / 8] |= mask;
        } else {
            self.0[i / 8] &= !mask;
        }
    }
    pub fn get(&self, i: usize) -> bool {
        self.0
            .get(i / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }
    /// Multibase (`u`, base64url without padding) of the GZIP-compressed bits.
    pub fn encode(&self) -> Result<String> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&self.0)
            .map_err(|e| LicenceError::Internal(e.to_string()))?;
        let bytes = gz
            .finish()
            .map_err(|e| LicenceError::Internal(e.to_string()))?;
        Ok(format!("u{}", URL_SAFE_NO_PAD.encode(bytes)))
    }
    pub fn decode(encoded: &str) -> std::result::Result<Bitstring, Rejection> {
        fn bad<E>(_: E) -> Rejection {
            Rejection::UntrustedList
        }
        let b64 = encoded.strip_prefix('u').ok_or(Rejection::UntrustedList)?;
        let gz = URL_SAFE_NO_PAD.decode(b64).map_err(bad)?;
        let mut bits = Vec::new();
        // A list is 16 KiB for 131,072 licences; 64 MiB holds half a billion.
        flate2::read::GzDecoder::new(gz.as_slice())
            .take(64 << 20)
            .read_to_end(&mut bits)
            .map_err(bad)?;
        Ok(Bitstring(bits))
    }
}

impl StatusListCredential {
    pub fn new(
        base_url: &str,
        purpose: StatusPurpose,
        bits: &Bitstring,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<StatusListCredential> {
        let name = match purpose {
            StatusPurpose::Revocation => "revocation",
            StatusPurpose::Suspension => "suspension",
        };
        let id = format!("{base_url}/api/v1/licences/status/{name}");
        Ok(StatusListCredential {
            context: vec!["https://www.w3.org/ns/credentials/v2".into()],
            id: id.clone(),
            types: vec![
                "VerifiableCredential".into(),
                "BitstringStatusListCredential".into(),
            ],
            issuer: base_url.to_string(),
            valid_from: now,
            valid_until: now + ttl,
            subject: StatusListSubject {
                id: format!("{id}#list"),
                kind: "BitstringStatusList".into(),
                purpose,
                encoded_list: bits.encode()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::DEFAULT_SIGNER_ID;

    #[test]
    fn bitstrings_round_trip_with_the_w3c_bit_order() {
        let mut b = Bitstring::with_capacity(10);
        assert_eq!(b.len(), MIN_STATUS_BITS);
        b.set(0, true);
        b.set(9, true);
        b.set(200_000, true);
        assert!(b.get(0) && b.get(9) && b.get(200_000) && !b.get(1));
        assert_eq!(b.0[0], 0b1000_0000, "index 0 is the first byte's high bit");
        assert_eq!(b.0[1], 0b0100_0000);
        let text = b.encode().unwrap();
        assert!(text.starts_with('u'));
        assert!(text.len() < 400, "a sparse list compresses: {}", text.len());
        assert_eq!(Bitstring::decode(&text).unwrap(), b);
        b.set(9, false);
        assert!(!b.get(9));
        assert!(Bitstring::decode("zabc").is_err());
    }

    #[test]
    fn signed_documents_open_with_the_hub_key_only() {
        let (hub, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let list = TrustList {
            issuer: "青岛市大数据发展管理局".into(),
            issued_at: Utc::now(),
            seals: Vec::new(),
        };
        let doc = Signed::sign(&list, &hub).unwrap();
        let root = SealPublicKey::from_hex(&hub.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(doc.open::<TrustList>(&root).unwrap(), list);
        let (other, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let stranger = SealPublicKey::from_hex(&other.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(
            doc.open::<TrustList>(&stranger).unwrap_err(),
            Rejection::UntrustedList
        );
        // A payload changed after signing does not open.
        let mut forged = doc.clone();
        let mut body = list.clone();
        body.issuer = "别人".into();
        forged.payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap());
        assert_eq!(
            forged.open::<TrustList>(&root).unwrap_err(),
            Rejection::UntrustedList
        );
    }
}
