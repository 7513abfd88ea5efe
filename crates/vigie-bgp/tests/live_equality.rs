//! One model for every transport: a real RIS update file replayed through
//! the live path (as BGP UPDATE messages on a session, as BMP route
//! monitoring, as RIS Live JSON) gives exactly the bins of the MRT ingest.

mod live_common;

use std::net::IpAddr;
use std::sync::Arc;

use live_common::{
    assert_same_bins, covered, geo, mrt_bins, replay, shared_data, CoveredBin, Replayed,
};
use vigie_bgp::live::bmp::{BmpRouter, BmpStats, BmpTime};
use vigie_bgp::live::session::{decode_update, Negotiated};
use vigie_bgp::live::{LiveDriver, LiveEvent, LivePeer};

const FILES: [&str; 3] = [
    "mrt/bgpdump/updates.20070211.0141.gz",
    "mrt/bgpdump/updates.20100722.2015.gz",
    "mrt/bgpdump/updates.20160811.1600.gz",
];

/// A BMP route-monitoring message (RFC 7854 section 4.6) carrying `bgp`.
fn bmp_route_monitoring(
    peer_ip: IpAddr,
    peer_asn: u32,
    four_octet_as: bool,
    time: u32,
    bgp: &[u8],
) -> Vec<u8> {
    let mut per_peer = vec![0u8];
    let mut flags = 0u8;
    if peer_ip.is_ipv6() {
        flags |= 0x80;
    }
    if !four_octet_as {
        flags |= 0x20;
    }
    per_peer.push(flags);
    per_peer.extend_from_slice(&[0; 8]);
    match peer_ip {
        IpAddr::V4(v4) => {
            per_peer.extend_from_slice(&[0; 12]);
            per_peer.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => per_peer.extend_from_slice(&v6.octets()),
    }
    per_peer.extend_from_slice(&peer_asn.to_be_bytes());
    per_peer.extend_from_slice(&[192, 0, 2, 1]);
    per_peer.extend_from_slice(&time.to_be_bytes());
    per_peer.extend_from_slice(&0u32.to_be_bytes());
    let len = 6 + per_peer.len() + bgp.len();
    let mut out = vec![3];
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(0);
    out.extend_from_slice(&per_peer);
    out.extend_from_slice(bgp);
    out
}

/// A BMP peer-down message (reason 4: remote closed, no data).
fn bmp_peer_down(peer_ip: IpAddr, peer_asn: u32, time: u32) -> Vec<u8> {
    let mut message = bmp_route_monitoring(peer_ip, peer_asn, true, time, &[4]);
    message[5] = 2;
    message
}

fn run(driver: &mut LiveDriver, events: &[LiveEvent], out: &mut Vec<CoveredBin>) {
    for event in events {
        let closed = driver.apply(event);
        out.extend(covered(driver, closed));
    }
}

#[test]
fn bgp_and_bmp_replays_match_the_mrt_ingest() {
    let Some(data) = shared_data() else { return };
    let geo = geo();
    let collector: Arc<str> = Arc::from("rrc-test");
    for file in FILES {
        let path = data.join(file);
        let archive = mrt_bins(&path, &collector, &geo);
        assert!(!archive.is_empty(), "{file}: bins");
        let records = replay(&path);
        assert!(records.len() > 100, "{file}: real traffic");

        // As UPDATE messages of BGP sessions.
        let mut driver = LiveDriver::new(live_common::accounting(&geo));
        let mut bins = Vec::new();
        for record in &records {
            let event = match record {
                Replayed::Message {
                    time,
                    peer_ip,
                    peer_asn,
                    four_octet_as,
                    add_path,
                    bytes,
                    ..
                } => {
                    let negotiated = Negotiated {
                        peer_asn: *peer_asn,
                        peer_router_id: "192.0.2.1".parse().unwrap(),
                        hold_time_secs: 90,
                        four_octet_as: *four_octet_as,
                        families: vec![(1, 1), (2, 1)],
                        add_path: *add_path,
                    };
                    let mut changes = Vec::new();
                    decode_update(bytes, &negotiated, &mut changes).unwrap();
                    LiveEvent::Routes {
                        time: *time as i64,
                        peer: LivePeer {
                            collector: Arc::clone(&collector),
                            ip: *peer_ip,
                            asn: *peer_asn,
                        },
                        changes,
                    }
                }
                Replayed::SessionDown {
                    time,
                    peer_ip,
                    peer_asn,
                } => LiveEvent::PeerDown {
                    time: *time as i64,
                    peer: LivePeer {
                        collector: Arc::clone(&collector),
                        ip: *peer_ip,
                        asn: *peer_asn,
                    },
                },
            };
            run(&mut driver, &[event], &mut bins);
        }
        let last = driver.finish();
        bins.extend(covered(&driver, last));
        assert_same_bins(&format!("{file} as BGP"), &archive, &bins);

        // As BMP route monitoring and peer-down messages of one router.
        let stats = Arc::new(BmpStats::default());
        let mut router = BmpRouter::new(&collector, BmpTime::Header, Arc::clone(&stats));
        let mut driver = LiveDriver::new(live_common::accounting(&geo));
        let mut bins = Vec::new();
        let mut events = Vec::new();
        for record in &records {
            let message = match record {
                Replayed::Message {
                    time,
                    peer_ip,
                    peer_asn,
                    four_octet_as,
                    add_path,
                    bytes,
                    ..
                } => {
                    assert!(!add_path, "{file}: no ADD-PATH records expected");
                    bmp_route_monitoring(*peer_ip, *peer_asn, *four_octet_as, *time, bytes)
                }
                Replayed::SessionDown {
                    time,
                    peer_ip,
                    peer_asn,
                } => bmp_peer_down(*peer_ip, *peer_asn, *time),
            };
            router.handle(&message, 0, &mut events).unwrap();
            run(&mut driver, &events, &mut bins);
            events.clear();
        }
        let last = driver.finish();
        bins.extend(covered(&driver, last));
        assert_same_bins(&format!("{file} as BMP"), &archive, &bins);
        eprintln!(
            "{file}: {} bins, {} records identical through BGP and BMP ({} route changes by BMP)",
            archive.len(),
            records.len(),
            stats
                .route_changes
                .load(std::sync::atomic::Ordering::Relaxed)
        );
    }
}
