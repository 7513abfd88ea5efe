//! vigie's embedded store of signal series.
//!
//! A [`Store`] keeps every series (one signal of one entity at one bin size)
//! in `<data_dir>/vigie.sqlite`, a SQLite database in WAL mode.
//!
//! # How data is kept
//!
//! - **Staged bins.** An ingester closes one bin at a time and hands all its
//!   values (up to ~100k: every country, region and AS) to
//!   [`Store::write_bin`]. The bin is committed at once, in one transaction,
//!   as a few packed rows (one per block of 1,024 series ids), so a crash
//!   loses at most the bin being built. The source's latest committed bin is
//!   recorded in the same transaction ([`Store::last_committed_bin`]).
//!   Sources hand their bins to [`Store::sink`], the store's
//!   [`vigie_model::BinSink`], which writes them this way (and a live
//!   source's provisional bins under `<source>-provisional`).
//! - **Chunks.** [`Store::compact`] folds staged bins into chunks: one row per
//!   series per UTC day, run-length encoded, exact for every f64, with "no
//!   data" distinct from zero (see `codec.rs`). Imports write chunks directly
//!   with [`Store::write_points`]. Reads merge chunks and staged bins, so data
//!   is visible as soon as `write_bin` returns.
//! - **Last write wins.** A value written later for the same series and bin
//!   replaces an earlier one, whether staged, compacted or imported;
//!   rewriting the same bins with the same values changes nothing.
//!
//! # Beside the series
//!
//! Detection results and ground truth (`results.rs`), the AS-to-country
//! table (`networks.rs`), annotations (`annotations.rs`), alert
//! subscriptions and their durable outbox (`alerts.rs`) and the prober's
//! per-block change log (`probe_blocks.rs`) live in the same database, each
//! with plain row types; the crates that produce them validate them.
//!
//! # Schema versions
//!
//! The schema is versioned with `PRAGMA user_version` and upgraded on open
//! by the ordered steps in [`MIGRATIONS`]; append a step to change it.
//!
//! # Threads and processes
//!
//! A `Store` owns one SQLite connection: it is `Send` but not `Sync`. Open
//! one `Store` per thread (or per process) on the same data directory. WAL
//! mode lets any number of readers run while one writer commits; readers see
//! each write whole. Writers take turns (a writer waits up to 10 s for
//! another's transaction, then fails with [`StoreError::Busy`]).
//!
//! # PostgreSQL
//!
//! With the cargo feature `postgres`, [`Store::open_url`] opens a
//! `postgres://` URL instead: the same API, tables, schema steps and chunk
//! encoding on a PostgreSQL server, so every read gives the same values.
//! Any number of processes, on any number of machines, may open the same
//! database; writers of series take turns as on SQLite (an advisory lock,
//! [`StoreError::Busy`] after 10 s), readers never wait. `chunks` is
//! partitioned by time and written with binary `COPY`.

#![warn(missing_docs)]

mod alerts;
mod annotations;
mod codec;
mod error;
mod extent;
mod health;
mod live;
mod networks;
#[cfg(feature = "postgres")]
mod pg;
mod probe_blocks;
mod results;
mod schema;
mod sink;
mod spans;
mod sqlite;

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigie_model::{
    BinSize, CountryCode, Entity, Series, SeriesKey, SignalKind, TimeRange, UnixSecs,
};

pub use alerts::{DueDelivery, OutboxEntry, OutboxNotice, StoredSubscription};
pub use annotations::{NewStoredAnnotation, StoredAnnotation};
pub use error::StoreError;
pub use health::{ImplausibleBins, RepairReport, StoreCheck};
pub use live::{BinValues, BinWrite, DetectorCheckpoint, DEPTH_CHUNK};
pub use networks::AsCountrySpace;
pub use probe_blocks::BlockChangeRecord;
pub use results::{ResultFilter, StoredEvent, StoredIncident, StoredLabel};
pub use schema::{current_version, APPLICATION_ID, MIGRATIONS};
pub use sink::StoreSink;
pub use sqlite::DB_FILE_NAME;

use sqlite::SqliteStore;

/// One series the store holds and where its data lies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    /// Which signal of which entity.
    pub key: SeriesKey,
    /// The series' bin size.
    pub bin: BinSize,
    /// The start of the first bin with data; `None` if no bin has data.
    pub first_bin: Option<UnixSecs>,
    /// The start of the last bin with data.
    pub last_bin: Option<UnixSecs>,
    /// The value of the last bin with data.
    pub latest_value: Option<f64>,
}

