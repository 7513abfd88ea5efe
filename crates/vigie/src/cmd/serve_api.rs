//! The HTTP API part of `vigie serve --listen ADDR` (see `vigie-publish`):
//! alone when no `--config` is given, or beside the live BGP feeds.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use vigie_pipeline::{spawn_alert_worker, AlertSettings, SmtpSettings};

use super::EXIT_FAILURE;

/// Opens the store's API state and binds `listen`, then serves on `runtime`
/// until the runtime stops.
pub fn spawn_api(
    runtime: &tokio::runtime::Runtime,
    data_dir: &Path,
    listen: SocketAddr,
) -> Result<()> {
    let token = std::env::var("VIGIE_API_TOKEN").ok();
    if token.is_none() {
        eprintln!("vigie serve: VIGIE_API_TOKEN is not set: the API is read-only");
    }
    let alerts = alert_settings_from_env();
    let allow_private = alerts.allow_private;
    if token.is_some() {
        spawn_alert_worker(data_dir.to_path_buf(), &alerts)?;
    }
    let state = vigie_publish::AppState::open_with_options(data_dir, token, allow_private)
        .with_context(|| {
            format!(
                "cannot open the vigie store in {} for the API",
                data_dir.display()
            )
        })?;
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

/// The alert settings from the environment: VIGIE_WEBHOOK_ALLOW_PRIVATE=1,
/// VIGIE_ALERT_INTERVAL_SECS (default 15), and for `mailto:` subscriptions
/// VIGIE_SMTP_HOST (and _PORT, default 587; _FROM; _USER with the password
/// in VIGIE_SMTP_PASSWORD; _STARTTLS=0 only for a local relay).
fn alert_settings_from_env() -> AlertSettings {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let defaults = AlertSettings::default();
    AlertSettings {
        interval_secs: env("VIGIE_ALERT_INTERVAL_SECS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(defaults.interval_secs),
        allow_private: env("VIGIE_WEBHOOK_ALLOW_PRIVATE").as_deref() == Some("1"),
        smtp: env("VIGIE_SMTP_HOST").map(|host| SmtpSettings {
            host,
            port: env("VIGIE_SMTP_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(587),
            starttls: env("VIGIE_SMTP_STARTTLS").as_deref() != Some("0"),
            from: env("VIGIE_SMTP_FROM").unwrap_or_else(|| "vigie@localhost".into()),
            user: env("VIGIE_SMTP_PASSWORD").and(env("VIGIE_SMTP_USER")),
            password_env: env("VIGIE_SMTP_USER")
                .and(env("VIGIE_SMTP_PASSWORD"))
                .map(|_| "VIGIE_SMTP_PASSWORD".into()),
        }),
    }
}

/// Runs only the HTTP API until Ctrl-C or `for_secs`.
pub fn run_api_only(
    data_dir: &Path,
    listen: Option<SocketAddr>,
    for_secs: Option<u64>,
) -> Result<ExitCode> {
    let Some(listen) = listen else {
        anyhow::bail!("give --config (live BGP feeds), --listen ADDR (HTTP API), or both");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    spawn_api(&runtime, data_dir, listen)?;
    let outcome: Result<()> = runtime.block_on(async move {
        let stop_after = async {
            match for_secs {
                Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                signal.context("cannot wait for Ctrl-C")?;
                eprintln!("vigie serve: interrupted, stopping");
            }
            _ = stop_after => {}
        }
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("vigie serve: {e:#}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}
