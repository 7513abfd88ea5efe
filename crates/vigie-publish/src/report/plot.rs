//! The report's figure: each signal divided by its median over the period
//! (so signals of different units share one axis, 1 = normal), incidents as
//! red bands, restoration windows as green bands, drawn to SVG by `plotters`.

use plotters::prelude::*;
use vigie_model::{format_utc, Series, UnixSecs};

use super::text::Lang;

/// Width and height of the figure in pixels.
pub const SIZE: (u32, u32) = (960, 420);

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

/// Draws the figure; `Err` carries plotters' message.
pub fn svg(
    series: &[Series],
    bands: &[Band],
    marks: &[(UnixSecs, String)],
    from: UnixSecs,
    until: UnixSecs,
    lang: Lang,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = 1.5;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(
                lang.pick(
                    "Signals divided by their median over the period (1 = usual level), UTC",
                    "Signaux divisés par leur médiane sur la période (1 = niveau habituel), UTC",
                ),
                ("sans-serif", 16),
            )
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(from as f64..until as f64, 0.0..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(7)
            .x_label_formatter(&|x| {
                let t = format_utc(*x as i64);
                t.get(5..16).map(|s| s.replace('T', " ")).unwrap_or(t)
            })
            .draw()
            .map_err(|e| e.to_string())?;
        for band in bands {
            let colour = if band.restoration {
                RGBColor(44, 160, 44).mix(0.18)
            } else {
                RGBColor(214, 39, 40).mix(0.18)
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
        for (i, s) in series.iter().enumerate() {
            let Some(norm) = median(&s.values) else {
                continue;
            };
            let colour = PALETTE[i % PALETTE.len()];
            let step = i64::from(s.bin.secs());
            // Break the line at bins with no data: no data is not zero.
            let mut segment: Vec<(f64, f64)> = Vec::new();
            let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
            for (j, v) in s.values.iter().enumerate() {
                let t = (s.start + j as i64 * step) as f64;
                match v {
                    Some(v) if v.is_finite() => segment.push((t, (v / norm).min(y_max))),
                    _ => {
                        if !segment.is_empty() {
                            segments.push(std::mem::take(&mut segment));
                        }
                    }
                }
            }
            if !segment.is_empty() {
                segments.push(segment);
            }
            for (k, points) in segments.into_iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                if k == 0 {
                    drawn.label(s.key.signal.name()).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                }
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}
