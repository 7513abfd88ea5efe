//! A robustness sweep: thousands of synthetic entities whose outages are
//! known, to measure how detection generalises beyond the few labelled real
//! shutdowns.
//!
//! Each [`Scenario`] is one entity with one to four realistic signals (IODA's
//! `bgp`, `ping-slash24`, `merit-nt`, `gtr`) and at most one injected cut.
//! The sweep is structured: a base case, then one or two dimensions varied at
//! a time ([`DIMENSIONS`]: bin width × duration, depth, onset hour, daily
//! amplitude, weekend, noise, quantization, missing data, signals, mechanism,
//! history), outage-free entities to count false alarms, and random
//! combinations of everything. Every series is drawn from a seed that
//! depends only on the sweep seed, the dimension, the class and the index in
//! the class, so `--only` and `--quick` runs reproduce the same series as
//! the full sweep.
//!
//! Signals look like IODA's: BGP visible /24s nearly flat (±0.2%); /24s up
//! to active probing with a daily cycle and Poisson (or Gaussian) noise;
//! telescope unique sources low and Poisson; Google's traffic index with a
//! strong daily and weekly cycle, optionally quantized. All drift slowly
//! (a multiplicative AR(1) wander). A cut is a step that falls within a bin
//! or two and comes back the same way. In a data-plane cut probing, telescope
//! and traffic fall while BGP stays flat; when routes are withdrawn all fall.
//! The label is the cut's `[onset, end)`, each rounded to the nearest bin
//! boundary (where a least-squares step would put it).
//!
//! Detection goes through [`Method::detect`] only (vigie: `detect_series`
//! then `fuse`, as `vigie detect` does; IODA's median method), and scoring
//! through [`score_spans`] (one-to-one matching).
//!
//! ```
//! use vigie_detect::sweep::{plan, generate, score};
//!
//! let scenarios = plan(1, true, Some("depth")).unwrap();
//! let synthetic = generate(&scenarios[0]);
//! // A perfect detector: the labels themselves.
//! let outcome = score(&synthetic, &synthetic.label_spans());
//! assert_eq!(outcome.matched, outcome.labels);
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use vigie_model::{
    format_utc, BinSize, CountryCode, Entity, Series, SeriesKey, SignalKind, UnixSecs,
};

use crate::eval::{score_spans, DetectedSpan, Label, Method};
use crate::vigie::middle;

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// 2023-01-02T00:00:00Z, a Monday: the earliest start of a generated series.
const EPOCH: UnixSecs = 1_672_617_600;

/// The four signal families of a synthetic entity, in IODA's names.
pub const SIGNALS: [SignalKind; 4] = [
    SignalKind::BgpVisibleSlash24s,
    SignalKind::ProbeUpSlash24s,
    SignalKind::TelescopeUniqueSources,
    SignalKind::GoogleTraffic,
];

/// The local hour of the daily trough of every generated cycle.
pub const TROUGH_HOUR: f64 = 4.0;

/// A small, fast, deterministic generator (splitmix64): the same seed gives
/// the same sweep on every run.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in `[lo, hi)`: as likely to be 10–100 as 100–1000.
    pub fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// One item of a non-empty slice, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Poisson draw: Knuth's product method for small means, Hörmann's
    /// transformed rejection (PTRS) from 10 on, exact and fast for any mean.
    pub fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean < 10.0 {
            let limit = (-mean).exp();
            let mut k = 0.0;
            let mut p = self.uniform();
            while p > limit {
                k += 1.0;
                p *= self.uniform();
            }
            return k;
        }
        let slam = mean.sqrt();
        let loglam = mean.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.024_83 * b;
        let inv_alpha = 1.123_9 + 1.132_8 / (b - 3.4);
        let vr = 0.927_7 - 3.622_4 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
                <= -mean + k * loglam - ln_factorial(k)
            {
                return k;
            }
        }
    }
}

/// ln(k!) for a whole `k ≥ 0` (a table, then Stirling's series).
fn ln_factorial(k: f64) -> f64 {
    const TABLE: [f64; 10] = [
        0.0,
        0.0,
        std::f64::consts::LN_2,
        1.791_759_469_228_055,
        3.178_053_830_347_146,
        4.787_491_742_782_046,
        6.579_251_212_010_101,
        8.525_161_361_065_415,
        10.604_602_902_745_25,
        12.801_827_480_081_469,
    ];
    if k < 10.0 {
        return TABLE[k.max(0.0) as usize];
    }
    k * k.ln() - k + 0.5 * (std::f64::consts::TAU * k).ln() + 1.0 / (12.0 * k)
        - 1.0 / (360.0 * k * k * k)
}

/// A stable 64-bit hash (FNV-1a, then mixed), so a scenario's seed depends
/// only on its name.
fn hash_seed(seed: u64, parts: &[&str], index: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= index as u64;
    SplitMix64::new(h).next_u64()
}

/// How a series' values scatter around their expected level.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// Relative Gaussian noise of this standard deviation (0.01 = 1%), on
    /// probing and traffic; the telescope stays Poisson.
    Gaussian(f64),
    /// Poisson counts: /24s up to probing average this many per bin; the
    /// telescope and BGP are scaled from it.
    Poisson(f64),
}

impl Noise {
    fn name(self) -> String {
        match self {
            Noise::Gaussian(sigma) => format!("gaussian {}%", sigma * 100.0),
            Noise::Poisson(mean) => format!("poisson {mean}"),
        }
    }
}

/// Rounding of Google's traffic index, as some sources publish it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    /// Raw values.
    None,
    /// Steps of 10 on a 0..100 index.
    Steps10Of100,
    /// Whole numbers on a 0..10 index (like Monash's).
    Integer0To10,
}

impl Quantization {
    fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Steps10Of100 => "steps of 10 on 0..100",
            Quantization::Integer0To10 => "integers on 0..10",
        }
    }
}

/// Which days of the week are quieter (in local time).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekend {
    /// No weekly cycle.
    None,
    /// Friday.
    Fri,
    /// Friday and Saturday.
    FriSat,
    /// Saturday and Sunday.
    SatSun,
}

impl Weekend {
    fn name(self) -> &'static str {
        match self {
            Weekend::None => "none",
            Weekend::Fri => "Fri",
            Weekend::FriSat => "Fri–Sat",
            Weekend::SatSun => "Sat–Sun",
        }
    }

    /// Whether weekday `day` (Monday = 0) is a weekend day.
    fn holds(self, day: i64) -> bool {
        match self {
            Weekend::None => false,
            Weekend::Fri => day == 4,
            Weekend::FriSat => day == 4 || day == 5,
            Weekend::SatSun => day == 5 || day == 6,
        }
    }
}

/// How an outage is made, which decides which signals fall.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// Traffic blocked: probing, telescope and traffic fall, BGP stays flat.
    DataPlane,
    /// Routes withdrawn: every signal falls.
    RoutesWithdrawn,
}

impl Cut {
    fn name(self) -> &'static str {
        match self {
            Cut::DataPlane => "data plane",
            Cut::RoutesWithdrawn => "routes withdrawn",
        }
    }

    /// Whether `signal` falls in this kind of cut.
    pub fn affects(self, signal: SignalKind) -> bool {
        match self {
            Cut::DataPlane => signal != SignalKind::BgpVisibleSlash24s,
            Cut::RoutesWithdrawn => true,
        }
    }
}

