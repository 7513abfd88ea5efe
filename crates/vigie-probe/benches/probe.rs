//! The prober's benchmark (docs/BENCHMARKS.md, "Active probing"):
//!
//! 1. **Engine, one core, no I/O**: probes/s of the round logic with belief
//!    updates on a large generated list (default 1,000,000 blocks): building
//!    each probe (cookie, checksum), parsing each reply, verifying its cookie,
//!    updating the belief, expiring timeouts. Memory per block is measured
//!    from the process's resident set.
//! 2. **Real packets** (root only): the raw-socket prober in the namespace
//!    lab against a "country" of 50,000 blocks, then `fping` probing the
//!    same targets from the same namespace, in the same run.
//!
//! `cargo bench -p vigie-probe --bench probe`
//! Env: VIGIE_BENCH_BLOCKS (engine list size), VIGIE_BENCH_LAB_BLOCKS,
//!      VIGIE_BENCH_RATE (prober cap, probes/s), VIGIE_BENCH_ROUND_MS.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use vigie_probe::icmp::internet_checksum;
use vigie_probe::lab::{enter_netns, unavailable_reason, Lab};
use vigie_probe::{BeliefParams, Engine, IcmpSocket, ProbeList, Prober, ProberConfig};

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of this process, bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `blocks` blocks from `first`, `hosts` hosts each (.1, .2, …).
fn generated_list(first: Ipv4Addr, blocks: u32, hosts: u8) -> ProbeList {
    let octets: Vec<u8> = (1..=hosts).collect();
    let mut list = ProbeList::default();
    let base = u32::from(first) & !0xff;
    for b in 0..blocks {
        let network = Ipv4Addr::from(base + (b << 8));
        list.push_sorted(network, 0.8, &octets)
            .expect("sorted generated list");
    }
    list
}

/// Turns an echo request into the reply a raw socket would read.
fn reply_for(request: &[u8], target: Ipv4Addr, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0x45, 0, 0, 44, 0, 0, 0, 0, 64, 1, 0, 0]);
    out.extend_from_slice(&target.octets());
    out.extend_from_slice(&[100, 64, 0, 1]);
    let start = out.len();
    out.extend_from_slice(request);
    out[start] = 0;
    out[start + 2] = 0;
    out[start + 3] = 0;
    let sum = internet_checksum(&out[start..]);
    out[start + 2..start + 4].copy_from_slice(&sum.to_be_bytes());
}

