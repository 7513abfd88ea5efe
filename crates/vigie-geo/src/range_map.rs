//! Sorted, disjoint unit ranges carrying values, and the builder that
//! resolves overlapping input ranges into them.

use std::collections::BTreeMap;

/// Sorted, disjoint, inclusive unit ranges, each carrying a value.
///
/// Lookups are a binary search over the range starts, narrowed first by a
/// bucket index over the high bits of the unit (two to four buckets per range),
/// so a lookup touches a few cache lines whatever the map's size. Adjacent
/// ranges never carry equal values (they are merged when the map is built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRangeMap<T> {
    starts: Vec<u64>,
    ends: Vec<u64>,
    values: Vec<T>,
    /// `bucket_rank[b]`: how many ranges start at or before unit `b << bucket_shift`.
    /// Empty when not built (small maps, or a map still being filled).
    bucket_rank: Vec<u32>,
    bucket_shift: u32,
}

impl<T> Default for UnitRangeMap<T> {
    fn default() -> Self {
        UnitRangeMap {
            starts: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
            bucket_rank: Vec::new(),
            bucket_shift: 0,
        }
    }
}

/// Maps with fewer ranges than this are searched without a bucket index.
const MIN_RANGES_FOR_INDEX: usize = 64;
/// The bucket index never has more buckets than this (4 MiB of u32).
const MAX_BUCKETS_LOG2: u32 = 20;

