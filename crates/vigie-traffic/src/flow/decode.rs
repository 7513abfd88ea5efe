//! Turns export datagrams (NetFlow v5/v9, IPFIX, sFlow v5) into
//! [`FlowRecord`]s, keeping templates and sampling rates per exporter and
//! observation domain, and counting everything it cannot use.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{LaxNetSlice, LaxSlicedPacket};
use netflow_parser::variable_versions::ipfix::lookup::IANAIPFixField;
use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{
    AutoScopedParser, FieldValue, IpfixField as IPFixField, NetflowPacket, V9Field,
};
use sflow_parser::models::core::FlowData;
use sflow_parser::models::record_flows::HeaderProtocol;
use sflow_parser::SampleData;
use vigie_model::UnixSecs;

use super::fastpath::{data_sets, CompiledTemplate, RawRecord};
use super::health::{DatagramOutcome, ExporterHealth};
use crate::ratelog::RateLimitedLog;

/// Sampling rates above this are treated as corrupt by default: the record
/// is dropped and counted, never scaled by an absurd factor.
pub const DEFAULT_MAX_SAMPLING_RATE: u32 = 1_000_000;

/// At most this many compiled templates are kept for the fast path (all
/// exporters together); past it they are dropped and learnt again.
pub const MAX_COMPILED_TEMPLATES: usize = 65_536;

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
/// Templates live in `netflow_parser`'s [`AutoScopedParser`], scoped per
/// exporter address and source id (v9) or observation domain (IPFIX).
/// Sampling rates come, in this order, from the record itself (fields 34,
/// 50, 305/306), from options data keyed by the record's sampler/selector id
/// (fields 48, 302), from options data without a sampler id (the exporter's
/// rate), from the NetFlow v5 header, or from the sFlow sample. Without any,
/// the rate is 1.
pub struct FlowDecoder {
    netflow: AutoScopedParser,
    samplers: HashMap<(SocketAddr, u32), SamplerTable>,
    health: BTreeMap<SocketAddr, ExporterHealth>,
    max_sampling_rate: u32,
    log: RateLimitedLog<SocketAddr>,
    /// Data templates seen by the parser, compiled for the fast path, by
    /// (exporter, version, source id or observation domain, template id).
    compiled: HashMap<(SocketAddr, u16, u32, u16), CompiledTemplate>,
    fast_path: bool,
    fast_datagrams: u64,
}

impl std::fmt::Debug for FlowDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowDecoder")
            .field("exporters", &self.health.len())
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

