//! ICMP echo packets: building requests and parsing what a raw IPv4 socket
//! receives.
//!
//! A request carries a 16-byte payload that lets the prober match a reply to
//! its probe without any lookup table: the block's index in the probe list,
//! the target address and a 64-bit cookie keyed by a per-run secret (see
//! [`ProbeCookie`]). A reply whose source, identifier, sequence number or
//! cookie do not match an outstanding probe is not counted as evidence.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;

use etherparse::checksum::Sum16BitWords;
use etherparse::err::ipv4::HeaderSliceError;
use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, IpNumber, Ipv4HeaderSlice,
};

/// Length of an echo request vigie sends: 8-byte ICMP header + 16-byte payload.
pub const ECHO_REQUEST_LEN: usize = 8 + PAYLOAD_LEN;
/// Length of vigie's probe payload.
pub const PAYLOAD_LEN: usize = 16;

/// The fields vigie puts in an echo request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoProbe {
    /// ICMP identifier, the same for every probe of one prober.
    pub ident: u16,
    /// ICMP sequence number.
    pub seq: u16,
    /// Index of the block in the probe list.
    pub block_index: u32,
    /// The address probed.
    pub target: Ipv4Addr,
    /// Keyed hash of the above, from [`ProbeCookie::cookie`].
    pub cookie: u64,
}

impl EchoProbe {
    /// The ICMP message (header and payload, checksum set) to send, built
    /// by `etherparse`.
    pub fn to_bytes(&self) -> [u8; ECHO_REQUEST_LEN] {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0..4].copy_from_slice(&self.block_index.to_be_bytes());
        payload[4..8].copy_from_slice(&self.target.octets());
        payload[8..16].copy_from_slice(&self.cookie.to_be_bytes());
        let echo = IcmpEchoHeader {
            id: self.ident,
            seq: self.seq,
        };
        let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(echo), &payload);
        let mut packet = [0u8; ECHO_REQUEST_LEN];
        packet[..8].copy_from_slice(&header.to_bytes());
        packet[8..].copy_from_slice(&payload);
        packet
    }
}

/// An echo reply as received, with vigie's payload decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply {
    /// Source address of the IPv4 packet.
    pub source: Ipv4Addr,
    /// The probe fields echoed back.
    pub probe: EchoProbe,
}

