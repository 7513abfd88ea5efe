//! From block states to the store: the number of /24 blocks UP per entity
//! (IODA's `ping-slash24`), and a log of per-block state changes so a user
//! can drill down from "country X lost 40 blocks" to the blocks themselves.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use rusqlite::{params, Connection};
use vigie_geo::{Family, GeoDb};
use vigie_model::{Entity, SeriesKey, SignalKind, UnixSecs};

use crate::belief::BlockState;
use crate::engine::BlockChange;
use crate::list::ProbeList;

/// The number of UP blocks per country, AS and region for one bin, as
/// `(series, value)` pairs for `Store::write_bin`.
///
/// `states` gives, for each block of `list` in order, its state and whether
/// the last round measured it. An entity's value is `None` ("no data") when
/// none of its blocks was measured, e.g. when the vantage point was cut off;
/// otherwise the count of its UP blocks (0 included). Blocks the geo
/// database cannot place are counted for no entity.
pub fn up_counts(
    list: &ProbeList,
    states: impl IntoIterator<Item = (BlockState, bool)>,
    geo: &GeoDb,
) -> Vec<(SeriesKey, Option<f64>)> {
    let mut counts: BTreeMap<Entity, (u64, bool)> = BTreeMap::new();
    for (block, (state, measured)) in list.blocks().iter().zip(states) {
        let unit = block.unit();
        let mut add = |entity: Entity| {
            let entry = counts.entry(entity).or_insert((0, false));
            entry.0 += u64::from(state == BlockState::Up);
            entry.1 |= measured;
        };
        if let Some(country) = geo.country_of_unit(Family::V4, unit) {
            add(Entity::Country(country));
        }
        if let Some(asn) = geo.asn_of_unit(Family::V4, unit) {
            add(Entity::Asn(asn));
        }
        if let Some(region) = geo.region_of_unit(Family::V4, unit) {
            add(Entity::Region(region.clone()));
        }
    }
    counts
        .into_iter()
        .map(|(entity, (up, measured))| {
            let key = SeriesKey {
                entity,
                signal: SignalKind::ProbeUpSlash24s,
            };
            (key, measured.then_some(up as f64))
        })
        .collect()
}

/// Errors of the block log.
#[derive(Debug, thiserror::Error)]
#[error("probe block log {path}: {context}: {source}")]
pub struct BlockLogError {
    /// The log's file.
    pub path: String,
    /// What was being done.
    pub context: &'static str,
    /// The SQLite error.
    pub source: rusqlite::Error,
}

/// One state change of one block, as logged.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockLogEntry {
    /// The vantage point that saw it (or `combined`).
    pub vantage: String,
    /// End of the round, Unix seconds UTC.
    pub at: UnixSecs,
    /// The block's first address.
    pub network: Ipv4Addr,
    /// The state before.
    pub from: BlockState,
    /// The state after.
    pub to: BlockState,
    /// `B(U)` after.
    pub belief_up: f32,
}

/// Per-block state changes in their own SQLite file (by default
/// `<data dir>/probe-blocks.sqlite`, beside the store), one row per change.
#[derive(Debug)]
pub struct BlockLog {
    conn: Connection,
    path: String,
}

