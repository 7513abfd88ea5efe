//! The server's limits (issue 14, findings 3, 4 and 9) over real TCP:
//! idle and half-sent-header connections are closed within the header
//! timeout, a body announced too large is refused at once, a full heavy-read
//! gate answers 503 with Retry-After while light requests still answer,
//! idle connections past the cap make room for a normal request, a client
//! that goes away stops its read (and an incident listing its work), wrong
//! tokens are throttled per client (X-Forwarded-For only behind a trusted
//! proxy), and responses are marked nosniff. Small limits keep each test
//! to seconds.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{start_state, Running};
use vigie_model::{BinSize, SeriesKey, SignalKind};
use vigie_publish::{AppState, ServerLimits};

/// A store with `days` of 5-minute bins of `signals` for IQ.
fn store_with_series(dir: &std::path::Path, days: i64, signals: &[SignalKind]) {
    let mut store = vigie_store::Store::open(dir).unwrap();
    let start = 1_600_000_000 - 1_600_000_000 % 86_400;
    let points: Vec<(i64, Option<f64>)> = (0..days * 288)
        .map(|i| (start + i * 300, Some(1000.0 + (i % 288) as f64)))
        .collect();
    for signal in signals {
        let key = SeriesKey {
            entity: "IQ".parse().unwrap(),
            signal: *signal,
        };
        store
            .write_points(&key, BinSize::default(), &points)
            .unwrap();
    }
}

fn server(dir: &std::path::Path, token: Option<&str>, limits: ServerLimits) -> (Running, AppState) {
    let state = AppState::open_with_token(dir, token.map(str::to_string))
        .unwrap()
        .with_limits(limits);
    (start_state(state.clone()), state)
}

/// Sends `request` on a new connection and reads until the server closes
/// it (or 10 s pass); returns what was read and when the close came.
fn exchange(addr: SocketAddr, request: &[u8]) -> (String, Duration) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

fn header<'a>(response: &'a reqwest::blocking::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn idle_and_half_sent_header_connections_are_closed_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServerLimits {
        header_timeout: Duration::from_millis(500),
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), None, limits);
    // Nothing sent.
    let (_, closed) = exchange(server.addr, b"");
    assert!(
        closed < Duration::from_secs(3),
        "idle: closed after {closed:?}"
    );
    // Half the headers.
    let (_, closed) = exchange(server.addr, b"GET /api/v1/entities HTTP/1.1\r\nHost: x\r\n");
    assert!(
        closed < Duration::from_secs(3),
        "half-sent: closed after {closed:?}"
    );
    // A whole request answered, then the kept-alive connection stays idle.
    let (reply, closed) = exchange(
        server.addr,
        b"GET /api/v1/entities HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        closed < Duration::from_secs(3),
        "kept alive: closed after {closed:?}"
    );
}

#[test]
fn a_body_announced_too_large_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server(dir.path(), Some("right-token"), ServerLimits::default());
    let (reply, closed) = exchange(
        server.addr,
        b"POST /api/v1/annotations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer right-token\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\nabcd",
    );
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("999999999"), "{reply}");
    assert!(
        closed < Duration::from_secs(2),
        "answered and closed after {closed:?}"
    );
}

#[test]
fn with_the_heavy_slots_full_a_heavy_read_gets_503_and_light_requests_answer() {
    let dir = tempfile::tempdir().unwrap();
    store_with_series(dir.path(), 2, &[SignalKind::BgpVisibleSlash24s]);
    let limits = ServerLimits {
        max_heavy: 1,
        heavy_bins: 100, // two days of 5-minute bins are heavy
        ..ServerLimits::default()
    };
    let (server, state) = server(dir.path(), None, limits);
    let heavy = [
        "/api/v1/signals?entity=IQ&from=2020-09-12&until=2020-09-15&maxPoints=200000",
        "/api/v1/signals.csv?entity=IQ&from=2020-09-12&until=2020-09-15",
        "/v2/signals/raw/country/IQ?from=1599868800&until=1600128000",
    ];
    let permit = state.try_heavy_permit().unwrap();
    assert_eq!(state.heavy_in_flight(), 1);
    for path in heavy {
        let response = reqwest::blocking::get(server.url(path)).unwrap();
        assert_eq!(response.status().as_u16(), 503, "{path}");
        assert_eq!(header(&response, "retry-after"), Some("2"), "{path}");
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
    }
    // A short read is light, and so is the entity list.
    let light = "/api/v1/signals?entity=IQ&from=2020-09-13T00:00:00Z&until=2020-09-13T01:00:00Z";
    for path in [light, "/api/v1/entities"] {
        let response = reqwest::blocking::get(server.url(path)).unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    drop(permit);
    for path in heavy {
        let response = reqwest::blocking::get(server.url(path)).unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let kind = header(&response, "content-type").unwrap_or("").to_string();
        assert!(kind.contains("json") || kind.contains("csv"), "{kind}");
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        // A streamed CSV holds its slot until its text is written.
        assert!(!response.text().unwrap().is_empty());
    }
    assert_eq!(state.heavy_in_flight(), 0);
    let metrics = reqwest::blocking::get(server.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("vigie_http_heavy_refused_total 3\n"),
        "{metrics}"
    );
    // Errors are marked too.
    let response = reqwest::blocking::get(server.url("/api/v1/nothing")).unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
}

#[test]
fn responses_over_the_size_bound_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    store_with_series(dir.path(), 2, &[SignalKind::BgpVisibleSlash24s]);
    let limits = ServerLimits {
        max_response_bytes: 4096,
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), None, limits);
    for path in [
        "/api/v1/signals?entity=IQ&from=2020-09-12&until=2020-09-15",
        "/api/v1/signals.csv?entity=IQ&from=2020-09-12&until=2020-09-15",
        "/v2/signals/raw/country/IQ?from=1599868800&until=1600128000",
    ] {
        let response = reqwest::blocking::get(server.url(path)).unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert!(
            response.text().unwrap().contains("exceed 4096 bytes"),
            "{path}"
        );
        let small = format!("{path}&maxPoints=10");
        let response = reqwest::blocking::get(server.url(&small)).unwrap();
        assert_eq!(response.status().as_u16(), 200, "{small}");
    }
}

