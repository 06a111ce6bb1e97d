//! Recording the forward and backward passes of MaxPool and UpSample.

use crate::gpu::{Dispatch, GpuError, Program, Tensor};
use crate::kernels::pool::{self, Upsample};

use super::{pool_shape, Site};

/// Max-pools `x` into `y`, saving each output's winning input index.
pub(super) fn maxpool_forward(s: &Site) -> Result<Dispatch, GpuError> {
    let argmax = s.b.argmax[s.i].as_ref().expect("max-pool buffers");
    pool::maxpool_forward(
        s.gpu,
        s.y,
        argmax,
        s.x,
        pool_shape(&s.l.layer, s.m.resolved.inputs[s.i], s.b.batch),
    )
}

/// Routes each output gradient to its winning input, if `dx` is needed.
pub(super) fn maxpool_backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
) -> Result<(), GpuError> {
    if let Some(dx) = dx {
        let argmax = s.b.argmax[s.i].as_ref().expect("max-pool buffers");
        p.push(pool::maxpool_backward(
            s.gpu,
            dx,
            dy,
            argmax,
            pool_shape(&s.l.layer, s.m.resolved.inputs[s.i], s.b.batch),
        )?);
    }
    Ok(())
}

/// The shape of an UpSample layer's pass.
fn upsample_shape(s: &Site, factor: usize) -> Upsample {
    let i = s.m.resolved.inputs[s.i];
    Upsample {
        batch: s.b.batch,
        h: i.h,
        w: i.w,
        c: i.c,
        factor,
    }
}

/// Nearest-neighbour upsampling of `x` into `y`.
pub(super) fn upsample_forward(s: &Site, factor: usize) -> Result<Dispatch, GpuError> {
    pool::upsample_forward(s.gpu, s.y, s.x, upsample_shape(s, factor))
}

/// Sums each input's copies' gradients, if `dx` is needed.
pub(super) fn upsample_backward(
    p: &mut Program,
    s: &Site,
    dy: &Tensor,
    dx: Option<&Tensor>,
    factor: usize,
) -> Result<(), GpuError> {
    if let Some(dx) = dx {
        p.push(pool::upsample_backward(
            s.gpu,
            dx,
            dy,
            upsample_shape(s, factor),
        )?);
    }
    Ok(())
}
