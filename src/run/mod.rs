//! A whole training run as the CLI and the studies drive it: options and
//! their validation, the run folder (lock, overwrite policy, resume), the
//! epoch loop with checkpoints, divergence checks and interrupts, and every
//! file a run writes.
//!
//! At every checkpoint (the end of an epoch, every `--checkpoint-every`
//! steps, and on SIGINT/SIGTERM) the run first writes `state.safetensors`,
//! which holds everything needed to continue bit for bit; at the end of an
//! epoch it then writes `model.safetensors` (clean weights), `metrics.csv`
//! and the figures. All files are written atomically, so a kill at any
//! moment leaves a folder that loads and resumes, and loses at most the
//! steps since the last checkpoint.

mod checkpoint;
mod eval;
mod figures;
pub mod folder;
pub mod interrupt;
mod session;
mod state;

use std::path::PathBuf;

use anyhow::bail;

use crate::data::{DataSource, Dataset};
use crate::gpu::Gpu;
use crate::kernels::noise::Noise;
use crate::nn::{presets, ModelSpec};
use crate::optim::Optimizer;
use crate::train::EpochMetrics;

pub use checkpoint::{copy_named, first_nonfinite, load_params, save_checkpoint};
pub use eval::{checkpoint_spec, eval, EvalOptions, EvalResult};
pub use folder::FolderMode;
pub use interrupt::Interrupted;
pub use state::{RunConfig, RunState};

/// Everything `dae train` accepts.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The preset to train, unless `model` is given (then only a label).
    pub preset: String,
    /// A model of the user's own (`dae train --model FILE`), trained
    /// instead of the preset.
    pub model: Option<ModelSpec>,
    /// The data to train on: a shipped dataset (under `data_root`), an IDX
    /// folder or NumPy files.
    pub dataset: DataSource,
    /// Epochs to train (default: the model's).
    pub epochs: Option<usize>,
    /// Examples per optimizer step (default: the model's).
    pub batch_size: Option<usize>,
    /// The optimizer's learning rate (default: the model's).
    pub lr: Option<f32>,
    /// Seed of the initial weights, the shuffling, the noise and dropout:
    /// the same seed gives the same run, bit for bit.
    pub seed: u64,
    /// Input noise in training (default: the model's).
    pub noise: Option<Noise>,
    /// Keras `l2(factor)` on every Dense kernel (default: the model's).
    pub l2: Option<f32>,
    /// Use only the first N training images.
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    pub test_limit: Option<usize>,
    /// The run folder: state, checkpoint, metrics and figures.
    pub out: PathBuf,
    /// The folder holding the shipped datasets (`mnist/`, `fashion-mnist/`).
    pub data_root: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
    /// An autoencoder checkpoint providing the encoder layers of presets
    /// built on one (`code-classifier`, `conv-dae-classifier`).
    pub encoder: Option<PathBuf>,
    /// Also checkpoint every this many optimizer steps inside an epoch.
    pub checkpoint_every: Option<usize>,
    /// What to do when `out` already holds a run.
    pub mode: FolderMode,
}

impl TrainOptions {
    /// A preset's defaults, writing to `out`, refusing a folder that holds
    /// a run. `dataset` is a [`DataSource`] or a
    /// [`DatasetName`](crate::data::DatasetName).
    pub fn new(preset: &str, dataset: impl Into<DataSource>, out: PathBuf) -> TrainOptions {
        TrainOptions {
            preset: preset.into(),
            model: None,
            dataset: dataset.into(),
            epochs: None,
            batch_size: None,
            lr: None,
            seed: 1,
            noise: None,
            l2: None,
            train_limit: None,
            test_limit: None,
            out,
            data_root: Dataset::default_root(),
            progress: false,
            encoder: None,
            checkpoint_every: None,
            mode: FolderMode::Fresh,
        }
    }
}

/// Limits that keep a typo from asking for something absurd.
const MAX_EPOCHS: usize = 100_000;
pub(crate) const MAX_BATCH: usize = 65_536;

/// The preset's (or `o.model`'s) spec with the options applied, or a
/// message naming the bad option and its accepted range.
pub fn build_spec(o: &TrainOptions) -> anyhow::Result<ModelSpec> {
    let mut spec = match &o.model {
        Some(m) => m.clone(),
        None => presets::preset(&o.preset).map_err(anyhow::Error::msg)?,
    };
    check_options(o)?;
    if let Some(e) = o.epochs {
        spec.epochs = e;
    }
    if let Some(b) = o.batch_size {
        spec.batch_size = b;
    }
    if let Some(lr) = o.lr {
        spec.optimizer = match spec.optimizer {
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            },
            Optimizer::Sgd { momentum, .. } => Optimizer::Sgd { lr, momentum },
        };
    }
    if let Some(n) = o.noise {
        spec.noise = n;
    }
    if let Some(l2) = o.l2 {
        spec.l2 = l2;
    }
    if let Some(n) = o.train_limit {
        spec.train_limit = Some(spec.train_limit.map_or(n, |p| p.min(n)));
    }
    let what = if o.model.is_some() { "model" } else { "preset" };
    if spec.epochs == 0 || spec.epochs > MAX_EPOCHS {
        bail!(
            "{what} {}: epochs must be between 1 and {MAX_EPOCHS}, got {}",
            spec.name,
            spec.epochs
        );
    }
    if spec.batch_size == 0 || spec.batch_size > MAX_BATCH {
        bail!(
            "{what} {}: batch_size must be between 1 and {MAX_BATCH}, got {}",
            spec.name,
            spec.batch_size
        );
    }
    // The layers only: the classes come from the data (train::fit).
    spec.resolve_layers()
        .map_err(|e| anyhow::anyhow!("{what} {}: {e}", spec.name))?;
    Ok(spec)
}

