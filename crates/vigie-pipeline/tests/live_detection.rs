//! Live detection over the store (`LiveDetection`, what `vigie serve` runs)
//! and batch detection (`vigie detect`) give the same incidents on the same
//! store: bins replayed one at a time, some handed over by the service's
//! own source, others written by "another process" and found in the
//! store's write log, with a restart from the checkpoints in the middle of
//! an ongoing outage; a series with an hour of no data every day has no
//! incident.

use vigie_detect::VigieConfig;
use vigie_model::{BinSize, Entity, SeriesKey, SignalBin, SignalKind, UnixSecs};
use vigie_pipeline::{detect_and_store, DetectOptions, LiveDetection, VIGIE};
use vigie_store::{AsCountrySpace, BinValues, ResultFilter, Store, StoredIncident};

const DAY_BINS: usize = 288;
const START: UnixSecs = 1_641_168_000; // 2022-01-03T00:00:00Z
/// The source the "service" owns; the others' bins come from the store.
const OWN: &str = "probe";
const OTHER: &str = "ingest";

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse::<Entity>().unwrap(),
        signal,
    }
}

/// Bin `i` of the replay: the service's own values and another process's.
fn values(i: usize) -> (BinValues, BinValues) {
    let h = (i as f64 - 2.0 * DAY_BINS as f64) / 12.0;
    let cut = (10.5..17.5).contains(&h) || (18.0..40.0).contains(&h);
    let probing = |base: f64| {
        Some(if cut {
            base * 0.01
        } else {
            base + (i % 7) as f64
        })
    };
    let own = vec![
        (key("KZ", SignalKind::ProbeUpSlash24s), probing(5000.0)),
        (
            key("KZ", SignalKind::BgpVisibleSlash24s),
            Some(9000.0 + (i % 3) as f64),
        ),
    ];
    let other = vec![
        (
            key("KZ/Almaty", SignalKind::ProbeUpSlash24s),
            probing(800.0),
        ),
        (
            key("KZ/Almaty", SignalKind::BgpVisibleSlash24s),
            Some(1500.0 + (i % 2) as f64),
        ),
        (key("AS9198", SignalKind::ProbeUpSlash24s), probing(3000.0)),
        // A gap of an hour in one series: no data, not an outage.
        (
            key("UZ", SignalKind::ProbeUpSlash24s),
            ((i % DAY_BINS) / 12 != 5).then_some(700.0 + (i % 5) as f64),
        ),
    ];
    (own, other)
}

fn incidents(store: &Store) -> Vec<StoredIncident> {
    store
        .incidents(&ResultFilter {
            method: Some(VIGIE.into()),
            ..ResultFilter::default()
        })
        .unwrap()
}

#[test]
fn live_and_batch_detection_store_the_same_incidents_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .replace_as_countries(&[AsCountrySpace {
            asn: 9198,
            country: vigie_model::CountryCode::new("KZ").unwrap(),
            units_v4: 9000,
            units_v6: 0,
            observed_at: START,
        }])
        .unwrap();
    let bin = BinSize::default();
    let total = 4 * DAY_BINS;
    // Inside the second cut (hour 18 to 40 of day 3): the restart point.
    let restart_at = 2 * DAY_BINS + 30 * 12 + 4;
    let mut live = LiveDetection::resume(&mut store, VigieConfig::default(), [OWN.into()]).unwrap();
    let mut saw_ongoing = false;
    for i in 0..total {
        let t = START + (i * 300) as i64;
        let (own, other) = values(i);
        store.write_bin(OWN, bin, t, &own).unwrap();
        store.write_bin(OTHER, bin, t, &other).unwrap();
        live.push_bin(&SignalBin {
            bin,
            bin_start: t,
            values: own,
        });
        live.poll(&store).unwrap();
        let published = live.publish(&mut store).unwrap();
        saw_ongoing |= published.ongoing > 0;
        // Checkpoints every half hour: the restart resumes from an older
        // state and reads the bins since from the store.
        if i % 6 == 0 {
            live.checkpoint(&mut store).unwrap();
        }
        if i == restart_at {
            let ongoing: Vec<_> = incidents(&store)
                .into_iter()
                .filter(|incident| incident.end.is_none())
                .map(|incident| incident.entity.to_string())
                .collect();
            assert!(ongoing.contains(&"KZ".to_string()), "{ongoing:?}");
            // A restart: everything but the store is lost; a few bins are
            // written while the service is down.
            drop(live);
            for j in 1..=3 {
                let t = START + ((i + j) * 300) as i64;
                let (own, other) = values(i + j);
                store.write_bin(OWN, bin, t, &own).unwrap();
                store.write_bin(OTHER, bin, t, &other).unwrap();
            }
            live = LiveDetection::resume(&mut store, VigieConfig::default(), [OWN.into()]).unwrap();
        }
    }
    assert!(saw_ongoing, "the outage was reported while it went on");
    let live_incidents = incidents(&store);
    assert!(
        live_incidents.iter().any(|i| i.entity.to_string() == "KZ"),
        "{live_incidents:#?}"
    );
    assert!(live_incidents.iter().all(|i| i.end.is_some()));
    // The hour of no data every day is a gap, not an outage.
    assert!(
        live_incidents.iter().all(|i| i.entity.to_string() != "UZ"),
        "{live_incidents:#?}"
    );

    detect_and_store(&mut store, &DetectOptions::default(), &mut |_, _, _| {}).unwrap();
    let batch_incidents = incidents(&store);
    assert_eq!(live_incidents.len(), batch_incidents.len());
    for (live, batch) in live_incidents.iter().zip(&batch_incidents) {
        let live_json: serde_json::Value = serde_json::from_str(&live.detail).unwrap();
        let batch_json: serde_json::Value = serde_json::from_str(&batch.detail).unwrap();
        assert_eq!(live_json, batch_json, "{} at {}", live.entity, live.start);
        assert_eq!(live, batch);
    }
    // The country's incident names the region and the network it affects.
    let kz = batch_incidents
        .iter()
        .find(|i| i.entity.to_string() == "KZ")
        .unwrap();
    assert!(kz.detail.contains("KZ/Almaty") && kz.detail.contains("AS9198"));
}

