//! Keeping stored data good (migration 8): the number of input records
//! behind each weighted bin, so a worse re-read never replaces it
//! ([`Store::write_bin_weighted`]), and the check and repair of a store
//! holding bins outside the plausible time window or damaged rows
//! ([`Store::check`], [`Store::repair`]).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, OptionalExtension};
use vigie_model::{format_utc, BinSize, SeriesKey, TimeRange, TimeWindow, UnixSecs, WriteOutcome};

use crate::codec;
use crate::codec::DAY_SECS;
use crate::error::{corrupt, sql_error};
use crate::sqlite::{apply_chunk_updates, find_series, refresh_summary, stored_key, SqliteStore};
use crate::{Backend, SeriesInfo, Store, StoreError};

/// How many damaged rows a [`StoreCheck`] quotes.
const MAX_DAMAGE_NOTES: usize = 20;

/// Bins of one series outside the plausible time window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImplausibleBins {
    /// The series.
    pub key: SeriesKey,
    /// Its bin width.
    pub bin: BinSize,
    /// How many of its bins with data are outside the window.
    pub bins: u64,
    /// The earliest of them.
    pub first: UnixSecs,
    /// The latest of them.
    pub last: UnixSecs,
}

/// What [`Store::check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreCheck {
    /// The window bins were checked against.
    pub window: TimeWindow,
    /// SQLite's own integrity check: empty when it says "ok".
    pub integrity: Vec<String>,
    /// Stored rows (chunks, staged bins) that do not decode.
    pub damaged: Vec<String>,
    /// Series with bins outside the window, by series.
    pub implausible: Vec<ImplausibleBins>,
    /// Chunks and staged rows read.
    pub rows_checked: u64,
}

impl StoreCheck {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.integrity.is_empty() && self.damaged.is_empty() && self.implausible.is_empty()
    }

    /// Bins with data outside the window, all series.
    pub fn implausible_bins(&self) -> u64 {
        self.implausible.iter().map(|s| s.bins).sum()
    }
}

/// What [`Store::repair`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Values removed for lying outside the window.
    pub bins_removed: u64,
    /// Series that lost them.
    pub series_touched: u64,
    /// Sources whose latest committed bin was brought back into the window.
    pub sources_reset: u64,
}

impl Store {
    /// Like [`Store::write_bin`], for a bin computed from `records` input
    /// records (MRT records read so far, log lines in the bin). When the
    /// store already holds this bin of `source` from more records, nothing
    /// is written and [`WriteOutcome::KeptStored`] says so: a truncated or
    /// partial re-read never replaces values from a complete one. An
    /// equal or larger count writes and is remembered.
    pub fn write_bin_weighted(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
        records: u64,
    ) -> Result<WriteOutcome, StoreError> {
        // One transaction: the check, the values and the count.
        match &mut self.backend {
            Backend::Sqlite(db) => {
                db.write_bin_recorded(source, bin, bin_start, values, Some(records))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => {
                db.write_bin_recorded(source, bin, bin_start, values, Some(records))
            }
        }
    }

    /// The records behind `source`'s bin at `bin_start`, when it was
    /// written with [`Store::write_bin_weighted`].
    pub fn bin_records(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<u64>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.bin_records(source, bin, bin_start),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.bin_records(source, bin, bin_start),
        }
    }

    /// Checks the store: SQLite's integrity check, every chunk and staged
    /// row decoded, and every bin with data inside `window` (usually
    /// [`TimeWindow::stored_now`]). Reads only.
    pub fn check(&self, window: TimeWindow) -> Result<StoreCheck, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.check(window),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.check(window),
        }
    }

    /// The span of `info`'s series to read, inside `window`: its stored
    /// extent when that is inside, else the days holding its chunks and
    /// the bins staged for its block inside the window (bins an older vigie
    /// stored outside it are left out);
    /// `None` when no data is inside. Reads never fail because of one bad
    /// bin.
    pub fn plausible_range(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
    ) -> Result<Option<TimeRange>, StoreError> {
        let step = i64::from(info.bin.secs());
        let (Some(first), Some(last)) = (info.first_bin, info.last_bin) else {
            return Ok(None);
        };
        if window.contains(first) && window.contains(last) {
            return Ok(TimeRange::new(first, last + step).ok());
        }
        let days = match &self.backend {
            Backend::Sqlite(db) => db.chunk_days_within(info, window)?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.chunk_days_within(info, window)?,
        };
        Ok(days.and_then(|(first, last)| window.clamp(first, last + DAY_SECS)))
    }

    /// Removes every value outside `window` (folding staged bins first),
    /// and brings sources' latest committed bins back inside it. Returns
    /// how many values went.
    pub fn repair(&mut self, window: TimeWindow) -> Result<RepairReport, StoreError> {
        self.compact()?;
        match &mut self.backend {
            Backend::Sqlite(db) => db.repair(window),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.repair(window),
        }
    }
}

