//! `vigie collect telescope`: maps its flags onto
//! `vigie_pipeline::collect_telescope` (a live darknet interface → unique
//! source IPs per entity) and prints its report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vigie_pipeline::{collect_telescope, load_geo, parse_prefixes, TelescopeCollectOptions};

use super::open_store;
use crate::cli::CollectTelescopeArgs;

/// Captures until Ctrl-C/SIGTERM or `--duration-secs`.
pub fn run(data_dir: &Path, args: CollectTelescopeArgs) -> Result<ExitCode> {
    if !(0..=86_400).contains(&args.grace_secs) {
        bail!("--grace-secs must be between 0 and 86400 (a day)");
    }
    let darknet = parse_prefixes(&args.darknet, "--darknet")?;
    let geo = load_geo(&args.geo.geo_files)?;
    let mut store = open_store(data_dir)?;
    let options = TelescopeCollectOptions {
        interface: args.interface.clone(),
        darknet,
        bin: args.bin.bin,
        grace_secs: args.grace_secs,
        run_for: args.duration_secs.map(std::time::Duration::from_secs),
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
