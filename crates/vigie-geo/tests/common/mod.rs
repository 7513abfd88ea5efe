//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared real-data folder beside the project, or `None` (with a
/// message) when it is absent. With `CI=true` its absence is a failure.
pub fn shared_data(subfolder: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(subfolder);
    if path.is_dir() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!(
            "CI=true but the shared data folder {} is missing: CI must lay shared/ beside the repository",
            path.display()
        );
    }
    eprintln!("SKIPPED: shared data {} is absent", path.display());
    None
}
