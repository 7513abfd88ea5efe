//! The traffic collectors of `vigie serve`: the `[flows]` UDP collector
//! (NetFlow v5/v9, IPFIX, sFlow v5), followed `[[access_logs]]` and a live
//! `[telescope]` interface.
//!
//! Each runs on its own thread with its own store connection (SQLite WAL
//! lets them write beside the live BGP bins) and stops when the shared
//! stop flag is raised. They share nothing else with the BGP feeds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use serde::Deserialize;
use vigie_geo::GeoDb;
use vigie_model::BinSize;
use vigie_traffic::access_log::{follow_file, AccessLogAggregator, FollowOptions};
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;
use vigie_traffic::live_capture::{run_live_telescope, LiveCapture};
use vigie_traffic::telescope::Telescope;

use super::open_store;

/// Store source of the flow collector's bins (as `vigie collect flows`).
pub const SOURCE_FLOWS: &str = "flows";

/// `[flows]`: a UDP flow collector.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FlowsSection {
    /// UDP addresses for NetFlow/IPFIX and sFlow, e.g. `["0.0.0.0:2055", "0.0.0.0:6343"]`.
    pub listen: Vec<SocketAddr>,
    /// The operator's own prefixes, so "from country X" and "to country X" mean something.
    #[serde(default)]
    pub own_prefixes: Vec<String>,
    /// Seconds a bin stays open for late records after it ends.
    #[serde(default = "default_flow_grace")]
    pub grace_secs: i64,
    /// Sampling rates above this are treated as bad (records not scaled up).
    #[serde(default = "default_max_sampling_rate")]
    pub max_sampling_rate: u32,
}

fn default_flow_grace() -> i64 {
    60
}

fn default_max_sampling_rate() -> u32 {
    1_000_000
}

/// `[[access_logs]]`: one followed web-server log (nginx/Apache combined).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AccessLogSection {
    /// The log file; followed across rotation like `tail -F`.
    pub path: PathBuf,
    /// The store's name for this source (one per website).
    #[serde(default = "default_access_log_source")]
    pub source: String,
    /// Read the file from its start instead of its end.
    #[serde(default)]
    pub from_start: bool,
    /// Seconds a bin stays open for late lines after it ends.
    #[serde(default = "default_access_log_grace")]
    pub grace_secs: i64,
}

fn default_access_log_source() -> String {
    "access-log".into()
}

fn default_access_log_grace() -> i64 {
    300
}

/// `[telescope]`: a live darknet interface (Linux, CAP_NET_RAW).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TelescopeSection {
    /// The interface the darknet's traffic arrives on.
    pub interface: String,
    /// The dark prefixes; none takes every destination as dark.
    #[serde(default)]
    pub darknet: Vec<String>,
    /// The store's name for this source.
    #[serde(default = "default_telescope_source")]
    pub source: String,
}

fn default_telescope_source() -> String {
    "telescope".into()
}

/// Checks the traffic sections of a configuration; `origin` names the file.
pub fn check(
    flows: Option<&FlowsSection>,
    access_logs: &[AccessLogSection],
    telescope: Option<&TelescopeSection>,
    origin: &str,
) -> Result<()> {
    if let Some(telescope) = telescope {
        vigie_pipeline::parse_prefixes(&telescope.darknet, "telescope.darknet")
            .with_context(|| origin.to_string())?;
    }
    if let Some(flows) = flows {
        if flows.listen.is_empty() {
            anyhow::bail!("{origin}: flows.listen is empty: give at least one UDP address");
        }
        if !(0..=86_400).contains(&flows.grace_secs) {
            anyhow::bail!("{origin}: flows.grace_secs must be between 0 and 86400 (a day)");
        }
        vigie_pipeline::parse_prefixes(&flows.own_prefixes, "flows.own_prefixes")
            .with_context(|| origin.to_string())?;
    }
    for log in access_logs {
        if !(0..=86_400).contains(&log.grace_secs) {
            anyhow::bail!(
                "{origin}: access_logs {}: grace_secs must be between 0 and 86400 (a day)",
                log.path.display()
            );
        }
    }
    Ok(())
}

/// The traffic sections of a configuration.
#[derive(Clone, Copy)]
pub struct TrafficSections<'a> {
    /// `[flows]`.
    pub flows: Option<&'a FlowsSection>,
    /// `[[access_logs]]`.
    pub access_logs: &'a [AccessLogSection],
    /// `[telescope]`.
    pub telescope: Option<&'a TelescopeSection>,
}

/// A running collector thread and its name for messages.
pub struct TrafficTask {
    /// `flows` or `access-log:<path>`.
    pub name: String,
    handle: JoinHandle<Result<(), String>>,
}

