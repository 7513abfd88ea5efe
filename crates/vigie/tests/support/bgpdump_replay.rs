//! The independent count: decodes MRT files with `bgpdump -m` (not vigie)
//! and replays them with a deliberately simple model of IODA's BGP
//! visibility, so vigie's numbers can be checked against it.
//!
//! The model, written from the definitions and nothing else:
//! - routes are kept per collector peer (peer IP and peer AS);
//! - a peer is full-feed when it holds more than 0 routes (the test runs vigie
//!   with `--full-feed-v4 0 --full-feed-v6 0`);
//! - a prefix is visible when at least half of the full-feed peer ASNs have
//!   a route to it;
//! - an entity's value is the number of unique /24s (IPv4) or /48s (IPv6)
//!   that its visible prefixes cover: overlapping prefixes count once;
//! - a withdrawal is charged to the origin AS the peer's route had.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

/// An IPv4 or IPv6 prefix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Prefix {
    /// An IPv4 network address and length.
    V4(u32, u8),
    /// An IPv6 network address and length.
    V6(u128, u8),
}

impl FromStr for Prefix {
    type Err = String;

    fn from_str(text: &str) -> Result<Prefix, String> {
        let bad = || format!("'{text}' is not a prefix");
        let (address, length) = text.split_once('/').ok_or_else(bad)?;
        let length: u8 = length.parse().map_err(|_| bad())?;
        if let Ok(v4) = address.parse::<Ipv4Addr>() {
            if length > 32 {
                return Err(bad());
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            return Ok(Prefix::V4(u32::from(v4) & mask, length));
        }
        let v6: Ipv6Addr = address.parse().map_err(|_| bad())?;
        if length > 128 {
            return Err(bad());
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
        Ok(Prefix::V6(u128::from(v6) & mask, length))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Prefix::V4(address, length) => write!(f, "{}/{length}", Ipv4Addr::from(address)),
            Prefix::V6(address, length) => write!(f, "{}/{length}", Ipv6Addr::from(address)),
        }
    }
}

impl Prefix {
    /// The half-open range of /24 (IPv4) or /48 (IPv6) block numbers the
    /// prefix covers; a prefix longer than /24 or /48 covers its one block.
    pub fn blocks(&self) -> (bool, u128, u128) {
        match *self {
            Prefix::V4(address, length) => {
                let first = u128::from(address >> 8);
                (true, first, first + (1u128 << 24u8.saturating_sub(length)))
            }
            Prefix::V6(address, length) => {
                let first = address >> 80;
                (false, first, first + (1u128 << 48u8.saturating_sub(length)))
            }
        }
    }

    /// True when `self` lies inside `outer` (or is it).
    pub fn is_within(&self, outer: &Prefix) -> bool {
        let (v4, first, end) = self.blocks();
        let (outer_v4, outer_first, outer_end) = outer.blocks();
        let length_ok = match (self, outer) {
            (Prefix::V4(_, a), Prefix::V4(_, b)) | (Prefix::V6(_, a), Prefix::V6(_, b)) => a >= b,
            _ => false,
        };
        v4 == outer_v4 && length_ok && first >= outer_first && end <= outer_end
    }
}

/// What one `bgpdump -m` line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// An announcement (`A`, in BGP4MP) or a RIB entry (`B`, in TABLE_DUMP*).
    Route {
        /// The origin AS: the last AS of the path.
        origin: u32,
    },
    /// A withdrawal (`W`).
    Withdraw,
    /// A BGP4MP state change; `established` is whether the session is now up.
    State {
        /// True when the new state is Established (6).
        established: bool,
    },
}

/// One element decoded by bgpdump.
#[derive(Clone, Debug)]
pub struct Element {
    /// The record's time, Unix seconds.
    pub time: i64,
    /// True for a TABLE_DUMP/TABLE_DUMP_V2 RIB entry.
    pub from_rib: bool,
    /// The collector peer: IP and AS.
    pub peer: (String, u32),
    /// The prefix (absent for state changes).
    pub prefix: Option<Prefix>,
    /// What happened.
    pub action: Action,
}

