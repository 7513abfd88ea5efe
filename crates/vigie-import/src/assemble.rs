//! Turns timestamped points into aligned [`Series`], reporting duplicates,
//! disorder, misalignment and mixed bin sizes.

use std::collections::{BTreeMap, HashMap};

use vigie_model::{
    clock_now, format_utc, BinSize, Series, SeriesKey, TimeWindow, UnixSecs, ARCHIVE_MARGIN_SECS,
};

use crate::report::{ImportReport, IssueKind};

/// The earliest time accepted: 1990-01-01, before any signal vigie reads.
pub const EARLIEST_SECS: UnixSecs = 631_152_000;
/// The latest time ever accepted: 2100-01-01. Times are also refused
/// when more than a day past the clock ([`time_in_range`]).
pub const LATEST_SECS: UnixSecs = 4_102_444_800;
/// The most bins one series may span (about ten years of five-minute bins);
/// older points beyond it are dropped and reported.
pub const MAX_BINS_PER_SERIES: usize = 1_100_000;
/// The most bins one import may allocate over all its series.
pub const MAX_BINS_PER_IMPORT: usize = 30_000_000;

/// One timestamped value and where it came from.
#[derive(Clone, Copy, Debug)]
struct Point {
    t: UnixSecs,
    value: Option<f64>,
    /// A line number (CSV) or a value index (JSON), for issue locations.
    origin: u64,
}

/// Checks a number read from a file: NaN and infinities and negative counts
/// are rejected (`None`: the row's value is not stored, and a value stored
/// before stays) and reported.
pub fn clean_value(
    raw: f64,
    report: &mut ImportReport,
    location: impl FnOnce() -> String,
) -> Option<f64> {
    if !raw.is_finite() {
        report.add(
            IssueKind::NotANumber,
            location(),
            format!("value {raw} is not a finite number; rejected, not stored"),
        );
        None
    } else if raw < 0.0 {
        report.add(
            IssueKind::Negative,
            location(),
            format!("value {raw} is negative, but signals count things; rejected, not stored"),
        );
        None
    } else {
        Some(raw)
    }
}

/// Checks that a time is plausible: from 1990, before 2100, and at most a
/// day past the clock (a file's rows carry no file time to go by).
pub fn time_in_range(t: UnixSecs) -> bool {
    (EARLIEST_SECS..LATEST_SECS).contains(&t)
        && TimeWindow::live(clock_now(), ARCHIVE_MARGIN_SECS).contains(t)
}

/// Why [`time_in_range`] refused `t`, for the report.
pub fn implausible_time(t: UnixSecs) -> String {
    format!(
        "time {} is outside the plausible window (1990 to a day past the clock)",
        format_utc(t)
    )
}

/// Collects points per series key, then builds aligned series.
#[derive(Default)]
pub struct SeriesBuilder {
    points: BTreeMap<SeriesKey, Vec<Point>>,
    last_time: HashMap<SeriesKey, UnixSecs>,
    bin_hints: HashMap<SeriesKey, BinSize>,
}

