//! Query-string parameters: times, entities, signals and bounded integers,
//! each refused with a 400 that names the parameter and the accepted form.

use std::collections::HashMap;

use vigie_model::{parse_utc, BinSize, Entity, EntityKind, SignalKind, UnixSecs};

use crate::error::ApiError;

/// The largest page any list endpoint returns.
pub const MAX_PAGE_SIZE: usize = 10_000;
/// The page size when `limit` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 500;
/// The longest time range a series request may cover (50 years): years of
/// data are served, downsampled with `maxPoints`.
pub const MAX_RANGE_SECS: i64 = 50 * 366 * 86_400;
/// The most bins read from the store for one series request (20 years of
/// 5-minute bins); a longer request needs a larger bin size.
pub const MAX_READ_BINS: i64 = 20 * 366 * 288;
/// The most points one series response holds; more needs `maxPoints`.
pub const MAX_POINTS: usize = 200_000;
/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request's query parameters, by name (the last value wins).
#[derive(Debug, Default, Clone)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The raw value, trimmed; empty values count as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A time: Unix seconds (`1692500000`), ISO 8601 UTC
    /// (`2023-08-20T03:00:00Z`, `2023-08-20`), or as IODA accepts, `now` or
    /// a time relative to now (`-24h`, `-7d`, `+30min`; see [`relative_time`]).
    pub fn time(&self, name: &str) -> Result<Option<UnixSecs>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        if let Some(t) = relative_time(name, text, now_secs())? {
            return Ok(Some(t));
        }
        if let Ok(secs) = text.parse::<i64>() {
            if !(0..=4_102_444_800).contains(&secs) {
                return Err(ApiError::bad_request(format!(
                    "'{name}' = {secs}: Unix seconds must lie between 1970 and 2100"
                )));
            }
            return Ok(Some(secs));
        }
        parse_utc(text).map(Some).map_err(|e| {
            ApiError::bad_request(format!(
                "'{name}' = '{text}' is not a time ({e}): give Unix seconds or ISO 8601 UTC such as 2023-08-20T03:00:00Z"
            ))
        })
    }

    /// A required time.
    pub fn required_time(&self, name: &str) -> Result<UnixSecs, ApiError> {
        self.time(name)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{name}' is required (Unix seconds or ISO 8601 UTC)"
            ))
        })
    }

    /// An unsigned integer no larger than `max`.
    pub fn bounded(&self, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        let value: u64 = text.parse().map_err(|_| {
            ApiError::bad_request(format!("'{name}' = '{text}' is not a non-negative integer"))
        })?;
        if value > max {
            return Err(ApiError::bad_request(format!(
                "'{name}' = {value} is above the limit of {max}"
            )));
        }
        Ok(Some(value))
    }

    /// `limit` and `offset` (or IODA's `page`, in units of `limit`).
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self
            .bounded("limit", MAX_PAGE_SIZE as u64)?
            .unwrap_or(DEFAULT_PAGE_SIZE as u64) as usize;
        if limit == 0 {
            return Err(ApiError::bad_request("'limit' must be at least 1"));
        }
        let offset = match (
            self.bounded("offset", u32::MAX as u64)?,
            self.bounded("page", 1_000_000)?,
        ) {
            (Some(offset), _) => offset as usize,
            (None, Some(page)) => (page as usize).saturating_mul(limit),
            (None, None) => 0,
        };
        Ok(Page { limit, offset })
    }

    /// An entity: `IQ`, `AS9198`, `KZ/Almaty`.
    pub fn entity(&self, name: &str) -> Result<Option<Entity>, ApiError> {
        self.text(name)
            .map(|text| parse_entity(text, name))
            .transpose()
    }

    /// A signal name (`bgp`, `ping-slash24`, `merit-nt`, `gtr`, …).
    pub fn signal(&self, name: &str) -> Result<Option<SignalKind>, ApiError> {
        self.text(name).map(parse_signal).transpose()
    }

    /// `maxPoints`, the most values per series after downsampling (1..=MAX_POINTS).
    pub fn max_points(&self) -> Result<Option<usize>, ApiError> {
        match self.bounded("maxPoints", MAX_POINTS as u64)? {
            Some(0) => Err(ApiError::bad_request("'maxPoints' must be at least 1")),
            other => Ok(other.map(|v| v as usize)),
        }
    }

    /// A bin size in seconds (default 300).
    pub fn bin(&self) -> Result<BinSize, ApiError> {
        match self.bounded("binSecs", 86_400)? {
            None => Ok(BinSize::default()),
            Some(secs) => BinSize::new(secs as u32)
                .map_err(|e| ApiError::bad_request(format!("'binSecs' = {secs}: {e}"))),
        }
    }
}

