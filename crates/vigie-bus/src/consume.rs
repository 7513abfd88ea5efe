//! Durable pull consumers: the bins on the bus written to the store
//! (`vigie bus store`).
//!
//! Each message is written in its own store transaction and acknowledged
//! only after that commit; the last ack of every batch waits for the
//! server's confirmation. A consumer killed at any point leaves
//! unacknowledged messages, which the server delivers again after
//! `ack_wait` (or at once to a restarted consumer): the store receives the
//! same values for the same bins again, and a write of the same values
//! changes nothing (last write wins). Nothing is lost and no value counts
//! twice, because values are absolute, never increments.
//!
//! A message that cannot be decoded, or that the store refuses as bad
//! input, is counted, reported, acknowledged (so it is not delivered
//! again) and skipped; nothing of it is written. A store that fails for
//! another reason (disk full, locked) stops the consumer with an error
//! and the message is delivered again later.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use rustc_hash::FxHashMap;
use vigie_model::{BinSink, SeriesKey, SinkError};
use vigie_store::Store;

use crate::codec::{decode, first_repeated, BinKind, BinMessage};
use crate::{Bus, BusError};

/// How a consumer reads the stream.
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// The durable consumer's name: consumers of one name share its place
    /// in the stream (several processes under one name split the messages).
    pub durable: String,
    /// Subjects read (`vigie.bins.>`, …); empty: every subject of the stream.
    pub subjects: Vec<String>,
    /// Messages fetched at once.
    pub batch: usize,
    /// How long the server waits for an ack before delivering a message again.
    pub ack_wait: Duration,
    /// Stop once the consumer has nothing pending (else run until `stop`).
    pub exit_when_drained: bool,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            durable: "vigie-store".to_string(),
            subjects: Vec::new(),
            batch: 256,
            ack_wait: Duration::from_secs(30),
            exit_when_drained: false,
        }
    }
}

/// What a store consumer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// Messages read (redeliveries included).
    pub messages: u64,
    /// Of them, messages the server had delivered before (a consumer
    /// stopped before acknowledging them).
    pub redelivered: u64,
    /// Closed bins written (the messages of one bin in a row are
    /// written together, in one store transaction).
    pub bins: u64,
    /// Provisional bins written.
    pub provisional: u64,
    /// Provisional bins retracted.
    pub retracted: u64,
    /// Values written, provisional ones included.
    pub values: u64,
    /// Closed bins the store kept from more input records.
    pub kept_stored: u64,
    /// Messages refused: undecodable, or bad input for the store.
    pub bad: u64,
    /// The first refused messages: subject, sequence and why.
    pub bad_examples: Vec<String>,
}

/// How many refused messages a report describes.
const BAD_EXAMPLES: usize = 20;

impl StoreReport {
    /// The one-line summary `vigie bus store` prints.
    pub fn summary(&self) -> String {
        format!(
            "{} messages ({} redelivered): {} closed bins, {} provisional, {} retracted, {} values written; {} kept from more records; {} bad messages skipped",
            self.messages,
            self.redelivered,
            self.bins,
            self.provisional,
            self.retracted,
            self.values,
            self.kept_stored,
            self.bad
        )
    }

    fn refuse(&mut self, subject: &str, sequence: u64, why: &str) {
        self.bad += 1;
        if self.bad_examples.len() < BAD_EXAMPLES {
            self.bad_examples
                .push(format!("{subject} #{sequence}: {why}"));
        }
    }
}

/// A durable pull consumer on the bus's stream.
pub struct Consumer<'a> {
    bus: &'a Bus,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    options: ConsumerOptions,
    /// The durable's own limit of unacknowledged messages: a fetch asks
    /// for no more (an existing durable keeps the limit it was created
    /// with, and a fetch asking for more would wait out its expiry).
    max_pending: usize,
}

/// One fetched message: subject, payload, delivery count, stream
/// sequence, and its acker.
pub(crate) struct Fetched {
    pub(crate) subject: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) delivered: i64,
    pub(crate) sequence: u64,
    pub(crate) acker: jetstream::message::Acker,
}

/// One message read straight from the stream by sequence (not delivered,
/// so without an acker): subject, payload and stream sequence.
pub(crate) struct Stored {
    pub(crate) subject: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) sequence: u64,
}

