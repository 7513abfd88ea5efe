//! What a source hands on: the values of one bin, and the sink that takes
//! them.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use rustc_hash::FxHashMap;

use crate::{BinSize, Entity, Series, SeriesKey, SignalKind, UnixSecs};

/// The values one source measured in one bin: every series it has a value
/// (or "no data") for, entity by entity.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalBin {
    /// The bin's width.
    pub bin: BinSize,
    /// The bin's start (UTC seconds, aligned to `bin`).
    pub bin_start: UnixSecs,
    /// One value per series, each series at most once; `None` is "no data".
    pub values: Vec<(SeriesKey, Option<f64>)>,
}

impl SignalBin {
    /// The value of one series in this bin, if it has one.
    pub fn value(&self, entity: &Entity, signal: SignalKind) -> Option<f64> {
        self.values
            .iter()
            .find(|(k, _)| k.entity == *entity && k.signal == signal)
            .and_then(|(_, v)| *v)
    }

    /// The same series with no data: what retracts this bin's values.
    pub fn retraction(&self) -> SignalBin {
        SignalBin {
            bin: self.bin,
            bin_start: self.bin_start,
            values: self.values.iter().map(|(k, _)| (k.clone(), None)).collect(),
        }
    }
}

/// "An entity that had a value and falls silent reads 0, not no data": the
/// rule every source's closed bins follow, written once.
///
/// A series is registered the first time a source has a value for it
/// ([`id`](Self::id)); from then on every bin the fill closes
/// ([`close`](Self::close)) writes it, with the value set in that bin or 0,
/// unless the source [withholds](Self::withhold) it from that bin because
/// what fed it was silent (no data, not 0). Series are written in the order
/// they were registered.
///
/// Two ways in, the same rule: a source that counts in a map hands the whole
/// bin to [`complete`](Self::complete) (one hash lookup per value); a source
/// with its own counters (BGP: 300,000 series a bin on a full table) keeps
/// each series' [`FillId`] beside its counter and calls [`set`](Self::set),
/// which costs no hashing, so a bin costs what writing it out costs.
#[derive(Debug, Default)]
pub struct ZeroFill {
    /// Every series registered, by [`FillId`].
    keys: Vec<SeriesKey>,
    /// The value of each series in the open bin (0 until set).
    values: Vec<f64>,
    /// The series withheld from the open bin.
    withheld: Vec<FillId>,
    /// The [`FillId`] of each key.
    ids: FxHashMap<SeriesKey, FillId>,
}

/// A series' place in a [`ZeroFill`]: what a source keeps beside its own
/// counter to hand values over without hashing the key. `Option<FillId>` is
/// as small as `FillId`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FillId(NonZeroU32);

impl FillId {
    fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

impl ZeroFill {
    /// The id of `key`, registering the series if new: it is written in
    /// every bin closed from now on.
    pub fn id(&mut self, key: &SeriesKey) -> FillId {
        match self.ids.get(key) {
            Some(&id) => id,
            None => self.register(key.clone()),
        }
    }

    fn register(&mut self, key: SeriesKey) -> FillId {
        let id = u32::try_from(self.keys.len() + 1)
            .ok()
            .and_then(NonZeroU32::new)
            .map(FillId)
            .expect("fewer than 2^32 series");
        self.keys.push(key.clone());
        self.values.push(0.0);
        self.ids.insert(key, id);
        id
    }

    /// Sets a registered series' value in the open bin.
    pub fn set(&mut self, id: FillId, value: f64) {
        self.values[id.index()] = value;
    }

    /// Leaves a registered series out of the open bin: it has no value
    /// there, not 0 (what fed it was silent: a gap, not an outage).
    pub fn withhold(&mut self, id: FillId) {
        self.withheld.push(id);
    }

