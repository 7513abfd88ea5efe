//! Units: the blocks of address space vigie counts in.
//!
//! An IPv4 unit is a /24 (the address shifted right by 8 bits); an IPv6 unit
//! is a /48 (the address shifted right by 80 bits). Both fit in a `u64`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Address family of a unit: IPv4 (/24 units) or IPv6 (/48 units).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Family {
    /// IPv4; a unit is a /24.
    V4,
    /// IPv6; a unit is a /48.
    V6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// The prefix length of one unit: 24 for IPv4, 48 for IPv6.
    pub fn unit_prefix_len(self) -> u8 {
        match self {
            Family::V4 => 24,
            Family::V6 => 48,
        }
    }

    /// The largest unit number of the family (2^24 - 1 or 2^48 - 1).
    pub fn max_unit(self) -> u64 {
        match self {
            Family::V4 => (1 << 24) - 1,
            Family::V6 => (1 << 48) - 1,
        }
    }

    /// `"ipv4"` or `"ipv6"`.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The IPv4 unit (/24) holding `addr`: the address shifted right by 8 bits.
#[inline]
pub fn v4_unit(addr: Ipv4Addr) -> u64 {
    u64::from(u32::from(addr) >> 8)
}

/// The IPv6 unit (/48) holding `addr`: the address shifted right by 80 bits.
#[inline]
pub fn v6_unit(addr: Ipv6Addr) -> u64 {
    (u128::from(addr) >> 80) as u64
}

/// The family and unit holding `addr`.
///
/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) counts as the IPv4 address
/// it carries.
#[inline]
pub fn unit_of(addr: IpAddr) -> (Family, u64) {
    match addr.to_canonical() {
        IpAddr::V4(v4) => (Family::V4, v4_unit(v4)),
        IpAddr::V6(v6) => (Family::V6, v6_unit(v6)),
    }
}

/// The first address of a unit; `None` when `unit` is beyond the family's range.
pub fn unit_first_addr(family: Family, unit: u64) -> Option<IpAddr> {
    if unit > family.max_unit() {
        return None;
    }
    Some(match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from((unit as u32) << 8)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(u128::from(unit) << 80)),
    })
}

/// The first and last unit (inclusive) of a prefix.
///
/// `None` when the prefix is longer than a unit (/24 for IPv4, /48 for IPv6):
/// such a prefix holds no whole unit. Host bits set in `net` are ignored.
pub fn prefix_units(net: &IpNet) -> Option<(Family, u64, u64)> {
    match net {
        IpNet::V4(v4) => {
            if v4.prefix_len() > 24 {
                return None;
            }
            Some((Family::V4, v4_unit(v4.network()), v4_unit(v4.broadcast())))
        }
        IpNet::V6(v6) => {
            if v6.prefix_len() > 48 {
                return None;
            }
            // ipnet's broadcast() is the last address for IPv6 too.
            Some((Family::V6, v6_unit(v6.network()), v6_unit(v6.broadcast())))
        }
    }
}

/// The units of an IPv4 address range of any alignment, inclusive.
///
/// A unit belongs to the range when the range holds the unit's first address.
/// `None` when the range holds no unit's first address (or is reversed).
pub fn v4_range_units(start: Ipv4Addr, end: Ipv4Addr) -> Option<(u64, u64)> {
    let (start, end) = (u32::from(start), u32::from(end));
    if start > end {
        return None;
    }
    let first = u64::from(start >> 8) + u64::from(start & 0xff != 0);
    let last = u64::from(end >> 8);
    (first <= last).then_some((first, last))
}

/// The units of an IPv6 address range of any alignment, inclusive.
///
/// A unit belongs to the range when the range holds the unit's first address.
/// `None` when the range holds no unit's first address (or is reversed).
pub fn v6_range_units(start: Ipv6Addr, end: Ipv6Addr) -> Option<(u64, u64)> {
    let (start, end) = (u128::from(start), u128::from(end));
    if start > end {
        return None;
    }
    let low_mask = (1u128 << 80) - 1;
    let first = (start >> 80) as u64 + u64::from(start & low_mask != 0);
    let last = (end >> 80) as u64;
    (first <= last).then_some((first, last))
}

