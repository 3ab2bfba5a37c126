//! The QR envelope (亮证二维码): a licence's essential fields, signed by its issuer's e-seal,
//! small enough for a QR code and verifiable without a network — built the way the EU digital
//! COVID certificate is:
//!
//! ```text
//! claims (CWT, RFC 8392: iss, iat, exp + the licence as private claim -70001)
//!   → COSE_Sign1 (RFC 9052, tag 18; protected header: alg, kid)
//!   → zlib → Base45 (RFC 9285) → "SNL1:" → QR alphanumeric mode, error correction Q
//! ```
//!
//! The algorithm is SM2 with SM3 (GB/T 32918, GB/T 32905), which COSE has not registered: it
//! is the private-use algorithm [`ALG_SM2_SM3`], and the signature is `r || s` (64 bytes), as
//! COSE writes ECDSA signatures. The key id is the seal key's [`crate::seal::key_id`].

use std::io::{Read, Write};

use chrono::{DateTime, NaiveDate, Utc};
use coset::cbor::Value;
use coset::cwt::{ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabelWithPrivate,
    TaggedCborSerializable,
};
use serde::{Deserialize, Serialize};
use shuniu_types::LicenceId;

use crate::seal::{SealKey, SealPublicKey};
use crate::{LicenceError, Rejection, Result};

/// Our prefix, as `HC1:` is the EU certificate's: Shuniu licence, envelope version 1.
pub const PREFIX: &str = "SNL1:";
/// COSE algorithm id for SM2 signatures over SM3 (private-use range, below -65536).
pub const ALG_SM2_SM3: i64 = -65701;
/// The CWT claim that holds the licence (private-use range).
pub const CLAIM_LICENCE: i64 = -70001;
/// An envelope larger than this once inflated is refused (a QR code holds under 3 KB).
const MAX_INFLATED: u64 = 16 * 1024;

/// What a holder's QR code says about the licence: enough to show it and to check it belongs
/// to the person or enterprise in front of the verifier, and no more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenceClaims {
    /// GB/T 36904 identifier.
    #[serde(rename = "id")]
    pub id: String,
    /// Licence type code (GB/T 36902) and name.
    #[serde(rename = "t")]
    pub type_code: String,
    #[serde(rename = "tn")]
    pub type_name: String,
    /// Holder's name (a person's or an enterprise's), as on the licence face.
    #[serde(rename = "hn")]
    pub holder_name: String,
    /// `id_number` or `credit_code`.
    #[serde(rename = "ht")]
    pub holder_id_type: String,
    /// The holder's identifier as shown: a person's ID number masked (first 6, last 4), an
    /// enterprise's credit code in full (it is public).
    #[serde(rename = "hi")]
    pub holder_id_shown: String,
    /// SM3 over the licence id and the holder's full identifier, hex (16 bytes): a verifier
    /// who reads the holder's ID card can confirm the licence is theirs; the QR code alone does
    /// not give the number away.
    #[serde(rename = "hd")]
    pub holder_digest: String,
    /// Issuing authority and its code (credit code).
    #[serde(rename = "a")]
    pub authority: String,
    #[serde(rename = "ac")]
    pub authority_code: String,
    /// GB/T 2260 division of the issuing area.
    #[serde(rename = "ar")]
    pub area: String,
    #[serde(rename = "d")]
    pub issued_on: NaiveDate,
    #[serde(rename = "vf")]
    pub valid_from: NaiveDate,
    /// `None`: valid without end (长期).
    #[serde(rename = "vu", default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    /// The licence's position in the hub's status lists (revocation, suspension).
    #[serde(rename = "si")]
    pub status_index: u64,
    /// The face's essential fields (label, value), in order.
    #[serde(rename = "f", default)]
    pub fields: Vec<(String, String)>,
}

