//! `vigie ingest access-log`, `vigie ingest pcap` and `vigie collect flows`
//! end to end: input in, series read back with `vigie series`.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn vigie(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run vigie")
}

fn series_csv(data: &Path, entity: &str, signal: &str) -> String {
    let out = vigie(
        data,
        &["series", entity, "--signal", signal, "--format", "csv"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn access_log_from_stdin_and_gz_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    // 2025-01-06T12:00:00Z bin: KZ 3 requests from 2 /24s; one bad line.
    let log = "\
2.132.0.1 - - [06/Jan/2025:17:00:01 +0500] \"GET / HTTP/1.1\" 200 10 \"-\" \"a\"
2.132.0.9 - - [06/Jan/2025:17:01:00 +0500] \"GET /x HTTP/1.1\" 404 0 \"-\" \"b\"
not a log line
2.132.5.1 - - [06/Jan/2025:12:02:00 +0000] \"POST /y HTTP/2.0\" 201 5 \"-\" \"c\"
";
    let path = dir.path().join("access.log.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut gz, log.as_bytes()).unwrap();
    gz.finish().unwrap();
    let out = vigie(&data, &["ingest", "access-log", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a bad line gives exit code 3: {stderr}"
    );
    assert!(
        stderr.contains(":3: the first field is not a client IP address"),
        "{stderr}"
    );
    let csv = series_csv(&data, "KZ", "http-requests");
    assert!(
        csv.contains("2025-01-06T12:00:00Z") && csv.trim_end().ends_with(",3"),
        "{csv}"
    );
    let csv = series_csv(&data, "KZ", "http-client-slash24s");
    assert!(csv.trim_end().ends_with(",2"), "{csv}");

    // The same lines on stdin, into another source: the same counts.
    let data2 = dir.path().join("store2");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(&data2)
        .args(["ingest", "access-log", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), log.as_bytes()).unwrap();
    drop(child.stdin.take());
    child.wait().unwrap();
    let csv = series_csv(&data2, "KZ", "http-requests");
    assert!(csv.trim_end().ends_with(",3"), "{csv}");
}

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

/// A loopback UDP address nothing listens on.
fn free_udp_address() -> String {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Runs `vigie collect flows` for three seconds on a free local port with
/// `extra` flags, sends it `datagrams` from 127.0.0.1 once it listens, and
/// returns its output.
fn collect_flows(data: &Path, extra: &[&str], datagrams: &[Vec<u8>]) -> Output {
    let listen = free_udp_address();
    let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data)
        .args([
            "collect",
            "flows",
            "--listen",
            &listen,
            "--duration-secs",
            "3",
        ])
        .args(["--own-prefix", "192.0.2.0/24"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in datagrams {
        sender.send_to(datagram, &listen).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn collect_flows_writes_series_and_reports_health() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let flows = v9([2, 132, 0, 1], [192, 0, 2, 1], 4000, 4);
    let out = collect_flows(&data, &[], &[flows, b"not netflow".to_vec()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a garbage datagram gives exit code 3: {stderr}"
    );
    assert!(stderr.contains("1 decode errors"), "{stderr}");
    let csv = series_csv(&data, "KZ", "flow-bytes-from");
    assert!(csv.trim_end().ends_with(",4000"), "{csv}");
}

#[test]
fn collect_flows_refuses_exporters_outside_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    // From 127.0.0.1, outside the allow-list: refused, counted, not stored.
    let flows = v9([2, 132, 0, 1], [192, 0, 2, 1], 4000, 4);
    let out = collect_flows(&data, &["--allow-exporter", "10.0.0.0/8"], &[flows]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("limits: 1 datagrams refused (exporter not allowed)"),
        "{stderr}"
    );
    let entities = vigie(&data, &["entities"]);
    let listed = String::from_utf8_lossy(&entities.stdout);
    assert!(
        !listed.contains("KZ"),
        "nothing from a refused exporter is stored: {listed}"
    );
}

#[test]
fn ingest_pcap_of_flow_exports() {
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/flows/netflow__nfv5.pcap"
    ));
    if !file.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("shared data missing: {}", file.display());
        }
        eprintln!("SKIP: {} not found", file.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let out = vigie(
        &data,
        &["ingest", "pcap", "--mode", "flows", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // All 29 records go to 202.152.70.24 … in Brunei (BN): 88,345 bytes, 78 packets
    // (tshark's sums of the capture).
    let csv = series_csv(&data, "BN", "flow-bytes-to");
    assert!(csv.trim_end().ends_with(",88345"), "{csv}");
    let csv = series_csv(&data, "BN", "flow-packets-to");
    assert!(csv.trim_end().ends_with(",78"), "{csv}");
}

/// `vigie serve --config` with only traffic sources: a `flows` UDP
/// collector and a followed `access-log` file write the same series
/// as `vigie collect flows` and `vigie ingest access-log`.
#[test]
fn serve_config_runs_the_flow_collector_and_follows_access_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let listen = free_udp_address();
    let log_path = dir.path().join("access.log");
    std::fs::write(
        &log_path,
        "2.132.0.1 - - [06/Jan/2025:17:00:01 +0500] \"GET / HTTP/1.1\" 200 10 \"-\" \"a\"\n\
         2.132.7.1 - - [06/Jan/2025:12:01:00 +0000] \"GET /x HTTP/1.1\" 200 10 \"-\" \"b\"\n",
    )
    .unwrap();
    let mut config = format!(
        "[[source]]\nkind = \"flows\"\nlisten = [\"{listen}\"]\nown_prefixes = [\"192.0.2.0/24\"]\n\
         [[source]]\nkind = \"access-log\"\npath = \"{}\"\nsource = \"example-site\"\nfrom_start = true\n",
        log_path.display()
    );
    // The live telescope needs CAP_NET_RAW: with root (as in CI), capture
    // the loopback interface too (what it counts is tested in vigie-traffic).
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
        .args(["serve", "--for-secs", "600", "--config"])
        .arg(&config_path)
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains("flow collector on udp")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the collector never started: {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "vigie serve ended early: {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender
        .send_to(&v9([2, 132, 0, 1], [192, 0, 2, 1], 4000, 4), &listen)
        .unwrap();
    // The datagram is in the socket's buffer; the collector thread reads it
    // at once, so a short wait before the stop is plenty.
    std::thread::sleep(Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("following"), "{stderr}");
    if root {
        assert!(stderr.contains("telescope capturing on lo"), "{stderr}");
    }
    let csv = series_csv(&data, "KZ", "flow-bytes-from");
    assert!(csv.trim_end().ends_with(",4000"), "{csv}");
    let csv = series_csv(&data, "KZ", "http-requests");
    assert!(
        csv.contains("2025-01-06T12:00:00Z") && csv.trim_end().ends_with(",2"),
        "{csv}"
    );
    let csv = series_csv(&data, "KZ", "http-client-slash24s");
    assert!(csv.trim_end().ends_with(",2"), "{csv}");
}

/// `vigie collect telescope` explains what to do when the interface does
/// not exist or the process lacks CAP_NET_RAW (the capture itself is
/// tested against tcpdump in vigie-traffic's e2e_netns test).
#[test]
fn collect_telescope_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = vigie(
        dir.path(),
        &[
            "collect",
            "telescope",
            "--interface",
            "nosuch0",
            "--duration-secs",
            "1",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no network interface named \"nosuch0\"; list them with `ip link`"),
        "{stderr}"
    );

    // Every capability dropped (as an unprivileged user has none).
    let out = Command::new("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "collect",
            "telescope",
            "--interface",
            "lo",
            "--duration-secs",
            "1",
        ])
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs CAP_NET_RAW"), "{stderr}");
    assert!(stderr.contains("setcap cap_net_raw+ep"), "{stderr}");
}
