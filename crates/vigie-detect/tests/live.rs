//! Live detection (bins pushed as they close, all series of an entity
//! interleaved, the state checkpointed and restored on the way) gives the
//! incidents of batch detection on the same data.

mod common;

use vigie_detect::{detect_series, fuse, Incident, LiveDetector, VigieConfig};
use vigie_model::{BinSink, BinSize, Series, SeriesKey, SignalBin, SignalKind};

/// Batch: every series detected whole, then fused.
fn batch_incidents(series: &[Series]) -> Vec<Incident> {
    let config = VigieConfig::default();
    let detections: Vec<_> = series.iter().map(|s| detect_series(s, &config)).collect();
    fuse(&series[0].key.entity, &detections, &config)
}

/// Live: the series cut into bins in time order, each bin written to the
/// live detector; every `checkpoint_every` bins the state goes to JSON and
/// back, as a restarted service would load it.
fn live_incidents(series: &[Series], checkpoint_every: usize) -> Vec<Incident> {
    let mut bins: Vec<SignalBin> = Vec::new();
    let mut collect = Collect(&mut bins);
    collect.write_series(series).expect("cut into bins");
    let mut live = LiveDetector::new(VigieConfig::default());
    for (i, bin) in bins.iter().enumerate() {
        live.write(bin).expect("live detector takes every bin");
        if (i + 1) % checkpoint_every == 0 {
            let saved = serde_json::to_value(&live).expect("checkpoint");
            live = serde_json::from_value(saved).expect("restore");
        }
    }
    live.incidents(&series[0].key.entity)
}

/// A sink that keeps the bins it is given.
struct Collect<'a>(&'a mut Vec<SignalBin>);

impl BinSink for Collect<'_> {
    fn write(&mut self, bin: &SignalBin) -> Result<(), vigie_model::SinkError> {
        self.0.push(bin.clone());
        Ok(())
    }
}

fn assert_same(live: &[Incident], batch: &[Incident], what: &str) {
    assert!(!batch.is_empty(), "{what}: the case must have incidents");
    assert_eq!(
        serde_json::to_value(live).expect("json"),
        serde_json::to_value(batch).expect("json"),
        "{what}: live and batch incidents differ"
    );
}

#[test]
fn live_equals_batch_on_a_data_plane_cut_with_a_restoration() {
    let day = 288;
    let start = 1_641_168_000; // 2022-01-03T00:00:00Z
    let cut = |i: usize| {
        let h = (i as f64 - 2.0 * day as f64) / 12.0;
        (10.5..17.5).contains(&h) || (18.0..40.0).contains(&h)
    };
    let key = |signal| SeriesKey {
        entity: "KZ".parse().unwrap(),
        signal,
    };
    let probing = Series {
        key: key(SignalKind::ProbeUpSlash24s),
        bin: BinSize::default(),
        start,
        values: (0..5 * day)
            .map(|i| {
                Some(if cut(i) {
                    60.0
                } else {
                    5000.0 + (i % 7) as f64
                })
            })
            .collect(),
    };
    let bgp = Series {
        key: key(SignalKind::BgpVisibleSlash24s),
        bin: BinSize::default(),
        start,
        values: (0..5 * day)
            .map(|i| Some(9000.0 + (i % 3) as f64))
            .collect(),
    };
    let series = [probing, bgp];
    let batch = batch_incidents(&series);
    assert_same(&live_incidents(&series, 97), &batch, "synthetic KZ");
    assert_eq!(batch[0].restorations.len(), 1, "{batch:#?}");
}

#[test]
fn live_equals_batch_on_real_iodas_exports() {
    let Some(datasets) = common::load_all() else {
        return;
    };
    for dataset in &datasets {
        let batch = batch_incidents(&dataset.series);
        assert_same(
            &live_incidents(&dataset.series, 1013),
            &batch,
            &dataset.name,
        );
    }
}

