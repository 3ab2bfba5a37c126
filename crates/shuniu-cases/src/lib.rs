//! Integrated services (一件事一次办): a citizen or an enterprise applies once and the items
//! of several departments follow, pre-filled from what the government already holds; or a
//! life event (a death registration) opens the follow-up work in every department that must
//! act, nobody applying.
//!
//! - `definition.rs`: a service — its form, materials (and how each is satisfied without
//!   paper), steps of several departments with their order, conditions and deadlines —
//!   checked whole.
//! - `bpmn.rs`: the steps from and to BPMN 2.0 XML (tasks, parallel and exclusive gateways,
//!   timer boundary events, lanes), with a diagram, so definitions open in common modelers.
//! - `engine.rs`: `Cases` — the durable case engine: cases and steps in the control plane,
//!   automatic steps through an outbox recorded exactly once, compensations, incidents,
//!   working-day timers, event-triggered cases, the department queues and the statistics;
//!   results issued as e-licences through the licence engine.
//! - `uploads.rs`: the materials only an upload satisfies, checked by kind and sealed at rest
//!   in the data directory.
//!
//! Invariants: every state change is one transaction of conditional updates (a step moves
//! once, whoever else tries); a case runs the definition version it opened on; an automatic
//! step's effect is recorded in the transaction that completes it, once per (case, step,
//! action); the applicant's form is sealed at rest and cases name people by the audit's
//! subject digest.

pub mod bpmn;
pub mod definition;
pub mod engine;
mod error;
pub mod uploads;

pub use definition::{
    Applicant, Before, FormField, Issue, Material, MaterialSource, ResultHolder, ServiceDefinition,
    Step, Trigger, When,
};
pub use engine::{
    CaseDetail, CaseMaterial, CaseResult, CaseSubject, Cases, Decision, MaterialFile, Resolution,
    ServiceStats, ServiceSummary, UploadShown, handler_of,
};
pub use error::CasesError;
pub use uploads::{MAX_UPLOAD_BYTES, UploadRef};
