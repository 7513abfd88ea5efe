//! The one configuration of vigie's detector, and IODA's published parameters.

use serde::{Deserialize, Serialize};
use vigie_model::SignalFamily;

/// One number per signal family.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct PerFamily {
    /// BGP visibility.
    pub bgp: f64,
    /// Active probing.
    pub probing: f64,
    /// Network telescope.
    pub telescope: f64,
    /// Traffic volumes (flows, web logs, Google traffic).
    pub traffic: f64,
}

impl PerFamily {
    /// The value for `family`.
    pub fn get(&self, family: SignalFamily) -> f64 {
        match family {
            SignalFamily::Bgp => self.bgp,
            SignalFamily::Probing => self.probing,
            SignalFamily::Telescope => self.telescope,
            SignalFamily::Traffic => self.traffic,
        }
    }
}

/// vigie's detector configuration. There is one: [`VigieConfig::default`] is
/// used for every signal of every entity, and no field is tuned to a dataset.
///
/// Why each value (the accuracy document repeats this):
/// - the baseline level is the median of the last day, so a shift of the
///   level is learnt within half a day, and the daily and weekly shapes are
///   medians over the last 7 days and 4 weeks, as Cloudflare Radar compares a
///   day with the most similar past days; hours of the day never seen
///   outside an outage are judged against the last hour instead (so the
///   first day of a daily cycle is not a string of outages), and a weekday
///   whose measured dip recurs alike is learnt even though it was flagged;
/// - `min_depth` is IODA's published *warning* threshold turned into a
///   fraction lost (BGP 99% → 1%, probing 80% → 20%, telescope 25% → 75%);
///   traffic, which IODA does not threshold this way, takes probing's;
/// - a drop must also stand out from the series' own noise, measured on its
///   normal bins for each window length (so slow wander and autocorrelation
///   count, not just bin-to-bin jitter), by a number of standard deviations
///   set so that every window length gets the same false-alarm budget:
///   `false_alarm_days` (one false alarm per 1000 days of normal data per
///   window length, under Gaussian noise). Short windows have many chances a
///   day and need about 4.3 σ; an 8-hour window has three and needs about 3.4 σ.
///   This is what keeps noisy low counts quiet while a long, moderate
///   blackout is still seen. No signal is trusted to better than
///   `noise_floor` (1%), the churn of aggregated counts;
/// - windows of 15 minutes to 8 hours let clean signals confirm in 15
///   minutes and noisy ones with more evidence (the onset is then moved
///   back, up to `lookback_secs`, so a late confirmation is not a late onset);
/// - for signals that count things, a drop at a quiet hour is weighed as
///   less evidence than the same drop at a busy hour (relative noise grows
///   as counts fall, as for Poisson counts);
/// - an outage ends after 30 minutes more than halfway back from the
///   outage level (a midpoint, like the onset);
///   a return shorter than `close_after_secs` (12 h) followed by a new drop
///   deeper than that exit level is a restoration window inside one event
///   (Kazakhstan's longest restoration, 7.5 h on 2022-01-08, fits; Iraq's
///   daily exam cuts, 20 h apart, do not);
/// - the onset is the least-squares location of the step (the first bin past
///   half the drop); the end is the first bin that climbs back a quarter of
///   the drop; both must also move by two standard deviations.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct VigieConfig {
    /// Window of the baseline level (a median), in seconds.
    pub level_window_secs: u32,
    /// Days of hourly shape kept for the daily profile.
    pub season_days: usize,
    /// Weeks of daily levels kept for the weekly profile (used once a weekday
    /// has been seen twice).
    pub season_weeks: usize,
    /// Data needed before the first verdict, in seconds.
    pub warmup_secs: u32,
    /// The smallest relative noise assumed for any signal.
    pub noise_floor: f64,
    /// Window lengths over which a drop can be confirmed, in seconds.
    pub confirm_windows_secs: Vec<u32>,
    /// False-alarm budget: on Gaussian noise, each window length raises one
    /// false alarm per this many days of normal data.
    pub false_alarm_days: f64,
    /// How long a signal must stay recovered before the outage is over, in seconds.
    pub exit_window_secs: u32,
    /// Onset: a bin belongs to the outage from this fraction of the drop on
    /// (one half is the least-squares location of a step).
    pub onset_fraction: f64,
    /// Recovery: the outage ends at the first bin back by this fraction of
    /// the drop (the start of the climb back; probing and traffic climb
    /// back slowly after service returns).
    pub recovery_fraction: f64,
    /// Onset and recovery: the standard deviations a bin must move by.
    pub departure_sigmas: f64,
    /// How long after a recovery a new drop still belongs to the same event.
    pub close_after_secs: u32,
    /// An outage still going on after this long is reported as a sustained
    /// drop with no recovery yet. It is never relearnt as the new normal:
    /// the baseline stays the one from before the drop until it recovers.
    pub sustained_after_secs: u32,
    /// The smallest fraction of the baseline an outage must take away.
    pub min_depth: PerFamily,
    /// How far a weekday not yet learnt may lie from the others, as a
    /// standard deviation added to the noise on such days: traffic follows
    /// human activity (weekends take 10–40% off it, on Friday, Friday and
    /// Saturday or Saturday and Sunday depending on the country), while
    /// reachability barely moves. Once a weekday has been seen twice its
    /// factor is learnt and this no longer applies.
    pub unlearnt_weekday_spread: PerFamily,
    /// A drop that takes at least this fraction off a daily shape learnt
    /// over two days or more is an outage even when it builds up over
    /// hours (a hurricane, a blackout spreading): no daily or weekly
    /// pattern takes half of a learnt baseline away. Shallower drops must
    /// begin with a step (see the detector's step rule).
    pub gradual_outage_depth: f64,
    /// Baselines below this value are too small to judge, in the signal's
    /// units (not applied to unitless indices such as Google's traffic).
    pub min_prediction: f64,
    /// Runs of missing bins at least this long are reported as data gaps.
    pub gap_min_secs: u32,
    /// How far back onset refinement may look, in seconds.
    pub lookback_secs: u32,
}

