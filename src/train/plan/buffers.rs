//! [`Buffers`]: the activations, gradients and scratch of one batch size.

use crate::gpu::{Gpu, GpuError, Tensor};
use crate::kernels::activation::Activation;
use crate::nn::Layer;

use super::GpuModel;

/// Activations and scratch of one batch size.
pub struct Buffers {
    /// Rows per batch.
    pub batch: usize,
    /// The clean input batch, (batch, input features) f32: the target of an
    /// autoencoder.
    pub x_clean: Tensor,
    /// The input the first layer sees, (batch, input features) f32: `x_clean`
    /// corrupted by the spec's noise.
    pub x_in: Tensor,
    /// The batch's class labels, one u32 per row.
    pub labels: Tensor,
    /// Output of each layer.
    pub acts: Vec<Tensor>,
    /// Gradient with respect to each layer's output.
    pub dacts: Vec<Tensor>,
    /// Gradient before a Dense layer's fused activation.
    pub dz: Vec<Option<Tensor>>,
    /// BatchNorm's saved batch mean and 1/std, per layer.
    pub bn_saved: Vec<Option<(Tensor, Tensor)>>,
    /// Max-pooling's winning input index per output, per layer.
    pub argmax: Vec<Option<Tensor>>,
    /// Each row's loss, (batch) f32.
    pub row_loss: Tensor,
    /// Each row's correctness for a classifier, (batch) f32: 1 or 0.
    pub row_correct: Tensor,
    /// Softmax probabilities of a classifier's output.
    pub probs: Tensor,
    /// Gradient sink for frozen BatchNorm layers' gamma and beta.
    pub scratch: Tensor,
    /// Input-gradient sink for a BatchNorm layer that nothing before needs.
    pub sink: Tensor,
}

impl Buffers {
    /// Allocates every buffer of `model` for batches of `batch` rows.
    pub fn new(gpu: &Gpu, model: &GpuModel, batch: usize) -> Result<Buffers, GpuError> {
        let inp = model.spec.input.size();
        let r = &model.resolved;
        let mut acts: Vec<Tensor> = Vec::new();
        let mut dacts: Vec<Tensor> = Vec::new();
        let mut dz = Vec::new();
        let mut bn_saved = Vec::new();
        let mut argmax = Vec::new();
        let x_in = gpu.zeros("noisy batch", batch * inp)?;
        let d_in = gpu.zeros("input gradient", batch * inp)?;
        for (i, l) in model.spec.layers.iter().enumerate() {
            let n = batch * r.outputs[i].size();
            if l.layer.is_view() {
                // Flatten and Reshape: the same buffer under another shape.
                acts.push(if i == 0 {
                    x_in.clone()
                } else {
                    acts[i - 1].clone()
                });
                dacts.push(if i == 0 {
                    d_in.clone()
                } else {
                    dacts[i - 1].clone()
                });
            } else {
                acts.push(gpu.zeros(&format!("{} output", r.names[i]), n)?);
                dacts.push(gpu.zeros(&format!("{} output gradient", r.names[i]), n)?);
            }
            dz.push(match &l.layer {
                Layer::Dense { act, .. } | Layer::Conv2d { act, .. }
                    if act.kernel() != Activation::Identity =>
                {
                    Some(gpu.zeros(&format!("{} pre-activation gradient", r.names[i]), n)?)
                }
                _ => None,
            });
            argmax.push(match &l.layer {
                Layer::MaxPool { .. } => Some(gpu.zeros(&format!("{} argmax", r.names[i]), n)?),
                _ => None,
            });
            bn_saved.push(match &l.layer {
                Layer::BatchNorm { .. } => {
                    let c = r.inputs[i].c;
                    Some((
                        gpu.zeros(&format!("{} batch mean", r.names[i]), c)?,
                        gpu.zeros(&format!("{} batch rstd", r.names[i]), c)?,
                    ))
                }
                _ => None,
            });
        }
        let widest = r.inputs.iter().map(|s| s.c).max().unwrap_or(1);
        let largest = r.inputs.iter().map(|s| s.size()).max().unwrap_or(1);
        let out = r.outputs.last().map(|s| s.size()).unwrap_or(1);
        Ok(Buffers {
            batch,
            x_clean: gpu.zeros("clean batch", batch * inp)?,
            x_in,
            labels: gpu.zeros("batch labels", batch)?,
            acts,
            dacts,
            dz,
            bn_saved,
            argmax,
            row_loss: gpu.zeros("per-row loss", batch)?,
            row_correct: gpu.zeros("per-row correct", batch)?,
            probs: gpu.zeros("probabilities", batch * out)?,
            scratch: gpu.zeros("frozen gradient sink", 2 * widest)?,
            sink: gpu.zeros("input gradient sink", batch * largest)?,
        })
    }

    /// The output of the whole model.
    pub fn output(&self) -> &Tensor {
        self.acts.last().expect("a model has layers")
    }
}
