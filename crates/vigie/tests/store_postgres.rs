//! The same commands on the SQLite store and on a PostgreSQL store
//! (`--store postgres://…`, a real server started by the test): every
//! listing they print is the same, value for value. Needs the `postgres`
//! feature (`cargo test -p vigie --features postgres --test store_postgres`).

#![cfg(feature = "postgres")]

use std::path::Path;
use std::process::{Command, Output};

/// Runs vigie on the SQLite store in `data_dir`, or on `store` when given.
fn vigie(data_dir: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    let out = command.args(args).output().expect("run vigie");
    assert!(
        out.status.success(),
        "vigie {args:?} on {}: {}",
        store.unwrap_or("SQLite"),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the same commands on both stores and checks each printed the same.
fn same_on_both(sqlite: &Path, pg_dir: &Path, url: &str, runs: &[&[&str]]) -> Vec<String> {
    let mut outputs = Vec::new();
    for args in runs {
        let on_sqlite = vigie(sqlite, None, args);
        let on_pg = vigie(pg_dir, Some(url), args);
        let (a, b) = (
            String::from_utf8(on_sqlite.stdout).unwrap(),
            String::from_utf8(on_pg.stdout).unwrap(),
        );
        assert_eq!(a, b, "vigie {args:?} printed differently on PostgreSQL");
        outputs.push(a);
    }
    outputs
}

/// Iraq's IODA export imported and detected on SQLite and on a fresh
/// PostgreSQL database, both printing the same (`None`: no shared data or
/// no PostgreSQL, the skip already said).
struct IraqOnBoth {
    url: String,
    sqlite: tempfile::TempDir,
    /// The --data-dir given with --store: nothing may be written there.
    pg_dir: tempfile::TempDir,
    /// The database, dropped after everything above.
    _db: vigie_testdata::postgres::TestDatabase,
}

fn iraq_on_both() -> Option<IraqOnBoth> {
    let csv = vigie_testdata::shared_data("signals/ioda_country_IQ_iraq.csv")?;
    let db = vigie_testdata::postgres::test_database()?;
    let url = db.url();
    let sqlite = tempfile::tempdir().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let csv = csv.to_str().unwrap();
    same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["import", "ioda-csv", csv, "--entity", "IQ"], &["detect"]],
    );
    Some(IraqOnBoth {
        url,
        sqlite,
        pg_dir,
        _db: db,
    })
}

#[test]
fn import_detect_and_listings_are_the_same_on_postgres() {
    let Some(IraqOnBoth {
        url,
        sqlite,
        pg_dir,
        _db,
    }) = iraq_on_both()
    else {
        return;
    };
    let outputs = same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[
            &["incidents", "--entity", "IQ", "--format", "csv"],
            &["incidents", "--format", "json"],
            &["series", "IQ", "--format", "csv"],
            &["entities", "--format", "csv"],
            &["eval"],
        ],
    );
    // Real values, not two empty listings: the exam cuts are incidents,
    // and the series has its thousands of bins.
    assert!(outputs[0].lines().count() > 6, "{}", outputs[0]);
    assert!(outputs[2].lines().count() > 1000, "{}", outputs[2].len());
    assert!(
        std::fs::read_dir(pg_dir.path()).unwrap().next().is_none(),
        "--store wrote into --data-dir"
    );
    // A second process reads what the first wrote: the store is the server's.
    let store = vigie_store::Store::open_url(&url).unwrap();
    assert!(store.event_count("vigie").unwrap() > 0);
}

