//! The user's own data: an IDX folder of any image size, or four NumPy
//! files, loaded into a [`Dataset`] with every check done on the host,
//! before a GPU is opened.
//!
//! Both splits must be non-empty, each images file must hold as many images
//! as its labels file holds labels, and the test images must have the
//! training images' height, width and channels. The number of classes is the
//! largest label of either split plus one. Pixels stay u8 where they are u8
//! (or float32 values that are all exactly `k/255`, as the GPU would compute
//! from bytes); otherwise the dataset keeps them as f32.

use std::path::{Path, PathBuf};

use super::idx::{read_idx, IdxKind};
use super::npy::{self, Images, Pixels};
use super::{DataError, DataSource, Dataset, FloatImages, NpyFiles};
use crate::kernels::gather::PIXEL_SCALE;

/// The four files of an IDX folder, without the optional `.gz`.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// `dir/name`, or `dir/name.gz` where only that exists.
fn find_idx(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.exists() {
        Ok(plain)
    } else if gz.exists() {
        Ok(gz)
    } else {
        Err(DataError::Invalid {
            path: dir.to_path_buf(),
            problem: format!(
                "holds neither {name} nor {name}.gz; an IDX folder (--data-dir) holds the four \
                 files {} (each plain or gzipped)",
                IDX_FILES.join(", ")
            ),
        })
    }
}

/// Loads an IDX folder (see [`DataSource::IdxDir`]).
pub fn load_idx_dir(dir: &Path) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Invalid {
            path: dir.to_path_buf(),
            problem: format!(
                "{}; --data-dir takes a folder holding {} (each plain or gzipped)",
                if dir.exists() {
                    "is not a folder"
                } else {
                    "does not exist"
                },
                IDX_FILES.join(", ")
            ),
        });
    }
    let paths = IDX_FILES
        .iter()
        .map(|n| find_idx(dir, n))
        .collect::<Result<Vec<_>, _>>()?;
    let split = |images: &Path, labels: &Path| -> Result<Split, DataError> {
        let img = read_idx(images, IdxKind::Images, None)?;
        let lab = read_idx(labels, IdxKind::Labels, None)?;
        Ok(Split {
            images: Images {
                count: img.count,
                rows: img.rows,
                cols: img.cols,
                channels: 1,
                pixels: Pixels::U8(img.data),
            },
            labels: lab.data,
            images_path: images.to_path_buf(),
            labels_path: labels.to_path_buf(),
        })
    };
    let train = split(&paths[0], &paths[1])?;
    let test = split(&paths[2], &paths[3])?;
    assemble(
        DataSource::IdxDir {
            idx_dir: dir.to_path_buf(),
        },
        train,
        test,
    )
}

/// Loads four NumPy files (see [`DataSource::Npy`]).
pub fn load_npy(files: &NpyFiles) -> Result<Dataset, DataError> {
    let split = |images: &Path, labels: &Path| -> Result<Split, DataError> {
        Ok(Split {
            images: npy::read_images(images)?,
            labels: npy::read_labels(labels)?,
            images_path: images.to_path_buf(),
            labels_path: labels.to_path_buf(),
        })
    };
    let train = split(&files.train_images, &files.train_labels)?;
    let test = split(&files.test_images, &files.test_labels)?;
    assemble(DataSource::Npy(files.clone()), train, test)
}

/// One split as read, before the cross-checks.
struct Split {
    images: Images,
    labels: Vec<u8>,
    images_path: PathBuf,
    labels_path: PathBuf,
}

impl Split {
    fn check(&self, name: &'static str) -> Result<(), DataError> {
        if self.images.count == 0 {
            return Err(DataError::EmptySplit {
                path: self.images_path.clone(),
                split: name,
            });
        }
        if self.images.count != self.labels.len() {
            return Err(DataError::CountMismatch {
                images_path: self.images_path.clone(),
                images: self.images.count,
                labels_path: self.labels_path.clone(),
                labels: self.labels.len(),
            });
        }
        Ok(())
    }

    fn shape(&self) -> (usize, usize, usize) {
        (self.images.rows, self.images.cols, self.images.channels)
    }
}

/// The byte each value stands for, if every value is exactly `byte / 255`
/// as the gather kernel computes it (so keeping bytes changes nothing).
fn as_bytes(values: &[f32]) -> Option<Vec<u8>> {
    values
        .iter()
        .map(|&v| {
            let k = (v * 255.0).round();
            ((0.0..=255.0).contains(&k) && (k as u8) as f32 * PIXEL_SCALE == v).then_some(k as u8)
        })
        .collect()
}

/// The cross-checks, the class count, and u8 pixels where they can be.
fn assemble(source: DataSource, train: Split, test: Split) -> Result<Dataset, DataError> {
    train.check("train")?;
    test.check("test")?;
    if train.shape() != test.shape() {
        let s = |(h, w, c): (usize, usize, usize)| format!("{h}x{w}x{c} (HxWxC)");
        return Err(DataError::Inconsistent {
            detail: format!(
                "{} holds images of {} but {} holds images of {}; the training and test \
                 images must have the same height, width and channels",
                train.images_path.display(),
                s(train.shape()),
                test.images_path.display(),
                s(test.shape())
            ),
        });
    }
    let num_classes = train
        .labels
        .iter()
        .chain(&test.labels)
        .max()
        .map_or(1, |&m| m as usize + 1);
    let (rows, cols, channels) = train.shape();
    let bytes = |p: &Pixels| match p {
        Pixels::U8(v) => Some(v.clone()),
        Pixels::F32(v) => as_bytes(v),
    };
    let floats = |p: Pixels| match p {
        Pixels::U8(v) => v.iter().map(|&b| b as f32 * PIXEL_SCALE).collect(),
        Pixels::F32(v) => v,
    };
    let (train_images, test_images, float_images) =
        match (bytes(&train.images.pixels), bytes(&test.images.pixels)) {
            (Some(a), Some(b)) => (a, b, None),
            _ => (
                Vec::new(),
                Vec::new(),
                Some(FloatImages {
                    train: floats(train.images.pixels),
                    test: floats(test.images.pixels),
                }),
            ),
        };
    Ok(Dataset {
        source,
        train_images,
        train_labels: train.labels,
        test_images,
        test_labels: test.labels,
        float_images,
        rows,
        cols,
        channels,
        num_classes,
    })
}
