//! Monash IP Observatory CSVs (sodalabs.io's open data): regional
//! connectivity and latency indices, and raw ping observations.
//!
//! Four layouts, told apart by their header:
//! - [`MonashLayout::ConnectivityUtc`] reads `time_e_utc,time_e_utc_str,
//!   connectivity,iso,name_1,name_2,lat,lon` (Hurricane Laura, US counties,
//!   hourly), an index 0 (effectively offline) .. 10 (normal), epochs in UTC;
//! - [`MonashLayout::ConnectivityLocal`] reads `iso,id_1,name_1,time_e,
//!   time_e_str,lat,lon,connectivity` (the "gif" files: Venezuela 2019 by
//!   state, Iran 2019 by county), an index 0 .. 100, hourly, whose epochs are
//!   *local* wall-clock times written as if they were UTC (for Kepler.gl):
//!   the zone comes from the caller, or from the country when it has one
//!   (Venezuela UTC−4, Iran UTC+3:30, Myanmar UTC+6:30);
//! - [`MonashLayout::LatencyIndex`] reads `country_iso_three_char_code,
//!   country_iso_name,adm1_name,adm1_unique_identifier,timezone_offset,
//!   timezone_name,time_local,latency_indx` (UA/RU border regions,
//!   3-hourly), 100 = the recent long-run average latency, each row with its
//!   own UTC offset;
//! - [`MonashLayout::RawPings`] reads `ip_hash,iso,name_0,name_1,name_2,isp_name,
//!   owner_name,time_local_str,time_local_hr,rtt` (Bago, Myanmar): one row
//!   per answered ping, local time; vigie derives the number of distinct
//!   addresses that answered in each bin (hourly unless a bin is forced),
//!   0 for bins between the first and last observation with none.
//!
//! Entities are regions: the country from the ISO alpha-3 `iso` and the
//! region's name, `name_1` alone or `name_1: name_2` when the file has
//! counties (`US/Louisiana: Calcasieu`, `VE/Zulia`, `MM/Bago: Pegu`). When
//! one name has several locations (the Iran file lists counties by province
//! and centroid only), the centroid is added: `IR/Tehran @ 35.69,51.42`.
//!
//! Connectivity indices become [`SignalKind::ConnectivityIndex`] on one
//! scale, 100 = normal: a file whose values never exceed 10 is on Monash's
//! 0..10 scale and is multiplied by 10 (the report says so; force the scale
//! with [`ImportOptions::index_max`]). Slightly negative index values (an
//! artefact of Monash's smoothing) are stored as 0 and reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use chrono::{DateTime, NaiveDateTime};
use vigie_model::{BinSize, CountryCode, Entity, RegionId, SeriesKey, SignalKind, UnixSecs};

use crate::assemble::{implausible_time, time_in_range, SeriesBuilder};
use crate::csv_rows;
use crate::report::{ImportReport, IssueKind};
use crate::zone::{parse_offset, LocalZone};
use crate::{ImportError, ImportOptions, Imported};

/// The layouts of the Monash IP Observatory's open data files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MonashLayout {
    /// Connectivity index per region with UTC epochs (`time_e_utc`).
    ConnectivityUtc,
    /// Connectivity index per region with local-time epochs (`time_e`).
    ConnectivityLocal,
    /// Latency index per region with local times and a per-row UTC offset.
    LatencyIndex,
    /// Raw ping observations, one row per answer (`ip_hash`, `rtt`).
    RawPings,
}

impl MonashLayout {
    /// The layout a header (column names, any case) belongs to.
    pub fn detect<S: AsRef<str>>(headers: &[S]) -> Option<Self> {
        let has = |name: &str| {
            headers
                .iter()
                .any(|h| clean_header(h.as_ref()).eq_ignore_ascii_case(name))
        };
        if has("connectivity") && has("time_e_utc") {
            Some(MonashLayout::ConnectivityUtc)
        } else if has("connectivity") && has("time_e") {
            Some(MonashLayout::ConnectivityLocal)
        } else if has("latency_indx") && has("time_local") {
            Some(MonashLayout::LatencyIndex)
        } else if has("ip_hash") && has("time_local_str") {
            Some(MonashLayout::RawPings)
        } else {
            None
        }
    }