impl Default for VigieConfig {
    fn default() -> Self {
        VigieConfig {
            level_window_secs: 86_400,
            season_days: 7,
            season_weeks: 4,
            warmup_secs: 6 * 3600,
            noise_floor: 0.01,
            confirm_windows_secs: vec![900, 1800, 3600, 7200, 14_400, 28_800],
            false_alarm_days: 1000.0,
            exit_window_secs: 1800,
            onset_fraction: 0.5,
            recovery_fraction: 0.25,
            departure_sigmas: 2.0,
            close_after_secs: 12 * 3600,
            sustained_after_secs: 48 * 3600,
            min_depth: PerFamily {
                bgp: 0.01,
                probing: 0.20,
                telescope: 0.75,
                traffic: 0.20,
            },
            unlearnt_weekday_spread: PerFamily {
                bgp: 0.0,
                probing: 0.0,
                telescope: 0.0,
                traffic: 0.15,
            },
            gradual_outage_depth: 0.5,
            min_prediction: 1.0,
            gap_min_secs: 900,
            lookback_secs: 9 * 3600,
        }
    }
}

/// Which of IODA's two alert levels makes an event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IodaLevel {
    /// Value below the warning fraction of the history.
    Warning,
    /// Value below the critical fraction of the history.
    Critical,
}

impl IodaLevel {
    /// `warning` or `critical`.
    pub fn name(self) -> &'static str {
        match self {
            IodaLevel::Warning => "warning",
            IodaLevel::Critical => "critical",
        }
    }
}

/// IODA's published median method parameters for one data source family.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct IodaFamilyParams {
    /// History sliding window, seconds.
    pub history_secs: u32,
    /// Warning when current < warning × history.
    pub warning: f64,
    /// Critical when current < critical × history.
    pub critical: f64,
}

/// IODA's median method, as published (see [`crate::ioda`] for sources).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct IodaConfig {
    /// BGP: 24 h history, 99% / 50%.
    pub bgp: IodaFamilyParams,
    /// Active probing: 7 days, 80% / 50%.
    pub probing: IodaFamilyParams,
    /// Telescope: 7 days, 25% / 10%.
    pub telescope: IodaFamilyParams,
    /// Data needed before the first prediction (watchtower-sentry sample: 3600 s).
    pub warmup_secs: u32,
    /// No prediction is made when the history value is below this
    /// (watchtower-sentry sample for active probing: 20).
    pub min_prediction: f64,
    /// Values whose ratio to the history is above this are inpainted too (sample: 2).
    pub inpaint_max_ratio: f64,
    /// Inpainting stops after this long and the raw values become the new
    /// normal (sample: 604800 s).
    pub inpaint_max_secs: u32,
    /// Alerts shorter than this are dropped (sample: 60 s).
    pub min_alert_secs: u32,
    /// The level that makes an event.
    pub level: IodaLevel,
    /// Not part of IODA's method: when above 0, an entity's events closer
    /// than this are merged into one, as vigie merges returns shorter than
    /// its `close_after_secs` (for a comparison without fragmentation).
    pub merge_gap_secs: u32,
}

impl IodaConfig {
    /// The published configuration, with events at `level`.
    pub fn published(level: IodaLevel) -> Self {
        IodaConfig {
            bgp: IodaFamilyParams {
                history_secs: 86_400,
                warning: 0.99,
                critical: 0.5,
            },
            probing: IodaFamilyParams {
                history_secs: 7 * 86_400,
                warning: 0.8,
                critical: 0.5,
            },
            telescope: IodaFamilyParams {
                history_secs: 7 * 86_400,
                warning: 0.25,
                critical: 0.1,
            },
            warmup_secs: 3600,
            min_prediction: 20.0,
            inpaint_max_ratio: 2.0,
            inpaint_max_secs: 604_800,
            min_alert_secs: 60,
            level,
            merge_gap_secs: 0,
        }
    }

    /// The parameters for `family`; `None` for traffic, which IODA does not
    /// detect with the median method (its Google signals use SARIMA).
    pub fn family(&self, family: SignalFamily) -> Option<IodaFamilyParams> {
        match family {
            SignalFamily::Bgp => Some(self.bgp),
            SignalFamily::Probing => Some(self.probing),
            SignalFamily::Telescope => Some(self.telescope),
            SignalFamily::Traffic => None,
        }
    }
}

impl Default for IodaConfig {
    fn default() -> Self {
        IodaConfig::published(IodaLevel::Critical)
    }
}
