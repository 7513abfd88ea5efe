//! The generic long CSV: one value per row, `time,entity,signal,value`.
//!
//! A header naming the four columns (in any order, extra columns ignored and
//! reported) is optional; without one, the columns are read in that order.
//! Times are ISO 8601 UTC, a date, or Unix seconds; entities are written `KZ`,
//! `AS9198` or `KZ/Almaty` (IODA's `country/KZ` too); signals by vigie or IODA
//! name; an empty value is no data.

use std::io::Read;

use vigie_model::{parse_utc, Entity, SeriesKey};

use crate::assemble::{clean_value, implausible_time, time_in_range, SeriesBuilder};
use crate::csv_rows;
use crate::names::{is_time_column, signal_from_name};
use crate::report::{ImportReport, IssueKind};
use crate::{ImportError, ImportOptions, Imported};

/// Column positions of the four fields.
#[derive(Clone, Copy)]
struct Columns {
    time: usize,
    entity: usize,
    signal: usize,
    value: usize,
}

/// Imports a long CSV. `options.entity`, when given, fills rows whose entity
/// cell is empty. Errors only on an empty input.
pub fn import_long_csv(
    reader: impl Read,
    source_name: &str,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut report = ImportReport::new(source_name);
    let mut csv_reader = csv_rows::reader(reader, false);
    let mut builder = SeriesBuilder::new();
    let mut columns: Option<Columns> = None;
    let mut record = csv::ByteRecord::new();
    let mut first = true;
    let mut any_row = false;
    while let Some(line) = csv_rows::next_record(&mut csv_reader, &mut record, &mut report) {
        any_row = true;
        let fields: Vec<String> = record
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect();
        if first {
            first = false;
            if let Some(found) = header_columns(&fields, &mut report) {
                columns = Some(found);
                continue;
            }
        }
        report.rows_read += 1;
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let cols = columns.unwrap_or(Columns {
            time: 0,
            entity: 1,
            signal: 2,
            value: 3,
        });
        let cell = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        let at = report.at_line(line);
        let t = match parse_utc(cell(cols.time)) {
            Ok(t) if time_in_range(t) => t,
            Ok(t) => {
                report.add(
                    IssueKind::BadTime,
                    at,
                    format!("{}; row skipped", implausible_time(t)),
                );
                continue;
            }
            Err(err) => {
                report.add(IssueKind::BadTime, at, format!("{err}; row skipped"));
                continue;
            }
        };
        let entity_text = cell(cols.entity);
        let entity = if entity_text.is_empty() {
            match &options.entity {
                Some(entity) => entity.clone(),
                None => {
                    report.add(
                        IssueKind::UnknownEntity,
                        at,
                        "no entity; row skipped".into(),
                    );
                    continue;
                }
            }
        } else {
            match entity_text.parse::<Entity>() {
                Ok(entity) => entity,
                Err(err) => {
                    report.add(IssueKind::UnknownEntity, at, format!("{err}; row skipped"));
                    continue;
                }
            }
        };
        let signal_text = cell(cols.signal);
        let Some(signal) = signal_from_name(signal_text) else {
            report.add(
                IssueKind::UnknownSignal,
                at,
                format!("'{signal_text}' is not a signal vigie knows (such as bgp, ping-slash24, merit-nt, gtr); row skipped"),
            );
            continue;
        };
        let value_text = cell(cols.value);
        let value = if value_text.is_empty() {
            None
        } else {
            match value_text.parse::<f64>() {
                Ok(raw) => clean_value(raw, &mut report, || at.clone()),
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
        let key = SeriesKey { entity, signal };
        builder.push(&key, t, value, line, &mut report, || at.clone());
    }
    if !any_row {
        return Err(ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: "the file is empty: expected rows of time,entity,signal,value".to_string(),
        });
    }
    let series = builder.finish(options.bin, &mut report, &|line| {
        format!("{source_name}:{line}")
    });
    Ok(Imported {
        series,
        labels: Vec::new(),
        report,
    })
}

/// Reads a header row; `None` when the row is data (its first cell a time).
fn header_columns(fields: &[String], report: &mut ImportReport) -> Option<Columns> {
    if fields.first().is_some_and(|f| parse_utc(f).is_ok()) {
        return None;
    }
    let find = |names: &[&str]| {
        fields
            .iter()
            .position(|f| names.iter().any(|n| f.eq_ignore_ascii_case(n)))
    };
    let time = fields.iter().position(|f| is_time_column(f));
    let entity = find(&[
        "entity",
        "entity_code",
        "entitycode",
        "country",
        "asn",
        "region",
    ]);
    let signal = find(&["signal", "datasource", "source", "metric"]);
    let value = find(&["value", "val", "count"]);
    let (Some(time), Some(entity), Some(signal), Some(value)) = (time, entity, signal, value)
    else {
        report.add(
            IssueKind::BadRow,
            report.at_line(1),
            format!(
                "first row '{}' is neither data nor a header naming time, entity, signal and \
                 value; skipped, later rows read as time,entity,signal,value",
                fields.join(",")
            ),
        );
        return Some(Columns {
            time: 0,
            entity: 1,
            signal: 2,
            value: 3,
        });
    };
    for (i, name) in fields.iter().enumerate() {
        if ![time, entity, signal, value].contains(&i) {
            report.add(
                IssueKind::UnknownColumn,
                report.at_line(1),
                format!("column '{name}' is not time, entity, signal or value; ignored"),
            );
            report.unknown_columns.push(name.clone());
        }
    }
    Some(Columns {
        time,
        entity,
        signal,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::SignalKind;

    #[test]
    fn reads_rows_with_and_without_header() {
        let with_header = "signal,time,entity,value,comment\n\
                           bgp,2022-01-05T10:30:00Z,KZ,100,a\n\
                           bgp,2022-01-05T10:35:00Z,KZ,,b\n\
                           ping-slash24,1641378600,AS9198,50,c\n";
        let imported =
            import_long_csv(with_header.as_bytes(), "l.csv", &ImportOptions::default()).unwrap();
        assert_eq!(imported.series.len(), 2);
        let kz = imported
            .series
            .iter()
            .find(|s| s.key.signal == SignalKind::BgpVisibleSlash24s)
            .unwrap();
        assert_eq!(kz.values, vec![Some(100.0), None]);
        assert_eq!(imported.report.unknown_columns, vec!["comment".to_string()]);

        let bare = "2022-01-05T10:30:00Z,KZ,bgp,100\n2022-01-05T10:35:00Z,KZ,bgp,-5\n";
        let imported =
            import_long_csv(bare.as_bytes(), "b.csv", &ImportOptions::default()).unwrap();
        assert_eq!(imported.series[0].values, vec![Some(100.0), None]);
        assert_eq!(imported.report.count(IssueKind::Negative), 1);
    }

    #[test]
    fn bad_rows_are_reported_and_skipped() {
        let csv = "time,entity,signal,value\n\
                   yesterday,KZ,bgp,1\n\
                   2022-01-05T10:30:00Z,Narnia,bgp,1\n\
                   2022-01-05T10:30:00Z,KZ,vibes,1\n\
                   2022-01-05T10:30:00Z,KZ,bgp,abc\n\
                   2022-01-05T10:30:00Z,KZ,bgp\n";
        let imported =
            import_long_csv(csv.as_bytes(), "bad.csv", &ImportOptions::default()).unwrap();
        let r = &imported.report;
        assert_eq!(r.count(IssueKind::BadTime), 1);
        assert_eq!(r.count(IssueKind::UnknownEntity), 1);
        assert_eq!(r.count(IssueKind::UnknownSignal), 1);
        assert_eq!(r.count(IssueKind::BadNumber), 1);
        assert_eq!(r.count(IssueKind::Duplicate), 1);
        assert!(
            r.issues[0].location.starts_with("bad.csv:2"),
            "{:?}",
            r.issues[0]
        );
        assert!(import_long_csv("".as_bytes(), "e.csv", &ImportOptions::default()).is_err());
    }
}
