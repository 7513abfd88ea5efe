use std::path::Path;

use rusqlite::Connection;
use vigie_model::{BinSize, Entity, SeriesKey, SignalKind, TimeRange, UnixSecs};

use crate::sqlite::SqliteStore;
use crate::{
    InputRecord, ResultFilter, Store, StoreError, StoredEvent, StoredIncident, StoredLabel,
    DB_FILE_NAME, MIGRATIONS,
};

const BIN: BinSize = BinSize::FIVE_MINUTES;
/// 2022-01-05T00:00:00Z
const DAY: UnixSecs = 1_641_340_800;

/// Where a test's store lives; [`Place::open`] gives a new handle on it,
/// so a test can reopen its store or use two at once.
enum Place {
    /// A private SQLite database in memory (one handle only).
    Memory,
    /// A SQLite database in a temporary folder.
    Dir(tempfile::TempDir),
    /// A fresh database on the test PostgreSQL server.
    #[cfg(feature = "postgres")]
    Postgres(vigie_testdata::postgres::TestDatabase),
}

impl Place {
    fn open(&self) -> Store {
        match self {
            Place::Memory => Store::open_in_memory().unwrap(),
            Place::Dir(dir) => Store::open(dir.path()).unwrap(),
            #[cfg(feature = "postgres")]
            Place::Postgres(db) => Store::open_url(&db.url()).unwrap(),
        }
    }
}

/// Runs each named test, `fn name(place: &Place)`, on the place `$place`
/// gives (`None`: skipped, as when PostgreSQL is not installed).
macro_rules! backend_tests {
    ($module:ident, $place:expr; $($name:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let place: Option<Place> = $place;
                    let Some(place) = place else { return };
                    super::$name(&place);
                }
            )*
        }
    };
}

/// The tests that need one handle: SQLite in memory.
macro_rules! memory_tests {
    ($module:ident, $place:expr) => {
        backend_tests!($module, $place;
    values_round_trip_exactly_staged_and_compacted,
    non_finite_values_are_refused_with_a_clear_error,
    misaligned_bins_duplicates_and_bad_sources_are_refused,
    staged_bins_and_chunks_merge_on_read,
    compaction_is_idempotent,
    rewriting_a_bin_is_idempotent_and_keeps_other_series,
    later_writes_win_across_sources_and_imports,
    write_points_spans_days_and_bin_sizes,
    unknown_series_read_as_no_data,
    listing_merges_chunks_and_staged_bins,
    last_committed_bin_is_the_latest_in_time,
    inputs_done_round_trip,
    listing_is_the_same_staged_or_compacted_across_blocks,
        );
    };
}

/// The tests that reopen their store or use several handles at once.
macro_rules! shared_tests {
    ($module:ident, $place:expr) => {
        backend_tests!($module, $place;
    a_reader_and_a_writer_work_at_once,
    two_writers_take_turns_and_a_log_reader_misses_none,
    as_countries_are_replaced_and_listed_largest_first,
    annotations_are_stored_and_listed_by_entity_and_time,
    outbox_enqueues_once_and_tracks_each_delivery,
    probe_block_changes_are_kept_for_drill_down,
    an_older_separate_block_log_is_imported_once,
        );
    };
}

memory_tests!(sqlite_memory, Some(Place::Memory));
shared_tests!(sqlite_dir, Some(Place::Dir(tempfile::tempdir().unwrap())));
// The same assertions on PostgreSQL: the same results on every read.
#[cfg(feature = "postgres")]
memory_tests!(
    postgres,
    vigie_testdata::postgres::test_database().map(Place::Postgres)
);
#[cfg(feature = "postgres")]
shared_tests!(
    postgres_shared,
    vigie_testdata::postgres::test_database().map(Place::Postgres)
);

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse().unwrap(),
        signal,
    }
}

fn bgp(entity: &str) -> SeriesKey {
    key(entity, SignalKind::BgpVisibleSlash24s)
}

fn range(from: UnixSecs, until: UnixSecs) -> TimeRange {
    TimeRange::new(from, until).unwrap()
}

fn bits(values: &[Option<f64>]) -> Vec<Option<u64>> {
    values.iter().map(|v| v.map(f64::to_bits)).collect()
}

fn read(store: &Store, key: &SeriesKey, from: UnixSecs, bins: i64) -> Vec<Option<f64>> {
    store
        .read_series(key, BIN, range(from, from + bins * 300))
        .unwrap()
        .values
}

fn values_round_trip_exactly_staged_and_compacted(place: &Place) {
    let mut store = place.open();
    let values = [
        None,
        Some(0.0),
        Some(-0.0),
        Some(2917.0),
        Some(4.4),
        Some(0.5433471067577657),
        Some(3_112_278_020.0),
        Some(f64::MAX),
        Some(5e-324),
        Some(-1.5),
    ];
    let kz = bgp("KZ");
    for (i, value) in values.iter().enumerate() {
        store
            .write_bin("test", BIN, DAY + i as i64 * 300, &[(kz.clone(), *value)])
            .unwrap();
    }
    let staged = read(&store, &kz, DAY, values.len() as i64);
    assert_eq!(bits(&staged), bits(&values));
    assert_eq!(store.staged_bin_count().unwrap(), values.len() as u64);
    store.compact().unwrap();
    assert_eq!(store.staged_bin_count().unwrap(), 0);
    let compacted = read(&store, &kz, DAY, values.len() as i64);
    assert_eq!(bits(&compacted), bits(&values));
    assert_eq!(compacted[0], None);
    assert_eq!(compacted[1], Some(0.0));
    assert!(compacted[2].unwrap().is_sign_negative());
}

fn non_finite_values_are_refused_with_a_clear_error(place: &Place) {
    let mut store = place.open();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = store
            .write_bin(
                "test",
                BIN,
                DAY,
                &[(bgp("KZ"), Some(1.0)), (bgp("IQ"), Some(bad))],
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::NonFiniteValue { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("IQ/bgp") && message.contains("2022-01-05T00:00:00Z"),
            "{message}"
        );
        assert!(message.contains("not a finite number"), "{message}");
        let err = store
            .write_points(&bgp("KZ"), BIN, &[(DAY, Some(bad))])
            .unwrap_err();
        assert!(matches!(err, StoreError::NonFiniteValue { .. }), "{err}");
    }
    // Nothing of the refused bins was written.
    assert_eq!(read(&store, &bgp("KZ"), DAY, 1), vec![None]);
    assert_eq!(store.last_committed_bin("test").unwrap(), None);
}

