//! IODA API v2-compatible endpoints, so existing IODA clients work against
//! vigie: `/v2/signals/raw/{entityType}/{entityCode}`,
//! `/v2/signals/events/{entityType}/{entityCode}`, `/v2/outages/alerts`,
//! `/v2/outages/events`, `/v2/outages/summary`, `/v2/entities/query`,
//! `/v2/datasources` (and `/v2/datasources/{datasource}`) and
//! `/v2/topo/{entityType}`.
//!
//! Every response is IODA's envelope `{type, metadata: {requestTime,
//! responseTime}, requestParameters, error, perf, data, copyright}`, with
//! `requestParameters` typed and defaulted as IODA echoes them; an invalid
//! request gets status 400 with `error` set and `data` null, as IODA does.
//! Times are Unix seconds, `now` or relative (`-24h`; ISO 8601 is accepted
//! too). IODA's datasource names are served from vigie's signals
//! ([`crate::params::IODA_DATASOURCES`]); steps are IODA's
//! ([`crate::params::IODA_STEPS`]). Differences from IODA, all additive: no
//! 100-day cap (years are served, downsampled with `maxPoints`); region
//! codes are vigie's `COUNTRY/Name` rather than IODA's numbers; `method`
//! (default `vigie`, or `ioda-median`) picks the detector whose results are
//! served; alert `condition` is `<` for a drop (level `critical`) and `>=`
//! for the recovery (level `normal`).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Number, Value};
use vigie_model::{BinSize, Entity, EntityKind, SeriesKey, SignalKind, TimeRange, UnixSecs};
use vigie_store::{ResultFilter, Store, StoredEvent};

use crate::continents::continent_of;
use crate::data::{self, DEFAULT_METHOD};
use crate::error::ApiError;
use crate::params::{
    ioda_step, now_secs, parse_ioda_datasource, parse_typed_entity, Page, Params, IODA_DATASOURCES,
    MAX_POINTS,
};
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

/// The most entity codes one request may list (comma-separated).
pub const MAX_ENTITY_CODES: usize = 100;

/// The largest `extendWindow`, in seconds (a year).
pub const MAX_EXTEND_WINDOW: u64 = 366 * 86_400;

/// The most terms one `ignoreMethods` may list.
pub const MAX_IGNORE_TERMS: usize = 50;

/// IODA's default `extendWindow` of events and summaries: 14 days.
const EVENTS_EXTEND_WINDOW: i64 = 1_209_600;

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

/// How IODA types a request parameter when it echoes it.
#[derive(Clone, Copy)]
enum Typed {
    /// A string, as given.
    Str,
    /// An integer (a value that is not one is echoed as given).
    Int,
    /// A boolean: empty (`&includeAlerts`), `true`, `1`, `on` or `yes`.
    Bool,
}

/// Echoes the named parameters as IODA does: typed, and the default (often
/// null) when absent.
fn typed(params: &Params, specs: &[(&str, Typed, Value)]) -> Map<String, Value> {
    specs
        .iter()
        .map(|(name, kind, default)| {
            let value = match params.0.get(*name).map(|v| v.trim()) {
                None => default.clone(),
                Some(v) => match kind {
                    Typed::Str => json!(v),
                    Typed::Int => v
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| json!(v)),
                    Typed::Bool => json!(matches!(
                        v.to_ascii_lowercase().as_str(),
                        "" | "1" | "true" | "on" | "yes"
                    )),
                },
            };
            (name.to_string(), value)
        })
        .collect()
}

