//! `vigie serve` detects as the bins close and alerts: a real BGP daemon
//! (gobgpd) peers with the service, withdraws Kazakh prefixes, and a local
//! HTTP receiver gets the webhook's start notice; the service is killed
//! (`kill -9`) and restarted in the middle of the outage; the prefixes come
//! back and the end notice arrives. The open bin's provisional values give
//! a provisional start notice within seconds, the closed bin the confirmed
//! one. Each notice arrives exactly once, and the latencies from the
//! routing change to the webhook are printed.
//!
//! The store holds 12 hours of the country's history (60 s bins) written
//! before the service starts, so detection has its baseline at once; the
//! `[detect]` section shortens the confirmation and exit windows to one
//! bin, as a lab with 60 s bins allows. Takes 3 to 5 minutes (each step
//! waits for a bin to close).
//!
//! An ignored test runs the same lab as a user would: 5-minute bins, the
//! default detection, BGP and alert settings, two days of history; it
//! times the provisional and confirmed start notices (10 to 20 minutes:
//! `cargo test -p vigie --test serve_detect -- --ignored --nocapture`).
//!
//! A third test does it with traffic: a `flows` collector of the service
//! stops receiving a country's flow records, then receives them again.
//!
//! A second test does the same with probing: `vigie probe` runs rounds in
//! `vigie_probe`'s namespace lab into the service's store (bins another
//! process writes, found in the store's write log), the lab's border is cut
//! with nftables and restored.
//!
//! Needs the Debian package gobgpd, and for the probing test root, `ip`
//! and `nft` (scripts/setup.sh installs them); each test skips without
//! them, except under CI=true. `VIGIE_KEEP_LAB=1` keeps the folder
//! (configuration, the service's, gobgpd's and the prober's logs, the store).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_store::Store;

const PREFIXES: [&str; 2] = ["2.132.0.0/14", "95.56.0.0/14"];
const BIN_SECS: i64 = 60;

fn unix_now() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The program at `path`, or `None` (skip) when absent; a failure under CI=true.
fn tool(name: &str, path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{name} missing at {} (CI=true): run scripts/setup.sh",
            path.display()
        );
    }
    eprintln!(
        "SKIP: {name} not installed at {} (apt-get install gobgpd)",
        path.display()
    );
    None
}

/// Kazakh /24s of the prefixes, as the embedded geo data places them.
fn kz_slash24s(prefixes: &[&str]) -> f64 {
    let geo = vigie_geo::GeoDb::embedded();
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

/// One webhook delivery: when it arrived, its notice key and body.
struct Received {
    at: Instant,
    key: String,
    body: serde_json::Value,
}

/// A local HTTP receiver answering 200 to every POST; returns its URL.
fn start_receiver(log: Arc<Mutex<Vec<Received>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = BTreeMap::new();
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                log.lock().unwrap().push(Received {
                    at: Instant::now(),
                    key: headers.get("x-vigie-notice").cloned().unwrap_or_default(),
                    body: serde_json::from_slice(&body).unwrap_or_default(),
                });
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    url
}

/// `vigie serve` with its stderr in `log`.
fn start_serve(config: &Path, data: &Path, log: &Path) -> Child {
    start_serve_for(config, data, log, 900)
}

/// `vigie serve` for `secs` seconds at most, with its stderr in `log`.
fn start_serve_for(config: &Path, data: &Path, log: &Path, secs: u64) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--for-secs", &secs.to_string(), "--config"])
        .arg(config)
        .env("VIGIE_API_TOKEN", "serve-detect-token")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("vigie serve")
}

