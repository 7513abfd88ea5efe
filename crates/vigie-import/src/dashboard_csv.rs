//! IODA dashboard CSV exports: one row per time, one column per datasource.
//!
//! Two header styles are read:
//! - the labelled exports used for evaluation,
//!   `timestamp,gtr,gtr-norm,merit-nt,bgp,ping-slash24,datetime,DATETIME,LABEL`:
//!   `timestamp` in Unix seconds, the datasource columns (empty = no data),
//!   `datetime` copies of the time, and `LABEL` 0/1;
//! - the dashboard's own download, `"Time (UTC)","Google (Search)","Telescope
//!   (# Unique Source IPs)","BGP (#Visible /24s)","Active Probing (#/24s
//!   Up)","Mozilla (City Count)"`, times such as `2026-01-08 16:30:00` (UTC),
//!   at whatever step IODA chose for the period (5 minutes to a day; inferred
//!   from the rows).
//!
//! Normalised exports carry the same datasource columns with values as a
//! percentage of normal (sometimes `(normalized)` or `%` in the header, or
//! `normalized` in the file name); they are imported as the same signals,
//! since detection works on ratios to a baseline, and the report says so.

use std::io::Read;

use vigie_model::{parse_utc, BinSize, Entity, SeriesKey, SignalKind, UnixSecs};

use crate::assemble::{clean_value, implausible_time, time_in_range, SeriesBuilder};
use crate::csv_rows;
use crate::names::{classify_column, ColumnKind, TIME_COLUMN_NAMES};
use crate::report::{ImportReport, IssueKind};
use crate::{ImportError, ImportOptions, Imported, LabelSpan};

/// Imports an IODA dashboard CSV export of one entity (given in `options`).
///
/// Rows with an unreadable time are skipped; unreadable cells become no data;
/// unknown columns are listed once and ignored; a `LABEL` column becomes
/// [`LabelSpan`]s. Errors only when no entity is given or the header has no
/// time column or no signal column.
pub fn import_dashboard_csv(
    reader: impl Read,
    source_name: &str,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let entity = options
        .entity
        .clone()
        .ok_or_else(|| ImportError::MissingEntity {
            source_name: source_name.to_string(),
        })?;
    let mut report = ImportReport::new(source_name);
    let mut csv_reader = csv_rows::reader(reader, true);
    let headers = csv_reader
        .byte_headers()
        .map_err(|err| ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!("cannot read the header line: {err}"),
        })?
        .clone();
    let layout = Layout::from_headers(&headers, &entity, &mut report);
    let found = || found_columns(&headers);
    let Some(time_column) = layout.time_column else {
        return Err(ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!(
                "no time column: found columns {}; expected one of {TIME_COLUMN_NAMES}",
                found()
            ),
        });
    };
    if layout.signals.is_empty() {
        return Err(ImportError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!(
                "no signal column: found columns {}; expected IODA datasources such as \
                 'BGP (#Visible /24s)', 'Active Probing (#/24s Up)', 'Telescope (# Unique \
                 Source IPs)', 'Google (Search)', 'Mozilla (City Count)', or bgp, \
                 ping-slash24, merit-nt, gtr, gtr-norm",
                found()
            ),
        });
    }
    let lower_name = source_name.to_ascii_lowercase();
    if lower_name.contains("normalized") || lower_name.contains("normalised") {
        report.note(
            "the file name says normalised: values are read as a percentage of normal and \
             imported as their signals",
        );
    }

    let mut builder = SeriesBuilder::new();
    let mut label_points: Vec<(UnixSecs, bool)> = Vec::new();
    let mut record = csv::ByteRecord::new();
    while let Some(line) = csv_rows::next_record(&mut csv_reader, &mut record, &mut report) {
        report.rows_read += 1;
        if record.iter().all(|field| field.is_empty()) {
            continue;
        }
        if record.len() != headers.len() {
            let at = report.at_line(line);
            report.add(
                IssueKind::BadRow,
                at,
                format!(
                    "{} fields where the header has {}; missing cells read as no data",
                    record.len(),
                    headers.len()
                ),
            );
        }
        let time_text = String::from_utf8_lossy(record.get(time_column).unwrap_or_default());
        let t = match parse_utc(&time_text) {
            Ok(t) if time_in_range(t) => t,
            Ok(t) => {
                let at = report.at_line(line);
                report.add(
                    IssueKind::BadTime,
                    at,
                    format!("{}; row skipped", implausible_time(t)),
                );
                continue;
            }
            Err(err) => {
                let at = report.at_line(line);
                report.add(IssueKind::BadTime, at, format!("{err}; row skipped"));
                continue;
            }
        };
        for (column, key) in &layout.signals {
            let cell = String::from_utf8_lossy(record.get(*column).unwrap_or_default());
            let at = || format!("{source_name}:{line}:{}", key.signal);
            let value = if cell.is_empty() || cell.eq_ignore_ascii_case("null") {
                None
            } else {
                match cell.parse::<f64>() {
                    Ok(raw) => clean_value(raw, &mut report, at),
                    Err(_) => {
                        report.add(
                            IssueKind::BadNumber,
                            at(),
                            format!("'{cell}' is not a number; rejected, not stored"),
                        );
                        None
                    }
                }
            };
            builder.push(key, t, value, line, &mut report, at);
        }
        if let Some(column) = layout.label_column {
            let cell = String::from_utf8_lossy(record.get(column).unwrap_or_default());
            match parse_label(&cell) {
                Ok(Some(flag)) => label_points.push((t, flag)),
                Ok(None) => {}
                Err(()) => {
                    let at = report.at_line(line);
                    report.add(
                        IssueKind::BadLabel,
                        at,
                        format!("label '{cell}' is neither 0 nor 1; ignored"),
                    );
                }
            }
        }
    }
    let series = builder.finish(options.bin, &mut report, &|line| {
        format!("{source_name}:{line}")
    });
    let bin = options
        .bin
        .or_else(|| series.first().map(|s| s.bin))
        .unwrap_or_default();
    let labels = label_spans(&entity, label_points, bin);
    Ok(Imported {
        series,
        labels,
        report,
    })
}

