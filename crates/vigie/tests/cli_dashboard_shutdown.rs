//! A newcomer's path, end to end: an IODA dashboard download exactly as the
//! dashboard writes it (normalised percent, "Time (UTC)", 30-minute steps,
//! two months) goes through `vigie import ioda-csv FILE --entity XX && vigie
//! detect && vigie incidents`, and the shutdown in it is found.
//!
//! The export is generated here, shaped like a real data-plane shutdown:
//! active probing falls from 90% to 53% of its level in one half-hour and to
//! 4% in the next and stays there for 19 days while BGP stays at 87–99%;
//! Google traffic has a Friday weekend (30% lower by day) that must be
//! learnt, not reported as throttling.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie")
}

/// 2025-11-08T00:00:00Z, a Saturday.
const START: i64 = 1_762_560_000;
const STEP: i64 = 1800;
const DAY: i64 = 86_400;

/// Deterministic noise in [-1, 1].
fn noise(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// As the dashboard writes times: `2026-01-08 16:30:00`.
fn format_time(t: i64) -> String {
    vigie_model::format_utc(t)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// The export, and the shutdown's start and end.
fn dashboard_export() -> (String, i64, i64) {
    let days = 61;
    let shutdown_start = START + 40 * DAY + 16 * 3600 + 1800; // a Thursday, 16:30 UTC
    let shutdown_end = shutdown_start + 19 * DAY;
    let mut csv = String::from(
        "\"Time (UTC)\",\"Google (Search)\",\"Telescope (# Unique Source IPs)\",\
         \"BGP (#Visible /24s)\",\"Active Probing (#/24s Up)\",\"Mozilla (City Count)\"\n",
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..days * DAY / STEP {
        let t = START + i * STEP;
        // Local time UTC+3:30; activity lowest at 04:00 local.
        let local = t + 3 * 3600 + 1800;
        let hour = local.rem_euclid(DAY) as f64 / 3600.0;
        let daily = 1.0 - 0.35 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
        let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7); // Monday = 0
        let by_day = (0.5 - 0.5 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos()).max(0.0);
        let friday = if weekday == 4 {
            1.0 - 0.3 * by_day
        } else {
            1.0
        };
        let down = t >= shutdown_start && t < shutdown_end;
        let first_half_hour = t == shutdown_start;
        let probing = if first_half_hour {
            53.0
        } else if down {
            4.0 + noise(&mut state)
        } else {
            90.0 * (1.0 + 0.03 * noise(&mut state))
        };
        let bgp = if down {
            93.0 + 6.0 * noise(&mut state)
        } else {
            99.0 + 0.3 * noise(&mut state)
        };
        let google = if down {
            3.0
        } else {
            60.0 * daily * friday * (1.0 + 0.04 * noise(&mut state))
        };
        let telescope = if down {
            10.0 * (1.0 + 0.3 * noise(&mut state))
        } else {
            70.0 * (1.0 + 0.15 * noise(&mut state))
        };
        let mozilla = if down {
            5.0
        } else {
            80.0 * daily * (1.0 + 0.05 * noise(&mut state))
        };
        writeln!(
            csv,
            "{},{google:.2},{telescope:.2},{bgp:.2},{probing:.2},{mozilla:.2}",
            format_time(t)
        )
        .expect("write");
    }
    (csv, shutdown_start, shutdown_end)
}

#[test]
fn a_dashboard_download_with_a_data_plane_shutdown_is_found_as_downloaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (csv, start, end) = dashboard_export();
    let file = dir.path().join("ioda-export.csv");
    std::fs::write(&file, csv).expect("write export");
    let data = dir.path().join("data");
    let file = file.to_str().expect("path");

    let import = vigie(&data, &["import", "ioda-csv", file, "--entity", "IR"]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let detect = vigie(&data, &["detect"]);
    assert!(
        detect.status.success(),
        "{}",
        String::from_utf8_lossy(&detect.stderr)
    );
    let listed = vigie(&data, &["incidents", "--format", "json"]);
    assert!(listed.status.success());
    let incidents: serde_json::Value =
        serde_json::from_slice(&listed.stdout).expect("incidents as JSON");
    let incidents = incidents.as_array().expect("a list");
    let summary: Vec<String> = incidents
        .iter()
        .map(|i| {
            format!(
                "{} {} → {} {} {}",
                i["entity"], i["start"], i["end"], i["mechanism"], i["mechanism_confidence"]
            )
        })
        .collect();
    // One incident: the shutdown, no Friday "throttling".
    assert_eq!(incidents.len(), 1, "{summary:#?}");
    let incident = &incidents[0];
    let found_start = incident["start"].as_i64().expect("start");
    assert!(
        (found_start - start).abs() <= STEP,
        "onset {found_start}, shutdown at {start}: {summary:#?}"
    );
    let found_end = incident["end"].as_i64().expect("the shutdown ended");
    assert!(
        (found_end - end).abs() <= STEP,
        "end {found_end}, shutdown until {end}: {summary:#?}"
    );
    assert_eq!(incident["mechanism"], "data-plane-blocking", "{summary:#?}");

    // The table a person reads says the same.
    let table = vigie(&data, &["incidents"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("data-plane-blocking"), "{table}");
}
