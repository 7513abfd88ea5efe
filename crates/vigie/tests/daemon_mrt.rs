//! Real BGP daemons write MRT files; vigie's visibility counts must match an
//! independent count of the same files.
//!
//! Three gobgpd routers announce real Kazakh (and one Dutch) prefixes with
//! their real origin ASes to two collectors, a gobgpd writing BGP4MP update
//! dumps and a BIRD writing a BGP4MP message dump and TABLE_DUMP_V2 RIB
//! dumps (see `support/daemon_lab.rs`). One minute later some prefixes are
//! withdrawn. The MRT files are decoded with `bgpdump -m` and replayed by a
//! small independent model (`support/bgpdump_replay.rs`); that count must
//! match the plan below, and vigie's `series` output must match that count,
//! bin by bin, per AS and per country, including the bin of the withdrawal.
//!
//! Needs root and the Debian packages gobgpd, bird2, bgpdump and iproute2
//! (`scripts/setup.sh`). Without them the test is skipped, or fails when
//! `CI=true`. Takes 40 to 100 s: it waits for a minute boundary so the
//! announcements and the withdrawals fall in consecutive 60 s bins.
//! `VIGIE_KEEP_LAB=1` keeps the lab's folder (configs, logs, MRT files).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::bgpdump_replay::{self, Counts, Element, Prefix};
use support::daemon_lab::{self, Lab, Tools};
use support::vigie_cli::Vigie;
use vigie_model::format_utc;

/// One prefix of the scenario: who announces it, who withdraws it later.
struct Planned {
    prefix: &'static str,
    /// AS path as originated (the router prepends its own AS); last is the origin.
    as_path: &'static [u32],
    /// Country of the whole prefix: RIPE NCC delegated-extended data.
    country: &'static str,
    /// Router indices (R1 = 0) that announce it in the first minute.
    announced_by: &'static [usize],
    /// Router indices that withdraw it in the second minute.
    withdrawn_by: &'static [usize],
}

/// With three full-feed peer ASNs, a prefix is visible when two see it.
const PLAN: &[Planned] = &[
    // Kazakhtelecom, seen by all: visible throughout.
    Planned {
        prefix: "2.132.0.0/14",
        as_path: &[3356, 9198],
        country: "KZ",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[],
    },
    // A more-specific inside 2.132.0.0/14: its /24 must not count twice.
    Planned {
        prefix: "2.133.10.0/24",
        as_path: &[9198],
        country: "KZ",
        announced_by: &[0, 1],
        withdrawn_by: &[],
    },
    // Withdrawn by everyone in the second minute.
    Planned {
        prefix: "95.56.0.0/14",
        as_path: &[174, 9198],
        country: "KZ",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[0, 1, 2],
    },
    // Seen by 2 of 3, then by 1 of 3: becomes invisible without a full withdrawal.
    Planned {
        prefix: "37.150.0.0/15",
        as_path: &[9198],
        country: "KZ",
        announced_by: &[0, 1],
        withdrawn_by: &[1],
    },
    // Seen by 1 of 3 only: never visible.
    Planned {
        prefix: "178.88.0.0/14",
        as_path: &[9198],
        country: "KZ",
        announced_by: &[0],
        withdrawn_by: &[],
    },
    // Kcell, visible throughout.
    Planned {
        prefix: "2.72.0.0/13",
        as_path: &[29355],
        country: "KZ",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[],
    },
    // RIPE NCC, in the Netherlands: not Kazakh space.
    Planned {
        prefix: "193.0.0.0/21",
        as_path: &[1299, 3333],
        country: "NL",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[],
    },
    Planned {
        prefix: "2a00:12f8::/32",
        as_path: &[9198],
        country: "KZ",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[],
    },
    // Withdrawn by two of three: invisible in the second minute.
    Planned {
        prefix: "2a02:50c0::/29",
        as_path: &[29355],
        country: "KZ",
        announced_by: &[0, 1, 2],
        withdrawn_by: &[0, 1],
    },
];