fn misaligned_bins_duplicates_and_bad_sources_are_refused(place: &Place) {
    let mut store = place.open();
    let err = store
        .write_bin("test", BIN, DAY + 1, &[(bgp("KZ"), Some(1.0))])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MisalignedBin { bin_secs: 300, .. }),
        "{err}"
    );
    let err = store
        .write_points(&bgp("KZ"), BIN, &[(DAY + 299, Some(1.0))])
        .unwrap_err();
    assert!(matches!(err, StoreError::MisalignedBin { .. }), "{err}");
    let err = store
        .write_bin(
            "test",
            BIN,
            DAY,
            &[
                (bgp("KZ"), Some(1.0)),
                (bgp("IQ"), None),
                (bgp("KZ"), Some(2.0)),
            ],
        )
        .unwrap_err();
    assert!(err.to_string().contains("KZ/bgp appears twice"), "{err}");
    assert!(matches!(
        store.write_bin("", BIN, DAY, &[]).unwrap_err(),
        StoreError::BadSourceName(_)
    ));
    // The refused write left nothing behind and the store still works.
    assert_eq!(store.last_committed_bin("test").unwrap(), None);
    assert!(!store.has_entity(&"KZ".parse().unwrap()).unwrap());
    store
        .write_bin("test", BIN, DAY, &[(bgp("KZ"), Some(1.0))])
        .unwrap();
    assert_eq!(read(&store, &bgp("KZ"), DAY, 1), vec![Some(1.0)]);
}

fn staged_bins_and_chunks_merge_on_read(place: &Place) {
    let mut store = place.open();
    let kz = bgp("KZ");
    // Day one, compacted.
    for i in 0..288 {
        store
            .write_bin(
                "bgp-mrt",
                BIN,
                DAY + i * 300,
                &[(kz.clone(), Some(1000.0 + i as f64))],
            )
            .unwrap();
    }
    store.compact().unwrap();
    // The first bins of day two, staged; and a correction of a compacted bin.
    for i in 288..300 {
        store
            .write_bin(
                "bgp-mrt",
                BIN,
                DAY + i * 300,
                &[(kz.clone(), Some(1000.0 + i as f64))],
            )
            .unwrap();
    }
    store
        .write_bin("fix", BIN, DAY + 10 * 300, &[(kz.clone(), Some(7.0))])
        .unwrap();
    let series = store
        .read_series(&kz, BIN, range(DAY - 600, DAY + 301 * 300))
        .unwrap();
    assert_eq!(series.start, DAY - 600);
    assert_eq!(series.values.len(), 303);
    assert_eq!(series.values[0], None);
    assert_eq!(series.values[1], None);
    assert_eq!(series.get(DAY), Some(1000.0));
    assert_eq!(series.get(DAY + 10 * 300), Some(7.0));
    assert_eq!(series.get(DAY + 287 * 300), Some(1287.0));
    assert_eq!(series.get(DAY + 299 * 300), Some(1299.0));
    assert_eq!(series.get(DAY + 300 * 300), None);
    // A range inside one chunk, not starting at midnight.
    let inner = store
        .read_series(&kz, BIN, range(DAY + 3600 + 17, DAY + 7200))
        .unwrap();
    assert_eq!(inner.start, DAY + 3600);
    assert_eq!(inner.values.len(), 12);
    assert_eq!(inner.values[0], Some(1012.0));
    // After compaction the same values come from chunks alone.
    store.compact().unwrap();
    let again = store
        .read_series(&kz, BIN, range(DAY - 600, DAY + 301 * 300))
        .unwrap();
    assert_eq!(again, series);
}

fn compaction_is_idempotent(place: &Place) {
    let mut store = place.open();
    let keys: Vec<SeriesKey> = ["KZ", "IQ", "AS9198", "KZ/Almaty"]
        .iter()
        .map(|e| bgp(e))
        .collect();
    for i in 0..400 {
        let values: Vec<(SeriesKey, Option<f64>)> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                (
                    key.clone(),
                    (i % 7 != k as i64).then_some((i / 10 * k as i64) as f64),
                )
            })
            .collect();
        store
            .write_bin("test", BIN, DAY + i * 300, &values)
            .unwrap();
    }
    let before: Vec<_> = keys.iter().map(|k| read(&store, k, DAY, 400)).collect();
    store.compact().unwrap();
    let footprint = store.chunk_footprint();
    let listed = store.list_series().unwrap();
    store.compact().unwrap();
    store.compact().unwrap();
    assert_eq!(store.chunk_footprint(), footprint);
    assert_eq!(store.list_series().unwrap(), listed);
    let after: Vec<_> = keys.iter().map(|k| read(&store, k, DAY, 400)).collect();
    assert_eq!(before, after);
    // 4 series over two days.
    assert_eq!(footprint.0, 8);
}

fn rewriting_a_bin_is_idempotent_and_keeps_other_series(place: &Place) {
    let mut store = place.open();
    let (kz, iq) = (bgp("KZ"), bgp("IQ"));
    let bin = [(kz.clone(), Some(5.0)), (iq.clone(), Some(0.0))];
    store.write_bin("s", BIN, DAY, &bin).unwrap();
    store.write_bin("s", BIN, DAY, &bin).unwrap();
    assert_eq!(store.staged_bin_count().unwrap(), 1);
    assert_eq!(read(&store, &kz, DAY, 1), vec![Some(5.0)]);
    store.compact().unwrap();
    let footprint = store.chunk_footprint();
    // A rerun after compaction: the same bins, the same values.
    store.write_bin("s", BIN, DAY, &bin).unwrap();
    store.compact().unwrap();
    assert_eq!(store.chunk_footprint(), footprint);
    assert_eq!(read(&store, &iq, DAY, 1), vec![Some(0.0)]);

    // A rewrite naming only KZ changes KZ and keeps IQ, staged or compacted.
    store.write_bin("s", BIN, DAY + 300, &bin).unwrap();
    store
        .write_bin("s", BIN, DAY + 300, &[(kz.clone(), None)])
        .unwrap();
    assert_eq!(read(&store, &kz, DAY, 2), vec![Some(5.0), None]);
    assert_eq!(read(&store, &iq, DAY, 2), vec![Some(0.0), Some(0.0)]);
    store.compact().unwrap();
    store
        .write_bin("s", BIN, DAY, &[(kz.clone(), Some(6.0))])
        .unwrap();
    assert_eq!(read(&store, &kz, DAY, 2), vec![Some(6.0), None]);
    assert_eq!(read(&store, &iq, DAY, 2), vec![Some(0.0), Some(0.0)]);
    store.compact().unwrap();
    assert_eq!(read(&store, &kz, DAY, 2), vec![Some(6.0), None]);
    assert_eq!(read(&store, &iq, DAY, 2), vec![Some(0.0), Some(0.0)]);
}

