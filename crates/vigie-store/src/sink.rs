//! The store as a [`BinSink`]: every source's bins land here the same way.

use vigie_model::{format_utc, BinSink, Series, SignalBin, SinkError, WriteOutcome};

use crate::Store;

/// A [`Store`] taking one source's bins: final bins under the source's
/// name, provisional ones under `<name>-provisional` (so the source's
/// latest committed bin says how far its final data goes), whole series
/// straight into chunks.
pub struct StoreSink<'a> {
    store: &'a mut Store,
    source: &'a str,
}

impl Store {
    /// A sink writing bins as `source` (`bgp-mrt`, `flows`, `probe`, …).
    pub fn sink<'a>(&'a mut self, source: &'a str) -> StoreSink<'a> {
        StoreSink {
            store: self,
            source,
        }
    }
}

impl StoreSink<'_> {
    fn write_as(&mut self, source: &str, bin: &SignalBin, what: &str) -> Result<(), SinkError> {
        self.store
            .write_bin(source, bin.bin, bin.bin_start, &bin.values)
            .map_err(|e| {
                SinkError(format!(
                    "cannot {what} the {source} bin {}: {e}",
                    format_utc(bin.bin_start)
                ))
            })
    }

    fn provisional_source(&self) -> String {
        format!("{}-provisional", self.source)
    }
}

impl BinSink for StoreSink<'_> {
    /// Commits the bin in one transaction ([`Store::write_bin`]).
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        let source = self.source;
        self.write_as(source, bin, "write")
    }

    /// Commits the bin unless the store holds it from more input records
    /// ([`Store::write_bin_weighted`]).
    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        self.store
            .write_bin_weighted(self.source, bin.bin, bin.bin_start, &bin.values, records)
            .map_err(|e| {
                SinkError(format!(
                    "cannot write the {} bin {}: {e}",
                    self.source,
                    format_utc(bin.bin_start)
                ))
            })
    }

    /// Writes the open bin's values so far; the final bin replaces them.
    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        let source = self.provisional_source();
        self.write_as(&source, bin, "write")
    }

    /// Writes "no data" over the series of a provisional bin.
    fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        let source = self.provisional_source();
        self.write_as(&source, &bin.retraction(), "retract")
    }

    /// Writes each series' values straight into chunks
    /// ([`Store::write_points`]), one transaction per series. Its "no data"
    /// points are not written: a gap in an imported file leaves the values
    /// stored for those bins as they are.
    fn write_series(&mut self, series: &[Series]) -> Result<(), SinkError> {
        for one in series {
            let points: Vec<_> = one.points().filter(|(_, v)| v.is_some()).collect();
            self.store
                .write_points(&one.key, one.bin, &points)
                .map_err(|e| {
                    SinkError(format!(
                        "cannot store {} {} from {}: {e}",
                        one.key.entity, one.key.signal, self.source
                    ))
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vigie_model::{BinSize, SeriesKey, SignalKind, TimeRange};

    use super::*;

    #[test]
    fn final_provisional_and_retracted_bins() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let key = SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal: SignalKind::BgpVisibleSlash24s,
            };
            let bin = |start, value| SignalBin {
                bin: BinSize::FIVE_MINUTES,
                bin_start: start,
                values: vec![(key.clone(), Some(value))],
            };
            let mut sink = store.sink("bgp-live");
            sink.write(&bin(0, 5.0)).unwrap();
            sink.write_provisional(&bin(300, 4.0)).unwrap();
            sink.write_provisional(&bin(600, 3.0)).unwrap();
            sink.retract_provisional(&bin(600, 3.0)).unwrap();
            let series = store
                .read_series(&key, BinSize::FIVE_MINUTES, TimeRange::new(0, 900).unwrap())
                .unwrap();
            assert_eq!(series.values, [Some(5.0), Some(4.0), None]);
            assert_eq!(store.last_committed_bin("bgp-live").unwrap(), Some(0));
            assert_eq!(
                store.last_committed_bin("bgp-live-provisional").unwrap(),
                Some(600)
            );
            let imported = Series {
                key: key.clone(),
                bin: BinSize::FIVE_MINUTES,
                start: 600,
                values: vec![Some(2.0), Some(1.0)],
            };
            store.sink("import.csv").write_series(&[imported]).unwrap();
            let series = store
                .read_series(
                    &key,
                    BinSize::FIVE_MINUTES,
                    TimeRange::new(0, 1_200).unwrap(),
                )
                .unwrap();
            assert_eq!(series.values, [Some(5.0), Some(4.0), Some(2.0), Some(1.0)]);
            assert_eq!(store.last_committed_bin("import.csv").unwrap(), None);
        }
    }

    #[test]
    fn an_imported_gap_leaves_stored_values_alone() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let key = SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal: SignalKind::HttpRequests,
            };
            let series = |values: Vec<Option<f64>>| Series {
                key: key.clone(),
                bin: BinSize::FIVE_MINUTES,
                start: 600,
                values,
            };
            let mut sink = store.sink("import.csv");
            sink.write_series(&[series(vec![Some(208.0), Some(7.0)])])
                .unwrap();
            sink.write_series(&[series(vec![None, Some(8.0)])]).unwrap();
            let read = store
                .read_series(
                    &key,
                    BinSize::FIVE_MINUTES,
                    TimeRange::new(600, 1_200).unwrap(),
                )
                .unwrap();
            assert_eq!(read.values, [Some(208.0), Some(8.0)]);
        }
    }
}
