//! The scenario file: a world (one country, its networks with real
//! prefixes, its local time, traffic curves and noise) and the events that
//! happen to it, with the ground truth a detector should find.
//!
//! A scenario is TOML; [`Scenario::parse`] reads and checks it, naming the
//! file and the field of any problem. Times are ISO 8601 UTC. The keys
//! (the built-in files in `scenarios/` are worked examples):
//!
//! - top level: `name`, `title`, `sources` (list), `start`, `end` (1 to 60
//!   days), `seed`;
//! - `[world]`: `country`, `country_name`, `place` (whose clock local times
//!   use), `utc_offset_hours`, `noise` (relative, 0.03), `bgp_churn_per_hour`,
//!   `probe_availability` (0..1), `probe_blocks`, `flows_per_bin` and
//!   `requests_per_bin` (whole country, busiest hour), `residual` (share
//!   still passing a block), `diurnal` (24 values, local hours),
//!   `weekly` (7 values, Monday first), `upstreams` (transit AS numbers);
//! - `[[world.networks]]`: `asn`, `name`, `kind` (`fixed` or `mobile`),
//!   `traffic_share`, `region` (optional), `prefixes` (IPv4, /8 to /24, not
//!   overlapping);
//! - `[[events]]`: `kind` (`blackout`, `data-plane-blocking`, `throttling`,
//!   `bgp-update-burst`), `start`, `end`, `repeat_days`, `restorations`
//!   (list of `{start, end}`), `to` (throttling: share left), `networks`
//!   (`all`, `mobile`, `fixed`), `asns`, `regions`, `updates` (bursts),
//!   `note`;
//! - `[[truth]]`: `entity` (`KZ`, `AS9198`, `IQ/Erbil`), `start`, `end`,
//!   `repeat_days`, `mechanism` and `scope` (vigie-detect's names),
//!   `restorations`, `note`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Deserialize;
use vigie_model::{
    clock_now, parse_utc, CountryCode, Entity, TimeWindow, UnixSecs, ARCHIVE_MARGIN_SECS,
};

/// Longest scenario accepted, in days (keeps generated data modest).
pub const MAX_SCENARIO_DAYS: i64 = 60;
/// Most networks a world may have.
pub const MAX_NETWORKS: usize = 64;
/// Most prefixes a network may have.
pub const MAX_PREFIXES_PER_NETWORK: usize = 256;
/// Most events a scenario may have.
pub const MAX_EVENTS: usize = 256;
/// Most flow records, log lines, probes or BGP updates a scenario may
/// generate (each).
pub const MAX_GENERATED_RECORDS: f64 = 20_000_000.0;

/// Why a scenario file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or not the expected fields.
    #[error("{source_name}: not a valid scenario file: {message}")]
    Syntax {
        /// The file or built-in name.
        source_name: String,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// A field has a value the generators cannot use.
    #[error("{source_name}: {field}: {message}")]
    Invalid {
        /// The file or built-in name.
        source_name: String,
        /// Which field, such as `events[2].start`.
        field: String,
        /// What is wrong and what would be right.
        message: String,
    },
}

/// What kind of access network: the events can target one kind only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    /// Fixed lines (DSL, fibre, enterprise).
    Fixed,
    /// Mobile networks.
    Mobile,
}

/// Which networks an event applies to by kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkFilter {
    /// Every network.
    #[default]
    All,
    /// Mobile networks only.
    Mobile,
    /// Fixed networks only.
    Fixed,
}

/// What an event does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Routes withdrawn and no traffic: the networks leave the Internet.
    Blackout,
    /// Routes stay announced, packets stop (a national firewall, Kazakhstan 2022).
    DataPlaneBlocking,
    /// Traffic volume (bytes, packets) reduced to the event's `to` share;
    /// connections and web requests keep arriving, reachability holds.
    Throttling,
    /// A burst of BGP updates (re-announcements) of the networks' prefixes;
    /// nothing else changes.
    BgpUpdateBurst,
}

