//! The demo (`vigie demo`): a scenario (Kazakhstan, January 2022, by
//! default) generated in the real wire formats, ingested by the same
//! operations as `vigie ingest mrt`, `vigie ingest pcap --mode flows`,
//! `vigie ingest access-log` and `vigie probe` (its engine, against a
//! simulated network), detected by [`detect_and_store`], told as a
//! timeline, scored by [`evaluate_labels`] against the scenario's ground
//! truth and written up by [`write_report`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tempfile::TempDir;
use vigie_detect::{Incident, Mechanism, Scope};
use vigie_geo::GeoDb;
use vigie_model::{format_utc, BinSize, Entity, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_probe::{up_counts, Eligibility, ProbeList, RoundBins, TargetPolicy};
use vigie_scenario::clock::reporter_time;
use vigie_scenario::{generate, Generated, Scenario};
use vigie_store::{ResultFilter, Store};

use crate::{
    detect_and_store, eval_markdown, evaluate_labels, format_duration, ingest_access_logs,
    ingest_captures, ingest_mrt_archives, load_geo, parse_prefixes, record_block_changes,
    write_report, AccessLogInput, AccessLogOptions, CaptureKind, DetectOptions, EvalOptions,
    MrtOptions, ReportOptions, ReportSubject, PROBE_SOURCE, VIGIE,
};

/// The vantage point name of the simulated prober.
const VANTAGE: &str = "demo";

/// What the demo runs on.
pub struct DemoOptions {
    /// The scenario.
    pub scenario: Scenario,
    /// Keep the generated input and the store in this folder (new or
    /// empty) instead of a temporary one.
    pub keep: Option<PathBuf>,
    /// Where to write the report (default: `vigie-demo/SCENARIO`).
    pub report_dir: Option<PathBuf>,
}

/// A finished demo: where its store is (a temporary folder lives as long
/// as this value).
pub struct DemoRun {
    /// The store's folder.
    pub data_dir: PathBuf,
    /// The folder the demo ran in, when temporary.
    _temp: Option<TempDir>,
}

/// Prints a numbered step.
struct Steps {
    started: Instant,
    step: usize,
    total: usize,
}

impl Steps {
    fn next(&mut self, what: &str) {
        self.step += 1;
        eprintln!(
            "\n[{}/{}] {what}  (at {:.1} s)",
            self.step,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Runs the demo: generates the scenario, ingests, detects, prints the
/// timeline and the scores on stdout, writes the report.
pub fn run_demo(options: DemoOptions) -> Result<DemoRun> {
    let DemoOptions {
        scenario,
        keep,
        report_dir,
    } = options;
    let started = Instant::now();
    let (root, temp) = match &keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            (dir.clone(), None)
        }
        None => {
            // The store commits every bin durably; a throwaway store in
            // memory (/dev/shm, where fsync costs nothing) keeps the demo
            // fast on a busy disk. Elsewhere, the usual temporary folder.
            let mut builder = tempfile::Builder::new();
            builder.prefix("vigie-demo-");
            let shm = Path::new("/dev/shm");
            let temp = match shm.is_dir().then(|| builder.tempdir_in(shm)) {
                Some(Ok(dir)) => dir,
                _ => builder
                    .tempdir()
                    .context("cannot create a temporary folder")?,
            };
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let input_dir = root.join("input");
    let data_dir = root.join("data");
    if data_dir.join(vigie_store::DB_FILE_NAME).exists() {
        bail!(
            "{} already holds a store; give --keep an empty or new folder",
            data_dir.display()
        );
    }
    let report_dir = report_dir.unwrap_or_else(|| PathBuf::from("vigie-demo").join(&scenario.name));
    eprintln!(
        "vigie demo: {}\n  {} .. {}, {} networks; data in {}{}",
        scenario.title,
        format_utc(scenario.period.start),
        format_utc(scenario.period.end),
        scenario.world.networks.len(),
        root.display(),
        if keep.is_some() {
            ""
        } else {
            " (temporary; --keep DIR keeps it)"
        }
    );
    let mut steps = Steps {
        started,
        step: 0,
        total: 8,
    };

    steps.next("generating the scenario in real formats");
    let generated = generate(&scenario, &input_dir, &mut |what: &str| {
        eprintln!("  writing {what}")
    })?;
    eprintln!(
        "  {} BGP updates, {} flow records, {} access-log lines, {} probe blocks, labels in {}",
        generated.bgp_updates,
        generated.flow_records,
        generated.access_log_lines,
        generated.probe_blocks,
        generated.labels.display()
    );
    let geo = load_geo(&generated.geo_files)?;
    let mut store = Store::open(&data_dir)
        .with_context(|| format!("cannot open the demo's store in {}", data_dir.display()))?;

    steps.next("BGP: vigie ingest mrt");
    let report = ingest_mrt_archives(
        &mut store,
        std::slice::from_ref(&generated.mrt_dir),
        Arc::new(geo.clone()),
        &MrtOptions::default(),
        &mut (),
    )?;
    eprintln!(
        "  {} records, {} bins with {} values written",
        report.summary.records, report.summary.bins, report.values_written
    );

    steps.next("traffic: vigie ingest pcap --mode flows (IPFIX), vigie ingest access-log");
    let kind = CaptureKind::Flows;
    let captured = ingest_captures(
        &mut store,
        std::slice::from_ref(&generated.flows_pcap),
        kind,
        parse_prefixes(std::slice::from_ref(&generated.own_prefix), "own prefix")?,
        BinSize::default(),
        kind.default_source(),
        geo.clone(),
    )?;
    for note in &captured.notes {
        eprintln!("  {note}");
    }
    let logged = ingest_access_logs(
        &mut store,
        AccessLogInput::Files(std::slice::from_ref(&generated.access_log)),
        &AccessLogOptions::default(),
        geo.clone(),
        false,
    )?;
    eprintln!(
        "  {} flow bins; {} log lines, {} requests counted in {} bins",
        captured.bins, logged.stats.lines, logged.stats.requests, logged.bins_written
    );

    steps.next("probing: vigie probe's engine against the simulated network");
    probe(&scenario, &generated, &mut store, &geo)?;
    name_entities(&scenario, &mut store)?;

    steps.next("detection: vigie detect");
    let summary = detect_and_store(
        &mut store,
        &DetectOptions {
            bin: Some(BinSize::default()),
            ..DetectOptions::default()
        },
        &mut |_, _, _| {},
    )?;
    eprintln!(
        "  {} series of {} entities: {} signal events, {} incidents",
        summary.series, summary.entities, summary.events, summary.incidents
    );

    steps.next("the timeline");
    println!();
    print!("{}", timeline(&store, &scenario)?);

    steps.next("scored against the scenario's ground truth: vigie eval");
    let rows = evaluate_labels(
        &store,
        &EvalOptions {
            label_files: vec![generated.labels.clone()],
            entity: None,
            bin: Some(BinSize::default()),
        },
    )?;
    println!("{}", eval_markdown(&rows));

    steps.next("the report: vigie report");
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("cannot create {}", report_dir.display()))?;
    let subject = ReportSubject::Entity {
        entity: scenario.world.country_entity(),
        from: Some(scenario.period.start),
        until: Some(scenario.period.end),
    };
    let files = write_report(&store, &ReportOptions::new(subject, report_dir.clone()))?;
    for path in [&files.html, &files.markdown, &files.svg, &files.csv] {
        println!("{}", path.display());
    }
    eprintln!(
        "\ndone in {:.1} s. Report in {}; the store is {}{}.",
        started.elapsed().as_secs_f64(),
        report_dir.display(),
        data_dir.display(),
        if keep.is_some() {
            format!(" (try: vigie --data-dir {} incidents)", data_dir.display())
        } else {
            String::new()
        }
    );
    Ok(DemoRun {
        data_dir,
        _temp: temp,
    })
}

/// Probing as `vigie probe` does it, with the network simulated: the
/// hitlist read by the prober's reader, vigie-probe's engine choosing and
/// judging probes, per-entity /24s UP written to the store after each
/// round, block changes to the store's block log.
fn probe(scenario: &Scenario, generated: &Generated, store: &mut Store, geo: &GeoDb) -> Result<()> {
    let label = generated.hitlist.display().to_string();
    let file = File::open(&generated.hitlist).with_context(|| format!("cannot open {label}"))?;
    let (list, report) = ProbeList::from_hitlist(
        BufReader::new(file),
        &label,
        &Eligibility::default(),
        &TargetPolicy::default(),
    )
    .with_context(|| format!("cannot read {label}"))?;
    eprintln!("  {report}");
    let bin = BinSize::default();
    let mut round_bins = RoundBins::new(bin);
    let mut changes = 0usize;
    let rounds = vigie_scenario::simulate_probing(scenario, list, |round_end, engine, report| {
        let values = up_counts(engine.list(), engine.states(), geo);
        let round_start = round_end - vigie_scenario::probe::ROUND_SECS;
        let mut sink = store.sink(PROBE_SOURCE);
        round_bins.write(&mut sink, round_start, round_end, values)?;
        changes += report.changes.len();
        record_block_changes(store, VANTAGE, round_end, &report.changes)?;
        anyhow::Ok(())
    })?;
    store.compact().context("cannot compact the store")?;
    eprintln!("  {rounds} rounds of 10 minutes, {changes} block state changes logged");
    Ok(())
}

/// Names the world's ASes in the store (as `vigie ingest mrt` does from an
/// AS-name table).
fn name_entities(scenario: &Scenario, store: &mut Store) -> Result<()> {
    let mut names: Vec<(Entity, String)> = scenario
        .world
        .networks
        .iter()
        .map(|n| (Entity::Asn(n.asn), n.name.clone()))
        .collect();
    names.push((
        scenario.world.country_entity(),
        scenario.world.country_name.clone(),
    ));
    store.set_entity_names(&names)?;
    Ok(())
}

/// The stored incidents of `entity`, oldest first.
fn incidents_of(store: &Store, entity: &Entity) -> Result<Vec<Incident>> {
    let filter = ResultFilter {
        entity: Some(entity.clone()),
        method: Some(VIGIE.to_string()),
        from: None,
        until: None,
    };
    let mut out = Vec::new();
    for row in store.incidents(&filter)? {
        out.push(
            serde_json::from_str::<Incident>(&row.detail)
                .with_context(|| format!("incident of {entity} could not be read"))?,
        );
    }
    out.sort_by_key(|i| i.start);
    Ok(out)
}

/// Bursts of BGP updates (announcements) of `entity` within an hour of `t`:
/// the busiest bin and its count, when it is at least five times the day's
/// median.
fn update_burst(store: &Store, entity: &Entity, t: UnixSecs) -> Option<(UnixSecs, f64)> {
    let key = SeriesKey {
        entity: entity.clone(),
        signal: SignalKind::BgpAnnouncements,
    };
    let bin = BinSize::default();
    let day = store
        .read_series(&key, bin, TimeRange::new(t - 86_400, t + 3600).ok()?)
        .ok()?;
    let mut values: Vec<f64> = day.values.iter().flatten().copied().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let median = values
        .get(values.len() / 2)
        .copied()
        .unwrap_or(0.0)
        .max(1.0);
    let step = i64::from(bin.secs());
    day.values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (day.start + i as i64 * step, v)))
        .filter(|(at, _)| (*at - t).abs() <= 3600)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, v)| *v >= 5.0 * median)
}

