//! Reference activations.

use crate::kernels::activation::Activation;

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
