//! `vigie bus store` against a real `nats-server -js` (feature `nats`):
//! bins published through the JetStream sink reach the store as the
//! store's own sink writes them, value for value, even when the consumer
//! is killed with SIGKILL in the middle of the stream and started again.
#![cfg(feature = "nats")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use vigie_bus::testing::{store_contents, NatsServer};
use vigie_bus::{Bus, StreamSettings};
use vigie_model::{BinSink, BinSize, SeriesKey, SignalBin, SignalKind, TimeRange};
use vigie_store::Store;

const START: i64 = 1_700_000_100 / 300 * 300;
const BINS: i64 = 300;

fn bin(index: i64) -> SignalBin {
    let mut values = Vec::new();
    for (c, country) in ["KZ", "US", "FR", "EG"].iter().enumerate() {
        let value = (index * 7 + c as i64 * 1_000) as f64;
        values.push((key(country, SignalKind::BgpVisibleSlash24s), Some(value)));
    }
    for asn in 0..60i64 {
        let value = match (index + asn) % 11 {
            0 => None,
            1 => Some(0.0),
            _ => Some(((index * 13 + asn * 17) % 977) as f64 + 0.5 * (asn % 2) as f64),
        };
        values.push((
            key(&format!("AS{}", 64_500 + asn), SignalKind::ProbeUpSlash24s),
            value,
        ));
    }
    values.push((
        key("KZ/Almaty", SignalKind::BgpVisibleSlash24s),
        Some(index as f64),
    ));
    SignalBin {
        bin: BinSize::FIVE_MINUTES,
        bin_start: START + index * 300,
        values,
    }
}

fn key(entity: &str, signal: SignalKind) -> SeriesKey {
    SeriesKey {
        entity: entity.parse().unwrap(),
        signal,
    }
}

fn bus_store(data_dir: &std::path::Path, url: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "bus",
            "store",
            "--nats",
            url,
            "--batch",
            "8",
            "--ack-wait-secs",
            "2",
        ])
        .args(extra);
    command
}

#[test]
fn a_consumer_killed_mid_stream_and_restarted_loses_nothing_and_counts_nothing_twice() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let reference_dir = tempfile::tempdir().unwrap();
    let mut reference = Store::open(reference_dir.path()).unwrap();
    let bus = Bus::connect(&server.url, &StreamSettings::default()).unwrap();
    let mut sink = bus.sink("probe");
    for index in 0..BINS {
        let bin = bin(index);
        reference.sink("probe").write(&bin).unwrap();
        sink.write(&bin).unwrap();
    }
    // A re-published stretch: deduplicated by the stream.
    for index in 100..110 {
        sink.write(&bin(index)).unwrap();
    }
    let tally = sink.tally();
    assert_eq!(tally.messages, 3 * BINS as u64);
    assert_eq!(tally.duplicates, 30);
    // Garbage on the subject the good bins use.
    bus.publish_raw("vigie.bins.probe.asn", b"\x01\xff\xff\xff".to_vec())
        .unwrap();

    let data = tempfile::tempdir().unwrap();
    let mut first = bus_store(data.path(), &server.url, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(first.stderr.take().unwrap());
    let mut batches = 0;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("messages (") {
            batches += 1;
            if batches == 5 {
                break;
            }
        }
    }
    assert_eq!(batches, 5, "the consumer stopped early");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let written = store.last_committed_bin("probe").unwrap().unwrap();
        assert!(
            written < START + (BINS - 1) * 300,
            "killed after the last bin: make the stream longer"
        );
    }

    let second = bus_store(data.path(), &server.url, &["--exit-when-drained"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    let stderr = String::from_utf8_lossy(&second.stderr);
    // Exit code 3: a bad message was skipped.
    assert_eq!(second.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("bad message skipped: vigie.bins.probe.asn #"),
        "{stderr}"
    );
    assert!(stdout.contains("1 bad messages skipped"), "{stdout}");

    let store = Store::open(data.path()).unwrap();
    let range = TimeRange::new(START, START + BINS * 300).unwrap();
    let expected = store_contents(&reference, range);
    assert_eq!(expected.len(), 65);
    assert_eq!(store_contents(&store, range), expected);
    assert_eq!(
        store.last_committed_bin("probe").unwrap(),
        Some(START + (BINS - 1) * 300)
    );
}