impl EventKind {
    /// Stable name, as in the file.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Blackout => "blackout",
            EventKind::DataPlaneBlocking => "data-plane-blocking",
            EventKind::Throttling => "throttling",
            EventKind::BgpUpdateBurst => "bgp-update-burst",
        }
    }
}

/// A time window `[start, end)`, Unix seconds UTC.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Window {
    /// First second.
    pub start: UnixSecs,
    /// First second after.
    pub end: UnixSecs,
}

impl Window {
    /// True when `t` is inside.
    pub fn contains(&self, t: UnixSecs) -> bool {
        self.start <= t && t < self.end
    }
}

/// One network (AS) of the world.
#[derive(Clone, PartialEq, Debug)]
pub struct Network {
    /// Its AS number.
    pub asn: u32,
    /// Its name.
    pub name: String,
    /// Fixed or mobile.
    pub kind: NetworkKind,
    /// Its share of the country's traffic (normalised to sum to 1).
    pub traffic_share: f64,
    /// The region it serves, if the world has regions.
    pub region: Option<String>,
    /// Its real IPv4 prefixes.
    pub prefixes: Vec<Ipv4Net>,
}

impl Network {
    /// The number of /24 blocks its prefixes hold.
    pub fn slash24s(&self) -> u64 {
        self.prefixes
            .iter()
            .map(|p| 1u64 << (24u8.saturating_sub(p.prefix_len().min(24))))
            .sum()
    }
}

/// The country and what its Internet normally looks like.
#[derive(Clone, PartialEq, Debug)]
pub struct World {
    /// The country.
    pub country: CountryCode,
    /// Its name in English.
    pub country_name: String,
    /// The place whose clock local times are given in ("Almaty").
    pub place: String,
    /// Local time minus UTC, in seconds.
    pub utc_offset_secs: i64,
    /// Relative noise of traffic volumes (standard deviation, 0.03 = 3%).
    pub noise: f64,
    /// Ordinary BGP updates per hour (path changes, short flaps).
    pub bgp_churn_per_hour: f64,
    /// Share of a block's hitlist addresses answering a probe (0..1].
    pub probe_availability: f64,
    /// /24 blocks in the probe hitlist, shared among networks by size.
    pub probe_blocks: usize,
    /// Flow records per 5-minute bin for the whole country at the busiest hour.
    pub flows_per_bin: f64,
    /// Web requests per 5-minute bin for the whole country at the busiest hour.
    pub requests_per_bin: f64,
    /// Share of traffic and of probed blocks still passing a block (data
    /// centres, government networks): 0..1.
    pub residual: f64,
    /// Traffic by local hour (24 values, 0h first), relative.
    pub diurnal: [f64; 24],
    /// Traffic by local weekday (7 values, Monday first), relative.
    pub weekly: [f64; 7],
    /// Transit ASes between the collector's peers and the country.
    pub upstreams: Vec<u32>,
    /// The networks.
    pub networks: Vec<Network>,
}

impl World {
    /// The country entity.
    pub fn country_entity(&self) -> Entity {
        Entity::Country(self.country)
    }
}

/// The route collector's peers, the same in every world: (AS number,
/// address). Real transit networks that peer with route collectors.
pub const COLLECTOR_PEERS: [(u32, Ipv4Addr); 5] = [
    (3356, Ipv4Addr::new(4, 68, 1, 1)),
    (1299, Ipv4Addr::new(62, 115, 0, 1)),
    (174, Ipv4Addr::new(38, 0, 0, 1)),
    (6939, Ipv4Addr::new(216, 218, 252, 1)),
    (2914, Ipv4Addr::new(129, 250, 0, 1)),
];

/// An event with its windows.
#[derive(Clone, PartialEq, Debug)]
pub struct Event {
    /// What it does.
    pub kind: EventKind,
    /// The windows it is in force, restorations removed from none yet.
    pub windows: Vec<Window>,
    /// Times inside the windows when service came back.
    pub restorations: Vec<Window>,
    /// Throttling: share of traffic left (0..1).
    pub to: f64,
    /// Which kinds of networks.
    pub networks: NetworkFilter,
    /// Only these ASes (empty: any).
    pub asns: Vec<u32>,
    /// Only networks of these regions (empty: any).
    pub regions: Vec<String>,
    /// A burst: how many updates.
    pub updates: u32,
    /// A note for people.
    pub note: String,
}

