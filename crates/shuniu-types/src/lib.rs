//! Domain types of Shuniu (数纽), the city public-data hub.
//!
//! Every value that crosses the hub's edge (an HTTP body, a form, an Excel row, a CLI flag)
//! is parsed into one of these types exactly once; everything inside the hub trusts them.
//! The national standards the hub depends on live here, each tested against its published
//! vectors: GB 11643 citizen ID numbers ([`IdNumber`]), GB 32100 unified social credit
//! codes ([`CreditCode`]), GB/T 2260 division codes ([`DivisionCode`]), and the catalog
//! vocabulary of GB/T 21063 and the 2017 catalog guideline ([`catalog`]).
//!
//! Architecture invariant: this crate does no I/O and knows nothing of storage, HTTP or
//! the console. It depends on serde, chrono and thiserror only.

pub mod address;
pub mod catalog;
pub mod codes;
pub mod division;
pub mod error;
pub mod event;
pub mod identity;
pub mod licence;
pub mod states;
pub mod text;
mod vocab;

pub use catalog::*;
pub use codes::{
    CreditCode, DivisionCode, IdNumber, MobileNumber, OrgCode, RegistrationNumber, Sex,
};
pub use error::{Classified, ErrorKind, FieldError, Localized, Problem};
pub use identity::*;
pub use licence::{LicenceId, LicenceTypeCode};
pub use vocab::Vocabulary;