/// Counts by hand from the plan, per entity: (first minute, second minute).
/// Each is (/24s, /48s, announcements, withdrawals).
const HAND_COUNTS: &[(&str, Counts, Counts)] = &[
    (
        "AS9198",
        // 2.132/14 + 95.56/14 + 37.150/15 = 1024 + 1024 + 512 (2.133.10/24 inside
        // 2.132/14, 178.88/14 not visible); announcements 3+2+3+2+1 (v4) + 3 (v6).
        counts(2560, 65536, 14, 0),
        // 2.132/14 only; withdrawals 3 (95.56/14) + 1 (37.150/15).
        counts(1024, 65536, 0, 4),
    ),
    (
        "AS29355",
        // 2.72/13; 2a02:50c0::/29 = 8 × 65536 /48s.
        counts(2048, 524288, 6, 0),
        counts(2048, 0, 0, 2),
    ),
    ("AS3333", counts(8, 0, 3, 0), counts(8, 0, 0, 0)),
    (
        "KZ",
        counts(2560 + 2048, 65536 + 524288, 20, 0),
        counts(1024 + 2048, 65536, 0, 6),
    ),
    ("NL", counts(8, 0, 3, 0), counts(8, 0, 0, 0)),
];

const fn counts(slash24s: u64, slash48s: u64, announcements: u64, withdrawals: u64) -> Counts {
    Counts {
        slash24s,
        slash48s,
        announcements,
        withdrawals,
    }
}

/// Paths the collectors hold: [gobgpd v4, gobgpd v6, BIRD v4, BIRD v6].
fn expected_paths(after_withdrawal: bool) -> [usize; 4] {
    let (mut v4, mut v6) = (0, 0);
    for planned in PLAN {
        let mut n = planned.announced_by.len();
        if after_withdrawal {
            n -= planned.withdrawn_by.len();
        }
        if planned.prefix.contains(':') {
            v6 += n;
        } else {
            v4 += n;
        }
    }
    [v4, v6, v4, v6]
}

/// The country of a prefix of the plan (or inside one).
fn country_of(prefix: &Prefix) -> Option<&'static str> {
    PLAN.iter()
        .filter_map(|planned| Some((planned.prefix.parse::<Prefix>().ok()?, planned.country)))
        .find(|(outer, _)| prefix.is_within(outer))
        .map(|(_, country)| country)
}

fn is_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips with a message, or fails under CI.
fn skip(reason: &str) {
    if is_ci() {
        panic!("daemon MRT test cannot run under CI=true: {reason}");
    }
    eprintln!("SKIPPED daemon_mrt: {reason}");
}

#[test]
fn real_bgp_daemons_write_mrt_that_vigie_counts_like_bgpdump() {
    let tools = match Tools::find() {
        Ok(tools) => tools,
        Err(reason) => return skip(&reason),
    };
    if !daemon_lab::is_root() {
        return skip("needs root, for network namespaces and BGP's port 179");
    }
    let bgpdump = tools.bgpdump.clone();
    check_countries_against_rir_data();
    let started = Instant::now();
    let mut lab = match Lab::start(tools) {
        Ok(lab) => lab,
        Err(reason) => return skip(&format!("cannot build the namespace lab: {reason}")),
    };
    let run = run_scenario(&mut lab).unwrap_or_else(|e| panic!("daemon lab: {e}"));
    eprintln!(
        "lab done in {:.0?}: announcements in the bin of {}, withdrawals at {}",
        started.elapsed(),
        format_utc(run.announce_bin),
        format_utc(run.withdraw_time)
    );

    let sources = decode_sources(&bgpdump, &lab, &run).unwrap_or_else(|e| panic!("{e}"));
    check_lab_matches_plan(&sources, &run);

    let exe = Path::new(env!("CARGO_BIN_EXE_vigie"));
    let checks = plan_checks(exe, &lab, &sources, &run).unwrap_or_else(|e| panic!("{e}"));
    let ingest_started = Instant::now();
    let problems = run_checks(&checks);
    eprintln!(
        "{} vigie ingests and comparisons in {:.0?}",
        checks.len(),
        ingest_started.elapsed()
    );
    let total_time = started.elapsed();
    assert!(
        problems.is_empty(),
        "vigie disagrees with the independent count of the daemons' MRT files \
         ({} problems; files in {}):\n{}",
        problems.len(),
        lab.dir.display(),
        problems.join("\n")
    );
    eprintln!("daemon MRT test passed in {total_time:.0?}");
}