/// The ranges of the numeric options.
fn check_options(o: &TrainOptions) -> anyhow::Result<()> {
    if let Some(e) = o.epochs {
        if e == 0 || e > MAX_EPOCHS {
            bail!("--epochs must be between 1 and {MAX_EPOCHS}, got {e}");
        }
    }
    if let Some(b) = o.batch_size {
        if b == 0 || b > MAX_BATCH {
            bail!("--batch-size must be between 1 and {MAX_BATCH}, got {b}");
        }
    }
    if let Some(lr) = o.lr {
        if !(lr.is_finite() && lr > 0.0 && lr <= 10.0) {
            bail!("--lr must be a number in (0, 10], got {lr}");
        }
    }
    if let Some(l2) = o.l2 {
        if !(l2.is_finite() && (0.0..=1.0).contains(&l2)) {
            bail!("--l2 must be in [0, 1], got {l2}");
        }
    }
    if o.train_limit == Some(0) {
        bail!("--train-limit must be at least 1");
    }
    if o.test_limit == Some(0) {
        bail!("--test-limit must be at least 1");
    }
    if let Some(k) = o.checkpoint_every {
        if k == 0 || k > u32::MAX as usize {
            bail!(
                "--checkpoint-every must be between 1 and {} steps, got {k}",
                u32::MAX
            );
        }
    }
    Ok(())
}

/// What a finished run reports.
pub struct RunResult {
    /// The model as trained, with the options applied.
    pub spec: ModelSpec,
    /// One entry per finished epoch (including those of earlier sessions
    /// of a resumed run).
    pub history: Vec<EpochMetrics>,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: usize,
    /// The run folder.
    pub out: PathBuf,
}

/// Keeps the first `n` test images.
pub(crate) fn limit_test(data: &mut Dataset, n: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = n {
        if n == 0 {
            bail!("--test-limit must be at least 1");
        }
        data.truncate_test(n);
    }
    Ok(())
}

/// Trains per `o`, printing one line per epoch, and writes into `o.out`:
/// state.safetensors, model.safetensors, metrics.csv, loss.png and
/// accuracy.png or reconstructions.png.
pub fn train(gpu: &Gpu, o: &TrainOptions) -> anyhow::Result<RunResult> {
    let data = Dataset::load_source(&o.data_root, &o.dataset)?;
    train_on(gpu, o, data)
}

/// [`train`] on an already loaded dataset (`o.data_root` and `o.dataset`
/// only label the run, and tell `--resume` where to find the data again).
pub fn train_on(gpu: &Gpu, o: &TrainOptions, data: Dataset) -> anyhow::Result<RunResult> {
    let spec = build_spec(o)?;
    // A run that is resumed or already finished needs no encoder.
    let init = match o.mode {
        FolderMode::Resume => None,
        FolderMode::Auto if folder::holds_run(&o.out) => None,
        _ => checkpoint::encoder_init(&spec, o)?,
    };
    train_spec(gpu, o, spec, data, init)
}

/// Trains `spec` (built by the caller, not a preset) from `init` (or
/// seeded values), writing the same files as [`train`]. `o.preset` and
/// `o.encoder` are ignored; epochs, noise and the other options should
/// already be in `spec`. `init` is ignored when the run resumes.
pub fn train_spec(
    gpu: &Gpu,
    o: &TrainOptions,
    spec: ModelSpec,
    data: Dataset,
    init: Option<Vec<f32>>,
) -> anyhow::Result<RunResult> {
    session::run(gpu, o, spec, data, init)
}

/// The options and spec that continue the run in `dir` (`dae train
/// --resume DIR`): its own settings and data source (an IDX folder or NumPy
/// files by the absolute paths it recorded), with `epochs` (to extend a
/// finished run), `data_root` and `checkpoint_every` when given.
pub fn resume_options(
    dir: &std::path::Path,
    epochs: Option<usize>,
    data_root: Option<PathBuf>,
    checkpoint_every: Option<usize>,
) -> anyhow::Result<(TrainOptions, ModelSpec)> {
    let path = dir.join(folder::STATE);
    if !path.exists() {
        if dir.join(folder::MODEL).exists() {
            bail!(
                "--resume {}: the folder holds a model but no run state ({}), so the run cannot \
                 continue exactly (it was written by an older dae, or the folder was copied \
                 without it). Fix: train anew with --overwrite or another --out",
                dir.display(),
                folder::STATE
            );
        }
        bail!(
            "--resume {}: no run there ({} not found). Fix: pass the --out folder of a dae train run",
            dir.display(),
            folder::STATE
        );
    }
    let st = RunState::load(&path)?;
    let mut spec = st.config.spec.clone();
    if let Some(e) = epochs {
        if e == 0 || e > MAX_EPOCHS {
            bail!("--epochs must be between 1 and {MAX_EPOCHS}, got {e}");
        }
        if e < st.epochs_done {
            bail!(
                "--epochs {e}: the run in {} has already trained {} epochs. Fix: pass at least {}",
                dir.display(),
                st.epochs_done,
                st.epochs_done
            );
        }
        spec.epochs = e;
    }
    let mut o = TrainOptions::new(&spec.name, st.config.dataset.clone(), dir.to_path_buf());
    o.seed = st.config.seed;
    o.test_limit = st.config.test_limit;
    o.data_root = data_root.unwrap_or(st.config.data_root.clone());
    o.checkpoint_every = checkpoint_every.or(st.config.checkpoint_every);
    o.mode = FolderMode::Resume;
    check_options(&o)?;
    Ok((o, spec))
}