/// Missing data outside the outage (each signal independently).
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Every bin present.
    None,
    /// Each bin missing with this probability.
    Random(f64),
    /// Runs of 30 minutes to 6 hours missing, about one every four days.
    Gaps,
}

impl Missing {
    fn name(self) -> String {
        match self {
            Missing::None => "none".into(),
            Missing::Random(p) => format!("{}% of bins", p * 100.0),
            Missing::Gaps => "gaps of 0.5–6 h".into(),
        }
    }
}

/// The injected outage of a scenario, fully drawn.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Outage {
    /// Fraction of the level lost by the signals the cut affects.
    pub depth: f64,
    /// Exact onset: the middle of the fall.
    pub onset: UnixSecs,
    /// Exact end: the middle of the climb back.
    pub end: UnixSecs,
    /// How long the fall takes, seconds (at most two bins).
    pub ramp_in_secs: i64,
    /// How long the climb back takes, seconds (at most two bins).
    pub ramp_out_secs: i64,
    /// The onset's local hour.
    pub onset_local_hour: f64,
    /// Which signals fall.
    pub cut: Cut,
    /// Signals that have no data at all while cut (like telescope counts of
    /// a country whose every address is gone).
    pub vanishing: Vec<SignalKind>,
}

/// Everything needed to generate one synthetic entity: its class's settings
/// and its own random draws.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Params {
    /// Bin width, seconds (divides a day).
    pub bin_secs: u32,
    /// Start of the first bin (UTC midnight).
    pub start: UnixSecs,
    /// First second after the data.
    pub until: UnixSecs,
    /// Days of data before the outage's day.
    pub history_days: u32,
    /// The outage, if any.
    pub outage: Option<Outage>,
    /// Local time = UTC + this, hours (for the daily and weekly cycles).
    pub utc_offset_hours: i64,
    /// Relative amplitude of the daily cycle of probing and traffic (the
    /// telescope gets half); 0.5 puts the night at a third of the peak.
    pub daily_amplitude: f64,
    /// Quieter days of the week.
    pub weekend: Weekend,
    /// How much quieter traffic is on them at the daily peak (at night, with
    /// a marked daily cycle, 30% of it; probing and telescope: half).
    pub weekend_dip: f64,
    /// Noise kind.
    pub noise: Noise,
    /// Rounding of the traffic index.
    pub quantization: Quantization,
    /// Missing data.
    pub missing: Missing,
    /// The entity's signals, each with its mean level.
    pub signals: Vec<(SignalKind, f64)>,
}

impl Params {
    /// The bin width.
    pub fn bin(&self) -> BinSize {
        BinSize::new(self.bin_secs).expect("sweep bin widths divide a day")
    }

    /// Days covered by the data.
    pub fn days(&self) -> f64 {
        (self.until - self.start) as f64 / DAY as f64
    }

    /// Number of bins per series.
    pub fn bins(&self) -> usize {
        ((self.until - self.start) / i64::from(self.bin_secs)) as usize
    }

