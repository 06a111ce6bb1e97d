//! Reference optimizer updates, elementwise in f64 (Keras 3 formulas). Each
//! takes the step's lr and bias corrections as the GPU reads them from the
//! step uniform (f32), and updates params and state in place.

/// Keras SGD: v = momentum·v − lr·g; w += v. With momentum 0: w −= lr·g and
/// velocity is left untouched.
pub fn sgd(params: &mut [f32], velocity: &mut [f32], grads: &[f32], lr: f32, momentum: f32) {
    let (lr, mo) = (lr as f64, momentum as f64);
    for (i, (w, &g)) in params.iter_mut().zip(grads).enumerate() {
        if momentum == 0.0 {
            *w = (*w as f64 - lr * g as f64) as f32;
        } else {
            let v = (mo * velocity[i] as f64 - lr * g as f64) as f32;
            velocity[i] = v;
            *w = (*w as f64 + v as f64) as f32;
        }
    }
}

/// Keras 3 Adam (keras/src/optimizers/adam.py, amsgrad off):
/// m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
/// alpha = lr·sqrt(1 − β2^t)/(1 − β1^t); w −= alpha·m/(sqrt(v) + eps).
/// bias_correction1 = 1 − β1^t, bias_correction2 = 1 − β2^t.
#[allow(clippy::too_many_arguments)]
pub fn adam(
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: &[f32],
    lr: f32,
    bias_correction1: f32,
    bias_correction2: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
) {
    let alpha = lr as f64 * (bias_correction2 as f64).sqrt() / bias_correction1 as f64;
    let (b1, b2) = (beta1 as f64, beta2 as f64);
    for i in 0..params.len() {
        let g = grads[i] as f64;
        let mi = (m[i] as f64 + (g - m[i] as f64) * (1.0 - b1)) as f32;
        let vi = (v[i] as f64 + (g * g - v[i] as f64) * (1.0 - b2)) as f32;
        m[i] = mi;
        v[i] = vi;
        params[i] =
            (params[i] as f64 - alpha * mi as f64 / ((vi as f64).sqrt() + eps as f64)) as f32;
    }
}

/// The gradient of factor·Σw², added into grads: g += 2·factor·w.
pub fn l2_grad(grads: &mut [f32], params: &[f32], factor: f32) {
    for (g, &w) in grads.iter_mut().zip(params) {
        *g = (*g as f64 + 2.0 * factor as f64 * w as f64) as f32;
    }
}
