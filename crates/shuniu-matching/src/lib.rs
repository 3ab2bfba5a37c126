//! Proactive policy matching (免申即享、惠企通): a department writes a benefit or subsidy
//! policy as rules over the person and enterprise libraries, and the hub finds everyone who
//! qualifies without anyone applying.
//!
//! - `parameters.rs`: parameters with dated values, each with its legal reference; a policy
//!   evaluated for a period uses the values in force then.
//! - `rules.rs`: the rule language officers read (Chinese labels and operators, decision tables
//!   for graded amounts), checked when saved and compiled to one SQL expression over the
//!   target's table, evaluated by DataFusion over every subject at once.
//! - `vocabulary.rs`: the attributes a library offers, from its catalog entry's data items.
//! - `engine.rs`: `Matching` — a policy evaluated over its target's base library, audited.
//! - `trace.rs`: why one subject does or does not qualify — each condition, the values it read
//!   with their sources and versions, the parameters with their legal references.
//! - `lists.rs`: eligible lists kept per month, refreshed for changed subjects only, confirmed,
//!   exported as payment instructions, their payments recorded, their subjects notified.
//! - `policy.rs`: a policy (document, target, period in force, conditions with their articles,
//!   amount, parameters), checked field by field and planned into one query for a day.
//!
//! Invariants: a compiled rule reads only the attributes its vocabulary offers (their SQL comes
//! from the vocabulary, never from the officer's text) and every parameter at the value in
//! force on the evaluated day; a rule that names anything else is refused with a code.

mod error;

pub mod engine;

pub mod lists;
pub mod parameters;
pub mod policy;
pub mod rules;
pub mod trace;
pub mod vocabulary;

pub use engine::{Matching, PolicySummary, Totals};
pub use error::{MatchingError, RuleError};
pub use parameters::{DatedValue, ParamValue, Parameter};
pub use policy::{Amount, Condition, Plan, PolicyInput, TargetKind};
pub use rules::{Attribute, Compiled, TableRow, Type, Vocabulary};
pub use trace::{Subject, Trace, TracedCondition, TracedParameter, TracedValue};
