//! `/metrics` of a running `vigie serve` with real sources: a flow
//! collector fed NetFlow v9 datagrams (and one that is not NetFlow) over
//! UDP, a followed access log (a past line, then a late one), the live
//! telescope on the loopback interface (as root), live detection and the
//! alert worker. Scraped before and after: the sources', the
//! detector's and the alert worker's counters are there, in Prometheus
//! style, and move.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A NetFlow v9 datagram: template 256 (src, dst, bytes, packets) and one record.
fn v9(src: [u8; 4], dst: [u8; 4], bytes: u32, packets: u32) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [9u16, 2] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    for v in [1000u32, 1_700_000_000, 1, 0] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    for v in [0u16, 24, 256, 4, 8, 4, 12, 4, 1, 4, 2, 4, 256, 20] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.extend_from_slice(&src);
    d.extend_from_slice(&dst);
    d.extend_from_slice(&bytes.to_be_bytes());
    d.extend_from_slice(&packets.to_be_bytes());
    d
}

/// The samples of an exposition: `name{labels}` → value (comments skipped).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// `GET /metrics` over a plain HTTP/1.1 connection: the body and its samples.
fn scrape(api: &str) -> (String, BTreeMap<String, f64>) {
    let mut stream = std::net::TcpStream::connect(api).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    let text = body.to_string();
    let parsed = samples(&text);
    (text, parsed)
}

fn wait_for(stderr: &Path, child: &mut Child, what: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(stderr).unwrap_or_default();
        if text.contains(what) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never saw '{what}': {text}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "vigie serve ended early: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `check` holds for a scrape, or fails with the last one.
fn scrape_until(
    api: &str,
    what: &str,
    check: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let start = Instant::now();
    loop {
        let (text, parsed) = scrape(api);
        if check(&parsed) {
            return parsed;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never held:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn metrics_of_sources_detector_and_alert_worker_move() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let exporter = UdpSocket::bind("127.0.0.1:0").unwrap();
    let exporter_addr = exporter.local_addr().unwrap().to_string();
    let listen = {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let log_path = dir.path().join("access.log");
    std::fs::write(
        &log_path,
        "2.132.0.1 - - [06/Jan/2025:12:00:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"a\"\n",
    )
    .unwrap();
    let mut config = format!(
        "[api]\nlisten = \"127.0.0.1:0\"\n\
         [alerts]\ninterval_secs = 1\n\
         [[source]]\nkind = \"flows\"\nlisten = [\"{listen}\"]\nown_prefixes = [\"192.0.2.0/24\"]\n\
         [[source]]\nkind = \"access-log\"\npath = \"{}\"\nsource = \"example-site\"\nfrom_start = true\n",
        log_path.display()
    );
    // The live telescope needs CAP_NET_RAW: as root (CI), on loopback,
    // where this test's own scrapes are packets to count.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        config.push_str(
            "[[source]]\nkind = \"telescope\"\ninterface = \"lo\"\ndarknet = [\"192.0.2.0/24\"]\n",
        );
    }
    let config_path = dir.path().join("vigie.toml");
    std::fs::write(&config_path, config).unwrap();
    let stderr_path = dir.path().join("serve.err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--for-secs", "300", "--config"])
        .arg(&config_path)
        .env("VIGIE_API_TOKEN", "a-token-for-the-alert-worker")
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    wait_for(&stderr_path, &mut child, "flow collector on udp");
    let text = wait_for(&stderr_path, &mut child, "HTTP API on http://");
    let api = text
        .split("HTTP API on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();

    let flow = |name: &str| format!("{name}{{exporter=\"{exporter_addr}\"}}");
    let (before_text, before) = scrape(&api);
    assert!(before_text.contains("vigie_store_series"), "{before_text}");
    assert!(!before.contains_key(&flow("vigie_flow_datagrams_total")));

    // Three flow export datagrams and one that is not NetFlow at all.
    for i in 0..3u32 {
        exporter
            .send_to(&v9([2, 132, 0, 1], [192, 0, 2, 1], 1000 + i, 4), &listen)
            .unwrap();
    }
    exporter.send_to(b"not a flow export", &listen).unwrap();
    let after = scrape_until(&api, "4 datagrams counted", |m| {
        m.get(&flow("vigie_flow_datagrams_total")) == Some(&4.0)
    });
    assert_eq!(after[&flow("vigie_flow_records_total")], 3.0);
    assert_eq!(after[&flow("vigie_flow_bad_datagrams_total")], 1.0);
    assert_eq!(after[&flow("vigie_flow_template_misses_total")], 0.0);

    // The log's line is from 2025: its bin is long over, so the source
    // closes it once it has read the file, writes it, and the live detector
    // takes it. (It may have done so before the first scrape: the source
    // reads the file as soon as the service starts.) A line from the next
    // day comes after that: late.
    let bins = "vigie_source_bins_total{source=\"example-site\"}";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap()
        .write_all(
            b"2.132.0.9 - - [07/Jan/2025:12:00:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"c\"\n",
        )
        .unwrap();
    let after = scrape_until(&api, "a bin written and detected", |m| {
        m.get(bins).is_some_and(|n| *n >= 1.0)
            && m.get("vigie_detector_bins_total")
                .is_some_and(|n| *n >= 1.0)
    });
    assert!(after["vigie_source_values_total{source=\"example-site\"}"] >= 1.0);
    let log = |name: &str| format!("{name}{{log=\"{}\"}}", log_path.display());
    let after = scrape_until(&api, "the log's two lines counted", |m| {
        m.get(&log("vigie_access_log_lines_total")) == Some(&2.0)
    });
    assert_eq!(after[&log("vigie_access_log_requests_total")], 1.0);
    assert_eq!(after[&log("vigie_access_log_late_lines_total")], 1.0);
    assert_eq!(after[&log("vigie_access_log_bad_lines_total")], 0.0);
    if root {
        let after = scrape_until(&api, "loopback packets seen by the telescope", |m| {
            m.get("vigie_telescope_packets_total")
                .is_some_and(|n| *n > 0.0)
        });
        assert!(after["vigie_telescope_packets_dropped_total{filter=\"outside-darknet\"}"] > 0.0);
    }
    let last_end = after["vigie_source_last_bin_end_timestamp_seconds{source=\"example-site\"}"];
    assert!(
        last_end > 1_736_164_800.0 && last_end <= 1_736_251_200.0,
        "{last_end}"
    );
    assert!(after["vigie_detector_bin_seconds_count"] >= 1.0);
    assert!(after.contains_key("vigie_detector_bin_seconds_bucket{le=\"0.001\"}"));

    // The alert worker's passes (every second): counted even when empty.
    let after = scrape_until(&api, "the alert worker's counters", |m| {
        m.contains_key("vigie_alerts_sent_total")
    });
    for name in [
        "vigie_alerts_enqueued_total",
        "vigie_alerts_sent_total",
        "vigie_alerts_retries_total",
        "vigie_alerts_failed_total",
    ] {
        assert!(after.contains_key(name), "{name}");
    }
    let (text, _) = scrape(&api);
    for help in [
        "# HELP vigie_flow_bad_datagrams_total",
        "# TYPE vigie_flow_datagrams_total counter",
        "# HELP vigie_source_bins_total",
        "# TYPE vigie_detector_bin_seconds histogram",
        "# HELP vigie_alerts_sent_total",
    ] {
        assert!(text.contains(help), "no '{help}' in:\n{text}");
    }

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
}
