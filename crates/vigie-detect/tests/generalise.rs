//! Properties that must hold whatever the data looks like (issue 11): the
//! same outage gives the same incident at any bin width, and an outage is
//! held for as long as it lasts.

use vigie_detect::{detect_series, fuse, EndReason, VigieConfig};
use vigie_model::{BinSize, Entity, Series, SeriesKey, SignalKind, UnixSecs};

/// 2023-01-02T00:00:00Z, a Monday.
const T0: UnixSecs = 1_672_617_600;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A small deterministic generator (xorshift), so the tests need no crate.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An approximately normal draw (sum of twelve uniforms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

/// One value per minute: `level` with a ±20% daily cycle (trough at 04:00
/// UTC), noise of a count of that size, and `kept` of it during the cut.
fn minutes(level: f64, days: i64, cut: (UnixSecs, UnixSecs), kept: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed | 1);
    (0..days * DAY / MINUTE)
        .map(|i| {
            let t = T0 + i * MINUTE;
            let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
            let daily = 1.0 - 0.2 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            let factor = if t >= cut.0 && t < cut.1 { kept } else { 1.0 };
            let mean = level * daily * factor;
            (mean + mean.sqrt() * rng.normal()).max(0.0)
        })
        .collect()
}

/// The per-minute values averaged into bins of `bin_secs`.
fn binned(signal: SignalKind, per_minute: &[f64], bin_secs: u32) -> Series {
    let per_bin = (bin_secs as i64 / MINUTE) as usize;
    let values = per_minute
        .chunks(per_bin)
        .map(|c| Some((c.iter().sum::<f64>() / c.len() as f64).round()))
        .collect();
    series("KZ", signal, bin_secs, values)
}

/// A series of `entity`'s `signal` from [`T0`], one value per `bin_secs`.
fn series(entity: &str, signal: SignalKind, bin_secs: u32, values: Vec<Option<f64>>) -> Series {
    Series {
        key: SeriesKey {
            entity: entity.parse().expect("entity"),
            signal,
        },
        bin: BinSize::new(bin_secs).expect("bin"),
        start: T0,
        values,
    }
}

#[test]
fn the_same_outage_gives_the_same_incident_at_5_30_and_60_minute_bins() {
    let config = VigieConfig::default();
    let kz: Entity = "KZ".parse().expect("entity");
    // Ten days of history, then a data-plane cut of six hours: probing
    // keeps 25%, BGP stays where it was.
    let cut = (T0 + 10 * DAY + 13 * HOUR, T0 + 10 * DAY + 19 * HOUR);
    let probing = minutes(600.0, 13, cut, 0.25, 7);
    let bgp = minutes(3000.0, 13, (0, 0), 1.0, 11);
    for bin_secs in [300u32, 1800, 3600] {
        let series = [
            binned(SignalKind::ProbeUpSlash24s, &probing, bin_secs),
            binned(SignalKind::BgpVisibleSlash24s, &bgp, bin_secs),
        ];
        let detections: Vec<_> = series.iter().map(|s| detect_series(s, &config)).collect();
        let incidents = fuse(&kz, &detections, &config);
        assert_eq!(incidents.len(), 1, "{bin_secs} s bins: {incidents:#?}");
        let incident = &incidents[0];
        let bin = i64::from(bin_secs);
        assert!(
            (incident.start - cut.0).abs() <= bin,
            "{bin_secs} s bins: onset {} for {}",
            incident.start,
            cut.0
        );
        let end = incident.end.expect("the cut ended");
        assert!(
            (end - cut.1).abs() <= bin,
            "{bin_secs} s bins: end {end} for {}",
            cut.1
        );
    }
}

