//! `vigie collect flows`: maps its flags onto `vigie_pipeline::collect_flows`
//! (NetFlow v5/v9, IPFIX and sFlow v5 over UDP) and prints its report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_pipeline::{collect_flows, load_geo, parse_prefixes, FlowCollectOptions};

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::CollectFlowsArgs;

/// Runs the collector until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn run(data_dir: &Path, args: CollectFlowsArgs) -> Result<ExitCode> {
    if !(0..=86_400).contains(&args.grace_secs) {
        bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
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
        run_for: args.duration_secs.map(std::time::Duration::from_secs),
        source: "flows".to_string(),
    };
    let report = collect_flows(&mut store, options, geo)?;
    report.messages.iter().for_each(|m| eprintln!("{m}"));
    if report.damaged {
        eprintln!("warning: some datagrams were bad or undecodable (see above; exit code {EXIT_PARTIAL_INPUT})");
        return Ok(ExitCode::from(EXIT_PARTIAL_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
