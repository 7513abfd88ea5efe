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
//! step stopped or killed and started again combines the same bins from
//! the same states: a stopped one hands its held states back at once; a
//! killed one's stay with the server until the consumer's ack wait (three
//! bins) is over, so the next step reads them back from the stream when
//! it starts (the messages past the consumer's ack floor, as many of the
//! latest bins' as the server counts unacknowledged) and holds them as if
//! delivered. Their bin is combined first, in time order, however late
//! the step starts; when the server delivers them again they are
//! acknowledged (counted as ignored if their bin is combined by then).

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
    /// Rounds read back from the stream at start: held by a quorum step
    /// killed before it acknowledged them.
    pub recovered: u64,
    /// The first bad messages: subject, sequence and why.
    pub bad_examples: Vec<String>,
}

impl QuorumReport {
    /// The one-line summary `vigie bus quorum` prints.
    pub fn summary(&self) -> String {
        format!(
            "{} messages: {} bins combined, {} bins short of a quorum, {} rounds ignored (late or unexpected vantage point), {} bad messages skipped; {} rounds read back from a killed run",
            self.messages, self.bins, self.short_bins, self.ignored, self.bad, self.recovered
        )
    }
}

/// The rounds of one bin not yet combined.
#[derive(Default)]
struct Pending {
    /// Each vantage point's latest round in the bin.
    rounds: BTreeMap<String, VantageRound>,
    /// The delivered rounds' ackers (a round read back from the stream at
    /// start has none: it is acknowledged when the server delivers it again).
    ackers: Vec<jetstream::message::Acker>,
}

/// The quorum step's state: the bins held, and the last one combined.
struct Quorum<'o> {
    options: &'o QuorumOptions,
    geo: &'o GeoDb,
    pending: BTreeMap<UnixSecs, Pending>,
    done_until: Option<UnixSecs>,
    report: QuorumReport,
}

impl Quorum<'_> {
    /// Holds `round` for its bin; gives its acker back when the round is
    /// not held (a bin already combined, an unexpected vantage point), to
    /// be acknowledged at once.
    fn hold(
        &mut self,
        round: VantageRound,
        acker: Option<jetstream::message::Acker>,
    ) -> Option<jetstream::message::Acker> {
        let bin_start = self.options.bin.floor(round.round_end);
        if !self.options.vantages.contains(&round.vantage)
            || self.done_until.is_some_and(|d| bin_start <= d)
        {
            self.report.ignored += 1;
            return acker;
        }
        let entry = self.pending.entry(bin_start).or_default();
        entry.ackers.extend(acker);
        let newer = entry
            .rounds
            .get(&round.vantage)
            .is_none_or(|r| r.round_end <= round.round_end);
        if newer {
            entry.rounds.insert(round.vantage.clone(), round);
        }
        None
    }

    /// Combines the bins that are complete, or that `quorum` vantage
    /// points have moved past, in time order; returns their ackers.
    fn combine_ready(
        &mut self,
        sink: &mut dyn BinSink,
        on_bin: &mut dyn FnMut(String),
    ) -> Result<Vec<jetstream::message::Acker>, BusError> {
        let options = self.options;
        let mut done = Vec::new();
        while let Some((&bin_start, first)) = self.pending.iter().next() {
            let complete = first.rounds.len() == options.vantages.len();
            let moved_on = self
                .pending
                .range(bin_start + 1..)
                .flat_map(|(_, p)| p.rounds.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                >= options.quorum;
            if !complete && !moved_on {
                break;
            }
            let bin = self
                .pending
                .remove(&bin_start)
                .expect("the first pending bin");
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
                let signal =
                    vigie_pipeline::combined_bin(&combined, self.geo, options.bin, bin_start);
                sink.write(&signal).map_err(|e| {
                    BusError::new(
                        format!("cannot write the combined bin {}", format_utc(bin_start)),
                        e,
                    )
                })?;
                self.report.bins += 1;
                on_bin(format!(
                    "{} {}",
                    format_utc(bin_start),
                    combined.summary(options.quorum)
                ));
            } else {
                self.report.short_bins += 1;
            }
            self.done_until = Some(bin_start);
            done.extend(bin.ackers);
        }
        Ok(done)
    }

    /// Holds again the rounds a quorum step killed before it acknowledged
    /// them still holds on the server (which delivers them again only
    /// after the ack wait, three bins, when later bins are combined and
    /// they would be late): read back from the stream at once.
    ///
    /// The messages past the consumer's ack floor are of two kinds, which
    /// the stream does not tell apart: the rounds of bins the killed step
    /// held (none acknowledged, for a bin's rounds are acknowledged
    /// together once it is combined), and rounds it acknowledged (of bins
    /// it had combined, their late rounds, bad messages). The held bins
    /// are the latest it had read, and the server counts their messages:
    /// the bins read back are the latest ones whose rounds, together, are
    /// no more than that count. An earlier bin, combined already, whose
    /// rounds before the floor are not read back, is thus not combined
    /// again from a part of them, and its late rounds are ignored.
    ///
    /// A bin read back that the killed step had in fact written (killed
    /// between the write and the ack) is written again from the same
    /// rounds, so with the same values: the store keeps the same values,
    /// and on the bus the message ids are the same (they are the subject,
    /// the bin, the revision, 0 for a step just started, and a hash of the
    /// payload), so the stream drops the repeat inside its duplicate
    /// window; past it, the store writer writes the same values again and
    /// detection workers keep the first value of a series.
    fn recover_held(&mut self, consumer: &Consumer) -> Result<(), BusError> {
        let held = consumer.unacknowledged()?;
        let rounds: Vec<(UnixSecs, VantageRound)> = held
            .messages
            .iter()
            .filter_map(|m| VantageRound::decode(Some(&m.subject), &m.payload).ok())
            .filter(|round| self.options.vantages.contains(&round.vantage))
            .map(|round| (self.options.bin.floor(round.round_end), round))
            .collect();
        let mut per_bin: BTreeMap<UnixSecs, u64> = BTreeMap::new();
        for (bin_start, _) in &rounds {
            *per_bin.entry(*bin_start).or_default() += 1;
        }
        let mut total = 0;
        let mut from = None;
        for (&bin_start, &count) in per_bin.iter().rev() {
            if total + count > held.count {
                break;
            }
            total += count;
            from = Some(bin_start);
        }
        let Some(from) = from else {
            return Ok(());
        };
        // The earlier bins past the floor were acknowledged, so combined:
        // their late rounds are ignored, as the killed step would have.
        self.done_until = per_bin.range(..from).next_back().map(|(&bin, _)| bin);
        for (bin_start, round) in rounds {
            if bin_start >= from {
                self.report.recovered += 1;
                self.hold(round, None);
            }
        }
        Ok(())
    }
}

