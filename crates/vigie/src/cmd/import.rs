//! `vigie import`: maps its flags onto `vigie_pipeline::import_into_store`
//! (files) or `import_ioda_api` (IODA's API) and prints what was imported.

use std::process::ExitCode;

use anyhow::Result;
use vigie_import::ImportFormat;
use vigie_pipeline::{import_into_store, import_ioda_api, ImportFlags, IodaApiOptions};
use vigie_store::Store;

use super::EXIT_PARTIAL_INPUT;

/// Runs `vigie import <format> FILE`.
pub fn run(store: &mut Store, format: ImportFormat, args: ImportFlags) -> Result<ExitCode> {
    let outcome = import_into_store(store, &args.file, format, &args.options()?)?;
    outcome.messages.iter().for_each(|m| eprintln!("{m}"));
    if outcome.lossy {
        eprintln!("warning: some rows could not be used (exit code {EXIT_PARTIAL_INPUT}); the rest was imported");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `vigie import ioda`: IODA's API read over HTTP into the store.
pub fn ioda(store: &mut Store, args: IodaApiOptions) -> Result<ExitCode> {
    let outcome = import_ioda_api(store, &args, &|m| eprintln!("{m}"))?;
    Ok(super::partial_if(outcome.lossy))
}
