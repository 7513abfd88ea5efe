//! `vigie eval`: maps its flags onto `vigie_pipeline::evaluate_labels` and
//! prints the rows as a Markdown table (and JSON with --json).

use std::process::ExitCode;

use anyhow::{Context, Result};
use vigie_pipeline::{eval_markdown, evaluate_labels, EvalOptions};
use vigie_store::Store;

use crate::cli::EvalArgs;

/// Runs `vigie eval`.
pub fn run(store: &Store, args: EvalArgs) -> Result<ExitCode> {
    let options = EvalOptions {
        label_files: args.labels.clone(),
        entity: args.entity.as_deref().map(str::parse).transpose()?,
        bin: args.bin,
    };
    let rows = evaluate_labels(store, &options)?;
    println!("{}", eval_markdown(&rows));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
