//! vigie's operations as a library (as Routinator's `operation`): what the
//! `vigie` binary's commands and `vigie demo` run, each taking a store
//! handle and typed options whose defaults are defined here once.
//!
//! - `ingest/`: files into the store — MRT archives ([`ingest_mrt_archives`];
//!   the public RIS and RouteViews archives fetched first, [`fetch_archive`]),
//!   packet captures ([`ingest_captures`]), access logs ([`ingest_access_logs`]).
//! - `detect`: batch detection over the store ([`detect_and_store`]):
//!   events per series, incidents per entity, for vigie's detector and
//!   IODA's published method.
//! - `scope`: which regions and ASes a country's incident affects
//!   ([`ScopeContext`]), for batch and live detection alike.
//! - `source/`: sources as units ([`Source`], [`Registry`]): every input of
//!   the live service, configured by a `[[source]]` table.
//! - `serve/`: the live service ([`Service`], [`ServiceConfig`]): the
//!   sources, the BGP routing model, the HTTP API and the alert worker.
//! - `eval`, `report`: scoring against labels ([`evaluate_labels`]) and
//!   incident reports ([`write_report`]).
//! - `demo`: a scenario generated, ingested, detected, scored and reported
//!   ([`run_demo`]) by the operations above.
//! - `live`: detection as the bins arrive ([`LiveDetection`]), run by the
//!   service: incidents kept in the store as batch detection writes them,
//!   the detector's state checkpointed per series.
//! - `annotate`: annotations added from the command line or listed.
//! - `alerts`: the alert worker ([`spawn_alert_worker`]) and its `[alerts]`
//!   settings.
//! - `import`: other observatories' signals and labels into the store
//!   ([`import_into_store`]); `ioda_api`: IODA's signals and events read
//!   from its API ([`import_ioda_api`]).
//! - `listing`: what `vigie series`, `entities` and `incidents` list, as
//!   [`Rows`] (table, CSV or JSON).
//! - `probe`: probing's settings and targets, `vigie probe`'s rounds
//!   ([`run_probe`]), vantage points combined, the block log ([`BlockLog`]).
//! - [`bench`](mod@bench): the benchmarks of `vigie bench` (speed, memory, accuracy).
//! - `collect`: the live collectors of `vigie collect` ([`collect_flows`],
//!   [`collect_telescope`]).
//! - `fetch`: HTTP downloads into a cache, bounded, resumable, verified
//!   ([`fetch_all`]).
//! - `common`: the geo database, prefixes, [`LoggedSink`].

#![warn(missing_docs)]

mod alerts;
mod annotate;
pub mod bench;
mod collect;
mod common;
mod demo;
mod detect;
mod eval;
mod fetch;
mod import;
mod ingest;
mod ioda_api;
mod listing;
mod live;
mod probe;
mod report;
mod scope;
mod serve;
mod source;
mod store_health;

pub use alerts::{spawn_alert_worker, AlertSettings, SmtpSettings};
pub use annotate::{add_annotation, annotation_lines};
pub use collect::{
    collect_flows, collect_telescope, CollectReport, FlowCollectOptions, TelescopeCollectOptions,
};
pub use common::{format_duration, load_geo, parse_prefixes, LoggedSink};
pub use demo::{load_scenario, run_demo, scenario_list, DemoOptions, DemoRun};
pub use detect::{detect_and_store, DetectOptions, DetectSummary, IODA_MEDIAN, VIGIE};
pub use eval::{eval_markdown, evaluate_labels, EvalOptions};
pub use fetch::{
    fetch_all, part_path, Download, FetchFlags, FetchObserver, FetchSettings, Fetched,
};
pub use import::{import_into_store, local_zone, ImportFlags, ImportOutcome};
pub use ingest::archive::{
    fetch_archive, plan_archive, ArchiveFile, ArchiveOptions, ArchivePlan, FetchCounts, FetchTally,
    FetchedArchive, ShowProgress, RIS_URL, ROUTEVIEWS_URL,
};
pub use ingest::mrt::{
    ingest_mrt_archives, Gaps, MrtFlags, MrtIngestReport, MrtOptions, MRT_SOURCE,
};
pub use ingest::notes::MrtNotes;
pub use ingest::traffic::{
    ingest_access_logs, ingest_captures, read_access_logs, AccessLogInput, AccessLogOptions,
    AccessLogReport, CaptureKind, CaptureReport,
};
pub use ioda_api::{
    import_ioda_api, IodaApiImport, IodaApiOptions, IODA_API_SOURCE, IODA_PUBLISHED, IODA_URL,
};
pub use listing::{
    entity_rows, format_value, incident_rows, no_entities_note, series_rows, stored_incidents,
    Rows, SeriesQuery, TableFormat,
};
pub use live::{LiveDetection, Published, Share, DECISIVE_LOSS, PROVISIONAL};
pub use probe::{
    combine_vantage_states, combine_vantages, combined_bin, describe_change, describe_round,
    import_legacy_block_log, parse_v4_prefixes, read_targets, record_block_changes, run_probe,
    run_probe_with_states, store_combined, BlockLog, Combined, ProbeRunOptions, ProbeSettings,
    StatesHook, BLOCK_LOG_FILE, COMBINED_SOURCE, PROBE_LIST_HEADER, PROBE_SOURCE,
};
pub use report::{write_report, ReportOptions, ReportSubject};
pub use scope::ScopeContext;
pub use serve::{
    load_latest_ribs, ApiSettings, BgpSettings, Bootstrap, DetectFeed, DetectSettings, Service,
    ServiceConfig, ServiceSink, SharedSink, SinkPerSource, StoreSettings, BGP_LIVE_SOURCE,
};
pub use source::{
    AccessLogConfig, AccessLogSource, BgpFeed, BmpFeedConfig, FeedTask, FlowsConfig, FlowsSource,
    ProbeSource, Registry, RisLiveFeedConfig, RunnableSource, SessionFeedConfig, SessionPeer,
    Source, SourceContext, Stop, TelescopeConfig, TelescopeSource, Unit,
};
pub use store_health::{check_store, describe_check, plausible_range, repair_store};

/// An entity's offset from UTC in seconds, as every detection path gives
/// it to the detector (batch, live, the bus workers, `vigie eval`): its
/// zone's standard offset (`vigie_publish::report::tz`), 0 for an AS or an
/// unknown zone. A weekend is a local matter; counted in UTC days, the
/// end of a Sunday at UTC−2 read as two hours of a Monday that fell short.
pub fn local_offset(entity: &vigie_model::Entity) -> i64 {
    vigie_publish::report::tz::standard_offset_secs(entity).unwrap_or(0)
}

#[cfg(test)]
mod local_offset_tests {
    use super::local_offset;

    #[test]
    fn entities_get_their_zones_standard_offset_and_ases_utc() {
        let of = |name: &str| local_offset(&name.parse().expect("entity"));
        assert_eq!(of("IQ"), 3 * 3600);
        assert_eq!(of("VE"), -4 * 3600);
        assert_eq!(of("MM"), 6 * 3600 + 1800);
        // Standard time, not summer time.
        assert_eq!(of("UA"), 2 * 3600);
        assert_eq!(of("AS9198"), 0);
    }
}
