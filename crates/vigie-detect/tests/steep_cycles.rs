//! vigie's detector on traffic with a steep but normal daily cycle: nights
//! at 0.26 of the daytime peak, falling up to ~27% per hour in the evening
//! (flows, HTTP requests). The cycle is smooth, so it must raise no alarm,
//! not even on the first nights; an abrupt cut on top of it is still found
//! with its onset to the bin.
//!
//! Counts from 500 to 20 000 requests per bin at the peak (130 to 5 200 at
//! night), Poisson noise, ±2% jitter and a slow wander of the level. At
//! 150 per bin (40 at night) a few false alarms remain (about one per 19
//! series-days, most on the first night, judged against the last hour).

use vigie_detect::{detect_series, fuse, SignalEvent, VigieConfig};
use vigie_model::{format_utc, BinSize, Series, SeriesKey, UnixSecs};

/// 2022-01-03T00:00:00Z, a Monday.
const T0: UnixSecs = 1_641_168_000;
const STEP: i64 = 300;
const BINS_PER_DAY: usize = 288;
const DAYS: usize = 24;

/// The hourly traffic curve (hour centres, fraction of the peak): a night
/// trough of 0.26 at 04:00, the evening fall steepest at ~27% per hour.
const CURVE: [f64; 24] = [
    0.55, 0.42, 0.33, 0.28, 0.26, 0.27, 0.33, 0.45, 0.58, 0.68, 0.74, 0.78, 0.80, 0.80, 0.80, 0.81,
    0.83, 0.86, 0.90, 0.95, 1.00, 1.00, 0.92, 0.75,
];
/// The curve is in local time, UTC+6.
const UTC_OFFSET_HOURS: f64 = 6.0;

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The curve at `hour_pos` (hours since midnight), linear between hour centres.
fn curve_at(hour_pos: f64) -> f64 {
    let position = hour_pos - 0.5;
    let h0 = position.floor();
    let fraction = position - h0;
    let at = |h: f64| CURVE[(h as i64).rem_euclid(24) as usize];
    at(h0) * (1.0 - fraction) + at(h0 + 1.0) * fraction
}

/// The weekly factor at bin `i`: Saturday and Sunday (local time) at
/// `weekend` of a weekday. Real traffic has no step at midnight (people are
/// asleep, and the weekend differs by day), so a day's factor takes over
/// from the previous day's gradually over the local night, 00:00 to 06:00.
fn weekly_factor(i: usize, weekend: f64) -> f64 {
    let local_hours = i as f64 / 12.0 + UTC_OFFSET_HOURS;
    let day = (local_hours / 24.0).floor() as i64;
    // T0 is a Monday: days 5 and 6 of each week are the weekend.
    let factor = |d: i64| if d.rem_euclid(7) >= 5 { weekend } else { 1.0 };
    let into_night = ((local_hours - 24.0 * day as f64) / 6.0).min(1.0);
    factor(day - 1) + (factor(day) - factor(day - 1)) * into_night
}

/// An abrupt cut: from `start_bin`, for `bins`, the value keeps `kept`.
#[derive(Clone, Copy)]
struct Cut {
    start_bin: usize,
    bins: usize,
    kept: f64,
}

/// `DAYS` days of 5-minute HTTP request counts at `peak` requests per bin
/// at the busiest hour, with Poisson-like counting noise, a slow wander of
/// the level (±3% over a day) and ±2% bin noise; weekends at `weekend` of
/// a weekday.
fn generate(seed: u64, peak: f64, weekend: f64, cuts: &[Cut]) -> Series {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut wander = 0.0f64;
    let values = (0..DAYS * BINS_PER_DAY)
        .map(|i| {
            let hour_pos = (i % BINS_PER_DAY) as f64 / 12.0 + UTC_OFFSET_HOURS;
            let week = weekly_factor(i, weekend);
            wander = 0.995 * wander + 0.003 * rng.normal();
            let expected = peak * curve_at(hour_pos) * week * (1.0 + wander.clamp(-0.05, 0.05));
            let noisy = expected * (1.0 + 0.02 * (2.0 * rng.uniform() - 1.0))
                + expected.sqrt() * rng.normal();
            let kept = cuts
                .iter()
                .find(|c| i >= c.start_bin && i < c.start_bin + c.bins)
                .map_or(1.0, |c| c.kept);
            Some((noisy * kept).max(0.0).round())
        })
        .collect();
    Series {
        key: SeriesKey {
            entity: "KZ".parse().expect("entity"),
            signal: "http-requests".parse().expect("signal"),
        },
        bin: BinSize::default(),
        start: T0,
        values,
    }
}

