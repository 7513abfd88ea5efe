//! `vigie store check` and `vigie store repair`: map onto
//! `vigie_pipeline::{check_store, repair_store}` and print what was found.

use std::process::ExitCode;

use anyhow::Result;
use vigie_pipeline::{check_store, describe_check, repair_store};
use vigie_store::Store;

use super::EXIT_PARTIAL_INPUT;
use crate::cli::StoreCommand;

/// Runs `vigie store check|repair`.
pub fn run(store: &mut Store, command: StoreCommand) -> Result<ExitCode> {
    if let StoreCommand::Repair = command {
        let report = repair_store(store)?;
        println!(
            "removed {} bin(s) dated outside the plausible time window from {} series; {} source(s) brought back inside it",
            report.bins_removed, report.series_touched, report.sources_reset
        );
    }
    let check = check_store(store)?;
    for line in describe_check(&check) {
        println!("{line}");
    }
    Ok(if check.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL_INPUT)
    })
}
