//! A whole training run as the CLI (and later the experiments) drive it:
//! options, validation, the epoch loop with progress, and every file a run
//! writes. Files are written atomically; the checkpoint and metrics are
//! rewritten after every epoch so an interrupted run keeps its progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::data::{Dataset, DatasetName};
use crate::gpu::Gpu;
use crate::kernels::noise::Noise;
use crate::nn::params::ParamLayout;
use crate::nn::{presets, ModelSpec};
use crate::optim::Optimizer;
use crate::report;
use crate::train::{EpochMetrics, Trainer};

/// Everything `dae train` accepts.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub preset: String,
    pub dataset: DatasetName,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub lr: Option<f32>,
    pub seed: u64,
    pub noise: Option<Noise>,
    pub l2: Option<f32>,
    /// Use only the first N training images.
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    pub test_limit: Option<usize>,
    pub out: PathBuf,
    pub data_root: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
    /// An autoencoder checkpoint providing the encoder layers of presets
    /// built on one (`code-classifier`, `conv-dae-classifier`).
    pub encoder: Option<PathBuf>,
}

/// Limits that keep a typo from asking for something absurd.
const MAX_EPOCHS: usize = 100_000;
const MAX_BATCH: usize = 65_536;

/// The preset's spec with the options applied, or a message naming the
/// bad option and its accepted range.
pub fn build_spec(o: &TrainOptions) -> anyhow::Result<ModelSpec> {
    let mut spec = presets::preset(&o.preset).map_err(anyhow::Error::msg)?;
    if let Some(e) = o.epochs {
        if e == 0 || e > MAX_EPOCHS {
            bail!("--epochs must be between 1 and {MAX_EPOCHS}, got {e}");
        }
        spec.epochs = e;
    }
    if let Some(b) = o.batch_size {
        if b == 0 || b > MAX_BATCH {
            bail!("--batch-size must be between 1 and {MAX_BATCH}, got {b}");
        }
        spec.batch_size = b;
    }
    if let Some(lr) = o.lr {
        if !(lr.is_finite() && lr > 0.0 && lr <= 10.0) {
            bail!("--lr must be a number in (0, 10], got {lr}");
        }
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
        if !(l2.is_finite() && (0.0..=1.0).contains(&l2)) {
            bail!("--l2 must be in [0, 1], got {l2}");
        }
        spec.l2 = l2;
    }
    if let Some(n) = o.train_limit {
        if n == 0 {
            bail!("--train-limit must be at least 1");
        }
        spec.train_limit = Some(spec.train_limit.map_or(n, |p| p.min(n)));
    }
    spec.resolve(10)
        .map_err(|e| anyhow::anyhow!("preset {}: {e}", spec.name))?;
    Ok(spec)
}

/// Checkpoint metadata: enough to rebuild the spec for `dae eval`.
fn metadata(spec: &ModelSpec, o: &TrainOptions, epochs_done: usize) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("format".into(), "dae-checkpoint-1".into());
    m.insert("preset".into(), spec.name.clone());
    // The whole spec, so that models built outside the presets (the
    // studies' stacked levels, fine-tuned stacks) can be rebuilt too.
    if let Ok(json) = serde_json::to_string(spec) {
        m.insert("spec".into(), json);
    }
    m.insert("dataset".into(), o.dataset.to_string());
    m.insert("noise".into(), spec.noise.to_string());
    m.insert("l2".into(), spec.l2.to_string());
    m.insert("batch_size".into(), spec.batch_size.to_string());
    m.insert("epochs_done".into(), epochs_done.to_string());
    m.insert("seed".into(), o.seed.to_string());
    m
}

/// Saves the parameter buffer as one named tensor per parameter.
pub fn save_checkpoint(
    path: &Path,
    layout: &ParamLayout,
    params: &[f32],
    meta: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let tensors = layout
        .entries
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                e.shape.clone(),
                params[e.offset..e.offset + e.len].to_vec(),
            )
        })
        .collect::<Vec<_>>();
    report::save_checkpoint(path, &tensors, meta)
        .with_context(|| format!("writing checkpoint {}", path.display()))?;
    Ok(())
}

/// Loads a checkpoint into a parameter buffer of `layout`, checking that
/// every tensor is present with the right shape.
pub fn load_params(
    path: &Path,
    layout: &ParamLayout,
) -> anyhow::Result<(Vec<f32>, BTreeMap<String, String>)> {
    let ck = report::load_checkpoint(path)?;
    let mut out = vec![0.0f32; layout.total_len];
    for e in &layout.entries {
        let Some((_, shape, data)) = ck.get(&e.name) else {
            bail!(
                "checkpoint {} has no tensor {:?}; it was written for a different model",
                path.display(),
                e.name
            );
        };
        if *shape != e.shape {
            bail!(
                "checkpoint {}: tensor {} has shape {:?}, the model expects {:?}",
                path.display(),
                e.name,
                shape,
                e.shape
            );
        }
        out[e.offset..e.offset + e.len].copy_from_slice(data);
    }
    Ok((out, ck.metadata))
}

