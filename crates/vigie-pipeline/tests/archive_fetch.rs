//! `vigie ingest archive`'s fetching against a local HTTP server laid out
//! exactly like the RIPE RIS and RouteViews archives, serving the shared
//! real MRT files, with a missing file, a 5xx, a slow answer and cut
//! downloads: the files fetched are byte for byte the real ones, every file
//! lost is a reported gap, a cut download resumes with a `Range` request,
//! and the stored series equal those `vigie ingest mrt` stores from the
//! same files put in place by hand.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigie_model::{parse_utc, TimeRange};
use vigie_pipeline::{
    fetch_archive, ingest_mrt_archives, plan_archive, ArchiveOptions, FetchFlags, MrtOptions,
    RIS_URL,
};
use vigie_store::Store;
use vigie_testdata::http::{Behaviour, HttpMirror};
use vigie_testdata::shared_data;

fn options(mirror: &HttpMirror, collectors: &[&str], from: &str, until: &str) -> ArchiveOptions {
    ArchiveOptions {
        collectors: collectors.iter().map(|c| c.to_string()).collect(),
        from: parse_utc(from).unwrap(),
        until: parse_utc(until).unwrap(),
        ris_url: mirror.base().to_string(),
        routeviews_url: format!("{}/routeviews", mirror.base()),
        cache_dir: None,
        parallel: 3,
        fetch: FetchFlags {
            retries: 2,
            timeout_secs: 5.0,
            retry_wait_secs: 0.05,
        },
    }
}

/// Every series of a store: its key, and its bins' starts and values.
type Stored = Vec<(String, Vec<(i64, Option<f64>)>)>;

/// Reads `paths` into a new store in `dir` and returns every series.
fn ingest(dir: &Path, paths: &[PathBuf], gaps: Vec<(i64, i64)>) -> Stored {
    let mut store = Store::open(dir).unwrap();
    let geo = Arc::new(vigie_geo::GeoDb::embedded());
    let options = MrtOptions {
        gaps,
        ..MrtOptions::default()
    };
    ingest_mrt_archives(&mut store, paths, geo, &options, &mut ()).unwrap();
    let mut out = Vec::new();
    for info in store.list_series().unwrap() {
        let (Some(first), Some(last)) = (info.first_bin, info.last_bin) else {
            continue;
        };
        let range = TimeRange::new(first, last + i64::from(info.bin.secs())).unwrap();
        let series = store.read_series(&info.key, info.bin, range).unwrap();
        let step = i64::from(info.bin.secs());
        let bins = (series.values.iter().enumerate())
            .map(|(i, v)| (series.start + i as i64 * step, *v))
            .collect();
        out.push((format!("{:?}", info.key), bins));
    }
    out
}

/// The archive's series are `vigie ingest mrt`'s, except in the gaps, which
/// hold no data.
fn assert_same_outside_gaps(archive: &Stored, by_hand: &Stored, gaps: &[(i64, i64)]) {
    let in_gap = |t: i64| gaps.iter().any(|&(a, b)| t >= a && t < b);
    let keep = |stored: &Stored| -> Stored {
        stored
            .iter()
            .map(|(key, bins)| {
                let bins = bins.iter().filter(|(t, _)| !in_gap(*t)).copied().collect();
                (key.clone(), bins)
            })
            .filter(|(_, bins): &(String, Vec<_>)| bins.iter().any(|(_, v)| v.is_some()))
            .collect()
    };
    for (key, bins) in archive {
        for (t, v) in bins {
            assert!(
                !in_gap(*t) || v.is_none(),
                "{key} has a value at {t}, in a gap"
            );
        }
    }
    let (a, b) = (keep(archive), keep(by_hand));
    assert_eq!(a.len(), b.len(), "as many series");
    for (x, y) in a.iter().zip(&b) {
        assert!(x == y, "{} differs: {:?} against {:?}", x.0, x.1, y.1);
    }
}

/// The real file laid out by hand as the archive has it, for `vigie ingest mrt`.
fn by_hand(dir: &Path, relative: &str, real: &Path) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(real, &path).unwrap();
    dir.to_path_buf()
}

#[test]
fn the_default_bases_are_the_real_archives() {
    assert_eq!(RIS_URL, "https://data.ris.ripe.net");
}