impl<T: Copy + Eq> UnitRangeMap<T> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many ranges start at or before `unit`.
    #[inline]
    fn rank(&self, unit: u64) -> usize {
        if self.bucket_rank.is_empty() {
            return self.starts.partition_point(|&start| start <= unit);
        }
        let bucket = unit >> self.bucket_shift;
        let Ok(bucket) = usize::try_from(bucket) else {
            return self.starts.len();
        };
        // bucket_rank has one entry per bucket up to the last range's start.
        let (Some(&low), high) = (
            self.bucket_rank.get(bucket),
            self.bucket_rank.get(bucket + 1),
        ) else {
            return self.starts.len();
        };
        let (low, high) = (
            low as usize,
            high.map_or(self.starts.len(), |&h| h as usize),
        );
        match self.starts.get(low..high) {
            Some(slice) => low + slice.partition_point(|&start| start <= unit),
            None => self.starts.partition_point(|&start| start <= unit),
        }
    }

    /// Builds the bucket index; called once a map is complete.
    pub(crate) fn finish(&mut self) {
        self.bucket_rank.clear();
        self.bucket_shift = 0;
        let (Some(&last_start), true) = (
            self.starts.last(),
            self.starts.len() >= MIN_RANGES_FOR_INDEX && u32::try_from(self.starts.len()).is_ok(),
        ) else {
            self.bucket_rank.shrink_to_fit();
            return;
        };
        let start_bits = u64::BITS - last_start.leading_zeros();
        let buckets_log2 =
            (usize::BITS - self.starts.len().leading_zeros() + 1).min(MAX_BUCKETS_LOG2);
        self.bucket_shift = start_bits.saturating_sub(buckets_log2);
        let bucket_count = (last_start >> self.bucket_shift) as usize + 1;
        self.bucket_rank.reserve_exact(bucket_count);
        let mut ranges_so_far = 0usize;
        for bucket in 0..bucket_count as u64 {
            let bucket_start = bucket << self.bucket_shift;
            while self
                .starts
                .get(ranges_so_far)
                .is_some_and(|&start| start <= bucket_start)
            {
                ranges_so_far += 1;
            }
            self.bucket_rank.push(ranges_so_far as u32);
        }
    }

    /// The value of the range holding `unit`, if any.
    #[inline]
    pub fn get(&self, unit: u64) -> Option<T> {
        let after = self.rank(unit);
        let index = after.checked_sub(1)?;
        match (self.ends.get(index), self.values.get(index)) {
            (Some(&end), Some(&value)) if end >= unit => Some(value),
            _ => None,
        }
    }

    /// Calls `f(value, units_in_overlap)` for every stretch of `[first, last]`
    /// that has a value, in ascending order. O(log n + k) for k stretches.
    ///
    /// Does nothing when `first > last`.
    #[inline]
    pub fn for_each_overlap(&self, first: u64, last: u64, mut f: impl FnMut(T, u64)) {
        if first > last {
            return;
        }
        let after = self.rank(first);
        let mut index = match after.checked_sub(1) {
            Some(before) if self.ends.get(before).is_some_and(|&end| end >= first) => before,
            _ => after,
        };
        while let (Some(&start), Some(&end), Some(&value)) = (
            self.starts.get(index),
            self.ends.get(index),
            self.values.get(index),
        ) {
            if start > last {
                break;
            }
            let low = start.max(first);
            let high = end.min(last);
            f(value, (high - low).saturating_add(1));
            index += 1;
        }
    }

    /// How many units of `[first, last]` carry a value.
    pub fn units_with_value(&self, first: u64, last: u64) -> u64 {
        let mut total = 0u64;
        self.for_each_overlap(first, last, |_, units| total = total.saturating_add(units));
        total
    }

    /// The number of ranges.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when the map holds no range.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Every range as `(first, last, value)`, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, T)> + '_ {
        self.starts
            .iter()
            .zip(&self.ends)
            .zip(&self.values)
            .map(|((&first, &last), &value)| (first, last, value))
    }

    /// The total number of units that carry a value.
    pub fn total_units(&self) -> u64 {
        self.iter().fold(0u64, |sum, (first, last, _)| {
            sum.saturating_add((last - first).saturating_add(1))
        })
    }

    /// A map where `top`'s ranges replace this map's wherever `top` has a
    /// value, and this map shows through elsewhere. O(n + m).
    pub fn overlay(&self, top: &UnitRangeMap<T>) -> UnitRangeMap<T> {
        let mut out = UnitRangeMap::with_capacity(self.len() + top.len());
        let mut base = self.iter();
        let mut current = base.next();
        for (top_first, top_last, top_value) in top.iter() {
            // Base pieces that start before this top range.
            while let Some((first, last, value)) = current {
                if first >= top_first {
                    break;
                }
                if last < top_first {
                    out.push_run(first, last, value);
                    current = base.next();
                } else {
                    out.push_run(first, top_first - 1, value);
                    current = Some((top_first, last, value));
                    break;
                }
            }
            out.push_run(top_first, top_last, top_value);
            // Drop what the top range hides.
            while let Some((first, last, value)) = current {
                if last <= top_last {
                    current = base.next();
                    continue;
                }
                if first <= top_last {
                    current = Some((top_last + 1, last, value));
                }
                break;
            }
        }
        while let Some((first, last, value)) = current {
            out.push_run(first, last, value);
            current = base.next();
        }
        out.finish();
        out
    }

    /// A map holding the same ranges with each value replaced by `f(value)`;
    /// neighbours that become equal are merged.
    pub fn map_values<U: Copy + Eq>(&self, mut f: impl FnMut(T) -> U) -> UnitRangeMap<U> {
        let mut out = UnitRangeMap::with_capacity(self.len());
        for (first, last, value) in self.iter() {
            out.push_run(first, last, f(value));
        }
        out.finish();
        out
    }

    pub(crate) fn with_capacity(capacity: usize) -> Self {
        UnitRangeMap {
            starts: Vec::with_capacity(capacity),
            ends: Vec::with_capacity(capacity),
            values: Vec::with_capacity(capacity),
            bucket_rank: Vec::new(),
            bucket_shift: 0,
        }
    }

    /// Appends a range after every range already held, merging it into the
    /// last one when they touch and carry the same value.
    ///
    /// Callers guarantee `first <= last` and that `first` is past the last
    /// range's end; a range breaking that is ignored (and trips a debug assert).
    pub(crate) fn push_run(&mut self, first: u64, last: u64, value: T) {
        // The index no longer matches; `finish` rebuilds it.
        if !self.bucket_rank.is_empty() {
            self.bucket_rank.clear();
        }
        if first > last {
            debug_assert!(false, "reversed run {first}..{last}");
            return;
        }
        if let (Some(prev_end), Some(prev_value)) = (self.ends.last_mut(), self.values.last()) {
            if first <= *prev_end {
                debug_assert!(false, "run {first}..{last} overlaps the previous one");
                return;
            }
            if *prev_value == value && *prev_end + 1 == first {
                *prev_end = last;
                return;
            }
        }
        self.starts.push(first);
        self.ends.push(last);
        self.values.push(value);
    }
}

/// Collects possibly overlapping unit ranges and resolves them into a
/// [`UnitRangeMap`].
///
/// Where ranges overlap, the narrower one wins (it is the more specific);
/// between equally wide ranges the later insert wins. Adjacent ranges with
/// equal values are merged. Building is O(n log n).
#[derive(Clone, Debug)]
pub struct UnitRangeMapBuilder<T> {
    entries: Vec<Entry<T>>,
}

