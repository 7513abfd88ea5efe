//! The plausibility window on time, the one rule every input goes through:
//! a record dated before 1990, or more than a margin past "now" (the clock
//! for live inputs, the newest file time for archives), is counted,
//! reported and never stored. Readers use the same window to skip bins an
//! older vigie stored without it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{format_utc, BinSink, Series, SignalBin, SinkError, TimeRange, UnixSecs, WriteOutcome};

/// The earliest plausible time: 1990-01-01T00:00:00Z, before any signal
/// vigie reads (BGP archives start in 1999).
pub const EARLIEST_PLAUSIBLE: UnixSecs = 631_152_000;

/// Default margin past the clock for live inputs (collectors, followed
/// logs): one hour.
pub const LIVE_MARGIN_SECS: i64 = 3_600;

/// Default margin past the newest file time for archives (MRT dumps,
/// imports, access logs read whole): one day.
pub const ARCHIVE_MARGIN_SECS: i64 = 86_400;

/// How many dropped times a [`WindowedSink`] quotes.
const MAX_EXAMPLES: usize = 10;

/// The current time by the system clock, Unix seconds.
pub fn clock_now() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as UnixSecs)
        .unwrap_or(0)
}

/// The times an input may plausibly carry: `[earliest, latest]`, both
/// inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    earliest: UnixSecs,
    latest: UnixSecs,
}

/// Why a time is outside a [`TimeWindow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImplausibleTime {
    /// Before the window's start (1990 unless set otherwise).
    #[error("time {} is before {}, the earliest plausible time", format_utc(*.time), format_utc(*.earliest))]
    TooEarly {
        /// The time found.
        time: UnixSecs,
        /// The window's start.
        earliest: UnixSecs,
    },
    /// After the window's end (a margin past the clock or the newest file).
    #[error("time {} is in the future: after {}, the latest plausible time", format_utc(*.time), format_utc(*.latest))]
    TooLate {
        /// The time found.
        time: UnixSecs,
        /// The window's end.
        latest: UnixSecs,
    },
}

impl TimeWindow {
    /// The window `[earliest, latest]` (swapped if given reversed).
    pub fn new(earliest: UnixSecs, latest: UnixSecs) -> Self {
        TimeWindow {
            earliest: earliest.min(latest),
            latest: latest.max(earliest),
        }
    }

    /// From 1990 to `margin_secs` past `now`: the window of live inputs.
    pub fn live(now: UnixSecs, margin_secs: i64) -> Self {
        TimeWindow::new(EARLIEST_PLAUSIBLE, now.saturating_add(margin_secs))
    }

    /// From 1990 to [`LIVE_MARGIN_SECS`] past the clock.
    pub fn live_now() -> Self {
        TimeWindow::live(clock_now(), LIVE_MARGIN_SECS)
    }

    /// The window of an archive: from 1990 to `margin_secs` past its newest
    /// file time (a file's name or header time), or past `now` when no file
    /// says; never past `now` plus the margin (a file named in the future
    /// does not widen it).
    pub fn archive(newest_file_time: Option<UnixSecs>, now: UnixSecs, margin_secs: i64) -> Self {
        let reference = newest_file_time.map_or(now, |t| t.min(now));
        TimeWindow::new(EARLIEST_PLAUSIBLE, reference.saturating_add(margin_secs))
    }

    /// The window of what a store may hold now: from 1990 to
    /// [`ARCHIVE_MARGIN_SECS`] past the clock. Readers skip bins outside
    /// it; `vigie store check` reports them.
    pub fn stored_now() -> Self {
        TimeWindow::live(clock_now(), ARCHIVE_MARGIN_SECS)
    }

    /// The earliest plausible time.
    pub fn earliest(self) -> UnixSecs {
        self.earliest
    }

    /// The latest plausible time.
    pub fn latest(self) -> UnixSecs {
        self.latest
    }

    /// Whether `t` is plausible.
    pub fn contains(self, t: UnixSecs) -> bool {
        self.earliest <= t && t <= self.latest
    }

    /// `Ok` when `t` is plausible, else why not.
    pub fn check(self, t: UnixSecs) -> Result<(), ImplausibleTime> {
        if t < self.earliest {
            Err(ImplausibleTime::TooEarly {
                time: t,
                earliest: self.earliest,
            })
        } else if t > self.latest {
            Err(ImplausibleTime::TooLate {
                time: t,
                latest: self.latest,
            })
        } else {
            Ok(())
        }
    }

    /// The part of `[from, until)` inside the window, `None` if nothing is.
    pub fn clamp(self, from: UnixSecs, until: UnixSecs) -> Option<TimeRange> {
        let from = from.max(self.earliest);
        let until = until.min(self.latest.saturating_add(1));
        TimeRange::new(from, until).ok()
    }
}

/// A sink that passes on only bins inside a [`TimeWindow`]: the others are
/// counted and their times kept for the report, never written.
pub struct WindowedSink<'a> {
    inner: &'a mut dyn BinSink,
    window: TimeWindow,
    /// For a live source: the window's end follows the clock, this margin
    /// past it.
    follow_clock: Option<i64>,
    dropped: u64,
    examples: Vec<UnixSecs>,
}

impl<'a> WindowedSink<'a> {
    /// Wraps `inner`, dropping bins outside `window`.
    pub fn new(inner: &'a mut dyn BinSink, window: TimeWindow) -> Self {
        WindowedSink {
            inner,
            window,
            follow_clock: None,
            dropped: 0,
            examples: Vec::new(),
        }
    }