/// The parameters every outage endpoint shares, typed as IODA echoes them.
fn outage_specs(extend_default: i64, limit_default: Value) -> Vec<(&'static str, Typed, Value)> {
    vec![
        ("from", Typed::Str, Value::Null),
        ("until", Typed::Str, Value::Null),
        ("entityType", Typed::Str, Value::Null),
        ("entityCode", Typed::Str, Value::Null),
        ("datasource", Typed::Str, Value::Null),
        ("limit", Typed::Int, limit_default),
        ("page", Typed::Int, Value::Null),
        ("relatedTo", Typed::Str, Value::Null),
        ("ignoreMethods", Typed::Str, Value::Null),
        ("extendWindow", Typed::Int, json!(extend_default)),
        ("method", Typed::Str, json!(DEFAULT_METHOD)),
    ]
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

/// IODA's entity object `{type, code, name, subnames, attrs}`; `attrs`
/// holds the `fqid` ([`fqid`]), and a region's `country_code`, an AS's
/// `org` and `asn`. vigie knows no alternative names: `subnames` is empty.
pub fn entity_object(entity: &Entity, name: Option<&str>) -> Value {
    let mut attrs = Map::new();
    attrs.insert("fqid".into(), json!(fqid(entity)));
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
        "subnames": [],
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

/// Entities of type `kind` from a comma list of codes, at most
/// [`MAX_ENTITY_CODES`] of them.
fn entity_list(kind: &str, codes: &str) -> Result<Vec<Entity>, ApiError> {
    let count = codes.split(',').count();
    if count > MAX_ENTITY_CODES {
        return Err(ApiError::bad_request(format!(
            "{count} entity codes: at most {MAX_ENTITY_CODES} per request"
        )));
    }
    let mut out: Vec<Entity> = Vec::with_capacity(count);
    for code in codes.split(',') {
        let entity = parse_typed_entity(kind, code.trim())?;
        if !out.contains(&entity) {
            out.push(entity);
        }
    }
    Ok(out)
}

/// The entities named by `entityType` and `entityCode` (comma-separated).
fn entity_filter(params: &Params) -> Result<Option<Vec<Entity>>, ApiError> {
    match (params.text("entityType"), params.text("entityCode")) {
        (Some(kind), Some(codes)) => entity_list(kind, codes).map(Some),
        (None, Some(_)) => Err(ApiError::bad_request("'entityCode' needs 'entityType'")),
        _ => Ok(None),
    }
}

/// `relatedTo=type/code`: the entity whose related entities are wanted.
fn related_to(params: &Params) -> Result<Option<Entity>, ApiError> {
    let Some(text) = params.text("relatedTo") else {
        return Ok(None);
    };
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [kind, code @ ..] if !code.is_empty() && !code.join("/").trim().is_empty() => {
            parse_typed_entity(kind, &code.join("/")).map(Some)
        }
        _ => Err(ApiError::bad_request(format!(
            "relatedTo = '{text}': give an entity as type/code, such as country/KZ or asn/9198"
        ))),
    }
}

/// Which entities are related to another: a country's regions and the ASes
/// originating address space in it (the store's AS-to-country table, from
/// the routing table); a region's country; an AS's countries.
struct Related {
    target: Entity,
    as_countries: Vec<(u32, vigie_model::CountryCode)>,
}

impl Related {
    fn load(store: &Store, target: Entity) -> Result<Related, ApiError> {
        let rows = match &target {
            Entity::Country(cc) => store.as_countries(Some(*cc), None)?,
            Entity::Asn(asn) => store.as_countries(None, Some(*asn))?,
            Entity::Region(_) => Vec::new(),
        };
        Ok(Related {
            target,
            as_countries: rows.into_iter().map(|r| (r.asn, r.country)).collect(),
        })
    }

    fn contains(&self, entity: &Entity) -> bool {
        match (&self.target, entity) {
            (Entity::Country(cc), Entity::Region(r)) => r.country == *cc,
            (Entity::Country(_), Entity::Asn(asn)) => {
                self.as_countries.iter().any(|(a, _)| a == asn)
            }
            (Entity::Region(r), Entity::Country(cc)) => r.country == *cc,
            (Entity::Asn(_), Entity::Country(cc)) => self.as_countries.iter().any(|(_, c)| c == cc),
            _ => false,
        }
    }
}

/// `ignoreMethods`: `<datasource>.<method>` terms, comma-separated, either
/// side `*` for any (`bgp.*`, `*.ioda-median`).
struct IgnoreMethods(Vec<(Option<SignalKind>, Option<String>)>);

impl IgnoreMethods {
    fn parse(params: &Params) -> Result<IgnoreMethods, ApiError> {
        let Some(text) = params.text("ignoreMethods") else {
            return Ok(IgnoreMethods(Vec::new()));
        };
        let terms: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if terms.len() > MAX_IGNORE_TERMS {
            return Err(ApiError::bad_request(format!(
                "ignoreMethods lists {} terms: at most {MAX_IGNORE_TERMS}",
                terms.len()
            )));
        }
        let mut out = Vec::new();
        for term in terms {
            let Some((ds, method)) = term.split_once('.') else {
                return Err(ApiError::bad_request(format!(
                    "ignoreMethods term '{term}': use <datasource>.<method>, either side * (bgp.*, *.ioda-median)"
                )));
            };
            let ds = match ds {
                "*" => None,
                name => Some(parse_ioda_datasource(name)?),
            };
            let method = (method != "*").then(|| method.to_string());
            out.push((ds, method));
        }
        Ok(IgnoreMethods(out))
    }

    fn ignores(&self, signal: SignalKind, method: &str) -> bool {
        self.0.iter().any(|(ds, m)| {
            ds.is_none_or(|d| d == signal) && m.as_deref().is_none_or(|m| m == method)
        })
    }
}

/// `extendWindow`, seconds (IODA's default when absent).
fn extend_window(params: &Params, default: i64) -> Result<i64, ApiError> {
    Ok(params
        .bounded("extendWindow", MAX_EXTEND_WINDOW)?
        .map(|v| v as i64)
        .unwrap_or(default))
}

/// `orderBy=attr[/asc|desc]`: attr among time, score and name; anything
/// else is a 400, as IODA answers.
fn order_by(params: &Params, default: (&str, bool)) -> Result<(String, bool), ApiError> {
    let Some(text) = params.text("orderBy") else {
        return Ok((default.0.to_string(), default.1));
    };
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > 2 {
        return Err(ApiError::bad_request(
            "orderBy parameter must be in the form 'attr[/[asc|desc]]'",
        ));
    }
    if !["time", "score", "name"].contains(&parts[0]) {
        return Err(ApiError::bad_request(
            "orderBy attribute must be in ['time', 'score', 'name']",
        ));
    }
    let descending = match parts.get(1).copied() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::bad_request("orderBy order must be asc or desc")),
    };
    Ok((parts[0].to_string(), descending))
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

