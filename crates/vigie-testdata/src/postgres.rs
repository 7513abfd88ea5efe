//! A throwaway PostgreSQL server for tests of the `postgres` store backend.
//!
//! [`test_database`] starts, once per test process, a cluster of its own:
//! `initdb` in a folder under the system temp dir, then `postgres` listening
//! on a free loopback port and on a unix socket in that folder, with trust
//! authentication for the superuser `vigie`. Each call then creates a fresh
//! database and hands its `postgres://` URL; the database is dropped when
//! the [`TestDatabase`] is.
//!
//! [`tls_test_database`] does the same on a second cluster that speaks TLS
//! only over TCP (`ssl = on`, `hostssl` lines alone in `pg_hba.conf`), its
//! certificate (for `localhost`) signed by a CA made for the run with the
//! `openssl` command; [`PgServer::ca_file`] is that CA's PEM file.
//!
//! The binaries are found in `$VIGIE_PG_BINDIR`, on PATH, or in Debian's
//! `/usr/lib/postgresql/<version>/bin` (newest version first). When they
//! are missing the helper returns `None` after a clear message, and under
//! `CI=true` it panics: CI installs PostgreSQL (`scripts/setup.sh`).
//!
//! PostgreSQL refuses to run as root: a root test process runs `initdb` and
//! `postgres` as the user `nobody`. The server is stopped (fast shutdown)
//! when the test process ends, by the parent-death signal of the thread
//! that started it, and its folder is removed by the next run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Folder-name prefix of the clusters, under the system temp dir.
const DIR_PREFIX: &str = "vigie-pg-test-";

/// The superuser the cluster is created with.
const SUPERUSER: &str = "vigie";

/// A running test cluster.
#[derive(Debug)]
pub struct PgServer {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    ca: Option<PathBuf>,
}

impl PgServer {
    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data folder (the unix socket lies there too).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The PEM file of the CA that signed the server's certificate (for
    /// `localhost`), on the TLS-only server; `None` on the other.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    fn client(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bindir.join(tool));
        command
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .stdin(Stdio::null());
        command
    }
}

/// A fresh, empty database on the test server; dropped with it.
#[derive(Debug)]
pub struct TestDatabase {
    server: &'static PgServer,
    name: String,
}

impl TestDatabase {
    /// Its `postgres://` URL.
    pub fn url(&self) -> String {
        self.server.url(&self.name)
    }

    /// Its URL through `host` (a name or an address of this machine), with
    /// the query `params` (`sslmode=verify-full&sslrootcert=…`).
    pub fn url_at(&self, host: &str, params: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@{host}:{}/{}?{params}",
            self.server.port, self.name
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server it lives on.
    pub fn server(&self) -> &'static PgServer {
        self.server
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: the whole cluster goes at the end of the run anyway.
        let _ = self
            .server
            .client("dropdb")
            .args(["--force", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A fresh database on this process's test server, started on first use;
/// `None` (after a message) when PostgreSQL is not installed.
///
/// # Panics
/// Under `CI=true` when PostgreSQL is missing, and whenever the server
/// cannot be started or the database created (with what went wrong).
pub fn test_database() -> Option<TestDatabase> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    database_on(SERVER.get_or_init(|| start_server(false)))
}

/// A fresh database on this process's TLS-only test server (see the
/// module's doc), started on first use; `None` (after a message) when
/// PostgreSQL or the `openssl` command is not installed.
///
/// # Panics
/// As [`test_database`], and under `CI=true` when `openssl` is missing.
pub fn tls_test_database() -> Option<TestDatabase> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    database_on(SERVER.get_or_init(|| start_server(true)))
}

fn database_on(server: &'static Result<PgServer, String>) -> Option<TestDatabase> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = match server {
        Ok(server) => server,
        Err(missing) if missing.starts_with("missing:") => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{missing} (required under CI=true; scripts/setup.sh installs it)");
            }
            eprintln!("skipping: {missing}");
            return None;
        }
        Err(e) => panic!("the test PostgreSQL server did not start: {e}"),
    };
    let name = format!(
        "vigie_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let output = server
        .client("createdb")
        .arg(&name)
        .output()
        .unwrap_or_else(|e| panic!("running createdb: {e}"));
    assert!(
        output.status.success(),
        "createdb {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(TestDatabase { server, name })
}

/// The folder holding `postgres`, `initdb`, `createdb` and `pg_isready`.
pub fn find_bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| {
        ["postgres", "initdb", "createdb", "pg_isready"]
            .iter()
            .all(|tool| dir.join(tool).is_file())
    };
    if let Some(dir) = std::env::var_os("VIGIE_PG_BINDIR").map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    let mut candidates: Vec<(u32, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let version = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .next()
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(version) = version {
                candidates.push((version, entry.path().join("bin")));
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let debian = candidates.into_iter().map(|(_, dir)| dir);
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    debian.chain(on_path).find(|dir| has_tools(dir))
}

/// The uid and gid to run the server as: `nobody` when running as root.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"nobody";
    // SAFETY: getpwnam takes a NUL-terminated name; the record it returns is
    // read at once, before any other call could reuse its storage.
    let record = unsafe { libc::getpwnam(name.as_ptr()) };
    if record.is_null() {
        return Err("running as root and there is no user 'nobody' to run PostgreSQL as".into());
    }
    // SAFETY: non-null, checked above.
    let (uid, gid) = unsafe { ((*record).pw_uid, (*record).pw_gid) };
    Ok(Some((uid, gid)))
}

/// Removes clusters of earlier test processes that are gone.
fn remove_stale_clusters(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        // `<pid>` or `<pid>-tls`.
        let pid = rest.split('-').next().unwrap_or(rest);
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn as_user(command: &mut Command, user: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
}

/// Makes a CA and a certificate for `localhost` signed by it in `dir`
/// (`ca.pem`, `server.pem`, `server.key`) with the `openssl` command.
fn make_certificates(dir: &Path) -> Result<(), String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "missing: the `openssl` command, which makes the TLS test server's \
                     certificates; install the `openssl` package"
                        .to_string()
                } else {
                    format!("running openssl: {e}")
                }
            })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nx509_extensions = ca\nprompt = no\n\
         [dn]\nCN = vigie test CA\n\
         [ca]\nbasicConstraints = critical, CA:TRUE\n\
         keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n",
    )
    .map_err(|e| format!("writing ca.cnf: {e}"))?;
    std::fs::write(
        dir.join("server.cnf"),
        "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost\n",
    )
    .map_err(|e| format!("writing server.cnf: {e}"))?;
    let mut ca = vec!["req", "-x509", "-config", "ca.cnf", "-days", "2"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&ca)?;
    let mut request = vec!["req", "-new", "-subj", "/CN=localhost"];
    request.extend(ec);
    request.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(&request)?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.cnf",
        "-out",
        "server.pem",
    ])
}

