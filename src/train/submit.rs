//! Submission: recording pre-built steps into command buffers, keeping a
//! few submissions in flight, and the non-blocking end-of-epoch wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::gpu::{step_offset, GpuError, Program};

use super::Trainer;

/// Submissions queued ahead of the GPU before recording waits for the
/// oldest. Unbounded queues made lavapipe's memory grow by hundreds of
/// megabytes per epoch; a few in flight keep the GPU as busy.
const MAX_IN_FLIGHT: usize = 3;

impl Trainer<'_> {
    /// Records `count` steps of `program` from step slot `first` into
    /// command buffers and submits them; `done` counts finished steps.
    pub(super) fn submit(
        &self,
        program: &Program,
        first: usize,
        count: usize,
        done: &Arc<AtomicUsize>,
    ) -> Result<(), GpuError> {
        let mut in_flight = VecDeque::new();
        let mut at = 0;
        while at < count {
            let chunk = self.steps_per_submit.min(count - at);
            self.submit_chunk(program, first + at, chunk, done, &mut in_flight)?;
            at += chunk;
        }
        Ok(())
    }

    /// Records steps `first..first + chunk` into one command buffer and
    /// submits it, first waiting for the oldest submission while
    /// [`MAX_IN_FLIGHT`] are queued.
    pub(super) fn submit_chunk(
        &self,
        program: &Program,
        first: usize,
        chunk: usize,
        done: &Arc<AtomicUsize>,
        in_flight: &mut VecDeque<wgpu::SubmissionIndex>,
    ) -> Result<(), GpuError> {
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("steps"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steps"),
                timestamp_writes: None,
            });
            for s in first..first + chunk {
                program.record(&mut pass, Some((&self.step_group, step_offset(s))));
            }
        }
        let index = self.gpu.queue.submit([enc.finish()]);
        in_flight.push_back(index);
        if in_flight.len() > MAX_IN_FLIGHT {
            let oldest = in_flight.pop_front().expect("non-empty");
            self.gpu
                .device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(oldest),
                    timeout: None,
                })
                .map_err(|e| GpuError::Readback(e.to_string()))?;
        }
        let done = done.clone();
        self.gpu.queue.on_submitted_work_done(move || {
            done.fetch_add(chunk, Ordering::Relaxed);
        });
        Ok(())
    }

    /// Polls without blocking until `total` steps are done, reporting
    /// progress; this is the end-of-epoch wait.
    pub(super) fn drain(
        &self,
        done: &AtomicUsize,
        total: usize,
        progress: &mut impl FnMut(usize),
    ) -> Result<(), GpuError> {
        loop {
            self.gpu
                .device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            let n = done.load(Ordering::Relaxed);
            progress(n);
            if n >= total {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
