//! The command line: every command, flag and default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vigie_model::BinSize;
use vigie_pipeline::{
    bench, AccessLogOptions, CaptureKind, ImportFlags, ProbeSettings, TableFormat,
};

/// vigie: an open Internet shutdown observatory.
///
/// Exit codes: 0 success; 1 failure (nothing or only part was done, see the
/// message); 2 bad command line; 3 finished, but some input was truncated,
/// corrupt or dated outside the plausible time window (what could be read
/// was kept; the message names file and offset or line), or `vigie store
/// check` found a problem.
#[derive(Parser, Debug)]
#[command(name = "vigie", version, about, long_about)]
pub struct Cli {
    /// Where vigie keeps its database.
    #[arg(
        long,
        global = true,
        env = "VIGIE_DATA",
        default_value = "./vigie-data"
    )]
    pub data_dir: PathBuf,
    /// Use this store instead of the SQLite file in --data-dir: a
    /// PostgreSQL database, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
    /// (needs a vigie built with `--features postgres`), which any number
    /// of vigie processes may share. TLS as libpq: `?sslmode=` disable,
    /// prefer (default), require, verify-ca or verify-full, and
    /// `&sslrootcert=PATH` (the CA's PEM file; the system's roots without).
    #[arg(long, global = true, env = "VIGIE_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// vigie's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read data from files into the store.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Run a live collector that writes signals to the store.
    #[command(subcommand)]
    Collect(CollectCommand),
    /// Import other observatories' signals (and their outage labels).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Show one entity's signals over time.
    Series(SeriesArgs),
    /// List the entities the store knows, with their latest values.
    Entities(EntitiesArgs),
    /// Find outages in every stored series and fuse them into incidents.
    Detect(DetectArgs),
    /// List incidents as a timeline.
    Incidents(IncidentsArgs),
    /// Score detection (vigie and IODA's method) against labelled outages.
    Eval(EvalArgs),
    /// Measure speed and memory against well-known tools (docs/BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Probe /24 blocks with ICMP echo, Trinocular-style, round after round,
    /// writing /24s UP per entity (`ping-slash24`) to the store. Needs
    /// CAP_NET_RAW (root, or `setcap cap_net_raw+ep $(which vigie)`).
    Probe(ProbeArgs),
    /// Run the live service from a TOML configuration: its `[[source]]`
    /// tables (kind = bgp-session, bmp, ris-live, flows, access-log,
    /// telescope, probe) write provisional and final bins to the store; `[api]`
    /// serves the HTTP API (and `[alerts]` the alert worker beside it when
    /// the API's token variable, VIGIE_API_TOKEN by default, is set); see
    /// docs/vigie.example.toml. With --listen alone, only the HTTP API.
    Serve(ServeArgs),
    /// Write an incident report (self-contained HTML, Markdown, SVG figure,
    /// CSV data appendix) for an entity over a period or around one
    /// incident, in English or French.
    Report(ReportArgs),
    /// Add an annotation (an external event, such as a televised address)
    /// to an entity, shown in reports and by the API; or --list them.
    Annotate(AnnotateArgs),
    /// Check the store (integrity, damaged rows, bins dated outside the
    /// plausible time window), or repair it (remove those bins).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Replay a shutdown end to end, offline: generate a scenario
    /// (Kazakhstan, January 2022, by default) in real formats, ingest it,
    /// detect, print the timeline, score it against the ground truth, write
    /// the report; with --serve, serve it. Runs in a temporary folder (or
    /// --keep DIR), never in --data-dir.
    Demo(DemoArgs),
    /// Print a shell completion script for vigie to standard output
    /// (bash, zsh, fish, elvish, powershell), such as
    /// `vigie completions bash > /etc/bash_completion.d/vigie`.
    Completions(CompletionsArgs),
    /// Write vigie's man page (roff), generated from this command line: to
    /// standard output, or with --out-dir, vigie.1 and one page per
    /// subcommand (vigie-serve.1, …).
    Man(ManArgs),
    /// Roles on the NATS JetStream bus (built with `--features nats`):
    /// write the bins on the bus to the store, combine vantage points.
    #[cfg(feature = "nats")]
    #[command(subcommand)]
    Bus(BusCommand),
}