impl TrafficTask {
    /// Whether the thread has ended (by itself, or after the stop flag).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the thread; its error, if it failed.
    pub fn join(self) -> Result<(), String> {
        match self.handle.join() {
            Ok(result) => result,
            Err(_) => Err("the thread panicked".into()),
        }
    }
}

/// Starts the configured collectors; they stop when `stop` is raised.
pub fn spawn(
    data_dir: &Path,
    geo: Arc<GeoDb>,
    bin: BinSize,
    sections: TrafficSections<'_>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<TrafficTask>> {
    let TrafficSections {
        flows,
        access_logs,
        telescope,
    } = sections;
    let mut tasks = Vec::new();
    if let Some(section) = telescope {
        let darknet = vigie_pipeline::parse_prefixes(&section.darknet, "telescope.darknet")?;
        // Opened here, so a missing interface or CAP_NET_RAW stops the start.
        let mut capture =
            LiveCapture::open(&section.interface, std::time::Duration::from_millis(200))?;
        let mut telescope = Telescope::new(GeoDb::clone(&geo), bin, darknet);
        let mut store = open_store(data_dir)?;
        let source = section.source.clone();
        let stop = Arc::clone(&stop);
        eprintln!(
            "vigie serve: telescope capturing on {} as source {source}",
            section.interface
        );
        let handle = std::thread::Builder::new()
            .name("vigie-telescope".into())
            .spawn(move || {
                let mut sink = store.sink(&source);
                run_live_telescope(&mut capture, &mut telescope, 5, &stop, None, &mut sink)
                    .map_err(|e| e.to_string())
            })
            .context("cannot start the telescope thread")?;
        tasks.push(TrafficTask {
            name: "telescope".into(),
            handle,
        });
    }
    if let Some(section) = flows {
        let own = vigie_pipeline::parse_prefixes(&section.own_prefixes, "flows.own_prefixes")?;
        let mut store = open_store(data_dir)?;
        let mut pipeline = FlowPipeline::new(GeoDb::clone(&geo), bin, own)
            .with_decoder(FlowDecoder::new().with_max_sampling_rate(section.max_sampling_rate));
        let config = CollectorConfig {
            listen: section.listen.clone(),
            grace_secs: section.grace_secs,
            run_for: None,
            limits: Default::default(),
        };
        let stop = Arc::clone(&stop);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Vec<SocketAddr>>();
        let handle = std::thread::Builder::new()
            .name("vigie-flows".into())
            .spawn(move || {
                let result = run_collector(
                    &config,
                    &mut pipeline,
                    stop,
                    |addrs| {
                        let _ = ready_tx.send(addrs.to_vec());
                    },
                    &mut store.sink(SOURCE_FLOWS),
                    |pipeline| {
                        for (exporter, h) in pipeline.health() {
                            if h.decode_errors > 0 || h.template_misses > 0 {
                                eprintln!(
                                    "vigie serve: flow exporter {exporter}: {} decode errors, {} template misses so far",
                                    h.decode_errors, h.template_misses
                                );
                            }
                        }
                    },
                );
                result.map_err(|e| e.to_string())
            })
            .context("cannot start the flow collector thread")?;
        // Report the bound sockets (or the bind error) before going on.
        let task = TrafficTask {
            name: "flows".into(),
            handle,
        };
        match ready_rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(addrs) => {
                for a in addrs {
                    eprintln!("vigie serve: flow collector on udp {a}");
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                // The thread ended before binding: its error says why.
                let error = task.join().err().unwrap_or_default();
                anyhow::bail!("the flow collector did not start: {error}");
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("vigie serve: the flow collector is slow to start; going on");
            }
        }
        tasks.push(task);
    }
    for section in access_logs {
        let mut store = open_store(data_dir)?;
        let mut aggregator = AccessLogAggregator::new(GeoDb::clone(&geo), bin, section.grace_secs);
        let section = section.clone();
        let stop = Arc::clone(&stop);
        let name = format!("access-log:{}", section.path.display());
        eprintln!(
            "vigie serve: following {} as source {}",
            section.path.display(),
            section.source
        );
        let handle = std::thread::Builder::new()
            .name("vigie-access-log".into())
            .spawn(move || {
                let options = FollowOptions {
                    from_start: section.from_start,
                    ..FollowOptions::default()
                };
                let mut sink = store.sink(&section.source);
                follow_file(&section.path, options, &mut aggregator, &stop, &mut sink)?;
                let stats = aggregator.stats();
                if stats.bad_lines > 0 {
                    eprintln!(
                        "vigie serve: {}: {} bad lines skipped (is it the combined or common log format?)",
                        section.path.display(),
                        stats.bad_lines
                    );
                }
                Ok(())
            })
            .context("cannot start an access-log thread")?;
        tasks.push(TrafficTask { name, handle });
    }
    Ok(tasks)
}
