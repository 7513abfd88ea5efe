//! Network telescope: packets captured on unused (dark) address space →
//! per-bin unique source addresses per country, AS and region (IODA's
//! telescope signal).
//!
//! Nothing legitimate is addressed to a darknet, so what arrives is scans,
//! worms and backscatter from the whole Internet; when a country goes
//! offline its sources vanish. Sources that cannot be real senders are
//! filtered out first, each filter counted in [`TelescopeStats`]:
//!
//! | filter | dropped packets |
//! |---|---|
//! | `not-ip` | frames with no IPv4/IPv6 header |
//! | `outside-darknet` | destination outside the configured dark prefixes (when some are set) |
//! | `source-in-darknet` | source inside the dark prefixes (local, or spoofed with the target's space) |
//! | `non-routable-source` | source not globally routable: private, shared, loopback, link-local, documentation, benchmarking, multicast, reserved, broadcast, unspecified; IPv6 outside 2000::/3 or in 2001:db8::/32 |
//! | `same-source-destination` | source equals destination (LAND-style spoofing) |
//! | `high-ttl` | IPv4 TTL ≥ 200 or IPv6 hop limit ≥ 200, other than ICMP: real senders are many hops away and start at 64 or 128, while common spoofing tools send 255 |
//! | `port-zero` | TCP or UDP with source or destination port 0 |
//! | `protocol-zero` | IPv4 protocol 0 (IPv6 hop-by-hop is parsed, so not hit) |
//!
//! A source that passes is counted once per bin, whatever its packet
//! count, in the country, AS and region of its address (if known).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use ipnet::IpNet;
use pcap_file::DataLink;
use vigie_geo::GeoDb;
use vigie_model::{BinSize, SignalBin, SignalKind, UnixSecs, ZeroFill};

use crate::bins::{add_value, for_each_entity, unit_of_ip, EntityKinds, OpenBins};
use crate::capture::slice_ip;

/// Why a packet was not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// No IP header.
    NotIp,
    /// Destination outside the dark prefixes.
    OutsideDarknet,
    /// Source inside the dark prefixes.
    SourceInDarknet,
    /// Source not globally routable.
    NonRoutableSource,
    /// Source equals destination.
    SameSourceDestination,
    /// TTL or hop limit ≥ 200 on a non-ICMP packet.
    HighTtl,
    /// TCP/UDP port 0.
    PortZero,
    /// IPv4 protocol 0.
    ProtocolZero,
    /// The packet's bin was already closed.
    Late,
}

impl DropReason {
    /// The filter's name, as in the module documentation.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::NotIp => "not-ip",
            DropReason::OutsideDarknet => "outside-darknet",
            DropReason::SourceInDarknet => "source-in-darknet",
            DropReason::NonRoutableSource => "non-routable-source",
            DropReason::SameSourceDestination => "same-source-destination",
            DropReason::HighTtl => "high-ttl",
            DropReason::PortZero => "port-zero",
            DropReason::ProtocolZero => "protocol-zero",
            DropReason::Late => "late",
        }
    }
}

/// What the telescope counted and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelescopeStats {
    /// Packets seen.
    pub packets: u64,
    /// Packets that passed every filter.
    pub kept: u64,
    /// Dropped packets, by filter.
    pub dropped: BTreeMap<DropReason, u64>,
}

#[derive(Debug, Default)]
struct TelescopeBin {
    sources: HashSet<IpAddr>,
}

/// The headers the filters look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSummary {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IP protocol number (for IPv6, of the payload after extension headers).
    pub protocol: u8,
    /// Source and destination ports, for TCP and UDP.
    pub ports: Option<(u16, u16)>,
}