#[test]
fn many_idle_connections_do_not_block_a_normal_request() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServerLimits {
        max_connections: 32,
        header_timeout: Duration::from_secs(60),
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), None, limits);
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        if i % 2 == 0 {
            stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        }
        idle.push(stream);
    }
    let started = Instant::now();
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(server.url("/api/v1/entities"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let metrics = reqwest::blocking::get(server.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let evicted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vigie_http_connections_evicted_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(evicted >= 300 - 32, "{evicted} evicted");
}

#[test]
fn with_every_connection_busy_a_new_one_gets_503() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServerLimits {
        max_connections: 2,
        request_timeout: Duration::from_secs(5),
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), Some("right-token"), limits);
    // Two requests in progress: bodies announced, not all sent.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(b"POST /api/v1/annotations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer right-token\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"entity\":")
            .unwrap();
        busy.push(stream);
    }
    std::thread::sleep(Duration::from_millis(300));
    let (reply, closed) = exchange(
        server.addr,
        b"GET /api/v1/entities HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("retry-after: 2"),
        "{reply}"
    );
    assert!(closed < Duration::from_secs(2), "{closed:?}");
    drop(busy);
    // Once they are gone, requests are served again.
    std::thread::sleep(Duration::from_millis(300));
    let (reply, _) = exchange(
        server.addr,
        b"GET /api/v1/entities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn a_client_that_goes_away_stops_its_read() {
    let dir = tempfile::tempdir().unwrap();
    let signals = [
        SignalKind::BgpVisibleSlash24s,
        SignalKind::ProbeUpSlash24s,
        SignalKind::TelescopeUniqueSources,
        SignalKind::GoogleTraffic,
    ];
    store_with_series(dir.path(), 400, &signals);
    let (server, state) = server(dir.path(), None, ServerLimits::default());
    let path = "/api/v1/signals.csv?entity=IQ&from=2020-09-13&until=2021-10-01&maxPoints=200000";
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    // How long the whole read takes here.
    let started = Instant::now();
    let response = reqwest::blocking::get(server.url(path)).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let _ = response.text().unwrap();
    let whole = started.elapsed();
    if whole < Duration::from_millis(400) {
        eprintln!("SKIP: the whole read took only {whole:?}, too fast to interrupt");
        return;
    }
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(whole / 8);
    drop(stream);
    let gone = Instant::now();
    while state.metrics().cancelled() == 0 {
        assert!(
            gone.elapsed() < whole,
            "the read was not stopped (a whole read takes {whole:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    while state.heavy_in_flight() > 0 {
        assert!(gone.elapsed() < whole, "the heavy slot was not given back");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let signals = [SignalKind::BgpVisibleSlash24s, SignalKind::ProbeUpSlash24s];
    store_with_series(dir.path(), 400, &signals);
    let limits = ServerLimits {
        write_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), None, limits);
    let path = "/api/v1/signals.csv?entity=IQ&from=2020-09-13&until=2021-10-01&maxPoints=200000";
    let started = Instant::now();
    let whole = reqwest::blocking::get(server.url(path))
        .unwrap()
        .bytes()
        .unwrap()
        .len();
    let answered_in = started.elapsed();
    assert!(
        whole > 8_000_000,
        "{whole} bytes: more than the socket buffers hold"
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    // Not reading: once the body is built (as long as the whole answer
    // took above), the server's writes stall, and it gives up.
    std::thread::sleep(answered_in * 2 + Duration::from_secs(1));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut read = 0;
    let mut buf = vec![0; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    assert!(
        read < whole,
        "read {read} of {whole} bytes: the connection was kept"
    );
}

#[test]
fn wrong_tokens_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServerLimits {
        token_failures_per_minute: 3,
        ..ServerLimits::default()
    };
    let (server, _) = server(dir.path(), Some("right-token"), limits);
    let client = reqwest::blocking::Client::new();
    let list = |token: &str| {
        client
            .get(server.url("/api/v1/subscriptions"))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    assert_eq!(list("right-token").status().as_u16(), 200);
    for _ in 0..3 {
        assert_eq!(list("wrong").status().as_u16(), 401);
    }
    for token in ["wrong", "right-token"] {
        let response = list(token);
        assert_eq!(response.status().as_u16(), 429, "{token}");
        let wait: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    // Without a token nothing is guessed: still 401, not throttled.
    let response = client
        .get(server.url("/api/v1/subscriptions"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

/// Issue 14, finding 4, beyond series reads: an incident listing over a
/// long range, a summary and IODA's merged events each stop when their
/// client goes away. Iraq's real incidents, repeated for 60 entities
/// over 40 years, make the listings heavy.
#[test]
fn a_client_that_goes_away_stops_incident_listings() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = common::fill_iraq(dir.path(), &shared);
    let iq: vigie_model::Entity = "IQ".parse().unwrap();
    let filter = vigie_store::ResultFilter {
        entity: Some(iq.clone()),
        ..Default::default()
    };
    let real: Vec<vigie_detect::Incident> = store
        .incidents(&filter)
        .unwrap()
        .iter()
        .map(|row| serde_json::from_str(&row.detail).unwrap())
        .collect();
    assert!(!real.is_empty());
    let year = 365 * 86_400;
    for n in 0..60u32 {
        let entity: vigie_model::Entity = format!("AS{}", 64_512 + n).parse().unwrap();
        let mut stored = Vec::new();
        for shift in 0..40 {
            for incident in &real {
                let mut moved = incident.clone();
                let by = -shift * year;
                moved.entity = entity.clone();
                moved.start += by;
                moved.end = moved.end.map(|t| t + by);
                moved.observed_until += by;
                stored.push(vigie_store::StoredIncident {
                    method: "vigie".into(),
                    entity: entity.clone(),
                    start: moved.start,
                    end: moved.end,
                    detail: serde_json::to_string(&moved).unwrap(),
                });
            }
        }
        store.replace_incidents("vigie", &entity, &stored).unwrap();
    }
    drop(store);
    let (server, state) = server(dir.path(), None, ServerLimits::default());
    let range = "from=1980-01-01&until=2030-01-01";
    for path in [
        format!("/api/v1/incidents?{range}&limit=10"),
        format!("/api/v1/summary?{range}"),
        "/v2/outages/events?from=315532800&until=1893456000&overall=true&limit=10".to_string(),
    ] {
        let started = Instant::now();
        let response = reqwest::blocking::get(server.url(&path)).unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let _ = response.text().unwrap();
        let whole = started.elapsed();
        if whole < Duration::from_millis(400) {
            eprintln!("SKIP {path}: the whole answer took only {whole:?}, too fast to interrupt");
            continue;
        }
        let before = state.metrics().cancelled();
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        std::thread::sleep(whole / 8);
        drop(stream);
        let gone = Instant::now();
        while state.metrics().cancelled() == before {
            assert!(
                gone.elapsed() < whole,
                "{path}: the work was not stopped (a whole answer takes {whole:?})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!(
            "{path}: stopped {:?} after the client went (a whole answer takes {whole:?})",
            gone.elapsed()
        );
    }
}

/// X-Forwarded-For is anyone's to write: the wrong-token throttle ignores
/// it unless the TCP peer is a configured trusted proxy, and then counts
/// each forwarded client on its own.
#[test]
fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let client = reqwest::blocking::Client::new();
    let status = |server: &Running, forwarded: &str| {
        client
            .get(server.url("/api/v1/subscriptions"))
            .bearer_auth("wrong")
            .header("X-Forwarded-For", forwarded)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // No trusted proxy: a new forwarded address each time does not help.
    let dir = tempfile::tempdir().unwrap();
    let limits = ServerLimits {
        token_failures_per_minute: 3,
        ..ServerLimits::default()
    };
    let (direct, _) = server(dir.path(), Some("right-token"), limits.clone());
    let got: Vec<u16> = (1..=4)
        .map(|i| status(&direct, &format!("203.0.113.{i}")))
        .collect();
    assert_eq!(got, [401, 401, 401, 429]);
    // Behind a trusted proxy (this test's loopback): one count per client.
    let dir = tempfile::tempdir().unwrap();
    let trusting = ServerLimits {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..limits
    };
    let (proxied, _) = server(dir.path(), Some("right-token"), trusting);
    for _ in 0..3 {
        assert_eq!(status(&proxied, "203.0.113.1"), 401);
    }
    assert_eq!(status(&proxied, "203.0.113.1"), 429);
    assert_eq!(status(&proxied, "203.0.113.2"), 401);
    // A spoofed leftmost entry does not move the count off the real client.
    assert_eq!(status(&proxied, "203.0.113.2, 203.0.113.1"), 429);
}
