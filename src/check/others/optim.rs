//! The optimizers over the flat parameter buffer (SGD, SGD with momentum,
//! Adam) and the L2 penalty's gradient.

use super::{on_gpu, pick, run1, tol, Cases, EXACT};
use crate::check::uniform;
use crate::gpu::{Program, StepInfo};
use crate::optim::{self, Optimizer};
use crate::reference;

/// Filler for the words of the flat buffers outside the optimised range.
const SENTINEL: f32 = -3.5;
/// (params, grads) offsets of `tests/optim.rs`: multiples of 64 words run
/// the vec4 entry point, the unaligned pair the scalar fallback.
const ALIGNED: (usize, usize) = (64, 128);
/// The unaligned pair of offsets.
const UNALIGNED: (usize, usize) = (65, 130);
/// Optimizer steps per case, with fresh gradients each (`tests/optim.rs`).
const STEPS: u32 = 5;

/// sp-mlp's parameters: 784·64 + 64 + 64·64 + 64 + 64·10 + 10.
const SP_MLP: usize = 55_050;
/// sp-dae's: 784·128 + 128 + 128·96 + 96 + 96·128 + 128 + 128·784 + 784.
const SP_DAE: usize = 226_416;
/// sp-mlp-l2's first Dense kernel, 784·500, which its L2 penalty covers.
const SP_MLP_L2_KERNEL: usize = 392_000;
/// A multiple of neither 4 nor the 256-element workgroups.
const RAGGED: usize = 1001;

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    let ragged = format!("{RAGGED} ragged offset");
    let cases = [
        (Optimizer::sgd(0.1), "sgd step", SP_MLP, "sp-mlp"),
        // No preset uses momentum: tests/optim.rs's values on sp-mlp's size.
        (
            Optimizer::Sgd {
                lr: 0.05,
                momentum: 0.9,
            },
            "sgd momentum step",
            SP_MLP,
            "sp-mlp",
        ),
        (Optimizer::adam(1e-3), "adam step", SP_DAE, "sp-dae"),
    ];
    for (i, (opt, kernel, n, preset)) in cases.into_iter().enumerate() {
        let seed = 9000 + 10 * i as u64;
        let shape = format!("{n} {preset} params");
        step_case(k, opt, kernel, n, ALIGNED, &shape, seed);
        step_case(k, opt, kernel, RAGGED, UNALIGNED, &ragged, seed + 1);
    }
    let shape = format!("{SP_MLP_L2_KERNEL} sp-mlp-l2 kernel");
    l2_case(k, SP_MLP_L2_KERNEL, ALIGNED, 2.5e-4, &shape, 9100);
    // tests/optim.rs optim_l2_grad_matches_reference's factor.
    l2_case(k, RAGGED, UNALIGNED, 1e-3, &ragged, 9101);
}

/// `values` at word `offset` of a sentinel-filled buffer with 64 more after.
fn flat(values: &[f32], offset: usize) -> Vec<f32> {
    let mut v = vec![SENTINEL; offset + values.len() + 64];
    v[offset..offset + values.len()].copy_from_slice(values);
    v
}

/// The step record of optimizer step `t`.
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