/// Decodes `files` with `bgpdump -m`; elements in file order, then record order.
pub fn decode(bgpdump: &Path, files: &[PathBuf]) -> Result<Vec<Element>, String> {
    let mut elements = Vec::new();
    for file in files {
        let output = Command::new(bgpdump)
            .arg("-m")
            .arg(file)
            .output()
            .map_err(|e| format!("cannot run bgpdump: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "bgpdump -m {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        for (number, line) in String::from_utf8_lossy(&output.stdout).lines().enumerate() {
            let element = parse_line(line)
                .map_err(|e| format!("{} line {}: {e}: {line}", file.display(), number + 1))?;
            elements.extend(element);
        }
    }
    Ok(elements)
}

/// Parses one `bgpdump -m` line; `None` for lines that carry no route.
pub fn parse_line(line: &str) -> Result<Option<Element>, String> {
    let fields: Vec<&str> = line.split('|').collect();
    let field = |i: usize| fields.get(i).copied().ok_or("too few fields");
    let time: i64 = field(1)?.parse().map_err(|_| "bad time")?;
    let peer = (
        field(3)?.to_string(),
        field(4)?.parse().map_err(|_| "bad peer AS")?,
    );
    let from_rib = field(0)?.starts_with("TABLE_DUMP");
    let (prefix, action) = match field(2)? {
        "A" | "B" => {
            let path = field(6)?;
            let last = path.split_whitespace().last().ok_or("empty AS path")?;
            let origin = last.parse().map_err(|_| {
                format!("origin '{last}' is not one AS (AS sets are not used in the lab)")
            })?;
            (Some(field(5)?.parse()?), Action::Route { origin })
        }
        "W" => (Some(field(5)?.parse()?), Action::Withdraw),
        "STATE" => (
            None,
            Action::State {
                established: field(6)? == "6",
            },
        ),
        _ => return Ok(None),
    };
    Ok(Some(Element {
        time,
        from_rib,
        peer,
        prefix,
        action,
    }))
}

/// Counts for one entity (`AS9198`, `KZ`): visible blocks and events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Unique visible IPv4 /24s.
    pub slash24s: u64,
    /// Unique visible IPv6 /48s.
    pub slash48s: u64,
    /// Announcement elements (one per peer and prefix).
    pub announcements: u64,
    /// Withdrawal elements (one per peer and prefix).
    pub withdrawals: u64,
}

/// The replayed routing state of every collector peer.
#[derive(Default)]
pub struct Replay {
    routes: BTreeMap<(String, u32), BTreeMap<Prefix, u32>>,
}

impl Replay {
    /// Applies one element; returns the origin AS it concerns (for a
    /// withdrawal, the origin of the route it removed), if any.
    pub fn apply(&mut self, element: &Element) -> Option<u32> {
        let routes = self.routes.entry(element.peer.clone()).or_default();
        match (&element.action, element.prefix) {
            (Action::Route { origin }, Some(prefix)) => {
                routes.insert(prefix, *origin);
                Some(*origin)
            }
            (Action::Withdraw, Some(prefix)) => routes.remove(&prefix),
            (Action::State { established: false }, _) => {
                routes.clear();
                None
            }
            _ => None,
        }
    }

    /// The visible prefixes with their origin AS.
    pub fn visible(&self) -> Result<BTreeMap<Prefix, u32>, String> {
        let full_feed_asns: BTreeSet<u32> = self
            .routes
            .iter()
            .filter(|(_, routes)| !routes.is_empty())
            .map(|((_, asn), _)| *asn)
            .collect();
        let mut seen_by: BTreeMap<Prefix, (BTreeSet<u32>, BTreeSet<u32>)> = BTreeMap::new();
        for ((_, peer_asn), routes) in &self.routes {
            for (prefix, origin) in routes {
                let entry = seen_by.entry(*prefix).or_default();
                entry.0.insert(*peer_asn);
                entry.1.insert(*origin);
            }
        }
        let mut visible = BTreeMap::new();
        for (prefix, (asns, origins)) in seen_by {
            if asns.len() * 2 < full_feed_asns.len() {
                continue;
            }
            if origins.len() != 1 {
                return Err(format!(
                    "{prefix} has several origins {origins:?}: not in the lab plan"
                ));
            }
            visible.extend(origins.into_iter().map(|origin| (prefix, origin)));
        }
        Ok(visible)
    }
}

/// Unique /24s and /48s of each entity: per origin AS (`AS9198`) and per
/// country (`KZ`, from `country_of`), overlapping prefixes counted once.
pub fn visible_counts(
    visible: &BTreeMap<Prefix, u32>,
    country_of: &dyn Fn(&Prefix) -> Option<&'static str>,
) -> BTreeMap<String, Counts> {
    let mut ranges: BTreeMap<(String, bool), Vec<(u128, u128)>> = BTreeMap::new();
    for (prefix, origin) in visible {
        let (v4, first, end) = prefix.blocks();
        ranges
            .entry((format!("AS{origin}"), v4))
            .or_default()
            .push((first, end));
        if let Some(country) = country_of(prefix) {
            ranges
                .entry((country.to_string(), v4))
                .or_default()
                .push((first, end));
        }
    }
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for ((entity, v4), mut list) in ranges {
        let total = union_length(&mut list);
        let entry = counts.entry(entity).or_default();
        if v4 {
            entry.slash24s = total;
        } else {
            entry.slash48s = total;
        }
    }
    counts
}

/// The total length of a union of half-open ranges.
fn union_length(ranges: &mut [(u128, u128)]) -> u64 {
    ranges.sort_unstable();
    let mut total: u128 = 0;
    let mut reach: u128 = 0;
    for &(first, end) in ranges.iter() {
        let first = first.max(reach);
        if end > first {
            total += end - first;
            reach = end;
        }
    }
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// Replays update elements (sorted by time) and returns, for each bin
/// start, each entity's counts: visible blocks at the end of the bin, and
/// the announcements and withdrawals inside it.
pub fn replay_bins(
    elements: &[Element],
    bin_secs: i64,
    first_bin: i64,
    last_bin: i64,
    country_of: &dyn Fn(&Prefix) -> Option<&'static str>,
) -> Result<BTreeMap<i64, BTreeMap<String, Counts>>, String> {
    let mut sorted: Vec<&Element> = elements.iter().collect();
    sorted.sort_by_key(|element| element.time);
    let mut replay = Replay::default();
    let mut next = 0;
    let mut bins = BTreeMap::new();
    let mut bin = first_bin;
    while bin <= last_bin {
        let mut events: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        while let Some(element) = sorted.get(next).filter(|e| e.time < bin + bin_secs) {
            next += 1;
            let origin = replay.apply(element);
            if element.time < bin {
                continue;
            }
            let (Some(origin), Some(prefix)) = (origin, element.prefix) else {
                continue;
            };
            let mut entities = vec![format!("AS{origin}")];
            entities.extend(country_of(&prefix).map(str::to_string));
            for entity in entities {
                let entry = events.entry(entity).or_default();
                match element.action {
                    Action::Route { .. } => entry.0 += 1,
                    Action::Withdraw => entry.1 += 1,
                    Action::State { .. } => {}
                }
            }
        }
        let mut counts = visible_counts(&replay.visible()?, country_of);
        for (entity, (announcements, withdrawals)) in events {
            let entry = counts.entry(entity).or_default();
            entry.announcements = announcements;
            entry.withdrawals = withdrawals;
        }
        bins.insert(bin, counts);
        bin += bin_secs;
    }
    Ok(bins)
}

/// Replays a RIB dump (all its entries) and returns each entity's counts.
pub fn replay_rib(
    elements: &[Element],
    country_of: &dyn Fn(&Prefix) -> Option<&'static str>,
) -> Result<BTreeMap<String, Counts>, String> {
    let mut replay = Replay::default();
    for element in elements {
        if !element.from_rib {
            return Err(format!("not a RIB entry: {element:?}"));
        }
        replay.apply(element);
    }
    Ok(visible_counts(&replay.visible()?, country_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_counts_overlaps_once() {
        let p = |s: &str| s.parse::<Prefix>().unwrap_or_else(|e| panic!("{e}"));
        let mut visible = BTreeMap::new();
        visible.insert(p("2.132.0.0/14"), 9198);
        visible.insert(p("2.133.10.0/24"), 9198);
        visible.insert(p("2a00:12f8::/32"), 9198);
        let counts = visible_counts(&visible, &|_| Some("KZ"));
        assert_eq!(counts["AS9198"].slash24s, 1024);
        assert_eq!(counts["AS9198"].slash48s, 65536);
        assert_eq!(counts["KZ"].slash24s, 1024);
    }
}