#[test]
fn outages_are_held_as_long_as_they_last() {
    let config = VigieConfig::default();
    // Hourly bins keep 90 days quick; a week of history before the cut and
    // two days after it.
    for days in [1i64, 7, 19, 45, 90] {
        for kept in [0.04, 0.5] {
            let cut = (T0 + 7 * DAY + 10 * HOUR + 30 * MINUTE, 0);
            let cut = (cut.0, cut.0 + days * DAY);
            let total = 7 + days + 3;
            let per_minute = minutes(800.0, total, cut, kept, days as u64 * 31 + 5);
            let series = binned(SignalKind::ProbeUpSlash24s, &per_minute, 3600);
            let detection = detect_series(&series, &config);
            let context = format!("{days} d at {kept}: {:#?}", detection.events);
            assert_eq!(detection.events.len(), 1, "{context}");
            let event = &detection.events[0];
            assert!((event.start - cut.0).abs() <= HOUR, "{context}");
            let end = event.end.expect("recovered");
            assert!((end - cut.1).abs() <= HOUR, "{context}");
            assert_eq!(event.end_reason, EndReason::Recovered, "{context}");

            // The same cut still going on at the end of the data: one open
            // event, a sustained drop once it has lasted two days.
            let until = (7 * DAY + 10 * HOUR + days * DAY - 12 * HOUR) / MINUTE;
            let mut ongoing = per_minute.clone();
            ongoing.truncate(until as usize);
            let series = binned(SignalKind::ProbeUpSlash24s, &ongoing, 3600);
            let detection = detect_series(&series, &config);
            let context = format!("{days} d at {kept}, ongoing: {:#?}", detection.events);
            assert_eq!(detection.events.len(), 1, "{context}");
            let event = &detection.events[0];
            assert_eq!(event.end, None, "{context}");
            let expected = if days * DAY - 12 * HOUR > 2 * DAY {
                EndReason::Sustained
            } else {
                EndReason::Ongoing
            };
            assert_eq!(event.end_reason, expected, "{context}");
        }
    }
}

/// A Poisson draw of mean `mean` (Knuth's method: fine for small means).
fn poisson(rng: &mut Rng, mean: f64) -> f64 {
    let limit = (-mean).exp();
    let mut product = rng.uniform();
    let mut count = 0.0;
    while product > limit {
        product *= rng.uniform();
        count += 1.0;
    }
    count
}

/// Hourly counts of answering addresses seen from one vantage point:
/// `mean` an hour, overdispersed (the mean itself wanders by ±50% from hour
/// to hour), and none at all in the hours of `cuts`.
fn hourly_counts(mean: f64, days: i64, cuts: &[(UnixSecs, UnixSecs)], seed: u64) -> Series {
    let mut rng = Rng(seed | 1);
    let values = (0..days * 24)
        .map(|h| {
            let t = T0 + h * HOUR;
            if cuts.iter().any(|(from, until)| t >= *from && t < *until) {
                return Some(0.0);
            }
            let wandering = (mean * (1.0 + 0.5 * rng.normal())).max(0.1);
            Some(poisson(&mut rng, wandering))
        })
        .collect();
    series("MM", SignalKind::ProbeUpAddresses, 3600, values)
}

#[test]
fn nightly_blackouts_of_a_few_noisy_counts_are_each_found() {
    // Six days of history, then eight nights cut from 19:00 to 02:00 UTC:
    // a signal so noisy (a few counts an hour) that no window's mean stands
    // out from its noise, but seven hours at zero were never seen before.
    let cuts: Vec<(UnixSecs, UnixSecs)> = (6..14)
        .map(|d| (T0 + d * DAY + 19 * HOUR, T0 + (d + 1) * DAY + 2 * HOUR))
        .collect();
    for seed in [3, 11, 29] {
        let series = hourly_counts(6.0, 16, &cuts, seed);
        let events = detect_series(&series, &VigieConfig::default()).events;
        for (from, until) in &cuts {
            let found = events
                .iter()
                .find(|e| e.start < *until && e.end.unwrap_or(i64::MAX) > *from);
            let Some(event) = found else {
                panic!("seed {seed}: the night from {from} is missed: {events:?}");
            };
            assert!(
                (event.start - from).abs() <= 2 * HOUR,
                "seed {seed}: the night from {from} starts at {}",
                event.start
            );
        }
        assert_eq!(events.len(), cuts.len(), "seed {seed}: {events:?}");
    }
}

