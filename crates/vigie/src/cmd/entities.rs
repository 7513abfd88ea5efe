//! `vigie entities`: what the store knows about, with the latest values.

use std::process::ExitCode;

use anyhow::Result;
use vigie_model::{format_utc, EntityKind, SignalKind};
use vigie_store::Store;

use crate::cli::EntitiesArgs;
use crate::output::{format_value, Rows};

/// Runs `vigie entities`.
pub fn run(store: &Store, args: EntitiesArgs) -> Result<ExitCode> {
    let kind: Option<EntityKind> = args.kind.as_deref().map(str::parse).transpose()?;
    let mut entities = store.entities()?;
    entities.retain(|e| kind.is_none_or(|k| e.entity.kind() == k));
    entities.sort_by(|a, b| a.entity.cmp(&b.entity));
    let mut signals: Vec<SignalKind> = entities
        .iter()
        .flat_map(|e| e.signals.iter().map(|l| l.signal))
        .collect();
    signals.sort();
    signals.dedup();
    let mut header: Vec<&'static str> = vec!["entity", "kind", "name"];
    header.extend(signals.iter().map(|s| s.name()));
    header.push("latest_bin");
    let mut rows = Rows::new(header);
    for info in &entities {
        let mut row = vec![
            Some(info.entity.to_string()),
            Some(info.entity.kind().name().to_string()),
            info.name.clone().or_else(|| match &info.entity {
                vigie_model::Entity::Country(cc) => cc.name().map(str::to_string),
                _ => None,
            }),
        ];
        for signal in &signals {
            let latest = info.signals.iter().find(|l| l.signal == *signal);
            row.push(latest.and_then(|l| l.latest_value).map(format_value));
        }
        row.push(
            info.signals
                .iter()
                .filter_map(|l| l.latest_time)
                .max()
                .map(format_utc),
        );
        rows.rows.push(row);
    }
    if rows.rows.is_empty() {
        match kind {
            Some(EntityKind::Region) => eprintln!(
                "no region has data: regions come from a city table given at ingest (`--geo dbip-city-ipv4.csv`)"
            ),
            Some(kind) => eprintln!("no entity of kind {} has data yet", kind.name()),
            None => eprintln!("the store is empty: ingest data first (`vigie ingest mrt …`)"),
        }
        if args.format == crate::cli::Format::Table {
            return Ok(ExitCode::SUCCESS);
        }
    }
    rows.print(args.format)?;
    Ok(ExitCode::SUCCESS)
}
