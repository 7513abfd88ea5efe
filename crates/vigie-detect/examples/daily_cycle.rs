//! vigie's detector on the series of `vigie bench detect` (level × daily
//! sinusoid × ±2% uniform noise, one bin in 500 missing, a 75% cut
//! 10:00–16:00 UTC every 30 days), with the daily amplitude as a parameter:
//! three series of 120 days, four outages each, so 12 events are expected.
//!
//! `cargo run --release -p vigie-detect --example daily_cycle -- [AMPLITUDE] [SIGNAL]`
//! (defaults 0.2 and bgp; `VERBOSE=1` lists the events).

use vigie_detect::{detect_series, VigieConfig};
use vigie_model::{format_utc, BinSize, Entity, Series, SeriesKey, SignalKind};

/// The bench's xorshift generator.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let amplitude: f64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 0.2,
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            eprintln!("usage: daily_cycle [AMPLITUDE, e.g. 0.2] [SIGNAL, e.g. bgp]");
            std::process::exit(2);
        }
    };
    let signal_name = std::env::args().nth(2).unwrap_or_else(|| "bgp".to_string());
    let Ok(signal) = signal_name.parse::<SignalKind>() else {
        eprintln!("unknown signal {signal_name:?} (bgp, ping-slash24, merit-nt, gtr, ...)");
        std::process::exit(2);
    };
    let Ok(entity) = "KZ".parse::<Entity>() else {
        eprintln!("bad entity");
        std::process::exit(2);
    };
    let verbose = std::env::var("VERBOSE").is_ok();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut total = 0;
    for _ in 0..3 {
        let level = 100.0 + rng.below(10_000) as f64;
        let values: Vec<Option<f64>> = (0..120 * 288)
            .map(|i| {
                if rng.below(500) == 0 {
                    return None;
                }
                let hour = (i % 288) as f64 / 12.0;
                let daily = 1.0 + amplitude * (std::f64::consts::TAU * hour / 24.0).sin();
                let noise = 1.0 + (rng.below(2001) as f64 - 1000.0) / 50_000.0;
                let outage = (i / 288) % 30 == 15 && (i % 288) / 12 >= 10 && (i % 288) / 12 < 16;
                Some((level * daily * noise * if outage { 0.25 } else { 1.0 }).round())
            })
            .collect();
        let series = Series {
            key: SeriesKey {
                entity: entity.clone(),
                signal,
            },
            bin: BinSize::FIVE_MINUTES,
            start: 1_640_995_200, // 2022-01-01T00:00:00Z
            values,
        };
        let detection = detect_series(&series, &VigieConfig::default());
        println!("level {level}: {} events", detection.events.len());
        total += detection.events.len();
        if verbose {
            for e in &detection.events {
                println!(
                    "  {} .. {} depth {:.3} evidence {:.1}",
                    format_utc(e.start),
                    e.end.map(format_utc).unwrap_or_default(),
                    e.depth,
                    e.evidence
                );
            }
        }
    }
    println!("total {total} events (12 expected)");
}
