//! Turns export datagrams (NetFlow v5/v9, IPFIX, sFlow v5) into
//! [`FlowRecord`]s, keeping templates and sampling rates per exporter and
//! observation domain, and counting everything it cannot use.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{LaxNetSlice, LaxSlicedPacket};
use netflow_parser::variable_versions::ipfix::lookup::IANAIPFixField;
use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{FieldValue, IpfixField as IPFixField, NetflowPacket, NetflowParser, V9Field};
use sflow_parser::models::core::FlowData;
use sflow_parser::models::record_flows::HeaderProtocol;
use sflow_parser::SampleData;
use vigie_model::UnixSecs;

use super::fastpath::{data_sets, CompiledTemplate, RawRecord};
use super::health::{DatagramOutcome, ExporterHealth};
use super::limits::{gate_templates, FlowLimits, Limit, LimitStats, Notices};
use crate::ratelog::RateLimitedLog;

/// Sampling rates above this are treated as corrupt by default: the record
/// is dropped and counted, never scaled by an absurd factor.
pub const DEFAULT_MAX_SAMPLING_RATE: u32 = 1_000_000;

/// Which export protocol a record came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportProtocol {
    /// Cisco NetFlow version 5.
    NetflowV5,
    /// NetFlow version 9 (RFC 3954).
    NetflowV9,
    /// IPFIX (RFC 7011).
    Ipfix,
    /// sFlow version 5 (one sampled packet per record).
    Sflow,
}

/// One flow (or one sFlow packet sample) as exported: the counts are the
/// exporter's, not yet multiplied by the sampling rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Source address of the traffic.
    pub src: IpAddr,
    /// Destination address of the traffic.
    pub dst: IpAddr,
    /// Layer-3 bytes as exported (IP total length for sFlow samples).
    pub bytes: u64,
    /// Packets as exported (1 for an sFlow sample).
    pub packets: u64,
    /// Whether this record is a flow (NetFlow/IPFIX) rather than a packet sample (sFlow).
    pub is_flow: bool,
    /// 1 in `sampling_rate` packets was sampled; 1 means unsampled.
    pub sampling_rate: u32,
    /// How it was exported.
    pub protocol: ExportProtocol,
}

impl FlowRecord {
    /// Bytes corrected for sampling.
    pub fn scaled_bytes(&self) -> u64 {
        self.bytes.saturating_mul(u64::from(self.sampling_rate))
    }

    /// Packets corrected for sampling.
    pub fn scaled_packets(&self) -> u64 {
        self.packets.saturating_mul(u64::from(self.sampling_rate))
    }
}

/// Sampling rates announced by options data, per exporter and observation domain.
#[derive(Clone, Debug, Default)]
struct SamplerTable {
    by_sampler_id: HashMap<u64, u32>,
    default_rate: Option<u32>,
}

/// Decodes datagrams from any number of exporters.
///
/// Templates live in one `netflow_parser` parser per exporter address and
/// source id (v9) or observation domain (IPFIX), within the caps of
/// [`FlowLimits`] (see [`super::limits`]).
/// Sampling rates come, in this order, from the record itself (fields 34,
/// 50, 305/306), from options data keyed by the record's sampler/selector id
/// (fields 48, 302), from options data without a sampler id (the exporter's
/// rate), from the NetFlow v5 header, or from the sFlow sample. Without any,
/// the rate is 1.
pub struct FlowDecoder {
    /// Exporters' templates and sampling rates, at most `limits.max_exporters`.
    scopes: HashMap<ScopeKey, Scope>,
    health: BTreeMap<SocketAddr, ExporterHealth>,
    other_exporters: ExporterHealth,
    limits: FlowLimits,
    limit_stats: LimitStats,
    notices: Notices,
    max_sampling_rate: u32,
    log: RateLimitedLog<SocketAddr>,
    fast_path: bool,
    fast_datagrams: u64,
    /// Datagrams seen: orders exporters by when they were last heard from.
    clock: u64,
}

impl std::fmt::Debug for FlowDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowDecoder")
            .field("exporters", &self.health.len())
            .field("exporters_kept", &self.scopes.len())
            .field("limits", &self.limits)
            .field("max_sampling_rate", &self.max_sampling_rate)
            .finish()
    }
}

