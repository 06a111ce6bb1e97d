//! Line plots (with optional mean ± std error bars) and scatter plots.
//!
//! Plotters draws the geometry (grid, lines, markers, error bars, clipped to
//! the plot area) into an RGB buffer; all text (title, tick labels, axis
//! labels, legend) is then drawn from the bundled font by `text`, which
//! places glyphs by their own metrics. Plotters' own text paths need
//! fontconfig (`ttf`) or mis-space glyphs (`ab_glyph`), so none is enabled.

use std::path::Path;

use plotters::prelude::*;

use ab_glyph::FontRef;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;

use super::text::{draw_text_rgb, font, line_height, text_width};
use super::{write_png, ReportError};

/// (width, height) of every chart, in pixels.
pub const PLOT_SIZE: (usize, usize) = (900, 600);
/// Text sizes in pixels per em.
const TITLE_PX: f32 = 22.0;
const AXIS_PX: f32 = 17.0;
const TICK_PX: f32 = 14.0;
const LEGEND_PX: f32 = 15.0;
const INK: [u8; 3] = [20, 20, 20];
/// About this many ticks per axis.
const TICKS_X: usize = 10;
const TICKS_Y: usize = 8;

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

/// Tick labels people can read at any magnitude: up to 4 significant
/// digits, and scientific notation for every tick of an axis whose values
/// are all tiny or huge (so one axis never mixes "1e-4" with "0.001").
fn fmt_tick(v: f64, scientific: bool) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    if scientific {
        let s = format!("{v:.2e}");
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Whether an axis spanning `lo..hi` reads better in scientific notation.
fn scientific_axis((lo, hi): (f64, f64)) -> bool {
    let m = lo.abs().max(hi.abs());
    m > 0.0 && !(1e-2..1e5).contains(&m)
}

/// Axis range covering `lo..hi` with a margin; a single value gets a range
/// around it so the chart is never degenerate.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
        let d = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - d, hi + d);
    }
    (lo - span * 0.05, hi + span * 0.05)
}

fn bounds<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<[f64; 4]> {
    let mut b: Option<[f64; 4]> = None;
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        b = Some(match b {
            None => [x, x, y, y],
            Some([x0, x1, y0, y1]) => [x0.min(x), x1.max(x), y0.min(y), y1.max(y)],
        });
    }
    b
}

/// Puts the legend in the corner with the fewest data points, so it hides
/// as little of the data as it can.
fn legend_corner(points: &[(f64, f64)], xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
    let mut counts = [0usize; 4]; // UR, UL, LR, LL
    for &(x, y) in points {
        let fx = (x - xr.0) / (xr.1 - xr.0);
        let fy = (y - yr.0) / (yr.1 - yr.0);
        let right = fx > 0.6;
        let left = fx < 0.4;
        let upper = fy > 0.6;
        let lower = fy < 0.4;
        if upper && right {
            counts[0] += 1;
        }
        if upper && left {
            counts[1] += 1;
        }
        if lower && right {
            counts[2] += 1;
        }
        if lower && left {
            counts[3] += 1;
        }
    }
    let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
    match best {
        0 => SeriesLabelPosition::UpperRight,
        1 => SeriesLabelPosition::UpperLeft,
        2 => SeriesLabelPosition::LowerRight,
        _ => SeriesLabelPosition::LowerLeft,
    }
}

/// Ticks at 1, 2 or 5 × 10^k spacing inside `lo..=hi`, and that spacing.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
    let ticks = (first..=last)
        // `+ 0.0` turns -0.0 into 0.0 so no tick reads "-0".
        .map(|k| k as f64 * step + 0.0)
        .collect();
    (ticks, step)
}

/// Labels for `ticks`: as many decimals as the spacing needs, or
/// scientific notation on an axis of tiny or huge values.
fn tick_labels(ticks: &[f64], step: f64, scientific: bool) -> Vec<String> {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    ticks
        .iter()
        .map(|&t| {
            if scientific {
                fmt_tick(t, true)
            } else {
                format!("{t:.decimals$}")
            }
        })
        .collect()
}

/// How a legend entry is drawn beside its name.
#[derive(Clone, Copy)]
enum Mark {
    Line(RGBColor),
    Dot(RGBColor),
}

enum LegendPlace {
    Inside(SeriesLabelPosition),
    /// A column right of the plot area.
    Outside,
}

struct Chart<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    xr: (f64, f64),
    yr: (f64, f64),
    legend: Vec<(&'a str, Mark)>,
    place: LegendPlace,
}

type Plot<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One line of text to draw once plotters is done with the buffer.
struct Label {
    text: String,
    px: f32,
    x: f32,
    y: f32,
    ccw: bool,
}

