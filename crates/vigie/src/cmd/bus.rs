//! `vigie bus` (feature `nats`): the roles that read NATS JetStream —
//! `store` writes the bins on the bus to the store, `quorum` combines the
//! vantage points' block states into `probe-combined` bins.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use vigie_bus::{Bus, ConsumerOptions, StreamSettings, DEFAULT_STREAM};

use super::{open_store, partial_if};

/// `vigie bus …`: roles reading the JetStream bus.
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
}

/// Where the bus is.
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
    #[arg(long, default_value = DEFAULT_STREAM)]
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

impl BusArgs {
    fn connect(&self) -> Result<Bus> {
        let settings = StreamSettings {
            name: self.stream.clone(),
            max_age: Duration::from_secs(self.max_age_secs),
            ..StreamSettings::default()
        };
        Ok(Bus::connect(&self.nats, &settings)?)
    }

    fn consumer(&self, default_durable: &str) -> ConsumerOptions {
        ConsumerOptions {
            durable: self
                .durable
                .clone()
                .unwrap_or_else(|| default_durable.to_string()),
            batch: self.batch,
            ack_wait: Duration::from_secs(self.ack_wait_secs.max(1)),
            exit_when_drained: self.exit_when_drained,
            ..ConsumerOptions::default()
        }
    }
}

/// Arguments of `vigie bus store`.
#[derive(Args, Debug)]
pub struct BusStoreArgs {
    #[command(flatten)]
    pub bus: BusArgs,
}

/// Arguments of `vigie bus quorum`.
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
    #[command(flatten)]
    pub bin: crate::cli::BinArg,
    #[command(flatten)]
    pub geo: crate::cli::GeoArgs,
}

/// Runs `vigie bus …`.
pub fn run(data_dir: &Path, command: BusCommand) -> Result<ExitCode> {
    let stop = vigie_traffic::signal::stop_on_signals();
    match command {
        BusCommand::Store(args) => {
            let bus = args.bus.connect()?;
            let mut store = open_store(data_dir)?;
            eprintln!(
                "writing the bins on {} (stream {}) to {}",
                bus.url(),
                args.bus.stream,
                data_dir.display()
            );
            let options = args.bus.consumer("vigie-store");
            let report = vigie_bus::store_bins(&bus, &mut store, options, &stop, &mut |report| {
                eprintln!("{}", report.summary());
            })
            .context("the bus consumer stopped (what it had acknowledged is in the store; start it again to go on)")?;
            for example in &report.bad_examples {
                eprintln!("bad message skipped: {example}");
            }
            println!("{}", report.summary());
            Ok(partial_if(report.bad > 0))
        }
        BusCommand::Quorum(args) => {
            let bus = args.bus.connect()?;
            let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
            let mut store = open_store(data_dir)?;
            let options = vigie_bus::vantage::QuorumOptions {
                vantages: args.vantages.clone(),
                quorum: args.quorum,
                bin: args.bin.bin,
                consumer: args.bus.consumer("vigie-quorum"),
            };
            let report = vigie_bus::vantage::combine_from_bus(
                &bus,
                &options,
                &geo,
                &mut store.sink(vigie_pipeline::COMBINED_SOURCE),
                &stop,
                &mut |line| println!("{line}"),
            )?;
            for example in &report.bad_examples {
                eprintln!("bad message skipped: {example}");
            }
            println!("{}", report.summary());
            Ok(partial_if(report.bad > 0))
        }
    }
}
