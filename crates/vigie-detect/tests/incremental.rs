//! Incremental detection, one bin at a time with the state saved and
//! restored between bins, gives exactly the events of batch detection.

mod common;

use vigie_detect::{detect_series, SignalDetector, SignalEvent, VigieConfig};
use vigie_model::{BinSize, Series, SeriesKey, SignalKind};

/// Feeds `series` bin by bin, saving the detector to JSON and loading it
/// back every `save_every` bins, and checks at every `check_every` bins that
/// the events so far equal batch detection on the prefix.
fn assert_incremental_equals_batch(series: &Series, save_every: usize, check_every: usize) {
    let config = VigieConfig::default();
    let batch = detect_series(series, &config);
    let mut detector = SignalDetector::new(series.key.clone(), series.bin, &config);
    for (i, (t, value)) in series.points().enumerate() {
        detector.push(t, value);
        if (i + 1) % save_every == 0 {
            // A JSON value keeps floats exactly (NaN is written as null and
            // read back as NaN); text JSON needs serde_json's float_roundtrip
            // feature for the last bit, so it is only checked to load.
            let saved = serde_json::to_value(&detector).expect("save");
            let text = saved.to_string();
            let _: SignalDetector = serde_json::from_str(&text).expect("load text");
            detector = serde_json::from_value(saved).expect("load");
        }
        if (i + 1) % check_every == 0 {
            let prefix = Series {
                values: series.values[..=i].to_vec(),
                ..series.clone()
            };
            let expected = detect_series(&prefix, &config).events;
            assert_events_equal(
                &detector.events(),
                &expected,
                &format!("after {} bins", i + 1),
            );
        }
    }
    assert_events_equal(&detector.events(), &batch.events, "at the end");
}

fn assert_events_equal(got: &[SignalEvent], expected: &[SignalEvent], when: &str) {
    assert_eq!(
        got.len(),
        expected.len(),
        "{when}: {got:#?} vs {expected:#?}"
    );
    for (a, b) in got.iter().zip(expected) {
        assert_eq!(
            serde_json::to_value(a).expect("json"),
            serde_json::to_value(b).expect("json"),
            "{when}"
        );
    }
}

#[test]
fn incremental_equals_batch_on_a_restoration_case() {
    let day = 4 * 288;
    let values = (0..7 * 288)
        .map(|i| {
            let h = (i as f64 - day as f64) / 12.0;
            let cut = (10.5..17.5).contains(&h) || (22.0..34.5).contains(&h);
            Some(if cut { 50.0 } else { 5000.0 + (i % 7) as f64 })
        })
        .collect();
    let series = Series {
        key: SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::ProbeUpSlash24s,
        },
        bin: BinSize::default(),
        start: 1_641_168_000,
        values,
    };
    assert_incremental_equals_batch(&series, 37, 97);
}

#[test]
fn incremental_equals_batch_on_real_iodas_exports() {
    let Some(datasets) = common::load_all() else {
        return;
    };
    for dataset in &datasets {
        for series in &dataset.series {
            assert_incremental_equals_batch(series, 101, 331);
        }
    }
}