#[test]
fn missing_failing_slow_and_cut_files_are_gaps_or_resumed_and_series_match_ingest_mrt() {
    let Some(real) = shared_data("mrt/bgpkit/rrc15_2010.02_updates.20100227.1600.gz") else {
        return;
    };
    let bytes = std::fs::read(&real).unwrap();
    let mirror = HttpMirror::start();
    // RIS: the month's index lists three update files; one is slow and cut
    // once, one is missing, one always answers 503.
    mirror.listing(
        "/rrc15/2010.02/",
        &[
            "updates.20100227.1555.gz",
            "updates.20100227.1600.gz",
            "updates.20100227.1605.gz",
            "updates.20100227.1610.gz",
        ],
    );
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1555.gz",
        Vec::new(),
        Behaviour::Missing,
    );
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1600.gz",
        bytes.clone(),
        Behaviour::Slow(Duration::from_millis(300)),
    );
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1605.gz",
        Vec::new(),
        Behaviour::Missing,
    );
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1610.gz",
        Vec::new(),
        Behaviour::Status(503),
    );
    // RouteViews' route-views2 (no collector segment): the month's folders
    // exist and are empty.
    mirror.listing("/routeviews/bgpdata/2010.02/RIBS/", &[]);
    mirror.listing("/routeviews/bgpdata/2010.02/UPDATES/", &[]);

    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let opts = options(
        &mirror,
        &["rrc15", "route-views2"],
        "2010-02-27T16:00:00Z",
        "2010-02-27T16:15:00Z",
    );
    let plan = plan_archive(&opts, &cache).unwrap();
    let names: Vec<&str> = plan
        .files
        .iter()
        .map(|f| f.download.url.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "updates.20100227.1600.gz",
            "updates.20100227.1605.gz",
            "updates.20100227.1610.gz"
        ],
        "the update files of the period, the one before it left out"
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("rrc15: no RIB dump")),
        "{:?}",
        plan.notes
    );
    assert!(
        mirror.hits("/routeviews/bgpdata/2010.01/RIBS/") == 1
            && mirror.hits("/routeviews/bgpdata/2010.02/UPDATES/") == 1,
        "route-views2's folders are listed under bgpdata/ (and the month before for its RIB): {:?}",
        mirror.log()
    );

    let fetched = fetch_archive(plan, &opts, &()).unwrap();
    let t = |s: &str| parse_utc(s).unwrap();
    assert_eq!(
        fetched.gaps,
        vec![
            (t("2010-02-27T16:05:00Z"), t("2010-02-27T16:10:00Z")),
            (t("2010-02-27T16:10:00Z"), t("2010-02-27T16:15:00Z"))
        ]
    );
    let said = fetched.messages.join("\n");
    assert!(said.contains("404") && said.contains("503"), "{said}");
    assert!(
        said.contains("gap 2010-02-27T16:05:00Z .. 2010-02-27T16:10:00Z"),
        "{said}"
    );
    assert_eq!(
        mirror.hits("/rrc15/2010.02/updates.20100227.1610.gz"),
        3,
        "a 5xx is retried (twice here), then reported"
    );
    assert_eq!(
        mirror.hits("/rrc15/2010.02/updates.20100227.1605.gz"),
        1,
        "a 404 is not retried"
    );
    let local = cache.join("rrc15/2010.02/updates.20100227.1600.gz");
    assert_eq!(fetched.paths, vec![local.clone()]);
    assert_eq!(
        std::fs::read(&local).unwrap(),
        bytes,
        "the slow file arrived whole"
    );

    let from_archive = ingest(&work.path().join("a"), &fetched.paths, fetched.gaps.clone());
    let hand = by_hand(
        &work.path().join("hand"),
        "rrc15/2010.02/updates.20100227.1600.gz",
        &real,
    );
    let from_files = ingest(&work.path().join("b"), &[hand], Vec::new());
    assert!(!from_files.is_empty());
    assert_same_outside_gaps(&from_archive, &from_files, &fetched.gaps);
}

