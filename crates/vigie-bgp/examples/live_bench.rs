//! Throughput of the live path on one core: a scripted peer (another
//! thread) replays the UPDATEs of real RIS update files to vigie's passive
//! BGP speaker, then to its BMP station as route monitoring; vigie's side
//! (session or station, decoding, channel, routing model) runs on a
//! single-threaded runtime. Prints UPDATE messages and route changes per second.
//!
//! ```text
//! cargo run --release -p vigie-bgp --example live_bench -- \
//!     ../shared/data/mrt/bgpdump/updates.20070211.0141.gz \
//!     ../shared/data/mrt/bgpdump/updates.20160811.1600.gz --repeat 5
//! ```

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgpkit_parser::models::{AsnLength, Bgp4MpEnum, Bgp4MpType, BgpMessage, MrtMessage};
use bgpkit_parser::BgpkitParser;
use vigie_bgp::live::{
    system_clock, AllowedPeer, BmpConfig, BmpStation, BmpTime, LiveDriver, LiveEvent, Speaker,
    SpeakerConfig,
};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};

struct Update {
    peer_ip: IpAddr,
    peer_asn: u32,
    time: u32,
    four_octet_as: bool,
    /// Encoded with 4-octet AS numbers, as on a session that negotiated them.
    bytes_as4: Vec<u8>,
    /// Encoded as the peer sent it, for BMP.
    bytes_native: Vec<u8>,
}

fn load(files: &[PathBuf]) -> Vec<Update> {
    let mut out = Vec::new();
    for path in files {
        let file = std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let reader = flate2::read::GzDecoder::new(file);
        for record in BgpkitParser::from_reader(reader)
            .disable_warnings()
            .into_record_iter()
        {
            let MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(m)) = record.message else {
                continue;
            };
            if !matches!(m.bgp_message, BgpMessage::Update(_)) {
                continue;
            }
            if matches!(
                m.msg_type,
                Bgp4MpType::MessageAddpath | Bgp4MpType::MessageAs4Addpath
            ) {
                continue;
            }
            let four_octet_as = matches!(m.msg_type, Bgp4MpType::MessageAs4);
            let native = if four_octet_as {
                AsnLength::Bits32
            } else {
                AsnLength::Bits16
            };
            let (Ok(bytes_as4), Ok(bytes_native)) = (
                m.bgp_message.encode(AsnLength::Bits32),
                m.bgp_message.encode(native),
            ) else {
                continue;
            };
            out.push(Update {
                peer_ip: m.peer_ip,
                peer_asn: m.peer_asn.to_u32(),
                time: record.common_header.timestamp,
                four_octet_as,
                bytes_as4: bytes_as4.to_vec(),
                bytes_native: bytes_native.to_vec(),
            });
        }
    }
    out
}

fn peer_open(asn: u32) -> Vec<u8> {
    let mut caps = vec![1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 65, 4];
    caps.extend_from_slice(&asn.to_be_bytes());
    let mut body = vec![4];
    body.extend_from_slice(&23456u16.to_be_bytes());
    body.extend_from_slice(&90u16.to_be_bytes());
    body.extend_from_slice(&[192, 0, 2, 2]);
    body.push((caps.len() + 2) as u8);
    body.push(2);
    body.push(caps.len() as u8);
    body.extend_from_slice(&caps);
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    out.push(1);
    out.extend_from_slice(&body);
    out
}

fn keepalive() -> Vec<u8> {
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&19u16.to_be_bytes());
    out.push(4);
    out
}

