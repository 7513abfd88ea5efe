//! Webhook delivery to a real local HTTP receiver: signed JSON, retries with
//! backoff after receiver errors, and a restart (new connection to the same
//! store) between attempts that loses nothing and sends nothing twice.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{fill_iraq, shared_data};
use vigie_publish::alerts::{self, DeliveryConfig};
use vigie_store::ResultFilter;

#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    answered: u16,
}

/// A tiny HTTP/1.1 server: answers 500 to the first `failures` requests,
/// then 200, and records every request.
fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let remaining = Arc::new(AtomicUsize::new(failures));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
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
            reader.read_exact(&mut body).unwrap();
            let fail = remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let status = if fail { 500 } else { 200 };
            let reason = if fail { "Internal Server Error" } else { "OK" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            log2.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8(body).unwrap(),
                answered: status,
            });
        }
    });
    (url, log)
}

#[test]
fn webhooks_are_signed_retried_and_survive_a_restart_without_duplicates() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let (incidents, _) = vigie_publish::data::incidents(
        &store,
        &ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let n = incidents.len();
    assert!(n >= 5);
    let (url, log) = receiver(3);
    let secret = "a-secret-of-at-least-16-bytes";
    let config = DeliveryConfig {
        allow_private: true,
        ..DeliveryConfig::default()
    };
    let t0 = 1_800_000_000;

    let mut conn = vigie_store::Store::open(dir.path()).unwrap();
    // Without allow_private a loopback target is refused (SSRF).
    let iq = "IQ".parse().unwrap();
    let notices = vec!["start".to_string(), "end".to_string()];
    let err = alerts::subscribe(&mut conn, &iq, &notices, &url, secret, false, t0).unwrap_err();
    assert!(err.to_string().contains("request forgery"), "{err}");
    alerts::subscribe(&mut conn, &iq, &notices, &url, secret, true, t0).unwrap();
    // Another country's subscription gets nothing.
    alerts::subscribe(
        &mut conn,
        &"KZ".parse().unwrap(),
        &notices,
        &url,
        secret,
        true,
        t0,
    )
    .unwrap();

    assert_eq!(alerts::enqueue(&mut conn, &incidents, t0).unwrap(), 2 * n);
    let first = alerts::deliver_due(&mut conn, &config, t0).unwrap();
    assert_eq!(first.delivered, 2 * n - 3);
    assert_eq!(first.retrying, 3);
    let rows = alerts::outbox(&conn).unwrap();
    let retrying: Vec<_> = rows.iter().filter(|r| r.state == "pending").collect();
    assert_eq!(retrying.len(), 3);
    assert!(retrying
        .iter()
        .all(|r| r.attempts == 1 && r.next_attempt_at == t0 + 30));
    assert!(retrying[0].last_error.as_deref().unwrap().contains("500"));

    // Restart: a new connection, as a new process would open; detection
    // runs again and enqueues the same incidents.
    drop(conn);
    let mut conn = vigie_store::Store::open(dir.path()).unwrap();
    assert_eq!(
        alerts::enqueue(&mut conn, &incidents, t0 + 5).unwrap(),
        0,
        "nothing enqueued twice"
    );
    assert_eq!(
        alerts::deliver_due(&mut conn, &config, t0 + 10).unwrap(),
        Default::default(),
        "retries wait for their backoff"
    );
    let second = alerts::deliver_due(&mut conn, &config, t0 + 30).unwrap();
    assert_eq!(second.delivered, 3);
    assert_eq!(
        alerts::deliver_due(&mut conn, &config, t0 + 10_000).unwrap(),
        Default::default()
    );
    assert!(alerts::outbox(&conn)
        .unwrap()
        .iter()
        .all(|r| r.state == "delivered"));

    // Feed health: the Iraq export ends at 2023-08-30T05:00:00Z; an hour
    // later the subscribed entity is silent, noticed once.
    let health = vec!["feed-health".to_string()];
    alerts::subscribe(&mut conn, &iq, &health, &url, secret, true, t0).unwrap();
    let data_end = 1_693_371_600; // 2023-08-30T05:00:00Z
    assert_eq!(
        alerts::enqueue_feed_health(&mut conn, data_end + 600, 1800).unwrap(),
        0,
        "not silent long enough"
    );
    assert_eq!(
        alerts::enqueue_feed_health(&mut conn, data_end + 3600, 1800).unwrap(),
        1
    );
    assert_eq!(
        alerts::enqueue_feed_health(&mut conn, data_end + 7200, 1800).unwrap(),
        0,
        "one notice per silence"
    );
    assert_eq!(
        alerts::deliver_due(&mut conn, &config, data_end + 7200)
            .unwrap()
            .delivered,
        1
    );
    let silent = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(
        silent.headers["x-vigie-notice"],
        format!("feed-silent:IQ:{data_end}")
    );
    let payload: serde_json::Value = serde_json::from_str(&silent.body).unwrap();
    assert_eq!(payload["status"], "silent");
    assert_eq!(payload["time"], "2023-08-30T05:00:00Z");
    log.lock().unwrap().pop();

    // What the receiver saw: every notice accepted exactly once, signed.
    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 2 * n + 3);
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for r in &received {
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["x-vigie-signature"],
            alerts::signature(secret, r.body.as_bytes())
        );
        if r.answered == 200 {
            *accepted
                .entry(r.headers["x-vigie-notice"].clone())
                .or_insert(0) += 1;
        }
        let payload: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(payload["entity"], "IQ");
    }
    assert_eq!(accepted.len(), 2 * n);
    assert!(accepted.values().all(|&c| c == 1));
    let start_key = format!("start:{}", incidents[0].id);
    assert_eq!(accepted[&start_key], 1);
    let body: serde_json::Value = serde_json::from_str(
        &received
            .iter()
            .find(|r| r.headers["x-vigie-notice"] == start_key && r.answered == 200)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(body["notice"], "start");
    let first = &incidents[0].incident;
    assert_eq!(body["time"], vigie_model::format_utc(first.start));
    assert_eq!(body["incident"]["id"], incidents[0].id);
    assert_eq!(body["incident"]["mechanism"], first.mechanism.name());
}