/// Reads the headers of a (possibly truncated) IP packet.
pub fn summarize(packet: &LaxSlicedPacket<'_>) -> Option<PacketSummary> {
    let (src, dst, ttl, protocol) = match packet.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                h.protocol().0,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                v6.payload().ip_number.0,
            )
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let ports = match packet.transport.as_ref() {
        Some(TransportSlice::Tcp(t)) => Some((t.source_port(), t.destination_port())),
        Some(TransportSlice::Udp(u)) => Some((u.source_port(), u.destination_port())),
        _ => None,
    };
    Some(PacketSummary {
        src,
        dst,
        ttl,
        protocol,
        ports,
    })
}

/// Whether an IPv4 address can be a real Internet source.
pub fn routable_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || o[0] == 0
        || ip.is_private()
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared
        || ip.is_loopback()
        || ip.is_link_local()
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 protocol assignments
        || ip.is_documentation()
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || ip.is_multicast()
        || o[0] >= 240) // reserved and broadcast
}

/// Whether an IPv6 address can be a real Internet source.
pub fn routable_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
}

/// Counts unique sources per entity and bin from darknet packets.
#[derive(Debug)]
pub struct Telescope {
    geo: GeoDb,
    kinds: EntityKinds,
    darknet: Vec<IpNet>,
    bins: OpenBins<TelescopeBin>,
    seen: ZeroFill,
    stats: TelescopeStats,
}

