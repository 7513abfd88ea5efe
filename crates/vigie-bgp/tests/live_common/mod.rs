//! Helpers shared by the live tests: shared data, MRT replays, bin comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgpkit_parser::models::{AsnLength, Bgp4MpEnum, Bgp4MpType, BgpState, MrtMessage};
use bgpkit_parser::BgpkitParser;
use vigie_bgp::live::{LiveDriver, LiveObserver};
use vigie_bgp::mrt::{
    ingest_mrt, CollectorFiles, FileKind, IngestObserver, IngestOptions, MrtFile,
};
use vigie_bgp::{FeedCoverage, VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::{BinSink, Discard, Entity, SignalBin, SignalKind, SinkError};

/// The shared data folder (see `vigie_testdata::shared_data`).
pub fn shared_data() -> Option<PathBuf> {
    vigie_testdata::shared_data("")
}

pub fn geo() -> Arc<GeoDb> {
    Arc::new(GeoDb::embedded())
}

pub fn accounting(geo: &Arc<GeoDb>) -> VisibilityAccounting {
    VisibilityAccounting::new(VisibilityConfig::default(), Arc::clone(geo))
}

/// A closed bin and the full-feed peers counted for it.
pub type CoveredBin = (SignalBin, FeedCoverage);

/// The bins a driver just closed, with its coverage.
pub fn covered(driver: &LiveDriver, bins: impl IntoIterator<Item = SignalBin>) -> Vec<CoveredBin> {
    let coverage = driver.accounting().coverage();
    bins.into_iter().map(|bin| (bin, coverage)).collect()
}

struct Collect(Vec<CoveredBin>);

impl IngestObserver for Collect {
    fn bin_closed(&mut self, bin: &SignalBin, coverage: FeedCoverage) {
        self.0.push((bin.clone(), coverage));
    }
}

/// The bins of an MRT ingest of one update file, under collector `collector`.
pub fn mrt_bins(path: &std::path::Path, collector: &str, geo: &Arc<GeoDb>) -> Vec<CoveredBin> {
    let files = vec![CollectorFiles {
        collector: collector.to_string(),
        files: vec![MrtFile {
            path: path.to_path_buf(),
            collector: collector.to_string(),
            kind: FileKind::Updates,
            name_time: None,
        }],
    }];
    let mut acc = accounting(geo);
    let mut bins = Collect(Vec::new());
    let options = IngestOptions::default();
    let summary = ingest_mrt(files, &mut acc, &options, &mut Discard, &mut bins).unwrap();
    assert!(!summary.has_errors(), "{path:?} reads cleanly");
    bins.0
}

/// One BGP4MP record of an MRT file, as a live input would see it.
pub enum Replayed {
    /// A whole BGP message as sent on the wire by `peer_ip`/`peer_asn`.
    Message {
        time: u32,
        peer_ip: std::net::IpAddr,
        peer_asn: u32,
        four_octet_as: bool,
        add_path: bool,
        bytes: Vec<u8>,
        update: bgpkit_parser::models::BgpUpdateMessage,
    },
    /// The session left Established.
    SessionDown {
        time: u32,
        peer_ip: std::net::IpAddr,
        peer_asn: u32,
    },
}

/// Every UPDATE and session-down of an MRT update file, re-encoded as BGP
/// messages with bgpkit-parser's encoder.
pub fn replay(path: &std::path::Path) -> Vec<Replayed> {
    let reader = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let parser = BgpkitParser::from_reader(reader).disable_warnings();
    let mut out = Vec::new();
    for record in parser.into_record_iter() {
        let time = record.common_header.timestamp;
        match record.message {
            MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(m)) => {
                let bgpkit_parser::models::BgpMessage::Update(update) = &m.bgp_message else {
                    continue;
                };
                let four_octet_as = matches!(
                    m.msg_type,
                    Bgp4MpType::MessageAs4
                        | Bgp4MpType::MessageAs4Local
                        | Bgp4MpType::MessageAs4Addpath
                        | Bgp4MpType::MessageLocalAs4Addpath
                );
                let add_path = matches!(
                    m.msg_type,
                    Bgp4MpType::MessageAddpath
                        | Bgp4MpType::MessageAs4Addpath
                        | Bgp4MpType::MessageLocalAddpath
                        | Bgp4MpType::MessageLocalAs4Addpath
                );
                let asn_len = if four_octet_as {
                    AsnLength::Bits32
                } else {
                    AsnLength::Bits16
                };
                let bytes = m.bgp_message.encode(asn_len).unwrap().to_vec();
                out.push(Replayed::Message {
                    time,
                    peer_ip: m.peer_ip,
                    peer_asn: m.peer_asn.to_u32(),
                    four_octet_as,
                    add_path,
                    bytes,
                    update: update.clone(),
                });
            }
            MrtMessage::Bgp4Mp(Bgp4MpEnum::StateChange(c))
                if c.old_state == BgpState::Established && c.new_state != BgpState::Established =>
            {
                out.push(Replayed::SessionDown {
                    time,
                    peer_ip: c.peer_ip,
                    peer_asn: c.peer_asn.to_u32(),
                });
            }
            _ => {}
        }
    }
    out
}

