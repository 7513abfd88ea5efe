//! The one event model of every live input, and the driver that applies it to
//! the [`VisibilityAccounting`] exactly as the MRT ingest does.
//!
//! Inputs (BGP sessions, BMP, RIS Live) turn what they receive into
//! [`LiveEvent`]s and send them down a channel; [`run_driver`] owns the
//! accounting, applies events in arrival order, closes bins on a wall-clock
//! timer even when no update arrives, publishes the open bin as provisional
//! every few seconds, and writes final and provisional bins to a
//! `vigie_model::BinSink` (retracting the provisional values of a bin that
//! gets no final ones); a [`LiveObserver`] hears the rest.
//!
//! Feed health: a feed that stalls or disconnects sends
//! [`LiveEvent::FeedDown`]; until its [`LiveEvent::FeedUp`], bins whose end
//! falls in the silent period are not written (they read as "no data": a
//! broken feed is not an outage).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bgpkit_parser::models::BgpUpdateMessage;
use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};
use vigie_model::{BinSink, SignalBin, UnixSecs};

use crate::mrt::{origin_asn, update_events, RouteAction};
use crate::routing::CollectorIdx;
use crate::visibility::{FeedCoverage, VisibilityAccounting};

/// One change to a peer's routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// The peer announces `prefix` (an implicit withdrawal of its previous path).
    Announce {
        /// The prefix.
        prefix: IpNet,
        /// The add-path path identifier, if add-path is in use.
        path_id: Option<u32>,
        /// The origin AS from the AS path (AS_SET handled as in MRT ingest).
        origin: Option<u32>,
    },
    /// The peer withdraws `prefix`.
    Withdraw {
        /// The prefix.
        prefix: IpNet,
        /// The add-path path identifier, if add-path is in use.
        path_id: Option<u32>,
    },
}

/// A peer of a live feed: a BGP session, a BMP-monitored peer of a router,
/// a RIS collector's peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LivePeer {
    /// The collector the peer belongs to (`speaker`, `bmp:<router>`, a RIS collector name).
    pub collector: Arc<str>,
    /// The peer's address.
    pub ip: IpAddr,
    /// The peer's AS number.
    pub asn: u32,
}

/// Everything a live input can tell the driver.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveEvent {
    /// Route changes of one peer, from one UPDATE (or one RIS Live message).
    Routes {
        /// When they were received or stamped (UTC seconds).
        time: UnixSecs,
        /// Whose routes.
        peer: LivePeer,
        /// Withdrawals and announcements, in message order.
        changes: Vec<RouteChange>,
    },
    /// The peer's session went down: all its routes are dropped.
    PeerDown {
        /// When (UTC seconds).
        time: UnixSecs,
        /// Which peer.
        peer: LivePeer,
    },
    /// A feed stopped delivering (stall, disconnect): bins ending after
    /// `silent_since` are not written until the feed is up again.
    FeedDown {
        /// When the failure was detected (UTC seconds).
        time: UnixSecs,
        /// The feed's name (`ris-live`, …).
        feed: Arc<str>,
        /// The time of the feed's last message.
        silent_since: UnixSecs,
        /// Why, for the log.
        reason: String,
    },
    /// A feed delivers again.
    FeedUp {
        /// When its first message arrived (UTC seconds).
        time: UnixSecs,
        /// The feed's name.
        feed: Arc<str>,
    },
}

impl LiveEvent {
    /// The same event at time `t` (a live driver keeps a feed's clock in
    /// step with its own).
    pub fn at(&self, t: UnixSecs) -> LiveEvent {
        let mut event = self.clone();
        match &mut event {
            LiveEvent::Routes { time, .. }
            | LiveEvent::PeerDown { time, .. }
            | LiveEvent::FeedDown { time, .. }
            | LiveEvent::FeedUp { time, .. } => *time = t,
        }
        event
    }

    /// The event's time.
    pub fn time(&self) -> UnixSecs {
        match self {
            LiveEvent::Routes { time, .. }
            | LiveEvent::PeerDown { time, .. }
            | LiveEvent::FeedDown { time, .. }
            | LiveEvent::FeedUp { time, .. } => *time,
        }
    }
}

