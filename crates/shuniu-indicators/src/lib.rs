//! Indicators (城市大脑): the city's figures defined over the data the hub holds, computed on
//! schedule with their history kept, every value traced to the dataset versions it came from,
//! and bounds that raise alerts which reach the department responsible as city events.
//!
//! - `model.rs`: a definition (口径, query, grain, dimensions, schedule, bounds, targets) and
//!   its checks.
//! - `period.rs`: periods at a grain, and the periods 同比 and 环比 compare with.
//! - `values.rs`: the values table in the lake and the series read from it.
//! - `figures.rs`: the hub's own figures, recorded daily into `_hub_figures`, and the built-in
//!   indicators over them.
//! - `engine.rs`: `Indicators` — versions and their review, computation, alerts.
//!
//! Invariants: a value is written only with the run that produced it and the dataset versions
//! that run read; only a published version is computed; an alert is open at most once per
//! indicator, breakdown and bound, and every open alert has (or is about to get) an event.

mod error;

pub mod engine;
pub mod figures;
pub mod model;
pub mod period;
pub mod values;

pub use engine::{
    AlertView, IndicatorDetail, IndicatorSummary, Indicators, Range, RunOutcome, RunView, Saved,
    Trigger, VersionView, next_run,
};
pub use error::IndicatorError;
pub use figures::{FIGURES_TABLE, HubFigure};
pub use model::{Dimension, IndicatorInput, IndicatorSpec, Severity, Target, Thresholds};
pub use period::{Grain, Period};
pub use values::{SeriesPoint, SeriesQuery, VALUES_TABLE};

pub type Result<T, E = IndicatorError> = std::result::Result<T, E>;
