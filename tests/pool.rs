mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo};
use dae::kernels::pool::{self, Pool2d, PoolPadding, Upsample};
use dae::reference;
use rand::seq::SliceRandom;

/// Inputs on a coarse grid (multiples of 1/4 in [-2, 2]): 17 values, so most
/// windows hold ties and the first-maximum rule is exercised.
fn quantised(r: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    uniform(r, n, -2.0, 2.0)
        .into_iter()
        .map(|v| (v * 4.0).round() / 4.0)
        .collect()
}

/// Distinct values 0.01 apart, shuffled: no ties, so max-pooling is
/// differentiable at x and a step of eps < 0.005 never changes a winner.
fn distinct(r: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.01).collect();
    v.shuffle(r);
    v
}

/// (pool, stride, padding) configurations: the presets' p = s = 2 'same',
/// p = s = 3 'same' (one padding row before the image), p = s = 3 and
/// p = s = 2 'valid', and overlapping windows (s < p).
const CONFIGS: [(usize, usize, PoolPadding); 6] = [
    (2, 2, PoolPadding::Same),
    (3, 3, PoolPadding::Same),
    (3, 3, PoolPadding::Valid),
    (2, 2, PoolPadding::Valid),
    (3, 2, PoolPadding::Same),
    (3, 2, PoolPadding::Valid),
];

/// Ragged image sizes (h, w), including 7 → 4 ('same'), 26 → 8 (pool 3
/// 'valid') and 1×1.
const SIZES: [(usize, usize); 7] = [(1, 1), (5, 7), (7, 7), (9, 5), (26, 26), (28, 26), (5, 28)];

/// Every pooling shape of the sweep: batch 1 and 3, c = 1 and 3 (scalar
/// shaders), c = 16 (vec4 shaders).
fn pool_shapes() -> Vec<Pool2d> {
    let mut out = Vec::new();
    for &(h, w) in &SIZES {
        for (pool, stride, padding) in CONFIGS {
            if padding == PoolPadding::Valid && (h < pool || w < pool) {
                continue;
            }
            for (batch, c) in [(1, 1), (3, 3), (1, 16), (3, 16), (3, 1)] {
                out.push(Pool2d {
                    batch,
                    h,
                    w,
                    c,
                    pool,
                    stride,
                    padding,
                });
            }
        }
    }
    out
}

fn upsample_shapes() -> Vec<Upsample> {
    let mut out = Vec::new();
    for &(h, w) in &SIZES {
        for factor in [2, 3] {
            for (batch, c) in [(1, 1), (3, 3), (1, 16), (3, 16)] {
                out.push(Upsample {
                    batch,
                    h,
                    w,
                    c,
                    factor,
                });
            }
        }
    }
    out
}

fn gpu_maxpool_forward(gpu: &Gpu, x: &[f32], s: Pool2d) -> (Vec<f32>, Vec<u32>) {
    let xt = gpu.upload_f32("x", x).unwrap();
    let yt = gpu.upload_f32("y", &vec![f32::NAN; s.out_elems()]).unwrap();
    let at = gpu
        .upload_u32("argmax", &vec![u32::MAX; s.out_elems()])
        .unwrap();
    let mut prog = Program::default();
    prog.push(pool::maxpool_forward(gpu, &yt, &at, &xt, s).unwrap());
    prog.run(gpu, &StepInfo::default()).unwrap();
    (gpu.read_f32(&yt).unwrap(), gpu.read_u32(&at).unwrap())
}

fn gpu_maxpool_backward(gpu: &Gpu, dy: &[f32], argmax: &[u32], s: Pool2d) -> Vec<f32> {
    let dyt = gpu.upload_f32("dy", dy).unwrap();
    let at = gpu.upload_u32("argmax", argmax).unwrap();
    let dxt = gpu.upload_f32("dx", &vec![f32::NAN; s.in_len()]).unwrap();
    let mut prog = Program::default();
    prog.push(pool::maxpool_backward(gpu, &dxt, &dyt, &at, s).unwrap());
    prog.run(gpu, &StepInfo::default()).unwrap();
    gpu.read_f32(&dxt).unwrap()
}

fn gpu_upsample_forward(gpu: &Gpu, x: &[f32], s: Upsample) -> Vec<f32> {
    let xt = gpu.upload_f32("x", x).unwrap();
    let yt = gpu.upload_f32("y", &vec![f32::NAN; s.out_elems()]).unwrap();
    let mut prog = Program::default();
    prog.push(pool::upsample_forward(gpu, &yt, &xt, s).unwrap());
    prog.run(gpu, &StepInfo::default()).unwrap();
    gpu.read_f32(&yt).unwrap()
}

