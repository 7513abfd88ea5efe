//! `vigie report`, `vigie annotate` and `vigie serve --listen` end to end on
//! IODA's Iraq 2023 signals: the binary's wiring of vigie-publish.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "support/listening.rs"]
mod listening;
use listening::spawn_listening;

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie");
    assert!(
        out.status.success(),
        "vigie {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A plain HTTP/1.1 request; returns the status line and the body.
fn http(addr: &str, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn report_annotate_and_serve_from_the_command_line() {
    let Some(csv) = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    vigie(
        &data,
        &[
            "import",
            "ioda-csv",
            csv.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    vigie(&data, &["detect"]);
    let first = {
        let store = vigie_store::Store::open(&data).unwrap();
        let incidents = store
            .incidents(&vigie_store::ResultFilter {
                method: Some("vigie".into()),
                ..Default::default()
            })
            .unwrap();
        incidents[0].clone()
    };
    let first_id = format!("IQ@{}", first.start);
    vigie(
        &data,
        &[
            "annotate",
            "IQ",
            "--from",
            "2023-08-21T00:30:00Z",
            "--text",
            "Exams begin",
        ],
    );
    let listed = vigie(&data, &["annotate", "--list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "1\tIQ\t2023-08-21T00:30:00Z\tExams begin\n"
    );

    // A report around one incident, in French.
    let out_dir = dir.path().join("reports");
    let report = vigie(
        &data,
        &[
            "report",
            "--incident",
            &first_id,
            "--lang",
            "fr",
            "--margin-hours",
            "2",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    let files: Vec<String> = String::from_utf8_lossy(&report.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files[0].ends_with("report-IQ-20230820-20230821-fr.html"));
    let md = std::fs::read_to_string(&files[1]).unwrap();
    assert!(
        md.contains(&format!(
            "| 1 | {} | {} (UTC+03:00) |",
            vigie_model::format_utc(first.start),
            vigie_publish::report::tz::format_local(first.start, 180)
        )),
        "{md}"
    );
    assert!(md.contains("retrait des routes BGP") || md.contains("blocage du plan de données"));
    assert!(
        md.contains("Exams begin"),
        "the annotation is in the report"
    );
    let appendix = std::fs::read_to_string(&files[3]).unwrap();
    // 2 h margin, the incident, 2 h margin: one row per 5-minute bin; a header.
    let end = first.end.unwrap();
    assert_eq!(
        appendix.lines().count() as i64,
        1 + (end + 2 * 3600 - (first.start - 2 * 3600)) / 300
    );

    // The HTTP API on a free port, with writes enabled by the token.
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--for-secs", "60"])
        .env("VIGIE_API_TOKEN", "cli-test-token");
    let (mut server, addr) = spawn_listening(command);
    let (status, body) = http(
        &addr,
        "GET /api/v1/incidents?entity=IQ&limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200"), "{status}");
    assert!(body.contains(&format!("\"id\":\"{first_id}\"")), "{body}");
    let json = r#"{"entity":"IQ","time":"2023-08-22T00:30:00Z","text":"Second exam day"}"#;
    let (status, _) = http(
        &addr,
        &format!(
            "POST /api/v1/annotations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cli-test-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ),
    );
    assert!(status.contains("201"), "{status}");
    let (_, body) = http(
        &addr,
        "GET /api/v1/annotations?entity=IQ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(body.contains("\"total\":2"), "{body}");
    let _ = server.kill();
    let _ = server.wait();
}

/// Starts `vigie serve` with an `[api]` on 127.0.0.1:0 and the alert
/// worker on (private targets allowed, a pass a second) and returns the
/// child and the API address.
fn serve_with_alerts(data: &Path) -> (std::process::Child, String) {
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        "[api]\nlisten = \"127.0.0.1:0\"\n[alerts]\nallow_private = true\ninterval_secs = 1\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--for-secs", "120", "--config"])
        .arg(&config)
        .env("VIGIE_API_TOKEN", "alert-token");
    spawn_listening(command)
}

#[test]
fn webhook_deliveries_survive_a_kill_in_the_middle() {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    let Some(csv) = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    vigie(
        &data,
        &[
            "import",
            "ioda-csv",
            csv.to_str().unwrap(),
            "--entity",
            "IQ",
        ],
    );
    vigie(&data, &["detect"]);

    // The receiver: answers 200, except that it never answers the 5th
    // request (vigie is killed while waiting for it).
    const HANG_AT: usize = 5;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    // (notice key, answered 200)
    let log: Arc<Mutex<Vec<(String, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = Arc::clone(&log2);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = HashMap::new();
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let key = headers.get("x-vigie-notice").cloned().unwrap_or_default();
                let hang = {
                    let mut log = log.lock().unwrap();
                    let hang = log.len() + 1 == HANG_AT;
                    log.push((key, !hang));
                    hang
                };
                if hang {
                    std::thread::sleep(Duration::from_secs(60));
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });

    let (mut server, addr) = serve_with_alerts(&data);
    let json = format!(
        r#"{{"entity":"IQ","notices":["start","end"],"target":"{hook}","secret":"0123456789abcdef-secret"}}"#
    );
    let (status, body) = http(
        &addr,
        &format!(
            "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alert-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        ),
    );
    assert!(status.contains("201"), "{status} {body}");
    let wait_for = |count: usize| {
        let started = Instant::now();
        while log.lock().unwrap().len() < count {
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "receiver saw {:?}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(HANG_AT);
    // Kill vigie while it waits for the receiver's answer to the 5th notice.
    server.kill().unwrap();
    server.wait().unwrap();
    let before_restart = log.lock().unwrap().len();
    assert_eq!(before_restart, HANG_AT);

    let store = vigie_store::Store::open(&data).unwrap();
    let incidents = store
        .incidents(&vigie_store::ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        })
        .unwrap();
    let expected = incidents.len() + incidents.iter().filter(|i| i.end.is_some()).count();
    drop(store);

    let (mut server, _) = serve_with_alerts(&data);
    wait_for(expected + 1);
    std::thread::sleep(Duration::from_millis(1500)); // a further pass sends nothing more
    let _ = server.kill();
    let _ = server.wait();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.len(),
        expected + 1,
        "every notice once, plus the unanswered attempt: {log:?}"
    );
    let mut accepted: HashMap<&str, usize> = HashMap::new();
    for (key, ok) in &log {
        if *ok {
            *accepted.entry(key.as_str()).or_insert(0) += 1;
        }
    }
    assert_eq!(accepted.len(), expected);
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    let hung = &log[HANG_AT - 1].0;
    assert_eq!(
        accepted[hung.as_str()],
        1,
        "the notice in flight at the kill was delivered after the restart"
    );
    let store = vigie_store::Store::open(&data).unwrap();
    let outbox = vigie_publish::alerts::outbox(&store).unwrap();
    assert_eq!(outbox.len(), expected);
    assert!(outbox.iter().all(|d| d.state == "delivered"), "{outbox:?}");
}