impl Event {
    /// True when the event applies to `network`.
    pub fn covers(&self, network: &Network) -> bool {
        let kind_ok = match self.networks {
            NetworkFilter::All => true,
            NetworkFilter::Mobile => network.kind == NetworkKind::Mobile,
            NetworkFilter::Fixed => network.kind == NetworkKind::Fixed,
        };
        let asn_ok = self.asns.is_empty() || self.asns.contains(&network.asn);
        let region_ok = self.regions.is_empty()
            || network
                .region
                .as_ref()
                .is_some_and(|r| self.regions.contains(r));
        kind_ok && asn_ok && region_ok
    }

    /// True when the event is in force at `t` (inside a window, outside
    /// every restoration).
    pub fn active_at(&self, t: UnixSecs) -> bool {
        self.windows.iter().any(|w| w.contains(t))
            && !self.restorations.iter().any(|w| w.contains(t))
    }
}

/// What the detector should find: one label.
#[derive(Clone, PartialEq, Debug)]
pub struct Truth {
    /// Whose outage.
    pub entity: Entity,
    /// Its windows (one per occurrence).
    pub windows: Vec<Window>,
    /// Its mechanism, in vigie-detect's names (`data-plane-blocking`…).
    pub mechanism: String,
    /// Its scope, in vigie-detect's names (`nationwide`…); empty: not checked.
    pub scope: String,
    /// Restoration windows inside it.
    pub restorations: Vec<Window>,
    /// What happened, for people.
    pub note: String,
}

/// A whole scenario.
#[derive(Clone, PartialEq, Debug)]
pub struct Scenario {
    /// Short name (`kazakhstan-2022`).
    pub name: String,
    /// One-line title.
    pub title: String,
    /// Where the timeline and the prefixes come from.
    pub sources: Vec<String>,
    /// The generated period.
    pub period: Window,
    /// Seed of every random draw: same seed, same bytes.
    pub seed: u64,
    /// The world.
    pub world: World,
    /// The events.
    pub events: Vec<Event>,
    /// The ground truth.
    pub truth: Vec<Truth>,
}

// ---- the file's shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    name: String,
    title: String,
    #[serde(default)]
    sources: Vec<String>,
    start: String,
    end: String,
    #[serde(default)]
    seed: u64,
    world: FileWorld,
    #[serde(default)]
    events: Vec<FileEvent>,
    #[serde(default)]
    truth: Vec<FileTruth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWorld {
    country: String,
    country_name: String,
    place: String,
    utc_offset_hours: f64,
    #[serde(default = "default_noise")]
    noise: f64,
    #[serde(default = "default_churn")]
    bgp_churn_per_hour: f64,
    #[serde(default = "default_availability")]
    probe_availability: f64,
    #[serde(default = "default_probe_blocks")]
    probe_blocks: usize,
    #[serde(default = "default_flows")]
    flows_per_bin: f64,
    #[serde(default = "default_requests")]
    requests_per_bin: f64,
    #[serde(default = "default_residual")]
    residual: f64,
    diurnal: Vec<f64>,
    #[serde(default = "default_weekly")]
    weekly: Vec<f64>,
    #[serde(default = "default_upstreams")]
    upstreams: Vec<u32>,
    networks: Vec<FileNetwork>,
}

