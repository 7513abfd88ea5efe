//! Detection over the spans of a series that hold data: one span is the
//! whole series, spans years apart are each judged as a live detector would
//! meet them, and the silence between them costs nothing.

use vigie_detect::{detect_series, detect_spans, SignalDetector, VigieConfig};
use vigie_model::{BinSize, Series, SeriesKey};

const STEP: i64 = 300;
const DAY_BINS: usize = 288;

/// `days` of a steady count with a little deterministic noise, cut to zero
/// for `cut` bins from `cut_at`.
fn span(key: &SeriesKey, start: i64, days: usize, cut_at: usize, cut: usize) -> Series {
    let values = (0..days * DAY_BINS)
        .map(|i| {
            let noise = ((i * 7919) % 41) as f64;
            Some(if (cut_at..cut_at + cut).contains(&i) {
                0.0
            } else {
                2000.0 + noise
            })
        })
        .collect();
    Series {
        key: key.clone(),
        bin: BinSize::new(STEP as u32).expect("bin"),
        start,
        values,
    }
}

fn key() -> SeriesKey {
    SeriesKey {
        entity: "KZ".parse().expect("entity"),
        signal: "ping-slash24".parse().expect("signal"),
    }
}

#[test]
fn one_span_is_the_whole_series() {
    let config = VigieConfig::default();
    let series = span(&key(), 1_600_000_200, 6, 4 * DAY_BINS + 30, 36);
    let whole = detect_series(&series, &config);
    assert_eq!(whole.events.len(), 1, "{whole:?}");
    assert_eq!(
        detect_spans(std::slice::from_ref(&series), &config),
        vec![whole]
    );
}

#[test]
fn spans_years_apart_are_each_judged_as_the_live_detector_meets_them() {
    let config = VigieConfig::default();
    let first = span(&key(), 1_600_000_200, 6, 4 * DAY_BINS + 30, 36);
    // Three years later, a second period of data with its own cut.
    let second = span(
        &key(),
        1_600_000_200 + 3 * 365 * 86_400,
        6,
        5 * DAY_BINS + 100,
        24,
    );
    let detections = detect_spans(&[first.clone(), second.clone()], &config);
    assert_eq!(detections.len(), 2);
    assert_eq!(detections[0].depths.len(), first.values.len());
    assert_eq!(detections[1].depths.len(), second.values.len());
    let cut_start = |s: &Series, i: usize| s.start + i as i64 * STEP;
    assert_eq!(detections[0].events.len(), 1, "{:?}", detections[0].events);
    assert_eq!(
        detections[0].events[0].start,
        cut_start(&first, 4 * DAY_BINS + 30)
    );
    // After three years of silence the detector relearns: the second cut,
    // five days into the second span, is found again.
    assert_eq!(detections[1].events.len(), 1, "{:?}", detections[1].events);
    assert_eq!(
        detections[1].events[0].start,
        cut_start(&second, 5 * DAY_BINS + 100)
    );
    // The same bins pushed one by one into a live detector, skipping the
    // silence, give the same events.
    let mut live = SignalDetector::new(key(), first.bin, &config);
    for s in [&first, &second] {
        for (t, value) in s.points() {
            live.push(t, value);
        }
    }
    let batch: Vec<_> = detections.iter().flat_map(|d| d.events.clone()).collect();
    assert_eq!(live.events(), batch);
}
