//! Traffic benchmark, in one run (`cargo bench -p vigie-traffic --bench traffic`):
//!
//! 1. NetFlow v9 records decoded and aggregated per second on one core by
//!    vigie (`FlowPipeline::ingest`, geo lookups and bin close included),
//!    against `nfcapd` (nfdump) collecting the same datagrams replayed over
//!    UDP, measured in records per CPU second of the nfcapd process; and
//!    vigie's own UDP collector on the same replay, per CPU second of its
//!    thread.
//! 2. Access-log lines per second: vigie's reader and aggregator against
//!    GNU awk counting requests per client /24 on the same file.
//!
//! Env: VIGIE_BENCH_RECORDS (default 2,000,000), VIGIE_BENCH_BLOCKS (distinct
//! /24s the flow addresses come from, default 100,000), VIGIE_BENCH_LINES
//! (default 1,000,000). Timings go to docs/BENCHMARKS.md, never to tests.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use vigie_geo::GeoDb;
use vigie_model::BinSize;
use vigie_traffic::access_log::{read_lines, AccessLogAggregator};
use vigie_traffic::flow::aggregate::FlowAggregator;
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;

const RECORDS_PER_DATAGRAM: usize = 40;
/// (element id, length): src, dst, bytes, packets, src port, dst port,
/// protocol, TCP flags, first switched, last switched, input, output.
const TEMPLATE: [(u16, u16); 12] = [
    (8, 4),
    (12, 4),
    (1, 4),
    (2, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (22, 4),
    (21, 4),
    (10, 2),
    (14, 2),
];

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// xorshift: reproducible pseudo-random addresses and sizes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn public_v4(&mut self) -> Ipv4Addr {
        loop {
            let a = Ipv4Addr::from(self.next() as u32);
            let o = a.octets();
            if (1..224).contains(&o[0]) && o[0] != 10 && o[0] != 127 {
                return a;
            }
        }
    }
}

fn header(count: u16, sequence: u32, unix_secs: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(1500);
    d.extend_from_slice(&9u16.to_be_bytes());
    d.extend_from_slice(&count.to_be_bytes());
    d.extend_from_slice(&3_600_000u32.to_be_bytes());
    d.extend_from_slice(&unix_secs.to_be_bytes());
    d.extend_from_slice(&sequence.to_be_bytes());
    d.extend_from_slice(&0u32.to_be_bytes());
    d
}

/// A template datagram followed by data datagrams of 40 records each,
/// between addresses of `blocks` random public /24s (a busy border router
/// sees some 10^5 distinct /24s in five minutes).
fn v9_workload(records: usize, blocks: usize, unix_secs: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut t = header(1, 0, unix_secs);
    let len = 8 + TEMPLATE.len() * 4;
    t.extend_from_slice(&0u16.to_be_bytes());
    t.extend_from_slice(&(len as u16).to_be_bytes());
    t.extend_from_slice(&256u16.to_be_bytes());
    t.extend_from_slice(&(TEMPLATE.len() as u16).to_be_bytes());
    for (id, size) in TEMPLATE {
        t.extend_from_slice(&id.to_be_bytes());
        t.extend_from_slice(&size.to_be_bytes());
    }
    out.push(t);
    let record_len: usize = TEMPLATE.iter().map(|f| usize::from(f.1)).sum();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pool: Vec<u32> = (0..blocks.max(1))
        .map(|_| u32::from(rng.public_v4()) & 0xffff_ff00)
        .collect();
    let address = |rng: &mut Rng| {
        let block = pool[(rng.next() % pool.len() as u64) as usize];
        Ipv4Addr::from(block | (rng.next() & 0xff) as u32)
    };
    let mut left = records;
    let mut sequence = 1;
    while left > 0 {
        let n = left.min(RECORDS_PER_DATAGRAM);
        let mut d = header(n as u16, sequence, unix_secs);
        sequence += 1;
        let set_len = 4 + n * record_len;
        let padded = set_len.div_ceil(4) * 4;
        d.extend_from_slice(&256u16.to_be_bytes());
        d.extend_from_slice(&(padded as u16).to_be_bytes());
        for _ in 0..n {
            let packets = 1 + (rng.next() % 20) as u32;
            d.extend_from_slice(&address(&mut rng).octets());
            d.extend_from_slice(&address(&mut rng).octets());
            d.extend_from_slice(&(packets * (40 + (rng.next() % 1400) as u32)).to_be_bytes());
            d.extend_from_slice(&packets.to_be_bytes());
            d.extend_from_slice(&((rng.next() % 65535) as u16 + 1).to_be_bytes());
            d.extend_from_slice(&443u16.to_be_bytes());
            d.push(6);
            d.push(0x18);
            d.extend_from_slice(&3_500_000u32.to_be_bytes());
            d.extend_from_slice(&3_590_000u32.to_be_bytes());
            d.extend_from_slice(&1u16.to_be_bytes());
            d.extend_from_slice(&2u16.to_be_bytes());
        }
        d.resize(d.len() + (padded - set_len), 0);
        out.push(d);
        left -= n;
    }
    out
}

