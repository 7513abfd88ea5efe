//! The report's figure: one panel per signal, stacked on a shared UTC time
//! axis with a tick at each day. Levels (visible blocks, blocks up,
//! traffic, telescope sources) are divided by their median over the period,
//! so 1 is the usual level; BGP updates are counts. Incidents are red
//! bands, restoration windows green bands, annotations black lines; drawn
//! to SVG by `plotters`.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use vigie_model::{format_utc, Series, SignalKind, UnixSecs};

use super::text::Lang;

/// Width of the figure in pixels.
pub const WIDTH: u32 = 960;
/// Height of one signal's panel in pixels.
pub const PANEL_HEIGHT: u32 = 120;

/// Space above the panels for the caption.
const CAPTION_HEIGHT: u32 = 34;
/// Space below the panels for the time axis.
const AXIS_HEIGHT: u32 = 34;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// A shaded span of time.
pub struct Band {
    /// Start, Unix seconds.
    pub start: UnixSecs,
    /// End, Unix seconds.
    pub end: UnixSecs,
    /// Restoration (green) rather than outage (red).
    pub restoration: bool,
}

/// The median of the values with data, if any is positive.
pub fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.get(v.len() / 2).copied()?;
    (m > 0.0).then_some(m)
}

/// Signals left out of the figure because another one tells the same
/// story (they stay in the CSV appendix): packets and flows beside bytes,
/// traffic towards the country beside traffic from it, client blocks
/// beside requests.
fn redundant(signal: SignalKind) -> bool {
    matches!(
        signal,
        SignalKind::FlowBytesTo
            | SignalKind::FlowPacketsFrom
            | SignalKind::FlowPacketsTo
            | SignalKind::FlowsFrom
            | SignalKind::FlowsTo
            | SignalKind::HttpUniqueClientSlash24s
            | SignalKind::GoogleTrafficNormalised
    )
}

/// One panel of the figure.
enum Panel<'a> {
    /// A level divided by its median (1 = usual).
    Level(&'a Series, f64),
    /// BGP announcements and withdrawals, as counts.
    Updates(Vec<&'a Series>),
}

/// The panels for `series`, in the order given; updates share one panel.
fn panels(series: &[Series]) -> Vec<Panel<'_>> {
    let mut out = Vec::new();
    let mut updates = Vec::new();
    for s in series {
        match s.key.signal {
            SignalKind::BgpAnnouncements | SignalKind::BgpWithdrawals => {
                if s.values.iter().flatten().any(|v| *v > 0.0) {
                    updates.push(s);
                }
            }
            signal if redundant(signal) => {}
            _ => {
                if let Some(norm) = median(&s.values) {
                    out.push(Panel::Level(s, norm));
                }
            }
        }
    }
    if !updates.is_empty() {
        out.push(Panel::Updates(updates));
    }
    out
}

/// Height of the figure for `series`, in pixels.
pub fn height(series: &[Series]) -> u32 {
    CAPTION_HEIGHT + AXIS_HEIGHT + PANEL_HEIGHT * panels(series).len().max(1) as u32
}

/// A time axis whose labels fall on UTC midnights (every `step_days`).
#[derive(Clone)]
struct DayAxis {
    range: RangedCoordf64,
    from: f64,
    until: f64,
    step_days: i64,
}

impl DayAxis {
    fn new(from: UnixSecs, until: UnixSecs) -> DayAxis {
        let days = ((until - from) / 86_400).max(1);
        let step_days = match days {
            0..=14 => 1,
            15..=31 => 2,
            32..=92 => 7,
            93..=400 => 30,
            _ => 365,
        };
        DayAxis {
            range: (from as f64..until as f64).into(),
            from: from as f64,
            until: until as f64,
            step_days,
        }
    }
}

impl Ranged for DayAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.range.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        let first = (self.from as i64).div_euclid(86_400) * 86_400;
        let mut t = if (first as f64) < self.from {
            first + 86_400
        } else {
            first
        };
        let mut out = Vec::new();
        while (t as f64) <= self.until {
            if (t / 86_400) % self.step_days == 0 {
                out.push(t as f64);
            }
            t += 86_400;
            if out.len() > 60 {
                break;
            }
        }
        out
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.from..self.until
    }
}

impl ValueFormatter<f64> for DayAxis {
    fn format(value: &f64) -> String {
        let text = format_utc(*value as i64);
        text.get(..10).map(str::to_string).unwrap_or(text)
    }
}

/// The line segments of a series, broken at bins with no data (no data is
/// not zero), each value passed through `scale`.
fn segments(s: &Series, scale: impl Fn(f64) -> f64) -> Vec<Vec<(f64, f64)>> {
    let step = i64::from(s.bin.secs());
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for (j, v) in s.values.iter().enumerate() {
        let t = (s.start + j as i64 * step) as f64;
        match v {
            Some(v) if v.is_finite() => segment.push((t, scale(*v))),
            _ => {
                if !segment.is_empty() {
                    out.push(std::mem::take(&mut segment));
                }
            }
        }
    }
    if !segment.is_empty() {
        out.push(segment);
    }
    out
}

