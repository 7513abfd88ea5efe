//! Any bytes as the JSON body of POST /api/v1/annotations: a valid
//! annotation or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_publish::annotations::{NewAnnotation, MAX_TEXT_CHARS};

fuzz_target!(|data: &[u8]| {
    if let Ok(new) = serde_json::from_slice::<NewAnnotation>(data) {
        if let Ok(valid) = new.validate() {
            assert!(!valid.text.is_empty() && valid.text.chars().count() <= MAX_TEXT_CHARS);
            assert!(valid.end.is_none_or(|e| e > valid.time));
        }
    }
});