#[test]
fn a_cut_download_is_a_gap_then_resumes_where_it_stopped() {
    let Some(real) = shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let bytes = std::fs::read(&real).unwrap();
    let half = bytes.len() / 2;
    let mirror = HttpMirror::start();
    mirror.listing(
        "/rrc00/2002.07/",
        &["bview.20020722.2337.gz", "bview.20020723.0537.gz"],
    );
    let path = "/rrc00/2002.07/bview.20020722.2337.gz";
    mirror.file(path, bytes.clone(), Behaviour::CutOnce(half));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let mut opts = options(
        &mirror,
        &["rrc00"],
        "2002-07-22T23:40:00Z",
        "2002-07-23T00:00:00Z",
    );
    opts.fetch.retries = 0;

    // First run: the body is cut halfway and there is no retry: a gap,
    // and the half received is kept.
    let plan = plan_archive(&opts, &cache).unwrap();
    assert_eq!(plan.files.len(), 1, "the RIB dump before the period");
    let first = fetch_archive(plan, &opts, &()).unwrap();
    assert!(first.paths.is_empty());
    let t = |s: &str| parse_utc(s).unwrap();
    // The RIB dump was cut; and the folder lists no update file for the
    // period: both are gaps, said so.
    let rib_gap = (t("2002-07-22T23:37:00Z"), t("2002-07-23T00:00:00Z"));
    assert_eq!(first.gaps, vec![rib_gap]);
    assert!(
        first
            .messages
            .iter()
            .any(|m| m.contains("rrc00 has no update file")),
        "{:?}",
        first.messages
    );
    assert!(
        first.messages.iter().any(|m| m.contains("run again")),
        "{:?}",
        first.messages
    );
    let local = cache.join("rrc00/2002.07/bview.20020722.2337.gz");
    let part = vigie_pipeline::part_path(&local);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), half as u64);

    // Second run: asks for the rest only, and the file is whole.
    let plan = plan_archive(&opts, &cache).unwrap();
    let second = fetch_archive(plan, &opts, &()).unwrap();
    assert_eq!(second.gaps, vec![rib_gap], "{:?}", second.messages);
    assert_eq!(second.paths, vec![local.clone()]);
    let ranges: Vec<_> = mirror
        .log()
        .into_iter()
        .filter(|l| l.target == path)
        .map(|l| l.range)
        .collect();
    assert_eq!(ranges, vec![None, Some(format!("bytes={half}-"))]);
    assert_eq!(std::fs::read(&local).unwrap(), bytes);
    assert!(!part.exists());

    // A third run fetches nothing: the file is in the cache.
    let plan = plan_archive(&opts, &cache).unwrap();
    let third = fetch_archive(plan, &opts, &()).unwrap();
    assert_eq!(third.fetched.1, 1);
    assert_eq!(mirror.hits(path), 2);

    let from_archive = ingest(&work.path().join("a"), &second.paths, second.gaps.clone());
    let hand = by_hand(
        &work.path().join("hand"),
        "rrc00/2002.07/bview.20020722.2337.gz",
        &real,
    );
    let from_files = ingest(&work.path().join("b"), &[hand], Vec::new());
    assert!(!from_files.is_empty());
    assert_eq!(from_archive, from_files);
}

#[test]
fn a_server_without_listings_is_read_by_the_schedule() {
    let Some(real) = shared_data("mrt/bgpkit/rrc15_2010.02_updates.20100227.1600.gz") else {
        return;
    };
    let mirror = HttpMirror::start();
    // No index pages at all (a bare static mirror answering 500 to
    // folders): the names follow RIS's schedule.
    mirror.file("/rrc15/2010.02/", Vec::new(), Behaviour::Status(500));
    mirror.file("/rrc15/2010.01/", Vec::new(), Behaviour::Status(500));
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1600.gz",
        std::fs::read(&real).unwrap(),
        Behaviour::FailFirst(1),
    );
    let work = tempfile::tempdir().unwrap();
    let mut opts = options(
        &mirror,
        &["rrc15"],
        "2010-02-27T16:00:00Z",
        "2010-02-27T16:05:00Z",
    );
    opts.fetch.retries = 1;
    let plan = plan_archive(&opts, work.path()).unwrap();
    let urls: Vec<String> = plan
        .files
        .iter()
        .map(|f| f.download.url.replace(mirror.base(), ""))
        .collect();
    assert_eq!(urls[0], "/rrc15/2010.02/bview.20100227.1600.gz");
    assert!(urls.contains(&"/rrc15/2010.02/updates.20100227.1600.gz".to_string()));
    assert!(plan.notes.iter().any(|n| n.contains("schedule")));
    let fetched = fetch_archive(plan, &opts, &()).unwrap();
    // The RIB dump the schedule promised is not there: a gap, said so.
    assert_eq!(fetched.paths.len(), 1, "{:?}", fetched.messages);
    assert!(fetched
        .messages
        .iter()
        .any(|m| m.contains("bview.20100227.1600.gz") && m.contains("404")));
}

