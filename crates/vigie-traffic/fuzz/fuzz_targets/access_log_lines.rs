//! Feeds arbitrary text to the access-log reader: nothing may panic, and
//! every line is either a request or a counted bad line (or blank), and
//! every bin is closed once.
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
    let mut closed = Vec::new();
    read_lines(data, "fuzz", &mut aggregator, &mut closed).unwrap();
    closed.extend(aggregator.close_all());
    let stats = aggregator.stats();
    assert!(stats.requests + stats.bad_lines + stats.late_lines <= stats.lines);
    assert!(closed.windows(2).all(|w| w[0].bin_start < w[1].bin_start));
});
