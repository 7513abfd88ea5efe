//! Bins through a real `nats-server -js` into the store: the same store
//! contents as the store's own sink, value for value; re-published bins
//! deduplicated (a bin half published before a crash is completed once);
//! garbage on the subjects counted and skipped.

use std::sync::atomic::AtomicBool;

use vigie_bus::codec::{encode, BinKind};
use vigie_bus::testing::{store_contents, NatsServer};
use vigie_bus::{store_bins, Bus, ConsumerOptions, StoreReport, StreamSettings};
use vigie_model::{BinSink, BinSize, SeriesKey, SignalBin, SignalKind, TimeRange};
use vigie_store::Store;

const START: i64 = 1_700_000_100 / 300 * 300;

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse().unwrap(),
        signal,
    }
}

/// One step of a source: what it hands its sink.
#[derive(Clone)]
enum Step {
    Write(SignalBin),
    Weighted(SignalBin, u64),
    Provisional(SignalBin),
    Retract(SignalBin),
}

fn apply(sink: &mut dyn BinSink, step: &Step) {
    match step {
        Step::Write(bin) => sink.write(bin).unwrap(),
        Step::Weighted(bin, records) => {
            sink.write_weighted(bin, *records).unwrap();
        }
        Step::Provisional(bin) => sink.write_provisional(bin).unwrap(),
        Step::Retract(bin) => sink.retract_provisional(bin).unwrap(),
    }
}

/// A day of bins of two sources: countries, ASes and regions, whole and
/// fractional values, zeros, no data; provisional bins replaced or
/// retracted; a weighted re-read from fewer records that the store keeps
/// out.
fn steps(bins: i64) -> Vec<(&'static str, Step)> {
    let mut keys = vec![
        key("KZ", SignalKind::BgpVisibleSlash24s),
        key("KZ/Almaty", SignalKind::BgpVisibleSlash24s),
        key("US", SignalKind::BgpVisibleSlash24s),
        key("KZ", SignalKind::BgpAnnouncements),
    ];
    keys.extend(
        (1..=40).map(|asn| key(&format!("AS{}", 9000 + asn), SignalKind::BgpVisibleSlash24s)),
    );
    let bin_of = |index: i64, scale: f64| SignalBin {
        bin: BinSize::FIVE_MINUTES,
        bin_start: START + index * 300,
        values: keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                let value = match (index + k as i64) % 7 {
                    0 => None,
                    1 => Some(0.0),
                    2 => Some((index * k as i64) as f64 * 0.37 * scale),
                    _ => Some(((index + 1) * (k as i64 + 3)) as f64 * scale),
                };
                (key.clone(), value)
            })
            .collect(),
    };
    let mut out = Vec::new();
    for index in 0..bins {
        out.push(("bgp-live", Step::Provisional(bin_of(index, 0.5))));
        if index % 5 == 4 {
            out.push(("bgp-live", Step::Retract(bin_of(index, 0.5))));
        } else {
            out.push(("bgp-live", Step::Write(bin_of(index, 1.0))));
        }
        out.push(("bgp-mrt", Step::Weighted(bin_of(index, 2.0), 100)));
        if index % 3 == 0 {
            // A truncated re-read: fewer records, kept out by the store.
            out.push(("bgp-mrt", Step::Weighted(bin_of(index, 3.0), 50)));
        }
    }
    out
}

fn range(bins: i64) -> TimeRange {
    TimeRange::new(START, START + bins * 300).unwrap()
}