    /// Closes the open bin: every registered series with the value set
    /// since the last close, or 0 if it fell silent, except those
    /// withheld. Values start from 0 again.
    pub fn close(&mut self) -> Vec<(SeriesKey, Option<f64>)> {
        let values = self.keys.iter().zip(&mut self.values);
        if self.withheld.is_empty() {
            return values
                .map(|(key, value)| (key.clone(), Some(std::mem::take(value))))
                .collect();
        }
        let mut withheld = vec![false; self.keys.len()];
        for id in self.withheld.drain(..) {
            withheld[id.index()] = true;
        }
        values
            .zip(withheld)
            .filter_map(|((key, value), withheld)| {
                let value = std::mem::take(value);
                (!withheld).then(|| (key.clone(), Some(value)))
            })
            .collect()
    }

    /// One bin's counted values, completed with 0 for every series
    /// registered before and silent now: [`set`](Self::set) for each value,
    /// then [`close`](Self::close).
    pub fn complete(&mut self, values: BTreeMap<SeriesKey, f64>) -> Vec<(SeriesKey, Option<f64>)> {
        for (key, value) in values {
            let id = match self.ids.get(&key) {
                Some(&id) => id,
                None => self.register(key),
            };
            self.set(id, value);
        }
        self.close()
    }
}

/// A sink refused a bin (a full disk, a closed store); the source stops.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// What became of a bin written with [`BinSink::write_weighted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The bin's values were written.
    Written,
    /// The sink already held this bin from more input records and kept
    /// those values: bad input never replaces good stored data.
    KeptStored {
        /// The records behind the values kept.
        stored_records: u64,
    },
}

/// Where sources hand their bins: the store, or anything that watches them.
///
/// A source calls [`write`](Self::write) once per closed bin, in time order.
/// A live source may also publish the open bin's values so far with
/// [`write_provisional`](Self::write_provisional); a later `write` of the
/// same bin replaces them, or, when the bin will have no final values (a
/// feed was down when it ended), [`retract_provisional`](Self::retract_provisional)
/// withdraws them. Sinks that keep only final values ignore the last two.
/// A source that reads whole series at once (an import of another
/// observatory's signals) hands them over with
/// [`write_series`](Self::write_series).
pub trait BinSink {
    /// Takes the final values of a closed bin.
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError>;

    /// Takes the final values of a closed bin computed from `records` input
    /// records (MRT records read so far, log lines in the bin). A sink that
    /// remembers the count keeps values stored from more records and says
    /// so; by default the bin is simply written.
    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        let _ = records;
        self.write(bin)?;
        Ok(WriteOutcome::Written)
    }

    /// Takes the open bin's values so far (ignored unless the sink keeps them).
    fn write_provisional(&mut self, _bin: &SignalBin) -> Result<(), SinkError> {
        Ok(())
    }

    /// Withdraws the provisional values published as `bin`: its series read
    /// "no data" until final values come (ignored unless the sink keeps them).
    fn retract_provisional(&mut self, _bin: &SignalBin) -> Result<(), SinkError> {
        Ok(())
    }

    /// Takes whole series (final values; a `None` point is "no data"). By
    /// default they are cut into bins, written in time order (per bin
    /// width); a sink with a faster path for long series overrides it.
    fn write_series(&mut self, series: &[Series]) -> Result<(), SinkError> {
        let mut bins: BTreeMap<(UnixSecs, u32), SignalBin> = BTreeMap::new();
        for one in series {
            for (bin_start, value) in one.points() {
                bins.entry((bin_start, one.bin.secs()))
                    .or_insert_with(|| SignalBin {
                        bin: one.bin,
                        bin_start,
                        values: Vec::new(),
                    })
                    .values
                    .push((one.key.clone(), value));
            }
        }
        bins.values().try_for_each(|bin| self.write(bin))
    }
}

/// A sink that keeps nothing (state loaded without writing it, benchmarks,
/// fuzzing).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl BinSink for Discard {
    fn write(&mut self, _bin: &SignalBin) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Collects the closed bins in memory (tests, batch runs); provisional bins
