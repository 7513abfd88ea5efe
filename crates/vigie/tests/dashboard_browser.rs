//! The dashboard in a real headless browser: a store built by the CLI from
//! IODA's Iraq and Gaza Strip exports (`vigie import`, `vigie detect`,
//! `vigie annotate`), served by `vigie serve --listen`, then driven by
//! `dashboard/tests/dashboard.mjs` (playwright-core with Debian's Chromium):
//! the map, the search box, an entity page with an incident and its
//! restoration window, CSV and PNG export, and the URL's state; a long
//! shutdown (the Kazakhstan-like country) read as a drop in the normalised
//! chart and in raw values, the French dashboard, and the embeddable chart
//! framed by a page of another origin; the Atom feeds the dashboard links
//! (all incidents, one entity's) read by the browser; and a US state's
//! incidents before and after the change to daylight saving time, whose
//! local times on the page must equal the ones `vigie report` printed.
//!
//! Screenshots go to `target/tmp/dashboard-screenshots/`. Skipped with a
//! message when Chromium, Node.js, the dashboard's npm packages or the
//! shared data are missing, except under CI=true where that fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/listening.rs"]
mod listening;
use listening::spawn_listening;

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie");
    assert!(
        out.status.success(),
        "vigie {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Says why the test cannot run: a failure under CI=true, a skip elsewhere.
fn missing(what: &str) {
    let message = format!("dashboard browser test: {what}; run scripts/setup.sh");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true: a missing tool is a failure)");
    }
    eprintln!("SKIPPED {message}");
}

/// The tools the test needs: Chromium, node, and dashboard/'s npm packages.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    if !chromium.exists() {
        missing(&format!(
            "{} not found (Debian package chromium)",
            chromium.display()
        ));
        return None;
    }
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        missing("node (Node.js) not found");
        return None;
    }
    let dashboard = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboard");
    if !dashboard.join("node_modules/playwright-core").is_dir() {
        missing("dashboard/node_modules/playwright-core is missing (npm ci in dashboard/)");
        return None;
    }
    Some((chromium, dashboard))
}

/// Six days of a country's probing and BGP in vigie's long CSV, 5-minute
/// bins: steady with a daily cycle, then a data-plane cut at 2022-01-05
/// 10:30 UTC, service back 17:30–22:00, cut again until 10:30 the next day.
fn kazakhstan_like_csv() -> String {
    let start = 1_640_995_200; // 2022-01-01T00:00:00Z
    let cut = |t: i64| {
        let first = 1_641_378_600; // 2022-01-05T10:30:00Z
        let back = 1_641_403_800; // 17:30
        let again = 1_641_420_000; // 22:00
        let over = 1_641_465_000; // 2022-01-06T10:30:00Z
        (first..back).contains(&t) || (again..over).contains(&t)
    };
    let mut csv = String::from("time,entity,signal,value\n");
    for i in 0..6 * 288i64 {
        let t = start + i * 300;
        let hour = (t % 86_400) as f64 / 3600.0;
        let daily = 1.0 - 0.15 * (std::f64::consts::TAU * (hour - 22.0) / 24.0).cos();
        let wobble = ((i * 7919) % 13) as f64 - 6.0;
        let probing = if cut(t) {
            40.0 + wobble
        } else {
            900.0 * daily + wobble
        };
        let time = vigie_model::format_utc(t);
        csv.push_str(&format!("{time},KZ,ping-slash24,{probing:.0}\n"));
        csv.push_str(&format!("{time},KZ,bgp,{:.0}\n", 3000.0 + wobble));
    }
    csv
}

/// The change to daylight saving time in Colorado (America/Denver):
/// 2022-03-13 02:00 MST, 09:00 UTC.
const DENVER_DST: i64 = 1_647_162_000;

