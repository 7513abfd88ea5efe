//! vigie's detector on synthetic series whose answer is known: gaps, level
//! shifts, noisy low counts, daily seasonality, restorations, and bad input.

use vigie_detect::ioda::ioda_detect_series;
use vigie_detect::{
    detect_series, fuse, EndReason, IodaConfig, IodaLevel, Mechanism, PhaseKind, SignalDetector,
    VigieConfig,
};
use vigie_model::{format_utc, BinSize, Series, SeriesKey, SignalKind, UnixSecs};

/// 2022-01-03T00:00:00Z, a Monday.
const T0: UnixSecs = 1_641_168_000;
const STEP: i64 = 300;
const BINS_PER_DAY: usize = 288;

/// A small deterministic generator (xorshift), so tests need no crate.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw (Knuth's method, fine for small means).
    fn poisson(&mut self, mean: f64) -> f64 {
        let limit = (-mean).exp();
        let mut k = 0.0;
        let mut p = 1.0;
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1.0;
        }
    }

    /// A normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn series(signal: SignalKind, values: Vec<Option<f64>>) -> Series {
    Series {
        key: SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal,
        },
        bin: BinSize::default(),
        start: T0,
        values,
    }
}

fn at(bin: usize) -> UnixSecs {
    T0 + bin as i64 * STEP
}

fn describe(events: &[vigie_detect::SignalEvent]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}..{} depth {:.2} {:?}",
                format_utc(e.start),
                e.end.map(format_utc).unwrap_or_default(),
                e.depth,
                e.end_reason
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn steady_noisy_signal_has_no_event() {
    let mut noise = Noise(7);
    let values = (0..10 * BINS_PER_DAY)
        .map(|_| Some(1000.0 * (1.0 + 0.02 * noise.normal())))
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert!(
        detection.events.is_empty(),
        "{}",
        describe(&detection.events)
    );
}

#[test]
fn noisy_low_counts_stay_quiet_but_a_real_cut_is_seen() {
    let mut noise = Noise(11);
    // Poisson counts around 6: a drop to 3 is common, to 0 not rare.
    let quiet: Vec<Option<f64>> = (0..10 * BINS_PER_DAY)
        .map(|_| Some(noise.poisson(6.0)))
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, quiet),
        &VigieConfig::default(),
    );
    assert!(
        detection.events.is_empty(),
        "{}",
        describe(&detection.events)
    );

    // Around 30, with a four-hour cut to zero on day 5.
    let cut_from = 5 * BINS_PER_DAY + 100;
    let values: Vec<Option<f64>> = (0..8 * BINS_PER_DAY)
        .map(|i| {
            if (cut_from..cut_from + 48).contains(&i) {
                Some(0.0)
            } else {
                Some(noise.poisson(30.0))
            }
        })
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1, "{}", describe(&detection.events));
    assert_eq!(detection.events[0].start, at(cut_from));
    assert_eq!(detection.events[0].end, Some(at(cut_from + 48)));
}