/// An entity with data, its display name and each signal's latest value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityInfo {
    /// The entity.
    pub entity: Entity,
    /// Its display name (such as an AS name), if known.
    pub name: Option<String>,
    /// One entry per series of the entity.
    pub signals: Vec<SignalLatest>,
}

/// The latest value of one signal of an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalLatest {
    /// The signal.
    pub signal: SignalKind,
    /// The series' bin size.
    pub bin: BinSize,
    /// The start of the last bin with data; `None` if no bin has data.
    pub latest_time: Option<UnixSecs>,
    /// The value of that bin.
    pub latest_value: Option<f64>,
}

/// An input file a source has fully processed, so a rerun can skip it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The file's path as the ingester names it (UTF-8).
    pub path: String,
    /// Its size in bytes when processed.
    pub size_bytes: u64,
    /// Its modification time, Unix seconds.
    pub mtime: UnixSecs,
    /// Records read from it.
    pub records: u64,
    /// Records that could not be used.
    pub errors: u64,
}

/// The backends a [`Store`] can run on (one per handle: their sizes do
/// not matter).
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(SqliteStore),
    /// A PostgreSQL database (cargo feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(pg::PgStore),
}

/// vigie's store of series, entities and ingest bookkeeping.
///
/// See the [crate documentation](crate) for how data is kept and for use
/// from several threads.
pub struct Store {
    backend: Backend,
}

