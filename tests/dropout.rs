mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo, Tensor};
use dae::kernels::dropout;
use dae::reference;

const STEP: StepInfo = StepInfo {
    step: 17,
    batch_start: 0,
    seed: 0xDA7A_5EED,
    valid_rows: 0,
    lr: 0.0,
    bias_correction1: 0.0,
    bias_correction2: 0.0,
    _pad: 0,
};

fn forward(gpu: &Gpu, x: &[f32], rate: f32, stream: u32, step: &StepInfo) -> Vec<f32> {
    let xt = gpu.upload_f32("x", x).unwrap();
    let yt: Tensor = gpu.upload_f32("y", &vec![f32::NAN; x.len()]).unwrap();
    let mut prog = Program::default();
    prog.push(dropout::forward(gpu, &yt, &xt, x.len(), rate, stream).unwrap());
    prog.run(gpu, step).unwrap();
    gpu.read_f32(&yt).unwrap()
}

#[test]
fn dropout_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(40);
    for n in [1usize, 7, 10, 196, 784, 100_003] {
        // Inputs away from 0, so a zero output always means "dropped".
        let x = uniform(&mut r, n, 0.5, 2.0);
        for rate in [0.0f32, 0.2, 0.5, 0.9] {
            let got = forward(gpu, &x, rate, 3, &STEP);
            let mut want = vec![0.0; n];
            reference::dropout::forward(&mut want, &x, rate, 3, &STEP);
            // The mask is bit-exact (same integer hash, exact 24-bit uniforms);
            // x·scale is one correctly rounded f32 product on both sides.
            assert_eq!(
                got.iter().map(|v| *v == 0.0).collect::<Vec<_>>(),
                want.iter().map(|v| *v == 0.0).collect::<Vec<_>>(),
                "n={n} rate={rate}: masks differ"
            );
            assert_close(&format!("n={n} rate={rate}"), &got, &want, 0.0, 1e-7);
        }
    }
}

#[test]
fn dropout_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(41);
    for n in [1usize, 7, 10, 196, 784, 100_003] {
        let x = uniform(&mut r, n, 0.5, 2.0);
        let dy = uniform(&mut r, n, 0.5, 2.0);
        let rate = 0.3;
        let xt = gpu.upload_f32("x", &x).unwrap();
        let yt = gpu.zeros("y", n).unwrap();
        let dyt = gpu.upload_f32("dy", &dy).unwrap();
        let dxt = gpu.upload_f32("dx", &vec![f32::NAN; n]).unwrap();
        let mut prog = Program::default();
        prog.push(dropout::forward(gpu, &yt, &xt, n, rate, 9).unwrap());
        prog.push(dropout::backward(gpu, &dxt, &dyt, n, rate, 9).unwrap());
        prog.run(gpu, &STEP).unwrap();
        let (y, dx) = (gpu.read_f32(&yt).unwrap(), gpu.read_f32(&dxt).unwrap());
        let mut want = vec![0.0; n];
        reference::dropout::backward(&mut want, &dy, rate, 9, &STEP);
        assert_close(&format!("n={n}"), &dx, &want, 0.0, 1e-7);
        // Backward recomputes the forward pass's mask from the hash.
        for i in 0..n {
            assert_eq!(
                y[i] == 0.0,
                dx[i] == 0.0,
                "n={n} i={i}: forward and backward masks differ"
            );
        }
    }
}

#[test]
fn dropout_keeps_one_minus_rate_and_rescales() {
    let Some(gpu) = gpu() else { return };
    let n = 200_000;
    let x = vec![1.0f32; n];
    for rate in [0.1f32, 0.5, 0.8] {
        let y = forward(gpu, &x, rate, 5, &STEP);
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        // Binomial: 5 standard deviations of the kept fraction.
        let sd = ((rate * (1.0 - rate)) as f64 / n as f64).sqrt();
        assert!(
            (kept - (1.0 - rate as f64)).abs() < 5.0 * sd,
            "rate {rate}: kept {kept}"
        );
        // Kept units carry 1/(1 − rate), so the mean is preserved.
        let scale = 1.0 / (1.0 - rate);
        assert!(
            y.iter().all(|&v| v == 0.0 || v == scale),
            "rate {rate}: kept units must be scaled by {scale}"
        );
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!(
            (mean - 1.0).abs() < 5.0 * sd * scale as f64,
            "rate {rate}: mean {mean}"
        );
    }
}

#[test]
fn dropout_masks_differ_between_streams_and_steps() {
    let Some(gpu) = gpu() else { return };
    let n = 4096;
    let x = vec![1.0f32; n];
    let a = forward(gpu, &x, 0.5, 1, &STEP);
    let b = forward(gpu, &x, 0.5, 2, &STEP);
    let c = forward(
        gpu,
        &x,
        0.5,
        1,
        &StepInfo {
            step: STEP.step + 1,
            ..STEP
        },
    );
    let same = |p: &[f32], q: &[f32]| {
        p.iter()
            .zip(q)
            .filter(|(u, v)| (**u == 0.0) == (**v == 0.0))
            .count()
    };
    // Independent masks at rate 0.5 agree on about half the units.
    for (what, k) in [("streams", same(&a, &b)), ("steps", same(&a, &c))] {
        assert!(
            (k as f64 / n as f64 - 0.5).abs() < 0.05,
            "{what}: masks agree on {k} of {n}"
        );
    }
    assert_eq!(
        a,
        forward(gpu, &x, 0.5, 1, &STEP),
        "same (seed, step, stream) must give the same mask"
    );
}
