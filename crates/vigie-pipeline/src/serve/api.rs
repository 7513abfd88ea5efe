//! The HTTP API of the service (see `vigie-publish`), and the alert worker
//! beside it when writes are enabled.

use std::path::Path;

use anyhow::{Context, Result};

use super::ApiSettings;
use crate::{spawn_alert_worker, AlertSettings};

/// Opens the API's state over the store in `data_dir` and binds the
/// listening address, then serves on `runtime` until it stops; with a
/// write token, starts the alert worker too.
pub fn spawn_api(
    runtime: &tokio::runtime::Runtime,
    data_dir: &Path,
    api: &ApiSettings,
    alerts: &AlertSettings,
) -> Result<()> {
    let token = std::env::var(&api.token_env).ok().filter(|t| !t.is_empty());
    if token.is_none() {
        eprintln!(
            "vigie serve: {} is not set: the API is read-only",
            api.token_env
        );
    } else {
        spawn_alert_worker(data_dir.to_path_buf(), alerts)?;
    }
    let state = vigie_publish::AppState::open_with_options(data_dir, token, alerts.allow_private)
        .with_context(|| {
        format!(
            "cannot open the vigie store in {} for the API",
            data_dir.display()
        )
    })?;
    let listen = api.listen;
    let listener = runtime
        .block_on(vigie_publish::bind(listen))
        .with_context(|| format!("cannot listen for HTTP on {listen}"))?;
    let local = listener.local_addr().unwrap_or(listen);
    eprintln!("vigie serve: HTTP API on http://{local}/ (OpenAPI at /api/v1/openapi.json, IODA v2 at /v2/, metrics at /metrics)");
    runtime.spawn(async move {
        if let Err(e) = vigie_publish::serve(listener, state, std::future::pending()).await {
            eprintln!("vigie serve: the HTTP API stopped: {e}");
        }
    });
    Ok(())
}
