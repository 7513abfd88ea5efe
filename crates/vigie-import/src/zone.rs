//! Local times to UTC: a fixed UTC offset or an IANA time zone.

use std::fmt;
use std::str::FromStr;

use chrono::{FixedOffset, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use vigie_model::UnixSecs;

use crate::ImportError;

/// How a file's local times turn into UTC: a fixed offset (`-04:00`,
/// `+03:30`) or an IANA zone (`America/Caracas`), whose rules follow the
/// zone's history (daylight saving time included).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum LocalZone {
    /// A constant offset from UTC.
    Offset(FixedOffset),
    /// An IANA time zone.
    Named(Tz),
}

impl LocalZone {
    /// A constant offset of `secs` seconds east of UTC; `None` beyond ±24 h.
    pub fn from_offset_secs(secs: i32) -> Option<Self> {
        FixedOffset::east_opt(secs).map(LocalZone::Offset)
    }

    /// The UTC time of a local wall-clock time. A time that happens twice
    /// (clocks turned back) is read as the first; a time that never happens
    /// (clocks turned forward) is `None`.
    pub fn to_utc(&self, local: NaiveDateTime) -> Option<UnixSecs> {
        let first = |result: LocalResult<i64>| match result {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(a, b) => Some(a.min(b)),
            LocalResult::None => None,
        };
        match self {
            LocalZone::Offset(offset) => {
                first(offset.from_local_datetime(&local).map(|t| t.timestamp()))
            }
            LocalZone::Named(zone) => {
                first(zone.from_local_datetime(&local).map(|t| t.timestamp()))
            }
        }
    }

    /// The zone of a country's local times where the country has one
    /// (ISO 3166-1 alpha-3: `VEN`, `IRN`, `MMR`, `UKR`...), the defaults for
    /// Monash IP Observatory files whose times are local.
    pub fn for_country_alpha3(code: &str) -> Option<Self> {
        let name = match code.trim().to_ascii_uppercase().as_str() {
            "VEN" => "America/Caracas",
            "IRN" => "Asia/Tehran",
            "MMR" => "Asia/Yangon",
            "UKR" => "Europe/Kyiv",
            "AFG" => "Asia/Kabul",
            "BLR" => "Europe/Minsk",
            "CUB" => "America/Havana",
            "EGY" => "Africa/Cairo",
            "ETH" => "Africa/Addis_Ababa",
            "IND" => "Asia/Kolkata",
            "IRQ" => "Asia/Baghdad",
            "KAZ" => "Asia/Almaty",
            "LKA" => "Asia/Colombo",
            "PAK" => "Asia/Karachi",
            "SDN" => "Africa/Khartoum",
            "SYR" => "Asia/Damascus",
            "TUR" => "Europe/Istanbul",
            _ => return None,
        };
        name.parse::<Tz>().ok().map(LocalZone::Named)
    }
}

impl fmt::Display for LocalZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalZone::Offset(offset) => write!(f, "UTC{offset}"),
            LocalZone::Named(zone) => f.write_str(zone.name()),
        }
    }
}

impl FromStr for LocalZone {
    type Err = ImportError;

    /// Reads `+03:30`, `-04:00`, `-4`, `+0630`, `UTC+6:30`, `Z`, or an IANA
    /// zone name such as `America/Caracas`.
    fn from_str(text: &str) -> Result<Self, ImportError> {
        let trimmed = text.trim();
        if let Some(secs) = parse_offset(trimmed) {
            if let Some(zone) = LocalZone::from_offset_secs(secs) {
                return Ok(zone);
            }
        }
        trimmed
            .parse::<Tz>()
            .map(LocalZone::Named)
            .map_err(|_| ImportError::BadZone(text.to_string()))
    }
}

/// Seconds east of UTC for `+03:30`, `-04:00`, `-4`, `+0630`, `UTC+6:30`,
/// `GMT-4`, `Z`, `UTC`.
pub(crate) fn parse_offset(text: &str) -> Option<i32> {
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper)
        .trim();
    if rest.is_empty() || rest == "Z" {
        return (upper != rest || rest == "Z").then_some(0);
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        // A bare number of hours (`2`, `6.5`) as Monash's offset column.
        b'0'..=b'9' => (1, rest),
        _ => return None,
    };
    let (hours, minutes) = if let Some((h, m)) = digits.split_once(':') {
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    } else if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
        (digits[..2].parse().ok()?, digits[2..].parse().ok()?)
    } else if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() {
        (digits.parse().ok()?, 0)
    } else {
        let hours: f64 = digits.parse().ok()?;
        if !hours.is_finite() || hours.abs() > 24.0 {
            return None;
        }
        let secs = (hours * 3600.0).round() as i32;
        return Some(sign * secs);
    };
    if !(0..=24).contains(&hours) || !(0..60).contains(&minutes) {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn offsets_parse_in_every_spelling() {
        for (text, secs) in [
            ("-04:00", -4 * 3600),
            ("+03:30", 3 * 3600 + 1800),
            ("-4", -4 * 3600),
            ("+0630", 6 * 3600 + 1800),
            ("UTC+6:30", 6 * 3600 + 1800),
            ("GMT-4", -4 * 3600),
            ("2", 2 * 3600),
            ("6.5", 6 * 3600 + 1800),
            ("Z", 0),
            ("UTC", 0),
        ] {
            assert_eq!(parse_offset(text), Some(secs), "{text}");
        }
        for bad in ["", "+", "25", "+04:75", "abc", "-4:xx", "nan", "1e9"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn zones_turn_local_times_into_utc() {
        let caracas: LocalZone = "America/Caracas".parse().unwrap();
        // 2019-07-20 00:00 in Caracas (UTC-4) is 04:00 UTC.
        assert_eq!(
            caracas.to_utc(local("2019-07-20 00:00:00")),
            Some(1_563_595_200)
        );
        let tehran = LocalZone::for_country_alpha3("irn").unwrap();
        // November 2019: Iran is at UTC+3:30.
        assert_eq!(
            tehran.to_utc(local("2019-11-11 00:00:00")),
            Some(1_573_417_800)
        );
        let fixed: LocalZone = "-04:00".parse().unwrap();
        assert_eq!(
            fixed.to_utc(local("2019-07-20 00:00:00")),
            Some(1_563_595_200)
        );
        assert_eq!(fixed.to_string(), "UTC-04:00");
        assert_eq!(caracas.to_string(), "America/Caracas");
        assert!("Mars/Olympus".parse::<LocalZone>().is_err());
        // A time skipped by a clock change does not exist.
        let paris: LocalZone = "Europe/Paris".parse().unwrap();
        assert_eq!(paris.to_utc(local("2021-03-28 02:30:00")), None);
        assert!(paris.to_utc(local("2021-10-31 02:30:00")).is_some());
    }
}