#[test]
fn daily_seasonality_is_learnt_and_onset_is_exact() {
    // Traffic with a strong daily cycle (night at 40% of the day), then an
    // 80% cut for three hours starting at 14:05 on day 8.
    let mut noise = Noise(3);
    let cut_from = 8 * BINS_PER_DAY + 14 * 12 + 1;
    let values: Vec<Option<f64>> = (0..10 * BINS_PER_DAY)
        .map(|i| {
            let hour = (i % BINS_PER_DAY) as f64 / 12.0;
            let daily = 0.7 + 0.3 * ((hour - 14.0) / 24.0 * 2.0 * std::f64::consts::PI).cos();
            let v = 10_000.0 * daily * (1.0 + 0.02 * noise.normal());
            if (cut_from..cut_from + 36).contains(&i) {
                Some(v * 0.2)
            } else {
                Some(v)
            }
        })
        .collect();
    let detection = detect_series(
        &series(SignalKind::HttpRequests, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1, "{}", describe(&detection.events));
    let event = &detection.events[0];
    assert_eq!(event.start, at(cut_from));
    assert_eq!(event.end, Some(at(cut_from + 36)));
    assert!((event.depth - 0.8).abs() < 0.05, "depth {}", event.depth);
    // IODA's alert area: about 80% × 180 minutes.
    assert!((event.ioda_score - 80.0 * 180.0).abs() < 0.1 * 80.0 * 180.0);
}

#[test]
fn daily_recurring_shutdowns_never_become_normal() {
    // Iraq-like: every day from 01:00 to 05:00 BGP loses 25%, for 9 days.
    let values: Vec<Option<f64>> = (0..11 * BINS_PER_DAY)
        .map(|i| {
            let slot = i % BINS_PER_DAY;
            let day = i / BINS_PER_DAY;
            if (1..=9).contains(&day) && (12..60).contains(&slot) {
                Some(2200.0)
            } else {
                Some(2920.0)
            }
        })
        .collect();
    let detection = detect_series(
        &series(SignalKind::BgpVisibleSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 9, "{}", describe(&detection.events));
    for (day, event) in (1..=9).zip(&detection.events) {
        assert_eq!(event.start, at(day * BINS_PER_DAY + 12));
        assert_eq!(event.end, Some(at(day * BINS_PER_DAY + 60)));
    }
}

#[test]
fn a_lasting_drop_stays_open_as_sustained_and_is_never_relearnt() {
    // 30% of the blocks disappear on day 3 and never come back.
    let shift_at = 3 * BINS_PER_DAY + 50;
    let values: Vec<Option<f64>> = (0..9 * BINS_PER_DAY)
        .map(|i| Some(if i < shift_at { 1000.0 } else { 700.0 }))
        .collect();
    let detection = detect_series(
        &series(SignalKind::BgpVisibleSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1, "{}", describe(&detection.events));
    let event = &detection.events[0];
    assert_eq!(event.start, at(shift_at));
    // Still open after six days, marked as a sustained drop.
    assert_eq!(event.end, None);
    assert_eq!(event.end_reason, EndReason::Sustained);
    assert_eq!(
        event.end_reason.describe(),
        "sustained drop, no recovery yet"
    );
    assert!((event.depth - 0.3).abs() < 0.01, "depth {}", event.depth);

    // A shallow shift below the minimum depth is absorbed without an event.
    let values: Vec<Option<f64>> = (0..6 * BINS_PER_DAY)
        .map(|i| Some(if i < shift_at { 1000.0 } else { 900.0 }))
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert!(
        detection.events.is_empty(),
        "{}",
        describe(&detection.events)
    );
    let last = detection.depths.last().copied().flatten().unwrap_or(1.0);
    assert!(last.abs() < 0.01, "baseline not relearnt: depth {last}");

    // A near-total loss stays an outage however long it lasts.
    let values: Vec<Option<f64>> = (0..8 * BINS_PER_DAY)
        .map(|i| Some(if i < shift_at { 1000.0 } else { 20.0 }))
        .collect();
    let detection = detect_series(
        &series(SignalKind::BgpVisibleSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1);
    assert_eq!(detection.events[0].end, None);
    assert_eq!(detection.events[0].end_reason, EndReason::Sustained);
}

#[test]
fn kazakhstan_like_restoration_is_one_event_with_a_window() {
    // Cut at 10:30, back 17:30–22:00, cut again until 10:30 the next day.
    let day = 4 * BINS_PER_DAY;
    let cut = |i: usize| {
        let h = (i as f64 - day as f64) / 12.0;
        (10.5..17.5).contains(&h) || (22.0..34.5).contains(&h)
    };
    let values: Vec<Option<f64>> = (0..7 * BINS_PER_DAY)
        .map(|i| Some(if cut(i) { 50.0 } else { 5000.0 }))
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1, "{}", describe(&detection.events));
    let event = &detection.events[0];
    assert_eq!(event.start, at(day + 126));
    assert_eq!(event.end, Some(at(day + 414)));
    assert_eq!(event.restorations.len(), 1);
    let window = &event.restorations[0];
    assert_eq!(format_utc(window.start), "2022-01-07T17:30:00Z");
    assert_eq!(format_utc(window.end), "2022-01-07T22:00:00Z");
    assert!(window.restored_fraction > 0.95);
    // The restored hours are not counted as outage.
    assert_eq!(event.bins, 84 + 150);
}

#[test]
fn no_data_is_never_down() {
    let gap = 3 * BINS_PER_DAY..3 * BINS_PER_DAY + 60;
    let values: Vec<Option<f64>> = (0..5 * BINS_PER_DAY)
        .map(|i| if gap.contains(&i) { None } else { Some(500.0) })
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert!(
        detection.events.is_empty(),
        "{}",
        describe(&detection.events)
    );
    assert_eq!(detection.gaps.len(), 1);
    assert_eq!(detection.gaps[0].start, at(gap.start));
    assert_eq!(detection.gaps[0].end, Some(at(gap.end)));

    // A gap inside an outage keeps the event open and lowers its confidence.
    let values: Vec<Option<f64>> = (0..5 * BINS_PER_DAY)
        .map(|i| match i {
            i if (3 * BINS_PER_DAY..3 * BINS_PER_DAY + 20).contains(&i) => Some(50.0),
            i if (3 * BINS_PER_DAY + 20..3 * BINS_PER_DAY + 40).contains(&i) => None,
            i if (3 * BINS_PER_DAY + 40..3 * BINS_PER_DAY + 60).contains(&i) => Some(50.0),
            _ => Some(500.0),
        })
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1, "{}", describe(&detection.events));
    let event = &detection.events[0];
    assert_eq!(event.gap_bins, 20);
    assert_eq!(event.end, Some(at(3 * BINS_PER_DAY + 60)));
    assert!(event.confidence < 0.7, "confidence {}", event.confidence);

    // A feed that stops for longer than an event may pause ends the event
    // where the data ended.
    let values: Vec<Option<f64>> = (0..5 * BINS_PER_DAY)
        .map(|i| match i {
            i if (3 * BINS_PER_DAY..3 * BINS_PER_DAY + 20).contains(&i) => Some(50.0),
            i if i >= 3 * BINS_PER_DAY + 20 => None,
            _ => Some(500.0),
        })
        .collect();
    let detection = detect_series(
        &series(SignalKind::ProbeUpSlash24s, values),
        &VigieConfig::default(),
    );
    assert_eq!(detection.events.len(), 1);
    assert_eq!(detection.events[0].end_reason, EndReason::DataLost);
    assert_eq!(detection.events[0].end, Some(at(3 * BINS_PER_DAY + 20)));
}

#[test]
fn bad_input_to_the_detector_is_handled() {
    let key = SeriesKey {
        entity: "KZ".parse().unwrap(),
        signal: SignalKind::ProbeUpSlash24s,
    };
    let mut detector = SignalDetector::new(key, BinSize::default(), &VigieConfig::default());
    for i in 0..BINS_PER_DAY {
        detector.push(at(i), Some(100.0));
    }
    // A duplicate and an out-of-order bin are ignored.
    let dup = detector.push(at(BINS_PER_DAY - 1), Some(0.0));
    assert_eq!(dup.phase, PhaseKind::Stale);
    let old = detector.push(at(10), Some(0.0));
    assert_eq!(old.phase, PhaseKind::Stale);
    // NaN, infinity and negative counts are no data, never low.
    for (k, bad) in [f64::NAN, f64::INFINITY, -5.0, f64::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        let verdict = detector.push(at(BINS_PER_DAY + k), Some(bad));
        assert_eq!(verdict.depth, None);
        assert_eq!(verdict.phase, PhaseKind::Normal);
    }
    // A misaligned time goes to its bin; a jump forward fills missing bins.
    let verdict = detector.push(at(BINS_PER_DAY + 10) + 17, Some(100.0));
    assert_eq!(verdict.t, at(BINS_PER_DAY + 10));
    assert_eq!(detector.next_bin_start(), Some(at(BINS_PER_DAY + 11)));
    assert!(detector.events().is_empty());
    // A silence of more than two weeks starts learning afresh.
    let verdict = detector.push(at(BINS_PER_DAY + 20 * BINS_PER_DAY), Some(100.0));
    assert_eq!(verdict.phase, PhaseKind::Warmup);
    assert_eq!(detector.gaps().len(), 2);
}

#[test]
fn bgp_steady_while_probing_falls_is_classified_as_data_plane_blocking() {
    let cut = 4 * BINS_PER_DAY + 126..4 * BINS_PER_DAY + 210;
    let bgp = series(
        SignalKind::BgpVisibleSlash24s,
        vec![Some(2000.0); 6 * BINS_PER_DAY],
    );
    let probing = series(
        SignalKind::ProbeUpSlash24s,
        (0..6 * BINS_PER_DAY)
            .map(|i| Some(if cut.contains(&i) { 100.0 } else { 900.0 }))
            .collect(),
    );
    let config = VigieConfig::default();
    let detections = vec![
        detect_series(&bgp, &config),
        detect_series(&probing, &config),
    ];
    let incidents = fuse(&bgp.key.entity, &detections, &config);
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].mechanism, Mechanism::DataPlaneBlocking);
    assert_eq!(incidents[0].start, at(cut.start));
    assert_eq!(incidents[0].end, Some(at(cut.end)));
}

