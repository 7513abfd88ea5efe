//! The SQLite backend: one connection to `<data_dir>/vigie.sqlite` in WAL mode.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rustc_hash::FxHashMap;
use vigie_model::{
    format_utc, BinSize, Entity, EntityKind, Series, SeriesKey, SignalKind, UnixSecs,
};

use crate::codec::{self, block_of};
use crate::error::{sql_error, BUSY_TIMEOUT};
use crate::extent::{
    decode_day, entity_infos, first_in_day, fold_staged, last_in_day, series_infos, updated_chunk,
    Extent, Fill, SeriesRow, Staging,
};
use crate::schema::{self, MIGRATIONS};
use crate::{InputRecord, SeriesInfo, StoreError};

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "vigie.sqlite";

use crate::codec::day_of;
use crate::error::corrupt;

/// How long the write log (what live detection polls) keeps its rows, in
/// seconds (pruned at compaction).
pub(crate) const WRITE_LOG_KEEP_SECS: i64 = 2 * 86_400;

pub(crate) fn describe(key: &SeriesKey) -> String {
    format!("{}/{}", key.entity, key.signal)
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn check_aligned(bin: BinSize, t: UnixSecs) -> Result<(), StoreError> {
    if bin.floor(t) == t {
        Ok(())
    } else {
        Err(StoreError::MisalignedBin {
            time: format_utc(t),
            bin_secs: bin.secs(),
        })
    }
}

pub(crate) fn check_finite(
    key: &SeriesKey,
    t: UnixSecs,
    value: Option<f64>,
) -> Result<(), StoreError> {
    match value {
        Some(x) if !x.is_finite() => Err(StoreError::NonFiniteValue {
            series: describe(key),
            time: format_utc(t),
            value: x,
        }),
        _ => Ok(()),
    }
}

/// Checks a bin write's source, alignment and values.
pub(crate) fn check_bin(
    source: &str,
    bin: BinSize,
    bin_start: UnixSecs,
    values: &[(SeriesKey, Option<f64>)],
) -> Result<(), StoreError> {
    check_source(source)?;
    check_aligned(bin, bin_start)?;
    for (key, value) in values {
        check_finite(key, bin_start, *value)?;
    }
    Ok(())
}

/// Checks a points write's alignment and values.
pub(crate) fn check_points(
    key: &SeriesKey,
    bin: BinSize,
    points: &[(UnixSecs, Option<f64>)],
) -> Result<(), StoreError> {
    for &(t, value) in points {
        check_aligned(bin, t)?;
        check_finite(key, t, value)?;
    }
    Ok(())
}

/// Points grouped by day, each as (slot in the day, value).
pub(crate) fn points_by_day(
    bin: BinSize,
    points: &[(UnixSecs, Option<f64>)],
) -> BTreeMap<UnixSecs, Vec<(usize, Option<f64>)>> {
    let bin_secs = i64::from(bin.secs());
    let mut by_day: BTreeMap<UnixSecs, Vec<(usize, Option<f64>)>> = BTreeMap::new();
    for &(t, value) in points {
        let day = day_of(t);
        let slot = ((t - day) / bin_secs) as usize;
        by_day.entry(day).or_default().push((slot, value));
    }
    by_day
}

/// The first and last time of `points` (0 for none).
pub(crate) fn points_span(points: &[(UnixSecs, Option<f64>)]) -> (UnixSecs, UnixSecs) {
    let first = points.iter().map(|p| p.0).min().unwrap_or_default();
    let last = points.iter().map(|p| p.0).max().unwrap_or_default();
    (first, last)
}

/// The record count stored for a bin, when more than `records`: the
/// stored bin is kept and nothing written.
pub(crate) fn kept_stored(stored: Option<i64>, records: i64) -> Option<vigie_model::WriteOutcome> {
    stored
        .filter(|&stored| stored > records)
        .map(|stored| vigie_model::WriteOutcome::KeptStored {
            stored_records: stored.max(0) as u64,
        })
}

/// A bin's values as staged entries sorted by series id; `ids` are the
/// series ids of `values`, in order. A series given twice is an error.
pub(crate) fn bin_entries(
    source: &str,
    bin_start: UnixSecs,
    values: &[(SeriesKey, Option<f64>)],
    ids: Vec<i64>,
) -> Result<Vec<(i64, Option<f64>)>, StoreError> {
    let mut order: Vec<(i64, usize)> = ids.into_iter().zip(0..).collect();
    order.sort_unstable();
    let mut entries: Vec<(i64, Option<f64>)> = Vec::with_capacity(order.len());
    for &(id, index) in &order {
        let Some((key, value)) = values.get(index) else {
            continue;
        };
        if entries.last().is_some_and(|(last, _)| *last == id) {
            return Err(StoreError::DuplicateSeries {
                series: describe(key),
                time: format_utc(bin_start),
                source_name: source.to_string(),
            });
        }
        entries.push((id, *value));
    }
    Ok(entries)
}

/// A bin's entries (sorted by series id) as staged rows: each block with
/// its encoded entries.
pub(crate) fn staged_blocks(
    entries: &[(i64, Option<f64>)],
) -> impl Iterator<Item = (i64, Vec<u8>)> + '_ {
    entries
        .chunk_by(|a, b| block_of(a.0) == block_of(b.0))
        .filter_map(|block_entries| {
            let &(first_id, _) = block_entries.first()?;
            Some((block_of(first_id), codec::encode_staged(block_entries)))
        })
}

