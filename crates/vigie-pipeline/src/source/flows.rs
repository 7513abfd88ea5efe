//! `kind = "flows"`: a UDP flow collector (NetFlow v5/v9, IPFIX, sFlow v5)
//! → bytes, packets and flows from and to each entity.

use std::net::SocketAddr;

use anyhow::{bail, Result};
use ipnet::IpNet;
use serde::Deserialize;
use vigie_geo::GeoDb;
use vigie_model::{BinSink, BinSize};
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;

use super::{Source, SourceContext, Stop};
use crate::parse_prefixes;

/// The keys of a `flows` source.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FlowsConfig {
    /// UDP addresses for NetFlow/IPFIX and sFlow, e.g. `["0.0.0.0:2055", "0.0.0.0:6343"]`.
    pub listen: Vec<SocketAddr>,
    /// The operator's own prefixes, so "from country X" and "to country X" mean something.
    #[serde(default)]
    pub own_prefixes: Vec<String>,
    /// Seconds a bin stays open for late records after it ends.
    #[serde(default = "default_grace")]
    pub grace_secs: i64,
    /// Sampling rates above this are treated as bad (records not scaled up).
    #[serde(default = "default_max_sampling_rate")]
    pub max_sampling_rate: u32,
    /// The store's name for its bins.
    #[serde(default = "default_source")]
    pub source: String,
}

fn default_grace() -> i64 {
    60
}

fn default_max_sampling_rate() -> u32 {
    1_000_000
}

fn default_source() -> String {
    "flows".into()
}

/// A flow collector ready to run.
pub struct FlowsSource {
    config: FlowsConfig,
    own: Vec<IpNet>,
    geo: GeoDb,
    bin: BinSize,
}

impl Source for FlowsSource {
    const KIND: &'static str = "flows";
    type Config = FlowsConfig;

    fn build(config: FlowsConfig, context: &SourceContext) -> Result<Self> {
        if config.listen.is_empty() {
            bail!("listen is empty: give at least one UDP address");
        }
        if !(0..=86_400).contains(&config.grace_secs) {
            bail!("grace_secs must be between 0 and 86400 (a day)");
        }
        let own = parse_prefixes(&config.own_prefixes, "own_prefixes")?;
        Ok(FlowsSource {
            config,
            own,
            geo: GeoDb::clone(&context.geo),
            bin: context.bin,
        })
    }

    fn store_source(&self) -> String {
        self.config.source.clone()
    }

    fn run(self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        let decoder = FlowDecoder::new().with_max_sampling_rate(self.config.max_sampling_rate);
        let mut pipeline = FlowPipeline::new(self.geo, self.bin, self.own).with_decoder(decoder);
        let config = CollectorConfig {
            listen: self.config.listen.clone(),
            grace_secs: self.config.grace_secs,
            run_for: None,
            limits: Default::default(),
        };
        run_collector(
            &config,
            &mut pipeline,
            stop.clone(),
            |addrs| {
                for a in addrs {
                    eprintln!("vigie serve: flow collector on udp {a}");
                }
            },
            sink,
            |pipeline| {
                for (exporter, h) in pipeline.health() {
                    if h.decode_errors > 0 || h.template_misses > 0 {
                        eprintln!(
                            "vigie serve: flow exporter {exporter}: {} decode errors, {} template misses so far",
                            h.decode_errors, h.template_misses
                        );
                    }
                }
            },
        )?;
        Ok(())
    }
}
