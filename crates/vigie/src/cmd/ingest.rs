//! `vigie ingest mrt`, `access-log` and `pcap`: map their flags onto
//! `vigie_pipeline`'s ingest operations (`ingest_mrt_archives`,
//! `ingest_access_logs`, `ingest_captures`) and print their reports (and,
//! for MRT, a progress bar).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use vigie_bgp::VisibilityConfig;
use vigie_model::format_utc;
use vigie_pipeline::{
    ingest_access_logs, ingest_captures, ingest_mrt_archives, load_geo, parse_prefixes,
    AccessLogInput, AccessLogOptions, MrtNotes, MrtOptions, MRT_SOURCE,
};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::{IngestAccessLogArgs, IngestMrtArgs, IngestPcapArgs};

/// Runs `vigie ingest mrt`.
pub fn mrt(data_dir: &Path, args: IngestMrtArgs) -> Result<ExitCode> {
    let options = MrtOptions {
        visibility: VisibilityConfig {
            bin: args.bin.bin,
            full_feed_v4: args.full_feed_v4,
            full_feed_v6: args.full_feed_v6,
            min_visible_fraction: args.visible_fraction,
            max_silence_secs: args.max_silence_secs,
            all_peers_when_no_full_feed: !args.strict_full_feed,
        },
        resync_ribs: args.resync_ribs,
        future_margin_secs: args.future_margin_secs,
    };
    let geo = Arc::new(load_geo(&args.geo.geo_files)?);
    let mut store = open_store(data_dir)?;
    if let Some(last) = store.last_committed_bin(MRT_SOURCE)? {
        eprintln!(
            "the store already holds BGP bins up to {}; bins read again are rewritten, unless the stored ones were read from more records",
            format_utc(last)
        );
    }
    let bar = if args.no_progress {
        ProgressBar::hidden()
    } else {
        let bar = crate::output::progress_bar(
            Some(1),
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({eta} left) {msg}",
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    eprintln!("reading MRT files into {}", data_dir.display());
    let started = Instant::now();
    // A message above the progress bar, or plainly when there is none.
    let mut say = |message: String| {
        if bar.is_hidden() {
            eprintln!("{message}");
        } else {
            bar.println(message);
        }
    };
    let mut progress = |read: u64, total: u64, records: u64| {
        bar.set_length(total.max(1));
        bar.set_position(read);
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "{records} records, {:.0} records/s",
            records as f64 / secs
        ));
    };
    let mut notes = MrtNotes::new(&mut say, &mut progress);
    let outcome = ingest_mrt_archives(&mut store, &args.paths, geo, &options, &mut notes);
    bar.finish_and_clear();
    let report = outcome?;
    for message in report.messages(started.elapsed().as_secs_f64()) {
        eprintln!("{message}");
    }
    let broken = report.broken_files();
    if broken == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "warning: {broken} file(s) were truncated or corrupt; what could be read was kept (exit code {EXIT_PARTIAL_INPUT})"
    );
    Ok(ExitCode::from(EXIT_PARTIAL_INPUT))
}

/// Reads the logs (or follows one) and writes closed bins.
pub fn access_log(data_dir: &Path, args: IngestAccessLogArgs) -> Result<ExitCode> {
    let options = AccessLogOptions {
        bin: args.bin.bin,
        grace_secs: args.grace_secs,
        source: args.source.clone(),
    };
    options.check().context("--grace-secs")?;
    if args.follow && args.files.len() != 1 {
        bail!("--follow needs exactly one file");
    }
    let geo = load_geo(&args.geo.geo_files)?;
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

/// Reads the captures and writes closed bins.
pub fn pcap(data_dir: &Path, args: IngestPcapArgs) -> Result<ExitCode> {
    let bin = args.bin.bin;
    let geo = load_geo(&args.geo.geo_files)?;
    let prefixes = parse_prefixes(&args.prefixes, "--prefix")?;
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
