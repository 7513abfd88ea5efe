//! Incident scope: for a country's incident, the regions and networks
//! (ASes) of that country with an overlapping incident of their own, and
//! their share of the country's address space.
//!
//! Regions and ASes are detected first; [`ScopeContext`] remembers their
//! incidents so that a country's incidents, fused afterwards, can name them.
//! A live detector keeps one context and calls
//! [`ScopeContext::scoped_incidents`] on each entity whose detections
//! changed, parts before wholes, as batch detection does.

use std::collections::BTreeMap;

use anyhow::Result;
use vigie_detect::{fuse, AffectedShare, Incident, SignalDetection, VigieConfig};
use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, TimeRange};
use vigie_store::Store;

/// What scoping a country's incidents needs: the incidents already found in
/// regions and ASes, and each series' bin width (to read the regions'
/// visible address space).
#[derive(Debug, Default)]
pub struct ScopeContext {
    bins: BTreeMap<SeriesKey, BinSize>,
    regions: BTreeMap<Entity, Vec<Incident>>,
    networks: BTreeMap<u32, Vec<Incident>>,
}

impl ScopeContext {
    /// A context that knows no incident yet; `bins` gives each series' bin
    /// width in the store.
    pub fn new(bins: BTreeMap<SeriesKey, BinSize>) -> ScopeContext {
        ScopeContext {
            bins,
            ..ScopeContext::default()
        }
    }

    /// Notes that `key` is stored at `bin` (the finest width is kept), for
    /// a live detector that meets new series as they appear.
    pub fn note_bin(&mut self, key: &SeriesKey, bin: BinSize) {
        let finest = self.bins.entry(key.clone()).or_insert(bin);
        if bin.secs() < finest.secs() {
            *finest = bin;
        }
    }

    /// Fuses `entity`'s detections into incidents, scopes each
    /// ([`Self::scope_incident`]) and remembers them when `entity` is a
    /// region or an AS, for the countries that follow.
    pub fn scoped_incidents(
        &mut self,
        store: &Store,
        entity: &Entity,
        detections: &[SignalDetection],
        config: &VigieConfig,
    ) -> Result<Vec<Incident>> {
        let mut incidents = fuse(entity, detections, config);
        for incident in &mut incidents {
            self.scope_incident(store, entity, incident)?;
        }
        self.remember(entity, &incidents);
        Ok(incidents)
    }

    /// Sets the affected regions and networks of `entity`'s `incident`
    /// (nothing unless `entity` is a country with affected parts).
    pub fn scope_incident(
        &self,
        store: &Store,
        entity: &Entity,
        incident: &mut Incident,
    ) -> Result<()> {
        let mut affected = self.affected_regions(store, entity, incident);
        affected.extend(self.affected_networks(store, entity, incident)?);
        if !affected.is_empty() {
            incident.set_affected(affected);
        }
        Ok(())
    }

    /// Keeps the incidents of a region or an AS for the countries scoped
    /// later, in place of what was kept for it before (a live detector
    /// fuses an entity again as its bins arrive).
    fn remember(&mut self, entity: &Entity, incidents: &[Incident]) {
        match entity {
            Entity::Region(_) if incidents.is_empty() => {
                self.regions.remove(entity);
            }
            Entity::Region(_) => {
                self.regions.insert(entity.clone(), incidents.to_vec());
            }
            Entity::Asn(asn) if incidents.is_empty() => {
                self.networks.remove(asn);
            }
            Entity::Asn(asn) => {
                self.networks.insert(*asn, incidents.to_vec());
            }
            _ => {}
        }
    }

    /// For a country's incident, the regions of that country with an
    /// incident overlapping it, with their share of the country's visible
    /// address space in the day before.
    fn affected_regions(
        &self,
        store: &Store,
        country: &Entity,
        incident: &Incident,
    ) -> Vec<AffectedShare> {
        let Entity::Country(cc) = country else {
            return Vec::new();
        };
        let end = incident.end.unwrap_or(incident.observed_until);
        let before = (incident.start - 86_400, incident.start);
        let bgp = |entity: &Entity| {
            let key = SeriesKey {
                entity: entity.clone(),
                signal: SignalKind::BgpVisibleSlash24s,
            };
            let bin = *self.bins.get(&key)?;
            mean_over(store, &key, bin, before.0, before.1)
        };
        let Some(country_space) = bgp(country).filter(|v| *v > 0.0) else {
            return Vec::new();
        };
        let mut shares: BTreeMap<Entity, f64> = BTreeMap::new();
        let regions = self
            .regions
            .iter()
            .flat_map(|(region, list)| list.iter().map(move |other| (region, other)));
        for (region, other) in regions {
            let Entity::Region(id) = region else { continue };
            if id.country == *cc && overlaps(other, incident.start, end) {
                if let Some(space) = bgp(region) {
                    shares.insert(region.clone(), (space / country_space).min(1.0));
                }
            }
        }
        shares
            .into_iter()
            .map(|(entity, address_share)| AffectedShare {
                entity,
                address_share,
            })
            .collect()
    }

    /// For a country's incident, the ASes originating space in that country
    /// (the store's AS-to-country table, from BGP ingestion) with an
    /// incident overlapping it, with their share of the country's /24s.
    fn affected_networks(
        &self,
        store: &Store,
        country: &Entity,
        incident: &Incident,
    ) -> Result<Vec<AffectedShare>> {
        let Entity::Country(cc) = country else {
            return Ok(Vec::new());
        };
        if self.networks.is_empty() {
            return Ok(Vec::new());
        }
        let networks = store.as_countries(Some(*cc), None)?;
        let country_units: u64 = networks.iter().map(|n| n.units_v4).sum();
        if country_units == 0 {
            return Ok(Vec::new());
        }
        let end = incident.end.unwrap_or(incident.observed_until);
        let mut affected = Vec::new();
        for network in &networks {
            let Some(incidents) = self.networks.get(&network.asn) else {
                continue;
            };
            let any_overlap = incidents
                .iter()
                .any(|other| overlaps(other, incident.start, end));
            if any_overlap && network.units_v4 > 0 {
                affected.push(AffectedShare {
                    entity: Entity::Asn(network.asn),
                    address_share: network.units_v4 as f64 / country_units as f64,
                });
            }
        }
        Ok(affected)
    }
}

/// Whether `other` overlaps `[start, end)` (an ongoing incident lasts
/// until it was last observed).
fn overlaps(other: &Incident, start: i64, end: i64) -> bool {
    other.start < end && other.end.unwrap_or(other.observed_until) > start
}

/// The mean of a series' values over `[from, until)`, from bins with data.
fn mean_over(store: &Store, key: &SeriesKey, bin: BinSize, from: i64, until: i64) -> Option<f64> {
    let series = store
        .read_series(key, bin, TimeRange::new(from, until).ok()?)
        .ok()?;
    let values: Vec<f64> = series.values.iter().flatten().copied().collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}
