//! Reference BatchNorm over the feature axis (Keras semantics: biased batch
//! variance, which also feeds the moving variance). x, y, dy, dx: (rows,
//! features) row-major; every per-feature slice: (features).

/// Batch statistics and output in f64: (y, mean, biased variance). The
/// finite-difference check differentiates this.
pub fn forward_train_f64(
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    rows: usize,
    features: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = rows as f64;
    let mut mean = vec![0.0; features];
    let mut var = vec![0.0; features];
    for f in 0..features {
        let m = (0..rows).map(|r| x[r * features + f]).sum::<f64>() / n;
        let v = (0..rows)
            .map(|r| (x[r * features + f] - m).powi(2))
            .sum::<f64>()
            / n;
        mean[f] = m;
        var[f] = v;
    }
    let mut y = vec![0.0; rows * features];
    for r in 0..rows {
        for f in 0..features {
            let k = r * features + f;
            y[k] = (x[k] - mean[f]) / (var[f] + eps).sqrt() * gamma[f] + beta[f];
        }
    }
    (y, mean, var)
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

/// Training forward. y, mean and rstd (= 1/sqrt(var + eps)) are overwritten;
/// running_mean and running_var are updated in place:
/// running = momentum·running + (1 − momentum)·batch.
#[allow(clippy::too_many_arguments)]
pub fn forward_train(
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    running_mean: &mut [f32],
    running_var: &mut [f32],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    rows: usize,
    features: usize,
    momentum: f32,
    eps: f32,
) {
    let (y64, m64, v64) = forward_train_f64(
        &widen(x),
        &widen(gamma),
        &widen(beta),
        rows,
        features,
        eps as f64,
    );
    for (o, v) in y.iter_mut().zip(&y64) {
        *o = *v as f32;
    }
    let mo = momentum as f64;
    for f in 0..features {
        mean[f] = m64[f] as f32;
        rstd[f] = (1.0 / (v64[f] + eps as f64).sqrt()) as f32;
        running_mean[f] = (mo * running_mean[f] as f64 + (1.0 - mo) * m64[f]) as f32;
        running_var[f] = (mo * running_var[f] as f64 + (1.0 - mo) * v64[f]) as f32;
    }
}

/// Inference forward: y = (x − running_mean) / sqrt(running_var + eps) ·
/// gamma + beta; y is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn forward_infer(
    y: &mut [f32],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
    rows: usize,
    features: usize,
    eps: f32,
) {
    for r in 0..rows {
        for f in 0..features {
            let k = r * features + f;
            let s = 1.0 / (running_var[f] as f64 + eps as f64).sqrt();
            y[k] = ((x[k] as f64 - running_mean[f] as f64) * s * gamma[f] as f64 + beta[f] as f64)
                as f32;
        }
    }
}

/// Backward of [`forward_train`] given its saved mean and rstd. dx, dgamma
/// and dbeta are overwritten:
/// dbeta = Σ_rows dy, dgamma = Σ_rows dy·xhat,
/// dx = gamma·rstd/N · (N·dy − dbeta − xhat·dgamma).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    rows: usize,
    features: usize,
) {
    let n = rows as f64;
    for f in 0..features {
        let (m, s) = (mean[f] as f64, rstd[f] as f64);
        let xhat = |r: usize| (x[r * features + f] as f64 - m) * s;
        let sdy: f64 = (0..rows).map(|r| dy[r * features + f] as f64).sum();
        let sdyx: f64 = (0..rows)
            .map(|r| dy[r * features + f] as f64 * xhat(r))
            .sum();
        dbeta[f] = sdy as f32;
        dgamma[f] = sdyx as f32;
        let g = gamma[f] as f64 * s / n;
        for r in 0..rows {
            let k = r * features + f;
            dx[k] = (g * (n * dy[k] as f64 - sdy - xhat(r) * sdyx)) as f32;
        }
    }
}