/// Appends the unicast route changes of a BGP UPDATE to `out`, with the same
/// decoding (AS4_PATH merge, MP_REACH/MP_UNREACH, origin with AS_SET) as the
/// MRT ingest; multicast and other SAFIs are left out, as there.
pub fn update_changes(update: &BgpUpdateMessage, out: &mut Vec<RouteChange>) {
    let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    update_events(
        0,
        unspecified,
        0,
        update,
        &mut |event: &crate::mrt::RouteEvent<'_>| {
            if !event.unicast {
                return;
            }
            out.push(match event.action {
                RouteAction::Withdraw => RouteChange::Withdraw {
                    prefix: event.prefix,
                    path_id: event.path_id,
                },
                RouteAction::Announce | RouteAction::RibEntry => RouteChange::Announce {
                    prefix: event.prefix,
                    path_id: event.path_id,
                    origin: event.as_path.and_then(origin_asn),
                },
            });
        },
    );
}

/// Counters of a driver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Events applied.
    pub events: u64,
    /// Route changes applied (announcements and withdrawals).
    pub route_changes: u64,
    /// Peer-down events applied.
    pub peer_downs: u64,
    /// Final bins handed out.
    pub bins_final: u64,
    /// Bins not written because a feed was down when they ended.
    pub bins_suppressed: u64,
    /// Feed-down events seen.
    pub feed_downs: u64,
    /// Events counted at their arrival time because their own time was
    /// too far from the clock.
    pub events_retimed: u64,
    /// Routing states rebuilt from RIB dumps after a long outage.
    pub rib_reloads: u64,
    /// Events held while a RIB dump loaded, applied after it.
    pub events_replayed: u64,
}

/// Owns the accounting of live inputs and applies [`LiveEvent`]s to it.
pub struct LiveDriver {
    accounting: VisibilityAccounting,
    collectors: FxHashMap<Arc<str>, CollectorIdx>,
    /// Feeds currently down, with the time of their last message.
    down_feeds: FxHashMap<Arc<str>, UnixSecs>,
    /// Past silent periods `(since, until]` whose bins are not written.
    silent_periods: Vec<(UnixSecs, UnixSecs)>,
    /// Starts of bins withheld since the last [`LiveDriver::take_withheld`].
    withheld: Vec<UnixSecs>,
    /// Peers whose routes are counted: seen in an update, not down since.
    peers_up: FxHashSet<LivePeer>,
    /// While a RIB dump loads: the route events received meanwhile.
    held: Option<Vec<LiveEvent>>,
    stats: DriverStats,
}

/// The name under which "every peer is down" counts as a feed down: with
/// no peer left there is nothing to observe (no data, not an outage).
pub const ALL_PEERS_DOWN: &str = "every BGP peer";

/// The name under which a RIB dump loading counts as a feed down: until it
/// is applied the table is stale (no data, not an outage).
pub const RIB_RELOAD: &str = "RIB dump reload";

impl LiveDriver {
    /// A driver over `accounting` (which may already hold a RIB loaded from an archive).
    pub fn new(accounting: VisibilityAccounting) -> Self {
        LiveDriver {
            accounting,
            collectors: FxHashMap::default(),
            down_feeds: FxHashMap::default(),
            silent_periods: Vec::new(),
            withheld: Vec::new(),
            peers_up: FxHashSet::default(),
            held: None,
            stats: DriverStats::default(),
        }
    }

    /// Starts a reload: until [`LiveDriver::end_reload`], route events are
    /// held, not applied, and bins ending after `silent_since` (the last
    /// message before the outage) are withheld.
    pub fn begin_reload(&mut self, silent_since: UnixSecs) {
        self.down_feeds
            .entry(Arc::from(RIB_RELOAD))
            .or_insert(silent_since);
        self.held.get_or_insert_with(Vec::new);
    }

    /// Whether a reload is under way.
    pub fn reloading(&self) -> bool {
        self.held.is_some()
    }

