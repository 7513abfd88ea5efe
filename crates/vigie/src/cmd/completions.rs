//! `vigie completions`: a shell completion script generated from the
//! command line by `clap_complete`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

/// Prints the completion script for `args.shell` to standard output.
pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // Generated in memory, then written: a closed pipe is then an error,
    // not a panic inside clap_complete.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
