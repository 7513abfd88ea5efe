//! The store's series listing, cached between writes: the entity list,
//! the coverage map, the summary's totals and IODA's entity query read it
//! on every request, and listing the store decodes every staged bin (the
//! day so far of every series). The listing is kept with the write log's
//! latest number ([`Store::last_write_seq`], one indexed read) and read
//! again only when a write has been logged since, by this process or any
//! other, on SQLite as on PostgreSQL. Display names are not in the write
//! log: they are read afresh on every request ([`Store::entity_names`],
//! the entities table alone). `vigie store repair`, which removes bins
//! dated outside the plausible window without logging a write, is seen at
//! the next write or when the server restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vigie_model::Entity;
use vigie_store::{EntityInfo, SeriesInfo, SignalLatest, Store, StoreError};

/// The cached listing (see the [module documentation](self)).
#[derive(Default)]
pub struct Listing {
    cached: Mutex<Option<(i64, Arc<Vec<SeriesInfo>>)>>,
}

impl Listing {
    /// Every series, as [`Store::list_series`] lists them, from the cache
    /// unless a write was logged since it was filled.
    pub fn series(&self, store: &Store) -> Result<Arc<Vec<SeriesInfo>>, StoreError> {
        // The number is read before the listing: a write committed in
        // between is in the listing and moves the number on, so the next
        // request reads again (never the other way round).
        let seq = store.last_write_seq()?;
        if let Ok(cached) = self.cached.lock() {
            if let Some((at, list)) = cached.as_ref() {
                if *at == seq {
                    return Ok(Arc::clone(list));
                }
            }
        }
        let list = Arc::new(store.list_series()?);
        if let Ok(mut cached) = self.cached.lock() {
            // Keep the newest of two listings read at once.
            if cached.as_ref().is_none_or(|(at, _)| *at <= seq) {
                *cached = Some((seq, Arc::clone(&list)));
            }
        }
        Ok(list)
    }

    /// Every entity with a series, as [`Store::entities`] lists them: the
    /// cached series grouped by entity, with the names read now.
    pub fn entities(&self, store: &Store) -> Result<Vec<EntityInfo>, StoreError> {
        let series = self.series(store)?;
        let names: HashMap<Entity, String> = store.entity_names()?.into_iter().collect();
        Ok(entity_infos(&series, &names))
    }
}

/// Groups `series` (in listing order: by entity, then signal and bin) into
/// entities, each with its signals' latest values and its name.
pub fn entity_infos(series: &[SeriesInfo], names: &HashMap<Entity, String>) -> Vec<EntityInfo> {
    let mut out: Vec<EntityInfo> = Vec::new();
    for info in series {
        let latest = SignalLatest {
            signal: info.key.signal,
            bin: info.bin,
            latest_time: info.last_bin,
            latest_value: info.latest_value,
        };
        match out.last_mut() {
            Some(last) if last.entity == info.key.entity => last.signals.push(latest),
            _ => out.push(EntityInfo {
                entity: info.key.entity.clone(),
                name: names.get(&info.key.entity).cloned(),
                signals: vec![latest],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{BinSize, SeriesKey, SignalKind};

    fn key(entity: &str, signal: SignalKind) -> SeriesKey {
        SeriesKey {
            entity: entity.parse().unwrap(),
            signal,
        }
    }

    /// The cached listing equals the store's own after every kind of
    /// change: a staged bin, a compaction, points written straight into
    /// chunks, a name set and changed.
    #[test]
    fn the_cache_follows_every_write() {
        let mut store = Store::open_in_memory().unwrap();
        let listing = Listing::default();
        let bin = BinSize::default();
        let t = 1_736_035_200;
        let check = |store: &Store, listing: &Listing| {
            assert_eq!(
                *listing.series(store).unwrap(),
                store.list_series().unwrap()
            );
            assert_eq!(listing.entities(store).unwrap(), store.entities().unwrap());
        };
        check(&store, &listing);
        let values = vec![
            (key("KZ", SignalKind::BgpVisibleSlash24s), Some(10.0)),
            (key("AS9198", SignalKind::BgpVisibleSlash24s), Some(3.0)),
            (key("KZ", SignalKind::ProbeUpSlash24s), Some(7.0)),
        ];
        store.write_bin("test", bin, t, &values).unwrap();
        check(&store, &listing);
        // A later staged bin moves the latest values.
        store.write_bin("test", bin, t + 300, &values[..1]).unwrap();
        check(&store, &listing);
        let kz_bgp = key("KZ", SignalKind::BgpVisibleSlash24s);
        let series = listing.series(&store).unwrap();
        let kz = series.iter().find(|s| s.key == kz_bgp).unwrap();
        assert_eq!(kz.last_bin, Some(t + 300));
        store.compact().unwrap();
        check(&store, &listing);
        store
            .write_points(
                &key("KZ/Almaty", SignalKind::BgpVisibleSlash24s),
                bin,
                &[(t - 86_400, Some(1.0))],
            )
            .unwrap();
        check(&store, &listing);
        store
            .set_entity_name(&"AS9198".parse().unwrap(), "KazTelecom")
            .unwrap();
        check(&store, &listing);
        store
            .set_entity_name(&"AS9198".parse().unwrap(), "Kazakhtelecom")
            .unwrap();
        check(&store, &listing);
        let entities = listing.entities(&store).unwrap();
        let asn = entities
            .iter()
            .find(|e| e.entity.to_string() == "AS9198")
            .unwrap();
        assert_eq!(asn.name.as_deref(), Some("Kazakhtelecom"));
    }

    /// Another connection's write (another process, as `vigie ingest`
    /// beside `vigie serve`) is seen at the next request.
    #[test]
    fn another_connections_write_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let reader = Store::open(dir.path()).unwrap();
        let listing = Listing::default();
        assert!(listing.series(&reader).unwrap().is_empty());
        writer
            .write_bin(
                "test",
                BinSize::default(),
                1_736_035_200,
                &[(key("IQ", SignalKind::BgpVisibleSlash24s), Some(5.0))],
            )
            .unwrap();
        assert_eq!(listing.series(&reader).unwrap().len(), 1);
        assert_eq!(
            *listing.series(&reader).unwrap(),
            reader.list_series().unwrap()
        );
    }
}