fn gpu_upsample_backward(gpu: &Gpu, dy: &[f32], s: Upsample) -> Vec<f32> {
    let dyt = gpu.upload_f32("dy", dy).unwrap();
    let dxt = gpu.upload_f32("dx", &vec![f32::NAN; s.in_len()]).unwrap();
    let mut prog = Program::default();
    prog.push(pool::upsample_backward(gpu, &dxt, &dyt, s).unwrap());
    prog.run(gpu, &StepInfo::default()).unwrap();
    gpu.read_f32(&dxt).unwrap()
}

#[test]
fn maxpool_output_sizes_follow_keras() {
    let s = |h, pool, padding| Pool2d {
        batch: 1,
        h,
        w: h,
        c: 1,
        pool,
        stride: pool,
        padding,
    };
    for (h, pool, padding, out, pad) in [
        (7, 2, PoolPadding::Same, 4, 0),
        (28, 2, PoolPadding::Same, 14, 0),
        (1, 2, PoolPadding::Same, 1, 0),
        // TensorFlow: pad_total = 2, one row before and one after.
        (7, 3, PoolPadding::Same, 3, 1),
        (24, 3, PoolPadding::Valid, 8, 0),
        (26, 3, PoolPadding::Valid, 8, 0),
        (26, 2, PoolPadding::Valid, 13, 0),
        (11, 2, PoolPadding::Valid, 5, 0),
    ] {
        let p = s(h, pool, padding);
        assert_eq!((p.out_h(), p.out_w()), (out, out), "{p:?}");
        assert_eq!((p.pad_top(), p.pad_left()), (pad, pad), "{p:?}");
    }
}

#[test]
fn maxpool_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(11);
    let mut p3_same = false;
    for s in pool_shapes() {
        let x = quantised(&mut r, s.in_len());
        let (y, argmax) = gpu_maxpool_forward(gpu, &x, s);
        let mut want_y = vec![0.0; s.out_elems()];
        let mut want_a = vec![0u32; s.out_elems()];
        reference::pool::maxpool_forward(&mut want_y, &mut want_a, &x, s);
        // A maximum is one of the inputs, copied: exact, and so is the
        // first-maximum index on the quantised ties.
        assert_eq!(y, want_y, "y {s:?}");
        assert_eq!(argmax, want_a, "argmax {s:?}");
        p3_same |= s.pool == 3 && s.padding == PoolPadding::Same && s.pad_top() == 1;
    }
    assert!(p3_same, "the sweep covers padding before the image");
}

#[test]
fn maxpool_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(12);
    for s in pool_shapes() {
        let x = quantised(&mut r, s.in_len());
        let mut y = vec![0.0; s.out_elems()];
        let mut argmax = vec![0u32; s.out_elems()];
        reference::pool::maxpool_forward(&mut y, &mut argmax, &x, s);
        let dy = uniform(&mut r, s.out_elems(), -1.0, 1.0);
        let got = gpu_maxpool_backward(gpu, &dy, &argmax, s);
        let mut want = vec![0.0; s.in_len()];
        reference::pool::maxpool_backward(&mut want, &dy, &argmax, s);
        // stride == pool copies dy (exact); overlapping windows add at most
        // 4 terms |dy| < 1 in f32: a few ulp of 4.
        let atol = if s.stride == s.pool { 0.0 } else { 1e-6 };
        assert_close(&format!("{s:?}"), &got, &want, atol, 0.0);
    }
}

#[test]
fn maxpool_backward_reference_matches_finite_differences() {
    let mut r = rng(13);
    for (batch, h, w, c, pool, stride, padding) in [
        (2, 7, 7, 3, 2, 2, PoolPadding::Same),
        (1, 8, 7, 2, 3, 3, PoolPadding::Valid),
        (1, 7, 6, 2, 3, 2, PoolPadding::Same),
        (1, 7, 7, 4, 3, 2, PoolPadding::Valid),
    ] {
        let s = Pool2d {
            batch,
            h,
            w,
            c,
            pool,
            stride,
            padding,
        };
        let x = distinct(&mut r, s.in_len());
        let g = uniform(&mut r, s.out_elems(), -1.0, 1.0);
        // L(x) = Σ y ⊙ G, so dL/dx = maxpool_backward(dy = G).
        let loss = |xs: &[f32]| -> f64 {
            let mut y = vec![0.0; s.out_elems()];
            let mut a = vec![0u32; s.out_elems()];
            reference::pool::maxpool_forward(&mut y, &mut a, xs, s);
            y.iter().zip(&g).map(|(&v, &gi)| v as f64 * gi as f64).sum()
        };
        // Values are 0.01 apart and |x| < 0.5: eps = 1e-3 moves no winner.
        let fd: Vec<f32> = finite_diff(&x, 1e-3, loss)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let mut y = vec![0.0; s.out_elems()];
        let mut argmax = vec![0u32; s.out_elems()];
        reference::pool::maxpool_forward(&mut y, &mut argmax, &x, s);
        let mut dx = vec![0.0; s.in_len()];
        reference::pool::maxpool_backward(&mut dx, &g, &argmax, s);
        // L is linear near x; f32 rounding of x ± eps (ulp 3e-8 at 0.5) over
        // 2·eps gives ~3e-5 relative error per term, at most 4 terms.
        assert_close(&format!("{s:?}"), &dx, &fd, 1e-4, 1e-4);
    }
}