const BLOCK_LOG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS probe_block_changes (
    at INTEGER NOT NULL,          -- end of the round, Unix seconds UTC
    vantage TEXT NOT NULL,
    network INTEGER NOT NULL,     -- first address of the /24, as a number
    from_state TEXT NOT NULL,     -- up, down, uncertain
    to_state TEXT NOT NULL,
    belief_up REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS probe_block_changes_by_block ON probe_block_changes (network, at);
CREATE INDEX IF NOT EXISTS probe_block_changes_by_time ON probe_block_changes (at);
";

impl BlockLog {
    /// Opens (creating if needed) the log at `path`.
    pub fn open(path: &Path) -> Result<BlockLog, BlockLogError> {
        let label = path.display().to_string();
        let err = |context| {
            let path = label.clone();
            move |source| BlockLogError {
                path,
                context,
                source,
            }
        };
        let conn = Connection::open(path).map_err(err("opening it"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err("switching to WAL"))?;
        conn.execute_batch(BLOCK_LOG_SCHEMA)
            .map_err(err("creating its table"))?;
        Ok(BlockLog { conn, path: label })
    }

    fn err(&self, context: &'static str) -> impl FnOnce(rusqlite::Error) -> BlockLogError + '_ {
        move |source| BlockLogError {
            path: self.path.clone(),
            context,
            source,
        }
    }

    /// Records a round's changes, all or nothing.
    pub fn record(
        &mut self,
        vantage: &str,
        at: UnixSecs,
        changes: &[BlockChange],
    ) -> Result<(), BlockLogError> {
        let path = self.path.clone();
        let err = |context| {
            let path = path.clone();
            move |source| BlockLogError {
                path,
                context,
                source,
            }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(err("starting a transaction"))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO probe_block_changes (at, vantage, network, from_state, to_state, belief_up) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err("preparing an insert"))?;
            for change in changes {
                insert
                    .execute(params![
                        at,
                        vantage,
                        u32::from(change.network),
                        change.from.name(),
                        change.to.name(),
                        f64::from(change.belief_up)
                    ])
                    .map_err(err("inserting a change"))?;
            }
        }
        tx.commit().map_err(err("committing"))
    }

    /// Changes with `from <= at < until`, optionally of one block, in time order.
    pub fn changes(
        &self,
        block: Option<Ipv4Addr>,
        from: UnixSecs,
        until: UnixSecs,
    ) -> Result<Vec<BlockLogEntry>, BlockLogError> {
        let mut query = self
            .conn
            .prepare_cached(
                "SELECT at, vantage, network, from_state, to_state, belief_up FROM probe_block_changes
                 WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR network = ?3) ORDER BY at, network, vantage",
            )
            .map_err(self.err("preparing a query"))?;
        let block = block.map(u32::from);
        let rows = query
            .query_map(params![from, until, block], |row| {
                let network: u32 = row.get(2)?;
                let from_state: String = row.get(3)?;
                let to_state: String = row.get(4)?;
                let belief: f64 = row.get(5)?;
                Ok(BlockLogEntry {
                    at: row.get(0)?,
                    vantage: row.get(1)?,
                    network: Ipv4Addr::from(network),
                    from: BlockState::from_name(&from_state).unwrap_or(BlockState::Uncertain),
                    to: BlockState::from_name(&to_state).unwrap_or(BlockState::Uncertain),
                    belief_up: belief as f32,
                })
            })
            .map_err(self.err("querying"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("reading rows"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{Eligibility, ListBuilder};
    use vigie_geo::GeoDbBuilder;
    use vigie_model::CountryCode;

    #[test]
    fn counts_up_blocks_per_country_and_as() {
        let mut geo = GeoDbBuilder::empty();
        geo.load_ip_location_db_country_from(
            "198.18.0.0,198.18.1.255,KZ\n198.18.2.0,198.18.2.255,KG\n".as_bytes(),
            "countries.csv",
        )
        .unwrap();
        geo.load_ip_location_db_asn_from(
            "198.18.0.0,198.18.0.255,9198,Kazakhtelecom\n".as_bytes(),
            "asn.csv",
        )
        .unwrap();
        let geo = geo.build();
        let mut builder = ListBuilder::new();
        for b in 0..4u8 {
            builder.add(Ipv4Addr::new(198, 18, b, 1), 1.0);
        }
        let list = builder.build(&Eligibility {
            min_responsive: 1,
            ..Eligibility::default()
        });
        let states = [
            (BlockState::Up, true),        // 198.18.0 KZ AS9198
            (BlockState::Down, true),      // 198.18.1 KZ
            (BlockState::Up, false),       // 198.18.2 KG, not measured
            (BlockState::Uncertain, true), // 198.18.3 nowhere
        ];
        let values = up_counts(&list, states, &geo);
        let kz = Entity::Country(CountryCode::new("KZ").unwrap());
        let kg = Entity::Country(CountryCode::new("KG").unwrap());
        let get = |e: &Entity| values.iter().find(|(k, _)| &k.entity == e).map(|(_, v)| *v);
        assert_eq!(values.len(), 3);
        assert_eq!(get(&kz), Some(Some(1.0)));
        assert_eq!(get(&kg), Some(None));
        assert_eq!(get(&Entity::Asn(9198)), Some(Some(1.0)));
        assert!(values
            .iter()
            .all(|(k, _)| k.signal == SignalKind::ProbeUpSlash24s));
    }

    #[test]
    fn block_log_keeps_changes_for_drill_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe-blocks.sqlite");
        let change = |net: [u8; 4], from, to| BlockChange {
            block_index: 0,
            network: Ipv4Addr::from(net),
            from,
            to,
            belief_up: 0.01,
        };
        {
            let mut log = BlockLog::open(&path).unwrap();
            log.record(
                "v1",
                1_000,
                &[
                    change([198, 18, 0, 0], BlockState::Up, BlockState::Down),
                    change([198, 18, 1, 0], BlockState::Up, BlockState::Down),
                ],
            )
            .unwrap();
            log.record(
                "v1",
                1_600,
                &[change([198, 18, 0, 0], BlockState::Down, BlockState::Up)],
            )
            .unwrap();
        }
        let log = BlockLog::open(&path).unwrap();
        let all = log.changes(None, 0, 2_000).unwrap();
        assert_eq!(all.len(), 3);
        let one = log
            .changes(Some(Ipv4Addr::new(198, 18, 0, 0)), 0, 2_000)
            .unwrap();
        assert_eq!(
            one.iter().map(|e| (e.at, e.from, e.to)).collect::<Vec<_>>(),
            [
                (1_000, BlockState::Up, BlockState::Down),
                (1_600, BlockState::Down, BlockState::Up)
            ]
        );
        assert_eq!(log.changes(None, 1_001, 1_600).unwrap().len(), 0);
        assert!(BlockLog::open(dir.path()).is_err());
    }
}
