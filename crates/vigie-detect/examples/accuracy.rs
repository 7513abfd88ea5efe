//! Prints the accuracy tables of `ioda-median` and vigie on the labelled IODA
//! exports, with each detected incident.
//!
//! `cargo run -p vigie-detect --example accuracy [path/to/shared/data]`

use std::path::PathBuf;

use vigie_detect::{
    detect_series, evaluate, fuse, Dataset, EvalRow, IodaConfig, IodaLevel, Label, Method,
    VigieConfig,
};
use vigie_import::{import_path, ImportFormat, ImportOptions};
use vigie_model::format_utc;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        });
    let sets = [
        ("Iraq 2023", "ioda_country_IQ_iraq.csv", "IQ"),
        (
            "Gaza Strip 2023",
            "ioda_region_1226_gazastrip.csv",
            "PS/Gaza Strip",
        ),
        (
            "Zhytomyr 2022",
            "ioda_region_4369_zhytomyr.csv",
            "UA/Zhytomyr",
        ),
    ];
    let methods = [
        Method::IodaMedian(IodaConfig::published(IodaLevel::Warning)),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Critical)),
        Method::IodaMedian(IodaConfig {
            merge_gap_secs: VigieConfig::default().close_after_secs,
            ..IodaConfig::published(IodaLevel::Warning)
        }),
        Method::IodaMedian(IodaConfig {
            merge_gap_secs: VigieConfig::default().close_after_secs,
            ..IodaConfig::published(IodaLevel::Critical)
        }),
        Method::Vigie(VigieConfig::default()),
    ];
    let verbose = std::env::var("VERBOSE").is_ok();
    let mut rows: Vec<EvalRow> = Vec::new();
    for (name, file, entity) in sets {
        let entity: vigie_model::Entity = entity.parse().expect("entity");
        let options = ImportOptions {
            entity: Some(entity.clone()),
            ..ImportOptions::default()
        };
        let imported = match import_path(
            &dir.join("signals").join(file),
            ImportFormat::IodaCsv,
            &options,
        ) {
            Ok(imported) => imported,
            Err(err) => {
                eprintln!("{err}");
                std::process::exit(2);
            }
        };
        let dataset = Dataset {
            name: name.to_string(),
            entity: entity.clone(),
            labels: imported
                .labels
                .iter()
                .map(|s| Label::new(s.entity.clone(), s.start, s.end))
                .collect(),
            series: imported.series,
            local_offset: 0,
        };
        for method in &methods {
            rows.push(evaluate(method, &dataset));
        }
        if verbose {
            let config = VigieConfig::default();
            let detections: Vec<_> = dataset
                .series
                .iter()
                .map(|s| detect_series(s, &config))
                .collect();
            println!("\n## {name}: labels");
            for l in &dataset.labels {
                println!("  {} .. {}", format_utc(l.start), format_utc(l.end));
            }
            for d in &detections {
                for e in &d.events {
                    println!(
                        "  signal {:>12} {} .. {} depth {:.2} evidence {:.1} restorations {} {:?}",
                        e.key.signal.name(),
                        format_utc(e.start),
                        e.end.map(format_utc).unwrap_or_else(|| "ongoing".into()),
                        e.depth,
                        e.evidence,
                        e.restorations.len(),
                        e.end_reason
                    );
                }
            }
            for i in fuse(&entity, &detections, &config) {
                println!(
                    "  INCIDENT {} .. {} depth {:.2} {} ({:.2}) scope {} conf {:.2} [{}]",
                    format_utc(i.start),
                    i.end.map(format_utc).unwrap_or_else(|| "ongoing".into()),
                    i.depth,
                    i.mechanism.name(),
                    i.mechanism_confidence,
                    i.scope.name(),
                    i.confidence,
                    i.mechanism_evidence
                );
            }
        }
    }
    println!("\n{}", EvalRow::markdown_header());
    for row in &rows {
        println!("{}", row.markdown_row());
    }
}
