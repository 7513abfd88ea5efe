//! MRT archives → BGP visibility series in the store (`vigie ingest mrt`,
//! the demo), with the AS names and the AS-to-country table that scope a
//! country's incidents.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use vigie_bgp::mrt::{discover, ingest_mrt, IngestObserver, IngestOptions, IngestSummary};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;
use vigie_model::{
    BinSink, BinSize, Entity, SignalBin, SinkError, WriteOutcome, ARCHIVE_MARGIN_SECS,
};
use vigie_store::{AsCountrySpace, Store};

/// The store's name for the bins of MRT archives.
pub const MRT_SOURCE: &str = "bgp-mrt";

/// How MRT archives are read; the defaults are IODA's.
#[derive(Clone, Debug)]
pub struct MrtOptions {
    /// Bin width, full-feed thresholds, visibility share, longest silence.
    pub visibility: VisibilityConfig,
    /// Reload state from every RIB dump, not only from each collector's first.
    pub resync_ribs: bool,
    /// Records dated more than this past the newest file name's time (the
    /// clock's when a name has none) are implausible: counted, reported
    /// and skipped. One day by default.
    pub future_margin_secs: i64,
    /// Spans known to have no data (archive files that could not be
    /// fetched): their bins are not written.
    pub gaps: Gaps,
}

/// Spans `[from, until)` of UTC seconds without data.
pub type Gaps = Vec<(i64, i64)>;

impl Default for MrtOptions {
    fn default() -> Self {
        MrtOptions {
            visibility: VisibilityConfig::default(),
            resync_ribs: false,
            future_margin_secs: ARCHIVE_MARGIN_SECS,
            gaps: Vec::new(),
        }
    }
}

/// How MRT input is read: the flags of `vigie ingest mrt` and `archive`.
#[derive(clap::Args, Clone, Debug)]
pub struct MrtFlags {
    /// A peer is full-feed for IPv4 above this many IPv4 prefixes (IODA: 400000).
    /// 0 makes every peer that announces anything full-feed.
    #[arg(long, default_value_t = VisibilityConfig::default().full_feed_v4)]
    pub full_feed_v4: u64,
    /// A peer is full-feed for IPv6 above this many IPv6 prefixes (IODA: 10000).
    #[arg(long, default_value_t = VisibilityConfig::default().full_feed_v6)]
    pub full_feed_v6: u64,
    /// Share of full-feed peer ASNs that must see a prefix for it to count as visible.
    #[arg(long, default_value_t = VisibilityConfig::default().min_visible_fraction)]
    pub visible_fraction: f64,
    /// A silence longer than this (seconds) between records means the feed was
    /// down: the bins in between read as "no data". 0 turns this off.
    #[arg(long, default_value_t = VisibilityConfig::default().max_silence_secs)]
    pub max_silence_secs: i64,
    /// Never fall back to the largest peers when no peer is full-feed.
    #[arg(long)]
    pub strict_full_feed: bool,
    /// Reload state from every RIB dump, not only from each collector's first.
    #[arg(long)]
    pub resync_ribs: bool,
    /// Records dated more than this many seconds past the newest file
    /// name's time (the clock's when a name has none), or before 1990, are
    /// implausible: counted, reported and not stored.
    #[arg(long, default_value_t = ARCHIVE_MARGIN_SECS)]
    pub future_margin_secs: i64,
}

impl MrtFlags {
    /// The options these flags give, with bins of `bin` and `gaps` left unwritten.
    pub fn options(&self, bin: BinSize, gaps: Gaps) -> MrtOptions {
        MrtOptions {
            visibility: VisibilityConfig {
                bin,
                full_feed_v4: self.full_feed_v4,
                full_feed_v6: self.full_feed_v6,
                min_visible_fraction: self.visible_fraction,
                max_silence_secs: self.max_silence_secs,
                all_peers_when_no_full_feed: !self.strict_full_feed,
            },
            resync_ribs: self.resync_ribs,
            future_margin_secs: self.future_margin_secs,
            gaps,
        }
    }
}

/// What [`ingest_mrt_archives`] did.
pub struct MrtIngestReport {
    /// The reader's summary: files, records, bins, time span.
    pub summary: IngestSummary,
    /// Values written (one per entity and signal per bin).
    pub values_written: u64,
    /// Bins not written because the store holds them from more records
    /// (a truncated or partial re-read of stored data); the first such bin
    /// with the records behind the stored and the new values.
    pub first_kept: Option<KeptBin>,
    /// Prefixes in the routing table at the end.
    pub prefixes: usize,
    /// Peers in the routing table at the end.
    pub peers: usize,
    /// Heap bytes of the routing table at the end.
    pub table_bytes: usize,
}

