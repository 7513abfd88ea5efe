//! `vigie serve` with RIS Live and `[bgp] fetch_ribs` (no `rib_files`)
//! across a long outage, end to end: a local archive server laid out like
//! the RIS archive and a local WebSocket server speaking RIS Live.
//!
//! The RIS Live messages are the real UPDATEs and session downs of shared
//! MRT update files, converted to RIS Live's JSON
//! (`vigie_bgp::live::ris_live::update_json`). The archive serves the real
//! 2002 rrc00 RIB dump and update files under names of the last half hour
//! (the service asks for the latest dump). The service loads the dump,
//! hears the first file's updates live, loses the socket for longer than
//! `rib_reload_after_secs` while the archive publishes two update files
//! (the second of them slow to download), then hears the third file's
//! updates live as soon as it reconnects, while the dumps reload. Its
//! stored counts must then be those `vigie ingest mrt` stores from the
//! dump and the three update files: nothing stale from before the outage,
//! nothing received during the reload lost.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgpkit_parser::models::{Bgp4MpEnum, BgpMessage, BgpState, MrtMessage};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use vigie_bgp::live::ris_live::{peer_down_json, update_json};
use vigie_model::{BinSink, SignalBin, SignalKind, SinkError, TimeRange};
use vigie_pipeline::{ingest_mrt_archives, MrtOptions, Registry, Service, ServiceConfig};
use vigie_store::Store;
use vigie_testdata::http::{Behaviour, HttpMirror};
use vigie_testdata::shared_data;

/// Every UPDATE and session down of an MRT update file as RIS Live
/// messages of collector `host`.
fn ris_live_messages(path: &Path, host: &str) -> Vec<String> {
    let reader = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let parser = bgpkit_parser::BgpkitParser::from_reader(reader).disable_warnings();
    let mut out = Vec::new();
    for record in parser.into_record_iter() {
        let time = record.common_header.timestamp;
        match record.message {
            MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(m)) => {
                if let BgpMessage::Update(update) = &m.bgp_message {
                    let peer = m.peer_ip.to_string();
                    out.push(update_json(time, host, &peer, m.peer_asn.to_u32(), update));
                }
            }
            MrtMessage::Bgp4Mp(Bgp4MpEnum::StateChange(c))
                if c.old_state == BgpState::Established && c.new_state != BgpState::Established =>
            {
                let peer = c.peer_ip.to_string();
                out.push(peer_down_json(time, host, &peer, c.peer_asn.to_u32()));
            }
            _ => {}
        }
    }
    out
}

/// The archive's name of a file of kind `kind` (`bview`, `updates`) at `t`,
/// and its month folder.
fn archive_name(kind: &str, t: i64) -> (String, String) {
    let time = chrono::DateTime::from_timestamp(t, 0).unwrap();
    (
        format!("{kind}.{}.gz", time.format("%Y%m%d.%H%M")),
        format!("/rrc00/{}/", time.format("%Y.%m")),
    )
}

/// Lists `files` (name, folder) in their month folders.
fn list(mirror: &HttpMirror, files: &[(String, String)]) {
    let mut folders: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, folder) in files {
        folders.entry(folder).or_default().push(name);
    }
    for (folder, names) in folders {
        mirror.listing(folder, &names);
    }
}

/// The visible /24s and /48s of each entity in the last bin of a store,
/// the zeros left out (a series zero-filled in one store may never have
/// been registered in the other: both mean nothing visible).
fn visible_in_last_bin(store: &Store) -> BTreeMap<String, f64> {
    let infos = store.list_series().unwrap();
    let last = infos.iter().filter_map(|i| i.last_bin).max().unwrap();
    let mut out = BTreeMap::new();
    for info in infos {
        if !matches!(
            info.key.signal,
            SignalKind::BgpVisibleSlash24s | SignalKind::BgpVisibleSlash48s
        ) || info.last_bin != Some(last)
        {
            continue;
        }
        let range = TimeRange::new(last, last + i64::from(info.bin.secs())).unwrap();
        let series = store.read_series(&info.key, info.bin, range).unwrap();
        if let Some(v) = series.values[0].filter(|&v| v != 0.0) {
            out.insert(format!("{} {}", info.key.entity, info.key.signal), v);
        }
    }
    out
}

/// The same, from a provisional bin the service published.
fn visible_in(bin: &SignalBin) -> BTreeMap<String, f64> {
    (bin.values.iter())
        .filter(|(k, _)| {
            matches!(
                k.signal,
                SignalKind::BgpVisibleSlash24s | SignalKind::BgpVisibleSlash48s
            )
        })
        .filter_map(|(k, v)| {
            v.filter(|&v| v != 0.0)
                .map(|v| (format!("{} {}", k.entity, k.signal), v))
        })
        .collect()
}

/// Keeps the latest provisional bin the service publishes.
#[derive(Default)]
struct LatestProvisional(Option<SignalBin>);

impl BinSink for LatestProvisional {
    fn write(&mut self, _bin: &SignalBin) -> Result<(), SinkError> {
        Ok(())
    }
    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.0 = Some(bin.clone());
        Ok(())
    }
}

/// Differences between two count maps, for a failure message.
fn differences(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    (keys.into_iter())
        .filter(|k| a.get(*k) != b.get(*k))
        .take(10)
        .map(|k| format!("{k}: {:?} vs {:?}", a.get(k), b.get(k)))
        .collect()
}

