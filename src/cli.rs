//! The subcommands, over the library's `run`, `nn` and `bench` modules.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use dae::data::{Dataset, DatasetName};
use dae::gpu::Gpu;
use dae::kernels::noise::Noise;
use dae::nn::params::ParamLayout;
use dae::nn::{presets, summary as nn_summary};
use dae::run::{self, FolderMode, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// A preset of EXPERIMENTS.md (see `dae summary --preset NAME`).
    #[arg(long, required_unless_present = "resume")]
    preset: Option<String>,
    /// Continue the run in DIR from its last checkpoint, with its own
    /// settings; with --epochs N, extend a finished run to N epochs.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["preset", "dataset", "batch_size", "lr", "seed", "noise", "l2", "train_limit", "test_limit", "out", "encoder", "overwrite"])]
    resume: Option<PathBuf>,
    /// Replace the run that --out holds (its model, state and metrics).
    #[arg(long)]
    overwrite: bool,
    /// Also checkpoint every N optimizer steps inside an epoch (always at
    /// the end of each epoch and on Ctrl-C).
    #[arg(long, value_name = "STEPS")]
    checkpoint_every: Option<usize>,
    /// mnist or fashion-mnist (default: the preset's study's dataset,
    /// fashion-mnist for fashion-cae and mnist for the others).
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
fn open_gpu() -> anyhow::Result<Gpu> {
    let gpu = Gpu::new()?;
    if dae::tune::enabled(&gpu) {
        if let Some(p) = dae::tune::cache::path(&gpu) {
            dae::tune::cache::load(&gpu, &p)?;
        }
        gpu.set_autotune(true);
    }
    Ok(gpu)
}

pub fn info() -> anyhow::Result<()> {
    let gpu = open_gpu()?;
    println!("{}", gpu.describe());
    println!("{}", tuning_lines(&gpu));
    Ok(())
}

/// What `dae info` and `dae bench` say about the kernel choices.
pub fn tuning_lines(gpu: &Gpu) -> String {
    use dae::kernels::choice::Family;
    let family = gpu.kernel_family();
    if family != Family::Auto {
        return format!(
            "tuning:         off: DAE_KERNELS={} forces that family for every pass",
            family.name()
        );
    }
    if !dae::tune::enabled(gpu) {
        let why = if std::env::var(dae::tune::ENV).is_ok() {
            "DAE_TUNE turns it off"
        } else {
            "one kernel family runs here"
        };
        return format!("tuning:         off ({why}); every pass uses the fixed rule");
    }
    let path = dae::tune::cache::path(gpu)
        .map_or("no cache folder".to_string(), |p| p.display().to_string());
    let choices = gpu.tuned_choices();
    let mut s = format!(
        "tuning:         {} passes tuned on this adapter ({path}); others use the fixed rule until a run tunes them",
        choices.len()
    );
    for (k, v) in choices {
        s += &format!("\n  {k}: {}", v.name());
    }
    s
}

/// `dae check`: the table, then a non-zero exit if any row failed.
pub fn check(opts: dae::check::Options, failures_only: bool) -> anyhow::Result<()> {
    let gpu = open_gpu()?;
    println!(
        "checking every kernel against the CPU reference on {} ({:?}, {})",
        gpu.info.name, gpu.info.backend, gpu.info.driver_info
    );
    let report = dae::check::run(&gpu, &opts);
    let shown = dae::check::Report {
        rows: report
            .rows
            .iter()
            .filter(|r| !failures_only || !r.pass)
            .cloned()
            .collect(),
        seconds: report.seconds,
    };
    print!("{}", shown.table());
    let failed = report.failures();
    println!(
        "{} rows, {} failed, {:.1} s",
        report.rows.len(),
        failed,
        report.seconds
    );
    if report.rows.is_empty() {
        anyhow::bail!(
            "no kernel matched --only {:?}",
            opts.only.unwrap_or_default()
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} kernel checks failed on {}: this adapter or its driver computes them wrongly.\n  \
             fix: update the GPU driver; to train anyway, force the other kernel family with DAE_KERNELS=tiled or \
             DAE_KERNELS=subgroup if only one family failed; please report the failing rows with `dae info` \
             (see README, \"Running on your GPU\")",
            gpu.info.name
        );
    }
    Ok(())
}

pub fn summary(preset: &str) -> anyhow::Result<()> {
    let spec = presets::preset(preset).map_err(anyhow::Error::msg)?;
    let resolved = spec.resolve(10).map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(&spec, &resolved);
    print!("{}", nn_summary::summary(&spec, &resolved, &layout));
    Ok(())
}

pub fn train(a: TrainArgs) -> anyhow::Result<()> {
    if let Some(dir) = &a.resume {
        let (mut opts, spec) =
            run::resume_options(dir, a.epochs, a.data.clone(), a.checkpoint_every)?;
        opts.progress = !a.quiet;
        let data = Dataset::load(&opts.data_root, opts.dataset)?;
        let gpu = open_gpu()?;
        let r = run::train_spec(&gpu, &opts, spec, data, None)?;
        println!("wrote {}", r.out.display());
        return Ok(());
    }
    let preset = a.preset.clone().unwrap_or_default();
    let dataset = match &a.dataset {
        Some(d) => parse_dataset(d)?,
        None => dae::nn::presets::default_dataset(&preset),
    };
    let noise = a.noise.as_deref().map(parse_noise).transpose()?;
    let seed = a.seed.unwrap_or(1);
    let out = match &a.out {
        Some(out) => out.clone(),
        // The default name never lands on a finished run: it takes the next
        // free suffix instead.
        None if a.overwrite => PathBuf::from("runs").join(format!("{preset}-{dataset}-s{seed}")),
        None => run::folder::next_free(
            &PathBuf::from("runs").join(format!("{preset}-{dataset}-s{seed}")),
        ),
    };
    let mut opts = TrainOptions::new(&preset, dataset, out);
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
    run::build_spec(&opts)?;
    if opts.mode == FolderMode::Fresh {
        run::folder::refuse_existing_run(&opts.out)?;
    }
    // Proves the folder writable and free before the data loads.
    drop(run::folder::RunFolder::lock(&opts.out)?);
    let data = Dataset::load(&opts.data_root, opts.dataset)?;
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
) -> anyhow::Result<()> {
    let dataset = dataset.map(parse_dataset).transpose()?;
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
pub struct BenchArgs {
    /// Timed repetitions per row, the median reported [default: 7; with
    /// --compare, timed epochs per preset: 3].
    #[arg(long)]
    reps: Option<usize>,
    /// Also time each dispatch of the training step (of --step-preset), and
    /// sum them by kernel: GPU time from timestamp queries where the adapter
    /// has TIMESTAMP_QUERY, host wall time elsewhere (the output says which).
    #[arg(long, conflicts_with = "compare")]
    profile: bool,
    /// With --profile: time each dispatch by host wall time even where the
    /// adapter has GPU timestamp queries.
    #[arg(long, requires = "profile")]
    host_timing: bool,
    /// The preset whose training step is timed (and profiled), at its own
    /// batch size [default: mlp-dae].
    #[arg(long, value_name = "PRESET", conflicts_with = "compare")]
    step_preset: Option<String>,
    /// Skip the matmul table (time only the training step).
    #[arg(long, conflicts_with = "compare")]
    step_only: bool,
    /// Time a warm training epoch (and its test pass) of each preset, as
    /// `dae train` runs it, in samples/s; benches/compare.py sets the same
    /// models beside Keras or PyTorch.
    #[arg(long)]
    compare: bool,
    /// With --compare: the presets to time, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', requires = "compare")]
    presets: Vec<String>,
    /// With --compare: train on the first N training images of each preset
    /// (and a proportionate part of the test set) [default: 2048, fashion-cae 200].
    #[arg(long, value_name = "N", requires = "compare")]
    train_limit: Option<usize>,
    /// With --compare: print one JSON object instead of the table (progress
    /// goes to stderr).
    #[arg(long, requires = "compare")]
    json: bool,
    /// Folder holding mnist/ and fashion-mnist/ (default: ./data, or $DAE_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Runs of the step (timestamps) or copies of each dispatch (host wall
/// time) behind each `--profile` figure.
const PROFILE_REPS: usize = 10;

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    if a.compare {
        return bench_compare(a);
    }
    let reps = a.reps.unwrap_or(7);
    if reps == 0 || reps > 1000 {
        anyhow::bail!("--reps must be between 1 and 1000, got {reps}");
    }
    let preset = a.step_preset.as_deref().unwrap_or("mlp-dae");
    let batch = dae::nn::presets::preset(preset)
        .map_err(|e| anyhow::anyhow!("--step-preset: {e}"))?
        .batch_size;
    let root = a.data.unwrap_or_else(Dataset::default_root);
    // Every preset takes 28x28 images: MNIST serves them all for timing.
    let data = Dataset::load(&root, DatasetName::Mnist)?;
    let gpu = open_gpu()?;
    println!("{}", adapter_line(&gpu));
    if !a.step_only {
        let rows = dae::bench::matmul_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
        println!();
        let rows = dae::bench::conv_rows(&gpu, reps)?;
        dae::bench::print_table(&rows);
        println!();
    }
    let step = dae::bench::bench_step(&gpu, preset, batch, reps, &data)?;
    dae::bench::print_table(&[step]);
    println!("{}", tuning_lines(&gpu));
    if a.profile {
        println!("\n{preset} training step at batch {batch}, per dispatch:");
        let choice = if a.host_timing {
            dae::gpu::TimingChoice::Host
        } else {
            dae::gpu::TimingChoice::Auto
        };
        let p = dae::bench::profile_step(&gpu, preset, batch, PROFILE_REPS, choice, &data)?;
        dae::bench::print_profile(&p, PROFILE_REPS);
    }
    Ok(())
}

fn adapter_line(gpu: &Gpu) -> String {
    format!(
        "adapter: {} ({:?}, {:?})",
        gpu.info.name, gpu.info.backend, gpu.info.device_type
    )
}

/// `dae bench --compare`: the options are checked and the data loaded
/// before the GPU opens; progress lines go to stderr so that `--json`
/// leaves stdout to one JSON object.
fn bench_compare(a: BenchArgs) -> anyhow::Result<()> {
    let mut o = dae::bench::CompareOptions::all();
    if !a.presets.is_empty() {
        o.presets = a.presets.iter().map(|p| p.trim().to_string()).collect();
    }
    o.train_limit = a.train_limit;
    o.reps = a.reps.unwrap_or(dae::bench::DEFAULT_REPS);
    o.check()?;
    let root = a.data.unwrap_or_else(Dataset::default_root);
    let data = o
        .datasets()
        .into_iter()
        .map(|d| Dataset::load(&root, d))
        .collect::<Result<Vec<_>, _>>()?;
    let gpu = open_gpu()?;
    eprintln!("{}", adapter_line(&gpu));
    let rows = dae::bench::compare_rows(&gpu, &o, &data, |r| {
        let epochs: Vec<String> = r.epoch_s.iter().map(|s| format!("{s:.3}")).collect();
        eprintln!(
            "{}: {} training + {} test images, warm-up {:.2} s, epochs {} s: {:.1} samples/s",
            r.preset,
            r.train_images,
            r.test_images,
            r.warmup_s,
            epochs.join(" "),
            r.samples_per_s
        );
    })?;
    if a.json {
        let report = serde_json::json!({
            "adapter": gpu.info.name,
            "backend": format!("{:?}", gpu.info.backend),
            "device_type": format!("{:?}", gpu.info.device_type),
            "driver": gpu.info.driver,
            "driver_info": gpu.info.driver_info,
            "reps": o.reps,
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", adapter_line(&gpu));
        dae::bench::print_compare(&rows);
    }
    Ok(())
}

#[derive(Args)]
pub struct ExperimentArgs {
    /// The study: mlp-dae, conv-dae, stacked, fashion-cae or sp-dae.
    name: String,
    /// mnist or fashion-mnist (default: the study's own dataset,
    /// fashion-mnist for fashion-cae and mnist for the others).
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
