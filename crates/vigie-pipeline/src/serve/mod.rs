//! The live service (`vigie serve`): every configured source on the store,
//! detection as the bins close (`[detect]`, a [`crate::LiveDetection`] on
//! a thread of its own), the HTTP API and the alert worker.
//!
//! Sources that write their own bins run on threads of their own; the BGP
//! feeds run as tasks on one tokio runtime and feed one routing model,
//! whose driver writes the open bin every `provisional_secs` under
//! `bgp-live-provisional` and its final values at the bin boundary under
//! `bgp-live`. A bin that ends while a feed is down is withheld and its
//! provisional values are retracted (written as "no data").
//!
//! The store is opened once: every source writes through a
//! [`ServiceSink`] over the one handle, which also hands each bin to the
//! sinks added with [`Service::add_sink`] (a live detector, say).

mod api;
mod bootstrap;
mod config;
mod detect;
pub(crate) mod metrics;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use vigie_bgp::live::{
    run_driver, system_clock, DriverOptions, LiveDriver, LiveEvent, LiveObserver, RibLoader,
    RibReload, RisLiveConfig,
};
use vigie_bgp::mrt::{discover, ingest_mrt, IngestOptions};
use vigie_bgp::{FeedCoverage, VisibilityAccounting, VisibilityConfig};
use vigie_model::{format_utc, BinSink, Discard, SignalBin, SinkError, TimeWindow, UnixSecs};
use vigie_store::Store;

pub use bootstrap::{load_latest_ribs, Bootstrap};
pub use config::{ApiSettings, BgpSettings, DetectSettings, ServiceConfig, StoreSettings};
pub use detect::DetectFeed;

use crate::source::{BgpFeed, FeedTask, Registry, RunnableSource, SourceContext, Stop, Unit};
use crate::{load_geo, BlockLog};

/// The store's name for the live BGP bins (provisional ones go under
/// `bgp-live-provisional`).
pub const BGP_LIVE_SOURCE: &str = "bgp-live";

/// A sink shared by every source of the service.
pub type SharedSink = Arc<Mutex<dyn BinSink + Send>>;

/// Makes a sink of its own for each source of the service, given the
/// source's store name (`bgp-live`, `flows`, …): the bus publisher, whose
/// messages say which source a bin comes from.
pub type SinkPerSource = Box<dyn Fn(&str) -> SharedSink + Send>;

/// The live service: a configuration, the source kinds it accepts, and
/// where bins go.
pub struct Service {
    config: ServiceConfig,
    registry: Registry,
    extra_sinks: Vec<SharedSink>,
    per_source: Vec<SinkPerSource>,
}

impl Service {
    /// The service `config` describes, with `registry`'s source kinds.
    pub fn new(config: ServiceConfig, registry: Registry) -> Service {
        Service {
            config,
            registry,
            extra_sinks: Vec::new(),
            per_source: Vec::new(),
        }
    }

    /// Every bin of every source is also written to a sink that `make`
    /// makes for that source, after the store (`vigie serve --publish`:
    /// each source's bins on the bus under its own name).
    pub fn add_sink_per_source(&mut self, make: SinkPerSource) {
        self.per_source.push(make);
    }

    /// Every bin of every source (final, provisional, retracted) is also
    /// written to `sink`, after the store.
    pub fn add_sink(&mut self, sink: SharedSink) {
        self.extra_sinks.push(sink);
    }

