//! Any bytes given to the IODA JSON importer: an error or a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_import::{import_ioda_json, ImportOptions};

fuzz_target!(|data: &[u8]| {
    let options = ImportOptions {
        region_country: vigie_model::CountryCode::new("PS").ok(),
        ..ImportOptions::default()
    };
    if let Ok(imported) = import_ioda_json(data, "fuzz.json", &options) {
        for series in &imported.series {
            assert!(series.values.len() <= vigie_import::MAX_BINS_PER_SERIES);
        }
    }
});
