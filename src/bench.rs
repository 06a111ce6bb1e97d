//! Kernel and training-step benchmarks shared by `dae bench` and benches/.
//!
//! Every variant is first checked against the CPU reference on the shape it
//! is timed on, then timed after a warm-up: several dispatches are recorded
//! into one command buffer, submitted and waited for, and the median over
//! `reps` submissions is reported per dispatch.

use std::time::Instant;

use crate::gpu::{Dispatch, Gpu, GpuError};
use crate::kernels::activation::Activation;
use crate::kernels::matmul::{self, Form, Matmul, Variant};

/// One timed kernel: its median time per dispatch and its throughput.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub name: String,
    pub variant: String,
    pub median_ms: f64,
    pub gflops: f64,
}

/// The matmul shapes the presets run, by layer and pass, plus 1024³ for
/// comparison with other libraries: (name, m, k, n, form, act, bias).
pub const MATMUL_SHAPES: &[(&str, usize, usize, usize, Form, Activation, bool)] = &[
    (
        "mlp_dae_fwd_256x784x512",
        256,
        784,
        512,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_bwd_input_256x512x784",
        256,
        512,
        784,
        Form::NT,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_bwd_weight_784x256x512",
        784,
        256,
        512,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_fwd_256x512x256",
        256,
        512,
        256,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_fwd_256x256x196",
        256,
        256,
        196,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_bwd_input_256x196x256",
        256,
        196,
        256,
        Form::NT,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_bwd_weight_196x256x256",
        196,
        256,
        256,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "sp_mlp_fwd_128x784x64",
        128,
        784,
        64,
        Form::NN,
        Activation::Sigmoid,
        true,
    ),
    (
        "classifier_head_256x128x10",
        256,
        128,
        10,
        Form::NN,
        Activation::Identity,
        true,
    ),
    (
        "classifier_head_bwd_weight_128x256x10",
        128,
        256,
        10,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "square_1024x1024x1024",
        1024,
        1024,
        1024,
        Form::NN,
        Activation::Identity,
        false,
    ),
];

/// Times every supported matmul variant on [`MATMUL_SHAPES`].
pub fn matmul_rows(gpu: &Gpu, reps: usize) -> Result<Vec<BenchRow>, GpuError> {
    let variants: Vec<Variant> = [Variant::Subgroup, Variant::Tiled]
        .into_iter()
        .filter(|v| v.supported(gpu))
        .collect();
    let mut rows = Vec::new();
    for &(name, m, k, n, form, act, with_bias) in MATMUL_SHAPES {
        let shape = Matmul { m, k, n, form, act };
        let a = seeded(shape.a_len(), 1);
        let b = seeded(shape.b_len(), 2);
        let bias = seeded(n, 3);
        let at = gpu.upload_f32("bench A", &a)?;
        let bt = gpu.upload_f32("bench B", &b)?;
        let biast = gpu.upload_f32("bench bias", &bias)?;
        let ct = gpu.zeros("bench C", shape.c_len())?;
        for &variant in &variants {
            let bias_view = with_bias.then(|| biast.view());
            let d = matmul::matmul_variant(
                gpu,
                ct.view(),
                at.view(),
                bt.view(),
                bias_view,
                shape,
                variant,
            )?;
            let first = time_batch(gpu, &d, 1)?;
            let got = gpu.read_f32(&ct)?;
            check_sampled(
                name,
                variant,
                &got,
                &a,
                &b,
                with_bias.then_some(&bias[..]),
                shape,
            )?;
            // Keep one row of the table to a few seconds even for slow variants.
            let batch = ((0.1 / first).round() as usize).clamp(1, 10);
            let reps = reps
                .min(((3.0 / (first * batch as f64)) as usize).max(3))
                .max(1);
            let mut times: Vec<f64> = (0..reps)
                .map(|_| time_batch(gpu, &d, batch).map(|t| t / batch as f64))
                .collect::<Result<_, _>>()?;
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            rows.push(BenchRow {
                name: name.to_string(),
                variant: variant.name().to_string(),
                median_ms: median * 1e3,
                gflops: shape.flops() / median / 1e9,
            });
        }
    }
    Ok(rows)
}

/// Prints `name | variant | ms | GFLOP/s`.
pub fn print_table(rows: &[BenchRow]) {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<w$} | {:<8} | {:>9} | {:>8}",
        "name", "variant", "ms", "GFLOP/s"
    );
    println!(
        "{}-|-{}-|-{}-|-{}",
        "-".repeat(w),
        "-".repeat(8),
        "-".repeat(9),
        "-".repeat(8)
    );
    for r in rows {
        println!(
            "{:<w$} | {:<8} | {:>9.3} | {:>8.2}",
            r.name, r.variant, r.median_ms, r.gflops
        );
    }
}

/// Seconds for `count` replays of `d` recorded into one command buffer.
fn time_batch(gpu: &Gpu, d: &Dispatch, count: usize) -> Result<f64, GpuError> {
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
fn seeded(len: usize, seed: u32) -> Vec<f32> {
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

/// Compares a sample of C's entries (always including the last row and
/// column, where ragged edges go wrong) with an f64 dot product. The
/// tolerance scales with Σ|a||b|, the size of the rounding error of any f32
/// summation order.
fn check_sampled(
    name: &str,
    variant: Variant,
    got: &[f32],
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    shape: Matmul,
) -> Result<(), GpuError> {
    let Matmul { m, k, n, form, act } = shape;
    let rows: Vec<usize> = (0..m).step_by((m / 16).max(1)).chain([m - 1]).collect();
    let cols: Vec<usize> = (0..n).step_by((n / 16).max(1)).chain([n - 1]).collect();
    for &i in &rows {
        for &j in &cols {
            let (mut s, mut scale) = (bias.map_or(0.0, |b| b[j] as f64), 0.0);
            for p in 0..k {
                let x = match form {
                    Form::TN => a[p * m + i],
                    _ => a[i * k + p],
                } as f64;
                let y = match form {
                    Form::NT => b[j * k + p],
                    _ => b[p * n + j],
                } as f64;
                s += x * y;
                scale += (x * y).abs();
            }
            let want = crate::reference::activation::apply(act, s as f32);
            let err = (got[i * n + j] - want).abs() as f64;
            if err.is_nan() || err > 1e-5 + 1e-5 * scale {
                return Err(GpuError::Shader {
                    name: format!("matmul {} ({name})", variant.name()),
                    message: format!(
                        "C[{i},{j}] = {} but the reference gives {want}",
                        got[i * n + j]
                    ),
                });
            }
        }
    }
    Ok(())
}
