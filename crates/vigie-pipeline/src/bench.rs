//! The benchmarks of `vigie bench` (docs/BENCHMARKS.md, docs/ACCURACY.md):
//! MRT ingest against `bgpdump -m` and bare bgpkit-parser on the same file
//! ([`bench_mrt`]), routing-state memory ([`bench_memory`]), batch detection
//! ([`bench_detect`]), the accuracy sweep ([`bench_truth`]) and the live
//! loop at IODA's scale ([`bench_world`], in `world.rs`). Each returns
//! its result; the Markdown rows are the figures the docs quote. The
//! options are the commands' flags (`clap::Args`), declared once here.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bgpkit_parser::BgpkitParser;
use clap::Args;
use vigie_bgp::mrt::{discover, ingest_mrt, open_mrt, IngestOptions};
use vigie_bgp::{RoutingTable, VisibilityAccounting, VisibilityConfig};
use vigie_detect::sweep::{self, Scenario as SweepScenario, SweepReport};
use vigie_detect::{IodaConfig, IodaLevel, Method, VigieConfig};
use vigie_geo::GeoDb;
use vigie_model::{BinSink, BinSize, CountryCode, Discard, Entity, Series, SeriesKey, SignalKind};
use vigie_store::Store;

mod world;
pub use world::{bench_world, InjectedOutage, StepTimes, WorldBench, WorldBenchOptions};

/// The real RIS update files of the shared data, used when no file is given.
const DEFAULT_INPUTS: [&str; 3] = [
    "mrt/bgpdump/updates.20160811.1600.gz",
    "mrt/bgpdump/updates.20070211.0141.gz",
    "mrt/bgpdump/updates.20100722.2015.gz",
];

