//! A probing cut detected through the bus, with real packets, a real
//! `nats-server -js` and a real PostgreSQL server (features `nats` and
//! `postgres`; root, `ip` and `nft` for the namespaces):
//!
//! ```text
//!  [vp1 netns] ──veth──┐                       root namespace:
//!  [vp2 netns] ──veth──┤ [country netns]        nats-server (on the vantage points' links)
//!     │ vigie probe    │  198.18.0.0/22 answers  vigie bus quorum --to-bus (killed, restarted)
//!     │ --publish      │  nft "border": the cut  vigie bus store → PostgreSQL
//!     └── veth to the root namespace (the bus)   vigie bus detect --share 1/2, 2/2
//!                                                vigie serve (API, no detector)
//! ```
//!
//! The store first holds eight hours of KZ's `ping-slash24` at one-minute
//! bins, imported with `vigie import csv` as a newcomer would. Two vantage
//! points in their own namespaces probe the country's four blocks and
//! publish their states; the quorum combines them and publishes
//! `ping-slash24` bins on the bus, killed with SIGKILL after its first bin
//! and started again at once; the store writer writes the bins and the
//! worker that owns KZ, warmed up from the stored history at its first bus
//! bin, then killed with SIGKILL and started again from its checkpoint,
//! detects the border cut with nftables. Checked: the incident is in the
//! store and the API; every bin the quorums combined is stored with the
//! value they printed, none missing; the bin combined again after the
//! restart is held once on the bus; the restarted worker read nothing
//! from the store again. About a minute and a half: one-minute
//! bins are the shortest `vigie probe` takes, and the incident comes one
//! or two bins after the cut.
//!
//! `cargo test -p vigie --features nats,postgres --test bus_probe_lab`
#![cfg(all(feature = "nats", feature = "postgres"))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_pipeline::Share;
use vigie_probe::lab::{run, unavailable_reason};
use vigie_store::{ResultFilter, Store};

#[path = "support/listening.rs"]
mod listening;

const BIN_SECS: i64 = 60;
/// The country's blocks, answering in the country's namespace.
const BLOCKS: usize = 4;
/// Where the bus listens: the root namespace's end of vp1's link.
const BUS_ADDR: &str = "198.19.254.1";