/// What happened, in words, from the mechanism and scope.
fn headline(incident: &Incident, parts: &str) -> String {
    let scope = match incident.scope {
        Scope::Nationwide => "nationwide ".to_string(),
        Scope::Regional => "regional ".to_string(),
        _ => String::new(),
    };
    let what = match incident.mechanism {
        Mechanism::DataPlaneBlocking => {
            format!("{scope}shutdown, routes still announced (data-plane blocking)")
        }
        Mechanism::RoutesWithdrawn => format!("{scope}blackout, routes withdrawn from BGP"),
        Mechanism::Throttling => {
            format!("{scope}throttling: traffic down, networks still reachable")
        }
        Mechanism::Unknown => format!("{scope}outage"),
    };
    if parts.is_empty() {
        what
    } else {
        format!("{what}, affecting {parts}")
    }
}

/// The timeline of the scenario's country, its regions and networks, as a
/// reporter would write it.
fn timeline(store: &Store, scenario: &Scenario) -> Result<String> {
    let world = &scenario.world;
    let at = |t: UnixSecs| reporter_time(t, world.utc_offset_secs, &world.place);
    let names: BTreeMap<u32, &str> = world
        .networks
        .iter()
        .map(|n| (n.asn, n.name.as_str()))
        .collect();
    let name_of = |entity: &Entity| match entity {
        Entity::Asn(asn) => match names.get(asn) {
            Some(name) => format!("{name} ({entity})"),
            None => entity.to_string(),
        },
        Entity::Region(region) => region.name.clone(),
        Entity::Country(_) => world.country_name.clone(),
    };
    let country = world.country_entity();
    let mut text = format!(
        "{} ({}) as vigie saw it — times in UTC, local time in {}:\n",
        world.country_name, world.country, world.place
    );
    let country_incidents = incidents_of(store, &country)?;
    if country_incidents.is_empty() {
        text.push_str("  no outage detected for the country as a whole\n");
    }
    for incident in &country_incidents {
        let parts: Vec<String> = incident
            .affected
            .iter()
            .map(|a| format!("{} {:.0}%", name_of(&a.entity), a.address_share * 100.0))
            .collect();
        text.push_str(&format!(
            "- {}: {} ({}).\n",
            at(incident.start),
            headline(incident, &parts.join(", ")),
            incident.mechanism_evidence
        ));
        if let Some((burst_at, count)) = update_burst(store, &country, incident.start) {
            text.push_str(&format!(
                "- {}: a burst of {count:.0} BGP announcements from the country's networks in five minutes.\n",
                at(burst_at)
            ));
        }
        for window in &incident.restorations {
            text.push_str(&format!(
                "- {}: service restored ({:.0}% back) until {}, then cut again.\n",
                at(window.start),
                window.restored_fraction * 100.0,
                at(window.end)
            ));
        }
        match incident.end {
            Some(end) => text.push_str(&format!(
                "- {}: service back, after {}.\n",
                at(end),
                format_duration(end - incident.start)
            )),
            None => text.push_str(&format!(
                "- still going on at the end of the data ({}).\n",
                at(incident.observed_until)
            )),
        }
    }
    let mut others: Vec<Entity> = world
        .networks
        .iter()
        .filter_map(|n| n.region.clone())
        .map(|name| {
            Entity::Region(vigie_model::RegionId {
                country: world.country,
                name,
            })
        })
        .collect();
    others.sort();
    others.dedup();
    others.extend(world.networks.iter().map(|n| Entity::Asn(n.asn)));
    let mut lines = Vec::new();
    for entity in &others {
        for incident in incidents_of(store, entity)? {
            lines.push(format!(
                "  {}: {} — {}, {}, {:.0}% lost{}\n",
                name_of(entity),
                at(incident.start),
                incident
                    .end
                    .map(|end| format!("for {}", format_duration(end - incident.start)))
                    .unwrap_or_else(|| "ongoing".to_string()),
                incident.mechanism.name(),
                incident.depth * 100.0,
                if incident.restorations.is_empty() {
                    String::new()
                } else {
                    format!(", {} restorations", incident.restorations.len())
                }
            ));
        }
    }
    if !lines.is_empty() {
        text.push_str("Regions and networks:\n");
        for line in lines {
            text.push_str(&line);
        }
    }
    Ok(text)
}

