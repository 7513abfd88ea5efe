//! Incident reports (`vigie report`, the demo): HTML, Markdown, SVG figure
//! and CSV appendix for an entity over a period, or around one incident.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use vigie_model::{format_utc, BinSize, Entity, UnixSecs};
use vigie_publish::data::{data_span, incident_by_id, series_of};
use vigie_publish::report::{build, Lang, ReportFiles, ReportRequest};
use vigie_store::Store;

use crate::VIGIE;

/// What a report covers.
#[derive(Clone, Debug)]
pub enum ReportSubject {
    /// One incident (`ENTITY@START_UNIX_SECS`), with `margin_secs` before and after.
    Incident {
        /// The incident's id.
        id: String,
        /// Seconds shown before and after it.
        margin_secs: i64,
    },
    /// An entity over a period; by default, its data's whole span.
    Entity {
        /// The entity.
        entity: Entity,
        /// Period start.
        from: Option<UnixSecs>,
        /// Period end, exclusive.
        until: Option<UnixSecs>,
    },
}

/// How [`write_report`] writes.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// What the report covers.
    pub subject: ReportSubject,
    /// Its language.
    pub lang: Lang,
    /// The detection method whose incidents are reported.
    pub method: String,
    /// The bin width of the series shown.
    pub bin: BinSize,
    /// The folder the files go to.
    pub out: PathBuf,
}

impl ReportOptions {
    /// A report on `subject` in English, of vigie's incidents at the
    /// default bin width, into `out`.
    pub fn new(subject: ReportSubject, out: PathBuf) -> ReportOptions {
        ReportOptions {
            subject,
            lang: Lang::En,
            method: VIGIE.to_string(),
            bin: BinSize::default(),
            out,
        }
    }
}

/// Builds the report `options` describe from `store` (its annotations
/// included), writes its files, and says what it covered on stderr.
pub fn write_report(store: &Store, options: &ReportOptions) -> Result<ReportFiles> {
    let bin = options.bin;
    let (entity, from, until) = match &options.subject {
        ReportSubject::Incident { id, margin_secs } => {
            let found = incident_by_id(store, id, &options.method)?.with_context(|| {
                format!("no incident {id} (ids are ENTITY@START_UNIX_SECS: see `vigie incidents` or /api/v1/incidents)")
            })?;
            let incident = found.incident;
            let end = incident.end.unwrap_or(incident.observed_until);
            (
                incident.entity,
                incident.start - margin_secs,
                end + margin_secs,
            )
        }
        ReportSubject::Entity {
            entity,
            from,
            until,
        } => {
            let span = data_span(
                &series_of(store, entity)?
                    .into_iter()
                    .filter(|s| s.bin == bin)
                    .collect::<Vec<_>>(),
            );
            let Some(from) = from.or(span.map(|(f, _)| f)) else {
                bail!("no data for {entity}: import or ingest first");
            };
            let Some(until) = until.or(span.map(|(_, u)| u)) else {
                bail!("no data for {entity}");
            };
            (entity.clone(), from, until)
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let request = ReportRequest {
        entity,
        from,
        until,
        lang: options.lang,
        method: options.method.clone(),
        bin,
    };
    let mut report = build(store, request, now)?;
    report.annotations = vigie_publish::annotations::list(
        store,
        Some(&report.request.entity),
        Some(from),
        Some(until),
    )?;
    let files = report.write_files(&options.out)?;
    eprintln!(
        "report on {} from {} to {}: {} incident(s)",
        report.title_name(),
        format_utc(from),
        format_utc(until),
        report.incidents.len()
    );
    Ok(files)
}
