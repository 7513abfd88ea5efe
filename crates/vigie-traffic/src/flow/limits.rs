//! The collector's limits: what one UDP socket may make it keep.
//!
//! Export datagrams are unauthenticated UDP: anyone who can reach the port
//! can announce templates, invent source ids and spoof exporter addresses.
//! [`FlowLimits`] bounds what the decoder keeps and what the aggregator
//! adds, whatever arrives:
//! - **exporters** (an address with a v9 source id or IPFIX observation
//!   domain, each with its own templates): at most
//!   [`FlowLimits::max_exporters`]; past it the one heard from least
//!   recently is forgotten (its templates, sampling rates). Per-exporter
//!   health is kept for as many addresses; datagrams from further addresses
//!   are summed into one "other exporters" entry;
//! - **templates per exporter**: at most
//!   [`FlowLimits::max_templates_per_exporter`] template ids (data and
//!   options together). A datagram bringing new ids past the cap makes the
//!   exporter's templates be forgotten and learnt again from this datagram
//!   (an exporter re-sends its templates periodically, so a real one
//!   recovers); ids past the cap in that one datagram are dropped;
//! - **fields per template**: a template with more than
//!   [`FlowLimits::max_fields_per_template`] fields is dropped before the
//!   parser sees it;
//! - **allowed exporters**: when [`FlowLimits::allowed_exporters`] is not
//!   empty, datagrams from other addresses are counted and dropped unread;
//! - **plausible values**: one exporter cannot carry more than
//!   [`FlowLimits::max_link_bits_per_second`] through a bin; a record that
//!   would take an exporter's bytes (or packets, at 20 bytes each) in a bin
//!   past that is counted as implausible and not added (bit flips and
//!   corrupt counters, not traffic).
//!
//! Each limit is counted in [`LimitStats`] and logged once, the first time
//! it is reached (not once per exporter).
//!
//! Memory is bounded by `max_exporters × max_templates_per_exporter ×
//! max_fields_per_template` template fields (about 100 MB at the
//! defaults, in the worst case of every template at the field cap).

use std::collections::HashSet;

use ipnet::IpNet;

/// Default [`FlowLimits::max_exporters`]: 1,024 exporters (address and
/// source id or observation domain), more than a large network's routers.
pub const DEFAULT_MAX_EXPORTERS: usize = 1024;

/// Default [`FlowLimits::max_templates_per_exporter`]: 64 template ids;
/// routers use a handful (IPv4, IPv6, options), line cards one source id each.
pub const DEFAULT_MAX_TEMPLATES_PER_EXPORTER: usize = 64;

/// Default [`FlowLimits::max_fields_per_template`]: 128 fields; real
/// templates have 10 to 60.
pub const DEFAULT_MAX_FIELDS_PER_TEMPLATE: usize = 128;

/// Default [`FlowLimits::max_link_bits_per_second`]: 400 Gbit/s, the
/// fastest single link in service; in 5-minute bins, 15 TB per exporter.
pub const DEFAULT_MAX_LINK_BITS_PER_SECOND: u64 = 400_000_000_000;

/// What the flow collector keeps and accepts at most (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowLimits {
    /// Exporter addresses or prefixes accepted; empty accepts every address.
    pub allowed_exporters: Vec<IpNet>,
    /// Exporters (address and source id or observation domain) whose
    /// templates are kept, and addresses whose health is kept apart.
    pub max_exporters: usize,
    /// Template ids kept per exporter (data and options templates together).
    pub max_templates_per_exporter: usize,
    /// Fields a template may have.
    pub max_fields_per_template: usize,
    /// The fastest an exporter's traffic can be, in bits per second
    /// (averaged over a bin); more is implausible.
    pub max_link_bits_per_second: u64,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            allowed_exporters: Vec::new(),
            max_exporters: DEFAULT_MAX_EXPORTERS,
            max_templates_per_exporter: DEFAULT_MAX_TEMPLATES_PER_EXPORTER,
            max_fields_per_template: DEFAULT_MAX_FIELDS_PER_TEMPLATE,
            max_link_bits_per_second: DEFAULT_MAX_LINK_BITS_PER_SECOND,
        }
    }
}