/// What a durable consumer may have left unacknowledged: the messages on
/// its subjects between its ack floor and the last one it delivered
/// (those not acknowledged among them, and others that were), and how
/// many messages it has delivered and not had acknowledged.
pub(crate) struct Unacknowledged {
    pub(crate) messages: Vec<Stored>,
    pub(crate) count: u64,
}

impl<'a> Consumer<'a> {
    /// Opens (or creates) the durable consumer `options.durable`: explicit
    /// acks, delivery from the stream's first message, at most one batch
    /// unacknowledged at a time (so bins are written in stream order).
    pub fn open(bus: &'a Bus, options: ConsumerOptions) -> Result<Consumer<'a>, BusError> {
        let stream = bus.stream.clone();
        let config = pull::Config {
            durable_name: Some(options.durable.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            max_ack_pending: i64::try_from(options.batch.max(1)).unwrap_or(i64::MAX),
            // One subject goes in the field every JetStream server knows;
            // several need nats-server 2.10 (an older one ignores the list
            // and delivers everything, which `fetch` then filters).
            filter_subject: match options.subjects.as_slice() {
                [one] => one.clone(),
                _ => String::new(),
            },
            filter_subjects: if options.subjects.len() > 1 {
                options.subjects.clone()
            } else {
                Vec::new()
            },
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        };
        let name = options.durable.clone();
        let consumer = bus.run(async move {
            stream
                .get_or_create_consumer(&name, config)
                .await
                .map_err(|e| BusError::new(format!("cannot open the durable consumer {name}"), e))
        })?;
        let max_pending = usize::try_from(consumer.cached_info().config.max_ack_pending)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(usize::MAX);
        Ok(Consumer {
            bus,
            consumer,
            options,
            max_pending,
        })
    }

    /// Fetches up to a batch (at most `max_pending`); an empty batch after `wait`.
    pub(crate) fn fetch(&self, wait: Duration) -> Result<Vec<Fetched>, BusError> {
        let consumer = self.consumer.clone();
        let batch = self.options.batch.clamp(1, self.max_pending);
        let subjects = self.options.subjects.clone();
        self.bus.run(async move {
            let mut messages = consumer
                .fetch()
                .max_messages(batch)
                .expires(wait)
                .messages()
                .await
                .map_err(|e| BusError::new("cannot fetch from the bus", e))?;
            let mut out = Vec::new();
            while let Some(message) = messages.next().await {
                let message = message.map_err(|e| BusError::new("cannot fetch from the bus", e))?;
                let (delivered, sequence) = message
                    .info()
                    .map(|info| (info.delivered, info.stream_sequence))
                    .unwrap_or((1, 0));
                let (message, acker) = message.split();
                // Another role's message (a server that could not filter):
                // not for this consumer, acknowledged and passed over.
                if !subjects.is_empty()
                    && !subjects
                        .iter()
                        .any(|pattern| subject_matches(pattern, &message.subject))
                {
                    acker
                        .ack()
                        .await
                        .map_err(|e| BusError::new("cannot acknowledge a message", e))?;
                    continue;
                }
                out.push(Fetched {
                    subject: message.subject.to_string(),
                    payload: message.payload.to_vec(),
                    delivered,
                    sequence,
                    acker,
                });
            }
            Ok(out)
        })
    }

    /// Acks every message; the last one waits for the server's confirmation.
    pub(crate) fn ack(&self, ackers: Vec<jetstream::message::Acker>) -> Result<(), BusError> {
        self.ack_as(ackers, AckKind::Ack)
    }

    /// Answers every message with `kind`; the last one waits for the
    /// server's confirmation.
    pub(crate) fn ack_as(
        &self,
        ackers: Vec<jetstream::message::Acker>,
        kind: AckKind,
    ) -> Result<(), BusError> {
        self.bus.run(async move {
            let count = ackers.len();
            for (index, acker) in ackers.into_iter().enumerate() {
                let result = if index + 1 == count {
                    acker.double_ack_with(kind).await
                } else {
                    acker.ack_with(kind).await
                };
                result.map_err(|e| BusError::new("cannot acknowledge a message", e))?;
            }
            Ok(())
        })
    }

    /// How many messages the consumer has not yet acknowledged or received.
    pub(crate) fn pending(&self) -> Result<u64, BusError> {
        let mut consumer = self.consumer.clone();
        self.bus.run(async move {
            let info = consumer
                .info()
                .await
                .map_err(|e| BusError::new("cannot read the consumer's state", e))?;
            Ok(info.num_pending + info.num_ack_pending as u64)
        })
    }

    /// What a previous holder of the durable (a process killed before it
    /// acknowledged its messages) may have left unacknowledged: the
    /// messages on the consumer's subjects between its ack floor and its
    /// last delivery, read from the stream by sequence (one request per
    /// message), and the server's count of those unacknowledged. The
    /// server delivers the unacknowledged ones again only after
    /// `ack_wait`; this reads them at once. A message removed from the
    /// stream since (its age past the stream's limit) is not there.
    pub(crate) fn unacknowledged(&self) -> Result<Unacknowledged, BusError> {
        let mut consumer = self.consumer.clone();
        let stream = self.bus.stream.clone();
        let filters = if self.options.subjects.is_empty() {
            vec![">".to_string()]
        } else {
            self.options.subjects.clone()
        };
        self.bus.run(async move {
            let info = consumer
                .info()
                .await
                .map_err(|e| BusError::new("cannot read the consumer's state", e))?;
            let (floor, last) = (
                info.ack_floor.stream_sequence,
                info.delivered.stream_sequence,
            );
            let count = info.num_ack_pending as u64;
            let mut messages = Vec::new();
            if count > 0 {
                for filter in &filters {
                    let mut next = floor + 1;
                    while next <= last {
                        let found = stream
                            .raw_message_builder()
                            .sequence(next)
                            .next_by_subject(filter.clone())
                            .send()
                            .await;
                        let message = match found {
                            Ok(message) => message,
                            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => break,
                            Err(e) => {
                                return Err(BusError::new(
                                    format!("cannot read message #{next} of the stream"),
                                    e,
                                ))
                            }
                        };
                        if message.sequence > last {
                            break;
                        }
                        next = message.sequence + 1;
                        // A server that does not know `next_by_subj`
                        // answers with the message at `next`, whatever
                        // its subject.
                        if subject_matches(filter, &message.subject) {
                            messages.push(Stored {
                                subject: message.subject.to_string(),
                                payload: message.payload.to_vec(),
                                sequence: message.sequence,
                            });
                        }
                    }
                }
            }
            messages.sort_by_key(|m| m.sequence);
            messages.dedup_by_key(|m| m.sequence);
            Ok(Unacknowledged { messages, count })
        })
    }

    /// How many messages the consumer has not yet received.
    pub(crate) fn unread(&self) -> Result<u64, BusError> {
        let mut consumer = self.consumer.clone();
        self.bus.run(async move {
            let info = consumer
                .info()
                .await
                .map_err(|e| BusError::new("cannot read the consumer's state", e))?;
            Ok(info.num_pending)
        })
    }

    /// Runs the consumer, handing each decoded message (or run of messages
    /// of one bin, merged) to `handle` (which
    /// writes it and says whether it was bad input, or fails), until
    /// `stop` is set or, with `exit_when_drained`, nothing is pending.
    pub fn run(
        &self,
        stop: &AtomicBool,
        report: &mut StoreReport,
        handle: &mut dyn FnMut(&BinMessage, &mut StoreReport) -> Result<Handled, SinkError>,
        on_batch: &mut dyn FnMut(&StoreReport),
    ) -> Result<(), BusError> {
        let requested = self.options.batch.clamp(1, self.max_pending);
        while !stop.load(Ordering::Relaxed) {
            let batch = self.fetch(Duration::from_secs(1))?;
            // A short batch may be the last: asked below, rather than by
            // another fetch waiting out its expiry.
            let short = batch.len() < requested;
            if batch.is_empty() {
                if self.options.exit_when_drained && self.pending()? == 0 {
                    break;
                }
                continue;
            }
            let mut ackers = Vec::with_capacity(batch.len());
            let mut run: Option<Run> = None;
            for message in batch {
                report.messages += 1;
                report.redelivered += u64::from(message.delivered > 1);
                let bin = match decode(Some(&message.subject), &message.payload) {
                    Ok(bin) => bin,
                    Err(e) => {
                        report.refuse(&message.subject, message.sequence, &e.to_string());
                        ackers.push(message.acker);
                        continue;
                    }
                };
                let place = (message.subject, message.sequence);
                match run.as_mut() {
                    Some(open) if open.takes(&bin) => open.add(bin, place, message.acker),
                    _ => {
                        if let Some(done) = run.take() {
                            self.flush(done, report, handle, &mut ackers)?;
                        }
                        run = Some(Run::new(bin, place, message.acker));
                    }
                }
            }
            if let Some(done) = run.take() {
                self.flush(done, report, handle, &mut ackers)?;
            }
            self.ack(ackers)?;
            on_batch(report);
            if short && self.options.exit_when_drained && self.pending()? == 0 {
                break;
            }
        }
        Ok(())
    }
}

impl Consumer<'_> {
    /// Writes a run of messages as one bin; their ackers join `ackers`
    /// when it is written or refused, else the messages acked so far are
    /// acked and the error returned (the run is delivered again later).
    fn flush(
        &self,
        mut run: Run,
        report: &mut StoreReport,
        handle: &mut dyn FnMut(&BinMessage, &mut StoreReport) -> Result<Handled, SinkError>,
        ackers: &mut Vec<jetstream::message::Acker>,
    ) -> Result<(), BusError> {
        run.merged();
        match handle(&run.message, report) {
            Ok(Handled::Written) => {}
            Ok(Handled::Refused(why)) => {
                for (subject, sequence) in &run.places {
                    report.refuse(subject, *sequence, &why);
                }
            }
            Err(e) => {
                // Not acknowledged: delivered again later.
                self.ack(std::mem::take(ackers))?;
                let (subject, sequence) = &run.places[0];
                return Err(BusError(format!("stopped at {subject} #{sequence}: {e}")));
            }
        }
        ackers.extend(run.ackers);
        Ok(())
    }
}

/// Messages in a row for the same bin of the same source, with the same
/// kind (and record count): the parts of one bin, or one bin written
/// again. Written as one bin, so a bin cut into parts costs one store
/// transaction; a series given twice keeps its later value, as writing
/// them one after the other would.
struct Run {
    message: BinMessage,
    /// Whether a second message joined (then a series may be there twice).
    joined: bool,
    places: Vec<(String, u64)>,
    ackers: Vec<jetstream::message::Acker>,
}

impl Run {
    fn new(message: BinMessage, place: (String, u64), acker: jetstream::message::Acker) -> Run {
        Run {
            message,
            joined: false,
            places: vec![place],
            ackers: vec![acker],
        }
    }