/// The digest a licence carries of its holder's identifier.
pub fn holder_digest(licence_id: &str, holder_id: &str) -> String {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    h.update(licence_id.as_bytes());
    h.update([0u8]);
    h.update(holder_id.trim().to_ascii_uppercase().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Seals the claims with the key and returns the QR text (`SNL1:…`).
pub fn seal(claims: &LicenceClaims, key: &SealKey, issued_at: DateTime<Utc>) -> Result<String> {
    let licence =
        Value::serialized(claims).map_err(|e| LicenceError::Internal(format!("claims: {e}")))?;
    let mut cwt = ClaimsSetBuilder::new()
        .issuer(claims.authority_code.clone())
        .issued_at(Timestamp::WholeSeconds(issued_at.timestamp()))
        .private_claim(CLAIM_LICENCE, licence);
    if let Some(until) = claims.valid_until {
        let end = until
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default();
        cwt = cwt.expiration_time(Timestamp::WholeSeconds(end));
    }
    let payload = cwt
        .build()
        .to_vec()
        .map_err(|e| LicenceError::Internal(format!("CWT: {e}")))?;
    let protected = HeaderBuilder::new()
        .algorithm_label(RegisteredLabelWithPrivate::PrivateUse(ALG_SM2_SM3))
        .key_id(key.kid().to_vec())
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| key.sign(tbs))
        .build();
    let cose = sign1
        .to_tagged_vec()
        .map_err(|e| LicenceError::Internal(format!("COSE: {e}")))?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&cose)
        .map_err(|e| LicenceError::Internal(e.to_string()))?;
    let deflated = z
        .finish()
        .map_err(|e| LicenceError::Internal(e.to_string()))?;
    Ok(format!("{PREFIX}{}", base45::encode(&deflated)))
}

/// An envelope taken apart, its signature not yet checked.
#[derive(Debug, Clone)]
pub struct Opened {
    pub kid: [u8; 8],
    pub claims: LicenceClaims,
    pub issued_at: DateTime<Utc>,
    sign1: CoseSign1,
}

impl Opened {
    /// Checks the signature with the seal's public key.
    pub fn verify_with(&self, key: &SealPublicKey) -> std::result::Result<(), Rejection> {
        self.sign1
            .verify_signature(b"", |sig, tbs| key.verify(tbs, sig))
    }
}

