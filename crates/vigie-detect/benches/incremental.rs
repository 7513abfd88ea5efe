//! Incremental scoring: 100,000 series, one new five-minute bin each.
//!
//! Target (issue 3): under one second on one core. The detectors are warmed
//! with two days of synthetic data (1,000 distinct series, each cloned 100
//! times, so the per-series state has its real size) before timing.
//!
//! `cargo bench -p vigie-detect --bench incremental`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use vigie_detect::{SignalDetector, VigieConfig};
use vigie_model::{BinSize, SeriesKey, SignalKind};

const SERIES: usize = 100_000;
const DISTINCT: usize = 1_000;
const WARM_BINS: i64 = 2 * 288;
/// 2022-01-03T00:00:00Z.
const T0: i64 = 1_641_168_000;

/// A deterministic value for series `s` at bin `i`: a daily cycle, noise,
/// and a different level per series.
fn value(s: usize, i: i64) -> f64 {
    let level = 50.0 + (s % 97) as f64 * 40.0;
    let hour = (i % 288) as f64 / 12.0;
    let daily = 0.8 + 0.2 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos();
    let jitter = (((s as i64 * 7919 + i * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 0.04;
    level * daily * (1.0 + jitter)
}

fn warmed_detectors() -> Vec<SignalDetector> {
    let config = VigieConfig::default();
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
    ];
    let started = Instant::now();
    let distinct: Vec<SignalDetector> = (0..DISTINCT)
        .map(|s| {
            let key = SeriesKey {
                entity: vigie_model::Entity::Asn(s as u32 + 1),
                signal: signals[s % signals.len()],
            };
            let mut detector = SignalDetector::new(key, BinSize::default(), &config);
            for i in 0..WARM_BINS {
                detector.push(T0 + i * 300, Some(value(s, i)));
            }
            detector
        })
        .collect();
    let detectors: Vec<SignalDetector> = (0..SERIES)
        .map(|k| distinct[k % DISTINCT].clone())
        .collect();
    let state_bytes = serde_json::to_vec(&distinct[0])
        .map(|v| v.len())
        .unwrap_or(0);
    eprintln!(
        "warmed {SERIES} detectors in {:.1} s (one detector's state is {state_bytes} bytes as JSON)",
        started.elapsed().as_secs_f64()
    );
    detectors
}

fn bench_incremental(c: &mut Criterion) {
    let mut detectors = warmed_detectors();
    let mut next = WARM_BINS;
    let mut group = c.benchmark_group("incremental");
    group.sample_size(10);
    group.bench_function("100k series, one bin", |b| {
        b.iter(|| {
            let t = T0 + next * 300;
            for (k, detector) in detectors.iter_mut().enumerate() {
                black_box(detector.push(t, Some(value(k % DISTINCT, next))));
            }
            next += 1;
        })
    });
    group.finish();
}

criterion_group!(benches, bench_incremental);
criterion_main!(benches);
