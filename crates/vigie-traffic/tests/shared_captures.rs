//! Decodes every flow capture of the shared data (real exporters' packets,
//! from akvorado's test data) and checks the decoded fields against what
//! tshark shows for the same packets.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vigie_traffic::capture::{read_capture, udp_datagram};
use vigie_traffic::flow::decode::{FlowDecoder, FlowRecord};
use vigie_traffic::flow::health::DatagramOutcome;

fn flows_dir() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/flows"
    ));
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "shared data missing: {} (CI=true requires it)",
            dir.display()
        );
    }
    eprintln!("SKIP: shared data not found at {}", dir.display());
    None
}

/// Feeds the files in order to one decoder (templates before data, as an
/// exporter sends them) and returns the records of the last file.
fn decode_sequence(dir: &Path, files: &[&str]) -> (Vec<FlowRecord>, DatagramOutcome, FlowDecoder) {
    let fast = decode_sequence_with(dir, files, FlowDecoder::new().quiet());
    // The fast path must give exactly what netflow_parser gives.
    let slow = decode_sequence_with(dir, files, FlowDecoder::new().quiet().without_fast_path());
    assert_eq!(fast.0, slow.0, "{files:?}");
    assert_eq!(fast.1, slow.1, "{files:?}");
    fast
}

fn decode_sequence_with(
    dir: &Path,
    files: &[&str],
    mut decoder: FlowDecoder,
) -> (Vec<FlowRecord>, DatagramOutcome, FlowDecoder) {
    let mut records = Vec::new();
    let mut last = DatagramOutcome::default();
    for name in files {
        records.clear();
        let path = dir.join(name);
        let summary = read_capture(&path, |frame| {
            let udp = udp_datagram(frame.link, &frame.data).expect("a UDP datagram");
            last = decoder.decode(udp.src, frame.timestamp_secs, udp.payload, &mut records);
        })
        .expect("readable capture");
        assert!(
            summary.truncated.is_none(),
            "{name}: {:?}",
            summary.truncated
        );
        assert_eq!(summary.frames, 1, "{name}");
    }
    (records, last, decoder)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sums(records: &[FlowRecord]) -> (usize, u64, u64) {
    (
        records.len(),
        records.iter().map(|r| r.bytes).sum(),
        records.iter().map(|r| r.packets).sum(),
    )
}

/// Expected values below were read with tshark (`-T fields -e cflow.octets
/// -e cflow.packets -e cflow.srcaddr -e cflow.sampling_interval`, templates
/// merged before data with mergecap) from the same files.
#[test]
fn netflow_v5() {
    let Some(dir) = flows_dir() else { return };
    let (records, outcome, decoder) = decode_sequence(&dir, &["netflow__nfv5.pcap"]);
    assert_eq!(sums(&records), (29, 88_345, 78));
    assert_eq!(records[0].src, ip("161.202.212.212"));
    assert_eq!(records[0].dst, ip("202.152.70.24"));
    assert_eq!((records[0].bytes, records[0].packets), (133, 1));
    assert_eq!(records[1].src, ip("173.194.4.8"));
    assert_eq!((records[1].bytes, records[1].packets), (10_262, 7));
    assert!(records.iter().all(|r| r.sampling_rate == 1));
    assert!(!outcome.decode_error);
    let health = decoder.health().values().next().unwrap();
    assert_eq!(
        (health.datagrams, health.records, health.decode_errors),
        (1, 29, 0)
    );
}

#[test]
fn netflow_v9_template_then_data() {
    let Some(dir) = flows_dir() else { return };
    let (records, _, decoder) =
        decode_sequence(&dir, &["netflow__template.pcap", "netflow__data.pcap"]);
    assert_eq!(
        decoder.fast_path_datagrams(),
        1,
        "the data datagram takes the fast path"
    );
    assert_eq!(sums(&records), (4, 5_848, 4));
    assert_eq!(records[0].src, ip("198.38.121.178"));
    assert_eq!(records[0].dst, ip("91.170.143.87"));
    assert_eq!(records[0].bytes, 1500);
}

#[test]
fn netflow_v9_data_before_template_is_a_counted_miss_and_options_give_the_rate() {
    let Some(dir) = flows_dir() else { return };
    // One datagram: data (257), options template, options data (rate 100),
    // template 257, data 257. The first data set cannot be decoded.
    let (records, outcome, decoder) = decode_sequence(&dir, &["netflow__data+templates.pcap"]);
    assert_eq!(outcome.template_misses, 1);
    assert_eq!(sums(&records), (10, 54_592, 48));
    assert_eq!(records[0].src, ip("120.120.180.202"));
    assert_eq!((records[0].bytes, records[0].packets), (436, 1));
    assert!(records.iter().all(|r| r.sampling_rate == 100));
    assert_eq!(records[0].scaled_bytes(), 43_600);
    let health = decoder.health().values().next().unwrap();
    assert_eq!(health.template_misses, 1);
}

#[test]
fn netflow_v9_sampling_rate_per_sampler_id_from_options() {
    let Some(dir) = flows_dir() else { return };
    let (records, _, _) = decode_sequence(
        &dir,
        &[
            "netflow__multiplesamplingrates-options-template.pcap",
            "netflow__multiplesamplingrates-options-data.pcap",
            "netflow__multiplesamplingrates-template.pcap",
            "netflow__multiplesamplingrates-data.pcap",
        ],
    );
    assert_eq!(sums(&records), (12, 14_818, 38));
    // Sampler 1 samples 1 in 2000, sampler 2 1 in 4000; the first record is sampler 2's.
    assert_eq!(records[0].src, ip("ffff::68"));
    assert_eq!((records[0].bytes, records[0].packets), (1348, 18));
    assert_eq!(records[0].sampling_rate, 4000);
    assert_eq!(records[1].sampling_rate, 2000);
    assert_eq!(
        records.iter().filter(|r| r.sampling_rate == 4000).count(),
        1
    );
}

#[test]
fn netflow_v9_sampling_interval_in_records() {
    let Some(dir) = flows_dir() else { return };
    let (records, _, _) = decode_sequence(
        &dir,
        &[
            "netflow__samplingrate-template.pcap",
            "netflow__samplingrate-data.pcap",
        ],
    );
    assert_eq!(sums(&records), (6, 3_740, 6));
    assert_eq!(records[0].src, ip("232.131.215.65"));
    assert_eq!(records[0].dst, ip("142.183.180.65"));
    assert!(records.iter().all(|r| r.sampling_rate == 2048));
}

#[test]
fn ipfix_probe_and_psamp_sampling() {
    let Some(dir) = flows_dir() else { return };
    let (records, _, _) = decode_sequence(
        &dir,
        &[
            "netflow__ipfixprobe-templates.pcap",
            "netflow__ipfixprobe-data.pcap",
        ],
    );
    assert_eq!(sums(&records), (4, 24_268, 34));
    assert_eq!(records[2].src, ip("10.10.1.4"));
    assert_eq!(records[2].dst, ip("74.53.140.153"));
    assert_eq!((records[2].bytes, records[2].packets), (21_673, 28));

    // samplingPacketInterval 1, samplingPacketSpace 999: 1 in 1000.
    let (records, _, _) = decode_sequence(&dir, &["netflow__physicalinterfaces.pcap"]);
    assert_eq!(sums(&records), (8, 31_111, 29));
    assert_eq!(records[0].src, ip("147.53.240.75"));
    assert_eq!(records[0].dst, ip("212.82.101.24"));
    assert!(records.iter().all(|r| r.sampling_rate == 1000));

    let (records, _, _) = decode_sequence(&dir, &["netflow__mpls.pcap"]);
    assert_eq!(sums(&records), (2, 979, 11));
    assert_eq!(records[1].dst, ip("fd00::1:0:1:6:1"));
    assert!(records.iter().all(|r| r.sampling_rate == 10));
}

#[test]
fn records_without_ip_addresses_are_counted_not_used() {
    let Some(dir) = flows_dir() else { return };
    for seq in [
        &[
            "netflow__datalink-template.pcap",
            "netflow__datalink-data.pcap",
        ][..],
        &[
            "netflow__ipfix-srv6-template.pcap",
            "netflow__ipfix-srv6-data.pcap",
        ][..],
        &[
            "netflow__juniper-cpid-template.pcap",
            "netflow__juniper-cpid-data.pcap",
        ][..],
        &[
            "netflow__options-template.pcap",
            "netflow__options-data.pcap",
        ][..],
    ] {
        let (records, outcome, _) = decode_sequence(&dir, seq);
        assert!(records.is_empty(), "{seq:?}");
        assert!(!outcome.decode_error, "{seq:?}");
    }
    let (_, outcome, _) = decode_sequence(
        &dir,
        &[
            "netflow__ethernet-over-mpls-with-control-word-template.pcap",
            "netflow__ethernet-over-mpls-with-control-word-data.pcap",
        ],
    );
    assert_eq!(outcome.records_without_addresses, 10);
    let (records, _, _) = decode_sequence(
        &dir,
        &["netflow__icmp-template.pcap", "netflow__icmp-data.pcap"],
    );
    assert_eq!(sums(&records), (2, 168, 2));
    let (records, _, _) = decode_sequence(&dir, &["netflow__nat.pcap"]);
    assert_eq!(records.len(), 9);
    assert_eq!(records[1].dst, ip("51.250.50.21"));
}

#[test]
fn sflow_samples() {
    let Some(dir) = flows_dir() else { return };
    let (records, _, _) = decode_sequence(&dir, &["sflow__data-qinq.pcap"]);
    // Two VLAN tags, then IPv4 of total length 80; 1 in 4096.
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].src, records[0].dst),
        (ip("49.49.49.2"), ip("49.49.49.109"))
    );
    assert_eq!(
        (
            records[0].bytes,
            records[0].packets,
            records[0].sampling_rate
        ),
        (80, 1, 4096)
    );
    assert!(!records[0].is_flow);

    let (records, _, _) = decode_sequence(&dir, &["sflow__data-1140.pcap"]);
    assert_eq!(sums(&records), (5, 4_961, 5));
    assert_eq!(records[1].src, ip("104.26.8.24"));
    assert_eq!(records[1].dst, ip("45.90.161.46"));
    assert_eq!(records[1].bytes, 421);
    assert!(records.iter().all(|r| r.sampling_rate == 1024));

    let (records, _, _) = decode_sequence(&dir, &["sflow__data-sflow-expanded-sample.pcap"]);
    assert_eq!(
        (records[0].src, records[0].sampling_rate),
        (ip("52.52.52.52"), 1000)
    );
    let (records, _, _) = decode_sequence(&dir, &["sflow__data-sflow-ipv4-data.pcap"]);
    assert_eq!(
        (records[0].dst, records[0].bytes, records[0].sampling_rate),
        (ip("51.51.51.51"), 1344, 256)
    );
    let (records, _, _) = decode_sequence(&dir, &["sflow__data-sflow-raw-ipv4.pcap"]);
    assert_eq!(sums(&records), (2, 64, 2));
    assert_eq!(records[1].dst, ip("92.222.184.1"));
    let (records, _, _) = decode_sequence(&dir, &["sflow__data-icmpv6.pcap"]);
    assert_eq!((records[0].dst, records[0].bytes), (ip("2001:db8::"), 72));
    let (records, _, _) = decode_sequence(&dir, &["sflow__data-encap-vxlan.pcap"]);
    assert_eq!(records[0].src, ip("192.168.108.40"));
    for name in [
        "sflow__data-discard-interface.pcap",
        "sflow__data-local-interface.pcap",
        "sflow__data-multiple-interfaces.pcap",
        "sflow__data-icmpv4.pcap",
    ] {
        let (records, outcome, _) = decode_sequence(&dir, &[name]);
        assert_eq!(records.len(), 1, "{name}");
        assert!(!outcome.decode_error, "{name}");
    }
}