fn later_writes_win_across_sources_and_imports(place: &Place) {
    let mut store = place.open();
    let kz = bgp("KZ");
    store
        .write_bin("a", BIN, DAY, &[(kz.clone(), Some(1.0))])
        .unwrap();
    store
        .write_bin("b", BIN, DAY, &[(kz.clone(), Some(2.0))])
        .unwrap();
    assert_eq!(read(&store, &kz, DAY, 1), vec![Some(2.0)]);
    // Rewriting source a's bin makes it the latest write.
    store
        .write_bin("a", BIN, DAY, &[(kz.clone(), Some(3.0))])
        .unwrap();
    assert_eq!(read(&store, &kz, DAY, 1), vec![Some(3.0)]);
    // An import after staged writes wins over them, before and after compaction.
    store
        .write_bin("a", BIN, DAY + 300, &[(kz.clone(), Some(4.0))])
        .unwrap();
    store
        .write_points(
            &kz,
            BIN,
            &[
                (DAY + 300, Some(40.0)),
                (DAY + 600, Some(50.0)),
                (DAY + 600, Some(60.0)),
            ],
        )
        .unwrap();
    assert_eq!(
        read(&store, &kz, DAY, 3),
        vec![Some(3.0), Some(40.0), Some(60.0)]
    );
    store.compact().unwrap();
    assert_eq!(
        read(&store, &kz, DAY, 3),
        vec![Some(3.0), Some(40.0), Some(60.0)]
    );
    // A staged write after the import wins over it.
    store
        .write_bin("a", BIN, DAY + 600, &[(kz.clone(), Some(0.0))])
        .unwrap();
    assert_eq!(
        read(&store, &kz, DAY, 3),
        vec![Some(3.0), Some(40.0), Some(0.0)]
    );
}

fn write_points_spans_days_and_bin_sizes(place: &Place) {
    let mut store = place.open();
    let gtr = key("IQ", SignalKind::GoogleTraffic);
    let points: Vec<(UnixSecs, Option<f64>)> = (0..1000)
        .map(|i| (DAY + i * 300, (i % 3 != 0).then_some(i as f64 * 0.25)))
        .collect();
    store.write_points(&gtr, BIN, &points).unwrap();
    let series = store
        .read_series(&gtr, BIN, range(DAY, DAY + 1000 * 300))
        .unwrap();
    assert_eq!(series.points().collect::<Vec<_>>(), points);
    // The same key at an hourly bin size is another series.
    let hourly = BinSize::new(3600).unwrap();
    assert_eq!(
        store
            .read_series(&gtr, hourly, range(DAY, DAY + 3600))
            .unwrap()
            .values,
        vec![None]
    );
    store
        .write_points(&gtr, hourly, &[(DAY, Some(9.0))])
        .unwrap();
    assert_eq!(
        store
            .read_series(&gtr, hourly, range(DAY, DAY + 3600))
            .unwrap()
            .values,
        vec![Some(9.0)]
    );
    assert_eq!(
        store
            .read_series(&gtr, BIN, range(DAY, DAY + 300))
            .unwrap()
            .values,
        vec![None]
    );
    assert_eq!(store.list_series().unwrap().len(), 2);
    // Writing "no data" over a whole day removes its chunk.
    let footprint = store.chunk_footprint();
    let clear: Vec<(UnixSecs, Option<f64>)> = (0..288).map(|i| (DAY + i * 300, None)).collect();
    store.write_points(&gtr, BIN, &clear).unwrap();
    assert_eq!(store.chunk_footprint().0, footprint.0 - 1);
    let info = store
        .list_series()
        .unwrap()
        .into_iter()
        .find(|s| s.bin == BIN)
        .unwrap();
    assert_eq!(info.first_bin, Some(DAY + 288 * 300 + 300));
}

#[test]
fn reversed_ranges_cannot_be_asked_for() {
    assert!(TimeRange::new(DAY, DAY).is_err());
    assert!(TimeRange::new(DAY + 300, DAY).is_err());
}

fn unknown_series_read_as_no_data(place: &Place) {
    let mut store = place.open();
    let series = store
        .read_series(&bgp("KZ"), BIN, range(DAY, DAY + 86_400))
        .unwrap();
    assert_eq!(series.values.len(), 288);
    assert_eq!(series.count_with_data(), 0);
    store
        .write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(1.0))])
        .unwrap();
    let other_signal = key("KZ", SignalKind::ProbeUpSlash24s);
    assert_eq!(
        store
            .read_series(&other_signal, BIN, range(DAY, DAY + 600))
            .unwrap()
            .values,
        vec![None, None]
    );
}