    fn takes(&self, next: &BinMessage) -> bool {
        let first = &self.message;
        first.kind == next.kind
            && first.source == next.source
            && first.bin.bin == next.bin.bin
            && first.bin.bin_start == next.bin.bin_start
    }

    /// Appends the next message's values (moved, not copied one by one);
    /// [`Run::merged`] settles series given twice.
    fn add(&mut self, next: BinMessage, place: (String, u64), acker: jetstream::message::Acker) {
        self.message.bin.values.extend(next.bin.values);
        self.joined = true;
        self.places.push(place);
        self.ackers.push(acker);
    }

    /// The run's bin: each series once, where it first came, with its
    /// last value. Parts of one bin name each series once, which one
    /// look-up per value checks; only a bin sent again is rebuilt.
    fn merged(&mut self) {
        if self.joined {
            keep_last(&mut self.message.bin.values);
        }
    }
}

/// Each series of `values` once, where it first came, with its last value.
fn keep_last(values: &mut Vec<(SeriesKey, Option<f64>)>) {
    if first_repeated(values).is_none() {
        return;
    }
    let mut index: FxHashMap<SeriesKey, usize> = FxHashMap::default();
    let mut merged: Vec<(SeriesKey, Option<f64>)> = Vec::with_capacity(values.len());
    for (key, value) in values.drain(..) {
        match index.get(&key) {
            Some(&i) => merged[i].1 = value,
            None => {
                index.insert(key.clone(), merged.len());
                merged.push((key, value));
            }
        }
    }
    *values = merged;
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Written (or kept stored, as the store decides).
    Written,
    /// Refused as bad input, with the reason: skipped.
    Refused(String),
}

/// Writes one decoded message to the store through its own sink
/// ([`Store::sink`]): final bins under the message's source, provisional
/// ones under `<source>-provisional`, as a source writing directly would.
pub fn write_to_store(
    store: &mut Store,
    message: &BinMessage,
    report: &mut StoreReport,
) -> Result<Handled, SinkError> {
    let mut sink = store.sink(&message.source);
    let values = message.bin.values.len() as u64;
    let result = match message.kind {
        BinKind::Final => sink.write(&message.bin).map(|()| {
            report.bins += 1;
            report.values += values;
        }),
        BinKind::Weighted(records) => sink.write_weighted(&message.bin, records).map(|outcome| {
            report.bins += 1;
            match outcome {
                vigie_model::WriteOutcome::Written => report.values += values,
                vigie_model::WriteOutcome::KeptStored { .. } => report.kept_stored += 1,
            }
        }),
        BinKind::Provisional => sink.write_provisional(&message.bin).map(|()| {
            report.provisional += 1;
            report.values += values;
        }),
        BinKind::Retract => sink
            .retract_provisional(&message.bin)
            .map(|()| report.retracted += 1),
    };
    match result {
        Ok(()) => Ok(Handled::Written),
        Err(e) if is_bad_input(&e) => Ok(Handled::Refused(e.0)),
        Err(e) => Err(e),
    }
}

/// Whether the store refused a write for its input (which writing again
/// will not change) rather than for itself.
fn is_bad_input(error: &SinkError) -> bool {
    // The store's sink turns its errors into text; these are the input
    // errors of `vigie_store::StoreError`'s messages.
    const INPUT: [&str; 5] = [
        "is not a source name",
        "appears twice in the bin",
        "bins are aligned to UTC midnight",
        "is too large to store",
        "is not a finite number",
    ];
    INPUT.iter().any(|text| error.0.contains(text))
}

/// `vigie bus store`: consumes the bins on the bus into `store` until
/// `stop` (or until drained), telling `on_batch` after each batch.
pub fn store_bins(
    bus: &Bus,
    store: &mut Store,
    options: ConsumerOptions,
    stop: &AtomicBool,
    on_batch: &mut dyn FnMut(&StoreReport),
) -> Result<StoreReport, BusError> {
    let mut options = options;
    if options.subjects.is_empty() {
        options.subjects = vec![
            format!("{}.>", crate::codec::BINS_PREFIX),
            format!("{}.>", crate::codec::PROVISIONAL_PREFIX),
        ];
    }
    let consumer = Consumer::open(bus, options)?;
    let mut report = StoreReport::default();
    consumer.run(
        stop,
        &mut report,
        &mut |message, report| write_to_store(store, message, report),
        on_batch,
    )?;
    Ok(report)
}

/// Whether a NATS subject matches a filter (`*` one token, `>` the rest).
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for wanted in pattern.split('.') {
        match (wanted, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (w, Some(t)) if w == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::{keep_last, subject_matches};
    use vigie_model::{SeriesKey, SignalKind};

    #[test]
    fn a_series_given_twice_keeps_its_first_place_and_last_value() {
        let key = |name: &str| SeriesKey {
            entity: name.parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        };
        let parts = vec![(key("AS1"), Some(1.0)), (key("AS2"), Some(2.0))];
        let mut values = parts.clone();
        keep_last(&mut values);
        assert_eq!(values, parts);
        values.extend([
            (key("AS3"), None),
            (key("AS1"), Some(4.0)),
            (key("AS2"), None),
        ]);
        keep_last(&mut values);
        assert_eq!(
            values,
            [
                (key("AS1"), Some(4.0)),
                (key("AS2"), None),
                (key("AS3"), None)
            ]
        );
    }

    #[test]
    fn subjects_match_nats_wildcards() {
        assert!(subject_matches("vigie.bins.>", "vigie.bins.bgp.country"));
        assert!(!subject_matches("vigie.bins.>", "vigie.bins"));
        assert!(!subject_matches("vigie.bins.>", "vigie.vantage.a"));
        assert!(subject_matches("vigie.*.a", "vigie.vantage.a"));
        assert!(!subject_matches("vigie.*.a", "vigie.vantage.a.b"));
        assert!(subject_matches("vigie.vantage.a", "vigie.vantage.a"));
        assert!(!subject_matches("vigie.vantage.a", "vigie.vantage"));
    }
}