/// What happened when, as the wall clock saw it.
struct ScenarioRun {
    /// Start of the 60 s bin holding every announcement.
    announce_bin: i64,
    /// When the withdrawals were sent (Unix seconds).
    withdraw_time: i64,
    /// BIRD's TABLE_DUMP_V2 dump taken after the announcements.
    rib_before: PathBuf,
    /// BIRD's TABLE_DUMP_V2 dump taken after the withdrawals.
    rib_after: PathBuf,
}

fn run_scenario(lab: &mut Lab) -> Result<ScenarioRun, String> {
    lab.wait_established(Duration::from_secs(60))?;
    // Announce early in a minute so that everything fits in one 60 s bin.
    let now = daemon_lab::unix_now();
    if now % 60.0 > 50.0 {
        daemon_lab::sleep_until((now / 60.0).ceil() * 60.0 + 1.0);
    }
    let announce_bin = (daemon_lab::unix_now() as i64).div_euclid(60) * 60;
    for planned in PLAN {
        for &router in planned.announced_by {
            lab.announce(router, planned.prefix, planned.as_path)?;
        }
    }
    let want = expected_paths(false);
    daemon_lab::wait_for(
        &format!("the collectors to hold {want:?} paths"),
        Duration::from_secs(15),
        || Ok(lab.collector_path_counts()? == want),
    )?;
    let rib_before = lab.bird_rib_dump(&dated_rib_name())?;
    if daemon_lab::unix_now() >= (announce_bin + 59) as f64 {
        return Err("announcing took more than the first minute: machine too slow?".into());
    }

    // Withdraw in the next 60 s bin.
    daemon_lab::sleep_until((announce_bin + 62) as f64);
    let withdraw_time = daemon_lab::unix_now() as i64;
    for planned in PLAN {
        for &router in planned.withdrawn_by {
            lab.withdraw(router, planned.prefix)?;
        }
    }
    let want = expected_paths(true);
    daemon_lab::wait_for(
        &format!("the collectors to hold {want:?} paths after the withdrawals"),
        Duration::from_secs(15),
        || Ok(lab.collector_path_counts()? == want),
    )?;
    let rib_after = lab.bird_rib_dump(&dated_rib_name())?;
    if daemon_lab::unix_now() >= (announce_bin + 119) as f64 {
        return Err("withdrawing took more than the second minute: machine too slow?".into());
    }
    lab.stop()?;
    Ok(ScenarioRun {
        announce_bin,
        withdraw_time,
        rib_before,
        rib_after,
    })
}

/// A dated name for a RIB dump taken now, as a BIRD `protocol mrt` with
/// `filename "rib.%Y%m%d.%H%M%S"` would write: `rib.20261128.112103`.
fn dated_rib_name() -> String {
    let digits: String = format_utc(daemon_lab::unix_now() as i64)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let (date, time) = (digits.get(..8), digits.get(8..));
    format!("rib.{}.{}", date.unwrap_or("0"), time.unwrap_or("0"))
}

/// The daemons' MRT files, decoded by bgpdump.
struct Sources {
    gobgp_updates: Vec<Element>,
    bird_messages: Vec<Element>,
    rib_before: Vec<Element>,
    rib_after: Vec<Element>,
}

