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
//! **Flows.** sFlow samples are packets, not flows: they add to bytes and
//! packets but never to the flow counts, which are only written for bins
//! that received NetFlow or IPFIX records.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use vigie_geo::GeoDb;
use vigie_model::{BinSize, Entity, SignalBin, SignalKind, UnixSecs, ZeroFill};

use super::decode::FlowRecord;
use super::limits::DEFAULT_MAX_LINK_BITS_PER_SECOND;
use crate::bins::{add_value, for_each_entity, unit_of_ip, EntityKinds, OpenBins, UnitCounts};

/// Sampling-corrected counts of one unit in one bin.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    bytes_from: u64,
    packets_from: u64,
    flows_from: u64,
    bytes_to: u64,
    packets_to: u64,
    flows_to: u64,
}

#[derive(Debug, Default)]
struct BinState {
    units: UnitCounts<Counts>,
    saw_flows: bool,
    /// Bytes and packets added per exporter, for the plausibility ceiling.
    exporters: HashMap<IpAddr, (u64, u64)>,
}

/// Exporters with their own plausibility budget in a bin; further ones
/// (spoofed floods) share one.
const MAX_EXPORTER_BUDGETS: usize = 4096;

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
}

/// Aggregates flow records into closed bins of per-entity signals.
#[derive(Debug)]
pub struct FlowAggregator {
    geo: GeoDb,
    kinds: EntityKinds,
    own_prefixes: Vec<IpNet>,
    bins: OpenBins<BinState>,
    seen: ZeroFill,
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
            seen: ZeroFill::default(),
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
        let Some(state) = self.bins.get_mut(at) else {
            self.stats.late_records += 1;
            return;
        };
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
        }
        if dst_far {
            let c = state.units.entry(unit_of_ip(record.dst)).or_default();
            c.bytes_to = c.bytes_to.saturating_add(bytes);
            c.packets_to = c.packets_to.saturating_add(packets);
            c.flows_to = c.flows_to.saturating_add(flows);
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
            });
        }
        let mut values = BTreeMap::new();
        for (entity, c) in per_entity {
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
            for (signal, value, present) in pairs {
                if present || value > 0 {
                    add_value(&mut values, entity.clone(), signal, value as f64);
                }
            }
        }
        SignalBin {
            bin_start,
            bin: self.bins.bin(),
            values: self.seen.complete(values),
        }
    }
}
