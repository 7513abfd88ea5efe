//! vigie's own detector: a seasonal, noise-aware, incremental detector with
//! change-point refinement.
//!
//! For each bin the baseline is `level × daily shape(hour) × weekly
//! factor(weekday)`:
//! - the level is the interquartile mean (the mean of the middle half) of
//!   the last day of (deseasonalised) values: robust like a median but
//!   continuous for low counts; a level shift is learnt within half a day;
//! - the daily shape is, for each hour of the day, the median over the last 7
//!   days of that hour's ratio to the level (the "most similar past days"
//!   idea of Cloudflare Radar), interpolated between hour centres;
//! - the weekly factor is, for each weekday, the median over the last 4 weeks
//!   of that day's ratio to the level, once a weekday has been seen twice;
//!   a weekday seen once widens its own noise by the dip it showed then
//!   (a second weekend is judged knowing the first); weekdays are the
//!   entity's local days when its zone is known
//!   ([`SignalDetector::set_local_offset`]), UTC days otherwise.
//!
//! Values inside an outage are *inpainted*: the history keeps the baseline,
//! not the outage, so a long or recurring outage (daily exam shutdowns, a
//! 90-day blackout) never becomes normal. An outage stays open for as long
//! as the signal stays down; past [`VigieConfig::sustained_after_secs`] it
//! is reported as a sustained drop with no recovery yet.
//!
//! Every parameter is a duration; the daily shape has a slot an hour, or
//! one a bin when bins are longer, so any bin width from a minute to a day
//! is scanned the same way.
//!
//! Inpainting must not lock a mistake in, so:
//! - an hour of the day that the shape has never seen outside an outage
//!   (the first day of a series, or nights that were all blacked out) is
//!   judged against the *last hour* instead (the median of the last hour's
//!   normal bins): a smooth daily cycle moves little in an hour, so the
//!   first trough of a cycle is not an outage, while a sudden cut still is.
//!   Only windows up to an hour teach the noise from such bins (longer
//!   deviations from the last hour say nothing of how the series wanders);
//! - when the first shape is known, the level history, written with a flat
//!   shape, is divided by it;
//! - the hour after an outage ends (traffic surging back) is kept out of the
//!   shape, like the outage itself;
//! - the weekly factor also keeps each day's *measured* level: a weekday
//!   whose measured levels agree week after week (a weekend dip, flagged the
//!   first times) is learnt from them; otherwise from the inpainted ones, so
//!   a one-off outage day does not lower its weekday;
//! - against the seasonal baseline, the shape's own error (an hourly mean
//!   over few days) is added to the noise, so a young shape of a noisy
//!   series is not trusted beyond what it has seen.
//!
//! A drop is an outage only if it begins with a step: the hour after its
//! onset must be at least half the drop deeper than the hour before, and
//! the hour before at most a quarter of the drop down. Cuts are abrupt;
//! natural changes (the evening fall of a steep daily cycle, nights at a
//! quarter of the peak falling ~27% an hour, a weekend settling in over
//! the night) build up over hours, so they are not flagged and are learnt
//! by the daily shape, the weekly factor and the level. (A flagged trough
//! never enters the shape: without this rule a steep first night, flagged
//! against the last hour, was flagged again every night.)
//!
//! A drop is confirmed when, over a window of 15 minutes to 8 hours, the mean
//! fraction lost is at least the family's minimum depth *and* stands out from
//! the series' own noise for that window length by the number of standard
//! deviations that gives each window length the same false-alarm budget
//! ([`VigieConfig::false_alarm_days`]); the noise is learnt from normal bins
//! eight hours old, so a drop being confirmed never raises its own bar. At
//! coarse bins (3 hours, a day), where those windows are one or two bins,
//! windows of up to a third of the level's own window are added, and a
//! window whose own noise is not measured yet is judged against one bin's,
//! which bounds it. The onset is then
//! moved back to the least-squares location of the step; the recovery, once
//! back for 30 minutes, to the first bin that climbed out of the outage
//! level (or, when a noisy bin just after it stopped that walk, to the
//! least-squares location of the step up, at most the exit window
//! earlier). Missing bins are never low: they neither start nor end an outage,
//! they are counted as gaps.
//!
//! A drop that no window confirmed before the level would learn it (a
//! telescope at half its sources, under its 75% minimum depth; a signal too
//! noisy for eight hours to tell) is *held*: from a step that takes at least
//! 40% (or the family's minimum depth, if less) over the longest window,
//! its bins are kept out of the level, and after a day it is judged as a
//! whole against the longest window's noise, with one chance a day. A held
//! drop that comes back, or that two days do not confirm, is learnt.
//!
//! Before any noise is known (seven values: a week of daily bins), a drop
//! held over the record window is an outage when every bin of it is half a
//! learnt baseline down and under half of the lowest level value seen.
//!
//! A drop of three hours or more is also confirmed, step or not, when it
//! falls below half of the signal's *record low* (the lowest mean of three
//! normal hours over the last two weeks, on at least three days) by one
//! count-noise more: a signal so noisy that no window stands out (a few
//! answering addresses an hour) still shows a blackout as unprecedented.
//!
//! [`SignalDetector::push`] takes one bin at a time; [`detect_series`] is the
//! same loop over a whole series, so batch and incremental detection agree by
//! construction (and the tests check it across saved and restored state).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use vigie_model::{BinSize, Series, SeriesKey, UnixSecs};

use crate::config::VigieConfig;
use crate::event::{DataGap, EndReason, RestorationWindow, SignalDetection, SignalEvent};

/// A day enters the daily shape once this share of its slots have data
/// (20 of 24 hours).
const MIN_SLOT_SHARE_FOR_SHAPE: f64 = 20.0 / 24.0;
const DAYS_PER_WEEK: usize = 7;
/// A weekday's measured day levels that differ by at most this fraction
/// are one weekly pattern (see `SignalDetector::recompute_week`).
const WEEKDAY_AGREEMENT: f64 = 0.10;
/// The most a weekday seen once may widen its own noise: a day that fell
/// by more than this is not taken for a quieter weekday.
const MAX_ONCE_DIP: f64 = 0.5;
/// Non-overlapping windows of normal data needed before the noise of a
/// window length is trusted (a window of `w` bins needs `w` times as many
/// updates, since consecutive windows overlap), up to two days of data.
const NOISE_WARMUP_WINDOWS: u32 = 12;
/// Normal data, in seconds, that is always enough to trust a noise estimate
/// once it holds [`NOISE_WARMUP_MIN_BINS`] bins.
const NOISE_WARMUP_MAX_SECS: u32 = 2 * 86_400;
/// The fewest bins a noise estimate is ever trusted after: two days are
/// two bins at daily bins, and a noise measured on two days says nothing.
const NOISE_WARMUP_MIN_BINS: u32 = 7;
/// The fewest bins a noise estimate is a mean over (its memory is a day
/// otherwise): as many as an hourly series has in a day.
const NOISE_MEMORY_BINS: u32 = 24;
/// A series silent for longer than this is followed afresh when its data
/// comes back: what was learnt before is too old to judge by (an event
/// still open is closed as data lost).
pub const MAX_SILENCE_SECS: u32 = 14 * 86_400;
/// The fewest values the baseline level is a median of (see `Sizes`).
const MIN_LEVEL_BINS: usize = 7;
/// An open outage is closed as "data lost" only after at least this many
/// bins without data: one missing daily value is not the end of a blackout.
const MIN_LOST_BINS: usize = 2;
/// How long a drop must last to be judged against the signal's record low
/// (see [`SignalDetector::below_record`]): three hours, or two bins when
/// bins are longer.
const RECORD_WINDOW_SECS: u32 = 3 * 3600;
/// No hour of the daily shape is taken for less than this share of the
/// day's mean: an hour whose median is zero (a signal of about one count an
/// hour) is below the signal's resolution, not an hour without service, and
/// dividing by it would make the level of any later count immense.
const MIN_SHAPE: f32 = 0.05;
/// Bins whose season (daily shape times weekly factor) is below this
/// share of the mean day do not enter the level history.
const MIN_LEVEL_SEASON: f32 = 0.25;
/// Before any noise is known, a drop of at least this fraction held over
/// the record window is an outage (IODA's critical level).
const YOUNG_OUTAGE_DEPTH: f64 = 0.5;
/// Days of record lows remembered.
const RECORD_DAYS: usize = 14;
/// Days with a record low needed before the record is trusted.
const MIN_RECORD_DAYS: usize = 3;
/// A drop below this share of the record low is unprecedented.
const RECORD_SHARE: f64 = 0.5;
/// Bins at least this long judge every window as a long one (see
/// [`SignalDetector::sigma`]).
const COARSE_BIN_SECS: u32 = 1800;
/// Bin flags in the recent ring.
const FLAG_NORMAL: u8 = 0;
const FLAG_EVENT: u8 = 1;
const FLAG_UNJUDGED: u8 = 2;
/// A bin of a drop held out of the level while it may be a sustained one
/// (see [`SignalDetector::hold`]).
const FLAG_HELD: u8 = 3;
/// How long a drop shallower than its family's minimum depth, or too
/// noisy for any window, must hold to be judged as one sustained drop.
const SUSTAINED_SECS: u32 = 86_400;
/// The shallowest sustained drop, whatever the family's minimum depth: a
/// telescope (minimum 75%) that keeps half its sources for a day or more.
const SUSTAINED_DEPTH: f64 = 0.4;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// What the detector concluded about one bin.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct BinVerdict {
    /// The bin's start.
    pub t: UnixSecs,
    /// The baseline, once learnt.
    pub predicted: Option<f64>,
    /// Fraction of the baseline missing (negative above it).
    pub depth: Option<f64>,
    /// The detector's state after this bin.
    pub phase: PhaseKind,
}

/// The detector's state, as reported per bin.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseKind {
    /// Still learning the baseline.
    Warmup,
    /// No outage.
    Normal,
    /// In an outage.
    Down,
    /// Back, but a new drop would still belong to the same event.
    Restored,
    /// The bin was older than the last one pushed and was ignored.
    Stale,
}

/// Where a confirmed drop began (see `SignalDetector::locate_onset`).
enum Onset {
    /// Fewer than half of the window's bins are low: not this window.
    TooFewLow,
    /// The drop built up over hours: left to the baseline to learn.
    NotAStep,
    /// The bin the drop began at.
    At(i64),
}

/// Derived sizes, in bins.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
struct Sizes {
    bin_secs: u32,
    /// Width of one slot of the daily shape: an hour, or the bin when
    /// bins are longer (3-hour bins have 8 slots a day, daily bins one).
    slot_secs: u32,
    /// Slots of the daily shape per day.
    slots: usize,
    level_bins: usize,
    warmup_bins: usize,
    confirm_windows: Vec<usize>,
    noise_windows: Vec<usize>,
    exit_bins: usize,
    close_after_bins: usize,
    sustained_bins: usize,
    lookback_bins: usize,
    recent_len: usize,
    gap_min_bins: usize,
    max_fill_bins: usize,
    /// Noise is learnt from bins this old, so that a drop confirmed meanwhile
    /// never teaches the detector that drops are normal.
    noise_delay: usize,
    /// Standard deviations needed, per confirm window.
    thresholds: Vec<f64>,
    /// The window of the record-low test ([`RECORD_WINDOW_SECS`]).
    record_bins: usize,
}

impl Sizes {
    fn new(config: &VigieConfig, bin: BinSize) -> Sizes {
        let secs = bin.secs() as usize;
        let bins = |s: u32| ((s as usize) / secs).max(1);
        let confirm_windows: Vec<usize> = {
            let mut w: Vec<usize> = config
                .confirm_windows_secs
                .iter()
                .map(|s| bins(*s))
                .collect();
            w.sort_unstable();
            w.dedup();
            if w.is_empty() {
                w.push(1);
            }
            w
        };
        // A median of one or two values is no baseline: with daily bins
        // the level spans a week (the weekly factor takes the weekdays out
        // of it), whatever the configured window.
        let level_bins = bins(config.level_window_secs).max(MIN_LEVEL_BINS);
        // The level learns a drop within half its window, so a drop must be
        // confirmed well before that: the configured windows (up to 8 hours)
        // are a third of a day's level at fine bins, but only two bins at
        // 3-hour or daily bins, where the level spans at least a week of
        // bins. Coarse series also get windows up to the share of the level
        // the configured longest window has, so that a few bins of evidence
        // add up before the level learns the drop.
        let confirm_windows: Vec<usize> = {
            let mut w = confirm_windows;
            let longest_secs = config
                .confirm_windows_secs
                .iter()
                .copied()
                .max()
                .unwrap_or(0);
            let share = f64::from(longest_secs) / f64::from(config.level_window_secs.max(1));
            let longest = (level_bins as f64 * share.min(1.0)).ceil() as usize;
            let mut next = w.last().copied().unwrap_or(1) * 2;
            while next < longest {
                w.push(next);
                next *= 2;
            }
            if w.last().is_some_and(|l| *l < longest) {
                w.push(longest);
            }
            w
        };
        let exit_bins = bins(config.exit_window_secs);
        let mut noise_windows = confirm_windows.clone();
        noise_windows.push(1);
        noise_windows.sort_unstable();
        noise_windows.dedup();
        let thresholds: Vec<f64> = confirm_windows
            .iter()
            .map(|w| {
                let chances_per_day = 86_400.0 / (*w as f64 * f64::from(bin.secs()));
                let p = 1.0 / (chances_per_day * config.false_alarm_days.max(1.0));
                upper_quantile(p)
            })
            .collect();
        let two_hours = bins(2 * 3600) + 2;
        let widest = exit_bins;
        let widest_confirm = confirm_windows.last().copied().unwrap_or(1);
        // An onset is dated back at least over the longest window that
        // can confirm it, and one bin before it.
        let lookback_bins = bins(config.lookback_secs).max(widest_confirm + 1);
        let slot_secs = bin.secs().max(3600);
        Sizes {
            bin_secs: bin.secs(),
            slot_secs,
            slots: (86_400 / slot_secs).max(1) as usize,
            level_bins,
            warmup_bins: bins(config.warmup_secs),
            confirm_windows,
            noise_windows,
            exit_bins,
            close_after_bins: bins(config.close_after_secs),
            sustained_bins: bins(config.sustained_after_secs),
            lookback_bins,
            recent_len: lookback_bins
                .max(two_hours)
                .max(2 * widest_confirm)
                .max(widest_confirm + widest)
                + 2,
            gap_min_bins: bins(config.gap_min_secs),
            max_fill_bins: bins(MAX_SILENCE_SECS),
            noise_delay: widest_confirm,
            thresholds,
            record_bins: bins(RECORD_WINDOW_SECS).max(2),
        }
    }
}