fn decode_sources(bgpdump: &Path, lab: &Lab, run: &ScenarioRun) -> Result<Sources, String> {
    let mut update_files: Vec<PathBuf> = std::fs::read_dir(&lab.gobgp_updates_dir)
        .map_err(|e| format!("cannot list {}: {e}", lab.gobgp_updates_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    update_files.sort();
    eprintln!(
        "gobgpd wrote {} update files: {update_files:?}",
        update_files.len()
    );
    let decode = |files: &[PathBuf]| bgpdump_replay::decode(bgpdump, files);
    Ok(Sources {
        gobgp_updates: decode(&update_files)?,
        bird_messages: decode(std::slice::from_ref(&lab.bird_messages_file))?,
        rib_before: decode(std::slice::from_ref(&run.rib_before))?,
        rib_after: decode(std::slice::from_ref(&run.rib_after))?,
    })
}

/// The independent count of what the daemons wrote must be the plan: this
/// checks the lab (and bgpdump), before vigie is asked anything.
fn check_lab_matches_plan(sources: &Sources, run: &ScenarioRun) {
    let bins = [run.announce_bin, run.announce_bin + 60];
    for (name, elements) in [
        ("gobgpd updates", &sources.gobgp_updates),
        ("BIRD messages", &sources.bird_messages),
    ] {
        let withdrawals: Vec<i64> = elements
            .iter()
            .filter(|e| e.action == bgpdump_replay::Action::Withdraw)
            .map(|e| e.time)
            .collect();
        assert!(
            !withdrawals.is_empty() && withdrawals.iter().all(|t| t.div_euclid(60) * 60 == bins[1]),
            "{name}: withdrawals at {withdrawals:?}, expected all in the bin of {}",
            format_utc(bins[1])
        );
        let replayed = bgpdump_replay::replay_bins(elements, 60, bins[0], bins[1], &country_of)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (entity, first, second) in HAND_COUNTS {
            for (bin, want) in [(bins[0], first), (bins[1], second)] {
                let got = replayed
                    .get(&bin)
                    .and_then(|entities| entities.get(*entity))
                    .copied()
                    .unwrap_or_default();
                assert_eq!(
                    got,
                    *want,
                    "{name}: bgpdump's count for {entity} in the bin of {} differs from the plan",
                    format_utc(bin)
                );
            }
        }
    }
    for (name, elements, hand) in [
        ("RIB before", &sources.rib_before, 1),
        ("RIB after", &sources.rib_after, 2),
    ] {
        let replayed =
            bgpdump_replay::replay_rib(elements, &country_of).unwrap_or_else(|e| panic!("{e}"));
        for entry in HAND_COUNTS {
            let want = if hand == 1 { entry.1 } else { entry.2 };
            let got = replayed.get(entry.0).copied().unwrap_or_default();
            assert_eq!(
                (got.slash24s, got.slash48s),
                (want.slash24s, want.slash48s),
                "{name}: bgpdump's count for {} differs from the plan",
                entry.0
            );
        }
    }
}

/// A series vigie is compared on.
struct Signal {
    /// Its name on vigie's command line.
    name: &'static str,
    /// The field of [`Counts`] it must equal.
    field: fn(&Counts) -> u64,
    /// True for an event count, false for a level such as visible /24s.
    is_event: bool,
}

const SIGNALS: [Signal; 4] = [
    Signal {
        name: "bgp",
        field: |c| c.slash24s,
        is_event: false,
    },
    Signal {
        name: "bgp-v6",
        field: |c| c.slash48s,
        is_event: false,
    },
    Signal {
        name: "bgp-announcements",
        field: |c| c.announcements,
        is_event: true,
    },
    Signal {
        name: "bgp-withdrawals",
        field: |c| c.withdrawals,
        is_event: true,
    },
];

/// One comparison: what vigie ingests into a fresh data dir, and the
/// counts its series must then show.
struct Check {
    label: String,
    vigie: Vigie,
    paths: Vec<PathBuf>,
    extra_args: Vec<&'static str>,
    /// Per bin start, per entity.
    expected: BTreeMap<i64, BTreeMap<String, Counts>>,
    /// The query range, whole bins.
    from: i64,
    until: i64,
    /// Whether announcement and withdrawal counts are compared too.
    with_events: bool,
}

/// Every comparison: both update sources in 60 s and 300 s bins, each RIB
/// dump alone, and the two RIB dumps in sequence.
fn plan_checks(
    exe: &Path,
    lab: &Lab,
    sources: &Sources,
    run: &ScenarioRun,
) -> Result<Vec<Check>, String> {
    let mut checks = Vec::new();
    let data_dir = |label: &str| {
        let name: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        lab.dir.join(format!("vigie-{name}"))
    };
    for (name, elements, path) in [
        (
            "gobgpd BGP4MP updates",
            &sources.gobgp_updates,
            &lab.gobgp_updates_dir,
        ),
        (
            "BIRD BGP4MP messages",
            &sources.bird_messages,
            &lab.bird_messages_file,
        ),
    ] {
        for bin_secs in [60, 300] {
            let label = format!("{name}, {bin_secs} s bins");
            let times = elements.iter().map(|e| e.time);
            let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
                return Err(format!("{label}: bgpdump decoded nothing"));
            };
            let first_bin = first.div_euclid(bin_secs) * bin_secs;
            let last_bin = last.div_euclid(bin_secs) * bin_secs;
            let expected =
                bgpdump_replay::replay_bins(elements, bin_secs, first_bin, last_bin, &country_of)
                    .map_err(|e| format!("{label}: {e}"))?;
            // 300 s is vigie's default: no flag, as a user would run it.
            let bin_flag = (bin_secs != 300).then_some(bin_secs as u32);
            checks.push(Check {
                vigie: Vigie::new(exe, data_dir(&label), bin_flag),
                label,
                paths: vec![path.clone()],
                extra_args: Vec::new(),
                expected,
                from: first_bin,
                until: last_bin + bin_secs,
                with_events: true,
            });
        }
    }

    // RIB dumps: the state they hold, in the 60 s bin of the dump. Their
    // entries are not update events, so only levels are compared.
    let mut sequence = BTreeMap::new();
    for (name, elements, file) in [
        ("BIRD RIB before", &sources.rib_before, &run.rib_before),
        ("BIRD RIB after", &sources.rib_after, &run.rib_after),
    ] {
        let bin = elements
            .first()
            .map(|e| e.time.div_euclid(60) * 60)
            .ok_or_else(|| format!("{name}: bgpdump decoded nothing"))?;
        let expected = bgpdump_replay::replay_rib(elements, &country_of)?;
        sequence.insert(bin, expected.clone());
        let label = format!("{name}, 60 s bins");
        checks.push(Check {
            vigie: Vigie::new(exe, data_dir(&label), Some(60)),
            label,
            paths: vec![file.clone()],
            extra_args: Vec::new(),
            expected: BTreeMap::from([(bin, expected)]),
            from: bin,
            until: bin + 60,
            with_events: false,
        });
    }
    // By default vigie takes a collector's first RIB dump and follows
    // updates from there; --resync-ribs reloads the state from every dump.
    let label = "BIRD RIB before then after, --resync-ribs, 60 s bins".to_string();
    let (Some(&from), Some(&last)) = (sequence.keys().next(), sequence.keys().last()) else {
        return Err("no RIB dump".into());
    };
    checks.push(Check {
        vigie: Vigie::new(exe, data_dir(&label), Some(60)),
        label,
        paths: vec![run.rib_before.clone(), run.rib_after.clone()],
        extra_args: vec!["--resync-ribs"],
        expected: sequence,
        from,
        until: last + 60,
        with_events: false,
    });
    Ok(checks)
}

/// Ingests every check's files in parallel (separate data dirs), then
/// compares; returns every disagreement.
fn run_checks(checks: &[Check]) -> Vec<String> {
    let ingested: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = checks
            .iter()
            .map(|check| scope.spawn(|| check.vigie.ingest(&check.paths, &check.extra_args)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("ingest thread panicked".into()))
            })
            .collect()
    });
    let mut problems = Vec::new();
    for (check, ingest) in checks.iter().zip(ingested) {
        match ingest {
            Ok(()) => problems.extend(compare_bins(check)),
            Err(e) => problems.push(format!("{}: ingest failed: {e}", check.label)),
        }
    }
    problems
}