/// Two months of four signals with three outages: the depth history kept
/// stays within the spans of the outages and the detector's memory (not
/// the series' age), and the incidents are batch detection's.
#[test]
fn the_depth_history_stays_bounded_and_incidents_unchanged() {
    let day = 288usize;
    let days = 60;
    let start = 1_641_168_000; // 2022-01-03T00:00:00Z
                               // Outages of 6 h on day 10, 2 days from day 30, 3 h on day 50.
    let cuts = [
        (10 * day + 100, 10 * day + 172),
        (30 * day, 32 * day),
        (50 * day + 200, 50 * day + 236),
    ];
    let down = |i: usize| cuts.iter().any(|&(a, b)| (a..b).contains(&i));
    let key = |signal| SeriesKey {
        entity: "KZ".parse().unwrap(),
        signal,
    };
    let series: Vec<Series> = [
        (SignalKind::BgpVisibleSlash24s, 9000.0),
        (SignalKind::ProbeUpSlash24s, 5000.0),
        (SignalKind::TelescopeUniqueSources, 800.0),
        (SignalKind::FlowBytesFrom, 2.0e6),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (signal, level))| Series {
        key: key(signal),
        bin: BinSize::default(),
        start,
        values: (0..days * day)
            .map(|i| {
                let hour = (i % day) as f64 / 12.0;
                let daily = 1.0 + 0.2 * (std::f64::consts::TAU * hour / 24.0).sin();
                let noise = 1.0 + ((i * 7919 + n * 31) % 17) as f64 / 1000.0;
                let cut = if down(i) { 0.05 } else { 1.0 };
                Some((level * daily * noise * cut).round())
            })
            .collect(),
    })
    .collect();
    let mut bins: Vec<SignalBin> = Vec::new();
    Collect(&mut bins)
        .write_series(&series)
        .expect("cut into bins");
    let mut live = LiveDetector::new(VigieConfig::default());
    let mut most_kept = 0;
    for bin in &bins {
        live.write(bin).expect("live detector takes every bin");
        for s in &series {
            most_kept = most_kept.max(live.depth_bins_kept(&s.key, 300).unwrap_or(0));
        }
    }
    let batch = batch_incidents(&series);
    assert_eq!(batch.len(), 3, "{batch:#?}");
    assert_same(&live.incidents(&series[0].key.entity), &batch, "two months");
    // The outages' bins (2.4 days), and at most twice the detector's
    // memory (16 h) of recent bins, with a bin of margin around each span.
    let outage_bins: usize = cuts.iter().map(|(a, b)| b - a).sum();
    let bound = outage_bins + 2 * 194 + 3 * 12;
    assert!(
        most_kept <= bound,
        "kept {most_kept} bins of depth, more than {bound} (of {} bins)",
        days * day
    );
}

#[test]
fn a_state_saved_by_another_configuration_is_refused_for_a_warm_up() {
    // A checkpoint keeps the windows its detector was built with; resumed
    // by a service whose configuration (or whose version's windows)
    // differ, it would judge the series unlike batch detection.
    let key = SeriesKey {
        entity: "KZ".parse().expect("entity"),
        signal: SignalKind::ProbeUpSlash24s,
    };
    for bin_secs in [300, 3 * 3600, 86_400] {
        let bin = BinSize::new(bin_secs).expect("bin");
        let mut live = LiveDetector::new(VigieConfig::default());
        for i in 0..50 {
            live.push(
                &key,
                bin,
                1_641_168_000 + i * i64::from(bin_secs),
                Some(500.0),
            );
        }
        let state = live.series_state(&key, bin_secs).expect("followed");
        assert!(LiveDetector::new(VigieConfig::default()).fits(&state));
        let other = VigieConfig {
            level_window_secs: 2 * 86_400,
            ..VigieConfig::default()
        };
        assert!(!LiveDetector::new(other).fits(&state), "{bin_secs} s");
    }
}

#[test]
fn a_configuration_of_short_windows_keeps_them_and_confirms_a_cut_at_once() {
    // The live lab's [detect] section: 60 s bins, windows of 1 to 15
    // minutes. Windows added for coarse bins must keep the share of the
    // level the configuration gives its longest window (here 15 minutes of
    // a day), or the noise, learnt from bins as old as the longest window,
    // is unknown for hours after 12 hours of history.
    let config = VigieConfig {
        confirm_windows_secs: vec![60, 300, 900],
        exit_window_secs: 60,
        ..VigieConfig::default()
    };
    let key = SeriesKey {
        entity: "KZ".parse().expect("entity"),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    let bin = BinSize::new(60).expect("bin");
    let mut detector = vigie_detect::SignalDetector::new(key, bin, &config);
    let start = 1_641_168_000;
    for i in 0..12 * 60 {
        detector.push(start + i * 60, Some(1024.0));
    }
    let cut = start + 12 * 3600;
    let mut confirmed = None;
    for i in 0..10 {
        let verdict = detector.push(cut + i * 60, Some(0.0));
        if verdict.phase == vigie_detect::PhaseKind::Down && confirmed.is_none() {
            confirmed = Some(i);
        }
    }
    assert!(
        confirmed.is_some_and(|i| i <= 1),
        "confirmed after {confirmed:?} bins"
    );
    assert_eq!(detector.events()[0].start, cut);
}
