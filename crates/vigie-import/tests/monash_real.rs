//! Imports the real Monash IP Observatory files in the shared data folder
//! and checks values read from the files by hand.

use vigie_import::{import_path, ImportFormat, ImportOptions, Imported, IssueKind, SignalKind};
use vigie_model::format_utc;

/// Imports `signals/monash/FILE`, or `None` (with a message) when the shared
/// data is absent; under CI=true its absence is a failure.
fn import(file: &str, options: &ImportOptions) -> Option<Imported> {
    let path = vigie_testdata::shared_data(&format!("signals/monash/{file}"))?;
    Some(import_path(&path, ImportFormat::Monash, options).expect("import"))
}

fn value_at(imported: &Imported, entity: &str, t: i64) -> Option<f64> {
    imported
        .series
        .iter()
        .find(|s| s.key.entity.to_string() == entity)
        .unwrap_or_else(|| panic!("no series for {entity}"))
        .get(t)
}

#[test]
fn hurricane_laura_counties_hourly_in_utc() {
    let Some(imported) = import("usa-2020-08-31_HurrLaura.csv", &ImportOptions::default()) else {
        return;
    };
    let report = &imported.report;
    assert_eq!(report.rows_read, 35_856);
    assert_eq!(report.total_issues(), 0, "{report}");
    // 200 county names, 216 (state, county) pairs: Jefferson, Franklin...
    // exist in several states.
    assert_eq!(imported.series.len(), 216);
    for series in &imported.series {
        assert_eq!(series.key.signal, SignalKind::ConnectivityIndex);
        assert_eq!(series.bin.secs(), 3600);
        assert_eq!(format_utc(series.start), "2020-08-24T00:00:00Z");
        assert_eq!(series.values.len(), 166);
    }
    // Calcasieu (Lake Charles), 27 Aug 2020: 7 at 04:00, 2 at 07:00 UTC on
    // Monash's 0..10 scale, stored ×10.
    let landfall = 1_598_508_000; // 2020-08-27T06:00:00Z
    assert_eq!(
        value_at(&imported, "US/Louisiana: Calcasieu", landfall - 7200),
        Some(70.0)
    );
    assert_eq!(
        value_at(&imported, "US/Louisiana: Calcasieu", landfall + 3600),
        Some(20.0)
    );
    assert!(value_at(&imported, "US/Texas: Jefferson", landfall).is_some());
}

#[test]
fn venezuela_states_in_caracas_time() {
    let Some(imported) = import("ven-2019-07-22_gif.csv", &ImportOptions::default()) else {
        return;
    };
    let report = &imported.report;
    assert_eq!(report.rows_read, 1469);
    // Táchira's -1 during the blackout: stored as 0, reported.
    assert_eq!(report.count(IssueKind::Clamped), 1);
    assert_eq!(report.total_issues(), 1, "{report}");
    assert_eq!(imported.series.len(), 13);
    for series in &imported.series {
        assert_eq!(series.key.entity.to_string()[..3], *"VE/");
        assert_eq!(series.bin.secs(), 3600);
        // time_e 1563580800 is local midnight, 04:00 UTC (UTC-4).
        assert_eq!(format_utc(series.start), "2019-07-20T04:00:00Z");
        assert_eq!(series.values.len(), 113);
    }
    // Distrito Capital: 100 at 13:00 local on 22 July, 10 at 21:00 local.
    let day = 1_563_768_000; // 2019-07-22T04:00:00Z, local midnight
    assert_eq!(
        value_at(&imported, "VE/Distrito Capital", day + 13 * 3600),
        Some(100.0)
    );
    assert_eq!(
        value_at(&imported, "VE/Distrito Capital", day + 21 * 3600),
        Some(10.0)
    );
    // The same file read with a zone given: the offset moves every bin.
    let options = ImportOptions {
        zone: Some("-05:00".parse().expect("offset")),
        ..ImportOptions::default()
    };
    let Some(shifted) = import("ven-2019-07-22_gif.csv", &options) else {
        return;
    };
    assert_eq!(format_utc(shifted.series[0].start), "2019-07-20T05:00:00Z");
}

#[test]
fn border_regions_latency_every_three_hours() {
    let Some(imported) = import(
        "ukr-2022-01-18_border-regions.csv",
        &ImportOptions::default(),
    ) else {
        return;
    };
    let report = &imported.report;
    assert_eq!(report.rows_read, 3830);
    assert_eq!(report.total_issues(), 0, "{report}");
    assert_eq!(imported.series.len(), 10);
    let names: Vec<String> = imported
        .series
        .iter()
        .map(|s| s.key.entity.to_string())
        .collect();
    assert!(names.contains(&"UA/Kiev City".to_string()), "{names:?}");
    assert!(names.contains(&"RU/Kursk".to_string()), "{names:?}");
    for series in &imported.series {
        assert_eq!(series.key.signal, SignalKind::LatencyIndex);
        assert_eq!(series.bin.secs(), 10_800);
        // 05:00 in Kyiv (UTC+2) and 06:00 in Moscow (UTC+3) are both 03:00 UTC.
        assert_eq!(format_utc(series.start), "2021-12-01T03:00:00Z");
        assert_eq!(series.values.len(), 383);
    }
    assert_eq!(
        value_at(&imported, "UA/Kiev City", 1_638_327_600),
        Some(103.7)
    );
}

#[test]
fn bago_raw_pings_become_hourly_address_counts() {
    let Some(imported) = import("mmr-2021-04-09_Bago.csv", &ImportOptions::default()) else {
        return;
    };
    let report = &imported.report;
    assert_eq!(report.rows_read, 12_239);
    assert_eq!(report.total_issues(), 0, "{report}");
    assert_eq!(imported.series.len(), 1);
    let series = &imported.series[0];
    assert_eq!(series.key.entity.to_string(), "MM/Bago: Pegu");
    assert_eq!(series.key.signal, SignalKind::ProbeUpAddresses);
    assert_eq!(series.bin.secs(), 3600);
    // First ping 2021-02-09 06:23:59 local (UTC+6:30) = 2021-02-08 23:53:59 UTC.
    assert_eq!(format_utc(series.start), "2021-02-08T23:00:00Z");
    assert_eq!(series.values.len(), 2258);
    assert!(series.values.iter().all(Option::is_some));
    // 2021-02-15 19:00 UTC is 01:30 local, inside the first nightly shutdown.
    assert_eq!(series.get(1_613_415_600), Some(0.0));
    // 2021-02-16 06:00 UTC (12:30 local): nine addresses answered.
    assert_eq!(series.get(1_613_455_200), Some(9.0));
    let answers: f64 = series.values.iter().flatten().sum();
    assert_eq!(answers, 11_816.0);
}