    /// A one-line description, for verbose listings.
    pub fn describe(&self) -> String {
        let outage = match &self.outage {
            Some(o) => format!(
                "{:.0}% {} cut {} → {} (local {:02.0}:{:02.0}), ",
                o.depth * 100.0,
                o.cut.name(),
                format_utc(o.onset),
                format_utc(o.end),
                o.onset_local_hour.floor(),
                (o.onset_local_hour.fract() * 60.0).floor()
            ),
            None => "no outage, ".into(),
        };
        let vanish = match &self.outage {
            Some(o) if !o.vanishing.is_empty() => format!(
                ", {} vanish while cut",
                o.vanishing
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            _ => String::new(),
        };
        format!(
            "{}bin {}, {} d of data from {}, UTC{:+}, daily ±{:.0}%, weekend {} −{:.0}%, {}, quantization {}, missing {}{}, signals {}",
            outage,
            duration_name(i64::from(self.bin_secs)),
            self.days(),
            format_utc(self.start),
            self.utc_offset_hours,
            self.daily_amplitude * 100.0,
            self.weekend.name(),
            self.weekend_dip * 100.0,
            self.noise.name(),
            self.quantization.name(),
            self.missing.name(),
            vanish,
            self.signals
                .iter()
                .map(|(s, level)| format!("{}≈{level:.0}", s.name()))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}

/// One synthetic entity of the sweep.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Scenario {
    /// The dimension it belongs to (a slug of [`DIMENSIONS`]).
    pub dimension: &'static str,
    /// Its class within the dimension, such as `50%`.
    pub class: String,
    /// Its index within the class.
    pub index: usize,
    /// The seed of its values.
    pub seed: u64,
    /// What to generate.
    pub params: Params,
}

impl Scenario {
    /// `dimension/class#index`, which names the series in listings.
    pub fn id(&self) -> String {
        format!("{}/{}#{}", self.dimension, self.class, self.index)
    }
}

/// The dimensions of the sweep: slug and what varies.
pub const DIMENSIONS: [(&str, &str); 14] = [
    ("bin-duration", "bin width × outage duration"),
    ("depth", "fraction of the level lost"),
    (
        "onset",
        "local hour of the onset (the daily trough is at 04:00)",
    ),
    ("daily", "daily cycle amplitude"),
    ("weekend", "weekend days and dip"),
    ("noise", "noise, four signals"),
    ("noise-ping", "noise, ping-slash24 alone"),
    ("quantization", "quantized traffic index, gtr alone"),
    ("missing", "missing data"),
    ("signals", "signals of the entity"),
    ("mechanism", "how the outage is made"),
    ("history", "days of data before the outage"),
    ("no-outage", "outage-free entities (false alarms)"),
    ("random", "random combinations of every dimension, by depth"),
];

/// The base case, from which each dimension varies one or two settings.
pub const BASE_CASE: &str = "5-min bins, 75% data-plane cut (probing, telescope and traffic fall, BGP flat) of 4 h at a random hour, 14 days of history and 2 after, daily cycle ±20%, Sat–Sun weekend with traffic 10–40% lower at the daily peak (probing and telescope half as much), probing Poisson with mean 500 per bin, 0.2% of bins missing, four signals (bgp, ping-slash24, merit-nt, gtr), local time UTC−5 to UTC+9";

/// The class-level settings; random fields are drawn per scenario.
#[derive(Clone, Debug)]
struct Spec {
    bin_secs: u32,
    /// `None`: no outage.
    depth: Option<f64>,
    duration_secs: i64,
    /// Local onset hour; `None` draws one.
    onset_hour: Option<f64>,
    daily_amplitude: f64,
    weekend: Weekend,
    /// `None` draws 10–40%.
    weekend_dip: Option<f64>,
    noise: Noise,
    quantization: Quantization,
    missing: Missing,
    vanishing: Vec<SignalKind>,
    signals: Vec<SignalKind>,
    cut: Cut,
    history_days: u32,
    after_days: u32,
}

fn base() -> Spec {
    Spec {
        bin_secs: 300,
        depth: Some(0.75),
        duration_secs: 4 * HOUR,
        onset_hour: None,
        daily_amplitude: 0.2,
        weekend: Weekend::SatSun,
        weekend_dip: None,
        noise: Noise::Poisson(500.0),
        quantization: Quantization::None,
        missing: Missing::Random(0.002),
        vanishing: Vec::new(),
        signals: SIGNALS.to_vec(),
        cut: Cut::DataPlane,
        history_days: 14,
        after_days: 2,
    }
}

const BINS: [u32; 7] = [60, 300, 600, 1800, 3600, 10_800, 86_400];
const DURATIONS: [i64; 8] = [
    15 * MINUTE,
    HOUR,
    4 * HOUR,
    DAY,
    7 * DAY,
    19 * DAY,
    45 * DAY,
    90 * DAY,
];
const DEPTHS: [f64; 5] = [0.2, 0.5, 0.75, 0.9, 1.0];
const AMPLITUDES: [f64; 4] = [0.0, 0.2, 0.5, 0.6];
const NOISES: [Noise; 8] = [
    Noise::Gaussian(0.01),
    Noise::Gaussian(0.03),
    Noise::Poisson(15.0),
    Noise::Poisson(30.0),
    Noise::Poisson(100.0),
    Noise::Poisson(500.0),
    Noise::Poisson(1000.0),
    Noise::Poisson(10_000.0),
];
const HISTORIES: [u32; 4] = [2, 5, 14, 35];
const WEEKENDS: [Weekend; 4] = [
    Weekend::None,
    Weekend::Fri,
    Weekend::FriSat,
    Weekend::SatSun,
];

/// A readable duration: `15 min`, `4 h`, `7 d`.
fn duration_name(secs: i64) -> String {
    if secs % DAY == 0 {
        format!("{} d", secs / DAY)
    } else if secs % HOUR == 0 {
        format!("{} h", secs / HOUR)
    } else {
        format!("{} min", secs / MINUTE)
    }
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Whether the pair is a class: at least two bins of outage, and 1-minute
/// bins only up to 4 hours (the detector's cost per bin grows with the bins
/// in a day, so longer would cost more than it teaches).
fn bin_duration_is_class(bin_secs: u32, duration: i64) -> bool {
    duration >= 2 * i64::from(bin_secs) && (bin_secs > 60 || duration <= 4 * HOUR)
}

/// Days of history for 1-minute bins (a fifth of the base's bins per day
/// would otherwise make them the sweep's slowest series by far).
const ONE_MINUTE_HISTORY_DAYS: u32 = 4;
/// Series per 1-minute class in the full sweep.
const ONE_MINUTE_PER_CLASS: usize = 10;

/// The entity's signal sets for the `signals` dimension.
fn signal_sets() -> Vec<(&'static str, Vec<SignalKind>, Cut)> {
    use SignalKind::*;
    vec![
        (
            "bgp alone (routes withdrawn)",
            vec![BgpVisibleSlash24s],
            Cut::RoutesWithdrawn,
        ),
        ("ping-slash24 alone", vec![ProbeUpSlash24s], Cut::DataPlane),
        (
            "merit-nt alone",
            vec![TelescopeUniqueSources],
            Cut::DataPlane,
        ),
        ("gtr alone", vec![GoogleTraffic], Cut::DataPlane),
        (
            "bgp + ping-slash24",
            vec![BgpVisibleSlash24s, ProbeUpSlash24s],
            Cut::DataPlane,
        ),
        (
            "bgp + ping-slash24 + merit-nt",
            vec![BgpVisibleSlash24s, ProbeUpSlash24s, TelescopeUniqueSources],
            Cut::DataPlane,
        ),
        ("all four", SIGNALS.to_vec(), Cut::DataPlane),
    ]
}

type Draw = Box<dyn Fn(&mut SplitMix64) -> Spec>;

/// The structured classes: (dimension, class, series in the full sweep,
/// spec drawer).
fn structured_classes() -> Vec<(&'static str, String, usize, Draw)> {
    let mut classes: Vec<(&'static str, String, usize, Draw)> = Vec::new();
    let fixed = |spec: Spec| -> Draw { Box::new(move |_| spec.clone()) };
    let n = PER_CLASS_FULL;
    for bin in BINS {
        for duration in DURATIONS {
            if !bin_duration_is_class(bin, duration) {
                continue;
            }
            let mut spec = base();
            spec.bin_secs = bin;
            spec.duration_secs = duration;
            let mut class = format!(
                "{} bins, {}",
                duration_name(i64::from(bin)),
                duration_name(duration)
            );
            let mut count = n;
            if bin == 60 {
                spec.history_days = ONE_MINUTE_HISTORY_DAYS;
                class.push_str(&format!(" ({ONE_MINUTE_HISTORY_DAYS} d history)"));
                count = ONE_MINUTE_PER_CLASS;
            }
            classes.push(("bin-duration", class, count, fixed(spec)));
        }
    }
    for depth in DEPTHS {
        let mut spec = base();
        spec.depth = Some(depth);
        classes.push(("depth", percent(depth), n, fixed(spec)));
    }
    for (hour, name) in [
        (0.0, "00:00"),
        (TROUGH_HOUR, "04:00 (trough)"),
        (7.0, "07:00 (rising)"),
        (10.0, "10:00"),
        (14.0, "14:00 (peak)"),
        (18.0, "18:00 (peak)"),
        (21.0, "21:00 (falling)"),
    ] {
        let mut spec = base();
        spec.onset_hour = Some(hour);
        classes.push(("onset", name.to_string(), n, fixed(spec)));
    }
    for amplitude in AMPLITUDES {
        let mut spec = base();
        spec.daily_amplitude = amplitude;
        let name = if amplitude == 0.6 {
            "±60% (night at a quarter of the peak)".to_string()
        } else {
            format!("±{:.0}%", amplitude * 100.0)
        };
        classes.push(("daily", name, n, fixed(spec)));
    }
    for weekend in WEEKENDS {
        let mut spec = base();
        spec.weekend = weekend;
        let name = if weekend == Weekend::None {
            "none".to_string()
        } else {
            format!("{}, 10–40%", weekend.name())
        };
        classes.push(("weekend", name, n, fixed(spec)));
    }
    for dip in [0.1, 0.4] {
        let mut spec = base();
        spec.weekend_dip = Some(dip);
        classes.push((
            "weekend",
            format!("Sat–Sun, {}", percent(dip)),
            n,
            fixed(spec),
        ));
    }
    for noise in NOISES {
        let mut spec = base();
        spec.noise = noise;
        classes.push(("noise", noise.name(), n, fixed(spec.clone())));
        spec.signals = vec![SignalKind::ProbeUpSlash24s];
        classes.push(("noise-ping", noise.name(), n, fixed(spec)));
    }
    for quantization in [
        Quantization::None,
        Quantization::Steps10Of100,
        Quantization::Integer0To10,
    ] {
        let mut spec = base();
        spec.signals = vec![SignalKind::GoogleTraffic];
        spec.quantization = quantization;
        classes.push((
            "quantization",
            quantization.name().to_string(),
            n,
            fixed(spec),
        ));
    }
    for (name, missing, vanishing) in [
        ("none", Missing::None, vec![]),
        ("1% of bins", Missing::Random(0.01), vec![]),
        ("5% of bins", Missing::Random(0.05), vec![]),
        ("gaps of 0.5–6 h", Missing::Gaps, vec![]),
        (
            "merit-nt vanishes while cut",
            Missing::Random(0.002),
            vec![SignalKind::TelescopeUniqueSources],
        ),
        (
            "merit-nt and gtr vanish while cut",
            Missing::Random(0.002),
            vec![
                SignalKind::TelescopeUniqueSources,
                SignalKind::GoogleTraffic,
            ],
        ),
    ] {
        let mut spec = base();
        spec.missing = missing;
        spec.vanishing = vanishing;
        classes.push(("missing", name.to_string(), n, fixed(spec)));
    }
    for (name, signals, cut) in signal_sets() {
        let mut spec = base();
        spec.signals = signals;
        spec.cut = cut;
        classes.push(("signals", name.to_string(), n, fixed(spec)));
    }
    for cut in [Cut::DataPlane, Cut::RoutesWithdrawn] {
        let mut spec = base();
        spec.cut = cut;
        classes.push(("mechanism", cut.name().to_string(), n, fixed(spec)));
    }
    for days in HISTORIES {
        let mut spec = base();
        spec.history_days = days;
        classes.push(("history", format!("{days} d"), n, fixed(spec)));
    }
    // Outage-free: three weeks, daily cycle of any amplitude, weekly cycle.
    let quiet = || {
        let mut spec = base();
        spec.depth = None;
        spec.history_days = 19;
        spec
    };
    for noise in NOISES {
        let draw: Draw = Box::new(move |rng| {
            let mut spec = quiet();
            spec.noise = noise;
            spec.daily_amplitude = *rng.pick(&AMPLITUDES);
            spec.weekend = *rng.pick(&WEEKENDS[1..]);
            spec
        });
        classes.push(("no-outage", noise.name(), n, draw));
    }
    for weekend in WEEKENDS {
        let draw: Draw = Box::new(move |rng| {
            let mut spec = quiet();
            spec.weekend = weekend;
            spec.daily_amplitude = *rng.pick(&AMPLITUDES);
            spec
        });
        classes.push(("no-outage", format!("weekend {}", weekend.name()), n, draw));
    }
    for amplitude in [0.5, 0.6] {
        let mut spec = quiet();
        spec.daily_amplitude = amplitude;
        classes.push((
            "no-outage",
            format!("daily ±{:.0}%", amplitude * 100.0),
            n,
            fixed(spec),
        ));
    }
    for bin in BINS {
        if bin == 300 {
            continue;
        }
        let mut spec = quiet();
        spec.bin_secs = bin;
        let mut count = n;
        if bin == 60 {
            spec.history_days = ONE_MINUTE_HISTORY_DAYS;
            count = ONE_MINUTE_PER_CLASS;
        }
        let days = spec.history_days + spec.after_days;
        classes.push((
            "no-outage",
            format!("{} bins, {days} d", duration_name(i64::from(bin))),
            count,
            fixed(spec),
        ));
    }
    for (name, signals) in [
        ("ping-slash24 alone", vec![SignalKind::ProbeUpSlash24s]),
        (
            "ping-slash24 alone, poisson 15",
            vec![SignalKind::ProbeUpSlash24s],
        ),
        ("gtr alone, integers 0..10", vec![SignalKind::GoogleTraffic]),
    ] {
        let mut spec = quiet();
        spec.signals = signals;
        if name.contains("poisson 15") {
            spec.noise = Noise::Poisson(15.0);
        }
        if name.contains("integers") {
            spec.quantization = Quantization::Integer0To10;
        }
        classes.push(("no-outage", name.to_string(), n, fixed(spec)));
    }
    classes
}

/// A random combination of every dimension.
fn random_spec(rng: &mut SplitMix64) -> Spec {
    let mut spec = base();
    // One in ten is outage-free.
    let outage = rng.below(10) != 0;
    loop {
        spec.bin_secs = *rng.pick(&BINS);
        spec.duration_secs = *rng.pick(&DURATIONS);
        if bin_duration_is_class(spec.bin_secs, spec.duration_secs) {
            break;
        }
    }
    spec.depth = outage.then(|| *rng.pick(&DEPTHS));
    spec.onset_hour = (rng.below(4) == 0).then_some(TROUGH_HOUR);
    spec.daily_amplitude = *rng.pick(&AMPLITUDES);
    spec.weekend = *rng.pick(&WEEKENDS);
    spec.noise = *rng.pick(&NOISES);
    spec.quantization = *rng.pick(&[
        Quantization::None,
        Quantization::None,
        Quantization::Steps10Of100,
        Quantization::Integer0To10,
    ]);
    spec.missing = *rng.pick(&[
        Missing::None,
        Missing::Random(0.002),
        Missing::Random(0.01),
        Missing::Random(0.05),
        Missing::Gaps,
    ]);
    spec.history_days = *rng.pick(&HISTORIES);
    if spec.bin_secs == 60 {
        spec.history_days = spec.history_days.min(ONE_MINUTE_HISTORY_DAYS);
    }
    if !outage {
        spec.history_days += 7;
    }
    // Keep every random entity under RANDOM_MAX_BINS bins per series.
    let bins_per_day = 86_400 / i64::from(spec.bin_secs);
    let days =
        |spec: &Spec| i64::from(spec.history_days + spec.after_days) + spec.duration_secs / DAY + 1;
    while days(&spec) * bins_per_day > RANDOM_MAX_BINS {
        if let Some(&shorter) = HISTORIES.iter().rev().find(|&&h| h < spec.history_days) {
            spec.history_days = shorter;
        } else if let Some(&shorter) = DURATIONS
            .iter()
            .rev()
            .find(|&&d| d < spec.duration_secs && bin_duration_is_class(spec.bin_secs, d))
        {
            spec.duration_secs = shorter;
        } else {
            break;
        }
    }
    spec.cut = *rng.pick(&[Cut::DataPlane, Cut::RoutesWithdrawn]);
    // One to four signals, at least one of which the cut moves.
    loop {
        let mask = 1 + rng.below(15);
        spec.signals = SIGNALS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, s)| *s)
            .collect();
        if spec.signals.iter().any(|s| spec.cut.affects(*s)) {
            break;
        }
    }
    spec.vanishing = spec
        .signals
        .iter()
        .copied()
        .filter(|s| {
            matches!(
                s,
                SignalKind::TelescopeUniqueSources | SignalKind::GoogleTraffic
            )
        })
        .filter(|_| rng.below(5) == 0)
        .collect();
    // At least one signal the cut moves still shows it: a cut seen only as
    // missing data is, series by series, a gap like those of the `missing`
    // classes, which must not be taken for outages.
    let moved: Vec<SignalKind> = spec
        .signals
        .iter()
        .copied()
        .filter(|s| spec.cut.affects(*s))
        .collect();
    if moved.iter().all(|s| spec.vanishing.contains(s)) {
        spec.vanishing.retain(|s| *s != moved[0]);
    }
    spec
}

/// Random combinations in the full sweep (the quick one takes the first 24).
const RANDOM_FULL: usize = 400;
/// The most bins a random entity's series may have (its history, then its
/// duration, are shortened to fit): 60 days of 5-minute bins.
const RANDOM_MAX_BINS: i64 = 60 * 288;
const RANDOM_QUICK: usize = 24;
/// Series per structured class in the full sweep and the quick one.
const PER_CLASS_FULL: usize = 20;
const PER_CLASS_QUICK: usize = 2;

/// The scenarios of a sweep: every dimension, or only `only` (a slug of
/// [`DIMENSIONS`]); `quick` keeps the first few of each class (the same
/// series as in the full sweep). Errors name the known dimensions.
pub fn plan(seed: u64, quick: bool, only: Option<&str>) -> Result<Vec<Scenario>, String> {
    if let Some(only) = only {
        if !DIMENSIONS.iter().any(|(slug, _)| *slug == only) {
            return Err(format!(
                "unknown dimension {only:?}; known: {}",
                DIMENSIONS
                    .iter()
                    .map(|(slug, _)| *slug)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let wanted = |dimension: &str| only.is_none_or(|o| o == dimension);
    let per_class = if quick {
        PER_CLASS_QUICK
    } else {
        PER_CLASS_FULL
    };
    let mut scenarios = Vec::new();
    for (dimension, class, count, draw) in structured_classes() {
        if !wanted(dimension) {
            continue;
        }
        for index in 0..per_class.min(count) {
            let mut rng = SplitMix64::new(hash_seed(seed, &[dimension, &class], index));
            let spec = draw(&mut rng);
            let params = resolve(&spec, &mut rng);
            scenarios.push(Scenario {
                dimension,
                class: class.clone(),
                index,
                seed: rng.next_u64(),
                params,
            });
        }
    }
    if wanted("random") {
        let count = if quick { RANDOM_QUICK } else { RANDOM_FULL };
        for index in 0..count {
            let mut rng = SplitMix64::new(hash_seed(seed, &["random"], index));
            let spec = random_spec(&mut rng);
            let class = spec.depth.map_or_else(|| "no outage".to_string(), percent);
            let params = resolve(&spec, &mut rng);
            scenarios.push(Scenario {
                dimension: "random",
                class,
                index,
                seed: rng.next_u64(),
                params,
            });
        }
    }
    Ok(scenarios)
}

/// Draws a class's remaining settings: start, time zone, levels, onset.
fn resolve(spec: &Spec, rng: &mut SplitMix64) -> Params {
    let start = EPOCH + rng.below(364) as i64 * DAY;
    let utc_offset_hours = rng.below(15) as i64 - 5;
    let weekend_dip = spec.weekend_dip.unwrap_or_else(|| rng.range(0.1, 0.4));
    let weekend_dip = if spec.weekend == Weekend::None {
        0.0
    } else {
        weekend_dip
    };
    // Levels: /24s up to probing average `probing`; BGP sees 2.5 to 7 times
    // as many /24s; the telescope a few to thousands of sources.
    let probing = match spec.noise {
        Noise::Poisson(mean) => mean,
        Noise::Gaussian(_) => rng.log_range(100.0, 5000.0),
    };
    let bgp = (probing / rng.range(0.15, 0.4)).round();
    let telescope = (probing * rng.range(0.02, 0.3)).clamp(3.0, 3000.0);
    let gtr_peak = match spec.quantization {
        Quantization::None => rng.range(20.0, 100.0),
        Quantization::Steps10Of100 => rng.range(60.0, 100.0),
        Quantization::Integer0To10 => rng.range(7.0, 10.0),
    };
    let gtr = gtr_peak / (1.0 + spec.daily_amplitude);
    let signals = spec
        .signals
        .iter()
        .map(|&s| {
            let level = match s {
                SignalKind::BgpVisibleSlash24s => bgp,
                SignalKind::ProbeUpSlash24s => probing,
                SignalKind::TelescopeUniqueSources => telescope,
                _ => gtr,
            };
            (s, level)
        })
        .collect();
    let bin = i64::from(spec.bin_secs);
    let history_end = start + i64::from(spec.history_days) * DAY;
    let (outage, days_with_outage) = match spec.depth {
        None => (None, 0),
        Some(depth) => {
            let hour = spec.onset_hour.unwrap_or_else(|| rng.range(0.0, 24.0));
            // A random minute within the hour, to the second, unless the
            // hour is given (then within its first quarter).
            let within = if spec.onset_hour.is_some() {
                rng.below(15 * 60) as i64
            } else {
                0
            };
            let local = (hour * 3600.0) as i64 + within;
            let offset = (local - utc_offset_hours * HOUR).rem_euclid(DAY);
            let onset = history_end + offset;
            let end = onset + spec.duration_secs;
            let max_ramp = (2 * bin).min(30 * MINUTE).min(spec.duration_secs / 2);
            let ramp_in_secs = rng.below(max_ramp as u64 + 1) as i64;
            let ramp_out_secs = rng.below(max_ramp as u64 + 1) as i64;
            let days = (offset + spec.duration_secs + ramp_out_secs + DAY - 1) / DAY;
            (
                Some(Outage {
                    depth,
                    onset,
                    end,
                    ramp_in_secs,
                    ramp_out_secs,
                    onset_local_hour: ((local as f64) / 3600.0) % 24.0,
                    cut: spec.cut,
                    vanishing: spec
                        .vanishing
                        .iter()
                        .copied()
                        .filter(|s| spec.signals.contains(s))
                        .collect(),
                }),
                days,
            )
        }
    };
    let until = history_end + (days_with_outage + i64::from(spec.after_days)) * DAY;
    Params {
        bin_secs: spec.bin_secs,
        start,
        until,
        history_days: spec.history_days,
        outage,
        utc_offset_hours,
        daily_amplitude: spec.daily_amplitude,
        weekend: spec.weekend,
        weekend_dip,
        noise: spec.noise,
        quantization: spec.quantization,
        missing: spec.missing,
        signals,
    }
}

/// A generated entity: its series, its label and the period scored.
#[derive(Clone, PartialEq, Debug)]
pub struct Synthetic {
    /// Whose series (every scenario uses the same entity).
    pub entity: Entity,
    /// One series per signal.
    pub series: Vec<Series>,
    /// The injected outage, if any, rounded to bin boundaries.
    pub labels: Vec<Label>,
    /// Start of the data.
    pub from: UnixSecs,
    /// End of the data.
    pub until: UnixSecs,
    /// Bin width, seconds.
    pub bin_secs: u32,
}

impl Synthetic {
    /// The labels as detections: what a perfect detector would report.
    pub fn label_spans(&self) -> Vec<DetectedSpan> {
        self.labels
            .iter()
            .map(|l| DetectedSpan {
                entity: l.entity.clone(),
                start: l.start,
                end: l.end,
            })
            .collect()
    }
}

/// The daily shape at a local hour, in [-1, 1]: trough at 04:00, a broad
/// afternoon-to-evening plateau peaking near 14:00 and 18:00.
pub fn daily_shape(local_hour: f64) -> f64 {
    // -cos x - 0.3 cos 2x spans [-1.3, 0.71667] (maximum where cos x = -5/6).
    const MIN: f64 = -1.3;
    const MAX: f64 = 5.0 / 6.0 - 0.3 * (2.0 * 25.0 / 36.0 - 1.0);
    let x = std::f64::consts::TAU * (local_hour - TROUGH_HOUR) / 24.0;
    let raw = -x.cos() - 0.3 * (2.0 * x).cos();
    2.0 * (raw - MIN) / (MAX - MIN) - 1.0
}

/// The share of the cut reached at `t` (0 before, ramps, 1 during).
fn cut_profile(outage: &Outage, t: f64) -> f64 {
    let (on, off) = (outage.onset as f64, outage.end as f64);
    let (ri, ro) = (outage.ramp_in_secs as f64, outage.ramp_out_secs as f64);
    let (a0, a1, b0, b1) = (on - ri / 2.0, on + ri / 2.0, off - ro / 2.0, off + ro / 2.0);
    if t < a0 || t >= b1 {
        0.0
    } else if t < a1 {
        (t - a0) / ri
    } else if t < b0 {
        1.0
    } else {
        (b1 - t) / ro
    }
}

/// Generates a scenario's series and label. Deterministic: the same
/// scenario always gives the same values.
pub fn generate(scenario: &Scenario) -> Synthetic {
    let p = &scenario.params;
    let entity = Entity::Country(CountryCode::new("ZZ").expect("two letters"));
    let bin = p.bin();
    let bins = p.bins();
    let bin_secs = i64::from(p.bin_secs);
    let tz = p.utc_offset_hours * HOUR;
    // Weekend share at local time t, smoothed over four hours around midnight.
    let weekend = |t: f64| -> f64 {
        if p.weekend == Weekend::None {
            return 0.0;
        }
        let mut hits = 0;
        for k in -4..=4 {
            let local = t as i64 + tz + k * 1800;
            let day = (local.div_euclid(DAY) + 3).rem_euclid(7);
            if p.weekend.holds(day) {
                hits += 1;
            }
        }
        f64::from(hits) / 9.0
    };
    let mut series = Vec::with_capacity(p.signals.len());
    for (k, &(signal, level)) in p.signals.iter().enumerate() {
        let mut rng =
            SplitMix64::new(scenario.seed ^ (0x5151_0000 + k as u64).wrapping_mul(0x9e37));
        let (amplitude, dip, wander_sigma) = match signal {
            SignalKind::BgpVisibleSlash24s => (0.0, 0.0, 0.0005),
            SignalKind::ProbeUpSlash24s => (p.daily_amplitude, p.weekend_dip / 2.0, 0.01),
            SignalKind::TelescopeUniqueSources => {
                (p.daily_amplitude / 2.0, p.weekend_dip / 2.0, 0.05)
            }
            _ => (p.daily_amplitude, p.weekend_dip, 0.015),
        };
        let (depth, vanishes) = match &p.outage {
            Some(o) if o.cut.affects(signal) => (o.depth, o.vanishing.contains(&signal)),
            _ => (0.0, false),
        };
        // Slow wander: a multiplicative AR(1) with a 6-hour memory.
        let phi = (-(bin_secs as f64) / (6.0 * 3600.0)).exp();
        let innovation = (1.0 - phi * phi).sqrt() * wander_sigma;
        let mut wander = wander_sigma * rng.normal();
        let mut values = Vec::with_capacity(bins);
        for i in 0..bins {
            let t0 = p.start + i as i64 * bin_secs;
            let near_cut = p.outage.as_ref().is_some_and(|o| {
                let reach = o.ramp_in_secs.max(o.ramp_out_secs) + bin_secs;
                (t0 - o.onset).abs() <= reach || (t0 - o.end).abs() <= reach
            });
            let samples = if near_cut {
                32
            } else {
                (bin_secs / 1800).max(1)
            };
            let mut expected = 0.0;
            let mut cut_share = 0.0;
            for j in 0..samples {
                let t = t0 as f64 + (j as f64 + 0.5) * bin_secs as f64 / samples as f64;
                let local_hour = ((t as i64 + tz).rem_euclid(DAY)) as f64 / 3600.0;
                let day_shape = daily_shape(local_hour);
                // A weekend is quieter mostly by day: with a marked daily
                // cycle, its night keeps 70% of the weekday's level more.
                let by_day = 1.0 - (2.0 * amplitude).min(1.0) * 0.7 * (1.0 - day_shape) / 2.0;
                let shape = (1.0 + amplitude * day_shape) * (1.0 - dip * by_day * weekend(t));
                let c = p.outage.as_ref().map_or(0.0, |o| cut_profile(o, t));
                cut_share += c;
                expected += shape * (1.0 - depth * c);
            }
            expected /= samples as f64;
            cut_share /= samples as f64;
            wander = phi * wander + innovation * rng.normal();
            let mean = level * expected * wander.exp();
            let value = match signal {
                SignalKind::BgpVisibleSlash24s => (mean * (1.0 + 0.002 * rng.normal())).round(),
                SignalKind::ProbeUpSlash24s => match p.noise {
                    Noise::Poisson(_) => rng.poisson(mean),
                    Noise::Gaussian(sigma) => (mean * (1.0 + sigma * rng.normal())).round(),
                },
                SignalKind::TelescopeUniqueSources => rng.poisson(mean),
                _ => {
                    let sigma = match p.noise {
                        Noise::Gaussian(sigma) => sigma,
                        Noise::Poisson(m) => (1.0 / m.sqrt()).clamp(0.01, 0.15),
                    };
                    let v = mean * (1.0 + sigma * rng.normal());
                    match p.quantization {
                        Quantization::None => (v * 100.0).round() / 100.0,
                        Quantization::Steps10Of100 => ((v / 10.0).round() * 10.0).clamp(0.0, 100.0),
                        Quantization::Integer0To10 => v.round().clamp(0.0, 10.0),
                    }
                }
            };
            let missing = match p.missing {
                Missing::Random(share) => rng.uniform() < share,
                _ => false,
            };
            values.push(if missing || (vanishes && cut_share > 0.5) {
                None
            } else {
                Some(value.max(0.0))
            });
        }
        if p.missing == Missing::Gaps {
            let count = rng.poisson(p.days() / 4.0) as usize;
            for _ in 0..count {
                let length = rng.range(1800.0, 6.0 * 3600.0) as i64;
                let at = rng.below(bins as u64) as usize;
                // A bin is lost when the gap covers at least half of it.
                let n = ((length as f64 / bin_secs as f64).round()) as usize;
                for v in values.iter_mut().skip(at).take(n) {
                    *v = None;
                }
            }
        }
        series.push(Series {
            key: SeriesKey {
                entity: entity.clone(),
                signal,
            },
            bin,
            start: p.start,
            values,
        });
    }
    let round =
        |t: UnixSecs| p.start + ((t - p.start) as f64 / bin_secs as f64).round() as i64 * bin_secs;
    let labels = p
        .outage
        .iter()
        .map(|o| {
            let mut label = Label::new(entity.clone(), round(o.onset), round(o.end));
            label.id = Some(scenario.id());
            label
        })
        .collect();
    Synthetic {
        entity,
        series,
        labels,
        from: p.start,
        until: p.until,
        bin_secs: p.bin_secs,
    }
}

/// One method's result on one scenario.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Outcome {
    /// Labelled outages (0 or 1).
    pub labels: usize,
    /// Detected outages.
    pub detected: usize,
    /// Detections matched one to one with a label.
    pub matched: usize,
    /// |detected − labelled onset| of the matched pair, seconds.
    pub onset_error_secs: Option<f64>,
    /// |detected − labelled end| of the matched pair, seconds.
    pub end_error_secs: Option<f64>,
    /// The detections, `[start, end)`.
    pub spans: Vec<(UnixSecs, UnixSecs)>,
}

/// Scores detections against a scenario's label with [`score_spans`].
pub fn score(synthetic: &Synthetic, detected: &[DetectedSpan]) -> Outcome {
    let row = score_spans(
        "sweep",
        "method",
        detected,
        &synthetic.labels,
        synthetic.from,
        synthetic.until,
        synthetic.bin_secs,
    );
    // With at most one label, the median error is the matched pair's error.
    Outcome {
        labels: row.labels,
        detected: row.detected,
        matched: row.true_detections,
        onset_error_secs: row.median_onset_error_min.map(|m| m * 60.0),
        end_error_secs: row.median_end_error_min.map(|m| m * 60.0),
        spans: detected.iter().map(|d| (d.start, d.end)).collect(),
    }
}

/// Every method's outcome on one scenario (same order as the methods).
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct ScenarioResult {
    /// Index of the scenario in the plan.
    pub scenario: usize,
    /// One outcome per method.
    pub outcomes: Vec<Outcome>,
}

/// Generates and scores one scenario with every method.
pub fn run_one(index: usize, scenario: &Scenario, methods: &[Method]) -> ScenarioResult {
    let synthetic = generate(scenario);
    let outcomes = methods
        .iter()
        .map(|m| {
            // The entity's zone is known, as a country's is.
            let offset = scenario.params.utc_offset_hours * 3600;
            score(
                &synthetic,
                &m.detect_local(&synthetic.entity, &synthetic.series, offset),
            )
        })
        .collect();
    ScenarioResult {
        scenario: index,
        outcomes,
    }
}

/// Runs every scenario with every method on `threads` threads (the longest
/// series first); `progress` is called after each scenario. Results come
/// back in plan order and do not depend on the number of threads.
pub fn run(
    scenarios: &[Scenario],
    methods: &[Method],
    threads: usize,
    progress: &(dyn Fn(&Scenario) + Sync),
) -> Vec<ScenarioResult> {
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    let cost = |s: &Scenario| s.params.bins() * s.params.signals.len();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&scenarios[i])));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(scenarios.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else {
                    break;
                };
                let result = run_one(i, &scenarios[i], methods);
                progress(&scenarios[i]);
                results
                    .lock()
                    .expect("no panic holds the lock")
                    .push(result);
            });
        }
    });
    let mut results = results.into_inner().expect("no panic holds the lock");
    results.sort_by_key(|r| r.scenario);
    results
}

