//! Writes over real HTTP: annotations need the bearer token, are bounded and
//! validated, and appear in the API and in reports.

mod common;

use common::{fill_iraq, get_json, shared_data, start, start_with_token};
use serde_json::json;

#[test]
fn annotations_need_the_token_and_show_in_reports() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let server = start_with_token(dir.path(), Some("s3cret-token"));
    let client = reqwest::blocking::Client::new();
    let url = server.url("/api/v1/annotations");
    let body = json!({
        "entity": "IQ",
        "time": "2023-08-21T00:30:00Z",
        "text": "Ministry of Education: exams start at 04:00 local time",
        "url": "https://example.org/announcement"
    });

    let post = |token: Option<&str>, body: &serde_json::Value| {
        let mut request = client.post(&url).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json::<serde_json::Value>().unwrap_or_default(),
        )
    };
    let (status, reply) = post(None, &body);
    assert_eq!(status, 401, "{reply}");
    assert!(reply["error"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));
    assert_eq!(post(Some("wrong"), &body).0, 401);
    let (status, reply) = post(
        Some("s3cret-token"),
        &json!({"entity": "IQ", "time": "soon", "text": "x"}),
    );
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().unwrap().contains("'time'"),
        "{reply}"
    );
    let (status, reply) = post(
        Some("s3cret-token"),
        &json!({"entity": "IQ", "time": 0, "text": "x", "extra": 1}),
    );
    assert_eq!(status, 400, "unknown fields are refused: {reply}");
    let huge = json!({"entity": "IQ", "time": 0, "text": "x".repeat(100_000)});
    let status = client
        .post(&url)
        .bearer_auth("s3cret-token")
        .json(&huge)
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 413, "bodies are bounded");
    assert_eq!(
        get_json(&url).1["total"],
        0,
        "nothing was written by refused requests"
    );

    let (status, reply) = post(Some("s3cret-token"), &body);
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["entity"], "IQ");
    assert_eq!(reply["time"], "2023-08-21T00:30:00Z");
    assert_eq!(reply["author"], "api");
    let (status, listed) =
        get_json(&server.url("/api/v1/annotations?entity=IQ&from=2023-08-21&until=2023-08-22"));
    assert_eq!(status, 200);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["annotations"][0]["text"], body["text"]);
    assert_eq!(
        get_json(&server.url("/api/v1/annotations?entity=KZ")).1["total"],
        0
    );

    // Subscriptions: loopback targets are refused unless the server allows them.
    let hook = json!({"entity": "IQ", "notices": ["start", "end"], "target": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef0123"});
    let response = client
        .post(server.url("/api/v1/subscriptions"))
        .bearer_auth("s3cret-token")
        .json(&hook)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().unwrap().contains("request forgery"));
    let response = client
        .post(server.url("/api/v1/subscriptions"))
        .json(&hook)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    drop(server);
    let server = common::start_with_options(dir.path(), Some("s3cret-token"), true);
    let response = client
        .post(server.url("/api/v1/subscriptions"))
        .bearer_auth("s3cret-token")
        .json(&hook)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let listed: serde_json::Value = client
        .get(server.url("/api/v1/subscriptions"))
        .bearer_auth("s3cret-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["subscriptions"][0]["entity"], "IQ");
    assert_eq!(
        listed["subscriptions"][0]["notices"],
        json!(["start", "end"])
    );
    assert!(
        listed["subscriptions"][0].get("secret").is_none(),
        "secrets are never listed"
    );

    // A server without a token refuses writes.
    drop(server);
    let read_only = start(dir.path());
    let status = client
        .post(read_only.url("/api/v1/annotations"))
        .bearer_auth("s3cret-token")
        .json(&body)
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 403);

    // Reports show it, with local time, and mark it on the figure.
    let mut report = vigie_publish::report::build(
        &store,
        vigie_publish::report::ReportRequest {
            entity: "IQ".parse().unwrap(),
            from: 1_692_493_200,
            until: 1_692_835_200,
            lang: vigie_publish::report::Lang::Fr,
            method: "vigie".into(),
            bin: vigie_model::BinSize::default(),
        },
        0,
    )
    .unwrap();
    report.annotations = vigie_publish::annotations::list(
        &store,
        Some(&"IQ".parse().unwrap()),
        Some(report.request.from),
        Some(report.request.until),
    )
    .unwrap();
    assert_eq!(report.annotations.len(), 1);
    let md = report.markdown("f.svg", "f.csv");
    assert!(
        md.contains("- 2023-08-21T00:30:00Z (locale 2023-08-21 03:30 (UTC+03:00)) : Ministry of Education: exams start at 04:00 local time (https://example.org/announcement)")
            || md.contains("- 2023-08-21T00:30:00Z (locale 2023-08-21 03:30 (UTC+03:00)): Ministry of Education: exams start at 04:00 local time (https://example.org/announcement)"),
        "{md}"
    );
    let svg = report.svg().unwrap();
    let x_lines = svg.matches("<polyline").count();
    report.annotations.clear();
    // One mark per annotation in each signal's panel.
    let without = report.svg().unwrap().matches("<polyline").count();
    assert!(x_lines > without, "annotation marks drawn");
}