/// The parameters of `/v2/signals/raw` and `/v2/signals/events`, typed as
/// IODA echoes them.
fn signal_specs() -> Vec<(&'static str, Typed, Value)> {
    vec![
        ("from", Typed::Int, Value::Null),
        ("until", Typed::Int, Value::Null),
        ("datasource", Typed::Str, Value::Null),
        ("sourceParams", Typed::Str, Value::Null),
        ("maxPoints", Typed::Int, Value::Null),
    ]
}

/// `GET /v2/signals/raw/{entityType}/{entityCode}`: the entities' series
/// as IODA's `data: [[{entityType, entityCode, entityName, entityFqid,
/// datasource, subtype, from, until, step, nativeStep, values}], …]`, one
/// set per entity code (comma-separated, at most [`MAX_ENTITY_CODES`]).
#[utoipa::path(
    get,
    path = crate::paths::IODA_SIGNALS_RAW,
    summary = "IODA v2: raw signals",
    description = "IODA's `/v2/signals/raw` with the same parameters and envelope; data is one set per entity code, [[{entityType, entityCode, entityName, entityFqid, datasource, subtype, from, until, step, nativeStep, values}], …]. With maxPoints the step is one of IODA's (60 s to 10 years). No 100-day cap.",
    params(crate::schemas::IodaEntityPath, crate::schemas::IodaRawQuery),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn signals_raw(
    State(state): State<AppState>,
    Path((entity_type, entity_code)): Path<(String, String)>,
    Query(q): QueryMap,
) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let mut echoed = typed(&params, &signal_specs());
    echoed.insert("entityType".into(), json!(entity_type));
    echoed.insert("entityCode".into(), json!(entity_code));
    let result = signals_raw_data(&state, &params, &entity_type, &entity_code).await;
    envelope("signals", request_time, started, echoed, result)
}

/// The datasources asked for: vigie's signals, each with the name to answer
/// with (IODA's when the request used it).
fn datasources_of(params: &Params) -> Result<Option<Vec<(SignalKind, String)>>, ApiError> {
    let Some(text) = params.text("datasource") else {
        return Ok(None);
    };
    let mut out: Vec<(SignalKind, String)> = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .take(SignalKind::ALL.len() + IODA_DATASOURCES.len() + 1)
    {
        let kind = parse_ioda_datasource(name)?;
        if !out.iter().any(|(k, _)| *k == kind) {
            out.push((kind, name.to_ascii_lowercase()));
        }
    }
    Ok(Some(out))
}

/// The range and `maxPoints` to read so that values come at IODA's step
/// ([`ioda_step`], chosen on the range asked): `from` rounded down to the
/// step and `until` up, as IODA rounds, and as many points as steps.
fn ioda_window(
    bin: BinSize,
    from: UnixSecs,
    until: UnixSecs,
    max_points: Option<usize>,
) -> (UnixSecs, UnixSecs, Option<usize>) {
    let (from, until, step) = ioda_range(bin, from, until, max_points);
    if step <= i64::from(bin.secs()) {
        return (from, until, None);
    }
    (from, until, Some(((until - from) / step).max(1) as usize))
}

/// IODA's step for `[from, until)` and the range rounded out to it.
fn ioda_range(
    bin: BinSize,
    from: UnixSecs,
    until: UnixSecs,
    max_points: Option<usize>,
) -> (UnixSecs, UnixSecs, i64) {
    let step = i64::from(ioda_step(bin.secs(), until - from, max_points));
    if step <= i64::from(bin.secs()) {
        return (from, until, i64::from(bin.secs()));
    }
    let start = from.div_euclid(step) * step;
    let steps = (until - start + step - 1) / step;
    (start, start + steps * step, step)
}

