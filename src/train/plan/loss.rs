//! Recording the two ends of a step: the input (gather and input noise)
//! and the loss (its gradient, the metric sums and the divergence flags).

use crate::data::gpu::GpuSplit;
use crate::gpu::{Gpu, GpuError, Program, Tensor};
use crate::kernels::activation::Activation;
use crate::kernels::noise::{self, Noise};
use crate::kernels::{gather, loss, reduce};
use crate::nn::{Act, Layer, Loss};

use super::{limits, Buffers, GpuModel, NOISE_STREAM};

/// gather + noise: fills `b.x_clean`, `b.labels` and `b.x_in`.
pub fn input_program(
    gpu: &Gpu,
    b: &Buffers,
    split: &GpuSplit,
    indices: &Tensor,
    features: usize,
    noise: Noise,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    limits::checked(
        gpu,
        &mut p,
        || "input (gather and noise)".into(),
        |p| {
            let gather = if split.float {
                gather::gather_float
            } else {
                gather::gather
            };
            p.push(gather(
                gpu,
                &b.x_clean,
                &b.labels,
                &split.images,
                &split.labels,
                indices,
                indices.len,
                b.batch,
                features,
            )?);
            p.push(noise::apply(
                gpu,
                &b.x_in,
                &b.x_clean,
                b.batch * features,
                noise,
                NOISE_STREAM,
            )?);
            Ok(())
        },
    )?;
    Ok(p)
}

/// Loss, its gradient, the reduction of per-row values into `acc`, and the
/// divergence flag `acc[nonfinite_slot]` over the model output and the
/// per-row losses (before any clamp in the loss could hide a NaN).
pub fn loss_program(
    gpu: &Gpu,
    m: &GpuModel,
    b: &Buffers,
    acc: &Tensor,
    loss_slot: usize,
    correct_slot: usize,
    nonfinite_slot: usize,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    let last = m.spec.layers.len() - 1;
    let out = b.output();
    let cols = m.resolved.outputs[last].size();
    let dlast = &b.dacts[last];
    let target = match m.spec.target_layer {
        Some(k) => &b.acts[k],
        None => &b.x_clean,
    };
    limits::checked(
        gpu,
        &mut p,
        || limits::step(m, "loss"),
        |p| {
            match m.spec.loss {
                Loss::Mse => p.push(loss::mse_slope(
                    gpu,
                    dlast,
                    &b.row_loss,
                    out,
                    target,
                    b.batch,
                    cols,
                    mse_slope(m).map_or(Activation::Identity, Act::kernel),
                )?),
                Loss::Bce => p.push(loss::bce(
                    gpu,
                    dlast,
                    &b.row_loss,
                    out,
                    target,
                    b.batch,
                    cols,
                )?),
                Loss::SoftmaxCrossEntropy => {
                    p.push(loss::softmax_xent(
                        gpu,
                        dlast,
                        &b.row_loss,
                        &b.row_correct,
                        &b.probs,
                        out,
                        &b.labels,
                        b.batch,
                        cols,
                    )?);
                }
            }
            p.push(reduce::flag_nonfinite(
                gpu,
                acc,
                nonfinite_slot,
                out,
                b.batch * cols,
            )?);
            p.push(reduce::flag_nonfinite(
                gpu,
                acc,
                nonfinite_slot,
                &b.row_loss,
                b.batch,
            )?);
            p.push(reduce::sum_into(gpu, acc, loss_slot, &b.row_loss, b.batch)?);
            if m.spec.loss.is_classifier() {
                p.push(reduce::sum_into(
                    gpu,
                    acc,
                    correct_slot,
                    &b.row_correct,
                    b.batch,
                )?);
            }
            Ok(())
        },
    )?;
    Ok(p)
}

/// The activation of the last layer when the MSE loss applies its slope in
/// the gradient pass, so that `dacts[last]` is the layer's pre-activation
/// gradient and the layer skips its own activation backward: a last Dense or
/// Conv2d layer (any activation but softmax) under MSE.
pub(super) fn mse_slope(m: &GpuModel) -> Option<Act> {
    if m.spec.loss != Loss::Mse {
        return None;
    }
    match m.spec.layers.last()?.layer {
        Layer::Dense { act, .. } | Layer::Conv2d { act, .. } if act != Act::Softmax => Some(act),
        _ => None,
    }
}
