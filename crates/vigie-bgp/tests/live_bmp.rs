//! The BMP station: real BMP captures (akvorado's test captures, from real
//! routers) decoded through the station's per-router state, and a real
//! gobgpd streaming BMP to a listening station.

mod live_common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use live_common::shared_data;
use pcap_file::pcap::PcapReader;
use vigie_bgp::live::bmp::{check_common_header, BmpAction, BmpRouter, BmpStats, BmpTime};
use vigie_bgp::live::{LiveEvent, RouteChange};

/// The TCP payloads of an Ethernet capture, concatenated in capture order.
fn tcp_stream(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = PcapReader::new(file).unwrap();
    let mut stream = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let data = &packet.data[..];
        let mut offset = 12;
        let mut ethertype = u16::from_be_bytes([data[offset], data[offset + 1]]);
        offset += 2;
        while ethertype == 0x8100 {
            ethertype = u16::from_be_bytes([data[offset + 2], data[offset + 3]]);
            offset += 4;
        }
        let (protocol, ip_end, l4) = match ethertype {
            0x0800 => {
                let ihl = (data[offset] & 0x0f) as usize * 4;
                let total = u16::from_be_bytes([data[offset + 2], data[offset + 3]]) as usize;
                (data[offset + 9], offset + total, offset + ihl)
            }
            0x86dd => {
                let payload = u16::from_be_bytes([data[offset + 4], data[offset + 5]]) as usize;
                (data[offset + 6], offset + 40 + payload, offset + 40)
            }
            other => panic!("{}: ethertype {other:#x}", path.display()),
        };
        assert_eq!(protocol, 6, "{}: TCP only", path.display());
        let tcp_header = (data[l4 + 12] >> 4) as usize * 4;
        stream.extend_from_slice(&data[l4 + tcp_header..ip_end.min(data.len())]);
    }
    stream
}

/// What a capture decodes to.
#[derive(Default, Debug)]
struct Decoded {
    events: Vec<LiveEvent>,
    messages: usize,
    terminated: bool,
    error: Option<String>,
}

fn decode(router: &mut BmpRouter, stream: &[u8]) -> Decoded {
    let mut decoded = Decoded::default();
    let mut rest = stream;
    while !rest.is_empty() {
        let len = match check_common_header(rest) {
            Ok((len, _)) if len <= rest.len() => len,
            Ok((len, _)) => {
                decoded.error = Some(format!("truncated: {len} bytes declared"));
                break;
            }
            Err(e) => {
                decoded.error = Some(e.to_string());
                break;
            }
        };
        decoded.messages += 1;
        match router.handle(&rest[..len], 1_700_000_000, &mut decoded.events) {
            Ok(BmpAction::Continue) => {}
            Ok(BmpAction::Terminate) => decoded.terminated = true,
            Err(e) => {
                decoded.error = Some(e.to_string());
                break;
            }
        }
        rest = &rest[len..];
    }
    decoded
}

fn capture(name: &str) -> Option<(BmpRouter, Arc<BmpStats>, Decoded)> {
    let data = shared_data()?;
    let stream = tcp_stream(&data.join("flows").join(name));
    let stats = Arc::new(BmpStats::default());
    let mut router = BmpRouter::new("bmp:test", BmpTime::Header, Arc::clone(&stats));
    let decoded = decode(&mut router, &stream);
    eprintln!("{name}: {} bytes, {decoded:#?}", stream.len());
    Some((router, stats, decoded))
}

fn announced(events: &[LiveEvent]) -> Vec<(String, String, Option<u32>, Option<u32>)> {
    let mut out = Vec::new();
    for event in events {
        if let LiveEvent::Routes { peer, changes, .. } = event {
            for change in changes {
                if let RouteChange::Announce {
                    prefix,
                    path_id,
                    origin,
                } = change
                {
                    out.push((peer.ip.to_string(), prefix.to_string(), *path_id, *origin));
                }
            }
        }
    }
    out
}

fn withdrawn(events: &[LiveEvent]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for event in events {
        if let LiveEvent::Routes { peer, changes, .. } = event {
            for change in changes {
                if let RouteChange::Withdraw { prefix, .. } = change {
                    out.push((peer.ip.to_string(), prefix.to_string()));
                }
            }
        }
    }
    out.sort();
    out
}

