//! vigie over NATS JetStream: the bus between the roles of an observatory
//! spread over several machines.
//!
//! - [`codec`]: the bins' message encoding (versioned, documented there),
//!   their subjects and message ids. Always built; the rest needs the
//!   `client` feature (async-nats on a tokio runtime of its own).
//! - `bus.rs`: [`Bus`], one connection and the stream (created with
//!   limits retention: every durable consumer reads at its own pace).
//! - `sink.rs`: [`JetStreamSink`], the [`vigie_model::BinSink`] a source
//!   publishes through; a bin `write` accepted is stored on the server.
//! - `consume.rs`: durable pull consumers; [`store_bins`] writes bins to
//!   the store (`vigie bus store`), acknowledging after each commit.
//! - `detect.rs`: detection workers, each over a share of the entities,
//!   reading closed bins and writing incidents (`vigie bus detect`).
//! - `vantage.rs`: probing vantage points' block states on the bus and the
//!   quorum step that combines them into `probe-combined` bins
//!   (`vigie probe --publish`, `vigie bus quorum`).

pub mod codec;

#[cfg(feature = "client")]
mod bus;
#[cfg(feature = "client")]
mod consume;
#[cfg(feature = "client")]
pub mod detect;
#[cfg(feature = "client")]
mod sink;
#[cfg(feature = "client")]
pub mod testing;
#[cfg(feature = "client")]
pub mod vantage;

#[cfg(feature = "client")]
pub use bus::{stream_subjects, Bus, BusError, StreamSettings, DEFAULT_STREAM};
#[cfg(feature = "client")]
pub use consume::{store_bins, write_to_store, Consumer, ConsumerOptions, Handled, StoreReport};
#[cfg(feature = "client")]
pub use sink::{JetStreamSink, PublishTally};
