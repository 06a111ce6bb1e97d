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