/// Arguments of `vigie completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `vigie man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write vigie.1 and one page per subcommand into this folder (created
    /// if missing) instead of printing vigie.1 to standard output.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Arguments of `vigie demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// A built-in scenario: kazakhstan-2022 (default), egypt-2011, iraq-exams.
    #[arg(conflicts_with = "scenario_file")]
    pub scenario: Option<String>,
    /// Your own scenario file (TOML; see crates/vigie-scenario/scenarios/).
    #[arg(long, value_name = "PATH")]
    pub scenario_file: Option<PathBuf>,
    /// List the built-in scenarios.
    #[arg(long)]
    pub list: bool,
    /// Keep the generated input and the store in this folder (new or empty)
    /// instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Where to write the report (default: vigie-demo/SCENARIO).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Serve the demo's store (HTTP API and dashboard) until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// The address to serve on, with --serve.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

/// Arguments of `vigie annotate`.
#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// The entity: IQ, AS9198, KZ/Almaty.
    pub entity: Option<String>,
    /// When it happened (ISO 8601 UTC or Unix seconds); with --list, the
    /// start of the listed period.
    #[arg(long)]
    pub from: Option<String>,
    /// When it ended, for a span; with --list, the end of the period.
    #[arg(long)]
    pub until: Option<String>,
    /// What happened (one line, at most 500 characters).
    #[arg(long)]
    pub text: Option<String>,
    /// A source (http or https URL).
    #[arg(long)]
    pub url: Option<String>,
    /// List annotations instead of adding one.
    #[arg(long)]
    pub list: bool,
}

/// Arguments of `vigie report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The entity: a country (IQ), an AS (AS9198) or a region (KZ/Almaty).
    pub entity: Option<String>,
    /// Report on this incident (ENTITY@START_UNIX_SECS, as `vigie incidents`
    /// and the API list them), with --margin-hours around it.
    #[arg(long, conflicts_with_all = ["entity", "from", "until"])]
    pub incident: Option<String>,
    /// Period start (ISO 8601 UTC); default: the first data.
    #[arg(long)]
    pub from: Option<String>,
    /// Period end, exclusive; default: the end of the data.
    #[arg(long)]
    pub until: Option<String>,
    /// Language: en or fr.
    #[arg(long, default_value = "en", value_parser = ["en", "fr"])]
    pub lang: String,
    /// Folder to write the files into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Detection method whose incidents are reported.
    #[arg(long, default_value = "vigie")]
    pub method: String,
    /// Hours shown before and after an --incident.
    #[arg(long, default_value_t = 6)]
    pub margin_hours: u32,
    #[command(flatten)]
    pub bin: BinArg,
}

/// Arguments of `vigie serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The configuration file (TOML): `bin_secs`, `geo_files`, `[store]`,
    /// `[api]`, `[alerts]`, `[bgp]` and `[[source]]` tables (see
    /// docs/vigie.example.toml).
    #[arg(long, required_unless_present = "listen")]
    pub config: Option<PathBuf>,
    /// Serve the HTTP API (native JSON under /api/v1, IODA v2-compatible
    /// under /v2, /metrics) on this address, such as 127.0.0.1:8080; alone
    /// or beside the sources of --config (instead of its `[api] listen`).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    pub for_secs: Option<u64>,
    /// Also publish every source's bins (closed, provisional, retracted)
    /// to this NATS JetStream server, each under its source's name: a
    /// collector on the bus (`vigie bus store` writes them to a shared
    /// store, `vigie bus detect` detects from them).
    #[cfg(feature = "nats")]
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// MRT ingest against `bgpdump -m` and bare bgpkit-parser, on the same file.
    Mrt(bench::MrtBenchOptions),
    /// Routing-state memory per prefix with many peers, on a generated RIB.
    Memory(bench::MemoryBenchOptions),
    /// A batch backtest of detection: many entities × signals over a long period.
    Detect(bench::DetectBenchOptions),
    /// Accuracy on thousands of synthetic entities with known outages: bin
    /// widths, depths, durations, cycles, noise, missing data, signals;
    /// vigie beside IODA's median method, per class, as Markdown.
    Truth(bench::TruthBenchOptions),
    /// IODA's scale (or a --scale fraction) × 4 signals through the live
    /// detection loop for a simulated day with outages injected, the API read meanwhile.
    World(bench::WorldBenchOptions),
}

