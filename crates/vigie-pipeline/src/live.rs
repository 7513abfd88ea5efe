//! Live detection over the store: [`LiveDetection`] feeds every closed bin
//! to one [`LiveDetector`] and keeps the store's incidents (method `vigie`,
//! as `vigie detect` writes them) up to date as bins arrive, so the API,
//! the dashboard and the alert worker see them at once.
//!
//! Bins reach it two ways, each bin once: the service's own sources hand
//! theirs over directly ([`LiveDetection::push_bin`]), and bins that other
//! processes write into the same store (`vigie probe`, `vigie ingest`,
//! imports) are found in the store's write log ([`LiveDetection::poll`]).
//! A bin older than the last one a series was given is ignored. A
//! detection worker on the bus ([`LiveDetection::for_share`]) is handed
//! the bus's bins ([`LiveDetection::push_bus_bin`]) and reads a series'
//! stored history once, before its first bus bin; it follows its share's
//! entities and the ASes of its countries ([`Share`]).
//!
//! The detector's state is checkpointed per series in the store
//! ([`LiveDetection::checkpoint`], or a share of the series at a time with
//! [`LiveDetection::checkpoint_some`], so a service spreads the cost over
//! its checkpoint interval): the detector's own state is replaced (compact
//! binary, deflated), the per-bin depth history fusion reads is appended
//! to. [`LiveDetection::resume`] restores it and
//! reads what was stored since, and a series without a checkpoint is warmed
//! up from its stored history, so a restarted service neither relearns nor
//! reports an incident twice (the alert outbox is keyed by incident start).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::ops::Bound;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use vigie_detect::{Incident, LiveDetector, SeriesState, VigieConfig};
use vigie_model::{
    format_utc, BinSize, Entity, EntityKind, SeriesKey, SignalBin, SignalKind, TimeRange, UnixSecs,
};
use vigie_store::{
    AsCountrySpace, BinWrite, DetectorCheckpoint, OutboxNotice, ResultFilter, Store, StoredIncident,
};

use crate::detect::{store_incidents, stored_events};
use crate::scope::ScopeContext;
use crate::VIGIE;

/// The method under which provisional incidents are stored.
pub const PROVISIONAL: &str = "vigie-provisional";

/// The share of a country's visible /24s that an open bin must have lost,
/// against the detector's baseline, to open a provisional incident.
pub const DECISIVE_LOSS: f64 = 0.5;

/// Write-log rows read per [`LiveDetection::poll`] call.
const POLL_BATCH: usize = 10_000;

/// How long a detection worker keeps the ASes it follows for its
/// countries before [`LiveDetection::push_bus_bin`] reads the store's
/// AS-to-country table again ([`LiveDetection::refresh_followed`]): one
/// read of the whole table (a row per AS and country) every five minutes
/// of wall-clock time at most, never per bin. BGP ingestion (`vigie ingest
/// mrt`) rewrites the table once a run; a worker sees a change at its
/// first bus bin this long after its last read at most, and an AS it
/// starts following then is caught up from the store.
const FOLLOW_REFRESH: Duration = Duration::from_secs(300);

/// What one round of [`LiveDetection::publish`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Entities whose incidents were written again.
    pub entities: usize,
    /// Incidents written, ongoing ones included.
    pub incidents: usize,
    /// Incidents written that are still going on.
    pub ongoing: usize,
}

/// The live detection unit: a detector over every series, the scope of
/// country incidents, and its place in the store's write log.
pub struct LiveDetection {
    detector: LiveDetector,
    scope: ScopeContext,
    /// The last write-log row read.
    position: i64,
    /// Store sources whose bins come through [`Self::push_bin`] (their
    /// write-log rows are skipped).
    own_sources: BTreeSet<String>,
    /// Entities pushed since the last publication.
    pushed: BTreeSet<Entity>,
    /// Entities with incidents at the last publication (their incidents'
    /// `observed_until` moves with every bin, as in batch detection).
    with_incidents: BTreeSet<Entity>,
    /// Entities with an incident going on at the last publication.
    ongoing: BTreeSet<Entity>,
    /// Provisional incidents not yet confirmed or withdrawn.
    pending: BTreeMap<Entity, Pending>,
    /// The last final value of each country's visible /24s.
    last_final: BTreeMap<Entity, (UnixSecs, f64)>,
    /// Series pushed since their last checkpoint.
    unsaved: BTreeSet<(SeriesKey, u32)>,
    /// Per series checkpointed: its depth history's first bin and how many
    /// of its bins the store holds.
    saved_depths: HashMap<(SeriesKey, u32), (UnixSecs, usize)>,
    /// The last series [`Self::checkpoint_some`] saved: the next call goes
    /// on after it.
    cursor: Option<(SeriesKey, u32)>,
    /// A detection worker's share of the entities (none: every entity).
    share: Option<Share>,
    /// A worker's ASes followed for its countries ([`Share::country_ases`]),
    /// as the store's AS-to-country table stood at `ases_read_at`.
    country_ases: HashSet<u32>,
    /// When `country_ases` was read.
    ases_read_at: Instant,
    /// The series of ASes followed for their country (not owned) met on
    /// the bus since their AS was last (again) followed: any other is
    /// first caught up from the store at its next bus bin.
    met: HashSet<(SeriesKey, u32)>,
    /// The method the checkpoints are saved under.
    checkpoint_method: String,
}