fn drain(bus: &Bus, store: &mut Store) -> StoreReport {
    let options = ConsumerOptions {
        exit_when_drained: true,
        ..ConsumerOptions::default()
    };
    store_bins(bus, store, options, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

#[test]
fn bins_through_jetstream_give_the_store_of_the_direct_sink() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bins = 60;
    let steps = steps(bins);

    let mut direct = Store::open_in_memory().unwrap();
    for (source, step) in &steps {
        apply(&mut direct.sink(source), step);
    }

    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let mut published = 0;
    for (source, step) in &steps {
        let mut sink = bus.sink(source);
        apply(&mut sink, step);
        published += sink.tally().messages;
        assert_eq!(sink.tally().duplicates, 0);
    }
    assert_eq!(bus.stream_messages().unwrap(), published);

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let report = drain(&bus, &mut store);
    assert_eq!(report.messages, published, "{}", report.summary());
    assert_eq!(report.bad, 0, "{:?}", report.bad_examples);
    // The three parts of a bin (countries, ASes, regions) are written
    // together: live bins not retracted, weighted bins and their re-reads.
    let (bins_u, retracted) = (bins as u64, bins as u64 / 5);
    // (A bin whose parts straddle two fetched batches is two writes.)
    let writes = bins_u - retracted + bins_u + bins_u / 3;
    let batches = report
        .messages
        .div_ceil(ConsumerOptions::default().batch as u64);
    assert!(
        (writes..=writes + batches).contains(&report.bins),
        "{}",
        report.summary()
    );
    assert_eq!(report.retracted, bins as u64 / 5);
    assert!(report.kept_stored > 0, "{}", report.summary());

    let expected = store_contents(&direct, range(bins));
    assert_eq!(
        expected.len(),
        44,
        "series are kept per entity and signal, whatever the source"
    );
    assert_eq!(store_contents(&store, range(bins)), expected);
    for source in ["bgp-live", "bgp-live-provisional", "bgp-mrt"] {
        assert_eq!(
            store.last_committed_bin(source).unwrap(),
            direct.last_committed_bin(source).unwrap(),
            "{source}"
        );
    }
    for index in [0, 3, 7] {
        let start = START + index * 300;
        assert_eq!(
            store
                .bin_records("bgp-mrt", BinSize::FIVE_MINUTES, start)
                .unwrap(),
            Some(100)
        );
    }
}

#[test]
fn a_republished_bin_is_deduplicated_and_garbage_is_counted_and_skipped() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let good = SignalBin {
        bin: BinSize::FIVE_MINUTES,
        bin_start: START,
        values: vec![
            (key("KZ", SignalKind::ProbeUpSlash24s), Some(120.0)),
            (key("AS9198", SignalKind::ProbeUpSlash24s), Some(37.5)),
        ],
    };
    let mut sink = bus.sink("probe");
    sink.write(&good).unwrap();
    sink.write(&good).unwrap();
    let tally = sink.tally();
    assert_eq!((tally.bins, tally.messages, tally.duplicates), (2, 2, 2));
    // New values for the same bin are not duplicates (only the country
    // part changed), nor is a return to the first values.
    let mut newer = good.clone();
    newer.values[0].1 = Some(121.0);
    sink.write(&newer).unwrap();
    assert_eq!((sink.tally().messages, sink.tally().duplicates), (3, 3));
    sink.write(&good).unwrap();
    assert_eq!((sink.tally().messages, sink.tally().duplicates), (4, 4));
    sink.write(&newer).unwrap();
    assert_eq!((sink.tally().messages, sink.tally().duplicates), (5, 5));

    // Garbage on the good bin's own subjects, and a good message on the
    // wrong subject: none may touch the stored values.
    let country = "vigie.bins.probe.country";
    bus.publish_raw(country, b"\x01garbage".to_vec()).unwrap();
    bus.publish_raw(country, Vec::new()).unwrap();
    bus.publish_raw(country, vec![9, 1, 2, 3]).unwrap();
    let mut cut = encode(BinKind::Final, "probe", &good).unwrap()[0]
        .payload
        .clone();
    cut.truncate(cut.len() - 3);
    bus.publish_raw(country, cut).unwrap();
    let other = SignalBin {
        values: vec![(key("KZ", SignalKind::ProbeUpSlash24s), Some(0.0))],
        ..good.clone()
    };
    let misplaced = encode(BinKind::Final, "probe", &other).unwrap().remove(0);
    bus.publish_raw("vigie.bins.bgp-live.country", misplaced.payload)
        .unwrap();
    bus.publish_raw(
        "vigie.bins.probe.asn",
        encode(BinKind::Final, "probe", &other).unwrap()[0]
            .payload
            .clone(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let report = drain(&bus, &mut store);
    assert_eq!(report.bad, 6, "{:#?}", report.bad_examples);
    assert_eq!(report.bad_examples.len(), 6);
    assert!(
        report.bad_examples[0].contains("not a vigie bin message"),
        "{:?}",
        report.bad_examples
    );
    assert!(report.bad_examples[1].contains("empty message"));
    assert!(report.bad_examples[2].contains("encoding version 9"));
    assert!(report.bad_examples[4].contains("belongs on vigie.bins.probe.country"));
    // Five good messages (the first bin's two parts, then three country
    // parts), all of one bin in a row: one store write, the later values
    // winning.
    assert_eq!(report.messages, 6 + 5);
    assert_eq!(report.bins, 1);
    let series = |entity: &str| {
        store
            .read_series(
                &key(entity, SignalKind::ProbeUpSlash24s),
                BinSize::FIVE_MINUTES,
                TimeRange::new(START, START + 300).unwrap(),
            )
            .unwrap()
            .values
    };
    assert_eq!(series("KZ"), [Some(121.0)]);
    assert_eq!(series("AS9198"), [Some(37.5)]);

    // The consumer's place is durable: a second run has nothing to do.
    let again = drain(&bus, &mut store);
    assert_eq!(again.messages, 0);
}

/// A source killed between the messages of one bin (its country part
/// stored, its AS part not) and run again on the same input sends the
/// whole bin again: the stored part is dropped as a duplicate, the other
/// stored, and the store holds the bin as from a source never stopped.
#[test]
fn a_bin_half_published_before_a_crash_is_completed_once_by_the_restarted_source() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let whole = SignalBin {
        bin: BinSize::FIVE_MINUTES,
        bin_start: START,
        values: vec![
            (key("KZ", SignalKind::HttpRequests), Some(120.0)),
            (key("AS9198", SignalKind::HttpRequests), Some(37.0)),
        ],
    };
    // What reached the stream before the kill: the first message of the
    // bin, byte for byte.
    let mut half = whole.clone();
    half.values.truncate(1);
    let parts = |bin: &SignalBin| encode(BinKind::Weighted(9), "access-log", bin).unwrap();
    assert_eq!(parts(&whole).len(), 2);
    assert_eq!(parts(&half)[0], parts(&whole)[0]);
    bus.sink("access-log").write_weighted(&half, 9).unwrap();

    let mut restarted = bus.sink("access-log");
    restarted.write_weighted(&whole, 9).unwrap();
    let tally = restarted.tally();
    assert_eq!((tally.messages, tally.duplicates), (1, 1));
    assert_eq!(bus.stream_messages().unwrap(), 2);

    let mut direct = Store::open_in_memory().unwrap();
    direct.sink("access-log").write_weighted(&whole, 9).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let report = drain(&bus, &mut store);
    assert_eq!(
        (report.messages, report.bad),
        (2, 0),
        "{}",
        report.summary()
    );
    assert_eq!(
        store_contents(&store, range(1)),
        store_contents(&direct, range(1))
    );
    assert_eq!(
        store
            .bin_records("access-log", BinSize::FIVE_MINUTES, START)
            .unwrap(),
        Some(9)
    );
}
