//! The public MRT archives fetched by themselves (`vigie ingest archive`):
//! the files of a period found from each archive's directory layout, from
//! the RIB dump before the period on, downloaded into a cache folder laid
//! out like the archive (so `vigie ingest mrt` reads it too), then read by
//! the same MRT ingest. A file the server lacks or could not serve whole
//! becomes a gap (its bins are left unwritten and reported), never a hole
//! read as an outage.
//!
//! - RIPE RIS: `<base>/rrcNN/YYYY.MM/bview.YYYYMMDD.HHMM.gz` (every 8 h) and
//!   `updates.YYYYMMDD.HHMM.gz` (every 5 minutes).
//! - RouteViews: `<base>/<collector>/bgpdata/YYYY.MM/RIBS/rib.YYYYMMDD.HHMM.bz2`
//!   (every 2 h) and `UPDATES/updates.YYYYMMDD.HHMM.bz2` (every 15 minutes);
//!   `route-views2` has no collector segment.
//!
//! Each month folder's listing (the archives serve an HTML index) says which
//! files exist; when it cannot be read, the names follow the schedule above.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Result};
use chrono::{DateTime, Datelike, Months, Utc};
use vigie_bgp::mrt::{time_in_name, FileKind};
use vigie_model::{format_utc, parse_utc};

use crate::fetch::{
    fetch_all, get_with_retries, http_client, Download, FetchFlags, FetchObserver, FetchSettings,
    Fetched,
};

/// The RIPE RIS archive.
pub const RIS_URL: &str = "https://data.ris.ripe.net";
/// The RouteViews archive.
pub const ROUTEVIEWS_URL: &str = "https://archive.routeviews.org";

/// What to fetch and from where: the flags of `vigie ingest archive`.
#[derive(clap::Args, Clone, Debug)]
pub struct ArchiveOptions {
    /// Route collectors, comma-separated: RIPE RIS's rrc00 … rrc26,
    /// RouteViews' route-views2, route-views.amsix, route-views.kixp, …
    #[arg(long = "collector", value_delimiter = ',', required = true)]
    pub collectors: Vec<String>,
    /// Start of the period, UTC (2022-01-05T00:00:00Z, 2022-01-05, Unix seconds).
    #[arg(long, value_parser = parse_time)]
    pub from: i64,
    /// End of the period (excluded), UTC.
    #[arg(long, value_parser = parse_time)]
    pub until: i64,
    /// Base URL of the RIPE RIS archive (a mirror, a local copy).
    #[arg(long, env = "VIGIE_RIS_URL", default_value = RIS_URL)]
    pub ris_url: String,
    /// Base URL of the RouteViews archive (a mirror, a local copy).
    #[arg(long, env = "VIGIE_ROUTEVIEWS_URL", default_value = ROUTEVIEWS_URL)]
    pub routeviews_url: String,
    /// Folder the files are downloaded into and kept (a rerun reuses them
    /// and continues partial ones); default: `archive-cache` in the data folder.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = FetchSettings::default().parallel)]
    pub parallel: usize,
    /// Retries and timeouts.
    #[command(flatten)]
    pub fetch: FetchFlags,
}

/// A UTC time flag: ISO 8601, a date, or Unix seconds.
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    parse_utc(text).map_err(|e| e.to_string())
}

impl ArchiveOptions {
    /// Fetch settings from the flags.
    pub fn fetch_settings(&self) -> FetchSettings {
        FetchSettings {
            parallel: self.parallel.max(1),
            ..self.fetch.settings()
        }
    }
}

/// Which archive a collector is in, and its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Archive {
    Ris,
    RouteViews,
}

