//! Probing's shared parts (`vigie probe`, the `probe` source, the demo):
//! the settings and their defaults, reading targets, the store source and
//! the block log.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde::Deserialize;
use vigie_model::UnixSecs;
use vigie_probe::{BeliefParams, BlockChange, Eligibility, ListReport, ProbeList, TargetPolicy};
use vigie_store::{BlockChangeRecord, Store};

/// The store's name for the bins of probing.
pub const PROBE_SOURCE: &str = "probe";

/// The first line of a saved probe list.
pub const PROBE_LIST_HEADER: &str = "# vigie probe list v1";

/// How blocks are chosen and probed (a `probe` source's keys, and `vigie
/// probe`'s flags); the defaults are Trinocular's and IODA's.
#[derive(Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSettings {
    /// A hitlist (one IPv4 address per line, optionally with its response
    /// rate 0-1) or a list saved by `vigie probe --save-list`.
    pub targets: PathBuf,
    /// Global cap on probes sent per second; never exceeded (at least 1).
    pub rate: u32,
    /// Probes that may leave back to back; default rate/100.
    pub burst: Option<u32>,
    /// Round length in seconds (IODA: 600); every block gets one probe per round.
    pub round_secs: f64,
    /// A probe unanswered after this many milliseconds counts as negative.
    pub timeout_ms: u32,
    /// Fewest responsive addresses for a block to be probed (Trinocular: 15).
    pub min_responsive: usize,
    /// Lowest availability A(E(b)) for a block to be probed (Trinocular: 0.1).
    pub min_availability: f32,
    /// Response rate assumed for hitlist addresses given without one.
    pub default_availability: f32,
    /// Allow private, shared, link-local, documentation, benchmarking and
    /// reserved ranges (labs).
    pub allow_private: bool,
    /// Prefixes allowed whatever their range, e.g. a lab's own.
    pub allow: Vec<String>,
    /// This vantage point's name.
    pub vantage: String,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            targets: PathBuf::new(),
            rate: 0,
            burst: None,
            round_secs: 600.0,
            timeout_ms: 3000,
            min_responsive: 15,
            min_availability: 0.1,
            default_availability: 0.5,
            allow_private: false,
            allow: Vec::new(),
            vantage: "local".to_string(),
        }
    }
}

impl ProbeSettings {
    /// Checks the numbers; the block eligibility and the belief parameters.
    pub fn check(&self) -> Result<(Eligibility, BeliefParams)> {
        if !(self.default_availability > 0.0 && self.default_availability <= 1.0) {
            bail!("the default availability must be within (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_availability) {
            bail!("the minimum availability must be within [0, 1]");
        }
        if self.rate == 0 {
            bail!("the rate must be at least 1 probe per second");
        }
        if !(self.round_secs > 0.0 && self.round_secs.is_finite()) {
            bail!("the round must be a positive number of seconds");
        }
        let params = BeliefParams {
            timeout_ms: self.timeout_ms,
            ..BeliefParams::default()
        };
        params
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid probing parameters: {e}"))?;
        let eligibility = Eligibility {
            min_responsive: self.min_responsive,
            min_availability: self.min_availability,
            default_address_availability: self.default_availability,
        };
        Ok((eligibility, params))
    }

    /// The ranges that may be probed.
    pub fn policy(&self) -> Result<TargetPolicy> {
        Ok(TargetPolicy {
            allow_private: self.allow_private,
            allowed: parse_v4_prefixes(&self.allow, "allow")?,
        })
    }
}

/// Parses IPv4 prefixes (an address alone is a /32), truncated to their
/// network; `what` names the setting in the error.
pub fn parse_v4_prefixes(texts: &[String], what: &str) -> Result<Vec<Ipv4Net>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<Ipv4Net>()
                .or_else(|_| t.parse::<std::net::Ipv4Addr>().map(Ipv4Net::from))
                .map(|n| n.trunc())
                .with_context(|| format!("{what} {t:?} is not an IPv4 prefix such as 192.0.2.0/24"))
        })
        .collect()
}

/// Reads a saved list (recognised by its first line) or a hitlist.
pub fn read_targets(
    path: &Path,
    eligibility: &Eligibility,
    policy: &TargetPolicy,
) -> Result<(ProbeList, ListReport)> {
    let label = path.display().to_string();
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .with_context(|| format!("cannot open the targets file {label}"))
    };
    let mut first = String::new();
    std::io::BufRead::read_line(&mut open()?, &mut first)
        .with_context(|| format!("cannot read {label}"))?;
    let result = if first.starts_with(PROBE_LIST_HEADER) {
        ProbeList::load(open()?, &label, policy)
    } else {
        ProbeList::from_hitlist(open()?, &label, eligibility, policy)
    };
    result.with_context(|| format!("cannot read {label}"))
}

/// Logs one round's block changes seen by `vantage` (the round ended at
/// `at`) in the store's block log, all or nothing, so a user can drill down
/// from "country X lost 40 blocks" to the blocks themselves.
pub fn record_block_changes(
    store: &mut Store,
    vantage: &str,
    at: UnixSecs,
    changes: &[BlockChange],
) -> Result<()> {
    let rows: Vec<BlockChangeRecord> = changes
        .iter()
        .map(|change| BlockChangeRecord {
            at,
            vantage: vantage.to_string(),
            network: change.network,
            from_state: change.from.name().to_string(),
            to_state: change.to.name().to_string(),
            belief_up: change.belief_up,
        })
        .collect();
    store
        .record_block_changes(&rows)
        .context("cannot log the round's block state changes")
}
