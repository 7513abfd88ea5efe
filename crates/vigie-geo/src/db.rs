//! [`GeoDb`]: what vigie knows about each unit of address space.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use vigie_model::{CountryCode, RegionId};

use crate::embedded;
use crate::range_map::UnitRangeMap;
use crate::unit::{unit_of, Family};

/// A country table: the lazily built embedded one, or one built from files.
#[derive(Clone, Debug)]
pub(crate) enum CountryTable {
    /// The embedded IPv4 table, built on first use.
    EmbeddedV4,
    /// The embedded IPv6 table, built on first use.
    EmbeddedV6,
    /// A table built from loaded files (possibly over the embedded one).
    Owned(UnitRangeMap<CountryCode>),
}

impl CountryTable {
    #[inline]
    fn map(&self) -> &UnitRangeMap<CountryCode> {
        match self {
            CountryTable::EmbeddedV4 => embedded::v4_table(),
            CountryTable::EmbeddedV6 => embedded::v6_table(),
            CountryTable::Owned(map) => map,
        }
    }
}

/// Country, region and AS of address space, at unit granularity (IPv4 /24,
/// IPv6 /48).
///
/// Address ranges of any alignment become units by one rule: a unit belongs
/// to the range holding its first address. Lookups are binary searches and
/// never allocate.
///
/// Country codes are kept as the sources write them, including the RIRs'
/// pseudo-countries `EU` (European Union) and `AP` (Asia-Pacific), which
/// stand for space used across several countries (see
/// [`is_pseudo_country`]); the RIRs' `ZZ` ("unknown") means no country.
#[derive(Clone, Debug)]
pub struct GeoDb {
    pub(crate) countries_v4: CountryTable,
    pub(crate) countries_v6: CountryTable,
    pub(crate) regions_v4: UnitRangeMap<u32>,
    pub(crate) regions_v6: UnitRangeMap<u32>,
    pub(crate) region_ids: Vec<RegionId>,
    pub(crate) asns_v4: UnitRangeMap<u32>,
    pub(crate) asns_v6: UnitRangeMap<u32>,
    pub(crate) as_names: HashMap<u32, String>,
}

/// True for the registry codes that are not countries: `EU` and `AP`.
pub fn is_pseudo_country(country: CountryCode) -> bool {
    matches!(country.as_str(), "EU" | "AP")
}

impl GeoDb {
    /// Countries from the `iptocc` crate's compiled-in RIR data; no regions,
    /// no AS data. Zero setup.
    ///
    /// Each family's table is built on its first lookup (IPv4: one lookup per
    /// /24; IPv6: one per /32 of the RIR blocks, so a /48 takes its /32's
    /// country). Call [`GeoDb::preload`] to pay that cost up front.
    pub fn embedded() -> GeoDb {
        GeoDb {
            countries_v4: CountryTable::EmbeddedV4,
            countries_v6: CountryTable::EmbeddedV6,
            ..GeoDb::empty()
        }
    }

    /// A database that knows nothing.
    pub fn empty() -> GeoDb {
        GeoDb {
            countries_v4: CountryTable::Owned(UnitRangeMap::new()),
            countries_v6: CountryTable::Owned(UnitRangeMap::new()),
            regions_v4: UnitRangeMap::new(),
            regions_v6: UnitRangeMap::new(),
            region_ids: Vec::new(),
            asns_v4: UnitRangeMap::new(),
            asns_v6: UnitRangeMap::new(),
            as_names: HashMap::new(),
        }
    }

    /// Builds any lazily built table now (the embedded country tables).
    pub fn preload(&self) {
        self.countries_v4.map();
        self.countries_v6.map();
    }

    /// The country table of a family: sorted unit ranges with their country.
    #[inline]
    pub fn country_table(&self, family: Family) -> &UnitRangeMap<CountryCode> {
        match family {
            Family::V4 => self.countries_v4.map(),
            Family::V6 => self.countries_v6.map(),
        }
    }

    /// The country of the unit holding `ip`.
    #[inline]
    pub fn country_of(&self, ip: IpAddr) -> Option<CountryCode> {
        let (family, unit) = unit_of(ip);
        self.country_of_unit(family, unit)
    }

    /// The country of a unit.
    #[inline]
    pub fn country_of_unit(&self, family: Family, unit: u64) -> Option<CountryCode> {
        self.country_table(family).get(unit)
    }

    /// Calls `f(country, units)` for every stretch of units `[first, last]`
    /// with a country, in ascending order. A prefix whose /24s belong to two
    /// countries yields each country with its own unit count.
    #[inline]
    pub fn split_countries(
        &self,
        family: Family,
        first: u64,
        last: u64,
        f: impl FnMut(CountryCode, u64),
    ) {
        self.country_table(family).for_each_overlap(first, last, f);
    }