impl Archive {
    fn of(collector: &str) -> Result<Archive> {
        let lower = collector.to_ascii_lowercase();
        if lower.len() > 3
            && lower.starts_with("rrc")
            && lower[3..].bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Archive::Ris)
        } else if lower.starts_with("route-views") {
            Ok(Archive::RouteViews)
        } else {
            bail!(
                "unknown collector {collector:?}: RIPE RIS collectors are named rrc00 … rrc26, \
                 RouteViews ones route-views2, route-views.amsix, …"
            )
        }
    }

    /// Seconds between RIB dumps and between update files.
    fn periods(self) -> (i64, i64) {
        match self {
            Archive::Ris => (8 * 3600, 300),
            Archive::RouteViews => (2 * 3600, 900),
        }
    }

    /// The folder of a month's files of `kind`, relative to the base URL.
    fn folder(self, collector: &str, month: &str, kind: FileKind) -> String {
        match self {
            Archive::Ris => format!("{collector}/{month}/"),
            Archive::RouteViews => {
                let prefix = if collector == "route-views2" {
                    String::new()
                } else {
                    format!("{collector}/")
                };
                let sub = if kind == FileKind::Rib {
                    "RIBS"
                } else {
                    "UPDATES"
                };
                format!("{prefix}bgpdata/{month}/{sub}/")
            }
        }
    }

    /// A file's name from its kind and time.
    fn name(self, kind: FileKind, time: i64) -> String {
        let stamp = DateTime::<Utc>::from_timestamp(time, 0)
            .map(|t| t.format("%Y%m%d.%H%M").to_string())
            .unwrap_or_default();
        match (self, kind) {
            (Archive::Ris, FileKind::Rib) => format!("bview.{stamp}.gz"),
            (Archive::Ris, _) => format!("updates.{stamp}.gz"),
            (Archive::RouteViews, FileKind::Rib) => format!("rib.{stamp}.bz2"),
            (Archive::RouteViews, _) => format!("updates.{stamp}.bz2"),
        }
    }
}

/// One archive file of the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its collector.
    pub collector: String,
    /// RIB dump or updates.
    pub kind: FileKind,
    /// The time in its name.
    pub time: i64,
    /// Where it is fetched from and stored.
    pub download: Download,
    /// The span its loss leaves without data.
    pub covers: (i64, i64),
}

/// The files of a period, and what was noticed while finding them.
#[derive(Clone, Debug, Default)]
pub struct ArchivePlan {
    /// Every file to fetch, in time order.
    pub files: Vec<ArchiveFile>,
    /// Spans no file of a collector covers: gaps whatever is fetched.
    pub gaps: Vec<(i64, i64)>,
    /// What to tell the user.
    pub notes: Vec<String>,
}

impl ArchivePlan {
    /// One line saying what will be fetched, and where to.
    pub fn summary(&self, cache: &Path) -> String {
        let collectors: std::collections::BTreeSet<&str> =
            self.files.iter().map(|f| f.collector.as_str()).collect();
        format!(
            "fetching {} archive files of {} into {} (files already there are not fetched again)",
            self.files.len(),
            collectors.into_iter().collect::<Vec<_>>().join(", "),
            cache.display()
        )
    }
}

/// The months (`YYYY.MM`) from the one before `from`'s to `until`'s.
fn months(from: i64, until: i64) -> Vec<String> {
    let (Some(start), Some(end)) = (
        DateTime::<Utc>::from_timestamp(from, 0),
        DateTime::<Utc>::from_timestamp(until - 1, 0),
    ) else {
        return Vec::new();
    };
    let mut month = start
        .date_naive()
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(1)));
    let mut out = Vec::new();
    while let Some(m) = month.filter(|m| *m <= end.date_naive()) {
        out.push(format!("{:04}.{:02}", m.year(), m.month()));
        month = m.checked_add_months(Months::new(1));
    }
    out
}

/// The file names an HTML directory index links to.
fn listed_names(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|link| link.rsplit('/').next().unwrap_or(link).to_string())
        .filter(|name| {
            (name.starts_with("bview.") || name.starts_with("rib.") || name.starts_with("updates."))
                && time_in_name(name).is_some()
        })
        .collect()
}

