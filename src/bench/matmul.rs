//! The matmul table: every supported variant on [`MATMUL_SHAPES`], checked
//! against an f64 dot product on the shape it is timed on.

use super::{median_seconds, seeded, time_batch, BenchRow, MATMUL_SHAPES};
use crate::gpu::{Gpu, GpuError};
use crate::kernels::matmul::{self, Form, Matmul, Variant};

/// Times every supported matmul variant on [`MATMUL_SHAPES`].
pub fn matmul_rows(gpu: &Gpu, reps: usize) -> Result<Vec<BenchRow>, GpuError> {
    let variants: Vec<Variant> = Variant::ALL
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
            let median = median_seconds(first, reps, |n| time_batch(gpu, &d, n))?;
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