    /// How many units each country holds in a family.
    pub fn units_per_country(&self, family: Family) -> BTreeMap<CountryCode, u64> {
        let mut totals = BTreeMap::new();
        for (first, last, country) in self.country_table(family).iter() {
            *totals.entry(country).or_insert(0u64) += last - first + 1;
        }
        totals
    }

    /// Every country holding at least one unit in either family, sorted.
    pub fn countries(&self) -> Vec<CountryCode> {
        let mut all: Vec<CountryCode> = Family::ALL
            .iter()
            .flat_map(|&family| self.country_table(family).iter().map(|(_, _, cc)| cc))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    fn region_table(&self, family: Family) -> &UnitRangeMap<u32> {
        match family {
            Family::V4 => &self.regions_v4,
            Family::V6 => &self.regions_v6,
        }
    }

    /// True when a region table was loaded.
    pub fn has_regions(&self) -> bool {
        !self.region_ids.is_empty()
    }

    /// The region of the unit holding `ip`.
    pub fn region_of(&self, ip: IpAddr) -> Option<&RegionId> {
        let (family, unit) = unit_of(ip);
        self.region_of_unit(family, unit)
    }

    /// The region of a unit; `None` without a region table.
    #[inline]
    pub fn region_of_unit(&self, family: Family, unit: u64) -> Option<&RegionId> {
        let index = self.region_table(family).get(unit)?;
        self.region_ids.get(index as usize)
    }

    /// Calls `f(region, units)` for every stretch of units `[first, last]`
    /// with a region, in ascending order. Does nothing without a region table.
    #[inline]
    pub fn split_regions(
        &self,
        family: Family,
        first: u64,
        last: u64,
        mut f: impl FnMut(&RegionId, u64),
    ) {
        self.region_table(family)
            .for_each_overlap(first, last, |index, units| {
                if let Some(region) = self.region_ids.get(index as usize) {
                    f(region, units);
                }
            });
    }

    /// Every region named by the loaded region table, in load order.
    pub fn regions(&self) -> &[RegionId] {
        &self.region_ids
    }

    /// The regions of one country, in load order.
    pub fn regions_of_country(&self, country: CountryCode) -> impl Iterator<Item = &RegionId> + '_ {
        self.region_ids
            .iter()
            .filter(move |region| region.country == country)
    }

    /// How many units each region holds in a family.
    pub fn units_per_region(&self, family: Family) -> BTreeMap<&RegionId, u64> {
        let mut totals = BTreeMap::new();
        for (first, last, index) in self.region_table(family).iter() {
            if let Some(region) = self.region_ids.get(index as usize) {
                *totals.entry(region).or_insert(0u64) += last - first + 1;
            }
        }
        totals
    }

    /// The prefix-to-AS table of a family: sorted unit ranges with their
    /// origin AS.
    pub fn asn_table(&self, family: Family) -> &UnitRangeMap<u32> {
        match family {
            Family::V4 => &self.asns_v4,
            Family::V6 => &self.asns_v6,
        }
    }

    /// True when a prefix-to-AS table was loaded.
    pub fn has_asns(&self) -> bool {
        !self.asns_v4.is_empty() || !self.asns_v6.is_empty()
    }

    /// The origin AS of the unit holding `ip`, from a loaded prefix-to-AS
    /// table (for signals that do not come with BGP data); `None` without one.
    ///
    /// The answer is at unit granularity: the AS whose most specific range
    /// holds the unit's first address.
    #[inline]
    pub fn asn_of(&self, ip: IpAddr) -> Option<u32> {
        let (family, unit) = unit_of(ip);
        self.asn_of_unit(family, unit)
    }

    /// The origin AS of a unit; `None` without a prefix-to-AS table.
    #[inline]
    pub fn asn_of_unit(&self, family: Family, unit: u64) -> Option<u32> {
        self.asn_table(family).get(unit)
    }

    /// Calls `f(asn, units)` for every stretch of units `[first, last]` with
    /// an origin AS, in ascending order.
    #[inline]
    pub fn split_asns(&self, family: Family, first: u64, last: u64, f: impl FnMut(u32, u64)) {
        self.asn_table(family).for_each_overlap(first, last, f);
    }

    /// The name of an AS, from a loaded AS-name table.
    pub fn as_name(&self, asn: u32) -> Option<&str> {
        self.as_names.get(&asn).map(String::as_str)
    }

    /// How many AS names are known.
    pub fn as_name_count(&self) -> usize {
        self.as_names.len()
    }
}

impl Default for GeoDb {
    /// The embedded database ([`GeoDb::embedded`]).
    fn default() -> Self {
        GeoDb::embedded()
    }
}
