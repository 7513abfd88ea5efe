//! Scoring a detection method against labelled outages.
//!
//! Event-level matching: a detected outage and a label can match when they
//! are about the same entity and their time spans overlap. Matching is one to
//! one, largest overlaps first, so splitting one outage into fragments or
//! merging two outages into one is penalised. Precision is the share of
//! detections matched, recall the share of labels matched; each matched pair
//! gives an onset and an end error, in minutes.

use std::fmt;

use serde::{Deserialize, Serialize};
use vigie_model::{format_utc, Entity, Series, UnixSecs};

use crate::config::{IodaConfig, VigieConfig};
use crate::fusion::fuse;
use crate::ioda::ioda_detect_series;
use crate::vigie::detect_series_local;

/// An outage known from elsewhere (a label column, a ground-truth list).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Label {
    /// Whose outage.
    pub entity: Entity,
    /// When it began.
    pub start: UnixSecs,
    /// When it ended (exclusive).
    pub end: UnixSecs,
    /// The source's identifier, if any.
    pub id: Option<String>,
    /// Cause or remark from the source.
    pub note: Option<String>,
}

impl Label {
    /// A label without identifier or note.
    pub fn new(entity: Entity, start: UnixSecs, end: UnixSecs) -> Label {
        Label {
            entity,
            start,
            end,
            id: None,
            note: None,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} .. {}",
            self.entity,
            format_utc(self.start),
            format_utc(self.end)
        )
    }
}

/// A detected outage, reduced to what scoring needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DetectedSpan {
    /// Whose outage.
    pub entity: Entity,
    /// Onset.
    pub start: UnixSecs,
    /// End (for an ongoing outage, the end of the data).
    pub end: UnixSecs,
}

/// The scores of one method on one dataset: one row of the accuracy table.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct EvalRow {
    /// Dataset name.
    pub dataset: String,
    /// Method name.
    pub method: String,
    /// Labelled outages in the evaluated period.
    pub labels: usize,
    /// Detected outages in the evaluated period.
    pub detected: usize,
    /// Detections matched one to one with a label.
    pub true_detections: usize,
    /// Labels matched (equal to `true_detections` with one-to-one matching).
    pub matched_labels: usize,
    /// true_detections / detected (1 when nothing was detected).
    pub precision: f64,
    /// matched_labels / labels (1 when there is no label).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Median |detected onset − labelled onset| over matched labels, minutes.
    pub median_onset_error_min: Option<f64>,
    /// Largest onset error, minutes.
    pub max_onset_error_min: Option<f64>,
    /// Median |detected end − labelled end|, minutes.
    pub median_end_error_min: Option<f64>,
    /// Bin width, minutes (to read errors in bins).
    pub bin_minutes: f64,
}

impl EvalRow {
    /// The Markdown table header matching [`EvalRow::markdown_row`].
    pub fn markdown_header() -> &'static str {
        "| dataset | method | labels | detected | matched | precision | recall | F1 | median onset err (min) | max onset err (min) | median end err (min) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }

    /// One Markdown table row.
    pub fn markdown_row(&self) -> String {
        let minutes = |m: Option<f64>| m.map_or("–".to_string(), |v| format!("{v:.0}"));
        format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
            self.dataset,
            self.method,
            self.labels,
            self.detected,
            self.true_detections,
            self.precision,
            self.recall,
            self.f1,
            minutes(self.median_onset_error_min),
            minutes(self.max_onset_error_min),
            minutes(self.median_end_error_min),
        )
    }
}

