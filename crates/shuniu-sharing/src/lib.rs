//! Sharing (供需对接) and the unified data service (统一数据服务).

pub mod calendar;
pub mod error;
pub mod serving;

pub use error::{Result, SharingError};