    /// Runs the service on `store` (the API, the alert worker and live
    /// detection take connections from this handle) until Ctrl-C,
    /// `run_for` or `stop`, or until a source fails.
    pub fn run(self, store: Store, run_for: Option<Duration>, stop: Stop) -> Result<()> {
        metrics::install();
        let config = &self.config;
        let context = SourceContext {
            geo: Arc::new(load_geo(&config.geo_files)?),
            bin: config.bin,
            // A connection of its own (none for a store in memory).
            block_log: store.reconnect().ok().map(BlockLog::new).map(Arc::new),
        };
        let mut sources = Vec::new();
        let mut feeds = Vec::new();
        for unit in config.units(&self.registry, &context)? {
            match unit {
                Unit::Bins(source) => sources.push(source),
                Unit::Bgp(feed) => feeds.push(feed),
            }
        }
        if sources.is_empty() && feeds.is_empty() && config.api.is_none() {
            bail!(
                "nothing to serve: add [[source]] tables (kind = {}) or an [api] section",
                self.registry.kinds().join(", ")
            );
        }
        let routing = if feeds.is_empty() {
            None
        } else {
            Some(routing_model(config, &context, &feeds, &store)?)
        };
        let mut extra_sinks = self.extra_sinks.clone();
        let detection = if config.detect.enabled {
            let mut own: Vec<String> = sources.iter().map(|s| s.store_source()).collect();
            if !feeds.is_empty() {
                own.push(BGP_LIVE_SOURCE.to_string());
            }
            let (feed, handle) =
                detect::spawn_detection(store.reconnect()?, &config.detect, own, &stop)?;
            extra_sinks.push(Arc::new(Mutex::new(feed)));
            Some(handle)
        } else {
            None
        };
        let store = Arc::new(Mutex::new(store));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        if let Some(api) = &config.api {
            let handle = store.lock().map_err(|_| anyhow!("the store is poisoned"))?;
            api::spawn_api(&runtime, handle.reconnect()?, api, &config.alerts)?;
        }
        let per_source = self.per_source;
        let sink_for = |source: &str| ServiceSink {
            store: Arc::clone(&store),
            source: source.to_string(),
            extra: extra_sinks
                .iter()
                .cloned()
                .chain(per_source.iter().map(|make| make(source)))
                .collect(),
            implausible: 0,
        };
        let mut threads = Vec::new();
        for source in sources {
            let name = source.store_source();
            threads.push(spawn_source(source, sink_for(&name), &stop)?);
        }
        let bgp = routing.map(|(accounting, rib_reload)| BgpLive {
            accounting,
            rib_reload,
            feeds,
            provisional_every: Duration::from_secs(config.bgp.provisional_secs.max(1)),
            sink: sink_for(BGP_LIVE_SOURCE),
        });
        let mut outcome = runtime.block_on(serve(bgp, &threads, run_for, &stop));
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            let name = thread.name.clone();
            if let Err(e) = thread.join() {
                if outcome.is_ok() {
                    outcome = Err(anyhow!("the {name} source stopped: {e}"));
                }
            }
        }
        if let Some(detection) = detection {
            drop(extra_sinks);
            if detection.join().is_err() && outcome.is_ok() {
                outcome = Err(anyhow!("the detection thread panicked"));
            }
        }
        runtime.shutdown_timeout(Duration::from_secs(5));
        outcome
    }
}

