//! IODA API v2-compatible endpoints, so existing IODA clients work against
//! vigie: `/v2/signals/raw/{entityType}/{entityCode}`, `/v2/outages/alerts`,
//! `/v2/outages/events`, `/v2/outages/summary` and `/v2/entities/query`.
//!
//! Every response is IODA's envelope `{type, metadata: {requestTime,
//! responseTime}, requestParameters, error, perf, data, copyright}`; an
//! invalid request gets status 400 with `error` set and `data` null, as IODA
//! does. Times are Unix seconds (ISO 8601 is accepted too). Differences from
//! IODA, all additive: no 100-day cap (years are served, downsampled with
//! `maxPoints`); region codes are vigie's `COUNTRY/Name` rather than IODA's
//! numbers; `method` (default `vigie`, or `ioda-median`) picks the detector
//! whose results are served; alert `condition` is `<` for a drop (level
//! `critical`) and `>=` for the recovery (level `normal`).

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Number, Value};
use vigie_model::{BinSize, Entity, EntityKind, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_store::{ResultFilter, Store, StoredEvent};

use crate::data::{self, DEFAULT_METHOD};
use crate::error::ApiError;
use crate::params::{parse_signal, parse_typed_entity, Page, Params};
use crate::read_limits::ReadLimits;
use crate::state::AppState;
use crate::window::read_windows;

/// The `copyright` field of vigie's envelopes.
pub const COPYRIGHT: &str =
    "Data published by a vigie observatory (open Internet shutdown observatory).";

type QueryMap = Query<HashMap<String, String>>;

fn iso_offset(t: UnixSecs) -> String {
    // IODA writes PHP's date('c'): 2024-02-01T00:00:00+00:00.
    let z = vigie_model::format_utc(t);
    match z.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => z,
    }
}

fn now_secs() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Builds an IODA envelope around `data` (or an error).
/// An envelope's `data`: a JSON tree, or JSON already written (long series).
#[derive(Serialize)]
#[serde(untagged)]
enum EnvelopeData {
    Tree(Value),
    Written(Box<RawValue>),
}

impl From<Value> for EnvelopeData {
    fn from(value: Value) -> Self {
        EnvelopeData::Tree(value)
    }
}

