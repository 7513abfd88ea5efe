//! Driving the accounting from MRT files, in time order across collectors.

use std::path::PathBuf;

use bgpkit_parser::error::ParserError;
use bgpkit_parser::models::MrtRecord;
use bgpkit_parser::BgpkitParser;
use vigie_model::{clock_now, BinSink, SignalBin, TimeWindow, WriteOutcome, ARCHIVE_MARGIN_SECS};

use super::archive::{update_gaps, CollectorFiles, FileKind, MrtFile};
use super::reader::{open_mrt, ByteCounter, CountingReader, StreamDamage};
use super::records::{origin_asn, RecordClass, RecordDecoder, RouteAction};
use crate::routing::CollectorIdx;
use crate::visibility::{FeedCoverage, VisibilityAccounting};

/// How many consecutive undecodable records make vigie give up on a file.
const MAX_CONSECUTIVE_BAD_RECORDS: u32 = 1000;

/// Options of an MRT ingest.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Reload the state from every RIB dump, not only the first of each collector.
    pub resync_ribs: bool,
    /// How far past the newest file time (from the file names; the clock
    /// when a file's name has none) a record may be dated; records later
    /// than that, or before 1990, are counted as implausible and skipped.
    pub future_margin_secs: i64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            resync_ribs: false,
            future_margin_secs: ARCHIVE_MARGIN_SECS,
        }
    }
}

/// What happened to one input file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// MRT records read.
    pub records: u64,
    /// Route entries, announcements and withdrawals applied.
    pub routes: u64,
    /// Records that could not be decoded and were skipped.
    pub bad_records: u64,
    /// Records dated outside the plausible time window (skipped, counted
    /// in `bad_records` too).
    pub implausible_records: u64,
    /// The first few problems, each naming the byte offset in the decompressed stream.
    pub problems: Vec<String>,
    /// Set when reading stopped early: the decompressed byte offset where the file broke.
    pub stopped_at: Option<u64>,
    /// Set when the file was not read at all, with the reason.
    pub skipped: Option<String>,
}

impl FileReport {
    /// Whether anything in this file went wrong.
    pub fn has_errors(&self) -> bool {
        self.bad_records > 0 || self.stopped_at.is_some()
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < 10 {
            self.problems.push(text);
        }
    }
}

/// Totals of an ingest.
#[derive(Clone, Debug, Default)]
pub struct IngestSummary {
    /// One report per input file.
    pub files: Vec<FileReport>,
    /// Records read, all files.
    pub records: u64,
    /// Bins closed and handed to the sink.
    pub bins: u64,
    /// Time of the first and last record seen.
    pub time_span: Option<(i64, i64)>,
    /// The window records had to be in.
    pub window: Option<TimeWindow>,
    /// Bins the sink kept from an earlier read with more records behind
    /// them (this read's values were not written).
    pub bins_kept: u64,
}

impl IngestSummary {
    /// Whether any file was truncated, corrupt or unreadable.
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(FileReport::has_errors)
    }
}

/// Follows an ingest: its bins' coverage, its progress, its files.
pub trait IngestObserver {
    /// A bin closed and its sink took it; `coverage` says which peers were
    /// counted as full-feed.
    fn bin_closed(&mut self, _bin: &SignalBin, _coverage: FeedCoverage) {}
    /// Progress: bytes of input files read so far, out of the total, and records read.
    fn progress(&mut self, _bytes_read: u64, _bytes_total: u64, _records: u64) {}
    /// A file was finished (or skipped, or broke off).
    fn file_done(&mut self, _report: &FileReport) {}
}

/// One collector's files being read in order.
struct CollectorCursor {
    collector: CollectorIdx,
    files: std::vec::IntoIter<MrtFile>,
    current: Option<OpenFile>,
    // Boxed: records are large, and moving them around showed in profiles.
    next: Option<Box<MrtRecord>>,
    seen_rib: bool,
    /// The name time of the RIB dump last loaded: files of one dump (a
    /// daemon's IPv4 and IPv6 tables) share it and load together.
    loaded_rib_time: Option<i64>,
    reset_pending: bool,
    first_rib_time: Option<i64>,
    resync: bool,
    /// Records outside it are skipped as implausible.
    window: TimeWindow,
}