#[test]
fn mrt_ingest_writes_the_same_bins_and_names_on_postgres() {
    let Some(mrt) = vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz") else {
        return;
    };
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let url = db.url();
    let sqlite = tempfile::tempdir().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["ingest", "mrt", mrt.to_str().unwrap(), "--no-progress"]],
    );
    let outputs = same_on_both(
        sqlite.path(),
        pg_dir.path(),
        &url,
        &[&["entities", "--format", "csv"]],
    );
    assert!(outputs[0].lines().count() > 100, "{}", outputs[0]);
    // The check reads every row; its window ends now, a second apart.
    let check = |store: Option<&str>, dir: &Path| {
        let out = vigie(dir, store, &["store", "check"]);
        let text = String::from_utf8(out.stdout).unwrap();
        text.split(" .. ").next().unwrap_or_default().to_string()
    };
    let checked = check(None, sqlite.path());
    assert!(
        checked.starts_with("ok: 27203 stored rows checked"),
        "{checked}"
    );
    assert_eq!(checked, check(Some(&url), pg_dir.path()));
    // The series read the same, bin for bin.
    let a = vigie_store::Store::open(sqlite.path()).unwrap();
    let b = vigie_store::Store::open_url(&url).unwrap();
    let listed = a.list_series().unwrap();
    assert_eq!(listed, b.list_series().unwrap());
    // Every country and every 20th series (each read is a round trip).
    let sample = listed.iter().enumerate().filter(|(i, info)| {
        i % 20 == 0 || matches!(info.key.entity, vigie_model::Entity::Country(_))
    });
    for (_, info) in sample {
        let (Some(first), Some(last)) = (info.first_bin, info.last_bin) else {
            continue;
        };
        let range = vigie_model::TimeRange::new(first, last + i64::from(info.bin.secs())).unwrap();
        let bits = |s: vigie_model::Series| -> Vec<Option<u64>> {
            s.values.iter().map(|v| v.map(f64::to_bits)).collect()
        };
        assert_eq!(
            bits(a.read_series(&info.key, info.bin, range).unwrap()),
            bits(b.read_series(&info.key, info.bin, range).unwrap()),
            "{}",
            info.key.entity
        );
    }
    assert_eq!(
        a.as_countries(None, None).unwrap(),
        b.as_countries(None, None).unwrap()
    );
    assert_eq!(
        a.inputs_done("bgp-mrt").unwrap().len(),
        b.inputs_done("bgp-mrt").unwrap().len()
    );
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET path` on `port`, once the server answers (30 s at most).
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
            return body.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A `vigie serve` stopped when dropped.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `vigie [global] serve [options] --listen 127.0.0.1:port`.
fn serve(data_dir: &Path, global: &[&str], options: &[&str], port: u16) -> Serving {
    let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(global)
        .arg("serve")
        .args(options)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--for-secs",
            "120",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start vigie serve");
    Serving(child)
}

#[test]
fn two_api_servers_serve_one_postgres_store_as_sqlite_does() {
    let Some(IraqOnBoth {
        url,
        sqlite,
        pg_dir,
        _db,
    }) = iraq_on_both()
    else {
        return;
    };
    // One server given --store, one given [store] url in its configuration.
    let config = pg_dir.path().join("serve.toml");
    std::fs::write(&config, format!("[store]\nurl = \"{url}\"\n")).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let _servers = [
        serve(sqlite.path(), &[], &[], ports[0]),
        serve(pg_dir.path(), &["--store", &url], &[], ports[1]),
        serve(
            pg_dir.path(),
            &[],
            &["--config", config.to_str().unwrap()],
            ports[2],
        ),
    ];
    for path in [
        "/api/v1/signals?entity=IQ&from=2023-08-01T00:00:00Z&until=2023-09-01T00:00:00Z",
        "/api/v1/incidents?entity=IQ",
        "/api/v1/entities",
        // The cached listing and the names (Store::entity_names) on both.
        "/api/v1/coverage",
        "/api/v1/summary",
        "/v2/entities/query?entityType=country",
        "/v2/outages/summary?from=1690848000&until=1693526400",
        "/v2/signals/raw/country/IQ?from=1690848000&until=1693526400",
    ] {
        // IODA's envelope says when and how fast it answered: the rest counts.
        let answer = |port| {
            let mut json: serde_json::Value = serde_json::from_str(&get(port, path)).unwrap();
            if let Some(envelope) = json.as_object_mut() {
                envelope.remove("metadata");
                envelope.remove("perf");
            }
            json
        };
        let on_sqlite = answer(ports[0]);
        assert!(on_sqlite.to_string().len() > 100, "{path}: {on_sqlite}");
        assert!(answer(ports[1]) == on_sqlite, "{path} differs with --store");
        assert!(
            answer(ports[2]) == on_sqlite,
            "{path} differs with [store] url"
        );
    }
}

#[path = "support/bmp.rs"]
mod bmp;

#[test]
fn live_bgp_writes_its_bins_to_postgres() {
    // The live BGP driver hands its bins over from an async task: the
    // blocking PostgreSQL client must not be entered from there (it once
    // panicked at the first provisional bin).
    let Some(updates) = vigie_testdata::shared_data("mrt/bgpdump/updates.20100722.2015.gz") else {
        return;
    };
    let Some(db) = vigie_testdata::postgres::test_database() else {
        return;
    };
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let bmp_port = free_port();
    let config = dir.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "bin_secs = 300\n[bgp]\nprovisional_secs = 1\n\
             [[source]]\nkind = \"bmp\"\nlisten = \"127.0.0.1:{bmp_port}\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--store", &url, "serve", "--config"])
        .arg(&config)
        .args(["--for-secs", "300"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vigie serve");
    let mut serving = Serving(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut station = loop {
        match std::net::TcpStream::connect(("127.0.0.1", bmp_port)) {
            Ok(stream) => break stream,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "vigie serve does not listen for BMP: {e}"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    };
    for message in bmp::bmp_messages(&updates) {
        std::io::Write::write_all(&mut station, &message).unwrap();
    }
    // The provisional bins reach PostgreSQL: countries' visible /24s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let countries = loop {
        let store = vigie_store::Store::open_url(&url).unwrap();
        let countries = store
            .entities()
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.entity, vigie_model::Entity::Country(_)))
            .filter(|e| {
                e.signals.iter().any(|s| {
                    s.signal == vigie_model::SignalKind::BgpVisibleSlash24s
                        && s.latest_value.is_some_and(|v| v > 0.0)
                })
            })
            .count();
        if countries > 10 {
            break countries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {countries} countries with visible /24s in PostgreSQL"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(countries > 10);
    let child = &mut serving.0;
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_store_url_asks_for_tls_as_libpq_does() {
    let Some(db) = vigie_testdata::postgres::tls_test_database() else {
        return;
    };
    let server = db.server();
    let ca = server.ca_file().unwrap().display().to_string();
    let at = |host: &str, params: &str| db.url_at(host, params);
    let dir = tempfile::tempdir().unwrap();
    // The server's certificate checked against the test CA, by its name.
    let verified = at(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    vigie(
        dir.path(),
        Some(&verified),
        &["entities", "--format", "csv"],
    );
    // In clear, the TLS-only server refuses, and says so.
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--store", &at("127.0.0.1", "sslmode=disable")])
        .args(["entities", "--format", "csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no pg_hba.conf entry"), "{stderr}");
}