#[test]
fn a_long_outage_reloads_the_rib_and_counts_equal_the_mrt_ingest() {
    let (Some(rib), Some(u1), Some(u2), Some(u3)) = (
        shared_data("mrt/bgpdump/bview.20020722.2337.gz"),
        shared_data("mrt/bgpdump/updates.20070211.0141.gz"),
        shared_data("mrt/bgpkit/rrc15_2010.02_updates.20100227.1600.gz"),
        shared_data("mrt/bgpdump/updates.20100722.2015.gz"),
    ) else {
        return;
    };
    // Names of the last half hour, five minutes apart.
    let t0 = vigie_model::clock_now() / 300 * 300 - 1800;
    let names = [
        archive_name("bview", t0),
        archive_name("updates", t0 + 300),
        archive_name("updates", t0 + 600),
        archive_name("updates", t0 + 900),
    ];
    let sources = [&rib, &u1, &u2, &u3];

    // What `vigie ingest mrt` stores from the dump and the three files.
    let work = tempfile::tempdir().unwrap();
    let by_hand = work.path().join("by-hand/rrc00");
    std::fs::create_dir_all(&by_hand).unwrap();
    for ((name, _), source) in names.iter().zip(sources) {
        std::fs::copy(source, by_hand.join(name)).unwrap();
    }
    let expected = {
        let mut store = Store::open(&work.path().join("expected")).unwrap();
        let geo = Arc::new(vigie_geo::GeoDb::embedded());
        ingest_mrt_archives(
            &mut store,
            std::slice::from_ref(&by_hand),
            geo,
            &MrtOptions::default(),
            &mut (),
        )
        .unwrap();
        visible_in_last_bin(&store)
    };
    assert!(expected.len() > 100, "{} counts", expected.len());

    // The archive: the dump alone at first.
    let mirror = HttpMirror::start();
    for ((name, folder), source) in names.iter().zip(sources).take(3) {
        let behaviour = if source == &u2 {
            Behaviour::Slow(Duration::from_millis(1500))
        } else {
            Behaviour::Normal
        };
        mirror.file(
            &format!("{folder}{name}"),
            std::fs::read(source).unwrap(),
            behaviour,
        );
    }
    list(&mirror, &names[..1]);

    // RIS Live: the first file's updates, then the socket dies and
    // connections are refused for 4 s while the archive publishes the
    // next two files; after that, the third file's updates at once.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!(
        "ws://{}/v1/ws/?client=vigie-test",
        listener.local_addr().unwrap()
    );
    let first = ris_live_messages(&u1, "rrc00");
    let third = ris_live_messages(&u3, "rrc00");
    let reconnected = Arc::new(AtomicBool::new(false));
    {
        let mirror = mirror.clone();
        let names = names.clone();
        let reconnected = Arc::clone(&reconnected);
        runtime.spawn(async move {
            let mut reopen_at: Option<Instant> = None;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if reopen_at.is_some_and(|at| Instant::now() < at) {
                    drop(stream);
                    continue;
                }
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let _subscribe = ws.next().await;
                if reopen_at.is_none() {
                    for text in &first {
                        ws.send(Message::Text(text.clone().into())).await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    drop(ws);
                    list(&mirror, &names[..3]);
                    reopen_at = Some(Instant::now() + Duration::from_secs(4));
                    continue;
                }
                reconnected.store(true, Ordering::SeqCst);
                for text in &third {
                    ws.send(Message::Text(text.clone().into())).await.unwrap();
                }
                // Then only keepalives, as a quiet feed.
                tokio::spawn(async move {
                    let pong = "{\"type\":\"pong\",\"data\":null}";
                    while ws.send(Message::Text(pong.into())).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                });
            }
        });
    }

    let config = ServiceConfig::parse(&format!(
        "[bgp]\nprovisional_secs = 1\nfetch_ribs = true\nris_url = \"{}\"\n\
         rib_cache = \"{}\"\nrib_reload_after_secs = 2\n\n\
         [[source]]\nkind = \"ris-live\"\nurl = \"{url}\"\nhost = \"rrc00\"\n",
        mirror.base(),
        work.path().join("cache").display(),
    ))
    .unwrap();
    assert!(config.bgp.rib_files.is_empty());
    let mut service = Service::new(config, Registry::builtin());
    let latest = Arc::new(Mutex::new(LatestProvisional::default()));
    service.add_sink(latest.clone());
    let store_dir = work.path().join("live");
    let store = Store::open(&store_dir).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || service.run(store, Some(Duration::from_secs(600)), stop))
    };

    // Wait for the counts to settle on the expected ones after the reconnect.
    let start = Instant::now();
    let mut seen = BTreeMap::new();
    while start.elapsed() < Duration::from_secs(400) && !running.is_finished() {
        if reconnected.load(Ordering::SeqCst) {
            if let Some(bin) = latest.lock().unwrap().0.as_ref() {
                seen = visible_in(bin);
            }
            if seen == expected {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::SeqCst);
    running.join().unwrap().unwrap();
    assert!(
        reconnected.load(Ordering::SeqCst),
        "RIS Live never reconnected"
    );
    assert_eq!(
        seen.len(),
        expected.len(),
        "provisional counts after the reconnect vs vigie ingest mrt: {:?}",
        differences(&seen, &expected)
    );
    assert!(seen == expected, "{:?}", differences(&seen, &expected));
    assert!(
        mirror.hits(&format!("{}{}", names[2].1, names[2].0)) > 0,
        "the update file published during the outage was never fetched"
    );
    // What the service stored is the same.
    let stored = visible_in_last_bin(&Store::open(&store_dir).unwrap());
    assert!(
        stored == expected,
        "stored counts vs vigie ingest mrt: {:?}",
        differences(&stored, &expected)
    );
}
