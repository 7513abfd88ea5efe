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
