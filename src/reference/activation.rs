//! Reference activations.

use crate::kernels::activation::Activation;

/// `act` of one value, as the activation kernels compute it.
pub fn apply(act: Activation, v: f32) -> f32 {
    match act {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::LeakyRelu(a) => {
            if v > 0.0 {
                v
            } else {
                a * v
            }
        }
        Activation::Sigmoid => (1.0 / (1.0 + (-(v as f64)).exp())) as f32,
    }
}

/// y = f(x). x, y: (n).
pub fn forward(y: &mut [f32], x: &[f32], act: Activation) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = apply(act, v);
    }
}

/// f'(x) expressed through the forward output y = f(x).
pub fn slope(act: Activation, y: f32) -> f32 {
    match act {
        Activation::Identity => 1.0,
        Activation::Relu => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(a) => {
            if y > 0.0 {
                1.0
            } else {
                a
            }
        }
        Activation::Sigmoid => y * (1.0 - y),
    }
}

/// dx = dy · f'(x), from the forward output y. dy, y, dx: (n); dx is
/// overwritten.
pub fn backward(dx: &mut [f32], dy: &[f32], y: &[f32], act: Activation) {
    for ((o, &g), &v) in dx.iter_mut().zip(dy).zip(y) {
        *o = g * slope(act, v);
    }
}
