//! Scratch: the bench generator's series, events listed.
use vigie_detect::{detect_series, VigieConfig};
use vigie_model::{format_utc, BinSize, Series, SeriesKey, SignalKind};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let amp: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0.2);
    let sig: String = std::env::args().nth(2).unwrap_or("bgp".into());
    let signal: SignalKind = sig.parse().unwrap();
    let verbose = std::env::var("VERBOSE").is_ok();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut total = 0;
    for _ in 0..3 {
        let level = 100.0 + rng.below(10_000) as f64;
        let values: Vec<Option<f64>> = (0..120 * 288)
            .map(|i| {
                if rng.below(500) == 0 {
                    return None;
                }
                let hour = (i % 288) as f64 / 12.0;
                let daily = 1.0 + amp * (std::f64::consts::TAU * hour / 24.0).sin();
                let noise = 1.0 + (rng.below(2001) as f64 - 1000.0) / 50_000.0;
                let outage = (i / 288) % 30 == 15 && (i % 288) / 12 >= 10 && (i % 288) / 12 < 16;
                Some((level * daily * noise * if outage { 0.25 } else { 1.0 }).round())
            })
            .collect();
        let series = Series {
            key: SeriesKey { entity: "KZ".parse().unwrap(), signal },
            bin: BinSize::FIVE_MINUTES,
            start: 1_640_995_200,
            values,
        };
        let d = detect_series(&series, &VigieConfig::default());
        println!("level {level}: {} events", d.events.len());
        total += d.events.len();
        if verbose {
            for e in &d.events {
                println!(
                    "  {} .. {} depth {:.3} max {:.3} ev {:.2} bins {}",
                    format_utc(e.start),
                    e.end.map(format_utc).unwrap_or_default(),
                    e.depth,
                    e.max_depth,
                    e.evidence,
                    e.bins
                );
            }
        }
    }
    println!("total {total}");
}
