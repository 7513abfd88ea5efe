//! Flow records → per-country signals, and bad input: garbage, data before
//! template, truncated datagrams, absurd sampling rates.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use vigie_geo::GeoDb;
use vigie_model::{BinSize, CountryCode, Entity, SignalKind};
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::pipeline::FlowPipeline;

mod common;
use common::v9_datagram;

const KZ_HOST: Ipv4Addr = Ipv4Addr::new(2, 132, 0, 1);
const US_HOST: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);
const OWN_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn exporter() -> SocketAddr {
    "192.0.2.1:40000".parse().unwrap()
}

fn country(code: &str) -> Entity {
    Entity::Country(CountryCode::new(code).unwrap())
}

fn pipeline(own: &[&str]) -> FlowPipeline {
    FlowPipeline::new(
        GeoDb::embedded(),
        BinSize::FIVE_MINUTES,
        own.iter().map(|p| p.parse().unwrap()).collect(),
    )
    .with_decoder(FlowDecoder::new().quiet())
}

#[test]
fn addresses_map_to_the_expected_countries() {
    let geo = GeoDb::embedded();
    assert_eq!(geo.country_of(IpAddr::V4(KZ_HOST)).unwrap().as_str(), "KZ");
    assert_eq!(geo.country_of(IpAddr::V4(US_HOST)).unwrap().as_str(), "US");
}

#[test]
fn far_end_counts_corrected_for_sampling() {
    let mut p = pipeline(&["192.0.2.0/24"]);
    let t0 = 1_700_000_100; // inside the bin starting at 1_700_000_100 - 100
    let outcome = p.ingest(
        exporter(),
        t0,
        &v9_datagram(
            true,
            &[
                (KZ_HOST, OWN_HOST, 1000, 2, 10), // from KZ, 1 in 10
                (OWN_HOST, KZ_HOST, 300, 3, 1),   // to KZ
                (OWN_HOST, US_HOST, 50, 1, 0),    // to US, rate 0 = unsampled
                (OWN_HOST, OWN_HOST, 999, 9, 1),  // internal: not counted
            ],
        ),
    );
    assert_eq!(outcome.records, 4);
    assert!(p.close_until(t0).is_empty(), "the bin is still open");
    let bins = p.close_until(t0 + 300);
    assert_eq!(bins.len(), 1);
    let bin = &bins[0];
    assert_eq!(bin.bin_start, 1_700_000_100 / 300 * 300);
    let kz = country("KZ");
    assert_eq!(bin.value(&kz, SignalKind::FlowBytesFrom), Some(10_000.0));
    assert_eq!(bin.value(&kz, SignalKind::FlowPacketsFrom), Some(20.0));
    assert_eq!(bin.value(&kz, SignalKind::FlowsFrom), Some(10.0));
    assert_eq!(bin.value(&kz, SignalKind::FlowBytesTo), Some(300.0));
    assert_eq!(bin.value(&kz, SignalKind::FlowPacketsTo), Some(3.0));
    assert_eq!(bin.value(&kz, SignalKind::FlowsTo), Some(1.0));
    let us = country("US");
    assert_eq!(bin.value(&us, SignalKind::FlowBytesTo), Some(50.0));
    assert_eq!(bin.value(&us, SignalKind::FlowBytesFrom), None);
    assert_eq!(p.stats().internal_records, 1);
    assert_eq!(p.stats().records, 3);

    // Next bin: only US traffic. KZ had values, so it now reads 0, not "no data".
    p.ingest(
        exporter(),
        t0 + 300,
        &v9_datagram(false, &[(US_HOST, OWN_HOST, 10, 1, 1)]),
    );
    let bins = p.close_all();
    assert_eq!(bins[0].value(&kz, SignalKind::FlowBytesFrom), Some(0.0));
    assert_eq!(bins[0].value(&us, SignalKind::FlowBytesFrom), Some(10.0));
    // A record for a closed bin is refused and counted.
    p.ingest(
        exporter(),
        t0,
        &v9_datagram(false, &[(US_HOST, OWN_HOST, 10, 1, 1)]),
    );
    assert_eq!(p.stats().late_records, 1);
}