impl Store {
    /// Opens the store in `data_dir`, creating the directory and
    /// `vigie.sqlite` if needed, switching to WAL mode and upgrading the
    /// schema. Fails with a clear error when the directory is not writable,
    /// the file is not a vigie database, or its schema is newer than this
    /// build.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(SqliteStore::open(data_dir)?),
        })
    }

    /// Another handle on the same database, for another thread (a `Store`
    /// is one connection: `Send`, not `Sync`), opened without knowing
    /// where the data lives; a store in memory has no other.
    pub fn reconnect(&self) -> Result<Store, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => Ok(Store {
                backend: Backend::Sqlite(db.reconnect()?),
            }),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => Ok(Store {
                backend: Backend::Postgres(db.reconnect()?),
            }),
        }
    }

    /// Opens the store `location` names: a `postgres://` (or
    /// `postgresql://`) URL for a PostgreSQL database (cargo feature
    /// `postgres`), else a folder, as [`Store::open`]. A PostgreSQL store
    /// gets its schema created or upgraded as a SQLite one does; any number
    /// of processes may open the same database.
    ///
    /// Without the `postgres` feature a URL is refused with
    /// [`StoreError::PostgresNotBuilt`], which says to rebuild.
    pub fn open_url(location: &str) -> Result<Store, StoreError> {
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(Store {
                backend: Backend::Postgres(pg::PgStore::connect(location)?),
            });
            #[cfg(not(feature = "postgres"))]
            return Err(StoreError::PostgresNotBuilt {
                url: without_password(location),
            });
        }
        if location.is_empty() || lower.contains("://") {
            return Err(StoreError::BadStoreUrl(without_password(location)));
        }
        Store::open(Path::new(location))
    }

    /// Whether `location` names a PostgreSQL store (a `postgres://` URL).
    pub fn is_postgres_url(location: &str) -> bool {
        let lower = location.to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    }

    /// A private, empty store in memory (tests, one-off runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(SqliteStore::open_in_memory()?),
        })
    }

    /// Where the data lives, for messages: the database path or `:memory:`.
    pub fn location(&self) -> &str {
        match &self.backend {
            Backend::Sqlite(db) => db.label(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.label(),
        }
    }

    /// The schema version of the open database (equal to
    /// [`current_version`] once open).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.schema_version(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.schema_version(),
        }
    }

    /// Commits all values of one closed bin from one source, in one
    /// transaction: durable when it returns. `source` is a short name
    /// (`bgp-mrt`, `probe`); its latest committed bin is recorded too.
    ///
    /// `bin_start` must be aligned to `bin`; values must be finite (`None`
    /// is "no data"); each series may appear once. Writing a bin again
    /// replaces the values of the series given and keeps the others.
    pub fn write_bin(
        &mut self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
        values: &[(SeriesKey, Option<f64>)],
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.write_bin(source, bin, bin_start, values),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.write_bin(source, bin, bin_start, values),
        }
    }

    /// Writes points of one series straight into chunks (imports), in one
    /// transaction. Times must be bin starts; values finite. A later point for
    /// the same bin wins, and these points win over values written before.
    pub fn write_points(
        &mut self,
        key: &SeriesKey,
        bin: BinSize,
        points: &[(UnixSecs, Option<f64>)],
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.write_points(key, bin, points),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.write_points(key, bin, points),
        }
    }

    /// Folds all staged bins into chunks. Call it at the end of an ingest and
    /// whenever a UTC day is complete; running it again does nothing.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.compact(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.compact(),
        }
    }

    /// How many (source, bin) writes are staged, waiting for [`Store::compact`].
    pub fn staged_bin_count(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.staged_bin_count(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.staged_bin_count(),
        }
    }

    /// The latest bin start (by time) that `source` committed with
    /// [`Store::write_bin`], for resuming; `None` if it never wrote.
    pub fn last_committed_bin(&self, source: &str) -> Result<Option<UnixSecs>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.last_committed_bin(source),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.last_committed_bin(source),
        }
    }

    /// Reads a series over `range`, widened to whole bins, merging chunks and
    /// staged bins. Bins never written, and unknown series, read as `None`.
    pub fn read_series(
        &self,
        key: &SeriesKey,
        bin: BinSize,
        range: TimeRange,
    ) -> Result<Series, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.read_series(key, bin, range),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.read_series(key, bin, range),
        }
    }

    /// Every series the store holds, with its first and last bin with data
    /// and latest value, ordered by entity, signal and bin size.
    pub fn list_series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.list_series(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.list_series(),
        }
    }

    /// The series of `entity`, as [`Store::list_series`] lists them, at a
    /// cost that does not grow with the other series stored or staged.
    pub fn entity_series(&self, entity: &Entity) -> Result<Vec<SeriesInfo>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.entity_series(entity),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.entity_series(entity),
        }
    }

    /// Every entity that has a series, with its display name and each
    /// signal's latest value, ordered by entity.
    pub fn entities(&self) -> Result<Vec<EntityInfo>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.entities(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.entities(),
        }
    }

    /// Every entity with a display name, and the name, ordered by entity.
    /// Reads the entities table alone (no series, no staged bins): cheap
    /// enough to run on every request beside a cached series listing.
    pub fn entity_names(&self) -> Result<Vec<(Entity, String)>, StoreError> {
        let mut names = match &self.backend {
            Backend::Sqlite(db) => db.entity_names()?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.entity_names()?,
        };
        names.sort();
        Ok(names)
    }

    /// Whether the store holds any series of `entity` (a name alone does not count).
    pub fn has_entity(&self, entity: &Entity) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.has_entity(entity),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.has_entity(entity),
        }
    }

    /// The display name recorded for `entity`, if any.
    pub fn entity_name(&self, entity: &Entity) -> Result<Option<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.entity_name(entity),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.entity_name(entity),
        }
    }

    /// Records a display name (such as an AS name); an empty name clears it.
    pub fn set_entity_name(&mut self, entity: &Entity, name: &str) -> Result<(), StoreError> {
        self.set_entity_names(&[(entity.clone(), name.to_string())])
    }

    /// Records many display names in one transaction.
    pub fn set_entity_names(&mut self, names: &[(Entity, String)]) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.set_entity_names(names),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.set_entity_names(names),
        }
    }

    /// Records that `source` has fully processed an input file (replacing an
    /// earlier record of the same path).
    pub fn record_input_done(
        &mut self,
        source: &str,
        input: &InputRecord,
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.record_input_done(source, input),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.record_input_done(source, input),
        }
    }

    /// The input files `source` has fully processed, ordered by path.
    pub fn inputs_done(&self, source: &str) -> Result<Vec<InputRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.inputs_done(source),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.inputs_done(source),
        }
    }

    /// Adds ground-truth labels (known outages); duplicates are ignored.
    /// Returns how many were new.
    pub fn add_labels(&mut self, labels: &[StoredLabel]) -> Result<u64, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.add_labels(labels),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.add_labels(labels),
        }
    }

    /// The labels that overlap the filter's time range.
    pub fn labels(&self, filter: &ResultFilter) -> Result<Vec<StoredLabel>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.labels(filter),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.labels(filter),
        }
    }

    /// Replaces the events `method` found in one series (a batch rerun
    /// recomputes them all), in one transaction.
    pub fn replace_events(
        &mut self,
        method: &str,
        key: &SeriesKey,
        bin: BinSize,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.replace_events(method, key, bin, events),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.replace_events(method, key, bin, events),
        }
    }

    /// Events overlapping the filter, in time order.
    pub fn events(&self, filter: &ResultFilter) -> Result<Vec<StoredEvent>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.events(filter),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.events(filter),
        }
    }

    /// How many events `method` has stored.
    pub fn event_count(&self, method: &str) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.event_count(method),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.event_count(method),
        }
    }

    /// Replaces the incidents `method` found for `entity`, in one transaction.
    pub fn replace_incidents(
        &mut self,
        method: &str,
        entity: &Entity,
        incidents: &[StoredIncident],
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.replace_incidents(method, entity, incidents),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.replace_incidents(method, entity, incidents),
        }
    }

    /// Incidents overlapping the filter, in time order.
    pub fn incidents(&self, filter: &ResultFilter) -> Result<Vec<StoredIncident>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.incidents(filter),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.incidents(filter),
        }
    }

    /// Replaces the AS-to-country table with the one of a newer routing
    /// table (rows for the same AS and country are summed).
    pub fn replace_as_countries(&mut self, rows: &[AsCountrySpace]) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.replace_as_countries(rows),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.replace_as_countries(rows),
        }
    }

    /// The ASes originating space in `country` (largest first), or the
    /// countries of `asn`; `None` for both lists everything.
    pub fn as_countries(
        &self,
        country: Option<CountryCode>,
        asn: Option<u32>,
    ) -> Result<Vec<AsCountrySpace>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.as_countries(country, asn),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.as_countries(country, asn),
        }
    }

    /// Stores an annotation (validated by the caller); returns its id.
    pub fn add_annotation(&mut self, annotation: &NewStoredAnnotation) -> Result<i64, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.add_annotation(annotation),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.add_annotation(annotation),
        }
    }

    /// Annotations of `entity` (all when `None`) overlapping
    /// `[from, until)` (unbounded when `None`), in time order. An instant
    /// `t` covers `[t, t + 1)`.
    pub fn annotations(
        &self,
        entity: Option<&Entity>,
        from: Option<UnixSecs>,
        until: Option<UnixSecs>,
    ) -> Result<Vec<StoredAnnotation>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.annotations(entity, from, until),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.annotations(entity, from, until),
        }
    }

    /// One annotation by id.
    pub fn annotation(&self, id: i64) -> Result<Option<StoredAnnotation>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.annotation(id),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.annotation(id),
        }
    }

    /// Stores an alert subscription (checked by the caller) delivered as
    /// vigie's JSON notices; returns its id. `notices` must not contain commas.
    pub fn add_subscription(
        &mut self,
        entity: &Entity,
        notices: &[String],
        target: &str,
        secret: &str,
        created_at: UnixSecs,
    ) -> Result<i64, StoreError> {
        self.add_subscription_with_format(entity, notices, target, secret, "json", created_at)
    }

    /// [`Store::add_subscription`] with the delivery format (`json` or
    /// `slack`, checked by the caller).
    pub fn add_subscription_with_format(
        &mut self,
        entity: &Entity,
        notices: &[String],
        target: &str,
        secret: &str,
        format: &str,
        created_at: UnixSecs,
    ) -> Result<i64, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => {
                db.add_subscription(entity, notices, target, secret, format, created_at)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => {
                db.add_subscription(entity, notices, target, secret, format, created_at)
            }
        }
    }

    /// Every alert subscription, by id.
    pub fn subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.subscriptions(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.subscriptions(),
        }
    }

    /// Adds notices to the outbox as `pending`, due at `now`, in one
    /// transaction. A notice whose (subscription, key) is already there is
    /// left as it is, whatever its state. Returns how many were new.
    pub fn enqueue_notices(
        &mut self,
        notices: &[OutboxNotice],
        now: UnixSecs,
    ) -> Result<usize, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.enqueue_notices(notices, now),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.enqueue_notices(notices, now),
        }
    }

    /// Every outbox row, by id.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.outbox(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.outbox(),
        }
    }

    /// The `pending` outbox rows due at `now`, by id, with their
    /// subscription's target and secret.
    pub fn due_deliveries(&self, now: UnixSecs) -> Result<Vec<DueDelivery>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.due_deliveries(now),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.due_deliveries(now),
        }
    }

    /// Marks an outbox row `delivered` after `attempts` attempts.
    pub fn mark_delivered(
        &mut self,
        id: i64,
        attempts: u32,
        delivered_at: UnixSecs,
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.mark_delivered(id, attempts, delivered_at),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.mark_delivered(id, attempts, delivered_at),
        }
    }

    /// Records a failed attempt on an outbox row: it stays `pending`, due
    /// again at `next_attempt_at`, or becomes `failed` when `give_up`.
    pub fn mark_delivery_failed(
        &mut self,
        id: i64,
        attempts: u32,
        next_attempt_at: UnixSecs,
        error: &str,
        give_up: bool,
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => {
                db.mark_delivery_failed(id, attempts, next_attempt_at, error, give_up)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => {
                db.mark_delivery_failed(id, attempts, next_attempt_at, error, give_up)
            }
        }
    }

    /// Logs probe block state changes, all or nothing.
    pub fn record_block_changes(
        &mut self,
        changes: &[BlockChangeRecord],
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.record_block_changes(changes),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.record_block_changes(changes),
        }
    }

    /// Copies the block log an older vigie kept in its own SQLite file
    /// (`<data-dir>/probe-blocks.sqlite`, table `probe_block_changes`)
    /// into the store, all or nothing; changes already in the store are
    /// skipped, so importing twice adds nothing. Returns how many were new.
    pub fn import_block_log_file(&mut self, path: &Path) -> Result<u64, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.import_block_log_file(path),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.import_block_log_file(path),
        }
    }

    /// Logged block changes with `from <= at < until`, of one block (its
    /// first address) or all, ordered by time, block and vantage point.
    pub fn block_changes(
        &self,
        block: Option<Ipv4Addr>,
        from: UnixSecs,
        until: UnixSecs,
    ) -> Result<Vec<BlockChangeRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.block_changes(block, from, until),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.block_changes(block, from, until),
        }
    }
}

