//! Vantage points' block states through a real `nats-server -js`: the
//! quorum step writes the bins the offline `--combine` computes from the
//! same states, and waits for the vantage points before combining.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;

use vigie_bus::testing::{store_contents, NatsServer};
use vigie_bus::vantage::{combine_from_bus, publish_states, QuorumOptions};
use vigie_bus::{Bus, ConsumerOptions, StreamSettings};
use vigie_geo::GeoDb;
use vigie_model::{BinSink, BinSize, TimeRange};
use vigie_pipeline::{combine_vantage_states, combined_bin, COMBINED_SOURCE};
use vigie_probe::{BlockState, VantageStates};
use vigie_store::Store;

const START: i64 = 1_700_000_100 / 300 * 300;

fn block(text: &str) -> u32 {
    u32::from(text.parse::<Ipv4Addr>().unwrap())
}

/// Three vantage points, three bins: in the second, Kazakh blocks go
/// down for two of them (an outage), in the third for one only (its own
/// trouble).
fn states(vantage: &str, bin: usize) -> VantageStates {
    use BlockState::*;
    let kz = ["2.72.0.0", "2.72.1.0", "95.56.0.0", "95.56.7.0"];
    let others = ["8.8.8.0", "1.1.1.0", "193.0.0.0"];
    let down = match bin {
        1 => vantage != "c",
        2 => vantage == "a",
        _ => false,
    };
    let mut states = std::collections::BTreeMap::new();
    for network in kz {
        states.insert(block(network), if down { Down } else { Up });
    }
    for (i, network) in others.iter().enumerate() {
        states.insert(
            block(network),
            if i == 2 && vantage == "b" {
                Uncertain
            } else {
                Up
            },
        );
    }
    VantageStates {
        vantage: vantage.to_string(),
        states,
    }
}

#[test]
fn the_quorum_step_writes_what_the_offline_combine_computes() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let geo = GeoDb::embedded();
    let names = ["a", "b", "c"];
    let bins = 3;

    let mut offline = Store::open_in_memory().unwrap();
    for bin in 0..bins {
        let vantages: Vec<_> = names.iter().map(|v| states(v, bin)).collect();
        let combined = combine_vantage_states(&vantages, 2, false).unwrap();
        let bin_start = START + 300 * bin as i64;
        let signal = combined_bin(&combined, &geo, BinSize::FIVE_MINUTES, bin_start);
        assert!(!signal.values.is_empty());
        offline.sink(COMBINED_SOURCE).write(&signal).unwrap();
    }

    // Rounds end inside their bins; "c" publishes an earlier round of the
    // first bin that its later one replaces, and one round twice.
    for bin in 0..bins {
        let end = START + 300 * bin as i64 + 200;
        for name in names {
            if name == "c" && bin == 0 {
                let mut early = states("c", 1);
                early.vantage = "c".to_string();
                publish_states(&bus, &early, end - 100).unwrap();
            }
            publish_states(&bus, &states(name, bin), end).unwrap();
        }
    }
    publish_states(&bus, &states("b", 2), START + 800).unwrap();
    bus.publish_raw("vigie.vantage.a", b"\x01not states".to_vec())
        .unwrap();

    let options = QuorumOptions {
        vantages: names.iter().map(|n| n.to_string()).collect(),
        quorum: 2,
        bin: BinSize::FIVE_MINUTES,
        consumer: ConsumerOptions {
            durable: "vigie-quorum".to_string(),
            exit_when_drained: true,
            ..ConsumerOptions::default()
        },
    };
    let mut store = Store::open_in_memory().unwrap();
    let mut lines = Vec::new();
    let report = combine_from_bus(
        &bus,
        &options,
        &geo,
        &mut store.sink(COMBINED_SOURCE),
        &AtomicBool::new(false),
        &mut |line| lines.push(line),
    )
    .unwrap();
    assert_eq!(report.bins, 3, "{}", report.summary());
    assert_eq!(report.bad, 1, "{:?}", report.bad_examples);
    assert_eq!(
        report.messages,
        3 * 3 + 1 + 1,
        "the repeated round is deduplicated"
    );
    assert!(lines[1].contains("4 down"), "{lines:?}");
    assert!(lines[2].contains("0 down"), "{lines:?}");
    let range = TimeRange::new(START, START + 900).unwrap();
    assert_eq!(
        store_contents(&store, range),
        store_contents(&offline, range)
    );

    // The store writer shares the stream: the vantage points' states are
    // the quorum step's, not bad bins (a server before 2.10 cannot filter
    // a consumer on several subjects; the consumer passes them over).
    let mut bins_store = Store::open_in_memory().unwrap();
    let report = vigie_bus::store_bins(
        &bus,
        &mut bins_store,
        ConsumerOptions {
            durable: "vigie-store".to_string(),
            exit_when_drained: true,
            ..ConsumerOptions::default()
        },
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.bad, 0, "{:?}", report.bad_examples);
    assert_eq!(report.bins, 0, "{}", report.summary());
}

