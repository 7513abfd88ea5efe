//! Probing (`vigie probe`, the `probe` source, the demo): the settings and
//! their defaults, reading or discovering targets, the round loop of
//! `vigie probe` ([`run_probe`]), vantage points combined under a quorum
//! ([`combine_vantages`]), the store source and the block log.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde::Deserialize;
use vigie_geo::GeoDb;
use vigie_model::{format_utc, BinSink, BinSize, SignalBin, UnixSecs};
use vigie_probe::{
    combine_states, discover, up_counts, BeliefParams, BlockChange, BlockState, Eligibility,
    Engine, IcmpSocket, ListBuilder, ListReport, ProbeList, Prober, ProberConfig, RateCeiling,
    RoundBins, RoundReport, TargetPolicy, VantageStates,
};
use vigie_store::{BlockChangeRecord, Store};

/// The store's name for the bins of probing.
pub const PROBE_SOURCE: &str = "probe";

/// The first line of a saved probe list.
pub const PROBE_LIST_HEADER: &str = "# vigie probe list v1";

/// How blocks are chosen and probed (a `probe` source's keys, and `vigie
/// probe`'s flags); the defaults are Trinocular's and IODA's.
#[derive(Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSettings {
    /// A hitlist (one IPv4 address per line, optionally with its response
    /// rate 0-1) or a list saved by `vigie probe --save-list`.
    pub targets: PathBuf,
    /// Global cap on probes sent per second; never exceeded (at least 1,
    /// at most `max_rate`).
    pub rate: u32,
    /// The ceiling `rate` must stay under, raised explicitly; default
    /// [`vigie_probe::DEFAULT_MAX_RATE_PPS`] (20,000 probes/s).
    pub max_rate: Option<u32>,
    /// Probes that may leave back to back; default rate/100.
    pub burst: Option<u32>,
    /// Round length in seconds (IODA: 600); every block gets one probe per round.
    pub round_secs: f64,
    /// A probe unanswered after this many milliseconds counts as negative.
    pub timeout_ms: u32,
    /// Fewest responsive addresses for a block to be probed (Trinocular: 15).
    pub min_responsive: usize,
    /// Lowest availability A(E(b)) for a block to be probed (Trinocular: 0.1).
    pub min_availability: f32,
    /// Response rate assumed for hitlist addresses given without one.
    pub default_availability: f32,
    /// Allow private, shared, link-local, documentation, benchmarking and
    /// reserved ranges (labs).
    pub allow_private: bool,
    /// Prefixes allowed whatever their range, e.g. a lab's own.
    pub allow: Vec<String>,
    /// This vantage point's name.
    pub vantage: String,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            targets: PathBuf::new(),
            rate: 0,
            max_rate: None,
            burst: None,
            round_secs: 600.0,
            timeout_ms: 3000,
            min_responsive: 15,
            min_availability: 0.1,
            default_availability: 0.5,
            allow_private: false,
            allow: Vec::new(),
            vantage: "local".to_string(),
        }
    }
}

impl ProbeSettings {
    /// The ceiling the rate must stay under: `max_rate` when given, else
    /// the default.
    pub fn rate_ceiling(&self) -> RateCeiling {
        self.max_rate
            .map(RateCeiling::raised_to)
            .unwrap_or_default()
    }