impl Default for FlowDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// A field of a record that matters to vigie, by IANA element id.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Bytes,
    Packets,
    PostBytes,
    PostPackets,
    SrcAddr,
    DstAddr,
    SamplingInterval,
    SamplerRandomInterval,
    SamplingPacketInterval,
    SamplingPacketSpace,
    SamplerId,
    Other,
}

fn role_of_id(id: u16) -> Role {
    match id {
        1 => Role::Bytes,
        2 => Role::Packets,
        23 => Role::PostBytes,
        24 => Role::PostPackets,
        8 | 27 => Role::SrcAddr,
        12 | 28 => Role::DstAddr,
        34 => Role::SamplingInterval,
        50 => Role::SamplerRandomInterval,
        305 => Role::SamplingPacketInterval,
        306 => Role::SamplingPacketSpace,
        48 | 302 => Role::SamplerId,
        _ => Role::Other,
    }
}

fn role_of_ipfix(field: &IPFixField) -> Role {
    let IPFixField::IANA(iana) = field else {
        return Role::Other;
    };
    let id = match iana {
        IANAIPFixField::OctetDeltaCount => 1,
        IANAIPFixField::PacketDeltaCount => 2,
        IANAIPFixField::PostOctetDeltaCount => 23,
        IANAIPFixField::PostPacketDeltaCount => 24,
        IANAIPFixField::SourceIpv4address => 8,
        IANAIPFixField::SourceIpv6address => 27,
        IANAIPFixField::DestinationIpv4address => 12,
        IANAIPFixField::DestinationIpv6address => 28,
        IANAIPFixField::SamplingInterval => 34,
        IANAIPFixField::SamplerRandomInterval => 50,
        IANAIPFixField::SamplingPacketInterval => 305,
        IANAIPFixField::SamplingPacketSpace => 306,
        IANAIPFixField::SamplerId => 48,
        IANAIPFixField::SelectorId => 302,
        _ => return Role::Other,
    };
    role_of_id(id)
}

fn role_of_v9(field: &V9Field) -> Role {
    role_of_id(u16::from(*field))
}

/// The fields of one record that vigie uses (shared with the fast path).
type RecordFields = RawRecord;

impl RecordFields {
    fn set(&mut self, role: Role, value: &FieldValue) {
        let ip = || match value {
            FieldValue::Ip4Addr(a) => Some(IpAddr::V4(*a)),
            FieldValue::Ip6Addr(a) => Some(IpAddr::V6(*a)),
            _ => None,
        };
        let num = || match value {
            FieldValue::DataNumber(n) => n.as_u64(),
            _ => None,
        };
        match role {
            Role::Bytes => self.bytes = num(),
            Role::Packets => self.packets = num(),
            Role::PostBytes => self.post_bytes = num(),
            Role::PostPackets => self.post_packets = num(),
            Role::SrcAddr => self.src = self.src.or(ip()),
            Role::DstAddr => self.dst = self.dst.or(ip()),
            Role::SamplingInterval => self.interval = num(),
            Role::SamplerRandomInterval => self.random_interval = num(),
            Role::SamplingPacketInterval => self.packet_interval = num(),
            Role::SamplingPacketSpace => self.packet_space = num(),
            Role::SamplerId => self.sampler_id = num(),
            Role::Other => {}
        }
    }

    /// The sampling rate the record itself states, if any (0 = not stated).
    fn own_rate(&self) -> Option<u64> {
        if let Some(interval) = self.packet_interval.filter(|&n| n > 0) {
            // PSAMP systematic count-based: `interval` selected out of every
            // `interval + space` packets.
            let space = self.packet_space.unwrap_or(0);
            return Some(interval.saturating_add(space).div_ceil(interval));
        }
        self.interval.or(self.random_interval).filter(|&n| n > 0)
    }
}

/// One exporter: an address with a NetFlow v9 source id or an IPFIX
/// observation domain (or a NetFlow v5 address), with its templates.
type ScopeKey = (SocketAddr, u16, u32);

/// What is kept per exporter: its parser (templates), the template ids it
/// announced, their compiled forms for the fast path, its sampling rates.
struct Scope {
    parser: NetflowParser,
    known: HashSet<u16>,
    compiled: HashMap<u16, CompiledTemplate>,
    samplers: SamplerTable,
    last_seen: u64,
}

/// At most this many sampler ids are remembered per exporter (options data).
const MAX_SAMPLERS_PER_EXPORTER: usize = 1024;