/// A detection worker's share of the entities, `index` of `count`
/// (`--share 1/2`): a country is owned by the worker its code hashes to,
/// a region by its country's worker (a country's scope reads its
/// regions' incidents), an AS by its number's. A worker also follows,
/// without publishing them, the ASes originating space in a country it
/// owns (the store's AS-to-country table, [`Share::country_ases`]), since
/// a country's scope names those with an incident overlapping its own; an
/// AS of no country is followed by its owner only. The hash (FNV-1a over
/// the entity's name) is fixed, so a share means the same entities to
/// every version of vigie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// This worker's place, from 1.
    pub index: u32,
    /// How many workers share the entities.
    pub count: u32,
}

impl Share {
    /// Whether this worker detects and publishes `entity`'s incidents.
    pub fn owns(&self, entity: &Entity) -> bool {
        let group = match entity {
            Entity::Region(region) => Entity::Country(region.country).to_string(),
            other => other.to_string(),
        };
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in group.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// The ASes originating space in a country this worker owns, per
    /// `table` (rows of the store's AS-to-country table,
    /// [`Store::as_countries`]): it follows them for its countries' scopes.
    pub fn country_ases<'a>(
        &self,
        table: impl IntoIterator<Item = &'a AsCountrySpace>,
    ) -> HashSet<u32> {
        let mut owned: HashMap<vigie_model::CountryCode, bool> = HashMap::new();
        table
            .into_iter()
            .filter(|row| {
                *owned
                    .entry(row.country)
                    .or_insert_with(|| self.owns(&Entity::Country(row.country)))
            })
            .map(|row| row.asn)
            .collect()
    }

    /// Whether this worker feeds `entity`'s bins to its detector: the
    /// entities it owns, and the ASes of `country_ases` (from
    /// [`Self::country_ases`]).
    pub fn follows(&self, entity: &Entity, country_ases: &HashSet<u32>) -> bool {
        match entity {
            Entity::Asn(asn) if country_ases.contains(asn) => true,
            _ => self.owns(entity),
        }
    }

    /// The method this share's checkpoints are saved under, apart from
    /// the other shares' and the service's.
    pub fn checkpoint_method(&self) -> String {
        format!("{VIGIE}-share-{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Share {
    type Err = anyhow::Error;

    /// Parses `I/N`, 1 ≤ I ≤ N.
    fn from_str(text: &str) -> Result<Share> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if index >= 1 && index <= count => Ok(Share { index, count }),
            _ => anyhow::bail!("a share is I/N with 1 <= I <= N (1/2, 2/2), not {text:?}"),
        }
    }
}

/// A provisional incident: the open bin of a country's visible /24s
/// showed a decisive loss before the bin closed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Pending {
    entity: Entity,
    /// The open bin that showed it.
    start: UnixSecs,
    /// The detector's baseline for that bin.
    baseline: f64,
    /// The provisional value.
    value: f64,
    provisional: bool,
}

impl LiveDetection {
    /// Restored detector state and nothing else yet: no store position,
    /// no sources of its own, no share, checkpoints under `method`.
    fn fresh(
        detector: LiveDetector,
        saved_depths: HashMap<(SeriesKey, u32), (UnixSecs, usize)>,
        checkpoint_method: String,
    ) -> LiveDetection {
        LiveDetection {
            detector,
            scope: ScopeContext::default(),
            position: 0,
            own_sources: BTreeSet::new(),
            pushed: BTreeSet::new(),
            with_incidents: BTreeSet::new(),
            ongoing: BTreeSet::new(),
            pending: BTreeMap::new(),
            last_final: BTreeMap::new(),
            unsaved: BTreeSet::new(),
            saved_depths,
            cursor: None,
            share: None,
            country_ases: HashSet::new(),
            ases_read_at: Instant::now(),
            met: HashSet::new(),
            checkpoint_method,
        }
    }

