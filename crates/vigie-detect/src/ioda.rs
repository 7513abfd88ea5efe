//! `ioda-median`: IODA's published outage detection method, implemented
//! faithfully so that comparisons with vigie's detector are honest.
//!
//! Sources (facts only, no code copied):
//! - IODA's help page, "Outage Detection" and "Detection Criteria"
//!   (ioda.inetintel.cc.gatech.edu/help; the same text is in
//!   `InetIntel/ioda-ui`, `assets/js/Ioda/pages/help/Help.js`): the current
//!   value of each data source is compared to a *history* value, the median
//!   of a sliding window of recent values; an alert is raised when the
//!   current value is below a fraction of the history. BGP (visible /24s):
//!   24-hour window, warning 99%, critical 50%. Active probing (/24s up):
//!   7 days, 80% / 50%. Telescope (unique source IPs): 7 days, 25% / 10%.
//!   Severity is the *alert area*: relative drop in percent times minutes.
//! - IODA's detector, `InetIntel/watchtower-sentry`
//!   (`watchtower/sentry/filters/MovingStat.py` and `sentry-sample.yaml`):
//!   the median is the nearest-rank lower median of the window, without the
//!   current value; no output until `warmup` seconds of data (sample: 3600);
//!   no output when the prediction is below `minprediction` (sample for
//!   probing: 20), and then the value is not added to the history; values
//!   whose ratio to the prediction is below `inpainting.min` or above
//!   `inpainting.max` (sample: 0.8 and 2) enter the history as the prediction
//!   instead ("inpainting"); after `inpainting.maxduration` (sample: 7 days)
//!   of continuous inpainting, the raw values kept meanwhile replace the
//!   history ("the extreme is the new normal"); null values are skipped.
//! - `watchtower/sentry/sinks/AlertKafka.py`: an alert is raised when the
//!   ratio is below the threshold, and events shorter than `minduration`
//!   (sample: 60 s) are discarded.
//! - Z. S. Bischof et al., "Destination Unreachable: Characterizing Internet
//!   Outages and Shutdowns", ACM SIGCOMM 2023, which studies outages with
//!   IODA's signals and published the hand-investigated outages that vigie
//!   uses as one ground truth.
//!
//! Choices where the sources are silent (documented, not tuned): the
//! inpainting lower bound is the family's warning fraction (the sample's 0.8
//! is probing's warning); `minprediction` 20 applies to every family (only
//! probing's is published); Google traffic is not detected this way (IODA
//! uses SARIMA for it); an entity's events are the union of its data
//! sources' overlapping events.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use vigie_model::{Series, SeriesKey, UnixSecs};

use crate::config::{IodaConfig, IodaFamilyParams, IodaLevel};
use crate::event::{EndReason, SignalDetection, SignalEvent};

/// IODA's median detector for one series, fed one value at a time.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct IodaMedianDetector {
    key: SeriesKey,
    params: IodaFamilyParams,
    config: IodaConfig,
    bin_secs: u32,
    /// (time, value) in the history window, oldest first.
    window: VecDeque<(UnixSecs, f64)>,
    /// The same values, sorted.
    sorted: Vec<f64>,
    /// Raw values kept while inpainting, with the time inpainting began.
    raw_while_inpainting: Option<VecDeque<(UnixSecs, f64)>>,
    last_time: Option<UnixSecs>,
    /// The alert being built: start time and per-bin ratios and predictions.
    alert: Option<OpenAlert>,
    events: Vec<SignalEvent>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
struct OpenAlert {
    start: UnixSecs,
    last: UnixSecs,
    ratios: Vec<f64>,
    predictions: Vec<f64>,
}

impl IodaMedianDetector {
    /// A detector for `key`; `None` when IODA does not detect this signal's
    /// family with the median method (traffic).
    pub fn new(key: SeriesKey, bin_secs: u32, config: &IodaConfig) -> Option<Self> {
        let params = config.family(key.signal.family())?;
        Some(IodaMedianDetector {
            key,
            params,
            config: config.clone(),
            bin_secs,
            window: VecDeque::new(),
            sorted: Vec::new(),
            raw_while_inpainting: None,
            last_time: None,
            alert: None,
            events: Vec::new(),
        })
    }

    /// The alert threshold in use (warning or critical fraction).
    pub fn threshold(&self) -> f64 {
        match self.config.level {
            IodaLevel::Warning => self.params.warning,
            IodaLevel::Critical => self.params.critical,
        }
    }