/// Sixteen days (from 2022-03-01) of a US state's probing and BGP in vigie's
/// long CSV, 5-minute bins: steady with a daily cycle, cut six hours on
/// 2022-03-11 (before the change to daylight saving time) and on 2022-03-15
/// (after it), 16:00–22:00 UTC both times; the country's BGP, steady.
fn colorado_csv() -> String {
    let start = 1_646_092_800; // 2022-03-01T00:00:00Z
    let cuts = [1_647_014_400, 1_647_360_000]; // 2022-03-11, 2022-03-15 16:00Z
    let mut csv = String::from("time,entity,signal,value\n");
    for i in 0..16 * 288i64 {
        let t = start + i * 300;
        let hour = (t % 86_400) as f64 / 3600.0;
        let daily = 1.0 - 0.15 * (std::f64::consts::TAU * (hour - 10.0) / 24.0).cos();
        let wobble = ((i * 7919) % 13) as f64 - 6.0;
        let cut = cuts.iter().any(|&c| (c..c + 6 * 3600).contains(&t));
        let probing = if cut {
            30.0 + wobble
        } else {
            700.0 * daily + wobble
        };
        let time = vigie_model::format_utc(t);
        csv.push_str(&format!("{time},US/Colorado,ping-slash24,{probing:.0}\n"));
        csv.push_str(&format!("{time},US/Colorado,bgp,{:.0}\n", 2000.0 + wobble));
        // The country as a whole, steady: its page (the map opens it) has data.
        csv.push_str(&format!("{time},US,bgp,{:.0}\n", 90_000.0 + wobble));
    }
    csv
}

