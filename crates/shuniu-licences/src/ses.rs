//! The e-seal's data in GB/T 38540-2020's structure (电子印章数据, version 4), DER-encoded:
//!
//! ```text
//! SES_Seal     ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING,
//!                             signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
//! SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String,
//!                             property SES_ESPropertyInfo, picture SES_ESPictrueInfo }
//! SES_Header   ::= SEQUENCE { ID IA5String ("ES"), version INTEGER (4), Vid IA5String }
//! SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER,
//!                             certList SEQUENCE OF OCTET STRING, createDate GeneralizedTime,
//!                             validStart GeneralizedTime, validEnd GeneralizedTime }
//! SES_ESPictrueInfo  ::= SEQUENCE { type IA5String, data OCTET STRING,
//!                             width INTEGER, height INTEGER }
//! ```
//!
//! The seal maker (制章人) is the hub: `cert` holds its trust key and `signedValue` is its
//! SM2 signature (SM3, `1.2.156.10197.1.501`, DER `SEQUENCE { r, s }` as GM/T 0009 encodes
//! it) over `TBS_Seal ::= SEQUENCE { eSealInfo, cert, signAlgID }`. One departure, because
//! the hub runs no certificate authority: where the standard puts X.509 certificates, `cert`
//! and the `certList` hold the keys' SubjectPublicKeyInfo (an SM2 public key, the same
//! structure a certificate would carry). A seal's picture is its SVG.

use der::asn1::{
    BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, UintRef, Utf8StringRef,
};
use der::{Decode, Encode, Sequence};

use crate::seal::{SealKey, SealPublicKey};
use crate::{LicenceError, Rejection, Result};

/// SM2 signature with SM3 (GM/T 0006).
pub const SM2_WITH_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SM2_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");

#[derive(Sequence)]
struct Header {
    id: Ia5String,
    version: u32,
    vid: Ia5String,
}

#[derive(Sequence)]
struct Property<'a> {
    kind: u32,
    name: Utf8StringRef<'a>,
    cert_list_type: u32,
    cert_list: Vec<OctetString>,
    create_date: GeneralizedTime,
    valid_start: GeneralizedTime,
    valid_end: GeneralizedTime,
}

#[derive(Sequence)]
struct Picture {
    kind: Ia5String,
    data: OctetString,
    width: u32,
    height: u32,
}

#[derive(Sequence)]
struct SealInfo<'a> {
    header: Header,
    es_id: Ia5String,
    property: Property<'a>,
    picture: Picture,
}

#[derive(Sequence)]
struct Tbs<'a> {
    info: SealInfo<'a>,
    cert: OctetString,
    sign_alg: ObjectIdentifier,
}

#[derive(Sequence)]
struct SesSeal<'a> {
    info: SealInfo<'a>,
    cert: OctetString,
    sign_alg: ObjectIdentifier,
    signed_value: BitString,
}

#[derive(Sequence)]
struct AlgorithmIdentifier {
    algorithm: ObjectIdentifier,
    parameters: ObjectIdentifier,
}

#[derive(Sequence)]
struct Spki {
    algorithm: AlgorithmIdentifier,
    key: BitString,
}

#[derive(Sequence)]
struct SignatureDer<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

fn der_err(e: der::Error) -> LicenceError {
    LicenceError::Internal(format!("DER: {e}"))
}

/// An SM2 public key (uncompressed SEC1, hex) as a DER SubjectPublicKeyInfo.
pub fn spki(public_hex: &str) -> Result<Vec<u8>> {
    let point = hex::decode(public_hex).map_err(|e| LicenceError::Internal(e.to_string()))?;
    Spki {
        algorithm: AlgorithmIdentifier {
            algorithm: EC_PUBLIC_KEY,
            parameters: SM2_CURVE,
        },
        key: BitString::from_bytes(&point).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)
}

/// What the seal says about itself.
pub struct SealFacts<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub public_hex: &'a str,
    pub created: chrono::DateTime<chrono::Utc>,
    pub valid_until: chrono::DateTime<chrono::Utc>,
    pub picture_svg: &'a str,
}

fn time(t: chrono::DateTime<chrono::Utc>) -> Result<GeneralizedTime> {
    let secs = u64::try_from(t.timestamp())
        .map_err(|_| LicenceError::Internal("a seal date before 1970".into()))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).map_err(der_err)
}

fn ia5(s: &str) -> Result<Ia5String> {
    Ia5String::new(s).map_err(der_err)
}

fn info<'a>(f: &'a SealFacts<'a>) -> Result<SealInfo<'a>> {
    Ok(SealInfo {
        header: Header {
            id: ia5("ES")?,
            version: 4,
            vid: ia5("Shuniu")?,
        },
        es_id: ia5(f.code)?,
        property: Property {
            // 1: an official seal (单位印章).
            kind: 1,
            name: Utf8StringRef::new(f.name).map_err(der_err)?,
            // 1: a list of certificates (here: public keys, see the module's note).
            cert_list_type: 1,
            cert_list: vec![OctetString::new(spki(f.public_hex)?).map_err(der_err)?],
            create_date: time(f.created)?,
            valid_start: time(f.created)?,
            valid_end: time(f.valid_until)?,
        },
        picture: Picture {
            kind: ia5("svg")?,
            data: OctetString::new(f.picture_svg.as_bytes().to_vec()).map_err(der_err)?,
            // Millimetres, as a paper seal of 42 mm.
            width: 42,
            height: 42,
        },
    })
}

