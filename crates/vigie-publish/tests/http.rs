//! The HTTP API over real HTTP (reqwest) against a real SQLite store filled
//! from IODA's Iraq export (August 2023 exam shutdowns) and vigie's detector.

mod common;

use common::{fill_iraq, get_json, get_text, shared_data, start};
use serde_json::Value;
use vigie_model::{BinSize, Entity, SeriesKey, SignalKind};
use vigie_store::{ResultFilter, Store};

/// The CSV's (timestamp, bgp) pairs, read independently of vigie-import.
fn csv_bgp(shared: &std::path::Path) -> Vec<(i64, Option<f64>)> {
    let text = std::fs::read_to_string(shared.join("signals/ioda_country_IQ_iraq.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let bgp = header.iter().position(|h| *h == "bgp").unwrap();
    lines
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (cols[0].parse().unwrap(), cols[bgp].parse().ok())
        })
        .collect()
}

const HOUR_FROM: i64 = 1_692_493_200; // 2023-08-20T01:00:00Z, the CSV's first row

fn vigie_incidents(store: &Store) -> Vec<vigie_store::StoredIncident> {
    store
        .incidents(&ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn native_api_serves_the_stored_values() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let server = start(dir.path());
    let csv = csv_bgp(&shared);
    let first_hour: Vec<Option<f64>> = csv.iter().take(12).map(|(_, v)| *v).collect();
    assert_eq!(csv[0].0, HOUR_FROM);

    // One hour of bgp at native resolution: the CSV's values.
    let (status, body) = get_json(&server.url(&format!(
        "/api/v1/signals?entity=IQ&signal=bgp&from={HOUR_FROM}&until={}",
        HOUR_FROM + 3600
    )));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entity"], "IQ");
    assert_eq!(body["name"], "Iraq");
    assert_eq!(body["from"], "2023-08-20T01:00:00Z");
    let series = &body["series"][0];
    assert_eq!(series["signal"], "bgp");
    assert_eq!(series["startUnix"], HOUR_FROM);
    assert_eq!(series["stepSecs"], 300);
    let values: Vec<Option<f64>> = serde_json::from_value(series["values"].clone()).unwrap();
    assert_eq!(values, first_hour);

    // Downsampled to 4 points: means of 3 bins each.
    let (status, body) = get_json(&server.url(&format!(
        "/api/v1/signals?entity=IQ&signal=bgp&from={HOUR_FROM}&until={}&maxPoints=4",
        HOUR_FROM + 3600
    )));
    assert_eq!(status, 200);
    let series = &body["series"][0];
    assert_eq!(series["stepSecs"], 900);
    assert_eq!(series["nativeStepSecs"], 300);
    let values: Vec<f64> = serde_json::from_value(series["values"].clone()).unwrap();
    let expected: Vec<f64> = first_hour
        .chunks(3)
        .map(|c| c.iter().flatten().sum::<f64>() / c.iter().flatten().count() as f64)
        .collect();
    assert_eq!(values, expected);

    // Every signal when none is named.
    let (_, body) = get_json(&server.url(&format!(
        "/api/v1/signals?entity=IQ&from={HOUR_FROM}&until={}",
        HOUR_FROM + 3600
    )));
    let mut names: Vec<&str> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signal"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["bgp", "gtr", "gtr-norm", "merit-nt", "ping-slash24"]
    );

    // CSV export in the long format.
    let (status, content_type, text) = get_text(&server.url(&format!(
        "/api/v1/signals.csv?entity=IQ&signal=bgp&from={HOUR_FROM}&until={}",
        HOUR_FROM + 3600
    )));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0], "time,entity,signal,value");
    assert_eq!(
        lines[1],
        format!("2023-08-20T01:00:00Z,IQ,bgp,{}", first_hour[0].unwrap())
    );

    // Incidents: the stored ones, with stable ids.
    let stored = vigie_incidents(&store);
    assert!(
        stored.len() >= 5,
        "the Iraq export holds daily exam shutdowns"
    );
    let (status, body) = get_json(&server.url("/api/v1/incidents?entity=IQ&limit=2"));
    assert_eq!(status, 200);
    assert_eq!(body["total"], stored.len());
    assert_eq!(body["incidents"].as_array().unwrap().len(), 2);
    let first = &body["incidents"][0];
    assert_eq!(first["id"], format!("IQ@{}", stored[0].start));
    assert_eq!(first["start"], vigie_model::format_utc(stored[0].start));
    let (status, one) = get_json(&server.url(&format!("/api/v1/incidents/IQ@{}", stored[0].start)));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["mechanism"], first["mechanism"]);
    assert_eq!(one["detail"]["start"], stored[0].start);
    let (status, _) = get_json(&server.url("/api/v1/incidents/IQ@1"));
    assert_eq!(status, 404);

    // Events, entities, summary.
    let stored_events = store
        .events(&ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        })
        .unwrap();
    let (_, body) = get_json(&server.url("/api/v1/events?entity=IQ&limit=1"));
    assert_eq!(body["total"], stored_events.len());
    assert_eq!(
        body["events"][0]["start"],
        vigie_model::format_utc(stored_events[0].start)
    );
    assert!(body["events"][0]["detail"]["baseline"].is_number());
    let (_, body) = get_json(&server.url("/api/v1/entities?search=ira"));
    assert_eq!(body["total"], 1);
    assert_eq!(body["entities"][0]["entity"], "IQ");
    assert_eq!(body["entities"][0]["name"], "Iraq");
    assert_eq!(body["entities"][0]["signals"].as_array().unwrap().len(), 5);
    let (_, body) = get_json(&server.url("/api/v1/entities?search=zz"));
    assert_eq!(body["total"], 0);
    let (_, body) = get_json(&server.url("/api/v1/summary"));
    assert_eq!(body["entities"][0]["entity"], "IQ");
    assert_eq!(body["entities"][0]["incidents"], stored.len());
    assert_eq!(body["totals"]["series"], 5);

    // Bad requests are 4xx with a JSON reason.
    for (path, status, words) in [
        ("/api/v1/signals?entity=IQ&from=soon", 400, "'from'"),
        ("/api/v1/signals?signal=bgp", 400, "'entity' is required"),
        ("/api/v1/signals?entity=ZZ", 404, "no 300 s series of ZZ"),
        ("/api/v1/signals?entity=IQ&maxPoints=0", 400, "maxPoints"),
        (
            "/api/v1/signals?entity=IQ&maxPoints=999999",
            400,
            "above the limit",
        ),
        (
            "/api/v1/signals?entity=IQ&from=1692600000&until=1692500000",
            400,
            "before",
        ),
        (
            "/api/v1/signals?entity=IQ&from=0&until=4000000000",
            400,
            "at most",
        ),
        ("/api/v1/signals?entity=IQ&signal=nope", 400, "not a signal"),
        ("/api/v1/incidents?limit=100000", 400, "'limit'"),
        ("/api/v1/incidents/garbage", 400, "not an incident id"),
        ("/api/v1/nowhere", 404, "openapi"),
    ] {
        let (got, body) = get_json(&server.url(path));
        assert_eq!(got, status, "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{path}: {message}");
    }

    // Every documented path is served (not 404/405).
    let (_, doc) = get_json(&server.url("/api/v1/openapi.json"));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), vigie_publish::paths::ALL_GET.len());
    for path in paths.keys() {
        let concrete = path
            .replace("{entityType}", "country")
            .replace("{entityCode}", "IQ")
            .replace("{code}", "IQ")
            .replace("{datasource}", "bgp")
            .replace("{id}", &format!("IQ@{}", stored[0].start));
        let url = server.url(&format!(
            "{concrete}?entity=IQ&from={HOUR_FROM}&until={}",
            HOUR_FROM + 3600
        ));
        let status = reqwest::blocking::get(&url).unwrap().status().as_u16();
        let expected = if path == vigie_publish::paths::SUBSCRIPTIONS {
            403 // needs the token, and this server has none
        } else {
            200
        };
        assert_eq!(status, expected, "{path}");
    }

    // Prometheus metrics count what was served.
    let (status, content_type, text) = get_text(&server.url("/metrics"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"));
    assert!(
        text.contains("vigie_http_requests_total{route=\"/api/v1/signals\",status=\"200\"} "),
        "{text}"
    );
    assert!(
        text.contains("vigie_http_requests_total{route=\"/api/v1/signals\",status=\"400\"} 7\n"),
        "{text}"
    );
    assert!(text.contains("vigie_store_series 5\n"));
    assert!(text.contains("vigie_store_entities 1\n"));
}

#[test]
fn years_of_data_are_served_downsampled() {
    let dir = tempfile::tempdir().unwrap();
    let kz: Entity = "KZ".parse().unwrap();
    let key = SeriesKey {
        entity: kz,
        signal: SignalKind::BgpVisibleSlash24s,
    };
    let start = 1_640_995_200; // 2022-01-01T00:00:00Z
    let days = 400;
    {
        let mut store = Store::open(dir.path()).unwrap();
        // One value per day (the day's index), a hole on day 10.
        let points: Vec<_> = (0..days * 288)
            .map(|i| {
                let day = i / 288;
                (start + i * 300, (day != 10).then_some(day as f64))
            })
            .collect();
        store
            .write_points(&key, BinSize::default(), &points)
            .unwrap();
    }
    let server = start_server(dir.path());
    let until = start + days * 86_400;
    let (status, body) = get_json(&server.url(&format!(
        "/api/v1/signals?entity=KZ&from={start}&until={until}&maxPoints={days}"
    )));
    assert_eq!(status, 200, "{body}");
    let series = &body["series"][0];
    assert_eq!(series["stepSecs"], 86_400);
    let values: Vec<Option<f64>> = serde_json::from_value(series["values"].clone()).unwrap();
    assert_eq!(values.len(), days as usize);
    assert_eq!(values[0], Some(0.0));
    assert_eq!(values[10], None, "a day with no data stays no data");
    assert_eq!(values[399], Some(399.0));
    // 400 days at native resolution (115,200 points) also fit.
    let (status, body) = get_json(&server.url(&format!(
        "/v2/signals/raw/country/KZ?from={start}&until={until}"
    )));
    assert_eq!(status, 200);
    assert_eq!(
        body["data"][0][0]["values"].as_array().unwrap().len(),
        (days * 288) as usize
    );
    // The default window is the last 7 days with data.
    let (_, body) = get_json(&server.url("/api/v1/signals?entity=KZ"));
    assert_eq!(body["until"], vigie_model::format_utc(until));
    assert_eq!(body["from"], vigie_model::format_utc(until - 7 * 86_400));
}

/// An AS's series come with its main country (most of its /24s), so the
/// dashboard can show local time; other entities have none.
#[test]
fn an_as_series_names_its_main_country() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_640_995_200; // 2022-01-01T00:00:00Z
    {
        let mut store = Store::open(dir.path()).unwrap();
        for entity in ["AS9198", "KZ"] {
            let key = SeriesKey {
                entity: entity.parse().unwrap(),
                signal: SignalKind::BgpVisibleSlash24s,
            };
            store
                .write_points(&key, BinSize::default(), &[(start, Some(100.0))])
                .unwrap();
        }
        let row = |country: &str, units_v4| vigie_store::AsCountrySpace {
            asn: 9198,
            country: vigie_model::CountryCode::new(country).unwrap(),
            units_v4,
            units_v6: 0,
            observed_at: start,
        };
        store
            .replace_as_countries(&[row("RU", 3), row("KZ", 4000)])
            .unwrap();
    }
    let server = start_server(dir.path());
    let (status, body) = get_json(&server.url("/api/v1/signals?entity=AS9198"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["country"], "KZ", "{body}");
    let (_, body) = get_json(&server.url("/api/v1/signals?entity=KZ"));
    assert!(body.get("country").is_none(), "{body}");
}

fn start_server(dir: &std::path::Path) -> common::Running {
    start(dir)
}

#[test]
fn ioda_v2_shapes_match_iodas_documented_responses() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let server = start(dir.path());
    let csv = csv_bgp(&shared);
    let last = csv.last().unwrap().0 + 300;

    // /v2/signals/raw: envelope and series objects, field by field.
    let (status, body) = get_json(&server.url(&format!(
        "/v2/signals/raw/country/IQ?from={HOUR_FROM}&until={last}&datasource=bgp"
    )));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "signals");
    assert!(body["metadata"]["requestTime"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));
    assert!(body["metadata"]["responseTime"].is_string());
    // Typed as IODA echoes them: from and until are integers.
    assert_eq!(body["requestParameters"]["from"], HOUR_FROM);
    assert_eq!(body["requestParameters"]["maxPoints"], Value::Null);
    assert_eq!(body["requestParameters"]["entityCode"], "IQ");
    assert_eq!(body["error"], Value::Null);
    assert!(body["perf"].is_object());
    assert!(body["copyright"].is_string());
    let series = &body["data"][0][0];
    let mut keys: Vec<&String> = series.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "datasource",
            "entityCode",
            "entityFqid",
            "entityName",
            "entityType",
            "from",
            "nativeStep",
            "step",
            "subtype",
            "until",
            "values"
        ]
    );
    assert_eq!(series["entityType"], "country");
    assert_eq!(series["entityCode"], "IQ");
    assert_eq!(series["entityName"], "Iraq");
    assert_eq!(series["datasource"], "bgp");
    assert_eq!(series["from"], HOUR_FROM);
    assert_eq!(series["until"], last);
    assert_eq!(series["step"], 300);
    assert_eq!(series["nativeStep"], 300);
    let values = series["values"].as_array().unwrap();
    assert_eq!(values.len(), csv.len());
    assert!(
        values[0].is_i64(),
        "whole counts are integers as in IODA: {}",
        values[0]
    );
    for ((_, expected), got) in csv.iter().zip(values) {
        assert_eq!(got.as_f64(), *expected);
    }

    // Round trip: vigie-import reads the response back to the same series.
    let bytes = serde_json::to_vec(&body).unwrap();
    let imported =
        vigie_import::import_ioda_json(&bytes, "served.json", &Default::default()).unwrap();
    assert_eq!(imported.series.len(), 1);
    let back = &imported.series[0];
    let key = SeriesKey {
        entity: "IQ".parse().unwrap(),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    assert_eq!(back.key, key);
    let stored = store
        .read_series(
            &key,
            BinSize::default(),
            vigie_model::TimeRange::new(HOUR_FROM, last).unwrap(),
        )
        .unwrap();
    assert_eq!(back.start, stored.start);
    assert_eq!(back.values, stored.values);

    // Downsampled like IODA: the step is IODA's smallest allowed one that
    // fits maxPoints, the range rounded to it; nativeStep stays.
    let (_, body) = get_json(&server.url(&format!(
        "/v2/signals/raw/country/IQ?from={HOUR_FROM}&until={last}&datasource=bgp&maxPoints=100"
    )));
    let series = &body["data"][0][0];
    let step = vigie_publish::params::ioda_step(300, last - HOUR_FROM, Some(100));
    assert!(vigie_publish::params::IODA_STEPS.contains(&step));
    assert!((last - HOUR_FROM) / i64::from(step) <= 100);
    assert_eq!(series["step"], step);
    assert_eq!(series["nativeStep"], 300);
    let from = series["from"].as_i64().unwrap();
    let until = series["until"].as_i64().unwrap();
    assert_eq!(from % i64::from(step), 0);
    assert!(from <= HOUR_FROM && until >= last);
    assert_eq!(
        series["values"].as_array().unwrap().len() as i64,
        (until - from) / i64::from(step)
    );

    // /v2/outages/alerts.
    let incidents = vigie_incidents(&store);
    let (status, body) = get_json(&server.url(&format!(
        "/v2/outages/alerts?from={HOUR_FROM}&until={last}&entityType=country&entityCode=IQ&datasource=bgp"
    )));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "outages.alerts");
    let alerts = body["data"].as_array().unwrap();
    assert!(!alerts.is_empty());
    let bgp_events = store
        .events(&ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|e| e.key.signal == SignalKind::BgpVisibleSlash24s)
        .collect::<Vec<_>>();
    let alert = &alerts[0];
    let mut keys: Vec<&String> = alert.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "condition",
            "datasource",
            "entity",
            "historyValue",
            "level",
            "method",
            "time",
            "value"
        ]
    );
    assert_eq!(alert["datasource"], "bgp");
    assert_eq!(alert["time"], bgp_events[0].start);
    assert_eq!(alert["level"], "critical");
    assert_eq!(alert["method"], "vigie");
    let at = csv
        .iter()
        .find(|(t, _)| *t == bgp_events[0].start)
        .unwrap()
        .1;
    assert_eq!(alert["value"].as_f64(), at);
    assert_eq!(alert["entity"]["type"], "country");
    assert_eq!(alert["entity"]["code"], "IQ");
    assert_eq!(alert["entity"]["name"], "Iraq");
    assert!(alert["entity"]["attrs"].is_object());
    assert!(alerts.iter().any(|a| a["level"] == "normal"));

    // /v2/outages/events, codf (default) and ioda formats.
    let (_, body) = get_json(&server.url(&format!(
        "/v2/outages/events?from={HOUR_FROM}&until={last}&entityType=country&entityCode=IQ&datasource=bgp"
    )));
    assert_eq!(body["type"], "outages.events");
    let event = &body["data"][0];
    let mut keys: Vec<&String> = event.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "datasource",
            "duration",
            "fraction",
            "location",
            "location_name",
            "method",
            "overlaps_window",
            "score",
            "start",
            "status",
            "uncertainty"
        ]
    );
    assert_eq!(event["location"], "country/IQ");
    assert_eq!(event["location_name"], "Iraq");
    assert_eq!(event["start"], bgp_events[0].start);
    assert_eq!(
        event["duration"],
        bgp_events[0].end.unwrap() - bgp_events[0].start
    );
    assert_eq!(event["status"], 0);
    assert_eq!(event["uncertainty"], Value::Null);
    assert_eq!(event["overlaps_window"], false);
    assert_eq!(body["data"].as_array().unwrap().len(), bgp_events.len());
    let (_, body) = get_json(&server.url(&format!(
        "/v2/outages/events?from={HOUR_FROM}&until={last}&format=ioda&overall=true"
    )));
    let event = &body["data"][0];
    let mut keys: Vec<&String> = event.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["datasource", "entity", "from", "method", "score", "until"]
    );
    assert_eq!(event["datasource"], "overall");
    assert_eq!(event["from"], incidents[0].start);
    assert_eq!(event["until"], incidents[0].end.unwrap());
    assert_eq!(body["data"].as_array().unwrap().len(), incidents.len());

    // /v2/outages/summary.
    let (_, body) = get_json(&server.url(&format!(
        "/v2/outages/summary?from={HOUR_FROM}&until={last}"
    )));
    assert_eq!(body["type"], "outages.summary");
    let row = &body["data"][0];
    assert_eq!(row["event_cnt"], incidents.len());
    assert_eq!(row["entity"]["code"], "IQ");
    assert!(row["scores"]["overall"].as_f64().unwrap() > 0.0);
    assert!(row["scores"]["bgp"].as_f64().unwrap() > 0.0);

    // /v2/entities/query.
    let (_, body) = get_json(&server.url("/v2/entities/query?entityType=country&search=iraq"));
    assert_eq!(body["type"], "entities.lookup");
    assert_eq!(
        body["data"],
        serde_json::json!([{"type": "country", "code": "IQ", "name": "Iraq", "subnames": [], "attrs": {"fqid": "geo.provider.AS.IQ"}}])
    );
    let (_, body) = get_json(&server.url("/v2/entities/query?entityType=asn"));
    assert_eq!(body["data"], serde_json::json!([]));

    // IODA-style errors: 400, error set, data null.
    for path in [
        "/v2/outages/events?until=1692600000".to_string(),
        format!("/v2/outages/events?from={HOUR_FROM}&until={last}&format=xml"),
        format!("/v2/signals/raw/continent/EU?from={HOUR_FROM}&until={last}"),
    ] {
        let (status, body) = get_json(&server.url(&path));
        assert_eq!(status, 400, "{path}");
        assert!(body["error"].is_string(), "{path}: {body}");
        assert_eq!(body["data"], Value::Null);
    }
}
