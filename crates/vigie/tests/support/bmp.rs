//! BMP messages for the `vigie serve` tests, built from a real MRT file.

use std::net::IpAddr;

use bgpkit_parser::models::{AsnLength, Bgp4MpEnum, Bgp4MpType, BgpMessage, MrtMessage};
use bgpkit_parser::BgpkitParser;

/// BMP route-monitoring messages (RFC 7854) carrying every UPDATE of an MRT file.
pub fn bmp_messages(path: &std::path::Path) -> Vec<Vec<u8>> {
    let reader = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut out = Vec::new();
    for record in BgpkitParser::from_reader(reader).into_record_iter() {
        let MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(m)) = record.message else {
            continue;
        };
        if !matches!(m.bgp_message, BgpMessage::Update(_)) {
            continue;
        }
        let four = matches!(m.msg_type, Bgp4MpType::MessageAs4);
        let asn_len = if four {
            AsnLength::Bits32
        } else {
            AsnLength::Bits16
        };
        let bgp = m.bgp_message.encode(asn_len).unwrap();
        let mut per_peer = vec![0u8, 0];
        if m.peer_ip.is_ipv6() {
            per_peer[1] |= 0x80;
        }
        if !four {
            per_peer[1] |= 0x20;
        }
        per_peer.extend_from_slice(&[0; 8]);
        match m.peer_ip {
            IpAddr::V4(v4) => {
                per_peer.extend_from_slice(&[0; 12]);
                per_peer.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => per_peer.extend_from_slice(&v6.octets()),
        }
        per_peer.extend_from_slice(&m.peer_asn.to_u32().to_be_bytes());
        per_peer.extend_from_slice(&[192, 0, 2, 1]);
        per_peer.extend_from_slice(&record.common_header.timestamp.to_be_bytes());
        per_peer.extend_from_slice(&[0; 4]);
        let len = 6 + per_peer.len() + bgp.len();
        let mut message = vec![3];
        message.extend_from_slice(&(len as u32).to_be_bytes());
        message.push(0);
        message.extend_from_slice(&per_peer);
        message.extend_from_slice(&bgp);
        out.push(message);
    }
    out
}
