//! The robustness sweep's quick subset: the generator is deterministic, its
//! outages are in the data, and scoring is consistent. Detector accuracy is
//! printed, not asserted (`cargo test -p vigie-detect --release --test sweep
//! -- --nocapture` shows the table).

use std::time::Instant;

use vigie_detect::sweep::{generate, plan, run, score, summarise, Cut, Scenario, DIMENSIONS};
use vigie_detect::{IodaConfig, IodaLevel, Method, VigieConfig};
use vigie_model::SignalKind;

fn methods() -> Vec<Method> {
    vec![
        Method::Vigie(VigieConfig::default()),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Critical)),
        Method::IodaMedian(IodaConfig::published(IodaLevel::Warning)),
    ]
}

#[test]
fn plan_covers_every_dimension_and_is_reproducible() {
    let quick = plan(7, true, None).unwrap();
    for (slug, _) in DIMENSIONS {
        assert!(
            quick.iter().any(|s| s.dimension == slug),
            "no scenario in {slug}"
        );
    }
    assert_eq!(quick, plan(7, true, None).unwrap());
    assert_ne!(quick, plan(8, true, None).unwrap());
    // --only and --quick give the same series as the full sweep.
    let full = plan(7, false, None).unwrap();
    assert!(full.len() >= 2000, "{} scenarios", full.len());
    let only: Vec<Scenario> = plan(7, true, Some("depth")).unwrap();
    for s in &only {
        assert_eq!(s.dimension, "depth");
        assert!(full.contains(s), "{}", s.id());
        assert!(quick.contains(s), "{}", s.id());
    }
    assert!(plan(7, true, Some("nope"))
        .unwrap_err()
        .contains("bin-duration"));
    // A class is never shorter than two bins.
    for s in &full {
        if let Some(o) = &s.params.outage {
            assert!(
                o.end - o.onset >= 2 * i64::from(s.params.bin_secs),
                "{}",
                s.id()
            );
            assert!(o.onset - s.params.start >= i64::from(s.params.history_days) * 86_400);
            assert!(o.end < s.params.until - 86_400, "{}", s.id());
            // Some signal shows the cut, not only missing data.
            assert!(
                s.params
                    .signals
                    .iter()
                    .any(|&(signal, _)| o.cut.affects(signal) && !o.vanishing.contains(&signal)),
                "{}: every signal the cut moves vanishes",
                s.id()
            );
        }
    }
}

#[test]
fn generator_is_deterministic_and_its_outages_are_in_the_data() {
    let scenarios = plan(1, true, None).unwrap();
    for s in &scenarios {
        let a = generate(s);
        assert_eq!(a, generate(s), "{}", s.id());
        assert!(a.series.iter().all(|x| x.bin.secs() == s.params.bin_secs));
        assert!(a.series.iter().all(|x| x.end() == a.until));
        let Some(outage) = &s.params.outage else {
            assert!(a.labels.is_empty());
            continue;
        };
        assert_eq!(a.labels.len(), 1);
        let label = &a.labels[0];
        let bin = i64::from(s.params.bin_secs);
        assert!((label.start - outage.onset).abs() <= bin / 2, "{}", s.id());
        assert!((label.end - outage.end).abs() <= bin / 2, "{}", s.id());
        // Each signal the cut moves is lower inside the label (or absent),
        // by about the depth against the same hours outside.
        for series in &a.series {
            let mean = |inside: bool| {
                let values: Vec<f64> = series
                    .points()
                    .filter(|(t, _)| (*t >= label.start && *t < label.end) == inside)
                    .filter(|(t, _)| inside || *t < label.start)
                    .filter_map(|(_, v)| v)
                    .collect();
                (
                    values.iter().sum::<f64>() / values.len().max(1) as f64,
                    values.len(),
                )
            };
            let (during, n) = mean(true);
            let (before, n_before) = mean(false);
            if n_before == 0 {
                continue;
            }
            if !outage.cut.affects(series.key.signal) {
                assert!(
                    (during / before - 1.0).abs() < 0.1,
                    "{} {}: {during} vs {before}",
                    s.id(),
                    series.key.signal
                );
                continue;
            }
            if outage.vanishing.contains(&series.key.signal) {
                assert!(
                    n <= 2,
                    "{} {}: {n} bins in a vanished cut",
                    s.id(),
                    series.key.signal
                );
                continue;
            }
            // The daily cycle and weekends make the means differ: allow a margin.
            let drop = 1.0 - during / before;
            assert!(
                drop > outage.depth - 0.3 && drop < outage.depth + 0.3,
                "{} {}: drop {drop:.2} for a depth {:.2}",
                s.id(),
                series.key.signal,
                outage.depth
            );
        }
    }
    // Data-plane cuts leave BGP flat; withdrawn routes take it down.
    assert!(!Cut::DataPlane.affects(SignalKind::BgpVisibleSlash24s));
    assert!(Cut::RoutesWithdrawn.affects(SignalKind::BgpVisibleSlash24s));
}

#[test]
fn a_perfect_detector_scores_one_and_a_silent_one_zero() {
    let scenarios = plan(3, true, Some("random")).unwrap();
    for s in &scenarios {
        let synthetic = generate(s);
        let perfect = score(&synthetic, &synthetic.label_spans());
        assert_eq!(perfect.matched, perfect.labels);
        assert_eq!(perfect.detected, perfect.labels);
        if perfect.labels == 1 {
            assert_eq!(perfect.onset_error_secs, Some(0.0));
            assert_eq!(perfect.end_error_secs, Some(0.0));
        }
        let silent = score(&synthetic, &[]);
        assert_eq!((silent.detected, silent.matched), (0, 0));
    }
}

#[test]
fn quick_sweep_runs_and_summarises_consistently() {
    let scenarios = plan(1, true, None).unwrap();
    let methods = methods();
    let started = Instant::now();
    let results = run(&scenarios, &methods, 2, &|_| {});
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(results.len(), scenarios.len());
    // The same results whatever the number of threads.
    let some: Vec<Scenario> = scenarios.iter().step_by(17).cloned().collect();
    assert_eq!(
        run(&some, &methods, 1, &|_| {}),
        run(&some, &methods, 3, &|_| {})
    );
    let mut report = summarise(1, true, &scenarios, &methods, &results, true);
    report.elapsed_secs = Some(elapsed);
    for row in &report.rows {
        assert!(row.matched <= row.labels && row.matched <= row.detected);
        assert!((0.0..=1.0).contains(&row.precision));
        assert_eq!(row.false_detections, row.detected - row.matched);
        if row.min_depth.is_none() {
            assert_eq!(row.labels, 0);
        }
    }
    let labels: usize = report
        .rows
        .iter()
        .filter(|r| r.method == "vigie")
        .map(|r| r.labels)
        .sum();
    assert_eq!(
        labels,
        scenarios
            .iter()
            .filter(|s| s.params.outage.is_some())
            .count()
    );
    let text = report.markdown();
    assert!(text.contains("#### `depth`"));
    assert!(text.contains("#### Targets"));
    println!("{text}");
    eprintln!(
        "quick sweep: {} scenarios in {elapsed:.1} s on 2 threads",
        scenarios.len()
    );
}
