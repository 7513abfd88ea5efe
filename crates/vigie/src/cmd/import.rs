//! `vigie import`: maps its flags onto `vigie_pipeline::import_into_store`
//! and prints what was imported.

use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_import::{ImportFormat, ImportOptions};
use vigie_model::CountryCode;
use vigie_pipeline::{import_into_store, local_zone};
use vigie_store::Store;

use super::EXIT_PARTIAL_INPUT;
use crate::cli::ImportArgs;

/// Runs `vigie import <format> FILE`.
pub fn run(store: &mut Store, format: ImportFormat, args: ImportArgs) -> Result<ExitCode> {
    let zone = local_zone(args.timezone.as_deref(), args.utc_offset.as_deref())?;
    if let Some(max) = args.index_max {
        if !(max.is_finite() && max > 0.0) {
            bail!("--index-max {max}: give the value of a normal index, such as 10 or 100");
        }
    }
    let options = ImportOptions {
        entity: args.entity.as_deref().map(str::parse).transpose()?,
        bin: args.bin,
        region_country: args
            .region_country
            .as_deref()
            .map(CountryCode::new)
            .transpose()?,
        zone,
        index_max: args.index_max,
    };
    let outcome = import_into_store(store, &args.file, format, &options)?;
    outcome.messages.iter().for_each(|m| eprintln!("{m}"));
    if outcome.lossy {
        eprintln!("warning: some rows could not be used (exit code {EXIT_PARTIAL_INPUT}); the rest was imported");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
