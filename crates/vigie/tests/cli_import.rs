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
