//! Outage detection: from signals to incidents, with accuracy measured on
//! real shutdowns.
//!
//! - [`ioda`]: `ioda-median`, IODA's published method (median of a sliding
//!   history, warning/critical fractions, inpainting, minimum prediction),
//!   implemented faithfully as the reference to beat.
//! - [`vigie`]: vigie's detector: a seasonal baseline (daily and weekly),
//!   noise-aware confirmation that keeps noisy low counts quiet, level-shift
//!   outages held as long as they last, and change-point refinement of onset and recovery to the
//!   bin. One configuration ([`VigieConfig::default`]) for every signal.
//! - [`event`]: signal events with depth, duration, IODA score, partial
//!   restoration windows and data gaps ("no data is never down").
//! - [`fusion`]: one incident per entity and period, combining signals, with
//!   a mechanism (routes withdrawn, data-plane blocking, throttling, unknown)
//!   and a scope (nationwide, regional, single network) with confidences.
//! - [`eval`] and [`labels`]: event-level precision, recall, F1, onset and
//!   end errors against labels (IODA `LABEL` columns, IODA's investigated
//!   outages, JSON).
//! - [`live`]: detection as the bins arrive, a [`vigie_model::BinSink`]
//!   whose incidents are those of batch detection on the same bins.
//! - [`sweep`]: a robustness sweep over thousands of synthetic entities
//!   (bin widths, depths, durations, cycles, noise, missing data, signals),
//!   scored like the labelled datasets (`vigie bench truth`).
//!
//! Detection is incremental: [`SignalDetector::push`] scores one bin, and the
//! batch functions are the same loop, so both give the same events.
//!
//! ```
//! use vigie_detect::{detect_series, fuse, VigieConfig};
//! use vigie_model::{BinSize, Series, SeriesKey, SignalKind};
//!
//! // Two days of a steady signal with a four-hour cut on the second day.
//! let mut values = vec![Some(1000.0); 576];
//! for v in &mut values[400..448] {
//!     *v = Some(100.0);
//! }
//! let series = Series {
//!     key: SeriesKey { entity: "IQ".parse().unwrap(), signal: SignalKind::BgpVisibleSlash24s },
//!     bin: BinSize::default(),
//!     start: 1_692_489_600, // 2023-08-20T00:00:00Z
//!     values,
//! };
//! let config = VigieConfig::default();
//! let detection = detect_series(&series, &config);
//! assert_eq!(detection.events.len(), 1);
//! assert_eq!(detection.events[0].start, series.start + 400 * 300);
//! assert_eq!(detection.events[0].end, Some(series.start + 448 * 300));
//! let incidents = fuse(&series.key.entity, &[detection], &config);
//! assert_eq!(incidents.len(), 1);
//! ```

mod compact;
pub mod config;
pub mod eval;
pub mod event;
pub mod fusion;
pub mod ioda;
pub mod labels;
pub mod live;
pub mod sweep;
pub mod vigie;

pub use config::{IodaConfig, IodaFamilyParams, IodaLevel, PerFamily, VigieConfig};
pub use eval::{
    evaluate, evaluate_pooled, score_spans, Dataset, DetectedSpan, EvalRow, Label, Method,
};
pub use event::{DataGap, EndReason, RestorationWindow, SignalDetection, SignalEvent};
pub use fusion::{classify_scope, fuse, AffectedShare, Incident, Mechanism, Scope};
pub use ioda::{ioda_detect_series, IodaMedianDetector};
pub use labels::{
    country_code_from_name, parse_json_labels, parse_truth_csv, Coverage, LabelError, LabelSet,
};
pub use live::{LiveDetector, SeriesState};
pub use vigie::{
    detect_series, detect_series_local, detect_spans, detect_spans_local, BinVerdict, PhaseKind,
    SignalDetector, MAX_SILENCE_SECS,
};
