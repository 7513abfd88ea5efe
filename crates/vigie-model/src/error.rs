use thiserror::Error;

/// Why a value given by a user or a file is not a valid model value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The text is not an entity in any of the accepted spellings.
    #[error(
        "'{0}' is not an entity: write a country as KZ, an AS as AS9198, a region as KZ/Almaty"
    )]
    BadEntity(String),
    /// The text is not a known signal name.
    #[error("'{0}' is not a signal; known signals: {1}")]
    BadSignal(String, String),
    /// The text is not an ISO 8601 UTC time.
    #[error("'{0}' is not a time: use ISO 8601 UTC such as 2022-01-05T10:30:00Z, a date such as 2022-01-05, or Unix seconds")]
    BadTime(String),
    /// A bin size that does not divide a day into whole bins.
    #[error("bin size of {0} s is not allowed: it must be between 60 and 86400 seconds and divide 86400")]
    BadBinSize(u32),
    /// A time range whose end is not after its start, or that is absurdly long.
    #[error("time range {0} is empty or reversed: --until must be after --from")]
    ReversedRange(String),
    /// A time range longer than the allowed maximum.
    #[error("time range {0} is too long: at most {1} days can be asked for at once")]
    RangeTooLong(String, i64),
}
