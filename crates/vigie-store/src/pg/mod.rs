//! The PostgreSQL backend (cargo feature `postgres`): the same tables, the
//! same packed staged bins and run-length chunks (`codec.rs`) and the same
//! rules as SQLite's (`sqlite.rs`), so every read gives the same values.
//!
//! - **Several processes.** Every write of series (`write_bin`,
//!   `write_points`, compaction, repair) takes one transaction-scoped
//!   advisory lock, as SQLite has one writer at a time: "later write wins"
//!   and the write log's order are commit order, whichever process wrote.
//!   Nothing a process caches can go stale: series and entity ids never
//!   change once assigned, and partitions are created with
//!   `IF NOT EXISTS` under the same lock. Reads run in one `REPEATABLE
//!   READ` snapshot, so chunks and staged bins are seen at one instant.
//! - **Time partitions.** `chunks` is partitioned by `chunk_start` into
//!   ranges of 32 days (`schema.rs`), each created by the first write into it.
//! - **Bulk writes.** Staged rows and rewritten chunks go in with binary
//!   `COPY` (chunks through a temporary table, then one upsert).
//! - **Blocking.** The client is `postgres`, the blocking wrapper of
//!   `tokio-postgres`, so the [`crate::Store`] API stays synchronous.
//! - **TLS.** Every connection goes through one rustls connector made from
//!   the URL's `sslmode` and `sslrootcert`, as libpq reads them (`tls.rs`).

mod rest;
pub(crate) mod schema;
mod tls;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, GenericClient, IsolationLevel, Row, Statement, Transaction};
use rustc_hash::FxHashMap;
use vigie_model::{BinSize, Entity, Series, SeriesKey, TimeRange, UnixSecs};

use crate::codec::day_of;
use crate::codec::{self, block_of, BLOCK_SHIFT};
use crate::error::corrupt;
use crate::error::BUSY_TIMEOUT;
use crate::extent::{
    decode_day, entity_infos, first_in_day, fold_staged, last_in_day, series_infos, updated_chunk,
    Extent, Fill, SeriesRow, Staging,
};
use crate::sqlite::{
    bin_entries, check_bin, check_points, check_source, decode_rewritten, describe,
    keep_unmentioned, kept_stored, now_secs, points_by_day, points_span, staged_blocks, stored_bin,
    stored_key, to_i64, WRITE_LOG_KEEP_SECS,
};
use crate::{EntityInfo, InputRecord, SeriesInfo, StoreError};

/// The client type migrations run on.
pub(crate) type Pg = Client;

/// Advisory lock key every series write takes ("vigw").
const WRITE_LOCK: i64 = 0x7669_6777;

/// A parameter list.
type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Turns a client error into a [`StoreError`] that says what to do.
pub(crate) fn pg_error<'a>(
    label: &'a str,
    context: &'static str,
) -> impl FnOnce(postgres::Error) -> StoreError + 'a {
    move |source| {
        let lock_timeout = source
            .code()
            .is_some_and(|code| *code == postgres::error::SqlState::LOCK_NOT_AVAILABLE);
        if lock_timeout {
            StoreError::Busy {
                path: label.to_string(),
                timeout_secs: BUSY_TIMEOUT.as_secs(),
            }
        } else {
            StoreError::Postgres {
                path: label.to_string(),
                context,
                source,
            }
        }
    }
}

/// Column `index` of `row`, or an error naming what was being read.
fn col<'a, T: FromSql<'a>>(
    row: &'a Row,
    index: usize,
    label: &str,
    context: &'static str,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(pg_error(label, context))
}

/// The server and database of a URL, for messages (never the password).
fn describe_config(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_string());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(user);
    if user.is_empty() {
        format!("postgres://{host}:{port}/{db}")
    } else {
        format!("postgres://{user}@{host}:{port}/{db}")
    }
}

/// New values of some bins of one day: (slot, value).
type SlotUpdates = Vec<(usize, Option<f64>)>;

/// Updates of one day of one series: (series id, bin, day, slots).
type ChunkUpdate = (i64, BinSize, UnixSecs, SlotUpdates);

/// One decoded chunk of each series: series id → (day, values).
type EdgeChunks = HashMap<i64, (i64, Vec<Option<f64>>)>;