/// One row of the sweep's table: a method on a class.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct ClassRow {
    /// Dimension slug.
    pub dimension: String,
    /// Class within it.
    pub class: String,
    /// Method name.
    pub method: String,
    /// Entities generated.
    pub series: usize,
    /// Days of data over all of them.
    pub series_days: f64,
    /// The smallest injected depth (`None` when outage-free).
    pub min_depth: Option<f64>,
    /// Labelled outages.
    pub labels: usize,
    /// Detections.
    pub detected: usize,
    /// Detections matched one to one.
    pub matched: usize,
    /// matched / detected (1 when nothing detected).
    pub precision: f64,
    /// matched / labels (`None` when outage-free).
    pub recall: Option<f64>,
    /// Median onset error of matched outages, bins.
    pub median_onset_error_bins: Option<f64>,
    /// The same, minutes.
    pub median_onset_error_min: Option<f64>,
    /// Median end error of matched outages, bins.
    pub median_end_error_bins: Option<f64>,
    /// The same, minutes.
    pub median_end_error_min: Option<f64>,
    /// Share of labelled outages found and ended within one bin.
    pub held_to_end: Option<f64>,
    /// Detections not matched with a label.
    pub false_detections: usize,
    /// false_detections per 100 days of data.
    pub false_per_100_days: f64,
    /// Why the class misses the targets (empty when it meets them or is
    /// not checked).
    pub failures: Vec<String>,
    /// Whether the targets apply (depth ≥ 50% or outage-free).
    pub checked: bool,
}

