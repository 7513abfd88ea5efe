//! `vigie probe`: maps its flags onto `vigie_pipeline`'s probing
//! ([`run_probe`], [`combine_vantages`], the block log) and prints rounds,
//! combined states and block changes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vigie_model::{format_utc, parse_utc};
use vigie_pipeline::{
    combine_vantages, describe_change, describe_round, import_legacy_block_log, load_geo,
    run_probe, store_combined, ProbeRunOptions, ProbeSettings, BLOCK_LOG_FILE,
};

use super::{open_store, partial_if};
use crate::cli::ProbeArgs;

/// Runs `vigie probe`.
pub fn run(data_dir: &Path, args: ProbeArgs) -> Result<ExitCode> {
    if !args.combine.is_empty() {
        let combined = combine_vantages(&args.combine, args.quorum)?;
        println!("{}", combined.summary(args.quorum));
        if !args.no_store {
            let geo = load_geo(&args.geo.geo_files)?;
            let mut store = open_store(data_dir)?;
            let bin = store_combined(&mut store, &combined, &geo, args.bin.bin)?;
            let (series, start) = (bin.values.len(), format_utc(bin.bin_start));
            println!("wrote {series} series for the bin {start}");
        }
        return Ok(partial_if(combined.partial));
    }
    if args.show_changes {
        return show_changes(data_dir, &args);
    }
    let settings = ProbeSettings {
        targets: args.targets.clone().unwrap_or_default(),
        rate: args.rate.unwrap_or(0),
        max_rate: args.max_rate,
        burst: args.burst,
        round_secs: args.round_secs,
        timeout_ms: args.timeout_ms,
        min_responsive: args.min_responsive,
        min_availability: args.min_availability,
        default_availability: args.default_availability,
        allow_private: args.allow_private,
        allow: args.allow.clone(),
        vantage: args.vantage.clone(),
    };
    settings.check()?;
    settings.policy()?;
    let options = ProbeRunOptions {
        discover: args.discover.clone(),
        discover_passes: args.discover_passes,
        save_list: args.save_list.clone(),
        rounds: args.rounds,
        states_out: args.states_out.clone(),
        bin: args.bin.bin,
    };
    let geo = load_geo(&args.geo.geo_files)?;
    let open = || {
        if args.no_store {
            return Ok(None);
        }
        let mut store = open_store(data_dir)?;
        import_legacy_block_log(&mut store, data_dir)?;
        Ok(Some(store))
    };
    let mut on_round = |report: &vigie_probe::RoundReport, now| {
        let (line, warnings) = describe_round(report, now);
        println!("{line}");
        warnings.iter().for_each(|w| eprintln!("{w}"));
    };
    #[cfg(feature = "nats")]
    if let Some(url) = &args.publish {
        let bus = vigie_bus::Bus::connect(url, &vigie_bus::StreamSettings::default())?;
        let mut publish = |states: &vigie_probe::VantageStates, now| {
            vigie_bus::vantage::publish_states(&bus, states, now).map_err(anyhow::Error::from)
        };
        let partial = vigie_pipeline::run_probe_with_states(
            &settings,
            &options,
            &geo,
            open,
            &mut on_round,
            Some(&mut publish),
        )?;
        return Ok(partial_if(partial));
    }
    let partial = run_probe(&settings, &options, &geo, open, &mut on_round)?;
    Ok(partial_if(partial))
}

/// `vigie probe --show-changes`: the block log, oldest first.
fn show_changes(data_dir: &Path, args: &ProbeArgs) -> Result<ExitCode> {
    if !data_dir.join(vigie_store::DB_FILE_NAME).exists() && !data_dir.join(BLOCK_LOG_FILE).exists()
    {
        bail!(
            "no probe block log in {} (it is written by `vigie probe` rounds with this --data-dir)",
            data_dir.display()
        );
    }
    let time = |text: &Option<String>, default, flag: &str| match text {
        None => Ok(default),
        Some(t) => parse_utc(t).with_context(|| format!("{flag} {t:?}")),
    };
    let from = time(&args.from, i64::MIN, "--from")?;
    let until = time(&args.until, i64::MAX, "--until")?;
    let block = args.block.map(|a| (u32::from(a) & !0xff).into());
    let mut store = open_store(data_dir)?;
    import_legacy_block_log(&mut store, data_dir)?;
    let changes = store
        .block_changes(block, from, until)
        .context("cannot read the probe block log")?;
    let mut out = std::io::stdout().lock();
    for change in &changes {
        if writeln!(out, "{}", describe_change(change)).is_err() {
            break; // closed pipe
        }
    }
    eprintln!("{} state changes", changes.len());
    Ok(ExitCode::SUCCESS)
}
