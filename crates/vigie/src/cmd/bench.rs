//! `vigie bench`: measured speed and memory, against well-known tools on the
//! same input, in one run (the figures go to docs/BENCHMARKS.md); and
//! `vigie bench truth`, accuracy on synthetic entities (docs/ACCURACY.md).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bgpkit_parser::BgpkitParser;
use vigie_bgp::mrt::{discover, ingest_mrt, open_mrt, IngestOptions};
use vigie_bgp::{RoutingTable, VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::{BinSize, Discard};
use vigie_store::Store;

use crate::cli::{BenchCommand, BenchDetectArgs, BenchMemoryArgs, BenchMrtArgs, BenchTruthArgs};

/// Runs a `vigie bench` command.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Mrt(args) => mrt(args),
        BenchCommand::Memory(args) => memory(args),
        BenchCommand::Detect(args) => detect(args),
        BenchCommand::Truth(args) => truth(args),
    }
}

/// The real RIS update files of the shared data, used when no file is given.
const DEFAULT_INPUTS: [&str; 3] = [
    "mrt/bgpdump/updates.20160811.1600.gz",
    "mrt/bgpdump/updates.20070211.0141.gz",
    "mrt/bgpdump/updates.20100722.2015.gz",
];

/// Builds the benchmark input: the given gzip files, concatenated `repeat`
/// times (concatenated gzip members are one valid gzip stream).
fn build_input(files: &[PathBuf], repeat: u32, dir: &Path) -> Result<PathBuf> {
    let out_path = dir.join("updates.bench.gz");
    let mut out = std::fs::File::create(&out_path)?;
    for _ in 0..repeat {
        for file in files {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            if !bytes.starts_with(&[0x1f, 0x8b]) {
                bail!(
                    "{} is not gzip-compressed; the benchmark concatenates gzip files",
                    file.display()
                );
            }
            out.write_all(&bytes)?;
        }
    }
    Ok(out_path)
}

struct Timing {
    secs: f64,
    count: u64,
}

fn time_bgpdump(path: &Path) -> Result<Timing> {
    let started = Instant::now();
    let mut child = Command::new("bgpdump")
        .arg("-m")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context(
            "cannot run bgpdump (install the Debian package bgpdump, or run scripts/setup.sh)",
        )?;
    let stdout = child.stdout.take().context("no bgpdump output")?;
    let mut lines = 0u64;
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut buf = Vec::with_capacity(512);
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lines += 1;
    }
    child.wait()?;
    Ok(Timing {
        secs: started.elapsed().as_secs_f64(),
        count: lines,
    })
}

fn time_bare_parser(path: &Path) -> Result<Timing> {
    let started = Instant::now();
    let opened = open_mrt(path)?;
    let mut parser = BgpkitParser::from_reader(opened.reader).disable_warnings();
    let mut records = 0u64;
    while parser.next_record().is_ok() {
        records += 1;
    }
    Ok(Timing {
        secs: started.elapsed().as_secs_f64(),
        count: records,
    })
}

fn time_vigie(path: &Path, geo: &Arc<GeoDb>, store: Option<&mut Store>) -> Result<Timing> {
    let started = Instant::now();
    let config = VisibilityConfig::default();
    let mut accounting = VisibilityAccounting::new(config, Arc::clone(geo));
    let collectors = discover(&[path.to_path_buf()])?;
    let options = IngestOptions::default();
    let summary = match store {
        Some(store) => {
            let summary = ingest_mrt(
                collectors,
                &mut accounting,
                &options,
                &mut store.sink("bench"),
                &mut (),
            )
            .map_err(anyhow::Error::msg)?;
            store.compact()?;
            summary
        }
        None => ingest_mrt(collectors, &mut accounting, &options, &mut Discard, &mut ())
            .map_err(anyhow::Error::msg)?,
    };
    Ok(Timing {
        secs: started.elapsed().as_secs_f64(),
        count: summary.records,
    })
}

fn best_of(runs: u32, mut f: impl FnMut() -> Result<Timing>) -> Result<Timing> {
    let mut best: Option<Timing> = None;
    for _ in 0..runs.max(1) {
        let timing = f()?;
        if best.as_ref().is_none_or(|b| timing.secs < b.secs) {
            best = Some(timing);
        }
    }
    best.context("no run")
}