/// Initial parameters for a spec built on a trained encoder: seeded values,
/// with the encoder's layers replaced by the checkpoint's tensors of the
/// same names and shapes. `None` for specs without an encoder.
fn encoder_init(spec: &ModelSpec, o: &TrainOptions) -> anyhow::Result<Option<Vec<f32>>> {
    if spec.encoder_layers == 0 {
        if o.encoder.is_some() {
            bail!("--encoder: preset {} does not take an encoder", spec.name);
        }
        return Ok(None);
    }
    let from = spec.encoder_from.clone().unwrap_or_default();
    let Some(path) = &o.encoder else {
        bail!(
            "preset {} classifies with a trained {from} encoder. Fix: train one first \
             (dae train --preset {from} --out DIR) and pass --encoder DIR/model.safetensors",
            spec.name
        );
    };
    if !path.exists() {
        bail!("--encoder: {} does not exist", path.display());
    }
    let resolved = spec.resolve(10).map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(spec, &resolved);
    let mut params = layout.init(spec, o.seed);
    let ck = report::load_checkpoint(path)?;
    copy_named(&mut params, &layout, &ck, 0..spec.encoder_layers, |n| {
        n.to_string()
    })
    .with_context(|| {
        format!(
            "--encoder {}: pass a checkpoint of a {from} run",
            path.display()
        )
    })?;
    Ok(Some(params))
}

/// Copies into `params` every parameter of the layers in `layers` from the
/// checkpoint tensor named `rename(name)`, checking shapes.
pub fn copy_named(
    params: &mut [f32],
    layout: &ParamLayout,
    ck: &report::Checkpoint,
    layers: std::ops::Range<usize>,
    rename: impl Fn(&str) -> String,
) -> anyhow::Result<()> {
    for e in layout.entries.iter().filter(|e| layers.contains(&e.layer)) {
        let source = rename(&e.name);
        let Some((_, shape, data)) = ck.get(&source) else {
            bail!("the checkpoint has no tensor {source:?} (for {})", e.name);
        };
        if *shape != e.shape {
            bail!(
                "tensor {source} has shape {:?}, but {} needs {:?}",
                shape,
                e.name,
                e.shape
            );
        }
        params[e.offset..e.offset + e.len].copy_from_slice(data);
    }
    Ok(())
}

/// What a finished run reports.
pub struct RunResult {
    pub spec: ModelSpec,
    pub history: Vec<EpochMetrics>,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: usize,
    pub out: PathBuf,
}

fn limit_test(data: &mut Dataset, n: Option<usize>) {
    if let Some(n) = n {
        let n = n.min(data.test_labels.len());
        let f = data.rows * data.cols;
        data.test_images.truncate(n * f);
        data.test_labels.truncate(n);
    }
}

/// Trains per `o`, printing one line per epoch, and writes into `o.out`:
/// metrics.csv, model.safetensors, loss.png and, for autoencoders,
/// reconstructions.png.
pub fn train(gpu: &Gpu, o: &TrainOptions) -> anyhow::Result<RunResult> {
    let data = Dataset::load(&o.data_root, o.dataset)?;
    train_on(gpu, o, data)
}

/// [`train`] on an already loaded dataset (`o.data_root` and `o.dataset`
/// only label the run).
pub fn train_on(gpu: &Gpu, o: &TrainOptions, data: Dataset) -> anyhow::Result<RunResult> {
    let spec = build_spec(o)?;
    let init = encoder_init(&spec, o)?;
    train_spec(gpu, o, spec, data, init)
}

