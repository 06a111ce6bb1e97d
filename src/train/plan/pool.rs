//! Recording the forward and backward passes of MaxPool and UpSample.

use crate::gpu::{Dispatch, GpuError, Program, Tensor};
use crate::kernels::pool::{self, Pool2d, PoolPadding, Upsample};
use crate::nn::{Layer, Shape};

use super::{fuse, Site};
use crate::kernels::activation::Activation;

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
        let (dx, slope) = with_slope(s, dx);
        p.push(pool::maxpool_backward_slope(
            s.gpu,
            dx,
            dy,
            argmax,
            pool_shape(&s.l.layer, s.m.resolved.inputs[s.i], s.b.batch),
            slope,
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
        let (dx, slope) = with_slope(s, dx);
        p.push(pool::upsample_backward_slope(
            s.gpu,
            dx,
            dy,
            upsample_shape(s, factor),
            slope,
        )?);
    }
    Ok(())
}

/// Where this pooling's (or BatchNorm's) input gradient goes: into the layer before's
/// pre-activation gradient, with its activation's slope applied, when
/// [`fuse::slope_by_next`] says so; else into `dx`.
pub(super) fn with_slope<'a>(
    s: &Site<'a>,
    dx: &'a Tensor,
) -> (&'a Tensor, Option<(&'a Tensor, Activation)>) {
    let prev = s.i.wrapping_sub(1);
    match (
        s.i.checked_sub(1)
            .and_then(|i| fuse::slope_by_next(s.gpu, s.m, s.b.batch, i)),
        s.b.dz.get(prev),
    ) {
        (Some(act), Some(Some(dz))) => (dz, Some((s.x, act))),
        _ => (dx, None),
    }
}

fn pool_shape(l: &Layer, input: Shape, batch: usize) -> Pool2d {
    let Layer::MaxPool { pool, stride, same } = *l else {
        unreachable!("pool_shape of a {l:?}")
    };
    Pool2d {
        batch,
        h: input.h,
        w: input.w,
        c: input.c,
        pool,
        stride,
        padding: if same {
            PoolPadding::Same
        } else {
            PoolPadding::Valid
        },
    }
}