fn tuple(
    peer: &str,
    prefix: &str,
    path_id: Option<u32>,
    origin: Option<u32>,
) -> (String, String, Option<u32>, Option<u32>) {
    (peer.to_string(), prefix.to_string(), path_id, origin)
}

#[test]
fn initiation_termination_and_peer_state() {
    let Some((router, _, decoded)) = capture("bmp__bmp-init.pcap") else {
        return;
    };
    assert_eq!(router.sys_name.as_deref(), Some("vMX"));
    assert!(decoded.error.is_none() && !decoded.terminated);
    let (_, stats, decoded) = capture("bmp__bmp-terminate.pcap").unwrap();
    assert!(decoded.terminated);
    assert_eq!(stats.terminations.load(Ordering::Relaxed), 1);

    let (router, stats, _) = capture("bmp__bmp-peers-up.pcap").unwrap();
    assert_eq!(stats.peer_ups.load(Ordering::Relaxed), 4);
    let mut peers: Vec<(String, u32, bool)> = router
        .peers()
        .iter()
        .map(|(ip, s)| (ip.to_string(), s.asn, s.add_path))
        .collect();
    peers.sort();
    assert_eq!(
        peers,
        vec![
            ("192.0.2.1".to_string(), 65011, false),
            ("192.0.2.5".to_string(), 65500, true),
            ("2001:db8::3".to_string(), 65013, false),
            ("2001:db8::7".to_string(), 65017, false),
        ]
    );

    let (router, stats, decoded) = capture("bmp__bmp-peer-down.pcap").unwrap();
    assert_eq!(stats.peer_downs.load(Ordering::Relaxed), 1);
    let downs: Vec<&LiveEvent> = decoded
        .events
        .iter()
        .filter(|e| matches!(e, LiveEvent::PeerDown { .. }))
        .collect();
    assert_eq!(downs.len(), 1);
    assert!(router.peers().values().all(|p| !p.up));
}

#[test]
fn route_monitoring_withdrawals_and_end_of_rib() {
    let Some((router, _, decoded)) = capture("bmp__bmp-reach.pcap") else {
        return;
    };
    assert!(decoded.error.is_none());
    let mut routes = announced(&decoded.events);
    routes.sort();
    assert_eq!(
        routes,
        vec![
            tuple("192.0.2.1", "192.0.2.0/31", None, Some(65011)),
            tuple("192.0.2.1", "198.51.100.0/25", None, Some(64476)),
            tuple("192.0.2.1", "198.51.100.128/25", None, Some(396919)),
            tuple("2001:db8::3", "2001:db8:1::/64", None, Some(174)),
            tuple("2001:db8::3", "2001:db8:2::/64", None, Some(12322)),
            tuple("2001:db8::3", "2001:db8::2/127", None, Some(65013)),
            tuple("2001:db8::7", "192.0.2.6/31", None, Some(65017)),
            tuple("2001:db8::7", "2001:db8:1::/64", None, Some(174)),
            tuple("2001:db8::7", "2001:db8:2::/64", None, Some(12322)),
            tuple("2001:db8::7", "2001:db8::6/127", None, Some(65017)),
        ]
    );
    assert_eq!(router.peers().len(), 3);

    let (_, stats, decoded) = capture("bmp__bmp-unreach.pcap").unwrap();
    assert!(announced(&decoded.events).is_empty());
    let gone = withdrawn(&decoded.events);
    assert_eq!(gone.len(), 11);
    assert!(gone.contains(&("192.0.2.1".to_string(), "198.51.100.0/25".to_string())));
    assert!(gone.contains(&("2001:db8::7".to_string(), "2001:db8:1::/64".to_string())));
    assert_eq!(stats.route_changes.load(Ordering::Relaxed), 11);

    let (router, stats, decoded) = capture("bmp__bmp-eor.pcap").unwrap();
    assert!(decoded.events.is_empty());
    assert_eq!(stats.end_of_ribs.load(Ordering::Relaxed), 7);
    assert_eq!(router.peers().len(), 4);
    assert!(router.peers().values().all(|p| p.end_of_rib));
}

