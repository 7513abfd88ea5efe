//! `vigie detect`: runs detection over the store in batch and stores each
//! series' events and each entity's incidents, for vigie's detector and for
//! IODA's published method (`ioda-median`), for comparison.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use vigie_detect::{
    detect_series, fuse, ioda_detect_series, AffectedShare, Incident, IodaConfig, IodaLevel,
    SignalEvent, VigieConfig,
};
use vigie_model::{
    parse_utc, BinSize, Entity, EntityKind, Series, SeriesKey, SignalKind, TimeRange,
};
use vigie_store::{SeriesInfo, Store, StoredEvent, StoredIncident};

use crate::cli::DetectArgs;

/// The method name of vigie's detector in the store.
pub const VIGIE: &str = "vigie";
/// The method name of IODA's method in the store.
pub const IODA_MEDIAN: &str = "ioda-median";

fn stored_event(method: &str, bin: BinSize, event: &SignalEvent) -> Result<StoredEvent> {
    Ok(StoredEvent {
        method: method.to_string(),
        key: event.key.clone(),
        bin,
        start: event.start,
        end: event.end,
        depth: Some(event.depth),
        score: Some(event.ioda_score),
        detail: serde_json::to_string(event)?,
    })
}

/// The store's series grouped by entity, each signal at its own bin width
/// (the finest one when a signal is stored at several), or only series of
/// `bin` when given.
pub fn series_at_any_bin(
    store: &Store,
    bin: Option<BinSize>,
) -> Result<BTreeMap<Entity, Vec<SeriesInfo>>> {
    let mut finest: BTreeMap<SeriesKey, SeriesInfo> = BTreeMap::new();
    for info in store.list_series()? {
        if bin.is_some_and(|b| b != info.bin) {
            continue;
        }
        match finest.get(&info.key) {
            Some(kept) if kept.bin.secs() <= info.bin.secs() => {}
            _ => {
                finest.insert(info.key.clone(), info);
            }
        }
    }
    let mut grouped: BTreeMap<Entity, Vec<SeriesInfo>> = BTreeMap::new();
    for (key, info) in finest {
        grouped.entry(key.entity).or_default().push(info);
    }
    Ok(grouped)
}

/// Reads the series `infos` describe, each at its own bin width, over
/// `range` or their whole extent.
pub fn read_series_of(
    store: &Store,
    infos: &[SeriesInfo],
    range: Option<TimeRange>,
) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for info in infos {
        out.extend(read_entity_series(
            store,
            std::slice::from_ref(info),
            info.bin,
            range,
        )?);
    }
    Ok(out)
}

/// Reads the series `infos` describe (one entity's, from [`series_at_any_bin`]),
/// over `range` or their whole extent.
pub fn read_entity_series(
    store: &Store,
    infos: &[SeriesInfo],
    bin: BinSize,
    range: Option<TimeRange>,
) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for info in infos {
        let (Some(first), Some(last)) = (info.first_bin, info.last_bin) else {
            continue;
        };
        let range = match range {
            Some(range) => range,
            None => TimeRange::new(first, last + bin.secs() as i64)?,
        };
        out.push(store.read_series(&info.key, bin, range)?);
    }
    Ok(out)
}