/// One bin remembered for refinement, inpainting and the daily shape.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
struct RecentBin {
    bin_no: i64,
    #[serde(with = "crate::event::nan::f32")]
    value: f32,
    #[serde(with = "crate::event::nan::f32")]
    predicted: f32,
    /// Daily shape × weekly factor used for this bin.
    #[serde(with = "crate::event::nan::f32")]
    season: f32,
    /// Weekly factor alone.
    #[serde(with = "crate::event::nan::f32")]
    week: f32,
    /// Level before this bin.
    #[serde(with = "crate::event::nan::f32")]
    level: f32,
    #[serde(with = "crate::event::nan::f32")]
    depth: f32,
    /// The depth scaled for the noise tests (see [`SignalDetector::noise_scale`]).
    #[serde(with = "crate::event::nan::f32")]
    score: f32,
    flag: u8,
    /// Judged against the last hour, before the daily shape was known.
    local: bool,
    /// In the hour after an outage ended: a recovery transient (traffic
    /// surging back), kept out of the daily shape.
    aftermath: bool,
}

impl RecentBin {
    fn empty() -> RecentBin {
        RecentBin {
            bin_no: i64::MIN,
            value: f32::NAN,
            predicted: f32::NAN,
            season: 1.0,
            week: 1.0,
            level: f32::NAN,
            depth: f32::NAN,
            score: f32::NAN,
            flag: FLAG_UNJUDGED,
            local: false,
            aftermath: false,
        }
    }
}

/// One bin of an open event.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
struct EventBin {
    #[serde(with = "crate::event::nan::f32")]
    value: f32,
    #[serde(with = "crate::event::nan::f32")]
    predicted: f32,
    #[serde(with = "crate::event::nan::f32")]
    season: f32,
    #[serde(with = "crate::event::nan::f32")]
    depth: f32,
}

/// An event not yet closed.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
struct OpenEvent {
    start_bin: i64,
    /// Bins from `start_bin` to the last bin still down.
    bins: Vec<EventBin>,
    restorations: Vec<RestorationWindow>,
    #[serde(with = "crate::event::nan::f64")]
    evidence: f64,
    /// Consecutive bins without data at the end.
    none_run: usize,
    /// The median depth of the down bins, refreshed as the event grows.
    #[serde(with = "crate::event::nan::f64")]
    depth: f64,
    /// First bin of the current run down (after the last restoration).
    run_start_bin: i64,
    /// Confirmed as a sustained drop ([`SignalDetector::hold`]): its way
    /// back is judged over the longest window, as it was found.
    sustained: bool,
}

impl OpenEvent {
    /// Refreshes the median depth (every bin while short, then hourly-ish).
    fn refresh_depth(&mut self, force: bool) {
        let n = self.bins.len();
        // Every bin while short, then at intervals growing with the event,
        // so a 90-day outage costs linear time, not quadratic.
        if force || n < 24 || n.rem_euclid((n / 64).max(12)) == 0 {
            let mut depths: Vec<f64> = self
                .bins
                .iter()
                .filter(|b| !b.depth.is_nan())
                .map(|b| f64::from(b.depth))
                .collect();
            if let Some(d) = crate::event::median(&mut depths) {
                self.depth = d;
            }
        }
    }

    /// The median depth of the bins before the trailing run of bins back
    /// within `exit_depth` (or without data); the event's depth when every
    /// bin is in that run.
    fn depth_before_recovery(&self, exit_depth: f64) -> f64 {
        let down = self
            .bins
            .iter()
            .rposition(|b| !b.depth.is_nan() && f64::from(b.depth) >= exit_depth);
        let Some(last_down) = down else {
            return self.depth;
        };
        let mut depths: Vec<f64> = self.bins[..=last_down]
            .iter()
            .filter(|b| !b.depth.is_nan())
            .map(|b| f64::from(b.depth))
            .collect();
        crate::event::median(&mut depths).unwrap_or(self.depth)
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
enum Phase {
    Warmup,
    Normal,
    Down(OpenEvent),
    Restored {
        event: OpenEvent,
        since_bin: i64,
        #[serde(with = "crate::event::nan::vec_f32")]
        restored_depths: Vec<f32>,
    },
}

/// vigie's detector for one series, fed one bin at a time.
///
/// The state is serialisable, so a live pipeline can store it between bins
/// and carry on exactly where it stopped.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct SignalDetector {
    key: SeriesKey,
    config: VigieConfig,
    sizes: Sizes,
    min_depth: f64,
    /// The configured minimum prediction, or 0 for unitless indices.
    min_prediction: f64,
    next_bin: Option<i64>,
    /// Bins pushed with data since the start (for warm-up).
    data_bins: usize,
    #[serde(with = "crate::compact::f32_ring")]
    level_ring: Vec<f32>,
    /// The season each level-ring value was divided by (NaN where it holds
    /// an inpainted level), so the ring can be rebased on the first shape.
    #[serde(with = "crate::compact::f32_ring")]
    level_divisor: Vec<f32>,
    level: Option<f64>,
    #[serde(with = "recent_ring")]
    recent: Vec<RecentBin>,
    /// Hour-of-day ratios, one row per day (`season_days` rows).
    #[serde(with = "crate::compact::f32_ring")]
    day_rows: Vec<f32>,
    day_stamps: Vec<i64>,
    #[serde(with = "crate::event::nan::vec_f32")]
    shape: Vec<f32>,
    /// Whether the daily shape has been learnt from a whole day yet.
    shape_ready: bool,
    /// Per hour of the day, whether the shape has ever seen that hour
    /// outside an outage; bins at hours never seen are judged against the
    /// last hour (see [`Self::local_reference`]).
    shape_known: Vec<bool>,
    /// Per hour of the day, how many days the shape's value comes from.
    shape_days: Vec<u8>,
    /// Days behind the daily shape at the last bin pushed (0 when it was
    /// judged against the last hour).
    current_shape_days: u8,
    /// Per day row and hour, whether most of the hour's bins were normal
    /// (not inpainted).
    day_seen: Vec<bool>,
    /// Per day row and slot, the mean of the values measured (outages
    /// included, NaN when none): the floor of each hour of the day.
    #[serde(with = "crate::compact::f32_ring")]
    day_raw_rows: Vec<f32>,
    /// Day-level ratios for the weekly factor (`season_weeks × 7` days).
    #[serde(with = "crate::compact::f32_ring")]
    week_days: Vec<f32>,
    /// The same days' levels as measured (outages not inpainted).
    #[serde(with = "crate::compact::f32_ring")]
    week_days_raw: Vec<f32>,
    week_stamps: Vec<i64>,
    #[serde(with = "crate::event::nan::vec_f32")]
    week_factors: Vec<f32>,
    /// Per weekday, whether its factor has been learnt (seen twice).
    week_known: Vec<bool>,
    /// Per weekday seen once only, how far below a typical day it was
    /// (0 otherwise): a dip that may be the weekday's own pattern.
    week_once_dip: Vec<f32>,
    /// How uncertain the weekday of the last bin pushed is (see
    /// [`Self::weekday_spread`]); 0 once learnt.
    current_week_spread: f64,
    /// The part of it measured: the dip of the weekday seen once (0 when
    /// learnt or never seen), which holds all day, so it weighs on windows
    /// of any length.
    current_week_once: f64,
    /// The family's spread of a weekday not yet learnt
    /// ([`VigieConfig::unlearnt_weekday_spread`]).
    unlearnt_weekday_spread: f64,
    day_sum: f64,
    day_raw_sum: f64,
    day_count: u32,
    day_of_sum: i64,
    noise_mad: Vec<f64>,
    noise_updates: Vec<u32>,
    /// Per day (a ring of [`RECORD_DAYS`]), the lowest mean of any record
    /// window of normal bins that day: what the signal still held through
    /// its quietest three hours.
    #[serde(with = "crate::compact::f32_ring")]
    record_lows: Vec<f32>,
    record_stamps: Vec<i64>,
    /// The smallest step seen between two consecutive values (the
    /// signal's resolution: 1 for counts and a 0..10 index, 10 for an
    /// index in steps of 10); NaN until two values differ. A change of one
    /// step cannot be told from rounding, so no signal is trusted to better
    /// than one step at its level.
    #[serde(with = "crate::event::nan::f32")]
    quantum: f32,
    /// The last value seen, for [`Self::quantum`].
    #[serde(with = "crate::event::nan::f32")]
    last_value: f32,
    /// Whether that value was within the normal range of its baseline.
    last_normal: bool,
    /// Noise is not learnt from bins before this one (just after an outage).
    noise_quiet_until: i64,
    phase: Phase,
    closed: Vec<SignalEvent>,
    gaps: Vec<DataGap>,
    gap_start: Option<i64>,
    none_run: usize,
    /// The entity's offset from UTC, in seconds, when known: its weekdays,
    /// and the days its weekly pattern is learnt from, are local days.
    #[serde(default)]
    local_offset: i64,
    /// A drop held out of the level while it may be a sustained one.
    held: Option<HeldDrop>,
}

/// A drop held out of the level (see [`SignalDetector::hold`]).
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
struct HeldDrop {
    /// Its onset.
    since: i64,
    /// Sum of the scores and depths of its bins with data, and how many.
    score_sum: f64,
    depth_sum: f64,
    count: u32,
}

impl HeldDrop {
    /// Counts a bin of the drop (one without a score is no evidence).
    fn add(&mut self, bin: &RecentBin) {
        if !bin.score.is_nan() {
            self.score_sum += f64::from(bin.score);
            self.depth_sum += f64::from(bin.depth);
            self.count += 1;
        }
    }
}

impl SignalDetector {
    /// Whether this detector (restored from a checkpoint, say) was built
    /// by `config` with the windows and sizes this version derives from
    /// it. One saved by another configuration, or by a version whose
    /// windows differ, would go on judging its series unlike batch
    /// detection: it is to be warmed up again instead.
    pub fn built_by(&self, config: &VigieConfig) -> bool {
        self.config == *config
            && BinSize::new(self.sizes.bin_secs)
                .is_ok_and(|bin| Sizes::new(config, bin) == self.sizes)
    }

    /// Counts weekdays, and the days the weekly pattern is learnt from, in
    /// the entity's local time, `offset_secs` east of UTC (a weekend is a
    /// local matter: it ends at local midnight). Call before the first bin.
    pub fn set_local_offset(&mut self, offset_secs: i64) {
        self.local_offset = offset_secs;
    }

    /// A detector for the series `key`, with bins of `bin`.
    pub fn new(key: SeriesKey, bin: BinSize, config: &VigieConfig) -> SignalDetector {
        let sizes = Sizes::new(config, bin);
        let season_days = config.season_days.max(1);
        let week_len = config.season_weeks.max(1) * DAYS_PER_WEEK;
        let unlearnt_weekday_spread = config.unlearnt_weekday_spread.get(key.signal.family());
        SignalDetector {
            min_depth: config.min_depth.get(key.signal.family()),
            min_prediction: if key.signal.unit() == "index" {
                0.0
            } else {
                config.min_prediction
            },
            key,
            config: config.clone(),
            next_bin: None,
            data_bins: 0,
            level_ring: vec![f32::NAN; sizes.level_bins],
            level_divisor: vec![f32::NAN; sizes.level_bins],
            level: None,
            recent: vec![RecentBin::empty(); sizes.recent_len],
            day_rows: vec![f32::NAN; season_days * sizes.slots],
            day_stamps: vec![i64::MIN; season_days],
            shape: vec![1.0; sizes.slots],
            shape_ready: false,
            shape_known: vec![false; sizes.slots],
            shape_days: vec![0; sizes.slots],
            current_shape_days: 0,
            day_seen: vec![false; season_days * sizes.slots],
            day_raw_rows: vec![f32::NAN; season_days * sizes.slots],
            week_days: vec![f32::NAN; week_len],
            week_days_raw: vec![f32::NAN; week_len],
            week_stamps: vec![i64::MIN; week_len],
            week_factors: vec![1.0; DAYS_PER_WEEK],
            week_known: vec![false; DAYS_PER_WEEK],
            week_once_dip: vec![0.0; DAYS_PER_WEEK],
            current_week_spread: unlearnt_weekday_spread,
            current_week_once: 0.0,
            unlearnt_weekday_spread,
            day_sum: 0.0,
            day_raw_sum: 0.0,
            day_count: 0,
            day_of_sum: i64::MIN,
            noise_mad: vec![0.0; sizes.noise_windows.len()],
            noise_updates: vec![0; sizes.noise_windows.len()],
            record_lows: vec![f32::NAN; RECORD_DAYS],
            record_stamps: vec![i64::MIN; RECORD_DAYS],
            noise_quiet_until: i64::MIN,
            quantum: f32::NAN,
            last_value: f32::NAN,
            last_normal: false,
            sizes,
            phase: Phase::Warmup,
            closed: Vec::new(),
            gaps: Vec::new(),
            gap_start: None,
            none_run: 0,
            local_offset: 0,
            held: None,
        }
    }

    /// The series this detector watches.
    pub fn key(&self) -> &SeriesKey {
        &self.key
    }

    /// Bin width in seconds.
    pub fn bin_secs(&self) -> u32 {
        self.sizes.bin_secs
    }

    /// The start of the next bin expected, once a bin was pushed.
    pub fn next_bin_start(&self) -> Option<UnixSecs> {
        self.next_bin.map(|b| b * i64::from(self.sizes.bin_secs))
    }

    /// How far before the next bin an event not reported yet can start, in
    /// seconds: the span of the bins the detector still remembers (an
    /// onset is only ever dated back to a remembered bin).
    pub fn memory_secs(&self) -> i64 {
        self.recent.len() as i64 * i64::from(self.sizes.bin_secs)
    }

    /// Feeds the bin starting at `t` (floored to a bin boundary). Skipped bins
    /// count as no data; a bin older than the last one is ignored.
    pub fn push(&mut self, t: UnixSecs, value: Option<f64>) -> BinVerdict {
        let step = i64::from(self.sizes.bin_secs);
        let bin_no = t.div_euclid(step);
        let value = value.filter(|v| v.is_finite() && *v >= 0.0);
        if let Some(next) = self.next_bin {
            if bin_no < next {
                return BinVerdict {
                    t: bin_no * step,
                    predicted: None,
                    depth: None,
                    phase: PhaseKind::Stale,
                };
            }
            let missing = (bin_no - next) as usize;
            if missing > self.sizes.max_fill_bins {
                self.reset_after_long_silence(next, bin_no);
            } else {
                for missing_bin in next..bin_no {
                    self.step(missing_bin, None);
                }
            }
        }
        self.step(bin_no, value)
    }