    /// Feeds one value; returns the ratio of the value to the history, when
    /// IODA would output one.
    pub fn push(&mut self, t: UnixSecs, value: Option<f64>) -> Option<f64> {
        let value = value.filter(|v| v.is_finite())?;
        if self.last_time.is_some_and(|last| t <= last) {
            return None;
        }
        self.last_time = Some(t);
        let warmup = i64::from(self.config.warmup_secs);
        let history = i64::from(self.params.history_secs);
        if self
            .window
            .front()
            .is_none_or(|(first, _)| *first > t - warmup)
        {
            self.window.push_back((t, value));
            self.sorted_insert(value);
            return None;
        }
        while self
            .window
            .front()
            .is_some_and(|(old, _)| *old < t - history)
        {
            if let Some((_, old)) = self.window.pop_front() {
                self.sorted_remove(old);
            }
        }
        let mut predicted = self.prediction()?;
        if predicted < self.config.min_prediction {
            return None;
        }
        let mut ratio = (predicted != 0.0).then(|| value / predicted);
        let extreme =
            ratio.is_some_and(|r| r < self.params.warning || r > self.config.inpaint_max_ratio);
        let mut stored = value;
        if extreme {
            let max_secs = i64::from(self.config.inpaint_max_secs);
            match &mut self.raw_while_inpainting {
                None => {
                    self.raw_while_inpainting = Some(VecDeque::from([(t, value)]));
                    stored = predicted;
                }
                Some(raw) if raw.front().is_some_and(|(began, _)| *began > t - max_secs) => {
                    raw.push_back((t, value));
                    stored = predicted;
                }
                Some(_) => {
                    // The extreme is the new normal: rebuild the history
                    // from the raw values kept while inpainting.
                    let raw = self.raw_while_inpainting.take().unwrap_or_default();
                    self.window = raw;
                    self.sorted = self.window.iter().map(|(_, v)| *v).collect();
                    self.sorted.sort_by(f64::total_cmp);
                    if self
                        .window
                        .front()
                        .is_none_or(|(first, _)| *first > t - warmup)
                    {
                        self.window.push_back((t, value));
                        self.sorted_insert(value);
                        return None;
                    }
                    predicted = self.prediction()?;
                    ratio = (predicted != 0.0).then(|| value / predicted);
                }
            }
        } else {
            self.raw_while_inpainting = None;
        }
        self.window.push_back((t, stored));
        self.sorted_insert(stored);
        while self
            .window
            .front()
            .is_some_and(|(old, _)| *old <= t - history)
        {
            if let Some((_, old)) = self.window.pop_front() {
                self.sorted_remove(old);
            }
        }
        if let Some(r) = ratio {
            self.alert_step(t, r, predicted);
        }
        ratio
    }

    /// Events so far; the last one has no end while its alert lasts.
    pub fn events(&self) -> Vec<SignalEvent> {
        let mut events = self.events.clone();
        if let Some(alert) = &self.alert {
            if let Some(event) = self.make_event(alert, None) {
                events.push(event);
            }
        }
        events
    }

    fn alert_step(&mut self, t: UnixSecs, ratio: f64, predicted: f64) {
        let alerting = ratio < self.threshold();
        match (&mut self.alert, alerting) {
            (Some(alert), true) => {
                alert.last = t;
                alert.ratios.push(ratio);
                alert.predictions.push(predicted);
            }
            (None, true) => {
                self.alert = Some(OpenAlert {
                    start: t,
                    last: t,
                    ratios: vec![ratio],
                    predictions: vec![predicted],
                })
            }
            (Some(_), false) => {
                if let Some(alert) = self.alert.take() {
                    if let Some(event) = self.make_event(&alert, Some(t)) {
                        self.events.push(event);
                    }
                }
            }
            (None, false) => {}
        }
    }

