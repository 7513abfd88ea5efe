//! Starting `vigie serve --listen 127.0.0.1:0` in a test and learning the
//! address it bound (included with `#[path]` by the tests that serve).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `command` (a `vigie serve --listen 127.0.0.1:0 …`) with its
/// stderr piped, waits up to 30 s for "HTTP API on http://ADDR/", and keeps
/// draining stderr so the child never blocks on a full pipe. Returns the
/// child and ADDR.
pub fn spawn_listening(mut command: Command) -> (Child, String) {
    let mut server = command.stderr(Stdio::piped()).spawn().expect("vigie serve");
    let mut stderr = server.stderr.take().expect("piped stderr");
    let started = Instant::now();
    let mut seen = String::new();
    let addr = loop {
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap_or(0);
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
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    (server, addr)
}

/// The body of `GET path` at `addr`, which must answer 200.
#[allow(dead_code)] // not every test that serves reads through it
pub fn get(addr: &str, path: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    body.to_string()
}
