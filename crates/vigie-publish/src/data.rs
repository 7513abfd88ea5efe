//! What the API, the reports and the alerts read from the store,
//! independent of HTTP: series with downsampling, entity search, decoded
//! incidents with stable ids and their JSON, and per-entity outage
//! summaries.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use vigie_detect::Incident;
use vigie_model::{
    format_utc, BinSize, Entity, Series, SeriesKey, SignalKind, TimeRange, UnixSecs,
};
use vigie_store::{EntityInfo, ResultFilter, SeriesInfo, Store, StoreError, StoredEvent};

/// The detection method whose results are published unless another is asked
/// for (vigie's own detector; `ioda-median` is IODA's method).
pub const DEFAULT_METHOD: &str = "vigie";

/// A series resampled for display: value `i` covers `[start + i*step_secs, +step_secs)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resampled {
    /// Start of the first value, Unix seconds.
    pub start: UnixSecs,
    /// Seconds per value.
    pub step_secs: u32,
    /// The series' own bin size.
    pub native_step_secs: u32,
    /// Values; `None` is no data.
    pub values: Vec<Option<f64>>,
}

impl Resampled {
    /// The first second after the last value.
    pub fn end(&self) -> UnixSecs {
        self.start + self.values.len() as i64 * i64::from(self.step_secs)
    }
}

/// Averages `series` into at most `max_points` values (all of them when
/// `None`). Each output value is the mean of the bins with data in its
/// group; a group with no data at all stays `None` (no data is not zero).
pub fn downsample(series: &Series, max_points: Option<usize>) -> Resampled {
    let native = series.bin.secs();
    let n = series.values.len();
    let factor = match max_points {
        Some(max) if max > 0 && n > max => n.div_ceil(max),
        _ => 1,
    };
    let values = if factor == 1 {
        series.values.clone()
    } else {
        series
            .values
            .chunks(factor)
            .map(|group| {
                let (sum, count) = group
                    .iter()
                    .flatten()
                    .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                (count > 0).then(|| sum / count as f64)
            })
            .collect()
    };
    Resampled {
        start: series.start,
        step_secs: native.saturating_mul(factor as u32),
        native_step_secs: native,
        values,
    }
}

/// Days of bins [`read_downsampled`] decodes at once: 64 days are 18,432
/// five-minute bins (288 kB of values).
pub const READ_PIECE_DAYS: i64 = 64;

/// The number of bins `range` covers once widened to whole bins, and the
/// number of values [`downsample`] would make of them with `max_points`.
pub fn downsampled_len(
    bin: BinSize,
    range: TimeRange,
    max_points: Option<usize>,
) -> (usize, usize) {
    let n = ((bin.ceil(range.until()) - bin.floor(range.from())) / i64::from(bin.secs())) as usize;
    (n, n.div_ceil(group_factor(n, max_points)))
}

fn group_factor(n: usize, max_points: Option<usize>) -> usize {
    match max_points {
        Some(max) if max > 0 && n > max => n.div_ceil(max),
        _ => 1,
    }
}

/// Reads `key` over `range` (widened to whole bins) and averages it into at
/// most `max_points` values exactly as [`downsample`] of the whole read
/// would, but [`READ_PIECE_DAYS`] days at a time: a request holds one
/// piece's bins and its output, whatever its range (a 20-year series is
/// never decoded whole). `between` runs before each piece; its error (a
/// client gone) stops the read.
pub fn read_downsampled<E: From<StoreError>>(
    store: &Store,
    key: &SeriesKey,
    bin: BinSize,
    range: TimeRange,
    max_points: Option<usize>,
    between: impl FnMut() -> Result<(), E>,
) -> Result<Resampled, E> {
    read_downsampled_in(store, key, bin, range, max_points, READ_PIECE_DAYS, between)
}

