//! Which addresses the prober may probe.
//!
//! The prober only probes the blocks of its probe list, and the list only
//! takes addresses this policy accepts. Special-purpose IPv4 ranges
//! (IANA's special-purpose address registry, RFC 6890 and successors) are
//! refused by default: probing them is either pointless on the Internet or a
//! sign of a wrong configuration.
//! - `--allow-private` ([`TargetPolicy::allow_private`]) accepts the private,
//!   shared (CGN), link-local, benchmarking, documentation and reserved
//!   (240/4) ranges, for labs and tests;
//! - loopback, multicast, "this network" (0/8) and the limited broadcast
//!   address are accepted only when a prefix of [`TargetPolicy::allowed`]
//!   covers them explicitly.
//!
//! A prefix to scan ([`TargetPolicy::check_prefix`]) is checked by
//! intersection with every special-purpose range, not by its ends: a
//! prefix overlapping a refused range is refused whole, and the message
//! names the parts that may be scanned instead ([`TargetPolicy::scannable_parts`]).
//! The host's own addresses ([`host_addresses`]) are never probed.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why a special-purpose range is special.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialRange {
    /// RFC 1918 private space (10/8, 172.16/12, 192.168/16).
    Private,
    /// RFC 6598 shared address space (100.64/10).
    Shared,
    /// Link-local (169.254/16).
    LinkLocal,
    /// IETF protocol assignments (192.0.0/24) and 6to4 relay anycast (192.88.99/24).
    Protocol,
    /// Documentation (192.0.2/24, 198.51.100/24, 203.0.113/24).
    Documentation,
    /// Benchmarking (198.18/15).
    Benchmarking,
    /// Reserved for future use (240/4).
    Reserved,
    /// Loopback (127/8).
    Loopback,
    /// Multicast (224/4).
    Multicast,
    /// "This network" (0/8).
    ThisNetwork,
    /// The limited broadcast address 255.255.255.255.
    Broadcast,
}

impl SpecialRange {
    /// The range an address belongs to, if it is special-purpose.
    pub fn of(addr: Ipv4Addr) -> Option<SpecialRange> {
        let [a, b, c, _] = addr.octets();
        Some(match (a, b, c) {
            _ if addr.is_broadcast() => SpecialRange::Broadcast,
            (0, _, _) => SpecialRange::ThisNetwork,
            (10, _, _) | (192, 168, _) => SpecialRange::Private,
            (172, b, _) if (16..32).contains(&b) => SpecialRange::Private,
            (100, b, _) if (64..128).contains(&b) => SpecialRange::Shared,
            (127, _, _) => SpecialRange::Loopback,
            (169, 254, _) => SpecialRange::LinkLocal,
            (192, 0, 0) | (192, 88, 99) => SpecialRange::Protocol,
            (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => SpecialRange::Documentation,
            (198, 18 | 19, _) => SpecialRange::Benchmarking,
            (224..=239, _, _) => SpecialRange::Multicast,
            (240..=255, _, _) => SpecialRange::Reserved,
            _ => return None,
        })
    }

    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SpecialRange::Private => "private (RFC 1918)",
            SpecialRange::Shared => "shared CGN space (RFC 6598)",
            SpecialRange::LinkLocal => "link-local",
            SpecialRange::Protocol => "IETF protocol assignment",
            SpecialRange::Documentation => "documentation",
            SpecialRange::Benchmarking => "benchmarking (RFC 2544)",
            SpecialRange::Reserved => "reserved (240/4)",
            SpecialRange::Loopback => "loopback",
            SpecialRange::Multicast => "multicast",
            SpecialRange::ThisNetwork => "\"this network\" (0/8)",
            SpecialRange::Broadcast => "limited broadcast",
        }
    }

    /// True for ranges `--allow-private` opens.
    pub fn opened_by_allow_private(self) -> bool {
        !matches!(
            self,
            SpecialRange::Loopback
                | SpecialRange::Multicast
                | SpecialRange::ThisNetwork
                | SpecialRange::Broadcast
        )
    }
}

