//! Scoring (`vigie eval`, the demo): scores vigie's detector and IODA's method against labelled
//! outages, per dataset: event precision, recall, F1, onset and end errors.
//!
//! A dataset is one entity and the files labelling it (Iraq and its labelled
//! export), or, for label files that list what they cover (JSON `covers`),
//! every entity whose labels come from the same files: one row for the
//! counties of the Hurricane Laura label file. Each entity is scored on its
//! series at their own bin width (5 minutes, an hour, three hours...), the
//! finest when it has several, unless `--bin-secs` picks one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use vigie_detect::{
    evaluate_pooled, parse_json_labels, parse_truth_csv, Dataset, EvalRow, IodaConfig, IodaLevel,
    Label, Method, VigieConfig,
};
use vigie_model::{BinSize, Entity, Series, UnixSecs};
use vigie_store::{ResultFilter, SeriesInfo, Store};

/// What [`evaluate_labels`] scores.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// More labels: IODA's investigated-outage CSV or JSON label lists
    /// (labels imported with the signals are always used).
    pub label_files: Vec<PathBuf>,
    /// Only this entity.
    pub entity: Option<Entity>,
    /// Only series of this bin width; default: each entity's finest.
    pub bin: Option<BinSize>,
}

/// What the label files and the store say about one entity.
#[derive(Default)]
struct EntityTruth {
    /// Its labels, each with the name of the file it came from.
    labels: Vec<(Label, String)>,
    /// The periods files vouch for (every outage there labelled), with the file.
    covers: Vec<(UnixSecs, UnixSecs, String)>,
}

/// Scores vigie's detector and IODA's method (critical and warning
/// levels) on every labelled dataset `options` select: one row per dataset
/// and method. Skipped label rows are told on stderr.
pub fn evaluate_labels(store: &Store, options: &EvalOptions) -> Result<Vec<EvalRow>> {
    let only_bin = options.bin;
    let only = options.entity.clone();
    let mut truth: BTreeMap<Entity, EntityTruth> = BTreeMap::new();
    // Label files that list what they cover: their entities make one dataset.
    let mut pooled: BTreeSet<String> = BTreeSet::new();
    for stored in store.labels(&ResultFilter::default())? {
        truth
            .entry(stored.entity.clone())
            .or_default()
            .labels
            .push((
                Label::new(stored.entity, stored.start, stored.end),
                stored.source,
            ));
    }
    for path in &options.label_files {
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
            truth
                .entry(label.entity.clone())
                .or_default()
                .labels
                .push((label, short.clone()));
        }
        if !set.covers.is_empty() {
            pooled.insert(short.clone());
        }
        for cover in set.covers {
            truth.entry(cover.entity).or_default().covers.push((
                cover.start,
                cover.end,
                short.clone(),
            ));
        }
    }
    let listed = series_by_entity(store)?;
    // Datasets grouped by the label files that speak for them, and by
    // entity unless one of the files lists what it covers.
    let mut groups: BTreeMap<(Vec<String>, Option<Entity>), Vec<Dataset>> = BTreeMap::new();
    for (entity, entity_truth) in truth {
        if only.as_ref().is_some_and(|o| *o != entity) {
            continue;
        }
        let Some(by_bin) = listed.get(&entity) else {
            continue;
        };
        let chosen = match only_bin {
            Some(bin) => by_bin.get(&bin.secs()).map(|infos| (bin, infos)),
            // The finest bin width the entity has.
            None => by_bin
                .iter()
                .next()
                .and_then(|(secs, infos)| BinSize::new(*secs).ok().map(|bin| (bin, infos))),
        };
        let Some((bin, infos)) = chosen else {
            continue;
        };
        let series = read_series(store, infos, bin)?;
        let (Some(from), Some(until)) = (
            series.iter().map(|s| s.start).min(),
            series.iter().map(|s| s.end()).max(),
        ) else {
            continue;
        };
        // Only the labels of the period the series cover count, and name it.
        let mut sources: Vec<String> = Vec::new();
        let mut kept = Vec::new();
        for (label, source) in entity_truth.labels {
            if label.end > from && label.start < until {
                if !sources.contains(&source) {
                    sources.push(source);
                }
                kept.push(label);
            }
        }
        for (start, end, source) in entity_truth.covers {
            if end > from && start < until && !sources.contains(&source) {
                sources.push(source);
            }
        }
        if sources.is_empty() {
            continue;
        }
        sources.sort();
        let own = (!sources.iter().any(|s| pooled.contains(s))).then(|| entity.clone());
        groups.entry((sources, own)).or_default().push(Dataset {
            name: entity.to_string(),
            local_offset: crate::local_offset(&entity),
            entity,
            series,
            labels: kept,
        });
    }
    if groups.is_empty() {
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
    let mut rows: Vec<EvalRow> = Vec::new();
    for ((sources, _), datasets) in &groups {
        let name = match datasets.as_slice() {
            [one] => format!("{} ({})", one.entity, sources.join(", ")),
            many => format!("{} ({} entities)", sources.join(", "), many.len()),
        };
        for method in &methods {
            rows.push(evaluate_pooled(method, &name, datasets));
        }
    }
    Ok(rows)
}

/// The stored series, by entity and bin width (finest first).
fn series_by_entity(store: &Store) -> Result<BTreeMap<Entity, BTreeMap<u32, Vec<SeriesInfo>>>> {
    let mut grouped: BTreeMap<Entity, BTreeMap<u32, Vec<SeriesInfo>>> = BTreeMap::new();
    for info in store.list_series()? {
        grouped
            .entry(info.key.entity.clone())
            .or_default()
            .entry(info.bin.secs())
            .or_default()
            .push(info);
    }
    Ok(grouped)
}

/// Reads the series `infos` describe over their whole plausible extent.
fn read_series(store: &Store, infos: &[SeriesInfo], bin: BinSize) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for info in infos {
        let Some(range) = crate::plausible_range(store, info)? else {
            continue;
        };
        out.push(store.read_series(&info.key, bin, range)?);
    }
    Ok(out)
}

/// Evaluation rows as a Markdown table.
pub fn eval_markdown(rows: &[EvalRow]) -> String {
    std::iter::once(EvalRow::markdown_header().to_string())
        .chain(rows.iter().map(EvalRow::markdown_row))
        .collect::<Vec<_>>()
        .join("\n")
}
