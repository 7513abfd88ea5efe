//! `vigie serve --publish` against a real `nats-server -js` (feature
//! `nats`): a collector on the bus. Every source's bins go to the service's
//! own store and to JetStream under the source's name; `vigie bus store`
//! then writes, from the bus alone, the same series value for value.
#![cfg(feature = "nats")]

use std::io::Write;
use std::process::Command;

use vigie_bus::testing::{store_contents, NatsServer};
use vigie_model::TimeRange;
use vigie_store::Store;

/// 2025-01-06T12:00:00Z.
const START: i64 = 1_736_164_800;
const HOURS: i64 = 6;

/// An access log of `HOURS` hours from `START`, a request every minute from
/// Kazakhstan and from the United States, none from Kazakhstan in the
/// fourth hour.
fn access_log() -> String {
    let mut log = String::new();
    for minute in 0..HOURS * 60 {
        let when = format!(
            "06/Jan/2025:{:02}:{:02}:05 +0000",
            12 + minute / 60,
            minute % 60
        );
        if !(180..240).contains(&minute) {
            log.push_str(&format!(
                "2.132.0.{} - - [{when}] \"GET / HTTP/1.1\" 200 512 \"-\" \"a\"\n",
                minute % 200 + 1
            ));
        }
        log.push_str(&format!(
            "8.8.{}.8 - - [{when}] \"GET /a HTTP/1.1\" 200 1024 \"-\" \"b\"\n",
            minute % 50
        ));
    }
    log
}

#[test]
fn a_collector_publishes_every_bin_the_bus_store_writes_them_all() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    std::fs::File::create(&log_path)
        .unwrap()
        .write_all(access_log().as_bytes())
        .unwrap();
    let config_path = dir.path().join("vigie.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[source]]\nkind = \"access-log\"\npath = \"{}\"\nsource = \"example-site\"\nfrom_start = true\n",
            log_path.display()
        ),
    )
    .unwrap();
    let collector = dir.path().join("collector");
    let served = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(&collector)
        .args([
            "serve",
            "--for-secs",
            "8",
            "--publish",
            &server.url,
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        served.status.success(),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );

    let writer = dir.path().join("writer");
    let stored = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(&writer)
        .args(["bus", "store", "--nats", &server.url, "--exit-when-drained"])
        .output()
        .unwrap();
    assert!(
        stored.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&stored.stdout),
        String::from_utf8_lossy(&stored.stderr)
    );

    let range = TimeRange::new(START - 86_400, START + 2 * 86_400).unwrap();
    let own = store_contents(&Store::open(&collector).unwrap(), range);
    let from_bus = store_contents(&Store::open(&writer).unwrap(), range);
    assert!(!own.is_empty(), "the collector wrote nothing");
    let kazakh = own
        .iter()
        .find(|(key, _, _)| key.entity.to_string() == "KZ")
        .expect("a Kazakh series");
    let hours_seen = kazakh.2.iter().filter(|v| v.is_some()).count();
    assert!(hours_seen > 0, "no Kazakh values: {kazakh:?}");
    assert_eq!(own, from_bus, "the bus store differs from the collector's");
}