/// The read statements of one connection, prepared once (a query by its
/// text is parsed anew at each call: one more round trip).
#[derive(Default)]
pub(crate) struct Statements(RefCell<HashMap<&'static str, Statement>>);

impl Statements {
    fn get(
        &self,
        client: &mut impl GenericClient,
        label: &str,
        sql: &'static str,
    ) -> Result<Statement, StoreError> {
        if let Some(statement) = self.0.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = client
            .prepare(sql)
            .map_err(pg_error(label, "preparing a query"))?;
        self.0.borrow_mut().insert(sql, statement.clone());
        Ok(statement)
    }
}

/// The PostgreSQL implementation of the store.
pub(crate) struct PgStore {
    /// The connection; reads need `&mut` on the client, hence the cell
    /// (a `Store` is `Send`, not `Sync`).
    client: RefCell<Client>,
    /// The server's address and options, for another connection.
    config: postgres::Config,
    /// The TLS connector every connection to this server uses.
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// The server and database, for messages.
    label: String,
    series_ids: HashMap<u32, FxHashMap<SeriesKey, i64>>,
    entity_ids: FxHashMap<Entity, i64>,
    caches_loaded: bool,
    /// Partitions of `chunks` known to exist, by start.
    partitions: HashSet<i64>,
    /// Prepared read statements.
    statements: Statements,
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub(crate) fn connect(url: &str) -> Result<Self, StoreError> {
        let bad_url = |detail: String| {
            StoreError::BadStoreUrl(format!("{} ({detail})", crate::without_password(url)))
        };
        let tls_url = tls::split_url(url).map_err(bad_url)?;
        let config: postgres::Config = tls_url
            .rest
            .parse()
            .map_err(|e: postgres::Error| bad_url(crate::error::with_causes(&e)))?;
        let label = describe_config(&config);
        let tls = tls_url
            .connector()
            .map_err(|detail| StoreError::PostgresTls {
                path: label.clone(),
                detail,
            })?;
        Self::open(config, tls, label)
    }

    /// Connects with `config` over `tls` and brings the schema up to date.
    fn open(
        config: postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
        label: String,
    ) -> Result<Self, StoreError> {
        let mut client =
            config
                .connect(tls.clone())
                .map_err(|source| match tls::tls_failure(&source) {
                    Some(detail) => StoreError::PostgresTls {
                        path: label.clone(),
                        detail,
                    },
                    None => pg_error(&label, "connecting to PostgreSQL")(source),
                })?;
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{}s'; SET client_min_messages = warning;",
                BUSY_TIMEOUT.as_secs()
            ))
            .map_err(pg_error(&label, "configuring the connection"))?;
        schema::migrate(&mut client, &label)?;
        client
            .batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS chunk_upload
                   (series_id BIGINT NOT NULL, chunk_start BIGINT NOT NULL, data BYTEA NOT NULL)
                 ON COMMIT DELETE ROWS",
            )
            .map_err(pg_error(&label, "preparing the connection"))?;
        Ok(PgStore {
            client: RefCell::new(client),
            config,
            tls,
            label,
            series_ids: HashMap::new(),
            entity_ids: FxHashMap::default(),
            caches_loaded: false,
            partitions: HashSet::new(),
            statements: Statements::default(),
        })
    }

    /// Another connection to the same database, over the same TLS settings.
    pub(crate) fn reconnect(&self) -> Result<Self, StoreError> {
        Self::open(self.config.clone(), self.tls.clone(), self.label.clone())
    }

    /// `postgres://user@host:port/database`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn schema_version(&self) -> Result<u32, StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(pg_error(&self.label, "reading the schema version"))?;
        schema::version(&mut tx, &self.label)
    }

    /// A read-only transaction over one snapshot.
    fn read<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&mut Transaction<'_>, &str) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(pg_error(&self.label, context))?;
        let out = f(&mut tx, &self.label)?;
        tx.commit().map_err(pg_error(&self.label, context))?;
        Ok(out)
    }

    /// A write transaction (without the series write lock).
    fn write<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&mut Transaction<'_>, &str) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let label = &self.label;
        let client = self.client.get_mut();
        let mut tx = client.transaction().map_err(pg_error(label, context))?;
        let out = f(&mut tx, label)?;
        tx.commit().map_err(pg_error(label, context))?;
        Ok(out)
    }

    fn invalidate_caches(&mut self) {
        self.series_ids.clear();
        self.entity_ids.clear();
        self.caches_loaded = false;
        self.partitions.clear();
    }

    /// Fills the id caches from the database, once.
    fn load_caches(&mut self) -> Result<(), StoreError> {
        if self.caches_loaded {
            return Ok(());
        }
        let label = &self.label;
        let client = self.client.get_mut();
        let context = "loading series";
        let rows = client
            .query(
                "SELECT e.entity_id, e.kind, e.code, s.series_id, s.signal, s.bin_secs
                 FROM entities e LEFT JOIN series s ON s.entity_id = e.entity_id",
                &[],
            )
            .map_err(pg_error(label, context))?;
        for row in &rows {
            let entity_id: i64 = col(row, 0, label, context)?;
            let kind: String = col(row, 1, label, context)?;
            let code: String = col(row, 2, label, context)?;
            let Some(entity) = kind
                .parse()
                .ok()
                .and_then(|kind| Entity::from_kind_code(kind, &code).ok())
            else {
                continue;
            };
            self.entity_ids.insert(entity.clone(), entity_id);
            let series_id: Option<i64> = col(row, 3, label, context)?;
            let signal: Option<String> = col(row, 4, label, context)?;
            let bin_secs: Option<i64> = col(row, 5, label, context)?;
            let (Some(series_id), Some(Ok(signal)), Some(Ok(bin_secs))) = (
                series_id,
                signal.map(|s| s.parse()),
                bin_secs.map(u32::try_from),
            ) else {
                continue;
            };
            self.series_ids
                .entry(bin_secs)
                .or_default()
                .insert(SeriesKey { entity, signal }, series_id);
        }
        let parts = client
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'chunks'::regclass",
                &[],
            )
            .map_err(pg_error(label, "listing partitions"))?;
        for row in &parts {
            let name: String = col(row, 0, label, "listing partitions")?;
            let index = if let Some(n) = name.strip_prefix("chunks_p") {
                n.parse::<i64>().ok()
            } else if let Some(n) = name.strip_prefix("chunks_n") {
                n.parse::<i64>().ok().map(|n| -n)
            } else {
                None
            };
            if let Some(index) = index {
                self.partitions.insert(index * schema::PARTITION_SECS);
            }
        }
        self.caches_loaded = true;
        Ok(())
    }

    /// Runs `f` in a transaction holding the series write lock; on
    /// failure the caches are dropped (ids assigned in it do not exist).
    fn locked_write<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&mut WriteCtx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.load_caches()?;
        let result = (|| {
            let label = self.label.as_str();
            let client = self.client.get_mut();
            let mut tx = client.transaction().map_err(pg_error(label, context))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .map_err(pg_error(label, "waiting for another writer"))?;
            let mut ctx = WriteCtx {
                tx,
                label,
                series_ids: &mut self.series_ids,
                entity_ids: &mut self.entity_ids,
                partitions: &mut self.partitions,
            };
            let out = f(&mut ctx)?;
            ctx.tx.commit().map_err(pg_error(label, context))?;
            Ok(out)
        })();
        if result.is_err() {
            self.invalidate_caches();
        }
        result
    }

    pub(crate) fn write_bin(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
    ) -> Result<(), StoreError> {
        self.write_bin_recorded(source, bin, bin_start, values, None)
            .map(|_| ())
    }

    /// `write_bin`, with the record count behind the bin when given
    /// (a bin stored from more records is kept, nothing written).
    pub(crate) fn write_bin_recorded(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
        records: Option<u64>,
    ) -> Result<vigie_model::WriteOutcome, StoreError> {
        check_bin(source, bin, bin_start, values)?;
        let records = records.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        self.locked_write("writing a bin", |w| {
            w.write_bin(source, bin, bin_start, values, records)
        })
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
        self.locked_write("writing points", |w| {
            let bin_secs = i64::from(bin.secs());
            let id = w.resolve_series(&[key], bin)?[0];
            // Staged values of this series first, so these points win.
            w.compact_block(block_of(id))?;
            let updates: Vec<ChunkUpdate> = points_by_day(bin, points)
                .into_iter()
                .map(|(day, slots)| (id, bin, day, slots))
                .collect();
            w.update_chunks(updates)?;
            w.refresh_summaries(&[(id, bin)])?;
            let (first, last) = points_span(points);
            w.log_write("points", bin_secs, first, last, Some(id))
        })
    }

    pub(crate) fn compact(&mut self) -> Result<(), StoreError> {
        let label = self.label.clone();
        let blocks: Vec<i64> = {
            let client = self.client.get_mut();
            let rows = client
                .query("SELECT DISTINCT block FROM staged_bins ORDER BY block", &[])
                .map_err(pg_error(&label, "listing staged blocks"))?;
            rows.iter()
                .map(|row| col(row, 0, &label, "listing staged blocks"))
                .collect::<Result<_, _>>()?
        };
        self.client
            .get_mut()
            .execute(
                "DELETE FROM bin_writes WHERE written_at < $1",
                &[&(now_secs() - WRITE_LOG_KEEP_SECS)],
            )
            .map_err(pg_error(&label, "pruning the write log"))?;
        // One transaction per block keeps each short.
        for block in blocks {
            self.locked_write("compacting staged bins", |w| w.compact_block(block))?;
        }
        Ok(())
    }

    /// (chunk rows, chunk bytes), for measuring the encoding.
    #[cfg(test)]
    pub(crate) fn chunk_footprint(&self) -> (i64, i64) {
        self.client
            .borrow_mut()
            .query_one(
                "SELECT count(*), coalesce(sum(length(data)), 0)::BIGINT FROM chunks",
                &[],
            )
            .map(|row| (row.get(0), row.get(1)))
            .unwrap_or((0, 0))
    }

    pub(crate) fn staged_bin_count(&self) -> Result<u64, StoreError> {
        self.read("counting staged bins", |tx, label| {
            let count: i64 = tx
                .query_one(
                    "SELECT count(*) FROM (SELECT DISTINCT source, bin_secs, bin_start FROM staged_bins) s",
                    &[],
                )
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(label, "counting staged bins"))?;
            Ok(count.max(0) as u64)
        })
    }

    pub(crate) fn last_committed_bin(&self, source: &str) -> Result<Option<UnixSecs>, StoreError> {
        self.read("reading a source's progress", |tx, label| {
            let row = tx
                .query_opt(
                    "SELECT last_bin_start FROM sources WHERE source = $1",
                    &[&source],
                )
                .map_err(pg_error(label, "reading a source's progress"))?;
            row.map(|row| col(&row, 0, label, "reading a source's progress"))
                .transpose()
        })
    }

    pub(crate) fn read_series(
        &self,
        key: &SeriesKey,
        bin: BinSize,
        range: TimeRange,
    ) -> Result<Series, StoreError> {
        let mut series = Series::empty(key.clone(), bin, range);
        // One statement (so one snapshot, without a transaction around
        // it): the series' id, its chunks, then its block's staged bins.
        // Each round trip to the server is two wake-ups, each of which
        // waits for a core when the machine is busy (docs/BENCHMARKS.md).
        let label = &self.label;
        let context = "reading a series";
        let mut client = self.client.borrow_mut();
        let statement = self.statements.get(
            &mut *client,
            label,
            "WITH s AS (
                 SELECT s.series_id FROM series s JOIN entities e ON e.entity_id = s.entity_id
                 WHERE e.kind = $1 AND e.code = $2 AND s.signal = $3 AND s.bin_secs = $4)
             SELECT s.series_id, 0 AS part, c.chunk_start AS at, 0::BIGINT AS stage_row, c.data
             FROM s JOIN chunks c ON c.series_id = s.series_id
             WHERE c.chunk_start >= $5 AND c.chunk_start < $7
             UNION ALL
             SELECT s.series_id, 1, b.bin_start, b.stage_row, b.data
             FROM s JOIN staged_bins b ON b.block = s.series_id >> $8
             WHERE b.bin_start >= $6 AND b.bin_start < $7 AND b.bin_secs = $4
             ORDER BY part, at, stage_row",
        )?;
        let end = series.end();
        let shift = BLOCK_SHIFT as i32;
        let rows = client
            .query(
                &statement,
                &[
                    &key.entity.kind().name(),
                    &key.entity.code(),
                    &key.signal.name(),
                    &i64::from(bin.secs()),
                    &day_of(series.start),
                    &series.start,
                    &end,
                    &shift,
                ],
            )
            .map_err(pg_error(label, context))?;
        let Some(first) = rows.first() else {
            return Ok(series);
        };
        let id: i64 = col(first, 0, label, context)?;
        let start = series.start;
        let mut fill = Fill::new(label, id, bin, start, end, &mut series.values);
        for row in &rows {
            let part: i32 = col(row, 1, label, context)?;
            let at: i64 = col(row, 2, label, context)?;
            let data: &[u8] = col(row, 4, label, context)?;
            if part == 0 {
                fill.chunk(at, data)?;
            } else {
                fill.staged(at, data)?;
            }
        }
        Ok(series)
    }

    /// Every series (of `only`, when given) with its entity name and
    /// where its data lies; with `only`, just its blocks' staged rows are read.
    fn series_rows(&self, only: Option<&Entity>) -> Result<Vec<SeriesRow>, StoreError> {
        let kind = only.map(|e| e.kind().name().to_string());
        let code = only.map(|e| e.code());
        self.read("listing series", |tx, label| {
            let context = "listing series";
            let mut rows: Vec<SeriesRow> = Vec::new();
            let statement = self.statements.get(
                tx,
                label,
                "SELECT s.series_id, e.kind, e.code, s.signal, s.bin_secs, e.name,
                        s.first_bin, s.last_bin, s.last_value
                 FROM series s JOIN entities e ON e.entity_id = s.entity_id
                 WHERE $1::text IS NULL OR (e.kind = $1 AND e.code = $2)",
            )?;
            for row in tx
                .query(&statement, &[&kind, &code])
                .map_err(pg_error(label, context))?
            {
                let kind: String = col(&row, 1, label, context)?;
                let code: String = col(&row, 2, label, context)?;
                let signal: String = col(&row, 3, label, context)?;
                let Some(key) = stored_key(&kind, &code, &signal) else {
                    continue;
                };
                let first_bin: Option<i64> = col(&row, 6, label, context)?;
                let last_bin: Option<i64> = col(&row, 7, label, context)?;
                let last_value: Option<f64> = col(&row, 8, label, context)?;
                rows.push(SeriesRow {
                    series_id: col(&row, 0, label, context)?,
                    key,
                    bin: stored_bin(label, col(&row, 4, label, context)?)?,
                    entity_name: col(&row, 5, label, context)?,
                    chunks: Extent {
                        first_bin,
                        last: last_bin.zip(last_value),
                    },
                });
            }
            let mut staging = Staging::new(rows);
            {
                let context = "reading staged bins";
                let blocks = staging.blocks();
                let all = only.is_none();
                let params: Vec<&(dyn ToSql + Sync)> = vec![&all, &blocks];
                let statement = self.statements.get(
                    tx,
                    label,
                    "SELECT bin_start, block, data FROM staged_bins
                     WHERE $1 OR block = ANY($2)
                     ORDER BY bin_start DESC, stage_row DESC",
                )?;
                let mut iter = tx
                    .query_raw(&statement, params)
                    .map_err(pg_error(label, context))?;
                while let Some(row) = iter.next().map_err(pg_error(label, context))? {
                    let bin_start: i64 = col(&row, 0, label, context)?;
                    let block: i64 = col(&row, 1, label, context)?;
                    let data: &[u8] = col(&row, 2, label, context)?;
                    staging.visit(label, bin_start, block, data)?;
                }
            }
            let statements = &self.statements;
            staging.finish(|series_id, bin, start, end, values| {
                read_values(tx, label, statements, series_id, bin, start, end, values)
            })
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

    pub(crate) fn entities(&self) -> Result<Vec<EntityInfo>, StoreError> {
        Ok(entity_infos(self.series_rows(None)?))
    }

    pub(crate) fn has_entity(&self, entity: &Entity) -> Result<bool, StoreError> {
        self.read("looking up an entity", |tx, label| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM entities e JOIN series s ON s.entity_id = e.entity_id
                                WHERE e.kind = $1 AND e.code = $2)",
                &[&entity.kind().name(), &entity.code()],
            )
            .and_then(|row| row.try_get(0))
            .map_err(pg_error(label, "looking up an entity"))
        })
    }

    pub(crate) fn entity_names(&self) -> Result<Vec<(Entity, String)>, StoreError> {
        self.read("listing entity names", |tx, label| {
            let context = "listing entity names";
            let rows = tx
                .query(
                    "SELECT kind, code, name FROM entities WHERE name IS NOT NULL AND name <> ''",
                    &[],
                )
                .map_err(pg_error(label, context))?;
            let mut out = Vec::new();
            for row in &rows {
                let kind: String = col(row, 0, label, context)?;
                let code: String = col(row, 1, label, context)?;
                let name: String = col(row, 2, label, context)?;
                if let Some(entity) = crate::sqlite::stored_entity(&kind, &code) {
                    out.push((entity, name));
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn entity_name(&self, entity: &Entity) -> Result<Option<String>, StoreError> {
        // One statement, prepared once, outside a transaction: one round trip.
        let label = &self.label;
        let context = "looking up an entity name";
        let mut client = self.client.borrow_mut();
        let statement = self.statements.get(
            &mut *client,
            label,
            "SELECT name FROM entities WHERE kind = $1 AND code = $2",
        )?;
        let row = client
            .query_opt(&statement, &[&entity.kind().name(), &entity.code()])
            .map_err(pg_error(label, context))?;
        Ok(row
            .map(|row| col::<Option<String>>(&row, 0, label, context))
            .transpose()?
            .flatten())
    }

    pub(crate) fn set_entity_names(
        &mut self,
        names: &[(Entity, String)],
    ) -> Result<(), StoreError> {
        // The last name given for an entity wins, as one row at a time would.
        let mut last: HashMap<&Entity, Option<String>> = HashMap::new();
        for (entity, name) in names {
            let name = name.trim();
            last.insert(entity, (!name.is_empty()).then(|| name.to_string()));
        }
        let mut kinds = Vec::with_capacity(last.len());
        let mut codes = Vec::with_capacity(last.len());
        let mut values: Vec<Option<String>> = Vec::with_capacity(last.len());
        for (entity, name) in last {
            kinds.push(entity.kind().name());
            codes.push(entity.code());
            values.push(name);
        }
        self.write("naming entities", |tx, label| {
            tx.execute(
                "INSERT INTO entities (kind, code, name)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (kind, code) DO UPDATE SET name = excluded.name",
                &[&kinds, &codes, &values],
            )
            .map_err(pg_error(label, "naming entities"))?;
            Ok(())
        })
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
        self.write("recording a processed input", |tx, label| {
            tx.execute(
                "INSERT INTO inputs_done (source, path, size_bytes, mtime, records, errors)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (source, path) DO UPDATE SET size_bytes = excluded.size_bytes,
                     mtime = excluded.mtime, records = excluded.records, errors = excluded.errors",
                &[
                    &source,
                    &input.path,
                    &size_bytes,
                    &input.mtime,
                    &records,
                    &errors,
                ],
            )
            .map_err(pg_error(label, "recording a processed input"))?;
            Ok(())
        })
    }

    pub(crate) fn inputs_done(&self, source: &str) -> Result<Vec<InputRecord>, StoreError> {
        self.read("listing processed inputs", |tx, label| {
            let context = "listing processed inputs";
            let rows = tx
                .query(
                    "SELECT path, size_bytes, mtime, records, errors FROM inputs_done
                     WHERE source = $1 ORDER BY path COLLATE \"C\"",
                    &[&source],
                )
                .map_err(pg_error(label, context))?;
            let mut inputs = Vec::new();
            for row in &rows {
                let path: String = col(row, 0, label, context)?;
                let unsigned = |what: &str, i: usize| -> Result<u64, StoreError> {
                    let v: i64 = col(row, i, label, context)?;
                    u64::try_from(v)
                        .map_err(|_| corrupt(label, format!("input {path}: negative {what} {v}")))
                };
                inputs.push(InputRecord {
                    size_bytes: unsigned("size", 1)?,
                    records: unsigned("record count", 3)?,
                    errors: unsigned("error count", 4)?,
                    mtime: col(row, 2, label, context)?,
                    path,
                });
            }
            Ok(inputs)
        })
    }
}

/// A write transaction holding the series write lock, with the caches.
struct WriteCtx<'c, 's> {
    tx: Transaction<'c>,
    label: &'s str,
    series_ids: &'s mut HashMap<u32, FxHashMap<SeriesKey, i64>>,
    entity_ids: &'s mut FxHashMap<Entity, i64>,
    partitions: &'s mut HashSet<i64>,
}

impl WriteCtx<'_, '_> {
    fn write_bin(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
        records: Option<i64>,
    ) -> Result<vigie_model::WriteOutcome, StoreError> {
        let label = self.label;
        let bin_secs = i64::from(bin.secs());
        if let Some(records) = records {
            let stored: Option<i64> = self
                .tx
                .query_opt(
                    "SELECT records FROM bin_records WHERE source = $1 AND bin_secs = $2 AND bin_start = $3",
                    &[&source, &bin_secs, &bin_start],
                )
                .map_err(pg_error(label, "reading a bin's record count"))?
                .map(|row| col(&row, 0, label, "reading a bin's record count"))
                .transpose()?;
            if let Some(kept) = kept_stored(stored, records) {
                return Ok(kept);
            }
            self.tx
                .execute(
                    "INSERT INTO bin_records (source, bin_secs, bin_start, records) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (source, bin_secs, bin_start) DO UPDATE SET records = excluded.records",
                    &[&source, &bin_secs, &bin_start, &records],
                )
                .map_err(pg_error(label, "recording a bin's record count"))?;
        }
        let keys: Vec<&SeriesKey> = values.iter().map(|(key, _)| key).collect();
        let ids = self.resolve_series(&keys, bin)?;
        let mut entries = bin_entries(source, bin_start, values, ids)?;
        // A rewrite of a bin still staged keeps the series it does not mention.
        let mut old_entries = Vec::new();
        for row in self
            .tx
            .query(
                "SELECT data FROM staged_bins WHERE source = $1 AND bin_secs = $2 AND bin_start = $3",
                &[&source, &bin_secs, &bin_start],
            )
            .map_err(pg_error(label, "reading a staged bin"))?
        {
            let data: &[u8] = col(&row, 0, label, "reading a staged bin")?;
            old_entries.extend(decode_rewritten(label, source, bin_start, data)?);
        }
        if !old_entries.is_empty() {
            keep_unmentioned(&mut entries, old_entries);
            self.tx
                .execute(
                    "DELETE FROM staged_bins WHERE source = $1 AND bin_secs = $2 AND bin_start = $3",
                    &[&source, &bin_secs, &bin_start],
                )
                .map_err(pg_error(label, "replacing a staged bin"))?;
        }
        {
            let context = "staging a bin";
            let sink = self
                .tx
                .copy_in(
                    "COPY staged_bins (source, bin_secs, bin_start, block, data) FROM STDIN BINARY",
                )
                .map_err(pg_error(label, context))?;
            let mut writer = BinaryCopyInWriter::new(
                sink,
                &[Type::TEXT, Type::INT8, Type::INT8, Type::INT8, Type::BYTEA],
            );
            for (block, data) in staged_blocks(&entries) {
                writer
                    .write(&[&source, &bin_secs, &bin_start, &block, &data])
                    .map_err(pg_error(label, context))?;
            }
            writer.finish().map_err(pg_error(label, context))?;
        }
        self.tx
            .execute(
                "INSERT INTO sources (source, bin_secs, last_bin_start, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (source) DO UPDATE SET
                     bin_secs = excluded.bin_secs,
                     last_bin_start = greatest(sources.last_bin_start, excluded.last_bin_start),
                     updated_at = excluded.updated_at",
                &[&source, &bin_secs, &bin_start, &now_secs()],
            )
            .map_err(pg_error(label, "recording the source's progress"))?;
        self.log_write(source, bin_secs, bin_start, bin_start, None)?;
        Ok(vigie_model::WriteOutcome::Written)
    }

    /// The ids of `keys`' series at `bin`, created if new (in bulk).
    fn resolve_series(
        &mut self,
        keys: &[&SeriesKey],
        bin: BinSize,
    ) -> Result<Vec<i64>, StoreError> {
        let label = self.label;
        let bin_secs = i64::from(bin.secs());
        let by_key = self.series_ids.entry(bin.secs()).or_default();
        let missing: Vec<&SeriesKey> = {
            let mut seen = HashSet::new();
            keys.iter()
                .copied()
                .filter(|key| !by_key.contains_key(*key) && seen.insert(*key))
                .collect()
        };
        if !missing.is_empty() {
            let context = "adding entities";
            let mut seen = HashSet::new();
            let new_entities: Vec<&Entity> = missing
                .iter()
                .map(|key| &key.entity)
                .filter(|e| !self.entity_ids.contains_key(*e) && seen.insert(*e))
                .collect();
            if !new_entities.is_empty() {
                let kinds: Vec<&str> = new_entities.iter().map(|e| e.kind().name()).collect();
                let codes: Vec<String> = new_entities.iter().map(|e| e.code()).collect();
                self.tx
                    .execute(
                        "INSERT INTO entities (kind, code) SELECT * FROM unnest($1::text[], $2::text[])
                         ON CONFLICT DO NOTHING",
                        &[&kinds, &codes],
                    )
                    .map_err(pg_error(label, context))?;
                let rows = self
                    .tx
                    .query(
                        "SELECT e.entity_id, e.kind, e.code FROM entities e
                         JOIN unnest($1::text[], $2::text[]) AS u (kind, code)
                           ON e.kind = u.kind AND e.code = u.code",
                        &[&kinds, &codes],
                    )
                    .map_err(pg_error(label, context))?;
                let mut found: HashMap<(String, String), i64> = HashMap::new();
                for row in &rows {
                    found.insert(
                        (col(row, 1, label, context)?, col(row, 2, label, context)?),
                        col(row, 0, label, context)?,
                    );
                }
                for entity in new_entities {
                    let id = found
                        .get(&(entity.kind().name().to_string(), entity.code()))
                        .copied()
                        .ok_or_else(|| corrupt(label, format!("entity {entity} was not added")))?;
                    self.entity_ids.insert(entity.clone(), id);
                }
            }
            let context = "adding series";
            let mut entity_col = Vec::with_capacity(missing.len());
            let mut signal_col = Vec::with_capacity(missing.len());
            for key in &missing {
                let entity_id =
                    self.entity_ids.get(&key.entity).copied().ok_or_else(|| {
                        corrupt(label, format!("entity {} has no id", key.entity))
                    })?;
                entity_col.push(entity_id);
                signal_col.push(key.signal.name());
            }
            self.tx
                .execute(
                    "INSERT INTO series (entity_id, signal, bin_secs)
                     SELECT u.e, u.s, $3 FROM unnest($1::bigint[], $2::text[]) AS u (e, s)
                     ON CONFLICT DO NOTHING",
                    &[&entity_col, &signal_col, &bin_secs],
                )
                .map_err(pg_error(label, context))?;
            let rows = self
                .tx
                .query(
                    "SELECT s.series_id, s.entity_id, s.signal FROM series s
                     JOIN unnest($1::bigint[], $2::text[]) AS u (e, s2)
                       ON s.entity_id = u.e AND s.signal = u.s2
                     WHERE s.bin_secs = $3",
                    &[&entity_col, &signal_col, &bin_secs],
                )
                .map_err(pg_error(label, context))?;
            let mut found: HashMap<(i64, String), i64> = HashMap::new();
            for row in &rows {
                found.insert(
                    (col(row, 1, label, context)?, col(row, 2, label, context)?),
                    col(row, 0, label, context)?,
                );
            }
            for (key, entity_id) in missing.iter().zip(&entity_col) {
                let id = found
                    .get(&(*entity_id, key.signal.name().to_string()))
                    .copied()
                    .ok_or_else(|| {
                        corrupt(label, format!("series {} was not added", describe(key)))
                    })?;
                by_key.insert((*key).clone(), id);
            }
        }
        keys.iter()
            .map(|key| {
                by_key
                    .get(*key)
                    .copied()
                    .ok_or_else(|| corrupt(label, format!("series {} has no id", describe(key))))
            })
            .collect()
    }

    /// Sets bins of days of series, creating, rewriting or deleting chunks.
    fn update_chunks(&mut self, updates: Vec<ChunkUpdate>) -> Result<(), StoreError> {
        update_chunks(&mut self.tx, self.label, self.partitions, updates)
    }

    fn refresh_summaries(&mut self, series: &[(i64, BinSize)]) -> Result<(), StoreError> {
        refresh_summaries(&mut self.tx, self.label, series)
    }

    /// Folds every staged value of one block into chunks and deletes the
    /// block's staged rows.
    fn compact_block(&mut self, block: i64) -> Result<(), StoreError> {
        let label = self.label;
        let context = "compacting staged bins";
        let mut pending: BTreeMap<(i64, UnixSecs), SlotUpdates> = BTreeMap::new();
        let mut bins: BTreeMap<i64, BinSize> = BTreeMap::new();
        let rows = self
            .tx
            .query(
                "SELECT bin_secs, bin_start, data FROM staged_bins WHERE block = $1
                 ORDER BY bin_start, stage_row",
                &[&block],
            )
            .map_err(pg_error(label, context))?;
        for row in &rows {
            let bin = stored_bin(label, col(row, 0, label, context)?)?;
            let bin_start: i64 = col(row, 1, label, context)?;
            let data: &[u8] = col(row, 2, label, context)?;
            let day = day_of(bin_start);
            fold_staged(label, bin, bin_start, data, |series_id, slot, value| {
                if *bins.entry(series_id).or_insert(bin) != bin {
                    return false;
                }
                pending
                    .entry((series_id, day))
                    .or_default()
                    .push((slot, value));
                true
            })?;
        }
        if pending.is_empty() {
            return Ok(());
        }
        let updates: Vec<ChunkUpdate> = pending
            .into_iter()
            .map(|((id, day), slots)| (id, bins[&id], day, slots))
            .collect();
        self.update_chunks(updates)?;
        let touched: Vec<(i64, BinSize)> = bins.into_iter().collect();
        self.refresh_summaries(&touched)?;
        self.tx
            .execute("DELETE FROM staged_bins WHERE block = $1", &[&block])
            .map_err(pg_error(label, context))?;
        Ok(())
    }

    /// Appends one row to the write log.
    fn log_write(
        &mut self,
        source: &str,
        bin_secs: i64,
        first_bin: UnixSecs,
        last_bin: UnixSecs,
        series_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO bin_writes (source, bin_secs, first_bin, last_bin, series_id, written_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&source, &bin_secs, &first_bin, &last_bin, &series_id, &now_secs()],
            )
            .map_err(pg_error(self.label, "logging a write"))?;
        Ok(())
    }
}

/// Sets bins of days of series, creating, rewriting or deleting chunks
/// (new and rewritten chunks go in with one `COPY` and one upsert).
pub(crate) fn update_chunks(
    tx: &mut Transaction<'_>,
    label: &str,
    partitions: &mut HashSet<i64>,
    updates: Vec<ChunkUpdate>,
) -> Result<(), StoreError> {
    let context = "updating chunks";
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = updates.iter().map(|u| u.0).collect();
    let days: Vec<i64> = updates.iter().map(|u| u.2).collect();
    let (min_day, max_day) = (
        days.iter().copied().min().unwrap_or(0),
        days.iter().copied().max().unwrap_or(0),
    );
    let mut existing: HashMap<(i64, i64), Vec<u8>> = HashMap::new();
    for row in tx
        .query(
            "SELECT c.series_id, c.chunk_start, c.data FROM chunks c
             JOIN unnest($1::bigint[], $2::bigint[]) AS u (id, day)
               ON c.series_id = u.id AND c.chunk_start = u.day
             WHERE c.chunk_start >= $3 AND c.chunk_start <= $4",
            &[&ids, &days, &min_day, &max_day],
        )
        .map_err(pg_error(label, context))?
    {
        existing.insert(
            (col(&row, 0, label, context)?, col(&row, 1, label, context)?),
            col(&row, 2, label, context)?,
        );
    }
    let mut deleted: (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut written: Vec<(i64, i64, Vec<u8>)> = Vec::new();
    for (id, bin, day, slots_set) in updates {
        let old = existing.get(&(id, day)).map(Vec::as_slice);
        let values = updated_chunk(label, id, bin, day, old, &slots_set)?;
        if values.iter().all(Option::is_none) {
            if existing.contains_key(&(id, day)) {
                deleted.0.push(id);
                deleted.1.push(day);
            }
        } else {
            written.push((id, day, codec::encode_chunk(&values)));
        }
    }
    if !deleted.0.is_empty() {
        tx.execute(
            "DELETE FROM chunks c USING unnest($1::bigint[], $2::bigint[]) AS u (id, day)
             WHERE c.series_id = u.id AND c.chunk_start = u.day",
            &[&deleted.0, &deleted.1],
        )
        .map_err(pg_error(label, context))?;
    }
    if written.is_empty() {
        return Ok(());
    }
    let mut new_partitions: Vec<i64> = written
        .iter()
        .map(|w| schema::partition_of(w.1).1)
        .filter(|from| !partitions.contains(from))
        .collect();
    new_partitions.sort_unstable();
    new_partitions.dedup();
    for from in new_partitions {
        let (name, from, until) = schema::partition_of(from);
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF chunks FOR VALUES FROM ({from}) TO ({until})"
        ))
        .map_err(pg_error(label, "adding a time partition of chunks"))?;
        partitions.insert(from);
    }
    {
        let sink = tx
            .copy_in("COPY chunk_upload (series_id, chunk_start, data) FROM STDIN BINARY")
            .map_err(pg_error(label, context))?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::BYTEA]);
        for (id, day, data) in &written {
            writer
                .write(&[id, day, data])
                .map_err(pg_error(label, context))?;
        }
        writer.finish().map_err(pg_error(label, context))?;
    }
    tx.batch_execute(
        "INSERT INTO chunks (series_id, chunk_start, data)
           SELECT series_id, chunk_start, data FROM chunk_upload
         ON CONFLICT (series_id, chunk_start) DO UPDATE SET data = excluded.data;
         TRUNCATE chunk_upload;",
    )
    .map_err(pg_error(label, context))?;
    Ok(())
}