    /// Ends a reload at `now`: the routes of the collectors `fresh` holds
    /// replace the current ones (with `None`, a failed load, the table
    /// stays as it was), then the held events are applied in order.
    /// Returns the bins that closed.
    pub fn end_reload(
        &mut self,
        fresh: Option<VisibilityAccounting>,
        now: UnixSecs,
    ) -> Vec<SignalBin> {
        if let Some(fresh) = fresh {
            self.accounting.replace_routes(fresh);
            self.collectors.clear();
            self.stats.rib_reloads += 1;
        }
        let held = self.held.take().unwrap_or_default();
        self.stats.events_replayed += held.len() as u64;
        // Each was counted when it was held.
        self.stats.events = self.stats.events.saturating_sub(held.len() as u64);
        let mut closed = Vec::new();
        for event in &held {
            closed.extend(self.apply(event));
        }
        if let Some(since) = self.down_feeds.remove(RIB_RELOAD) {
            self.silent_periods.push((since, now));
        }
        closed.extend(self.tick(now));
        closed
    }

    /// The accounting.
    pub fn accounting(&self) -> &VisibilityAccounting {
        &self.accounting
    }

    /// The accounting, mutably (to load a RIB dump before going live).
    pub fn accounting_mut(&mut self) -> &mut VisibilityAccounting {
        &mut self.accounting
    }

    /// The counters so far.
    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// Names of the feeds that are down now.
    pub fn down_feeds(&self) -> Vec<Arc<str>> {
        self.down_feeds.keys().cloned().collect()
    }

    fn collector(&mut self, name: &Arc<str>) -> CollectorIdx {
        if let Some(&idx) = self.collectors.get(name) {
            return idx;
        }
        let idx = self.accounting.collector(name);
        self.collectors.insert(Arc::clone(name), idx);
        idx
    }

    /// Whether a bin that closed may be written: not when its end falls in a
    /// period where a feed was down.
    fn writable(&self, bin_start: UnixSecs) -> bool {
        let end = bin_start + self.accounting.config().bin.secs() as i64;
        let in_past = self
            .silent_periods
            .iter()
            .any(|&(since, until)| since < end && end <= until);
        let in_current = self.down_feeds.values().any(|&since| since < end);
        !(in_past || in_current)
    }

    fn keep_writable(&mut self, closed: Vec<SignalBin>) -> Vec<SignalBin> {
        let mut kept = Vec::with_capacity(closed.len());
        for bin in closed {
            if self.writable(bin.bin_start) {
                kept.push(bin);
            } else {
                self.withheld.push(bin.bin_start);
            }
        }
        self.stats.bins_final += kept.len() as u64;
        kept
    }

    /// The starts of the bins withheld (a feed was down when they ended)
    /// since the last call: a sink that published them as provisional
    /// should retract them.
    pub fn take_withheld(&mut self) -> Vec<UnixSecs> {
        self.stats.bins_suppressed += self.withheld.len() as u64;
        std::mem::take(&mut self.withheld)
    }

    /// Moves time to `now` (a wall-clock tick) and returns the bins that closed.
    pub fn tick(&mut self, now: UnixSecs) -> Vec<SignalBin> {
        let closed = self.accounting.advance_to(now);
        // Silent periods older than a day can no longer hold a closing bin.
        self.silent_periods
            .retain(|&(_, until)| until >= now - 86_400);
        self.keep_writable(closed)
    }

