//! IODA API v2 `/signals/raw/{entityType}/{entityCode}` responses.
//!
//! The response is an envelope `{type, metadata, requestParameters, error,
//! perf, data, copyright}` whose `data` is a list of lists of series objects:
//! `{entityType, entityCode, entityName, entityFqid, datasource, subtype,
//! from, until, step, nativeStep, values}`. Value `i` is at `from + i * step`;
//! `until` is the time after the last value; `null` is no data.

use std::collections::HashMap;

use serde_json::Value;
use vigie_model::{BinSize, Entity, EntityKind, RegionId, SeriesKey, SignalKind, UnixSecs};

use crate::assemble::{clean_value, time_in_range, SeriesBuilder};
use crate::names::signal_from_name;
use crate::report::{ImportReport, IssueKind};
use crate::{ImportError, ImportOptions, Imported};

/// Imports an IODA API v2 signals response.
///
/// Accepts the full envelope, or its bare `data` (a list of lists of series,
/// or a flat list of series). Series whose datasource or entity vigie cannot
/// map are skipped and reported; a `null` value is no data. Errors only when
/// the bytes are not JSON or hold no list of series at all.
pub fn import_ioda_json(
    bytes: &[u8],
    source_name: &str,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|err| ImportError::NotIodaJson {
        source_name: source_name.to_string(),
        reason: format!("{err} (line {}, column {})", err.line(), err.column()),
    })?;
    let mut report = ImportReport::new(source_name);
    let data =
        envelope_data(&root, &mut report, "series").map_err(|reason| ImportError::NotIodaJson {
            source_name: source_name.to_string(),
            reason,
        })?;

    // Flatten `data[i][j]` (or `data[i]` for a flat list) with its location.
    let mut objects: Vec<(String, &serde_json::Map<String, Value>)> = Vec::new();
    for (i, item) in data.iter().enumerate() {
        match item {
            Value::Array(inner) => {
                for (j, series) in inner.iter().enumerate() {
                    let location = format!("{source_name}: data[{i}][{j}]");
                    match series {
                        Value::Object(map) => objects.push((location, map)),
                        _ => report.add(
                            IssueKind::BadRow,
                            location,
                            "not a series object; skipped".to_string(),
                        ),
                    }
                }
            }
            Value::Object(map) => objects.push((format!("{source_name}: data[{i}]"), map)),
            _ => report.add(
                IssueKind::BadRow,
                format!("{source_name}: data[{i}]"),
                "neither a series object nor a list of them; skipped".to_string(),
            ),
        }
    }

    let mut builder = SeriesBuilder::new();
    // The first subtype seen for each key: vigie keeps one series per entity
    // and signal (of IODA's per-product gtr series, only Search is read).
    let mut subtype_of: HashMap<SeriesKey, String> = HashMap::new();
    let mut locations: Vec<String> = Vec::new();
    for (location, object) in objects {
        import_one(
            object,
            &location,
            options,
            &mut builder,
            &mut subtype_of,
            &mut locations,
            &mut report,
        );
    }
    let series = builder.finish(options.bin, &mut report, &|origin| {
        decode_origin(&locations, origin)
    });
    Ok(Imported {
        series,
        labels: Vec::new(),
        report,
    })
}

/// Origins pack the series' index in `locations` and the value index.
fn encode_origin(series_index: usize, value_index: usize) -> u64 {
    ((series_index as u64) << 32) | (value_index as u64 & 0xffff_ffff)
}

fn decode_origin(locations: &[String], origin: u64) -> String {
    let series_index = (origin >> 32) as usize;
    let value_index = origin & 0xffff_ffff;
    match locations.get(series_index) {
        Some(location) => format!("{location}.values[{value_index}]"),
        None => format!("values[{value_index}]"),
    }
}

