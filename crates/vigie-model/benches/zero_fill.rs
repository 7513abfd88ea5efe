//! `ZeroFill` per bin at BGP's scale (`cargo bench -p vigie-model --bench zero_fill`):
//! 300,000 series (75,000 ASes × the four BGP signals), every bin with 1%
//! of them silent, so the rule has something to fill. Env:
//! VIGIE_BENCH_SERIES (default 300,000), VIGIE_BENCH_BINS (default 20).
//! Prints the best and median milliseconds per bin of each way in (a map
//! of keys, as traffic hands it; ids kept beside counters, as BGP does);
//! the figures go to docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::time::Instant;

use vigie_model::{Entity, SeriesKey, SignalKind, ZeroFill};

const SIGNALS: [SignalKind; 4] = [
    SignalKind::BgpVisibleSlash24s,
    SignalKind::BgpVisibleSlash48s,
    SignalKind::BgpAnnouncements,
    SignalKind::BgpWithdrawals,
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// Best and median of per-bin times, in milliseconds.
fn summary(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[0], ms[ms.len() / 2])
}

fn main() {
    let series = env("VIGIE_BENCH_SERIES", 300_000);
    let bins = env("VIGIE_BENCH_BINS", 20).max(1);
    let keys: Vec<SeriesKey> = (0..series)
        .map(|i| SeriesKey {
            entity: Entity::Asn(1 + (i / SIGNALS.len()) as u32),
            signal: SIGNALS[i % SIGNALS.len()],
        })
        .collect();
    // Bin b leaves out the series i with i % 100 == b % 100: 1% silent.
    let silent = |bin: usize, i: usize| i % 100 == bin % 100;

    // Keyed: what traffic, telescope and access logs hand over (a map of
    // the bin's values, built by the source, not timed).
    let mut fill = ZeroFill::default();
    let mut keyed = Vec::new();
    let mut written = 0;
    for bin in 0..bins {
        let values: BTreeMap<SeriesKey, f64> = keys
            .iter()
            .enumerate()
            .filter(|&(i, _)| !silent(bin, i))
            .map(|(i, k)| (k.clone(), (i + bin) as f64))
            .collect();
        let started = Instant::now();
        let out = fill.complete(values);
        keyed.push(started.elapsed().as_secs_f64() * 1e3);
        written = out.len();
    }
    assert_eq!(written, series, "every series written once it had a value");
    let (best, median) = summary(keyed);
    println!("| keyed (`complete`, a map per bin) | {series} | {best:.1} | {median:.1} |");

    // By id: what BGP does, its counters holding each series' `FillId`
    // (registered when the series first has a value, not timed).
    let mut fill = ZeroFill::default();
    let ids: Vec<_> = keys.iter().map(|k| fill.id(k)).collect();
    let mut by_id = Vec::new();
    for bin in 0..bins {
        let started = Instant::now();
        for (i, &id) in ids.iter().enumerate() {
            if !silent(bin, i) {
                fill.set(id, (i + bin) as f64);
            }
        }
        let out = fill.close();
        by_id.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.len(), series);
        assert_eq!(out[bin % 100].1, Some(0.0), "the silent series reads 0");
    }
    let (best, median) = summary(by_id);
    println!("| by id (`set`, then `close`) | {series} | {best:.1} | {median:.1} |");
}
