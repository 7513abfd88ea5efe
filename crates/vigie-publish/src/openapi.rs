//! The OpenAPI 3.0 document of the HTTP API, written by hand and served at
//! `/api/v1/openapi.json`. A test keeps its paths equal to the router's.

use axum::Json;
use serde_json::{json, Map, Value};

use crate::paths;

fn param(name: &str, description: &str, kind: &str, required: bool) -> Value {
    json!({
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": { "type": kind },
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn time(name: &str, required: bool) -> Value {
    param(
        name,
        "Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).",
        "string",
        required,
    )
}

fn page() -> [Value; 3] {
    [
        param(
            "limit",
            "Page size, 1..10000 (default 500).",
            "integer",
            false,
        ),
        param("offset", "Items to skip.", "integer", false),
        param(
            "page",
            "Page number (IODA style): skips page × limit items.",
            "integer",
            false,
        ),
    ]
}

fn operation(
    summary: &str,
    description: &str,
    parameters: Vec<Value>,
    content_type: &str,
) -> Value {
    json!({
        "get": {
            "summary": summary,
            "description": description,
            "parameters": parameters,
            "responses": {
                "200": { "description": "Success.", "content": { content_type: { "schema": { "type": if content_type == "application/json" { "object" } else { "string" } } } } },
                "400": { "description": "Invalid parameter, range or page size: the body says which and why.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "404": { "description": "Nothing matches.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "503": { "description": "Busy: every slot for heavy series reads is taken, or the request was not answered in time; the Retry-After header says when to try again.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        }
    })
}

fn with(mut base: Vec<Value>, more: impl IntoIterator<Item = Value>) -> Vec<Value> {
    base.extend(more);
    base
}

/// The OpenAPI document.
pub fn document() -> Value {
    let json_type = "application/json";
    let series_params = || {
        vec![
            param("entity", "Entity: IQ, AS9198 or KZ/Almaty.", "string", true),
            param("signal", "Signal name(s), comma-separated (bgp, ping-slash24, merit-nt, gtr, …); all when absent.", "string", false),
            time("from", false),
            time("until", false),
            param("maxPoints", "Downsample (mean of each group of bins) to at most this many points, 1..200000.", "integer", false),
            param("binSecs", "The series' bin size in seconds (default 300).", "integer", false),
        ]
    };
    let result_params = || {
        vec![
            param("entity", "Only this entity.", "string", false),
            time("from", false),
            time("until", false),
            param(
                "method",
                "Detector: vigie (default) or ioda-median.",
                "string",
                false,
            ),
        ]
    };
    let ioda_outage_params = |extra: Vec<Value>| {
        with(
            vec![
                time("from", true),
                time("until", true),
                param("entityType", "country, asn or region.", "string", false),
                param(
                    "entityCode",
                    "Entity code(s), comma-separated; regions are COUNTRY/Name.",
                    "string",
                    false,
                ),
                param(
                    "method",
                    "vigie extension: detector, vigie (default) or ioda-median.",
                    "string",
                    false,
                ),
                param("relatedTo", "Only entities related to this one, as type/code: country/KZ gives KZ's regions and the ASes originating address space in KZ; region/KZ/Almaty gives KZ; asn/9198 gives its countries.", "string", false),
                param("ignoreMethods", "Leave out <datasource>.<method> terms, comma-separated, * for any (bgp.*, *.ioda-median).", "string", false),
                param("extendWindow", "Seconds before `from` an event may have started (events, summary: default 1209600) or, for alerts, seconds around the range searched (default 0); at most a year.", "integer", false),
            ],
            with(extra, page()),
        )
    };
    let mut paths_map = Map::new();
    let mut add = |path: &str, value: Value| {
        paths_map.insert(path.to_string(), value);
    };
    add(
        paths::ENTITIES,
        operation(
            "Search entities",
            "Entities whose code or name contains `search`, with each signal's latest value.",
            with(
                vec![
                    param("search", "Substring of the code or name.", "string", false),
                    param("kind", "country, asn or region.", "string", false),
                ],
                page(),
            ),
            json_type,
        ),
    );
    add(paths::SIGNALS, operation("An entity's series", "Values per bin (null is no data, never zero) from `from` to `until` (default: the last 7 days with data), downsampled to `maxPoints`. Years may be asked for: no 100-day cap. For an AS, `country` names the country holding most of its /24s (from BGP), when known. `zone` is the IANA zone of the entity's local time, as reports use it: the region's where known, else the country's main zone.", series_params(), json_type));
    add(paths::SIGNALS_CSV, operation("An entity's series as CSV", "`time,entity,signal,value`, the long CSV that `vigie import csv` reads; no data is an empty value.", series_params(), "text/csv"));
    add(
        paths::EVENTS,
        operation(
            "Signal events",
            "Outage events found in single series, overlapping the range.",
            with(
                with(
                    result_params(),
                    [param("signal", "Only this signal.", "string", false)],
                ),
                page(),
            ),
            json_type,
        ),
    );
    add(paths::INCIDENTS, operation("Incidents", "Outages per entity, all signals fused: onset, end, depth, mechanism, scope, restoration windows, affected networks. Ids are ENTITY@START.",
        with(result_params(), page()), json_type));
    add(paths::INCIDENTS_ATOM, operation("Incidents as an Atom feed", "The latest incidents, newest first, as Atom (application/atom+xml): one entry per incident, id urn:vigie:incident:METHOD:ENTITY@START. 404 for an entity the store has no series of.",
        vec![param("entity", "Only this entity's incidents (IQ, AS9198, KZ/Almaty).", "string", false), param("method", "Detector (default vigie).", "string", false), param("limit", "Entries (1..=500, default 50).", "integer", false)], "application/atom+xml"));
    add(paths::INCIDENT, operation("One incident", "An incident by id (ENTITY@START_UNIX_SECS, URL-encoded), with the detector's full record.",
        vec![path_param("id", "ENTITY@START_UNIX_SECS, such as IQ@1692514800."), param("method", "Detector (default vigie).", "string", false)], json_type));
    add(paths::SUMMARY, operation("Outage summary", "Per entity: incidents, ongoing ones, outage seconds in the range, deepest drop, IODA-style scores; store totals.",
        with(result_params(), page()), json_type));
    add(
        paths::OPENAPI,
        operation(
            "This document",
            "The OpenAPI 3.0 description of the API.",
            vec![],
            json_type,
        ),
    );
    add(paths::IODA_SIGNALS_RAW, operation("IODA v2: raw signals", "IODA's `/v2/signals/raw` with the same parameters and envelope; data is one set per entity code, [[{entityType, entityCode, entityName, entityFqid, datasource, subtype, from, until, step, nativeStep, values}], …]. With maxPoints the step is one of IODA's (60 s to 10 years). No 100-day cap.",
        vec![
            path_param("entityType", "country, asn or region."),
            path_param("entityCode", "IQ, 9198 or KZ/Almaty (URL-encoded); up to 100 codes, comma-separated."),
            time("from", true), time("until", true),
            param("datasource", "IODA datasource(s), comma-separated: bgp, ping-slash24, ucsd-nt, merit-nt, gtr, gtr-sarima, gtr-norm, mozilla, or vigie's signal names; an unknown name is a 400 listing them.", "string", false),
            param("sourceParams", "Accepted for compatibility, unused.", "string", false),
            param("maxPoints", "Downsample to at most this many points, at IODA's steps.", "integer", false),
        ], json_type));
    add(paths::IODA_SIGNALS_EVENTS, operation("IODA v2: outages as series", "Per entity code, one series of datasource outages: per step, the IODA overall score of the incident under way (0 when none); same shape as /v2/signals/raw.",
        vec![
            path_param("entityType", "country, asn or region."),
            path_param("entityCode", "IQ, 9198 or KZ/Almaty (URL-encoded); up to 100 codes, comma-separated."),
            time("from", true), time("until", true),
            param("maxPoints", "At most this many points, at IODA's steps.", "integer", false),
            param("method", "vigie extension: detector, vigie (default) or ioda-median.", "string", false),
        ], json_type));
    add(paths::IODA_DATASOURCES, operation("IODA v2: datasources", "IODA's datasource names, each with the vigie signal it is read from and its units, then vigie's other signals: [{datasource, name, units, signal}].", vec![], json_type));
    add(
        paths::IODA_DATASOURCES_SLASH,
        operation(
            "IODA v2: datasources (IODA's spelling)",
            "The same as /v2/datasources, at the path IODA's documentation gives (/datasources/).",
            vec![],
            json_type,
        ),
    );
    add(paths::IODA_DATASOURCE, operation("IODA v2: one datasource", "One datasource {datasource, name, units, signal}; an unknown name is a 400 listing the accepted ones.",
        vec![path_param("datasource", "ucsd-nt, bgp, ping-slash24, … or a vigie signal name.")], json_type));
    add(paths::IODA_TOPO, operation("IODA v2: map of an entity type", "For country, {idField: usercode, topology}: the world's countries as TopoJSON (world-atlas 110m), each with its ISO alpha-2 code as usercode. region, continent and county: 404, vigie embeds no geometry for them.",
        vec![path_param("entityType", "country (continent, region and county answer 404).")], json_type));
    add(paths::IODA_ALERTS, operation("IODA v2: alerts", "Alerts {datasource, entity, time, level, condition, value, historyValue, method}: `critical` when an event starts, `normal` when it ends.",
        ioda_outage_params(vec![param("datasource", "Only this signal.", "string", false)]), json_type));
    add(paths::IODA_EVENTS, operation("IODA v2: events", "Events in IODA's codf format {location, location_name, start, duration, uncertainty, method, datasource, status, fraction, score, overlaps_window} or ioda format {entity, from, until, score, datasource, method}.",
        ioda_outage_params(vec![
            param("datasource", "Only this signal.", "string", false),
            param("format", "codf (default) or ioda.", "string", false),
            param("includeAlerts", "ioda format: add an alerts list.", "boolean", false),
            param("overall", "Merge signals (vigie incidents), datasource overall.", "boolean", false),
            param("orderBy", "time, score or name, with /asc or /desc (default time/asc); anything else is a 400.", "string", false),
        ]), json_type));
    add(paths::IODA_SUMMARY, operation("IODA v2: summary", "Per entity {scores: {overall, <datasource>…}, event_cnt, entity}, ordered by orderBy (default score/desc).",
        ioda_outage_params(vec![param("orderBy", "time, score or name, with /asc or /desc (default score/desc); anything else is a 400.", "string", false)]), json_type));
    add(
        paths::IODA_ENTITIES,
        operation(
            "IODA v2: entity query",
            "Entities {type, code, name, subnames, attrs: {fqid, …}} by type, code, relation or search text, in an envelope of type entities.lookup.",
            with(
                vec![
                    param("entityType", "country, asn or region.", "string", false),
                    param("entityCode", "Code(s), comma-separated.", "string", false),
                    param("relatedTo", "Only entities related to this one, as type/code (country/KZ: its regions and ASes).", "string", false),
                    param("search", "Substring of the code or name.", "string", false),
                ],
                page(),
            ),
            json_type,
        ),
    );
    add(paths::COVERAGE, operation("Store coverage", "The data span (from, until) and, per country, the number of its own series, of its regions with series, and the end of its latest data (latestEnd); ASes are only counted (asns).", vec![], json_type));
    add(paths::EMBED, operation("Embeddable chart", "One entity's chart alone (HTML), framable by the configured origins; query: from, until, scale=raw, lang=fr.",
        vec![
            path_param("entityType", "country, asn or region."),
            path_param("code", "IQ, 9198 or KZ/Almaty (URL-encoded)."),
            param("from", "Start of the chart (as the dashboard takes it).", "string", false),
            param("until", "End of the chart.", "string", false),
            param("scale", "raw for raw values, each signal on its own axis.", "string", false),
            param("lang", "en or fr.", "string", false),
        ], "text/html"));
    add(paths::METRICS, operation("Prometheus metrics", "Request counts and latency histograms per route, store gauges, and the process's sources (bins, BGP updates and peers, flow datagrams, probes), live detector and alert worker, in the Prometheus text format.", vec![], "text/plain"));
    let mut annotations = operation(
        "List annotations",
        "External events (such as a televised address) of an entity overlapping the range.",
        with(
            vec![
                param("entity", "Only this entity.", "string", false),
                time("from", false),
                time("until", false),
            ],
            page(),
        ),
        json_type,
    );
    if let Value::Object(map) = &mut annotations {
        map.insert(
            "post".into(),
            json!({
                "summary": "Add an annotation",
                "description": "Needs `Authorization: Bearer <token>` (the server's VIGIE_API_TOKEN). Body at most 64 KiB.",
                "security": [{ "bearer": [] }],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "required": ["entity", "time", "text"],
                        "properties": {
                            "entity": { "type": "string", "description": "IQ, AS9198 or KZ/Almaty." },
                            "time": { "type": "string", "description": "ISO 8601 UTC or Unix seconds." },
                            "until": { "type": "string", "description": "End, for a span." },
                            "text": { "type": "string", "maxLength": 500 },
                            "url": { "type": "string", "description": "http(s) source." }
                        }
                    } } }
                },
                "responses": {
                    "201": { "description": "Stored; the body is the annotation." },
                    "400": { "description": "Invalid body.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "401": { "description": "Missing or wrong token." },
                    "403": { "description": "Writes are disabled on this server." },
                    "413": { "description": "Body too large (refused from its Content-Length, unread)." },
                    "415": { "description": "The body is not sent as Content-Type: application/json." },
                    "429": { "description": "Too many wrong tokens from this address in the last minute; see Retry-After." }
                }
            }),
        );
    }
    paths_map.insert(paths::ANNOTATIONS.to_string(), annotations);
    paths_map.insert(
        paths::SUBSCRIPTIONS.to_string(),
        json!({
            "get": {
                "summary": "List alert subscriptions",
                "description": "Needs the bearer token. Subscriptions (without secrets) and outbox counts.",
                "security": [{ "bearer": [] }],
                "parameters": [],
                "responses": { "200": { "description": "Success." }, "401": { "description": "Missing or wrong token." }, "403": { "description": "Writes are disabled." }, "429": { "description": "Too many wrong tokens from this address in the last minute; see Retry-After." } }
            },
            "post": {
                "summary": "Subscribe to an entity's incidents",
                "description": "Needs the bearer token. Webhook deliveries are JSON POSTs signed with X-Vigie-Signature: sha256=<hex HMAC-SHA256 of the body>, identified by X-Vigie-Delivery, retried with backoff. Targets resolving to loopback, private, link-local, reserved or documentation addresses, or to an IPv6 form embedding an IPv4 address, are refused.",
                "security": [{ "bearer": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["entity", "notices", "target", "secret"],
                    "properties": {
                        "entity": { "type": "string" },
                        "notices": { "type": "array", "items": { "type": "string", "enum": ["start", "restoration", "end", "feed-health"] } },
                        "target": { "type": "string", "description": "http(s) URL." },
                        "secret": { "type": "string", "minLength": 16, "maxLength": 256 },
                        "format": { "type": "string", "enum": ["json", "slack"], "default": "json", "description": "slack: a chat message (text and attachments) for Slack or Mattermost incoming webhooks." }
                    }
                } } } },
                "responses": { "201": { "description": "Stored." }, "400": { "description": "Invalid body or refused target." }, "401": { "description": "Missing or wrong token." }, "403": { "description": "Writes are disabled." }, "413": { "description": "Body too large (refused from its Content-Length, unread)." }, "415": { "description": "The body is not sent as Content-Type: application/json." }, "429": { "description": "Too many wrong tokens from this address in the last minute; see Retry-After." } }
            }
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "vigie API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only API of a vigie Internet shutdown observatory: a native JSON API under /api/v1 and IODA v2-compatible endpoints under /v2. Times are UTC. Read endpoints (GET, HEAD and their CORS preflight) answer any origin with Access-Control-Allow-Origin: *, as IODA does; the token-protected writes and the dashboard send no CORS header.",
            "license": { "name": "Apache-2.0 OR MIT" }
        },
        "paths": paths_map,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "error": { "type": "string", "description": "What is wrong and what to change." } },
                    "required": ["error"]
                }
            }
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exactly_the_routes_served() {
        let doc = document();
        let documented: std::collections::BTreeSet<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let served: std::collections::BTreeSet<&str> = paths::ALL_GET.into_iter().collect();
        assert_eq!(documented, served);
        for (path, item) in doc["paths"].as_object().unwrap() {
            let op = &item["get"];
            assert!(op["summary"].is_string(), "{path} has no summary");
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{}}}", p["name"].as_str().unwrap())),
                        "{path}: {p}"
                    );
                }
            }
        }
    }
}
