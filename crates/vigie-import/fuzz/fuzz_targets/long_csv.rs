//! Any bytes given to the long CSV importer: an error or a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_import::{import_long_csv, ImportOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(imported) = import_long_csv(data, "fuzz.csv", &ImportOptions::default()) {
        assert!(imported.report.values_imported <= imported.report.rows_read);
    }
});
