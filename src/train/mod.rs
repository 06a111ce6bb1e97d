//! The scheduler: the epoch loop over a pre-built [`plan::StepPlan`].
//!
//! At the start of an epoch the host writes the shuffled sample order and
//! one [`StepInfo`] per step (batch offset, seed, learning rate, Adam's bias
//! corrections) into GPU buffers. It then records every step's pre-built
//! dispatches, `steps_per_submit` steps to a command buffer, and submits
//! them without waiting. Losses and accuracy counts accumulate on the GPU;
//! the only wait is the end-of-epoch readback of those few sums.

mod bench;
pub mod fit;
pub mod infer;
pub mod plan;
mod submit;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};

use crate::data::gpu::GpuDataset;
use crate::data::Dataset;
use crate::gpu::{Gpu, GpuError, Precompiled, Program, Readback, StepInfo};
use crate::nn::params::ParamLayout;
use crate::nn::ModelSpec;
pub use bench::StepProfile;
pub use plan::{
    GpuModel, StepPlan, METRIC_SLOTS, PARAMS_NONFINITE, TEST_CORRECT, TEST_LOSS, TEST_NONFINITE,
    TRAIN_CORRECT, TRAIN_LOSS, TRAIN_NONFINITE,
};

/// Step numbers of evaluation steps start here, so the test set's noise is
/// the same every epoch and never collides with a training step's draws.
const EVAL_STEP_BASE: u32 = 0x4000_0000;

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// The epoch these figures are for, as passed to [`Trainer::run_epoch`].
    pub epoch: usize,
    /// Mean loss per training sample over the epoch.
    pub train_loss: f64,
    /// Fraction of training samples classified correctly, in [0, 1];
    /// `None` for an autoencoder.
    pub train_acc: Option<f64>,
    /// Mean loss per test sample, in inference mode after the epoch's training.
    pub test_loss: f64,
    /// Fraction of test samples classified correctly, in [0, 1]; `None` for
    /// an autoencoder.
    pub test_acc: Option<f64>,
    /// Wall time of the epoch in seconds, training and evaluation.
    pub seconds: f64,
    /// Training samples per second of `seconds`.
    pub samples_per_sec: f64,
}

/// A model, its dataset and its pre-built step plan on one device: runs the
/// epoch loop.
pub struct Trainer<'g> {
    gpu: &'g Gpu,
    /// The parameters, gradients and optimizer state.
    pub model: GpuModel,
    /// The training and test sets, uploaded once.
    pub data: GpuDataset,
    /// The recorded training step, evaluation step and parameter check.
    pub plan: StepPlan,
    step_buffer: wgpu::Buffer,
    /// Binds the step buffer (one [`StepInfo`] per step of an epoch, training
    /// steps then evaluation steps) as group 1.
    pub step_group: wgpu::BindGroup,
    /// Samples per step.
    pub batch: usize,
    /// Training steps per epoch: whole batches only (the last partial batch is
    /// dropped), at least one.
    pub train_steps: usize,
    /// Evaluation steps per epoch: the whole test set, the last batch partial.
    pub eval_steps: usize,
    /// Seeds the shuffles, the noise and dropout (and, without a checkpoint,
    /// the initial parameters).
    pub seed: u64,
    /// Optimizer steps taken so far (Adam's t before this step).
    pub global_step: u32,
    /// Steps recorded into each command buffer (16).
    pub steps_per_submit: usize,
    /// What building it compiled ahead of the first step.
    pub precompiled: Precompiled,
    readback: Readback,
}

