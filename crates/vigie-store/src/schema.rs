//! The SQLite schema and its migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version`: a database at
//! version `v` has had `MIGRATIONS[0..v]` applied. Opening a store applies the
//! missing steps, all in one transaction, so an upgrade either completes or
//! leaves the file as it was. A file whose version is above
//! `MIGRATIONS.len()` was written by a newer vigie and is refused.
//!
//! **To change the schema, append a step to [`MIGRATIONS`]** (a string of SQL
//! statements); never edit, reorder or remove a step that has been released,
//! since databases in the field have already run it. A step runs inside the
//! upgrade transaction, so it must not contain `BEGIN`/`COMMIT` or pragmas
//! that cannot run in a transaction. Add a test that opens a database made at
//! the previous version and checks the upgrade.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{sql_error, StoreError};

/// `PRAGMA application_id` of vigie databases ("vigi" in ASCII), which tells
/// a vigie database from another program's SQLite file.
pub const APPLICATION_ID: i32 = 0x7669_6769;

/// Migration 1: entities, series, chunks, staged bins, source progress and
/// processed inputs.
const MIGRATION_1: &str = "
-- What an outage happens to. kind is EntityKind::name() (country, asn,
-- region), code is Entity::code() (KZ, 9198, KZ/Almaty).
CREATE TABLE entities (
    entity_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT,
    UNIQUE (kind, code)
);

-- One signal of one entity at one bin size. first_bin, last_bin and
-- last_value summarise the chunks only (staged bins are merged on read);
-- NULL when the series has no chunk with data.
CREATE TABLE series (
    series_id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities (entity_id),
    signal TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    first_bin INTEGER,
    last_bin INTEGER,
    last_value REAL,
    UNIQUE (entity_id, signal, bin_secs)
);

-- One UTC day of one series, encoded as runs (see codec.rs). A day with no
-- data at all has no row.
CREATE TABLE chunks (
    series_id INTEGER NOT NULL REFERENCES series (series_id),
    chunk_start INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series_id, chunk_start)
) WITHOUT ROWID;