impl Store {
    /// The number of the latest write in the write log (0 when empty):
    /// every [`Store::write_bin`] and [`Store::write_points`] appends one
    /// row, in the same transaction, so a live detector can follow what
    /// any process writes.
    pub fn last_write_seq(&self) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.last_write_seq(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.last_write_seq(),
        }
    }

    /// Up to `limit` writes logged after `after`, oldest first (the log
    /// keeps two days).
    pub fn writes_since(&self, after: i64, limit: usize) -> Result<Vec<BinWrite>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.writes_since(after, limit),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.writes_since(after, limit),
        }
    }

    /// The values `source` wrote for the bin at `bin_start`, while still
    /// staged (`None` once compacted into chunks, or never written).
    pub fn staged_bin(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<BinValues>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.staged_bin(source, bin, bin_start),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.staged_bin(source, bin, bin_start),
        }
    }

    /// Saves a live detector's state of the series in `states` (others
    /// keep theirs), appends to their depth histories, and saves its place
    /// in the write log, in one transaction.
    pub fn save_detector_state(
        &mut self,
        method: &str,
        states: &[DetectorCheckpoint],
        write_seq: i64,
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(db) => db.save_detector_state(method, states, write_seq),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.save_detector_state(method, states, write_seq),
        }
    }

    /// A live detector's saved states (each with its whole depth history)
    /// and its place in the write log.
    pub fn detector_states(
        &self,
        method: &str,
    ) -> Result<(Vec<DetectorCheckpoint>, Option<i64>), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.detector_states(method),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.detector_states(method),
        }
    }
}

