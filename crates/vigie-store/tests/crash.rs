//! A writer killed with SIGKILL in the middle of an ingest loses at most the
//! bin it was writing: the test binary runs itself as a child that writes
//! bins (and compacts) in a loop, kills it, and checks the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigie_model::{BinSize, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_store::Store;

/// Set in the child: the data directory to write into.
const CHILD_ENV: &str = "VIGIE_STORE_CRASH_CHILD_DIR";
const TEST_NAME: &str = "killed_writer_loses_at_most_the_open_bin";
const SOURCE: &str = "crash-test";
const SERIES: u32 = 3000;
const BIN: BinSize = BinSize::FIVE_MINUTES;
/// 2022-01-05T00:00:00Z
const DAY: UnixSecs = 1_641_340_800;
/// The child stops by itself after this many bins, should nobody kill it.
const CHILD_MAX_BINS: i64 = 5000;

fn keys() -> Vec<SeriesKey> {
    (1..=SERIES)
        .map(|asn| SeriesKey {
            entity: vigie_model::Entity::Asn(asn),
            signal: SignalKind::BgpVisibleSlash24s,
        })
        .collect()
}

/// The value series `s` gets in bin number `i`: deterministic, with gaps.
fn expected(s: usize, i: i64) -> Option<f64> {
    if (s as i64 + i) % 13 == 0 {
        None
    } else {
        Some((s as i64 * 7 + i / 3) as f64)
    }
}

/// The child: resume after the last committed bin and write until killed.
fn run_child(dir: &Path) {
    let mut store = Store::open(dir).expect("child opens the store");
    let keys = keys();
    let first = store
        .last_committed_bin(SOURCE)
        .expect("child reads progress")
        .map_or(0, |t| (t - DAY) / 300 + 1);
    let mut out = std::io::stdout().lock();
    for i in first..first + CHILD_MAX_BINS {
        let values: Vec<(SeriesKey, Option<f64>)> = keys
            .iter()
            .enumerate()
            .map(|(s, k)| (k.clone(), expected(s, i)))
            .collect();
        store
            .write_bin(SOURCE, BIN, DAY + i * 300, &values)
            .expect("child writes a bin");
        writeln!(out, "committed {i}")
            .and_then(|_| out.flush())
            .ok();
        if i % 6 == 5 {
            store.compact().expect("child compacts");
            writeln!(out, "compacted {i}")
                .and_then(|_| out.flush())
                .ok();
        }
    }
}

/// Runs a child until it has committed `bins` more bins plus `extra_ms`,
/// kills it, and returns the last bin it reported committed.
fn run_and_kill(dir: &Path, bins: usize, extra_ms: u64) -> i64 {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child writer");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed_lines = 0;
    let mut last = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(i) = line.strip_prefix("committed ") {
            last = Some(i.parse::<i64>().expect("bin number"));
            committed_lines += 1;
            if committed_lines == bins {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(extra_ms));
    child.kill().expect("SIGKILL the child"); // Child::kill is SIGKILL on Unix.
                                              // Anything printed after the break still counts as committed.
    for line in lines.map_while(Result::ok) {
        if let Some(i) = line.strip_prefix("committed ") {
            last = Some(i.parse::<i64>().expect("bin number"));
        }
    }
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child should have been killed, not finished"
    );
    last.expect("the child committed bins before being killed")
}

#[test]
fn killed_writer_loses_at_most_the_open_bin() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = keys();
    let mut reported_last = -1;
    // Three kills at different moments, each run resuming where the last stopped.
    for (round, (bins, extra_ms)) in [(9, 0u64), (7, 13), (11, 41)].into_iter().enumerate() {
        reported_last = run_and_kill(dir.path(), bins, extra_ms);
        let store = Store::open(dir.path()).expect("the store opens after a kill");
        let last = store
            .last_committed_bin(SOURCE)
            .expect("progress is readable")
            .expect("progress was recorded");
        let committed = (last - DAY) / 300 + 1;
        // The child may have committed one more bin than it managed to report.
        assert!(
            committed == reported_last + 1 || committed == reported_last + 2,
            "round {round}: store says {committed} bins, child reported {}",
            reported_last + 1
        );
        let range = TimeRange::new(DAY, DAY + (committed + 3) * 300).expect("range");
        for s in (0..keys.len()).step_by(97).chain([keys.len() - 1]) {
            let series = store.read_series(&keys[s], BIN, range).expect("read");
            for (i, value) in series.values.iter().enumerate() {
                let i = i as i64;
                let want = if i < committed { expected(s, i) } else { None };
                assert_eq!(*value, want, "round {round}, series {s}, bin {i}");
            }
        }
        assert_eq!(store.list_series().expect("list").len(), keys.len());
        println!(
            "round {round}: killed after {committed} bins ({} staged), all read back",
            store.staged_bin_count().expect("count")
        );
    }
    // The store still compacts and keeps every value.
    let mut store = Store::open(dir.path()).expect("reopen");
    store.compact().expect("compact after crashes");
    assert_eq!(store.staged_bin_count().expect("count"), 0);
    let last = store
        .last_committed_bin(SOURCE)
        .expect("progress")
        .expect("some");
    let committed = (last - DAY) / 300 + 1;
    assert!(committed > reported_last);
    let range = TimeRange::new(DAY, DAY + committed * 300).expect("range");
    let series = store.read_series(&keys[5], BIN, range).expect("read");
    let want: Vec<Option<f64>> = (0..committed).map(|i| expected(5, i)).collect();
    assert_eq!(series.values, want);
}
