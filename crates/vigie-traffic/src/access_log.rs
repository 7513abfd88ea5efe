//! HTTP access logs (nginx and Apache "combined" or "common" format) →
//! per-bin requests and unique client /24s per country, AS and region.
//!
//! A line looks like
//! `203.0.113.9 - - [10/Oct/2025:13:55:36 +0200] "GET / HTTP/1.1" 200 2326 "-" "curl/8"`.
//! Only the client address and the time are used; the request, status and
//! size must be present (so other text is not mistaken for requests) but
//! are not interpreted. The time zone offset is honoured: bins are UTC.
//!
//! **Unique client /24s** counts distinct IPv4 /24 blocks (and IPv6 /48s,
//! vigie's unit for IPv6) that made at least one request in the bin.
//!
//! Sources: [`read_lines`] for files and stdin, [`follow_file`] for a log
//! being written (like `tail -F`: it survives rotation and truncation).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vigie_geo::GeoDb;
use vigie_model::{
    clock_now, BinSink, BinSize, SignalBin, SignalKind, TimeWindow, UnixSecs, ZeroFill,
    ARCHIVE_MARGIN_SECS,
};

use crate::bins::{add_value, for_each_entity, unit_of_ip, EntityKinds, OpenBins, UnitCounts};

/// Why a line is not an access-log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The first field is not an IPv4 or IPv6 address.
    #[error("the first field is not a client IP address")]
    BadClient,
    /// No `[dd/Mon/yyyy:HH:MM:SS +zzzz]` time field.
    #[error("no [dd/Mon/yyyy:HH:MM:SS +zzzz] time field")]
    BadTime,
    /// No quoted request followed by a status code.
    #[error("no quoted request followed by a 3-digit status")]
    BadRequest,
}

/// The fields vigie uses from one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The client address.
    pub client: IpAddr,
    /// The request time, UTC seconds.
    pub time: UnixSecs,
}

/// The time field's format, `10/Oct/2025:13:55:36 +0200`, parsed once.
static CLF_TIME: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
    std::sync::LazyLock::new(|| {
        chrono::format::StrftimeItems::new("%d/%b/%Y:%H:%M:%S %z").collect()
    });

thread_local! {
    /// The last time field parsed on this thread and its UTC seconds: a log
    /// writes the same second on many lines in a row.
    static LAST_TIME: std::cell::Cell<Option<([u8; 26], UnixSecs)>> =
        const { std::cell::Cell::new(None) };
}

/// Parses `10/Oct/2025:13:55:36 +0200` into UTC seconds (chrono, on the
/// format's exact 26 bytes; the same text as the line before is not parsed
/// again).
fn parse_time(text: &[u8]) -> Option<UnixSecs> {
    let bytes: [u8; 26] = text.try_into().ok()?;
    if let Some((last, secs)) = LAST_TIME.get() {
        if last == bytes {
            return Some(secs);
        }
    }
    let text = std::str::from_utf8(text).ok()?;
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, text, CLF_TIME.iter()).ok()?;
    let secs = parsed.to_datetime().ok()?.timestamp();
    LAST_TIME.set(Some((bytes, secs)));
    Some(secs)
}

