//! Benchmarks shared by `dae bench` and `benches/`: kernel tables, one
//! training step, and whole training epochs of each preset.
//!
//! - [`matmul_rows`], [`conv_rows`]: every kernel variant, first checked
//!   against an f64 reference on the shape it is timed on, then timed after a
//!   warm-up: several dispatches are recorded into one command buffer,
//!   submitted and waited for, and the median over `reps` submissions is
//!   reported per dispatch. The shapes are the named tables of `shapes`.
//! - [`bench_step`], [`profile_step`]: one full training step of a preset,
//!   and each of its dispatches: GPU time from timestamp queries where the
//!   adapter has them, host wall time of each on its own elsewhere.
//! - [`compare_rows`]: warm training epochs (with their test pass) of each
//!   preset through the same `Trainer` that `dae train` drives, in samples/s,
//!   for side-by-side comparison with another framework
//!   (`benches/compare.py`).

mod compare;
mod conv;
mod matmul;
mod shapes;
mod step;

use std::time::Instant;

use crate::gpu::{Dispatch, Gpu, GpuError, Program};

pub use compare::{compare_rows, print_compare, CompareOptions, CompareRow, DEFAULT_REPS};
pub use conv::conv_rows;
pub use matmul::matmul_rows;
pub use shapes::{CONV_SHAPES, MATMUL_SHAPES, UPSAMPLED};
pub use step::{bench_step, print_profile, profile_step};

/// One timed kernel: its median time per dispatch and its throughput.
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// The kernel and shape, e.g. `matmul NN 256x784x512`.
    pub name: String,
    /// The kernel variant timed (`subgroup`, `tiled`, ...).
    pub variant: String,
    /// Median milliseconds per dispatch over the repetitions.
    pub median_ms: f64,
    /// Useful floating-point operations per second at the median, in
    /// units of 10^9 (multiply and add counted separately).
    pub gflops: f64,
}

/// Prints `name | variant | ms | GFLOP/s`.
pub fn print_table(rows: &[BenchRow]) {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<w$} | {:<12} | {:>9} | {:>8}",
        "name", "variant", "ms", "GFLOP/s"
    );
    println!(
        "{}-|-{}-|-{}-|-{}",
        "-".repeat(w),
        "-".repeat(12),
        "-".repeat(9),
        "-".repeat(8)
    );
    for r in rows {
        println!(
            "{:<w$} | {:<12} | {:>9.3} | {:>8.2}",
            r.name, r.variant, r.median_ms, r.gflops
        );
    }
}

/// Seconds for `count` replays of `d` recorded into one command buffer.
pub(crate) fn time_batch(gpu: &Gpu, d: &Dispatch, count: usize) -> Result<f64, GpuError> {
    let start = Instant::now();
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("bench"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bench"),
            timestamp_writes: None,
        });
        for _ in 0..count {
            d.record(&mut pass, None);
        }
    }
    gpu.queue.submit([enc.finish()]);
    gpu.wait()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Deterministic values in [-1, 1) from a simple integer hash, so benchmark
/// inputs need no RNG state.
pub(crate) fn seeded(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| {
            let mut x = i.wrapping_mul(0x9E37_79B9) ^ seed.wrapping_mul(0x85EB_CA6B);
            x ^= x >> 16;
            x = x.wrapping_mul(0x7FEB_352D);
            x ^= x >> 15;
            (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Seconds for `count` replays of `prog` recorded into one command buffer.
pub(crate) fn time_program(gpu: &Gpu, prog: &Program, count: usize) -> Result<f64, GpuError> {
    let start = Instant::now();
    let mut enc = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("bench conv"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bench conv"),
            timestamp_writes: None,
        });
        for _ in 0..count {
            prog.record(&mut pass, None);
        }
    }
    gpu.queue.submit([enc.finish()]);
    gpu.wait()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Median seconds per replay: `first` is the time of one replay (the
/// warm-up), `run(count)` the time of `count` replays in one submission.
/// Replays are batched to about 0.1 s per submission, and the repetitions
/// capped so that one row takes a few seconds even for slow variants.
pub(crate) fn median_seconds(
    first: f64,
    reps: usize,
    run: impl Fn(usize) -> Result<f64, GpuError>,
) -> Result<f64, GpuError> {
    let batch = ((0.1 / first).round() as usize).clamp(1, 10);
    let reps = reps
        .min(((3.0 / (first * batch as f64)) as usize).max(3))
        .max(1);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| run(batch).map(|t| t / batch as f64))
        .collect::<Result<_, _>>()?;
    Ok(median(&mut times))
}

/// The median of `v` (the upper one of an even count); sorts `v`.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
