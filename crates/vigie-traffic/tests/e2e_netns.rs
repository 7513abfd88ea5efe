//! End to end with real exporters, in network namespaces (needs root).
//!
//! A source namespace holds addresses of known countries (2.132.0.1 and
//! 2.132.0.2 in KZ, 8.8.8.8 in the US) and sends UDP datagrams of known
//! sizes to 192.0.2.0/24 in a destination namespace, where tcpdump captures
//! them. The capture is then:
//! - replayed by `softflowd -r` as NetFlow v5, v9 and IPFIX, and by
//!   `pmacctd` as sFlow, to vigie's UDP collector: the per-country bytes
//!   and packets must be exactly what was sent;
//! - read by vigie's telescope, 192.0.2.0/24 being the darknet: exactly
//!   two KZ sources and one US source; vigie's live AF_PACKET capture on
//!   the same interface, running beside tcpdump, counts the same.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use vigie_geo::GeoDb;
use vigie_model::{BinSize, CountryCode, Entity, SignalBin, SignalKind};
use vigie_traffic::capture::read_capture;
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::pipeline::FlowPipeline;
use vigie_traffic::live_capture::{run_live_telescope, LiveCapture};
use vigie_traffic::telescope::Telescope;

const TOOLS: [&str; 5] = ["ip", "tcpdump", "softflowd", "softflowctl", "pmacctd"];

/// (source address, datagrams, UDP payload bytes, destination).
const PLAN: [(&str, u32, u32, &str); 3] = [
    ("2.132.0.1", 5, 100, "192.0.2.10"),
    ("2.132.0.2", 3, 200, "192.0.2.11"),
    ("8.8.8.8", 4, 300, "192.0.2.12"),
];

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(status.success(), "{args:?} failed");
}

/// Two namespaces joined by a veth pair, removed on drop.
struct Lab {
    src: String,
    dst: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.src, &self.dst] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id();
        let lab = Lab {
            src: format!("vtsrc{id}"),
            dst: format!("vtdst{id}"),
        };
        let (a, b) = (format!("vta{id}"), format!("vtb{id}"));
        run(&["ip", "netns", "add", &lab.src]);
        run(&["ip", "netns", "add", &lab.dst]);
        // Fixed MAC addresses and permanent neighbours: no ARP, so no
        // datagram waits (or is dropped) while a neighbour is resolved.
        let (mac_a, mac_b) = ("02:76:69:67:00:0a", "02:76:69:67:00:0b");
        run(&[
            "ip", "link", "add", &a, "address", mac_a, "type", "veth", "peer", "name", &b,
            "address", mac_b,
        ]);
        run(&["ip", "link", "set", &a, "netns", &lab.src]);
        run(&["ip", "link", "set", &b, "netns", &lab.dst]);
        for (ns, dev) in [(&lab.src, &a), (&lab.dst, &b)] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        run(&[
            "ip",
            "-n",
            &lab.dst,
            "addr",
            "add",
            "192.0.2.10/24",
            "dev",
            &b,
        ]);
        run(&[
            "ip",
            "-n",
            &lab.dst,
            "addr",
            "add",
            "192.0.2.11/24",
            "dev",
            &b,
        ]);
        run(&[
            "ip",
            "-n",
            &lab.dst,
            "addr",
            "add",
            "192.0.2.12/24",
            "dev",
            &b,
        ]);
        // No route back from the destination: it cannot answer "port
        // unreachable", which would make the sender's next write fail.
        for key in ["all", "default"] {
            run(&[
                "ip",
                "netns",
                "exec",
                &lab.dst,
                "sysctl",
                "-qw",
                &format!("net.ipv4.conf.{key}.rp_filter=0"),
            ]);
        }
        for (src, _, _, dst) in PLAN {
            run(&[
                "ip",
                "-n",
                &lab.src,
                "addr",
                "add",
                &format!("{src}/32"),
                "dev",
                &a,
            ]);
            // One destination per source address, so the kernel picks that source.
            run(&[
                "ip",
                "-n",
                &lab.src,
                "route",
                "add",
                &format!("{dst}/32"),
                "dev",
                &a,
                "src",
                src,
            ]);
            run(&[
                "ip",
                "-n",
                &lab.src,
                "neigh",
                "add",
                dst,
                "lladdr",
                mac_b,
                "nud",
                "permanent",
                "dev",
                &a,
            ]);
        }
        lab
    }

    /// Captures what arrives in the destination namespace while the plan is
    /// sent: with tcpdump into `pcap`, and live with vigie's AF_PACKET
    /// capture into a telescope (192.0.2.0/24 dark), whose bins it returns.
    fn capture(&self, pcap: &Path) -> Vec<SignalBin> {
        let dev = format!("vtb{}", std::process::id());
        let stop_live = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let live = {
            let (stop, dev, ns) = (stop_live.clone(), dev.clone(), self.dst.clone());
            std::thread::spawn(move || {
                // This thread joins the destination namespace; the socket
                // it opens stays there.
                let ns_file = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
                let joined = unsafe {
                    libc::setns(
                        std::os::fd::AsRawFd::as_raw_fd(&ns_file),
                        libc::CLONE_NEWNET,
                    )
                };
                assert_eq!(joined, 0, "setns: {}", std::io::Error::last_os_error());
                let mut capture = LiveCapture::open(&dev, Duration::from_millis(100)).unwrap();
                ready_tx.send(()).unwrap();
                let mut telescope = Telescope::new(
                    GeoDb::embedded(),
                    BinSize::FIVE_MINUTES,
                    vec!["192.0.2.0/24".parse().unwrap()],
                );
                let mut bins = Vec::new();
                run_live_telescope(&mut capture, &mut telescope, 60, &stop, None, &mut bins)
                    .unwrap();
                bins
            })
        };
        ready_rx.recv().unwrap();
        let mut tcpdump = Command::new("ip")
            .args([
                "netns", "exec", &self.dst, "tcpdump", "-i", &dev, "-U", "-w",
            ])
            .arg(pcap)
            .arg("udp and dst net 192.0.2.0/24")
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump");
        std::thread::sleep(Duration::from_millis(1500));
        let mut script = String::new();
        for (_, count, size, dst) in PLAN {
            script += &format!(
                "exec 3>/dev/udp/{dst}/9999; for i in $(seq {count}); do printf '%0{size}d' 0 >&3; done; exec 3>&-; "
            );
        }
        run(&["ip", "netns", "exec", &self.src, "bash", "-c", &script]);
        std::thread::sleep(Duration::from_millis(1000));
        let _ = Command::new("kill")
            .args(["-INT", &tcpdump.id().to_string()])
            .status();
        let _ = tcpdump.wait();
        stop_live.store(true, Ordering::Relaxed);
        live.join().unwrap()
    }
}

