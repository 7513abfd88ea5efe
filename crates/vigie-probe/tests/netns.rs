//! Real packets in network namespaces: a "country" of /24 blocks behind a
//! veth border (see `vigie_probe::lab`). Needs root, `ip` and `nft`; skips
//! with a message elsewhere, and fails under CI=true when it cannot run.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use vigie_geo::GeoDbBuilder;
use vigie_model::{BinSize, CountryCode, Entity, SeriesKey, SignalBin, SignalKind};
use vigie_probe::lab::{unavailable_reason, Lab};
use vigie_probe::{
    up_counts, BeliefParams, BlockState, Eligibility, Engine, IcmpSocket, ListBuilder, ProbeError,
    ProbeList, Prober, ProberConfig, RoundBins,
};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The lab, or `None` (with a printed reason) where it cannot run.
fn lab_or_skip(tag: &str) -> Option<Lab> {
    let reason = match unavailable_reason() {
        None => match Lab::create(tag, "198.18.0.0/16".parse().unwrap()) {
            Ok(lab) => return Some(lab),
            Err(e) => format!("cannot build the namespace lab: {e}"),
        },
        Some(reason) => reason,
    };
    assert!(!ci(), "CI=true but the probe lab cannot run: {reason}");
    eprintln!("SKIPPED: probe namespace test: {reason}");
    None
}

/// `blocks` /24s from 198.18.0.0, four hosts each, availability 0.9.
fn lab_list(blocks: u8) -> ProbeList {
    let mut builder = ListBuilder::new();
    for b in 0..blocks {
        for host in [1u8, 50, 100, 200] {
            builder.add(Ipv4Addr::new(198, 18, b, host), 0.9);
        }
    }
    builder.build(&Eligibility {
        min_responsive: 4,
        ..Eligibility::default()
    })
}

fn fast_params() -> BeliefParams {
    BeliefParams {
        timeout_ms: 300,
        ..BeliefParams::default()
    }
}