/// The entries of a staged bin being rewritten.
pub(crate) fn decode_rewritten(
    label: &str,
    source: &str,
    bin_start: UnixSecs,
    data: &[u8],
) -> Result<Vec<(i64, Option<f64>)>, StoreError> {
    codec::decode_staged(data).map_err(|e| {
        corrupt(
            label,
            format!("staged bin {} of '{source}': {e}", format_utc(bin_start)),
        )
    })
}

/// Adds to `entries` (sorted by series id) the `old` entries of the
/// series they do not mention, keeping them sorted.
pub(crate) fn keep_unmentioned(
    entries: &mut Vec<(i64, Option<f64>)>,
    old: Vec<(i64, Option<f64>)>,
) {
    let kept: Vec<(i64, Option<f64>)> = old
        .into_iter()
        .filter(|(id, _)| entries.binary_search_by_key(id, |e| e.0).is_err())
        .collect();
    entries.extend(kept);
    entries.sort_unstable_by_key(|e| e.0);
}

pub(crate) fn check_source(source: &str) -> Result<(), StoreError> {
    let length = source.chars().count();
    if (1..=64).contains(&length) && !source.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(StoreError::BadSourceName(source.to_string()))
    }
}

pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::TooLarge { what, value })
}

/// Parses a stored bin size.
pub(crate) fn stored_bin(label: &str, bin_secs: i64) -> Result<BinSize, StoreError> {
    u32::try_from(bin_secs)
        .ok()
        .and_then(|secs| BinSize::new(secs).ok())
        .ok_or_else(|| corrupt(label, format!("stored bin size {bin_secs} s is not valid")))
}

/// Builds an entity from its stored kind and code; `None` for a kind this
/// build does not know.
pub(crate) fn stored_entity(kind: &str, code: &str) -> Option<Entity> {
    Entity::from_kind_code(kind.parse().ok()?, code).ok()
}

/// Builds a series key from stored names; `None` for names this build does
/// not know (for example a signal added by a newer vigie).
pub(crate) fn stored_key(kind: &str, code: &str, signal: &str) -> Option<SeriesKey> {
    let kind: EntityKind = kind.parse().ok()?;
    Some(SeriesKey {
        entity: Entity::from_kind_code(kind, code).ok()?,
        signal: signal.parse::<SignalKind>().ok()?,
    })
}

/// The SQLite implementation of the store.
pub(crate) struct SqliteStore {
    conn: Connection,
    /// The database path for messages, or `:memory:`.
    label: String,
    /// Series ids by bin size and key. Ids never change once assigned, so
    /// entries stay valid; misses go to the database.
    series_ids: HashMap<u32, FxHashMap<SeriesKey, i64>>,
    entity_ids: FxHashMap<Entity, i64>,
    /// Whether the caches were filled from the database in one go.
    caches_loaded: bool,
    /// Whether the schema has the write log (migration 7; tests open
    /// older schemas to write as an older vigie did).
    write_log: bool,
}

impl SqliteStore {
    /// Opens or creates `<data_dir>/vigie.sqlite`.
    pub(crate) fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let not_writable = |detail: String| StoreError::DataDirNotWritable {
            dir: data_dir.to_path_buf(),
            detail,
        };
        std::fs::create_dir_all(data_dir)
            .map_err(|e| not_writable(format!("cannot create it: {e}")))?;
        // SQLite needs to create the -wal and -shm files beside the database.
        let probe = data_dir.join(format!(".vigie-write-probe-{}", std::process::id()));
        std::fs::write(&probe, b"probe")
            .map_err(|e| not_writable(format!("cannot write in it: {e}")))?;
        // The probe is ours and empty of meaning; failing to remove it is harmless.
        let _ = std::fs::remove_file(&probe);

