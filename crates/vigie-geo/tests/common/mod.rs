//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// A folder of the shared data (see `vigie_testdata::shared_data`).
pub fn shared_data(subfolder: &str) -> Option<PathBuf> {
    vigie_testdata::shared_data(subfolder)
}
