//! Regions from a dbip-city CSV (a hand-written fixture in that layout).

use std::collections::BTreeMap;
use std::path::PathBuf;

use vigie_geo::{prefix_units, CountryCode, Family, GeoDb, GeoDbBuilder, RegionId, SourceKind};

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dbip-city-kz-sample.csv"
    ))
}

fn region(name: &str) -> RegionId {
    RegionId {
        country: CountryCode::new("KZ").unwrap(),
        name: name.to_string(),
    }
}

fn load() -> GeoDb {
    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_auto(fixture()).unwrap();
    assert_eq!(report.kind, SourceKind::DbipCityRegions);
    // 12 rows; the one without a state is skipped.
    assert_eq!(
        (
            report.rows_loaded,
            report.rows_skipped,
            report.rows_malformed
        ),
        (11, 1, 0),
        "{report}: {:?}",
        report.first_errors
    );
    builder.build()
}

#[test]
fn regions_are_country_and_state() {
    let db = load();
    assert!(db.has_regions());
    let names: Vec<&str> = db.regions().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Almaty",
            "Astana",
            "East Kazakhstan",
            "Karaganda",
            "Mangystau Region",
            "Turkistan Region"
        ]
    );
    assert_eq!(
        db.region_of("2.72.10.1".parse().unwrap()),
        Some(&region("Almaty"))
    );
    assert_eq!(
        db.region_of("2.73.200.1".parse().unwrap()),
        Some(&region("East Kazakhstan"))
    );
    // The half-/24 at the start of 2.133.0.0/24 holds the unit's first address.
    assert_eq!(
        db.region_of("2.133.0.200".parse().unwrap()),
        Some(&region("Karaganda"))
    );
    // The stateless row left 2.133.1.0/24 without a region.
    assert_eq!(db.region_of("2.133.1.1".parse().unwrap()), None);
    assert_eq!(
        db.region_of("2a00:12f8:9000::1".parse().unwrap()),
        Some(&region("Turkistan Region"))
    );
    assert_eq!(
        db.regions_of_country(CountryCode::new("KZ").unwrap())
            .count(),
        6
    );
    assert_eq!(
        db.regions_of_country(CountryCode::new("UZ").unwrap())
            .count(),
        0
    );
}

#[test]
fn unit_counts_per_region() {
    let db = load();
    let v4: BTreeMap<String, u64> = db
        .units_per_region(Family::V4)
        .into_iter()
        .map(|(r, units)| (r.name.clone(), units))
        .collect();
    let expected: BTreeMap<String, u64> = [
        ("Almaty", 256 + 128),
        ("Astana", 128 + 64),
        ("East Kazakhstan", 128 + 64),
        ("Karaganda", 1),
        ("Mangystau Region", 16),
    ]
    .into_iter()
    .map(|(name, units)| (name.to_string(), units))
    .collect();
    assert_eq!(v4, expected);
    let v6: Vec<(String, u64)> = db
        .units_per_region(Family::V6)
        .into_iter()
        .map(|(r, units)| (r.name.clone(), units))
        .collect();
    assert_eq!(
        v6,
        [
            ("Almaty".to_string(), 32768),
            ("Turkistan Region".to_string(), 32768)
        ]
    );
}

#[test]
fn split_a_prefix_between_regions() {
    let db = load();
    let (family, first, last) = prefix_units(&"2.132.0.0/16".parse().unwrap()).unwrap();
    let mut split = Vec::new();
    db.split_regions(family, first, last, |region, units| {
        split.push((region.name.clone(), units))
    });
    assert_eq!(
        split,
        [
            ("Almaty".to_string(), 128),
            ("East Kazakhstan".to_string(), 64),
            ("Astana".to_string(), 64)
        ]
    );
}

#[test]
fn no_region_table_means_no_regions() {
    let db = GeoDb::empty();
    assert!(!db.has_regions());
    assert_eq!(db.region_of_unit(Family::V4, 0x028400), None);
    db.split_regions(Family::V4, 0, Family::V4.max_unit(), |_, _| {
        panic!("no region table")
    });
}
