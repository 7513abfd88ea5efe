//! Webhooks ignore `HTTP_PROXY` (issue 14, finding 6): a proxy would
//! connect wherever it likes, bypassing the checked, pinned address. Alone
//! in its own test binary because it sets the proxy variables of the
//! process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use vigie_publish::alerts::{self, DeliveryConfig};

#[test]
fn webhook_delivery_ignores_proxy_variables() {
    // A dead proxy: if it were used, every delivery would fail.
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
    ] {
        std::env::set_var(name, "http://127.0.0.1:9");
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut store = vigie_store::Store::open(dir.path()).unwrap();
    let iq = "IQ".parse().unwrap();
    // Now: feed health only reads data inside the plausible time window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = now - now % 300;
    alerts::subscribe(
        &mut store,
        &iq,
        &["feed-health".to_string()],
        &url,
        "a-secret-of-at-least-16-bytes",
        true,
        t0,
    )
    .unwrap();
    store
        .write_points(
            &vigie_model::SeriesKey {
                entity: iq,
                signal: vigie_model::SignalKind::BgpVisibleSlash24s,
            },
            vigie_model::BinSize::default(),
            &[(t0 - 7200, Some(1.0))],
        )
        .unwrap();
    assert_eq!(
        alerts::enqueue_feed_health(&mut store, t0, 1800).unwrap(),
        1
    );
    let config = DeliveryConfig {
        allow_private: true,
        ..DeliveryConfig::default()
    };
    let report = alerts::deliver_due(&mut store, &config, t0).unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    receiver.join().unwrap();
}
