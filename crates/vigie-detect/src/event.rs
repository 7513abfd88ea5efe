//! Events of one signal, restorations inside them, and data gaps.

use serde::{Deserialize, Serialize};
use vigie_model::{SeriesKey, UnixSecs};

/// Why an event ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The signal came back and stayed back.
    Recovered,
    /// The signal came back, but not yet for long enough to close the event
    /// (a new drop would make this a restoration window).
    Recovering,
    /// Still down at the last bin seen.
    Ongoing,
    /// Still down at the last bin seen, and for longer than
    /// [`crate::VigieConfig::sustained_after_secs`]: a sustained drop, no
    /// recovery yet. vigie never takes a drop for the new normal, however
    /// long it lasts; the event stays open until the signal comes back.
    Sustained,
    /// Written by vigie versions that relearnt a lasting partial drop as
    /// the new normal; no longer produced, kept to read older stores.
    Rebaselined,
    /// The feed stopped during the event for longer than an event may pause;
    /// no data is never down, so the event ends where the data ended.
    DataLost,
}

/// A time inside an event when the signal came back before falling again
/// (Kazakhstan, 2022-01-05, 17:30–22:00 UTC).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct RestorationWindow {
    /// First restored bin.
    pub start: UnixSecs,
    /// First bin of the next drop.
    pub end: UnixSecs,
    /// The median fraction of the baseline back during the window (1 = fully).
    #[serde(with = "crate::event::nan::f64")]
    pub restored_fraction: f64,
}

/// One outage seen in one signal.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct SignalEvent {
    /// The signal and entity.
    pub key: SeriesKey,
    /// First bin of the outage.
    pub start: UnixSecs,
    /// First bin after the outage; `None` while it is ongoing.
    pub end: Option<UnixSecs>,
    /// Why it ended, or that it has not.
    pub end_reason: EndReason,
    /// Median fraction of the baseline lost over the outage's bins (0..1).
    pub depth: f64,
    /// Largest fraction lost in one bin.
    pub max_depth: f64,
    /// Median predicted value during the outage (signal units).
    #[serde(with = "crate::event::nan::f64")]
    pub baseline: f64,
    /// IODA's alert area: the sum over bins of the drop in percent times the
    /// bin's minutes.
    pub ioda_score: f64,
    /// Times inside the event when the signal was back.
    pub restorations: Vec<RestorationWindow>,
    /// Bins inside the event with no data.
    pub gap_bins: u32,
    /// Bins inside the event.
    pub bins: u32,
    /// The strongest evidence, in standard deviations of the series' noise
    /// over the confirming window (NaN for methods without it).
    #[serde(with = "crate::event::nan::f64")]
    pub evidence: f64,
    /// 0..1: how sure the detector is, lowered by missing data.
    pub confidence: f64,
}

impl EndReason {
    /// How a reader would say it: `recovered`, `sustained drop, no recovery yet`…
    pub fn describe(self) -> &'static str {
        match self {
            EndReason::Recovered => "recovered",
            EndReason::Recovering => "recovering",
            EndReason::Ongoing => "ongoing",
            EndReason::Sustained => "sustained drop, no recovery yet",
            EndReason::Rebaselined => "taken as the new normal",
            EndReason::DataLost => "data lost",
        }
    }
}

impl SignalEvent {
    /// Seconds from start to end, or to `now` while ongoing.
    pub fn duration_secs(&self, now: UnixSecs) -> i64 {
        self.end.unwrap_or(now).saturating_sub(self.start).max(0)
    }

    /// The end, or `now` while ongoing.
    pub fn end_or(&self, now: UnixSecs) -> UnixSecs {
        self.end.unwrap_or(now)
    }
}

/// A stretch of time with no data from a feed: never an outage.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DataGap {
    /// The series.
    pub key: SeriesKey,
    /// First bin without data.
    pub start: UnixSecs,
    /// First bin with data again; `None` while the gap lasts.
    pub end: Option<UnixSecs>,
}

/// Everything one detector found in one series.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct SignalDetection {
    /// The series.
    pub key: SeriesKey,
    /// Bin width, seconds.
    pub bin_secs: u32,
    /// Start of the first bin scored.
    pub start: UnixSecs,
    /// Start of the bin after the last one scored.
    pub end: UnixSecs,
    /// Outages, oldest first.
    pub events: Vec<SignalEvent>,
    /// Gaps in the feed.
    pub gaps: Vec<DataGap>,
    /// Per bin, the fraction of the baseline missing (negative when above
    /// it); `None` without data or before the baseline is learnt.
    pub depths: Vec<Option<f32>>,
}

impl SignalDetection {
    /// The mean depth over `[from, until)`, from bins that have one.
    pub fn mean_depth(&self, from: UnixSecs, until: UnixSecs) -> Option<f64> {
        let step = i64::from(self.bin_secs.max(1));
        let first = ((from - self.start).max(0) / step) as usize;
        let last = (((until - self.start).max(0) + step - 1) / step) as usize;
        let values: Vec<f64> = self
            .depths
            .get(first..last.min(self.depths.len()))
            .unwrap_or_default()
            .iter()
            .flatten()
            .map(|d| f64::from(*d))
            .collect();
        if values.is_empty() {
            None
        } else {
            Some(values.iter().sum::<f64>() / values.len() as f64)
        }
    }
}

/// The median of `values` (upper median for even lengths); `None` when empty.
/// NaNs are ignored.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let mut clean: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if clean.is_empty() {
        return None;
    }
    let mid = clean.len() / 2;
    let (_, value, _) = clean.select_nth_unstable_by(mid, f64::total_cmp);
    Some(*value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_nan() {
        assert_eq!(median(&mut [3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0]), Some(4.0));
        assert_eq!(median(&mut []), None);
    }
}

/// Serde for floats that use NaN as "none": JSON has no NaN, so NaN is
/// written as `null` and read back as NaN.
pub(crate) mod nan {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// An `f64` field.
    pub mod f64 {
        use super::*;

        pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
            value.is_finite().then_some(*value).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
        }
    }

    /// An `f32` field.
    pub mod f32 {
        use super::*;

        pub fn serialize<S: Serializer>(value: &f32, s: S) -> Result<S::Ok, S::Error> {
            value.is_finite().then_some(*value).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
            Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
        }
    }

    /// A `Vec<f32>` field.
    pub mod vec_f32 {
        use super::*;

        pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
            let options: Vec<Option<f32>> =
                values.iter().map(|v| v.is_finite().then_some(*v)).collect();
            options.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
            Ok(Vec::<Option<f32>>::deserialize(d)?
                .into_iter()
                .map(|v| v.unwrap_or(f32::NAN))
                .collect())
        }
    }
}
