//! `vigie serve` end to end: a configuration with a BGP speaker and a BMP
//! station; a real RIS update file streamed to the station as BMP route
//! monitoring lands in the store with the values the routing model gives;
//! an unknown BGP peer is refused; `/metrics` counts the feeds' UPDATEs,
//! route changes and peers up as the model does; the process stops cleanly.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_bgp::live::bmp::{BmpRouter, BmpStats, BmpTime};
use vigie_bgp::live::{LiveDriver, LiveEvent};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_model::{BinSize, SeriesKey, SignalKind, TimeRange};
use vigie_store::Store;

#[path = "support/bmp.rs"]
mod bmp;
use bmp::bmp_messages;

fn shared_data() -> Option<PathBuf> {
    vigie_testdata::shared_data("")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /metrics` of the API on `port`, over a plain HTTP/1.1 connection.
fn scrape_metrics(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn serve_writes_bmp_routes_to_the_store() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (bgp_port, bmp_port, api_port) = (free_port(), free_port(), free_port());
    // A RIS Live server replaying the shared sample (rrc10's peer AS201333
    // announcing four /48s of AS20473) to whoever subscribes.
    let ris_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ris_port = ris_listener.local_addr().unwrap().port();
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("mrt/bgpkit/ris_live_raw_full.json")).unwrap(),
    )
    .unwrap();
    let elems = sample["elems"].as_array().unwrap().clone();
    let ris_message = serde_json::json!({"type": "ris_message", "data": {
        "timestamp": sample["meta"]["timestamp"], "peer": sample["meta"]["peer"],
        "peer_asn": sample["meta"]["peerAsn"].to_string(), "host": sample["meta"]["host"],
        "type": "UPDATE", "path": elems[0]["as_path"], "origin": "IGP",
        "announcements": [{"next_hop": elems[0]["next_hop"],
            "prefixes": elems.iter().map(|e| e["prefix"].clone()).collect::<Vec<_>>()}],
        "withdrawals": []}})
    .to_string();
    let subscription = Arc::new(std::sync::Mutex::new(String::new()));
    let subscription_seen = Arc::clone(&subscription);
    std::thread::spawn(move || {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            ris_listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(ris_listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            if let Some(Ok(Message::Text(text))) = ws.next().await {
                *subscription_seen.lock().unwrap() = text.to_string();
            }
            ws.send(Message::Text(ris_message.into())).await.unwrap();
            tokio::time::sleep(Duration::from_secs(600)).await;
        });
    });
    let config = format!(
        "bin_secs = 300\n[api]\nlisten = \"127.0.0.1:{api_port}\"\n[bgp]\nprovisional_secs = 1\n\
         [[source]]\nkind = \"bgp-session\"\nlisten = \"127.0.0.1:{bgp_port}\"\nlocal_asn = 64512\nrouter_id = \"192.0.2.1\"\n\
         peers = [{{ ip = \"127.0.0.2\", asn = 65002 }}]\n\
         [[source]]\nkind = \"bmp\"\nlisten = \"127.0.0.1:{bmp_port}\"\n\
         [[source]]\nkind = \"ris-live\"\nurl = \"ws://127.0.0.1:{ris_port}/v1/ws/\"\nhost = \"rrc10\"\nstall_secs = 30\n"
    );
    let config_path = dir.path().join("vigie.toml");
    std::fs::write(&config_path, config).unwrap();
    let data_dir = dir.path().join("data");

    // What the routing model gives for the same messages.
    let messages = bmp_messages(&data.join("mrt/bgpdump/updates.20100722.2015.gz"));
    let geo = Arc::new(vigie_geo::GeoDb::embedded());
    let mut driver = LiveDriver::new(VisibilityAccounting::new(VisibilityConfig::default(), geo));
    let mut router = BmpRouter::new(
        "bmp:127.0.0.1",
        BmpTime::Receipt,
        Arc::new(BmpStats::default()),
    );
    let mut events = Vec::new();
    for message in &messages {
        router.handle(message, 1_000_000, &mut events).unwrap();
    }
    for event in &events {
        driver.apply(event);
    }
    let expected = driver.provisional().unwrap();

    // The process runs until the store holds what it should, then gets
    // SIGINT; `--for-secs` is only a safety net. A fixed short run lost
    // messages still in flight on a loaded CI machine.
    let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--for-secs", "600"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let start = Instant::now();
    let mut bmp = loop {
        match TcpStream::connect(("127.0.0.1", bmp_port)) {
            Ok(s) => break s,
            Err(_) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("vigie serve does not listen for BMP: {e}"),
        }
    };
    for message in &messages {
        bmp.write_all(message).unwrap();
    }
    bmp.flush().unwrap();

    // An unknown BGP peer: refused with Cease / Connection Rejected.
    let mut bgp = TcpStream::connect(("127.0.0.1", bgp_port)).unwrap();
    bgp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let _ = bgp.read_to_end(&mut answer);
    assert_eq!(answer.get(18..21), Some(&[3u8, 6, 5][..]), "{answer:?}");

    // Compares the store with the model; Err names the first difference.
    let compare = || -> Result<usize, String> {
        let store = Store::open(&data_dir).map_err(|e| e.to_string())?;
        let entities = store.entities().map_err(|e| e.to_string())?;
        let mut checked = 0;
        for (key, value) in &expected.values {
            if !matches!(
                key.signal,
                SignalKind::BgpVisibleSlash24s | SignalKind::BgpVisibleSlash48s
            ) {
                continue;
            }
            let stored = entities
                .iter()
                .find(|e| e.entity == key.entity)
                .and_then(|e| e.signals.iter().find(|s| s.signal == key.signal))
                .ok_or_else(|| format!("{} {} not in the store", key.entity, key.signal))?;
            if stored.bin != BinSize::default() || stored.latest_value != *value {
                return Err(format!(
                    "{} {}: stored {:?}, expected {value:?}",
                    key.entity, key.signal, stored.latest_value
                ));
            }
            checked += 1;
        }
        // Summed over the last hour, so a bin boundary passing during the
        // test does not hide the announcements in the bin before.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let announced = store
            .read_series(
                &SeriesKey {
                    entity: "AS20473".parse().unwrap(),
                    signal: SignalKind::BgpAnnouncements,
                },
                BinSize::default(),
                TimeRange::new(now - 3600, now + 600).unwrap(),
            )
            .map_err(|e| e.to_string())?;
        let announcements: Option<f64> = announced
            .values
            .iter()
            .flatten()
            .copied()
            .reduce(|a, b| a + b);
        if announcements != Some(4.0) {
            return Err(format!(
                "RIS Live announcements of AS20473: {announcements:?}"
            ));
        }
        Ok(checked)
    };
    let mut last = Err(String::from("not compared yet"));
    while start.elapsed() < Duration::from_secs(300) {
        last = compare();
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let checked = last.unwrap_or_else(|e| panic!("the store never matched the model: {e}"));
    assert!(checked > 50, "{checked} series compared");

    // /metrics: the BMP feed's UPDATEs, route changes and peers up as the
    // model counts them, RIS Live's message, the provisional bins written.
    let metrics = scrape_metrics(api_port);
    let sample = |key: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in:\n{metrics}"))
    };
    let updates = events
        .iter()
        .filter(|e| matches!(e, LiveEvent::Routes { .. }))
        .count();
    let changes: usize = events
        .iter()
        .map(|e| match e {
            LiveEvent::Routes { changes, .. } => changes.len(),
            _ => 0,
        })
        .sum();
    let mut peers = std::collections::BTreeSet::new();
    for event in &events {
        match event {
            LiveEvent::Routes { peer, .. } => {
                peers.insert((peer.ip, peer.asn));
            }
            LiveEvent::PeerDown { peer, .. } => {
                peers.remove(&(peer.ip, peer.asn));
            }
            _ => {}
        }
    }
    assert!(updates > 100, "{updates}");
    assert_eq!(
        sample("vigie_bgp_updates_total{feed=\"bmp\"}"),
        updates as f64
    );
    assert_eq!(
        sample("vigie_bgp_route_changes_total{feed=\"bmp\"}"),
        changes as f64
    );
    assert_eq!(
        sample("vigie_bgp_peers_up{feed=\"bmp\"}"),
        peers.len() as f64
    );
    assert_eq!(sample("vigie_bgp_updates_total{feed=\"ris-live\"}"), 1.0);
    assert_eq!(
        sample("vigie_bgp_route_changes_total{feed=\"ris-live\"}"),
        4.0
    );
    assert!(sample("vigie_source_provisional_bins_total{source=\"bgp-live\"}") >= 1.0);

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("BMP station on"), "{log}");
    assert!(log.contains("interrupted, stopping"), "{log}");
    drop(bmp);
    // A clean stop keeps what was stored.
    compare().unwrap_or_else(|e| panic!("after the stop: {e}"));

    // RIS Live: subscribed with the configured filter, its update stored.
    let subscription: serde_json::Value =
        serde_json::from_str(&subscription.lock().unwrap()).unwrap();
    assert_eq!(subscription["type"], "ris_subscribe");
    assert_eq!(subscription["data"]["host"], "rrc10");
}
