//! The shared vocabulary of vigie. Pure types, no I/O.
//!
//! Every other crate speaks in these terms:
//! - an [`Entity`] is what an outage happens to: a country (ISO 3166-1 alpha-2),
//!   an autonomous system, or a region (a country's subdivision);
//! - a [`SignalKind`] names one measurement of an entity, such as the number
//!   of visible /24 blocks in BGP;
//! - a [`BinSize`] cuts UTC time into aligned bins (5 minutes by default);
//! - a [`Series`] is one signal of one entity over consecutive bins, where a
//!   missing value ("no data") is distinct from zero;
//! - a [`SignalBin`] is what a source hands on when a bin closes: every
//!   series' value in that bin, into a [`BinSink`] (the store, or anything
//!   watching); [`ZeroFill`] holds the rule that an entity that had a value
//!   and falls silent reads 0;
//! - a [`TimeWindow`] says which times are plausible (1990 to a margin past
//!   now), and a [`WindowedSink`] applies it to every bin a source writes.

mod entity;
mod error;
mod plausible;
mod series;
mod signal;
mod signal_bin;
mod time;

pub use entity::{CountryCode, Entity, EntityKind, RegionId};
pub use error::ModelError;
pub use plausible::{
    clock_now, ImplausibleTime, TimeWindow, WindowedSink, ARCHIVE_MARGIN_SECS, EARLIEST_PLAUSIBLE,
    LIVE_MARGIN_SECS,
};
pub use series::{Series, SeriesKey};
pub use signal::{SignalFamily, SignalKind};
pub use signal_bin::{BinSink, Discard, FillId, SignalBin, SinkError, WriteOutcome, ZeroFill};
pub use time::{format_utc, parse_utc, BinSize, TimeRange, UnixSecs};