/// One series' implausible bins being counted.
#[derive(Default)]
struct Tally {
    bins: u64,
    first: UnixSecs,
    last: UnixSecs,
}

impl Tally {
    fn add(&mut self, t: UnixSecs) {
        if self.bins == 0 {
            self.first = t;
            self.last = t;
        }
        self.bins += 1;
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }
}

/// Series ids' keys and bin widths, as [`stored_series`] reads them.
pub(crate) type SeriesKeys = BTreeMap<i64, (SeriesKey, BinSize)>;

/// Bins of one day of a series to set: (slot, new value).
pub(crate) type SlotUpdates = Vec<(usize, Option<f64>)>;

/// The key and bin width of a stored series, or `None` for names or a
/// width this build does not know.
pub(crate) fn stored_series(
    kind: &str,
    code: &str,
    signal: &str,
    bin_secs: i64,
) -> Option<(SeriesKey, BinSize)> {
    let bin = u32::try_from(bin_secs)
        .ok()
        .and_then(|s| BinSize::new(s).ok());
    stored_key(kind, code, signal).zip(bin)
}

/// The first and last day with data: the chunks' days, and the days of
/// the staged bins' first and last bin, together.
pub(crate) fn merge_day_spans(
    chunks: Option<(UnixSecs, UnixSecs)>,
    staged_bins: Option<(UnixSecs, UnixSecs)>,
) -> Option<(UnixSecs, UnixSecs)> {
    let staged = staged_bins.map(|(a, b)| {
        (
            a.div_euclid(DAY_SECS) * DAY_SECS,
            b.div_euclid(DAY_SECS) * DAY_SECS,
        )
    });
    match (chunks, staged) {
        (Some(c), Some(s)) => Some((c.0.min(s.0), c.1.max(s.1))),
        (c, s) => c.or(s),
    }
}

/// A check's findings, gathered one chunk or staged bin row at a time.
pub(crate) struct CheckTally<'a> {
    keys: &'a SeriesKeys,
    window: TimeWindow,
    tallies: BTreeMap<i64, Tally>,
    damaged: Vec<String>,
    rows_checked: u64,
}

impl<'a> CheckTally<'a> {
    pub(crate) fn new(keys: &'a SeriesKeys, window: TimeWindow) -> Self {
        CheckTally {
            keys,
            window,
            tallies: BTreeMap::new(),
            damaged: Vec::new(),
            rows_checked: 0,
        }
    }

    fn note(&mut self, text: String) {
        if self.damaged.len() < MAX_DAMAGE_NOTES {
            self.damaged.push(text);
        }
    }

    /// A chunk of series `id` for `day`.
    pub(crate) fn chunk(&mut self, id: i64, day: UnixSecs, data: &[u8]) {
        self.rows_checked += 1;
        let Some((_, bin)) = self.keys.get(&id) else {
            return;
        };
        let window = self.window;
        match codec::decode_chunk(data, bin.bins_per_day() as usize) {
            Ok(values) => {
                if window.contains(day) && window.contains(day + DAY_SECS - 1) {
                    return;
                }
                for (slot, value) in values.iter().enumerate() {
                    let t = day + slot as i64 * i64::from(bin.secs());
                    if value.is_some() && !window.contains(t) {
                        self.tallies.entry(id).or_default().add(t);
                    }
                }
            }
            Err(e) => self.note(format!("chunk of series {id} for {}: {e}", format_utc(day))),
        }
    }

    /// A staged bin at `bin_start`.
    pub(crate) fn staged(&mut self, bin_start: UnixSecs, data: &[u8]) {
        self.rows_checked += 1;
        match codec::decode_staged(data) {
            Ok(entries) => {
                if self.window.contains(bin_start) {
                    return;
                }
                for (id, value) in entries {
                    if value.is_some() {
                        self.tallies.entry(id).or_default().add(bin_start);
                    }
                }
            }
            Err(e) => self.note(format!("staged bin at {}: {e}", format_utc(bin_start))),
        }
    }

