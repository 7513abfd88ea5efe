//! A local HTTP/1.1 server for tests, in-process on a loopback port,
//! serving byte files and folder listings at the paths a real archive or
//! API uses, with the failures real servers have: a missing file (404), a
//! 5xx, a slow answer, a body cut short. It honours `Range: bytes=N-`
//! (206 with `Content-Range`) and logs every request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a path answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// The bytes, whole or from the asked range.
    Normal,
    /// 404 Not Found (the file is listed but not there).
    Missing,
    /// This status (a 5xx) every time.
    Status(u16),
    /// The bytes, after waiting this long.
    Slow(Duration),
    /// On the first request, the full `Content-Length` but only this many
    /// bytes before the connection closes; whole afterwards.
    CutOnce(usize),
    /// The first `n` requests answer 503, then the bytes.
    FailFirst(usize),
}

struct Entry {
    body: Vec<u8>,
    content_type: &'static str,
    behaviour: Behaviour,
}

/// One request the server received: its path (with the query) and its
/// `Range` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// The request target, `/rrc00/2022.01/bview.20220105.0000.gz?x=1`.
    pub target: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    hits: HashMap<String, usize>,
    log: Vec<Logged>,
}

/// The server; it runs until the test process ends.
#[derive(Clone)]
pub struct HttpMirror {
    state: Arc<Mutex<State>>,
    base: String,
}

impl HttpMirror {
    /// Starts a server on a free loopback port.
    pub fn start() -> HttpMirror {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = answer(stream, &state);
                });
            }
        });
        HttpMirror { state, base }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Serves `body` at `path` (exact, with the query for API paths).
    pub fn file(&self, path: &str, body: Vec<u8>, behaviour: Behaviour) {
        self.put(path, body, "application/octet-stream", behaviour);
    }

    /// Serves a JSON document at `path` (with its query, if any).
    pub fn json(&self, path: &str, body: String) {
        self.put(
            path,
            body.into_bytes(),
            "application/json",
            Behaviour::Normal,
        );
    }

    /// Serves an HTML index of `names` at the folder `path` (ending in `/`),
    /// as Apache's autoindex does for the RIS and RouteViews archives.
    pub fn listing(&self, path: &str, names: &[&str]) {
        let mut html = String::from("<html><body><a href=\"../\">Parent Directory</a>\n");
        for name in names {
            html.push_str(&format!("<a href=\"{name}\">{name}</a>\n"));
        }
        html.push_str("</body></html>\n");
        self.put(path, html.into_bytes(), "text/html", Behaviour::Normal);
    }

    fn put(&self, path: &str, body: Vec<u8>, content_type: &'static str, behaviour: Behaviour) {
        self.state.lock().unwrap().entries.insert(
            path.to_string(),
            Entry {
                body,
                content_type,
                behaviour,
            },
        );
    }

    /// Every request so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn answer(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let (body, content_type, behaviour, hit) = {
        let mut state = state.lock().unwrap();
        state.log.push(Logged {
            target: target.clone(),
            range: range.clone(),
        });
        let hit = {
            let count = state.hits.entry(target.clone()).or_insert(0);
            *count += 1;
            *count
        };
        match state.entries.get(&target) {
            Some(e) => (e.body.clone(), e.content_type, e.behaviour.clone(), hit),
            None => (Vec::new(), "text/plain", Behaviour::Missing, hit),
        }
    };
    let mut out = stream;
    let status = |out: &mut TcpStream, code: u16, text: &str| {
        write!(
            out,
            "HTTP/1.1 {code} {text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let mut cut = None;
    match behaviour {
        Behaviour::Missing => return status(&mut out, 404, "Not Found"),
        Behaviour::Status(code) => return status(&mut out, code, "Error"),
        Behaviour::FailFirst(n) if hit <= n => return status(&mut out, 503, "Service Unavailable"),
        Behaviour::Slow(wait) => std::thread::sleep(wait),
        Behaviour::CutOnce(n) if hit == 1 => cut = Some(n),
        _ => {}
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, _)| a.parse::<usize>().ok());
    let total = body.len();
    let (head, slice) = match start {
        Some(s) if s >= total => {
            return write!(
                out,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        Some(s) => (
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\n",
                total - 1
            ),
            &body[s..],
        ),
        None => ("HTTP/1.1 200 OK\r\n".to_string(), &body[..]),
    };
    write!(
        out,
        "{head}Content-Type: {content_type}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
        slice.len()
    )?;
    let sent = cut.map_or(slice.len(), |n| n.min(slice.len()));
    out.write_all(&slice[..sent])?;
    out.flush()?;
    if cut.is_some() {
        out.shutdown(Shutdown::Both)?;
    }
    Ok(())
}