/// The full result of a sweep.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct SweepReport {
    /// The sweep seed.
    pub seed: u64,
    /// Whether it was the quick subset.
    pub quick: bool,
    /// Entities generated.
    pub series: usize,
    /// Days of data over all entities.
    pub series_days: f64,
    /// Method names, vigie first.
    pub methods: Vec<String>,
    /// One row per dimension, class and method, in plan order.
    pub rows: Vec<ClassRow>,
    /// Misses, false alarms and late ends of vigie, one line each (filled
    /// when asked for).
    pub details: Vec<String>,
    /// Wall-clock seconds, when the caller timed it.
    pub elapsed_secs: Option<f64>,
}

/// The targets of issue 11 for one row; returns why it misses them.
fn check_targets(row: &ClassRow) -> Vec<String> {
    let mut failures = Vec::new();
    match row.min_depth {
        None => {
            if row.false_per_100_days > 1.0 {
                failures.push(format!(
                    "{:.2} false incidents per 100 series-days > 1",
                    row.false_per_100_days
                ));
            }
        }
        Some(depth) if depth >= 0.5 => {
            if row.precision < 0.95 {
                failures.push(format!("precision {:.2} < 0.95", row.precision));
            }
            if let Some(recall) = row.recall.filter(|r| *r < 0.95) {
                failures.push(format!("recall {recall:.2} < 0.95"));
            }
            match row.median_onset_error_bins {
                Some(e) if e > 1.0 => failures.push(format!("median onset error {e:.1} bins > 1")),
                None => failures.push("no outage found".into()),
                _ => {}
            }
            if let Some(e) = row.median_end_error_bins.filter(|e| *e > 1.0) {
                failures.push(format!("median end error {e:.1} bins > 1"));
            }
            if let Some(held) = row.held_to_end.filter(|h| *h < 0.95) {
                failures.push(format!("{:.0}% held to their end < 95%", held * 100.0));
            }
        }
        Some(_) => {}
    }
    failures
}