    /// A short description, for reports and errors.
    pub fn describe(self) -> &'static str {
        match self {
            MonashLayout::ConnectivityUtc => "connectivity index, UTC epochs (time_e_utc)",
            MonashLayout::ConnectivityLocal => "connectivity index, local-time epochs (time_e)",
            MonashLayout::LatencyIndex => "latency index, local times with UTC offsets",
            MonashLayout::RawPings => "raw ping observations, local times",
        }
    }

    /// The columns the layout needs, in the header's spelling.
    fn required(self) -> &'static [&'static str] {
        match self {
            MonashLayout::ConnectivityUtc => &["time_e_utc", "connectivity", "iso", "name_1"],
            MonashLayout::ConnectivityLocal => &["time_e", "connectivity", "iso", "name_1"],
            MonashLayout::LatencyIndex => &[
                "time_local",
                "latency_indx",
                "country_iso_three_char_code",
                "adm1_name",
            ],
            MonashLayout::RawPings => &["time_local_str", "ip_hash", "rtt", "iso", "name_1"],
        }
    }
}

/// What every layout's columns are, for the unknown-header error.
const EXPECTED_LAYOUTS: &str = "connectivity index with UTC epochs (time_e_utc, connectivity, \
     iso, name_1[, name_2]), connectivity index with local epochs (time_e, connectivity, iso, \
     name_1), latency index (time_local, timezone_offset, latency_indx, \
     country_iso_three_char_code, adm1_name), or raw pings (ip_hash, time_local_str, rtt, iso, \
     name_1[, name_2])";