/// Recomputes series' first and last bin with data from their chunks.
pub(crate) fn refresh_summaries(
    tx: &mut Transaction<'_>,
    label: &str,
    series: &[(i64, BinSize)],
) -> Result<(), StoreError> {
    let context = "summarising series";
    if series.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = series.iter().map(|s| s.0).collect();
    let bins: HashMap<i64, BinSize> = series.iter().copied().collect();
    let edge = |tx: &mut Transaction<'_>, order: &str| -> Result<EdgeChunks, StoreError> {
        let mut out = HashMap::new();
        for row in tx
            .query(
                &format!(
                    "SELECT u.id, c.chunk_start, c.data FROM unnest($1::bigint[]) AS u (id)
                     CROSS JOIN LATERAL (SELECT chunk_start, data FROM chunks
                        WHERE series_id = u.id ORDER BY chunk_start {order} LIMIT 1) c"
                ),
                &[&ids],
            )
            .map_err(pg_error(label, context))?
        {
            let id: i64 = col(&row, 0, label, context)?;
            let day: i64 = col(&row, 1, label, context)?;
            let data: &[u8] = col(&row, 2, label, context)?;
            let Some(bin) = bins.get(&id) else { continue };
            let values = decode_day(label, id, day, data, bin.bins_per_day() as usize)?;
            out.insert(id, (day, values));
        }
        Ok(out)
    };
    let firsts = edge(tx, "ASC")?;
    let lasts = edge(tx, "DESC")?;
    let mut first_col: Vec<Option<i64>> = Vec::with_capacity(ids.len());
    let mut last_col: Vec<Option<i64>> = Vec::with_capacity(ids.len());
    let mut value_col: Vec<Option<f64>> = Vec::with_capacity(ids.len());
    for id in &ids {
        let step = bins.get(id).map(|b| i64::from(b.secs())).unwrap_or(1);
        let first = firsts
            .get(id)
            .and_then(|(day, values)| first_in_day(*day, values, step));
        let last = lasts
            .get(id)
            .and_then(|(day, values)| last_in_day(*day, values, step));
        first_col.push(first);
        last_col.push(last.map(|l| l.0));
        value_col.push(last.map(|l| l.1));
    }
    tx.execute(
        "UPDATE series s SET first_bin = u.f, last_bin = u.l, last_value = u.v
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[]) AS u (id, f, l, v)
         WHERE s.series_id = u.id",
        &[&ids, &first_col, &last_col, &value_col],
    )
    .map_err(pg_error(label, context))?;
    Ok(())
}