fn country(code: &str) -> Entity {
    Entity::Country(CountryCode::new(code).unwrap())
}

fn expected(country_prefix: &str) -> (f64, f64) {
    PLAN.iter()
        .filter(|(src, ..)| src.starts_with(country_prefix))
        .fold((0.0, 0.0), |(bytes, packets), (_, n, size, _)| {
            // IPv4 header 20 + UDP header 8.
            (bytes + f64::from(n * (size + 28)), packets + f64::from(*n))
        })
}

/// Runs the collector while `export` sends to it; returns the closed bins.
fn collect(export: impl FnOnce(SocketAddr)) -> Vec<SignalBin> {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut pipeline = FlowPipeline::new(
                GeoDb::embedded(),
                BinSize::FIVE_MINUTES,
                vec!["192.0.2.0/24".parse().unwrap()],
            );
            let config = CollectorConfig {
                listen: vec!["127.0.0.1:0".parse().unwrap()],
                grace_secs: 60,
                run_for: Some(Duration::from_secs(30)),
                limits: Default::default(),
            };
            let mut bins = Vec::new();
            run_collector(
                &config,
                &mut pipeline,
                stop,
                |addrs| tx.send(addrs[0]).unwrap(),
                &mut bins,
                |_| {},
            )
            .unwrap();
            (pipeline, bins)
        })
    };
    let addr = rx.recv().unwrap();
    export(addr);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (pipeline, bins) = collector.join().unwrap();
    for (exporter, h) in pipeline.health() {
        assert_eq!(h.decode_errors, 0, "{exporter}: {h:?}");
        assert_eq!(h.bad_sampling_rates, 0, "{exporter}: {h:?}");
    }
    bins
}

fn sum(bins: &[SignalBin], entity: &Entity, signal: SignalKind) -> f64 {
    bins.iter().filter_map(|b| b.value(entity, signal)).sum()
}