#[test]
fn ioda_median_follows_the_published_method() {
    // Critical at 50% for BGP: a 40% loss is only a warning.
    let mut values = vec![Some(1000.0); 3 * BINS_PER_DAY];
    for v in values.iter_mut().skip(2 * BINS_PER_DAY).take(24) {
        *v = Some(600.0);
    }
    let s = series(SignalKind::BgpVisibleSlash24s, values);
    let critical = ioda_detect_series(&s, &IodaConfig::published(IodaLevel::Critical)).unwrap();
    assert!(critical.events.is_empty());
    let warning = ioda_detect_series(&s, &IodaConfig::published(IodaLevel::Warning)).unwrap();
    assert_eq!(warning.events.len(), 1);
    assert_eq!(warning.events[0].start, at(2 * BINS_PER_DAY));

    // Below the minimum prediction (20), nothing is ever said.
    let tiny = series(
        SignalKind::ProbeUpSlash24s,
        vec![Some(10.0); 2 * BINS_PER_DAY],
    );
    let detection = ioda_detect_series(&tiny, &IodaConfig::default()).unwrap();
    assert!(detection.depths.iter().all(Option::is_none));

    // Inpainting lasts at most seven days: then the new level is normal.
    let shift = 2 * BINS_PER_DAY;
    let values: Vec<Option<f64>> = (0..12 * BINS_PER_DAY)
        .map(|i| Some(if i < shift { 1000.0 } else { 300.0 }))
        .collect();
    let s = series(SignalKind::ProbeUpSlash24s, values);
    let detection = ioda_detect_series(&s, &IodaConfig::default()).unwrap();
    assert_eq!(detection.events.len(), 1);
    let end = detection.events[0].end.expect("ended by the new normal");
    assert_eq!(end, at(shift + 7 * BINS_PER_DAY));
}

