//! The bins' message encoding on the bus, version 1.
//!
//! A bin a source hands to [`crate::JetStreamSink`] is cut into messages,
//! one subject per source and entity kind:
//!
//! ```text
//! vigie.bins.<source>.<country|asn|region|all>         closed bins
//! vigie.provisional.<source>.<country|asn|region|all>  open bins so far, and retractions
//! ```
//!
//! `<source>` is the source name with every character other than ASCII
//! letters, digits, `-` and `_` replaced by `_` (NATS subjects split on
//! `.`); the message carries the exact name. `all` is the subject of a bin
//! with no values. A kind's values are cut into parts of at most
//! [`MAX_PART_BYTES`] (NATS refuses messages over 1 MiB by default).
//!
//! A message is one version byte ([`ENCODING_VERSION`]) then the
//! [postcard](https://docs.rs/postcard) encoding of:
//!
//! ```text
//! WireBin { kind: Final | Weighted(records: u64) | Provisional | Retract,
//!           source: String, bin_secs: u32, bin_start: i64, part: u32,
//!           groups: [ { signal: String (SignalKind's name),
//!                       values: [ (entity: String, NoData | Count(u64) | Real(f64)) ] } ] }
//! ```
//!
//! Whole values up to 2^53 travel as varint counts (1–3 bytes for most
//! signals), others as their 8 bytes: the value read back is the same
//! `f64`, bit for bit. [`Outgoing::id`] is the `Nats-Msg-Id` of a message:
//! the subject, the bin and part, the revision (how many times the
//! publisher's values for this part changed) and a hash of the payload, so
//! publishing the same bin again inside the stream's duplicate window
//! (a retry, a source re-sending what it sent) stores nothing, while new
//! values for a bin (a later provisional update, and even a return to
//! values sent before) go through.
//!
//! [`decode`] checks everything a store write would refuse (bin alignment,
//! finite values, each series once, a source name the store takes) and
//! that the message belongs on its subject, so a bad message is refused
//! whole, before anything is written.

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use vigie_model::{BinSize, Entity, EntityKind, SeriesKey, SignalBin, SignalKind, UnixSecs};

/// The first byte of every bin message: the encoding's version.
pub const ENCODING_VERSION: u8 = 1;
/// Subject prefix of closed bins.
pub const BINS_PREFIX: &str = "vigie.bins";
/// Subject prefix of provisional bins and their retractions.
pub const PROVISIONAL_PREFIX: &str = "vigie.provisional";
/// A message's values are cut to stay under this many bytes (NATS's
/// default `max_payload` is 1 MiB).
pub const MAX_PART_BYTES: usize = 256 * 1024;
/// The longest source name (the store's limit).
pub const MAX_SOURCE_CHARS: usize = 64;

/// What a bin message asks of its consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinKind {
    /// A closed bin's final values ([`vigie_model::BinSink::write`]).
    Final,
    /// A closed bin's final values computed from this many input records
    /// ([`vigie_model::BinSink::write_weighted`]).
    Weighted(u64),
    /// The open bin's values so far ([`vigie_model::BinSink::write_provisional`]).
    Provisional,
    /// Provisional values withdrawn: the series read "no data"
    /// ([`vigie_model::BinSink::retract_provisional`]).
    Retract,
}

impl BinKind {
    /// Whether the message is a closed bin (subject prefix [`BINS_PREFIX`]).
    pub fn is_final(self) -> bool {
        matches!(self, BinKind::Final | BinKind::Weighted(_))
    }
}

/// One decoded bin message: part of one source's bin.
#[derive(Clone, Debug, PartialEq)]
pub struct BinMessage {
    /// What to do with it.
    pub kind: BinKind,
    /// The source's name, exactly as the publisher's sink was given it.
    pub source: String,
    /// Which part of the bin (0 for the first).
    pub part: u32,
    /// The values: all series of one entity kind, or a part of them.
    pub bin: SignalBin,
}

/// One message ready to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// The subject it goes to.
    pub subject: String,
    /// The bin's width.
    pub bin: BinSize,
    /// The bin's start.
    pub bin_start: UnixSecs,
    /// Which part of the bin's values on this subject.
    pub part: u32,
    /// 64-bit FNV-1a of the payload (stable across builds and machines).
    pub hash: u64,
    /// The encoded message.
    pub payload: Vec<u8>,
}

