//! Detection as the bins arrive: one [`SignalDetector`] per series, fed by
//! any source through [`BinSink`], and the incidents of an entity fused on
//! demand with the same [`fuse`] as batch detection, so the live path and
//! `vigie detect` give the same incidents on the same data.
//!
//! The whole state serialises (serde) so that a service can checkpoint it
//! and resume where it stopped, without relearning.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vigie_model::{BinSink, BinSize, Entity, SeriesKey, SignalBin, SinkError, UnixSecs};

use crate::event::SignalDetection;
use crate::fusion::{fuse, Incident};
use crate::vigie::{SignalDetector, MAX_SILENCE_SECS};
use crate::VigieConfig;

/// One series as the live detector follows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Followed {
    /// The start of the first bin pushed.
    first_bin: UnixSecs,
    detector: SignalDetector,
    /// Per bin since `first_bin`, the depth below the baseline: fusion
    /// reads it to tell which signals stayed normal during an incident
    /// (4 bytes a bin: a year of 5-minute bins is 420 kB a series).
    #[serde(with = "crate::event::nan::vec_f32")]
    depths: Vec<f32>,
}

/// Detectors for every series seen, keyed by series and bin width; a sink
/// of final bins.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveDetector {
    config: VigieConfig,
    /// Key: the series and its bin width in seconds (saved as a list: the
    /// detector knows both).
    #[serde(with = "followed_list")]
    followed: BTreeMap<(SeriesKey, u32), Followed>,
    /// Entities whose events may have changed since [`Self::take_changed`].
    changed: BTreeSet<Entity>,
    /// Series pushed since [`Self::take_pushed`] (not saved: a checkpoint
    /// saves them).
    #[serde(skip)]
    pushed: BTreeSet<(SeriesKey, u32)>,
}

/// One series' detector state without its depth history, as a live
/// detector checkpoints it one series at a time
/// ([`LiveDetector::series_state`], [`LiveDetector::restore`]): the depth
/// history grows with the series' age and is saved apart, appended
/// ([`LiveDetector::depths`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeriesState {
    first_bin: UnixSecs,
    detector: SignalDetector,
    /// How many bins of depth history go with this state.
    depths_len: u64,
}

impl SeriesState {
    /// The series.
    pub fn key(&self) -> &SeriesKey {
        self.detector.key()
    }

    /// Its bin width in seconds.
    pub fn bin_secs(&self) -> u32 {
        self.detector.bin_secs()
    }

    /// The start of the first bin of its depth history.
    pub fn first_bin(&self) -> UnixSecs {
        self.first_bin
    }

    /// How many bins of depth history go with this state.
    pub fn depths_len(&self) -> usize {
        self.depths_len as usize
    }
}

impl LiveDetector {
    /// A detector that has seen nothing yet.
    pub fn new(config: VigieConfig) -> LiveDetector {
        LiveDetector {
            config,
            followed: BTreeMap::new(),
            changed: BTreeSet::new(),
            pushed: BTreeSet::new(),
        }
    }

    /// Feeds one final bin of one series (older bins than the last one
    /// pushed are ignored, as [`SignalDetector::push`] does).
    pub fn push(&mut self, key: &SeriesKey, bin: BinSize, t: UnixSecs, value: Option<f64>) {
        let config = &self.config;
        let followed = self
            .followed
            .entry((key.clone(), bin.secs()))
            .or_insert_with(|| Followed {
                first_bin: t - t.rem_euclid(i64::from(bin.secs())),
                detector: SignalDetector::new(key.clone(), bin, config),
                depths: Vec::new(),
            });
        let before = followed.detector.events().len();
        let verdict = followed.detector.push(t, value);
        if !matches!(verdict.phase, crate::PhaseKind::Stale) {
            let step = i64::from(bin.secs());
            let index = ((verdict.t - followed.first_bin) / step).max(0) as usize;
            if index > followed.depths.len() + MAX_SILENCE_SECS as usize / bin.secs() as usize {
                // After a long silence (or a bin dated far ahead) the depths
                // start afresh rather than fill the gap.
                followed.first_bin = verdict.t;
                followed.depths.clear();
            } else {
                // Bins skipped since the last one pushed have no depth.
                followed.depths.resize(index, f32::NAN);
            }
            followed
                .depths
                .push(verdict.depth.map_or(f32::NAN, |d| d as f32));
        }
        self.pushed.insert((key.clone(), bin.secs()));
        let after = followed.detector.events().len();
        // Anything but a quiet normal bin may change the entity's incidents.
        if before != after || !matches!(verdict.phase, crate::PhaseKind::Normal) {
            self.changed.insert(key.entity.clone());
        }
    }