fn mrt(args: BenchMrtArgs) -> Result<ExitCode> {
    let files: Vec<PathBuf> = if args.files.is_empty() {
        let shared = args.shared_data.clone();
        DEFAULT_INPUTS.iter().map(|f| shared.join(f)).collect()
    } else {
        args.files.clone()
    };
    for file in &files {
        if !file.exists() {
            bail!(
                "{} does not exist: give MRT update files (gzip) as arguments, or --shared-data DIR",
                file.display()
            );
        }
    }
    let dir = tempfile::tempdir()?;
    let input = build_input(&files, args.repeat, dir.path())?;
    let size = std::fs::metadata(&input)?.len();
    eprintln!(
        "input: {} file(s) × {} = {:.1} MB gzip; best of {} runs each",
        files.len(),
        args.repeat,
        size as f64 / 1e6,
        args.runs
    );
    let geo_started = Instant::now();
    let geo = Arc::new(GeoDb::embedded());
    geo.preload();
    let geo_secs = geo_started.elapsed().as_secs_f64();

    let bgpdump = best_of(args.runs, || time_bgpdump(&input))?;
    let bare = best_of(args.runs, || time_bare_parser(&input))?;
    let accounting = best_of(args.runs, || time_vigie(&input, &geo, None))?;
    let with_store = best_of(args.runs, || {
        let store_dir = tempfile::tempdir()?;
        let mut store = Store::open(store_dir.path())?;
        time_vigie(&input, &geo, Some(&mut store))
    })?;
    let rate = |t: &Timing| t.count as f64 / t.secs;
    println!("| measurement | time (s) | items | items/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `bgpdump -m` (lines) | {:.3} | {} | {:.0} |",
        bgpdump.secs,
        bgpdump.count,
        rate(&bgpdump)
    );
    println!(
        "| bare bgpkit-parser iteration (records) | {:.3} | {} | {:.0} |",
        bare.secs,
        bare.count,
        rate(&bare)
    );
    println!(
        "| vigie: decompress, parse, geo, accounting (records) | {:.3} | {} | {:.0} |",
        accounting.secs,
        accounting.count,
        rate(&accounting)
    );
    println!(
        "| vigie end to end, with SQLite store writes (records) | {:.3} | {} | {:.0} |",
        with_store.secs,
        with_store.count,
        rate(&with_store)
    );
    println!();
    println!(
        "- vigie end to end is **{:.2}×** as fast as `bgpdump -m` (target ≥ 2×)",
        bgpdump.secs / with_store.secs
    );
    println!(
        "- accounting overhead over bare parsing: **{:+.1}%** (target ≤ 30%)",
        (accounting.secs / bare.secs - 1.0) * 100.0
    );
    println!("- one-off embedded geo table build (not in the times above): {geo_secs:.2} s");
    Ok(ExitCode::SUCCESS)
}

