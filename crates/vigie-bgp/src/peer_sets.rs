//! Interned bitsets over peer indices.
//!
//! Every prefix in the routing table needs "which peers currently announce
//! it". A dense bitset of 1,000 peers is 128 bytes, twice the budget per
//! prefix, yet most prefixes share a handful of distinct peer sets (the
//! full-feed peers see almost everything). So each distinct set is stored once
//! and prefixes hold a 4-byte [`PeerSetId`]. Adding or removing a peer maps
//! one set id to another through a transition cache, so the common case costs
//! one hash lookup.

use rustc_hash::FxHashMap;

/// The id of an interned peer set. Id 0 is the empty set.
pub type PeerSetId = u32;

/// The empty peer set.
pub const EMPTY_SET: PeerSetId = 0;

/// The table of distinct peer sets, with reference counts.
#[derive(Default)]
pub struct PeerSets {
    bits: Vec<Box<[u64]>>,
    refs: Vec<u32>,
    by_bits: FxHashMap<Box<[u64]>, PeerSetId>,
    free_ids: Vec<PeerSetId>,
    transitions: FxHashMap<(PeerSetId, u32), PeerSetId>,
}

impl PeerSets {
    /// A table holding only the empty set.
    pub fn new() -> Self {
        let mut sets = PeerSets::default();
        let empty: Box<[u64]> = Box::new([]);
        sets.bits.push(empty.clone());
        sets.refs.push(0);
        sets.by_bits.insert(empty, EMPTY_SET);
        sets
    }

    /// The set `set` with `peer` added (`present`) or removed.
    pub fn with_peer(&mut self, set: PeerSetId, peer: u32, present: bool) -> PeerSetId {
        let transition = (set, (peer << 1) | present as u32);
        if let Some(&next) = self.transitions.get(&transition) {
            return next;
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
        if let Some(&id) = self.by_bits.get(&bits) {
            return id;
        }
        let id = match self.free_ids.pop() {
            Some(id) => {
                self.bits[id as usize] = bits.clone();
                self.refs[id as usize] = 0;
                id
            }
            None => {
                self.bits.push(bits.clone());
                self.refs.push(0);
                (self.bits.len() - 1) as PeerSetId
            }
        };
        self.by_bits.insert(bits, id);
        id
    }

    /// Counts one more prefix holding `set`.
    pub fn retain(&mut self, set: PeerSetId) {
        self.refs[set as usize] += 1;
    }

    /// Counts one prefix fewer holding `set`.
    pub fn release(&mut self, set: PeerSetId) {
        let refs = &mut self.refs[set as usize];
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
        self.transitions.clear();
        for id in 1..self.bits.len() {
            if self.refs[id] == 0 && !self.bits[id].is_empty() {
                let bits = std::mem::take(&mut self.bits[id]);
                self.by_bits.remove(&bits);
                self.free_ids.push(id as PeerSetId);
            }
        }
    }

    /// Sets held by at least one prefix.
    pub fn live_count(&self) -> usize {
        self.refs.iter().skip(1).filter(|&&r| r > 0).count()
    }

    /// Approximate heap bytes used by the table.
    pub fn heap_bytes(&self) -> usize {
        let set_bytes: usize = self.bits.iter().map(|b| b.len() * 8 * 2 + 16 * 2).sum();
        set_bytes
            + self.refs.capacity() * 4
            + self.by_bits.capacity() * 8
            + self.transitions.capacity() * 16
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