fn engine_bench() {
    let blocks = env_u32("VIGIE_BENCH_BLOCKS", 1_000_000);
    let hosts = 16u8;
    let before = rss_bytes();
    let list = generated_list(Ipv4Addr::new(1, 0, 0, 0), blocks, hosts);
    let engine = Engine::new(list, BeliefParams::default(), 7, 11);
    let after = rss_bytes();
    let per_block = (after.saturating_sub(before)) as f64 / f64::from(blocks);
    let list_per_block = engine.list().bytes_per_block();
    println!(
        "engine: {blocks} blocks x {hosts} hosts: {per_block:.1} B/block resident (list {list_per_block:.1} B incl. {hosts} host octets; belief+schedule state {} B)",
        Engine::state_bytes_per_block()
    );
    let mut engine = engine;
    let mut packet = Vec::with_capacity(64);
    let started = Instant::now();
    let cpu_start = thread_cpu();
    let mut probes = 0u64;
    let round = Duration::from_secs(600);
    for r in 0..3u64 {
        // Round r: 1 block in 10 is silent (r = 1 and 2), so it takes timeouts
        // and adaptive probes; the rest answer every probe.
        let t0 = round * (r as u32) * 2;
        engine.start_round(t0, round);
        let mut now = t0 + round; // every periodic probe is due
        while !engine.is_settled() {
            engine.expire(now);
            while let Some(probe) = engine.next_probe(now) {
                engine.probe_sent(&probe, now);
                probes += 1;
                let silent = r > 0 && probe.block_index % 10 == 0;
                if !silent {
                    reply_for(&probe.packet, probe.target, &mut packet);
                    engine.handle_packet(&packet, now);
                }
            }
            now += Duration::from_secs(3);
        }
        let report = engine.finish_round(now);
        println!(
            "engine: round {}: {} up, {} down, {} uncertain; {} probes ({} adaptive), {} timeouts",
            report.round,
            report.up,
            report.down,
            report.uncertain,
            report.periodic_probes + report.adaptive_probes,
            report.adaptive_probes,
            report.timeouts
        );
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (thread_cpu() - cpu_start).as_secs_f64();
    println!(
        "engine: {probes} probes with belief updates in {wall:.2} s wall, {cpu:.2} s CPU on one core: {:.0} probes/s per core",
        probes as f64 / cpu.max(1e-9)
    );
}

fn lab_bench() {
    if let Some(reason) = unavailable_reason() {
        println!("lab: SKIPPED (real-packet part): {reason}");
        return;
    }
    // The lab's country is 10.0.0.0/8: 65,536 /24s; fping handles < 65,535 targets.
    let blocks = env_u32("VIGIE_BENCH_LAB_BLOCKS", 50_000).min(65_000);
    let rate = env_u32("VIGIE_BENCH_RATE", 200_000);
    let round_ms = env_u32("VIGIE_BENCH_ROUND_MS", 1000).max(1);
    let lab = match Lab::create("b", "10.0.0.0/8".parse().expect("prefix")) {
        Ok(lab) => lab,
        Err(e) => {
            println!("lab: SKIPPED: {e}");
            return;
        }
    };
    let ns = lab.vantage_ns.clone();
    let list = generated_list(Ipv4Addr::new(10, 0, 0, 0), blocks, 1);
    let targets: Vec<String> = (0..list.len())
        .filter_map(|i| list.host(i, 0))
        .map(|a| a.to_string())
        .collect();
    let sent_before = lab.echo_requests_sent().unwrap_or(0);
    let result = std::thread::spawn(move || {
        enter_netns(&ns).expect("vantage namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let socket = IcmpSocket::open().expect("raw socket");
            let params = BeliefParams {
                timeout_ms: 500,
                ..BeliefParams::default()
            };
            let engine = Engine::new(list, params, 9, 3);
            let config = ProberConfig {
                rate_pps: rate,
                burst: (rate / 100).max(1),
                round: Duration::from_millis(u64::from(round_ms)),
            };
            // The lab floods its own namespaces: past the default ceiling on purpose.
            let ceiling = vigie_probe::RateCeiling::raised_to(rate);
            let mut prober =
                Prober::with_rate_ceiling(socket, engine, config, ceiling).expect("prober");
            let started = Instant::now();
            let cpu_start = thread_cpu();
            let mut reports = Vec::new();
            for _ in 0..3 {
                reports.push(prober.run_round().await);
            }
            (reports, started.elapsed(), thread_cpu() - cpu_start)
        })
    })
    .join();
    let Ok((reports, wall, cpu)) = result else {
        println!("lab: the prober thread panicked");
        return;
    };
    let probes: u64 = reports
        .iter()
        .map(|r| r.periodic_probes + r.adaptive_probes)
        .sum();
    let replies: u64 = reports.iter().map(|r| r.replies).sum();
    let counted = lab.echo_requests_sent().unwrap_or(0) - sent_before;
    for r in &reports {
        println!(
            "vigie: round {}: {} up, {} down, {} uncertain; {} probes, {} replies, {} timeouts, {} buffer-full retries, {:.0} probes/s",
            r.round, r.up, r.down, r.uncertain, r.periodic_probes + r.adaptive_probes, r.replies,
            r.timeouts, r.send_buffer_full, r.send_rate_pps()
        );
    }
    println!(
        "vigie: {blocks} blocks, rounds of {round_ms} ms, cap {rate}/s: {probes} probes ({counted} counted by nftables), {replies} replies in {:.2} s wall = {:.0} probes/s; prober thread CPU {:.2} s = {:.0} probes per CPU-second",
        wall.as_secs_f64(),
        probes as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64(),
        probes as f64 / cpu.as_secs_f64().max(1e-9)
    );

    // fping on the same targets, from the same namespace.
    let path = std::env::temp_dir().join(format!("vigie-bench-targets-{}", std::process::id()));
    if std::fs::write(&path, targets.join("\n") + "\n").is_err() {
        println!("fping: SKIPPED: cannot write the target file");
        return;
    }
    for interval in ["0", "1"] {
        let started = Instant::now();
        let output = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.vantage_ns,
                "fping",
                "-q",
                "-c",
                "1",
                "-r",
                "0",
                "-t",
                "500",
                "-i",
                interval,
                "-f",
            ])
            .arg(&path)
            .output();
        let wall = started.elapsed().as_secs_f64();
        match output {
            Ok(out) if out.status.code().is_some_and(|c| c <= 1) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let alive = stderr.lines().filter(|l| l.contains("1/1/0%")).count();
                println!(
                    "fping -c 1 -r 0 -t 500 -i {interval}: {} targets, {alive} answered, in {wall:.2} s wall = {:.0} probes/s",
                    targets.len(),
                    targets.len() as f64 / wall
                );
                break;
            }
            Ok(out) => println!(
                "fping -i {interval}: exit {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            Err(e) => {
                println!("fping: SKIPPED: {e}");
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // useful either: both run the whole benchmark.
    engine_bench();
    lab_bench();
}