fn read_downsampled_in<E: From<StoreError>>(
    store: &Store,
    key: &SeriesKey,
    bin: BinSize,
    range: TimeRange,
    max_points: Option<usize>,
    piece_days: i64,
    mut between: impl FnMut() -> Result<(), E>,
) -> Result<Resampled, E> {
    let native = bin.secs();
    let start = bin.floor(range.from());
    let end = bin.ceil(range.until());
    let (n, len) = downsampled_len(bin, range, max_points);
    let factor = group_factor(n, max_points);
    let mut values = Vec::with_capacity(len);
    // The group being averaged: its sum and the bins with data in it.
    let (mut sum, mut count, mut in_group) = (0.0, 0usize, 0usize);
    let mut t = start;
    while t < end {
        between()?;
        let piece_end = ((t.div_euclid(86_400) + piece_days.max(1)) * 86_400).min(end);
        // Never fails: t < piece_end, at most `piece_days` apart.
        let Ok(piece) = TimeRange::new(t, piece_end) else {
            break;
        };
        let series = store.read_series(key, bin, piece)?;
        for v in &series.values {
            if let Some(v) = v {
                sum += v;
                count += 1;
            }
            in_group += 1;
            if in_group == factor {
                values.push((count > 0).then(|| sum / count as f64));
                (sum, count, in_group) = (0.0, 0, 0);
            }
        }
        t = piece_end;
    }
    if in_group > 0 {
        values.push((count > 0).then(|| sum / count as f64));
    }
    Ok(Resampled {
        start,
        step_secs: native.saturating_mul(factor as u32),
        native_step_secs: native,
        values,
    })
}

/// Values as a JSON array, written directly (a long series is the bulk of
/// a response): `null` for no data, whole numbers without a fraction (as
/// IODA writes counts), others in Rust's shortest round-trip form.
pub fn values_json(values: &[Option<f64>]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(values.len() * 8 + 2);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => {
                let _ = write!(out, "{}", *v as i64);
            }
            Some(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            _ => out.push_str("null"),
        }
    }
    out.push(']');
    out
}

/// The series the store holds for `entity` (every bin size), in store order.
pub fn series_of(store: &Store, entity: &Entity) -> Result<Vec<SeriesInfo>, StoreError> {
    store.entity_series(entity)
}

/// The time span with data of the given series: `[first bin, last bin + bin)`.
pub fn data_span(infos: &[SeriesInfo]) -> Option<(UnixSecs, UnixSecs)> {
    let first = infos.iter().filter_map(|i| i.first_bin).min()?;
    let last = infos
        .iter()
        .filter_map(|i| i.last_bin.map(|t| t + i64::from(i.bin.secs())))
        .max()?;
    Some((first, last))
}

/// Like [`data_span`], inside the plausible time window
/// ([`vigie_model::TimeWindow::stored_now`]): a bin an older vigie stored
/// dated 2099 does not move the default window of a read past the data.
pub fn plausible_span(
    store: &Store,
    infos: &[SeriesInfo],
) -> Result<Option<(UnixSecs, UnixSecs)>, StoreError> {
    let window = vigie_model::TimeWindow::stored_now();
    let mut span: Option<(UnixSecs, UnixSecs)> = None;
    for info in infos {
        if let Some(range) = store.plausible_range(info, window)? {
            span = Some(match span {
                None => (range.from(), range.until()),
                Some((a, b)) => (a.min(range.from()), b.max(range.until())),
            });
        }
    }
    Ok(span)
}

/// Reads one series over `range` (widened to whole bins).
pub fn read(
    store: &Store,
    key: &SeriesKey,
    bin: BinSize,
    range: TimeRange,
) -> Result<Series, StoreError> {
    store.read_series(key, bin, range)
}

/// The entities of `all` (the store's, such as
/// [`crate::listing::Listing::entities`] gives) whose code or name contains
/// `search` (case-insensitive), of `kind` when given, in store order.
pub fn search_entities(
    all: Vec<EntityInfo>,
    search: Option<&str>,
    kind: Option<vigie_model::EntityKind>,
) -> Vec<EntityInfo> {
    let needle = search.map(str::to_lowercase);
    all.into_iter()
        .filter(|info| kind.is_none_or(|k| info.entity.kind() == k))
        .filter(|info| {
            needle.as_ref().is_none_or(|n| {
                info.entity.to_string().to_lowercase().contains(n.as_str())
                    || info
                        .name
                        .as_ref()
                        .is_some_and(|name| name.to_lowercase().contains(n.as_str()))
            })
        })
        .collect()
}

