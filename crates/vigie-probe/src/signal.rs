//! From block states to the store: the number of /24 blocks UP per entity
//! (IODA's `ping-slash24`), and a log of per-block state changes so a user
//! can drill down from "country X lost 40 blocks" to the blocks themselves.
//! The log lives in the store (`Store::record_block_changes`, migration 6);
//! this module turns the engine's [`BlockChange`]s into its rows and back.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use vigie_geo::{Family, GeoDb};
use vigie_model::{Entity, SeriesKey, SignalKind, UnixSecs};
use vigie_store::{BlockChangeRecord, Store, StoreError};

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

impl From<BlockChangeRecord> for BlockLogEntry {
    /// A stored row; a state name this build does not know reads as
    /// uncertain.
    fn from(row: BlockChangeRecord) -> Self {
        let state = |name: &str| BlockState::from_name(name).unwrap_or(BlockState::Uncertain);
        BlockLogEntry {
            from: state(&row.from_state),
            to: state(&row.to_state),
            vantage: row.vantage,
            at: row.at,
            network: row.network,
            belief_up: row.belief_up,
        }
    }
}

/// Logs one round's block changes seen by `vantage` (the round ended at
/// `at`) in the store, all or nothing.
pub fn record_block_changes(
    store: &mut Store,
    vantage: &str,
    at: UnixSecs,
    changes: &[BlockChange],
) -> Result<(), StoreError> {
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
    store.record_block_changes(&rows)
}

/// The logged changes with `from <= at < until`, of one block (its first
/// address) or all, in time order.
pub fn logged_block_changes(
    store: &Store,
    block: Option<Ipv4Addr>,
    from: UnixSecs,
    until: UnixSecs,
) -> Result<Vec<BlockLogEntry>, StoreError> {
    Ok(store
        .block_changes(block, from, until)?
        .into_iter()
        .map(BlockLogEntry::from)
        .collect())
}

/// The name of the file that held the block log before it moved into the
/// store (`<data dir>/probe-blocks.sqlite`).
pub const LEGACY_BLOCK_LOG_FILE: &str = "probe-blocks.sqlite";

/// The per-block change log of the store in a data directory, with its own
/// store connection: [`record_block_changes`] and [`logged_block_changes`]
/// for a caller without a [`Store`] at hand.
pub struct BlockLog {
    store: Store,
}

impl std::fmt::Debug for BlockLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockLog")
            .field("store", &self.store.location())
            .finish()
    }
}

impl BlockLog {
    /// Opens the block log of the store in `data_dir` (creating the store if
    /// needed). A path to the former separate file,
    /// `<data dir>/probe-blocks.sqlite`, names its data directory, so
    /// callers written for that file keep working.
    pub fn open(data_dir: &Path) -> Result<BlockLog, StoreError> {
        let dir = match data_dir.parent() {
            Some(parent) if data_dir.file_name() == Some(LEGACY_BLOCK_LOG_FILE.as_ref()) => parent,
            _ => data_dir,
        };
        Ok(BlockLog {
            store: Store::open(dir)?,
        })
    }

    /// Records a round's changes, all or nothing.
    pub fn record(
        &mut self,
        vantage: &str,
        at: UnixSecs,
        changes: &[BlockChange],
    ) -> Result<(), StoreError> {
        record_block_changes(&mut self.store, vantage, at, changes)
    }

    /// Changes with `from <= at < until`, optionally of one block, in time order.
    pub fn changes(
        &self,
        block: Option<Ipv4Addr>,
        from: UnixSecs,
        until: UnixSecs,
    ) -> Result<Vec<BlockLogEntry>, StoreError> {
        logged_block_changes(&self.store, block, from, until)
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
        let change = |net: [u8; 4], from, to| BlockChange {
            block_index: 0,
            network: Ipv4Addr::from(net),
            from,
            to,
            belief_up: 0.01,
        };
        {
            let mut store = Store::open(dir.path()).unwrap();
            record_block_changes(
                &mut store,
                "v1",
                1_000,
                &[
                    change([198, 18, 0, 0], BlockState::Up, BlockState::Down),
                    change([198, 18, 1, 0], BlockState::Up, BlockState::Down),
                ],
            )
            .unwrap();
            // The same log, through its own connection named as the old file.
            let mut log = BlockLog::open(&dir.path().join(LEGACY_BLOCK_LOG_FILE)).unwrap();
            log.record(
                "v1",
                1_600,
                &[change([198, 18, 0, 0], BlockState::Down, BlockState::Up)],
            )
            .unwrap();
        }
        assert!(
            !dir.path().join(LEGACY_BLOCK_LOG_FILE).exists(),
            "the log is in the store, not in a file of its own"
        );
        let log = BlockLog::open(dir.path()).unwrap();
        let all = log.changes(None, 0, 2_000).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[0],
            BlockLogEntry {
                vantage: "v1".into(),
                at: 1_000,
                network: Ipv4Addr::new(198, 18, 0, 0),
                from: BlockState::Up,
                to: BlockState::Down,
                belief_up: 0.01,
            }
        );
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
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            logged_block_changes(&store, None, 1_600, 1_601).unwrap()[0].to,
            BlockState::Up
        );
        let not_a_dir = dir.path().join("vigie.sqlite").join("x");
        assert!(BlockLog::open(&not_a_dir).is_err());
    }
}
