//! Visibility accounting: from the routing table to per-entity counts per bin.
//!
//! Definitions follow IODA's BGP signal:
//! - a peer is *full-feed* for a family when it announces more than
//!   `full_feed_v4` IPv4 (`full_feed_v6` IPv6) prefixes; IODA uses 400,000 and
//!   10,000;
//! - a prefix is *visible* when at least `min_visible_fraction` (50%) of the
//!   distinct AS numbers of full-feed peers announce it;
//! - an entity's value is the number of **unique** visible /24 blocks (IPv4)
//!   or /48 blocks (IPv6): a more-specific inside a covering visible prefix
//!   counts once. Countries and regions take the blocks the geo layer puts in
//!   them (a prefix spanning several countries is split); an AS takes the
//!   blocks of the prefixes it originates.
//!
//! Small archives (a test daemon, one collector's update file without a RIB,
//! a historical dump) have no full-feed peer. Then, when
//! `all_peers_when_no_full_feed` is set (the default), the peers holding at
//! least half as many prefixes as the largest peer count as full-feed for
//! that bin, and [`FeedCoverage::fallback_families`] says so. Thresholds of 0
//! make every peer that announces anything full-feed.
//!
//! The value of a bin is the state at the bin's end; announcements and
//! withdrawals are counted in the bin they happen in. Each closed bin is a
//! [`SignalBin`], completed by [`ZeroFill`]: an entity that had a signal
//! reads 0, not "no data", once it falls silent.

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;
use vigie_geo::{Family, GeoDb};
use vigie_model::{
    BinSize, CountryCode, Entity, FillId, RegionId, SeriesKey, SignalBin, SignalKind, UnixSecs,
    ZeroFill,
};

use crate::routing::{family_index, CollectorIdx, PeerIdx, PrefixKey, RoutingTable};

/// Settings of the visibility accounting.
#[derive(Clone, Debug)]
pub struct VisibilityConfig {
    /// Width of the output bins.
    pub bin: BinSize,
    /// A peer is full-feed for IPv4 above this many IPv4 prefixes (IODA: 400,000).
    pub full_feed_v4: u64,
    /// A peer is full-feed for IPv6 above this many IPv6 prefixes (IODA: 10,000).
    pub full_feed_v6: u64,
    /// Share of full-feed peer ASNs that must see a prefix for it to be visible (IODA: 0.5).
    pub min_visible_fraction: f64,
    /// A silence longer than this between two events (seconds) means the feed
    /// was down: the bins in between are not written, so they read as "no
    /// data". 0 disables the rule.
    pub max_silence_secs: i64,
    /// With no full-feed peer in a family, count the peers with at least half
    /// as many prefixes as the largest peer as full-feed (small archives).
    pub all_peers_when_no_full_feed: bool,
}

impl Default for VisibilityConfig {
    fn default() -> Self {
        VisibilityConfig {
            bin: BinSize::default(),
            full_feed_v4: 400_000,
            full_feed_v6: 10_000,
            min_visible_fraction: 0.5,
            max_silence_secs: 3600,
            all_peers_when_no_full_feed: true,
        }
    }
}

/// The visible address space one origin AS has in one country.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginCountrySpace {
    /// The origin AS.
    pub asn: u32,
    /// The country geo places the space in.
    pub country: CountryCode,
    /// Visible units: IPv4 /24s and IPv6 /48s.
    pub units: [u64; 2],
}

/// Which peers the latest count took as full-feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedCoverage {
    /// Full-feed peers, IPv4 and IPv6.
    pub full_feed_peers: [usize; 2],
    /// Families (IPv4, IPv6) where no peer was full-feed and all peers were counted.
    pub fallback_families: [bool; 2],
}

const V4_BLOCKS: usize = 0;
const V6_BLOCKS: usize = 1;
const ANNOUNCEMENTS: usize = 2;
const WITHDRAWALS: usize = 3;
const SIGNALS: [SignalKind; 4] = [
    SignalKind::BgpVisibleSlash24s,
    SignalKind::BgpVisibleSlash48s,
    SignalKind::BgpAnnouncements,
    SignalKind::BgpWithdrawals,
];

/// Per-entity counters, kept across bins. Each signal's series is
/// registered with the accounting's [`ZeroFill`] when it first has a value
/// (its [`FillId`] kept here, so a bin is written without hashing keys);
/// the fill writes it as 0, not "no data", once it falls silent.
#[derive(Default, Clone, Copy)]
struct Counter {
    values: [u64; 4],
    series: [Option<FillId>; 4],
}