        let path = data_dir.join(DB_FILE_NAME);
        let label = path.display().to_string();
        if path.is_dir() {
            return Err(StoreError::NotAVigieDatabase {
                path: label,
                detail: "it is a directory".to_string(),
            });
        }
        let conn = Connection::open(&path).map_err(sql_error(&label, "opening the database"))?;
        Self::setup(conn, label, true)
    }

    /// Another connection to the same database file; an in-memory database
    /// has no other.
    pub(crate) fn reconnect(&self) -> Result<Self, StoreError> {
        let label = &self.label;
        let in_memory = rusqlite::Error::InvalidPath(std::path::PathBuf::new());
        let path = match self.conn.path() {
            Some(path) if !path.is_empty() => std::path::PathBuf::from(path),
            _ => {
                return Err(sql_error(label, "another connection to a store in memory")(
                    in_memory,
                ))
            }
        };
        let conn = Connection::open(&path).map_err(sql_error(label, "opening the database"))?;
        Self::setup(conn, label.clone(), true)
    }

    /// A private database in memory, for tests and one-off runs.
    pub(crate) fn open_in_memory() -> Result<Self, StoreError> {
        let label = ":memory:".to_string();
        let conn = Connection::open_in_memory()
            .map_err(sql_error(&label, "opening an in-memory database"))?;
        Self::setup(conn, label, false)
    }

    fn setup(conn: Connection, label: String, on_disk: bool) -> Result<Self, StoreError> {
        Self::setup_with(conn, label, on_disk, MIGRATIONS)
    }

    /// Configures a connection and brings its schema to `migrations.len()`.
    pub(crate) fn setup_with(
        mut conn: Connection,
        label: String,
        on_disk: bool,
        migrations: &[&str],
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql_error(&label, "setting the lock timeout"))?;
        // Plans stay fixed: SQLite would otherwise re-prepare cached
        // statements when bound values change, which dominated compaction.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(sql_error(&label, "configuring the query planner"))?;
        schema::check_identity(&conn, &label)?;
        if on_disk {
            // WAL lets readers work while one writer commits. On file systems
            // without shared memory SQLite keeps its rollback journal, which
            // still works for a single process.
            let _mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(sql_error(&label, "switching to WAL mode"))?;
        }
        // FULL: a committed write_bin survives a power cut, not only a crash.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(sql_error(&label, "configuring the connection"))?;
        schema::migrate(&mut conn, &label, migrations)?;
        Ok(SqliteStore {
            conn,
            label,
            series_ids: HashMap::new(),
            entity_ids: FxHashMap::default(),
            caches_loaded: false,
            write_log: migrations.len() >= 7,
        })
    }

    /// The database path, or `:memory:`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn schema_version(&self) -> Result<u32, StoreError> {
        schema::user_version(&self.conn, &self.label)
    }

    fn invalidate_caches(&mut self) {
        self.series_ids.clear();
        self.entity_ids.clear();
        self.caches_loaded = false;
    }

    /// Fills the id caches from the database, once.
    fn load_caches(&mut self) -> Result<(), StoreError> {
        if self.caches_loaded {
            return Ok(());
        }
        let label = &self.label;
        let mut entities: HashMap<i64, Entity> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT entity_id, kind, code FROM entities")
                .map_err(sql_error(label, "loading entities"))?;
            let mut rows = stmt
                .query([])
                .map_err(sql_error(label, "loading entities"))?;
            while let Some(row) = rows.next().map_err(sql_error(label, "loading entities"))? {
                let id: i64 = row.get(0).map_err(sql_error(label, "loading entities"))?;
                let kind: String = row.get(1).map_err(sql_error(label, "loading entities"))?;
                let code: String = row.get(2).map_err(sql_error(label, "loading entities"))?;
                let entity = kind
                    .parse::<EntityKind>()
                    .ok()
                    .and_then(|kind| Entity::from_kind_code(kind, &code).ok());
                if let Some(entity) = entity {
                    self.entity_ids.insert(entity.clone(), id);
                    entities.insert(id, entity);
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT series_id, entity_id, signal, bin_secs FROM series")
            .map_err(sql_error(label, "loading series"))?;
        let mut rows = stmt.query([]).map_err(sql_error(label, "loading series"))?;
        while let Some(row) = rows.next().map_err(sql_error(label, "loading series"))? {
            let id: i64 = row.get(0).map_err(sql_error(label, "loading series"))?;
            let entity_id: i64 = row.get(1).map_err(sql_error(label, "loading series"))?;
            let signal: String = row.get(2).map_err(sql_error(label, "loading series"))?;
            let bin_secs: i64 = row.get(3).map_err(sql_error(label, "loading series"))?;
            let (Some(entity), Ok(signal), Ok(bin_secs)) = (
                entities.get(&entity_id),
                signal.parse::<SignalKind>(),
                u32::try_from(bin_secs),
            ) else {
                continue; // Names this build does not know; it cannot write them either.
            };
            let key = SeriesKey {
                entity: entity.clone(),
                signal,
            };
            self.series_ids.entry(bin_secs).or_default().insert(key, id);
        }
        self.caches_loaded = true;
        Ok(())
    }

    pub(crate) fn write_bin(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
    ) -> Result<(), StoreError> {
        check_bin(source, bin, bin_start, values)?;
        self.write_bin_recorded(source, bin, bin_start, values, None)
            .map(|_| ())
    }

    /// [`Self::write_bin`], and when `records` is given, the record count
    /// behind the bin (`bin_records`, migration 8) in the same
    /// transaction: a bin stored from more records is kept, nothing written.
    pub(crate) fn write_bin_recorded(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
        records: Option<u64>,
    ) -> Result<vigie_model::WriteOutcome, StoreError> {
        check_bin(source, bin, bin_start, values)?;
        self.load_caches()?;
        let result = self.write_bin_unchecked(source, bin, bin_start, values, records);
        if result.is_err() {
            // The transaction rolled back: ids it assigned do not exist.
            self.invalidate_caches();
        }
        result
    }

    fn write_bin_unchecked(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
        records: Option<u64>,
    ) -> Result<vigie_model::WriteOutcome, StoreError> {
        let label = &self.label;
        let bin_secs = bin.secs();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error(label, "starting a bin write"))?;
        let records = records.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        if let Some(records) = records {
            let stored: Option<i64> = tx
                .prepare_cached(
                    "SELECT records FROM bin_records WHERE source = ?1 AND bin_secs = ?2 AND bin_start = ?3",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![source, bin_secs, bin_start], |row| row.get(0))
                        .optional()
                })
                .map_err(sql_error(label, "reading a bin's record count"))?;
            if let Some(kept) = kept_stored(stored, records) {
                return Ok(kept);
            }
            tx.prepare_cached(
                "INSERT INTO bin_records (source, bin_secs, bin_start, records) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source, bin_secs, bin_start) DO UPDATE SET records = excluded.records",
            )
            .and_then(|mut stmt| stmt.execute(params![source, bin_secs, bin_start, records]))
            .map_err(sql_error(label, "recording a bin's record count"))?;
        }

        let by_key = self.series_ids.entry(bin_secs).or_default();
        let mut ids: Vec<i64> = Vec::with_capacity(values.len());
        for (key, _) in values {
            ids.push(resolve_series(
                &tx,
                label,
                &mut self.entity_ids,
                by_key,
                key,
                bin_secs,
            )?);
        }
        let mut entries = bin_entries(source, bin_start, values, ids)?;

        // A rewrite of a bin still staged keeps the series it does not
        // mention, as a rewrite of a compacted bin does.
        let mut old_entries = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT data FROM staged_bins WHERE source = ?1 AND bin_secs = ?2 AND bin_start = ?3",
                )
                .map_err(sql_error(label, "reading a staged bin"))?;
            let mut rows = stmt
                .query(params![source, bin_secs, bin_start])
                .map_err(sql_error(label, "reading a staged bin"))?;
            while let Some(row) = rows
                .next()
                .map_err(sql_error(label, "reading a staged bin"))?
            {
                let data = row
                    .get_ref(0)
                    .and_then(|v| Ok(v.as_blob()?))
                    .map_err(sql_error(label, "reading a staged bin"))?;
                old_entries.extend(decode_rewritten(label, source, bin_start, data)?);
            }
        }
        if !old_entries.is_empty() {
            keep_unmentioned(&mut entries, old_entries);
            tx.execute(
                "DELETE FROM staged_bins WHERE source = ?1 AND bin_secs = ?2 AND bin_start = ?3",
                params![source, bin_secs, bin_start],
            )
            .map_err(sql_error(label, "replacing a staged bin"))?;
        }

        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO staged_bins (source, bin_secs, bin_start, block, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql_error(label, "staging a bin"))?;
            for (block, data) in staged_blocks(&entries) {
                insert
                    .execute(params![source, bin_secs, bin_start, block, data])
                    .map_err(sql_error(label, "staging a bin"))?;
            }
        }
        tx.execute(
            "INSERT INTO sources (source, bin_secs, last_bin_start, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source) DO UPDATE SET
                 bin_secs = excluded.bin_secs,
                 last_bin_start = max(last_bin_start, excluded.last_bin_start),
                 updated_at = excluded.updated_at",
            params![source, bin_secs, bin_start, now_secs()],
        )
        .map_err(sql_error(label, "recording the source's progress"))?;
        if self.write_log {
            log_write(&tx, label, source, bin_secs, bin_start, bin_start, None)?;
        }
        tx.commit().map_err(sql_error(label, "committing a bin"))?;
        Ok(vigie_model::WriteOutcome::Written)
    }

    pub(crate) fn write_points(
        &mut self,
        key: &SeriesKey,
        bin: BinSize,
        points: &[(UnixSecs, Option<f64>)],
    ) -> Result<(), StoreError> {
        check_points(key, bin, points)?;
        if points.is_empty() {
            return Ok(());
        }
        let result = self.write_points_unchecked(key, bin, points);
        if result.is_err() {
            self.invalidate_caches();
        }
        result
    }

    fn write_points_unchecked(
        &mut self,
        key: &SeriesKey,
        bin: BinSize,
        points: &[(UnixSecs, Option<f64>)],
    ) -> Result<(), StoreError> {
        let label = &self.label;
        let bin_secs = bin.secs();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error(label, "starting a points write"))?;
        let by_key = self.series_ids.entry(bin_secs).or_default();
        let id = resolve_series(&tx, label, &mut self.entity_ids, by_key, key, bin_secs)?;
        // Fold staged values of this series first, so these points, written
        // last, win over them.
        compact_block(&tx, label, block_of(id))?;
        for (day, updates) in &points_by_day(bin, points) {
            apply_chunk_updates(&tx, label, id, bin, *day, updates)?;
        }
        refresh_summary(&tx, label, id, bin)?;
        let (first, last) = points_span(points);
        if self.write_log {
            log_write(&tx, label, "points", bin_secs, first, last, Some(id))?;
        }
        tx.commit().map_err(sql_error(label, "committing points"))
    }

    pub(crate) fn compact(&mut self) -> Result<(), StoreError> {
        let label = &self.label;
        let blocks: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT block FROM staged_bins ORDER BY block")
                .map_err(sql_error(label, "listing staged blocks"))?;
            let rows = stmt
                .query_map([], |row| row.get(0))
                .map_err(sql_error(label, "listing staged blocks"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql_error(label, "listing staged blocks"))?
        };
        if self.write_log {
            self.conn
                .execute(
                    "DELETE FROM bin_writes WHERE written_at < ?1",
                    [now_secs() - WRITE_LOG_KEEP_SECS],
                )
                .map_err(sql_error(label, "pruning the write log"))?;
        }
        // One transaction per block keeps each short; a crash between blocks
        // leaves every value either staged or in its chunk.
        for block in blocks {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error(label, "starting a compaction"))?;
            compact_block(&tx, label, block)?;
            tx.commit()
                .map_err(sql_error(label, "committing a compaction"))?;
        }
        Ok(())
    }

    /// (chunk rows, chunk bytes), for measuring the encoding.
    #[cfg(test)]
    pub(crate) fn chunk_footprint(&self) -> (i64, i64) {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(data)), 0) FROM chunks",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap_or((0, 0))
    }

    /// The raw connection: for the result tables (`results.rs`) and for
    /// tests that inspect or damage the schema.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn staged_bin_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM (SELECT DISTINCT source, bin_secs, bin_start FROM staged_bins)",
                [],
                |row| row.get(0),
            )
            .map_err(sql_error(&self.label, "counting staged bins"))?;
        Ok(count.max(0) as u64)
    }

    pub(crate) fn last_committed_bin(&self, source: &str) -> Result<Option<UnixSecs>, StoreError> {
        self.conn
            .query_row(
                "SELECT last_bin_start FROM sources WHERE source = ?1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_error(&self.label, "reading a source's progress"))
    }

    pub(crate) fn read_series(
        &self,
        key: &SeriesKey,
        bin: BinSize,
        range: vigie_model::TimeRange,
    ) -> Result<Series, StoreError> {
        let label = &self.label;
        let mut series = Series::empty(key.clone(), bin, range);
        // One read transaction: chunks and staged bins from the same snapshot,
        // even while another connection compacts.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(sql_error(label, "starting a read"))?;
        let Some(id) = find_series(&tx, label, key, bin)? else {
            return Ok(series);
        };
        let end = series.end();
        read_values(&tx, label, id, bin, series.start, end, &mut series.values)?;
        Ok(series)
    }

    /// Every series (of `only`, when given) with its entity name and where
    /// its data lies. With `only`, just the staged rows of its series'
    /// blocks are decoded, so a read of one entity costs the same whatever
    /// the number of series staged beside it.
    fn series_rows(&self, only: Option<&Entity>) -> Result<Vec<SeriesRow>, StoreError> {
        let label = &self.label;
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(sql_error(label, "starting a read"))?;
        let mut rows: Vec<SeriesRow> = Vec::new();
        {
            let context = "listing series";
            let select = "SELECT s.series_id, e.kind, e.code, s.signal, s.bin_secs, e.name,
                                 s.first_bin, s.last_bin, s.last_value
                          FROM series s JOIN entities e ON e.entity_id = s.entity_id";
            let filtered;
            let (sql, args) = match only {
                Some(entity) => {
                    filtered = format!("{select} WHERE e.kind = ?1 AND e.code = ?2");
                    (
                        filtered.as_str(),
                        vec![entity.kind().name().to_string(), entity.code()],
                    )
                }
                None => (select, Vec::new()),
            };
            let mut stmt = tx.prepare(sql).map_err(sql_error(label, context))?;
            let mut query = stmt
                .query(rusqlite::params_from_iter(args))
                .map_err(sql_error(label, context))?;
            while let Some(row) = query.next().map_err(sql_error(label, context))? {
                let get_text = |i| row.get::<_, String>(i).map_err(sql_error(label, context));
                let Some(key) = stored_key(&get_text(1)?, &get_text(2)?, &get_text(3)?) else {
                    continue; // Written by a newer vigie with names this build does not know.
                };
                let series_id: i64 = row.get(0).map_err(sql_error(label, context))?;
                let bin = stored_bin(label, row.get(4).map_err(sql_error(label, context))?)?;
                let entity_name: Option<String> = row.get(5).map_err(sql_error(label, context))?;
                let first_bin: Option<i64> = row.get(6).map_err(sql_error(label, context))?;
                let last_bin: Option<i64> = row.get(7).map_err(sql_error(label, context))?;
                let last_value: Option<f64> = row.get(8).map_err(sql_error(label, context))?;
                rows.push(SeriesRow {
                    series_id,
                    key,
                    bin,
                    entity_name,
                    chunks: Extent {
                        first_bin,
                        last: last_bin.zip(last_value),
                    },
                });
            }
        }

        // Staged bins, newest first: the first value met for a series and
        // bin is the one that counts. Entries and rows are both sorted by
        // series id, so each staged row is merged with one walk, no hashing.
        let mut staging = Staging::new(rows);
        {
            let context = "reading staged bins";
            let order: Vec<(i64, i64, i64)> = match only {
                None => {
                    let mut stmt = tx
                        .prepare(
                            "SELECT stage_row, bin_start, block FROM staged_bins
                             ORDER BY bin_start DESC, stage_row DESC",
                        )
                        .map_err(sql_error(label, context))?;
                    let rows = stmt
                        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                        .map_err(sql_error(label, context))?;
                    rows.collect::<Result<_, _>>()
                        .map_err(sql_error(label, context))?
                }
                Some(_) => {
                    // Only the blocks of the entity's series, by the block index.
                    let blocks = staging.blocks();
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT stage_row, bin_start, block FROM staged_bins WHERE block = ?1",
                        )
                        .map_err(sql_error(label, context))?;
                    let mut order: Vec<(i64, i64, i64)> = Vec::new();
                    for block in blocks {
                        let rows = stmt
                            .query_map([block], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                            .map_err(sql_error(label, context))?;
                        for row in rows {
                            order.push(row.map_err(sql_error(label, context))?);
                        }
                    }
                    order.sort_unstable_by_key(|a| std::cmp::Reverse((a.1, a.0)));
                    order
                }
            };
            let mut stmt = tx
                .prepare("SELECT data FROM staged_bins WHERE stage_row = ?1")
                .map_err(sql_error(label, context))?;
            for (stage_row, bin_start, block) in order {
                let data: Vec<u8> = stmt
                    .query_row([stage_row], |row| row.get(0))
                    .map_err(sql_error(label, context))?;
                staging.visit(label, bin_start, block, &data)?;
            }
        }

        staging.finish(|series_id, bin, start, end, values| {
            read_values(&tx, label, series_id, bin, start, end, values)
        })
    }

    pub(crate) fn list_series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        self.series_infos(None)
    }

    /// The series of `entity`, as [`Self::list_series`] lists them.
    pub(crate) fn entity_series(&self, entity: &Entity) -> Result<Vec<SeriesInfo>, StoreError> {
        self.series_infos(Some(entity))
    }

    fn series_infos(&self, only: Option<&Entity>) -> Result<Vec<SeriesInfo>, StoreError> {
        Ok(series_infos(self.series_rows(only)?))
    }

    pub(crate) fn entities(&self) -> Result<Vec<crate::EntityInfo>, StoreError> {
        Ok(entity_infos(self.series_rows(None)?))
    }

    pub(crate) fn has_entity(&self, entity: &Entity) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM entities e JOIN series s ON s.entity_id = e.entity_id
                                WHERE e.kind = ?1 AND e.code = ?2)",
                params![entity.kind().name(), entity.code()],
                |row| row.get(0),
            )
            .map_err(sql_error(&self.label, "looking up an entity"))
    }

    pub(crate) fn entity_names(&self) -> Result<Vec<(Entity, String)>, StoreError> {
        let label = &self.label;
        let context = "listing entity names";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, code, name FROM entities WHERE name IS NOT NULL AND name <> ''",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(sql_error(label, context))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, code, name) = row.map_err(sql_error(label, context))?;
            // Kinds a newer vigie wrote and this build does not know are skipped.
            if let Some(entity) = stored_entity(&kind, &code) {
                out.push((entity, name));
            }
        }
        Ok(out)
    }

    pub(crate) fn entity_name(&self, entity: &Entity) -> Result<Option<String>, StoreError> {
        let name: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT name FROM entities WHERE kind = ?1 AND code = ?2",
                params![entity.kind().name(), entity.code()],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_error(&self.label, "looking up an entity name"))?;
        Ok(name.flatten())
    }

    pub(crate) fn set_entity_names(
        &mut self,
        names: &[(Entity, String)],
    ) -> Result<(), StoreError> {
        let label = &self.label;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error(label, "starting to name entities"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO entities (kind, code, name) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, code) DO UPDATE SET name = excluded.name",
                )
                .map_err(sql_error(label, "naming an entity"))?;
            for (entity, name) in names {
                let name = name.trim();
                let name = (!name.is_empty()).then_some(name);
                stmt.execute(params![entity.kind().name(), entity.code(), name])
                    .map_err(sql_error(label, "naming an entity"))?;
            }
        }
        tx.commit()
            .map_err(sql_error(label, "committing entity names"))
    }

    pub(crate) fn record_input_done(
        &mut self,
        source: &str,
        input: &InputRecord,
    ) -> Result<(), StoreError> {
        check_source(source)?;
        let size_bytes = to_i64("size_bytes", input.size_bytes)?;
        let records = to_i64("records", input.records)?;
        let errors = to_i64("errors", input.errors)?;
        self.conn
            .execute(
                "INSERT INTO inputs_done (source, path, size_bytes, mtime, records, errors)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source, path) DO UPDATE SET size_bytes = excluded.size_bytes,
                     mtime = excluded.mtime, records = excluded.records, errors = excluded.errors",
                params![source, input.path, size_bytes, input.mtime, records, errors],
            )
            .map_err(sql_error(&self.label, "recording a processed input"))?;
        Ok(())
    }

    pub(crate) fn inputs_done(&self, source: &str) -> Result<Vec<InputRecord>, StoreError> {
        let label = &self.label;
        let context = "listing processed inputs";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, size_bytes, mtime, records, errors FROM inputs_done
                 WHERE source = ?1 ORDER BY path",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([source], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .map_err(sql_error(label, context))?;
        let mut inputs = Vec::new();
        for row in rows {
            let (path, size_bytes, mtime, records, errors) =
                row.map_err(sql_error(label, context))?;
            let unsigned = |what: &str, v: i64| {
                u64::try_from(v)
                    .map_err(|_| corrupt(label, format!("input {path}: negative {what} {v}")))
            };
            inputs.push(InputRecord {
                size_bytes: unsigned("size", size_bytes)?,
                records: unsigned("record count", records)?,
                errors: unsigned("error count", errors)?,
                mtime,
                path,
            });
        }
        Ok(inputs)
    }
}

