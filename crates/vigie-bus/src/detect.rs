//! Detection workers on the bus (`vigie bus detect --share I/N`): each
//! reads every closed bin through a durable consumer of its own
//! (`vigie-detect-I-of-N`), feeds the entities of its
//! [`vigie_pipeline::Share`] to a [`LiveDetection`], and writes their
//! incidents and events to the store (method `vigie`, as `vigie detect`
//! writes them).
//!
//! After each batch the worker publishes the incidents that changed,
//! checkpoints every series it pushed (under the share's own checkpoint
//! method), and only then acknowledges the batch. A worker killed at any
//! point restarts from its checkpoints; the messages it had not
//! acknowledged come again, and the bins its checkpoints already hold are
//! ignored by the detector (a series ignores bins not newer than its last
//! one): no bin is counted twice, none is lost, and since the incidents it
//! writes again are the same (same starts), the alert outbox, keyed by
//! incident start, sends nothing twice.
//!
//! A series the worker has no checkpoint for is warmed up from the
//! store once, when its first bus bin comes: its stored bins strictly
//! before that one (an import's history, bins a collector wrote straight
//! to the store), so a worker started on a store with history detects an
//! outage in the first bins it is handed. The bins from that one on come
//! from the bus only; a worker killed before its first checkpoint reads
//! the same history again when the same bin comes again.
//!
//! A worker reads closed bins only (`vigie.bins.>`): provisional bins
//! stay with the service's own detector. A bin published again with other
//! values (a revision) reaches the store, where the last write wins, but
//! not the detector, which keeps the first: sources publish closed bins
//! once. Messages that cannot be decoded are counted, acknowledged and
//! skipped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vigie_detect::VigieConfig;
use vigie_pipeline::{LiveDetection, Share};
use vigie_store::Store;

use crate::codec::{decode, BinKind, BINS_PREFIX};
use crate::{Bus, BusError, Consumer, ConsumerOptions};

/// How a detection worker runs.
#[derive(Clone, Debug)]
pub struct DetectOptions {
    /// The entities this worker owns.
    pub share: Share,
    /// The detector's settings (the same for every worker).
    pub config: VigieConfig,
    /// The durable consumer (its subjects are set to `vigie.bins.>`; an
    /// empty durable name becomes `vigie-detect-I-of-N`).
    pub consumer: ConsumerOptions,
}

impl DetectOptions {
    /// A worker over `share` with the default detector and consumer.
    pub fn new(share: Share) -> DetectOptions {
        DetectOptions {
            share,
            config: VigieConfig::default(),
            consumer: ConsumerOptions {
                durable: durable_name(share),
                ..ConsumerOptions::default()
            },
        }
    }
}

/// The durable consumer a worker over `share` uses unless told otherwise.
pub fn durable_name(share: Share) -> String {
    format!("vigie-detect-{}-of-{}", share.index, share.count)
}

/// What a detection worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectReport {
    /// Messages read (redeliveries included).
    pub messages: u64,
    /// Of them, messages delivered before (a worker stopped before
    /// acknowledging them).
    pub redelivered: u64,
    /// Messages of closed bins read (a bin travels as one message per
    /// entity kind, or more when cut into parts).
    pub bins: u64,
    /// Series warmed up from the store's history at their first bus bin.
    pub warmed: u64,
    /// Series checkpointed.
    pub checkpointed: u64,
    /// Incidents written (each publication counts those it wrote again).
    pub incidents: u64,
    /// Messages refused: undecodable, or not a closed bin.
    pub bad: u64,
    /// The first refused messages: subject, sequence and why.
    pub bad_examples: Vec<String>,
}

impl DetectReport {
    /// The one-line summary `vigie bus detect` prints.
    pub fn summary(&self) -> String {
        format!(
            "{} messages ({} redelivered): {} of closed bins, {} series warmed up from the store, {} series checkpointed, {} incidents written; {} bad messages skipped",
            self.messages,
            self.redelivered,
            self.bins,
            self.warmed,
            self.checkpointed,
            self.incidents,
            self.bad
        )
    }

    fn refuse(&mut self, subject: &str, sequence: u64, why: &str) {
        self.bad += 1;
        if self.bad_examples.len() < 20 {
            self.bad_examples
                .push(format!("{subject} #{sequence}: {why}"));
        }
    }
}

/// `vigie bus detect`: runs a detection worker over `options.share` until
/// `stop` (or, with `exit_when_drained`, until nothing is pending),
/// telling `on_batch` after each batch is acknowledged.
pub fn detect_from_bus(
    bus: &Bus,
    store: &mut Store,
    options: &DetectOptions,
    stop: &AtomicBool,
    on_batch: &mut dyn FnMut(&DetectReport),
) -> Result<DetectReport, BusError> {
    let mut consumer_options = options.consumer.clone();
    consumer_options.subjects = vec![format!("{BINS_PREFIX}.>")];
    if consumer_options.durable.is_empty() {
        consumer_options.durable = durable_name(options.share);
    }
    let failed = |what: &str, e: anyhow::Error| BusError(format!("{what}: {e:#}"));
    let mut live = LiveDetection::for_share(store, options.config.clone(), options.share)
        .map_err(|e| failed("cannot restore the worker's checkpoints", e))?;
    let consumer = Consumer::open(bus, consumer_options.clone())?;
    let mut report = DetectReport::default();
    while !stop.load(Ordering::Relaxed) {
        let batch = consumer.fetch(Duration::from_secs(1))?;
        if batch.is_empty() {
            if consumer_options.exit_when_drained && consumer.pending()? == 0 {
                break;
            }
            continue;
        }
        let mut ackers = Vec::with_capacity(batch.len());
        for message in batch {
            report.messages += 1;
            report.redelivered += u64::from(message.delivered > 1);
            match decode(Some(&message.subject), &message.payload) {
                Ok(bin) if matches!(bin.kind, BinKind::Final | BinKind::Weighted(_)) => {
                    let warmed = live
                        .push_bus_bin(store, &bin.bin)
                        .map_err(|e| failed("cannot read a series' history", e))?;
                    report.warmed += warmed as u64;
                    report.bins += 1;
                }
                Ok(_) => report.refuse(&message.subject, message.sequence, "not a closed bin"),
                Err(e) => report.refuse(&message.subject, message.sequence, &e.to_string()),
            }
            ackers.push(message.acker);
        }
        // Not acknowledged unless published and checkpointed: a worker
        // killed before reads the batch again from its last checkpoint.
        let published = live
            .publish(store)
            .map_err(|e| failed("cannot write the incidents", e))?;
        report.incidents += published.incidents as u64;
        report.checkpointed +=
            live.checkpoint(store)
                .map_err(|e| failed("cannot checkpoint the detector", e))? as u64;
        consumer.ack(ackers)?;
        on_batch(&report);
    }
    Ok(report)
}