impl Outgoing {
    /// The message's `Nats-Msg-Id` at `revision` (the publisher's count
    /// of changes of this part's values, 0 first):
    /// `<subject>:<bin secs>:<bin start>:<part>:<revision>:<hash>`.
    pub fn id(&self, revision: u32) -> String {
        format!(
            "{}:{}:{}:{}:{revision}:{:016x}",
            self.subject,
            self.bin.secs(),
            self.bin_start,
            self.part,
            self.hash
        )
    }
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes.
    #[error("empty message")]
    Empty,
    /// Written by another encoding version.
    #[error(
        "encoding version {0}, this vigie reads version {ENCODING_VERSION} (upgrade the consumer)"
    )]
    Version(u8),
    /// Not a postcard `WireBin` (cut, garbage, an unknown signal or entity).
    #[error("not a vigie bin message: {0}")]
    Malformed(String),
    /// Decoded, but a store would refuse it or it is on the wrong subject.
    #[error("invalid bin message: {0}")]
    Invalid(String),
}

#[derive(Serialize, Deserialize)]
enum WireValue {
    NoData,
    Count(u64),
    Real(f64),
}

#[derive(Serialize, Deserialize)]
struct WireGroup {
    signal: SignalKind,
    values: Vec<(Entity, WireValue)>,
}

#[derive(Serialize, Deserialize)]
struct WireBin {
    kind: BinKind,
    source: String,
    bin_secs: BinSize,
    bin_start: UnixSecs,
    part: u32,
    groups: Vec<WireGroup>,
}

/// [`WireGroup`] as read: the same bytes, each entity's name borrowed
/// from the payload (parsed by [`entity_named`], not copied first).
#[derive(Deserialize)]
struct WireGroupIn<'a> {
    signal: SignalKind,
    #[serde(borrow)]
    values: Vec<(&'a str, WireValue)>,
}

/// [`WireBin`] as read.
#[derive(Deserialize)]
struct WireBinIn<'a> {
    kind: BinKind,
    source: String,
    bin_secs: BinSize,
    bin_start: UnixSecs,
    part: u32,
    #[serde(borrow)]
    groups: Vec<WireGroupIn<'a>>,
}

/// The entity a name on the wire stands for, as `Entity`'s `FromStr`
/// reads it; `AS` and digits (what a publisher writes for an AS) without
/// the general parser's steps.
fn entity_named(name: &str) -> Result<Entity, DecodeError> {
    if let Some(digits) = name.strip_prefix("AS") {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(asn) = digits.parse::<u32>() {
                return Ok(Entity::Asn(asn));
            }
        }
    }
    name.parse().map_err(|e| {
        DecodeError::Malformed(format!(
            "entity {:?}: {e}",
            name.chars().take(80).collect::<String>()
        ))
    })
}

/// Largest whole number an `f64` holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

fn wire_value(value: Option<f64>) -> WireValue {
    match value {
        None => WireValue::NoData,
        Some(v)
            if (0.0..=MAX_EXACT).contains(&v)
                && v.fract() == 0.0
                && v.to_bits() != (-0.0f64).to_bits() =>
        {
            WireValue::Count(v as u64)
        }
        Some(v) => WireValue::Real(v),
    }
}

