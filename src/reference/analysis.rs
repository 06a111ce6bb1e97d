//! References of the analysis kernels: plain loops, f64 arithmetic.

use crate::gpu::StepInfo;

/// Row r is `src[indices[min(batch_start + r, indices.len() − 1)]]`.
/// src: (count, features); x: (batch, features), overwritten.
pub fn gather_f32(
    x: &mut [f32],
    src: &[f32],
    indices: &[u32],
    batch: usize,
    features: usize,
    step: &StepInfo,
) {
    for r in 0..batch {
        let j = (step.batch_start as usize + r).min(indices.len() - 1);
        let sample = indices[j] as usize;
        x[r * features..(r + 1) * features]
            .copy_from_slice(&src[sample * features..(sample + 1) * features]);
    }
}

/// `dst[batch_start + r, :] = src[r, :]` for `r < min(rows, valid_rows)`,
/// skipping rows past dst's last whole row (dst.len() / features rows). Rows
/// written are overwritten; the rest of dst is left as it was.
pub fn copy_rows(dst: &mut [f32], src: &[f32], rows: usize, features: usize, step: &StepInfo) {
    let dst_rows = dst.len() / features;
    for r in 0..rows.min(step.valid_rows as usize) {
        let d = step.batch_start as usize + r;
        if d < dst_rows {
            dst[d * features..(d + 1) * features]
                .copy_from_slice(&src[r * features..(r + 1) * features]);
        }
    }
}

/// `z[i, :] = alphas[i]·z1 + (1 − alphas[i])·z2`. z1, z2: (features);
/// alphas: (steps); z: (steps, features), overwritten.
pub fn lerp_rows(z: &mut [f32], z1: &[f32], z2: &[f32], alphas: &[f32], features: usize) {
    for (row, &a) in z.chunks_mut(features).zip(alphas) {
        let a = a as f64;
        for ((o, &p), &q) in row.iter_mut().zip(z1).zip(z2) {
            *o = (a * p as f64 + (1.0 - a) * q as f64) as f32;
        }
    }
}

/// `x_next = x + eta·(r − x)`, then, when `renorm`, each row rescaled as by
/// [`row_normalize`]. x, r, x_next: (rows, features); x_next overwritten.
pub fn walk_step(
    x_next: &mut [f32],
    x: &[f32],
    r: &[f32],
    eta: f32,
    renorm: bool,
    features: usize,
) {
    let eta = eta as f64;
    for ((o, &a), &b) in x_next.iter_mut().zip(x).zip(r) {
        *o = (a as f64 + eta * (b as f64 - a as f64)) as f32;
    }
    if renorm {
        let y = x_next.to_vec();
        row_normalize(x_next, &y, features);
    }
}

/// `y[row, :] = (x[row, :] − min) / (max − min)` per row; a constant row
/// becomes 0. x, y: (rows, features); y overwritten.
pub fn row_normalize(y: &mut [f32], x: &[f32], features: usize) {
    for (out, row) in y.chunks_mut(features).zip(x.chunks(features)) {
        let lo = row.iter().fold(f64::INFINITY, |m, &v| m.min(v as f64));
        let hi = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let range = hi - lo;
        for (o, &v) in out.iter_mut().zip(row) {
            *o = if range > 0.0 {
                ((v as f64 - lo) / range) as f32
            } else {
                0.0
            };
        }
    }
}
