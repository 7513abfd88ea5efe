//! `vigie import ioda`: an entity's signals and IODA's own outage events
//! read from IODA's API v2 over HTTP and stored, the signals as vigie's
//! other series (source [`IODA_API_SOURCE`]), IODA's events apart from
//! vigie's (method [`IODA_PUBLISHED`]), for comparison.
//!
//! - `/v2/signals/raw/{entityType}/{entityCode}?from=&until=&maxPoints=`
//!   is asked page by page (`--page-days`), each page for as many points as
//!   it has 5-minute bins, since IODA answers a coarser step when a request
//!   spans more points than it serves; a coarser step is reported.
//! - `/v2/outages/events?entityType=&entityCode=&from=&until=&format=codf&limit=&page=`
//!   is read until a page comes back short.
//!
//! Both answers are parsed by `vigie-import` (`import_ioda_json`,
//! `import_ioda_events`). A page that cannot be fetched is reported with
//! its span; nothing stored is replaced by it.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use vigie_import::{import_ioda_events, import_ioda_json, ImportOptions, IodaEvent};
use vigie_model::{format_utc, BinSink, BinSize, CountryCode, EntityKind, SeriesKey};
use vigie_store::{ResultFilter, Store, StoredEvent};

use crate::fetch::{get_with_retries, http_client, FetchFlags};
use crate::ingest::archive::parse_time;

/// IODA's API.
pub const IODA_URL: &str = "https://api.ioda.inetintel.cc.gatech.edu";
/// The store's name for signals read from IODA's API.
pub const IODA_API_SOURCE: &str = "ioda-api";
/// The method under which IODA's own events are stored, apart from vigie's.
pub const IODA_PUBLISHED: &str = "ioda-published";

/// What to read from IODA: the flags of `vigie import ioda`.
#[derive(clap::Args, Clone, Debug)]
pub struct IodaApiOptions {
    /// The entity, as IODA names it: country/KZ, asn/9198, region/1226.
    #[arg(long)]
    pub entity: String,
    /// Start of the period, UTC (2022-01-05T00:00:00Z, 2022-01-05, Unix seconds).
    #[arg(long, value_parser = parse_time)]
    pub from: i64,
    /// End of the period (excluded), UTC.
    #[arg(long, value_parser = parse_time)]
    pub until: i64,
    /// Base URL of IODA's API (a mirror, a local copy).
    #[arg(long, env = "VIGIE_IODA_URL", default_value = IODA_URL)]
    pub ioda_url: String,
    /// Days of signals asked per request.
    #[arg(long, default_value_t = 7.0)]
    pub page_days: f64,
    /// Events asked per request.
    #[arg(long, default_value_t = 1000)]
    pub events_per_page: u32,
    /// The country of a region entity (IODA numbers regions without one).
    #[arg(long)]
    pub region_country: Option<String>,
    /// Retries and timeouts.
    #[command(flatten)]
    pub fetch: FetchFlags,
}

/// What [`import_ioda_api`] did.
#[derive(Clone, Debug, Default)]
pub struct IodaApiImport {
    /// Series written (one per signal and page).
    pub series: usize,
    /// Bins with a value written.
    pub values: usize,
    /// IODA events stored.
    pub events: usize,
    /// Some of the period could not be read (pages lost, values rejected).
    pub lossy: bool,
}

