//! `vigie ingest archive` as a user runs it, against a local copy of the
//! RIS archive serving the shared real MRT files: the first run loses a
//! file cut by the server (a gap, exit code 3, said what to do), the rerun
//! continues it and stores what `vigie ingest mrt` stores from the same
//! file; `vigie series` reads the same values from both stores.

use std::path::Path;
use std::process::{Command, Output};

use vigie_testdata::http::{Behaviour, HttpMirror};

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie")
}

#[test]
fn a_cut_download_is_a_gap_then_the_rerun_resumes_and_matches_ingest_mrt() {
    let Some(real) = vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let bytes = std::fs::read(&real).unwrap();
    let mirror = HttpMirror::start();
    mirror.listing("/rrc00/2002.07/", &["bview.20020722.2337.gz"]);
    let path = "/rrc00/2002.07/bview.20020722.2337.gz";
    mirror.file(path, bytes.clone(), Behaviour::CutOnce(bytes.len() / 3));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("archive");
    let args = [
        "ingest",
        "archive",
        "--collector",
        "rrc00",
        "--from",
        "2002-07-22T23:40:00Z",
        "--until",
        "2002-07-22T23:45:00Z",
        "--ris-url",
        mirror.base(),
        "--retries",
        "0",
        "--no-progress",
    ];
    let first = vigie(&data, &args);
    let said = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(3), "{said}");
    assert!(said.contains("gap 2002-07-22T23:37:00Z"), "{said}");
    assert!(said.contains("run the same command again"), "{said}");

    let second = vigie(&data, &args);
    let said = String::from_utf8_lossy(&second.stderr);
    // The folder lists no update file for the period: still a gap, said so.
    assert!(said.contains("rrc00 has no update file"), "{said}");
    assert!(said.contains("fetched 1 files"), "{said}");
    let cached = data.join("archive-cache/rrc00/2002.07/bview.20020722.2337.gz");
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    let ranges: Vec<_> = (mirror.log().into_iter())
        .filter(|l| l.target == path)
        .map(|l| l.range)
        .collect();
    assert_eq!(ranges.len(), 2);
    assert!(ranges[1].is_some(), "the rerun continues: {ranges:?}");

    let by_hand = dir.path().join("by-hand");
    let out = vigie(
        &by_hand,
        &["ingest", "mrt", real.to_str().unwrap(), "--no-progress"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for entity in ["US", "DE", "AS3356"] {
        let series = |d: &Path| {
            let out = vigie(d, &["series", entity, "--signal", "bgp", "--format", "csv"]);
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let (a, b) = (series(&data), series(&by_hand));
        assert!(a.lines().count() > 1, "{entity}: {a}");
        assert_eq!(a, b, "{entity}");
    }
}
