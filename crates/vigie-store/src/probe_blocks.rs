//! The prober's block log (migration 6): one row per state change of one
//! /24 block seen by one vantage point, so a user can drill down from
//! "country X lost 40 blocks" to the blocks themselves. The states are
//! `vigie-probe`'s (`up`, `down`, `uncertain`), kept here as their names.

use std::net::Ipv4Addr;
use std::path::Path;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use vigie_model::UnixSecs;

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// One state change of one /24 block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockChangeRecord {
    /// End of the probing round that saw it, Unix seconds UTC.
    pub at: UnixSecs,
    /// The vantage point that saw it (or `combined`).
    pub vantage: String,
    /// The block's first address.
    pub network: Ipv4Addr,
    /// The state before (`up`, `down`, `uncertain`).
    pub from_state: String,
    /// The state after.
    pub to_state: String,
    /// The belief that the block is up after the change, 0..=1.
    pub belief_up: f32,
}

impl SqliteStore {
    pub(crate) fn record_block_changes(
        &mut self,
        changes: &[BlockChangeRecord],
    ) -> Result<(), StoreError> {
        let label = self.label().to_string();
        let context = "logging probe block changes";
        let tx = self
            .connection()
            .unchecked_transaction()
            .map_err(sql_error(&label, context))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO probe_block_changes
                       (at, vantage, network, from_state, to_state, belief_up)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_error(&label, context))?;
            for change in changes {
                stmt.execute(params![
                    change.at,
                    change.vantage,
                    u32::from(change.network),
                    change.from_state,
                    change.to_state,
                    f64::from(change.belief_up)
                ])
                .map_err(sql_error(&label, context))?;
            }
        }
        tx.commit()
            .map_err(sql_error(&label, "committing probe block changes"))
    }

    pub(crate) fn import_block_log_file(&mut self, path: &Path) -> Result<u64, StoreError> {
        let label = self.label().to_string();
        let file = path.display().to_string();
        let conn = self.connection();
        conn.execute("ATTACH DATABASE ?1 AS legacy_block_log", [&file])
            .map_err(sql_error(&label, "opening an older probe block log"))?;
        // One statement, so all or nothing; rows already present are skipped.
        let copied = conn
            .execute(
                "INSERT INTO main.probe_block_changes
                   (at, vantage, network, from_state, to_state, belief_up)
                 SELECT l.at, l.vantage, l.network, l.from_state, l.to_state, l.belief_up
                 FROM legacy_block_log.probe_block_changes l
                 WHERE NOT EXISTS (
                   SELECT 1 FROM main.probe_block_changes m
                   WHERE m.network = l.network AND m.at = l.at AND m.vantage = l.vantage
                     AND m.from_state = l.from_state AND m.to_state = l.to_state)",
                [],
            )
            .map_err(sql_error(&label, "copying an older probe block log"));
        let detached = conn
            .execute("DETACH DATABASE legacy_block_log", [])
            .map_err(sql_error(&label, "closing an older probe block log"));
        let copied = copied?;
        detached?;
        Ok(copied as u64)
    }

    pub(crate) fn block_changes(
        &self,
        block: Option<Ipv4Addr>,
        from: UnixSecs,
        until: UnixSecs,
    ) -> Result<Vec<BlockChangeRecord>, StoreError> {
        let label = self.label();
        let context = "reading probe block changes";
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT at, vantage, network, from_state, to_state, belief_up
                 FROM probe_block_changes
                 WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR network = ?3)
                 ORDER BY at, network, vantage",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map(params![from, until, block.map(u32::from)], |row| {
                let network: u32 = row.get(2)?;
                let belief_up: f64 = row.get(5)?;
                Ok(BlockChangeRecord {
                    at: row.get(0)?,
                    vantage: row.get(1)?,
                    network: Ipv4Addr::from(network),
                    from_state: row.get(3)?,
                    to_state: row.get(4)?,
                    belief_up: belief_up as f32,
                })
            })
            .map_err(sql_error(label, context))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql_error(label, context))
    }
}
