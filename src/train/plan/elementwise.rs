//! Recording the forward and backward passes of the element-wise layers:
//! Dropout, Activation and Noise.

use crate::gpu::{Dispatch, GpuError, Program, Tensor};
use crate::kernels::activation;
use crate::kernels::dropout;
use crate::kernels::noise::{self, Noise};
use crate::nn::Act;

use super::{Mode, Site, NOISE_LAYER_STREAM};

pub(super) fn dropout_forward(s: &Site, mode: Mode, rate: f32) -> Result<Dispatch, GpuError> {
    // A frozen (encoder) dropout runs in inference mode, as the
    // studies' encoders did when they computed codes.
    if mode == Mode::Train && s.l.trainable {
        dropout::forward(
            s.gpu,
            s.y,
            s.x,
            s.n_out,
            rate,
            super::fuse::dropout_stream(s.i),
        )
    } else {
        s.identity_forward()
    }
}

pub(super) fn dropout_backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
    rate: f32,
) -> Result<(), GpuError> {
    if !s.l.trainable {
        return s.identity_backward(p, dy, dx);
    }
    if let Some(dx) = dx {
        p.push(dropout::backward(
            s.gpu,
            dx,
            dy,
            s.n_out,
            rate,
            super::fuse::dropout_stream(s.i),
        )?);
    }
    Ok(())
}

pub(super) fn activation_forward(s: &Site, a: Act) -> Result<Dispatch, GpuError> {
    activation::forward(s.gpu, s.y, s.x, s.n_out, a.kernel())
}

pub(super) fn activation_backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
    a: Act,
) -> Result<(), GpuError> {
    if let Some(dx) = dx {
        p.push(activation::backward(
            s.gpu,
            dx,
            dy,
            s.y,
            s.n_out,
            a.kernel(),
        )?);
    }
    Ok(())
}

/// Corrupts `x` in training only; the identity in evaluation.
pub(super) fn noise_forward(s: &Site, mode: Mode, n: Noise) -> Result<Dispatch, GpuError> {
    if mode == Mode::Train {
        noise::apply(s.gpu, s.y, s.x, s.n_out, n, NOISE_LAYER_STREAM + s.i as u32)
    } else {
        s.identity_forward()
    }
}

/// Additive noise passes the gradient straight through.
pub(super) fn noise_backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
) -> Result<(), GpuError> {
    s.identity_backward(p, dy, dx)
}