fn bench_vigie_flows(datagrams: &[Vec<u8>], records: usize) -> f64 {
    let exporter: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let geo = GeoDb::embedded();
    geo.preload();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut pipeline = FlowPipeline::new(geo.clone(), BinSize::FIVE_MINUTES, vec![])
            .with_decoder(FlowDecoder::new().quiet());
        let start = Instant::now();
        for d in datagrams {
            pipeline.ingest(exporter, 1_700_000_000, d);
        }
        let bins = pipeline.close_all();
        let secs = start.elapsed().as_secs_f64();
        let counted: u64 = pipeline.health().values().map(|h| h.records).sum();
        assert_eq!(counted as usize, records, "vigie decoded every record");
        assert_eq!(bins.len(), 1);
        best = best.min(secs);
    }
    records as f64 / best
}

/// Where vigie's time goes: (decode-only records/s, aggregate-only records/s).
fn vigie_flow_breakdown(datagrams: &[Vec<u8>], records: usize) -> (f64, f64) {
    let exporter: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let geo = GeoDb::embedded();
    let mut decoded = Vec::with_capacity(records);
    let mut best_decode = f64::MAX;
    for _ in 0..3 {
        let mut decoder = FlowDecoder::new().quiet();
        decoded.clear();
        let start = Instant::now();
        for d in datagrams {
            decoder.decode(exporter, 1_700_000_000, d, &mut decoded);
        }
        best_decode = best_decode.min(start.elapsed().as_secs_f64());
    }
    let mut best_aggregate = f64::MAX;
    for _ in 0..3 {
        let mut aggregator = FlowAggregator::new(geo.clone(), BinSize::FIVE_MINUTES, vec![]);
        let start = Instant::now();
        for r in &decoded {
            aggregator.add(1_700_000_000, r);
        }
        let _ = aggregator.close_all();
        best_aggregate = best_aggregate.min(start.elapsed().as_secs_f64());
    }
    (
        records as f64 / best_decode,
        records as f64 / best_aggregate,
    )
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> Option<f64> {
    cpu_secs_of(&format!("/proc/{pid}/stat"))
}

/// CPU seconds (user + system) of a `/proc/.../stat` file (process or thread).
fn cpu_secs_of(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    Some((utime + stime) / ticks)
}

/// Sends the datagrams to `to`, paced so no socket buffer overflows.
fn replay(datagrams: &[Vec<u8>], to: SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
    for chunk in datagrams.chunks(20) {
        for d in chunk {
            let _ = socket.send_to(d, to);
        }
        std::thread::sleep(Duration::from_micros(1000));
    }
}

/// vigie's UDP collector receiving the same paced replay as nfcapd; returns
/// (records counted, CPU seconds of the collector thread).
fn bench_vigie_udp(datagrams: &[Vec<u8>]) -> (u64, f64) {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let geo = GeoDb::embedded();
            geo.preload();
            let mut pipeline = FlowPipeline::new(geo, BinSize::FIVE_MINUTES, vec![])
                .with_decoder(FlowDecoder::new().quiet());
            let config = CollectorConfig {
                listen: vec!["127.0.0.1:0".parse().unwrap()],
                grace_secs: 60,
                run_for: None,
                limits: Default::default(),
            };
            let before = cpu_secs_of("/proc/thread-self/stat").unwrap_or(0.0);
            run_collector(
                &config,
                &mut pipeline,
                stop,
                |a| tx.send(a[0]).unwrap(),
                &mut Vec::new(),
                |_| {},
            )
            .expect("collector");
            let after = cpu_secs_of("/proc/thread-self/stat").unwrap_or(0.0);
            let records: u64 = pipeline.health().values().map(|h| h.records).sum();
            (records, after - before)
        })
    };
    let addr = rx.recv().expect("collector address");
    replay(datagrams, addr);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    collector.join().expect("collector thread")
}

