//! Detection as the bins arrive: one [`SignalDetector`] per series, fed by
//! any source through [`BinSink`], and the incidents of an entity fused on
//! demand with the same [`fuse`] as batch detection, so the live path and
//! `vigie detect` give the same incidents on the same data.
//!
//! The whole state serialises (serde) so that a service can checkpoint it
//! and resume where it stopped, without relearning.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vigie_model::{
    BinSink, BinSize, Entity, SeriesKey, SignalBin, SignalKind, SinkError, UnixSecs,
};

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
    /// reads it to tell which signals stayed normal during an incident.
    depths: DepthHistory,
}

/// A series' depth history, kept only where fusion can still read it:
/// inside the spans of its entity's events, and the bins recent enough
/// that an event not reported yet could still begin there
/// ([`SignalDetector::memory_secs`]). Fusion reads depths only inside an
/// incident, and an incident lies within its events, so what is dropped
/// is never read; the memory is that of the outages and the last hours,
/// not of the series' age (4 bytes a bin: a year of 5-minute bins was
/// 420 kB a series).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DepthHistory {
    /// Bins since the series' first bin, kept or not.
    len: usize,
    /// The runs of bins kept, oldest first: each run's first bin (its
    /// index since the first bin) and its depths (NaN: none).
    runs: Vec<DepthRun>,
    /// Bins pushed since the last pruning.
    #[serde(default)]
    since_pruned: usize,
}

/// Consecutive bins of a [`DepthHistory`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DepthRun {
    start: usize,
    #[serde(with = "crate::event::nan::vec_f32")]
    depths: Vec<f32>,
}

impl DepthHistory {
    /// Every bin of `depths` kept.
    fn whole(depths: Vec<f32>) -> DepthHistory {
        DepthHistory {
            len: depths.len(),
            runs: vec![DepthRun { start: 0, depths }],
            since_pruned: 0,
        }
    }

    /// Sets the depth of bin `index` (at or after the end; the bins
    /// skipped have none).
    fn push_at(&mut self, index: usize, depth: f32) {
        let len = self.len;
        let tail = match self.runs.last_mut() {
            Some(run) if run.start + run.depths.len() == len => run,
            _ => {
                self.runs.push(DepthRun {
                    start: len,
                    depths: Vec::new(),
                });
                self.runs.last_mut().expect("just pushed")
            }
        };
        tail.depths.resize(index.max(len) - tail.start, f32::NAN);
        tail.depths.push(depth);
        self.len = index.max(len) + 1;
        self.since_pruned += 1;
    }

    /// Forgets every bin.
    fn clear(&mut self) {
        self.len = 0;
        self.runs.clear();
    }

    /// Bins held in memory.
    fn kept(&self) -> usize {
        self.runs.iter().map(|r| r.depths.len()).sum()
    }

    /// The depths from bin `from` to the end, NaN where not kept.
    fn since(&self, from: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.len.saturating_sub(from)];
        for run in &self.runs {
            for (i, d) in run.depths.iter().enumerate() {
                if let Some(slot) = (run.start + i).checked_sub(from) {
                    out[slot] = *d;
                }
            }
        }
        out
    }

    /// Keeps only the bins inside `keep` (bin index ranges, half-open).
    fn retain(&mut self, keep: &[(usize, usize)]) {
        let mut runs = Vec::new();
        for run in std::mem::take(&mut self.runs) {
            let end = run.start + run.depths.len();
            for &(a, b) in keep {
                let (from, until) = (a.max(run.start), b.min(end));
                if from < until {
                    runs.push(DepthRun {
                        start: from,
                        depths: run.depths[from - run.start..until - run.start].to_vec(),
                    });
                }
            }
        }
        runs.sort_by_key(|r| r.start);
        // Merge runs that touch (keep ranges may overlap).
        let mut merged: Vec<DepthRun> = Vec::with_capacity(runs.len());
        for run in runs {
            match merged.last_mut() {
                Some(last) if run.start <= last.start + last.depths.len() => {
                    let end = last.start + last.depths.len();
                    let skip = end - run.start;
                    if skip < run.depths.len() {
                        last.depths.extend_from_slice(&run.depths[skip..]);
                    }
                }
                _ => merged.push(run),
            }
        }
        merged.shrink_to_fit();
        self.runs = merged;
        self.since_pruned = 0;
    }
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
    /// Whether pushing leaves the depth histories whole (see
    /// [`Self::hold_depths`]).
    #[serde(skip)]
    holding_depths: bool,
    /// Each entity's offset from UTC, for the detectors of its new series
    /// (see [`Self::set_local_offsets`]).
    #[serde(skip, default = "utc_days")]
    local_offset: fn(&Entity) -> i64,
}