#[test]
fn a_missing_vantage_point_holds_a_bin_until_a_quorum_moves_on() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let geo = GeoDb::embedded();
    let options = QuorumOptions {
        vantages: vec!["a".into(), "b".into(), "c".into()],
        quorum: 2,
        bin: BinSize::FIVE_MINUTES,
        consumer: ConsumerOptions {
            exit_when_drained: true,
            ..ConsumerOptions::default()
        },
    };
    let run = |store: &mut Store| {
        combine_from_bus(
            &bus,
            &options,
            &geo,
            &mut store.sink(COMBINED_SOURCE),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap()
    };
    let mut store = Store::open_in_memory().unwrap();
    // "c" is down: the first bin waits.
    for name in ["a", "b"] {
        publish_states(&bus, &states(name, 1), START + 100).unwrap();
    }
    assert_eq!(run(&mut store).bins, 0);
    // "a" and "b" move on: the first bin is combined from the two.
    for name in ["a", "b"] {
        publish_states(&bus, &states(name, 0), START + 400).unwrap();
    }
    let report = run(&mut store);
    assert_eq!(report.bins, 1, "{}", report.summary());
    let kz = store
        .read_series(
            &vigie_model::SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal: vigie_model::SignalKind::ProbeUpSlash24s,
            },
            BinSize::FIVE_MINUTES,
            TimeRange::new(START, START + 600).unwrap(),
        )
        .unwrap();
    assert_eq!(kz.values, [Some(0.0), None]);
}

/// Where the quorum step run in a child process connects (the NATS URL).
const CHILD_NATS_URL: &str = "VIGIE_TEST_QUORUM_CHILD_NATS_URL";

/// The quorum step of `a_quorum_step_killed_with_sigkill_loses_no_bin`.
fn kill_test_options(durable: &str) -> QuorumOptions {
    QuorumOptions {
        vantages: vec!["a".into(), "b".into(), "c".into()],
        quorum: 2,
        bin: BinSize::FIVE_MINUTES,
        consumer: ConsumerOptions {
            durable: durable.to_string(),
            exit_when_drained: true,
            ..ConsumerOptions::default()
        },
    }
}

/// Not a test of its own: the quorum step that
/// `a_quorum_step_killed_with_sigkill_loses_no_bin` runs in a child
/// process (this test binary, run again) and kills. Runs until killed.
#[test]
fn quorum_step_in_a_child_process() {
    let Ok(url) = std::env::var(CHILD_NATS_URL) else {
        return;
    };
    let bus = Bus::connect(&url, &StreamSettings::default()).unwrap();
    let mut options = kill_test_options("vigie-quorum");
    options.consumer.exit_when_drained = false;
    let mut store = Store::open_in_memory().unwrap();
    combine_from_bus(
        &bus,
        &options,
        &GeoDb::embedded(),
        &mut store.sink(COMBINED_SOURCE),
        &AtomicBool::new(false),
        &mut |line| eprintln!("child quorum step: {line}"),
    )
    .unwrap();
}

/// A sink noting the start of every bin written through it.
struct Noted<'s> {
    sink: &'s mut dyn BinSink,
    written: Vec<i64>,
}

impl BinSink for Noted<'_> {
    fn write(&mut self, bin: &vigie_model::SignalBin) -> Result<(), vigie_model::SinkError> {
        self.written.push(bin.bin_start);
        self.sink.write(bin)
    }
}

/// Runs `quorum_step_in_a_child_process` in a child process.
fn spawn_quorum_step(server: &NatsServer) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "quorum_step_in_a_child_process", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_NATS_URL, &server.url)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the durable `vigie-quorum` has delivered every message
/// and has `unacknowledged` of them not acknowledged, then kills the
/// child quorum step with SIGKILL.
fn kill_when_read(bus: &Bus, child: &mut std::process::Child, unacknowledged: u64) {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};

    let deadline = Instant::now() + Duration::from_secs(60);
    while vigie_bus::testing::consumer_backlog(bus, "vigie-quorum") != (0, unacknowledged) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child quorum step ended on its own: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the child quorum step did not read the rounds within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
}

