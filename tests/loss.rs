mod common;

use common::*;
use dae::gpu::{Dispatch, Gpu, Program, StepInfo, Tensor};
use dae::kernels::loss;
use dae::reference;
use rand::Rng;

/// (rows, cols, valid_rows): 1, 7, 10, 196 and 784 rows, most with padding
/// rows (valid_rows < rows), and one larger ragged shape.
const SHAPES: [(usize, usize, usize); 7] = [
    (1, 784, 1),
    (7, 10, 5),
    (10, 1, 10),
    (196, 37, 150),
    (784, 10, 700),
    (784, 784, 783),
    (1001, 129, 999),
];

fn step(valid_rows: usize) -> StepInfo {
    StepInfo {
        valid_rows: valid_rows as u32,
        ..StepInfo::default()
    }
}

fn run(gpu: &Gpu, d: Dispatch, s: &StepInfo) {
    let mut prog = Program::default();
    prog.push(d);
    prog.run(gpu, s).unwrap();
}

/// An output buffer pre-filled with NaN, so an element the kernel forgets to
/// write fails the comparison.
fn out(gpu: &Gpu, n: usize) -> Tensor {
    gpu.upload_f32("out", &vec![f32::NAN; n]).unwrap()
}

fn labels(r: &mut rand::rngs::StdRng, rows: usize, classes: usize) -> Vec<u32> {
    (0..rows)
        .map(|_| r.random_range(0..classes as u32))
        .collect()
}

fn assert_padding_zero(what: &str, v: &[f32], from: usize) {
    assert!(
        v[from..].iter().all(|&x| x == 0.0),
        "{what}: padding entries must be 0"
    );
}

#[test]
fn loss_mse_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(20);
    for (rows, cols, valid) in SHAPES {
        let pred = uniform(&mut r, rows * cols, -0.5, 1.5);
        let target = uniform(&mut r, rows * cols, 0.0, 1.0);
        let (pt, tt) = (
            gpu.upload_f32("pred", &pred).unwrap(),
            gpu.upload_f32("target", &target).unwrap(),
        );
        let (dt, lt) = (out(gpu, rows * cols), out(gpu, rows));
        run(
            gpu,
            loss::mse(gpu, &dt, &lt, &pt, &tt, rows, cols).unwrap(),
            &step(valid),
        );
        let (mut dpred, mut row_loss) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::mse(&mut dpred, &mut row_loss, &pred, &target, rows, cols, valid);
        let what = format!("mse ({rows}, {cols}) valid {valid}");
        let (got_d, got_l) = (gpu.read_f32(&dt).unwrap(), gpu.read_f32(&lt).unwrap());
        // Row sums of <= 784 squares in f32 (64 strided partials + a tree):
        // ~1e-6 relative. The gradient is one f32 difference and one product.
        assert_close(&format!("{what} row_loss"), &got_l, &row_loss, 1e-7, 1e-5);
        assert_close(&format!("{what} dpred"), &got_d, &dpred, 1e-12, 1e-6);
        assert_padding_zero(&what, &got_l, valid);
        assert_padding_zero(&what, &got_d, valid * cols);
    }
}

#[test]
fn loss_bce_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(21);
    for (rows, cols, valid) in SHAPES {
        // Probabilities across the whole range, including ones the 1e-7 clip
        // touches (exact 0 and 1).
        let mut probs = uniform(&mut r, rows * cols, 0.0, 1.0);
        for (i, p) in probs.iter_mut().enumerate() {
            match i % 17 {
                0 => *p = 0.0,
                1 => *p = 1.0,
                _ => {}
            }
        }
        let target = uniform(&mut r, rows * cols, 0.0, 1.0);
        let (pt, tt) = (
            gpu.upload_f32("probs", &probs).unwrap(),
            gpu.upload_f32("target", &target).unwrap(),
        );
        let (dt, lt) = (out(gpu, rows * cols), out(gpu, rows));
        run(
            gpu,
            loss::bce(gpu, &dt, &lt, &pt, &tt, rows, cols).unwrap(),
            &step(valid),
        );
        let (mut dl, mut row_loss) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::bce(&mut dl, &mut row_loss, &probs, &target, rows, cols, valid);
        let what = format!("bce ({rows}, {cols}) valid {valid}");
        let (got_d, got_l) = (gpu.read_f32(&dt).unwrap(), gpu.read_f32(&lt).unwrap());
        // f32 logs (Vulkan allows 2^-21 absolute near 1, 3 ulp elsewhere) of
        // terms up to 16 (−ln 1e-7) summed in f32: ~2e-6 relative per row.
        assert_close(&format!("{what} row_loss"), &got_l, &row_loss, 1e-6, 2e-5);
        assert_close(&format!("{what} dlogits"), &got_d, &dl, 1e-12, 1e-6);
        assert_padding_zero(&what, &got_l, valid);
        assert_padding_zero(&what, &got_d, valid * cols);
    }
}