    /// Events so far, oldest first: closed ones, then the open one (ongoing
    /// or recovering), as they stand at the last bin pushed.
    pub fn events(&self) -> Vec<SignalEvent> {
        let mut events = self.closed.clone();
        if let Some(open) = self.open_event() {
            events.push(open);
        }
        events
    }

    /// Closed events only; they will not change any more.
    pub fn closed_events(&self) -> &[SignalEvent] {
        &self.closed
    }

    /// Removes and returns closed events, for a live pipeline that stores them.
    pub fn take_closed_events(&mut self) -> Vec<SignalEvent> {
        std::mem::take(&mut self.closed)
    }

    /// The open event as it stands, if any.
    pub fn open_event(&self) -> Option<SignalEvent> {
        match &self.phase {
            Phase::Down(event) => {
                let now = self.next_bin.unwrap_or(event.start_bin);
                let reason = if (now - event.start_bin) as usize > self.sizes.sustained_bins {
                    EndReason::Sustained
                } else {
                    EndReason::Ongoing
                };
                Some(self.summarise(event, None, reason))
            }
            Phase::Restored {
                event, since_bin, ..
            } => Some(self.summarise(event, Some(*since_bin), EndReason::Recovering)),
            _ => None,
        }
    }

    /// Gaps in the feed so far, with the current one open.
    pub fn gaps(&self) -> Vec<DataGap> {
        let mut gaps = self.gaps.clone();
        if let Some(start) = self.gap_start {
            if self.none_run >= self.sizes.gap_min_bins {
                gaps.push(DataGap {
                    key: self.key.clone(),
                    start: start * i64::from(self.sizes.bin_secs),
                    end: None,
                });
            }
        }
        gaps
    }

    fn step(&mut self, bin_no: i64, value: Option<f64>) -> BinVerdict {
        let step = i64::from(self.sizes.bin_secs);
        let t = bin_no * step;
        self.next_bin = Some(bin_no + 1);
        if t.rem_euclid(i64::from(self.sizes.slot_secs)) < step {
            self.finalise_slot(bin_no);
        }
        self.track_gap(bin_no, value.is_some());

        let week = self.week_factor(t);
        let season = self.shape_at(t) * week;
        let warm = self.data_bins >= self.sizes.warmup_bins && self.level.is_some();
        let predicted = match (warm, self.level) {
            (true, Some(level)) => {
                let seasonal = level * f64::from(season);
                let p = if self.season_known(t) {
                    seasonal
                } else {
                    self.local_reference(bin_no, week).unwrap_or(seasonal)
                };
                (p >= self.min_prediction && p > 0.0).then_some(p)
            }
            _ => None,
        };
        let depth = match (value, predicted) {
            (Some(x), Some(p)) => Some((1.0 - x / p).clamp(-1.0, 1.0)),
            _ => None,
        };
        if let Some(x) = value {
            self.data_bins += 1;
            let x = x as f32;
            // Only moves within the normal range tell the resolution; a
            // cut or a surge is a change of level, not a step of the scale.
            let change = (x - self.last_value).abs();
            let normal = depth.is_some_and(|d| d.abs() < self.min_depth);
            if change > 0.0
                && normal
                && self.last_normal
                && (self.quantum.is_nan() || change < self.quantum)
            {
                self.quantum = change;
            }
            self.last_value = x;
            self.last_normal = normal;
        }
        let slot = self.recent_slot(bin_no);
        self.recent[slot] = RecentBin {
            bin_no,
            value: value.map_or(f32::NAN, |v| v as f32),
            predicted: predicted.map_or(f32::NAN, |p| p as f32),
            season,
            week,
            level: self.level.map_or(f32::NAN, |l| l as f32),
            depth: depth.map_or(f32::NAN, |d| d as f32),
            score: depth.map_or(f32::NAN, |d| (d * self.noise_scale(season)) as f32),
            flag: if predicted.is_some() {
                FLAG_NORMAL
            } else {
                FLAG_UNJUDGED
            },
            local: !self.season_known(t),
            aftermath: false,
        };
        let weekday = weekday_of(t + self.local_offset);
        self.current_week_spread = self.weekday_spread(weekday);
        self.current_week_once = if self.week_known[weekday] {
            0.0
        } else {
            f64::from(self.week_once_dip[weekday])
        };
        self.current_shape_days = if self.recent[slot].local {
            0
        } else {
            self.shape_days_at(t)
        };

        if warm && matches!(self.phase, Phase::Warmup) {
            self.phase = Phase::Normal;
        }
        self.advance_phase(bin_no, depth);
        if let Phase::Restored { since_bin, .. } = &self.phase {
            if bin_no - *since_bin < self.local_bins() as i64 {
                self.recent[slot].aftermath = true;
            }
        }

        // The level history: inpainted inside outages, raw otherwise.
        let (written, divisor) = {
            let recent = self.recent[slot];
            if recent.flag == FLAG_EVENT || recent.flag == FLAG_HELD {
                (recent.level, f32::NAN)
            } else if recent.season < MIN_LEVEL_SEASON {
                // A deep trough of the daily cycle says little about the
                // level: its few counts are mostly rounding.
                (f32::NAN, f32::NAN)
            } else {
                let divisor = recent.season.max(f32::MIN_POSITIVE);
                (recent.value / divisor, divisor)
            }
        };
        let ring_slot = bin_no.rem_euclid(self.level_ring.len() as i64) as usize;
        self.level_ring[ring_slot] = written;
        self.level_divisor[ring_slot] = divisor;
        // Noise is learnt only outside events, from bins an hour old.
        if matches!(self.phase, Phase::Normal) {
            self.update_noise(bin_no - self.sizes.noise_delay as i64);
            self.update_record(bin_no - self.sizes.noise_delay as i64);
        }
        self.level = ring_median(&self.level_ring);

        BinVerdict {
            t,
            predicted,
            depth,
            phase: match &self.phase {
                Phase::Warmup => PhaseKind::Warmup,
                Phase::Normal => PhaseKind::Normal,
                Phase::Down(_) => PhaseKind::Down,
                Phase::Restored { .. } => PhaseKind::Restored,
            },
        }
    }

    fn advance_phase(&mut self, bin_no: i64, depth: Option<f64>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Warmup);
        self.phase = match phase {
            Phase::Warmup => Phase::Warmup,
            // Past half a level window a held drop is judged as a whole:
            // its windows would have been learnt by then, and the hold must
            // not let them go on confirming a weekday's dip. Only a new
            // drop, a minimum depth deeper than the held one, is confirmed
            // by the windows then (a cut during a held weekend).
            Phase::Normal => match self.try_confirm(bin_no, i64::MIN, self.confirm_depth(bin_no)) {
                Some((onset, z)) => {
                    // A drop held before a window confirmed it is a
                    // sustained one when it is shallower than the family's
                    // minimum depth (a noisy quarter hour of it went past):
                    // it began where the hold found its step. A deeper cut
                    // within a held dip (a weekend's) is a cut of its own.
                    let held = self.held.take();
                    let mut event = self.open_from(onset, bin_no, z);
                    if let Some(held) = held.filter(|_| event.depth < self.min_depth) {
                        event = self.open_from(held.since.min(onset), bin_no, z);
                        event.sustained = true;
                    } else if let Some(held) = held {
                        self.held = Some(held);
                        self.release_hold(onset - 1);
                    }
                    Phase::Down(event)
                }
                None => match self.hold(bin_no) {
                    Some((onset, z)) => {
                        let mut event = self.open_from(onset, bin_no, z);
                        event.sustained = true;
                        Phase::Down(event)
                    }
                    None => Phase::Normal,
                },
            },
            Phase::Down(mut event) => {
                self.extend_event(&mut event, bin_no, depth);
                self.after_down_bin(event, bin_no)
            }
            Phase::Restored {
                mut event,
                since_bin,
                mut restored_depths,
            } => {
                restored_depths.push(depth.map_or(f32::NAN, |d| d as f32));
                if (bin_no - since_bin) as usize >= self.sizes.close_after_bins {
                    let closed = self.summarise(&event, Some(since_bin), EndReason::Recovered);
                    self.closed.push(closed);
                    // The level was frozen during the outage: its errors in
                    // the half day after say nothing about the noise.
                    self.noise_quiet_until = since_bin + (self.sizes.level_bins / 2) as i64;
                    match self.try_confirm(bin_no, bin_no, self.min_depth) {
                        Some((onset, z)) => Phase::Down(self.open_from(onset, bin_no, z)),
                        None => Phase::Normal,
                    }
                } else {
                    // A new drop must go deeper than the level the event
                    // was left at, or the minimum depth.
                    let again = self.min_depth.max(event.depth / 2.0);
                    match self.try_confirm(bin_no, since_bin, again) {
                        Some((onset, z)) => {
                            let kept =
                                ((onset - since_bin).max(0) as usize).min(restored_depths.len());
                            let mut restored: Vec<f64> = restored_depths[..kept]
                                .iter()
                                .filter(|d| !d.is_nan())
                                .map(|d| f64::from(*d))
                                .collect();
                            let step = i64::from(self.sizes.bin_secs);
                            event.restorations.push(RestorationWindow {
                                start: since_bin * step,
                                end: onset * step,
                                restored_fraction: crate::event::median(&mut restored)
                                    .map_or(f64::NAN, |d| 1.0 - d),
                            });
                            // The restored bins stay out of the event's bins:
                            // pad them as no-data placeholders so indices hold.
                            let pad = ((onset - event.start_bin).max(0) as usize)
                                .saturating_sub(event.bins.len());
                            for _ in 0..pad {
                                let b = event.start_bin + event.bins.len() as i64;
                                let recent = self.recent_bin(b);
                                event.bins.push(EventBin {
                                    value: recent.map_or(f32::NAN, |r| r.value),
                                    predicted: recent.map_or(f32::NAN, |r| r.predicted),
                                    season: recent.map_or(1.0, |r| r.season),
                                    depth: f32::NAN,
                                });
                            }
                            for b in onset..=bin_no {
                                self.mark_event(b);
                                let recent = self.recent_bin(b);
                                event.bins.push(EventBin {
                                    value: recent.map_or(f32::NAN, |r| r.value),
                                    predicted: recent.map_or(f32::NAN, |r| r.predicted),
                                    season: recent.map_or(1.0, |r| r.season),
                                    depth: recent.map_or(f32::NAN, |r| r.depth),
                                });
                            }
                            event.evidence = event.evidence.max(z);
                            event.none_run = 0;
                            event.run_start_bin = onset;
                            Phase::Down(event)
                        }
                        None => Phase::Restored {
                            event,
                            since_bin,
                            restored_depths,
                        },
                    }
                }
            }
        };
    }

    /// Adds the current bin to an open event and checks the long-gap rule.
    fn extend_event(&mut self, event: &mut OpenEvent, bin_no: i64, depth: Option<f64>) {
        self.mark_event(bin_no);
        let recent = self.recent_bin(bin_no);
        event.bins.push(EventBin {
            value: recent.map_or(f32::NAN, |r| r.value),
            predicted: recent.map_or(f32::NAN, |r| r.predicted),
            season: recent.map_or(1.0, |r| r.season),
            depth: depth.map_or(f32::NAN, |d| d as f32),
        });
        if depth.is_some() {
            event.none_run = 0;
        } else {
            event.none_run += 1;
        }
        if let Some(e) = self.window_evidence(bin_no, 0) {
            event.evidence = event.evidence.max(e);
        }
    }

    /// After a bin in an outage: data lost, relearning, or recovery.
    fn after_down_bin(&mut self, mut event: OpenEvent, bin_no: i64) -> Phase {
        // No data for too long: the event ends where the data ended.
        if event.none_run >= self.sizes.close_after_bins.max(MIN_LOST_BINS) {
            let first_none = bin_no - event.none_run as i64 + 1;
            let keep = (first_none - event.start_bin).max(1) as usize;
            event.bins.truncate(keep);
            let closed = self.summarise(&event, Some(first_none), EndReason::DataLost);
            self.closed.push(closed);
            return Phase::Normal;
        }
        // Recovery: for the exit window, more than halfway back from the
        // outage level (the midpoint, like the onset). Not "within the
        // minimum depth": for a signal whose minimum depth is large (the
        // telescope's 75%), an outage just past it was back inside itself.
        event.refresh_depth(false);
        // (A sustained drop, shallower than the minimum depth, is back
        // halfway too.)
        let exit_depth = (event.depth / 2.0).max(self.sustained_depth() / 2.0);
        // A drop only a day could confirm is noisy: one noisy exit window
        // is not its end.
        let exit_bins = if event.sustained {
            let longest = self.longest_window();
            longest.max(self.sizes.exit_bins)
        } else {
            self.sizes.exit_bins
        };
        let (mean, count) = self.window_mean(bin_no, exit_bins);
        let needed = exit_bins.div_ceil(2);
        let current_ok = self
            .recent_bin(bin_no)
            .is_some_and(|r| !r.depth.is_nan() && f64::from(r.depth) < exit_depth);
        if count >= needed && current_ok && mean.is_some_and(|m| m < exit_depth) {
            event.refresh_depth(true);
            // The way back is measured from the outage's level, not from a
            // median that the bins already back (still in the event until
            // now) pull down: a 15-minute cut seen through a 30-minute exit
            // window has more bins back than down.
            let event_depth = event.depth_before_recovery(exit_depth);
            let delta = self.departure(self.config.recovery_fraction, event_depth);
            let threshold = event_depth - delta;
            let lower = (bin_no - self.sizes.lookback_bins as i64 + 1).max(event.run_start_bin + 1);
            let mut since = bin_no;
            let mut b = bin_no;
            while b >= lower {
                match self.recent_bin(b) {
                    Some(r) if r.depth.is_nan() => {}
                    Some(r) if f64::from(r.depth) <= threshold => since = b,
                    _ => break,
                }
                b -= 1;
            }
            let since = self.end_location(lower, bin_no, since, event_depth, exit_bins);
            // Bins from `since` on are not part of the outage.
            let keep = (since - event.start_bin).max(1) as usize;
            let restored_depths: Vec<f32> =
                event.bins.iter().skip(keep).map(|eb| eb.depth).collect();
            event.bins.truncate(keep);
            for b in since..=bin_no {
                self.unmark_event(b);
                let slot = self.recent_slot(b);
                if self.recent[slot].bin_no == b {
                    self.recent[slot].aftermath = true;
                }
            }
            return Phase::Restored {
                event,
                since_bin: since,
                restored_depths,
            };
        }
        Phase::Down(event)
    }

