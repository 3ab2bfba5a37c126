//! Electronic licences (电子证照) and e-seals (电子印章).
//!
//! A department's licences are issued from the data the hub already holds, each signed with
//! the department's e-seal (an SM2 key pair), and shown by their holder as a QR code (亮证)
//! that anyone can verify offline against the lists the hub publishes and signs.
//!
//! - `seal.rs`: e-seal keys — SM2 with SM3 and a signer ID, key ids, `r || s` signatures.
//! - `ses.rs`: a seal's data in GB/T 38540's DER structure (SES_Seal v4), signed by the hub.
//! - `envelope.rs`: the QR envelope — CWT claims in COSE_Sign1, zlib, Base45, `SNL1:`.
//! - `lists.rs`: the trust list (every seal's public key and validity) and the W3C-style
//!   bitstring status lists (revocation, suspension) with a time to live, both signed by the
//!   hub's trust key.
//! - `verify.rs`: the offline verifier, naming why a licence fails.
//! - `credential.rs`: a licence as a W3C Verifiable Credential 2.0 with its status entries and
//!   a Data Integrity proof by the issuing seal (SM2 over JCS).
//! - `document.rs`: the licence document, one PDF page with the face, the seal, the QR code,
//!   and the credential attached.
//! - `engine.rs`: `Licences` — licence types, departments' seals (made, rotated), issuing from
//!   a resource's rows through its serving index (new, re-issued when the data changed,
//!   unchanged), suspension, restoration and revocation, the signed lists.
//!
//! Licence identifiers (GB/T 36904) and type codes (GB/T 36902) are domain types in
//! `shuniu-types`.
//!
//! Invariants: a private key never leaves this crate except sealed under the master key; an
//! envelope is signed only over what it carries (no field is shown that is not signed); a
//! verifier trusts nothing but the hub's key.

mod error;

pub mod credential;
pub mod document;
pub mod engine;
pub mod envelope;
pub mod lists;
pub mod qr;
pub mod seal;
pub mod ses;
pub mod verify;

pub use engine::{IssueReport, LicenceTypeInput, Licences, StateChange};
pub use error::{LicenceError, Rejection};

pub type Result<T, E = LicenceError> = std::result::Result<T, E>;