    /// The check, with the backend's own integrity findings.
    pub(crate) fn finish(self, integrity: Vec<String>) -> StoreCheck {
        let keys = self.keys;
        let implausible = self
            .tallies
            .into_iter()
            .filter_map(|(id, tally)| {
                let (key, bin) = keys.get(&id)?.clone();
                Some(ImplausibleBins {
                    key,
                    bin,
                    bins: tally.bins,
                    first: tally.first,
                    last: tally.last,
                })
            })
            .collect();
        StoreCheck {
            window: self.window,
            integrity,
            damaged: self.damaged,
            implausible,
            rows_checked: self.rows_checked,
        }
    }
}

/// The slots of a chunk of series `id` for `day` holding values outside
/// `window`, each to be emptied, with the series' bin width; `None` when
/// there are none or the series is not known.
pub(crate) fn slots_outside(
    label: &str,
    keys: &SeriesKeys,
    window: TimeWindow,
    id: i64,
    day: UnixSecs,
    data: &[u8],
) -> Result<Option<(BinSize, SlotUpdates)>, StoreError> {
    let Some((_, bin)) = keys.get(&id) else {
        return Ok(None);
    };
    let values = codec::decode_chunk(data, bin.bins_per_day() as usize).map_err(|e| {
        corrupt(
            label,
            format!("chunk of series {id} for {}: {e}", format_utc(day)),
        )
    })?;
    let slots: SlotUpdates = values
        .iter()
        .enumerate()
        .filter(|(slot, value)| {
            value.is_some() && !window.contains(day + *slot as i64 * i64::from(bin.secs()))
        })
        .map(|(slot, _)| (slot, None))
        .collect();
    Ok((!slots.is_empty()).then_some((*bin, slots)))
}

impl SqliteStore {
    fn bin_records(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<u64>, StoreError> {
        let records: Option<i64> = self
            .connection()
            .prepare_cached(
                "SELECT records FROM bin_records WHERE source = ?1 AND bin_secs = ?2 AND bin_start = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![source, bin.secs(), bin_start], |row| row.get(0))
                    .optional()
            })
            .map_err(sql_error(self.label(), "reading a bin's record count"))?;
        Ok(records.map(|n| n.max(0) as u64))
    }

    /// Every series id with its key and bin width (names this build does
    /// not know are left out).
    fn series_keys(&self) -> Result<SeriesKeys, StoreError> {
        let label = self.label();
        let context = "listing series";
        let mut stmt = self
            .connection()
            .prepare(
                "SELECT s.series_id, e.kind, e.code, s.signal, s.bin_secs
                 FROM series s JOIN entities e ON e.entity_id = s.entity_id",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .map_err(sql_error(label, context))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, kind, code, signal, bin_secs) = row.map_err(sql_error(label, context))?;
            if let Some(series) = stored_series(&kind, &code, &signal, bin_secs) {
                out.insert(id, series);
            }
        }
        Ok(out)
    }