/// Finds the files of `options`' period for each collector: the last RIB
/// dump at or before `from` (else the first in the period, with a note),
/// and the update files from that dump until `until`. The files go into
/// `cache` under the archive's own relative paths, each under its
/// collector's name.
pub fn plan_archive(options: &ArchiveOptions, cache: &Path) -> Result<ArchivePlan> {
    let (from, until) = (options.from, options.until);
    crate::common::check_period(from, until)?;
    let settings = options.fetch_settings();
    let client = http_client(&settings).map_err(anyhow::Error::msg)?;
    let mut plan = ArchivePlan::default();
    for collector in &options.collectors {
        let archive = Archive::of(collector)?;
        let base = match archive {
            Archive::Ris => &options.ris_url,
            Archive::RouteViews => &options.routeviews_url,
        }
        .trim_end_matches('/');
        let (rib_period, update_period) = archive.periods();
        // (kind, time, relative path) of every file the archive has.
        let mut found: Vec<(FileKind, i64, String)> = Vec::new();
        for month in months(from, until) {
            let kinds: &[FileKind] = match archive {
                Archive::Ris => &[FileKind::Unknown],
                Archive::RouteViews => &[FileKind::Rib, FileKind::Updates],
            };
            for &kind in kinds {
                let folder = archive.folder(collector, &month, kind);
                let url = format!("{base}/{folder}");
                match get_with_retries(&client, &url, &settings) {
                    Ok(Some(html)) => {
                        for name in listed_names(&String::from_utf8_lossy(&html)) {
                            let kind = if name.starts_with("updates.") {
                                FileKind::Updates
                            } else {
                                FileKind::Rib
                            };
                            let time = time_in_name(&name).unwrap_or_default();
                            found.push((kind, time, format!("{folder}{name}")));
                        }
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        plan.notes.push(format!(
                            "cannot list {url} ({reason}); using the archive's schedule \
                             (a RIB dump every {} h, updates every {} min) for {month}",
                            rib_period / 3600,
                            update_period / 60
                        ));
                        found.extend(scheduled(archive, collector, &month, from, until));
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        // The update files' spacing as listed (older archives differ from
        // today's schedule).
        let listed: Vec<i64> = (found.iter())
            .filter(|f| f.0 == FileKind::Updates)
            .map(|f| f.1)
            .collect();
        let update_period = (listed.windows(2))
            .map(|w| w[1] - w[0])
            .filter(|&d| d > 0)
            .min()
            .unwrap_or(update_period);
        let rib = found
            .iter()
            .filter(|f| f.0 == FileKind::Rib && f.1 <= from)
            .max_by_key(|f| f.1)
            .or_else(|| found.iter().find(|f| f.0 == FileKind::Rib && f.1 < until))
            .cloned();
        let start = rib.as_ref().map_or(from - update_period + 1, |r| r.1);
        let updates: Vec<&(FileKind, i64, String)> = (found.iter())
            .filter(|f| f.0 == FileKind::Updates && f.1 >= start && f.1 < until)
            .collect();
        match &rib {
            _ if rib.is_none() && updates.is_empty() => {
                plan.notes.push(format!(
                    "warning: {collector}: no file for the period in {base} (is the collector name \
                     right? did it exist then?); it is left out"
                ));
                continue;
            }
            Some(rib) => {
                if rib.1 > from {
                    plan.notes.push(format!(
                        "{collector}: no RIB dump at or before {}; starting from the first in the period, {}",
                        format_utc(from),
                        format_utc(rib.1)
                    ));
                }
                let next_rib = (found.iter())
                    .filter(|f| f.0 == FileKind::Rib && f.1 > rib.1)
                    .map(|f| f.1)
                    .min()
                    .unwrap_or(until);
                let covers = (rib.1, next_rib.min(until));
                plan.files.push(file(collector, base, cache, rib, covers));
            }
            None => plan.notes.push(format!(
                "warning: {collector}: no RIB dump at or before {} nor in the period in {base}; \
                 its updates alone are read, as `vigie ingest mrt` reads a lone update file \
                 (prefixes announced before are not seen)",
                format_utc(from)
            )),
        }
        // Spans no listed update file covers are gaps, said so.
        let mut cursor = start.max(from - update_period + 1);
        let mut unlisted = Vec::new();
        for f in &updates {
            if f.1 - cursor >= update_period {
                unlisted.push((cursor, f.1));
            }
            cursor = cursor.max(f.1 + update_period);
            let covers = (f.1, f.1 + update_period);
            plan.files.push(file(collector, base, cache, f, covers));
        }
        if cursor < until {
            unlisted.push((cursor, until));
        }
        for (a, b) in unlisted {
            plan.notes.push(format!(
                "gap {} .. {}: {collector} has no update file for it in {base}",
                format_utc(a),
                format_utc(b)
            ));
            plan.gaps.push((a, b));
        }
    }
    plan.files
        .sort_by(|a, b| (a.time, a.kind, &a.collector).cmp(&(b.time, b.kind, &b.collector)));
    Ok(plan)
}

fn file(
    collector: &str,
    base: &str,
    cache: &Path,
    (kind, time, relative): &(FileKind, i64, String),
    covers: (i64, i64),
) -> ArchiveFile {
    // Each collector under its own name in the cache (route-views2 has no
    // segment of its own in the archive).
    let local = if relative.starts_with(&format!("{collector}/")) {
        cache.join(relative)
    } else {
        cache.join(collector).join(relative)
    };
    ArchiveFile {
        collector: collector.to_string(),
        kind: *kind,
        time: *time,
        download: Download {
            url: format!("{base}/{relative}"),
            path: local,
        },
        covers,
    }
}

/// The files the schedule promises in `month`, around the period.
fn scheduled(
    archive: Archive,
    collector: &str,
    month: &str,
    from: i64,
    until: i64,
) -> Vec<(FileKind, i64, String)> {
    let (rib_period, update_period) = archive.periods();
    let mut out = Vec::new();
    let first_rib = from.div_euclid(rib_period) * rib_period;
    for (kind, start, step) in [
        (FileKind::Rib, first_rib, rib_period),
        (FileKind::Updates, first_rib, update_period),
    ] {
        let mut t = start;
        while t < until {
            let stamp = DateTime::<Utc>::from_timestamp(t, 0)
                .map(|d| d.format("%Y.%m").to_string())
                .unwrap_or_default();
            if stamp == month {
                let name = archive.name(kind, t);
                out.push((
                    kind,
                    t,
                    format!("{}{name}", archive.folder(collector, month, kind)),
                ));
            }
            t += step;
        }
    }
    out
}

/// What [`fetch_archive`] fetched.
#[derive(Clone, Debug, Default)]
pub struct FetchedArchive {
    /// The complete files, for the MRT ingest.
    pub paths: Vec<PathBuf>,
    /// Spans without data: files not listed, missing on the server or not fetched whole.
    pub gaps: Vec<(i64, i64)>,
    /// What to tell the user: notes of the plan, then each file lost and why.
    pub messages: Vec<String>,
    /// Files fetched now, files already in the cache, bytes fetched now.
    pub fetched: (usize, usize, u64),
}

/// Downloads the files of `plan` (from [`plan_archive`]) with `options`'
/// settings; `observer` hears the progress. Each file lost is a gap.
pub fn fetch_archive(
    plan: ArchivePlan,
    options: &ArchiveOptions,
    observer: &dyn FetchObserver,
) -> Result<FetchedArchive> {
    let downloads: Vec<Download> = plan.files.iter().map(|f| f.download.clone()).collect();
    let outcomes =
        fetch_all(&downloads, &options.fetch_settings(), observer).map_err(anyhow::Error::msg)?;
    let mut out = FetchedArchive {
        gaps: plan.gaps,
        messages: plan.notes,
        ..FetchedArchive::default()
    };
    for (file, outcome) in plan.files.iter().zip(outcomes) {
        match outcome {
            Fetched::Done { bytes, cached } => {
                if cached {
                    out.fetched.1 += 1;
                } else {
                    out.fetched.0 += 1;
                    out.fetched.2 += bytes;
                }
                out.paths.push(file.download.path.clone());
            }
            Fetched::Missing(reason) | Fetched::Failed(reason) => {
                let (a, b) = file.covers;
                out.messages.push(format!(
                    "gap {} .. {}: {reason}",
                    format_utc(a),
                    format_utc(b)
                ));
                out.gaps.push(file.covers);
            }
        }
    }
    let (fetched, cached, bytes) = out.fetched;
    out.messages.push(format!(
        "fetched {fetched} files ({:.1} MB); {cached} were in the cache already",
        bytes as f64 / 1e6
    ));
    if !out.gaps.is_empty() {
        out.gaps.sort_unstable();
        out.gaps.dedup();
        out.messages.push(format!(
            "warning: {} span(s) without data (above): their bins are left unwritten, never read as an outage; \
             run the same command again to retry the files that failed (partial downloads are continued)",
            out.gaps.len()
        ));
    }
    Ok(out)
}

/// Download totals for a progress bar: files and bytes done, and the bytes
/// expected (the sizes known so far, the others guessed from their mean).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchCounts {
    /// Files finished (fetched, cached or lost).
    pub files_done: u64,
    /// Bytes received or found in the cache.
    pub bytes_done: u64,
    /// Bytes expected in all (an estimate until every size is known).
    pub bytes_total: u64,
}

/// What a progress bar shows: bytes done, bytes expected, a message
/// (`3/10 files`).
pub type ShowProgress<'a> = &'a (dyn Fn(u64, u64, String) + Sync);

/// A [`FetchObserver`] keeping [`FetchCounts`], showing them with `show`
/// and telling each retry to `say`.
pub struct FetchTally<'a> {
    files: u64,
    sized: AtomicU64,
    size_sum: AtomicU64,
    done: AtomicU64,
    bytes: AtomicU64,
    show: ShowProgress<'a>,
    say: &'a (dyn Fn(String) + Sync),
}

impl<'a> FetchTally<'a> {
    /// A tally of `files` downloads.
    pub fn new(files: usize, show: ShowProgress<'a>, say: &'a (dyn Fn(String) + Sync)) -> Self {
        FetchTally {
            files: files as u64,
            sized: AtomicU64::new(0),
            size_sum: AtomicU64::new(0),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            show,
            say,
        }
    }

    /// The counts now.
    pub fn counts(&self) -> FetchCounts {
        let sized = self.sized.load(Ordering::Relaxed);
        let sum = self.size_sum.load(Ordering::Relaxed);
        let guess = (sum / sized.max(1)) * self.files.saturating_sub(sized);
        FetchCounts {
            files_done: self.done.load(Ordering::Relaxed),
            bytes_done: self.bytes.load(Ordering::Relaxed),
            bytes_total: sum + guess,
        }
    }

    fn changed(&self) {
        let c = self.counts();
        let message = format!("{}/{} files", c.files_done, self.files);
        (self.show)(c.bytes_done, c.bytes_total.max(1), message);
    }
}

impl FetchObserver for FetchTally<'_> {
    fn size_known(&self, bytes: u64) {
        self.sized.fetch_add(1, Ordering::Relaxed);
        self.size_sum.fetch_add(bytes, Ordering::Relaxed);
    }
    fn received(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.changed();
    }
    fn retrying(&self, _download: &Download, reason: &str) {
        (self.say)(format!("retrying: {reason}"));
    }
    fn finished(&self, _download: &Download, _outcome: &Fetched) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_names_follow_each_archive() {
        let t = parse_utc("2022-01-05T08:00:00Z").unwrap();
        assert_eq!(
            Archive::Ris.folder("rrc00", "2022.01", FileKind::Rib),
            "rrc00/2022.01/"
        );
        assert_eq!(
            Archive::Ris.name(FileKind::Rib, t),
            "bview.20220105.0800.gz"
        );
        assert_eq!(
            Archive::RouteViews.folder("route-views2", "2022.01", FileKind::Updates),
            "bgpdata/2022.01/UPDATES/"
        );
        assert_eq!(
            Archive::RouteViews.folder("route-views.amsix", "2022.01", FileKind::Rib),
            "route-views.amsix/bgpdata/2022.01/RIBS/"
        );
        assert_eq!(
            Archive::RouteViews.name(FileKind::Updates, t),
            "updates.20220105.0800.bz2"
        );
        assert!(Archive::of("rrc").is_err() && Archive::of("bgpmon").is_err());
    }

    #[test]
    fn months_start_one_before() {
        let from = parse_utc("2022-01-05T00:00:00Z").unwrap();
        let until = parse_utc("2022-02-01T00:00:00Z").unwrap();
        assert_eq!(months(from, until), vec!["2021.12", "2022.01"]);
    }

    #[test]
    fn listing_links_are_archive_files() {
        let html = r#"<a href="../">up</a><a href="bview.20220105.0000.gz">b</a>
            <a href="/rrc00/2022.01/updates.20220105.0005.gz">u</a><a href="x.txt">x</a>"#;
        assert_eq!(
            listed_names(html),
            vec!["bview.20220105.0000.gz", "updates.20220105.0005.gz"]
        );
    }

    #[test]
    fn schedule_starts_at_the_rib_before() {
        let from = parse_utc("2022-01-05T10:30:00Z").unwrap();
        let until = parse_utc("2022-01-05T10:40:00Z").unwrap();
        let files = scheduled(Archive::Ris, "rrc00", "2022.01", from, until);
        let ribs: Vec<_> = files.iter().filter(|f| f.0 == FileKind::Rib).collect();
        assert_eq!(ribs[0].2, "rrc00/2022.01/bview.20220105.0800.gz");
        assert!(files
            .iter()
            .any(|f| f.2 == "rrc00/2022.01/updates.20220105.1035.gz"));
    }
}