/// Parses one combined/common-format line.
pub fn parse_line(line: &[u8]) -> Result<LogLine, LineError> {
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(LineError::BadClient)?;
    let client_text = std::str::from_utf8(&line[..space]).map_err(|_| LineError::BadClient)?;
    let client: IpAddr = client_text.parse().map_err(|_| LineError::BadClient)?;
    let rest = &line[space..];
    let open = rest
        .iter()
        .position(|&b| b == b'[')
        .ok_or(LineError::BadTime)?;
    let after_open = &rest[open + 1..];
    let close = after_open
        .iter()
        .position(|&b| b == b']')
        .ok_or(LineError::BadTime)?;
    let time = parse_time(&after_open[..close]).ok_or(LineError::BadTime)?;
    let after_time = &after_open[close + 1..];
    // ` "request" status`
    let request = after_time
        .strip_prefix(b" \"")
        .ok_or(LineError::BadRequest)?;
    // The request may hold escaped quotes (\"); find the closing quote.
    let mut i = 0;
    let mut end = None;
    while let Some(&b) = request.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => {
                end = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let end = end.ok_or(LineError::BadRequest)?;
    let status = request.get(end + 1..end + 5).ok_or(LineError::BadRequest)?;
    let status_ok = status.first() == Some(&b' ')
        && status
            .get(1..4)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !status_ok {
        return Err(LineError::BadRequest);
    }
    Ok(LogLine { client, time })
}

#[derive(Debug, Default)]
struct LogBin {
    requests: UnitCounts<u64>,
}

/// Counters of an access-log run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Lines read.
    pub lines: u64,
    /// Requests counted in a bin.
    pub requests: u64,
    /// Lines that are not access-log lines (skipped), over-long lines included.
    pub bad_lines: u64,
    /// Lines longer than the aggregator's line cap ([`MAX_LINE_BYTES`] by
    /// default): skipped without being held in memory, also counted in `bad_lines`.
    pub long_lines: u64,
    /// Lines for a bin already closed (skipped): the log went back in time
    /// by more than the grace period.
    pub late_lines: u64,
    /// Lines dated before 1990 or more than the aggregator's margin past
    /// the clock (skipped, counted in `bad_lines` too): they never move the
    /// log's time, so later valid lines are not "late".
    pub implausible_lines: u64,
    /// The first few bad lines, as `source:line: reason`.
    pub bad_line_examples: Vec<String>,
}

/// How many bad lines are quoted in [`LogStats::bad_line_examples`].
pub const MAX_BAD_LINE_EXAMPLES: usize = 10;

/// Lines longer than this (64 KiB, newline included) are skipped and
/// counted, never buffered whole: a real access-log line is a few hundred
/// bytes, and servers cap request lines and headers at a few KiB.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Aggregates access-log lines into closed bins.
///
/// Bins close when the log's own time is `grace_secs` past their end (logs
/// are written roughly in time order), or when the caller says so.
#[derive(Debug)]
pub struct AccessLogAggregator {
    geo: GeoDb,
    kinds: EntityKinds,
    bins: OpenBins<LogBin>,
    seen: ZeroFill,
    grace_secs: i64,
    latest: Option<UnixSecs>,
    stats: LogStats,
    max_line_bytes: usize,
    future_margin_secs: i64,
    /// The plausible window, refreshed from the clock when a line falls
    /// outside it (so the clock is read rarely, and a long-followed log's
    /// window still moves on).
    window: TimeWindow,
    /// Requests counted in bins closed and not yet taken by a writer.
    closed_requests: HashMap<UnixSecs, u64>,
}

impl AccessLogAggregator {
    /// An aggregator over `geo`, bins of `bin`, closing bins `grace_secs`
    /// after their end in log time.
    pub fn new(geo: GeoDb, bin: BinSize, grace_secs: i64) -> Self {
        AccessLogAggregator {
            kinds: EntityKinds::of(&geo),
            geo,
            bins: OpenBins::new(bin),
            seen: ZeroFill::default(),
            grace_secs,
            latest: None,
            stats: LogStats::default(),
            max_line_bytes: MAX_LINE_BYTES,
            future_margin_secs: ARCHIVE_MARGIN_SECS,
            window: TimeWindow::live(clock_now(), ARCHIVE_MARGIN_SECS),
            closed_requests: HashMap::new(),
        }
    }

    /// Lines dated more than `secs` past the clock (one day by default; an
    /// hour suits a followed live log), or before 1990, are implausible:
    /// counted and skipped.
    pub fn with_future_margin(mut self, secs: i64) -> Self {
        self.future_margin_secs = secs;
        self.window = TimeWindow::live(clock_now(), secs);
        self
    }

    /// The requests counted in the closed bin at `bin_start`, once: the
    /// records behind it, for [`BinSink::write_weighted`].
    pub fn take_requests(&mut self, bin_start: UnixSecs) -> Option<u64> {
        self.closed_requests.remove(&bin_start)
    }