#[derive(Clone, Debug)]
struct Entry<T> {
    first: u64,
    last: u64,
    width: u128,
    value: T,
}

impl<T> Default for UnitRangeMapBuilder<T> {
    fn default() -> Self {
        UnitRangeMapBuilder {
            entries: Vec::new(),
        }
    }
}

impl<T: Copy + Eq> UnitRangeMapBuilder<T> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the inclusive range `[first, last]`, ranked by its width in units.
    /// A reversed range (`first > last`) is ignored.
    pub fn insert(&mut self, first: u64, last: u64, value: T) {
        if first <= last {
            let width = u128::from(last - first) + 1;
            self.insert_ranked(first, last, width, value);
        }
    }

    /// Adds the inclusive range `[first, last]`, ranked by `width` instead of
    /// its unit count: a smaller width wins where ranges overlap.
    ///
    /// Loaders pass the width in addresses, so that a /25 at the start of a
    /// /24 beats the /24 although both cover one unit. Every insert into one
    /// builder must use the same measure. A reversed range is ignored.
    pub fn insert_ranked(&mut self, first: u64, last: u64, width: u128, value: T) {
        if first <= last {
            self.entries.push(Entry {
                first,
                last,
                width,
                value,
            });
        }
    }

    /// The number of ranges inserted so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Resolves overlaps and returns the map.
    pub fn build(self) -> UnitRangeMap<T> {
        let entries = self.entries;
        // Most specific first: narrowest, then latest inserted.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            let (ea, eb) = (&entries[a], &entries[b]);
            ea.width.cmp(&eb.width).then(b.cmp(&a))
        });

        // Paint ranges in that order; each only fills what is still bare.
        // `covered` holds the merged union of everything painted so far, so
        // every covered stretch is visited once before being merged away.
        let mut covered: BTreeMap<u64, u64> = BTreeMap::new();
        let mut pieces: Vec<(u64, u64, T)> = Vec::with_capacity(entries.len());
        let mut touching: Vec<(u64, u64)> = Vec::new();
        for &index in &order {
            let Some(entry) = entries.get(index) else {
                continue;
            };
            let (first, last) = (entry.first, entry.last);
            let mut union_first = first;
            let mut union_last = last;
            // Next unit not known to be covered; u128 so it can pass u64::MAX.
            let mut cursor = u128::from(first);

            touching.clear();
            if let Some((&start, &end)) = covered.range(..first).next_back() {
                if end.saturating_add(1) >= first {
                    touching.push((start, end));
                }
            }
            touching.extend(
                covered
                    .range(first..=last.saturating_add(1))
                    .map(|(&start, &end)| (start, end)),
            );
            for &(start, end) in &touching {
                if u128::from(start) > cursor && cursor <= u128::from(last) {
                    let gap_last = (start - 1).min(last);
                    pieces.push((cursor as u64, gap_last, entry.value));
                }
                cursor = cursor.max(u128::from(end) + 1);
                union_first = union_first.min(start);
                union_last = union_last.max(end);
                covered.remove(&start);
            }
            if cursor <= u128::from(last) {
                pieces.push((cursor as u64, last, entry.value));
            }
            covered.insert(union_first, union_last);
        }

        pieces.sort_unstable_by_key(|&(first, _, _)| first);
        let mut map = UnitRangeMap::with_capacity(pieces.len());
        for (first, last, value) in pieces {
            map.push_run(first, last, value);
        }
        map.finish();
        map
    }
}

