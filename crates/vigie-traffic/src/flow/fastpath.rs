//! A fast path for the common datagram: NetFlow v9 or IPFIX data sets only,
//! every one of them described by a template already learnt.
//!
//! `netflow_parser` decodes every field of every record into a vector of
//! typed values; vigie needs six fields. Once the parser has decoded a
//! template, [`CompiledTemplate`] records where those fields sit in a
//! record, and data sets are read straight from the datagram. Anything
//! else (a template or options set, an unknown template id, variable-length
//! fields, a damaged set) goes to `netflow_parser` whole, so templates,
//! options and errors are always its business. Tests and a fuzz target
//! check that both paths give the same records.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where one field sits in a record: byte offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    offset: usize,
    len: usize,
}

/// The positions of the fields vigie reads, in records of one template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompiledTemplate {
    record_len: usize,
    src: Option<Slot>,
    dst: Option<Slot>,
    bytes: Option<Slot>,
    packets: Option<Slot>,
    post_bytes: Option<Slot>,
    post_packets: Option<Slot>,
    interval: Option<Slot>,
    random_interval: Option<Slot>,
    packet_interval: Option<Slot>,
    packet_space: Option<Slot>,
    sampler_id: Option<Slot>,
}

/// The values vigie reads from one record, before sampling is applied
/// (both paths fill this; `None` when the template lacks the field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRecord {
    /// Source address (IPv4 element 8 or IPv6 element 27, the first present).
    pub src: Option<IpAddr>,
    /// Destination address (element 12 or 28, the first present).
    pub dst: Option<IpAddr>,
    /// Bytes (element 1, octetDeltaCount / IN_BYTES).
    pub bytes: Option<u64>,
    /// Packets (element 2).
    pub packets: Option<u64>,
    /// Bytes after the observation point (element 23), used without element 1.
    pub post_bytes: Option<u64>,
    /// Packets after the observation point (element 24), used without element 2.
    pub post_packets: Option<u64>,
    /// Sampling interval (element 34).
    pub interval: Option<u64>,
    /// Random sampler interval (element 50).
    pub random_interval: Option<u64>,
    /// PSAMP systematic count-based: packets selected (element 305).
    pub packet_interval: Option<u64>,
    /// PSAMP systematic count-based: packets skipped (element 306).
    pub packet_space: Option<u64>,
    /// Sampler or selector id (element 48 or 302), keying options data.
    pub sampler_id: Option<u64>,
}

impl CompiledTemplate {
    /// Compiles a template from its fields: `(element id, enterprise
    /// number, length)`. `None` when a field has a variable length or the
    /// record would be empty (the slow path handles those).
    pub fn compile(fields: impl IntoIterator<Item = (u16, Option<u32>, u16)>) -> Option<Self> {
        let mut t = CompiledTemplate::default();
        let mut offset = 0usize;
        for (id, enterprise, len) in fields {
            if len == 0xffff {
                return None;
            }
            let len = usize::from(len);
            let slot = Some(Slot { offset, len });
            offset += len;
            if enterprise.is_some() {
                continue;
            }
            let number_ok = (1..=8).contains(&len);
            // The first source/destination field of the right size wins,
            // as in the slow path.
            match id {
                8 if len == 4 && t.src.is_none() => t.src = slot,
                27 if len == 16 && t.src.is_none() => t.src = slot,
                12 if len == 4 && t.dst.is_none() => t.dst = slot,
                28 if len == 16 && t.dst.is_none() => t.dst = slot,
                1 if number_ok => t.bytes = slot,
                2 if number_ok => t.packets = slot,
                23 if number_ok => t.post_bytes = slot,
                24 if number_ok => t.post_packets = slot,
                34 if number_ok => t.interval = slot,
                50 if number_ok => t.random_interval = slot,
                305 if number_ok => t.packet_interval = slot,
                306 if number_ok => t.packet_space = slot,
                48 | 302 if number_ok => t.sampler_id = slot,
                // A known field with an unusual size: let the parser decide.
                1 | 2 | 8 | 12 | 23 | 24 | 27 | 28 | 34 | 48 | 50 | 302 | 305 | 306 => return None,
                _ => {}
            }
        }
        t.record_len = offset;
        (offset > 0).then_some(t)
    }

    /// Bytes per record.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Reads one record (exactly `record_len` bytes).
    pub fn read(&self, record: &[u8]) -> RawRecord {
        let number = |slot: Option<Slot>| -> Option<u64> {
            let s = slot?;
            let bytes = record.get(s.offset..s.offset + s.len)?;
            Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
        };
        let address = |slot: Option<Slot>| -> Option<IpAddr> {
            let s = slot?;
            let bytes = record.get(s.offset..s.offset + s.len)?;
            match s.len {
                4 => <[u8; 4]>::try_from(bytes)
                    .ok()
                    .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
                16 => <[u8; 16]>::try_from(bytes)
                    .ok()
                    .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
                _ => None,
            }
        };
        RawRecord {
            src: address(self.src),
            dst: address(self.dst),
            bytes: number(self.bytes),
            packets: number(self.packets),
            post_bytes: number(self.post_bytes),
            post_packets: number(self.post_packets),
            interval: number(self.interval),
            random_interval: number(self.random_interval),
            packet_interval: number(self.packet_interval),
            packet_space: number(self.packet_space),
            sampler_id: number(self.sampler_id),
        }
    }
}