/// Imports a Monash IP Observatory CSV, whichever of its layouts.
///
/// Unreadable rows, times and values are reported and skipped; negative
/// index values become 0. Errors when the header is no Monash layout or
/// lacks a column its layout needs, and when the times are local but no zone
/// is given and the country has none by default.
pub fn import_monash(
    reader: impl Read,
    source_name: &str,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut csv_reader = csv_rows::reader(reader, true);
    let headers: Vec<String> = csv_reader
        .byte_headers()
        .map_err(|err| ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!("cannot read the header line: {err}"),
        })?
        .iter()
        .map(|h| clean_header(&String::from_utf8_lossy(h)).to_string())
        .collect();
    let found = || {
        if headers.iter().all(String::is_empty) {
            "none".to_string()
        } else {
            headers
                .iter()
                .map(|h| format!("'{h}'"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let Some(layout) = MonashLayout::detect(&headers) else {
        return Err(ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!(
                "not a Monash IP Observatory file: found columns {}; expected the columns of \
                 one of its layouts: {EXPECTED_LAYOUTS}",
                found()
            ),
        });
    };
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = layout
        .required()
        .iter()
        .copied()
        .filter(|name| column(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!(
                "a Monash {} file needs the columns {}: found columns {}; missing {}",
                layout.describe(),
                layout.required().join(", "),
                found(),
                missing.join(", ")
            ),
        });
    }
    let mut report = ImportReport::new(source_name);
    report.note(format!(
        "Monash IP Observatory layout: {}",
        layout.describe()
    ));
    if options.entity.is_some() {
        report.note("the entity given is not used: Monash files name their regions");
    }
    let cols = Columns {
        layout,
        time: column(match layout {
            MonashLayout::ConnectivityUtc => "time_e_utc",
            MonashLayout::ConnectivityLocal => "time_e",
            MonashLayout::LatencyIndex => "time_local",
            MonashLayout::RawPings => "time_local_str",
        }),
        time_text: column(match layout {
            MonashLayout::ConnectivityUtc => "time_e_utc_str",
            _ => "time_e_str",
        }),
        value: column(match layout {
            MonashLayout::LatencyIndex => "latency_indx",
            MonashLayout::RawPings => "rtt",
            _ => "connectivity",
        }),
        iso: column(match layout {
            MonashLayout::LatencyIndex => "country_iso_three_char_code",
            _ => "iso",
        }),
        name_1: column(match layout {
            MonashLayout::LatencyIndex => "adm1_name",
            _ => "name_1",
        }),
        name_2: column("name_2"),
        lat: column("lat"),
        lon: column("lon"),
        offset: column("timezone_offset"),
        zone_name: column("timezone_name"),
        ip: column("ip_hash"),
    };
    if layout == MonashLayout::LatencyIndex && options.zone.is_some() {
        report.note("the zone given is not used: each row of the file gives its UTC offset");
    }

    let mut rows: Vec<Row> = Vec::new();
    let mut zones: HashMap<String, Option<LocalZone>> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let expected_fields = headers.len();
    while let Some(line) = csv_rows::next_record(&mut csv_reader, &mut record, &mut report) {
        report.rows_read += 1;
        if record.iter().all(|field| field.is_empty()) {
            continue;
        }
        if record.len() != expected_fields {
            let at = report.at_line(line);
            report.add(
                IssueKind::BadRow,
                at,
                format!(
                    "{} fields where the header has {expected_fields}; missing cells read as empty",
                    record.len()
                ),
            );
        }
        let cell = |i: Option<usize>| -> String {
            i.and_then(|i| record.get(i))
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default()
        };
        let at = report.at_line(line);
        // Whose row.
        let iso = cell(cols.iso);
        let country = CountryCode::from_alpha3(&iso).or_else(|| {
            (iso.len() == 2)
                .then(|| CountryCode::new(&iso).ok())
                .flatten()
        });
        let Some(country) = country else {
            report.add(
                IssueKind::UnknownEntity,
                at,
                format!("'{iso}' is not an ISO 3166 country code; row skipped"),
            );
            continue;
        };
        let name_1 = cell(cols.name_1);
        if name_1.is_empty() {
            report.add(
                IssueKind::UnknownEntity,
                at,
                "no region name; row skipped".to_string(),
            );
            continue;
        }
        let name_2 = cell(cols.name_2);
        let name = if name_2.is_empty() {
            name_1
        } else {
            format!("{name_1}: {name_2}")
        };
        // When.
        let t = match row_time(&cols, &cell, &iso, options, &mut zones) {
            Ok(t) => t,
            Err(RowTimeError::NoZone) => {
                return Err(ImportError::MissingZone {
                    source_name: source_name.to_string(),
                    what: format!(
                        "the times of this {} file are local and {iso} has no default zone",
                        layout.describe()
                    ),
                });
            }
            Err(RowTimeError::Bad(reason)) => {
                report.add(IssueKind::BadTime, at, format!("{reason}; row skipped"));
                continue;
            }
        };
        if !time_in_range(t) {
            report.add(
                IssueKind::BadTime,
                at,
                format!("{}; row skipped", implausible_time(t)),
            );
            continue;
        }
        // What.
        let value_text = cell(cols.value);
        let value = if value_text.is_empty() {
            None
        } else {
            match value_text.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                Ok(v) => {
                    report.add(
                        IssueKind::NotANumber,
                        at.clone(),
                        format!("value {v} is not a finite number; rejected, not stored"),
                    );
                    None
                }
                Err(_) => {
                    report.add(
                        IssueKind::BadNumber,
                        at.clone(),
                        format!("'{value_text}' is not a number; rejected, not stored"),
                    );
                    None
                }
            }
        };
        let location = match (cell(cols.lat), cell(cols.lon)) {
            (lat, lon) if !lat.is_empty() || !lon.is_empty() => Some(format!("{lat},{lon}")),
            _ => None,
        };
        rows.push(Row {
            country,
            name,
            location,
            t,
            value,
            ip: cell(cols.ip),
            line,
        });
    }
    if let Some(zone) = &options.zone {
        if layout != MonashLayout::LatencyIndex && layout != MonashLayout::ConnectivityUtc {
            report.note(format!("local times read in {zone}"));
        }
    } else {
        let mut defaults: Vec<String> = zones
            .iter()
            .filter_map(|(iso, zone)| zone.map(|z| format!("{iso}: {z}")))
            .collect();
        defaults.sort();
        if !defaults.is_empty() {
            report.note(format!(
                "local times read in the country's zone (pass a zone to override): {}",
                defaults.join(", ")
            ));
        }
    }
    let entities = name_entities(&rows, &mut report);
    let series = match layout {
        MonashLayout::RawPings => responsive_addresses(&rows, &entities, options, &mut report),
        MonashLayout::LatencyIndex => {
            let mut builder = SeriesBuilder::new();
            for (row, entity) in rows.iter().zip(&entities) {
                let value = row
                    .value
                    .and_then(|v| non_negative(v, row.line, &mut report));
                push(
                    &mut builder,
                    row,
                    entity,
                    SignalKind::LatencyIndex,
                    value,
                    &mut report,
                );
            }
            builder.finish(options.bin, &mut report, &|line| {
                format!("{source_name}:{line}")
            })
        }
        MonashLayout::ConnectivityUtc | MonashLayout::ConnectivityLocal => {
            let factor = index_factor(&rows, options, &mut report);
            let mut builder = SeriesBuilder::new();
            for (row, entity) in rows.iter().zip(&entities) {
                let value = row
                    .value
                    .map(|v| clamp_index(v, row.line, &mut report) * factor);
                push(
                    &mut builder,
                    row,
                    entity,
                    SignalKind::ConnectivityIndex,
                    value,
                    &mut report,
                );
            }
            builder.finish(options.bin, &mut report, &|line| {
                format!("{source_name}:{line}")
            })
        }
    };
    Ok(Imported {
        series,
        labels: Vec::new(),
        report,
    })
}