impl<T: Copy + Eq> FromIterator<(u64, u64, T)> for UnitRangeMap<T> {
    /// Builds a map from `(first, last, value)` ranges with the builder's
    /// rules (narrower wins, then later wins).
    fn from_iter<I: IntoIterator<Item = (u64, u64, T)>>(iter: I) -> Self {
        let mut builder = UnitRangeMapBuilder::new();
        for (first, last, value) in iter {
            builder.insert(first, last, value);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(map: &UnitRangeMap<char>) -> Vec<(u64, u64, char)> {
        map.iter().collect()
    }

    /// The value each unit of 0..limit gets by brute force under the rules.
    fn brute_force(inserts: &[(u64, u64, char)], limit: u64) -> Vec<Option<char>> {
        (0..limit)
            .map(|unit| {
                let mut best: Option<(u64, usize, char)> = None;
                for (index, &(first, last, value)) in inserts.iter().enumerate() {
                    if first <= unit && unit <= last {
                        let width = last - first + 1;
                        let better = match best {
                            None => true,
                            Some((best_width, best_index, _)) => {
                                width < best_width || (width == best_width && index > best_index)
                            }
                        };
                        if better {
                            best = Some((width, index, value));
                        }
                    }
                }
                best.map(|(_, _, value)| value)
            })
            .collect()
    }

    #[test]
    fn narrower_range_wins_and_equal_width_later_wins() {
        let mut builder = UnitRangeMapBuilder::new();
        builder.insert(0, 99, 'a');
        builder.insert(10, 19, 'b');
        builder.insert(15, 24, 'c'); // same width as 'b': later wins on 15..19
        builder.insert(50, 50, 'd');
        let map = builder.build();
        assert_eq!(
            ranges(&map),
            vec![
                (0, 9, 'a'),
                (10, 14, 'b'),
                (15, 24, 'c'),
                (25, 49, 'a'),
                (50, 50, 'd'),
                (51, 99, 'a')
            ]
        );
        assert_eq!(map.get(0), Some('a'));
        assert_eq!(map.get(12), Some('b'));
        assert_eq!(map.get(19), Some('c'));
        assert_eq!(map.get(100), None);
    }

    #[test]
    fn wider_range_inserted_later_does_not_override() {
        let mut builder = UnitRangeMapBuilder::new();
        builder.insert(10, 19, 'b');
        builder.insert(0, 99, 'a');
        let map = builder.build();
        assert_eq!(map.get(15), Some('b'));
        assert_eq!(map.get(5), Some('a'));
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn adjacent_equal_values_merge_and_gaps_stay() {
        let map: UnitRangeMap<char> = [(0, 4, 'a'), (5, 9, 'a'), (11, 20, 'a'), (21, 21, 'b')]
            .into_iter()
            .collect();
        assert_eq!(
            ranges(&map),
            vec![(0, 9, 'a'), (11, 20, 'a'), (21, 21, 'b')]
        );
        assert_eq!(map.get(10), None);
        assert_eq!(map.total_units(), 21);
        // A narrower equal value inside a wider one disappears into it.
        let map: UnitRangeMap<char> = [(0, 9, 'a'), (3, 4, 'a')].into_iter().collect();
        assert_eq!(ranges(&map), vec![(0, 9, 'a')]);
    }

    #[test]
    fn reversed_ranges_are_ignored_and_extremes_work() {
        let mut builder = UnitRangeMapBuilder::new();
        builder.insert(5, 4, 'x');
        builder.insert(u64::MAX - 1, u64::MAX, 'z');
        builder.insert(0, u64::MAX, 'a');
        builder.insert(u64::MAX, u64::MAX, 'y');
        let map = builder.build();
        assert_eq!(
            ranges(&map),
            vec![
                (0, u64::MAX - 2, 'a'),
                (u64::MAX - 1, u64::MAX - 1, 'z'),
                (u64::MAX, u64::MAX, 'y')
            ]
        );
        let mut seen = Vec::new();
        map.for_each_overlap(0, u64::MAX, |value, units| seen.push((value, units)));
        assert_eq!(seen, vec![('a', u64::MAX - 1), ('z', 1), ('y', 1)]);
    }

    #[test]
    fn for_each_overlap_clips_to_the_query() {
        let map: UnitRangeMap<char> = [(0, 9, 'a'), (20, 29, 'b'), (30, 39, 'c')]
            .into_iter()
            .collect();
        let collect = |first, last| {
            let mut out = Vec::new();
            map.for_each_overlap(first, last, |value, units| out.push((value, units)));
            out
        };
        assert_eq!(collect(5, 25), vec![('a', 5), ('b', 6)]);
        assert_eq!(collect(10, 19), vec![]);
        assert_eq!(collect(29, 30), vec![('b', 1), ('c', 1)]);
        assert_eq!(collect(35, 1000), vec![('c', 5)]);
        assert_eq!(collect(9, 9), vec![('a', 1)]);
        assert_eq!(collect(40, 50), vec![]);
        assert_eq!(collect(25, 5), vec![]);
        assert_eq!(map.units_with_value(0, 100), 30);
        let empty: UnitRangeMap<char> = UnitRangeMap::new();
        assert!(empty.is_empty());
        assert_eq!(empty.get(0), None);
        empty.for_each_overlap(0, 10, |_, _| panic!("empty map has no overlap"));
    }

    #[test]
    fn builder_agrees_with_brute_force_on_pseudo_random_overlaps() {
        // A small deterministic generator (xorshift) keeps the test repeatable.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for round in 0..200 {
            let count = 1 + next(12) as usize;
            let inserts: Vec<(u64, u64, char)> = (0..count)
                .map(|_| {
                    let first = next(60);
                    let last = first + next(25);
                    let value = [b'a', b'b', b'c'][next(3) as usize] as char;
                    (first, last, value)
                })
                .collect();
            let map: UnitRangeMap<char> = inserts.iter().copied().collect();
            let expected = brute_force(&inserts, 100);
            for (unit, want) in expected.iter().enumerate() {
                assert_eq!(
                    map.get(unit as u64),
                    *want,
                    "round {round} unit {unit} {inserts:?}"
                );
            }
            // The map is canonical: sorted, disjoint, no mergeable neighbours.
            for pair in ranges(&map).windows(2) {
                assert!(pair[0].1 < pair[1].0);
                assert!(!(pair[0].1 + 1 == pair[1].0 && pair[0].2 == pair[1].2));
            }
            // for_each_overlap adds up to the brute-force count for any window.
            let (first, last) = (next(100), next(100));
            let mut total = 0;
            map.for_each_overlap(first, last, |_, units| total += units);
            let want = if first <= last {
                expected[first as usize..=last as usize]
                    .iter()
                    .filter(|v| v.is_some())
                    .count()
            } else {
                0
            };
            assert_eq!(total, want as u64);
        }
    }

    #[test]
    fn bucket_index_agrees_with_plain_binary_search() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (domain_bits, count) in [(24u32, 5000usize), (48, 3000), (64, 2000), (10, 900)] {
            let mask = if domain_bits == 64 {
                u64::MAX
            } else {
                (1u64 << domain_bits) - 1
            };
            let mut builder = UnitRangeMapBuilder::new();
            for _ in 0..count {
                let first = next() & mask;
                let last = first.saturating_add(next() % 300).min(mask);
                builder.insert(first, last, (next() % 5) as u8);
            }
            let map = builder.build();
            assert!(
                !map.bucket_rank.is_empty(),
                "{domain_bits}-bit map is indexed"
            );
            let mut plain = map.clone();
            plain.bucket_rank.clear();
            let ranges: Vec<_> = map.iter().collect();
            let mut probes: Vec<u64> = (0..20_000).map(|_| next() & mask).collect();
            for &(first, last, _) in &ranges {
                probes.extend([first, last, first.wrapping_sub(1), last.wrapping_add(1)]);
            }
            probes.extend([0, u64::MAX, mask]);
            for unit in probes {
                assert_eq!(
                    map.get(unit),
                    plain.get(unit),
                    "{domain_bits} bits, unit {unit:#x}"
                );
                let window_last = unit.saturating_add(1000);
                assert_eq!(
                    map.units_with_value(unit, window_last),
                    plain.units_with_value(unit, window_last)
                );
            }
        }
    }

    #[test]
    fn overlay_lets_top_win_where_it_has_values() {
        let base: UnitRangeMap<char> = [(0, 99, 'a'), (200, 299, 'b')].into_iter().collect();
        let top: UnitRangeMap<char> = [
            (10, 19, 'x'),
            (90, 210, 'y'),
            (250, 250, 'b'),
            (400, 410, 'z'),
        ]
        .into_iter()
        .collect();
        let merged = base.overlay(&top);
        assert_eq!(
            ranges(&merged),
            vec![
                (0, 9, 'a'),
                (10, 19, 'x'),
                (20, 89, 'a'),
                (90, 210, 'y'),
                (211, 299, 'b'),
                (400, 410, 'z')
            ]
        );
        assert_eq!(base.overlay(&UnitRangeMap::new()), base);
        assert_eq!(UnitRangeMap::new().overlay(&top), top);
    }

    #[test]
    fn map_values_merges_neighbours_that_become_equal() {
        let map: UnitRangeMap<char> = [(0, 9, 'a'), (10, 19, 'b'), (30, 39, 'c')]
            .into_iter()
            .collect();
        let mapped = map.map_values(|value| value != 'c');
        assert_eq!(
            mapped.iter().collect::<Vec<_>>(),
            vec![(0, 19, true), (30, 39, false)]
        );
    }
}
