//! `vigie collect telescope`: a live darknet interface → unique source IPs
//! per entity (the telescope signal), written bin by bin.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use vigie_traffic::live_capture::{run_live_telescope, LiveCapture};
use vigie_traffic::telescope::Telescope;

use super::open_store;
use crate::cli::CollectTelescopeArgs;
use vigie_pipeline::LoggedSink;

/// Captures until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn run(data_dir: &Path, args: CollectTelescopeArgs) -> Result<ExitCode> {
    let bin = args.bin.bin;
    if !(0..=86_400).contains(&args.grace_secs) {
        anyhow::bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
    let darknet = vigie_pipeline::parse_prefixes(&args.darknet, "--darknet")?;
    let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
    let mut store = open_store(data_dir)?;
    let mut capture = LiveCapture::open(&args.interface, Duration::from_millis(200))?;
    eprintln!(
        "capturing on {} (darknet: {})",
        capture.interface(),
        if args.darknet.is_empty() {
            "every destination".to_string()
        } else {
            args.darknet.join(", ")
        }
    );
    let mut telescope = Telescope::new(geo, bin, darknet);
    let stop = vigie_traffic::signal::stop_on_signals();
    let mut sink = LoggedSink::new(store.sink(&args.source), true);
    run_live_telescope(
        &mut capture,
        &mut telescope,
        args.grace_secs,
        &stop,
        args.duration_secs.map(Duration::from_secs),
        &mut sink,
    )?;
    let stats = telescope.stats();
    let dropped: Vec<String> = stats
        .dropped
        .iter()
        .map(|(reason, n)| format!("{n} {}", reason.name()))
        .collect();
    eprintln!(
        "done: {} packets, {} kept; dropped: {}",
        stats.packets,
        stats.kept,
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
