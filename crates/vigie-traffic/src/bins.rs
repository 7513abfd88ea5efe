//! What every traffic aggregator shares: the entities an address unit
//! belongs to, per-entity sums, and bins kept open by time.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use vigie_geo::{Family, GeoDb};

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, UnixSecs};

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
