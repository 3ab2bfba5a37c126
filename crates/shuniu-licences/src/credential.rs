//! A licence as a W3C Verifiable Credential 2.0 (可验证凭证), for wallets and systems that speak
//! the W3C data model: the licence's fields as the credential subject, its two status list
//! entries (`BitstringStatusListEntry`, revocation and suspension, pointing at the lists the hub
//! publishes), and a Data Integrity proof made with the issuing department's e-seal.
//!
//! The proof follows the shape of the `eddsa-jcs-2022` cryptosuite with SM2 in place of EdDSA,
//! under a cryptosuite name of our own ([`CRYPTOSUITE`]): the proof options without
//! `proofValue` and the credential without `proof` are each canonicalized with JCS (RFC 8785)
//! and hashed with SM3; the two digests, options first, are signed with SM2 (SM3 with the
//! seal's signer ID); `proofValue` is the 64-byte `r || s` signature in multibase base64url
//! (`u…`). `verificationMethod` names the seal by its key id in the trust list.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::seal::{SealKey, SealPublicKey};
use crate::{LicenceError, Rejection, Result};

/// The cryptosuite name of the proof (private to this hub; documented in docs/licences.md).
pub const CRYPTOSUITE: &str = "shuniu-sm2-jcs-2026";

/// JCS (RFC 8785): object members sorted by their names' UTF-16 code units, no whitespace,
/// strings escaped as ECMAScript's `JSON.stringify` does. Integers are written as they are; the
/// credential carries no fractional numbers.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn sm3(bytes: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    sm3::Sm3::digest(bytes).into()
}

/// What the proof signs: SM3(JCS(options)) ‖ SM3(JCS(credential without proof)).
fn hash_data(options: &Value, unsecured: &Value) -> Vec<u8> {
    let mut data = sm3(canonical(options).as_bytes()).to_vec();
    data.extend_from_slice(&sm3(canonical(unsecured).as_bytes()));
    data
}

/// Adds the Data Integrity proof, signed with the seal, to an unsecured credential.
pub fn secure(
    mut credential: Value,
    key: &SealKey,
    verification_method: &str,
    created: chrono::DateTime<chrono::Utc>,
) -> Result<Value> {
    let Value::Object(map) = &mut credential else {
        return Err(LicenceError::Internal(
            "a credential is a JSON object".into(),
        ));
    };
    map.remove("proof");
    let mut options = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "@context": map.get("@context").cloned().unwrap_or(Value::Null),
    });
    let signature = key.sign(&hash_data(&options, &credential));
    if let Value::Object(o) = &mut options {
        o.remove("@context");
        o.insert(
            "proofValue".into(),
            Value::String(format!("u{}", URL_SAFE_NO_PAD.encode(signature))),
        );
    }
    if let Value::Object(map) = &mut credential {
        map.insert("proof".into(), options);
    }
    Ok(credential)
}

/// Checks a secured credential's proof with the seal's public key.
pub fn verify(credential: &Value, key: &SealPublicKey) -> std::result::Result<(), Rejection> {
    let Value::Object(map) = credential else {
        return Err(Rejection::Malformed);
    };
    let mut unsecured: Map<String, Value> = map.clone();
    let Some(Value::Object(proof)) = unsecured.remove("proof") else {
        return Err(Rejection::Malformed);
    };
    if proof.get("cryptosuite").and_then(Value::as_str) != Some(CRYPTOSUITE) {
        return Err(Rejection::Malformed);
    }
    let signature = proof
        .get("proofValue")
        .and_then(Value::as_str)
        .and_then(|v| v.strip_prefix('u'))
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .ok_or(Rejection::Malformed)?;
    let mut options = proof.clone();
    options.remove("proofValue");
    options.insert(
        "@context".into(),
        unsecured.get("@context").cloned().unwrap_or(Value::Null),
    );
    key.verify(
        &hash_data(&Value::Object(options), &Value::Object(unsecured)),
        &signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::DEFAULT_SIGNER_ID;

    #[test]
    fn jcs_matches_the_rfc_8785_examples() {
        // RFC 8785 §3.2.3: members sorted by UTF-16 code units (the emoji's surrogate pair
        // D83D DE00 sorts before U+FB33 though its code point is higher).
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","</script>":"Browser Challenge"}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(
            canonical(&json!({"b": [1, true, null], "a": "x\u{1}\n"})),
            "{\"a\":\"x\\u0001\\n\",\"b\":[1,true,null]}"
        );
    }

    #[test]
    fn a_secured_credential_verifies_with_its_seal_only() {
        let (key, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let vc = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": "urn:example",
            "credentialSubject": {"name": "张三"},
        });
        let secured = secure(vc, &key, "urn:kid", chrono::Utc::now()).unwrap();
        let public = SealPublicKey::from_hex(&key.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(verify(&secured, &public), Ok(()));
        assert!(
            secured["proof"]["proofValue"]
                .as_str()
                .unwrap()
                .starts_with('u')
        );
        // Any change to the subject or to the proof's options breaks it.
        let mut changed = secured.clone();
        changed["credentialSubject"]["name"] = json!("李四");
        assert_eq!(verify(&changed, &public), Err(Rejection::BadSignature));
        let mut changed = secured.clone();
        changed["proof"]["proofPurpose"] = json!("authentication");
        assert_eq!(verify(&changed, &public), Err(Rejection::BadSignature));
        let (other, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let stranger = SealPublicKey::from_hex(&other.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        assert_eq!(verify(&secured, &stranger), Err(Rejection::BadSignature));
    }
}