#[test]
fn the_service_loads_a_collectors_latest_rib_dump_from_the_archive() {
    let Some(real) = shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let mirror = HttpMirror::start();
    mirror.listing("/rrc00/2002.07/", &["bview.20020722.2337.gz"]);
    mirror.file(
        "/rrc00/2002.07/bview.20020722.2337.gz",
        std::fs::read(&real).unwrap(),
        Behaviour::Normal,
    );
    let work = tempfile::tempdir().unwrap();
    let geo = Arc::new(vigie_geo::GeoDb::embedded());
    let new_model = || {
        vigie_bgp::VisibilityAccounting::new(
            vigie_bgp::VisibilityConfig::default(),
            Arc::clone(&geo),
        )
    };
    let mut fetched = new_model();
    let now = parse_utc("2002-07-23T00:00:00Z").unwrap();
    let flags = FetchFlags {
        retries: 0,
        timeout_secs: 5.0,
        retry_wait_secs: 0.05,
    };
    let loaded = vigie_pipeline::load_latest_ribs(
        &mut fetched,
        &["rrc00".to_string()],
        mirror.base(),
        work.path(),
        now,
        flags,
    )
    .unwrap();
    assert_eq!(loaded.files, 1, "{:?}", loaded.messages);
    // The same dump loaded by hand, as `[bgp] rib_files` does.
    let mut by_hand = new_model();
    let files = vigie_bgp::mrt::discover(&[real]).unwrap();
    vigie_bgp::mrt::ingest_mrt(
        files,
        &mut by_hand,
        &vigie_bgp::mrt::IngestOptions::default(),
        &mut vigie_model::Discard,
        &mut (),
    )
    .unwrap();
    assert!(by_hand.table().prefix_count() > 10_000);
    assert_eq!(
        fetched.table().prefix_count(),
        by_hand.table().prefix_count()
    );
}

#[test]
fn a_server_slower_than_the_timeout_is_a_gap_and_the_tally_counts_what_arrived() {
    let Some(real) = shared_data("mrt/bgpkit/rrc15_2010.02_updates.20100227.1600.gz") else {
        return;
    };
    let bytes = std::fs::read(&real).unwrap();
    let mirror = HttpMirror::start();
    mirror.listing(
        "/rrc15/2010.02/",
        &["updates.20100227.1600.gz", "updates.20100227.1605.gz"],
    );
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1600.gz",
        bytes.clone(),
        Behaviour::Normal,
    );
    // Answers after 2 s, past the 0.5 s timeout: retried once, then a gap.
    mirror.file(
        "/rrc15/2010.02/updates.20100227.1605.gz",
        bytes.clone(),
        Behaviour::Slow(Duration::from_secs(2)),
    );
    let work = tempfile::tempdir().unwrap();
    let mut opts = options(
        &mirror,
        &["rrc15"],
        "2010-02-27T16:00:00Z",
        "2010-02-27T16:10:00Z",
    );
    opts.fetch.retries = 1;
    opts.fetch.timeout_secs = 0.5;
    let plan = plan_archive(&opts, work.path()).unwrap();
    let files = plan.files.len();
    let shown = std::sync::Mutex::new((0, 0, String::new()));
    let show = |done, total, message| *shown.lock().unwrap() = (done, total, message);
    let retries = std::sync::Mutex::new(Vec::new());
    let say = |m: String| retries.lock().unwrap().push(m);
    let tally = vigie_pipeline::FetchTally::new(files, &show, &say);
    let fetched = fetch_archive(plan, &opts, &tally).unwrap();
    let t = |s: &str| parse_utc(s).unwrap();
    assert_eq!(
        fetched.gaps,
        vec![(t("2010-02-27T16:05:00Z"), t("2010-02-27T16:10:00Z"))]
    );
    assert_eq!(mirror.hits("/rrc15/2010.02/updates.20100227.1605.gz"), 2);
    assert_eq!(retries.lock().unwrap().len(), 1, "one retry said");
    let (done, _, message) = shown.lock().unwrap().clone();
    assert_eq!(
        done,
        bytes.len() as u64,
        "the bytes of the file that arrived"
    );
    assert_eq!(message, "2/2 files");
    let counts = tally.counts();
    assert_eq!(counts.files_done, 2);
    assert_eq!(
        counts.bytes_total,
        2 * bytes.len() as u64,
        "the size known, the other guessed"
    );
}
