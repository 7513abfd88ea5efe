//! The HTTP server: shared state (a pool of store connections, metrics),
//! the router joining the native API, the IODA-compatible API, the OpenAPI
//! document and `/metrics`, and the serve loop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use vigie_store::{Store, StoreError};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::{api, dashboard, ioda, openapi, writes};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Idle store connections kept for reuse.
const MAX_IDLE_STORES: usize = 8;

/// Route paths, shared by the router and the OpenAPI document (a test keeps
/// them equal).
pub mod paths {
    /// Entity search.
    pub const ENTITIES: &str = "/api/v1/entities";
    /// Series of one entity, JSON.
    pub const SIGNALS: &str = "/api/v1/signals";
    /// Series of one entity, CSV.
    pub const SIGNALS_CSV: &str = "/api/v1/signals.csv";
    /// Signal events.
    pub const EVENTS: &str = "/api/v1/events";
    /// Incidents.
    pub const INCIDENTS: &str = "/api/v1/incidents";
    /// One incident by id.
    pub const INCIDENT: &str = "/api/v1/incidents/{id}";
    /// Per-entity outage summary.
    pub const SUMMARY: &str = "/api/v1/summary";
    /// The OpenAPI document.
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    /// IODA v2 raw signals.
    pub const IODA_SIGNALS_RAW: &str = "/v2/signals/raw/{entityType}/{entityCode}";
    /// IODA v2 alerts.
    pub const IODA_ALERTS: &str = "/v2/outages/alerts";
    /// IODA v2 events.
    pub const IODA_EVENTS: &str = "/v2/outages/events";
    /// IODA v2 summary.
    pub const IODA_SUMMARY: &str = "/v2/outages/summary";
    /// IODA v2 entity query.
    pub const IODA_ENTITIES: &str = "/v2/entities/query";
    /// Prometheus metrics.
    pub const METRICS: &str = "/metrics";
    /// Annotations: GET lists, POST (with the token) adds.
    pub const ANNOTATIONS: &str = "/api/v1/annotations";
    /// Alert subscriptions (token needed for both GET and POST).
    pub const SUBSCRIPTIONS: &str = "/api/v1/subscriptions";
    /// What the store covers, per country (the dashboard's map reads it).
    pub const COVERAGE: &str = "/api/v1/coverage";
    /// The dashboard page.
    pub const DASHBOARD: &str = "/";
    /// The dashboard's files (scripts, styles, vendored libraries).
    pub const DASHBOARD_FILES: &str = "/dashboard/{*path}";

    /// Every GET route the server answers.
    pub const ALL_GET: [&str; 17] = [
        ENTITIES,
        SIGNALS,
        SIGNALS_CSV,
        EVENTS,
        INCIDENTS,
        INCIDENT,
        SUMMARY,
        OPENAPI,
        IODA_SIGNALS_RAW,
        IODA_ALERTS,
        IODA_EVENTS,
        IODA_SUMMARY,
        IODA_ENTITIES,
        METRICS,
        ANNOTATIONS,
        SUBSCRIPTIONS,
        COVERAGE,
    ];
}

/// Store connections reused across requests: a `Store` is `Send` but not
/// `Sync`, so each blocking task takes one, uses it and gives it back.
struct StorePool {
    data_dir: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    fn take(&self) -> Result<Store, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(store) => Ok(store),
            None => Store::open(&self.data_dir),
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

/// What every handler shares: the store pool and the metrics.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    pool: StorePool,
    metrics: Metrics,
    write_token: Option<String>,
    allow_private_targets: bool,
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
        let first = Store::open(data_dir)?;
        Ok(AppState {
            inner: Arc::new(Inner {
                pool: StorePool {
                    data_dir: data_dir.to_path_buf(),
                    idle: Mutex::new(vec![first]),
                },
                metrics: Metrics::default(),
                write_token: write_token.filter(|t| !t.is_empty()),
                allow_private_targets,
            }),
        })
    }

    /// The store's folder.
    pub fn data_dir(&self) -> &Path {
        &self.inner.pool.data_dir
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
        tokio::task::spawn_blocking(move || {
            let mut store = state.inner.pool.take()?;
            let result = work(&mut store);
            state.inner.pool.give_back(store);
            result
        })
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
    }
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics()
        .record(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn metrics_text(State(state): State<AppState>) -> Result<Response, ApiError> {
    let gauges = state
        .with_store(|store| {
            let series = store.list_series()?;
            let entities = store.entities()?.len();
            let ongoing = store
                .incidents(&vigie_store::ResultFilter {
                    method: Some(crate::data::DEFAULT_METHOD.to_string()),
                    ..Default::default()
                })?
                .iter()
                .filter(|i| i.end.is_none())
                .count();
            let latest = series.iter().filter_map(|s| s.last_bin).max();
            Ok((series.len(), entities, ongoing, latest))
        })
        .await?;
    let (series, entities, ongoing, latest) = gauges;
    let mut list = vec![
        (
            "vigie_store_series",
            "Series held by the store.",
            series as f64,
        ),
        (
            "vigie_store_entities",
            "Entities with at least one series.",
            entities as f64,
        ),
        (
            "vigie_incidents_ongoing",
            "Incidents (vigie method) with no end yet.",
            ongoing as f64,
        ),
    ];
    if let Some(latest) = latest {
        list.push((
            "vigie_store_latest_bin_timestamp_seconds",
            "Start of the most recent compacted bin with data, Unix seconds.",
            latest as f64,
        ));
    }
    let body = state.metrics().render(&list);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint: see /api/v1/openapi.json")
}

/// The whole HTTP API as an axum router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(paths::ENTITIES, get(api::entities))
        .route(paths::SIGNALS, get(api::signals))
        .route(paths::SIGNALS_CSV, get(api::signals_csv))
        .route(paths::EVENTS, get(api::events))
        .route(paths::INCIDENTS, get(api::incidents))
        .route(paths::INCIDENT, get(api::incident))
        .route(paths::SUMMARY, get(api::summary))
        .route(paths::OPENAPI, get(openapi::serve))
        .route(paths::IODA_SIGNALS_RAW, get(ioda::signals_raw))
        .route(paths::IODA_ALERTS, get(ioda::alerts))
        .route(paths::IODA_EVENTS, get(ioda::events))
        .route(paths::IODA_SUMMARY, get(ioda::summary))
        .route(paths::IODA_ENTITIES, get(ioda::entities))
        .route(paths::METRICS, get(metrics_text))
        .route(paths::COVERAGE, get(dashboard::coverage))
        .route(paths::DASHBOARD, get(dashboard::index))
        .route(paths::DASHBOARD_FILES, get(dashboard::file))
        .route(
            paths::ANNOTATIONS,
            get(writes::list_annotations).post(writes::add_annotation),
        )
        .route(
            paths::SUBSCRIPTIONS,
            get(writes::list_subscriptions).post(writes::add_subscription),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds `addr` (use port 0 for any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