fn default_noise() -> f64 {
    0.03
}
fn default_churn() -> f64 {
    6.0
}
fn default_availability() -> f64 {
    0.6
}
fn default_probe_blocks() -> usize {
    120
}
fn default_flows() -> f64 {
    48.0
}
fn default_requests() -> f64 {
    40.0
}
fn default_residual() -> f64 {
    0.03
}
fn default_weekly() -> Vec<f64> {
    vec![1.0; 7]
}
fn default_upstreams() -> Vec<u32> {
    vec![1299]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNetwork {
    asn: u32,
    name: String,
    kind: NetworkKind,
    traffic_share: f64,
    #[serde(default)]
    region: Option<String>,
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWindow {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEvent {
    kind: EventKind,
    start: String,
    end: String,
    #[serde(default)]
    repeat_days: Option<u32>,
    #[serde(default)]
    restorations: Vec<FileWindow>,
    #[serde(default)]
    to: Option<f64>,
    #[serde(default)]
    networks: NetworkFilter,
    #[serde(default)]
    asns: Vec<u32>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    updates: Option<u32>,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTruth {
    entity: String,
    start: String,
    end: String,
    #[serde(default)]
    repeat_days: Option<u32>,
    mechanism: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    restorations: Vec<FileWindow>,
    #[serde(default)]
    note: String,
}

/// Mechanism names the truth may use (vigie-detect's).
const MECHANISMS: [&str; 4] = [
    "routes-withdrawn",
    "data-plane-blocking",
    "throttling",
    "unknown",
];
/// Scope names the truth may use (vigie-detect's), or empty.
const SCOPES: [&str; 6] = [
    "",
    "nationwide",
    "regional",
    "single-network",
    "multiple-networks",
    "unknown",
];

struct Checker<'a> {
    source_name: &'a str,
}

impl Checker<'_> {
    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            source_name: self.source_name.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A time, which must be plausible (from 1990 to a day past the clock):
    /// the ingest would refuse the data of a scenario dated later, so it is
    /// refused here, before anything is generated.
    fn time(&self, field: &str, text: &str) -> Result<UnixSecs, ScenarioError> {
        let t = parse_utc(text).map_err(|_| {
            self.invalid(
                field,
                format!("{text:?} is not a time; write ISO 8601 UTC such as 2022-01-05T10:30:00Z"),
            )
        })?;
        TimeWindow::live(clock_now(), ARCHIVE_MARGIN_SECS)
            .check(t)
            .map_err(|why| {
                self.invalid(
                    field,
                    format!(
                        "{why}: a scenario replays the past (from 1990 up to a day from now), \
                         as vigie stores no data dated later"
                    ),
                )
            })?;
        Ok(t)
    }

    fn window(&self, field: &str, start: &str, end: &str) -> Result<Window, ScenarioError> {
        let start = self.time(&format!("{field}.start"), start)?;
        let end = self.time(&format!("{field}.end"), end)?;
        if end <= start {
            return Err(self.invalid(format!("{field}.end"), "must be after start"));
        }
        Ok(Window { start, end })
    }

    fn fraction(&self, field: &str, value: f64, zero_ok: bool) -> Result<f64, ScenarioError> {
        let ok = value.is_finite() && value <= 1.0 && (value > 0.0 || (zero_ok && value == 0.0));
        if ok {
            Ok(value)
        } else {
            let range = if zero_ok { "[0, 1]" } else { "(0, 1]" };
            Err(self.invalid(field, format!("{value} is not within {range}")))
        }
    }

    fn repeated(
        &self,
        field: &str,
        window: Window,
        repeat_days: Option<u32>,
    ) -> Result<Vec<Window>, ScenarioError> {
        let times = repeat_days.unwrap_or(1);
        if times == 0 || i64::from(times) > MAX_SCENARIO_DAYS {
            return Err(self.invalid(
                format!("{field}.repeat_days"),
                format!("must be between 1 and {MAX_SCENARIO_DAYS}"),
            ));
        }
        if times > 1 && window.end - window.start >= 86_400 {
            return Err(self.invalid(
                format!("{field}.repeat_days"),
                "a repeated window must be shorter than a day",
            ));
        }
        Ok((0..i64::from(times))
            .map(|k| Window {
                start: window.start + k * 86_400,
                end: window.end + k * 86_400,
            })
            .collect())
    }
}

impl Scenario {
    /// Reads and checks a scenario; `source_name` names it in errors (a
    /// path or a built-in name).
    pub fn parse(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let file: FileScenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let check = Checker { source_name };
        let period = check.window("", &file.start, &file.end)?;
        if period.end - period.start > MAX_SCENARIO_DAYS * 86_400 {
            return Err(check.invalid(
                "end",
                format!("a scenario lasts at most {MAX_SCENARIO_DAYS} days"),
            ));
        }
        if period.end - period.start < 86_400 {
            return Err(check.invalid(
                "end",
                "a scenario lasts at least a day (detection learns a daily cycle)",
            ));
        }
        if file.name.trim().is_empty()
            || !file
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(check.invalid(
                "name",
                "must be letters, digits, '-' or '_' (it names files)",
            ));
        }
        let world = Self::world(&check, file.world)?;
        if file.events.len() > MAX_EVENTS {
            return Err(check.invalid("events", format!("at most {MAX_EVENTS} events")));
        }
        let known_asns: BTreeSet<u32> = world.networks.iter().map(|n| n.asn).collect();
        let known_regions: BTreeSet<&str> = world
            .networks
            .iter()
            .filter_map(|n| n.region.as_deref())
            .collect();
        let mut events = Vec::new();
        for (i, event) in file.events.into_iter().enumerate() {
            let field = format!("events[{i}]");
            let window = check.window(&field, &event.start, &event.end)?;
            let windows = check.repeated(&field, window, event.repeat_days)?;
            let restorations = event
                .restorations
                .iter()
                .enumerate()
                .map(|(j, w)| check.window(&format!("{field}.restorations[{j}]"), &w.start, &w.end))
                .collect::<Result<Vec<_>, _>>()?;
            let to = match (event.kind, event.to) {
                (EventKind::Throttling, Some(to)) => {
                    check.fraction(&format!("{field}.to"), to, false)?
                }
                (EventKind::Throttling, None) => {
                    return Err(check.invalid(
                        format!("{field}.to"),
                        "a throttling event needs `to`, the share of traffic left (0.4 = 40%)",
                    ))
                }
                (_, _) => 0.0,
            };
            if let Some(asn) = event.asns.iter().find(|a| !known_asns.contains(a)) {
                return Err(check.invalid(
                    format!("{field}.asns"),
                    format!("AS{asn} is not one of the world's networks"),
                ));
            }
            if let Some(region) = event
                .regions
                .iter()
                .find(|r| !known_regions.contains(r.as_str()))
            {
                return Err(check.invalid(
                    format!("{field}.regions"),
                    format!("{region:?} is not a region of the world's networks"),
                ));
            }
            let updates = match event.kind {
                EventKind::BgpUpdateBurst => event.updates.unwrap_or(200).min(100_000),
                _ => 0,
            };
            events.push(Event {
                kind: event.kind,
                windows,
                restorations,
                to,
                networks: event.networks,
                asns: event.asns,
                regions: event.regions,
                updates,
                note: event.note,
            });
        }
        let mut truth = Vec::new();
        for (i, t) in file.truth.into_iter().enumerate() {
            let field = format!("truth[{i}]");
            let entity: Entity = t.entity.parse().map_err(|_| {
                check.invalid(
                    format!("{field}.entity"),
                    format!(
                        "{:?} is not an entity such as KZ, AS9198 or KZ/Almaty",
                        t.entity
                    ),
                )
            })?;
            let window = check.window(&field, &t.start, &t.end)?;
            let windows = check.repeated(&field, window, t.repeat_days)?;
            if !MECHANISMS.contains(&t.mechanism.as_str()) {
                return Err(check.invalid(
                    format!("{field}.mechanism"),
                    format!("one of {}", MECHANISMS.join(", ")),
                ));
            }
            if !SCOPES.contains(&t.scope.as_str()) {
                return Err(check.invalid(
                    format!("{field}.scope"),
                    format!("one of {}", SCOPES[1..].join(", ")),
                ));
            }
            let restorations = t
                .restorations
                .iter()
                .enumerate()
                .map(|(j, w)| check.window(&format!("{field}.restorations[{j}]"), &w.start, &w.end))
                .collect::<Result<Vec<_>, _>>()?;
            truth.push(Truth {
                entity,
                windows,
                mechanism: t.mechanism,
                scope: t.scope,
                restorations,
                note: t.note,
            });
        }
        let scenario = Scenario {
            name: file.name,
            title: file.title,
            sources: file.sources,
            period,
            seed: file.seed,
            world,
            events,
            truth,
        };
        scenario.check_size(&check)?;
        Ok(scenario)
    }

    /// Refuses scenarios whose generated data would be too large to write
    /// and read back in minutes.
    fn check_size(&self, check: &Checker<'_>) -> Result<(), ScenarioError> {
        let bins = ((self.period.end - self.period.start) / 300) as f64;
        let world = &self.world;
        if world.flows_per_bin * 2.0 * bins > MAX_GENERATED_RECORDS {
            return Err(check.invalid(
                "world.flows_per_bin",
                format!("too many flow records over the period (at most {MAX_GENERATED_RECORDS:.0}); lower it or shorten the scenario"),
            ));
        }
        if world.requests_per_bin * bins > MAX_GENERATED_RECORDS {
            return Err(check.invalid(
                "world.requests_per_bin",
                format!("too many log lines over the period (at most {MAX_GENERATED_RECORDS:.0}); lower it or shorten the scenario"),
            ));
        }
        if world.probe_blocks as f64 * bins / 2.0 > MAX_GENERATED_RECORDS {
            return Err(check.invalid(
                "world.probe_blocks",
                "too many probes over the period; lower it or shorten the scenario",
            ));
        }
        let peers = COLLECTOR_PEERS.len() as f64;
        let mut updates = bins / 12.0 * world.bgp_churn_per_hour;
        for event in self.events.iter().filter(|e| e.kind == EventKind::Blackout) {
            let prefixes: usize = world
                .networks
                .iter()
                .filter(|n| event.covers(n))
                .map(|n| n.prefixes.len())
                .sum();
            let changes = 2 * (event.windows.len() + event.restorations.len());
            updates += changes as f64 * prefixes as f64 * peers;
        }
        updates += self
            .events
            .iter()
            .map(|e| f64::from(e.updates) * e.windows.len() as f64)
            .sum::<f64>();
        if updates > MAX_GENERATED_RECORDS {
            return Err(check.invalid(
                "events",
                format!("too many BGP updates over the period (at most {MAX_GENERATED_RECORDS:.0}); use fewer windows, prefixes or bursts"),
            ));
        }
        Ok(())
    }

    fn world(check: &Checker<'_>, file: FileWorld) -> Result<World, ScenarioError> {
        let country = CountryCode::new(&file.country).map_err(|_| {
            check.invalid(
                "world.country",
                "must be a two-letter country code such as KZ",
            )
        })?;
        if !(file.utc_offset_hours.is_finite() && file.utc_offset_hours.abs() <= 14.0) {
            return Err(check.invalid("world.utc_offset_hours", "must be within ±14 hours"));
        }
        let noise = file.noise;
        if !(noise.is_finite() && (0.0..=0.5).contains(&noise)) {
            return Err(check.invalid("world.noise", "must be within [0, 0.5]"));
        }
        if !(file.bgp_churn_per_hour.is_finite()
            && (1.0..=600.0).contains(&file.bgp_churn_per_hour))
        {
            return Err(check.invalid(
                "world.bgp_churn_per_hour",
                "must be within [1, 600] (at least one update an hour keeps the feed alive)",
            ));
        }
        let probe_availability =
            check.fraction("world.probe_availability", file.probe_availability, false)?;
        if !(1..=5000).contains(&file.probe_blocks) {
            return Err(check.invalid("world.probe_blocks", "must be within [1, 5000]"));
        }
        for (field, value) in [
            ("world.flows_per_bin", file.flows_per_bin),
            ("world.requests_per_bin", file.requests_per_bin),
        ] {
            if !(value.is_finite() && (1.0..=10_000.0).contains(&value)) {
                return Err(check.invalid(field, "must be within [1, 10000]"));
            }
        }
        let residual = check.fraction("world.residual", file.residual, true)?;
        let curve = |field: &str, values: &[f64], len: usize| -> Result<Vec<f64>, ScenarioError> {
            if values.len() != len || values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(check.invalid(field, format!("needs {len} positive numbers")));
            }
            let max = values.iter().copied().fold(0.0, f64::max);
            Ok(values.iter().map(|v| v / max).collect())
        };
        let diurnal = curve("world.diurnal", &file.diurnal, 24)?;
        let weekly = curve("world.weekly", &file.weekly, 7)?;
        if file.networks.is_empty() || file.networks.len() > MAX_NETWORKS {
            return Err(check.invalid(
                "world.networks",
                format!("needs 1 to {MAX_NETWORKS} networks"),
            ));
        }
        let mut networks = Vec::new();
        let mut seen_asns = BTreeSet::new();
        for (i, n) in file.networks.into_iter().enumerate() {
            let field = format!("world.networks[{i}]");
            if !seen_asns.insert(n.asn) || n.asn == 0 {
                return Err(check.invalid(
                    format!("{field}.asn"),
                    "AS numbers must be unique and not 0",
                ));
            }
            if !(n.traffic_share.is_finite() && n.traffic_share > 0.0) {
                return Err(check.invalid(format!("{field}.traffic_share"), "must be positive"));
            }
            if n.prefixes.is_empty() || n.prefixes.len() > MAX_PREFIXES_PER_NETWORK {
                return Err(check.invalid(
                    format!("{field}.prefixes"),
                    format!("needs 1 to {MAX_PREFIXES_PER_NETWORK} prefixes"),
                ));
            }
            let mut prefixes = Vec::new();
            for (j, text) in n.prefixes.iter().enumerate() {
                let prefix: Ipv4Net = text.parse().map_err(|_| {
                    check.invalid(
                        format!("{field}.prefixes[{j}]"),
                        format!("{text:?} is not an IPv4 prefix such as 2.132.0.0/14"),
                    )
                })?;
                if prefix.prefix_len() < 8 || prefix.prefix_len() > 24 || prefix.trunc() != prefix {
                    return Err(check.invalid(
                        format!("{field}.prefixes[{j}]"),
                        format!("{text}: use a network address with a length from /8 to /24"),
                    ));
                }
                prefixes.push(prefix);
            }
            if let Some(region) = &n.region {
                if region.trim().is_empty() || region.contains(['/', ',', '"', '\n']) {
                    return Err(check.invalid(
                        format!("{field}.region"),
                        "a region name without '/', ',' or quotes",
                    ));
                }
            }
            networks.push(Network {
                asn: n.asn,
                name: n.name,
                kind: n.kind,
                traffic_share: n.traffic_share,
                region: n.region,
                prefixes,
            });
        }
        // Prefixes must not overlap: each block has one network.
        let mut all: Vec<(Ipv4Net, u32)> = networks
            .iter()
            .flat_map(|n| n.prefixes.iter().map(move |p| (*p, n.asn)))
            .collect();
        all.sort();
        for pair in all.windows(2) {
            if let [(a, asn_a), (b, asn_b)] = pair {
                if a.contains(&b.network()) {
                    return Err(check.invalid(
                        "world.networks",
                        format!("{a} (AS{asn_a}) overlaps {b} (AS{asn_b}): each block must have one network"),
                    ));
                }
            }
        }
        let total: f64 = networks.iter().map(|n| n.traffic_share).sum();
        for n in &mut networks {
            n.traffic_share /= total;
        }
        let mut diurnal_arr = [0.0; 24];
        diurnal_arr.copy_from_slice(&diurnal);
        let mut weekly_arr = [0.0; 7];
        weekly_arr.copy_from_slice(&weekly);
        if file.upstreams.is_empty() || file.upstreams.contains(&0) {
            return Err(check.invalid("world.upstreams", "needs at least one non-zero AS number"));
        }
        Ok(World {
            country,
            country_name: file.country_name,
            place: file.place,
            utc_offset_secs: (file.utc_offset_hours * 3600.0).round() as i64,
            noise,
            bgp_churn_per_hour: file.bgp_churn_per_hour,
            probe_availability,
            probe_blocks: file.probe_blocks,
            flows_per_bin: file.flows_per_bin,
            requests_per_bin: file.requests_per_bin,
            residual,
            diurnal: diurnal_arr,
            weekly: weekly_arr,
            upstreams: file.upstreams,
            networks,
        })
    }
}