/// The id of an existing series, without creating it.
pub(crate) fn find_series(
    tx: &mut Transaction<'_>,
    label: &str,
    statements: &Statements,
    key: &SeriesKey,
    bin: BinSize,
) -> Result<Option<i64>, StoreError> {
    let statement = statements.get(
        tx,
        label,
        "SELECT s.series_id FROM series s JOIN entities e ON e.entity_id = s.entity_id
         WHERE e.kind = $1 AND e.code = $2 AND s.signal = $3 AND s.bin_secs = $4",
    )?;
    let row = tx
        .query_opt(
            &statement,
            &[
                &key.entity.kind().name(),
                &key.entity.code(),
                &key.signal.name(),
                &i64::from(bin.secs()),
            ],
        )
        .map_err(pg_error(label, "looking up a series"))?;
    row.map(|row| col(&row, 0, label, "looking up a series"))
        .transpose()
}

/// Fills `values` (bins from `start` to `end`) from chunks, then staged bins.
#[allow(clippy::too_many_arguments)]
fn read_values(
    tx: &mut Transaction<'_>,
    label: &str,
    statements: &Statements,
    series_id: i64,
    bin: BinSize,
    start: UnixSecs,
    end: UnixSecs,
    values: &mut [Option<f64>],
) -> Result<(), StoreError> {
    let bin_secs = i64::from(bin.secs());
    let mut fill = Fill::new(label, series_id, bin, start, end, values);
    let context = "reading chunks";
    let params: [&(dyn ToSql + Sync); 3] = [&series_id, &day_of(start), &end];
    let statement = statements.get(
        tx,
        label,
        "SELECT chunk_start, data FROM chunks
         WHERE series_id = $1 AND chunk_start >= $2 AND chunk_start < $3 ORDER BY chunk_start",
    )?;
    for row in tx
        .query(&statement, &params as &Params)
        .map_err(pg_error(label, context))?
    {
        let chunk_start: i64 = col(&row, 0, label, context)?;
        let data: &[u8] = col(&row, 1, label, context)?;
        fill.chunk(chunk_start, data)?;
    }
    let context = "reading staged bins";
    let statement = statements.get(
        tx,
        label,
        "SELECT bin_start, data FROM staged_bins
         WHERE block = $1 AND bin_start >= $2 AND bin_start < $3 AND bin_secs = $4
         ORDER BY bin_start, stage_row",
    )?;
    for row in tx
        .query(&statement, &[&block_of(series_id), &start, &end, &bin_secs])
        .map_err(pg_error(label, context))?
    {
        let bin_start: i64 = col(&row, 0, label, context)?;
        let data: &[u8] = col(&row, 1, label, context)?;
        fill.staged(bin_start, data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use postgres::{Client, NoTls};
    use vigie_model::{BinSize, SeriesKey, SignalKind};

    use super::schema::PG_MIGRATIONS;
    use crate::{current_version, Store, StoreError, MIGRATIONS};

    fn raw(url: &str) -> Client {
        Client::connect(url, NoTls).unwrap()
    }

    #[test]
    fn the_schema_has_sqlites_steps_and_refuses_what_it_does_not_know() {
        assert_eq!(PG_MIGRATIONS.len(), MIGRATIONS.len());
        let Some(db) = vigie_testdata::postgres::test_database() else {
            return;
        };
        let url = db.url();
        let store = Store::open_url(&url).unwrap();
        assert_eq!(store.schema_version().unwrap(), current_version());
        assert!(store.location().starts_with("postgres://vigie@127.0.0.1:"));
        // Opening again changes nothing; a newer vigie's database is refused.
        drop(Store::open_url(&url).unwrap());
        raw(&url)
            .batch_execute("UPDATE vigie_schema SET version = 99")
            .unwrap();
        let err = Store::open_url(&url).err().unwrap();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        // Another program's database is refused, and left alone.
        let other = vigie_testdata::postgres::test_database().unwrap();
        raw(&other.url())
            .batch_execute("CREATE TABLE invoices (id INT)")
            .unwrap();
        let err = Store::open_url(&other.url()).err().unwrap();
        assert!(
            err.to_string().contains("1 tables of another program"),
            "{err}"
        );
    }

    #[test]
    fn chunks_go_to_time_partitions_made_on_demand() {
        let Some(db) = vigie_testdata::postgres::test_database() else {
            return;
        };
        let mut store = Store::open_url(&db.url()).unwrap();
        let key = SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        };
        let day = 1_641_340_800;
        let bin = BinSize::FIVE_MINUTES;
        store
            .write_points(
                &key,
                bin,
                &[(day, Some(1.0)), (day + 40 * 86_400, Some(2.0))],
            )
            .unwrap();
        store
            .write_bin("s", bin, day + 300, &[(key.clone(), Some(3.0))])
            .unwrap();
        store.compact().unwrap();
        let partitions: Vec<String> = raw(&db.url())
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'chunks'::regclass ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(partitions, ["chunks_p593", "chunks_p594"]);
        let range = vigie_model::TimeRange::new(day, day + 600).unwrap();
        assert_eq!(
            store.read_series(&key, bin, range).unwrap().values,
            [Some(1.0), Some(3.0)]
        );
    }

    #[test]
    fn tls_modes_connect_check_the_certificate_or_are_refused() {
        let Some(db) = vigie_testdata::postgres::tls_test_database() else {
            return;
        };
        let server = db.server();
        let ca = server.ca_file().unwrap().display().to_string();
        let at = |host: &str, params: &str| db.url_at(host, params);
        // require: TLS without a certificate check; writes and reads go
        // through, and another connection uses the same TLS.
        let key = SeriesKey {
            entity: "KZ".parse().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        };
        let day = 1_641_340_800;
        let bin = BinSize::FIVE_MINUTES;
        let mut store = Store::open_url(&at("127.0.0.1", "sslmode=require")).unwrap();
        store
            .write_points(&key, bin, &[(day, Some(1.0)), (day + 300, Some(2.0))])
            .unwrap();
        let range = vigie_model::TimeRange::new(day, day + 600).unwrap();
        let other = store.reconnect().unwrap();
        assert_eq!(
            other.read_series(&key, bin, range).unwrap().values,
            [Some(1.0), Some(2.0)]
        );
        // prefer (the default) takes TLS when the server offers it.
        let store = Store::open_url(&at("127.0.0.1", "")).unwrap();
        assert_eq!(store.read_series(&key, bin, range).unwrap().values.len(), 2);
        // verify-full: the test CA, and the name the certificate holds.
        let full = format!("sslmode=verify-full&sslrootcert={ca}");
        let store = Store::open_url(&at("localhost", &full)).unwrap();
        assert_eq!(
            store.read_series(&key, bin, range).unwrap().values,
            [Some(1.0), Some(2.0)]
        );
        // verify-ca checks the chain, not the name; verify-full both.
        let verify_ca = format!("sslmode=verify-ca&sslrootcert={ca}");
        Store::open_url(&at("127.0.0.1", &verify_ca)).unwrap();
        let err = Store::open_url(&at("127.0.0.1", &full)).err().unwrap();
        assert!(matches!(err, StoreError::PostgresTls { .. }), "{err}");
        assert!(err.to_string().contains("not valid for name"), "{err}");
        // Without the CA (the system's roots) the certificate is unknown.
        let err = Store::open_url(&at("localhost", "sslmode=verify-full"))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::PostgresTls { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("certificate was refused (UnknownIssuer)")
                && text.contains("sslrootcert=PATH")
                || text.contains("no system root certificates"),
            "{text}"
        );
        // An unreadable CA file says what to give.
        let err = Store::open_url(&at(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ))
        .err()
        .unwrap();
        let text = err.to_string();
        assert!(
            text.contains("sslrootcert=/nonexistent/ca.pem cannot be read"),
            "{text}"
        );
        // No TLS: the server's own refusal, passed through.
        let err = Store::open_url(&at("127.0.0.1", "sslmode=disable"))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Postgres { .. }), "{text}");
        assert!(text.contains("no pg_hba.conf entry"), "{text}");
        assert!(text.contains("no encryption"), "{text}");
    }

    #[test]
    fn without_tls_on_the_server_prefer_falls_back_and_require_is_refused() {
        let Some(db) = vigie_testdata::postgres::test_database() else {
            return;
        };
        let url = db.url();
        drop(Store::open_url(&format!("{url}?sslmode=prefer")).unwrap());
        drop(Store::open_url(&format!("{url}?sslmode=disable")).unwrap());
        let err = Store::open_url(&format!("{url}?sslmode=require"))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::PostgresTls { .. }), "{err}");
        assert!(err.to_string().contains("does not offer TLS"), "{err}");
    }

    #[test]
    fn bad_urls_and_unreachable_servers_are_clear_errors() {
        let err = Store::open_url("ftp://example.org/x").err().unwrap();
        assert!(matches!(err, StoreError::BadStoreUrl(_)), "{err}");
        let err = Store::open_url("postgres://u:secret@127.0.0.1:1/db?sslmode=nonsense")
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::BadStoreUrl(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("verify-full") && !text.contains("secret"),
            "{text}"
        );
        // Nothing listens on port 1.
        let err = Store::open_url("postgres://u:secret@127.0.0.1:1/db")
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("connecting to PostgreSQL"), "{text}");
        assert!(text.contains("postgres://u@127.0.0.1:1/db"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
