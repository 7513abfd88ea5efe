//! Batch detection over the store: each series' events and each entity's
//! incidents, for vigie's detector and for IODA's published method
//! (`ioda-median`), for comparison.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

use vigie_detect::{
    detect_spans_local, ioda_detect_series, IodaConfig, IodaLevel, SignalDetection, SignalEvent,
    VigieConfig, MAX_SILENCE_SECS,
};
use vigie_model::{BinSize, Entity, EntityKind, Series, SeriesKey, TimeRange, TimeWindow};
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Entities go in batches of about BATCH_BINS bins: read (the store is
    // one connection), detect every series of the batch on every core,
    // then store the batch's results in order (regions and ASes before
    // the countries that list them).
    let mut next = 0;
    while next < entities.len() {
        let mut batch: Vec<(&Entity, Vec<Vec<Series>>)> = Vec::new();
        let mut bins_read = 0usize;
        while next < entities.len() && (batch.is_empty() || bins_read < BATCH_BINS) {
            let entity = &entities[next];
            progress(entity, next, entities.len());
            next += 1;
            let infos = listed.get(entity).map(Vec::as_slice).unwrap_or_default();
            let series = read_spans(store, infos, options.range)?;
            bins_read += series
                .iter()
                .flatten()
                .map(|s| s.values.len())
                .sum::<usize>();
            batch.push((entity, series));
        }
        let jobs: Vec<&Vec<Series>> = batch.iter().flat_map(|(_, series)| series).collect();
        let results = detect_all(&jobs, &config, &ioda, threads);
        let mut results = results.into_iter();
        for (entity, series) in &batch {
            summary.series += series.len();
            let mut detections = Vec::new();
            for spans in series {
                let (vigie, ioda_events) = results.next().unwrap_or_default();
                let (key, bin) = (&spans[0].key, spans[0].bin);
                let found: Vec<SignalEvent> = vigie.iter().flat_map(|d| d.events.clone()).collect();
                let events = stored_events(VIGIE, bin, &found)?;
                summary.events += events.len();
                store.replace_events(VIGIE, key, bin, &events)?;
                let ioda_events = stored_events(IODA_MEDIAN, bin, &ioda_events)?;
                store.replace_events(IODA_MEDIAN, key, bin, &ioda_events)?;
                detections.extend(vigie);
            }
            let incidents = scope.scoped_incidents(store, entity, &detections, &config)?;
            summary.incidents += incidents.len();
            store_incidents(store, entity, &incidents)?;
        }
    }
    Ok(summary)
}

/// One series' result: vigie's detections (one per span that holds data)
/// and IODA's method's events.
type SeriesResult = (Vec<SignalDetection>, Vec<SignalEvent>);

/// About this many bins are read before the batch is detected (some
/// hundred megabytes of series at most).
const BATCH_BINS: usize = 20_000_000;

/// vigie's detections (one per span) and IODA's method's events for each
/// series of `jobs`, in order, computed on `threads` threads.
fn detect_all(
    jobs: &[&Vec<Series>],
    config: &VigieConfig,
    ioda: &IodaConfig,
    threads: usize,
) -> Vec<SeriesResult> {
    let detect_one = |spans: &Vec<Series>| {
        let offset = spans
            .first()
            .map_or(0, |s| crate::local_offset(&s.key.entity));
        let vigie = detect_spans_local(spans, config, offset);
        let ioda_events: Vec<SignalEvent> = spans
            .iter()
            .filter_map(|s| ioda_detect_series(s, ioda))
            .flat_map(|d| d.events)
            .collect();
        (vigie, ioda_events)
    };
    if threads <= 1 || jobs.len() <= 1 {
        return jobs.iter().map(|spans| detect_one(spans)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<SeriesResult>> = vec![None; jobs.len()];
    let done: Vec<Vec<(usize, SeriesResult)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(jobs.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(spans) = jobs.get(index) else {
                            break;
                        };
                        out.push((index, detect_one(spans)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for (index, result) in done.into_iter().flatten() {
        slots[index] = Some(result);
    }
    slots.into_iter().map(Option::unwrap_or_default).collect()
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

/// Reads the series `infos` describe, each at its own bin width, as the
/// spans that hold data (silences longer than the detector's
/// [`MAX_SILENCE_SECS`] are not read) inside `range` or their whole
/// plausible extent; series with nothing to read are left out.
fn read_spans(
    store: &Store,
    infos: &[SeriesInfo],
    range: Option<TimeRange>,
) -> Result<Vec<Vec<Series>>> {
    let window = TimeWindow::stored_now();
    let mut out = Vec::new();
    for info in infos {
        let Some(extent) = crate::plausible_range(store, info)? else {
            continue;
        };
        let limit = match range {
            Some(range) => match intersect(extent, range) {
                Some(limit) => limit,
                None => continue,
            },
            None => extent,
        };
        let mut spans = Vec::new();
        for span in store.data_spans(info, window, i64::from(MAX_SILENCE_SECS))? {
            if let Some(span) = intersect(span, limit) {
                spans.push(store.read_series(&info.key, info.bin, span)?);
            }
        }
        if !spans.is_empty() {
            out.push(spans);
        }
    }
    Ok(out)
}

/// The part of `a` inside `b`, if any.
fn intersect(a: TimeRange, b: TimeRange) -> Option<TimeRange> {
    TimeRange::new(a.from().max(b.from()), a.until().min(b.until())).ok()
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