/// No zone known: every entity's weekdays are UTC days.
fn utc_days() -> fn(&Entity) -> i64 {
    |_| 0
}

/// One series' detector state without its depth history, as a live
/// detector checkpoints it one series at a time
/// ([`LiveDetector::series_state`], [`LiveDetector::restore`]): the depth
/// history grows with the series' age and is saved apart, appended
/// ([`LiveDetector::depths_since`]).
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
            holding_depths: false,
            local_offset: utc_days(),
        }
    }

    /// Gives each entity's offset from UTC in seconds (0 when its zone is
    /// unknown), so that the detectors of its series met from now on
    /// count weekdays in local time
    /// ([`SignalDetector::set_local_offset`]); a restored detector keeps
    /// the offset it was saved with.
    pub fn set_local_offsets(&mut self, offsets: fn(&Entity) -> i64) {
        self.local_offset = offsets;
    }

    /// Feeds one final bin of one series (older bins than the last one
    /// pushed are ignored, as [`SignalDetector::push`] does).
    pub fn push(&mut self, key: &SeriesKey, bin: BinSize, t: UnixSecs, value: Option<f64>) {
        let config = &self.config;
        let local_offset = self.local_offset;
        let followed = self
            .followed
            .entry((key.clone(), bin.secs()))
            .or_insert_with(|| {
                let mut detector = SignalDetector::new(key.clone(), bin, config);
                detector.set_local_offset(local_offset(&key.entity));
                Followed {
                    first_bin: t - t.rem_euclid(i64::from(bin.secs())),
                    detector,
                    depths: DepthHistory::default(),
                }
            });
        let before = followed.detector.events().len();
        let verdict = followed.detector.push(t, value);
        if !matches!(verdict.phase, crate::PhaseKind::Stale) {
            let step = i64::from(bin.secs());
            let mut index = ((verdict.t - followed.first_bin) / step).max(0) as usize;
            if index > followed.depths.len + MAX_SILENCE_SECS as usize / bin.secs() as usize {
                // After a long silence (or a bin dated far ahead) the depths
                // start afresh rather than fill the gap.
                followed.first_bin = verdict.t;
                followed.depths.clear();
                index = 0;
            }
            // Bins skipped since the last one pushed have no depth.
            followed
                .depths
                .push_at(index, verdict.depth.map_or(f32::NAN, |d| d as f32));
            // Prune once the detector's memory has been pushed again.
            let memory_bins = (followed.detector.memory_secs() / step).max(1) as usize;
            if !self.holding_depths && followed.depths.since_pruned >= memory_bins {
                self.prune_entity(&key.entity);
            }
        }
        let followed = &self.followed[&(key.clone(), bin.secs())];
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
                depths_len: followed.depths.len as u64,
            })
    }

    /// One series' depth history from its bin number `from` on: the start
    /// of its first bin, how many bins it has had, and the depth of each
    /// bin from `from` (NaN: none, or no longer kept: see
    /// [`Self::prune_depths`]), which a checkpoint appends to what it saved
    /// before (it starts afresh when the first bin moves).
    pub fn depths_since(
        &self,
        key: &SeriesKey,
        bin_secs: u32,
        from: usize,
    ) -> Option<(UnixSecs, usize, Vec<f32>)> {
        self.followed
            .get(&(key.clone(), bin_secs))
            .map(|f| (f.first_bin, f.depths.len, f.depths.since(from)))
    }

    /// How many bins of a series' depth history are held in memory.
    pub fn depth_bins_kept(&self, key: &SeriesKey, bin_secs: u32) -> Option<usize> {
        self.followed
            .get(&(key.clone(), bin_secs))
            .map(|f| f.depths.kept())
    }

    /// While `hold` is true, pushing keeps every bin of depth: for a
    /// warm-up that reads series one after the other, each from its first
    /// bin, where a series read later can still date an event back to
    /// bins the others have long passed. Release it, then call
    /// [`Self::prune_depths`].
    pub fn hold_depths(&mut self, hold: bool) {
        self.holding_depths = hold;
    }

    /// Drops every series' depths that fusion can no longer read (see
    /// `DepthHistory`); pushing does it as it goes, entity by entity. Call
    /// it after restoring checkpoints, whose histories come whole.
    pub fn prune_depths(&mut self) {
        let entities: BTreeSet<Entity> = self
            .followed
            .keys()
            .map(|(k, _)| k.entity.clone())
            .collect();
        for entity in &entities {
            self.prune_entity(entity);
        }
    }

    /// Prunes the depth histories of `entity`'s series: kept are the bins
    /// inside any of its events (an open one to the end) and those after
    /// the earliest bin any of its detectors still remembers.
    fn prune_entity(&mut self, entity: &Entity) {
        // Keys are ordered by entity first: the entity's series are one range.
        let Some(&signal) = SignalKind::ALL.iter().min() else {
            return;
        };
        let first = (
            SeriesKey {
                entity: entity.clone(),
                signal,
            },
            0,
        );
        let keys: Vec<(SeriesKey, u32)> = self
            .followed
            .range(first..)
            .map(|(k, _)| k)
            .take_while(|(k, _)| k.entity == *entity)
            .cloned()
            .collect();
        let mut spans: Vec<(UnixSecs, UnixSecs)> = Vec::new();
        let mut remembered = UnixSecs::MAX;
        for key in &keys {
            let detector = &self.followed[key].detector;
            let next = detector.next_bin_start().unwrap_or(UnixSecs::MIN);
            remembered = remembered.min(next.saturating_sub(detector.memory_secs()));
            for event in detector.closed_events() {
                spans.push((event.start, event.end.unwrap_or(UnixSecs::MAX)));
            }
            if let Some(event) = detector.open_event() {
                spans.push((event.start, UnixSecs::MAX));
            }
        }
        spans.push((remembered, UnixSecs::MAX));
        for key in &keys {
            let followed = self.followed.get_mut(key).expect("listed");
            let step = i64::from(key.1.max(1));
            // Bin indices covering each span, a bin of margin on each side.
            let index = |t: UnixSecs| {
                (t.saturating_sub(followed.first_bin).div_euclid(step)).clamp(0, i64::MAX / 2)
                    as usize
            };
            let keep: Vec<(usize, usize)> = spans
                .iter()
                .map(|&(a, b)| (index(a).saturating_sub(1), index(b).saturating_add(2)))
                .collect();
            followed.depths.retain(&keep);
        }
    }

    /// Whether `state` was saved by a detector of this configuration and
    /// version ([`SignalDetector::built_by`]); one that was not should not
    /// be restored but warmed up from the store again.
    pub fn fits(&self, state: &SeriesState) -> bool {
        state.detector.built_by(&self.config)
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
            depths: DepthHistory::whole(depths),
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
            .map(|(key, followed)| {
                // From the first bin kept: the bins before have no depth
                // to read, as bins dropped from the history have none.
                let from = followed.depths.runs.first().map_or(0, |r| r.start);
                let step = i64::from(followed.detector.bin_secs());
                SignalDetection {
                    key: key.clone(),
                    bin_secs: followed.detector.bin_secs(),
                    start: followed.first_bin + from as i64 * step,
                    end: followed
                        .detector
                        .next_bin_start()
                        .unwrap_or(followed.first_bin),
                    events: followed.detector.events(),
                    gaps: followed.detector.gaps(),
                    depths: followed
                        .depths
                        .since(from)
                        .into_iter()
                        .map(|d| (!d.is_nan()).then_some(d))
                        .collect(),
                }
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
        assert_eq!(followed.depths.len, 1);
        assert_eq!(live.detections(&key.entity).len(), 1);
    }
}
