//! `vigie probe` end to end with real packets: the binary runs in the
//! vantage namespace of a `vigie_probe::lab` lab, probes a "country" of 16
//! blocks, writes `ping-slash24` to the store, saves its list and states;
//! `vigie probe --combine` merges vantage points under a quorum; `vigie
//! serve`'s probe source logs block changes as `vigie probe` does. Needs root,
//! `ip` and `nft`: skipped with a message elsewhere, a failure under CI=true.

use std::path::Path;
use std::process::{Command, Output};

use vigie_probe::lab::{unavailable_reason, Lab};

fn lab_or_skip() -> Option<Lab> {
    let reason = match unavailable_reason() {
        None => match Lab::create("c", "198.18.0.0/16".parse().unwrap()) {
            Ok(lab) => return Some(lab),
            Err(e) => format!("cannot build the namespace lab: {e}"),
        },
        Some(reason) => reason,
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the probe lab cannot run: {reason}"
    );
    eprintln!("SKIPPED: vigie probe CLI test: {reason}");
    None
}

/// Runs vigie inside namespace `ns` (or the current one when `None`).
fn vigie(ns: Option<&str>, data_dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_vigie");
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin]);
            c
        }
        None => Command::new(bin),
    };
    let output = command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie");
    eprintln!(
        "vigie {args:?}: {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn probe_rounds_feed_the_store_and_vantage_points_combine() {
    let Some(lab) = lab_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let geo = dir.path().join("geo-country.csv");
    std::fs::write(&geo, "198.18.0.0,198.18.255.255,KZ\n").unwrap();
    let mut hitlist = String::from("# lab hitlist\n");
    for block in 0..16 {
        for host in [1, 50, 100, 200] {
            hitlist.push_str(&format!("198.18.{block}.{host} 0.9\n"));
        }
    }
    hitlist.push_str("198.18.99.999\n");
    let hits = dir.path().join("hits.txt");
    std::fs::write(&hits, &hitlist).unwrap();
    let list = dir.path().join("list.txt");
    let states = dir.path().join("states-a.txt");
    let p = |path: &Path| path.to_str().unwrap().to_string();
    let (hits_s, list_s, states_s, geo_s) = (p(&hits), p(&list), p(&states), p(&geo));
    let common = [
        "--rate",
        "500",
        "--round-secs",
        "1",
        "--timeout-ms",
        "300",
        "--rounds",
        "2",
        "--min-responsive",
        "4",
        "--allow-private",
        "--geo",
        &geo_s,
        "--vantage",
        "lab-a",
    ];

    // Without --allow-private every lab address is refused, with a hint.
    let refused = vigie(
        Some(&lab.vantage_ns),
        &data,
        &[&["probe", "--targets", &hits_s], &common[..]]
            .concat()
            .into_iter()
            .filter(|a| *a != "--allow-private")
            .collect::<Vec<_>>(),
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("use --allow-private"));

    // A malformed line: reported with its number, the rest probed, exit 3.
    let mut args = vec![
        "probe",
        "--targets",
        &hits_s,
        "--save-list",
        &list_s,
        "--states-out",
        &states_s,
    ];
    args.extend_from_slice(&common);
    let out = vigie(Some(&lab.vantage_ns), &data, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("hits.txt:66: \"198.18.99.999\" is not an IPv4 address"),
        "{stderr}"
    );
    assert!(stdout.contains("round 1 "), "{stdout}");
    assert!(stdout.contains("round 2 "), "{stdout}");
    assert!(
        stdout.contains(": 16 up, 0 down, 0 uncertain (0 unmeasured)"),
        "{stdout}"
    );
    let saved = std::fs::read_to_string(&list).unwrap();
    assert_eq!(saved.lines().count(), 17, "{saved}");
    assert!(
        saved.contains("198.18.15.0/24 0.9000 1,50,100,200"),
        "{saved}"
    );
    let state_text = std::fs::read_to_string(&states).unwrap();
    assert!(state_text.starts_with("# vigie vantage states v1 lab-a"));
    assert_eq!(state_text.matches(" up").count(), 16);

    let series = vigie(
        None,
        &data,
        &[
            "series",
            "KZ",
            "--signal",
            "ping-slash24",
            "--format",
            "csv",
        ],
    );
    let text = String::from_utf8_lossy(&series.stdout);
    assert!(series.status.success());
    assert!(text.lines().skip(1).any(|l| l.ends_with(",16")), "{text}");

    // The saved list is reused; the border is cut: 0 blocks up within one round.
    lab.cut_border().unwrap();
    let mut args = vec!["probe", "--targets", &list_s];
    args.extend_from_slice(&common);
    let rounds_one = args.iter().position(|a| *a == "2").unwrap();
    args[rounds_one] = "1";
    let out = vigie(Some(&lab.vantage_ns), &data, &args);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": 0 up, 16 down, 0 uncertain"), "{stdout}");
    lab.restore_border().unwrap();
    // The block log lets a user drill down to the blocks that went dark.
    let changes = vigie(None, &data, &["probe", "--show-changes"]);
    let text = String::from_utf8_lossy(&changes.stdout);
    assert!(changes.status.success());
    assert_eq!(text.matches(" up -> down ").count(), 16, "{text}");
    assert!(
        text.contains(" lab-a 198.18.7.0/24 up -> down (B(U) = "),
        "{text}"
    );
    let one = vigie(
        None,
        &data,
        &["probe", "--show-changes", "--block", "198.18.3.9"],
    );
    let text = String::from_utf8_lossy(&one.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("198.18.3.0/24"), "{text}");
    let none = vigie(
        None,
        &data,
        &["probe", "--show-changes", "--until", "2000-01-01"],
    );
    assert_eq!(String::from_utf8_lossy(&none.stdout), "");
    // The latest bin now holds 0: the country is dark, not "no data".
    let series = vigie(
        None,
        &data,
        &[
            "series",
            "KZ",
            "--signal",
            "ping-slash24",
            "--format",
            "csv",
        ],
    );
    let text = String::from_utf8_lossy(&series.stdout);
    assert!(
        text.lines().last().is_some_and(|l| l.ends_with(",0")),
        "{text}"
    );

    // Three vantage points: a saw all up, b and c see the first four down.
    let mut b = String::from("# vigie vantage states v1 lab-b\n");
    let mut c = String::from("# vigie vantage states v1 lab-c\n");
    for block in 0..16 {
        let state_b = if block < 4 { "down" } else { "up" };
        let state_c = if block < 2 { "down" } else { "up" };
        b.push_str(&format!("198.18.{block}.0/24 {state_b}\n"));
        c.push_str(&format!("198.18.{block}.0/24 {state_c}\n"));
    }
    let (b_path, c_path) = (dir.path().join("b.txt"), dir.path().join("c.txt"));
    std::fs::write(&b_path, b).unwrap();
    std::fs::write(&c_path, c).unwrap();
    let (b_s, c_s) = (p(&b_path), p(&c_path));
    let combine = |quorum: &str| {
        vigie(
            None,
            &data,
            &[
                "probe",
                "--combine",
                &states_s,
                "--combine",
                &b_s,
                "--combine",
                &c_s,
                "--quorum",
                quorum,
                "--no-store",
            ],
        )
    };
    let out = combine("2");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("14 blocks up, 2 down, 0 uncertain"));
    let out = combine("1");
    assert!(String::from_utf8_lossy(&out.stdout).contains("12 blocks up, 4 down, 0 uncertain"));
    let out = combine("4");
    assert_eq!(out.status.code(), Some(1));

    // The probe source of `vigie serve` logs its block changes too: the
    // border is cut while it runs, and the block log names its vantage point.
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "geo_files = [{geo_s:?}]\n[detect]\nenabled = false\n[[source]]\nkind = \"probe\"\n\
             targets = {list_s:?}\nrate = 500\nround_secs = 1.0\ntimeout_ms = 300\n\
             min_responsive = 4\nallow_private = true\nvantage = \"lab-s\"\n"
        ),
    )
    .unwrap();
    let serve = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.vantage_ns,
            env!("CARGO_BIN_EXE_vigie"),
        ])
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--config", &p(&config), "--for-secs", "6"])
        .spawn()
        .expect("run vigie serve");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    lab.cut_border().unwrap();
    let served = serve.wait_with_output().unwrap();
    lab.restore_border().unwrap();
    assert!(served.status.success(), "vigie serve: {}", served.status);
    let changes = vigie(None, &data, &["probe", "--show-changes"]);
    let text = String::from_utf8_lossy(&changes.stdout);
    assert_eq!(text.matches(" lab-s ").count(), 16, "{text}");
    assert!(text.contains(" lab-s 198.18.7.0/24 up -> down"), "{text}");
}

#[test]
fn a_rate_above_the_ceiling_is_refused_unless_raised() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("hitlist.txt");
    std::fs::write(&targets, "8.8.8.8 0.9\n").unwrap();
    let targets = targets.to_str().unwrap();
    let refused = vigie(
        None,
        dir.path(),
        &["probe", "--targets", targets, "--rate", "30000"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("above the ceiling of 20000") && stderr.contains("--max-rate 30000"),
        "{stderr}"
    );
    // Raised explicitly, the rate passes the check and the run goes on
    // to the next one (one address is too few for a block to be probed).
    let raised = vigie(
        None,
        dir.path(),
        &[
            "probe",
            "--targets",
            targets,
            "--rate",
            "30000",
            "--max-rate",
            "30000",
        ],
    );
    let stderr = String::from_utf8_lossy(&raised.stderr);
    assert!(!stderr.contains("above the ceiling"), "{stderr}");
}
