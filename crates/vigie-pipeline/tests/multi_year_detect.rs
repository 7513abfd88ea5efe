//! Batch detection on a store whose data lie years apart reads only the
//! spans that hold data (a multi-year silence costs nothing) and finds the
//! outage of each span, as a live detector meeting the same bins would.

use vigie_model::{BinSink, BinSize, Series, SeriesKey, SignalKind, UnixSecs};
use vigie_pipeline::{detect_and_store, DetectOptions, VIGIE};
use vigie_store::{ResultFilter, Store};

const DAY_BINS: usize = 288;
const STEP: i64 = 300;
const FIRST: UnixSecs = 1_104_537_600; // 2005-01-01T00:00:00Z
/// Twelve years later: about 1.26 million 5-minute bins of silence.
const SECOND: UnixSecs = FIRST + 12 * 365 * 86_400;

/// Six days of steady counts, cut to zero for three hours on day five.
fn period(signal: SignalKind, start: UnixSecs, level: f64) -> Series {
    let cut = 5 * DAY_BINS + 40..5 * DAY_BINS + 76;
    Series {
        key: SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal,
        },
        bin: BinSize::new(STEP as u32).unwrap(),
        start,
        values: (0..6 * DAY_BINS)
            .map(|i| {
                let noise = ((i * 7919) % 31) as f64;
                Some(if cut.contains(&i) { 0.0 } else { level + noise })
            })
            .collect(),
    }
}

#[test]
fn outages_years_apart_are_each_found() {
    let mut store = Store::open_in_memory().unwrap();
    let series: Vec<Series> = [FIRST, SECOND]
        .into_iter()
        .flat_map(|start| {
            [
                period(SignalKind::ProbeUpSlash24s, start, 1500.0),
                period(SignalKind::BgpVisibleSlash24s, start, 4000.0),
            ]
        })
        .collect();
    store.sink("test").write_series(&series).unwrap();
    let mut seen = 0;
    let summary = detect_and_store(&mut store, &DetectOptions::default(), &mut |_, _, _| {
        seen += 1;
    })
    .unwrap();
    assert_eq!(seen, 1, "progress hears each entity");
    assert_eq!(summary.series, 2);
    let incidents = store
        .incidents(&ResultFilter {
            method: Some(VIGIE.into()),
            ..ResultFilter::default()
        })
        .unwrap();
    let starts: Vec<UnixSecs> = incidents.iter().map(|i| i.start).collect();
    let onset = |start: UnixSecs| start + (5 * DAY_BINS as i64 + 40) * STEP;
    assert_eq!(starts, vec![onset(FIRST), onset(SECOND)], "{incidents:?}");
    assert!(incidents.iter().all(|i| i.end.is_some()), "{incidents:?}");
}
