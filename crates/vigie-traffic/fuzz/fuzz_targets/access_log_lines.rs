//! Feeds arbitrary text to the access-log reader: nothing may panic, and
//! every line is either a request or a counted bad line (or blank).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_geo::GeoDb;
use vigie_model::BinSize;
use vigie_traffic::access_log::{parse_line, read_lines, AccessLogAggregator};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_line(line);
    }
    let mut aggregator = AccessLogAggregator::new(GeoDb::empty(), BinSize::FIVE_MINUTES, 300);
    let mut closed = 0u64;
    read_lines(data, "fuzz", &mut aggregator, &mut |bin| {
        closed += bin.items;
        Ok(())
    })
    .unwrap();
    for bin in aggregator.close_all() {
        closed += bin.items;
    }
    let stats = aggregator.stats();
    assert!(stats.requests + stats.bad_lines + stats.late_lines <= stats.lines);
    assert_eq!(closed, stats.requests);
});