/// A bin's values sorted, for comparison.
pub fn sorted(bin: &SignalBin) -> Vec<(String, String, Option<f64>)> {
    let mut v: Vec<_> = bin
        .values
        .iter()
        .map(|(k, v)| (k.entity.to_string(), k.signal.to_string(), *v))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// Asserts two bin sequences are identical: starts, values, full-feed peers.
pub fn assert_same_bins(label: &str, archive: &[CoveredBin], live: &[CoveredBin]) {
    assert_eq!(
        archive.iter().map(|b| b.0.bin_start).collect::<Vec<_>>(),
        live.iter().map(|b| b.0.bin_start).collect::<Vec<_>>(),
        "{label}: bin starts"
    );
    for ((a, a_coverage), (l, l_coverage)) in archive.iter().zip(live) {
        assert_eq!(
            a_coverage.full_feed_peers, l_coverage.full_feed_peers,
            "{label}: full-feed peers"
        );
        assert_eq!(
            a_coverage.fallback_families, l_coverage.fallback_families,
            "{label}: fallback"
        );
        assert_eq!(
            sorted(a),
            sorted(l),
            "{label}: values of bin {}",
            a.bin_start
        );
    }
}

/// Kills a daemon this test started, by its own pid, when dropped.
pub struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    pub fn log(&self) -> String {
        format!(
            "--- {} log ---\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

pub fn tool(name: &str, path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{name} missing at {} (CI=true): run scripts/setup.sh",
            path.display()
        );
    }
    eprintln!(
        "SKIP: {name} not installed at {} (apt-get install gobgpd bird2)",
        path.display()
    );
    None
}

pub fn spawn(name: &'static str, program: &Path, args: &[&str], dir: &Path) -> Daemon {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    Daemon { name, child, log }
}

pub fn run(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[derive(Default)]
pub struct Latest {
    pub provisional: Option<SignalBin>,
    pub finals: Vec<SignalBin>,
    pub health: Vec<vigie_bgp::live::LiveEvent>,
}

/// Keeps a driver's bins and feed events in a shared [`Latest`]: one clone
/// as its sink, another as its observer.
#[derive(Clone)]
pub struct SharedSink(pub Arc<Mutex<Latest>>);

impl BinSink for SharedSink {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.0.lock().unwrap().finals.push(bin.clone());
        Ok(())
    }
    fn write_provisional(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.0.lock().unwrap().provisional = Some(bin.clone());
        Ok(())
    }
}

impl LiveObserver for SharedSink {
    fn feed_health(&mut self, event: &vigie_bgp::live::LiveEvent) {
        self.0.lock().unwrap().health.push(event.clone());
    }
}

pub fn value(bin: &SignalBin, entity: &str, signal: SignalKind) -> Option<f64> {
    let entity: Entity = entity.parse().unwrap();
    bin.value(&entity, signal)
}

/// Waits until the provisional bin satisfies `check`; returns how long it took.
pub async fn wait_for(
    latest: &Arc<Mutex<Latest>>,
    what: &str,
    daemons: &[&Daemon],
    check: impl Fn(&SignalBin) -> bool,
) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(bin) = latest.lock().unwrap().provisional.as_ref() {
            if check(bin) {
                return start.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: Vec<String> = daemons.iter().map(|d| d.log()).collect();
    panic!("timed out waiting for {what}\n{}", logs.join("\n"));
}
