//! Max-pooling and nearest-neighbour upsampling, forward and backward, and
//! the backward passes' fused slope of the activation before them.

use super::{act_name, as_f32, nans, on_gpu, pick, tol, Case, Cases, ACTS, EXACT};
use crate::check::uniform;
use crate::gpu::{GpuError, Program, StepInfo, Tensor};
use crate::kernels::activation::{self, Activation};
use crate::kernels::pool::{self, Pool2d, PoolPadding, Upsample};
use crate::reference;

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    let p = |batch, h, w, c, pool, stride, padding| Pool2d {
        batch,
        h,
        w,
        c,
        pool,
        stride,
        padding,
    };
    let same = PoolPadding::Same;
    let b = k.batch(128, 2);
    // conv-dae's first max-pool (vec4 channels, windows that tile), then
    // ragged shapes: overlapping windows with padding before the image
    // over 3 channels, tiling windows over 3 channels with a partial last
    // window, and overlapping windows over 4 channels (vec4).
    let pools = [
        (
            p(b, 28, 28, 32, 2, 2, same),
            format!("{b}x28x28x32 p2 conv-dae"),
        ),
        (p(3, 9, 5, 3, 3, 2, same), "3x9x5x3 p3 s2 ragged".into()),
        (p(2, 5, 7, 3, 2, 2, same), "2x5x7x3 p2 ragged".into()),
        (p(1, 6, 7, 4, 3, 2, same), "1x6x7x4 p3 s2 ragged".into()),
    ];
    for (i, (s, shape)) in pools.iter().enumerate() {
        let seed = 8000 + 10 * i as u64;
        maxpool_case(k, *s, shape, None, seed);
        maxpool_case(k, *s, shape, Some(ACTS[(i + 1) % 4]), seed + 1);
    }
    let u = |batch, h, w, c, factor| Upsample {
        batch,
        h,
        w,
        c,
        factor,
    };
    // conv-dae's last upsampling (tests/pool.rs's preset shape), then a
    // ragged one by fashion-cae's factor 3 over 3 channels.
    let ups = [
        (u(b, 14, 14, 32, 2), format!("{b}x14x14x32 x2 conv-dae")),
        (u(3, 5, 7, 3, 3), "3x5x7x3 x3 ragged".into()),
    ];
    for (i, (s, shape)) in ups.iter().enumerate() {
        let seed = 8100 + 10 * i as u64;
        upsample_case(k, *s, shape, None, seed);
        upsample_case(k, *s, shape, Some(ACTS[(i + 2) % 4]), seed + 1);
    }
}

/// Inputs on a grid of 1/4 in [-2, 2] (`tests/pool.rs`): most windows
/// hold ties, so the first-maximum rule is exercised.
fn quantised(seed: u64, n: usize) -> Vec<f32> {
    uniform(seed, n, -2.0, 2.0)
        .into_iter()
        .map(|v| (v * 4.0).round() / 4.0)
        .collect()
}

/// Runs `build`'s program (it gets the output) and reads the output back.
fn run_into(
    c: &Case,
    len: usize,
    build: impl FnOnce(&Tensor) -> Result<Program, GpuError>,
) -> Result<Vec<f32>, String> {
    let gpu = c.gpu;
    on_gpu(|| {
        let out = nans(gpu, len)?;
        build(&out)?.run(gpu, &StepInfo::default())?;
        gpu.read_f32(&out)
    })
}

