//! [`JetStreamSink`]: a source's bins published to the bus.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use async_nats::jetstream::message::PublishMessage;
use vigie_model::{format_utc, BinSink, SignalBin, SinkError, UnixSecs, WriteOutcome};

use crate::codec::{encode, BinKind, Outgoing};
use crate::Bus;

/// What a [`JetStreamSink`] has published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishTally {
    /// Bins handed to the sink (final, provisional and retractions).
    pub bins: u64,
    /// Messages the stream stored.
    pub messages: u64,
    /// Messages the stream dropped as duplicates (same message id inside
    /// its duplicate window: the bin was published before).
    pub duplicates: u64,
    /// Payload bytes sent.
    pub bytes: u64,
}

/// A [`BinSink`] publishing one source's bins to JetStream
/// ([`crate::codec`] says how): `write` returns once the stream has
/// acknowledged every message of the bin, so a bin `write` accepted is
/// stored on the server (on disk, with the stream's file storage) and a
/// source that stops after it loses nothing. The messages of one bin are
/// sent together and their acks awaited together.
///
/// `write_weighted` publishes the record count with the values; the store
/// consumer applies the store's rule (more records win), so here it always
/// says [`WriteOutcome::Written`].
///
/// Message ids ([`crate::codec::Outgoing::id`]) carry a revision: the
/// sink counts, per bin part, how often its values changed, so a source
/// writing values A, then B, then A again for one bin has all three
/// stored, and a bin written twice with the same values is stored once.
/// (A restarted source counts from 0 again: a bin it re-sends unchanged
/// is dropped as the duplicate it is.)
///
/// It holds the bus as `B`: a borrowed `&Bus` ([`Bus::sink`]) for one
/// command's sources, or an `Arc<Bus>` ([`Bus::shared_sink`]) for a sink
/// that lives on its own, one per source of `vigie serve`.
pub struct JetStreamSink<B: Deref<Target = Bus>> {
    bus: B,
    source: String,
    tally: PublishTally,
    /// Per (subject, bin start, part): the revision and hash last sent.
    revisions: HashMap<(String, UnixSecs, u32), (u32, u64)>,
}

/// Revisions kept for bins up to this long before the latest bin sent
/// (the stream's duplicate window is shorter).
const REVISIONS_KEPT_SECS: i64 = 86_400;

impl Bus {
    /// A sink publishing bins as `source` (`bgp-live`, `probe`, …: the
    /// store source the consumer writes them under).
    pub fn sink(&self, source: &str) -> JetStreamSink<&Bus> {
        JetStreamSink::new(self, source)
    }

    /// [`Self::sink`] holding the bus itself, for a sink that outlives the
    /// caller's borrow (each source of `vigie serve --publish`).
    pub fn shared_sink(bus: &Arc<Bus>, source: &str) -> JetStreamSink<Arc<Bus>> {
        JetStreamSink::new(Arc::clone(bus), source)
    }
}

impl<B: Deref<Target = Bus>> JetStreamSink<B> {
    fn new(bus: B, source: &str) -> JetStreamSink<B> {
        JetStreamSink {
            bus,
            source: source.to_string(),
            tally: PublishTally::default(),
            revisions: HashMap::new(),
        }
    }

    /// What was published so far.
    pub fn tally(&self) -> PublishTally {
        self.tally
    }

    fn publish(&mut self, kind: BinKind, bin: &SignalBin) -> Result<(), SinkError> {
        let source = self.source.clone();
        let what = || {
            format!(
                "the {} bin {} of {source}",
                kind_name(kind),
                format_utc(bin.bin_start),
            )
        };
        let messages = encode(kind, &self.source, bin)
            .map_err(|e| SinkError(format!("cannot publish {}: {e}", what())))?;
        let bytes: usize = messages.iter().map(|m| m.payload.len()).sum();
        let ids: Vec<String> = messages.iter().map(|m| self.revision_id(m)).collect();
        let jetstream = self.bus.jetstream.clone();
        let result = self.bus.run(async move {
            let mut acks = Vec::with_capacity(messages.len());
            for (message, id) in messages.into_iter().zip(ids) {
                let publish = PublishMessage::build()
                    .message_id(&id)
                    .payload(message.payload.into());
                let ack = jetstream
                    .send_publish(message.subject.clone(), publish)
                    .await
                    .map_err(|e| format!("cannot send on {}: {e}", message.subject))?;
                acks.push(ack);
            }
            let mut duplicates = 0u64;
            let stored = acks.len() as u64;
            for ack in acks {
                let ack = ack
                    .await
                    .map_err(|e| format!("the stream did not acknowledge it: {e}"))?;
                duplicates += u64::from(ack.duplicate);
            }
            Ok::<_, String>((stored, duplicates))
        });
        let (sent, duplicates) = result.map_err(|e| {
            SinkError(format!(
                "cannot publish {} to NATS at {}: {e} (check that nats-server -js is up)",
                what(),
                self.bus.url()
            ))
        })?;
        self.tally.bins += 1;
        self.tally.messages += sent - duplicates;
        self.tally.duplicates += duplicates;
        self.tally.bytes += bytes as u64;
        Ok(())
    }
}

impl<B: Deref<Target = Bus>> JetStreamSink<B> {
    /// The id of `message`: its revision moves on when its values differ
    /// from those last sent for the same part.
    fn revision_id(&mut self, message: &Outgoing) -> String {
        if self.revisions.len() > 100_000 {
            let latest = self.revisions.keys().map(|k| k.1).max().unwrap_or(0);
            self.revisions
                .retain(|k, _| k.1 >= latest - REVISIONS_KEPT_SECS);
        }
        let key = (message.subject.clone(), message.bin_start, message.part);
        let revision = match self.revisions.get(&key) {
            None => 0,
            Some(&(revision, hash)) if hash == message.hash => revision,
            Some(&(revision, _)) => revision + 1,
        };
        self.revisions.insert(key, (revision, message.hash));
        message.id(revision)
    }
}

fn kind_name(kind: BinKind) -> &'static str {
    match kind {
        BinKind::Final | BinKind::Weighted(_) => "closed",
        BinKind::Provisional => "provisional",
        BinKind::Retract => "retracted",
    }
}

impl<B: Deref<Target = Bus>> BinSink for JetStreamSink<B> {
    /// Publishes a closed bin and waits for the stream's acks.
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.publish(BinKind::Final, bin)
    }

    /// Publishes a closed bin with its record count.
    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        self.publish(BinKind::Weighted(records), bin)?;
        Ok(WriteOutcome::Written)
    }

    /// Publishes the open bin's values so far.
    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.publish(BinKind::Provisional, bin)
    }

    /// Publishes the withdrawal of a provisional bin (its series, no data).
    fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.publish(BinKind::Retract, &bin.retraction())
    }
}