#[test]
fn three_quiet_hours_of_a_signal_of_a_few_counts_are_not_a_blackout() {
    // About three counts an hour: hours at zero happen every few days, and
    // a run of three is not unprecedented however low, since the record
    // itself is a count or two.
    for seed in [5, 17, 41] {
        let series = hourly_counts(3.0, 30, &[], seed);
        let events = detect_series(&series, &VigieConfig::default()).events;
        assert!(events.is_empty(), "seed {seed}: {events:?}");
    }
}

/// Hourly probing counts (about `level` blocks up, noise of a count, a
/// ±20% daily cycle peaking at 16:00 local time) in a country at UTC+4
/// with a Friday–Saturday weekend: by day `dip` lower (at night a little
/// less), settling in over the four hours around local midnight; `kept` of
/// the signal during `cut`.
fn probing_with_weekend(
    level: f64,
    days: i64,
    dip: f64,
    cut: (UnixSecs, UnixSecs),
    kept: f64,
    seed: u64,
) -> Series {
    let mut rng = Rng(seed | 1);
    let weekend_share = |t: UnixSecs| -> f64 {
        let hits = (-4..=4)
            .filter(|k| {
                // T0 is a Monday: Friday and Saturday are days 4 and 5.
                let day = (t + 4 * HOUR + k * 1800 - T0).div_euclid(DAY).rem_euclid(7);
                day == 4 || day == 5
            })
            .count();
        hits as f64 / 9.0
    };
    let values = (0..days * 24)
        .map(|h| {
            let t = T0 + h * HOUR;
            let hour = ((t + 4 * HOUR).rem_euclid(DAY)) as f64 / 3600.0;
            let shape = -(std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            let by_day = 1.0 - 0.28 * (1.0 - shape) / 2.0;
            let daily = 1.0 + 0.2 * shape;
            let weekend = 1.0 - dip * by_day * weekend_share(t + HOUR / 2);
            let factor = if t >= cut.0 && t < cut.1 { kept } else { 1.0 };
            let mean = level * daily * weekend * factor;
            Some((mean + mean.sqrt() * rng.normal()).max(0.0).round())
        })
        .collect();
    series("AE", SignalKind::ProbeUpSlash24s, 3600, values)
}

#[test]
fn a_second_weekend_like_the_first_is_a_pattern_and_a_cut_in_it_is_not() {
    // Thirteen days from a Monday: the Friday–Saturday weekend (probing
    // 20–24% lower by day, far beyond its noise) is seen once, then comes
    // again before its weekdays can be learnt (they need two weeks). These
    // draws were each flagged on their second weekend when a weekday seen
    // once widened nothing.
    let none = (0, 0);
    for (dip, seed) in [(0.20, 20), (0.24, 1), (0.24, 28)] {
        let quiet = probing_with_weekend(500.0, 13, dip, none, 1.0, seed);
        let events = detect_series(&quiet, &VigieConfig::default()).events;
        assert!(events.is_empty(), "dip {dip} seed {seed}: {events:?}");
        // A 75% cut on the second Friday is still an outage, found to the bin.
        let cut = (T0 + 11 * DAY + 10 * HOUR, T0 + 11 * DAY + 14 * HOUR);
        let cut_series = probing_with_weekend(500.0, 13, dip, cut, 0.25, seed);
        let events = detect_series(&cut_series, &VigieConfig::default()).events;
        assert_eq!(events.len(), 1, "dip {dip} seed {seed}: {events:?}");
        assert_eq!(events[0].start, cut.0, "dip {dip} seed {seed}: {events:?}");
        assert_eq!(
            events[0].end,
            Some(cut.1),
            "dip {dip} seed {seed}: {events:?}"
        );
    }
}

/// Five-minute probing counts of about `mean` blocks (Poisson, a ±20%
/// daily cycle), a quarter of it during `cut`.
fn low_counts(mean: f64, days: i64, cut: (UnixSecs, UnixSecs), seed: u64) -> Series {
    let mut rng = Rng(seed | 1);
    let values = (0..days * 288)
        .map(|i| {
            let t = T0 + i * 300;
            let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
            let daily = 1.0 - 0.2 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            let kept = if t >= cut.0 && t < cut.1 { 0.25 } else { 1.0 };
            Some(poisson(&mut rng, mean * daily * kept))
        })
        .collect();
    series("KZ", SignalKind::ProbeUpSlash24s, 300, values)
}

#[test]
fn a_cut_of_a_few_counts_a_bin_ends_within_a_bin() {
    // About 15 blocks up a bin: one bin's noise is a quarter of the level,
    // so the first bins back often look still down, or one low bin soon
    // after them holds the end back. Four hours at a quarter, on day 15;
    // at least 95% of 40 seeds end within a bin.
    let cut = (T0 + 15 * DAY + 10 * HOUR, T0 + 15 * DAY + 14 * HOUR);
    let mut late = Vec::new();
    for seed in 1..=40u64 {
        let series = low_counts(15.0, 17, cut, seed * 7919);
        let events = detect_series(&series, &VigieConfig::default()).events;
        let found = events
            .iter()
            .find(|e| e.start < cut.1 && e.end.unwrap_or(i64::MAX) > cut.0);
        let Some(event) = found else {
            panic!("seed {seed}: the cut is missed: {events:?}");
        };
        let end = event.end.expect("the cut ended");
        if (end - cut.1).abs() > 300 {
            late.push((seed, (end - cut.1) / 300));
        }
    }
    assert!(
        late.len() <= 2,
        "ends off by more than a bin (seed, bins): {late:?}"
    );
}

/// Ten-minute probing of an entity at UTC−6: a ±20% daily cycle in local
/// time and a weekend (local Saturday and Sunday) 30% lower all day,
/// Gaussian noise of 1%; `cut` keeps a tenth.
fn local_weekend_probing(days: i64, cut: Option<(UnixSecs, UnixSecs)>, seed: u64) -> Series {
    let offset = -6 * HOUR;
    let mut rng = Rng(seed | 1);
    let values = (0..days * DAY / 600)
        .map(|i| {
            let t = T0 + i * 600;
            let local = t + offset;
            let hour = local.rem_euclid(DAY) as f64 / 3600.0;
            let daily = 1.0 - 0.2 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            // Days since the epoch (a Thursday) + 3: Monday is 0.
            let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7);
            let weekend = if weekday >= 5 { 0.7 } else { 1.0 };
            let kept = match cut {
                Some((from, until)) if t >= from && t < until => 0.1,
                _ => 1.0,
            };
            Some((1000.0 * daily * weekend * kept * (1.0 + 0.01 * rng.normal())).round())
        })
        .collect();
    series("US", SignalKind::ProbeUpSlash24s, 600, values)
}

