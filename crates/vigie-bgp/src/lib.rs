//! vigie's BGP signal: how much address space of each country, region and AS
//! the global routing table can reach, per time bin.
//!
//! One routing model, fed by interchangeable inputs:
//! - [`mrt`] reads RouteViews / RIPE RIS archives and any daemon's MRT dumps;
//! - [`live`] (cargo feature `live`, on by default): RIS Live, a passive BGP
//!   speaker and a BMP station feed the same [`VisibilityAccounting`].
//!
//! [`RoutingTable`] keeps per-peer state as an interned peer bitset per
//! prefix ([`peer_sets`]); [`VisibilityAccounting`] decides which peers are
//! full-feed and which prefixes are visible, as IODA does, and counts unique
//! visible /24s (IPv4) and /48s (IPv6) per entity, plus announcements and
//! withdrawals, closing one `vigie_model::SignalBin` per bin; the MRT
//! ingest and the live driver write them to a `vigie_model::BinSink`.

#[cfg(feature = "live")]
pub mod live;
pub mod mrt;
pub mod peer_sets;
pub mod routing;
pub mod visibility;

pub use routing::{CollectorIdx, PeerIdx, PrefixKey, RoutingTable};
pub use visibility::{FeedCoverage, OriginCountrySpace, VisibilityAccounting, VisibilityConfig};
