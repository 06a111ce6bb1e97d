mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo, Tensor};
use dae::optim::{self, Optimizer};
use dae::reference;

/// Filler for the words of the flat buffers outside the optimised range.
const SENTINEL: f32 = -3.5;
/// The trainable range starts here in the flat buffers (offsets are
/// multiples of 64 words); another 64 words follow it.
const OFF_W: usize = 64;
const OFF_G: usize = 128;
/// (params, grads) offsets: aligned ones run the vec4 entry point, the
/// unaligned pair the scalar fallback.
const OFFSETS: [(usize, usize); 2] = [(OFF_W, OFF_G), (65, 130)];
const SIZES: [usize; 4] = [1, 7, 1000, 100_003];
const STEPS: u32 = 5;

fn flat(values: &[f32], offset: usize) -> Vec<f32> {
    let mut v = vec![SENTINEL; offset + values.len() + 64];
    v[offset..offset + values.len()].copy_from_slice(values);
    v
}

/// Writes `values` at word `offset` of `t` (the test's stand-in for the
/// backward pass filling the gradient buffer).
fn write_at(gpu: &Gpu, t: &Tensor, offset: usize, values: &[f32]) {
    gpu.queue
        .write_buffer(&t.buffer, (offset * 4) as u64, bytemuck::cast_slice(values));
}

fn step_info(opt: &Optimizer, t: u32) -> StepInfo {
    let (lr, bias_correction1, bias_correction2) = opt.step_values(t);
    StepInfo {
        step: t,
        lr,
        bias_correction1,
        bias_correction2,
        ..Default::default()
    }
}

/// Runs `STEPS` optimizer steps on the GPU and the reference with fresh
/// gradients each step, then compares parameters (whole flat buffer, so the
/// words outside the range must be untouched) and optimizer state.
fn check_optimizer(opt: Optimizer, seed: u64) {
    let Some(gpu) = gpu() else { return };
    for (n, (off_w, off_g)) in SIZES.iter().flat_map(|&n| OFFSETS.map(|o| (n, o))) {
        let mut r = rng(seed + n as u64);
        let w0 = uniform(&mut r, n, -1.0, 1.0);
        let params = gpu.upload_f32("params", &flat(&w0, off_w)).unwrap();
        let grads = gpu
            .upload_f32("grads", &vec![SENTINEL; off_g + n + 64])
            .unwrap();
        let s0 = gpu.zeros("state0", n).unwrap();
        let s1 = gpu.zeros("state1", n).unwrap();
        let d = match opt {
            Optimizer::Sgd { momentum, .. } => {
                optim::sgd(gpu, params.at(off_w), grads.at(off_g), &s0, n, momentum).unwrap()
            }
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => optim::adam(
                gpu,
                params.at(off_w),
                grads.at(off_g),
                &s0,
                &s1,
                n,
                beta1,
                beta2,
                eps,
            )
            .unwrap(),
        };
        let mut prog = Program::default();
        prog.push(d);
        let (mut w, mut st0, mut st1) = (w0.clone(), vec![0.0; n], vec![0.0; n]);
        for t in 1..=STEPS {
            // Gradients that shrink with t so that Adam's m and v decay
            // through different regimes; some exact zeros as well.
            let mut g = uniform(&mut r, n, -1.0, 1.0);
            for (i, v) in g.iter_mut().enumerate() {
                *v /= t as f32;
                if i % 17 == 3 {
                    *v = 0.0;
                }
            }
            write_at(gpu, &grads, off_g, &g);
            let s = step_info(&opt, t);
            prog.run(gpu, &s).unwrap();
            match opt {
                Optimizer::Sgd { momentum, .. } => {
                    reference::optim::sgd(&mut w, &mut st0, &g, s.lr, momentum)
                }
                Optimizer::Adam {
                    beta1, beta2, eps, ..
                } => reference::optim::adam(
                    &mut w,
                    &mut st0,
                    &mut st1,
                    &g,
                    s.lr,
                    s.bias_correction1,
                    s.bias_correction2,
                    beta1,
                    beta2,
                    eps,
                ),
            }
        }
        let what = format!("{opt:?} n={n} offsets {off_w},{off_g}");
        // Each step rounds a handful of f32 operations (a few ulp of |w| ≤ ~1.1
        // and of the update); five steps accumulate under 1e-6.
        assert_close(
            &format!("params {what}"),
            &gpu.read_f32(&params).unwrap(),
            &flat(&w, off_w),
            1e-6,
            1e-6,
        );
        assert_close(
            &format!("state0 {what}"),
            &gpu.read_f32(&s0).unwrap(),
            &st0,
            1e-7,
            1e-6,
        );
        assert_close(
            &format!("state1 {what}"),
            &gpu.read_f32(&s1).unwrap(),
            &st1,
            1e-7,
            1e-6,
        );
    }
}