/// `location` with any URL password replaced by `***`, for messages.
fn without_password(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => location.to_string(),
    }
}

#[cfg(test)]
impl Store {
    /// The SQLite backend (tests of SQLite's own files and schema).
    fn sqlite(&self) -> &SqliteStore {
        match &self.backend {
            Backend::Sqlite(db) => db,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => panic!("a SQLite-only test was given a PostgreSQL store"),
        }
    }

    /// (chunk rows, chunk bytes), for measuring the encoding.
    fn chunk_footprint(&self) -> (i64, i64) {
        match &self.backend {
            Backend::Sqlite(db) => db.chunk_footprint(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.chunk_footprint(),
        }
    }
}

/// A store for tests, with what keeps its database alive.
#[cfg(test)]
pub(crate) struct TestStore {
    store: Store,
    #[cfg(feature = "postgres")]
    _database: Option<vigie_testdata::postgres::TestDatabase>,
}

#[cfg(test)]
impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
impl std::ops::DerefMut for TestStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// A fresh store on each backend: SQLite in memory, and with the
/// `postgres` feature a fresh PostgreSQL database (when the server is
/// installed; under `CI=true` it must be).
#[cfg(test)]
pub(crate) fn test_stores() -> Vec<TestStore> {
    #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
    let mut stores = vec![TestStore {
        store: Store::open_in_memory().unwrap(),
        #[cfg(feature = "postgres")]
        _database: None,
    }];
    #[cfg(feature = "postgres")]
    if let Some(database) = vigie_testdata::postgres::test_database() {
        stores.push(TestStore {
            store: Store::open_url(&database.url()).unwrap(),
            _database: Some(database),
        });
    }
    stores
}

#[cfg(test)]
mod tests;
