//! Lists vigie's per-signal events for one entity of the robustness sweep.
//!
//! `cargo run --release -p vigie-detect --example sweep_entity -- ID [SEED]`
//! where ID is `dimension/class#index` as `vigie bench truth -v` names it.

use vigie_detect::sweep::{generate, plan};
use vigie_detect::{detect_series, VigieConfig};
use vigie_model::format_utc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(id) = args.get(1) else {
        eprintln!("usage: sweep_entity DIMENSION/CLASS#INDEX [SEED]");
        std::process::exit(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dimension = id.split('/').next().unwrap_or_default();
    let scenarios = match plan(seed, false, Some(dimension)) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let Some(scenario) = scenarios.iter().find(|s| &s.id() == id) else {
        eprintln!("no entity {id} in the sweep");
        std::process::exit(2);
    };
    println!("{}", scenario.params.describe());
    let synthetic = generate(scenario);
    for label in &synthetic.labels {
        println!(
            "label {} → {}",
            format_utc(label.start),
            format_utc(label.end)
        );
    }
    let config = VigieConfig::default();
    for series in &synthetic.series {
        let detection = detect_series(series, &config);
        for event in detection.events {
            println!(
                "{:<14} {} → {} depth {:.2} evidence {:.1}",
                series.key.signal.name(),
                format_utc(event.start),
                event.end.map(format_utc).unwrap_or_else(|| "open".into()),
                event.depth,
                event.evidence
            );
        }
    }
}
