//! The dashboard in a real headless browser: a store built by the CLI from
//! IODA's Iraq and Gaza Strip exports (`vigie import`, `vigie detect`,
//! `vigie annotate`), served by `vigie serve --listen`, then driven by
//! `dashboard/tests/dashboard.mjs` (playwright-core with Debian's Chromium):
//! the map, the search box, an entity page with an incident and its
//! restoration window, CSV and PNG export, and the URL's state; a long
//! shutdown (the Kazakhstan-like country) read as a drop in the normalised
//! chart and in raw values, the French dashboard, and the embeddable chart
//! framed by a page of another origin.
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
    for shot in [
        "map-7d.png",
        "map-all.png",
        "entity-incident.png",
        "entity-long-shutdown.png",
        "entity-raw.png",
        "entity-fr.png",
        "embed-in-news.png",
        "export.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is a PNG");
    }
}
