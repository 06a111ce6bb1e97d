//! Reference losses and their gradients, with the kernels' padding rule:
//! rows at or beyond `valid_rows` get zero loss, gradient and correctness,
//! and gradients are normalised by `valid_rows`.

// Plain indexed loops on purpose: the reference should read like the maths.
#![allow(clippy::needless_range_loop)]

/// Keras's epsilon, in f32 as Keras applies it.
const EPS: f32 = 1e-7;

/// `row_loss[r] = mean_c (pred − target)²`, `dpred = 2(pred − target)/(valid_rows·cols)`.
/// pred, target, dpred: (rows, cols); row_loss: (rows). Both overwritten.
pub fn mse(
    dpred: &mut [f32],
    row_loss: &mut [f32],
    pred: &[f32],
    target: &[f32],
    rows: usize,
    cols: usize,
    valid_rows: usize,
) {
    let scale = 2.0 / (valid_rows as f64 * cols as f64);
    for r in 0..rows {
        let valid = r < valid_rows;
        let mut acc = 0.0f64;
        for i in r * cols..(r + 1) * cols {
            let d = pred[i] as f64 - target[i] as f64;
            acc += d * d;
            dpred[i] = if valid { (scale * d) as f32 } else { 0.0 };
        }
        row_loss[r] = if valid {
            (acc / cols as f64) as f32
        } else {
            0.0
        };
    }
}

/// Binary cross-entropy on sigmoid outputs (Keras: p clipped to
/// [1e-7, 1 − 1e-7] inside the logarithms); the gradient is with respect to
/// the logits, `(p − t)/(valid_rows·cols)`, with the unclipped p.
/// probs, target, dlogits: (rows, cols); row_loss: (rows). Both overwritten.
pub fn bce(
    dlogits: &mut [f32],
    row_loss: &mut [f32],
    probs: &[f32],
    target: &[f32],
    rows: usize,
    cols: usize,
    valid_rows: usize,
) {
    let scale = 1.0 / (valid_rows as f64 * cols as f64);
    for r in 0..rows {
        let valid = r < valid_rows;
        let mut acc = 0.0f64;
        for i in r * cols..(r + 1) * cols {
            let q = probs[i];
            let t = target[i] as f64;
            let qc = q.clamp(EPS, 1.0 - EPS) as f64;
            acc -= t * qc.ln() + (1.0 - t) * (1.0 - qc).ln();
            dlogits[i] = if valid {
                ((q as f64 - t) * scale) as f32
            } else {
                0.0
            };
        }
        row_loss[r] = if valid {
            (acc / cols as f64) as f32
        } else {
            0.0
        };
    }
}

/// Index of the first maximum of `v` (0 for an empty row).
pub fn argmax(v: &[f32]) -> usize {
    let mut arg = 0;
    for (c, &x) in v.iter().enumerate().skip(1) {
        if x > v[arg] {
            arg = c;
        }
    }
    arg
}

/// Fused softmax cross-entropy: probs = softmax(logits) (every row),
/// `row_loss = −ln(max(p[label], 1e-7))`, `dlogits = (p − onehot)/valid_rows`,
/// `row_correct = [argmax logits == label]`. A label >= classes matches no
/// class. logits, probs, dlogits: (rows, classes); labels, row_loss,
/// row_correct: (rows). All overwritten.
#[allow(clippy::too_many_arguments)]
pub fn softmax_xent(
    dlogits: &mut [f32],
    row_loss: &mut [f32],
    row_correct: &mut [f32],
    probs: &mut [f32],
    logits: &[f32],
    labels: &[u32],
    rows: usize,
    classes: usize,
    valid_rows: usize,
) {
    crate::reference::softmax::forward(probs, logits, rows, classes);
    let g = 1.0 / valid_rows as f64;
    for r in 0..rows {
        let valid = r < valid_rows;
        let label = labels[r] as usize;
        let s = r * classes..(r + 1) * classes;
        let mut p_label = 0.0f32;
        for (c, i) in s.clone().enumerate() {
            let hit = c == label;
            if hit {
                p_label = probs[i];
            }
            let onehot = if hit { 1.0 } else { 0.0 };
            dlogits[i] = if valid {
                ((probs[i] as f64 - onehot) * g) as f32
            } else {
                0.0
            };
        }
        row_loss[r] = if valid {
            -(p_label.max(EPS) as f64).ln() as f32
        } else {
            0.0
        };
        row_correct[r] = if valid && argmax(&logits[s]) == label {
            1.0
        } else {
            0.0
        };
    }
}

/// `row_correct[r] = [first argmax of scores[r, :] == labels[r]]`, 0 for
/// padding rows. scores: (rows, cols); labels, row_correct: (rows).
pub fn accuracy(
    row_correct: &mut [f32],
    scores: &[f32],
    labels: &[u32],
    rows: usize,
    cols: usize,
    valid_rows: usize,
) {
    for r in 0..rows {
        let hit = cols > 0 && argmax(&scores[r * cols..(r + 1) * cols]) == labels[r] as usize;
        row_correct[r] = if r < valid_rows && hit { 1.0 } else { 0.0 };
    }
}
