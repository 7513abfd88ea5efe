//! The collector's limits (issue 14, finding 5): a template flood stays
//! bounded, bit flips put no absurd value in a bin, an allow-list drops
//! other exporters; each limit is logged once.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use vigie_geo::GeoDb;
use vigie_model::{BinSize, SignalBin, SignalKind};
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::limits::{FlowLimits, DEFAULT_MAX_EXPORTERS};
use vigie_traffic::flow::pipeline::FlowPipeline;

mod common;
use common::v9_datagram;

const KZ_HOST: Ipv4Addr = Ipv4Addr::new(2, 132, 0, 1);
const US_HOST: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);
const AT: i64 = 1_700_000_000;

fn pipeline() -> FlowPipeline {
    FlowPipeline::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, vec![])
        .with_decoder(FlowDecoder::new().quiet())
}

/// NetFlow v9 datagrams announcing templates `first..first + count` of
/// `fields` fields each (4-byte fields), as many per datagram as fit; the
/// source id is patched in later (bytes 16..20).
fn template_datagrams(count: u16, fields: u16) -> Vec<Vec<u8>> {
    let record_len = 4 + 4 * usize::from(fields);
    let per_datagram = ((65_000 - 24) / record_len).max(1);
    let ids: Vec<u16> = (256..256 + count).collect();
    ids.chunks(per_datagram)
        .map(|chunk| {
            let mut set = Vec::with_capacity(chunk.len() * record_len);
            for &id in chunk {
                set.extend_from_slice(&id.to_be_bytes());
                set.extend_from_slice(&fields.to_be_bytes());
                for f in 0..fields {
                    set.extend_from_slice(&(1000 + f).to_be_bytes());
                    set.extend_from_slice(&4u16.to_be_bytes());
                }
            }
            let mut d = Vec::with_capacity(24 + set.len());
            d.extend_from_slice(&9u16.to_be_bytes());
            d.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            d.extend_from_slice(&1000u32.to_be_bytes());
            d.extend_from_slice(&(AT as u32).to_be_bytes());
            d.extend_from_slice(&1u32.to_be_bytes());
            d.extend_from_slice(&0u32.to_be_bytes()); // source id
            d.extend_from_slice(&0u16.to_be_bytes());
            d.extend_from_slice(&((set.len() + 4) as u16).to_be_bytes());
            d.extend_from_slice(&set);
            d
        })
        .collect()
}

/// Sends `source_ids` × the datagrams to the pipeline from one address.
fn flood(p: &mut FlowPipeline, from: SocketAddr, source_ids: u32, datagrams: &mut [Vec<u8>]) {
    for source_id in 0..source_ids {
        for d in datagrams.iter_mut() {
            d[16..20].copy_from_slice(&source_id.to_be_bytes());
            p.ingest(from, AT, d);
        }
    }
}

/// 1,000 source ids × 1,000 templates × 200 fields from one socket took
/// 1.68 GB. At the defaults, templates of 200 fields are over the field cap
/// and never kept; one line says so.
#[test]
fn a_template_flood_keeps_nothing_over_the_field_cap() {
    let mut p = pipeline();
    let from: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let mut datagrams = template_datagrams(1000, 200);
    flood(&mut p, from, 1000, &mut datagrams);
    let decoder = p.decoder();
    assert!(decoder.exporters_kept() <= DEFAULT_MAX_EXPORTERS);
    assert_eq!(decoder.templates_kept(), 0);
    let stats = p.limit_stats();
    assert_eq!(stats.oversized_templates, 1_000_000);
    let notices = p.limit_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("more than 128 fields"), "{notices:?}");
    assert_eq!(p.health().len(), 1);
}

/// With the field cap raised above the flood's, the exporter and
/// per-exporter template caps bound what is kept: at most 100 exporters ×
/// 16 templates here, one log line per cap; a real exporter still works.
#[test]
fn a_template_flood_stays_under_the_exporter_and_template_caps() {
    let limits = FlowLimits {
        max_exporters: 100,
        max_templates_per_exporter: 16,
        max_fields_per_template: 256,
        ..FlowLimits::default()
    };
    let mut p = pipeline().with_limits(limits);
    let from: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let mut datagrams = template_datagrams(1000, 200);
    flood(&mut p, from, 1000, &mut datagrams);
    let decoder = p.decoder();
    assert_eq!(decoder.exporters_kept(), 100);
    assert!(decoder.most_templates_per_exporter() <= 16);
    assert!(decoder.templates_kept() <= 100 * 16);
    let stats = p.limit_stats();
    assert_eq!(stats.evicted_exporters, 900);
    assert!(stats.evicted_templates > 0 && stats.templates_over_cap > 0);
    assert_eq!(stats.oversized_templates, 0);
    let notices = p.limit_notices();
    assert_eq!(notices.len(), 2, "one line per cap: {notices:?}");
    assert!(notices.iter().any(|n| n.contains("100 exporters")));
    assert!(notices.iter().any(|n| n.contains("at most 16 templates")));
    // An exporter after the flood: template then data, counted.
    let real: SocketAddr = "192.0.2.2:2055".parse().unwrap();
    p.ingest(
        real,
        AT,
        &v9_datagram(true, &[(KZ_HOST, US_HOST, 1500, 3, 1)]),
    );
    let out = p.ingest(
        real,
        AT,
        &v9_datagram(false, &[(KZ_HOST, US_HOST, 500, 1, 1)]),
    );
    assert_eq!(out.records, 1);
    assert_eq!(p.health()[&real].records, 2);
}