    /// Changes the line cap ([`MAX_LINE_BYTES`] by default; at least 1 KiB).
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max.max(1024);
        self
    }

    /// Lines longer than this many bytes are skipped by the readers.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Counts a line the reader skipped for being longer than the cap.
    pub fn skip_long_line(&mut self, source: &str, line_number: u64, len: u64) {
        self.stats.lines += 1;
        self.stats.bad_lines += 1;
        self.stats.long_lines += 1;
        if self.stats.bad_line_examples.len() < MAX_BAD_LINE_EXAMPLES {
            let max = self.max_line_bytes;
            self.stats.bad_line_examples.push(format!(
                "{source}:{line_number}: line of {len} bytes, over the {max}-byte cap (skipped)"
            ));
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &LogStats {
        &self.stats
    }

    /// Adds one line; `source` and `line_number` name it in error examples.
    /// Returns the bins this line's time closed.
    pub fn add_line(&mut self, line: &[u8], source: &str, line_number: u64) -> Vec<SignalBin> {
        self.stats.lines += 1;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Vec::new();
        }
        let parsed = match parse_line(line) {
            Ok(p) => p,
            Err(e) => {
                self.stats.bad_lines += 1;
                if self.stats.bad_line_examples.len() < MAX_BAD_LINE_EXAMPLES {
                    self.stats
                        .bad_line_examples
                        .push(format!("{source}:{line_number}: {e}"));
                }
                return Vec::new();
            }
        };
        if !self.window.contains(parsed.time) {
            self.window = TimeWindow::live(clock_now(), self.future_margin_secs);
        }
        if let Err(why) = self.window.check(parsed.time) {
            self.stats.bad_lines += 1;
            self.stats.implausible_lines += 1;
            if self.stats.bad_line_examples.len() < MAX_BAD_LINE_EXAMPLES {
                self.stats.bad_line_examples.push(format!(
                    "{source}:{line_number}: {why}; skipped as implausible"
                ));
            }
            return Vec::new();
        }
        let Some(bin) = self.bins.get_mut(parsed.time) else {
            self.stats.late_lines += 1;
            return Vec::new();
        };
        *bin.requests.entry(unit_of_ip(parsed.client)).or_default() += 1;
        self.stats.requests += 1;
        if self.latest.is_none_or(|t| parsed.time > t) {
            self.latest = Some(parsed.time);
            return self.close_until(parsed.time - self.grace_secs);
        }
        Vec::new()
    }

    /// Closes every bin that ends at or before `t`.
    pub fn close_until(&mut self, t: UnixSecs) -> Vec<SignalBin> {
        let closed = self.bins.close_until(t);
        closed
            .into_iter()
            .map(|(start, bin)| self.finish(start, bin))
            .collect()
    }

    /// Closes every open bin (end of input).
    pub fn close_all(&mut self) -> Vec<SignalBin> {
        let closed = self.bins.close_all();
        closed
            .into_iter()
            .map(|(start, bin)| self.finish(start, bin))
            .collect()
    }

    fn finish(&mut self, bin_start: UnixSecs, bin: LogBin) -> SignalBin {
        let requests: u64 = bin.requests.values().sum();
        self.closed_requests.insert(bin_start, requests);
        let mut values = BTreeMap::new();
        for (unit, requests) in &bin.requests {
            for_each_entity(&self.geo, self.kinds, *unit, |entity| {
                add_value(
                    &mut values,
                    entity.clone(),
                    SignalKind::HttpRequests,
                    *requests as f64,
                );
                add_value(
                    &mut values,
                    entity,
                    SignalKind::HttpUniqueClientSlash24s,
                    1.0,
                );
            });
        }
        SignalBin {
            bin_start,
            bin: self.bins.bin(),
            values: self.seen.complete(values),
        }
    }
}

