//! The roles of an observatory spread over processes, on a real
//! `nats-server -js` and a real PostgreSQL server (both started here;
//! features `nats` and `postgres`): a collector publishes a scenario's
//! access-log bins to the bus, `vigie bus store` writes them to
//! PostgreSQL, two detection workers (`vigie bus detect --share 1/2` and
//! `2/2`) write the incidents, and two API servers read that store. The
//! AS-to-country table places the scenario's networks, all of worker 1's
//! share, in Iraq, worker 2's: Iraq's incidents name those that were cut,
//! which worker 2 follows for Iraq's scope without owning them. The store
//! writer and worker 1 read as the collector publishes; the collector,
//! fed the log's first half, is killed with SIGKILL once it has published
//! the bins of those lines, then the writer and worker 1 too, mid-stream.
//! The collector run again reads the whole log from its start: the stream
//! drops, as duplicates, every message it had already stored, so it holds
//! each bin's messages once (worker 2, reading it all, counts them). At
//! the end the series and the incidents equal, value for value, those of
//! the single-process run on SQLite (`vigie ingest access-log`, then
//! `vigie detect`), and both API servers serve the same incidents as an
//! API server over the SQLite store.
//!
//! `cargo test -p vigie --features nats,postgres --test bus_roles`
#![cfg(all(feature = "nats", feature = "postgres"))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use vigie_bus::testing::{store_contents, NatsServer};
use vigie_model::TimeRange;
use vigie_store::{AsCountrySpace, Store};

#[path = "support/listening.rs"]
mod listening;

/// `vigie` on the SQLite store in `data_dir`, or on `store` when given.
fn vigie(data_dir: &Path, store: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    command
}

fn succeeded(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what}: {:?}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A consumer role (`vigie bus store|detect …`); `--exit-when-drained`
/// in `extra` marks a run to the end, in batches of 64, the others (to be
/// killed) read batches of 8.
fn bus_role(data_dir: &Path, store: &str, nats: &str, role: &[&str], extra: &[&str]) -> Command {
    let batch = if extra.contains(&"--exit-when-drained") {
        "64"
    } else {
        "8"
    };
    let mut command = vigie(data_dir, Some(store));
    command
        .arg("bus")
        .args(role)
        .args(["--nats", nats, "--batch", batch, "--ack-wait-secs", "2"])
        .args(extra);
    command
}

/// Waits until `child` has reported `batches` batches on stderr (a line
/// per batch), then kills it with SIGKILL.
fn kill_after(mut child: Child, batches: usize, what: &str) {
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = 0;
    for line in stderr.lines() {
        if line.unwrap().contains("messages (") {
            seen += 1;
            if seen == batches {
                break;
            }
        }
    }
    assert_eq!(seen, batches, "{what} stopped before it was killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The stream's message count once it has not moved for a second (a
/// collector blocked on its input has published all it will).
fn settled_messages(bus: &vigie_bus::Bus) -> u64 {
    let (mut last, mut still) = (0, 0);
    for _ in 0..600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = bus.stream_messages().unwrap();
        still = if now == last && now > 0 { still + 1 } else { 0 };
        last = now;
        if still == 10 {
            return now;
        }
    }
    panic!("the collector published nothing, or never stopped ({last} messages)");
}

/// An API server over the store (`--listen 127.0.0.1:0`).
fn serve(data_dir: &Path, store: Option<&str>) -> (Child, String) {
    let mut command = vigie(data_dir, store);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null());
    listening::spawn_listening(command)
}

/// The Iraq scenario's access log and geo tables, generated, and its
/// networks as the AS-to-country table (their /24s, all in Iraq).
fn scenario_inputs(dir: &Path) -> (PathBuf, Vec<PathBuf>, Vec<AsCountrySpace>) {
    let scenario = vigie_scenario::builtin::load("iraq-exams").unwrap();
    let generated = vigie_scenario::generate(&scenario, dir, &mut |_: &str| {}).unwrap();
    let table = scenario
        .world
        .networks
        .iter()
        .map(|network| AsCountrySpace {
            asn: network.asn,
            country: scenario.world.country,
            units_v4: network.slash24s(),
            units_v6: 0,
            observed_at: 0,
        })
        .collect();
    (generated.access_log, generated.geo_files, table)
}

