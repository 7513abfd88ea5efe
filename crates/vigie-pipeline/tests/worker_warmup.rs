//! Detection workers (`LiveDetection::for_share`, `vigie bus detect`) on a
//! store that already holds history: each series is warmed up from its
//! stored bins before its first bus bin, so two workers fed the rest bin
//! by bin, one of them killed twice (before its first checkpoint and in
//! the middle of an outage) and restarted from its checkpoints, store
//! exactly the incidents `vigie detect` stores on the same data.

use vigie_detect::VigieConfig;
use vigie_model::{BinSize, Entity, SeriesKey, SignalBin, SignalKind, UnixSecs};
use vigie_pipeline::{detect_and_store, DetectOptions, LiveDetection, Share, VIGIE};
use vigie_store::{AsCountrySpace, BinValues, ResultFilter, Store, StoredIncident};

const DAY: usize = 288;
const START: UnixSecs = 1_641_168_000; // 2022-01-03T00:00:00Z
const TOTAL: usize = 4 * DAY;
/// The store's history (an import) ends here; the bus brings the rest.
const HISTORY: usize = 2 * DAY + 6 * 12;
/// KG's history goes on longer: its first bus bin comes later.
const KG_HISTORY: usize = HISTORY + 40;
/// How many bins a worker reads between acknowledgements.
const BATCH: usize = 6;

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse::<Entity>().unwrap(),
        signal,
    }
}

fn t(i: usize) -> UnixSecs {
    START + (i * 300) as i64
}

/// Bin `i` of every series: KZ, a region and an AS cut twice on day 3, a
/// steady BGP count, KG with an hour of no data a day, and TJ, which only
/// the bus carries.
fn values(i: usize) -> BinValues {
    let h = (i as f64 - 2.0 * DAY as f64) / 12.0;
    let cut = (9.0..14.0).contains(&h) || (20.0..38.0).contains(&h);
    let probing = |base: f64| {
        Some(if cut {
            base * 0.02
        } else {
            base + (i % 5) as f64
        })
    };
    let mut values = vec![
        (key("KZ", SignalKind::ProbeUpSlash24s), probing(4000.0)),
        (
            key("KZ", SignalKind::BgpVisibleSlash24s),
            Some(9000.0 + (i % 3) as f64),
        ),
        (
            key("KZ/Almaty", SignalKind::ProbeUpSlash24s),
            probing(700.0),
        ),
        (key("AS9198", SignalKind::ProbeUpSlash24s), probing(2500.0)),
        (
            key("KG", SignalKind::ProbeUpSlash24s),
            ((i % DAY) / 12 != 3).then_some(600.0 + (i % 4) as f64),
        ),
    ];
    if i >= HISTORY {
        values.push((key("TJ", SignalKind::ProbeUpSlash24s), Some(300.0)));
    }
    values
}

/// The values of bin `i` that travel on the bus (none of KG's before its
/// history ends).
fn bus_values(i: usize) -> BinValues {
    values(i)
        .into_iter()
        .filter(|(key, _)| i >= KG_HISTORY || key.entity.to_string() != "KG")
        .collect()
}

fn incidents(store: &Store) -> Vec<StoredIncident> {
    store
        .incidents(&ResultFilter {
            method: Some(VIGIE.into()),
            ..ResultFilter::default()
        })
        .unwrap()
}

/// A worker that reads batch after batch from `next`, publishing and
/// checkpointing each batch before it is "acknowledged".
struct Worker {
    share: Share,
    live: LiveDetection,
    /// The first bin not acknowledged.
    acked: usize,
    warmed: usize,
}

impl Worker {
    fn start(store: &mut Store, share: Share, acked: usize) -> Worker {
        let live = LiveDetection::for_share(store, VigieConfig::default(), share).unwrap();
        Worker {
            share,
            live,
            acked,
            warmed: 0,
        }
    }

    /// Reads bins `from..until` (a batch, or part of one when killed).
    fn read(&mut self, store: &Store, from: usize, until: usize) {
        for i in from..until {
            let bin = SignalBin {
                bin: BinSize::default(),
                bin_start: t(i),
                values: bus_values(i),
            };
            self.warmed += self.live.push_bus_bin(store, &bin).unwrap();
        }
    }

    fn ack(&mut self, store: &mut Store, until: usize) {
        self.live.publish(store).unwrap();
        self.live.checkpoint(store).unwrap();
        self.acked = until;
    }
}

