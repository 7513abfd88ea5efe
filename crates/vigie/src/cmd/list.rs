//! `vigie series`, `vigie entities` and `vigie incidents`: map their flags
//! onto `vigie_pipeline`'s listings (`series_rows`, `entity_rows`,
//! `stored_incidents`) and print the rows.

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::{parse_utc, EntityKind};
use vigie_pipeline::{
    entity_rows, incident_rows, no_entities_note, series_rows, stored_incidents, SeriesQuery,
    TableFormat,
};
use vigie_store::{ResultFilter, Store};

use crate::cli::{EntitiesArgs, IncidentsArgs, SeriesArgs};
use crate::output::print;

/// Runs `vigie series`: one entity's signals over time.
pub fn series(store: &Store, args: SeriesArgs) -> Result<ExitCode> {
    let query = SeriesQuery {
        entity: args.entity.parse()?,
        signal: args.signal.as_deref().map(str::parse).transpose()?,
        from: args.from.as_deref().map(parse_utc).transpose()?,
        until: args.until.as_deref().map(parse_utc).transpose()?,
        bin: args.bin.bin,
    };
    print(&series_rows(store, &query)?, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `vigie entities`: what the store knows about, with the latest values.
pub fn entities(store: &Store, args: EntitiesArgs) -> Result<ExitCode> {
    let kind: Option<EntityKind> = args.kind.as_deref().map(str::parse).transpose()?;
    let rows = entity_rows(store, kind)?;
    if rows.rows.is_empty() {
        eprintln!("{}", no_entities_note(kind));
        if args.format == TableFormat::Table {
            return Ok(ExitCode::SUCCESS);
        }
    }
    print(&rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `vigie incidents`: vigie's stored incidents as a timeline (or JSON).
pub fn incidents(store: &Store, args: IncidentsArgs) -> Result<ExitCode> {
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
    if args.format == TableFormat::Json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
    } else {
        print(&incident_rows(&incidents), args.format)?;
    }
    Ok(ExitCode::SUCCESS)
}
