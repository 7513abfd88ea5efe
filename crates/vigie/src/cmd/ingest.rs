//! `vigie ingest mrt`, `archive`, `access-log` and `pcap`: map their flags
//! onto `vigie_pipeline`'s ingest operations (`ingest_mrt_archives`, `fetch_archive`,
//! `ingest_access_logs`, `ingest_captures`) and print their reports (and,
//! for MRT, a progress bar).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use vigie_model::format_utc;
use vigie_pipeline::{
    fetch_archive, ingest_access_logs, ingest_captures, ingest_mrt_archives, load_geo,
    parse_prefixes, AccessLogInput, AccessLogOptions, FetchTally, Gaps, MrtNotes, MRT_SOURCE,
};

use super::{open_store, partial_if, EXIT_PARTIAL_INPUT};
use crate::cli::{
    IngestAccessLogArgs, IngestArchiveArgs, IngestMrtArgs, IngestPcapArgs, MrtReadArgs,
};

/// Runs `vigie ingest mrt`.
pub fn mrt(data_dir: &Path, args: IngestMrtArgs) -> Result<ExitCode> {
    read_mrt(data_dir, &args.paths, args.read, Vec::new())
}

/// Runs `vigie ingest archive`: fetches the period's files, then reads them.
pub fn archive(data_dir: &Path, args: IngestArchiveArgs) -> Result<ExitCode> {
    let cache = (args.fetch.cache_dir.clone()).unwrap_or_else(|| data_dir.join("archive-cache"));
    let plan = vigie_pipeline::plan_archive(&args.fetch, &cache)?;
    eprintln!("{}", plan.summary(&cache));
    let (bar, files) = (
        crate::output::bytes_bar(args.read.no_progress),
        plan.files.len(),
    );
    let show = |done, total, message| {
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(message);
    };
    let say = |m: String| bar.suspend(|| eprintln!("{m}"));
    let fetched = fetch_archive(plan, &args.fetch, &FetchTally::new(files, &show, &say))?;
    bar.finish_and_clear();
    fetched.messages.iter().for_each(|m| eprintln!("{m}"));
    if fetched.paths.is_empty() {
        return Ok(partial_if(true)); // nothing to read: every file was lost, and said so
    }
    let code = read_mrt(data_dir, &fetched.paths, args.read, fetched.gaps.clone())?;
    let lost = !fetched.gaps.is_empty();
    Ok(if lost { partial_if(true) } else { code })
}

/// Reads MRT `paths` (with `gaps` left unwritten) into the store.
fn read_mrt(data_dir: &Path, paths: &[PathBuf], args: MrtReadArgs, gaps: Gaps) -> Result<ExitCode> {
    let options = args.mrt.options(args.bin.bin, gaps);
    let geo = Arc::new(load_geo(&args.geo.geo_files)?);
    let mut store = open_store(data_dir)?;
    if let Some(last) = store.last_committed_bin(MRT_SOURCE)? {
        eprintln!(
            "the store already holds BGP bins up to {}; bins read again are rewritten, unless the stored ones were read from more records",
            format_utc(last)
        );
    }
    let bar = crate::output::bytes_bar(args.no_progress);
    eprintln!("reading MRT files into {}", data_dir.display());
    let started = Instant::now();
    let mut say = |message: String| bar.suspend(|| eprintln!("{message}"));
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
    let outcome = ingest_mrt_archives(&mut store, paths, geo, &options, &mut notes);
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
    #[cfg(feature = "nats")]
    if let Some(url) = &args.publish {
        // A collector on the bus: its closed bins go to JetStream
        // (`vigie bus store` writes them, `vigie bus detect` reads them).
        let bus = vigie_bus::Bus::connect(url, &vigie_bus::StreamSettings::default())?;
        let mut sink = vigie_pipeline::LoggedSink::new(bus.sink(&options.source), args.follow);
        let stats = vigie_pipeline::read_access_logs(input, &options, geo, &mut sink)?;
        // Run again on the same input (after a crash), it publishes the
        // same bins as the same messages (same ids): the stream drops
        // those it holds, and says so.
        let tally = sink.get_ref().tally();
        eprintln!(
            "on the bus: {} messages stored, {} dropped as already there (published before)",
            tally.messages, tally.duplicates
        );
        return Ok(access_log_outcome(&vigie_pipeline::AccessLogReport {
            bins_written: sink.bins_written(),
            bins_kept: sink.bins_kept(),
            stats,
        }));
    }
    let mut store = open_store(data_dir)?;
    let report = ingest_access_logs(&mut store, input, &options, geo, args.follow)?;
    Ok(access_log_outcome(&report))
}

/// Tells what reading the logs did; the exit code says whether lines were
/// skipped.
fn access_log_outcome(report: &vigie_pipeline::AccessLogReport) -> ExitCode {
    report.messages().iter().for_each(|m| eprintln!("{m}"));
    if report.skipped_lines() {
        eprintln!("warning: some lines were skipped (exit code {EXIT_PARTIAL_INPUT}); is this the combined or common log format?");
        return ExitCode::from(EXIT_PARTIAL_INPUT);
    }
    ExitCode::SUCCESS
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