    /// Checks the numbers; the block eligibility and the belief parameters.
    pub fn check(&self) -> Result<(Eligibility, BeliefParams)> {
        if !(self.default_availability > 0.0 && self.default_availability <= 1.0) {
            bail!("the default availability must be within (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_availability) {
            bail!("the minimum availability must be within [0, 1]");
        }
        if self.rate == 0 {
            bail!("the rate must be at least 1 probe per second");
        }
        let ceiling = self.rate_ceiling().max_pps();
        if self.rate > ceiling {
            bail!(
                "a rate of {} probes/s is above the ceiling of {ceiling} probes/s; if this rate is \
                 meant, raise the ceiling with --max-rate {} (in a probe source: max_rate = {})",
                self.rate,
                self.rate,
                self.rate
            );
        }
        if !(self.round_secs > 0.0 && self.round_secs.is_finite()) {
            bail!("the round must be a positive number of seconds");
        }
        let params = BeliefParams {
            timeout_ms: self.timeout_ms,
            ..BeliefParams::default()
        };
        params
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid probing parameters: {e}"))?;
        let eligibility = Eligibility {
            min_responsive: self.min_responsive,
            min_availability: self.min_availability,
            default_address_availability: self.default_availability,
        };
        Ok((eligibility, params))
    }

    /// The ranges that may be probed.
    pub fn policy(&self) -> Result<TargetPolicy> {
        Ok(TargetPolicy {
            allow_private: self.allow_private,
            allowed: parse_v4_prefixes(&self.allow, "allow")?,
        })
    }
}

/// Parses IPv4 prefixes (an address alone is a /32), truncated to their
/// network; `what` names the setting in the error.
pub fn parse_v4_prefixes(texts: &[String], what: &str) -> Result<Vec<Ipv4Net>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<Ipv4Net>()
                .or_else(|_| t.parse::<std::net::Ipv4Addr>().map(Ipv4Net::from))
                .map(|n| n.trunc())
                .with_context(|| format!("{what} {t:?} is not an IPv4 prefix such as 192.0.2.0/24"))
        })
        .collect()
}

/// Reads a saved list (recognised by its first line) or a hitlist.
pub fn read_targets(
    path: &Path,
    eligibility: &Eligibility,
    policy: &TargetPolicy,
) -> Result<(ProbeList, ListReport)> {
    let label = path.display().to_string();
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .with_context(|| format!("cannot open the targets file {label}"))
    };
    let mut first = String::new();
    std::io::BufRead::read_line(&mut open()?, &mut first)
        .with_context(|| format!("cannot read {label}"))?;
    let result = if first.starts_with(PROBE_LIST_HEADER) {
        ProbeList::load(open()?, &label, policy)
    } else {
        ProbeList::from_hitlist(open()?, &label, eligibility, policy)
    };
    result.with_context(|| format!("cannot read {label}"))
}

/// The store's block log on a connection of its own, shared by the
/// service's probers (each round's changes in one transaction).
pub struct BlockLog {
    store: std::sync::Mutex<Store>,
}

impl BlockLog {
    /// Logs into `store`.
    pub fn new(store: Store) -> Self {
        BlockLog {
            store: std::sync::Mutex::new(store),
        }
    }

    /// Logs one round's block changes seen by `vantage`, as
    /// [`record_block_changes`].
    pub fn record(&self, vantage: &str, at: UnixSecs, changes: &[BlockChange]) -> Result<()> {
        let mut store = match self.store.lock() {
            Ok(store) => store,
            Err(poisoned) => poisoned.into_inner(),
        };
        record_block_changes(&mut store, vantage, at, changes)
    }
}

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

/// The file in the data directory that held the block log before it moved
/// into the store: imported once by [`import_legacy_block_log`].
pub const BLOCK_LOG_FILE: &str = "probe-blocks.sqlite";

fn now_unix() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What `vigie probe` does besides [`ProbeSettings`]: where the list comes
/// from when there is no targets file, what is saved, how long it runs.
pub struct ProbeRunOptions {
    /// Build the list by a rate-limited discovery scan of these prefixes
    /// (when the settings name no targets file).
    pub discover: Vec<String>,
    /// Discovery passes over every address.
    pub discover_passes: u32,
    /// Save the probe list here.
    pub save_list: Option<PathBuf>,
    /// Stop after this many rounds (`None`: run until stopped).
    pub rounds: Option<u64>,
    /// After each round, write the block states here (for [`combine_vantages`]).
    pub states_out: Option<PathBuf>,
    /// The bin width of the signal written.
    pub bin: BinSize,
}

