//! `vigie annotate`: adds an annotation (an external event such as a
//! televised address) to an entity, or lists them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_model::{parse_utc, Entity};
use vigie_publish::annotations::{self, NewAnnotation};

use super::open_store;
use crate::cli::AnnotateArgs;

/// Runs `vigie annotate`.
pub fn run(data_dir: &Path, args: AnnotateArgs) -> Result<ExitCode> {
    let mut store = open_store(data_dir)?;
    if args.list {
        let entity: Option<Entity> = args.entity.as_deref().map(str::parse).transpose()?;
        let from = args.from.as_deref().map(parse_utc).transpose()?;
        let until = args.until.as_deref().map(parse_utc).transpose()?;
        for a in annotations::list(&store, entity.as_ref(), from, until)? {
            println!(
                "{}\t{}\t{}\t{}{}",
                a.id,
                a.entity,
                a.when(),
                a.text,
                a.url.map(|u| format!("\t{u}")).unwrap_or_default()
            );
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
    let valid = new.validate()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let id = annotations::add(&mut store, &valid, "cli", now)?;
    println!("annotation {id} added to {}", valid.entity);
    Ok(ExitCode::SUCCESS)
}
