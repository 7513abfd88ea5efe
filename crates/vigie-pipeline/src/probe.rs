//! The prober's bins and block log in the store (`vigie probe`, the demo).

use anyhow::{Context, Result};
use vigie_model::UnixSecs;
use vigie_probe::BlockChange;
use vigie_store::{BlockChangeRecord, Store};

/// The store's name for the bins of probing.
pub const PROBE_SOURCE: &str = "probe";

/// Logs one round's block changes seen by `vantage` (the round ended at
/// `at`) in the store's block log, all or nothing, so a user can drill down
/// from "country X lost 40 blocks" to the blocks themselves.
pub fn record_block_changes(
    store: &mut Store,
    vantage: &str,
    at: UnixSecs,
    changes: &[BlockChange],
) -> Result<()> {
    let rows: Vec<BlockChangeRecord> = changes
        .iter()
        .map(|change| BlockChangeRecord {
            at,
            vantage: vantage.to_string(),
            network: change.network,
            from_state: change.from.name().to_string(),
            to_state: change.to.name().to_string(),
            belief_up: change.belief_up,
        })
        .collect();
    store
        .record_block_changes(&rows)
        .context("cannot log the round's block state changes")
}
