//! Feeds arbitrary bytes as a pcap/pcapng file: nothing may panic; every
//! frame read goes to the telescope and the UDP finder, and the telescope
//! accounts for each packet exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_geo::GeoDb;
use vigie_model::BinSize;
use vigie_traffic::capture::{read_capture_from, udp_datagram};
use vigie_traffic::telescope::Telescope;

fuzz_target!(|data: &[u8]| {
    let mut telescope = Telescope::new(GeoDb::empty(), BinSize::FIVE_MINUTES, Vec::new());
    let mut frames = 0u64;
    let result = read_capture_from(data, "fuzz.pcap", &mut |frame| {
        frames += 1;
        let _ = udp_datagram(frame.link, &frame.data);
        telescope.add_frame(frame.timestamp_secs, frame.link, &frame.data);
    });
    if let Ok(summary) = result {
        assert_eq!(summary.frames, frames);
    }
    let stats = telescope.stats();
    let dropped: u64 = stats.dropped.values().sum();
    assert_eq!(stats.kept + dropped, stats.packets);
    assert_eq!(stats.packets, frames);
    let _ = telescope.close_all();
});
