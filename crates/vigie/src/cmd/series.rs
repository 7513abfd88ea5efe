//! `vigie series`: maps its flags onto `vigie_pipeline::series_rows` and
//! prints one entity's signals over time.

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::parse_utc;
use vigie_pipeline::{series_rows, SeriesQuery};
use vigie_store::Store;

use crate::cli::SeriesArgs;

/// Runs `vigie series`.
pub fn run(store: &Store, args: SeriesArgs) -> Result<ExitCode> {
    let query = SeriesQuery {
        entity: args.entity.parse()?,
        signal: args.signal.as_deref().map(str::parse).transpose()?,
        from: args.from.as_deref().map(parse_utc).transpose()?,
        until: args.until.as_deref().map(parse_utc).transpose()?,
        bin: args.bin.bin,
    };
    crate::output::print(&series_rows(store, &query)?, args.format)?;
    Ok(ExitCode::SUCCESS)
}