/// Trains `spec` (built by the caller, not a preset) from `init` (or
/// seeded values), writing the same files as [`train`]. `o.preset` and
/// `o.encoder` are ignored; epochs, noise and the other options should
/// already be in `spec`.
pub fn train_spec(
    gpu: &Gpu,
    o: &TrainOptions,
    spec: ModelSpec,
    mut data: Dataset,
    init: Option<Vec<f32>>,
) -> anyhow::Result<RunResult> {
    limit_test(&mut data, o.test_limit);
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("creating output folder {}", o.out.display()))?;
    let mut trainer = Trainer::new(gpu, spec.clone(), &data, init, o.seed)?;
    let classifier = spec.loss.is_classifier();
    let (total, trainable, _) = trainer.model.layout.counts();
    println!(
        "{} on {} ({}): {} params ({} trainable), {} epochs, batch {}, {} steps/epoch, noise {}",
        spec.name,
        o.dataset,
        gpu.info.name,
        crate::nn::summary::thousands(total),
        crate::nn::summary::thousands(trainable),
        spec.epochs,
        spec.batch_size,
        trainer.train_steps,
        spec.noise
    );
    let mut csv = report::Csv::new(&[
        "epoch",
        "train_loss",
        "test_loss",
        "train_acc",
        "test_acc",
        "seconds",
        "samples_per_sec",
    ]);
    let mut history = Vec::new();
    for epoch in 1..=spec.epochs {
        let bar = if o.progress {
            let bar =
                indicatif::ProgressBar::new((trainer.train_steps + trainer.eval_steps) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} steps {per_sec} {elapsed}/{eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{}", spec.epochs));
            Some(bar)
        } else {
            None
        };
        let m = trainer.run_epoch(epoch, |done, _| {
            if let Some(b) = &bar {
                b.set_position(done as u64);
            }
        })?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if !m.train_loss.is_finite() {
            bail!(
                "epoch {epoch}: the training loss is {} (diverged). Fix: lower --lr (now {})",
                m.train_loss,
                spec.optimizer.lr()
            );
        }
        let acc = |a: Option<f64>| a.map_or(String::new(), |a| format!("{a:.4}"));
        if classifier {
            println!(
                "epoch {epoch:>3}: train loss {:.5} acc {:.2}% | test loss {:.5} acc {:.2}% | {:.1}s, {:.0} samples/s",
                m.train_loss,
                100.0 * m.train_acc.unwrap_or(0.0),
                m.test_loss,
                100.0 * m.test_acc.unwrap_or(0.0),
                m.seconds,
                m.samples_per_sec
            );
        } else {
            println!(
                "epoch {epoch:>3}: train {} {:.6} | test {} {:.6} | {:.1}s, {:.0} samples/s",
                spec.loss.name(),
                m.train_loss,
                spec.loss.name(),
                m.test_loss,
                m.seconds,
                m.samples_per_sec
            );
        }
        csv.push_row(&[
            epoch.to_string(),
            format!("{:.7}", m.train_loss),
            format!("{:.7}", m.test_loss),
            acc(m.train_acc),
            acc(m.test_acc),
            format!("{:.3}", m.seconds),
            format!("{:.1}", m.samples_per_sec),
        ]);
        csv.save(&o.out.join("metrics.csv"))?;
        let params = trainer.params()?;
        save_checkpoint(
            &o.out.join("model.safetensors"),
            &trainer.model.layout,
            &params,
            metadata(&spec, o, epoch),
        )?;
        history.push(m);
    }
    write_figures(&mut trainer, &spec, &history, &o.out)?;
    Ok(RunResult {
        spec,
        history,
        steps_per_epoch: trainer.train_steps,
        out: o.out.clone(),
    })
}

fn write_figures(
    trainer: &mut Trainer,
    spec: &ModelSpec,
    history: &[EpochMetrics],
    out: &Path,
) -> anyhow::Result<()> {
    let series = |name: &str, f: &dyn Fn(&EpochMetrics) -> f64| report::Series {
        name: name.to_string(),
        points: history.iter().map(|m| (m.epoch as f64, f(m))).collect(),
        y_err: None,
    };
    report::line_plot(
        &out.join("loss.png"),
        &format!("{}: loss per epoch", spec.name),
        "epoch",
        spec.loss.name(),
        &[
            series("train", &|m| m.train_loss),
            series("test", &|m| m.test_loss),
        ],
    )?;
    if spec.loss.is_classifier() {
        report::line_plot(
            &out.join("accuracy.png"),
            &format!("{}: accuracy per epoch", spec.name),
            "epoch",
            "accuracy",
            &[
                series("train", &|m| m.train_acc.unwrap_or(0.0)),
                series("test", &|m| m.test_acc.unwrap_or(0.0)),
            ],
        )?;
    } else if spec.target_layer.is_none() && spec.input.size() == 784 {
        // Reconstructions of the input image (not of inner codes).
        let n = 10;
        let (clean, noisy, recon) = trainer.test_outputs(n)?;
        let n = clean.len() / 784;
        let mut images: Vec<&[f32]> = Vec::new();
        for set in [&clean, &noisy, &recon] {
            for i in 0..n {
                images.push(&set[i * 784..(i + 1) * 784]);
            }
        }
        // Captions: each reconstruction's MSE against its clean image.
        let mut captions = vec![String::new(); 2 * n];
        for i in 0..n {
            let c = &clean[i * 784..(i + 1) * 784];
            let r = &recon[i * 784..(i + 1) * 784];
            let mse = c
                .iter()
                .zip(r)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / 784.0;
            captions.push(format!("MSE {mse:.4}"));
        }
        let text = report::GridText {
            title: Some(format!("{}: test images (noise {})", spec.name, spec.noise)),
            row_labels: vec!["clean".into(), "noisy".into(), "output".into()],
            captions,
            ..Default::default()
        };
        report::image_grid(
            &out.join("reconstructions.png"),
            &images,
            28,
            28,
            n,
            2,
            &text,
        )?;
    }
    Ok(())
}