/// Probes round after round (`vigie probe`): reads the targets (or
/// discovers them), then opens the store with `open_store` (`None`: print
/// only), writes the /24s-up signal and logs the block changes after each
/// round, and tells `on_round` of it. Returns whether the targets file had
/// bad lines.
pub fn run_probe(
    settings: &ProbeSettings,
    options: &ProbeRunOptions,
    geo: &GeoDb,
    open_store: impl FnOnce() -> Result<Option<Store>>,
    on_round: &mut dyn FnMut(&RoundReport, UnixSecs),
) -> Result<bool> {
    run_probe_with_states(settings, options, geo, open_store, on_round, None)
}

/// What a vantage point does with its block states after a round, at the
/// round's end (`vigie probe --publish` sends them to the bus).
pub type StatesHook<'a> = &'a mut dyn FnMut(&VantageStates, UnixSecs) -> Result<()>;

/// [`run_probe`], handing each round's block states to `on_states` too.
pub fn run_probe_with_states(
    settings: &ProbeSettings,
    options: &ProbeRunOptions,
    geo: &GeoDb,
    open_store: impl FnOnce() -> Result<Option<Store>>,
    on_round: &mut dyn FnMut(&RoundReport, UnixSecs),
    mut on_states: Option<StatesHook<'_>>,
) -> Result<bool> {
    let (eligibility, params) = settings.check()?;
    let policy = settings.policy()?;
    let rate = settings.rate;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let socket = IcmpSocket::open()?;
        let mut partial_input = false;
        let list = if !settings.targets.as_os_str().is_empty() {
            let (list, report) = read_targets(&settings.targets, &eligibility, &policy)?;
            eprintln!("{report}");
            partial_input |= report.has_bad_input();
            list
        } else if !options.discover.is_empty() {
            let prefixes = parse_v4_prefixes(&options.discover, "--discover")?;
            eprintln!(
                "discovery: {} prefixes, {} passes at ≤ {} probes/s…",
                prefixes.len(),
                options.discover_passes,
                rate
            );
            let (builder, report) = discover(
                &socket,
                &prefixes,
                options.discover_passes,
                rate,
                Duration::from_millis(u64::from(settings.timeout_ms)),
                &policy,
            )
            .await?;
            eprintln!(
                "discovery: {} addresses, {} probes, {} replies, {} responsive addresses in {} blocks",
                report.addresses,
                report.probes_sent,
                report.replies,
                report.responsive,
                builder.block_count()
            );
            if let Some(error) = &report.first_send_error {
                eprintln!("warning: {} probes could not be sent; first: {error}", report.send_errors);
            }
            builder.build(&eligibility)
        } else {
            bail!("give --targets FILE (a hitlist or a saved list) or --discover PREFIX");
        };
        if let Some(path) = &options.save_list {
            let file = File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            list.save(&mut out)
                .and_then(|_| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("saved {} blocks to {}", list.len(), path.display());
        }
        if list.is_empty() {
            bail!(
                "no eligible block to probe (each needs ≥ {} responsive addresses and availability ≥ {}; see --min-responsive, --min-availability)",
                settings.min_responsive,
                settings.min_availability
            );
        }
        let mut store = open_store()?;
        let blocks = list.len();
        let seed = now_unix() as u64 ^ u64::from(std::process::id());
        let ident = (std::process::id() as u16) ^ 0x7600;
        let engine = Engine::new(list, params, ident, seed);
        let config = ProberConfig {
            rate_pps: rate,
            burst: settings.burst.unwrap_or((rate / 100).max(1)),
            round: Duration::from_secs_f64(settings.round_secs),
        };
        let mut prober = Prober::with_rate_ceiling(socket, engine, config, settings.rate_ceiling())?;
        eprintln!(
            "probing {blocks} blocks from vantage point {:?}: rounds of {} s, ≤ {} probes/s, timeout {} ms",
            settings.vantage, settings.round_secs, rate, settings.timeout_ms
        );
        let mut round_bins = RoundBins::new(options.bin);
        let mut round_no = 0u64;
        loop {
            let round_start = now_unix();
            let report = prober.run_round().await;
            round_no += 1;
            let now = now_unix();
            on_round(&report, now);
            let engine = prober.engine();
            if let Some(store) = store.as_mut() {
                let values = up_counts(engine.list(), engine.states(), geo);
                round_bins.write(&mut store.sink(PROBE_SOURCE), round_start, now, values)?;
                record_block_changes(store, &settings.vantage, now, &report.changes)?;
            }
            if options.states_out.is_some() || on_states.is_some() {
                let states = VantageStates::from_engine(&settings.vantage, engine);
                if let Some(path) = &options.states_out {
                    write_states(path, &states)?;
                }
                if let Some(hook) = on_states.as_mut() {
                    hook(&states, now)?;
                }
            }
            if options.rounds.is_some_and(|n| round_no >= n) {
                break;
            }
        }
        Ok(partial_input)
    })
}

