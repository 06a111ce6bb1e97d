//! The subcommands, over the library's `run`, `nn` and `bench` modules.

mod adapter;
mod bench;
mod data;
mod export;
mod model;

use adapter::tuning_lines;
pub use adapter::{check, info};
pub use bench::{bench, BenchArgs};
pub use data::DataArgs;
pub use export::export;
pub use model::{spec, summary};

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use dae::data::{Dataset, DatasetName};
use dae::gpu::Gpu;
use dae::kernels::noise::Noise;
use dae::run::{self, FolderMode, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// A preset (see docs/studies.md and `dae summary --preset NAME`).
    #[arg(long, required_unless_present_any = ["resume", "model"], conflicts_with = "model")]
    preset: Option<String>,
    /// A model file (TOML; see docs/model-files.md, `dae spec --preset
    /// NAME` and examples/models/) to train instead of a preset.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint, with its own
    /// settings; with --epochs N, extend a finished run to N epochs.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["preset", "model", "dataset", "batch_size", "lr", "seed", "noise", "l2", "train_limit", "test_limit", "out", "encoder", "overwrite", "data_dir", "train_images"])]
    resume: Option<PathBuf>,
    /// Replace the run that --out holds (its model, state and metrics).
    #[arg(long)]
    overwrite: bool,
    /// Also checkpoint every N optimizer steps inside an epoch (always at
    /// the end of each epoch and on Ctrl-C).
    #[arg(long, value_name = "STEPS")]
    checkpoint_every: Option<usize>,
    /// mnist or fashion-mnist (default: the preset's study's dataset,
    /// fashion-mnist for fashion-cae and the mlp-dae study, mnist for the others).
    #[arg(long)]
    dataset: Option<String>,
    /// Epochs (default: the study's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size (default: the study's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate (default: the study's).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f32>,
    /// Seed for initialisation, shuffling, noise and dropout [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Input noise KIND:LEVEL: none, gaussian:S, gaussian-noclip:S, uniform:P,
    /// salt-pepper:P, masking:P (default: the study's).
    #[arg(long)]
    noise: Option<String>,
    /// L2 factor on the Dense kernels (Keras l2).
    #[arg(long, allow_negative_numbers = true)]
    l2: Option<f32>,
    /// Train on the first N training images only.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Output folder (default: runs/PRESET-DATASET-sSEED, or the first
    /// free runs/PRESET-DATASET-sSEED-N when that holds a run).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folder holding mnist/ and fashion-mnist/ (default: ./data, or $DAE_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Autoencoder checkpoint whose encoder a classifier preset builds on
    /// (code-classifier: an mlp-dae run; conv-dae-classifier: a conv-dae run).
    #[arg(long)]
    encoder: Option<PathBuf>,
    #[command(flatten)]
    own_data: DataArgs,
}

fn parse_dataset(s: &str) -> anyhow::Result<DatasetName> {
    s.parse::<DatasetName>()
        .map_err(|e| anyhow::anyhow!("--dataset: {e}"))
}

fn parse_noise(s: &str) -> anyhow::Result<Noise> {
    s.parse::<Noise>()
        .map_err(|e| anyhow::anyhow!("--noise: {e}"))
}

/// The device, with the adapter's cached tuning read and tuning on for
/// the plans built on it.
pub(crate) fn open_gpu() -> anyhow::Result<Gpu> {
    let gpu = Gpu::new()?;
    if dae::tune::enabled(&gpu) {
        if let Some(p) = dae::tune::cache::path(&gpu) {
            dae::tune::cache::load(&gpu, &p)?;
        }
        gpu.set_autotune(true);
    }
    Ok(gpu)
}

pub fn train(a: TrainArgs) -> anyhow::Result<()> {
    if let Some(dir) = &a.resume {
        let (mut opts, spec) =
            run::resume_options(dir, a.epochs, a.data.clone(), a.checkpoint_every)?;
        opts.progress = !a.quiet;
        let data = Dataset::load_source(&opts.data_root, &opts.dataset)?;
        let gpu = open_gpu()?;
        let r = run::train_spec(&gpu, &opts, spec, data, None)?;
        println!("wrote {}", r.out.display());
        return Ok(());
    }
    // A model file is read and checked before anything else.
    let model = a.model.as_deref().map(model::load).transpose()?;
    let preset = match &model {
        Some(m) => m.name.clone(),
        None => a.preset.clone().unwrap_or_default(),
    };
    let dataset = match (a.own_data.source()?, &a.dataset) {
        (Some(own), _) => own,
        (None, Some(d)) => parse_dataset(d)?.into(),
        (None, None) => dae::nn::presets::default_dataset(&preset).into(),
    };
    let data_name = dataset.short_name();
    let noise = a.noise.as_deref().map(parse_noise).transpose()?;
    let seed = a.seed.unwrap_or(1);
    let out = match &a.out {
        Some(out) => out.clone(),
        // The default name never lands on a finished run: it takes the next
        // free suffix instead.
        None if a.overwrite => PathBuf::from("runs").join(format!("{preset}-{data_name}-s{seed}")),
        None => run::folder::next_free(
            &PathBuf::from("runs").join(format!("{preset}-{data_name}-s{seed}")),
        ),
    };
    let mut opts = TrainOptions::new(&preset, dataset, out);
    opts.model = model;
    opts.epochs = a.epochs;
    opts.batch_size = a.batch_size;
    opts.lr = a.lr;
    opts.seed = seed;
    opts.noise = noise;
    opts.l2 = a.l2;
    opts.train_limit = a.train_limit;
    opts.test_limit = a.test_limit;
    opts.data_root = a.data.unwrap_or_else(Dataset::default_root);
    opts.progress = !a.quiet;
    opts.encoder = a.encoder;
    opts.checkpoint_every = a.checkpoint_every;
    opts.mode = if a.overwrite {
        FolderMode::Overwrite
    } else {
        FolderMode::Fresh
    };
    // Check the options, the folder and the data before paying for the GPU.
    let spec = run::build_spec(&opts)?;
    if opts.mode == FolderMode::Fresh {
        run::folder::refuse_existing_run(&opts.out)?;
    }
    // Proves the folder writable and free before the data loads.
    drop(run::folder::RunFolder::lock(&opts.out)?);
    let data = Dataset::load_source(&opts.data_root, &opts.dataset)?;
    dae::train::fit::check_fit(&spec, &data).map_err(anyhow::Error::msg)?;
    let gpu = open_gpu()?;
    let r = run::train_on(&gpu, &opts, data)?;
    println!("wrote {}", r.out.display());
    Ok(())
}