/// Starts a cluster; with `tls`, one that takes TCP connections over TLS only.
fn start_server(tls: bool) -> Result<PgServer, String> {
    let Some(bindir) = find_bindir() else {
        return Err(
            "missing: PostgreSQL's binaries (postgres, initdb) were found neither in \
                    $VIGIE_PG_BINDIR, /usr/lib/postgresql/*/bin nor on PATH; install the \
                    `postgresql` package"
                .into(),
        );
    };
    let user = server_user()?;
    let temp = std::env::temp_dir();
    remove_stale_clusters(&temp);
    let suffix = if tls { "-tls" } else { "" };
    let dir = temp.join(format!("{DIR_PREFIX}{}{suffix}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    if let Some((uid, gid)) = user {
        for path in [&dir, &data] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("giving {} to nobody: {e}", path.display()))?;
        }
    }
    let mut initdb = Command::new(bindir.join("initdb"));
    initdb
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null())
        .current_dir(&dir);
    as_user(&mut initdb, user);
    let output = initdb
        .output()
        .map_err(|e| format!("running initdb: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut settings: Vec<String> = Vec::new();
    let mut ca = None;
    if tls {
        make_certificates(&dir)?;
        let key = dir.join("server.key");
        if let Some((uid, gid)) = user {
            for file in [&key, &dir.join("server.pem")] {
                std::os::unix::fs::chown(file, Some(uid), Some(gid))
                    .map_err(|e| format!("giving {} to nobody: {e}", file.display()))?;
            }
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("restricting {}: {e}", key.display()))?;
        }
        // TCP only over TLS; the unix socket as before.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n",
        )
        .map_err(|e| format!("writing pg_hba.conf: {e}"))?;
        settings.extend([
            "ssl=on".to_string(),
            format!("ssl_cert_file={}", dir.join("server.pem").display()),
            format!("ssl_key_file={}", key.display()),
        ]);
        ca = Some(dir.join("ca.pem"));
    }
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("server.log"))
        .map_err(|e| format!("creating the server log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| format!("server log: {e}"))?;
    let mut postgres = Command::new(bindir.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ])
        .args(settings.iter().flat_map(|setting| ["-c", setting]))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .current_dir(&dir);
    as_user(&mut postgres, user);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between
        // fork and exec here.
        unsafe {
            postgres.pre_exec(|| {
                // Fast shutdown when the thread that started it (which
                // lives as long as the process) goes.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // The parent-death signal follows the thread that forks: a thread that
    // waits for the server for the rest of the process.
    let (started, spawned) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || match postgres.spawn() {
            Ok(mut child) => {
                let _ = started.send(Ok(()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = started.send(Err(format!("starting postgres: {e}")));
            }
        })
        .map_err(|e| format!("starting the server thread: {e}"))?;
    spawned
        .recv()
        .map_err(|_| "the server thread ended".to_string())??;
    let server = PgServer {
        bindir,
        dir,
        port,
        ca,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = server
            .client("pg_isready")
            .args(["-d", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            return Ok(server);
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
            return Err(format!(
                "postgres did not accept connections within 30 s: {log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