/// Runs `body` on a thread inside the lab's vantage namespace, on a
/// current-thread tokio runtime.
fn in_vantage<T: Send + 'static>(
    lab: &Lab,
    body: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> T {
    let ns = lab.vantage_ns.clone();
    std::thread::spawn(move || {
        vigie_probe::lab::enter_netns(&ns).expect("entering the vantage namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(body())
    })
    .join()
    .expect("prober thread panicked")
}

fn lab_prober(list: ProbeList, rate_pps: u32, burst: u32, round: Duration) -> Prober {
    let socket = IcmpSocket::open().expect("raw socket (running as root)");
    let engine = Engine::new(list, fast_params(), 0x7617, 5);
    Prober::new(
        socket,
        engine,
        ProberConfig {
            rate_pps,
            burst,
            round,
        },
    )
    .unwrap()
}

#[test]
fn border_cut_and_restore_each_take_one_round() {
    let Some(lab) = lab_or_skip("a") else { return };
    let lab = std::sync::Arc::new(lab);
    let lab2 = lab.clone();
    let reports = in_vantage(&lab, move || {
        Box::pin(async move {
            let lab = lab2;
            let mut prober = lab_prober(lab_list(64), 5000, 50, Duration::from_millis(1500));
            let mut reports = Vec::new();
            reports.push(("start", prober.run_round().await));
            lab.cut_border().unwrap();
            reports.push(("cut", prober.run_round().await));
            lab.restore_border().unwrap();
            reports.push(("restored", prober.run_round().await));
            let even: Vec<Ipv4Net> = (0..64u8)
                .step_by(2)
                .map(|b| Ipv4Net::new(Ipv4Addr::new(198, 18, b, 0), 24).unwrap())
                .collect();
            lab.drop_blocks(&even).unwrap();
            reports.push(("half", prober.run_round().await));
            let half_states: Vec<(BlockState, bool)> = prober.engine().states().collect();
            let list = prober.engine().list().clone();
            lab.set_vantage_link(false).unwrap();
            reports.push(("vantage down", prober.run_round().await));
            let after: Vec<(BlockState, bool)> = prober.engine().states().collect();
            lab.set_vantage_link(true).unwrap();
            (reports, half_states, after, list)
        })
    });
    let (reports, half_states, after_vantage_down, list) = reports;
    for (name, r) in &reports {
        eprintln!(
            "{name}: up {} down {} uncertain {} unmeasured {}; probes {}+{} replies {} timeouts {} unmatched {} send errors {}",
            r.up, r.down, r.uncertain, r.unmeasured, r.periodic_probes, r.adaptive_probes, r.replies,
            r.timeouts, r.unmatched_replies, r.send_errors
        );
    }
    let [(_, start), (_, cut), (_, restored), (_, half), (_, vantage_down)] = &reports[..] else {
        panic!("five rounds expected");
    };
    assert_eq!((start.up, start.down, start.uncertain), (64, 0, 0));
    assert_eq!(start.replies, 64);
    assert_eq!((cut.up, cut.down, cut.uncertain), (0, 64, 0));
    assert_eq!(cut.changes.len(), 64);
    assert!(cut
        .changes
        .iter()
        .all(|c| c.from == BlockState::Up && c.to == BlockState::Down));
    assert_eq!((restored.up, restored.down), (64, 0));
    assert_eq!(restored.changes.len(), 64);
    assert_eq!((half.up, half.down, half.uncertain), (32, 32, 0));
    for change in &half.changes {
        assert_eq!(change.network.octets()[2] % 2, 0, "{}", change.network);
        assert_eq!(change.to, BlockState::Down);
    }
    // A vantage point that cannot send learns nothing and changes nothing.
    assert_eq!(vantage_down.send_errors, 64);
    assert_eq!(vantage_down.unmeasured, 64);
    assert!(vantage_down.changes.is_empty());
    let message = vantage_down.first_send_error.clone().unwrap_or_default();
    assert!(message.contains("vantage point"), "{message}");
    eprintln!("vantage down message: {message}");
    assert!(after_vantage_down.iter().all(|(_, measured)| !measured));

    // The signal: 32 of the "country"'s 64 blocks UP, written as a bin.
    let mut geo = GeoDbBuilder::empty();
    geo.load_ip_location_db_country_from("198.18.0.0,198.18.255.255,KZ\n".as_bytes(), "lab.csv")
        .unwrap();
    let geo = geo.build();
    let values = up_counts(&list, half_states, &geo);
    let kz = SeriesKey {
        entity: Entity::Country(CountryCode::new("KZ").unwrap()),
        signal: SignalKind::ProbeUpSlash24s,
    };
    assert_eq!(values, vec![(kz.clone(), Some(32.0))]);
    let none = up_counts(&list, after_vantage_down, &geo);
    assert_eq!(none, vec![(kz.clone(), None)]);
    let mut bins: Vec<SignalBin> = Vec::new();
    RoundBins::new(BinSize::FIVE_MINUTES)
        .write(&mut bins, 1_800_000_000, 1_800_000_010, values)
        .unwrap();
    assert_eq!(bins.len(), 1);
    assert_eq!(bins[0].bin_start, 1_800_000_000);
    assert_eq!(bins[0].value(&kz.entity, kz.signal), Some(32.0));
}

#[test]
fn send_rate_never_exceeds_the_cap() {
    let Some(lab) = lab_or_skip("r") else { return };
    let before = lab.echo_requests_sent().unwrap();
    let rate_pps = 150;
    let burst = 2;
    let (reports, elapsed) = in_vantage(&lab, move || {
        Box::pin(async move {
            // 200 blocks paced over a 0.5 s round would be 400 pps or more:
            // the cap, not the pacing, decides.
            let mut prober = lab_prober(lab_list(200), rate_pps, burst, Duration::from_millis(500));
            let started = Instant::now();
            let mut reports = Vec::new();
            for _ in 0..2 {
                reports.push(prober.run_round().await);
            }
            (reports, started.elapsed())
        })
    });
    let counted = lab.echo_requests_sent().unwrap() - before;
    let reported: u64 = reports
        .iter()
        .map(|r| r.periodic_probes + r.adaptive_probes)
        .sum();
    let cap = f64::from(rate_pps) * elapsed.as_secs_f64() + f64::from(burst);
    eprintln!(
        "sent {counted} echo requests (nftables) in {:.3} s, cap {cap:.0}; reported {reported}",
        elapsed.as_secs_f64()
    );
    assert_eq!(counted, reported, "nftables and the prober disagree");
    assert!(counted as f64 <= cap, "{counted} > {cap}");
    assert!(
        counted >= 400,
        "every block probed in both rounds: {counted}"
    );
    assert!(reports.iter().all(|r| r.up == 200));
}

#[test]
fn without_cap_net_raw_the_error_says_how_to_grant_it() {
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let result = std::thread::spawn(|| {
        let header = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        // SAFETY: capset with valid header and data; it drops every
        // capability of this thread only.
        let rc =
            unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
        assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { IcmpSocket::open().map(|_| ()) })
    })
    .join()
    .unwrap();
    let error = result.expect_err("a raw socket without CAP_NET_RAW");
    assert!(matches!(error, ProbeError::Permission(_)), "{error:?}");
    let message = error.to_string();
    eprintln!("{message}");
    assert!(message.contains("setcap cap_net_raw+ep"), "{message}");
}