impl SeriesBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        SeriesBuilder::default()
    }

    /// Adds one point, reporting it when it comes before the previous point of
    /// the same series.
    pub fn push(
        &mut self,
        key: &SeriesKey,
        t: UnixSecs,
        value: Option<f64>,
        origin: u64,
        report: &mut ImportReport,
        location: impl FnOnce() -> String,
    ) {
        if let Some(&last) = self.last_time.get(key) {
            if t < last {
                report.add(
                    IssueKind::OutOfOrder,
                    location(),
                    format!(
                        "{} {} comes after {}; placed in its bin all the same",
                        key.signal,
                        format_utc(t),
                        format_utc(last)
                    ),
                );
            }
        }
        let last = self.last_time.entry(key.clone()).or_insert(t);
        *last = (*last).max(t);
        self.points
            .entry(key.clone())
            .or_default()
            .push(Point { t, value, origin });
    }

    /// Declares the bin size a source states for a series (IODA's `step`).
    /// Conflicting statements are reported and the finer one is kept.
    pub fn hint_bin(
        &mut self,
        key: &SeriesKey,
        bin: BinSize,
        report: &mut ImportReport,
        location: String,
    ) {
        match self.bin_hints.get(key).copied() {
            Some(known) if known != bin => {
                report.add(
                    IssueKind::MixedBinSizes,
                    location,
                    format!(
                        "{}: steps of {} s and {} s for the same series; using {} s bins",
                        describe_key(key),
                        known.secs(),
                        bin.secs(),
                        known.secs().min(bin.secs())
                    ),
                );
                if bin.secs() < known.secs() {
                    self.bin_hints.insert(key.clone(), bin);
                }
            }
            Some(_) => {}
            None => {
                self.bin_hints.insert(key.clone(), bin);
            }
        }
    }

    /// Builds one series per key. `bin` forces the bin size; otherwise each
    /// series uses the most common step between its rows. `describe` turns a
    /// point's origin into an issue location.
    pub fn finish(
        self,
        bin: Option<BinSize>,
        report: &mut ImportReport,
        describe: &dyn Fn(u64) -> String,
    ) -> Vec<Series> {
        let mut series_out = Vec::new();
        let mut bins_allocated = 0usize;
        for (key, mut points) in self.points {
            // Stable: equal times keep file order, so "first value wins" holds.
            points.sort_by_key(|p| p.t);
            let bin_size = match (bin, self.bin_hints.get(&key)) {
                (Some(bin), _) => bin,
                (None, Some(hint)) => *hint,
                (None, None) => infer_bin(&key, &points, report),
            };
            let step = i64::from(bin_size.secs());
            let Some(last) = points.last().map(|p| bin_size.floor(p.t)) else {
                continue;
            };
            // Keep the most recent span that fits in MAX_BINS_PER_SERIES.
            let earliest_kept = last - (MAX_BINS_PER_SERIES as i64 - 1) * step;
            let dropped = points.iter().take_while(|p| p.t < earliest_kept).count();
            if dropped > 0 {
                report.add(
                    IssueKind::Inconsistent,
                    describe(points[0].origin),
                    format!(
                        "{key_text}: times span more than {MAX_BINS_PER_SERIES} bins; \
                         {dropped} points before {} dropped",
                        format_utc(earliest_kept),
                        key_text = describe_key(&key)
                    ),
                );
                points.drain(..dropped);
            }
            let Some(first) = points.first().map(|p| bin_size.floor(p.t)) else {
                continue;
            };
            let len = ((last - first) / step) as usize + 1;
            if bins_allocated + len > MAX_BINS_PER_IMPORT {
                report.add(
                    IssueKind::Inconsistent,
                    describe(points[0].origin),
                    format!(
                        "{}: the import already holds {bins_allocated} bins, more than \
                         {MAX_BINS_PER_IMPORT} allowed at once; series skipped (split the file)",
                        describe_key(&key)
                    ),
                );
                continue;
            }
            bins_allocated += len;
            let mut values: Vec<Option<f64>> = vec![None; len];
            let mut written = vec![false; len];
            let mut misaligned = 0u64;
            for point in &points {
                let floor = bin_size.floor(point.t);
                if floor != point.t {
                    misaligned += 1;
                    if misaligned == 1 {
                        report.add(
                            IssueKind::Misaligned,
                            describe(point.origin),
                            format!(
                                "{}: {} is not on a {} s bin boundary; moved to {}",
                                describe_key(&key),
                                point.t,
                                step,
                                format_utc(floor)
                            ),
                        );
                    }
                }
                let index = ((floor - first) / step) as usize;
                let (Some(slot), Some(seen)) = (values.get_mut(index), written.get_mut(index))
                else {
                    continue;
                };
                if *seen {
                    let differs = match (*slot, point.value) {
                        (Some(a), Some(b)) => a != b,
                        _ => false,
                    };
                    report.add(
                        IssueKind::Duplicate,
                        describe(point.origin),
                        format!(
                            "{}: a second value for bin {}{}; the first was kept",
                            describe_key(&key),
                            format_utc(floor),
                            if differs { " that differs" } else { "" }
                        ),
                    );
                    if slot.is_none() {
                        *slot = point.value;
                    }
                    continue;
                }
                *seen = true;
                *slot = point.value;
                report.values_imported += 1;
            }
            if misaligned > 1 {
                *report.counts.entry(IssueKind::Misaligned).or_insert(0) += misaligned - 1;
            }
            series_out.push(Series {
                key,
                bin: bin_size,
                start: first,
                values,
            });
        }
        series_out
    }
}

fn describe_key(key: &SeriesKey) -> String {
    format!("{} {}", key.entity, key.signal)
}

