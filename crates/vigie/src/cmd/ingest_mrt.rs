//! `vigie ingest mrt`: MRT archives → BGP visibility series in the store.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_bgp::mrt::{discover, ingest_mrt, FileReport, IngestObserver, IngestOptions};
use vigie_bgp::{FeedCoverage, VisibilityAccounting, VisibilityConfig};
use vigie_model::{format_utc, BinSink, BinSize, Entity, SignalBin, SinkError};
use vigie_store::{AsCountrySpace, Store};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::IngestMrtArgs;

/// The store's name for this source's bins.
const SOURCE: &str = "bgp-mrt";

/// The store's sink for this source, folding each UTC day into chunks once
/// the next one starts.
struct DailyStoreSink<'a> {
    store: &'a mut Store,
    bins_written: u64,
    values_written: u64,
    last_day: Option<i64>,
}

impl BinSink for DailyStoreSink<'_> {
    fn write(&mut self, bin: &SignalBin) -> std::result::Result<(), SinkError> {
        self.values_written += bin.values.len() as u64;
        self.bins_written += 1;
        self.store.sink(SOURCE).write(bin)?;
        let day = bin.bin_start.div_euclid(86_400);
        if self.last_day.is_some_and(|last| last != day) {
            self.store
                .compact()
                .map_err(|e| SinkError(format!("cannot compact the store: {e}")))?;
        }
        self.last_day = Some(day);
        Ok(())
    }
}

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
    let bin = BinSize::new(args.bin_secs)?;
    if !(args.visible_fraction > 0.0 && args.visible_fraction <= 1.0) {
        bail!(
            "--visible-fraction must be in (0, 1], got {}",
            args.visible_fraction
        );
    }
    let collectors = discover(&args.paths).context("cannot list the MRT inputs")?;
    let file_count: usize = collectors.iter().map(|c| c.files.len()).sum();
    if file_count == 0 {
        bail!(
            "no MRT files found in the given paths (looked for bview*, rib*, updates* and *.mrt)"
        );
    }
    let geo = Arc::new(super::load_geo(&args.geo)?);
    let mut store = open_store(data_dir)?;
    if let Some(last) = store.last_committed_bin(SOURCE)? {
        eprintln!(
            "the store already holds BGP bins up to {}; bins read again are rewritten with the same values",
            format_utc(last)
        );
    }
    let config = VisibilityConfig {
        bin,
        full_feed_v4: args.full_feed_v4,
        full_feed_v6: args.full_feed_v6,
        min_visible_fraction: args.visible_fraction,
        max_silence_secs: args.max_silence_secs,
        all_peers_when_no_full_feed: !args.strict_full_feed,
    };
    let mut accounting = VisibilityAccounting::new(config, Arc::clone(&geo));
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
    eprintln!(
        "reading {file_count} MRT file(s) from {} collector(s) into {}",
        collectors.len(),
        data_dir.display()
    );
    let started = Instant::now();
    let mut sink = DailyStoreSink {
        store: &mut store,
        bins_written: 0,
        values_written: 0,
        last_day: None,
    };
    let mut progress = Progress {
        bar: bar.clone(),
        started,
        fallback_warned: false,
    };
    let options = IngestOptions {
        resync_ribs: args.resync_ribs,
    };
    let outcome = ingest_mrt(
        collectors,
        &mut accounting,
        &options,
        &mut sink,
        &mut progress,
    );
    bar.finish_and_clear();
    let (bins_written, values_written) = (sink.bins_written, sink.values_written);
    // Whatever happened, fold what was written so reads are fast.
    store.compact().context("cannot compact the store")?;
    let summary = outcome.map_err(anyhow::Error::msg)?;
    // Name the ASes that have data, from a loaded AS-name table.
    if geo.as_name_count() > 0 {
        let names: Vec<(Entity, String)> = store
            .entities()?
            .into_iter()
            .filter_map(|info| match info.entity {
                Entity::Asn(asn) if info.name.is_none() => {
                    geo.as_name(asn).map(|n| (Entity::Asn(asn), n.to_string()))
                }
                _ => None,
            })
            .collect();
        if !names.is_empty() {
            store.set_entity_names(&names)?;
        }
    }
    // Which ASes originate space in which country (a country's incident
    // lists its affected networks from it); an older archive ingested
    // after a newer one leaves the newer table in place.
    if let Some((_, observed_at)) = summary.time_span {
        let newest = store
            .as_countries(None, None)?
            .iter()
            .map(|row| row.observed_at)
            .max();
        if newest.is_none_or(|t| t <= observed_at) {
            let rows: Vec<AsCountrySpace> = accounting
                .origin_country_space()
                .into_iter()
                .map(|space| AsCountrySpace {
                    asn: space.asn,
                    country: space.country,
                    units_v4: space.units[0],
                    units_v6: space.units[1],
                    observed_at,
                })
                .collect();
            store.replace_as_countries(&rows)?;
        }
    }
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
        bins_written,
        values_written,
        accounting.table().prefix_count(),
        accounting.table().peers().len(),
        accounting.table().heap_bytes() as f64 / accounting.table().prefix_count().max(1) as f64,
    );
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
