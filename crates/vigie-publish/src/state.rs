//! What every handler shares: a pool of store connections, the metrics and
//! the write settings.

use std::path::Path;
use std::sync::{Arc, Mutex};

use vigie_store::{Store, StoreError};

use crate::error::ApiError;
use crate::limits::{Cancel, Guards, HeavyPermit, ServerLimits};
use crate::listing::Listing;
use crate::metrics::Metrics;

/// Idle store connections kept for reuse.
const MAX_IDLE_STORES: usize = 8;

/// Store connections reused across requests: a `Store` is `Send` but not
/// `Sync`, so each blocking task takes one, uses it and gives it back. New
/// ones are reconnections of the handle the state was given.
struct StorePool {
    origin: Mutex<Store>,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    fn take(&self) -> Result<Store, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(store) => Ok(store),
            None => match self.origin.lock() {
                Ok(origin) => origin.reconnect(),
                Err(poisoned) => poisoned.into_inner().reconnect(),
            },
        }
    }

    fn give_back(&self, store: Store) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_STORES {
                idle.push(store);
            }
        }
    }
}

/// What every handler shares: the store pool, the metrics, the write token
/// and the server's limits.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    guards: Arc<Guards>,
    embed_origins: Arc<Vec<String>>,
}

struct Inner {
    pool: StorePool,
    metrics: Metrics,
    write_token: Option<String>,
    allow_private_targets: bool,
    listing: Arc<Listing>,
}

impl AppState {
    /// Opens the store in `data_dir` (creating it if needed, upgrading its
    /// schema) and keeps the connection for the first request.
    pub fn open(data_dir: &Path) -> Result<AppState, StoreError> {
        AppState::open_with_token(data_dir, None)
    }

    /// Like [`AppState::open`], with the token that authorises writes
    /// (`Authorization: Bearer <token>`); `None` disables writes.
    pub fn open_with_token(
        data_dir: &Path,
        write_token: Option<String>,
    ) -> Result<AppState, StoreError> {
        AppState::open_with_options(data_dir, write_token, false)
    }

    /// Like [`AppState::open_with_token`]; `allow_private_targets` lets
    /// subscriptions name loopback and private webhook targets (closed
    /// networks, tests).
    pub fn open_with_options(
        data_dir: &Path,
        write_token: Option<String>,
        allow_private_targets: bool,
    ) -> Result<AppState, StoreError> {
        let store = Store::open(data_dir)?;
        AppState::from_store(store, write_token, allow_private_targets)
    }

    /// The state over an already-open `store` (the pool opens further
    /// connections from it, never from a path), with the write token and
    /// whether private webhook targets are allowed, as
    /// [`AppState::open_with_options`].
    pub fn from_store(
        store: Store,
        write_token: Option<String>,
        allow_private_targets: bool,
    ) -> Result<AppState, StoreError> {
        let first = store.reconnect()?;
        crate::metrics::install_recorder();
        Ok(AppState {
            inner: Arc::new(Inner {
                pool: StorePool {
                    origin: Mutex::new(store),
                    idle: Mutex::new(vec![first]),
                },
                metrics: Metrics::default(),
                write_token: write_token.filter(|t| !t.is_empty()),
                allow_private_targets,
                listing: Arc::default(),
            }),
            guards: Arc::new(Guards::new(ServerLimits::default())),
            embed_origins: Arc::new(vec!["*".to_string()]),
        })
    }

    /// The same state with the origins that may frame the embed page
    /// (`/embed/…`, CSP `frame-ancestors`); `*` (the default) lets any page
    /// embed it, an empty list none. Origins that
    /// [`valid_embed_origin`] refuses are dropped.
    pub fn with_embed_origins(mut self, origins: &[String]) -> AppState {
        let kept: Vec<String> = origins
            .iter()
            .map(|o| o.trim().to_string())
            .filter(|o| valid_embed_origin(o))
            .collect();
        self.embed_origins = Arc::new(if kept.is_empty() {
            vec!["'none'".to_string()]
        } else {
            kept
        });
        self
    }

    /// The `frame-ancestors` sources of the embed page.
    pub fn embed_origins(&self) -> &[String] {
        &self.embed_origins
    }

    /// The same state with the server's limits set to `limits` (the
    /// defaults otherwise); give it to [`crate::serve`].
    pub fn with_limits(mut self, limits: ServerLimits) -> AppState {
        self.guards = Arc::new(Guards::new(limits));
        self
    }

    /// The server's limits.
    pub fn limits(&self) -> &ServerLimits {
        &self.guards.limits
    }

    pub(crate) fn guards(&self) -> &Guards {
        &self.guards
    }

    /// Takes one of the [`ServerLimits::max_heavy`] heavy-read slots
    /// until the permit is dropped, or a 503 when none is free (what a
    /// heavy series read does first).
    pub fn try_heavy_permit(&self) -> Result<HeavyPermit, ApiError> {
        self.guards.try_heavy()
    }

    /// Heavy series reads in progress.
    pub fn heavy_in_flight(&self) -> usize {
        self.guards.heavy_in_flight()
    }

    /// The token that authorises writes, if writes are enabled.
    pub fn write_token(&self) -> Option<&str> {
        self.inner.write_token.as_deref()
    }

    /// Runs blocking `work` (such as a write) on tokio's blocking pool.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
    }

    /// Whether webhook targets may be loopback or private addresses.
    pub fn allow_private_targets(&self) -> bool {
        self.inner.allow_private_targets
    }

    /// The store's series listing, cached between writes.
    pub fn listing(&self) -> Arc<Listing> {
        Arc::clone(&self.inner.listing)
    }

    /// The request metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Runs `work` with a store connection on tokio's blocking pool.
    pub async fn with_store<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    {
        self.with_store_mut(move |store| work(store)).await
    }

    /// Like [`AppState::with_store`], for `work` that writes (annotations,
    /// subscriptions).
    pub async fn with_store_mut<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        // Dropped with this future when the client goes: the work sees the
        // flag (through ReadLimits or crate::limits::client_gone) and stops.
        let (cancel, _set_when_gone) = Cancel::new();
        tokio::task::spawn_blocking(move || {
            let mut store = state.inner.pool.take()?;
            let result = cancel.scope(|| work(&mut store));
            state.inner.pool.give_back(store);
            if cancel.is_cancelled() {
                state.metrics().count_cancelled();
                return Err(ApiError::client_gone());
            }
            result
        })
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
    }
}

/// Whether `origin` may stand in the embed page's `frame-ancestors`: `*`,
/// `'self'`, or a scheme and host (`https://news.example`, `https://*.example:8443`)
/// with no path, space, quote or semicolon.
pub fn valid_embed_origin(origin: &str) -> bool {
    if origin == "*" || origin == "'self'" {
        return true;
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:*[]".contains(c))
}