#[test]
fn loss_softmax_xent_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(22);
    for (rows, classes, valid) in SHAPES {
        let mut logits = uniform(&mut r, rows * classes, -8.0, 8.0);
        // Some rows of exact ties, to pin down "first argmax".
        for row in (0..rows).step_by(5) {
            logits[row * classes..(row + 1) * classes].fill(1.5);
        }
        let lab = labels(&mut r, rows, classes);
        let lt = gpu.upload_f32("logits", &logits).unwrap();
        let labt = gpu.upload_u32("labels", &lab).unwrap();
        let (dt, losst, ct, pt) = (
            out(gpu, rows * classes),
            out(gpu, rows),
            out(gpu, rows),
            out(gpu, rows * classes),
        );
        run(
            gpu,
            loss::softmax_xent(gpu, &dt, &losst, &ct, &pt, &lt, &labt, rows, classes).unwrap(),
            &step(valid),
        );
        let n = rows * classes;
        let (mut dl, mut row_loss, mut correct, mut probs) =
            (vec![0.0; n], vec![0.0; rows], vec![0.0; rows], vec![0.0; n]);
        reference::loss::softmax_xent(
            &mut dl,
            &mut row_loss,
            &mut correct,
            &mut probs,
            &logits,
            &lab,
            rows,
            classes,
            valid,
        );
        let what = format!("softmax_xent ({rows}, {classes}) valid {valid}");
        // exp within a few ulp and a sum of <= 784 terms: ~1e-6 relative on
        // probabilities and on −ln p (which is >= 0, with atol for p ≈ 1).
        assert_close(
            &format!("{what} probs"),
            &gpu.read_f32(&pt).unwrap(),
            &probs,
            1e-7,
            1e-5,
        );
        assert_close(
            &format!("{what} row_loss"),
            &gpu.read_f32(&losst).unwrap(),
            &row_loss,
            1e-6,
            1e-5,
        );
        // dlogits = (p − onehot)/valid: where p ≈ 1 at the label the result
        // cancels to ~0 while p itself may be off by a few ulp of 1, so the
        // absolute floor is 4 ulp of 1 divided by valid (rtol covers the rest).
        assert_close(
            &format!("{what} dlogits"),
            &gpu.read_f32(&dt).unwrap(),
            &dl,
            4.0 * f32::EPSILON / valid as f32,
            1e-5,
        );
        let got_c = gpu.read_f32(&ct).unwrap();
        assert_eq!(got_c, correct, "{what}: row_correct");
        assert_padding_zero(&what, &got_c, valid);
    }
}

#[test]
fn loss_accuracy_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(23);
    for (rows, cols, valid) in SHAPES {
        // Small integer scores: ties are common, so "first argmax" matters.
        let scores: Vec<f32> = (0..rows * cols)
            .map(|_| r.random_range(0..4) as f32)
            .collect();
        let lab = labels(&mut r, rows, cols);
        let st = gpu.upload_f32("scores", &scores).unwrap();
        let labt = gpu.upload_u32("labels", &lab).unwrap();
        let ct = out(gpu, rows);
        run(
            gpu,
            loss::accuracy(gpu, &ct, &st, &labt, rows, cols).unwrap(),
            &step(valid),
        );
        let mut want = vec![0.0; rows];
        reference::loss::accuracy(&mut want, &scores, &lab, rows, cols, valid);
        assert_eq!(
            gpu.read_f32(&ct).unwrap(),
            want,
            "accuracy ({rows}, {cols}) valid {valid}"
        );
    }
}

