//! The shapes the OpenAPI document describes (see [`crate::openapi`]): the
//! query parameters of each operation (`IntoParams`; the handlers read
//! their query strings as maps, [`crate::params::Params`], so that every
//! bad value gets a 400 naming it, and these structs only describe them),
//! the response bodies (`ToSchema`) and the errors every read may answer.
//! Kept apart from the document, which names the handlers, so that the
//! handlers can name these without a circle.

use std::collections::BTreeMap;

use serde_json::Value;

use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::{ContentBuilder, RefOr, Response};
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// The body of every error: `{"error": "..."}`.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// What is wrong and what to change.
    pub error: String,
}

/// The errors any read may answer: 400, 404 and 503, each with an
/// [`ErrorBody`].
pub struct ReadErrors;

impl IntoResponses for ReadErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            ErrorBody::name(),
                        ))))
                        .build(),
                )
                .build()
        };
        ResponsesBuilder::new()
            .response("400", error("Invalid parameter, range or page size: the body says which and why."))
            .response("404", error("Nothing matches."))
            .response("503", error("Busy: every slot for heavy series reads is taken, or the request was not answered in time; the Retry-After header says when to try again."))
            .build()
            .into()
    }
}

/// Paging of list endpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    /// Page size, 1..10000 (default 500).
    #[param(required = false, minimum = 1, maximum = 10000)]
    limit: u64,
    /// Items to skip.
    #[param(required = false)]
    offset: u64,
    /// Page number (IODA style): skips page × limit items.
    #[param(required = false)]
    page: u64,
}

/// The parameters of `/api/v1/signals` and `/api/v1/signals.csv`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SeriesQuery {
    /// Entity: IQ, AS9198 or KZ/Almaty.
    entity: String,
    /// Signal name(s), comma-separated (bgp, ping-slash24, merit-nt, gtr, …); all when absent.
    #[param(required = false)]
    signal: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    until: String,
    /// Downsample (mean of each group of bins) to at most this many points, 1..200000.
    #[param(rename = "maxPoints", required = false, minimum = 1, maximum = 200000)]
    max_points: u64,
    /// The series' bin size in seconds (default 300).
    #[param(rename = "binSecs", required = false)]
    bin_secs: u64,
}

/// The filter of detection results (events, incidents, summary).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ResultQuery {
    /// Only this entity.
    #[param(required = false)]
    entity: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    until: String,
    /// Detector: vigie (default) or ioda-median.
    #[param(required = false)]
    method: String,
}

/// One signal only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SignalFilter {
    /// Only this signal.
    #[param(required = false)]
    signal: String,
}

/// The parameters of the Atom feed.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FeedQuery {
    /// Only this entity's incidents (IQ, AS9198, KZ/Almaty).
    #[param(required = false)]
    entity: String,
    /// Detector (default vigie).
    #[param(required = false)]
    method: String,
    /// Entries (1..=500, default 50).
    #[param(required = false, minimum = 1, maximum = 500)]
    limit: u64,
}

/// The detector whose incident is read.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MethodQuery {
    /// Detector (default vigie).
    #[param(required = false)]
    method: String,
}

/// The entity of an IODA series path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct IodaEntityPath {
    /// country, asn or region.
    #[param(rename = "entityType")]
    entity_type: String,
    /// IQ, 9198 or KZ/Almaty (URL-encoded); up to 100 codes, comma-separated.
    #[param(rename = "entityCode")]
    entity_code: String,
}

/// The parameters of IODA's `/v2/signals/raw`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaRawQuery {
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    until: String,
    /// IODA datasource(s), comma-separated: bgp, ping-slash24, ucsd-nt, merit-nt, gtr, gtr-sarima, gtr-norm, mozilla, or vigie's signal names; an unknown name is a 400 listing them.
    #[param(required = false)]
    datasource: String,
    /// Accepted for compatibility, unused.
    #[param(rename = "sourceParams", required = false)]
    source_params: String,
    /// Downsample to at most this many points, at IODA's steps.
    #[param(rename = "maxPoints", required = false)]
    max_points: u64,
}

