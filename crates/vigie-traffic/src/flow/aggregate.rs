//! Flow records → per-bin bytes, packets and flows from and to each
//! country, AS and region, corrected for sampling.
//!
//! **Far end.** The operator names its own prefixes. A record whose source
//! is outside them counts as traffic *from* the source's entities; a record
//! whose destination is outside them counts as traffic *to* the
//! destination's entities. A record with both ends inside is internal and
//! only counted in [`FlowAggregator::stats`]. Without own prefixes, every
//! source counts "from" and every destination "to".
//!
//! **Time.** A record belongs to the bin of the time its datagram was
//! received (or captured, for a replayed capture): exporters' clocks and
//! flow timestamps are not trusted.
//!
//! **Plausibility.** One exporter cannot carry more than a link's worth of
//! traffic through a bin ([`super::limits::FlowLimits::max_link_bits_per_second`],
//! 400 Gbit/s by default): a record that would take an exporter's bytes in
//! a bin past it, or its packets past one per 20 bytes of it, is counted in
//! [`AggregateStats::implausible_records`] and not added (bit flips and
//! corrupt counters give values like 2·10^17 bytes).
//!
//! **Silent exporters are gaps, not outages.** A series that had values
//! reads 0 in a later bin without records only while an exporter that fed
//! its entity (one of the last [`FEEDERS`] to) is still heard, that is sends
//! any datagram in the bin; when every exporter that fed it is silent, the
//! bin has no value for it (no data: the service's feed-health pass then
//! tells its subscribers the data stopped), and the aggregator logs the
//! silence once ([`FlowAggregator::take_feed_notices`]) and again when the
//! exporter is heard back.
//!
//! **Flows.** sFlow samples are packets, not flows: they add to bytes and
//! packets but never to the flow counts, which are only written for bins
//! that received NetFlow or IPFIX records.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{
    format_utc, BinSize, Entity, FillId, SeriesKey, SignalBin, SignalKind, UnixSecs, ZeroFill,
};

use super::decode::FlowRecord;
use super::limits::DEFAULT_MAX_LINK_BITS_PER_SECOND;
use crate::bins::{for_each_entity, unit_of_ip, EntityKinds, OpenBins, UnitCounts};

/// Exporters remembered per entity as the ones that fed it: the last
/// [`FEEDERS`] distinct ones.
pub const FEEDERS: usize = 4;

/// The exporters (by index in the aggregator's table) that fed a unit or
/// an entity, most recent last.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Feeders {
    ids: [u32; FEEDERS],
    len: u8,
}

impl Feeders {
    fn ids(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }

    /// Adds `id` as the most recent (the oldest drops out when full).
    fn add(&mut self, id: u32) {
        if let Some(at) = self.ids().iter().position(|&x| x == id) {
            self.ids.copy_within(at + 1..usize::from(self.len), at);
            self.ids[usize::from(self.len) - 1] = id;
            return;
        }
        if usize::from(self.len) == FEEDERS {
            self.ids.copy_within(1.., 0);
            self.ids[FEEDERS - 1] = id;
        } else {
            self.ids[usize::from(self.len)] = id;
            self.len += 1;
        }
    }

    fn merge(&mut self, other: &Feeders) {
        for &id in other.ids() {
            self.add(id);
        }
    }
}

/// Sampling-corrected counts of one unit in one bin.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    bytes_from: u64,
    packets_from: u64,
    flows_from: u64,
    bytes_to: u64,
    packets_to: u64,
    flows_to: u64,
    feeders: Feeders,
}

#[derive(Debug, Default)]
struct BinState {
    units: UnitCounts<Counts>,
    saw_flows: bool,
    /// Bytes and packets added per exporter, for the plausibility ceiling.
    exporters: HashMap<IpAddr, (u64, u64)>,
    /// Exporters heard in the bin (any datagram), by index.
    heard: rustc_hash::FxHashSet<u32>,
}

/// An entity that had values: its series in the aggregator's [`ZeroFill`]
/// (in the order of the signals `finish_bin` counts) and the exporters
/// that fed it.
#[derive(Clone, Copy, Debug, Default)]
struct Known {
    series: [Option<FillId>; 6],
    feeders: Feeders,
}

/// One exporter of the aggregator's table.
#[derive(Clone, Debug)]
struct Exporter {
    addr: IpAddr,
    /// The start of the latest closed bin it was heard in.
    last_heard: Option<UnixSecs>,
    /// The start of the first closed bin it was not heard in, while silent.
    silent_since: Option<UnixSecs>,
}

