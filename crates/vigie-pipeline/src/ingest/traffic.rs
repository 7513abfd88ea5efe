//! Traffic files → traffic signals in the store: packet captures
//! (telescope sources or replayed flow exports) and web-server access logs
//! (`vigie ingest pcap`, `vigie ingest access-log`, the demo).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Result};
use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{
    clock_now, format_utc, BinSink, BinSize, SignalBin, TimeWindow, WindowedSink,
    ARCHIVE_MARGIN_SECS, LIVE_MARGIN_SECS,
};
use vigie_store::Store;
use vigie_traffic::access_log::{
    follow_file, open_log, read_lines, write_all, AccessLogAggregator, FollowOptions, LogStats,
};
use vigie_traffic::capture::{read_capture, udp_datagram};
use vigie_traffic::flow::pipeline::FlowPipeline;
use vigie_traffic::telescope::Telescope;

use crate::LoggedSink;

/// What a capture holds (`vigie ingest pcap --mode`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureKind {
    /// Darknet traffic: unique sources per entity (`merit-nt`).
    Telescope,
    /// NetFlow/IPFIX/sFlow export datagrams: flow signals.
    Flows,
}

impl CaptureKind {
    /// The store's name for its bins unless the user names one.
    pub fn default_source(self) -> &'static str {
        match self {
            CaptureKind::Telescope => "telescope",
            CaptureKind::Flows => "flows",
        }
    }
}

/// What [`ingest_captures`] did.
#[derive(Debug, Default)]
pub struct CaptureReport {
    /// Bins written.
    pub bins: usize,
    /// What the reader saw, one line each (packets kept and dropped, exporters).
    pub notes: Vec<String>,
    /// The files that broke off, with where.
    pub damaged: Vec<String>,
}

/// Reads pcap/pcapng `files` holding `kind` traffic and writes their bins
/// to `store` under `source`. `prefixes` are the dark prefixes of a
/// telescope, or the operator's own prefixes for flows.
pub fn ingest_captures(
    store: &mut Store,
    files: &[PathBuf],
    kind: CaptureKind,
    prefixes: Vec<IpNet>,
    bin: BinSize,
    source: &str,
    geo: GeoDb,
) -> Result<CaptureReport> {
    let mut report = CaptureReport::default();
    let mut bins: Vec<SignalBin> = Vec::new();
    match kind {
        CaptureKind::Telescope => {
            let mut telescope = Telescope::new(geo, bin, prefixes);
            for path in files {
                let summary = read_capture(path, |frame| {
                    telescope.add_frame(frame.timestamp_secs, frame.link, &frame.data)
                })?;
                report.damaged.extend(summary.truncated);
            }
            bins.extend(telescope.close_all());
            let stats = telescope.stats();
            report
                .notes
                .push(format!("{} packets, {} kept", stats.packets, stats.kept));
            for (reason, n) in &stats.dropped {
                report
                    .notes
                    .push(format!("  dropped by {}: {n}", reason.name()));
            }
        }
        CaptureKind::Flows => {
            let mut pipeline = FlowPipeline::new(geo, bin, prefixes);
            let mut not_udp = 0u64;
            for path in files {
                let summary =
                    read_capture(path, |frame| match udp_datagram(frame.link, &frame.data) {
                        Some(udp) => {
                            pipeline.ingest(udp.src, frame.timestamp_secs, udp.payload);
                        }
                        None => not_udp += 1,
                    })?;
                report.damaged.extend(summary.truncated);
            }
            bins.extend(pipeline.close_all());
            if not_udp > 0 {
                report
                    .notes
                    .push(format!("{not_udp} frames were not UDP datagrams (skipped)"));
            }
            for (exporter, h) in pipeline.health() {
                report.notes.push(format!(
                    "exporter {exporter}: {} datagrams, {} records, {} decode errors, {} template misses, {} bad sampling rates",
                    h.datagrams, h.records, h.decode_errors, h.template_misses, h.bad_sampling_rates
                ));
            }
        }
    }
    if bins.is_empty() && report.damaged.is_empty() {
        bail!("no packet was counted; check the capture and the prefixes");
    }
    // A capture has no file time: packets more than a day past the clock,
    // or before 1990, are implausible.
    let mut store_sink = store.sink(source);
    let mut sink = WindowedSink::new(
        &mut store_sink,
        TimeWindow::live(clock_now(), ARCHIVE_MARGIN_SECS),
    );
    for closed in &bins {
        sink.write(closed)?;
    }
    if sink.dropped() > 0 {
        let first = sink.dropped_examples().first().copied().unwrap_or_default();
        report.damaged.push(format!(
            "{} bin(s) dated outside the plausible time window (1990 to a day past the clock) were not stored, the first at {}",
            sink.dropped(),
            format_utc(first)
        ));
    }
    report.bins = bins.len() - sink.dropped() as usize;
    Ok(report)
}

