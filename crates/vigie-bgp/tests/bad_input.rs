//! Truncated, corrupt and random MRT input: a clear report naming the file
//! and byte offset, the records before the damage kept, and never a panic.
//! (The fuzz target in `fuzz/` explores the same path with libFuzzer.)

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use vigie_bgp::mrt::{discover, ingest_mrt, IngestOptions, IngestSummary};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::SignalBin;

fn run(path: &Path) -> (IngestSummary, Vec<SignalBin>) {
    let collectors = discover(&[path.to_path_buf()]).expect("discover");
    let mut accounting =
        VisibilityAccounting::new(VisibilityConfig::default(), Arc::new(GeoDb::empty()));
    let mut bins = Vec::new();
    let summary = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions::default(),
        &mut bins,
        &mut (),
    )
    .expect("ingest");
    (summary, bins)
}

/// Decompresses a gzip file into memory.
fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn truncated_real_rib_dump_is_reported_and_kept() {
    let Some(path) = vigie_testdata::shared_data("geo/pyasn/rib.20140523.0600_firstMB.bz2") else {
        return;
    };
    let (summary, bins) = run(&path);
    let report = &summary.files[0];
    let offset = report.stopped_at.expect("the file is truncated on purpose");
    assert!(
        offset > 1_000_000,
        "it breaks after its first megabyte of bz2, at {offset}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&offset.to_string())),
        "{:?}",
        report.problems
    );
    assert!(
        report.records > 9000,
        "records before the break are kept: {}",
        report.records
    );
    assert!(summary.has_errors());
    assert_eq!(bins.len(), 1, "the RIB's one bin is still produced");
}

#[test]
fn cut_and_damaged_update_files_never_panic() {
    let Some(path) = vigie_testdata::shared_data("mrt/bgpdump/updates.20160811.1600.gz") else {
        return;
    };
    let bytes = gunzip(&path);
    let dir = tempfile::tempdir().unwrap();
    let complete = run(&path).0.records;
    // Cut at many offsets, including inside headers and bodies.
    for (i, cut) in [
        0usize,
        1,
        11,
        12,
        13,
        100,
        4097,
        bytes.len() / 3,
        bytes.len() - 1,
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("updates.20160811.1600.cut{i}"));
        std::fs::File::create(&file)
            .unwrap()
            .write_all(&bytes[..cut])
            .unwrap();
        let (summary, _) = run(&file);
        let report = &summary.files[0];
        assert!(report.records <= complete);
        if cut > 0 && cut < bytes.len() {
            assert!(report.stopped_at.is_some() || report.bad_records > 0 || report.records > 0);
        }
    }
    // Flip bytes at pseudo-random places: reports, no panic.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..20 {
        let mut damaged = bytes.clone();
        for _ in 0..50 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % damaged.len();
            damaged[at] ^= (state >> 32) as u8 | 1;
        }
        let file = dir
            .path()
            .join(format!("updates.20160811.1600.flip{round}"));
        std::fs::write(&file, &damaged).unwrap();
        let (summary, _) = run(&file);
        assert_eq!(summary.files.len(), 1);
    }
    // Pure noise and an empty file.
    let noise: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = dir.path().join("noise.mrt");
    std::fs::write(&file, noise).unwrap();
    assert!(run(&file).0.has_errors());
    let empty = dir.path().join("empty.mrt");
    std::fs::write(&empty, b"").unwrap();
    let (summary, _) = run(&empty);
    assert_eq!(summary.records, 0);
    assert!(!summary.has_errors());
}

/// Issue 14, finding 9: a gzip file cut to 100 bytes, or a 0-byte `.gz`,
/// is damaged input (the ingest says so, and `vigie` exits 3), never a
/// clean "0 records".
#[test]
fn cut_or_empty_gzip_is_damaged_input() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("updates.20160811.1600.gz");
    std::fs::write(&empty, b"").unwrap();
    let (summary, bins) = run(&empty);
    assert!(summary.has_errors(), "{:?}", summary.files);
    assert_eq!(summary.records, 0);
    assert!(bins.is_empty());
    let report = &summary.files[0];
    assert!(
        report
            .skipped
            .as_deref()
            .is_some_and(|s| s.contains("empty")),
        "{report:?}"
    );

    let Some(path) = vigie_testdata::shared_data("mrt/bgpdump/updates.20160811.1600.gz") else {
        return;
    };
    let whole = std::fs::read(&path).unwrap();
    assert!(!run(&path).0.has_errors(), "the whole file is clean");
    for cut in [100usize, 1000, whole.len() / 2, whole.len() - 1] {
        let file = dir
            .path()
            .join(format!("updates.20160811.1600.cut{cut}.gz"));
        std::fs::write(&file, &whole[..cut]).unwrap();
        let (summary, _) = run(&file);
        let report = &summary.files[0];
        assert!(
            summary.has_errors() && report.stopped_at.is_some(),
            "cut at {cut}: {report:?}"
        );
        assert!(!report.problems.is_empty(), "cut at {cut}");
    }
}

/// Issue 14, finding 1: a record re-stamped to 2100 (or to 1970) is
/// counted as implausible, named with its file and byte offset, and writes
/// no bin; the records around it are read as before.
#[test]
fn records_dated_outside_the_plausible_window_are_skipped_and_reported() {
    let Some(path) = vigie_testdata::shared_data("mrt/bgpdump/updates.20160811.1600.gz") else {
        return;
    };
    let mut bytes = gunzip(&path);
    let clean = run(&path).0;
    // Walk the MRT headers (time, type, subtype, length) and re-stamp two
    // records: one to 2100-01-01, one to 1970.
    let mut offset = 0usize;
    let mut index = 0usize;
    while offset + 12 <= bytes.len() {
        let length = u32::from_be_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
        let stamp = match index {
            10 => Some(4_102_444_800u32),
            20 => Some(1u32),
            _ => None,
        };
        if let Some(stamp) = stamp {
            bytes[offset..offset + 4].copy_from_slice(&stamp.to_be_bytes());
        }
        offset += 12 + length as usize;
        index += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("updates.20160811.1600");
    std::fs::write(&file, &bytes).unwrap();
    let (summary, bins) = run(&file);
    let report = &summary.files[0];
    assert_eq!(report.implausible_records, 2, "{report:?}");
    assert!(
        summary.has_errors(),
        "implausible records are damaged input"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("byte") && p.contains("2100-01-01") && p.contains("future")),
        "{:?}",
        report.problems
    );
    assert_eq!(summary.records, clean.records - 2);
    let window = summary.window.expect("the window applied");
    assert!(
        window.latest() <= 1_470_988_800 + 86_400,
        "a day past the file's name time: {window:?}"
    );
    assert!(
        bins.iter().all(|b| window.contains(b.bin_start)),
        "no bin outside the window"
    );
    let (first, last) = summary.time_span.unwrap();
    assert!(
        first >= 1_470_931_200 && last < 1_471_075_200,
        "{first} {last}"
    );
}