    /// Applies one event (after closing the bins that ended before it) and
    /// returns the bins that closed.
    pub fn apply(&mut self, event: &LiveEvent) -> Vec<SignalBin> {
        self.stats.events += 1;
        match event {
            LiveEvent::FeedDown {
                feed, silent_since, ..
            } => {
                self.stats.feed_downs += 1;
                self.down_feeds
                    .entry(Arc::clone(feed))
                    .or_insert(*silent_since);
                return Vec::new();
            }
            LiveEvent::FeedUp { time, feed } => {
                if let Some(since) = self.down_feeds.remove(feed) {
                    self.silent_periods.push((since, *time));
                }
                let closed = self.accounting.advance_to(*time);
                return self.keep_writable(closed);
            }
            _ => {}
        }
        if let Some(held) = &mut self.held {
            held.push(event.clone());
            return Vec::new();
        }
        let closed = self.accounting.advance_to(event.time());
        let closed = self.keep_writable(closed);
        match event {
            LiveEvent::Routes {
                time,
                peer: live_peer,
                changes,
            } => {
                if self.peers_up.is_empty() {
                    // A peer is back after every peer went down.
                    if let Some(since) = self.down_feeds.remove(ALL_PEERS_DOWN) {
                        self.silent_periods.push((since, *time));
                    }
                }
                self.peers_up.insert(live_peer.clone());
                let collector = self.collector(&live_peer.collector);
                let peer = self.accounting.peer(collector, live_peer.ip, live_peer.asn);
                for change in changes {
                    match change {
                        RouteChange::Announce {
                            prefix,
                            path_id,
                            origin,
                        } => self.accounting.announce(peer, prefix, *path_id, *origin),
                        RouteChange::Withdraw { prefix, path_id } => {
                            self.accounting.withdraw(peer, prefix, *path_id)
                        }
                    }
                }
                self.stats.route_changes += changes.len() as u64;
            }
            LiveEvent::PeerDown {
                time,
                peer: live_peer,
            } => {
                let collector = self.collector(&live_peer.collector);
                let peer = self.accounting.peer(collector, live_peer.ip, live_peer.asn);
                self.accounting.peer_down(peer);
                self.stats.peer_downs += 1;
                // The last peer gone: its routes are not the country's.
                if self.peers_up.remove(live_peer) && self.peers_up.is_empty() {
                    self.down_feeds
                        .entry(Arc::from(ALL_PEERS_DOWN))
                        .or_insert(*time);
                }
            }
            LiveEvent::FeedDown { .. } | LiveEvent::FeedUp { .. } => {}
        }
        closed
    }

    /// The open bin's values so far, or `None` before any event or while a
    /// feed is down (the state is incomplete).
    pub fn provisional(&mut self) -> Option<SignalBin> {
        if !self.down_feeds.is_empty() {
            return None;
        }
        self.accounting.provisional()
    }

    /// Closes the open bin (shutdown) and returns it if it may be written.
    pub fn finish(&mut self) -> Option<SignalBin> {
        let bin = self.accounting.finish()?;
        self.keep_writable(vec![bin]).pop()
    }
}

/// Hears what a driver does besides writing bins.
pub trait LiveObserver: Send {
    /// A bin closed and its sink took it; `coverage` says which peers were
    /// counted as full-feed.
    fn bin_final(&mut self, _bin: &SignalBin, _coverage: FeedCoverage) {}
    /// A bin closed while a feed was down: it has no final values (its
    /// provisional values, if published, were retracted).
    fn bin_withheld(&mut self, _bin_start: UnixSecs) {}
    /// A RIB reload ended: `Ok` with the prefixes of the rebuilt table, or
    /// why the dumps could not be loaded; `held` events were applied after.
    fn rib_reloaded(&mut self, _outcome: &Result<usize, String>, _held: u64) {}
    /// A feed went down or came back (already applied to the driver).
    fn feed_health(&mut self, _event: &LiveEvent) {}
}

/// Nothing to hear.
impl LiveObserver for () {}

/// Where [`run_driver`] publishes: the sink, the observer, and the
/// provisional bin last published (to retract it if it gets no final values).
struct Publisher<'a> {
    sink: &'a mut (dyn BinSink + Send),
    observer: &'a mut dyn LiveObserver,
    provisional: Option<SignalBin>,
}

impl Publisher<'_> {
    /// Writes the bins that closed, then handles the bins withheld.
    fn closed(&mut self, driver: &mut LiveDriver, closed: Vec<SignalBin>) -> Result<(), String> {
        let coverage = driver.accounting().coverage();
        for bin in closed {
            self.sink.write(&bin).map_err(|e| e.to_string())?;
            self.observer.bin_final(&bin, coverage);
        }
        for bin_start in driver.take_withheld() {
            if let Some(bin) = self.provisional.take_if(|p| p.bin_start == bin_start) {
                self.sink
                    .retract_provisional(&bin)
                    .map_err(|e| e.to_string())?;
            }
            self.observer.bin_withheld(bin_start);
        }
        Ok(())
    }

    /// Publishes the open bin's values so far.
    fn provisional(&mut self, bin: SignalBin) -> Result<(), String> {
        self.sink
            .write_provisional(&bin)
            .map_err(|e| e.to_string())?;
        self.provisional = Some(bin);
        Ok(())
    }
}