/// The longest offset a relative time may give (100 years).
pub const MAX_RELATIVE_SECS: i64 = 100 * 366 * 86_400;

/// The current time, Unix seconds.
pub fn now_secs() -> UnixSecs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A time relative to `now` as IODA's API accepts it (Graphite's form):
/// `now`, or a sign, a whole number and a unit: `s`, `min` (or `m`), `h`,
/// `d`, `w`, `mon` (30 days), `y` (365 days), such as `-24h` or `-7d`.
/// `Ok(None)` when `text` is not relative (an absolute time); a 400 when it
/// starts like one but is malformed or lies more than 100 years away.
pub fn relative_time(name: &str, text: &str, now: UnixSecs) -> Result<Option<UnixSecs>, ApiError> {
    let lower = text.trim().to_ascii_lowercase();
    if lower == "now" {
        return Ok(Some(now));
    }
    let (sign, rest) = match lower.as_bytes().first() {
        Some(b'-') => (-1, &lower[1..]),
        Some(b'+') => (1, &lower[1..]),
        _ => return Ok(None),
    };
    let bad = || {
        ApiError::bad_request(format!(
            "'{name}' = '{text}' is not a relative time: use now, or a sign, a number and a unit (s, min, h, d, w, mon, y), such as -24h or -7d"
        ))
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 12 {
        return Err(bad());
    }
    let amount: i64 = rest[..digits].parse().map_err(|_| bad())?;
    let unit: i64 = match &rest[digits..] {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        "mon" | "month" | "months" => 30 * 86_400,
        "y" | "year" | "years" => 365 * 86_400,
        _ => return Err(bad()),
    };
    let offset = amount
        .checked_mul(unit)
        .filter(|o| *o <= MAX_RELATIVE_SECS)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{name}' = '{text}' lies more than 100 years from now"
            ))
        })?;
    Ok(Some(now + sign * offset))
}

/// IODA's datasource names and the vigie signal each one is served from.
/// `ucsd-nt` (the UCSD telescope) and `merit-nt` (Merit's) are both read
/// from vigie's telescope signal; `gtr-sarima` from Google's traffic, as
/// `gtr` (vigie keeps no SARIMA forecast).
pub const IODA_DATASOURCES: [(&str, SignalKind); 8] = [
    ("bgp", SignalKind::BgpVisibleSlash24s),
    ("ping-slash24", SignalKind::ProbeUpSlash24s),
    ("ucsd-nt", SignalKind::TelescopeUniqueSources),
    ("merit-nt", SignalKind::TelescopeUniqueSources),
    ("gtr", SignalKind::GoogleTraffic),
    ("gtr-sarima", SignalKind::GoogleTraffic),
    ("gtr-norm", SignalKind::GoogleTrafficNormalised),
    ("mozilla", SignalKind::MozillaCities),
];

/// A datasource of the IODA API: one of IODA's names
/// ([`IODA_DATASOURCES`]) or one of vigie's signal names; anything else
/// is a 400 that lists both.
pub fn parse_ioda_datasource(text: &str) -> Result<SignalKind, ApiError> {
    let wanted = text.trim().to_ascii_lowercase();
    if let Some((_, kind)) = IODA_DATASOURCES.iter().find(|(n, _)| *n == wanted) {
        return Ok(*kind);
    }
    wanted.parse::<SignalKind>().map_err(|_| {
        let ioda: Vec<&str> = IODA_DATASOURCES.iter().map(|(n, _)| *n).collect();
        let own: Vec<&str> = SignalKind::ALL.iter().map(|s| s.name()).collect();
        ApiError::bad_request(format!(
            "invalid datasource {text} (must be one of the following [{}]; vigie's own signals are also accepted: {})",
            ioda.join(", "),
            own.join(", ")
        ))
    })
}

