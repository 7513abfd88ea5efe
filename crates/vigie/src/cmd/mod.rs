//! One module per command; each turns parsed arguments into library calls.

mod annotate;
mod bench;
#[cfg(feature = "nats")]
pub mod bus;
mod collect;
mod completions;
mod demo;
mod detect;
mod eval;
mod import;
mod ingest;
mod list;
mod man;
mod probe;
mod report;
mod serve;
mod store;

use std::process::ExitCode;

use anyhow::{Context, Result};
use vigie_store::Store;

use crate::cli::{Cli, CollectCommand, Command, ImportCommand, IngestCommand};

/// Exit code for a failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the work finished but some input was truncated or corrupt.
pub const EXIT_PARTIAL_INPUT: u8 = 3;

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(url) = &cli.store {
        // Every command opens its store through open_store.
        let _ = STORE_URL.set(url.clone());
    }
    match cli.command {
        Command::Ingest(IngestCommand::Mrt(args)) => ingest::mrt(&cli.data_dir, args),
        Command::Ingest(IngestCommand::Archive(args)) => ingest::archive(&cli.data_dir, args),
        Command::Ingest(IngestCommand::AccessLog(args)) => ingest::access_log(&cli.data_dir, args),
        Command::Ingest(IngestCommand::Pcap(args)) => ingest::pcap(&cli.data_dir, args),
        Command::Collect(CollectCommand::Flows(args)) => collect::flows(&cli.data_dir, args),
        Command::Collect(CollectCommand::Telescope(args)) => {
            collect::telescope(&cli.data_dir, args)
        }
        Command::Import(command) => {
            let mut store = open_store(&cli.data_dir)?;
            let (format, args) = match command {
                ImportCommand::IodaJson(args) => (vigie_import::ImportFormat::IodaJson, args),
                ImportCommand::IodaCsv(args) => (vigie_import::ImportFormat::IodaCsv, args),
                ImportCommand::Csv(args) => (vigie_import::ImportFormat::LongCsv, args),
                ImportCommand::Monash(args) => (vigie_import::ImportFormat::Monash, args),
                ImportCommand::Ioda(args) => return import::ioda(&mut store, args),
            };
            import::run(&mut store, format, args)
        }
        Command::Series(args) => list::series(&open_store(&cli.data_dir)?, args),
        Command::Entities(args) => list::entities(&open_store(&cli.data_dir)?, args),
        Command::Bench(command) => bench::run(command),
        Command::Detect(args) => detect::run(&mut open_store(&cli.data_dir)?, args),
        Command::Incidents(args) => list::incidents(&open_store(&cli.data_dir)?, args),
        Command::Eval(args) => eval::run(&open_store(&cli.data_dir)?, args),
        Command::Probe(args) => probe::run(&cli.data_dir, args),
        Command::Serve(args) => serve::run(&cli.data_dir, args),
        Command::Report(args) => report::run(&open_store(&cli.data_dir)?, args),
        Command::Annotate(args) => annotate::run(&cli.data_dir, args),
        Command::Store(command) => store::run(&mut open_store(&cli.data_dir)?, command),
        Command::Demo(args) => demo::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        #[cfg(feature = "nats")]
        Command::Bus(command) => bus::run(&cli.data_dir, command),
    }
}

/// Success, or [`EXIT_PARTIAL_INPUT`] when some input was truncated or corrupt.
pub fn partial_if(partial: bool) -> ExitCode {
    if partial {
        ExitCode::from(EXIT_PARTIAL_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

/// The store `--store` names, when given (set once by [`run`]).
static STORE_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether `--store` (or `VIGIE_STORE`) named the store.
pub fn store_url_given() -> bool {
    STORE_URL.get().is_some()
}

/// Opens the store `--store` names, else the one in `data_dir`, creating
/// it if needed.
pub fn open_store(data_dir: &std::path::Path) -> Result<Store> {
    if let Some(url) = STORE_URL.get() {
        return Store::open_url(url).with_context(|| {
            "cannot open the vigie store given with --store (or VIGIE_STORE)".to_string()
        });
    }
    Store::open(data_dir).with_context(|| {
        format!(
            "cannot open the vigie store in {} (choose another with --data-dir or VIGIE_DATA)",
            data_dir.display()
        )
    })
}
