//! `vigie bench world`: IODA's scale of entities (250 countries, 5,000
//! regions, 75,000 ASes, or a `--scale` fraction of it) × 4 signals of
//! generated 5-minute bins, through the live loop of `vigie serve`
//! ([`LiveDetection`]) for a simulated day with a handful of outages
//! injected, while a client reads a country's 100-day series from the HTTP
//! API. It reports the loop's cost per bin, the detector's memory per
//! series, the store's growth in the day and the API's latency, and
//! whether each injected outage was found.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use vigie_detect::VigieConfig;
use vigie_model::{
    format_utc, BinSink, BinSize, CountryCode, Entity, Series, SeriesKey, SignalKind, UnixSecs,
};
use vigie_store::{ResultFilter, Store};

use crate::{LiveDetection, VIGIE};

/// The simulated day: 2022-03-01T00:00:00Z.
const DAY_START: UnixSecs = 1_646_092_800;
const BIN_SECS: i64 = 300;
const DAY_BINS: i64 = 86_400 / BIN_SECS;
/// The store source of the live bins (the service's own).
const SOURCE: &str = "bench-live";
const SIGNALS: [SignalKind; 4] = [
    SignalKind::BgpVisibleSlash24s,
    SignalKind::ProbeUpSlash24s,
    SignalKind::TelescopeUniqueSources,
    SignalKind::FlowBytesFrom,
];

/// The size of `vigie bench world` (its flags).
#[derive(Args, Debug)]
pub struct WorldBenchOptions {
    /// The fraction of IODA's scale (250 countries, 5,000 regions, 75,000
    /// ASes, each with 4 signals) to run: 1 is the whole world.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Days of stored history every series is warmed up from before the
    /// simulated day (the first country's has 100, which the API reads).
    #[arg(long, default_value_t = 2)]
    pub history_days: u32,
    /// Every series is checkpointed once in this many seconds, a share of
    /// them at every bin (`[detect] checkpoint_secs`).
    #[arg(long, default_value_t = 3600)]
    pub checkpoint_secs: u32,
    /// Keep the store in this folder (default: a temporary one, removed).
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

/// An outage injected into the simulated day.
pub struct InjectedOutage {
    /// What it stands for.
    pub what: &'static str,
    /// The entity cut.
    pub entity: Entity,
    /// The signals that fall (the others stay normal).
    pub signals: Vec<SignalKind>,
    /// First bin down.
    pub start: UnixSecs,
    /// First bin back.
    pub end: UnixSecs,
    /// The share of the normal value left while down.
    pub left: f64,
    /// The stored incident that covers it, if detection found it: its
    /// start and end.
    pub found: Option<(UnixSecs, Option<UnixSecs>)>,
}

/// Per-bin CPU times of one step of the loop, in seconds.
#[derive(Default)]
pub struct StepTimes(Vec<f64>);

impl StepTimes {
    /// The mean.
    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }

    /// The largest.
    pub fn max(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
}

/// What [`bench_world`] measured.
pub struct WorldBench {
    /// Countries, regions and ASes.
    pub entities: (usize, usize, usize),
    /// Series followed.
    pub series: usize,
    /// Writing the history into the store, wall-clock seconds.
    pub history_secs: f64,
    /// `LiveDetection::resume` warming every series up from it, CPU seconds.
    pub warmup_secs: f64,
    /// The first checkpoint, every series at once, CPU seconds.
    pub full_checkpoint_secs: f64,
    /// Resident memory grown by the warm-up, per series, bytes.
    pub memory_per_series: f64,
    /// The detector's state as checkpointed (postcard, deflated), mean
    /// bytes per series (a sample).
    pub state_bytes: f64,
    /// The in-memory depth history at the end, mean bytes per series.
    pub depth_bytes: f64,
    /// Per bin: the bin written to the store (the sources' side).
    pub write: StepTimes,
    /// Per bin: every series pushed.
    pub push: StepTimes,
    /// Per bin: fusion, scope and the incidents written.
    pub publish: StepTimes,
    /// Per bin: the share of the series checkpointed.
    pub checkpoint: StepTimes,
    /// Per bin: push, publish and checkpoint.
    pub total: StepTimes,
    /// The simulated day: wall-clock seconds, the loop thread's CPU
    /// seconds, and its seconds waiting for a core (the machine's load).
    pub day_secs: (f64, f64, f64),
    /// The end-of-day compaction, seconds.
    pub compact_secs: f64,
    /// The store's files before and after the day, bytes.
    pub store_bytes: (u64, u64),
    /// API response times during the day, seconds, sorted.
    pub api: Vec<f64>,
    /// Values in each API response.
    pub api_values: usize,
    /// The outages injected and what detection made of them.
    pub outages: Vec<InjectedOutage>,
    /// Incidents stored for entities with no outage injected.
    pub false_incidents: usize,
}

impl WorldBench {
    /// The percentile `p` (0..1) of the API response times, milliseconds.
    pub fn api_ms(&self, p: f64) -> f64 {
        if self.api.is_empty() {
            return f64::NAN;
        }
        let index = ((self.api.len() as f64 * p).ceil() as usize).clamp(1, self.api.len()) - 1;
        1000.0 * self.api[index]
    }

