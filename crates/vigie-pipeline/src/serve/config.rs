//! The service's configuration file (`vigie serve --config`): shared
//! settings, `[store]`, `[api]`, `[alerts]`, `[bgp]`, `[detect]` and a list of
//! `[[source]]` tables, each with a `kind` (see `docs/vigie.example.toml`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use vigie_bgp::VisibilityConfig;
use vigie_detect::VigieConfig;
use vigie_model::BinSize;

use crate::source::{Registry, SourceContext, Unit};
use crate::AlertSettings;

/// The whole configuration file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Bin width of every source, in seconds (divides a day, at least 60).
    #[serde(default, rename = "bin_secs")]
    pub bin: BinSize,
    /// Extra geo tables loaded over the embedded RIR data (as `--geo`).
    #[serde(default)]
    pub geo_files: Vec<PathBuf>,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSettings,
    /// `[api]`: the HTTP API, when given.
    pub api: Option<ApiSettings>,
    /// `[alerts]`: the alert worker (run beside the API when writes are enabled).
    #[serde(default)]
    pub alerts: AlertSettings,
    /// `[bgp]`: the routing model the BGP feeds share.
    #[serde(default)]
    pub bgp: BgpSettings,
    /// `[detect]`: live detection (on by default).
    #[serde(default)]
    pub detect: DetectSettings,
    /// `[[source]]`: the inputs, each with its `kind`.
    #[serde(default)]
    pub source: Vec<toml::Table>,
}

/// `[store]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// The store's folder; the `--data-dir` flag when absent.
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL store instead of the folder, `postgres://…` (a vigie
    /// built with the `postgres` feature), which several `vigie serve`
    /// may share; the `--store` flag wins over it.
    pub url: Option<String>,
}

/// `[api]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// The address to serve on, such as `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The environment variable holding the token that enables writes and
    /// alerts (unset: the API is read-only).
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Reverse proxies in front of the API whose `X-Forwarded-For` names
    /// the client for the per-client throttle (none by default: the header
    /// is ignored, see `vigie_publish::ServerLimits::trusted_proxies`).
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The origins whose pages may frame the embeddable chart (`/embed/…`),
    /// such as `["https://news.example"]`; `["*"]` (the default) lets any
    /// page embed it. The rest of the dashboard can never be framed.
    #[serde(default = "default_embed_origins")]
    pub embed_origins: Vec<String>,
}

fn default_embed_origins() -> Vec<String> {
    vec!["*".into()]
}

fn default_token_env() -> String {
    "VIGIE_API_TOKEN".into()
}

impl ApiSettings {
    /// The API on `listen`, its token in `VIGIE_API_TOKEN`.
    pub fn on(listen: SocketAddr) -> ApiSettings {
        ApiSettings {
            listen,
            token_env: default_token_env(),
            trusted_proxies: Vec::new(),
            embed_origins: default_embed_origins(),
        }
    }
}

/// `[bgp]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BgpSettings {
    /// How often the open bin is published as provisional, in seconds.
    #[serde(default = "default_provisional_secs")]
    pub provisional_secs: u64,
    /// Full-feed threshold in IPv4 prefixes (IODA: 400,000).
    pub full_feed_v4: Option<u64>,
    /// Full-feed threshold in IPv6 prefixes (IODA: 10,000).
    pub full_feed_v6: Option<u64>,
    /// MRT RIB dumps (files or folders) loaded before going live: RIS Live
    /// does not replay state, so its collectors' latest dumps go here.
    #[serde(default)]
    pub rib_files: Vec<PathBuf>,
    /// Without `rib_files`: fetch the latest RIB dump (and the update files
    /// since) of the RIS collectors from the RIS archive at start.
    #[serde(default)]
    pub fetch_ribs: bool,
    /// The collectors whose dumps `fetch_ribs` loads; by default the
    /// `host` of each `ris-live` source.
    pub rib_collectors: Option<Vec<String>>,
    /// The RIS archive (a mirror, a local copy).
    #[serde(default = "default_ris_url")]
    pub ris_url: String,
    /// Where fetched dumps are kept; default `archive-cache` in the data folder.
    pub rib_cache: Option<PathBuf>,
    /// With `fetch_ribs`: when RIS Live comes back after an outage longer
    /// than this (seconds), the dumps are fetched again and the table
    /// rebuilt from them (0: never).
    #[serde(default = "default_rib_reload_after")]
    pub rib_reload_after_secs: u64,
}

