mod common;

use common::*;
use dae::gpu::{Program, StepInfo};
use dae::kernels::activation::{self, Activation};
use dae::reference;

const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.3),
    Activation::Sigmoid,
];

#[test]
fn activation_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(1);
    // 1 and 7 are below one vector of 4; 1001 leaves a ragged tail.
    for n in [1usize, 7, 784, 1001, 70_000] {
        let x = uniform(&mut r, n, -6.0, 6.0);
        for act in ACTS {
            let xt = gpu.upload_f32("x", &x).unwrap();
            let yt = gpu.zeros("y", n).unwrap();
            let mut prog = Program::default();
            prog.push(activation::forward(gpu, &yt, &xt, n, act).unwrap());
            prog.run(gpu, &StepInfo::default()).unwrap();
            let got = gpu.read_f32(&yt).unwrap();
            let mut want = vec![0.0; n];
            reference::activation::forward(&mut want, &x, act);
            // exp differs from libm by a few ulp.
            assert_close(&format!("{act:?} n={n}"), &got, &want, 1e-6, 1e-5);
        }
    }
}

#[test]
fn activation_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(2);
    // Shapes below, at and beyond one workgroup's 256 elements, plus a large
    // ragged one that needs a multi-workgroup tail.
    for n in [1usize, 7, 10, 196, 784, 70_001] {
        let x = uniform(&mut r, n, -6.0, 6.0);
        let dy = uniform(&mut r, n, -1.0, 1.0);
        for act in ACTS {
            let mut y = vec![0.0; n];
            reference::activation::forward(&mut y, &x, act);
            let dyt = gpu.upload_f32("dy", &dy).unwrap();
            let yt = gpu.upload_f32("y", &y).unwrap();
            let dxt = gpu.upload_f32("dx", &vec![f32::NAN; n]).unwrap();
            let mut prog = Program::default();
            prog.push(activation::backward(gpu, &dxt, &dyt, &yt, n, act).unwrap());
            prog.run(gpu, &StepInfo::default()).unwrap();
            let got = gpu.read_f32(&dxt).unwrap();
            let mut want = vec![0.0; n];
            reference::activation::backward(&mut want, &dy, &y, act);
            // Two or three f32 roundings on both sides; only a fused multiply-add
            // (allowed on GPUs) can make them differ, by an ulp or so.
            assert_close(&format!("{act:?} n={n}"), &got, &want, 1e-7, 1e-6);
        }
    }
}

#[test]
fn activation_backward_reference_matches_finite_differences() {
    let mut r = rng(3);
    let n = 64;
    // Keep |x| >= 0.05 so no relu kink lies within eps of a sample.
    let x: Vec<f32> = uniform(&mut r, n, 0.05, 4.0)
        .into_iter()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { v } else { -v })
        .collect();
    let w = uniform(&mut r, n, -1.0, 1.0);
    for act in ACTS {
        // L(x) = Σ w_i f(x_i), so dL/dx = w ⊙ f'(x): backward with dy = w.
        let loss = |xs: &[f32]| -> f64 {
            xs.iter()
                .zip(&w)
                .map(|(&v, &wi)| wi as f64 * reference::activation::apply(act, v) as f64)
                .sum()
        };
        let eps = 1e-2;
        let fd = finite_diff(&x, eps, loss);
        let mut y = vec![0.0; n];
        reference::activation::forward(&mut y, &x, act);
        let mut dx = vec![0.0; n];
        reference::activation::backward(&mut dx, &w, &y, act);
        let fd: Vec<f32> = fd.iter().map(|&v| v as f32).collect();
        // Piecewise-linear cases are exact up to f32 rounding of f (|f| <= 4,
        // ulp 5e-7, / 2·eps = 2.4e-5); sigmoid adds eps²·f'''/6 <= 2e-6.
        assert_close(&format!("{act:?}"), &dx, &fd, 1e-4, 1e-3);
    }
}
