//! `vigie probe`: Trinocular-style active probing of /24 blocks, feeding the
//! store round after round; `vigie probe --combine` merges the block states
//! of several vantage points under a quorum.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use vigie_model::{format_utc, BinSink, SignalBin, UnixSecs};
use vigie_pipeline::{
    parse_v4_prefixes, read_targets, record_block_changes, ProbeSettings, PROBE_SOURCE,
};
use vigie_probe::{
    combine_states, discover, up_counts, BlockState, Eligibility, Engine, IcmpSocket, Prober,
    ProberConfig, RoundBins, VantageStates,
};
use vigie_store::Store;

use super::{open_store, EXIT_PARTIAL_INPUT};
use crate::cli::ProbeArgs;

/// The file in the data directory that held the block log before it moved
/// into the store: imported once by [`import_legacy_block_log`].
pub(crate) const BLOCK_LOG_FILE: &str = "probe-blocks.sqlite";

fn now_unix() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs `vigie probe`.
pub fn run(data_dir: &Path, args: ProbeArgs) -> Result<ExitCode> {
    if !args.combine.is_empty() {
        return combine(data_dir, &args);
    }
    if args.show_changes {
        return show_changes(data_dir, &args);
    }
    let settings = ProbeSettings {
        targets: args.targets.clone().unwrap_or_default(),
        rate: args.rate.unwrap_or(0),
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
    let (eligibility, params) = settings.check()?;
    let policy = settings.policy()?;
    let rate = settings.rate;
    let bin = args.bin.bin;
    let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let socket = IcmpSocket::open()?;
        let mut partial_input = false;
        let list = if let Some(path) = &args.targets {
            let (list, report) = read_targets(path, &eligibility, &policy)?;
            eprintln!("{report}");
            partial_input |= report.has_bad_input();
            list
        } else if !args.discover.is_empty() {
            let prefixes = parse_v4_prefixes(&args.discover, "--discover")?;
            eprintln!(
                "discovery: {} prefixes, {} passes at ≤ {} probes/s…",
                prefixes.len(),
                args.discover_passes,
                rate
            );
            let (builder, report) = discover(
                &socket,
                &prefixes,
                args.discover_passes,
                rate,
                Duration::from_millis(u64::from(args.timeout_ms)),
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
        if let Some(path) = &args.save_list {
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
                args.min_responsive,
                args.min_availability
            );
        }
        let mut store = if args.no_store {
            None
        } else {
            let mut store = open_store(data_dir)?;
            import_legacy_block_log(&mut store, data_dir)?;
            Some(store)
        };
        let blocks = list.len();
        let seed = now_unix() as u64 ^ u64::from(std::process::id());
        let ident = (std::process::id() as u16) ^ 0x7600;
        let engine = Engine::new(list, params, ident, seed);
        let config = ProberConfig {
            rate_pps: rate,
            burst: args.burst.unwrap_or((rate / 100).max(1)),
            round: Duration::from_secs_f64(args.round_secs),
        };
        let mut prober = Prober::new(socket, engine, config)?;
        eprintln!(
            "probing {blocks} blocks from vantage point {:?}: rounds of {} s, ≤ {} probes/s, timeout {} ms",
            args.vantage, args.round_secs, rate, args.timeout_ms
        );
        let mut round_bins = RoundBins::new(bin);
        let mut round_no = 0u64;
        loop {
            let round_start = now_unix();
            let report = prober.run_round().await;
            round_no += 1;
            let now = now_unix();
            println!(
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
            if let Some(error) = &report.first_send_error {
                eprintln!("warning: {} probes could not be sent; first: {error}", report.send_errors);
            }
            if report.send_buffer_full > 0 {
                eprintln!(
                    "warning: the socket send buffer was full {} times (probes were retried); lower --rate or raise net.core.wmem_max",
                    report.send_buffer_full
                );
            }
            let engine = prober.engine();
            if let Some(store) = store.as_mut() {
                let values = up_counts(engine.list(), engine.states(), &geo);
                round_bins.write(&mut store.sink(PROBE_SOURCE), round_start, now, values)?;
            }
            if let Some(store) = store.as_mut() {
                record_block_changes(store, &args.vantage, now, &report.changes)?;
            }
            if let Some(path) = &args.states_out {
                let states = VantageStates::from_engine(&args.vantage, engine);
                write_states(path, &states)?;
            }
            if args.rounds.is_some_and(|n| round_no >= n) {
                break;
            }
        }
        Ok(if partial_input {
            ExitCode::from(EXIT_PARTIAL_INPUT)
        } else {
            ExitCode::SUCCESS
        })
    })
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

/// `vigie probe --combine FILE…`: merges vantage points' states.
fn combine(data_dir: &Path, args: &ProbeArgs) -> Result<ExitCode> {
    let mut vantages = Vec::new();
    let mut partial = false;
    for path in &args.combine {
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
    if args.quorum == 0 || args.quorum > vantages.len() {
        bail!(
            "--quorum must be between 1 and the number of vantage points ({})",
            vantages.len()
        );
    }
    let combined = combine_states(&vantages, args.quorum);
    let count = |s| combined.values().filter(|&&v| v == s).count();
    println!(
        "combined {} vantage points, quorum {}: {} blocks up, {} down, {} uncertain",
        vantages.len(),
        args.quorum,
        count(BlockState::Up),
        count(BlockState::Down),
        count(BlockState::Uncertain)
    );
    if !args.no_store {
        let geo = vigie_pipeline::load_geo(&args.geo.geo_files)?;
        // A list of the combined blocks, to place them with the geo database.
        let mut builder = vigie_probe::ListBuilder::new();
        for &network in combined.keys() {
            builder.add(std::net::Ipv4Addr::from(network | 1), 1.0);
        }
        let list = builder.build(&Eligibility {
            min_responsive: 1,
            min_availability: 0.0,
            default_address_availability: 1.0,
        });
        let states = list.blocks().iter().map(|b| {
            (
                combined
                    .get(&b.network)
                    .copied()
                    .unwrap_or(BlockState::Uncertain),
                true,
            )
        });
        let values = up_counts(&list, states, &geo);
        let bin = args.bin.bin;
        let now = now_unix();
        let mut store = open_store(data_dir)?;
        let combined = SignalBin {
            bin,
            bin_start: bin.floor(now),
            values,
        };
        store.sink("probe-combined").write(&combined)?;
        println!(
            "wrote {} series for the bin {}",
            combined.values.len(),
            format_utc(combined.bin_start)
        );
    }
    Ok(if partial {
        ExitCode::from(EXIT_PARTIAL_INPUT)
    } else {
        ExitCode::SUCCESS
    })
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
    let time = |text: &Option<String>, default: UnixSecs, flag: &str| -> Result<UnixSecs> {
        match text {
            None => Ok(default),
            Some(t) => vigie_model::parse_utc(t).with_context(|| format!("{flag} {t:?}")),
        }
    };
    let from = time(&args.from, i64::MIN, "--from")?;
    let until = time(&args.until, i64::MAX, "--until")?;
    let block = args
        .block
        .map(|a| std::net::Ipv4Addr::from(u32::from(a) & !0xff));
    let mut store = open_store(data_dir)?;
    import_legacy_block_log(&mut store, data_dir)?;
    let changes = store
        .block_changes(block, from, until)
        .context("cannot read the probe block log")?;
    // A state name this build does not know reads as uncertain.
    let state = |name: &str| BlockState::from_name(name).unwrap_or(BlockState::Uncertain);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for change in &changes {
        let line = writeln!(
            out,
            "{} {} {}/24 {} -> {} (B(U) = {:.3})",
            format_utc(change.at),
            change.vantage,
            change.network,
            state(&change.from_state),
            state(&change.to_state),
            change.belief_up
        );
        if line.is_err() {
            break; // closed pipe
        }
    }
    eprintln!("{} state changes", changes.len());
    Ok(ExitCode::SUCCESS)
}

/// Moves the block log an older vigie kept in `<data-dir>/probe-blocks.sqlite`
/// into the store, once: the rows are copied (skipping those already there),
/// then the file is renamed `probe-blocks.sqlite.imported`.
fn import_legacy_block_log(store: &mut Store, data_dir: &Path) -> Result<()> {
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
