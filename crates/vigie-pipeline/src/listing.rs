//! What the listing commands (`vigie series`, `vigie entities`, `vigie
//! incidents`) read from the store, as [`Rows`] to print as an aligned
//! table, CSV or JSON.

use std::io::{self, Write};

use anyhow::{bail, Result};
use vigie_detect::Incident;
use vigie_model::{format_utc, Entity, EntityKind, SignalKind, TimeRange, UnixSecs};
use vigie_store::{ResultFilter, Store};

use crate::{format_duration, VIGIE};

/// How [`Rows`] are written (the listing commands' `--format`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Aligned columns for reading.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// JSON.
    Json,
}

/// A table to print: a header and rows of cells; `None` cells are empty.
pub struct Rows {
    /// Column names.
    pub header: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// A table with these columns and no rows yet.
    pub fn new(header: Vec<&'static str>) -> Self {
        Rows {
            header,
            rows: Vec::new(),
        }
    }

    /// Writes the table in `format` to `out`.
    pub fn write(&self, format: TableFormat, out: &mut impl Write) -> io::Result<()> {
        match format {
            TableFormat::Table => self.write_table(out),
            TableFormat::Csv => self.write_csv(out),
            TableFormat::Json => self.write_json(out),
        }
    }

    fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let len = cell.as_deref().unwrap_or("-").chars().count();
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(len);
                }
            }
        }
        let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
            let text: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(out, "{}", text.join("  ").trim_end())
        };
        line(self.header.clone(), out)?;
        for row in &self.rows {
            line(
                row.iter().map(|c| c.as_deref().unwrap_or("-")).collect(),
                out,
            )?;
        }
        Ok(())
    }

    fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        // csv's writer quotes a field holding a comma, a quote, a newline
        // or a carriage return; every other field is written as it is.
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(&self.header)?;
        for row in &self.rows {
            writer.write_record(row.iter().map(|c| c.as_deref().unwrap_or("")))?;
        }
        writer.flush()
    }

    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let objects: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let map: serde_json::Map<String, serde_json::Value> = self
                    .header
                    .iter()
                    .zip(row)
                    .map(|(h, c)| (h.to_string(), json_cell(c.as_deref())))
                    .collect();
                serde_json::Value::Object(map)
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &objects)?;
        writeln!(out)
    }
}

fn json_cell(text: Option<&str>) -> serde_json::Value {
    match text {
        None => serde_json::Value::Null,
        Some(t) => match t.parse::<f64>() {
            Ok(n) if n.is_finite() && !t.starts_with('+') => serde_json::json!(n),
            _ => serde_json::Value::String(t.to_string()),
        },
    }
}

/// Formats a value: integers without a decimal point.
pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Which of an entity's series `vigie series` lists.
pub struct SeriesQuery {
    /// The entity.
    pub entity: Entity,
    /// Only this signal; `None`: every signal the entity has.
    pub signal: Option<SignalKind>,
    /// Start; `None`: the first stored bin.
    pub from: Option<UnixSecs>,
    /// End (exclusive); `None`: just after the last stored bin.
    pub until: Option<UnixSecs>,
    /// The bin width of the series.
    pub bin: vigie_model::BinSize,
}