    /// The outages found, one line each, then the table as Markdown.
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        for o in &self.outages {
            let signals: Vec<&str> = o.signals.iter().map(|s| s.name()).collect();
            text += &format!(
                "- {} ({}, {} at {:.0}%, {} to {}): {}\n",
                o.what,
                o.entity,
                signals.join("+"),
                100.0 * o.left,
                format_utc(o.start),
                format_utc(o.end),
                match o.found {
                    Some((start, end)) => format!(
                        "FOUND, incident from {} to {}",
                        format_utc(start),
                        end.map_or("(ongoing)".into(), format_utc)
                    ),
                    None => "NOT FOUND".into(),
                }
            );
        }
        let found = self.outages.iter().filter(|o| o.found.is_some()).count();
        text += &format!(
            "- {found} of {} injected outages found; {} incidents elsewhere\n\n",
            self.outages.len(),
            self.false_incidents
        );
        let (c, r, a) = self.entities;
        let ms =
            |t: &StepTimes| format!("{:.0} ms | {:.0} ms", 1000.0 * t.mean(), 1000.0 * t.max());
        text += &format!(
            "{c} countries, {r} regions, {a} ASes × 4 signals = {} series, 5-minute bins, a simulated day (288 bins)\n\n",
            self.series
        );
        text += &format!(
            "The day took {:.0} s of wall-clock time; the loop's thread ran {:.0} s on a core and waited {:.0} s for one (the machine's other work). Times per bin are the thread's CPU time.\n\n",
            self.day_secs.0, self.day_secs.1, self.day_secs.2
        );
        text += "| per bin (CPU time) | mean | max |\n|---|---:|---:|\n";
        text += &format!("| push every series | {} |\n", ms(&self.push));
        text += &format!(
            "| fuse and write the entities that changed | {} |\n",
            ms(&self.publish)
        );
        text += &format!(
            "| checkpoint a share of the series (each once an interval) | {} |\n",
            ms(&self.checkpoint)
        );
        text += &format!(
            "| **detection loop (one core)** | **{}** |\n",
            ms(&self.total)
        );
        text += &format!(
            "| the bin written to the store (the sources' thread) | {} |\n\n",
            ms(&self.write)
        );
        let mb = |b: f64| b / 1e6;
        text += "| other | value |\n|---|---:|\n";
        text += &format!(
            "| detector memory per series (resident, after the warm-up) | {:.1} kB |\n",
            self.memory_per_series / 1e3
        );
        text += &format!(
            "| of which the depth history (4 bytes a bin, at the end) | {:.1} kB |\n",
            self.depth_bytes / 1e3
        );
        text += &format!(
            "| detector state as checkpointed (postcard, deflated) | {:.2} kB |\n",
            self.state_bytes / 1e3
        );
        text += &format!(
            "| store growth in the day, before compaction (bins, checkpoints, results; the store was {:.0} MB before) | {:.0} MB |\n",
            mb(self.store_bytes.0 as f64),
            mb(self.store_bytes.1 as f64 - self.store_bytes.0 as f64)
        );
        text += &format!("| end-of-day compaction | {:.1} s |\n", self.compact_secs);
        text += &format!(
            "| API `/api/v1/signals`, a country's 100 days ({} values), during the day: p50 / p99 ({} requests) | {:.1} / {:.1} ms |\n",
            self.api_values,
            self.api.len(),
            self.api_ms(0.5),
            self.api_ms(0.99)
        );
        text += &format!(
            "| set-up: history written (wall clock) / warm-up, resume from the store (CPU) / first checkpoint, every series (CPU) | {:.0} s / {:.0} s / {:.0} s |",
            self.history_secs, self.warmup_secs, self.full_checkpoint_secs
        );
        text
    }
}

