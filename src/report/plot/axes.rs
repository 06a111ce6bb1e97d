//! Axis ranges, ticks and their labels, and where a legend goes.

use plotters::prelude::SeriesLabelPosition;

/// Tick labels people can read at any magnitude: up to 4 significant
/// digits, and scientific notation for every tick of an axis whose values
/// are all tiny or huge (so one axis never mixes "1e-4" with "0.001").
pub(super) fn fmt_tick(v: f64, scientific: bool) -> String {
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
pub(super) fn scientific_axis((lo, hi): (f64, f64)) -> bool {
    let m = lo.abs().max(hi.abs());
    m > 0.0 && !(1e-2..1e5).contains(&m)
}

/// Axis range covering `lo..hi` with a margin; a single value gets a range
/// around it so the chart is never degenerate.
pub(super) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
        let d = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - d, hi + d);
    }
    (lo - span * 0.05, hi + span * 0.05)
}

pub(super) fn bounds<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Option<[f64; 4]> {
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
pub(super) fn legend_corner(
    points: &[(f64, f64)],
    xr: (f64, f64),
    yr: (f64, f64),
) -> SeriesLabelPosition {
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
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
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
pub(super) fn tick_labels(ticks: &[f64], step: f64, scientific: bool) -> Vec<String> {
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
