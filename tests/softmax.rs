mod common;

use common::*;
use dae::gpu::{Program, StepInfo};
use dae::kernels::softmax;
use dae::reference;

/// (rows, cols): 1, 7, 10, 196 and 784 rows at the classifiers' 10 classes
/// and at odd widths, and one larger ragged shape.
const SHAPES: [(usize, usize); 7] = [
    (1, 10),
    (7, 3),
    (10, 1),
    (196, 10),
    (784, 10),
    (784, 17),
    (1001, 129),
];

#[test]
fn softmax_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(10);
    for (rows, cols) in SHAPES {
        // Wide logits: max-subtraction must keep exp finite at ±40.
        let x = uniform(&mut r, rows * cols, -40.0, 40.0);
        let xt = gpu.upload_f32("x", &x).unwrap();
        let yt = gpu.upload_f32("y", &vec![f32::NAN; rows * cols]).unwrap();
        let mut prog = Program::default();
        prog.push(softmax::forward(gpu, &yt, &xt, rows, cols).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let got = gpu.read_f32(&yt).unwrap();
        let mut want = vec![0.0; rows * cols];
        reference::softmax::forward(&mut want, &x, rows, cols);
        // exp within a few ulp, a sum of <= 129 terms and one reciprocal:
        // ~1e-6 relative; outputs are <= 1.
        assert_close(&format!("({rows}, {cols})"), &got, &want, 1e-7, 1e-5);
    }
}

#[test]
fn softmax_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(11);
    for (rows, cols) in SHAPES {
        let x = uniform(&mut r, rows * cols, -5.0, 5.0);
        let mut y = vec![0.0; rows * cols];
        reference::softmax::forward(&mut y, &x, rows, cols);
        let dy = uniform(&mut r, rows * cols, -1.0, 1.0);
        let dyt = gpu.upload_f32("dy", &dy).unwrap();
        let yt = gpu.upload_f32("y", &y).unwrap();
        let dxt = gpu.upload_f32("dx", &vec![f32::NAN; rows * cols]).unwrap();
        let mut prog = Program::default();
        prog.push(softmax::backward(gpu, &dxt, &dyt, &yt, rows, cols).unwrap());
        prog.run(gpu, &StepInfo::default()).unwrap();
        let got = gpu.read_f32(&dxt).unwrap();
        let mut want = vec![0.0; rows * cols];
        reference::softmax::backward(&mut want, &dy, &y, rows, cols);
        // The f32 dot product of <= 129 terms of size <= 1 carries ~1e-6
        // absolute error, which y (<= 1) scales down.
        assert_close(&format!("({rows}, {cols})"), &got, &want, 2e-6, 1e-5);
    }
}

#[test]
fn softmax_backward_reference_matches_finite_differences() {
    let mut r = rng(12);
    let (rows, cols) = (3, 7);
    let x = uniform(&mut r, rows * cols, -3.0, 3.0);
    let w = uniform(&mut r, rows * cols, -1.0, 1.0);
    // L(x) = Σ w ⊙ softmax(x), so dL/dx = backward(dy = w).
    let loss = |xs: &[f32]| -> f64 {
        let mut y = vec![0.0; rows * cols];
        reference::softmax::forward(&mut y, xs, rows, cols);
        y.iter().zip(&w).map(|(&a, &b)| a as f64 * b as f64).sum()
    };
    let eps = 1e-2;
    let fd: Vec<f32> = finite_diff(&x, eps, loss)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut y = vec![0.0; rows * cols];
    reference::softmax::forward(&mut y, &x, rows, cols);
    let mut dx = vec![0.0; rows * cols];
    reference::softmax::backward(&mut dx, &w, &y, rows, cols);
    // Truncation eps²·|f'''|/6 <= 2e-5; f32 rounding of 7 outputs / 2·eps ~ 2e-5.
    assert_close("softmax backward", &dx, &fd, 1e-4, 1e-3);
}
