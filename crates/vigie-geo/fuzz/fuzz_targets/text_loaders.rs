//! Feeds arbitrary bytes to every text loader (and the MMDB loaders): none
//! may panic, and every report must add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_geo::{GeoDbBuilder, LoadReport, MAX_REPORTED_ERRORS};

fn check(report: &LoadReport) {
    assert!(report.rows_malformed <= report.rows_skipped);
    assert!(report.first_errors.len() <= MAX_REPORTED_ERRORS);
    assert!(report.first_errors.len() as u64 <= report.rows_malformed);
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the loader, so the fuzzer can specialise inputs.
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    let result = match selector % 8 {
        0 => builder.load_rir_delegated_from(input, "fuzz"),
        1 => builder.load_ip_location_db_country_from(input, "fuzz"),
        2 => builder.load_ip_location_db_asn_from(input, "fuzz"),
        3 => builder.load_dbip_city_regions_from(input, "fuzz"),
        4 => builder.load_prefix2as_from(input, "fuzz"),
        5 => builder.load_as_names_from(input, "fuzz"),
        6 => builder.load_mmdb_country_bytes(input.to_vec(), "fuzz"),
        _ => builder.load_mmdb_asn_bytes(input.to_vec(), "fuzz"),
    };
    if let Ok(report) = &result {
        check(report);
    }
    // Whatever was loaded must answer lookups without panicking.
    let db = builder.build();
    for unit in [0u64, 1, 0x028400, (1 << 24) - 1] {
        let _ = db.country_of_unit(vigie_geo::Family::V4, unit);
        let _ = db.region_of_unit(vigie_geo::Family::V4, unit);
        let _ = db.asn_of_unit(vigie_geo::Family::V4, unit);
    }
    db.split_countries(vigie_geo::Family::V6, 0, (1 << 48) - 1, |_, units| assert!(units > 0));
});