/// The subject token of a source name: letters, digits, `-`, `_` kept,
/// anything else `_`.
pub fn source_token(source: &str) -> String {
    source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The subject token of a part holding entities of `kind` (`None`: an
/// empty bin).
fn kind_token(kind: Option<EntityKind>) -> &'static str {
    kind.map_or("all", EntityKind::name)
}

/// The subject of `source`'s messages of `kind` for entities of `entity`.
pub fn subject(kind: BinKind, source: &str, entity: Option<EntityKind>) -> String {
    let prefix = if kind.is_final() {
        BINS_PREFIX
    } else {
        PROVISIONAL_PREFIX
    };
    format!("{prefix}.{}.{}", source_token(source), kind_token(entity))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Cuts `bin` of `source` into messages: one subject per entity kind, parts
/// of at most [`MAX_PART_BYTES`]. A bin with no values is one message.
pub fn encode(kind: BinKind, source: &str, bin: &SignalBin) -> Result<Vec<Outgoing>, DecodeError> {
    check_source(source)?;
    let mut out = Vec::new();
    if bin.values.is_empty() {
        push_part(&mut out, kind, source, bin, None, 0, Vec::new())?;
        return Ok(out);
    }
    for entity_kind in [EntityKind::Country, EntityKind::Asn, EntityKind::Region] {
        let mut part = 0;
        let mut groups: Vec<WireGroup> = Vec::new();
        let mut bytes = 0usize;
        for (key, value) in bin
            .values
            .iter()
            .filter(|(k, _)| k.entity.kind() == entity_kind)
        {
            let size = 12
                + match &key.entity {
                    Entity::Region(region) => region.name.len() + 4,
                    _ => 8,
                };
            if bytes + size > MAX_PART_BYTES && bytes > 0 {
                push_part(
                    &mut out,
                    kind,
                    source,
                    bin,
                    Some(entity_kind),
                    part,
                    std::mem::take(&mut groups),
                )?;
                part += 1;
                bytes = 0;
            }
            bytes += size;
            match groups.last_mut() {
                Some(group) if group.signal == key.signal => {
                    group.values.push((key.entity.clone(), wire_value(*value)))
                }
                _ => groups.push(WireGroup {
                    signal: key.signal,
                    values: vec![(key.entity.clone(), wire_value(*value))],
                }),
            }
        }
        if !groups.is_empty() {
            push_part(&mut out, kind, source, bin, Some(entity_kind), part, groups)?;
        }
    }
    Ok(out)
}

fn push_part(
    out: &mut Vec<Outgoing>,
    kind: BinKind,
    source: &str,
    bin: &SignalBin,
    entity: Option<EntityKind>,
    part: u32,
    groups: Vec<WireGroup>,
) -> Result<(), DecodeError> {
    let wire = WireBin {
        kind,
        source: source.to_string(),
        bin_secs: bin.bin,
        bin_start: bin.bin_start,
        part,
        groups,
    };
    let mut payload = vec![ENCODING_VERSION];
    payload = postcard::to_extend(&wire, payload)
        .map_err(|e| DecodeError::Malformed(format!("cannot encode: {e}")))?;
    let subject = subject(kind, source, entity);
    out.push(Outgoing {
        subject,
        bin: bin.bin,
        bin_start: bin.bin_start,
        part,
        hash: fnv1a(&payload),
        payload,
    });
    Ok(())
}

fn check_source(source: &str) -> Result<(), DecodeError> {
    let length = source.chars().count();
    if (1..=MAX_SOURCE_CHARS).contains(&length) && !source.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(DecodeError::Invalid(format!(
            "source name {:?}: 1 to {MAX_SOURCE_CHARS} characters, no control characters",
            source.chars().take(80).collect::<String>()
        )))
    }
}

/// Decodes a message; with `subject`, also checks that it belongs there
/// (its source's token, its entity kind, closed or provisional).
pub fn decode(subject: Option<&str>, payload: &[u8]) -> Result<BinMessage, DecodeError> {
    let (&version, body) = payload.split_first().ok_or(DecodeError::Empty)?;
    if version != ENCODING_VERSION {
        return Err(DecodeError::Version(version));
    }
    let (wire, rest): (WireBinIn, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} bytes after the bin",
            rest.len()
        )));
    }
    check_source(&wire.source)?;
    let invalid = |what: String| Err(DecodeError::Invalid(what));
    if wire.bin_secs.floor(wire.bin_start) != wire.bin_start {
        return invalid(format!(
            "bin start {} is not aligned to {} s",
            wire.bin_start,
            wire.bin_secs.secs()
        ));
    }
    let mut values = Vec::with_capacity(wire.groups.iter().map(|g| g.values.len()).sum());
    let mut entity_kind = None;
    for group in wire.groups {
        for (name, value) in group.values {
            let entity = entity_named(name)?;
            let value = match value {
                WireValue::NoData => None,
                WireValue::Count(n) if n as f64 <= MAX_EXACT => Some(n as f64),
                WireValue::Real(v) if v.is_finite() => Some(v),
                WireValue::Count(n) => return invalid(format!("count {n} is over 2^53")),
                WireValue::Real(v) => return invalid(format!("value {v} is not finite")),
            };
            if wire.kind == BinKind::Retract && value.is_some() {
                return invalid("a retraction carries a value".to_string());
            }
            match entity_kind {
                None => entity_kind = Some(entity.kind()),
                Some(kind) if kind != entity.kind() => {
                    return invalid("entities of several kinds in one message".to_string())
                }
                Some(_) => {}
            }
            let key = SeriesKey {
                entity,
                signal: group.signal,
            };
            values.push((key, value));
        }
    }
    if let Some(key) = first_repeated(&values) {
        return invalid(format!("{} {} twice", key.entity, key.signal));
    }
    if let Some(subject) = subject {
        let expected = self::subject(wire.kind, &wire.source, entity_kind);
        if subject != expected {
            return invalid(format!(
                "a {:?} bin of {:?} on {subject} (it belongs on {expected})",
                wire.kind, wire.source
            ));
        }
    }
    Ok(BinMessage {
        kind: wire.kind,
        source: wire.source,
        part: wire.part,
        bin: SignalBin {
            bin: wire.bin_secs,
            bin_start: wire.bin_start,
            values,
        },
    })
}