/// Reads the MRT files and archive folders of `paths` into `store` (source
/// [`MRT_SOURCE`], each UTC day folded into chunks once the next starts),
/// then names the ASes with data from `geo`'s AS names and records which
/// ASes originate space in which country. `observer` hears the progress.
pub fn ingest_mrt_archives(
    store: &mut Store,
    paths: &[PathBuf],
    geo: Arc<GeoDb>,
    options: &MrtOptions,
    observer: &mut dyn IngestObserver,
) -> Result<MrtIngestReport> {
    let fraction = options.visibility.min_visible_fraction;
    if !(fraction > 0.0 && fraction <= 1.0) {
        bail!("the visible fraction must be in (0, 1], got {fraction}");
    }
    let collectors = discover(paths).context("cannot list the MRT inputs")?;
    if collectors.iter().all(|c| c.files.is_empty()) {
        bail!(
            "no MRT files found in the given paths (looked for bview*, rib*, updates* and *.mrt)"
        );
    }
    let mut accounting = VisibilityAccounting::new(options.visibility.clone(), Arc::clone(&geo));
    for &(from, until) in &options.gaps {
        accounting.mark_gap(from, until);
    }
    let mut sink = DailyStoreSink {
        store,
        values_written: 0,
        last_day: None,
        first_kept: None,
    };
    let outcome = ingest_mrt(
        collectors,
        &mut accounting,
        &IngestOptions {
            resync_ribs: options.resync_ribs,
            future_margin_secs: options.future_margin_secs,
        },
        &mut sink,
        observer,
    );
    let values_written = sink.values_written;
    let first_kept = sink.first_kept;
    // Whatever happened, fold what was written so reads are fast.
    store.compact().context("cannot compact the store")?;
    let summary = outcome.map_err(anyhow::Error::msg)?;
    name_ases(store, &geo)?;
    if let Some((_, observed_at)) = summary.time_span {
        let worse = summary.has_errors() || first_kept.is_some();
        record_as_countries(store, &mut accounting, observed_at, worse)?;
    }
    let table = accounting.table();
    Ok(MrtIngestReport {
        summary,
        values_written,
        first_kept,
        prefixes: table.prefix_count(),
        peers: table.peers().len(),
        table_bytes: table.heap_bytes(),
    })
}

/// A bin whose stored values were kept over a re-read from fewer records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeptBin {
    /// The bin's start.
    pub bin_start: i64,
    /// Records behind the stored values.
    pub stored_records: u64,
    /// Records behind the values of this read.
    pub read_records: u64,
}

/// The store's sink for MRT bins, folding each UTC day into chunks once the
/// next one starts.
struct DailyStoreSink<'a> {
    store: &'a mut Store,
    values_written: u64,
    last_day: Option<i64>,
    first_kept: Option<KeptBin>,
}

impl DailyStoreSink<'_> {
    /// Folds the previous day into chunks once a bin of a new day is written.
    fn next_day(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        let day = bin.bin_start.div_euclid(86_400);
        if self.last_day.is_some_and(|last| last != day) {
            self.store
                .compact()
                .map_err(|e| SinkError(format!("cannot compact the store: {e}")))?;
        }
        self.last_day = Some(day);
        Ok(())
    }
}

impl BinSink for DailyStoreSink<'_> {
    fn write(&mut self, bin: &SignalBin) -> Result<(), SinkError> {
        self.values_written += bin.values.len() as u64;
        self.store.sink(MRT_SOURCE).write(bin)?;
        self.next_day(bin)
    }

    /// Writes the bin unless the store holds it from more records.
    fn write_weighted(&mut self, bin: &SignalBin, records: u64) -> Result<WriteOutcome, SinkError> {
        let outcome = self.store.sink(MRT_SOURCE).write_weighted(bin, records)?;
        match outcome {
            WriteOutcome::Written => self.values_written += bin.values.len() as u64,
            WriteOutcome::KeptStored { stored_records } => {
                self.first_kept.get_or_insert(KeptBin {
                    bin_start: bin.bin_start,
                    stored_records,
                    read_records: records,
                });
            }
        }
        self.next_day(bin)?;
        Ok(outcome)
    }
}

/// Names the ASes that have data and no name yet, from a loaded AS-name table.
fn name_ases(store: &mut Store, geo: &GeoDb) -> Result<()> {
    if geo.as_name_count() == 0 {
        return Ok(());
    }
    let names: Vec<(Entity, String)> = store
        .entities()?
        .into_iter()
        .filter_map(|info| match info.entity {
            Entity::Asn(asn) if info.name.is_none() => {
                geo.as_name(asn).map(|n| (Entity::Asn(asn), n.to_string()))
            }
            _ => None,
        })
        .collect();
    if !names.is_empty() {
        store.set_entity_names(&names)?;
    }
    Ok(())
}

/// Which ASes originate space in which country (a country's incident lists
/// its affected networks from it); an older archive ingested after a newer
/// one leaves the newer table in place, and so does a damaged or partial
/// read of the same time (`worse`).
fn record_as_countries(
    store: &mut Store,
    accounting: &mut VisibilityAccounting,
    observed_at: i64,
    worse: bool,
) -> Result<()> {
    let newest = store
        .as_countries(None, None)?
        .iter()
        .map(|row| row.observed_at)
        .max();
    if newest.is_some_and(|t| t > observed_at || (worse && t == observed_at)) {
        return Ok(());
    }
    let rows: Vec<AsCountrySpace> = accounting
        .origin_country_space()
        .into_iter()
        .map(|space| AsCountrySpace {
            asn: space.asn,
            country: space.country,
            units_v4: space.units[0],
            units_v6: space.units[1],
            observed_at,
        })
        .collect();
    store.replace_as_countries(&rows)?;
    Ok(())
}