/// Which column holds what.
struct Layout {
    time_column: Option<usize>,
    label_column: Option<usize>,
    signals: Vec<(usize, SeriesKey)>,
}

impl Layout {
    fn from_headers(
        headers: &csv::ByteRecord,
        entity: &Entity,
        report: &mut ImportReport,
    ) -> Layout {
        let mut layout = Layout {
            time_column: None,
            label_column: None,
            signals: Vec::new(),
        };
        let mut seen: Vec<SignalKind> = Vec::new();
        let mut normalised = Vec::new();
        let mut ignored = Vec::new();
        let mut time_is_unix = false;
        for (index, raw) in headers.iter().enumerate() {
            let header = String::from_utf8_lossy(raw)
                .trim()
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string();
            match classify_column(&header) {
                ColumnKind::Time => {
                    // Prefer Unix `timestamp` over textual copies of the time.
                    let unix = header.eq_ignore_ascii_case("timestamp");
                    if layout.time_column.is_none() || (unix && !time_is_unix) {
                        layout.time_column = Some(index);
                        time_is_unix = unix;
                    }
                }
                ColumnKind::Label if layout.label_column.is_none() => {
                    layout.label_column = Some(index);
                }
                ColumnKind::Signal(signal, _) if seen.contains(&signal) => {
                    report.add(
                        IssueKind::UnknownColumn,
                        format!("{}:1", report.source),
                        format!("column '{header}' repeats signal {signal}; ignored"),
                    );
                    report.unknown_columns.push(header);
                }
                ColumnKind::Signal(signal, is_normalised) => {
                    seen.push(signal);
                    if is_normalised {
                        normalised.push(header.clone());
                    }
                    layout.signals.push((
                        index,
                        SeriesKey {
                            entity: entity.clone(),
                            signal,
                        },
                    ));
                }
                ColumnKind::Ignored(reason) => ignored.push(format!("'{header}' ({reason})")),
                ColumnKind::Label | ColumnKind::Unknown => {
                    report.add(
                        IssueKind::UnknownColumn,
                        format!("{}:1", report.source),
                        format!("column '{header}' is not a known signal; ignored"),
                    );
                    report.unknown_columns.push(header);
                }
            }
        }
        if !normalised.is_empty() {
            report.note(format!(
                "normalised columns imported as their signals: {}",
                normalised.join(", ")
            ));
        }
        if !ignored.is_empty() {
            report.note(format!("columns not imported: {}", ignored.join(", ")));
        }
        layout
    }
}

