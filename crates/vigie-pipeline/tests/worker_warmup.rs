//! Detection workers (`LiveDetection::for_share`, `vigie bus detect`) on a
//! store that already holds history: each series is warmed up from its
//! stored bins before its first bus bin, so two workers fed the rest bin
//! by bin, one of them killed twice (before its first checkpoint and in
//! the middle of an outage) and restarted from its checkpoints, store
//! exactly the incidents `vigie detect` stores on the same data. A worker
//! follows the ASes of its countries by the store's AS-to-country table,
//! which changes meanwhile: an AS of another worker's that joins a
//! worker's country is warmed up from the store at its next bus bin, and
//! one that leaves and comes back is caught up from where it stopped.

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
/// AS9199 originates space in KZ from here (the table read again)…
const JOIN: usize = HISTORY + 2 * BATCH;
/// …not from here (while KZ's first cut begins)…
const DROP: usize = HISTORY + 5 * BATCH;
/// …and again from here on.
const REJOIN: usize = HISTORY + 8 * BATCH;

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse::<Entity>().unwrap(),
        signal,
    }
}

fn t(i: usize) -> UnixSecs {
    START + (i * 300) as i64
}

/// Bin `i` of every series: KZ, a region and two ASes cut twice on day 3,
/// a steady BGP count, KG with an hour of no data a day, and TJ, which
/// only the bus carries.
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
        (key("AS9199", SignalKind::ProbeUpSlash24s), probing(900.0)),
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

/// The AS-to-country table: AS9198 in KZ, and AS9199 too when `with_9199`.
fn as_countries(store: &mut Store, with_9199: bool) {
    let row = |asn, units_v4| AsCountrySpace {
        asn,
        country: vigie_model::CountryCode::new("KZ").unwrap(),
        units_v4,
        units_v6: 0,
        observed_at: START,
    };
    let mut rows = vec![row(9198, 9000)];
    if with_9199 {
        rows.push(row(9199, 3000));
    }
    store.replace_as_countries(&rows).unwrap();
}

#[test]
fn workers_warmed_up_from_stored_history_store_what_batch_detection_stores() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let bin = BinSize::default();
    as_countries(&mut store, false);
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
    let (as9198, as9199): (Entity, Entity) = ("AS9198".parse().unwrap(), "AS9199".parse().unwrap());
    // The hash is fixed: KZ and AS9198 are worker 0's, KG and AS9199
    // worker 1's.
    assert!(shares[0].owns(&kz) && shares[0].owns(&as9198));
    assert!(shares[1].owns(&kg) && shares[1].owns(&as9199));
    let as9199_probe = key("AS9199", SignalKind::ProbeUpSlash24s);
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
        if [JOIN, DROP, REJOIN].contains(&i) {
            if i == REJOIN {
                // Not fed while it was not followed.
                let next = workers[0]
                    .live
                    .detector()
                    .next_bin(&as9199_probe, bin.secs());
                assert_eq!(next, Some(t(DROP)));
            }
            as_countries(&mut store, i != DROP);
            for worker in &mut workers {
                worker.live.refresh_followed(&store).unwrap();
            }
        }
        let warmed_before = workers[0].warmed;
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
            // Worker 1 follows its own AS9199, not AS9198 (worker 0's, in
            // worker 0's KZ).
            assert_eq!(workers[1].warmed, 1);
            assert_eq!(workers[0].warmed, 4);
        }
        if i == JOIN || i == REJOIN {
            // AS9199 joined KZ: warmed up from its first stored bin, then
            // caught up from where it stopped.
            assert_eq!(workers[0].warmed, warmed_before + 1, "at {i}");
        }
        i = until;
    }
    // KG's bus bins came later: its owner warmed it then, at its first.
    let owner_of = |e: &Entity| usize::from(!shares[0].owns(e));
    assert!(workers[owner_of(&kg)].warmed >= 2);
    // Each worker followed its own entities and the ASes of its countries
    // only; AS9199, fed to worker 0 with a gap it caught up from the
    // store, shows worker 0 what it shows its owner.
    assert!(!workers[1].live.detector().entities().contains(&as9198));
    assert!(workers[0].live.detector().entities().contains(&as9199));
    assert_eq!(
        workers[0].live.detector().incidents(&as9199),
        workers[1].live.detector().incidents(&as9199)
    );
    assert!(!workers[1].live.detector().incidents(&as9199).is_empty());
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
    // KZ's incidents name the networks they affect: AS9198, KZ's worker's
    // own, and AS9199, the other worker's, which KZ's worker follows.
    let kz_batch = batch.iter().find(|i| i.entity == kz).unwrap();
    assert!(kz_batch.detail.contains("AS9198"), "{}", kz_batch.detail);
    assert!(kz_batch.detail.contains("AS9199"), "{}", kz_batch.detail);
}