async fn signals_raw_data(
    state: &AppState,
    params: &Params,
    entity_type: &str,
    entity_code: &str,
) -> Result<Box<RawValue>, ApiError> {
    let entities = entity_list(entity_type, entity_code)?;
    let single = entities.len() == 1;
    let (from, until) = required_range(params)?;
    let wanted = datasources_of(params)?;
    let max_points = params.max_points()?;
    let bin = params.bin()?;
    let (from, until, points) = ioda_window(bin, from, until, max_points);
    let mut limits = ReadLimits::of(state);
    limits.admit_range(Some(from), Some(until), bin.secs())?;
    state
        .with_store(move |store| {
            let signals: Option<Vec<SignalKind>> =
                wanted.as_ref().map(|w| w.iter().map(|(k, _)| *k).collect());
            let mut size = 0;
            let mut sets = Vec::with_capacity(entities.len());
            for entity in &entities {
                let windows = match read_windows(
                    store,
                    entity,
                    signals.as_deref(),
                    bin,
                    Some(from),
                    Some(until),
                    points,
                    &mut limits,
                ) {
                    Ok((_, windows)) => windows,
                    // Several entities: one without data gets an empty set,
                    // as IODA answers for an empty window.
                    Err(e) if !single && e.status == StatusCode::NOT_FOUND => Vec::new(),
                    Err(e) => return Err(e),
                };
                let mut series = Vec::with_capacity(windows.len());
                for w in &windows {
                    limits.check()?;
                    let r = &w.resampled;
                    let values = crate::data::values_json(&r.values);
                    size += values.len() + 300;
                    limits.check_size(size)?;
                    let datasource = wanted
                        .as_ref()
                        .and_then(|l| l.iter().find(|(k, _)| *k == w.key.signal))
                        .map(|(_, name)| name.clone())
                        .unwrap_or_else(|| w.key.signal.name().to_string());
                    series.push(IodaSeries {
                        entity_type: w.key.entity.kind().name(),
                        entity_code: w.key.entity.code(),
                        entity_name: w.name.clone().unwrap_or_else(|| w.key.entity.to_string()),
                        entity_fqid: fqid(&w.key.entity),
                        datasource,
                        subtype: "",
                        from: r.start,
                        until: r.end(),
                        step: r.step_secs,
                        native_step: r.native_step_secs,
                        values: RawValue::from_string(values)
                            .map_err(|e| ApiError::internal(format!("values: {e}")))?,
                    });
                }
                sets.push(series);
            }
            let text = serde_json::to_string(&sets)
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
    datasource: String,
    subtype: &'static str,
    from: UnixSecs,
    until: UnixSecs,
    step: u32,
    native_step: u32,
    values: Box<RawValue>,
}

/// IODA's fully qualified entity id: `geo.provider.<continent>.<cc>` for a
/// country (`geo.provider.AS.KZ`), the same followed by the region's name
/// for a region (IODA has a number there), `asn.<number>` for an AS. A
/// country of no known continent is `geo.provider.<cc>`.
pub fn fqid(entity: &Entity) -> String {
    let geo = |cc: &str| match continent_of(cc) {
        Some(continent) => format!("geo.provider.{continent}.{cc}"),
        None => format!("geo.provider.{cc}"),
    };
    match entity {
        Entity::Country(cc) => geo(cc.as_str()),
        Entity::Region(r) => format!("{}.{}", geo(r.country.as_str()), r.name),
        Entity::Asn(asn) => format!("asn.{asn}"),
    }
}

/// `GET /v2/signals/events/{entityType}/{entityCode}`: the entities'
/// outages as time series, in the shape of `/v2/signals/raw` with
/// datasource `outages`: per step, the IODA overall score of the incident
/// under way (the highest when several overlap), 0 when none.
#[utoipa::path(
    get,
    path = crate::paths::IODA_SIGNALS_EVENTS,
    summary = "IODA v2: outages as series",
    description = "Per entity code, one series of datasource outages: per step, the IODA overall score of the incident under way (0 when none); same shape as /v2/signals/raw.",
    params(crate::schemas::IodaEntityPath, crate::schemas::IodaSignalEventsQuery),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn signals_events(
    State(state): State<AppState>,
    Path((entity_type, entity_code)): Path<(String, String)>,
    Query(q): QueryMap,
) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let mut echoed = typed(
        &params,
        &[
            ("from", Typed::Int, Value::Null),
            ("until", Typed::Int, Value::Null),
            ("maxPoints", Typed::Int, Value::Null),
            ("method", Typed::Str, json!(DEFAULT_METHOD)),
        ],
    );
    echoed.insert("entityType".into(), json!(entity_type));
    echoed.insert("entityCode".into(), json!(entity_code));
    let result = signals_events_data(&state, &params, &entity_type, &entity_code).await;
    envelope("signals", request_time, started, echoed, result)
}

async fn signals_events_data(
    state: &AppState,
    params: &Params,
    entity_type: &str,
    entity_code: &str,
) -> Result<Value, ApiError> {
    let entities = entity_list(entity_type, entity_code)?;
    let (from, until) = required_range(params)?;
    let bin = BinSize::default();
    let (from, until, step) = ioda_range(bin, from, until, params.max_points()?);
    let steps = (until - from + step - 1) / step;
    let total = steps.saturating_mul(entities.len() as i64);
    if total > MAX_POINTS as i64 {
        return Err(ApiError::bad_request(format!(
            "the response would hold {total} points ({steps} per entity); pass maxPoints to downsample: at most {MAX_POINTS} in all"
        )));
    }
    let method = method_of(params);
    state
        .with_store(move |store| {
            let names = names(store)?;
            let mut sets = Vec::with_capacity(entities.len());
            for entity in &entities {
                let filter = ResultFilter {
                    entity: Some(entity.clone()),
                    method: Some(method.clone()),
                    from: Some(from),
                    until: Some(until),
                };
                let (incidents, _) = data::incidents(store, &filter)?;
                let mut values = vec![0.0f64; steps.max(0) as usize];
                for p in &incidents {
                    let i = &p.incident;
                    let end = i.end.unwrap_or(i.observed_until).max(i.start + 1);
                    if end <= from || i.start >= until {
                        continue;
                    }
                    let first = (i.start.max(from) - from) / step;
                    let last = ((end.min(until) - 1 - from) / step).min(steps - 1);
                    for k in first..=last {
                        let slot = &mut values[k as usize];
                        *slot = slot.max(i.ioda_overall_score);
                    }
                }
                sets.push(json!([{
                    "entityType": entity.kind().name(),
                    "entityCode": entity.code(),
                    "entityName": names.get(entity).cloned().unwrap_or_else(|| entity.to_string()),
                    "entityFqid": fqid(entity),
                    "datasource": "outages",
                    "subtype": "",
                    "from": from,
                    "until": until,
                    "step": step,
                    "nativeStep": bin.secs(),
                    "values": values.into_iter().map(ioda_number).collect::<Vec<_>>(),
                }]));
            }
            Ok(Value::Array(sets))
        })
        .await
}

/// A datasource as `/v2/datasources` lists it.
fn datasource_object(name: &str, kind: SignalKind) -> Value {
    json!({
        "datasource": name,
        "name": format!("{name} (vigie signal {})", kind.name()),
        "units": kind.unit(),
        "signal": kind.name(),
    })
}

/// `GET /v2/datasources`: IODA's datasource names, each with the vigie
/// signal it is served from and its units, then vigie's other signals.
#[utoipa::path(
    get,
    path = crate::paths::IODA_DATASOURCES,
    summary = "IODA v2: datasources",
    description = "IODA's datasource names, each with the vigie signal it is read from and its units, then vigie's other signals: [{datasource, name, units, signal}].",
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn datasources() -> Response {
    let started = Instant::now();
    let mut list: Vec<Value> = IODA_DATASOURCES
        .iter()
        .map(|(name, kind)| datasource_object(name, *kind))
        .collect();
    for kind in SignalKind::ALL {
        if !IODA_DATASOURCES.iter().any(|(n, _)| *n == kind.name()) {
            list.push(datasource_object(kind.name(), kind));
        }
    }
    envelope(
        "datasources",
        now_secs(),
        started,
        Map::new(),
        Ok::<Value, ApiError>(Value::Array(list)),
    )
}

/// `GET /v2/datasources/`: [`datasources`] at the path IODA's documentation
/// writes.
#[utoipa::path(
    get,
    path = crate::paths::IODA_DATASOURCES_SLASH,
    summary = "IODA v2: datasources (IODA's spelling)",
    description = "The same as /v2/datasources, at the path IODA's documentation gives (/datasources/).",
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn datasources_slash() -> Response {
    datasources().await
}

/// `GET /v2/datasources/{datasource}`: one datasource, or a 400 naming the
/// accepted ones.
#[utoipa::path(
    get,
    path = crate::paths::IODA_DATASOURCE,
    summary = "IODA v2: one datasource",
    description = "One datasource {datasource, name, units, signal}; an unknown name is a 400 listing the accepted ones.",
    params(("datasource" = String, Path, description = "ucsd-nt, bgp, ping-slash24, … or a vigie signal name.")),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn datasource(Path(name): Path<String>) -> Response {
    let started = Instant::now();
    let result = parse_ioda_datasource(&name).map(|kind| datasource_object(&name, kind));
    envelope("datasources", now_secs(), started, Map::new(), result)
}

/// The world's countries as TopoJSON (world-atlas's 110m file, which the
/// dashboard's map draws), each geometry with its ISO 3166 alpha-2 code as
/// `usercode`, IODA's id field for countries.
fn country_topology() -> Result<&'static Value, ApiError> {
    static TOPOLOGY: OnceLock<Result<Value, String>> = OnceLock::new();
    TOPOLOGY
        .get_or_init(|| {
            let file = |path: &str| {
                crate::dashboard::asset(path)
                    .ok_or_else(|| format!("{path} is not embedded"))
                    .and_then(|a| {
                        serde_json::from_slice::<Value>(a.bytes).map_err(|e| e.to_string())
                    })
            };
            let mut topology = file("vendor/countries-110m.json")?;
            let codes = file("vendor/country-codes.json")?;
            if let Some(geometries) = topology
                .pointer_mut("/objects/countries/geometries")
                .and_then(Value::as_array_mut)
            {
                for g in geometries {
                    let code = g
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| codes.get(id))
                        .cloned()
                        .unwrap_or(Value::Null);
                    if let Some(props) = g.get_mut("properties").and_then(Value::as_object_mut) {
                        props.insert("usercode".into(), code);
                    }
                }
            }
            Ok(topology)
        })
        .as_ref()
        .map_err(|e| ApiError::internal(format!("the country map: {e}")))
}

