//! The HTTP API part of `vigie serve --listen ADDR` (see `vigie-publish`):
//! alone when no `--config` is given, or beside the live BGP feeds.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

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
    let allow_private = std::env::var("VIGIE_WEBHOOK_ALLOW_PRIVATE").as_deref() == Ok("1");
    if token.is_some() {
        spawn_alert_worker(data_dir.to_path_buf(), allow_private);
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

/// Every 15 s (VIGIE_ALERT_INTERVAL_SECS): enqueue the notices of stored incidents for the
/// subscriptions, deliver the due webhooks (see `vigie_publish::alerts`).
fn spawn_alert_worker(data_dir: std::path::PathBuf, allow_private: bool) {
    // E-mail for mailto: subscriptions: VIGIE_SMTP_HOST (and _PORT, default
    // 587; _FROM; _USER/_PASSWORD; _STARTTLS=0 only for a local relay).
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let smtp = env("VIGIE_SMTP_HOST").map(|host| vigie_publish::alerts::SmtpConfig {
        host,
        port: env("VIGIE_SMTP_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(587),
        starttls: env("VIGIE_SMTP_STARTTLS").as_deref() != Some("0"),
        from: env("VIGIE_SMTP_FROM").unwrap_or_else(|| "vigie@localhost".into()),
        credentials: env("VIGIE_SMTP_USER").zip(env("VIGIE_SMTP_PASSWORD")),
    });
    let config = vigie_publish::alerts::DeliveryConfig {
        allow_private,
        smtp,
        ..Default::default()
    };
    // VIGIE_ALERT_INTERVAL_SECS: seconds between passes (default 15).
    let interval_secs = env("VIGIE_ALERT_INTERVAL_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(15)
        .max(1);
    std::thread::spawn(move || loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        match vigie_publish::alerts::run_pass(&data_dir, "vigie", &config, now) {
            Ok((added, report))
                if added + report.delivered + report.retrying + report.failed > 0 =>
            {
                eprintln!(
                    "vigie serve: alerts: {added} new notice(s), {} delivered, {} to retry, {} failed",
                    report.delivered, report.retrying, report.failed
                )
            }
            Ok(_) => {}
            Err(e) => eprintln!("vigie serve: alerts: {e}"),
        }
        std::thread::sleep(Duration::from_secs(interval_secs));
    });
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
