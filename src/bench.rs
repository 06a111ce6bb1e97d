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

/// The convolutions the presets run (batch 128), by layer and pass:
/// (name, shape, pass) with pass "forward", "backward_input" or
/// "backward_weight". First layers (cin = 1) need no input gradient.
pub const CONV_SHAPES: &[(&str, crate::kernels::conv2d::Conv2d, &str)] = {
    use crate::kernels::conv2d::{Conv2d, Padding};
    const fn c(h: usize, cin: usize, cout: usize, k: usize, padding: Padding) -> Conv2d {
        Conv2d {
            batch: 128,
            h,
            w: h,
            cin,
            cout,
            k,
            padding,
        }
    }
    const S: Padding = Padding::Same;
    const V: Padding = Padding::Valid;
    &[
        (
            "conv_dae_28x28x1_32_same_fwd",
            c(28, 1, 32, 3, S),
            "forward",
        ),
        (
            "conv_dae_28x28x1_32_same_bwd_w",
            c(28, 1, 32, 3, S),
            "backward_weight",
        ),
        (
            "conv_dae_14x14x32_16_same_fwd",
            c(14, 32, 16, 3, S),
            "forward",
        ),
        (
            "conv_dae_14x14x32_16_same_bwd_in",
            c(14, 32, 16, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_14x14x32_16_same_bwd_w",
            c(14, 32, 16, 3, S),
            "backward_weight",
        ),
        ("conv_dae_7x7x16_16_same_fwd", c(7, 16, 16, 3, S), "forward"),
        (
            "conv_dae_7x7x16_16_same_bwd_in",
            c(7, 16, 16, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_7x7x16_16_same_bwd_w",
            c(7, 16, 16, 3, S),
            "backward_weight",
        ),
        ("conv_dae_4x4x16_16_same_fwd", c(4, 16, 16, 3, S), "forward"),
        ("conv_dae_8x8x16_16_same_fwd", c(8, 16, 16, 3, S), "forward"),
        (
            "conv_dae_16x16x16_32_valid_fwd",
            c(16, 16, 32, 3, V),
            "forward",
        ),
        (
            "conv_dae_16x16x16_32_valid_bwd_in",
            c(16, 16, 32, 3, V),
            "backward_input",
        ),
        (
            "conv_dae_16x16x16_32_valid_bwd_w",
            c(16, 16, 32, 3, V),
            "backward_weight",
        ),
        (
            "conv_dae_28x28x32_1_same_fwd",
            c(28, 32, 1, 3, S),
            "forward",
        ),
        (
            "conv_dae_28x28x32_1_same_bwd_in",
            c(28, 32, 1, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_28x28x32_1_same_bwd_w",
            c(28, 32, 1, 3, S),
            "backward_weight",
        ),
        (
            "fashion_cae_28x28x1_112_valid_fwd",
            c(28, 1, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_28x28x1_112_valid_bwd_w",
            c(28, 1, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_13x13x112_112_valid_fwd",
            c(13, 112, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_13x13x112_112_valid_bwd_in",
            c(13, 112, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_13x13x112_112_valid_bwd_w",
            c(13, 112, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_12x12x64_112_valid_fwd",
            c(12, 64, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_12x12x64_112_valid_bwd_in",
            c(12, 64, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_12x12x64_112_valid_bwd_w",
            c(12, 64, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_30x30x112_112_valid_fwd",
            c(30, 112, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_30x30x112_112_valid_bwd_in",
            c(30, 112, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_30x30x112_112_valid_bwd_w",
            c(30, 112, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_28x28x112_1_k1_fwd",
            c(28, 112, 1, 1, S),
            "forward",
        ),
        (
            "fashion_cae_28x28x112_1_k1_bwd_in",
            c(28, 112, 1, 1, S),
            "backward_input",
        ),
        (
            "fashion_cae_28x28x112_1_k1_bwd_w",
            c(28, 112, 1, 1, S),
            "backward_weight",
        ),
        ("sp_cnn_28x28x1_32_valid_fwd", c(28, 1, 32, 3, V), "forward"),
        (
            "sp_cnn_28x28x1_32_valid_bwd_w",
            c(28, 1, 32, 3, V),
            "backward_weight",
        ),
        (
            "sp_cnn_26x26x32_64_valid_fwd",
            c(26, 32, 64, 3, V),
            "forward",
        ),
        (
            "sp_cnn_26x26x32_64_valid_bwd_in",
            c(26, 32, 64, 3, V),
            "backward_input",
        ),
        (
            "sp_cnn_26x26x32_64_valid_bwd_w",
            c(26, 32, 64, 3, V),
            "backward_weight",
        ),
    ]
};

/// Times every supported convolution variant on [`CONV_SHAPES`], each first
/// checked against an f64 sum on sampled entries. Backward input is timed in
/// its program form (`backward_input_variant`), the weight gradient with its
/// split-K reduce. On a CPU adapter the tiled variant (meant for real GPUs;
/// 0.01–0.5 GFLOP/s on lavapipe, minutes for the table) is skipped: the
/// tests still check it.
pub fn conv_rows(gpu: &Gpu, reps: usize) -> Result<Vec<BenchRow>, GpuError> {
    use crate::gpu::Program;
    use crate::kernels::conv2d;
    let variants: Vec<Variant> = [Variant::Subgroup, Variant::Tiled]
        .into_iter()
        .filter(|v| v.supported(gpu))
        .collect();
    let mut rows = Vec::new();
    for &(name, s, pass) in CONV_SHAPES {
        let x = seeded(s.x_len(), 1);
        let dy = seeded(s.y_len(), 2);
        let w = seeded(s.w_len(), 3);
        let b = seeded(s.cout, 4);
        // W and b as views into one parameter buffer, b 64-aligned after W.
        let b_off = s.w_len().next_multiple_of(64);
        let mut params = vec![0.0; b_off + s.cout];
        params[..s.w_len()].copy_from_slice(&w);
        params[b_off..].copy_from_slice(&b);
        let pt = gpu.upload_f32("bench conv params", &params)?;
        let (input, out_len) = match pass {
            "forward" => (&x, s.y_len()),
            "backward_input" => (&dy, s.x_len()),
            _ => (&x, s.w_len()),
        };
        let it = gpu.upload_f32("bench conv input", input)?;
        let dyt = gpu.upload_f32("bench conv dy", &dy)?;
        let ot = gpu.zeros("bench conv output", out_len)?;
        for &variant in &variants {
            if variant == Variant::Tiled && gpu.is_cpu() {
                continue;
            }
            let mut prog = Program::default();
            match pass {
                "forward" => prog.push(conv2d::forward_variant(
                    gpu,
                    &ot,
                    &it,
                    pt.at(0),
                    pt.at(b_off),
                    s,
                    Activation::Relu,
                    variant,
                )?),
                "backward_input" => prog.extend(conv2d::backward_input_variant(
                    gpu,
                    &ot,
                    &it,
                    pt.at(0),
                    s,
                    variant,
                )?),
                _ => prog.extend(conv2d::backward_weight_variant(
                    gpu,
                    ot.view(),
                    &dyt,
                    &it,
                    s,
                    variant,
                )?),
            }
            let first = time_program(gpu, &prog, 1)?;
            let got = gpu.read_f32(&ot)?;
            check_conv_sampled(name, variant, pass, s, &got, &x, &dy, &w, &b)?;
            let batch = ((0.1 / first).round() as usize).clamp(1, 10);
            let reps = reps
                .min(((3.0 / (first * batch as f64)) as usize).max(3))
                .max(1);
            let mut times: Vec<f64> = (0..reps)
                .map(|_| time_program(gpu, &prog, batch).map(|t| t / batch as f64))
                .collect::<Result<_, _>>()?;
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            rows.push(BenchRow {
                name: name.to_string(),
                variant: variant.name().to_string(),
                median_ms: median * 1e3,
                gflops: s.flops() / median / 1e9,
            });
        }
    }
    Ok(rows)
}

/// Seconds for `count` replays of `prog` recorded into one command buffer.
fn time_program(gpu: &Gpu, prog: &crate::gpu::Program, count: usize) -> Result<f64, GpuError> {
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

/// Compares sampled entries of a convolution pass's output (always the last
/// row and column) with f64 sums, tolerance scaled by Σ|a||b| as in
/// [`check_sampled`]. Forward outputs are checked after ReLU.
#[allow(clippy::too_many_arguments)]
fn check_conv_sampled(
    name: &str,
    variant: Variant,
    pass: &str,
    s: crate::kernels::conv2d::Conv2d,
    got: &[f32],
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    b: &[f32],
) -> Result<(), GpuError> {
    let (oh, ow, pad) = (s.out_h() as isize, s.out_w() as isize, s.pad() as isize);
    let (h, wd, k) = (s.h as isize, s.w as isize, s.k as isize);
    let xi =
        |n: isize, y: isize, xx: isize, c: usize| (((n * h + y) * wd + xx) as usize) * s.cin + c;
    let yi =
        |n: isize, y: isize, xx: isize, c: usize| (((n * oh + y) * ow + xx) as usize) * s.cout + c;
    let wi = |ky: isize, kx: isize, ci: usize, co: usize| {
        (((ky * k + kx) as usize) * s.cin + ci) * s.cout + co
    };
    let (m, n) = match pass {
        "forward" => (s.rows(), s.cout),
        "backward_input" => (s.batch * s.h * s.w, s.cin),
        _ => (s.w_len() / s.cout, s.cout),
    };
    let rows: Vec<usize> = (0..m).step_by((m / 12).max(1)).chain([m - 1]).collect();
    let cols: Vec<usize> = (0..n).step_by((n / 6).max(1)).chain([n - 1]).collect();
    for &r in &rows {
        for &c in &cols {
            let (mut sum, mut scale) = (0f64, 0f64);
            let mut add = |a: f32, bb: f32| {
                sum += a as f64 * bb as f64;
                scale += (a as f64 * bb as f64).abs();
            };
            match pass {
                "forward" | "backward_input" => {
                    let (hh, ww) = if pass == "forward" { (oh, ow) } else { (h, wd) };
                    let r = r as isize;
                    let (img, py, px) = (r / (hh * ww), (r % (hh * ww)) / ww, r % ww);
                    for ky in 0..k {
                        for kx in 0..k {
                            if pass == "forward" {
                                let (iy, ix) = (py + ky - pad, px + kx - pad);
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                                    continue;
                                }
                                for ci in 0..s.cin {
                                    add(x[xi(img, iy, ix, ci)], w[wi(ky, kx, ci, c)]);
                                }
                            } else {
                                let (oy, ox) = (py - ky + pad, px - kx + pad);
                                if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
                                    continue;
                                }
                                for co in 0..s.cout {
                                    add(dy[yi(img, oy, ox, co)], w[wi(ky, kx, c, co)]);
                                }
                            }
                        }
                    }
                }
                _ => {
                    let (tap, ci) = (r / s.cin, r % s.cin);
                    let (ky, kx) = ((tap / s.k) as isize, (tap % s.k) as isize);
                    for img in 0..s.batch as isize {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let (iy, ix) = (oy + ky - pad, ox + kx - pad);
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                                    continue;
                                }
                                add(x[xi(img, iy, ix, ci)], dy[yi(img, oy, ox, c)]);
                            }
                        }
                    }
                }
            }
            let bias = if pass == "forward" { b[c] as f64 } else { 0.0 };
            let want = if pass == "forward" {
                (sum + bias).max(0.0)
            } else {
                sum
            };
            let err = (got[r * n + c] as f64 - want).abs();
            if err.is_nan() || err > 1e-5 + 1e-5 * (scale + bias.abs()) {
                return Err(GpuError::Shader {
                    name: format!("conv2d {pass} {} ({name})", variant.name()),
                    message: format!(
                        "output[{r},{c}] = {} but the reference gives {want}",
                        got[r * n + c]
                    ),
                });
            }
        }
    }
    Ok(())
}
