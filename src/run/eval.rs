//! `dae eval`: a checkpoint scored on a test set exactly as its training
//! scored it (same seed, so the same noise draws, and the same batch size,
//! so the same sums), unless told otherwise.

use std::path::{Path, PathBuf};

use crate::data::{DataSource, Dataset};
use crate::gpu::Gpu;
use crate::kernels::noise::Noise;
use crate::nn::params::ParamLayout;
use crate::nn::{presets, ModelSpec};
use crate::report;
use crate::train::Trainer;

use super::checkpoint::load_params;

/// What `dae eval` may change about a checkpoint's own evaluation.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Data to score on (default: the data it was trained on, which the
    /// checkpoint records: a shipped dataset by name, other data by the
    /// absolute paths it was trained from).
    pub dataset: Option<DataSource>,
    /// Input noise (default: the training noise).
    pub noise: Option<Noise>,
    /// Score the first N test images only.
    pub test_limit: Option<usize>,
    /// Folder holding the datasets.
    pub data_root: PathBuf,
}

/// What an evaluation gives.
#[derive(Clone, Debug)]
pub struct EvalResult {
    /// The checkpoint's model, as evaluated (its noise and batch size).
    pub spec: ModelSpec,
    /// Mean test loss per image (the model's loss: MSE or BCE per pixel,
    /// averaged; cross-entropy per image).
    pub loss: f64,
    /// Classifiers: the fraction of test images classified right.
    pub accuracy: Option<f64>,
    /// Test images scored.
    pub images: usize,
    /// The `--test-limit` the checkpoint was trained with, if any.
    pub trained_test_limit: Option<usize>,
}

/// Scores a checkpoint on the test set.
pub fn eval(gpu: &Gpu, checkpoint: &Path, o: &EvalOptions) -> anyhow::Result<EvalResult> {
    if o.test_limit == Some(0) {
        anyhow::bail!("--test-limit must be at least 1");
    }
    let ck = report::load_checkpoint(checkpoint)?;
    let meta = &ck.metadata;
    let get = |k: &str| {
        meta.get(k).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "checkpoint {} lacks metadata {k:?}; was it written by `dae train`?",
                checkpoint.display()
            )
        })
    };
    let number = |k: &str| -> anyhow::Result<Option<u64>> {
        meta.get(k)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    anyhow::anyhow!("checkpoint {}: metadata {k} is {v:?}", checkpoint.display())
                })
            })
            .transpose()
    };
    let mut spec = checkpoint_spec(checkpoint, &ck)?;
    spec.noise = match o.noise {
        Some(n) => n,
        None => get("noise")?
            .parse()
            .map_err(|e| anyhow::anyhow!("checkpoint noise: {e}"))?,
    };
    // The batch size and seed training evaluated with, so that noisy models
    // draw the same noise and every sum adds up in the same order.
    if let Some(b) = number("batch_size")? {
        spec.batch_size = (b as usize).clamp(1, super::MAX_BATCH);
    }
    let seed = number("seed")?.unwrap_or(0);
    spec.train_limit = Some(1);
    let dataset = match &o.dataset {
        Some(d) => d.clone(),
        None => DataSource::from_json(&get("dataset")?).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {}: its dataset {e}. Fix: name the data to score on (--dataset, \
                 --data-dir, or --train-images with the other NumPy files)",
                checkpoint.display()
            )
        })?,
    };
    let mut data = Dataset::load_source(&o.data_root, &dataset).map_err(|e| {
        let given = if o.dataset.is_some() {
            "the data given"
        } else {
            "the data it was trained on, as its metadata records it"
        };
        anyhow::anyhow!(
            "{e}\n(loading {given}: {dataset}; to score on other data pass --dataset, \
             --data-dir or the NumPy files)"
        )
    })?;
    super::limit_test(&mut data, o.test_limit)?;
    let resolved = crate::train::fit::check_fit(&spec, &data).map_err(|e| {
        anyhow::anyhow!(
            "checkpoint {} cannot score {dataset}: {e}",
            checkpoint.display()
        )
    })?;
    // Before the parameter buffer is allocated: a spec edited to absurd
    // sizes gets a message, not an abort. (Trainer::new checks the whole
    // run again with the dataset's real size.)
    crate::nn::budget::check_data(
        &spec,
        &resolved,
        spec.batch_size,
        (1, data.test_len()),
        spec.input.size(),
        data.float_images.is_some(),
        &crate::nn::budget::Limits::for_gpu(gpu),
    )
    .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", checkpoint.display()))?;
    let layout = ParamLayout::new(&spec, &resolved);
    let (params, _) = load_params(checkpoint, &layout)?;
    let images = data.test_labels.len();
    let mut trainer = Trainer::new(gpu, spec.clone(), &data, Some(params), seed)?;
    let (loss, accuracy) = trainer.evaluate()?;
    if !loss.is_finite() {
        anyhow::bail!(
            "checkpoint {}: the test loss is {loss}: the model's outputs are not finite on this data",
            checkpoint.display()
        );
    }
    Ok(EvalResult {
        spec,
        loss,
        accuracy,
        images,
        trained_test_limit: number("test_limit")?.map(|n| n as usize),
    })
}

/// The model spec a checkpoint stores (its "spec" metadata), or for an
/// older checkpoint without one the preset it names: how `dae eval` and
/// `dae export` read a checkpoint's model back. `checkpoint` only names the
/// file in errors.
pub fn checkpoint_spec(checkpoint: &Path, ck: &report::Checkpoint) -> anyhow::Result<ModelSpec> {
    let meta = &ck.metadata;
    let spec = match meta.get("spec") {
        Some(json) => serde_json::from_str::<ModelSpec>(json).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {}: its model spec does not parse ({e}); was it written by another \
                 version of dae? Fix: retrain it with this version",
                checkpoint.display()
            )
        })?,
        None => {
            let name = meta.get("preset").cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "checkpoint {} lacks metadata \"preset\"; was it written by `dae train`?",
                    checkpoint.display()
                )
            })?;
            presets::preset(&name).map_err(|e| {
                anyhow::anyhow!(
                    "checkpoint {} stores no model spec and {name:?} is not a preset ({e}); it was \
                     written by an older dae. Fix: retrain it with this version",
                    checkpoint.display()
                )
            })?
        }
    };
    Ok(spec)
}