/// The routing model of the BGP feeds, with the configured RIB dumps
/// loaded, or with the RIS collectors' latest ones fetched (`fetch_ribs`,
/// then also how to fetch them again after a long RIS Live outage).
fn routing_model(
    config: &ServiceConfig,
    context: &SourceContext,
    feeds: &[BgpFeed],
    store: &Store,
) -> Result<(VisibilityAccounting, Option<RibReload>)> {
    let visibility = config.bgp.visibility(config.bin);
    let mut accounting = VisibilityAccounting::new(visibility, Arc::clone(&context.geo));
    let hosts: Vec<String> = (feeds.iter())
        .filter_map(|f| match f {
            BgpFeed::RisLive(ris) => ris.host.clone(),
            _ => None,
        })
        .collect();
    let ris_live = feeds.iter().any(|f| matches!(f, BgpFeed::RisLive(_)));
    if config.bgp.rib_files.is_empty() && ris_live && !config.bgp.fetch_ribs {
        eprintln!(
            "vigie serve: note: RIS Live starts from an empty table; set [bgp] fetch_ribs = true \
             (or rib_files) to load the collectors' latest RIB dumps first"
        );
    }
    if config.bgp.rib_files.is_empty() && config.bgp.fetch_ribs {
        let collectors = config.bgp.rib_collectors.clone().unwrap_or(hosts);
        if collectors.is_empty() {
            bail!(
                "[bgp] fetch_ribs: name the RIS collectors to load in rib_collectors = [\"rrc00\", …] \
                 (a ris-live source without host follows them all)"
            );
        }
        let cache = (config.bgp.rib_cache.clone())
            .or_else(|| {
                config
                    .store
                    .data_dir
                    .as_ref()
                    .map(|d| d.join("archive-cache"))
            })
            .or_else(|| {
                let db = std::path::Path::new(store.location());
                db.parent().map(|d| d.join("archive-cache"))
            })
            .unwrap_or_else(|| std::env::temp_dir().join("vigie-archive-cache"));
        let fetch = RibFetch {
            collectors,
            ris_url: config.bgp.ris_url.clone(),
            cache,
            visibility: VisibilityConfig {
                // Loading closes one bin over a long silence, not every bin of it.
                max_silence_secs: VisibilityConfig::default().max_silence_secs,
                ..config.bgp.visibility(config.bin)
            },
            geo: Arc::clone(&context.geo),
        };
        accounting.replace_routes(fetch.load()?);
        let reload = (ris_live && config.bgp.rib_reload_after_secs > 0).then(|| {
            let load: RibLoader = Arc::new(move || {
                let fresh = fetch.load().map_err(|e| format!("{e:#}"))?;
                if fresh.table().prefix_count() == 0 {
                    return Err("no RIB dump could be fetched".into());
                }
                Ok(fresh)
            });
            RibReload {
                after_secs: config.bgp.rib_reload_after_secs as i64,
                feeds: vec![Arc::from(RisLiveConfig::default().feed.as_str())],
                load,
            }
        });
        return Ok((accounting, reload));
    }
    if config.bgp.rib_files.is_empty() {
        return Ok((accounting, None));
    }
    let collectors = discover(&config.bgp.rib_files).context("cannot list the RIB dumps")?;
    let summary = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions::default(),
        &mut Discard,
        &mut (),
    )
    .map_err(|e| anyhow!("loading the RIB dumps: {e}"))?;
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
    Ok((accounting, None))
}

/// Where `[bgp] fetch_ribs` finds the RIS collectors' latest dumps.
struct RibFetch {
    collectors: Vec<String>,
    ris_url: String,
    cache: std::path::PathBuf,
    /// The routing model's settings while loading.
    visibility: VisibilityConfig,
    geo: Arc<vigie_geo::GeoDb>,
}

impl RibFetch {
    /// A routing model loaded from the latest dumps (and the update files since).
    fn load(&self) -> Result<VisibilityAccounting> {
        let mut accounting =
            VisibilityAccounting::new(self.visibility.clone(), Arc::clone(&self.geo));
        eprintln!(
            "vigie serve: fetching the latest RIB dumps of {} from {} into {}",
            self.collectors.join(", "),
            self.ris_url,
            self.cache.display()
        );
        let flags = crate::FetchFlags {
            retries: 2,
            timeout_secs: 60.0,
            retry_wait_secs: 2.0,
        };
        let loaded = bootstrap::load_latest_ribs(
            &mut accounting,
            &self.collectors,
            &self.ris_url,
            &self.cache,
            vigie_model::clock_now(),
            flags,
        )?;
        for message in &loaded.messages {
            eprintln!("vigie serve: {message}");
        }
        eprintln!(
            "vigie serve: loaded {} records of {} fetched file(s), {} prefixes",
            loaded.records,
            loaded.files,
            accounting.table().prefix_count()
        );
        Ok(accounting)
    }
}

/// Where one source's bins go: the store under the source's name (folded
/// into chunks at each UTC midnight), then every added sink. Bins dated
/// before 1990 or more than an hour past the clock (an exporter's or a
/// peer's clock gone wrong) go nowhere: they are counted and logged.
pub struct ServiceSink {
    store: Arc<Mutex<Store>>,
    source: String,
    extra: Vec<SharedSink>,
    implausible: u64,
}