/// The header with a byte-order mark and spaces removed.
fn clean_header(header: &str) -> &str {
    header.trim().trim_start_matches('\u{feff}').trim()
}

/// Where each of a layout's columns is.
struct Columns {
    layout: MonashLayout,
    time: Option<usize>,
    time_text: Option<usize>,
    value: Option<usize>,
    iso: Option<usize>,
    name_1: Option<usize>,
    name_2: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    offset: Option<usize>,
    zone_name: Option<usize>,
    ip: Option<usize>,
}

/// One readable row.
struct Row {
    country: CountryCode,
    name: String,
    /// `lat,lon` as written, to tell apart locations sharing a name.
    location: Option<String>,
    t: UnixSecs,
    value: Option<f64>,
    ip: String,
    line: u64,
}

enum RowTimeError {
    /// Local times, and no zone given or known for the country.
    NoZone,
    /// The time cannot be read.
    Bad(String),
}

/// The UTC time of a row.
fn row_time(
    cols: &Columns,
    cell: &dyn Fn(Option<usize>) -> String,
    iso: &str,
    options: &ImportOptions,
    zones: &mut HashMap<String, Option<LocalZone>>,
) -> Result<UnixSecs, RowTimeError> {
    let text = cell(cols.time);
    let mut zone_of_country = || -> Result<LocalZone, RowTimeError> {
        if let Some(zone) = options.zone {
            return Ok(zone);
        }
        let key = iso.to_ascii_uppercase();
        let zone = *zones
            .entry(key.clone())
            .or_insert_with(|| LocalZone::for_country_alpha3(&key));
        zone.ok_or(RowTimeError::NoZone)
    };
    let local_to_utc = |zone: LocalZone, local: NaiveDateTime| {
        zone.to_utc(local).ok_or_else(|| {
            RowTimeError::Bad(format!(
                "local time {local} does not exist in {zone} (a clock change)"
            ))
        })
    };
    match cols.layout {
        MonashLayout::ConnectivityUtc => match parse_epoch(&text) {
            Some(t) => Ok(t),
            None => parse_monash_time(&cell(cols.time_text))
                .map(|local| local.and_utc().timestamp())
                .ok_or_else(|| RowTimeError::Bad(format!("time '{text}' is not Unix seconds"))),
        },
        MonashLayout::ConnectivityLocal => {
            let local = parse_epoch(&text)
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map(|t| t.naive_utc())
                .or_else(|| parse_monash_time(&cell(cols.time_text)))
                .ok_or_else(|| RowTimeError::Bad(format!("time '{text}' is not Unix seconds")))?;
            local_to_utc(zone_of_country()?, local)
        }
        MonashLayout::LatencyIndex => {
            let local = parse_monash_time(&text)
                .ok_or_else(|| RowTimeError::Bad(format!("time '{text}' is not readable")))?;
            let offset_text = cell(cols.offset);
            let zone = match parse_offset(&offset_text).and_then(LocalZone::from_offset_secs) {
                Some(zone) => zone,
                None => match cell(cols.zone_name).parse::<LocalZone>() {
                    Ok(zone) => zone,
                    Err(_) => zone_of_country().map_err(|_| {
                        RowTimeError::Bad(format!(
                            "UTC offset '{offset_text}' and zone '{}' are not readable",
                            cell(cols.zone_name)
                        ))
                    })?,
                },
            };
            local_to_utc(zone, local)
        }
        MonashLayout::RawPings => {
            let local = parse_monash_time(&text)
                .ok_or_else(|| RowTimeError::Bad(format!("time '{text}' is not readable")))?;
            local_to_utc(zone_of_country()?, local)
        }
    }
}

/// Unix seconds written as an integer or a float (`1563580800`, `1563580800.0`).
fn parse_epoch(text: &str) -> Option<UnixSecs> {
    if let Ok(t) = text.parse::<i64>() {
        return Some(t);
    }
    let t = text.parse::<f64>().ok()?;
    (t.is_finite() && t.abs() < 1e12).then(|| t.round() as i64)
}