fn listing_merges_chunks_and_staged_bins(place: &Place) {
    let mut store = place.open();
    let (kz, iq, as9198) = (bgp("KZ"), bgp("IQ"), bgp("AS9198"));
    let probe = key("KZ", SignalKind::ProbeUpSlash24s);
    for i in 0..10 {
        store
            .write_bin(
                "bgp",
                BIN,
                DAY + i * 300,
                &[
                    (kz.clone(), Some(100.0 + i as f64)),
                    (iq.clone(), (i < 5).then_some(50.0)),
                    (as9198.clone(), None),
                ],
            )
            .unwrap();
    }
    store.compact().unwrap();
    store
        .write_bin(
            "bgp",
            BIN,
            DAY + 10 * 300,
            &[(kz.clone(), Some(0.0)), (iq.clone(), None)],
        )
        .unwrap();
    // A staged "no data" over the compacted last bin of KZ/probe.
    store
        .write_points(&probe, BIN, &[(DAY, Some(1.0)), (DAY + 300, Some(2.0))])
        .unwrap();
    store
        .write_bin("probe", BIN, DAY + 300, &[(probe.clone(), None)])
        .unwrap();

    let list = store.list_series().unwrap();
    let get = |k: &SeriesKey| list.iter().find(|s| &s.key == k).unwrap().clone();
    let kz_info = get(&kz);
    assert_eq!(
        (kz_info.first_bin, kz_info.last_bin, kz_info.latest_value),
        (Some(DAY), Some(DAY + 3000), Some(0.0))
    );
    let iq_info = get(&iq);
    assert_eq!(
        (iq_info.first_bin, iq_info.last_bin, iq_info.latest_value),
        (Some(DAY), Some(DAY + 1200), Some(50.0))
    );
    let as_info = get(&as9198);
    assert_eq!(
        (as_info.first_bin, as_info.last_bin, as_info.latest_value),
        (None, None, None)
    );
    let probe_info = get(&probe);
    assert_eq!(
        (
            probe_info.first_bin,
            probe_info.last_bin,
            probe_info.latest_value
        ),
        (Some(DAY), Some(DAY), Some(1.0))
    );
    // The same answers once everything is compacted.
    store.compact().unwrap();
    assert_eq!(store.list_series().unwrap(), list);

    store
        .set_entity_name(&"AS9198".parse().unwrap(), " JSC Kazakhtelecom ")
        .unwrap();
    store
        .set_entity_names(&[
            ("KZ".parse().unwrap(), "Kazakhstan".to_string()),
            ("AS48503".parse().unwrap(), "Tele2".to_string()),
        ])
        .unwrap();
    let entities = store.entities().unwrap();
    let names: Vec<(String, Option<String>, usize)> = entities
        .iter()
        .map(|e| (e.entity.to_string(), e.name.clone(), e.signals.len()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("IQ".to_string(), None, 1),
            ("KZ".to_string(), Some("Kazakhstan".to_string()), 2),
            (
                "AS9198".to_string(),
                Some("JSC Kazakhtelecom".to_string()),
                1
            ),
        ]
    );
    let kz_signals = &entities[1].signals;
    assert_eq!(kz_signals[0].signal, SignalKind::BgpVisibleSlash24s);
    assert_eq!(
        (kz_signals[0].latest_time, kz_signals[0].latest_value),
        (Some(DAY + 3000), Some(0.0))
    );
    // Every name, from the entities table alone: a name without a series too.
    let named = |store: &Store| -> Vec<(String, String)> {
        store
            .entity_names()
            .unwrap()
            .into_iter()
            .map(|(e, n)| (e.to_string(), n))
            .collect()
    };
    assert_eq!(
        named(&store),
        [
            ("KZ".to_string(), "Kazakhstan".to_string()),
            ("AS9198".to_string(), "JSC Kazakhtelecom".to_string()),
            ("AS48503".to_string(), "Tele2".to_string()),
        ]
    );
    // A name alone does not make an entity known.
    assert!(store.has_entity(&"AS9198".parse().unwrap()).unwrap());
    assert!(!store.has_entity(&"AS48503".parse().unwrap()).unwrap());
    assert!(!store.has_entity(&"FR".parse().unwrap()).unwrap());
    assert_eq!(
        store
            .entity_name(&"AS48503".parse().unwrap())
            .unwrap()
            .as_deref(),
        Some("Tele2")
    );
    store
        .set_entity_name(&"AS48503".parse().unwrap(), "")
        .unwrap();
    assert_eq!(
        store.entity_name(&"AS48503".parse().unwrap()).unwrap(),
        None
    );
    assert_eq!(named(&store).len(), 2, "a cleared name is not listed");
}

fn last_committed_bin_is_the_latest_in_time(place: &Place) {
    let mut store = place.open();
    assert_eq!(store.last_committed_bin("bgp-mrt").unwrap(), None);
    store.write_bin("bgp-mrt", BIN, DAY + 600, &[]).unwrap();
    store
        .write_bin("bgp-mrt", BIN, DAY, &[(bgp("KZ"), Some(1.0))])
        .unwrap();
    store.write_bin("probe", BIN, DAY + 900, &[]).unwrap();
    assert_eq!(
        store.last_committed_bin("bgp-mrt").unwrap(),
        Some(DAY + 600)
    );
    assert_eq!(store.last_committed_bin("probe").unwrap(), Some(DAY + 900));
}

fn inputs_done_round_trip(place: &Place) {
    let mut store = place.open();
    let mut input = InputRecord {
        path: "/data/rrc00/updates.20220105.1030.gz".to_string(),
        size_bytes: 1_234_567,
        mtime: DAY,
        records: 40_000,
        errors: 2,
    };
    store.record_input_done("bgp-mrt", &input).unwrap();
    input.records = 40_001;
    store.record_input_done("bgp-mrt", &input).unwrap();
    let other = InputRecord {
        path: "/data/a.gz".to_string(),
        ..input.clone()
    };
    store.record_input_done("bgp-mrt", &other).unwrap();
    assert_eq!(
        store.inputs_done("bgp-mrt").unwrap(),
        vec![other, input.clone()]
    );
    assert!(store.inputs_done("probe").unwrap().is_empty());
    input.size_bytes = u64::MAX;
    assert!(matches!(
        store.record_input_done("x", &input),
        Err(StoreError::TooLarge { .. })
    ));
}

#[test]
fn open_creates_the_directory_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    {
        let mut store = Store::open(&data_dir).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
        store
            .write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(3.0))])
            .unwrap();
    }
    assert!(data_dir.join(DB_FILE_NAME).is_file());
    let store = Store::open(&data_dir).unwrap();
    assert!(store.location().ends_with(DB_FILE_NAME));
    assert_eq!(read(&store, &bgp("KZ"), DAY, 1), vec![Some(3.0)]);
    let mode: String = store
        .sqlite()
        .connection()
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

fn open_with(path: &Path, migrations: &[&str]) -> Result<SqliteStore, StoreError> {
    let conn = Connection::open(path).unwrap();
    SqliteStore::setup_with(conn, path.display().to_string(), true, migrations)
}