/// Every special-purpose range of [`SpecialRange::of`] as a prefix, in
/// address order (the limited broadcast address lies inside 240/4).
pub const SPECIAL_PREFIXES: [(Ipv4Net, SpecialRange); 16] = [
    (net(0, 0, 0, 0, 8), SpecialRange::ThisNetwork),
    (net(10, 0, 0, 0, 8), SpecialRange::Private),
    (net(100, 64, 0, 0, 10), SpecialRange::Shared),
    (net(127, 0, 0, 0, 8), SpecialRange::Loopback),
    (net(169, 254, 0, 0, 16), SpecialRange::LinkLocal),
    (net(172, 16, 0, 0, 12), SpecialRange::Private),
    (net(192, 0, 0, 0, 24), SpecialRange::Protocol),
    (net(192, 0, 2, 0, 24), SpecialRange::Documentation),
    (net(192, 88, 99, 0, 24), SpecialRange::Protocol),
    (net(192, 168, 0, 0, 16), SpecialRange::Private),
    (net(198, 18, 0, 0, 15), SpecialRange::Benchmarking),
    (net(198, 51, 100, 0, 24), SpecialRange::Documentation),
    (net(203, 0, 113, 0, 24), SpecialRange::Documentation),
    (net(224, 0, 0, 0, 4), SpecialRange::Multicast),
    (net(240, 0, 0, 0, 4), SpecialRange::Reserved),
    (net(255, 255, 255, 255, 32), SpecialRange::Broadcast),
];

const fn net(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

/// An inclusive range of IPv4 addresses, as integers.
type Span = (u32, u32);

fn span(net: &Ipv4Net) -> Span {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

/// `spans` less `cut`.
fn subtract(spans: Vec<Span>, cut: Span) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    for (a, b) in spans {
        if cut.1 < a || cut.0 > b {
            out.push((a, b));
            continue;
        }
        if cut.0 > a {
            out.push((a, cut.0 - 1));
        }
        if cut.1 < b {
            out.push((cut.1 + 1, b));
        }
    }
    out
}

/// The fewest prefixes covering exactly `span`.
fn prefixes_of((mut a, b): Span) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    loop {
        // The largest aligned block starting at `a` that ends by `b`.
        let mut len = 32 - a.trailing_zeros().min(32) as u8;
        while len < 32 && u64::from(a) + (1u64 << (32 - len)) - 1 > u64::from(b) {
            len += 1;
        }
        let block = Ipv4Net::new_assert(Ipv4Addr::from(a), len);
        out.push(block);
        let end = u32::from(block.broadcast());
        if end >= b {
            return out;
        }
        a = end + 1;
    }
}

/// The rule deciding which addresses may be probed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetPolicy {
    /// Accept private, shared, link-local, documentation, benchmarking and
    /// reserved ranges.
    pub allow_private: bool,
    /// Prefixes accepted whatever their range (a lab's own addresses).
    pub allowed: Vec<Ipv4Net>,
}

impl TargetPolicy {
    /// Ok when `addr` may be probed; otherwise says why not and how to allow it.
    pub fn check(&self, addr: Ipv4Addr) -> Result<(), String> {
        let Some(range) = SpecialRange::of(addr) else {
            return Ok(());
        };
        if self.allowed.iter().any(|net| net.contains(&addr)) {
            return Ok(());
        }
        if self.allow_private && range.opened_by_allow_private() {
            return Ok(());
        }
        let how = if range.opened_by_allow_private() {
            "use --allow-private or list its prefix with --allow"
        } else {
            "list its prefix explicitly with --allow"
        };
        Err(format!(
            "{addr} is in a {} range: refused ({how})",
            range.describe()
        ))
    }

    /// The parts of `net` in special-purpose ranges this policy refuses,
    /// each with its range.
    fn refused_parts(&self, net: &Ipv4Net) -> Vec<(Ipv4Net, SpecialRange)> {
        let whole = span(net);
        let mut refused = Vec::new();
        for (special, range) in SPECIAL_PREFIXES {
            let s = span(&special);
            if s.1 < whole.0 || s.0 > whole.1 {
                continue;
            }
            if self.allow_private && range.opened_by_allow_private() {
                continue;
            }
            let mut left = vec![(s.0.max(whole.0), s.1.min(whole.1))];
            for allowed in &self.allowed {
                left = subtract(left, span(allowed));
            }
            for part in left {
                refused.extend(prefixes_of(part).into_iter().map(|p| (p, range)));
            }
        }
        refused
    }

    /// The parts of `net` this policy accepts, as the fewest prefixes: what
    /// may be scanned instead of a prefix [`TargetPolicy::check_prefix`] refuses.
    pub fn scannable_parts(&self, net: &Ipv4Net) -> Vec<Ipv4Net> {
        let mut left = vec![span(net)];
        for (part, _) in self.refused_parts(net) {
            left = subtract(left, span(&part));
        }
        left.into_iter().flat_map(prefixes_of).collect()
    }