impl ServiceSink {
    /// Whether `bin` is plausible now; counts (and logs at 1, 2, 4, 8, …)
    /// the bins that are not.
    fn plausible(&mut self, bin: &SignalBin) -> bool {
        let window = TimeWindow::live_now();
        let Err(why) = window.check(bin.bin_start) else {
            return true;
        };
        self.implausible += 1;
        ::metrics::counter!("vigie_source_bins_dropped_total", "source" => self.source.clone())
            .increment(1);
        if self.implausible.is_power_of_two() {
            eprintln!(
                "vigie serve: warning: {}: a bin {why}; dropped ({} so far)",
                self.source, self.implausible
            );
        }
        false
    }

    /// Writes to the store, then to each added sink, with `write`.
    fn each(
        &mut self,
        write: impl Fn(&mut dyn BinSink) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        outside_async(|| self.each_blocking(write))
    }

    fn each_blocking(
        &mut self,
        write: impl Fn(&mut dyn BinSink) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        {
            let mut store = self
                .store
                .lock()
                .map_err(|_| SinkError("the store's lock is poisoned".into()))?;
            write(&mut store.sink(&self.source))?;
        }
        for sink in &self.extra {
            let mut sink = sink
                .lock()
                .map_err(|_| SinkError("a sink's lock is poisoned".into()))?;
            write(&mut *sink)?;
        }
        Ok(())
    }
}

impl BinSink for ServiceSink {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if !self.plausible(bin) {
            return Ok(());
        }
        self.each(|sink| sink.write(bin))?;
        let end = bin.bin_start + bin.bin.secs() as i64;
        let source = self.source.clone();
        ::metrics::counter!("vigie_source_bins_total", "source" => source.clone()).increment(1);
        ::metrics::counter!("vigie_source_values_total", "source" => source.clone())
            .increment(bin.values.len() as u64);
        ::metrics::gauge!("vigie_source_last_bin_end_timestamp_seconds", "source" => source)
            .set(end as f64);
        if end % 86_400 == 0 {
            let mut store = self
                .store
                .lock()
                .map_err(|_| SinkError("the store's lock is poisoned".into()))?;
            outside_async(|| store.compact())
                .map_err(|e| SinkError(format!("cannot compact the store: {e}")))?;
        }
        Ok(())
    }

    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if !self.plausible(bin) {
            return Ok(());
        }
        ::metrics::counter!("vigie_source_provisional_bins_total", "source" => self.source.clone())
            .increment(1);
        self.each(|sink| sink.write_provisional(bin))
    }

    fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        if !TimeWindow::live_now().contains(bin.bin_start) {
            return Ok(());
        }
        self.each(|sink| sink.retract_provisional(bin))
    }
}

/// Runs blocking store work from wherever a sink is called: the live BGP
/// driver calls its sink from an async task, where a blocking client that
/// runs its own runtime (PostgreSQL's) must not be entered directly.
/// Outside a multi-threaded runtime, `work` simply runs.
fn outside_async<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// A source running on its thread, and its name for messages.
struct SourceThread {
    name: String,
    handle: JoinHandle<Result<()>>,
}

impl SourceThread {
    /// Waits for the thread; its error, if it failed.
    fn join(self) -> Result<()> {
        match self.handle.join() {
            Ok(result) => result,
            Err(_) => Err(anyhow!("the thread panicked")),
        }
    }
}

/// Starts `source` on a thread of its own.
fn spawn_source(
    source: Box<dyn RunnableSource>,
    mut sink: ServiceSink,
    stop: &Stop,
) -> Result<SourceThread> {
    let name = source.store_source();
    let stop = Arc::clone(stop);
    let handle = std::thread::Builder::new()
        .name(format!("vigie-{name}"))
        .spawn(move || source.run_boxed(&stop, &mut sink))
        .with_context(|| format!("cannot start the thread of {name}"))?;
    Ok(SourceThread { name, handle })
}