#[test]
fn add_path_follows_the_peer_up_and_other_views_are_skipped() {
    let Some(data) = shared_data() else {
        return;
    };
    // The ADD-PATH route after the peer-up that negotiated ADD-PATH.
    let stats = Arc::new(BmpStats::default());
    let mut router = BmpRouter::new("bmp:test", BmpTime::Header, Arc::clone(&stats));
    let mut stream = tcp_stream(&data.join("flows/bmp__bmp-peers-up.pcap"));
    stream.extend(tcp_stream(&data.join("flows/bmp__bmp-reach-addpath.pcap")));
    let decoded = decode(&mut router, &stream);
    assert!(decoded.error.is_none(), "{decoded:?}");
    let routes = announced(&decoded.events);
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].0, "192.0.2.5");
    assert_eq!(routes[0].1, "192.0.2.4/31");
    assert_eq!(routes[0].2, Some(1));

    // VRF (RD) peers of an L3VPN: not the global table.
    let (_, stats, decoded) = capture("bmp__bmp-l3vpn.pcap").unwrap();
    assert!(decoded.events.is_empty());
    assert_eq!(stats.skipped_views.load(Ordering::Relaxed), 5);
    // VPLS and an unknown family: decoded, nothing unicast.
    for name in [
        "bmp__bmp-reach-vpls.pcap",
        "bmp__bmp-reach-unknown-family.pcap",
    ] {
        let (_, stats, decoded) = capture(name).unwrap();
        assert!(decoded.error.is_none());
        assert!(decoded.events.is_empty());
        assert_eq!(stats.route_monitoring.load(Ordering::Relaxed), 1);
    }
}

#[test]
fn garbage_and_truncation_are_errors_not_panics() {
    let stats = Arc::new(BmpStats::default());
    let mut router = BmpRouter::new("bmp:test", BmpTime::Receipt, stats);
    let mut events = Vec::new();
    let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert!(router.handle(http, 0, &mut events).is_err());
    assert!(check_common_header(http)
        .unwrap_err()
        .to_string()
        .contains("version"));
    // A route monitoring message cut short, and one with a bad BGP marker length.
    let mut short = vec![3, 0, 0, 0, 60, 0];
    short.extend_from_slice(&[0; 20]);
    assert!(router.handle(&short, 0, &mut events).is_err());
    assert!(events.is_empty());
}