#[test]
fn a_weekend_ends_at_local_midnight_when_the_zone_is_known() {
    let config = VigieConfig::default();
    let offset = -6 * HOUR;
    for seed in 1..=4u64 {
        // Four weeks, no outage: every weekend ends at 06:00 UTC on Monday.
        // The first two weekends are dips of a weekday not yet learnt (one
        // traffic measure alone: fusion makes no incident of them); from
        // the third week on the weekend is known.
        let quiet = local_weekend_probing(28, None, seed);
        let local = vigie_detect::detect_spans_local(std::slice::from_ref(&quiet), &config, offset);
        let late: Vec<_> = local[0]
            .events
            .iter()
            .filter(|e| e.start >= T0 + 14 * DAY)
            .collect();
        assert!(
            late.is_empty(),
            "seed {seed}: false events with local days: {late:?}"
        );
        // A 90% cut on the fourth Monday morning, local time, is found.
        let from = T0 + 21 * DAY + 15 * HOUR;
        let cut = local_weekend_probing(28, Some((from, from + 3 * HOUR)), seed);
        let found = vigie_detect::detect_spans_local(std::slice::from_ref(&cut), &config, offset);
        assert!(
            found[0].events.iter().any(|e| (e.start - from).abs() <= 600
                && e.end
                    .is_some_and(|end| (end - from - 3 * HOUR).abs() <= 600)),
            "seed {seed}: the cut is not found to the bin: {:?}",
            found[0].events
        );
    }
}