    /// Resumes from the detector states saved in `store` (none: a fresh
    /// detector), then reads every series from where its state stopped
    /// (a series without a state from its first bin) to its last stored
    /// bin, and publishes every entity's incidents. Bins of `own_sources`
    /// are expected through [`Self::push_bin`] afterwards.
    pub fn resume(
        store: &mut Store,
        config: VigieConfig,
        own_sources: impl IntoIterator<Item = String>,
    ) -> Result<LiveDetection> {
        let (detector, saved_depths) = restore_checkpoints(store, config, VIGIE)?;
        // Read before the series, so nothing written meanwhile is missed.
        let position = store.last_write_seq()?;
        let mut live = LiveDetection::fresh(detector, saved_depths, VIGIE.to_string());
        live.position = position;
        live.own_sources = own_sources.into_iter().collect();
        let filter = ResultFilter {
            method: Some(PROVISIONAL.into()),
            ..ResultFilter::default()
        };
        for stored in store.incidents(&filter)? {
            if let Ok(pending) = serde_json::from_str::<Pending>(&stored.detail) {
                live.pending.insert(pending.entity.clone(), pending);
            }
        }
        // Series are read one after the other: the depth histories are
        // kept whole until every series has caught up, then pruned.
        live.detector.hold_depths(true);
        for info in store.list_series()? {
            live.scope.note_bin(&info.key, info.bin);
            let Some(last) = info.last_bin else { continue };
            let from = live
                .detector
                .next_bin(&info.key, info.bin.secs())
                .or(info.first_bin)
                .unwrap_or(last);
            live.read_into(store, &info.key, info.bin, from, last)?;
        }
        live.detector.hold_depths(false);
        live.detector.prune_depths();
        let everyone = live.detector.entities();
        live.publish_entities(store, everyone)?;
        live.detector.take_changed();
        live.pushed.clear();
        Ok(live)
    }

    /// A detection worker over `share` of the entities, fed the bus's
    /// closed bins by [`Self::push_bus_bin`]: its checkpoints (saved under
    /// [`Share::checkpoint_method`]) are restored, so the bins after them
    /// come again from the bus (a worker acknowledges bins only once
    /// checkpointed); a series without one is warmed up from the store's
    /// history when its first bus bin comes. Bins of entities it does not
    /// follow ([`Share::follows`], the AS-to-country table read now and
    /// again by [`Self::refresh_followed`]) are skipped; only the share's
    /// incidents and events are written.
    pub fn for_share(
        store: &mut Store,
        config: VigieConfig,
        share: Share,
    ) -> Result<LiveDetection> {
        let method = share.checkpoint_method();
        let (detector, saved_depths) = restore_checkpoints(store, config, &method)?;
        let mut live = LiveDetection::fresh(detector, saved_depths, method);
        live.share = Some(share);
        live.refresh_followed(store)?;
        // Fuse what was restored (nothing written): the scope's memory of
        // regions and ASes, and which entities have incidents.
        let mut everyone: Vec<Entity> = live.detector.entities().into_iter().collect();
        everyone.sort_by_key(|e| (e.kind() == EntityKind::Country, e.clone()));
        for entity in &everyone {
            live.fuse(store, entity)?;
        }
        live.detector.take_changed();
        live.detector.take_pushed();
        Ok(live)
    }

    /// The share of the entities this detection follows (none: all).
    pub fn share(&self) -> Option<Share> {
        self.share
    }

    /// Reads the store's AS-to-country table again, for a detection
    /// worker (nothing without a share): from their next bus bin on, it
    /// follows the ASes originating space in its countries by the table as
    /// it stands, and no longer feeds the others it does not own.
    /// [`Self::for_share`] calls it, then [`Self::push_bus_bin`] every
    /// five minutes at most; a caller that knows the table changed may call
    /// it sooner. An AS followed again is first caught up from the store
    /// at its next bus bin (see [`Self::push_bus_bin`]). Returns how many
    /// ASes the worker follows for its countries.
    pub fn refresh_followed(&mut self, store: &Store) -> Result<usize> {
        let Some(share) = self.share else {
            return Ok(0);
        };
        let table = store
            .as_countries(None, None)
            .context("cannot read the AS-to-country table")?;
        let ases = share.country_ases(&table);
        let dropped: HashSet<u32> = self.country_ases.difference(&ases).copied().collect();
        if !dropped.is_empty() {
            self.met.retain(
                |(key, _)| !matches!(key.entity, Entity::Asn(asn) if dropped.contains(&asn)),
            );
        }
        self.country_ases = ases;
        self.ases_read_at = Instant::now();
        Ok(self.country_ases.len())
    }

    /// Whether this detection feeds `entity`'s bins to its detector.
    fn follows(&self, entity: &Entity) -> bool {
        self.share
            .is_none_or(|share| share.follows(entity, &self.country_ases))
    }

    /// Whether `entity` is an AS this worker follows for its countries
    /// only (it does not own it).
    fn follows_for_country(&self, entity: &Entity) -> bool {
        match (entity, self.share) {
            (Entity::Asn(asn), Some(share)) => {
                self.country_ases.contains(asn) && !share.owns(entity)
            }
            _ => false,
        }
    }