/// The id of `key`'s series at `bin_secs`, created if new.
fn resolve_series(
    conn: &Connection,
    label: &str,
    entity_ids: &mut FxHashMap<Entity, i64>,
    series_ids: &mut FxHashMap<SeriesKey, i64>,
    key: &SeriesKey,
    bin_secs: u32,
) -> Result<i64, StoreError> {
    if let Some(&id) = series_ids.get(key) {
        return Ok(id);
    }
    let entity_id = match entity_ids.get(&key.entity) {
        Some(&id) => id,
        None => {
            let context = "adding an entity";
            let (kind, code) = (key.entity.kind().name(), key.entity.code());
            conn.prepare_cached(
                "INSERT INTO entities (kind, code) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![kind, code]))
            .map_err(sql_error(label, context))?;
            let id: i64 = conn
                .prepare_cached("SELECT entity_id FROM entities WHERE kind = ?1 AND code = ?2")
                .and_then(|mut stmt| stmt.query_row(params![kind, code], |row| row.get(0)))
                .map_err(sql_error(label, context))?;
            entity_ids.insert(key.entity.clone(), id);
            id
        }
    };
    let context = "adding a series";
    let signal = key.signal.name();
    conn.prepare_cached(
        "INSERT INTO series (entity_id, signal, bin_secs) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![entity_id, signal, bin_secs]))
    .map_err(sql_error(label, context))?;
    let id: i64 = conn
        .prepare_cached(
            "SELECT series_id FROM series WHERE entity_id = ?1 AND signal = ?2 AND bin_secs = ?3",
        )
        .and_then(|mut stmt| stmt.query_row(params![entity_id, signal, bin_secs], |row| row.get(0)))
        .map_err(sql_error(label, context))?;
    series_ids.insert(key.clone(), id);
    Ok(id)
}

/// The id of an existing series, without creating it.
pub(crate) fn find_series(
    conn: &Connection,
    label: &str,
    key: &SeriesKey,
    bin: BinSize,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT s.series_id FROM series s JOIN entities e ON e.entity_id = s.entity_id
         WHERE e.kind = ?1 AND e.code = ?2 AND s.signal = ?3 AND s.bin_secs = ?4",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                key.entity.kind().name(),
                key.entity.code(),
                key.signal.name(),
                bin.secs()
            ],
            |row| row.get(0),
        )
        .optional()
    })
    .map_err(sql_error(label, "looking up a series"))
}

