//! Imports the real IODA exports in the shared data folder and checks values
//! read from the files by hand.

use std::path::PathBuf;

use vigie_import::{import_path, ImportFormat, ImportOptions, IssueKind, SignalKind};
use vigie_model::{format_utc, Entity};

/// The shared signals folder, or `None` (with a message) when it is absent.
/// Under CI=true its absence is a failure.
fn signals_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/signals"
    ));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the shared data folder {} is missing",
            dir.display()
        );
    }
    eprintln!("SKIPPED: shared data folder {} is absent", dir.display());
    None
}

fn import(file: &str, entity: &str) -> Option<vigie_import::Imported> {
    let dir = signals_dir()?;
    let options = ImportOptions {
        entity: Some(entity.parse::<Entity>().expect("entity")),
        ..ImportOptions::default()
    };
    Some(import_path(&dir.join(file), ImportFormat::IodaCsv, &options).expect("import"))
}

#[test]
fn iraq_2023_export_reads_every_signal_and_the_exam_labels() {
    let Some(imported) = import("ioda_country_IQ_iraq.csv", "IQ") else {
        return;
    };
    let report = &imported.report;
    assert_eq!(report.rows_read, 2928);
    assert_eq!(report.count(IssueKind::BadRow), 0);
    assert_eq!(report.count(IssueKind::BadTime), 0);
    assert!(report.unknown_columns.is_empty(), "{report}");
    assert_eq!(imported.series.len(), 5);
    let get = |kind: SignalKind| {
        imported
            .series
            .iter()
            .find(|s| s.key.signal == kind)
            .expect("signal present")
    };
    let bgp = get(SignalKind::BgpVisibleSlash24s);
    assert_eq!(bgp.bin.secs(), 300);
    assert_eq!(format_utc(bgp.start), "2023-08-20T01:00:00Z");
    assert_eq!(bgp.values.len(), 2928);
    // First row: 1692493200,3112278020.0,0.5433...,4.4,2917,581.0
    assert_eq!(bgp.values[0], Some(2917.0));
    assert_eq!(get(SignalKind::ProbeUpSlash24s).values[0], Some(581.0));
    assert_eq!(get(SignalKind::TelescopeUniqueSources).values[0], Some(4.4));
    assert_eq!(
        get(SignalKind::GoogleTraffic).values[0],
        Some(3_112_278_020.0)
    );
    // gtr is published every 30 minutes: the other five bins are no data.
    assert_eq!(get(SignalKind::GoogleTraffic).values[1], None);
    // 2023-08-21 01:00 UTC, the first exam shutdown: BGP fell to 1160 /24s.
    let index = bgp.index_of(1_692_579_600).expect("in range");
    assert_eq!(bgp.values[index], Some(1160.0));
    // Eight labelled shutdowns, 01:00 to 05:00 UTC (08-22 starts at 01:05).
    assert_eq!(imported.labels.len(), 8);
    assert_eq!(format_utc(imported.labels[0].start), "2023-08-21T01:00:00Z");
    assert_eq!(format_utc(imported.labels[0].end), "2023-08-21T05:00:00Z");
    assert_eq!(format_utc(imported.labels[1].start), "2023-08-22T01:05:00Z");
    assert!(imported.labels.iter().all(|l| l.entity.to_string() == "IQ"));
}

#[test]
fn gaza_and_zhytomyr_exports_read_as_regions() {
    let Some(gaza) = import("ioda_region_1226_gazastrip.csv", "PS/Gaza Strip") else {
        return;
    };
    assert_eq!(gaza.report.rows_read, 3359);
    assert_eq!(gaza.series.len(), 3);
    assert_eq!(gaza.labels.len(), 3);
    assert_eq!(format_utc(gaza.labels[0].start), "2023-10-27T15:25:00Z");
    assert_eq!(format_utc(gaza.labels[0].end), "2023-10-29T01:30:00Z");
    assert_eq!(gaza.series[0].key.entity.to_string(), "PS/Gaza Strip");

    let Some(zhytomyr) = import("ioda_region_4369_zhytomyr.csv", "UA/Zhytomyr") else {
        return;
    };
    assert_eq!(zhytomyr.report.rows_read, 923);
    assert_eq!(zhytomyr.labels.len(), 2);
    assert_eq!(format_utc(zhytomyr.labels[1].start), "2022-03-23T09:10:00Z");
    let bgp = zhytomyr
        .series
        .iter()
        .find(|s| s.key.signal == SignalKind::BgpVisibleSlash24s)
        .expect("bgp");
    // 2022-03-22 09:30 UTC: 573 visible /24s instead of 670.
    assert_eq!(bgp.get(1_647_941_400), Some(573.0));
}
