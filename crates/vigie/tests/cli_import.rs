//! `vigie import` end to end: a real IODA dashboard export goes into the
//! store and reads back value for value; bad rows are reported, not fatal.

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

#[test]
fn ioda_dashboard_export_reads_back_exactly() {
    let Some(csv) = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = vigie(
        dir.path(),
        &[
            "import",
            "ioda-csv",
            csv.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("8 labelled outage(s)"), "{stderr}");

    // Every ping-slash24 value of the file, as the file has it.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "ping-slash24").unwrap();
    let expected: Vec<(i64, Option<f64>)> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].parse().unwrap(), fields[col].parse().ok())
        })
        .collect();
    let out = vigie(
        dir.path(),
        &[
            "series",
            "IQ",
            "--signal",
            "ping-slash24",
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success());
    let got: Vec<(String, Option<f64>)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[3].parse().ok())
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for ((time, value), (unix, want)) in got.iter().zip(&expected) {
        assert_eq!(vigie_model::parse_utc(time).unwrap(), *unix);
        assert_eq!(value, want, "{time}");
    }
}

#[test]
fn bad_rows_are_reported_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.csv");
    std::fs::write(
        &file,
        "time,entity,signal,value\n\
         2022-01-05T10:30:00Z,KZ,bgp,100\n\
         2022-01-05T10:35:00Z,KZ,bgp,NaN\n\
         not a time,KZ,bgp,5\n\
         2022-01-05T10:40:00Z,KZ,bgp,-3\n\
         2022-01-05T10:45:00Z,KZZ,bgp,7\n\
         2022-01-05T10:45:00Z,KZ,bgp,90\n",
    )
    .unwrap();
    let out = vigie(dir.path(), &["import", "csv", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("long.csv:4"),
        "the bad time is located: {stderr}"
    );
    let out = vigie(dir.path(), &["series", "KZ", "--format", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2022-01-05T10:30:00Z,KZ,bgp,100"), "{text}");
    assert!(
        text.contains("2022-01-05T10:35:00Z,KZ,bgp,\n"),
        "NaN is no data: {text}"
    );
    assert!(text.contains("2022-01-05T10:45:00Z,KZ,bgp,90"), "{text}");
    let out = vigie(dir.path(), &["import", "ioda-csv", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a dashboard export needs --entity"
    );
}

#[test]
fn ioda_dashboard_download_imports_at_its_own_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ioda-iq.csv");
    std::fs::write(
        &file,
        "\"Time (UTC)\",\"Google (Search)\",\"Telescope (# Unique Source IPs)\",\"BGP (#Visible /24s)\",\"Active Probing (#/24s Up)\",\"Mozilla (City Count)\"\n\
         2026-01-08 16:00:00,4.1,1520,61234,10234,412\n\
         2026-01-08 16:30:00,4.0,1498,61230,10201,409\n\
         2026-01-08 17:00:00,0.2,310,60102,1203,57\n",
    )
    .unwrap();
    let out = vigie(
        dir.path(),
        &[
            "import",
            "ioda-csv",
            file.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("imported 5 series of 1 entities"),
        "{stderr}"
    );
    assert!(stderr.contains("IQ mozilla (1800 s bins)"), "{stderr}");
    let out = vigie(
        dir.path(),
        &[
            "series",
            "IQ",
            "--signal",
            "ping-slash24",
            "--bin-secs",
            "1800",
            "--format",
            "csv",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("2026-01-08T17:00:00Z,IQ,ping-slash24,1203"),
        "{text}"
    );

    // A header IODA never wrote: the error names what it found and wants.
    std::fs::write(&file, "when,what\n2026-01-08 16:00:00,3\n").unwrap();
    let out = vigie(
        dir.path(),
        &[
            "import",
            "ioda-csv",
            file.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("found columns 'when', 'what'; expected one of 'Time (UTC)'"),
        "{stderr}"
    );
}

#[test]
fn monash_local_times_take_the_zone_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gif.csv");
    std::fs::write(
        &file,
        "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\n\
         FRA,1,Bretagne,1563580800,20-Jul-2019 00:00:00,48.1,-2.8,100\n\
         FRA,1,Bretagne,1563584400,20-Jul-2019 01:00:00,48.1,-2.8,40\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // France has no default zone here: the error says how to give one.
    let out = vigie(dir.path(), &["import", "monash", path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--timezone"), "{stderr}");
    // A negative offset is a value, not a flag.
    let out = vigie(
        dir.path(),
        &["import", "monash", path, "--utc-offset", "-04:00"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let out = vigie(
        dir.path(),
        &[
            "series",
            "FR/Bretagne",
            "--bin-secs",
            "3600",
            "--format",
            "csv",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2019-07-20T05:00:00Z,FR/Bretagne,connectivity-index,40"),
        "{text}"
    );
    let out = vigie(
        dir.path(),
        &["import", "monash", path, "--utc-offset", "Europe/Paris"],
    );
    assert_eq!(out.status.code(), Some(1), "a zone name is not an offset");
    let out = vigie(
        dir.path(),
        &["import", "monash", path, "--timezone", "Mars/Olympus"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a time zone"), "{stderr}");
    let out = vigie(
        dir.path(),
        &["import", "monash", path, "--timezone", "Europe/Paris"],
    );
    assert!(out.status.success());
}
