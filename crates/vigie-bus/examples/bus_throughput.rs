//! Bin values per second through JetStream into the store (docs/BENCHMARKS.md):
//! a throwaway `nats-server -js`, `BINS` bins of `SERIES` AS series each
//! published through `JetStreamSink`, then consumed into a fresh SQLite
//! store by `store_bins`; the same bins written straight through the
//! store's sink for comparison.
//!
//! `cargo run --release -p vigie-bus --example bus_throughput -- [BINS] [SERIES]`

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use vigie_bus::testing::NatsServer;
use vigie_bus::{store_bins, Bus, ConsumerOptions, StreamSettings};
use vigie_model::{BinSink, BinSize, SeriesKey, SignalBin, SignalKind};
use vigie_store::Store;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("numbers"));
    let bins = args.next().unwrap_or(24);
    let series = args.next().unwrap_or(100_000);
    let Some(server) = NatsServer::start() else {
        std::process::exit(1);
    };
    let keys: Vec<SeriesKey> = (0..series)
        .map(|i| SeriesKey {
            entity: vigie_model::Entity::Asn(64_512 + i as u32),
            signal: SignalKind::BgpVisibleSlash24s,
        })
        .collect();
    let bin = |index: u64| SignalBin {
        bin: BinSize::FIVE_MINUTES,
        bin_start: 1_700_000_100 / 300 * 300 + index as i64 * 300,
        values: keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.clone(),
                    Some(((i as u64 * 31 + index * 7) % 4_096) as f64),
                )
            })
            .collect(),
    };
    let values = (bins * series) as f64;

    let direct_dir = tempfile::tempdir().unwrap();
    let mut direct = Store::open(direct_dir.path()).unwrap();
    let started = Instant::now();
    for index in 0..bins {
        direct.sink("bgp").write(&bin(index)).unwrap();
    }
    let direct_secs = started.elapsed().as_secs_f64();

    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let mut sink = bus.sink("bgp");
    let started = Instant::now();
    for index in 0..bins {
        sink.write(&bin(index)).unwrap();
    }
    let publish_secs = started.elapsed().as_secs_f64();
    let tally = sink.tally();

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let options = ConsumerOptions {
        exit_when_drained: true,
        ..ConsumerOptions::default()
    };
    let started = Instant::now();
    let report = store_bins(
        &bus,
        &mut store,
        options,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let consume_secs = started.elapsed().as_secs_f64();
    assert_eq!(report.values, bins * series);

    println!("{bins} bins x {series} series = {values} values");
    println!(
        "direct store sink:        {direct_secs:.2} s, {:.0} values/s",
        values / direct_secs
    );
    println!(
        "publish (JetStreamSink):  {publish_secs:.2} s, {:.0} values/s, {} messages, {:.1} bytes/value",
        values / publish_secs,
        tally.messages,
        tally.bytes as f64 / values
    );
    println!(
        "consume into the store:   {consume_secs:.2} s, {:.0} values/s",
        values / consume_secs
    );
    println!(
        "end to end (publish, then consume): {:.0} values/s",
        values / (publish_secs + consume_secs)
    );
}