#[test]
fn an_old_database_is_upgraded_by_appended_migrations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        store
            .write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(3.0))])
            .unwrap();
    }
    let path = dir.path().join(DB_FILE_NAME);
    // A later vigie appends a step: the version-1 file is upgraded, data kept.
    let mut next: Vec<&str> = MIGRATIONS.to_vec();
    next.push("CREATE TABLE future_notes (annotation_id INTEGER PRIMARY KEY, note TEXT NOT NULL);");
    let upgraded = open_with(&path, &next).unwrap();
    assert_eq!(
        upgraded.schema_version().unwrap(),
        MIGRATIONS.len() as u32 + 1
    );
    upgraded
        .connection()
        .execute("INSERT INTO future_notes (note) VALUES ('x')", [])
        .unwrap();
    drop(upgraded);
    // Opening it again with the same list changes nothing.
    assert_eq!(
        open_with(&path, &next).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as u32 + 1
    );

    // A failing step leaves the file at its previous version.
    let dir2 = tempfile::tempdir().unwrap();
    drop(Store::open(dir2.path()).unwrap());
    let path2 = dir2.path().join(DB_FILE_NAME);
    let mut broken: Vec<&str> = MIGRATIONS.to_vec();
    broken.push("CREATE TABLE ok_step (x INTEGER); CREATE TABLE nonsense (;");
    let err = open_with(&path2, &broken).err().unwrap();
    assert!(
        matches!(err, StoreError::MigrationFailed { version, .. } if version as usize == MIGRATIONS.len() + 1),
        "{err}"
    );
    let store = Store::open(dir2.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let leftover: i64 = store
        .sqlite()
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'ok_step'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leftover, 0);
}

#[test]
fn a_database_from_a_newer_vigie_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let mut next: Vec<&str> = MIGRATIONS.to_vec();
    next.push("CREATE TABLE from_the_future (x INTEGER);");
    drop(open_with(&path, &next).unwrap());
    let err = Store::open(dir.path()).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found,
                supported,
                ..
            } if found as usize == MIGRATIONS.len() + 1 && supported as usize == MIGRATIONS.len()
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("schema version {}", MIGRATIONS.len() + 1))
            && message.contains("upgrade vigie"),
        "{message}"
    );
}

#[test]
fn a_file_that_is_not_a_vigie_database_is_refused() {
    // Not SQLite at all.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(DB_FILE_NAME),
        b"timestamp,gtr,bgp\n1692493200,,2917\n".repeat(200),
    )
    .unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    println!("not SQLite: {err}");
    assert!(matches!(err, StoreError::NotAVigieDatabase { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("move it away") && message.contains("--data-dir"),
        "{message}"
    );
    // The file was left untouched.
    assert!(std::fs::read(dir.path().join(DB_FILE_NAME))
        .unwrap()
        .starts_with(b"timestamp,"));

    // Another program's SQLite database.
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(DB_FILE_NAME))
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY);")
        .unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    assert!(err.to_string().contains("another program"), "{err}");

    // An empty file is a new database.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE_NAME), b"").unwrap();
    assert_eq!(
        Store::open(dir.path()).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as u32
    );

    // A directory in its place.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(DB_FILE_NAME)).unwrap();
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::NotAVigieDatabase { .. })
    ));
}