/// Notice keys and the time each arrived.
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// A receiver that reads each request, waits `delay`, then answers 200;
/// it records the notice key and the time each request arrived.
fn receiver_waiting(delay: Duration) -> (String, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = Arc::clone(&log2);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut key = String::new();
                let mut length = 0;
                let mut line = String::new();
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
                        match k.trim().to_ascii_lowercase().as_str() {
                            "x-vigie-notice" => key = v.trim().to_string(),
                            "content-length" => length = v.trim().parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                log.lock().unwrap().push((key, Instant::now()));
                std::thread::sleep(delay);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    (url, log)
}

/// Issue 14, finding 6: a receiver that sleeps 30 s delayed another
/// subscriber's notices by minutes. Now targets are served concurrently and
/// the slow one is given up after its timeout, its other rows deferred.
#[test]
fn a_slow_receiver_delays_no_other_subscriber() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let (incidents, _) = vigie_publish::data::incidents(
        &store,
        &ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let n = incidents.len();
    let (slow_url, slow_log) = receiver_waiting(Duration::from_secs(30));
    let (fast_url, fast_log) = receiver_waiting(Duration::ZERO);
    let secret = "a-secret-of-at-least-16-bytes";
    let t0 = 1_800_000_000;
    let mut conn = vigie_store::Store::open(dir.path()).unwrap();
    let iq = "IQ".parse().unwrap();
    let notices = vec!["start".to_string(), "end".to_string()];
    // The slow subscriber first: serial delivery would wait for it.
    alerts::subscribe(&mut conn, &iq, &notices, &slow_url, secret, true, t0).unwrap();
    alerts::subscribe(&mut conn, &iq, &notices, &fast_url, secret, true, t0).unwrap();
    assert_eq!(alerts::enqueue(&mut conn, &incidents, t0).unwrap(), 4 * n);
    let config = DeliveryConfig {
        allow_private: true,
        timeout: Duration::from_secs(2),
        ..DeliveryConfig::default()
    };
    let started = Instant::now();
    let report = alerts::deliver_due(&mut conn, &config, t0).unwrap();
    let pass = started.elapsed();
    assert!(pass < Duration::from_secs(10), "the pass took {pass:?}");
    assert_eq!(report.delivered, 2 * n, "{report:?}");
    assert_eq!(report.retrying, 1, "{report:?}");
    assert_eq!(report.deferred, 2 * n - 1, "{report:?}");
    let fast = fast_log.lock().unwrap().clone();
    assert_eq!(fast.len(), 2 * n);
    let last = fast.iter().map(|(_, at)| *at).max().unwrap() - started;
    assert!(
        last < Duration::from_secs(2),
        "the fast receiver's last notice came {last:?} after the pass began"
    );
    assert_eq!(slow_log.lock().unwrap().len(), 1, "one try, then deferred");
    let rows = alerts::outbox(&conn).unwrap();
    let timed_out = rows
        .iter()
        .find(|r| r.attempts == 1 && r.state == "pending")
        .unwrap();
    assert!(
        timed_out
            .last_error
            .as_deref()
            .unwrap()
            .contains("POST failed"),
        "{timed_out:?}"
    );
    // The deferred rows are still due, with no attempt counted.
    assert_eq!(
        rows.iter()
            .filter(|r| r.attempts == 0 && r.state == "pending")
            .count(),
        2 * n - 1
    );
}

/// A tiny SMTP sink: refuses the first `refusals` sessions with 421, then
/// accepts mail and records (recipients, data) per message.
/// Messages the sink accepted: (RCPT lines, DATA).
type Mails = Arc<Mutex<Vec<(Vec<String>, String)>>>;

fn smtp_sink(refusals: usize) -> (u16, Mails) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut refused = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if refused < refusals {
                refused += 1;
                let _ = stream.write_all(b"421 sink busy, try later\r\n");
                continue;
            }
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = stream.write_all(b"220 sink ESMTP\r\n");
            let mut rcpt = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let upper = line.to_ascii_uppercase();
                if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    let _ = stream.write_all(b"250-sink\r\n250 8BITMIME\r\n");
                } else if upper.starts_with("MAIL FROM") {
                    let _ = stream.write_all(b"250 ok\r\n");
                } else if upper.starts_with("RCPT TO") {
                    rcpt.push(line.trim_end().to_string());
                    let _ = stream.write_all(b"250 ok\r\n");
                } else if upper.starts_with("DATA") {
                    let _ = stream.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        if line == ".\r\n" {
                            break;
                        }
                        data.push_str(&line);
                    }
                    log2.lock().unwrap().push((std::mem::take(&mut rcpt), data));
                    let _ = stream.write_all(b"250 queued\r\n");
                } else if upper.starts_with("QUIT") {
                    let _ = stream.write_all(b"221 bye\r\n");
                    break;
                } else {
                    let _ = stream.write_all(b"250 ok\r\n");
                }
            }
        }
    });
    (port, log)
}

