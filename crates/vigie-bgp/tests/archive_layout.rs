//! Archive directories laid out like RIPE RIS and RouteViews: files are found
//! recursively, grouped by collector, read RIB first and in time order, and
//! the collectors' records are merged by time so bins close in order.

use std::path::Path;
use std::sync::Arc;

use vigie_bgp::mrt::{discover, ingest_mrt, FileKind, IngestOptions};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::SignalBin;

fn link(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(from, to).unwrap();
}

#[test]
fn ris_and_routeviews_layouts_are_read_in_time_order() {
    let (Some(rrc15), Some(rrc00_2000)) = (
        vigie_testdata::shared_data("mrt/bgpkit/rrc15_2010.02_updates.20100227.1600.gz"),
        vigie_testdata::shared_data("mrt/bgpkit/rrc00_2000.01_updates.20000102.2014.gz"),
    ) else {
        return;
    };
    let Some(updates_2010) = vigie_testdata::shared_data("mrt/bgpdump/updates.20100722.2015.gz")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // RIS: two collectors, the 2010 files of each; RouteViews: a RIB folder.
    link(&rrc15, &root.join("rrc15/2010.02/updates.20100227.1600.gz"));
    link(
        &updates_2010,
        &root.join("rrc00/2010.07/updates.20100722.2015.gz"),
    );
    link(
        &rrc00_2000,
        &root.join("route-views2/bgpdata/2000.01/UPDATES/updates.20000102.2014.gz"),
    );
    std::fs::write(root.join("rrc00/README.txt"), "not MRT").unwrap();

    let collectors = discover(&[root.to_path_buf()]).unwrap();
    let names: Vec<&str> = collectors.iter().map(|c| c.collector.as_str()).collect();
    assert_eq!(names, vec!["route-views2", "rrc00", "rrc15"]);
    assert!(collectors
        .iter()
        .all(|c| c.files.len() == 1 && c.files[0].kind == FileKind::Updates));

    let mut accounting =
        VisibilityAccounting::new(VisibilityConfig::default(), Arc::new(GeoDb::empty()));
    let mut bins: Vec<SignalBin> = Vec::new();
    let summary = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions::default(),
        &mut bins,
        &mut (),
    )
    .unwrap();
    assert_eq!(summary.files.len(), 3);
    assert!(!summary.has_errors(), "{:?}", summary.files);
    let starts: Vec<i64> = bins.iter().map(|b| b.bin_start).collect();
    assert!(
        starts.windows(2).all(|w| w[0] < w[1]),
        "bins close in time order: {starts:?}"
    );
    // 2000-01-02 20:14 (bin 20:10), then 2010-02-27 16:00.., then 2010-07-22 20:15..: the
    // silences of years between them are not filled with invented bins.
    assert_eq!(
        starts[0], 946_843_800,
        "2000-01-02T20:10:00Z, the bin of 20:14"
    );
    assert!(starts.len() < 20, "{starts:?}");
    assert!(accounting
        .table()
        .peers()
        .iter()
        .any(|p| accounting.table().collector_name(p.collector) == "rrc15"));
}

#[test]
fn a_missing_update_file_is_a_data_gap() {
    let Some(updates) = vigie_testdata::shared_data("mrt/bgpdump/updates.20160811.1600.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The same file under the names of three 5-minute RIS files, the middle
    // one missing: 16:00, 16:05, (16:10 missing), 16:15.
    for name in [
        "updates.20160811.1600.gz",
        "updates.20160811.1605.gz",
        "updates.20160811.1615.gz",
    ] {
        link(&updates, &dir.path().join("rrc00/2016.08").join(name));
    }
    let collectors = discover(&[dir.path().to_path_buf()]).unwrap();
    let gaps = vigie_bgp::mrt::update_gaps(&collectors[0].files);
    assert_eq!(gaps, vec![(1_470_931_800, 1_470_932_100)]);
}

#[test]
fn the_files_of_one_rib_dump_load_together_and_later_dumps_are_skipped() {
    let (Some(v4), Some(v6)) = (
        vigie_testdata::shared_data("mrt/bgpdump/bview.ipv4_unicast_add_path.gz"),
        vigie_testdata::shared_data("mrt/bgpdump/bview.ipv6_unicast_add_path.gz"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A daemon writing its IPv4 and IPv6 tables as two files of one dump,
    // then a later dump.
    link(&v4, &dir.path().join("rrc00/rib.20160107.1200.v4.gz"));
    link(&v6, &dir.path().join("rrc00/rib.20160107.1200.v6.gz"));
    link(&v4, &dir.path().join("rrc00/rib.20160107.2000.v4.gz"));
    let collectors = discover(&[dir.path().to_path_buf()]).unwrap();
    let mut accounting =
        VisibilityAccounting::new(VisibilityConfig::default(), Arc::new(GeoDb::empty()));
    let summary = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions::default(),
        &mut Vec::<SignalBin>::new(),
        &mut (),
    )
    .unwrap();
    let skipped: Vec<String> = summary
        .files
        .iter()
        .filter(|f| f.skipped.is_some())
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(skipped, vec!["rib.20160107.2000.v4.gz"]);
    let families: Vec<usize> = (0..2)
        .map(|fam| {
            accounting
                .table()
                .peers()
                .iter()
                .filter(|p| p.prefix_counts[fam] > 0)
                .count()
        })
        .collect();
    assert!(
        families[0] > 0 && families[1] > 0,
        "both tables loaded: {families:?}"
    );
}
