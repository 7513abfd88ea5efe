//! `vigie import ioda` against IODA's API v2 served locally.
//!
//! The responses are recordings made from real IODA data, in the API's
//! JSON shape: the signals pages are the shared IODA export of Iraq
//! (`signals/ioda_country_IQ_iraq.csv`, 2023-08-20..30, 5-minute bins)
//! cut into the pages vigie asks for, each column one series object of
//! `/v2/signals/raw/country/IQ` (`entityType`, `entityCode`, `datasource`,
//! `from`, `until`, `step`, `nativeStep`, `values`, `null` for an empty
//! cell); the events pages are IODA's hand-investigated outages of Iraq
//! (`truth/ioda_investigated_outages_2018-2022.csv`, August–September
//! 2019), one `/v2/outages/events` object in IODA's `codf` format per
//! datasource the investigators saw the outage in.

use chrono::NaiveDateTime;
use serde_json::{json, Value};
use vigie_import::ImportFormat;
use vigie_model::{parse_utc, BinSize, SeriesKey, SignalKind, TimeRange};
use vigie_pipeline::{
    import_into_store, import_ioda_api, FetchFlags, ImportFlags, IodaApiOptions, IODA_PUBLISHED,
};
use vigie_store::{ResultFilter, Store};
use vigie_testdata::http::{Behaviour, HttpMirror};
use vigie_testdata::shared_data;

const PAGE_DAYS: f64 = 7.0;

fn options(mirror: &HttpMirror, entity: &str, from: i64, until: i64) -> IodaApiOptions {
    IodaApiOptions {
        entity: entity.to_string(),
        from,
        until,
        ioda_url: mirror.base().to_string(),
        page_days: PAGE_DAYS,
        events_per_page: 2,
        region_country: None,
        fetch: FetchFlags {
            retries: 2,
            timeout_secs: 5.0,
            retry_wait_secs: 0.05,
        },
    }
}

/// The signals page `[from, until)` of the export, as IODA's API shapes it.
fn signals_page(rows: &[Vec<String>], header: &[String], from: i64, until: i64) -> String {
    let mut series = Vec::new();
    for datasource in ["gtr", "merit-nt", "bgp", "ping-slash24"] {
        let column = header.iter().position(|h| h == datasource).unwrap();
        let values: Vec<Value> = (from..until)
            .step_by(300)
            .map(|t| {
                rows.iter()
                    .find(|r| r[0].parse::<i64>().unwrap() == t)
                    .and_then(|r| r[column].parse::<f64>().ok())
                    .map_or(Value::Null, |v| json!(v))
            })
            .collect();
        series.push(json!({
            "entityType": "country", "entityCode": "IQ", "entityName": "Iraq",
            "entityFqid": "geo.netacuity.AS.IQ", "datasource": datasource, "subtype": "",
            "from": from, "until": until, "step": 300, "nativeStep": 300, "values": values,
        }));
    }
    json!({
        "type": "signals", "metadata": {"requestTime": "2026-01-01T00:00:00+00:00", "responseTime": "2026-01-01T00:00:01+00:00"},
        "requestParameters": {"from": from, "until": until}, "error": null, "perf": null,
        "data": [series], "copyright": "This data is copyrighted by Georgia Tech."
    })
    .to_string()
}

fn events_envelope(events: &[Value]) -> String {
    json!({"type": "outages.events", "error": null, "data": events}).to_string()
}

fn signals_url(from: i64, until: i64) -> String {
    format!(
        "/v2/signals/raw/country/IQ?from={from}&until={until}&maxPoints={}",
        (until - from + 299) / 300
    )
}

fn events_url(from: i64, until: i64, page: u32) -> String {
    format!(
        "/v2/outages/events?entityType=country&entityCode=IQ&from={from}&until={until}\
         &format=codf&limit=2&page={page}"
    )
}

