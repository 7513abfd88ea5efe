//! Store benchmarks: committing a full-table bin, reading 100 days of one
//! series, and folding staged bins into chunks.
//!
//! Run with `cargo bench -p vigie-store`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use vigie_model::{
    BinSize, CountryCode, Entity, RegionId, SeriesKey, SignalKind, TimeRange, UnixSecs,
};
use vigie_store::Store;

const BIN: BinSize = BinSize::FIVE_MINUTES;
/// 2022-01-05T00:00:00Z
const DAY: UnixSecs = 1_641_340_800;
const DAY_SECS: i64 = 86_400;

/// About what a full BGP table gives per bin: countries, regions, ASes.
fn full_table_keys(total: usize) -> Vec<SeriesKey> {
    let letters = b'A'..=b'Z';
    let countries: Vec<CountryCode> = letters
        .clone()
        .flat_map(|a| letters.clone().map(move |b| [a, b]))
        .filter_map(|pair| {
            std::str::from_utf8(&pair)
                .ok()
                .and_then(|s| CountryCode::new(s).ok())
        })
        .take(250)
        .collect();
    let mut entities: Vec<Entity> = countries.iter().map(|&c| Entity::Country(c)).collect();
    for (i, &country) in countries.iter().cycle().take(4000).enumerate() {
        entities.push(Entity::Region(RegionId {
            country,
            name: format!("Region {i}"),
        }));
    }
    let mut asn = 1;
    while entities.len() < total {
        entities.push(Entity::Asn(asn));
        asn += 1;
    }
    entities
        .into_iter()
        .map(|entity| SeriesKey {
            entity,
            signal: SignalKind::BgpVisibleSlash24s,
        })
        .collect()
}

/// A slowly changing count, like visible /24s.
fn value(series: usize, bin_index: i64) -> Option<f64> {
    Some((series % 5000 + 10) as f64 + ((bin_index / 7 + series as i64) % 3) as f64)
}

fn bin_values(keys: &[SeriesKey], bin_index: i64) -> Vec<(SeriesKey, Option<f64>)> {
    keys.iter()
        .enumerate()
        .map(|(s, k)| (k.clone(), value(s, bin_index)))
        .collect()
}

fn write_bin(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("open");
    let keys = full_table_keys(100_000);
    let values = bin_values(&keys, 0);
    // The series exist already, as in a running ingest.
    store
        .write_bin("bench", BIN, DAY, &values)
        .expect("first bin");
    let mut bin_index = 1;
    let mut group = c.benchmark_group("write_bin");
    group.sample_size(20);
    group.bench_function("100k values, durable commit", |b| {
        b.iter(|| {
            store
                .write_bin("bench", BIN, DAY + bin_index * 300, black_box(&values))
                .expect("write");
            bin_index += 1;
        })
    });
    group.finish();
}

fn read_series(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("open");
    let keys = full_table_keys(1000);
    let days = 100;
    for (s, key) in keys.iter().enumerate() {
        let points: Vec<(UnixSecs, Option<f64>)> = (0..days * 288)
            .map(|i| (DAY + i * 300, value(s, i)))
            .collect();
        store.write_points(key, BIN, &points).expect("import");
    }
    let key = &keys[700];
    let range = TimeRange::new(DAY, DAY + days * DAY_SECS).expect("range");
    let mut group = c.benchmark_group("read_series");
    group.bench_function("100 days of 5-min bins from chunks", |b| {
        b.iter(|| {
            let series = store.read_series(black_box(key), BIN, range).expect("read");
            assert_eq!(series.values.len(), 28_800);
            series
        })
    });
    // One more day not yet compacted: 288 staged bins of the full table.
    let all = full_table_keys(100_000);
    for i in 0..288 {
        let values = bin_values(&all, days * 288 + i);
        store
            .write_bin("bench", BIN, DAY + days * DAY_SECS + i * 300, &values)
            .expect("stage");
    }
    let range = TimeRange::new(DAY, DAY + (days + 1) * DAY_SECS).expect("range");
    group.bench_function(
        "100 days from chunks + 1 day of staged 100k-value bins",
        |b| {
            b.iter(|| {
                let series = store.read_series(black_box(key), BIN, range).expect("read");
                assert_eq!(series.count_with_data(), 29_088);
                series
            })
        },
    );
    group.finish();
}

fn compact(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("open");
    let keys = full_table_keys(100_000);
    let mut next_bin = 0i64;
    let mut group = c.benchmark_group("compact");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("12 staged bins of 100k values into day chunks", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                for _ in 0..12 {
                    let values = bin_values(&keys, next_bin);
                    store
                        .write_bin("bench", BIN, DAY + next_bin * 300, &values)
                        .expect("stage");
                    next_bin += 1;
                }
                let start = Instant::now();
                store.compact().expect("compact");
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, write_bin, read_series, compact);
criterion_main!(benches);