    /// Opens an event from `onset` to `bin_no`, inpainting those bins.
    fn open_from(&mut self, onset: i64, bin_no: i64, z: f64) -> OpenEvent {
        let mut event = OpenEvent {
            start_bin: onset,
            bins: Vec::new(),
            restorations: Vec::new(),
            evidence: z,
            none_run: 0,
            depth: self.min_depth,
            run_start_bin: onset,
            sustained: false,
        };
        for b in onset..=bin_no {
            self.mark_event(b);
            let recent = self.recent_bin(b);
            event.bins.push(EventBin {
                value: recent.map_or(f32::NAN, |r| r.value),
                predicted: recent.map_or(f32::NAN, |r| r.predicted),
                season: recent.map_or(1.0, |r| r.season),
                depth: recent.map_or(f32::NAN, |r| r.depth),
            });
        }
        event.refresh_depth(true);
        event
    }

    /// Confirms a drop ending at `bin_no`; returns the refined onset (not
    /// before `floor_bin`) and the evidence in standard deviations.
    ///
    /// A drop is confirmed when a window's mean departure stands out from
    /// that window's noise, or, for a drop of at least three hours, when it
    /// fell below half of anything the signal held through its quietest
    /// three hours in the last two weeks ([`Self::below_record`]): a noisy
    /// signal of a few counts whose noise hides a blackout still shows it
    /// as unprecedented.
    fn try_confirm(&self, bin_no: i64, floor_bin: i64, min_depth: f64) -> Option<(i64, f64)> {
        let current = self.recent_bin(bin_no)?;
        if current.depth.is_nan() || f64::from(current.depth) < min_depth {
            return None;
        }
        let mut strongest = 0.0f64;
        for (index, &window) in self.sizes.confirm_windows.iter().enumerate() {
            // A new drop after a restoration is judged on bins after it: a
            // window reaching back into the outage just ended would confirm
            // that outage again on one noisy bin.
            if floor_bin != i64::MIN && bin_no - window as i64 + 1 < floor_bin {
                continue;
            }
            let (mean, count) = self.window_mean(bin_no, window);
            let Some(mean) = mean else { continue };
            if count < window.div_ceil(2).max(2.min(window)) || mean < min_depth {
                continue;
            }
            let Some(z) = self.window_evidence(bin_no, index) else {
                continue;
            };
            strongest = strongest.max(z);
            if z < self.sizes.thresholds[index] {
                continue;
            }
            match self.locate_onset(bin_no, floor_bin, min_depth, window, mean, false) {
                Onset::TooFewLow => continue,
                Onset::NotAStep => return None,
                Onset::At(onset) => return Some((onset, z)),
            }
        }
        let window = self.sizes.record_bins;
        if floor_bin != i64::MIN && bin_no - window as i64 + 1 < floor_bin {
            return None;
        }
        let (mean, count) = self.window_mean(bin_no, window);
        // Before any noise is known, a deep drop may still be judged
        // ([`Self::young_drop`]); the record low is tried either way.
        if self.sigma(1).is_none() {
            if let Some(confirmed) = self.young_drop(bin_no, floor_bin, min_depth, mean, count) {
                return Some((confirmed, strongest));
            }
        }
        let mean = mean.filter(|m| *m >= min_depth && count >= window.div_ceil(2))?;
        if !self.below_record(bin_no) {
            return None;
        }
        let Onset::At(mut onset) =
            self.locate_onset(bin_no, floor_bin, min_depth, window, mean, true)
        else {
            return None;
        };
        // Bins just before that are as far below the record belong to the
        // drop too, even where the baseline could not judge them (an hour
        // the daily shape puts under the smallest prediction).
        let lower = (bin_no - self.sizes.lookback_bins as i64 + 1).max(floor_bin);
        let threshold = self.record_threshold(bin_no, window)?;
        while onset > lower {
            match self.recent_bin(onset - 1) {
                Some(r)
                    if r.flag != FLAG_EVENT
                        && !r.value.is_nan()
                        && f64::from(r.value) <= threshold =>
                {
                    onset -= 1
                }
                _ => break,
            }
        }
        Some((onset, strongest))
    }

    /// Before any noise is known (the first days of a coarse series), a
    /// drop is an outage when every bin of the record window ending at
    /// `bin_no` (mean depth `mean` over `count` bins with data) is half a
    /// learnt seasonal baseline down (IODA's critical level) and below half
    /// of the lowest value the level has seen: a few values tell no noise,
    /// but they tell how low the series goes. (Against the last hour, a
    /// steep first evening falls that far.) Returns the onset.
    fn young_drop(
        &self,
        bin_no: i64,
        floor_bin: i64,
        min_depth: f64,
        mean: Option<f64>,
        count: usize,
    ) -> Option<i64> {
        let window = self.sizes.record_bins;
        let young_depth = min_depth.max(YOUNG_OUTAGE_DEPTH);
        if count < window || mean.is_none_or(|m| m < young_depth) {
            return None;
        }
        let ring = self.level_ring.len() as i64;
        let in_window = |slot: usize| {
            (0..window as i64).any(|k| (bin_no - k).rem_euclid(ring) as usize == slot)
        };
        let lowest = self
            .level_ring
            .iter()
            .enumerate()
            .filter(|(slot, v)| v.is_finite() && !in_window(*slot))
            .map(|(_, v)| f64::from(*v))
            .fold(f64::INFINITY, f64::min);
        let all_low = lowest.is_finite()
            && (0..window as i64)
                .filter_map(|k| self.recent_bin(bin_no - k))
                .all(|r| {
                    !r.local
                        && f64::from(r.depth) >= young_depth
                        && f64::from(r.value / r.season.max(f32::MIN_POSITIVE))
                            <= RECORD_SHARE * lowest
                });
        if !all_low {
            return None;
        }
        let mean = mean.unwrap_or(young_depth);
        match self.locate_onset(bin_no, floor_bin, min_depth, window, mean, false) {
            Onset::At(onset) => Some(onset),
            _ => None,
        }
    }

    /// Where the drop seen in the `window` bins ending at `bin_no` (mean
    /// departure `mean`) began, if it is a drop at all: a step, or deeper
    /// than the patterns. An `unprecedented` drop (below the record low)
    /// is deeper than any pattern by construction.
    fn locate_onset(
        &self,
        bin_no: i64,
        floor_bin: i64,
        min_depth: f64,
        window: usize,
        mean: f64,
        unprecedented: bool,
    ) -> Onset {
        // Most of the window must be low (a one-bin glitch is not an
        // outage); the low bins give the depth of the drop.
        let mut low: Vec<f64> = (0..window as i64)
            .filter_map(|k| self.recent_bin(bin_no - k))
            .filter(|r| !r.depth.is_nan() && f64::from(r.depth) >= min_depth)
            .map(|r| f64::from(r.depth))
            .collect();
        if low.len() < window.div_ceil(2) {
            return Onset::TooFewLow;
        }
        let drop = crate::event::median(&mut low).unwrap_or(mean);
        let delta = self.departure(self.config.onset_fraction, drop);
        let lower = (bin_no - self.sizes.lookback_bins as i64 + 1).max(floor_bin);
        let mut onset = bin_no;
        let mut b = bin_no;
        while b >= lower {
            match self.recent_bin(b) {
                Some(r) if r.flag == FLAG_EVENT => break,
                Some(r) if r.depth.is_nan() => {}
                Some(r) if f64::from(r.depth) >= delta => onset = b,
                _ => break,
            }
            b -= 1;
        }
        let onset = self.step_location(lower, bin_no, onset, delta);
        if floor_bin == i64::MIN
            && !unprecedented
            && !self.is_step(onset, lower, bin_no, drop)
            && !self.beyond_patterns(onset, bin_no, drop)
        {
            return Onset::NotAStep;
        }
        Onset::At(onset)
    }

    /// Whether the record window ending at `bin_no` fell below half of the
    /// signal's record low: the lowest mean of any three normal hours over
    /// the last two weeks, on at least three days. Whatever the noise, the
    /// daily or the weekly pattern, the signal held more than that every
    /// day. For a signal of a few counts the record itself is uncertain, so
    /// the window must also lie one count-noise (the square root of the
    /// record's count, in steps of the signal's resolution) below half of
    /// it: three hours of a few counts at zero are not unprecedented when
    /// the record was one count.
    fn below_record(&self, bin_no: i64) -> bool {
        let Some((mean, measured)) = self.record_window_mean(bin_no, false) else {
            return false;
        };
        self.record_threshold(bin_no, measured)
            .is_some_and(|threshold| mean <= threshold)
    }

    /// What a mean of `measured` values must not exceed to lie below the
    /// record low at `bin_no` (see [`Self::below_record`]); `None` while
    /// the record is not known.
    fn record_threshold(&self, bin_no: i64, measured: usize) -> Option<f64> {
        let step = i64::from(self.sizes.bin_secs);
        let today = (bin_no * step).div_euclid(86_400);
        let mut days = 0;
        let mut record = f64::INFINITY;
        for (stamp, low) in self.record_stamps.iter().zip(&self.record_lows) {
            if *stamp > today - RECORD_DAYS as i64 && *stamp <= today && low.is_finite() {
                days += 1;
                record = record.min(f64::from(*low));
            }
        }
        if days < MIN_RECORD_DAYS || record <= 0.0 {
            return None;
        }
        let quantum = if self.quantum.is_nan() {
            0.0
        } else {
            f64::from(self.quantum)
        };
        let count_noise = (record * quantum / measured.max(1) as f64).sqrt();
        Some(RECORD_SHARE * record - count_noise)
    }

    /// The mean value of the record window ending at `bin_no` and how many
    /// of its bins have data (at least half); `None` otherwise, or when
    /// `normal_only` and a bin of it belongs to an outage or its aftermath.
    fn record_window_mean(&self, bin_no: i64, normal_only: bool) -> Option<(f64, usize)> {
        let window = self.sizes.record_bins as i64;
        let mut sum = 0.0f64;
        let mut count = 0usize;
        for b in bin_no - window + 1..=bin_no {
            let r = self.recent_bin(b)?;
            if normal_only && (r.flag == FLAG_EVENT || r.flag == FLAG_HELD || r.aftermath) {
                return None;
            }
            if !r.value.is_nan() {
                sum += f64::from(r.value);
                count += 1;
            }
        }
        (count > 0 && 2 * count as i64 >= window).then(|| (sum / count as f64, count))
    }

    /// Lowers the day's record low with the normal record window ending
    /// at `bin_no` (bins this old are no longer part of a drop being
    /// confirmed).
    fn update_record(&mut self, bin_no: i64) {
        let Some((mean, _)) = self.record_window_mean(bin_no, true) else {
            return;
        };
        let mean = mean as f32;
        let day = (bin_no * i64::from(self.sizes.bin_secs)).div_euclid(86_400);
        let slot = day.rem_euclid(RECORD_DAYS as i64) as usize;
        if self.record_stamps[slot] == day {
            self.record_lows[slot] = self.record_lows[slot].min(mean);
        } else {
            self.record_stamps[slot] = day;
            self.record_lows[slot] = mean;
        }
    }

    /// How far a bin must move to belong to the drop (onset) or to the way
    /// back (recovery): `fraction` of the drop's `depth`, or more when one
    /// bin's noise is larger ([`VigieConfig::departure_sigmas`]), but never
    /// more than the drop itself: a bin as deep as the drop belongs to it
    /// however noisy the signal (a few counts an hour falling to none).
    fn departure(&self, fraction: f64, depth: f64) -> f64 {
        self.departure_of_mean(fraction, depth, 1)
    }

    /// [`Self::departure`] for the mean of `bins` bins, whose noise is one
    /// bin's over the square root of their number.
    fn departure_of_mean(&self, fraction: f64, depth: f64, bins: usize) -> f64 {
        let noise = self.config.departure_sigmas * self.sigma(1).unwrap_or(self.config.noise_floor)
            / (bins.max(1) as f64).sqrt();
        (fraction * depth).max(noise).min(depth.max(0.0))
    }