#[test]
fn a_total_cut_of_weeks_with_a_few_bins_missing_stays_one_outage_and_leaves_no_trace() {
    // A few bins missing in a cut that leaves nothing: each such day reads
    // as a sliver of the baseline, so the days of the cut differ from each
    // other by chance alone. Two that happened to agree were learnt as
    // their weekday's pattern (a factor near zero), which broke the outage
    // at local midnights and made the same weekday read low after it.
    let config = VigieConfig::default();
    for (days, seed) in [(19i64, 3u64), (45, 5), (45, 9)] {
        let cut = (T0 + 7 * DAY + 10 * HOUR, T0 + (7 + days) * DAY + 10 * HOUR);
        let per_minute = minutes(800.0, 7 + days + 10, cut, 0.0, seed);
        let mut series = binned(SignalKind::ProbeUpSlash24s, &per_minute, 1800);
        let mut rng = Rng(seed * 7919 + 1);
        for value in series.values.iter_mut() {
            if rng.uniform() < 0.01 {
                *value = None;
            }
        }
        let detection = detect_series(&series, &config);
        let context = format!("{days} d, seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert!((event.start - cut.0).abs() <= 1800, "{context}");
        let end = event.end.expect("recovered");
        assert!((end - cut.1).abs() <= 1800, "{context}");
    }
}

#[test]
fn daily_values_with_ordinary_noise_raise_no_alarm() {
    // At daily bins a day is one bin: a noise that followed "the last
    // day" was the last bin's deviation alone, so after a day close to
    // its prediction an ordinary day 10-20% low read as many standard
    // deviations (false outages in the first days and after a calm one).
    let config = VigieConfig::default();
    let mut false_events = Vec::new();
    for seed in 1..=30u64 {
        let mut rng = Rng(seed * 2_654_435_761 + 7);
        let values: Vec<Option<f64>> = (0..60)
            .map(|_| Some((500.0 * (1.0 + 0.07 * rng.normal())).round()))
            .collect();
        let series = series("KZ", SignalKind::ProbeUpSlash24s, 86_400, values);
        let detection = detect_series(&series, &config);
        false_events.extend(
            detection
                .events
                .into_iter()
                .map(|e| (seed, e.start, e.depth)),
        );
    }
    // The false-alarm budget is one per 1,000 days of normal data per
    // window length (three at daily bins), and a Gaussian day 27% low at
    // 7% noise does happen in 1,800 series-days: at most one such event.
    assert!(false_events.len() <= 1, "{false_events:#?}");
}

/// An hourly index in steps of 10 around `level` (a Monash-style
/// connectivity index): most hours at the level, one in eight a step
/// off, two-step dips of one or two hours now and then, and `cut` held
/// at `kept` of the level.
fn stepped_index(level: f64, days: i64, cut: (UnixSecs, UnixSecs), kept: f64, seed: u64) -> Series {
    let mut rng = Rng(seed | 1);
    let mut values = Vec::new();
    let mut dip_left = 0;
    for i in 0..days * 24 {
        let t = T0 + i * HOUR;
        let r = rng.uniform();
        if dip_left == 0 && r < 0.01 {
            dip_left = 1 + (rng.uniform() * 2.0) as i32;
        }
        let mut v = level;
        if dip_left > 0 {
            v -= 20.0;
            dip_left -= 1;
        } else if r < 0.07 {
            v -= 10.0;
        } else if r < 0.13 {
            v += 10.0;
        }
        if t >= cut.0 && t < cut.1 {
            v = (level * kept / 10.0).round() * 10.0;
        }
        values.push(Some(v.clamp(0.0, 100.0)));
    }
    series(
        "US/Louisiana: Lafayette",
        SignalKind::ConnectivityIndex,
        3600,
        values,
    )
}

#[test]
fn three_steps_down_of_a_stepped_index_for_hours_are_an_outage_and_two_are_not() {
    let config = VigieConfig::default();
    for seed in 1..=10u64 {
        // Three steps down (60 → 30) for ten hours after two weeks.
        let cut = (T0 + 14 * DAY + 9 * HOUR, T0 + 14 * DAY + 19 * HOUR);
        let series = stepped_index(60.0, 17, cut, 0.5, seed);
        let detection = detect_series(&series, &config);
        let context = format!("seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert!((event.start - cut.0).abs() <= HOUR, "{context}");
        assert!(
            event.end.is_some_and(|end| (end - cut.1).abs() <= HOUR),
            "{context}"
        );
        // Its wobbles alone, one and two steps, are no outage.
        let calm = stepped_index(60.0, 17, (0, 0), 1.0, seed);
        let detection = detect_series(&calm, &config);
        assert!(
            detection.events.is_empty(),
            "seed {seed}: {:#?}",
            detection.events
        );
    }
}

/// Daily probing counts around 500 with `noise` relative Gaussian noise
/// for `days` days, `kept` of it from day `cut.0` to day `cut.1`.
fn daily_counts(days: i64, noise: f64, cut: (i64, i64), kept: f64, seed: u64) -> Series {
    let mut rng = Rng(seed * 2_654_435_761 + 11);
    let values = (0..days)
        .map(|day| {
            let factor = if day >= cut.0 && day < cut.1 {
                kept
            } else {
                1.0
            };
            Some(
                (500.0 * factor * (1.0 + noise * rng.normal()))
                    .max(0.0)
                    .round(),
            )
        })
        .collect();
    series("KZ", SignalKind::ProbeUpSlash24s, 86_400, values)
}

#[test]
fn a_deep_cut_of_daily_values_after_two_days_is_an_outage() {
    // Two daily values are too few to know a noise, so no window could
    // confirm anything: the cut became the level. Losing three quarters
    // of a learnt baseline for two days running is an outage whatever
    // the noise (IODA's critical level is half).
    let config = VigieConfig::default();
    for seed in 1..=10u64 {
        let series = daily_counts(30, 0.03, (2, 21), 0.25, seed);
        let detection = detect_series(&series, &config);
        let context = format!("seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert_eq!(event.start, T0 + 2 * DAY, "{context}");
        assert_eq!(event.end, Some(T0 + 21 * DAY), "{context}");
        // A dip to 60% for two days that early is not that deep.
        let dip = daily_counts(30, 0.03, (2, 4), 0.6, seed);
        let detection = detect_series(&dip, &config);
        assert!(
            detection.events.is_empty(),
            "seed {seed}: {:#?}",
            detection.events
        );
    }
}

#[test]
fn a_cut_of_noisy_daily_values_adds_up_over_days_before_the_level_learns_it() {
    // Against one daily value 10% noisy (and a baseline of a week's
    // median and weekday factors learnt from that noise) a 60% cut is a
    // few standard deviations, and the week's median learns it in four
    // days: with windows of one bin only, and an onset dated back by one,
    // it was found a day late. Windows of up to a third of the level add
    // up three days, and the onset is dated back over them.
    let config = VigieConfig::default();
    for seed in 1..=10u64 {
        let series = daily_counts(56, 0.1, (28, 42), 0.4, seed);
        let detection = detect_series(&series, &config);
        let context = format!("seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert_eq!(event.start, T0 + 28 * DAY, "{context}");
        assert!(
            event
                .end
                .is_some_and(|end| (end - (T0 + 42 * DAY)).abs() <= DAY),
            "{context}"
        );
    }
}

/// A telescope's unique sources in 10-minute bins: Poisson around `mean`
/// with a ±30% daily cycle, `kept` of it from `cut.0` to `cut.1`.
fn telescope(mean: f64, days: i64, cut: (UnixSecs, UnixSecs), kept: f64, seed: u64) -> Series {
    let mut rng = Rng(seed * 7_919 + 3);
    let bin = 600;
    let values = (0..days * DAY / bin)
        .map(|i| {
            let t = T0 + i * bin;
            let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
            let daily = 1.0 - 0.3 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            let factor = if t >= cut.0 && t < cut.1 { kept } else { 1.0 };
            Some(poisson(&mut rng, mean * daily * factor))
        })
        .collect();
    series("IQ", SignalKind::TelescopeUniqueSources, 600, values)
}

#[test]
fn a_telescope_at_half_its_sources_for_days_is_an_outage_and_for_hours_is_not() {
    // Under the telescope's minimum depth (75%: real telescopes dip by
    // half for hours without an outage), a drop no window may confirm,
    // which the level learnt within half a day. Held out of the level, it
    // is judged over a day as a whole: half the sources for ten days is
    // an outage from its first bin to its last.
    let config = VigieConfig::default();
    for seed in 1..=5u64 {
        let cut = (T0 + 14 * DAY + 9 * HOUR, T0 + 24 * DAY + 9 * HOUR);
        let series = telescope(30.0, 28, cut, 0.5, seed);
        let detection = detect_series(&series, &config);
        let context = format!("seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert!((event.start - cut.0).abs() <= 1200, "{context}");
        assert!(
            event.end.is_some_and(|end| (end - cut.1).abs() <= HOUR),
            "{context}"
        );
        // Losing 40% for eight hours is a telescope's dip. (Half for
        // eight hours can be an outage already: at a few sources a bin a
        // quarter of an hour of it may fall past the minimum depth.)
        let dip = (cut.0, cut.0 + 8 * HOUR);
        let detection = detect_series(&telescope(30.0, 28, dip, 0.6, seed), &config);
        assert!(
            detection.events.is_empty(),
            "seed {seed}: {:#?}",
            detection.events
        );
    }
}

/// 3-hourly probing counts around 100 (Poisson) with a ±60% daily cycle
/// (trough at 04:00 UTC), `kept` of it from `cut.0` to `cut.1`.
fn three_hourly_counts(days: i64, cut: (UnixSecs, UnixSecs), kept: f64, seed: u64) -> Series {
    let mut rng = Rng(seed * 104_729 + 5);
    let bin = 3 * HOUR;
    let values = (0..days * DAY / bin)
        .map(|i| {
            let t = T0 + i * bin;
            let hour = (t.rem_euclid(DAY)) as f64 / 3600.0 + 1.5;
            let daily = 1.0 - 0.6 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
            let factor = if t >= cut.0 && t < cut.1 { kept } else { 1.0 };
            Some(poisson(&mut rng, 100.0 * daily * factor))
        })
        .collect();
    series("MM", SignalKind::ProbeUpSlash24s, 3 * 3600, values)
}

#[test]
fn a_cut_at_3_hour_bins_in_the_morning_rise_of_a_steep_daily_cycle_is_a_step() {
    // A cut must begin with a step, and the values themselves must fall
    // (not only the baseline rise). At 3-hour bins the sides of the step
    // are nine hours each: a cut at 09:00 compared the night before with
    // the day after, and a halved morning still held more than the night.
    let config = VigieConfig::default();
    for seed in 1..=5u64 {
        let cut = (T0 + 6 * DAY + 9 * HOUR, T0 + 16 * DAY + 9 * HOUR);
        let series = three_hourly_counts(21, cut, 0.5, seed);
        let detection = detect_series(&series, &config);
        let context = format!("seed {seed}: {:#?}", detection.events);
        assert_eq!(detection.events.len(), 1, "{context}");
        let event = &detection.events[0];
        assert!((event.start - cut.0).abs() <= 3 * HOUR, "{context}");
        assert!(
            event.end.is_some_and(|end| (end - cut.1).abs() <= 3 * HOUR),
            "{context}"
        );
    }
}