/// Fills `values` (bins from `start` to `end`) from chunks, then staged bins.
fn read_values(
    conn: &Connection,
    label: &str,
    series_id: i64,
    bin: BinSize,
    start: UnixSecs,
    end: UnixSecs,
    values: &mut [Option<f64>],
) -> Result<(), StoreError> {
    let bin_secs = i64::from(bin.secs());
    let mut fill = Fill::new(label, series_id, bin, start, end, values);
    let context = "reading chunks";
    let mut stmt = conn
        .prepare_cached(
            "SELECT chunk_start, data FROM chunks
             WHERE series_id = ?1 AND chunk_start >= ?2 AND chunk_start < ?3 ORDER BY chunk_start",
        )
        .map_err(sql_error(label, context))?;
    let mut rows = stmt
        .query(params![series_id, day_of(start), end])
        .map_err(sql_error(label, context))?;
    while let Some(row) = rows.next().map_err(sql_error(label, context))? {
        let chunk_start: i64 = row.get(0).map_err(sql_error(label, context))?;
        let data = row
            .get_ref(1)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(sql_error(label, context))?;
        fill.chunk(chunk_start, data)?;
    }

    let context = "reading staged bins";
    let mut stmt = conn
        .prepare_cached(
            "SELECT bin_start, data FROM staged_bins
             WHERE block = ?1 AND bin_start >= ?2 AND bin_start < ?3 AND bin_secs = ?4
             ORDER BY bin_start, stage_row",
        )
        .map_err(sql_error(label, context))?;
    let mut rows = stmt
        .query(params![block_of(series_id), start, end, bin_secs])
        .map_err(sql_error(label, context))?;
    while let Some(row) = rows.next().map_err(sql_error(label, context))? {
        let bin_start: i64 = row.get(0).map_err(sql_error(label, context))?;
        let data = row
            .get_ref(1)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(sql_error(label, context))?;
        fill.staged(bin_start, data)?;
    }
    Ok(())
}

