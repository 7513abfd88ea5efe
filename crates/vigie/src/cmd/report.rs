//! `vigie report`: an incident report (HTML, Markdown, SVG figure, CSV
//! appendix) for an entity over a period, or around one incident.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vigie_model::{format_utc, parse_utc, BinSize, Entity};
use vigie_publish::data::{data_span, incident_by_id, series_of};
use vigie_publish::report::{build, Lang, ReportRequest};
use vigie_store::Store;

use crate::cli::ReportArgs;

/// Runs `vigie report` (annotations are read from `store`; the data
/// directory argument is no longer needed and is kept for callers).
pub fn run(store: &Store, _data_dir: &std::path::Path, args: ReportArgs) -> Result<ExitCode> {
    let lang: Lang = args.lang.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let bin = BinSize::new(args.bin_secs)?;
    let margin = i64::from(args.margin_hours) * 3600;
    let (entity, from, until) = match &args.incident {
        Some(id) => {
            let found = incident_by_id(store, id, &args.method)?.with_context(|| {
                format!("no incident {id} (ids are ENTITY@START_UNIX_SECS: see `vigie incidents` or /api/v1/incidents)")
            })?;
            let incident = found.incident;
            let end = incident.end.unwrap_or(incident.observed_until);
            (incident.entity, incident.start - margin, end + margin)
        }
        None => {
            let Some(text) = &args.entity else {
                bail!("name an entity (such as IQ, AS9198, KZ/Almaty) or give --incident ID");
            };
            let entity: Entity = text.parse()?;
            let span = data_span(
                &series_of(store, &entity)?
                    .into_iter()
                    .filter(|s| s.bin == bin)
                    .collect::<Vec<_>>(),
            );
            let from = match &args.from {
                Some(t) => parse_utc(t)?,
                None => span
                    .map(|(f, _)| f)
                    .with_context(|| format!("no data for {entity}: import or ingest first"))?,
            };
            let until = match &args.until {
                Some(t) => parse_utc(t)?,
                None => span
                    .map(|(_, u)| u)
                    .with_context(|| format!("no data for {entity}"))?,
            };
            (entity, from, until)
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
        lang,
        method: args.method.clone(),
        bin,
    };
    let mut report = build(store, request, now)?;
    report.annotations = vigie_publish::annotations::list(
        store,
        Some(&report.request.entity),
        Some(from),
        Some(until),
    )?;
    let files = report.write_files(&args.out)?;
    eprintln!(
        "report on {} from {} to {}: {} incident(s)",
        report.title_name(),
        format_utc(from),
        format_utc(until),
        report.incidents.len()
    );
    for path in [&files.html, &files.markdown, &files.svg, &files.csv] {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