    /// The first and last day with data of `info`'s series inside
    /// `window`: its chunks, and the bins staged for its block (which may
    /// hold other series: the span can only be wider, never miss data).
    fn chunk_days_within(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
    ) -> Result<Option<(UnixSecs, UnixSecs)>, StoreError> {
        let label = self.label();
        let context = "finding a series' plausible days";
        let conn = self.connection();
        let Some(id) = find_series(conn, label, &info.key, info.bin)? else {
            return Ok(None);
        };
        let span = |sql: &str, args: &[i64]| -> Result<Option<(i64, i64)>, StoreError> {
            let row: (Option<i64>, Option<i64>) = conn
                .query_row(sql, rusqlite::params_from_iter(args), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(sql_error(label, context))?;
            Ok(row.0.zip(row.1))
        };
        let chunks = span(
            "SELECT min(chunk_start), max(chunk_start) FROM chunks
             WHERE series_id = ?1 AND chunk_start + ?4 > ?2 AND chunk_start <= ?3",
            &[id, window.earliest(), window.latest(), DAY_SECS],
        )?;
        let staged = span(
            "SELECT min(bin_start), max(bin_start) FROM staged_bins
             WHERE block = ?1 AND bin_secs = ?4 AND bin_start >= ?2 AND bin_start <= ?3",
            &[
                codec::block_of(id),
                window.earliest(),
                window.latest(),
                i64::from(info.bin.secs()),
            ],
        )?;
        Ok(merge_day_spans(chunks, staged))
    }

    fn check(&self, window: TimeWindow) -> Result<StoreCheck, StoreError> {
        let label = self.label();
        let conn = self.connection();
        let mut integrity: Vec<String> = {
            let mut stmt = conn
                .prepare("PRAGMA quick_check")
                .map_err(sql_error(label, "running SQLite's integrity check"))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(sql_error(label, "running SQLite's integrity check"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql_error(label, "running SQLite's integrity check"))?
        };
        integrity.retain(|line| line != "ok");
        let keys = self.series_keys()?;
        let mut tally = CheckTally::new(&keys, window);
        {
            let context = "reading chunks";
            let mut stmt = conn
                .prepare("SELECT series_id, chunk_start, data FROM chunks")
                .map_err(sql_error(label, context))?;
            let mut rows = stmt.query([]).map_err(sql_error(label, context))?;
            while let Some(row) = rows.next().map_err(sql_error(label, context))? {
                let id: i64 = row.get(0).map_err(sql_error(label, context))?;
                let day: i64 = row.get(1).map_err(sql_error(label, context))?;
                let data: Vec<u8> = row.get(2).map_err(sql_error(label, context))?;
                tally.chunk(id, day, &data);
            }
        }
        {
            let context = "reading staged bins";
            let mut stmt = conn
                .prepare("SELECT bin_start, data FROM staged_bins")
                .map_err(sql_error(label, context))?;
            let mut rows = stmt.query([]).map_err(sql_error(label, context))?;
            while let Some(row) = rows.next().map_err(sql_error(label, context))? {
                let bin_start: i64 = row.get(0).map_err(sql_error(label, context))?;
                let data: Vec<u8> = row.get(1).map_err(sql_error(label, context))?;
                tally.staged(bin_start, &data);
            }
        }
        Ok(tally.finish(integrity))
    }

    /// Run after a compaction: every value is in a chunk.
    fn repair(&mut self, window: TimeWindow) -> Result<RepairReport, StoreError> {
        let label = self.label().to_string();
        let keys = self.series_keys()?;
        let tx = self
            .connection()
            .unchecked_transaction()
            .map_err(sql_error(&label, "starting a repair"))?;
        let context = "reading chunks";
        let outside: Vec<(i64, i64, Vec<u8>)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT series_id, chunk_start, data FROM chunks
                     WHERE chunk_start < ?1 OR chunk_start + ?3 - 1 > ?2",
                )
                .map_err(sql_error(&label, context))?;
            let rows = stmt
                .query_map(
                    params![window.earliest(), window.latest(), DAY_SECS],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(sql_error(&label, context))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql_error(&label, context))?
        };
        let mut report = RepairReport::default();
        let mut touched: BTreeSet<i64> = BTreeSet::new();
        for (id, day, data) in outside {
            let Some((bin, updates)) = slots_outside(&label, &keys, window, id, day, &data)? else {
                continue;
            };
            report.bins_removed += updates.len() as u64;
            apply_chunk_updates(&tx, &label, id, bin, day, &updates)?;
            touched.insert(id);
        }
        for id in &touched {
            if let Some((_, bin)) = keys.get(id) {
                refresh_summary(&tx, &label, *id, *bin)?;
            }
        }
        report.series_touched = touched.len() as u64;
        let reset = tx
            .execute(
                "UPDATE sources SET last_bin_start = (?1 / bin_secs) * bin_secs WHERE last_bin_start > ?1",
                [window.latest()],
            )
            .map_err(sql_error(&label, "resetting sources' progress"))?;
        report.sources_reset = reset as u64;
        tx.execute(
            "DELETE FROM bin_records WHERE bin_start < ?1 OR bin_start > ?2",
            params![window.earliest(), window.latest()],
        )
        .map_err(sql_error(&label, "removing record counts"))?;
        tx.commit()
            .map_err(sql_error(&label, "committing a repair"))?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use vigie_model::{SignalKind, TimeRange, EARLIEST_PLAUSIBLE};

    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            entity: "US".parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        }
    }

    const T: UnixSecs = 1_027_380_900; // 2002-07-22T23:35:00Z

    #[test]
    fn a_re_read_from_fewer_records_keeps_the_stored_values() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let bin = BinSize::FIVE_MINUTES;
            let full = [(key(), Some(2_763_162.0))];
            let partial = [(key(), Some(1_178_510.0))];
            assert_eq!(
                store
                    .write_bin_weighted("bgp-mrt", bin, T, &full, 900)
                    .unwrap(),
                WriteOutcome::Written
            );
            assert_eq!(
                store
                    .write_bin_weighted("bgp-mrt", bin, T, &partial, 300)
                    .unwrap(),
                WriteOutcome::KeptStored {
                    stored_records: 900
                }
            );
            let read = |store: &Store| {
                store
                    .read_series(&key(), bin, TimeRange::new(T, T + 300).unwrap())
                    .unwrap()
                    .values
            };
            assert_eq!(read(&store), [Some(2_763_162.0)]);
            // As many records or more: the newer read wins.
            let again = [(key(), Some(2_763_163.0))];
            assert_eq!(
                store
                    .write_bin_weighted("bgp-mrt", bin, T, &again, 900)
                    .unwrap(),
                WriteOutcome::Written
            );
            store.compact().unwrap();
            assert_eq!(read(&store), [Some(2_763_163.0)]);
            assert_eq!(store.bin_records("bgp-mrt", bin, T).unwrap(), Some(900));
        }
    }

    #[test]
    fn check_finds_and_repair_removes_bins_outside_the_window() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let bin = BinSize::FIVE_MINUTES;
            let far = 4_100_000_100; // 2099-12-02
            store
                .write_points(&key(), bin, &[(EARLIEST_PLAUSIBLE - 300, Some(1.0))])
                .unwrap();
            store
                .write_bin("import", bin, T, &[(key(), Some(5.0))])
                .unwrap();
            store
                .write_bin("import", bin, far, &[(key(), Some(7.0))])
                .unwrap();
            let window = TimeWindow::live(1_700_000_000, 86_400);
            // Still staged: the plausible bin is found.
            let staged = store.list_series().unwrap()[0].clone();
            assert_eq!(staged.last_bin, Some(far));
            let range = store.plausible_range(&staged, window).unwrap().unwrap();
            assert!(range.contains(T), "{range}");
            store.compact().unwrap();
            let info = store.list_series().unwrap()[0].clone();
            assert_eq!(info.last_bin, Some(far));
            let range = store.plausible_range(&info, window).unwrap().unwrap();
            assert_eq!(
                (range.from(), range.until()),
                (T - T % 86_400, T - T % 86_400 + 86_400)
            );
            let check = store.check(window).unwrap();
            assert!(check.integrity.is_empty() && check.damaged.is_empty());
            assert_eq!(check.implausible_bins(), 2);
            assert_eq!(check.implausible[0].first, EARLIEST_PLAUSIBLE - 300);
            assert_eq!(check.implausible[0].last, far);
            let report = store.repair(window).unwrap();
            assert_eq!(report.bins_removed, 2);
            assert_eq!(report.series_touched, 1);
            assert_eq!(report.sources_reset, 1);
            assert!(store.check(window).unwrap().is_clean());
            let info = &store.list_series().unwrap()[0];
            assert_eq!((info.first_bin, info.last_bin), (Some(T), Some(T)));
            assert_eq!(
                store.last_committed_bin("import").unwrap(),
                Some(window.latest() / 300 * 300)
            );
        }
    }

    #[test]
    fn a_version_7_database_gains_the_record_counts_and_keeps_its_bins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE_NAME);
        let bin = BinSize::FIVE_MINUTES;
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let mut v7 =
                SqliteStore::setup_with(conn, "v7".into(), true, &crate::MIGRATIONS[..7]).unwrap();
            v7.write_bin("bgp-mrt", bin, T, &[(key(), Some(9.0))])
                .unwrap();
        }
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            crate::MIGRATIONS.len() as u32
        );
        assert_eq!(store.bin_records("bgp-mrt", bin, T).unwrap(), None);
        let outcome = store
            .write_bin_weighted("bgp-mrt", bin, T, &[(key(), Some(8.0))], 1)
            .unwrap();
        assert_eq!(outcome, WriteOutcome::Written);
        assert_eq!(store.bin_records("bgp-mrt", bin, T).unwrap(), Some(1));
    }
}
