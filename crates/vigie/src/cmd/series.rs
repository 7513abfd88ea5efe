//! `vigie series`: one entity's signals over time.

use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_model::{format_utc, parse_utc, Entity, SignalKind, TimeRange};
use vigie_store::Store;

use crate::cli::SeriesArgs;
use crate::output::{format_value, Rows};

/// Runs `vigie series`.
pub fn run(store: &Store, args: SeriesArgs) -> Result<ExitCode> {
    let entity: Entity = args.entity.parse()?;
    let bin = args.bin.bin;
    let wanted: Option<SignalKind> = args.signal.as_deref().map(str::parse).transpose()?;
    if !store.has_entity(&entity)? {
        bail!(
            "vigie has no data for {entity}; run `vigie entities` to list what it has, or ingest data first (`vigie ingest mrt …`)"
        );
    }
    let available: Vec<_> = store
        .list_series()?
        .into_iter()
        .filter(|info| info.key.entity == entity && info.bin == bin)
        .collect();
    let chosen: Vec<_> = available
        .iter()
        .filter(|info| wanted.is_none_or(|w| info.key.signal == w))
        .collect();
    if chosen.is_empty() {
        let have: Vec<&str> = available.iter().map(|i| i.key.signal.name()).collect();
        match wanted {
            Some(signal) if !have.is_empty() => bail!(
                "{entity} has no '{signal}' series with {} s bins; it has: {}",
                bin.secs(),
                have.join(", ")
            ),
            _ => bail!("{entity} has no series with {} s bins", bin.secs()),
        }
    }
    let from = match &args.from {
        Some(text) => parse_utc(text)?,
        None => chosen.iter().filter_map(|i| i.first_bin).min().unwrap_or(0),
    };
    let until = match &args.until {
        Some(text) => parse_utc(text)?,
        None => chosen.iter().filter_map(|i| i.last_bin).max().unwrap_or(0) + bin.secs() as i64,
    };
    let range = TimeRange::new(from, until)?;
    let mut rows = Rows::new(vec!["time", "entity", "signal", "value"]);
    for info in chosen {
        let series = store.read_series(&info.key, bin, range)?;
        for (time, value) in series.points() {
            rows.rows.push(vec![
                Some(format_utc(time)),
                Some(entity.to_string()),
                Some(info.key.signal.name().to_string()),
                value.map(format_value),
            ]);
        }
    }
    rows.print(args.format)?;
    Ok(ExitCode::SUCCESS)
}
