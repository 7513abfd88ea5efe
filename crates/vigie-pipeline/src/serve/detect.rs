//! The service's detection unit: a thread running [`LiveDetection`] over
//! its own store handle, fed by the service's sources through
//! [`DetectFeed`] (one of the service's sinks) and by the store's write log.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use vigie_model::{format_utc, BinSink, SignalBin, SinkError};
use vigie_store::Store;

use super::config::DetectSettings;
use crate::source::Stop;
use crate::LiveDetection;

/// A bin handed to the detection thread.
enum Handed {
    /// A closed bin: detected on.
    Final(SignalBin),
    /// The open bin's values so far: looked at for provisional incidents.
    Provisional(SignalBin),
}

/// Hands the bins of the service's sources to the detection thread: final
/// bins to detect on, provisional ones to open provisional incidents.
pub struct DetectFeed(Sender<Handed>);

impl BinSink for DetectFeed {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        // The detection thread gone (it said why) must not stop the sources.
        let _ = self.0.send(Handed::Final(bin.clone()));
        Ok(())
    }

    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        let _ = self.0.send(Handed::Provisional(bin.clone()));
        Ok(())
    }
}

/// Starts the detection thread over `store` (a handle of its own); the
/// service's sources (named as in the store) write their bins to the
/// returned feed.
pub fn spawn_detection(
    store: Store,
    settings: &DetectSettings,
    own_sources: Vec<String>,
    stop: &Stop,
) -> Result<(DetectFeed, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let settings = settings.clone();
    let stop = Stop::clone(stop);
    let handle = std::thread::Builder::new()
        .name("vigie-detect".into())
        .spawn(move || {
            if let Err(e) = run(store, &settings, own_sources, rx, &stop) {
                eprintln!("vigie serve: detection stopped: {e:#}");
            }
        })
        .context("cannot start the detection thread")?;
    Ok((DetectFeed(tx), handle))
}

/// The detection loop: resume, then push, poll, publish and checkpoint
/// until `stop` (a last checkpoint on the way out).
fn run(
    mut store: Store,
    settings: &DetectSettings,
    own_sources: Vec<String>,
    rx: Receiver<Handed>,
    stop: &Stop,
) -> Result<()> {
    let started = Instant::now();
    let mut live = LiveDetection::resume(&mut store, settings.vigie_config(), own_sources)?;
    let saved = live.checkpoint(&mut store)?;
    eprintln!(
        "vigie serve: detection ready in {:.1} s: {} entities followed, {saved} series checkpointed",
        started.elapsed().as_secs_f64(),
        live.detector().entities().len()
    );
    let poll_every = Duration::from_secs(settings.poll_secs.max(1));
    let checkpoint_every = Duration::from_secs(settings.checkpoint_secs);
    let mut last_poll = Instant::now();
    let mut last_checkpoint = Instant::now();
    loop {
        let mut handed = Vec::new();
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(bin) => handed.push(bin),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                live.checkpoint(&mut store)?;
                return Ok(());
            }
        }
        handed.extend(rx.try_iter());
        let mut closed = Vec::new();
        let mut open = None;
        for bin in handed {
            match bin {
                Handed::Final(bin) => {
                    let took = Instant::now();
                    live.push_bin(&bin);
                    metrics::histogram!("vigie_detector_bin_seconds")
                        .record(took.elapsed().as_secs_f64());
                    metrics::counter!("vigie_detector_bins_total").increment(1);
                    closed.push(bin);
                }
                Handed::Provisional(bin) => open = Some(bin),
            }
        }
        let mut read = 0;
        if last_poll.elapsed() >= poll_every {
            read = live.poll(&store)?;
            last_poll = Instant::now();
        }
        if !closed.is_empty() || read > 0 {
            let published = live.publish(&mut store)?;
            metrics::counter!("vigie_detector_publishes_total").increment(1);
            metrics::gauge!("vigie_detector_series").set(live.detector().series_count() as f64);
            // Checkpoints spread over the interval: the share of the
            // series that the time since the last one is of it.
            let share =
                last_checkpoint.elapsed().as_secs_f64() / checkpoint_every.as_secs_f64().max(1e-3);
            let due = (share * live.detector().series_count() as f64).ceil();
            if due >= 1.0 {
                live.checkpoint_some(&mut store, due.min(usize::MAX as f64) as usize)?;
                last_checkpoint = Instant::now();
            }
            if published.entities > 0 {
                let when = closed
                    .last()
                    .map(|b| format_utc(b.bin_start))
                    .unwrap_or_else(|| "stored bins".into());
                eprintln!(
                    "vigie serve: detection at {when}: {} entities fused, {} incidents ({} ongoing)",
                    published.entities, published.incidents, published.ongoing
                );
            }
        }
        // The latest open bin, unless a final one of the same time came after.
        if let Some(open) = open.filter(|o| closed.iter().all(|c| c.bin_start < o.bin_start)) {
            for entity in live.provisional_bin(&mut store, &open)? {
                metrics::counter!("vigie_detector_provisional_incidents_total").increment(1);
                eprintln!(
                    "vigie serve: provisional incident of {entity}: its visible /24s halved in the open bin of {}",
                    format_utc(open.bin_start)
                );
            }
        }
        if stop.load(Ordering::Relaxed) {
            live.checkpoint(&mut store)?;
            return Ok(());
        }
    }
}
