//! Bin values per second through JetStream into the store (docs/BENCHMARKS.md):
//! a throwaway `nats-server -js`, `BINS` bins of `SERIES` AS series each
//! published through `JetStreamSink`, then consumed into a fresh store by
//! `store_bins`; the same bins written straight through the store's sink
//! for comparison. The stores are temporary SQLite stores, or the empty
//! PostgreSQL databases `DIRECT` and `CONSUMED` (`postgres://` URLs, the
//! first for the store's own sink, the second for the consumer; build with
//! `--features vigie-store/postgres`). Each store is given a first bin,
//! which creates the series, before the timed bins; it is timed apart.
//!
//! `cargo run --release -p vigie-bus --example bus_throughput -- [BINS] [SERIES] [DIRECT CONSUMED]`

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use vigie_bus::testing::NatsServer;
use vigie_bus::{store_bins, Bus, ConsumerOptions, StreamSettings};
use vigie_model::{BinSink, BinSize, SeriesKey, SignalBin, SignalKind};
use vigie_store::Store;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let bins = number(0, 24);
    let series = number(1, 100_000);
    let store_urls = [args.get(2).cloned(), args.get(3).cloned()];
    let open = |url: &Option<String>, dir: &tempfile::TempDir| match url {
        Some(url) => Store::open_url(url).unwrap(),
        None => Store::open(dir.path()).unwrap(),
    };
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

    // Bin 0 creates the series in each store, as the first bin a running
    // deployment ever wrote did; it is timed apart. Bins 1..=BINS are timed.
    let first_bin = |store: &mut Store| {
        let started = Instant::now();
        store.sink("bgp").write(&bin(0)).unwrap();
        started.elapsed().as_secs_f64()
    };
    let direct_dir = tempfile::tempdir().unwrap();
    let mut direct = open(&store_urls[0], &direct_dir);
    let first_secs = first_bin(&mut direct);
    let started = Instant::now();
    for index in 1..=bins {
        direct.sink("bgp").write(&bin(index)).unwrap();
    }
    let direct_secs = started.elapsed().as_secs_f64();

    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let mut sink = bus.sink("bgp");
    let started = Instant::now();
    for index in 1..=bins {
        sink.write(&bin(index)).unwrap();
    }
    let publish_secs = started.elapsed().as_secs_f64();
    let tally = sink.tally();

    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&store_urls[1], &dir);
    first_bin(&mut store);
    let options = ConsumerOptions {
        exit_when_drained: true,
        ..ConsumerOptions::default()
    };
    let cpu_before = cpu_by_process(store_urls[1].as_deref());
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
    let cpu_after = cpu_by_process(store_urls[1].as_deref());
    assert_eq!(report.values, bins * series);

    let store_name = match &store_urls[1] {
        Some(_) => "PostgreSQL",
        None => "SQLite",
    };
    println!("{bins} bins x {series} series = {values} values, into {store_name}");
    println!("first bin, creating the series: {first_secs:.2} s (not counted below)");
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
    println!("CPU seconds while consuming (Linux's /proc):");
    for (name, after) in &cpu_after {
        let before = cpu_before
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, s)| *s);
        println!("  {name:<40} {:.2} s", after - before);
    }
}

/// CPU seconds (user and system) so far of this process's threads (by
/// name), of its `nats-server` child, and of the PostgreSQL backends
/// serving the database of `url`; empty where `/proc` is not readable.
/// Assumes the usual 100 clock ticks a second.
fn cpu_by_process(url: Option<&str>) -> Vec<(String, f64)> {
    // (comm, ppid, user + system ticks) from a `stat` file.
    let stat = |path: std::path::PathBuf| -> Option<(String, u32, u64)> {
        let text = std::fs::read_to_string(path).ok()?;
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let fields: Vec<&str> = text[close + 2..].split(' ').collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some((
            text[open + 1..close].to_string(),
            fields.get(1)?.parse().ok()?,
            ticks,
        ))
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut add = |name: String, ticks: u64| match out.iter_mut().find(|(n, _)| *n == name) {
        Some((_, secs)) => *secs += ticks as f64 / 100.0,
        None => out.push((name, ticks as f64 / 100.0)),
    };
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some((comm, _, ticks)) = stat(task.path().join("stat")) {
                add(format!("this process, thread {comm}"), ticks);
            }
        }
    }
    let me = std::process::id();
    let database = url
        .and_then(|u| u.rsplit('/').next())
        .map(|d| format!(" {d} "));
    if let Ok(processes) = std::fs::read_dir("/proc") {
        for process in processes.flatten() {
            let Some((comm, ppid, ticks)) = stat(process.path().join("stat")) else {
                continue;
            };
            if comm == "nats-server" && ppid == me {
                add("nats-server".to_string(), ticks);
            } else if let Some(database) = &database {
                let cmdline = std::fs::read(process.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                if cmdline.starts_with("postgres:") && cmdline.contains(database.as_str()) {
                    add("PostgreSQL backend of the consumer".to_string(), ticks);
                }
            }
        }
    }
    out
}
