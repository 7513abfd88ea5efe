//! CORS over real HTTP, as IODA sends it: `Access-Control-Allow-Origin: *`
//! on the read API (GET, HEAD and their preflight), never on the writes
//! (annotations POST, subscriptions) nor on the dashboard.

mod common;

use common::start_with_token;
use reqwest::blocking::{Client, Response};
use reqwest::Method;

const ORIGIN: &str = "https://news.example.org";
const TOKEN: &str = "s3cret-token";

/// Sends `request` as a page of another origin would.
fn from_origin(request: reqwest::blocking::RequestBuilder) -> Response {
    request.header("Origin", ORIGIN).send().unwrap()
}

fn allow_origin(response: &Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_lowercase())
        .unwrap_or_default()
}

#[test]
fn read_api_allows_any_origin_and_writes_and_dashboard_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_token(dir.path(), Some(TOKEN));
    let client = Client::new();

    // GET and HEAD on the native and IODA-compatible reads.
    for path in [
        "/api/v1/entities",
        "/api/v1/incidents",
        "/api/v1/incidents.atom",
        "/api/v1/summary?from=2023-08-20&until=2023-08-21",
        "/api/v1/openapi.json",
        "/api/v1/annotations?entity=IQ&from=2023-08-20&until=2023-08-21",
        "/v2/entities/query?entityType=country",
        "/v2/outages/events?from=1692489600&until=1693353600",
    ] {
        let response = from_origin(client.get(server.url(path)));
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        assert_eq!(allow_origin(&response).as_deref(), Some("*"), "GET {path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    }
    // The OpenAPI document says so.
    let openapi: serde_json::Value = client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let description = openapi["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("Access-Control-Allow-Origin: *"),
        "{description}"
    );
    let head = from_origin(client.head(server.url("/api/v1/entities")));
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(allow_origin(&head).as_deref(), Some("*"));
    // A read's error answer is readable too (the client sees the message).
    let bad = from_origin(client.get(server.url("/v2/signals/raw/country/IQ?from=soon")));
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(allow_origin(&bad).as_deref(), Some("*"));

    // Preflight for a GET with a custom header.
    let preflight = client
        .request(
            Method::OPTIONS,
            server.url("/v2/signals/raw/country/IQ?from=1692489600&until=1693353600"),
        )
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "x-requested-with")
        .send()
        .unwrap();
    let status = preflight.status().as_u16();
    assert!(status == 200 || status == 204, "preflight: {status}");
    assert_eq!(allow_origin(&preflight).as_deref(), Some("*"));
    let methods = header(&preflight, "access-control-allow-methods");
    assert!(
        methods.contains("get") && methods.contains("head"),
        "{methods}"
    );
    assert!(!methods.contains("post"), "{methods}");
    assert_eq!(header(&preflight, "access-control-allow-headers"), "*");
    assert_eq!(header(&preflight, "access-control-max-age"), "86400");
    assert!(preflight
        .headers()
        .get("access-control-allow-credentials")
        .is_none());

    // The dashboard's page and files: no CORS.
    for path in ["/", "/dashboard/app.js"] {
        let response = from_origin(client.get(server.url(path)));
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        assert_eq!(allow_origin(&response), None, "GET {path}");
    }

    // Writes: a successful annotation POST, refused ones, subscriptions.
    let body = serde_json::json!({
        "entity": "IQ",
        "time": "2023-08-21T00:30:00Z",
        "text": "Exams begin nationwide"
    });
    let created = client
        .post(server.url("/api/v1/annotations"))
        .header("Origin", ORIGIN)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(allow_origin(&created), None, "annotation POST");
    let refused = client
        .post(server.url("/api/v1/annotations"))
        .header("Origin", ORIGIN)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(allow_origin(&refused), None, "refused annotation POST");
    // The annotation written is readable cross-origin.
    let listed = from_origin(
        client.get(server.url("/api/v1/annotations?entity=IQ&from=2023-08-21&until=2023-08-22")),
    );
    assert_eq!(allow_origin(&listed).as_deref(), Some("*"));
    assert_eq!(listed.json::<serde_json::Value>().unwrap()["total"], 1);

    let subscriptions = client
        .get(server.url("/api/v1/subscriptions"))
        .header("Origin", ORIGIN)
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(subscriptions.status().as_u16(), 200);
    assert_eq!(allow_origin(&subscriptions), None, "subscriptions GET");
    let subscribe = client
        .post(server.url("/api/v1/subscriptions"))
        .header("Origin", ORIGIN)
        .json(&serde_json::json!({"entity": "IQ", "target": "https://example.org/hook"}))
        .send()
        .unwrap();
    assert_eq!(subscribe.status().as_u16(), 401);
    assert_eq!(allow_origin(&subscribe), None, "subscriptions POST");
    for method in ["GET", "POST"] {
        let preflight = client
            .request(Method::OPTIONS, server.url("/api/v1/subscriptions"))
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "authorization")
            .send()
            .unwrap();
        assert_eq!(
            allow_origin(&preflight),
            None,
            "subscriptions preflight for {method}"
        );
    }
}
