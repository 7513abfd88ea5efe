//! The live collectors of `vigie collect`, writing to the store until
//! Ctrl-C, SIGTERM or a duration: flows over UDP ([`collect_flows`]) and a
//! live darknet interface ([`collect_telescope`]).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{format_utc, BinSize, WindowedSink, LIVE_MARGIN_SECS};
use vigie_store::Store;
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::limits::FlowLimits;
use vigie_traffic::flow::pipeline::FlowPipeline;
use vigie_traffic::live_capture::{run_live_telescope, LiveCapture};
use vigie_traffic::telescope::Telescope;

use crate::LoggedSink;

/// What a collector tells at its end.
pub struct CollectReport {
    /// The summary lines, in order.
    pub messages: Vec<String>,
    /// Some input was bad or undecodable.
    pub damaged: bool,
}

/// A flow collector's settings (`vigie collect flows`).
pub struct FlowCollectOptions {
    /// UDP addresses (NetFlow/IPFIX and sFlow alike).
    pub listen: Vec<SocketAddr>,
    /// The operator's own prefixes.
    pub own_prefixes: Vec<IpNet>,
    /// The bin width.
    pub bin: BinSize,
    /// A bin is written this many seconds after it ends.
    pub grace_secs: i64,
    /// Records with a larger sampling rate are dropped and counted as bad.
    pub max_sampling_rate: u32,
    /// Stop after this long (`None`: until Ctrl-C or SIGTERM).
    pub run_for: Option<Duration>,
    /// The store's name for the bins.
    pub source: String,
    /// Exporters allowed, caps on exporters, templates and fields, and the
    /// link ceiling.
    pub limits: FlowLimits,
}

/// Collects flows into the store under `options.source`, telling on stderr
/// the addresses listened on and, with each bin, every exporter's health.
pub fn collect_flows(
    store: &mut Store,
    options: FlowCollectOptions,
    geo: GeoDb,
) -> Result<CollectReport> {
    let decoder = FlowDecoder::new().with_max_sampling_rate(options.max_sampling_rate);
    let mut pipeline =
        FlowPipeline::new(geo, options.bin, options.own_prefixes).with_decoder(decoder);
    let config = CollectorConfig {
        listen: options.listen,
        grace_secs: options.grace_secs,
        run_for: options.run_for,
        limits: options.limits,
    };
    let stop = vigie_traffic::signal::stop_on_signals();
    run_collector(
        &config,
        &mut pipeline,
        stop,
        |addrs| {
            for a in addrs {
                eprintln!("listening on udp {a}");
            }
        },
        &mut WindowedSink::live(
            &mut LoggedSink::new(store.sink(&options.source), true),
            LIVE_MARGIN_SECS,
        ),
        |pipeline| {
            // Health with every bin: a silent or failing exporter shows at once.
            for notice in pipeline.take_feed_notices() {
                eprintln!("{notice}");
            }
            for (exporter, h) in pipeline.health() {
                eprintln!(
                    "  exporter {exporter}: last packet {}, {} records, {} decode errors, {} template misses, {} bad sampling rates",
                    h.last_packet_at.map(format_utc).unwrap_or_else(|| "-".into()),
                    h.records,
                    h.decode_errors,
                    h.template_misses,
                    h.bad_sampling_rates
                );
            }
        },
    )
    .context("the flow collector stopped")?;
    let stats = pipeline.stats();
    let mut messages = vec![format!(
        "done: {} records counted, {} internal (both ends in --own-prefix), {} late",
        stats.records, stats.internal_records, stats.late_records
    )];
    let mut damaged = stats.implausible_records > 0;
    if stats.implausible_records > 0 {
        messages.push(format!(
            "{} records beyond what a link can carry (the exporter's link ceiling) counted as implausible, not stored",
            stats.implausible_records
        ));
    }
    if stats.silent_feed_gaps > 0 {
        messages.push(format!(
            "{} entity bins left without data (not zeros) while every exporter that fed the entity was silent",
            stats.silent_feed_gaps
        ));
    }
    let limits = pipeline.limit_stats();
    if limits != Default::default() {
        messages.push(format!(
            "limits: {} datagrams refused (exporter not allowed), {} exporters and {} templates forgotten, \
             {} templates over the per-exporter cap, {} templates with too many fields, {} datagrams summed as other exporters",
            limits.refused_datagrams,
            limits.evicted_exporters,
            limits.evicted_templates,
            limits.templates_over_cap,
            limits.oversized_templates,
            limits.untracked_datagrams
        ));
    }
    damaged |= limits.templates_over_cap > 0 || limits.oversized_templates > 0;
    for (exporter, h) in pipeline.health() {
        damaged |= h.decode_errors > 0 || h.template_misses > 0 || h.bad_sampling_rates > 0;
        messages.push(format!(
            "exporter {exporter}: last packet {}, {} datagrams, {} records, {} decode errors, {} template misses, {} bad sampling rates, {} records without IP addresses{}",
            h.last_packet_at.map(format_utc).unwrap_or_else(|| "-".into()),
            h.datagrams,
            h.records,
            h.decode_errors,
            h.template_misses,
            h.bad_sampling_rates,
            h.records_without_addresses,
            h.last_error
                .as_ref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        ));
    }
    Ok(CollectReport { messages, damaged })
}

/// A live telescope's settings (`vigie collect telescope`).
pub struct TelescopeCollectOptions {
    /// The interface the darknet's traffic arrives on.
    pub interface: String,
    /// The dark prefixes; none takes every destination as dark.
    pub darknet: Vec<IpNet>,
    /// The bin width.
    pub bin: BinSize,
    /// A bin is written this many seconds after it ends.
    pub grace_secs: i64,
    /// Stop after this long (`None`: until Ctrl-C or SIGTERM).
    pub run_for: Option<Duration>,
    /// The store's name for the bins.
    pub source: String,
}

/// Captures on a live darknet interface into the store under
/// `options.source`; `opened` hears the interface once capture starts.
pub fn collect_telescope(
    store: &mut Store,
    options: TelescopeCollectOptions,
    geo: GeoDb,
    opened: impl FnOnce(&str),
) -> Result<CollectReport> {
    let mut capture = LiveCapture::open(&options.interface, Duration::from_millis(200))?;
    opened(capture.interface());
    let mut telescope = Telescope::new(geo, options.bin, options.darknet);
    let stop = vigie_traffic::signal::stop_on_signals();
    let mut logged = LoggedSink::new(store.sink(&options.source), true);
    let mut sink = WindowedSink::live(&mut logged, LIVE_MARGIN_SECS);
    run_live_telescope(
        &mut capture,
        &mut telescope,
        options.grace_secs,
        &stop,
        options.run_for,
        &mut sink,
    )?;
    let stats = telescope.stats();
    let dropped: Vec<String> = stats
        .dropped
        .iter()
        .map(|(reason, n)| format!("{n} {}", reason.name()))
        .collect();
    let dropped = if dropped.is_empty() {
        "none".to_string()
    } else {
        dropped.join(", ")
    };
    Ok(CollectReport {
        messages: vec![format!(
            "done: {} packets, {} kept; dropped: {dropped}",
            stats.packets, stats.kept
        )],
        damaged: false,
    })
}
