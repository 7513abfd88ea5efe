//! Feeds arbitrary datagrams (NetFlow v5/v9, IPFIX, sFlow or garbage) to
//! one decoder, as a sequence from two exporters, so templates learnt from
//! one datagram apply to the next ones of the same exporter: nothing may panic, every datagram is
//! counted in its exporter's health, no record has a rate of 0 or above
//! the limit, and the fast path gives exactly what netflow_parser gives,
//! also under tight collector limits (few exporters, templates and fields).
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use vigie_traffic::flow::decode::FlowDecoder;
use vigie_traffic::flow::limits::FlowLimits;

fuzz_target!(|data: &[u8]| {
    let exporters: [SocketAddr; 2] = ["192.0.2.1:2055".parse().unwrap(), "[2001:db8::1]:6343".parse().unwrap()];
    let mut decoder = FlowDecoder::new().quiet().with_max_sampling_rate(100_000);
    let mut slow = FlowDecoder::new()
        .quiet()
        .with_max_sampling_rate(100_000)
        .without_fast_path();
    let tight = FlowLimits {
        max_exporters: 2,
        max_templates_per_exporter: 3,
        max_fields_per_template: 8,
        ..FlowLimits::default()
    };
    let mut tight_fast = FlowDecoder::new().quiet().with_limits(tight.clone());
    let mut tight_slow = FlowDecoder::new()
        .quiet()
        .with_limits(tight)
        .without_fast_path();
    let mut records = Vec::new();
    let mut slow_records = Vec::new();
    let mut tight_records = (Vec::new(), Vec::new());
    let mut sent = [0u64; 2];
    // Datagrams are separated by "VGDG" (the next one comes from the first
    // exporter) or "VGDH" (from the second).
    let mut rest = data;
    let mut which = 0usize;
    loop {
        let marker = rest
            .windows(4)
            .position(|w| w == b"VGDG" || w == b"VGDH");
        let (datagram, next) = match marker {
            Some(at) => (&rest[..at], Some((rest[at + 3], &rest[at + 4..]))),
            None => (rest, None),
        };
        let before = records.len();
        let outcome = decoder.decode(exporters[which], 1_700_000_000, datagram, &mut records);
        assert_eq!(outcome.records as usize, records.len() - before);
        let slow_outcome = slow.decode(exporters[which], 1_700_000_000, datagram, &mut slow_records);
        assert_eq!(outcome, slow_outcome);
        assert_eq!(records, slow_records);
        let a = tight_fast.decode(exporters[which], 1_700_000_000, datagram, &mut tight_records.0);
        let b = tight_slow.decode(exporters[which], 1_700_000_000, datagram, &mut tight_records.1);
        assert_eq!(a, b);
        assert_eq!(tight_records.0, tight_records.1);
        assert!(tight_fast.exporters_kept() <= 2);
        assert!(tight_fast.most_templates_per_exporter() <= 3);
        sent[which] += 1;
        match next {
            Some((kind, n)) => {
                which = usize::from(kind == b'H');
                rest = n;
            }
            None => break,
        }
    }
    for r in &records {
        assert!(r.sampling_rate >= 1 && r.sampling_rate <= 100_000);
    }
    let health = decoder.health();
    for (which, exporter) in exporters.iter().enumerate() {
        let got = health.get(exporter).map_or(0, |h| h.datagrams);
        assert_eq!(got, sent[which]);
    }
    let total: u64 = health.values().map(|h| h.records).sum();
    assert_eq!(total as usize, records.len());
});