/// The most common step between consecutive distinct times, as a valid bin
/// size; reports steps that do not fit it.
fn infer_bin(key: &SeriesKey, points: &[Point], report: &mut ImportReport) -> BinSize {
    let mut steps: BTreeMap<i64, u64> = BTreeMap::new();
    for pair in points.windows(2) {
        let step = pair[1].t - pair[0].t;
        if step > 0 {
            *steps.entry(step).or_insert(0) += 1;
        }
    }
    let Some((&mode, _)) = steps.iter().max_by_key(|(step, count)| (**count, -**step)) else {
        report.note(format!(
            "{}: a single time, bin size set to the default {} s",
            describe_key(key),
            BinSize::default().secs()
        ));
        return BinSize::default();
    };
    let bin = largest_valid_divisor(mode).unwrap_or_else(|| {
        report.note(format!(
            "{}: most common step {mode} s has no valid bin size; using {} s",
            describe_key(key),
            BinSize::default().secs()
        ));
        BinSize::default()
    });
    let step = i64::from(bin.secs());
    let odd: Vec<String> = steps
        .iter()
        .filter(|(s, _)| **s % step != 0)
        .map(|(s, n)| format!("{s} s ×{n}"))
        .collect();
    if !odd.is_empty() {
        report.add(
            IssueKind::MixedBinSizes,
            describe_key(key),
            format!(
                "steps between rows are mixed: most are {mode} s, also {}; using {} s bins \
                 (pass a bin size to override)",
                odd.join(", "),
                bin.secs()
            ),
        );
    }
    bin
}

/// The largest bin size (valid for [`BinSize::new`]) that divides `step`.
fn largest_valid_divisor(step: i64) -> Option<BinSize> {
    if step <= 0 {
        return None;
    }
    let capped = step.min(86_400);
    (60..=capped)
        .rev()
        .filter(|candidate| step % candidate == 0)
        .find_map(|candidate| {
            u32::try_from(candidate)
                .ok()
                .and_then(|c| BinSize::new(c).ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::SignalKind;

    fn key() -> SeriesKey {
        SeriesKey {
            entity: "IQ".parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        }
    }

    #[test]
    fn builds_aligned_series_and_reports_problems() {
        let mut report = ImportReport::new("test");
        let mut builder = SeriesBuilder::new();
        let t0 = 1_692_493_200;
        for (i, (t, v)) in [
            (t0, Some(1.0)),
            (t0 + 300, Some(2.0)),
            (t0 + 900, Some(4.0)),
            (t0 + 600, Some(3.0)), // out of order
            (t0 + 600, Some(9.0)), // duplicate that differs
            (t0 + 1250, None),     // misaligned
        ]
        .into_iter()
        .enumerate()
        {
            builder.push(&key(), t, v, i as u64, &mut report, || format!("row {i}"));
        }
        let series = builder.finish(None, &mut report, &|o| format!("row {o}"));
        assert_eq!(series.len(), 1);
        let s = &series[0];
        assert_eq!(s.bin.secs(), 300);
        assert_eq!(s.start, t0);
        assert_eq!(
            s.values,
            vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), None]
        );
        assert_eq!(report.count(IssueKind::OutOfOrder), 2);
        assert_eq!(report.count(IssueKind::Duplicate), 1);
        assert_eq!(report.count(IssueKind::Misaligned), 1);
        assert_eq!(report.count(IssueKind::MixedBinSizes), 1);
    }

    #[test]
    fn huge_spans_are_cut_not_allocated() {
        let mut report = ImportReport::new("test");
        let mut builder = SeriesBuilder::new();
        builder.push(
            &key(),
            EARLIEST_SECS,
            Some(1.0),
            1,
            &mut report,
            String::new,
        );
        builder.push(
            &key(),
            LATEST_SECS - 1,
            Some(1.0),
            2,
            &mut report,
            String::new,
        );
        let series = builder.finish(Some(BinSize::new(60).unwrap()), &mut report, &|o| {
            o.to_string()
        });
        assert_eq!(series[0].values.len(), 1);
        assert_eq!(report.count(IssueKind::Inconsistent), 1);
    }

    #[test]
    fn bad_values_become_no_data() {
        let mut report = ImportReport::new("t");
        assert_eq!(clean_value(f64::NAN, &mut report, String::new), None);
        assert_eq!(clean_value(-1.0, &mut report, String::new), None);
        assert_eq!(clean_value(0.0, &mut report, String::new), Some(0.0));
        assert_eq!(report.count(IssueKind::NotANumber), 1);
        assert_eq!(report.count(IssueKind::Negative), 1);
    }

    #[test]
    fn bin_is_a_valid_divisor_of_the_step() {
        assert_eq!(largest_valid_divisor(300).map(BinSize::secs), Some(300));
        assert_eq!(largest_valid_divisor(1800).map(BinSize::secs), Some(1800));
        assert_eq!(largest_valid_divisor(450).map(BinSize::secs), Some(450));
        assert_eq!(largest_valid_divisor(1000).map(BinSize::secs), Some(200));
        assert_eq!(largest_valid_divisor(7), None);
    }
}
