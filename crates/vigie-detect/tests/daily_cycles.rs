//! vigie's detector on generated signals with smooth daily and weekly
//! cycles, for the four signal families: false alarms stay rare whatever
//! the cycle's amplitude, and injected outages are found to the bin.
//!
//! The generator is the one of `vigie bench detect` in spirit (level ×
//! daily sinusoid × uniform noise, one missing bin in 500), written here so
//! every parameter can vary. Run with `--nocapture` to see the rates that
//! `docs/ACCURACY.md` reports.

use vigie_detect::{detect_series, SignalEvent, VigieConfig};
use vigie_model::{format_utc, BinSize, Series, SeriesKey, UnixSecs};

/// 2022-01-03T00:00:00Z, a Monday.
const T0: UnixSecs = 1_641_168_000;
const STEP: i64 = 300;
const BINS_PER_DAY: usize = 288;

/// The false-alarm bound: one per 30 series-days. The configuration's
/// budget is one false alarm per 1000 days per confirmation window (six
/// windows: about one per 170 days on Gaussian noise); 30 leaves room for
/// uniform rather than Gaussian noise, missing bins and the first day, when
/// the daily shape is still being learnt.
const MAX_FALSE_ALARMS_PER_SERIES_DAY: f64 = 1.0 / 30.0;

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
struct Spec {
    signal: &'static str,
    days: usize,
    /// Daily sinusoid amplitude (0.2 = ±20%).
    daily_amplitude: f64,
    /// Hour of the daily peak.
    peak_hour: f64,
    /// Uniform noise half-width (0.02 = ±2%).
    noise: f64,
    /// One bin in this many is missing (0 = none).
    missing_one_in: u64,
    /// Saturday and Sunday are this much lower (0.2 = 20% lower).
    weekend_dip: f64,
    seed: u64,
}

/// An injected outage: from `start_bin`, for `bins`, the value is
/// multiplied by `kept` (0 = full cut); optional restoration window
/// (offset from the start, length) inside it.
#[derive(Clone, Copy, Debug)]
struct Cut {
    start_bin: usize,
    bins: usize,
    kept: f64,
    restored: Option<(usize, usize)>,
}

impl Cut {
    fn covers(&self, i: usize) -> bool {
        if i < self.start_bin || i >= self.start_bin + self.bins {
            return false;
        }
        match self.restored {
            Some((from, len)) => {
                let offset = i - self.start_bin;
                !(from..from + len).contains(&offset)
            }
            None => true,
        }
    }
}

fn level_of(signal: &str) -> f64 {
    match signal {
        "bgp" => 3000.0,
        "ping-slash24" => 800.0,
        "merit-nt" => 400.0,
        // Google's traffic is a unitless index.
        _ => 0.6,
    }
}

