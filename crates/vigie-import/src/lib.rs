//! Imports other observatories' signals into vigie [`Series`], so vigie can
//! analyse them like its own.
//!
//! Four formats:
//! - [`import_ioda_json`]: IODA API v2 `/signals/raw/{entityType}/{entityCode}`
//!   responses (an envelope whose `data` is a list of lists of series objects
//!   with `entityType`, `entityCode`, `entityName`, `datasource`, `subtype`,
//!   `from`, `until`, `step`, `nativeStep` and `values`), and IODA's own
//!   outage events from `/outages/events` ([`import_ioda_events`]);
//! - [`import_dashboard_csv`]: IODA dashboard CSV exports, raw or normalised,
//!   one row per time and one column per datasource, either the labelled
//!   research exports
//!   (`timestamp,gtr,gtr-norm,merit-nt,bgp,ping-slash24,datetime,DATETIME,LABEL`)
//!   or the dashboard's own download (`"Time (UTC)","Google (Search)",
//!   "Telescope (# Unique Source IPs)","BGP (#Visible /24s)","Active Probing
//!   (#/24s Up)","Mozilla (City Count)"`) at any step; the export names no
//!   entity, so the caller gives it, and a `LABEL` column is returned as
//!   [`LabelSpan`]s;
//! - [`import_monash`]: the Monash IP Observatory's open CSVs (regional
//!   connectivity and latency indices, raw ping observations; see
//!   [`MonashLayout`]), whose local times are turned into UTC with a
//!   [`LocalZone`];
//! - [`import_long_csv`]: a generic long CSV, `time,entity,signal,value`.
//!
//! IODA datasource names map onto [`SignalKind`]s (see
//! [`signal_from_name`]). Bad input never stops an import and never panics:
//! every problem (unreadable rows, bad times, NaN, negative counts, duplicate
//! or out-of-order times, unknown columns, mixed bin sizes) is counted and
//! located in the [`ImportReport`], and what could be read is kept. Only a
//! file that cannot be read at all is an [`ImportError`].

mod assemble;
mod csv_rows;
mod dashboard_csv;
mod ioda_events;
mod ioda_json;
mod long_csv;
mod monash;
mod names;
mod report;
mod zone;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;
use vigie_model::{format_utc, BinSize, CountryCode, Entity, Series, UnixSecs};

pub use assemble::{EARLIEST_SECS, LATEST_SECS, MAX_BINS_PER_IMPORT, MAX_BINS_PER_SERIES};
pub use dashboard_csv::import_dashboard_csv;
pub use ioda_events::{import_ioda_events, IodaEvent};
pub use ioda_json::import_ioda_json;
pub use long_csv::import_long_csv;
pub use monash::{import_monash, MonashLayout};
pub use names::{is_time_column, signal_from_column, signal_from_name};
pub use report::{ImportReport, Issue, IssueKind, MAX_LISTED_ISSUES};
pub use zone::LocalZone;

// Re-exported so callers can name the types in the import API.
pub use vigie_model::SignalKind;

/// Choices the caller makes for an import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The entity the data belongs to. Required for dashboard CSV exports,
    /// which name none; for IODA JSON it overrides the entity of every series.
    pub entity: Option<Entity>,
    /// Forces the bin size instead of inferring it from the data.
    pub bin: Option<BinSize>,
    /// The country of IODA regions: IODA's JSON names a region by a number
    /// and a name (`1226`, `Gaza Strip`) but not by its country.
    pub region_country: Option<CountryCode>,
    /// The zone of a file's local times (Monash files); by default the
    /// country's zone where it has one.
    pub zone: Option<LocalZone>,
    /// The value of a normal connectivity index in the file (10 or 100);
    /// by default 10 when no value exceeds 10, else 100.
    pub index_max: Option<f64>,
}

/// A span of time that a file labels as an outage.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LabelSpan {
    /// Whose outage.
    pub entity: Entity,
    /// The start of the first labelled bin.
    pub start: UnixSecs,
    /// The end of the last labelled bin (exclusive).
    pub end: UnixSecs,
}

impl fmt::Display for LabelSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} .. {}",
            self.entity,
            format_utc(self.start),
            format_utc(self.end)
        )
    }
}