/// The size of one series' checkpoint after a week, a month and a year of
/// 5-minute bins: the detector's state as `LiveDetection` stores it
/// (postcard, deflated) beside JSON, and the depth history stored apart;
/// run with `--ignored --nocapture` (docs/BENCHMARKS.md).
#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn checkpoint_sizes() {
    use std::io::Write;
    for (bin_secs, days) in [(300u32, 7usize), (300, 30), (300, 365), (60, 7)] {
        let bin = BinSize::new(bin_secs).unwrap();
        let key = key("KZ", SignalKind::BgpVisibleSlash24s);
        let mut store = Store::open_in_memory().unwrap();
        let mut live =
            LiveDetection::resume(&mut store, VigieConfig::default(), [OWN.into()]).unwrap();
        let bins_per_day = 86_400 / bin_secs as usize;
        for i in 0..days * bins_per_day {
            let t = START + (i as i64) * i64::from(bin_secs);
            let phase = i as f64 / bins_per_day as f64 * std::f64::consts::TAU;
            let value = 9000.0 + ((i * 7919) % 13) as f64 + 300.0 * phase.sin();
            live.push_bin(&SignalBin {
                bin,
                bin_start: t,
                values: vec![(key.clone(), Some(value))],
            });
        }
        live.checkpoint(&mut store).unwrap();
        let (saved, _) = store.detector_states(VIGIE).unwrap();
        let state = live.detector().series_state(&key, bin_secs).unwrap();
        let json = serde_json::to_vec(&state).unwrap();
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        deflate.write_all(&json).unwrap();
        let json_deflated = deflate.finish().unwrap();
        println!(
            "one series, {bin_secs} s bins, {days} days: state {} bytes of JSON, {} deflated, {} stored (postcard, deflated); depth history {} bytes, appended",
            json.len(),
            json_deflated.len(),
            saved[0].state.len(),
            saved[0].depths.len(),
        );
        if days == 7 {
            // Where the state's bytes are: each field of the detector, as JSON.
            let value = serde_json::to_value(&state).unwrap();
            let mut fields: Vec<(usize, String)> = value["detector"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, v)| (v.to_string().len(), name.clone()))
                .collect();
            fields.sort_unstable_by(|a, b| b.cmp(a));
            let top: Vec<String> = fields[..8]
                .iter()
                .map(|(n, f)| format!("{f} {n}"))
                .collect();
            println!("  largest fields (bytes of JSON): {}", top.join(", "));
        }
    }
}

