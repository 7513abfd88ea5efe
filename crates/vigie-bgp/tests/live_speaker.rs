//! The passive BGP speaker with real peers: gobgpd (with ADD-PATH) and BIRD
//! open sessions to vigie on loopback addresses, announce real Kazakh
//! prefixes, then withdraw them; the provisional counts follow within
//! seconds. Unknown peers and garbage get their NOTIFICATION.
//!
//! Needs the Debian packages gobgpd and bird2 (scripts/setup.sh installs
//! them); skips without them, except under CI=true.

mod live_common;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use live_common::{run, spawn, tool, value, wait_for, Latest, SharedSink};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use vigie_bgp::live::{
    run_driver, system_clock, AllowedPeer, DriverOptions, LiveDriver, Speaker, SpeakerConfig,
};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::SignalKind;

fn kz_slash24s(geo: &GeoDb, prefixes: &[&str]) -> f64 {
    let mut total = 0;
    for p in prefixes {
        let net: ipnet::IpNet = p.parse().unwrap();
        let (family, first, last) = vigie_geo::prefix_units(&net).unwrap();
        geo.split_countries(family, first, last, |cc, n| {
            if cc.to_string() == "KZ" {
                total += n;
            }
        });
    }
    total as f64
}

/// Connects from `local` to the speaker and returns what it answers to `send`.
async fn answer_to(local: IpAddr, speaker: SocketAddr, send: &[u8]) -> Vec<u8> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let mut stream = socket.connect(speaker).await.unwrap();
    let _ = stream.write_all(send).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gobgpd_and_bird_peer_with_the_speaker() {
    let (Some(gobgpd), Some(gobgp), Some(bird), Some(birdc)) = (
        tool("gobgpd", "/usr/bin/gobgpd"),
        tool("gobgp", "/usr/bin/gobgp"),
        tool("bird", "/usr/sbin/bird"),
        tool("birdc", "/usr/sbin/birdc"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let geo = Arc::new(GeoDb::embedded());

    let speaker = Speaker::bind(
        SpeakerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            local_asn: 64512,
            hold_time_secs: 9,
            peers: vec![
                AllowedPeer {
                    ip: "127.0.0.2".parse().unwrap(),
                    asn: Some(65002),
                },
                AllowedPeer {
                    ip: "127.0.0.3".parse().unwrap(),
                    asn: Some(65003),
                },
                AllowedPeer {
                    ip: "127.0.0.4".parse().unwrap(),
                    asn: None,
                },
            ],
            ..SpeakerConfig::default()
        },
        system_clock(),
    )
    .await
    .unwrap();
    let addr = speaker.local_addr().unwrap();
    let stats = speaker.stats();
    let (tx, rx) = mpsc::channel(1024);
    let speaker_task = tokio::spawn(speaker.run(tx));
    let latest = Arc::new(Mutex::new(Latest::default()));
    let mut sink = SharedSink(Arc::clone(&latest));
    let driver = LiveDriver::new(VisibilityAccounting::new(
        VisibilityConfig::default(),
        Arc::clone(&geo),
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

    // gobgpd: IPv4 and IPv6 unicast with ADD-PATH send.
    let gobgp_conf = format!(
        "[global.config]\n  as = 65002\n  router-id = \"127.0.0.2\"\n  port = -1\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"127.0.0.1\"\n    peer-as = 64512\n\
         \x20 [neighbors.transport.config]\n    local-address = \"127.0.0.2\"\n    remote-port = {port}\n\
         \x20 [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 9\n    keepalive-interval = 3\n\
         \x20 [neighbors.add-paths.config]\n    send-max = 4\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv6-unicast\"\n",
        port = addr.port()
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
    // BIRD: IPv4 only, its static route exported with a prepended origin.
    let bird_conf = format!(
        "router id 127.0.0.3;\nprotocol device {{ }}\n\
         protocol static s4 {{ ipv4; route 95.56.0.0/14 blackhole; }}\n\
         protocol bgp vigie {{\n  local 127.0.0.3 as 65003;\n  neighbor 127.0.0.1 port {port} as 64512;\n  \
         multihop;\n  hold time 9;\n  connect retry time 1;\n  \
         ipv4 {{ import none; export filter {{ bgp_path.prepend(48716); accept; }}; }};\n}}\n",
        port = addr.port()
    );
    std::fs::write(dir.path().join("bird.conf"), bird_conf).unwrap();
    let bird_sock = dir.path().join("bird.ctl");
    let bird_sock_arg = bird_sock.to_str().unwrap().to_string();
    let bird_daemon = spawn(
        "bird",
        &bird,
        &[
            "-f",
            "-c",
            "bird.conf",
            "-s",
            &bird_sock_arg,
            "-P",
            "bird.pid",
        ],
        dir.path(),
    );
    let daemons = [&gobgp_daemon, &bird_daemon];

    // gobgpd's API comes up shortly after start.
    let gobgp_sock = dir.path().join("gobgp.sock");
    let target = format!("unix://{}", gobgp_sock.display());
    let gobgp_cli = |args: &[&str]| {
        let mut all = vec!["--target", target.as_str()];
        all.extend_from_slice(args);
        run(&gobgp, &all)
    };
    let start = Instant::now();
    while !gobgp_sock.exists() && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    gobgp_cli(&[
        "global",
        "rib",
        "add",
        "-a",
        "ipv4",
        "2.132.0.0/14",
        "aspath",
        "9198",
        "origin",
        "igp",
    ]);
    gobgp_cli(&[
        "global",
        "rib",
        "add",
        "-a",
        "ipv6",
        "2a00:12f8::/32",
        "aspath",
        "9198",
        "origin",
        "igp",
    ]);

    let expected_kz = kz_slash24s(&geo, &["2.132.0.0/14", "95.56.0.0/14"]);
    assert!(
        expected_kz >= 1024.0,
        "the geo data puts these prefixes in KZ"
    );
    let took = wait_for(&latest, "both peers' routes", &daemons, |bin| {
        value(bin, "AS9198", SignalKind::BgpVisibleSlash24s) == Some(1024.0)
            && value(bin, "AS48716", SignalKind::BgpVisibleSlash24s) == Some(1024.0)
            && value(bin, "AS9198", SignalKind::BgpVisibleSlash48s) == Some(65536.0)
            && value(bin, "KZ", SignalKind::BgpVisibleSlash24s) == Some(expected_kz)
    })
    .await;
    eprintln!("sessions up and routes counted after {took:?}");
    assert_eq!(stats.sessions_established.load(Ordering::Relaxed), 2);
    // gobgpd offered ADD-PATH send in both families; BIRD did not.
    assert_eq!(stats.add_path_sessions.load(Ordering::Relaxed), 1);

    // Withdrawals: the provisional count follows well within 60 s.
    let withdrawn_at = Instant::now();
    gobgp_cli(&["global", "rib", "del", "-a", "ipv4", "2.132.0.0/14"]);
    run(&birdc, &["-s", &bird_sock_arg, "disable", "s4"]);
    let took = wait_for(&latest, "the withdrawals", &daemons, |bin| {
        value(bin, "AS9198", SignalKind::BgpVisibleSlash24s) == Some(0.0)
            && value(bin, "AS48716", SignalKind::BgpVisibleSlash24s) == Some(0.0)
            && value(bin, "AS9198", SignalKind::BgpVisibleSlash48s) == Some(65536.0)
    })
    .await;
    let latency = withdrawn_at.elapsed();
    eprintln!("withdrawals counted after {took:?}");
    assert!(
        latency < Duration::from_secs(60),
        "withdrawal to count: {latency:?}"
    );

    // A peer not in the configuration: Cease / Connection Rejected.
    let answer = answer_to("127.0.0.9".parse().unwrap(), addr, &[]).await;
    assert_eq!(
        answer.get(18..21),
        Some(&[3u8, 6, 5][..]),
        "refusal: {answer:?}"
    );
    assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
    // An allowed peer that sends garbage: Message Header Error / not synchronized.
    let answer = answer_to("127.0.0.4".parse().unwrap(), addr, &[0x42; 40]).await;
    assert_eq!(
        answer.get(18..21),
        Some(&[3u8, 1, 1][..]),
        "garbage: {answer:?}"
    );
    assert_eq!(stats.malformed.load(Ordering::Relaxed), 1);
    // The real sessions survived both.
    assert_eq!(stats.sessions_up.load(Ordering::Relaxed), 2);

    // Stopping gobgpd ends its session: its remaining IPv6 route goes.
    drop(gobgp_daemon);
    wait_for(&latest, "gobgpd's session down", &[&bird_daemon], |bin| {
        value(bin, "AS9198", SignalKind::BgpVisibleSlash48s) == Some(0.0)
    })
    .await;
    drop(bird_daemon);
    speaker_task.abort();
    let _ = speaker_task.await;
    let driver_stats = driver_task.await.unwrap().unwrap();
    assert!(driver_stats.peer_downs >= 1);
    assert!(driver_stats.route_changes >= 4);
}

/// A scripted peer (no daemon needed): OPEN, KEEPALIVE, a valid UPDATE,
/// then a malformed one. vigie answers OPEN+KEEPALIVE, applies the first,
/// sends an UPDATE Message Error NOTIFICATION for the second, closes, and
/// drops the peer's routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_update_gets_a_notification_and_a_clean_close() {
    let speaker = Speaker::bind(
        SpeakerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: vec![AllowedPeer {
                ip: "127.0.0.1".parse().unwrap(),
                asn: Some(65010),
            }],
            ..SpeakerConfig::default()
        },
        system_clock(),
    )
    .await
    .unwrap();
    let addr = speaker.local_addr().unwrap();
    let stats = speaker.stats();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(speaker.run(tx));

    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xff; 16];
        out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        out.push(kind);
        out.extend_from_slice(body);
        out
    }
    let mut caps = vec![1, 4, 0, 1, 0, 1, 65, 4];
    caps.extend_from_slice(&65010u32.to_be_bytes());
    let mut open = vec![
        4,
        0xfd,
        0xf2,
        0,
        30,
        192,
        0,
        2,
        10,
        (caps.len() + 2) as u8,
        2,
        caps.len() as u8,
    ];
    open.extend_from_slice(&caps);
    // ORIGIN IGP, AS_PATH [65010 9198] (4-octet), NEXT_HOP; NLRI 2.132.0.0/14.
    let mut attributes = vec![0x40, 1, 1, 0, 0x40, 2, 10, 2, 2];
    attributes.extend_from_slice(&65010u32.to_be_bytes());
    attributes.extend_from_slice(&9198u32.to_be_bytes());
    attributes.extend_from_slice(&[0x40, 3, 4, 127, 0, 0, 1]);
    let mut update = vec![0, 0];
    update.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    update.extend_from_slice(&attributes);
    update.extend_from_slice(&[14, 2, 132]);
    // Path attributes declared longer than the message.
    let broken = [0, 0, 0, 200, 0x40, 1, 1, 0];

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&frame(1, &open)).await.unwrap();
    let mut header = [0u8; 19];
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[18], 1, "vigie answers with its OPEN");
    let len = u16::from_be_bytes([header[16], header[17]]) as usize;
    let mut body = vec![0u8; len - 19];
    stream.read_exact(&mut body).await.unwrap();
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[18], 4, "then a KEEPALIVE");
    stream.write_all(&frame(4, &[])).await.unwrap();
    stream.write_all(&frame(2, &update)).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(vigie_bgp::live::LiveEvent::Routes { peer, changes, .. })) => {
            assert_eq!(peer.asn, 65010);
            assert_eq!(
                changes,
                vec![vigie_bgp::live::RouteChange::Announce {
                    prefix: "2.132.0.0/14".parse().unwrap(),
                    path_id: None,
                    origin: Some(9198)
                }]
            );
        }
        other => panic!("expected the routes: {other:?}"),
    }
    stream.write_all(&frame(2, &broken)).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("vigie closes the session")
        .unwrap();
    // Possibly a KEEPALIVE first; the NOTIFICATION ends the stream.
    let notification = &answer[answer.len().saturating_sub(21)..];
    assert_eq!(notification.get(18..20), Some(&[3u8, 3][..]), "{answer:?}");
    assert_eq!(notification.get(20), Some(&1u8), "UPDATE error subcode");
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(vigie_bgp::live::LiveEvent::PeerDown { peer, .. })) => assert_eq!(peer.asn, 65010),
        other => panic!("expected the peer down: {other:?}"),
    }
    assert_eq!(stats.malformed.load(Ordering::Relaxed), 1);
}