    /// Whether the drop of depth `drop` confirmed at `bin_no` begins with a
    /// step at `onset`: the hour after the onset must be, on average, at
    /// least half the drop deeper than the hour before it, and the hour
    /// before no more than a quarter of the drop down. Outages are cut
    /// (a step within a bin or a few); natural changes of traffic (the
    /// evening fall of a steep daily cycle, a weekend settling in over the
    /// night) build up over hours, and are left to the seasonal baseline
    /// and the level to learn. When the hour before the onset is unknown,
    /// a drop whose onset is the start of the lookback (it began longer
    /// ago than the lookback and was never confirmed while its start was
    /// in view) is not a step; any other is given the benefit of the doubt.
    fn is_step(&self, onset: i64, lower: i64, bin_no: i64, drop: f64) -> bool {
        // An hour a side, and at least three bins: with hourly or coarser
        // bins a cut seen through an hourly average spreads over a few.
        let hour = self.step_bins() as i64;
        let depths = |from: i64, until: i64| -> Vec<f64> {
            (from..until)
                .filter_map(|b| self.recent_bin(b))
                .filter(|r| r.flag != FLAG_EVENT && !r.depth.is_nan())
                .map(|r| f64::from(r.depth))
                .collect()
        };
        let before = depths(onset - hour, onset);
        let after = depths(onset, (onset + hour).min(bin_no + 1));
        if before.len() < self.step_bins().div_ceil(2) || after.is_empty() {
            return onset > lower;
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let deepened = mean(&after) - mean(&before) >= drop / 2.0 && mean(&before) <= drop / 4.0;
        // The values themselves must fall, not only the baseline rise: a
        // baseline that steps up (the weekly factor changing at midnight UTC
        // while the entity's weekend ends at its own midnight) deepens the
        // depths without any cut.
        // When a side is longer than a quarter of a day (3-hour bins: nine
        // hours), its values lie on another part of the daily cycle than
        // the other side's: they are then taken over the daily shape (the
        // weekly factor still shows). Within a few hours a daily cycle
        // moves little, and the raw values are compared.
        let side_secs = hour * i64::from(self.sizes.bin_secs);
        let over_the_day = side_secs > 86_400 / 4;
        let values = |from: i64, until: i64| -> (f64, f64, usize) {
            (from..until)
                .filter_map(|b| self.recent_bin(b))
                .filter(|r| r.flag != FLAG_EVENT && !r.value.is_nan() && !r.predicted.is_nan())
                .fold((0.0, 0.0, 0), |(v, p, n), r| {
                    let daily = if over_the_day {
                        f64::from((r.season / r.week.max(f32::MIN_POSITIVE)).max(f32::MIN_POSITIVE))
                    } else {
                        1.0
                    };
                    (
                        v + f64::from(r.value) / daily,
                        p + f64::from(r.predicted) / daily,
                        n + 1,
                    )
                })
        };
        let (value_before, predicted_before, n_before) = values(onset - hour, onset);
        let (value_after, _, n_after) = values(onset, (onset + hour).min(bin_no + 1));
        let fell = n_before == 0 || n_after == 0 || predicted_before <= 0.0 || {
            let reference = predicted_before / n_before as f64;
            let before = value_before / n_before as f64;
            let after = value_after / n_after as f64;
            (before - after) / reference >= drop / 2.0
        };
        deepened && fell
    }

    /// Whether a drop of depth `drop` from `onset` to `bin_no` is deeper
    /// than any daily or weekly pattern could make it, step or not: at
    /// least [`VigieConfig::gradual_outage_depth`] below a learnt seasonal
    /// baseline (plus the weekly spread while the weekday is not learnt),
    /// and its values a minimum depth below the lowest the series measured
    /// at those hours of the day on each of at least three days. A trough
    /// the baseline misjudged (a steep night the shape never learnt) has
    /// been seen before; a hurricane's slow collapse has not.
    fn beyond_patterns(&self, onset: i64, bin_no: i64, drop: f64) -> bool {
        if drop < self.config.gradual_outage_depth + self.current_week_spread {
            return false;
        }
        let step = i64::from(self.sizes.bin_secs);
        let mut values = 0.0f64;
        let mut floors = 0.0f64;
        for b in onset..=bin_no {
            let Some(r) = self.recent_bin(b) else {
                continue;
            };
            if r.value.is_nan() || r.predicted.is_nan() {
                continue;
            }
            let (floor, days) = self.slot_floor(b * step);
            if r.local || days < 3 {
                return false;
            }
            values += f64::from(r.value);
            floors += f64::from(floor);
        }
        floors > 0.0 && values <= (1.0 - self.min_depth) * floors
    }

    /// Moves an onset found bin by bin (`walked`: the first of the bins
    /// just before `bin_no` all at least `delta` deep) back to the
    /// least-squares location of one step in the depths from `lower` to
    /// `bin_no`, when that is earlier and the bins in between are, on
    /// average, at least `delta` deep: a drop whose noisy bins sometimes
    /// cross back above the outage level (a noisy night) keeps its onset.
    fn step_location(&self, lower: i64, bin_no: i64, walked: i64, delta: f64) -> i64 {
        if walked <= lower {
            return walked;
        }
        // Depths back from `bin_no`, stopping at an earlier event.
        let mut points: Vec<(i64, f64)> = Vec::new();
        let mut b = bin_no;
        while b >= lower {
            match self.recent_bin(b) {
                Some(r) if r.flag == FLAG_EVENT => break,
                Some(r) if !r.depth.is_nan() => points.push((b, f64::from(r.depth))),
                _ => {}
            }
            b -= 1;
        }
        points.reverse();
        let Some(candidate) = least_squares_step(&points, Step::Down) else {
            return walked;
        };
        if candidate >= walked {
            return walked;
        }
        match mean_depth_between(&points, candidate, walked) {
            Some(mean) if mean >= delta => candidate,
            _ => walked,
        }
    }

    /// Moves a recovery found bin by bin (`walked`: the first of the bins
    /// up to `bin_no` all back, each by the recovery departure from the
    /// outage's `event_depth`) back to the least-squares location of one
    /// step up in the depths from `lower` to `bin_no`, when that is earlier
    /// by no more than `exit_bins` (the event's exit window) and the bins
    /// in between are, on average, back by the same departure, the noise
    /// being that of their mean (one bin's over the square root of their
    /// number): one noisy bin just after the way back (a few counts a bin)
    /// does not make the end late, while a slow return keeps its last step.
    fn end_location(
        &self,
        lower: i64,
        bin_no: i64,
        walked: i64,
        event_depth: f64,
        exit_bins: usize,
    ) -> i64 {
        if walked <= lower {
            return walked;
        }
        let points: Vec<(i64, f64)> = (lower..=bin_no)
            .filter_map(|b| {
                self.recent_bin(b)
                    .filter(|r| !r.depth.is_nan())
                    .map(|r| (b, f64::from(r.depth)))
            })
            .collect();
        let Some(candidate) = least_squares_step(&points, Step::Up) else {
            return walked;
        };
        if candidate >= walked || walked - candidate > exit_bins as i64 {
            return walked;
        }
        let between = points
            .iter()
            .filter(|(b, _)| *b >= candidate && *b < walked)
            .count();
        let delta = self.departure_of_mean(self.config.recovery_fraction, event_depth, between);
        match mean_depth_between(&points, candidate, walked) {
            Some(mean) if mean <= event_depth - delta => candidate,
            _ => walked,
        }
    }

    /// Mean depth and count of bins with data over the `window` bins ending at `bin_no`.
    fn window_mean(&self, bin_no: i64, window: usize) -> (Option<f64>, usize) {
        let mut sum = 0.0;
        let mut count = 0usize;
        for k in 0..window as i64 {
            if let Some(r) = self.recent_bin(bin_no - k) {
                if !r.depth.is_nan() {
                    sum += f64::from(r.depth);
                    count += 1;
                }
            }
        }
        if count == 0 {
            (None, 0)
        } else {
            (Some(sum / count as f64), count)
        }
    }

    /// The mean score of the window of confirm length number `index` ending
    /// at `bin_no`, in standard deviations of that window's noise; `None`
    /// before the noise is known.
    ///
    /// An index (a unitless value in steps, such as 0..100 in tens) is
    /// not trusted to better than one step, but that step is an offset
    /// rather than a noise: a change of one step may be rounding, a fall
    /// of three held for hours is not. So its evidence is also the drop
    /// beyond one step over half a step (or the measured noise if
    /// larger), whichever of the two readings is stronger; one and two
    /// steps stay within it.
    fn window_evidence(&self, bin_no: i64, index: usize) -> Option<f64> {
        let window = *self.sizes.confirm_windows.get(index)?;
        let score = self.window_score(bin_no, window)?;
        if self.is_index() {
            let step = self.resolution();
            let measured = self.sigma_unresolved(window)?;
            let floored = score / measured.max(step);
            let offset = (score - step) / measured.max(step / 2.0);
            return Some(floored.max(offset));
        }
        Some(score / self.sigma(window)?)
    }

    /// Mean score over the `window` bins ending at `bin_no`.
    fn window_score(&self, bin_no: i64, window: usize) -> Option<f64> {
        let mut sum = 0.0;
        let mut count = 0usize;
        for k in 0..window as i64 {
            if let Some(r) = self.recent_bin(bin_no - k) {
                if !r.score.is_nan() {
                    sum += f64::from(r.score);
                    count += 1;
                }
            }
        }
        (count > 0).then(|| sum / count as f64)
    }

    /// How much a depth counts as evidence at this time of day: for signals
    /// that count things, relative noise grows as the count falls (as for
    /// Poisson counts), so a depth at a quiet hour is worth less than the
    /// same depth at a busy hour; `season` is the baseline over the level.
    fn noise_scale(&self, season: f32) -> f64 {
        if self.is_index() {
            1.0
        } else {
            f64::from(season).clamp(0.04, 25.0).sqrt()
        }
    }

    /// Whether the signal is a unitless index (Google's traffic, a Monash
    /// connectivity index) rather than a count of things: the one kind
    /// given no minimum prediction.
    fn is_index(&self) -> bool {
        self.min_prediction == 0.0
    }

    /// Updates needed before the noise of a `window`-bin mean is trusted:
    /// twelve windows' worth, up to two days, never fewer than
    /// [`NOISE_WARMUP_MIN_BINS`].
    fn noise_warmup(&self, window: usize) -> u32 {
        (NOISE_WARMUP_WINDOWS * window as u32)
            .min(NOISE_WARMUP_MAX_SECS / self.sizes.bin_secs.max(1))
            .max(NOISE_WARMUP_MIN_BINS)
    }

    /// The noise of a `window`-bin mean, once measured enough; floored.
    ///
    /// Against the seasonal baseline, the daily shape's own error is added:
    /// each hour of the shape is an hourly mean over `n` days, off by about
    /// one bin's noise over √(bins per hour × n). It matters for a young
    /// shape of a noisy series (one day of a telescope's low counts), whose
    /// noise was learnt against the last hour, and fades as days add up.
    fn sigma(&self, window: usize) -> Option<f64> {
        Some(self.sigma_unresolved(window)?.max(self.resolution()))
    }

    /// [`Self::sigma`] without the resolution floor.
    fn sigma_unresolved(&self, window: usize) -> Option<f64> {
        let index = self.sizes.noise_windows.iter().position(|w| *w == window)?;
        let mad = if self.noise_updates[index] >= self.noise_warmup(window) {
            self.noise_mad[index]
        } else {
            // A mean strays no further than its bins do on average, so
            // until a window's own noise is measured (twelve windows of
            // normal data: days at coarse bins) one bin's bounds it.
            let one = self.sizes.noise_windows.iter().position(|w| *w == 1)?;
            if window == 1 || self.noise_updates[one] < self.noise_warmup(1) {
                return None;
            }
            self.noise_mad[one]
        };
        // Mean absolute deviation to standard deviation, for a normal law.
        let mut sigma = 1.2533 * mad;
        if self.current_shape_days > 0 {
            let one_bin = self.sizes.noise_windows.iter().position(|w| *w == 1);
            if let Some(one_bin) = one_bin {
                let bin_sigma = 1.2533 * self.noise_mad.get(one_bin).copied().unwrap_or(0.0);
                let averaged = (self.local_bins() * usize::from(self.current_shape_days)) as f64;
                sigma = (sigma * sigma + bin_sigma * bin_sigma / averaged).sqrt();
            }
        }
        // A weekday's pattern is a matter of hours (a quieter day), so the
        // family's guess of it weighs on windows of an hour or more; a cut
        // seen within the hour is judged on the series' own noise. With
        // bins of half an hour or more every window is that long: a single
        // bin already lasts as long as a weekday's pattern takes to show.
        // A dip measured the one time the weekday was seen held all day,
        // so it weighs on windows of any length.
        let window_secs = window as u64 * u64::from(self.sizes.bin_secs);
        let long_window = window_secs >= 3600 || self.sizes.bin_secs >= COARSE_BIN_SECS;
        let spread = if long_window {
            self.current_week_spread
        } else {
            self.current_week_once
        };
        if spread > 0.0 {
            sigma = (sigma * sigma + spread * spread).sqrt();
        }
        Some(sigma.max(self.config.noise_floor))
    }

    /// The signal's resolution relative to its level: one step of
    /// [`Self::quantum`] over the level (0 while either is unknown).
    fn resolution(&self) -> f64 {
        match self.level {
            Some(level) if level > 0.0 && self.quantum.is_finite() => {
                (f64::from(self.quantum) / level).min(1.0)
            }
            _ => 0.0,
        }
    }

    /// Learns the noise of each window length from windows of normal bins.
    fn update_noise(&mut self, bin_no: i64) {
        if bin_no < self.noise_quiet_until {
            return;
        }
        // The noise follows the last day, but never fewer than
        // NOISE_MEMORY_BINS bins: at daily bins a day is one bin, and a
        // noise that is the last bin's deviation says nothing.
        let alpha_min =
            (f64::from(self.sizes.bin_secs) / 86_400.0).min(1.0 / f64::from(NOISE_MEMORY_BINS));
        for index in 0..self.sizes.noise_windows.len() {
            let window = self.sizes.noise_windows[index];
            let mut sum = 0.0;
            let mut count = 0usize;
            let mut clean = true;
            // Against the last hour, a window longer than an hour says
            // nothing of how the series wanders from its seasonal baseline.
            let local_ok = window <= self.local_bins();
            for k in 0..window as i64 {
                match self.recent_bin(bin_no - k) {
                    Some(r) if r.flag == FLAG_NORMAL && (local_ok || !r.local) => {
                        if !r.score.is_nan() {
                            sum += f64::from(r.score);
                            count += 1;
                        }
                    }
                    _ => {
                        clean = false;
                        break;
                    }
                }
            }
            if !clean || count < window.div_ceil(2) || count == 0 {
                continue;
            }
            let mut deviation = (sum / count as f64).abs();
            let updates = self.noise_updates[index];
            if updates >= self.noise_warmup(window) {
                let sigma = (1.2533 * self.noise_mad[index]).max(self.config.noise_floor);
                deviation = deviation.min(4.0 * sigma);
            }
            let alpha = (1.0 / f64::from(updates + 1)).max(alpha_min);
            self.noise_mad[index] += alpha * (deviation - self.noise_mad[index]);
            self.noise_updates[index] = updates.saturating_add(1);
        }
    }

    fn track_gap(&mut self, bin_no: i64, has_data: bool) {
        if has_data {
            if let Some(start) = self.gap_start.take() {
                if self.none_run >= self.sizes.gap_min_bins {
                    let step = i64::from(self.sizes.bin_secs);
                    self.gaps.push(DataGap {
                        key: self.key.clone(),
                        start: start * step,
                        end: Some(bin_no * step),
                    });
                }
            }
            self.none_run = 0;
        } else {
            if self.gap_start.is_none() {
                self.gap_start = Some(bin_no);
            }
            self.none_run += 1;
        }
    }

    fn recent_slot(&self, bin_no: i64) -> usize {
        bin_no.rem_euclid(self.recent.len() as i64) as usize
    }

    fn recent_bin(&self, bin_no: i64) -> Option<RecentBin> {
        let r = self.recent[self.recent_slot(bin_no)];
        (r.bin_no == bin_no).then_some(r)
    }

    /// Holds a drop out of the level while it may be a sustained one, and
    /// confirms it once it has held for [`SUSTAINED_SECS`]; returns its
    /// onset and evidence then.
    ///
    /// The level learns a drop in half a day, so a drop no window confirmed
    /// by then (a telescope at half its sources, under its minimum depth; a
    /// signal too noisy for eight hours to tell) became the level. A drop of
    /// at least [`SUSTAINED_DEPTH`] (or the family's minimum depth, if less)
    /// over the longest window, beginning with a step, is now held: its bins
    /// are inpainted like an outage's, so the baseline stays the one from
    /// before it. After a day, if its mean depth still is that deep and its
    /// mean score stands out from the longest window's noise by the
    /// quantile of one chance a day, it is an outage from its onset. A drop
    /// that comes back, or that two days do not confirm, is released: its
    /// bins still remembered are learnt as they were.
    fn hold(&mut self, bin_no: i64) -> Option<(i64, f64)> {
        let depth_needed = self.sustained_depth();
        let longest = self.longest_window();
        let current = self.recent_bin(bin_no)?;
        let (mean, count) = self.window_mean(bin_no, longest);
        let low = mean.is_some_and(|m| m >= depth_needed) && count >= longest.div_ceil(2);
        let Some(mut held) = self.held else {
            // Not against the last hour: a daily shape's hour never seen
            // (a trough after a long outage) is no baseline for a day.
            if !low
                || current.local
                || current.depth.is_nan()
                || f64::from(current.depth) < depth_needed
            {
                return None;
            }
            let mean = mean.unwrap_or(depth_needed);
            let Onset::At(onset) =
                self.locate_onset(bin_no, i64::MIN, depth_needed, longest, mean, false)
            else {
                return None;
            };
            let mut held = HeldDrop {
                since: onset,
                score_sum: 0.0,
                depth_sum: 0.0,
                count: 0,
            };
            for b in onset..=bin_no {
                if let Some(r) = self.recent_bin(b) {
                    held.add(&r);
                }
                self.mark_held(b);
            }
            self.held = Some(held);
            return None;
        };
        if !low {
            self.release_hold(bin_no);
            return None;
        }
        self.mark_held(bin_no);
        held.add(&current);
        self.held = Some(held);
        let step = i64::from(self.sizes.bin_secs);
        let span = (bin_no - held.since + 1) * step;
        if span < i64::from(SUSTAINED_SECS) {
            return None;
        }
        let bins = (span / step) as u32;
        if held.count > 0 && 2 * held.count >= bins {
            let depth = held.depth_sum / f64::from(held.count);
            let score = held.score_sum / f64::from(held.count);
            let threshold = upper_quantile(1.0 / self.config.false_alarm_days.max(1.0));
            // A dip the weekday showed the one time it was seen lasted all
            // day, and so does this drop: it weighs on it.
            let once = self.current_week_once;
            if let Some(sigma) = self.sigma(longest).map(|s| (s * s + once * once).sqrt()) {
                let z = score / sigma;
                if depth >= depth_needed && z >= threshold {
                    self.held = None;
                    return Some((held.since, z));
                }
            }
        }
        if span >= 2 * i64::from(SUSTAINED_SECS) {
            self.release_hold(bin_no);
        }
        None
    }

    /// The longest confirm window, in bins.
    fn longest_window(&self) -> usize {
        self.sizes.confirm_windows.last().copied().unwrap_or(1)
    }

    /// The shallowest drop held as a possible sustained one: the family's
    /// minimum depth, or [`SUSTAINED_DEPTH`] if less.
    fn sustained_depth(&self) -> f64 {
        self.min_depth.min(SUSTAINED_DEPTH)
    }

    /// The depth a window must reach to confirm a drop at `bin_no`: the
    /// family's minimum depth, or, past half a level window of a held
    /// drop, that much deeper than the held drop's mean depth.
    fn confirm_depth(&self, bin_no: i64) -> f64 {
        match self.held {
            Some(held)
                if (bin_no - held.since) as usize >= self.sizes.level_bins / 2
                    && held.count > 0 =>
            {
                held.depth_sum / f64::from(held.count) + self.min_depth
            }
            _ => self.min_depth,
        }
    }

    /// Ends a held drop (see [`Self::hold`]): its bins still remembered are
    /// normal again, and their values go back into the level history.
    fn release_hold(&mut self, bin_no: i64) {
        let Some(held) = self.held.take() else {
            return;
        };
        let oldest = held.since.max(bin_no - self.recent.len() as i64 + 1);
        for b in oldest..=bin_no {
            if self.recent_bin(b).is_some_and(|r| r.flag == FLAG_HELD) {
                self.unmark_event(b);
            }
        }
    }

    /// Marks a recent bin as part of a held drop and inpaints its level
    /// history (an outage's bin stays one).
    fn mark_held(&mut self, bin_no: i64) {
        let slot = self.recent_slot(bin_no);
        if self.recent[slot].bin_no != bin_no || self.recent[slot].flag == FLAG_EVENT {
            return;
        }
        self.mark_event(bin_no);
        self.recent[slot].flag = FLAG_HELD;
    }

    /// Marks a recent bin as part of an outage and inpaints its level history.
    fn mark_event(&mut self, bin_no: i64) {
        let slot = self.recent_slot(bin_no);
        if self.recent[slot].bin_no != bin_no {
            return;
        }
        self.recent[slot].flag = FLAG_EVENT;
        let level = self.recent[slot].level;
        let ring_slot = bin_no.rem_euclid(self.level_ring.len() as i64) as usize;
        self.level_ring[ring_slot] = level;
        self.level_divisor[ring_slot] = f32::NAN;
    }

    /// Marks a recent bin as normal again and restores its raw level history.
    fn unmark_event(&mut self, bin_no: i64) {
        let slot = self.recent_slot(bin_no);
        if self.recent[slot].bin_no != bin_no {
            return;
        }
        let r = self.recent[slot];
        self.recent[slot].flag = if r.predicted.is_nan() {
            FLAG_UNJUDGED
        } else {
            FLAG_NORMAL
        };
        let ring_slot = bin_no.rem_euclid(self.level_ring.len() as i64) as usize;
        let divisor = r.season.max(f32::MIN_POSITIVE);
        self.level_ring[ring_slot] = r.value / divisor;
        self.level_divisor[ring_slot] = divisor;
    }

    /// The two slots of the daily shape whose centres surround the centre
    /// of the bin at `t`, and how far `t` lies from the first to the second.
    fn slots_around(&self, t: UnixSecs) -> (usize, usize, f32) {
        let half_bin = f64::from(self.sizes.bin_secs) / 2.0;
        let slot = f64::from(self.sizes.slot_secs);
        let position = (t.rem_euclid(86_400) as f64 + half_bin) / slot - 0.5;
        let floor = position.floor();
        let slots = self.sizes.slots;
        let k0 = (floor as i64).rem_euclid(slots as i64) as usize;
        (k0, (k0 + 1) % slots, (position - floor) as f32)
    }

    /// The daily shape at time `t`, interpolated between slot centres.
    fn shape_at(&self, t: UnixSecs) -> f32 {
        let (k0, k1, fraction) = self.slots_around(t);
        self.shape[k0] * (1.0 - fraction) + self.shape[k1] * fraction
    }

    /// Whether both slots the daily shape interpolates between at `t` were
    /// seen outside outages.
    fn season_known(&self, t: UnixSecs) -> bool {
        let (k0, k1, _) = self.slots_around(t);
        self.shape_known.get(k0).copied().unwrap_or(false)
            && self.shape_known.get(k1).copied().unwrap_or(false)
    }

    /// The fewer of the days behind the two slots the shape interpolates
    /// between at `t`.
    fn shape_days_at(&self, t: UnixSecs) -> u8 {
        let (k0, k1, _) = self.slots_around(t);
        let days = |k: usize| self.shape_days.get(k).copied().unwrap_or(0);
        days(k0).min(days(k1))
    }

    /// The lowest mean measured (outages included, nothing inpainted) in
    /// the slot of the daily shape that holds `t`, over the days kept for
    /// the shape, and on how many days it was measured.
    fn slot_floor(&self, t: UnixSecs) -> (f32, usize) {
        let slots = self.sizes.slots;
        let k = (t.rem_euclid(86_400) / i64::from(self.sizes.slot_secs)) as usize % slots;
        (0..self.day_stamps.len())
            .map(|row| self.day_raw_rows[row * slots + k])
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, 0), |(low, n), v| (low.min(v), n + 1))
    }

    /// How far a weekday not yet learnt may lie from a typical day: the
    /// family's spread ([`VigieConfig::unlearnt_weekday_spread`]), or the
    /// dip the weekday showed the one time it was seen if deeper (a
    /// weekend's first week is the best guess of its second); 0 once the
    /// weekday's factor is learnt.
    fn weekday_spread(&self, weekday: usize) -> f64 {
        if self.week_known[weekday] {
            return 0.0;
        }
        let once = f64::from(self.week_once_dip[weekday]);
        self.unlearnt_weekday_spread.max(once)
    }

    fn week_factor(&self, t: UnixSecs) -> f32 {
        self.week_factors[weekday_of(t + self.local_offset)]
    }

    /// At the first bin of a slot (an hour, or a bin when bins are longer),
    /// folds the slot that ended one slot ago into the daily shape (the lag
    /// lets inpainting reach it first).
    ///
    /// Each day keeps its slot means (outage bins inpainted); a day with
    /// at least [`MIN_SLOT_SHARE_FOR_SHAPE`] of its slots is normalised by
    /// its own mean, and the shape is the per-slot median over the days
    /// kept. The weekly factor comes from the day levels (see
    /// [`Self::recompute_week`]).
    fn finalise_slot(&mut self, bin_no: i64) {
        let step = i64::from(self.sizes.bin_secs);
        let slot_secs = i64::from(self.sizes.slot_secs);
        let hour_start = (bin_no * step).div_euclid(slot_secs) * slot_secs - 2 * slot_secs;
        let first = hour_start.div_euclid(step);
        let last = (hour_start + slot_secs).div_euclid(step);
        let mut hour_sum = 0.0f64;
        let mut level_sum = 0.0f64;
        let mut raw_sum = 0.0f64;
        let mut count = 0u32;
        let mut normal = 0u32;
        let mut measured_sum = 0.0f64;
        let mut measured = 0u32;
        for b in first..last {
            let Some(r) = self.recent_bin(b) else {
                continue;
            };
            // A held drop is no outage yet: the daily shape and the weekly
            // pattern see it as measured (a first weekend held for a day is
            // still the weekday's dip), only the level is kept from it.
            let outage = r.flag == FLAG_EVENT || r.aftermath;
            if !outage && !r.value.is_nan() {
                normal += 1;
            }
            if !r.value.is_nan() {
                measured_sum += f64::from(r.value);
                measured += 1;
            }
            let clean = if outage { r.predicted } else { r.value };
            if clean.is_nan() {
                continue;
            }
            let week = f64::from(r.week.max(f32::MIN_POSITIVE));
            let daily =
                f64::from((r.season / r.week.max(f32::MIN_POSITIVE)).max(f32::MIN_POSITIVE));
            hour_sum += f64::from(clean) / week;
            level_sum += f64::from(clean) / daily;
            // The weekly factor also looks at what was measured, outages
            // included (see `recompute_week`).
            let raw = if r.value.is_nan() { clean } else { r.value };
            raw_sum += f64::from(raw) / daily;
            count += 1;
        }
        let day = hour_start.div_euclid(86_400);
        let hour = (hour_start.rem_euclid(86_400) / slot_secs) as usize;
        // The weekly pattern's days are local days.
        let local_start = hour_start + self.local_offset;
        let week_day = local_start.div_euclid(86_400);
        let last_local_slot = local_start.rem_euclid(86_400) >= 86_400 - slot_secs;
        let slots = self.sizes.slots;
        if count > 0 {
            let rows = self.day_stamps.len();
            let row = day.rem_euclid(rows as i64) as usize;
            if self.day_stamps[row] != day {
                self.day_stamps[row] = day;
                for k in 0..slots {
                    self.day_rows[row * slots + k] = f32::NAN;
                    self.day_seen[row * slots + k] = false;
                    self.day_raw_rows[row * slots + k] = f32::NAN;
                }
            }
            self.day_rows[row * slots + hour] = (hour_sum / f64::from(count)) as f32;
            self.day_seen[row * slots + hour] = 2 * normal >= count;
            self.day_raw_rows[row * slots + hour] = if measured > 0 {
                (measured_sum / f64::from(measured)) as f32
            } else {
                f32::NAN
            };
            if self.day_of_sum != week_day {
                self.day_of_sum = week_day;
                self.day_sum = 0.0;
                self.day_raw_sum = 0.0;
                self.day_count = 0;
            }
            self.day_sum += level_sum;
            self.day_raw_sum += raw_sum;
            self.day_count += count;
        }
        if hour == slots - 1 {
            self.recompute_shape(day, bin_no);
        }
        if last_local_slot {
            let day = week_day;
            if self.day_of_sum == day && self.day_count > 0 {
                let len = self.week_stamps.len();
                let slot = day.rem_euclid(len as i64) as usize;
                self.week_stamps[slot] = day;
                self.week_days[slot] = (self.day_sum / f64::from(self.day_count)) as f32;
                self.week_days_raw[slot] = (self.day_raw_sum / f64::from(self.day_count)) as f32;
                let typical_before = typical_factor(&self.week_factors);
                if self.recompute_week(day) && self.shape_ready {
                    // The level history was divided by the old factors.
                    let scale = typical_before / typical_factor(&self.week_factors);
                    self.rebase_level_history(bin_no, scale);
                }
            }
        }
    }

    fn recompute_shape(&mut self, today: i64, bin_no: i64) {
        let rows = self.day_stamps.len();
        let slots = self.sizes.slots;
        let min_slots = ((slots as f64 * MIN_SLOT_SHARE_FOR_SHAPE).ceil() as usize).max(1);
        let oldest = today - rows as i64 + 1;
        // Each usable day, normalised by its own mean.
        let mut normalised: Vec<Vec<f32>> = Vec::new();
        let mut seen_hours = vec![false; slots];
        let mut days_per_hour = vec![0u8; slots];

        for row in 0..rows {
            if self.day_stamps[row] < oldest {
                continue;
            }
            let values = &self.day_rows[row * slots..(row + 1) * slots];
            let known: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
            if known.len() < min_slots {
                continue;
            }
            let mean = known.iter().sum::<f32>() / known.len() as f32;
            if !(mean.is_finite() && mean > 0.0) {
                continue;
            }
            let mut day = vec![f32::NAN; slots];
            for (k, v) in values.iter().enumerate() {
                day[k] = v / mean;
                seen_hours[k] |= v.is_finite() && self.day_seen[row * slots + k];
                if v.is_finite() {
                    days_per_hour[k] = days_per_hour[k].saturating_add(1);
                }
            }
            normalised.push(day);
        }
        if normalised.is_empty() {
            return;
        }
        let mut shape = vec![f32::NAN; slots];
        for (k, slot) in shape.iter_mut().enumerate() {
            let mut values: Vec<f64> = normalised
                .iter()
                .map(|day| f64::from(day[k]))
                .filter(|v| v.is_finite() && *v >= 0.0)
                .collect();
            if let Some(m) = middle(&mut values) {
                *slot = m as f32;
            }
        }
        let known = shape.iter().filter(|v| !v.is_nan()).count();
        if known < slots.div_ceil(2) {
            return;
        }
        // Fill unknown hours by circular interpolation between known ones.
        let filled: Vec<f32> = (0..slots)
            .map(|k| {
                if !shape[k].is_nan() {
                    return shape[k];
                }
                let mut before = 1;
                while shape[(k + slots - before) % slots].is_nan() {
                    before += 1;
                }
                let mut after = 1;
                while shape[(k + after) % slots].is_nan() {
                    after += 1;
                }
                let a = shape[(k + slots - before) % slots];
                let b = shape[(k + after) % slots];
                let w = before as f32 / (before + after) as f32;
                a * (1.0 - w) + b * w
            })
            .collect();
        let mean = filled.iter().sum::<f32>() / slots as f32;
        if mean.is_finite() && mean > 0.0 {
            for (k, value) in filled.iter().enumerate() {
                self.shape[k] = (value / mean).max(MIN_SHAPE);
            }
            // Once seen, an hour stays known: the days of an outage keep the
            // shape learnt before it (inpainted), so a week-long outage
            // does not make the next day's hours unknown again.
            for (known, seen) in self.shape_known.iter_mut().zip(&seen_hours) {
                *known |= *seen;
            }
            self.shape_days.copy_from_slice(&days_per_hour);

            if !self.shape_ready {
                self.shape_ready = true;
                self.rebase_level_history(bin_no, 1.0);
            }
        }
    }

    /// Once the first daily shape is known, divides the level history
    /// (written with a flat shape) by it, so the level does not swing while
    /// the last day of flat-shape values ages out. `bin_no` is the bin about
    /// to be scored; the ring holds the bins before it.
    ///
    /// Inpainted values (outage bins, which hold the level of their time)
    /// are multiplied by `inpainted_scale`: when the weekly factors change,
    /// the old typical weekday's factor over the new one, so that a level
    /// frozen under the old factors predicts the same working day.
    fn rebase_level_history(&mut self, bin_no: i64, inpainted_scale: f32) {
        let len = self.level_ring.len() as i64;
        let step = i64::from(self.sizes.bin_secs);
        for slot in 0..self.level_ring.len() {
            let divisor = self.level_divisor[slot];
            if divisor.is_nan() || self.level_ring[slot].is_nan() {
                continue;
            }
            let last = bin_no - 1;
            let b = last - (last - slot as i64).rem_euclid(len);
            let t = b * step;
            let season = (self.shape_at(t) * self.week_factor(t)).max(f32::MIN_POSITIVE);
            self.level_ring[slot] = self.level_ring[slot] * divisor / season;
            self.level_divisor[slot] = season;
        }
        if inpainted_scale.is_finite() && inpainted_scale > 0.0 && inpainted_scale != 1.0 {
            for (value, divisor) in self.level_ring.iter_mut().zip(&self.level_divisor) {
                if divisor.is_nan() && value.is_finite() {
                    *value *= inpainted_scale;
                }
            }
        }
        self.level = ring_median(&self.level_ring);
    }

    /// Bins on each side of an onset that [`Self::is_step`] compares: an
    /// hour, and never fewer than three bins (a mean of fewer says little).
    fn step_bins(&self) -> usize {
        self.local_bins().max(3)
    }

    /// Bins in the hour that [`Self::local_reference`] looks back on.
    fn local_bins(&self) -> usize {
        (3600 / self.sizes.bin_secs.max(1)).max(1) as usize
    }

    /// Before the daily shape is known, the baseline of a bin is the last
    /// hour: the median of up to an hour of the most recent bins with data
    /// outside outages (within the lookback), scaled to this bin's weekly
    /// factor. A daily cycle moves little in an hour, so the part of the day
    /// never seen yet is not taken for an outage, while a sudden drop still
    /// is. `None` with fewer than half an hour of such bins.
    fn local_reference(&self, bin_no: i64, week: f32) -> Option<f64> {
        let want = self.local_bins();
        let mut values: Vec<f64> = Vec::with_capacity(want);
        let mut b = bin_no - 1;
        let lowest = bin_no - self.sizes.lookback_bins as i64;
        while b >= lowest && values.len() < want {
            if let Some(r) = self.recent_bin(b) {
                if r.flag != FLAG_EVENT && r.flag != FLAG_HELD && !r.value.is_nan() {
                    let w = r.week.max(f32::MIN_POSITIVE);
                    values.push(f64::from(r.value / w * week));
                }
            }
            b -= 1;
        }
        if values.len() < want.div_ceil(2) {
            return None;
        }
        middle(&mut values)
    }

    /// The weekly factors: per weekday seen at least twice in the last
    /// `season_weeks` weeks, its typical day level over the typical day's.
    ///
    /// Two readings of each day are kept. The inpainted one (outage bins
    /// replaced by the baseline) is right for a one-off outage day, which
    /// must not lower its weekday; but a weekday that is lower every week
    /// (a weekend) is flagged the first times it is seen and would then be
    /// inpainted for ever. So each day's *measured* level is also compared
    /// with the median measured day of a week around it: a
    /// weekend dip stands out from its own week, while a long outage lowers
    /// every day of its weeks alike and leaves their ratios near one, so it
    /// is never learnt as a weekly pattern. A weekday whose measured ratios
    /// agree (two weeks within [`WEEKDAY_AGREEMENT`], or the median of three
    /// or more) is learnt from them; otherwise from the inpainted levels.
    /// Returns whether the factors changed.
    fn recompute_week(&mut self, today: i64) -> bool {
        let len = self.week_stamps.len() as i64;
        let oldest = today - len + 1;
        let kept: Vec<(i64, f64, f64)> = (0..self.week_stamps.len())
            .filter(|i| self.week_stamps[*i] >= oldest)
            .map(|i| {
                (
                    self.week_stamps[i],
                    f64::from(self.week_days[i]),
                    f64::from(self.week_days_raw.get(i).copied().unwrap_or(f32::NAN)),
                )
            })
            .filter(|(_, v, _)| v.is_finite() && *v > 0.0)
            .collect();
        let weekday_of = |day: i64| (day + 3).rem_euclid(DAYS_PER_WEEK as i64) as usize;
        let mut all: Vec<f64> = kept.iter().map(|(_, v, _)| *v).collect();
        let Some(typical) = middle(&mut all).filter(|t| *t > 0.0) else {
            return false;
        };
        // Each day's measured level over the median measured level of a
        // week around it (seven consecutive days holding it, centred where
        // the data allows): a week holds each weekday once, so its median is
        // a working day's level whatever the weekend days are.
        let first_day = kept.iter().map(|(d, _, _)| *d).min().unwrap_or(today);
        let last_day = kept.iter().map(|(d, _, _)| *d).max().unwrap_or(today);
        let raw_ratio = |day: i64, raw: f64| -> Option<f64> {
            if !(raw.is_finite() && raw >= 0.0) {
                return None;
            }
            let week = DAYS_PER_WEEK as i64;
            let from = (day - week / 2).min(last_day - week + 1).max(first_day);
            let in_week = || {
                kept.iter()
                    .filter(move |(d, _, r)| *d >= from && *d < from + week && r.is_finite())
            };
            let mut around: Vec<f64> = in_week().map(|(_, _, r)| *r).collect();
            if around.len() < DAYS_PER_WEEK - 2 {
                return None;
            }
            // A week that did not hold its level (most of it in an
            // outage) is no reference: its days' ratios are an outage's
            // noise over itself, and two that happen to agree would be
            // learnt as a weekday's pattern.
            let mut inpainted: Vec<f64> = in_week().map(|(_, v, _)| *v).collect();
            let reference = middle(&mut inpainted)?;
            middle(&mut around)
                .filter(|m| *m > 0.0 && *m >= (1.0 - self.min_depth) * reference)
                .map(|m| raw / m)
        };
        let mut factors = [1.0f32; DAYS_PER_WEEK];
        let mut any = false;
        for (weekday, factor) in factors.iter_mut().enumerate() {
            let mut values: Vec<f64> = kept
                .iter()
                .filter(|(d, _, _)| weekday_of(*d) == weekday)
                .map(|(_, v, _)| v / typical)
                .collect();
            // Seen once: its dip, if any, may be the weekday's own pattern
            // (what was flagged an outage was inpainted, so it is not one).
            self.week_once_dip[weekday] = match values.as_slice() {
                [once] => (1.0 - *once).clamp(0.0, MAX_ONCE_DIP) as f32,
                _ => 0.0,
            };
            if values.len() < 2 {
                continue;
            }
            let mut raw: Vec<f64> = kept
                .iter()
                .filter(|(d, _, _)| weekday_of(*d) == weekday)
                .filter_map(|(d, _, r)| raw_ratio(*d, *r))
                .collect();
            let agree = match raw.len() {
                0 | 1 => false,
                2 => {
                    let high = raw[0].max(raw[1]);
                    (raw[0] - raw[1]).abs() <= WEEKDAY_AGREEMENT * high
                }
                _ => true,
            };
            let chosen = if agree {
                middle(&mut raw)
            } else {
                middle(&mut values)
            };
            if let Some(m) = chosen {
                *factor = m as f32;
                any = true;
                self.week_known[weekday] = true;
            }
        }
        if any {
            let mean = factors.iter().sum::<f32>() / DAYS_PER_WEEK as f32;
            if mean.is_finite() && mean > 0.0 {
                let before = self.week_factors.clone();
                for (weekday, factor) in factors.iter().enumerate() {
                    self.week_factors[weekday] = factor / mean;
                }
                return before != self.week_factors;
            }
        }
        false
    }

    /// After a silence longer than two weeks, starts learning afresh.
    fn reset_after_long_silence(&mut self, next: i64, bin_no: i64) {
        let step = i64::from(self.sizes.bin_secs);
        let phase = std::mem::replace(&mut self.phase, Phase::Warmup);
        match phase {
            Phase::Down(event) => {
                let end = event.start_bin + event.bins.len() as i64;
                let closed = self.summarise(&event, Some(end), EndReason::DataLost);
                self.closed.push(closed);
            }
            Phase::Restored {
                event, since_bin, ..
            } => {
                let closed = self.summarise(&event, Some(since_bin), EndReason::Recovered);
                self.closed.push(closed);
            }
            _ => {}
        }
        let gap_from = self.gap_start.take().unwrap_or(next);
        self.gaps.push(DataGap {
            key: self.key.clone(),
            start: gap_from * step,
            end: Some(bin_no * step),
        });
        self.none_run = 0;
        self.held = None;
        self.level_ring.iter_mut().for_each(|v| *v = f32::NAN);
        self.level_divisor.iter_mut().for_each(|v| *v = f32::NAN);
        self.recent.iter_mut().for_each(|r| *r = RecentBin::empty());
        self.level = None;
        self.data_bins = 0;
        self.noise_updates.iter_mut().for_each(|n| *n = 0);
        self.noise_mad.iter_mut().for_each(|m| *m = 0.0);
        self.record_lows.iter_mut().for_each(|v| *v = f32::NAN);
        self.record_stamps.iter_mut().for_each(|d| *d = i64::MIN);
    }

    /// Summarises an open event, ending at `end_bin` (exclusive) if given.
    fn summarise(&self, event: &OpenEvent, end_bin: Option<i64>, reason: EndReason) -> SignalEvent {
        let step = i64::from(self.sizes.bin_secs);
        let bin_minutes = f64::from(self.sizes.bin_secs) / 60.0;
        let mut depths = Vec::with_capacity(event.bins.len());
        let mut predicted = Vec::with_capacity(event.bins.len());
        let mut gap_bins = 0u32;
        let mut score = 0.0;
        let mut max_depth: f64 = 0.0;
        let restored: Vec<(i64, i64)> = event
            .restorations
            .iter()
            .map(|w| (w.start.div_euclid(step), w.end.div_euclid(step)))
            .collect();
        for (offset, b) in event.bins.iter().enumerate() {
            let bin_no = event.start_bin + offset as i64;
            if restored.iter().any(|(s, e)| bin_no >= *s && bin_no < *e) {
                continue;
            }
            if b.depth.is_nan() {
                gap_bins += 1;
                continue;
            }
            let d = f64::from(b.depth);
            depths.push(d);
            if !b.predicted.is_nan() {
                predicted.push(f64::from(b.predicted));
            }
            score += d.max(0.0) * 100.0 * bin_minutes;
            max_depth = max_depth.max(d);
        }
        let bins = depths.len() as u32 + gap_bins;
        let depth = crate::event::median(&mut depths).unwrap_or(0.0);
        let baseline = crate::event::median(&mut predicted).unwrap_or(f64::NAN);
        let gap_fraction = if bins == 0 {
            1.0
        } else {
            f64::from(gap_bins) / f64::from(bins)
        };
        // 0.5 at the weakest confirmable evidence (3 σ), 0.75 at 6 σ, ...
        let evidence = 1.0 - 0.5f64.powf(event.evidence / 3.0);
        SignalEvent {
            key: self.key.clone(),
            start: event.start_bin * step,
            end: end_bin.map(|b| b * step),
            end_reason: reason,
            depth,
            max_depth,
            baseline,
            ioda_score: score,
            restorations: event.restorations.clone(),
            gap_bins,
            bins,
            evidence: event.evidence,
            confidence: (evidence * (1.0 - gap_fraction)).clamp(0.0, 1.0),
        }
    }
}

