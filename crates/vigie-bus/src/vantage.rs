//! Probing vantage points' block states on the bus.

/// Subject prefix of vantage points' block states: `vigie.vantage.<name>`.
pub const VANTAGE_PREFIX: &str = "vigie.vantage";
