//! `vigie ingest access-log`: nginx/Apache access logs → HTTP request and
//! unique-client-/24 signals in the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vigie_model::{BinSink, BinSize};
use vigie_traffic::access_log::{
    follow_file, open_log, read_lines, AccessLogAggregator, FollowOptions,
};

use super::{load_geo, open_store, LoggedSink, EXIT_PARTIAL_INPUT};
use crate::cli::IngestAccessLogArgs;

/// Reads the logs (or follows one) and writes closed bins.
pub fn run(data_dir: &Path, args: IngestAccessLogArgs) -> Result<ExitCode> {
    let bin = BinSize::new(args.bin_secs).context("bad --bin-secs")?;
    if !(0..=86_400).contains(&args.grace_secs) {
        anyhow::bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
    if args.follow && args.files.len() != 1 {
        bail!("--follow needs exactly one file");
    }
    let geo = load_geo(&args.geo)?;
    let mut store = open_store(data_dir)?;
    let mut aggregator = AccessLogAggregator::new(geo, bin, args.grace_secs);
    let mut sink = LoggedSink::new(store.sink(&args.source), args.follow);
    let files: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    if args.follow {
        let stop = vigie_traffic::signal::stop_on_signals();
        let options = FollowOptions {
            from_start: args.from_start,
            ..FollowOptions::default()
        };
        follow_file(&files[0], options, &mut aggregator, &stop, &mut sink)
            .map_err(anyhow::Error::msg)?;
    } else {
        for path in &files {
            let reader = open_log(path).map_err(anyhow::Error::msg)?;
            let name = path.display().to_string();
            read_lines(reader, &name, &mut aggregator, &mut sink).map_err(anyhow::Error::msg)?;
        }
        for bin in aggregator.close_all() {
            sink.write(&bin)?;
        }
    }
    let bins_written = sink.bins_written();
    let stats = aggregator.stats();
    eprintln!(
        "done: {} lines, {} requests counted in {bins_written} bins, {} bad lines, {} late lines",
        stats.lines, stats.requests, stats.bad_lines, stats.late_lines
    );
    for example in &stats.bad_line_examples {
        eprintln!("  bad line: {example}");
    }
    if stats.bad_lines > 0 || stats.late_lines > 0 {
        eprintln!("warning: some lines were skipped (exit code {EXIT_PARTIAL_INPUT}); is this the combined or common log format?");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
