//! Scenarios: a described world and what happens to it, generated in the
//! real wire formats so that vigie's own ingesters, detector and reports can
//! be run end to end against a known ground truth (`vigie demo`, and the
//! end-to-end tests).
//!
//! - [`model`]: the TOML scenario file ([`Scenario::parse`]): one country,
//!   its networks (AS, real prefixes, fixed or mobile, region, traffic
//!   share), local time zone, diurnal and weekly traffic curves in local
//!   time, noise, BGP churn, probe responsiveness; events with windows
//!   (blackout, data-plane blocking with routes up, throttling to x%, BGP
//!   update bursts) limited to mobile or fixed networks, some ASes or some
//!   regions, with restoration windows and daily repetition; and the
//!   ground truth.
//! - [`world`]: the state of each network at each time, which every
//!   generator asks, and the seeded random generator.
//! - [`mrt`]: a RIB dump and daily update files (bgpkit-parser's encoders).
//! - [`traffic`]: IPFIX export datagrams in a pcap, and an nginx access log.
//! - [`probe`]: a hitlist, and a simulated network answering
//!   vigie-probe's own engine with real ICMP echo replies.
//! - [`generate`](generate()): all of them into a folder, plus geo tables
//!   for `--geo` and the labels JSON for `vigie eval --labels`.
//! - [`clock`]: times as a reporter writes them, in UTC and local time.
//! - [`builtin`]: the scenarios shipped in the binary (`kazakhstan-2022`,
//!   `egypt-2011`, `iraq-exams`).
//!
//! Same scenario, same seed: same bytes.
//!
//! ```
//! let scenario = vigie_scenario::builtin::load("kazakhstan-2022").unwrap();
//! assert_eq!(scenario.world.country.as_str(), "KZ");
//! // 2022-01-05T10:30:00Z is 16:30 in Almaty.
//! assert_eq!(scenario.world.utc_offset_secs, 6 * 3600);
//! ```

#![warn(missing_docs)]

use std::path::Path;

pub mod builtin;
pub mod clock;
pub mod generate;
pub mod model;
pub mod mrt;
pub mod probe;
pub mod traffic;
pub mod world;

pub use generate::{generate, labels_json, Generated, Progress};
pub use model::{
    Event, EventKind, Network, NetworkFilter, NetworkKind, Scenario, ScenarioError, Truth, Window,
    World,
};
pub use probe::simulate_probing;

/// Why a generator failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// An encoder refused a record.
    #[error("cannot encode {0}")]
    Encode(String),
}

impl GenerateError {
    fn io(path: &Path, source: std::io::Error) -> GenerateError {
        GenerateError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
