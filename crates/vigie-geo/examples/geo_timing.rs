//! Measures the embedded tables' build times and the lookup speed of
//! `country_of_unit` and `split_countries`. Run it optimised:
//!
//! ```text
//! cargo run --release -p vigie-geo --example geo_timing [FILE...]
//! ```
//!
//! Each FILE given is loaded with `GeoDbBuilder::load_auto` and timed.

use std::hint::black_box;
use std::time::Instant;

use vigie_geo::{embedded_build_times, Family, GeoDb, GeoDbBuilder};

fn main() {
    for path in std::env::args().skip(1) {
        let mut builder = GeoDbBuilder::empty();
        let started = Instant::now();
        match builder.load_auto(&path) {
            Ok(report) => {
                let loaded = started.elapsed();
                let started = Instant::now();
                let db = builder.build();
                println!(
                    "{report}: loaded in {loaded:?}, built in {:?}; {} v4 + {} v6 country ranges, {} v4 + {} v6 AS ranges, {} AS names",
                    started.elapsed(),
                    db.country_table(Family::V4).len(),
                    db.country_table(Family::V6).len(),
                    db.asn_table(Family::V4).len(),
                    db.asn_table(Family::V6).len(),
                    db.as_name_count(),
                );
            }
            Err(error) => println!("{path}: {error}"),
        }
    }

    let db = GeoDb::embedded();
    let started = Instant::now();
    db.preload();
    let (v4, v6) = embedded_build_times();
    println!(
        "embedded tables built in {:?}: ipv4 {:?} ({} ranges), ipv6 {:?} ({} ranges)",
        started.elapsed(),
        v4.unwrap_or_default(),
        db.country_table(Family::V4).len(),
        v6.unwrap_or_default(),
        db.country_table(Family::V6).len(),
    );

    // Pseudo-random units (xorshift), so the branch predictor and caches
    // see the worst case rather than a sequential scan.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let units: Vec<u64> = (0..4_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & Family::V4.max_unit()
        })
        .collect();

    let started = Instant::now();
    let mut found = 0u64;
    for &unit in &units {
        found += u64::from(black_box(db.country_of_unit(Family::V4, unit)).is_some());
    }
    let elapsed = started.elapsed();
    println!(
        "country_of_unit: {} random lookups in {elapsed:?} ({:.1} ns each, {found} with a country)",
        units.len(),
        elapsed.as_nanos() as f64 / units.len() as f64
    );

    // split_countries over random /16-sized spans.
    let started = Instant::now();
    let mut stretches = 0u64;
    for &unit in &units {
        let first = unit & !0xff;
        db.split_countries(Family::V4, first, first | 0xff, |country, count| {
            black_box((country, count));
            stretches += 1;
        });
    }
    let elapsed = started.elapsed();
    println!(
        "split_countries over a /16: {} calls in {elapsed:?} ({:.1} ns each, {:.2} stretches per call)",
        units.len(),
        elapsed.as_nanos() as f64 / units.len() as f64,
        stretches as f64 / units.len() as f64
    );
}
