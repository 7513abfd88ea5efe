use std::path::PathBuf;
use std::time::Duration;

use rusqlite::ffi::ErrorCode;
use thiserror::Error;

/// How long a statement waits for another connection's lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a store operation failed. Each message says what to do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The data directory could not be created or written.
    #[error("data directory {dir} is not usable ({detail}): fix its permissions or choose another --data-dir")]
    DataDirNotWritable {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        detail: String,
    },
    /// The database file is not SQLite, or is another program's SQLite database.
    #[error(
        "{path} is not a vigie database ({detail}): move it away or choose another --data-dir"
    )]
    NotAVigieDatabase {
        /// The database file.
        path: String,
        /// What was found instead.
        detail: String,
    },
    /// The database was written by a newer vigie with a schema this build does not know.
    #[error("{path} has schema version {found}, newer than the {supported} this vigie knows: upgrade vigie, or choose another --data-dir")]
    NewerSchema {
        /// The database file.
        path: String,
        /// The version found in the file.
        found: u32,
        /// The newest version this build can use.
        supported: u32,
    },
    /// A migration step failed; the database was left at its previous version.
    #[error("upgrading {path} to schema version {version} failed, nothing was changed: {source}")]
    MigrationFailed {
        /// The database file.
        path: String,
        /// The version the failing step leads to.
        version: u32,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database file or a value stored in it is damaged.
    #[error("{path} is damaged ({detail}): move it away (keep it for inspection) and re-ingest into a fresh --data-dir")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is damaged.
        detail: String,
    },
    /// Another process held the database lock for too long.
    #[error("{path} stayed locked by another process for more than {timeout_secs} s: retry, or stop the other vigie writing to this --data-dir")]
    Busy {
        /// The database file.
        path: String,
        /// How long this process waited.
        timeout_secs: u64,
    },
    /// A value to store is NaN or infinite; the store keeps finite numbers only.
    #[error(
        "{series} at {time}: value {value} is not a finite number; write None for \"no data\""
    )]
    NonFiniteValue {
        /// The series, as `entity/signal`.
        series: String,
        /// The bin, ISO 8601 UTC.
        time: String,
        /// The rejected value.
        value: f64,
    },
    /// A bin start that is not aligned to the bin size.
    #[error("{time} is not the start of a {bin_secs} s bin (bins are aligned to UTC midnight)")]
    MisalignedBin {
        /// The time given, ISO 8601 UTC.
        time: String,
        /// The bin size in seconds.
        bin_secs: u32,
    },
    /// The same series appears twice in one bin given to `write_bin`.
    #[error("{series} appears twice in the bin at {time} of source '{source_name}': each series may have one value per bin")]
    DuplicateSeries {
        /// The series, as `entity/signal`.
        series: String,
        /// The bin, ISO 8601 UTC.
        time: String,
        /// The writing source.
        source_name: String,
    },
    /// A source name that is empty or too long.
    #[error("'{0}' is not a source name: use 1 to 64 characters such as bgp-mrt or probe")]
    BadSourceName(String),
    /// A count too large for the store (above 2^63 - 1).
    #[error("{what} = {value} is too large to store")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// A `postgres://` store asked of a vigie built without PostgreSQL.
    #[error("{url} is a PostgreSQL store, and this vigie was built without PostgreSQL: rebuild with `cargo build --release --features postgres`, or use a --data-dir")]
    PostgresNotBuilt {
        /// The store URL given (without its password).
        url: String,
    },
    /// A store location that is neither a folder nor a `postgres://` URL.
    #[error("'{0}' is not a store: give a folder (SQLite) or a postgres://user@host/database URL")]
    BadStoreUrl(String),
    /// Any PostgreSQL failure, with what the store was doing.
    #[cfg(feature = "postgres")]
    #[error("{path}: {context}: {} (check that the server is up and that --store names a database this user may write)", with_causes(.source))]
    Postgres {
        /// The server and database, without password.
        path: String,
        /// What the store was doing.
        context: &'static str,
        /// The client's error.
        source: postgres::Error,
    },
    /// TLS to a PostgreSQL server could not be set up (`sslmode`,
    /// `sslrootcert` in the URL) or the server's certificate was refused.
    #[cfg(feature = "postgres")]
    #[error("{path}: {detail}")]
    PostgresTls {
        /// The server and database, without password.
        path: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// Any other SQLite failure, with what the store was doing.
    #[error("{path}: {context}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What the store was doing.
        context: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// An error and its causes, `a: b: c` (the client's own message for a
/// server error is only "db error": the server's words are its cause).
#[cfg(feature = "postgres")]
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

/// Turns a SQLite error into a [`StoreError`] that says what to do.
pub(crate) fn sql_error<'a>(
    label: &'a str,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |source| match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: label.to_string(),
            detail: format!("{context}: {source}"),
        },
        Some(ErrorCode::NotADatabase) => StoreError::NotAVigieDatabase {
            path: label.to_string(),
            detail: format!("it is not a SQLite database: {source}"),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy {
            path: label.to_string(),
            timeout_secs: BUSY_TIMEOUT.as_secs(),
        },
        _ => StoreError::Sqlite {
            path: label.to_string(),
            context,
            source,
        },
    }
}

/// The error for a damaged row of the store at `label` (a path or URL).
pub(crate) fn corrupt(label: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: label.to_string(),
        detail,
    }
}