#[test]
fn discovery_scan_finds_the_answering_blocks() {
    let Some(lab) = lab_or_skip("d") else { return };
    let (builder, report, refused) = in_vantage(&lab, move || {
        Box::pin(async move {
            let socket = IcmpSocket::open().expect("raw socket");
            // 198.18.0.0/23 is the lab's; 198.19.0.0/24 has no route in the country.
            let prefixes: Vec<Ipv4Net> = ["198.18.0.0/23", "198.19.0.0/24"]
                .iter()
                .map(|p| p.parse().unwrap())
                .collect();
            let lab_policy = vigie_probe::TargetPolicy {
                allow_private: true,
                allowed: Vec::new(),
            };
            let (builder, report) = vigie_probe::discover(
                &socket,
                &prefixes,
                2,
                5000,
                Duration::from_millis(300),
                &lab_policy,
            )
            .await
            .expect("discovery");
            let refused = vigie_probe::discover(
                &socket,
                &prefixes,
                1,
                5000,
                Duration::from_millis(300),
                &vigie_probe::TargetPolicy::default(),
            )
            .await
            .expect_err("benchmarking space without --allow-private");
            (builder, report, refused.to_string())
        })
    });
    eprintln!("{report:?}");
    assert!(refused.contains("--allow-private"), "{refused}");
    assert_eq!(report.addresses, 3 * 254);
    assert_eq!(report.probes_sent, 2 * 3 * 254);
    assert_eq!(report.replies, 2 * 2 * 254);
    assert_eq!(report.responsive, 2 * 254);
    let list = builder.build(&Eligibility::default());
    let blocks: Vec<String> = list.blocks().iter().map(|b| b.to_string()).collect();
    assert_eq!(blocks, ["198.18.0.0/24", "198.18.1.0/24"]);
    assert!(list
        .blocks()
        .iter()
        .all(|b| b.availability == 1.0 && b.host_count() == 254));
}

#[test]
fn vantage_failure_mid_round_keeps_what_was_measured() {
    let Some(lab) = lab_or_skip("m") else { return };
    let lab = std::sync::Arc::new(lab);
    let cutter = lab.clone();
    let report = in_vantage(&lab, move || {
        Box::pin(async move {
            // 64 blocks at 64 probes/s: sending takes about a second; the
            // vantage point loses its link half way through.
            let mut prober = lab_prober(lab_list(64), 64, 1, Duration::from_millis(1500));
            let cut = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                cutter.set_vantage_link(false).unwrap();
            });
            let report = prober.run_round().await;
            cut.join().unwrap();
            report
        })
    });
    lab.set_vantage_link(true).unwrap();
    eprintln!("{report:?}");
    assert!(report.replies > 0, "some blocks answered before the cut");
    assert!(report.send_errors > 0, "some probes could not be sent");
    // The measured blocks keep their replies; the others keep the prior:
    // nobody is called DOWN because the vantage point broke.
    assert_eq!((report.up, report.down), (64, 0));
    assert!(report.unmeasured > 0 && report.unmeasured < 64);
    assert!(report.unmeasured <= report.send_errors);
    assert!(report
        .first_send_error
        .unwrap_or_default()
        .contains("no route"));
}

/// Issue 14, finding 7: the prober never probes its own addresses (here
/// the vantage point's 100.64.0.1, read from the system), and a rate above
/// the ceiling needs an explicit raise.
#[test]
fn the_prober_skips_its_own_addresses_and_caps_its_rate() {
    let Some(lab) = lab_or_skip("o") else { return };
    let (report, refused, raised) = in_vantage(&lab, move || {
        Box::pin(async move {
            let mut builder = ListBuilder::new();
            builder.add(vigie_probe::lab::VANTAGE_ADDR.parse().unwrap(), 1.0);
            let own_list = builder.build(&Eligibility {
                min_responsive: 1,
                ..Eligibility::default()
            });
            let mut prober = lab_prober(own_list, 100, 1, Duration::from_millis(300));
            let report = prober.run_round().await;
            let too_fast = Prober::new(
                IcmpSocket::open().expect("raw socket"),
                Engine::new(lab_list(1), fast_params(), 1, 1),
                ProberConfig::new(vigie_probe::DEFAULT_MAX_RATE_PPS + 1),
            )
            .map(|_| ())
            .unwrap_err()
            .to_string();
            let raised = Prober::with_rate_ceiling(
                IcmpSocket::open().expect("raw socket"),
                Engine::new(lab_list(1), fast_params(), 1, 1),
                ProberConfig::new(200_000),
                vigie_probe::RateCeiling::raised_to(200_000),
            )
            .is_ok();
            (report, too_fast, raised)
        })
    });
    eprintln!("{report:?}");
    assert_eq!(report.replies, 0);
    assert!(report.send_errors > 0);
    assert!(
        report
            .first_send_error
            .as_deref()
            .is_some_and(|e| e.contains("100.64.0.1 is this host's own address")),
        "{report:?}"
    );
    assert_eq!(
        lab.echo_requests_sent().unwrap(),
        0,
        "nothing left the vantage point"
    );
    assert!(refused.contains("ceiling of 20000"), "{refused}");
    assert!(raised);
}