impl From<Box<RawValue>> for EnvelopeData {
    fn from(raw: Box<RawValue>) -> Self {
        EnvelopeData::Written(raw)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    metadata: Value,
    request_parameters: Map<String, Value>,
    error: Value,
    perf: Value,
    data: EnvelopeData,
    copyright: &'static str,
}

/// Builds an IODA envelope around `data` (or an error).
fn envelope<D: Into<EnvelopeData>>(
    kind: &str,
    request_time: UnixSecs,
    started: Instant,
    request_parameters: Map<String, Value>,
    result: Result<D, ApiError>,
) -> Response {
    let mut retry_after = None;
    let (status, error, data) = match result {
        Ok(data) => (StatusCode::OK, Value::Null, data.into()),
        Err(e) => {
            retry_after = e.retry_after_header();
            (
                e.status,
                Value::String(e.message),
                EnvelopeData::Tree(Value::Null),
            )
        }
    };
    let body = Envelope {
        kind,
        metadata: json!({
            "requestTime": iso_offset(request_time),
            "responseTime": iso_offset(now_secs()),
        }),
        request_parameters,
        error,
        perf: json!({ "totalSecs": started.elapsed().as_secs_f64() }),
        data,
        copyright: COPYRIGHT,
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            let mut response =
                (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
            if let Some((name, value)) = retry_after {
                response.headers_mut().insert(name, value);
            }
            response
        }
        Err(e) => ApiError::internal(format!("encoding: {e}")).into_response(),
    }
}

/// Echoes the named parameters as given (null when absent), as IODA does.
fn echo(params: &Params, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                params
                    .text(n)
                    .map(|v| Value::String(v.to_string()))
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// A number as IODA writes it: an integer when the value is whole.
fn ioda_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::Number(Number::from(v as i64))
    } else {
        Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// IODA's entity object `{type, code, name, attrs}`.
pub fn entity_object(entity: &Entity, name: Option<&str>) -> Value {
    let mut attrs = Map::new();
    if let Entity::Region(region) = entity {
        attrs.insert("country_code".into(), json!(region.country.to_string()));
    }
    if let Entity::Asn(asn) = entity {
        attrs.insert("org".into(), json!(name));
        attrs.insert("asn".into(), json!(asn.to_string()));
    }
    json!({
        "type": entity.kind().name(),
        "code": entity.code(),
        "name": name.map(str::to_string).unwrap_or_else(|| entity.to_string()),
        "attrs": attrs,
    })
}

fn required_range(params: &Params) -> Result<(UnixSecs, UnixSecs), ApiError> {
    let from = params.required_time("from")?;
    let until = params.required_time("until")?;
    if from >= until {
        return Err(ApiError::bad_request("'from' must be before 'until'"));
    }
    Ok((from, until))
}

/// The entities named by `entityType` and `entityCode` (comma-separated).
fn entity_filter(params: &Params) -> Result<Option<Vec<Entity>>, ApiError> {
    match (params.text("entityType"), params.text("entityCode")) {
        (Some(kind), Some(codes)) => codes
            .split(',')
            .map(|code| parse_typed_entity(kind, code.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        (None, Some(_)) => Err(ApiError::bad_request("'entityCode' needs 'entityType'")),
        _ => Ok(None),
    }
}

fn kind_filter(params: &Params) -> Result<Option<EntityKind>, ApiError> {
    params
        .text("entityType")
        .map(|k| {
            k.parse::<EntityKind>().map_err(|_| {
                ApiError::bad_request(format!(
                    "entity type '{k}' is not served: use country, asn or region"
                ))
            })
        })
        .transpose()
}

/// `GET /v2/signals/raw/{entityType}/{entityCode}`: the entity's series as
/// IODA's `data: [[{entityType, entityCode, entityName, datasource, from,
/// until, step, nativeStep, values}]]`.
pub async fn signals_raw(
    State(state): State<AppState>,
    Path((entity_type, entity_code)): Path<(String, String)>,
    Query(q): QueryMap,
) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let mut echoed = echo(&params, &["from", "until", "datasource", "maxPoints"]);
    echoed.insert("entityType".into(), json!(entity_type));
    echoed.insert("entityCode".into(), json!(entity_code));
    let result = signals_raw_data(&state, &params, &entity_type, &entity_code).await;
    envelope("signals", request_time, started, echoed, result)
}

async fn signals_raw_data(
    state: &AppState,
    params: &Params,
    entity_type: &str,
    entity_code: &str,
) -> Result<Box<RawValue>, ApiError> {
    let entity = parse_typed_entity(entity_type, entity_code)?;
    let (from, until) = required_range(params)?;
    let signals = params
        .text("datasource")
        .map(|d| {
            d.split(',')
                .map(|s| parse_signal(s.trim()))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let max_points = params.max_points()?;
    let bin = params.bin()?;
    let mut limits = ReadLimits::of(state);
    limits.admit_range(Some(from), Some(until), bin.secs())?;
    state
        .with_store(move |store| {
            let (_, windows) = read_windows(
                store,
                &entity,
                signals.as_deref(),
                bin,
                Some(from),
                Some(until),
                max_points,
                &mut limits,
            )?;
            let mut size = 0;
            let series = windows
                .iter()
                .map(|w| {
                    limits.check()?;
                    let r = &w.resampled;
                    let values = crate::data::values_json(&r.values);
                    size += values.len() + 300;
                    limits.check_size(size)?;
                    Ok(IodaSeries {
                        entity_type: w.key.entity.kind().name(),
                        entity_code: w.key.entity.code(),
                        entity_name: w.name.clone().unwrap_or_else(|| w.key.entity.to_string()),
                        entity_fqid: fqid(&w.key.entity),
                        datasource: w.key.signal.name(),
                        subtype: "",
                        from: r.start,
                        until: r.end(),
                        step: r.step_secs,
                        native_step: r.native_step_secs,
                        values: RawValue::from_string(values)
                            .map_err(|e| ApiError::internal(format!("values: {e}")))?,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let text = serde_json::to_string(&[series])
                .map_err(|e| ApiError::internal(format!("encoding: {e}")))?;
            RawValue::from_string(text).map_err(|e| ApiError::internal(format!("encoding: {e}")))
        })
        .await
}

/// One series of `/v2/signals/raw`, with IODA's field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IodaSeries {
    entity_type: &'static str,
    entity_code: String,
    entity_name: String,
    entity_fqid: String,
    datasource: &'static str,
    subtype: &'static str,
    from: UnixSecs,
    until: UnixSecs,
    step: u32,
    native_step: u32,
    values: Box<RawValue>,
}

fn fqid(entity: &Entity) -> String {
    match entity {
        Entity::Country(cc) => format!("geo.vigie.{cc}"),
        Entity::Region(r) => format!("geo.vigie.{}.{}", r.country, r.name),
        Entity::Asn(asn) => format!("asn.{asn}"),
    }
}

fn method_of(params: &Params) -> String {
    params.text("method").unwrap_or(DEFAULT_METHOD).to_string()
}

/// Events of the filter (every listed entity, or all), of `datasource` when given.
fn filtered_events(
    store: &Store,
    entities: Option<&[Entity]>,
    kind: Option<EntityKind>,
    method: &str,
    from: UnixSecs,
    until: UnixSecs,
    signal: Option<SignalKind>,
) -> Result<Vec<StoredEvent>, ApiError> {
    let base = ResultFilter {
        entity: None,
        method: Some(method.to_string()),
        from: Some(from),
        until: Some(until),
    };
    let mut out = Vec::new();
    match entities {
        Some(list) => {
            for entity in list {
                let filter = ResultFilter {
                    entity: Some(entity.clone()),
                    ..base.clone()
                };
                out.extend(data::events(store, &filter, signal)?);
            }
            out.sort_by_key(|e| e.start);
        }
        None => out = data::events(store, &base, signal)?,
    }
    Ok(out
        .into_iter()
        .filter(|e| kind.is_none_or(|k| e.key.entity.kind() == k))
        .collect())
}

fn names(store: &Store) -> Result<HashMap<Entity, String>, ApiError> {
    Ok(store
        .entities()?
        .into_iter()
        .filter_map(|info| Some((info.entity, info.name?)))
        .collect())
}

/// `GET /v2/outages/alerts`: one alert when an event starts (`critical`) and
/// one when it ends (`normal`), with the signal's value at that bin and the
/// detector's baseline as `historyValue`.
pub async fn alerts(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = echo(
        &params,
        &[
            "from",
            "until",
            "datasource",
            "limit",
            "page",
            "entityType",
            "entityCode",
            "method",
        ],
    );
    let result = alerts_data(&state, params).await;
    envelope("outages.alerts", request_time, started, echoed, result)
}

async fn alerts_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let (from, until) = required_range(&params)?;
    let entities = entity_filter(&params)?;
    let kind = kind_filter(&params)?;
    let signal = params.signal("datasource")?;
    let page = params.page()?;
    let method = method_of(&params);
    state
        .with_store(move |store| {
            let events =
                filtered_events(store, entities.as_deref(), kind, &method, from, until, signal)?;
            let names = names(store)?;
            let mut transitions: Vec<(UnixSecs, &StoredEvent, bool)> = Vec::new();
            for e in &events {
                if (from..until).contains(&e.start) {
                    transitions.push((e.start, e, true));
                }
                if let Some(end) = e.end.filter(|t| (from..until).contains(t)) {
                    transitions.push((end, e, false));
                }
            }
            transitions.sort_by_key(|(t, _, _)| *t);
            let chosen: Vec<_> = page.slice(transitions);
            let mut out = Vec::with_capacity(chosen.len());
            for (time, event, is_start) in chosen {
                if crate::limits::client_gone() {
                    break;
                }
                let value = value_at(store, &event.key, event.bin, time)?;
                let history = serde_json::from_str::<Value>(&event.detail)
                    .ok()
                    .and_then(|d| d.get("baseline").and_then(Value::as_f64));
                out.push(json!({
                    "datasource": event.key.signal.name(),
                    "entity": entity_object(&event.key.entity, names.get(&event.key.entity).map(String::as_str)),
                    "time": time,
                    "level": if is_start { "critical" } else { "normal" },
                    "condition": if is_start { "<" } else { ">=" },
                    "value": value.map(ioda_number),
                    "historyValue": history.map(ioda_number),
                    "method": event.method,
                }));
            }
            Ok(Value::Array(out))
        })
        .await
}

fn value_at(
    store: &Store,
    key: &SeriesKey,
    bin: BinSize,
    t: UnixSecs,
) -> Result<Option<f64>, ApiError> {
    let range = TimeRange::new(t, t + i64::from(bin.secs()))
        .map_err(|e| ApiError::internal(format!("bad range: {e}")))?;
    Ok(store.read_series(key, bin, range)?.get(t))
}

/// `GET /v2/outages/events`: events in IODA's `codf` format (default) or
/// `ioda` format; `overall=true` merges signals (vigie's incidents).
pub async fn events(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = echo(
        &params,
        &[
            "from",
            "until",
            "datasource",
            "includeAlerts",
            "format",
            "limit",
            "page",
            "entityType",
            "entityCode",
            "orderBy",
            "overall",
            "method",
        ],
    );
    let result = events_data(&state, params).await;
    envelope("outages.events", request_time, started, echoed, result)
}

/// One IODA event, before formatting.
struct FlatEvent {
    entity: Entity,
    start: UnixSecs,
    end: Option<UnixSecs>,
    datasource: String,
    method: String,
    score: f64,
}

fn parse_bool(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.0.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "'{name}' = '{v}': use true or false"
        ))),
    }
}

async fn events_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let (from, until) = required_range(&params)?;
    let entities = entity_filter(&params)?;
    let kind = kind_filter(&params)?;
    let signal = params.signal("datasource")?;
    let page = params.page()?;
    let method = method_of(&params);
    let format = params.text("format").unwrap_or("codf").to_string();
    if format != "codf" && format != "ioda" {
        return Err(ApiError::bad_request(format!(
            "invalid format {format} (must be one of the following ['codf', 'ioda'])"
        )));
    }
    let overall = parse_bool(&params, "overall")?;
    let include_alerts = parse_bool(&params, "includeAlerts")?;
    let order = params.text("orderBy").unwrap_or("time/asc").to_string();
    let (order_key, descending) = match order.split_once('/') {
        Some((k, d)) => (k.to_string(), d == "desc"),
        None => (order.clone(), false),
    };
    if !["time", "score", "name"].contains(&order_key.as_str()) {
        return Err(ApiError::bad_request(
            "orderBy attribute must be in ['time', 'score', 'name']",
        ));
    }
    state
        .with_store(move |store| {
            let mut flat: Vec<FlatEvent> = if overall {
                let filter = ResultFilter {
                    entity: None,
                    method: Some(method.clone()),
                    from: Some(from),
                    until: Some(until),
                };
                let (all, _) = data::incidents(store, &filter)?;
                all.into_iter()
                    .map(|p| p.incident)
                    .filter(|i| entities.as_ref().is_none_or(|l| l.contains(&i.entity)))
                    .filter(|i| kind.is_none_or(|k| i.entity.kind() == k))
                    .map(|i| FlatEvent {
                        entity: i.entity.clone(),
                        start: i.start,
                        end: i.end,
                        datasource: "overall".into(),
                        method: method.clone(),
                        score: i.ioda_overall_score,
                    })
                    .collect()
            } else {
                filtered_events(
                    store,
                    entities.as_deref(),
                    kind,
                    &method,
                    from,
                    until,
                    signal,
                )?
                .into_iter()
                .map(|e| FlatEvent {
                    entity: e.key.entity.clone(),
                    start: e.start,
                    end: e.end,
                    datasource: e.key.signal.name().to_string(),
                    method: e.method.clone(),
                    score: e.score.unwrap_or(0.0),
                })
                .collect()
            };
            let names = names(store)?;
            match order_key.as_str() {
                "score" => flat.sort_by(|a, b| a.score.total_cmp(&b.score)),
                "name" => flat.sort_by(|a, b| a.entity.cmp(&b.entity)),
                _ => flat.sort_by_key(|e| e.start),
            }
            if descending {
                flat.reverse();
            }
            let chosen = page.slice(flat);
            let out: Vec<Value> = chosen
                .iter()
                .map(|e| {
                    let name = names.get(&e.entity).cloned();
                    let end = e.end.unwrap_or(until).max(e.start);
                    if format == "codf" {
                        json!({
                            "location": format!("{}/{}", e.entity.kind().name(), e.entity.code()),
                            "location_name": name.unwrap_or_else(|| e.entity.to_string()),
                            "start": e.start,
                            "duration": end - e.start,
                            "uncertainty": Value::Null,
                            "method": e.method,
                            "datasource": e.datasource,
                            "status": 0,
                            "fraction": Value::Null,
                            "score": ioda_number(e.score),
                            "overlaps_window": e.start < from || end > until,
                        })
                    } else {
                        let mut v = json!({
                            "entity": entity_object(&e.entity, name.as_deref()),
                            "from": e.start,
                            "until": end,
                            "score": ioda_number(e.score),
                            "datasource": e.datasource,
                            "method": e.method,
                        });
                        if include_alerts {
                            if let Value::Object(map) = &mut v {
                                map.insert("alerts".into(), json!([]));
                            }
                        }
                        v
                    }
                })
                .collect();
            Ok(Value::Array(out))
        })
        .await
}

/// `GET /v2/outages/summary`: per entity, `{scores: {overall, <datasource>…},
/// event_cnt, entity}`, highest overall score first.
pub async fn summary(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = echo(
        &params,
        &[
            "from",
            "until",
            "limit",
            "page",
            "entityType",
            "entityCode",
            "orderBy",
            "method",
        ],
    );
    let result = summary_data(&state, params).await;
    envelope("outages.summary", request_time, started, echoed, result)
}

async fn summary_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let (from, until) = required_range(&params)?;
    let entities = entity_filter(&params)?;
    let kind = kind_filter(&params)?;
    let page: Page = params.page()?;
    let method = method_of(&params);
    state
        .with_store(move |store| {
            let all = data::summarize(store, &method, Some(from), Some(until), None)?;
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|s| entities.as_ref().is_none_or(|l| l.contains(&s.entity)))
                .filter(|s| kind.is_none_or(|k| s.entity.kind() == k))
                .collect();
            let out: Vec<Value> = page
                .slice(chosen)
                .iter()
                .map(|s| {
                    let mut scores = Map::new();
                    scores.insert("overall".into(), ioda_number(s.overall_score));
                    for (signal, score) in &s.signal_scores {
                        scores.insert(signal.clone(), ioda_number(*score));
                    }
                    json!({
                        "scores": scores,
                        "event_cnt": s.incidents,
                        "entity": entity_object(&s.entity, s.name.as_deref()),
                    })
                })
                .collect();
            Ok(Value::Array(out))
        })
        .await
}

