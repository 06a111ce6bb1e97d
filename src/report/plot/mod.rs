//! Line plots (with optional mean ± std error bars) and scatter plots.
//!
//! Plotters draws the geometry (grid, lines, markers, error bars, clipped to
//! the plot area) into an RGB buffer; all text (title, tick labels, axis
//! labels, legend) is then drawn from the bundled font by `text`, which
//! places glyphs by their own metrics. Plotters' own text paths need
//! fontconfig (`ttf`) or mis-space glyphs (`ab_glyph`), so none is enabled.

mod axes;
mod chart;

use std::path::Path;

use plotters::prelude::*;

use super::ReportError;

use axes::{bounds, legend_corner, padded};
use chart::{draw_chart, Chart, LegendPlace, Mark};

/// (width, height) of every chart, in pixels.
pub const PLOT_SIZE: (usize, usize) = (900, 600);

/// Matplotlib's "tab10" colours: distinct, and familiar from the studies'
/// own figures. Series and classes cycle through them.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One line of a [`line_plot`]. `y_err`, when given, holds one half-width
/// per point (e.g. the std of repeated runs) drawn as a vertical error bar.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points, joined in order; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// Half-width of each point's error bar, one per point; `None` for none.
    pub y_err: Option<Vec<f64>>,
}

impl Series {
    /// A series without error bars.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            y_err: None,
        }
    }

    /// Adds error bars: one half-width per point.
    pub fn with_errors(mut self, y_err: Vec<f64>) -> Series {
        self.y_err = Some(y_err);
        self
    }
}

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

fn input_err(path: &Path, detail: String) -> ReportError {
    ReportError::Input {
        path: path.to_path_buf(),
        detail,
    }
}

/// A line chart: one coloured line (with markers when points are few) per
/// series, optional vertical error bars, a legend, axis labels and a title.
/// Non-finite points are skipped.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), ReportError> {
    for s in series {
        if let Some(e) = &s.y_err {
            if e.len() != s.points.len() {
                return Err(input_err(
                    path,
                    format!(
                        "series {:?} has {} points but {} error values",
                        s.name,
                        s.points.len(),
                        e.len()
                    ),
                ));
            }
        }
    }
    // The y range must hold the error bars too.
    let mut extent: Vec<(f64, f64)> = Vec::new();
    for s in series {
        extent.extend(&s.points);
        if let Some(e) = &s.y_err {
            for (&(x, y), &d) in s.points.iter().zip(e) {
                if d.is_finite() {
                    extent.push((x, y - d.abs()));
                    extent.push((x, y + d.abs()));
                }
            }
        }
    }
    let [x0, x1, y0, y1] = bounds(extent.iter())
        .ok_or_else(|| input_err(path, "no finite points to plot".to_string()))?;
    let (xr, yr) = (padded(x0, x1), padded(y0, y1));
    let spec = Chart {
        title,
        x_label,
        y_label,
        xr,
        yr,
        legend: series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.name.is_empty())
            .map(|(i, s)| (s.name.as_str(), Mark::Line(color(i))))
            .collect(),
        place: LegendPlace::Inside(legend_corner(&extent, xr, yr)),
    };
    draw_chart(path, &spec, |chart| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        for (i, s) in series.iter().enumerate() {
            let c = color(i);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(|x| e(&x))?;
            // Markers only where points are few enough to tell apart.
            if pts.len() <= 60 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(|x| e(&x))?;
            }
            if let Some(errs) = &s.y_err {
                let bars = s
                    .points
                    .iter()
                    .zip(errs)
                    .filter(|((x, y), d)| x.is_finite() && y.is_finite() && d.is_finite())
                    .map(|(&(x, y), &d)| {
                        ErrorBar::new_vertical(
                            x,
                            y - d.abs(),
                            y,
                            y + d.abs(),
                            c.stroke_width(2),
                            10,
                        )
                    });
                chart.draw_series(bars).map_err(|x| e(&x))?;
            }
        }
        Ok(())
    })
}

/// A scatter chart with one colour per group (e.g. per class) and a legend
/// naming the groups in a column right of the chart (with many groups
/// spread over the plane, no corner inside is free).
pub fn scatter_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[(String, Vec<(f64, f64)>)],
) -> Result<(), ReportError> {
    let [x0, x1, y0, y1] = bounds(groups.iter().flat_map(|(_, p)| p.iter()))
        .ok_or_else(|| input_err(path, "no finite points to plot".to_string()))?;
    let spec = Chart {
        title,
        x_label,
        y_label,
        xr: padded(x0, x1),
        yr: padded(y0, y1),
        legend: groups
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.as_str(), Mark::Dot(color(i))))
            .collect(),
        place: LegendPlace::Outside,
    };
    draw_chart(path, &spec, |chart| {
        for (i, (_, pts)) in groups.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(
                    pts.iter()
                        .filter(|(x, y)| x.is_finite() && y.is_finite())
                        .map(|&p| Circle::new(p, 3, c.mix(0.8).filled())),
                )
                .map_err(|x| x.to_string())?;
        }
        Ok(())
    })
}
