//! `dae experiment NAME`: a whole study (docs/studies.md), trained on the GPU,
//! written as CSV tables, PNG figures, checkpoints and a `report.md`.

mod conv_dae;
mod fashion_cae;

pub use fashion_cae::pca2;
mod mlp_dae;
mod sp_dae;
mod stacked;

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::data::{Dataset, DatasetName};
use crate::gpu::Gpu;
use crate::report;
use crate::run::TrainOptions;

/// The studies `dae experiment` knows, with what each produces.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "mlp-dae",
        "deep dense DAE; uniform-noise grids and MSE table; code vs raw-pixel classifiers",
    ),
    (
        "conv-dae",
        "convolutional DAE with masking noise; masked grid; classifier on its frozen encoder",
    ),
    (
        "fashion-cae",
        "conv AE and DAE with a 2-D code; loss curves; reconstructions; code scatter beside PCA",
    ),
    (
        "stacked",
        "shallow, layer-wise and fine-tuned AEs and DAEs; test-MSE table; interpolations; manifold walk",
    ),
    (
        "sp-dae",
        "MLP; L2 sweep; CNN; salt-and-pepper DAE; CNN on noisy vs denoised images; synthetic digits",
    ),
];

/// The dataset a study is defined on: Fashion-MNIST for fashion-cae and
/// mlp-dae, MNIST for the others.
pub fn default_dataset(name: &str) -> DatasetName {
    crate::nn::presets::default_dataset(name)
}

/// "1 epoch", "10 epochs".
pub(crate) fn epochs_text(n: usize) -> String {
    if n == 1 {
        "1 epoch".into()
    } else {
        format!("{n} epochs")
    }
}

/// Options shared by every study.
#[derive(Clone, Debug)]
pub struct ExperimentOptions {
    /// The dataset every training of the study uses.
    pub dataset: DatasetName,
    /// Fraction of each training's epochs to run (at least one epoch).
    pub scale: f64,
    /// Seed of every training.
    pub seed: u64,
    /// The study's folder: each training writes into a subfolder of it.
    pub out: PathBuf,
    /// The folder the datasets are read from.
    pub data_root: PathBuf,
    /// Train on only the first N training images (for quick checks).
    pub train_limit: Option<usize>,
    /// Evaluate on only the first N test images.
    pub test_limit: Option<usize>,
    /// Shows progress bars while training.
    pub progress: bool,
    /// Also checkpoint every this many steps inside an epoch.
    pub checkpoint_every: Option<usize>,
}

impl ExperimentOptions {
    /// The epochs a training of `full` epochs gets at this scale.
    pub fn epochs(&self, full: usize) -> usize {
        ((full as f64 * self.scale).round() as usize).max(1)
    }

    /// Options for one training of the study, written to `out/sub`.
    pub fn train(&self, preset: &str, sub: &str, full_epochs: usize) -> TrainOptions {
        TrainOptions {
            preset: preset.into(),
            model: None,
            dataset: self.dataset.into(),
            epochs: Some(self.epochs(full_epochs)),
            batch_size: None,
            lr: None,
            seed: self.seed,
            noise: None,
            l2: None,
            train_limit: self.train_limit,
            test_limit: self.test_limit,
            out: self.out.join(sub),
            data_root: self.data_root.clone(),
            progress: self.progress,
            encoder: None,
            checkpoint_every: self.checkpoint_every,
            // A study run again on its folder skips finished trainings and
            // resumes the interrupted one.
            mode: crate::run::FolderMode::Auto,
        }
    }

    /// The dataset, cut to `test_limit` test images.
    pub fn load(&self) -> anyhow::Result<Dataset> {
        let mut d = Dataset::load(&self.data_root, self.dataset)?;
        if let Some(n) = self.test_limit {
            let n = n.min(d.test_labels.len());
            let f = d.rows * d.cols;
            d.test_images.truncate(n * f);
            d.test_labels.truncate(n);
        }
        Ok(d)
    }
}

/// Runs study `name`; returns the path of its report.
pub fn run(gpu: &Gpu, name: &str, o: &ExperimentOptions) -> anyhow::Result<PathBuf> {
    if !(o.scale > 0.0 && o.scale <= 1.0) {
        bail!("--scale must be in (0, 1], got {}", o.scale);
    }
    // One study per folder at a time (each training also locks its own).
    let _lock = crate::run::folder::RunFolder::lock(&o.out)?;
    match name {
        "mlp-dae" => mlp_dae::run(gpu, o),
        "conv-dae" => conv_dae::run(gpu, o),
        "sp-dae" => sp_dae::run(gpu, o),
        "fashion-cae" => fashion_cae::run(gpu, o),
        "stacked" => stacked::run(gpu, o),
        _ => {
            let known: Vec<&str> = EXPERIMENTS.iter().map(|(n, _)| *n).collect();
            bail!(
                "unknown experiment {name:?}; implemented: {}",
                known.join(", ")
            )
        }
    }
}

/// A markdown report built section by section.
#[derive(Default)]
pub struct Report {
    text: String,
}

impl Report {
    /// Appends a heading of `level` (1 for `#`).
    pub fn heading(&mut self, level: usize, title: &str) {
        self.text
            .push_str(&format!("{} {title}\n\n", "#".repeat(level)));
    }

    /// Appends a paragraph.
    pub fn para(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push_str("\n\n");
    }

    /// Appends a table with these column names; each row one cell per column.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.text.push_str(&format!("| {} |\n", header.join(" | ")));
        self.text
            .push_str(&format!("|{}\n", " --- |".repeat(header.len())));
        for r in rows {
            self.text.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        self.text.push('\n');
    }

    /// Appends an image link: `path` relative to the report's folder, `caption`
    /// its alt text.
    pub fn image(&mut self, caption: &str, path: &str) {
        self.text.push_str(&format!("![{caption}]({path})\n\n"));
    }

    /// Writes the report to `path`, atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        report::atomic_write(path, self.text.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_study_defaults_to_its_own_dataset() {
        let fashion = ["fashion-cae", "mlp-dae"];
        for (name, _) in EXPERIMENTS {
            let want = if fashion.contains(name) {
                DatasetName::FashionMnist
            } else {
                DatasetName::Mnist
            };
            assert_eq!(default_dataset(name), want, "{name}");
        }
        for p in ["code-classifier", "raw-classifier"] {
            assert_eq!(default_dataset(p), DatasetName::FashionMnist, "{p}");
        }
    }
}
