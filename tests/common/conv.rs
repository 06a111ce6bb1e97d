//! Helpers shared by the convolution tests (tests/conv2d.rs and
//! tests/conv2d_direct.rs): shapes, the parameter buffer and the one
//! tolerance every variant is held to.

use dae::gpu::{Gpu, Program, StepInfo};
use dae::kernels::activation::Activation;
use dae::kernels::conv2d::{Conv2d, Padding};

/// Where W and b sit in the fake parameter buffer: multiples of 64 elements,
/// as the parameter layout places them, with junk around them.
pub const W_OFF: usize = 64;

pub fn conv(
    batch: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    k: usize,
    padding: Padding,
) -> Conv2d {
    Conv2d {
        batch,
        h,
        w,
        cin,
        cout,
        k,
        padding,
    }
}

pub const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
];

/// A parameter buffer holding `w` at W_OFF and `b` at the next multiple of
/// 64, with 7.0 everywhere else; returns it and b's offset.
pub fn params_buffer(w: &[f32], b: &[f32]) -> (Vec<f32>, usize) {
    let b_off = (W_OFF + w.len()).next_multiple_of(64);
    let mut p = vec![7.0; b_off + b.len() + 5];
    p[W_OFF..W_OFF + w.len()].copy_from_slice(w);
    p[b_off..b_off + b.len()].copy_from_slice(b);
    (p, b_off)
}

pub fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

/// Tolerance: an f32 sum in any order is off from the exact value by about
/// √K·eps·Σ|a||b| (at most K·eps·Σ|a||b|), so errors are measured against
/// scale = the same pass run on |inputs| rather than |result|, which can
/// cancel to zero. 1e-5·scale is ~80 ulp of the scale, far above the
/// rounding seen at K = 1008 and far below an indexing mistake (O(scale)).
/// The activations are 1-Lipschitz and do not enlarge the error.
pub fn assert_scaled(what: &str, got: &[f32], want: &[f32], scale: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tol = 1e-6 + 1e-5 * s;
        assert!(
            (g - w).abs() <= tol,
            "{what}: index {i}: got {g}, want {w} (tol {tol})"
        );
    }
}

pub fn run(gpu: &Gpu, prog: Program) {
    prog.run(gpu, &StepInfo::default()).unwrap();
}
