//! vigie's operations as a library (as Routinator's `operation`): what the
//! `vigie` binary's commands and `vigie demo` run, each taking a store
//! handle and typed options whose defaults are defined here once.
//!
//! - `detect`: batch detection over the store ([`detect_and_store`]):
//!   events per series, incidents per entity, for vigie's detector and
//!   IODA's published method.
//! - `scope`: which regions and ASes a country's incident affects
//!   ([`ScopeContext`]), for batch and live detection alike.

mod detect;
mod scope;

pub use detect::{detect_and_store, DetectOptions, DetectSummary, IODA_MEDIAN, VIGIE};
pub use scope::ScopeContext;
