//! Detection throughput through the bus (docs/BENCHMARKS.md): a throwaway
//! `nats-server -js`, `DAYS` days of five-minute bins of `COUNTRIES`
//! countries with `REGIONS` regions and `ASES` ASes each (visible /24s with
//! a daily cycle, an outage in every tenth country and its ASes) published
//! through `JetStreamSink`, then detected by `detect_from_bus` (the loop of
//! `vigie bus detect`) with one worker (`--share 1/1`), then with two (`1/2`
//! and `2/2`, each on its own thread, bus connection and store connection),
//! each time into a fresh store holding the AS-to-country table (each AS in
//! its one country): a temporary SQLite store, or the empty PostgreSQL
//! databases `STORE1` and `STORE2` (`postgres://` URLs, one per run; build
//! with `--features vigie-store/postgres`). Both runs must store the same
//! incidents.
//!
//! `cargo run --release -p vigie-bus --example detect_throughput -- [DAYS] [COUNTRIES] [REGIONS] [ASES] [STORE1 STORE2]`

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use vigie_bus::detect::{detect_from_bus, DetectOptions};
use vigie_bus::testing::NatsServer;
use vigie_bus::{Bus, StreamSettings};
use vigie_model::{BinSink, BinSize, CountryCode, Entity, SeriesKey, SignalBin, SignalKind};
use vigie_pipeline::Share;
use vigie_store::{AsCountrySpace, ResultFilter, Store};

const START: i64 = 1_700_006_400 / 86_400 * 86_400;

fn main() {
    // Numbers first, then the store URLs (so `ASES` may be left out).
    let (numbers, urls): (Vec<String>, Vec<String>) = std::env::args()
        .skip(1)
        .partition(|a| a.parse::<u64>().is_ok());
    let number = |i: usize, default: u64| numbers.get(i).map_or(default, |a| a.parse().unwrap());
    let days = number(0, 14);
    let countries = number(1, 40);
    let regions = number(2, 9);
    let ases = number(3, 5);
    let store_urls = [urls.first().cloned(), urls.get(1).cloned()];
    let Some(server) = NatsServer::start() else {
        std::process::exit(1);
    };
    let mut keys = Vec::new();
    let mut as_countries = Vec::new();
    // Two-letter codes in order ("AS…" reads as an AS number: skipped).
    let codes = (0..26 * 26u64)
        .map(|c| String::from_utf8(vec![b'A' + (c / 26) as u8, b'A' + (c % 26) as u8]).unwrap())
        .filter(|code| !code.starts_with("AS"));
    for (c, code) in codes.take(countries as usize).enumerate() {
        let c = c as u64;
        keys.push((c, code.parse::<Entity>().unwrap()));
        for r in 0..regions {
            keys.push((c, format!("{code}/R{r}").parse::<Entity>().unwrap()));
        }
        for a in 0..ases {
            let asn = 64_512 + (c * ases + a) as u32;
            keys.push((c, Entity::Asn(asn)));
            as_countries.push(AsCountrySpace {
                asn,
                country: CountryCode::new(&code).unwrap(),
                units_v4: 500,
                units_v6: 0,
                observed_at: START,
            });
        }
    }
    let bins = days * 288;
    let bin = |index: u64| {
        let t = START + index as i64 * 300;
        let hour = (t % 86_400) as f64 / 3_600.0;
        SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: t,
            values: keys
                .iter()
                .enumerate()
                .map(|(i, (country, entity))| {
                    let base = 500.0 + 40.0 * (i % 17) as f64;
                    let cycle = 1.0 + 0.05 * (hour / 24.0 * std::f64::consts::TAU).sin();
                    let noise = ((index * 7 + i as u64 * 13) % 11) as f64;
                    let outage =
                        country % 10 == 3 && index > bins * 2 / 3 && index < bins * 2 / 3 + 24;
                    let value = if outage {
                        0.1 * base
                    } else {
                        (base * cycle).round() + noise
                    };
                    (
                        SeriesKey {
                            entity: entity.clone(),
                            signal: SignalKind::BgpVisibleSlash24s,
                        },
                        Some(value),
                    )
                })
                .collect(),
        }
    };
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let mut sink = bus.sink("bgp");
    for index in 0..bins {
        sink.write(&bin(index)).unwrap();
    }
    let messages = bus.stream_messages().unwrap();
    println!(
        "{bins} bins of {} series ({messages} messages) on the bus",
        keys.len()
    );

    let mut stored = Vec::new();
    for workers in [1u32, 2] {
        let dir = tempfile::tempdir().unwrap();
        let url = &store_urls[workers as usize - 1];
        let open = || match url {
            Some(url) => Store::open_url(url).unwrap(),
            None => Store::open(dir.path()).unwrap(),
        };
        open().replace_as_countries(&as_countries).unwrap();
        let started = Instant::now();
        let reports: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..=workers)
                .map(|index| {
                    let url = server.url.clone();
                    let open = &open;
                    scope.spawn(move || {
                        let bus = Bus::connect(&url, &StreamSettings::default()).unwrap();
                        let mut store = open();
                        let mut options = DetectOptions::new(Share {
                            index,
                            count: workers,
                        });
                        options.consumer.exit_when_drained = true;
                        options.consumer.batch = 256;
                        let stop = AtomicBool::new(false);
                        detect_from_bus(&bus, &mut store, &options, &stop, &mut |_| {}).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let secs = started.elapsed().as_secs_f64();
        let mut incidents = open().incidents(&ResultFilter::default()).unwrap();
        incidents.sort_by(|a, b| (&a.entity, a.start).cmp(&(&b.entity, b.start)));
        for (i, report) in reports.iter().enumerate() {
            let share = Share {
                index: i as u32 + 1,
                count: workers,
            };
            let country_ases = share.country_ases(&as_countries);
            let followed = |asn: bool| {
                keys.iter()
                    .filter(|(_, e)| matches!(e, Entity::Asn(_)) == asn)
                    .filter(|(_, e)| share.follows(e, &country_ases))
                    .count()
            };
            println!(
                "  worker {share}: follows {} other series and {} ASes; {}",
                followed(false),
                followed(true),
                report.summary()
            );
        }
        println!(
            "{workers} worker(s): {secs:.2} s, {:.0} bins/s, {:.0} bin values/s, {} incidents stored",
            bins as f64 / secs,
            (bins * keys.len() as u64) as f64 / secs,
            incidents.len(),
        );
        stored.push(incidents);
    }
    assert_eq!(
        stored[0], stored[1],
        "one and two workers stored different incidents"
    );
    println!("one and two workers stored the same incidents");
}
