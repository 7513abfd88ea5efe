//! A crash mid-ingest loses at most the open bin, and a rerun converges to
//! the same series as an uninterrupted run. The input is a generated MRT
//! update file (bgpkit-parser's encoder) spanning several hours.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bgpkit_parser::encoder::MrtUpdatesEncoder;
use bgpkit_parser::models::{AsPath, AsPathSegment, Asn, ElemType, NetworkPrefix};
use bgpkit_parser::BgpElem;

/// 6 hours of updates from 20 peers for 300 Kazakh /24s of AS9198 (in
/// 2.132.0.0/14): each prefix is withdrawn and re-announced now and then.
fn write_updates(path: &Path) {
    let mut encoder = MrtUpdatesEncoder::new();
    let start = 1_641_340_800.0; // 2022-01-05T00:00:00Z
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for step in 0..60_000u32 {
        let t = start + step as f64 * 0.36; // 6 hours
        let peer = (next() % 20) as u8;
        let block = (next() % 300) as u32;
        let prefix = Ipv4Addr::from(0x0284_0000u32 + (block << 8));
        let announce = next() % 4 != 0;
        let elem = BgpElem {
            timestamp: t,
            elem_type: if announce {
                ElemType::ANNOUNCE
            } else {
                ElemType::WITHDRAW
            },
            peer_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, peer + 1)),
            peer_asn: Asn::from(64_500 + peer as u32),
            prefix: NetworkPrefix::new(format!("{prefix}/24").parse().unwrap(), None),
            as_path: announce.then(|| {
                AsPath::from_segments(vec![AsPathSegment::AsSequence(
                    vec![Asn::from(64_500 + peer as u32), Asn::from(9198)].into(),
                )])
            }),
            ..Default::default()
        };
        encoder.process_elem(&elem);
    }
    let bytes = encoder.export_bytes().unwrap();
    std::fs::File::create(path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
}

fn vigie(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(data_dir);
    command
}

fn series_csv(data_dir: &Path, entity: &str) -> String {
    let out = vigie(data_dir)
        .args(["series", entity, "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn killed_ingest_reruns_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("updates.20220105.0000");
    write_updates(&input);
    let ingest_args = [
        "ingest",
        "mrt",
        input.to_str().unwrap(),
        "--no-progress",
        "--full-feed-v4",
        "0",
    ];

    let clean = dir.path().join("clean");
    let status = vigie(&clean).args(ingest_args).status().unwrap();
    assert!(status.success());
    let expected = series_csv(&clean, "KZ");
    assert!(
        expected.lines().count() > 3 * 70,
        "6 hours of bins, three signals:\n{expected}"
    );

    // Kill a run part-way, at several moments.
    let crashed = dir.path().join("crashed");
    for delay_ms in [150u64, 600, 1500] {
        let mut child = vigie(&crashed)
            .args(ingest_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The store still opens and answers after the kill.
        let out = vigie(&crashed).args(["entities"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = vigie(&crashed).args(ingest_args).status().unwrap();
    assert!(status.success());
    assert_eq!(series_csv(&crashed, "KZ"), expected);
    assert_eq!(series_csv(&crashed, "AS9198"), series_csv(&clean, "AS9198"));
}
