//! The UDP collector on loopback: datagrams sent to it come out as closed bins.

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use vigie_geo::GeoDb;
use vigie_model::{BinSize, CountryCode, Entity, SignalBin, SignalKind};
use vigie_traffic::flow::collector::{run_collector, CollectorConfig};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;

mod common;

#[test]
fn collects_from_two_listeners_and_closes_bins_at_the_end() {
    let mut pipeline = FlowPipeline::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, vec![])
        .with_decoder(FlowDecoder::new().quiet());
    let config = CollectorConfig {
        listen: vec![
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        ],
        grace_secs: 30,
        run_for: Some(Duration::from_millis(1500)),
        limits: Default::default(),
    };
    let kz = Ipv4Addr::new(2, 132, 0, 1);
    let us = Ipv4Addr::new(8, 8, 8, 8);
    let mut bins: Vec<SignalBin> = Vec::new();
    run_collector(
        &config,
        &mut pipeline,
        Arc::new(AtomicBool::new(false)),
        |addrs| {
            let addrs = addrs.to_vec();
            std::thread::spawn(move || {
                let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
                let first = common::v9_datagram(true, &[(kz, us, 1500, 3, 1)]);
                sender.send_to(&first, addrs[0]).unwrap();
                sender.send_to(b"garbage", addrs[1]).unwrap();
                let second = common::v9_datagram(false, &[(kz, us, 500, 1, 1)]);
                sender.send_to(&second, addrs[0]).unwrap();
            });
        },
        &mut bins,
        |_| {},
    )
    .unwrap();
    let kz_entity = Entity::Country(CountryCode::new("KZ").unwrap());
    let total: f64 = bins
        .iter()
        .filter_map(|b| b.value(&kz_entity, SignalKind::FlowBytesFrom))
        .sum();
    assert_eq!(total, 2000.0, "{bins:?}");
    let packets: f64 = bins
        .iter()
        .filter_map(|b| b.value(&kz_entity, SignalKind::FlowPacketsFrom))
        .sum();
    assert_eq!(packets, 4.0);
    let health = pipeline.health();
    assert_eq!(health.values().map(|h| h.datagrams).sum::<u64>(), 3);
    assert_eq!(health.values().map(|h| h.decode_errors).sum::<u64>(), 1);
}
