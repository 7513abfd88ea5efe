//! Per-peer routing state: which peers announce which prefix, with what origin.
//!
//! This is the one model every BGP input feeds (MRT archives now; RIS Live,
//! BGP sessions and BMP later). State per prefix is an interned peer bitset
//! ([`PeerSetId`]) plus the origin AS, 8 bytes, keyed by a packed `u64`.

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;
use vigie_geo::Family;

use crate::peer_sets::{PeerSetId, PeerSets, EMPTY_SET};

/// The index of a peer in the routing table.
pub type PeerIdx = u32;

/// The index of a collector (an MRT archive's route collector, a live feed).
pub type CollectorIdx = u16;

/// Shortest IPv4 prefix that counts; shorter ones (a default route) are ignored.
pub const MIN_V4_PREFIX_LEN: u8 = 8;
/// Shortest IPv6 prefix that counts.
pub const MIN_V6_PREFIX_LEN: u8 = 16;

/// A prefix packed for the table: its first unit (/24 or /48) shifted left
/// eight bits, plus its length. Sorting keys puts covering prefixes right
/// before the prefixes they cover.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PrefixKey(pub u64);

impl PrefixKey {
    /// Packs a prefix; `None` for prefixes that never count toward visibility:
    /// longer than /24 (IPv4) or /48 (IPv6), or shorter than /8 or /16.
    pub fn of(net: &IpNet) -> Option<(Family, PrefixKey)> {
        let min_len = match net {
            IpNet::V4(_) => MIN_V4_PREFIX_LEN,
            IpNet::V6(_) => MIN_V6_PREFIX_LEN,
        };
        if net.prefix_len() < min_len {
            return None;
        }
        let (family, first, _last) = vigie_geo::prefix_units(net)?;
        Some((family, PrefixKey(first << 8 | net.prefix_len() as u64)))
    }

    /// The first unit the prefix covers.
    pub fn first_unit(self) -> u64 {
        self.0 >> 8
    }

    /// The prefix length.
    pub fn prefix_len(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// The last unit the prefix covers, given its family.
    pub fn last_unit(self, family: Family) -> u64 {
        let unit_len = match family {
            Family::V4 => 24,
            Family::V6 => 48,
        };
        self.first_unit() + (1u64 << (unit_len - self.prefix_len() as u32)) - 1
    }
}

/// The index of a family in per-family arrays.
pub fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

/// Routing state of one prefix.
#[derive(Clone, Copy, Debug)]
pub struct PrefixState {
    /// Which peers announce it.
    pub peers: PeerSetId,
    /// Its origin AS as last announced; 0 when unknown.
    pub origin: u32,
}

/// A collector peer.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The collector it feeds.
    pub collector: CollectorIdx,
    /// Its address.
    pub ip: IpAddr,
    /// Its AS number.
    pub asn: u32,
    /// How many prefixes it announces, per family (IPv4, IPv6).
    pub prefix_counts: [u64; 2],
}

/// What an announcement or withdrawal did to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The prefix's origin AS after the change (for a withdrawal, before it), 0 if unknown.
    pub origin: u32,
    /// Whether the set of peers announcing the prefix changed.
    pub changed: bool,
}

/// The routing state of every peer of every collector.
pub struct RoutingTable {
    collectors: Vec<String>,
    peers: Vec<Peer>,
    peer_index: FxHashMap<(CollectorIdx, IpAddr), PeerIdx>,
    sets: PeerSets,
    prefixes: [FxHashMap<PrefixKey, PrefixState>; 2],
    add_paths: FxHashMap<(PeerIdx, u8, PrefixKey), Vec<u32>>,
}

impl Default for RoutingTable {
    fn default() -> Self {
        Self::new()
    }
}

impl RoutingTable {
    /// An empty table.
    pub fn new() -> Self {
        RoutingTable {
            collectors: Vec::new(),
            peers: Vec::new(),
            peer_index: FxHashMap::default(),
            sets: PeerSets::new(),
            prefixes: [FxHashMap::default(), FxHashMap::default()],
            add_paths: FxHashMap::default(),
        }
    }

    /// The index of the collector named `name`, registering it if new.
    pub fn collector(&mut self, name: &str) -> CollectorIdx {
        if let Some(i) = self.collectors.iter().position(|c| c == name) {
            return i as CollectorIdx;
        }
        self.collectors.push(name.to_string());
        (self.collectors.len() - 1) as CollectorIdx
    }

