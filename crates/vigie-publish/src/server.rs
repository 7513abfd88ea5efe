//! The HTTP server: the router joining the native API, the IODA-compatible
//! API, the OpenAPI document, the dashboard, the writes and `/metrics`, and
//! the serve loop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::params::MAX_BODY_BYTES;
use crate::paths;
use crate::state::AppState;
use crate::{api, dashboard, ioda, openapi, writes};

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