/// A source of the current UTC time in seconds (tests use a manual clock).
pub type Clock = Arc<dyn Fn() -> UnixSecs + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// Timing of [`run_driver`].
#[derive(Clone)]
pub struct DriverOptions {
    /// How often the clock is read to close bins without updates.
    pub tick: Duration,
    /// How often the open bin is published as provisional when it changed.
    pub provisional_every: Duration,
    /// The clock.
    pub clock: Clock,
    /// When notified, the driver stops (its event channel closes, so the
    /// inputs stop too) after publishing the open bin as provisional.
    pub shutdown: Option<Arc<tokio::sync::Notify>>,
    /// An event stamped further than this from the clock (a replayed
    /// message, a wrong clock) is counted at the time it arrives.
    pub max_clock_skew_secs: i64,
    /// Rebuild the routing state from RIB dumps after a long outage.
    pub rib_reload: Option<RibReload>,
}

/// Builds a fresh routing state from the collectors' latest RIB dumps (and
/// the update files since); blocking (it downloads and reads them).
pub type RibLoader = Arc<dyn Fn() -> Result<VisibilityAccounting, String> + Send + Sync>;

/// When and how [`run_driver`] rebuilds the routing state: after one of
/// `feeds` comes back from an outage longer than `after_secs` (RIS Live
/// does not replay what was missed), `load` runs on a blocking thread;
/// route events arriving meanwhile are held and applied after the dump,
/// in order, and bins ending before it is applied are withheld.
#[derive(Clone)]
pub struct RibReload {
    /// The shortest outage that triggers a reload (seconds).
    pub after_secs: i64,
    /// The feeds whose outages count (`ris-live`).
    pub feeds: Vec<Arc<str>>,
    /// Loads the dumps.
    pub load: RibLoader,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            tick: Duration::from_secs(1),
            provisional_every: Duration::from_secs(10),
            clock: system_clock(),
            shutdown: None,
            max_clock_skew_secs: 300,
            rib_reload: None,
        }
    }
}