/// One round as `vigie probe` prints it, finished at `now`; then the
/// warnings the round calls for.
pub fn describe_round(report: &RoundReport, now: UnixSecs) -> (String, Vec<String>) {
    let line = format!(
        "round {} {}: {} up, {} down, {} uncertain ({} unmeasured); {} probes ({} adaptive) at {:.1} probes/s; {} replies, {} timeouts, {} late, {} unmatched, {} send errors, {} changes",
        report.round,
        format_utc(now),
        report.up,
        report.down,
        report.uncertain,
        report.unmeasured,
        report.periodic_probes + report.adaptive_probes,
        report.adaptive_probes,
        report.send_rate_pps(),
        report.replies,
        report.timeouts,
        report.late_replies,
        report.unmatched_replies,
        report.send_errors,
        report.changes.len()
    );
    let mut warnings = Vec::new();
    if let Some(error) = &report.first_send_error {
        warnings.push(format!(
            "warning: {} probes could not be sent; first: {error}",
            report.send_errors
        ));
    }
    if report.send_buffer_full > 0 {
        warnings.push(format!(
            "warning: the socket send buffer was full {} times (probes were retried); lower --rate or raise net.core.wmem_max",
            report.send_buffer_full
        ));
    }
    (line, warnings)
}

fn write_states(path: &Path, states: &VantageStates) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = BufWriter::new(file);
    states
        .save(&mut out)
        .and_then(|_| out.flush())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(out);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Vantage points' block states merged under a quorum.
pub struct Combined {
    /// How many vantage points were read.
    pub vantages: usize,
    /// Each block's combined state.
    pub states: BTreeMap<u32, BlockState>,
    /// Whether some lines of the states files could not be read.
    pub partial: bool,
}

impl Combined {
    /// How many blocks are in `state`.
    pub fn count(&self, state: BlockState) -> usize {
        self.states.values().filter(|&&s| s == state).count()
    }

    /// The one-line summary `vigie probe --combine` prints.
    pub fn summary(&self, quorum: usize) -> String {
        format!(
            "combined {} vantage points, quorum {quorum}: {} blocks up, {} down, {} uncertain",
            self.vantages,
            self.count(BlockState::Up),
            self.count(BlockState::Down),
            self.count(BlockState::Uncertain)
        )
    }
}

/// Reads the states files of several vantage points (written with
/// `--states-out`; each one's problems and size told on stderr) and merges
/// them: a block is DOWN only when `quorum` of them see it DOWN.
pub fn combine_vantages(paths: &[PathBuf], quorum: usize) -> Result<Combined> {
    let mut vantages = Vec::new();
    let mut partial = false;
    for path in paths {
        let label = path.display().to_string();
        let file = File::open(path).with_context(|| format!("cannot open {label}"))?;
        let (states, issues) = VantageStates::load(BufReader::new(file), &label)
            .with_context(|| format!("cannot read {label}"))?;
        for issue in issues.iter().take(20) {
            eprintln!("{label}:{}: {}", issue.line, issue.reason);
        }
        partial |= !issues.is_empty();
        eprintln!(
            "{label}: vantage point {:?}, {} blocks",
            states.vantage,
            states.states.len()
        );
        vantages.push(states);
    }
    combine_vantage_states(&vantages, quorum, partial)
}

