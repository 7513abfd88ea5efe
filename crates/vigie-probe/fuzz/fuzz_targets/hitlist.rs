//! Hitlist, saved-list and vantage-states readers on arbitrary bytes: no
//! panic, and every accepted line is counted once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_probe::{Eligibility, ProbeList, TargetPolicy, VantageStates};

fuzz_target!(|data: &[u8]| {
    let policy = TargetPolicy {
        allow_private: data.first().is_some_and(|b| b & 1 == 1),
        allowed: Vec::new(),
    };
    let rule = Eligibility {
        min_responsive: 1,
        ..Eligibility::default()
    };
    if let Ok((list, report)) = ProbeList::from_hitlist(data, "fuzz", &rule, &policy) {
        assert!(list.len() as u64 <= report.blocks_seen);
        assert!(report.issues.len() as u64 <= report.malformed + report.refused);
        // A list that was built saves and loads back the same.
        let mut saved = Vec::new();
        list.save(&mut saved).unwrap();
        let (loaded, again) = ProbeList::load(saved.as_slice(), "saved", &policy).unwrap();
        assert_eq!(again.malformed, 0);
        assert_eq!(loaded.len(), list.len());
    }
    let _ = ProbeList::load(data, "fuzz", &policy);
    let _ = VantageStates::load(data, "fuzz");
});
