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