-- Bins written by write_bin and not yet folded into chunks: one row per
-- (source, bin, block of 1024 series ids). stage_row grows with each write,
-- so a later row overrides an earlier one for the same series and bin.
CREATE TABLE staged_bins (
    stage_row INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    bin_start INTEGER NOT NULL,
    block INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX staged_bins_by_source ON staged_bins (source, bin_secs, bin_start, block);
CREATE INDEX staged_bins_by_block ON staged_bins (block, bin_start);

-- The latest bin (by time) each source committed with write_bin.
CREATE TABLE sources (
    source TEXT PRIMARY KEY,
    bin_secs INTEGER NOT NULL,
    last_bin_start INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Input files a source has fully processed.
CREATE TABLE inputs_done (
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    records INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (source, path)
) WITHOUT ROWID;
";

/// Migration 2: detection results and ground truth. Entities are named by
/// (kind, code) text so these tables stand apart from the series tables.
const MIGRATION_2: &str = "
-- Known outages (ground truth) from labelled files, for evaluation.
CREATE TABLE labels (
    label_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    start INTEGER NOT NULL,
    end_time INTEGER NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (kind, code, start, end_time, source)
);

-- Events found in one series by one method; detail is the method's JSON.
CREATE TABLE events (
    event_id INTEGER PRIMARY KEY,
    method TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    signal TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end_time INTEGER,
    depth REAL,
    score REAL,
    detail TEXT NOT NULL
);
CREATE INDEX events_by_series ON events (kind, code, signal, bin_secs, method, start);
CREATE INDEX events_by_start ON events (start);

-- Incidents: one per entity and period, fusing its signals' events.
CREATE TABLE incidents (
    incident_id INTEGER PRIMARY KEY,
    method TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    start INTEGER NOT NULL,
    end_time INTEGER,
    detail TEXT NOT NULL
);
CREATE INDEX incidents_by_entity ON incidents (kind, code, method, start);
CREATE INDEX incidents_by_start ON incidents (start);
";

/// Migration 3: annotations, external events ("president's televised
/// address") shown on plots and in reports; written and read by
/// `vigie-publish` (the API and `vigie annotate`).
const MIGRATION_3: &str = "
-- kind/code name the entity as in the results tables; end_time is NULL for
-- an instant. created_at is Unix seconds; author says who wrote it (the
-- API token's label or the CLI).
CREATE TABLE annotations (
    annotation_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    time INTEGER NOT NULL,
    end_time INTEGER,
    text TEXT NOT NULL,
    url TEXT,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX annotations_by_entity ON annotations (kind, code, time);
";

/// Migration 4: alert subscriptions and the durable outbox of their
/// deliveries (`vigie-publish`'s `alerts` module).
const MIGRATION_4: &str = "
-- Who wants to know about what: an entity (kind/code), which notices
-- (comma-separated: start, restoration, end), and where (a webhook URL,
-- signed with secret).
CREATE TABLE subscriptions (
    subscription_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    notices TEXT NOT NULL,
    target TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX subscriptions_by_entity ON subscriptions (kind, code);

-- One row per notice per subscription; notice_key (such as
-- start:IQ@1692579600) makes enqueueing idempotent. state is pending,
-- delivered or failed; next_attempt_at drives retries with backoff.
CREATE TABLE outbox (
    delivery_id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (subscription_id),
    notice_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (subscription_id, notice_key)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
";

/// Migration 5: which ASes originate address space in which country, from
/// the routing table at the end of an ingestion (`vigie-bgp`), so a
/// country's incident can list its affected networks with their share.
const MIGRATION_5: &str = "
-- units_v4 are /24s, units_v6 /48s, of the AS's visible prefixes that geo
-- places in the country; observed_at is the routing table's time.
CREATE TABLE as_countries (
    asn INTEGER NOT NULL,
    country TEXT NOT NULL,
    units_v4 INTEGER NOT NULL,
    units_v6 INTEGER NOT NULL,
    observed_at INTEGER NOT NULL,
    PRIMARY KEY (country, asn)
);
CREATE INDEX as_countries_by_asn ON as_countries (asn);
";

/// Migration 6: the prober's per-block change log (`vigie probe`), so a
/// user can drill down from an entity's count of /24s up to the blocks.
const MIGRATION_6: &str = "
-- One row per state change of one /24 seen by one vantage point. at is the
-- end of the probing round (Unix seconds UTC); network is the block's first
-- address as a number; states are up, down or uncertain; belief_up is the
-- belief that the block is up after the change.
CREATE TABLE probe_block_changes (
    at INTEGER NOT NULL,
    vantage TEXT NOT NULL,
    network INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    belief_up REAL NOT NULL
);
CREATE INDEX probe_block_changes_by_block ON probe_block_changes (network, at);
CREATE INDEX probe_block_changes_by_time ON probe_block_changes (at);
";

/// Migration 7: what a live detector needs (`vigie serve`): a log of bin
/// writes it follows, and its state per series, so a restarted service
/// resumes where it stopped.
const MIGRATION_7: &str = "
-- One row per write of bins, in order of writing: write_bin logs one
-- closed bin of a source (series_id NULL: the series are in staged_bins);
-- write_points logs one series and the span written (source 'points').
-- Rows older than two days are pruned at compaction (a reader that falls
-- further behind reads the series themselves).
CREATE TABLE bin_writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    first_bin INTEGER NOT NULL,
    last_bin INTEGER NOT NULL,
    series_id INTEGER,
    written_at INTEGER NOT NULL
);
CREATE INDEX bin_writes_by_time ON bin_writes (written_at);

-- A live detector's state of one series (method vigie), as the detector
-- encodes it, saved as the series moves on.
CREATE TABLE detector_checkpoints (
    method TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    signal TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    state BLOB NOT NULL,
    saved_at INTEGER NOT NULL,
    PRIMARY KEY (method, kind, code, signal, bin_secs)
) WITHOUT ROWID;

-- How far in bin_writes a live detector has read.
CREATE TABLE detector_positions (
    method TEXT PRIMARY KEY,
    write_seq INTEGER NOT NULL,
    saved_at INTEGER NOT NULL
);
";

/// Migration 8: how many input records stood behind a bin written with
/// `write_bin_weighted` (`health.rs`), so a worse re-read (a truncated
/// dump, part of a log) never replaces the values of a complete one.
const MIGRATION_8: &str = "
-- records: MRT records read up to the bin, or log lines in it.
CREATE TABLE bin_records (
    source TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    bin_start INTEGER NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (source, bin_secs, bin_start)
) WITHOUT ROWID;
";

/// Migration 9: a live detector's per-bin depth history, saved apart from
/// its state and appended to (`live.rs`), so a checkpoint's cost does not
/// grow with a series' age.
const MIGRATION_9: &str = "
-- chunk: the history's bytes [chunk × 4096, (chunk + 1) × 4096).
CREATE TABLE detector_depths (
    method TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    signal TEXT NOT NULL,
    bin_secs INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (method, kind, code, signal, bin_secs, chunk)
) WITHOUT ROWID;
";

/// Migration 10: a subscription's delivery format (`json`, vigie's notice;
/// `slack`, a message that Slack and Mattermost incoming webhooks take).
const MIGRATION_10: &str = "
ALTER TABLE subscriptions ADD COLUMN format TEXT NOT NULL DEFAULT 'json';
";

/// The schema migrations, in order: `MIGRATIONS[i]` takes a database from
/// version `i` to version `i + 1`. Append new steps at the end; never change
/// a released one.
pub const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    MIGRATION_8,
    MIGRATION_9,
    MIGRATION_10,
];

/// The schema version this build writes: the number of migrations.
pub fn current_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// A schema version as stored, checked.
pub(crate) fn stored_version(label: &str, version: i64) -> Result<u32, StoreError> {
    u32::try_from(version).map_err(|_| StoreError::NotAVigieDatabase {
        path: label.to_string(),
        detail: format!("schema version {version} is not valid"),
    })
}

/// Refuses a database of a newer schema than this build's `supported`.
pub(crate) fn check_not_newer(label: &str, found: u32, supported: u32) -> Result<(), StoreError> {
    if found > supported {
        return Err(StoreError::NewerSchema {
            path: label.to_string(),
            found,
            supported,
        });
    }
    Ok(())
}

/// Reads `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection, label: &str) -> Result<u32, StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_error(label, "reading the schema version"))?;
    stored_version(label, version)
}

/// Checks that `conn` is a vigie database or an empty file.
pub(crate) fn check_identity(conn: &Connection, label: &str) -> Result<(), StoreError> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(sql_error(label, "reading the database header"))?;
    if application_id == APPLICATION_ID {
        return Ok(());
    }
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(sql_error(label, "listing tables"))?;
    if application_id == 0 && tables == 0 {
        return Ok(()); // A new, empty database.
    }
    Err(StoreError::NotAVigieDatabase {
        path: label.to_string(),
        detail: format!(
            "it is a SQLite database of another program (application id {application_id:#x}, {tables} schema objects)"
        ),
    })
}

/// Brings the schema to `migrations.len()`, refusing newer databases.
pub(crate) fn migrate(
    conn: &mut Connection,
    label: &str,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let supported = migrations.len() as u32;
    let found = user_version(conn, label)?;
    check_not_newer(label, found, supported)?;
    if found == supported {
        return Ok(());
    }
    // Another process may be upgrading too: take the write lock, then look again.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error(label, "locking the database to upgrade it"))?;
    let found = user_version(&tx, label)?;
    check_not_newer(label, found, supported)?;
    for (index, step) in migrations.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step)
            .map_err(|source| StoreError::MigrationFailed {
                path: label.to_string(),
                version: index as u32 + 1,
                source,
            })?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {supported};"
    ))
    .map_err(sql_error(label, "recording the schema version"))?;
    tx.commit()
        .map_err(sql_error(label, "committing the schema upgrade"))
}