fn describe(events: &[SignalEvent]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}..{} depth {:.2}",
                format_utc(e.start),
                e.end.map_or("open".to_string(), format_utc),
                e.depth
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn the_curve_is_as_steep_as_real_traffic() {
    let trough = CURVE.iter().copied().fold(f64::INFINITY, f64::min);
    let peak = CURVE.iter().copied().fold(0.0, f64::max);
    assert!((trough / peak - 0.26).abs() < 1e-9);
    let steepest = (0..24)
        .map(|h| CURVE[(h + 1) % 24] / CURVE[h] - 1.0)
        .fold(0.0, f64::min);
    assert!(
        (-0.29..=-0.25).contains(&steepest),
        "steepest hourly fall {steepest:.3}"
    );
}

#[test]
fn a_steep_smooth_daily_cycle_raises_no_alarm() {
    let config = VigieConfig::default();
    for (weekend, peak) in [
        (1.0, 500.0),
        (1.0, 2000.0),
        (1.0, 20_000.0),
        (0.8, 500.0),
        (0.8, 2000.0),
        (0.8, 20_000.0),
    ] {
        for seed in 1..=3u64 {
            let series = generate(seed, peak, weekend, &[]);
            let detection = detect_series(&series, &config);
            let incidents = fuse(
                &series.key.entity,
                std::slice::from_ref(&detection),
                &config,
            );
            assert!(
                detection.events.is_empty() && incidents.is_empty(),
                "weekend {weekend}, peak {peak}, seed {seed}: {} events: {}",
                detection.events.len(),
                describe(&detection.events)
            );
        }
    }
}

#[test]
fn an_abrupt_cut_in_a_steep_cycle_is_found_to_the_bin() {
    let config = VigieConfig::default();
    // 90% lost for 4 h: on day 16 (a Wednesday) from 13:00 UTC (19:00
    // local, the evening peak), on day 18 from 02:00 UTC (08:00 local, the
    // morning rise) and on day 19 from 21:00 UTC (03:00 local, the trough).
    for (start_bin, weekend) in [
        (16 * BINS_PER_DAY + 13 * 12, 1.0),
        (16 * BINS_PER_DAY + 13 * 12, 0.8),
        (18 * BINS_PER_DAY + 2 * 12, 0.8),
        (19 * BINS_PER_DAY + 21 * 12, 0.8),
    ] {
        for seed in 1..=3u64 {
            let cut = Cut {
                start_bin,
                bins: 48,
                kept: 0.1,
            };
            let series = generate(seed, 2000.0, weekend, &[cut]);
            let detection = detect_series(&series, &config);
            let events = &detection.events;
            assert_eq!(
                events.len(),
                1,
                "cut at bin {start_bin}, weekend {weekend}, seed {seed}: {}",
                describe(events)
            );
            let onset = T0 + start_bin as i64 * STEP;
            let end = onset + 48 * STEP;
            assert!(
                (events[0].start - onset).abs() <= STEP,
                "onset {} for {}",
                format_utc(events[0].start),
                format_utc(onset)
            );
            assert!(
                events[0].end.is_some_and(|e| (e - end).abs() <= 2 * STEP),
                "end {:?} for {}",
                events[0].end.map(format_utc),
                format_utc(end)
            );
            let incidents = fuse(
                &series.key.entity,
                std::slice::from_ref(&detection),
                &config,
            );
            assert_eq!(incidents.len(), 1);
        }
    }
}