fn import_one(
    object: &serde_json::Map<String, Value>,
    location: &str,
    options: &ImportOptions,
    builder: &mut SeriesBuilder,
    subtype_of: &mut HashMap<SeriesKey, String>,
    locations: &mut Vec<String>,
    report: &mut ImportReport,
) {
    let text = |field: &str| -> Option<String> {
        match object.get(field) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let Some(datasource) = text("datasource") else {
        report.add(
            IssueKind::BadRow,
            location.to_string(),
            "no \"datasource\"; skipped".into(),
        );
        return;
    };
    let Some(signal) = signal_from_name(&datasource) else {
        report.add(
            IssueKind::UnknownSignal,
            location.to_string(),
            format!("datasource '{datasource}' has no vigie signal; skipped"),
        );
        return;
    };
    let entity = match &options.entity {
        Some(entity) => entity.clone(),
        None => match entity_of(object, options) {
            Ok(entity) => entity,
            Err(reason) => {
                report.add(IssueKind::UnknownEntity, location.to_string(), reason);
                return;
            }
        },
    };
    let key = SeriesKey { entity, signal };
    let subtype = text("subtype").filter(|s| !s.is_empty());
    // IODA's gtr has one series per Google product: vigie keeps Search, as
    // the dashboard's "Google (Search)".
    if let (SignalKind::GoogleTraffic | SignalKind::GoogleTrafficNormalised, Some(product)) =
        (signal, &subtype)
    {
        let upper = product.to_ascii_uppercase();
        if !upper.contains("SEARCH") {
            report.note(format!(
                "{location}: {datasource} product '{product}' not imported: vigie keeps Google \
                 Search (WEB_SEARCH) as {signal}"
            ));
            return;
        }
    }
    if let Some(subtype) = subtype {
        match subtype_of.get(&key) {
            Some(kept) if *kept != subtype => {
                report.add(
                    IssueKind::Duplicate,
                    location.to_string(),
                    format!(
                        "{} {signal} subtype '{subtype}' skipped: vigie keeps one series per \
                         entity and signal (kept '{kept}')",
                        key.entity
                    ),
                );
                return;
            }
            Some(_) => {}
            None => {
                subtype_of.insert(key.clone(), subtype);
            }
        }
    }
    let from = object.get("from").and_then(Value::as_i64);
    let step = object.get("step").and_then(Value::as_i64);
    let (Some(from), Some(step)) = (from, step) else {
        report.add(
            IssueKind::Inconsistent,
            location.to_string(),
            "\"from\" and \"step\" must be integers (Unix seconds); skipped".into(),
        );
        return;
    };
    let Some(bin) = u32::try_from(step).ok().and_then(|s| BinSize::new(s).ok()) else {
        report.add(
            IssueKind::Inconsistent,
            location.to_string(),
            format!("step {step} s is not a bin size vigie can use (60..86400, dividing a day); skipped"),
        );
        return;
    };
    let Some(values) = object.get("values").and_then(Value::as_array) else {
        report.add(
            IssueKind::BadRow,
            location.to_string(),
            "no \"values\" list; skipped".into(),
        );
        return;
    };
    let step = i64::from(bin.secs());
    let last_time = (values.len().max(1) as i64 - 1)
        .checked_mul(step)
        .and_then(|span| from.checked_add(span));
    if !time_in_range(from) || !last_time.is_some_and(time_in_range) {
        report.add(
            IssueKind::BadTime,
            location.to_string(),
            format!(
                "times from {from} with {} values are outside the plausible window (1990 to a day past the clock); skipped",
                values.len()
            ),
        );
        return;
    }
    if let Some(until) = object.get("until").and_then(Value::as_i64) {
        let expected = from + values.len() as i64 * step;
        if until != expected {
            report.add(
                IssueKind::Inconsistent,
                location.to_string(),
                format!(
                    "\"until\" is {until} but {} values of {step} s from {from} end at {expected}; \
                     the values were kept",
                    values.len()
                ),
            );
        }
    }
    if let Some(native) = object.get("nativeStep").and_then(Value::as_i64) {
        if native > step {
            report.note(format!(
                "{location}: {} {signal} is measured every {native} s but sent every {step} s",
                key.entity
            ));
        }
    }
    builder.hint_bin(&key, bin, report, location.to_string());
    let series_index = locations.len();
    locations.push(location.to_string());
    for (i, value) in values.iter().enumerate() {
        report.rows_read += 1;
        let t: UnixSecs = from + i as i64 * step;
        let where_ = || format!("{location}.values[{i}]");
        let cleaned = match value {
            Value::Null => None,
            Value::Number(n) => match n.as_f64() {
                Some(raw) => clean_value(raw, report, where_),
                None => {
                    report.add(
                        IssueKind::BadNumber,
                        where_(),
                        format!("{n} is not a number"),
                    );
                    None
                }
            },
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(raw) => clean_value(raw, report, where_),
                Err(_) => {
                    report.add(
                        IssueKind::BadNumber,
                        where_(),
                        format!("'{s}' is not a number; rejected, not stored"),
                    );
                    None
                }
            },
            other => {
                report.add(
                    IssueKind::BadNumber,
                    where_(),
                    format!("{other} is not a number; rejected, not stored"),
                );
                None
            }
        };
        builder.push(
            &key,
            t,
            cleaned,
            encode_origin(series_index, i),
            report,
            where_,
        );
    }
}