/// Every netflow__/sflow__ capture of the folder is covered by a test above.
#[test]
fn every_capture_is_decodable() {
    let Some(dir) = flows_dir() else { return };
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !(name.starts_with("netflow__") || name.starts_with("sflow__")) {
            continue;
        }
        count += 1;
        let (_, outcome, _) = decode_sequence(&dir, &[name.as_str()]);
        assert!(!outcome.decode_error, "{name}");
    }
    assert_eq!(count, 38);
}

/// The UDP payloads of a capture, in order.
fn payloads(dir: &Path, name: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    read_capture(&dir.join(name), |frame| {
        let udp = udp_datagram(frame.link, &frame.data).expect("a UDP datagram");
        out.push(udp.payload.to_vec());
    })
    .expect("readable capture");
    out
}

/// The entities with values in `bin`.
fn entities_of(bin: &vigie_model::SignalBin) -> std::collections::BTreeSet<vigie_model::Entity> {
    bin.values
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.entity.clone())
        .collect()
}

/// Issue 13, item 5: one of two real exporters (a NetFlow v5 router and a
/// NetFlow v9 one, their packets replayed) falls silent. The entities only
/// it fed get no data (a gap, and a notice naming it), not the zeros of an
/// outage, while the other exporter's entities keep their values; once it
/// is heard again (a template datagram, no records) they read 0 again.
#[test]
fn a_silent_exporter_leaves_gaps_not_zeros() {
    use vigie_traffic::flow::pipeline::FlowPipeline;
    let Some(dir) = flows_dir() else {
        return;
    };
    let v5 = payloads(&dir, "netflow__nfv5.pcap");
    let v9 = payloads(&dir, "netflow__data+templates.pcap");
    let v9_template = payloads(&dir, "netflow__template.pcap");
    let a: std::net::SocketAddr = "198.51.100.1:2055".parse().unwrap();
    let b: std::net::SocketAddr = "198.51.100.2:2055".parse().unwrap();
    let new_pipeline = || {
        FlowPipeline::new(
            vigie_geo::GeoDb::embedded(),
            vigie_model::BinSize::FIVE_MINUTES,
            Vec::new(),
        )
        .with_decoder(FlowDecoder::new().quiet())
    };
    let t0 = 1_700_000_100 / 300 * 300;
    // What each exporter feeds, alone.
    let fed_by = |datagrams: &[Vec<u8>]| {
        let mut p = new_pipeline();
        for d in datagrams {
            p.ingest(a, t0, d);
        }
        entities_of(&p.close_all()[0])
    };
    let (fed_by_a, fed_by_b) = (fed_by(&v5), fed_by(&v9));
    let only_a: Vec<_> = fed_by_a.difference(&fed_by_b).cloned().collect();
    assert!(
        !only_a.is_empty() && !fed_by_b.is_empty(),
        "{fed_by_a:?} {fed_by_b:?}"
    );

    let mut p = new_pipeline();
    let mut bins = Vec::new();
    for (i, (from_a, from_b)) in [
        (&v5, &v9),          // both send
        (&Vec::new(), &v9),  // A silent
        (&Vec::new(), &v9),  // still silent
        (&v9_template, &v9), // A back, a template and no records
    ]
    .into_iter()
    .enumerate()
    {
        let t = t0 + 300 * i as i64 + 10;
        for d in from_a {
            p.ingest(a, t, d);
        }
        for d in from_b {
            p.ingest(b, t, d);
        }
        bins.extend(p.close_until(t + 300));
    }
    assert_eq!(bins.len(), 4);
    assert_eq!(entities_of(&bins[0]), &fed_by_a | &fed_by_b);
    for bin in &bins[1..3] {
        let present = entities_of(bin);
        for entity in &only_a {
            assert!(
                !present.contains(entity),
                "{entity} has values while its only exporter is silent: {:?}",
                bin.values
            );
        }
        assert!(
            fed_by_b.is_subset(&present),
            "B's entities keep their values"
        );
    }
    for entity in &only_a {
        for signal in [
            vigie_model::SignalKind::FlowBytesFrom,
            vigie_model::SignalKind::FlowBytesTo,
        ] {
            let had = bins[0].value(entity, signal).is_some();
            assert_eq!(
                bins[3].value(entity, signal),
                had.then_some(0.0),
                "{entity} {signal:?} once A is heard again"
            );
        }
    }
    assert_eq!(p.stats().silent_feed_gaps, 2 * only_a.len() as u64);
    let notices = p.take_feed_notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("198.51.100.1") && notices[0].contains("no data"),
        "{notices:?}"
    );
    assert!(notices[1].contains("heard again"), "{notices:?}");
    assert!(p.silent_exporters().is_empty());
}