/// A stored incident, decoded, with its stable id.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishedIncident {
    /// `ENTITY@START` (such as `IQ@1692514800`): stable while detection
    /// keeps the same onset.
    pub id: String,
    /// The detection method that found it.
    pub method: String,
    /// The decoded incident.
    pub incident: Incident,
}

/// The JSON of one incident: a flat summary, plus the detector's full
/// record under `detail` when `with_detail`.
pub fn incident_json(published: &PublishedIncident, with_detail: bool) -> Value {
    let incident: &Incident = &published.incident;
    let mut signals: Vec<&str> = incident
        .signals
        .iter()
        .map(|e| e.key.signal.name())
        .collect();
    signals.sort_unstable();
    signals.dedup();
    let mut value = json!({
        "id": published.id,
        "method": published.method,
        "entity": incident.entity.to_string(),
        "start": format_utc(incident.start),
        "end": incident.end.map(format_utc),
        "ongoing": incident.end.is_none(),
        "observedUntil": format_utc(incident.observed_until),
        // The IANA zone of its local times, as reports choose it (the
        // region's where known, else the country's main zone; none for an AS).
        "zone": crate::report::tz::entity_zone(&incident.entity).map(|(zone, _)| zone.name()),
        "durationSecs": incident.duration_secs(),
        "depth": incident.depth,
        "mechanism": incident.mechanism.name(),
        "mechanismConfidence": incident.mechanism_confidence,
        "mechanismEvidence": incident.mechanism_evidence,
        "scope": incident.scope.name(),
        "confidence": incident.confidence,
        "iodaOverallScore": incident.ioda_overall_score,
        "signals": signals,
        "restorations": incident.restorations.iter().map(|r| json!({
            "start": format_utc(r.start),
            "end": format_utc(r.end),
            "restoredFraction": r.restored_fraction,
        })).collect::<Vec<_>>(),
        "affected": incident.affected.iter().map(|a| json!({
            "entity": a.entity.to_string(),
            "addressShare": a.address_share,
        })).collect::<Vec<_>>(),
        "dataGaps": incident.data_gaps.iter().map(|g| json!({
            "signal": g.key.signal.name(),
            "start": format_utc(g.start),
            "end": g.end.map(format_utc),
        })).collect::<Vec<_>>(),
    });
    if with_detail {
        if let Value::Object(map) = &mut value {
            map.insert(
                "detail".into(),
                serde_json::to_value(incident).unwrap_or(Value::Null),
            );
        }
    }
    value
}

/// The id of an incident: `ENTITY@START_UNIX_SECS`.
pub fn incident_id(entity: &Entity, start: UnixSecs) -> String {
    format!("{entity}@{start}")
}

/// Splits an incident id into entity and start.
pub fn parse_incident_id(id: &str) -> Option<(Entity, UnixSecs)> {
    let (entity, start) = id.rsplit_once('@')?;
    Some((entity.parse().ok()?, start.parse().ok()?))
}

/// Incidents overlapping the filter, decoded, in time order. Rows whose
/// detail cannot be decoded (written by another version) are counted in the
/// second value and skipped. Inside a server request whose client has gone
/// ([`crate::limits::client_gone`]) it stops early, incomplete.
pub fn incidents(
    store: &Store,
    filter: &ResultFilter,
) -> Result<(Vec<PublishedIncident>, usize), StoreError> {
    let mut out = Vec::new();
    let mut unreadable = 0;
    for (i, row) in store.incidents(filter)?.into_iter().enumerate() {
        if i % 256 == 0 && crate::limits::client_gone() {
            break;
        }
        match serde_json::from_str::<Incident>(&row.detail) {
            Ok(incident) => out.push(PublishedIncident {
                id: incident_id(&row.entity, row.start),
                method: row.method,
                incident,
            }),
            Err(_) => unreadable += 1,
        }
    }
    Ok((out, unreadable))
}

