//! Any bytes given to the IODA dashboard CSV importer: an error or a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_import::{import_dashboard_csv, ImportOptions};

fuzz_target!(|data: &[u8]| {
    let options = ImportOptions {
        entity: "IQ".parse().ok(),
        ..ImportOptions::default()
    };
    if let Ok(imported) = import_dashboard_csv(data, "fuzz.csv", &options) {
        for label in &imported.labels {
            assert!(label.start < label.end);
        }
    }
});