#[test]
fn a_damaged_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        let values: Vec<(SeriesKey, Option<f64>)> = (1..3000)
            .map(|asn| (bgp(&format!("AS{asn}")), Some(asn as f64)))
            .collect();
        store.write_bin("s", BIN, DAY, &values).unwrap();
        store.compact().unwrap();
        store
            .sqlite()
            .connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    // Overwrite the middle of the file (table pages) with garbage.
    let path = dir.path().join(DB_FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[4096..len - 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let result = Store::open(dir.path()).and_then(|store| {
        store.list_series()?;
        store.read_series(&bgp("AS100"), BIN, range(DAY, DAY + 300))
    });
    let err = result.err().unwrap();
    println!("damaged database: {err}");
    assert!(
        matches!(
            err,
            StoreError::Corrupt { .. } | StoreError::NotAVigieDatabase { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("move it away"), "{err}");
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(&file).err().unwrap();
    assert!(
        matches!(err, StoreError::DataDirNotWritable { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("choose another --data-dir"),
        "{err}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let read_only = dir.path().join("read-only");
        std::fs::create_dir(&read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(read_only.join("probe"), b"x").is_ok() {
            println!("SKIP read-only directory case: this user (root?) can write anywhere");
        } else {
            let err = Store::open(&read_only).err().unwrap();
            assert!(
                matches!(err, StoreError::DataDirNotWritable { .. }),
                "{err}"
            );
        }
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn a_reader_and_a_writer_work_at_once(place: &Place) {
    let keys: Vec<SeriesKey> = (1..=200).map(|asn| bgp(&format!("AS{asn}"))).collect();
    let mut writer = place.open();
    let writer_keys = keys.clone();
    let bins = 150;
    let handle = std::thread::spawn(move || {
        for i in 0..bins {
            let values: Vec<_> = writer_keys
                .iter()
                .map(|k| (k.clone(), Some(i as f64)))
                .collect();
            writer.write_bin("s", BIN, DAY + i * 300, &values).unwrap();
            if i % 40 == 39 {
                writer.compact().unwrap();
            }
        }
    });
    let reader = place.open();
    let mut reads = 0;
    loop {
        let finished = handle.is_finished();
        let committed = reader.last_committed_bin("s").unwrap();
        // Every bin committed before the read is there, whole and exact.
        let series = reader
            .read_series(&keys[150], BIN, range(DAY, DAY + bins * 300))
            .unwrap();
        if let Some(last) = committed {
            let n = ((last - DAY) / 300 + 1) as usize;
            for (i, value) in series.values.iter().take(n).enumerate() {
                assert_eq!(*value, Some(i as f64), "bin {i} of {n}");
            }
        }
        reads += 1;
        if finished {
            break;
        }
    }
    handle.join().unwrap();
    assert!(reads > 1);
    assert_eq!(
        reader
            .read_series(&keys[0], BIN, range(DAY, DAY + bins * 300))
            .unwrap()
            .count_with_data(),
        150
    );
}

#[test]
fn store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

/// Bytes per point of the chunk encoding on real IODA signals (Iraq, 5-min).
#[test]
fn bytes_per_point_on_real_ioda_signals() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/signals/ioda_country_IQ_iraq.csv"
    );
    if !Path::new(path).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{path} is missing: CI must have the shared data");
        }
        println!("SKIP bytes_per_point_on_real_ioda_signals: {path} is absent");
        return;
    }
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let signals = ["gtr", "gtr-norm", "merit-nt", "bgp", "ping-slash24"];
    let columns: Vec<usize> = signals
        .iter()
        .map(|s| headers.iter().position(|h| h == *s).unwrap())
        .collect();
    let mut points: Vec<Vec<(UnixSecs, Option<f64>)>> = vec![Vec::new(); signals.len()];
    for record in reader.records() {
        let record = record.unwrap();
        let t: UnixSecs = record[0].parse().unwrap();
        for (s, &column) in columns.iter().enumerate() {
            let value = record.get(column).and_then(|v| v.parse::<f64>().ok());
            points[s].push((t, value));
        }
    }
    let entity: Entity = "IQ".parse().unwrap();
    println!("chunk encoding on {path}:");
    for (s, signal) in signals.iter().enumerate() {
        let mut store = Store::open_in_memory().unwrap();
        let key = SeriesKey {
            entity: entity.clone(),
            signal: signal.parse().unwrap(),
        };
        store.write_points(&key, BIN, &points[s]).unwrap();
        let (chunks, bytes) = store.sqlite().chunk_footprint();
        let n = points[s].len();
        let with_data = points[s].iter().filter(|p| p.1.is_some()).count();
        let bpp = bytes as f64 / n as f64;
        println!("  {signal:<13} {n} bins ({with_data} with data), {chunks} chunks, {bytes} bytes: {bpp:.2} bytes/point");
        // Read back exactly.
        let first = points[s][0].0;
        let series = store
            .read_series(&key, BIN, range(first, first + n as i64 * 300))
            .unwrap();
        assert_eq!(
            bits(&series.values),
            bits(&points[s].iter().map(|p| p.1).collect::<Vec<_>>())
        );
        if *signal == "bgp" {
            assert!(
                bpp < 2.0,
                "bgp counts should pack below 2 bytes/point, got {bpp}"
            );
        }
        assert!(bpp < 9.5, "{signal}: {bpp} bytes/point");
    }
}

fn listing_is_the_same_staged_or_compacted_across_blocks(place: &Place) {
    let mut store = place.open();
    // Enough series for three staged blocks; some have data only in early
    // bins, some only in late ones, some never.
    let keys: Vec<SeriesKey> = (1..=2500).map(|asn| bgp(&format!("AS{asn}"))).collect();
    let value = |s: usize, i: i64| -> Option<f64> {
        match s % 4 {
            0 => (i < 5).then_some(s as f64),
            1 => (i >= 20).then_some(i as f64),
            2 => None,
            _ => Some((s as i64 * i) as f64),
        }
    };
    for i in 0..30 {
        let values: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(s, k)| (k.clone(), value(s, i)))
            .collect();
        store
            .write_bin("s", BIN, DAY + 86_400 - 900 + i * 300, &values)
            .unwrap();
    }
    let staged = store.list_series().unwrap();
    assert_eq!(staged.len(), keys.len());
    for info in &staged {
        let Entity::Asn(asn) = info.key.entity else {
            panic!("not an AS")
        };
        let s = asn as usize - 1;
        let times: Vec<i64> = (0..30).filter(|&i| value(s, i).is_some()).collect();
        let first = times.first().map(|i| DAY + 86_400 - 900 + i * 300);
        let last = times.last().map(|i| DAY + 86_400 - 900 + i * 300);
        assert_eq!((info.first_bin, info.last_bin), (first, last), "AS{asn}");
        assert_eq!(
            info.latest_value,
            times.last().and_then(|&i| value(s, i)),
            "AS{asn}"
        );
    }
    // One entity's series alone list as the whole listing lists them.
    let entity_series = |store: &Store| -> Vec<Vec<crate::SeriesInfo>> {
        [1, 1024, 1025, 2500, 4000]
            .iter()
            .map(|asn| store.entity_series(&Entity::Asn(*asn)).unwrap())
            .collect()
    };
    let alone = entity_series(&store);
    for (asn, listed) in [1u32, 1024, 1025, 2500].iter().zip(&alone) {
        let expected: Vec<_> = staged
            .iter()
            .filter(|i| i.key.entity == Entity::Asn(*asn))
            .cloned()
            .collect();
        assert_eq!(listed, &expected, "AS{asn}");
    }
    assert!(alone[4].is_empty());
    store.compact().unwrap();
    assert_eq!(store.list_series().unwrap(), staged);
    assert_eq!(entity_series(&store), alone);
}

#[test]
fn a_version_1_database_gains_the_result_tables_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    {
        let mut v1 = open_with(&path, &MIGRATIONS[..1]).unwrap();
        assert_eq!(v1.schema_version().unwrap(), 1);
        v1.write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(3.0))])
            .unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let range = TimeRange::new(DAY, DAY + 300).unwrap();
    assert_eq!(
        store.read_series(&bgp("KZ"), BIN, range).unwrap().values,
        vec![Some(3.0)]
    );

    let kz: Entity = "KZ".parse().unwrap();
    let label = StoredLabel {
        entity: kz.clone(),
        start: DAY,
        end: DAY + 3600,
        source: "truth.csv".into(),
    };
    assert_eq!(
        store.add_labels(&[label.clone(), label.clone()]).unwrap(),
        1
    );
    assert_eq!(store.labels(&ResultFilter::default()).unwrap(), vec![label]);

    let event = |start: i64, end: Option<i64>| StoredEvent {
        method: "vigie".into(),
        key: bgp("KZ"),
        bin: BIN,
        start,
        end,
        depth: Some(0.9),
        score: Some(1.5e6),
        detail: "{}".into(),
    };
    store
        .replace_events(
            "vigie",
            &bgp("KZ"),
            BIN,
            &[event(DAY, Some(DAY + 600)), event(DAY + 7200, None)],
        )
        .unwrap();
    // A rerun replaces, not appends.
    store
        .replace_events(
            "vigie",
            &bgp("KZ"),
            BIN,
            &[event(DAY, Some(DAY + 600)), event(DAY + 7200, None)],
        )
        .unwrap();
    assert_eq!(store.event_count("vigie").unwrap(), 2);
    let later = ResultFilter {
        from: Some(DAY + 3600),
        ..ResultFilter::default()
    };
    assert_eq!(
        store.events(&later).unwrap(),
        vec![event(DAY + 7200, None)],
        "ongoing events match any later range"
    );
    let other = ResultFilter {
        entity: Some("IQ".parse().unwrap()),
        ..ResultFilter::default()
    };
    assert!(store.events(&other).unwrap().is_empty());

    let incident = StoredIncident {
        method: "vigie".into(),
        entity: kz.clone(),
        start: DAY,
        end: None,
        detail: "{\"scope\":\"nationwide\"}".into(),
    };
    store
        .replace_incidents("vigie", &kz, std::slice::from_ref(&incident))
        .unwrap();
    assert_eq!(
        store.incidents(&ResultFilter::default()).unwrap(),
        vec![incident]
    );
}

