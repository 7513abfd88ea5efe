//! Where a series holds data: its stored days grouped into spans, so that
//! a reader of a multi-year store skips long silences instead of walking
//! them bin by bin.

use rusqlite::params;
use vigie_model::{TimeRange, TimeWindow, UnixSecs};

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::{codec, Backend, SeriesInfo, Store, StoreError};

use crate::codec::DAY_SECS;

impl Store {
    /// The spans of `info`'s series that hold data inside `window`: the
    /// days with stored values (final or staged), grouped wherever less
    /// than `max_gap_secs` of silence lies between them, each cut to the
    /// series' extent and to the window. Oldest first; empty when no data
    /// is inside. Costs one row per stored day, whatever the silences.
    pub fn data_spans(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
        max_gap_secs: i64,
    ) -> Result<Vec<TimeRange>, StoreError> {
        let days = match &self.backend {
            Backend::Sqlite(db) => db.data_days(info, window)?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.data_days(info, window)?,
        };
        let step = i64::from(info.bin.secs());
        let earliest = match info.first_bin {
            Some(first) if window.contains(first) => first.max(window.earliest()),
            _ => window.earliest(),
        };
        let until = match info.last_bin {
            Some(last) if window.contains(last) => last + step,
            _ => window.latest() + step,
        };
        Ok(group_days(&days, max_gap_secs)
            .into_iter()
            .filter_map(|(start, end)| TimeRange::new(start.max(earliest), end.min(until)).ok())
            .collect())
    }
}

/// Sorted day starts grouped into `[start, end)` spans wherever the silence
/// between two days with data is at most `max_gap_secs`.
fn group_days(days: &[UnixSecs], max_gap_secs: i64) -> Vec<(UnixSecs, UnixSecs)> {
    let mut spans: Vec<(UnixSecs, UnixSecs)> = Vec::new();
    for &day in days {
        match spans.last_mut() {
            Some((_, end)) if day - *end <= max_gap_secs => *end = (*end).max(day + DAY_SECS),
            _ => spans.push((day, day + DAY_SECS)),
        }
    }
    spans
}

impl SqliteStore {
    /// The UTC days, sorted, on which `info`'s series has stored chunks or
    /// staged bins inside `window`.
    fn data_days(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
    ) -> Result<Vec<UnixSecs>, StoreError> {
        let label = self.label();
        let context = "finding the days a series holds data";
        let conn = self.connection();
        let Some(id) = crate::sqlite::find_series(conn, label, &info.key, info.bin)? else {
            return Ok(Vec::new());
        };
        let mut days: Vec<UnixSecs> = Vec::new();
        let mut stmt = conn
            .prepare_cached(
                "SELECT chunk_start FROM chunks
                 WHERE series_id = ?1 AND chunk_start + ?4 > ?2 AND chunk_start <= ?3",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map(
                params![id, window.earliest(), window.latest(), DAY_SECS],
                |row| row.get::<_, i64>(0),
            )
            .map_err(sql_error(label, context))?;
        for row in rows {
            days.push(row.map_err(sql_error(label, context))?.div_euclid(DAY_SECS) * DAY_SECS);
        }
        // Staged bins are kept per block of series, so this may list a day
        // a neighbour of the series wrote: a span a little too wide reads
        // as missing bins, never loses any.
        let mut stmt = conn
            .prepare_cached(
                "SELECT DISTINCT bin_start - (bin_start % ?4) FROM staged_bins
                 WHERE block = ?1 AND bin_secs = ?5 AND bin_start >= ?2 AND bin_start <= ?3",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map(
                params![
                    codec::block_of(id),
                    window.earliest(),
                    window.latest(),
                    DAY_SECS,
                    info.bin.secs()
                ],
                |row| row.get::<_, i64>(0),
            )
            .map_err(sql_error(label, context))?;
        for row in rows {
            days.push(row.map_err(sql_error(label, context))?.div_euclid(DAY_SECS) * DAY_SECS);
        }
        days.sort_unstable();
        days.dedup();
        Ok(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_group_across_short_silences_only() {
        let d = DAY_SECS;
        let days = [0, d, 2 * d, 10 * d, 100 * d, 101 * d];
        assert_eq!(
            group_days(&days, 14 * d),
            vec![(0, 11 * d), (100 * d, 102 * d)]
        );
        assert_eq!(
            group_days(&days, 0),
            vec![(0, 3 * d), (10 * d, 11 * d), (100 * d, 102 * d)]
        );
        assert!(group_days(&[], d).is_empty());
    }
}