/// Summarises results per dimension, class and method, and checks vigie's
/// rows against the targets; with `details`, lists vigie's misses, false
/// alarms and late ends.
pub fn summarise(
    seed: u64,
    quick: bool,
    scenarios: &[Scenario],
    methods: &[Method],
    results: &[ScenarioResult],
    details: bool,
) -> SweepReport {
    // Classes in plan order.
    let mut classes: Vec<(&str, &str)> = Vec::new();
    let mut members: BTreeMap<(&str, &str), Vec<&ScenarioResult>> = BTreeMap::new();
    for result in results {
        let s = &scenarios[result.scenario];
        let key = (s.dimension, s.class.as_str());
        if !members.contains_key(&key) {
            classes.push(key);
        }
        members.entry(key).or_default().push(result);
    }
    // Random combinations by increasing depth, outage-free last.
    let depth_order = |class: &str| {
        DEPTHS
            .iter()
            .position(|&d| percent(d) == class)
            .unwrap_or(DEPTHS.len())
    };
    classes.sort_by_key(|&(dimension, class)| {
        let rank = if dimension == "random" {
            depth_order(class)
        } else {
            0
        };
        (dimension == "random", rank)
    });
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for key in &classes {
        let list = &members[key];
        for (m, method) in methods.iter().enumerate() {
            let mut labels = 0;
            let mut detected = 0;
            let mut matched = 0;
            let mut held = 0;
            let mut days = 0.0;
            let mut onset_bins = Vec::new();
            let mut onset_min = Vec::new();
            let mut end_bins = Vec::new();
            let mut end_min = Vec::new();
            let mut min_depth: Option<f64> = None;
            for result in list {
                let s = &scenarios[result.scenario];
                let o = &result.outcomes[m];
                let bin = f64::from(s.params.bin_secs);
                days += s.params.days();
                if let Some(outage) = &s.params.outage {
                    min_depth = Some(min_depth.map_or(outage.depth, |d| d.min(outage.depth)));
                }
                labels += o.labels;
                detected += o.detected;
                matched += o.matched;
                if let (Some(on), Some(end)) = (o.onset_error_secs, o.end_error_secs) {
                    onset_bins.push(on / bin);
                    onset_min.push(on / 60.0);
                    end_bins.push(end / bin);
                    end_min.push(end / 60.0);
                    if end <= bin {
                        held += 1;
                    }
                }
                if details && matches!(method, Method::Vigie(_)) {
                    detail_lines(s, o, &mut lines);
                }
            }
            let false_detections = detected - matched;
            let mut row = ClassRow {
                dimension: key.0.to_string(),
                class: key.1.to_string(),
                method: method.name(),
                series: list.len(),
                series_days: days,
                min_depth,
                labels,
                detected,
                matched,
                precision: if detected == 0 {
                    1.0
                } else {
                    matched as f64 / detected as f64
                },
                recall: (labels > 0).then(|| matched as f64 / labels as f64),
                median_onset_error_bins: middle(&mut onset_bins),
                median_onset_error_min: middle(&mut onset_min),
                median_end_error_bins: middle(&mut end_bins),
                median_end_error_min: middle(&mut end_min),
                held_to_end: (labels > 0).then(|| held as f64 / labels as f64),
                false_detections,
                false_per_100_days: if days > 0.0 {
                    false_detections as f64 * 100.0 / days
                } else {
                    0.0
                },
                failures: Vec::new(),
                checked: min_depth.is_none_or(|d| d >= 0.5),
            };
            row.failures = check_targets(&row);
            rows.push(row);
        }
    }
    let series_days = results
        .iter()
        .map(|r| scenarios[r.scenario].params.days())
        .sum();
    SweepReport {
        seed,
        quick,
        series: results.len(),
        series_days,
        methods: methods.iter().map(Method::name).collect(),
        rows,
        details: lines,
        elapsed_secs: None,
    }
}

