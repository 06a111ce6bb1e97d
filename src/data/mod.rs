//! Datasets: the shipped MNIST and Fashion-MNIST IDX files, or the user's
//! own IDX folder or NumPy files ([`DataSource`]), loaded and checked on the
//! host. Images stay u8 (0..=255) where the data allows, and the GPU side
//! scales them to \[0,1\] when it builds a batch; float data stays f32.
//!
//! ```no_run
//! use dae::data::{Dataset, DatasetName};
//! let ds = Dataset::load(&Dataset::default_root(), DatasetName::Mnist)?;
//! let stacked = ds.split_train(50_000); // train on 50,000, validate on the last 10,000
//! # Ok::<(), dae::data::DataError>(())
//! ```

pub mod custom;
mod error;
pub mod gpu;
pub mod idx;
mod name;
pub mod npy;
mod source;

use std::ops::Range;
use std::path::{Path, PathBuf};

pub use error::DataError;
use idx::{read_idx_gz, IdxKind};
pub use name::DatasetName;
pub use source::{DataSource, NpyFiles};

/// Image height of both shipped datasets.
pub const ROWS: usize = 28;
/// Image width of both shipped datasets.
pub const COLS: usize = 28;
/// Both datasets have ten classes, labelled 0..=9.
pub const NUM_CLASSES: usize = 10;
/// Environment variable naming a data folder (holding mnist/ and fashion-mnist/).
pub const DATA_ENV: &str = "DAE_DATA";

/// A whole dataset in host memory: images NHWC, row-major
/// `(count, rows, cols, channels)`, labels one byte each, all below
/// `num_classes`.
///
/// Pixels are u8 (0..=255, scaled by 1/255 when a batch is built) in
/// `train_images` and `test_images`, unless the data came as float32 values
/// that u8 cannot hold exactly: then they are in `float_images` and the two
/// u8 vectors are empty.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it was loaded from.
    pub source: DataSource,
    /// Training images as bytes, (train count, rows, cols, channels).
    pub train_images: Vec<u8>,
    /// One label per training image.
    pub train_labels: Vec<u8>,
    /// Test images as bytes, (test count, rows, cols, channels).
    pub test_images: Vec<u8>,
    /// One label per test image.
    pub test_labels: Vec<u8>,
    /// The pixels as f32 in \[0, 1\], for data that is not u8.
    pub float_images: Option<FloatImages>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Channels per pixel (1 for the shipped datasets).
    pub channels: usize,
    /// Classes: 10 for the shipped datasets, max label + 1 for other data.
    pub num_classes: usize,
}

/// The f32 pixels of a dataset that is not u8 (see [`Dataset`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatImages {
    /// (train count, rows, cols, channels).
    pub train: Vec<f32>,
    /// (test count, rows, cols, channels).
    pub test: Vec<f32>,
}

