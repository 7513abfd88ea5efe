//! `vigie`: the command-line program. Argument parsing and wiring only; the
//! work happens in the library crates (see ARCHITECTURE.md).

mod cli;
mod cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cmd::EXIT_FAILURE)
        }
    }
}