/// Lays out and draws a chart: frame, grid, ticks, `data` (drawn by the
/// caller in data coordinates), legend, then all text; saves it as PNG.
fn draw_chart(
    path: &Path,
    spec: &Chart<'_>,
    data: impl FnOnce(&mut Plot<'_, '_>) -> Result<(), String>,
) -> Result<(), ReportError> {
    let plot_err = |detail: String| ReportError::Plot {
        path: path.to_path_buf(),
        detail,
    };
    let f = font().map_err(plot_err)?;
    let (w, h) = PLOT_SIZE;
    let (xt, xstep) = nice_ticks(spec.xr.0, spec.xr.1, TICKS_X);
    let (yt, ystep) = nice_ticks(spec.yr.0, spec.yr.1, TICKS_Y);
    let xl = tick_labels(&xt, xstep, scientific_axis(spec.xr));
    let yl = tick_labels(&yt, ystep, scientific_axis(spec.yr));
    let widest = |f: &FontRef<'static>, px: f32, labels: &mut dyn Iterator<Item = &str>| {
        labels.map(|l| text_width(f, px, l)).fold(0.0f32, f32::max)
    };

    // Margins around the plot area, in pixels.
    let top = if spec.title.is_empty() {
        16.0
    } else {
        line_height(f, TITLE_PX) + 22.0
    };
    let y_tick_w = widest(f, TICK_PX, &mut yl.iter().map(|s| s.as_str()));
    let left = 14.0 + line_height(f, AXIS_PX) + 12.0 + y_tick_w + 10.0;
    let bottom = 10.0 + line_height(f, TICK_PX) + 12.0 + line_height(f, AXIS_PX) + 12.0;
    let legend_text_w = widest(f, LEGEND_PX, &mut spec.legend.iter().map(|(n, _)| *n));
    let legend_w = 14.0 + 28.0 + 8.0 + legend_text_w + 12.0;
    let right = match spec.place {
        LegendPlace::Outside if !spec.legend.is_empty() => legend_w + 20.0,
        _ => 24.0,
    };
    let (top, bottom, left, right) = (top as i32, bottom as i32, left as i32, right as i32);
    let (px0, py0, px1, py1) = (left, top, w as i32 - right, h as i32 - bottom);
    if px1 - px0 < 50 || py1 - py0 < 50 {
        return Err(plot_err(
            "labels leave no room for the plot area".to_string(),
        ));
    }

    let entry_h = (LEGEND_PX + 8.0) as i32;
    let legend_h = 10 + spec.legend.len() as i32 * entry_h;
    let legend_w = legend_w as i32;
    let (lx, ly) = match &spec.place {
        LegendPlace::Outside => (px1 + 12, py0),
        LegendPlace::Inside(corner) => {
            let inset = 10;
            let x = match corner {
                SeriesLabelPosition::UpperLeft | SeriesLabelPosition::LowerLeft => px0 + inset,
                _ => px1 - inset - legend_w,
            };
            let y = match corner {
                SeriesLabelPosition::LowerLeft | SeriesLabelPosition::LowerRight => {
                    py1 - inset - legend_h
                }
                _ => py0 + inset,
            };
            (x, y)
        }
    };

    let mut labels: Vec<Label> = Vec::new();
    let mut buf = vec![255u8; w * h * 3];
    {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let root = BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| plot_err(e(&x)))?;
        let area = root.margin(top, bottom, left, right);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(spec.xr.0..spec.xr.1, spec.yr.0..spec.yr.1)
            .map_err(|x| plot_err(e(&x)))?;
        let grid = RGBColor(228, 228, 228);
        let (xr, yr) = (spec.xr, spec.yr);
        chart
            .draw_series(
                xt.iter()
                    .map(|&t| PathElement::new(vec![(t, yr.0), (t, yr.1)], grid)),
            )
            .map_err(|x| plot_err(e(&x)))?;
        chart
            .draw_series(
                yt.iter()
                    .map(|&t| PathElement::new(vec![(xr.0, t), (xr.1, t)], grid)),
            )
            .map_err(|x| plot_err(e(&x)))?;
        data(&mut chart).map_err(plot_err)?;

        let axis = BLACK.mix(0.8);
        root.draw(&Rectangle::new([(px0, py0), (px1, py1)], axis))
            .map_err(|x| plot_err(e(&x)))?;
        let tick_h = line_height(f, TICK_PX);
        for (t, label) in xt.iter().zip(&xl) {
            let (x, _) = chart.backend_coord(&(*t, yr.0));
            root.draw(&PathElement::new(vec![(x, py1), (x, py1 + 5)], axis))
                .map_err(|x| plot_err(e(&x)))?;
            let tw = text_width(f, TICK_PX, label);
            labels.push(Label {
                text: label.clone(),
                px: TICK_PX,
                x: x as f32 - tw / 2.0,
                y: py1 as f32 + 8.0,
                ccw: false,
            });
        }
        for (t, label) in yt.iter().zip(&yl) {
            let (_, y) = chart.backend_coord(&(xr.0, *t));
            root.draw(&PathElement::new(vec![(px0 - 5, y), (px0, y)], axis))
                .map_err(|x| plot_err(e(&x)))?;
            let tw = text_width(f, TICK_PX, label);
            labels.push(Label {
                text: label.clone(),
                px: TICK_PX,
                x: px0 as f32 - 8.0 - tw,
                y: y as f32 - tick_h / 2.0,
                ccw: false,
            });
        }

        if !spec.legend.is_empty() {
            if let LegendPlace::Inside(_) = spec.place {
                root.draw(&Rectangle::new(
                    [(lx, ly), (lx + legend_w, ly + legend_h)],
                    WHITE.mix(0.9).filled(),
                ))
                .map_err(|x| plot_err(e(&x)))?;
                root.draw(&Rectangle::new(
                    [(lx, ly), (lx + legend_w, ly + legend_h)],
                    BLACK.mix(0.4),
                ))
                .map_err(|x| plot_err(e(&x)))?;
            }
            let text_h = line_height(f, LEGEND_PX);
            for (i, (name, mark)) in spec.legend.iter().enumerate() {
                let cy = ly + 5 + i as i32 * entry_h + entry_h / 2;
                let sx = lx + 14;
                match *mark {
                    Mark::Line(c) => root
                        .draw(&PathElement::new(
                            vec![(sx, cy), (sx + 28, cy)],
                            c.stroke_width(3),
                        ))
                        .map_err(|x| plot_err(e(&x)))?,
                    Mark::Dot(c) => root
                        .draw(&Circle::new((sx + 14, cy), 5, c.filled()))
                        .map_err(|x| plot_err(e(&x)))?,
                }
                labels.push(Label {
                    text: name.to_string(),
                    px: LEGEND_PX,
                    x: (sx + 28 + 8) as f32,
                    y: cy as f32 - text_h / 2.0,
                    ccw: false,
                });
            }
        }
        root.present().map_err(|x| plot_err(e(&x)))?;
    }

    // Title centred over the plot area; axis labels centred on their axes.
    let mid_x = (px0 + px1) as f32 / 2.0;
    let tw = text_width(f, TITLE_PX, spec.title);
    labels.push(Label {
        text: spec.title.to_string(),
        px: TITLE_PX,
        x: (mid_x - tw / 2.0).max(4.0),
        y: 10.0,
        ccw: false,
    });
    let tw = text_width(f, AXIS_PX, spec.x_label);
    labels.push(Label {
        text: spec.x_label.to_string(),
        px: AXIS_PX,
        x: mid_x - tw / 2.0,
        y: py1 as f32 + 10.0 + line_height(f, TICK_PX) + 12.0,
        ccw: false,
    });
    let tw = text_width(f, AXIS_PX, spec.y_label);
    labels.push(Label {
        text: spec.y_label.to_string(),
        px: AXIS_PX,
        x: 14.0,
        y: ((py0 + py1) as f32 / 2.0 - tw / 2.0).max(0.0),
        ccw: true,
    });
    for l in labels.iter().filter(|l| !l.text.is_empty()) {
        draw_text_rgb(&mut buf, w, f, l.px, l.x, l.y, &l.text, INK, l.ccw);
    }
    write_png(path, w, h, png::ColorType::Rgb, &buf)
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