/// Waits until `log` holds `needle` `count` times.
fn wait_log(log: &Path, needle: &str, count: usize, timeout: Duration) {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches(needle).count() >= count {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "no '{needle}' in the service's log after {timeout:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills a child on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A BGP withdrawal lab: bin width, history, the configuration's sections
/// besides `bin_secs` and the source, and whether the service is killed
/// and restarted during the outage and the end notice awaited.
struct WithdrawalLab {
    /// Bin width, in seconds.
    bin_secs: i64,
    /// Bins of constant history stored before the service starts.
    history_bins: i64,
    /// `[alerts]`, `[bgp]`, `[detect]`: what the lab sets.
    sections: &'static str,
    /// Kill, restart, re-announce and wait for the end notice.
    restart_and_end: bool,
    /// How long the confirmed start notice may take after the withdrawal.
    confirm_timeout: Duration,
}

/// The lab with 60 s bins and one-bin confirmation and exit windows.
#[test]
fn serve_detects_a_withdrawal_and_alerts_once_across_a_restart() {
    withdrawal_lab(&WithdrawalLab {
        bin_secs: BIN_SECS,
        history_bins: 12 * 60,
        sections: "[alerts]\nallow_private = true\ninterval_secs = 1\n\
                   [bgp]\nprovisional_secs = 2\n\
                   [detect]\npoll_secs = 1\nconfirm_windows_secs = [60, 300, 900]\nexit_window_secs = 60\n",
        restart_and_end: true,
        confirm_timeout: Duration::from_secs(150),
    });
}

/// As a user runs it: 5-minute bins and the default `[detect]`, `[bgp]`
/// and alert settings (only private webhook addresses allowed), over two
/// days of history; the provisional and confirmed start notices are timed.
/// Takes 10 to 20 minutes, so it is not part of the suite:
/// `cargo test -p vigie --test serve_detect -- --ignored --nocapture`.
#[test]
#[ignore = "takes 10 to 20 minutes (5-minute bins)"]
fn serve_alerts_a_withdrawal_at_five_minute_bins_with_default_settings() {
    withdrawal_lab(&WithdrawalLab {
        bin_secs: 300,
        history_bins: 2 * 288,
        sections: "[alerts]\nallow_private = true\n",
        restart_and_end: false,
        confirm_timeout: Duration::from_secs(30 * 60),
    });
}

fn withdrawal_lab(lab: &WithdrawalLab) {
    let bin_secs = lab.bin_secs;
    let (Some(gobgpd), Some(gobgp)) = (
        tool("gobgpd", "/usr/bin/gobgpd"),
        tool("gobgp", "/usr/bin/gobgp"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = if std::env::var("VIGIE_KEEP_LAB").as_deref() == Ok("1") {
        dir.keep()
    } else {
        dir.path().to_path_buf()
    };
    let data = root.join("data");
    let serve_log = root.join("serve.log");
    let received: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = start_receiver(Arc::clone(&received));

    // Kazakhstan's BGP visibility at the level the lab gives (12 hours or
    // two days), and the subscription.
    let kz: Entity = "KZ".parse().unwrap();
    let key = SeriesKey {
        entity: kz.clone(),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    let expected = kz_slash24s(&PREFIXES);
    assert!(expected >= 1024.0, "the geo data puts these prefixes in KZ");
    let bin = BinSize::new(bin_secs as u32).unwrap();
    {
        let mut store = Store::open(&data).unwrap();
        let now_bin = bin.floor(unix_now());
        let points: Vec<(UnixSecs, Option<f64>)> = (1..=lab.history_bins)
            .rev()
            .map(|i| (now_bin - i * bin_secs, Some(expected)))
            .collect();
        store.write_points(&key, bin, &points).unwrap();
        vigie_publish::alerts::subscribe(
            &mut store,
            &kz,
            &["start".into(), "restoration".into(), "end".into()],
            &hook,
            "serve-detect-secret-0123456789",
            true,
            unix_now(),
        )
        .unwrap();
    }

    let bgp_port = free_port();
    let config = root.join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "bin_secs = {bin_secs}\n\
             [api]\nlisten = \"127.0.0.1:0\"\n\
             {}\
             [[source]]\nkind = \"bgp-session\"\nlisten = \"127.0.0.1:{bgp_port}\"\nlocal_asn = 64512\n\
             router_id = \"192.0.2.1\"\nhold_time_secs = 9\npeers = [{{ ip = \"127.0.0.2\", asn = 65002 }}]\n",
            lab.sections
        ),
    )
    .unwrap();
    let serve_secs = if lab.restart_and_end { 900 } else { 3600 };
    let mut serve = Killed(start_serve_for(&config, &data, &serve_log, serve_secs));
    wait_log(&serve_log, "detection ready", 1, Duration::from_secs(60));

    // gobgpd, AS65002 on 127.0.0.2, peers with the service.
    let gobgp_conf = format!(
        "[global.config]\n  as = 65002\n  router-id = \"127.0.0.2\"\n  port = -1\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"127.0.0.1\"\n    peer-as = 64512\n\
         \x20 [neighbors.transport.config]\n    local-address = \"127.0.0.2\"\n    remote-port = {bgp_port}\n\
         \x20 [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 9\n    keepalive-interval = 3\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n"
    );
    std::fs::write(root.join("gobgpd.toml"), gobgp_conf).unwrap();
    let socket = root.join("gobgp.sock");
    let api = format!("unix://{}", socket.display());
    let gobgpd_log = std::fs::File::create(root.join("gobgpd.log")).unwrap();
    let _gobgpd = Killed(
        Command::new(&gobgpd)
            .args([
                "-f",
                "gobgpd.toml",
                "--api-hosts",
                &api,
                "--pprof-disable",
                "--log-plain",
            ])
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(gobgpd_log.try_clone().unwrap())
            .stderr(gobgpd_log)
            .spawn()
            .expect("gobgpd"),
    );
    let started = Instant::now();
    while !socket.exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let rib = |verb: &str, prefix: &str| {
        let mut args = vec![
            "--target",
            api.as_str(),
            "global",
            "rib",
            verb,
            "-a",
            "ipv4",
            prefix,
        ];
        if verb == "add" {
            args.extend(["aspath", "9198", "origin", "igp"]);
        }
        let output = Command::new(&gobgp).args(&args).output().unwrap();
        assert!(
            output.status.success(),
            "gobgp {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // The store (provisional values of the open bin included) shows KZ at
    // `value` in the current bin.
    let wait_store = |value: f64, what: &str| {
        let started = Instant::now();
        loop {
            let store = Store::open(&data).unwrap();
            let t = bin.floor(unix_now());
            let range = TimeRange::new(t - bin_secs, t + bin_secs).unwrap();
            let series = store.read_series(&key, bin, range).unwrap();
            if series.values.iter().flatten().any(|v| *v == value) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what}: KZ never at {value}: {:?}\n{}",
                series.values,
                std::fs::read_to_string(&serve_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    for prefix in PREFIXES {
        rib("add", prefix);
    }
    wait_store(expected, "the announcements");
    // A bin closes with the routes (an entity the routing model has seen
    // at a bin's end reads 0 once its routes go; before, it has no data).
    let finals = |text: &str| {
        text.lines()
            .filter(|l| l.contains(" final: ") && !l.contains("final: 0 values"))
            .count()
    };
    let before = finals(&std::fs::read_to_string(&serve_log).unwrap_or_default());
    let started = Instant::now();
    while finals(&std::fs::read_to_string(&serve_log).unwrap_or_default()) == before {
        assert!(
            started.elapsed() < Duration::from_secs(bin_secs as u64 + 30),
            "no bin closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The cut: every prefix withdrawn.
    let cut_at = Instant::now();
    for prefix in PREFIXES {
        rib("del", prefix);
    }
    // A notice of `kind`, provisional or confirmed.
    let notice = |kind: &str, provisional: bool, timeout: Duration| -> Instant {
        let started = Instant::now();
        loop {
            if let Some(r) = received.lock().unwrap().iter().find(|r| {
                r.body["notice"] == kind && (r.body["provisional"] == true) == provisional
            }) {
                return r.at;
            }
            assert!(
                started.elapsed() < timeout,
                "no {kind} notice (provisional: {provisional}) after {timeout:?}:\n{}",
                std::fs::read_to_string(&serve_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The open bin shows the loss within seconds: a provisional notice;
    // the closed bin confirms it.
    let provisional_wait = Duration::from_secs(60.max(bin_secs as u64));
    let provisional_latency = notice("start", true, provisional_wait) - cut_at;
    let start_at = notice("start", false, lab.confirm_timeout);
    let start_latency = start_at - cut_at;
    if !lab.restart_and_end {
        // Passes of the alert worker after the confirmation: nothing more.
        std::thread::sleep(Duration::from_secs(20));
        drop(serve);
        let received = received.lock().unwrap();
        let kinds: Vec<(&str, bool)> = received
            .iter()
            .map(|r| {
                (
                    r.body["notice"].as_str().unwrap_or_default(),
                    r.body["provisional"] == true,
                )
            })
            .collect();
        assert_eq!(kinds, [("start", true), ("start", false)]);
        let line = format!(
            "serve_detect latency: withdrawal to provisional start notice {:.1} s, to confirmed start notice {:.1} s ({bin_secs} s bins, default settings)",
            provisional_latency.as_secs_f64(),
            start_latency.as_secs_f64(),
        );
        println!("{line}");
        eprintln!("{line}");
        return;
    }

    // kill -9 in the middle of the outage, and a restart.
    let _ = serve.0.kill();
    let _ = serve.0.wait();
    serve = Killed(start_serve(&config, &data, &serve_log));
    wait_log(&serve_log, "detection ready", 2, Duration::from_secs(60));

    // The cut lifted.
    let lifted_at = Instant::now();
    for prefix in PREFIXES {
        rib("add", prefix);
    }
    let end_at = notice("end", false, Duration::from_secs(200));
    let end_latency = end_at - lifted_at;
    // Passes of the alert worker after the end: nothing more arrives.
    std::thread::sleep(Duration::from_secs(5));
    drop(serve);

    let received = received.lock().unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in received.iter() {
        *counts.entry(r.key.as_str()).or_default() += 1;
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "a notice was sent twice: {counts:?}"
    );
    let kinds: Vec<&str> = received
        .iter()
        .map(|r| r.body["notice"].as_str().unwrap_or_default())
        .collect();
    // Provisional start, confirmed start, end; nothing withdrawn.
    let provisional: Vec<bool> = received
        .iter()
        .map(|r| r.body["provisional"] == true)
        .collect();
    assert_eq!(kinds, ["start", "start", "end"], "{counts:?}");
    assert_eq!(provisional, [true, false, false], "{counts:?}");
    let line = format!(
        "serve_detect latency: withdrawal to provisional start notice {:.1} s, to confirmed start notice {:.1} s; re-announcement to end notice {:.1} s (60 s bins; restart in between)",
        provisional_latency.as_secs_f64(),
        start_latency.as_secs_f64(),
        end_latency.as_secs_f64()
    );
    println!("{line}");
    eprintln!("{line}");
}

/// The namespace lab of `vigie_probe::lab`, or `None` with a message
/// (a failure under CI=true).
fn probe_lab_or_skip() -> Option<vigie_probe::lab::Lab> {
    use vigie_probe::lab::{unavailable_reason, Lab};
    let reason = match unavailable_reason() {
        None => match Lab::create("d", "198.18.0.0/16".parse().unwrap()) {
            Ok(lab) => return Some(lab),
            Err(e) => format!("cannot build the namespace lab: {e}"),
        },
        Some(reason) => reason,
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the probe lab cannot run: {reason}"
    );
    eprintln!("SKIP: serve_detect probing test: {reason}");
    None
}

/// Bins that another process writes into the store reach `vigie serve`'s
/// detection: `vigie probe` runs rounds in the namespace lab into the same
/// store while the service runs with no source of its own; the lab's
/// border is cut with nftables, then restored. The start and end notices
/// arrive once each; latencies printed. Needs root, `ip` and `nft`.
#[test]
fn serve_detects_a_cut_that_vigie_probe_measures() {
    let Some(lab) = probe_lab_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = if std::env::var("VIGIE_KEEP_LAB").as_deref() == Ok("1") {
        dir.keep()
    } else {
        dir.path().to_path_buf()
    };
    let data = root.join("data");
    let serve_log = root.join("serve.log");
    let received: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = start_receiver(Arc::clone(&received));

    // 32 blocks of the lab, all answering; 12 hours of that count stored.
    const BLOCKS: usize = 32;
    let geo = root.join("geo-country.csv");
    std::fs::write(&geo, "198.18.0.0,198.18.255.255,KZ\n").unwrap();
    let mut hitlist = String::from("# lab hitlist\n");
    for block in 0..BLOCKS {
        for host in [1, 50, 100, 200] {
            hitlist.push_str(&format!("198.18.{block}.{host} 0.9\n"));
        }
    }
    let hits = root.join("hits.txt");
    std::fs::write(&hits, &hitlist).unwrap();
    let kz: Entity = "KZ".parse().unwrap();
    let key = SeriesKey {
        entity: kz.clone(),
        signal: SignalKind::ProbeUpSlash24s,
    };
    let bin = BinSize::new(BIN_SECS as u32).unwrap();
    {
        let mut store = Store::open(&data).unwrap();
        let now_bin = bin.floor(unix_now());
        let points: Vec<(UnixSecs, Option<f64>)> = (1..=12 * 60)
            .rev()
            .map(|i| (now_bin - i * BIN_SECS, Some(BLOCKS as f64)))
            .collect();
        store.write_points(&key, bin, &points).unwrap();
        vigie_publish::alerts::subscribe(
            &mut store,
            &kz,
            &["start".into(), "end".into()],
            &hook,
            "serve-detect-secret-0123456789",
            true,
            unix_now(),
        )
        .unwrap();
    }
    let config = root.join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "bin_secs = {BIN_SECS}\n\
             [api]\nlisten = \"127.0.0.1:0\"\n\
             [alerts]\nallow_private = true\ninterval_secs = 1\n\
             [detect]\npoll_secs = 1\nconfirm_windows_secs = [60, 300, 900]\nexit_window_secs = 60\n"
        ),
    )
    .unwrap();
    let _serve = Killed(start_serve(&config, &data, &serve_log));
    wait_log(&serve_log, "detection ready", 1, Duration::from_secs(60));

    // vigie probe in the lab's vantage namespace, a round every 5 s.
    let probe_log = std::fs::File::create(root.join("probe.log")).unwrap();
    let _probe = Killed(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.vantage_ns,
                env!("CARGO_BIN_EXE_vigie"),
            ])
            .arg("--data-dir")
            .arg(&data)
            .args(["probe", "--targets"])
            .arg(&hits)
            .args([
                "--bin-secs",
                "60",
                "--rate",
                "500",
                "--round-secs",
                "5",
                "--timeout-ms",
                "300",
                "--min-responsive",
                "4",
                "--allow-private",
                "--vantage",
                "lab",
                "--geo",
            ])
            .arg(&geo)
            .stdin(Stdio::null())
            .stdout(probe_log.try_clone().unwrap())
            .stderr(probe_log)
            .spawn()
            .expect("vigie probe"),
    );
    let started = Instant::now();
    loop {
        let store = Store::open(&data).unwrap();
        if store.last_committed_bin("probe").unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "vigie probe wrote nothing:\n{}",
            std::fs::read_to_string(root.join("probe.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let notice = |kind: &str, timeout: Duration| -> Instant {
        let started = Instant::now();
        loop {
            if let Some(r) = received
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.body["notice"] == kind)
            {
                return r.at;
            }
            assert!(
                started.elapsed() < timeout,
                "no {kind} notice after {timeout:?}:\n{}\n--- probe\n{}",
                std::fs::read_to_string(&serve_log).unwrap_or_default(),
                std::fs::read_to_string(root.join("probe.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let cut_at = Instant::now();
    lab.cut_border().unwrap();
    let start_latency = notice("start", Duration::from_secs(150)) - cut_at;
    let lifted_at = Instant::now();
    lab.restore_border().unwrap();
    let end_latency = notice("end", Duration::from_secs(200)) - lifted_at;
    std::thread::sleep(Duration::from_secs(5));

    let received = received.lock().unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in received.iter() {
        *counts.entry(r.key.as_str()).or_default() += 1;
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "a notice was sent twice: {counts:?}"
    );
    let kinds: Vec<&str> = received
        .iter()
        .map(|r| r.body["notice"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["start", "end"]);
    println!(
        "serve_detect probing latency: border cut to start notice {:.1} s, border restored to end notice {:.1} s (60 s bins, 5 s rounds)",
        start_latency.as_secs_f64(),
        end_latency.as_secs_f64()
    );
    eprintln!(
        "serve_detect probing latency: border cut to start notice {:.1} s, border restored to end notice {:.1} s",
        start_latency.as_secs_f64(),
        end_latency.as_secs_f64()
    );
}

/// A NetFlow v9 datagram (template and one record: source, destination,
/// bytes, packets), as `tests/cli_traffic.rs` sends them.
fn v9(seq: u32, src: [u8; 4], dst: [u8; 4], bytes: u32, packets: u32) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [9u16, 2] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    for v in [1000u32, 1_700_000_000, seq, 0] {
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

/// Traffic: `vigie serve` runs a `flows` collector; an exporter sends a
/// record a second from a Kazakh and a US address, then stops sending the
/// Kazakh one (the country reads 0: it was seen, the collector still
/// closes bins), then sends it again. The start and end notices arrive
/// once each; latencies printed. Needs nothing but loopback.
#[test]
fn serve_detects_a_country_gone_from_the_flows() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const BYTES: u32 = 4000;
    let dir = tempfile::tempdir().unwrap();
    let root = if std::env::var("VIGIE_KEEP_LAB").as_deref() == Ok("1") {
        dir.keep()
    } else {
        dir.path().to_path_buf()
    };
    let data = root.join("data");
    let serve_log = root.join("serve.log");
    let received: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
    let hook = start_receiver(Arc::clone(&received));
    let kz: Entity = "KZ".parse().unwrap();
    let key = SeriesKey {
        entity: kz.clone(),
        signal: SignalKind::FlowBytesFrom,
    };
    let bin = BinSize::new(BIN_SECS as u32).unwrap();
    // 12 hours at the exporter's rate, up to the end of the next bin: the
    // partial bin the collector starts in is not taken (the detector has
    // that bin already).
    {
        let mut store = Store::open(&data).unwrap();
        let next_bin = bin.floor(unix_now()) + BIN_SECS;
        let points: Vec<(UnixSecs, Option<f64>)> = (0..12 * 60)
            .rev()
            .map(|i| (next_bin - i * BIN_SECS, Some(60.0 * f64::from(BYTES))))
            .collect();
        store.write_points(&key, bin, &points).unwrap();
        vigie_publish::alerts::subscribe(
            &mut store,
            &kz,
            &["start".into(), "end".into()],
            &hook,
            "serve-detect-secret-0123456789",
            true,
            unix_now(),
        )
        .unwrap();
    }
    let listen = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let config = root.join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "bin_secs = {BIN_SECS}\n\
             [api]\nlisten = \"127.0.0.1:0\"\n\
             [alerts]\nallow_private = true\ninterval_secs = 1\n\
             [detect]\npoll_secs = 1\nconfirm_windows_secs = [60, 300, 900]\nexit_window_secs = 60\n\
             [[source]]\nkind = \"flows\"\nlisten = [\"{listen}\"]\nown_prefixes = [\"192.0.2.0/24\"]\ngrace_secs = 2\n"
        ),
    )
    .unwrap();
    let _serve = Killed(start_serve(&config, &data, &serve_log));
    wait_log(
        &serve_log,
        "flow collector on udp",
        1,
        Duration::from_secs(60),
    );
    wait_log(&serve_log, "detection ready", 1, Duration::from_secs(60));

    // The exporter: a datagram a second for each address, on a schedule.
    let send_kz = Arc::new(AtomicBool::new(true));
    let sending = Arc::clone(&send_kz);
    std::thread::spawn(move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        for second in 0u32.. {
            if sending.load(Ordering::Relaxed) {
                let _ = socket.send_to(
                    &v9(2 * second, [2, 132, 0, 1], [192, 0, 2, 1], BYTES, 4),
                    listen,
                );
            }
            let _ = socket.send_to(
                &v9(2 * second + 1, [8, 8, 8, 8], [192, 0, 2, 1], BYTES, 4),
                listen,
            );
            let next = Duration::from_secs(u64::from(second) + 1);
            std::thread::sleep(next.saturating_sub(started.elapsed()));
        }
    });
    // A whole bin of traffic after the history, then the country goes.
    let first_full = bin.floor(unix_now()) + BIN_SECS;
    while unix_now() < first_full + BIN_SECS + 3 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let notice = |kind: &str, timeout: Duration| -> Instant {
        let started = Instant::now();
        loop {
            if let Some(r) = received
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.body["notice"] == kind)
            {
                return r.at;
            }
            assert!(
                started.elapsed() < timeout,
                "no {kind} notice after {timeout:?}:\n{}",
                std::fs::read_to_string(&serve_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(
        received.lock().unwrap().is_empty(),
        "a notice before the cut"
    );
    let cut_at = Instant::now();
    send_kz.store(false, Ordering::Relaxed);
    let start_latency = notice("start", Duration::from_secs(150)) - cut_at;
    let lifted_at = Instant::now();
    send_kz.store(true, Ordering::Relaxed);
    let end_latency = notice("end", Duration::from_secs(200)) - lifted_at;
    std::thread::sleep(Duration::from_secs(5));

    let received = received.lock().unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in received.iter() {
        *counts.entry(r.key.as_str()).or_default() += 1;
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "a notice was sent twice: {counts:?}"
    );
    let kinds: Vec<&str> = received
        .iter()
        .map(|r| r.body["notice"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["start", "end"], "{counts:?}");
    let line = format!(
        "serve_detect traffic latency: flows stopped to start notice {:.1} s, flows back to end notice {:.1} s (60 s bins, grace 2 s)",
        start_latency.as_secs_f64(),
        end_latency.as_secs_f64()
    );
    println!("{line}");
    eprintln!("{line}");
}