/// What to ingest.
#[derive(Subcommand, Debug)]
pub enum IngestCommand {
    /// BGP visibility from MRT archives: RIB dumps and updates (RouteViews,
    /// RIPE RIS, any daemon's dumps), gz, bz2 or plain.
    Mrt(IngestMrtArgs),
    /// The period's files of RIPE RIS and RouteViews collectors, fetched
    /// (resumable, into a cache) from the archives, then read as `ingest mrt`.
    #[command(visible_aliases = ["ris", "routeviews"])]
    Archive(IngestArchiveArgs),
    /// HTTP requests and unique client /24s per entity from nginx/Apache
    /// access logs (combined or common format): files, .gz, stdin, or --follow.
    AccessLog(IngestAccessLogArgs),
    /// Telescope (darknet) captures → unique sources per entity; or, with
    /// --mode flows, captured NetFlow/IPFIX/sFlow exports → flow signals.
    Pcap(IngestPcapArgs),
}

/// What to import.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// An IODA API v2 response (`/signals/raw/{entityType}/{entityCode}`), JSON.
    IodaJson(ImportFlags),
    /// An IODA dashboard CSV export (raw or normalised); name the entity with --entity.
    IodaCsv(ImportFlags),
    /// A long CSV with the columns time,entity,signal,value.
    Csv(ImportFlags),
    /// A Monash IP Observatory CSV (regional connectivity or latency index,
    /// raw pings); the layout is found from the header, regions from the rows.
    Monash(ImportFlags),
    /// IODA's API v2 over HTTP: an entity's signals and IODA's own outage
    /// events for a period (`--entity country/KZ --from … --until …`).
    Ioda(vigie_pipeline::IodaApiOptions),
}

/// The bin width of the series a command writes or reads.
#[derive(Args, Debug, Clone, Copy)]
pub struct BinArg {
    /// Bin width in seconds: it divides a day and is at least 60.
    #[arg(long = "bin-secs", value_name = "SECS", default_value_t = BinSize::default())]
    pub bin: BinSize,
}

/// Geo and ownership tables to use instead of, or on top of, the embedded one.
#[derive(Args, Debug, Clone, Default)]
pub struct GeoArgs {
    /// Extra geo tables, loaded over the embedded RIR data: RIR
    /// delegated-extended files, ip-location-db CSV (country, asn, dbip-city
    /// for regions), MMDB country databases, RouteViews/pyasn prefix-to-AS
    /// tables, AS-name JSON. The kind is recognised from the file.
    #[arg(long = "geo", value_name = "FILE")]
    pub geo_files: Vec<PathBuf>,
}

/// Arguments of `vigie ingest mrt`.
#[derive(Args, Debug)]
pub struct IngestMrtArgs {
    /// MRT files, or directories laid out like the RIS or RouteViews archives.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub read: MrtReadArgs,
}

/// Arguments of `vigie ingest archive`.
#[derive(Args, Debug)]
pub struct IngestArchiveArgs {
    #[command(flatten)]
    pub fetch: vigie_pipeline::ArchiveOptions,
    #[command(flatten)]
    pub read: MrtReadArgs,
}

