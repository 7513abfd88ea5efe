use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Seconds since the Unix epoch, UTC.
pub type UnixSecs = i64;

/// The width of a time bin. Bins are aligned to UTC midnight, so a bin size
/// must divide a day (300 s, the default, gives 288 bins a day).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BinSize {
    secs: u32,
}

impl BinSize {
    /// Five minutes, IODA's and vigie's default.
    pub const FIVE_MINUTES: BinSize = BinSize { secs: 300 };

    /// A bin size of `secs` seconds; it must divide 86,400 and be at least a minute.
    pub fn new(secs: u32) -> Result<Self, ModelError> {
        if (60..=86_400).contains(&secs) && 86_400 % secs == 0 {
            Ok(BinSize { secs })
        } else {
            Err(ModelError::BadBinSize(secs))
        }
    }

    /// The width in seconds.
    pub fn secs(self) -> u32 {
        self.secs
    }

    /// The start of the bin holding `t` (`UnixSecs::MIN` when that start
    /// lies before any time this type holds: only an absurd `t`, from a
    /// hostile message say, is that close to it).
    pub fn floor(self, t: UnixSecs) -> UnixSecs {
        t.checked_sub(t.rem_euclid(i64::from(self.secs)))
            .unwrap_or(UnixSecs::MIN)
    }

    /// The first bin start at or after `t` (saturating, as [`Self::floor`]).
    pub fn ceil(self, t: UnixSecs) -> UnixSecs {
        let floor = self.floor(t);
        if floor == t {
            t
        } else {
            floor.saturating_add(i64::from(self.secs))
        }
    }

    /// How many bins a day holds.
    pub fn bins_per_day(self) -> u32 {
        86_400 / self.secs
    }
}

impl Default for BinSize {
    fn default() -> Self {
        BinSize::FIVE_MINUTES
    }
}

/// Shows the width in seconds, as the command line and configuration take it.
impl std::fmt::Display for BinSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.secs)
    }
}

/// Reads a width in seconds, such as `300`.
impl std::str::FromStr for BinSize {
    type Err = ModelError;
    fn from_str(text: &str) -> Result<Self, ModelError> {
        let secs = text
            .trim()
            .parse::<u32>()
            .map_err(|_| ModelError::BadBinSize(0))?;
        BinSize::new(secs)
    }
}

impl TryFrom<u32> for BinSize {
    type Error = ModelError;
    fn try_from(secs: u32) -> Result<Self, ModelError> {
        BinSize::new(secs)
    }
}

impl From<BinSize> for u32 {
    fn from(bin: BinSize) -> u32 {
        bin.secs
    }
}

/// Formats Unix seconds as ISO 8601 UTC, `2022-01-05T10:30:00Z`.
pub fn format_utc(t: UnixSecs) -> String {
    match DateTime::<Utc>::from_timestamp(t, 0) {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("@{t}"),
    }
}

/// Parses a UTC time: ISO 8601 / RFC 3339 (`2022-01-05T10:30:00Z`, with any
/// offset, seconds optional), `2022-01-05 10:30:00+00:00`, a bare date
/// (`2022-01-05`, midnight UTC), or Unix seconds (`1641378600`).
pub fn parse_utc(text: &str) -> Result<UnixSecs, ModelError> {
    let text = text.trim();
    let bad = || ModelError::BadTime(text.to_string());
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_err(|_| bad());
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp());
    }
    for pattern in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ] {
        if let Ok(time) = DateTime::parse_from_str(text, pattern) {
            return Ok(time.timestamp());
        }
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    for pattern in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(naive, pattern) {
            return Ok(time.and_utc().timestamp());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(bad)?
            .and_utc()
            .timestamp());
    }
    Err(bad())
}

/// A half-open UTC interval `[from, until)`, never empty or reversed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TimeRange {
    from: UnixSecs,
    until: UnixSecs,
}

impl TimeRange {
    /// The longest range a single query may ask for: 50 years.
    pub const MAX_DAYS: i64 = 366 * 50;

    /// A checked range: `until` must be after `from`, and the span sane.
    pub fn new(from: UnixSecs, until: UnixSecs) -> Result<Self, ModelError> {
        let shown = || format!("{} .. {}", format_utc(from), format_utc(until));
        if until <= from {
            return Err(ModelError::ReversedRange(shown()));
        }
        if until.saturating_sub(from) > TimeRange::MAX_DAYS * 86_400 {
            return Err(ModelError::RangeTooLong(shown(), TimeRange::MAX_DAYS));
        }
        Ok(TimeRange { from, until })
    }

    /// The first second in the range.
    pub fn from(self) -> UnixSecs {
        self.from
    }

    /// The first second after the range.
    pub fn until(self) -> UnixSecs {
        self.until
    }

    /// Whether `t` falls inside.
    pub fn contains(self, t: UnixSecs) -> bool {
        self.from <= t && t < self.until
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} .. {}", format_utc(self.from), format_utc(self.until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_align_to_utc() {
        let bin = BinSize::default();
        assert_eq!(bin.floor(1_641_378_601), 1_641_378_600);
        assert_eq!(bin.ceil(1_641_378_601), 1_641_378_900);
        assert_eq!(bin.ceil(1_641_378_600), 1_641_378_600);
        assert_eq!(bin.floor(-1), -300);
        assert!(BinSize::new(7).is_err());
        assert!(BinSize::new(0).is_err());
        assert!(BinSize::new(3600).is_ok());
    }

    #[test]
    fn absurd_times_saturate_instead_of_overflowing() {
        // A hostile bus message once carried a bin start near i64::MIN,
        // and flooring it overflowed (a panic under debug assertions).
        let bin = BinSize::new(60).unwrap();
        assert_eq!(bin.floor(i64::MIN), i64::MIN);
        assert_eq!(bin.floor(i64::MIN + 1), i64::MIN);
        assert_eq!(bin.floor(i64::MAX), i64::MAX - i64::MAX.rem_euclid(60));
        assert_eq!(bin.ceil(i64::MAX), i64::MAX);
        assert_eq!(bin.ceil(i64::MIN + 1), i64::MIN + 60);
    }

    #[test]
    fn parses_and_formats_iso_8601() {
        let t = 1_641_378_600; // 2022-01-05T10:30:00Z
        assert_eq!(format_utc(t), "2022-01-05T10:30:00Z");
        for text in [
            "2022-01-05T10:30:00Z",
            "2022-01-05T10:30Z",
            "2022-01-05T16:30:00+06:00",
            "2022-01-05 10:30:00+00:00",
            "2022-01-05 10:30",
            "1641378600",
        ] {
            assert_eq!(parse_utc(text), Ok(t), "{text}");
        }
        assert_eq!(parse_utc("2022-01-05"), Ok(1_641_340_800));
        assert!(parse_utc("yesterday").is_err());
        assert!(parse_utc("").is_err());
    }

    #[test]
    fn ranges_are_checked() {
        assert!(TimeRange::new(10, 10).is_err());
        assert!(TimeRange::new(20, 10).is_err());
        assert!(TimeRange::new(0, i64::MAX).is_err());
        assert!(TimeRange::new(0, 10).unwrap().contains(9));
    }
}
