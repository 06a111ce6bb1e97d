//! Reductions: the metric sums and divergence flags that stay on the GPU,
//! and the bias gradients of Dense and Conv2D layers.

use super::{nans, on_gpu, run1, tol, Cases, EXACT};
use crate::check::{uniform, Tol};
use crate::gpu::StepInfo;
use crate::kernels::conv2d::{self, Conv2d, Padding};
use crate::kernels::{matmul, reduce};
use crate::reference;

/// The accumulators of `tests/reduce.rs` (slot 1 is the one written).
const ACC0: [f32; 3] = [1.5, -2.0, 7.25];

/// sp-dae's parameter count: 784·128 + 128 + 128·96 + 96 + 96·128 + 128 +
/// 128·784 + 784, what the divergence check scans every step.
const SP_DAE_PARAMS: usize = 226_416;

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    // Row losses of one mlp-dae batch; a length ragged against 256 lanes.
    sum_case(k, 256, "256 mlp-dae batch", 5000);
    sum_case(k, 1001, "1001 ragged", 5001);
    let params = format!("{SP_DAE_PARAMS} sp-dae params");
    flag_case(k, SP_DAE_PARAMS, &params, None, 5010);
    flag_case(
        k,
        SP_DAE_PARAMS,
        &params,
        Some(("nan", f32::NAN, 0.5)),
        5011,
    );
    flag_case(k, 4097, "4097 ragged", None, 5012);
    let inf = Some(("+inf", f32::INFINITY, 1.0));
    flag_case(k, 4097, "4097 ragged", inf, 5013);
    let b = k.batch(256, 32);
    bias_grad_case(k, b, 512, 64, &format!("{b}x512 mlp-dae"), 5020);
    bias_grad_case(k, 37, 65, 3, "37x65 ragged offset", 5021);
    // Split into row chunks and reduced: one column over many rows, and a
    // vec4 run whose last chunk is short.
    bias_grad_case(k, 20_000, 1, 3, "20000x1 split", 5022);
    bias_grad_case(k, 4_097, 12, 4, "4097x12 split vec4", 5023);
    let conv = |batch, h, w, cin, cout, padding| Conv2d {
        batch,
        h,
        w,
        cin,
        cout,
        k: 3,
        padding,
    };
    // conv-dae's innermost conv on its 4x4x16 code, batch cut to 2.
    let b = k.batch(128, 2);
    let preset = conv(b, 4, 4, 16, 16, Padding::Same);
    conv_bias_grad_case(k, preset, &format!("{b}x4x4x16->16 conv-dae"), 5030);
    // tests/conv2d.rs conv2d_bias_grad_matches_reference's shape.
    let ragged = conv(3, 7, 5, 3, 17, Padding::Valid);
    conv_bias_grad_case(k, ragged, "3x7x5x3->17 valid ragged", 5031);
    // sp-cnn's 24x24x64 output and conv-dae's one-channel output, batch cut
    // to 4: the pixel sums split into chunks.
    let b = k.batch(128, 4);
    let sp = conv(b, 26, 26, 32, 64, Padding::Valid);
    conv_bias_grad_case(k, sp, &format!("{b}x26x26x32->64 sp-cnn"), 5032);
    let last = conv(b, 28, 28, 32, 1, Padding::Same);
    conv_bias_grad_case(k, last, &format!("{b}x28x28x32->1 conv-dae"), 5033);
}