/// The standard normal quantile exceeded with probability `p` (0 < p < 0.5),
/// by bisection on the complementary error function.
fn upper_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-15, 0.5);
    let (mut low, mut high) = (0.0f64, 9.0f64);
    for _ in 0..80 {
        let mid = (low + high) / 2.0;
        if 0.5 * erfc(mid / std::f64::consts::SQRT_2) > p {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// The complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The median, averaging the two middle values of an even count (a fair
/// estimate from two or four days); `None` when empty.
pub(crate) fn middle(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The weekday of `t` (UTC), Monday = 0.
fn weekday_of(t: UnixSecs) -> usize {
    (t.div_euclid(86_400) + 3).rem_euclid(DAYS_PER_WEEK as i64) as usize
}

/// The typical weekday's factor: the median of the seven weekly factors
/// (a working day's, however the weekend falls).
fn typical_factor(factors: &[f32]) -> f32 {
    let mut values: Vec<f64> = factors.iter().map(|f| f64::from(*f)).collect();
    middle(&mut values).map_or(1.0, |m| m as f32)
}

/// The interquartile mean of the finite values of a ring (the mean of the
/// middle half): robust like a median, but continuous, so the level of low
/// counts does not jump from one integer to the next. `None` when empty.
fn ring_median(ring: &[f32]) -> Option<f64> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.clear();
        scratch.extend(ring.iter().copied().filter(|v| v.is_finite()));
        let n = scratch.len();
        if n == 0 {
            return None;
        }
        if n < 4 {
            let mid = n / 2;
            let (_, value, _) = scratch.select_nth_unstable_by(mid, f32::total_cmp);
            return Some(f64::from(*value));
        }
        let low = n / 4;
        let high = n - n / 4;
        scratch.select_nth_unstable_by(low, f32::total_cmp);
        let upper = &mut scratch[low..];
        upper.select_nth_unstable_by(high - low - 1, f32::total_cmp);
        let middle = &upper[..high - low];
        let sum: f64 = middle.iter().map(|v| f64::from(*v)).sum();
        Some(sum / middle.len() as f64)
    })
}