#[test]
fn collector_store_writer_two_workers_and_two_apis_equal_the_single_process_run() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let pg = db.url();
    let inputs = tempfile::tempdir().unwrap();
    let (log, geo_files, as_countries) = scenario_inputs(inputs.path());
    let (iq, kurdistan): (vigie_model::Entity, [&str; 2]) =
        ("IQ".parse().unwrap(), ["AS21277", "AS51018"]);
    // The hash is fixed: Iraq is worker 2's, its networks worker 1's.
    let shares: [vigie_pipeline::Share; 2] = ["1/2".parse().unwrap(), "2/2".parse().unwrap()];
    assert!(shares[1].owns(&iq));
    for row in &as_countries {
        assert!(
            shares[0].owns(&vigie_model::Entity::Asn(row.asn)),
            "AS{}",
            row.asn
        );
    }
    let log = log.to_str().unwrap().to_string();
    let mut geo = Vec::new();
    for file in &geo_files {
        geo.push("--geo".to_string());
        geo.push(file.to_str().unwrap().to_string());
    }

    // The single-process run on SQLite.
    let reference = tempfile::tempdir().unwrap();
    let ingest = |data_dir: &Path, extra: &[&str]| {
        let mut command = vigie(data_dir, None);
        command
            .args(["ingest", "access-log", &log])
            .args(&geo)
            .args(extra);
        succeeded("vigie ingest access-log", command.output().unwrap())
    };
    ingest(reference.path(), &[]);
    Store::open(reference.path())
        .unwrap()
        .replace_as_countries(&as_countries)
        .unwrap();
    succeeded(
        "vigie detect",
        vigie(reference.path(), None)
            .arg("detect")
            .output()
            .unwrap(),
    );

    Store::open_url(&pg)
        .unwrap()
        .replace_as_countries(&as_countries)
        .unwrap();
    let bus = vigie_bus::Bus::connect(&nats.url, &vigie_bus::StreamSettings::default()).unwrap();

    // The store writer and worker 1 run before the collector publishes
    // anything; both are killed mid-stream below.
    let scratch = tempfile::tempdir().unwrap();
    let writer = bus_role(scratch.path(), &pg, &nats.url, &["store"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let share = |i: &str, extra: &[&str]| {
        bus_role(
            scratch.path(),
            &pg,
            &nats.url,
            &["detect", "--share", i],
            extra,
        )
    };
    let first = share("1/2", &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The collector publishes every closed bin to the bus (no store). Its
    // first run reads the log's first half (unzipped) from a pipe held
    // open, so it has published the bins those lines closed, and no
    // others, when it is killed with SIGKILL.
    let mut text = Vec::new();
    let gz = std::fs::File::open(&log).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut text).unwrap();
    let half = text.len() / 2;
    let half = half + text[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut collector = vigie(scratch.path(), None)
        .args(["ingest", "access-log"])
        .args(&geo)
        .args(["--publish", &nats.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = collector.stdin.take().unwrap();
    std::io::Write::write_all(&mut pipe, &text[..half]).unwrap();
    let at_kill = settled_messages(&bus);
    collector.kill().unwrap(); // SIGKILL
    collector.wait().unwrap();
    drop(pipe);
    assert_eq!(bus.stream_messages().unwrap(), at_kill);
    // Enough for the kills below (20 and 30 batches of at most 8).
    assert!(at_kill > 240, "{at_kill} messages at the kill");
    kill_after(writer, 20, "vigie bus store");
    kill_after(first, 30, "vigie bus detect --share 1/2");

    // Run again, it reads the log from its start: the bins of the first
    // run go out again as the same messages, which the stream drops.
    let again = vigie(scratch.path(), None)
        .args(["ingest", "access-log", &log])
        .args(&geo)
        .args(["--publish", &nats.url])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(again.status.success(), "{again:?}");
    let total = bus.stream_messages().unwrap();
    assert!(at_kill < total, "{at_kill} of {total} messages at the kill");
    eprintln!("the collector was killed at {at_kill} of {total} messages");
    assert!(
        said.contains(&format!(
            "on the bus: {} messages stored, {at_kill} dropped as already there",
            total - at_kill
        )),
        "{at_kill} of {total}: {said}"
    );
    // A garbage message on a subject the workers and the writer read.
    bus.publish_raw("vigie.bins.access-log.country", b"\x01\xff\xff".to_vec())
        .unwrap();

    // Worker 2 reads the whole stream; the writer and worker 1 go on.
    let second = share("2/2", &["--exit-when-drained"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let writer = bus_role(
        scratch.path(),
        &pg,
        &nats.url,
        &["store"],
        &["--exit-when-drained"],
    )
    .output()
    .unwrap();
    // Exit code 3: the garbage message was counted and skipped.
    assert_eq!(writer.status.code(), Some(3), "{writer:?}");
    let first = share("1/2", &["--exit-when-drained"]).output().unwrap();
    assert_eq!(first.status.code(), Some(3), "{first:?}");
    let first = String::from_utf8(first.stdout).unwrap();
    assert!(first.contains("1 bad messages skipped"), "{first}");
    let second = second.wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(3), "{second:?}");
    let second = String::from_utf8(second.stdout).unwrap();
    // Each bin's messages once, and the garbage: nothing held twice.
    let read = |summary: &str| -> u64 { summary.split(' ').next().unwrap().parse().unwrap() };
    assert_eq!(read(&second), total + 1, "{second}");
    assert!(
        second.contains(&format!("{total} of closed bins")),
        "{second}"
    );
    // The restarted worker went on from its place: it read fewer messages
    // than the worker that read the whole stream.
    assert!(read(&first) < read(&second), "{first}\n{second}");

    // The series, value for value.
    let sqlite = Store::open(reference.path()).unwrap();
    let shared = Store::open_url(&pg).unwrap();
    let series = sqlite.list_series().unwrap();
    let first_bin = series.iter().filter_map(|s| s.first_bin).min().unwrap();
    let last_bin = series.iter().filter_map(|s| s.last_bin).max().unwrap();
    let range = TimeRange::new(first_bin, last_bin + 300).unwrap();
    let expected = store_contents(&sqlite, range);
    assert!(expected.len() > 5, "{} series", expected.len());
    assert_eq!(store_contents(&shared, range), expected);

    // The incidents, value for value (the detector's whole JSON).
    let incidents = |data_dir: &Path, store: Option<&str>| {
        succeeded(
            "vigie incidents",
            vigie(data_dir, store)
                .args(["incidents", "--format", "json"])
                .output()
                .unwrap(),
        )
    };
    let want = incidents(reference.path(), None);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&want).unwrap();
    assert!(listed.len() >= 2, "too few incidents: {want}");
    // Iraq's incidents name the cut networks, worker 1's, in their scope.
    let named: Vec<&str> = listed
        .iter()
        .filter(|incident| incident["entity"] == iq.to_string().as_str())
        .filter_map(|incident| incident["affected"].as_array())
        .flatten()
        .filter_map(|affected| affected["entity"].as_str())
        .collect();
    for asn in kurdistan {
        assert!(named.contains(&asn), "{asn} not in {named:?}: {want}");
    }
    assert_eq!(incidents(scratch.path(), Some(&pg)), want);
    let stored = |store: &Store| {
        let mut all = store
            .incidents(&vigie_store::ResultFilter::default())
            .unwrap();
        all.sort_by(|a, b| (&a.entity, a.start).cmp(&(&b.entity, b.start)));
        all
    };
    assert_eq!(stored(&shared), stored(&sqlite));

    // Two API servers over the shared store serve what one over SQLite does.
    let (mut api_sqlite, at_sqlite) = serve(reference.path(), None);
    let (mut api_a, at_a) = serve(scratch.path(), Some(&pg));
    let (mut api_b, at_b) = serve(scratch.path(), Some(&pg));
    let path = "/api/v1/incidents?from=2000-01-01T00:00:00Z";
    let served = listening::get(&at_sqlite, path);
    assert!(served.contains("\"start\""), "{served}");
    assert_eq!(listening::get(&at_a, path), served);
    assert_eq!(listening::get(&at_b, path), served);
    for server in [&mut api_sqlite, &mut api_a, &mut api_b] {
        server.kill().unwrap();
        server.wait().unwrap();
    }
}

/// Two vantage points' states on the bus, over three bins (in the second
/// every block is down for both).
fn publish_vantage_states(bus: &vigie_bus::Bus) {
    const START: i64 = 1_700_000_100 / 300 * 300;
    for bin in 0..3i64 {
        for vantage in ["a", "b"] {
            let states = ["2.72.0.0", "2.72.1.0", "95.56.0.0", "8.8.8.0"]
                .iter()
                .map(|block| {
                    let state = if bin == 1 {
                        vigie_probe::BlockState::Down
                    } else {
                        vigie_probe::BlockState::Up
                    };
                    (
                        u32::from(block.parse::<std::net::Ipv4Addr>().unwrap()),
                        state,
                    )
                })
                .collect();
            let states = vigie_probe::VantageStates {
                vantage: vantage.to_string(),
                states,
            };
            vigie_bus::vantage::publish_states(bus, &states, START + bin * 300 + 200).unwrap();
        }
    }
}

#[test]
fn the_quorum_publishing_on_the_bus_stores_what_the_quorum_writing_the_store_does() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let bus = vigie_bus::Bus::connect(&nats.url, &vigie_bus::StreamSettings::default()).unwrap();
    publish_vantage_states(&bus);
    let quorum = |data_dir: &Path, extra: &[&str]| {
        let mut command = vigie(data_dir, None);
        command
            .args(["bus", "quorum", "--nats", &nats.url, "--exit-when-drained"])
            .args(["--vantage", "a", "--vantage", "b", "--quorum", "2"])
            .args(extra);
        succeeded("vigie bus quorum", command.output().unwrap())
    };
    let direct = tempfile::tempdir().unwrap();
    let lines = quorum(direct.path(), &["--durable", "direct"]);
    assert_eq!(
        lines.matches("combined 2 vantage points").count(),
        3,
        "{lines}"
    );
    let through = tempfile::tempdir().unwrap();
    quorum(through.path(), &["--to-bus"]);
    assert!(
        !through.path().join("vigie.sqlite").exists(),
        "--to-bus wrote a store"
    );
    succeeded(
        "vigie bus store",
        vigie(through.path(), None)
            .args(["bus", "store", "--nats", &nats.url, "--exit-when-drained"])
            .output()
            .unwrap(),
    );
    let range = TimeRange::new(1_699_999_800, 1_700_001_000).unwrap();
    let expected = store_contents(&Store::open(direct.path()).unwrap(), range);
    assert!(!expected.is_empty());
    // A country whose blocks were all down in the second bin reads 0 there.
    assert!(expected
        .iter()
        .any(|(_, _, values)| values.contains(&Some(0f64.to_bits()))));
    assert_eq!(
        store_contents(&Store::open(through.path()).unwrap(), range),
        expected
    );
}
