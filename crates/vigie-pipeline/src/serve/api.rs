//! The HTTP API of the service (see `vigie-publish`), and the alert worker
//! beside it when writes are enabled.

use anyhow::{Context, Result};
use vigie_store::Store;

use super::ApiSettings;
use crate::{spawn_alert_worker, AlertSettings};

/// Builds the API's state over `store` (the pool of connections grows from
/// this handle) and binds the listening address, then serves on `runtime`
/// until it stops; with a write token, starts the alert worker too, on
/// another connection to the same store.
pub fn spawn_api(
    runtime: &tokio::runtime::Runtime,
    store: Store,
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
        let worker_store = store
            .reconnect()
            .context("cannot open a store connection for the alert worker")?;
        spawn_alert_worker(worker_store, alerts)?;
    }
    if let Some(bad) = api
        .embed_origins
        .iter()
        .find(|o| !vigie_publish::state::valid_embed_origin(o.trim()))
    {
        anyhow::bail!(
            "[api] embed_origins: '{bad}' is not an origin such as https://news.example or *"
        );
    }
    let state = vigie_publish::AppState::from_store(store, token, alerts.allow_private)
        .context("cannot open the store connections of the API")?
        .with_embed_origins(&api.embed_origins)
        .with_limits(vigie_publish::ServerLimits {
            trusted_proxies: api.trusted_proxies.clone(),
            ..Default::default()
        });
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