/// Sets bins of one day of a series, creating, rewriting or deleting its chunk.
pub(crate) fn apply_chunk_updates(
    conn: &Connection,
    label: &str,
    series_id: i64,
    bin: BinSize,
    day: UnixSecs,
    updates: &[(usize, Option<f64>)],
) -> Result<(), StoreError> {
    let context = "updating a chunk";
    let existing: Option<Vec<u8>> = conn
        .prepare_cached("SELECT data FROM chunks WHERE series_id = ?1 AND chunk_start = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![series_id, day], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error(label, context))?;
    let values = updated_chunk(label, series_id, bin, day, existing.as_deref(), updates)?;
    if values.iter().all(Option::is_none) {
        conn.prepare_cached("DELETE FROM chunks WHERE series_id = ?1 AND chunk_start = ?2")
            .and_then(|mut stmt| stmt.execute(params![series_id, day]))
            .map_err(sql_error(label, context))?;
    } else {
        let data = codec::encode_chunk(&values);
        conn.prepare_cached(
            "INSERT OR REPLACE INTO chunks (series_id, chunk_start, data) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut stmt| stmt.execute(params![series_id, day, data]))
        .map_err(sql_error(label, context))?;
    }
    Ok(())
}

/// One decoded chunk: its day and its values.
type DayValues = (UnixSecs, Vec<Option<f64>>);

/// Recomputes a series' first and last bin with data from its chunks.
pub(crate) fn refresh_summary(
    conn: &Connection,
    label: &str,
    series_id: i64,
    bin: BinSize,
) -> Result<(), StoreError> {
    let context = "summarising a series";
    let bin_secs = i64::from(bin.secs());
    let slots = bin.bins_per_day() as usize;
    let edge_chunk = |sql: &str| -> Result<Option<DayValues>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row([series_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error(label, context))?;
        match row {
            None => Ok(None),
            Some((day, data)) => {
                decode_day(label, series_id, day, &data, slots).map(|values| Some((day, values)))
            }
        }
    };
    let first_bin = edge_chunk(
        "SELECT chunk_start, data FROM chunks WHERE series_id = ?1 ORDER BY chunk_start ASC LIMIT 1",
    )?
    .and_then(|(day, values)| first_in_day(day, &values, bin_secs));
    let last = edge_chunk(
        "SELECT chunk_start, data FROM chunks WHERE series_id = ?1 ORDER BY chunk_start DESC LIMIT 1",
    )?
    .and_then(|(day, values)| last_in_day(day, &values, bin_secs));
    conn.prepare_cached(
        "UPDATE series SET first_bin = ?2, last_bin = ?3, last_value = ?4 WHERE series_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            series_id,
            first_bin,
            last.map(|l| l.0),
            last.map(|l| l.1)
        ])
    })
    .map_err(sql_error(label, context))?;
    Ok(())
}