/// Merges vantage points' states under `quorum` (between 1 and their
/// number): the one combining step of `vigie probe --combine` (files) and
/// `vigie bus quorum` (the bus). `partial` is carried into the result.
pub fn combine_vantage_states(
    vantages: &[VantageStates],
    quorum: usize,
    partial: bool,
) -> Result<Combined> {
    if quorum == 0 || quorum > vantages.len() {
        bail!(
            "--quorum must be between 1 and the number of vantage points ({})",
            vantages.len()
        );
    }
    Ok(Combined {
        vantages: vantages.len(),
        states: combine_states(vantages, quorum),
        partial,
    })
}

/// The store source of combined vantage points' bins.
pub const COMBINED_SOURCE: &str = "probe-combined";

/// The /24s up per entity (`ping-slash24`) of combined states, as the bin
/// starting at `bin_start`.
pub fn combined_bin(
    combined: &Combined,
    geo: &GeoDb,
    bin: BinSize,
    bin_start: UnixSecs,
) -> SignalBin {
    // A list of the combined blocks, to place them with the geo database.
    let mut builder = ListBuilder::new();
    for &network in combined.states.keys() {
        builder.add(std::net::Ipv4Addr::from(network | 1), 1.0);
    }
    let list = builder.build(&Eligibility {
        min_responsive: 1,
        min_availability: 0.0,
        default_address_availability: 1.0,
    });
    let states = list.blocks().iter().map(|b| {
        let state = combined.states.get(&b.network).copied();
        (state.unwrap_or(BlockState::Uncertain), true)
    });
    SignalBin {
        bin,
        bin_start,
        values: up_counts(&list, states, geo),
    }
}

/// Writes the /24s up per entity of the combined states as one bin (the
/// one holding now) of the store source `probe-combined`; returns it.
pub fn store_combined(
    store: &mut Store,
    combined: &Combined,
    geo: &GeoDb,
    bin: BinSize,
) -> Result<SignalBin> {
    let signal = combined_bin(combined, geo, bin, bin.floor(now_unix()));
    store.sink(COMBINED_SOURCE).write(&signal)?;
    Ok(signal)
}

/// One line of `vigie probe --show-changes` (a state name this build does
/// not know reads as uncertain).
pub fn describe_change(change: &BlockChangeRecord) -> String {
    let state = |name: &str| BlockState::from_name(name).unwrap_or(BlockState::Uncertain);
    format!(
        "{} {} {}/24 {} -> {} (B(U) = {:.3})",
        format_utc(change.at),
        change.vantage,
        change.network,
        state(&change.from_state),
        state(&change.to_state),
        change.belief_up
    )
}

/// Moves the block log an older vigie kept in `<data-dir>/probe-blocks.sqlite`
/// into the store, once: the rows are copied (skipping those already there),
/// then the file is renamed `probe-blocks.sqlite.imported`.
pub fn import_legacy_block_log(store: &mut Store, data_dir: &Path) -> Result<()> {
    let legacy = data_dir.join(BLOCK_LOG_FILE);
    if !legacy.is_file() {
        return Ok(());
    }
    let copied = store.import_block_log_file(&legacy).with_context(|| {
        format!(
            "cannot move the probe block log {} into the store (move the file away to go on without its history)",
            legacy.display()
        )
    })?;
    let done = data_dir.join(format!("{BLOCK_LOG_FILE}.imported"));
    std::fs::rename(&legacy, &done).with_context(|| {
        format!(
            "moved the probe block log {} into the store, but cannot rename it to {}",
            legacy.display(),
            done.display()
        )
    })?;
    eprintln!(
        "moved {copied} probe block state changes from {} into the store; the old file is now {}",
        legacy.display(),
        done.display()
    );
    Ok(())
}