/// One incident found by id, with the given method.
pub fn incident_by_id(
    store: &Store,
    id: &str,
    method: &str,
) -> Result<Option<PublishedIncident>, StoreError> {
    let Some((entity, start)) = parse_incident_id(id) else {
        return Ok(None);
    };
    let filter = ResultFilter {
        entity: Some(entity),
        method: Some(method.to_string()),
        from: Some(start),
        until: Some(start.saturating_add(1)),
    };
    Ok(incidents(store, &filter)?
        .0
        .into_iter()
        .find(|p| p.incident.start == start))
}

/// Events overlapping the filter, optionally of one signal.
pub fn events(
    store: &Store,
    filter: &ResultFilter,
    signal: Option<SignalKind>,
) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(store
        .events(filter)?
        .into_iter()
        .filter(|e| signal.is_none_or(|s| e.key.signal == s))
        .collect())
}

/// One entity's outages over a period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitySummary {
    /// The entity.
    pub entity: Entity,
    /// Its display name, when known.
    pub name: Option<String>,
    /// Incidents overlapping the period.
    pub incidents: usize,
    /// Of which still going on at the end of their data.
    pub ongoing: usize,
    /// Seconds of outage inside the period (incidents clipped to it).
    pub outage_secs: i64,
    /// The largest depth (fraction of the baseline lost), 0..1.
    pub max_depth: f64,
    /// The sum of the incidents' IODA overall scores.
    pub overall_score: f64,
    /// Per signal, the sum of its events' IODA scores.
    pub signal_scores: BTreeMap<String, f64>,
    /// The start of the latest incident, ISO 8601 UTC.
    pub latest_start: Option<String>,
}

/// Per-entity summaries of the incidents overlapping `[from, until)`,
/// highest overall score first.
pub fn summarize(
    store: &Store,
    method: &str,
    from: Option<UnixSecs>,
    until: Option<UnixSecs>,
    entity: Option<&Entity>,
) -> Result<Vec<EntitySummary>, StoreError> {
    summarize_where(store, method, from, until, entity, |_| true)
}