/// How `vigie ingest mrt` and `archive` read MRT input.
#[derive(Args, Debug)]
pub struct MrtReadArgs {
    #[command(flatten)]
    pub bin: BinArg,
    #[command(flatten)]
    pub mrt: vigie_pipeline::MrtFlags,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub geo: GeoArgs,
}

/// Arguments of `vigie series`.
#[derive(Args, Debug)]
pub struct SeriesArgs {
    /// The entity: a country (KZ), an AS (AS9198) or a region (KZ/Almaty).
    pub entity: String,
    /// The signal (bgp, bgp-v6, bgp-announcements, bgp-withdrawals, ...). Without it, every signal the entity has.
    #[arg(long)]
    pub signal: Option<String>,
    /// Start, ISO 8601 UTC (2022-01-05T10:30:00Z), a date, or Unix seconds. Default: the first stored bin.
    #[arg(long)]
    pub from: Option<String>,
    /// End (exclusive), same forms. Default: just after the last stored bin.
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub bin: BinArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// Arguments of `vigie detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Only this entity (KZ, AS9198, KZ/Almaty); default: every entity.
    #[arg(long)]
    pub entity: Option<String>,
    /// Start of the period to scan (ISO 8601 UTC); default: all data.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period to scan; default: all data.
    #[arg(long)]
    pub until: Option<String>,
    /// Only series of this bin width, seconds; default: every series at its
    /// own bin width (1 minute to a day, found from the store).
    #[arg(long = "bin-secs", value_name = "SECS")]
    pub bin: Option<BinSize>,
}