#[test]
fn optim_sgd_matches_reference() {
    check_optimizer(Optimizer::sgd(0.1), 1);
}

#[test]
fn optim_sgd_momentum_matches_reference() {
    check_optimizer(
        Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
        },
        2,
    );
}

#[test]
fn optim_adam_matches_reference() {
    check_optimizer(Optimizer::adam(1e-2), 3);
}

#[test]
fn optim_adam_tiny_gradients_match_reference() {
    // eps = 1e-3 dominates sqrt(v) for |g| ~ 1e-4: the other branch of the
    // update's behaviour.
    check_optimizer(
        Optimizer::Adam {
            lr: 1e-3,
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-3,
        },
        4,
    );
}

#[test]
fn optim_step_values_follow_keras() {
    // The betas are f32 (as in Keras, which casts them to the variable's
    // dtype); the powers are exact to f64 rounding, then rounded to f32.
    let (b1_32, b2_32) = (0.9f32 as f64, 0.999f32 as f64);
    let (lr, b1, b2) = Optimizer::adam(1e-3).step_values(1);
    assert_eq!(lr, 1e-3);
    assert_eq!((b1, b2), ((1.0 - b1_32) as f32, (1.0 - b2_32) as f32));
    assert!((b2 - 0.001).abs() < 2e-8, "{b2}");
    for t in [2, 10, 1000, 100_000] {
        let (_, b1, b2) = Optimizer::adam(1e-3).step_values(t);
        assert_eq!(b1, (1.0 - b1_32.powi(t as i32)) as f32, "t={t}");
        assert_eq!(b2, (1.0 - b2_32.powi(t as i32)) as f32, "t={t}");
    }
    assert_eq!(Optimizer::sgd(0.01).step_values(7), (0.01, 1.0, 1.0));
    assert_eq!(
        Optimizer::sgd(0.01),
        Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.0
        }
    );
    assert_eq!(
        Optimizer::adam(2e-3),
        Optimizer::Adam {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7
        }
    );
}

#[test]
fn optim_l2_grad_matches_reference() {
    let Some(gpu) = gpu() else { return };
    for (n, (off_w, off_g)) in SIZES.iter().flat_map(|&n| OFFSETS.map(|o| (n, o))) {
        let mut r = rng(10 + n as u64);
        let w = uniform(&mut r, n, -2.0, 2.0);
        let g = uniform(&mut r, n, -1.0, 1.0);
        let params = gpu.upload_f32("params", &flat(&w, off_w)).unwrap();
        let grads = gpu.upload_f32("grads", &flat(&g, off_g)).unwrap();
        let mut prog = Program::default();
        prog.push(optim::l2_grad(gpu, grads.at(off_g), params.at(off_w), n, 1e-3).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let mut want = g.clone();
        reference::optim::l2_grad(&mut want, &w, 1e-3);
        // One f32 fma per element.
        assert_close(
            &format!("grads n={n} offsets {off_w},{off_g}"),
            &gpu.read_f32(&grads).unwrap(),
            &flat(&want, off_g),
            1e-7,
            1e-6,
        );
        assert_eq!(
            gpu.read_f32(&params).unwrap(),
            flat(&w, off_w),
            "l2_grad must not touch the parameters"
        );
    }
}

/// The gradient l2_grad adds is d/dw of factor·Σw². The penalty is quadratic,
/// so central differences are exact up to rounding: h = 1e-3 in f64 leaves
/// ~1e-13 relative error; the reference rounds to f32 (~6e-8 relative).
#[test]
fn optim_l2_grad_reference_matches_finite_differences() {
    let factor = 0.01f32;
    let w = uniform(&mut rng(5), 40, -3.0, 3.0);
    let mut added = vec![0.0; w.len()];
    reference::optim::l2_grad(&mut added, &w, factor);
    let h = 1e-3;
    let penalty = |v: &[f64]| factor as f64 * v.iter().map(|a| a * a).sum::<f64>();
    let mut v: Vec<f64> = w.iter().map(|&a| a as f64).collect();
    let fd: Vec<f32> = (0..v.len())
        .map(|i| {
            let orig = v[i];
            v[i] = orig + h;
            let up = penalty(&v);
            v[i] = orig - h;
            let down = penalty(&v);
            v[i] = orig;
            ((up - down) / (2.0 * h)) as f32
        })
        .collect();
    assert_close("l2 gradient", &added, &fd, 1e-7, 1e-6);
}