/// splitmix64: the generator's hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One generated series: its key, its normal level and daily phase.
struct World {
    keys: Vec<SeriesKey>,
    levels: Vec<f64>,
    outages: Vec<InjectedOutage>,
}

impl World {
    fn new(scale: f64) -> Result<World> {
        let count = |n: f64, least: usize| ((n * scale).round() as usize).max(least);
        let (nc, nr, na) = (count(250.0, 5), count(5000.0, 1), count(75_000.0, 2));
        let countries: Vec<Entity> = (0..nc)
            .map(|i| {
                let code = [b'A' + (i / 26 % 26) as u8, b'A' + (i % 26) as u8];
                Ok(Entity::Country(CountryCode::new(std::str::from_utf8(
                    &code,
                )?)?))
            })
            .collect::<Result<_>>()?;
        let regions: Vec<Entity> = (0..nr)
            .map(|i| match &countries[i % nc] {
                Entity::Country(country) => Entity::Region(vigie_model::RegionId {
                    country: *country,
                    name: format!("R{i}"),
                }),
                other => other.clone(),
            })
            .collect();
        let ases: Vec<Entity> = (0..na).map(|i| Entity::Asn(100_000 + i as u32)).collect();
        let mut keys = Vec::new();
        let mut levels = Vec::new();
        for (group, base, spread) in [
            (&countries, 2_000.0, 200_000u64),
            (&regions, 200.0, 20_000),
            (&ases, 100.0, 5_000),
        ] {
            for entity in group {
                for signal in SIGNALS {
                    levels.push(base + (mix(keys.len() as u64) % spread) as f64);
                    keys.push(SeriesKey {
                        entity: entity.clone(),
                        signal,
                    });
                }
            }
        }
        let at = |h: f64| DAY_START + (h * 3600.0) as i64;
        let outage =
            |what, entity: &Entity, signals: &[SignalKind], from, until, left| InjectedOutage {
                what,
                entity: entity.clone(),
                signals: signals.to_vec(),
                start: at(from),
                end: at(until),
                left,
                found: None,
            };
        let data_plane = &SIGNALS[1..];
        let outages = vec![
            outage(
                "nationwide shutdown",
                &countries[1],
                &SIGNALS,
                6.0,
                12.0,
                0.02,
            ),
            outage(
                "partial national outage",
                &countries[2],
                &SIGNALS,
                12.5,
                15.5,
                0.4,
            ),
            outage(
                "filtering (data plane only)",
                &countries[3],
                data_plane,
                3.0,
                6.0,
                0.1,
            ),
            outage("regional cut", &regions[0], &SIGNALS, 8.0, 11.0, 0.05),
            outage("network down", &ases[0], &SIGNALS, 16.0, 18.0, 0.0),
            outage("network down", &ases[1], &SIGNALS, 20.0, 21.5, 0.0),
        ];
        Ok(World {
            keys,
            levels,
            outages,
        })
    }

    /// Series `i`'s value at `t`: its level, a daily cycle, 1% noise, and
    /// the outages injected.
    fn value(&self, i: usize, t: UnixSecs) -> f64 {
        let hour = t.rem_euclid(86_400) as f64 / 3600.0 + (i / 4 % 24) as f64;
        let daily = 1.0 + 0.2 * (std::f64::consts::TAU * hour / 24.0).sin();
        let noise = (mix((i as u64) << 32 ^ (t / BIN_SECS) as u64) % 2001) as f64 / 100_000.0;
        let mut value = self.levels[i] * daily * (0.99 + noise);
        let key = &self.keys[i];
        for o in &self.outages {
            if o.entity == key.entity
                && o.signals.contains(&key.signal)
                && (o.start..o.end).contains(&t)
            {
                value *= o.left;
            }
        }
        value.round()
    }
}

