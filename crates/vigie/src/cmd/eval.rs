//! `vigie eval`: scores vigie's detector and IODA's method against labelled
//! outages, per dataset: event precision, recall, F1, onset and end errors.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vigie_detect::{
    evaluate, parse_json_labels, parse_truth_csv, Dataset, EvalRow, IodaConfig, IodaLevel, Label,
    Method, VigieConfig,
};
use vigie_model::{BinSize, Entity};
use vigie_store::{ResultFilter, Store};

use super::detect::{read_entity_series, series_by_entity};
use crate::cli::EvalArgs;

/// Runs `vigie eval`.
pub fn run(store: &Store, args: EvalArgs) -> Result<ExitCode> {
    let bin = BinSize::new(args.bin_secs)?;
    let only: Option<Entity> = args.entity.as_deref().map(str::parse).transpose()?;
    // Per entity, each label with the name of the file it came from.
    let mut labels: BTreeMap<Entity, Vec<(Label, String)>> = BTreeMap::new();
    for stored in store.labels(&ResultFilter::default())? {
        labels.entry(stored.entity.clone()).or_default().push((
            Label::new(stored.entity, stored.start, stored.end),
            stored.source,
        ));
    }
    for path in &args.labels {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.display().to_string();
        let text = bytes.trim_ascii_start();
        let set = if text.starts_with(b"[") || text.starts_with(b"{") {
            parse_json_labels(&bytes, &name)?
        } else {
            parse_truth_csv(bytes.as_slice(), &name)?
        };
        for (location, reason) in set.skipped.iter().take(5) {
            eprintln!("{location}: {reason}");
        }
        if set.skipped.len() > 5 {
            eprintln!("… {} label rows skipped in all", set.skipped.len());
        }
        let short = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(name);
        for label in set.labels {
            labels
                .entry(label.entity.clone())
                .or_default()
                .push((label, short.clone()));
        }
    }
    let listed = series_by_entity(store, bin)?;
    let mut datasets = Vec::new();
    for (entity, entity_labels) in labels {
        if only.as_ref().is_some_and(|o| *o != entity) {
            continue;
        }
        let series = read_entity_series(
            store,
            listed.get(&entity).map(Vec::as_slice).unwrap_or_default(),
            bin,
            None,
        )?;
        let (Some(from), Some(until)) = (
            series.iter().map(|s| s.start).min(),
            series.iter().map(|s| s.end()).max(),
        ) else {
            continue;
        };
        // Only the labels of the period the series cover count, and name it.
        let mut sources: Vec<String> = Vec::new();
        let mut kept = Vec::new();
        for (label, source) in entity_labels {
            if label.end > from && label.start < until {
                if !sources.contains(&source) {
                    sources.push(source);
                }
                kept.push(label);
            }
        }
        if kept.is_empty() {
            continue;
        }
        datasets.push(Dataset {
            name: format!("{entity} ({})", sources.join(", ")),
            entity,
            series,
            labels: kept,
        });
    }
    if datasets.is_empty() {
        bail!(
            "no entity has both labels and series: import labelled data first \
             (`vigie import ioda-csv FILE --entity IQ`), or give --labels FILE"
        );
    }
    let methods = [
        Method::Vigie(VigieConfig::default()),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Critical)),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Warning)),
    ];
    let rows: Vec<EvalRow> = datasets
        .iter()
        .flat_map(|dataset| methods.iter().map(move |method| evaluate(method, dataset)))
        .collect();
    let table = std::iter::once(EvalRow::markdown_header().to_string())
        .chain(rows.iter().map(EvalRow::markdown_row))
        .collect::<Vec<_>>()
        .join("\n");
    println!("{table}");
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