/// Reads a QR text back into its parts. Any defect is [`Rejection::Malformed`].
pub fn open(text: &str) -> std::result::Result<Opened, Rejection> {
    fn bad<E>(_: E) -> Rejection {
        Rejection::Malformed
    }
    let body = text
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(Rejection::Malformed)?;
    let deflated = base45::decode(body).map_err(bad)?;
    let mut cose = Vec::new();
    flate2::read::ZlibDecoder::new(deflated.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut cose)
        .map_err(bad)?;
    if cose.len() as u64 > MAX_INFLATED {
        return Err(Rejection::Malformed);
    }
    let sign1 = CoseSign1::from_tagged_slice(&cose).map_err(bad)?;
    if sign1.protected.header.alg != Some(RegisteredLabelWithPrivate::PrivateUse(ALG_SM2_SM3)) {
        return Err(Rejection::Malformed);
    }
    let kid: [u8; 8] = sign1
        .protected
        .header
        .key_id
        .as_slice()
        .try_into()
        .map_err(|_| Rejection::Malformed)?;
    let payload = sign1.payload.as_deref().ok_or(Rejection::Malformed)?;
    let cwt = ClaimsSet::from_slice(payload).map_err(bad)?;
    let licence = cwt
        .rest
        .iter()
        .find(|(name, _)| *name == RegisteredLabelWithPrivate::PrivateUse(CLAIM_LICENCE))
        .map(|(_, v)| v.clone())
        .ok_or(Rejection::Malformed)?;
    let claims: LicenceClaims = licence.deserialized().map_err(bad)?;
    claims
        .id
        .parse::<LicenceId>()
        .map_err(|_| Rejection::Malformed)?;
    let issued_at = match cwt.issued_at {
        Some(Timestamp::WholeSeconds(s)) => DateTime::from_timestamp(s, 0),
        _ => None,
    }
    .ok_or(Rejection::Malformed)?;
    Ok(Opened {
        kid,
        claims,
        issued_at,
        sign1,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::seal::DEFAULT_SIGNER_ID;

    pub(crate) fn claims() -> LicenceClaims {
        LicenceClaims {
            id: "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F".into(),
            type_code: "11100000000013338W032".into(),
            type_name: "营业执照".into(),
            holder_name: "青岛海纳科技有限公司".into(),
            holder_id_type: "credit_code".into(),
            holder_id_shown: "91370202MA3C8K2P0X".into(),
            holder_digest: holder_digest(
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
                "91370202MA3C8K2P0X",
            ),
            authority: "青岛市市场监督管理局".into(),
            authority_code: "11370200MB0000000X".into(),
            area: "370200".into(),
            issued_on: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            valid_from: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            valid_until: None,
            status_index: 7,
            fields: vec![
                ("类型".into(), "有限责任公司".into()),
                ("法定代表人".into(), "张三".into()),
            ],
        }
    }

    #[test]
    fn an_envelope_opens_to_what_was_sealed_and_fits_a_qr_code() {
        let (key, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let at = DateTime::from_timestamp(1_709_251_200, 0).unwrap();
        let text = seal(&claims(), &key, at).unwrap();
        assert!(text.starts_with("SNL1:"));
        // QR alphanumeric mode: digits, capitals and ` $%*+-./:`.
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b)),
            "{text}"
        );
        assert!(text.len() < 1_000, "{} characters", text.len());
        let opened = open(&text).unwrap();
        assert_eq!(opened.claims, claims());
        assert_eq!(opened.kid, key.kid());
        assert_eq!(opened.issued_at, at);
        let public = SealPublicKey::from_hex(&key.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert!(opened.verify_with(&public).is_ok());
        let (other, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let wrong = SealPublicKey::from_hex(&other.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(opened.verify_with(&wrong), Err(Rejection::BadSignature));
    }

    #[test]
    fn a_changed_claim_breaks_the_signature_and_garbage_is_malformed() {
        let (key, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let public = SealPublicKey::from_hex(&key.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        let text = seal(&claims(), &key, Utc::now()).unwrap();
        // Re-seal the same envelope with one claim changed but the original signature.
        let mut opened = open(&text).unwrap();
        opened.claims.holder_name = "青岛别的公司".into();
        let mut forged_payload =
            ClaimsSet::from_slice(opened.sign1.payload.as_deref().unwrap()).unwrap();
        for (name, v) in &mut forged_payload.rest {
            if *name == RegisteredLabelWithPrivate::PrivateUse(CLAIM_LICENCE) {
                *v = Value::serialized(&opened.claims).unwrap();
            }
        }
        let mut forged = opened.sign1.clone();
        forged.payload = Some(forged_payload.to_vec().unwrap());
        let cose = forged.to_tagged_vec().unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&cose).unwrap();
        let tampered = format!("{PREFIX}{}", base45::encode(z.finish().unwrap()));
        let reopened = open(&tampered).unwrap();
        assert_eq!(reopened.claims.holder_name, "青岛别的公司");
        assert_eq!(reopened.verify_with(&public), Err(Rejection::BadSignature));

        for garbage in [
            "",
            "SNL1:",
            "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEPWK G2EP4J0B",
            "SNL1:%%%%",
            &text[..text.len() - 10],
            "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        ] {
            assert_eq!(open(garbage).err(), Some(Rejection::Malformed), "{garbage}");
        }
    }

    #[test]
    fn the_holder_digest_confirms_a_number_without_revealing_it() {
        let c = claims();
        assert_eq!(c.holder_digest, holder_digest(&c.id, "91370202ma3c8k2p0x"));
        assert_ne!(c.holder_digest, holder_digest(&c.id, "91370202MA3C8K2P1X"));
        assert_eq!(c.holder_digest.len(), 32);
    }
}