impl Counter {
    fn add(&mut self, signal: usize, n: u64) {
        self.values[signal] += n;
    }
}

/// Per-country counters in a table indexed by the packed country code, so
/// the hot path does no hashing.
struct CountryCounters {
    by_code: Vec<Counter>,
    registered: Vec<bool>,
    present: Vec<CountryCode>,
}

impl Default for CountryCounters {
    fn default() -> Self {
        CountryCounters {
            by_code: vec![Counter::default(); 1 << 16],
            registered: vec![false; 1 << 16],
            present: Vec::new(),
        }
    }
}

impl CountryCounters {
    fn entry(&mut self, cc: CountryCode) -> &mut Counter {
        let index = cc.to_u16() as usize;
        if !self.registered[index] {
            self.registered[index] = true;
            self.present.push(cc);
        }
        &mut self.by_code[index]
    }
}

#[derive(Default)]
struct Counters {
    countries: CountryCounters,
    asns: FxHashMap<u32, Counter>,
    regions: FxHashMap<usize, (RegionId, Counter)>,
}

impl Counters {
    fn zero(&mut self, signals: &[usize]) {
        let zero = |c: &mut Counter| {
            for &s in signals {
                c.values[s] = 0;
            }
        };
        for cc in &self.countries.present {
            zero(&mut self.countries.by_code[cc.to_u16() as usize]);
        }
        self.asns.values_mut().for_each(zero);
        self.regions.values_mut().for_each(|(_, c)| zero(c));
    }

    /// Hands every counter that has (or had) a value to `fill`, and closes
    /// the bin: the series written, silent ones as 0.
    fn emit(&mut self, fill: &mut ZeroFill) -> Vec<(SeriesKey, Option<f64>)> {
        let mut hand = |entity: &dyn Fn() -> Entity, counter: &mut Counter| {
            for (i, signal) in SIGNALS.iter().enumerate() {
                let value = counter.values[i];
                let id = match counter.series[i] {
                    Some(id) => id,
                    None if value > 0 => *counter.series[i].insert(fill.id(&SeriesKey {
                        entity: entity(),
                        signal: *signal,
                    })),
                    None => continue,
                };
                fill.set(id, value as f64);
            }
        };
        for cc in &self.countries.present {
            hand(
                &|| Entity::Country(*cc),
                &mut self.countries.by_code[cc.to_u16() as usize],
            );
        }
        for (asn, counter) in &mut self.asns {
            hand(&|| Entity::Asn(*asn), counter);
        }
        for (region, counter) in self.regions.values_mut() {
            hand(&|| Entity::Region(region.clone()), counter);
        }
        fill.close()
    }
}

/// Turns a stream of routing events into per-entity visibility values per bin.
///
/// The driver calls [`advance_to`](Self::advance_to) with each event's time
/// before applying it, which closes the bins that ended; events must come in
/// time order (a late event is counted in the open bin).
pub struct VisibilityAccounting {
    config: VisibilityConfig,
    geo: Arc<GeoDb>,
    table: RoutingTable,
    counters: Counters,
    fill: ZeroFill,
    open_bin: Option<UnixSecs>,
    last_event: Option<UnixSecs>,
    pending_updates: FxHashMap<(u8, u64, u64, u32), [u32; 2]>,
    gaps: Vec<(UnixSecs, UnixSecs)>,
    visible_dirty: bool,
    coverage: FeedCoverage,
    scratch_keys: Vec<(PrefixKey, u32)>,
    scratch_stack: Vec<(u64, u32)>,
    set_visibility: Vec<u8>,
    asn_stamp: FxHashMap<u32, u32>,
}