/// Monash's time spellings: `20-Jul-2019 00:00:00`, `2021-02-09 21:18:11.000`.
fn parse_monash_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%d-%b-%Y %H:%M:%S",
        "%d-%b-%Y %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|pattern| NaiveDateTime::parse_from_str(text, pattern).ok())
}

/// The entity of each row. A name with several locations (centroids) gets
/// the location added, so every location stays its own region.
fn name_entities(rows: &[Row], report: &mut ImportReport) -> Vec<Entity> {
    let mut locations: BTreeMap<(CountryCode, &str), BTreeSet<&str>> = BTreeMap::new();
    for row in rows {
        if let Some(location) = &row.location {
            locations
                .entry((row.country, row.name.as_str()))
                .or_default()
                .insert(location.as_str());
        }
    }
    let shared: Vec<String> = locations
        .iter()
        .filter(|(_, set)| set.len() > 1)
        .map(|((country, name), set)| format!("{country}/{name} ({})", set.len()))
        .collect();
    if !shared.is_empty() {
        report.note(format!(
            "names with several locations, told apart by their centroid (' @ lat,lon'): {}",
            shared.join(", ")
        ));
    }
    rows.iter()
        .map(|row| {
            let several = locations
                .get(&(row.country, row.name.as_str()))
                .is_some_and(|set| set.len() > 1);
            let name = match (&row.location, several) {
                (Some(location), true) => format!("{} @ {location}", row.name),
                _ => row.name.clone(),
            };
            Entity::Region(RegionId {
                country: row.country,
                name,
            })
        })
        .collect()
}

/// Adds one row's value to its series.
fn push(
    builder: &mut SeriesBuilder,
    row: &Row,
    entity: &Entity,
    signal: SignalKind,
    value: Option<f64>,
    report: &mut ImportReport,
) {
    let key = SeriesKey {
        entity: entity.clone(),
        signal,
    };
    let source = report.source.clone();
    builder.push(&key, row.t, value, row.line, report, || {
        format!("{source}:{}", row.line)
    });
}

/// A negative latency index is no measurement: no data, reported.
fn non_negative(value: f64, line: u64, report: &mut ImportReport) -> Option<f64> {
    if value < 0.0 {
        let at = report.at_line(line);
        report.add(
            IssueKind::Negative,
            at,
            format!("index {value} is negative; rejected, not stored"),
        );
        None
    } else {
        Some(value)
    }
}

/// A connectivity index below 0 (smoothing overshoot) is 0, reported.
fn clamp_index(value: f64, line: u64, report: &mut ImportReport) -> f64 {
    if value < 0.0 {
        let at = report.at_line(line);
        report.add(
            IssueKind::Clamped,
            at,
            format!("index {value} is below 0 (effectively offline); stored as 0"),
        );
        0.0
    } else {
        value
    }
}

