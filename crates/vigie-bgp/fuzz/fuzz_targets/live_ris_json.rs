//! Fuzzes the RIS Live message decoder (JSON envelope, ris_message fields,
//! AS paths with sets, prefixes) and applies what it yields to the routing
//! model. Invalid JSON must be an error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use vigie_bgp::live::ris_live::decode_ris_message;
use vigie_bgp::live::LiveDriver;
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;

fn geo() -> Arc<GeoDb> {
    static GEO: OnceLock<Arc<GeoDb>> = OnceLock::new();
    Arc::clone(GEO.get_or_init(|| Arc::new(GeoDb::empty())))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut events = Vec::new();
    for line in text.lines() {
        let _ = decode_ris_message(line, 1_700_000_000, true, &mut events);
    }
    let _ = decode_ris_message(&text, 1_700_000_000, false, &mut events);
    let mut driver = LiveDriver::new(VisibilityAccounting::new(VisibilityConfig::default(), geo()));
    for event in &events {
        driver.apply(event);
    }
    let _ = driver.provisional();
});
