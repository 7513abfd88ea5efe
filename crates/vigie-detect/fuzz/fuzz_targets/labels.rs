//! Any bytes given to the ground-truth readers (`vigie eval --labels`,
//! CSV and JSON): labels or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_detect::labels::{parse_json_labels, parse_truth_csv};

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = parse_truth_csv(data, "fuzz.csv") {
        for label in &set.labels {
            assert!(label.start <= label.end);
        }
    }
    let _ = parse_json_labels(data, "fuzz.json");
});
