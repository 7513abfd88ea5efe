//! `vigie import`: other observatories' signals (IODA API JSON, IODA
//! dashboard CSV, Monash IP Observatory CSV, a generic long CSV) written
//! into the store, with their labels ([`import_into_store`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use vigie_import::{import_path, ImportFormat, ImportOptions, IssueKind, LocalZone};
use vigie_model::{BinSink, BinSize, CountryCode};
use vigie_store::{Store, StoredLabel};

/// Issues that mean some of the input was lost (rejected: not stored, a
/// value stored before stays), not merely tidied.
const LOSSY: [IssueKind; 8] = [
    IssueKind::BadRow,
    IssueKind::BadTime,
    IssueKind::UnknownEntity,
    IssueKind::UnknownSignal,
    IssueKind::Inconsistent,
    IssueKind::BadNumber,
    IssueKind::NotANumber,
    IssueKind::Negative,
];

/// The flags of the `vigie import` commands that read a file.
#[derive(clap::Args, Debug)]
pub struct ImportFlags {
    /// The file to import.
    pub file: PathBuf,
    /// The entity the file is about (a dashboard export names none): IQ, AS9198, "PS/Gaza Strip".
    #[arg(long)]
    pub entity: Option<String>,
    /// Bin width in seconds, when the file's own spacing should not decide it.
    #[arg(long = "bin-secs", value_name = "SECS")]
    pub bin: Option<BinSize>,
    /// The country of IODA region entities in the file (IODA numbers regions without one).
    #[arg(long)]
    pub region_country: Option<String>,
    /// The zone of the file's local times (Monash files): an IANA zone such
    /// as America/Caracas, or a UTC offset; default: the country's zone.
    #[arg(long, allow_hyphen_values = true, conflicts_with = "utc_offset")]
    pub timezone: Option<String>,
    /// The UTC offset of the file's local times, such as -04:00 or +03:30.
    #[arg(long, allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// The value of a normal connectivity index in the file (10 or 100);
    /// default: 10 when no value exceeds 10, else 100.
    #[arg(long)]
    pub index_max: Option<f64>,
}

impl ImportFlags {
    /// The import options these flags give, checked.
    pub fn options(&self) -> Result<ImportOptions> {
        if let Some(max) = self.index_max {
            if !(max.is_finite() && max > 0.0) {
                bail!("--index-max {max}: give the value of a normal index, such as 10 or 100");
            }
        }
        Ok(ImportOptions {
            entity: self.entity.as_deref().map(str::parse).transpose()?,
            bin: self.bin,
            region_country: (self.region_country.as_deref())
                .map(CountryCode::new)
                .transpose()?,
            zone: local_zone(self.timezone.as_deref(), self.utc_offset.as_deref())?,
            index_max: self.index_max,
        })
    }
}

/// The zone of a file's local times (Monash files): `--timezone` (an IANA
/// zone or an offset), else `--utc-offset` (an offset only), else none.
pub fn local_zone(timezone: Option<&str>, utc_offset: Option<&str>) -> Result<Option<LocalZone>> {
    Ok(match (timezone, utc_offset) {
        (Some(zone), _) => Some(zone.parse::<LocalZone>()?),
        (None, Some(offset)) => match offset.parse::<LocalZone>()? {
            zone @ LocalZone::Offset(_) => Some(zone),
            LocalZone::Named(_) => bail!(
                "--utc-offset {offset} is a zone name, not an offset: use --timezone {offset}, \
                 or an offset such as -04:00"
            ),
        },
        (None, None) => None,
    })
}

/// What [`import_into_store`] did.
pub struct ImportOutcome {
    /// What to tell the user, in order: the issues, notes, a summary of
    /// the series and labels, the issue counts.
    pub messages: Vec<String>,
    /// Some rows could not be used (the rest was imported).
    pub lossy: bool,
}

/// Imports `file` in `format`: its series go to the store under the
/// source named after the file, its labelled outages to the labels.
pub fn import_into_store(
    store: &mut Store,
    file: &Path,
    format: ImportFormat,
    options: &ImportOptions,
) -> Result<ImportOutcome> {
    let imported = import_path(file, format, options)?;
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
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
    let mut messages: Vec<String> = report
        .issues
        .iter()
        .map(|issue| format!("{}: {} ({})", issue.location, issue.message, issue.kind))
        .collect();
    let listed = report.issues.len() as u64;
    let total = report.total_issues();
    if total > listed {
        messages.push(format!("… and {} more issues", total - listed));
    }
    messages.extend(report.notes.iter().map(|note| format!("note: {note}")));
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
    let entities: BTreeSet<_> = imported.series.iter().map(|s| &s.key.entity).collect();
    messages.push(format!(
        "imported {} series of {} entities ({}) with {points} bins, {} labelled outage(s) ({} new), from {} rows of {}",
        imported.series.len(),
        entities.len(),
        series_names.join(", "),
        labels.len(),
        new_labels,
        report.rows_read,
        file.display()
    ));
    if !report.counts.is_empty() {
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        messages.push(format!("issues: {}", counts.join(", ")));
    }
    Ok(ImportOutcome {
        messages,
        lossy: LOSSY.iter().any(|kind| report.count(*kind) > 0),
    })
}