    /// Ok when every address of `net` may be probed: each special-purpose
    /// range is intersected with the prefix, so 172.0.0.0/8 is refused for
    /// containing 172.16.0.0/12. A refused prefix is refused whole (never
    /// silently narrowed); the message names the refused ranges and the
    /// parts that may be scanned instead.
    pub fn check_prefix(&self, net: &Ipv4Net) -> Result<(), String> {
        let net = net.trunc();
        let refused = self.refused_parts(&net);
        let Some(&(first, range)) = refused.first() else {
            return Ok(());
        };
        let how = if refused.iter().all(|(_, r)| r.opened_by_allow_private()) {
            "use --allow-private or list the range with --allow"
        } else {
            "list the range explicitly with --allow"
        };
        let mut ranges = format!("{first} ({})", range.describe());
        if refused.len() > 1 {
            ranges += &format!(" and {} more special-purpose part(s)", refused.len() - 1);
        }
        let parts = self.scannable_parts(&net);
        let instead = if parts.is_empty() {
            "no part of it may be scanned".to_string()
        } else if parts.len() <= 8 {
            let list: Vec<String> = parts.iter().map(ToString::to_string).collect();
            format!("scan its other parts instead: {}", list.join(" "))
        } else {
            format!(
                "its other parts make {} prefixes, from {} to {}",
                parts.len(),
                parts[0],
                parts[parts.len() - 1]
            )
        };
        Err(format!(
            "{net} contains {ranges}: refused ({how}); {instead}"
        ))
    }
}

