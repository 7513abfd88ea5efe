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

    /// A time: Unix seconds (`1692500000`) or ISO 8601 UTC
    /// (`2023-08-20T03:00:00Z`, `2023-08-20`).
    pub fn time(&self, name: &str) -> Result<Option<UnixSecs>, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
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
