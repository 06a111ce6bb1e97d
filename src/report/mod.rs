//! What a run writes: CSV tables, PNG image grids, line and scatter plots,
//! and safetensors checkpoints. Every file is written atomically (temporary
//! file in the same folder, then rename), so an interrupted run never leaves
//! a half-written figure or checkpoint behind.
//!
//! All text is drawn from the bundled DejaVu Sans (assets/DejaVuSans.ttf,
//! licence beside it), so figures render the same on a machine with no
//! fonts installed.

mod checkpoint;
mod csv;
mod grid;
mod plot;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use checkpoint::{load_checkpoint, save_checkpoint, Checkpoint, NamedTensor};
pub use csv::Csv;
pub use grid::{grid_size, image_grid, GridText, GRID_PAD};
pub use plot::{line_plot, scatter_plot, Series, PALETTE, PLOT_SIZE};
pub use text::FONT_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot encode {} as PNG: {detail}", path.display())]
    Png { path: PathBuf, detail: String },

    #[error("cannot draw {}: {detail}", path.display())]
    Plot { path: PathBuf, detail: String },

    #[error("bad input for {}: {detail}", path.display())]
    Input { path: PathBuf, detail: String },

    #[error(
        "checkpoint {} not found. Fix: check the path, or train first (checkpoints are written at the end of training)",
        path.display()
    )]
    CheckpointMissing { path: PathBuf },

    #[error(
        "checkpoint {} is unreadable: {detail}. Fix: the file is damaged or not a safetensors file; delete it and train again",
        path.display()
    )]
    CheckpointCorrupt { path: PathBuf, detail: String },
}

/// Writes `bytes` to `path` so that readers see either the old file or the
/// whole new one: the bytes go to a temporary file in the same folder (same
/// file system, so the rename is atomic), are flushed to disk, then renamed
/// over `path`. Parent folders are created.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // The pid and a counter keep concurrent writers (threads or processes)
    // off each other's temporary files.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{n}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`atomic_write`] with the error mapped to a [`ReportError`] naming `path`.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    atomic_write(path, bytes).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encodes 8-bit pixels (`Grayscale` with 1 byte or `Rgb` with 3 bytes per
/// pixel) as a PNG file, atomically.
pub(crate) fn write_png(
    path: &Path,
    width: usize,
    height: usize,
    color: png::ColorType,
    pixels: &[u8],
) -> Result<(), ReportError> {
    let png_err = |e: png::EncodingError| ReportError::Png {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(pixels).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
    }
    write_file(path, &out)
}