fn as_countries_are_replaced_and_listed_largest_first(place: &Place) {
    let mut store = place.open();
    let kz = vigie_model::CountryCode::new("KZ").unwrap();
    let uz = vigie_model::CountryCode::new("UZ").unwrap();
    let row = |asn, country, units_v4| crate::AsCountrySpace {
        asn,
        country,
        units_v4,
        units_v6: 1,
        observed_at: 1_641_340_800,
    };
    store
        .replace_as_countries(&[row(1, kz, 5), row(2, kz, 50), row(2, uz, 3), row(1, kz, 5)])
        .unwrap();
    let in_kz = store.as_countries(Some(kz), None).unwrap();
    // The two rows for AS1 in KZ are summed; the largest AS comes first.
    assert_eq!(
        in_kz
            .iter()
            .map(|r| (r.asn, r.units_v4, r.units_v6))
            .collect::<Vec<_>>(),
        vec![(2, 50, 1), (1, 10, 2)]
    );
    assert_eq!(store.as_countries(None, Some(2)).unwrap().len(), 2);
    // A newer table replaces the old one; the link survives a reopen.
    store.replace_as_countries(&[row(3, uz, 7)]).unwrap();
    drop(store);
    let store = place.open();
    assert_eq!(store.as_countries(None, None).unwrap(), vec![row(3, uz, 7)]);
}

fn annotations_are_stored_and_listed_by_entity_and_time(place: &Place) {
    let mut store = place.open();
    let note = |entity: &str, time, end, text: &str| crate::NewStoredAnnotation {
        entity: entity.parse().unwrap(),
        time,
        end,
        text: text.into(),
        url: Some("https://example.org/a".into()),
        author: "cli".into(),
        created_at: 5,
    };
    let iq = store
        .add_annotation(&note("IQ", 1000, None, "exam day"))
        .unwrap();
    let kz = store
        .add_annotation(&note("KZ", 2000, Some(2600), "address"))
        .unwrap();
    assert_ne!(iq, kz);
    drop(store);
    let store = place.open();
    let all = store.annotations(None, None, None).unwrap();
    assert_eq!(
        all.iter().map(|a| a.text.as_str()).collect::<Vec<_>>(),
        ["exam day", "address"]
    );
    let kz_entity: Entity = "KZ".parse().unwrap();
    // A span overlapping the range is listed; an instant covers one second.
    let found = store
        .annotations(Some(&kz_entity), Some(2500), Some(3000))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].id, found[0].end, found[0].url.as_deref()),
        (kz, Some(2600), Some("https://example.org/a"))
    );
    assert!(store
        .annotations(None, Some(1001), Some(1999))
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .annotations(None, Some(1000), Some(1001))
            .unwrap()
            .len(),
        1
    );
    let one = store.annotation(iq).unwrap().unwrap();
    assert_eq!((one.entity.to_string(), one.time), ("IQ".to_string(), 1000));
    assert_eq!(store.annotation(999).unwrap(), None);
}

fn outbox_enqueues_once_and_tracks_each_delivery(place: &Place) {
    let mut store = place.open();
    let iq: Entity = "IQ".parse().unwrap();
    let notices = ["start".to_string(), "end".to_string()];
    let sub = store
        .add_subscription(
            &iq,
            &notices,
            "https://example.org/hook",
            "0123456789abcdef",
            1,
        )
        .unwrap();
    let subs = store.subscriptions().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].id, &subs[0].entity, &subs[0].notices[..]),
        (sub, &iq, &notices[..])
    );
    let notice = |key: &str| crate::OutboxNotice {
        subscription_id: sub,
        notice_key: key.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
    };
    let batch = [notice("start:IQ@100"), notice("end:IQ@100")];
    assert_eq!(store.enqueue_notices(&batch, 100).unwrap(), 2);
    assert_eq!(store.enqueue_notices(&batch, 200).unwrap(), 0, "idempotent");

    let due = store.due_deliveries(100).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(
        (
            due[0].payload.as_str(),
            due[0].attempts,
            due[0].target.as_str()
        ),
        ("{\"key\":\"start:IQ@100\"}", 0, "https://example.org/hook")
    );
    store.mark_delivered(due[0].id, 1, 100).unwrap();
    store
        .mark_delivery_failed(due[1].id, 1, 130, "the receiver answered 500", false)
        .unwrap();
    assert!(store.due_deliveries(129).unwrap().is_empty(), "backoff");

    // A restart keeps every state; enqueueing again changes nothing.
    drop(store);
    let mut store = place.open();
    assert_eq!(store.enqueue_notices(&batch, 300).unwrap(), 0);
    let rows = store.outbox().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.state.as_str(), r.attempts, r.next_attempt_at))
            .collect::<Vec<_>>(),
        [("delivered", 1, 100), ("pending", 1, 130)]
    );
    assert_eq!(
        rows[1].last_error.as_deref(),
        Some("the receiver answered 500")
    );
    let due = store.due_deliveries(130).unwrap();
    assert_eq!(due.len(), 1);
    store
        .mark_delivery_failed(due[0].id, 2, 190, "timeout", true)
        .unwrap();
    assert!(store.due_deliveries(10_000).unwrap().is_empty(), "given up");
    assert_eq!(store.outbox().unwrap()[1].state, "failed");
}

