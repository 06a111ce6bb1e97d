//! The epoch loop of one run: the folder's lock and policy, resuming from
//! its state, checkpoints at epoch ends and every `--checkpoint-every`
//! steps, divergence checks on the GPU's flags, and stopping on a signal.

use std::time::Instant;

use anyhow::bail;

use crate::data::Dataset;
use crate::gpu::Gpu;
use crate::nn::ModelSpec;
use crate::report;
use crate::train::{EpochMetrics, Trainer, METRIC_SLOTS};

mod divergence;

use super::checkpoint::{first_nonfinite, metadata, save_checkpoint};
use super::folder::{self, FolderMode, RunFolder};
use super::interrupt::{self, Interrupted};
use super::state::{RunConfig, RunState};
use super::{figures, limit_test, RunResult, TrainOptions};

pub(super) fn run(
    gpu: &Gpu,
    o: &TrainOptions,
    mut spec: ModelSpec,
    mut data: Dataset,
    init: Option<Vec<f32>>,
) -> anyhow::Result<RunResult> {
    limit_test(&mut data, o.test_limit)?;
    if data.test_labels.is_empty() {
        bail!("the test split is empty: there is nothing to evaluate on");
    }
    // A set smaller than one batch trains as one batch of all of it (as
    // Keras does), so no padding row ever enters BatchNorm's statistics.
    let train_count = spec
        .train_limit
        .map_or(data.train_labels.len(), |n| n.min(data.train_labels.len()));
    if train_count == 0 {
        bail!("the training split is empty: there is nothing to train on");
    }
    if train_count < spec.batch_size {
        spec.batch_size = train_count;
    }
    let folder = RunFolder::lock(&o.out)?;
    let config = RunConfig {
        spec: spec.clone(),
        // Absolute paths: `--resume` and `dae eval` may run from elsewhere.
        dataset: o.dataset.clone().absolute()?,
        seed: o.seed,
        test_limit: o.test_limit,
        checkpoint_every: o.checkpoint_every,
        data_root: o.data_root.clone(),
    };
    let resumed = open_state(&folder, o.mode, &config)?;
    if let Some(st) = &resumed {
        if st.finished(spec.epochs) {
            // The studies' finished trainings: nothing to do.
            println!(
                "{}: finished run in {} ({} epochs); skipping",
                spec.name,
                o.out.display(),
                st.epochs_done
            );
            return Ok(RunResult {
                spec,
                history: st.history.clone(),
                steps_per_epoch: st.steps_per_epoch,
                out: o.out.clone(),
            });
        }
    }
    let params = resumed.as_ref().map(|st| st.params.clone()).or(init);
    let mut trainer = Trainer::new(gpu, spec.clone(), &data, params, o.seed)?;
    let mut history = Vec::new();
    let (mut epoch, mut step, mut sums) = (1, 0, [0.0f32; METRIC_SLOTS]);
    if let Some(st) = resumed {
        if st.steps_per_epoch != trainer.train_steps {
            bail!(
                "the run in {} has {} steps per epoch, but its data now gives {}: the dataset \
                 changed. Fix: resume with the data it was trained on (--data)",
                o.out.display(),
                st.steps_per_epoch,
                trainer.train_steps
            );
        }
        trainer.restore_optimizer(&st.optimizer, st.global_step)?;
        (epoch, step, sums) = (st.epochs_done + 1, st.steps_done, st.sums);
        history = st.history;
        // The state is the commit point: bring the derived files in line
        // with it (a kill may have come between its write and theirs).
        write_metrics(&folder, &history)?;
        if step == 0 && !history.is_empty() {
            let params = trainer.params()?;
            save_checkpoint(
                &folder.path(folder::MODEL),
                &trainer.model.layout,
                &params,
                metadata(&spec, o, history.len()),
            )?;
        }
        println!(
            "resuming {} in {} at epoch {epoch}, step {step} of {}",
            spec.name,
            o.out.display(),
            trainer.train_steps
        );
    }
    print_header(gpu, o, &spec, &trainer);
    let ctx = Ctx {
        o,
        spec: &spec,
        config: &config,
        folder: &folder,
    };
    interrupt::install();
    while epoch <= spec.epochs {
        let t0 = Instant::now();
        let first = trainer.global_step - step as u32;
        trainer.prepare_epoch(epoch, first);
        trainer.set_sums(&sums);
        let start_step = step;
        let bar = progress_bar(o.progress, &trainer, epoch, spec.epochs, step);
        let tick = |d: usize| {
            if let Some(b) = &bar {
                b.set_position((start_step + d) as u64);
            }
        };
        while step < trainer.train_steps {
            let seg_end = match o.checkpoint_every {
                Some(k) => {
                    let to_next = k - (trainer.global_step as usize % k);
                    (step + to_next).min(trainer.train_steps)
                }
                None => trainer.train_steps,
            };
            let from = step;
            step += trainer.train_range(step, seg_end, &interrupt::requested, |d| {
                tick(from - start_step + d)
            })?;
            let stopped = step < seg_end;
            if stopped || step < trainer.train_steps {
                let s = trainer.sums()?;
                ctx.check_flags(&s, None, epoch, &history)?;
                ctx.save_state(&trainer, &history, step, s)?;
            }
            if stopped {
                if let Some(b) = &bar {
                    b.abandon();
                }
                return Err(ctx.interrupted(epoch, step, trainer.train_steps).into());
            }
        }
        let n = trainer.train_steps;
        trainer.eval_epoch(|d| tick(n - start_step + d))?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let s = trainer.sums()?;
        let m = trainer.metrics(epoch, &s, t0.elapsed().as_secs_f64(), n - start_step);
        ctx.check_flags(&s, Some(&m), epoch, &history)?;
        print_epoch(&spec, &m);
        history.push(m);
        ctx.save_state(&trainer, &history, 0, [0.0; METRIC_SLOTS])?;
        let params = trainer.params()?;
        save_checkpoint(
            &folder.path(folder::MODEL),
            &trainer.model.layout,
            &params,
            metadata(&spec, o, epoch),
        )?;
        write_metrics(&folder, &history)?;
        figures::write_figures(&mut trainer, &spec, &history, &o.out, data.image_shape())?;
        (epoch, step, sums) = (epoch + 1, 0, [0.0; METRIC_SLOTS]);
        if interrupt::requested() && epoch <= spec.epochs {
            return Err(ctx.interrupted(epoch, 0, trainer.train_steps).into());
        }
    }
    Ok(RunResult {
        spec,
        history,
        steps_per_epoch: trainer.train_steps,
        out: o.out.clone(),
    })
}