    fn make_event(&self, alert: &OpenAlert, end: Option<UnixSecs>) -> Option<SignalEvent> {
        let bin = i64::from(self.bin_secs);
        let duration = end.unwrap_or(alert.last + bin) - alert.start;
        if duration < i64::from(self.config.min_alert_secs) {
            return None;
        }
        let minutes = f64::from(self.bin_secs) / 60.0;
        let mut depths: Vec<f64> = alert.ratios.iter().map(|r| 1.0 - r).collect();
        let score = depths.iter().map(|d| d.max(0.0) * 100.0 * minutes).sum();
        let max_depth = depths.iter().copied().fold(0.0, f64::max);
        let depth = crate::event::median(&mut depths).unwrap_or(0.0);
        let mut predictions = alert.predictions.clone();
        Some(SignalEvent {
            key: self.key.clone(),
            start: alert.start,
            end,
            end_reason: if end.is_some() {
                EndReason::Recovered
            } else {
                EndReason::Ongoing
            },
            depth,
            max_depth,
            baseline: crate::event::median(&mut predictions).unwrap_or(f64::NAN),
            ioda_score: score,
            restorations: Vec::new(),
            gap_bins: 0,
            bins: alert.ratios.len() as u32,
            evidence: f64::NAN,
            confidence: 1.0,
        })
    }

    /// Nearest-rank lower median: the smallest value with at least half of
    /// the window at or below it.
    fn prediction(&self) -> Option<f64> {
        let n = self.sorted.len();
        if n == 0 {
            return None;
        }
        let rank = n.div_ceil(2) - 1;
        self.sorted.get(rank).copied()
    }

    fn sorted_insert(&mut self, value: f64) {
        let at = self.sorted.partition_point(|v| v.total_cmp(&value).is_lt());
        self.sorted.insert(at, value);
    }

    fn sorted_remove(&mut self, value: f64) {
        let at = self.sorted.partition_point(|v| v.total_cmp(&value).is_lt());
        if self
            .sorted
            .get(at)
            .is_some_and(|v| v.total_cmp(&value).is_eq())
        {
            self.sorted.remove(at);
        }
    }
}

/// Runs IODA's median method over a whole series; `None` for signals IODA
/// does not detect this way.
pub fn ioda_detect_series(series: &Series, config: &IodaConfig) -> Option<SignalDetection> {
    let mut detector = IodaMedianDetector::new(series.key.clone(), series.bin.secs(), config)?;
    let mut depths = Vec::with_capacity(series.values.len());
    for (t, value) in series.points() {
        let ratio = detector.push(t, value);
        depths.push(ratio.map(|r| (1.0 - r) as f32));
    }
    Some(SignalDetection {
        key: series.key.clone(),
        bin_secs: series.bin.secs(),
        start: series.start,
        end: series.end(),
        events: detector.events(),
        gaps: Vec::new(),
        depths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{BinSize, SignalKind};

    fn series(signal: SignalKind, values: Vec<Option<f64>>) -> Series {
        Series {
            key: SeriesKey {
                entity: "IQ".parse().unwrap(),
                signal,
            },
            bin: BinSize::default(),
            start: 1_692_489_600,
            values,
        }
    }

    #[test]
    fn lower_median_and_warmup() {
        let s = series(SignalKind::BgpVisibleSlash24s, vec![Some(100.0); 13]);
        let mut d = IodaMedianDetector::new(s.key.clone(), 300, &IodaConfig::default()).unwrap();
        let mut outputs = 0;
        for (t, v) in s.points() {
            if d.push(t, v).is_some() {
                outputs += 1;
            }
        }
        // One hour of warm-up at 5-minute bins: the 13th value is the first scored.
        assert_eq!(outputs, 1);
        d.sorted = vec![1.0, 2.0, 3.0, 4.0];
        assert_eq!(d.prediction(), Some(2.0));
        d.sorted = vec![1.0, 2.0, 3.0];
        assert_eq!(d.prediction(), Some(2.0));
    }

    #[test]
    fn critical_drop_makes_one_event_and_is_inpainted() {
        let mut values = vec![Some(1000.0); 300];
        for v in values.iter_mut().skip(200).take(48) {
            *v = Some(300.0);
        }
        let s = series(SignalKind::BgpVisibleSlash24s, values);
        let detection = ioda_detect_series(&s, &IodaConfig::default()).unwrap();
        assert_eq!(detection.events.len(), 1);
        let event = &detection.events[0];
        assert_eq!(event.start, s.start + 200 * 300);
        assert_eq!(event.end, Some(s.start + 248 * 300));
        assert!((event.depth - 0.7).abs() < 1e-9);
        // 48 bins × 70% × 5 minutes.
        assert!((event.ioda_score - 48.0 * 70.0 * 5.0).abs() < 1e-6);
    }

    #[test]
    fn traffic_is_not_detected_by_the_median_method() {
        let s = series(SignalKind::GoogleTraffic, vec![Some(1.0); 10]);
        assert!(ioda_detect_series(&s, &IodaConfig::default()).is_none());
    }
}