impl FlowLimits {
    /// Whether datagrams from `ip` are accepted.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed_exporters.is_empty() || self.allowed_exporters.iter().any(|n| n.contains(&ip))
    }

    /// The most bytes one exporter may account for in a bin of `bin_secs`.
    pub fn max_bytes_per_bin(&self, bin_secs: u32) -> u64 {
        (self.max_link_bits_per_second / 8).saturating_mul(u64::from(bin_secs))
    }

    /// The caps, at least 1 each.
    pub(crate) fn sane(mut self) -> Self {
        self.max_exporters = self.max_exporters.max(1);
        self.max_templates_per_exporter = self.max_templates_per_exporter.max(1);
        self.max_fields_per_template = self.max_fields_per_template.max(1);
        self.max_link_bits_per_second = self.max_link_bits_per_second.max(1);
        self
    }
}

/// What the limits refused or dropped since the decoder started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitStats {
    /// Datagrams from addresses outside [`FlowLimits::allowed_exporters`] (dropped).
    pub refused_datagrams: u64,
    /// Exporters forgotten (with their templates) to make room for a new one.
    pub evicted_exporters: u64,
    /// Templates forgotten because their exporter announced more ids than its cap.
    pub evicted_templates: u64,
    /// Templates dropped from a datagram that alone brought more ids than the cap.
    pub templates_over_cap: u64,
    /// Templates dropped for having more fields than the cap.
    pub oversized_templates: u64,
    /// Datagrams from addresses past the health cap, summed in "other exporters".
    pub untracked_datagrams: u64,
}

/// Which limit a notice is about (one log line each, the first time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Limit {
    Allowed,
    Exporters,
    Templates,
    Fields,
    Health,
    Implausible,
}

/// The one-time log lines of the limits.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    seen: HashSet<Limit>,
    lines: Vec<String>,
    quiet: bool,
}

impl Notices {
    pub(crate) fn quiet() -> Self {
        Notices {
            quiet: true,
            ..Notices::default()
        }
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Logs `message` if `limit` has not been logged yet.
    pub(crate) fn once(&mut self, limit: Limit, message: impl FnOnce() -> String) {
        if self.seen.insert(limit) {
            let line = format!(
                "vigie: flow collector: {} (counted from now on; logged once)",
                message()
            );
            if !self.quiet {
                eprintln!("{line}");
            }
            self.lines.push(line);
        }
    }

    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }
}

/// What [`gate_templates`] did to one datagram.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Gate {
    /// The datagram to parse instead, when templates were taken out.
    pub rewritten: Option<Vec<u8>>,
    /// Templates taken out for having too many fields.
    pub oversized: u64,
    /// Templates taken out for bringing ids past the cap in this one datagram.
    pub over_cap: u64,
    /// The exporter's templates must be forgotten before parsing: this
    /// datagram brings new ids past the cap. Holds how many ids it had.
    pub clear: Option<u64>,
}

/// One template record of a template set: its bytes and what it says.
struct TemplateRecord {
    start: usize,
    end: usize,
    id: u16,
    fields: usize,
    withdrawal: bool,
}

