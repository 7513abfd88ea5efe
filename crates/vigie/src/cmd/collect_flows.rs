//! `vigie collect flows`: a NetFlow v5/v9, IPFIX and sFlow v5 collector
//! writing per-entity flow signals to the store.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vigie_model::format_utc;
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::CollectFlowsArgs;
use vigie_pipeline::LoggedSink;

/// The store's name for this source's bins.
const SOURCE: &str = "flows";

/// Runs the collector until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn run(data_dir: &Path, args: CollectFlowsArgs) -> Result<ExitCode> {
    let bin = args.bin.bin;
    if !(0..=86_400).contains(&args.grace_secs) {
        anyhow::bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
    let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
    let own = vigie_pipeline::parse_prefixes(&args.own_prefixes, "--own-prefix")?;
    let mut listen = args.listen.clone();
    listen.extend(args.sflow_listen.iter().copied());
    if listen.is_empty() {
        anyhow::bail!("nothing to listen on: give --listen and/or --sflow-listen");
    }
    let mut store = open_store(data_dir)?;
    let decoder = FlowDecoder::new().with_max_sampling_rate(args.max_sampling_rate);
    let mut pipeline = FlowPipeline::new(geo, bin, own).with_decoder(decoder);
    let config = CollectorConfig {
        listen,
        grace_secs: args.grace_secs,
        run_for: args.duration_secs.map(std::time::Duration::from_secs),
        limits: Default::default(),
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
        &mut LoggedSink::new(store.sink(SOURCE), true),
        |pipeline| {
            // Health with every bin: a silent or failing exporter shows at once.
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
    eprintln!(
        "done: {} records counted, {} internal (both ends in --own-prefix), {} late",
        stats.records, stats.internal_records, stats.late_records
    );
    let mut damaged = false;
    for (exporter, h) in pipeline.health() {
        damaged |= h.decode_errors > 0 || h.template_misses > 0 || h.bad_sampling_rates > 0;
        eprintln!(
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
        );
    }
    if damaged {
        eprintln!("warning: some datagrams were bad or undecodable (see above; exit code {EXIT_PARTIAL_INPUT})");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
