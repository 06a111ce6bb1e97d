//! Recording a BatchNorm layer's forward pass (batch statistics in
//! training, running statistics otherwise) and its backward pass.

use crate::gpu::{GpuError, Program, Tensor};
use crate::kernels::batchnorm::{self, Epilogue};
use crate::nn::params::Role;

use super::{Mode, Site};

/// Normalises `x` into `y`: with the batch's statistics (saved for the
/// backward pass, and folded into the running ones) when training a
/// trainable layer, with the running statistics otherwise; `epi` applies the
/// layers fused after it.
pub(super) fn forward(
    p: &mut Program,
    s: &Site,
    mode: Mode,
    momentum: f32,
    eps: f32,
    epi: Epilogue,
) -> Result<(), GpuError> {
    let (gpu, m, b, i, x, y) = (s.gpu, s.m, s.b, s.i, s.x, s.y);
    let r = &m.resolved;
    let rows = b.batch * r.inputs[i].h * r.inputs[i].w;
    let c = r.inputs[i].c;
    let gamma = m.params.at(m.layout.offset(i, Role::Gamma));
    let beta = m.params.at(m.layout.offset(i, Role::Beta));
    let rm = m.params.at(m.layout.offset(i, Role::MovingMean));
    let rv = m.params.at(m.layout.offset(i, Role::MovingVariance));
    // Keras runs a frozen BatchNorm in inference mode.
    if mode == Mode::Train && s.l.trainable {
        let (mean, rstd) = b.bn_saved[i].as_ref().expect("BatchNorm buffers");
        p.extend(batchnorm::forward_train(
            gpu, y, mean, rstd, rm, rv, x, gamma, beta, rows, c, momentum, eps, epi,
        )?);
    } else {
        p.extend(batchnorm::forward_infer(
            gpu, y, x, gamma, beta, rm, rv, rows, c, eps, epi,
        )?);
    }
    Ok(())
}

/// From the output gradient `dy`: gamma's and beta's gradients (into a
/// scratch sink for a frozen layer) and the input gradient (into a sink when
/// nothing before needs it).
pub(super) fn backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
) -> Result<(), GpuError> {
    let (gpu, m, b, i) = (s.gpu, s.m, s.b, s.i);
    let r = &m.resolved;
    let rows = b.batch * r.inputs[i].h * r.inputs[i].w;
    let c = r.inputs[i].c;
    let (mean, rstd) = b.bn_saved[i].as_ref().expect("BatchNorm buffers");
    let gamma = m.params.at(m.layout.offset(i, Role::Gamma));
    let (dgamma, dbeta) = if s.l.trainable {
        (
            m.grads.at(m.layout.offset(i, Role::Gamma)),
            m.grads.at(m.layout.offset(i, Role::Beta)),
        )
    } else {
        (b.scratch.at(0), b.scratch.at(c))
    };
    // Nothing before may need dx, but gamma and beta still need
    // their gradients: the kernel writes dx to the sink then. Where the
    // layer before ends in an activation, its slope is applied here and dx
    // goes to that layer's dz (see `fuse::slope_by_next`).
    let (dx, slope) = match dx {
        Some(dx) => super::pool::with_slope(s, dx),
        None => (&b.sink, None),
    };
    let slope = slope.map(|(_, act)| act);
    p.extend(batchnorm::backward(
        gpu, dx, dgamma, dbeta, dy, s.x, mean, rstd, gamma, rows, c, slope,
    )?);
    Ok(())
}
