//! Shared test setup: a real store filled from IODA's Iraq export (Aug 2023
//! exam shutdowns) with vigie's detection results, and a running server.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use vigie_detect::{detect_series, fuse, VigieConfig};
use vigie_import::{import_path, ImportFormat, ImportOptions};
use vigie_model::Entity;
use vigie_store::{Store, StoredEvent, StoredIncident};

/// The shared data directory, or `None` (with a message) when absent;
/// under CI=true absence is a failure.
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.join("signals/ioda_country_IQ_iraq.csv").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but the shared data is missing: {}/signals/ioda_country_IQ_iraq.csv",
            dir.display()
        );
    }
    eprintln!(
        "SKIP: shared data not found at {} (signals/ioda_country_IQ_iraq.csv)",
        dir.display()
    );
    None
}

/// Imports the Iraq CSV into a store in `dir`, names the entity, runs
/// vigie's detector and stores events and incidents as `vigie detect` does.
pub fn fill_iraq(dir: &Path, shared: &Path) -> Store {
    let mut store = Store::open(dir).unwrap();
    let iq: Entity = "IQ".parse().unwrap();
    let imported = import_path(
        &shared.join("signals/ioda_country_IQ_iraq.csv"),
        ImportFormat::IodaCsv,
        &ImportOptions {
            entity: Some(iq.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    for series in &imported.series {
        let points: Vec<_> = series.points().collect();
        store
            .write_points(&series.key, series.bin, &points)
            .unwrap();
    }
    store.set_entity_name(&iq, "Iraq").unwrap();
    let config = VigieConfig::default();
    let mut detections = Vec::new();
    for series in &imported.series {
        let detection = detect_series(series, &config);
        let events: Vec<StoredEvent> = detection
            .events
            .iter()
            .map(|e| StoredEvent {
                method: "vigie".into(),
                key: e.key.clone(),
                bin: series.bin,
                start: e.start,
                end: e.end,
                depth: Some(e.depth),
                score: Some(e.ioda_score),
                detail: serde_json::to_string(e).unwrap(),
            })
            .collect();
        store
            .replace_events("vigie", &series.key, series.bin, &events)
            .unwrap();
        detections.push(detection);
    }
    let incidents = fuse(&iq, &detections, &config);
    let stored: Vec<StoredIncident> = incidents
        .iter()
        .map(|i| StoredIncident {
            method: "vigie".into(),
            entity: iq.clone(),
            start: i.start,
            end: i.end,
            detail: serde_json::to_string(i).unwrap(),
        })
        .collect();
    store.replace_incidents("vigie", &iq, &stored).unwrap();
    store
}

/// A server on 127.0.0.1:<free port> over `dir`, on its own runtime thread.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn start(dir: &Path) -> Running {
    start_with_token(dir, None)
}

pub fn start_with_token(dir: &Path, token: Option<&str>) -> Running {
    start_with_options(dir, token, false)
}

pub fn start_with_options(dir: &Path, token: Option<&str>, allow_private: bool) -> Running {
    let state =
        vigie_publish::AppState::open_with_options(dir, token.map(str::to_string), allow_private)
            .unwrap();
    start_state(state)
}

/// A server over `state` (its store and limits).
pub fn start_state(state: vigie_publish::AppState) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = vigie_publish::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            vigie_publish::serve(listener, state, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    Running {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// GETs `url` and returns the status and JSON body.
pub fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::get(url).unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// GETs `url` and returns status, content type and text.
pub fn get_text(url: &str) -> (u16, String, String) {
    let response = reqwest::blocking::get(url).unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().unwrap())
}
