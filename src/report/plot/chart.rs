//! Laying out and drawing one chart: frame, grid, ticks, legend and all
//! text, around the data the caller draws.

use std::path::Path;

use plotters::prelude::*;

use ab_glyph::FontRef;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;

use super::super::text::{draw_text_rgb, font, line_height, text_width};
use super::super::{write_png, ReportError};

use super::axes::{nice_ticks, scientific_axis, tick_labels};
use super::PLOT_SIZE;

/// Text sizes in pixels per em.
pub(super) const TITLE_PX: f32 = 22.0;
pub(super) const AXIS_PX: f32 = 17.0;
pub(super) const TICK_PX: f32 = 14.0;
pub(super) const LEGEND_PX: f32 = 15.0;
pub(super) const INK: [u8; 3] = [20, 20, 20];
/// About this many ticks per axis.
pub(super) const TICKS_X: usize = 10;
pub(super) const TICKS_Y: usize = 8;

/// How a legend entry is drawn beside its name.
#[derive(Clone, Copy)]
pub(super) enum Mark {
    Line(RGBColor),
    Dot(RGBColor),
}

pub(super) enum LegendPlace {
    Inside(SeriesLabelPosition),
    /// A column right of the plot area.
    Outside,
}

pub(super) struct Chart<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) xr: (f64, f64),
    pub(super) yr: (f64, f64),
    pub(super) legend: Vec<(&'a str, Mark)>,
    pub(super) place: LegendPlace,
}

pub(super) type Plot<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One line of text to draw once plotters is done with the buffer.
pub(super) struct Label {
    pub(super) text: String,
    pub(super) px: f32,
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) ccw: bool,
}

/// Lays out and draws a chart: frame, grid, ticks, `data` (drawn by the
/// caller in data coordinates), legend, then all text; saves it as PNG.
pub(super) fn draw_chart(
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
