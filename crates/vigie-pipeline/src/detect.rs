//! Batch detection over the store: each series' events and each entity's
//! incidents, for vigie's detector and for IODA's published method
//! (`ioda-median`), for comparison.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use vigie_detect::{
    detect_series, ioda_detect_series, IodaConfig, IodaLevel, SignalEvent, VigieConfig,
};
use vigie_model::{BinSize, Entity, EntityKind, Series, SeriesKey, TimeRange};
use vigie_store::{SeriesInfo, Store, StoredEvent, StoredIncident};

use crate::scope::ScopeContext;

/// The method name of vigie's detector in the store.
pub const VIGIE: &str = "vigie";
/// The method name of IODA's method in the store.
pub const IODA_MEDIAN: &str = "ioda-median";

/// What [`detect_and_store`] scans.
#[derive(Clone, Debug, Default)]
pub struct DetectOptions {
    /// Only this entity; default: every entity.
    pub entity: Option<Entity>,
    /// Only this period; default: each series' whole extent.
    pub range: Option<TimeRange>,
    /// Only series of this bin width; default: every series at its own bin
    /// width (the finest one when a signal is stored at several).
    pub bin: Option<BinSize>,
}

/// What [`detect_and_store`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectSummary {
    /// Entities scanned.
    pub entities: usize,
    /// Series read.
    pub series: usize,
    /// vigie's signal events stored.
    pub events: usize,
    /// vigie's incidents stored.
    pub incidents: usize,
}

/// Runs detection over the store's series as `options` select them and
/// replaces their stored events (vigie's and IODA's method's) and
/// incidents (vigie's, scoped by [`ScopeContext`]). Regions and ASes go
/// first, so countries can list the parts they affect. `progress` hears
/// each entity before it is scanned, with its index and the total.
pub fn detect_and_store(
    store: &mut Store,
    options: &DetectOptions,
    progress: &mut dyn FnMut(&Entity, usize, usize),
) -> Result<DetectSummary> {
    let mut listed = series_at_any_bin(store, options.bin)?;
    if let Some(only) = &options.entity {
        listed.retain(|entity, _| entity == only);
    }
    if listed.is_empty() {
        bail!(
            "no series{}{}: ingest or import data first",
            options
                .bin
                .map(|b| format!(" with {} s bins", b.secs()))
                .unwrap_or_default(),
            options
                .entity
                .as_ref()
                .map(|e| format!(" for {e}"))
                .unwrap_or_default()
        );
    }
    let mut entities: Vec<Entity> = listed.keys().cloned().collect();
    entities.sort_by_key(|e| (e.kind() == EntityKind::Country, e.clone()));
    let bins: BTreeMap<SeriesKey, BinSize> = listed
        .values()
        .flatten()
        .map(|info| (info.key.clone(), info.bin))
        .collect();
    let mut scope = ScopeContext::new(bins);
    let config = VigieConfig::default();
    let ioda = IodaConfig::published(IodaLevel::Critical);
    let mut summary = DetectSummary {
        entities: entities.len(),
        ..DetectSummary::default()
    };
    for (index, entity) in entities.iter().enumerate() {
        progress(entity, index, entities.len());
        let infos = listed.get(entity).map(Vec::as_slice).unwrap_or_default();
        let series = read_series(store, infos, options.range)?;
        summary.series += series.len();
        let mut detections = Vec::new();
        for s in &series {
            let detection = detect_series(s, &config);
            let events = stored_events(VIGIE, s.bin, &detection.events)?;
            summary.events += events.len();
            store.replace_events(VIGIE, &s.key, s.bin, &events)?;
            let ioda_events = match ioda_detect_series(s, &ioda) {
                Some(d) => stored_events(IODA_MEDIAN, s.bin, &d.events)?,
                None => Vec::new(),
            };
            store.replace_events(IODA_MEDIAN, &s.key, s.bin, &ioda_events)?;
            detections.push(detection);
        }
        let incidents = scope.scoped_incidents(store, entity, &detections, &config)?;
        summary.incidents += incidents.len();
        store_incidents(store, entity, &incidents)?;
    }
    Ok(summary)
}

/// Replaces `entity`'s incidents of vigie's detector in the store (batch
/// and live detection write them the same way).
pub(crate) fn store_incidents(
    store: &mut Store,
    entity: &Entity,
    incidents: &[vigie_detect::Incident],
) -> Result<()> {
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
    store
        .replace_incidents(VIGIE, entity, &stored)
        .with_context(|| format!("cannot store the incidents of {entity}"))
}

/// The store's series grouped by entity, each signal at its own bin width
/// (the finest one when a signal is stored at several), or only series of
/// `bin` when given.
fn series_at_any_bin(
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
/// `range` or their whole plausible extent (series never written are
/// skipped, and so are bins outside the plausible time window).
fn read_series(
    store: &Store,
    infos: &[SeriesInfo],
    range: Option<TimeRange>,
) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for info in infos {
        let range = match range {
            Some(range) => range,
            None => match crate::plausible_range(store, info)? {
                Some(range) => range,
                None => continue,
            },
        };
        out.push(store.read_series(&info.key, info.bin, range)?);
    }
    Ok(out)
}

/// Events as the store keeps them, under `method`.
pub(crate) fn stored_events(
    method: &str,
    bin: BinSize,
    events: &[SignalEvent],
) -> Result<Vec<StoredEvent>> {
    events
        .iter()
        .map(|event| {
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
        })
        .collect()
}