fn check_counts(what: &str, bins: &[SignalBin]) {
    for (code, prefix) in [("KZ", "2.132."), ("US", "8.8.")] {
        let (bytes, packets) = expected(prefix);
        let entity = country(code);
        assert_eq!(
            sum(bins, &entity, SignalKind::FlowBytesFrom),
            bytes,
            "{what} {code} bytes"
        );
        assert_eq!(
            sum(bins, &entity, SignalKind::FlowPacketsFrom),
            packets,
            "{what} {code} packets"
        );
        // Nothing goes to the far end in this capture.
        assert_eq!(
            sum(bins, &entity, SignalKind::FlowBytesTo),
            0.0,
            "{what} {code}"
        );
    }
}

fn softflowd_export(pcap: &Path, dir: &Path, version: &str, to: SocketAddr) {
    let ctl = dir.join(format!("softflowd-{version}.ctl"));
    let mut softflowd = Command::new("softflowd")
        .arg("-r")
        .arg(pcap)
        .args(["-n", &to.to_string(), "-v", version, "-d", "-p"])
        .arg(dir.join(format!("softflowd-{version}.pid")))
        .arg("-c")
        .arg(&ctl)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("softflowd");
    // softflowd 1.1 reads a capture file only when its loop wakes up (a
    // control command), and exports the flows when it shuts down.
    for command in ["statistics", "shutdown"] {
        std::thread::sleep(Duration::from_millis(1000));
        let _ = Command::new("softflowctl")
            .arg("-c")
            .arg(&ctl)
            .arg(command)
            .stdout(Stdio::null())
            .status();
    }
    // It exports and exits on "shutdown"; killed if still there after 30 s.
    for _ in 0..300 {
        if softflowd.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = softflowd.kill();
    let _ = softflowd.wait();
}

fn pmacctd_export(pcap: &Path, dir: &Path, to: SocketAddr) {
    let conf = dir.join("pmacctd.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\npcap_savefile: {}\nplugins: sfprobe\nsfprobe_receiver: {to}\nsfprobe_agentip: 127.0.0.1\n",
            pcap.display()
        ),
    )
    .unwrap();
    let mut pmacctd = Command::new("pmacctd")
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pmacctd");
    // It sleeps 2 s before reading a capture file, exports, and exits by
    // itself (about 4 s in all); killed if it is still there after 30 s.
    for _ in 0..300 {
        if pmacctd.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = pmacctd.kill();
    let _ = pmacctd.wait();
}

#[test]
fn real_exporters_and_telescope_match_what_was_sent() {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        if ci() {
            panic!("missing tools {missing:?}: run scripts/setup.sh");
        }
        eprintln!("SKIP: missing tools {missing:?} (scripts/setup.sh installs them)");
        return;
    }
    if !is_root() {
        eprintln!("SKIP: network namespaces need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap: PathBuf = dir.path().join("sent.pcap");
    let live_bins = {
        let lab = Lab::new();
        lab.capture(&pcap)
    };
    // The live capture saw the same sources as the file.
    assert_eq!(
        sum(
            &live_bins,
            &country("KZ"),
            SignalKind::TelescopeUniqueSources
        ),
        2.0,
        "live capture"
    );
    assert_eq!(
        sum(
            &live_bins,
            &country("US"),
            SignalKind::TelescopeUniqueSources
        ),
        1.0,
        "live capture"
    );

    // Telescope: 192.0.2.0/24 is dark.
    let mut telescope = Telescope::new(
        GeoDb::embedded(),
        BinSize::FIVE_MINUTES,
        vec!["192.0.2.0/24".parse().unwrap()],
    );
    let summary = read_capture(&pcap, |f| {
        telescope.add_frame(f.timestamp_secs, f.link, &f.data)
    })
    .unwrap();
    let sent: u32 = PLAN.iter().map(|p| p.1).sum();
    assert_eq!(
        summary.frames,
        u64::from(sent),
        "tcpdump captured every datagram"
    );
    let bins = telescope.close_all();
    assert_eq!(
        sum(&bins, &country("KZ"), SignalKind::TelescopeUniqueSources),
        2.0
    );
    assert_eq!(
        sum(&bins, &country("US"), SignalKind::TelescopeUniqueSources),
        1.0
    );

    for version in ["5", "9", "10"] {
        let bins = collect(|to| softflowd_export(&pcap, dir.path(), version, to));
        check_counts(&format!("softflowd -v {version}"), &bins);
        assert_eq!(
            sum(&bins, &country("KZ"), SignalKind::FlowsFrom),
            2.0,
            "v{version}"
        );
        assert_eq!(
            sum(&bins, &country("US"), SignalKind::FlowsFrom),
            1.0,
            "v{version}"
        );
    }
    let bins = collect(|to| pmacctd_export(&pcap, dir.path(), to));
    check_counts("pmacctd sFlow", &bins);
}
