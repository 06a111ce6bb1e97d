//! Where a dataset comes from: one of the shipped datasets, an IDX folder of
//! the user's, or four NumPy files. A run records its source (in its state
//! and its checkpoint) so `--resume` and `dae eval` find the same data again.
//!
//! Serialised, a shipped dataset is its plain name (`"mnist"`), as run states
//! written before custom data existed hold it; an IDX folder is
//! `{"idx_dir": "/abs/dir"}` and NumPy files are
//! `{"train_images": .., "train_labels": .., "test_images": .., "test_labels": ..}`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataError, DatasetName};

/// The four NumPy files of a dataset (see [`DataSource::Npy`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NpyFiles {
    /// Images of the training split: (N, H, W) or (N, H, W, C), uint8 or
    /// float32 in \[0, 1\].
    pub train_images: PathBuf,
    /// Labels of the training split: (N) or (N, 1), any integer dtype.
    pub train_labels: PathBuf,
    /// Images of the test split, with the training split's H, W and C.
    pub test_images: PathBuf,
    /// Labels of the test split.
    pub test_labels: PathBuf,
}

impl NpyFiles {
    /// The four paths, in the order train images, train labels, test
    /// images, test labels.
    pub fn paths(&self) -> [&Path; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// Where a [`Dataset`](super::Dataset) is loaded from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DataSource {
    /// A shipped dataset: the folder of that name under the data root
    /// (`--data`, `$DAE_DATA` or `./data`).
    #[serde(with = "builtin")]
    Builtin(DatasetName),
    /// A folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each plain or
    /// gzipped (`.gz`), of any image size, one channel, labels 0..=255.
    IdxDir {
        /// The folder, absolute once [`DataSource::absolute`] has run.
        idx_dir: PathBuf,
    },
    /// Four NumPy `.npy` files.
    Npy(NpyFiles),
}

impl From<DatasetName> for DataSource {
    fn from(name: DatasetName) -> DataSource {
        DataSource::Builtin(name)
    }
}

impl DataSource {
    /// The shipped dataset this names, if it is one.
    pub fn builtin(&self) -> Option<DatasetName> {
        match self {
            DataSource::Builtin(n) => Some(*n),
            _ => None,
        }
    }

    /// The same source with every path made absolute against the current
    /// folder (so a run resumed or evaluated from elsewhere finds its data).
    pub fn absolute(self) -> Result<DataSource, DataError> {
        let abs = |p: PathBuf| -> Result<PathBuf, DataError> {
            std::path::absolute(&p).map_err(|error| DataError::Io { path: p, error })
        };
        Ok(match self {
            DataSource::Builtin(n) => DataSource::Builtin(n),
            DataSource::IdxDir { idx_dir } => DataSource::IdxDir {
                idx_dir: abs(idx_dir)?,
            },
            DataSource::Npy(f) => DataSource::Npy(NpyFiles {
                train_images: abs(f.train_images)?,
                train_labels: abs(f.train_labels)?,
                test_images: abs(f.test_images)?,
                test_labels: abs(f.test_labels)?,
            }),
        })
    }

    /// A short name for run folders and figure titles: the dataset's name,
    /// the IDX folder's name, or the stem of the training images file.
    pub fn short_name(&self) -> String {
        let stem = |p: &Path, fallback: &str| {
            p.file_stem()
                .or_else(|| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| fallback.to_string())
        };
        match self {
            DataSource::Builtin(n) => n.as_str().to_string(),
            DataSource::IdxDir { idx_dir } => {
                // `.` or `dir/` has no file name of its own until made absolute.
                let p = std::path::absolute(idx_dir).unwrap_or_else(|_| idx_dir.clone());
                stem(&p, "idx")
            }
            DataSource::Npy(f) => stem(&f.train_images, "npy"),
        }
    }

    /// The source as the checkpoint metadata stores it: a shipped dataset's
    /// plain name (as older checkpoints hold it), else one JSON object (see
    /// the module documentation).
    pub fn to_json(&self) -> String {
        match self {
            DataSource::Builtin(n) => n.as_str().to_string(),
            _ => serde_json::to_string(self).unwrap_or_else(|_| self.to_string()),
        }
    }

    /// Parses [`DataSource::to_json`]'s output (a plain dataset name, or any
    /// JSON form of a source).
    pub fn from_json(s: &str) -> Result<DataSource, String> {
        serde_json::from_str(s)
            .or_else(|_| s.parse::<DatasetName>().map(DataSource::Builtin))
            .map_err(|e| format!("{s:?} names no dataset ({e})"))
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Builtin(n) => write!(f, "{n}"),
            DataSource::IdxDir { idx_dir } => write!(f, "IDX folder {}", idx_dir.display()),
            DataSource::Npy(n) => write!(
                f,
                "NumPy files {} and {}",
                n.train_images.display(),
                n.test_images.display()
            ),
        }
    }
}

/// A shipped dataset serialises as its plain name.
mod builtin {
    use super::DatasetName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &DatasetName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(n.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DatasetName, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