/// Scores detections against labels over the period `[from, until)`.
/// Labels and detections outside it are ignored.
pub fn score_spans(
    dataset: &str,
    method: &str,
    detected: &[DetectedSpan],
    labels: &[Label],
    from: UnixSecs,
    until: UnixSecs,
    bin_secs: u32,
) -> EvalRow {
    let inside = |s: UnixSecs, e: UnixSecs| s < until && e > from;
    let labels: Vec<&Label> = labels.iter().filter(|l| inside(l.start, l.end)).collect();
    let detected: Vec<&DetectedSpan> = detected.iter().filter(|d| inside(d.start, d.end)).collect();
    let overlap = |d: &DetectedSpan, l: &Label| {
        if d.entity != l.entity {
            return 0;
        }
        (d.end.min(l.end) - d.start.max(l.start)).max(0)
    };
    // One-to-one matching, largest overlaps first: a detection that splits
    // one outage into pieces gets credit for one piece only, and one that
    // merges two outages matches only one of them.
    let mut pairs: Vec<(i64, usize, usize)> = Vec::new();
    for (di, d) in detected.iter().enumerate() {
        for (li, l) in labels.iter().enumerate() {
            let o = overlap(d, l);
            if o > 0 {
                pairs.push((o, di, li));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut detection_used = vec![false; detected.len()];
    let mut label_used = vec![false; labels.len()];
    let mut onset_errors = Vec::new();
    let mut end_errors = Vec::new();
    for (_, di, li) in pairs {
        if detection_used[di] || label_used[li] {
            continue;
        }
        detection_used[di] = true;
        label_used[li] = true;
        let (d, l) = (detected[di], labels[li]);
        onset_errors.push((d.start - l.start).abs() as f64 / 60.0);
        end_errors.push((d.end - l.end).abs() as f64 / 60.0);
    }
    let true_detections = onset_errors.len();
    let matched_labels = true_detections;
    let precision = if detected.is_empty() {
        1.0
    } else {
        true_detections as f64 / detected.len() as f64
    };
    let recall = if labels.is_empty() {
        1.0
    } else {
        matched_labels as f64 / labels.len() as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let max_onset = onset_errors
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    EvalRow {
        dataset: dataset.to_string(),
        method: method.to_string(),
        labels: labels.len(),
        detected: detected.len(),
        true_detections,
        matched_labels,
        precision,
        recall,
        f1,
        median_onset_error_min: lower_median(&mut onset_errors),
        max_onset_error_min: max_onset,
        median_end_error_min: lower_median(&mut end_errors),
        bin_minutes: f64::from(bin_secs) / 60.0,
    }
}

/// The median of a list (mean of the two middle values for even lengths).
fn lower_median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// A detection method to score.
#[derive(Clone, Debug)]
pub enum Method {
    /// IODA's median method (`ioda-median`) at a given alert level.
    IodaMedian(IodaConfig),
    /// vigie's detector with signal fusion.
    Vigie(VigieConfig),
}

impl Method {
    /// The name used in tables: `ioda-median (critical)`, `vigie`.
    pub fn name(&self) -> String {
        match self {
            Method::IodaMedian(config) if config.merge_gap_secs > 0 => format!(
                "ioda-median ({}, merged within {} h)",
                config.level.name(),
                config.merge_gap_secs / 3600
            ),
            Method::IodaMedian(config) => format!("ioda-median ({})", config.level.name()),
            Method::Vigie(_) => "vigie".to_string(),
        }
    }

    /// Runs the method on one entity's series and returns its outages.
    pub fn detect(&self, entity: &Entity, series: &[Series]) -> Vec<DetectedSpan> {
        self.detect_local(entity, series, 0)
    }

    /// [`Self::detect`] for an entity `local_offset` seconds east of UTC
    /// (vigie counts its weekdays in local time; IODA's method has none).
    pub fn detect_local(
        &self,
        entity: &Entity,
        series: &[Series],
        local_offset: i64,
    ) -> Vec<DetectedSpan> {
        let own: Vec<&Series> = series.iter().filter(|s| s.key.entity == *entity).collect();
        match self {
            Method::Vigie(config) => {
                let detections: Vec<_> = own
                    .iter()
                    .map(|s| detect_series_local(s, config, local_offset))
                    .collect();
                fuse(entity, &detections, config)
                    .into_iter()
                    .map(|incident| DetectedSpan {
                        entity: entity.clone(),
                        start: incident.start,
                        end: incident.end.unwrap_or(incident.observed_until),
                    })
                    .collect()
            }
            Method::IodaMedian(config) => {
                // Only levels whose fall means lost connectivity, as vigie's
                // fusion: not update counts, not a latency index.
                let mut spans: Vec<(UnixSecs, UnixSecs)> = own
                    .iter()
                    .filter(|s| s.key.signal.is_connectivity_level())
                    .filter_map(|s| ioda_detect_series(s, config))
                    .flat_map(|d| {
                        let end = d.end;
                        d.events
                            .into_iter()
                            .map(move |e| (e.start, e.end.unwrap_or(end)))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                spans.sort_unstable();
                let mut merged: Vec<(UnixSecs, UnixSecs)> = Vec::new();
                let gap = i64::from(config.merge_gap_secs);
                for (start, end) in spans {
                    match merged.last_mut() {
                        Some(last) if start < last.1 || (gap > 0 && start - last.1 <= gap) => {
                            last.1 = last.1.max(end)
                        }
                        _ => merged.push((start, end)),
                    }
                }
                merged
                    .into_iter()
                    .map(|(start, end)| DetectedSpan {
                        entity: entity.clone(),
                        start,
                        end,
                    })
                    .collect()
            }
        }
    }
}

/// A labelled dataset: one entity's series and its labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Name for tables, such as `Iraq 2023`.
    pub name: String,
    /// The entity the series and labels are about.
    pub entity: Entity,
    /// Its signals.
    pub series: Vec<Series>,
    /// Its labelled outages.
    pub labels: Vec<Label>,
    /// Its offset from UTC in seconds, when its time zone is known (0
    /// otherwise): vigie counts its weekdays in local time.
    pub local_offset: i64,
}

/// Scores `method` on `dataset`, over the span its series cover: one table row.
pub fn evaluate(method: &Method, dataset: &Dataset) -> EvalRow {
    let detected = method.detect_local(&dataset.entity, &dataset.series, dataset.local_offset);
    let from = dataset.series.iter().map(|s| s.start).min().unwrap_or(0);
    let until = dataset.series.iter().map(|s| s.end()).max().unwrap_or(0);
    let bin_secs = dataset
        .series
        .iter()
        .map(|s| s.bin.secs())
        .min()
        .unwrap_or(300);
    score_spans(
        &dataset.name,
        &method.name(),
        &detected,
        &dataset.labels,
        from,
        until,
        bin_secs,
    )
}

/// Scores `method` on several datasets (entities) as one row named `name`:
/// each entity's detections and labels over the span its own series cover,
/// pooled, so an entity without labels contributes its false alarms. The
/// bin width reported is the finest of all the series.
pub fn evaluate_pooled(method: &Method, name: &str, datasets: &[Dataset]) -> EvalRow {
    let mut detected = Vec::new();
    let mut labels = Vec::new();
    for dataset in datasets {
        let (Some(from), Some(until)) = (
            dataset.series.iter().map(|s| s.start).min(),
            dataset.series.iter().map(|s| s.end()).max(),
        ) else {
            continue;
        };
        let inside = |s: UnixSecs, e: UnixSecs| s < until && e > from;
        detected.extend(
            method
                .detect_local(&dataset.entity, &dataset.series, dataset.local_offset)
                .into_iter()
                .filter(|d| inside(d.start, d.end)),
        );
        labels.extend(
            dataset
                .labels
                .iter()
                .filter(|l| inside(l.start, l.end))
                .cloned(),
        );
    }
    let bin_secs = datasets
        .iter()
        .flat_map(|d| d.series.iter().map(|s| s.bin.secs()))
        .min()
        .unwrap_or(300);
    score_spans(
        name,
        &method.name(),
        &detected,
        &labels,
        UnixSecs::MIN,
        UnixSecs::MAX,
        bin_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: i64, end: i64) -> DetectedSpan {
        DetectedSpan {
            entity: "IQ".parse().unwrap(),
            start,
            end,
        }
    }

    #[test]
    fn scores_overlaps_and_errors() {
        let iq: Entity = "IQ".parse().unwrap();
        let labels = vec![
            Label::new(iq.clone(), 1000, 2000),
            Label::new(iq.clone(), 5000, 6000),
            Label::new(iq.clone(), 9000, 9600),
        ];
        let detected = vec![
            span(1300, 2000),
            span(4700, 6600),
            span(7000, 7300),
            span(1900, 2100),
        ];
        let row = score_spans("d", "m", &detected, &labels, 0, 10_000, 300);
        // The fourth detection overlaps the first label, already matched: a fragment.
        assert_eq!(row.true_detections, 2);
        assert_eq!(row.matched_labels, 2);
        assert!((row.precision - 2.0 / 4.0).abs() < 1e-9);
        assert!((row.recall - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(row.median_onset_error_min, Some(5.0));
        assert_eq!(row.max_onset_error_min, Some(5.0));
        assert_eq!(row.median_end_error_min, Some(5.0));
        assert!(row.markdown_row().starts_with("| d | m | 3 | 4 | 2 |"));
    }

    #[test]
    fn pooled_scoring_counts_false_alarms_of_unlabelled_entities() {
        use vigie_model::{BinSize, SeriesKey, SignalKind};
        let steady = |entity: &str, cut: bool| {
            // Three days of hourly data; with `cut`, six hours near zero on the third.
            let mut values = vec![Some(100.0); 72];
            if cut {
                for v in &mut values[54..60] {
                    *v = Some(1.0);
                }
            }
            Series {
                key: SeriesKey {
                    entity: entity.parse().unwrap(),
                    signal: SignalKind::ConnectivityIndex,
                },
                bin: BinSize::new(3600).unwrap(),
                start: 1_598_227_200,
                values,
            }
        };
        let cut_start = 1_598_227_200 + 54 * 3600;
        let a: Entity = "US/Louisiana: Calcasieu".parse().unwrap();
        let datasets = vec![
            Dataset {
                name: "a".into(),
                entity: a.clone(),
                series: vec![steady("US/Louisiana: Calcasieu", true)],
                labels: vec![Label::new(a, cut_start, cut_start + 6 * 3600)],
                local_offset: 0,
            },
            Dataset {
                name: "b".into(),
                entity: "US/Texas: Harris".parse().unwrap(),
                series: vec![steady("US/Texas: Harris", true)],
                labels: Vec::new(),
                local_offset: 0,
            },
        ];
        let method = Method::IodaMedian(IodaConfig::published(crate::IodaLevel::Critical));
        let row = evaluate_pooled(&method, "pooled", &datasets);
        assert_eq!(row.dataset, "pooled");
        assert_eq!(row.labels, 1);
        // The unlabelled county's identical cut is a false alarm.
        assert_eq!(row.detected, 2);
        assert_eq!(row.true_detections, 1);
        assert_eq!(row.bin_minutes, 60.0);
    }

    #[test]
    fn other_entities_never_match() {
        let labels = vec![Label::new("IR".parse().unwrap(), 1000, 2000)];
        let row = score_spans("d", "m", &[span(1000, 2000)], &labels, 0, 3000, 300);
        assert_eq!(row.true_detections, 0);
        assert_eq!(row.recall, 0.0);
        assert_eq!(row.f1, 0.0);
    }
}
