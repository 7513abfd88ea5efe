//! Fuzzes the passive speaker's message handling: header checks, OPEN
//! negotiation and UPDATE decoding under every session mode, then the route
//! changes through the routing model. Any input must end in a NOTIFICATION
//! or route changes, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use vigie_bgp::live::session::{check_header, decode_update, negotiate, Negotiated};
use vigie_bgp::live::{LiveDriver, LiveEvent, LivePeer, SpeakerConfig};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;

fn geo() -> Arc<GeoDb> {
    static GEO: OnceLock<Arc<GeoDb>> = OnceLock::new();
    Arc::clone(GEO.get_or_init(|| Arc::new(GeoDb::empty())))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let config = SpeakerConfig::default();
    // The stream as the session reader sees it: header, then body.
    let mut messages = Vec::new();
    let mut stream = rest;
    while let Ok((len, _)) = check_header(stream) {
        let Some(message) = stream.get(..len) else { break };
        messages.push(message);
        stream = &stream[len..];
    }
    let _ = negotiate(rest, &config, None);
    let _ = negotiate(rest, &config, Some(65001));
    let negotiated = Negotiated {
        peer_asn: 65001,
        peer_router_id: std::net::Ipv4Addr::new(192, 0, 2, 1),
        hold_time_secs: 90,
        four_octet_as: mode & 1 != 0,
        families: vec![(1, 1), (2, 1)],
        add_path: mode & 2 != 0,
    };
    let mut driver = LiveDriver::new(VisibilityAccounting::new(VisibilityConfig::default(), geo()));
    let peer = LivePeer {
        collector: Arc::from("fuzz"),
        ip: "192.0.2.1".parse().unwrap(),
        asn: 65001,
    };
    for (i, message) in messages.iter().chain(std::iter::once(&rest)).enumerate() {
        let mut changes = Vec::new();
        if decode_update(message, &negotiated, &mut changes).is_ok() {
            driver.apply(&LiveEvent::Routes {
                time: i as i64 * 100,
                peer: peer.clone(),
                changes,
            });
        }
    }
    let _ = driver.provisional();
    let _ = driver.tick(1_000_000);
});