/// The first series `values` names a second time, if any.
pub(crate) fn first_repeated(values: &[(SeriesKey, Option<f64>)]) -> Option<&SeriesKey> {
    let mut seen = FxHashSet::with_capacity_and_hasher(values.len(), Default::default());
    values
        .iter()
        .map(|(key, _)| key)
        .find(|&key| !seen.insert(key))
}

/// One vantage point's block states after a probing round, as it travels
/// on `vigie.vantage.<name>` (version byte, then postcard of the name, the
/// round's end and the blocks as `(gap in /24s from the previous block,
/// state)` pairs, 2–3 bytes a block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VantageRound {
    /// The vantage point's name.
    pub vantage: String,
    /// When the round ended (UTC seconds).
    pub round_end: UnixSecs,
    /// `(block's first address, state)` in address order; the state is
    /// 0 uncertain, 1 up, 2 down (`vigie_probe::BlockState`'s values).
    pub states: Vec<(u32, u8)>,
}

#[derive(Serialize, Deserialize)]
struct WireVantage {
    vantage: String,
    round_end: UnixSecs,
    blocks: Vec<(u32, u8)>,
}

/// The subject of a vantage point's block states.
pub fn vantage_subject(vantage: &str) -> String {
    format!("{VANTAGE_PREFIX}.{}", source_token(vantage))
}

/// Subject prefix of vantage points' block states: `vigie.vantage.<name>`.
pub const VANTAGE_PREFIX: &str = "vigie.vantage";

impl VantageRound {
    /// The encoded message, its subject and its `Nats-Msg-Id` (a round sent
    /// twice is stored once). Blocks must be in address order, each a /24.
    pub fn encode(&self) -> Result<(String, String, Vec<u8>), DecodeError> {
        check_source(&self.vantage)?;
        let mut blocks = Vec::with_capacity(self.states.len());
        let mut previous: Option<u32> = None;
        for &(network, state) in &self.states {
            let index = network >> 8;
            if network & 0xff != 0 || previous.is_some_and(|p| index <= p) || state > 2 {
                return Err(DecodeError::Invalid(format!(
                    "block {network:#x} with state {state}: blocks are /24s in address order, states 0 to 2"
                )));
            }
            blocks.push((index - previous.map_or(0, |p| p), state));
            previous = Some(index);
        }
        let wire = WireVantage {
            vantage: self.vantage.clone(),
            round_end: self.round_end,
            blocks,
        };
        let payload = postcard::to_extend(&wire, vec![ENCODING_VERSION])
            .map_err(|e| DecodeError::Malformed(format!("cannot encode: {e}")))?;
        let subject = vantage_subject(&self.vantage);
        let id = format!("{subject}:{}:{:016x}", self.round_end, fnv1a(&payload));
        Ok((subject, id, payload))
    }

