//! Live BGP inputs, all feeding the same [`VisibilityAccounting`] as MRT
//! ingestion through one event model:
//! - [`feed`]: [`LiveEvent`] (route changes, peer down, feed health) and the
//!   [`LiveDriver`] that applies events, closes bins on a wall-clock timer
//!   and publishes the open bin as provisional;
//! - [`session`]: a passive BGP speaker (routers peer with vigie);
//! - [`bmp`]: a BMP station (routers stream their peers' routes to vigie);
//! - [`ris_live`]: a RIPE RIS Live WebSocket client.
//!
//! [`VisibilityAccounting`]: crate::VisibilityAccounting

pub mod bmp;
pub mod feed;
pub mod ris_live;
pub mod session;

pub use bmp::{BmpConfig, BmpRouter, BmpStation, BmpStats, BmpTime};
pub use feed::{
    run_driver, system_clock, update_changes, Clock, DriverOptions, DriverStats, LiveDriver,
    LiveEvent, LiveObserver, LivePeer, RibLoader, RibReload, RouteChange, RIB_RELOAD,
};
pub use ris_live::{run_ris_live, RisLiveConfig, RisLiveStats, RisSubscription};
pub use session::{AllowedPeer, Speaker, SpeakerConfig, SpeakerStats};
