//! Benchmark and profiling helpers: timing whole training steps and each
//! dispatch of one.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use crate::gpu::{step_offset, StepInfo};

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

    /// Times each dispatch of the training step on its own: `reps` copies
    /// recorded into one submission, after one warm-up submission. Returns
    /// (kernel name, ms per dispatch) in step order. Repeating a dispatch
    /// re-runs it on its own output for in-place kernels (BatchNorm's running
    /// statistics, the optimizer), which changes nothing about its cost.
    pub fn profile_step(&mut self, reps: usize) -> anyhow::Result<Vec<(String, f64)>> {
        self.time_steps(1)?;
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
            out.push((d.kernel.name.to_string(), t * 1e3 / reps as f64));
        }
        Ok(out)
    }
}