impl VisibilityAccounting {
    /// Accounting with `config`, attributing blocks to places with `geo`.
    pub fn new(config: VisibilityConfig, geo: Arc<GeoDb>) -> Self {
        VisibilityAccounting {
            config,
            geo,
            table: RoutingTable::new(),
            counters: Counters::default(),
            fill: ZeroFill::default(),
            open_bin: None,
            last_event: None,
            pending_updates: FxHashMap::default(),
            gaps: Vec::new(),
            visible_dirty: true,
            coverage: FeedCoverage::default(),
            scratch_keys: Vec::new(),
            scratch_stack: Vec::new(),
            set_visibility: Vec::new(),
            asn_stamp: FxHashMap::default(),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &VisibilityConfig {
        &self.config
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// The index of a collector, registering it if new.
    pub fn collector(&mut self, name: &str) -> CollectorIdx {
        self.table.collector(name)
    }

    /// The index of a peer, registering it if new.
    pub fn peer(&mut self, collector: CollectorIdx, ip: std::net::IpAddr, asn: u32) -> PeerIdx {
        self.table.peer(collector, ip, asn)
    }

    /// Which peers the latest count (of the bins last closed, or the
    /// provisional values) took as full-feed.
    pub fn coverage(&self) -> FeedCoverage {
        self.coverage
    }

    /// The start of the open bin, if any event was seen.
    pub fn open_bin(&self) -> Option<UnixSecs> {
        self.open_bin
    }

    /// Declares that no data exists for `[from, until)` (a missing archive
    /// file): bins starting in it are not written, so they read as "no data".
    pub fn mark_gap(&mut self, from: UnixSecs, until: UnixSecs) {
        if until > from {
            self.gaps.push((from, until));
        }
    }

    fn in_gap(&self, bin_start: UnixSecs) -> bool {
        self.gaps
            .iter()
            .any(|&(from, until)| bin_start >= from && bin_start < until)
    }

    /// Moves time forward to `t`, closing every bin that ended, and returns
    /// their values (none while `t` stays inside the open bin).
    pub fn advance_to(&mut self, t: UnixSecs) -> Vec<SignalBin> {
        let bin = self.config.bin;
        let target = bin.floor(t);
        let silence = self.last_event.map_or(0, |last| t - last);
        self.last_event = Some(self.last_event.map_or(t, |last| last.max(t)));
        let Some(open) = self.open_bin else {
            self.open_bin = Some(target);
            return Vec::new();
        };
        if target <= open {
            return Vec::new();
        }
        let mut closed = Vec::new();
        let feed_was_down =
            self.config.max_silence_secs > 0 && silence > self.config.max_silence_secs;
        let mut bin_start = open;
        while bin_start < target {
            if !self.in_gap(bin_start) {
                closed.push(self.close_bin(bin_start));
            }
            self.counters.zero(&[ANNOUNCEMENTS, WITHDRAWALS]);
            self.pending_updates.clear();
            if feed_was_down {
                // Only the bin of the last event before the silence is written.
                break;
            }
            bin_start += bin.secs() as i64;
        }
        self.open_bin = Some(target);
        closed
    }

    /// The values the open bin would have if it closed now, without closing
    /// it (live feeds publish them as provisional); `None` before any event.
    pub fn provisional(&mut self) -> Option<SignalBin> {
        let open = self.open_bin?;
        Some(self.close_bin(open))
    }

    /// Closes the open bin (end of input) and returns its values.
    pub fn finish(&mut self) -> Option<SignalBin> {
        let open = self.open_bin.take()?;
        let values = (!self.in_gap(open)).then(|| self.close_bin(open));
        self.counters.zero(&[ANNOUNCEMENTS, WITHDRAWALS]);
        self.pending_updates.clear();
        values
    }

    /// Applies an announcement by `peer` of `prefix` originated by `origin`.
    pub fn announce(
        &mut self,
        peer: PeerIdx,
        prefix: &IpNet,
        path_id: Option<u32>,
        origin: Option<u32>,
    ) {
        let origin = origin.unwrap_or(0);
        match PrefixKey::of(prefix) {
            Some((family, key)) => {
                let applied = self.table.announce(peer, family, key, path_id, origin);
                self.visible_dirty |= applied.changed;
                self.count_update(prefix, applied.origin, ANNOUNCEMENTS);
            }
            None => self.count_update(prefix, origin, ANNOUNCEMENTS),
        }
    }

    /// Applies a withdrawal by `peer` of `prefix`.
    pub fn withdraw(&mut self, peer: PeerIdx, prefix: &IpNet, path_id: Option<u32>) {
        let origin = match PrefixKey::of(prefix) {
            Some((family, key)) => {
                let applied = self.table.withdraw(peer, family, key, path_id);
                self.visible_dirty |= applied.changed;
                applied.origin
            }
            None => 0,
        };
        self.count_update(prefix, origin, WITHDRAWALS);
    }

    /// Drops every route of a peer whose session went down.
    pub fn peer_down(&mut self, peer: PeerIdx) {
        if self.table.drop_peer(peer) > 0 {
            self.visible_dirty = true;
        }
    }

    /// Drops every route of a collector (before reloading it from a RIB dump).
    pub fn reset_collector(&mut self, collector: CollectorIdx) {
        if self.table.drop_collector(collector) > 0 {
            self.visible_dirty = true;
        }
    }

    /// Takes the routing table of `fresh` (collectors reloaded from their
    /// RIB dumps), keeping this accounting's bins and zero-fill; the routes
    /// of collectors `fresh` does not know (BGP sessions, BMP) are carried
    /// over. Collector indices change: look them up again.
    pub fn replace_routes(&mut self, fresh: VisibilityAccounting) {
        let old = std::mem::replace(&mut self.table, fresh.table);
        for name in old.collector_names() {
            if !self.table.collector_names().contains(name) {
                self.table.copy_collector(&old, name);
            }
        }
        self.visible_dirty = true;
    }

    /// Notes an announcement or withdrawal; it is attributed to the prefix's
    /// places and origin when the bin closes, once per distinct prefix.
    fn count_update(&mut self, prefix: &IpNet, origin: u32, signal: usize) {
        let units = update_units(prefix);
        let key = match units {
            Some((family, first, last)) => (family_index(family) as u8, first, last, origin),
            None if origin != 0 => (u8::MAX, 0, 0, origin),
            None => return,
        };
        self.pending_updates.entry(key).or_insert([0, 0])[signal - ANNOUNCEMENTS] += 1;
    }

    /// Attributes the bin's announcements and withdrawals to entities.
    fn attribute_updates(&mut self) {
        let geo = &self.geo;
        for (&(fam, first, last, origin), &counts) in &self.pending_updates {
            for (i, &n) in counts.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let signal = ANNOUNCEMENTS + i;
                let n = n as u64;
                if fam != u8::MAX {
                    let family = if fam == 0 { Family::V4 } else { Family::V6 };
                    let countries = &mut self.counters.countries;
                    geo.split_countries(family, first, last, |cc, _| {
                        countries.entry(cc).add(signal, n);
                    });
                    let regions = &mut self.counters.regions;
                    geo.split_regions(family, first, last, |region, _| {
                        regions
                            .entry(region as *const RegionId as usize)
                            .or_insert_with(|| (region.clone(), Counter::default()))
                            .1
                            .add(signal, n);
                    });
                }
                if origin != 0 {
                    self.counters.asns.entry(origin).or_default().add(signal, n);
                }
            }
        }
        self.pending_updates.clear();
    }

    fn close_bin(&mut self, bin_start: UnixSecs) -> SignalBin {
        self.attribute_updates();
        if self.visible_dirty {
            self.recount_visibility();
            self.visible_dirty = false;
        }
        SignalBin {
            bin: self.config.bin,
            bin_start,
            values: self.counters.emit(&mut self.fill),
        }
    }

    /// Recomputes the unique visible blocks of every entity from the table.
    fn recount_visibility(&mut self) {
        self.table.collect_garbage();
        self.counters.zero(&[V4_BLOCKS, V6_BLOCKS]);
        let full_feed = self.full_feed_peers();
        self.compute_set_visibility(&full_feed);
        for family in [Family::V4, Family::V6] {
            self.count_family(family);
        }
    }

    /// Which peers are full-feed, per family, with the fallback applied.
    fn full_feed_peers(&mut self) -> [Vec<bool>; 2] {
        let thresholds = [self.config.full_feed_v4, self.config.full_feed_v6];
        let peers = self.table.peers();
        let mut result: [Vec<bool>; 2] = [Vec::new(), Vec::new()];
        for fam in 0..2 {
            let mut flags: Vec<bool> = peers
                .iter()
                .map(|p| p.prefix_counts[fam] > thresholds[fam])
                .collect();
            let any_full = flags.iter().any(|&f| f);
            let fallback = !any_full && self.config.all_peers_when_no_full_feed;
            if fallback {
                // Relative rule for small archives: the peers with at least
                // half as many prefixes as the largest one.
                let largest = peers
                    .iter()
                    .map(|p| p.prefix_counts[fam])
                    .max()
                    .unwrap_or(0);
                flags = peers
                    .iter()
                    .map(|p| p.prefix_counts[fam] > 0 && p.prefix_counts[fam] * 2 >= largest)
                    .collect();
            }
            self.coverage.fallback_families[fam] = fallback && flags.iter().any(|&f| f);
            self.coverage.full_feed_peers[fam] = flags.iter().filter(|&&f| f).count();
            result[fam] = flags;
        }
        result
    }

    /// For each live peer set, whether a prefix held by it is visible, per family
    /// (bit 0: IPv4, bit 1: IPv6).
    fn compute_set_visibility(&mut self, full_feed: &[Vec<bool>; 2]) {
        let peers = self.table.peers();
        let sets = self.table.peer_sets();
        let mut totals = [0usize; 2];
        for fam in 0..2 {
            let mut asns: Vec<u32> = peers
                .iter()
                .zip(&full_feed[fam])
                .filter(|(_, &ff)| ff)
                .map(|(p, _)| p.asn)
                .collect();
            asns.sort_unstable();
            asns.dedup();
            totals[fam] = asns.len();
        }
        self.set_visibility.clear();
        self.set_visibility.resize(sets.id_bound(), 0);
        self.asn_stamp.clear();
        let mut stamp = 0u32;
        for set in 0..sets.id_bound() as u32 {
            if !sets.is_live(set) {
                continue;
            }
            let mut bits = 0u8;
            for fam in 0..2 {
                if totals[fam] == 0 {
                    continue;
                }
                stamp += 1;
                let mut seen = 0usize;
                for peer in sets.peers(set) {
                    if !full_feed[fam].get(peer as usize).copied().unwrap_or(false) {
                        continue;
                    }
                    let asn = peers[peer as usize].asn;
                    let slot = self.asn_stamp.entry(asn).or_insert(0);
                    if *slot != stamp {
                        *slot = stamp;
                        seen += 1;
                    }
                }
                if seen > 0 && seen as f64 >= self.config.min_visible_fraction * totals[fam] as f64
                {
                    bits |= 1 << fam;
                }
            }
            self.set_visibility[set as usize] = bits;
        }
    }

    /// The visible address space each origin AS has in each country, from
    /// the current routing table, counted like the AS signal (a
    /// more-specific of a prefix the same AS originates counts once) and
    /// split across countries like the country signal. Sorted by AS, then
    /// country; prefixes without a known origin are left out.
    pub fn origin_country_space(&mut self) -> Vec<OriginCountrySpace> {
        if self.visible_dirty {
            self.recount_visibility();
            self.visible_dirty = false;
        }
        let mut space: BTreeMap<(u32, CountryCode), [u64; 2]> = BTreeMap::new();
        for family in [Family::V4, Family::V6] {
            let fam = family_index(family);
            let mut keys: Vec<(PrefixKey, u32)> = self
                .table
                .prefixes(family)
                .iter()
                .filter(|(_, state)| {
                    state.origin != 0 && self.set_visibility[state.peers as usize] & (1 << fam) != 0
                })
                .map(|(&key, state)| (key, state.origin))
                .collect();
            keys.sort_unstable_by_key(|&(key, _)| key);
            let mut stack: Vec<(u64, u32)> = Vec::new();
            for (key, origin) in keys {
                let first = key.first_unit();
                let last = key.last_unit(family);
                while stack.last().is_some_and(|&(end, _)| end < first) {
                    stack.pop();
                }
                if !stack.iter().any(|&(_, o)| o == origin) {
                    self.geo.split_countries(family, first, last, |cc, n| {
                        space.entry((origin, cc)).or_default()[fam] += n;
                    });
                }
                stack.push((last, origin));
            }
        }
        space
            .into_iter()
            .map(|((asn, country), units)| OriginCountrySpace {
                asn,
                country,
                units,
            })
            .collect()
    }

    /// Adds the unique visible blocks of one family to every entity.
    fn count_family(&mut self, family: Family) {
        let fam = family_index(family);
        let signal = if fam == 0 { V4_BLOCKS } else { V6_BLOCKS };
        let mut keys = std::mem::take(&mut self.scratch_keys);
        keys.clear();
        keys.extend(
            self.table
                .prefixes(family)
                .iter()
                .filter(|(_, state)| self.set_visibility[state.peers as usize] & (1 << fam) != 0)
                .map(|(&key, state)| (key, state.origin)),
        );
        keys.sort_unstable_by_key(|&(key, _)| key);

        let geo = Arc::clone(&self.geo);
        let mut stack = std::mem::take(&mut self.scratch_stack);
        stack.clear();
        let mut covered_until: Option<u64> = None;
        for &(key, origin) in &keys {
            let first = key.first_unit();
            let last = key.last_unit(family);
            if covered_until.is_none_or(|end| first > end) {
                covered_until = Some(last);
                let countries = &mut self.counters.countries;
                geo.split_countries(family, first, last, |cc, n| {
                    countries.entry(cc).add(signal, n);
                });
                let regions = &mut self.counters.regions;
                geo.split_regions(family, first, last, |region, n| {
                    regions
                        .entry(region as *const RegionId as usize)
                        .or_insert_with(|| (region.clone(), Counter::default()))
                        .1
                        .add(signal, n);
                });
            }
            while stack.last().is_some_and(|&(end, _)| end < first) {
                stack.pop();
            }
            if origin != 0 && !stack.iter().any(|&(_, o)| o == origin) {
                self.counters
                    .asns
                    .entry(origin)
                    .or_default()
                    .add(signal, last - first + 1);
            }
            stack.push((last, origin));
        }
        self.scratch_keys = keys;
        self.scratch_stack = stack;
    }
}

/// The units an update is attributed to: the prefix's units, or the unit
/// holding a longer prefix; `None` for prefixes shorter than the minimum.
fn update_units(prefix: &IpNet) -> Option<(Family, u64, u64)> {
    if let Some((family, key)) = PrefixKey::of(prefix) {
        return Some((family, key.first_unit(), key.last_unit(family)));
    }
    let unit_len = match prefix {
        IpNet::V4(_) => 24,
        IpNet::V6(_) => 48,
    };
    if prefix.prefix_len() <= unit_len {
        return None;
    }
    let (family, unit) = vigie_geo::unit_of(prefix.network());
    Some((family, unit, unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use vigie_geo::GeoDbBuilder;

    /// A small world: 10.0.0.0/23 is KZ, 10.0.2.0/23 is UZ; KZ's first /24
    /// is the region KZ/Almaty, its second KZ/Astana.
    fn geo() -> Arc<GeoDb> {
        let mut builder = GeoDbBuilder::empty();
        let countries = "10.0.0.0,10.0.1.255,KZ\n10.0.2.0,10.0.3.255,UZ\n2001:db8::,2001:db8:0:ffff:ffff:ffff:ffff:ffff,KZ\n";
        builder
            .load_ip_location_db_country_from(countries.as_bytes(), "test")
            .unwrap();
        let cities = "10.0.0.0,10.0.0.255,KZ,Almaty,,Almaty,,43.2,76.9,\n10.0.1.0,10.0.1.255,KZ,Astana,,Astana,,51.1,71.4,\n";
        builder
            .load_dbip_city_regions_from(cities.as_bytes(), "test")
            .unwrap();
        Arc::new(builder.build())
    }

    fn config() -> VisibilityConfig {
        VisibilityConfig {
            full_feed_v4: 1,
            full_feed_v6: 0,
            ..VisibilityConfig::default()
        }
    }

    fn value(bin: &SignalBin, entity: &str, signal: SignalKind) -> Option<f64> {
        let entity: Entity = entity.parse().unwrap();
        bin.values
            .iter()
            .find(|(k, _)| k.entity == entity && k.signal == signal)
            .and_then(|(_, v)| *v)
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// One full-feed peer (more than 1 prefix) announcing AS65001's /22
    /// across KZ and UZ, a /24 inside it of the same origin, and AS65002's
    /// /24 inside it.
    fn nested_prefixes() -> (VisibilityAccounting, PeerIdx) {
        let mut acc = VisibilityAccounting::new(config(), geo());
        let c = acc.collector("test");
        let peer = acc.peer(c, ip("192.0.2.1"), 64500);
        acc.advance_to(0);
        acc.announce(peer, &net("10.0.0.0/22"), None, Some(65001));
        acc.announce(peer, &net("10.0.0.0/24"), None, Some(65001));
        acc.announce(peer, &net("10.0.1.0/24"), None, Some(65002));
        (acc, peer)
    }

    #[test]
    fn more_specifics_count_once_and_prefixes_split_across_countries() {
        let (mut acc, _) = nested_prefixes();
        let bin = acc.finish().unwrap();
        assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash24s), Some(2.0));
        assert_eq!(value(&bin, "UZ", SignalKind::BgpVisibleSlash24s), Some(2.0));
        // AS65001 originates the /22 and a /24 inside it: 4 unique /24s.
        assert_eq!(
            value(&bin, "AS65001", SignalKind::BgpVisibleSlash24s),
            Some(4.0)
        );
        assert_eq!(
            value(&bin, "AS65002", SignalKind::BgpVisibleSlash24s),
            Some(1.0)
        );
        assert_eq!(
            value(&bin, "KZ/Almaty", SignalKind::BgpVisibleSlash24s),
            Some(1.0)
        );
        assert_eq!(
            value(&bin, "KZ/Astana", SignalKind::BgpVisibleSlash24s),
            Some(1.0)
        );
        assert_eq!(value(&bin, "KZ", SignalKind::BgpAnnouncements), Some(3.0));
        assert_eq!(value(&bin, "UZ", SignalKind::BgpAnnouncements), Some(1.0));
    }

    #[test]
    fn origin_country_space_splits_each_as_across_countries() {
        let (mut acc, peer) = nested_prefixes();
        acc.announce(peer, &net("2001:db8::/47"), None, Some(65002));
        let kz = CountryCode::new("KZ").unwrap();
        let uz = CountryCode::new("UZ").unwrap();
        let space = |asn, country, units| OriginCountrySpace {
            asn,
            country,
            units,
        };
        // The /24 inside AS65001's own /22 counts once; AS65002's /24 inside
        // it counts for AS65002 too, as in the AS signal; of the /47, only
        // the first /48 is in KZ.
        assert_eq!(
            acc.origin_country_space(),
            vec![
                space(65001, kz, [2, 0]),
                space(65001, uz, [2, 0]),
                space(65002, kz, [1, 1]),
            ]
        );
        acc.withdraw(peer, &net("10.0.1.0/24"), None);
        acc.withdraw(peer, &net("2001:db8::/47"), None);
        assert_eq!(acc.origin_country_space().len(), 2);
    }

    #[test]
    fn a_withdrawal_shows_in_its_bin_and_zero_is_written() {
        let mut acc = VisibilityAccounting::new(config(), geo());
        let c = acc.collector("test");
        let peer = acc.peer(c, ip("192.0.2.1"), 64500);
        assert!(acc.advance_to(1000).is_empty());
        acc.announce(peer, &net("10.0.0.0/23"), None, Some(9198));
        acc.announce(peer, &net("10.0.2.0/23"), None, Some(9198));
        let closed = acc.advance_to(1000 + 700);
        assert_eq!(
            closed.len(),
            2,
            "the bin of the announcements and a quiet one"
        );
        assert_eq!(closed[0].bin_start, 900);
        assert_eq!(
            value(&closed[1], "KZ", SignalKind::BgpVisibleSlash24s),
            Some(2.0)
        );
        assert_eq!(
            value(&closed[1], "KZ", SignalKind::BgpAnnouncements),
            Some(0.0)
        );
        acc.withdraw(peer, &net("10.0.0.0/23"), None);
        let bin = acc.finish().unwrap();
        assert_eq!(bin.bin_start, 1500);
        assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash24s), Some(0.0));
        assert_eq!(value(&bin, "UZ", SignalKind::BgpVisibleSlash24s), Some(2.0));
        assert_eq!(value(&bin, "KZ", SignalKind::BgpWithdrawals), Some(1.0));
        assert_eq!(
            value(&bin, "AS9198", SignalKind::BgpVisibleSlash24s),
            Some(2.0)
        );
    }

    #[test]
    fn full_feed_peers_decide_visibility() {
        let mut config = config();
        config.full_feed_v4 = 2;
        let mut acc = VisibilityAccounting::new(config, geo());
        let c = acc.collector("test");
        let full_a = acc.peer(c, ip("192.0.2.1"), 64501);
        let full_b = acc.peer(c, ip("192.0.2.2"), 64502);
        let partial = acc.peer(c, ip("192.0.2.3"), 64503);
        acc.advance_to(0);
        for peer in [full_a, full_b] {
            for p in ["10.0.2.0/24", "10.0.3.0/24", "10.0.1.0/24"] {
                acc.announce(peer, &net(p), None, Some(65001));
            }
        }
        // Seen by one full-feed ASN of two (50%): visible.
        acc.announce(full_a, &net("10.0.0.0/24"), None, Some(65002));
        let bin = acc.advance_to(300).pop().unwrap();
        assert_eq!(acc.coverage().full_feed_peers, [2, 0]);
        assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash24s), Some(2.0));
        // Only the partial peer: not visible, even though it announces it.
        acc.withdraw(full_a, &net("10.0.0.0/24"), None);
        acc.announce(partial, &net("10.0.0.0/24"), None, Some(65002));
        let bin = acc.advance_to(600).pop().unwrap();
        assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash24s), Some(1.0));
        assert_eq!(
            value(&bin, "AS65002", SignalKind::BgpVisibleSlash24s),
            Some(0.0)
        );
        // Two sessions of one AS count as one ASN.
        let same_as = acc.peer(c, ip("192.0.2.9"), 64501);
        for p in ["10.0.2.0/24", "10.0.3.0/24", "10.0.1.0/24"] {
            acc.announce(same_as, &net(p), None, Some(65001));
        }
        acc.announce(same_as, &net("10.0.0.0/24"), None, Some(65002));
        let bin = acc.advance_to(900).pop().unwrap();
        assert_eq!(acc.coverage().full_feed_peers, [3, 0]);
        assert_eq!(
            value(&bin, "AS65002", SignalKind::BgpVisibleSlash24s),
            Some(1.0)
        );
    }

    #[test]
    fn no_full_feed_peer_falls_back_unless_strict() {
        let mut strict = config();
        strict.full_feed_v4 = 100;
        strict.all_peers_when_no_full_feed = false;
        let mut lenient = strict.clone();
        lenient.all_peers_when_no_full_feed = true;
        for (config, expected, fallback) in [(strict, None, false), (lenient, Some(2.0), true)] {
            let mut acc = VisibilityAccounting::new(config, geo());
            let c = acc.collector("test");
            let peer = acc.peer(c, ip("192.0.2.1"), 64500);
            acc.advance_to(0);
            acc.announce(peer, &net("10.0.0.0/23"), None, Some(9198));
            let bin = acc.finish().unwrap();
            assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash24s), expected);
            assert_eq!(acc.coverage().fallback_families[0], fallback);
        }
    }

    #[test]
    fn ipv6_counts_unique_slash48s_and_peer_down_drops_routes() {
        let mut acc = VisibilityAccounting::new(config(), geo());
        let c = acc.collector("test");
        let peer = acc.peer(c, ip("2001:db8:ffff::1"), 64500);
        acc.advance_to(0);
        acc.announce(peer, &net("2001:db8::/32"), None, Some(9198));
        acc.announce(peer, &net("2001:db8:1::/48"), None, Some(9198));
        acc.announce(peer, &net("2001:db8:1:1::/64"), None, Some(9198));
        let bin = acc.advance_to(300).pop().unwrap();
        // 2001:db8::/32 holds 65,536 /48s; KZ holds the first /64's worth: one /48.
        assert_eq!(
            value(&bin, "AS9198", SignalKind::BgpVisibleSlash48s),
            Some(65_536.0)
        );
        assert_eq!(value(&bin, "KZ", SignalKind::BgpVisibleSlash48s), Some(1.0));
        acc.peer_down(peer);
        let bin = acc.finish().unwrap();
        assert_eq!(
            value(&bin, "AS9198", SignalKind::BgpVisibleSlash48s),
            Some(0.0)
        );
    }

    #[test]
    fn a_long_silence_is_no_data() {
        let mut config = config();
        config.max_silence_secs = 3600;
        let mut acc = VisibilityAccounting::new(config, geo());
        let c = acc.collector("test");
        let peer = acc.peer(c, ip("192.0.2.1"), 64500);
        acc.advance_to(0);
        acc.announce(peer, &net("10.0.0.0/23"), None, Some(9198));
        let starts: Vec<i64> = acc.advance_to(1200).iter().map(|b| b.bin_start).collect();
        assert_eq!(starts, vec![0, 300, 600, 900]);
        // Ten years of silence: one bin closed, none invented.
        let closed = acc.advance_to(1200 + 86_400 * 3650);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].bin_start, 1200);
    }

    #[test]
    fn gaps_are_not_written() {
        let mut acc = VisibilityAccounting::new(config(), geo());
        let c = acc.collector("test");
        let peer = acc.peer(c, ip("192.0.2.1"), 64500);
        acc.mark_gap(300, 900);
        acc.advance_to(0);
        acc.announce(peer, &net("10.0.0.0/23"), None, Some(9198));
        let starts: Vec<i64> = acc.advance_to(1200).iter().map(|b| b.bin_start).collect();
        assert_eq!(starts, vec![0, 900]);
    }
}