struct OpenFile {
    parser: BgpkitParser<CountingReader<Box<dyn std::io::Read>>>,
    decompressed: ByteCounter,
    on_disk: ByteCounter,
    damage: StreamDamage,
    size: u64,
    decoder: RecordDecoder,
    report: FileReport,
    consecutive_bad: u32,
}

/// Nothing to follow.
impl IngestObserver for () {}

/// Reads every file of every collector into `accounting`, merging the
/// collectors' records by time, and writes each closed bin to `sink`; an
/// error of the sink (for example a full disk) stops the ingest.
///
/// A truncated or corrupt file is reported with the byte offset where it
/// broke; what was read before is kept and the other files are read.
pub fn ingest_mrt(
    collectors: Vec<CollectorFiles>,
    accounting: &mut VisibilityAccounting,
    options: &IngestOptions,
    sink: &mut dyn BinSink,
    observer: &mut dyn IngestObserver,
) -> Result<IngestSummary, String> {
    let bytes_total: u64 = collectors
        .iter()
        .flat_map(|c| &c.files)
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let newest_name_time = collectors
        .iter()
        .flat_map(|c| &c.files)
        .map(|f| f.name_time)
        .try_fold(None, |newest: Option<i64>, t| {
            t.map(|t| Some(newest.map_or(t, |n| n.max(t))))
        })
        .flatten();
    let window = TimeWindow::archive(newest_name_time, clock_now(), options.future_margin_secs);
    let mut summary = IngestSummary {
        window: Some(window),
        ..IngestSummary::default()
    };
    let mut cursors: Vec<CollectorCursor> = Vec::new();
    for collector in collectors {
        for (from, until) in update_gaps(&collector.files) {
            accounting.mark_gap(from, until);
        }
        let first_rib_time = collector
            .files
            .iter()
            .find(|f| f.kind == FileKind::Rib)
            .and_then(|f| f.name_time);
        cursors.push(CollectorCursor {
            collector: accounting.collector(&collector.collector),
            files: collector.files.into_iter(),
            current: None,
            next: None,
            seen_rib: false,
            loaded_rib_time: None,
            reset_pending: false,
            first_rib_time,
            resync: options.resync_ribs,
            window,
        });
    }
    let mut bytes_done_closed = 0u64;
    for cursor in &mut cursors {
        cursor.fill(&mut summary, observer, &mut bytes_done_closed);
    }
    let mut since_progress = 0u32;
    // The next record is always the earliest among the collectors' next records.
    while let Some(pick) = cursors
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.next.as_ref().map(|r| (r.common_header.timestamp, i)))
        .min()
        .map(|(_, i)| i)
    {
        let cursor = &mut cursors[pick];
        let Some(record) = cursor.next.take() else {
            break;
        };
        let time = record.common_header.timestamp as i64;
        summary.records += 1;
        summary.time_span = Some(match summary.time_span {
            None => (time, time),
            Some((a, b)) => (a.min(time), b.max(time)),
        });
        for bin in accounting.advance_to(time) {
            write(sink, observer, &bin, accounting.coverage(), &mut summary)?;
        }
        cursor.apply(&record, accounting);
        cursor.fill(&mut summary, observer, &mut bytes_done_closed);
        since_progress += 1;
        if since_progress >= 4096 {
            since_progress = 0;
            let open: u64 = cursors
                .iter()
                .filter_map(|c| c.current.as_ref())
                .map(|f| f.on_disk.get().min(f.size))
                .sum();
            observer.progress(bytes_done_closed + open, bytes_total, summary.records);
        }
    }
    if let Some(bin) = accounting.finish() {
        write(sink, observer, &bin, accounting.coverage(), &mut summary)?;
    }
    observer.progress(bytes_total, bytes_total, summary.records);
    Ok(summary)
}

/// Writes one closed bin, weighted by the records read so far (a sink
/// keeps a bin it holds from more records), then tells the observer.
fn write(
    sink: &mut dyn BinSink,
    observer: &mut dyn IngestObserver,
    bin: &SignalBin,
    coverage: FeedCoverage,
    summary: &mut IngestSummary,
) -> Result<(), String> {
    let outcome = sink
        .write_weighted(bin, summary.records)
        .map_err(|e| e.to_string())?;
    summary.bins += 1;
    if let WriteOutcome::KeptStored { .. } = outcome {
        summary.bins_kept += 1;
    }
    observer.bin_closed(bin, coverage);
    Ok(())
}

