//! Interned bitsets over peer indices.
//!
//! Every prefix in the routing table needs "which peers currently announce
//! it". A dense bitset of 1,000 peers is 128 bytes, twice the budget per
//! prefix, yet most prefixes share a handful of distinct peer sets (the
//! full-feed peers see almost everything). So each distinct set is stored once
//! and prefixes hold a 4-byte [`PeerSetId`]. Adding or removing a peer maps
//! one set id to another through a transition cache, so the common case costs
//! one hash lookup.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

/// The id of an interned peer set. Id 0 is the empty set.
pub type PeerSetId = u32;

/// The empty peer set.
pub const EMPTY_SET: PeerSetId = 0;

/// Transitions remembered before the cache is emptied, so that it stays a
/// small fraction of the table's memory.
const MAX_CACHED_TRANSITIONS: usize = 1 << 16;

/// The table of distinct peer sets, with reference counts.
///
/// Each set's bits are stored once; the index finds a set's id from its bits.
#[derive(Default)]
pub struct PeerSets {
    bits: Vec<Box<[u64]>>,
    refs: Vec<u32>,
    index: HashTable<PeerSetId>,
    free_ids: Vec<PeerSetId>,
    transitions: FxHashMap<(PeerSetId, u32), PeerSetId>,
    live: usize,
}

/// Unreferenced sets tolerated before they are freed: at least this many, or
/// as many as there are live sets.
const MIN_GARBAGE_BEFORE_COLLECTION: usize = 1 << 16;

fn hash_bits(bits: &[u64]) -> u64 {
    FxBuildHasher.hash_one(bits)
}

impl PeerSets {
    /// A table holding only the empty set.
    pub fn new() -> Self {
        let mut sets = PeerSets::default();
        sets.bits.push(Box::new([]));
        sets.refs.push(0);
        sets.index
            .insert_unique(hash_bits(&[]), EMPTY_SET, |_| hash_bits(&[]));
        sets
    }

    /// The set `set` with `peer` added (`present`) or removed.
    ///
    /// `set` must be held by a prefix (or be the empty set): unreferenced sets
    /// may be freed here when too many have piled up.
    pub fn with_peer(&mut self, set: PeerSetId, peer: u32, present: bool) -> PeerSetId {
        // Most updates re-announce a route the peer already has: no change.
        if self.contains(set, peer) == present {
            return set;
        }
        let garbage = self.bits.len() - self.free_ids.len() - 1 - self.live;
        if garbage > self.live.max(MIN_GARBAGE_BEFORE_COLLECTION) {
            self.collect_garbage();
        }
        let transition = (set, (peer << 1) | present as u32);
        if let Some(&next) = self.transitions.get(&transition) {
            return next;
        }
        if self.transitions.len() >= MAX_CACHED_TRANSITIONS {
            self.transitions.clear();
        }
        let current = &self.bits[set as usize];
        let word = (peer / 64) as usize;
        let mask = 1u64 << (peer % 64);
        let already = current.get(word).is_some_and(|w| w & mask != 0);
        let next = if already == present {
            set
        } else {
            let mut bits = current.to_vec();
            if present {
                if bits.len() <= word {
                    bits.resize(word + 1, 0);
                }
                bits[word] |= mask;
            } else {
                bits[word] &= !mask;
                while bits.last() == Some(&0) {
                    bits.pop();
                }
            }
            self.intern(bits.into_boxed_slice())
        };
        self.transitions.insert(transition, next);
        next
    }

    fn intern(&mut self, bits: Box<[u64]>) -> PeerSetId {
        let hash = hash_bits(&bits);
        let stored = &self.bits;
        if let Some(&id) = self.index.find(hash, |&id| *stored[id as usize] == *bits) {
            return id;
        }
        let id = match self.free_ids.pop() {
            Some(id) => {
                self.bits[id as usize] = bits;
                self.refs[id as usize] = 0;
                id
            }
            None => {
                self.bits.push(bits);
                self.refs.push(0);
                (self.bits.len() - 1) as PeerSetId
            }
        };
        let stored = &self.bits;
        self.index
            .insert_unique(hash, id, |&other| hash_bits(&stored[other as usize]));
        id
    }