fn bmp_route_monitoring(u: &Update) -> Vec<u8> {
    let mut per_peer = vec![0u8, 0];
    if u.peer_ip.is_ipv6() {
        per_peer[1] |= 0x80;
    }
    if !u.four_octet_as {
        per_peer[1] |= 0x20;
    }
    per_peer.extend_from_slice(&[0; 8]);
    match u.peer_ip {
        IpAddr::V4(v4) => {
            per_peer.extend_from_slice(&[0; 12]);
            per_peer.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => per_peer.extend_from_slice(&v6.octets()),
    }
    per_peer.extend_from_slice(&u.peer_asn.to_be_bytes());
    per_peer.extend_from_slice(&[192, 0, 2, 1]);
    per_peer.extend_from_slice(&u.time.to_be_bytes());
    per_peer.extend_from_slice(&[0; 4]);
    let len = 6 + per_peer.len() + u.bytes_native.len();
    let mut out = vec![3];
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(0);
    out.extend_from_slice(&per_peer);
    out.extend_from_slice(&u.bytes_native);
    out
}

/// Applies events until `expected_updates` UPDATE events arrived; returns
/// the route changes applied and when the last one was.
async fn consume(
    mut rx: tokio::sync::mpsc::Receiver<LiveEvent>,
    expected_updates: usize,
    started: Arc<std::sync::Mutex<Option<Instant>>>,
) -> (u64, Duration) {
    let mut driver = LiveDriver::new(VisibilityAccounting::new(
        VisibilityConfig::default(),
        Arc::new(vigie_geo::GeoDb::embedded()),
    ));
    let mut seen = 0usize;
    while let Some(event) = rx.recv().await {
        if matches!(event, LiveEvent::Routes { .. }) {
            seen += 1;
        }
        driver.apply(&event);
        if seen >= expected_updates {
            break;
        }
    }
    let elapsed = started
        .lock()
        .ok()
        .and_then(|s| *s)
        .map(|s| s.elapsed())
        .unwrap_or_default();
    (driver.stats().route_changes, elapsed)
}

fn main() {
    let mut files = Vec::new();
    let mut repeat = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--repeat" {
            repeat = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
        } else {
            files.push(PathBuf::from(arg));
        }
    }
    if files.is_empty() {
        eprintln!("usage: live_bench FILE.gz... [--repeat N]");
        std::process::exit(2);
    }
    let once = load(&files);
    // Updates that carry no unicast change (e.g. only multicast) send no event.
    let with_changes: Vec<&Update> = once
        .iter()
        .filter(|u| {
            let mut changes = Vec::new();
            let n = vigie_bgp::live::session::Negotiated {
                peer_asn: u.peer_asn,
                peer_router_id: std::net::Ipv4Addr::new(192, 0, 2, 1),
                hold_time_secs: 90,
                four_octet_as: true,
                families: vec![(1, 1), (2, 1)],
                add_path: false,
            };
            vigie_bgp::live::session::decode_update(&u.bytes_as4, &n, &mut changes).is_ok()
                && !changes.is_empty()
        })
        .collect();
    let updates: Vec<&Update> = (0..repeat)
        .flat_map(|_| with_changes.iter().copied())
        .collect();
    println!(
        "{} UPDATE messages ({} per pass × {repeat}) from {} file(s)",
        updates.len(),
        with_changes.len(),
        files.len()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // The speaker.
    let speaker_stream: Vec<u8> = {
        let mut s = peer_open(64_999);
        s.extend(keepalive());
        for u in &updates {
            s.extend_from_slice(&u.bytes_as4);
        }
        s
    };
    let bmp_stream: Vec<u8> = updates
        .iter()
        .flat_map(|u| bmp_route_monitoring(u))
        .collect();
    for (label, stream) in [
        ("BGP speaker", &speaker_stream),
        ("BMP station", &bmp_stream),
    ] {
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let started = Arc::new(std::sync::Mutex::new(None));
        let (addr, server): (SocketAddr, tokio::task::JoinHandle<()>) = runtime.block_on(async {
            if label == "BGP speaker" {
                let speaker = Speaker::bind(
                    SpeakerConfig {
                        listen: "127.0.0.1:0".parse().expect("addr"),
                        peers: vec![AllowedPeer {
                            ip: "127.0.0.1".parse().expect("ip"),
                            asn: None,
                        }],
                        ..SpeakerConfig::default()
                    },
                    system_clock(),
                )
                .await
                .expect("bind");
                let addr = speaker.local_addr().expect("addr");
                (
                    addr,
                    tokio::spawn(async move {
                        let _ = speaker.run(tx).await;
                    }),
                )
            } else {
                let station = BmpStation::bind(
                    BmpConfig {
                        listen: "127.0.0.1:0".parse().expect("addr"),
                        time_source: BmpTime::Header,
                    },
                    system_clock(),
                )
                .await
                .expect("bind");
                let addr = station.local_addr().expect("addr");
                (
                    addr,
                    tokio::spawn(async move {
                        let _ = station.run(tx).await;
                    }),
                )
            }
        });
        let bytes = stream.clone();
        let started_peer = Arc::clone(&started);
        let peer = std::thread::spawn(move || {
            let mut socket = TcpStream::connect(addr).expect("connect");
            if let Ok(mut s) = started_peer.lock() {
                *s = Some(Instant::now());
            }
            socket.write_all(&bytes).expect("write");
            // Keep the session open until vigie is done.
            let mut sink = [0u8; 4096];
            let _ = socket.set_read_timeout(Some(Duration::from_secs(120)));
            while let Ok(n) = socket.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        });
        let (changes, elapsed) = runtime.block_on(consume(rx, updates.len(), Arc::clone(&started)));
        server.abort();
        let secs = elapsed.as_secs_f64().max(1e-9);
        println!(
            "{label}: {} UPDATEs, {changes} route changes in {:.2} s: {:.0} UPDATEs/s, {:.0} route changes/s ({:.1} MB)",
            updates.len(),
            secs,
            updates.len() as f64 / secs,
            changes as f64 / secs,
            stream.len() as f64 / 1e6
        );
        // The scripted peer waits for a close that the aborted task never
        // sends; it is left to end with the process.
        drop(peer);
    }
}
