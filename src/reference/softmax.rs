//! Reference row-wise softmax.

/// y = softmax(x) along each row, max-subtracted, in f64. x, y: (rows, cols);
/// y is overwritten.
pub fn forward(y: &mut [f32], x: &[f32], rows: usize, cols: usize) {
    for r in 0..rows {
        let xr = &x[r * cols..(r + 1) * cols];
        let m = xr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let total: f64 = xr.iter().map(|&v| (v as f64 - m).exp()).sum();
        for (o, &v) in y[r * cols..(r + 1) * cols].iter_mut().zip(xr) {
            *o = ((v as f64 - m).exp() / total) as f32;
        }
    }
}

/// dx = y ⊙ (dy − Σ_j dy_j·y_j) along each row. dy, y, dx: (rows, cols); dx
/// is overwritten.
pub fn backward(dx: &mut [f32], dy: &[f32], y: &[f32], rows: usize, cols: usize) {
    for r in 0..rows {
        let s = r * cols..(r + 1) * cols;
        let dot: f64 = dy[s.clone()]
            .iter()
            .zip(&y[s.clone()])
            .map(|(&g, &v)| g as f64 * v as f64)
            .sum();
        for ((o, &g), &v) in dx[s.clone()].iter_mut().zip(&dy[s.clone()]).zip(&y[s]) {
            *o = (v as f64 * (g as f64 - dot)) as f32;
        }
    }
}
