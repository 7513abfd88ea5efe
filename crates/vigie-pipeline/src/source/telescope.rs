//! `kind = "telescope"`: a live darknet interface (Linux, CAP_NET_RAW) →
//! unique source IPs per entity, after the telescope's filters.

use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use vigie_geo::GeoDb;
use vigie_model::BinSink;
use vigie_traffic::live_capture::{run_live_telescope, LiveCapture};
use vigie_traffic::telescope::Telescope;

use super::{Source, SourceContext, Stop};
use crate::parse_prefixes;

/// Seconds a telescope bin stays open after it ends.
const GRACE_SECS: i64 = 5;

/// The keys of a `telescope` source.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TelescopeConfig {
    /// The interface the darknet's traffic arrives on.
    pub interface: String,
    /// The dark prefixes; none takes every destination as dark.
    #[serde(default)]
    pub darknet: Vec<String>,
    /// The store's name for its bins.
    #[serde(default = "default_source")]
    pub source: String,
}

fn default_source() -> String {
    "telescope".into()
}

/// A darknet capture, open, ready to run.
pub struct TelescopeSource {
    interface: String,
    source: String,
    capture: LiveCapture,
    telescope: Telescope,
}

impl Source for TelescopeSource {
    const KIND: &'static str = "telescope";
    type Config = TelescopeConfig;

    /// Opens the capture, so a missing interface or CAP_NET_RAW stops the start.
    fn build(config: TelescopeConfig, context: &SourceContext) -> Result<Self> {
        let darknet = parse_prefixes(&config.darknet, "darknet")?;
        let capture = LiveCapture::open(&config.interface, Duration::from_millis(200))?;
        Ok(TelescopeSource {
            telescope: Telescope::new(GeoDb::clone(&context.geo), context.bin, darknet),
            interface: config.interface,
            source: config.source,
            capture,
        })
    }

    fn store_source(&self) -> String {
        self.source.clone()
    }

    fn run(mut self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        eprintln!(
            "vigie serve: telescope capturing on {} as source {}",
            self.interface, self.source
        );
        run_live_telescope(
            &mut self.capture,
            &mut self.telescope,
            GRACE_SECS,
            stop,
            None,
            sink,
        )?;
        Ok(())
    }
}