/// One entity's series, a row per bin and signal (`time, entity, signal,
/// value`); an error names what the entity has instead.
pub fn series_rows(store: &Store, query: &SeriesQuery) -> Result<Rows> {
    let (entity, bin, wanted) = (&query.entity, query.bin, query.signal);
    if !store.has_entity(entity)? {
        bail!(
            "vigie has no data for {entity}; run `vigie entities` to list what it has, or ingest data first (`vigie ingest mrt …`)"
        );
    }
    let available: Vec<_> = store
        .list_series()?
        .into_iter()
        .filter(|info| info.key.entity == *entity && info.bin == bin)
        .collect();
    let chosen: Vec<_> = available
        .iter()
        .filter(|info| wanted.is_none_or(|w| info.key.signal == w))
        .collect();
    if chosen.is_empty() {
        let have: Vec<&str> = available.iter().map(|i| i.key.signal.name()).collect();
        match wanted {
            Some(signal) if !have.is_empty() => bail!(
                "{entity} has no '{signal}' series with {} s bins; it has: {}",
                bin.secs(),
                have.join(", ")
            ),
            _ => bail!("{entity} has no series with {} s bins", bin.secs()),
        }
    }
    // By default, the series' extent inside the plausible time window: a
    // bin an older vigie stored dated 2099 is skipped, with a warning.
    let (from, until) = match (query.from, query.until) {
        (Some(from), Some(until)) => (from, until),
        (from, until) => {
            let extents = chosen
                .iter()
                .filter_map(|info| crate::plausible_range(store, info).transpose())
                .collect::<Result<Vec<TimeRange>>>()?;
            let (Some(first), Some(last)) = (
                extents.iter().map(|r| r.from()).min(),
                extents.iter().map(|r| r.until()).max(),
            ) else {
                bail!(
                    "{entity} has no data inside the plausible time window; `vigie store check` tells what is stored"
                );
            };
            (from.unwrap_or(first), until.unwrap_or(last))
        }
    };
    let range = TimeRange::new(from, until)?;
    let mut rows = Rows::new(vec!["time", "entity", "signal", "value"]);
    for info in chosen {
        let series = store.read_series(&info.key, bin, range)?;
        for (time, value) in series.points() {
            rows.rows.push(vec![
                Some(format_utc(time)),
                Some(entity.to_string()),
                Some(info.key.signal.name().to_string()),
                value.map(format_value),
            ]);
        }
    }
    Ok(rows)
}

/// The entities the store knows (only of `kind`, if given), a column per
/// signal with its latest value, then the latest bin.
pub fn entity_rows(store: &Store, kind: Option<EntityKind>) -> Result<Rows> {
    let mut entities = store.entities()?;
    entities.retain(|e| kind.is_none_or(|k| e.entity.kind() == k));
    entities.sort_by(|a, b| a.entity.cmp(&b.entity));
    let mut signals: Vec<SignalKind> = entities
        .iter()
        .flat_map(|e| e.signals.iter().map(|l| l.signal))
        .collect();
    signals.sort();
    signals.dedup();
    let mut header: Vec<&'static str> = vec!["entity", "kind", "name"];
    header.extend(signals.iter().map(|s| s.name()));
    header.push("latest_bin");
    let mut rows = Rows::new(header);
    for info in &entities {
        let mut row = vec![
            Some(info.entity.to_string()),
            Some(info.entity.kind().name().to_string()),
            info.name.clone().or_else(|| match &info.entity {
                Entity::Country(cc) => cc.name().map(str::to_string),
                _ => None,
            }),
        ];
        for signal in &signals {
            let latest = info.signals.iter().find(|l| l.signal == *signal);
            row.push(latest.and_then(|l| l.latest_value).map(format_value));
        }
        row.push(
            info.signals
                .iter()
                .filter_map(|l| l.latest_time)
                .max()
                .map(format_utc),
        );
        rows.rows.push(row);
    }
    Ok(rows)
}

/// What to say when [`entity_rows`] finds nothing of `kind`.
pub fn no_entities_note(kind: Option<EntityKind>) -> String {
    match kind {
        Some(EntityKind::Region) => "no region has data: regions come from a city table given at ingest (`--geo dbip-city-ipv4.csv`)".to_string(),
        Some(kind) => format!("no entity of kind {} has data yet", kind.name()),
        None => "the store is empty: ingest data first (`vigie ingest mrt …`)".to_string(),
    }
}