#[test]
fn bad_input_is_counted_per_exporter_and_changes_no_count() {
    let mut p = pipeline(&[]);
    let t = 1_700_000_000;
    let other: SocketAddr = "198.51.100.7:2055".parse().unwrap();
    // Garbage, empty and one-byte datagrams.
    assert!(p.ingest(exporter(), t, b"GET / HTTP/1.1\r\n").decode_error);
    assert!(p.ingest(exporter(), t, &[]).decode_error);
    assert!(p.ingest(exporter(), t, &[0]).decode_error);
    // Data before its template.
    let miss = p.ingest(
        exporter(),
        t,
        &v9_datagram(false, &[(KZ_HOST, US_HOST, 1, 1, 1)]),
    );
    assert_eq!((miss.records, miss.template_misses), (0, 1));
    // Truncated datagrams: every prefix of a valid one.
    let full = v9_datagram(
        true,
        &[(KZ_HOST, US_HOST, 100, 1, 1), (KZ_HOST, US_HOST, 200, 2, 1)],
    );
    for cut in 1..full.len() {
        let _ = p.ingest(other, t, &full[..cut]);
    }
    // Absurd sampling rate: dropped, counted.
    let absurd = p.ingest(
        exporter(),
        t,
        &v9_datagram(
            true,
            &[
                (KZ_HOST, US_HOST, 100, 1, u32::MAX),
                (KZ_HOST, US_HOST, 7, 1, 1),
            ],
        ),
    );
    assert_eq!((absurd.records, absurd.bad_sampling_rate), (1, 1));
    // Garbage sFlow.
    assert!(
        p.ingest(other, t, &[0, 0, 0, 5, 0, 0, 0, 1, 1])
            .decode_error
    );

    let health = p.health();
    let h = &health[&exporter()];
    assert_eq!(h.datagrams, 5);
    assert_eq!(h.decode_errors, 3);
    assert_eq!(h.template_misses, 1);
    assert_eq!(h.bad_sampling_rates, 1);
    assert_eq!(h.records, 1);
    assert_eq!(h.last_packet_at, Some(t));
    let o = health[&other].clone();
    // A cut datagram never yields a record: its data set is shorter than declared.
    assert_eq!(o.records, 0, "{o:?}");
    assert!(o.decode_errors > 0, "{o:?}");
    assert!(o.last_error.is_some());

    // Only the one good record (7 bytes) is counted: never the absurd one.
    let bins = p.close_all();
    assert_eq!(
        bins[0].value(&country("KZ"), SignalKind::FlowBytesFrom),
        Some(7.0)
    );
    assert_eq!(p.stats().records, 1);
}

#[test]
fn ases_and_regions_when_the_geo_tables_have_them() {
    let mut builder = vigie_geo::GeoDbBuilder::embedded();
    builder
        .load_ip_location_db_asn_from(
            "2.132.0.0,2.135.255.255,9198,JSC Kazakhtelecom\n".as_bytes(),
            "asn.csv",
        )
        .unwrap();
    builder
        .load_dbip_city_regions_from(
            "2.132.0.0,2.132.0.255,KZ,Almaty,,Almaty,,43.2,76.9,Asia/Almaty\n".as_bytes(),
            "city.csv",
        )
        .unwrap();
    let mut p = FlowPipeline::new(builder.build(), BinSize::FIVE_MINUTES, vec![])
        .with_decoder(FlowDecoder::new().quiet());
    p.ingest(
        exporter(),
        1_700_000_000,
        &v9_datagram(true, &[(KZ_HOST, US_HOST, 500, 5, 2)]),
    );
    let bins = p.close_all();
    let bin = &bins[0];
    assert_eq!(
        bin.value(&Entity::Asn(9198), SignalKind::FlowBytesFrom),
        Some(1000.0)
    );
    let almaty = Entity::from_kind_code(vigie_model::EntityKind::Region, "KZ/Almaty").unwrap();
    assert_eq!(bin.value(&almaty, SignalKind::FlowPacketsFrom), Some(10.0));
    assert_eq!(bin.value(&country("KZ"), SignalKind::FlowsFrom), Some(2.0));
}