/// The steps IODA's API downsamples to, in seconds: 1, 2, 5, 15 and 30
/// minutes; 1, 2, 6 and 12 hours; 1 and 2 days; 1, 2 and 4 weeks; 1, 2 and
/// 10 years.
pub const IODA_STEPS: [u32; 17] = [
    60,
    120,
    300,
    900,
    1_800,
    3_600,
    7_200,
    21_600,
    43_200,
    86_400,
    172_800,
    604_800,
    1_209_600,
    2_419_200,
    31_536_000,
    63_072_000,
    315_360_000,
];

/// The step IODA would answer with: the native step without `max_points`,
/// else the smallest of [`IODA_STEPS`] at least `native` (and a multiple of
/// it, so bins group whole) that fits `range_secs` in `max_points` values;
/// the largest such step when none fits.
pub fn ioda_step(native: u32, range_secs: i64, max_points: Option<usize>) -> u32 {
    let Some(max) = max_points else {
        return native;
    };
    let mut step = native;
    for candidate in IODA_STEPS {
        if candidate < native || candidate % native != 0 {
            continue;
        }
        step = candidate;
        if range_secs / i64::from(candidate) <= max as i64 {
            break;
        }
    }
    step
}

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The most items returned.
    pub limit: usize,
    /// Items skipped first.
    pub offset: usize,
}

impl Page {
    /// The items of `all` in this page.
    pub fn slice<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter().skip(self.offset).take(self.limit).collect()
    }
}

/// Parses an entity, naming the parameter on error.
pub fn parse_entity(text: &str, name: &str) -> Result<Entity, ApiError> {
    text.parse::<Entity>().map_err(|e| {
        ApiError::bad_request(format!(
            "'{name}' = '{text}' is not an entity ({e}): use a country (IQ), an AS (AS9198) or a region (KZ/Almaty)"
        ))
    })
}

/// Parses an entity given IODA-style as a type and a code.
pub fn parse_typed_entity(kind: &str, code: &str) -> Result<Entity, ApiError> {
    let kind_parsed: EntityKind = kind.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "entity type '{kind}' is not served: use country, asn or region"
        ))
    })?;
    Entity::from_kind_code(kind_parsed, code).map_err(|e| {
        ApiError::bad_request(format!(
            "'{code}' is not a {kind} code ({e}); regions are written COUNTRY/Name, such as KZ/Almaty"
        ))
    })
}