/// The result of an import: the series read, any labels, and the report.
#[derive(Clone, Debug)]
pub struct Imported {
    /// One series per entity and signal, aligned to its bins.
    pub series: Vec<Series>,
    /// Outage labels found in the file (dashboard CSV `LABEL` column).
    pub labels: Vec<LabelSpan>,
    /// What was read, fixed and skipped.
    pub report: ImportReport,
}

/// The formats [`import_path`] reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportFormat {
    /// IODA API v2 JSON (`vigie import ioda-json`).
    IodaJson,
    /// IODA dashboard CSV export (`vigie import ioda-csv`).
    IodaCsv,
    /// Generic long CSV `time,entity,signal,value` (`vigie import csv`).
    LongCsv,
    /// Monash IP Observatory CSV, any of its layouts (`vigie import monash`).
    Monash,
}

impl FromStr for ImportFormat {
    type Err = ImportError;
    fn from_str(text: &str) -> Result<Self, ImportError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ioda-json" | "json" => Ok(ImportFormat::IodaJson),
            "ioda-csv" | "dashboard-csv" => Ok(ImportFormat::IodaCsv),
            "csv" | "long-csv" => Ok(ImportFormat::LongCsv),
            "monash" | "monash-csv" => Ok(ImportFormat::Monash),
            _ => Err(ImportError::UnknownFormat(text.to_string())),
        }
    }
}

/// Why an import could not happen at all.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not JSON, or not shaped like an IODA response.
    #[error("{source_name}: not an IODA API response: {reason}")]
    NotIodaJson {
        /// The file.
        source_name: String,
        /// What is wrong, with the byte offset when known.
        reason: String,
    },
    /// The CSV has no usable header.
    #[error("{source_name}: {reason}")]
    BadHeader {
        /// The file.
        source_name: String,
        /// What is wrong and what the header should hold.
        reason: String,
    },
    /// A dashboard export was imported without saying whose data it is.
    #[error(
        "{source_name}: a dashboard export names no entity: pass one, such as --entity IQ, \
         --entity AS9198 or --entity PS/Gaza Strip"
    )]
    MissingEntity {
        /// The file.
        source_name: String,
    },
    /// The format name is not one of `ioda-json`, `ioda-csv`, `csv`, `monash`.
    #[error("'{0}' is not an import format: use ioda-json, ioda-csv, csv or monash")]
    UnknownFormat(String),
    /// The file's times are local and no zone says which.
    #[error(
        "{source_name}: {what}: pass the zone, such as --timezone America/Caracas or \
         --utc-offset -04:00"
    )]
    MissingZone {
        /// The file.
        source_name: String,
        /// Which times and why no zone applies.
        what: String,
    },
    /// A zone that is neither a UTC offset nor an IANA zone name.
    #[error(
        "'{0}' is not a time zone: give a UTC offset such as -04:00 or +03:30, or an IANA \
         zone such as America/Caracas"
    )]
    BadZone(String),
}

/// Reads and imports a file in the given format.
pub fn import_path(
    path: &Path,
    format: ImportFormat,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let source_name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: source_name.clone(),
        source,
    })?;
    match format {
        ImportFormat::IodaJson => import_ioda_json(&bytes, &source_name, options),
        ImportFormat::IodaCsv => import_dashboard_csv(bytes.as_slice(), &source_name, options),
        ImportFormat::LongCsv => import_long_csv(bytes.as_slice(), &source_name, options),
        ImportFormat::Monash => import_monash(bytes.as_slice(), &source_name, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_command_names() {
        assert_eq!(
            "ioda-json".parse::<ImportFormat>().ok(),
            Some(ImportFormat::IodaJson)
        );
        assert_eq!(
            "ioda-csv".parse::<ImportFormat>().ok(),
            Some(ImportFormat::IodaCsv)
        );
        assert_eq!(
            "csv".parse::<ImportFormat>().ok(),
            Some(ImportFormat::LongCsv)
        );
        assert_eq!(
            "monash".parse::<ImportFormat>().ok(),
            Some(ImportFormat::Monash)
        );
        assert!("xml".parse::<ImportFormat>().is_err());
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = import_path(
            Path::new("/nonexistent/vigie.json"),
            ImportFormat::IodaJson,
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/vigie.json"), "{err}");
    }
}