fn generate(spec: &Spec, cuts: &[Cut]) -> Series {
    let mut rng = Rng(spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let level = level_of(spec.signal);
    let values = (0..spec.days * BINS_PER_DAY)
        .map(|i| {
            let missing =
                spec.missing_one_in > 0 && (rng.uniform() * spec.missing_one_in as f64) < 1.0;
            let noise = 1.0 + spec.noise * (2.0 * rng.uniform() - 1.0);
            if missing {
                return None;
            }
            let hour = (i % BINS_PER_DAY) as f64 / 12.0;
            let daily = 1.0
                + spec.daily_amplitude
                    * (std::f64::consts::TAU * (hour - spec.peak_hour + 6.0) / 24.0).sin();
            // T0 is a Monday: days 5 and 6 of each week are the weekend.
            let weekend = if (i / BINS_PER_DAY) % 7 >= 5 {
                1.0 - spec.weekend_dip
            } else {
                1.0
            };
            let kept = cuts.iter().find(|c| c.covers(i)).map_or(1.0, |c| c.kept);
            let v = level * daily * weekend * noise * kept;
            Some(if level >= 10.0 { v.round() } else { v })
        })
        .collect();
    Series {
        key: SeriesKey {
            entity: "KZ".parse().expect("entity"),
            signal: spec.signal.parse().expect("signal"),
        },
        bin: BinSize::default(),
        start: T0,
        values,
    }
}

fn at(bin: usize) -> UnixSecs {
    T0 + bin as i64 * STEP
}

fn describe(events: &[SignalEvent]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}..{} depth {:.3} evidence {:.1}",
                format_utc(e.start),
                e.end.map(format_utc).unwrap_or_default(),
                e.depth,
                e.evidence
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

const FAMILIES: [&str; 4] = ["bgp", "ping-slash24", "merit-nt", "gtr"];
const AMPLITUDES: [f64; 4] = [0.0, 0.05, 0.2, 0.4];

#[test]
fn smooth_daily_cycles_raise_no_false_alarms() {
    let config = VigieConfig::default();
    let days = 20;
    let mut total_events = 0usize;
    let mut total_days = 0usize;
    let mut seed = 1;
    for signal in FAMILIES {
        for amplitude in AMPLITUDES {
            let mut events = 0usize;
            let mut series_days = 0usize;
            for noise in [0.01, 0.02, 0.05] {
                for missing_one_in in [0, 500] {
                    seed += 1;
                    let spec = Spec {
                        signal,
                        days,
                        daily_amplitude: amplitude,
                        peak_hour: (seed % 24) as f64,
                        noise,
                        missing_one_in,
                        weekend_dip: 0.0,
                        seed,
                    };
                    let detection = detect_series(&generate(&spec, &[]), &config);
                    if !detection.events.is_empty() {
                        println!("{spec:?}: {}", describe(&detection.events));
                    }
                    events += detection.events.len();
                    series_days += days;
                }
            }
            println!(
                "{signal:>12} daily ±{:>2.0}%: {events} false events in {series_days} series-days",
                amplitude * 100.0
            );
            assert!(
                events as f64 <= MAX_FALSE_ALARMS_PER_SERIES_DAY * series_days as f64,
                "{signal} ±{amplitude}: {events} false events in {series_days} series-days"
            );
            total_events += events;
            total_days += series_days;
        }
    }
    println!("all: {total_events} false events in {total_days} series-days");
}

#[test]
fn weekend_dips_alarm_only_until_the_weekend_was_seen_twice() {
    // Saturday and Sunday 10–30% lower than weekdays. Until a weekday has
    // been seen twice its dip cannot be told from an outage (a signal that
    // falls 30% at midnight on its first Saturday may be an outage), so the
    // first two weekends may alarm; from the third weekend on, none may.
    let config = VigieConfig::default();
    let days = 28;
    let learnt_from = T0 + 14 * 86_400;
    let mut seed = 100;
    let mut early = 0;
    let mut late = 0;
    for signal in FAMILIES {
        for dip in [0.1, 0.2, 0.3] {
            for amplitude in [0.0, 0.2] {
                seed += 1;
                let spec = Spec {
                    signal,
                    days,
                    daily_amplitude: amplitude,
                    peak_hour: 14.0,
                    noise: 0.02,
                    missing_one_in: 500,
                    weekend_dip: dip,
                    seed,
                };
                let detection = detect_series(&generate(&spec, &[]), &config);
                for event in &detection.events {
                    if event.start < learnt_from {
                        early += 1;
                    } else {
                        late += 1;
                        println!("{spec:?}: {}", describe(std::slice::from_ref(event)));
                    }
                }
            }
        }
    }
    let series = FAMILIES.len() * 3 * 2;
    println!(
        "weekend dips, {series} series of {days} days: {early} events in the first two weeks, {late} after"
    );
    assert_eq!(late, 0, "weekend dips alarmed after two weekends");
    assert!(
        early <= 2 * series,
        "more than two alarms per series: {early}"
    );
}

#[test]
fn injected_outages_are_found_with_the_onset_to_the_bin() {
    let config = VigieConfig::default();
    let mut seed = 1000;
    let mut checked = 0;
    let mut end_errors_bins: Vec<i64> = Vec::new();
    for signal in FAMILIES {
        for amplitude in AMPLITUDES {
            // Full, 75% and 50% cuts; the telescope's minimum depth is 75%.
            let kept_levels: &[f64] = if signal == "merit-nt" {
                &[0.0, 0.15]
            } else {
                &[0.0, 0.25, 0.5]
            };
            for &kept in kept_levels {
                // 1 hour, 6 hours, 1 day; a full cut also for 3 days (a
                // partial drop lasting two days is relearnt as the new normal).
                let durations: &[usize] = if kept == 0.0 {
                    &[12, 72, 288, 864]
                } else {
                    &[12, 72, 288]
                };
                for &bins in durations {
                    seed += 1;
                    // Onsets at varied times of day, after four days (every
                    // window's noise is learnt after two days of seasonal
                    // baseline).
                    let start_bin = 4 * BINS_PER_DAY + (seed as usize * 37) % BINS_PER_DAY;
                    let cut = Cut {
                        start_bin,
                        bins,
                        kept,
                        restored: None,
                    };
                    let spec = Spec {
                        signal,
                        days: (start_bin + bins) / BINS_PER_DAY + 2,
                        daily_amplitude: amplitude,
                        peak_hour: 15.0,
                        noise: 0.02,
                        missing_one_in: 500,
                        weekend_dip: 0.0,
                        seed,
                    };
                    let detection = detect_series(&generate(&spec, &[cut]), &config);
                    let context = format!("{spec:?} {cut:?}: {}", describe(&detection.events));
                    assert_eq!(detection.events.len(), 1, "{context}");
                    let event = &detection.events[0];
                    assert!(
                        (event.start - at(start_bin)).abs() <= STEP,
                        "onset off by more than a bin: {context}"
                    );
                    let end = event.end.expect("the outage ended");
                    let end_error = (end - at(start_bin + bins)) / STEP;
                    assert!(
                        end_error.abs() <= 3,
                        "end off by {end_error} bins: {context}"
                    );
                    end_errors_bins.push(end_error);
                    assert!(
                        (event.depth - (1.0 - kept)).abs() < 0.1,
                        "depth {}: {context}",
                        event.depth
                    );
                    checked += 1;
                }
            }
        }
    }
    let exact_ends = end_errors_bins.iter().filter(|e| **e == 0).count();
    println!(
        "{checked} injected outages found, onsets within one bin; ends exact for {exact_ends}, all within {} bins",
        end_errors_bins.iter().map(|e| e.abs()).max().unwrap_or(0)
    );
}

#[test]
fn a_restoration_inside_an_outage_is_a_window_of_one_event() {
    let config = VigieConfig::default();
    for (k, signal) in FAMILIES.into_iter().enumerate() {
        for amplitude in [0.0, 0.2, 0.4] {
            // A full cut for 14 hours, with three hours of service back
            // after the first six.
            let start_bin = 11 * BINS_PER_DAY + 100 + 7 * k;
            let cut = Cut {
                start_bin,
                bins: 14 * 12,
                kept: 0.0,
                restored: Some((6 * 12, 3 * 12)),
            };
            let spec = Spec {
                signal,
                days: 14,
                daily_amplitude: amplitude,
                peak_hour: 12.0,
                noise: 0.02,
                missing_one_in: 0,
                weekend_dip: 0.0,
                seed: 7 + k as u64,
            };
            let detection = detect_series(&generate(&spec, &[cut]), &config);
            let context = format!("{spec:?}: {}", describe(&detection.events));
            assert_eq!(detection.events.len(), 1, "{context}");
            let event = &detection.events[0];
            assert_eq!(event.start, at(start_bin), "{context}");
            assert_eq!(event.end, Some(at(start_bin + 14 * 12)), "{context}");
            assert_eq!(event.restorations.len(), 1, "{context}");
            let window = &event.restorations[0];
            assert_eq!(window.start, at(start_bin + 6 * 12), "{context}");
            assert_eq!(window.end, at(start_bin + 9 * 12), "{context}");
        }
    }
}

#[test]
fn the_bench_series_give_exactly_their_outages() {
    // `vigie bench detect`'s shape: ±20% daily cycle, ±2% noise, one bin in
    // 500 missing, a 75% cut for six hours (10:00–16:00) every 30 days (90
    // days here, the bench's 120 in the daily_cycle example).
    let config = VigieConfig::default();
    for (k, signal) in FAMILIES.into_iter().enumerate() {
        let days = 90;
        let spec = Spec {
            signal,
            days,
            daily_amplitude: 0.2,
            peak_hour: 6.0,
            noise: 0.02,
            missing_one_in: 500,
            weekend_dip: 0.0,
            seed: 42 + k as u64,
        };
        // The telescope's minimum depth is 75%: the bench's 75% cut sits
        // on it, so the telescope's cut here is 85%.
        let kept = if signal == "merit-nt" { 0.15 } else { 0.25 };
        let cuts: Vec<Cut> = (0..days / 30)
            .map(|month| Cut {
                start_bin: (month * 30 + 15) * BINS_PER_DAY + 120,
                bins: 72,
                kept,
                restored: None,
            })
            .collect();
        let detection = detect_series(&generate(&spec, &cuts), &config);
        let context = format!("{signal}: {}", describe(&detection.events));
        assert_eq!(detection.events.len(), cuts.len(), "{context}");
        for (event, cut) in detection.events.iter().zip(&cuts) {
            assert_eq!(event.start, at(cut.start_bin), "{context}");
            assert_eq!(event.end, Some(at(cut.start_bin + cut.bins)), "{context}");
        }
    }
}