/// Runs vigie's detector over a whole series (the batch mode: the same
/// per-bin loop as live detection).
pub fn detect_series(series: &Series, config: &VigieConfig) -> SignalDetection {
    detect_series_local(series, config, 0)
}

/// [`detect_series`] for an entity `local_offset` seconds east of UTC (see
/// [`SignalDetector::set_local_offset`]).
pub fn detect_series_local(
    series: &Series,
    config: &VigieConfig,
    local_offset: i64,
) -> SignalDetection {
    let mut one = detect_spans_local(std::slice::from_ref(series), config, local_offset);
    one.pop().expect("one span gives one detection")
}

/// Runs one detector over the spans of a series that hold data (oldest
/// first, as [`detect_series`] would see them, with long silences between
/// them left out rather than filled): the detector meets each silence as a
/// live one does (after more than 14 days it starts afresh), and each span
/// gets its own detection, with the events and gaps that start in it and
/// its depths. One span gives exactly [`detect_series`]'s result; the cost
/// grows with the bins that are read, not with the silences.
pub fn detect_spans(spans: &[Series], config: &VigieConfig) -> Vec<SignalDetection> {
    detect_spans_local(spans, config, 0)
}

/// [`detect_spans`] for an entity `local_offset` seconds east of UTC (see
/// [`SignalDetector::set_local_offset`]).
pub fn detect_spans_local(
    spans: &[Series],
    config: &VigieConfig,
    local_offset: i64,
) -> Vec<SignalDetection> {
    let Some(first) = spans.first() else {
        return Vec::new();
    };
    let mut detector = SignalDetector::new(first.key.clone(), first.bin, config);
    detector.set_local_offset(local_offset);
    let mut detections: Vec<SignalDetection> = Vec::with_capacity(spans.len());
    for series in spans {
        let mut depths = Vec::with_capacity(series.values.len());
        for (t, value) in series.points() {
            let verdict = detector.push(t, value);
            depths.push(verdict.depth.map(|d| d as f32));
        }
        detections.push(SignalDetection {
            key: series.key.clone(),
            bin_secs: series.bin.secs(),
            start: series.start,
            end: series.end(),
            events: Vec::new(),
            gaps: Vec::new(),
            depths,
        });
    }
    // Each event and gap goes to the last span starting at or before it.
    let span_of = |t: UnixSecs| detections.iter().rposition(|d| d.start <= t).unwrap_or(0);
    let placed_events: Vec<(usize, SignalEvent)> = detector
        .events()
        .into_iter()
        .map(|e| (span_of(e.start), e))
        .collect();
    let placed_gaps: Vec<(usize, DataGap)> = detector
        .gaps()
        .into_iter()
        .map(|g| (span_of(g.start), g))
        .collect();
    for (index, event) in placed_events {
        detections[index].events.push(event);
    }
    for (index, gap) in placed_gaps {
        detections[index].gaps.push(gap);
    }
    detections
}

