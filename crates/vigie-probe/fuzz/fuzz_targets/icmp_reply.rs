//! The reply parser and the engine's packet handling on arbitrary bytes:
//! no panic, and nothing forged is ever taken as a matched reply.
#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vigie_probe::icmp::{parse_echo_reply, ProbeCookie};
use vigie_probe::{BeliefParams, Eligibility, Engine, ListBuilder, PacketOutcome};

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_echo_reply(data) {
        // Re-encoding the decoded probe gives the same fields back.
        let bytes = reply.probe.to_bytes();
        assert_eq!(bytes.len(), vigie_probe::icmp::ECHO_REQUEST_LEN);
        // A random secret never validates fuzzer-made cookies (2^-64 odds).
        assert!(!ProbeCookie::new().verify(&reply));
    }
    let mut builder = ListBuilder::new();
    builder.add(Ipv4Addr::new(192, 0, 2, 1), 1.0);
    let list = builder.build(&Eligibility {
        min_responsive: 1,
        ..Eligibility::default()
    });
    let mut engine = Engine::new(list, BeliefParams::default(), 1, 1);
    engine.start_round(Duration::ZERO, Duration::from_secs(1));
    if let Some(probe) = engine.next_probe(Duration::from_secs(1)) {
        engine.probe_sent(&probe, Duration::from_secs(1));
    }
    assert_ne!(
        engine.handle_packet(data, Duration::from_secs(1)),
        PacketOutcome::Matched
    );
});
