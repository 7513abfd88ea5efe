//! The same commands on the SQLite store and on a PostgreSQL store
//! (`--store postgres://…`, a real server started by the test): every
//! listing they print is the same, value for value. Needs the `postgres`
//! feature (`cargo test -p vigie --features postgres --test store_postgres`).

#![cfg(feature = "postgres")]

use std::path::Path;
use std::process::{Command, Output};

/// Runs vigie on the SQLite store in `data_dir`, or on `store` when given.
fn vigie(data_dir: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    let out = command.args(args).output().expect("run vigie");
    assert!(
        out.status.success(),
        "vigie {args:?} on {}: {}",
        store.unwrap_or("SQLite"),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the same commands on both stores and checks each printed the same.
fn same_on_both(sqlite: &Path, pg_dir: &Path, url: &str, runs: &[&[&str]]) -> Vec<String> {
    let mut outputs = Vec::new();
    for args in runs {
        let on_sqlite = vigie(sqlite, None, args);
        let on_pg = vigie(pg_dir, Some(url), args);
        let (a, b) = (
            String::from_utf8(on_sqlite.stdout).unwrap(),
            String::from_utf8(on_pg.stdout).unwrap(),
        );
        assert_eq!(a, b, "vigie {args:?} printed differently on PostgreSQL");
        outputs.push(a);
    }
    outputs
}

#[test]
fn import_detect_and_listings_are_the_same_on_postgres() {
    let Some(csv) = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let url = db.url();
    let sqlite = tempfile::tempdir().unwrap();
    // With --store, nothing is written in --data-dir.
    let pg_dir = tempfile::tempdir().unwrap();
    let csv = csv.to_str().unwrap();
    same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["import", "ioda-csv", csv, "--entity", "IQ"], &["detect"]],
    );
    let outputs = same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[
            &["incidents", "--entity", "IQ", "--format", "csv"],
            &["incidents", "--format", "json"],
            &["series", "IQ", "--format", "csv"],
            &["entities", "--format", "csv"],
            &["eval"],
        ],
    );
    // Real values, not two empty listings: the exam cuts are incidents,
    // and the series has its thousands of bins.
    assert!(outputs[0].lines().count() > 6, "{}", outputs[0]);
    assert!(outputs[2].lines().count() > 1000, "{}", outputs[2].len());
    assert!(
        std::fs::read_dir(pg_dir.path()).unwrap().next().is_none(),
        "--store wrote into --data-dir"
    );
    // A second process reads what the first wrote: the store is the server's.
    let store = vigie_store::Store::open_url(&url).unwrap();
    assert!(store.event_count("vigie").unwrap() > 0);
}

#[test]
fn mrt_ingest_writes_the_same_bins_and_names_on_postgres() {
    let Some(mrt) = vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let url = db.url();
    let sqlite = tempfile::tempdir().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["ingest", "mrt", mrt.to_str().unwrap(), "--no-progress"]],
    );
    let outputs = same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["entities", "--format", "csv"]],
    );
    assert!(outputs[0].lines().count() > 100, "{}", outputs[0]);
    // The check reads every row; its window ends now, a second apart.
    let check = |store: Option<&str>, dir: &Path| {
        let out = vigie(dir, store, &["store", "check"]);
        let text = String::from_utf8(out.stdout).unwrap();
        text.split(" .. ").next().unwrap_or_default().to_string()
    };
    let checked = check(None, sqlite.path());
    assert!(
        checked.starts_with("ok: 27203 stored rows checked"),
        "{checked}"
    );
    assert_eq!(checked, check(Some(&url), pg_dir.path()));
    // The series read the same, bin for bin.
    let a = vigie_store::Store::open(sqlite.path()).unwrap();
    let b = vigie_store::Store::open_url(&url).unwrap();
    let listed = a.list_series().unwrap();
    assert_eq!(listed, b.list_series().unwrap());
    // Every country and every 20th series (each read is a round trip).
    let sample = listed.iter().enumerate().filter(|(i, info)| {
        i % 20 == 0 || matches!(info.key.entity, vigie_model::Entity::Country(_))
    });
    for (_, info) in sample {
        let (Some(first), Some(last)) = (info.first_bin, info.last_bin) else {
            continue;
        };
        let range = vigie_model::TimeRange::new(first, last + i64::from(info.bin.secs())).unwrap();
        let bits = |s: vigie_model::Series| -> Vec<Option<u64>> {
            s.values.iter().map(|v| v.map(f64::to_bits)).collect()
        };
        assert_eq!(
            bits(a.read_series(&info.key, info.bin, range).unwrap()),
            bits(b.read_series(&info.key, info.bin, range).unwrap()),
            "{}",
            info.key.entity
        );
    }
    assert_eq!(
        a.as_countries(None, None).unwrap(),
        b.as_countries(None, None).unwrap()
    );
    assert_eq!(
        a.inputs_done("bgp-mrt").unwrap().len(),
        b.inputs_done("bgp-mrt").unwrap().len()
    );
}
