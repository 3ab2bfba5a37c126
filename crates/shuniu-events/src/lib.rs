//! City events (一网统管): a problem reported through the 12345 hotline, by a grid inspector,
//! a sensor or camera, an indicator alert, or any Open311 client becomes an event that is
//! classified, located, dispatched to the department or street office responsible, handled,
//! verified and closed within its deadline — or escalated.
//!
//! - `model.rs`: states and the actions that move them, urgency, channels, points and districts.
//! - `classify.rs`: the category suggested from the text (naive Bayes over character bigrams,
//!   learned from classified events).
//! - `engine.rs`: `Events` — categories and dispatch rules, intake (located, classified,
//!   merged with a duplicate nearby, dispatched by rule), the handling steps, deadlines in
//!   working hours with reminders and escalation, the assessment figures, Open311 keys.
//! - `intake.rs`: photos, the registry of cameras and sensors and their signed alerts, the
//!   12345 hotline's batch export.
//!
//! Invariants: an event moves only along `model::next`; every step is a row of its history
//! and an audit entry; the reporter's identity is sealed and shown only to those who need it.

mod error;

pub mod classify;
pub mod engine;
pub mod intake;
pub mod model;

pub use engine::{
    ActInput, CategoryInput, EventJson, EventView, Events, HotSpot, Report, Statistics, StepJson,
};
pub use error::EventError;
pub use intake::{
    Alert, DeviceInput, DeviceView, ImportReport, NewDevice, Photo, RowProblem, sign_alert,
};
pub use model::{Channel, EventAction, EventState, Point, Urgency};

pub type Result<T, E = EventError> = std::result::Result<T, E>;
