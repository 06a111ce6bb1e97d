//! Layers recorded as one pass with their neighbour: a BatchNorm's
//! normalisation followed by a (training-mode) Dropout and an Activation,
//! and an Activation's backward followed by its Dropout's. Each fused pass
//! computes bit for bit what the separate passes would (tested in
//! tests/fusion.rs); it saves the dispatches and the passes over memory.

use crate::kernels::batchnorm::Epilogue;
use crate::nn::{Layer, ModelSpec};

use super::Mode;

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