/// The seal's SES_Seal, signed by the seal maker (the hub's trust key).
pub fn encode(facts: &SealFacts<'_>, maker: &SealKey) -> Result<Vec<u8>> {
    let cert = OctetString::new(spki(&maker.public_hex())?).map_err(der_err)?;
    let tbs = Tbs {
        info: info(facts)?,
        cert: cert.clone(),
        sign_alg: SM2_WITH_SM3,
    }
    .to_der()
    .map_err(der_err)?;
    let rs = maker.sign(&tbs);
    let (r, s) = rs.split_at(32);
    let signature = SignatureDer {
        r: UintRef::new(r).map_err(der_err)?,
        s: UintRef::new(s).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)?;
    SesSeal {
        info: info(facts)?,
        cert,
        sign_alg: SM2_WITH_SM3,
        signed_value: BitString::from_bytes(&signature).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)
}

/// Checks an SES_Seal's signature with the seal maker's key: the TBS part is taken from the
/// encoding as it is (the first three elements), so any byte changed in it fails.
pub fn verify(der_bytes: &[u8], maker: &SealPublicKey) -> std::result::Result<(), Rejection> {
    let outer = der::asn1::AnyRef::from_der(der_bytes).map_err(|_| Rejection::Malformed)?;
    let mut reader = der::SliceReader::new(outer.value()).map_err(|_| Rejection::Malformed)?;
    let mut tbs_body = Vec::new();
    for _ in 0..3 {
        let any = der::asn1::AnyRef::decode(&mut reader).map_err(|_| Rejection::Malformed)?;
        any.encode_to_vec(&mut tbs_body)
            .map_err(|_| Rejection::Malformed)?;
    }
    let signed = BitString::decode(&mut reader).map_err(|_| Rejection::Malformed)?;
    let signature = signed.as_bytes().ok_or(Rejection::Malformed)?;
    #[derive(Sequence)]
    struct Rs<'a> {
        r: UintRef<'a>,
        s: UintRef<'a>,
    }
    let rs = Rs::from_der(signature).map_err(|_| Rejection::Malformed)?;
    let mut raw = [0u8; 64];
    for (part, at) in [(rs.r.as_bytes(), 0), (rs.s.as_bytes(), 32)] {
        if part.len() > 32 {
            return Err(Rejection::Malformed);
        }
        raw[at + 32 - part.len()..at + 32].copy_from_slice(part);
    }
    let tbs = der::asn1::AnyRef::new(der::Tag::Sequence, &tbs_body)
        .and_then(|a| a.to_der())
        .map_err(|_| Rejection::Malformed)?;
    maker.verify(&tbs, &raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::DEFAULT_SIGNER_ID;

    #[test]
    fn an_ses_seal_encodes_and_verifies_with_its_maker_only() {
        let (maker, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let (seal, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let public = seal.public_hex();
        let facts = SealFacts {
            code: "37020000000001",
            name: "青岛市市场监督管理局电子证照专用章",
            public_hex: &public,
            created: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            valid_until: chrono::DateTime::from_timestamp(1_940_000_000, 0).unwrap(),
            picture_svg: "<svg/>",
        };
        let der_bytes = encode(&facts, &maker).unwrap();
        assert_eq!(der_bytes[0], 0x30, "a SEQUENCE");
        let text = String::from_utf8_lossy(&der_bytes);
        assert!(text.contains("ES") && text.contains("37020000000001") && text.contains("<svg/>"));
        assert!(text.contains("青岛市市场监督管理局电子证照专用章"));
        let maker_public = SealPublicKey::from_hex(&maker.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(verify(&der_bytes, &maker_public), Ok(()));
        let other = SealPublicKey::from_hex(&public, DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(verify(&der_bytes, &other), Err(Rejection::BadSignature));
        // A changed byte in the seal's information.
        let at = text.find("37020000000001").unwrap();
        let mut forged = der_bytes.clone();
        forged[at] = b'9';
        assert_eq!(verify(&forged, &maker_public), Err(Rejection::BadSignature));
        assert_eq!(
            verify(b"\x30\x00", &maker_public),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn spki_is_the_sm2_public_key_structure() {
        let (k, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let der_bytes = spki(&k.public_hex()).unwrap();
        // SEQUENCE { SEQUENCE { ecPublicKey, sm2 }, BIT STRING 04… } — 91 bytes for P-256-sized keys.
        assert_eq!(der_bytes.len(), 91);
        assert_eq!(
            &der_bytes[der_bytes.len() - 65..der_bytes.len() - 64],
            &[0x04]
        );
    }
}
