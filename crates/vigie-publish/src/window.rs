//! Series windows for a response: `from` and `until` resolved against the
//! data span, the range bounded, each series read and downsampled. Shared by
//! the native and the IODA-compatible signal endpoints.

use vigie_model::{format_utc, BinSize, Entity, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_store::{SeriesInfo, Store};

use crate::data::{self, Resampled};
use crate::error::ApiError;
use crate::params::{MAX_POINTS, MAX_RANGE_SECS, MAX_READ_BINS};
use crate::read_limits::ReadLimits;

/// Seconds of data a series request covers when it gives no `from`.
pub const DEFAULT_WINDOW_SECS: i64 = 7 * 86_400;

/// One entity's series, resampled for a response.
pub struct SeriesWindow {
    /// Which series.
    pub key: SeriesKey,
    /// The entity's name, if the store knows it.
    pub name: Option<String>,
    /// The values over the window, downsampled.
    pub resampled: Resampled,
}

/// Resolves `from`/`until` against the data span, checks the bounds, reads
/// each series and downsamples it to `max_points` while reading it. A heavy
/// read waits for nothing: it takes a heavy slot from `limits` or is refused
/// (503); the read stops within a few weeks of bins when the client has gone.
#[allow(clippy::too_many_arguments)]
pub fn read_windows(
    store: &Store,
    entity: &Entity,
    signals: Option<&[SignalKind]>,
    bin: BinSize,
    from: Option<UnixSecs>,
    until: Option<UnixSecs>,
    max_points: Option<usize>,
    limits: &mut ReadLimits,
) -> Result<(TimeRange, Vec<SeriesWindow>), ApiError> {
    let infos: Vec<SeriesInfo> = data::series_of(store, entity)?
        .into_iter()
        .filter(|i| i.bin == bin)
        .filter(|i| signals.is_none_or(|s| s.contains(&i.key.signal)))
        .collect();
    if infos.is_empty() {
        return Err(ApiError::not_found(format!(
            "no {} s series of {entity}{}: see /api/v1/entities for what the store holds",
            bin.secs(),
            signals
                .map(|s| format!(
                    " for {}",
                    s.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
                ))
                .unwrap_or_default()
        )));
    }
    let span_end = data::plausible_span(store, &infos)?.map(|(_, end)| end);
    let until = until.or(span_end).unwrap_or(0);
    let from = from.unwrap_or(until - DEFAULT_WINDOW_SECS);
    if from >= until {
        return Err(ApiError::bad_request(format!(
            "'from' ({}) must be before 'until' ({})",
            format_utc(from),
            format_utc(until)
        )));
    }
    if until - from > MAX_RANGE_SECS {
        return Err(ApiError::bad_request(format!(
            "the range is {} days; at most {} days per request",
            (until - from) / 86_400,
            MAX_RANGE_SECS / 86_400
        )));
    }
    let bins = (until - from) / i64::from(bin.secs());
    if bins > MAX_READ_BINS {
        return Err(ApiError::bad_request(format!(
            "the range holds {bins} bins of {} s; at most {MAX_READ_BINS}: ask a shorter range",
            bin.secs()
        )));
    }
    limits.admit((bins.max(0) as u64).saturating_mul(infos.len() as u64))?;
    let range = TimeRange::new(from, until)
        .map_err(|e| ApiError::bad_request(format!("bad time range: {e}")))?;
    let (_, points) = data::downsampled_len(bin, range, max_points);
    if points > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "the response would hold {points} points; pass maxPoints (at most {MAX_POINTS}) to downsample"
        )));
    }
    let name = store.entity_name(entity)?;
    let mut windows = Vec::new();
    for info in infos {
        // Downsampled while read, a few weeks at a time: the memory of a
        // read is its output's, whatever its range.
        let resampled =
            data::read_downsampled(store, &info.key, bin, range, max_points, || limits.check())?;
        windows.push(SeriesWindow {
            key: info.key,
            name: name.clone(),
            resampled,
        });
    }
    Ok((range, windows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, finding 1: a bin dated 2099 does not move the default
    /// window past the data.
    #[test]
    fn the_default_window_ends_with_the_plausible_data() {
        let mut store = Store::open_in_memory().unwrap();
        let entity: Entity = "KZ".parse().unwrap();
        let key = SeriesKey {
            entity: entity.clone(),
            signal: SignalKind::BgpVisibleSlash24s,
        };
        let bin = BinSize::FIVE_MINUTES;
        let t = 1_641_340_800;
        store
            .write_points(&key, bin, &[(t, Some(7.0)), (4_070_908_800, Some(1.0))])
            .unwrap();
        let (range, windows) = read_windows(
            &store,
            &entity,
            None,
            bin,
            None,
            None,
            None,
            &mut ReadLimits::none(),
        )
        .unwrap();
        assert!(range.contains(t), "{range}");
        assert_eq!(windows.len(), 1);
    }
}