#[test]
fn e_mail_notices_reach_a_real_smtp_sink_and_are_retried() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let (incidents, _) = vigie_publish::data::incidents(
        &store,
        &ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let n = incidents.len();
    let (port, mails) = smtp_sink(1);
    let config = DeliveryConfig {
        smtp: Some(alerts::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            starttls: false,
            from: "vigie@example.org".into(),
            credentials: None,
        }),
        ..DeliveryConfig::default()
    };
    let mut conn = vigie_store::Store::open(dir.path()).unwrap();
    let iq = "IQ".parse().unwrap();
    let start = vec!["start".to_string()];
    assert!(alerts::subscribe(
        &mut conn,
        &iq,
        &start,
        "mailto:not an address",
        "a-secret-of-at-least-16-bytes",
        false,
        0
    )
    .is_err());
    alerts::subscribe(
        &mut conn,
        &iq,
        &start,
        "mailto:ngo@example.org",
        "a-secret-of-at-least-16-bytes",
        false,
        0,
    )
    .unwrap();
    assert_eq!(alerts::enqueue(&mut conn, &incidents, 100).unwrap(), n);
    let first = alerts::deliver_due(&mut conn, &config, 100).unwrap();
    assert_eq!(
        (first.delivered, first.retrying),
        (n - 1, 1),
        "the sink refused the first session"
    );
    let second = alerts::deliver_due(&mut conn, &config, 130).unwrap();
    assert_eq!(second.delivered, 1);
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), n);
    assert!(mails
        .iter()
        .all(|(rcpt, _)| rcpt == &["RCPT TO:<ngo@example.org>".to_string()]));
    let first = &incidents[0].incident;
    let start = vigie_model::format_utc(first.start);
    let subject = format!("Subject: [vigie] IQ: incident start at {start}");
    let subject = subject.as_str();
    let mail = mails
        .iter()
        .find(|(_, d)| d.contains(subject))
        .map(|(_, d)| d.clone());
    let mail = mail.unwrap_or_else(|| panic!("no mail with {subject}: {mails:?}"));
    assert!(mail.contains("From: vigie@example.org"));
    assert!(
        mail.contains(&format!(
            "Incident {} of IQ: start {start}",
            incidents[0].id
        )),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("mechanism {}", first.mechanism.name())),
        "{mail}"
    );
}

