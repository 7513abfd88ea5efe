//! IODA API v2 `/outages/events` responses: IODA's own outage events.
//!
//! The envelope's `data` is a list of events, in IODA's `codf` format
//! (`{location: "country/KZ", location_name, start, duration, uncertainty,
//! status, fraction, score, overlaps_window, datasource, method}`) or its
//! `ioda` format (`{entity: {type, code, name}, from, until, score,
//! datasource, method}`); both are read. Events vigie cannot place (an
//! unknown entity or datasource, no times) are skipped and reported.

use serde_json::{Map, Value};
use vigie_model::{Entity, EntityKind, RegionId, SignalKind, UnixSecs};

use crate::names::signal_from_name;
use crate::report::{ImportReport, IssueKind};
use crate::{ImportError, ImportOptions};

/// One outage event as IODA published it.
#[derive(Clone, Debug, PartialEq)]
pub struct IodaEvent {
    /// Whose outage.
    pub entity: Entity,
    /// The datasource it was seen in.
    pub signal: SignalKind,
    /// Onset.
    pub start: UnixSecs,
    /// End (exclusive).
    pub end: UnixSecs,
    /// IODA's score.
    pub score: Option<f64>,
    /// The event object as IODA sent it (JSON).
    pub raw: String,
}

/// Reads an `/outages/events` response: its events, and what was skipped.
pub fn import_ioda_events(
    bytes: &[u8],
    source_name: &str,
    options: &ImportOptions,
) -> Result<(Vec<IodaEvent>, ImportReport), ImportError> {
    let not = |reason: String| ImportError::NotIodaJson {
        source_name: source_name.to_string(),
        reason,
    };
    let root: Value = serde_json::from_slice(bytes)
        .map_err(|e| not(format!("{e} (line {}, column {})", e.line(), e.column())))?;
    let mut report = ImportReport::new(source_name);
    let data = crate::ioda_json::envelope_data(&root, &mut report, "events").map_err(not)?;
    let mut events = Vec::new();
    for (i, item) in data.iter().enumerate() {
        let location = format!("{source_name}: data[{i}]");
        let Value::Object(object) = item else {
            report.add(
                IssueKind::BadRow,
                location,
                "not an event object; skipped".into(),
            );
            continue;
        };
        match event_of(object, options) {
            Ok(event) => events.push(event),
            Err((kind, message)) => report.add(kind, location, message),
        }
    }
    Ok((events, report))
}

fn event_of(
    object: &Map<String, Value>,
    options: &ImportOptions,
) -> Result<IodaEvent, (IssueKind, String)> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let int = |name: &str| object.get(name).and_then(Value::as_i64);
    // codf: "location": "country/KZ"; ioda: "entity": {type, code, name}.
    let (kind, code, name) = match (object.get("location"), object.get("entity")) {
        (Some(location), _) => {
            let location = text(Some(location)).unwrap_or_default();
            let (kind, code) = location.split_once('/').unwrap_or(("", ""));
            let name = text(object.get("location_name"));
            (kind.to_string(), code.to_string(), name)
        }
        (None, Some(Value::Object(entity))) => (
            text(entity.get("type")).unwrap_or_default(),
            text(entity.get("code")).unwrap_or_default(),
            text(entity.get("name")),
        ),
        _ => {
            return Err((
                IssueKind::UnknownEntity,
                "no \"location\" or \"entity\"; skipped".into(),
            ))
        }
    };
    let entity = match (kind.parse::<EntityKind>(), options.region_country) {
        (Ok(EntityKind::Region), Some(country)) => Ok(Entity::Region(RegionId {
            country,
            name: name.filter(|n| !n.is_empty()).unwrap_or(code.clone()),
        })),
        (Ok(EntityKind::Region), None) => Err(format!(
            "IODA region {code} names no country: pass --region-country; skipped"
        )),
        (Ok(kind), _) => Entity::from_kind_code(kind, &code).map_err(|e| format!("{e}; skipped")),
        (Err(_), _) => Err(format!(
            "entity '{kind}/{code}' is not a country, AS or region; skipped"
        )),
    }
    .or_else(|message| match &options.entity {
        Some(entity) => Ok(entity.clone()),
        None => Err(message),
    })
    .map_err(|m| (IssueKind::UnknownEntity, m))?;
    let datasource = text(object.get("datasource")).unwrap_or_default();
    let signal = signal_from_name(&datasource).ok_or_else(|| {
        (
            IssueKind::UnknownSignal,
            format!("datasource '{datasource}' is not a signal vigie knows; skipped"),
        )
    })?;
    let start = int("start").or_else(|| int("from"));
    let end = int("until").or_else(|| Some(start? + int("duration")?));
    let (Some(start), Some(end)) = (start, end) else {
        return Err((
            IssueKind::BadTime,
            "no start and end (or duration); skipped".into(),
        ));
    };
    if end < start {
        return Err((
            IssueKind::BadTime,
            format!("ends ({end}) before it starts ({start}); skipped"),
        ));
    }
    Ok(IodaEvent {
        entity,
        signal,
        start,
        end,
        score: object.get("score").and_then(Value::as_f64),
        raw: Value::Object(object.clone()).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_formats_and_skips_what_it_cannot_place() {
        let body = br#"{"type":"outages.events","error":null,"data":[
            {"location":"country/KZ","location_name":"Kazakhstan","start":1641384000,"duration":3600,
             "uncertainty":null,"status":0,"fraction":null,"score":1234.5,"datasource":"bgp","method":"median"},
            {"entity":{"type":"asn","code":"9198","name":"Kazakhtelecom"},"from":1641384000,"until":1641387600,
             "score":10,"datasource":"ping-slash24"},
            {"location":"country/KZ","start":1641384000,"duration":60,"datasource":"nosuch"},
            {"location":"planet/earth","start":1,"duration":1,"datasource":"bgp"}
        ]}"#;
        let (events, report) = import_ioda_events(body, "t", &ImportOptions::default()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].entity, "KZ".parse().unwrap());
        assert_eq!((events[0].start, events[0].end), (1641384000, 1641387600));
        assert_eq!(events[0].score, Some(1234.5));
        assert_eq!(events[1].entity, "AS9198".parse().unwrap());
        assert_eq!(events[1].signal, SignalKind::ProbeUpSlash24s);
        assert_eq!(report.total_issues(), 2);
        assert!(import_ioda_events(b"[]", "t", &ImportOptions::default())
            .unwrap()
            .0
            .is_empty());
        assert!(import_ioda_events(b"{\"data\":null}", "t", &ImportOptions::default()).is_err());
    }
}