/// The bytes of the store's files in `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The calling thread's time on a CPU and waiting for one, in seconds
/// (Linux's schedstat; zeros elsewhere): the loop is timed in CPU time, so
/// that a machine shared with other work does not inflate its figures.
fn thread_times() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<f64>().unwrap_or(0.0) / 1e9);
    (fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0))
}

/// The calling thread's CPU time, seconds.
fn cpu_now() -> f64 {
    thread_times().0
}

/// The process's resident memory, bytes (0 where /proc is not there).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// One HTTP GET over a fresh connection: the seconds it took and the body
/// length.
fn get(addr: SocketAddr, path: &str) -> Result<(f64, usize)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        response.starts_with(b"HTTP/1.1 200"),
        "the API answered {}",
        String::from_utf8_lossy(&response[..response.len().min(80)])
    );
    Ok((secs, response.len()))
}

/// Runs the world through the live loop (see the module documentation),
/// telling on stderr what it is doing.
pub fn bench_world(options: &WorldBenchOptions) -> Result<WorldBench> {
    let progress = |line: &str| eprintln!("vigie bench world: {line}");
    let world = World::new(options.scale)?;
    let bin = BinSize::FIVE_MINUTES;
    let temp = tempfile::tempdir()?;
    let dir = options.keep.clone().unwrap_or_else(|| temp.path().into());
    std::fs::create_dir_all(&dir)?;
    let mut store = Store::open(&dir)?;
    let series = world.keys.len();
    let counts = |kind| {
        world
            .keys
            .iter()
            .filter(|k| k.entity.kind() == kind)
            .count()
            / SIGNALS.len()
    };
    let entities = (
        counts(vigie_model::EntityKind::Country),
        counts(vigie_model::EntityKind::Region),
        counts(vigie_model::EntityKind::Asn),
    );
    progress(&format!(
        "{} countries, {} regions, {} ASes: {series} series; writing {} days of history",
        entities.0, entities.1, entities.2, options.history_days
    ));
    // The history, in batches of series; the first country's is 100 days.
    let started = Instant::now();
    let history = |i: usize| {
        let days = if i < SIGNALS.len() {
            100
        } else {
            options.history_days.max(1)
        };
        let start = DAY_START - i64::from(days) * 86_400;
        Series {
            key: world.keys[i].clone(),
            bin,
            start,
            values: (0..i64::from(days) * DAY_BINS)
                .map(|b| Some(world.value(i, start + b * BIN_SECS)))
                .collect(),
        }
    };
    for first in (0..series).step_by(4_000) {
        let batch: Vec<Series> = (first..(first + 4_000).min(series)).map(history).collect();
        store.sink("bench-history").write_series(&batch)?;
    }
    let history_secs = started.elapsed().as_secs_f64();
    progress(&format!(
        "history written in {history_secs:.0} s; warming every series up"
    ));
    let resident = resident_bytes();
    let started = cpu_now();
    let mut live = LiveDetection::resume(&mut store, VigieConfig::default(), [SOURCE.into()])?;
    let warmup_secs = cpu_now() - started;
    let memory_per_series = resident_bytes().saturating_sub(resident) as f64 / series.max(1) as f64;
    let started = cpu_now();
    live.checkpoint(&mut store)?;
    let full_checkpoint_secs = cpu_now() - started;
    let sample: Vec<usize> = (0..series).step_by((series / 1000).max(1)).collect();
    let mut state_bytes = 0.0;
    for &i in &sample {
        let key = &world.keys[i];
        if let Some(state) = live.detector().series_state(key, bin.secs()) {
            state_bytes += crate::live::encode_state(&state)?.len() as f64;
        }
    }
    state_bytes /= sample.len().max(1) as f64;
    progress(&format!(
        "warm-up {warmup_secs:.0} s, first checkpoint {full_checkpoint_secs:.0} s; the day begins"
    ));

    // The API on another thread, a client reading the first country's
    // 100-day series while the loop runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let state = vigie_publish::AppState::from_store(store.reconnect()?, None, false)?;
    let listener = runtime.block_on(vigie_publish::bind("127.0.0.1:0".parse()?))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move {
        let _ = vigie_publish::serve(listener, state, std::future::pending()).await;
    });
    let path = format!(
        "/api/v1/signals?entity={}&signal={}&from={}&until={}",
        world.keys[0].entity,
        world.keys[0].signal.name(),
        format_utc(DAY_START - 98 * 86_400),
        format_utc(DAY_START + 2 * 86_400),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<Vec<f64>> {
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                times.push(get(addr, &path)?.0);
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(times)
        })
    };

    let store_before = folder_bytes(&dir);
    let parts = (i64::from(options.checkpoint_secs) / BIN_SECS).max(1) as usize;
    let share = series.div_ceil(parts);
    let (mut write, mut push) = (StepTimes::default(), StepTimes::default());
    let (mut publish, mut checkpoint) = (StepTimes::default(), StepTimes::default());
    let mut total = StepTimes::default();
    let times = |steps: &mut StepTimes, started: f64| {
        let secs = cpu_now() - started;
        steps.0.push(secs);
        secs
    };
    let day_started = Instant::now();
    let (cpu_before, wait_before) = thread_times();
    for b in 0..DAY_BINS {
        let t = DAY_START + b * BIN_SECS;
        let values: Vec<(SeriesKey, Option<f64>)> = (0..series)
            .map(|i| (world.keys[i].clone(), Some(world.value(i, t))))
            .collect();
        let started = cpu_now();
        store.write_bin(SOURCE, bin, t, &values)?;
        times(&mut write, started);
        let signal_bin = vigie_model::SignalBin {
            bin,
            bin_start: t,
            values,
        };
        let started = cpu_now();
        live.push_bin(&signal_bin);
        let mut secs = times(&mut push, started);
        let started = cpu_now();
        let published = live.publish(&mut store)?;
        secs += times(&mut publish, started);
        let started = cpu_now();
        live.checkpoint_some(&mut store, share)?;
        secs += times(&mut checkpoint, started);
        total.0.push(secs);
        if b % 12 == 11 {
            progress(&format!(
                "{}: {:.2} s a bin (push {:.2}, fuse and write {:.2} for {} entities, checkpoint {:.2}); {} incidents going on",
                format_utc(t),
                secs,
                push.0.last().copied().unwrap_or(0.0),
                publish.0.last().copied().unwrap_or(0.0),
                published.entities,
                checkpoint.0.last().copied().unwrap_or(0.0),
                published.ongoing
            ));
        }
    }
    let day_wall_secs = day_started.elapsed().as_secs_f64();
    let (cpu_after, wait_after) = thread_times();
    let day_cpu_secs = cpu_after - cpu_before;
    let day_wait_secs = wait_after - wait_before;
    stop.store(true, Ordering::Relaxed);
    let mut api = client
        .join()
        .map_err(|_| anyhow::anyhow!("the API client panicked"))??;
    api.sort_by(f64::total_cmp);
    let api_values = 100 * DAY_BINS as usize;
    let store_after = folder_bytes(&dir);
    let started = Instant::now();
    store.compact()?;
    let compact_secs = started.elapsed().as_secs_f64();
    drop(runtime);

    let mut outages = world.outages;
    let incidents = store.incidents(&ResultFilter {
        method: Some(VIGIE.into()),
        from: Some(DAY_START),
        ..ResultFilter::default()
    })?;
    for o in &mut outages {
        o.found = incidents
            .iter()
            .find(|i| {
                i.entity == o.entity
                    && i.start < o.end
                    && i.end.is_none_or(|end| end > o.start)
                    && i.start >= o.start - 3600
            })
            .map(|i| (i.start, i.end));
    }
    let false_incidents = incidents
        .iter()
        .filter(|i| {
            !outages.iter().any(|o| {
                o.entity == i.entity
                    || matches!((&o.entity, &i.entity), (Entity::Region(r), Entity::Country(c)) if r.country == *c)
            })
        })
        .count();
    let depth_bytes = sample
        .iter()
        .filter_map(|&i| live.detector().depth_bins_kept(&world.keys[i], bin.secs()))
        .map(|kept| 4.0 * kept as f64)
        .sum::<f64>()
        / sample.len().max(1) as f64;
    Ok(WorldBench {
        entities,
        series,
        history_secs,
        warmup_secs,
        full_checkpoint_secs,
        memory_per_series,
        state_bytes,
        depth_bytes,
        write,
        push,
        publish,
        checkpoint,
        total,
        day_secs: (day_wall_secs, day_cpu_secs, day_wait_secs),
        compact_secs,
        store_bytes: (store_before, store_after),
        api,
        api_values,
        outages,
        false_incidents,
    })
}
