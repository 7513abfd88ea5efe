//! The native JSON API under `/api/v1/`: entities, signals (JSON and CSV),
//! events, incidents and a summary. Times in responses are ISO 8601 UTC
//! (with Unix seconds beside them where a client computes with them).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::mpsc::error::TrySendError;
use vigie_model::{format_utc, BinSize, Entity, SignalKind, UnixSecs};
use vigie_store::ResultFilter;

use crate::data::{self, incident_json, DEFAULT_METHOD};
use crate::error::ApiError;
use crate::params::Params;
use crate::read_limits::ReadLimits;
use crate::state::AppState;
use crate::window::read_windows;

type QueryMap = Query<HashMap<String, String>>;

/// The `signal` parameter: one name or a comma-separated list.
fn signal_list(params: &Params, name: &str) -> Result<Option<Vec<SignalKind>>, ApiError> {
    params
        .text(name)
        .map(|text| {
            text.split(',')
                .map(|s| crate::params::parse_signal(s.trim()))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
}

/// `GET /api/v1/entities`: entities whose code or name contains `search`.
#[utoipa::path(
    get,
    path = crate::paths::ENTITIES,
    operation_id = "entities",
    summary = "Search entities",
    description = "Entities whose code or name contains `search`, with each signal's latest value.",
    params(crate::schemas::EntitiesQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn entities(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let page = params.page()?;
    let kind = params
        .text("kind")
        .map(|k| {
            k.parse::<vigie_model::EntityKind>().map_err(|_| {
                ApiError::bad_request(format!("'kind' = '{k}': use country, asn or region"))
            })
        })
        .transpose()?;
    let search = params.text("search").map(str::to_string);
    let listing = state.listing();
    let (total, found) = state
        .with_store(move |store| {
            let all = data::search_entities(listing.entities(store)?, search.as_deref(), kind);
            Ok((all.len(), page.slice(all)))
        })
        .await?;
    let entities: Vec<Value> = found
        .iter()
        .map(|info| {
            json!({
                "entity": info.entity.to_string(),
                "kind": info.entity.kind().name(),
                "code": info.entity.code(),
                "name": info.name,
                "signals": info.signals.iter().map(|s| json!({
                    "signal": s.signal.name(),
                    "unit": s.signal.unit(),
                    "binSecs": s.bin.secs(),
                    "latestTime": s.latest_time.map(format_utc),
                    "latestValue": s.latest_value,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "total": total,
        "offset": page.offset,
        "limit": page.limit,
        "entities": entities,
    })))
}

/// A series request's parameters: entity, signals, bin, from, until, maxPoints.
type SeriesRequest = (
    Entity,
    Option<Vec<SignalKind>>,
    BinSize,
    Option<UnixSecs>,
    Option<UnixSecs>,
    Option<usize>,
);

fn series_request(params: &Params) -> Result<SeriesRequest, ApiError> {
    let entity = params.entity("entity")?.ok_or_else(|| {
        ApiError::bad_request("'entity' is required (such as IQ, AS9198, KZ/Almaty)")
    })?;
    Ok((
        entity,
        signal_list(params, "signal")?,
        params.bin()?,
        params.time("from")?,
        params.time("until")?,
        params.max_points()?,
    ))
}

/// `GET /api/v1/signals`: an entity's series over a range, downsampled to
/// `maxPoints`.
#[utoipa::path(
    get,
    path = crate::paths::SIGNALS,
    summary = "An entity's series",
    description = "Values per bin (null is no data, never zero) from `from` to `until` (default: the last 7 days with data), downsampled to `maxPoints`. Years may be asked for: no 100-day cap. For an AS, `country` names the country holding most of its /24s (from BGP), when known. `zone` is the IANA zone of the entity's local time, as reports use it: the region's where known, else the country's main zone.",
    params(crate::schemas::SeriesQuery),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn signals(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Response, ApiError> {
    let params = Params(q);
    let (entity, signals, bin, from, until, max_points) = series_request(&params)?;
    let mut limits = ReadLimits::of(&state);
    limits.admit_range(from, until, bin.secs())?;
    // Read and serialise on the blocking pool: a long series is megabytes.
    let body = state
        .with_store(move |store| {
            let (range, windows) = read_windows(
                store,
                &entity,
                signals.as_deref(),
                bin,
                from,
                until,
                max_points,
                &mut limits,
            )?;
            let first = windows.first();
            // An AS's main country (most of its /24s), from the store's
            // AS-to-country table, so a client can show local time.
            let country = match &entity {
                vigie_model::Entity::Asn(asn) => store
                    .as_countries(None, Some(*asn))
                    .map_err(|e| ApiError::internal(format!("AS countries: {e}")))?
                    .into_iter()
                    .max_by_key(|row| (row.units_v4, row.units_v6))
                    .map(|row| row.country.to_string()),
                _ => None,
            };
            // The zone of local times, as reports choose it: the region's
            // where known, else the country's (an AS's main country's).
            let zone = match (&entity, &country) {
                (vigie_model::Entity::Asn(_), Some(cc)) => vigie_model::CountryCode::new(cc)
                    .ok()
                    .and_then(crate::report::tz::country_zone)
                    .map(|z| z.name().to_string()),
                _ => crate::report::tz::entity_zone(&entity).map(|(z, _)| z.name().to_string()),
            };
            let mut size = 0;
            let mut values = Vec::with_capacity(windows.len());
            for w in &windows {
                limits.check()?;
                let text = data::values_json(&w.resampled.values);
                size += text.len() + 200;
                limits.check_size(size)?;
                values.push(text);
            }
            let out = SignalsOut {
                entity: first.map(|w| w.key.entity.to_string()).unwrap_or_default(),
                name: first.and_then(|w| w.name.clone()),
                country,
                zone,
                from: format_utc(range.from()),
                until: format_utc(range.until()),
                series: windows
                    .iter()
                    .zip(values)
                    .map(|(w, values)| {
                        Ok(SeriesOut {
                            signal: w.key.signal.name(),
                            unit: w.key.signal.unit(),
                            start: format_utc(w.resampled.start),
                            start_unix: w.resampled.start,
                            step_secs: w.resampled.step_secs,
                            native_step_secs: w.resampled.native_step_secs,
                            values: RawValue::from_string(values)
                                .map_err(|e| ApiError::internal(format!("values: {e}")))?,
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?,
            };
            serde_json::to_vec(&out).map_err(|e| ApiError::internal(format!("encoding: {e}")))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The body of `GET /api/v1/signals`.
#[derive(Serialize)]
struct SignalsOut {
    entity: String,
    name: Option<String>,
    /// For an AS: the country holding most of its /24s, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    /// The IANA zone of the entity's local time (the region's where known,
    /// else the country's main zone), as reports use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    zone: Option<String>,
    from: String,
    until: String,
    series: Vec<SeriesOut>,
}

/// One series in [`SignalsOut`]; values are written straight to JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeriesOut {
    signal: &'static str,
    unit: &'static str,
    start: String,
    start_unix: UnixSecs,
    step_secs: u32,
    native_step_secs: u32,
    values: Box<RawValue>,
}

/// `GET /api/v1/signals.csv`: the same series as CSV `time,entity,signal,value`
/// (the long format `vigie import csv` reads); no data is an empty value.
/// The series are read (downsampled while read) first, then the CSV is
/// written on a blocking thread and streamed in pieces of about
/// [`CSV_PIECE_BYTES`]: a request holds its values and a few pieces, never
/// the whole text, and stops writing when its client goes (or stalls past
/// the write timeout). A heavy one holds a heavy slot while it reads and
/// writes, not while it waits for its client to take the next piece.
#[utoipa::path(
    get,
    path = crate::paths::SIGNALS_CSV,
    summary = "An entity's series as CSV",
    description = "`time,entity,signal,value`, the long CSV that `vigie import csv` reads; no data is an empty value.",
    params(crate::schemas::SeriesQuery),
    responses((status = 200, description = "Success.", body = String, content_type = "text/csv"), crate::schemas::ReadErrors),
)]
pub async fn signals_csv(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Response, ApiError> {
    let params = Params(q);
    let (entity, signals, bin, from, until, max_points) = series_request(&params)?;
    let file_name = format!("vigie-{}.csv", entity.to_string().replace('/', "_"));
    let mut limits = ReadLimits::of(&state);
    limits.admit_range(from, until, bin.secs())?;
    let (windows, limits) = state
        .with_store(move |store| {
            let (_, windows) = read_windows(
                store,
                &entity,
                signals.as_deref(),
                bin,
                from,
                until,
                max_points,
                &mut limits,
            )?;
            // The longest a line can be: an ISO time, the entity, the
            // signal, a value in Rust's shortest form, commas and newline.
            let most: usize = windows
                .iter()
                .map(|w| {
                    let line = 20
                        + csv_field(&w.key.entity.to_string()).len()
                        + w.key.signal.name().len()
                        + 26;
                    line * w.resampled.values.len()
                })
                .sum();
            limits.check_size(most)?;
            Ok((windows, limits))
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(4);
    let metrics_of = state.clone();
    // A heavy response keeps its slot (in `limits`) while it writes, and
    // gives it back while it waits on a client that reads slowly.
    tokio::task::spawn_blocking(move || {
        let mut limits = limits;
        let mut piece = String::with_capacity(CSV_PIECE_BYTES + 256);
        piece.push_str("time,entity,signal,value\n");
        for w in &windows {
            let entity = csv_field(&w.key.entity.to_string());
            for (i, value) in w.resampled.values.iter().enumerate() {
                let t = w.resampled.start + i as i64 * i64::from(w.resampled.step_secs);
                piece.push_str(&format_utc(t));
                piece.push(',');
                piece.push_str(&entity);
                piece.push(',');
                piece.push_str(w.key.signal.name());
                piece.push(',');
                if let Some(v) = value {
                    piece.push_str(&v.to_string());
                }
                piece.push('\n');
                if piece.len() >= CSV_PIECE_BYTES {
                    let full =
                        std::mem::replace(&mut piece, String::with_capacity(CSV_PIECE_BYTES + 256));
                    let sent = match tx.try_send(full.into()) {
                        Ok(()) => Ok(()),
                        Err(TrySendError::Full(full)) => {
                            let held = limits.pause();
                            let sent = tx.blocking_send(full).map_err(|_| ());
                            if held && sent.is_ok() {
                                limits.resume();
                            }
                            sent
                        }
                        Err(TrySendError::Closed(_)) => Err(()),
                    };
                    // The receiver is gone with the response (the client
                    // went, or stopped reading past the write timeout): stop.
                    if sent.is_err() {
                        metrics_of.metrics().count_cancelled();
                        return;
                    }
                }
            }
        }
        // Written: the slot goes back before the last piece, so a client
        // holding the whole text knows the slot is free.
        drop(limits);
        if !piece.is_empty() {
            let _ = tx.blocking_send(piece.into());
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        axum::body::Body::new(ChannelBody(rx)),
    )
        .into_response())
}

/// The size of the pieces a streamed CSV is sent in, bytes.
pub const CSV_PIECE_BYTES: usize = 64 << 10;

/// A response body made of the pieces a blocking writer sends.
struct ChannelBody(tokio::sync::mpsc::Receiver<axum::body::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|piece| piece.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

/// Quotes a CSV field when it needs it.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn result_filter(params: &Params) -> Result<ResultFilter, ApiError> {
    let from = params.time("from")?;
    let until = params.time("until")?;
    if let (Some(f), Some(u)) = (from, until) {
        if f >= u {
            return Err(ApiError::bad_request("'from' must be before 'until'"));
        }
    }
    Ok(ResultFilter {
        entity: params.entity("entity")?,
        method: Some(params.text("method").unwrap_or(DEFAULT_METHOD).to_string()),
        from,
        until,
    })
}

/// `GET /api/v1/events`: signal events overlapping a range.
#[utoipa::path(
    get,
    path = crate::paths::EVENTS,
    operation_id = "events",
    summary = "Signal events",
    description = "Outage events found in single series, overlapping the range.",
    params(crate::schemas::ResultQuery, crate::schemas::SignalFilter, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn events(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let page = params.page()?;
    let filter = result_filter(&params)?;
    let signal = params.signal("signal")?;
    let (total, found) = state
        .with_store(move |store| {
            let all = data::events(store, &filter, signal)?;
            Ok((all.len(), page.slice(all)))
        })
        .await?;
    let events: Vec<Value> = found
        .iter()
        .map(|e| {
            json!({
                "method": e.method,
                "entity": e.key.entity.to_string(),
                "signal": e.key.signal.name(),
                "binSecs": e.bin.secs(),
                "start": format_utc(e.start),
                "end": e.end.map(format_utc),
                "depth": e.depth,
                "score": e.score,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({
        "total": total,
        "offset": page.offset,
        "limit": page.limit,
        "events": events,
    })))
}

/// `GET /api/v1/incidents`: incidents overlapping a range.
#[utoipa::path(
    get,
    path = crate::paths::INCIDENTS,
    summary = "Incidents",
    description = "Outages per entity, all signals fused: onset, end, depth, mechanism, scope, restoration windows, affected networks, and `zone`, the IANA zone of the entity's local time (null for an AS). Ids are ENTITY@START.",
    params(crate::schemas::ResultQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = crate::schemas::IncidentList), crate::schemas::ReadErrors),
)]
pub async fn incidents(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let page = params.page()?;
    let filter = result_filter(&params)?;
    let (total, unreadable, found) = state
        .with_store(move |store| {
            let (all, unreadable) = data::incidents(store, &filter)?;
            Ok((all.len(), unreadable, page.slice(all)))
        })
        .await?;
    Ok(Json(json!({
        "total": total,
        "offset": page.offset,
        "limit": page.limit,
        "unreadable": unreadable,
        "incidents": found.iter().map(|p| incident_json(p, false)).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/incidents/{id}`: one incident with its full detail.
#[utoipa::path(
    get,
    path = crate::paths::INCIDENT,
    summary = "One incident",
    description = "An incident by id (ENTITY@START_UNIX_SECS, URL-encoded), with the detector's full record.",
    params(("id" = String, Path, description = "ENTITY@START_UNIX_SECS, such as IQ@1692514800."), crate::schemas::MethodQuery),
    responses((status = 200, description = "Success.", body = crate::schemas::IncidentDetail), crate::schemas::ReadErrors),
)]
pub async fn incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let method = params.text("method").unwrap_or(DEFAULT_METHOD).to_string();
    if data::parse_incident_id(&id).is_none() {
        return Err(ApiError::bad_request(format!(
            "'{id}' is not an incident id: ENTITY@START_UNIX_SECS, such as IQ@1692514800"
        )));
    }
    let lookup = id.clone();
    let found = state
        .with_store(move |store| Ok(data::incident_by_id(store, &lookup, &method)?))
        .await?;
    match found {
        Some(p) => Ok(Json(incident_json(&p, true))),
        None => Err(ApiError::not_found(format!("no incident {id}"))),
    }
}

/// `GET /api/v1/summary`: per-entity outage totals over a range, highest
/// score first, with store totals.
#[utoipa::path(
    get,
    path = crate::paths::SUMMARY,
    operation_id = "summary",
    summary = "Outage summary",
    description = "Per entity: incidents, ongoing ones, outage seconds in the range, deepest drop, IODA-style scores; store totals.",
    params(crate::schemas::ResultQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn summary(
    State(state): State<AppState>,
    Query(q): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let page = params.page()?;
    let filter = result_filter(&params)?;
    let listing = state.listing();
    let (summaries, series, entities) = state
        .with_store(move |store| {
            let method = filter.method.as_deref().unwrap_or(DEFAULT_METHOD);
            let summaries = data::summarize(
                store,
                method,
                filter.from,
                filter.until,
                filter.entity.as_ref(),
            )?;
            let series = listing.series(store)?;
            let mut entities = series.iter().map(|s| &s.key.entity).collect::<Vec<_>>();
            entities.dedup();
            Ok((summaries, series.len(), entities.len()))
        })
        .await?;
    let incidents: usize = summaries.iter().map(|s| s.incidents).sum();
    let ongoing: usize = summaries.iter().map(|s| s.ongoing).sum();
    let total = summaries.len();
    Ok(Json(json!({
        "from": params.time("from")?.map(format_utc),
        "until": params.time("until")?.map(format_utc),
        "totals": {
            "series": series,
            "entities": entities,
            "entitiesWithIncidents": total,
            "incidents": incidents,
            "ongoing": ongoing,
        },
        "offset": page.offset,
        "limit": page.limit,
        "entities": page.slice(summaries),
    })))
}
