//! `vigie bench`: runs `vigie_pipeline::bench` (whose options are the
//! commands' flags) and prints the Markdown rows (docs/BENCHMARKS.md,
//! docs/ACCURACY.md).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use vigie_pipeline::bench::{self, TruthBenchOptions};

use crate::cli::BenchCommand;

/// Runs a `vigie bench` command.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Mrt(options) => println!("{}", bench::bench_mrt(&options)?.markdown()),
        BenchCommand::Memory(options) => println!("{}", bench::bench_memory(&options)),
        BenchCommand::Detect(options) => println!("{}", bench::bench_detect(&options)?),
        BenchCommand::Truth(options) => return truth(options),
        BenchCommand::World(options) => println!("{}", bench::bench_world(&options)?.markdown()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vigie bench truth`, with a progress bar.
fn truth(options: TruthBenchOptions) -> Result<ExitCode> {
    let bar = crate::output::progress_bar(None, crate::output::ENTITIES_BAR);
    let result = bench::bench_truth(
        &options,
        |entities| bar.set_length(entities as u64),
        &|scenario| {
            bar.set_message(scenario.id());
            bar.inc(1);
        },
    );
    bar.finish_and_clear();
    let truth = result?;
    let secs = truth.report.elapsed_secs.unwrap_or_default();
    let (entities, threads) = (truth.entities, truth.threads);
    eprintln!("{entities} synthetic entities in {secs:.1} s on {threads} thread(s)");
    let text = truth.text(&options.format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
