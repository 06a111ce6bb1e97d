//! Reference dropout: the same hash-drawn mask as the kernels.

use crate::gpu::StepInfo;
use crate::kernels::dropout::scale;
use crate::reference::noise::{key, uniform01_keyed};

/// Whether unit `i` survives: the draw is at least `rate`.
pub fn keep(rate: f32, stream: u32, step: &StepInfo, i: usize) -> bool {
    uniform01_keyed(key(step.seed, step.step, stream), i as u32) >= rate
}

/// y = x ⊙ mask / (1 − rate). x, y: (n); y is overwritten.
pub fn forward(y: &mut [f32], x: &[f32], rate: f32, stream: u32, step: &StepInfo) {
    let k = key(step.seed, step.step, stream);
    let s = scale(rate);
    for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        *o = if uniform01_keyed(k, i as u32) >= rate {
            v * s
        } else {
            0.0
        };
    }
}

/// dx = dy ⊙ mask / (1 − rate) with the forward pass's mask. dy, dx: (n);
/// dx is overwritten.
pub fn backward(dx: &mut [f32], dy: &[f32], rate: f32, stream: u32, step: &StepInfo) {
    // Dropout is linear in its input for a fixed mask: backward is forward.
    forward(dx, dy, rate, stream, step);
}
