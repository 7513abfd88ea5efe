//! `vigie entities`: maps its flags onto `vigie_pipeline::entity_rows` and
//! prints what the store knows about, with the latest values.

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::EntityKind;
use vigie_pipeline::{entity_rows, no_entities_note, TableFormat};
use vigie_store::Store;

use crate::cli::EntitiesArgs;

/// Runs `vigie entities`.
pub fn run(store: &Store, args: EntitiesArgs) -> Result<ExitCode> {
    let kind: Option<EntityKind> = args.kind.as_deref().map(str::parse).transpose()?;
    let rows = entity_rows(store, kind)?;
    if rows.rows.is_empty() {
        eprintln!("{}", no_entities_note(kind));
        if args.format == TableFormat::Table {
            return Ok(ExitCode::SUCCESS);
        }
    }
    crate::output::print(&rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}
