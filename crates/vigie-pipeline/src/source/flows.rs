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
use vigie_traffic::flow::limits::FlowLimits;
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
    /// Exporter addresses or prefixes whose datagrams are accepted; empty
    /// (the default) accepts every address.
    #[serde(default)]
    pub allowed_exporters: Vec<String>,
    /// Exporters whose templates are kept (default 1,024).
    #[serde(default = "default_max_exporters")]
    pub max_exporters: usize,
    /// Templates kept per exporter (default 64).
    #[serde(default = "default_max_templates")]
    pub max_templates_per_exporter: usize,
    /// Fields a template may have (default 128).
    #[serde(default = "default_max_fields")]
    pub max_fields_per_template: usize,
    /// The fastest link an exporter can account for, in Gbit/s (default
    /// 400); more in a bin is counted as implausible, not stored.
    #[serde(default = "default_max_link_gbps")]
    pub max_link_gbps: u64,
}

impl FlowsConfig {
    /// The collector's limits from these keys.
    pub fn limits(&self) -> Result<FlowLimits> {
        Ok(FlowLimits {
            allowed_exporters: parse_prefixes(&self.allowed_exporters, "allowed_exporters")?,
            max_exporters: self.max_exporters,
            max_templates_per_exporter: self.max_templates_per_exporter,
            max_fields_per_template: self.max_fields_per_template,
            max_link_bits_per_second: self.max_link_gbps.saturating_mul(1_000_000_000),
        })
    }
}

fn default_max_exporters() -> usize {
    FlowLimits::default().max_exporters
}

fn default_max_templates() -> usize {
    FlowLimits::default().max_templates_per_exporter
}

fn default_max_fields() -> usize {
    FlowLimits::default().max_fields_per_template
}

fn default_max_link_gbps() -> u64 {
    FlowLimits::default().max_link_bits_per_second / 1_000_000_000
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
    limits: FlowLimits,
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
        let limits = config.limits()?;
        Ok(FlowsSource {
            config,
            limits,
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
            limits: self.limits.clone(),
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
                for notice in pipeline.take_feed_notices() {
                    eprintln!("vigie serve: {notice}");
                }
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