/// What `vigie bench mrt` measures (its flags).
#[derive(Args, Debug)]
pub struct MrtBenchOptions {
    /// gzip MRT update files; default: the real RIS update files of the shared data.
    pub files: Vec<PathBuf>,
    /// The shared data folder, for the default files.
    #[arg(long, default_value = "../shared/data")]
    pub shared_data: PathBuf,
    /// How many times the files are concatenated into the one benchmark file.
    #[arg(long, default_value_t = 10)]
    pub repeat: u32,
    /// Runs of each measurement; the best is kept.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

/// One measurement: the best time and the items handled.
pub struct Timing {
    /// Seconds.
    pub secs: f64,
    /// Lines or records.
    pub count: u64,
}

impl Timing {
    fn rate(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

/// The result of [`bench_mrt`].
pub struct MrtBench {
    /// `bgpdump -m`, in lines.
    pub bgpdump: Timing,
    /// Bare bgpkit-parser iteration, in records.
    pub bare: Timing,
    /// vigie without the store, in records.
    pub accounting: Timing,
    /// vigie end to end with the store, in records.
    pub with_store: Timing,
    /// The one-off build of the embedded geo table, in seconds.
    pub geo_secs: f64,
}

impl MrtBench {
    /// The table and the ratios, as Markdown.
    pub fn markdown(&self) -> String {
        let row = |name: &str, t: &Timing| {
            format!(
                "| {name} | {:.3} | {} | {:.0} |\n",
                t.secs,
                t.count,
                t.rate()
            )
        };
        let mut text =
            String::from("| measurement | time (s) | items | items/s |\n|---|---:|---:|---:|\n");
        text += &row("`bgpdump -m` (lines)", &self.bgpdump);
        text += &row("bare bgpkit-parser iteration (records)", &self.bare);
        text += &row(
            "vigie: decompress, parse, geo, accounting (records)",
            &self.accounting,
        );
        text += &row(
            "vigie end to end, with SQLite store writes (records)",
            &self.with_store,
        );
        text += &format!(
            "\n- vigie end to end is **{:.2}×** as fast as `bgpdump -m` (target ≥ 2×)\n",
            self.bgpdump.secs / self.with_store.secs
        );
        text += &format!(
            "- accounting overhead over bare parsing: **{:+.1}%** (target ≤ 30%)\n",
            (self.accounting.secs / self.bare.secs - 1.0) * 100.0
        );
        text += &format!(
            "- one-off embedded geo table build (not in the times above): {:.2} s",
            self.geo_secs
        );
        text
    }
}

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

/// MRT ingest against `bgpdump -m` and bare bgpkit-parser, on the same
/// file; the input is described on stderr first.
pub fn bench_mrt(options: &MrtBenchOptions) -> Result<MrtBench> {
    let files: Vec<PathBuf> = if options.files.is_empty() {
        DEFAULT_INPUTS
            .iter()
            .map(|f| options.shared_data.join(f))
            .collect()
    } else {
        options.files.clone()
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
    let input = build_input(&files, options.repeat, dir.path())?;
    let size = std::fs::metadata(&input)?.len();
    eprintln!(
        "input: {} file(s) × {} = {:.1} MB gzip; best of {} runs each",
        files.len(),
        options.repeat,
        size as f64 / 1e6,
        options.runs
    );
    let geo_started = Instant::now();
    let geo = Arc::new(GeoDb::embedded());
    geo.preload();
    let geo_secs = geo_started.elapsed().as_secs_f64();
    let runs = options.runs;
    Ok(MrtBench {
        bgpdump: best_of(runs, || time_bgpdump(&input))?,
        bare: best_of(runs, || time_bare_parser(&input))?,
        accounting: best_of(runs, || time_vigie(&input, &geo, None))?,
        with_store: best_of(runs, || {
            let store_dir = tempfile::tempdir()?;
            let mut store = Store::open(store_dir.path())?;
            time_vigie(&input, &geo, Some(&mut store))
        })?,
        geo_secs,
    })
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

/// The generated RIB of `vigie bench memory` (its flags).
#[derive(Args, Debug)]
pub struct MemoryBenchOptions {
    /// Collector peers.
    #[arg(long, default_value_t = 1000)]
    pub peers: u32,
    /// Prefixes in the generated RIB.
    #[arg(long, default_value_t = 200_000)]
    pub prefixes: u32,
    /// Share of the peers that are full-feed.
    #[arg(long, default_value_t = 0.4)]
    pub full_feed_share: f64,
    /// Structured visibility (full-feed peers see nearly all, partial peers
    /// a contiguous cone); `--structured=false` draws each (peer, prefix) at random, the worst case.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub structured: bool,
}

/// Routing-state memory per prefix with many peers, on a generated RIB:
/// one Markdown row.
pub fn bench_memory(options: &MemoryBenchOptions) -> String {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut table = RoutingTable::new();
    let collector = table.collector("bench");
    let peers: Vec<u32> = (0..options.peers)
        .map(|i| {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            table.peer(collector, ip, 64_512 + i)
        })
        .collect();
    let full_feed = (options.peers as f64 * options.full_feed_share) as usize;
    let structured = options.structured;
    // Prefixes: random /16../24 in 1.0.0.0 - 223.255.255.255.
    let prefixes: Vec<ipnet::IpNet> = (0..options.prefixes)
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
                (key.first_unit() >> 16) % 97 != (p as u64 % 97) || !structured
            } else if structured {
                // Partial peers see their customer cone: a contiguous part of the space.
                let width = 0xdf_0000 / (options.peers as u64 - full_feed as u64).max(1);
                key.first_unit() / width.max(1) == (p - full_feed) as u64
            } else {
                rng.below(10) == 0
            };
            let sees = if structured {
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
    format!(
        "| {} peers ({} full-feed), {} prefixes, {} | {} distinct peer sets | {:.1} bytes/prefix | {:.0} announcements/s |",
        options.peers,
        full_feed,
        count,
        if structured { "structured visibility" } else { "random visibility (worst case)" },
        table.peer_sets().live_count(),
        bytes as f64 / count as f64,
        announcements as f64 / secs
    )
}

/// A generated signal: a level with a daily cycle and noise, one outage a
/// month (a quarter of the level for six hours), and a few missing bins.
fn generated_series(entity: Entity, signal: SignalKind, days: u32, rng: &mut XorShift) -> Series {
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
    Series {
        key: SeriesKey { entity, signal },
        bin: BinSize::FIVE_MINUTES,
        start,
        values,
    }
}

/// The size of `vigie bench detect`'s backtest (its flags).
#[derive(Args, Debug)]
pub struct DetectBenchOptions {
    /// Entities (countries) to generate.
    #[arg(long, default_value_t = 250)]
    pub entities: u32,
    /// Signals per entity.
    #[arg(long, default_value_t = 4)]
    pub signals: u32,
    /// Days of 5-minute bins per series.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Write the series into a fresh store in a temporary folder and time
    /// what `vigie detect` runs on it (reading, detection on every core,
    /// events and incidents stored), instead of detection in memory.
    #[arg(long)]
    pub store: bool,
}

/// A batch backtest of detection and fusion on generated series: one
/// Markdown row.
pub fn bench_detect(options: &DetectBenchOptions) -> Result<String> {
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
    ];
    let config = VigieConfig::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut generate_secs = 0.0;
    let mut detect_secs = 0.0;
    let mut bins = 0u64;
    let mut incidents = 0usize;
    let folder = tempfile::tempdir()?;
    let mut store = if options.store {
        Some(Store::open(folder.path())?)
    } else {
        None
    };
    for e in 0..options.entities {
        let code = [b'A' + (e / 26 % 26) as u8, b'A' + (e % 26) as u8];
        let entity = Entity::Country(CountryCode::new(std::str::from_utf8(&code)?)?);
        let started = Instant::now();
        let series: Vec<Series> = signals
            .iter()
            .cycle()
            .take(options.signals as usize)
            .map(|&signal| generated_series(entity.clone(), signal, options.days, &mut rng))
            .collect();
        bins += series.iter().map(|s| s.values.len() as u64).sum::<u64>();
        if let Some(store) = store.as_mut() {
            store.sink("bench").write_series(&series)?;
            generate_secs += started.elapsed().as_secs_f64();
            continue;
        }
        generate_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let detections: Vec<_> = series
            .iter()
            .map(|s| vigie_detect::detect_series(s, &config))
            .collect();
        incidents += vigie_detect::fuse(&entity, &detections, &config).len();
        detect_secs += started.elapsed().as_secs_f64();
    }
    let mut path = "in memory, one core";
    if let Some(store) = store.as_mut() {
        let started = Instant::now();
        let summary =
            crate::detect_and_store(store, &crate::DetectOptions::default(), &mut |_, _, _| {})?;
        detect_secs = started.elapsed().as_secs_f64();
        incidents = summary.incidents;
        path = "through the store, every core";
    }
    Ok(format!(
        "| {} entities × {} signals × {} days of 5-min bins ({path}) | {} bins | detection and fusion {:.1} s ({:.2} M bins/s) | {} incidents | (generating the data: {:.1} s) |",
        options.entities,
        options.signals,
        options.days,
        bins,
        detect_secs,
        bins as f64 / detect_secs / 1e6,
        incidents,
        generate_secs
    ))
}

/// What `vigie bench truth` sweeps and prints (its flags).
#[derive(Args, Debug)]
pub struct TruthBenchOptions {
    /// Seed of the generated series (the same seed, the same series).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The quick subset: two entities per class and 24 random combinations
    /// (the same series as the full sweep's first ones).
    #[arg(long)]
    pub quick: bool,
    /// Only this dimension: bin-duration, depth, onset, daily, weekend,
    /// noise, noise-ping, quantization, missing, signals, mechanism,
    /// history, no-outage or random.
    #[arg(long, value_name = "DIMENSION")]
    pub only: Option<String>,
    /// Also list vigie's misses, false alarms and late ends, with times and
    /// each entity's settings.
    #[arg(long, short)]
    pub verbose: bool,
    /// Output format.
    #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
    pub format: String,
    /// Worker threads; default: one per core.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The result of [`bench_truth`].
pub struct TruthBench {
    /// The report, with `elapsed_secs` set.
    pub report: SweepReport,
    /// The synthetic entities scored.
    pub entities: usize,
    /// The worker threads used.
    pub threads: usize,
}

/// The robustness sweep of `vigie_detect::sweep`, with vigie and IODA's
/// median method at its critical and at its warning level. `planned` hears
/// how many entities will be scored, `scored` each one as it is done.
pub fn bench_truth(
    options: &TruthBenchOptions,
    planned: impl FnOnce(usize),
    scored: &(dyn Fn(&SweepScenario) + Sync),
) -> Result<TruthBench> {
    let scenarios = sweep::plan(options.seed, options.quick, options.only.as_deref())
        .map_err(anyhow::Error::msg)?;
    let methods = [
        Method::Vigie(VigieConfig::default()),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Critical)),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Warning)),
    ];
    let threads = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    planned(scenarios.len());
    let started = Instant::now();
    let results = sweep::run(&scenarios, &methods, threads, scored);
    let elapsed = started.elapsed().as_secs_f64();
    let mut report = sweep::summarise(
        options.seed,
        options.quick,
        &scenarios,
        &methods,
        &results,
        options.verbose,
    );
    report.elapsed_secs = Some(elapsed);
    Ok(TruthBench {
        report,
        entities: scenarios.len(),
        threads,
    })
}

impl TruthBench {
    /// The report in `format` (`markdown` or `json`).
    pub fn text(&self, format: &str) -> Result<String> {
        Ok(if format == "json" {
            serde_json::to_string_pretty(&self.report)? + "\n"
        } else {
            self.report.markdown()
        })
    }
}
