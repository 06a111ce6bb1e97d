//! Datasets: the shipped MNIST and Fashion-MNIST IDX files, loaded and
//! checked on the host. Images stay u8 (0..=255) here; the GPU side scales
//! them to \[0,1\] when it builds a batch.
//!
//! ```no_run
//! use dae::data::{Dataset, DatasetName};
//! let ds = Dataset::load(&Dataset::default_root(), DatasetName::Mnist)?;
//! let stacked = ds.split_train(50_000); // train on 50,000, validate on the last 10,000
//! # Ok::<(), dae::data::DataError>(())
//! ```

mod error;
pub mod gpu;
pub mod idx;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use error::DataError;
use idx::{read_idx_gz, IdxKind};

/// Image height and width of both datasets.
pub const ROWS: usize = 28;
pub const COLS: usize = 28;
/// Both datasets have ten classes, labelled 0..=9.
pub const NUM_CLASSES: usize = 10;
/// Environment variable naming a data folder (holding mnist/ and fashion-mnist/).
pub const DATA_ENV: &str = "DAE_DATA";

const FASHION_CLASSES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
const DIGIT_CLASSES: [&str; NUM_CLASSES] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

impl DatasetName {
    pub const ALL: [DatasetName; 2] = [DatasetName::Mnist, DatasetName::FashionMnist];

    /// The name used on the command line and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// The folder under the data root that holds this dataset's four files.
    pub fn dir_name(self) -> &'static str {
        self.as_str()
    }

    /// Human-readable class names, indexed by label.
    pub fn class_names(self) -> &'static [&'static str; NUM_CLASSES] {
        match self {
            DatasetName::Mnist => &DIGIT_CLASSES,
            DatasetName::FashionMnist => &FASHION_CLASSES,
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashion" => Ok(DatasetName::FashionMnist),
            _ => Err(DataError::UnknownDataset(s.to_string())),
        }
    }
}

/// A whole dataset in host memory. Images are row-major `(count, rows, cols)`
/// u8; labels are one byte each, all < 10.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: DatasetName,
    pub train_images: Vec<u8>,
    pub train_labels: Vec<u8>,
    pub test_images: Vec<u8>,
    pub test_labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

/// The four file names of a dataset folder, as published.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// Loads and cross-checks the images and labels files of one split
/// (`split` is "train" or "test", for messages). An empty split is refused
/// here, where the file can be named, not later as a division by zero.
fn load_split(
    dir: &Path,
    split: &'static str,
    images: &str,
    labels: &str,
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let images_path = dir.join(images);
    let labels_path = dir.join(labels);
    let img = read_idx_gz(&images_path, IdxKind::Images, (ROWS, COLS))?;
    if img.count == 0 {
        return Err(DataError::EmptySplit {
            path: images_path,
            split,
        });
    }
    let lab = read_idx_gz(&labels_path, IdxKind::Labels, (1, 1))?;
    if img.count != lab.count {
        return Err(DataError::CountMismatch {
            images_path,
            images: img.count,
            labels_path,
            labels: lab.count,
        });
    }
    if let Some((index, &label)) = lab
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= NUM_CLASSES)
    {
        return Err(DataError::BadLabel {
            path: labels_path,
            index,
            label,
        });
    }
    Ok((img.data, lab.data))
}

impl Dataset {
    /// Loads `root/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`,
    /// checking each file completely (see [`DataError`] for what is checked).
    pub fn load(root: &Path, name: DatasetName) -> Result<Dataset, DataError> {
        let dir = root.join(name.dir_name());
        let (train_images, train_labels) = load_split(&dir, "train", TRAIN_IMAGES, TRAIN_LABELS)?;
        let (test_images, test_labels) = load_split(&dir, "test", TEST_IMAGES, TEST_LABELS)?;
        Ok(Dataset {
            name,
            train_images,
            train_labels,
            test_images,
            test_labels,
            rows: ROWS,
            cols: COLS,
        })
    }

    /// Where the datasets live: `$DAE_DATA` if set, else `./data` if it holds
    /// a dataset folder, else the crate's own `data/` (where the repository
    /// ships them).
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os(DATA_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let local = PathBuf::from("data");
        if DatasetName::ALL
            .iter()
            .any(|n| local.join(n.dir_name()).is_dir())
        {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
    }

    /// Pixels per image (rows · cols).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn train_len(&self) -> usize {
        self.train_labels.len()
    }

    pub fn test_len(&self) -> usize {
        self.test_labels.len()
    }

    /// Training images and labels `range` (in examples, not bytes).
    /// Panics if the range runs past the training set, like slice indexing.
    pub fn train_range(&self, range: Range<usize>) -> (&[u8], &[u8]) {
        let n = self.image_len();
        (
            &self.train_images[range.start * n..range.end * n],
            &self.train_labels[range],
        )
    }

    /// Test images and labels `range` (in examples). Panics past the end.
    pub fn test_range(&self, range: Range<usize>) -> (&[u8], &[u8]) {
        let n = self.image_len();
        (
            &self.test_images[range.start * n..range.end * n],
            &self.test_labels[range],
        )
    }

    /// The first `train_n` training and first `test_n` test examples (each
    /// clamped to what there is): for quick runs and tests.
    pub fn subset(&self, train_n: usize, test_n: usize) -> Dataset {
        let train_n = train_n.min(self.train_len());
        let test_n = test_n.min(self.test_len());
        let (train_images, train_labels) = self.train_range(0..train_n);
        let (test_images, test_labels) = self.test_range(0..test_n);
        Dataset {
            name: self.name,
            train_images: train_images.to_vec(),
            train_labels: train_labels.to_vec(),
            test_images: test_images.to_vec(),
            test_labels: test_labels.to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Splits the training set: the first `n` examples become the training
    /// set, the rest the "test" set, used as validation data (the stacked
    /// study trains on the first 50,000 and validates on the last 10,000).
    /// The original test set is not in the result. `n` is clamped.
    pub fn split_train(&self, n: usize) -> Dataset {
        let n = n.min(self.train_len());
        let (train_images, train_labels) = self.train_range(0..n);
        let (val_images, val_labels) = self.train_range(n..self.train_len());
        Dataset {
            name: self.name,
            train_images: train_images.to_vec(),
            train_labels: train_labels.to_vec(),
            test_images: val_images.to_vec(),
            test_labels: val_labels.to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Test image `i` scaled to \[0,1\] (u8 / 255), for host-side figures.
    pub fn test_image_f32(&self, i: usize) -> Vec<f32> {
        let n = self.image_len();
        to_unit_f32(&self.test_images[i * n..(i + 1) * n])
    }
}

/// Pixels scaled to \[0,1\] exactly as the studies do: `x as f32 / 255`.
pub fn to_unit_f32(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| p as f32 / 255.0).collect()
}

/// How many examples of each class `labels` holds (labels ≥ 10 are skipped).
pub fn label_histogram(labels: &[u8]) -> [usize; NUM_CLASSES] {
    let mut hist = [0usize; NUM_CLASSES];
    for &l in labels {
        if let Some(h) = hist.get_mut(l as usize) {
            *h += 1;
        }
    }
    hist
}

/// `47040016` → `"47,040,016"`, for messages people read.
pub fn thousands(n: usize) -> String {
    thousands_u64(n as u64)
}

/// [`thousands`] for sizes that may not fit a `usize`.
pub(crate) fn thousands_u64(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