/// The version and source id or observation domain of a NetFlow datagram,
/// `None` when its header is too short to say.
fn scope_of(datagram: &[u8]) -> Option<(u16, u32)> {
    let be32 = |at: usize| {
        datagram
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match datagram {
        [0, 5, ..] => Some((5, 0)),
        [0, 9, ..] => Some((9, be32(16)?)),
        [0, 10, ..] => Some((10, be32(12)?)),
        _ => None,
    }
}

impl FlowDecoder {
    /// A decoder with the default limits ([`FlowLimits::default`]).
    pub fn new() -> Self {
        FlowDecoder {
            scopes: HashMap::new(),
            health: BTreeMap::new(),
            other_exporters: ExporterHealth::default(),
            limits: FlowLimits::default(),
            limit_stats: LimitStats::default(),
            notices: Notices::default(),
            max_sampling_rate: DEFAULT_MAX_SAMPLING_RATE,
            log: RateLimitedLog::new(Duration::from_secs(60), 5),
            fast_path: true,
            fast_datagrams: 0,
            clock: 0,
        }
    }

    /// Sends every datagram through `netflow_parser` (tests compare both paths).
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    /// Records with a sampling rate above `max` are dropped and counted.
    pub fn with_max_sampling_rate(mut self, max: u32) -> Self {
        self.max_sampling_rate = max.max(1);
        self
    }

    /// Replaces the limits (exporters, templates, fields, allowed
    /// exporters); templates learnt so far are forgotten.
    pub fn with_limits(mut self, limits: FlowLimits) -> Self {
        self.set_limits(limits);
        self
    }

    /// Replaces the limits in place; templates learnt so far are forgotten.
    pub fn set_limits(&mut self, limits: FlowLimits) {
        self.limits = limits.sane();
        self.scopes.clear();
    }

    /// The limits in force.
    pub fn limits(&self) -> &FlowLimits {
        &self.limits
    }

    /// Silences warnings (counts are still kept in [`FlowDecoder::health`]
    /// and [`FlowDecoder::limit_stats`]).
    pub fn quiet(mut self) -> Self {
        self.log = RateLimitedLog::quiet();
        self.notices = Notices::quiet();
        self
    }

    /// Whether warnings are silenced.
    pub fn is_quiet(&self) -> bool {
        self.notices.is_quiet()
    }

    /// Datagrams decoded by the fast path (data sets with known templates).
    pub fn fast_path_datagrams(&self) -> u64 {
        self.fast_datagrams
    }

    /// Per-exporter health, by exporter address (at most
    /// [`FlowLimits::max_exporters`] addresses; see [`FlowDecoder::other_exporters`]).
    pub fn health(&self) -> &BTreeMap<SocketAddr, ExporterHealth> {
        &self.health
    }

    /// The summed health of the addresses past the health cap.
    pub fn other_exporters(&self) -> &ExporterHealth {
        &self.other_exporters
    }

    /// What the limits refused or dropped so far.
    pub fn limit_stats(&self) -> LimitStats {
        self.limit_stats
    }

    /// The log lines the limits wrote (one per limit reached, the first time).
    pub fn limit_notices(&self) -> &[String] {
        self.notices.lines()
    }

    /// Exporters (address and source id or observation domain) whose
    /// templates are kept now.
    pub fn exporters_kept(&self) -> usize {
        self.scopes.len()
    }

    /// Template ids kept now, all exporters together (each at most
    /// [`FlowLimits::max_templates_per_exporter`]).
    pub fn templates_kept(&self) -> usize {
        self.scopes.values().map(|s| s.known.len()).sum()
    }

    /// The most template ids one exporter has now.
    pub fn most_templates_per_exporter(&self) -> usize {
        self.scopes
            .values()
            .map(|s| s.known.len())
            .max()
            .unwrap_or(0)
    }

    /// Decodes one datagram received from `exporter` at `received_at`,
    /// appending its records to `out`. Never panics on bad input: errors
    /// are counted in the exporter's health and logged with rate limiting.
    /// A datagram from an address the limits do not allow is counted in
    /// [`LimitStats::refused_datagrams`] and dropped unread.
    pub fn decode(
        &mut self,
        exporter: SocketAddr,
        received_at: UnixSecs,
        datagram: &[u8],
        out: &mut Vec<FlowRecord>,
    ) -> DatagramOutcome {
        if !self.limits.allows(exporter.ip()) {
            self.limit_stats.refused_datagrams += 1;
            let ip = exporter.ip();
            self.notices.once(Limit::Allowed, || {
                format!(
                    "datagrams from {ip} and other exporters outside the allowed ones are dropped"
                )
            });
            return DatagramOutcome::default();
        }
        self.clock += 1;
        let before = out.len();
        let mut outcome = DatagramOutcome::default();
        let error = if datagram.starts_with(&[0, 0, 0, 5]) {
            self.decode_sflow(datagram, out, &mut outcome).err()
        } else {
            match datagram {
                [0, 5, ..] | [0, 9, ..] | [0, 10, ..] => {
                    self.decode_netflow(exporter, datagram, out, &mut outcome)
                }
                [a, b, ..] => Some(format!(
                    "not NetFlow v5/v9, IPFIX or sFlow v5 (first bytes {a:#04x} {b:#04x}); check what is sent to this port"
                )),
                _ => Some(format!("datagram of {} bytes is too short", datagram.len())),
            }
        };
        outcome.records = (out.len() - before) as u64;
        outcome.decode_error = error.is_some();

        let tracked =
            self.health.contains_key(&exporter) || self.health.len() < self.limits.max_exporters;
        if !tracked {
            self.limit_stats.untracked_datagrams += 1;
            self.other_exporters.record(received_at, &outcome);
            if let Some(message) = error {
                self.other_exporters.last_error = Some(message);
            }
            let max = self.limits.max_exporters;
            self.notices.once(Limit::Health, || {
                format!("health is kept for {max} exporter addresses; {exporter} and later ones are summed as other exporters")
            });
            return outcome;
        }
        let health = self.health.entry(exporter).or_default();
        health.record(received_at, &outcome);
        if let Some(message) = &error {
            health.last_error = Some(message.clone());
            let len = datagram.len();
            self.log.warn(exporter, || {
                format!("bad datagram ({len} bytes): {message}")
            });
        }
        if outcome.template_misses > 0 {
            let misses = outcome.template_misses;
            self.log.warn(exporter, || {
                format!("{misses} data set(s) arrived before their template; skipped (counted as template misses)")
            });
        }
        if outcome.bad_sampling_rate > 0 {
            let n = outcome.bad_sampling_rate;
            let max = self.max_sampling_rate;
            self.log.warn(exporter, || {
                format!("{n} record(s) with a sampling rate above {max} dropped")
            });
        }
        outcome
    }

    /// The exporter's scope, created (forgetting the least recently heard
    /// exporter at the cap) when new.
    fn scope_mut(&mut self, key: ScopeKey) -> &mut Scope {
        if !self.scopes.contains_key(&key) && self.scopes.len() >= self.limits.max_exporters {
            let oldest = self
                .scopes
                .iter()
                .min_by_key(|(k, s)| (s.last_seen, **k))
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.scopes.remove(&oldest);
                self.limit_stats.evicted_exporters += 1;
                let max = self.limits.max_exporters;
                self.notices.once(Limit::Exporters, || {
                    format!("templates are kept for {max} exporters (address and source id or observation domain); the one heard from least recently is forgotten for each new one")
                });
            }
        }
        let limits = &self.limits;
        let clock = self.clock;
        let scope = self.scopes.entry(key).or_insert_with(|| {
            let parser = NetflowParser::builder()
                .with_cache_size(limits.max_templates_per_exporter)
                .with_max_field_count(limits.max_fields_per_template)
                .build()
                .unwrap_or_default();
            Scope {
                parser,
                known: HashSet::new(),
                compiled: HashMap::new(),
                samplers: SamplerTable::default(),
                last_seen: clock,
            }
        });
        scope.last_seen = clock;
        scope
    }

    fn decode_netflow(
        &mut self,
        exporter: SocketAddr,
        datagram: &[u8],
        out: &mut Vec<FlowRecord>,
        outcome: &mut DatagramOutcome,
    ) -> Option<String> {
        if self.fast_path && self.decode_fast(exporter, datagram, out, outcome) {
            return None;
        }
        let Some((version, domain)) = scope_of(datagram) else {
            return Some(format!(
                "datagram of {} bytes is too short for its NetFlow/IPFIX header",
                datagram.len()
            ));
        };
        let max_rate = self.max_sampling_rate;
        let (max_templates, max_fields) = (
            self.limits.max_templates_per_exporter,
            self.limits.max_fields_per_template,
        );
        let scope = self.scope_mut((exporter, version, domain));
        let gate = gate_templates(datagram, &mut scope.known, max_templates, max_fields);
        if gate.clear.is_some() {
            scope.parser.clear_v9_templates();
            scope.parser.clear_ipfix_templates();
            scope.compiled.clear();
        }
        let data = gate.rewritten.as_deref().unwrap_or(datagram);
        let result = scope.parser.parse_bytes(data);
        learn_templates(scope, domain, &result.packets);
        for packet in &result.packets {
            records_of(packet, scope, max_rate, out, outcome);
        }
        self.limit_stats.evicted_templates += gate.clear.unwrap_or(0);
        self.limit_stats.oversized_templates += gate.oversized;
        self.limit_stats.templates_over_cap += gate.over_cap;
        if gate.oversized > 0 {
            self.notices.once(Limit::Fields, || {
                format!(
                    "templates with more than {max_fields} fields are dropped (from {exporter})"
                )
            });
        }
        if gate.clear.is_some() {
            self.notices.once(Limit::Templates, || {
                format!("exporters keep at most {max_templates} templates; {exporter} announced more, its templates are learnt afresh")
            });
        }
        result.error.map(|e| e.to_string())
    }

    /// Decodes a datagram of data sets with compiled templates only;
    /// `false` (nothing done) sends it to the parser.
    fn decode_fast(
        &mut self,
        exporter: SocketAddr,
        datagram: &[u8],
        out: &mut Vec<FlowRecord>,
        outcome: &mut DatagramOutcome,
    ) -> bool {
        let Some(version) = datagram.get(1).map(|&v| u16::from(v)) else {
            return false;
        };
        let Some((domain, sets)) = data_sets(datagram) else {
            return false;
        };
        let Some(scope) = self.scopes.get_mut(&(exporter, version, domain)) else {
            return false;
        };
        if !sets.iter().all(|(id, _)| scope.compiled.contains_key(id)) {
            return false;
        }
        scope.last_seen = self.clock;
        let protocol = if version == 9 {
            ExportProtocol::NetflowV9
        } else {
            ExportProtocol::Ipfix
        };
        for (id, body) in sets {
            let Some(template) = scope.compiled.get(&id) else {
                continue;
            };
            let len = template.record_len();
            for record in body.chunks_exact(len) {
                let fields = template.read(record);
                push_fields(
                    &scope.samplers,
                    self.max_sampling_rate,
                    fields,
                    protocol,
                    out,
                    outcome,
                );
            }
        }
        self.fast_datagrams += 1;
        true
    }

    fn decode_sflow(
        &mut self,
        datagram: &[u8],
        out: &mut Vec<FlowRecord>,
        outcome: &mut DatagramOutcome,
    ) -> Result<(), String> {
        let parsed = sflow_parser::parse_datagram(datagram).map_err(|e| format!("sFlow: {e}"))?;
        for sample in &parsed.samples {
            let (rate, records) = match &sample.sample_data {
                SampleData::FlowSample(s) => (s.sampling_rate, &s.flow_records),
                SampleData::FlowSampleExpanded(s) => (s.sampling_rate, &s.flow_records),
                _ => continue,
            };
            // One sample describes one packet; it is enough to read the first
            // record that gives addresses.
            let mut found = None;
            for record in records {
                found = match &record.flow_data {
                    FlowData::SampledHeader(h) => {
                        let sliced = match h.protocol {
                            HeaderProtocol::EthernetIso88023 => {
                                LaxSlicedPacket::from_ethernet(&h.header).ok()
                            }
                            HeaderProtocol::Ipv4 | HeaderProtocol::Ipv6 => {
                                LaxSlicedPacket::from_ip(&h.header).ok()
                            }
                            _ => None,
                        };
                        sliced.and_then(|p| ip_summary(&p))
                    }
                    FlowData::SampledIpv4(r) => Some((
                        IpAddr::V4(r.src_ip),
                        IpAddr::V4(r.dst_ip),
                        u64::from(r.length),
                    )),
                    FlowData::SampledIpv6(r) => Some((
                        IpAddr::V6(r.src_ip),
                        IpAddr::V6(r.dst_ip),
                        u64::from(r.length),
                    )),
                    _ => None,
                };
                if found.is_some() {
                    break;
                }
            }
            let Some((src, dst, bytes)) = found else {
                outcome.records_without_addresses += 1;
                continue;
            };
            let record = FlowRecord {
                src,
                dst,
                bytes,
                packets: 1,
                is_flow: false,
                sampling_rate: 1,
                protocol: ExportProtocol::Sflow,
            };
            push(
                out,
                outcome,
                record,
                u64::from(rate.max(1)),
                self.max_sampling_rate,
            );
        }
        Ok(())
    }
}