/// Why a received packet is not one of vigie's echo replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// Fewer bytes than an IPv4 header, or than the header says.
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// Not an IPv4 packet, or a malformed header length.
    BadIpHeader,
    /// The IPv4 payload is not ICMP.
    NotIcmp {
        /// The IP protocol number.
        protocol: u8,
    },
    /// An ICMP message other than an echo reply (unreachable, a request…).
    NotEchoReply {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        icmp_code: u8,
    },
    /// The ICMP checksum is wrong.
    BadChecksum,
    /// An echo reply whose payload is not vigie's (another program's ping).
    ForeignPayload,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Truncated { len } => write!(f, "truncated packet ({len} bytes)"),
            ReplyError::BadIpHeader => f.write_str("malformed IPv4 header"),
            ReplyError::NotIcmp { protocol } => write!(f, "IP protocol {protocol} is not ICMP"),
            ReplyError::NotEchoReply {
                icmp_type,
                icmp_code,
            } => write!(
                f,
                "ICMP type {icmp_type} code {icmp_code} is not an echo reply"
            ),
            ReplyError::BadChecksum => f.write_str("bad ICMP checksum"),
            ReplyError::ForeignPayload => f.write_str("echo reply without a vigie payload"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Parses a packet read from a raw IPv4 ICMP socket (IPv4 header included),
/// its header read by `etherparse`.
pub fn parse_echo_reply(packet: &[u8]) -> Result<EchoReply, ReplyError> {
    let header = Ipv4HeaderSlice::from_slice(packet).map_err(|e| match e {
        HeaderSliceError::Len(_) => ReplyError::Truncated { len: packet.len() },
        HeaderSliceError::Content(_) => ReplyError::BadIpHeader,
    })?;
    let protocol = header.protocol().0;
    if protocol != IpNumber::ICMP.0 {
        return Err(ReplyError::NotIcmp { protocol });
    }
    let icmp = &packet[header.slice().len()..];
    parse_icmp_echo_reply(header.source_addr(), icmp)
}

/// Parses an ICMP message (no IP header) from `source` as an echo reply
/// (`etherparse`'s ICMPv4 slice).
pub fn parse_icmp_echo_reply(source: Ipv4Addr, icmp: &[u8]) -> Result<EchoReply, ReplyError> {
    // etherparse also refuses a timestamp message of the wrong length: that
    // is still a message other than an echo reply.
    let message = Icmpv4Slice::from_slice(icmp).map_err(|_| match icmp {
        [icmp_type, icmp_code, ..] if icmp.len() >= 8 => ReplyError::NotEchoReply {
            icmp_type: *icmp_type,
            icmp_code: *icmp_code,
        },
        _ => ReplyError::Truncated { len: icmp.len() },
    })?;
    let Icmpv4Type::EchoReply(echo) = message.icmp_type() else {
        return Err(ReplyError::NotEchoReply {
            icmp_type: message.type_u8(),
            icmp_code: message.code_u8(),
        });
    };
    if internet_checksum(icmp) != 0 {
        return Err(ReplyError::BadChecksum);
    }
    let payload: &[u8; PAYLOAD_LEN] = message
        .payload()
        .get(..PAYLOAD_LEN)
        .and_then(|p| p.try_into().ok())
        .ok_or(ReplyError::ForeignPayload)?;
    let word = |at: usize| {
        u32::from_be_bytes([
            payload[at],
            payload[at + 1],
            payload[at + 2],
            payload[at + 3],
        ])
    };
    let cookie = (u64::from(word(8)) << 32) | u64::from(word(12));
    Ok(EchoReply {
        source,
        probe: EchoProbe {
            ident: echo.id,
            seq: echo.seq,
            block_index: word(0),
            target: Ipv4Addr::from(word(4)),
            cookie,
        },
    })
}

/// The Internet checksum (RFC 1071) of `data`, by `etherparse`; 0 when
/// `data` includes a correct checksum field.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Sum16BitWords::new()
        .add_slice(data)
        .ones_complement()
        .to_be()
}

/// The per-run secret behind probe cookies: a reply can only carry a valid
/// cookie if it echoes a probe this prober sent.
#[derive(Clone, Debug)]
pub struct ProbeCookie {
    keys: std::collections::hash_map::RandomState,
}

impl Default for ProbeCookie {
    fn default() -> Self {
        ProbeCookie::new()
    }
}