/// The header's column names, quoted and comma-separated, for error messages.
fn found_columns(headers: &csv::ByteRecord) -> String {
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            format!(
                "'{}'",
                String::from_utf8_lossy(h).trim_start_matches('\u{feff}')
            )
        })
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// `0`/`1` (also `0.0`, `true`, `false`); empty is no label.
fn parse_label(cell: &str) -> Result<Option<bool>, ()> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "0" | "0.0" | "false" | "no" => Ok(Some(false)),
        "1" | "1.0" | "true" | "yes" => Ok(Some(true)),
        _ => Err(()),
    }
}

/// Runs of labelled bins, merged when their bins are adjacent.
fn label_spans(entity: &Entity, mut points: Vec<(UnixSecs, bool)>, bin: BinSize) -> Vec<LabelSpan> {
    let step = i64::from(bin.secs());
    let mut starts: Vec<UnixSecs> = points
        .drain(..)
        .filter(|(_, flag)| *flag)
        .map(|(t, _)| bin.floor(t))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let mut spans: Vec<LabelSpan> = Vec::new();
    for start in starts {
        match spans.last_mut() {
            Some(span) if span.end == start => span.end = start + step,
            _ => spans.push(LabelSpan {
                entity: entity.clone(),
                start,
                end: start + step,
            }),
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ImportOptions {
        ImportOptions {
            entity: Some("IQ".parse().unwrap()),
            ..ImportOptions::default()
        }
    }

    #[test]
    fn reads_signals_and_labels() {
        let csv = "timestamp,gtr,bgp,ping-slash24,datetime,LABEL,extra\n\
                   1692493200,5.0,2917,581.0,2023-08-20 01:00:00+00:00,0,x\n\
                   1692493500,,2917,581.0,2023-08-20 01:05:00+00:00,1,x\n\
                   1692493800,,1000,200.0,2023-08-20 01:10:00+00:00,1,x\n\
                   1692494100,,2917,nan,2023-08-20 01:15:00+00:00,0,x\n";
        let imported = import_dashboard_csv(csv.as_bytes(), "iq.csv", &options()).unwrap();
        assert_eq!(imported.series.len(), 3);
        let bgp = imported
            .series
            .iter()
            .find(|s| s.key.signal == SignalKind::BgpVisibleSlash24s)
            .unwrap();
        assert_eq!(
            bgp.values,
            vec![Some(2917.0), Some(2917.0), Some(1000.0), Some(2917.0)]
        );
        assert_eq!(imported.labels.len(), 1);
        assert_eq!(imported.labels[0].start, 1_692_493_500);
        assert_eq!(imported.labels[0].end, 1_692_494_100);
        assert_eq!(imported.report.unknown_columns, vec!["extra".to_string()]);
        assert_eq!(imported.report.count(IssueKind::NotANumber), 1);
    }

    /// IODA's dashboard download, raw, at 30-minute steps.
    const DASHBOARD_RAW: &str = "\"Time (UTC)\",\"Google (Search)\",\"Telescope (# Unique Source IPs)\",\"BGP (#Visible /24s)\",\"Active Probing (#/24s Up)\",\"Mozilla (City Count)\"\n\
        2026-01-08 16:00:00,4.1,1520,61234,10234,412\n\
        2026-01-08 16:30:00,4.0,1498,61230,10201,409\n\
        2026-01-08 17:00:00,,1433,61228,,398\n\
        2026-01-08 17:30:00,0.2,310,60102,1203,57\n";

    #[test]
    fn reads_the_dashboard_download() {
        let imported =
            import_dashboard_csv(DASHBOARD_RAW.as_bytes(), "ioda-iq.csv", &options()).unwrap();
        let kinds: Vec<SignalKind> = imported.series.iter().map(|s| s.key.signal).collect();
        assert_eq!(
            kinds,
            [
                SignalKind::BgpVisibleSlash24s,
                SignalKind::ProbeUpSlash24s,
                SignalKind::TelescopeUniqueSources,
                SignalKind::GoogleTraffic,
                SignalKind::MozillaCities,
            ]
        );
        for series in &imported.series {
            assert_eq!(series.bin.secs(), 1800, "{}", series.key.signal);
            assert_eq!(series.start, 1_767_888_000); // 2026-01-08T16:00:00Z
            assert_eq!(series.values.len(), 4);
        }
        let probing = &imported.series[1];
        assert_eq!(
            probing.values,
            vec![Some(10234.0), Some(10201.0), None, Some(1203.0)]
        );
        assert!(imported.labels.is_empty());
        assert_eq!(imported.report.total_issues(), 0, "{}", imported.report);
    }

    #[test]
    fn reads_the_normalised_dashboard_download() {
        let csv = "\"Time (UTC)\",\"Google (Search) (normalized)\",\"Google (Maps) (normalized)\",\"BGP (#Visible /24s) (normalized)\",\"Active Probing (#/24s Up) %\",\"Merit-NT (normalized)\"\n\
                   2026-01-08 16:00:00,98.2,97.0,100,99.1,87.5\n\
                   2026-01-08 16:30:00,97.9,96.1,100,98.7,90.0\n\
                   2026-01-08 17:00:00,12.0,10.4,99.9,11.8,20.3\n";
        let imported =
            import_dashboard_csv(csv.as_bytes(), "ioda-iq-normalized.csv", &options()).unwrap();
        assert_eq!(imported.series.len(), 4);
        assert!(imported.series.iter().all(|s| s.bin.secs() == 1800));
        let notes = imported.report.notes.join("\n");
        assert!(notes.contains("normalised columns imported"), "{notes}");
        assert!(notes.contains("Google (Maps)"), "{notes}");
        assert!(notes.contains("file name says normalised"), "{notes}");
        assert!(imported.report.unknown_columns.is_empty());
    }

    #[test]
    fn steps_from_five_minutes_to_a_day_are_inferred() {
        for step in [300i64, 600, 1800, 3600, 7200, 86_400] {
            let mut csv = String::from("Time (UTC),BGP (#Visible /24s)\n");
            for i in 0..5 {
                let t = 1_767_830_400 + i * step;
                csv.push_str(&format!("{},{}\n", vigie_model::format_utc(t), 100 + i));
            }
            let imported = import_dashboard_csv(csv.as_bytes(), "s.csv", &options()).unwrap();
            assert_eq!(imported.series[0].bin.secs() as i64, step);
            assert_eq!(imported.series[0].values.len(), 5);
        }
    }

    #[test]
    fn wrong_headers_list_what_was_found_and_expected() {
        let err = import_dashboard_csv("A,B,C\n1,2,3\n".as_bytes(), "x.csv", &options())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no time column: found columns 'A', 'B', 'C'; expected one of 'Time (UTC)', 'timestamp'"),
            "{err}"
        );
        let err = import_dashboard_csv(
            "Time (UTC),Weather\n2026-01-08 16:00:00,3\n".as_bytes(),
            "x.csv",
            &options(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no signal column: found columns 'Time (UTC)', 'Weather'"),
            "{err}"
        );
        assert!(err.contains("Active Probing (#/24s Up)"), "{err}");
    }

    #[test]
    fn needs_an_entity_and_a_header() {
        let csv = "timestamp,bgp\n1692493200,1\n";
        assert!(matches!(
            import_dashboard_csv(csv.as_bytes(), "x.csv", &ImportOptions::default()),
            Err(ImportError::MissingEntity { .. })
        ));
        assert!(import_dashboard_csv("a,b\n1,2\n".as_bytes(), "x.csv", &options()).is_err());
        assert!(
            import_dashboard_csv("timestamp,zzz\n1,2\n".as_bytes(), "x.csv", &options()).is_err()
        );
        assert!(import_dashboard_csv("".as_bytes(), "x.csv", &options()).is_err());
    }
}