    /// Counts one more prefix holding `set`.
    pub fn retain(&mut self, set: PeerSetId) {
        let refs = &mut self.refs[set as usize];
        *refs += 1;
        if *refs == 1 && set != EMPTY_SET {
            self.live += 1;
        }
    }

    /// Counts one prefix fewer holding `set`.
    pub fn release(&mut self, set: PeerSetId) {
        let refs = &mut self.refs[set as usize];
        if *refs == 1 && set != EMPTY_SET {
            self.live -= 1;
        }
        *refs = refs.saturating_sub(1);
    }

    /// Whether `peer` is in `set`.
    pub fn contains(&self, set: PeerSetId, peer: u32) -> bool {
        self.bits[set as usize]
            .get((peer / 64) as usize)
            .is_some_and(|w| w & (1u64 << (peer % 64)) != 0)
    }

    /// The peers in `set`, in index order.
    pub fn peers(&self, set: PeerSetId) -> impl Iterator<Item = u32> + '_ {
        self.bits[set as usize]
            .iter()
            .enumerate()
            .flat_map(|(word_index, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    Some(word_index as u32 * 64 + bit)
                })
            })
    }

    /// One past the highest set id in use; ids below it may be free.
    pub fn id_bound(&self) -> usize {
        self.bits.len()
    }

    /// Whether any prefix holds `set`.
    pub fn is_live(&self, set: PeerSetId) -> bool {
        self.refs.get(set as usize).is_some_and(|&r| r > 0)
    }

    /// Frees sets no prefix holds any more and forgets cached transitions.
    pub fn collect_garbage(&mut self) {
        self.transitions = FxHashMap::default();
        for id in 1..self.bits.len() {
            if self.refs[id] == 0 && !self.bits[id].is_empty() {
                let hash = hash_bits(&self.bits[id]);
                if let Ok(entry) = self.index.find_entry(hash, |&other| other as usize == id) {
                    entry.remove();
                }
                self.bits[id] = Box::new([]);
                self.free_ids.push(id as PeerSetId);
            }
        }
    }

    /// Sets held by at least one prefix.
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Approximate heap bytes used by the table.
    pub fn heap_bytes(&self) -> usize {
        let set_bytes: usize =
            self.bits.iter().map(|b| b.len() * 8).sum::<usize>() + self.bits.capacity() * 16;
        set_bytes
            + self.refs.capacity() * 4
            + self.index.capacity() * 5
            + self.transitions.capacity() * 13
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sets_share_one_id() {
        let mut sets = PeerSets::new();
        let a = sets.with_peer(EMPTY_SET, 3, true);
        let ab = sets.with_peer(a, 700, true);
        let b = sets.with_peer(EMPTY_SET, 700, true);
        let ba = sets.with_peer(b, 3, true);
        assert_eq!(ab, ba);
        assert!(sets.contains(ab, 3) && sets.contains(ab, 700) && !sets.contains(ab, 4));
        assert_eq!(sets.peers(ab).collect::<Vec<_>>(), vec![3, 700]);
        assert_eq!(sets.with_peer(ab, 700, false), a);
        assert_eq!(sets.with_peer(a, 3, false), EMPTY_SET);
        assert_eq!(sets.with_peer(a, 3, true), a);
    }

    #[test]
    fn garbage_collection_reuses_ids() {
        let mut sets = PeerSets::new();
        let a = sets.with_peer(EMPTY_SET, 1, true);
        sets.retain(a);
        let b = sets.with_peer(EMPTY_SET, 2, true);
        sets.collect_garbage();
        assert!(sets.is_live(a));
        assert!(!sets.is_live(b));
        let c = sets.with_peer(EMPTY_SET, 5, true);
        assert_eq!(c, b, "the freed id is reused");
        assert_eq!(sets.peers(c).collect::<Vec<_>>(), vec![5]);
        assert_eq!(sets.with_peer(EMPTY_SET, 1, true), a);
    }
}
