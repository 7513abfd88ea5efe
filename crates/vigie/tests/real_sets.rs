//! Every real labelled set `scripts/accuracy.sh` scores, imported with the
//! `vigie` binary into a fresh store: entities, series, bin widths and bins
//! as the files hold them, and `vigie eval` reading the label files in
//! docs/labels. Counts only: detection accuracy is docs/ACCURACY.md's job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vigie_store::{ResultFilter, Store};

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie")
}

/// What one import should leave in the store.
struct Expected {
    /// Path inside the shared data folder.
    file: &'static str,
    /// `vigie import` subcommand and options.
    command: &'static [&'static str],
    /// Entities with series.
    entities: usize,
    /// Series (entity, signal).
    series: usize,
    /// The bin width of every series, seconds.
    bin_secs: u32,
    /// Bins from first to last of the longest series.
    bins: i64,
    /// Labelled outages the file itself carries (IODA's LABEL column).
    labels: usize,
}

const SETS: [Expected; 7] = [
    Expected {
        file: "signals/ioda_country_IQ_iraq.csv",
        command: &["ioda-csv", "--entity", "IQ"],
        entities: 1,
        series: 5,
        bin_secs: 300,
        bins: 2928,
        labels: 8,
    },
    Expected {
        file: "signals/ioda_region_1226_gazastrip.csv",
        command: &["ioda-csv", "--entity", "PS/Gaza Strip"],
        entities: 1,
        series: 3,
        bin_secs: 300,
        bins: 3359,
        labels: 3,
    },
    Expected {
        file: "signals/ioda_region_4369_zhytomyr.csv",
        command: &["ioda-csv", "--entity", "UA/Zhytomyr"],
        entities: 1,
        series: 3,
        bin_secs: 300,
        bins: 923,
        labels: 2,
    },
    Expected {
        file: "signals/monash/usa-2020-08-31_HurrLaura.csv",
        command: &["monash"],
        entities: 216,
        series: 216,
        bin_secs: 3600,
        bins: 166,
        labels: 0,
    },
    Expected {
        file: "signals/monash/ven-2019-07-22_gif.csv",
        command: &["monash"],
        entities: 13,
        series: 13,
        bin_secs: 3600,
        bins: 113,
        labels: 0,
    },
    Expected {
        file: "signals/monash/mmr-2021-04-09_Bago.csv",
        command: &["monash"],
        entities: 1,
        series: 1,
        bin_secs: 3600,
        bins: 2258,
        labels: 0,
    },
    Expected {
        file: "signals/monash/ukr-2022-01-18_border-regions.csv",
        command: &["monash"],
        entities: 10,
        series: 10,
        bin_secs: 10_800,
        bins: 383,
        labels: 0,
    },
];

/// The label files of the Monash sets, in the repository.
fn label_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/labels");
    [
        "monash_hurricane_laura_2020.json",
        "monash_venezuela_blackout_2019.json",
        "monash_myanmar_bago_nightly_2021.json",
        "monash_ua_ru_border_latency_2021.json",
    ]
    .iter()
    .map(|name| dir.join(name))
    .collect()
}

#[test]
fn every_real_set_imports_with_its_entities_bins_and_bin_width() {
    for set in &SETS {
        let Some(path) = vigie_testdata::shared_data(set.file) else {
            return;
        };
        // A store per file, so each file's counts are its own.
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["import", set.command[0], path.to_str().unwrap()];
        args.extend_from_slice(&set.command[1..]);
        let out = vigie(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit 0, or 3 only for lossy input: none of these files has any.
        assert!(out.status.success(), "{}: {stderr}", set.file);

        let store = Store::open(dir.path()).unwrap();
        let listed = store.list_series().unwrap();
        let entities: BTreeSet<_> = listed.iter().map(|s| s.key.entity.clone()).collect();
        assert_eq!(entities.len(), set.entities, "{}", set.file);
        assert_eq!(listed.len(), set.series, "{}", set.file);
        let widths: BTreeSet<u32> = listed.iter().map(|s| s.bin.secs()).collect();
        assert_eq!(widths, BTreeSet::from([set.bin_secs]), "{}", set.file);
        let bins = listed
            .iter()
            .filter_map(|s| Some((s.last_bin? - s.first_bin?) / i64::from(set.bin_secs) + 1))
            .max();
        assert_eq!(bins, Some(set.bins), "{}", set.file);
        let labels = store.labels(&ResultFilter::default()).unwrap();
        assert_eq!(labels.len(), set.labels, "{}", set.file);
    }
}

#[test]
fn label_files_cover_the_imported_monash_sets() {
    let mut paths = Vec::new();
    for set in SETS.iter().filter(|s| s.command[0] == "monash") {
        let Some(path) = vigie_testdata::shared_data(set.file) else {
            return;
        };
        paths.push(path);
    }
    let dir = tempfile::tempdir().unwrap();
    for path in &paths {
        let out = vigie(dir.path(), &["import", "monash", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json = dir.path().join("eval.json");
    let mut args = vec![
        "eval".to_string(),
        "--json".into(),
        json.display().to_string(),
    ];
    for file in label_files() {
        args.push("--labels".into());
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = vigie(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Per dataset: the number of labels scored and the bin width, the same
    // for every method.
    let mut seen: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for row in &rows {
        let name = row["dataset"].as_str().unwrap().to_string();
        let labels = row["labels"].as_u64().unwrap();
        let minutes = row["bin_minutes"].as_f64().unwrap();
        let previous = seen.insert(name.clone(), (labels, minutes));
        assert!(
            previous.is_none() || previous == Some((labels, minutes)),
            "{name}"
        );
    }
    let expected: BTreeMap<String, (u64, f64)> = [
        (
            "monash_hurricane_laura_2020.json (208 entities)",
            (15, 60.0),
        ),
        (
            "monash_venezuela_blackout_2019.json (13 entities)",
            (12, 60.0),
        ),
        (
            "MM/Bago: Pegu (monash_myanmar_bago_nightly_2021.json)",
            (72, 60.0),
        ),
        (
            "monash_ua_ru_border_latency_2021.json (10 entities)",
            (0, 180.0),
        ),
    ]
    .into_iter()
    .map(|(name, counts)| (name.to_string(), counts))
    .collect();
    assert_eq!(seen, expected);
    // Three methods per dataset.
    assert_eq!(rows.len(), 3 * expected.len());
}