/// Opens a log file for [`read_lines`]; `.gz` files (rotated logs) are
/// decompressed, and `-` is standard input.
pub fn open_log(path: &Path) -> Result<Box<dyn BufRead>, String> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// A line being read by [`read_capped`], possibly over several calls (a
/// followed file's partial line).
#[derive(Debug, Default)]
struct CappedLine {
    /// The line's bytes, while it is within the cap.
    bytes: Vec<u8>,
    /// Bytes of the line read so far (kept or not).
    len: u64,
    /// The line went over the cap: its bytes are dropped as they come.
    overlong: bool,
}

impl CappedLine {
    fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
        self.overlong = false;
    }

    /// Hands the line to `aggregator` (counted as too long if it was) and clears it.
    fn finish(
        &mut self,
        aggregator: &mut AccessLogAggregator,
        source: &str,
        number: u64,
    ) -> Vec<SignalBin> {
        let bins = if self.overlong {
            aggregator.skip_long_line(source, number, self.len);
            Vec::new()
        } else {
            aggregator.add_line(&self.bytes, source, number)
        };
        self.clear();
        bins
    }
}

/// Reads up to the next newline into `line`, keeping at most `max` bytes
/// of it (beyond that the line is marked over-long and its bytes dropped).
/// Returns the bytes consumed and whether the line ended with a newline.
fn read_capped(
    reader: &mut impl BufRead,
    line: &mut CappedLine,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, false));
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.map_or(available.len(), |i| i + 1)];
        line.len += chunk.len() as u64;
        if !line.overlong && line.bytes.len() + chunk.len() <= max {
            line.bytes.extend_from_slice(chunk);
        } else if !line.overlong {
            line.overlong = true;
            line.bytes = Vec::new();
        }
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if newline.is_some() {
            return Ok((consumed, true));
        }
    }
}

/// Reads every line of `reader` (a file, stdin), writing closed bins to
/// `sink` as the log's time moves on. Lines over the aggregator's cap are
/// counted and skipped without being held whole. Open bins stay open: call
/// [`AccessLogAggregator::close_all`] at the very end.
pub fn read_lines(
    reader: impl BufRead,
    source: &str,
    aggregator: &mut AccessLogAggregator,
    sink: &mut dyn BinSink,
) -> Result<(), String> {
    let mut reader = reader;
    let mut line = CappedLine::default();
    let max = aggregator.max_line_bytes();
    let mut number = 0u64;
    loop {
        let (n, _) = read_capped(&mut reader, &mut line, max)
            .map_err(|e| format!("{source}: read error after line {number}: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let closed = line.finish(aggregator, source, number);
        write_all(sink, aggregator, closed)?;
    }
}

/// How [`follow_file`] reads.
#[derive(Clone, Copy, Debug)]
pub struct FollowOptions {
    /// Read the file from its start (else only lines written from now on).
    pub from_start: bool,
    /// How often to look for new lines, rotation and truncation.
    pub poll: Duration,
    /// When the log is quiet, close bins by wall clock, `grace_secs` after
    /// their end (a live log); off, only the log's own time closes bins.
    pub close_quiet_bins: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            from_start: false,
            poll: Duration::from_millis(250),
            close_quiet_bins: true,
        }
    }
}

