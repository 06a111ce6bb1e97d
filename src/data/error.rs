//! What can go wrong loading a dataset: each message names the file, says
//! what is wrong with it and how to fix it.

use std::path::PathBuf;

use super::thousands;

/// The fix for a damaged or missing shipped file.
const RESTORE: &str = "Fix: restore the original file from the repository \
(`git checkout -- data/`; data/README.md lists each file's size and MD5), \
or set DAE_DATA to a folder that holds intact mnist/ and fashion-mnist/ copies";

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{} not found. {RESTORE}", path.display())]
    Missing { path: PathBuf },

    /// The OS error is part of the message and deliberately not a `source`,
    /// so `{:#}` (anyhow's chain) prints it once, before the fix.
    #[error("cannot read {}: {error}. {}", path.display(), read_fix(error.kind()))]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{} is truncated: {}. {RESTORE}", path.display(), truncation(*expected, *found))]
    Truncated {
        path: PathBuf,
        /// The full decompressed length, when the header got far enough to say.
        expected: Option<usize>,
        /// Decompressed bytes recovered before the stream stopped.
        found: usize,
    },

    #[error("{} is not a valid gzip stream: {detail}. {RESTORE}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "{} has IDX magic {found:#010x}, expected {expected:#010x} \
         (0x00000803 = images, 0x00000801 = labels; is it the right file, or not an IDX file at all?). {RESTORE}",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        expected: u32,
        found: u32,
    },

    #[error(
        "{} holds {}x{} images, expected {}x{}. {RESTORE}",
        path.display(), found.0, found.1, expected.0, expected.1
    )]
    BadDims {
        path: PathBuf,
        expected: (usize, usize),
        found: (usize, usize),
    },

    #[error(
        "{} declares {} {item}, which needs {} bytes after decompression, but it holds {} \
         (the header and the payload disagree). {RESTORE}",
        path.display(), thousands(*count), thousands(*expected), thousands(*found)
    )]
    LengthMismatch {
        path: PathBuf,
        count: usize,
        item: &'static str,
        expected: usize,
        found: usize,
    },

    #[error(
        "{} declares {} {item} of {rows}x{cols} bytes each, {}; \
         no IDX file here may hold more than 4 GiB, so its header is damaged. {RESTORE}",
        path.display(), super::thousands_u64(*count), declared_size(*declared)
    )]
    Oversized {
        path: PathBuf,
        count: u64,
        item: &'static str,
        rows: u64,
        cols: u64,
        /// count·rows·cols, or `None` where that overflows 64 bits.
        declared: Option<u64>,
    },

    #[error(
        "{} declares 0 images: the {split} split is empty, and a run needs at least one \
         {split} example. {RESTORE}",
        path.display()
    )]
    EmptySplit { path: PathBuf, split: &'static str },

    #[error(
        "{} holds {} images but {} holds {} labels; the two files of a split must match \
         (one of them is from another dataset or version). {RESTORE}",
        images_path.display(), thousands(*images), labels_path.display(), thousands(*labels)
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    #[error(
        "{} has label {label} at index {index}; labels must be 0..=9. {RESTORE}",
        path.display()
    )]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
    },

    #[error("unknown dataset {0:?}: expected \"mnist\" or \"fashion-mnist\"")]
    UnknownDataset(String),
}

/// The fix for a file that exists but cannot be read, by what the OS said.
fn read_fix(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::PermissionDenied => {
            "Fix: check the permissions of the file and of the folders above it \
             (`ls -l`; the user running dae must be able to read them), \
             or set DAE_DATA to a folder you can read that holds mnist/ and fashion-mnist/"
        }
        K::IsADirectory => {
            "Fix: the path is a folder, not a file; remove it and restore the file \
             (`git checkout -- data/`), or set DAE_DATA to a folder that holds intact copies"
        }
        _ => RESTORE,
    }
}

fn declared_size(declared: Option<u64>) -> String {
    match declared {
        Some(n) => format!("{} bytes in all", super::thousands_u64(n)),
        None => "more bytes than 64 bits can count".to_string(),
    }
}

fn truncation(expected: Option<usize>, found: usize) -> String {
    match expected {
        Some(e) if found < e => format!(
            "expected {} bytes after decompression, found {}",
            thousands(e),
            thousands(found)
        ),
        Some(_) => format!(
            "all {} bytes decompress, but the gzip stream stops before its CRC and length trailer",
            thousands(found)
        ),
        None if found < super::idx::IMAGES_HEADER => format!(
            "the data stops after {} decompressed bytes, too few to hold the IDX header",
            thousands(found)
        ),
        None => format!(
            "the data stops after {} decompressed bytes",
            thousands(found)
        ),
    }
}