/// Arguments of `vigie incidents`.
#[derive(Args, Debug)]
pub struct IncidentsArgs {
    /// Only this entity.
    #[arg(long)]
    pub entity: Option<String>,
    /// Only incidents still going on at or after this time (ISO 8601 UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// Only incidents that began before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// Arguments of `vigie eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// More labels: IODA's investigated-outage CSV or a JSON label list
    /// (labels imported with the signals are always used).
    #[arg(long = "labels", value_name = "FILE")]
    pub labels: Vec<PathBuf>,
    /// Only this entity.
    #[arg(long)]
    pub entity: Option<String>,
    /// Only series of this bin width, seconds; default: each entity's series
    /// at their own bin width (the finest when it has several).
    #[arg(long = "bin-secs", value_name = "SECS")]
    pub bin: Option<BinSize>,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Arguments of `vigie entities`.
#[derive(Args, Debug)]
pub struct EntitiesArgs {
    /// Only this kind: country, asn or region.
    #[arg(long)]
    pub kind: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// Arguments of `vigie probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Targets: a hitlist (one IPv4 address per line, optionally followed by
    /// its response rate 0-1) or a list saved with --save-list.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<std::path::PathBuf>,
    /// Build the list by a rate-limited discovery scan of these prefixes instead.
    #[arg(long, value_name = "PREFIX")]
    pub discover: Vec<String>,
    /// Discovery passes over every address (response rate = replies / passes).
    #[arg(long, default_value_t = 2)]
    pub discover_passes: u32,
    /// Save the probe list (for --targets on later runs).
    #[arg(long, value_name = "FILE")]
    pub save_list: Option<std::path::PathBuf>,
    /// Global cap on probes sent per second; never exceeded. Required to probe.
    #[arg(long, value_name = "PPS", required_unless_present_any = ["combine", "show_changes"])]
    pub rate: Option<u32>,
    /// Raise the ceiling --rate must stay under (default 20,000 probes/s).
    #[arg(long, value_name = "PPS")]
    pub max_rate: Option<u32>,
    /// Probes that may leave back to back (token bucket size); default rate/100.
    #[arg(long)]
    pub burst: Option<u32>,
    /// Round length in seconds (IODA: 600); every block gets one probe per round.
    #[arg(long, default_value_t = ProbeSettings::default().round_secs)]
    pub round_secs: f64,
    /// A probe unanswered after this many milliseconds counts as negative.
    #[arg(long, default_value_t = ProbeSettings::default().timeout_ms)]
    pub timeout_ms: u32,
    /// Stop after this many rounds (default: run until stopped).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Fewest responsive addresses for a block to be probed (Trinocular: 15).
    #[arg(long, default_value_t = ProbeSettings::default().min_responsive)]
    pub min_responsive: usize,
    /// Lowest availability A(E(b)) for a block to be probed (Trinocular: 0.1).
    #[arg(long, default_value_t = ProbeSettings::default().min_availability)]
    pub min_availability: f32,
    /// Response rate assumed for hitlist addresses given without one.
    #[arg(long, default_value_t = ProbeSettings::default().default_availability)]
    pub default_availability: f32,
    /// Allow private, shared, link-local, documentation, benchmarking and
    /// reserved ranges (labs); refused by default.
    #[arg(long)]
    pub allow_private: bool,
    /// A prefix allowed whatever its range (repeatable), e.g. a lab's own.
    #[arg(long, value_name = "PREFIX")]
    pub allow: Vec<String>,
    /// This vantage point's name, in the block log and --states-out.
    #[arg(long, default_value_t = ProbeSettings::default().vantage)]
    pub vantage: String,
    /// After each round, write the block states here (for --combine).
    #[arg(long, value_name = "FILE")]
    pub states_out: Option<std::path::PathBuf>,
    /// After each round, publish the block states to this NATS JetStream
    /// server (`vigie bus quorum` combines the vantage points).
    #[cfg(feature = "nats")]
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
    /// Instead of probing: combine states files of several vantage points
    /// (written with --states-out) and store the result.
    #[arg(long, value_name = "FILE")]
    pub combine: Vec<std::path::PathBuf>,
    /// With --combine: a block is DOWN only when this many vantage points see it DOWN.
    #[arg(long, default_value_t = 1)]
    pub quorum: usize,
    /// Instead of probing: list the blocks' state changes from the block log.
    #[arg(long)]
    pub show_changes: bool,
    /// With --show-changes: only this /24 (its first address, a.b.c.0).
    #[arg(long, value_name = "ADDR")]
    pub block: Option<std::net::Ipv4Addr>,
    /// With --show-changes: from this time (ISO 8601 UTC, a date or Unix seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// With --show-changes: until this time (exclusive).
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub bin: BinArg,
    /// Do not write to the store (print progress only).
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub geo: GeoArgs,
}

/// `vigie store` subcommands.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Report problems: SQLite's integrity check, rows that do not decode,
    /// bins dated before 1990 or more than a day past the clock (exit 3
    /// when anything is found).
    Check,
    /// Remove the bins dated outside the plausible time window and say how
    /// many went; then check again.
    Repair,
}

/// Live collectors.
#[derive(Subcommand, Debug)]
pub enum CollectCommand {
    /// NetFlow v5/v9, IPFIX and sFlow v5 over UDP → bytes, packets and
    /// flows from and to each country, AS and region, corrected for sampling.
    Flows(CollectFlowsArgs),
    /// A live darknet interface (Linux, CAP_NET_RAW) → unique source IPs per
    /// country, AS and region, after the telescope's filters.
    Telescope(CollectTelescopeArgs),
}

/// Arguments of `vigie collect telescope`.
#[derive(Args, Debug)]
pub struct CollectTelescopeArgs {
    /// The interface the darknet's traffic arrives on, such as eth1.
    #[arg(long)]
    pub interface: String,
    /// The dark prefixes (packets to other addresses, and from these, are
    /// dropped). Repeat for several; none takes every destination as dark.
    #[arg(long = "darknet", value_name = "PREFIX")]
    pub darknet: Vec<String>,
    #[command(flatten)]
    pub bin: BinArg,
    /// A bin is written this many seconds after it ends.
    #[arg(long, default_value_t = 5)]
    pub grace_secs: i64,
    /// The store's name for this source.
    #[arg(long, default_value = "telescope")]
    pub source: String,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub duration_secs: Option<u64>,
    #[command(flatten)]
    pub geo: GeoArgs,
}