/// Draws the figure; `Err` carries plotters' message.
pub fn svg(
    series: &[Series],
    bands: &[Band],
    marks: &[(UnixSecs, String)],
    from: UnixSecs,
    until: UnixSecs,
    lang: Lang,
) -> Result<String, String> {
    let panels = panels(series);
    let mut out = String::new();
    {
        let size = (WIDTH, height(series));
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(
                lang.pick(
                    "Each signal divided by its median over the period (1 = usual level); times UTC",
                    "Chaque signal divisé par sa médiane sur la période (1 = niveau habituel) ; heures UTC",
                ),
                ("sans-serif", 16),
            )
            .map_err(|e| e.to_string())?;
        let count = panels.len().max(1);
        let areas = root.split_evenly((count, 1));
        for (index, (panel, area)) in panels.iter().zip(areas.iter()).enumerate() {
            let last = index + 1 == count;
            let (title, y_max) = match panel {
                Panel::Level(s, norm) => (
                    format!(
                        "{} ({}; 1 = {} {})",
                        s.key.signal.name(),
                        lang.pick("level", "niveau"),
                        format_number(*norm),
                        s.key.signal.unit()
                    ),
                    1.5,
                ),
                Panel::Updates(list) => {
                    let peak = list
                        .iter()
                        .flat_map(|s| s.values.iter().flatten())
                        .fold(0.0f64, |a, b| a.max(*b));
                    (
                        lang.pick(
                            "BGP updates per bin (announcements, withdrawals)",
                            "Mises à jour BGP par intervalle (annonces, retraits)",
                        )
                        .to_string(),
                        (peak * 1.1).max(1.0),
                    )
                }
            };
            let mut chart = ChartBuilder::on(area)
                .margin_left(8)
                .margin_right(16)
                .margin_top(4)
                .caption(title, ("sans-serif", 13))
                .x_label_area_size(if last { 24 } else { 0 })
                .y_label_area_size(52)
                .build_cartesian_2d(DayAxis::new(from, until), 0.0..y_max)
                .map_err(|e| e.to_string())?;
            let mut mesh = chart.configure_mesh();
            mesh.y_labels(4).light_line_style(WHITE);
            if !last {
                mesh.disable_x_axis();
            }
            mesh.draw().map_err(|e| e.to_string())?;
            for band in bands {
                let colour = if band.restoration {
                    RGBColor(44, 160, 44).mix(0.22)
                } else {
                    RGBColor(214, 39, 40).mix(0.15)
                };
                let (s, e) = (band.start.max(from) as f64, band.end.min(until) as f64);
                if e > s {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(s, 0.0), (e, y_max)],
                            colour.filled(),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
            for (t, _) in marks {
                let x = *t as f64;
                chart
                    .draw_series(LineSeries::new(
                        [(x, 0.0), (x, y_max)],
                        BLACK.stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
            }
            match panel {
                Panel::Level(s, norm) => {
                    let colour = PALETTE[index % PALETTE.len()];
                    for points in segments(s, |v| (v / norm).min(y_max)) {
                        chart
                            .draw_series(LineSeries::new(points, colour.stroke_width(1)))
                            .map_err(|e| e.to_string())?;
                    }
                    // The usual level.
                    chart
                        .draw_series(LineSeries::new(
                            [(from as f64, 1.0), (until as f64, 1.0)],
                            BLACK.mix(0.35).stroke_width(1),
                        ))
                        .map_err(|e| e.to_string())?;
                }
                Panel::Updates(list) => {
                    for (k, s) in list.iter().enumerate() {
                        let colour = PALETTE[(index + k) % PALETTE.len()];
                        for points in segments(s, |v| v) {
                            chart
                                .draw_series(LineSeries::new(points, colour.stroke_width(1)))
                                .map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// A number for a caption: `4,512`, `1.2 M`, `0.5`.
fn format_number(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.1} G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1} M", value / 1e6)
    } else if value >= 10_000.0 {
        format!("{:.0} k", value / 1e3)
    } else if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{BinSize, SeriesKey};

    fn series(signal: SignalKind, values: Vec<Option<f64>>) -> Series {
        Series {
            key: SeriesKey {
                entity: "KZ".parse().unwrap(),
                signal,
            },
            bin: BinSize::default(),
            start: 1_641_340_800,
            values,
        }
    }

    #[test]
    fn one_panel_per_telling_signal_and_day_ticks() {
        let all = vec![
            series(SignalKind::BgpVisibleSlash24s, vec![Some(10.0); 12]),
            series(SignalKind::FlowBytesFrom, vec![Some(5.0); 12]),
            series(SignalKind::FlowPacketsFrom, vec![Some(5.0); 12]),
            series(SignalKind::BgpAnnouncements, vec![Some(0.0), Some(3.0)]),
            series(SignalKind::BgpWithdrawals, vec![Some(0.0); 12]),
            series(SignalKind::ProbeUpSlash24s, vec![None; 12]),
        ];
        // bgp, flow-bytes-from and one updates panel (withdrawals all zero
        // and probing without data are left out).
        assert_eq!(panels(&all).len(), 3);
        assert_eq!(
            height(&all),
            CAPTION_HEIGHT + AXIS_HEIGHT + 3 * PANEL_HEIGHT
        );
        let axis = DayAxis::new(1_641_340_800 + 3600, 1_641_340_800 + 3 * 86_400 + 60);
        let ticks = axis.key_points(8usize);
        assert_eq!(
            ticks.iter().map(DayAxis::format).collect::<Vec<_>>(),
            vec!["2022-01-06", "2022-01-07", "2022-01-08"]
        );
        let svg = svg(
            &all,
            &[],
            &[],
            1_641_340_800,
            1_641_340_800 + 3600,
            Lang::En,
        )
        .unwrap();
        assert!(svg.contains("flow-bytes-from"), "{svg}");
        assert!(!svg.contains("flow-packets-from"));
    }
}