/// A set of a datagram: kept as it is, or a template set walked record by record.
enum Piece {
    Verbatim(usize, usize),
    Templates {
        set_id: u16,
        records: Vec<TemplateRecord>,
        /// Padding or an unreadable tail, kept for the parser to judge.
        rest: (usize, usize),
    },
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Walks the template records of one template set body `[start, end)`.
fn walk_templates(d: &[u8], set_id: u16, start: usize, end: usize) -> Piece {
    let mut records = Vec::new();
    let mut at = start;
    loop {
        let record = match set_id {
            // NetFlow v9 data template: id, count, count × (type, length).
            0 => (|| {
                let id = be16(d, at)?;
                let count = usize::from(be16(d, at + 2)?);
                Some((id, count, 4 + 4 * count, false))
            })(),
            // NetFlow v9 options template: id, scope bytes, option bytes.
            1 => (|| {
                let id = be16(d, at)?;
                let scope = usize::from(be16(d, at + 2)?);
                let option = usize::from(be16(d, at + 4)?);
                Some((id, (scope + option) / 4, 6 + scope + option, false))
            })(),
            // IPFIX data (2) and options (3) templates: id, count[, scope
            // count], fields of 4 bytes (8 with an enterprise number).
            _ => (|| {
                let id = be16(d, at)?;
                let count = usize::from(be16(d, at + 2)?);
                if count == 0 {
                    return Some((id, 0, 4, true));
                }
                let mut len = if set_id == 3 { 6 } else { 4 };
                for _ in 0..count {
                    let element = be16(d, at + len)?;
                    len += if element & 0x8000 != 0 { 8 } else { 4 };
                    if at + len > end {
                        return None;
                    }
                }
                Some((id, count, len, false))
            })(),
        };
        match record {
            Some((id, fields, len, withdrawal)) if at + len <= end && len >= 4 => {
                records.push(TemplateRecord {
                    start: at,
                    end: at + len,
                    id,
                    fields,
                    withdrawal,
                });
                at += len;
            }
            _ => break,
        }
    }
    Piece::Templates {
        set_id,
        records,
        rest: (at, end),
    }
}

/// Checks the templates of a NetFlow v9 or IPFIX datagram against the caps
/// before the parser sees them, given the ids the exporter already has
/// (`known`, updated). A datagram that is not v9/IPFIX, or whose lengths do
/// not add up, is left to the parser (which applies the same caps).
pub(crate) fn gate_templates(
    datagram: &[u8],
    known: &mut HashSet<u16>,
    max_templates: usize,
    max_fields: usize,
) -> Gate {
    let mut gate = Gate::default();
    let (header, end) = match be16(datagram, 0) {
        Some(9) if datagram.len() >= 20 => (20, datagram.len()),
        Some(10) if datagram.len() >= 16 => {
            let length = be16(datagram, 2).map_or(0, usize::from);
            if length < 16 || length > datagram.len() {
                return gate;
            }
            (16, length)
        }
        _ => return gate,
    };
    let template_sets: &[u16] = if datagram[1] == 9 { &[0, 1] } else { &[2, 3] };
    let mut pieces = Vec::new();
    let mut at = header;
    while at < end {
        let (Some(id), Some(len)) = (be16(datagram, at), be16(datagram, at + 2)) else {
            pieces.push(Piece::Verbatim(at, end));
            break;
        };
        let len = usize::from(len);
        if len < 4 || at + len > end {
            pieces.push(Piece::Verbatim(at, end));
            break;
        }
        if template_sets.contains(&id) {
            pieces.push(walk_templates(datagram, id, at + 4, at + len));
        } else {
            pieces.push(Piece::Verbatim(at, at + len));
        }
        at += len;
    }
    // Fields first, then ids.
    let mut keep: Vec<Vec<bool>> = Vec::new();
    let mut ids_in_order: Vec<u16> = Vec::new();
    for piece in &pieces {
        let Piece::Templates { records, .. } = piece else {
            keep.push(Vec::new());
            continue;
        };
        let mut flags = Vec::with_capacity(records.len());
        for r in records {
            let ok = r.withdrawal || r.fields <= max_fields;
            if !ok {
                gate.oversized += 1;
            } else if !r.withdrawal && !ids_in_order.contains(&r.id) {
                ids_in_order.push(r.id);
            }
            flags.push(ok);
        }
        keep.push(flags);
    }
    let new = ids_in_order.iter().filter(|id| !known.contains(id)).count();
    if known.len() + new > max_templates {
        gate.clear = Some(known.len() as u64);
        known.clear();
        ids_in_order.truncate(max_templates);
        known.extend(ids_in_order.iter().copied());
        for (piece, flags) in pieces.iter().zip(keep.iter_mut()) {
            if let Piece::Templates { records, .. } = piece {
                for (r, flag) in records.iter().zip(flags.iter_mut()) {
                    if *flag && !r.withdrawal && !known.contains(&r.id) {
                        *flag = false;
                        gate.over_cap += 1;
                    }
                }
            }
        }
    } else {
        known.extend(ids_in_order.iter().copied());
    }
    for (piece, flags) in pieces.iter().zip(&keep) {
        if let Piece::Templates { records, .. } = piece {
            for (r, flag) in records.iter().zip(flags) {
                if *flag && r.withdrawal {
                    known.remove(&r.id);
                }
            }
        }
    }
    let dropped = gate.oversized + gate.over_cap;
    if dropped == 0 {
        return gate;
    }
    // Rebuild the datagram without the dropped templates.
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&datagram[..header]);
    for (piece, flags) in pieces.iter().zip(&keep) {
        match piece {
            Piece::Verbatim(a, b) => out.extend_from_slice(&datagram[*a..*b]),
            Piece::Templates {
                set_id,
                records,
                rest,
            } => {
                let mut body = Vec::new();
                for (r, flag) in records.iter().zip(flags) {
                    if *flag {
                        body.extend_from_slice(&datagram[r.start..r.end]);
                    }
                }
                if body.is_empty() {
                    continue; // the set's padding goes with it
                }
                body.extend_from_slice(&datagram[rest.0..rest.1]);
                let Ok(len) = u16::try_from(body.len() + 4) else {
                    continue;
                };
                out.extend_from_slice(&set_id.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&body);
            }
        }
    }
    if datagram[1] == 9 {
        // The v9 header counts records, templates included.
        let count = be16(datagram, 2).unwrap_or(0);
        let count = count.saturating_sub(u16::try_from(dropped).unwrap_or(u16::MAX));
        out[2..4].copy_from_slice(&count.to_be_bytes());
    } else {
        let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
        out[2..4].copy_from_slice(&len.to_be_bytes());
        // Bytes after this message (a second message) go on as they were.
        out.extend_from_slice(&datagram[end..]);
    }
    gate.rewritten = Some(out);
    gate
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v9 datagram with one template set holding `templates` as (id, field count).
    fn v9_templates(source_id: u32, templates: &[(u16, u16)]) -> Vec<u8> {
        let mut set = Vec::new();
        for &(id, count) in templates {
            set.extend_from_slice(&id.to_be_bytes());
            set.extend_from_slice(&count.to_be_bytes());
            for f in 0..count {
                set.extend_from_slice(&(1000 + f).to_be_bytes());
                set.extend_from_slice(&4u16.to_be_bytes());
            }
        }
        let mut d = Vec::new();
        d.extend_from_slice(&9u16.to_be_bytes());
        d.extend_from_slice(&(templates.len() as u16).to_be_bytes());
        d.extend_from_slice(&[0; 12]);
        d.extend_from_slice(&source_id.to_be_bytes());
        d.extend_from_slice(&0u16.to_be_bytes());
        d.extend_from_slice(&((set.len() + 4) as u16).to_be_bytes());
        d.extend_from_slice(&set);
        d
    }