/// The batch loss Σ_r row_loss[r] / valid_rows that every gradient here is
/// the derivative of.
fn batch_loss(row_loss: &[f32], valid: usize) -> f64 {
    row_loss.iter().map(|&v| v as f64).sum::<f64>() / valid as f64
}

#[test]
fn loss_mse_backward_reference_matches_finite_differences() {
    let mut r = rng(24);
    let (rows, cols, valid) = (5, 4, 3);
    let pred = uniform(&mut r, rows * cols, -0.5, 1.5);
    let target = uniform(&mut r, rows * cols, 0.0, 1.0);
    let loss = |p: &[f32]| {
        let (mut d, mut l) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::mse(&mut d, &mut l, p, &target, rows, cols, valid);
        batch_loss(&l, valid)
    };
    let fd: Vec<f32> = finite_diff(&pred, 1e-2, loss)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let (mut d, mut l) = (vec![0.0; rows * cols], vec![0.0; rows]);
    reference::loss::mse(&mut d, &mut l, &pred, &target, rows, cols, valid);
    // Quadratic: central differences are exact but for f32 rounding of the
    // row losses (~1e-7) / 2·eps.
    assert_close("mse dpred", &d, &fd, 2e-5, 1e-3);
}

#[test]
fn loss_bce_backward_reference_matches_finite_differences() {
    let mut r = rng(25);
    let (rows, cols, valid) = (5, 4, 3);
    // Logits within ±4 keep sigmoid away from the 1e-7 clip, where the loss
    // is flat and the logit gradient (p − t) would not be its derivative.
    let logits = uniform(&mut r, rows * cols, -4.0, 4.0);
    let target = uniform(&mut r, rows * cols, 0.0, 1.0);
    let sigmoid = |z: &[f32]| -> Vec<f32> {
        z.iter()
            .map(|&v| (1.0 / (1.0 + (-(v as f64)).exp())) as f32)
            .collect()
    };
    let loss = |z: &[f32]| {
        let (mut d, mut l) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::bce(&mut d, &mut l, &sigmoid(z), &target, rows, cols, valid);
        batch_loss(&l, valid)
    };
    let fd: Vec<f32> = finite_diff(&logits, 1e-2, loss)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let (mut d, mut l) = (vec![0.0; rows * cols], vec![0.0; rows]);
    reference::loss::bce(
        &mut d,
        &mut l,
        &sigmoid(&logits),
        &target,
        rows,
        cols,
        valid,
    );
    // Softplus has |f'''| <= 0.1, so truncation is ~2e-6; f32 rounding of p
    // (relative 6e-8, times 1/(p(1−p)) <= 60) over 2·eps adds ~2e-5 at worst.
    assert_close("bce dlogits", &d, &fd, 5e-5, 1e-3);
}

#[test]
fn loss_softmax_xent_backward_reference_matches_finite_differences() {
    let mut r = rng(26);
    let (rows, classes, valid) = (5, 6, 4);
    let logits = uniform(&mut r, rows * classes, -3.0, 3.0);
    let lab = labels(&mut r, rows, classes);
    let n = rows * classes;
    let eval = |z: &[f32]| {
        let (mut d, mut l, mut c, mut p) =
            (vec![0.0; n], vec![0.0; rows], vec![0.0; rows], vec![0.0; n]);
        reference::loss::softmax_xent(
            &mut d, &mut l, &mut c, &mut p, z, &lab, rows, classes, valid,
        );
        (d, l)
    };
    let fd: Vec<f32> = finite_diff(&logits, 1e-2, |z| batch_loss(&eval(z).1, valid))
        .iter()
        .map(|&v| v as f32)
        .collect();
    let (d, _) = eval(&logits);
    // log-sum-exp has |f'''| <= 1, so truncation <= 2e-5; f32 rounding of
    // the loss (~1e-7) over 2·eps adds ~1e-5.
    assert_close("softmax_xent dlogits", &d, &fd, 5e-5, 1e-3);
}