/// Arguments of `vigie collect flows`.
#[derive(Args, Debug)]
pub struct CollectFlowsArgs {
    /// UDP address for NetFlow/IPFIX (any listener accepts every protocol).
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:2055")]
    pub listen: Vec<std::net::SocketAddr>,
    /// UDP address for sFlow, e.g. 0.0.0.0:6343.
    #[arg(long, value_name = "ADDR:PORT")]
    pub sflow_listen: Vec<std::net::SocketAddr>,
    /// The operator's own prefixes: traffic "from"/"to" an entity then means
    /// the far end. Repeat for several.
    #[arg(long = "own-prefix", value_name = "PREFIX")]
    pub own_prefixes: Vec<String>,
    /// Accept datagrams only from these exporter addresses or prefixes (repeatable); default: any.
    #[arg(long = "allow-exporter", value_name = "PREFIX")]
    pub allow_exporters: Vec<String>,
    #[command(flatten)]
    pub bin: BinArg,
    /// A bin is written this many seconds after it ends (late datagrams).
    #[arg(long, default_value_t = 60)]
    pub grace_secs: i64,
    /// Records with a larger sampling rate are dropped and counted as bad.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_sampling_rate: u32,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub duration_secs: Option<u64>,
    #[command(flatten)]
    pub geo: GeoArgs,
}

/// Arguments of `vigie ingest access-log`.
#[derive(Args, Debug)]
pub struct IngestAccessLogArgs {
    /// Log files (plain or .gz); `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Keep reading the one file as it grows, like `tail -F` (survives
    /// rotation and truncation), until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub follow: bool,
    /// With --follow, read the file from its start rather than its end.
    #[arg(long)]
    pub from_start: bool,
    #[command(flatten)]
    pub bin: BinArg,
    /// A bin is closed once the log is this many seconds past its end.
    #[arg(long, default_value_t = AccessLogOptions::default().grace_secs)]
    pub grace_secs: i64,
    /// The store's name for this source (one per website).
    #[arg(long, default_value_t = AccessLogOptions::default().source)]
    pub source: String,
    #[command(flatten)]
    pub geo: GeoArgs,
    /// Publish the closed bins to this NATS JetStream server instead of
    /// writing them to the store (`vigie bus store` writes them there,
    /// `vigie bus detect` detects from them).
    #[cfg(feature = "nats")]
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
}

/// Arguments of `vigie ingest pcap`.
#[derive(Args, Debug)]
pub struct IngestPcapArgs {
    /// pcap or pcapng files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// What the capture holds.
    #[arg(long, value_enum, default_value_t = CaptureKind::Telescope)]
    pub mode: CaptureKind,
    /// Telescope: the dark prefixes (packets to other addresses, and from
    /// these, are dropped). Flows: the operator's own prefixes.
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    #[command(flatten)]
    pub bin: BinArg,
    /// The store's name for this source (default: telescope or flows).
    #[arg(long)]
    pub source: Option<String>,
    #[command(flatten)]
    pub geo: GeoArgs,
}

/// `vigie bus …`: roles reading the JetStream bus.
#[cfg(feature = "nats")]
#[derive(Subcommand, Debug)]
pub enum BusCommand {
    /// Write the bins published on the bus (closed and provisional, every
    /// source) to the store, through a durable consumer: each bin is
    /// acknowledged after its store commit, so a consumer killed and
    /// restarted loses nothing and writes nothing twice.
    Store(BusStoreArgs),
    /// Combine the block states probing vantage points publish
    /// (`vigie probe --publish`): a block is DOWN when --quorum of them see
    /// it DOWN; each round's combined /24s up per entity are written as
    /// `ping-slash24` under the store source `probe-combined`.
    Quorum(BusQuorumArgs),
    /// Detect outages as closed bins arrive, over a share of the entities
    /// (--share I/N: run N workers, 1/N to N/N), and write their incidents
    /// to the store. Each batch is acknowledged once its incidents are
    /// written and the detector checkpointed, so a worker killed and
    /// restarted goes on from its checkpoints and counts no bin twice.
    Detect(BusDetectArgs),
}

