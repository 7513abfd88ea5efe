//! What the ingest commands tell: `vigie ingest mrt` while it reads
//! ([`MrtNotes`]: the fallback to the largest peers, skipped and broken
//! files) and when it is done ([`MrtIngestReport::messages`]); `vigie
//! ingest access-log` when it is done ([`AccessLogReport::messages`]).

use vigie_bgp::mrt::{FileReport, IngestObserver};
use vigie_bgp::FeedCoverage;
use vigie_model::{format_utc, SignalBin};

use super::mrt::MrtIngestReport;
use super::traffic::AccessLogReport;

/// An [`IngestObserver`] that hands each note to `say` and the progress
/// (bytes read, bytes in all, records) to `progress`.
pub struct MrtNotes<'a> {
    say: &'a mut dyn FnMut(String),
    progress: &'a mut dyn FnMut(u64, u64, u64),
    fallback_warned: bool,
}

impl<'a> MrtNotes<'a> {
    /// Notes to `say`, progress to `progress`.
    pub fn new(say: &'a mut dyn FnMut(String), progress: &'a mut dyn FnMut(u64, u64, u64)) -> Self {
        MrtNotes {
            say,
            progress,
            fallback_warned: false,
        }
    }
}

impl IngestObserver for MrtNotes<'_> {
    fn bin_closed(&mut self, bin: &SignalBin, coverage: FeedCoverage) {
        if !self.fallback_warned && coverage.fallback_families.iter().any(|&f| f) {
            self.fallback_warned = true;
            (self.say)(format!(
                "note: no peer is full-feed (more than the --full-feed-v4/--full-feed-v6 prefix counts) at {}; \
                 the peers with at least half as many prefixes as the largest one are counted instead, as for a small archive",
                format_utc(bin.bin_start)
            ));
        }
    }

    fn progress(&mut self, bytes_read: u64, bytes_total: u64, records: u64) {
        (self.progress)(bytes_read, bytes_total, records);
    }

    fn file_done(&mut self, report: &FileReport) {
        let path = report.path.display();
        if let Some(reason) = &report.skipped {
            (self.say)(format!("skipped {path}: {reason}"));
        }
        for problem in &report.problems {
            (self.say)(format!("{path}: {problem}"));
        }
        if let (Some(offset), None) = (report.stopped_at, &report.skipped) {
            (self.say)(format!(
                "{path}: stopped at byte {offset} of the decompressed stream; the {} records before it were kept",
                report.records
            ));
        }
    }
}

impl MrtIngestReport {
    /// What to tell at the end of an ingest that took `elapsed` seconds:
    /// the figures, then a warning for bins kept, implausible records and
    /// broken files (see [`MrtIngestReport::broken_files`]).
    pub fn messages(&self, elapsed: f64) -> Vec<String> {
        let summary = &self.summary;
        let span = summary
            .time_span
            .map(|(a, b)| format!("{} .. {}", format_utc(a), format_utc(b)))
            .unwrap_or_else(|| "no records".to_string());
        let mut messages = vec![format!(
            "done in {elapsed:.1} s: {} records ({:.0}/s), {} bins with {} values written, time span {span}; \
             {} prefixes and {} peers in the routing table ({:.1} bytes of state per prefix)",
            summary.records,
            summary.records as f64 / elapsed.max(1e-3),
            summary.bins,
            self.values_written,
            self.prefixes,
            self.peers,
            self.table_bytes as f64 / self.prefixes.max(1) as f64,
        )];
        if let Some(kept) = &self.first_kept {
            messages.push(format!(
                "warning: {} bin(s) kept their stored values, read from more records than this run \
                 (first at {}: {} records stored, {} now); a truncated or partial re-read never replaces complete bins",
                summary.bins_kept,
                format_utc(kept.bin_start),
                kept.stored_records,
                kept.read_records
            ));
        }
        let implausible: u64 = summary.files.iter().map(|f| f.implausible_records).sum();
        if implausible > 0 {
            messages.push(format!(
                "warning: {implausible} record(s) dated outside the plausible time window were skipped ({})",
                summary
                    .window
                    .map(|w| format!("{} .. {}", format_utc(w.earliest()), format_utc(w.latest())))
                    .unwrap_or_default()
            ));
        }
        messages
    }

    /// How many files were truncated or corrupt.
    pub fn broken_files(&self) -> usize {
        self.summary.files.iter().filter(|f| f.has_errors()).count()
    }
}

impl AccessLogReport {
    /// What to tell at the end: the counts, a warning for bins kept, and
    /// examples of bad lines.
    pub fn messages(&self) -> Vec<String> {
        let stats = &self.stats;
        let mut messages = vec![format!(
            "done: {} lines, {} requests counted in {} bins, {} bad lines ({} dated outside the plausible time window), {} late lines",
            stats.lines,
            stats.requests,
            self.bins_written,
            stats.bad_lines,
            stats.implausible_lines,
            stats.late_lines
        )];
        if self.bins_kept > 0 {
            messages.push(format!(
                "warning: {} bin(s) kept their stored values, counted from more lines than this run; \
                 a partial re-read never replaces complete bins",
                self.bins_kept
            ));
        }
        messages.extend(
            stats
                .bad_line_examples
                .iter()
                .map(|e| format!("  bad line: {e}")),
        );
        messages
    }

    /// Whether lines were skipped as bad or late.
    pub fn skipped_lines(&self) -> bool {
        self.stats.bad_lines > 0 || self.stats.late_lines > 0
    }
}