/// The BGP feeds and the routing model they share.
struct BgpLive {
    accounting: VisibilityAccounting,
    rib_reload: Option<RibReload>,
    feeds: Vec<BgpFeed>,
    provisional_every: Duration,
    sink: ServiceSink,
}

/// Waits for Ctrl-C, `run_for`, `stop` or a failed source, running the BGP
/// feeds and their driver meanwhile.
async fn serve(
    bgp: Option<BgpLive>,
    threads: &[SourceThread],
    run_for: Option<Duration>,
    stop: &AtomicBool,
) -> Result<()> {
    let clock = system_clock();
    let (tx, rx) = tokio::sync::mpsc::channel::<LiveEvent>(65_536);
    // The feeds' events pass through a counter (/metrics) on their way.
    let (feed_tx, mut feed_rx) = tokio::sync::mpsc::channel::<LiveEvent>(65_536);
    tokio::spawn(async move {
        let mut counts = metrics::BgpCounts::default();
        while let Some(event) = feed_rx.recv().await {
            counts.count(&event);
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let mut tasks: Vec<FeedTask> = Vec::new();
    if let Some(bgp) = &bgp {
        for feed in &bgp.feeds {
            tasks.push(feed.start(feed_tx.clone(), clock.clone()).await?);
        }
    }
    drop(feed_tx);
    let stop_after = async {
        match run_for {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    let ended = async {
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some((name, _)) = tasks.iter().find(|(_, task)| task.is_finished()) {
                return Some(name.clone());
            }
            if let Some(thread) = threads.iter().find(|t| t.handle.is_finished()) {
                return Some(thread.name.clone());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let Some(bgp) = bgp else {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                signal.context("cannot wait for Ctrl-C")?;
                eprintln!("vigie serve: interrupted, stopping");
            }
            _ = stop_after => {}
            name = ended => if let Some(name) = name {
                eprintln!("vigie serve: the {name} source ended");
            },
        }
        return Ok(());
    };
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let options = DriverOptions {
        provisional_every: bgp.provisional_every,
        clock,
        shutdown: Some(Arc::clone(&shutdown)),
        rib_reload: bgp.rib_reload,
        ..DriverOptions::default()
    };
    let driver = LiveDriver::new(bgp.accounting);
    let mut sink = bgp.sink;
    let mut driver_task = tokio::spawn(async move {
        let result = run_driver(driver, rx, &mut sink, &mut LiveLog, options).await;
        result.map(|d| d.stats().clone())
    });
    let early_end = tokio::select! {
        _ = tokio::signal::ctrl_c() => { eprintln!("vigie serve: interrupted, stopping"); None }
        _ = stop_after => None,
        name = ended => name,
        result = &mut driver_task => {
            return match result {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(anyhow!("{e}")),
                Err(e) => Err(anyhow!("the driver task failed: {e}")),
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

/// Tells the operator about BGP bins and feeds.
struct LiveLog;

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

    fn rib_reloaded(&mut self, outcome: &Result<usize, String>, held: u64) {
        match outcome {
            Ok(prefixes) => eprintln!(
                "vigie serve: routing table rebuilt from the latest RIB dumps ({prefixes} \
                 prefixes), then {held} RIS Live event(s) received meanwhile applied"
            ),
            Err(e) => eprintln!(
                "vigie serve: warning: the RIB dumps could not be reloaded ({e}); the table \
                 goes on from before the outage, with {held} event(s) received meanwhile"
            ),
        }
    }

    fn feed_health(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::FeedDown {
                feed,
                silent_since,
                reason,
                ..
            } => eprintln!(
                "vigie serve: feed {feed} down (silent since {}): {reason}",
                format_utc(*silent_since)
            ),
            LiveEvent::FeedUp { feed, time } => {
                eprintln!("vigie serve: feed {feed} up again at {}", format_utc(*time))
            }
            _ => {}
        }
    }
}
