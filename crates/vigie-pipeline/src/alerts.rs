//! The alert worker: every few seconds, the notices of stored incidents
//! are enqueued for the subscriptions and the due webhooks and e-mails
//! delivered (one `vigie_publish::alerts::run_pass`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde::Deserialize;
use vigie_publish::alerts::{run_pass, DeliveryConfig, SmtpConfig};
use vigie_store::Store;

use crate::VIGIE;

/// The `[alerts]` settings of the service.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Seconds between passes.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Allow webhooks to loopback and private addresses (tests, closed
    /// networks); refused by default.
    #[serde(default)]
    pub allow_private: bool,
    /// The SMTP relay for `mailto:` subscriptions; without it they fail and retry.
    pub smtp: Option<SmtpSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            interval_secs: default_interval_secs(),
            allow_private: false,
            smtp: None,
        }
    }
}

fn default_interval_secs() -> u64 {
    15
}

/// `[alerts.smtp]`: an SMTP relay.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// STARTTLS required (false only for a local relay).
    #[serde(default = "default_starttls")]
    pub starttls: bool,
    /// Sender address.
    #[serde(default = "default_from")]
    pub from: String,
    /// Login, if the relay wants one (with `password_env`).
    pub user: Option<String>,
    /// The environment variable holding the password, such as
    /// `VIGIE_SMTP_PASSWORD` (secrets stay out of the file).
    pub password_env: Option<String>,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_starttls() -> bool {
    true
}

fn default_from() -> String {
    "vigie@localhost".to_string()
}

impl AlertSettings {
    /// How deliveries are made, with the SMTP password read from its
    /// environment variable.
    pub fn delivery(&self) -> Result<DeliveryConfig> {
        let smtp = match &self.smtp {
            None => None,
            Some(smtp) => {
                let password = match &smtp.password_env {
                    None => None,
                    Some(name) => match std::env::var(name) {
                        Ok(value) if !value.is_empty() => Some(value),
                        _ => bail!("alerts.smtp.password_env: {name} is not set"),
                    },
                };
                Some(SmtpConfig {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    starttls: smtp.starttls,
                    from: smtp.from.clone(),
                    credentials: smtp.user.clone().zip(password),
                })
            }
        };
        Ok(DeliveryConfig {
            allow_private: self.allow_private,
            smtp,
            ..DeliveryConfig::default()
        })
    }
}

/// Starts the alert worker on its own thread over `store` (vigie's
/// incidents); it runs as long as the process.
pub fn spawn_alert_worker(mut store: Store, settings: &AlertSettings) -> Result<()> {
    let config = settings.delivery()?;
    let interval = Duration::from_secs(settings.interval_secs.max(1));
    std::thread::Builder::new()
        .name("vigie-alerts".into())
        .spawn(move || loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let pass = run_pass(&mut store, VIGIE, &config, now);
            if let Ok((added, report)) = &pass {
                metrics::counter!("vigie_alerts_enqueued_total").increment(*added as u64);
                metrics::counter!("vigie_alerts_sent_total").increment(report.delivered as u64);
                metrics::counter!("vigie_alerts_retries_total").increment(report.retrying as u64);
                metrics::counter!("vigie_alerts_failed_total").increment(report.failed as u64);
                metrics::counter!("vigie_alerts_deferred_total").increment(report.deferred as u64);
            } else {
                metrics::counter!("vigie_alerts_pass_errors_total").increment(1);
            }
            match pass {
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
            std::thread::sleep(interval);
        })?;
    Ok(())
}
