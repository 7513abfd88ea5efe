//! The RIS Live client: a real update file replayed as RIS Live JSON gives
//! the MRT ingest's bins; a local WebSocket server replaying real-format
//! messages is killed mid-stream and stalls, and the client reports the
//! feed-health gap, counts invalid JSON, and recovers.

mod live_common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use live_common::{
    assert_same_bins, geo, mrt_bins, replay, shared_data, value, wait_for, Latest, Replayed,
    SharedSink,
};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use vigie_bgp::live::ris_live::{decode_ris_message, peer_down_json, update_json};
use vigie_bgp::live::{
    run_driver, run_ris_live, system_clock, DriverOptions, LiveDriver, LiveEvent, RisLiveConfig,
    RisLiveStats, RisSubscription,
};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_model::SignalKind;

#[test]
fn ris_live_json_replay_matches_the_mrt_ingest() {
    let Some(data) = shared_data() else { return };
    let geo = geo();
    for file in [
        "mrt/bgpdump/updates.20070211.0141.gz",
        "mrt/bgpdump/updates.20100722.2015.gz",
    ] {
        let path = data.join(file);
        let archive = mrt_bins(&path, "rrc-test", &geo);
        let mut driver = LiveDriver::new(live_common::accounting(&geo));
        let mut bins = Vec::new();
        let mut events = Vec::new();
        for record in replay(&path) {
            let text = match &record {
                Replayed::Message {
                    time,
                    peer_ip,
                    peer_asn,
                    update,
                    ..
                } => update_json(*time, "rrc-test", &peer_ip.to_string(), *peer_asn, update),
                Replayed::SessionDown {
                    time,
                    peer_ip,
                    peer_asn,
                } => peer_down_json(*time, "rrc-test", &peer_ip.to_string(), *peer_asn),
            };
            decode_ris_message(&text, 0, true, &mut events).unwrap();
            for event in events.drain(..) {
                let closed = driver.apply(&event);
                bins.extend(live_common::covered(&driver, closed));
            }
        }
        let last = driver.finish();
        bins.extend(live_common::covered(&driver, last));
        assert_same_bins(&format!("{file} as RIS Live JSON"), &archive, &bins);
    }
}

/// The RIS Live message of the shared sample (one UPDATE of rrc10's peer
/// AS201333 announcing four /48s originated by AS20473), as RIS Live sends it.
fn sample_message(data: &std::path::Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(data.join("mrt/bgpkit/ris_live_raw_full.json")).unwrap();
    let sample: serde_json::Value = serde_json::from_str(&text).unwrap();
    let meta = &sample["meta"];
    let elems = sample["elems"].as_array().unwrap();
    let prefixes: Vec<String> = elems
        .iter()
        .map(|e| e["prefix"].as_str().unwrap().to_string())
        .collect();
    let message = json!({
        "type": "ris_message",
        "data": {
            "timestamp": meta["timestamp"],
            "peer": meta["peer"],
            "peer_asn": meta["peerAsn"].to_string(),
            "id": meta["id"],
            "host": meta["host"],
            "type": "UPDATE",
            "path": elems[0]["as_path"],
            "community": [[6762, 30], [6762, 14400]],
            "origin": "IGP",
            "announcements": [{"next_hop": elems[0]["next_hop"], "prefixes": prefixes}],
            "withdrawals": [],
        }
    });
    (message.to_string(), prefixes)
}