    /// The detector as it stands.
    pub fn detector(&self) -> &LiveDetector {
        &self.detector
    }

    /// Feeds one closed bin of the service's own sources (values of "no
    /// data" are skipped: the detector counts a missing bin as no data).
    /// A worker with a [`Share`] skips the entities it does not follow.
    pub fn push_bin(&mut self, bin: &SignalBin) {
        for (key, value) in &bin.values {
            if value.is_some() && self.follows(&key.entity) {
                self.push(key, bin.bin, bin.bin_start, *value);
            }
        }
    }

    /// Feeds one closed bin from the bus, as [`Self::push_bin`] does, a
    /// series the detector does not follow yet (no checkpoint, never
    /// pushed) first warmed up from the store: its stored bins strictly
    /// before this one, from its first, as [`Self::resume`] reads a series
    /// without a state. Each series is read once, at its first bus bin, and
    /// the bins from that one on come from the bus only, so a worker killed
    /// before its checkpoint reads the same history again when the same bin
    /// comes again. A series of an AS a worker follows for its countries
    /// only ([`Share::country_ases`]) is not fed while its AS is not
    /// followed, and a restored checkpoint of it may be that old: at its
    /// first bus bin since the worker started or (again) followed its AS,
    /// the stored bins between the detector's place and this bin are read
    /// first (none in the usual case: no store read). Returns how many
    /// series were warmed up with stored bins.
    ///
    /// Every five minutes at most, a worker first reads the AS-to-country
    /// table again ([`Self::refresh_followed`]).
    pub fn push_bus_bin(&mut self, store: &Store, bin: &SignalBin) -> Result<usize> {
        if self.share.is_some() && self.ases_read_at.elapsed() >= FOLLOW_REFRESH {
            self.refresh_followed(store)?;
        }
        let mut warmed = 0;
        for (key, value) in &bin.values {
            if value.is_none() || !self.follows(&key.entity) {
                continue;
            }
            let next = self.detector.next_bin(key, bin.bin.secs());
            // A bin its detector already holds (a redelivery) says nothing.
            let stale = next.is_some_and(|next| bin.bin.floor(bin.bin_start) < next);
            let first_met = !stale
                && self.follows_for_country(&key.entity)
                && self.met.insert((key.clone(), bin.bin.secs()));
            match next {
                None => {
                    warmed +=
                        usize::from(self.warm_up(store, key, bin.bin, None, bin.bin_start)?);
                }
                Some(next) if first_met => {
                    let caught_up = self.warm_up(store, key, bin.bin, Some(next), bin.bin_start)?;
                    warmed += usize::from(caught_up);
                }
                Some(_) => {}
            }
            self.push(key, bin.bin, bin.bin_start, *value);
        }
        Ok(warmed)
    }

