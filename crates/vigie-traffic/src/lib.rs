//! Traffic signals: flow records, HTTP access logs and telescope captures.
//!
//! Being written; see ARCHITECTURE.md.

#![warn(missing_docs)]

pub mod access_log;
pub mod bins;
pub mod capture;
pub mod flow;
pub mod ratelog;
pub mod signal;
pub mod telescope;
