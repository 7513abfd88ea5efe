//! Maps IP address space to country, region and autonomous system, at the
//! granularity vigie counts in.
//!
//! A **unit** is an IPv4 /24 (`u64::from(addr >> 8)`) or an IPv6 /48
//! (`(addr >> 80) as u64`); everything here is expressed in units:
//! - [`v4_unit`], [`v6_unit`], [`unit_of`], [`prefix_units`] and
//!   [`range_units`] turn addresses, prefixes and ranges into units;
//! - [`UnitRangeMap`] holds sorted, disjoint unit ranges with a value, and
//!   [`UnitRangeMapBuilder`] resolves overlapping ranges into one (narrower
//!   wins);
//! - [`GeoDb`] answers "which country / region / AS is this unit" and splits
//!   a span of units between countries, regions or ASes;
//! - [`GeoDbBuilder`] loads the public tables: RIR delegated-extended stats,
//!   ip-location-db CSVs (country, ASN, dbip-city regions), MMDB country and
//!   ASN databases, RouteViews prefix-to-AS tables (pyasn and CAIDA) and AS
//!   names. [`GeoDb::embedded`] needs no file at all.
//!
//! Any address range becomes units by one rule: **a unit belongs to the
//! range holding its first address**. Where ranges of one file overlap, the
//! narrower (more specific) one wins; a file loaded later overrides earlier
//! ones wherever it has data.
//!
//! ```
//! use vigie_geo::{prefix_units, GeoDbBuilder};
//!
//! let mut builder = GeoDbBuilder::empty(); // or GeoDbBuilder::embedded()
//! let table = "100.64.0.0,100.64.1.255,KZ\n100.64.2.0,100.64.3.255,KG\n";
//! let report = builder
//!     .load_ip_location_db_country_from(table.as_bytes(), "countries.csv")
//!     .unwrap();
//! assert_eq!(report.rows_loaded, 2);
//! let db = builder.build();
//!
//! // A /22 whose /24s belong to two countries: each gets its own count.
//! let (family, first, last) = prefix_units(&"100.64.0.0/22".parse().unwrap()).unwrap();
//! let mut split = Vec::new();
//! db.split_countries(family, first, last, |country, units| {
//!     split.push((country.to_string(), units))
//! });
//! assert_eq!(split, [("KZ".to_string(), 2), ("KG".to_string(), 2)]);
//! ```

#![warn(missing_docs)]

mod builder;
mod db;
mod embedded;
mod parse;
mod range_map;
mod unit;

pub use builder::{GeoDbBuilder, GeoError, LoadReport, SourceKind, MAX_REPORTED_ERRORS};
pub use db::{is_pseudo_country, GeoDb};
pub use embedded::{embedded_build_times, EMBEDDED_V6_BLOCKS};
pub use range_map::{UnitRangeMap, UnitRangeMapBuilder};
pub use unit::{
    prefix_units, range_units, unit_first_addr, unit_of, v4_range_units, v4_unit, v6_range_units,
    v6_unit, Family,
};
pub use vigie_model::{CountryCode, RegionId};

/// Parses a country code as the registries and geo tables write it.
///
/// `None` for an empty code, the registries' `ZZ` ("unknown"), and anything
/// that is not two ASCII letters. Case is ignored. `EU` and `AP` are kept
/// (see [`is_pseudo_country`]).
pub fn registry_country(code: &str) -> Option<CountryCode> {
    let country = CountryCode::new(code.trim()).ok()?;
    (country.as_str() != "ZZ").then_some(country)
}