/// Where the bus is.
#[cfg(feature = "nats")]
#[derive(Args, Debug)]
pub struct BusArgs {
    /// The NATS server (with JetStream: `nats-server -js`).
    #[arg(
        long,
        value_name = "URL",
        env = "VIGIE_NATS",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats: String,
    /// The JetStream stream (created, with limits retention, if missing).
    #[arg(long, default_value = vigie_bus::DEFAULT_STREAM)]
    pub stream: String,
    /// How long the stream keeps messages, when this creates it.
    #[arg(long, value_name = "SECS", default_value_t = 7 * 86_400)]
    pub max_age_secs: u64,
    /// The durable consumer's name (processes sharing it share the work).
    #[arg(long)]
    pub durable: Option<String>,
    /// Messages fetched and acknowledged at once.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// How long the server waits for an ack before delivering a message
    /// again (to this consumer or, after a crash, to its restart).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub ack_wait_secs: u64,
    /// Stop once everything published so far is written (else run until
    /// Ctrl-C or SIGTERM).
    #[arg(long)]
    pub exit_when_drained: bool,
}

/// Arguments of `vigie bus store`.
#[cfg(feature = "nats")]
#[derive(Args, Debug)]
pub struct BusStoreArgs {
    #[command(flatten)]
    pub bus: BusArgs,
}

/// Arguments of `vigie bus quorum`.
#[cfg(feature = "nats")]
#[derive(Args, Debug)]
pub struct BusQuorumArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// The vantage points to wait for, by name; a round is combined as soon
    /// as all of them sent it.
    #[arg(long = "vantage", value_name = "NAME", required = true)]
    pub vantages: Vec<String>,
    /// Vantage points that must see a block DOWN for it to count DOWN.
    #[arg(long, default_value_t = 2)]
    pub quorum: usize,
    /// Publish the combined bins on the bus (`vigie.bins.probe-combined.…`,
    /// for `vigie bus store` and `vigie bus detect`) instead of writing
    /// them to the store.
    #[arg(long)]
    pub to_bus: bool,
    #[command(flatten)]
    pub bin: crate::cli::BinArg,
    #[command(flatten)]
    pub geo: crate::cli::GeoArgs,
}

/// Arguments of `vigie bus detect`.
#[cfg(feature = "nats")]
#[derive(Args, Debug)]
pub struct BusDetectArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// This worker's share of the entities, I/N (a country and its
    /// regions go to one worker, an AS to one; a worker also follows the
    /// ASes originating space in its countries, for the scope of their
    /// incidents, and publishes its own).
    #[arg(long, value_name = "I/N", default_value = "1/1")]
    pub share: vigie_pipeline::Share,
    /// Overrides the detector's warm-up, the data a series needs before
    /// its first verdict (labs and tests with short bins; an override
    /// makes the incidents differ from `vigie detect`'s).
    #[arg(long, value_name = "SECS")]
    pub warmup_secs: Option<u32>,
    /// Overrides the window lengths over which a drop is confirmed
    /// (`60,300,900`; labs and tests, as --warmup-secs).
    #[arg(long, value_name = "SECS,…", value_delimiter = ',')]
    pub confirm_windows_secs: Option<Vec<u32>>,
    /// Overrides how long a series must stay recovered before an outage
    /// ends (labs and tests, as --warmup-secs).
    #[arg(long, value_name = "SECS")]
    pub exit_window_secs: Option<u32>,
}