/// Without `slope`: the forward (y and argmax) and the backward through the
/// reference's argmax, against the reference. With it: the backward fused
/// with `act`'s slope (x being act's output), against the plain backward
/// then the activation's backward on the GPU, as `tests/fusion.rs` does.
fn maxpool_case(k: &mut Cases, s: Pool2d, shape: &str, slope: Option<Activation>, seed: u64) {
    let gpu = k.gpu();
    let x = quantised(seed, s.in_len());
    let dy = uniform(seed + 1, s.out_elems(), -1.0, 1.0);
    let mut y = vec![0.0; s.out_elems()];
    let mut argmax = vec![0u32; s.out_elems()];
    reference::pool::maxpool_forward(&mut y, &mut argmax, &x, s);
    if let Some(act) = slope {
        let variant = format!("fused {}", act_name(act));
        k.case("maxpool backward", &variant, shape, |c| {
            let mut xa = vec![0.0; x.len()];
            reference::activation::forward(&mut xa, &x, act);
            let inputs = || -> Result<_, GpuError> {
                let xt = gpu.upload_f32("x", &xa)?;
                let dyt = gpu.upload_f32("dy", &dy)?;
                Ok((xt, dyt, gpu.upload_u32("argmax", &argmax)?))
            };
            let got = run_into(c, s.in_len(), |dx| {
                let (xt, dyt, at) = inputs()?;
                let mut prog = Program::default();
                let slope = Some((&xt, act));
                prog.push(pool::maxpool_backward_slope(gpu, dx, &dyt, &at, s, slope)?);
                Ok(prog)
            });
            let want = run_into(c, s.in_len(), |dx| {
                let (xt, dyt, at) = inputs()?;
                let plain = gpu.zeros("plain", s.in_len())?;
                let mut prog = Program::default();
                prog.push(pool::maxpool_backward(gpu, &plain, &dyt, &at, s)?);
                prog.push(activation::backward(gpu, dx, &plain, &xt, s.in_len(), act)?);
                Ok(prog)
            });
            // tests/fusion.rs pooling_backward_slope_is_the_separate_passes_bit_for_bit.
            c.versus_separate(got, want);
        });
        return;
    }
    k.case("maxpool forward", "-", shape, |c| {
        let outs = on_gpu(|| {
            let xt = gpu.upload_f32("x", &x)?;
            let yt = nans(gpu, s.out_elems())?;
            let at = gpu.upload_u32("argmax", &vec![u32::MAX; s.out_elems()])?;
            let mut prog = Program::default();
            prog.push(pool::maxpool_forward(gpu, &yt, &at, &xt, s)?);
            prog.run(gpu, &StepInfo::default())?;
            Ok(vec![gpu.read_f32(&yt)?, as_f32(&gpu.read_u32(&at)?)])
        });
        // tests/pool.rs maxpool_forward_matches_reference: assert_eq.
        c.check("y", pick(&outs, 0), &y, EXACT);
        c.check("argmax", pick(&outs, 1), &as_f32(&argmax), EXACT);
    });
    k.case("maxpool backward", "-", shape, |c| {
        let got = run_into(c, s.in_len(), |dx| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let at = gpu.upload_u32("argmax", &argmax)?;
            let mut prog = Program::default();
            prog.push(pool::maxpool_backward(gpu, dx, &dyt, &at, s)?);
            Ok(prog)
        });
        let mut want = vec![0.0; s.in_len()];
        reference::pool::maxpool_backward(&mut want, &dy, &argmax, s);
        // tests/pool.rs maxpool_backward_matches_reference: windows that
        // tile copy dy (exact); overlapping ones add a few terms.
        let atol = if s.stride == s.pool { 0.0 } else { 1e-6 };
        c.check("", got, &want, tol(atol, 0.0));
    });
}

/// As [`maxpool_case`], for upsampling.
fn upsample_case(k: &mut Cases, s: Upsample, shape: &str, slope: Option<Activation>, seed: u64) {
    let gpu = k.gpu();
    let x = uniform(seed, s.in_len(), -1.0, 1.0);
    let dy = uniform(seed + 1, s.out_elems(), -1.0, 1.0);
    if let Some(act) = slope {
        let variant = format!("fused {}", act_name(act));
        k.case("upsample backward", &variant, shape, |c| {
            let mut xa = vec![0.0; x.len()];
            reference::activation::forward(&mut xa, &x, act);
            let inputs = || -> Result<_, GpuError> {
                Ok((gpu.upload_f32("x", &xa)?, gpu.upload_f32("dy", &dy)?))
            };
            let got = run_into(c, s.in_len(), |dx| {
                let (xt, dyt) = inputs()?;
                let mut prog = Program::default();
                let slope = Some((&xt, act));
                prog.push(pool::upsample_backward_slope(gpu, dx, &dyt, s, slope)?);
                Ok(prog)
            });
            let want = run_into(c, s.in_len(), |dx| {
                let (xt, dyt) = inputs()?;
                let plain = gpu.zeros("plain", s.in_len())?;
                let mut prog = Program::default();
                prog.push(pool::upsample_backward(gpu, &plain, &dyt, s)?);
                prog.push(activation::backward(gpu, dx, &plain, &xt, s.in_len(), act)?);
                Ok(prog)
            });
            // tests/fusion.rs pooling_backward_slope_is_the_separate_passes_bit_for_bit.
            c.versus_separate(got, want);
        });
        return;
    }
    k.case("upsample forward", "-", shape, |c| {
        let got = run_into(c, s.out_elems(), |y| {
            let xt = gpu.upload_f32("x", &x)?;
            let mut prog = Program::default();
            prog.push(pool::upsample_forward(gpu, y, &xt, s)?);
            Ok(prog)
        });
        let mut want = vec![0.0; s.out_elems()];
        reference::pool::upsample_forward(&mut want, &x, s);
        // tests/pool.rs upsample_forward_matches_reference: a copy, exact.
        c.check("", got, &want, EXACT);
    });
    k.case("upsample backward", "-", shape, |c| {
        let got = run_into(c, s.in_len(), |dx| {
            let dyt = gpu.upload_f32("dy", &dy)?;
            let mut prog = Program::default();
            prog.push(pool::upsample_backward(gpu, dx, &dyt, s)?);
            Ok(prog)
        });
        let mut want = vec![0.0; s.in_len()];
        reference::pool::upsample_backward(&mut want, &dy, s);
        // tests/pool.rs: an f32 sum of factor² terms |dy| < 1, 2e-6 for 4
        // (pool_preset_shapes_match_reference), 4e-6 for up to 9
        // (upsample_backward_matches_reference).
        let atol = if s.factor <= 2 { 2e-6 } else { 4e-6 };
        c.check("", got, &want, tol(atol, 0.0));
    });
}