impl CollectorCursor {
    /// Makes `next` hold this collector's next record, opening files as needed.
    fn fill(
        &mut self,
        summary: &mut IngestSummary,
        observer: &mut dyn IngestObserver,
        bytes_done: &mut u64,
    ) {
        while self.next.is_none() {
            if self.current.is_none() && !self.open_next(summary, observer, bytes_done) {
                return;
            }
            let Some(file) = self.current.as_mut() else {
                return;
            };
            match read_record(file) {
                Some(record) => {
                    file.report.records += 1;
                    let time = i64::from(record.common_header.timestamp);
                    if let Err(why) = self.window.check(time) {
                        file.report.bad_records += 1;
                        file.report.implausible_records += 1;
                        let offset = file.decompressed.get();
                        file.report.problem(format!(
                            "record ending at byte {offset}: {why}; skipped as implausible"
                        ));
                        continue;
                    }
                    self.next = Some(Box::new(record));
                }
                None => {
                    if let Some(done) = self.current.take() {
                        *bytes_done += done.size;
                        observer.file_done(&done.report);
                        summary.files.push(done.report);
                    }
                }
            }
        }
    }

    /// Opens the next file worth reading; false when there is none left.
    fn open_next(
        &mut self,
        summary: &mut IngestSummary,
        observer: &mut dyn IngestObserver,
        bytes_done: &mut u64,
    ) -> bool {
        for file in self.files.by_ref() {
            let mut report = FileReport {
                path: file.path.clone(),
                ..FileReport::default()
            };
            let size = std::fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
            let skip = match file.kind {
                FileKind::Rib
                    if self.seen_rib
                        && !self.resync
                        && !(file.name_time.is_some() && file.name_time == self.loaded_rib_time) =>
                {
                    Some(
                    "a later RIB dump: the state comes from the first RIB dump and the updates since (use --resync-ribs to reload it)"
                        .to_string(),
                    )
                }
                FileKind::Updates
                    if matches!((self.first_rib_time, file.name_time), (Some(rib), Some(t)) if t < rib) =>
                {
                    Some("updates older than the collector's first RIB dump".to_string())
                }
                _ => None,
            };
            if let Some(reason) = skip {
                report.skipped = Some(reason);
                *bytes_done += size;
                observer.file_done(&report);
                summary.files.push(report);
                continue;
            }
            match open_mrt(&file.path) {
                Ok(opened) => {
                    if file.kind == FileKind::Rib {
                        // A later RIB dump replaces the collector's state, but
                        // only once time has reached it: bins before it close
                        // on the old state.
                        let same_dump =
                            file.name_time.is_some() && file.name_time == self.loaded_rib_time;
                        self.reset_pending = self.seen_rib && !same_dump;
                        self.seen_rib = true;
                        self.loaded_rib_time = file.name_time;
                    }
                    self.current = Some(OpenFile {
                        parser: BgpkitParser::from_reader(opened.reader).disable_warnings(),
                        decompressed: opened.decompressed,
                        on_disk: opened.on_disk,
                        damage: opened.damage,
                        size,
                        decoder: RecordDecoder::new(),
                        report,
                        consecutive_bad: 0,
                    });
                    return true;
                }
                Err(error) => {
                    report.skipped = Some(format!("cannot open: {error}"));
                    report.stopped_at = Some(0);
                    *bytes_done += size;
                    observer.file_done(&report);
                    summary.files.push(report);
                }
            }
        }
        false
    }

    /// Applies one record to the accounting.
    fn apply(&mut self, record: &MrtRecord, accounting: &mut VisibilityAccounting) {
        let collector = self.collector;
        if std::mem::take(&mut self.reset_pending) {
            accounting.reset_collector(collector);
        }
        // `fill` runs only after `apply`, so the record's file is still open.
        let Some(file) = self.current.as_mut() else {
            return;
        };
        match apply_record(&mut file.decoder, record, collector, accounting) {
            Ok((_, routes)) => {
                file.report.routes += routes;
            }
            Err(issue) => {
                file.report.bad_records += 1;
                let offset = file.decompressed.get();
                file.report
                    .problem(format!("record ending at byte {offset}: {issue}"));
            }
        }
    }
}