/// The parameters of IODA's `/v2/signals/events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaSignalEventsQuery {
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    until: String,
    /// At most this many points, at IODA's steps.
    #[param(rename = "maxPoints", required = false)]
    max_points: u64,
    /// vigie extension: detector, vigie (default) or ioda-median.
    #[param(required = false)]
    method: String,
}

/// The parameters shared by IODA's `/v2/outages/...`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaOutageQuery {
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    until: String,
    /// country, asn or region.
    #[param(rename = "entityType", required = false)]
    entity_type: String,
    /// Entity code(s), comma-separated; regions are COUNTRY/Name.
    #[param(rename = "entityCode", required = false)]
    entity_code: String,
    /// vigie extension: detector, vigie (default) or ioda-median.
    #[param(required = false)]
    method: String,
    /// Only entities related to this one, as type/code: country/KZ gives KZ's regions and the ASes originating address space in KZ; region/KZ/Almaty gives KZ; asn/9198 gives its countries.
    #[param(rename = "relatedTo", required = false)]
    related_to: String,
    /// Leave out <datasource>.<method> terms, comma-separated, * for any (bgp.*, *.ioda-median).
    #[param(rename = "ignoreMethods", required = false)]
    ignore_methods: String,
    /// Seconds before `from` an event may have started (events, summary: default 1209600) or, for alerts, seconds around the range searched (default 0); at most a year.
    #[param(rename = "extendWindow", required = false)]
    extend_window: u64,
}

/// One datasource only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DatasourceFilter {
    /// Only this signal.
    #[param(required = false)]
    datasource: String,
}

/// The parameters of IODA's `/v2/outages/events` beside the shared ones.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaEventsQuery {
    /// codf (default) or ioda.
    #[param(required = false)]
    format: String,
    /// ioda format: add an alerts list.
    #[param(rename = "includeAlerts", required = false)]
    include_alerts: bool,
    /// Merge signals (vigie incidents), datasource overall.
    #[param(required = false)]
    overall: bool,
    /// time, score or name, with /asc or /desc (default time/asc); anything else is a 400.
    #[param(rename = "orderBy", required = false)]
    order_by: String,
}

/// The order of IODA's `/v2/outages/summary`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaSummaryQuery {
    /// time, score or name, with /asc or /desc (default score/desc); anything else is a 400.
    #[param(rename = "orderBy", required = false)]
    order_by: String,
}

/// The parameters of IODA's `/v2/entities/query`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IodaEntitiesQuery {
    /// country, asn or region.
    #[param(rename = "entityType", required = false)]
    entity_type: String,
    /// Code(s), comma-separated.
    #[param(rename = "entityCode", required = false)]
    entity_code: String,
    /// Only entities related to this one, as type/code (country/KZ: its regions and ASes).
    #[param(rename = "relatedTo", required = false)]
    related_to: String,
    /// Substring of the code or name.
    #[param(required = false)]
    search: String,
}

/// The parameters of `/api/v1/entities`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EntitiesQuery {
    /// Substring of the code or name.
    #[param(required = false)]
    search: String,
    /// country, asn or region.
    #[param(required = false)]
    kind: String,
}

/// The entity of an embedded chart.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EmbedPath {
    /// country, asn or region.
    #[param(rename = "entityType")]
    entity_type: String,
    /// IQ, 9198 or KZ/Almaty (URL-encoded).
    code: String,
}

/// The options of an embedded chart.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EmbedQuery {
    /// Start of the chart (as the dashboard takes it).
    #[param(required = false)]
    from: String,
    /// End of the chart.
    #[param(required = false)]
    until: String,
    /// raw for raw values, each signal on its own axis.
    #[param(required = false)]
    scale: String,
    /// en or fr.
    #[param(required = false)]
    lang: String,
}