fn now() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The namespaces and links of the lab; removed when dropped (the nft
/// table lives in the country's namespace and goes with it).
struct BusLab {
    country: String,
    vantages: [String; 2],
    root_links: [String; 2],
}

impl BusLab {
    fn create() -> Result<BusLab, String> {
        let id = std::process::id() % 100_000;
        let lab = BusLab {
            country: format!("vbc{id}"),
            vantages: [format!("vb1v{id}"), format!("vb2v{id}")],
            root_links: [format!("vb1h{id}"), format!("vb2h{id}")],
        };
        lab.remove();
        lab.build(id).inspect_err(|_| lab.remove())?;
        Ok(lab)
    }

    fn build(&self, id: u32) -> Result<(), String> {
        let c = self.country.as_str();
        run(&["ip", "netns", "add", c])?;
        run(&["ip", "-n", c, "link", "set", "lo", "up"])?;
        for (k, v) in self.vantages.iter().enumerate() {
            let v = v.as_str();
            // The vantage point's link to the country: 100.64.0.(4k+1)/30.
            let (vlink, clink) = (format!("vb{k}c{id}"), format!("vc{k}c{id}"));
            let (vaddr, caddr) = (
                format!("100.64.0.{}", 4 * k + 1),
                format!("100.64.0.{}", 4 * k + 2),
            );
            // Its link to the root namespace, where the bus is: 198.19.254.(4k+1)/30.
            let (root, rlink) = (self.root_links[k].as_str(), format!("vb{k}r{id}"));
            let (hostaddr, raddr) = (
                format!("198.19.254.{}", 4 * k + 1),
                format!("198.19.254.{}", 4 * k + 2),
            );
            run(&["ip", "netns", "add", v])?;
            for step in [
                vec!["ip", "-n", v, "link", "set", "lo", "up"],
                vec![
                    "ip", "link", "add", &vlink, "netns", v, "type", "veth", "peer", "name",
                    &clink, "netns", c,
                ],
                vec![
                    "ip",
                    "-n",
                    v,
                    "addr",
                    "add",
                    &format!("{vaddr}/30"),
                    "dev",
                    &vlink,
                ],
                vec![
                    "ip",
                    "-n",
                    c,
                    "addr",
                    "add",
                    &format!("{caddr}/30"),
                    "dev",
                    &clink,
                ],
                vec!["ip", "-n", v, "link", "set", &vlink, "up"],
                vec!["ip", "-n", c, "link", "set", &clink, "up"],
                vec!["ip", "-n", v, "route", "add", "default", "via", &caddr],
                vec![
                    "ip", "link", "add", root, "type", "veth", "peer", "name", &rlink, "netns", v,
                ],
                vec!["ip", "addr", "add", &format!("{hostaddr}/30"), "dev", root],
                vec![
                    "ip",
                    "-n",
                    v,
                    "addr",
                    "add",
                    &format!("{raddr}/30"),
                    "dev",
                    &rlink,
                ],
                vec!["ip", "link", "set", root, "up"],
                vec!["ip", "-n", v, "link", "set", &rlink, "up"],
            ] {
                run(&step)?;
            }
            if hostaddr != BUS_ADDR {
                let bus = format!("{BUS_ADDR}/32");
                run(&["ip", "-n", v, "route", "add", &bus, "via", &hostaddr])?;
            }
        }
        run(&[
            "ip",
            "-n",
            c,
            "route",
            "add",
            "local",
            "198.18.0.0/22",
            "dev",
            "lo",
        ])?;
        self.nft("table ip border {\n  chain pre { type filter hook prerouting priority -300; policy accept; }\n}\n")
    }

    fn nft(&self, rules: &str) -> Result<(), String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.country, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .map_err(|e| e.to_string())?;
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(())
    }

    /// Drops every probe of both vantage points at the country's border.
    fn cut_border(&self) {
        self.nft("add rule ip border pre ip saddr 100.64.0.0/24 drop\n")
            .unwrap();
    }

    fn remove(&self) {
        for link in &self.root_links {
            let _ = run(&["ip", "link", "del", link]);
        }
        for ns in self.vantages.iter().chain([&self.country]) {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

impl Drop for BusLab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A child killed (SIGKILL) and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `nats-server -js` listening on the lab's bus address.
fn start_nats(dir: &Path) -> Option<(Killed, String)> {
    let binary = vigie_bus::testing::nats_server_binary()?;
    let port = std::net::TcpListener::bind((BUS_ADDR, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args(["-js", "-a", BUS_ADDR, "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address: std::net::SocketAddr = format!("{BUS_ADDR}:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((Killed(child), format!("nats://{address}")))
}

fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the bus probing lab cannot run: {reason}"
    );
    eprintln!("SKIPPED: bus probing lab: {reason}");
}

/// `vigie --data-dir DIR …`.
fn vigie(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(data_dir);
    command
}

/// Spawns `command`, its stdout or stderr (`which`) read line by line
/// into a channel and a log file.
fn spawn_lines(mut command: Command, stdout: bool, log: PathBuf) -> (Killed, Receiver<String>) {
    let (child, stream): (Child, Box<dyn Read + Send>) = if stdout {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        (child, Box::new(out))
    } else {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        (child, Box::new(err))
    };
    let (send, receive) = channel();
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(log).unwrap();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            let _ = send.send(line);
        }
    });
    (Killed(child), receive)
}

/// The quorum's combined bins as it printed them: bin start → /24s up.
type Combined = Arc<Mutex<BTreeMap<UnixSecs, Vec<f64>>>>;

/// Notes a quorum's line in `combined` when it tells a combined bin
/// (`2026-12-04T21:38:00Z combined 2 vantage points, quorum 2: 4 blocks
/// up, …`); returns its bin.
fn note_combined(line: &str, combined: &Combined) -> Option<UnixSecs> {
    let (time, rest) = line.split_once(" combined ")?;
    let bin = vigie_model::parse_utc(time).unwrap();
    let up: f64 = rest
        .split(": ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of blocks up in {line}"));
    combined.lock().unwrap().entry(bin).or_default().push(up);
    Some(bin)
}

/// Waits for the quorum's next combined bin.
fn next_combined(lines: &Receiver<String>, combined: &Combined) -> UnixSecs {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(90))
            .expect("the quorum combined no bin within 90 s");
        if let Some(bin) = note_combined(&line, combined) {
            return bin;
        }
    }
}