/// vigie's misses, false alarms and late ends on one scenario.
fn detail_lines(s: &Scenario, o: &Outcome, lines: &mut Vec<String>) {
    let bin = i64::from(s.params.bin_secs);
    let span = |(a, b): (UnixSecs, UnixSecs)| {
        format!(
            "{} → {} ({} bins)",
            format_utc(a),
            format_utc(b),
            (b - a) / bin
        )
    };
    let label = s.params.outage.as_ref().map(|outage| {
        let round = |t: UnixSecs| {
            s.params.start + ((t - s.params.start) as f64 / bin as f64).round() as i64 * bin
        };
        (round(outage.onset), round(outage.end))
    });
    // The matched detection is the one overlapping the label most.
    let matched = label.and_then(|(ls, le)| {
        o.spans
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| (i, (b.min(le) - a.max(ls)).max(0)))
            .filter(|&(_, overlap)| overlap > 0)
            .max_by_key(|&(_, overlap)| overlap)
            .map(|(i, _)| i)
    });
    let mut problems = Vec::new();
    if let Some(l) = label {
        match matched {
            None => problems.push(format!("MISSED {}", span(l))),
            Some(i) => {
                let (a, b) = o.spans[i];
                if (a - l.0).abs() > bin || (b - l.1).abs() > bin {
                    problems.push(format!(
                        "OFF label {} found {} (onset {:+} bins, end {:+} bins)",
                        span(l),
                        span((a, b)),
                        (a - l.0) / bin,
                        (b - l.1) / bin
                    ));
                }
            }
        }
    }
    for (i, &d) in o.spans.iter().enumerate() {
        if Some(i) != matched {
            problems.push(format!("FALSE {}", span(d)));
        }
    }
    if !problems.is_empty() {
        lines.push(format!(
            "{} (seed {:#x}): {} | {}",
            s.id(),
            s.seed,
            problems.join("; "),
            s.params.describe()
        ));
    }
}

fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

fn short_method(name: &str) -> String {
    name.replace("ioda-median (critical)", "ioda crit.")
        .replace("ioda-median (warning)", "ioda warn.")
}

impl SweepReport {
    /// The report as Markdown: one table per dimension, the targets, the
    /// failing classes, and the details when listed.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let push = |out: &mut String, line: &str| {
            out.push_str(line);
            out.push('\n');
        };
        push(
            &mut out,
            &format!(
                "Robustness sweep: {} synthetic entities, {:.0} series-days, seed {}{}{}.",
                self.series,
                self.series_days,
                self.seed,
                if self.quick { ", quick subset" } else { "" },
                self.elapsed_secs
                    .map_or(String::new(), |s| format!(", {s:.0} s"))
            ),
        );
        push(&mut out, "");
        push(&mut out, &format!("Base case: {BASE_CASE}."));
        push(&mut out, "");
        push(
            &mut out,
            "Errors are medians over found outages, in bins (minutes); *held* is the share of outages found and ended within one bin; *false / 100 d* counts detections matching no outage per 100 days of data.",
        );
        for (slug, title) in DIMENSIONS {
            let rows: Vec<&ClassRow> = self.rows.iter().filter(|r| r.dimension == slug).collect();
            if rows.is_empty() {
                continue;
            }
            push(&mut out, "");
            push(&mut out, &format!("#### `{slug}`: {title}"));
            push(&mut out, "");
            push(
                &mut out,
                "| class | n | method | precision | recall | onset err, bins (min) | end err, bins (min) | held | false / 100 d |",
            );
            push(&mut out, "|---|---:|---|---:|---:|---:|---:|---:|---:|");
            for row in rows {
                let outage_free = row.min_depth.is_none();
                let err = |bins: Option<f64>, min: Option<f64>| match (bins, min) {
                    (Some(b), Some(m)) => format!("{b:.1} ({m:.0})"),
                    _ => "–".to_string(),
                };
                let mark = if row.method == "vigie" && !row.failures.is_empty() {
                    " ✗"
                } else {
                    ""
                };
                push(
                    &mut out,
                    &format!(
                        "| {}{} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
                        row.class,
                        mark,
                        row.series,
                        short_method(&row.method),
                        if outage_free {
                            "–".to_string()
                        } else {
                            format!("{:.2}", row.precision)
                        },
                        cell(row.recall, 2),
                        err(row.median_onset_error_bins, row.median_onset_error_min),
                        err(row.median_end_error_bins, row.median_end_error_min),
                        row.held_to_end
                            .map_or("–".to_string(), |h| format!("{:.0}%", h * 100.0)),
                        row.false_per_100_days,
                    ),
                );
            }
        }
        push(&mut out, "");
        push(&mut out, "#### Targets");
        push(&mut out, "");
        push(
            &mut out,
            "Every class with depth ≥ 50% has precision and recall ≥ 0.95, median onset error ≤ 1 bin, median end error ≤ 1 bin, and (outages up to 90 days held to their end) at least 95% of its outages ended within one bin; outage-free classes (with weekly cycles) give at most 1 false incident per 100 series-days.",
        );
        push(&mut out, "");
        for method in &self.methods {
            let checked: Vec<&ClassRow> = self
                .rows
                .iter()
                .filter(|r| &r.method == method && r.checked)
                .collect();
            let failing = checked.iter().filter(|r| !r.failures.is_empty()).count();
            push(
                &mut out,
                &format!(
                    "- {}: {} of {} checked classes meet them{}",
                    method,
                    checked.len() - failing,
                    checked.len(),
                    if failing == 0 { "." } else { "; failing:" }
                ),
            );
            if method == "vigie" {
                for row in checked.iter().filter(|r| !r.failures.is_empty()) {
                    push(
                        &mut out,
                        &format!(
                            "  - `{}` {}: {}",
                            row.dimension,
                            row.class,
                            row.failures.join(", ")
                        ),
                    );
                }
            }
        }
        if !self.details.is_empty() {
            push(&mut out, "");
            push(&mut out, "#### vigie's misses, false alarms and late ends");
            push(&mut out, "");
            for line in &self.details {
                push(&mut out, &format!("- {line}"));
            }
        }
        out
    }

    /// vigie's rows that miss the targets.
    pub fn failing(&self) -> Vec<&ClassRow> {
        self.rows
            .iter()
            .filter(|r| r.method == "vigie" && !r.failures.is_empty())
            .collect()
    }
}
