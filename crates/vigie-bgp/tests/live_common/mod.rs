//! Helpers shared by the live tests: shared data, MRT replays, bin comparison.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bgpkit_parser::models::{AsnLength, Bgp4MpEnum, Bgp4MpType, BgpState, MrtMessage};
use bgpkit_parser::BgpkitParser;
use vigie_bgp::mrt::{
    ingest_mrt, CollectorFiles, FileKind, IngestObserver, IngestOptions, MrtFile,
};
use vigie_bgp::{BinValues, VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;

/// The shared data folder, or `None` (after saying so) when it is absent
/// outside CI.
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("shared data missing at {} (CI=true)", dir.display());
    }
    eprintln!("SKIP: shared data not found at {}", dir.display());
    None
}

pub fn geo() -> Arc<GeoDb> {
    Arc::new(GeoDb::embedded())
}

pub fn accounting(geo: &Arc<GeoDb>) -> VisibilityAccounting {
    VisibilityAccounting::new(VisibilityConfig::default(), Arc::clone(geo))
}

struct Collect(Vec<BinValues>);

impl IngestObserver for Collect {
    fn bin_closed(&mut self, values: BinValues) -> Result<(), String> {
        self.0.push(values);
        Ok(())
    }
}

/// The bins of an MRT ingest of one update file, under collector `collector`.
pub fn mrt_bins(path: &std::path::Path, collector: &str, geo: &Arc<GeoDb>) -> Vec<BinValues> {
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
    let mut sink = Collect(Vec::new());
    let summary = ingest_mrt(files, &mut acc, &IngestOptions::default(), &mut sink).unwrap();
    assert!(!summary.has_errors(), "{path:?} reads cleanly");
    sink.0
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
pub fn sorted(bin: &BinValues) -> Vec<(String, String, Option<f64>)> {
    let mut v: Vec<_> = bin
        .values
        .iter()
        .map(|(k, v)| (k.entity.to_string(), k.signal.to_string(), *v))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

/// Asserts two bin sequences are identical: starts, values, full-feed peers.
pub fn assert_same_bins(label: &str, archive: &[BinValues], live: &[BinValues]) {
    assert_eq!(
        archive.iter().map(|b| b.bin_start).collect::<Vec<_>>(),
        live.iter().map(|b| b.bin_start).collect::<Vec<_>>(),
        "{label}: bin starts"
    );
    for (a, l) in archive.iter().zip(live) {
        assert_eq!(
            a.full_feed_peers, l.full_feed_peers,
            "{label}: full-feed peers"
        );
        assert_eq!(
            a.fallback_families, l.fallback_families,
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
