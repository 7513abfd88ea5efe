//! Issue 14, findings 1, 2 and 9 (the scenario), end to end through the
//! binary: times outside the plausible window are refused at every input
//! and never break reads; a worse re-read never replaces stored data.

use std::io::Write;
use std::path::Path;
use std::process::Output;

use vigie_model::{BinSize, SeriesKey, SignalKind};
use vigie_store::Store;

fn vigie(data: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run vigie")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `(time, value)` of `vigie series ENTITY --signal SIGNAL --format csv`.
fn series(data: &Path, entity: &str, signal: &str) -> Vec<(String, String)> {
    let out = vigie(
        data,
        &["series", entity, "--signal", signal, "--format", "csv"],
    );
    assert!(out.status.success(), "series: {}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[3].to_string())
        })
        .collect()
}

fn with_value(rows: &[(String, String)]) -> Vec<(String, String)> {
    rows.iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect()
}

fn pair(time: &str, value: &str) -> (String, String) {
    (time.to_string(), value.to_string())
}

#[test]
fn an_import_row_dated_2099_is_refused_and_reads_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let csv = dir.path().join("rows.csv");
    std::fs::write(
        &csv,
        "time,entity,signal,value\n\
         2022-01-05T10:00:00Z,KZ,bgp,100\n\
         2022-01-05T10:05:00Z,KZ,bgp,101\n\
         2099-01-01T00:00:00Z,KZ,bgp,102\n",
    )
    .unwrap();
    let out = vigie(&data, &["import", "csv", csv.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(":4") && text.contains("plausible"),
        "the row is named: {text}"
    );
    assert_eq!(
        with_value(&series(&data, "KZ", "bgp")),
        [
            pair("2022-01-05T10:00:00Z", "100"),
            pair("2022-01-05T10:05:00Z", "101")
        ]
    );
    let detect = vigie(&data, &["detect"]);
    assert!(detect.status.success(), "{}", stderr(&detect));
}

