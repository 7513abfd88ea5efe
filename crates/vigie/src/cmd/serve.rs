//! `vigie serve`: runs the live feeds of a TOML configuration into the
//! store: the BGP feeds (passive BGP speaker, BMP station, RIS Live client)
//! into one routing model, and the traffic collectors (`[flows]`,
//! `[[access_logs]]`, see `serve_traffic`) on their own threads.
//!
//! Bins: the open bin is written every `provisional_secs` under the store
//! source `bgp-live-provisional`; at the bin boundary its final values
//! replace them under `bgp-live` (so a source's latest bin says how far the
//! final data goes). A bin that ends while a feed is down is withheld and its
//! provisional values are retracted (written as "no data").
//!
//! The work is a list of tasks on one tokio runtime, so that more (the HTTP
//! API) can join them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use vigie_bgp::live::{
    run_driver, run_ris_live, system_clock, AllowedPeer, BmpConfig, BmpStation, BmpTime,
    DriverOptions, LiveDriver, LiveEvent, LiveObserver, RisLiveConfig, RisLiveStats,
    RisSubscription, Speaker, SpeakerConfig,
};
use vigie_bgp::mrt::{discover, ingest_mrt, IngestOptions};
use vigie_bgp::{FeedCoverage, VisibilityAccounting, VisibilityConfig};
use vigie_model::{format_utc, BinSink, BinSize, Discard, SignalBin, SinkError, UnixSecs};
use vigie_store::Store;

use super::serve_traffic::{
    self, AccessLogSection, FlowsSection, TelescopeSection, TrafficSections, TrafficTask,
};
use super::{open_store, EXIT_FAILURE};
use crate::cli::ServeArgs;

/// Store source of live bins (provisional ones go under
/// `bgp-live-provisional`).
pub const SOURCE: &str = "bgp-live";

/// The `vigie serve` configuration file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Store folder; the `--data-dir` flag when absent.
    pub data_dir: Option<PathBuf>,
    /// Bin width in seconds (divides a day, at least 60).
    #[serde(default = "default_bin_secs")]
    pub bin_secs: u32,
    /// How often the open bin is published as provisional, in seconds.
    #[serde(default = "default_provisional_secs")]
    pub provisional_secs: u64,
    /// Full-feed thresholds (IODA: 400,000 IPv4 and 10,000 IPv6 prefixes).
    pub full_feed_v4: Option<u64>,
    /// See `full_feed_v4`.
    pub full_feed_v6: Option<u64>,
    /// MRT RIB dumps (files or folders) loaded before going live: RIS Live
    /// does not replay state, so its collectors' latest dumps go here.
    #[serde(default)]
    pub rib_files: Vec<PathBuf>,
    /// Extra geo tables (as `--geo`).
    #[serde(default)]
    pub geo_files: Vec<PathBuf>,
    /// The passive BGP speaker.
    pub speaker: Option<SpeakerSection>,
    /// The BMP station.
    pub bmp: Option<BmpSection>,
    /// The RIS Live client.
    pub ris_live: Option<RisLiveSection>,
    /// The UDP flow collector (NetFlow v5/v9, IPFIX, sFlow v5).
    pub flows: Option<FlowsSection>,
    /// Followed web-server access logs.
    #[serde(default)]
    pub access_logs: Vec<AccessLogSection>,
    /// A live darknet interface.
    pub telescope: Option<TelescopeSection>,
}

fn default_bin_secs() -> u32 {
    300
}

fn default_provisional_secs() -> u64 {
    10
}

/// `[speaker]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SpeakerSection {
    /// Listening address, e.g. `0.0.0.0:179`.
    pub listen: SocketAddr,
    /// vigie's AS number.
    pub local_asn: u32,
    /// vigie's BGP identifier.
    pub router_id: Ipv4Addr,
    /// Proposed hold time in seconds.
    #[serde(default = "default_hold")]
    pub hold_time_secs: u16,
    /// Allowed peers.
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
}

fn default_hold() -> u16 {
    90
}

/// `[[speaker.peers]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// The peer's address.
    pub ip: IpAddr,
    /// Its AS (any when absent).
    pub asn: Option<u32>,
}

/// `[bmp]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BmpSection {
    /// Listening address, e.g. `0.0.0.0:11019`.
    pub listen: SocketAddr,
}

