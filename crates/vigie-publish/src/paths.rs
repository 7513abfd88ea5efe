//! Route paths, shared by the router and the OpenAPI document (a test keeps
//! them equal).

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
/// Incidents as an Atom feed (`?entity=` for one entity's).
pub const INCIDENTS_ATOM: &str = "/api/v1/incidents.atom";
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
/// IODA v2 outages as time series.
pub const IODA_SIGNALS_EVENTS: &str = "/v2/signals/events/{entityType}/{entityCode}";
/// IODA v2 datasources.
pub const IODA_DATASOURCES: &str = "/v2/datasources";
/// IODA v2 datasources, as IODA's documentation writes it (trailing slash).
pub const IODA_DATASOURCES_SLASH: &str = "/v2/datasources/";
/// IODA v2 one datasource.
pub const IODA_DATASOURCE: &str = "/v2/datasources/{datasource}";
/// IODA v2 map of an entity type (TopoJSON).
pub const IODA_TOPO: &str = "/v2/topo/{entityType}";
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

/// One entity's chart alone, framable (`/embed/country/KZ`), as documented.
pub const EMBED: &str = "/embed/{entityType}/{code}";
/// [`EMBED`] as routed: a region's code holds a `/` (`PS/Gaza Strip`).
pub const EMBED_ROUTE: &str = "/embed/{entityType}/{*code}";

/// Every GET route the server answers.
pub const ALL_GET: [&str; 24] = [
    ENTITIES,
    SIGNALS,
    SIGNALS_CSV,
    EVENTS,
    INCIDENTS,
    INCIDENT,
    INCIDENTS_ATOM,
    SUMMARY,
    OPENAPI,
    IODA_SIGNALS_RAW,
    IODA_ALERTS,
    IODA_EVENTS,
    IODA_SUMMARY,
    IODA_ENTITIES,
    IODA_SIGNALS_EVENTS,
    IODA_DATASOURCES,
    IODA_DATASOURCES_SLASH,
    IODA_DATASOURCE,
    IODA_TOPO,
    METRICS,
    ANNOTATIONS,
    SUBSCRIPTIONS,
    COVERAGE,
    EMBED,
];
