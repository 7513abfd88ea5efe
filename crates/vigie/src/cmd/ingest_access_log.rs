//! `vigie ingest access-log`: nginx/Apache access logs → HTTP request and
//! unique-client-/24 signals in the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vigie_pipeline::{ingest_access_logs, AccessLogInput, AccessLogOptions};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::IngestAccessLogArgs;

/// Reads the logs (or follows one) and writes closed bins.
pub fn run(data_dir: &Path, args: IngestAccessLogArgs) -> Result<ExitCode> {
    let options = AccessLogOptions {
        bin: args.bin.bin,
        grace_secs: args.grace_secs,
        source: args.source.clone(),
    };
    options.check().context("--grace-secs")?;
    if args.follow && args.files.len() != 1 {
        bail!("--follow needs exactly one file");
    }
    let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
    let mut store = open_store(data_dir)?;
    let files: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    let stop;
    let input = if args.follow {
        stop = vigie_traffic::signal::stop_on_signals();
        AccessLogInput::Follow {
            path: &files[0],
            from_start: args.from_start,
            stop: &stop,
        }
    } else {
        AccessLogInput::Files(&files)
    };
    let report = ingest_access_logs(&mut store, input, &options, geo, args.follow)?;
    report.messages().iter().for_each(|m| eprintln!("{m}"));
    if report.skipped_lines() {
        eprintln!("warning: some lines were skipped (exit code {EXIT_PARTIAL_INPUT}); is this the combined or common log format?");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
