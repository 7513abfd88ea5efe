//! The read endpoints that list the whole store (docs/BENCHMARKS.md, "HTTP
//! API: endpoints that list the store"; issue 13): `/api/v1/entities`,
//! `/api/v1/coverage`, `/api/v1/summary` and IODA's `/v2/entities/query`,
//! over a store shaped like `vigie bench world` in the middle of its
//! simulated day: countries, regions and ASes with 4 signals each, and the
//! day's bins so far still staged (written bin by bin, as the live loop
//! does, not yet compacted). Each endpoint is asked in turn on a new
//! connection and its latency recorded.
//!
//! `cargo bench -p vigie-publish --bench reads`
//! Env: VIGIE_BENCH_ENTITIES (default 1605: 5 countries, 100 regions, 1,500
//!      ASes, as `bench world --scale 0.02`), VIGIE_BENCH_BINS (staged bins,
//!      default 144: half a day), VIGIE_BENCH_REQUESTS (per endpoint, 200).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind};
use vigie_publish::AppState;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// GET on a new connection, reading the whole answer: (status, bytes).
fn get(addr: SocketAddr, path: &str) -> (u16, usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let status = std::str::from_utf8(&all[9..12]).unwrap().parse().unwrap();
    (status, all.len())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The entities of the store: a twentieth countries, a fifteenth regions
/// (of those countries), the rest ASes.
fn entities(n: usize) -> Vec<Entity> {
    let countries = (n / 321).max(1);
    let regions = (n * 100 / 1605).max(1);
    let cc = |i: usize| {
        format!(
            "{}{}",
            (b'A' + (i / 26 % 26) as u8) as char,
            (b'A' + (i % 26) as u8) as char
        )
    };
    let mut out: Vec<Entity> = (0..countries).map(|i| cc(i).parse().unwrap()).collect();
    out.extend((0..regions).map(|i| format!("{}/Region {i}", cc(i % countries)).parse().unwrap()));
    out.extend(
        (0..n.saturating_sub(out.len())).map(|i| format!("AS{}", 64_512 + i).parse().unwrap()),
    );
    out
}

fn main() {
    let n = env_u64("VIGIE_BENCH_ENTITIES", 1605) as usize;
    let bins = env_u64("VIGIE_BENCH_BINS", 144) as i64;
    let requests = env_u64("VIGIE_BENCH_REQUESTS", 200) as usize;
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::FlowBytesFrom,
    ];
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let list = entities(n);
    let keys: Vec<SeriesKey> = list
        .iter()
        .flat_map(|e| {
            signals.iter().map(|s| SeriesKey {
                entity: e.clone(),
                signal: *s,
            })
        })
        .collect();
    {
        let mut store = vigie_store::Store::open(dir.path()).unwrap();
        let bin = BinSize::default();
        let day = 1_736_035_200; // 2025-01-05
                                 // Yesterday, compacted.
        for b in 0..288 {
            let values: Vec<_> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), Some(1000.0 + i as f64 + (b % 7) as f64)))
                .collect();
            store
                .write_bin("bench", bin, day - 86_400 + b * 300, &values)
                .unwrap();
        }
        store.compact().unwrap();
        // Today so far, staged.
        for b in 0..bins {
            let values: Vec<_> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), Some(1000.0 + i as f64 + (b % 5) as f64)))
                .collect();
            store
                .write_bin("bench", bin, day + b * 300, &values)
                .unwrap();
        }
        let names: Vec<(Entity, String)> = list
            .iter()
            .filter(|e| matches!(e, Entity::Asn(_)))
            .map(|e| (e.clone(), format!("Network {e}")))
            .collect();
        store.set_entity_names(&names).unwrap();
    }
    eprintln!(
        "store: {} entities, {} series, a compacted day and {bins} staged bins, written in {:.1} s",
        list.len(),
        keys.len(),
        started.elapsed().as_secs_f64()
    );

    let state = AppState::open(dir.path()).unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = vigie_publish::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            vigie_publish::serve(listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    let addr: SocketAddr = addr_rx.recv().unwrap();

    println!("| endpoint | requests | bytes | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for path in [
        "/api/v1/entities?limit=100",
        "/api/v1/entities?limit=10",
        "/api/v1/coverage",
        "/api/v1/summary?from=2025-01-04&until=2025-01-06",
        "/v2/entities/query?entityType=asn&limit=100",
    ] {
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let (status, len) = get(addr, path);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{path}");
            bytes = len;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| `{path}` | {requests} | {bytes} | {:.2} ms | {:.2} ms | {:.2} ms |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
}