/// A country's visible /24s halved in the open bin open a provisional
/// incident and a provisional `start` notice; a closed bin back to normal
/// withdraws it (a `withdrawn` notice); a drop that lasts is confirmed by
/// the detector and the provisional record goes, with no withdrawal.
#[test]
fn provisional_incidents_are_raised_then_withdrawn_or_confirmed() {
    let mut store = Store::open_in_memory().unwrap();
    let bin = BinSize::default();
    let kz = key("KZ", SignalKind::BgpVisibleSlash24s);
    let day = DAY_BINS as i64 * 300;
    let points: Vec<_> = (0..DAY_BINS as i64)
        .map(|i| (START + i * 300, Some(9000.0 + (i % 3) as f64)))
        .collect();
    store.write_points(&kz, bin, &points).unwrap();
    store
        .add_subscription(
            &kz.entity,
            &["start".into(), "end".into()],
            "https://example.org/hook",
            "0123456789abcdef",
            START,
        )
        .unwrap();
    let mut live = LiveDetection::resume(&mut store, VigieConfig::default(), [OWN.into()]).unwrap();
    let provisional = |live: &mut LiveDetection, store: &mut Store, t: i64, v: f64| {
        live.provisional_bin(
            store,
            &SignalBin {
                bin,
                bin_start: t,
                values: vec![(kz.clone(), Some(v))],
            },
        )
        .unwrap()
    };
    let close = |live: &mut LiveDetection, store: &mut Store, t: i64, v: f64| {
        store
            .write_bin(OWN, bin, t, &[(kz.clone(), Some(v))])
            .unwrap();
        live.push_bin(&SignalBin {
            bin,
            bin_start: t,
            values: vec![(kz.clone(), Some(v))],
        });
        live.publish(store).unwrap();
    };
    let keys = |store: &Store| -> Vec<String> {
        store
            .outbox()
            .unwrap()
            .into_iter()
            .map(|row| row.notice_key)
            .collect()
    };
    let pending = |store: &Store| {
        store
            .incidents(&ResultFilter {
                method: Some(vigie_pipeline::PROVISIONAL.into()),
                ..ResultFilter::default()
            })
            .unwrap()
            .len()
    };
    let t0 = START + day;
    // A dip in the open bin that the closed bin does not show.
    assert_eq!(provisional(&mut live, &mut store, t0, 4000.0).len(), 1);
    assert_eq!(provisional(&mut live, &mut store, t0, 3000.0).len(), 0);
    assert_eq!(pending(&store), 1);
    close(&mut live, &mut store, t0, 9001.0);
    assert_eq!(pending(&store), 0);
    assert_eq!(
        keys(&store),
        [
            format!("provisional-start:KZ@{t0}"),
            format!("provisional-withdrawn:KZ@{t0}")
        ]
    );
    // A cut that lasts: provisional at once, then confirmed.
    let t1 = t0 + 300;
    assert_eq!(provisional(&mut live, &mut store, t1, 100.0).len(), 1);
    let mut t = t1;
    while incidents(&store).iter().all(|i| i.end.is_some()) {
        close(&mut live, &mut store, t, 100.0);
        t += 300;
        assert!(t < t1 + 3 * 3600, "never confirmed");
    }
    assert_eq!(pending(&store), 0);
    let keys = keys(&store);
    assert!(keys.contains(&format!("provisional-start:KZ@{t1}")));
    assert!(!keys.contains(&format!("provisional-withdrawn:KZ@{t1}")));
    assert_eq!(keys.len(), 3, "{keys:?}");
}

/// What one 5-minute bin costs the live loop with `COUNTRIES` countries ×
/// 4 signals (a day of history first): pushing the bin, fusing and
/// writing what changed, and checkpointing every series pushed (as
/// `checkpoint_secs = 300` does with 5-minute bins). Run with `--release
/// --ignored --nocapture` (docs/BENCHMARKS.md).
#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn live_loop_cost_per_bin() {
    use std::time::Instant;
    const COUNTRIES: usize = 250;
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::FlowBytesFrom,
    ];
    let codes: Vec<String> = (0..COUNTRIES)
        .map(|i| {
            let a = (b'A' + (i / 26) as u8) as char;
            let b = (b'A' + (i % 26) as u8) as char;
            format!("{a}{b}")
        })
        .collect();
    let keys: Vec<SeriesKey> = codes
        .iter()
        .flat_map(|code| signals.iter().map(move |s| key(code, *s)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let bin = BinSize::default();
    let mut live = LiveDetection::resume(&mut store, VigieConfig::default(), [OWN.into()]).unwrap();
    let value = |i: usize, k: usize| {
        let phase = (i % DAY_BINS) as f64 / DAY_BINS as f64 * std::f64::consts::TAU;
        1000.0 + 10.0 * k as f64 + 200.0 * phase.sin() + ((i * 7919 + k) % 11) as f64
    };
    let (mut push, mut publish, mut checkpoint) = (0.0, 0.0, 0.0);
    let measured = DAY_BINS / 4;
    for i in 0..DAY_BINS + measured {
        let t = START + (i * 300) as i64;
        let values: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| (key.clone(), Some(value(i, k))))
            .collect();
        store.write_bin(OWN, bin, t, &values).unwrap();
        let started = Instant::now();
        live.push_bin(&SignalBin {
            bin,
            bin_start: t,
            values,
        });
        let pushed = started.elapsed().as_secs_f64();
        let started = Instant::now();
        live.publish(&mut store).unwrap();
        let published = started.elapsed().as_secs_f64();
        let started = Instant::now();
        live.checkpoint(&mut store).unwrap();
        let saved = started.elapsed().as_secs_f64();
        if i >= DAY_BINS {
            push += pushed;
            publish += published;
            checkpoint += saved;
        }
    }
    let n = measured as f64;
    println!(
        "live loop, {} series, 5-minute bins, after a day: push {:.1} ms, publish {:.1} ms, checkpoint {:.1} ms per bin",
        keys.len(),
        1000.0 * push / n,
        1000.0 * publish / n,
        1000.0 * checkpoint / n
    );
}