/// Maps IODA's `entityType`/`entityCode`/`entityName` to a vigie entity.
fn entity_of(
    object: &serde_json::Map<String, Value>,
    options: &ImportOptions,
) -> Result<Entity, String> {
    let field = |name: &str| match object.get(name) {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let kind_text = field("entityType").ok_or("no \"entityType\"; skipped")?;
    let code = field("entityCode").ok_or("no \"entityCode\"; skipped")?;
    let kind: EntityKind = kind_text.parse().map_err(|_| {
        format!("entity type '{kind_text}' is not a country, AS or region; skipped")
    })?;
    match kind {
        EntityKind::Country | EntityKind::Asn => {
            Entity::from_kind_code(kind, &code).map_err(|err| format!("{err}; skipped"))
        }
        EntityKind::Region => {
            let name = field("entityName")
                .filter(|n| !n.is_empty())
                .unwrap_or(code.clone());
            match options.region_country {
                Some(country) => Ok(Entity::Region(RegionId { country, name })),
                None => Err(format!(
                    "IODA region {code} ({name}) does not say which country it is in: \
                     pass its country, or the entity itself (such as PS/Gaza Strip); skipped"
                )),
            }
        }
    }
}

/// The `data` list of an IODA API response: from its envelope (noting an
/// `error` it carries) or the response itself when it is a bare list; the
/// reason it is not one otherwise. `what` names the items (`series`,
/// `events`) in that reason.
pub(crate) fn envelope_data<'a>(
    root: &'a Value,
    report: &mut ImportReport,
    what: &str,
) -> Result<&'a [Value], String> {
    match root {
        Value::Object(envelope) => {
            if let Some(Value::String(error)) = envelope.get("error") {
                report.note(format!("the response carries an error: {error}"));
            }
            match envelope.get("data") {
                Some(Value::Array(data)) => Ok(data.as_slice()),
                Some(Value::Null) | None => Err(format!(
                    "the envelope has no \"data\" list of {what} (was the request an error?)"
                )),
                Some(_) => Err(format!("\"data\" is not a list of {what}")),
            }
        }
        Value::Array(data) => Ok(data.as_slice()),
        _ => Err(format!(
            "expected an object with \"data\" or a list of {what}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> &'static str {
        r#"{
          "type": "signals",
          "metadata": {"requestTime": "2024-02-01T00:00:00+00:00"},
          "requestParameters": {"from": 1706745600, "until": 1706746800},
          "error": null,
          "data": [[
            {"entityType": "country", "entityCode": "TR", "entityName": "Turkey",
             "entityFqid": "geo.provider.EU.TR", "datasource": "bgp", "subtype": "",
             "from": 1706745600, "until": 1706746800, "step": 300, "nativeStep": 300,
             "values": [62200, 62220, null, 62213]},
            {"entityType": "country", "entityCode": "TR", "entityName": "Turkey",
             "datasource": "ping-slash24", "subtype": null,
             "from": 1706745600, "until": 1706746800, "step": 600, "nativeStep": 600,
             "values": [1000, 990]},
            {"entityType": "country", "entityCode": "TR", "entityName": "Turkey",
             "datasource": "ping-slash24-latency", "from": 1706745600, "until": 1706746800,
             "step": 600, "nativeStep": 600, "values": [30, 31]}
          ]],
          "copyright": "x"
        }"#
    }

    #[test]
    fn reads_an_envelope() {
        let imported =
            import_ioda_json(sample().as_bytes(), "tr.json", &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 2);
        let bgp = imported
            .series
            .iter()
            .find(|s| s.key.signal == SignalKind::BgpVisibleSlash24s)
            .unwrap();
        assert_eq!(bgp.key.entity.to_string(), "TR");
        assert_eq!(bgp.start, 1_706_745_600);
        assert_eq!(
            bgp.values,
            vec![Some(62200.0), Some(62220.0), None, Some(62213.0)]
        );
        let ping = imported
            .series
            .iter()
            .find(|s| s.key.signal == SignalKind::ProbeUpSlash24s)
            .unwrap();
        assert_eq!(ping.bin.secs(), 600);
        assert_eq!(imported.report.count(IssueKind::UnknownSignal), 1);
        assert_eq!(imported.report.rows_read, 6);
    }

    /// One IODA series object at `step` (and `nativeStep`) with `values`.
    fn one_series(datasource: &str, step: i64, native: i64, values: &str) -> String {
        let n = values.split(',').count() as i64;
        format!(
            r#"{{"data": [[{{"entityType": "country", "entityCode": "IR", "entityName": "Iran",
                "datasource": "{datasource}", "subtype": "", "from": 1700006400,
                "until": {until}, "step": {step}, "nativeStep": {native},
                "values": [{values}]}}]]}}"#,
            until = 1_700_006_400 + n * step
        )
    }

    #[test]
    fn any_step_sets_the_bin() {
        // IODA widens the step for long periods: 30 min, 1 h, 2 h, a day.
        for (step, native) in [
            (1800, 300),
            (3600, 300),
            (7200, 600),
            (86_400, 300),
            (600, 600),
        ] {
            let json = one_series("ping-slash24", step, native, "100, null, 98, 97");
            let imported =
                import_ioda_json(json.as_bytes(), "ir.json", &ImportOptions::default()).unwrap();
            assert_eq!(imported.series.len(), 1, "step {step}");
            let series = &imported.series[0];
            assert_eq!(i64::from(series.bin.secs()), step);
            assert_eq!(series.start, 1_700_006_400);
            assert_eq!(
                series.values,
                vec![Some(100.0), None, Some(98.0), Some(97.0)]
            );
            assert_eq!(imported.report.total_issues(), 0, "{}", imported.report);
        }
    }

    #[test]
    fn a_native_step_coarser_than_the_step_is_noted() {
        let json = one_series("bgp", 300, 1800, "5, 5, 5");
        let imported =
            import_ioda_json(json.as_bytes(), "ir.json", &ImportOptions::default()).unwrap();
        assert_eq!(imported.series[0].bin.secs(), 300);
        assert!(
            imported.report.notes.iter().any(|n| n.contains("1800")),
            "{:?}",
            imported.report.notes
        );
    }

    #[test]
    fn steps_vigie_cannot_bin_are_skipped_and_reported() {
        for step in [0, 7, 1000, 172_800, -300] {
            let json = one_series("bgp", step, step, "1, 2");
            let imported =
                import_ioda_json(json.as_bytes(), "ir.json", &ImportOptions::default()).unwrap();
            assert!(imported.series.is_empty(), "step {step}");
            assert!(imported.report.total_issues() > 0, "step {step}");
        }
    }

    #[test]
    fn google_search_is_the_gtr_kept() {
        let json = r#"{"data": [[
            {"entityType": "country", "entityCode": "IR", "datasource": "gtr", "subtype": "MAPS",
             "from": 1700006400, "until": 1700008200, "step": 1800, "values": [7]},
            {"entityType": "country", "entityCode": "IR", "datasource": "gtr", "subtype": "WEB_SEARCH",
             "from": 1700006400, "until": 1700008200, "step": 1800, "values": [42]},
            {"entityType": "country", "entityCode": "IR", "datasource": "gtr", "subtype": "YOUTUBE",
             "from": 1700006400, "until": 1700008200, "step": 1800, "values": [9]}]]}"#;
        let imported =
            import_ioda_json(json.as_bytes(), "ir.json", &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 1);
        assert_eq!(imported.series[0].key.signal, SignalKind::GoogleTraffic);
        assert_eq!(imported.series[0].values, vec![Some(42.0)]);
        let notes = imported.report.notes.join("\n");
        assert!(
            notes.contains("MAPS") && notes.contains("YOUTUBE"),
            "{notes}"
        );
        assert_eq!(imported.report.total_issues(), 0);
    }

    #[test]
    fn regions_need_a_country() {
        let json = r#"[[{"entityType":"region","entityCode":"1226","entityName":"Gaza Strip",
            "datasource":"bgp","from":1698333900,"until":1698334500,"step":300,"values":[560,560]}]]"#;
        let none = import_ioda_json(json.as_bytes(), "g.json", &ImportOptions::default()).unwrap();
        assert!(none.series.is_empty());
        assert_eq!(none.report.count(IssueKind::UnknownEntity), 1);
        let options = ImportOptions {
            region_country: Some(vigie_model::CountryCode::new("PS").unwrap()),
            ..ImportOptions::default()
        };
        let some = import_ioda_json(json.as_bytes(), "g.json", &options).unwrap();
        assert_eq!(some.series[0].key.entity.to_string(), "PS/Gaza Strip");
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        for bad in ["", "{", "42", "{\"data\": 3}", "{\"data\": null}"] {
            assert!(import_ioda_json(bad.as_bytes(), "b.json", &ImportOptions::default()).is_err());
        }
    }
}