/// Two sums of the same values added into slot 1.
fn sum_case(k: &mut Cases, n: usize, shape: &str, seed: u64) {
    k.case("reduce sum_into", "-", shape, |c| {
        // Per-row losses are positive; negatives exercise cancellation.
        let values = uniform(seed, n, -1.0, 3.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let acc = gpu.upload_f32("acc", &ACC0)?;
            let vt = gpu.upload_f32("values", &values)?;
            // Two dispatches: the second must add onto the first's result.
            let mut prog = crate::gpu::Program::default();
            prog.push(reduce::sum_into(gpu, &acc, 1, &vt, n)?);
            prog.push(reduce::sum_into(gpu, &acc, 1, &vt, n)?);
            prog.run(gpu, &StepInfo::default())?;
            gpu.read_f32(&acc)
        });
        let mut want = ACC0.to_vec();
        reference::reduce::sum_into(&mut want, 1, &values);
        reference::reduce::sum_into(&mut want, 1, &values);
        // tests/reduce.rs reduce_sum_into_matches_reference: slot 1 within
        // 3e-6·Σ|v| + 1e-6, the other slots untouched (exact).
        let abs_sum: f32 = values.iter().map(|v| v.abs()).sum::<f32>() * 2.0;
        let slot_tol = [0.0, 3e-6 * abs_sum + 1e-6, 0.0];
        let t = Tol {
            atol: 0.0,
            rtol: 1.0,
            scale: Some(&slot_tol),
        };
        c.check("", got, &want, t);
    });
}

/// Clean values in ±1e38, with `bad` = (name, value, where as a fraction
/// of n) planted once.
fn flag_case(k: &mut Cases, n: usize, shape: &str, bad: Option<(&str, f32, f64)>, seed: u64) {
    let variant = bad.map_or("finite".to_string(), |(name, _, at)| {
        let i = ((n - 1) as f64 * at) as usize;
        format!("{name} at {i}")
    });
    k.case("reduce flag_nonfinite", &variant, shape, |c| {
        let mut values = uniform(seed, n, -1e38, 1e38);
        if let Some((_, v, at)) = bad {
            values[((n - 1) as f64 * at) as usize] = v;
        } else {
            // The largest finite and the smallest subnormal must not flag.
            values[0] = f32::MAX;
            values[n - 1] = -f32::from_bits(1);
        }
        let acc0 = [0.0f32, 0.0, 5.0];
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let acc = gpu.upload_f32("acc", &acc0)?;
            let vt = gpu.upload_f32("values", &values)?;
            run1(
                gpu,
                reduce::flag_nonfinite(gpu, &acc, 1, &vt, n)?,
                &StepInfo::default(),
            )?;
            gpu.read_f32(&acc)
        });
        let mut want = acc0.to_vec();
        reference::reduce::flag_nonfinite(&mut want, 1, &values);
        // tests/reduce.rs flag_nonfinite_matches_reference: assert_eq.
        c.check("", got, &want, EXACT);
    });
}

/// db = Σ_rows dy into a NaN-filled buffer at `pad`: the words around db
/// must stay NaN.
fn bias_grad_case(k: &mut Cases, rows: usize, cols: usize, pad: usize, shape: &str, seed: u64) {
    k.case("matmul bias_grad", "-", shape, |c| {
        let dy = uniform(seed, rows * cols, -1.0, 1.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let dbt = nans(gpu, pad + cols + 1)?;
            matmul::bias_grad(gpu, dbt.at(pad), dyt.view(), rows, cols)?
                .run(gpu, &StepInfo::default())?;
            gpu.read_f32(&dbt)
        });
        let mut want = vec![f32::NAN; pad + cols + 1];
        reference::matmul::bias_grad(&mut want[pad..pad + cols], &dy, rows, cols);
        // tests/matmul.rs bias_grad_matches_reference: an f32 sum of `rows`
        // values in [-1, 1), within rows·1e-5.
        c.check("", got, &want, tol(1e-5 * rows as f64, 0.0));
    });
}

/// A Conv2D layer's bias gradient into a NaN-filled buffer at word 64.
fn conv_bias_grad_case(k: &mut Cases, s: Conv2d, shape: &str, seed: u64) {
    k.case("conv2d bias_grad", "-", shape, |c| {
        let dy = uniform(seed, s.y_len(), -1.0, 1.0);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let dbt = nans(gpu, 64 + s.cout)?;
            conv2d::bias_grad(gpu, dbt.at(64), &dyt, s)?.run(gpu, &StepInfo::default())?;
            gpu.read_f32(&dbt)
        });
        let mut want = vec![f32::NAN; 64 + s.cout];
        reference::conv2d::bias_grad(&mut want[64..], &dy, s);
        // tests/conv2d.rs conv2d_bias_grad_matches_reference.
        c.check("", got, &want, tol(1e-5, 1e-5));
    });
}
