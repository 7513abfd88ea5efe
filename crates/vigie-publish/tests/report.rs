//! Reports from real imported data (IODA's Iraq export, August 2023 exam
//! shutdowns): times in UTC and local time, mechanism words in English and
//! French, the CSV appendix's values, the figure.

mod common;

use common::{fill_iraq, shared_data};
use vigie_model::BinSize;
use vigie_publish::report::{build, Lang, ReportRequest};

const FROM: i64 = 1_692_493_200; // 2023-08-20T01:00:00Z
const UNTIL: i64 = 1_692_835_200; // 2023-08-24T00:00:00Z

fn request(lang: Lang) -> ReportRequest {
    ReportRequest {
        entity: "IQ".parse().unwrap(),
        from: FROM,
        until: UNTIL,
        lang,
        method: "vigie".into(),
        bin: BinSize::default(),
    }
}

#[test]
fn reports_in_english_and_french_from_real_data() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(&dir.path().join("store"), &shared);
    let out = dir.path().join("out");

    let en = build(&store, request(Lang::En), 1_700_000_000).unwrap();
    // The exam shutdowns of 21, 22 and 23 August (01:00-05:00 UTC), as the
    // detector stored them.
    let stored = store
        .incidents(&vigie_store::ResultFilter {
            method: Some("vigie".into()),
            from: Some(FROM),
            until: Some(UNTIL),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(en.incidents.len(), stored.len());
    assert_eq!(en.incidents.len(), 3, "21, 22 and 23 August");
    let first = &en.incidents[0].incident;
    assert_eq!(first.start, stored[0].start);
    assert_eq!(
        vigie_model::format_utc(first.start).get(..12),
        Some("2023-08-21T0")
    );
    let start_cells = format!(
        "| {} | {} (UTC+03:00) |",
        vigie_model::format_utc(first.start),
        vigie_publish::report::tz::format_local(first.start, 180)
    );
    let files = en.write_files(&out).unwrap();
    assert_eq!(
        files.html.file_name().unwrap(),
        "report-IQ-20230820-20230824-en.html"
    );
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    let svg = std::fs::read_to_string(&files.svg).unwrap();
    let csv = std::fs::read_to_string(&files.csv).unwrap();

    // Title, timeline in UTC and Baghdad time (UTC+3).
    assert!(
        md.starts_with("# Internet disruption report: Iraq (IQ)\n"),
        "{md}"
    );
    assert!(md.contains("Local time: UTC+03:00"));
    let row = md.lines().find(|l| l.starts_with("| 1 |")).unwrap();
    assert!(row.contains(&start_cells), "{row}");
    let end = first.end.unwrap();
    assert!(row.contains(&vigie_model::format_utc(end)), "{row}");
    assert!(row.contains(&format!(
        "{} (UTC+03:00)",
        vigie_publish::report::tz::format_local(end, 180)
    )));
    // Mechanism words and evidence.
    for p in &en.incidents {
        assert!(
            md.contains(Lang::En.mechanism(p.incident.mechanism)),
            "{md}"
        );
    }
    assert!(md.contains(&first.mechanism_evidence));
    assert!(md.contains("nationwide"));
    assert!(md.contains("![Signals over the period](report-IQ-20230820-20230824-en.svg)"));
    assert!(md.contains("[report-IQ-20230820-20230824-en-data.csv]"));

    // The HTML is self-contained: figure inline, appendix embedded, nothing fetched.
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<svg"));
    assert!(
        html.contains(&format!(
            "<td>{}</td><td>{} (UTC+03:00)</td>",
            vigie_model::format_utc(first.start),
            vigie_publish::report::tz::format_local(first.start, 180)
        )),
        "timeline row"
    );
    assert!(html.contains("href=\"data:text/csv;charset=utf-8,time_utc%2Ctime_local"));
    assert!(!html.contains(" src="), "no external resources");
    assert!(
        svg.starts_with("<svg") && svg.contains("bgp") && svg.contains("<polyline"),
        "{}",
        &svg[..200.min(svg.len())]
    );

    // The appendix holds the imported values per bin; empty is no data.
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time_utc,time_local,bgp,ping-slash24,merit-nt,gtr,gtr-norm"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as i64, (UNTIL - FROM) / 300);
    assert_eq!(
        rows[0],
        [
            "2023-08-20T01:00:00Z",
            "2023-08-20 04:00 (UTC+03:00)",
            "2917",
            "581",
            "4.4",
            "3112278020",
            "0.5433471067577657"
        ]
    );
    assert_eq!(
        rows[1][5], "",
        "the export has no gtr value at 01:05: no data, not zero"
    );
    let source = std::fs::read_to_string(shared.join("signals/ioda_country_IQ_iraq.csv")).unwrap();
    for (line, row) in source.lines().skip(1).zip(&rows) {
        let cols: Vec<&str> = line.split(',').collect();
        let t: i64 = cols[0].parse().unwrap();
        assert_eq!(row[0], vigie_model::format_utc(t));
        let expected: Option<f64> = cols[4].parse().ok();
        assert_eq!(row[2].parse::<f64>().ok(), expected, "bgp at {}", row[0]);
    }

    // French.
    let fr = build(&store, request(Lang::Fr), 1_700_000_000).unwrap();
    let files = fr.write_files(&out).unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(
        md.starts_with("# Rapport de perturbation d'Internet : Iraq (IQ)\n"),
        "{md}"
    );
    assert!(md.contains("Heure locale : UTC+03:00"));
    assert!(md.contains(&format!("| 1 {start_cells}")));
    for p in &fr.incidents {
        assert!(
            md.contains(Lang::Fr.mechanism(p.incident.mechanism)),
            "{md}"
        );
    }
    assert!(
        md.contains("retrait des routes BGP") || md.contains("blocage du plan de données"),
        "{md}"
    );
    assert!(md.contains("nationale"));
    assert!(md.contains("Chronologie") && md.contains("Annexe de données"));
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(!md.contains("routes withdrawn"));
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = vigie_store::Store::open(dir.path()).unwrap();
    let mut r = request(Lang::En);
    let err = build(&store, r.clone(), 0).unwrap_err();
    assert!(err.to_string().contains("no 300 s series of IQ"), "{err}");
    r.until = r.from;
    assert!(build(&store, r.clone(), 0)
        .unwrap_err()
        .to_string()
        .contains("bad period"));
    r.until = r.from + 10 * 366 * 86_400;
    assert!(build(&store, r, 0)
        .unwrap_err()
        .to_string()
        .contains("at most"));
}

/// Iraq's series written again as `entity`'s, `shift` seconds later.
fn copy_iraq(store: &mut vigie_store::Store, entity: &str, shift: i64) -> vigie_model::Entity {
    let to: vigie_model::Entity = entity.parse().unwrap();
    let range = vigie_model::TimeRange::new(FROM, UNTIL).unwrap();
    for info in store.entity_series(&"IQ".parse().unwrap()).unwrap() {
        let series = store.read_series(&info.key, info.bin, range).unwrap();
        let points: Vec<_> = series.points().map(|(t, v)| (t + shift, v)).collect();
        let key = vigie_model::SeriesKey {
            entity: to.clone(),
            signal: info.key.signal,
        };
        store.write_points(&key, info.bin, &points).unwrap();
    }
    to
}

#[test]
fn local_times_follow_daylight_saving_time_and_half_hour_zones() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut store = fill_iraq(&dir.path().join("store"), &shared);
    const DAY: i64 = 86_400;
    // (entity, shift, the heading's zone, the first bin's local time)
    let cases = [
        (
            "UA",
            0,
            "UTC+03:00 at the start (Europe/Kyiv, the country's main zone",
            "2023-08-20 04:00 (UTC+03:00)",
        ),
        (
            "UA",
            153 * DAY,
            "UTC+02:00 at the start (Europe/Kyiv, the country's main zone",
            "2024-01-20 03:00 (UTC+02:00)",
        ),
        (
            "US/California",
            0,
            "UTC-07:00 at the start (America/Los_Angeles, the region's zone",
            "2023-08-19 18:00 (UTC-07:00)",
        ),
        (
            "IN",
            0,
            "UTC+05:30 at the start (Asia/Kolkata",
            "2023-08-20 06:30 (UTC+05:30)",
        ),
        (
            "MM",
            0,
            "UTC+06:30 at the start (Asia/Yangon",
            "2023-08-20 07:30 (UTC+06:30)",
        ),
        (
            "US",
            76 * DAY,
            "UTC-04:00 at the start (America/New_York",
            "2023-11-03 21:00 (UTC-04:00)",
        ),
    ];
    for (code, shift, heading, first_local) in cases {
        let entity = copy_iraq(&mut store, code, shift);
        let mut r = request(Lang::En);
        (r.entity, r.from, r.until) = (entity, FROM + shift, UNTIL + shift);
        let report = build(&store, r, 1_800_000_000).unwrap();
        let files = report
            .write_files(
                &dir.path()
                    .join(format!("out-{}-{shift}", code.replace('/', "_"))),
            )
            .unwrap();
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(
            md.contains(&format!("Local time: {heading}")),
            "{code}: {md}"
        );
        let csv = std::fs::read_to_string(&files.csv).unwrap();
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows[0][1], first_local, "{code} +{shift}");
        if code == "US" {
            // New York falls back at 2023-11-05T06:00:00Z (02:00 EDT).
            assert_eq!(
                rows[347][..2],
                ["2023-11-05T05:55:00Z", "2023-11-05 01:55 (UTC-04:00)"]
            );
            assert_eq!(
                rows[348][..2],
                ["2023-11-05T06:00:00Z", "2023-11-05 01:00 (UTC-05:00)"]
            );
        }
    }
}
