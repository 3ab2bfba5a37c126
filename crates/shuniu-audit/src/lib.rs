//! The hub's audit log (流通监测): every data access and administrative action, in one
//! append-only log that the operator cannot rewrite without detection.
//!
//! - [`merkle`]: RFC 9162's Merkle tree with SM3, proofs and their verification.
//! - [`sign`]: SM2-signed tree heads.
//! - [`storage`]: the storage trait; [`segment`] files (default) and [`database`] (PostgreSQL).
//! - [`log`]: the running log — one writer group-committing entries with a signed checkpoint
//!   per durable write, the tree kept for proofs, published heads, the derived index.
//! - [`verify`]: checks storage against signed heads and names the first entry that fails.
//!
//! Architecture invariant: an entry is acknowledged only after the write holding it and a
//! signed checkpoint over it is durable. Verification trusts nothing but the public key.

pub mod database;
pub mod entry;
pub mod error;
mod files;
pub mod log;
pub mod merkle;
pub mod segment;
pub mod sign;
pub mod storage;
pub mod verify;
pub mod views;

pub use database::DatabaseStorage;
pub use entry::{Entry, Kind, SubjectKey};
pub use error::{AuditError, Result};
pub use log::{AuditLog, ConsistencyProof, InclusionProof, audit_dir, published_heads};
pub use segment::SegmentStorage;
pub use sign::{PublicKey, SignedTreeHead, Signer};
pub use storage::LogStorage;
pub use verify::{Problem, VerifyOptions, VerifyReport, verify};
pub use views::{Traceability, ViewError};

#[cfg(test)]
mod tests;