#[test]
fn false_alarms_are_rare_on_noise_of_every_kind() {
    // 5 series × 14 days of each kind of noise, no outage (FALSE_ALARM_SERIES
    // sets another number of series, for the accuracy document's table).
    let series_count: u64 = std::env::var("FALSE_ALARM_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    type Draw = fn(&mut Noise, usize) -> f64;
    let kinds: [(&str, Draw); 4] = [
        ("Poisson mean 6", |n, _| n.poisson(6.0)),
        ("Poisson mean 30", |n, _| n.poisson(30.0)),
        ("2% Gaussian around 1000", |n, _| {
            1000.0 * (1.0 + 0.02 * n.normal())
        }),
        ("Poisson with a 5:1 daily cycle", |n, i| {
            let hour = (i % BINS_PER_DAY) as f64 / 12.0;
            n.poisson(200.0 * (0.6 + 0.4 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos()))
        }),
    ];
    for (name, draw) in kinds {
        let mut false_events = 0;
        for seed in 1..=series_count {
            let mut noise = Noise(seed * 7919 + 13);
            let values = (0..14 * BINS_PER_DAY)
                .map(|i| Some(draw(&mut noise, i)))
                .collect();
            let detection = detect_series(
                &series(SignalKind::ProbeUpSlash24s, values),
                &VigieConfig::default(),
            );
            false_events += detection.events.len();
        }
        let series_days = series_count * 14;
        println!("{name}: {false_events} false events in {series_days} series-days");
        // At most one false event in 70 series-days.
        assert!(
            false_events as u64 <= series_days.div_ceil(70),
            "{name}: {false_events} false events in {series_days} days"
        );
    }
}