/// `#[serde(with)]` for the recent ring, compact and lossless: each slot's
/// bin number is the one its place in the ring implies (else written
/// apart), then every field as a column in time order (see
/// [`crate::compact`]); the baseline and the depth as their bits' XOR
/// with what the level, the season and the value make of them, mostly
/// zeros.
mod recent_ring {
    use serde::de::Error as _;
    use serde::{Deserializer, Serializer};

    use super::RecentBin;
    use crate::compact::{
        deserialize_bytes, put_f32s, put_u32s, put_varint, take_bytes, take_f32s, take_u32s,
        take_varint, unzigzag, zigzag,
    };

    /// What the level and the season make of a bin's baseline.
    fn guess_predicted(level: f32, season: f32) -> f32 {
        (f64::from(level) * f64::from(season)) as f32
    }

    /// What the value and the baseline make of a bin's depth.
    fn guess_depth(value: f32, predicted: f32) -> f32 {
        (1.0 - f64::from(value) / f64::from(predicted)).clamp(-1.0, 1.0) as f32
    }

    /// Slot tags: the bin the ring's place implies, an empty slot, or a bin
    /// number written apart.
    const IMPLIED: u8 = 0;
    const EMPTY: u8 = 1;
    const WRITTEN: u8 = 2;

    /// The ring's length, the newest bin, then the slots oldest first.
    fn encode(ring: &[RecentBin]) -> Vec<u8> {
        let n = ring.len();
        let mut out = Vec::with_capacity(n * 20);
        put_varint(&mut out, n as u64);
        let newest = ring
            .iter()
            .map(|r| r.bin_no)
            .filter(|&b| b != i64::MIN)
            .max();
        put_varint(&mut out, newest.map_or(0, |b| zigzag(b) + 1));
        let newest = newest.unwrap_or(n as i64 - 1);
        let first = newest - n as i64 + 1;
        let order: Vec<&RecentBin> = (0..n as i64)
            .map(|k| &ring[(first + k).rem_euclid(n as i64) as usize])
            .collect();
        let mut written = Vec::new();
        for (k, r) in order.iter().enumerate() {
            out.push(if r.bin_no == first + k as i64 {
                IMPLIED
            } else if r.bin_no == i64::MIN {
                EMPTY
            } else {
                put_varint(
                    &mut written,
                    zigzag(r.bin_no.wrapping_sub(first + k as i64)),
                );
                WRITTEN
            });
        }
        out.extend(written);
        let fields: [fn(&RecentBin) -> f32; 5] = [
            |r| r.value,
            |r| r.season,
            |r| r.week,
            |r| r.level,
            |r| r.score,
        ];
        for field in fields {
            put_f32s(&mut out, order.iter().map(|r| field(r)));
        }
        let predicted: Vec<u32> = order
            .iter()
            .map(|r| r.predicted.to_bits() ^ guess_predicted(r.level, r.season).to_bits())
            .collect();
        put_u32s(&mut out, &predicted);
        let depth: Vec<u32> = order
            .iter()
            .map(|r| r.depth.to_bits() ^ guess_depth(r.value, r.predicted).to_bits())
            .collect();
        put_u32s(&mut out, &depth);
        out.extend(order.iter().map(|r| r.flag));
        out.extend(
            order
                .iter()
                .map(|r| u8::from(r.local) | (u8::from(r.aftermath) << 1)),
        );
        out
    }

    fn decode(mut input: &[u8]) -> Option<Vec<RecentBin>> {
        let input = &mut input;
        let n = usize::try_from(take_varint(input)?).ok()?;
        let newest = match take_varint(input)? {
            0 => n as i64 - 1,
            b => unzigzag(b - 1),
        };
        let first = newest.checked_sub(n as i64)? + 1;
        let tags = take_bytes(input, n)?;
        let mut bin_nos = Vec::with_capacity(n);
        for (k, &tag) in tags.iter().enumerate() {
            let implied = first + k as i64;
            bin_nos.push(match tag {
                IMPLIED => implied,
                EMPTY => i64::MIN,
                WRITTEN => implied.wrapping_add(unzigzag(take_varint(input)?)),
                _ => return None,
            });
        }
        let mut columns = Vec::with_capacity(5);
        for _ in 0..5 {
            columns.push(take_f32s(input, n)?);
        }
        let (value, season, week, level, score) = (
            &columns[0],
            &columns[1],
            &columns[2],
            &columns[3],
            &columns[4],
        );
        let predicted: Vec<f32> = take_u32s(input, n)?
            .into_iter()
            .enumerate()
            .map(|(k, r)| f32::from_bits(r ^ guess_predicted(level[k], season[k]).to_bits()))
            .collect();
        let depth: Vec<f32> = take_u32s(input, n)?
            .into_iter()
            .enumerate()
            .map(|(k, r)| f32::from_bits(r ^ guess_depth(value[k], predicted[k]).to_bits()))
            .collect();
        let flags = take_bytes(input, n)?;
        let bools = take_bytes(input, n)?;
        if !input.is_empty() {
            return None;
        }
        let mut ring = vec![RecentBin::empty(); n];
        for k in 0..n {
            ring[(first + k as i64).rem_euclid(n as i64) as usize] = RecentBin {
                bin_no: bin_nos[k],
                value: value[k],
                predicted: predicted[k],
                season: season[k],
                week: week[k],
                level: level[k],
                depth: depth[k],
                score: score[k],
                flag: flags[k],
                local: bools[k] & 1 != 0,
                aftermath: bools[k] & 2 != 0,
            };
        }
        Some(ring)
    }

    pub fn serialize<S: Serializer>(ring: &[RecentBin], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&encode(ring))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<RecentBin>, D::Error> {
        let bytes = deserialize_bytes(deserializer)?;
        decode(&bytes).ok_or_else(|| D::Error::custom("a cut or damaged recent ring"))
    }
}

/// Which way a step in an outage's depths goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Deeper after it (an onset).
    Down,
    /// Shallower after it (a recovery).
    Up,
}

/// The bin where one step of the given direction best splits `points`
/// (bin, depth) in the least-squares sense: the first bin after it.
/// `None` with fewer than four points or no split in that direction.
fn least_squares_step(points: &[(i64, f64)], direction: Step) -> Option<i64> {
    let n = points.len();
    if n < 4 {
        return None;
    }
    let total: f64 = points.iter().map(|(_, d)| d).sum();
    let mut before = 0.0;
    let mut best: Option<(f64, usize)> = None;
    for split in 1..n {
        before += points[split - 1].1;
        let n1 = split as f64;
        let n2 = (n - split) as f64;
        let m1 = before / n1;
        let m2 = (total - before) / n2;
        let rise = match direction {
            Step::Down => m2 - m1,
            Step::Up => m1 - m2,
        };
        if rise <= 0.0 {
            continue;
        }
        let gain = n1 * n2 / n as f64 * rise * rise;
        if best.is_none_or(|(g, _)| gain > g) {
            best = Some((gain, split));
        }
    }
    best.map(|(_, split)| points[split].0)
}

/// The mean depth of the `points` from bin `from` up to, not including,
/// bin `until` (`None` when there are none).
fn mean_depth_between(points: &[(i64, f64)], from: i64, until: i64) -> Option<f64> {
    let (sum, count) = points
        .iter()
        .filter(|(b, _)| *b >= from && *b < until)
        .fold((0.0, 0usize), |(sum, count), (_, d)| (sum + d, count + 1));
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        assert!((upper_quantile(0.025) - 1.959_96).abs() < 1e-3);
        assert!((upper_quantile(1e-5) - 4.264_89).abs() < 1e-3);
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_70).abs() < 1e-4);
    }

    #[test]
    fn the_recent_ring_round_trips_bit_for_bit() {
        let mut ring = vec![RecentBin::empty(); 7];
        for (k, b) in [100i64, 101, 102, 103, 104].into_iter().enumerate() {
            ring[b.rem_euclid(7) as usize] = RecentBin {
                bin_no: b,
                value: b as f32 * 1.5,
                predicted: f32::from_bits(0x7fc0_0001 + k as u32),
                depth: -0.0,
                flag: k as u8,
                local: k % 2 == 0,
                aftermath: k % 3 == 0,
                ..RecentBin::empty()
            };
        }
        // A slot whose bin is not the one its place implies.
        ring[0].bin_no = 7;
        let bits = |ring: &[RecentBin]| serde_json::to_string(&Wrap(ring.to_vec())).unwrap();
        #[derive(Serialize, Deserialize)]
        struct Wrap(#[serde(with = "recent_ring")] Vec<RecentBin>);
        let back: Wrap = serde_json::from_str(&bits(&ring)).unwrap();
        assert_eq!(bits(&back.0), bits(&ring));
        for (a, b) in back.0.iter().zip(&ring) {
            assert_eq!(a.bin_no, b.bin_no);
            assert_eq!(a.predicted.to_bits(), b.predicted.to_bits());
            assert_eq!(a.depth.to_bits(), b.depth.to_bits());
            assert_eq!(
                (a.flag, a.local, a.aftermath),
                (b.flag, b.local, b.aftermath)
            );
        }
        let empty = vec![RecentBin::empty(); 5];
        let back: Wrap = serde_json::from_str(&bits(&empty)).unwrap();
        assert!(back
            .0
            .iter()
            .all(|r| r.bin_no == i64::MIN && r.value.is_nan()));
    }

    #[test]
    fn thresholds_shrink_with_window_length() {
        let sizes = Sizes::new(&VigieConfig::default(), BinSize::default());
        assert_eq!(sizes.confirm_windows, vec![3, 6, 12, 24, 48, 96]);
        assert!(sizes.thresholds.windows(2).all(|w| w[0] > w[1]));
        assert!(
            (sizes.thresholds[0] - 4.26).abs() < 0.01,
            "{:?}",
            sizes.thresholds
        );
        assert!(
            (sizes.thresholds[5] - 3.40).abs() < 0.01,
            "{:?}",
            sizes.thresholds
        );
    }
}