#[test]
fn signals_are_read_page_by_page_and_equal_the_same_export_imported_from_file() {
    let Some(csv_path) = shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let from = parse_utc("2023-08-20T01:00:00Z").unwrap();
    let until = parse_utc("2023-08-30T05:00:00Z").unwrap();
    let mirror = HttpMirror::start();
    // Two pages of seven days at most; the second answers 503 once.
    let middle = from + (PAGE_DAYS * 86_400.0) as i64;
    mirror.json(
        &signals_url(from, middle),
        signals_page(&rows, &header, from, middle),
    );
    mirror.file(
        &signals_url(middle, until),
        signals_page(&rows, &header, middle, until).into_bytes(),
        Behaviour::FailFirst(1),
    );
    // IODA lists no event for this entity and period: an empty list.
    mirror.json(&events_url(from, until, 0), events_envelope(&[]));

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("api")).unwrap();
    let said = std::cell::RefCell::new(Vec::new());
    let outcome = import_ioda_api(
        &mut store,
        &options(&mirror, "country/IQ", from, until),
        &|m| said.borrow_mut().push(m),
    )
    .unwrap();
    let said = said.into_inner().join("\n");
    assert!(!outcome.lossy, "{said}");
    assert_eq!(outcome.series, 8, "{said}");
    assert_eq!(
        mirror.hits(&signals_url(middle, until)),
        2,
        "a 503 is retried"
    );
    assert!(said.contains("imported 8 series"), "{said}");

    // The same export imported from the file, as `vigie import ioda-csv`.
    let mut by_file = Store::open(&dir.path().join("file")).unwrap();
    let flags = ImportFlags {
        file: csv_path.clone(),
        entity: Some("IQ".into()),
        bin: None,
        region_country: None,
        timezone: None,
        utc_offset: None,
        index_max: None,
    };
    import_into_store(
        &mut by_file,
        &csv_path,
        ImportFormat::IodaCsv,
        &flags.options().unwrap(),
    )
    .unwrap();
    let range = TimeRange::new(from, until).unwrap();
    for signal in [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
    ] {
        let key = SeriesKey {
            entity: "IQ".parse().unwrap(),
            signal,
        };
        let api = store.read_series(&key, BinSize::default(), range).unwrap();
        let file = by_file
            .read_series(&key, BinSize::default(), range)
            .unwrap();
        assert_eq!(api.values, file.values, "{signal:?}");
        let with_data = api.values.iter().filter(|v| v.is_some()).count();
        assert!(with_data > 100, "{signal:?}: {with_data} values");
    }
}

/// `Wednesday, August 28, 2019, 2:45:00 AM` (UTC) → Unix seconds (a few
/// rows of the file are written otherwise: `None`).
fn investigated_time(text: &str) -> Option<i64> {
    ["%A, %B %d, %Y, %I:%M:%S %p", "%A, %B %d, %Y, %I:%M %p"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text.trim(), f).ok())
        .map(|t| t.and_utc().timestamp())
}

#[test]
fn iodas_events_are_paged_and_stored_apart_from_vigies() {
    let Some(truth) = shared_data("truth/ioda_investigated_outages_2018-2022.csv") else {
        return;
    };
    let from = parse_utc("2019-08-25T00:00:00Z").unwrap();
    let until = parse_utc("2019-09-04T00:00:00Z").unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&truth)
        .unwrap();
    let mut events = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        if &row[3] != "Iraq" || !row[7].starts_with("Country") {
            continue;
        }
        let (Some(start), Some(end)) = (investigated_time(&row[1]), investigated_time(&row[2]))
        else {
            continue;
        };
        if start < from || start >= until || end <= start {
            continue;
        }
        for (column, datasource) in [(4, "bgp"), (5, "ping-slash24"), (6, "merit-nt")] {
            if row[column].trim().eq_ignore_ascii_case("true") {
                events.push(json!({
                    "location": "country/IQ", "location_name": "Iraq", "start": start,
                    "duration": end - start, "uncertainty": null, "status": 0, "fraction": null,
                    "score": null, "overlaps_window": false, "datasource": datasource,
                }));
            }
        }
    }
    assert!(events.len() >= 10, "{} events", events.len());
    let mirror = HttpMirror::start();
    // No signals recorded for this period: IODA's empty answer.
    let empty = json!({"type": "signals", "error": null, "data": [[]]}).to_string();
    let mut t = from;
    while t < until {
        let end = (t + (PAGE_DAYS * 86_400.0) as i64).min(until);
        mirror.json(&signals_url(t, end), empty.clone());
        t = end;
    }
    // Two events a page, then a short page.
    let pages: Vec<&[Value]> = events.chunks(2).collect();
    for (page, chunk) in pages.iter().enumerate() {
        mirror.json(
            &events_url(from, until, page as u32),
            events_envelope(chunk),
        );
    }
    if events.len() % 2 == 0 {
        mirror.json(
            &events_url(from, until, pages.len() as u32),
            events_envelope(&[]),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let opts = options(&mirror, "country/IQ", from, until);
    let outcome = import_ioda_api(&mut store, &opts, &|_| {}).unwrap();
    assert_eq!(outcome.events, events.len());
    let filter = ResultFilter {
        method: Some(IODA_PUBLISHED.into()),
        ..ResultFilter::default()
    };
    let stored = store.events(&filter).unwrap();
    assert_eq!(stored.len(), events.len());
    assert!(stored.iter().all(|e| e.method == IODA_PUBLISHED));
    assert_eq!(
        store.event_count("vigie").unwrap(),
        0,
        "vigie's own are apart"
    );
    // Read again: replaced, not doubled.
    import_ioda_api(&mut store, &opts, &|_| {}).unwrap();
    assert_eq!(store.events(&filter).unwrap().len(), events.len());
}

#[test]
fn a_bad_entity_says_how_to_name_it() {
    let mirror = HttpMirror::start();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let error = import_ioda_api(&mut store, &options(&mirror, "KZ", 0, 86_400), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(error.contains("country/KZ"), "{error}");
}