fn apply_record(
    decoder: &mut RecordDecoder,
    record: &MrtRecord,
    collector: CollectorIdx,
    accounting: &mut VisibilityAccounting,
) -> Result<(RecordClass, u64), String> {
    let mut routes = 0u64;
    let mut downs = Vec::new();
    // The routes of one record mostly share a peer: look it up once.
    let mut last_peer: Option<(std::net::IpAddr, u32, crate::routing::PeerIdx)> = None;
    let class = decoder
        .decode(
            record,
            |route| {
                if !route.unicast {
                    return;
                }
                routes += 1;
                let peer = match last_peer {
                    Some((ip, asn, idx)) if ip == route.peer_ip && asn == route.peer_asn => idx,
                    _ => {
                        let idx = accounting.peer(collector, route.peer_ip, route.peer_asn);
                        last_peer = Some((route.peer_ip, route.peer_asn, idx));
                        idx
                    }
                };
                match route.action {
                    RouteAction::RibEntry | RouteAction::Announce => {
                        let origin = route.as_path.and_then(origin_asn);
                        accounting.announce(peer, &route.prefix, route.path_id, origin);
                    }
                    RouteAction::Withdraw => {
                        accounting.withdraw(peer, &route.prefix, route.path_id)
                    }
                }
            },
            |state| {
                if state.is_session_down() {
                    downs.push((state.peer_ip, state.peer_asn));
                }
            },
        )
        .map_err(|issue| issue.to_string())?;
    for (ip, asn) in downs {
        let peer = accounting.peer(collector, ip, asn);
        accounting.peer_down(peer);
    }
    Ok((class, routes))
}

/// Reads the next record, handling errors: skips undecodable records,
/// stops at truncation. `None` at the end of the file or when it broke.
fn read_record(file: &mut OpenFile) -> Option<MrtRecord> {
    loop {
        let start = file.decompressed.get();
        match file.parser.next_record() {
            Ok(record) => {
                file.consecutive_bad = 0;
                return Some(record);
            }
            Err(error) => match error.error {
                ParserError::EofError(_) | ParserError::EofExpected => {
                    let consumed = file.decompressed.get();
                    if let Some(damage) = file.damage.get() {
                        // The decompressor failed; the parser saw an end of file.
                        file.report.stopped_at = Some(start);
                        file.report.problem(format!(
                            "damaged: the compressed stream breaks at byte {start} of the decompressed stream ({damage}); the file is truncated or corrupt"
                        ));
                    } else if consumed > start {
                        // Bytes were read but no whole record: the file ends mid-record.
                        file.report.stopped_at = Some(start);
                        file.report.problem(format!(
                            "truncated: the file ends inside the record starting at byte {start} of the decompressed stream"
                        ));
                    }
                    return None;
                }
                ParserError::IoError(io) => {
                    file.report.stopped_at = Some(start);
                    file.report.problem(format!(
                        "unreadable at byte {start} of the decompressed stream: {io} (the file is probably truncated or its compression is corrupt)"
                    ));
                    return None;
                }
                ParserError::TruncatedMsg(text) => {
                    file.report.stopped_at = Some(start);
                    file.report
                        .problem(format!("truncated record at byte {start}: {text}"));
                    return None;
                }
                ParserError::OversizedRecord { length } => {
                    file.report.stopped_at = Some(start);
                    file.report.problem(format!(
                        "record at byte {start} declares {length} bytes, over the 16 MiB limit: the file is corrupt from here"
                    ));
                    return None;
                }
                other => {
                    file.report.bad_records += 1;
                    file.consecutive_bad += 1;
                    file.report
                        .problem(format!("undecodable record at byte {start}: {other}"));
                    if file.consecutive_bad >= MAX_CONSECUTIVE_BAD_RECORDS
                        || file.decompressed.get() == start
                    {
                        file.report.stopped_at = Some(start);
                        file.report.problem(format!(
                            "gave up at byte {start}: too many undecodable records in a row"
                        ));
                        return None;
                    }
                }
            },
        }
    }
}
