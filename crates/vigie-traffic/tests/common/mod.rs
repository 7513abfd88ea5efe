//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::Ipv4Addr;

/// A NetFlow v9 datagram: optionally a template (id 256: src, dst, bytes,
/// packets, sampling interval; all 4 bytes), then data records for it.
pub fn v9_datagram(
    with_template: bool,
    records: &[(Ipv4Addr, Ipv4Addr, u32, u32, u32)],
) -> Vec<u8> {
    let mut sets = Vec::new();
    let mut count = 0u16;
    if with_template {
        let fields: [(u16, u16); 5] = [(8, 4), (12, 4), (1, 4), (2, 4), (34, 4)];
        let len = 4 + 4 + fields.len() * 4;
        sets.extend_from_slice(&0u16.to_be_bytes());
        sets.extend_from_slice(&(len as u16).to_be_bytes());
        sets.extend_from_slice(&256u16.to_be_bytes());
        sets.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for (id, size) in fields {
            sets.extend_from_slice(&id.to_be_bytes());
            sets.extend_from_slice(&size.to_be_bytes());
        }
        count += 1;
    }
    if !records.is_empty() {
        let len = 4 + records.len() * 20;
        sets.extend_from_slice(&256u16.to_be_bytes());
        sets.extend_from_slice(&(len as u16).to_be_bytes());
        for (src, dst, bytes, packets, rate) in records {
            sets.extend_from_slice(&src.octets());
            sets.extend_from_slice(&dst.octets());
            sets.extend_from_slice(&bytes.to_be_bytes());
            sets.extend_from_slice(&packets.to_be_bytes());
            sets.extend_from_slice(&rate.to_be_bytes());
            count += 1;
        }
    }
    let mut datagram = Vec::new();
    datagram.extend_from_slice(&9u16.to_be_bytes());
    datagram.extend_from_slice(&count.to_be_bytes());
    datagram.extend_from_slice(&1000u32.to_be_bytes()); // uptime
    datagram.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    datagram.extend_from_slice(&1u32.to_be_bytes()); // sequence
    datagram.extend_from_slice(&7u32.to_be_bytes()); // source id
    datagram.extend_from_slice(&sets);
    datagram
}
