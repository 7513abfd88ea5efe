//! `vigie demo` end to end, against each built-in scenario's ground truth:
//! the binary generates the scenario, ingests it through the real
//! commands, detects with the one detector configuration, and the stored
//! incidents must match the truth: onset within one bin, each restoration
//! window found (edges within one bin), the mechanism and the scope.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use vigie_detect::Incident;
use vigie_model::{format_utc, Entity};
use vigie_scenario::{builtin, Scenario};
use vigie_store::{ResultFilter, Store};

/// One bin of the demo's series, seconds.
const BIN: i64 = 300;

/// Runs `vigie demo NAME` keeping its data in `dir`; returns stdout.
fn run_demo(name: &str, dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", name, "--keep"])
        .arg(dir.join("run"))
        .arg("--report-dir")
        .arg(dir.join("report"))
        .output()
        .expect("vigie runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "vigie demo {name} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn incidents(store: &Store, entity: &Entity) -> Vec<Incident> {
    let filter = ResultFilter {
        entity: Some(entity.clone()),
        method: Some("vigie".to_string()),
        from: None,
        until: None,
    };
    store
        .incidents(&filter)
        .expect("incidents readable")
        .iter()
        .map(|row| serde_json::from_str(&row.detail).expect("incident JSON"))
        .collect()
}

/// Checks every truth label of `scenario` against the stored incidents;
/// returns the problems found (empty when all match).
fn compare(scenario: &Scenario, store: &Store) -> Vec<String> {
    let mut problems = Vec::new();
    for truth in &scenario.truth {
        let found = incidents(store, &truth.entity);
        for window in &truth.windows {
            let label = format!(
                "{} {}..{}",
                truth.entity,
                format_utc(window.start),
                format_utc(window.end)
            );
            let Some(incident) = found
                .iter()
                .find(|i| i.start < window.end && i.end.unwrap_or(i.observed_until) > window.start)
            else {
                problems.push(format!("{label}: no incident"));
                continue;
            };
            println!(
                "{label}: detected {}..{} {} {} with {} restorations",
                format_utc(incident.start),
                incident.end.map(format_utc).unwrap_or_default(),
                incident.mechanism.name(),
                incident.scope.name(),
                incident.restorations.len()
            );
            if (incident.start - window.start).abs() > BIN {
                problems.push(format!(
                    "{label}: onset {} is more than one bin away",
                    format_utc(incident.start)
                ));
            }
            match incident.end {
                Some(end) if (end - window.end).abs() <= 2 * BIN => {}
                other => problems.push(format!(
                    "{label}: end {:?} is more than two bins away",
                    other.map(format_utc)
                )),
            }
            if incident.mechanism.name() != truth.mechanism {
                problems.push(format!(
                    "{label}: mechanism {} (expected {}; {})",
                    incident.mechanism.name(),
                    truth.mechanism,
                    incident.mechanism_evidence
                ));
            }
            if !truth.scope.is_empty() && incident.scope.name() != truth.scope {
                problems.push(format!(
                    "{label}: scope {} (expected {})",
                    incident.scope.name(),
                    truth.scope
                ));
            }
            for expected in truth
                .restorations
                .iter()
                .filter(|r| window.start <= r.start && r.end <= window.end)
            {
                let matched = incident.restorations.iter().any(|r| {
                    (r.start - expected.start).abs() <= BIN && (r.end - expected.end).abs() <= BIN
                });
                if !matched {
                    problems.push(format!(
                        "{label}: restoration {}..{} not found (found {:?})",
                        format_utc(expected.start),
                        format_utc(expected.end),
                        incident
                            .restorations
                            .iter()
                            .map(|r| format!("{}..{}", format_utc(r.start), format_utc(r.end)))
                            .collect::<Vec<_>>()
                    ));
                }
            }
            if incident.restorations.len()
                > truth
                    .restorations
                    .iter()
                    .filter(|r| window.start <= r.start && r.end <= window.end)
                    .count()
            {
                problems.push(format!(
                    "{label}: {} restorations where the truth has fewer",
                    incident.restorations.len()
                ));
            }
        }
    }
    // The country as a whole: no incident that the truth does not hold.
    let country = scenario.world.country_entity();
    for incident in incidents(store, &country) {
        let labelled = scenario
            .truth
            .iter()
            .filter(|t| t.entity == country)
            .flat_map(|t| t.windows.iter())
            .any(|w| {
                incident.start < w.end && incident.end.unwrap_or(incident.observed_until) > w.start
            });
        if !labelled {
            problems.push(format!(
                "{country}: false alarm at {} ({})",
                format_utc(incident.start),
                incident.mechanism_evidence
            ));
        }
    }
    problems
}

fn check_scenario(name: &str) -> String {
    let scenario = builtin::load(name).expect("built-in scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout = run_demo(name, dir.path());
    let store = Store::open(&dir.path().join("run").join("data")).expect("the demo's store");
    let problems = compare(&scenario, &store);
    assert!(
        problems.is_empty(),
        "{name}: the demo's incidents differ from the ground truth:\n  {}\n\ntimeline:\n{stdout}",
        problems.join("\n  ")
    );
    // The report was written.
    let reports: Vec<String> = std::fs::read_dir(dir.path().join("report"))
        .expect("report folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        reports.iter().any(|n| n.ends_with("-en.html"))
            && reports.iter().any(|n| n.ends_with(".md")),
        "{reports:?}"
    );
    stdout
}

#[test]
fn kazakhstan_2022_matches_the_public_timeline() {
    let stdout = check_scenario("kazakhstan-2022");
    // The timeline reads like a report, in UTC and Almaty time.
    for line in [
        "4 Jan 2022 14:30 UTC (20:30 Almaty): throttling",
        "5 Jan 2022 10:30 UTC (16:30 Almaty): nationwide shutdown, routes still announced (data-plane blocking)",
        "BGP announcements from the country's networks",
        "11 Jan 2022 00:00 UTC (06:00 Almaty): service back",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

/// `GET path` on 127.0.0.1:port; the whole response, if the server answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn egypt_2011_is_a_routes_withdrawn_blackout_and_is_served() {
    let name = "egypt-2011";
    let scenario = builtin::load(name).expect("built-in scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let stderr = std::fs::File::create(dir.path().join("stderr.txt")).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "demo",
            name,
            "--serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--keep",
        ])
        .arg(dir.path().join("run"))
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("vigie runs");
    // The demo runs, then serves its store until stopped.
    let started = std::time::Instant::now();
    let incidents = loop {
        if let Some(response) = http_get(port, "/api/v1/incidents?entity=EG") {
            break response;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "vigie demo --serve exited ({status}) before serving: {}",
                std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed().as_secs() < 900,
            "the demo did not serve within 15 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    child.kill().expect("stop the server");
    let output = child.wait_with_output().expect("demo output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(incidents.starts_with("HTTP/1.1 200"), "{incidents}");
    assert!(incidents.contains("routes-withdrawn"), "{incidents}");
    let store = Store::open(&dir.path().join("run").join("data")).expect("the demo's store");
    let problems = compare(&scenario, &store);
    assert!(
        problems.is_empty(),
        "{name}: the demo's incidents differ from the ground truth:\n  {}\n\ntimeline:\n{stdout}",
        problems.join("\n  ")
    );
    assert!(
        stdout.contains("27 Jan 2011 22:35 UTC (00:35 Cairo, 28 Jan): nationwide blackout, routes withdrawn from BGP"),
        "{stdout}"
    );
}

#[test]
fn iraq_exams_are_regional() {
    let stdout = check_scenario("iraq-exams");
    assert_eq!(
        stdout
            .matches("regional blackout, routes withdrawn from BGP")
            .count(),
        6,
        "{stdout}"
    );
}

#[test]
fn lists_scenarios_and_refuses_bad_files_with_their_field() {
    let list = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "--list"])
        .output()
        .expect("vigie runs");
    let text = String::from_utf8_lossy(&list.stdout);
    for name in builtin::names() {
        assert!(text.contains(name), "{text}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    let good = builtin::BUILTIN[0].2;
    std::fs::write(&bad, good.replace("to = 0.6", "to = 7")).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "--scenario-file"])
        .arg(&bad)
        .output()
        .expect("vigie runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml: events[0].to"), "{stderr}");
    let unknown = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "atlantis"])
        .output()
        .expect("vigie runs");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("kazakhstan-2022"));
}