#[test]
fn nan_and_negative_import_rows_are_rejected_never_stored_as_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "time,entity,signal,value\n\
         2022-01-05T10:00:00Z,KZ,bgp,208\n\
         2022-01-05T10:05:00Z,KZ,bgp,5\n",
    )
    .unwrap();
    let out = vigie(&data, &["import", "csv", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "time,entity,signal,value\n\
         2022-01-05T10:00:00Z,KZ,bgp,NaN\n\
         2022-01-05T10:05:00Z,KZ,bgp,-3\n\
         2022-01-05T10:10:00Z,KZ,bgp,7\n",
    )
    .unwrap();
    let out = vigie(&data, &["import", "csv", bad.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "rejected rows: {text}");
    assert!(text.contains("rejected"), "{text}");
    assert_eq!(
        with_value(&series(&data, "KZ", "bgp")),
        [
            pair("2022-01-05T10:00:00Z", "208"),
            pair("2022-01-05T10:05:00Z", "5"),
            pair("2022-01-05T10:10:00Z", "7")
        ]
    );
}

#[test]
fn a_store_holding_a_2099_bin_reads_detects_and_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let key = SeriesKey {
        entity: "KZ".parse().unwrap(),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    {
        // As an older vigie stored it, before the window existed.
        let mut store = Store::open(&data).unwrap();
        let day = 1_641_340_800; // 2022-01-05
        let mut points: Vec<(i64, Option<f64>)> = (0..288)
            .map(|i| (day + i * 300, Some(1000.0 + (i % 7) as f64)))
            .collect();
        points.push((4_070_908_800, Some(5.0))); // 2099-01-01
        store
            .write_points(&key, BinSize::FIVE_MINUTES, &points)
            .unwrap();
    }
    let rows = series(&data, "KZ", "bgp");
    assert_eq!(with_value(&rows).len(), 288);
    assert!(rows.iter().all(|(t, _)| t.starts_with("2022-01-0")));
    let detect = vigie(&data, &["detect"]);
    assert!(detect.status.success(), "{}", stderr(&detect));
    assert!(stderr(&detect).contains("plausible time window"));

    let check = vigie(&data, &["store", "check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(3), "{report}");
    assert!(
        report.contains("KZ bgp") && report.contains("2099-01-01T00:00:00Z"),
        "{report}"
    );
    let repair = vigie(&data, &["store", "repair"]);
    let report = String::from_utf8_lossy(&repair.stdout);
    assert!(repair.status.success(), "{report}");
    assert!(report.contains("removed 1 bin(s)"), "{report}");
    let check = vigie(&data, &["store", "check"]);
    assert!(check.status.success());
    assert!(!stderr(&vigie(&data, &["series", "KZ"])).contains("plausible"));
}

fn access_line(ip: &str, time: &str) -> String {
    format!("{ip} - - [{time}] \"GET / HTTP/1.1\" 200 10 \"-\" \"t\"\n")
}

#[test]
fn an_access_log_line_dated_9999_is_skipped_and_a_partial_re_read_keeps_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    // Eight KZ requests in the 12:00 bin of 6 January 2025, a line dated
    // 9999 after the fourth, and one request an hour later.
    let mut full = String::new();
    for i in 0..8 {
        if i == 4 {
            full.push_str(&access_line("2.132.0.7", "06/Jan/9999:12:03:00 +0000"));
        }
        full.push_str(&access_line(
            &format!("2.132.0.{i}"),
            &format!("06/Jan/2025:12:01:{i:02} +0000"),
        ));
    }
    full.push_str(&access_line("2.132.0.9", "06/Jan/2025:13:00:00 +0000"));
    let path = dir.path().join("access.log");
    std::fs::write(&path, &full).unwrap();
    let out = vigie(&data, &["ingest", "access-log", path.to_str().unwrap()]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "an implausible line: {text}");
    assert!(
        text.contains("access.log:5:") && text.contains("9999"),
        "{text}"
    );
    assert!(
        text.contains("0 late lines"),
        "later lines are not late: {text}"
    );
    let counts = |data: &Path| with_value(&series(data, "KZ", "http-requests"));
    let expected = [
        pair("2025-01-06T12:00:00Z", "8"),
        pair("2025-01-06T13:00:00Z", "1"),
    ];
    let got = counts(&data);
    assert_eq!(got.first(), expected.first(), "{got:?}");
    assert_eq!(got.last(), expected.last(), "{got:?}");

    // The first three lines again: the 12:00 bin keeps its 8.
    let partial = dir.path().join("partial.log");
    let mut file = std::fs::File::create(&partial).unwrap();
    for line in full.lines().take(3) {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let out = vigie(&data, &["ingest", "access-log", partial.to_str().unwrap()]);
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 bin(s) kept their stored values"), "{text}");
    assert_eq!(counts(&data).first(), expected.first());
}

#[test]
fn a_truncated_mrt_re_ingest_keeps_the_complete_bins() {
    let Some(path) = vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let out = vigie(
        &data,
        &["ingest", "mrt", "--no-progress", path.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let before = series(&data, "US", "bgp");
    assert_eq!(before, [pair("2002-07-22T23:35:00Z", "2763162")]);

    let truncated = dir.path().join("t.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&truncated, &bytes[..100_000]).unwrap();
    let out = vigie(
        &data,
        &[
            "ingest",
            "mrt",
            "--no-progress",
            truncated.to_str().unwrap(),
        ],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("1 bin(s) kept their stored values"), "{text}");
    assert_eq!(series(&data, "US", "bgp"), before);
}

#[test]
fn an_mrt_record_restamped_to_2100_is_damaged_input_and_writes_no_bin() {
    let Some(path) = vigie_testdata::shared_data("mrt/bgpdump/updates.20160811.1600.gz") else {
        return;
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()),
        &mut bytes,
    )
    .unwrap();
    // The 50th record's header time becomes 2100-01-01.
    let mut offset = 0usize;
    for _ in 0..50 {
        let length = u32::from_be_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
        offset += 12 + length as usize;
    }
    bytes[offset..offset + 4].copy_from_slice(&4_102_444_800u32.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("updates.20160811.1600");
    std::fs::write(&file, &bytes).unwrap();
    let data = dir.path().join("store");
    let out = vigie(
        &data,
        &["ingest", "mrt", "--no-progress", file.to_str().unwrap()],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("updates.20160811.1600: record ending at byte")
            && text.contains("2100-01-01T00:00:00Z"),
        "file and offset named: {text}"
    );
    let check = vigie(&data, &["store", "check"]);
    assert!(
        check.status.success(),
        "no bin outside the window: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn a_scenario_dated_9999_fails_at_once_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("future.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../vigie-scenario/scenarios/kazakhstan-2022.toml"),
    )
    .unwrap()
    .replace("2021-12-27T00:00:00Z", "9999-01-01T00:00:00Z")
    .replace("2022-01-13T00:00:00Z", "9999-01-18T00:00:00Z");
    std::fs::write(&scenario, text).unwrap();
    let started = std::time::Instant::now();
    let out = vigie(
        &dir.path().join("store"),
        &[
            "demo",
            "--scenario-file",
            scenario.to_str().unwrap(),
            "--keep",
            dir.path().join("demo").to_str().unwrap(),
        ],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("future.toml: ") && text.contains("start") && text.contains("in the future"),
        "{text}"
    );
    assert!(started.elapsed().as_secs() < 30, "it fails early");
}
