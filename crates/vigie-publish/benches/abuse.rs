//! The server under abuse (docs/BENCHMARKS.md, "HTTP API under abuse";
//! issue 14, findings 3 and 4): the API server with its default limits, in
//! this process on its own 2-thread runtime, over a store holding 20 years
//! of 5-minute bins of two signals for one country. A light client asks
//! `/api/v1/entities` and a one-day `/api/v1/signals` on a new connection
//! every 20 ms, and its latency is measured in each phase:
//!
//! 1. quiet: nothing else;
//! 2. slow clients: 200 connections sending their headers one byte every
//!    500 ms, and 50 that ask for a 3-year CSV and never read it;
//! 3. 10,000 idle connections opened and held;
//! 4. 40 heavy readers asking, in a loop with no pause, for the 20-year CSV
//!    at `maxPoints=200000`;
//! 5. all of them at once.
//!
//! `cargo bench -p vigie-publish --bench abuse`
//! Env: VIGIE_BENCH_PHASE_SECS (default 10), VIGIE_BENCH_IDLE (10000),
//!      VIGIE_BENCH_HEAVY (40), VIGIE_BENCH_YEARS (20).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_model::{BinSize, SeriesKey, SignalKind};
use vigie_publish::{AppState, ServerLimits};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// GET on a new connection (`Connection: close`), reading the whole answer:
/// (status, bytes read), or None when the connection failed.
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Option<(u16, usize)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut head = Vec::new();
    let mut total = 0;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if head.len() < 64 {
                    head.extend_from_slice(&buf[..n.min(64 - head.len())]);
                }
                total += n;
            }
            Err(_) => return None,
        }
    }
    let status = std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()?;
    Some((status, total))
}