    /// The name of a collector.
    pub fn collector_name(&self, collector: CollectorIdx) -> &str {
        self.collectors
            .get(collector as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// The index of a peer, registering it if new. A peer is a session: the
    /// same address on another collector is another peer.
    pub fn peer(&mut self, collector: CollectorIdx, ip: IpAddr, asn: u32) -> PeerIdx {
        if let Some(&idx) = self.peer_index.get(&(collector, ip)) {
            let peer = &mut self.peers[idx as usize];
            if peer.asn != asn && asn != 0 {
                peer.asn = asn;
            }
            return idx;
        }
        let idx = self.peers.len() as PeerIdx;
        self.peers.push(Peer {
            collector,
            ip,
            asn,
            prefix_counts: [0, 0],
        });
        self.peer_index.insert((collector, ip), idx);
        idx
    }

    /// Every peer, by index.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// The interned peer sets.
    pub fn peer_sets(&self) -> &PeerSets {
        &self.sets
    }

    /// The prefixes of a family with their state.
    pub fn prefixes(&self, family: Family) -> &FxHashMap<PrefixKey, PrefixState> {
        &self.prefixes[family_index(family)]
    }

    /// Total prefixes held, both families.
    pub fn prefix_count(&self) -> usize {
        self.prefixes[0].len() + self.prefixes[1].len()
    }

    /// Records that `peer` announces `key` with `origin` (0 if unknown).
    pub fn announce(
        &mut self,
        peer: PeerIdx,
        family: Family,
        key: PrefixKey,
        path_id: Option<u32>,
        origin: u32,
    ) -> Applied {
        let fam = family_index(family);
        if let Some(path_id) = path_id {
            let paths = self.add_paths.entry((peer, fam as u8, key)).or_default();
            if !paths.contains(&path_id) {
                paths.push(path_id);
            }
        }
        let state = self.prefixes[fam].entry(key).or_insert(PrefixState {
            peers: EMPTY_SET,
            origin,
        });
        if origin != 0 {
            state.origin = origin;
        }
        let origin = state.origin;
        let before = state.peers;
        let after = self.sets.with_peer(before, peer, true);
        if after == before {
            return Applied {
                origin,
                changed: false,
            };
        }
        state.peers = after;
        self.sets.release(before);
        self.sets.retain(after);
        self.peers[peer as usize].prefix_counts[fam] += 1;
        Applied {
            origin,
            changed: true,
        }
    }

    /// Records that `peer` withdrew `key` (one path of it, with add-path).
    pub fn withdraw(
        &mut self,
        peer: PeerIdx,
        family: Family,
        key: PrefixKey,
        path_id: Option<u32>,
    ) -> Applied {
        let fam = family_index(family);
        if let Some(path_id) = path_id {
            if let Some(paths) = self.add_paths.get_mut(&(peer, fam as u8, key)) {
                paths.retain(|&p| p != path_id);
                if !paths.is_empty() {
                    let origin = self.prefixes[fam].get(&key).map_or(0, |s| s.origin);
                    return Applied {
                        origin,
                        changed: false,
                    };
                }
                self.add_paths.remove(&(peer, fam as u8, key));
            }
        }
        self.remove_peer_from(peer, fam, key)
    }

    fn remove_peer_from(&mut self, peer: PeerIdx, fam: usize, key: PrefixKey) -> Applied {
        let Some(state) = self.prefixes[fam].get_mut(&key) else {
            return Applied {
                origin: 0,
                changed: false,
            };
        };
        let origin = state.origin;
        let before = state.peers;
        let after = self.sets.with_peer(before, peer, false);
        if after == before {
            return Applied {
                origin,
                changed: false,
            };
        }
        self.sets.release(before);
        if after == EMPTY_SET {
            self.prefixes[fam].remove(&key);
        } else {
            state.peers = after;
            self.sets.retain(after);
        }
        let count = &mut self.peers[peer as usize].prefix_counts[fam];
        *count = count.saturating_sub(1);
        Applied {
            origin,
            changed: true,
        }
    }

    /// Drops every route of `peer` (its session went down). Returns how many
    /// prefixes it withdrew.
    pub fn drop_peer(&mut self, peer: PeerIdx) -> u64 {
        let mut dropped = 0;
        self.add_paths.retain(|&(p, _, _), _| p != peer);
        for fam in 0..2 {
            let keys: Vec<PrefixKey> = self.prefixes[fam]
                .iter()
                .filter(|(_, state)| self.sets.contains(state.peers, peer))
                .map(|(&key, _)| key)
                .collect();
            for key in keys {
                if self.remove_peer_from(peer, fam, key).changed {
                    dropped += 1;
                }
            }
        }
        dropped
    }

    /// Drops every route of every peer of `collector` (before reloading it from a RIB dump).
    pub fn drop_collector(&mut self, collector: CollectorIdx) -> u64 {
        let peers: Vec<PeerIdx> = (0..self.peers.len() as PeerIdx)
            .filter(|&p| self.peers[p as usize].collector == collector)
            .collect();
        peers.into_iter().map(|p| self.drop_peer(p)).sum()
    }

    /// The names of the collectors, by index.
    pub fn collector_names(&self) -> &[String] {
        &self.collectors
    }

    /// Announces in this table every route `from` holds from the peers of
    /// its collector `name` (under the same collector name here).
    pub fn copy_collector(&mut self, from: &RoutingTable, name: &str) {
        let Some(source) = from.collectors.iter().position(|c| c == name) else {
            return;
        };
        let target = self.collector(name);
        let mut mapped: FxHashMap<PeerIdx, PeerIdx> = FxHashMap::default();
        for (i, peer) in from.peers.iter().enumerate() {
            if peer.collector as usize == source {
                mapped.insert(i as PeerIdx, self.peer(target, peer.ip, peer.asn));
            }
        }
        for (fam, family) in [Family::V4, Family::V6].into_iter().enumerate() {
            for (&key, state) in &from.prefixes[fam] {
                for peer in from.sets.peers(state.peers) {
                    let Some(&to) = mapped.get(&peer) else {
                        continue;
                    };
                    match from.add_paths.get(&(peer, fam as u8, key)) {
                        Some(paths) => {
                            for &path_id in paths {
                                self.announce(to, family, key, Some(path_id), state.origin);
                            }
                        }
                        None => {
                            self.announce(to, family, key, None, state.origin);
                        }
                    }
                }
            }
        }
    }

    /// Frees peer sets no prefix uses any more.
    pub fn collect_garbage(&mut self) {
        self.sets.collect_garbage();
    }

    /// Approximate heap bytes of the routing state (prefix maps, peer sets, add-path paths).
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(PrefixKey, PrefixState)>() + 1;
        let maps: usize = self.prefixes.iter().map(|m| m.capacity() * entry).sum();
        let add_path = self.add_paths.capacity()
            * (std::mem::size_of::<((PeerIdx, u8, PrefixKey), Vec<u32>)>() + 1)
            + self
                .add_paths
                .values()
                .map(|v| v.capacity() * 4)
                .sum::<usize>();
        maps + self.sets.heap_bytes()
            + add_path
            + self.peers.capacity() * std::mem::size_of::<Peer>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> (Family, PrefixKey) {
        PrefixKey::of(&text.parse().unwrap()).unwrap()
    }

    #[test]
    fn prefix_keys_sort_covering_first() {
        let (_, a) = key("10.0.0.0/8");
        let (_, b) = key("10.0.0.0/16");
        let (_, c) = key("10.1.0.0/16");
        assert!(a < b && b < c);
        assert_eq!(a.last_unit(Family::V4) - a.first_unit() + 1, 65_536);
        assert_eq!(b.last_unit(Family::V4) - b.first_unit() + 1, 256);
        assert!(PrefixKey::of(&"10.0.0.0/25".parse().unwrap()).is_none());
        assert!(PrefixKey::of(&"0.0.0.0/0".parse().unwrap()).is_none());
        let (fam, v6) = key("2001:db8::/32");
        assert_eq!(fam, Family::V6);
        assert_eq!(v6.last_unit(fam) - v6.first_unit() + 1, 65_536);
    }

    #[test]
    fn announce_withdraw_and_peer_counts() {
        let mut table = RoutingTable::new();
        let c = table.collector("rrc00");
        let p1 = table.peer(c, "192.0.2.1".parse().unwrap(), 64500);
        let p2 = table.peer(c, "192.0.2.2".parse().unwrap(), 64501);
        let (fam, k) = key("2.132.0.0/14");
        assert!(table.announce(p1, fam, k, None, 9198).changed);
        assert!(!table.announce(p1, fam, k, None, 9198).changed);
        assert!(table.announce(p2, fam, k, None, 9198).changed);
        assert_eq!(table.peers()[0].prefix_counts, [1, 0]);
        assert_eq!(table.withdraw(p1, fam, k, None).origin, 9198);
        assert_eq!(table.prefix_count(), 1);
        assert_eq!(table.drop_peer(p2), 1);
        assert_eq!(table.prefix_count(), 0);
        assert_eq!(table.peers()[1].prefix_counts, [0, 0]);
        assert!(
            !table.withdraw(p1, fam, k, None).changed,
            "withdrawing an unknown prefix is a no-op"
        );
    }

    #[test]
    fn add_path_keeps_prefix_until_last_path_goes() {
        let mut table = RoutingTable::new();
        let c = table.collector("x");
        let p = table.peer(c, "192.0.2.1".parse().unwrap(), 65000);
        let (fam, k) = key("198.51.100.0/24");
        table.announce(p, fam, k, Some(1), 65001);
        table.announce(p, fam, k, Some(2), 65001);
        assert!(!table.withdraw(p, fam, k, Some(1)).changed);
        assert_eq!(table.prefix_count(), 1);
        assert!(table.withdraw(p, fam, k, Some(2)).changed);
        assert_eq!(table.prefix_count(), 0);
    }
}
