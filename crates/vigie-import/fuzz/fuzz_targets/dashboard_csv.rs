//! Any bytes given to the IODA dashboard CSV importer: an error or a report, never a panic.
//!
//! The first byte picks a header to put before the rest, so the fuzzer
//! spends its time on rows under both header styles (the labelled research
//! exports and the dashboard's own download, raw and normalised) as well as
//! on arbitrary headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_import::{import_dashboard_csv, ImportOptions};

/// Headers IODA's exports use; the last entry means "no header added".
const HEADERS: [&str; 4] = [
    "timestamp,gtr,gtr-norm,merit-nt,bgp,ping-slash24,datetime,DATETIME,LABEL\n",
    "\"Time (UTC)\",\"Google (Search)\",\"Telescope (# Unique Source IPs)\",\"BGP (#Visible /24s)\",\"Active Probing (#/24s Up)\",\"Mozilla (City Count)\"\n",
    "\"Time (UTC)\",\"Google (Maps) (normalized)\",\"Merit-NT (normalized)\",\"BGP (#Visible /24s) %\",\"Active Probing (#/24s Up) (normalized)\"\n",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let mut input = HEADERS[usize::from(choice) % HEADERS.len()]
        .as_bytes()
        .to_vec();
    input.extend_from_slice(rest);
    let options = ImportOptions {
        entity: "IQ".parse().ok(),
        ..ImportOptions::default()
    };
    if let Ok(imported) = import_dashboard_csv(input.as_slice(), "fuzz.csv", &options) {
        for label in &imported.labels {
            assert!(label.start < label.end);
        }
        for series in &imported.series {
            assert!(series.values.iter().flatten().all(|v| v.is_finite()));
        }
    }
});
