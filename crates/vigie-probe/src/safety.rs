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
}