/// `GET /v2/topo/{entityType}`: the map of the entity type as IODA gives it,
/// `data: {idField, topology}`. Countries only: vigie embeds the world's
/// countries (for its dashboard) and no geometry of regions, continents or
/// counties, which get a 404 saying so.
#[utoipa::path(
    get,
    path = crate::paths::IODA_TOPO,
    summary = "IODA v2: map of an entity type",
    description = "For country, {idField: usercode, topology}: the world's countries as TopoJSON (world-atlas 110m), each with its ISO alpha-2 code as usercode. region, continent and county: 404, vigie embeds no geometry for them.",
    params(("entityType" = String, Path, description = "country (continent, region and county answer 404).")),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn topo(Path(entity_type): Path<String>) -> Response {
    let started = Instant::now();
    let result = match entity_type.as_str() {
        "country" => country_topology().map(|t| {
            json!({
                "idField": "usercode",
                "topology": t,
                "source": "world-atlas countries-110m (Natural Earth, public domain)",
            })
        }),
        "region" | "continent" | "county" => Err(ApiError::not_found(format!(
            "no {entity_type} geometry: vigie embeds the map of the world's countries only (see /v2/topo/country)"
        ))),
        other => Err(ApiError::bad_request(format!(
            "Invalid entity type '{other}': use country (continent, region and county have no geometry here)"
        ))),
    };
    let mut echoed = Map::new();
    echoed.insert("entityType".into(), json!(entity_type));
    envelope("topo", now_secs(), started, echoed, result)
}

fn method_of(params: &Params) -> String {
    params.text("method").unwrap_or(DEFAULT_METHOD).to_string()
}