/// Applies events from `events` until every sender is gone (or shutdown is
/// notified), closing bins on the clock and writing them to `sink`; returns
/// the driver (for its state and counters) or the sink's error. The open
/// bin is published as provisional every `provisional_every` while it
/// changes, and at the end (it is incomplete: never final); a bin withheld
/// because a feed was down has its provisional values retracted.
pub async fn run_driver(
    mut driver: LiveDriver,
    mut events: tokio::sync::mpsc::Receiver<LiveEvent>,
    sink: &mut (dyn BinSink + Send),
    observer: &mut dyn LiveObserver,
    options: DriverOptions,
) -> Result<LiveDriver, String> {
    let mut publisher = Publisher {
        sink,
        observer,
        provisional: None,
    };
    let mut ticker = tokio::time::interval(options.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changed_since_provisional = false;
    let mut last_provisional = tokio::time::Instant::now();
    let shutdown = options.shutdown.clone();
    let stop = async move {
        match shutdown {
            Some(notify) => notify.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    // Bins follow the wall clock: the open bin starts now, and an event
    // stamped far in the past (a replayed message) or in the future (a
    // wrong clock) counts at the time it arrives instead of closing years
    // of bins.
    let closed = driver.tick((options.clock)());
    publisher.closed(&mut driver, closed)?;
    let mut loading: Option<tokio::task::JoinHandle<Result<VisibilityAccounting, String>>> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            loaded = async { loading.as_mut().expect("a load").await }, if loading.is_some() => {
                loading = None;
                let loaded = loaded.unwrap_or_else(|e| Err(format!("the RIB load failed: {e}")));
                let outcome = loaded.as_ref().map(|a| a.table().prefix_count()).map_err(Clone::clone);
                let held = driver.held.as_ref().map_or(0, |h| h.len() as u64);
                let closed = driver.end_reload(loaded.ok(), (options.clock)());
                publisher.closed(&mut driver, closed)?;
                publisher.observer.rib_reloaded(&outcome, held);
                changed_since_provisional = true;
            }
            event = events.recv() => {
                let Some(event) = event else { break };
                if let (Some(reload), LiveEvent::FeedUp { time, feed }) = (&options.rib_reload, &event) {
                    let since = driver.down_feeds.get(feed).copied();
                    if let Some(since) = since.filter(|&since| {
                        time - since > reload.after_secs && reload.feeds.contains(feed) && !driver.reloading()
                    }) {
                        driver.begin_reload(since);
                        let load = Arc::clone(&reload.load);
                        loading = Some(tokio::task::spawn_blocking(move || load()));
                    }
                }
                let now = (options.clock)();
                let closed = if (event.time() - now).abs() > options.max_clock_skew_secs {
                    driver.stats.events_retimed += 1;
                    driver.apply(&event.at(now))
                } else {
                    driver.apply(&event)
                };
                publisher.closed(&mut driver, closed)?;
                if matches!(event, LiveEvent::FeedDown { .. } | LiveEvent::FeedUp { .. }) {
                    publisher.observer.feed_health(&event);
                }
                changed_since_provisional = true;
            }
            _ = ticker.tick() => {
                let now = (options.clock)();
                let closed = driver.tick(now);
                if !closed.is_empty() {
                    changed_since_provisional = true;
                }
                publisher.closed(&mut driver, closed)?;
                if changed_since_provisional && last_provisional.elapsed() >= options.provisional_every {
                    if let Some(bin) = driver.provisional() {
                        publisher.provisional(bin)?;
                    }
                    changed_since_provisional = false;
                    last_provisional = tokio::time::Instant::now();
                }
            }
        }
    }
    events.close();
    if let Some(bin) = driver.provisional() {
        publisher.provisional(bin)?;
    }
    Ok(driver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visibility::VisibilityConfig;
    use vigie_geo::{GeoDb, GeoDbBuilder};
    use vigie_model::{Entity, SignalKind};

    fn geo() -> Arc<GeoDb> {
        let mut builder = GeoDbBuilder::empty();
        builder
            .load_ip_location_db_country_from("10.0.0.0,10.0.3.255,KZ\n".as_bytes(), "test")
            .unwrap();
        Arc::new(builder.build())
    }

    fn driver() -> LiveDriver {
        let config = VisibilityConfig {
            full_feed_v4: 0,
            full_feed_v6: 0,
            ..VisibilityConfig::default()
        };
        LiveDriver::new(VisibilityAccounting::new(config, geo()))
    }

    fn kz(bin: &SignalBin) -> Option<f64> {
        let kz: Entity = "KZ".parse().unwrap();
        bin.values
            .iter()
            .find(|(k, _)| k.entity == kz && k.signal == SignalKind::BgpVisibleSlash24s)
            .and_then(|(_, v)| *v)
    }

    fn peer() -> LivePeer {
        LivePeer {
            collector: Arc::from("speaker"),
            ip: "192.0.2.1".parse().unwrap(),
            asn: 64500,
        }
    }

    /// `peer()` announcing `prefix`, originated by AS65001, at `time`.
    fn announce(time: UnixSecs, prefix: &str) -> LiveEvent {
        LiveEvent::Routes {
            time,
            peer: peer(),
            changes: vec![RouteChange::Announce {
                prefix: prefix.parse().unwrap(),
                path_id: None,
                origin: Some(65001),
            }],
        }
    }

    /// The starts of the bins `closed`.
    fn starts(closed: &[SignalBin]) -> Vec<UnixSecs> {
        closed.iter().map(|b| b.bin_start).collect()
    }

    /// After an outage that ended at 2150: [1500, 1800) and [1800, 2100)
    /// ended while it lasted and stay unwritten; [2100, 2400) ends after
    /// it and is written, with KZ's four /24s.
    fn only_2100_is_written(d: &mut LiveDriver) {
        let closed = d.tick(2450);
        assert_eq!(starts(&closed), vec![2100]);
        assert_eq!(kz(&closed[0]), Some(4.0));
    }

    /// A single-threaded runtime, and driver options that tick every 5 ms
    /// on `clock`.
    fn fast_driver(
        clock: Arc<dyn Fn() -> UnixSecs + Send + Sync>,
    ) -> (tokio::runtime::Runtime, DriverOptions) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let options = DriverOptions {
            tick: Duration::from_millis(5),
            provisional_every: Duration::from_millis(5),
            clock,
            shutdown: None,
            max_clock_skew_secs: 300,
            rib_reload: None,
        };
        (runtime, options)
    }

    /// A sink that records what it is given.
    #[derive(Default)]
    struct Recorder {
        finals: Vec<i64>,
        provisional: Vec<(i64, Option<f64>)>,
        retracted: Vec<i64>,
    }

    impl BinSink for Recorder {
        fn write(&mut self, bin: &SignalBin) -> Result<(), vigie_model::SinkError> {
            self.finals.push(bin.bin_start);
            Ok(())
        }
        fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), vigie_model::SinkError> {
            self.provisional.push((bin.bin_start, kz(bin)));
            Ok(())
        }
        fn retract_provisional(&mut self, bin: &SignalBin) -> Result<(), vigie_model::SinkError> {
            self.retracted.push(bin.bin_start);
            Ok(())
        }
    }

    #[test]
    fn the_clock_closes_bins_without_updates_and_provisional_follows() {
        use std::sync::atomic::{AtomicI64, Ordering};
        let now = Arc::new(AtomicI64::new(1_000));
        let clock_now = Arc::clone(&now);
        let (runtime, options) = fast_driver(Arc::new(move || clock_now.load(Ordering::SeqCst)));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let mut sink = Recorder::default();
        runtime.block_on(async {
            let driver = tokio::spawn(async move {
                let mut sink = Recorder::default();
                run_driver(driver(), rx, &mut sink, &mut (), options)
                    .await
                    .map(|_| sink)
            });
            tx.send(announce(1_000, "10.0.0.0/23")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            // No update at all, only time passing: bins 900 and 1200 close.
            now.store(1_550, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            tx.send(LiveEvent::Routes {
                time: 1_560,
                peer: peer(),
                changes: vec![RouteChange::Withdraw {
                    prefix: "10.0.0.0/23".parse().unwrap(),
                    path_id: None,
                }],
            })
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(tx);
            sink = driver.await.unwrap().unwrap();
        });
        assert_eq!(sink.finals, vec![900, 1200]);
        // Provisional values of the open bin: 2 /24s, then 0 after the withdrawal.
        assert_eq!(sink.provisional.first(), Some(&(900, Some(2.0))));
        assert_eq!(sink.provisional.last(), Some(&(1500, Some(0.0))));
    }

    #[test]
    fn events_stamped_far_from_the_clock_count_when_they_arrive() {
        let (runtime, options) = fast_driver(Arc::new(|| 1_000_000));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let (sink, stats) = runtime.block_on(async {
            let driver = tokio::spawn(async move {
                let mut sink = Recorder::default();
                run_driver(driver(), rx, &mut sink, &mut (), options)
                    .await
                    .map(|d| (sink, d.stats().clone()))
            });
            // A replayed message from long ago, then one from the future.
            for time in [1_000, 9_000_000] {
                tx.send(announce(time, "10.0.0.0/23")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(tx);
            driver.await.unwrap().unwrap()
        });
        // No bin between them was closed; both counted in the clock's bin.
        assert!(sink.finals.is_empty(), "{:?}", sink.finals);
        assert_eq!(sink.provisional.last(), Some(&(999_900, Some(2.0))));
        assert_eq!(stats.events_retimed, 2);
    }

    #[test]
    fn silent_feed_periods_are_not_written() {
        let mut d = driver();
        let feed: Arc<str> = Arc::from("ris-live");
        d.apply(&announce(1000, "10.0.0.0/22"));
        assert_eq!(kz(&d.provisional().unwrap()), Some(4.0));
        d.apply(&LiveEvent::FeedDown {
            time: 1300,
            feed: Arc::clone(&feed),
            silent_since: 1240,
            reason: "stall".into(),
        });
        assert!(d.provisional().is_none());
        // The bin [900, 1200) ended before the silence: written.
        let closed = d.tick(1500);
        assert_eq!(starts(&closed), vec![900]);
        // [1200, 1500) ends inside the silence: not written.
        assert_eq!(d.take_withheld(), vec![1200]);
        assert_eq!(d.stats().bins_suppressed, 1);
        assert!(d.tick(2000).is_empty());
        d.apply(&LiveEvent::FeedUp { time: 2150, feed });
        only_2100_is_written(&mut d);
    }

    #[test]
    fn bins_ending_while_every_peer_is_down_are_not_written() {
        let mut d = driver();
        // A peer that never sent routes going down is no silence.
        let other = LivePeer {
            ip: "192.0.2.9".parse().unwrap(),
            ..peer()
        };
        d.apply(&LiveEvent::PeerDown {
            time: 950,
            peer: other,
        });
        d.apply(&announce(1000, "10.0.0.0/22"));
        // [900, 1200) ended before the peer went down: written.
        let closed = d.apply(&LiveEvent::PeerDown {
            time: 1300,
            peer: peer(),
        });
        assert_eq!(starts(&closed), vec![900]);
        assert!(d.provisional().is_none());
        assert!(d.tick(1500).is_empty());
        // [1200, 1500) ended with no peer: no data, not 0.
        assert_eq!(d.take_withheld(), vec![1200]);
        assert!(d.tick(2000).is_empty());
        d.apply(&announce(2150, "10.0.0.0/22"));
        only_2100_is_written(&mut d);
    }

    #[test]
    fn a_reload_replaces_the_routes_and_replays_what_came_meanwhile() {
        let mut d = driver();
        d.apply(&announce(1_000, "10.0.0.0/22"));
        d.apply(&LiveEvent::FeedDown {
            time: 1_100,
            feed: Arc::from("ris-live"),
            silent_since: 1_050,
            reason: "closed".into(),
        });
        d.begin_reload(1_050);
        d.apply(&LiveEvent::FeedUp {
            time: 2_000,
            feed: Arc::from("ris-live"),
        });
        // Held while the dump loads: not applied, no values.
        d.apply(&announce(2_010, "10.0.3.0/24"));
        assert!(d.provisional().is_none());
        // The dump: the peer holds only 10.0.0.0/23 now.
        let mut fresh = driver();
        fresh.apply(&announce(1_500, "10.0.0.0/23"));
        let closed = d.end_reload(Some(fresh.accounting), 2_020);
        // Bins that ended before the reload was applied are withheld.
        assert!(closed.is_empty(), "{:?}", starts(&closed));
        assert_eq!(kz(&d.provisional().unwrap()), Some(3.0));
        assert_eq!(d.stats().events_replayed, 1);
        assert_eq!(d.stats().rib_reloads, 1);
        // The bins ending after it are written.
        let closed = d.tick(2_450);
        assert_eq!(starts(&closed), vec![1_800, 2_100]);
        assert_eq!(kz(&closed[1]), Some(3.0));
    }

    #[test]
    fn a_withheld_bin_has_its_provisional_values_retracted() {
        let mut d = driver();
        let mut sink = Recorder::default();
        let mut publisher = Publisher {
            sink: &mut sink,
            observer: &mut (),
            provisional: None,
        };
        d.apply(&announce(1_000, "10.0.0.0/22"));
        let closed = d.apply(&announce(1_210, "10.0.0.0/22"));
        publisher.closed(&mut d, closed).unwrap();
        publisher.provisional(d.provisional().unwrap()).unwrap();
        d.apply(&LiveEvent::FeedDown {
            time: 1_300,
            feed: Arc::from("ris-live"),
            silent_since: 1_240,
            reason: "stall".into(),
        });
        // [1200, 1500) ends while the feed is down: its provisional values go.
        let closed = d.tick(1_500);
        publisher.closed(&mut d, closed).unwrap();
        assert_eq!(sink.finals, [900]);
        assert_eq!(sink.provisional, [(1_200, Some(4.0))]);
        assert_eq!(sink.retracted, [1_200]);
    }
}
