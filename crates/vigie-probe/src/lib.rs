//! vigie's active prober: which IPv4 /24 blocks answer, Trinocular-style.
//!
//! Routes can stay up while a country is cut off (Kazakhstan, January 2022;
//! Iran, January 2026): probing the blocks themselves sees it. Following
//! Trinocular (Quan, Heidemann, Pradkin, SIGCOMM 2013) and IODA's prober,
//! vigie keeps a Bayesian belief per /24 that the block is up, probes each
//! block once per round (10 minutes by default) and adds probes only when
//! the answer is unclear.
//!
//! Map of the crate, in the order data flows:
//! - [`list`]: probe lists. A hitlist file or a discovery scan gives each
//!   block's responsive addresses and availability `A(E(b))`; the
//!   [`Eligibility`] rule keeps the blocks worth probing; lists are saved and
//!   loaded as text.
//! - [`safety`]: the [`TargetPolicy`] refusing private, reserved, multicast
//!   and loopback ranges unless allowed.
//! - [`belief`]: the belief per block ([`Belief`], [`BeliefParams`] with the
//!   paper's priors and thresholds, [`BlockState`] UP/DOWN/UNCERTAIN).
//! - [`icmp`]: echo requests with a keyed cookie, and the reply parser.
//! - [`rate`]: the [`TokenBucket`] send-rate cap.
//! - [`engine`]: the round logic without I/O ([`Engine`]): pacing, adaptive
//!   probes, timeouts, reply matching, [`RoundReport`].
//! - [`prober`]: the raw socket on tokio ([`IcmpSocket`], [`Prober`]) and
//!   the discovery scan ([`discover`]).
//! - [`signal`]: from block states to per-entity values (/24s UP per
//!   country, AS, region), written round after round as bins to a
//!   `vigie_model::BinSink` ([`RoundBins`]).
//! - `lab` (feature `lab`): a closed lab of network namespaces (a vantage
//!   point, a "country" behind a border) for the tests and the benchmark.
//! - [`quorum`]: combining several vantage points; a block is DOWN only
//!   when a quorum of them agrees.

#![warn(missing_docs)]

pub mod belief;
pub mod engine;
pub mod icmp;
#[cfg(feature = "lab")]
pub mod lab;
pub mod list;
pub mod prober;
pub mod quorum;
pub mod rate;
pub mod safety;
pub mod signal;

pub use belief::{Belief, BeliefParams, BlockState, NextStep};
pub use engine::{BlockChange, Engine, OutgoingProbe, PacketOutcome, RoundReport};
pub use list::{Eligibility, ListBuilder, ListReport, ProbeBlock, ProbeList};
pub use prober::{
    discover, discover_with_ceiling, discovery_targets, DiscoveryReport, IcmpSocket, ProbeError,
    Prober, ProberConfig,
};
pub use quorum::{combine_states, VantageStates};
pub use rate::{RateCeiling, TokenBucket, DEFAULT_MAX_RATE_PPS};
pub use safety::TargetPolicy;
pub use signal::{up_counts, RoundBins};