    #[test]
    fn oversized_templates_are_taken_out() {
        let mut known = HashSet::new();
        let d = v9_templates(1, &[(256, 5), (257, 200), (258, 3)]);
        let gate = gate_templates(&d, &mut known, 64, 128);
        assert_eq!(gate.oversized, 1);
        assert_eq!(gate.clear, None);
        let expected = v9_templates(1, &[(256, 5), (258, 3)]);
        assert_eq!(gate.rewritten, Some(expected));
        assert_eq!(known, HashSet::from([256, 258]));
        // Within the caps, nothing is rewritten.
        let gate = gate_templates(&v9_templates(1, &[(256, 5)]), &mut known, 64, 128);
        assert_eq!(gate, Gate::default());
    }

    #[test]
    fn new_ids_past_the_cap_start_the_exporter_afresh() {
        let mut known = HashSet::from([256, 257, 258]);
        let d = v9_templates(1, &[(259, 1), (260, 1), (261, 1), (262, 1), (263, 1)]);
        let gate = gate_templates(&d, &mut known, 4, 128);
        assert_eq!(gate.clear, Some(3));
        assert_eq!(gate.over_cap, 1);
        assert_eq!(known, HashSet::from([259, 260, 261, 262]));
        assert_eq!(
            gate.rewritten,
            Some(v9_templates(1, &[(259, 1), (260, 1), (261, 1), (262, 1)]))
        );
        // Re-announcing known ids is not growth.
        let again = gate_templates(&v9_templates(1, &[(259, 2)]), &mut known, 4, 128);
        assert_eq!(again, Gate::default());
    }

    #[test]
    fn damaged_sets_are_left_to_the_parser() {
        let mut known = HashSet::new();
        let mut d = v9_templates(1, &[(256, 300)]);
        d.truncate(100);
        // The set's length runs past the end: not walked, not rewritten.
        assert_eq!(gate_templates(&d, &mut known, 4, 128), Gate::default());
        assert_eq!(
            gate_templates(&[0, 9, 1], &mut known, 4, 128),
            Gate::default()
        );
    }

    #[test]
    fn allow_list_and_ceiling() {
        let limits = FlowLimits {
            allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
            ..FlowLimits::default()
        };
        assert!(limits.allows("192.0.2.9".parse().unwrap()));
        assert!(limits.allows("::ffff:192.0.2.9".parse().unwrap()));
        assert!(!limits.allows("198.51.100.1".parse().unwrap()));
        assert!(FlowLimits::default().allows("198.51.100.1".parse().unwrap()));
        assert_eq!(
            FlowLimits::default().max_bytes_per_bin(300),
            15_000_000_000_000
        );
    }
}
