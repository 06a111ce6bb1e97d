//! Layers recorded as one pass with their neighbour: a BatchNorm's
//! normalisation followed by a (training-mode) Dropout and an Activation,
//! an Activation's backward followed by its Dropout's, a MaxPool's,
//! UpSample's, BatchNorm's or Conv2d's input gradient followed by the activation gradient of
//! the Conv2d or Dense before it, and an UpSample absorbed by the Conv2d after it (the
//! sub-pixel form, [`subpixel`]). Each fused pass
//! computes bit for bit what the separate passes would (tested in
//! tests/fusion.rs), except the sub-pixel form, which sums the products in
//! another order (tested against the reference in tests/subpixel.rs, and a
//! training run against the separate passes); it saves the dispatches and
//! the passes over memory.

use crate::gpu::Gpu;
use crate::kernels::activation::Activation;
use crate::kernels::batchnorm::Epilogue;
use crate::kernels::conv2d::subpixel::{self as sp, Subpixel};
use crate::nn::params::{ParamLayout, Role};
use crate::nn::{Layer, Loss, ModelSpec, Resolved};

use super::{GpuModel, Mode};

/// The dropout stream of layer `i`, as its own pass draws it.
pub(super) fn dropout_stream(i: usize) -> u32 {
    1 + i as u32
}

/// For the BatchNorm at `i`: the last layer its normalisation pass can
/// absorb and what it applies. A Dropout right after it is absorbed (in
/// training mode, for a trainable Dropout, it becomes the epilogue's dropout;
/// otherwise it is the identity), then an Activation. None when nothing
/// follows that can be absorbed, or when a skipped output is read elsewhere
/// (the loss target).
pub(super) fn batchnorm_epilogue(
    spec: &ModelSpec,
    i: usize,
    mode: Mode,
) -> Option<(usize, Epilogue)> {
    let layers = &spec.layers;
    let mut j = i + 1;
    let mut dropout = None;
    if let Some(Layer::Dropout { rate }) = layers.get(j).map(|l| &l.layer) {
        if mode == Mode::Train && layers[j].trainable {
            dropout = Some((*rate, dropout_stream(j)));
        }
        j += 1;
    }
    let Some(Layer::Activation(a)) = layers.get(j).map(|l| &l.layer) else {
        return None;
    };
    if spec.target_layer.is_some_and(|t| (i..j).contains(&t)) {
        return None;
    }
    Some((
        j,
        Epilogue {
            dropout,
            act: a.kernel(),
        },
    ))
}

/// For the Activation at `j` in the backward pass: the rate and stream of
/// the trainable Dropout right before it, whose backward then runs in the
/// activation's pass.
pub(super) fn dropout_before(spec: &ModelSpec, j: usize) -> Option<(f32, u32)> {
    let i = j.checked_sub(1)?;
    match &spec.layers[i].layer {
        Layer::Dropout { rate } if spec.layers[i].trainable => Some((*rate, dropout_stream(i))),
        _ => None,
    }
}

/// For the Conv2d or Dense at `i`: whether the MaxPool, UpSample,
/// BatchNorm or Conv2d (see [`conv2d::takes_slope`](crate::kernels::conv2d::takes_slope))
/// right after it computes its pre-activation gradient (the
/// activation's slope applied in that layer's backward pass, into the
/// layer's dz buffer), and
/// with which activation. Not when that UpSample is absorbed by the
/// convolution after it ([`subpixel`]): its input gradient is plain.
pub(super) fn slope_by_next(gpu: &Gpu, m: &GpuModel, batch: usize, i: usize) -> Option<Activation> {
    let spec = &m.spec;
    let act = match &spec.layers.get(i)?.layer {
        Layer::Conv2d { act, .. } | Layer::Dense { act, .. } => act.kernel(),
        _ => return None,
    };
    let next = &spec.layers.get(i + 1)?.layer;
    let pools = match next {
        Layer::MaxPool { .. } | Layer::UpSample { .. } | Layer::BatchNorm { .. } => true,
        // A convolution whose input gradient runs the vec4 subgroup kernel.
        Layer::Conv2d { .. } => crate::kernels::conv2d::takes_slope(
            gpu,
            super::conv::conv_shape(next, m.resolved.inputs[i + 1], batch),
            m.layout.offset(i + 1, Role::Kernel),
        ),
        _ => false,
    };
    // A last layer's sigmoid is differentiated by the BCE loss instead.
    let last = i + 1 == spec.layers.len() && spec.loss == Loss::Bce;
    let absorbed = subpixel(gpu, m, batch, i + 1).is_some();
    (pools && !last && !absorbed && act != Activation::Identity).then_some(act)
}

/// For the UpSample at `i`: the sub-pixel form of the Conv2d right after it,
/// when that applies here (see [`sp::applies`]) and the UpSample's output
/// is not the loss target. The UpSample then records nothing; the
/// convolution reads its input and writes its input gradient.
pub(super) fn subpixel(gpu: &Gpu, m: &GpuModel, batch: usize, i: usize) -> Option<Subpixel> {
    subpixel_at(gpu, &m.spec, &m.resolved, &m.layout, batch, i)
}

/// [`subpixel`] from the spec, its resolution and its parameter layout (what
/// the tuner knows before a model exists).
pub(crate) fn subpixel_at(
    gpu: &Gpu,
    spec: &ModelSpec,
    r: &Resolved,
    layout: &ParamLayout,
    batch: usize,
    i: usize,
) -> Option<Subpixel> {
    let layers = &spec.layers;
    let Layer::UpSample { factor } = layers.get(i)?.layer else {
        return None;
    };
    let conv = &layers.get(i + 1)?.layer;
    if !matches!(conv, Layer::Conv2d { .. }) || spec.target_layer == Some(i) {
        return None;
    }
    let shape = super::conv::conv_shape(conv, r.inputs[i + 1], batch);
    let s = Subpixel {
        conv: shape,
        factor,
    };
    let offsets = [
        layout.offset(i + 1, Role::Kernel),
        layout.offset(i + 1, Role::Bias),
    ];
    sp::applies(gpu, &s, &offsets).then_some(s)
}