/// The factor that puts a connectivity index on vigie's 0..100 scale.
fn index_factor(rows: &[Row], options: &ImportOptions, report: &mut ImportReport) -> f64 {
    let observed = rows
        .iter()
        .filter_map(|r| r.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let scale = match options.index_max {
        Some(scale) if scale.is_finite() && scale > 0.0 => scale,
        _ if observed.is_finite() && observed <= 10.0 => {
            report.note(
                "connectivity index on Monash's 0..10 scale (no value above 10): multiplied by \
                 10, so 100 is normal as in the other files (pass the scale to override)",
            );
            10.0
        }
        _ => 100.0,
    };
    if options.index_max.is_some() && scale != 100.0 {
        report.note(format!(
            "connectivity index on a 0..{scale} scale: multiplied by {} to 0..100",
            100.0 / scale
        ));
    }
    100.0 / scale
}

/// The number of distinct addresses answering in each bin, per region, from
/// raw ping rows; bins between a region's first and last observation with
/// no answer count 0.
fn responsive_addresses(
    rows: &[Row],
    entities: &[Entity],
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Vec<vigie_model::Series> {
    let bin = options
        .bin
        .unwrap_or_else(|| BinSize::new(3600).unwrap_or_default());
    let mut per_entity: BTreeMap<&Entity, BTreeMap<UnixSecs, BTreeSet<&str>>> = BTreeMap::new();
    let mut unanswered = 0u64;
    for (row, entity) in rows.iter().zip(entities) {
        if row.ip.is_empty() {
            let at = report.at_line(row.line);
            report.add(IssueKind::BadRow, at, "no ip_hash; row skipped".to_string());
            continue;
        }
        // A row without a round-trip time is no answer.
        if row.value.is_none() {
            unanswered += 1;
            continue;
        }
        per_entity
            .entry(entity)
            .or_default()
            .entry(bin.floor(row.t))
            .or_default()
            .insert(row.ip.as_str());
    }
    if unanswered > 0 {
        report.note(format!(
            "{unanswered} rows without a round-trip time counted as no answer"
        ));
    }
    let mut builder = SeriesBuilder::new();
    let source = report.source.clone();
    for (entity, bins) in &per_entity {
        let key = SeriesKey {
            entity: (*entity).clone(),
            signal: SignalKind::ProbeUpAddresses,
        };
        builder.hint_bin(&key, bin, report, source.clone());
        for (&t, addresses) in bins {
            builder.push(
                &key,
                t,
                Some(addresses.len() as f64),
                0,
                report,
                String::new,
            );
        }
    }
    report.note(format!(
        "signal ping-addresses: distinct ip_hash values answering per {} s bin (UTC), 0 for \
         bins without an answer between the first and last observation",
        bin.secs()
    ));
    // Bins the builder left empty had no answer: 0 addresses, not no data.
    let mut series = builder.finish(Some(bin), report, &|_| source.clone());
    for s in &mut series {
        for value in &mut s.values {
            value.get_or_insert(0.0);
        }
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
        import_monash(text.as_bytes(), "m.csv", options)
    }

    #[test]
    fn layouts_are_told_apart_by_header() {
        assert_eq!(
            MonashLayout::detect(&["time_e_utc", "connectivity", "iso"]),
            Some(MonashLayout::ConnectivityUtc)
        );
        assert_eq!(
            MonashLayout::detect(&["ISO", "TIME_E", "Connectivity"]),
            Some(MonashLayout::ConnectivityLocal)
        );
        assert_eq!(
            MonashLayout::detect(&["time_local", "latency_indx"]),
            Some(MonashLayout::LatencyIndex)
        );
        assert_eq!(
            MonashLayout::detect(&["\u{feff}ip_hash", "time_local_str"]),
            Some(MonashLayout::RawPings)
        );
        assert_eq!(MonashLayout::detect(&["a", "b"]), None);
    }

    #[test]
    fn hurricane_layout_scales_the_index_and_names_counties() {
        let csv = "time_e_utc,time_e_utc_str,connectivity,iso,name_1,name_2,lat,lon\n\
                   1598486400,27-Aug-2020 00:00:00,9,USA,Louisiana,Calcasieu,30.2,-93.3\n\
                   1598490000,27-Aug-2020 01:00:00,,USA,Louisiana,Calcasieu,30.2,-93.3\n\
                   1598493600,27-Aug-2020 02:00:00,2,USA,Louisiana,Calcasieu,30.2,-93.3\n\
                   1598486400,27-Aug-2020 00:00:00,10,USA,Texas,Jefferson,30.0,-94.1\n\
                   1598490000,27-Aug-2020 01:00:00,10,USA,Louisiana,Jefferson,29.7,-90.1\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 3);
        let calcasieu = &imported.series[0];
        assert_eq!(calcasieu.key.entity.to_string(), "US/Louisiana: Calcasieu");
        assert_eq!(calcasieu.key.signal, SignalKind::ConnectivityIndex);
        assert_eq!(calcasieu.bin.secs(), 3600);
        assert_eq!(calcasieu.start, 1_598_486_400);
        assert_eq!(calcasieu.values, vec![Some(90.0), None, Some(20.0)]);
        assert!(imported.report.notes.iter().any(|n| n.contains("0..10")));
        assert_eq!(imported.report.total_issues(), 0);
    }

    #[test]
    fn local_epochs_follow_the_zone() {
        let csv = "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\n\
                   VEN,2,Anzoátegui,1563580800,20-Jul-2019 00:00:00,10.1,-64.7,100\n\
                   VEN,2,Anzoátegui,1563584400,20-Jul-2019 01:00:00,10.1,-64.7,-1\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        let s = &imported.series[0];
        assert_eq!(s.key.entity.to_string(), "VE/Anzoátegui");
        // Local midnight in Caracas (UTC-4) is 04:00 UTC.
        assert_eq!(s.start, 1_563_595_200);
        assert_eq!(s.values, vec![Some(100.0), Some(0.0)]);
        assert_eq!(imported.report.count(IssueKind::Clamped), 1);
        // An explicit zone wins over the country's.
        let options = ImportOptions {
            zone: Some("-04:30".parse().unwrap()),
            ..ImportOptions::default()
        };
        let imported = import(csv, &options).unwrap();
        assert_eq!(imported.series[0].start, 1_563_595_200);
        assert_eq!(imported.report.count(IssueKind::Misaligned), 2);
    }

    #[test]
    fn iran_counties_are_told_apart_by_centroid() {
        let csv = "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\n\
                   IRN,1,Ardebil,1573430400,11-Nov-2019 00:00:00,38.435,48.335,100\n\
                   IRN,1,Ardebil,1573430400,11-Nov-2019 00:00:00,39.1,47.9,90\n\
                   IRN,1,Ardebil,1573434000,11-Nov-2019 01:00:00,38.435,48.335,40\n\
                   IRN,1,Ardebil,1573434000,11-Nov-2019 01:00:00,39.1,47.9,30\n\
                   IRN,2,Tehran,1573434000,11-Nov-2019 01:00:00,35.7,51.4,100\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        let names: Vec<String> = imported
            .series
            .iter()
            .map(|s| s.key.entity.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "IR/Ardebil @ 38.435,48.335",
                "IR/Ardebil @ 39.1,47.9",
                "IR/Tehran"
            ]
        );
        // UTC+3:30: local midnight is 20:30 UTC, moved to the start of its hour.
        assert_eq!(imported.series[0].start, 1_573_416_000);
        assert_eq!(imported.series[0].values, vec![Some(100.0), Some(40.0)]);
        assert_eq!(imported.report.count(IssueKind::Duplicate), 0);
    }

    #[test]
    fn local_times_need_a_zone() {
        let csv = "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\n\
                   FRA,1,Paris,1563580800,20-Jul-2019 00:00:00,48.8,2.3,100\n";
        let err = import(csv, &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, ImportError::MissingZone { .. }), "{err}");
        assert!(err.to_string().contains("--timezone"), "{err}");
        let options = ImportOptions {
            zone: Some("Europe/Paris".parse().unwrap()),
            ..ImportOptions::default()
        };
        assert_eq!(import(csv, &options).unwrap().series.len(), 1);
    }

    #[test]
    fn latency_rows_carry_their_offset() {
        let csv = "country_iso_three_char_code,country_iso_name,adm1_name,adm1_unique_identifier,\
                   timezone_offset,timezone_name,time_local,latency_indx\n\
                   RUS,Russia,Kursk,RUS-42,3,Europe/Moscow,01-Dec-2021 06:00:00,100.8\n\
                   RUS,Russia,Kursk,RUS-42,3,Europe/Moscow,01-Dec-2021 09:00:00,100.3\n\
                   UKR,Ukraine,Kiev City,UKR-11,2,Europe/Kiev,01-Dec-2021 05:00:00,103.7\n\
                   UKR,Ukraine,Kiev City,UKR-11,,Europe/Kiev,01-Dec-2021 08:00:00,99.0\n\
                   UKR,Ukraine,Kiev City,UKR-11,2,Europe/Kiev,01-Dec-2021 11:00:00,-3\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 2);
        let kiev = &imported.series[1];
        assert_eq!(kiev.key.entity.to_string(), "UA/Kiev City");
        assert_eq!(kiev.key.signal, SignalKind::LatencyIndex);
        assert_eq!(kiev.bin.secs(), 10_800);
        // 05:00 at UTC+2 is 03:00 UTC; a missing offset falls back on the zone name.
        assert_eq!(kiev.start, 1_638_327_600);
        assert_eq!(kiev.values, vec![Some(103.7), Some(99.0), None]);
        assert_eq!(imported.report.count(IssueKind::Negative), 1);
        let kursk = &imported.series[0];
        assert_eq!(kursk.key.entity.to_string(), "RU/Kursk");
        assert_eq!(kursk.start, 1_638_327_600);
    }

    #[test]
    fn raw_pings_become_hourly_counts_of_answering_addresses() {
        let csv = "ip_hash,iso,name_0,name_1,name_2,isp_name,owner_name,time_local_str,time_local_hr,rtt\n\
                   016,MMR,Myanmar,Bago,Pegu,MPT,\"KDDI, Ltd\",2021-02-15 00:40:00.000,0,356\n\
                   017,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 00:50:00.000,0,200\n\
                   016,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 00:55:00.000,0,300\n\
                   016,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 03:40:00.000,3,\n\
                   018,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 04:10:00.000,4,150\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 1);
        let s = &imported.series[0];
        assert_eq!(s.key.entity.to_string(), "MM/Bago: Pegu");
        assert_eq!(s.key.signal, SignalKind::ProbeUpAddresses);
        assert_eq!(s.bin.secs(), 3600);
        // 00:40 at UTC+6:30 is 18:10 UTC the day before.
        assert_eq!(s.start, 1_613_325_600);
        assert_eq!(s.values, vec![Some(2.0), Some(0.0), Some(0.0), Some(1.0)]);
    }

    #[test]
    fn bad_headers_say_what_was_found_and_expected() {
        let err = import("a,b,c\n1,2,3\n", &ImportOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("found columns 'a', 'b', 'c'"), "{text}");
        assert!(text.contains("time_e_utc"), "{text}");
        let err = import("time_e_utc,connectivity\n1,2\n", &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing iso, name_1"), "{err}");
        assert!(import("", &ImportOptions::default()).is_err());
    }

    #[test]
    fn malformed_latency_and_ping_rows_are_reported_not_fatal() {
        let csv = "country_iso_three_char_code,country_iso_name,adm1_name,adm1_unique_identifier,\
                   timezone_offset,timezone_name,time_local,latency_indx\n\
                   RUS,Russia,Kursk,RUS-42,3,Europe/Moscow,01-Dec-2021 06:00:00,100.8\n\
                   RUS,Russia,Kursk,RUS-42,x,Nowhere/Land,01-Dec-2021 09:00:00,100.3\n\
                   RUS,Russia,Kursk,RUS-42,3,Europe/Moscow,yesterday,100.3\n\
                   RUS,Russia,Kursk,RUS-42,3,Europe/Moscow,01-Dec-2021 12:00:00,fast\n\
                   RUS,Russia,Kursk,RUS-42,99,Europe/Moscow,01-Dec-2021 15:00:00,99\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        let r = &imported.report;
        // An unreadable offset and zone (RUS has no default zone either), an
        // unreadable time; an offset beyond a day falls back on the zone name.
        assert_eq!(r.count(IssueKind::BadTime), 2, "{r}");
        assert_eq!(r.count(IssueKind::BadNumber), 1, "{r}");
        assert_eq!(
            imported.series[0].values,
            vec![Some(100.8), None, None, Some(99.0)]
        );

        let csv = "ip_hash,iso,name_0,name_1,name_2,isp_name,owner_name,time_local_str,time_local_hr,rtt\n\
                   016,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 10:40:00.000,10,356\n\
                   ,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 10:50:00.000,10,200\n\
                   017,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 25:50:00.000,10,200\n\
                   018,MMR,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 10:55:00.000,10,slow\n\
                   019,XXX,Myanmar,Bago,Pegu,MPT,KDDI,2021-02-15 10:55:00.000,10,100\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        let r = &imported.report;
        assert_eq!(r.count(IssueKind::BadRow), 1, "{r}");
        assert_eq!(r.count(IssueKind::BadTime), 1, "{r}");
        assert_eq!(r.count(IssueKind::BadNumber), 1, "{r}");
        assert_eq!(r.count(IssueKind::UnknownEntity), 1, "{r}");
        assert_eq!(imported.series[0].values, vec![Some(1.0)]);
    }

    #[test]
    fn malformed_rows_are_reported_not_fatal() {
        let csv = "time_e_utc,time_e_utc_str,connectivity,iso,name_1,name_2,lat,lon\n\
                   1598486400,x,9,USA,Louisiana,Acadia,30.2,-92.4\n\
                   soon,x,9,USA,Louisiana,Acadia,30.2,-92.4\n\
                   1598490000,x,lots,USA,Louisiana,Acadia,30.2,-92.4\n\
                   1598493600,x,9,ZZZ,Louisiana,Acadia,30.2,-92.4\n\
                   1598493600,x,9,USA,,Acadia,30.2,-92.4\n\
                   1598493600,x,NaN,USA,Louisiana,Acadia\n\
                   99999999999,x,9,USA,Louisiana,Acadia,30.2,-92.4\n\
                   \"unterminated\n";
        let imported = import(csv, &ImportOptions::default()).unwrap();
        let r = &imported.report;
        assert_eq!(r.count(IssueKind::BadTime), 2, "{r}");
        assert_eq!(r.count(IssueKind::BadNumber), 1, "{r}");
        // The unterminated last row also names no country.
        assert_eq!(r.count(IssueKind::UnknownEntity), 3, "{r}");
        assert_eq!(r.count(IssueKind::NotANumber), 1, "{r}");
        assert_eq!(r.count(IssueKind::BadRow), 2, "{r}");
        assert_eq!(imported.series.len(), 1);
    }
}
