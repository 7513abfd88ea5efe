//! For tests and benchmarks: a throwaway `nats-server -js`, a durable
//! consumer's unacknowledged messages, and a store's contents to compare
//! value for value.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_model::{BinSize, SeriesKey, TimeRange};
use vigie_store::Store;

/// A `nats-server -js` on a free loopback port with its store in a
/// temporary folder; killed when dropped.
pub struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Where `nats-server` is: `$VIGIE_NATS_SERVER`, else on `PATH`, else
/// Debian's `/usr/sbin/nats-server`.
pub fn nats_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VIGIE_NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|path| path.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
}

impl NatsServer {
    /// Starts a server; `None` (with a message on stderr) when
    /// `nats-server` is not installed, except under `CI=true`, where that
    /// is a failure (scripts/setup.sh installs it).
    pub fn start() -> Option<NatsServer> {
        let Some(binary) = nats_server_binary() else {
            let message = "nats-server is not installed (scripts/setup.sh installs Debian's nats-server; or set VIGIE_NATS_SERVER)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("skipped: {message}");
            return None;
        };
        Some(NatsServer::start_with(&binary))
    }

    fn start_with(binary: &PathBuf) -> NatsServer {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {address} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        NatsServer {
            child,
            url: format!("nats://{address}"),
            _dir: dir,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The durable consumer `durable`'s messages not yet delivered, and those
/// delivered and not acknowledged (`(0, 0)` while it does not exist).
pub fn consumer_backlog(bus: &crate::Bus, durable: &str) -> (u64, u64) {
    let stream = bus.stream.clone();
    let durable = durable.to_string();
    bus.run(async move {
        stream
            .consumer_info(&durable)
            .await
            .map(|info| (info.num_pending, info.num_ack_pending as u64))
            .unwrap_or((0, 0))
    })
}

/// Every series of a store with its values over `range`, as bits (so
/// equality is value for value, `-0.0` and `0.0` apart).
pub type Contents = Vec<(SeriesKey, BinSize, Vec<Option<u64>>)>;

/// The store's series and their values over `range`, sorted.
pub fn store_contents(store: &Store, range: TimeRange) -> Contents {
    let mut series = store.list_series().expect("the store's series");
    series.sort_by(|a, b| (&a.key, a.bin.secs()).cmp(&(&b.key, b.bin.secs())));
    series
        .into_iter()
        .map(|info| {
            let values = store
                .read_series(&info.key, info.bin, range)
                .expect("a stored series")
                .values
                .into_iter()
                .map(|v| v.map(f64::to_bits))
                .collect();
            (info.key, info.bin, values)
        })
        .collect()
}
