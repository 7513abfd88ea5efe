//! `vigie report`, `vigie annotate` and `vigie serve --listen` end to end on
//! IODA's Iraq 2023 signals: the binary's wiring of vigie-publish.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
            "IQ@1692579600",
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
        md.contains("| 1 | 2023-08-21T01:00:00Z | 2023-08-21 04:00 (UTC+03:00) |"),
        "{md}"
    );
    assert!(md.contains("retrait des routes BGP"));
    assert!(
        md.contains("Exams begin"),
        "the annotation is in the report"
    );
    let appendix = std::fs::read_to_string(&files[3]).unwrap();
    // 2 h margin, the 4 h 10 min incident (01:00-05:10), 2 h margin; a header.
    assert_eq!(
        appendix.lines().count(),
        1 + (2 * 3600 + 4 * 3600 + 600 + 2 * 3600) / 300
    );

    // The HTTP API on a free port, with writes enabled by the token.
    let mut server = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--for-secs", "60"])
        .env("VIGIE_API_TOKEN", "cli-test-token")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = server.stderr.take().unwrap();
    let started = Instant::now();
    let mut seen = String::new();
    let addr = loop {
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(rest) = seen.split("HTTP API on http://").nth(1) {
            if let Some((addr, _)) = rest.split_once('/') {
                break addr.to_string();
            }
        }
        assert!(
            n > 0 && started.elapsed() < Duration::from_secs(30),
            "no address: {seen}"
        );
    };
    let (status, body) = http(
        &addr,
        "GET /api/v1/incidents?entity=IQ&limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("\"id\":\"IQ@1692579600\""), "{body}");
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