    /// Pushes `key`'s stored bins from `from` (none: its first stored
    /// bin) to before `before`; whether there were any to read.
    fn warm_up(
        &mut self,
        store: &Store,
        key: &SeriesKey,
        bin: BinSize,
        from: Option<UnixSecs>,
        before: UnixSecs,
    ) -> Result<bool> {
        let last = bin.floor(before) - i64::from(bin.secs());
        if from.is_some_and(|from| from > last) {
            return Ok(false);
        }
        let first = match from {
            Some(from) => Some(from),
            None => store
                .entity_series(&key.entity)?
                .into_iter()
                .find(|info| info.key == *key && info.bin == bin)
                .and_then(|info| info.first_bin),
        };
        match first {
            Some(first) if first <= last => {
                self.read_into(store, key, bin, first, last)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn push(&mut self, key: &SeriesKey, bin: BinSize, t: UnixSecs, value: Option<f64>) {
        if let (Some(v), true) = (value, is_country_bgp(key)) {
            let last = self.last_final.entry(key.entity.clone()).or_insert((t, v));
            if t >= last.0 {
                *last = (t, v);
            }
        }
        self.scope.note_bin(key, bin);
        self.detector.push(key, bin, t, value);
        self.pushed.insert(key.entity.clone());
    }

    /// Reads `key`'s stored bins from `from` to `last` (inclusive) and
    /// pushes those with data.
    fn read_into(
        &mut self,
        store: &Store,
        key: &SeriesKey,
        bin: BinSize,
        from: UnixSecs,
        last: UnixSecs,
    ) -> Result<()> {
        if from > last {
            return Ok(());
        }
        let range = TimeRange::new(from, last + i64::from(bin.secs()))?;
        let series = store.read_series(key, bin, range)?;
        for (t, value) in series.points() {
            if value.is_some() {
                self.push(key, bin, t, value);
            }
        }
        Ok(())
    }

    /// Reads the bins that other processes wrote into the store since the
    /// last call (provisional bins and the service's own sources are
    /// skipped). Returns how many writes were read.
    pub fn poll(&mut self, store: &Store) -> Result<usize> {
        let mut read = 0;
        loop {
            let writes = store.writes_since(self.position, POLL_BATCH)?;
            let Some(last) = writes.last().map(|w| w.seq) else {
                return Ok(read);
            };
            read += writes.len();
            for write in &writes {
                self.read_write(store, write)?;
            }
            self.position = last;
            if writes.len() < POLL_BATCH {
                return Ok(read);
            }
        }
    }

    fn read_write(&mut self, store: &Store, write: &BinWrite) -> Result<()> {
        if self.own_sources.contains(&write.source) || write.source.ends_with("-provisional") {
            return Ok(());
        }
        if let Some(key) = &write.series {
            return self.read_into(store, key, write.bin, write.first_bin, write.last_bin);
        }
        for t in (write.first_bin..=write.last_bin).step_by(write.bin.secs() as usize) {
            match store.staged_bin(&write.source, write.bin, t)? {
                Some(values) => {
                    for (key, value) in values {
                        if value.is_some() {
                            self.push(&key, write.bin, t, value);
                        }
                    }
                }
                None => {
                    // Already folded into chunks: every series of that width.
                    for info in store.list_series()? {
                        if info.bin == write.bin {
                            self.read_into(store, &info.key, info.bin, t, t)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the incidents (and vigie's events) of every entity whose
    /// detections may have changed since the last call, as batch detection
    /// would: regions and ASes first, then the countries they belong to.
    pub fn publish(&mut self, store: &mut Store) -> Result<Published> {
        let mut entities = self.detector.take_changed();
        let pushed = std::mem::take(&mut self.pushed);
        entities.extend(pushed.intersection(&self.with_incidents).cloned());
        // A part's incidents change its country's scope.
        let mut countries = BTreeSet::new();
        for entity in &entities {
            match entity {
                Entity::Region(region) => {
                    countries.insert(Entity::Country(region.country));
                }
                Entity::Asn(asn) => {
                    for row in store.as_countries(None, Some(*asn))? {
                        countries.insert(Entity::Country(row.country));
                    }
                }
                Entity::Country(_) => {}
            }
        }
        let followed = self.detector.entities();
        entities.extend(countries.into_iter().filter(|c| followed.contains(c)));
        let published = self.publish_entities(store, entities)?;
        self.settle_provisional(store)?;
        Ok(published)
    }

    /// Looks at the open bin's provisional values: a country whose visible
    /// /24s lost at least [`DECISIVE_LOSS`] of the detector's baseline, with
    /// no incident going on, gets a provisional incident (method
    /// [`PROVISIONAL`]) and its subscribers a `start` notice marked
    /// provisional. Returns the countries raised by this bin.
    pub fn provisional_bin(&mut self, store: &mut Store, bin: &SignalBin) -> Result<Vec<Entity>> {
        let mut raised = Vec::new();
        for (key, value) in &bin.values {
            let Some(value) = *value else { continue };
            if !is_country_bgp(key)
                || self.ongoing.contains(&key.entity)
                || self.pending.contains_key(&key.entity)
            {
                continue;
            }
            let Some(verdict) = self.detector.peek(key, bin.bin, bin.bin_start, Some(value)) else {
                continue;
            };
            let Some(baseline) = verdict.predicted else {
                continue;
            };
            let min_prediction = self.detector.config().min_prediction;
            if baseline < min_prediction || value > (1.0 - DECISIVE_LOSS) * baseline {
                continue;
            }
            let pending = Pending {
                entity: key.entity.clone(),
                start: bin.bin_start,
                baseline,
                value,
                provisional: true,
            };
            store.replace_incidents(
                PROVISIONAL,
                &key.entity,
                &[StoredIncident {
                    method: PROVISIONAL.into(),
                    entity: key.entity.clone(),
                    start: pending.start,
                    end: None,
                    detail: serde_json::to_string(&pending)?,
                }],
            )?;
            notify(store, &pending, "start")?;
            raised.push(key.entity.clone());
            self.pending.insert(key.entity.clone(), pending);
        }
        Ok(raised)
    }

    /// Confirms or withdraws the provisional incidents once final bins
    /// have come: confirmed when an incident of the detector is going on
    /// (its own notices follow), withdrawn when a final bin at or after the
    /// provisional one is back above the decisive loss (a `withdrawn`
    /// notice); otherwise still pending.
    fn settle_provisional(&mut self, store: &mut Store) -> Result<()> {
        let mut settled = Vec::new();
        for (entity, pending) in &self.pending {
            if self.ongoing.contains(entity) {
                settled.push(entity.clone());
                continue;
            }
            let Some(&(t, value)) = self.last_final.get(entity) else {
                continue;
            };
            if t >= pending.start && value > (1.0 - DECISIVE_LOSS) * pending.baseline {
                notify(store, pending, "withdrawn")?;
                settled.push(entity.clone());
            }
        }
        for entity in settled {
            self.pending.remove(&entity);
            store.replace_incidents(PROVISIONAL, &entity, &[])?;
        }
        Ok(())
    }

    fn publish_entities(
        &mut self,
        store: &mut Store,
        entities: BTreeSet<Entity>,
    ) -> Result<Published> {
        let mut ordered: Vec<Entity> = entities.into_iter().collect();
        ordered.sort_by_key(|e| (e.kind() == EntityKind::Country, e.clone()));
        let mut published = Published::default();
        for entity in &ordered {
            let Some((detections, incidents)) = self.fuse(store, entity)? else {
                continue;
            };
            for detection in &detections {
                let bin = BinSize::new(detection.bin_secs)?;
                let events = stored_events(VIGIE, bin, &detection.events)?;
                store.replace_events(VIGIE, &detection.key, bin, &events)?;
            }
            store_incidents(store, entity, &incidents)?;
            published.entities += 1;
            published.incidents += incidents.len();
            published.ongoing += incidents.iter().filter(|i| i.end.is_none()).count();
        }
        Ok(published)
    }

    /// Fuses and scopes `entity`'s detections (the scope remembers a
    /// region's or an AS's incidents) and notes whether it has incidents;
    /// returns its detections and incidents when it is this detection's to
    /// publish (an AS a share only follows is not).
    #[allow(clippy::type_complexity)]
    fn fuse(
        &mut self,
        store: &Store,
        entity: &Entity,
    ) -> Result<Option<(Vec<vigie_detect::SignalDetection>, Vec<Incident>)>> {
        let config = self.detector.config().clone();
        let detections = self.detector.detections(entity);
        let incidents: Vec<Incident> =
            self.scope
                .scoped_incidents(store, entity, &detections, &config)?;
        if incidents.iter().any(|i| i.end.is_none()) {
            self.ongoing.insert(entity.clone());
        } else {
            self.ongoing.remove(entity);
        }
        if incidents.is_empty() {
            self.with_incidents.remove(entity);
        } else {
            self.with_incidents.insert(entity.clone());
        }
        let owned = self.share.is_none_or(|share| share.owns(entity));
        Ok(owned.then_some((detections, incidents)))
    }

    /// Saves the state of every series pushed since its last checkpoint,
    /// and the place in the write log, in one transaction. Returns how
    /// many series were saved.
    pub fn checkpoint(&mut self, store: &mut Store) -> Result<usize> {
        self.checkpoint_some(store, usize::MAX)
    }

    /// Saves the state of at most `most` of the series pushed since their
    /// last checkpoint, going on from where the last call stopped (in turn,
    /// so every series is saved once in as many calls as it takes), in one
    /// transaction. A service calls it at every bin with its share of the
    /// series, spreading checkpoints over its interval: a restart reads
    /// each series from where its own state stopped. Returns how many
    /// series were saved.
    pub fn checkpoint_some(&mut self, store: &mut Store, most: usize) -> Result<usize> {
        self.unsaved.extend(self.detector.take_pushed());
        let chosen: Vec<(SeriesKey, u32)> = match &self.cursor {
            Some(cursor) => self
                .unsaved
                .range((Bound::Excluded(cursor.clone()), Bound::Unbounded))
                .chain(self.unsaved.range(..=cursor.clone()))
                .take(most)
                .cloned()
                .collect(),
            None => self.unsaved.iter().take(most).cloned().collect(),
        };
        let mut states = Vec::with_capacity(chosen.len());
        let mut saved = Vec::with_capacity(chosen.len());
        for (key, bin_secs) in &chosen {
            let Some(state) = self.detector.series_state(key, *bin_secs) else {
                continue;
            };
            // Append what the store lacks; the whole history when it
            // started afresh since (bins the detector no longer keeps,
            // which fusion never reads again, as no depth).
            let from = match self.saved_depths.get(&(key.clone(), *bin_secs)) {
                Some(&(first, len)) if first == state.first_bin() && len <= state.depths_len() => {
                    len
                }
                _ => 0,
            };
            let Some((first_bin, len, depths)) = self.detector.depths_since(key, *bin_secs, from)
            else {
                continue;
            };
            states.push(DetectorCheckpoint {
                key: key.clone(),
                bin: BinSize::new(*bin_secs)?,
                state: encode_state(&state)?,
                depths_at: 4 * from as u64,
                depths: encode_depths(&depths),
            });
            saved.push(((key.clone(), *bin_secs), (first_bin, len)));
        }
        store
            .save_detector_state(&self.checkpoint_method, &states, self.position)
            .context("cannot checkpoint the live detector")?;
        for series in &chosen {
            self.unsaved.remove(series);
        }
        if let Some(last) = chosen.last() {
            self.cursor = Some(last.clone());
        }
        self.saved_depths.extend(saved);
        Ok(states.len())
    }
}

/// A detector and, per series restored, its depth history's first bin and
/// length in the store.
type Restored = (LiveDetector, HashMap<(SeriesKey, u32), (UnixSecs, usize)>);

/// A fresh detector with the states saved under `method` restored (an
/// unreadable one is said on stderr and left out).
fn restore_checkpoints(store: &Store, config: VigieConfig, method: &str) -> Result<Restored> {
    let mut detector = LiveDetector::new(config);
    detector.set_local_offsets(crate::local_offset);
    let mut saved_depths = HashMap::new();
    let (states, _) = store
        .detector_states(method)
        .context("cannot read the live detector's checkpoints")?;
    for checkpoint in states {
        let restored = decode_state(&checkpoint.state).and_then(|state| {
            anyhow::ensure!(
                detector.fits(&state),
                "it was saved by a detector of another configuration or version"
            );
            let at = (state.first_bin(), state.depths_len());
            let depths = decode_depths(&checkpoint.depths);
            anyhow::ensure!(
                detector.restore(state, depths),
                "its depth history is shorter than its state"
            );
            Ok(at)
        });
        match restored {
                Ok(at) => {
                    saved_depths.insert((checkpoint.key, checkpoint.bin.secs()), at);
                }
                Err(e) => eprintln!(
                    "vigie: the checkpoint of {}/{} ({} s) is unreadable ({e:#}): warming it up from the store",
                    checkpoint.key.entity, checkpoint.key.signal, checkpoint.bin.secs()
                ),
            }
    }
    Ok((detector, saved_depths))
}

/// A series' state as the store keeps it: postcard (a compact binary
/// serde format), deflated.
pub(crate) fn encode_state(state: &SeriesState) -> Result<Vec<u8>> {
    let bytes = postcard::to_allocvec(state)?;
    let mut encoder =
        flate2::write::DeflateEncoder::new(STATE_FORMAT.to_vec(), flate2::Compression::fast());
    encoder.write_all(&bytes)?;
    Ok(encoder.finish()?)
}

/// The first bytes of a checkpoint in the current encoding (the
/// detector's rings in their compact form); a checkpoint without them,
/// from an older vigie, is unreadable and its series is warmed up from
/// the store again.
const STATE_FORMAT: &[u8] = b"VGS7";

/// The inverse of [`encode_state`].
fn decode_state(bytes: &[u8]) -> Result<SeriesState> {
    let deflated = bytes
        .strip_prefix(STATE_FORMAT)
        .context("an older checkpoint format")?;
    let mut raw = Vec::new();
    flate2::read::DeflateDecoder::new(deflated).read_to_end(&mut raw)?;
    Ok(postcard::from_bytes(&raw)?)
}

/// Depths as the store keeps them: 4 bytes a bin, little-endian `f32`
/// (NaN: no depth).
fn encode_depths(depths: &[f32]) -> Vec<u8> {
    depths.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// The inverse of [`encode_depths`] (a trailing partial bin is dropped).
fn decode_depths(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Whether `key` is a country's visible /24s, the signal provisional
/// incidents are opened on.
fn is_country_bgp(key: &SeriesKey) -> bool {
    matches!(key.entity, Entity::Country(_)) && key.signal == SignalKind::BgpVisibleSlash24s
}

/// Enqueues a provisional incident's `start` or `withdrawn` notice for the
/// subscriptions of its entity that take `start` notices (the alert worker
/// delivers them; the key makes it once).
fn notify(store: &mut Store, pending: &Pending, notice: &str) -> Result<()> {
    let id = format!("{}@{}", pending.entity, pending.start);
    let mut outbox = Vec::new();
    for sub in store.subscriptions()? {
        if sub.entity != pending.entity || !sub.notices.iter().any(|n| n == "start") {
            continue;
        }
        let payload = serde_json::json!({
            "notice": notice,
            "provisional": true,
            "time": format_utc(pending.start),
            "entity": pending.entity.to_string(),
            "subscriptionId": sub.id,
            "evidence": {
                "signal": SignalKind::BgpVisibleSlash24s.name(),
                "value": pending.value,
                "baseline": pending.baseline,
            },
            "message": match notice {
                "start" => format!(
                    "provisional: {} lost {:.0}% of its visible /24s in the open bin of {}; confirmed or withdrawn when bins close",
                    pending.entity,
                    100.0 * (1.0 - pending.value / pending.baseline),
                    format_utc(pending.start)
                ),
                _ => format!(
                    "withdrawn: the provisional incident of {} at {} was not confirmed by the closed bins",
                    pending.entity,
                    format_utc(pending.start)
                ),
            },
        });
        outbox.push(OutboxNotice {
            subscription_id: sub.id,
            notice_key: format!("provisional-{notice}:{id}"),
            payload: payload.to_string(),
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    store.enqueue_notices(&outbox, now)?;
    Ok(())
}

#[cfg(test)]
mod share_tests {
    use std::collections::{BTreeSet, HashSet};

    use super::Share;
    use vigie_model::{CountryCode, Entity};
    use vigie_store::AsCountrySpace;

    #[test]
    fn every_entity_has_one_owner_and_regions_go_with_their_country() {
        let shares: Vec<Share> = (1..=3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        let mut per_share = [0usize; 3];
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                // "AS…" reads as an AS number: not a country code here.
                let (Ok(country), Ok(region)) = (
                    code.parse::<Entity>(),
                    format!("{code}/Somewhere").parse::<Entity>(),
                ) else {
                    continue;
                };
                let owners: Vec<usize> = (0..3).filter(|&i| shares[i].owns(&country)).collect();
                assert_eq!(owners.len(), 1, "{code}");
                assert!(shares[owners[0]].owns(&region), "{code}");
                per_share[owners[0]] += 1;
            }
        }
        // About 676 codes, split roughly evenly.
        assert!(per_share.iter().all(|&n| n > 150), "{per_share:?}");
        let asn = Entity::Asn(64_500);
        assert_eq!(shares.iter().filter(|s| s.owns(&asn)).count(), 1);
        assert_eq!(shares[1].checkpoint_method(), "vigie-share-2-of-3");
    }

    #[test]
    fn shares_follow_the_ases_of_their_countries_and_their_own() {
        let shares: Vec<Share> = (1..=2).map(|i| format!("{i}/2").parse().unwrap()).collect();
        let codes = ["KZ", "KG", "TJ", "UZ", "IQ", "IR", "SY", "ET", "SD", "MM"];
        let countries: Vec<CountryCode> =
            codes.iter().map(|c| CountryCode::new(c).unwrap()).collect();
        let owner = |e: &Entity| shares.iter().position(|s| s.owns(e)).unwrap();
        let by_share: Vec<Vec<CountryCode>> = (0..2)
            .map(|i| {
                let of = countries
                    .iter()
                    .filter(|c| owner(&Entity::Country(**c)) == i);
                of.copied().collect()
            })
            .collect();
        assert!(by_share.iter().all(|cs| cs.len() >= 2), "{by_share:?}");
        let row = |asn: u32, country: CountryCode| AsCountrySpace {
            asn,
            country,
            units_v4: 10,
            units_v6: 0,
            observed_at: 0,
        };
        // ASes 1..=300 in one country each, 301..=340 in one country of
        // each share, 341..=400 in no country (not in the table).
        let mut table = Vec::new();
        for asn in 1..=300u32 {
            table.push(row(asn, countries[asn as usize % countries.len()]));
        }
        for asn in 301..=340u32 {
            let i = asn as usize;
            table.push(row(asn, by_share[0][i % by_share[0].len()]));
            table.push(row(asn, by_share[1][i % by_share[1].len()]));
        }
        let followed: Vec<HashSet<u32>> = shares.iter().map(|s| s.country_ases(&table)).collect();
        // For their countries, the shares follow disjoint sets of ASes
        // but for those spanning countries of both.
        let both: BTreeSet<u32> = followed[0].intersection(&followed[1]).copied().collect();
        assert_eq!(both, (301..=340).collect());
        for asn in 1..=400u32 {
            let entity = Entity::Asn(asn);
            let owners: Vec<usize> = (0..2).filter(|&i| shares[i].owns(&entity)).collect();
            assert_eq!(owners.len(), 1, "AS{asn}");
            let followers: BTreeSet<usize> = (0..2)
                .filter(|&i| shares[i].follows(&entity, &followed[i]))
                .collect();
            let mut expected: BTreeSet<usize> = table
                .iter()
                .filter(|r| r.asn == asn)
                .map(|r| owner(&Entity::Country(r.country)))
                .collect();
            expected.insert(owners[0]);
            assert_eq!(followers, expected, "AS{asn}");
            if asn > 340 {
                assert_eq!(followers, BTreeSet::from([owners[0]]), "AS{asn}");
            }
        }
        // Countries and regions: their owner's, whatever the table.
        for country in &countries {
            let region: Entity = format!("{country}/Somewhere").parse().unwrap();
            let entity = Entity::Country(*country);
            for (i, share) in shares.iter().enumerate() {
                assert_eq!(share.follows(&entity, &followed[i]), share.owns(&entity));
                assert_eq!(share.follows(&region, &followed[i]), share.owns(&entity));
            }
        }
    }

    #[test]
    fn shares_parse_only_within_their_count() {
        assert_eq!(
            "2/2".parse::<Share>().unwrap(),
            Share { index: 2, count: 2 }
        );
        for bad in ["0/2", "3/2", "1", "a/b", "1/0", ""] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
    }
}