/// Folds every staged value of one block into chunks and deletes the block's
/// staged rows, inside the caller's write transaction.
fn compact_block(conn: &Connection, label: &str, block: i64) -> Result<(), StoreError> {
    let context = "compacting staged bins";
    // Values of the current day, per series: (bin size, [(slot, value)]) in
    // write order, so a later write of a bin overrides an earlier one.
    type DayUpdates = BTreeMap<i64, (BinSize, Vec<(usize, Option<f64>)>)>;
    let flush = |day: UnixSecs, pending: &mut DayUpdates, touched: &mut BTreeMap<i64, BinSize>| {
        for (series_id, (bin, updates)) in std::mem::take(pending) {
            apply_chunk_updates(conn, label, series_id, bin, day, &updates)?;
            touched.insert(series_id, bin);
        }
        Ok::<(), StoreError>(())
    };
    let mut touched: BTreeMap<i64, BinSize> = BTreeMap::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT bin_secs, bin_start, data FROM staged_bins WHERE block = ?1 ORDER BY bin_start, stage_row",
            )
            .map_err(sql_error(label, context))?;
        let mut rows = stmt.query([block]).map_err(sql_error(label, context))?;
        let mut current_day: Option<UnixSecs> = None;
        let mut pending: DayUpdates = BTreeMap::new();
        while let Some(row) = rows.next().map_err(sql_error(label, context))? {
            let bin = stored_bin(label, row.get(0).map_err(sql_error(label, context))?)?;
            let bin_start: i64 = row.get(1).map_err(sql_error(label, context))?;
            let data = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(sql_error(label, context))?;
            let day = day_of(bin_start);
            if current_day != Some(day) {
                if let Some(previous) = current_day {
                    flush(previous, &mut pending, &mut touched)?;
                }
                current_day = Some(day);
            }
            fold_staged(label, bin, bin_start, data, |series_id, slot, value| {
                let entry = pending
                    .entry(series_id)
                    .or_insert_with(|| (bin, Vec::new()));
                if entry.0 != bin {
                    return false;
                }
                entry.1.push((slot, value));
                true
            })?;
        }
        if let Some(day) = current_day {
            flush(day, &mut pending, &mut touched)?;
        }
    }
    for (series_id, bin) in touched {
        refresh_summary(conn, label, series_id, bin)?;
    }
    conn.prepare_cached("DELETE FROM staged_bins WHERE block = ?1")
        .and_then(|mut stmt| stmt.execute([block]))
        .map_err(sql_error(label, context))?;
    Ok(())
}

/// Appends one row to the write log (`bin_writes`) inside a write's transaction.
fn log_write(
    tx: &Connection,
    label: &str,
    source: &str,
    bin_secs: u32,
    first_bin: UnixSecs,
    last_bin: UnixSecs,
    series_id: Option<i64>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO bin_writes (source, bin_secs, first_bin, last_bin, series_id, written_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            source,
            bin_secs,
            first_bin,
            last_bin,
            series_id,
            now_secs()
        ])
    })
    .map_err(sql_error(label, "logging a write"))?;
    Ok(())
}
