//! Text from the bundled font, rasterised with ab_glyph for image grids and
//! charts alike, so no figure needs fontconfig or any installed font.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

/// DejaVu Sans, Bitstream Vera licence (assets/DejaVuSans.LICENSE).
pub const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

pub(crate) fn font() -> Result<&'static FontRef<'static>, String> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| "the bundled assets/DejaVuSans.ttf does not parse".to_string())
}

/// Width in pixels of `text` at `px` pixels per em.
pub(crate) fn text_width(font: &FontRef<'static>, px: f32, text: &str) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            width += f.kern(p, id);
        }
        width += f.h_advance(id);
        prev = Some(id);
    }
    width
}

/// Height of one line of text (ascent − descent) at `px`.
pub(crate) fn line_height(font: &FontRef<'static>, px: f32) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    f.ascent() - f.descent()
}

/// Coverage (0..=1) of a line of text, `w` by `h` pixels, row-major, with
/// the top of the line at row 0 and the baseline at the font's ascent.
pub(crate) struct Raster {
    pub w: usize,
    pub h: usize,
    pub cov: Vec<f32>,
}

/// Rasterises `text` at `px` pixels per em, glyphs placed at their kerned
/// advances with their own side bearings (anti-aliased).
pub(crate) fn rasterize(font: &FontRef<'static>, px: f32, text: &str) -> Raster {
    let f = font.as_scaled(PxScale::from(px));
    let w = text_width(font, px, text).ceil() as usize + 2;
    let h = line_height(font, px).ceil() as usize + 1;
    let mut cov = vec![0.0f32; w * h];
    let baseline = f.ascent();
    let mut pen = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, c| {
                let x = b.min.x as i64 + gx as i64;
                let y = b.min.y as i64 + gy as i64;
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let i = y as usize * w + x as usize;
                    cov[i] = (cov[i] + c).min(1.0);
                }
            });
        }
        pen += f.h_advance(id);
        prev = Some(id);
    }
    Raster { w, h, cov }
}

impl Raster {
    /// Calls `put(x, y, coverage)` for every covered pixel, placed with the
    /// raster's top-left at (x0, y0); `ccw` turns the text a quarter turn
    /// counter-clockwise (reading bottom to top, as a y-axis label), making
    /// it `h` wide and `w` tall.
    pub fn for_each(&self, x0: i64, y0: i64, ccw: bool, mut put: impl FnMut(i64, i64, f32)) {
        for ry in 0..self.h {
            for rx in 0..self.w {
                let c = self.cov[ry * self.w + rx];
                if c <= 0.0 {
                    continue;
                }
                let (dx, dy) = if ccw {
                    (ry as i64, (self.w - 1 - rx) as i64)
                } else {
                    (rx as i64, ry as i64)
                };
                put(x0 + dx, y0 + dy, c);
            }
        }
    }
}

/// Blends `text` in `color` into an RGB buffer `width` pixels wide, with the
/// text's top-left corner at (x, y) (after rotation when `ccw`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_text_rgb(
    buf: &mut [u8],
    width: usize,
    font: &FontRef<'static>,
    px: f32,
    x: f32,
    y: f32,
    text: &str,
    color: [u8; 3],
    ccw: bool,
) {
    let height = buf.len() / (3 * width.max(1));
    let r = rasterize(font, px, text);
    r.for_each(x.round() as i64, y.round() as i64, ccw, |x, y, c| {
        if x < 0 || y < 0 || x as usize >= width || y as usize >= height {
            return;
        }
        let i = 3 * (y as usize * width + x as usize);
        for (k, &ink) in color.iter().enumerate() {
            let old = buf[i + k] as f32;
            buf[i + k] = (old * (1.0 - c) + ink as f32 * c).round() as u8;
        }
    });
}

/// A greyscale canvas, one byte per pixel, row-major.
pub(crate) struct GrayCanvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl GrayCanvas {
    pub fn new(width: usize, height: usize, background: u8) -> GrayCanvas {
        GrayCanvas {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    /// Draws `text` with its top-left corner at (x, y_top), blending `ink`
    /// over the canvas by glyph coverage. Pixels outside the canvas are
    /// dropped.
    pub fn draw_text(
        &mut self,
        font: &FontRef<'static>,
        px: f32,
        x: f32,
        y_top: f32,
        text: &str,
        ink: u8,
    ) {
        let r = rasterize(font, px, text);
        let (w, h) = (self.width as i64, self.height as i64);
        r.for_each(x.round() as i64, y_top.round() as i64, false, |x, y, c| {
            if x < 0 || y < 0 || x >= w || y >= h {
                return;
            }
            let i = (y * w + x) as usize;
            let old = self.pixels[i] as f32;
            self.pixels[i] = (old * (1.0 - c) + ink as f32 * c).round() as u8;
        });
    }
}