/// Exporters with their own plausibility budget in a bin; further ones
/// (spoofed floods) share one.
const MAX_EXPORTER_BUDGETS: usize = 4096;

/// Exporters named in the silence and return notices of one bin; the
/// others are counted in one more line.
const NOTICES_PER_BIN: usize = 8;

/// The exporter of records given without one, and the shared budget.
const NO_EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// No IP packet is shorter than this: the packet ceiling is the byte
/// ceiling over it.
const MIN_PACKET_BYTES: u64 = 20;

/// What the aggregator did with the records it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregateStats {
    /// Records counted in a bin.
    pub records: u64,
    /// Records with both ends in the operator's prefixes (not counted).
    pub internal_records: u64,
    /// Records that arrived after their bin was closed (not counted).
    pub late_records: u64,
    /// Records that would take their exporter past the link ceiling in a
    /// bin (not counted).
    pub implausible_records: u64,
    /// Entity bins left without values (gaps, not zeros) because every
    /// exporter that fed the entity was silent.
    pub silent_feed_gaps: u64,
}

/// Aggregates flow records into closed bins of per-entity signals.
#[derive(Debug)]
pub struct FlowAggregator {
    geo: GeoDb,
    kinds: EntityKinds,
    own_prefixes: Vec<IpNet>,
    bins: OpenBins<BinState>,
    /// Every entity that had values, for the zero-fill of its silent series.
    known: HashMap<Entity, Known, rustc_hash::FxBuildHasher>,
    /// The zero-fill: every series that had a value reads 0 when silent.
    fill: ZeroFill,
    /// Exporters by index (at most [`MAX_EXPORTER_BUDGETS`]; later ones
    /// share index 0, the unnamed exporter's).
    exporters: Vec<Exporter>,
    exporter_ids: HashMap<IpAddr, u32, rustc_hash::FxBuildHasher>,
    /// The last exporter looked up (records come a datagram at a time).
    last_exporter: Option<(IpAddr, u32)>,
    feed_notices: Vec<String>,
    stats: AggregateStats,
    max_bytes_per_bin: u64,
}

impl FlowAggregator {
    /// An aggregator over `geo` with bins of `bin`; `own_prefixes` are the
    /// operator's address space (may be empty).
    pub fn new(geo: GeoDb, bin: BinSize, own_prefixes: Vec<IpNet>) -> Self {
        FlowAggregator {
            kinds: EntityKinds::of(&geo),
            geo,
            own_prefixes,
            bins: OpenBins::new(bin),
            known: HashMap::default(),
            fill: ZeroFill::default(),
            exporters: vec![Exporter {
                addr: NO_EXPORTER,
                last_heard: None,
                silent_since: None,
            }],
            exporter_ids: HashMap::from_iter([(NO_EXPORTER, 0)]),
            last_exporter: None,
            feed_notices: Vec::new(),
            stats: AggregateStats::default(),
            max_bytes_per_bin: (DEFAULT_MAX_LINK_BITS_PER_SECOND / 8)
                .saturating_mul(u64::from(bin.secs())),
        }
    }

    /// Sets the plausibility ceiling: the fastest one exporter's traffic can
    /// be, in bits per second averaged over a bin (400 Gbit/s by default).
    pub fn set_max_link_bits_per_second(&mut self, bits_per_second: u64) {
        self.max_bytes_per_bin = (bits_per_second.max(1) / 8)
            .saturating_mul(u64::from(self.bins.bin().secs()))
            .max(1);
    }

    /// The most bytes one exporter may account for in a bin.
    pub fn max_bytes_per_bin(&self) -> u64 {
        self.max_bytes_per_bin
    }

    /// Counters so far.
    pub fn stats(&self) -> AggregateStats {
        self.stats
    }