/// A `slack` subscription, made through the API, gets chat messages (what
/// Slack's and Mattermost's incoming webhooks take: `text` plus
/// `attachments`) at a real receiver, signed like JSON notices; a `json`
/// one beside it still gets vigie's notice.
#[test]
fn slack_subscriptions_get_chat_messages() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = fill_iraq(dir.path(), &shared);
    let (incidents, _) = vigie_publish::data::incidents(
        &store,
        &ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!incidents.is_empty());
    let (chat_url, chat) = receiver(0);
    let (json_url, plain) = receiver(0);
    let secret = "a-secret-of-at-least-16-bytes";
    let server = common::start_with_options(dir.path(), Some("s3cret-token"), true);
    let client = reqwest::blocking::Client::new();
    let post = |body: serde_json::Value| {
        let response = client
            .post(server.url("/api/v1/subscriptions"))
            .bearer_auth("s3cret-token")
            .json(&body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().unwrap())
    };
    let (status, made) = post(serde_json::json!({
        "entity": "IQ", "notices": ["start", "end"], "target": chat_url,
        "secret": secret, "format": "slack",
    }));
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["format"], "slack");
    let (status, made) = post(serde_json::json!({
        "entity": "IQ", "notices": ["start"], "target": json_url, "secret": secret,
    }));
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["format"], "json");
    for (bad, words) in [
        (
            serde_json::json!({"entity": "IQ", "notices": ["start"], "target": chat_url, "secret": secret, "format": "teams"}),
            "format 'teams'",
        ),
        (
            serde_json::json!({"entity": "IQ", "notices": ["start"], "target": "mailto:ops@example.org", "secret": secret, "format": "slack"}),
            "for webhooks",
        ),
    ] {
        let (status, error) = post(bad);
        assert_eq!(status, 400);
        assert!(error["error"].as_str().unwrap().contains(words), "{error}");
    }
    let listed: serde_json::Value = client
        .get(server.url("/api/v1/subscriptions"))
        .bearer_auth("s3cret-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let formats: Vec<&str> = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["slack", "json"]);

    let mut conn = vigie_store::Store::open(dir.path()).unwrap();
    let t0 = 1_800_000_000;
    let config = DeliveryConfig {
        allow_private: true,
        ..DeliveryConfig::default()
    };
    alerts::enqueue(&mut conn, &incidents, t0).unwrap();
    let report = alerts::deliver_due(&mut conn, &config, t0).unwrap();
    let ended = incidents
        .iter()
        .filter(|i| i.incident.end.is_some())
        .count();
    assert_eq!(report.delivered, 2 * incidents.len() + ended);

    let chat = chat.lock().unwrap().clone();
    assert_eq!(chat.len(), incidents.len() + ended);
    let first = &incidents[0];
    let start = chat
        .iter()
        .find(|r| r.headers["x-vigie-notice"] == format!("start:{}", first.id))
        .expect("the first incident's start message");
    assert_eq!(start.answered, 200);
    assert_eq!(start.headers["content-type"], "application/json");
    assert_eq!(
        start.headers["x-vigie-signature"],
        alerts::signature(secret, start.body.as_bytes()),
        "signed over the message sent"
    );
    let message: serde_json::Value = serde_json::from_str(&start.body).unwrap();
    let text = message["text"].as_str().unwrap();
    let start_utc = vigie_model::format_utc(first.incident.start);
    let depth = format!("{:.0}%", first.incident.depth * 100.0);
    assert!(text.starts_with("*Internet outage in IQ* at "), "{text}");
    // UTC with Baghdad's local time (UTC+03:00) beside it.
    assert!(
        text.contains(&start_utc) && text.contains("(UTC+03:00) local"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{depth} of the baseline lost")),
        "{text}"
    );
    assert!(
        message.get("notice").is_none(),
        "a chat message, not the notice"
    );
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["color"], "#d7301f");
    assert_eq!(attachment["fallback"], text);
    let field = |title: &str| {
        attachment["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["title"] == title)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(field("Incident").as_deref(), Some(first.id.as_str()));
    assert_eq!(field("Lost"), Some(depth));
    assert_eq!(
        field("Mechanism").as_deref(),
        Some(first.incident.mechanism.name())
    );
    assert!(field("Start").unwrap().starts_with(&start_utc));
    let end = chat
        .iter()
        .find(|r| r.headers["x-vigie-notice"].starts_with("end:"))
        .expect("an end message");
    let end: serde_json::Value = serde_json::from_str(&end.body).unwrap();
    assert!(end["text"]
        .as_str()
        .unwrap()
        .starts_with("*Internet outage over in IQ*"));
    assert_eq!(end["attachments"][0]["color"], "#1a9850");

    // The JSON subscriber still gets vigie's notice, unchanged.
    let plain = plain.lock().unwrap().clone();
    assert_eq!(plain.len(), incidents.len());
    let notice: serde_json::Value = serde_json::from_str(&plain[0].body).unwrap();
    assert_eq!(notice["notice"], "start");
    assert!(notice.get("text").is_none());
}

/// Provisional and feed-health notices (no incident) read as chat
/// messages too.
#[test]
fn slack_messages_of_notices_without_an_incident() {
    let provisional = serde_json::json!({
        "notice": "start", "provisional": true, "time": "2022-01-05T10:30:00Z",
        "entity": "KZ", "message": "provisional: KZ lost 80% of its visible /24s",
    });
    let message: serde_json::Value =
        serde_json::from_str(&alerts::slack_message(&provisional.to_string())).unwrap();
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("*Possible Internet outage in KZ (provisional)* at 2022-01-05T10:30:00Z"),
        "{text}"
    );
    assert!(
        text.contains("UTC+0") && text.contains("provisional: KZ lost 80%"),
        "{text}"
    );
    assert_eq!(message["attachments"][0]["color"], "#f1a340");
    let silent = serde_json::json!({
        "notice": "feed-health", "time": "2023-08-30T05:00:00Z", "entity": "AS9198",
        "message": "no data for AS9198 since 2023-08-30T05:00:00Z (60 min before this notice)",
    });
    let message: serde_json::Value =
        serde_json::from_str(&alerts::slack_message(&silent.to_string())).unwrap();
    assert_eq!(
        message["text"],
        "*No data from AS9198* at 2023-08-30T05:00:00Z. no data for AS9198 since 2023-08-30T05:00:00Z (60 min before this notice)"
    );
}

/// Feed health reads only the subscribed entities' series: a silent
/// subscribed country gets a notice per subscription naming its own
/// signals, however many other series the store holds (a live one of
/// another country, a silent one no one subscribed to).
#[test]
fn feed_health_reads_only_the_subscribed_entities_series() {
    use vigie_model::{BinSize, SeriesKey, SignalKind};
    let mut store = vigie_store::Store::open_in_memory().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = now - now % 300;
    let bin = BinSize::default();
    let write = |store: &mut vigie_store::Store, code: &str, signal, at: i64| {
        let key = SeriesKey {
            entity: code.parse().unwrap(),
            signal,
        };
        store.write_points(&key, bin, &[(at, Some(5.0))]).unwrap();
    };
    write(&mut store, "KZ", SignalKind::BgpVisibleSlash24s, t0 - 7200);
    write(&mut store, "KZ", SignalKind::ProbeUpSlash24s, t0 - 9000);
    write(&mut store, "IQ", SignalKind::BgpVisibleSlash24s, t0 - 7200);
    write(&mut store, "US", SignalKind::BgpVisibleSlash24s, t0);
    let kz = "KZ".parse().unwrap();
    let us = "US".parse().unwrap();
    let health = ["feed-health".to_string()];
    for (entity, target) in [(&kz, "a"), (&kz, "b"), (&us, "c")] {
        let url = format!("http://127.0.0.1:9/{target}");
        alerts::subscribe(
            &mut store,
            entity,
            &health,
            &url,
            "0123456789abcdef",
            true,
            t0,
        )
        .unwrap();
    }
    assert_eq!(
        alerts::enqueue_feed_health(&mut store, t0, 1800).unwrap(),
        2
    );
    let due = store.due_deliveries(t0).unwrap();
    assert_eq!(due.len(), 2, "{due:?}");
    for d in &due {
        // The data ends with KZ's latest bin.
        assert_eq!(d.notice_key, format!("feed-silent:KZ:{}", t0 - 6900));
        let payload: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
        assert_eq!(payload["entity"], "KZ");
        let mut signals: Vec<&str> = payload["signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        signals.sort_unstable();
        assert_eq!(signals, ["bgp", "ping-slash24"]);
    }
}