/// `[ris_live]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RisLiveSection {
    /// WebSocket URL (`wss://ris-live.ripe.net/v1/ws/?client=vigie`).
    pub url: String,
    /// Seconds without a message that make a stall.
    #[serde(default = "default_stall")]
    pub stall_secs: u64,
    /// One collector, e.g. `rrc00`.
    pub host: Option<String>,
    /// One peer address.
    pub peer: Option<String>,
    /// Prefixes to follow.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// With prefixes: more-specifics too.
    pub more_specific: Option<bool>,
    /// With prefixes: less-specifics too.
    pub less_specific: Option<bool>,
    /// AS path filter.
    pub path: Option<String>,
}

fn default_stall() -> u64 {
    60
}

impl ServeConfig {
    /// Whether any BGP feed (speaker, BMP, RIS Live) is configured.
    pub fn has_bgp_feed(&self) -> bool {
        self.speaker.is_some() || self.bmp.is_some() || self.ris_live.is_some()
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        let config: ServeConfig = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}(see `vigie serve --help` for the keys)",
                path.display()
            )
        })?;
        BinSize::new(config.bin_secs)
            .map_err(|e| anyhow::anyhow!("{}: bin_secs: {e}", path.display()))?;
        if !config.has_bgp_feed()
            && config.flows.is_none()
            && config.access_logs.is_empty()
            && config.telescope.is_none()
        {
            bail!(
                "{}: no feed configured: add a [speaker], [bmp], [ris_live], [flows], [[access_logs]] or [telescope] section",
                path.display()
            );
        }
        serve_traffic::check(
            config.flows.as_ref(),
            &config.access_logs,
            config.telescope.as_ref(),
            &path.display().to_string(),
        )?;
        if let Some(ris) = &config.ris_live {
            if !(ris.url.starts_with("ws://") || ris.url.starts_with("wss://")) {
                bail!(
                    "{}: ris_live.url {:?}: a WebSocket URL (ws:// or wss://) is needed",
                    path.display(),
                    ris.url
                );
            }
        }
        Ok(config)
    }
}

/// What `serve` knows now, shared with its tasks (and later the HTTP API).
#[derive(Default, Debug)]
pub struct LiveStatus {
    /// The open bin's latest provisional values.
    pub provisional: Option<SignalBin>,
    /// Start of the latest final bin.
    pub last_final: Option<UnixSecs>,
    /// Feeds down now, with the reason.
    pub feeds_down: Vec<(String, String)>,
}

/// The live BGP bins into the store (final ones under `bgp-live`,
/// provisional ones under `bgp-live-provisional`), folded into chunks at
/// each UTC midnight, and into the shared status.
struct LiveStore {
    store: Store,
    status: Arc<Mutex<LiveStatus>>,
}

impl BinSink for LiveStore {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.store.sink(SOURCE).write(bin)?;
        let end = bin.bin_start + bin.bin.secs() as i64;
        if end % 86_400 == 0 {
            self.store
                .compact()
                .map_err(|e| SinkError(format!("cannot compact the store: {e}")))?;
        }
        if let Ok(mut status) = self.status.lock() {
            status.last_final = Some(bin.bin_start);
        }
        Ok(())
    }

    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.store.sink(SOURCE).write_provisional(bin)?;
        if let Ok(mut status) = self.status.lock() {
            status.provisional = Some(bin.clone());
        }
        Ok(())
    }

    fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.store.sink(SOURCE).retract_provisional(bin)
    }
}

/// Tells the operator about bins and feeds, and keeps feed health in the
/// shared status.
struct LiveLog {
    status: Arc<Mutex<LiveStatus>>,
}

impl LiveObserver for LiveLog {
    fn bin_final(&mut self, bin: &SignalBin, coverage: FeedCoverage) {
        eprintln!(
            "vigie serve: bin {} final: {} values, full-feed peers {:?}",
            format_utc(bin.bin_start),
            bin.values.len(),
            coverage.full_feed_peers
        );
    }

    fn bin_withheld(&mut self, bin_start: UnixSecs) {
        eprintln!(
            "vigie serve: bin {} withheld: a feed was down when it ended (no data, not an outage)",
            format_utc(bin_start)
        );
    }