    /// The log lines about exporters falling silent or heard back, since
    /// the last call.
    pub fn take_feed_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.feed_notices)
    }

    /// The exporters silent now, with the start of the first bin they were
    /// not heard in.
    pub fn silent_exporters(&self) -> Vec<(IpAddr, UnixSecs)> {
        self.exporters
            .iter()
            .filter_map(|e| e.silent_since.map(|t| (e.addr, t)))
            .collect()
    }

    fn exporter_id(&mut self, exporter: IpAddr) -> u32 {
        if let Some((addr, id)) = self.last_exporter {
            if addr == exporter {
                return id;
            }
        }
        let id = match self.exporter_ids.get(&exporter) {
            Some(&id) => id,
            None if self.exporters.len() < MAX_EXPORTER_BUDGETS => {
                let id = self.exporters.len() as u32;
                self.exporters.push(Exporter {
                    addr: exporter,
                    last_heard: None,
                    silent_since: None,
                });
                self.exporter_ids.insert(exporter, id);
                id
            }
            None => 0,
        };
        self.last_exporter = Some((exporter, id));
        id
    }

    /// Notes that `exporter` sent a datagram received at `at` (records or
    /// not: templates, options): it is alive in that bin, so the entities
    /// it fed read 0 there when it reports nothing for them.
    pub fn heard(&mut self, exporter: IpAddr, at: UnixSecs) {
        let id = self.exporter_id(exporter);
        if let Some(state) = self.bins.get_mut(at) {
            state.heard.insert(id);
        }
    }

    fn is_own(&self, ip: IpAddr) -> bool {
        self.own_prefixes.iter().any(|net| net.contains(&ip))
    }

    /// Adds one record received at `at` from an unnamed exporter (all such
    /// records share one plausibility budget).
    pub fn add(&mut self, at: UnixSecs, record: &FlowRecord) {
        self.add_from(NO_EXPORTER, at, record);
    }

    /// Adds one record received at `at` from `exporter`, unless it would
    /// take the exporter past the plausibility ceiling in this bin.
    pub fn add_from(&mut self, exporter: IpAddr, at: UnixSecs, record: &FlowRecord) {
        let (src_far, dst_far) = if self.own_prefixes.is_empty() {
            (true, true)
        } else {
            (!self.is_own(record.src), !self.is_own(record.dst))
        };
        if !src_far && !dst_far {
            self.stats.internal_records += 1;
            return;
        }
        let id = self.exporter_id(exporter);
        let Some(state) = self.bins.get_mut(at) else {
            self.stats.late_records += 1;
            return;
        };
        state.heard.insert(id);
        let bytes = record.scaled_bytes();
        let packets = record.scaled_packets();
        let key = if state.exporters.len() < MAX_EXPORTER_BUDGETS
            || state.exporters.contains_key(&exporter)
        {
            exporter
        } else {
            NO_EXPORTER
        };
        let used = state.exporters.entry(key).or_default();
        let (new_bytes, new_packets) =
            (used.0.saturating_add(bytes), used.1.saturating_add(packets));
        if new_bytes > self.max_bytes_per_bin
            || new_packets > self.max_bytes_per_bin / MIN_PACKET_BYTES
        {
            self.stats.implausible_records += 1;
            return;
        }
        *used = (new_bytes, new_packets);
        self.stats.records += 1;
        state.saw_flows |= record.is_flow;
        let flows = if record.is_flow {
            u64::from(record.sampling_rate)
        } else {
            0
        };
        if src_far {
            let c = state.units.entry(unit_of_ip(record.src)).or_default();
            c.bytes_from = c.bytes_from.saturating_add(bytes);
            c.packets_from = c.packets_from.saturating_add(packets);
            c.flows_from = c.flows_from.saturating_add(flows);
            c.feeders.add(id);
        }
        if dst_far {
            let c = state.units.entry(unit_of_ip(record.dst)).or_default();
            c.bytes_to = c.bytes_to.saturating_add(bytes);
            c.packets_to = c.packets_to.saturating_add(packets);
            c.flows_to = c.flows_to.saturating_add(flows);
            c.feeders.add(id);
        }
    }

    /// Closes every bin that ends at or before `t`.
    pub fn close_until(&mut self, t: UnixSecs) -> Vec<SignalBin> {
        let closed = self.bins.close_until(t);
        closed
            .into_iter()
            .map(|(start, state)| self.finish_bin(start, state))
            .collect()
    }

    /// Closes every open bin (end of input).
    pub fn close_all(&mut self) -> Vec<SignalBin> {
        let closed = self.bins.close_all();
        closed
            .into_iter()
            .map(|(start, state)| self.finish_bin(start, state))
            .collect()
    }

    fn finish_bin(&mut self, bin_start: UnixSecs, state: BinState) -> SignalBin {
        // Units → entities first (one geo lookup per unit), then series.
        let mut per_entity: HashMap<Entity, Counts, rustc_hash::FxBuildHasher> = HashMap::default();
        for (unit, c) in &state.units {
            for_each_entity(&self.geo, self.kinds, *unit, |entity| {
                let e = per_entity.entry(entity).or_default();
                e.bytes_from = e.bytes_from.saturating_add(c.bytes_from);
                e.packets_from = e.packets_from.saturating_add(c.packets_from);
                e.flows_from = e.flows_from.saturating_add(c.flows_from);
                e.bytes_to = e.bytes_to.saturating_add(c.bytes_to);
                e.packets_to = e.packets_to.saturating_add(c.packets_to);
                e.flows_to = e.flows_to.saturating_add(c.flows_to);
                e.feeders.merge(&c.feeders);
            });
        }
        self.note_silences(bin_start, &state.heard);
        for (entity, c) in &per_entity {
            let pairs = [
                (SignalKind::FlowBytesFrom, c.bytes_from, c.packets_from > 0),
                (
                    SignalKind::FlowPacketsFrom,
                    c.packets_from,
                    c.packets_from > 0,
                ),
                (SignalKind::FlowBytesTo, c.bytes_to, c.packets_to > 0),
                (SignalKind::FlowPacketsTo, c.packets_to, c.packets_to > 0),
                (
                    SignalKind::FlowsFrom,
                    c.flows_from,
                    state.saw_flows && c.packets_from > 0,
                ),
                (
                    SignalKind::FlowsTo,
                    c.flows_to,
                    state.saw_flows && c.packets_to > 0,
                ),
            ];
            let known = self.known.entry(entity.clone()).or_default();
            known.feeders.merge(&c.feeders);
            for ((signal, value, present), series) in pairs.into_iter().zip(&mut known.series) {
                if present || value > 0 {
                    let fill = &mut self.fill;
                    let id = *series.get_or_insert_with(|| {
                        fill.id(&SeriesKey {
                            entity: entity.clone(),
                            signal,
                        })
                    });
                    fill.set(id, value as f64);
                }
            }
        }
        // Series seen before and without records now: 0 while an exporter
        // that fed the entity is heard, no data when all of them are silent.
        for (entity, known) in &self.known {
            let alive = per_entity.contains_key(entity)
                || known
                    .feeders
                    .ids()
                    .iter()
                    .any(|id| state.heard.contains(id));
            if !alive {
                self.stats.silent_feed_gaps += 1;
                known
                    .series
                    .iter()
                    .flatten()
                    .for_each(|&id| self.fill.withhold(id));
            }
        }
        SignalBin {
            bin_start,
            bin: self.bins.bin(),
            values: self.fill.close(),
        }
    }

    /// Logs exporters heard before and not in the bin at `bin_start`, once
    /// per silence, and those heard again.
    /// At most [`NOTICES_PER_BIN`] lines a bin, then one that counts the rest.
    fn note_silences(&mut self, bin_start: UnixSecs, heard: &rustc_hash::FxHashSet<u32>) {
        let bin_secs = self.bins.bin().secs();
        let (mut back, mut silent) = (Vec::new(), Vec::new());
        for (id, exporter) in self.exporters.iter_mut().enumerate() {
            if heard.contains(&(id as u32)) {
                if let Some(since) = exporter.silent_since.take() {
                    back.push((exporter.addr, since));
                }
                exporter.last_heard = Some(bin_start);
            } else if exporter.last_heard.is_some() && exporter.silent_since.is_none() {
                exporter.silent_since = Some(bin_start);
                silent.push(exporter.addr);
            }
        }
        let at = format_utc(bin_start);
        for (addr, since) in back.iter().take(NOTICES_PER_BIN) {
            self.feed_notices.push(format!(
                "flow exporter {addr} is heard again at {at} (silent since {}): the entities it feeds have values again",
                format_utc(*since)
            ));
        }
        if back.len() > NOTICES_PER_BIN {
            let more = back.len() - NOTICES_PER_BIN;
            self.feed_notices.push(format!(
                "{more} more flow exporters are heard again at {at}"
            ));
        }
        for addr in silent.iter().take(NOTICES_PER_BIN) {
            self.feed_notices.push(format!(
                "flow exporter {addr} sent nothing in the {bin_secs} s bin at {at}: the entities only it fed get no data (a feed gap, not an outage) until it is heard again"
            ));
        }
        if silent.len() > NOTICES_PER_BIN {
            let more = silent.len() - NOTICES_PER_BIN;
            self.feed_notices.push(format!(
                "{more} more flow exporters sent nothing in the bin at {at}: the entities only they fed get no data"
            ));
        }
    }
}
