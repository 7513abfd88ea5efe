//! `vigie ingest pcap`: packet captures → telescope signals (unique
//! darknet sources per entity), or replayed flow exports → flow signals.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use vigie_model::{BinSink, BinSize, SignalBin};
use vigie_traffic::capture::{read_capture, udp_datagram};
use vigie_traffic::flow::pipeline::FlowPipeline;
use vigie_traffic::telescope::Telescope;

use super::{load_geo, open_store, EXIT_PARTIAL_INPUT};
use crate::cli::{IngestPcapArgs, PcapMode};

/// Parses prefixes given on the command line, naming the flag on error.
pub fn parse_prefixes(texts: &[String], flag: &str) -> Result<Vec<IpNet>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
                .with_context(|| format!("{flag} {t}: not a prefix like 192.0.2.0/24"))
        })
        .collect()
}

/// Reads the captures and writes closed bins.
pub fn run(data_dir: &Path, args: IngestPcapArgs) -> Result<ExitCode> {
    let bin = BinSize::new(args.bin_secs).context("bad --bin-secs")?;
    let geo = load_geo(&args.geo)?;
    let prefixes = parse_prefixes(&args.prefixes, "--prefix")?;
    let mut store = open_store(data_dir)?;
    let source = args.source.clone().unwrap_or_else(|| match args.mode {
        PcapMode::Telescope => "telescope".to_string(),
        PcapMode::Flows => "flows".to_string(),
    });
    let mut all_bins: Vec<SignalBin> = Vec::new();
    let mut damaged = Vec::new();
    match args.mode {
        PcapMode::Telescope => {
            let mut telescope = Telescope::new(geo, bin, prefixes);
            for path in &args.files {
                let summary = read_capture(path, |frame| {
                    telescope.add_frame(frame.timestamp_secs, frame.link, &frame.data)
                })?;
                damaged.extend(summary.truncated);
            }
            all_bins.extend(telescope.close_all());
            let stats = telescope.stats();
            eprintln!("{} packets, {} kept", stats.packets, stats.kept);
            for (reason, n) in &stats.dropped {
                eprintln!("  dropped by {}: {n}", reason.name());
            }
        }
        PcapMode::Flows => {
            let mut pipeline = FlowPipeline::new(geo, bin, prefixes);
            let mut not_udp = 0u64;
            for path in &args.files {
                let summary =
                    read_capture(path, |frame| match udp_datagram(frame.link, &frame.data) {
                        Some(udp) => {
                            pipeline.ingest(udp.src, frame.timestamp_secs, udp.payload);
                        }
                        None => not_udp += 1,
                    })?;
                damaged.extend(summary.truncated);
            }
            all_bins.extend(pipeline.close_all());
            if not_udp > 0 {
                eprintln!("{not_udp} frames were not UDP datagrams (skipped)");
            }
            for (exporter, h) in pipeline.health() {
                eprintln!(
                    "exporter {exporter}: {} datagrams, {} records, {} decode errors, {} template misses, {} bad sampling rates",
                    h.datagrams, h.records, h.decode_errors, h.template_misses, h.bad_sampling_rates
                );
            }
        }
    }
    if all_bins.is_empty() && damaged.is_empty() {
        bail!("no packet was counted; check the capture and --prefix");
    }
    let mut sink = store.sink(&source);
    for closed in &all_bins {
        sink.write(closed)?;
    }
    eprintln!("{} bins written as source {source}", all_bins.len());
    if !damaged.is_empty() {
        for d in &damaged {
            eprintln!("warning: {d}");
        }
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