#[cfg(unix)]
fn file_identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Follows a log file being written, like `tail -F`: reads what is there
/// (from the start if `from_start`, else from the end), then new lines as
/// they come; when the file is rotated (a new file under the same name) or
/// truncated, reads the new file from its start. A missing file is waited
/// for. Closed bins go to `sink`. Returns when `stop` is set, after
/// closing every bin.
pub fn follow_file(
    path: &Path,
    options: FollowOptions,
    aggregator: &mut AccessLogAggregator,
    stop: &AtomicBool,
    sink: &mut dyn BinSink,
) -> Result<(), String> {
    let source = path.display().to_string();
    let mut current: Option<(BufReader<File>, (u64, u64), u64)> = None;
    let mut first_open = true;
    let mut pending = CappedLine::default();
    let max = aggregator.max_line_bytes();
    let mut number = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if current.is_none() {
            if let Ok(mut file) = File::open(path) {
                let meta = file.metadata().map_err(|e| format!("{source}: {e}"))?;
                let mut position = 0;
                if first_open && !options.from_start {
                    position = file
                        .seek(SeekFrom::End(0))
                        .map_err(|e| format!("{source}: {e}"))?;
                }
                first_open = false;
                pending.clear();
                current = Some((BufReader::new(file), file_identity(&meta), position));
            }
        }
        let mut got_line = false;
        if let Some((reader, _, position)) = current.as_mut() {
            loop {
                let (n, complete) = read_capped(reader, &mut pending, max)
                    .map_err(|e| format!("{source}: read error after line {number}: {e}"))?;
                *position += n as u64;
                if !complete {
                    break; // end of what is written; a partial line waits
                }
                number += 1;
                got_line = true;
                let closed = pending.finish(aggregator, &source, number);
                write_all(sink, aggregator, closed)?;
            }
        }
        if !got_line {
            // Rotated, truncated or removed?
            let reopen = match (&current, std::fs::metadata(path)) {
                (Some((_, identity, position)), Ok(meta)) => {
                    file_identity(&meta) != *identity || meta.len() < *position
                }
                (Some(_), Err(_)) => false, // removed: keep the old one until a new file appears
                (None, _) => false,
            };
            if reopen {
                // Drain what the old file still holds, then switch.
                if let Some((mut reader, _, _)) = current.take() {
                    while let Ok((n, complete)) = read_capped(&mut reader, &mut pending, max) {
                        if pending.len > u64::from(complete) {
                            number += 1;
                            let closed = pending.finish(aggregator, &source, number);
                            write_all(sink, aggregator, closed)?;
                        }
                        pending.clear();
                        if n == 0 || !complete {
                            break;
                        }
                    }
                    pending.clear();
                }
                continue;
            }
            if options.close_quiet_bins {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let closed = aggregator.close_until(now - aggregator.grace_secs);
                write_all(sink, aggregator, closed)?;
            }
            record_log_stats(&source, aggregator.stats());
            std::thread::sleep(options.poll);
        }
    }
    record_log_stats(&source, aggregator.stats());
    let closed = aggregator.close_all();
    write_all(sink, aggregator, closed)
}

/// Records a followed log's counts so far as counters of the `metrics`
/// facade (absolute: the aggregator keeps them), labelled by the log's
/// path: `vigie_access_log_lines_total`, `vigie_access_log_requests_total`,
/// `vigie_access_log_bad_lines_total`, `vigie_access_log_late_lines_total`.
/// [`follow_file`] calls it whenever it has caught up with the file.
pub fn record_log_stats(log: &str, stats: &LogStats) {
    let log = log.to_string();
    metrics::counter!("vigie_access_log_lines_total", "log" => log.clone()).absolute(stats.lines);
    metrics::counter!("vigie_access_log_requests_total", "log" => log.clone())
        .absolute(stats.requests);
    metrics::counter!("vigie_access_log_bad_lines_total", "log" => log.clone())
        .absolute(stats.bad_lines);
    metrics::counter!("vigie_access_log_late_lines_total", "log" => log).absolute(stats.late_lines);
}