impl FlowDecoder {
    /// A decoder with the default limits.
    pub fn new() -> Self {
        FlowDecoder {
            netflow: AutoScopedParser::new(),
            samplers: HashMap::new(),
            health: BTreeMap::new(),
            max_sampling_rate: DEFAULT_MAX_SAMPLING_RATE,
            log: RateLimitedLog::new(Duration::from_secs(60), 5),
            compiled: HashMap::new(),
            fast_path: true,
            fast_datagrams: 0,
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

    /// Silences warnings (counts are still kept in [`FlowDecoder::health`]).
    pub fn quiet(mut self) -> Self {
        self.log = RateLimitedLog::quiet();
        self
    }

    /// Datagrams decoded by the fast path (data sets with known templates).
    pub fn fast_path_datagrams(&self) -> u64 {
        self.fast_datagrams
    }

    /// Per-exporter health, by exporter address.
    pub fn health(&self) -> &BTreeMap<SocketAddr, ExporterHealth> {
        &self.health
    }

    /// Decodes one datagram received from `exporter` at `received_at`,
    /// appending its records to `out`. Never panics on bad input: errors
    /// are counted in the exporter's health and logged with rate limiting.
    pub fn decode(
        &mut self,
        exporter: SocketAddr,
        received_at: UnixSecs,
        datagram: &[u8],
        out: &mut Vec<FlowRecord>,
    ) -> DatagramOutcome {
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
        let version = if datagram.get(1) == Some(&9) { 9 } else { 10 };
        let result = self.netflow.parse_from_source(exporter, datagram);
        self.learn_templates(exporter, version, &result.packets);
        for packet in &result.packets {
            match packet {
                NetflowPacket::V5(v5) => {
                    // Top two bits: sampling mode; low 14: the interval.
                    let interval = u32::from(v5.header.sampling_interval & 0x3fff);
                    let rate = interval.max(1);
                    for flow in &v5.flowsets {
                        self.push(
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
                        );
                    }
                }
                NetflowPacket::V9(v9) => {
                    let scope = (exporter, v9.header.source_id);
                    // Options first, so a rate announced in this datagram applies to it.
                    for set in &v9.flowsets {
                        if let V9Body::OptionsData(options) = &set.body {
                            for record in &options.fields {
                                let mut fields = RecordFields::default();
                                for (field, value) in &record.options_fields {
                                    fields.set(role_of_v9(field), value);
                                }
                                self.learn_sampler(scope, &fields);
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
                                    self.push_fields(
                                        scope,
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
                    let scope = (exporter, ipfix.header.observation_domain_id);
                    for set in &ipfix.flowsets {
                        match &set.body {
                            IpfixBody::OptionsData(options) => {
                                for record in &options.fields {
                                    let mut fields = RecordFields::default();
                                    for (field, value) in record {
                                        fields.set(role_of_ipfix(field), value);
                                    }
                                    self.learn_sampler(scope, &fields);
                                }
                            }
                            IpfixBody::V9OptionsData(options) => {
                                for record in &options.fields {
                                    let mut fields = RecordFields::default();
                                    for (field, value) in &record.options_fields {
                                        fields.set(role_of_v9(field), value);
                                    }
                                    self.learn_sampler(scope, &fields);
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
                                    self.push_fields(
                                        scope,
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
                                    self.push_fields(
                                        scope,
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
        let all_known = sets.iter().all(|(id, _)| {
            self.compiled
                .contains_key(&(exporter, version, domain, *id))
        });
        if !all_known {
            return false;
        }
        let protocol = if version == 9 {
            ExportProtocol::NetflowV9
        } else {
            ExportProtocol::Ipfix
        };
        for (id, body) in sets {
            let Some(template) = self.compiled.get(&(exporter, version, domain, id)) else {
                continue;
            };
            let len = template.record_len();
            let records: Vec<RawRecord> =
                body.chunks_exact(len).map(|r| template.read(r)).collect();
            for fields in records {
                self.push_fields((exporter, domain), fields, protocol, out, outcome);
            }
        }
        self.fast_datagrams += 1;
        true
    }

    /// Compiles the data templates the parser just decoded; forgets ids
    /// redefined as options templates or withdrawn.
    fn learn_templates(&mut self, exporter: SocketAddr, version: u16, packets: &[NetflowPacket]) {
        for packet in packets {
            match packet {
                NetflowPacket::V9(v9) => {
                    let domain = v9.header.source_id;
                    for set in &v9.flowsets {
                        match &set.body {
                            V9Body::Template(t) => {
                                for t in &t.templates {
                                    let fields = t
                                        .fields
                                        .iter()
                                        .map(|f| (f.field_type_number, None, f.field_length));
                                    self.store_template(
                                        (exporter, version, domain, t.template_id),
                                        CompiledTemplate::compile(fields),
                                    );
                                }
                            }
                            V9Body::OptionsTemplate(t) => {
                                for t in &t.templates {
                                    self.forget_template((
                                        exporter,
                                        version,
                                        domain,
                                        t.template_id,
                                    ));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                NetflowPacket::IPFix(ipfix) => {
                    let domain = ipfix.header.observation_domain_id;
                    for set in &ipfix.flowsets {
                        let templates: Vec<&netflow_parser::variable_versions::ipfix::Template> =
                            match &set.body {
                                IpfixBody::Template(t) => vec![t],
                                IpfixBody::Templates(ts) => ts.iter().collect(),
                                IpfixBody::OptionsTemplate(t) => {
                                    self.forget_template((
                                        exporter,
                                        version,
                                        domain,
                                        t.template_id,
                                    ));
                                    continue;
                                }
                                IpfixBody::OptionsTemplates(ts) => {
                                    for t in ts {
                                        self.forget_template((
                                            exporter,
                                            version,
                                            domain,
                                            t.template_id,
                                        ));
                                    }
                                    continue;
                                }
                                IpfixBody::V9Template(t) => {
                                    self.forget_template((
                                        exporter,
                                        version,
                                        domain,
                                        t.template_id,
                                    ));
                                    continue;
                                }
                                IpfixBody::V9Templates(ts) => {
                                    for t in ts {
                                        self.forget_template((
                                            exporter,
                                            version,
                                            domain,
                                            t.template_id,
                                        ));
                                    }
                                    continue;
                                }
                                _ => continue,
                            };
                        for t in templates {
                            let fields = t.fields.iter().map(|f| {
                                (f.field_type_number, f.enterprise_number, f.field_length)
                            });
                            self.store_template(
                                (exporter, version, domain, t.template_id),
                                CompiledTemplate::compile(fields),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn store_template(
        &mut self,
        key: (SocketAddr, u16, u32, u16),
        compiled: Option<CompiledTemplate>,
    ) {
        match compiled {
            Some(t) => {
                // Bounded: a flood of spoofed exporters only costs speed.
                if self.compiled.len() >= MAX_COMPILED_TEMPLATES {
                    self.compiled.clear();
                }
                self.compiled.insert(key, t);
            }
            None => self.forget_template(key),
        }
    }

    /// Drops a compiled template: the id was redefined as an options
    /// template, withdrawn, or is not compilable.
    fn forget_template(&mut self, key: (SocketAddr, u16, u32, u16)) {
        self.compiled.remove(&key);
    }

    fn learn_sampler(&mut self, scope: (SocketAddr, u32), fields: &RecordFields) {
        let Some(rate) = fields.own_rate() else {
            return;
        };
        let rate = u32::try_from(rate).unwrap_or(u32::MAX);
        let table = self.samplers.entry(scope).or_default();
        match fields.sampler_id {
            Some(id) => {
                table.by_sampler_id.insert(id, rate);
            }
            None => table.default_rate = Some(rate),
        }
    }

    fn push_fields(
        &mut self,
        scope: (SocketAddr, u32),
        fields: RecordFields,
        protocol: ExportProtocol,
        out: &mut Vec<FlowRecord>,
        outcome: &mut DatagramOutcome,
    ) {
        let (Some(src), Some(dst)) = (fields.src, fields.dst) else {
            outcome.records_without_addresses += 1;
            return;
        };
        let table = self.samplers.get(&scope);
        let rate = fields
            .own_rate()
            .or_else(|| {
                let id = fields.sampler_id?;
                table?.by_sampler_id.get(&id).map(|&r| u64::from(r))
            })
            .or_else(|| table?.default_rate.map(u64::from))
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
        self.push(out, outcome, record, rate);
    }

    fn push(
        &self,
        out: &mut Vec<FlowRecord>,
        outcome: &mut DatagramOutcome,
        mut record: FlowRecord,
        rate: u64,
    ) {
        match u32::try_from(rate) {
            Ok(rate) if rate <= self.max_sampling_rate => {
                record.sampling_rate = rate.max(1);
                out.push(record);
            }
            _ => outcome.bad_sampling_rate += 1,
        }
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
            self.push(out, outcome, record, u64::from(rate.max(1)));
        }
        Ok(())
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