/// This host's own IPv4 addresses, on every interface (loopback included),
/// read with `getifaddrs(3)`: the prober never probes them.
pub fn host_addresses() -> std::io::Result<Vec<Ipv4Addr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list it allocated into `head`, freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; an AF_INET `ifa_addr` points to a sockaddr_in.
        unsafe {
            let entry = &*cursor;
            let addr = entry.ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = &*(addr as *const libc::sockaddr_in);
                out.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
            cursor = entry.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass_special_ones_do_not() {
        let policy = TargetPolicy::default();
        assert!(policy.check(ip("8.8.8.8")).is_ok());
        assert!(policy.check(ip("100.63.255.255")).is_ok());
        assert!(policy.check(ip("172.32.0.1")).is_ok());
        for (addr, range) in [
            ("10.1.2.3", SpecialRange::Private),
            ("172.31.0.1", SpecialRange::Private),
            ("192.168.1.1", SpecialRange::Private),
            ("100.64.0.1", SpecialRange::Shared),
            ("127.0.0.1", SpecialRange::Loopback),
            ("169.254.1.1", SpecialRange::LinkLocal),
            ("198.19.255.1", SpecialRange::Benchmarking),
            ("203.0.113.5", SpecialRange::Documentation),
            ("224.0.0.1", SpecialRange::Multicast),
            ("239.255.255.250", SpecialRange::Multicast),
            ("240.0.0.1", SpecialRange::Reserved),
            ("0.1.2.3", SpecialRange::ThisNetwork),
            ("255.255.255.255", SpecialRange::Broadcast),
        ] {
            assert_eq!(SpecialRange::of(ip(addr)), Some(range), "{addr}");
            let err = policy.check(ip(addr)).unwrap_err();
            assert!(err.contains("refused"), "{err}");
        }
    }

    #[test]
    fn allow_private_opens_labs_but_not_multicast_or_loopback() {
        let policy = TargetPolicy {
            allow_private: true,
            allowed: Vec::new(),
        };
        assert!(policy.check(ip("10.0.0.1")).is_ok());
        assert!(policy.check(ip("198.18.3.4")).is_ok());
        assert!(policy
            .check(ip("224.0.0.1"))
            .unwrap_err()
            .contains("--allow"));
        assert!(policy.check(ip("127.0.0.1")).is_err());
        let explicit = TargetPolicy {
            allow_private: false,
            allowed: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(explicit.check(ip("127.0.0.1")).is_ok());
        assert!(explicit
            .check(ip("10.0.0.1"))
            .unwrap_err()
            .contains("--allow-private"));
    }

    fn prefix(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn the_prefix_table_matches_the_address_rule() {
        for (net, range) in SPECIAL_PREFIXES {
            for addr in [net.network(), net.broadcast()] {
                let got = SpecialRange::of(addr);
                // 240/4 ends with the broadcast address, its own range.
                if addr != Ipv4Addr::BROADCAST {
                    assert_eq!(got, Some(range), "{addr} in {net}");
                }
            }
        }
        // Every address outside the table is ordinary: check the neighbours.
        for (net, _) in SPECIAL_PREFIXES {
            for addr in [
                u32::from(net.network()).checked_sub(1),
                u32::from(net.broadcast()).checked_add(1),
            ]
            .into_iter()
            .flatten()
            .map(Ipv4Addr::from)
            {
                let inside = SPECIAL_PREFIXES.iter().any(|(n, _)| n.contains(&addr));
                assert_eq!(SpecialRange::of(addr).is_some(), inside, "{addr}");
            }
        }
    }

    /// Issue 14, finding 7: a prefix whose ends are public but which
    /// contains a special range is refused, and the message names the
    /// parts that may be scanned.
    #[test]
    fn prefixes_are_checked_by_intersection_not_by_their_ends() {
        let policy = TargetPolicy::default();
        for (wide, inner) in [
            ("172.0.0.0/8", "172.16.0.0/12"),
            ("100.0.0.0/8", "100.64.0.0/10"),
            ("192.0.0.0/8", "192.0.0.0/24"),
            ("198.0.0.0/8", "198.18.0.0/15"),
            ("203.0.0.0/16", "203.0.113.0/24"),
        ] {
            let err = policy.check_prefix(&prefix(wide)).unwrap_err();
            assert!(err.contains(inner), "{err}");
            assert!(err.contains("refused"), "{err}");
            let parts = policy.scannable_parts(&prefix(wide));
            assert!(
                parts.iter().all(|p| policy.check_prefix(p).is_ok()),
                "{parts:?}"
            );
            let inner = prefix(inner);
            assert!(parts
                .iter()
                .all(|p| !p.contains(&inner.network()) && !inner.contains(&p.network())));
            // The parts and the refused range cover the prefix exactly.
            let covered: u64 = parts.iter().map(|p| 1u64 << (32 - p.prefix_len())).sum();
            let refused: u64 = SPECIAL_PREFIXES
                .iter()
                .filter(|(n, _)| prefix(wide).contains(&n.network()))
                .map(|(n, _)| 1u64 << (32 - n.prefix_len()))
                .sum();
            assert_eq!(
                covered + refused,
                1u64 << (32 - prefix(wide).prefix_len()),
                "{wide}"
            );
        }
        // The old check (first and last address) let these through.
        for wide in ["172.0.0.0/8", "100.0.0.0/8"] {
            assert!(policy.check(prefix(wide).network()).is_ok());
            assert!(policy.check(prefix(wide).broadcast()).is_ok());
        }
        let err = policy.check_prefix(&prefix("172.0.0.0/8")).unwrap_err();
        assert!(
            err.contains("172.0.0.0/12 172.32.0.0/11 172.64.0.0/10 172.128.0.0/9"),
            "{err}"
        );
        // A prefix inside a refused range, and one clear of every range.
        assert!(policy.check_prefix(&prefix("10.1.0.0/16")).is_err());
        assert!(policy.check_prefix(&prefix("8.8.0.0/16")).is_ok());
        assert!(policy.check_prefix(&prefix("172.32.0.0/11")).is_ok());
        // --allow-private opens 172.16/12 but not multicast or broadcast.
        let private = TargetPolicy {
            allow_private: true,
            allowed: Vec::new(),
        };
        assert!(private.check_prefix(&prefix("172.0.0.0/8")).is_ok());
        assert!(private.check_prefix(&prefix("240.0.0.0/4")).is_err());
        assert!(private.check_prefix(&prefix("224.0.0.0/3")).is_err());
        // An explicit allowance covering the special part opens it.
        let lab = TargetPolicy {
            allow_private: false,
            allowed: vec![prefix("100.64.0.0/11"), prefix("100.96.0.0/11")],
        };
        assert!(lab.check_prefix(&prefix("100.0.0.0/8")).is_ok());
        let half = TargetPolicy {
            allow_private: false,
            allowed: vec![prefix("100.64.0.0/11")],
        };
        let err = half.check_prefix(&prefix("100.0.0.0/8")).unwrap_err();
        assert!(err.contains("100.96.0.0/11"), "{err}");
    }

    #[test]
    fn cidr_cover_is_exact() {
        assert_eq!(prefixes_of((0, u32::MAX)), vec![prefix("0.0.0.0/0")]);
        assert_eq!(
            prefixes_of((u32::from(ip("10.0.0.1")), u32::from(ip("10.0.0.6")))),
            vec![
                prefix("10.0.0.1/32"),
                prefix("10.0.0.2/31"),
                prefix("10.0.0.4/31"),
                prefix("10.0.0.6/32")
            ]
        );
        assert_eq!(subtract(vec![(0, 10)], (0, 10)), vec![]);
        assert_eq!(subtract(vec![(0, 10)], (3, 4)), vec![(0, 2), (5, 10)]);
    }

    #[test]
    fn host_addresses_are_read_from_the_system() {
        let own = host_addresses().expect("getifaddrs");
        assert!(own.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        // Every address getifaddrs gives is one this host can bind.
        for addr in own {
            assert!(
                std::net::UdpSocket::bind((addr, 0)).is_ok(),
                "{addr} is not this host's"
            );
        }
    }
}