fn default_rib_reload_after() -> u64 {
    600
}

fn default_ris_url() -> String {
    crate::RIS_URL.to_string()
}

fn default_provisional_secs() -> u64 {
    10
}

impl Default for BgpSettings {
    fn default() -> Self {
        BgpSettings {
            provisional_secs: default_provisional_secs(),
            full_feed_v4: None,
            full_feed_v6: None,
            rib_files: Vec::new(),
            fetch_ribs: false,
            rib_collectors: None,
            ris_url: default_ris_url(),
            rib_cache: None,
            rib_reload_after_secs: default_rib_reload_after(),
        }
    }
}

impl BgpSettings {
    /// The routing model's settings for bins of `bin`.
    pub fn visibility(&self, bin: BinSize) -> VisibilityConfig {
        let defaults = VisibilityConfig::default();
        VisibilityConfig {
            bin,
            full_feed_v4: self.full_feed_v4.unwrap_or(defaults.full_feed_v4),
            full_feed_v6: self.full_feed_v6.unwrap_or(defaults.full_feed_v6),
            // The driver's clock ticks every second: silences are feed health's business.
            max_silence_secs: 0,
            ..defaults
        }
    }
}

/// `[detect]`: the service's live detection. The detector's parameters
/// are `vigie detect`'s unless overridden here (labs and tests with short
/// bins; an override makes the live incidents differ from batch ones).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectSettings {
    /// Run detection as the bins close (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often the store is read for bins other processes wrote, in seconds.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// How often the detector's state is checkpointed, in seconds (a
    /// restart reads the bins stored since from the store, so a longer
    /// interval costs time at restart, never an alert twice).
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_secs: u64,
    /// Overrides `VigieConfig::warmup_secs`.
    pub warmup_secs: Option<u32>,
    /// Overrides `VigieConfig::confirm_windows_secs`.
    pub confirm_windows_secs: Option<Vec<u32>>,
    /// Overrides `VigieConfig::exit_window_secs`.
    pub exit_window_secs: Option<u32>,
}

fn default_true() -> bool {
    true
}

fn default_poll_secs() -> u64 {
    2
}

fn default_checkpoint_secs() -> u64 {
    300
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            enabled: true,
            poll_secs: default_poll_secs(),
            checkpoint_secs: default_checkpoint_secs(),
            warmup_secs: None,
            confirm_windows_secs: None,
            exit_window_secs: None,
        }
    }
}

impl DetectSettings {
    /// The detector's configuration: the default one with the overrides.
    pub fn vigie_config(&self) -> VigieConfig {
        let mut config = VigieConfig::default();
        if let Some(secs) = self.warmup_secs {
            config.warmup_secs = secs;
        }
        if let Some(windows) = &self.confirm_windows_secs {
            config.confirm_windows_secs = windows.clone();
        }
        if let Some(secs) = self.exit_window_secs {
            config.exit_window_secs = secs;
        }
        config
    }
}

impl ServiceConfig {
    /// Serves the HTTP API on `listen` (`vigie serve --listen`): instead of
    /// `[api] listen`, its other keys kept, or alone.
    pub fn listen_on(&mut self, listen: SocketAddr) {
        self.api = Some(match self.api.take() {
            Some(api) => ApiSettings { listen, ..api },
            None => ApiSettings::on(listen),
        });
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<ServiceConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        ServiceConfig::parse(&text).with_context(|| path.display().to_string())
    }

    /// Parses a configuration (its sources are checked by [`Self::units`]).
    pub fn parse(text: &str) -> Result<ServiceConfig> {
        toml::from_str(text).map_err(|e| anyhow!("{e}"))
    }

    /// The configured sources, built by `registry` (a source's error names
    /// its place in the file).
    pub fn units(&self, registry: &Registry, context: &SourceContext) -> Result<Vec<Unit>> {
        self.source
            .iter()
            .enumerate()
            .map(|(index, table)| {
                registry
                    .build(table.clone(), context)
                    .with_context(|| format!("[[source]] number {}", index + 1))
            })
            .collect()
    }
}