    /// The entities whose incidents may have changed since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<Entity> {
        std::mem::take(&mut self.changed)
    }

    /// The series pushed since the last call, with their bin widths in
    /// seconds: the ones whose state a checkpoint must save again.
    pub fn take_pushed(&mut self) -> BTreeSet<(SeriesKey, u32)> {
        std::mem::take(&mut self.pushed)
    }

    /// The state of one series without its depth history, to checkpoint it.
    pub fn series_state(&self, key: &SeriesKey, bin_secs: u32) -> Option<SeriesState> {
        self.followed
            .get(&(key.clone(), bin_secs))
            .map(|followed| SeriesState {
                first_bin: followed.first_bin,
                detector: followed.detector.clone(),
                depths_len: followed.depths.len() as u64,
            })
    }

    /// One series' depth history: the start of its first bin and the depth
    /// of every bin since (NaN: none), which a checkpoint appends to what
    /// it saved before (it starts afresh when the first bin moves).
    pub fn depths(&self, key: &SeriesKey, bin_secs: u32) -> Option<(UnixSecs, &[f32])> {
        self.followed
            .get(&(key.clone(), bin_secs))
            .map(|followed| (followed.first_bin, followed.depths.as_slice()))
    }

    /// Resumes a series from its checkpoint and its depth history
    /// (replacing what was followed). Returns `false`, restoring nothing,
    /// when the history is shorter than the state says.
    pub fn restore(&mut self, state: SeriesState, mut depths: Vec<f32>) -> bool {
        if depths.len() < state.depths_len() {
            return false;
        }
        depths.truncate(state.depths_len());
        let key = (state.key().clone(), state.bin_secs());
        let followed = Followed {
            first_bin: state.first_bin,
            detector: state.detector,
            depths,
        };
        self.followed.insert(key, followed);
        true
    }

    /// How many series are followed.
    pub fn series_count(&self) -> usize {
        self.followed.len()
    }

    /// The start of the next bin a series expects (`None` when the series
    /// is not followed yet): older bins pushed are ignored.
    pub fn next_bin(&self, key: &SeriesKey, bin_secs: u32) -> Option<UnixSecs> {
        self.followed
            .get(&(key.clone(), bin_secs))
            .and_then(|followed| followed.detector.next_bin_start())
    }

    /// What a series would say of `value` at `t` without taking it (the
    /// open bin's provisional value, say): the verdict of a copy of its
    /// detector. `None` when the series is not followed or `t` is older
    /// than the bin it expects.
    pub fn peek(
        &self,
        key: &SeriesKey,
        bin: BinSize,
        t: UnixSecs,
        value: Option<f64>,
    ) -> Option<crate::BinVerdict> {
        let followed = self.followed.get(&(key.clone(), bin.secs()))?;
        let mut detector = followed.detector.clone();
        let verdict = detector.push(t, value);
        (!matches!(verdict.phase, crate::PhaseKind::Stale)).then_some(verdict)
    }

    /// The configuration every series is followed with.
    pub fn config(&self) -> &VigieConfig {
        &self.config
    }

    /// Every entity followed.
    pub fn entities(&self) -> BTreeSet<Entity> {
        self.followed
            .keys()
            .map(|(k, _)| k.entity.clone())
            .collect()
    }

    /// What each of `entity`'s series shows so far, each signal at its
    /// finest bin width (as `vigie detect` reads the store).
    pub fn detections(&self, entity: &Entity) -> Vec<SignalDetection> {
        let mut finest: BTreeMap<&SeriesKey, &Followed> = BTreeMap::new();
        for ((key, _), followed) in &self.followed {
            if key.entity != *entity {
                continue;
            }
            let keep = finest
                .get(key)
                .is_none_or(|kept| followed.detector.bin_secs() < kept.detector.bin_secs());
            if keep {
                finest.insert(key, followed);
            }
        }
        finest
            .into_iter()
            .map(|(key, followed)| SignalDetection {
                key: key.clone(),
                bin_secs: followed.detector.bin_secs(),
                start: followed.first_bin,
                end: followed
                    .detector
                    .next_bin_start()
                    .unwrap_or(followed.first_bin),
                events: followed.detector.events(),
                gaps: followed.detector.gaps(),
                depths: followed
                    .depths
                    .iter()
                    .map(|d| (!d.is_nan()).then_some(*d))
                    .collect(),
            })
            .collect()
    }

    /// `entity`'s incidents as they stand: closed, ongoing or recovering.
    pub fn incidents(&self, entity: &Entity) -> Vec<Incident> {
        fuse(entity, &self.detections(entity), &self.config)
    }
}

impl BinSink for LiveDetector {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        for (key, value) in &bin.values {
            self.push(key, bin.bin, bin.bin_start, *value);
        }
        Ok(())
    }
}

/// The followed series saved as a list, since JSON keys are strings.
mod followed_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};
    use vigie_model::SeriesKey;

    use super::Followed;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<(SeriesKey, u32), Followed>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<(SeriesKey, u32), Followed>, D::Error> {
        let list = Vec::<Followed>::deserialize(deserializer)?;
        Ok(list
            .into_iter()
            .map(|f| ((f.detector.key().clone(), f.detector.bin_secs()), f))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::SignalKind;

    #[test]
    fn a_bin_dated_far_ahead_does_not_fill_the_gap() {
        let key = SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::ProbeUpSlash24s,
        };
        let mut live = LiveDetector::new(VigieConfig::default());
        let bin = BinSize::default();
        live.push(&key, bin, 1_641_168_000, Some(10.0));
        live.push(&key, bin, 253_402_300_500, Some(10.0)); // year 9999
        let followed = live.followed.values().next().expect("followed");
        assert_eq!(followed.depths.len(), 1);
        assert_eq!(live.detections(&key.entity).len(), 1);
    }
}
