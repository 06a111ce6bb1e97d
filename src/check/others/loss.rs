//! The losses with their fused gradients (MSE, BCE on sigmoid outputs,
//! softmax cross-entropy), argmax accuracy, and the stand-alone softmax
//! forward and backward.

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::{nans, on_gpu, pick, run1, tol, Cases, EXACT};
use crate::check::uniform;
use crate::gpu::StepInfo;
use crate::kernels::{loss, softmax};
use crate::reference;

/// (rows, cols, valid_rows, shape): the preset's batch, then a ragged one
/// with padding rows past valid_rows.
type Shape = (usize, usize, usize, String);

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    let ragged = |cols| (37, cols, 30, format!("37x{cols} ragged, 30 valid"));
    let b = k.batch(256, 32);
    let mse = [(b, 784, b, format!("{b}x784 mlp-dae")), ragged(129)];
    let b = k.batch(128, 32);
    let bce = [(b, 784, b, format!("{b}x784 conv-dae")), ragged(129)];
    let classes = [(b, 10, b, format!("{b}x10 sp-mlp")), ragged(13)];
    for (i, s) in mse.iter().enumerate() {
        mse_case(k, s, 4000 + i as u64);
    }
    for (i, s) in bce.iter().enumerate() {
        bce_case(k, s, 4010 + i as u64);
    }
    for (i, s) in classes.iter().enumerate() {
        xent_case(k, s, 4020 + i as u64);
        accuracy_case(k, s, 4030 + i as u64);
    }
    let soft = [
        (b, 10, format!("{b}x10 sp-mlp")),
        (37, 129, "37x129 ragged".into()),
    ];
    for (i, (rows, cols, shape)) in soft.iter().enumerate() {
        softmax_case(k, *rows, *cols, shape, false, 4040 + i as u64);
        softmax_case(k, *rows, *cols, shape, true, 4050 + i as u64);
    }
}

/// The step record with `valid_rows` real rows.
fn step(valid_rows: usize) -> StepInfo {
    StepInfo {
        valid_rows: valid_rows as u32,
        ..StepInfo::default()
    }
}

/// Row losses and the gradient of the mean squared error.
fn mse_case(k: &mut Cases, s: &Shape, seed: u64) {
    let (rows, cols, valid, shape) = s;
    let (rows, cols, valid) = (*rows, *cols, *valid);
    k.case("loss mse", "-", shape, |c| {
        let pred = uniform(seed, rows * cols, -0.5, 1.5);
        let target = uniform(seed + 1, rows * cols, 0.0, 1.0);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let (pt, tt) = (
                gpu.upload_f32("pred", &pred)?,
                gpu.upload_f32("t", &target)?,
            );
            let (dt, lt) = (nans(gpu, rows * cols)?, nans(gpu, rows)?);
            run1(
                gpu,
                loss::mse(gpu, &dt, &lt, &pt, &tt, rows, cols)?,
                &step(valid),
            )?;
            Ok(vec![gpu.read_f32(&lt)?, gpu.read_f32(&dt)?])
        });
        let (mut dpred, mut row_loss) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::mse(&mut dpred, &mut row_loss, &pred, &target, rows, cols, valid);
        // tests/loss.rs loss_mse_matches_reference.
        c.check("row_loss", pick(&outs, 0), &row_loss, tol(1e-7, 1e-5));
        c.check("dpred", pick(&outs, 1), &dpred, tol(1e-12, 1e-6));
    });
}

/// Row losses and the logit gradient of binary cross-entropy.
fn bce_case(k: &mut Cases, s: &Shape, seed: u64) {
    let (rows, cols, valid, shape) = s;
    let (rows, cols, valid) = (*rows, *cols, *valid);
    k.case("loss bce", "-", shape, |c| {
        // Probabilities over the whole range, with exact 0s and 1s for the
        // 1e-7 clip, as tests/loss.rs draws them.
        let mut probs = uniform(seed, rows * cols, 0.0, 1.0);
        for (i, p) in probs.iter_mut().enumerate() {
            match i % 17 {
                0 => *p = 0.0,
                1 => *p = 1.0,
                _ => {}
            }
        }
        let target = uniform(seed + 1, rows * cols, 0.0, 1.0);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let (pt, tt) = (gpu.upload_f32("p", &probs)?, gpu.upload_f32("t", &target)?);
            let (dt, lt) = (nans(gpu, rows * cols)?, nans(gpu, rows)?);
            run1(
                gpu,
                loss::bce(gpu, &dt, &lt, &pt, &tt, rows, cols)?,
                &step(valid),
            )?;
            Ok(vec![gpu.read_f32(&lt)?, gpu.read_f32(&dt)?])
        });
        let (mut dl, mut row_loss) = (vec![0.0; rows * cols], vec![0.0; rows]);
        reference::loss::bce(&mut dl, &mut row_loss, &probs, &target, rows, cols, valid);
        // tests/loss.rs loss_bce_matches_reference.
        c.check("row_loss", pick(&outs, 0), &row_loss, tol(1e-6, 2e-5));
        c.check("dlogits", pick(&outs, 1), &dl, tol(1e-12, 1e-6));
    });
}

/// Seeded labels in 0..classes.
fn labels(seed: u64, rows: usize, classes: usize) -> Vec<u32> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..rows)
        .map(|_| r.random_range(0..classes as u32))
        .collect()
}

