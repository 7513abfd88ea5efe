//! The dashboard's files and `/api/v1/coverage` over real HTTP: the page at
//! `/` with its security headers, every file it names, ETag revalidation,
//! and the coverage of a store filled from IODA's Iraq export. (The page
//! itself is tested in a real browser by crates/vigie/tests/dashboard_browser.rs.)

mod common;

use common::{fill_iraq, get_json, get_text, shared_data, start};

#[test]
fn the_dashboard_is_served_with_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let response = reqwest::blocking::get(server.url("/")).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    let page = response.text().unwrap();
    assert!(page.contains("<title>vigie"));

    // Every file the page names is served with its type.
    let named: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/dashboard/"))
        .collect();
    assert!(named.len() >= 6, "{named:?}");
    for path in named {
        let (status, content_type, body) = get_text(&server.url(path));
        assert_eq!(status, 200, "{path}");
        assert!(!body.is_empty(), "{path}");
        let expected = if path.ends_with(".js") {
            "text/javascript"
        } else if path.ends_with(".css") {
            "text/css"
        } else {
            ""
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
    }
    // The modules the entry module imports, and the vendored map data.
    let (status, _, app) = get_text(&server.url("/dashboard/app.js"));
    assert_eq!(status, 200);
    for module in ["./util.js", "./map.js", "./entity.js"] {
        assert!(app.contains(module));
        let (status, _, _) = get_text(&server.url(&format!("/dashboard/{}", &module[2..])));
        assert_eq!(status, 200, "{module}");
    }
    let (status, atlas) = get_json(&server.url("/dashboard/vendor/countries-110m.json"));
    assert_eq!(status, 200);
    assert_eq!(atlas["type"], "Topology");
    let geometries = atlas["objects"]["countries"]["geometries"]
        .as_array()
        .unwrap();
    assert!(geometries.len() > 170);
    let (_, codes) = get_json(&server.url("/dashboard/vendor/country-codes.json"));
    assert_eq!(codes["368"], "IQ", "ISO 3166 numeric 368 is Iraq");
    assert_eq!(codes["398"], "KZ");

    // Revalidation: the same ETag answers 304 with no body.
    let first = reqwest::blocking::get(server.url("/dashboard/entity.js")).unwrap();
    let etag = first.headers()["etag"].clone();
    let again = reqwest::blocking::Client::new()
        .get(server.url("/dashboard/entity.js"))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.bytes().unwrap().is_empty());

    // Unknown files and traversal attempts are a 404 with a JSON message.
    for path in [
        "/dashboard/nope.js",
        "/dashboard/../Cargo.toml",
        "/dashboard/%2e%2e/src/lib.rs",
    ] {
        let (status, body) = get_json(&server.url(path));
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[test]
fn coverage_reports_the_data_span_per_country() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, empty) = get_json(&server.url("/api/v1/coverage"));
    assert_eq!(status, 200);
    assert_eq!(empty["series"], 0);
    assert!(empty["until"].is_null());
    assert_eq!(empty["countries"].as_array().unwrap().len(), 0);
    drop(server);

    let Some(shared) = shared_data() else { return };
    let store = fill_iraq(dir.path(), &shared);
    let series = store.list_series().unwrap();
    drop(store);
    let server = start(dir.path());
    let (status, body) = get_json(&server.url("/api/v1/coverage"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["series"], series.len());
    // The export's last row is 2023-08-30T04:55:00Z: data ends with its bin.
    assert_eq!(body["until"], "2023-08-30T05:00:00Z");
    assert_eq!(body["from"], "2023-08-20T01:00:00Z");
    assert_eq!(body["untilUnix"], 1_693_371_600);
    let countries = body["countries"].as_array().unwrap();
    assert_eq!(countries.len(), 1);
    assert_eq!(countries[0]["country"], "IQ");
    assert_eq!(countries[0]["countrySeries"], series.len());
    assert_eq!(countries[0]["regions"], 0);
    assert_eq!(countries[0]["latestEnd"], "2023-08-30T05:00:00Z");
}

/// The dashboard's text files go gzip-compressed to a client that accepts
/// it (and whole to one that does not); the embed page may be framed by the
/// configured origins while the dashboard page never may.
#[test]
fn files_are_compressed_and_only_the_embed_page_is_framable() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::new();
    let server = start(dir.path());
    let plain = client
        .get(server.url("/dashboard/entity.js"))
        .send()
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().unwrap();
    let zipped = client
        .get(server.url("/dashboard/entity.js"))
        .header("accept-encoding", "br;q=1, gzip;q=0.8")
        .send()
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let tag = zipped.headers()["etag"].to_str().unwrap().to_string();
    let zipped = zipped.bytes().unwrap();
    assert!(
        zipped.len() * 2 < plain.len(),
        "{} → {}",
        plain.len(),
        zipped.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(zipped.as_ref())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.as_ref());
    // gzip;q=0 refuses it; the compressed ETag revalidates.
    let refused = client
        .get(server.url("/dashboard/entity.js"))
        .header("accept-encoding", "gzip;q=0")
        .send()
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    let again = client
        .get(server.url("/dashboard/entity.js"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &tag)
        .send()
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    let csp = |url: &str| {
        let response = client.get(url).send().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(csp(&server.url("/")).contains("frame-ancestors 'none'"));
    assert!(csp(&server.url("/embed/country/KZ")).contains("frame-ancestors *;"));
    assert!(csp(&server.url("/embed/region/PS/Gaza%20Strip")).contains("frame-ancestors *;"));
    assert!(csp(&server.url("/embed/asn/9198")).contains("frame-ancestors *;"));
    let (status, _, _) = get_text(&server.url("/embed/planet/EARTH"));
    assert_eq!(status, 404);
    let (status, _, _) = get_text(&server.url("/embed/country/AS9198"));
    assert_eq!(status, 404);

    let state = vigie_publish::AppState::open(dir.path())
        .unwrap()
        .with_embed_origins(&[
            "https://news.example".into(),
            "https://*.blog.example:8443".into(),
            "https://evil.example; script-src *".into(),
        ]);
    let server = common::start_state(state);
    let policy = csp(&server.url("/embed/country/KZ"));
    assert!(
        policy.contains("frame-ancestors https://news.example https://*.blog.example:8443;"),
        "{policy}"
    );
    assert!(!policy.contains("evil"));
    assert!(csp(&server.url("/")).contains("frame-ancestors 'none'"));
}
