//! Writes every format of a scenario into a folder, and the ground truth.

use std::path::{Path, PathBuf};

use serde_json::json;
use vigie_model::format_utc;

use crate::model::Scenario;
use crate::GenerateError;

/// What [`generate`] wrote, for the ingesters.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The MRT archive folder of the collector (`mrt/rrc00`).
    pub mrt_dir: PathBuf,
    /// BGP updates written (churn, routing changes, bursts).
    pub bgp_updates: u64,
    /// The IPFIX capture.
    pub flows_pcap: PathBuf,
    /// Flow records in it.
    pub flow_records: u64,
    /// The content network's own prefix (for `--prefix`/`--own-prefix`).
    pub own_prefix: String,
    /// The nginx access log (gzip).
    pub access_log: PathBuf,
    /// Lines in it.
    pub access_log_lines: u64,
    /// The probe hitlist.
    pub hitlist: PathBuf,
    /// Blocks in it.
    pub probe_blocks: usize,
    /// Geo tables for `--geo`: the networks' prefixes (ip-location-db ASN
    /// CSV) and, when the world has regions, their regions (dbip-city CSV).
    pub geo_files: Vec<PathBuf>,
    /// Ground-truth labels, in the JSON `vigie eval --labels` reads.
    pub labels: PathBuf,
}

/// Progress of a generation, one step at a time.
pub trait Progress {
    /// A step starts (`what` names it).
    fn step(&mut self, what: &str);
}

impl<F: FnMut(&str)> Progress for F {
    fn step(&mut self, what: &str) {
        self(what)
    }
}

fn last_addr(prefix: &ipnet::Ipv4Net) -> std::net::Ipv4Addr {
    prefix.broadcast()
}

/// Writes the geo tables; returns their paths.
fn write_geo(scenario: &Scenario, dir: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let world = &scenario.world;
    let mut asn = String::new();
    let mut city = String::new();
    let mut rows: Vec<(u32, String, String)> = Vec::new();
    for network in &world.networks {
        for prefix in &network.prefixes {
            let name = network.name.replace([',', '"', '\n'], " ");
            rows.push((
                u32::from(prefix.network()),
                format!(
                    "{},{},{},{}\n",
                    prefix.network(),
                    last_addr(prefix),
                    network.asn,
                    name
                ),
                network
                    .region
                    .as_ref()
                    .map(|r| {
                        format!(
                            "{},{},{},{},,{},,,,\n",
                            prefix.network(),
                            last_addr(prefix),
                            world.country.as_str(),
                            r,
                            r
                        )
                    })
                    .unwrap_or_default(),
            ));
        }
    }
    rows.sort_by_key(|r| r.0);
    for (_, a, c) in &rows {
        asn.push_str(a);
        city.push_str(c);
    }
    let mut files = Vec::new();
    let asn_path = dir.join("asn-ipv4.csv");
    std::fs::write(&asn_path, asn).map_err(|e| GenerateError::io(&asn_path, e))?;
    files.push(asn_path);
    if !city.is_empty() {
        let city_path = dir.join("dbip-city-ipv4.csv");
        std::fs::write(&city_path, city).map_err(|e| GenerateError::io(&city_path, e))?;
        files.push(city_path);
    }
    Ok(files)
}

/// The ground truth as `vigie eval --labels` reads it (`{"labels": [...]}`,
/// one label per window), with the mechanism, scope and restorations each
/// label expects.
pub fn labels_json(scenario: &Scenario) -> serde_json::Value {
    let mut labels = Vec::new();
    for (i, truth) in scenario.truth.iter().enumerate() {
        for (k, window) in truth.windows.iter().enumerate() {
            let restorations: Vec<_> = truth
                .restorations
                .iter()
                .filter(|r| r.start >= window.start && r.end <= window.end)
                .map(|r| json!({"start": format_utc(r.start), "end": format_utc(r.end)}))
                .collect();
            labels.push(json!({
                "id": format!("{}-{}-{}", scenario.name, i, k),
                "entity": truth.entity.to_string(),
                "start": format_utc(window.start),
                "end": format_utc(window.end),
                "mechanism": truth.mechanism,
                "scope": truth.scope,
                "restorations": restorations,
                "note": truth.note,
            }));
        }
    }
    json!({
        "scenario": scenario.name,
        "title": scenario.title,
        "sources": scenario.sources,
        "labels": labels,
    })
}

/// Generates every format of `scenario` into `dir` (created if needed).
/// The same scenario and seed always give the same bytes.
pub fn generate(
    scenario: &Scenario,
    dir: &Path,
    progress: &mut dyn Progress,
) -> Result<Generated, GenerateError> {
    std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
    progress.step("BGP: MRT RIB dump and update files");
    let (mrt_dir, bgp_updates) = crate::mrt::write_mrt(scenario, &dir.join("mrt"))?;
    progress.step("traffic: IPFIX datagrams (pcap)");
    let flows_pcap = dir.join("flows.pcap");
    let flow_records = crate::traffic::write_flows(scenario, &flows_pcap)?;
    progress.step("traffic: web access log");
    let access_log = dir.join("access.log.gz");
    let access_log_lines = crate::traffic::write_access_log(scenario, &access_log)?;
    progress.step("probing: hitlist");
    let hitlist = dir.join("hitlist.txt");
    let probe_blocks = crate::probe::write_hitlist(scenario, &hitlist)?;
    let geo_files = write_geo(scenario, dir)?;
    let labels = dir.join("labels.json");
    let text = serde_json::to_string_pretty(&labels_json(scenario))
        .map_err(|e| GenerateError::Encode(format!("labels: {e}")))?;
    std::fs::write(&labels, text).map_err(|e| GenerateError::io(&labels, e))?;
    Ok(Generated {
        mrt_dir,
        bgp_updates,
        flows_pcap,
        flow_records,
        own_prefix: crate::traffic::OWN_PREFIX.to_string(),
        access_log,
        access_log_lines,
        hitlist,
        probe_blocks,
        geo_files,
        labels,
    })
}