/// A deterministic pseudo-random sequence (xorshift), so runs are repeatable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn memory(args: BenchMemoryArgs) -> Result<ExitCode> {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut table = RoutingTable::new();
    let collector = table.collector("bench");
    let peers: Vec<u32> = (0..args.peers)
        .map(|i| {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            table.peer(collector, ip, 64_512 + i)
        })
        .collect();
    let full_feed = (args.peers as f64 * args.full_feed_share) as usize;
    // Prefixes: random /16../24 in 1.0.0.0 - 223.255.255.255.
    let prefixes: Vec<ipnet::IpNet> = (0..args.prefixes)
        .map(|_| {
            let len = 16 + rng.below(9) as u8;
            let addr = (0x0100_0000 + rng.below(0xdf00_0000) as u32) & (u32::MAX << (32 - len));
            ipnet::IpNet::V4(ipnet::Ipv4Net::new(addr.into(), len).expect("valid prefix"))
        })
        .collect();
    let started = Instant::now();
    let mut announcements = 0u64;
    for (i, net) in prefixes.iter().enumerate() {
        let Some((family, key)) = vigie_bgp::PrefixKey::of(net) else {
            continue;
        };
        let origin = 1 + (i as u32 % 60_000);
        for (p, &peer) in peers.iter().enumerate() {
            let sees = if p < full_feed {
                // Full-feed peers see everything but a few filtered regions of
                // the address space, each peer its own.
                (key.first_unit() >> 16) % 97 != (p as u64 % 97) || !args.structured
            } else if args.structured {
                // Partial peers see their customer cone: a contiguous part of the space.
                let width = 0xdf_0000 / (args.peers as u64 - full_feed as u64).max(1);
                key.first_unit() / width.max(1) == (p - full_feed) as u64
            } else {
                rng.below(10) == 0
            };
            let sees = if args.structured {
                sees
            } else {
                sees && rng.below(10) != 0
            };
            if sees {
                table.announce(peer, family, key, None, origin);
                announcements += 1;
            }
        }
    }
    table.collect_garbage();
    let secs = started.elapsed().as_secs_f64();
    let bytes = table.heap_bytes();
    let count = table.prefix_count().max(1);
    println!(
        "| {} peers ({} full-feed), {} prefixes, {} | {} distinct peer sets | {:.1} bytes/prefix | {:.0} announcements/s |",
        args.peers,
        full_feed,
        count,
        if args.structured { "structured visibility" } else { "random visibility (worst case)" },
        table.peer_sets().live_count(),
        bytes as f64 / count as f64,
        announcements as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

/// A generated signal: a level with a daily cycle and noise, one outage a
/// month (a quarter of the level for six hours), and a few missing bins.
fn generated_series(
    entity: vigie_model::Entity,
    signal: vigie_model::SignalKind,
    days: u32,
    rng: &mut XorShift,
) -> vigie_model::Series {
    let bins = days as usize * 288;
    let level = 100.0 + rng.below(10_000) as f64;
    let start = 1_640_995_200; // 2022-01-01T00:00:00Z
    let values = (0..bins)
        .map(|i| {
            if rng.below(500) == 0 {
                return None;
            }
            let hour = (i % 288) as f64 / 12.0;
            let daily = 1.0 + 0.2 * (std::f64::consts::TAU * hour / 24.0).sin();
            let noise = 1.0 + (rng.below(2001) as f64 - 1000.0) / 50_000.0;
            let outage = (i / 288) % 30 == 15 && (i % 288) / 12 >= 10 && (i % 288) / 12 < 16;
            let value = level * daily * noise * if outage { 0.25 } else { 1.0 };
            Some(value.round())
        })
        .collect();
    vigie_model::Series {
        key: vigie_model::SeriesKey { entity, signal },
        bin: BinSize::FIVE_MINUTES,
        start,
        values,
    }
}

fn detect(args: BenchDetectArgs) -> Result<ExitCode> {
    use vigie_model::{CountryCode, Entity, SignalKind};
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
    ];
    let config = vigie_detect::VigieConfig::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut generate_secs = 0.0;
    let mut detect_secs = 0.0;
    let mut bins = 0u64;
    let mut incidents = 0usize;
    for e in 0..args.entities {
        let code = [b'A' + (e / 26 % 26) as u8, b'A' + (e % 26) as u8];
        let entity = Entity::Country(CountryCode::new(std::str::from_utf8(&code)?)?);
        let started = Instant::now();
        let series: Vec<vigie_model::Series> = signals
            .iter()
            .cycle()
            .take(args.signals as usize)
            .map(|&signal| generated_series(entity.clone(), signal, args.days, &mut rng))
            .collect();
        generate_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let detections: Vec<_> = series
            .iter()
            .map(|s| vigie_detect::detect_series(s, &config))
            .collect();
        incidents += vigie_detect::fuse(&entity, &detections, &config).len();
        detect_secs += started.elapsed().as_secs_f64();
        bins += series.iter().map(|s| s.values.len() as u64).sum::<u64>();
    }
    println!(
        "| {} entities × {} signals × {} days of 5-min bins | {} bins | detection and fusion {:.1} s ({:.2} M bins/s) | {} incidents | (generating the data: {:.1} s) |",
        args.entities,
        args.signals,
        args.days,
        bins,
        detect_secs,
        bins as f64 / detect_secs / 1e6,
        incidents,
        generate_secs
    );
    Ok(ExitCode::SUCCESS)
}

/// `vigie bench truth`: the robustness sweep of `vigie_detect::sweep`, with
/// vigie, IODA's median method at its critical level and at its warning level.
fn truth(args: BenchTruthArgs) -> Result<ExitCode> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use vigie_detect::sweep;
    use vigie_detect::{IodaConfig, IodaLevel, Method, VigieConfig};

    let scenarios =
        sweep::plan(args.seed, args.quick, args.only.as_deref()).map_err(anyhow::Error::msg)?;
    let methods = [
        Method::Vigie(VigieConfig::default()),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Critical)),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Warning)),
    ];
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let bar =
        ProgressBar::with_draw_target(Some(scenarios.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entities ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let results = sweep::run(&scenarios, &methods, threads, &|scenario| {
        bar.set_message(scenario.id());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "{} synthetic entities in {elapsed:.1} s on {threads} thread(s)",
        scenarios.len()
    );
    let mut report = sweep::summarise(
        args.seed,
        args.quick,
        &scenarios,
        &methods,
        &results,
        args.verbose,
    );
    report.elapsed_secs = Some(elapsed);
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        report.markdown()
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