/// are not kept.
impl BinSink for Vec<SignalBin> {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.push(bin.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(entity: &str) -> SeriesKey {
        SeriesKey {
            entity: entity.parse().unwrap(),
            signal: SignalKind::HttpRequests,
        }
    }

    #[test]
    fn a_silent_series_reads_zero_after_it_had_a_value() {
        let mut fill = ZeroFill::default();
        let first = fill.complete(BTreeMap::from([(key("KZ"), 3.0)]));
        assert_eq!(first, [(key("KZ"), Some(3.0))]);
        let second = fill.complete(BTreeMap::from([(key("US"), 1.0)]));
        assert_eq!(second, [(key("KZ"), Some(0.0)), (key("US"), Some(1.0))]);
    }

    #[test]
    fn a_source_with_its_own_counters_sets_values_by_id_under_the_same_rule() {
        let mut fill = ZeroFill::default();
        let kz = fill.id(&key("KZ"));
        fill.set(kz, 3.0);
        assert_eq!(fill.close(), [(key("KZ"), Some(3.0))]);
        let us = fill.id(&key("US"));
        assert_eq!(fill.id(&key("KZ")), kz, "a key keeps its id");
        fill.set(us, 1.0);
        assert_eq!(
            fill.close(),
            [(key("KZ"), Some(0.0)), (key("US"), Some(1.0))]
        );
        // Keyed values land on the same series, and a value set in one
        // bin is not carried into the next.
        assert_eq!(
            fill.complete(BTreeMap::from([(key("KZ"), 2.0)])),
            [(key("KZ"), Some(2.0)), (key("US"), Some(0.0))]
        );
        assert_eq!(
            fill.close(),
            [(key("KZ"), Some(0.0)), (key("US"), Some(0.0))]
        );
    }

    #[test]
    fn a_withheld_series_has_no_value_in_that_bin_only() {
        let mut fill = ZeroFill::default();
        let kz = fill.id(&key("KZ"));
        let us = fill.id(&key("US"));
        fill.set(kz, 3.0);
        fill.set(us, 1.0);
        fill.close();
        fill.withhold(kz);
        assert_eq!(fill.close(), [(key("US"), Some(0.0))]);
        assert_eq!(
            fill.close(),
            [(key("KZ"), Some(0.0)), (key("US"), Some(0.0))]
        );
    }

    #[test]
    fn a_retraction_names_the_same_series_with_no_data() {
        let bin = SignalBin {
            bin: BinSize::FIVE_MINUTES,
            bin_start: 600,
            values: vec![(key("KZ"), Some(3.0))],
        };
        let retraction = bin.retraction();
        assert_eq!(retraction.values, [(key("KZ"), None)]);
        assert_eq!(
            retraction.value(&"KZ".parse().unwrap(), SignalKind::HttpRequests),
            None
        );
        assert_eq!(
            bin.value(&"KZ".parse().unwrap(), SignalKind::HttpRequests),
            Some(3.0)
        );
        let mut kept = Vec::new();
        kept.write(&bin).unwrap();
        kept.write_provisional(&bin).unwrap();
        assert_eq!(kept, [bin]);
    }

    #[test]
    fn whole_series_are_written_bin_by_bin_in_time_order() {
        let series = |entity: &str, start: UnixSecs, values: Vec<Option<f64>>| Series {
            key: key(entity),
            bin: BinSize::FIVE_MINUTES,
            start,
            values,
        };
        let mut bins: Vec<SignalBin> = Vec::new();
        bins.write_series(&[
            series("KZ", 600, vec![Some(1.0), None]),
            series("US", 300, vec![Some(5.0), Some(6.0)]),
        ])
        .unwrap();
        let starts: Vec<UnixSecs> = bins.iter().map(|b| b.bin_start).collect();
        assert_eq!(starts, [300, 600, 900]);
        assert_eq!(
            bins[1].values,
            [(key("KZ"), Some(1.0)), (key("US"), Some(6.0))]
        );
        assert_eq!(bins[2].values, [(key("KZ"), None)]);
    }
}