/// What every outage endpoint filters by.
struct OutageQuery {
    from: UnixSecs,
    until: UnixSecs,
    entities: Option<Vec<Entity>>,
    kind: Option<EntityKind>,
    signal: Option<SignalKind>,
    related: Option<Entity>,
    ignore: IgnoreMethods,
    extend: i64,
    method: String,
}

impl OutageQuery {
    fn parse(params: &Params, extend_default: i64) -> Result<OutageQuery, ApiError> {
        let (from, until) = required_range(params)?;
        Ok(OutageQuery {
            from,
            until,
            entities: entity_filter(params)?,
            kind: kind_filter(params)?,
            signal: params
                .text("datasource")
                .map(parse_ioda_datasource)
                .transpose()?,
            related: related_to(params)?,
            ignore: IgnoreMethods::parse(params)?,
            extend: extend_window(params, extend_default)?,
            method: method_of(params),
        })
    }

    /// The filter on the entity: listed, of the type, related.
    fn entity_filter(&self, store: &Store) -> Result<impl Fn(&Entity) -> bool + '_, ApiError> {
        let related = self
            .related
            .clone()
            .map(|target| Related::load(store, target))
            .transpose()?;
        Ok(move |e: &Entity| {
            self.entities.as_ref().is_none_or(|l| l.contains(e))
                && self.kind.is_none_or(|k| e.kind() == k)
                && related.as_ref().is_none_or(|r| r.contains(e))
        })
    }

    /// The events of the query: overlapping `[from, until)`, started at
    /// most `extendWindow` before `from` when `by_start`, of the
    /// datasource, not ignored.
    fn events(&self, store: &Store, by_start: bool) -> Result<Vec<StoredEvent>, ApiError> {
        let base = ResultFilter {
            entity: None,
            method: Some(self.method.clone()),
            from: Some(self.from),
            until: Some(self.until),
        };
        let mut out = Vec::new();
        match &self.entities {
            Some(list) => {
                for entity in list {
                    let filter = ResultFilter {
                        entity: Some(entity.clone()),
                        ..base.clone()
                    };
                    out.extend(data::events(store, &filter, self.signal)?);
                }
                out.sort_by_key(|e| e.start);
            }
            None => out = data::events(store, &base, self.signal)?,
        }
        let keep = self.entity_filter(store)?;
        Ok(out
            .into_iter()
            .filter(|e| keep(&e.key.entity))
            .filter(|e| !by_start || e.start >= self.from - self.extend)
            .filter(|e| !self.ignore.ignores(e.key.signal, &e.method))
            .collect())
    }
}

fn names(store: &Store) -> Result<HashMap<Entity, String>, ApiError> {
    Ok(store.entity_names()?.into_iter().collect())
}

/// One alert: an event starting (`critical`) or ending (`normal`) at `time`.
fn alert_object(
    store: &Store,
    names: &HashMap<Entity, String>,
    event: &StoredEvent,
    time: UnixSecs,
    is_start: bool,
) -> Result<Value, ApiError> {
    let value = value_at(store, &event.key, event.bin, time)?;
    let history = serde_json::from_str::<Value>(&event.detail)
        .ok()
        .and_then(|d| d.get("baseline").and_then(Value::as_f64));
    Ok(json!({
        "datasource": event.key.signal.name(),
        "entity": entity_object(&event.key.entity, names.get(&event.key.entity).map(String::as_str)),
        "time": time,
        "level": if is_start { "critical" } else { "normal" },
        "condition": if is_start { "<" } else { ">=" },
        "value": value.map(ioda_number),
        "historyValue": history.map(ioda_number),
        "method": event.method,
    }))
}