/// Reads `options`' entity and period from IODA's API into `store`;
/// `say` hears each page and every problem.
pub fn import_ioda_api(
    store: &mut Store,
    options: &IodaApiOptions,
    say: &dyn Fn(String),
) -> Result<IodaApiImport> {
    let (from, until) = (options.from, options.until);
    crate::common::check_period(from, until)?;
    let Some((kind, code)) = options.entity.split_once('/') else {
        bail!(
            "--entity {}: name it as IODA does, type/code: country/KZ, asn/9198, region/1226",
            options.entity
        );
    };
    kind.parse::<EntityKind>().map_err(|_| {
        anyhow::anyhow!(
            "--entity {}: the type is country, asn or region",
            options.entity
        )
    })?;
    if !options.page_days.is_finite() || options.page_days <= 0.0 {
        bail!("--page-days must be positive");
    }
    let import_options = ImportOptions {
        region_country: (options.region_country.as_deref())
            .map(CountryCode::new)
            .transpose()?,
        ..ImportOptions::default()
    };
    let settings = options.fetch.settings();
    let client = http_client(&settings).map_err(anyhow::Error::msg)?;
    let base = options.ioda_url.trim_end_matches('/');
    let bin = BinSize::default();
    let page_secs = ((options.page_days * 86_400.0) as i64).max(i64::from(bin.secs()));
    let mut out = IodaApiImport::default();
    let mut start = from;
    while start < until {
        let end = (start + page_secs).min(until);
        let step = i64::from(bin.secs());
        let points = (end - start + step - 1) / step;
        let url = format!(
            "{base}/v2/signals/raw/{kind}/{code}?from={start}&until={end}&maxPoints={points}"
        );
        let span = format!("{} .. {}", format_utc(start), format_utc(end));
        match get_with_retries(&client, &url, &settings) {
            Ok(Some(body)) => {
                let imported = import_ioda_json(&body, &url, &import_options)?;
                for issue in &imported.report.issues {
                    say(format!("{}: {}", issue.location, issue.message));
                }
                for note in &imported.report.notes {
                    say(format!("note: {span}: {note}"));
                }
                for s in imported.series.iter().filter(|s| s.bin.secs() > bin.secs()) {
                    say(format!(
                        "note: {span}: IODA answered {} s bins for {} (its limit on points per \
                         request); a smaller --page-days gives finer bins",
                        s.bin.secs(),
                        s.key.signal
                    ));
                }
                out.lossy |= imported.report.total_issues() > 0;
                store.sink(IODA_API_SOURCE).write_series(&imported.series)?;
                let values: usize = (imported.series.iter())
                    .map(|s| s.values.iter().filter(|v| v.is_some()).count())
                    .sum();
                say(format!(
                    "signals {span}: {} series, {values} values",
                    imported.series.len()
                ));
                out.series += imported.series.len();
                out.values += values;
            }
            Ok(None) => {
                out.lossy = true;
                say(format!(
                    "gap {span}: IODA has no signals for {} at {url} (404); is the entity right?",
                    options.entity
                ));
            }
            Err(reason) => {
                out.lossy = true;
                say(format!(
                    "gap {span}: {reason}; nothing stored was changed, run the same command again"
                ));
            }
        }
        start = end;
    }
    match fetch_events(
        &client,
        &settings,
        base,
        kind,
        code,
        options,
        &import_options,
        say,
    ) {
        Ok(events) => out.events = store_events(store, &events, from, until)?,
        Err(reason) => {
            out.lossy = true;
            say(format!(
                "IODA's events could not be read ({reason}); the events stored before were kept"
            ));
        }
    }
    say(format!(
        "imported {} series with {} values (source {IODA_API_SOURCE}) and {} IODA events \
         (method {IODA_PUBLISHED}) of {} from {} to {}",
        out.series,
        out.values,
        out.events,
        options.entity,
        format_utc(from),
        format_utc(until)
    ));
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn fetch_events(
    client: &reqwest::blocking::Client,
    settings: &crate::FetchSettings,
    base: &str,
    kind: &str,
    code: &str,
    options: &IodaApiOptions,
    import_options: &ImportOptions,
    say: &dyn Fn(String),
) -> Result<Vec<IodaEvent>, String> {
    let limit = options.events_per_page.max(1);
    let mut events = Vec::new();
    for page in 0..10_000u32 {
        let url = format!(
            "{base}/v2/outages/events?entityType={kind}&entityCode={code}&from={}&until={}\
             &format=codf&limit={limit}&page={page}",
            options.from, options.until
        );
        let body = get_with_retries(client, &url, settings)?.unwrap_or_else(|| b"[]".to_vec());
        let (page_events, report) =
            import_ioda_events(&body, &url, import_options).map_err(|e| e.to_string())?;
        for issue in &report.issues {
            say(format!("{}: {}", issue.location, issue.message));
        }
        let n = page_events.len();
        events.extend(page_events);
        // A short page is the last; a longer one means the server does not
        // page (it sent everything at once).
        if n != limit as usize {
            return Ok(events);
        }
    }
    Err("more than 10,000 pages of events".into())
}

/// Stores IODA's events per series under [`IODA_PUBLISHED`], keeping the
/// stored ones outside `[from, until)`.
fn store_events(store: &mut Store, events: &[IodaEvent], from: i64, until: i64) -> Result<usize> {
    let bin = BinSize::default();
    let mut by_key: BTreeMap<SeriesKey, Vec<StoredEvent>> = BTreeMap::new();
    for e in events {
        let key = SeriesKey {
            entity: e.entity.clone(),
            signal: e.signal,
        };
        by_key.entry(key.clone()).or_default().push(StoredEvent {
            method: IODA_PUBLISHED.to_string(),
            key,
            bin,
            start: e.start,
            end: Some(e.end),
            depth: None,
            score: e.score,
            detail: e.raw.clone(),
        });
    }
    for (key, fresh) in by_key {
        let filter = ResultFilter {
            entity: Some(key.entity.clone()),
            method: Some(IODA_PUBLISHED.to_string()),
            ..ResultFilter::default()
        };
        let mut all: Vec<StoredEvent> = (store.events(&filter)?.into_iter())
            .filter(|e| e.key == key && (e.start >= until || e.end.is_some_and(|end| end <= from)))
            .collect();
        all.extend(fresh);
        all.sort_by_key(|e| e.start);
        store
            .replace_events(IODA_PUBLISHED, &key, bin, &all)
            .context("cannot store IODA's events")?;
    }
    Ok(events.len())
}