pub fn eval(
    checkpoint: &Path,
    dataset: Option<&str>,
    noise: Option<&str>,
    data: Option<PathBuf>,
    test_limit: Option<usize>,
    own_data: &DataArgs,
) -> anyhow::Result<()> {
    let dataset = match own_data.source()? {
        // Checked here, before the GPU opens (run::eval loads it again).
        Some(own) => Some(Dataset::load_source(Path::new(""), &own).map(|_| own)?),
        None => dataset.map(parse_dataset).transpose()?.map(Into::into),
    };
    let noise = noise.map(parse_noise).transpose()?;
    if test_limit == Some(0) {
        anyhow::bail!("--test-limit must be at least 1");
    }
    if !checkpoint.exists() {
        anyhow::bail!(
            "checkpoint {} does not exist. Fix: pass a model.safetensors that `dae train` or `dae experiment` wrote (in its --out folder)",
            checkpoint.display()
        );
    }
    let gpu = open_gpu()?;
    let o = run::EvalOptions {
        dataset,
        noise,
        test_limit,
        data_root: data.unwrap_or_else(Dataset::default_root),
    };
    let r = run::eval(&gpu, checkpoint, &o)
        .with_context(|| format!("evaluating {}", checkpoint.display()))?;
    let spec = &r.spec;
    match r.accuracy {
        Some(a) => println!(
            "{}: test loss {:.5}, test accuracy {:.2}% ({} images)",
            spec.name,
            r.loss,
            100.0 * a,
            r.images
        ),
        None => println!(
            "{}: test {} {:.6} (noise {}, {} images)",
            spec.name,
            spec.loss.name(),
            r.loss,
            spec.noise,
            r.images
        ),
    }
    if let (Some(n), None) = (r.trained_test_limit, test_limit) {
        println!("note: it was trained with --test-limit {n}; pass the same to compare with its metrics.csv");
    }
    Ok(())
}

#[derive(Args)]
pub struct ExperimentArgs {
    /// The study: mlp-dae, conv-dae, stacked, fashion-cae or sp-dae.
    name: String,
    /// mnist or fashion-mnist (default: the study's own dataset,
    /// fashion-mnist for fashion-cae and the mlp-dae study, mnist for the others).
    #[arg(long)]
    dataset: Option<String>,
    /// Fraction of every training's epochs, in (0, 1] (at least one epoch).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (default: runs/experiment-NAME-DATASET-sSEED).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train on the first N training images only.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Folder holding mnist/ and fashion-mnist/ (default: ./data, or $DAE_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Also checkpoint every N optimizer steps inside an epoch.
    #[arg(long, value_name = "STEPS")]
    checkpoint_every: Option<usize>,
}

pub fn experiment(a: ExperimentArgs) -> anyhow::Result<()> {
    let dataset = match &a.dataset {
        Some(d) => parse_dataset(d)?,
        None => dae::experiment::default_dataset(&a.name),
    };
    if !(a.scale > 0.0 && a.scale <= 1.0) {
        anyhow::bail!("--scale must be in (0, 1], got {}", a.scale);
    }
    let o = dae::experiment::ExperimentOptions {
        dataset,
        scale: a.scale,
        seed: a.seed,
        out: a.out.unwrap_or_else(|| {
            PathBuf::from("runs").join(format!("experiment-{}-{}-s{}", a.name, dataset, a.seed))
        }),
        data_root: a.data.clone().unwrap_or_else(Dataset::default_root),
        train_limit: a.train_limit,
        test_limit: a.test_limit,
        progress: !a.quiet,
        checkpoint_every: a.checkpoint_every,
    };
    if a.checkpoint_every == Some(0) {
        anyhow::bail!("--checkpoint-every must be at least 1");
    }
    if a.test_limit == Some(0) {
        anyhow::bail!("--test-limit must be at least 1");
    }
    if a.train_limit == Some(0) {
        anyhow::bail!("--train-limit must be at least 1");
    }
    if !dae::experiment::EXPERIMENTS
        .iter()
        .any(|(n, _)| *n == a.name)
    {
        let known: Vec<&str> = dae::experiment::EXPERIMENTS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        anyhow::bail!(
            "unknown experiment {:?}; implemented: {}",
            a.name,
            known.join(", ")
        );
    }
    o.load()?;
    let gpu = open_gpu()?;
    let report = dae::experiment::run(&gpu, &a.name, &o)?;
    println!("wrote {}", report.display());
    Ok(())
}
