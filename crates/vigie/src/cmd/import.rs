//! `vigie import`: other observatories' signals (IODA API JSON, IODA
//! dashboard CSV, Monash IP Observatory CSV, a generic long CSV) into the
//! store, with their labels.

use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_import::{import_path, ImportFormat, ImportOptions, IssueKind, LocalZone};
use vigie_model::{BinSink, CountryCode, Entity};
use vigie_store::{Store, StoredLabel};

use super::EXIT_PARTIAL_INPUT;
use crate::cli::ImportArgs;

/// Issues that mean some of the input was lost, not merely tidied.
const LOSSY: [IssueKind; 6] = [
    IssueKind::BadRow,
    IssueKind::BadTime,
    IssueKind::UnknownEntity,
    IssueKind::UnknownSignal,
    IssueKind::Inconsistent,
    IssueKind::BadNumber,
];

/// Runs `vigie import <format> FILE`.
pub fn run(store: &mut Store, format: ImportFormat, args: ImportArgs) -> Result<ExitCode> {
    let zone = match (&args.timezone, &args.utc_offset) {
        (Some(zone), _) => Some(zone.parse::<LocalZone>()?),
        (None, Some(offset)) => match offset.parse::<LocalZone>()? {
            zone @ LocalZone::Offset(_) => Some(zone),
            LocalZone::Named(_) => bail!(
                "--utc-offset {offset} is a zone name, not an offset: use --timezone {offset}, \
                 or an offset such as -04:00"
            ),
        },
        (None, None) => None,
    };
    if let Some(max) = args.index_max {
        if !(max.is_finite() && max > 0.0) {
            bail!("--index-max {max}: give the value of a normal index, such as 10 or 100");
        }
    }
    let options = ImportOptions {
        entity: args
            .entity
            .as_deref()
            .map(str::parse::<Entity>)
            .transpose()?,
        bin: args.bin,
        region_country: args
            .region_country
            .as_deref()
            .map(CountryCode::new)
            .transpose()?,
        zone,
        index_max: args.index_max,
    };
    let imported = import_path(&args.file, format, &options)?;
    let source = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.file.display().to_string());
    store.sink(&source).write_series(&imported.series)?;
    let points: usize = imported.series.iter().map(|s| s.values.len()).sum();
    let labels: Vec<StoredLabel> = imported
        .labels
        .iter()
        .map(|span| StoredLabel {
            entity: span.entity.clone(),
            start: span.start,
            end: span.end,
            source: source.clone(),
        })
        .collect();
    let new_labels = store.add_labels(&labels)?;
    let report = &imported.report;
    for issue in &report.issues {
        eprintln!("{}: {} ({})", issue.location, issue.message, issue.kind);
    }
    let listed = report.issues.len() as u64;
    let total = report.total_issues();
    if total > listed {
        eprintln!("… and {} more issues", total - listed);
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    // Name the series, up to a dozen (a Monash file can hold hundreds).
    const NAMED: usize = 12;
    let mut series_names: Vec<String> = imported
        .series
        .iter()
        .take(NAMED)
        .map(|s| {
            format!(
                "{} {} ({} s bins)",
                s.key.entity,
                s.key.signal,
                s.bin.secs()
            )
        })
        .collect();
    if imported.series.len() > NAMED {
        series_names.push(format!("… {} more", imported.series.len() - NAMED));
    }
    let entities: std::collections::BTreeSet<_> =
        imported.series.iter().map(|s| &s.key.entity).collect();
    eprintln!(
        "imported {} series of {} entities ({}) with {points} bins, {} labelled outage(s) ({} new), from {} rows of {}",
        imported.series.len(),
        entities.len(),
        series_names.join(", "),
        labels.len(),
        new_labels,
        report.rows_read,
        args.file.display()
    );
    if !report.counts.is_empty() {
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        eprintln!("issues: {}", counts.join(", "));
    }
    if LOSSY.iter().any(|kind| report.count(*kind) > 0) {
        eprintln!("warning: some rows could not be used (exit code {EXIT_PARTIAL_INPUT}); the rest was imported");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
