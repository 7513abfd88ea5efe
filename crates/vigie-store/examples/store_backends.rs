//! Write throughput of the two backends on the same input: bins of 100,000
//! values (a full BGP table's countries, regions and ASes) committed with
//! `write_bin`, then folded into day chunks with `compact`, and whole
//! series imported with `write_points`; printed as values per second.
//!
//! ```sh
//! cargo run --release -p vigie-store --features postgres --example store_backends -- \
//!     postgres://USER@HOST:PORT/DATABASE [BINS]
//! ```
//!
//! The PostgreSQL database should be empty (the SQLite store is a fresh
//! temporary folder).

use std::time::Instant;

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, UnixSecs};
use vigie_store::Store;

const BIN: BinSize = BinSize::FIVE_MINUTES;
/// 2022-01-05T00:00:00Z
const DAY: UnixSecs = 1_641_340_800;
const SERIES: usize = 100_000;

fn keys() -> Vec<SeriesKey> {
    (1..=SERIES as u32)
        .map(|asn| SeriesKey {
            entity: Entity::Asn(asn),
            signal: SignalKind::BgpVisibleSlash24s,
        })
        .collect()
}

/// A slowly changing count, like visible /24s.
fn value(series: usize, bin_index: i64) -> Option<f64> {
    Some((series % 5000 + 10) as f64 + ((bin_index / 7 + series as i64) % 3) as f64)
}

fn run(name: &str, mut store: Store, bins: i64) {
    let keys = keys();
    // The series exist already, as in a running ingest.
    let first: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(s, k)| (k.clone(), value(s, 0)))
        .collect();
    store
        .write_bin("bench", BIN, DAY, &first)
        .expect("first bin");
    let start = Instant::now();
    for i in 1..=bins {
        let values: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(s, k)| (k.clone(), value(s, i)))
            .collect();
        store
            .write_bin("bench", BIN, DAY + i * 300, &values)
            .expect("write_bin");
    }
    let secs = start.elapsed().as_secs_f64();
    let written = bins as f64 * SERIES as f64;
    println!(
        "{name}: write_bin {bins} bins x {SERIES} values: {secs:.2} s, {:.0} values/s",
        written / secs
    );
    let start = Instant::now();
    store.compact().expect("compact");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: compact {} values into day chunks: {secs:.2} s, {:.0} values/s",
        written + SERIES as f64,
        (written + SERIES as f64) / secs
    );
    // Imports: 200 series of 30 days each, one write_points per series.
    let start = Instant::now();
    let mut points_written = 0usize;
    for (s, key) in keys.iter().take(200).enumerate() {
        let points: Vec<(UnixSecs, Option<f64>)> = (0..30 * 288)
            .map(|i| (DAY - 40 * 86_400 + i * 300, value(s, i)))
            .collect();
        points_written += points.len();
        store.write_points(key, BIN, &points).expect("write_points");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: write_points 200 series x 30 days: {secs:.2} s, {:.0} values/s",
        points_written as f64 / secs
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: store_backends postgres://USER@HOST:PORT/DATABASE [BINS]");
        std::process::exit(2);
    };
    let bins: i64 = args.next().and_then(|b| b.parse().ok()).unwrap_or(24);
    let dir = tempfile::tempdir().expect("temp dir");
    run(
        "sqlite",
        Store::open(dir.path()).expect("open SQLite"),
        bins,
    );
    match Store::open_url(&url) {
        Ok(store) => run("postgres", store, bins),
        Err(e) => {
            eprintln!("store_backends: {e}");
            std::process::exit(1);
        }
    }
}
