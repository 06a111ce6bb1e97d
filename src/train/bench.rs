//! Benchmark and profiling helpers: timing whole training steps and each
//! dispatch of one.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use crate::gpu::{step_offset, DispatchTimer, StepInfo, TimestampMode, Timing, TimingChoice};

use super::Trainer;

impl Trainer<'_> {
    /// Runs `n` training steps (from the start of a fresh shuffle) and
    /// returns the wall time from first submission to completion; for
    /// benchmarks. Adds `n` to the optimizer's step count.
    pub fn time_steps(&mut self, n: usize) -> anyhow::Result<f64> {
        let n = n.min(self.train_steps);
        let mut steps = Vec::with_capacity(n);
        for i in 0..n {
            let t = self.global_step + 1 + i as u32;
            let (lr, bc1, bc2) = self.model.spec.optimizer.step_values(t);
            steps.push(StepInfo {
                step: t,
                batch_start: (i * self.batch) as u32,
                seed: self.seed as u32,
                valid_rows: self.batch as u32,
                lr,
                bias_correction1: bc1,
                bias_correction2: bc2,
                _pad: 0,
            });
        }
        let order: Vec<u32> = (0..self.data.train.count as u32).collect();
        self.gpu.write_u32(&self.plan.train_indices, &order);
        self.gpu.write_steps(&self.step_buffer, &steps);
        self.gpu.wait()?;
        let t0 = Instant::now();
        let done = Arc::new(AtomicUsize::new(0));
        self.submit(&self.plan.train, 0, n, &done)?;
        self.gpu.wait()?;
        self.global_step += n as u32;
        Ok(t0.elapsed().as_secs_f64())
    }

    /// Times each dispatch of one training step, after one warm-up step,
    /// the way `timing` asks (see [`Timing::choose`]). With GPU timestamps
    /// the whole step's dispatches run `reps` times, one submission each,
    /// and each dispatch's time is its median over the runs. With host wall
    /// time each dispatch is timed on its own: `reps` copies recorded into
    /// one submission after one warm-up submission, the mean reported.
    /// Repeating a dispatch re-runs it on its own output for in-place
    /// kernels (BatchNorm's running statistics, the optimizer), which
    /// changes nothing about its cost.
    pub fn profile_step(
        &mut self,
        reps: usize,
        timing: TimingChoice,
    ) -> anyhow::Result<StepProfile> {
        self.time_steps(1)?;
        let reps = reps.max(1);
        let timing = Timing::choose(self.gpu, timing);
        let ms = match timing {
            Timing::Timestamps { mode, .. } => self.profile_gpu(mode, reps)?,
            Timing::Host(_) => self.profile_host(reps)?,
        };
        let dispatches = self
            .plan
            .train
            .dispatches
            .iter()
            .zip(ms)
            .map(|(d, ms)| (d.kernel.name.to_string(), ms))
            .collect();
        Ok(StepProfile { timing, dispatches })
    }

    /// Median ms of each dispatch over `reps` timestamped runs of the step
    /// (after one untimed run); `None` where no run measured it.
    fn profile_gpu(&self, mode: TimestampMode, reps: usize) -> anyhow::Result<Vec<Option<f64>>> {
        let dispatches = &self.plan.train.dispatches;
        let timer = DispatchTimer::new(self.gpu, mode, dispatches.len())
            .ok_or_else(|| anyhow::anyhow!("the device lacks {mode:?} timestamps"))?;
        let step = Some((&self.step_group, step_offset(0)));
        timer.time(self.gpu, dispatches, step)?;
        let mut runs: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); dispatches.len()];
        for _ in 0..reps {
            for (r, ns) in runs.iter_mut().zip(timer.time(self.gpu, dispatches, step)?) {
                r.extend(ns);
            }
        }
        Ok(runs
            .into_iter()
            .map(|mut r| {
                r.sort_by(f64::total_cmp);
                r.get(r.len() / 2).map(|ns| ns * 1e-6)
            })
            .collect())
    }

    /// Host wall ms of each dispatch on its own: the mean of `reps` copies in
    /// one submission, after a one-copy warm-up submission.
    fn profile_host(&self, reps: usize) -> anyhow::Result<Vec<Option<f64>>> {
        let mut out = Vec::new();
        for d in &self.plan.train.dispatches {
            let run = |n: usize| -> anyhow::Result<f64> {
                let mut enc =
                    self.gpu
                        .device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("profile"),
                        });
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("profile"),
                        timestamp_writes: None,
                    });
                    for _ in 0..n {
                        d.record(&mut pass, Some((&self.step_group, step_offset(0))));
                    }
                }
                let t0 = Instant::now();
                self.gpu.queue.submit([enc.finish()]);
                self.gpu.wait()?;
                Ok(t0.elapsed().as_secs_f64())
            };
            run(1)?;
            let t = run(reps)?;
            out.push(Some(t * 1e3 / reps as f64));
        }
        Ok(out)
    }
}

/// The dispatches of one training step with their times, and how the times
/// were measured.
#[derive(Clone, Debug)]
pub struct StepProfile {
    /// GPU timestamps (mode, period) or the host fallback (and why).
    pub timing: Timing,
    /// (kernel name, ms) per dispatch in step order; `None` where the
    /// timestamps measured nothing (see [`crate::gpu::elapsed_ns`]).
    pub dispatches: Vec<(String, Option<f64>)>,
}

impl StepProfile {
    /// The measured dispatches summed by kernel: (name, total ms, measured
    /// dispatches), largest total first.
    pub fn by_kernel(&self) -> Vec<(String, f64, usize)> {
        let mut by: Vec<(String, f64, usize)> = Vec::new();
        for (name, ms) in &self.dispatches {
            let Some(ms) = ms else { continue };
            match by.iter_mut().find(|(n, _, _)| n == name) {
                Some(e) => {
                    e.1 += ms;
                    e.2 += 1;
                }
                None => by.push((name.clone(), *ms, 1)),
            }
        }
        by.sort_by(|x, y| y.1.total_cmp(&x.1));
        by
    }

    /// The sum of the measured dispatches' ms.
    pub fn total_ms(&self) -> f64 {
        self.dispatches.iter().filter_map(|d| d.1).sum()
    }
}
