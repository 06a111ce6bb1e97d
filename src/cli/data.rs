//! The flags that name the user's own data (`dae train`, `dae eval`): an
//! IDX folder or four NumPy files. `--dataset` (a shipped dataset) and
//! `--data` (the folder holding the shipped datasets) stay with each
//! command's own flags.

use std::path::PathBuf;

use clap::Args;

use dae::data::{DataSource, NpyFiles};

/// Your own data instead of a shipped dataset (README: "Your own data").
#[derive(Args, Clone, Debug, Default)]
pub struct DataArgs {
    /// Train or score on an IDX folder of your own: train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
    /// t10k-labels-idx1-ubyte, each plain or gzipped (.gz); any HxW, one
    /// channel, labels 0..=255.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dataset", "data", "train_images"])]
    pub data_dir: Option<PathBuf>,
    /// NumPy training images: (N, H, W) or (N, H, W, C), uint8 or float32 in
    /// [0, 1]; with --train-labels, --test-images and --test-labels.
    #[arg(
        long,
        value_name = "X.npy",
        requires_all = ["train_labels", "test_images", "test_labels"],
        conflicts_with_all = ["dataset", "data"]
    )]
    pub train_images: Option<PathBuf>,
    /// NumPy training labels: (N) or (N, 1), any integer dtype; the number
    /// of classes is the largest label (of either split) + 1.
    #[arg(long, value_name = "Y.npy", requires = "train_images")]
    pub train_labels: Option<PathBuf>,
    /// NumPy test images, of the training images' H, W and C.
    #[arg(long, value_name = "X.npy", requires = "train_images")]
    pub test_images: Option<PathBuf>,
    /// NumPy test labels.
    #[arg(long, value_name = "Y.npy", requires = "train_images")]
    pub test_labels: Option<PathBuf>,
}

impl DataArgs {
    /// The data these flags name, with absolute paths; `None` where they
    /// name none (a shipped dataset then).
    pub fn source(&self) -> anyhow::Result<Option<DataSource>> {
        let source = if let Some(dir) = &self.data_dir {
            DataSource::IdxDir {
                idx_dir: dir.clone(),
            }
        } else if let (Some(xi), Some(yi), Some(xt), Some(yt)) = (
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ) {
            DataSource::Npy(NpyFiles {
                train_images: xi.clone(),
                train_labels: yi.clone(),
                test_images: xt.clone(),
                test_labels: yt.clone(),
            })
        } else {
            return Ok(None);
        };
        Ok(Some(source.absolute()?))
    }
}
