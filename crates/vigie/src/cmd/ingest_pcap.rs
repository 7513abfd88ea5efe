//! `vigie ingest pcap`: packet captures → telescope signals (unique
//! darknet sources per entity), or replayed flow exports → flow signals.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use vigie_pipeline::ingest_captures;

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::IngestPcapArgs;

/// Reads the captures and writes closed bins.
pub fn run(data_dir: &Path, args: IngestPcapArgs) -> Result<ExitCode> {
    let bin = args.bin.bin;
    let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
    let prefixes = vigie_pipeline::parse_prefixes(&args.prefixes, "--prefix")?;
    let kind = args.mode;
    let source = args
        .source
        .clone()
        .unwrap_or_else(|| kind.default_source().to_string());
    let mut store = open_store(data_dir)?;
    let report = ingest_captures(&mut store, &args.files, kind, prefixes, bin, &source, geo)?;
    for note in &report.notes {
        eprintln!("{note}");
    }
    eprintln!("{} bins written as source {source}", report.bins);
    if !report.damaged.is_empty() {
        for d in &report.damaged {
            eprintln!("warning: {d}");
        }
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