/// `GET /v2/outages/alerts`: one alert when an event starts (`critical`) and
/// one when it ends (`normal`), with the signal's value at that bin and the
/// detector's baseline as `historyValue`; alerts up to `extendWindow`
/// seconds (default 0) outside the range are included.
#[utoipa::path(
    get,
    path = crate::paths::IODA_ALERTS,
    summary = "IODA v2: alerts",
    description = "Alerts {datasource, entity, time, level, condition, value, historyValue, method}: `critical` when an event starts, `normal` when it ends.",
    params(crate::schemas::IodaOutageQuery, crate::schemas::DatasourceFilter, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn alerts(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = typed(&params, &outage_specs(0, Value::Null));
    let result = alerts_data(&state, params).await;
    envelope("outages.alerts", request_time, started, echoed, result)
}

async fn alerts_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let query = OutageQuery::parse(&params, 0)?;
    let page = params.page()?;
    state
        .with_store(move |store| {
            // Events from as far back as the window is extended.
            let wide = OutageQuery {
                from: query.from - query.extend,
                until: query.until + query.extend,
                extend: 0,
                ..query
            };
            // Every event overlapping the widened range: its transitions
            // inside it are the alerts.
            let events = wide.events(store, false)?;
            let names = names(store)?;
            let window = wide.from..wide.until;
            let mut transitions: Vec<(UnixSecs, &StoredEvent, bool)> = Vec::new();
            for e in &events {
                if window.contains(&e.start) {
                    transitions.push((e.start, e, true));
                }
                if let Some(end) = e.end.filter(|t| window.contains(t)) {
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
                out.push(alert_object(store, &names, event, time, is_start)?);
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
/// `ioda` format; `overall=true` merges signals (vigie's incidents);
/// `includeAlerts` adds each event's alerts (ioda format).
#[utoipa::path(
    get,
    path = crate::paths::IODA_EVENTS,
    operation_id = "ioda_events",
    summary = "IODA v2: events",
    description = "Events in IODA's codf format {location, location_name, start, duration, uncertainty, method, datasource, status, fraction, score, overlaps_window} or ioda format {entity, from, until, score, datasource, method}.",
    params(crate::schemas::IodaOutageQuery, crate::schemas::DatasourceFilter, crate::schemas::IodaEventsQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn events(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let mut specs = outage_specs(
        EVENTS_EXTEND_WINDOW,
        json!(crate::params::DEFAULT_PAGE_SIZE),
    );
    specs.extend([
        ("includeAlerts", Typed::Bool, json!(false)),
        ("format", Typed::Str, json!("codf")),
        ("orderBy", Typed::Str, Value::Null),
        ("overall", Typed::Bool, json!(false)),
    ]);
    let echoed = typed(&params, &specs);
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
    /// The stored events it stands for (their alerts for `includeAlerts`).
    parts: Vec<StoredEvent>,
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
    let query = OutageQuery::parse(&params, EVENTS_EXTEND_WINDOW)?;
    let page = params.page()?;
    let format = params.text("format").unwrap_or("codf").to_string();
    if format != "codf" && format != "ioda" {
        return Err(ApiError::bad_request(format!(
            "invalid format {format} (must be one of the following ['codf', 'ioda'])"
        )));
    }
    let overall = parse_bool(&params, "overall")?;
    let include_alerts = parse_bool(&params, "includeAlerts")?;
    let (order_key, descending) = order_by(&params, ("time", false))?;
    state
        .with_store(move |store| {
            let (from, until) = (query.from, query.until);
            let events = query.events(store, true)?;
            let mut flat: Vec<FlatEvent> = if overall {
                let filter = ResultFilter {
                    entity: None,
                    method: Some(query.method.clone()),
                    from: Some(from),
                    until: Some(until),
                };
                let (all, _) = data::incidents(store, &filter)?;
                let keep = query.entity_filter(store)?;
                all.into_iter()
                    .map(|p| p.incident)
                    .filter(|i| keep(&i.entity))
                    .filter(|i| i.start >= from - query.extend)
                    .filter_map(|i| {
                        // The signals' events inside the incident, not ignored.
                        let end = i.end.unwrap_or(i.observed_until);
                        let parts: Vec<StoredEvent> = events
                            .iter()
                            .filter(|e| e.key.entity == i.entity)
                            .filter(|e| {
                                e.start < end.max(i.start + 1) && e.end.is_none_or(|x| x > i.start)
                            })
                            .cloned()
                            .collect();
                        let ignored_all = !query.ignore.0.is_empty() && parts.is_empty();
                        (!ignored_all).then(|| FlatEvent {
                            entity: i.entity.clone(),
                            start: i.start,
                            end: i.end,
                            datasource: "overall".into(),
                            method: query.method.clone(),
                            score: i.ioda_overall_score,
                            parts,
                        })
                    })
                    .collect()
            } else {
                events
                    .into_iter()
                    .map(|e| FlatEvent {
                        entity: e.key.entity.clone(),
                        start: e.start,
                        end: e.end,
                        datasource: e.key.signal.name().to_string(),
                        method: e.method.clone(),
                        score: e.score.unwrap_or(0.0),
                        parts: vec![e],
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
            let mut out = Vec::with_capacity(chosen.len());
            for e in &chosen {
                let name = names.get(&e.entity).cloned();
                let end = e.end.unwrap_or(until).max(e.start);
                if format == "codf" {
                    out.push(json!({
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
                    }));
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
                        let mut alerts = Vec::new();
                        for part in &e.parts {
                            alerts.push(alert_object(store, &names, part, part.start, true)?);
                            if let Some(end) = part.end {
                                alerts.push(alert_object(store, &names, part, end, false)?);
                            }
                        }
                        if let Value::Object(map) = &mut v {
                            map.insert("alerts".into(), Value::Array(alerts));
                        }
                    }
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        })
        .await
}

/// `GET /v2/outages/summary`: per entity, `{scores: {overall, <datasource>…},
/// event_cnt, entity}`, ordered by `orderBy` (default `score/desc`).
#[utoipa::path(
    get,
    path = crate::paths::IODA_SUMMARY,
    operation_id = "ioda_summary",
    summary = "IODA v2: summary",
    description = "Per entity {scores: {overall, <datasource>…}, event_cnt, entity}, ordered by orderBy (default score/desc).",
    params(crate::schemas::IodaOutageQuery, crate::schemas::IodaSummaryQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn summary(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let mut specs = outage_specs(EVENTS_EXTEND_WINDOW, Value::Null);
    specs.push(("orderBy", Typed::Str, Value::Null));
    let echoed = typed(&params, &specs);
    let result = summary_data(&state, params).await;
    envelope("outages.summary", request_time, started, echoed, result)
}

async fn summary_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let query = OutageQuery::parse(&params, EVENTS_EXTEND_WINDOW)?;
    let page: Page = params.page()?;
    let (order_key, descending) = order_by(&params, ("score", true))?;
    state
        .with_store(move |store| {
            let all = data::summarize_where(
                store,
                &query.method,
                Some(query.from),
                Some(query.until),
                None,
                |i| i.start >= query.from - query.extend,
            )?;
            let keep = query.entity_filter(store)?;
            let mut chosen: Vec<_> = all
                .into_iter()
                .filter(|s| keep(&s.entity))
                .filter_map(|mut s| {
                    if query.ignore.0.is_empty() {
                        return Some(s);
                    }
                    s.signal_scores.retain(|signal, _| {
                        signal
                            .parse::<SignalKind>()
                            .is_ok_and(|k| !query.ignore.ignores(k, &query.method))
                    });
                    (!s.signal_scores.is_empty()).then_some(s)
                })
                .collect();
            match order_key.as_str() {
                "time" => chosen.sort_by(|a, b| a.latest_start.cmp(&b.latest_start)),
                "name" => chosen.sort_by(|a, b| {
                    let name = |s: &data::EntitySummary| {
                        s.name.clone().unwrap_or_else(|| s.entity.to_string())
                    };
                    name(a).cmp(&name(b))
                }),
                _ => chosen.sort_by(|a, b| a.overall_score.total_cmp(&b.overall_score)),
            }
            if descending {
                chosen.reverse();
            }
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

/// `GET /v2/entities/query`: entities by `entityType`, `entityCode`,
/// `relatedTo` and `search` (a substring of the code or name), as IODA
/// entity objects, in an envelope of type `entities.lookup`.
#[utoipa::path(
    get,
    path = crate::paths::IODA_ENTITIES,
    operation_id = "ioda_entities",
    summary = "IODA v2: entity query",
    description = "Entities {type, code, name, subnames, attrs: {fqid, …}} by type, code, relation or search text, in an envelope of type entities.lookup.",
    params(crate::schemas::IodaEntitiesQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn entities(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let started = Instant::now();
    let request_time = now_secs();
    let params = Params(q);
    let echoed = typed(
        &params,
        &[
            ("entityType", Typed::Str, Value::Null),
            ("entityCode", Typed::Str, Value::Null),
            ("relatedTo", Typed::Str, Value::Null),
            ("search", Typed::Str, Value::Null),
            ("limit", Typed::Int, Value::Null),
            ("page", Typed::Int, Value::Null),
        ],
    );
    let result = entities_data(&state, params).await;
    envelope("entities.lookup", request_time, started, echoed, result)
}

async fn entities_data(state: &AppState, params: Params) -> Result<Value, ApiError> {
    let kind = kind_filter(&params)?;
    let codes = entity_filter(&params)?;
    let related = related_to(&params)?;
    let search = params.text("search").map(str::to_string);
    let page = params.page()?;
    let listing = state.listing();
    state
        .with_store(move |store| {
            let found = data::search_entities(listing.entities(store)?, search.as_deref(), kind);
            let related = related.map(|t| Related::load(store, t)).transpose()?;
            let chosen: Vec<_> = found
                .into_iter()
                .filter(|i| codes.as_ref().is_none_or(|l| l.contains(&i.entity)))
                .filter(|i| related.as_ref().is_none_or(|r| r.contains(&i.entity)))
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
    fn fqids_are_iodas() {
        let fq = |e: &str| fqid(&e.parse().unwrap());
        assert_eq!(fq("KZ"), "geo.provider.AS.KZ");
        assert_eq!(fq("FR"), "geo.provider.EU.FR");
        assert_eq!(fq("KZ/Almaty"), "geo.provider.AS.KZ.Almaty");
        assert_eq!(fq("AS9198"), "asn.9198");
    }

    #[test]
    fn windows_fall_on_ioda_steps() {
        let bin = BinSize::default();
        // No maxPoints: the range as asked, native step.
        assert_eq!(ioda_window(bin, 1000, 90_000, None), (1000, 90_000, None));
        // A day in 100 points: 15-minute steps from a step boundary.
        let (from, until, points) = ioda_window(bin, 1_700_000_100, 1_700_086_500, Some(100));
        assert_eq!(from % 900, 0);
        assert_eq!(until % 900, 0);
        assert!(from <= 1_700_000_100 && until >= 1_700_086_500);
        assert_eq!(points, Some(((until - from) / 900) as usize));
    }

    #[test]
    fn order_by_is_checked() {
        let p = |v: &str| {
            Params(
                [("orderBy".to_string(), v.to_string())]
                    .into_iter()
                    .collect(),
            )
        };
        assert_eq!(
            order_by(&p("score/desc"), ("time", false)).unwrap(),
            ("score".into(), true)
        );
        assert_eq!(
            order_by(&p("name"), ("time", true)).unwrap(),
            ("name".into(), false)
        );
        for bad in ["score/down", "size", "time/asc/x"] {
            assert_eq!(
                order_by(&p(bad), ("time", false))
                    .unwrap_err()
                    .status
                    .as_u16(),
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn too_many_codes_are_refused() {
        let codes = (0..10_000)
            .map(|i| format!("{}", 64_512 + i))
            .collect::<Vec<_>>()
            .join(",");
        let err = entity_list("asn", &codes).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert_eq!(entity_list("country", "KZ, IQ,KZ").unwrap().len(), 2);
    }

    #[test]
    fn times_are_written_like_php_date_c() {
        assert_eq!(iso_offset(1_706_745_600), "2024-02-01T00:00:00+00:00");
    }
}
