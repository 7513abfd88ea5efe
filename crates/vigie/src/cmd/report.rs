//! `vigie report`: maps its flags onto `vigie_pipeline::write_report` and
//! lists the files written.

use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_model::parse_utc;
use vigie_pipeline::{write_report, ReportOptions, ReportSubject};
use vigie_store::Store;

use crate::cli::ReportArgs;

/// Runs `vigie report`.
pub fn run(store: &Store, args: ReportArgs) -> Result<ExitCode> {
    let subject = match (&args.incident, &args.entity) {
        (Some(id), _) => ReportSubject::Incident {
            id: id.clone(),
            margin_secs: i64::from(args.margin_hours) * 3600,
        },
        (None, Some(entity)) => ReportSubject::Entity {
            entity: entity.parse()?,
            from: args.from.as_deref().map(parse_utc).transpose()?,
            until: args.until.as_deref().map(parse_utc).transpose()?,
        },
        (None, None) => {
            bail!("name an entity (such as IQ, AS9198, KZ/Almaty) or give --incident ID")
        }
    };
    let options = ReportOptions {
        lang: args.lang.parse().map_err(|e: String| anyhow::anyhow!(e))?,
        method: args.method.clone(),
        bin: args.bin.bin,
        ..ReportOptions::new(subject, args.out.clone())
    };
    let files = write_report(store, &options)?;
    for path in [&files.html, &files.markdown, &files.svg, &files.csv] {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