/// Peak resident memory of this process so far, MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Light requests every 20 ms for `secs`: latencies (ms) and failures.
fn light_load(addr: SocketAddr, secs: u64) -> (Vec<f64>, usize) {
    let paths = [
        "/api/v1/entities".to_string(),
        "/api/v1/signals?entity=IQ&signal=bgp&from=2024-06-01&until=2024-06-02".to_string(),
    ];
    let mut latencies = Vec::new();
    let mut failures = 0;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut i = 0;
    while Instant::now() < end {
        let started = Instant::now();
        match get(addr, &paths[i % 2], Duration::from_secs(10)) {
            Some((200, _)) => latencies.push(started.elapsed().as_secs_f64() * 1000.0),
            _ => failures += 1,
        }
        i += 1;
        let spent = started.elapsed();
        if spent < Duration::from_millis(20) {
            std::thread::sleep(Duration::from_millis(20) - spent);
        }
    }
    (latencies, failures)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// 200 connections sending a header byte every 500 ms (reconnecting when
/// closed), and 50 that ask for a big CSV and never read it.
fn slow_clients(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    let stop2 = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        let header = b"GET /api/v1/entities HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut conns: Vec<(Option<TcpStream>, usize)> = (0..200).map(|_| (None, 0)).collect();
        while !stop2.load(Ordering::Relaxed) {
            for (conn, sent) in conns.iter_mut() {
                if conn.is_none() {
                    *conn = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok();
                    *sent = 0;
                }
                if let Some(stream) = conn {
                    let byte = header[*sent % header.len()];
                    if stream.write_all(&[byte]).is_err() {
                        *conn = None;
                    } else {
                        *sent += 1;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }));
    threads.push(std::thread::spawn(move || {
        let mut conns = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            conns.retain(|(_, opened): &(TcpStream, Instant)| opened.elapsed() < Duration::from_secs(40));
            while conns.len() < 50 {
                let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
                    break;
                };
                let _ = stream.write_all(
                    b"GET /api/v1/signals.csv?entity=IQ&from=2021-01-01&until=2024-01-01&maxPoints=200000 HTTP/1.1\r\nHost: slow\r\n\r\n",
                );
                conns.push((stream, Instant::now()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }));
    threads
}

/// Opens `count` connections and holds them until `stop`; returns how
/// many could be opened, and (at the end) how many the server had closed.
fn idle_connections(
    addr: SocketAddr,
    count: u64,
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..count {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                conns.push(stream);
                opened.fetch_add(1, Ordering::Relaxed);
            }
        }
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut gone = 0;
        for stream in &mut conns {
            let _ = stream.set_nonblocking(true);
            let mut buf = [0; 1];
            match stream.read(&mut buf) {
                Ok(0) => gone += 1,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => gone += 1,
                _ => {}
            }
        }
        closed.store(gone, Ordering::Relaxed);
    })
}

/// Heavy readers in a loop; counts answers by status.
fn heavy_readers(
    addr: SocketAddr,
    count: u64,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    busy: Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let (stop, ok, busy) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&busy));
            std::thread::spawn(move || {
                let path = "/api/v1/signals.csv?entity=IQ&from=2005-01-01&until=2024-12-01&maxPoints=200000";
                while !stop.load(Ordering::Relaxed) {
                    match get(addr, path, Duration::from_secs(120)) {
                        Some((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                        Some((503, _)) => busy.fetch_add(1, Ordering::Relaxed),
                        _ => 0,
                    };
                }
            })
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; nothing else is read from the arguments.
    let phase_secs = env_u64("VIGIE_BENCH_PHASE_SECS", 10);
    let idle = env_u64("VIGIE_BENCH_IDLE", 10_000);
    let heavy = env_u64("VIGIE_BENCH_HEAVY", 40);
    let years = env_u64("VIGIE_BENCH_YEARS", 20) as i64;
    let limits_text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let files = limits_text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("Max open files: unknown")
        .to_string();
    eprintln!("{files}");

    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    {
        let mut store = vigie_store::Store::open(dir.path()).unwrap();
        let start = 1_104_537_600; // 2005-01-01
        let bins = years * 365 * 288;
        let points: Vec<(i64, Option<f64>)> = (0..bins)
            .map(|i| (start + i * 300, Some(80_000.0 + (i % 288) as f64 * 10.0)))
            .collect();
        for signal in [SignalKind::BgpVisibleSlash24s, SignalKind::ProbeUpSlash24s] {
            let key = SeriesKey {
                entity: "IQ".parse().unwrap(),
                signal,
            };
            store
                .write_points(&key, BinSize::default(), &points)
                .unwrap();
        }
        store
            .set_entity_name(&"IQ".parse().unwrap(), "Iraq")
            .unwrap();
    }
    eprintln!(
        "store: {years} years x 2 signals of 5-minute bins written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let limits = ServerLimits::default();
    eprintln!("limits: {limits:?}");
    let state = AppState::open(dir.path()).unwrap().with_limits(limits);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server_state = state.clone();
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
            vigie_publish::serve(listener, server_state, std::future::pending())
                .await
                .unwrap();
        });
    });
    let addr: SocketAddr = addr_rx.recv().unwrap();

    let t = Instant::now();
    let whole = get(
        addr,
        "/api/v1/signals.csv?entity=IQ&from=2005-01-01&until=2024-12-01&maxPoints=200000",
        Duration::from_secs(300),
    );
    eprintln!(
        "one heavy read alone (20-year CSV, maxPoints=200000): {:?} in {:.2} s",
        whole.map(|w| w.0),
        t.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    let phases = [
        "quiet",
        "slow clients",
        "idle connections",
        "heavy readers",
        "all at once",
    ];
    for (index, phase) in phases.iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let (opened, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (ok, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        if index == 1 || index == 4 {
            threads.extend(slow_clients(addr, Arc::clone(&stop)));
        }
        if index == 2 || index == 4 {
            threads.push(idle_connections(
                addr,
                idle,
                Arc::clone(&stop),
                Arc::clone(&opened),
                Arc::clone(&closed),
            ));
            // Let them pile up before measuring.
            let wait = Instant::now();
            while opened.load(Ordering::Relaxed) < idle && wait.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if index == 3 || index == 4 {
            threads.extend(heavy_readers(
                addr,
                heavy,
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&busy),
            ));
            std::thread::sleep(Duration::from_millis(500));
        }
        let rss_before = rss_mb();
        let (mut latencies, failures) = light_load(addr, phase_secs);
        let rss_after = rss_mb();
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            let _ = thread.join();
        }
        latencies.sort_by(f64::total_cmp);
        let note = match index {
            1 => "200 slowloris + 50 non-reading CSV clients".to_string(),
            2 | 4 => format!(
                "{} idle opened, {} closed by the server{}",
                opened.load(Ordering::Relaxed),
                closed.load(Ordering::Relaxed),
                if index == 4 {
                    format!(
                        "; heavy: {} answered, {} got 503",
                        ok.load(Ordering::Relaxed),
                        busy.load(Ordering::Relaxed)
                    )
                } else {
                    String::new()
                }
            ),
            3 => format!(
                "heavy: {} answered, {} got 503",
                ok.load(Ordering::Relaxed),
                busy.load(Ordering::Relaxed)
            ),
            _ => String::new(),
        };
        let row = format!(
            "| {phase} | {} | {failures} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} → {:.0} MB | {note} |",
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            rss_before,
            rss_after,
        );
        eprintln!("{row}");
        rows.push(row);
        // Let closed connections drain before the next phase.
        std::thread::sleep(Duration::from_secs(2));
    }
    println!("\n| phase | light requests | failed | p50 | p99 | max | RSS during | notes |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\npeak RSS of the process (server and clients): {:.0} MB; {files}",
        peak_rss_mb()
    );
    let metrics = get_text(addr, "/metrics");
    for line in metrics.lines().filter(|l| {
        l.starts_with("vigie_http_heavy")
            || l.starts_with("vigie_http_cancelled")
            || l.starts_with("vigie_http_connections")
    }) {
        println!("{line}");
    }
}

/// GET returning the body as text.
fn get_text(addr: SocketAddr, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}
