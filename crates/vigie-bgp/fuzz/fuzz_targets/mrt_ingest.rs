//! Fuzzes the whole MRT path: compression sniffing, bgpkit-parser decoding,
//! vigie's record decoder, the routing table and the visibility accounting.
//! Any input must end in a report, never a panic.
#![no_main]

use std::io::Write;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use vigie_bgp::mrt::{discover, ingest_mrt, IngestOptions};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::Discard;

fn geo() -> Arc<GeoDb> {
    static GEO: OnceLock<Arc<GeoDb>> = OnceLock::new();
    Arc::clone(GEO.get_or_init(|| Arc::new(GeoDb::empty())))
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile_in_shm() else { return };
    if file.1.write_all(data).is_err() {
        return;
    }
    let Ok(collectors) = discover(&[file.0.clone()]) else { return };
    let mut accounting = VisibilityAccounting::new(VisibilityConfig::default(), geo());
    let _ = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions::default(),
        &mut Discard,
        &mut (),
    );
    let _ = std::fs::remove_file(&file.0);
});

fn tempfile_in_shm() -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
    let path = std::path::PathBuf::from(format!("{dir}/vigie-fuzz-{}.mrt", std::process::id()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}