/// Parses a signal name.
pub fn parse_signal(text: &str) -> Result<SignalKind, ApiError> {
    text.parse::<SignalKind>().map_err(|_| {
        let names: Vec<&str> = SignalKind::ALL.iter().map(|s| s.name()).collect();
        ApiError::bad_request(format!(
            "'{text}' is not a signal: use one of {}",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn times_are_unix_seconds_or_iso() {
        let p = params(&[
            ("a", "1692500000"),
            ("b", "2023-08-20T03:00:00Z"),
            ("c", "soon"),
        ]);
        assert_eq!(p.time("a").unwrap(), Some(1_692_500_000));
        assert_eq!(p.time("b").unwrap(), Some(1_692_500_400));
        let err = p.time("c").unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(err.message.contains("'c'"), "{}", err.message);
        assert_eq!(p.time("absent").unwrap(), None);
    }

    #[test]
    fn relative_times_are_read_as_ioda_does() {
        let now = 1_700_000_000;
        assert_eq!(relative_time("from", "now", now).unwrap(), Some(now));
        assert_eq!(
            relative_time("from", "-24h", now).unwrap(),
            Some(now - 86_400)
        );
        assert_eq!(
            relative_time("from", "-7d", now).unwrap(),
            Some(now - 7 * 86_400)
        );
        assert_eq!(
            relative_time("until", "+30min", now).unwrap(),
            Some(now + 1_800)
        );
        assert_eq!(relative_time("from", "1692500000", now).unwrap(), None);
        for garbage in [
            "-",
            "-h",
            "-24",
            "-24parsecs",
            "--1d",
            "-1e9d",
            "-99999999999999d",
        ] {
            let err = relative_time("from", garbage, now).unwrap_err();
            assert_eq!(err.status.as_u16(), 400, "{garbage}");
            assert!(err.message.contains("'from'"), "{}", err.message);
        }
        assert!(relative_time("from", "-200y", now).is_err());
        let p = params(&[("from", "-1d")]);
        let t = p.time("from").unwrap().unwrap();
        assert!((now_secs() - 86_400 - t).abs() < 5);
    }

    #[test]
    fn ioda_datasources_map_to_vigie_signals() {
        assert_eq!(
            parse_ioda_datasource("ucsd-nt").unwrap(),
            SignalKind::TelescopeUniqueSources
        );
        assert_eq!(
            parse_ioda_datasource("gtr-sarima").unwrap(),
            SignalKind::GoogleTraffic
        );
        assert_eq!(
            parse_ioda_datasource("mozilla").unwrap(),
            SignalKind::MozillaCities
        );
        assert_eq!(
            parse_ioda_datasource("bgp-v6").unwrap(),
            SignalKind::BgpVisibleSlash48s
        );
        let err = parse_ioda_datasource("nope").unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        for name in [
            "ucsd-nt",
            "gtr",
            "gtr-sarima",
            "gtr-norm",
            "mozilla",
            "merit-nt",
            "bgp",
            "ping-slash24",
        ] {
            assert!(err.message.contains(name), "{}", err.message);
        }
    }

    #[test]
    fn steps_are_iodas() {
        // No maxPoints: the native step.
        assert_eq!(ioda_step(300, 86_400, None), 300);
        // A day in 100 points: 15 minutes (96 values), not 5 or 10.
        assert_eq!(ioda_step(300, 86_400, Some(100)), 900);
        // 100 days in 1000 points: 4 h would do, IODA's next step is 6 h.
        assert_eq!(ioda_step(300, 100 * 86_400, Some(1000)), 21_600);
        // Never below the native step, always a multiple of it.
        assert_eq!(ioda_step(3_600, 3_600, Some(100_000)), 3_600);
        assert_eq!(ioda_step(600, 86_400, Some(50)), 1_800);
        // Nothing fits: the largest step.
        assert_eq!(ioda_step(300, 4_000_000_000, Some(1)), 315_360_000);
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            params(&[]).page().unwrap(),
            Page {
                limit: DEFAULT_PAGE_SIZE,
                offset: 0
            }
        );
        assert_eq!(
            params(&[("limit", "10"), ("page", "3")]).page().unwrap(),
            Page {
                limit: 10,
                offset: 30
            }
        );
        assert!(params(&[("limit", "10001")]).page().is_err());
        assert!(params(&[("limit", "0")]).page().is_err());
        assert!(params(&[("limit", "-1")]).page().is_err());
    }

    #[test]
    fn entities_and_signals_parse_or_explain() {
        let p = params(&[("e", "KZ/Almaty"), ("s", "ping-slash24"), ("bad", "??")]);
        assert_eq!(p.entity("e").unwrap().unwrap().to_string(), "KZ/Almaty");
        assert_eq!(p.signal("s").unwrap(), Some(SignalKind::ProbeUpSlash24s));
        assert!(p.entity("bad").is_err());
        assert!(parse_signal("nope").unwrap_err().message.contains("bgp"));
        assert_eq!(
            parse_typed_entity("asn", "9198").unwrap().to_string(),
            "AS9198"
        );
        assert!(parse_typed_entity("continent", "EU").is_err());
    }
}