impl Telescope {
    /// A telescope over `geo`, bins of `bin`; `darknet` are the dark
    /// prefixes (empty: every destination is taken as dark).
    pub fn new(geo: GeoDb, bin: BinSize, darknet: Vec<IpNet>) -> Self {
        Telescope {
            kinds: EntityKinds::of(&geo),
            geo,
            darknet,
            bins: OpenBins::new(bin),
            seen: ZeroFill::default(),
            stats: TelescopeStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &TelescopeStats {
        &self.stats
    }

    fn in_darknet(&self, ip: IpAddr) -> bool {
        self.darknet.iter().any(|n| n.contains(&ip))
    }

    /// Which filter drops this packet, if any.
    pub fn filter(&self, p: &PacketSummary) -> Option<DropReason> {
        if !self.darknet.is_empty() && !self.in_darknet(p.dst) {
            return Some(DropReason::OutsideDarknet);
        }
        if !self.darknet.is_empty() && self.in_darknet(p.src) {
            return Some(DropReason::SourceInDarknet);
        }
        let routable = match p.src {
            IpAddr::V4(v4) => routable_v4(v4),
            IpAddr::V6(v6) => routable_v6(v6),
        };
        if !routable {
            return Some(DropReason::NonRoutableSource);
        }
        if p.src == p.dst {
            return Some(DropReason::SameSourceDestination);
        }
        let icmp = p.protocol == 1 || p.protocol == 58;
        if p.ttl >= 200 && !icmp {
            return Some(DropReason::HighTtl);
        }
        if p.protocol == 0 && p.src.is_ipv4() {
            return Some(DropReason::ProtocolZero);
        }
        if let Some((sport, dport)) = p.ports {
            if sport == 0 || dport == 0 {
                return Some(DropReason::PortZero);
            }
        }
        None
    }

    fn drop(&mut self, reason: DropReason) {
        *self.stats.dropped.entry(reason).or_default() += 1;
    }

    /// Adds one captured frame of link type `link`, captured at `at`.
    pub fn add_frame(&mut self, at: UnixSecs, link: DataLink, data: &[u8]) {
        self.stats.packets += 1;
        let summary = slice_ip(link, data).and_then(|p| summarize(&p));
        let Some(summary) = summary else {
            self.drop(DropReason::NotIp);
            return;
        };
        self.add_packet(at, &summary);
    }

    /// Adds one packet already summarized (counted in `packets` by the caller
    /// through [`Telescope::add_frame`], or here when called directly).
    pub fn add_packet(&mut self, at: UnixSecs, summary: &PacketSummary) {
        if let Some(reason) = self.filter(summary) {
            self.drop(reason);
            return;
        }
        let Some(bin) = self.bins.get_mut(at) else {
            self.drop(DropReason::Late);
            return;
        };
        bin.sources.insert(summary.src);
        self.stats.kept += 1;
    }

    /// Closes every bin that ends at or before `t`.
    pub fn close_until(&mut self, t: UnixSecs) -> Vec<SignalBin> {
        let closed = self.bins.close_until(t);
        closed
            .into_iter()
            .map(|(start, bin)| self.finish(start, bin))
            .collect()
    }

    /// Closes every open bin.
    pub fn close_all(&mut self) -> Vec<SignalBin> {
        let closed = self.bins.close_all();
        closed
            .into_iter()
            .map(|(start, bin)| self.finish(start, bin))
            .collect()
    }

    fn finish(&mut self, bin_start: UnixSecs, bin: TelescopeBin) -> SignalBin {
        let mut values = BTreeMap::new();
        for source in &bin.sources {
            for_each_entity(&self.geo, self.kinds, unit_of_ip(*source), |entity| {
                add_value(&mut values, entity, SignalKind::TelescopeUniqueSources, 1.0);
            });
        }
        SignalBin {
            bin_start,
            bin: self.bins.bin(),
            values: self.seen.complete(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use vigie_model::{CountryCode, Entity};

    fn udp(src: [u8; 4], dst: [u8; 4], ttl: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(src, dst, ttl)
            .udp(sport, dport)
            .write(&mut out, b"probe")
            .unwrap();
        out
    }

    #[test]
    fn filters_and_unique_sources() {
        let darknet = vec!["192.0.2.0/24".parse().unwrap()];
        let mut t = Telescope::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, darknet);
        let at = 1_700_000_000;
        let kz1 = [2, 132, 0, 1];
        let kz2 = [2, 132, 9, 1];
        let dark = [192, 0, 2, 7];
        // Kept: two KZ sources, one of them twice.
        t.add_frame(at, DataLink::RAW, &udp(kz1, dark, 50, 1234, 23));
        t.add_frame(at, DataLink::RAW, &udp(kz1, dark, 50, 1235, 23));
        t.add_frame(at, DataLink::RAW, &udp(kz2, dark, 110, 1234, 445));
        // Dropped, one per filter.
        t.add_frame(at, DataLink::RAW, &udp(kz1, [198, 51, 100, 1], 50, 1, 2));
        t.add_frame(at, DataLink::RAW, &udp([192, 0, 2, 9], dark, 50, 1, 2));
        t.add_frame(at, DataLink::RAW, &udp([10, 1, 2, 3], dark, 50, 1, 2));
        t.add_frame(at, DataLink::RAW, &udp(kz1, dark, 255, 1, 2));
        t.add_frame(at, DataLink::RAW, &udp(kz1, dark, 50, 0, 2));
        t.add_frame(at, DataLink::RAW, b"\x45garbage");
        let stats = t.stats().clone();
        assert_eq!((stats.packets, stats.kept), (9, 3));
        for reason in [
            DropReason::OutsideDarknet,
            DropReason::SourceInDarknet,
            DropReason::NonRoutableSource,
            DropReason::HighTtl,
            DropReason::PortZero,
            DropReason::NotIp,
        ] {
            assert_eq!(stats.dropped.get(&reason), Some(&1), "{reason:?}");
        }
        let bins = t.close_all();
        let kz = Entity::Country(CountryCode::new("KZ").unwrap());
        assert_eq!(
            bins[0].value(&kz, SignalKind::TelescopeUniqueSources),
            Some(2.0)
        );
    }

    #[test]
    fn routability() {
        assert!(routable_v4(Ipv4Addr::new(2, 132, 0, 1)));
        for bad in [
            "0.1.2.3",
            "100.100.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "198.19.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
        ] {
            assert!(!routable_v4(bad.parse().unwrap()), "{bad}");
        }
        assert!(routable_v6("2a02:1::1".parse().unwrap()));
        for bad in ["fe80::1", "::1", "2001:db8::1", "fc00::1", "ff02::1"] {
            assert!(!routable_v6(bad.parse().unwrap()), "{bad}");
        }
    }
}
