//! `vigie ingest mrt`: MRT archives → BGP visibility series in the store.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_bgp::mrt::{FileReport, IngestObserver};
use vigie_bgp::{FeedCoverage, VisibilityConfig};
use vigie_model::{format_utc, SignalBin};
use vigie_pipeline::{ingest_mrt_archives, MrtOptions, MRT_SOURCE};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::IngestMrtArgs;

/// The progress bar and the ingest's notes.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    fallback_warned: bool,
}

impl IngestObserver for Progress {
    fn bin_closed(&mut self, bin: &SignalBin, coverage: FeedCoverage) {
        if !self.fallback_warned && coverage.fallback_families.iter().any(|&f| f) {
            self.fallback_warned = true;
            say(&self.bar, format!(
                "note: no peer is full-feed (more than the --full-feed-v4/--full-feed-v6 prefix counts) at {}; \
                 the peers with at least half as many prefixes as the largest one are counted instead, as for a small archive",
                format_utc(bin.bin_start)
            ));
        }
    }

    fn progress(&mut self, bytes_read: u64, bytes_total: u64, records: u64) {
        self.bar.set_length(bytes_total.max(1));
        self.bar.set_position(bytes_read);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{records} records, {:.0} records/s",
            records as f64 / secs
        ));
    }

    fn file_done(&mut self, report: &FileReport) {
        if let Some(reason) = &report.skipped {
            say(
                &self.bar,
                format!("skipped {}: {reason}", report.path.display()),
            );
        }
        for problem in &report.problems {
            say(&self.bar, format!("{}: {problem}", report.path.display()));
        }
        if let Some(offset) = report.stopped_at {
            if report.skipped.is_none() {
                say(&self.bar, format!(
                    "{}: stopped at byte {offset} of the decompressed stream; the {} records before it were kept",
                    report.path.display(),
                    report.records
                ));
            }
        }
    }
}

/// Prints a message above the progress bar, or plainly when there is none.
fn say(bar: &ProgressBar, message: String) {
    if bar.is_hidden() {
        eprintln!("{message}");
    } else {
        bar.println(message);
    }
}

/// Runs `vigie ingest mrt`.
pub fn run(data_dir: &Path, args: IngestMrtArgs) -> Result<ExitCode> {
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
    let geo = Arc::new(vigie_pipeline::load_geo(&args.geo.geo_files)?);
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
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({eta} left) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    eprintln!("reading MRT files into {}", data_dir.display());
    let started = Instant::now();
    let mut progress = Progress {
        bar: bar.clone(),
        started,
        fallback_warned: false,
    };
    let outcome = ingest_mrt_archives(&mut store, &args.paths, geo, &options, &mut progress);
    bar.finish_and_clear();
    let report = outcome?;
    let summary = &report.summary;
    let elapsed = started.elapsed().as_secs_f64();
    let span = summary
        .time_span
        .map(|(a, b)| format!("{} .. {}", format_utc(a), format_utc(b)))
        .unwrap_or_else(|| "no records".to_string());
    eprintln!(
        "done in {elapsed:.1} s: {} records ({:.0}/s), {} bins with {} values written, time span {span}; \
         {} prefixes and {} peers in the routing table ({:.1} bytes of state per prefix)",
        summary.records,
        summary.records as f64 / elapsed.max(1e-3),
        summary.bins,
        report.values_written,
        report.prefixes,
        report.peers,
        report.table_bytes as f64 / report.prefixes.max(1) as f64,
    );
    if let Some(kept) = report.first_kept {
        eprintln!(
            "warning: {} bin(s) kept their stored values, read from more records than this run \
             (first at {}: {} records stored, {} now); a truncated or partial re-read never replaces complete bins",
            summary.bins_kept,
            format_utc(kept.bin_start),
            kept.stored_records,
            kept.read_records
        );
    }
    let implausible: u64 = summary.files.iter().map(|f| f.implausible_records).sum();
    if implausible > 0 {
        eprintln!(
            "warning: {implausible} record(s) dated outside the plausible time window were skipped ({})",
            summary
                .window
                .map(|w| format!("{} .. {}", format_utc(w.earliest()), format_utc(w.latest())))
                .unwrap_or_default()
        );
    }
    let broken: Vec<&FileReport> = summary.files.iter().filter(|f| f.has_errors()).collect();
    if broken.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "warning: {} file(s) were truncated or corrupt; what could be read was kept (exit code {EXIT_PARTIAL_INPUT})",
            broken.len()
        );
        Ok(ExitCode::from(EXIT_PARTIAL_INPUT))
    }
}