fn probe_block_changes_are_kept_for_drill_down(place: &Place) {
    let mut store = place.open();
    let change = |at, net: [u8; 4], from: &str, to: &str| crate::BlockChangeRecord {
        at,
        vantage: "v1".into(),
        network: std::net::Ipv4Addr::from(net),
        from_state: from.into(),
        to_state: to.into(),
        belief_up: 0.25,
    };
    store
        .record_block_changes(&[
            change(1_000, [198, 18, 1, 0], "up", "down"),
            change(1_000, [198, 18, 0, 0], "up", "down"),
        ])
        .unwrap();
    store
        .record_block_changes(&[change(1_600, [198, 18, 0, 0], "down", "up")])
        .unwrap();
    drop(store);
    let store = place.open();
    let all = store.block_changes(None, 0, 2_000).unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.at, c.network.octets()[2]))
            .collect::<Vec<_>>(),
        [(1_000, 0), (1_000, 1), (1_600, 0)]
    );
    assert_eq!(all[0], change(1_000, [198, 18, 0, 0], "up", "down"));
    let one = store
        .block_changes(Some(std::net::Ipv4Addr::new(198, 18, 0, 0)), 0, 2_000)
        .unwrap();
    assert_eq!(
        one.iter()
            .map(|c| (c.at, c.to_state.as_str()))
            .collect::<Vec<_>>(),
        [(1_000, "down"), (1_600, "up")]
    );
    assert!(store.block_changes(None, 1_001, 1_600).unwrap().is_empty());
}

#[test]
fn a_version_5_database_gains_the_block_log_and_keeps_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    {
        let mut v5 = open_with(&path, &MIGRATIONS[..5]).unwrap();
        assert_eq!(v5.schema_version().unwrap(), 5);
        v5.write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(3.0))])
            .unwrap();
        v5.add_annotation(&crate::NewStoredAnnotation {
            entity: "KZ".parse().unwrap(),
            time: DAY,
            end: None,
            text: "before the upgrade".into(),
            url: None,
            author: "cli".into(),
            created_at: DAY,
        })
        .unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert_eq!(read(&store, &bgp("KZ"), DAY, 1), vec![Some(3.0)]);
    assert_eq!(store.annotations(None, None, None).unwrap().len(), 1);
    store
        .record_block_changes(&[crate::BlockChangeRecord {
            at: DAY,
            vantage: "v1".into(),
            network: std::net::Ipv4Addr::new(198, 18, 0, 0),
            from_state: "up".into(),
            to_state: "down".into(),
            belief_up: 0.0,
        }])
        .unwrap();
    assert_eq!(store.block_changes(None, DAY, DAY + 1).unwrap().len(), 1);
}

fn an_older_separate_block_log_is_imported_once(place: &Place) {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("probe-blocks.sqlite");
    {
        // The file and table the prober wrote before migration 6.
        let conn = Connection::open(&legacy).unwrap();
        conn.execute_batch(
            "CREATE TABLE probe_block_changes (at INTEGER NOT NULL, vantage TEXT NOT NULL,
               network INTEGER NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
               belief_up REAL NOT NULL);
             INSERT INTO probe_block_changes VALUES (1000, 'v1', 3323068416, 'up', 'down', 0.01);
             INSERT INTO probe_block_changes VALUES (1600, 'v1', 3323068416, 'down', 'up', 0.99);",
        )
        .unwrap();
    }
    let mut store = place.open();
    assert_eq!(store.import_block_log_file(&legacy).unwrap(), 2);
    assert_eq!(store.import_block_log_file(&legacy).unwrap(), 0, "once");
    let changes = store.block_changes(None, 0, 2_000).unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].network, std::net::Ipv4Addr::new(198, 18, 0, 0));
    assert_eq!(
        (changes[1].from_state.as_str(), changes[1].to_state.as_str()),
        ("down", "up")
    );
    let missing = dir.path().join("none").join("probe-blocks.sqlite");
    assert!(store.import_block_log_file(&missing).is_err());
    assert!(store.import_block_log_file(dir.path()).is_err());
}

/// Two writers (two processes, as two `vigie serve` or a prober and an
/// ingest) write bins of one store at once while a third follows the write
/// log, as live detection does: every bin is there with its value, and the
/// reader sees each write once.
fn two_writers_take_turns_and_a_log_reader_misses_none(place: &Place) {
    let keys: Vec<SeriesKey> = (1..=50).map(|asn| bgp(&format!("AS{asn}"))).collect();
    let per_writer = 40i64;
    let mut writers = Vec::new();
    for w in 0..2i64 {
        let mut store = place.open();
        let keys = keys.clone();
        writers.push(std::thread::spawn(move || {
            for i in 0..per_writer {
                let n = i * 2 + w;
                let values: Vec<_> = keys.iter().map(|k| (k.clone(), Some(n as f64))).collect();
                store
                    .write_bin(&format!("writer-{w}"), BIN, DAY + n * 300, &values)
                    .unwrap();
                if i % 15 == 14 {
                    store.compact().unwrap();
                }
            }
        }));
    }
    let reader = place.open();
    let (mut seen, mut after) = (Vec::new(), 0);
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        for write in reader.writes_since(after, 1000).unwrap() {
            assert!(write.seq > after);
            after = write.seq;
            seen.push(write.first_bin);
        }
        if done {
            break;
        }
    }
    for writer in writers {
        writer.join().unwrap();
    }
    seen.sort_unstable();
    let all: Vec<i64> = (0..per_writer * 2).map(|n| DAY + n * 300).collect();
    assert_eq!(seen, all);
    let values = read(&reader, &keys[7], DAY, per_writer * 2);
    let expected: Vec<Option<f64>> = (0..per_writer * 2).map(|n| Some(n as f64)).collect();
    assert_eq!(values, expected);
}

#[test]
fn open_url_opens_folders_and_says_what_a_postgres_url_needs() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data");
    let mut store = Store::open_url(folder.to_str().unwrap()).unwrap();
    store
        .write_bin("s", BIN, DAY, &[(bgp("KZ"), Some(1.0))])
        .unwrap();
    assert!(folder.join(DB_FILE_NAME).is_file());
    let err = Store::open_url("sqlite://x").err().unwrap();
    assert!(matches!(err, StoreError::BadStoreUrl(_)), "{err}");
    let result = Store::open_url("postgres://vigie:secret@127.0.0.1:1/vigie");
    let text = result.err().unwrap().to_string();
    #[cfg(not(feature = "postgres"))]
    assert!(
        text.contains("--features postgres") && text.contains("vigie:***@127.0.0.1:1"),
        "{text}"
    );
    #[cfg(feature = "postgres")]
    assert!(text.contains("connecting to PostgreSQL"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}