/// Scores a checkpoint on the test set: (loss, accuracy).
pub fn eval(
    gpu: &Gpu,
    checkpoint: &Path,
    dataset: Option<DatasetName>,
    noise: Option<Noise>,
    data_root: &Path,
) -> anyhow::Result<(ModelSpec, f64, Option<f64>)> {
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
    let mut spec = match meta.get("spec") {
        Some(json) => serde_json::from_str::<ModelSpec>(json).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {}: its model spec does not parse ({e}); was it written by another \
                 version of dae? Fix: retrain it with this version",
                checkpoint.display()
            )
        })?,
        None => {
            let name = get("preset")?;
            presets::preset(&name).map_err(|e| {
                anyhow::anyhow!(
                    "checkpoint {} stores no model spec and {name:?} is not a preset ({e}); it was \
                     written by an older dae. Fix: retrain it with this version",
                    checkpoint.display()
                )
            })?
        }
    };
    spec.noise = match noise {
        Some(n) => n,
        None => get("noise")?
            .parse()
            .map_err(|e| anyhow::anyhow!("checkpoint noise: {e}"))?,
    };
    spec.batch_size = 256;
    spec.train_limit = Some(1);
    let dataset = match dataset {
        Some(d) => d,
        None => get("dataset")?
            .parse()
            .map_err(|e| anyhow::anyhow!("checkpoint dataset: {e}"))?,
    };
    let resolved = spec.resolve(10).map_err(anyhow::Error::msg)?;
    let layout = ParamLayout::new(&spec, &resolved);
    let (params, _) = load_params(checkpoint, &layout)?;
    let data = Dataset::load(data_root, dataset)?;
    let mut trainer = Trainer::new(gpu, spec.clone(), &data, Some(params), 0)?;
    let (loss, acc) = trainer.evaluate()?;
    Ok((spec, loss, acc))
}

/// Times full training steps (gather, noise, forward, loss, backward,
/// optimizer) of `preset` at `batch`: the median over `reps` runs of
/// `steps` steps recorded into one submission, divided by `steps`.
pub fn bench_step(
    gpu: &Gpu,
    preset: &str,
    batch: usize,
    reps: usize,
    data: &Dataset,
) -> anyhow::Result<crate::bench::BenchRow> {
    let mut spec = presets::preset(preset).map_err(anyhow::Error::msg)?;
    spec.batch_size = batch;
    let steps = 8;
    spec.train_limit = Some(batch * steps);
    let mut trainer = Trainer::new(gpu, spec, data, None, 1)?;
    // Warm-up: compiles every pipeline.
    trainer.time_steps(steps)?;
    let mut times: Vec<f64> = (0..reps)
        .map(|_| trainer.time_steps(steps).map(|t| t / steps as f64))
        .collect::<anyhow::Result<_>>()?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let flops = step_flops(&trainer.model.resolved, &trainer.model.spec, batch);
    Ok(crate::bench::BenchRow {
        name: format!("{preset}_train_step_b{batch}"),
        variant: "full step".into(),
        median_ms: median * 1e3,
        gflops: flops / median / 1e9,
    })
}

/// Per-dispatch times of one training step of `preset` at `batch`.
pub fn profile_step(
    gpu: &Gpu,
    preset: &str,
    batch: usize,
    reps: usize,
    data: &Dataset,
) -> anyhow::Result<Vec<(String, f64)>> {
    let mut spec = presets::preset(preset).map_err(anyhow::Error::msg)?;
    spec.batch_size = batch;
    spec.train_limit = Some(batch * 2);
    let mut trainer = Trainer::new(gpu, spec, data, None, 1)?;
    trainer.profile_step(reps)
}

/// Matmul FLOPs of one training step: 2·m·k·n for the forward product and
/// each backward product that runs.
fn step_flops(r: &crate::nn::Resolved, spec: &ModelSpec, batch: usize) -> f64 {
    let mut f = 0.0;
    for (i, l) in spec.layers.iter().enumerate() {
        if let crate::nn::Layer::Dense { units, .. } = l.layer {
            let mkn = 2.0 * (batch * r.inputs[i].size() * units) as f64;
            // forward, weight gradient, and input gradient except layer 0
            f += mkn * if i == 0 { 2.0 } else { 3.0 };
        }
    }
    f
}