/// vigie's stored incidents that `filter` selects (its method is set to
/// vigie's); one that cannot be read is skipped with a warning on stderr.
pub fn stored_incidents(store: &Store, mut filter: ResultFilter) -> Result<Vec<Incident>> {
    filter.method = Some(VIGIE.to_string());
    if let (Some(from), Some(until)) = (filter.from, filter.until) {
        TimeRange::new(from, until)?;
    }
    let mut incidents = Vec::new();
    for row in &store.incidents(&filter)? {
        match serde_json::from_str::<Incident>(&row.detail) {
            Ok(incident) => incidents.push(incident),
            Err(error) => eprintln!(
                "warning: incident of {} at {} could not be read ({error}); run `vigie detect` again",
                row.entity,
                format_utc(row.start)
            ),
        }
    }
    Ok(incidents)
}

/// Incidents as `vigie incidents` lists them: times, duration, depth,
/// mechanism, scope, restorations, signals, confidence and the ASes and
/// regions affected with their share of the country.
pub fn incident_rows(incidents: &[Incident]) -> Rows {
    let mut rows = Rows::new(vec![
        "entity",
        "start",
        "end",
        "duration",
        "depth",
        "mechanism",
        "scope",
        "restorations",
        "signals",
        "confidence",
        "affected",
    ]);
    let or_dash = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(" ")
        }
    };
    for incident in incidents {
        let restorations: Vec<String> = incident
            .restorations
            .iter()
            .map(|r| format!("{}..{}", format_utc(r.start), format_utc(r.end)))
            .collect();
        let mut signals: Vec<&str> = incident
            .signals
            .iter()
            .map(|e| e.key.signal.name())
            .collect();
        signals.sort_unstable();
        signals.dedup();
        let affected = incident
            .affected
            .iter()
            .map(|a| format!("{} {:.0}%", a.entity, a.address_share * 100.0))
            .collect();
        rows.rows.push(vec![
            Some(incident.entity.to_string()),
            Some(format_utc(incident.start)),
            Some(
                incident
                    .end
                    .map(format_utc)
                    .unwrap_or_else(|| incident.status().to_string()),
            ),
            Some(format_duration(incident.duration_secs())),
            Some(format!("{:.0}%", incident.depth * 100.0)),
            Some(format!(
                "{} ({:.0}%)",
                incident.mechanism.name(),
                incident.mechanism_confidence * 100.0
            )),
            Some(incident.scope.name().to_string()),
            Some(or_dash(restorations)),
            Some(signals.join(" ")),
            Some(format!("{:.0}%", incident.confidence * 100.0)),
            Some(or_dash(affected)),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::{Rows, TableFormat};

    fn csv_of(rows: &Rows) -> String {
        let mut out = Vec::new();
        rows.write(TableFormat::Csv, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_of_ordinary_values_is_plain() {
        let mut rows = Rows::new(vec!["time", "entity", "value"]);
        rows.rows.push(vec![
            Some("2024-01-05T00:00:00Z".into()),
            Some("country/KZ".into()),
            Some("12.5".into()),
        ]);
        rows.rows
            .push(vec![Some("2024-01-05T00:05:00Z".into()), None, None]);
        assert_eq!(
            csv_of(&rows),
            "time,entity,value\n2024-01-05T00:00:00Z,country/KZ,12.5\n2024-01-05T00:05:00Z,,\n"
        );
    }

    #[test]
    fn csv_fields_with_separators_read_back() {
        let awkward = ["a\rb", "say \"hi\"", "one, two", "line\nbreak", "\r\n"];
        let mut rows = Rows::new(vec!["name", "note"]);
        for text in awkward {
            rows.rows
                .push(vec![Some(text.into()), Some("plain".into())]);
        }
        let text = csv_of(&rows);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap(), vec!["name", "note"]);
        let read: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let expected: Vec<Vec<String>> = awkward
            .iter()
            .map(|t| vec![t.to_string(), "plain".to_string()])
            .collect();
        assert_eq!(read, expected);
        assert!(text.contains("\"a\rb\""), "{text:?}");
    }
}
