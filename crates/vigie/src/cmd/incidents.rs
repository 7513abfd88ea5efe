//! `vigie incidents`: the incidents detection stored, as a readable timeline.

use std::process::ExitCode;

use anyhow::Result;
use vigie_detect::Incident;
use vigie_model::{format_utc, parse_utc, Entity};
use vigie_store::{ResultFilter, Store};

use crate::cli::{Format, IncidentsArgs};
use crate::output::Rows;
use vigie_pipeline::{format_duration, VIGIE};

/// Runs `vigie incidents`.
pub fn run(store: &Store, args: IncidentsArgs) -> Result<ExitCode> {
    let filter = ResultFilter {
        entity: args
            .entity
            .as_deref()
            .map(str::parse::<Entity>)
            .transpose()?,
        method: Some(VIGIE.to_string()),
        from: args.from.as_deref().map(parse_utc).transpose()?,
        until: args.until.as_deref().map(parse_utc).transpose()?,
    };
    if let (Some(from), Some(until)) = (filter.from, filter.until) {
        vigie_model::TimeRange::new(from, until)?;
    }
    let stored = store.incidents(&filter)?;
    let mut incidents = Vec::new();
    for row in &stored {
        match serde_json::from_str::<Incident>(&row.detail) {
            Ok(incident) => incidents.push(incident),
            Err(error) => eprintln!(
                "warning: incident of {} at {} could not be read ({error}); run `vigie detect` again",
                row.entity,
                format_utc(row.start)
            ),
        }
    }
    if incidents.is_empty() {
        eprintln!("no incident found: run `vigie detect` after ingesting or importing data");
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
        return Ok(ExitCode::SUCCESS);
    }
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
    for incident in &incidents {
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
            Some(if restorations.is_empty() {
                "-".to_string()
            } else {
                restorations.join(" ")
            }),
            Some(signals.join(" ")),
            Some(format!("{:.0}%", incident.confidence * 100.0)),
            // Affected ASes and regions with their share of the country.
            Some(if incident.affected.is_empty() {
                "-".to_string()
            } else {
                incident
                    .affected
                    .iter()
                    .map(|a| format!("{} {:.0}%", a.entity, a.address_share * 100.0))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        ]);
    }
    rows.print(args.format)?;
    Ok(ExitCode::SUCCESS)
}
