//! Probing vantage points on the bus: each publishes its block states after
//! every round ([`publish_states`], `vigie probe --publish`); the quorum
//! step ([`combine_from_bus`], `vigie bus quorum`) combines them bin by bin
//! with the same code as the offline `vigie probe --combine`
//! ([`vigie_pipeline::combine_vantage_states`],
//! [`vigie_pipeline::combined_bin`]) and writes the combined /24s up per
//! entity (`ping-slash24`) to a sink.
//!
//! A bin is combined once every expected vantage point sent a round ending
//! in it (each one's latest round counts), or, when some are missing, once
//! `quorum` vantage points have sent a round of a later bin (they moved
//! on: the missing ones will not come). A bin that then has fewer than
//! `quorum` vantage points is not written (counted). The states of a bin
//! are acknowledged only after its combined bin is written, so a quorum
//! step killed and restarted combines the same bins again from the same
//! states (a stopped one hands its held states back at once; a killed
//! one's are redelivered after the consumer's ack wait, three bins).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind};
use vigie_geo::GeoDb;
use vigie_model::{format_utc, BinSink, BinSize, UnixSecs};
use vigie_probe::{BlockState, VantageStates};

use crate::codec::VantageRound;
pub use crate::codec::VANTAGE_PREFIX;
use crate::{Bus, BusError, Consumer, ConsumerOptions};

/// Publishes a vantage point's block states at the end of a round and
/// waits for the stream's ack.
pub fn publish_states(
    bus: &Bus,
    states: &VantageStates,
    round_end: UnixSecs,
) -> Result<(), BusError> {
    let round = VantageRound {
        vantage: states.vantage.clone(),
        round_end,
        states: states
            .states
            .iter()
            .map(|(&network, &state)| (network, state as u8))
            .collect(),
    };
    let (subject, id, payload) = round.encode().map_err(|e| {
        BusError::new(
            format!("cannot publish the states of {}", states.vantage),
            e,
        )
    })?;
    let jetstream = bus.jetstream.clone();
    bus.run(async move {
        let publish = PublishMessage::build()
            .message_id(&id)
            .payload(payload.into());
        jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| BusError::new(format!("cannot publish on {subject}"), e))?
            .await
            .map_err(|e| BusError::new(format!("no ack for {subject}"), e))?;
        Ok(())
    })
}

fn block_state(value: u8) -> BlockState {
    match value {
        1 => BlockState::Up,
        2 => BlockState::Down,
        _ => BlockState::Uncertain,
    }
}

/// How the quorum step runs.
#[derive(Clone, Debug)]
pub struct QuorumOptions {
    /// The vantage points expected, by name.
    pub vantages: Vec<String>,
    /// How many must see a block DOWN.
    pub quorum: usize,
    /// The bins written.
    pub bin: BinSize,
    /// The durable consumer (its subjects are set to `vigie.vantage.>`).
    pub consumer: ConsumerOptions,
}

/// What the quorum step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuorumReport {
    /// Messages read (redeliveries included).
    pub messages: u64,
    /// Bins combined and written.
    pub bins: u64,
    /// Bins not written: fewer than `quorum` vantage points sent them.
    pub short_bins: u64,
    /// Rounds of bins already combined, or of vantage points not expected.
    pub ignored: u64,
    /// Messages that could not be decoded.
    pub bad: u64,
    /// The first bad messages: subject, sequence and why.
    pub bad_examples: Vec<String>,
}

impl QuorumReport {
    /// The one-line summary `vigie bus quorum` prints.
    pub fn summary(&self) -> String {
        format!(
            "{} messages: {} bins combined, {} bins short of a quorum, {} rounds ignored (late or unexpected vantage point), {} bad messages skipped",
            self.messages, self.bins, self.short_bins, self.ignored, self.bad
        )
    }
}

/// The rounds of one bin not yet combined.
#[derive(Default)]
struct Pending {
    /// Each vantage point's latest round in the bin.
    rounds: BTreeMap<String, VantageRound>,
    ackers: Vec<jetstream::message::Acker>,
}

