//! What every traffic aggregator shares: closed bins, the entities an
//! address unit belongs to, and "an entity that had a value reads 0, not
//! no data, when it falls silent".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use vigie_geo::{Family, GeoDb};

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, UnixSecs};

/// All values of one closed bin, ready for `Store::write_bin`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedBin {
    /// The bin's start (UTC seconds).
    pub bin_start: UnixSecs,
    /// The bin's width.
    pub bin: BinSize,
    /// One value per series, sorted by key. Entities seen in an earlier
    /// bin of this run and silent in this one read 0.
    pub values: Vec<(SeriesKey, Option<f64>)>,
    /// Input items (flow records, log lines, packets) counted in the bin.
    pub items: u64,
}

impl ClosedBin {
    /// The value of one series in this bin, if it was written.
    pub fn value(&self, entity: &Entity, signal: SignalKind) -> Option<f64> {
        self.values
            .iter()
            .find(|(k, _)| k.entity == *entity && k.signal == signal)
            .and_then(|(_, v)| *v)
    }
}

/// An address unit: an IPv4 /24 or an IPv6 /48, as vigie-geo counts.
pub type Unit = (Family, u64);

/// The unit holding `ip`.
pub fn unit_of_ip(ip: IpAddr) -> Unit {
    vigie_geo::unit_of(ip)
}

/// Which entity kinds a geo database can answer for.
#[derive(Clone, Copy, Debug)]
pub struct EntityKinds {
    /// ASes, when the database has prefix-to-AS data.
    pub asns: bool,
    /// Regions, when the database has region data.
    pub regions: bool,
}

impl EntityKinds {
    /// Everything `geo` knows: countries always, ASes and regions when loaded.
    pub fn of(geo: &GeoDb) -> Self {
        EntityKinds {
            asns: geo.has_asns(),
            regions: geo.has_regions(),
        }
    }
}

/// Calls `f` for the country, AS and region of `unit` (those known).
pub fn for_each_entity(geo: &GeoDb, kinds: EntityKinds, unit: Unit, mut f: impl FnMut(Entity)) {
    let (family, unit) = unit;
    if let Some(country) = geo.country_of_unit(family, unit) {
        f(Entity::Country(country));
    }
    if kinds.asns {
        if let Some(asn) = geo.asn_of_unit(family, unit) {
            f(Entity::Asn(asn));
        }
    }
    if kinds.regions {
        if let Some(region) = geo.region_of_unit(family, unit) {
            f(Entity::Region(region.clone()));
        }
    }
}

/// Remembers every series written in this run, so a series that goes silent
/// in a later bin is written as 0 rather than left as "no data".
#[derive(Debug, Default)]
pub struct SeenSeries {
    keys: HashSet<SeriesKey>,
}

impl SeenSeries {
    /// Turns one bin's values into the sorted list to write, adding 0 for
    /// every series seen before and missing now.
    pub fn complete(&mut self, values: BTreeMap<SeriesKey, f64>) -> Vec<(SeriesKey, Option<f64>)> {
        let mut values = values;
        for key in &self.keys {
            values.entry(key.clone()).or_insert(0.0);
        }
        for key in values.keys() {
            if !self.keys.contains(key) {
                self.keys.insert(key.clone());
            }
        }
        values.into_iter().map(|(k, v)| (k, Some(v))).collect()
    }
}

/// Adds `value` to the series `(entity, signal)` of a bin being closed.
pub fn add_value(
    values: &mut BTreeMap<SeriesKey, f64>,
    entity: Entity,
    signal: SignalKind,
    value: f64,
) {
    *values.entry(SeriesKey { entity, signal }).or_insert(0.0) += value;
}

/// Per-bin state kept by time: bins open until the caller closes them, and
/// items for a bin already closed are refused (and counted by the caller).
#[derive(Debug)]
pub struct OpenBins<T> {
    bin: BinSize,
    open: BTreeMap<UnixSecs, T>,
    closed_before: Option<UnixSecs>,
}

impl<T: Default> OpenBins<T> {
    /// No bin open yet.
    pub fn new(bin: BinSize) -> Self {
        OpenBins {
            bin,
            open: BTreeMap::new(),
            closed_before: None,
        }
    }

    /// The bin width.
    pub fn bin(&self) -> BinSize {
        self.bin
    }

    /// The state of the bin holding `t`, or `None` if that bin was closed.
    pub fn get_mut(&mut self, t: UnixSecs) -> Option<&mut T> {
        let start = self.bin.floor(t);
        if self.closed_before.is_some_and(|c| start < c) {
            return None;
        }
        Some(self.open.entry(start).or_default())
    }

    /// Removes and returns, oldest first, every open bin that ends at or
    /// before `t`; later items for those bins are refused.
    pub fn close_until(&mut self, t: UnixSecs) -> Vec<(UnixSecs, T)> {
        let limit = self.bin.floor(t);
        let keep = self.open.split_off(&limit);
        let closed = std::mem::replace(&mut self.open, keep);
        self.closed_before = Some(self.closed_before.map_or(limit, |c| c.max(limit)));
        closed.into_iter().collect()
    }

    /// Removes and returns every open bin.
    pub fn close_all(&mut self) -> Vec<(UnixSecs, T)> {
        let last = self.open.keys().next_back().copied();
        let closed = std::mem::take(&mut self.open);
        if let Some(last) = last {
            let end = last + i64::from(self.bin.secs());
            self.closed_before = Some(self.closed_before.map_or(end, |c| c.max(end)));
        }
        closed.into_iter().collect()
    }
}

/// Counts per unit, merged at bin close into counts per entity (a fast,
/// non-cryptographic hash: the keys are addresses, hashed once per record).
pub type UnitCounts<C> = HashMap<Unit, C, rustc_hash::FxBuildHasher>;
