//! Reference reductions.

/// acc\[slot\] += Σ values, summed in f64 (ADDED INTO).
pub fn sum_into(acc: &mut [f32], slot: usize, values: &[f32]) {
    let total: f64 = values.iter().map(|&v| v as f64).sum();
    acc[slot] = (acc[slot] as f64 + total) as f32;
}

/// acc\[slot\] = 1 if any value is NaN or ±Inf (WRITTEN only then).
pub fn flag_nonfinite(acc: &mut [f32], slot: usize, values: &[f32]) {
    if values.iter().any(|v| !v.is_finite()) {
        acc[slot] = 1.0;
    }
}
