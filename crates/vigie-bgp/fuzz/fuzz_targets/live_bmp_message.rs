//! Fuzzes the BMP station: a TCP stream split into messages by their common
//! header, each decoded with per-router state (peer up/down, ADD-PATH,
//! route monitoring, End-of-RIB), the events applied to the routing model.
//! Garbage must end in an error (the connection closes), never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use vigie_bgp::live::bmp::{check_common_header, BmpAction, BmpRouter, BmpStats, BmpTime};
use vigie_bgp::live::LiveDriver;
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;

fn geo() -> Arc<GeoDb> {
    static GEO: OnceLock<Arc<GeoDb>> = OnceLock::new();
    Arc::clone(GEO.get_or_init(|| Arc::new(GeoDb::empty())))
}

fuzz_target!(|data: &[u8]| {
    let mut router = BmpRouter::new("bmp:fuzz", BmpTime::Header, Arc::new(BmpStats::default()));
    let mut driver = LiveDriver::new(VisibilityAccounting::new(VisibilityConfig::default(), geo()));
    let mut events = Vec::new();
    let mut stream = data;
    while let Ok((len, _)) = check_common_header(stream) {
        let Some(message) = stream.get(..len) else { break };
        match router.handle(message, 0, &mut events) {
            Ok(BmpAction::Continue) => {}
            Ok(BmpAction::Terminate) | Err(_) => break,
        }
        stream = &stream[len..];
    }
    // A truncated message handed over whole must be an error too.
    let _ = router.handle(data, 0, &mut events);
    router.close(0, &mut events);
    for event in &events {
        driver.apply(event);
    }
    let _ = driver.provisional();
});