/// How access logs are binned.
#[derive(Clone, Debug)]
pub struct AccessLogOptions {
    /// Bin width.
    pub bin: BinSize,
    /// A bin is closed once the log is this many seconds past its end.
    pub grace_secs: i64,
    /// The store's name for the bins (one per website).
    pub source: String,
}

impl Default for AccessLogOptions {
    fn default() -> Self {
        AccessLogOptions {
            bin: BinSize::default(),
            grace_secs: 300,
            source: "access-log".to_string(),
        }
    }
}

impl AccessLogOptions {
    /// Checks the grace period (at most a day).
    pub fn check(&self) -> Result<()> {
        if !(0..=86_400).contains(&self.grace_secs) {
            bail!("the grace period must be between 0 and 86400 seconds (a day)");
        }
        Ok(())
    }
}

/// Which access-log lines to read.
pub enum AccessLogInput<'a> {
    /// These files (plain or .gz; `-` is standard input), each to its end.
    Files(&'a [PathBuf]),
    /// One file as it grows, like `tail -F`, until `stop` is raised.
    Follow {
        /// The file.
        path: &'a PathBuf,
        /// Read it from its start rather than its end.
        from_start: bool,
        /// Raised to stop.
        stop: &'a AtomicBool,
    },
}

/// What [`ingest_access_logs`] did.
#[derive(Clone, Debug, Default)]
pub struct AccessLogReport {
    /// Bins written.
    pub bins_written: u64,
    /// Bins the store kept because it holds them from more lines (a
    /// partial re-read of a log already read).
    pub bins_kept: u64,
    /// The reader's counts.
    pub stats: LogStats,
}

/// Reads access logs into `store`: the bins written and kept, and the
/// reader's counts. When `log_each`, each bin is told on stderr. A bin the
/// store holds from more lines keeps its values.
pub fn ingest_access_logs(
    store: &mut Store,
    input: AccessLogInput<'_>,
    options: &AccessLogOptions,
    geo: GeoDb,
    log_each: bool,
) -> Result<AccessLogReport> {
    let mut sink = LoggedSink::new(store.sink(&options.source), log_each);
    let stats = read_access_logs(input, options, geo, &mut sink)?;
    Ok(AccessLogReport {
        bins_written: sink.bins_written(),
        bins_kept: sink.bins_kept(),
        stats,
    })
}

/// Reads access logs, writing their closed bins to `sink`; the reader's counts.
pub fn read_access_logs(
    input: AccessLogInput<'_>,
    options: &AccessLogOptions,
    geo: GeoDb,
    sink: &mut dyn BinSink,
) -> Result<LogStats> {
    options.check()?;
    let mut aggregator = AccessLogAggregator::new(geo, options.bin, options.grace_secs);
    if matches!(input, AccessLogInput::Follow { .. }) {
        // A live log: an hour past the clock is already implausible.
        aggregator = aggregator.with_future_margin(LIVE_MARGIN_SECS);
    }
    match input {
        AccessLogInput::Follow {
            path,
            from_start,
            stop,
        } => {
            let options = FollowOptions {
                from_start,
                ..FollowOptions::default()
            };
            follow_file(path, options, &mut aggregator, stop, sink).map_err(anyhow::Error::msg)?;
        }
        AccessLogInput::Files(files) => {
            for path in files {
                let reader = open_log(path).map_err(anyhow::Error::msg)?;
                let name = path.display().to_string();
                read_lines(reader, &name, &mut aggregator, sink).map_err(anyhow::Error::msg)?;
            }
            let closed = aggregator.close_all();
            write_all(sink, &mut aggregator, closed).map_err(anyhow::Error::msg)?;
        }
    }
    Ok(aggregator.stats().clone())
}
