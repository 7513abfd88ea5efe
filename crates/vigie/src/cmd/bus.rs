//! `vigie bus` (feature `nats`): the roles that read NATS JetStream —
//! `store` writes the bins on the bus to the store, `quorum` combines the
//! vantage points' block states into `probe-combined` bins, `detect` runs
//! a detection worker over a share of the entities.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use vigie_bus::{Bus, ConsumerOptions, StreamSettings};

use super::{open_store, partial_if};
use crate::cli::{BusArgs, BusCommand};

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
        BusCommand::Detect(args) => {
            let bus = args.bus.connect()?;
            let mut store = open_store(data_dir)?;
            let mut options = vigie_bus::detect::DetectOptions::new(args.share);
            options.config = vigie_pipeline::DetectSettings {
                warmup_secs: args.warmup_secs,
                confirm_windows_secs: args.confirm_windows_secs.clone(),
                exit_window_secs: args.exit_window_secs,
                ..vigie_pipeline::DetectSettings::default()
            }
            .vigie_config();
            options.consumer = args
                .bus
                .consumer(&vigie_bus::detect::durable_name(args.share));
            eprintln!(
                "detecting share {} of the entities from {} (stream {}) into {}",
                args.share,
                bus.url(),
                args.bus.stream,
                data_dir.display()
            );
            let report = vigie_bus::detect::detect_from_bus(
                &bus,
                &mut store,
                &options,
                &stop,
                &mut |report| eprintln!("{}", report.summary()),
            )
            .context(
                "the detection worker stopped (start it again: it goes on from its checkpoints)",
            )?;
            for example in &report.bad_examples {
                eprintln!("bad message skipped: {example}");
            }
            println!("{}", report.summary());
            Ok(partial_if(report.bad > 0))
        }
        BusCommand::Quorum(args) => {
            let bus = args.bus.connect()?;
            let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
            let options = vigie_bus::vantage::QuorumOptions {
                vantages: args.vantages.clone(),
                quorum: args.quorum,
                bin: args.bin.bin,
                consumer: args.bus.consumer("vigie-quorum"),
            };
            let mut on_bin = |line: String| println!("{line}");
            let report = if args.to_bus {
                let mut sink = bus.sink(vigie_pipeline::COMBINED_SOURCE);
                vigie_bus::vantage::combine_from_bus(
                    &bus,
                    &options,
                    &geo,
                    &mut sink,
                    &stop,
                    &mut on_bin,
                )?
            } else {
                let mut store = open_store(data_dir)?;
                vigie_bus::vantage::combine_from_bus(
                    &bus,
                    &options,
                    &geo,
                    &mut store.sink(vigie_pipeline::COMBINED_SOURCE),
                    &stop,
                    &mut on_bin,
                )?
            };
            for example in &report.bad_examples {
                eprintln!("bad message skipped: {example}");
            }
            println!("{}", report.summary());
            Ok(partial_if(report.bad > 0))
        }
    }
}
