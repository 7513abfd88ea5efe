//! `vigie incidents`: maps its flags onto `vigie_pipeline::stored_incidents`
//! and prints them as a timeline (or JSON).

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::parse_utc;
use vigie_pipeline::{incident_rows, stored_incidents};
use vigie_store::{ResultFilter, Store};

use crate::cli::IncidentsArgs;

/// Runs `vigie incidents`.
pub fn run(store: &Store, args: IncidentsArgs) -> Result<ExitCode> {
    let filter = ResultFilter {
        entity: args.entity.as_deref().map(str::parse).transpose()?,
        method: None,
        from: args.from.as_deref().map(parse_utc).transpose()?,
        until: args.until.as_deref().map(parse_utc).transpose()?,
    };
    let incidents = stored_incidents(store, filter)?;
    if incidents.is_empty() {
        eprintln!("no incident found: run `vigie detect` after ingesting or importing data");
    }
    if args.format == vigie_pipeline::TableFormat::Json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
    } else {
        crate::output::print(&incident_rows(&incidents), args.format)?;
    }
    Ok(ExitCode::SUCCESS)
}