/// `STEPS` steps on the GPU and the reference, then the whole flat
/// parameter buffer (the words outside the range must be untouched) and the
/// optimizer's state.
fn step_case(
    k: &mut Cases,
    opt: Optimizer,
    kernel: &str,
    n: usize,
    (off_w, off_g): (usize, usize),
    shape: &str,
    seed: u64,
) {
    k.case(kernel, "-", shape, |c| {
        let w0 = uniform(seed, n, -1.0, 1.0);
        // Gradients that shrink with t, so Adam's m and v decay through
        // different regimes; some exact zeros as well.
        let grads: Vec<Vec<f32>> = (1..=STEPS)
            .map(|t| {
                let mut g = uniform(seed + t as u64, n, -1.0, 1.0);
                for (i, v) in g.iter_mut().enumerate() {
                    *v /= t as f32;
                    if i % 17 == 3 {
                        *v = 0.0;
                    }
                }
                g
            })
            .collect();
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let params = gpu.upload_f32("params", &flat(&w0, off_w))?;
            let gt = gpu.upload_f32("grads", &vec![SENTINEL; off_g + n + 64])?;
            let (s0, s1) = (gpu.zeros("state0", n)?, gpu.zeros("state1", n)?);
            let (pv, gv) = (params.at(off_w), gt.at(off_g));
            let d = match opt {
                Optimizer::Sgd { momentum, .. } => optim::sgd(gpu, pv, gv, &s0, n, momentum)?,
                Optimizer::Adam {
                    beta1, beta2, eps, ..
                } => optim::adam(gpu, pv, gv, &s0, &s1, n, beta1, beta2, eps)?,
            };
            let mut prog = Program::default();
            prog.push(d);
            for (t, g) in (1..=STEPS).zip(&grads) {
                gpu.queue
                    .write_buffer(&gt.buffer, (off_g * 4) as u64, bytemuck::cast_slice(g));
                prog.run(gpu, &step_info(&opt, t))?;
            }
            Ok(vec![
                gpu.read_f32(&params)?,
                gpu.read_f32(&s0)?,
                gpu.read_f32(&s1)?,
            ])
        });
        let (mut w, mut st0, mut st1) = (w0.clone(), vec![0.0; n], vec![0.0; n]);
        for (t, g) in (1..=STEPS).zip(&grads) {
            let s = step_info(&opt, t);
            match opt {
                Optimizer::Sgd { momentum, .. } => {
                    reference::optim::sgd(&mut w, &mut st0, g, s.lr, momentum)
                }
                Optimizer::Adam {
                    beta1, beta2, eps, ..
                } => reference::optim::adam(
                    &mut w,
                    &mut st0,
                    &mut st1,
                    g,
                    s.lr,
                    s.bias_correction1,
                    s.bias_correction2,
                    beta1,
                    beta2,
                    eps,
                ),
            }
        }
        // tests/optim.rs check_optimizer: a few ulp per step.
        c.check("params", pick(&outs, 0), &flat(&w, off_w), tol(1e-6, 1e-6));
        match opt {
            Optimizer::Sgd { momentum, .. } if momentum != 0.0 => {
                c.check("velocity", pick(&outs, 1), &st0, tol(1e-7, 1e-6));
            }
            Optimizer::Sgd { .. } => {}
            Optimizer::Adam { .. } => {
                c.check("m", pick(&outs, 1), &st0, tol(1e-7, 1e-6));
                c.check("v", pick(&outs, 2), &st1, tol(1e-7, 1e-6));
            }
        }
    });
}

/// g += 2·factor·w, the parameters untouched.
fn l2_case(
    k: &mut Cases,
    n: usize,
    (off_w, off_g): (usize, usize),
    factor: f32,
    shape: &str,
    seed: u64,
) {
    k.case("l2_grad", "-", shape, |c| {
        let w = uniform(seed, n, -2.0, 2.0);
        let g = uniform(seed + 1, n, -1.0, 1.0);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let params = gpu.upload_f32("params", &flat(&w, off_w))?;
            let grads = gpu.upload_f32("grads", &flat(&g, off_g))?;
            let d = optim::l2_grad(gpu, grads.at(off_g), params.at(off_w), n, factor)?;
            run1(gpu, d, &StepInfo::default())?;
            Ok(vec![gpu.read_f32(&grads)?, gpu.read_f32(&params)?])
        });
        let mut want = g.clone();
        reference::optim::l2_grad(&mut want, &w, factor);
        // tests/optim.rs optim_l2_grad_matches_reference: one f32 fma per
        // element, and the parameters untouched (assert_eq).
        c.check(
            "grads",
            pick(&outs, 0),
            &flat(&want, off_g),
            tol(1e-7, 1e-6),
        );
        c.check("params", pick(&outs, 1), &flat(&w, off_w), EXACT);
    });
}