/// A real gobgpd streams BMP about its BGP peer (a BIRD announcing a
/// Kazakh prefix) to a listening station: peer up, route monitoring,
/// withdrawal, peer down, and the router's connection closing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gobgpd_streams_bmp_to_the_station() {
    use live_common::{run, spawn, tool, value, wait_for, Latest, SharedSink};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    use vigie_bgp::live::{
        run_driver, system_clock, BmpConfig, BmpStation, DriverOptions, LiveDriver,
    };
    use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
    use vigie_model::SignalKind;

    let (Some(gobgpd), Some(bird), Some(birdc)) = (
        tool("gobgpd", "/usr/bin/gobgpd"),
        tool("bird", "/usr/sbin/bird"),
        tool("birdc", "/usr/sbin/birdc"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let station = BmpStation::bind(
        BmpConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            time_source: BmpTime::Receipt,
        },
        system_clock(),
    )
    .await
    .unwrap();
    let bmp_port = station.local_addr().unwrap().port();
    let stats = station.stats();
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let station_task = tokio::spawn(station.run(tx));
    let latest = Arc::new(Mutex::new(Latest::default()));
    let mut sink = SharedSink(Arc::clone(&latest));
    let driver = LiveDriver::new(VisibilityAccounting::new(
        VisibilityConfig::default(),
        Arc::new(vigie_geo::GeoDb::embedded()),
    ));
    let driver_task = tokio::spawn(async move {
        let options = DriverOptions {
            tick: Duration::from_millis(100),
            provisional_every: Duration::from_millis(200),
            ..DriverOptions::default()
        };
        run_driver(driver, rx, &mut sink.clone(), &mut sink, options)
            .await
            .map(|d| d.stats().clone())
    });

    // A free port for gobgpd's BGP listener.
    let bgp_port = {
        let l = std::net::TcpListener::bind("127.0.0.5:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gobgp_conf = format!(
        "[global.config]\n  as = 65005\n  router-id = \"127.0.0.5\"\n  port = {bgp_port}\n  local-address-list = [\"127.0.0.5\"]\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"127.0.0.6\"\n    peer-as = 65006\n\
         \x20 [neighbors.timers.config]\n    connect-retry = 1\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n\
         [[bmp-servers]]\n  [bmp-servers.config]\n    address = \"127.0.0.1\"\n    port = {bmp_port}\n    route-monitoring-policy = \"pre-policy\"\n"
    );
    std::fs::write(dir.path().join("gobgpd.toml"), gobgp_conf).unwrap();
    let api = format!("unix://{}", dir.path().join("gobgp.sock").display());
    let gobgp_daemon = spawn(
        "gobgpd",
        &gobgpd,
        &[
            "-f",
            "gobgpd.toml",
            "--api-hosts",
            &api,
            "--pprof-disable",
            "--log-plain",
        ],
        dir.path(),
    );
    let bird_conf = format!(
        "router id 127.0.0.6;\nprotocol device {{ }}\n\
         protocol static s4 {{ ipv4; route 2.132.0.0/14 blackhole; route 95.56.0.0/14 blackhole; }}\n\
         protocol bgp upstream {{\n  local 127.0.0.6 as 65006;\n  neighbor 127.0.0.5 port {bgp_port} as 65005;\n  \
         multihop;\n  connect retry time 1;\n  \
         ipv4 {{ import none; export filter {{ bgp_path.prepend(9198); accept; }}; }};\n}}\n"
    );
    std::fs::write(dir.path().join("bird.conf"), bird_conf).unwrap();
    let bird_sock = dir.path().join("bird.ctl").to_str().unwrap().to_string();
    let bird_daemon = spawn(
        "bird",
        &bird,
        &["-f", "-c", "bird.conf", "-s", &bird_sock, "-P", "bird.pid"],
        dir.path(),
    );

    wait_for(
        &latest,
        "BMP route monitoring",
        &[&gobgp_daemon, &bird_daemon],
        |bin| value(bin, "AS9198", SignalKind::BgpVisibleSlash24s) == Some(2048.0),
    )
    .await;
    assert_eq!(stats.connections.load(Ordering::Relaxed), 1);
    assert!(stats.peer_ups.load(Ordering::Relaxed) >= 1);

    // Withdrawing the routes shows within seconds.
    let start = Instant::now();
    run(&birdc, &["-s", &bird_sock, "disable", "s4"]);
    wait_for(
        &latest,
        "BMP withdrawals",
        &[&gobgp_daemon, &bird_daemon],
        |bin| value(bin, "AS9198", SignalKind::BgpVisibleSlash24s) == Some(0.0),
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(60));

    // Announce again, then stop BIRD: gobgpd reports the peer down, which
    // drops its routes. It was the only peer: with nothing left to observe
    // the driver publishes no values (no data, not an outage) until a peer
    // is back.
    run(&birdc, &["-s", &bird_sock, "enable", "s4"]);
    wait_for(
        &latest,
        "routes again",
        &[&gobgp_daemon, &bird_daemon],
        |bin| value(bin, "AS9198", SignalKind::BgpVisibleSlash24s) == Some(2048.0),
    )
    .await;
    drop(bird_daemon);
    let start = Instant::now();
    while stats.peer_downs.load(Ordering::Relaxed) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for BMP peer down\n{}",
            gobgp_daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    latest.lock().unwrap().provisional = None;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        latest.lock().unwrap().provisional.is_none(),
        "values published with every peer down"
    );
    drop(gobgp_daemon);
    // Garbage on the port: logged, connection closed, station still up.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", bmp_port))
            .await
            .unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        // Closed (by FIN, or by RST since unread bytes were left), nothing sent back.
        assert!(read.is_ok(), "the station closes the connection");
        assert!(buf.is_empty());
    }
    let start = Instant::now();
    while stats.errors.load(Ordering::Relaxed) == 0 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats.errors.load(Ordering::Relaxed), 1);
    station_task.abort();
    let _ = station_task.await;
    let driver_stats = driver_task.await.unwrap().unwrap();
    assert!(driver_stats.route_changes >= 6, "{driver_stats:?}");
}