/// The state to continue from, per the folder's contents and the mode.
fn open_state(
    folder: &RunFolder,
    mode: FolderMode,
    config: &RunConfig,
) -> anyhow::Result<Option<RunState>> {
    let dir = folder.dir.display();
    let state_path = folder.path(folder::STATE);
    match mode {
        FolderMode::Overwrite => {
            folder.clear_run()?;
            Ok(None)
        }
        FolderMode::Fresh => {
            folder::refuse_existing_run(&folder.dir)?;
            Ok(None)
        }
        FolderMode::Resume | FolderMode::Auto => {
            if !state_path.exists() {
                if mode == FolderMode::Resume || folder::holds_run(&folder.dir) {
                    bail!(
                        "{dir} holds no resumable run ({} not found). Fix: train into another \
                         folder, or delete this one",
                        folder::STATE
                    );
                }
                return Ok(None);
            }
            let st = RunState::load(&state_path)?;
            if !st.config.same_run(config) {
                bail!(
                    "{dir} holds a run with other settings ({}), so it cannot be continued \
                     with these. Fix: use the same settings, another --out, or delete the folder",
                    st.config.difference(config)
                );
            }
            Ok(Some(st))
        }
    }
}

/// What the loop's checkpoint and error paths need.
struct Ctx<'a> {
    o: &'a TrainOptions,
    spec: &'a ModelSpec,
    config: &'a RunConfig,
    folder: &'a RunFolder,
}

impl Ctx<'_> {
    /// Writes the state at `steps_done` of the epoch after `history`.
    fn save_state(
        &self,
        trainer: &Trainer,
        history: &[EpochMetrics],
        steps_done: usize,
        sums: [f32; METRIC_SLOTS],
    ) -> anyhow::Result<()> {
        let params = trainer.params()?;
        // The GPU's flags should have caught it; never commit one anyway.
        if let Some((name, v)) = first_nonfinite(&trainer.model.layout, &params) {
            bail!(self.divergence(
                history.len() + 1,
                &format!("parameter {name} became {v}"),
                history
            ));
        }
        let st = RunState {
            config: self.config.clone(),
            epochs_done: history.len(),
            steps_done,
            steps_per_epoch: trainer.train_steps,
            global_step: trainer.global_step,
            sums,
            history: history.to_vec(),
            params,
            optimizer: trainer.optimizer_state()?,
        };
        st.save(&self.folder.path(folder::STATE))
    }

    fn interrupted(&self, epoch: usize, step: usize, steps: usize) -> Interrupted {
        let dir = self.o.out.display();
        Interrupted {
            message: format!(
                "interrupted in epoch {epoch} after step {step} of {steps}; everything up to it \
                 is saved in {dir}. Resume: dae train --resume {dir} (a study: run the same \
                 dae experiment command again)"
            ),
        }
    }
}

fn write_metrics(folder: &RunFolder, history: &[EpochMetrics]) -> anyhow::Result<()> {
    let mut csv = report::Csv::new(&[
        "epoch",
        "train_loss",
        "test_loss",
        "train_acc",
        "test_acc",
        "seconds",
        "samples_per_sec",
    ]);
    let acc = |a: Option<f64>| a.map_or(String::new(), |a| format!("{a:.4}"));
    for m in history {
        csv.push_row(&[
            m.epoch.to_string(),
            format!("{:.7}", m.train_loss),
            format!("{:.7}", m.test_loss),
            acc(m.train_acc),
            acc(m.test_acc),
            format!("{:.3}", m.seconds),
            format!("{:.1}", m.samples_per_sec),
        ]);
    }
    csv.save(&folder.path(folder::METRICS))?;
    Ok(())
}

fn print_header(gpu: &Gpu, o: &TrainOptions, spec: &ModelSpec, trainer: &Trainer) {
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
    // A first run on a machine compiles its shaders (seconds on lavapipe);
    // say where the wait went.
    let c = &trainer.precompiled;
    if c.seconds >= 1.0 {
        println!(
            "compiled {} GPU pipelines in {:.1}s on {} thread{} (cached for later runs)",
            c.pipelines,
            c.seconds,
            c.helpers + 1,
            if c.helpers == 0 { "" } else { "s" }
        );
    }
}

fn print_epoch(spec: &ModelSpec, m: &EpochMetrics) {
    let epoch = m.epoch;
    if spec.loss.is_classifier() {
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
}

fn progress_bar(
    show: bool,
    trainer: &Trainer,
    epoch: usize,
    epochs: usize,
    at: usize,
) -> Option<indicatif::ProgressBar> {
    if !show {
        return None;
    }
    let bar = indicatif::ProgressBar::new((trainer.train_steps + trainer.eval_steps) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} steps {per_sec} {elapsed}/{eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar.set_position(at as u64);
    Some(bar)
}