/// The units of an address range of any alignment (see [`v4_range_units`]).
///
/// `None` when the two ends are of different families, the range is reversed,
/// or it holds no unit's first address. IPv4-mapped IPv6 ends count as IPv4.
pub fn range_units(start: IpAddr, end: IpAddr) -> Option<(Family, u64, u64)> {
    match (start.to_canonical(), end.to_canonical()) {
        (IpAddr::V4(s), IpAddr::V4(e)) => v4_range_units(s, e).map(|(a, b)| (Family::V4, a, b)),
        (IpAddr::V6(s), IpAddr::V6(e)) => v6_range_units(s, e).map(|(a, b)| (Family::V6, a, b)),
        _ => None,
    }
}

/// How many addresses an address range holds, saturating at `u128::MAX`.
///
/// Used to rank overlapping ranges: the narrower one is the more specific.
pub(crate) fn range_width(start: IpAddr, end: IpAddr) -> u128 {
    let (s, e) = match (start.to_canonical(), end.to_canonical()) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (u128::from(u32::from(s)), u128::from(u32::from(e))),
        (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e)),
        _ => return u128::MAX,
    };
    e.saturating_sub(s).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    #[test]
    fn units_are_slash24_and_slash48() {
        assert_eq!(v4_unit(v4("2.132.0.1")), 0x028400);
        assert_eq!(v4_unit(v4("255.255.255.255")), (1 << 24) - 1);
        assert_eq!(v6_unit(v6("2a00:12f8:1:ffff::1")), 0x2a00_12f8_0001);
        assert_eq!(unit_of("10.1.2.3".parse().unwrap()), (Family::V4, 0x0a0102));
        // IPv4-mapped IPv6 counts as IPv4.
        assert_eq!(
            unit_of("::ffff:10.1.2.3".parse().unwrap()),
            (Family::V4, 0x0a0102)
        );
        assert_eq!(
            unit_first_addr(Family::V4, 0x0a0102),
            Some("10.1.2.0".parse().unwrap())
        );
        assert_eq!(unit_first_addr(Family::V4, 1 << 24), None);
    }

    #[test]
    fn prefix_units_cover_whole_prefix() {
        let net: IpNet = "2.132.0.0/14".parse().unwrap();
        assert_eq!(prefix_units(&net), Some((Family::V4, 0x028400, 0x0287ff)));
        let net: IpNet = "2.132.0.0/24".parse().unwrap();
        assert_eq!(prefix_units(&net), Some((Family::V4, 0x028400, 0x028400)));
        assert_eq!(prefix_units(&"2.132.0.0/25".parse().unwrap()), None);
        let net: IpNet = "2a00:12f8::/32".parse().unwrap();
        assert_eq!(
            prefix_units(&net),
            Some((Family::V6, 0x2a00_12f8_0000, 0x2a00_12f8_ffff))
        );
        assert_eq!(prefix_units(&"2a00:12f8::/49".parse().unwrap()), None);
        let all: IpNet = "::/0".parse().unwrap();
        assert_eq!(prefix_units(&all), Some((Family::V6, 0, (1 << 48) - 1)));
    }

    #[test]
    fn unaligned_ranges_take_units_whose_first_address_they_hold() {
        // 1.0.0.128 - 1.0.2.10 holds the first addresses of 1.0.1.0 and 1.0.2.0.
        assert_eq!(
            v4_range_units(v4("1.0.0.128"), v4("1.0.2.10")),
            Some((0x010001, 0x010002))
        );
        // A /25 at the start of a /24 holds that /24's first address.
        assert_eq!(
            v4_range_units(v4("1.0.0.0"), v4("1.0.0.127")),
            Some((0x010000, 0x010000))
        );
        // The upper half holds none.
        assert_eq!(v4_range_units(v4("1.0.0.128"), v4("1.0.0.255")), None);
        assert_eq!(v4_range_units(v4("1.0.1.0"), v4("1.0.0.0")), None);
        assert_eq!(
            v6_range_units(
                v6("2001:678:98::"),
                v6("2001:678:98:ffff:ffff:ffff:ffff:ffff")
            ),
            Some((0x2001_0678_0098, 0x2001_0678_0098))
        );
        assert_eq!(
            v6_range_units(
                v6("2001:67c:a38:f017::"),
                v6("2001:67c:a38:f017:ffff:ffff:ffff:ffff")
            ),
            None
        );
        assert_eq!(
            range_units("1.0.0.0".parse().unwrap(), "::1".parse().unwrap()),
            None
        );
        assert_eq!(
            range_width(
                "0.0.0.0".parse().unwrap(),
                "255.255.255.255".parse().unwrap()
            ),
            1 << 32
        );
        assert_eq!(
            range_width(
                "::".parse().unwrap(),
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap()
            ),
            u128::MAX
        );
    }
}