impl ProbeCookie {
    /// A new random secret (SipHash keys from the standard library).
    pub fn new() -> ProbeCookie {
        ProbeCookie {
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The cookie of a probe.
    pub fn cookie(&self, ident: u16, seq: u16, block_index: u32, target: Ipv4Addr) -> u64 {
        let mut hasher = self.keys.build_hasher();
        hasher.write_u16(ident);
        hasher.write_u16(seq);
        hasher.write_u32(block_index);
        hasher.write_u32(u32::from(target));
        hasher.finish()
    }

    /// True when `reply` echoes a probe with a valid cookie, sent to the
    /// address the reply comes from.
    pub fn verify(&self, reply: &EchoReply) -> bool {
        let p = &reply.probe;
        reply.source == p.target && self.cookie(p.ident, p.seq, p.block_index, p.target) == p.cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wraps an ICMP message in a minimal IPv4 header from `source`.
    fn ipv4(source: Ipv4Addr, icmp: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&source.octets());
        p.extend_from_slice(&[192, 0, 2, 1]);
        p.extend_from_slice(icmp);
        p
    }

    fn as_reply(request: &[u8; ECHO_REQUEST_LEN]) -> Vec<u8> {
        let mut reply = request.to_vec();
        reply[0] = 0;
        reply[2] = 0;
        reply[3] = 0;
        let sum = internet_checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        reply
    }

    #[test]
    fn request_round_trips_through_a_reply() {
        let secret = ProbeCookie::new();
        let target = Ipv4Addr::new(198, 18, 7, 9);
        let probe = EchoProbe {
            ident: 0xbeef,
            seq: 513,
            block_index: 70_000,
            target,
            cookie: secret.cookie(0xbeef, 513, 70_000, target),
        };
        let request = probe.to_bytes();
        assert_eq!(request[0], 8);
        assert_eq!(internet_checksum(&request), 0);
        let reply = parse_echo_reply(&ipv4(target, &as_reply(&request))).unwrap();
        assert_eq!(reply.probe, probe);
        assert!(secret.verify(&reply));
    }

    #[test]
    fn spoofed_and_foreign_replies_do_not_verify() {
        let secret = ProbeCookie::new();
        let target = Ipv4Addr::new(198, 18, 7, 9);
        let probe = EchoProbe {
            ident: 1,
            seq: 2,
            block_index: 3,
            target,
            cookie: secret.cookie(1, 2, 3, target),
        };
        let reply_bytes = as_reply(&probe.to_bytes());
        // From another address.
        let other = parse_echo_reply(&ipv4(Ipv4Addr::new(198, 18, 7, 10), &reply_bytes)).unwrap();
        assert!(!secret.verify(&other));
        // Another run's secret.
        let ours = parse_echo_reply(&ipv4(target, &reply_bytes)).unwrap();
        assert!(!ProbeCookie::new().verify(&ours));
        // A cookie guessed with one bit flipped.
        let mut forged = probe;
        forged.cookie ^= 1;
        let forged = parse_echo_reply(&ipv4(target, &as_reply(&forged.to_bytes()))).unwrap();
        assert!(!secret.verify(&forged));
    }

    #[test]
    fn malformed_packets_are_errors() {
        let target = Ipv4Addr::new(198, 18, 0, 1);
        assert_eq!(parse_echo_reply(&[]), Err(ReplyError::Truncated { len: 0 }));
        assert_eq!(parse_echo_reply(&[0x60; 40]), Err(ReplyError::BadIpHeader));
        assert_eq!(parse_echo_reply(&[0x44; 40]), Err(ReplyError::BadIpHeader));
        assert_eq!(
            parse_echo_reply(&[0x45, 0, 0]),
            Err(ReplyError::Truncated { len: 3 })
        );
        let mut udp = ipv4(target, &[0; 8]);
        udp[9] = 17;
        assert_eq!(
            parse_echo_reply(&udp),
            Err(ReplyError::NotIcmp { protocol: 17 })
        );
        // Destination unreachable.
        let mut unreachable = [3u8, 1, 0, 0, 0, 0, 0, 0];
        let sum = internet_checksum(&unreachable);
        unreachable[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            parse_echo_reply(&ipv4(target, &unreachable)),
            Err(ReplyError::NotEchoReply {
                icmp_type: 3,
                icmp_code: 1
            })
        );
        // A timestamp request of the wrong length, and a short message.
        assert_eq!(
            parse_echo_reply(&ipv4(target, &[13, 0, 0, 0, 0, 0, 0, 0])),
            Err(ReplyError::NotEchoReply {
                icmp_type: 13,
                icmp_code: 0
            })
        );
        assert_eq!(
            parse_echo_reply(&ipv4(target, &[0, 0, 0, 0])),
            Err(ReplyError::Truncated { len: 4 })
        );
        // An echo reply with a code other than 0.
        assert_eq!(
            parse_echo_reply(&ipv4(target, &[0, 1, 0, 0, 0, 0, 0, 0])),
            Err(ReplyError::NotEchoReply {
                icmp_type: 0,
                icmp_code: 1
            })
        );
        // Bad checksum.
        let mut bad = [0u8; 24];
        bad[2] = 1;
        assert_eq!(
            parse_echo_reply(&ipv4(target, &bad)),
            Err(ReplyError::BadChecksum)
        );
        // A plain ping reply with a 4-byte payload.
        let mut short = [0u8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4];
        let sum = internet_checksum(&short);
        short[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            parse_echo_reply(&ipv4(target, &short)),
            Err(ReplyError::ForeignPayload)
        );
        // Header claims 60 bytes, only 24 present.
        let mut long_header = ipv4(target, &[]);
        long_header[0] = 0x4f;
        assert_eq!(
            parse_echo_reply(&long_header),
            Err(ReplyError::Truncated { len: 20 })
        );
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        assert_eq!(internet_checksum(&[0xff]), !0xff00);
    }
}