fn withdrawal(data: &std::path::Path, prefix: &str) -> String {
    let (message, _) = sample_message(data);
    let mut v: serde_json::Value = serde_json::from_str(&message).unwrap();
    v["data"]["path"] = json!([]);
    v["data"]["announcements"] = json!([]);
    v["data"]["withdrawals"] = json!([prefix]);
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_stalled_feeds_are_reported_and_recovered() {
    let Some(data) = shared_data() else { return };
    let (announce, prefixes) = sample_message(&data);
    let withdraw = withdrawal(&data, &prefixes[0]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://{}/v1/ws/?client=vigie-test",
        listener.local_addr().unwrap()
    );
    let subscriptions = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let subscriptions = Arc::clone(&subscriptions);
        tokio::spawn(async move {
            for connection in 0.. {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let subscriptions = Arc::clone(&subscriptions);
                let (announce, withdraw) = (announce.clone(), withdraw.clone());
                // One task per connection, so a silent one does not block the next.
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    if let Some(Ok(Message::Text(text))) = ws.next().await {
                        subscriptions.lock().unwrap().push(text.to_string());
                    }
                    match connection {
                        // The announcement, garbage, then the server dies mid-stream.
                        0 => {
                            ws.send(Message::Text(announce.into())).await.unwrap();
                            ws.send(Message::Text(
                                "{\"type\": \"ris_message\", \"data\": {".into(),
                            ))
                            .await
                            .unwrap();
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            drop(ws);
                        }
                        // A withdrawal, then silence: a stall.
                        1 => {
                            ws.send(Message::Text(withdraw.into())).await.unwrap();
                            tokio::time::sleep(Duration::from_secs(4)).await;
                        }
                        // Back to normal: keep sending.
                        _ => loop {
                            if ws
                                .send(Message::Text("{\"type\":\"pong\",\"data\":null}".into()))
                                .await
                                .is_err()
                            {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        },
                    }
                });
            }
        })
    };

    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let stats = Arc::new(RisLiveStats::default());
    let config = RisLiveConfig {
        url,
        subscription: RisSubscription {
            host: Some("rrc10".into()),
            ..RisSubscription::default()
        },
        stall_secs: 1,
        backoff_min_ms: 50,
        backoff_max_ms: 200,
        use_message_time: false,
        ..RisLiveConfig::default()
    };
    let client = tokio::spawn(run_ris_live(config, tx, Arc::clone(&stats), system_clock()));
    let latest = Arc::new(Mutex::new(Latest::default()));
    let mut sink = SharedSink(Arc::clone(&latest));
    let driver = LiveDriver::new(VisibilityAccounting::new(
        VisibilityConfig::default(),
        geo(),
    ));
    let driver_task = tokio::spawn(async move {
        let options = DriverOptions {
            tick: Duration::from_millis(100),
            provisional_every: Duration::from_millis(100),
            ..DriverOptions::default()
        };
        run_driver(driver, rx, &mut sink.clone(), &mut sink, options)
            .await
            .map(|d| d.stats().clone())
    });

    wait_for(&latest, "the announcement", &[], |bin| {
        value(bin, "AS20473", SignalKind::BgpVisibleSlash48s) == Some(4.0)
    })
    .await;
    // The killed connection is a feed-health failure; the client reconnects.
    wait_for(&latest, "the withdrawal after reconnecting", &[], |bin| {
        value(bin, "AS20473", SignalKind::BgpVisibleSlash48s) == Some(3.0)
    })
    .await;
    let start = std::time::Instant::now();
    while stats.connects.load(Ordering::Relaxed) < 3 || latest.lock().unwrap().health.len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery after the stall: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.abort();
    let _ = client.await;
    server.abort();
    let driver_stats = driver_task.await.unwrap().unwrap();

    let health: Vec<&'static str> = latest
        .lock()
        .unwrap()
        .health
        .iter()
        .map(|e| match e {
            LiveEvent::FeedDown { .. } => "down",
            LiveEvent::FeedUp { .. } => "up",
            _ => "other",
        })
        .collect();
    assert_eq!(&health[..4], &["down", "up", "down", "up"], "{health:?}");
    assert_eq!(stats.invalid_json.load(Ordering::Relaxed), 1);
    assert_eq!(stats.stalls.load(Ordering::Relaxed), 1);
    assert_eq!(stats.updates.load(Ordering::Relaxed), 2);
    assert!(driver_stats.feed_downs >= 2);
    let subscriptions = subscriptions.lock().unwrap();
    assert!(subscriptions.len() >= 3);
    let first: serde_json::Value = serde_json::from_str(&subscriptions[0]).unwrap();
    assert_eq!(first["type"], "ris_subscribe");
    assert_eq!(first["data"]["host"], "rrc10");
}