/// The training images of a dataset folder, as published (the four file
/// names of a folder are these).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// The training labels of a dataset folder.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// The test images of a dataset folder.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// The test labels of a dataset folder.
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
            source: DataSource::Builtin(name),
            train_images,
            train_labels,
            test_images,
            test_labels,
            float_images: None,
            rows: ROWS,
            cols: COLS,
            channels: 1,
            num_classes: NUM_CLASSES,
        })
    }

    /// Loads the dataset `source` names: a shipped one from under `root`
    /// (as [`Dataset::load`]), or the user's own data, where `root` is not
    /// used (see [`custom`] for what is read and checked).
    pub fn load_source(root: &Path, source: &DataSource) -> Result<Dataset, DataError> {
        match source {
            DataSource::Builtin(name) => Dataset::load(root, *name),
            DataSource::IdxDir { idx_dir } => custom::load_idx_dir(idx_dir),
            DataSource::Npy(files) => custom::load_npy(files),
        }
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

    /// Values per image (rows · cols · channels).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols * self.channels
    }

    /// The images' shape (rows, cols, channels), as a model's input takes it.
    pub fn image_shape(&self) -> (usize, usize, usize) {
        (self.rows, self.cols, self.channels)
    }

    /// A name per class: the shipped datasets' own, else "0", "1", ....
    pub fn class_names(&self) -> Vec<String> {
        match self.source.builtin() {
            Some(n) => n.class_names().iter().map(|s| s.to_string()).collect(),
            None => (0..self.num_classes).map(|c| c.to_string()).collect(),
        }
    }

    /// Training examples.
    pub fn train_len(&self) -> usize {
        self.train_labels.len()
    }

    /// Test examples.
    pub fn test_len(&self) -> usize {
        self.test_labels.len()
    }

    /// Training images and labels `range` (in examples, not bytes).
    /// Panics if the range runs past the training set, like slice indexing,
    /// or if the images are f32 ([`Dataset::float_images`]).
    pub fn train_range(&self, range: Range<usize>) -> (&[u8], &[u8]) {
        let n = self.image_len();
        (
            &self.train_images[range.start * n..range.end * n],
            &self.train_labels[range],
        )
    }

    /// Test images and labels `range` (in examples). Panics past the end,
    /// or if the images are f32.
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
        self.pick(Split::Train, 0..train_n, Split::Test, 0..test_n)
    }

    /// Splits the training set: the first `n` examples become the training
    /// set, the rest the "test" set, used as validation data (the stacked
    /// study trains on the first 50,000 and validates on the last 10,000).
    /// The original test set is not in the result. `n` is clamped.
    pub fn split_train(&self, n: usize) -> Dataset {
        let n = n.min(self.train_len());
        self.pick(Split::Train, 0..n, Split::Train, n..self.train_len())
    }

    /// Keeps only the first `n` test examples (all if there are fewer).
    pub fn truncate_test(&mut self, n: usize) {
        let n = n.min(self.test_len());
        let f = self.image_len();
        self.test_images.truncate(n * f);
        self.test_labels.truncate(n);
        if let Some(fl) = &mut self.float_images {
            fl.test.truncate(n * f);
        }
    }

    /// A dataset of the examples `train` of split `a` and `test` of split `b`.
    fn pick(&self, a: Split, train: Range<usize>, b: Split, test: Range<usize>) -> Dataset {
        let f = self.image_len();
        let labels = |s: Split, r: &Range<usize>| self.split(s).1[r.clone()].to_vec();
        let u8s = |s: Split, r: &Range<usize>| match self.float_images {
            Some(_) => Vec::new(),
            None => self.split(s).0[r.start * f..r.end * f].to_vec(),
        };
        let floats = |s: Split, r: &Range<usize>| {
            let fl = self.float_images.as_ref()?;
            let v = if s == Split::Train {
                &fl.train
            } else {
                &fl.test
            };
            Some(v[r.start * f..r.end * f].to_vec())
        };
        let float_images = match (floats(a, &train), floats(b, &test)) {
            (Some(train), Some(test)) => Some(FloatImages { train, test }),
            _ => None,
        };
        Dataset {
            source: self.source.clone(),
            train_images: u8s(a, &train),
            train_labels: labels(a, &train),
            test_images: u8s(b, &test),
            test_labels: labels(b, &test),
            float_images,
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            num_classes: self.num_classes,
        }
    }

    /// The u8 images and the labels of one split.
    fn split(&self, s: Split) -> (&[u8], &[u8]) {
        match s {
            Split::Train => (&self.train_images, &self.train_labels),
            Split::Test => (&self.test_images, &self.test_labels),
        }
    }

    /// Test image `i` scaled to \[0,1\] (u8 / 255), for host-side figures.
    pub fn test_image_f32(&self, i: usize) -> Vec<f32> {
        let n = self.image_len();
        match &self.float_images {
            Some(f) => f.test[i * n..(i + 1) * n].to_vec(),
            None => to_unit_f32(&self.test_images[i * n..(i + 1) * n]),
        }
    }
}

/// One of a dataset's two splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    Train,
    Test,
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
