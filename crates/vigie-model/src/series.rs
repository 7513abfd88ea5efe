use serde::{Deserialize, Serialize};

use crate::{BinSize, Entity, SignalKind, TimeRange, UnixSecs};

/// Names one series: a signal of an entity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Whose signal.
    pub entity: Entity,
    /// Which signal.
    pub signal: SignalKind,
}

/// One signal of one entity over consecutive, aligned bins.
///
/// `None` means "no data" (the feed was silent or absent), which is never the
/// same as a measured zero.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Series {
    /// What the values measure.
    pub key: SeriesKey,
    /// The width of each bin.
    pub bin: BinSize,
    /// The start of the first bin.
    pub start: UnixSecs,
    /// One value per bin; `None` is no data.
    pub values: Vec<Option<f64>>,
}

impl Series {
    /// A series covering `range` (widened to whole bins) with no data yet.
    pub fn empty(key: SeriesKey, bin: BinSize, range: TimeRange) -> Self {
        let start = bin.floor(range.from());
        let end = bin.ceil(range.until());
        let len = ((end - start) / bin.secs() as i64) as usize;
        Series {
            key,
            bin,
            start,
            values: vec![None; len],
        }
    }

    /// The first second after the last bin.
    pub fn end(&self) -> UnixSecs {
        self.start + self.values.len() as i64 * self.bin.secs() as i64
    }

    /// The index of the bin holding `t`, if the series covers it.
    pub fn index_of(&self, t: UnixSecs) -> Option<usize> {
        if t < self.start || t >= self.end() {
            return None;
        }
        Some(((t - self.start) / self.bin.secs() as i64) as usize)
    }

    /// The value of the bin holding `t`; `None` for no data or outside.
    pub fn get(&self, t: UnixSecs) -> Option<f64> {
        self.index_of(t).and_then(|i| self.values[i])
    }

    /// Sets the bin holding `t`; returns false when `t` is outside the series.
    pub fn set(&mut self, t: UnixSecs, value: Option<f64>) -> bool {
        match self.index_of(t) {
            Some(i) => {
                self.values[i] = value;
                true
            }
            None => false,
        }
    }

    /// Each bin's start time with its value.
    pub fn points(&self) -> impl Iterator<Item = (UnixSecs, Option<f64>)> + '_ {
        let step = self.bin.secs() as i64;
        self.values
            .iter()
            .enumerate()
            .map(move |(i, v)| (self.start + i as i64 * step, *v))
    }

    /// How many bins hold data.
    pub fn count_with_data(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_data_is_not_zero() {
        let key = SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        };
        let mut series = Series::empty(key, BinSize::default(), TimeRange::new(0, 901).unwrap());
        assert_eq!(series.values.len(), 4);
        assert!(series.set(300, Some(0.0)));
        assert!(!series.set(1200, Some(1.0)));
        assert_eq!(series.get(300), Some(0.0));
        assert_eq!(series.get(0), None);
        assert_eq!(series.count_with_data(), 1);
        assert_eq!(series.points().nth(1), Some((300, Some(0.0))));
    }
}
