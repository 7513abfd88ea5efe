//! `GET /metrics`: the store's gauges and the process's counters in the
//! Prometheus text format (rendered by [`crate::metrics`]).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = crate::paths::METRICS,
    summary = "Prometheus metrics",
    description = "Request counts and latency histograms per route, store gauges, and the process's sources (bins, BGP updates and peers, flow datagrams, probes), live detector and alert worker, in the Prometheus text format.",
    responses((status = 200, description = "Success.", body = String, content_type = "text/plain"), crate::schemas::ReadErrors),
)]
pub(crate) async fn metrics_text(State(state): State<AppState>) -> Result<Response, ApiError> {
    // The store's listing as cached between writes (crate::listing): a
    // scrape does not decode every staged bin.
    let listing = state.listing();
    let gauges = state
        .with_store(move |store| {
            let series = listing.series(store)?;
            let mut keys: Vec<&vigie_model::Entity> =
                series.iter().map(|s| &s.key.entity).collect();
            keys.dedup();
            let entities = keys.len();
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
    let mut body = state.metrics().render(&list);
    body.push_str(&crate::metrics::render_process_metrics());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