/// `GET /v2/entities/query`: entities by `entityType`, `entityCode` and
/// `search` (a substring of the code or name), as IODA entity objects.
pub async fn entities(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = echo(
        &params,
        &["entityType", "entityCode", "search", "limit", "page"],
    );
    let result = entities_data(&state, params).await;
    envelope("entities", request_time, started, echoed, result)
}

async fn entities_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let kind = kind_filter(&params)?;
    let codes = entity_filter(&params)?;
    let search = params.text("search").map(str::to_string);
    let page = params.page()?;
    state
        .with_store(move |store| {
            let found = data::search_entities(store, search.as_deref(), kind)?;
            let chosen: Vec<_> = found
                .into_iter()
                .filter(|i| codes.as_ref().is_none_or(|l| l.contains(&i.entity)))
                .collect();
            Ok(Value::Array(
                page.slice(chosen)
                    .iter()
                    .map(|i| entity_object(&i.entity, i.name.as_deref()))
                    .collect(),
            ))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_integers_when_whole() {
        assert_eq!(ioda_number(2917.0).to_string(), "2917");
        assert_eq!(ioda_number(0.5).to_string(), "0.5");
        assert_eq!(ioda_number(f64::NAN), Value::Null);
    }

    #[test]
    fn times_are_written_like_php_date_c() {
        assert_eq!(iso_offset(1_706_745_600), "2024-02-01T00:00:00+00:00");
    }
}
