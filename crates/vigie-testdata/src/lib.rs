//! Finding the shared real data for tests.
//!
//! The real data (RIS MRT files, IODA signals, geo tables…) lives beside the
//! repository in `../shared/data`, never inside it. A test asks for a file
//! with [`shared_data`]: when the data is absent it gets `None` and should
//! return early (a user's machine has no shared data), after a clear
//! message; under `CI=true` absence is a failure, because CI always has it.

pub mod http;
pub mod postgres;

use std::path::{Path, PathBuf};

/// The shared data folder: `../shared/data` from the repository root.
pub fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The path of `relative` inside the shared data, if it exists.
///
/// # Panics
/// Under `CI=true` when the file is missing: CI must test against the data.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = shared_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "shared data {} is missing (required under CI=true)",
            path.display()
        );
    }
    eprintln!("skipping: shared data not found at {}", path.display());
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_files_are_none_outside_ci() {
        if std::env::var("CI").as_deref() == Ok("true") {
            return;
        }
        assert_eq!(shared_data("no/such/file.csv"), None);
    }
}