/// Compares vigie's series with the expected counts of each bin. A level
/// signal (`bgp`, `bgp-v6`) must have a value in every bin, zero included;
/// an event count of zero may also show as no data.
fn compare_bins(check: &Check) -> Vec<String> {
    let Check {
        label,
        vigie,
        expected,
        from,
        until,
        with_events,
        ..
    } = check;
    let (from, until, with_events) = (*from, *until, *with_events);
    let mut problems = Vec::new();
    let entities: Vec<&String> = {
        let mut all: Vec<&String> = expected.values().flat_map(|bin| bin.keys()).collect();
        all.sort();
        all.dedup();
        all
    };
    for entity in entities {
        for Signal {
            name: signal,
            field,
            is_event,
        } in SIGNALS
        {
            if is_event && !with_events {
                continue;
            }
            let wanted: BTreeMap<i64, u64> = expected
                .iter()
                .map(|(bin, entities)| (*bin, entities.get(entity).map(field).unwrap_or_default()))
                .collect();
            if wanted.values().all(|v| *v == 0) {
                continue; // the entity never has this signal here
            }
            let got = match vigie.series(entity, signal, from, until) {
                Ok(got) => got,
                Err(e) => {
                    problems.push(format!("{label}: {entity} {signal}: {e}"));
                    continue;
                }
            };
            for (bin, want) in wanted {
                let value = got.get(&bin).copied().flatten();
                let ok = match value {
                    Some(v) => v == want as f64,
                    None => is_event && want == 0,
                };
                if !ok {
                    problems.push(format!(
                        "{label}: {entity} {signal} in the bin of {}: vigie {}, bgpdump count {want}",
                        format_utc(bin),
                        value.map_or("no data".to_string(), |v| v.to_string())
                    ));
                }
            }
        }
    }
    problems
}

