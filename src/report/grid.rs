//! PNG grids of greyscale images with optional title, row labels and a
//! caption under each image (e.g. rows "clean", "noisy", "denoised" and
//! "MSE 0.012" under each reconstruction).
//!
//! Layout, in pixels: an optional title band on top, an optional row-label
//! column on the left, then `cols` cells per row separated and surrounded by
//! [`GRID_PAD`] pixels of white. A cell is the image scaled by an integer
//! factor (nearest neighbour, so pixels stay crisp), with its caption below
//! when any image has one; cells widen to fit the widest caption.

use std::path::Path;

use super::text::{font, line_height, text_width, GrayCanvas};
use super::{write_png, ReportError};

/// White space between and around images.
pub const GRID_PAD: usize = 2;
const BACKGROUND: u8 = 255;
const INK: u8 = 0;

/// Optional text of an [`image_grid`]. Entries may be empty strings.
#[derive(Debug, Clone)]
pub struct GridText {
    /// Centred above the grid.
    pub title: Option<String>,
    /// One per grid row, left of the row (fewer than the rows is fine).
    pub row_labels: Vec<String>,
    /// One per image, under it (fewer than the images is fine).
    pub captions: Vec<String>,
    /// Font size of labels and captions in pixels per em; the title is 1.25×.
    pub font_px: f32,
}

impl Default for GridText {
    fn default() -> Self {
        GridText {
            title: None,
            row_labels: Vec::new(),
            captions: Vec::new(),
            font_px: 12.0,
        }
    }
}

struct Layout {
    width: usize,
    height: usize,
    rows: usize,
    top: usize,
    left: usize,
    cell_w: usize,
    img_w: usize,
    img_h: usize,
    caption_h: usize,
}

fn layout(
    n: usize,
    img_h: usize,
    img_w: usize,
    cols: usize,
    scale: usize,
    text: &GridText,
) -> Result<Layout, String> {
    if n == 0 || cols == 0 || scale == 0 || img_h == 0 || img_w == 0 {
        return Err(format!(
            "need at least one image and nonzero sizes (images {n}, {img_h}x{img_w}, cols {cols}, scale {scale})"
        ));
    }
    let f = font()?;
    let rows = n.div_ceil(cols);
    if text.row_labels.len() > rows {
        return Err(format!(
            "{} row labels for {rows} rows",
            text.row_labels.len()
        ));
    }
    if text.captions.len() > n {
        return Err(format!("{} captions for {n} images", text.captions.len()));
    }
    let px = text.font_px.max(4.0);
    let text_h = line_height(f, px).ceil() as usize;
    let widest = |labels: &[String]| {
        labels
            .iter()
            .map(|s| text_width(f, px, s).ceil() as usize)
            .max()
            .unwrap_or(0)
    };
    let (iw, ih) = (img_w * scale, img_h * scale);
    let has_captions = text.captions.iter().any(|c| !c.is_empty());
    let caption_h = if has_captions { text_h + 2 } else { 0 };
    let cell_w = iw.max(widest(&text.captions) + 2);
    let label_w = widest(&text.row_labels);
    let left = if label_w > 0 {
        label_w + 2 * GRID_PAD + 4
    } else {
        0
    };
    let top = match &text.title {
        Some(t) if !t.is_empty() => line_height(f, px * 1.25).ceil() as usize + 2 * GRID_PAD,
        _ => 0,
    };
    let title_w = match &text.title {
        Some(t) => text_width(f, px * 1.25, t).ceil() as usize + 2 * GRID_PAD,
        None => 0,
    };
    let width = (left + cols * cell_w + (cols + 1) * GRID_PAD).max(title_w);
    let height = top + rows * (ih + caption_h) + (rows + 1) * GRID_PAD;
    Ok(Layout {
        width,
        height,
        rows,
        top,
        left,
        cell_w,
        img_w: iw,
        img_h: ih,
        caption_h,
    })
}

/// The (width, height) in pixels that [`image_grid`] gives these arguments.
/// Without text it is `cols·img_w·scale + (cols+1)·GRID_PAD` by
/// `rows·img_h·scale + (rows+1)·GRID_PAD`.
pub fn grid_size(
    n: usize,
    img_h: usize,
    img_w: usize,
    cols: usize,
    scale: usize,
    text: &GridText,
) -> Result<(usize, usize), ReportError> {
    let l = layout(n, img_h, img_w, cols, scale, text).map_err(|detail| ReportError::Input {
        path: "image grid".into(),
        detail,
    })?;
    Ok((l.width, l.height))
}

/// Writes `images` (each `img_h·img_w` values, row-major, 0 = black,
/// 1 = white; values outside \[0,1\] are clamped and NaN is drawn black) as a
/// greyscale PNG grid with `cols` images per row, each scaled by `scale`.
/// A flat batch becomes `images` with `flat.chunks(img_h * img_w).collect()`.
pub fn image_grid(
    path: &Path,
    images: &[&[f32]],
    img_h: usize,
    img_w: usize,
    cols: usize,
    scale: usize,
    text: &GridText,
) -> Result<(), ReportError> {
    let input_err = |detail: String| ReportError::Input {
        path: path.to_path_buf(),
        detail,
    };
    let l = layout(images.len(), img_h, img_w, cols, scale, text).map_err(input_err)?;
    if let Some((i, img)) = images
        .iter()
        .enumerate()
        .find(|(_, img)| img.len() != img_h * img_w)
    {
        return Err(input_err(format!(
            "image {i} has {} values, expected {img_h}x{img_w} = {}",
            img.len(),
            img_h * img_w
        )));
    }
    let f = font().map_err(input_err)?;
    let px = text.font_px.max(4.0);
    let mut canvas = GrayCanvas::new(l.width, l.height, BACKGROUND);

    if let Some(title) = text.title.as_deref().filter(|t| !t.is_empty()) {
        let tw = text_width(f, px * 1.25, title);
        let x = (l.width as f32 - tw) / 2.0;
        canvas.draw_text(f, px * 1.25, x.max(0.0), GRID_PAD as f32, title, INK);
    }

    let row_h = l.img_h + l.caption_h;
    for (i, img) in images.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let cell_x = l.left + GRID_PAD + c * (l.cell_w + GRID_PAD);
        let cell_y = l.top + GRID_PAD + r * (row_h + GRID_PAD);
        let x0 = cell_x + (l.cell_w - l.img_w) / 2;
        for y in 0..l.img_h {
            let src_row = &img[(y / scale) * img_w..(y / scale + 1) * img_w];
            let dst = (cell_y + y) * l.width + x0;
            for (x, out) in canvas.pixels[dst..dst + l.img_w].iter_mut().enumerate() {
                let v = src_row[x / scale];
                let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
                *out = (v * 255.0).round() as u8;
            }
        }
        if let Some(caption) = text.captions.get(i).filter(|s| !s.is_empty()) {
            let tw = text_width(f, px, caption);
            let x = cell_x as f32 + (l.cell_w as f32 - tw) / 2.0;
            canvas.draw_text(f, px, x, (cell_y + l.img_h + 1) as f32, caption, INK);
        }
    }

    for (r, label) in text.row_labels.iter().enumerate().take(l.rows) {
        let row_y = l.top + GRID_PAD + r * (row_h + GRID_PAD);
        let y = row_y as f32 + (l.img_h as f32 - line_height(f, px)) / 2.0;
        canvas.draw_text(f, px, GRID_PAD as f32, y, label, INK);
    }

    write_png(
        path,
        l.width,
        l.height,
        png::ColorType::Grayscale,
        &canvas.pixels,
    )
}