impl<'g> Trainer<'g> {
    /// Uploads the dataset and parameters and builds the whole step plan.
    /// `init` gives the initial parameter buffer (from a checkpoint); `None`
    /// draws them from `seed`.
    pub fn new(
        gpu: &'g Gpu,
        spec: ModelSpec,
        dataset: &Dataset,
        init: Option<Vec<f32>>,
        seed: u64,
    ) -> anyhow::Result<Trainer<'g>> {
        let classes = dataset.num_classes;
        let resolved = fit::check_fit(&spec, dataset).map_err(anyhow::Error::msg)?;
        // Every buffer's size, checked against the adapter's limits and the
        // host's memory before anything is allocated.
        crate::nn::budget::check_data(
            &spec,
            &resolved,
            spec.batch_size,
            (dataset.train_labels.len(), dataset.test_labels.len()),
            dataset.image_len(),
            dataset.float_images.is_some(),
            &crate::nn::budget::Limits::for_gpu(gpu),
        )
        .map_err(|e| anyhow::anyhow!("model {}: {e}", spec.name))?;
        if gpu.autotune() {
            let mut log = |l: &str| eprintln!("{l}");
            if let Some(line) = crate::tune::prepare(gpu, &spec, &resolved, &mut log)? {
                eprintln!("{line}");
            }
        }
        let layout = ParamLayout::new(&spec, &resolved);
        let init = match init {
            Some(v) => v,
            None => layout.init(&spec, seed),
        };
        let batch = spec.batch_size;
        let model = GpuModel::new(gpu, spec, classes, &init).map_err(anyhow::Error::msg)?;
        let data = GpuDataset::upload(gpu, dataset, model.spec.train_limit)?;
        if data.train.count == 0 || data.test.count == 0 {
            anyhow::bail!("the dataset has no training or no test images");
        }
        let plan = StepPlan::build(gpu, &model, &data, batch)?;
        // Compile every pipeline now, several at a time, rather than one
        // after another inside the first step (see `Gpu::precompile`).
        let kernels = Program::kernels(&[&plan.train, &plan.eval, &plan.check_params]);
        let precompiled = gpu.precompile(&kernels);
        // Whole batches only (the last partial batch is dropped; shuffling
        // changes which samples that is every epoch), unless the set is
        // smaller than one batch.
        let train_steps = (data.train.count / batch).max(1);
        let eval_steps = data.test.count.div_ceil(batch);
        let (step_buffer, step_group) = gpu.step_buffer(train_steps + eval_steps);
        let readback = Readback::new(gpu, (METRIC_SLOTS * 4) as u64);
        Ok(Trainer {
            gpu,
            model,
            data,
            plan,
            step_buffer,
            step_group,
            batch,
            train_steps,
            eval_steps,
            seed,
            global_step: 0,
            steps_per_submit: 16,
            precompiled,
            readback,
        })
    }

    fn eval_steps_info(&self) -> Vec<StepInfo> {
        (0..self.eval_steps)
            .map(|i| {
                let start = i * self.batch;
                StepInfo {
                    step: EVAL_STEP_BASE + i as u32,
                    batch_start: start as u32,
                    seed: self.seed as u32,
                    valid_rows: (self.data.test.count - start).min(self.batch) as u32,
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Writes epoch `epoch`'s shuffled order and the step records of its
    /// training steps (numbered from `first_step + 1`, the optimizer's step
    /// count before the epoch) and evaluation steps. The same epoch and
    /// first step give the same order and records, which is what makes a
    /// resumed epoch continue exactly where it stopped.
    pub fn prepare_epoch(&mut self, epoch: usize, first_step: u32) {
        let mut order: Vec<u32> = (0..self.data.train.count as u32).collect();
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        self.gpu.write_u32(&self.plan.train_indices, &order);
        let mut steps = Vec::with_capacity(self.train_steps + self.eval_steps);
        for i in 0..self.train_steps {
            let t = first_step + 1 + i as u32;
            let (lr, bc1, bc2) = self.model.spec.optimizer.step_values(t);
            let start = i * self.batch;
            steps.push(StepInfo {
                step: t,
                batch_start: start as u32,
                seed: self.seed as u32,
                valid_rows: (self.data.train.count - start).min(self.batch) as u32,
                lr,
                bias_correction1: bc1,
                bias_correction2: bc2,
                _pad: 0,
            });
        }
        steps.extend(self.eval_steps_info());
        self.gpu.write_steps(&self.step_buffer, &steps);
    }

    /// Sets the GPU's metric sums and divergence flags (zeros at the start
    /// of an epoch; the saved partial sums when resuming inside one).
    pub fn set_sums(&self, sums: &[f32; METRIC_SLOTS]) {
        self.gpu.write_f32(&self.plan.acc, sums);
    }

    /// The GPU's metric sums and flags, after flagging any non-finite
    /// parameter; waits for the work submitted so far.
    pub fn sums(&self) -> Result<[f32; METRIC_SLOTS], GpuError> {
        let done = Arc::new(AtomicUsize::new(0));
        self.submit(&self.plan.check_params, 0, 1, &done)?;
        let v = self.read_metrics()?;
        let mut out = [0.0; METRIC_SLOTS];
        out.copy_from_slice(&v[..METRIC_SLOTS]);
        Ok(out)
    }

    /// Runs training steps `from..to` of the epoch prepared last, checking
    /// `stop()` before recording each submission; returns how many steps ran
    /// (all of them unless `stop` asked to end early), and waits for them.
    /// `progress(steps_done)` counts from `from`.
    pub fn train_range(
        &mut self,
        from: usize,
        to: usize,
        stop: &dyn Fn() -> bool,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<usize> {
        let done = Arc::new(AtomicUsize::new(0));
        let mut at = from;
        let mut in_flight = std::collections::VecDeque::new();
        while at < to && !stop() {
            let chunk = self.steps_per_submit.min(to - at);
            self.submit_chunk(&self.plan.train, at, chunk, &done, &mut in_flight)?;
            at += chunk;
            progress(done.load(Ordering::Relaxed));
        }
        let ran = at - from;
        self.drain(&done, ran, &mut progress)?;
        self.global_step += ran as u32;
        Ok(ran)
    }

    /// Evaluates the whole test set into the test slots of the sums (the
    /// epoch prepared last must have written the evaluation records).
    pub fn eval_epoch(&mut self, mut progress: impl FnMut(usize)) -> anyhow::Result<()> {
        let done = Arc::new(AtomicUsize::new(0));
        self.submit(&self.plan.eval, self.train_steps, self.eval_steps, &done)?;
        self.drain(&done, self.eval_steps, &mut progress)?;
        Ok(())
    }

    /// The epoch's figures from its sums.
    pub fn metrics(
        &self,
        epoch: usize,
        sums: &[f32; METRIC_SLOTS],
        seconds: f64,
        trained: usize,
    ) -> EpochMetrics {
        let n_train = (self.train_steps * self.batch).min(self.data.train.count) as f64;
        let n_test = self.data.test.count as f64;
        let classifier = self.model.spec.loss.is_classifier();
        let trained = (trained * self.batch).min(self.data.train.count) as f64;
        EpochMetrics {
            epoch,
            train_loss: sums[TRAIN_LOSS] as f64 / n_train,
            train_acc: classifier.then(|| sums[TRAIN_CORRECT] as f64 / n_train),
            test_loss: sums[TEST_LOSS] as f64 / n_test,
            test_acc: classifier.then(|| sums[TEST_CORRECT] as f64 / n_test),
            seconds,
            samples_per_sec: trained / seconds.max(1e-9),
        }
    }

    /// One whole epoch from its first step: shuffle, train on every whole
    /// batch, evaluate on the whole test set. `progress(steps_done,
    /// steps_total)` is called as steps complete.
    pub fn run_epoch(
        &mut self,
        epoch: usize,
        mut progress: impl FnMut(usize, usize),
    ) -> anyhow::Result<EpochMetrics> {
        let t0 = Instant::now();
        self.prepare_epoch(epoch, self.global_step);
        self.set_sums(&[0.0; METRIC_SLOTS]);
        let total = self.train_steps + self.eval_steps;
        let n = self.train_steps;
        self.train_range(0, n, &|| false, |d| progress(d, total))?;
        self.eval_epoch(|d| progress(n + d, total))?;
        let sums = self.sums()?;
        Ok(self.metrics(epoch, &sums, t0.elapsed().as_secs_f64(), n))
    }

    fn read_metrics(&self) -> Result<Vec<f32>, GpuError> {
        let bytes = self.readback.read(self.gpu, &self.plan.acc.buffer)?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Test-set loss and accuracy of the current parameters.
    pub fn evaluate(&mut self) -> anyhow::Result<(f64, Option<f64>)> {
        let steps = self.eval_steps_info();
        // Slots after the training steps hold the evaluation steps.
        let mut all = vec![StepInfo::default(); self.train_steps];
        all.extend(steps);
        self.gpu.write_steps(&self.step_buffer, &all);
        self.gpu.write_f32(&self.plan.acc, &[0.0; METRIC_SLOTS]);
        let done = Arc::new(AtomicUsize::new(0));
        self.submit(&self.plan.eval, self.train_steps, self.eval_steps, &done)?;
        self.drain(&done, self.eval_steps, &mut |_| {})?;
        let sums = self.read_metrics()?;
        let n = self.data.test.count as f64;
        // A non-finite output may hide behind a clamp in the loss.
        let nonfinite = sums[TEST_NONFINITE] != 0.0;
        Ok((
            if nonfinite {
                f64::NAN
            } else {
                sums[TEST_LOSS] as f64 / n
            },
            self.model
                .spec
                .loss
                .is_classifier()
                .then(|| sums[TEST_CORRECT] as f64 / n),
        ))
    }

    /// The first `count` test images: (clean, noisy, model output), each
    /// (count, features), from one evaluation step.
    pub fn test_outputs(&mut self, count: usize) -> anyhow::Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let ids: Vec<u32> = (0..count.min(self.data.test.count) as u32).collect();
        self.test_outputs_for(&ids)
    }

    /// (clean, noisy, output) of the given test images (at most one batch),
    /// from one evaluation step over them.
    pub fn test_outputs_for(
        &mut self,
        ids: &[u32],
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let count = ids.len();
        anyhow::ensure!(
            count <= self.batch,
            "{count} images exceed the batch of {}",
            self.batch
        );
        anyhow::ensure!(
            ids.iter().all(|&i| (i as usize) < self.data.test.count),
            "a test image index is out of range"
        );
        // Put the chosen images first in the test order, then restore it.
        let mut order: Vec<u32> = (0..self.data.test.count as u32).collect();
        order[..count].copy_from_slice(ids);
        self.gpu.write_u32(&self.plan.test_indices, &order);
        let info = self.eval_steps_info()[0];
        self.plan.eval.run(self.gpu, &info)?;
        let b = &self.plan.train_buffers;
        let f = self.data.features;
        let out_f = self
            .model
            .resolved
            .outputs
            .last()
            .map(|s| s.size())
            .unwrap_or(f);
        let n = count.min(self.batch).min(self.data.test.count);
        let clean = self.gpu.read_f32(&b.x_clean)?;
        let noisy = self.gpu.read_f32(&b.x_in)?;
        let out = self.gpu.read_f32(b.output())?;
        let identity: Vec<u32> = (0..self.data.test.count as u32).collect();
        self.gpu.write_u32(&self.plan.test_indices, &identity);
        Ok((
            clean[..n * f].to_vec(),
            noisy[..n * f].to_vec(),
            out[..n * out_f].to_vec(),
        ))
    }

    /// The optimizer's state buffers (Adam's m and v, SGD's velocity),
    /// copied to the host.
    pub fn optimizer_state(&self) -> Result<Vec<Vec<f32>>, GpuError> {
        self.model
            .opt_state
            .iter()
            .map(|t| self.gpu.read_f32(t))
            .collect()
    }

    /// Restores the optimizer state and its step count (from a checkpoint).
    pub fn restore_optimizer(
        &mut self,
        state: &[Vec<f32>],
        global_step: u32,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            state.len() == self.model.opt_state.len()
                && state.iter().zip(&self.model.opt_state).all(|(s, t)| s.len() == t.len),
            "the saved optimizer state does not match the model's ({} buffers of {} values expected)",
            self.model.opt_state.len(),
            self.model.layout.trainable_len
        );
        for (s, t) in state.iter().zip(&self.model.opt_state) {
            self.gpu.write_f32(t, s);
        }
        self.global_step = global_step;
        Ok(())
    }

    /// The parameter buffer, copied to the host.
    pub fn params(&self) -> Result<Vec<f32>, GpuError> {
        self.gpu.read_f32(&self.model.params)
    }

    /// The device it runs on.
    pub fn gpu(&self) -> &Gpu {
        self.gpu
    }
}
