//! The convolution table: every supported variant on [`CONV_SHAPES`],
//! checked against f64 sums on sampled entries.

use super::{median_seconds, seeded, time_program, BenchRow, CONV_SHAPES, UPSAMPLED};
use crate::gpu::{Gpu, GpuError, Program};
use crate::kernels::activation::Activation;
use crate::kernels::conv2d::subpixel::{self, Subpixel};
use crate::kernels::conv2d::{self, Conv2d};
use crate::kernels::matmul::Variant;
use crate::kernels::pool::Upsample;

/// Times every supported convolution variant on [`CONV_SHAPES`], each first
/// checked against an f64 sum on sampled entries. Backward input is timed in
/// its program form (`backward_input_variant`), the weight gradient with its
/// split-K reduce. On a CPU adapter the tiled variant (meant for real GPUs;
/// 0.01–0.5 GFLOP/s on lavapipe, minutes for the table) is skipped: the
/// tests still check it. The convolutions of upsampled images are also
/// timed in sub-pixel form (variant `subpixel`, where it applies), their
/// GFLOP/s counted on the upsampled convolution's multiply-adds so that the
/// rows compare (the form itself does 2.25x to 3.24x fewer).
pub fn conv_rows(gpu: &Gpu, reps: usize) -> Result<Vec<BenchRow>, GpuError> {
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
            let median = median_seconds(first, reps, |n| time_program(gpu, &prog, n))?;
            rows.push(BenchRow {
                name: name.to_string(),
                variant: variant.name().to_string(),
                median_ms: median * 1e3,
                gflops: s.flops() / median / 1e9,
            });
        }
        let factor = UPSAMPLED
            .iter()
            .find(|(stem, _)| name.starts_with(stem))
            .map(|&(_, f)| f);
        if let Some(factor) = factor {
            let sp = Subpixel { conv: s, factor };
            if subpixel::applies(gpu, &sp, &[0, b_off]) {
                rows.push(subpixel_row(gpu, name, sp, pass, reps)?);
            }
        }
    }
    Ok(rows)
}

/// One pass of the sub-pixel form on `sp`, checked on sampled entries as
/// the other variants are (the source image upsampled on the CPU for the
/// reference; the source's input gradient is the sum over each block).
fn subpixel_row(
    gpu: &Gpu,
    name: &str,
    sp: Subpixel,
    pass: &str,
    reps: usize,
) -> Result<BenchRow, GpuError> {
    let s = sp.conv;
    let up = Upsample {
        batch: s.batch,
        h: sp.src_h(),
        w: sp.src_w(),
        c: s.cin,
        factor: sp.factor,
    };
    let src = seeded(sp.x_len(), 1);
    let mut x = vec![0.0; s.x_len()];
    crate::reference::pool::upsample_forward(&mut x, &src, up);
    let dy = seeded(s.y_len(), 2);
    let w = seeded(s.w_len(), 3);
    let b = seeded(s.cout, 4);
    let b_off = s.w_len().next_multiple_of(64);
    let mut params = vec![0.0; b_off + s.cout];
    params[..s.w_len()].copy_from_slice(&w);
    params[b_off..].copy_from_slice(&b);
    let pt = gpu.upload_f32("bench subpixel params", &params)?;
    let xt = gpu.upload_f32("bench subpixel input", &src)?;
    let dyt = gpu.upload_f32("bench subpixel dy", &dy)?;
    let out_len = match pass {
        "forward" => s.y_len(),
        "backward_input" => sp.x_len(),
        _ => s.w_len(),
    };
    let ot = gpu.zeros("bench subpixel output", out_len)?;
    let (w_view, act) = (pt.at(0), Activation::Relu);
    let prog = match pass {
        "forward" => subpixel::forward(gpu, &ot, &xt, w_view, pt.at(b_off), sp, act)?,
        "backward_input" => subpixel::backward(gpu, &dyt, &xt, w_view, None, Some(&ot), sp)?,
        _ => subpixel::backward(gpu, &dyt, &xt, w_view, Some(ot.view()), None, sp)?,
    };
    let first = time_program(gpu, &prog, 1)?;
    let got = gpu.read_f32(&ot)?;
    if pass == "backward_input" {
        check_block_sums(name, sp, &got, &dy, &w)?;
    } else {
        check_conv_sampled(name, Variant::Subgroup, pass, s, &got, &x, &dy, &w, &b)?;
    }
    let median = median_seconds(first, reps, |n| time_program(gpu, &prog, n))?;
    Ok(BenchRow {
        name: name.to_string(),
        variant: "subpixel".into(),
        median_ms: median * 1e3,
        gflops: s.flops() / median / 1e9,
    })
}

/// Compares sampled entries of a convolution pass's output (always the last
/// row and column) with f64 sums, tolerance scaled by Σ|a||b| as in
/// the matmul check. Forward outputs are checked after ReLU.
#[allow(clippy::too_many_arguments)]
fn check_conv_sampled(
    name: &str,
    variant: Variant,
    pass: &str,
    s: Conv2d,
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

/// Sampled entries of the source image's input gradient: each the sum over
/// its factor × factor block of the upsampled image's input gradient, in
/// f64, tolerance scaled by Σ|a||b| as in [`check_conv_sampled`].
fn check_block_sums(
    name: &str,
    sp: Subpixel,
    got: &[f32],
    dy: &[f32],
    w: &[f32],
) -> Result<(), GpuError> {
    let s = sp.conv;
    let (f, sh, sw) = (sp.factor as isize, sp.src_h() as isize, sp.src_w() as isize);
    let (oh, ow, pad, k) = (
        s.out_h() as isize,
        s.out_w() as isize,
        s.pad() as isize,
        s.k as isize,
    );
    let (m, n) = (sp.x_len() / s.cin, s.cin);
    let rows: Vec<usize> = (0..m).step_by((m / 12).max(1)).chain([m - 1]).collect();
    let cols: Vec<usize> = (0..n).step_by((n / 6).max(1)).chain([n - 1]).collect();
    for &r in &rows {
        for &c in &cols {
            let ri = r as isize;
            let (img, sy, sx) = (ri / (sh * sw), (ri % (sh * sw)) / sw, ri % sw);
            let (mut sum, mut scale) = (0f64, 0f64);
            for (a, bb) in (0..f).flat_map(|a| (0..f).map(move |bb| (a, bb))) {
                let (py, px) = (sy * f + a, sx * f + bb);
                for ky in 0..k {
                    for kx in 0..k {
                        let (oy, ox) = (py - ky + pad, px - kx + pad);
                        if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
                            continue;
                        }
                        let yo = (((img * oh + oy) * ow + ox) as usize) * s.cout;
                        let wo = (((ky * k + kx) as usize) * s.cin + c) * s.cout;
                        for co in 0..s.cout {
                            let p = dy[yo + co] as f64 * w[wo + co] as f64;
                            sum += p;
                            scale += p.abs();
                        }
                    }
                }
            }
            let err = (got[r * n + c] as f64 - sum).abs();
            if err.is_nan() || err > 1e-5 + 1e-5 * scale {
                return Err(GpuError::Shader {
                    name: format!("conv2d backward_input subpixel ({name})"),
                    message: format!(
                        "output[{r},{c}] = {} but the reference gives {sum}",
                        got[r * n + c]
                    ),
                });
            }
        }
    }
    Ok(())
}