/// The range of listed annotations.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnnotationsQuery {
    /// Only this entity.
    #[param(required = false)]
    entity: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    from: String,
    /// Unix seconds, ISO 8601 UTC (2023-08-20T03:00:00Z), now, or relative to now as IODA accepts (-24h, -7d, +30min).
    #[param(required = false)]
    until: String,
}

/// A window in which an incident's signals came back.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Restoration {
    /// ISO 8601 UTC.
    start: String,
    /// ISO 8601 UTC.
    end: String,
    /// The share of the drop restored, 0..1.
    restored_fraction: f64,
}

/// A network an incident affected, with its share of the address space.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Affected {
    /// The affected entity (an AS or a region).
    entity: String,
    /// Its share of the incident entity's address space, 0..1.
    address_share: f64,
}

/// A span in which a signal of the incident had no data.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DataGap {
    /// The signal.
    signal: String,
    /// ISO 8601 UTC.
    start: String,
    /// ISO 8601 UTC; null while the gap lasts.
    #[schema(required = true)]
    end: Option<String>,
}

/// An incident: one entity's outage, all signals fused.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Incident {
    /// ENTITY@START_UNIX_SECS, such as IQ@1692514800.
    id: String,
    /// The detector that found it.
    method: String,
    /// IQ, AS9198 or KZ/Almaty.
    entity: String,
    /// Onset, ISO 8601 UTC.
    start: String,
    /// End, ISO 8601 UTC; null while it is ongoing.
    #[schema(required = true)]
    end: Option<String>,
    /// No end yet.
    ongoing: bool,
    /// The latest time the detector had data for, ISO 8601 UTC.
    observed_until: String,
    /// The IANA zone of the entity's local time, as reports use it: the region's where known, else the country's main zone; null for an AS.
    #[schema(required = true)]
    zone: Option<String>,
    /// Duration so far, in seconds.
    duration_secs: i64,
    /// The deepest drop, 0..1.
    depth: f64,
    /// How the Internet was cut: routes-withdrawn, data-plane-blocking, throttling or unknown.
    mechanism: String,
    /// Confidence in the mechanism, 0..1.
    mechanism_confidence: f64,
    /// What the mechanism was inferred from.
    mechanism_evidence: String,
    /// How wide it was: nationwide, regional, single-network, multiple-networks or unknown.
    scope: String,
    /// Confidence in the incident, 0..1.
    confidence: f64,
    /// IODA's overall score.
    ioda_overall_score: f64,
    /// The signals that dropped.
    signals: Vec<String>,
    /// Restoration windows.
    restorations: Vec<Restoration>,
    /// Affected networks and regions.
    affected: Vec<Affected>,
    /// Spans without data.
    data_gaps: Vec<DataGap>,
}

/// One incident with the detector's full record (`/api/v1/incidents/{id}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncidentDetail {
    #[serde(flatten)]
    incident: Incident,
    /// The detector's full record of the incident.
    #[schema(value_type = Object)]
    detail: Value,
}

/// A page of incidents (`/api/v1/incidents`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncidentList {
    /// Incidents matching the filter.
    total: u64,
    /// Incidents skipped.
    offset: u64,
    /// The page size.
    limit: u64,
    /// Stored incidents that could not be decoded (written by another version), left out.
    unreadable: u64,
    /// This page's incidents.
    incidents: Vec<Incident>,
}

/// A notice an alert subscription may ask for.
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    /// An incident started.
    Start,
    /// Part of the drop came back.
    Restoration,
    /// An incident ended.
    End,
    /// A source's feed stopped or came back.
    FeedHealth,
}

/// How a subscription's notices are written.
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeFormat {
    /// vigie's JSON notice.
    Json,
    /// A chat message (text and attachments) for Slack or Mattermost incoming webhooks.
    Slack,
}