/// Replays the datagrams to nfcapd; returns (records stored, CPU seconds).
fn bench_nfcapd(datagrams: &[Vec<u8>]) -> Option<(u64, f64)> {
    if !have("nfcapd") || !have("nfdump") {
        println!("nfcapd/nfdump not installed (scripts/setup.sh): nfcapd comparison skipped");
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let port = UdpSocket::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut nfcapd = Command::new("nfcapd")
        .args([
            "-b",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-B",
            "8388608",
            "-w",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(1000));
    let before = cpu_secs(nfcapd.id()).unwrap_or(0.0);
    // Paced, so the socket buffer never overflows: idle time costs no CPU.
    replay(datagrams, SocketAddr::from(([127, 0, 0, 1], port)));
    std::thread::sleep(Duration::from_millis(1000));
    let after = cpu_secs(nfcapd.id()).unwrap_or(0.0);
    let _ = Command::new("kill")
        .args(["-TERM", &nfcapd.id().to_string()])
        .status();
    let _ = nfcapd.wait();
    let output = Command::new("nfdump")
        .arg("-R")
        .arg(dir.path())
        .args(["-q", "-o", "csv"])
        .output()
        .ok()?;
    let stored = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .count() as u64;
    Some((stored, after - before))
}

fn access_log_file(lines: usize) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut w = std::io::BufWriter::new(file.as_file_mut());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..lines {
        let ip = rng.public_v4();
        let secs = i * 3600 / lines;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        writeln!(
            w,
            "{ip} - - [06/Jan/2025:{:02}:{m:02}:{s:02} +0000] \"GET /articles/{} HTTP/1.1\" 200 {} \"https://example.org/\" \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"",
            12 + h,
            rng.next() % 10_000,
            rng.next() % 50_000
        )
        .expect("write");
    }
    drop(w);
    file
}

fn bench_vigie_log(path: &std::path::Path, lines: usize) -> f64 {
    let geo = GeoDb::embedded();
    geo.preload();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut agg = AccessLogAggregator::new(geo.clone(), BinSize::FIVE_MINUTES, 300);
        let start = Instant::now();
        let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
        read_lines(file, "bench.log", &mut agg, &mut Vec::new()).unwrap();
        let _ = agg.close_all();
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(agg.stats().requests as usize, lines);
    }
    lines as f64 / best
}

fn bench_awk(path: &std::path::Path, lines: usize) -> Option<f64> {
    if !have("gawk") {
        println!("gawk not installed: awk comparison skipped");
        return None;
    }
    let program = r#"{ split($1, a, "."); n[a[1] "." a[2] "." a[3]]++; total++ } END { print total, length(n) }"#;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let out = Command::new("gawk").arg(program).arg(path).output().ok()?;
        best = best.min(start.elapsed().as_secs_f64());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!("{lines} ")),
            "gawk counted {text}"
        );
    }
    Some(lines as f64 / best)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let records = if quick {
        20_000
    } else {
        env_count("VIGIE_BENCH_RECORDS", 2_000_000)
    };
    let lines = if quick {
        10_000
    } else {
        env_count("VIGIE_BENCH_LINES", 1_000_000)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let blocks = env_count("VIGIE_BENCH_BLOCKS", 100_000);
    let datagrams = v9_workload(records, blocks, now);
    println!(
        "workload: {records} NetFlow v9 records in {} datagrams ({RECORDS_PER_DATAGRAM} records, {} fields each) between {blocks} /24s; {lines} access-log lines",
        datagrams.len() - 1,
        TEMPLATE.len()
    );
    let vigie_rate = bench_vigie_flows(&datagrams, records);
    println!(
        "vigie  flows: {:>12.0} records/s (decode + aggregate, one core, best of 3)",
        vigie_rate
    );
    let (decode, aggregate) = vigie_flow_breakdown(&datagrams, records);
    println!("  of which decode only: {decode:>12.0} records/s; aggregate only: {aggregate:>12.0} records/s");
    let (counted, cpu) = bench_vigie_udp(&datagrams);
    println!(
        "vigie  collector over UDP: {:>12.0} records per CPU second ({counted} of {records} records counted, {cpu:.2} CPU s)",
        counted as f64 / cpu.max(0.01)
    );
    if let Some((stored, cpu)) = bench_nfcapd(&datagrams) {
        println!(
            "nfcapd flows: {:>12.0} records per CPU second ({stored} of {records} records stored, {cpu:.2} CPU s)",
            stored as f64 / cpu.max(0.01)
        );
    }
    let log = access_log_file(lines);
    let vigie_lines = bench_vigie_log(log.path(), lines);
    println!(
        "vigie  access log: {:>12.0} lines/s (parse + geo + per-bin /24s, best of 3)",
        vigie_lines
    );
    if let Some(awk) = bench_awk(log.path(), lines) {
        println!(
            "gawk   access log: {:>12.0} lines/s (requests per /24, best of 3)",
            awk
        );
    }
}
