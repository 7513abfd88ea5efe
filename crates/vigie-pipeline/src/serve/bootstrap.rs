//! RIS Live's starting state fetched by the service itself (`[bgp]
//! fetch_ribs = true`): RIS Live sends changes, not the table, so the
//! routing model is first loaded from each collector's latest RIB dump and
//! the update files published since, found and downloaded as `vigie ingest
//! archive` does (into a cache, resumable). A file that cannot be fetched
//! is said and skipped: the service starts with what it has.

use std::path::Path;

use anyhow::{anyhow, Result};
use vigie_bgp::mrt::{discover, ingest_mrt, IngestOptions};
use vigie_bgp::VisibilityAccounting;
use vigie_model::{format_utc, Discard};

use crate::fetch::FetchFlags;
use crate::ingest::archive::{fetch_archive, plan_archive, ArchiveOptions, ROUTEVIEWS_URL};

/// What [`load_latest_ribs`] loaded.
#[derive(Clone, Debug, Default)]
pub struct Bootstrap {
    /// Files read.
    pub files: usize,
    /// MRT records read.
    pub records: u64,
    /// What to tell: files lost, notes of the plan.
    pub messages: Vec<String>,
}

/// Loads into `accounting` the RIB dump at or before `now` of each of
/// `collectors` (RIS names, `rrc00`) from the archive at `ris_url`, and the
/// update files after it up to `now`, downloaded into `cache`.
pub fn load_latest_ribs(
    accounting: &mut VisibilityAccounting,
    collectors: &[String],
    ris_url: &str,
    cache: &Path,
    now: i64,
    fetch: FetchFlags,
) -> Result<Bootstrap> {
    let options = ArchiveOptions {
        collectors: collectors.to_vec(),
        from: now,
        until: now + 1,
        ris_url: ris_url.to_string(),
        routeviews_url: ROUTEVIEWS_URL.to_string(),
        cache_dir: Some(cache.to_path_buf()),
        parallel: 4,
        fetch,
    };
    let plan = plan_archive(&options, cache)?;
    let fetched = fetch_archive(plan, &options, &())?;
    let mut out = Bootstrap {
        messages: fetched.messages,
        ..Bootstrap::default()
    };
    if fetched.paths.is_empty() {
        out.messages.push(format!(
            "no RIB dump of {} at or before {} could be fetched from {ris_url}; starting from an \
             empty table",
            collectors.join(", "),
            format_utc(now)
        ));
        return Ok(out);
    }
    let found = discover(&fetched.paths)?;
    let summary = ingest_mrt(
        found,
        accounting,
        &IngestOptions::default(),
        &mut Discard,
        &mut (),
    )
    .map_err(|e| anyhow!("loading the fetched RIB dumps: {e}"))?;
    for file in summary.files.iter().filter(|f| f.has_errors()) {
        out.messages.push(format!(
            "warning: {}: {}",
            file.path.display(),
            file.problems.join("; ")
        ));
    }
    out.files = summary.files.len();
    out.records = summary.records;
    Ok(out)
}