/// The mean of a series' values over `[from, until)`, from bins with data.
fn mean_over(store: &Store, key: &SeriesKey, bin: BinSize, from: i64, until: i64) -> Option<f64> {
    let series = store
        .read_series(key, bin, TimeRange::new(from, until).ok()?)
        .ok()?;
    let values: Vec<f64> = series.values.iter().flatten().copied().collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// For a country's incident, the regions of that country with an incident
/// overlapping it, with their share of the country's visible address space
/// in the day before.
fn affected_regions(
    store: &Store,
    country: &Entity,
    incident: &Incident,
    region_incidents: &[(Entity, Incident)],
    bins: &BTreeMap<SeriesKey, BinSize>,
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
        let bin = *bins.get(&key)?;
        mean_over(store, &key, bin, before.0, before.1)
    };
    let Some(country_space) = bgp(country).filter(|v| *v > 0.0) else {
        return Vec::new();
    };
    let mut shares: BTreeMap<Entity, f64> = BTreeMap::new();
    for (region, other) in region_incidents {
        let Entity::Region(id) = region else { continue };
        let overlaps =
            other.start < end && other.end.unwrap_or(other.observed_until) > incident.start;
        if id.country == *cc && overlaps {
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
/// (the store's AS-to-country table, from BGP ingestion) with an incident
/// overlapping it, with their share of the country's /24s.
fn affected_networks(
    store: &Store,
    country: &Entity,
    incident: &Incident,
    network_incidents: &BTreeMap<u32, Vec<Incident>>,
) -> Result<Vec<AffectedShare>> {
    let Entity::Country(cc) = country else {
        return Ok(Vec::new());
    };
    if network_incidents.is_empty() {
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
        let Some(incidents) = network_incidents.get(&network.asn) else {
            continue;
        };
        let overlaps = incidents.iter().any(|other| {
            other.start < end && other.end.unwrap_or(other.observed_until) > incident.start
        });
        if overlaps && network.units_v4 > 0 {
            affected.push(AffectedShare {
                entity: Entity::Asn(network.asn),
                address_share: network.units_v4 as f64 / country_units as f64,
            });
        }
    }
    Ok(affected)
}

/// Runs `vigie detect`.
pub fn run(store: &mut Store, args: DetectArgs) -> Result<ExitCode> {
    let only_bin = args.bin_secs.map(BinSize::new).transpose()?;
    let only: Option<Entity> = args.entity.as_deref().map(str::parse).transpose()?;
    let range = match (&args.from, &args.until) {
        (None, None) => None,
        (from, until) => Some(TimeRange::new(
            from.as_deref().map(parse_utc).transpose()?.unwrap_or(0),
            until
                .as_deref()
                .map(parse_utc)
                .transpose()?
                .unwrap_or(i64::from(u32::MAX)),
        )?),
    };
    let mut listed = series_at_any_bin(store, only_bin)?;
    if let Some(only) = &only {
        listed.retain(|entity, _| entity == only);
    }
    let mut entities: Vec<Entity> = listed.keys().cloned().collect();
    // Each series' bin width, for the address-space shares of regions.
    let bins: BTreeMap<SeriesKey, BinSize> = listed
        .values()
        .flatten()
        .map(|info| (info.key.clone(), info.bin))
        .collect();
    if entities.is_empty() {
        anyhow::bail!(
            "no series{}{}: ingest or import data first",
            only_bin
                .map(|b| format!(" with {} s bins", b.secs()))
                .unwrap_or_default(),
            only.map(|e| format!(" for {e}")).unwrap_or_default()
        );
    }
    // Regions and ASes first, so countries can list the parts they affect.
    entities.sort_by_key(|e| (e.kind() == EntityKind::Country, e.clone()));
    let config = VigieConfig::default();
    let ioda = IodaConfig::published(IodaLevel::Critical);
    let bar = ProgressBar::new(entities.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entities ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut series_count, mut event_count, mut incident_count) = (0usize, 0usize, 0usize);
    let mut region_incidents: Vec<(Entity, Incident)> = Vec::new();
    let mut network_incidents: BTreeMap<u32, Vec<Incident>> = BTreeMap::new();
    for entity in &entities {
        bar.set_message(entity.to_string());
        let infos = listed.get(entity).map(Vec::as_slice).unwrap_or_default();
        let series = read_series_of(store, infos, range)?;
        series_count += series.len();
        let mut detections = Vec::new();
        for s in &series {
            let bin = s.bin;
            let detection = detect_series(s, &config);
            let events = detection
                .events
                .iter()
                .map(|e| stored_event(VIGIE, bin, e))
                .collect::<Result<Vec<_>>>()?;
            event_count += events.len();
            store.replace_events(VIGIE, &s.key, bin, &events)?;
            let ioda_events = match ioda_detect_series(s, &ioda) {
                Some(d) => d
                    .events
                    .iter()
                    .map(|e| stored_event(IODA_MEDIAN, bin, e))
                    .collect::<Result<Vec<_>>>()?,
                None => Vec::new(),
            };
            store.replace_events(IODA_MEDIAN, &s.key, bin, &ioda_events)?;
            detections.push(detection);
        }
        let mut incidents = fuse(entity, &detections, &config);
        for incident in &mut incidents {
            let mut affected = affected_regions(store, entity, incident, &region_incidents, &bins);
            affected.extend(affected_networks(
                store,
                entity,
                incident,
                &network_incidents,
            )?);
            if !affected.is_empty() {
                incident.set_affected(affected);
            }
        }
        let stored = incidents
            .iter()
            .map(|incident| {
                Ok(StoredIncident {
                    method: VIGIE.to_string(),
                    entity: entity.clone(),
                    start: incident.start,
                    end: incident.end,
                    detail: serde_json::to_string(incident)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        incident_count += stored.len();
        store
            .replace_incidents(VIGIE, entity, &stored)
            .with_context(|| format!("cannot store the incidents of {entity}"))?;
        match entity {
            Entity::Region(_) => {
                region_incidents.extend(incidents.into_iter().map(|i| (entity.clone(), i)))
            }
            Entity::Asn(asn) if !incidents.is_empty() => {
                network_incidents.entry(*asn).or_default().extend(incidents)
            }
            _ => {}
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "detected over {} series of {} entities: {event_count} signal events, {incident_count} incidents \
         (see `vigie incidents`)",
        series_count,
        entities.len()
    );
    Ok(ExitCode::SUCCESS)
}