/// Every planned prefix must lie inside one delegation of its country in
/// the RIPE NCC delegated-extended file of the shared data, when present.
fn check_countries_against_rir_data() {
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/geo/rir_delegated_2018-10-13/delegated-ripencc-extended-latest.gz"
    ));
    if !file.is_file() {
        if is_ci() {
            panic!("shared data missing under CI=true: {}", file.display());
        }
        eprintln!(
            "note: {} absent; the plan's countries are not re-checked against RIR data",
            file.display()
        );
        return;
    }
    let output = Command::new("gzip")
        .arg("-dc")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gzip on {}: {e}", file.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    let mut delegations: Vec<(Prefix, String)> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('|').collect();
        let [_, country, kind, start, size, ..] = fields[..] else {
            continue;
        };
        let prefix = match kind {
            // IPv4 sizes are address counts, powers of two for our blocks.
            "ipv4" => size
                .parse::<u64>()
                .ok()
                .filter(|n| n.is_power_of_two())
                .map(|n| format!("{start}/{}", 32 - n.trailing_zeros())),
            "ipv6" => Some(format!("{start}/{size}")),
            _ => None,
        };
        if let Some(prefix) = prefix.and_then(|p| p.parse::<Prefix>().ok()) {
            delegations.push((prefix, country.to_string()));
        }
    }
    for planned in PLAN {
        let prefix: Prefix = planned.prefix.parse().unwrap_or_else(|e| panic!("{e}"));
        let countries: Vec<&str> = delegations
            .iter()
            .filter(|(outer, _)| prefix.is_within(outer))
            .map(|(_, country)| country.as_str())
            .collect();
        assert_eq!(
            countries,
            vec![planned.country],
            "{} should lie in one {} delegation of {}",
            planned.prefix,
            planned.country,
            file.display()
        );
    }
}
