//! `kind = "probe"`: Trinocular-style active probing of the /24 blocks of
//! a target list (Linux, CAP_NET_RAW) → /24s up per entity, round after
//! round, each round's block state changes logged in the store's block
//! log as `vigie probe` does.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use tokio::runtime::Runtime;
use vigie_geo::GeoDb;
use vigie_model::{BinSink, BinSize, UnixSecs};
use vigie_probe::{up_counts, Engine, IcmpSocket, ProbeList, Prober, ProberConfig, RoundBins};

use super::{Source, SourceContext, Stop};
use crate::{read_targets, BlockLog, ProbeSettings, PROBE_SOURCE};

/// A prober, its list read and its socket open, ready to run.
pub struct ProbeSource {
    settings: ProbeSettings,
    list: ProbeList,
    socket: IcmpSocket,
    runtime: Runtime,
    geo: GeoDb,
    bin: BinSize,
    block_log: Option<Arc<BlockLog>>,
}

fn now_unix() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Source for ProbeSource {
    const KIND: &'static str = "probe";
    type Config = ProbeSettings;

    /// Reads the targets and opens the raw socket, so a bad list or a
    /// missing CAP_NET_RAW stops the start.
    fn build(settings: ProbeSettings, context: &SourceContext) -> Result<Self> {
        if settings.targets.as_os_str().is_empty() {
            bail!("targets: give a hitlist or a saved probe list");
        }
        let (eligibility, _) = settings.check()?;
        let (list, report) = read_targets(&settings.targets, &eligibility, &settings.policy()?)?;
        eprintln!("vigie serve: probe targets: {report}");
        if list.is_empty() {
            bail!(
                "no eligible block to probe in {}",
                settings.targets.display()
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the prober's runtime")?;
        let socket = runtime.block_on(async { IcmpSocket::open() })?;
        Ok(ProbeSource {
            settings,
            list,
            socket,
            runtime,
            geo: GeoDb::clone(&context.geo),
            bin: context.bin,
            block_log: context.block_log.clone(),
        })
    }

    fn store_source(&self) -> String {
        PROBE_SOURCE.to_string()
    }

    fn run(self, stop: &Stop, sink: &mut dyn BinSink) -> Result<()> {
        let ProbeSource {
            settings,
            list,
            socket,
            runtime,
            geo,
            bin,
            block_log,
        } = self;
        let (_, params) = settings.check()?;
        let seed = now_unix() as u64 ^ u64::from(std::process::id());
        let ident = (std::process::id() as u16) ^ 0x7600;
        let config = ProberConfig {
            rate_pps: settings.rate,
            burst: settings.burst.unwrap_or((settings.rate / 100).max(1)),
            round: Duration::from_secs_f64(settings.round_secs),
        };
        eprintln!(
            "vigie serve: probing {} blocks from vantage point {:?} at ≤ {} probes/s",
            list.len(),
            settings.vantage,
            settings.rate
        );
        runtime.block_on(async {
            let engine = Engine::new(list, params, ident, seed);
            let ceiling = settings.rate_ceiling();
            let mut prober = Prober::with_rate_ceiling(socket, engine, config, ceiling)?;
            let mut round_bins = RoundBins::new(bin);
            while !stop.load(Ordering::Relaxed) {
                let round_start = now_unix();
                let report = prober.run_round().await;
                metrics::counter!("vigie_probe_rounds_total").increment(1);
                metrics::counter!("vigie_probe_probes_total")
                    .increment(report.periodic_probes + report.adaptive_probes);
                metrics::counter!("vigie_probe_replies_total").increment(report.replies);
                metrics::counter!("vigie_probe_timeouts_total").increment(report.timeouts);
                let now = now_unix();
                let engine = prober.engine();
                let values = up_counts(engine.list(), engine.states(), &geo);
                round_bins.write(sink, round_start, now, values)?;
                if let Some(log) = &block_log {
                    log.record(&settings.vantage, now, &report.changes)?;
                }
            }
            Ok(())
        })
    }
}