/// RIS Live does not replay state: the RIB comes from an archive dump
/// loaded under the collector's name, and RIS Live messages from that
/// collector apply on top of it, to the same peers.
#[test]
fn ris_live_applies_on_top_of_a_rib_dump() {
    use vigie_bgp::mrt::{ingest_mrt, CollectorFiles, FileKind, IngestOptions, MrtFile};
    let Some(data) = shared_data() else { return };
    let path = data.join("mrt/bgpdump/bview.20020722.2337.gz");
    let mut accounting = live_common::accounting(&geo());
    let files = vec![CollectorFiles {
        collector: "rrc00".into(),
        files: vec![MrtFile {
            path: path.clone(),
            collector: "rrc00".into(),
            kind: FileKind::Rib,
            name_time: None,
        }],
    }];
    ingest_mrt(
        files,
        &mut accounting,
        &IngestOptions::default(),
        &mut vigie_model::Discard,
        &mut (),
    )
    .unwrap();
    // Pick a prefix of the RIB and every peer holding it.
    let reader = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
    let mut holders: Vec<(String, u32)> = Vec::new();
    let mut target = None;
    for elem in bgpkit_parser::BgpkitParser::from_reader(reader).into_elem_iter() {
        let prefix = elem.prefix.prefix;
        if target.is_none() && prefix.prefix_len() == 16 && prefix.addr().is_ipv4() {
            target = Some((
                prefix,
                elem.origin_asns
                    .as_ref()
                    .and_then(|o| o.first())
                    .map(|a| a.to_u32()),
            ));
        }
        if Some(prefix) == target.map(|t| t.0) {
            holders.push((elem.peer_ip.to_string(), elem.peer_asn.to_u32()));
        } else if target.is_some() && !holders.is_empty() {
            break;
        }
    }
    let (prefix, origin) = target.expect("a /16 in the RIB");
    let origin = origin.expect("an origin AS");
    let mut driver = LiveDriver::new(accounting);
    let mut events = Vec::new();
    let time = 1_027_382_000; // just after the dump (2002-07-22 23:37)
    let before = driver.provisional();
    assert!(before.is_none(), "no bin open after the dump");
    driver.tick(time);
    let entity = format!("AS{origin}");
    let before = driver.provisional().unwrap();
    let visible_before = value(&before, &entity, SignalKind::BgpVisibleSlash24s).unwrap();
    assert!(
        visible_before >= 256.0,
        "{entity} holds the /16: {visible_before}"
    );
    // Every RIB peer withdraws the /16 on RIS Live.
    for (peer, peer_asn) in &holders {
        let text = json!({"type": "ris_message", "data": {
            "timestamp": time as f64, "peer": peer, "peer_asn": peer_asn.to_string(),
            "host": "rrc00", "type": "UPDATE", "path": [], "announcements": [],
            "withdrawals": [prefix.to_string()]}})
        .to_string();
        decode_ris_message(&text, 0, true, &mut events).unwrap();
    }
    for event in events.drain(..) {
        driver.apply(&event);
    }
    let after = driver.provisional().unwrap();
    let visible_after = value(&after, &entity, SignalKind::BgpVisibleSlash24s).unwrap();
    assert!(
        visible_after < visible_before,
        "{} peers withdrew {prefix} of {entity}: {visible_before} -> {visible_after}",
        holders.len()
    );
    assert_eq!(
        value(&after, &entity, SignalKind::BgpWithdrawals),
        Some(holders.len() as f64)
    );
}

/// The socket reader keeps reading while the routing model does not take
/// events: RIS Live never sees a slow consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_keeps_pace_when_processing_stalls() {
    let Some(data) = shared_data() else { return };
    let (announce, _) = sample_message(&data);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    const COUNT: u64 = 3000;
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let _ = ws.next().await;
        for _ in 0..COUNT {
            ws.send(Message::Text(announce.clone().into()))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    // A channel of one event that nobody reads for now.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let stats = Arc::new(RisLiveStats::default());
    let config = RisLiveConfig {
        url,
        stall_secs: 20,
        ..RisLiveConfig::default()
    };
    let client = tokio::spawn(run_ris_live(config, tx, Arc::clone(&stats), system_clock()));
    let start = std::time::Instant::now();
    while stats.messages.load(Ordering::Relaxed) < COUNT {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "reader blocked: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stats.max_queue.load(Ordering::Relaxed) > COUNT / 2,
        "{stats:?}"
    );
    // Now consume: every message arrives.
    let mut routes = 0;
    while routes < COUNT {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(LiveEvent::Routes { .. })) => routes += 1,
            Ok(Some(_)) => {}
            other => panic!("after {routes} events: {other:?}"),
        }
    }
    client.abort();
}

/// `wss://` URLs go through TLS: a server that does not speak TLS fails the
/// handshake, which is reported as the feed being down, and retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_urls_use_tls() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "wss://localhost:{}/v1/ws/",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"HTTP/1.1 400 not TLS\r\n\r\n").await;
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let stats = Arc::new(RisLiveStats::default());
    let config = RisLiveConfig {
        url,
        stall_secs: 2,
        backoff_min_ms: 50,
        backoff_max_ms: 100,
        ..RisLiveConfig::default()
    };
    let client = tokio::spawn(run_ris_live(config, tx, Arc::clone(&stats), system_clock()));
    let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap();
    let Some(LiveEvent::FeedDown { reason, .. }) = event else {
        panic!("expected the feed down: {event:?}")
    };
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(
        reason.to_lowercase().contains("tls")
            || reason.contains("corrupt")
            || reason.contains("InvalidContentType"),
        "a TLS failure: {reason}"
    );
    let start = std::time::Instant::now();
    while stats.connect_failures.load(Ordering::Relaxed) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "retried: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.abort();
}