/// The local start times a report on US/Colorado prints for its incidents
/// (`vigie report`'s Markdown), as `(UTC start, local start)`.
fn report_local_starts(data: &Path, out: &Path, starts: &[i64]) -> Vec<(String, String)> {
    let printed = vigie(
        data,
        &[
            "report",
            "US/Colorado",
            "--from",
            "2022-03-08T00:00:00Z",
            "--until",
            "2022-03-17T00:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let listed = String::from_utf8_lossy(&printed.stdout).to_string();
    let markdown = listed
        .lines()
        .find(|l| l.ends_with(".md"))
        .unwrap_or_else(|| panic!("vigie report wrote no Markdown: {listed}"));
    let text = std::fs::read_to_string(markdown).unwrap();
    starts
        .iter()
        .map(|&start| {
            let utc = vigie_model::format_utc(start);
            // The incident table's row: `| n | <UTC start> | <local start> | …`.
            let local = text
                .lines()
                .filter(|l| l.starts_with('|'))
                .find_map(|l| {
                    let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                    let at = cells.iter().position(|c| *c == utc)?;
                    cells.get(at + 1).map(|c| c.to_string())
                })
                .unwrap_or_else(|| panic!("the report has no incident starting {utc}:\n{text}"));
            (utc, local)
        })
        .collect()
}

#[test]
fn the_dashboard_works_in_a_headless_browser() {
    let Some((chromium, dashboard)) = tools() else {
        return;
    };
    let Some(iraq) = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let Some(gaza) = vigie_testdata::shared_data("signals/ioda_region_1226_gazastrip.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    vigie(
        &data,
        &[
            "import",
            "ioda-csv",
            iraq.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    vigie(
        &data,
        &[
            "import",
            "ioda-csv",
            gaza.to_str().unwrap(),
            "--entity",
            "PS/Gaza Strip",
        ],
    );
    // The same export again as the country PS: Palestine's incidents then
    // name the Gaza Strip as the region they affect (`vigie detect` fills
    // `affected` from overlapping region incidents), which the page shows.
    vigie(
        &data,
        &[
            "import",
            "ioda-csv",
            gaza.to_str().unwrap(),
            "--entity",
            "PS",
        ],
    );
    // A country cut like Kazakhstan on 2022-01-05 (10:30 UTC), back for
    // four and a half hours in the evening, cut again until the next
    // morning: the incident the page must show with its restoration window.
    let kz = dir.path().join("kz.csv");
    std::fs::write(&kz, kazakhstan_like_csv()).unwrap();
    vigie(&data, &["import", "csv", kz.to_str().unwrap()]);
    // A US state (its own zone, America/Denver, not the country's New York)
    // cut before and after the change to daylight saving time.
    let colorado = dir.path().join("colorado.csv");
    std::fs::write(&colorado, colorado_csv()).unwrap();
    vigie(&data, &["import", "csv", colorado.to_str().unwrap()]);
    vigie(&data, &["detect"]);
    // The page must show an incident with a restoration window: the store
    // must hold one (the Kazakhstan-like country above).
    let restored = {
        let store = vigie_store::Store::open(&data).unwrap();
        let incidents = store
            .incidents(&vigie_store::ResultFilter {
                method: Some("vigie".into()),
                ..Default::default()
            })
            .unwrap();
        incidents
            .into_iter()
            .find(|row| {
                serde_json::from_str::<serde_json::Value>(&row.detail)
                    .ok()
                    .and_then(|d| d["restorations"].as_array().map(|r| !r.is_empty()))
                    .unwrap_or(false)
            })
            .expect("detection found no incident with a restoration window")
    };
    let annotation_time = vigie_model::format_utc(restored.start + 3600);
    vigie(
        &data,
        &[
            "annotate",
            &restored.entity.to_string(),
            "--from",
            &annotation_time,
            "--text",
            "Operator announces a complete interruption of communications",
        ],
    );

    // The report's local times of the two Colorado incidents, one each side
    // of the change: UTC-07:00 (MST) before, UTC-06:00 (MDT) after.
    let colorado_starts: Vec<i64> = {
        let store = vigie_store::Store::open(&data).unwrap();
        let mut starts: Vec<i64> = store
            .incidents(&vigie_store::ResultFilter {
                method: Some("vigie".into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .filter(|row| row.entity.to_string() == "US/Colorado")
            .map(|row| row.start)
            .collect();
        starts.sort_unstable();
        starts
    };
    let before = colorado_starts.iter().copied().rfind(|&t| t < DENVER_DST);
    let after = colorado_starts.iter().copied().find(|&t| t >= DENVER_DST);
    let (Some(before), Some(after)) = (before, after) else {
        panic!("detection did not find a Colorado incident each side of the DST change: {colorado_starts:?}");
    };
    let local = report_local_starts(&data, &dir.path().join("report"), &[before, after]);
    assert!(
        local[0].1.ends_with("(UTC-07:00)"),
        "before the change: {local:?}"
    );
    assert!(
        local[1].1.ends_with("(UTC-06:00)"),
        "after the change: {local:?}"
    );
    let dst = serde_json::json!({
        "entity": "US/Colorado",
        "zone": "America/Denver",
        "from": "2022-03-10T00:00:00Z",
        "until": "2022-03-17T00:00:00Z",
        "times": local
            .iter()
            .map(|(utc, local)| serde_json::json!({ "utc": utc, "local": local }))
            .collect::<Vec<_>>(),
    });

    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(&data).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--for-secs",
        "300",
    ]);
    let (mut server, addr) = spawn_listening(command);

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let mut browser = Command::new("node")
        .arg("tests/dashboard.mjs")
        .arg(format!("http://{addr}"))
        .arg(&shots)
        .current_dir(&dashboard)
        .env("CHROMIUM", &chromium)
        .env("VIGIE_DST", dst.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    // Drained by threads, so the child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        browser
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        browser
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    // Bounded: a hung browser fails the test instead of blocking it.
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = browser.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = browser.kill();
            let _ = browser.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap_or_default();
    let errors = stderr.join().unwrap_or_default();
    let _ = server.kill();
    let _ = server.wait();
    println!("{stdout}");
    let status = status.expect("the browser test did not finish within 240 s");
    assert!(
        status.success(),
        "the browser checks failed (screenshots in {}):\n{stdout}\n{errors}",
        shots.display()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // The feed and DST checks ran (not skipped for want of an incident).
    for ran in [
        "ok   the feed has the newest incident's entry",
        "ok   the entity's feed holds the incident",
        "ok   US/Colorado's local times are in the reports' zone",
    ] {
        assert!(stdout.contains(ran), "no check {ran:?}:\n{stdout}");
    }
    let agreeing = stdout
        .lines()
        .filter(|l| {
            l.starts_with("ok   the incident at") && l.contains("local time is the report's")
        })
        .count();
    assert_eq!(agreeing, 2, "{stdout}");
    for shot in [
        "map-7d.png",
        "map-all.png",
        "entity-incident.png",
        "entity-long-shutdown.png",
        "entity-raw.png",
        "entity-fr.png",
        "embed-in-news.png",
        "export.png",
        "entity-feed-link.png",
        "entity-dst.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is a PNG");
    }
}