#[cfg(test)]
mod tests {
    use super::{fmt_tick, nice_ticks, scientific_axis, tick_labels};

    #[test]
    fn ticks_read_well() {
        assert_eq!(fmt_tick(0.0, false), "0");
        assert_eq!(fmt_tick(0.30000000000000004, false), "0.3");
        assert_eq!(fmt_tick(0.0056, false), "0.0056");
        assert_eq!(fmt_tick(12.5, false), "12.5");
        assert_eq!(fmt_tick(1000.0, false), "1000");
        assert_eq!(fmt_tick(0.0002, true), "2e-4");
        assert_eq!(fmt_tick(0.001, true), "1e-3");
        assert_eq!(fmt_tick(1.25e-6, true), "1.25e-6");
        assert!(scientific_axis((0.0, 1.05e-3)));
        assert!(!scientific_axis((0.0, 0.36)));
        assert!(scientific_axis((0.0, 2e6)));
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        let (t, step) = nice_ticks(0.245, 0.365, 8);
        assert_eq!(step, 0.02);
        assert!((t[0] - 0.26).abs() < 1e-12 && (t[t.len() - 1] - 0.36).abs() < 1e-12);
        assert_eq!(tick_labels(&t, step, false)[0], "0.26");
        let (t, _) = nice_ticks(-4.3, 4.3, 8);
        assert!(t.contains(&0.0) && t.iter().all(|v| v.to_string() != "-0"));
        let (t, step) = nice_ticks(-0.5e-4, 1.05e-3, 10);
        assert_eq!(tick_labels(&t, step, true)[..2], ["0", "2e-4"]);
    }
}