/// The fused softmax cross-entropy: probabilities, row losses, logit
/// gradient and correctness.
fn xent_case(k: &mut Cases, s: &Shape, seed: u64) {
    let (rows, classes, valid, shape) = s;
    let (rows, classes, valid) = (*rows, *classes, *valid);
    k.case("loss softmax_xent", "-", shape, |c| {
        let n = rows * classes;
        let mut logits = uniform(seed, n, -8.0, 8.0);
        // Rows of exact ties, to pin down "first argmax".
        for row in (0..rows).step_by(5) {
            logits[row * classes..(row + 1) * classes].fill(1.5);
        }
        let lab = labels(seed + 1, rows, classes);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let lt = gpu.upload_f32("logits", &logits)?;
            let labt = gpu.upload_u32("labels", &lab)?;
            let (dt, losst) = (nans(gpu, n)?, nans(gpu, rows)?);
            let (ct, pt) = (nans(gpu, rows)?, nans(gpu, n)?);
            let d = loss::softmax_xent(gpu, &dt, &losst, &ct, &pt, &lt, &labt, rows, classes)?;
            run1(gpu, d, &step(valid))?;
            [&pt, &losst, &dt, &ct]
                .iter()
                .map(|t| gpu.read_f32(t))
                .collect()
        });
        let (mut dl, mut row_loss) = (vec![0.0; n], vec![0.0; rows]);
        let (mut correct, mut probs) = (vec![0.0; rows], vec![0.0; n]);
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
        // tests/loss.rs loss_softmax_xent_matches_reference.
        c.check("probs", pick(&outs, 0), &probs, tol(1e-7, 1e-5));
        c.check("row_loss", pick(&outs, 1), &row_loss, tol(1e-6, 1e-5));
        // dlogits = (p − onehot)/valid cancels to ~0 where p ≈ 1 at the
        // label while p may be off by a few ulp of 1: floor 4 ulp / valid.
        let floor = 4.0 * f32::EPSILON as f64 / valid as f64;
        c.check("dlogits", pick(&outs, 2), &dl, tol(floor, 1e-5));
        c.check("row_correct", pick(&outs, 3), &correct, EXACT);
    });
}

/// Argmax correctness on scores full of ties.
fn accuracy_case(k: &mut Cases, s: &Shape, seed: u64) {
    let (rows, cols, valid, shape) = s;
    let (rows, cols, valid) = (*rows, *cols, *valid);
    k.case("loss accuracy", "-", shape, |c| {
        // Small integer scores: ties are common, so "first argmax" matters.
        let mut r = StdRng::seed_from_u64(seed);
        let scores: Vec<f32> = (0..rows * cols)
            .map(|_| r.random_range(0..4) as f32)
            .collect();
        let lab = labels(seed + 1, rows, cols);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let st = gpu.upload_f32("scores", &scores)?;
            let labt = gpu.upload_u32("labels", &lab)?;
            let ct = nans(gpu, rows)?;
            run1(
                gpu,
                loss::accuracy(gpu, &ct, &st, &labt, rows, cols)?,
                &step(valid),
            )?;
            gpu.read_f32(&ct)
        });
        let mut want = vec![0.0; rows];
        reference::loss::accuracy(&mut want, &scores, &lab, rows, cols, valid);
        // tests/loss.rs loss_accuracy_matches_reference: assert_eq.
        c.check("", got, &want, EXACT);
    });
}

/// The stand-alone row softmax, forward or backward.
fn softmax_case(k: &mut Cases, rows: usize, cols: usize, shape: &str, backward: bool, seed: u64) {
    let kernel = if backward {
        "softmax backward"
    } else {
        "softmax forward"
    };
    k.case(kernel, "-", shape, |c| {
        let n = rows * cols;
        let gpu = c.gpu;
        if !backward {
            // Wide logits: max-subtraction must keep exp finite at ±40.
            let x = uniform(seed, n, -40.0, 40.0);
            let got = on_gpu(|| {
                let (xt, yt) = (gpu.upload_f32("x", &x)?, nans(gpu, n)?);
                run1(
                    gpu,
                    softmax::forward(gpu, &yt, &xt, rows, cols)?,
                    &StepInfo::default(),
                )?;
                gpu.read_f32(&yt)
            });
            let mut want = vec![0.0; n];
            reference::softmax::forward(&mut want, &x, rows, cols);
            // tests/softmax.rs softmax_forward_matches_reference.
            c.check("", got, &want, tol(1e-7, 1e-5));
            return;
        }
        let x = uniform(seed, n, -5.0, 5.0);
        let mut y = vec![0.0; n];
        reference::softmax::forward(&mut y, &x, rows, cols);
        let dy = uniform(seed + 1, n, -1.0, 1.0);
        let got = on_gpu(|| {
            let (dyt, yt) = (gpu.upload_f32("dy", &dy)?, gpu.upload_f32("y", &y)?);
            let dxt = nans(gpu, n)?;
            let d = softmax::backward(gpu, &dxt, &dyt, &yt, rows, cols)?;
            run1(gpu, d, &StepInfo::default())?;
            gpu.read_f32(&dxt)
        });
        let mut want = vec![0.0; n];
        reference::softmax::backward(&mut want, &dy, &y, rows, cols);
        // tests/softmax.rs softmax_backward_matches_reference.
        c.check("", got, &want, tol(2e-6, 1e-5));
    });
}