#[test]
fn workers_warmed_up_from_stored_history_store_what_batch_detection_stores() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let bin = BinSize::default();
    store
        .replace_as_countries(&[AsCountrySpace {
            asn: 9198,
            country: vigie_model::CountryCode::new("KZ").unwrap(),
            units_v4: 9000,
            units_v6: 0,
            observed_at: START,
        }])
        .unwrap();
    // The history, imported before any worker runs.
    for i in 0..KG_HISTORY {
        let stored: BinValues = if i < HISTORY {
            values(i)
        } else {
            values(i)
                .into_iter()
                .filter(|(key, _)| key.entity.to_string() == "KG")
                .collect()
        };
        store.write_bin("import", bin, t(i), &stored).unwrap();
    }
    let shares = ["1/2".parse::<Share>().unwrap(), "2/2".parse().unwrap()];
    let kz: Entity = "KZ".parse().unwrap();
    let kg: Entity = "KG".parse().unwrap();
    assert_ne!(
        shares[0].owns(&kz),
        shares[0].owns(&kg),
        "KZ and KG in the same share"
    );
    let mut workers: Vec<Worker> = shares
        .iter()
        .map(|&share| Worker::start(&mut store, share, HISTORY))
        .collect();
    // Worker 0 is killed twice: in its first batch (nothing checkpointed
    // yet: it warms up again) and inside KZ's second cut.
    let kills = [HISTORY + 3, 2 * DAY + 26 * 12 + 2];
    let mut i = HISTORY;
    while i < TOTAL {
        let until = (i + BATCH).min(TOTAL);
        // The store writer runs ahead of the workers: the store already
        // holds some of the bins the workers are about to read.
        for j in i..(until + 4).min(TOTAL) {
            store
                .write_bin("probe-combined", bin, t(j), &bus_values(j))
                .unwrap();
        }
        for worker in &mut workers {
            match kills.iter().find(|&&k| (i..until).contains(&k)) {
                Some(&kill) if worker.share == shares[0] => {
                    worker.read(&store, i, kill);
                    let (share, acked) = (worker.share, worker.acked);
                    *worker = Worker::start(&mut store, share, acked);
                    // The unacknowledged bins come again.
                    worker.read(&store, acked, until);
                }
                _ => worker.read(&store, i, until),
            }
            worker.ack(&mut store, until);
        }
        if i == HISTORY {
            // Every series with history was warmed up, once, by each
            // worker that follows it (worker 0 twice: killed before its
            // first checkpoint); KG not yet: its bus bins come later.
            assert_eq!(workers[1].warmed, if shares[1].owns(&kz) { 4 } else { 1 });
        }
        i = until;
    }
    // KG's bus bins came later: its owner warmed it then, at its first.
    let owner_of = |e: &Entity| usize::from(!shares[0].owns(e));
    assert!(workers[owner_of(&kg)].warmed >= 2);
    let live = incidents(&store);
    let kz_live: Vec<_> = live.iter().filter(|i| i.entity == kz).collect();
    assert!(!kz_live.is_empty(), "{live:#?}");
    assert!(live.iter().all(|i| i.end.is_some()), "{live:#?}");
    assert!(live.iter().all(|i| i.entity != kg), "{live:#?}");

    // The workers' restored state since then: nothing is warmed up again.
    let mut restarted = Worker::start(&mut store, shares[owner_of(&kz)], TOTAL);
    restarted.read(&store, TOTAL - 1, TOTAL);
    assert_eq!(restarted.warmed, 0);

    detect_and_store(&mut store, &DetectOptions::default(), &mut |_, _, _| {}).unwrap();
    let batch = incidents(&store);
    assert_eq!(live.len(), batch.len(), "{live:#?}\n{batch:#?}");
    for (live, batch) in live.iter().zip(&batch) {
        let live_json: serde_json::Value = serde_json::from_str(&live.detail).unwrap();
        let batch_json: serde_json::Value = serde_json::from_str(&batch.detail).unwrap();
        assert_eq!(live_json, batch_json, "{} at {}", live.entity, live.start);
        assert_eq!(live, batch);
    }
    // KZ's incident names the network it affects, which both workers follow.
    let kz_batch = batch.iter().find(|i| i.entity == kz).unwrap();
    assert!(kz_batch.detail.contains("AS9198"), "{}", kz_batch.detail);
}