/// Addresses past the cap share one health entry; their problems are not
/// logged one line each.
#[test]
fn health_is_kept_for_at_most_max_exporters_addresses() {
    let limits = FlowLimits {
        max_exporters: 10,
        ..FlowLimits::default()
    };
    let mut p = pipeline().with_limits(limits);
    for i in 0..1000u32 {
        let from = SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + i), 2055));
        p.ingest(from, AT, b"garbage");
    }
    assert_eq!(p.health().len(), 10);
    let others = p.other_exporters();
    assert_eq!(others.datagrams, 990);
    assert_eq!(others.decode_errors, 990);
    assert_eq!(p.limit_stats().untracked_datagrams, 990);
    assert_eq!(p.limit_notices().len(), 1);
}

/// Bit-flipped datagrams put 2.1e17 bytes in one bin; now no bin holds
/// more than a 400 Gbit/s link carries, and the excess is counted.
#[test]
fn bit_flipped_datagrams_put_no_absurd_value_in_a_bin() {
    let mut p = pipeline();
    let from: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let template = v9_datagram(true, &[(KZ_HOST, US_HOST, 1500, 3, 1)]);
    p.ingest(from, AT, &template);
    let clean = v9_datagram(false, &[(KZ_HOST, US_HOST, 1500, 3, 1000); 20]);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        let mut d = clean.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = 20 + (state as usize) % (d.len() - 20);
            d[at] ^= 1 << ((state >> 40) % 8);
        }
        p.ingest(from, AT, &d);
    }
    // And one record as large as a 32-bit counter and the largest rate allow.
    let huge = v9_datagram(false, &[(KZ_HOST, US_HOST, u32::MAX, u32::MAX, 1_000_000)]);
    p.ingest(from, AT, &huge);
    let bins: Vec<SignalBin> = p.close_all();
    let ceiling = FlowLimits::default().max_bytes_per_bin(300) as f64;
    let mut largest = 0f64;
    for bin in &bins {
        for (key, value) in &bin.values {
            let Some(value) = *value else { continue };
            if matches!(
                key.signal,
                SignalKind::FlowBytesFrom | SignalKind::FlowBytesTo
            ) {
                assert!(value <= ceiling, "{key:?} {value}");
                largest = largest.max(value);
            }
        }
    }
    assert!(largest > 0.0, "plausible records are still counted");
    assert!(p.stats().implausible_records > 0);
    let notices = p.limit_notices();
    assert_eq!(
        notices.iter().filter(|n| n.contains("implausible")).count(),
        1,
        "{notices:?}"
    );
}

/// The collector with an allow-list: datagrams from another address are
/// counted and dropped, the allowed exporter's are counted.
#[test]
fn the_allow_list_drops_other_exporters() {
    let mut p = pipeline();
    let config = CollectorConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        grace_secs: 30,
        run_for: Some(Duration::from_millis(1500)),
        limits: FlowLimits {
            allowed_exporters: vec!["127.0.0.2/32".parse().unwrap()],
            ..FlowLimits::default()
        },
    };
    let mut bins: Vec<SignalBin> = Vec::new();
    run_collector(
        &config,
        &mut p,
        Arc::new(AtomicBool::new(false)),
        |addrs| {
            let to = addrs[0];
            std::thread::spawn(move || {
                let allowed = UdpSocket::bind("127.0.0.2:0").unwrap();
                let other = UdpSocket::bind("127.0.0.1:0").unwrap();
                let template = v9_datagram(true, &[(KZ_HOST, US_HOST, 1500, 3, 1)]);
                for _ in 0..5 {
                    other.send_to(&template, to).unwrap();
                }
                allowed.send_to(&template, to).unwrap();
            });
        },
        &mut bins,
        |_| {},
    )
    .unwrap();
    assert_eq!(p.limit_stats().refused_datagrams, 5);
    let health = p.health();
    assert_eq!(health.len(), 1, "{health:?}");
    let (exporter, h) = health.iter().next().unwrap();
    assert_eq!(exporter.ip(), Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(h.records, 1);
    assert_eq!(p.limit_notices().len(), 1);
}
