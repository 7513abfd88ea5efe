//! `vigie bench`: maps its flags onto `vigie_pipeline::bench` and prints
//! the Markdown rows (docs/BENCHMARKS.md, docs/ACCURACY.md).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_pipeline::bench::{self, DetectBenchOptions, MemoryBenchOptions, MrtBenchOptions};

use crate::cli::{BenchCommand, BenchTruthArgs};

/// Runs a `vigie bench` command.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Mrt(args) => {
            let options = MrtBenchOptions {
                files: args.files,
                shared_data: args.shared_data,
                repeat: args.repeat,
                runs: args.runs,
            };
            println!("{}", bench::bench_mrt(&options)?.markdown());
        }
        BenchCommand::Memory(args) => println!(
            "{}",
            bench::bench_memory(&MemoryBenchOptions {
                peers: args.peers,
                prefixes: args.prefixes,
                full_feed_share: args.full_feed_share,
                structured: args.structured,
            })
        ),
        BenchCommand::Detect(args) => println!(
            "{}",
            bench::bench_detect(&DetectBenchOptions {
                entities: args.entities,
                signals: args.signals,
                days: args.days,
            })?
        ),
        BenchCommand::Truth(args) => return truth(args),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vigie bench truth`, with a progress bar.
fn truth(args: BenchTruthArgs) -> Result<ExitCode> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entities ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = bench::TruthBenchOptions {
        seed: args.seed,
        quick: args.quick,
        only: args.only,
        verbose: args.verbose,
        threads: args.threads,
    };
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
    eprintln!(
        "{} synthetic entities in {:.1} s on {} thread(s)",
        truth.entities,
        truth.report.elapsed_secs.unwrap_or_default(),
        truth.threads
    );
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&truth.report)? + "\n"
    } else {
        truth.report.markdown()
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
