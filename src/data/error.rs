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

    #[error("cannot read {}: {source}. {RESTORE}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
