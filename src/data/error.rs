//! What can go wrong loading a dataset: each message names the file, says
//! what is wrong with it and how to fix it.

use std::path::PathBuf;

use super::thousands;

/// The fix for a damaged or missing shipped file.
const RESTORE: &str = "Fix: restore the original file from the repository \
(`git checkout -- data/`; data/README.md lists each file's size and MD5), \
or set DAE_DATA to a folder that holds intact mnist/ and fashion-mnist/ copies";

/// Why a dataset could not be loaded. Every message names the file, says
/// what is wrong with it and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file that does not exist.
    #[error("{} not found. {fix}", path.display(), fix = fix_for(path))]
    Missing {
        /// The file.
        path: PathBuf,
    },

    /// A file that exists but cannot be read. The OS error is part of the
    /// message and deliberately not a `source`,
    /// so `{:#}` (anyhow's chain) prints it once, before the fix.
    #[error("cannot read {}: {error}. {}", path.display(), read_fix(error.kind()))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },

    /// A file whose gzip stream or payload ends early.
    #[error("{} is truncated: {}. {fix}", path.display(), truncation(*expected, *found), fix = fix_for(path))]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The full decompressed length, when the header got far enough to say.
        expected: Option<usize>,
        /// Decompressed bytes recovered before the stream stopped.
        found: usize,
    },

    /// A file that is not a valid gzip stream.
    #[error("{} is not a valid gzip stream: {detail}. {fix}", path.display(), fix = fix_for(path))]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        detail: String,
    },

    /// An IDX file whose magic number is not the expected kind (images or labels).
    #[error(
        "{} has IDX magic {found:#010x}, expected {expected:#010x} \
         (0x00000803 = images, 0x00000801 = labels; is it the right file, or not an IDX file at all?). {fix}",
        path.display(), fix = fix_for(path))]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        expected: u32,
        /// What the file holds.
        found: u32,
    },

    /// An images file whose image size is not the expected one.
    #[error(
        "{} holds {}x{} images, expected {}x{}. {fix}",
        path.display(), found.0, found.1, expected.0, expected.1, fix = fix_for(path))]
    BadDims {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        expected: (usize, usize),
        /// What the file holds.
        found: (usize, usize),
    },

    /// An IDX file whose header and payload disagree on its length.
    #[error(
        "{} declares {} {item}, which needs {} bytes after decompression, but it holds {} \
         (the header and the payload disagree). {fix}",
        path.display(), thousands(*count), thousands(*expected), thousands(*found), fix = fix_for(path))]
    LengthMismatch {
        /// The file.
        path: PathBuf,
        /// The number of items the header declares.
        count: usize,
        /// What the file holds: "images" or "labels".
        item: &'static str,
        /// What the file should hold.
        expected: usize,
        /// What the file holds.
        found: usize,
    },

    /// An IDX header that declares more data than any file here may hold.
    #[error(
        "{} declares {} {item} of {rows}x{cols} bytes each, {}; \
         no IDX file here may hold more than 4 GiB, so its header is damaged. {fix}",
        path.display(), super::thousands_u64(*count), declared_size(*declared), fix = fix_for(path))]
    Oversized {
        /// The file.
        path: PathBuf,
        /// The number of items the header declares.
        count: u64,
        /// What the file holds: "images" or "labels".
        item: &'static str,
        /// Declared image height.
        rows: u64,
        /// Declared image width.
        cols: u64,
        /// count·rows·cols, or `None` where that overflows 64 bits.
        declared: Option<u64>,
    },

    /// A split (train or test) with no examples.
    #[error(
        "{} declares 0 images: the {split} split is empty, and a run needs at least one \
         {split} example. {fix}",
        path.display(), fix = fix_for(path))]
    EmptySplit {
        /// The file.
        path: PathBuf,
        /// "train" or "test".
        split: &'static str,
    },

    /// A split whose images and labels files hold different counts.
    #[error(
        "{} holds {} images but {} holds {} labels; the two files of a split must match \
         (one of them is from another dataset or version). {fix}",
        images_path.display(), thousands(*images), labels_path.display(), thousands(*labels), fix = fix_for(images_path))]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Images in the images file.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Labels in the labels file.
        labels: usize,
    },

    /// A label outside the dataset's classes.
    #[error(
        "{} has label {label} at index {index}; labels must be 0..=9. {fix}",
        path.display(), fix = fix_for(path))]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// The example's index in the file.
        index: usize,
        /// The label found.
        label: u8,
    },

    /// A dataset name other than `mnist` and `fashion-mnist`.
    #[error("unknown dataset {0:?}: expected \"mnist\" or \"fashion-mnist\"")]
    UnknownDataset(String),

    /// A file of the user's own data (`--data-dir`, `--train-images` and
    /// the others) that holds something other than what it should:
    /// `problem` says what was found, what is expected and the fix.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was found, what is expected and the fix.
        problem: String,
    },

    /// Two files of the user's own data that disagree (the training and
    /// test images' sizes): `detail` names both files and what each holds.
    #[error("{detail}")]
    Inconsistent {
        /// What the decoder said.
        detail: String,
    },
}

/// The fix for a file that is missing or damaged: restore it, for a shipped
/// file (one of the four names in a `mnist/` or `fashion-mnist/` folder);
/// re-create it, for the user's own data.
pub(crate) fn fix_for(path: &std::path::Path) -> &'static str {
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    let file = path.file_name().and_then(|n| n.to_str());
    let shipped = matches!(folder, Some("mnist" | "fashion-mnist"))
        && file.is_some_and(|f| {
            [
                super::TRAIN_IMAGES,
                super::TRAIN_LABELS,
                super::TEST_IMAGES,
                super::TEST_LABELS,
            ]
            .contains(&f)
        });
    if shipped {
        RESTORE
    } else {
        CUSTOM_FIX
    }
}

/// The fix for a damaged or missing file of the user's own data.
const CUSTOM_FIX: &str = "Fix: write the file again (the README's \"Your own data\" section \
describes the formats dae reads), or pass the path of an intact copy";

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
