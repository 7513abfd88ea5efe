//! What every operation shares: the geo database, prefixes from text, a
//! period given as `--from`/`--until`, and a sink that counts (and may tell)
//! the bins it passes on.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use vigie_geo::{GeoDb, GeoDbBuilder};
use vigie_model::{format_utc, BinSink, SignalBin, SinkError, UnixSecs, WriteOutcome};

/// The geo database: the embedded RIR data, with `files` loaded on top
/// (each load's report is told on stderr).
pub fn load_geo(files: &[PathBuf]) -> Result<GeoDb> {
    if files.is_empty() {
        return Ok(GeoDb::embedded());
    }
    let mut builder = GeoDbBuilder::embedded();
    for path in files {
        let report = builder
            .load_auto(path)
            .with_context(|| format!("cannot load the geo table {}", path.display()))?;
        eprintln!("{report}");
    }
    Ok(builder.build())
}

/// Refuses a period given by `--from` and `--until` that is empty or
/// reversed, naming both times.
pub fn check_period(from: UnixSecs, until: UnixSecs) -> Result<()> {
    if from >= until {
        bail!(
            "--from ({}) must be before --until ({})",
            format_utc(from),
            format_utc(until)
        );
    }
    Ok(())
}

/// Parses prefixes (an address alone is a host prefix); `what` names the
/// setting in the error.
pub fn parse_prefixes(texts: &[String], what: &str) -> Result<Vec<IpNet>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
                .with_context(|| format!("{what} {t}: not a prefix like 192.0.2.0/24"))
        })
        .collect()
}

/// Passes the final bins of a source that has no provisional ones on to
/// another sink, counting them and, when `log_each`, saying on stderr how
/// many series each held.
pub struct LoggedSink<S> {
    sink: S,
    log_each: bool,
    bins_written: u64,
    bins_kept: u64,
}

impl<S: BinSink> LoggedSink<S> {
    /// Wraps `sink`.
    pub fn new(sink: S, log_each: bool) -> Self {
        LoggedSink {
            sink,
            log_each,
            bins_written: 0,
            bins_kept: 0,
        }
    }

    /// The bins not written because the sink held them from more records.
    pub fn bins_kept(&self) -> u64 {
        self.bins_kept
    }

    /// The bins written so far.
    pub fn bins_written(&self) -> u64 {
        self.bins_written
    }

    /// The sink the bins are passed on to.
    pub fn get_ref(&self) -> &S {
        &self.sink
    }
}

impl<S: BinSink> BinSink for LoggedSink<S> {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.sink.write(bin)?;
        self.bins_written += 1;
        if self.log_each {
            eprintln!(
                "{}: {} series written",
                format_utc(bin.bin_start),
                bin.values.len()
            );
        }
        Ok(())
    }

    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        let outcome = self.sink.write_weighted(bin, records)?;
        match outcome {
            WriteOutcome::Written => {
                self.bins_written += 1;
                if self.log_each {
                    eprintln!(
                        "{}: {} series written",
                        format_utc(bin.bin_start),
                        bin.values.len()
                    );
                }
            }
            WriteOutcome::KeptStored { stored_records } => {
                self.bins_kept += 1;
                if self.log_each {
                    eprintln!(
                        "{}: kept the stored values, read from {stored_records} records (now {records})",
                        format_utc(bin.bin_start)
                    );
                }
            }
        }
        Ok(outcome)
    }
}

/// A duration for people: "3 h 25 min", "45 min", "2 d 4 h".
pub fn format_duration(secs: i64) -> String {
    let minutes = secs / 60;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(format_duration(45 * 60), "45 min");
        assert_eq!(format_duration(3 * 3600), "3 h");
        assert_eq!(format_duration(3 * 3600 + 25 * 60), "3 h 25 min");
        assert_eq!(format_duration(2 * 86_400 + 4 * 3600 + 59), "2 d 4 h");
    }
}