    fn feed_health(&mut self, event: &LiveEvent) {
        let Ok(mut status) = self.status.lock() else {
            return;
        };
        match event {
            LiveEvent::FeedDown {
                feed,
                silent_since,
                reason,
                ..
            } => {
                eprintln!(
                    "vigie serve: feed {feed} down (silent since {}): {reason}",
                    format_utc(*silent_since)
                );
                status.feeds_down.push((feed.to_string(), reason.clone()));
            }
            LiveEvent::FeedUp { feed, time } => {
                eprintln!("vigie serve: feed {feed} up again at {}", format_utc(*time));
                status.feeds_down.retain(|(f, _)| **f != **feed);
            }
            _ => {}
        }
    }
}

/// Runs `vigie serve`.
pub fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let Some(config_path) = args.config.clone() else {
        return super::serve_api::run_api_only(data_dir, args.listen, args.for_secs);
    };
    let config = ServeConfig::load(&config_path)?;
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| data_dir.to_path_buf());
    let store = open_store(&data_dir)?;
    let bin = BinSize::new(config.bin_secs).map_err(|e| anyhow::anyhow!("bin_secs: {e}"))?;
    let geo = Arc::new(vigie_pipeline::load_geo(&config.geo_files)?);
    let defaults = VisibilityConfig::default();
    let visibility = VisibilityConfig {
        bin,
        full_feed_v4: config.full_feed_v4.unwrap_or(defaults.full_feed_v4),
        full_feed_v6: config.full_feed_v6.unwrap_or(defaults.full_feed_v6),
        // The driver's clock ticks every second: silences are feed health's business.
        max_silence_secs: 0,
        ..defaults
    };
    let mut accounting = VisibilityAccounting::new(visibility, Arc::clone(&geo));
    if !config.rib_files.is_empty() {
        let collectors = discover(&config.rib_files).context("cannot list the RIB dumps")?;
        let summary = ingest_mrt(
            collectors,
            &mut accounting,
            &IngestOptions::default(),
            &mut Discard,
            &mut (),
        )
        .map_err(|e| anyhow::anyhow!("loading the RIB dumps: {e}"))?;
        eprintln!(
            "vigie serve: loaded {} records of {} RIB file(s), {} prefixes",
            summary.records,
            summary.files.len(),
            accounting.table().prefix_count()
        );
        for file in summary.files.iter().filter(|f| f.has_errors()) {
            eprintln!(
                "vigie serve: warning: {}: {}",
                file.path.display(),
                file.problems.join("; ")
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(listen) = args.listen {
        super::serve_api::spawn_api(&runtime, &data_dir, listen)?;
    }
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = serve_traffic::spawn(
        &data_dir,
        geo,
        bin,
        TrafficSections {
            flows: config.flows.as_ref(),
            access_logs: &config.access_logs,
            telescope: config.telescope.as_ref(),
        },
        Arc::clone(&stop_traffic),
    )?;
    let status = Arc::new(Mutex::new(LiveStatus::default()));
    let sink = LiveStore {
        store,
        status: Arc::clone(&status),
    };
    let log = LiveLog { status };
    let mut outcome = runtime.block_on(serve(
        config,
        accounting,
        sink,
        log,
        &traffic,
        args.for_secs,
    ));
    stop_traffic.store(true, Ordering::Relaxed);
    for task in traffic {
        let name = task.name.clone();
        if let Err(e) = task.join() {
            if outcome.is_ok() {
                outcome = Err(anyhow::anyhow!("the {name} collector stopped: {e}"));
            }
        }
    }
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("vigie serve: {e:#}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

type Task = (String, tokio::task::JoinHandle<Result<(), String>>);

async fn serve(
    config: ServeConfig,
    accounting: VisibilityAccounting,
    mut sink: LiveStore,
    mut log: LiveLog,
    traffic: &[TrafficTask],
    for_secs: Option<u64>,
) -> Result<()> {
    let has_bgp_feed = config.has_bgp_feed();
    let clock = system_clock();
    let (tx, rx) = tokio::sync::mpsc::channel::<LiveEvent>(65_536);
    let mut tasks: Vec<Task> = Vec::new();
    if let Some(section) = &config.speaker {
        let speaker = Speaker::bind(
            SpeakerConfig {
                listen: section.listen,
                local_asn: section.local_asn,
                router_id: section.router_id,
                hold_time_secs: section.hold_time_secs,
                peers: section
                    .peers
                    .iter()
                    .map(|p| AllowedPeer {
                        ip: p.ip,
                        asn: p.asn,
                    })
                    .collect(),
                ..SpeakerConfig::default()
            },
            clock.clone(),
        )
        .await
        .with_context(|| format!("cannot listen for BGP on {}", section.listen))?;
        eprintln!(
            "vigie serve: BGP speaker on {} ({} allowed peers)",
            section.listen,
            section.peers.len()
        );
        let tx = tx.clone();
        tasks.push((
            "speaker".into(),
            tokio::spawn(async move { speaker.run(tx).await.map_err(|e| e.to_string()) }),
        ));
    }
    if let Some(section) = &config.bmp {
        let station = BmpStation::bind(
            BmpConfig {
                listen: section.listen,
                time_source: BmpTime::Receipt,
            },
            clock.clone(),
        )
        .await
        .with_context(|| format!("cannot listen for BMP on {}", section.listen))?;
        eprintln!("vigie serve: BMP station on {}", section.listen);
        let tx = tx.clone();
        tasks.push((
            "bmp".into(),
            tokio::spawn(async move { station.run(tx).await.map_err(|e| e.to_string()) }),
        ));
    }
    if let Some(section) = &config.ris_live {
        let ris = RisLiveConfig {
            url: section.url.clone(),
            subscription: RisSubscription {
                host: section.host.clone(),
                peer: section.peer.clone(),
                prefixes: section.prefixes.clone(),
                more_specific: section.more_specific,
                less_specific: section.less_specific,
                path: section.path.clone(),
                message_type: None,
            },
            stall_secs: section.stall_secs,
            ..RisLiveConfig::default()
        };
        eprintln!("vigie serve: RIS Live from {}", section.url);
        let tx = tx.clone();
        let clock = clock.clone();
        let stats = Arc::new(RisLiveStats::default());
        tasks.push((
            "ris-live".into(),
            tokio::spawn(async move {
                run_ris_live(ris, tx, stats, clock).await;
                Ok(())
            }),
        ));
    }
    drop(tx);
    let stop_after = async {
        match for_secs {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    let failed_feed = async {
        loop {
            for (name, task) in &tasks {
                if task.is_finished() {
                    return name.clone();
                }
            }
            for task in traffic {
                if task.is_finished() {
                    return task.name.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    if !has_bgp_feed {
        // Traffic collectors only: they run on their own threads; wait here.
        drop(sink);
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("vigie serve: interrupted, stopping"),
            _ = stop_after => {}
            name = failed_feed => eprintln!("vigie serve: the {name} collector ended"),
        }
        return Ok(());
    }
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let options = DriverOptions {
        provisional_every: Duration::from_secs(config.provisional_secs.max(1)),
        clock,
        shutdown: Some(Arc::clone(&shutdown)),
        ..DriverOptions::default()
    };
    let driver = LiveDriver::new(accounting);
    let mut driver_task = tokio::spawn(async move {
        let result = run_driver(driver, rx, &mut sink, &mut log, options).await;
        result.map(|d| d.stats().clone())
    });
    let early_end = tokio::select! {
        _ = tokio::signal::ctrl_c() => { eprintln!("vigie serve: interrupted, stopping"); None }
        _ = stop_after => None,
        name = failed_feed => Some(name),
        result = &mut driver_task => {
            return match result {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("{e}")),
                Err(e) => Err(anyhow::anyhow!("the driver task failed: {e}")),
            };
        }
    };
    shutdown.notify_one();
    let stats = match driver_task.await {
        Ok(Ok(stats)) => stats,
        Ok(Err(e)) => bail!("{e}"),
        Err(e) => bail!("the driver task failed: {e}"),
    };
    let mut feed_error = None;
    for (name, task) in tasks {
        task.abort();
        if let Ok(Err(e)) = task.await {
            feed_error.get_or_insert(format!("{name}: {e}"));
        }
    }
    eprintln!(
        "vigie serve: stopped: {} events ({} counted at arrival: stamped too far from the clock), {} route changes, {} peer downs, {} final bins, {} withheld",
        stats.events,
        stats.events_retimed,
        stats.route_changes,
        stats.peer_downs,
        stats.bins_final,
        stats.bins_suppressed
    );
    if let Some(name) = early_end {
        bail!(
            "the {name} feed stopped: {}",
            feed_error.unwrap_or_else(|| "see the messages above".into())
        );
    }
    Ok(())
}
