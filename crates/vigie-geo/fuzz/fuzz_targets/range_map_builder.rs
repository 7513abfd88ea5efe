//! Checks UnitRangeMapBuilder against a brute-force reading of its rules
//! (narrower wins, then later wins) on a small unit domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_geo::UnitRangeMapBuilder;

const DOMAIN: u64 = 64;

fuzz_target!(|data: &[u8]| {
    let inserts: Vec<(u64, u64, u8)> = data
        .chunks_exact(3)
        .map(|chunk| {
            let first = u64::from(chunk[0]) % DOMAIN;
            let last = u64::from(chunk[1]) % DOMAIN;
            (first, last, chunk[2] % 4)
        })
        .collect();
    let mut builder = UnitRangeMapBuilder::new();
    for &(first, last, value) in &inserts {
        builder.insert(first, last, value);
    }
    let map = builder.build();

    // Canonical: sorted, disjoint, no mergeable neighbours.
    let ranges: Vec<(u64, u64, u8)> = map.iter().collect();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 < pair[1].0);
        assert!(!(pair[0].1 + 1 == pair[1].0 && pair[0].2 == pair[1].2));
    }
    for unit in 0..DOMAIN {
        let mut best: Option<(u64, usize, u8)> = None;
        for (index, &(first, last, value)) in inserts.iter().enumerate() {
            if first <= unit && unit <= last {
                let width = last - first + 1;
                if best.is_none_or(|(w, i, _)| width < w || (width == w && index > i)) {
                    best = Some((width, index, value));
                }
            }
        }
        assert_eq!(map.get(unit), best.map(|(_, _, value)| value), "unit {unit}");
    }
    let mut total = 0;
    map.for_each_overlap(0, DOMAIN, |_, units| total += units);
    assert_eq!(total, map.total_units());
});
