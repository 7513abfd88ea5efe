//! Prints vigie's per-bin verdicts for one signal of a labelled IODA export.
//!
//! `cargo run -p vigie-detect --example trace FILE ENTITY SIGNAL FROM UNTIL [FORMAT]`
//!
//! FORMAT is one of `vigie import`'s formats (default `ioda-csv`); for a
//! file of many entities (Monash), ENTITY picks the series.

use vigie_detect::{SignalDetector, VigieConfig};
use vigie_import::{import_path, ImportFormat, ImportOptions};
use vigie_model::{format_utc, parse_utc};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: trace FILE ENTITY SIGNAL FROM UNTIL [FORMAT]");
        std::process::exit(2);
    }
    let format: ImportFormat = match args.get(6).map(|f| f.parse()).transpose() {
        Ok(f) => f.unwrap_or(ImportFormat::IodaCsv),
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let options = ImportOptions {
        entity: (format != ImportFormat::Monash)
            .then(|| args[2].parse().ok())
            .flatten(),
        ..ImportOptions::default()
    };
    let imported = match import_path(std::path::Path::new(&args[1]), format, &options) {
        Ok(i) => i,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let (Ok(from), Ok(until)) = (parse_utc(&args[4]), parse_utc(&args[5])) else {
        eprintln!("bad times");
        std::process::exit(2);
    };
    let Some(series) = imported
        .series
        .iter()
        .find(|s| s.key.signal.name() == args[3] && s.key.entity.to_string() == args[2])
    else {
        eprintln!("no such signal");
        std::process::exit(2);
    };
    let mut detector = SignalDetector::new(series.key.clone(), series.bin, &VigieConfig::default());
    for (t, v) in series.points() {
        let verdict = detector.push(t, v);
        if t >= from && t < until {
            let state = serde_json::to_value(&detector).unwrap_or_default();
            let mad: Vec<String> = state["noise_mad"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| format!("{:.3}", v.as_f64().unwrap_or(0.0) * 1.2533))
                        .collect()
                })
                .unwrap_or_default();
            let steps: Vec<String> = state["noise_updates"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| format!("{:.3}", v.as_f64().unwrap_or(0.0) * 1.2533))
                        .collect()
                })
                .unwrap_or_default();
            print!("sigma={} step={} ", mad.join(","), steps.join(","));
            println!(
                "{} value {:>10} pred {:>10} depth {:>6} {:?}",
                format_utc(t),
                v.map(|v| format!("{v:.2}")).unwrap_or_default(),
                verdict
                    .predicted
                    .map(|p| format!("{p:.2}"))
                    .unwrap_or_default(),
                verdict.depth.map(|d| format!("{d:.2}")).unwrap_or_default(),
                verdict.phase
            );
        }
    }
}