    /// Decodes a vantage message; with `subject`, checks that it belongs there.
    pub fn decode(subject: Option<&str>, payload: &[u8]) -> Result<VantageRound, DecodeError> {
        let (&version, body) = payload.split_first().ok_or(DecodeError::Empty)?;
        if version != ENCODING_VERSION {
            return Err(DecodeError::Version(version));
        }
        let (wire, rest): (WireVantage, &[u8]) =
            postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Malformed(format!(
                "{} bytes after the states",
                rest.len()
            )));
        }
        check_source(&wire.vantage)?;
        if let Some(subject) = subject {
            let expected = vantage_subject(&wire.vantage);
            if subject != expected {
                return Err(DecodeError::Invalid(format!(
                    "states of vantage point {:?} on {subject} (they belong on {expected})",
                    wire.vantage
                )));
            }
        }
        let mut states = Vec::with_capacity(wire.blocks.len());
        let mut index: Option<u32> = None;
        for (gap, state) in wire.blocks {
            let next = match index {
                None => Some(gap),
                Some(_) if gap == 0 => None,
                Some(i) => i.checked_add(gap),
            };
            match next.filter(|&n| n < 1 << 24) {
                Some(n) if state <= 2 => {
                    states.push((n << 8, state));
                    index = Some(n);
                }
                _ => {
                    return Err(DecodeError::Invalid(format!(
                        "block gap {gap} with state {state} after {} blocks",
                        states.len()
                    )))
                }
            }
        }
        Ok(VantageRound {
            vantage: wire.vantage,
            round_end: wire.round_end,
            states,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn key(entity: &str, signal: SignalKind) -> SeriesKey {
        SeriesKey {
            entity: entity.parse().unwrap(),
            signal,
        }
    }

    fn sample() -> SignalBin {
        SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: 1_650_000_000 / 300 * 300,
            values: vec![
                (key("KZ", SignalKind::BgpVisibleSlash24s), Some(12_345.0)),
                (key("AS9198", SignalKind::BgpVisibleSlash24s), Some(0.0)),
                (key("KZ/Almaty", SignalKind::BgpVisibleSlash24s), None),
                (key("KZ", SignalKind::ProbeUpSlash24s), Some(0.25)),
                (key("US", SignalKind::ProbeUpSlash24s), Some(-0.0)),
                (key("FR", SignalKind::ProbeUpSlash24s), Some(1e300)),
                (
                    key("AS1", SignalKind::ProbeUpSlash24s),
                    Some(MAX_EXACT + 2.0),
                ),
            ],
        }
    }

    fn sorted(mut values: Vec<(SeriesKey, Option<f64>)>) -> Vec<(SeriesKey, Option<u64>)> {
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values
            .into_iter()
            .map(|(k, v)| (k, v.map(f64::to_bits)))
            .collect()
    }

    #[test]
    fn a_bin_round_trips_bit_for_bit_one_subject_per_entity_kind() {
        let bin = sample();
        let messages = encode(BinKind::Weighted(7), "bgp.mrt", &bin).unwrap();
        let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "vigie.bins.bgp_mrt.country",
                "vigie.bins.bgp_mrt.asn",
                "vigie.bins.bgp_mrt.region"
            ]
        );
        let mut values = Vec::new();
        for message in &messages {
            let decoded = decode(Some(&message.subject), &message.payload).unwrap();
            assert_eq!(decoded.kind, BinKind::Weighted(7));
            assert_eq!(decoded.source, "bgp.mrt");
            assert_eq!(
                (decoded.bin.bin, decoded.bin.bin_start),
                (bin.bin, bin.bin_start)
            );
            values.extend(decoded.bin.values);
        }
        assert_eq!(sorted(values), sorted(bin.values.clone()));
        // The same bin gives the same ids; other values, other ids.
        assert_eq!(
            encode(BinKind::Weighted(7), "bgp.mrt", &bin).unwrap(),
            messages
        );
        let mut changed = bin.clone();
        changed.values[0].1 = Some(12_346.0);
        let again = encode(BinKind::Weighted(7), "bgp.mrt", &changed).unwrap();
        assert_ne!(again[0].id(0), messages[0].id(0));
        assert_eq!(again[1].id(0), messages[1].id(0));
        assert_ne!(messages[1].id(0), messages[1].id(1));
    }

    #[test]
    fn counts_are_compact_and_large_bins_are_cut_into_parts() {
        let values: Vec<_> = (1..=60_000u32)
            .map(|asn| {
                (
                    key(&format!("AS{asn}"), SignalKind::BgpVisibleSlash24s),
                    Some(f64::from(asn % 500)),
                )
            })
            .collect();
        let bin = SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: 0,
            values,
        };
        let messages = encode(BinKind::Final, "bgp-live", &bin).unwrap();
        assert!(messages.len() > 1, "{} parts", messages.len());
        let total: usize = messages.iter().map(|m| m.payload.len()).sum();
        assert!(total < 60_000 * 12, "{total} bytes for 60,000 values");
        let mut back = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            assert!(message.payload.len() <= MAX_PART_BYTES + 1024);
            let decoded = decode(Some(&message.subject), &message.payload).unwrap();
            assert_eq!(decoded.part as usize, index);
            back.extend(decoded.bin.values);
        }
        assert_eq!(back, bin.values);
        let ids: HashSet<_> = messages.iter().map(|m| m.id(0)).collect();
        assert_eq!(ids.len(), messages.len());
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let bin = sample();
        let message = &encode(BinKind::Final, "probe", &bin).unwrap()[0];
        assert_eq!(decode(None, &[]), Err(DecodeError::Empty));
        assert_eq!(decode(None, &[2, 0]), Err(DecodeError::Version(2)));
        assert!(matches!(
            decode(None, &[1, 0xff, 0xff]),
            Err(DecodeError::Malformed(_))
        ));
        let cut = &message.payload[..message.payload.len() - 1];
        assert!(matches!(decode(None, cut), Err(DecodeError::Malformed(_))));
        let mut longer = message.payload.clone();
        longer.push(0);
        assert!(matches!(
            decode(None, &longer),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode(Some("vigie.bins.other.country"), &message.payload),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode(Some("vigie.bins.probe.asn"), &message.payload),
            Err(DecodeError::Invalid(_))
        ));
        let twice = SignalBin {
            values: vec![bin.values[0].clone(), bin.values[0].clone()],
            ..bin.clone()
        };
        let message = &encode(BinKind::Final, "probe", &twice).unwrap()[0];
        assert!(matches!(
            decode(None, &message.payload),
            Err(DecodeError::Invalid(_))
        ));
        let unaligned = SignalBin {
            bin_start: bin.bin_start + 1,
            ..bin.clone()
        };
        let message = &encode(BinKind::Final, "probe", &unaligned).unwrap()[0];
        assert!(matches!(
            decode(None, &message.payload),
            Err(DecodeError::Invalid(_))
        ));
        let nan = SignalBin {
            values: vec![(bin.values[0].0.clone(), Some(f64::NAN))],
            ..bin.clone()
        };
        let message = &encode(BinKind::Final, "probe", &nan).unwrap()[0];
        assert!(matches!(
            decode(None, &message.payload),
            Err(DecodeError::Invalid(_))
        ));
        assert!(encode(BinKind::Final, "", &bin).is_err());
        // Found by the fuzzer: a bin start near i64::MIN overflowed when
        // floored to its bin; it is refused as unaligned.
        let absurd = [
            1, 0, 1, 70, 156, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 18, 1, 6, 98, 103,
            112, 45, 118, 54, 1, 128, 0, 2, 0, 20, 1, 1, 0, 1, 4, 2,
        ];
        assert!(decode(None, &absurd).is_err());
    }

    #[test]
    fn vantage_states_round_trip_and_bad_ones_are_refused() {
        let round = VantageRound {
            vantage: "paris-1".to_string(),
            round_end: 1_700_000_123,
            states: vec![(0x0248_0000, 1), (0x0248_0100, 2), (0xc612_0000, 0)],
        };
        let (subject, id, payload) = round.encode().unwrap();
        assert_eq!(subject, "vigie.vantage.paris-1");
        assert!(id.starts_with("vigie.vantage.paris-1:1700000123:"));
        assert_eq!(
            VantageRound::decode(Some(&subject), &payload).unwrap(),
            round
        );
        assert!(VantageRound::decode(Some("vigie.vantage.lyon"), &payload).is_err());
        let mut cut = payload.clone();
        cut.pop();
        assert!(VantageRound::decode(None, &cut).is_err());
        let unordered = VantageRound {
            states: vec![(0x0248_0100, 1), (0x0248_0000, 1)],
            ..round.clone()
        };
        assert!(unordered.encode().is_err());
        // A repeated block (gap 0) is refused.
        let wire = WireVantage {
            vantage: "x".to_string(),
            round_end: 0,
            blocks: vec![(5, 1), (0, 1)],
        };
        let payload = postcard::to_extend(&wire, vec![ENCODING_VERSION]).unwrap();
        assert!(matches!(
            VantageRound::decode(None, &payload),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn entity_names_read_as_the_model_parses_them() {
        for name in [
            "AS9198",
            "as9198",
            "AS",
            "AS-1",
            "AS4294967295",
            "AS4294967296",
            "AS00012",
            "AS 12",
            "KZ",
            "kz",
            "KZ/Almaty",
            "asn/12",
            "country/KZ",
            "AS9198/x",
            "",
            " AS1",
        ] {
            let model = name.parse::<Entity>().ok();
            assert_eq!(entity_named(name).ok(), model, "{name:?}");
        }
    }

    #[test]
    fn an_empty_bin_is_one_message() {
        let bin = SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: 600,
            values: Vec::new(),
        };
        let messages = encode(BinKind::Provisional, "bgp-live", &bin).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].subject, "vigie.provisional.bgp-live.all");
        let decoded = decode(Some(&messages[0].subject), &messages[0].payload).unwrap();
        assert_eq!(decoded.bin, bin);
    }
}
