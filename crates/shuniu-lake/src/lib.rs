//! placeholder
pub use datafusion;
pub use deltalake;
