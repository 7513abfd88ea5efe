//! Lists vigie's per-signal events for one entity of the robustness sweep.
//!
//! `cargo run --release -p vigie-detect --example sweep_entity -- ID [SEED]
//! [SIGNAL FROM TO]` where ID is `dimension/class#index` as `vigie bench
//! truth -v` names it; with SIGNAL (`ping-slash24`, ...) and two UTC times,
//! it also prints that signal's per-bin verdicts between them.

use vigie_detect::sweep::{generate, plan};
use vigie_detect::SignalDetector;
use vigie_detect::{detect_series_local, VigieConfig};
use vigie_model::{format_utc, parse_utc};

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
    // As the sweep does: the entity's weekdays are its local ones.
    let local_offset = scenario.params.utc_offset_hours * 3600;
    for series in &synthetic.series {
        let detection = detect_series_local(series, &config, local_offset);
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
    if let [signal, from, to] = args.get(3..6).unwrap_or_default() {
        let (Ok(from), Ok(to)) = (parse_utc(from), parse_utc(to)) else {
            eprintln!("FROM and TO are UTC times such as 2024-01-11T16:00:00Z");
            std::process::exit(2);
        };
        let Some(series) = synthetic
            .series
            .iter()
            .find(|s| s.key.signal.name() == signal)
        else {
            eprintln!("no {signal} series in {id}");
            std::process::exit(2);
        };
        let mut detector = SignalDetector::new(series.key.clone(), series.bin, &config);
        detector.set_local_offset(local_offset);
        for (t, value) in series.points() {
            let verdict = detector.push(t, value);
            if (from..to).contains(&t) {
                println!(
                    "{} value {:>10} predicted {:>10} depth {:>6} {:?}",
                    format_utc(t),
                    value.map_or("-".into(), |v| format!("{v:.1}")),
                    verdict.predicted.map_or("-".into(), |p| format!("{p:.1}")),
                    verdict.depth.map_or("-".into(), |d| format!("{d:.2}")),
                    verdict.phase
                );
            }
        }
    }
}
