//! Whole training epochs of each preset, for `dae bench --compare` and the
//! side-by-side comparison with another framework (`benches/compare.py`).
//!
//! Each preset trains on the first N training images of its study's dataset
//! and evaluates on a proportionate slice of the test set, through the same
//! [`Trainer::run_epoch`] that `dae train` drives (shuffle, every whole
//! batch, the test pass, the end-of-epoch readback). One warm-up epoch
//! compiles every pipeline; the median of `reps` warm epochs is reported.
//! Samples/s counts the training images of an epoch over its whole wall
//! time, test pass included, as a Keras `fit` epoch with `validation_data`
//! is timed.

use serde::Serialize;

use super::median;
use crate::data::{Dataset, DatasetName};
use crate::gpu::Gpu;
use crate::nn::presets;
use crate::train::Trainer;

/// Timed epochs per preset when `--reps` is not given.
pub const DEFAULT_REPS: usize = 3;

/// Training images per epoch when `--train-limit` is not given: enough for
/// several submissions of 16 steps at the presets' batch sizes, few enough
/// that every preset's warm-up and timed epochs take seconds on lavapipe.
const DEFAULT_TRAIN_IMAGES: usize = 2048;

/// fashion-cae costs about 0.66 GFLOP per image and step, some 60 times
/// sp-cnn's (an epoch of 200 images takes 10–25 s on 2-core lavapipe), so
/// by default it gets 2 batches of its 100.
const DEFAULT_TRAIN_IMAGES_FASHION_CAE: usize = 200;

/// What `dae bench --compare` times.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Preset names, in the order the rows come out.
    pub presets: Vec<String>,
    /// Training images per epoch for every preset; `None` for the defaults.
    pub train_limit: Option<usize>,
    /// Timed epochs per preset (after one warm-up).
    pub reps: usize,
}

impl CompareOptions {
    /// Every preset, default sizes.
    pub fn all() -> CompareOptions {
        CompareOptions {
            presets: presets::PRESETS
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
            train_limit: None,
            reps: DEFAULT_REPS,
        }
    }

    /// Checks the names and numbers, so that a typo fails before any data
    /// loads or the GPU opens.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.presets.is_empty(), "--presets: no preset named");
        for p in &self.presets {
            presets::preset(p).map_err(|e| anyhow::anyhow!("--presets: {e}"))?;
        }
        anyhow::ensure!(
            (1..=100).contains(&self.reps),
            "--reps must be between 1 and 100 with --compare, got {}",
            self.reps
        );
        if self.train_limit == Some(0) {
            anyhow::bail!("--train-limit must be at least 1");
        }
        Ok(())
    }

    /// The datasets the presets train on, each once.
    pub fn datasets(&self) -> Vec<DatasetName> {
        let mut v: Vec<DatasetName> = Vec::new();
        for p in &self.presets {
            let d = presets::default_dataset(p);
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }
}

/// One preset's warm epochs.
#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    /// The preset timed.
    pub preset: String,
    /// The dataset it trained on (its study's).
    pub dataset: String,
    /// The preset's batch size.
    pub batch: usize,
    /// Images trained per epoch (whole batches of the first N).
    pub train_images: usize,
    /// Images in the test pass of each epoch.
    pub test_images: usize,
    /// Images one epoch of `dae train` trains on with the preset's defaults.
    pub full_train_images: usize,
    /// The warm-up epoch (pipeline compilation included).
    pub warmup_s: f64,
    /// Every timed epoch, in order.
    pub epoch_s: Vec<f64>,
    /// The median of `epoch_s`.
    pub median_epoch_s: f64,
    /// `train_images / median_epoch_s`.
    pub samples_per_s: f64,
    /// A full epoch (and its full test pass) at that rate:
    /// `full_train_images / samples_per_s`.
    pub full_epoch_s: f64,
}

/// Times `o.presets` in order, calling `on_row` as each finishes.
/// `data` holds at least the datasets of [`CompareOptions::datasets`].
pub fn compare_rows(
    gpu: &Gpu,
    o: &CompareOptions,
    data: &[Dataset],
    mut on_row: impl FnMut(&CompareRow),
) -> anyhow::Result<Vec<CompareRow>> {
    let mut rows = Vec::with_capacity(o.presets.len());
    for name in &o.presets {
        let want = presets::default_dataset(name);
        let full = data
            .iter()
            .find(|d| d.source.builtin() == Some(want))
            .ok_or_else(|| anyhow::anyhow!("{name}: the {want} dataset was not loaded"))?;
        let row = time_preset(gpu, name, o, full)?;
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

fn time_preset(
    gpu: &Gpu,
    name: &str,
    o: &CompareOptions,
    full: &Dataset,
) -> anyhow::Result<CompareRow> {
    let spec = presets::preset(name).map_err(anyhow::Error::msg)?;
    let full_train = spec
        .train_limit
        .map_or(full.train_len(), |n| n.min(full.train_len()));
    let default_n = if name == "fashion-cae" {
        DEFAULT_TRAIN_IMAGES_FASHION_CAE
    } else {
        DEFAULT_TRAIN_IMAGES
    };
    let train_n = o.train_limit.unwrap_or(default_n).min(full_train);
    // The test pass keeps a full epoch's ratio of test to training images.
    let test_n = (train_n * full.test_len())
        .div_ceil(full_train.max(1))
        .clamp(1, full.test_len());
    let subset = full.subset(train_n, test_n);
    let batch = spec.batch_size;
    let mut trainer = Trainer::new(gpu, spec, &subset, None, 1)?;
    let trained = (trainer.train_steps * trainer.batch).min(trainer.data.train.count);
    let warmup_s = trainer.run_epoch(1, |_, _| {})?.seconds;
    let epoch_s: Vec<f64> = (0..o.reps)
        .map(|i| trainer.run_epoch(2 + i, |_, _| {}).map(|m| m.seconds))
        .collect::<anyhow::Result<_>>()?;
    let median_epoch_s = median(&mut epoch_s.clone());
    let samples_per_s = trained as f64 / median_epoch_s.max(1e-9);
    Ok(CompareRow {
        preset: name.to_string(),
        dataset: full.source.to_string(),
        batch,
        train_images: trained,
        test_images: trainer.data.test.count,
        full_train_images: full_train,
        warmup_s,
        epoch_s,
        median_epoch_s,
        samples_per_s,
        full_epoch_s: full_train as f64 / samples_per_s.max(1e-9),
    })
}

/// Prints `preset | dataset | batch | train/test | s/epoch | samples/s |
/// s per full epoch`.
pub fn print_compare(rows: &[CompareRow]) {
    let w = rows
        .iter()
        .map(|r| r.preset.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<w$} | {:<13} | {:>5} | {:>11} | {:>8} | {:>9} | {:>11}",
        "preset", "dataset", "batch", "train/test", "s/epoch", "samples/s", "s/full ep."
    );
    println!(
        "{}-|-{}-|-{}-|-{}-|-{}-|-{}-|-{}",
        "-".repeat(w),
        "-".repeat(13),
        "-".repeat(5),
        "-".repeat(11),
        "-".repeat(8),
        "-".repeat(9),
        "-".repeat(11)
    );
    for r in rows {
        println!(
            "{:<w$} | {:<13} | {:>5} | {:>11} | {:>8.3} | {:>9.1} | {:>11.1}",
            r.preset,
            r.dataset,
            r.batch,
            format!("{}/{}", r.train_images, r.test_images),
            r.median_epoch_s,
            r.samples_per_s,
            r.full_epoch_s
        );
    }
}
