//! `vigie serve`: maps `--config`, `--listen`, `--for-secs` and
//! `--publish` onto `vigie_pipeline::Service` (the sources, the HTTP API,
//! the alert worker, live detection, the bus).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vigie_pipeline::{Registry, Service, ServiceConfig};

use super::{open_store, EXIT_FAILURE};
use crate::cli::ServeArgs;

/// Runs `vigie serve`.
pub fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => ServiceConfig::load(path)?,
        None => ServiceConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen_on(listen);
    }
    if config.api.is_none() && config.source.is_empty() {
        bail!("give --config (a file with [[source]] tables or an [api] section), --listen ADDR (HTTP API), or both");
    }
    let data_dir = config
        .store
        .data_dir
        .clone()
        .unwrap_or_else(|| data_dir.to_path_buf());
    let store = match &config.store.url {
        // --store, when given, wins (open_store opens it).
        Some(url) if !super::store_url_given() => vigie_store::Store::open_url(url)
            .context("cannot open the store of [store] url in the configuration")?,
        _ => open_store(&data_dir)?,
    };
    #[allow(unused_mut)]
    let mut service = Service::new(config, Registry::builtin());
    #[cfg(feature = "nats")]
    if let Some(url) = &args.publish {
        // A collector on the bus: each source publishes under its own name.
        let bus = std::sync::Arc::new(vigie_bus::Bus::connect(
            url,
            &vigie_bus::StreamSettings::default(),
        )?);
        service.add_sink_per_source(Box::new(move |source| {
            std::sync::Arc::new(std::sync::Mutex::new(vigie_bus::Bus::shared_sink(
                &bus, source,
            ))) as vigie_pipeline::SharedSink
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    match service.run(store, args.for_secs.map(Duration::from_secs), stop) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("vigie serve: {e:#}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}