#[test]
fn two_vantage_points_in_namespaces_a_quorum_killed_and_a_worker_warm_from_the_store_detect_a_cut()
{
    if let Some(reason) = unavailable_reason() {
        return skip(&reason);
    }
    if vigie_bus::testing::nats_server_binary().is_none() {
        return skip("nats-server is not installed (scripts/setup.sh installs it)");
    }
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let pg = db.url();
    let lab = match BusLab::create() {
        Ok(lab) => lab,
        Err(e) => return skip(&format!("cannot build the namespaces: {e}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (_nats, nats) = start_nats(&root.join("nats")).unwrap();
    let started = Instant::now();

    // The inputs: the country's blocks and their hitlist.
    let geo = root.join("geo.csv");
    std::fs::write(&geo, "198.18.0.0,198.18.255.255,KZ\n").unwrap();
    let mut hitlist = String::new();
    for block in 0..BLOCKS {
        for host in [1, 50, 100, 200] {
            hitlist.push_str(&format!("198.18.{block}.{host} 0.9\n"));
        }
    }
    let hits = root.join("hitlist.txt");
    std::fs::write(&hits, hitlist).unwrap();

    // Eight hours of history, every block up, imported into PostgreSQL.
    let bin = BinSize::new(BIN_SECS as u32).unwrap();
    let first_live = bin.floor(now());
    let mut csv = String::from("time,entity,signal,value\n");
    for i in (1..=8 * 60).rev() {
        let t = first_live - i * BIN_SECS;
        csv.push_str(&format!("{t},KZ,ping-slash24,{BLOCKS}\n"));
    }
    let history = root.join("history.csv");
    std::fs::write(&history, csv).unwrap();
    let import = vigie(&root.join("import"))
        .args(["--store", &pg, "import", "csv"])
        .arg(&history)
        .args(["--bin-secs", "60"])
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");

    // The store writer, two workers, an API server.
    let bus_role = |name: &str, args: &[&str]| {
        let mut command = vigie(&root.join(name));
        command.args(["--store", &pg, "bus"]).args(args).args([
            "--nats",
            &nats,
            "--batch",
            "8",
            "--ack-wait-secs",
            "2",
        ]);
        command
    };
    let writer = bus_role("writer", &["store"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _writer = Killed(writer);
    let kz: Entity = "KZ".parse().unwrap();
    let worker = |share: &str, log: &str| {
        let command = bus_role(
            &format!("worker-{}", &share[..1]),
            &[
                "detect",
                "--share",
                share,
                "--confirm-windows-secs",
                "60,300,900",
                "--exit-window-secs",
                "60",
            ],
        );
        spawn_lines(command, false, root.join(log))
    };
    let owner_share = ["1/2", "2/2"]
        .into_iter()
        .find(|share| share.parse::<Share>().unwrap().owns(&kz))
        .unwrap();
    let other_share = if owner_share == "1/2" { "2/2" } else { "1/2" };
    let (owner, owner_lines) = worker(owner_share, "owner-1.log");
    let _other = worker(other_share, "other.log").0;
    let api_config = root.join("api.toml");
    std::fs::write(
        &api_config,
        "bin_secs = 60\n[api]\nlisten = \"127.0.0.1:0\"\n[detect]\nenabled = false\n",
    )
    .unwrap();
    let mut api = vigie(&root.join("api"));
    api.args(["--store", &pg, "serve", "--config"])
        .arg(&api_config)
        .stdout(Stdio::null());
    let (api, api_at) = listening::spawn_listening(api);
    let _api = Killed(api);

    // The quorum, publishing on the bus.
    let quorum = || {
        let mut command = vigie(&root.join("quorum"));
        command
            .args(["bus", "quorum", "--nats", &nats])
            .args(["--vantage", "vp1", "--vantage", "vp2", "--quorum", "2"])
            .args(["--bin-secs", "60", "--to-bus", "--geo"])
            .arg(&geo);
        command
    };
    let (quorum_1, lines_1) = spawn_lines(quorum(), true, root.join("quorum-1.log"));

    // Two vantage points, each in its namespace, a round every 5 s.
    let mut vantages = Vec::new();
    for (k, ns) in lab.vantages.iter().enumerate() {
        let name = format!("vp{}", k + 1);
        let log = std::fs::File::create(root.join(format!("{name}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_vigie")])
            .arg("--data-dir")
            .arg(root.join(&name))
            .args(["probe", "--vantage", &name, "--publish", &nats, "--targets"])
            .arg(&hits)
            .args(["--rate", "500", "--round-secs", "5", "--timeout-ms", "300"])
            .args(["--bin-secs", "60", "--min-responsive", "4"])
            .args(["--allow", "198.18.0.0/15", "--geo"])
            .arg(&geo)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        vantages.push(Killed(child));
    }

    // The quorum's first bin with every block up, with time left in it
    // for the restarted quorum to combine it again; then SIGKILL.
    let combined: Combined = Arc::default();
    let first = loop {
        let t = next_combined(&lines_1, &combined);
        let up = *combined.lock().unwrap()[&t].last().unwrap();
        if up == BLOCKS as f64 && t + BIN_SECS - now() >= 25 {
            break t;
        }
    };
    drop(quorum_1);
    let (_quorum_2, lines_2) = spawn_lines(quorum(), true, root.join("quorum-2.log"));
    // It combines the same bin again from the rounds since: published
    // again unchanged, the bus holds it once.
    assert_eq!(next_combined(&lines_2, &combined), first);
    // The count of series warmed up in a worker's batch lines: the first
    // one above 0 (`until_warm`), or the last before 200 ms of silence.
    let warmed_up = |lines: &Receiver<String>, until_warm: bool| -> Option<String> {
        let wait = Duration::from_millis(if until_warm { 30_000 } else { 200 });
        let mut warmed = None;
        while let Ok(line) = lines.recv_timeout(wait) {
            if let Some((_, rest)) = line.split_once("of closed bins, ") {
                warmed = rest.split(' ').next().map(str::to_string);
                if until_warm && warmed.as_deref() != Some("0") {
                    break;
                }
            }
        }
        warmed
    };
    // The worker that owns KZ warmed its series up from the imported
    // history at its first bus bin and checkpointed it: SIGKILL, started
    // again, it goes on from its checkpoint and reads nothing again.
    assert_eq!(
        warmed_up(&owner_lines, true).as_deref(),
        Some("1"),
        "series warmed up"
    );
    drop(owner);
    let (_owner, owner_lines) = worker(owner_share, "owner-2.log");
    let store = Store::open_url(&pg).unwrap();
    let vigie_incidents = || {
        store
            .incidents(&ResultFilter {
                method: Some("vigie".into()),
                entity: Some(kz.clone()),
                ..ResultFilter::default()
            })
            .unwrap()
    };
    assert!(vigie_incidents().is_empty(), "an incident before the cut");

    // The cut: the incident is written by the worker that owns KZ.
    let cut_at = now();
    lab.cut_border();
    let cut = Instant::now();
    let incident = loop {
        while let Ok(line) = lines_2.try_recv() {
            note_combined(&line, &combined);
        }
        if let Some(incident) = vigie_incidents().into_iter().next() {
            break incident;
        }
        assert!(
            cut.elapsed() < Duration::from_secs(240),
            "no incident 240 s after the cut; see the logs in {}",
            root.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let latency = cut.elapsed();
    assert!(incident.start >= bin.floor(cut_at), "{incident:?}");
    let served = listening::get(
        &api_at,
        "/api/v1/incidents?entity=KZ&from=2000-01-01T00:00:00Z",
    );
    assert!(
        served.contains(&vigie_model::format_utc(incident.start)),
        "{served}"
    );

    // The vantage points stop; the quorum's last bins are noted.
    drop(vantages);
    while let Ok(line) = lines_2.recv_timeout(Duration::from_secs(3)) {
        note_combined(&line, &combined);
    }

    // The restarted worker read nothing from the store again.
    assert_eq!(
        warmed_up(&owner_lines, false).as_deref(),
        Some("0"),
        "series warmed up again"
    );

    // Every bin combined is stored with the value printed, none missing,
    // and the bin combined twice is held once on the bus.
    let combined = combined.lock().unwrap().clone();
    let last = *combined.keys().last().unwrap();
    let key = SeriesKey {
        entity: kz.clone(),
        signal: SignalKind::ProbeUpSlash24s,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let range = TimeRange::new(first_live - 8 * 3600, last + BIN_SECS).unwrap();
        let series = store.read_series(&key, bin, range).unwrap();
        let stored: BTreeMap<UnixSecs, Option<f64>> = series.points().collect();
        if stored[&last].is_some() || Instant::now() > deadline {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for (t, values) in &combined {
        assert!(values.iter().all(|v| *v == values[0]), "{t}: {values:?}");
        assert_eq!(stored[t], Some(values[0]), "bin {t}");
    }
    let live_bins: Vec<UnixSecs> = combined.keys().copied().collect();
    assert!(
        live_bins.windows(2).all(|w| w[1] - w[0] == BIN_SECS),
        "a bin is missing: {live_bins:?}"
    );
    assert!(combined[&first].len() == 2, "{combined:?}");
    assert!(
        stored.values().filter(|v| v.is_some()).count() >= 8 * 60,
        "the history is stored"
    );
    let bus = vigie_bus::Bus::connect(&nats, &vigie_bus::StreamSettings::default()).unwrap();
    let held = bus.subject_messages("vigie.bins.probe-combined.>").unwrap();
    let held: u64 = held.values().sum();
    assert_eq!(held, combined.len() as u64, "bins held on the bus");
    println!(
        "bus probing lab: {} live bins, border cut to incident {:.1} s, {:.0} s in all",
        combined.len(),
        latency.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