/// Writes closed bins to `sink`, oldest first, each weighted by the
/// requests counted in it (a sink keeps a bin it holds from more lines).
pub fn write_all(
    sink: &mut dyn BinSink,
    aggregator: &mut AccessLogAggregator,
    bins: Vec<SignalBin>,
) -> Result<(), String> {
    for bin in &bins {
        let requests = aggregator.take_requests(bin.bin_start).unwrap_or(0);
        sink.write_weighted(bin, requests)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_and_common_lines() {
        let line = br#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08""#;
        let parsed = parse_line(line).unwrap();
        assert_eq!(parsed.client, "203.0.113.9".parse::<IpAddr>().unwrap());
        // 2000-10-10T20:55:36Z
        assert_eq!(parsed.time, 971_211_336);
        let common = br#"2001:db8::1 - - [01/Jan/2025:00:00:00 +0000] "GET / HTTP/2.0" 404 -"#;
        assert_eq!(parse_line(common).unwrap().time, 1_735_689_600);
        let escaped =
            br#"198.51.100.1 - - [01/Jan/2025:00:00:00 +0000] "GET /\"x\" HTTP/1.1" 400 0 "-" "-""#;
        assert!(parse_line(escaped).is_ok());
    }

    /// Issue 14, finding 1: a line dated 9999 (or 1970) is counted as
    /// implausible and never moves the log's time, so the lines after it
    /// are not late; each closed bin is weighted by its requests.
    #[test]
    fn implausible_lines_are_skipped_without_making_later_lines_late() {
        let mut aggregator = AccessLogAggregator::new(GeoDb::empty(), BinSize::FIVE_MINUTES, 300);
        let line = |time: &str| format!("203.0.113.9 - - [{time}] \"GET / HTTP/1.1\" 200 1");
        let mut bins = Vec::new();
        for (n, time) in [
            "06/Jan/2025:12:00:01 +0000",
            "06/Jan/9999:12:00:01 +0000",
            "01/Jan/1970:00:00:01 +0000",
            "06/Jan/2025:12:01:00 +0000",
            "06/Jan/2025:12:20:00 +0000",
        ]
        .iter()
        .enumerate()
        {
            bins.extend(aggregator.add_line(line(time).as_bytes(), "log", n as u64 + 1));
        }
        let stats = aggregator.stats();
        assert_eq!(stats.implausible_lines, 2);
        assert_eq!(stats.late_lines, 0);
        assert_eq!(stats.requests, 3);
        assert!(stats.bad_line_examples[0]
            .starts_with("log:2: time 9999-01-06T12:00:01Z is in the future"));
        let first = bins.first().expect("the 12:00 bin closed");
        assert_eq!(aggregator.take_requests(first.bin_start), Some(2));
        assert_eq!(aggregator.take_requests(first.bin_start), None);
    }

    #[test]
    fn rejects_other_text() {
        assert_eq!(parse_line(b"hello world"), Err(LineError::BadClient));
        assert_eq!(
            parse_line(b"1.2.3.4 - - [32/Oct/2000:13:55:36 -0700] \"GET /\" 200 1"),
            Err(LineError::BadTime)
        );
        assert_eq!(
            parse_line(b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] GET / 200 1"),
            Err(LineError::BadRequest)
        );
        assert_eq!(
            parse_line(b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" abc"),
            Err(LineError::BadRequest)
        );
        assert_eq!(
            parse_line("1.2.3.4 - - [10/Oct/2000:13:55:3é -0700]".as_bytes()),
            Err(LineError::BadTime)
        );
        // No 30 February, no 25th hour, no 1-digit day, no colon offset.
        for time in [
            "30/Feb/2024:10:00:00 +0000",
            "10/Oct/2000:24:00:00 +0000",
            "1/Oct/2000:13:55:36 -0700",
            "10/Oct/2000:13:55:36 -07:00",
        ] {
            let line = format!("1.2.3.4 - - [{time}] \"GET /\" 200 1");
            assert_eq!(
                parse_line(line.as_bytes()),
                Err(LineError::BadTime),
                "{time}"
            );
        }
    }

    #[test]
    fn times_are_utc_whatever_the_offset() {
        let at = |time: &str| {
            let line = format!("1.2.3.4 - - [{time}] \"GET /\" 200 1");
            parse_line(line.as_bytes()).map(|l| l.time)
        };
        // 2024-02-29T12:00:00Z, a leap day, written in three zones.
        assert_eq!(at("29/Feb/2024:12:00:00 +0000"), Ok(1_709_208_000));
        assert_eq!(at("29/Feb/2024:17:30:00 +0530"), Ok(1_709_208_000));
        assert_eq!(at("29/Feb/2024:07:00:00 -0500"), Ok(1_709_208_000));
        // Across midnight and the year: 2025-01-01T01:00:00Z.
        assert_eq!(at("31/Dec/2024:23:00:00 -0200"), Ok(1_735_693_200));
    }
}