/// Like [`summarize`], counting only the incidents `keep` accepts.
pub fn summarize_where(
    store: &Store,
    method: &str,
    from: Option<UnixSecs>,
    until: Option<UnixSecs>,
    entity: Option<&Entity>,
    keep: impl Fn(&Incident) -> bool,
) -> Result<Vec<EntitySummary>, StoreError> {
    let filter = ResultFilter {
        entity: entity.cloned(),
        method: Some(method.to_string()),
        from,
        until,
    };
    let (found, _) = incidents(store, &filter)?;
    // The names alone (the entities table), not the listing of every series.
    let names: BTreeMap<Entity, Option<String>> = store
        .entity_names()?
        .into_iter()
        .map(|(entity, name)| (entity, Some(name)))
        .collect();
    let mut by_entity: BTreeMap<Entity, EntitySummary> = BTreeMap::new();
    for published in found.iter().filter(|p| keep(&p.incident)) {
        let incident = &published.incident;
        let summary = by_entity
            .entry(incident.entity.clone())
            .or_insert_with(|| EntitySummary {
                entity: incident.entity.clone(),
                name: names.get(&incident.entity).cloned().flatten(),
                incidents: 0,
                ongoing: 0,
                outage_secs: 0,
                max_depth: 0.0,
                overall_score: 0.0,
                signal_scores: BTreeMap::new(),
                latest_start: None,
            });
        summary.incidents += 1;
        if incident.end.is_none() {
            summary.ongoing += 1;
        }
        let end = incident.end.unwrap_or(incident.observed_until);
        let clipped_start = from.map_or(incident.start, |f| incident.start.max(f));
        let clipped_end = until.map_or(end, |u| end.min(u));
        summary.outage_secs += (clipped_end - clipped_start).max(0);
        if incident.depth.is_finite() {
            summary.max_depth = summary.max_depth.max(incident.depth);
        }
        if incident.ioda_overall_score.is_finite() {
            summary.overall_score += incident.ioda_overall_score;
        }
        for event in &incident.signals {
            if event.ioda_score.is_finite() {
                *summary
                    .signal_scores
                    .entry(event.key.signal.name().to_string())
                    .or_insert(0.0) += event.ioda_score;
            }
        }
        summary.latest_start = Some(format_utc(incident.start));
    }
    let mut out: Vec<EntitySummary> = by_entity.into_values().collect();
    out.sort_by(|a, b| {
        b.overall_score
            .total_cmp(&a.overall_score)
            .then_with(|| a.entity.cmp(&b.entity))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: Vec<Option<f64>>) -> Series {
        Series {
            key: SeriesKey {
                entity: "IQ".parse().unwrap(),
                signal: SignalKind::BgpVisibleSlash24s,
            },
            bin: BinSize::default(),
            start: 1_692_489_600,
            values,
        }
    }

    #[test]
    fn downsampling_averages_groups_and_keeps_no_data() {
        let s = series(vec![Some(1.0), Some(3.0), None, None, Some(5.0)]);
        let r = downsample(&s, Some(3));
        assert_eq!(r.step_secs, 600);
        assert_eq!(r.native_step_secs, 300);
        assert_eq!(r.values, vec![Some(2.0), None, Some(5.0)]);
        assert_eq!(r.end(), s.start + 1800);
        let same = downsample(&s, Some(10));
        assert_eq!(same.values, s.values);
        assert_eq!(same.step_secs, 300);
        assert_eq!(downsample(&s, None).values.len(), 5);
    }

    /// Issue 14, finding 4: a read downsampled piece by piece gives what
    /// downsampling the whole read gives, groups straddling the pieces.
    #[test]
    fn reading_in_pieces_downsamples_as_the_whole_read() {
        let mut store = Store::open_in_memory().unwrap();
        let key = series(vec![]).key;
        let bin = BinSize::FIVE_MINUTES;
        let t0 = 1_692_489_600;
        let points: Vec<(UnixSecs, Option<f64>)> = (0..288 * 10)
            .filter(|i| i % 7 != 3 && !(1000..1400).contains(i))
            .map(|i| (t0 + i * 300, Some((i % 97) as f64)))
            .collect();
        store.write_points(&key, bin, &points).unwrap();
        for (from, until) in [
            (t0 + 1234, t0 + 9 * 86_400 + 77),
            (t0 - 86_400, t0 + 11 * 86_400),
        ] {
            let range = TimeRange::new(from, until).unwrap();
            let whole = store.read_series(&key, bin, range).unwrap();
            for max in [
                None,
                Some(1),
                Some(7),
                Some(100),
                Some(2_000),
                Some(100_000),
            ] {
                let pieces = read_downsampled_in(&store, &key, bin, range, max, 1, || {
                    Ok::<_, StoreError>(())
                })
                .unwrap();
                assert_eq!(
                    pieces,
                    downsample(&whole, max),
                    "{from}..{until} at {max:?}"
                );
                assert_eq!(
                    downsampled_len(bin, range, max),
                    (whole.values.len(), pieces.values.len())
                );
            }
        }
    }

    #[test]
    fn values_are_written_as_json_numbers() {
        let json = values_json(&[
            Some(2917.0),
            None,
            Some(0.5433471067577657),
            Some(-3.0),
            Some(f64::NAN),
        ]);
        assert_eq!(json, "[2917,null,0.5433471067577657,-3,null]");
        let back: Vec<Option<f64>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back[2], Some(0.5433471067577657));
        assert_eq!(values_json(&[]), "[]");
    }

    #[test]
    fn incident_ids_round_trip() {
        let entity: Entity = "KZ/Almaty".parse().unwrap();
        let id = incident_id(&entity, 1_641_340_800);
        assert_eq!(id, "KZ/Almaty@1641340800");
        assert_eq!(parse_incident_id(&id), Some((entity, 1_641_340_800)));
        assert_eq!(parse_incident_id("IQ"), None);
        assert_eq!(parse_incident_id("IQ@soon"), None);
    }
}
