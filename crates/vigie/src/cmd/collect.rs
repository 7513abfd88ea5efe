//! `vigie collect flows` and `vigie collect telescope`: map their flags
//! onto `vigie_pipeline::{collect_flows, collect_telescope}` and print
//! their reports.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use vigie_pipeline::{
    collect_flows, collect_telescope, load_geo, parse_prefixes, FlowCollectOptions,
    TelescopeCollectOptions,
};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::{CollectFlowsArgs, CollectTelescopeArgs};
use vigie_traffic::flow::limits::FlowLimits;

/// The range of `--grace-secs`.
fn check_grace(grace_secs: i64) -> Result<()> {
    if !(0..=86_400).contains(&grace_secs) {
        bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
    Ok(())
}

/// Runs the collector until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn flows(data_dir: &Path, args: CollectFlowsArgs) -> Result<ExitCode> {
    check_grace(args.grace_secs)?;
    let geo = load_geo(&args.geo.geo_files)?;
    let own_prefixes = parse_prefixes(&args.own_prefixes, "--own-prefix")?;
    let mut listen = args.listen.clone();
    listen.extend(args.sflow_listen.iter().copied());
    if listen.is_empty() {
        bail!("nothing to listen on: give --listen and/or --sflow-listen");
    }
    let mut store = open_store(data_dir)?;
    let options = FlowCollectOptions {
        listen,
        own_prefixes,
        bin: args.bin.bin,
        grace_secs: args.grace_secs,
        max_sampling_rate: args.max_sampling_rate,
        run_for: args.duration_secs.map(Duration::from_secs),
        source: "flows".to_string(),
        limits: FlowLimits {
            allowed_exporters: parse_prefixes(&args.allow_exporters, "--allow-exporter")?,
            ..FlowLimits::default()
        },
    };
    let report = collect_flows(&mut store, options, geo)?;
    report.messages.iter().for_each(|m| eprintln!("{m}"));
    if report.damaged {
        eprintln!("warning: some datagrams were bad or undecodable (see above; exit code {EXIT_PARTIAL_INPUT})");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Captures until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn telescope(data_dir: &Path, args: CollectTelescopeArgs) -> Result<ExitCode> {
    check_grace(args.grace_secs)?;
    let darknet = parse_prefixes(&args.darknet, "--darknet")?;
    let geo = load_geo(&args.geo.geo_files)?;
    let mut store = open_store(data_dir)?;
    let options = TelescopeCollectOptions {
        interface: args.interface.clone(),
        darknet,
        bin: args.bin.bin,
        grace_secs: args.grace_secs,
        run_for: args.duration_secs.map(Duration::from_secs),
        source: args.source.clone(),
    };
    let report = collect_telescope(&mut store, options, geo, |interface| {
        let darknet = if args.darknet.is_empty() {
            "every destination".to_string()
        } else {
            args.darknet.join(", ")
        };
        eprintln!("capturing on {interface} (darknet: {darknet})");
    })?;
    report.messages.iter().for_each(|m| eprintln!("{m}"));
    Ok(ExitCode::SUCCESS)
}