/// Runs a quorum step (durable `durable`) until drained into `store`:
/// its report and the bins it wrote, in order.
fn run_noted(
    bus: &Bus,
    durable: &str,
    store: &mut Store,
) -> (vigie_bus::vantage::QuorumReport, Vec<i64>) {
    let mut inner = store.sink(COMBINED_SOURCE);
    let mut noted = Noted {
        sink: &mut inner,
        written: Vec::new(),
    };
    let report = combine_from_bus(
        bus,
        &kill_test_options(durable),
        &GeoDb::embedded(),
        &mut noted,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    (report, noted.written)
}

#[test]
fn a_quorum_step_killed_with_sigkill_loses_no_bin() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let (bin_a, bin_b, bin_c) = (START, START + 300, START + 600);

    // Bin A, an outage: "c" is silent, so the quorum step holds "a"'s and
    // "b"'s rounds until they move on. Between them, a message of another
    // role the stream holds too.
    publish_states(&bus, &states("a", 1), bin_a + 200).unwrap();
    bus.publish_raw("vigie.bins.other.country", b"\x01a bin".to_vec())
        .unwrap();
    publish_states(&bus, &states("b", 1), bin_a + 200).unwrap();
    // SIGKILL: the rounds of bin A stay with the server, unacknowledged,
    // for the ack wait (three bins, 15 minutes).
    let mut child = spawn_quorum_step(&server);
    kill_when_read(&bus, &mut child, 2);

    // Bins B and C, after bin A has ended: every vantage point.
    for (bin, index) in [(bin_b, 0), (bin_c, 2)] {
        for name in ["a", "b", "c"] {
            publish_states(&bus, &states(name, index), bin + 200).unwrap();
        }
    }

    // Started again: bin A first, from the two rounds read back, then B, C.
    let mut store = Store::open_in_memory().unwrap();
    let (report, written) = run_noted(&bus, "vigie-quorum", &mut store);
    assert_eq!(written, [bin_a, bin_b, bin_c], "{}", report.summary());
    assert_eq!(report.recovered, 2, "{}", report.summary());
    assert_eq!(report.messages, 6, "{}", report.summary());

    // The same as an uninterrupted quorum step's, value for value.
    let mut whole = Store::open_in_memory().unwrap();
    let (report, written) = run_noted(&bus, "vigie-quorum-whole", &mut whole);
    assert_eq!(written, [bin_a, bin_b, bin_c], "{}", report.summary());
    assert_eq!(report.recovered, 0);
    let range = TimeRange::new(START, START + 900).unwrap();
    assert_eq!(store_contents(&store, range), store_contents(&whole, range));
    let kz = store
        .read_series(
            &vigie_model::SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal: vigie_model::SignalKind::ProbeUpSlash24s,
            },
            BinSize::FIVE_MINUTES,
            range,
        )
        .unwrap();
    assert_eq!(kz.values, [Some(0.0), Some(4.0), Some(4.0)]);

    // Bin A's rounds are still unacknowledged (the server delivers them
    // again after the ack wait, and they are then acknowledged): a step
    // started once more reads back none of the bins it combined, since
    // later bins' acknowledged rounds come after them.
    assert_eq!(
        vigie_bus::testing::consumer_backlog(&bus, "vigie-quorum"),
        (0, 2)
    );
    let (report, written) = run_noted(&bus, "vigie-quorum", &mut store);
    assert!(written.is_empty(), "{written:?}: {}", report.summary());
    assert_eq!(report.recovered, 0, "{}", report.summary());
}

#[test]
fn a_bin_combined_before_a_sigkill_is_not_combined_again_from_a_part_of_its_rounds() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let (bin_a, bin_b) = (START, START + 300);

    // "a" sends bins A and B, then "b" does: A is combined from them (they
    // moved on) and acknowledged; B is held, waiting for "c". The ack
    // floor stays before "a"'s round of B, with "b"'s round of A past it.
    for name in ["a", "b"] {
        for (bin, index) in [(bin_a, 1), (bin_b, 0)] {
            publish_states(&bus, &states(name, index), bin + 200).unwrap();
        }
    }
    let mut child = spawn_quorum_step(&server);
    kill_when_read(&bus, &mut child, 2);
    // That run is gone; "c"'s round of bin A comes late.
    publish_states(&bus, &states("c", 1), bin_a + 250).unwrap();
    let mut child = spawn_quorum_step(&server);
    // Read back: B's two rounds, held again; "c"'s late round of A is
    // acknowledged and ignored.
    kill_when_read(&bus, &mut child, 2);

    // Past the ack floor lie "b"'s round of A and "c"'s late one, both
    // acknowledged: A is not combined again from them (a quorum, but not
    // the rounds it was combined from: "a" and "b"), B is read back and
    // held.
    let mut store = Store::open_in_memory().unwrap();
    let (report, written) = run_noted(&bus, "vigie-quorum", &mut store);
    assert!(written.is_empty(), "{written:?}: {}", report.summary());
    assert_eq!(report.recovered, 2, "{}", report.summary());

    // "c" sends B: B is complete, combined once.
    publish_states(&bus, &states("c", 0), bin_b + 200).unwrap();
    let (report, written) = run_noted(&bus, "vigie-quorum", &mut store);
    assert_eq!(written, [bin_b], "{}", report.summary());
}
