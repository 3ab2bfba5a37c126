//! Credentials: argon2id password hashes for console users, random session and CSRF
//! tokens, and API keys for applications. Secrets are never stored: passwords as argon2id
//! PHC strings, session tokens and API keys as SM3 digests (they are 256-bit random values,
//! so a fast hash is enough and lookups stay indexable).
//!
//! [`accounts::Accounts`] is the directory built on them: departments (city → district),
//! users, console sessions and API applications, all stored in the control plane.
//!
//! Architecture invariant: this crate establishes who an actor is; `shuniu-policy` decides
//! what the actor may do. Administrative changes here ask the policy module first.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub mod accounts;
pub mod oidc;
use sm3::{Digest, Sm3};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("password too weak: {0}")]
    WeakPassword(&'static str),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Hash(_) => "AUTH_HASH",
            AuthError::Random(_) => "AUTH_RANDOM",
            AuthError::WeakPassword(_) => "AUTH_WEAK_PASSWORD",
        }
    }
}

impl shuniu_types::Classified for AuthError {
    fn problem(&self) -> shuniu_types::Problem {
        match self {
            AuthError::WeakPassword(why) => shuniu_types::Problem::new(
                shuniu_types::ErrorKind::Invalid,
                self.code(),
                format!("密码强度不够：{why}"),
                self.to_string(),
            ),
            _ => shuniu_types::Problem::internal(self.code(), self),
        }
    }
}

/// Prefix that makes a Shuniu API key recognisable (e.g. to secret scanners).
pub const API_KEY_PREFIX: &str = "snk_";

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(b)
}

/// A new random token (session, CSRF): 256 bits, hex.
pub fn random_token() -> Result<String, AuthError> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// SM3 digest of a secret token or key, hex; what the store keeps.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sm3::digest(token.as_bytes()))
}

/// A freshly minted API key: the key is shown to the user once, only its digest is stored.
pub struct NewApiKey {
    pub key: String,
    pub prefix: String,
    pub digest: String,
}

pub fn new_api_key() -> Result<NewApiKey, AuthError> {
    let key = format!("{API_KEY_PREFIX}{}", hex::encode(random_bytes::<24>()?));
    Ok(NewApiKey {
        prefix: key[..API_KEY_PREFIX.len() + 6].to_string(),
        digest: token_digest(&key),
        key,
    })
}

/// Minimal strength rule: 10 characters, and not only digits or only letters.
pub fn check_password_strength(pw: &str) -> Result<(), AuthError> {
    if pw.chars().count() < 10 {
        return Err(AuthError::WeakPassword("at least 10 characters"));
    }
    if pw.chars().all(|c| c.is_ascii_digit()) || pw.chars().all(char::is_alphabetic) {
        return Err(AuthError::WeakPassword(
            "mix letters with digits or symbols",
        ));
    }
    Ok(())
}

/// argon2id with the crate's default (OWASP-recommended) parameters.
pub fn hash_password(pw: &str) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// True if `pw` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(pw.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_published_vectors() {
        // GB/T 32905-2016 appendix A.
        assert_eq!(
            token_digest("abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            token_digest(&"abcd".repeat(16)),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn passwords() {
        let h = hash_password("Qingdao-2026").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Qingdao-2026", &h));
        assert!(!verify_password("qingdao-2026", &h));
        assert!(!verify_password("Qingdao-2026", "not a hash"));
        assert!(check_password_strength("1234567890").is_err());
        assert!(check_password_strength("short1").is_err());
        assert!(check_password_strength("Qingdao-2026").is_ok());
    }

    #[test]
    fn api_keys_are_unique_and_only_digests_are_kept() {
        let a = new_api_key().unwrap();
        let b = new_api_key().unwrap();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(API_KEY_PREFIX));
        assert_eq!(a.digest, token_digest(&a.key));
        assert!(!a.digest.contains(&a.key[4..]));
        assert!(a.key.starts_with(&a.prefix));
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