    /// Wraps `inner` for a live source: bins before 1990 or more than
    /// `margin_secs` past the clock at the time of writing are dropped
    /// ([`LIVE_MARGIN_SECS`] suits collectors).
    pub fn live(inner: &'a mut dyn BinSink, margin_secs: i64) -> Self {
        let mut sink = WindowedSink::new(inner, TimeWindow::live(clock_now(), margin_secs));
        sink.follow_clock = Some(margin_secs);
        sink
    }

    /// The window applied (for a live sink, at the last write).
    pub fn window(&self) -> TimeWindow {
        self.window
    }

    fn contains(&mut self, t: UnixSecs) -> bool {
        if let Some(margin) = self.follow_clock {
            self.window = TimeWindow::live(clock_now(), margin);
        }
        self.window.contains(t)
    }

    /// How many bins (or series points) were dropped as implausible.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The first few dropped bin times.
    pub fn dropped_examples(&self) -> &[UnixSecs] {
        &self.examples
    }

    fn admit(&mut self, t: UnixSecs) -> bool {
        if self.contains(t) {
            return true;
        }
        self.dropped += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(t);
        }
        false
    }
}

impl BinSink for WindowedSink<'_> {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if self.admit(bin.bin_start) {
            self.inner.write(bin)
        } else {
            Ok(())
        }
    }

    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        if self.admit(bin.bin_start) {
            self.inner.write_weighted(bin, records)
        } else {
            Ok(WriteOutcome::Written)
        }
    }

    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if self.contains(bin.bin_start) {
            self.inner.write_provisional(bin)
        } else {
            Ok(())
        }
    }

    fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if self.contains(bin.bin_start) {
            self.inner.retract_provisional(bin)
        } else {
            Ok(())
        }
    }

    /// Cuts each series to the window; points outside count as dropped
    /// when they hold a value.
    fn write_series(&mut self, series: &[Series]) -> Result<(), SinkError> {
        let mut kept = Vec::with_capacity(series.len());
        for one in series {
            let step = i64::from(one.bin.secs());
            let mut first = None;
            let mut last = None;
            for (i, (t, value)) in one.points().enumerate() {
                if self.contains(t) {
                    first.get_or_insert(i);
                    last = Some(i);
                } else if value.is_some() {
                    self.admit(t);
                }
            }
            if let (Some(first), Some(last)) = (first, last) {
                kept.push(Series {
                    key: one.key.clone(),
                    bin: one.bin,
                    start: one.start + first as i64 * step,
                    values: one.values[first..=last].to_vec(),
                });
            }
        }
        self.inner.write_series(&kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BinSize, SeriesKey, SignalKind};

    fn key() -> SeriesKey {
        SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::HttpRequests,
        }
    }

    #[test]
    fn the_window_runs_from_1990_to_a_margin_past_now() {
        let now = 1_700_000_000;
        let live = TimeWindow::live(now, LIVE_MARGIN_SECS);
        assert!(live.contains(now + 3_600));
        assert!(!live.contains(now + 3_601));
        assert!(!live.contains(EARLIEST_PLAUSIBLE - 1));
        assert!(matches!(
            live.check(4_102_444_800),
            Err(ImplausibleTime::TooLate { .. })
        ));
        assert!(matches!(
            live.check(0),
            Err(ImplausibleTime::TooEarly { .. })
        ));
        let archive = TimeWindow::archive(Some(1_000_000_000), now, ARCHIVE_MARGIN_SECS);
        assert_eq!(archive.latest(), 1_000_086_400);
        // A file named in the future does not widen the window.
        let future = TimeWindow::archive(Some(now * 2), now, ARCHIVE_MARGIN_SECS);
        assert_eq!(future.latest(), now + 86_400);
        assert_eq!(
            live.clamp(0, i64::MAX).map(|r| (r.from(), r.until())),
            Some((EARLIEST_PLAUSIBLE, now + 3_601))
        );
        assert_eq!(live.clamp(now * 2, now * 3), None);
    }

    #[test]
    fn a_windowed_sink_drops_and_counts_implausible_bins() {
        let bin = |start| SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: start,
            values: vec![(key(), Some(1.0))],
        };
        let mut kept: Vec<SignalBin> = Vec::new();
        let window = TimeWindow::new(EARLIEST_PLAUSIBLE, 1_700_000_000);
        let mut sink = WindowedSink::new(&mut kept, window);
        sink.write(&bin(1_600_000_200)).unwrap();
        sink.write(&bin(4_102_444_800)).unwrap();
        sink.write(&bin(300)).unwrap();
        sink.write_series(&[Series {
            key: key(),
            bin: BinSize::FIVE_MINUTES,
            start: 1_699_999_800,
            values: vec![Some(1.0), Some(2.0), Some(3.0), None],
        }])
        .unwrap();
        assert_eq!(sink.dropped(), 4);
        assert_eq!(
            sink.dropped_examples(),
            [4_102_444_800, 300, 1_700_000_100, 1_700_000_400]
        );
        let starts: Vec<UnixSecs> = kept.iter().map(|b| b.bin_start).collect();
        assert_eq!(starts, [1_600_000_200, 1_699_999_800]);

        let mut live_kept: Vec<SignalBin> = Vec::new();
        let mut live = WindowedSink::live(&mut live_kept, LIVE_MARGIN_SECS);
        live.write(&bin(clock_now() - 300)).unwrap();
        live.write(&bin(clock_now() + 2 * LIVE_MARGIN_SECS))
            .unwrap();
        assert_eq!(live.dropped(), 1);
        assert_eq!(live_kept.len(), 1);
    }
}
