//! `vigie annotate`: maps its flags onto `vigie_pipeline::add_annotation`
//! (or, with --list, `annotation_lines`) and prints the result.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_model::parse_utc;
use vigie_pipeline::{add_annotation, annotation_lines};
use vigie_publish::annotations::NewAnnotation;

use super::open_store;
use crate::cli::AnnotateArgs;

/// Runs `vigie annotate`.
pub fn run(data_dir: &Path, args: AnnotateArgs) -> Result<ExitCode> {
    let mut store = open_store(data_dir)?;
    if args.list {
        let entity = args.entity.as_deref().map(str::parse).transpose()?;
        let from = args.from.as_deref().map(parse_utc).transpose()?;
        let until = args.until.as_deref().map(parse_utc).transpose()?;
        for line in annotation_lines(&store, entity.as_ref(), from, until)? {
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(entity), Some(time), Some(text)) = (args.entity, args.from, args.text) else {
        bail!("give ENTITY --from TIME --text TEXT (and --until for a span), or --list");
    };
    let new = NewAnnotation {
        entity,
        time: serde_json::Value::String(time),
        until: args.until.map(serde_json::Value::String),
        text,
        url: args.url,
    };
    let (id, entity) = add_annotation(&mut store, &new)?;
    println!("annotation {id} added to {entity}");
    Ok(ExitCode::SUCCESS)
}
