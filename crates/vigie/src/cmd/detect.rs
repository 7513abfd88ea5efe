//! `vigie detect`: maps its flags onto `vigie_pipeline::detect_and_store`
//! and draws its progress.

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::{parse_utc, TimeRange, TimeWindow};
use vigie_pipeline::{detect_and_store, DetectOptions};
use vigie_store::Store;

use crate::cli::DetectArgs;

/// Runs `vigie detect`.
pub fn run(store: &mut Store, args: DetectArgs) -> Result<ExitCode> {
    let time = |text: &Option<String>| text.as_deref().map(parse_utc).transpose();
    let range = match (time(&args.from)?, time(&args.until)?) {
        (None, None) => None,
        // One bound alone: the other is the plausible window's.
        (from, until) => {
            let window = TimeWindow::stored_now();
            Some(TimeRange::new(
                from.unwrap_or(window.earliest()),
                until.unwrap_or(window.latest()),
            )?)
        }
    };
    let options = DetectOptions {
        entity: args.entity.as_deref().map(str::parse).transpose()?,
        range,
        bin: args.bin,
    };
    let bar = crate::output::progress_bar(Some(0), crate::output::ENTITIES_BAR);
    let summary = detect_and_store(store, &options, &mut |entity, index, total| {
        bar.set_length(total as u64);
        bar.set_position(index as u64);
        bar.set_message(entity.to_string());
    })?;
    bar.finish_and_clear();
    eprintln!(
        "detected over {} series of {} entities: {} signal events, {} incidents \
         (see `vigie incidents`)",
        summary.series, summary.entities, summary.events, summary.incidents
    );
    Ok(ExitCode::SUCCESS)
}