/// Consumes vantage points' states and writes each bin's combination to
/// `sink`, telling `on_bin` of it, until `stop` (or, with
/// `exit_when_drained`, until no message is left to read).
pub fn combine_from_bus(
    bus: &Bus,
    options: &QuorumOptions,
    geo: &GeoDb,
    sink: &mut dyn BinSink,
    stop: &AtomicBool,
    on_bin: &mut dyn FnMut(String),
) -> Result<QuorumReport, BusError> {
    if options.quorum == 0 || options.quorum > options.vantages.len() {
        return Err(BusError(format!(
            "--quorum must be between 1 and the number of vantage points ({})",
            options.vantages.len()
        )));
    }
    let mut consumer_options = options.consumer.clone();
    consumer_options.subjects = vec![format!("{VANTAGE_PREFIX}.>")];
    // States wait for the other vantage points before they are acked.
    consumer_options.ack_wait = Duration::from_secs(u64::from(options.bin.secs()) * 3);
    consumer_options.batch = consumer_options.batch.max(options.vantages.len() * 4);
    let consumer = Consumer::open(bus, consumer_options.clone())?;
    let mut report = QuorumReport::default();
    let mut pending: BTreeMap<UnixSecs, Pending> = BTreeMap::new();
    let mut done_until: Option<UnixSecs> = None;
    while !stop.load(Ordering::Relaxed) {
        let batch = consumer.fetch(Duration::from_secs(1))?;
        if batch.is_empty() {
            if consumer_options.exit_when_drained && consumer.unread()? == 0 {
                break;
            }
            continue;
        }
        let mut done_ackers = Vec::new();
        for message in batch {
            report.messages += 1;
            let round = match VantageRound::decode(Some(&message.subject), &message.payload) {
                Ok(round) => round,
                Err(e) => {
                    report.bad += 1;
                    if report.bad_examples.len() < 20 {
                        report
                            .bad_examples
                            .push(format!("{} #{}: {e}", message.subject, message.sequence));
                    }
                    done_ackers.push(message.acker);
                    continue;
                }
            };
            let bin_start = options.bin.floor(round.round_end);
            if !options.vantages.contains(&round.vantage)
                || done_until.is_some_and(|d| bin_start <= d)
            {
                report.ignored += 1;
                done_ackers.push(message.acker);
                continue;
            }
            let entry = pending.entry(bin_start).or_default();
            entry.ackers.push(message.acker);
            let newer = entry
                .rounds
                .get(&round.vantage)
                .is_none_or(|r| r.round_end <= round.round_end);
            if newer {
                entry.rounds.insert(round.vantage.clone(), round);
            }
        }
        // Combine the bins that are complete, or that `quorum` vantage
        // points have moved past, in time order.
        while let Some((&bin_start, first)) = pending.iter().next() {
            let complete = first.rounds.len() == options.vantages.len();
            let moved_on = pending
                .range(bin_start + 1..)
                .flat_map(|(_, p)| p.rounds.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                >= options.quorum;
            if !complete && !moved_on {
                break;
            }
            let bin = pending.remove(&bin_start).expect("the first pending bin");
            if bin.rounds.len() >= options.quorum {
                let vantages: Vec<VantageStates> = bin
                    .rounds
                    .values()
                    .map(|round| VantageStates {
                        vantage: round.vantage.clone(),
                        states: round
                            .states
                            .iter()
                            .map(|&(n, s)| (n, block_state(s)))
                            .collect(),
                    })
                    .collect();
                let combined =
                    vigie_pipeline::combine_vantage_states(&vantages, options.quorum, false)
                        .map_err(|e| BusError(e.to_string()))?;
                let signal = vigie_pipeline::combined_bin(&combined, geo, options.bin, bin_start);
                sink.write(&signal).map_err(|e| {
                    BusError::new(
                        format!("cannot write the combined bin {}", format_utc(bin_start)),
                        e,
                    )
                })?;
                report.bins += 1;
                on_bin(format!(
                    "{} {}",
                    format_utc(bin_start),
                    combined.summary(options.quorum)
                ));
            } else {
                report.short_bins += 1;
            }
            done_until = Some(bin_start);
            done_ackers.extend(bin.ackers);
        }
        if !done_ackers.is_empty() {
            consumer.ack(done_ackers)?;
        }
    }
    // Held states go back to the stream now, so a quorum step started
    // again reads them at once (a killed one's come back after the ack wait).
    let held: Vec<_> = pending.into_values().flat_map(|p| p.ackers).collect();
    if !held.is_empty() {
        consumer.ack_as(held, AckKind::Nak(None))?;
    }
    Ok(report)
}