/// A datagram's observation domain (or v9 source id) and its data sets,
/// as `(set id, set body)`.
pub type DataSets<'a> = (u32, Vec<(u16, &'a [u8])>);

/// The data sets of a datagram, if it holds nothing else: `(observation
/// domain or source id, [(set id, set body)])`. `None` sends the datagram
/// to the slow path: not v9/IPFIX, a template or options-template set, a
/// reserved set id, or any length that does not add up.
pub fn data_sets(datagram: &[u8]) -> Option<DataSets<'_>> {
    let be16 = |at: usize| -> Option<u16> {
        datagram
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let be32 = |at: usize| -> Option<u32> {
        datagram
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (domain, mut at, end) = match be16(0)? {
        9 => (be32(16)?, 20usize, datagram.len()),
        10 => {
            let length = usize::from(be16(2)?);
            // Trailing bytes would be a second message to the parser.
            if length < 16 || length != datagram.len() {
                return None;
            }
            (be32(12)?, 16usize, length)
        }
        _ => return None,
    };
    let mut sets = Vec::new();
    while at < end {
        let id = be16(at)?;
        let len = usize::from(be16(at + 2)?);
        if id < 256 || len < 4 || at + len > end {
            return None;
        }
        sets.push((id, datagram.get(at + 4..at + len)?));
        at += len;
    }
    (!sets.is_empty()).then_some((domain, sets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipfix(sets: &[(u16, &[u8])], trailing: &[u8]) -> Vec<u8> {
        let body: usize = sets.iter().map(|(_, b)| 4 + b.len()).sum();
        let mut d = vec![0, 10];
        d.extend_from_slice(&((16 + body) as u16).to_be_bytes());
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&7u32.to_be_bytes());
        for (id, b) in sets {
            d.extend_from_slice(&id.to_be_bytes());
            d.extend_from_slice(&((4 + b.len()) as u16).to_be_bytes());
            d.extend_from_slice(b);
        }
        d.extend_from_slice(trailing);
        d
    }

    #[test]
    fn only_plain_data_datagrams_take_the_fast_path() {
        let data = ipfix(&[(256, &[1, 2, 3, 4])], &[]);
        let (domain, sets) = data_sets(&data).unwrap();
        assert_eq!((domain, sets.len(), sets[0].0), (7, 1, 256));
        // Found by fuzzing: bytes after the message are a second message to
        // the parser (and an error), so the parser must see them.
        assert!(data_sets(&ipfix(&[(256, &[1, 2, 3, 4])], &[0, 0])).is_none());
        // Template sets, reserved ids and bad lengths go to the parser.
        assert!(data_sets(&ipfix(&[(2, &[0; 8])], &[])).is_none());
        assert!(data_sets(&ipfix(&[(255, &[0; 4])], &[])).is_none());
        let mut short = ipfix(&[(256, &[1, 2, 3, 4])], &[]);
        short.truncate(short.len() - 1);
        assert!(data_sets(&short).is_none());
        assert!(data_sets(&[0, 5, 0, 1]).is_none());
    }

    #[test]
    fn compiled_template_reads_fields() {
        let t = CompiledTemplate::compile([
            (8, None, 4),
            (12, None, 4),
            (1, None, 8),
            (2, None, 4),
            (5, Some(9), 2), // enterprise field: skipped
            (34, None, 2),
        ])
        .unwrap();
        assert_eq!(t.record_len(), 24);
        let mut rec = vec![2, 132, 0, 1, 8, 8, 8, 8];
        rec.extend_from_slice(&1000u64.to_be_bytes());
        rec.extend_from_slice(&3u32.to_be_bytes());
        rec.extend_from_slice(&[0, 0, 0, 100]);
        let r = t.read(&rec);
        assert_eq!(r.src, Some("2.132.0.1".parse().unwrap()));
        assert_eq!(
            (r.bytes, r.packets, r.interval),
            (Some(1000), Some(3), Some(100))
        );
        // Variable length, or an address of an odd size: the parser's job.
        assert!(CompiledTemplate::compile([(8, None, 0xffff)]).is_none());
        assert!(CompiledTemplate::compile([(8, None, 6)]).is_none());
        assert!(CompiledTemplate::compile(std::iter::empty()).is_none());
    }
}