/// The scenario `vigie demo` runs: `file` (TOML) if given, else the
/// built-in scenario `name` (default `kazakhstan-2022`).
pub fn load_scenario(name: Option<&str>, file: Option<&Path>) -> Result<Scenario> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
        return Ok(Scenario::parse(&text, &path.display().to_string())?);
    }
    Ok(vigie_scenario::builtin::load(
        name.unwrap_or("kazakhstan-2022"),
    )?)
}

/// The built-in scenarios, as `vigie demo --list` prints them.
pub fn scenario_list() -> String {
    let mut text = String::from("Built-in scenarios (vigie demo NAME):\n");
    for (name, description, _) in vigie_scenario::builtin::BUILTIN {
        text += &format!("  {name:<18} {description}\n");
    }
    text + "Or describe your own world and events in TOML: vigie demo --scenario-file FILE"
}

impl DemoRun {
    /// Serves the demo's store (HTTP API and dashboard) on `listen` until
    /// the process is interrupted.
    pub fn serve(&self, listen: std::net::SocketAddr) -> Result<()> {
        let config = crate::ServiceConfig {
            api: Some(crate::ApiSettings::on(listen)),
            // The scenario was detected in batch (5-minute series only) and
            // nothing is written while it is served.
            detect: crate::DetectSettings {
                enabled: false,
                ..crate::DetectSettings::default()
            },
            ..crate::ServiceConfig::default()
        };
        let store = Store::open(&self.data_dir)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let service = crate::Service::new(config, crate::Registry::builtin());
        service.run(store, None, stop)
    }
}
