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

pub use checkpoint::{
    load_checkpoint, load_checkpoint_bytes, save_checkpoint, Checkpoint, NamedTensor,
};
pub use csv::Csv;
pub use grid::{grid_size, image_grid, GridText, GRID_PAD};
pub use plot::{line_plot, scatter_plot, Series, PALETTE, PLOT_SIZE};
pub use text::FONT_BYTES;

/// What can go wrong writing (or reading back) a run's files. Each message
/// names the file, says what is wrong and how to fix it.
///
/// `Display` and `Error` are written by hand: the I/O variants keep their OS
/// error in a field that must be called `source` (so existing constructors
/// keep compiling), and thiserror would make such a field the error's
/// `source()`, which anyhow's `{:#}` then prints a second time. Here the OS
/// error is printed once, inside the message, and `source()` is `None`.
#[derive(Debug)]
pub enum ReportError {
    /// A failed write (or folder creation) of `path`.
    Io {
        /// The file or folder written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A failed read of `path` that exists.
    Read {
        /// The file read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// Encoding an image as PNG failed.
    Png {
        /// The PNG file.
        path: PathBuf,
        /// The encoder's message.
        detail: String,
    },

    /// Drawing a plot failed.
    Plot {
        /// The plot's file.
        path: PathBuf,
        /// The plotting library's message.
        detail: String,
    },

    /// The data handed to a writer cannot be written as asked (a tensor
    /// whose values do not match its shape, a duplicate tensor name, a plot
    /// with no finite points, a grid that cannot be laid out).
    Input {
        /// The file that was to be written.
        path: PathBuf,
        /// What is wrong with the data.
        detail: String,
    },

    /// The checkpoint to load does not exist.
    CheckpointMissing {
        /// The checkpoint's path.
        path: PathBuf,
    },

    /// The checkpoint exists but is not a readable safetensors file of f32
    /// tensors.
    CheckpointCorrupt {
        /// The checkpoint's path.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Io { path, source } => write!(
                f,
                "cannot write {}: {source}. {}",
                path.display(),
                write_fix(source.kind())
            ),
            ReportError::Read { path, source } => write!(
                f,
                "cannot read {}: {source}. {}",
                path.display(),
                read_fix(source.kind())
            ),
            ReportError::Png { path, detail } => {
                write!(f, "cannot encode {} as PNG: {detail}", path.display())
            }
            ReportError::Plot { path, detail } => {
                write!(f, "cannot draw {}: {detail}", path.display())
            }
            ReportError::Input { path, detail } => {
                write!(f, "bad input for {}: {detail}", path.display())
            }
            ReportError::CheckpointMissing { path } => write!(
                f,
                "checkpoint {} not found. Fix: check the path, or train first \
                 (checkpoints are written at the end of training)",
                path.display()
            ),
            ReportError::CheckpointCorrupt { path, detail } => write!(
                f,
                "checkpoint {} is unreadable: {detail}. Fix: the file is damaged or not a \
                 safetensors file; delete it and train again",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReportError {}

/// The fix for a failed write, by what the OS said.
fn write_fix(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::PermissionDenied => {
            "Fix: check the permissions of the file and its folder (the user running dae \
             must be able to write there), or choose another output path"
        }
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
            "Fix: free disk space (or quota), or choose an output path on another disk"
        }
        K::ReadOnlyFilesystem => "Fix: choose an output path on a writable file system",
        K::IsADirectory => "Fix: the path is a folder; name a file inside it, or another path",
        K::NotADirectory | K::AlreadyExists => {
            "Fix: part of the path is a file where a folder must be; choose another path"
        }
        _ => "Fix: check that the output path is valid and its disk is writable, or choose another path",
    }
}

/// The fix for a failed read of a file that exists, by what the OS said.
fn read_fix(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::PermissionDenied => {
            "Fix: check the permissions of the file and its folders (the user running dae \
             must be able to read them), or point to a copy you can read"
        }
        K::IsADirectory => "Fix: the path is a folder; name the file inside it",
        _ => "Fix: check the path and that its disk is readable, or point to another copy",
    }
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