/// Consumes vantage points' states and writes each bin's combination to
/// `sink`, telling `on_bin` of it, until `stop` (or, with
/// `exit_when_drained`, until no message is left to read). It starts with
/// the rounds a quorum step killed before it acknowledged them held (read
/// back from the stream), so their bin is combined before later ones.
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
    let mut quorum = Quorum {
        options,
        geo,
        pending: BTreeMap::new(),
        done_until: None,
        report: QuorumReport::default(),
    };
    quorum.recover_held(&consumer)?;
    // Rounds read back have no ackers: nothing to acknowledge yet.
    quorum.combine_ready(sink, on_bin)?;
    while !stop.load(Ordering::Relaxed) {
        let batch = consumer.fetch(Duration::from_secs(1))?;
        if batch.is_empty() {
            if consumer_options.exit_when_drained && consumer.unread()? == 0 {
                break;
            }
            continue;
        }
        // Rounds not held (bad, late, unexpected) are acknowledged before
        // any bin is written, so a step killed while writing leaves only
        // held bins' rounds unacknowledged (what `recover_held` counts on).
        let mut passed = Vec::new();
        for message in batch {
            quorum.report.messages += 1;
            match VantageRound::decode(Some(&message.subject), &message.payload) {
                Ok(round) => passed.extend(quorum.hold(round, Some(message.acker))),
                Err(e) => {
                    let report = &mut quorum.report;
                    report.bad += 1;
                    if report.bad_examples.len() < 20 {
                        report
                            .bad_examples
                            .push(format!("{} #{}: {e}", message.subject, message.sequence));
                    }
                    passed.push(message.acker);
                }
            }
        }
        if !passed.is_empty() {
            consumer.ack(passed)?;
        }
        let done = quorum.combine_ready(sink, on_bin)?;
        if !done.is_empty() {
            consumer.ack(done)?;
        }
    }
    // Held states go back to the stream now, so a quorum step started
    // again reads them at once (a killed one's are read back from the
    // stream by the next one).
    let held: Vec<_> = quorum
        .pending
        .into_values()
        .flat_map(|p| p.ackers)
        .collect();
    if !held.is_empty() {
        consumer.ack_as(held, AckKind::Nak(None))?;
    }
    Ok(quorum.report)
}