#[test]
fn upsample_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(14);
    for s in upsample_shapes() {
        let x = uniform(&mut r, s.in_len(), -1.0, 1.0);
        let got = gpu_upsample_forward(gpu, &x, s);
        let mut want = vec![0.0; s.out_elems()];
        reference::pool::upsample_forward(&mut want, &x, s);
        // A copy: exact.
        assert_eq!(got, want, "{s:?}");
    }
}

#[test]
fn upsample_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(15);
    for s in upsample_shapes() {
        let dy = uniform(&mut r, s.out_elems(), -1.0, 1.0);
        let got = gpu_upsample_backward(gpu, &dy, s);
        let mut want = vec![0.0; s.in_len()];
        reference::pool::upsample_backward(&mut want, &dy, s);
        // An f32 sum of at most 9 terms |dy| < 1 against an f64 one: each of
        // 8 additions rounds by at most half an ulp of 9 (5e-7).
        assert_close(&format!("{s:?}"), &got, &want, 4e-6, 0.0);
    }
}

#[test]
fn upsample_backward_reference_matches_finite_differences() {
    let mut r = rng(16);
    for s in [
        Upsample {
            batch: 2,
            h: 3,
            w: 5,
            c: 3,
            factor: 2,
        },
        Upsample {
            batch: 1,
            h: 4,
            w: 3,
            c: 4,
            factor: 3,
        },
    ] {
        let x = uniform(&mut r, s.in_len(), -1.0, 1.0);
        let g = uniform(&mut r, s.out_elems(), -1.0, 1.0);
        let loss = |xs: &[f32]| -> f64 {
            let mut y = vec![0.0; s.out_elems()];
            reference::pool::upsample_forward(&mut y, xs, s);
            y.iter().zip(&g).map(|(&v, &gi)| v as f64 * gi as f64).sum()
        };
        let fd: Vec<f32> = finite_diff(&x, 1e-2, loss)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let mut dx = vec![0.0; s.in_len()];
        reference::pool::upsample_backward(&mut dx, &g, s);
        // L is linear: only the f32 rounding of x ± eps (ulp 6e-8 at 1) over
        // 2·eps, times Σ|G| <= 9, remains: < 3e-5.
        assert_close(&format!("{s:?}"), &dx, &fd, 1e-4, 1e-4);
    }
}

/// The presets' biggest pooling and upsampling layers, forward and backward
/// through the GPU's own argmax.
#[test]
fn pool_preset_shapes_match_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(17);
    let s = Pool2d {
        batch: 128,
        h: 28,
        w: 28,
        c: 32,
        pool: 2,
        stride: 2,
        padding: PoolPadding::Same,
    };
    let x = quantised(&mut r, s.in_len());
    let (y, argmax) = gpu_maxpool_forward(gpu, &x, s);
    let mut want_y = vec![0.0; s.out_elems()];
    let mut want_a = vec![0u32; s.out_elems()];
    reference::pool::maxpool_forward(&mut want_y, &mut want_a, &x, s);
    assert!(y == want_y, "maxpool y {s:?}");
    assert!(argmax == want_a, "maxpool argmax {s:?}");
    let dy = uniform(&mut r, s.out_elems(), -1.0, 1.0);
    let got = gpu_maxpool_backward(gpu, &dy, &argmax, s);
    let mut want = vec![0.0; s.in_len()];
    reference::pool::maxpool_backward(&mut want, &dy, &want_a, s);
    assert!(got == want, "maxpool dx {s:?}");

    let u = Upsample {
        batch: 128,
        h: 14,
        w: 14,
        c: 32,
        factor: 2,
    };
    let x = uniform(&mut r, u.in_len(), -1.0, 1.0);
    let got = gpu_upsample_forward(gpu, &x, u);
    let mut want = vec![0.0; u.out_elems()];
    reference::pool::upsample_forward(&mut want, &x, u);
    assert!(got == want, "upsample y {u:?}");
    let dy = uniform(&mut r, u.out_elems(), -1.0, 1.0);
    let got = gpu_upsample_backward(gpu, &dy, u);
    let mut want = vec![0.0; u.in_len()];
    reference::pool::upsample_backward(&mut want, &dy, u);
    // At most 4 terms |dy| < 1: see upsample_backward_matches_reference.
    assert_close(&format!("{u:?}"), &got, &want, 2e-6, 0.0);
}