/// Appends the records of one decoded packet, applying sampling rates from
/// the record, the exporter's options data or the v5 header.
fn records_of(
    packet: &NetflowPacket,
    scope: &mut Scope,
    max_rate: u32,
    out: &mut Vec<FlowRecord>,
    outcome: &mut DatagramOutcome,
) {
    match packet {
        NetflowPacket::V5(v5) => {
            // Top two bits: sampling mode; low 14: the interval.
            let interval = u32::from(v5.header.sampling_interval & 0x3fff);
            let rate = interval.max(1);
            for flow in &v5.flowsets {
                push(
                    out,
                    outcome,
                    FlowRecord {
                        src: IpAddr::V4(flow.src_addr),
                        dst: IpAddr::V4(flow.dst_addr),
                        bytes: u64::from(flow.d_octets),
                        packets: u64::from(flow.d_pkts),
                        is_flow: true,
                        sampling_rate: 1,
                        protocol: ExportProtocol::NetflowV5,
                    },
                    u64::from(rate),
                    max_rate,
                );
            }
        }
        NetflowPacket::V9(v9) => {
            // Options first, so a rate announced in this datagram applies to it.
            for set in &v9.flowsets {
                if let V9Body::OptionsData(options) = &set.body {
                    for record in &options.fields {
                        let mut fields = RecordFields::default();
                        for (field, value) in &record.options_fields {
                            fields.set(role_of_v9(field), value);
                        }
                        learn_sampler(&mut scope.samplers, &fields);
                    }
                }
            }
            for set in &v9.flowsets {
                match &set.body {
                    V9Body::Data(data) => {
                        for record in &data.fields {
                            let mut fields = RecordFields::default();
                            for (field, value) in record {
                                fields.set(role_of_v9(field), value);
                            }
                            push_fields(
                                &scope.samplers,
                                max_rate,
                                fields,
                                ExportProtocol::NetflowV9,
                                out,
                                outcome,
                            );
                        }
                    }
                    V9Body::NoTemplate(_) => outcome.template_misses += 1,
                    _ => {}
                }
            }
        }
        NetflowPacket::IPFix(ipfix) => {
            for set in &ipfix.flowsets {
                match &set.body {
                    IpfixBody::OptionsData(options) => {
                        for record in &options.fields {
                            let mut fields = RecordFields::default();
                            for (field, value) in record {
                                fields.set(role_of_ipfix(field), value);
                            }
                            learn_sampler(&mut scope.samplers, &fields);
                        }
                    }
                    IpfixBody::V9OptionsData(options) => {
                        for record in &options.fields {
                            let mut fields = RecordFields::default();
                            for (field, value) in &record.options_fields {
                                fields.set(role_of_v9(field), value);
                            }
                            learn_sampler(&mut scope.samplers, &fields);
                        }
                    }
                    _ => {}
                }
            }
            for set in &ipfix.flowsets {
                match &set.body {
                    IpfixBody::Data(data) => {
                        for record in &data.fields {
                            let mut fields = RecordFields::default();
                            for (field, value) in record {
                                fields.set(role_of_ipfix(field), value);
                            }
                            push_fields(
                                &scope.samplers,
                                max_rate,
                                fields,
                                ExportProtocol::Ipfix,
                                out,
                                outcome,
                            );
                        }
                    }
                    IpfixBody::V9Data(data) => {
                        for record in &data.fields {
                            let mut fields = RecordFields::default();
                            for (field, value) in record {
                                fields.set(role_of_v9(field), value);
                            }
                            push_fields(
                                &scope.samplers,
                                max_rate,
                                fields,
                                ExportProtocol::Ipfix,
                                out,
                                outcome,
                            );
                        }
                    }
                    IpfixBody::NoTemplate(_) => outcome.template_misses += 1,
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Compiles the data templates the parser just decoded for the fast path;
/// forgets ids redefined as options templates or withdrawn. Only messages
/// of the scope's own domain count (the fast path reads single messages).
fn learn_templates(scope: &mut Scope, domain: u32, packets: &[NetflowPacket]) {
    let mut store = |id: u16, compiled: Option<CompiledTemplate>| match compiled {
        Some(t) => {
            scope.compiled.insert(id, t);
        }
        None => {
            scope.compiled.remove(&id);
        }
    };
    for packet in packets {
        match packet {
            NetflowPacket::V9(v9) if v9.header.source_id == domain => {
                for set in &v9.flowsets {
                    match &set.body {
                        V9Body::Template(t) => {
                            for t in &t.templates {
                                let fields = t
                                    .fields
                                    .iter()
                                    .map(|f| (f.field_type_number, None, f.field_length));
                                store(t.template_id, CompiledTemplate::compile(fields));
                            }
                        }
                        V9Body::OptionsTemplate(t) => {
                            for t in &t.templates {
                                store(t.template_id, None);
                            }
                        }
                        _ => {}
                    }
                }
            }
            NetflowPacket::IPFix(ipfix) if ipfix.header.observation_domain_id == domain => {
                for set in &ipfix.flowsets {
                    let templates: Vec<&netflow_parser::variable_versions::ipfix::Template> =
                        match &set.body {
                            IpfixBody::Template(t) => vec![t],
                            IpfixBody::Templates(ts) => ts.iter().collect(),
                            IpfixBody::OptionsTemplate(t) => {
                                store(t.template_id, None);
                                continue;
                            }
                            IpfixBody::OptionsTemplates(ts) => {
                                for t in ts {
                                    store(t.template_id, None);
                                }
                                continue;
                            }
                            IpfixBody::V9Template(t) => {
                                store(t.template_id, None);
                                continue;
                            }
                            IpfixBody::V9Templates(ts) => {
                                for t in ts {
                                    store(t.template_id, None);
                                }
                                continue;
                            }
                            _ => continue,
                        };
                    for t in templates {
                        let fields = t
                            .fields
                            .iter()
                            .map(|f| (f.field_type_number, f.enterprise_number, f.field_length));
                        store(t.template_id, CompiledTemplate::compile(fields));
                    }
                }
            }
            _ => {}
        }
    }
}

fn learn_sampler(table: &mut SamplerTable, fields: &RecordFields) {
    let Some(rate) = fields.own_rate() else {
        return;
    };
    let rate = u32::try_from(rate).unwrap_or(u32::MAX);
    match fields.sampler_id {
        Some(id) => {
            let room = table.by_sampler_id.len() < MAX_SAMPLERS_PER_EXPORTER;
            if room || table.by_sampler_id.contains_key(&id) {
                table.by_sampler_id.insert(id, rate);
            }
        }
        None => table.default_rate = Some(rate),
    }
}

fn push_fields(
    table: &SamplerTable,
    max_rate: u32,
    fields: RecordFields,
    protocol: ExportProtocol,
    out: &mut Vec<FlowRecord>,
    outcome: &mut DatagramOutcome,
) {
    let (Some(src), Some(dst)) = (fields.src, fields.dst) else {
        outcome.records_without_addresses += 1;
        return;
    };
    let rate = fields
        .own_rate()
        .or_else(|| {
            let id = fields.sampler_id?;
            table.by_sampler_id.get(&id).map(|&r| u64::from(r))
        })
        .or_else(|| table.default_rate.map(u64::from))
        .unwrap_or(1);
    let record = FlowRecord {
        src,
        dst,
        bytes: fields.bytes.or(fields.post_bytes).unwrap_or(0),
        packets: fields.packets.or(fields.post_packets).unwrap_or(0),
        is_flow: true,
        sampling_rate: 1,
        protocol,
    };
    push(out, outcome, record, rate, max_rate);
}

fn push(
    out: &mut Vec<FlowRecord>,
    outcome: &mut DatagramOutcome,
    mut record: FlowRecord,
    rate: u64,
    max_rate: u32,
) {
    match u32::try_from(rate) {
        Ok(rate) if rate <= max_rate => {
            record.sampling_rate = rate.max(1);
            out.push(record);
        }
        _ => outcome.bad_sampling_rate += 1,
    }
}

/// Source, destination and layer-3 length of a (possibly truncated) packet.
fn ip_summary(packet: &LaxSlicedPacket<'_>) -> Option<(IpAddr, IpAddr, u64)> {
    match packet.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            Some((
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                u64::from(h.total_len()),
            ))
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            Some((
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                40 + u64::from(h.payload_length()),
            ))
        }
        LaxNetSlice::Arp(_) => None,
    }
}
