//! Recording a Conv2d layer's forward pass (convolution with fused bias and
//! activation) and its backward pass (activation gradient, weight and bias
//! gradients, input gradient).

use crate::gpu::{Dispatch, GpuError, Program, Tensor};
use crate::kernels::conv2d::subpixel::{self, Subpixel};
use crate::kernels::conv2d::{self, Conv2d, Padding};
use crate::nn::params::Role;
use crate::nn::{Act, Layer, Loss, Shape};

use super::Site;

/// y = act(conv(x, W) + b).
pub(super) fn forward(s: &Site, act: Act) -> Result<Dispatch, GpuError> {
    let m = s.m;
    let i = s.i;
    conv2d::forward(
        s.gpu,
        s.y,
        s.x,
        m.params.at(m.layout.offset(i, Role::Kernel)),
        m.params.at(m.layout.offset(i, Role::Bias)),
        conv_shape(&s.l.layer, m.resolved.inputs[i], s.b.batch),
        act.kernel(),
    )
}

/// From the output gradient `dy`: the kernel and bias gradients if the
/// layer trains, and the input gradient into `dx` if something before needs
/// it.
pub(super) fn backward<'a>(
    p: &mut Program,
    s: &Site<'a>,
    dy: &'a Tensor,
    dx: Option<&Tensor>,
    act: Act,
) -> Result<(), GpuError> {
    let (gpu, m, b, i) = (s.gpu, s.m, s.b, s.i);
    let dz = pre_activation(p, s, dy, act)?;
    let shape = conv_shape(&s.l.layer, m.resolved.inputs[i], b.batch);
    let w = m.layout.offset(i, Role::Kernel);
    if s.l.trainable {
        p.extend(conv2d::backward_weight(gpu, m.grads.at(w), dz, s.x, shape)?);
    }
    bias_grad(p, s, dz, shape)?;
    if let Some(dx) = dx {
        // Into the previous layer's dz with its activation's slope where
        // `fuse::slope_by_next` says so.
        match super::pool::with_slope(s, dx) {
            (dz_prev, Some((y, a))) => p.extend(conv2d::backward_input_slope(
                gpu,
                dz_prev,
                dz,
                m.params.at(w),
                shape,
                y,
                a,
            )?),
            (dx, None) => p.extend(conv2d::backward_input_program(
                gpu,
                dx,
                dz,
                m.params.at(w),
                shape,
            )?),
        }
    }
    Ok(())
}

/// y = act(conv(upsample(x), W) + b) in sub-pixel form, from the UpSample's
/// input `s.x`.
pub(super) fn forward_subpixel(s: &Site, act: Act, sp: Subpixel) -> Result<Program, GpuError> {
    let m = s.m;
    subpixel::forward(
        s.gpu,
        s.y,
        s.x,
        m.params.at(m.layout.offset(s.i, Role::Kernel)),
        m.params.at(m.layout.offset(s.i, Role::Bias)),
        sp,
        act.kernel(),
    )
}

/// [`backward`] of the sub-pixel form: `s.x` is the UpSample's input and
/// `dx` its input gradient.
pub(super) fn backward_subpixel<'a>(
    p: &mut Program,
    s: &Site<'a>,
    dy: &'a Tensor,
    dx: Option<&Tensor>,
    act: Act,
    sp: Subpixel,
) -> Result<(), GpuError> {
    let (gpu, m, i) = (s.gpu, s.m, s.i);
    let dz = pre_activation(p, s, dy, act)?;
    let w = m.layout.offset(i, Role::Kernel);
    let dw = s.l.trainable.then(|| m.grads.at(w));
    bias_grad(p, s, dz, sp.conv)?;
    if dw.is_some() || dx.is_some() {
        p.extend(subpixel::backward(
            gpu,
            dz,
            s.x,
            m.params.at(w),
            dw,
            dx,
            sp,
        )?);
    }
    Ok(())
}

/// The gradient before the layer's activation (the BCE loss already
/// differentiated a last sigmoid; the MSE loss applies a last layer's slope).
fn pre_activation<'a>(
    p: &mut Program,
    s: &Site<'a>,
    dy: &'a Tensor,
    act: Act,
) -> Result<&'a Tensor, GpuError> {
    let last = s.m.spec.layers.len() - 1;
    let fused = s.i == last
        && (matches!((s.m.spec.loss, act), (Loss::Bce, Act::Sigmoid))
            || super::loss::mse_slope(s.m).is_some());
    s.pre_activation_grad(p, dy, act, fused)
}

/// The bias gradient from `dz`, if the layer trains.
fn bias_grad(p: &mut Program, s: &Site, dz: &Tensor, shape: Conv2d) -> Result<(), GpuError> {
    if s.l.trainable {
        let m = s.m;
        let db = m.grads.at(m.layout.offset(s.i, Role::Bias));
        p.extend(conv2d::bias_grad(s.gpu, db, dz, shape)?);
    }
    Ok(())
}

pub(super) fn conv_shape(l: &Layer, input: Shape, batch: usize) -> Conv2d {
    let Layer::Conv2d {
        filters,
        kernel,
        same,
        ..
    } = *l
    else {
        unreachable!("conv_shape of a {l:?}")
    };
    Conv2d {
        batch,
        h: input.h,
        w: input.w,
        cin: input.c,
        cout: filters,
        k: kernel,
        padding: if same { Padding::Same } else { Padding::Valid },
    }
}
